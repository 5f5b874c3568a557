//! The data tier and AI services as the console keeps them: what a
//! database, a cache or an AI service reported last (from direct access,
//! an exporter scrape or probes), and the health rules that colour their
//! cells, with thresholds from the seed's alert rules.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Deserialize;

use super::cluster::Health;

/// CloudWatch series of one database or cache, `(metric, values)` oldest
/// first, or why they could not be read.
pub type Series = Result<Vec<(String, Vec<f64>)>, String>;

/// A database's or cache's CloudWatch series as the console keeps them:
/// the last good series with when they were read, and the failure since,
/// if the last fetch failed (a failure never throws the good series away).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CloudWatchSeries {
    /// `(metric, values)`, oldest first, as last read.
    pub metrics: Vec<(String, Vec<f64>)>,
    /// When they were read.
    pub read_at: Option<std::time::SystemTime>,
    /// What failed since, and since when.
    pub failing: Option<(String, std::time::SystemTime)>,
}

impl CloudWatchSeries {
    /// Folds in one fetch made at `at`.
    pub fn fold(&mut self, fetched: Series, at: std::time::SystemTime) {
        match fetched {
            Ok(metrics) => {
                self.metrics = metrics;
                self.read_at = Some(at);
                self.failing = None;
            }
            Err(e) => {
                let since = self.failing.as_ref().map_or(at, |(_, since)| *since);
                self.failing = Some((e, since));
            }
        }
    }
}

/// Points kept for a sparkline.
pub const HISTORY: usize = 60;

/// A short history of a figure, for a sparkline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History(pub VecDeque<f64>);

impl History {
    /// Adds a point, dropping the oldest past [`HISTORY`].
    pub fn push(&mut self, v: f64) {
        if self.0.len() == HISTORY {
            self.0.pop_front();
        }
        self.0.push_back(v);
    }
}

/// A replica as its primary sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplicaLink {
    /// Its name (application_name, or ip:port).
    pub name: String,
    /// Its state (`streaming`, `online`).
    pub state: String,
    /// How far behind, in bytes (replay LSN, or replication offset).
    pub lag_bytes: Option<f64>,
    /// How far behind, in seconds.
    pub lag_seconds: Option<f64>,
}

/// A PostgreSQL database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DbStatus {
    /// How it is read: `direct` or `exporter`.
    pub via: &'static str,
    /// Whether it answers (the exporter's `pg_up`, or the connection).
    pub up: bool,
    /// `primary` or `replica`.
    pub role: Option<String>,
    /// Server version.
    pub version: Option<String>,
    /// Whether touban's own connection is encrypted (direct access).
    pub tls: Option<bool>,
    /// Since the postmaster started.
    pub uptime: Option<Duration>,
    /// Connections, and `max_connections`.
    pub connections: Option<(f64, f64)>,
    /// Share of block reads served from the buffer cache.
    pub cache_hit: Option<f64>,
    /// The longest running transaction.
    pub longest_transaction: Option<Duration>,
    /// On a primary: its replicas.
    pub replicas: Vec<ReplicaLink>,
    /// On a replica: replay lag in seconds.
    pub replay_lag: Option<f64>,
    /// On a replica: received and replayed LSN.
    pub lsn: Option<(String, String)>,
    /// On a replica: the WAL receiver's status (`streaming`), or none.
    pub wal_receiver: Option<String>,
    /// On a replica: replay paused.
    pub replay_paused: bool,
    /// Connections used, as a share, over time.
    pub connections_history: History,
    /// Replay lag over time.
    pub lag_history: History,
}

/// A Redis cache.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheStatus {
    /// How it is read: `direct` or `exporter`.
    pub via: &'static str,
    /// Whether it answers.
    pub up: bool,
    /// `master` / `replica` (`slave` reported as `replica`).
    pub role: Option<String>,
    /// On a primary: its replicas.
    pub replicas: Vec<ReplicaLink>,
    /// On a replica: whether the link to its primary is up.
    pub link_up: Option<bool>,
    /// Connected clients.
    pub clients: Option<f64>,
    /// Memory used, and maxmemory (0: no limit).
    pub memory: Option<(f64, f64)>,
    /// Keyspace hits / (hits + misses), since the last poll.
    pub hit_rate: Option<f64>,
    /// Commands per second, since the last poll.
    pub ops: Option<f64>,
    /// Evicted keys per second, since the last poll.
    pub evictions: Option<f64>,
    /// Memory used, as a share, over time.
    pub memory_history: History,
    /// Behind Sentinel: the primary's address Sentinel names, and how many
    /// replicas it knows.
    pub sentinel: Option<(String, usize)>,
    /// Redis Cluster: `cluster_state`, slots ok, known nodes.
    pub cluster: Option<(String, u32, u32)>,
}

/// A probe's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// HTTP status, or what failed.
    pub outcome: Result<u16, String>,
    /// How long it took.
    pub latency: Duration,
}

impl Probe {
    /// Whether it answered 2xx.
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Ok(s) if (200..300).contains(&s))
    }
}

/// An AI service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AiStatus {
    /// `/health`.
    pub health: Option<Probe>,
    /// `/ready`.
    pub ready: Option<Probe>,
    /// p95 inference latency over the last poll, seconds.
    pub p95_inference: Option<f64>,
    /// Model accuracy.
    pub accuracy: Option<f64>,
    /// Share of requests answered 5xx, over the last poll.
    pub error_rate: Option<f64>,
    /// Why the metrics could not be read, when they could not.
    pub metrics_error: Option<String>,
    /// p95 inference latency over time.
    pub p95_history: History,
    /// Accuracy over time.
    pub accuracy_history: History,
}

/// What a data or AI source reports.
#[derive(Debug, Clone, PartialEq)]
pub enum DataStatus {
    /// A database.
    Database(DbStatus),
    /// A cache.
    Cache(CacheStatus),
    /// An AI service.
    Ai(AiStatus),
    /// A region's pool in the global load balancer.
    Pool(super::traffic::PoolStatus),
}

/// A PromQL figure to show: `[[figures]]` in the config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FigureSpec {
    /// What it is (`request rate`).
    pub name: String,
    /// The instant query.
    pub query: String,
    /// `req/s`, `s`, `ratio` (shown as a percentage), or empty.
    #[serde(default)]
    pub unit: String,
}

impl FigureSpec {
    /// The seed's Grafana panels ("iWORKZ platform overview").
    pub fn defaults() -> Vec<FigureSpec> {
        let f = |name: &str, query: &str, unit: &str| FigureSpec {
            name: name.into(),
            query: query.into(),
            unit: unit.into(),
        };
        vec![
            f(
                "request rate",
                "sum by (service) (rate(http_requests_total[5m]))",
                "req/s",
            ),
            f(
                "p95 latency",
                "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))",
                "s",
            ),
            f(
                "error rate",
                "sum by (service) (rate(http_requests_total{status=~\"5..\"}[5m])) / sum by (service) (rate(http_requests_total[5m]))",
                "ratio",
            ),
            f("active users", "sum(active_users_total)", ""),
            f("AI accuracy", "avg(ai_model_accuracy)", ""),
            f(
                "AI p95 inference",
                "histogram_quantile(0.95, sum by (le) (rate(ai_model_inference_duration_seconds_bucket[5m])))",
                "s",
            ),
            f(
                "DB cache hits",
                "sum(pg_stat_database_blks_hit) / (sum(pg_stat_database_blks_hit) + sum(pg_stat_database_blks_read))",
                "ratio",
            ),
            f("DB connections", "sum(pg_stat_database_numbackends)", ""),
        ]
    }

    /// A value as shown with its unit.
    pub fn show(&self, v: f64) -> String {
        match self.unit.as_str() {
            "ratio" => format!("{:.1} %", v * 100.0),
            "s" => format!("{v:.2} s"),
            "" => format!("{v:.0}"),
            unit => format!("{v:.1} {unit}"),
        }
    }
}

/// A PromQL figure's answer: `(series labels, value)` pairs, or the error.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// What was asked.
    pub spec: FigureSpec,
    /// What Prometheus answered.
    pub values: Result<Vec<(String, f64)>, String>,
}

/// Health thresholds (`[thresholds]` in the config); the defaults are the
/// seed's alert rules.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    /// Connections above this share of max_connections: warn.
    pub connections_warn: f64,
    /// Replica lag above this many seconds: warn.
    pub lag_warn_seconds: f64,
    /// Replica lag above this many seconds: critical.
    pub lag_crit_seconds: f64,
    /// Redis memory above this share of maxmemory: warn.
    pub cache_memory_warn: f64,
    /// p95 inference latency above this many seconds: warn.
    pub inference_p95_warn_seconds: f64,
    /// Model accuracy below this: critical.
    pub accuracy_crit: f64,
    /// Error rate above this share: critical.
    pub error_rate_crit: f64,
    /// Polls a threshold must be crossed in a row before the cell takes
    /// its colour (until then it reads "pending"), as a rule's `for`.
    pub hold_polls: toml::Spanned<u32>,
    /// Seconds rates and ratios (error rate, hit rates, p95) are computed
    /// over.
    pub window_seconds: toml::Spanned<u64>,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            connections_warn: 0.8,
            lag_warn_seconds: 30.0,
            lag_crit_seconds: 300.0,
            cache_memory_warn: 0.85,
            inference_p95_warn_seconds: 2.0,
            accuracy_crit: 0.85,
            error_rate_crit: 0.05,
            hold_polls: toml::Spanned::new(0..0, 3),
            window_seconds: toml::Spanned::new(0..0, 60),
        }
    }
}

/// One rule that holds for a reading: how bad, why, and which rule (the
/// key hysteresis counts polls by).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How bad.
    pub health: Health,
    /// Why, for the operator.
    pub why: String,
    /// The rule's name (`lag`, `connections`, `down` ...).
    pub rule: &'static str,
}

impl Finding {
    fn new(health: Health, rule: &'static str, why: impl Into<String>) -> Finding {
        Finding {
            health,
            why: why.into(),
            rule,
        }
    }

    /// Whether the rule is a threshold on a figure, which must hold for a
    /// number of polls before it counts (a figure crossing a line once is
    /// noise); a state (down, a link down, a probe failing) counts at once.
    pub fn is_threshold(&self) -> bool {
        matches!(
            self.rule,
            "lag" | "connections" | "memory" | "accuracy" | "errors" | "p95"
        )
    }
}

/// The worst of the findings (the first listed, among equals); ok with
/// `ok` as the reason if none.
pub fn worst(found: &[Finding], ok: &str) -> (Health, String) {
    found
        .iter()
        .rev()
        .max_by_key(|f| f.health)
        .map_or((Health::Ok, ok.to_owned()), |f| (f.health, f.why.clone()))
}

/// What a database's reading breaks: down, replication lag, connections.
pub fn db_findings(d: &DbStatus, t: &Thresholds) -> Vec<Finding> {
    if !d.up {
        return vec![Finding::new(Health::Crit, "down", "not answering")];
    }
    let mut found = Vec::new();
    let lags = d
        .replay_lag
        .into_iter()
        .chain(d.replicas.iter().filter_map(|r| r.lag_seconds));
    if let Some(lag) = lags.fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.max(l)))) {
        if lag > t.lag_crit_seconds {
            found.push(Finding::new(
                Health::Crit,
                "lag",
                format!("replica lag {lag:.0} s > {:.0} s", t.lag_crit_seconds),
            ));
        } else if lag > t.lag_warn_seconds {
            found.push(Finding::new(
                Health::Warn,
                "lag",
                format!("replica lag {lag:.0} s > {:.0} s", t.lag_warn_seconds),
            ));
        }
    }
    if d.replay_paused {
        found.push(Finding::new(Health::Warn, "paused", "replay paused"));
    }
    if d.role.as_deref() == Some("replica") && d.wal_receiver.is_none() && d.via == "direct" {
        found.push(Finding::new(
            Health::Crit,
            "wal-receiver",
            "no WAL receiver: replication is down",
        ));
    }
    if let Some((used, max)) = d.connections
        && max > 0.0
        && used / max > t.connections_warn
    {
        found.push(Finding::new(
            Health::Warn,
            "connections",
            format!(
                "connections {:.0} % > {:.0} %",
                used / max * 100.0,
                t.connections_warn * 100.0
            ),
        ));
    }
    found
}

/// A database's health: the worst of its findings.
pub fn db_health(d: &DbStatus, t: &Thresholds) -> (Health, String) {
    worst(&db_findings(d, t), DB_OK)
}

/// What a cache's reading breaks: down, replication link, memory.
pub fn cache_findings(c: &CacheStatus, t: &Thresholds) -> Vec<Finding> {
    if !c.up {
        return vec![Finding::new(Health::Crit, "down", "not answering")];
    }
    let mut found = Vec::new();
    if c.link_up == Some(false) {
        found.push(Finding::new(Health::Crit, "link", "replication link down"));
    }
    if let Some((state, slots, _)) = &c.cluster {
        if state != "ok" {
            found.push(Finding::new(
                Health::Crit,
                "cluster",
                format!("cluster state {state}"),
            ));
        } else if *slots < 16_384 {
            found.push(Finding::new(
                Health::Warn,
                "slots",
                format!("{slots} of 16384 slots ok"),
            ));
        }
    }
    if let Some((used, max)) = c.memory
        && max > 0.0
        && used / max > t.cache_memory_warn
    {
        found.push(Finding::new(
            Health::Warn,
            "memory",
            format!(
                "memory {:.0} % > {:.0} %",
                used / max * 100.0,
                t.cache_memory_warn * 100.0
            ),
        ));
    }
    found
}

/// A cache's health: the worst of its findings.
pub fn cache_health(c: &CacheStatus, t: &Thresholds) -> (Health, String) {
    worst(&cache_findings(c, t), CACHE_OK)
}

/// What an AI service's reading breaks: probes, accuracy, error rate,
/// latency, unreadable metrics. `None` before it was probed at all.
pub fn ai_findings(a: &AiStatus, t: &Thresholds) -> Option<Vec<Finding>> {
    if a.health.is_none() && a.ready.is_none() {
        return None;
    }
    let mut found = Vec::new();
    for (what, probe) in [("health", &a.health), ("ready", &a.ready)] {
        if let Some(p) = probe
            && !p.ok()
        {
            let why = match &p.outcome {
                Ok(code) => format!("HTTP {code}"),
                Err(e) => e.clone(),
            };
            found.push(Finding::new(
                Health::Crit,
                "probe",
                format!("/{what} failing: {why}"),
            ));
        }
    }
    if let Some(acc) = a.accuracy
        && acc < t.accuracy_crit
    {
        found.push(Finding::new(
            Health::Crit,
            "accuracy",
            format!("accuracy {acc:.2} < {:.2}", t.accuracy_crit),
        ));
    }
    if let Some(e) = a.error_rate
        && e > t.error_rate_crit
    {
        found.push(Finding::new(
            Health::Crit,
            "errors",
            format!(
                "errors {:.1} % > {:.0} %",
                e * 100.0,
                t.error_rate_crit * 100.0
            ),
        ));
    }
    if let Some(p95) = a.p95_inference
        && p95 > t.inference_p95_warn_seconds
    {
        found.push(Finding::new(
            Health::Warn,
            "p95",
            format!(
                "p95 inference {p95:.1} s > {:.1} s",
                t.inference_p95_warn_seconds
            ),
        ));
    }
    if let Some(e) = &a.metrics_error {
        found.push(Finding::new(
            Health::Warn,
            "metrics",
            format!("metrics unreadable: {e}"),
        ));
    }
    Some(found)
}

/// An AI service's health: the worst of its findings.
pub fn ai_health(a: &AiStatus, t: &Thresholds) -> (Health, String) {
    match ai_findings(a, t) {
        None => (Health::Unknown, "not probed yet".into()),
        Some(found) => worst(&found, AI_OK),
    }
}

/// The reasons of a database, cache and AI service within every rule.
pub const DB_OK: &str = "answering, within thresholds";
/// See [`DB_OK`].
pub const CACHE_OK: &str = DB_OK;
/// See [`DB_OK`].
pub const AI_OK: &str = "healthy, ready, within thresholds";

/// The findings of whatever it is (`None`: nothing read yet) and the
/// reason it gives when none holds.
pub fn findings(s: &DataStatus, t: &Thresholds) -> (Option<Vec<Finding>>, &'static str) {
    match s {
        DataStatus::Database(d) => (Some(db_findings(d, t)), DB_OK),
        DataStatus::Cache(c) => (Some(cache_findings(c, t)), CACHE_OK),
        DataStatus::Ai(a) => (ai_findings(a, t), AI_OK),
        DataStatus::Pool(p) => (pool_findings(p), POOL_OK),
    }
}

/// See [`DB_OK`].
pub const POOL_OK: &str = "enabled, healthy";

/// A load-balancer pool: unhealthy in the balancer's eyes is a failure;
/// disabled (no users sent) is worth a look; none read, not yet known.
pub fn pool_findings(p: &super::traffic::PoolStatus) -> Option<Vec<Finding>> {
    let mut found = Vec::new();
    if p.enabled {
        match p.healthy {
            Some(false) => found.push(Finding::new(
                Health::Crit,
                "unhealthy",
                format!("the balancer sees it unhealthy: {}", p.summary()),
            )),
            None => return None,
            Some(true) => {}
        }
    } else {
        found.push(Finding::new(
            Health::Warn,
            "disabled",
            "disabled: the balancer sends it no users",
        ));
    }
    Some(found)
}

/// The health of whatever it is, from one reading (no hysteresis).
pub fn health(s: &DataStatus, t: &Thresholds) -> (Health, String) {
    match findings(s, t) {
        (None, _) => (Health::Unknown, "not probed yet".into()),
        (Some(found), ok) => worst(&found, ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_rule_decides_and_says_why() {
        let t = Thresholds::default();
        let mut d = DbStatus {
            via: "exporter",
            up: true,
            role: Some("replica".into()),
            connections: Some((85.0, 100.0)),
            replay_lag: Some(12.0),
            ..DbStatus::default()
        };
        assert_eq!(
            db_health(&d, &t),
            (Health::Warn, "connections 85 % > 80 %".into())
        );
        d.replay_lag = Some(400.0);
        assert_eq!(
            db_health(&d, &t),
            (Health::Crit, "replica lag 400 s > 300 s".into())
        );
        d.up = false;
        assert_eq!(db_health(&d, &t).0, Health::Crit);
        let c = CacheStatus {
            up: true,
            link_up: Some(false),
            memory: Some((90.0, 100.0)),
            ..CacheStatus::default()
        };
        assert_eq!(
            cache_health(&c, &t),
            (Health::Crit, "replication link down".into())
        );
        let a = AiStatus {
            health: Some(Probe {
                outcome: Ok(200),
                latency: Duration::from_millis(3),
            }),
            ready: Some(Probe {
                outcome: Ok(200),
                latency: Duration::from_millis(3),
            }),
            p95_inference: Some(3.0),
            accuracy: Some(0.92),
            error_rate: Some(0.01),
            ..AiStatus::default()
        };
        assert_eq!(
            ai_health(&a, &t),
            (Health::Warn, "p95 inference 3.0 s > 2.0 s".into())
        );
    }
}
