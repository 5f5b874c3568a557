//! The simulated platform outside Kubernetes: request traffic and latency
//! of each service, AI inference and accuracy, the databases, the cache and
//! the nodes, as the series their exporters publish. It advances in whole
//! simulated seconds, so the same seed and scenario give the same numbers at
//! the same simulated time. Histograms receive the expected share of each
//! second's requests per bucket from a log-normal latency, so
//! `histogram_quantile(0.95, rate(...[5m]))` recovers the p95 the scenario
//! sets.

// Counts and rates are small floats; the casts below are exact enough.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::collections::VecDeque;

use super::scenario::{Conditions, Scenario};

/// Latency buckets of `http_request_duration_seconds`, in seconds.
pub const HTTP_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
/// Buckets of `ai_model_inference_duration_seconds`, in seconds.
pub const AI_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0];
/// Seconds of history kept for 5-minute rates.
pub const WINDOW: usize = 300;

/// A cumulative histogram, as Prometheus exposes it.
#[derive(Debug, Clone)]
pub struct Histogram {
    /// Upper bounds, without +Inf.
    pub bounds: &'static [f64],
    /// Cumulative counts per bound.
    pub buckets: Vec<f64>,
    /// Sum of observations.
    pub sum: f64,
    /// Number of observations (the +Inf bucket).
    pub count: f64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: vec![0.0; bounds.len()],
            sum: 0.0,
            count: 0.0,
        }
    }

    /// Adds `n` observations from a log-normal with this median and p95.
    fn observe(&mut self, n: f64, median: f64, p95: f64) {
        let sigma = (p95 / median).ln() / 1.645;
        for (i, b) in self.bounds.iter().enumerate() {
            self.buckets[i] += n * normal_cdf((b.ln() - median.ln()) / sigma);
        }
        self.count += n;
        self.sum += n * median * (sigma * sigma / 2.0).exp();
    }

    /// The q-quantile of the observations between `old` and `self`, as
    /// `histogram_quantile` computes it (linear within a bucket).
    pub fn quantile_since(&self, old: &Histogram, q: f64) -> Option<f64> {
        let total = self.count - old.count;
        if total <= 0.0 {
            return None;
        }
        let rank = q * total;
        let mut prev_bound = 0.0;
        let mut prev_count = 0.0;
        for (i, b) in self.bounds.iter().enumerate() {
            let c = self.buckets[i] - old.buckets[i];
            if c >= rank {
                let within = (rank - prev_count) / (c - prev_count).max(f64::MIN_POSITIVE);
                return Some(prev_bound + (b - prev_bound) * within);
            }
            prev_bound = *b;
            prev_count = c;
        }
        Some(*self.bounds.last().unwrap_or(&0.0))
    }
}

/// The standard normal CDF (Abramowitz & Stegun 7.1.26, error < 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs() / std::f64::consts::SQRT_2);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-(x * x) / 2.0).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

/// One service's series.
#[derive(Debug, Clone)]
pub struct Service {
    /// `backend-api`, `ai-services`, `web-frontend`.
    pub name: &'static str,
    /// Scrape target up.
    pub up: bool,
    /// Requests answered 2xx.
    pub ok: f64,
    /// Requests answered 5xx.
    pub errors: f64,
    /// Request latency.
    pub latency: Histogram,
    /// Signed-in users now.
    pub active_users: f64,
    /// AI inference latency (ai-services only).
    pub inference: Option<Histogram>,
    /// Model accuracy (ai-services only).
    pub accuracy: Option<f64>,
    /// Whether `/ready` answers 200.
    pub ready: bool,
}

/// A PostgreSQL server, as postgres_exporter shows it.
#[derive(Debug, Clone)]
pub struct Database {
    /// Its name in the config.
    pub name: &'static str,
    /// `primary` or `replica`.
    pub role: &'static str,
    /// pg_up.
    pub up: bool,
    /// Backends connected.
    pub backends: f64,
    /// max_connections.
    pub max_connections: f64,
    /// Replay lag in seconds (replicas).
    pub lag_seconds: f64,
    /// A replica's WAL receiver status (`streaming`, `waiting` while its
    /// primary is down); none on a primary.
    pub receiver: Option<&'static str>,
    /// Blocks read from cache.
    pub blks_hit: f64,
    /// Blocks read from disk.
    pub blks_read: f64,
}

/// A Redis server, as redis_exporter shows it.
#[derive(Debug, Clone)]
pub struct Cache {
    /// Its name in the config.
    pub name: &'static str,
    /// redis_up.
    pub up: bool,
    /// Replicas connected.
    pub replicas: f64,
    /// Clients connected.
    pub clients: f64,
    /// Memory used.
    pub memory_used: f64,
    /// maxmemory.
    pub memory_max: f64,
    /// Keyspace hits.
    pub hits: f64,
    /// Keyspace misses.
    pub misses: f64,
}

/// A node, as node_exporter shows it.
#[derive(Debug, Clone)]
pub struct Node {
    /// The node's name.
    pub name: String,
    /// CPUs.
    pub cpus: u32,
    /// Seconds idle, summed over CPUs.
    pub idle_seconds: f64,
    /// Seconds busy, summed over CPUs.
    pub busy_seconds: f64,
    /// MemTotal.
    pub mem_total: f64,
    /// MemAvailable.
    pub mem_available: f64,
    /// Root filesystem size.
    pub fs_size: f64,
    /// Root filesystem available.
    pub fs_avail: f64,
}

/// One region's simulated series.
#[derive(Debug, Clone)]
pub struct Region {
    /// `tokyo` or `korea`.
    pub name: &'static str,
    /// Services.
    pub services: Vec<Service>,
    /// Databases.
    pub databases: Vec<Database>,
    /// Caches.
    pub caches: Vec<Cache>,
    /// Nodes.
    pub nodes: Vec<Node>,
}

/// The simulation.
#[derive(Debug)]
pub struct Sim {
    /// Whole simulated seconds elapsed.
    pub second: u64,
    scenario: Scenario,
    /// Both regions, Tokyo first.
    pub regions: Vec<Region>,
    /// Histories of the last [`WINDOW`] seconds, oldest first, for rates.
    history: VecDeque<Vec<Region>>,
    /// Korea's replica lag in seconds, whatever the scenario says: how a
    /// test drives the DR readiness checks.
    pub korea_lag: Option<f64>,
}

fn service(name: &'static str, ai: bool) -> Service {
    Service {
        name,
        up: true,
        ok: 0.0,
        errors: 0.0,
        latency: Histogram::new(HTTP_BUCKETS),
        active_users: 0.0,
        inference: ai.then(|| Histogram::new(AI_BUCKETS)),
        accuracy: ai.then_some(0.92),
        ready: true,
    }
}

impl Sim {
    /// A simulation of the seed's platform; `nodes` names each region's nodes
    /// with their CPU counts.
    pub fn new(scenario: Scenario, nodes: [Vec<(String, u32)>; 2]) -> Sim {
        let [tokyo_nodes, korea_nodes] = nodes;
        let node = |(name, cpus): (String, u32)| Node {
            name,
            cpus,
            idle_seconds: 0.0,
            busy_seconds: 0.0,
            mem_total: f64::from(cpus) * 4.0 * 1024.0 * 1024.0 * 1024.0,
            mem_available: 0.0,
            fs_size: 100.0 * 1024.0 * 1024.0 * 1024.0,
            fs_avail: 0.0,
        };
        let services = || {
            vec![
                service("backend-api", false),
                service("ai-services", true),
                service("web-frontend", false),
            ]
        };
        let db = |name, role| Database {
            name,
            role,
            up: true,
            backends: 0.0,
            max_connections: 200.0,
            lag_seconds: 0.0,
            receiver: None,
            blks_hit: 0.0,
            blks_read: 0.0,
        };
        let regions = vec![
            Region {
                name: "tokyo",
                services: services(),
                databases: vec![db("iworkz-production-postgres", "primary")],
                caches: vec![Cache {
                    name: "iworkz-production-redis",
                    up: true,
                    replicas: 2.0,
                    clients: 0.0,
                    memory_used: 0.0,
                    memory_max: 13.07 * 1024.0 * 1024.0 * 1024.0,
                    hits: 0.0,
                    misses: 0.0,
                }],
                nodes: tokyo_nodes.into_iter().map(node).collect(),
            },
            Region {
                name: "korea",
                services: services(),
                databases: vec![db("iworkz-dr-postgres", "replica")],
                caches: Vec::new(),
                nodes: korea_nodes.into_iter().map(node).collect(),
            },
        ];
        let mut sim = Sim {
            second: 0,
            scenario,
            regions,
            history: VecDeque::new(),
            korea_lag: None,
        };
        sim.step();
        sim
    }

    /// The database `name` made a primary (a replica promoted): its
    /// exporter says so from the next reading on, its WAL receiver gone.
    pub fn promote(&mut self, name: &str) {
        for d in self.regions.iter_mut().flat_map(|r| &mut r.databases) {
            if d.name == name {
                d.role = "primary";
                d.receiver = None;
                d.lag_seconds = 0.0;
            }
        }
    }

    /// Advances to simulated second `to`.
    pub fn advance_to(&mut self, to: u64) {
        while self.second < to {
            self.step();
        }
    }

    /// The scenario's conditions now.
    pub fn conditions(&self) -> Conditions {
        self.scenario.at(self.second)
    }

    /// The series as they were `seconds` ago (at most [`WINDOW`]), for rates.
    pub fn ago(&self, seconds: usize) -> &[Region] {
        let back = seconds.min(self.history.len());
        self.history
            .get(self.history.len() - back)
            .map_or(&self.regions, |r| r.as_slice())
    }

    fn step(&mut self) {
        self.history.push_back(self.regions.clone());
        if self.history.len() > WINDOW {
            self.history.pop_front();
        }
        self.second += 1;
        let t = self.second as f64;
        let mut c = self.scenario.at(self.second);
        if let Some(lag) = self.korea_lag {
            c.korea_lag = lag;
        }
        // A day's swing, compressed to an hour so the demo shows it.
        let daily = 1.0 + 0.25 * (t / 3600.0 * std::f64::consts::TAU).sin();
        for (ri, region) in self.regions.iter_mut().enumerate() {
            let tokyo = ri == 0;
            let share = if tokyo { 1.0 } else { 0.1 };
            for s in &mut region.services {
                let base = match s.name {
                    "backend-api" => 120.0,
                    "ai-services" => 18.0,
                    _ => 80.0,
                } * share
                    * daily;
                s.up = !(tokyo && c.tokyo_down);
                if !s.up {
                    continue;
                }
                let error_ratio = if s.name == "backend-api" && tokyo {
                    c.backend_error_ratio
                } else {
                    0.004
                };
                s.ok += base * (1.0 - error_ratio);
                s.errors += base * error_ratio;
                let (median, p95) = match s.name {
                    "backend-api" => (0.08, if tokyo { c.backend_p95 } else { 0.3 }),
                    "ai-services" => (0.15, 0.45),
                    _ => (0.05, 0.2),
                };
                s.latency.observe(base, median, p95);
                s.active_users = (base * 14.0).round();
                if let Some(h) = &mut s.inference {
                    let p95 = if tokyo { c.inference_p95 } else { 0.9 };
                    h.observe(base, p95 / 2.5, p95);
                    // Readiness fails while inference is too slow to serve.
                    s.ready = p95 < 2.5;
                }
                if let Some(a) = &mut s.accuracy {
                    *a = if tokyo { c.accuracy } else { 0.91 };
                }
            }
            for d in &mut region.databases {
                d.up = !(tokyo && c.tokyo_db_down);
                if !d.up {
                    continue;
                }
                d.backends = (40.0 * share * daily + 8.0).round();
                d.lag_seconds = if tokyo { 0.0 } else { c.korea_lag };
                // The replica's receiver retries while its primary is down.
                d.receiver = (d.role == "replica").then_some(if c.tokyo_db_down {
                    "waiting"
                } else {
                    "streaming"
                });
                d.blks_hit += 9_800.0 * share;
                d.blks_read += 200.0 * share;
            }
            for cache in &mut region.caches {
                cache.clients = (60.0 * daily).round();
                cache.memory_used = cache.memory_max * (0.55 + 0.05 * daily);
                cache.hits += 2_000.0 * daily;
                cache.misses += 150.0 * daily;
            }
            for n in &mut region.nodes {
                let busy = (0.35 + 0.15 * daily).min(0.99);
                n.busy_seconds += f64::from(n.cpus) * busy;
                n.idle_seconds += f64::from(n.cpus) * (1.0 - busy);
                n.mem_available = n.mem_total * (0.45 - 0.05 * daily);
                n.fs_avail = n.fs_size * 0.6;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_gives_back_its_p95() {
        let mut h = Histogram::new(HTTP_BUCKETS);
        let empty = h.clone();
        for _ in 0..300 {
            h.observe(100.0, 0.08, 0.4);
        }
        let p95 = h.quantile_since(&empty, 0.95).expect("observations");
        assert!((0.3..0.5).contains(&p95), "{p95}");
    }

    #[test]
    fn the_same_scenario_gives_the_same_series() {
        let nodes = || [vec![("n1".to_owned(), 4)], vec![("k1".to_owned(), 4)]];
        let mut a = Sim::new(Scenario::Incidents, nodes());
        let mut b = Sim::new(Scenario::Incidents, nodes());
        a.advance_to(500);
        b.advance_to(500);
        assert_eq!(
            a.regions[0].services[0].ok.to_bits(),
            b.regions[0].services[0].ok.to_bits()
        );
        assert_eq!(
            a.regions[1].databases[0].lag_seconds.to_bits(),
            b.regions[1].databases[0].lag_seconds.to_bits()
        );
    }
}
