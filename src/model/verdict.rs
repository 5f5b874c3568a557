//! What a cell may say: the health of its data qualified by what is known
//! of it. A verdict from a source that is stale or failing is "last known",
//! never current; a source not heard from yet knows nothing; a firing alert
//! about the thing makes its cell at least as bad as the alert says. A
//! region's verdict is the worst of its cells, with the reasons.

use std::time::SystemTime;

use super::SourceState;
use super::cluster::Health;

/// How much is known of what a cell shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// Read from a live source.
    Current,
    /// Last read before the source stopped answering or started failing.
    Stale {
        /// Since when its source has been failing.
        since: Option<SystemTime>,
        /// What is failing.
        why: String,
    },
    /// Never read: the source is not connected or still connecting.
    NotYet(&'static str),
}

/// A cell's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The health its data shows (the last known, when stale).
    pub health: Health,
    /// Why, for the operator.
    pub why: String,
    /// How much of it is known.
    pub known: Known,
    /// Firing alerts about it: name and how bad, the worst first.
    pub alerts: Vec<(String, Health)>,
}

/// The order of a region's states, for the worst of its cells: nothing
/// known, ok, starting, pending, unknown because a source fails, degraded,
/// failing. A source that cannot be read outranks what is merely pending:
/// the operator must know the screen is blind there.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// No source has reported yet.
    Unknown,
    /// Everything known is fine.
    Ok,
    /// Pods starting.
    Starting,
    /// A threshold crossed, not yet long enough.
    Pending,
    /// A source is stale or failing: part of the region is not known.
    Stale,
    /// Degraded.
    #[serde(rename = "degraded")]
    Warn,
    /// Failing.
    #[serde(rename = "failing")]
    Crit,
}

impl Level {
    /// The word shown.
    pub fn word(self) -> &'static str {
        match self {
            Level::Unknown => "unknown",
            Level::Ok => "ok",
            Level::Starting => "starting",
            Level::Pending => "pending",
            Level::Stale => "stale",
            Level::Warn => "degraded",
            Level::Crit => "failing",
        }
    }

    /// The level a health reads as.
    pub fn of(health: Health) -> Level {
        match health {
            Health::Unknown => Level::Unknown,
            Health::Ok => Level::Ok,
            Health::Starting => Level::Starting,
            Health::Pending => Level::Pending,
            Health::Warn => Level::Warn,
            Health::Crit => Level::Crit,
        }
    }
}

impl Verdict {
    /// The verdict of `data` (its health and why; `None`: nothing read)
    /// as read by a source in `state`.
    pub fn judge(state: &SourceState, data: Option<(Health, String)>) -> Verdict {
        let (health, why) = data.unwrap_or((Health::Unknown, "nothing read yet".to_owned()));
        let known = match state {
            SourceState::Live { .. } => Known::Current,
            SourceState::NotConnected => Known::NotYet("not connected yet"),
            SourceState::Connecting { .. } => Known::NotYet("connecting"),
            SourceState::Error { message, since } => Known::Stale {
                since: Some(*since),
                why: message.clone(),
            },
            SourceState::Stale { since, why } => Known::Stale {
                since: Some(*since),
                why: why.clone(),
            },
        };
        Verdict {
            health,
            why,
            known,
            alerts: Vec::new(),
        }
    }

    /// The verdict with the firing alerts about its thing: a critical one
    /// makes it failing, a warning one degraded, whatever the data says.
    #[must_use]
    pub fn with_alerts(mut self, mut alerts: Vec<(String, Health)>) -> Verdict {
        alerts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        alerts.dedup();
        self.alerts = alerts;
        self
    }

    /// The worst health its alerts give.
    pub fn alert_health(&self) -> Option<Health> {
        self.alerts.iter().map(|(_, h)| *h).max()
    }

    /// Where it ranks in its region.
    pub fn level(&self) -> Level {
        let data = match self.known {
            Known::Current => Level::of(self.health),
            // What it last knew still counts: a failing cell whose source
            // then stops answering does not look better for it.
            Known::Stale { .. } => Level::Stale.max(Level::of(self.health)),
            Known::NotYet(_) => Level::Unknown,
        };
        data.max(self.alert_health().map_or(Level::Unknown, Level::of))
    }

    /// The reason it gives at its level, naming `what` it is about.
    pub fn reason(&self, what: &str) -> String {
        let alerting = self
            .alert_health()
            .is_some_and(|h| Level::of(h) >= self.level());
        if alerting {
            let names: Vec<&str> = self.alerts.iter().map(|(n, _)| n.as_str()).collect();
            return format!("{what}: {} firing", names.join(", "));
        }
        match &self.known {
            Known::Stale { why, .. } => format!("{what}: {why}"),
            Known::NotYet(why) => format!("{what} {why}"),
            Known::Current => format!("{what} {}", self.why),
        }
    }
}

/// A region's verdict: its level, and the reasons of its worst cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionVerdict {
    /// The worst level of its cells.
    pub level: Level,
    /// Why, worst first: at most a few.
    pub reasons: Vec<String>,
}

/// The region's verdict from its cells (`(what, verdict)`), and its firing
/// alerts by severity (critical, warning) when known.
pub fn region(cells: &[(String, Verdict)], alerts: Option<(usize, usize)>) -> RegionVerdict {
    let mut ranked: Vec<(Level, String)> = cells
        .iter()
        .map(|(what, v)| (v.level(), v.reason(what)))
        .filter(|(l, _)| *l > Level::Ok)
        .collect();
    if let Some((crit, warn)) = alerts {
        if crit > 0 {
            ranked.push((Level::Crit, plural(crit, "critical alert")));
        } else if warn > 0 {
            ranked.push((Level::Warn, plural(warn, "warning alert")));
        }
    }
    // Worst first; among equals, in the order of the cells.
    ranked.sort_by_key(|(l, _)| std::cmp::Reverse(*l));
    let unread = cells
        .iter()
        .filter(|(_, v)| v.level() == Level::Unknown)
        .count();
    let level = match ranked.first() {
        Some((l, _)) => *l,
        // Nothing wrong known, but not everything known: never "ok".
        None if unread > 0 => {
            ranked.push((
                Level::Unknown,
                format!("{unread} of {} not read yet", plural(cells.len(), "source")),
            ));
            Level::Unknown
        }
        None => Level::Ok,
    };
    RegionVerdict {
        level,
        reasons: ranked.into_iter().map(|(_, r)| r).collect(),
    }
}

/// `n thing` or `n things`.
pub fn plural(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> SourceState {
        SourceState::Live {
            at: SystemTime::UNIX_EPOCH,
        }
    }

    fn stale() -> SourceState {
        SourceState::Stale {
            since: SystemTime::UNIX_EPOCH,
            why: "API not answering".into(),
        }
    }

    #[test]
    fn a_green_verdict_from_a_stale_source_is_stale_not_ok() {
        let v = Verdict::judge(&stale(), Some((Health::Ok, "all ready".into())));
        assert_eq!(v.level(), Level::Stale);
        assert_eq!(v.reason("eks-tokyo"), "eks-tokyo: API not answering");
        let fresh = Verdict::judge(&live(), Some((Health::Ok, "all ready".into())));
        assert_eq!(fresh.level(), Level::Ok);
        let never = Verdict::judge(&SourceState::NotConnected, None);
        assert_eq!(never.level(), Level::Unknown);
        // A failing cell whose source stops answering does not look better.
        let was_failing =
            Verdict::judge(&stale(), Some((Health::Crit, "2 node(s) not ready".into())));
        assert_eq!(was_failing.level(), Level::Crit);
    }

    #[test]
    fn a_critical_alert_makes_a_healthy_cell_failing_and_is_named() {
        let v = Verdict::judge(&live(), Some((Health::Ok, "4/4 ready".into())))
            .with_alerts(vec![("ServiceDown".into(), Health::Crit)]);
        assert_eq!(v.level(), Level::Crit);
        assert_eq!(v.reason("web-frontend"), "web-frontend: ServiceDown firing");
    }

    #[test]
    fn the_region_is_its_worst_cell_and_says_why() {
        let cells = vec![
            (
                "eks-tokyo".to_owned(),
                Verdict::judge(&stale(), Some((Health::Ok, "ok".into()))),
            ),
            (
                "postgres".to_owned(),
                Verdict::judge(&live(), Some((Health::Crit, "not answering".into()))),
            ),
            (
                "redis".to_owned(),
                Verdict::judge(&live(), Some((Health::Ok, "ok".into()))),
            ),
        ];
        let r = region(&cells, Some((4, 1)));
        assert_eq!(r.level, Level::Crit);
        assert_eq!(
            r.reasons,
            [
                "postgres not answering",
                "4 critical alerts",
                "eks-tokyo: API not answering"
            ]
        );
        let calm = region(&cells[2..], Some((0, 0)));
        assert_eq!((calm.level, calm.reasons.len()), (Level::Ok, 0));
        let blind = region(&cells[..1], None);
        assert_eq!(blind.level, Level::Stale);
    }
}
