//! Exporter scrapes (prometheus-parse): postgres_exporter and
//! redis_exporter series made into a database's or cache's status, and an
//! AI service's metrics (p95 inference latency from histogram bucket
//! increases, accuracy, error rate from 5xx increases). Rates come from
//! counter increases over a window (a minute by default), resets handled.
//! A scrape without the series an exporter always has is an error of the
//! source (HTML, garbage, an empty page, the wrong URL), never a verdict
//! about the database.

use std::time::{Duration, Instant};

use prometheus_parse::{Sample, Scrape, Value};

use super::window::{Increases, Window};
use crate::model::data::{AiStatus, CacheStatus, DbStatus, History, ReplicaLink};

/// The counters of one exporter's scrapes over a window, for rates.
pub(super) struct Counters {
    window: Window,
}

/// Parses Prometheus text; an answer with no sample at all is no scrape.
pub(super) fn parse(text: &str, url: &str) -> Result<Scrape, String> {
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .map_err(|e| format!("{url}: not Prometheus text: {e}"))?;
    if scrape.samples.is_empty() {
        return Err(format!(
            "{url}: answered no metrics (is it the exporter's /metrics?)"
        ));
    }
    Ok(scrape)
}

impl Counters {
    /// Counters kept for `span`.
    pub(super) fn new(span: Duration) -> Counters {
        Counters {
            window: Window::new(span),
        }
    }

    /// The increases over the window of the counters named `names`, this
    /// scrape folded in (`None` before a second scrape).
    fn increases(&mut self, scrape: &Scrape, names: &[&str]) -> Option<Increases> {
        let values: Vec<(String, f64)> = scrape
            .samples
            .iter()
            .filter(|s| names.iter().any(|n| s.metric == *n))
            .filter_map(|s| Some((series_key(s), number(&s.value)?)))
            .collect();
        self.window.observe(Instant::now(), values)
    }

    /// A cache from redis_exporter's series.
    pub(super) fn redis(&mut self, scrape: &Scrape, url: &str) -> Result<CacheStatus, String> {
        let g = |name: &str| gauge(scrape, name);
        let Some(up) = g("redis_up") else {
            return Err(format!(
                "{url}: no redis_up series: not a redis_exporter answer"
            ));
        };
        let inc = self
            .increases(
                scrape,
                &[
                    "redis_keyspace_hits_total",
                    "redis_keyspace_misses_total",
                    "redis_commands_processed_total",
                    "redis_evicted_keys_total",
                ],
            )
            .unwrap_or_default();
        let of = |name: &'static str| move |k: &str| k.split('{').next() == Some(name);
        let role = scrape
            .samples
            .iter()
            .find(|s| s.metric == "redis_instance_info")
            .and_then(|s| s.labels.get("role"))
            .map(|r| {
                if r == "slave" {
                    "replica".to_owned()
                } else {
                    r.to_owned()
                }
            });
        let hit_rate = match (
            inc.sum(of("redis_keyspace_hits_total")),
            inc.sum(of("redis_keyspace_misses_total")),
        ) {
            (Some(h), Some(m)) if h + m > 0.0 => Some(h / (h + m)),
            _ => None,
        };
        Ok(CacheStatus {
            via: "exporter",
            up: up > 0.0,
            replicas: scrape
                .samples
                .iter()
                .filter(|s| s.metric == "redis_connected_slave_lag_seconds")
                .map(|s| ReplicaLink {
                    name: format!(
                        "{}:{}",
                        s.labels.get("slave_ip").unwrap_or(""),
                        s.labels.get("slave_port").unwrap_or("")
                    ),
                    state: s.labels.get("slave_state").unwrap_or("").to_owned(),
                    lag_bytes: None,
                    lag_seconds: number(&s.value),
                })
                .collect(),
            link_up: g("redis_master_link_up").map(|v| v > 0.0),
            role,
            clients: g("redis_connected_clients"),
            memory: g("redis_memory_used_bytes")
                .map(|u| (u, g("redis_memory_max_bytes").unwrap_or(0.0))),
            hit_rate,
            ops: inc.rate(of("redis_commands_processed_total")),
            evictions: inc.rate(of("redis_evicted_keys_total")),
            memory_history: History::default(),
            sentinel: None,
            cluster: None,
        })
    }

    /// An AI service's metrics into `a`; an error when none of them is in
    /// the scrape.
    pub(super) fn ai(
        &mut self,
        scrape: &Scrape,
        a: &mut AiStatus,
        url: &str,
    ) -> Result<(), String> {
        let known = scrape
            .samples
            .iter()
            .any(|s| s.metric.starts_with("ai_model_") || s.metric == "http_requests_total");
        if !known {
            return Err(format!(
                "{url}: neither ai_model_* nor http_requests_total in it"
            ));
        }
        a.accuracy = gauge(scrape, "ai_model_accuracy");
        // Bucket counts and requests over the window: the p95 and the
        // error rate of the last minute, not of one poll.
        // Series of one bucket bound are summed, as `sum by (le)`.
        let mut values: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
        for s in &scrape.samples {
            match &s.value {
                Value::Histogram(h) if s.metric == "ai_model_inference_duration_seconds" => {
                    for b in h {
                        *values.entry(format!("le={}", b.less_than)).or_insert(0.0) += b.count;
                    }
                }
                _ if s.metric == "http_requests_total" => {
                    if let Some(v) = number(&s.value) {
                        *values.entry(series_key(s)).or_insert(0.0) += v;
                    }
                }
                _ => {}
            }
        }
        let inc = self
            .window
            .observe(Instant::now(), values)
            .unwrap_or_default();
        let mut buckets: Vec<(f64, f64)> = inc
            .by_key
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("le=")?.parse::<f64>().ok()?, *v)))
            .collect();
        buckets.sort_by(|x, y| x.0.total_cmp(&y.0));
        a.p95_inference = quantile(0.95, &buckets);
        let all = inc.sum(|k| k.starts_with("http_requests_total"));
        let errors = inc
            .sum(|k| k.starts_with("http_requests_total") && k.contains("status=\"5"))
            .unwrap_or(0.0);
        a.error_rate = all.filter(|t| *t > 0.0).map(|t| errors / t);
        Ok(())
    }
}

fn series_key(s: &Sample) -> String {
    let mut labels: Vec<(&String, &String)> = s.labels.iter().collect();
    labels.sort();
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{}{{{}}}", s.metric, inner.join(","))
}

/// A sample's value, if it is a finite number.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) if v.is_finite() => Some(*v),
        _ => None,
    }
}

/// The sum of a metric's series (one series for most exporters' gauges).
fn gauge(scrape: &Scrape, name: &str) -> Option<f64> {
    let mut values = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter_map(|s| number(&s.value));
    let first = values.next()?;
    Some(values.fold(first, |a, b| a + b))
}

/// The WAL receiver's status from postgres_exporter's `stat_wal_receiver`
/// collector (off by default: `--collector.stat_wal_receiver`), which
/// gives it as a number; none without the collector.
fn wal_receiver(scrape: &Scrape) -> Option<String> {
    let code = scrape
        .samples
        .iter()
        .find(|s| s.metric == "pg_stat_wal_receiver_status")
        .and_then(|s| number(&s.value))?;
    #[allow(clippy::cast_possible_truncation)]
    let word = match code.round() as i64 {
        0 => "stopped",
        1 => "starting",
        2 => "streaming",
        3 => "waiting",
        4 => "restarting",
        -1 => "stopping",
        _ => "unknown",
    };
    Some(word.to_owned())
}

/// A PostgreSQL database from postgres_exporter's series.
pub(super) fn postgres(scrape: &Scrape, url: &str) -> Result<DbStatus, String> {
    let g = |name: &str| gauge(scrape, name);
    let Some(up) = g("pg_up") else {
        return Err(format!(
            "{url}: no pg_up series: not a postgres_exporter answer"
        ));
    };
    let replica = g("pg_replication_is_replica").is_some_and(|v| v > 0.0);
    let (hit, read) = (
        g("pg_stat_database_blks_hit"),
        g("pg_stat_database_blks_read"),
    );
    Ok(DbStatus {
        via: "exporter",
        up: up > 0.0,
        role: g("pg_replication_is_replica")
            .map(|_| if replica { "replica" } else { "primary" }.to_owned()),
        connections: g("pg_stat_database_numbackends").zip(g("pg_settings_max_connections")),
        cache_hit: match (hit, read) {
            (Some(h), Some(r)) if h + r > 0.0 => Some(h / (h + r)),
            _ => None,
        },
        replay_lag: if replica {
            g("pg_replication_lag")
        } else {
            None
        },
        wal_receiver: wal_receiver(scrape).filter(|_| replica),
        ..DbStatus::default()
    })
}

/// The `q` quantile of bucket counts `(le, count)` (cumulative, sorted),
/// interpolated within its bucket as Prometheus's `histogram_quantile`.
pub(super) fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 || !total.is_finite() {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for (le, count) in buckets {
        if *count >= rank {
            if le.is_infinite() {
                return Some(lower.0);
            }
            let within = count - lower.1;
            let frac = if within > 0.0 {
                (rank - lower.1) / within
            } else {
                1.0
            };
            return Some(lower.0 + (le - lower.0) * frac);
        }
        lower = (*le, *count);
    }
    Some(lower.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(text: &str) -> Scrape {
        Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parse")
    }

    #[test]
    fn quantiles_interpolate_within_the_bucket() {
        // 100 observations: 50 under 0.5 s, 40 more under 1 s, 10 under 2 s.
        let b = [
            (0.5, 50.0),
            (1.0, 90.0),
            (2.0, 100.0),
            (f64::INFINITY, 100.0),
        ];
        assert_eq!(quantile(0.5, &b), Some(0.5));
        let p95 = quantile(0.95, &b).expect("p95");
        assert!((p95 - 1.5).abs() < 1e-9, "{p95}");
        assert_eq!(quantile(0.95, &[(1.0, 0.0)]), None);
    }

    #[test]
    fn exporter_series_become_a_database() {
        let s = scrape(
            "# TYPE pg_up gauge\npg_up 1\npg_replication_is_replica 1\npg_replication_lag 42.5\n\
             pg_stat_database_numbackends{datname=\"a\"} 30\npg_stat_database_numbackends{datname=\"b\"} 10\n\
             pg_settings_max_connections 100\npg_stat_database_blks_hit 990\npg_stat_database_blks_read 10\n",
        );
        let d = postgres(&s, "u").expect("a postgres_exporter answer");
        assert!(d.up);
        assert_eq!(d.role.as_deref(), Some("replica"));
        assert_eq!(d.connections, Some((40.0, 100.0)));
        assert_eq!(d.replay_lag, Some(42.5));
        assert_eq!(d.cache_hit, Some(0.99));
        assert_eq!(
            d.wal_receiver, None,
            "no stat_wal_receiver collector: not observed"
        );
        let s = scrape(
            "pg_up 1\npg_replication_is_replica 1\npg_replication_lag 0\n\
             pg_stat_wal_receiver_status{upstream_host=\"10.0.0.5\",slot_name=\"dr\"} 3\n",
        );
        let d = postgres(&s, "u").expect("a postgres_exporter answer");
        assert_eq!(d.wal_receiver.as_deref(), Some("waiting"));
    }

    #[test]
    fn a_page_that_is_not_an_exporter_is_an_error_not_a_verdict() {
        assert!(parse("<html><body>Bad gateway</body></html>", "u").is_err());
        assert!(parse("", "u").is_err());
        let other = scrape("node_load1 0.5\n");
        assert!(postgres(&other, "u").is_err());
        assert!(
            Counters::new(Duration::from_secs(60))
                .redis(&other, "u")
                .is_err()
        );
        let mut a = AiStatus::default();
        assert!(
            Counters::new(Duration::from_secs(60))
                .ai(&other, &mut a, "u")
                .is_err()
        );
    }
}
