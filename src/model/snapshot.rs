//! The whole platform's state as one document, for `touban snapshot`, and
//! the rules `touban check` reads from it. The field names are a contract
//! with scripts: they are stable, documented here (the JSON Schema
//! `touban snapshot --schema` prints is generated from these types and
//! their comments), and a field that changes meaning or goes bumps
//! [`SCHEMA_VERSION`].
//!
//! `check` reads only the snapshot, so a gate in a pipeline and the JSON a
//! script reads can never disagree.

use schemars::JsonSchema;
use serde::Serialize;

use super::verdict::Level;

/// The version of the document's shape.
pub const SCHEMA_VERSION: u32 = 1;

/// The platform's state, as every source last answered.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Snapshot {
    /// The version of this document's shape ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// When it was taken (RFC 3339, UTC).
    pub taken_at: String,
    /// The configured environment (`production`).
    pub environment: String,
    /// Every region, in configured order.
    pub regions: Vec<Region>,
    /// Every active alert (firing, pending, silenced or inhibited), each
    /// once however many sources report it, the most severe first.
    pub alerts: Vec<Alert>,
    /// Every blue / green release in every cluster.
    pub rollouts: Vec<Release>,
    /// What the Rollouts pane flags: Services that route to both colours or
    /// to no ready pod, releases whose Services disagree, HPAs that target
    /// no deployment or a colour that is not live.
    pub flags: Vec<Flag>,
    /// Differences between each primary-region cluster and each DR-region
    /// cluster (image, replicas, HPA bounds, configuration data).
    pub drift: Vec<Drift>,
    /// Each DR region's readiness to take over now, as `touban drill`
    /// prints it (without the runbook).
    pub readiness: Vec<Readiness>,
    /// Sources that neither answered nor failed within the wait
    /// (`cluster eks-tokyo in tokyo`).
    pub did_not_answer: Vec<String>,
}

/// A region and everything in it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Region {
    /// The name the configuration refers to (`tokyo`).
    pub name: String,
    /// The name shown (`Tokyo`).
    pub display: String,
    /// `primary` or `dr`.
    pub role: String,
    /// The region's verdict: the worst of its cells and of its firing
    /// alerts. Never `ok` while a source is not read.
    pub health: Level,
    /// Why, the worst first.
    pub reasons: Vec<String>,
    /// Its firing alerts by severity, and whether every alert source of
    /// the region is live (only then are the counts the whole truth).
    pub firing: AlertCounts,
    /// Its Kubernetes clusters.
    pub clusters: Vec<Cluster>,
    /// Its databases.
    pub databases: Vec<Database>,
    /// Its caches.
    pub caches: Vec<Cache>,
    /// Its AI services.
    pub ai_services: Vec<AiService>,
    /// Its alert sources (Alertmanager, Prometheus, CloudWatch alarms):
    /// each's health is whether it answers.
    pub alert_sources: Vec<Cell>,
    /// Its Prometheus, queried for the PromQL figures, when configured.
    pub metrics: Option<Cell>,
    /// The frontend release's live colour in each of its clusters (the
    /// cell's name is the cluster), when the configuration names one.
    pub frontends: Vec<Cell>,
    /// Its pool in the global load balancer, when traffic is configured.
    pub pool: Option<Pool>,
}

/// A region's pool in the global load balancer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Pool {
    /// Its cell.
    #[serde(flatten)]
    pub cell: Cell,
    /// Its last reading, once read.
    pub reading: Option<PoolReading>,
}

/// What the load balancer said of a pool.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PoolReading {
    /// The pool's name (`iworkz-tokyo`).
    pub pool: String,
    /// Whether the balancer may send it traffic.
    pub enabled: bool,
    /// Whether its monitors see it healthy; none when not checked.
    pub healthy: Option<bool>,
    /// Origins seen healthy.
    pub origins_healthy: usize,
    /// Origins checked.
    pub origins: usize,
    /// The first failure a monitor reports.
    pub failure: Option<String>,
}

/// Firing alerts of a region.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct AlertCounts {
    /// Critical (or `page`) alerts.
    pub critical: usize,
    /// Warning alerts.
    pub warning: usize,
    /// Any other severity.
    pub other: usize,
    /// Whether every alert source of the region answered last time.
    pub complete: bool,
}

/// What every cell of the console shows: what it is, its health qualified
/// by what is known, why, how fresh, and the alerts about it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Cell {
    /// Its configured name (`eks-tokyo`).
    pub name: String,
    /// Its health: from a source that is not live, `stale` at best (what
    /// it last knew still counts when worse); never read, `unknown`; a
    /// firing alert about it makes it at least as bad as the alert.
    pub health: Level,
    /// Why, naming it, as the Overview says it.
    pub reason: String,
    /// The source it is read from.
    pub source: Source,
    /// Firing alerts about it, the worst first.
    pub alerts: Vec<Marking>,
}

/// A firing alert that marks a cell.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Marking {
    /// `alertname`.
    pub name: String,
    /// What it makes its cell at least: `failing` (critical) or `degraded`
    /// (warning).
    pub health: Level,
}

/// A source's state and the age of what it last read.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Source {
    /// `not connected`, `connecting`, `live`, `error` or `stale`.
    pub state: String,
    /// Seconds since the data shown was read (live, stale), or since the
    /// source started failing (error) or connecting; none before.
    pub age_seconds: Option<u64>,
    /// What is failing, when something is (never a secret).
    pub error: Option<String>,
}

/// A Kubernetes cluster.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Cluster {
    /// Its cell.
    #[serde(flatten)]
    pub cell: Cell,
    /// Its figures, once listed.
    pub figures: Option<ClusterFigures>,
}

/// What the Overview counts in a cluster.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ClusterFigures {
    /// Nodes.
    pub nodes: usize,
    /// Nodes Ready.
    pub nodes_ready: usize,
    /// Deployments.
    pub deployments: usize,
    /// Deployments with every desired replica available.
    pub deployments_available: usize,
    /// Pods.
    pub pods: usize,
    /// Pods not ready (completed ones not counted).
    pub pods_not_ready: usize,
    /// Of those, pods within their start-up allowance.
    pub pods_starting: usize,
    /// Pods crash-looping.
    pub crash_looping: usize,
}

/// One rule that holds for a reading of a database, cache or AI service.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Rule {
    /// The rule (`down`, `lag`, `connections`, `memory`, `link`, `p95` ...).
    pub rule: String,
    /// How bad it is when it counts.
    pub health: Level,
    /// Why.
    pub why: String,
    /// A threshold on a figure: polls in a row it has held, and how many it
    /// must hold before it counts; none for a state (down, a link down),
    /// which counts at once.
    pub held: Option<Held>,
    /// Whether it counts now (a state, or a threshold held long enough);
    /// one that does not yet is the cell's `pending`.
    pub counts: bool,
}

/// How long a threshold rule has held.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct Held {
    /// Polls in a row.
    pub polls: u32,
    /// Polls it must hold to count.
    pub needs: u32,
}

/// A replica as its primary sees it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Replica {
    /// Its name (application_name, or ip:port).
    pub name: String,
    /// Its state (`streaming`, `online`).
    pub state: String,
    /// How far behind, in bytes.
    pub lag_bytes: Option<f64>,
    /// How far behind, in seconds.
    pub lag_seconds: Option<f64>,
}

/// A database.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Database {
    /// Its cell.
    #[serde(flatten)]
    pub cell: Cell,
    /// Every rule that holds for its last reading.
    pub rules: Vec<Rule>,
    /// Its last reading, once read.
    pub reading: Option<DatabaseReading>,
}

/// What a database reported last.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DatabaseReading {
    /// How it is read: `direct`, `exporter`, or a provider's API.
    pub via: String,
    /// Whether it answers.
    pub up: bool,
    /// `primary` or `replica`.
    pub role: Option<String>,
    /// Server version.
    pub version: Option<String>,
    /// Connections.
    pub connections: Option<f64>,
    /// `max_connections`.
    pub max_connections: Option<f64>,
    /// The longest running transaction, seconds.
    pub longest_transaction_seconds: Option<f64>,
    /// On a primary: its replicas.
    pub replicas: Vec<Replica>,
    /// On a replica: replay lag, seconds.
    pub replay_lag_seconds: Option<f64>,
    /// On a replica: the WAL receiver's status (`streaming`).
    pub wal_receiver: Option<String>,
    /// On a replica: whether replay is paused.
    pub replay_paused: bool,
}

/// A cache.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Cache {
    /// Its cell.
    #[serde(flatten)]
    pub cell: Cell,
    /// Every rule that holds for its last reading.
    pub rules: Vec<Rule>,
    /// Its last reading, once read.
    pub reading: Option<CacheReading>,
}

/// What a cache reported last.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CacheReading {
    /// How it is read: `direct`, `exporter`, or a provider's API.
    pub via: String,
    /// Whether it answers.
    pub up: bool,
    /// `master` or `replica`.
    pub role: Option<String>,
    /// Connected clients.
    pub clients: Option<f64>,
    /// Memory used, bytes.
    pub memory_bytes: Option<f64>,
    /// `maxmemory`, bytes (0: no limit).
    pub max_memory_bytes: Option<f64>,
    /// Keyspace hits / (hits + misses) since the last poll.
    pub hit_rate: Option<f64>,
    /// Commands per second since the last poll.
    pub ops_per_second: Option<f64>,
    /// Evicted keys per second since the last poll.
    pub evictions_per_second: Option<f64>,
    /// On a primary: its replicas.
    pub replicas: Vec<Replica>,
    /// On a replica: whether its link to the primary is up.
    pub link_up: Option<bool>,
}

/// An AI service.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AiService {
    /// Its cell.
    #[serde(flatten)]
    pub cell: Cell,
    /// Every rule that holds for its last reading.
    pub rules: Vec<Rule>,
    /// Its last reading, once read.
    pub reading: Option<AiReading>,
}

/// What an AI service reported last.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AiReading {
    /// `/health`'s answer.
    pub health: Option<ProbeAnswer>,
    /// `/ready`'s answer.
    pub ready: Option<ProbeAnswer>,
    /// p95 inference latency over the last poll, seconds.
    pub p95_inference_seconds: Option<f64>,
    /// Model accuracy, 0 to 1.
    pub accuracy: Option<f64>,
    /// Share of requests answered 5xx over the last poll.
    pub error_rate: Option<f64>,
    /// Why the metrics could not be read, when they could not.
    pub metrics_error: Option<String>,
}

/// A probe's answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ProbeAnswer {
    /// The HTTP status, when it answered.
    pub status: Option<u16>,
    /// What failed, when it did not.
    pub error: Option<String>,
    /// How long it took, seconds.
    pub latency_seconds: f64,
}

/// An active alert.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Alert {
    /// `alertname`, or the alarm's name.
    pub name: String,
    /// The region it was read in (configured name).
    pub region: String,
    /// The `severity` label (`critical`, `warning`, `info`).
    pub severity: String,
    /// `firing`, `pending`, `silenced` or `inhibited`.
    pub state: String,
    /// The `summary` annotation.
    pub summary: String,
    /// Since when (RFC 3339).
    pub since: Option<String>,
    /// The alert sources that report it.
    pub source: String,
    /// The cell it marks (`database iworkz-production-postgres`), when one.
    pub marks: Option<String>,
    /// Every label, sorted by name.
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A blue / green release in one cluster.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Release {
    /// The cluster.
    pub cluster: String,
    /// Its namespace.
    pub namespace: String,
    /// Its `app` label.
    pub app: String,
    /// The colour its Services route to, when they agree on one.
    pub live: Option<String>,
    /// Each colour's deployment.
    pub colours: Vec<Colour>,
}

/// One colour of a release.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Colour {
    /// `blue` or `green`.
    pub colour: String,
    /// The deployment's name.
    pub deployment: String,
    /// Its image's tag.
    pub tag: String,
    /// Ready replicas.
    pub ready: i32,
    /// Desired replicas.
    pub desired: i32,
    /// `complete`, `progressing` or `stalled`, and why.
    pub rollout: String,
}

/// A fault the Rollouts pane flags.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Flag {
    /// The cluster.
    pub cluster: String,
    /// The region it is in.
    pub region: String,
    /// `degraded` or `failing`.
    pub health: Level,
    /// What it is about (`iworkz-production/backend-api-service`).
    pub subject: String,
    /// What is wrong.
    pub text: String,
}

/// A difference between the same workload in two regions.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Drift {
    /// The primary region's cluster.
    pub left: String,
    /// The DR region's cluster.
    pub right: String,
    /// What differs (`iworkz-production/backend-api`).
    pub subject: String,
    /// Which property (`image`, `replicas`, `HPA bounds`, `data`).
    pub what: String,
    /// Its value in the primary region's cluster.
    pub left_value: String,
    /// Its value in the DR region's.
    pub right_value: String,
    /// Expected of a standby (fewer replicas): shown, not flagged.
    pub expected: bool,
}

/// A DR region's readiness to take over.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Readiness {
    /// The DR region (configured name).
    pub region: String,
    /// The primary region, as shown.
    pub from: String,
    /// The DR region, as shown.
    pub to: String,
    /// Whether it could take over now (every check ok or warn).
    pub ready: bool,
    /// The worst mark: `ok`, `warn`, `unknown` or `fail`.
    pub mark: String,
    /// The one-line verdict.
    pub verdict: String,
    /// Every check.
    pub checks: Vec<ReadinessCheck>,
}

/// One readiness check.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReadinessCheck {
    /// `replication`, `cache`, `capacity`, `drift`, `reachable`, `primaries` ...
    pub area: String,
    /// Of what.
    pub subject: String,
    /// `n/a`, `ok`, `warn`, `unknown` or `fail`.
    pub mark: String,
    /// Why.
    pub why: String,
    /// Seconds since the oldest reading it rests on; none before any.
    pub age_seconds: Option<u64>,
}

/// What `touban check` can judge, by the name `--only` takes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    strum::EnumString,
    strum::Display,
    strum::VariantNames,
)]
#[strum(serialize_all = "kebab-case")]
pub enum Category {
    /// Each cluster's cell.
    Clusters,
    /// Each database's rules and alerts.
    Databases,
    /// Each cache's rules and alerts.
    Caches,
    /// Each AI service's rules and alerts.
    Ai,
    /// The alert sources answering, and firing alerts that mark no cell.
    Alerts,
    /// The frontend release's live colour.
    Frontends,
    /// The Rollouts pane's flags (not by default: standing faults of
    /// configuration, not of health).
    Rollouts,
    /// Drift between the regions (not by default).
    Drift,
    /// DR readiness (not by default: `touban drill` is its gate).
    Readiness,
}

impl Category {
    /// What `check` judges when `--only` is not given: the region
    /// verdicts' rules, what the Overview judges.
    pub const DEFAULT: [Category; 6] = [
        Category::Clusters,
        Category::Databases,
        Category::Caches,
        Category::Ai,
        Category::Alerts,
        Category::Frontends,
    ];
}

/// A rule's outcome, as the Nagios plugin convention numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Holds.
    Ok,
    /// Degraded.
    Warning,
    /// Failing.
    Critical,
    /// Cannot be told: a source is not live or was never read.
    Unknown,
}

impl Status {
    /// The exit status: 0, 1, 2, 3.
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::Unknown => 3,
        }
    }

    /// The word the plugin convention prints.
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// How much worse than the others: critical, then unknown (a gate that
    /// cannot see must not pass as if it saw a warning), then warning.
    fn rank(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Unknown => 2,
            Status::Critical => 3,
        }
    }

    /// The status a cell's level gives: pending and starting hold (they
    /// are not yet a fault), stale and unknown cannot be told.
    pub fn of(level: Level) -> Status {
        match level {
            Level::Ok | Level::Starting | Level::Pending => Status::Ok,
            Level::Unknown | Level::Stale => Status::Unknown,
            Level::Warn => Status::Warning,
            Level::Crit => Status::Critical,
        }
    }
}

/// One rule that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failing {
    /// How badly.
    pub status: Status,
    /// The region it is in, as shown (`Tokyo`); `Tokyo↔Seoul` for drift.
    pub region: String,
    /// What it is about (`database iworkz-production-postgres`).
    pub subject: String,
    /// Why.
    pub why: String,
}

/// What `check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The worst status.
    pub status: Status,
    /// Every rule that does not hold, the worst first.
    pub failing: Vec<Failing>,
    /// The regions judged, as shown.
    pub regions: Vec<String>,
    /// How many rules were judged.
    pub judged: usize,
}

impl Checked {
    /// The first line: the status and what it rests on.
    pub fn headline(&self) -> String {
        let regions = self.regions.join(", ");
        if self.failing.is_empty() {
            return format!(
                "OK: {} hold in {regions}",
                super::verdict::plural(self.judged, "rule")
            );
        }
        let mut parts = Vec::new();
        for s in [Status::Critical, Status::Unknown, Status::Warning] {
            let n = self.failing.iter().filter(|f| f.status == s).count();
            if n > 0 {
                parts.push(format!("{n} {}", s.word().to_lowercase()));
            }
        }
        format!(
            "{}: {} of {} in {regions}",
            self.status.word(),
            parts.join(", "),
            super::verdict::plural(self.judged, "rule")
        )
    }

    /// One line per failing rule.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.failing.iter().map(|f| {
            format!(
                "{:<8} {} {}: {}",
                f.status.word(),
                f.region,
                f.subject,
                f.why
            )
        })
    }
}

/// A region matches `wanted` by its configured or shown name, any case.
fn wanted(r: &Region, wanted: Option<&str>) -> bool {
    wanted.is_none_or(|w| r.name.eq_ignore_ascii_case(w) || r.display.eq_ignore_ascii_case(w))
}

/// Judges the snapshot by the rules of `categories` in the regions
/// `region` names (every region when none).
pub fn check(s: &Snapshot, region: Option<&str>, categories: &[Category]) -> Checked {
    let mut judge = Judge {
        failing: Vec::new(),
        judged: 0,
    };
    let has = |c: Category| categories.contains(&c);
    let regions: Vec<&Region> = s.regions.iter().filter(|r| wanted(r, region)).collect();
    for r in &regions {
        let at = r.display.as_str();
        if has(Category::Clusters) {
            for c in &r.clusters {
                judge.cell(at, "cluster", &c.cell);
            }
        }
        if has(Category::Databases) {
            for d in &r.databases {
                judge.ruled(at, "database", &d.cell, &d.rules);
            }
        }
        if has(Category::Caches) {
            for c in &r.caches {
                judge.ruled(at, "cache", &c.cell, &c.rules);
            }
        }
        if has(Category::Ai) {
            for a in &r.ai_services {
                judge.ruled(at, "AI service", &a.cell, &a.rules);
            }
        }
        if has(Category::Frontends) {
            for f in &r.frontends {
                judge.cell(at, "frontend", f);
            }
        }
        if has(Category::Alerts) {
            for a in &r.alert_sources {
                judge.cell(at, "alert source", a);
            }
            if let Some(m) = &r.metrics {
                judge.cell(at, "metrics", m);
            }
            judge.alerts(at, s.alerts.iter().filter(|a| a.region == r.name));
        }
        if has(Category::Rollouts) {
            for f in s.flags.iter().filter(|f| f.region == r.name) {
                judge.judged += 1;
                judge.push(
                    Status::of(f.health),
                    at,
                    &format!("{} {}", f.cluster, f.subject),
                    &f.text,
                );
            }
        }
        if has(Category::Readiness) {
            for x in s.readiness.iter().filter(|x| x.region == r.name) {
                judge.readiness(x);
            }
        }
    }
    if has(Category::Drift) {
        judge.drift(s, &regions);
    }
    let mut failing = judge.failing;
    failing.sort_by_key(|f| std::cmp::Reverse(f.status.rank()));
    let status = failing.first().map_or(Status::Ok, |f| f.status);
    Checked {
        status,
        failing,
        regions: regions.iter().map(|r| r.display.clone()).collect(),
        judged: judge.judged,
    }
}

/// A cell's reason without its name in front (the line names it).
fn unnamed(c: &Cell) -> &str {
    let why = c
        .reason
        .strip_prefix(c.name.as_str())
        .map_or(c.reason.as_str(), |r| {
            r.trim_start_matches(':').trim_start()
        });
    if why.is_empty() { &c.source.state } else { why }
}

/// The rules judged so far, and those that do not hold.
struct Judge {
    failing: Vec<Failing>,
    judged: usize,
}

impl Judge {
    fn push(&mut self, status: Status, region: &str, subject: &str, why: &str) {
        if status != Status::Ok {
            self.failing.push(Failing {
                status,
                region: region.to_owned(),
                subject: subject.to_owned(),
                why: why.to_owned(),
            });
        }
    }

    /// A cell judged by its verdict alone: one rule. A source that is not
    /// live is said too when its last known verdict is what the line says.
    fn cell(&mut self, region: &str, kind: &str, c: &Cell) {
        self.judged += 1;
        let subject = format!("{kind} {}", c.name);
        let status = Status::of(c.health);
        self.push(status, region, &subject, unnamed(c));
        if c.source.state != "live" && matches!(status, Status::Warning | Status::Critical) {
            let why = c.source.error.as_deref().unwrap_or(c.source.state.as_str());
            self.push(
                Status::Unknown,
                region,
                &subject,
                &format!("{why}: the above is its last known state"),
            );
        }
    }

    /// A database, cache or AI service: one line per rule that counts, and
    /// per alert about it, while its source is live; else one line saying
    /// what is known (the last known, when it was worse).
    fn ruled(&mut self, region: &str, kind: &str, c: &Cell, rules: &[Rule]) {
        let subject = format!("{kind} {}", c.name);
        if c.source.state != "live" {
            self.cell(region, kind, c);
            return;
        }
        self.judged += 1 + c.alerts.len();
        for r in rules.iter().filter(|r| r.counts) {
            self.push(Status::of(r.health), region, &subject, &r.why);
        }
        for a in &c.alerts {
            self.push(
                Status::of(a.health),
                region,
                &subject,
                &format!("{} firing", a.name),
            );
        }
        let any_rule = rules
            .iter()
            .any(|r| r.counts && Status::of(r.health) != Status::Ok);
        if !any_rule && c.alerts.is_empty() {
            // Nothing read yet ("not probed yet") is unknown, not ok.
            self.push(Status::of(c.health), region, &subject, unnamed(c));
        }
    }

    /// The firing alerts that mark no cell (those that do are their cell's).
    fn alerts<'a>(&mut self, region: &str, alerts: impl Iterator<Item = &'a Alert>) {
        for a in alerts.filter(|a| a.state == "firing" && a.marks.is_none()) {
            let status = match a.severity.as_str() {
                "critical" | "page" => Status::Critical,
                "warning" => Status::Warning,
                _ => continue,
            };
            self.judged += 1;
            let why = if a.summary.is_empty() {
                "firing".to_owned()
            } else {
                format!("firing: {}", a.summary)
            };
            self.push(status, region, &format!("alert {}", a.name), &why);
        }
    }

    fn readiness(&mut self, x: &Readiness) {
        for c in &x.checks {
            self.judged += 1;
            let status = match c.mark.as_str() {
                "fail" => Status::Critical,
                "unknown" => Status::Unknown,
                "warn" => Status::Warning,
                _ => Status::Ok,
            };
            self.push(
                status,
                &x.to,
                &format!("readiness {} {}", c.area, c.subject),
                &c.why,
            );
        }
    }

    fn drift(&mut self, s: &Snapshot, regions: &[&Region]) {
        let cluster_region = |name: &str| {
            s.regions
                .iter()
                .find(|r| r.clusters.iter().any(|c| c.cell.name == name))
        };
        for d in &s.drift {
            let (Some(l), Some(r)) = (cluster_region(&d.left), cluster_region(&d.right)) else {
                continue;
            };
            if !regions.iter().any(|x| x.name == l.name || x.name == r.name) {
                continue;
            }
            self.judged += 1;
            if !d.expected {
                self.push(
                    Status::Warning,
                    &format!("{}↔{}", l.display, r.display),
                    &format!("drift {} {}", d.subject, d.what),
                    &format!("{} vs {}", d.left_value, d.right_value),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(name: &str, health: Level, reason: &str, state: &str) -> Cell {
        Cell {
            name: name.into(),
            health,
            reason: format!("{name} {reason}"),
            source: Source {
                state: state.into(),
                age_seconds: Some(3),
                error: (state != "live").then(|| "API not answering".to_owned()),
            },
            alerts: Vec::new(),
        }
    }

    fn region(name: &str, display: &str) -> Region {
        Region {
            name: name.into(),
            display: display.into(),
            role: "primary".into(),
            health: Level::Ok,
            reasons: Vec::new(),
            firing: AlertCounts {
                critical: 0,
                warning: 0,
                other: 0,
                complete: true,
            },
            clusters: Vec::new(),
            databases: Vec::new(),
            caches: Vec::new(),
            ai_services: Vec::new(),
            alert_sources: Vec::new(),
            metrics: None,
            frontends: Vec::new(),
            pool: None,
        }
    }

    fn snapshot(regions: Vec<Region>, alerts: Vec<Alert>) -> Snapshot {
        Snapshot {
            schema_version: SCHEMA_VERSION,
            taken_at: String::new(),
            environment: "test".into(),
            regions,
            alerts,
            rollouts: Vec::new(),
            flags: Vec::new(),
            drift: Vec::new(),
            readiness: Vec::new(),
            did_not_answer: Vec::new(),
        }
    }

    fn rule(health: Level, why: &str, counts: bool) -> Rule {
        Rule {
            rule: "lag".into(),
            health,
            why: why.into(),
            held: Some(Held {
                polls: u32::from(counts) * 3,
                needs: 3,
            }),
            counts,
        }
    }

    fn alert(name: &str, severity: &str, marks: Option<&str>) -> Alert {
        Alert {
            name: name.into(),
            region: "tokyo".into(),
            severity: severity.into(),
            state: "firing".into(),
            summary: String::new(),
            since: None,
            source: "alertmanager".into(),
            marks: marks.map(str::to_owned),
            labels: std::collections::BTreeMap::new(),
        }
    }

    #[test]
    fn a_failing_cell_whose_source_went_stale_is_critical_and_says_it_is_last_known() {
        let mut tokyo = region("tokyo", "Tokyo");
        tokyo.clusters.push(Cluster {
            cell: cell("eks-tokyo", Level::Crit, "2 nodes not ready", "stale"),
            figures: None,
        });
        tokyo.clusters.push(Cluster {
            cell: cell("eks-osaka", Level::Stale, "", "stale"),
            figures: None,
        });
        let checked = check(&snapshot(vec![tokyo], vec![]), None, &Category::DEFAULT);
        assert_eq!(checked.status, Status::Critical);
        assert_eq!(checked.status.code(), 2);
        let lines: Vec<String> = checked.lines().collect();
        assert_eq!(
            lines,
            [
                "CRITICAL Tokyo cluster eks-tokyo: 2 nodes not ready",
                "UNKNOWN  Tokyo cluster eks-tokyo: API not answering: the above is its last known state",
                "UNKNOWN  Tokyo cluster eks-osaka: stale",
            ]
        );
        assert_eq!(
            checked.headline(),
            "CRITICAL: 1 critical, 2 unknown of 2 rules in Tokyo"
        );
    }

    #[test]
    fn a_threshold_counts_only_once_held_and_an_alert_counts_once_where_it_marks() {
        let mut tokyo = region("tokyo", "Tokyo");
        let mut db = cell("pg", Level::Pending, "1/3 · lag 40 s", "live");
        db.alerts.push(Marking {
            name: "PostgreSQLDown".into(),
            health: Level::Crit,
        });
        tokyo.databases.push(Database {
            cell: db.clone(),
            rules: vec![rule(Level::Warn, "lag 40 s", false)],
            reading: None,
        });
        let alerts = vec![
            alert("PostgreSQLDown", "critical", Some("database pg")),
            alert("DiskFilling", "warning", None),
            alert("Watchdog", "none", None),
        ];
        let s = snapshot(vec![tokyo], alerts);
        let checked = check(&s, None, &Category::DEFAULT);
        let lines: Vec<String> = checked.lines().collect();
        assert_eq!(
            lines,
            [
                "CRITICAL Tokyo database pg: PostgreSQLDown firing",
                "WARNING  Tokyo alert DiskFilling: firing",
            ]
        );
        // Held long enough, the lag counts; without the alert, a warning.
        let mut tokyo = region("tokyo", "Tokyo");
        db.alerts.clear();
        tokyo.databases.push(Database {
            cell: db,
            rules: vec![rule(Level::Warn, "lag 40 s", true)],
            reading: None,
        });
        let checked = check(&snapshot(vec![tokyo], vec![]), None, &[Category::Databases]);
        assert_eq!(checked.status, Status::Warning);
        assert_eq!(
            checked.lines().collect::<Vec<_>>(),
            ["WARNING  Tokyo database pg: lag 40 s"]
        );
    }

    #[test]
    fn one_region_is_judged_by_either_name_and_unknown_outranks_a_warning() {
        let mut tokyo = region("tokyo", "Tokyo");
        tokyo.caches.push(Cache {
            cell: cell("redis", Level::Warn, "memory 91 %", "live"),
            rules: vec![rule(Level::Warn, "memory 91 %", true)],
            reading: None,
        });
        let mut korea = region("korea", "Seoul");
        korea.alert_sources.push(cell(
            "alertmanager",
            Level::Unknown,
            "connecting",
            "connecting",
        ));
        let s = snapshot(vec![tokyo, korea], vec![]);
        let both = check(&s, None, &Category::DEFAULT);
        assert_eq!(both.status, Status::Unknown);
        assert_eq!(both.status.code(), 3);
        let seoul = check(&s, Some("seoul"), &Category::DEFAULT);
        assert_eq!(
            (seoul.status, seoul.regions.clone()),
            (Status::Unknown, vec!["Seoul".to_owned()])
        );
        let tokyo = check(&s, Some("tokyo"), &Category::DEFAULT);
        assert_eq!(tokyo.status, Status::Warning);
        let calm = check(&s, Some("tokyo"), &[Category::Clusters]);
        assert_eq!(
            (calm.status, calm.headline()),
            (Status::Ok, "OK: 0 rules hold in Tokyo".to_owned())
        );
    }
}
