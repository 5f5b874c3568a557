//! Sources (one per configured endpoint) and the health each reports, so
//! that every pane can say how fresh what it shows is.

use std::fmt;
use std::time::{Duration, SystemTime};

/// What a source watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    /// A Kubernetes cluster.
    Cluster,
    /// A database.
    Database,
    /// A cache.
    Cache,
    /// An AI service's probes and metrics.
    AiService,
    /// An alert source: Alertmanager, Prometheus or CloudWatch alarms.
    Alerts,
    /// A region's Prometheus, queried for PromQL figures.
    Metrics,
    /// A region's pool in the global load balancer.
    Traffic,
}

impl SourceKind {
    /// The word shown next to a source's name.
    pub fn label(self) -> &'static str {
        match self {
            SourceKind::Cluster => "cluster",
            SourceKind::Database => "database",
            SourceKind::Cache => "cache",
            SourceKind::AiService => "ai service",
            SourceKind::Alerts => "alerts",
            SourceKind::Metrics => "metrics",
            SourceKind::Traffic => "traffic",
        }
    }
}

/// Names one source: the region, its kind and the configured name of what
/// it watches (names are unique per kind within a region).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId {
    /// The configured region name (`tokyo`).
    pub region: String,
    /// What it watches.
    pub kind: SourceKind,
    /// The configured name (`eks-tokyo`, `iworkz-production-postgres`).
    pub name: String,
}

impl SourceId {
    /// A source id.
    pub fn new(region: impl Into<String>, kind: SourceKind, name: impl Into<String>) -> SourceId {
        SourceId {
            region: region.into(),
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.kind.label(), self.name, self.region)
    }
}

/// The health a source reports about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceState {
    /// Configured, but no fetcher has reported for it: nothing is known.
    NotConnected,
    /// Connecting, first contact not yet made.
    Connecting {
        /// When the attempt started.
        since: SystemTime,
    },
    /// Data is flowing.
    Live {
        /// When the last data arrived.
        at: SystemTime,
    },
    /// The last attempt failed; what is shown is from before.
    Error {
        /// What failed, for the operator (no secrets).
        message: String,
        /// When it started failing.
        since: SystemTime,
    },
    /// Data stopped arriving; what is shown is from `since`.
    Stale {
        /// When the last good data arrived.
        since: SystemTime,
        /// What is failing now (no secrets).
        why: String,
    },
}

impl SourceState {
    /// A short word for the state.
    pub fn word(&self) -> &'static str {
        match self {
            SourceState::NotConnected => "not connected",
            SourceState::Connecting { .. } => "connecting",
            SourceState::Live { .. } => "live",
            SourceState::Error { .. } => "error",
            SourceState::Stale { .. } => "stale",
        }
    }

    /// Whether data from this source is current.
    pub fn is_live(&self) -> bool {
        matches!(self, SourceState::Live { .. })
    }

    /// What is failing, when something is.
    pub fn failure(&self) -> Option<&str> {
        match self {
            SourceState::Error { message, .. } => Some(message),
            SourceState::Stale { why, .. } => Some(why),
            _ => None,
        }
    }

    /// Whether this source is failing.
    pub fn is_failing(&self) -> bool {
        matches!(self, SourceState::Error { .. } | SourceState::Stale { .. })
    }

    /// The instant the state's age counts from, if it has one.
    pub fn since(&self) -> Option<SystemTime> {
        match self {
            SourceState::NotConnected => None,
            SourceState::Connecting { since }
            | SourceState::Error { since, .. }
            | SourceState::Stale { since, .. } => Some(*since),
            SourceState::Live { at } => Some(*at),
        }
    }
}

/// Formats an age the way panes show it: `4 s`, `12 min`, `3 h`, `2 d`.
pub fn age_label(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

/// An age in a few cells: `4s`, `12m`, `3h`, `2d`.
pub fn age_short(age: std::time::Duration) -> String {
    let s = age.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// An age shown where it would otherwise change every second: exact for
/// ten seconds, then in steps of five, ten, then minutes, so that an idle
/// screen is rewritten rarely.
pub fn age_coarse(age: std::time::Duration) -> std::time::Duration {
    let s = age.as_secs();
    let step = match s {
        0..10 => 1,
        10..30 => 5,
        30..60 => 10,
        60..3600 => 60,
        3600..86_400 => 3600,
        _ => 86_400,
    };
    std::time::Duration::from_secs(s / step * step)
}

/// An owned piece of data a source sends to the app.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// A source's own health changed.
    SourceState {
        /// Which source.
        id: SourceId,
        /// Its new state.
        state: SourceState,
    },
    /// A cluster's nodes, deployments or pods changed.
    Cluster {
        /// The cluster's source.
        id: SourceId,
        /// What changed.
        change: Box<super::cluster::ClusterChange>,
    },
    /// What an alert source read in one poll: it replaces the last.
    Alerts {
        /// Which source.
        id: SourceId,
        /// Its alerts and silences.
        snapshot: super::alert::AlertSnapshot,
    },
    /// What a database, cache or AI service reported in one poll.
    Data {
        /// Which source.
        id: SourceId,
        /// What it reported.
        status: Box<super::data::DataStatus>,
    },
    /// A database's or cache's CloudWatch series (oldest first), or why
    /// they could not be read.
    CloudWatch {
        /// The database's or cache's source.
        id: SourceId,
        /// `(metric, values)` per metric, or why they could not be read.
        series: crate::model::data::Series,
        /// When they were fetched.
        at: SystemTime,
    },
    /// A region's PromQL figures.
    Figures {
        /// The region.
        region: String,
        /// Each figure's answer.
        figures: Vec<super::data::Figure>,
    },
    /// An object fetched whole for the detail view, as YAML, or why not.
    Detail {
        /// What was asked for.
        object: super::cluster::ObjectRef,
        /// The YAML, or what failed.
        yaml: Result<String, String>,
    },
    /// Lines of a log view's stream.
    LogLines {
        /// The view.
        id: u64,
        /// A short name of the pod, when the view interleaves several.
        pod: Option<String>,
        /// The lines, without newlines.
        lines: Vec<String>,
    },
    /// A log view's stream of one pod ended.
    LogEnded {
        /// The view.
        id: u64,
        /// The pod.
        pod: String,
        /// What failed, when it did not simply end.
        why: Option<String>,
    },
    /// The runbook's drills and failovers, as the audit log has them.
    Drills(super::readiness::Drills),
    /// A cluster's node groups as their cloud reports them.
    CloudGroups {
        /// The cluster's name.
        cluster: String,
        /// The reading.
        groups: super::cluster::CloudGroups,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_an_operator_says_them() {
        assert_eq!(age_label(Duration::from_secs(4)), "4 s");
        assert_eq!(age_label(Duration::from_secs(125)), "2 min");
        assert_eq!(age_label(Duration::from_secs(3 * 3600 + 5)), "3 h");
        assert_eq!(age_label(Duration::from_secs(2 * 86_400)), "2 d");
    }
}
