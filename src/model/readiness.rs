//! DR readiness: whether a DR region could take over from the primary
//! now, as a list of checks (replication against the RPO, capacity, drift,
//! reachability, the hazards of two primaries), each ok / warn / fail /
//! unknown with why and the age of what it read. A check reads only
//! current data: from a source that is not live it is unknown, saying the
//! last known value, never ok.

use std::time::SystemTime;

use super::SourceState;
use super::cluster::{DeploymentRow, NodeRow};
use super::data::{CacheStatus, DbStatus};
use super::traffic::PoolStatus;

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mark {
    /// Does not apply here (said, not counted).
    Skip,
    /// Holds.
    Ok,
    /// Holds, with something to know.
    Warn,
    /// Cannot be told: a source is not live, a figure not reported.
    Unknown,
    /// Would stop or break a failover.
    Fail,
}

impl Mark {
    /// The word shown.
    pub fn word(self) -> &'static str {
        match self {
            Mark::Skip => "n/a",
            Mark::Ok => "ok",
            Mark::Warn => "warn",
            Mark::Unknown => "unknown",
            Mark::Fail => "fail",
        }
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What is checked: `replication`, `cache`, `capacity`, `drift`,
    /// `reachable`, `primaries`.
    pub area: &'static str,
    /// Of what (`iworkz-dr-postgres`, `eks-tokyo→aks-korea`).
    pub subject: String,
    /// What it found.
    pub mark: Mark,
    /// Why, for the operator.
    pub why: String,
    /// When the oldest reading it rests on was made; none before any.
    pub as_of: Option<SystemTime>,
}

/// A DR region's readiness to take over from the primary.
#[derive(Debug, Clone, PartialEq)]
pub struct Readiness {
    /// The DR region's name in the config (`korea`).
    pub region: String,
    /// The primary region, as shown (`Tokyo`).
    pub from: String,
    /// The DR region, as shown (`Seoul`).
    pub to: String,
    /// Every check, in the order shown.
    pub checks: Vec<Check>,
    /// The worst replication lag and its RPO, for the one-line verdict.
    pub rpo: Option<(f64, u64)>,
}

impl Readiness {
    /// The one-line verdict, the DR region left to the reader:
    /// `ready (lag 0.4 s / RPO 30 s)`, with how many warnings, or what blocks
    /// it (a failing check first, then what cannot be told).
    pub fn verdict(&self) -> (Mark, String) {
        let of = |mark: Mark| self.checks.iter().filter(move |c| c.mark == mark);
        let first = |mark: Mark| {
            let mut all = of(mark);
            let one = all.next()?;
            let more = match all.count() {
                0 => String::new(),
                n => format!(" (+{n} more)"),
            };
            Some(format!("{}: {}{more}", one.subject, one.why))
        };
        if let Some(why) = first(Mark::Fail) {
            return (Mark::Fail, format!("not ready · {why}"));
        }
        if let Some(why) = first(Mark::Unknown) {
            return (Mark::Unknown, format!("readiness unknown · {why}"));
        }
        let rpo = self.rpo.map_or_else(String::new, |(lag, rpo)| {
            format!(" (lag {} / RPO {rpo} s)", seconds(lag))
        });
        match of(Mark::Warn).count() {
            0 => (Mark::Ok, format!("ready{rpo}")),
            1 => (Mark::Warn, format!("ready{rpo} · 1 warning")),
            n => (Mark::Warn, format!("ready{rpo} · {n} warnings")),
        }
    }

    /// The verdict with the region named: `Seoul ready (lag 12 s / RPO 30 s)`.
    pub fn summary(&self) -> (Mark, String) {
        let (mark, text) = self.verdict();
        (mark, format!("{} {text}", self.to))
    }
}

/// A run of the region runbook, in drill or for real, as the audit log
/// has it (its `finished` record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drill {
    /// The primary region's name in the config.
    pub from: String,
    /// The DR region's.
    pub to: String,
    /// When it ended.
    pub at: SystemTime,
    /// A drill (nothing changed) rather than a failover.
    pub dry_run: bool,
    /// Whether it passed (a drill: every check held).
    pub passed: bool,
    /// Its outcome, as written down.
    pub outcome: String,
}

/// What the audit log said of the runbook when it was last read: the
/// latest run per pair of regions, or why it could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drills {
    /// When it was read; `None`: not yet.
    pub read: Option<SystemTime>,
    /// The latest run of each pair of regions.
    pub last: Vec<Drill>,
    /// Why the audit log could not be read, if it could not.
    pub error: Option<String>,
}

impl Drills {
    /// Folds in `found` (read in order), keeping each pair's latest.
    pub fn fold(&mut self, found: impl IntoIterator<Item = Drill>) {
        for d in found {
            match self
                .last
                .iter_mut()
                .find(|l| l.from == d.from && l.to == d.to)
            {
                Some(l) if l.at <= d.at => *l = d,
                Some(_) => {}
                None => self.last.push(d),
            }
        }
    }
}

/// How old a passed drill may be and still count: a week.
pub const DRILL_FRESH: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);

/// When the runbook from `from` to `to` (their names in the config) last
/// ran, and how it went: a passed drill within [`DRILL_FRESH`] is ok; none,
/// an older one or a failed one is a warning (it never blocks a failover).
pub fn drill(drills: &Drills, from: &str, to: &str, now: SystemTime) -> Check {
    let check = |mark, why: String, as_of| Check {
        area: "drill",
        subject: "runbook".into(),
        mark,
        why,
        as_of,
    };
    if let Some(e) = &drills.error {
        return check(
            Mark::Warn,
            format!("the audit log cannot be read: {e}"),
            None,
        );
    }
    let Some(last) = drills.last.iter().find(|d| d.from == from && d.to == to) else {
        return check(
            Mark::Warn,
            "no drill on record · `touban drill` runs one".into(),
            drills.read,
        );
    };
    let age = now.duration_since(last.at).unwrap_or_default();
    let what = if last.dry_run { "drill" } else { "failover" };
    let when = format!("last {what} {} ago", super::source::age_label(age));
    let (mark, why) = if !last.passed {
        (Mark::Warn, format!("{when} did not pass: {}", last.outcome))
    } else if age > DRILL_FRESH {
        (
            Mark::Warn,
            format!(
                "{when}, over {} d: drill again",
                DRILL_FRESH.as_secs() / 86_400
            ),
        )
    } else {
        (Mark::Ok, format!("{when} passed"))
    };
    check(mark, why, drills.read)
}

/// Seconds as the screen shows them: one decimal under 10.
pub fn seconds(s: f64) -> String {
    if s < 10.0 {
        format!("{s:.1} s")
    } else {
        format!("{s:.0} s")
    }
}

/// Why a check of a source that has not answered yet cannot be told.
pub const NOT_CONNECTED: &str = "not connected yet";
/// See [`NOT_CONNECTED`].
pub const CONNECTING: &str = "connecting";

impl Check {
    /// Unknown only because its sources have not answered yet (no value,
    /// no failure to say): what a short screen may fold into one line.
    pub fn pending(&self) -> bool {
        self.mark == Mark::Unknown
            && self.as_of.is_none()
            && (self.why.ends_with(NOT_CONNECTED) || self.why.ends_with(CONNECTING))
    }
}

/// When a source's data was read, if it is current; else why it is not.
pub fn current(state: &SourceState) -> Result<SystemTime, String> {
    match state {
        SourceState::Live { at } => Ok(*at),
        SourceState::NotConnected => Err(NOT_CONNECTED.into()),
        SourceState::Connecting { .. } => Err(CONNECTING.into()),
        SourceState::Error { message, .. } => Err(format!("failing: {message}")),
        SourceState::Stale { why, .. } => Err(format!("stale: {why}")),
    }
}

/// A replication pair as its two ends report it.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'a> {
    /// The replica's name.
    pub replica: &'a str,
    /// How it is fed (`physical`, `logical` ...).
    pub kind: &'a str,
    /// Whether the replica is a writable server of its own (logical).
    pub logical: bool,
    /// The RPO, seconds.
    pub rpo: u64,
    /// A logical pair's link name on the primary.
    pub subscription: Option<&'a str>,
    /// The primary's state and last reading.
    pub primary: (&'a SourceState, Option<&'a DbStatus>),
    /// The replica's state and last reading.
    pub replica_read: (&'a SourceState, Option<&'a DbStatus>),
}

/// The replication check of a pair, and its lag when known.
pub fn replication(p: &Pair<'_>) -> (Check, Option<f64>) {
    let check = |mark, why: String, as_of| Check {
        area: "replication",
        subject: p.replica.to_owned(),
        mark,
        why,
        as_of,
    };
    let (lag, link, as_of, link_seen) = if p.logical {
        match logical_lag(p) {
            Ok(found) => found,
            Err((mark, why, as_of)) => return (check(mark, why, as_of), None),
        }
    } else {
        match physical_lag(p) {
            Ok(found) => found,
            Err((mark, why, as_of)) => return (check(mark, why, as_of), None),
        }
    };
    let Some(lag) = lag else {
        return (
            check(
                Mark::Unknown,
                format!("no lag reported · {} · {link}", p.kind),
                Some(as_of),
            ),
            None,
        );
    };
    #[allow(clippy::cast_precision_loss)]
    let rpo = p.rpo as f64;
    let (mark, relation) = if lag > rpo {
        (Mark::Fail, "over")
    } else if lag > rpo / 2.0 {
        (Mark::Warn, "over half of")
    } else if link_seen {
        (Mark::Ok, "within")
    } else {
        // The lag alone cannot tell a link that stopped (nothing
        // received, nothing to replay: lag 0) from one that streams.
        (Mark::Warn, "within")
    };
    let why = format!(
        "lag {} {relation} RPO {} s · {} · {link}",
        seconds(lag),
        p.rpo,
        p.kind
    );
    (check(mark, why, Some(as_of)), Some(lag))
}

/// The lag, the link in words, when read, and whether the link itself was
/// seen streaming (with replay going on).
type Found = (Option<f64>, String, SystemTime, bool);
type Failed = (Mark, String, Option<SystemTime>);

/// A physical replica's lag, from its own reading.
fn physical_lag(p: &Pair<'_>) -> Result<Found, Failed> {
    let (state, read) = p.replica_read;
    let last = read
        .and_then(|d| d.replay_lag)
        .map_or_else(String::new, |l| format!(" (last known lag {})", seconds(l)));
    let at = current(state).map_err(|why| (Mark::Unknown, format!("{why}{last}"), None))?;
    let Some(d) = read else {
        return Err((Mark::Unknown, "nothing read yet".into(), Some(at)));
    };
    if !d.up {
        return Err((Mark::Fail, "down: nothing to fail over to".into(), Some(at)));
    }
    if d.role.as_deref() == Some("primary") {
        return Err((
            Mark::Fail,
            "not in recovery: a primary of its own, fed by nothing".into(),
            Some(at),
        ));
    }
    let (link, seen) = match (d.via, d.wal_receiver.as_deref()) {
        (_, Some("streaming")) if d.replay_paused => (
            "streaming, but replay is paused: the lag grows until it is resumed".to_owned(),
            false,
        ),
        (_, Some("streaming")) => ("streaming".to_owned(), true),
        (_, Some(other)) => {
            return Err((
                Mark::Fail,
                format!("WAL receiver {other}, not streaming: replication stopped"),
                Some(at),
            ));
        }
        ("direct", None) => {
            return Err((
                Mark::Fail,
                "no WAL receiver: replication stopped".into(),
                Some(at),
            ));
        }
        _ => (
            "link not observed (the exporter reports lag only: enable its stat_wal_receiver collector, or give direct access)"
                .to_owned(),
            false,
        ),
    };
    match d.replay_lag {
        Some(lag) => Ok((Some(lag), link, at, seen)),
        None => Err((
            Mark::Unknown,
            format!("{link}, but no replay lag reported"),
            Some(at),
        )),
    }
}

/// A logical pair's lag, from the primary's `pg_stat_replication`.
fn logical_lag(p: &Pair<'_>) -> Result<Found, Failed> {
    let (state, read) = p.primary;
    let at = current(state).map_err(|why| (Mark::Unknown, format!("primary {why}"), None))?;
    let Some(d) = read else {
        return Err((Mark::Unknown, "primary: nothing read yet".into(), Some(at)));
    };
    if d.via != "direct" {
        return Err((
            Mark::Unknown,
            "a logical pair's lag is read from the primary's pg_stat_replication: give the primary direct access".into(),
            Some(at),
        ));
    }
    // A link is named `application_name (address)` when it has both.
    let named = |r: &&crate::model::data::ReplicaLink, name: &str| {
        r.name == name
            || r.name
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(" ("))
    };
    let link = match p.subscription {
        Some(name) => d.replicas.iter().find(|r| named(r, name)),
        None if d.replicas.len() == 1 => d.replicas.first(),
        None => None,
    };
    let Some(link) = link else {
        let why = match p.subscription {
            Some(name) => {
                format!("no link `{name}` on the primary: the subscription is not connected")
            }
            None if d.replicas.is_empty() => {
                "no link on the primary: the subscription is not connected".into()
            }
            None => "the primary has several links: set `subscription` to name this pair's".into(),
        };
        return Err((Mark::Fail, why, Some(at)));
    };
    if link.state != "streaming" {
        return Err((
            Mark::Fail,
            format!("subscription link {}, not streaming", link.state),
            Some(at),
        ));
    }
    let (replica_state, replica_read) = p.replica_read;
    let replica_up = current(replica_state).is_ok() && replica_read.is_some_and(|r| r.up);
    // Caught up with no lag in seconds reported: nothing to wait for.
    let lag = link
        .lag_seconds
        .or_else(|| (link.lag_bytes == Some(0.0)).then_some(0.0));
    let words = if replica_up {
        "subscription streaming".to_owned()
    } else {
        "subscription streaming; the subscriber itself is not read live".to_owned()
    };
    Ok((lag, words, at, replica_up))
}

/// Two primaries: both ends of a physical pair accept writes (a promoted
/// replica whose old primary came back). `None` when it does not hold or
/// cannot be told.
pub fn two_primaries(p: &Pair<'_>, primary_name: &str) -> Option<Check> {
    if p.logical {
        return None;
    }
    let writable = |(state, read): (&SourceState, Option<&DbStatus>)| {
        let at = current(state).ok()?;
        let d = read?;
        (d.up && d.role.as_deref() == Some("primary")).then_some(at)
    };
    let a = writable(p.primary)?;
    let b = writable(p.replica_read)?;
    Some(Check {
        area: "primaries",
        subject: format!("{primary_name}+{}", p.replica),
        mark: Mark::Fail,
        why: "both accept writes: split brain; fence one before traffic moves".into(),
        as_of: Some(a.min(b)),
    })
}

/// A pool's reading if current, else the mark, why and age it gets.
type PoolRead = Result<(SystemTime, PoolStatus), (Mark, String, Option<SystemTime>)>;

fn read_pool(pool: Option<(&SourceState, Option<&PoolStatus>)>) -> PoolRead {
    match pool {
        None => Err((Mark::Warn, "no pool in [traffic]".to_owned(), None)),
        Some((state, status)) => match (current(state), status) {
            (Ok(at), Some(s)) => Ok((at, s.clone())),
            (Ok(at), None) => Err((Mark::Unknown, "not read yet".into(), Some(at))),
            (Err(why), Some(s)) => Err((
                Mark::Unknown,
                format!("{why}; last known: {}", s.summary()),
                state.since(),
            )),
            (Err(why), None) => Err((Mark::Unknown, why, None)),
        },
    }
}

/// Whether the balancer could send users to the DR region `to`.
fn dr_pool(read: PoolRead, to: &str) -> Check {
    match read {
        Err((mark, why, as_of)) => Check {
            area: "traffic",
            subject: format!("{to} pool"),
            mark,
            why: if mark == Mark::Warn {
                format!("{why} for {to}: the runbook cannot send users there")
            } else {
                why
            },
            as_of,
        },
        Ok((at, s)) => {
            let (mark, then) = match (s.enabled, s.healthy) {
                (true, Some(true)) => (Mark::Ok, format!("the balancer can send users to {to}")),
                (true, Some(false)) => (
                    Mark::Fail,
                    format!("the balancer would not send users to {to}"),
                ),
                (true, None) => (
                    Mark::Unknown,
                    "the balancer's health of it is not known".to_owned(),
                ),
                (false, _) => (
                    Mark::Fail,
                    format!("the balancer sends {to} no users: enable it"),
                ),
            };
            Check {
                area: "traffic",
                subject: s.name.clone(),
                mark,
                why: format!("{}: {then}", s.summary()),
                as_of: Some(at),
            }
        }
    }
}

/// The global load balancer's pools of the two regions, each as its
/// source reports it (none configured: `None`).
#[derive(Debug, Clone)]
pub struct Pools<'a> {
    /// The primary region's pool.
    pub from: Option<(&'a SourceState, Option<&'a PoolStatus>)>,
    /// The DR region's pool.
    pub to: Option<(&'a SourceState, Option<&'a PoolStatus>)>,
    /// Whether the DR region's databases were promoted, as their sources
    /// read now; else the mark the hazard gets and why it cannot be told
    /// (not read live, a logical pair whose roles say nothing, half the
    /// pairs promoted).
    pub dr_promoted: Result<bool, (Mark, String)>,
}

/// Whether the balancer could send users to the DR region (its pool
/// enabled and seen healthy), and the failback hazard: the primary's pool
/// enabled while the DR database is the primary (Cloudflare sends users
/// back once the old region looks healthy: two regions writing), or
/// disabled while the primary's database still is (users sent to a
/// region whose database is a replica).
pub fn traffic(p: &Pools<'_>, from: &str, to: &str) -> Vec<Check> {
    let mut checks = vec![dr_pool(read_pool(p.to), to)];
    let failback = |mark, why: String, as_of| Check {
        area: "failback",
        subject: format!("{from} pool"),
        mark,
        why,
        as_of,
    };
    checks.push(match (read_pool(p.from), p.dr_promoted.clone()) {
        (Err((mark, why, as_of)), _) => failback(
            if mark == Mark::Warn { Mark::Unknown } else { mark },
            if mark == Mark::Warn {
                format!("{why} for {from}: the hazard cannot be told")
            } else {
                why
            },
            as_of,
        ),
        (Ok((at, s)), Err((mark, why))) => failback(
            mark,
            format!(
                "{} {}; which side takes writes cannot be told: {why}",
                s.name,
                if s.enabled { "enabled" } else { "disabled" },
            ),
            Some(at),
        ),
        (Ok((at, s)), Ok(true)) if s.enabled => failback(
            Mark::Fail,
            format!(
                "{} is enabled while {to}'s database is the primary: the balancer sends users back to {from} once it looks healthy (two regions writing); disable it",
                s.name
            ),
            Some(at),
        ),
        (Ok((at, s)), Ok(false)) if !s.enabled => failback(
            Mark::Fail,
            format!(
                "{} is disabled while {from}'s database is still the primary: users go to {to}, whose database is a replica",
                s.name
            ),
            Some(at),
        ),
        (Ok((at, s)), Ok(promoted)) => failback(
            Mark::Ok,
            format!(
                "{} {} and {}'s database the primary: no failback hazard",
                s.name,
                if s.enabled { "enabled" } else { "disabled" },
                if promoted { to } else { from }
            ),
            Some(at),
        ),
    });
    checks
}

/// The DR caches' links, or why there is nothing to check.
pub fn caches(
    primary_caches: usize,
    dr: &[(&str, &SourceState, Option<&CacheStatus>)],
    to: &str,
) -> Vec<Check> {
    let check = |subject: &str, mark, why: String, as_of| Check {
        area: "cache",
        subject: subject.to_owned(),
        mark,
        why,
        as_of,
    };
    if dr.is_empty() {
        return if primary_caches == 0 {
            Vec::new()
        } else {
            vec![check(
                "cache",
                Mark::Skip,
                format!(
                    "no cache in {to}: the runbook's cache step skips; the applications start on an empty cache"
                ),
                None,
            )]
        };
    }
    dr.iter()
        .map(|(name, state, read)| match (current(state), read) {
            (Err(why), _) => check(name, Mark::Unknown, why, None),
            (Ok(at), None) => check(name, Mark::Unknown, "nothing read yet".into(), Some(at)),
            (Ok(at), Some(c)) if !c.up => check(name, Mark::Fail, "down".into(), Some(at)),
            (Ok(at), Some(c)) => match (c.role.as_deref(), c.link_up) {
                (Some("replica"), Some(true)) => check(
                    name,
                    Mark::Ok,
                    "replica, link to its primary up".into(),
                    Some(at),
                ),
                (Some("replica"), Some(false)) => check(
                    name,
                    Mark::Fail,
                    "replica, link to its primary down: it is not being fed".into(),
                    Some(at),
                ),
                (Some("replica"), None) => check(
                    name,
                    Mark::Unknown,
                    "replica, link state not reported".into(),
                    Some(at),
                ),
                (None, _) => check(name, Mark::Unknown, "role not reported".into(), Some(at)),
                _ => check(
                    name,
                    Mark::Warn,
                    "a primary of its own: not fed from the primary region (starts cold)".into(),
                    Some(at),
                ),
            },
        })
        .collect()
}

/// What a set of deployments requests and a set of nodes offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resources {
    /// Millicores.
    pub cpu: u64,
    /// Bytes.
    pub memory: u64,
    /// Pods (deployments' replicas) or nodes.
    pub count: u64,
}

impl Resources {
    /// Both together.
    #[must_use]
    pub fn plus(self, other: Resources) -> Resources {
        Resources {
            cpu: self.cpu.saturating_add(other.cpu),
            memory: self.memory.saturating_add(other.memory),
            count: self.count.saturating_add(other.count),
        }
    }

    /// What the deployments ask for: replicas × each pod's requests.
    pub fn requested<'a>(deployments: impl IntoIterator<Item = &'a DeploymentRow>) -> Resources {
        deployments
            .into_iter()
            .fold(Resources::default(), |acc, d| {
                let n = u64::try_from(d.desired.max(0)).unwrap_or(0);
                acc.plus(Resources {
                    cpu: n.saturating_mul(d.requests.0),
                    memory: n.saturating_mul(d.requests.1),
                    count: n,
                })
            })
    }

    /// What the nodes that take pods offer: Ready and not cordoned.
    pub fn offered<'a>(nodes: impl IntoIterator<Item = &'a NodeRow>) -> Resources {
        nodes
            .into_iter()
            .filter(|n| n.ready && !n.unschedulable)
            .fold(Resources::default(), |acc, n| {
                acc.plus(Resources {
                    cpu: n.allocatable.0,
                    memory: n.allocatable.1,
                    count: 1,
                })
            })
    }

    /// The share of `need` this covers: the smaller of CPU's and memory's,
    /// of what `need` asks at all; `None` when it asks nothing.
    #[allow(clippy::cast_precision_loss)]
    pub fn covers(self, need: Resources) -> Option<f64> {
        let share = |have: u64, want: u64| (want > 0).then(|| have as f64 / want as f64);
        match (share(self.cpu, need.cpu), share(self.memory, need.memory)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The capacity check: what the DR region's nodes offer now, and at its
/// node groups' maxima, against what the primary's live deployments
/// request.
pub fn capacity(
    from: &str,
    to: &str,
    need: Resources,
    now: Resources,
    at_max: Option<Resources>,
    as_of: SystemTime,
) -> Check {
    let check = |mark, why| Check {
        area: "capacity",
        subject: to.to_owned(),
        mark,
        why,
        as_of: Some(as_of),
    };
    let Some(share) = now.covers(need) else {
        return check(
            Mark::Unknown,
            format!("{from}'s deployments request no CPU or memory: nothing to size {to} by"),
        );
    };
    // Rounded down: 99.6 % is not 100 %.
    let pct = |s: f64| format!("{:.0} %", (s * 100.0).floor());
    let max = at_max.and_then(|m| m.covers(need));
    let plural = |n: u64, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    let base = format!(
        "can host {} of {from}'s load ({} for {})",
        pct(share),
        plural(now.count, "node"),
        plural(need.count, "pod")
    );
    match max {
        _ if share >= 1.0 => check(Mark::Ok, base),
        Some(m) if m >= 1.0 => check(
            Mark::Warn,
            format!(
                "{base}; node group max allows {}: the runbook scales up first",
                pct(m)
            ),
        ),
        Some(m) => check(
            Mark::Fail,
            format!("{base}; node group max allows only {}", pct(m)),
        ),
        None => check(
            Mark::Fail,
            format!("{base}; no node group maxima configured to grow into"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::data::ReplicaLink;

    fn live() -> SourceState {
        SourceState::Live {
            at: SystemTime::UNIX_EPOCH,
        }
    }

    fn replica(lag: f64) -> DbStatus {
        DbStatus {
            via: "exporter",
            up: true,
            role: Some("replica".into()),
            replay_lag: Some(lag),
            ..DbStatus::default()
        }
    }

    fn pair<'a>(
        primary: (&'a SourceState, Option<&'a DbStatus>),
        replica: (&'a SourceState, Option<&'a DbStatus>),
    ) -> Pair<'a> {
        Pair {
            replica: "dr",
            kind: "physical",
            logical: false,
            rpo: 30,
            subscription: None,
            primary,
            replica_read: replica,
        }
    }

    #[test]
    fn the_lag_is_held_against_the_rpo() {
        let state = live();
        let streaming = |lag| DbStatus {
            wal_receiver: Some("streaming".into()),
            ..replica(lag)
        };
        for (lag, mark) in [(0.4, Mark::Ok), (20.0, Mark::Warn), (31.0, Mark::Fail)] {
            let r = streaming(lag);
            let (c, l) = replication(&pair((&state, None), (&state, Some(&r))));
            assert_eq!((c.mark, l), (mark, Some(lag)), "{}", c.why);
        }
        let r = streaming(400.0);
        let (c, _) = replication(&pair((&state, None), (&state, Some(&r))));
        assert_eq!(c.why, "lag 400 s over RPO 30 s · physical · streaming");
        // The lag alone (an exporter's) is 0 on a link that stopped too:
        // never ok without the link seen.
        let r = replica(0.0);
        let (c, _) = replication(&pair((&state, None), (&state, Some(&r))));
        assert_eq!(c.mark, Mark::Warn, "{}", c.why);
        assert!(c.why.contains("link not observed"), "{}", c.why);
    }

    #[test]
    fn a_stale_replica_is_unknown_with_its_last_lag_never_ok() {
        let stale = SourceState::Stale {
            since: SystemTime::UNIX_EPOCH,
            why: "no answer within 5 s".into(),
        };
        let r = replica(0.4);
        let (c, lag) = replication(&pair((&live(), None), (&stale, Some(&r))));
        assert_eq!(c.mark, Mark::Unknown);
        assert_eq!(lag, None);
        assert_eq!(c.why, "stale: no answer within 5 s (last known lag 0.4 s)");
    }

    #[test]
    fn an_exporter_replica_whose_receiver_waits_has_stopped() {
        let state = live();
        let r = DbStatus {
            wal_receiver: Some("waiting".into()),
            ..replica(0.0)
        };
        let (c, _) = replication(&pair((&state, None), (&state, Some(&r))));
        assert_eq!(
            (c.mark, c.why.as_str()),
            (
                Mark::Fail,
                "WAL receiver waiting, not streaming: replication stopped"
            )
        );
    }

    #[test]
    fn a_direct_replica_without_a_wal_receiver_has_stopped() {
        let mut r = replica(0.0);
        r.via = "direct";
        let state = live();
        let (c, _) = replication(&pair((&state, None), (&state, Some(&r))));
        assert_eq!(
            (c.mark, c.why.as_str()),
            (Mark::Fail, "no WAL receiver: replication stopped")
        );
        r.wal_receiver = Some("streaming".into());
        r.replay_paused = true;
        assert_eq!(
            replication(&pair((&state, None), (&state, Some(&r))))
                .0
                .mark,
            Mark::Warn
        );
        // Paused an hour behind: over the RPO, not a warning.
        r.replay_lag = Some(3600.0);
        assert_eq!(
            replication(&pair((&state, None), (&state, Some(&r))))
                .0
                .mark,
            Mark::Fail
        );
    }

    #[test]
    fn a_logical_pair_reads_its_link_on_the_primary() {
        let state = live();
        let primary = DbStatus {
            via: "direct",
            up: true,
            role: Some("primary".into()),
            replicas: vec![ReplicaLink {
                name: "iworkz_dr (10.0.0.5)".into(),
                state: "streaming".into(),
                lag_bytes: Some(0.0),
                lag_seconds: Some(3.0),
            }],
            ..DbStatus::default()
        };
        let writable = DbStatus {
            role: Some("primary".into()),
            ..replica(0.0)
        };
        let mut stopped = primary.clone();
        stopped.replicas[0].state = "catchup".into();
        let logical = |primary| Pair {
            logical: true,
            kind: "logical",
            subscription: Some("iworkz_dr"),
            ..pair((&state, Some(primary)), (&state, Some(&writable)))
        };
        let (c, lag) = replication(&logical(&primary));
        assert_eq!((c.mark, lag), (Mark::Ok, Some(3.0)), "{}", c.why);
        // A writable subscriber is not a second primary.
        assert!(two_primaries(&logical(&primary), "main").is_none());
        assert_eq!(replication(&logical(&stopped)).0.mark, Mark::Fail);
    }

    #[test]
    fn two_writable_ends_of_a_physical_pair_are_split_brain() {
        let state = live();
        let a = DbStatus {
            role: Some("primary".into()),
            ..replica(0.0)
        };
        let c = two_primaries(&pair((&state, Some(&a)), (&state, Some(&a))), "main")
            .expect("two primaries");
        assert_eq!(c.mark, Mark::Fail);
        let r = replica(0.0);
        assert!(two_primaries(&pair((&state, Some(&a)), (&state, Some(&r))), "main").is_none());
    }

    #[test]
    fn a_dr_cache_must_be_a_fed_replica() {
        let state = live();
        let replica = |link| CacheStatus {
            up: true,
            role: Some("replica".into()),
            link_up: Some(link),
            ..CacheStatus::default()
        };
        let (fed, cut) = (replica(true), replica(false));
        let marks: Vec<Mark> = caches(
            1,
            &[("a", &state, Some(&fed)), ("b", &state, Some(&cut))],
            "Seoul",
        )
        .iter()
        .map(|c| c.mark)
        .collect();
        assert_eq!(marks, [Mark::Ok, Mark::Fail]);
        let none = caches(1, &[], "Seoul");
        assert_eq!(none[0].mark, Mark::Skip);
        assert!(caches(0, &[], "Seoul").is_empty());
    }

    #[test]
    fn capacity_counts_ready_nodes_against_the_requests() {
        let need = Resources {
            cpu: 10_000,
            memory: 20 << 30,
            count: 20,
        };
        let now = Resources {
            cpu: 4_000,
            memory: 16 << 30,
            count: 2,
        };
        let max = Resources {
            cpu: 12_000,
            memory: 48 << 30,
            count: 6,
        };
        let at = SystemTime::UNIX_EPOCH;
        let c = capacity("Tokyo", "Seoul", need, now, Some(max), at);
        assert_eq!(c.mark, Mark::Warn);
        assert_eq!(
            c.why,
            "can host 40 % of Tokyo's load (2 nodes for 20 pods); node group max allows 120 %: the runbook scales up first"
        );
        assert_eq!(
            capacity("Tokyo", "Seoul", need, max, None, at).mark,
            Mark::Ok
        );
        assert_eq!(
            capacity("Tokyo", "Seoul", need, now, Some(now), at).mark,
            Mark::Fail
        );
        assert_eq!(
            capacity("Tokyo", "Seoul", Resources::default(), now, None, at).mark,
            Mark::Unknown
        );
    }

    #[test]
    fn a_drill_counts_when_it_passed_within_a_week() {
        let now = SystemTime::now();
        let hours = |h: u64| now - std::time::Duration::from_secs(h * 3600);
        let run = |at, passed| Drill {
            from: "tokyo".into(),
            to: "korea".into(),
            at,
            dry_run: true,
            passed,
            outcome: if passed {
                "succeeded: ready"
            } else {
                "failed: not ready · db: stale"
            }
            .into(),
        };
        let mut drills = Drills::default();
        let c = drill(&drills, "tokyo", "korea", now);
        assert_eq!(
            (c.mark, c.why.as_str()),
            (Mark::Warn, "no drill on record · `touban drill` runs one")
        );
        drills.fold([run(hours(30), true), run(hours(2), false)]);
        let c = drill(&drills, "tokyo", "korea", now);
        assert_eq!(
            (c.mark, c.why.as_str()),
            (
                Mark::Warn,
                "last drill 2 h ago did not pass: failed: not ready · db: stale"
            )
        );
        drills.fold([run(hours(1), true), run(hours(40), false)]);
        let c = drill(&drills, "tokyo", "korea", now);
        assert_eq!(
            (c.mark, c.why.as_str()),
            (Mark::Ok, "last drill 1 h ago passed"),
            "an older run read later changes nothing"
        );
        let c = drill(&drills, "tokyo", "korea", now + DRILL_FRESH);
        assert_eq!(
            (c.mark, c.why.as_str()),
            (Mark::Warn, "last drill 7 d ago, over 7 d: drill again")
        );
        assert_eq!(
            drill(&drills, "tokyo", "osaka", now).mark,
            Mark::Warn,
            "another pair has its own"
        );
        drills.error = Some("audit.jsonl: permission denied".into());
        assert_eq!(drill(&drills, "tokyo", "korea", now).mark, Mark::Warn);
    }

    #[test]
    fn the_verdict_names_the_first_blocker_or_the_rpo() {
        let mut r = Readiness {
            region: "korea".into(),
            from: "Tokyo".into(),
            to: "Seoul".into(),
            checks: vec![Check {
                area: "replication",
                subject: "dr".into(),
                mark: Mark::Ok,
                why: "lag".into(),
                as_of: None,
            }],
            rpo: Some((12.0, 30)),
        };
        assert_eq!(
            r.summary(),
            (Mark::Ok, "Seoul ready (lag 12 s / RPO 30 s)".into())
        );
        r.checks[0].mark = Mark::Warn;
        assert_eq!(
            r.verdict(),
            (Mark::Warn, "ready (lag 12 s / RPO 30 s) · 1 warning".into())
        );
        r.checks.push(Check {
            area: "reachable",
            subject: "aks-korea".into(),
            mark: Mark::Unknown,
            why: "connecting".into(),
            as_of: None,
        });
        assert_eq!(r.verdict().0, Mark::Unknown);
        r.checks.push(Check {
            area: "capacity",
            subject: "Seoul".into(),
            mark: Mark::Fail,
            why: "too small".into(),
            as_of: None,
        });
        assert_eq!(
            r.verdict(),
            (Mark::Fail, "not ready · Seoul: too small".into())
        );
    }
}
