//! Databases, caches and AI services: per configured one, a task that
//! polls every 5 s. A PostgreSQL database with `direct` access is read
//! with tokio-postgres ([`postgres`]), a cache with `direct` access
//! through `INFO` ([`redis`]); otherwise their exporter's `/metrics` is
//! scraped ([`exporter`]). An AI service is probed on `/health` and
//! `/ready` and its metrics scraped. Each reports connecting / live /
//! error / stale and keeps what it showed; a poll that fails or times out
//! drops its connections, so the next one starts afresh.

mod exporter;
pub(crate) mod postgres;
pub(crate) mod redis;
mod window;

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Platform;
use crate::config::platform::{CacheKind, Direct, SecretRef};
use crate::config::secret::mask_url;
use crate::model::data::{AiStatus, CacheStatus, DataStatus, DbStatus, Probe};
use crate::model::{SourceId, SourceKind, Update};

/// How often each is polled.
pub const INTERVAL: Duration = Duration::from_secs(5);
/// How long one poll may take.
const TIMEOUT: Duration = Duration::from_secs(4);

/// What a task polls.
#[derive(Clone)]
enum Polled {
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
    let mut targets: Vec<(SourceId, Polled)> = Vec::new();
    for d in &platform.databases {
        targets.push((
            SourceId::new(d.region.get_ref(), SourceKind::Database, d.name.get_ref()),
            Polled::Database {
                direct: d.direct.clone(),
                exporter: d.exporter.as_ref().map(|e| e.get_ref().clone()),
            },
        ));
    }
    for c in &platform.caches {
        targets.push((
            SourceId::new(c.region.get_ref(), SourceKind::Cache, c.name.get_ref()),
            Polled::Cache {
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
            Polled::Ai {
                health: a.health.get_ref().clone(),
                ready: a.ready.get_ref().clone(),
                metrics: a.metrics.as_ref().map(|m| m.get_ref().clone()),
            },
        ));
    }
    let limits = (
        platform.max_reply_bytes(),
        Duration::from_secs(*platform.thresholds.window_seconds.get_ref()),
    );
    targets
        .into_iter()
        .map(|(id, target)| tokio::spawn(run(id, target, tx.clone(), every, limits)))
        .collect()
}

async fn run<E: From<Update> + Send + 'static>(
    id: SourceId,
    target: Polled,
    tx: mpsc::Sender<E>,
    every: Duration,
    (cap, window): (u64, Duration),
) {
    let Some(mut report) = super::Reporter::start(id, tx).await else {
        return;
    };
    let mut poller = Poller::new(cap, window);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let result = match tokio::time::timeout(TIMEOUT, poller.poll(&target)).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {} s", TIMEOUT.as_secs())),
        };
        if result.is_err() {
            // A connection that failed or hung is not asked again: the
            // next poll connects afresh.
            poller.reset();
        }
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

/// A poller's memory between polls: its connections, the last scrape's
/// counters (for rates) and the histories for sparklines.
struct Poller {
    http: Result<reqwest::Client, String>,
    cap: u64,
    counters: exporter::Counters,
    db: DbStatus,
    cache: CacheStatus,
    ai: AiStatus,
    postgres: postgres::Session,
    redis: redis::Session,
}

impl Poller {
    fn new(cap: u64, window: Duration) -> Poller {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Poller {
            http: super::http::client(TIMEOUT),
            cap,
            counters: exporter::Counters::new(window),
            db: DbStatus::default(),
            cache: CacheStatus::default(),
            ai: AiStatus::default(),
            postgres: postgres::Session::default(),
            redis: redis::Session::new(window),
        }
    }

    /// Drops every connection.
    fn reset(&mut self) {
        self.postgres.reset();
        self.redis.reset();
    }

    fn limits(&self) -> redis::Limits {
        redis::Limits {
            timeout: TIMEOUT,
            cap: self.cap,
        }
    }

    async fn poll(&mut self, target: &Polled) -> Result<DataStatus, String> {
        match target {
            Polled::Database {
                direct: Some(direct),
                ..
            } => {
                let fresh = self.postgres.read(direct, TIMEOUT, self.cap).await?;
                Ok(self.remember_db(fresh))
            }
            Polled::Database {
                exporter: Some(url),
                ..
            } => {
                let scrape = self.scrape(url).await?;
                let fresh = exporter::postgres(&scrape, &mask_url(url))?;
                Ok(self.remember_db(fresh))
            }
            Polled::Cache {
                direct: Some(direct),
                kind,
                master_name,
                ..
            } => {
                let limits = self.limits();
                let fresh = match kind {
                    CacheKind::RedisSentinel => {
                        self.redis
                            .sentinel(direct, master_name.as_deref(), &limits)
                            .await?
                    }
                    CacheKind::RedisCluster => self.redis.cluster(direct, &limits).await?,
                    CacheKind::Redis => {
                        self.redis
                            .info(direct.url.get_ref(), direct, &limits)
                            .await?
                    }
                };
                Ok(self.remember_cache(fresh))
            }
            Polled::Cache {
                exporter: Some(url),
                ..
            } => {
                let scrape = self.scrape(url).await?;
                let fresh = self.counters.redis(&scrape, &mask_url(url))?;
                Ok(self.remember_cache(fresh))
            }
            Polled::Database { .. } | Polled::Cache { .. } => {
                Err("no `direct` or `exporter` configured: nothing to read".into())
            }
            Polled::Ai {
                health,
                ready,
                metrics,
            } => self.ai(health, ready, metrics.as_deref()).await,
        }
    }

    /// An AI service: its probes (answered with any status: live; neither
    /// answering at all: the source fails) and its metrics (unreadable
    /// metrics are said, never taken for "within thresholds").
    async fn ai(
        &mut self,
        health: &str,
        ready: &str,
        metrics: Option<&str>,
    ) -> Result<DataStatus, String> {
        let (health, ready) = tokio::join!(self.probe(health), self.probe(ready));
        if let (Err(h), Err(_)) = (&health.outcome, &ready.outcome) {
            return Err(format!("neither /health nor /ready answers: {h}"));
        }
        let mut a = AiStatus {
            health: Some(health),
            ready: Some(ready),
            p95_history: self.ai.p95_history.clone(),
            accuracy_history: self.ai.accuracy_history.clone(),
            ..AiStatus::default()
        };
        if let Some(url) = metrics {
            let read = match self.scrape(url).await {
                Ok(scrape) => self.counters.ai(&scrape, &mut a, &mask_url(url)),
                Err(e) => Err(e),
            };
            a.metrics_error = read.err();
        }
        if let Some(p) = a.p95_inference {
            a.p95_history.push(p);
        }
        if let Some(acc) = a.accuracy {
            a.accuracy_history.push(acc);
        }
        self.ai = a.clone();
        Ok(DataStatus::Ai(a))
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

    async fn scrape(&self, url: &str) -> Result<prometheus_parse::Scrape, String> {
        let http = self.http.as_ref().map_err(Clone::clone)?;
        let body = super::http::get(http, url, self.cap).await?;
        exporter::parse(&String::from_utf8_lossy(&body), &mask_url(url))
    }

    async fn probe(&self, url: &str) -> Probe {
        let started = Instant::now();
        let outcome = match &self.http {
            Err(e) => Err(e.clone()),
            Ok(http) => match http.get(url).send().await {
                Ok(r) => Ok(r.status().as_u16()),
                Err(e) => Err(super::http::short(&e)),
            },
        };
        Probe {
            outcome,
            latency: started.elapsed(),
        }
    }
}

/// A PostgreSQL database as its postgres_exporter says it is now, read
/// once (what the executor verifies a promotion by).
pub(crate) async fn exported(
    http: &reqwest::Client,
    url: &str,
    cap: u64,
) -> Result<DbStatus, String> {
    let body = super::http::get(http, url, cap).await?;
    let scrape = exporter::parse(&String::from_utf8_lossy(&body), &mask_url(url))?;
    exporter::postgres(&scrape, &mask_url(url))
}

/// A password from its environment variable or file.
fn read_secret(s: &SecretRef) -> Result<String, String> {
    s.read("password")
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
