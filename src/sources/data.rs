//! Databases, caches and AI services: per configured one, a task that
//! polls every 5 s. A PostgreSQL database with `direct` access is read with
//! tokio-postgres (role, version, uptime, connections, cache hits, the
//! longest transaction, replication from either side); otherwise, and for
//! caches, its exporter's `/metrics` is scraped (prometheus-parse; rates
//! from counter deltas, resets handled). An AI service is probed on
//! `/health` and `/ready` and its metrics scraped (p95 inference latency
//! from histogram bucket deltas, accuracy, error rate). Each reports
//! connecting / live / error / stale and keeps what it showed. A cache with
//! `direct` access is read through `INFO` (the redis crate).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use prometheus_parse::{Sample, Scrape, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Platform;
use crate::config::platform::{CacheKind, Direct, SecretRef};
use crate::model::data::{AiStatus, CacheStatus, DataStatus, DbStatus, Probe, ReplicaLink};
use crate::model::{SourceId, SourceKind, Update};

/// How often each is polled.
pub const INTERVAL: Duration = Duration::from_secs(5);
/// How long one poll may take.
const TIMEOUT: Duration = Duration::from_secs(4);

/// What a task polls.
#[derive(Clone)]
enum Target {
    Database {
        direct: Option<Direct>,
        exporter: Option<String>,
    },
    Cache {
        direct: Option<Direct>,
        exporter: Option<String>,
        kind: CacheKind,
        master_name: Option<String>,
    },
    Ai {
        health: String,
        ready: String,
        metrics: Option<String>,
    },
}

/// Starts a task per configured database, cache and AI service.
pub fn spawn<E: From<Update> + Send + 'static>(
    platform: &Platform,
    tx: &mpsc::Sender<E>,
    every: Duration,
) -> Vec<JoinHandle<()>> {
    let mut targets: Vec<(SourceId, Target)> = Vec::new();
    for d in &platform.databases {
        targets.push((
            SourceId::new(d.region.get_ref(), SourceKind::Database, d.name.get_ref()),
            Target::Database {
                direct: d.direct.clone(),
                exporter: d.exporter.as_ref().map(|e| e.get_ref().clone()),
            },
        ));
    }
    for c in &platform.caches {
        targets.push((
            SourceId::new(c.region.get_ref(), SourceKind::Cache, c.name.get_ref()),
            Target::Cache {
                direct: c.direct.clone(),
                exporter: c.exporter.as_ref().map(|e| e.get_ref().clone()),
                kind: c.kind,
                master_name: c.master_name.clone(),
            },
        ));
    }
    for a in &platform.ai_services {
        targets.push((
            SourceId::new(a.region.get_ref(), SourceKind::AiService, a.name.get_ref()),
            Target::Ai {
                health: a.health.get_ref().clone(),
                ready: a.ready.get_ref().clone(),
                metrics: a.metrics.as_ref().map(|m| m.get_ref().clone()),
            },
        ));
    }
    targets
        .into_iter()
        .map(|(id, target)| tokio::spawn(run(id, target, tx.clone(), every)))
        .collect()
}

async fn run<E: From<Update> + Send + 'static>(
    id: SourceId,
    target: Target,
    tx: mpsc::Sender<E>,
    every: Duration,
) {
    let Some(mut report) = super::Reporter::start(id, tx).await else {
        return;
    };
    let mut poller = Poller::new();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let result = tokio::time::timeout(TIMEOUT, poller.poll(&target))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", TIMEOUT.as_secs())));
        let going_on = match result {
            Ok(status) => {
                report.ok().await
                    && report
                        .send(Update::Data {
                            id: report.id.clone(),
                            status: Box::new(status),
                        })
                        .await
            }
            Err(message) => report.failed(message).await,
        };
        if !going_on {
            return;
        }
    }
}

/// A poller's memory between polls: the last scrape's counters (for
/// rates) and the histories for sparklines.
struct Poller {
    http: Option<reqwest::Client>,
    counters: HashMap<String, f64>,
    at: Option<Instant>,
    db: DbStatus,
    cache: CacheStatus,
    ai: AiStatus,
    client: Option<tokio_postgres::Client>,
    redis: Option<redis::aio::MultiplexedConnection>,
}

impl Poller {
    fn new() -> Poller {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Poller {
            http: reqwest::Client::builder().timeout(TIMEOUT).build().ok(),
            counters: HashMap::new(),
            at: None,
            db: DbStatus::default(),
            cache: CacheStatus::default(),
            ai: AiStatus::default(),
            client: None,
            redis: None,
        }
    }

    async fn poll(&mut self, target: &Target) -> Result<DataStatus, String> {
        match target {
            Target::Database {
                direct: Some(direct),
                ..
            } => {
                let fresh = self.postgres(direct).await;
                if fresh.is_err() {
                    self.client = None;
                }
                Ok(self.remember_db(fresh?))
            }
            Target::Database {
                exporter: Some(url),
                ..
            } => {
                let scrape = self.scrape(url).await?;
                Ok(self.remember_db(postgres_from(&scrape)))
            }

            Target::Cache {
                direct: Some(direct),
                kind,
                master_name,
                ..
            } => {
                let fresh = match kind {
                    CacheKind::RedisSentinel => self.sentinel(direct, master_name.as_deref()).await,
                    CacheKind::RedisCluster => self.redis_cluster(direct).await,
                    CacheKind::Redis => self.redis(direct).await,
                };
                if fresh.is_err() {
                    self.redis = None;
                }
                Ok(self.remember_cache(fresh?))
            }
            Target::Cache {
                exporter: Some(url),
                ..
            } => {
                let scrape = self.scrape(url).await?;
                let c = self.redis_from(&scrape);
                Ok(self.remember_cache(c))
            }
            Target::Database { .. } | Target::Cache { .. } => {
                Err("no `direct` or `exporter` configured: nothing to read".into())
            }
            Target::Ai {
                health,
                ready,
                metrics,
            } => {
                let health = self.probe(health).await;
                let ready = self.probe(ready).await;
                let mut a = AiStatus {
                    health: Some(health),
                    ready: Some(ready),
                    p95_history: self.ai.p95_history.clone(),
                    accuracy_history: self.ai.accuracy_history.clone(),
                    ..AiStatus::default()
                };
                if let Some(url) = metrics
                    && let Ok(scrape) = self.scrape(url).await
                {
                    self.ai_metrics(&scrape, &mut a);
                }
                self.ai = a.clone();
                Ok(DataStatus::Ai(a))
            }
        }
    }

    /// A database's reading, with the histories carried on; kept for next time.
    fn remember_db(&mut self, mut d: DbStatus) -> DataStatus {
        keep_histories(&self.db, &mut d);
        self.db = d.clone();
        DataStatus::Database(d)
    }

    /// A cache's reading, with its memory history carried on; kept for next time.
    fn remember_cache(&mut self, mut c: CacheStatus) -> DataStatus {
        c.memory_history = self.cache.memory_history.clone();
        if let Some((used, max)) = c.memory
            && max > 0.0
        {
            c.memory_history.push(used / max);
        }
        self.cache = c.clone();
        DataStatus::Cache(c)
    }

    async fn scrape(&mut self, url: &str) -> Result<Scrape, String> {
        let http = self
            .http
            .as_ref()
            .ok_or_else(|| "cannot make an HTTP client".to_owned())?;
        let response = http.get(url).send().await.map_err(|e| {
            format!(
                "{url}: {}",
                if e.is_connect() {
                    "cannot connect".to_owned()
                } else {
                    e.to_string()
                }
            )
        })?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let text = response.text().await.map_err(|e| format!("{url}: {e}"))?;
        Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .map_err(|e| format!("{url}: not Prometheus text: {e}"))
    }

    async fn probe(&self, url: &str) -> Probe {
        let started = Instant::now();
        let outcome = match &self.http {
            None => Err("cannot make an HTTP client".to_owned()),
            Some(http) => match http.get(url).send().await {
                Ok(r) => Ok(r.status().as_u16()),
                Err(e) if e.is_connect() => Err("cannot connect".to_owned()),
                Err(e) if e.is_timeout() => Err("timed out".to_owned()),
                Err(e) => Err(e.to_string()),
            },
        };
        Probe {
            outcome,
            latency: started.elapsed(),
        }
    }

    /// Per-second rates of counters since the last scrape (a counter that
    /// went down was reset: its value is the increase). Remembers these.
    fn rates(&mut self, scrape: &Scrape, names: &[&str]) -> HashMap<String, f64> {
        let now = Instant::now();
        let dt = self.at.map(|t| now.duration_since(t).as_secs_f64());
        let mut out = HashMap::new();
        for s in &scrape.samples {
            if !names.iter().any(|n| s.metric == *n) {
                continue;
            }
            let (Value::Counter(v) | Value::Untyped(v) | Value::Gauge(v)) = s.value else {
                continue;
            };
            let key = series_key(s);
            if let (Some(prev), Some(dt)) = (self.counters.get(&key), dt)
                && dt > 0.0
            {
                let inc = if v >= *prev { v - prev } else { v };
                *out.entry(key.clone()).or_insert(0.0) += inc / dt;
            }
            self.counters.insert(key, v);
        }
        self.at = Some(now);
        out
    }

    fn redis_from(&mut self, scrape: &Scrape) -> CacheStatus {
        let g = |name: &str| gauge(scrape, name);
        let rates = self.rates(
            scrape,
            &[
                "redis_keyspace_hits_total",
                "redis_keyspace_misses_total",
                "redis_commands_processed_total",
                "redis_evicted_keys_total",
            ],
        );
        let rate = |name: &str| {
            let mut found = false;
            let sum = rates
                .iter()
                .filter(|(k, _)| k.split('{').next() == Some(name))
                .map(|(_, v)| {
                    found = true;
                    *v
                })
                .sum::<f64>();
            found.then_some(sum)
        };
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
            rate("redis_keyspace_hits_total"),
            rate("redis_keyspace_misses_total"),
        ) {
            (Some(h), Some(m)) if h + m > 0.0 => Some(h / (h + m)),
            _ => None,
        };
        CacheStatus {
            via: "exporter",
            up: g("redis_up").is_some_and(|v| v > 0.0),
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
            ops: rate("redis_commands_processed_total"),
            evictions: rate("redis_evicted_keys_total"),
            memory_history: crate::model::data::History::default(),
            sentinel: None,
            cluster: None,
        }
    }

    fn ai_metrics(&mut self, scrape: &Scrape, a: &mut AiStatus) {
        a.accuracy = gauge(scrape, "ai_model_accuracy");
        // Bucket counts since the last scrape: the p95 of this interval.
        let buckets: Vec<(f64, f64)> = scrape
            .samples
            .iter()
            .filter(|s| s.metric == "ai_model_inference_duration_seconds")
            .filter_map(|s| match &s.value {
                Value::Histogram(h) => {
                    Some(h.iter().map(|b| (b.less_than, b.count)).collect::<Vec<_>>())
                }
                _ => None,
            })
            .flatten()
            .collect();
        let mut deltas: Vec<(f64, f64)> = Vec::new();
        for (le, count) in &buckets {
            let key = format!("ai_model_inference_duration_seconds_bucket{{le={le}}}");
            let prev = self.counters.insert(key, *count);
            if let Some(prev) = prev {
                let inc = if *count >= prev { count - prev } else { *count };
                if let Some(d) = deltas.iter_mut().find(|(l, _)| l.total_cmp(le).is_eq()) {
                    d.1 += inc;
                } else {
                    deltas.push((*le, inc));
                }
            }
        }
        deltas.sort_by(|x, y| x.0.total_cmp(&y.0));
        a.p95_inference = quantile(0.95, &deltas);
        let rates = self.rates(scrape, &["http_requests_total"]);
        let (errors, all) = rates.iter().fold((0.0, 0.0), |(e, t), (k, v)| {
            let five = k.contains("status=\"5");
            (e + if five { *v } else { 0.0 }, t + v)
        });
        a.error_rate = (all > 0.0).then(|| errors / all);
        if let Some(p) = a.p95_inference {
            a.p95_history.push(p);
        }
        if let Some(acc) = a.accuracy {
            a.accuracy_history.push(acc);
        }
    }

    /// Behind Sentinel: asks the Sentinel at `direct.url` which primary it
    /// names and how many replicas it knows, then reads that primary.
    async fn sentinel(
        &mut self,
        direct: &Direct,
        name: Option<&str>,
    ) -> Result<CacheStatus, String> {
        let name = name.ok_or_else(|| {
            "kind = \"redis-sentinel\" needs master_name = \"NAME\" (the monitored primary)"
                .to_owned()
        })?;
        let url = direct.url.get_ref();
        let client =
            redis::Client::open(url.as_str()).map_err(|e| format!("Sentinel {url}: {e}"))?;
        let mut conn = tokio::time::timeout(TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| format!("cannot connect to Sentinel {url}: timed out"))?
            .map_err(|e| format!("cannot connect to Sentinel {url}: {e}"))?;
        let addr: Vec<String> = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(name)
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("Sentinel {url}: {e}"))?;
        let [host, port] = addr.as_slice() else {
            return Err(format!("Sentinel {url} does not monitor `{name}`"));
        };
        let replicas: Vec<Vec<String>> = redis::cmd("SENTINEL")
            .arg("REPLICAS")
            .arg(name)
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("Sentinel {url}: {e}"))?;
        let primary = format!("{host}:{port}");
        let primary_url = format!("redis://{primary}");
        // A new primary named: drop the connection to the old one.
        if self
            .cache
            .sentinel
            .as_ref()
            .is_some_and(|(p, _)| *p != primary)
        {
            self.redis = None;
        }
        let target = Direct {
            url: toml::Spanned::new(0..0, primary_url),
            password: direct.password.clone(),
            ca_file: None,
        };
        let mut c = self.redis(&target).await?;
        c.sentinel = Some((primary, replicas.len()));
        Ok(c)
    }

    /// Redis Cluster: `CLUSTER INFO` from the node at `direct.url`, with
    /// that node's own `INFO`.
    async fn redis_cluster(&mut self, direct: &Direct) -> Result<CacheStatus, String> {
        let mut c = self.redis(direct).await?;
        let Some(conn) = self.redis.as_mut() else {
            return Err("no connection".into());
        };
        let text: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async(conn)
            .await
            .map_err(|e| format!("Redis {}: CLUSTER INFO: {e}", direct.url.get_ref()))?;
        let info: HashMap<&str, &str> = text
            .lines()
            .filter_map(|l| l.trim_end().split_once(':'))
            .collect();
        let n = |k: &str| info.get(k).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
        c.cluster = Some((
            (*info.get("cluster_state").unwrap_or(&"unknown")).to_owned(),
            n("cluster_slots_ok"),
            n("cluster_known_nodes"),
        ));
        Ok(c)
    }

    /// Redis through `INFO`: role, replicas or the link to the primary,
    /// clients, memory, and rates of hits, commands and evictions.
    async fn redis(&mut self, direct: &Direct) -> Result<CacheStatus, String> {
        let url = direct.url.get_ref();
        if self.redis.is_none() {
            let mut info = redis::IntoConnectionInfo::into_connection_info(url.as_str())
                .map_err(|e| format!("Redis URL {url}: {e}"))?;
            if let Some(secret) = &direct.password {
                let settings = info
                    .redis_settings()
                    .clone()
                    .set_password(read_secret(secret.get_ref())?);
                info = info.set_redis_settings(settings);
            }
            let client = redis::Client::open(info).map_err(|e| format!("Redis {url}: {e}"))?;
            let conn = tokio::time::timeout(TIMEOUT, client.get_multiplexed_async_connection())
                .await
                .map_err(|_| format!("cannot connect to {url}: timed out"))?
                .map_err(|e| format!("cannot connect to {url}: {e}"))?;
            self.redis = Some(conn);
        }
        let Some(conn) = self.redis.as_mut() else {
            return Err("no connection".into());
        };
        let text: String = redis::cmd("INFO")
            .query_async(conn)
            .await
            .map_err(|e| format!("Redis {url}: INFO: {e}"))?;
        let info: HashMap<&str, &str> = text
            .lines()
            .filter_map(|l| l.trim_end().split_once(':'))
            .collect();
        let num = |k: &str| info.get(k).and_then(|v| v.parse::<f64>().ok());
        let now = Instant::now();
        let dt = self.at.map(|t| now.duration_since(t).as_secs_f64());
        self.at = Some(now);
        let mut rate = |k: &str| {
            let v = num(k)?;
            let prev = self.counters.insert(format!("redis:{k}"), v)?;
            let dt = dt.filter(|d| *d > 0.0)?;
            Some(if v >= prev { v - prev } else { v } / dt)
        };
        let (hits, misses) = (rate("keyspace_hits"), rate("keyspace_misses"));
        let ops = rate("total_commands_processed");
        let evictions = rate("evicted_keys");
        let role = info.get("role").map(|r| {
            if *r == "slave" {
                "replica".to_owned()
            } else {
                (*r).to_owned()
            }
        });
        let offset = num("master_repl_offset");
        let replicas = info
            .iter()
            .filter(|(k, _)| {
                k.len() > 5 && k.starts_with("slave") && k[5..].chars().all(|c| c.is_ascii_digit())
            })
            .map(|(_, v)| {
                let fields: HashMap<&str, &str> =
                    v.split(',').filter_map(|f| f.split_once('=')).collect();
                let their = fields.get("offset").and_then(|o| o.parse::<f64>().ok());
                ReplicaLink {
                    name: format!(
                        "{}:{}",
                        fields.get("ip").unwrap_or(&""),
                        fields.get("port").unwrap_or(&"")
                    ),
                    state: (*fields.get("state").unwrap_or(&"")).to_owned(),
                    lag_bytes: offset.zip(their).map(|(o, t)| (o - t).max(0.0)),
                    lag_seconds: fields.get("lag").and_then(|l| l.parse().ok()),
                }
            })
            .collect();
        Ok(CacheStatus {
            via: "direct",
            up: true,
            link_up: info.get("master_link_status").map(|s| *s == "up"),
            role,
            replicas,
            clients: num("connected_clients"),
            memory: num("used_memory").map(|u| (u, num("maxmemory").unwrap_or(0.0))),
            hit_rate: match (hits, misses) {
                (Some(h), Some(m)) if h + m > 0.0 => Some(h / (h + m)),
                _ => None,
            },
            ops,
            evictions,
            memory_history: crate::model::data::History::default(),
            sentinel: None,
            cluster: None,
        })
    }

    async fn postgres(&mut self, direct: &Direct) -> Result<DbStatus, String> {
        if self
            .client
            .as_ref()
            .is_none_or(tokio_postgres::Client::is_closed)
        {
            self.client = Some(connect(direct).await?);
        }
        let Some(client) = &self.client else {
            return Err("no connection".into());
        };
        let q = |e: tokio_postgres::Error| {
            format!(
                "PostgreSQL: {}",
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned())
            )
        };
        let row = client
            .query_one(
                "SELECT pg_is_in_recovery(), current_setting('server_version'), \
                 extract(epoch FROM now() - pg_postmaster_start_time())::float8, \
                 (SELECT count(*) FROM pg_stat_activity)::float8, \
                 current_setting('max_connections')::float8, \
                 (SELECT sum(blks_hit)::float8 / nullif(sum(blks_hit) + sum(blks_read), 0) FROM pg_stat_database), \
                                  (SELECT extract(epoch FROM max(now() - xact_start))::float8 FROM pg_stat_activity \
                  WHERE xact_start IS NOT NULL AND state <> 'idle' AND pid <> pg_backend_pid()), \
                 (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
                &[],
            )
            .await
            .map_err(q)?;
        let replica: bool = row.get(0);
        let secs = |v: Option<f64>| v.map(|s| Duration::from_secs_f64(s.max(0.0)));
        let mut d = DbStatus {
            via: "direct",
            up: true,
            role: Some(if replica { "replica" } else { "primary" }.to_owned()),
            version: Some(row.get(1)),
            uptime: secs(row.get(2)),
            connections: Some((row.get(3), row.get(4))),
            cache_hit: row.get(5),
            longest_transaction: secs(row.get(6)),
            tls: row.get(7),
            ..DbStatus::default()
        };
        if replica {
            let r = client
                .query_one(
                    "SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, \
                     CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 \
                     ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END, \
                     (SELECT status FROM pg_stat_wal_receiver), pg_is_wal_replay_paused()",
                    &[],
                )
                .await
                .map_err(q)?;
            let received: Option<String> = r.get(0);
            let replayed: Option<String> = r.get(1);
            d.lsn = Some((received.unwrap_or_default(), replayed.unwrap_or_default()));
            d.replay_lag = r.get::<_, Option<f64>>(2).map(|l| l.max(0.0));
            d.wal_receiver = r.get(3);
            d.replay_paused = r.get(4);
        } else {
            let rows = client
                .query(
                    "SELECT coalesce(application_name, ''), coalesce(client_addr::text, 'local'), coalesce(state, ''), \
                     pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8, \
                     extract(epoch FROM replay_lag)::float8 FROM pg_stat_replication",
                    &[],
                )
                .await
                .map_err(q)?;
            d.replicas = rows
                .iter()
                .map(|r| {
                    let app: String = r.get(0);
                    let addr: String = r.get(1);
                    ReplicaLink {
                        name: if app.is_empty() {
                            addr
                        } else {
                            format!("{app} ({addr})")
                        },
                        state: r.get(2),
                        lag_bytes: r.get(3),
                        lag_seconds: r.get(4),
                    }
                })
                .collect();
        }
        Ok(d)
    }
}

/// Connects with the DSN and the password from its reference; errors
/// name the host, never the password.
async fn connect(direct: &Direct) -> Result<tokio_postgres::Client, String> {
    let url = direct.url.get_ref();
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| format!("PostgreSQL URL {url}: {e}"))?;
    if let Some(secret) = &direct.password {
        config.password(read_secret(secret.get_ref())?);
    }
    config.connect_timeout(TIMEOUT);
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(direct.ca_file.as_deref())?);
    let (client, connection) = config.connect(tls).await.map_err(|e| {
        format!(
            "cannot connect to {url}: {}",
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned())
        )
    })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("PostgreSQL connection ended: {e}");
        }
    });
    Ok(client)
}

/// TLS for PostgreSQL: the system's CA certificates and those of
/// `ca_file`; the server's certificate is always verified.
fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("CA file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("CA file {}: {e}", path.display()))?;
        }
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A secret from its environment variable or file (trailing newline cut).
fn read_secret(s: &SecretRef) -> Result<String, String> {
    if let Some(var) = &s.env {
        return std::env::var(var)
            .map_err(|_| format!("the password's environment variable {var} is not set"));
    }
    if let Some(path) = &s.file {
        return std::fs::read_to_string(path)
            .map(|t| t.trim_end_matches(['\n', '\r']).to_owned())
            .map_err(|e| format!("cannot read the password file {}: {e}", path.display()));
    }
    Err("the password reference names neither env nor file".into())
}

/// Replay lag and connection use over time, carried from the last poll.
fn keep_histories(last: &DbStatus, d: &mut DbStatus) {
    d.connections_history = last.connections_history.clone();
    d.lag_history = last.lag_history.clone();
    if let Some((used, max)) = d.connections
        && max > 0.0
    {
        d.connections_history.push(used / max);
    }
    let lag = d.replay_lag.or_else(|| {
        d.replicas
            .iter()
            .filter_map(|r| r.lag_seconds)
            .reduce(f64::max)
    });
    if let Some(l) = lag {
        d.lag_history.push(l);
    }
}

fn series_key(s: &Sample) -> String {
    let mut labels: Vec<(&String, &String)> = s.labels.iter().collect();
    labels.sort();
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{}{{{}}}", s.metric, inner.join(","))
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(*v),
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

/// A PostgreSQL database from postgres_exporter's series.
fn postgres_from(scrape: &Scrape) -> DbStatus {
    let g = |name: &str| gauge(scrape, name);
    let replica = g("pg_replication_is_replica").is_some_and(|v| v > 0.0);
    let (hit, read) = (
        g("pg_stat_database_blks_hit"),
        g("pg_stat_database_blks_read"),
    );
    DbStatus {
        via: "exporter",
        up: g("pg_up").is_some_and(|v| v > 0.0),
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
        ..DbStatus::default()
    }
}

/// The `q` quantile of bucket counts `(le, count)` (cumulative, sorted),
/// interpolated within its bucket as Prometheus's `histogram_quantile`.
pub fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
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
        let text = "# TYPE pg_up gauge\npg_up 1\npg_replication_is_replica 1\npg_replication_lag 42.5\n\
                    pg_stat_database_numbackends{datname=\"a\"} 30\npg_stat_database_numbackends{datname=\"b\"} 10\n\
                    pg_settings_max_connections 100\npg_stat_database_blks_hit 990\npg_stat_database_blks_read 10\n";
        let s = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parse");
        let d = postgres_from(&s);
        assert!(d.up);
        assert_eq!(d.role.as_deref(), Some("replica"));
        assert_eq!(d.connections, Some((40.0, 100.0)));
        assert_eq!(d.replay_lag, Some(42.5));
        assert_eq!(d.cache_hit, Some(0.99));
    }
}
