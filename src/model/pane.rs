//! The nine panes of the console and their stable names.

use serde::{Deserialize, Serialize};

/// A pane of the console, reachable from the pane bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pane {
    /// Regions side by side: a cell per cluster, database, cache and service.
    Overview,
    /// One cluster's nodes, deployments, pods and events.
    Cluster,
    /// Databases and caches of every region.
    Data,
    /// AI services: health, readiness, latency, accuracy.
    Ai,
    /// Rollout state, revisions and blue / green colours.
    Rollouts,
    /// Region roles and the failover runbook.
    Failover,
    /// HPAs, replicas and node groups.
    Scaling,
    /// Firing and pending alerts of every region.
    Alerts,
    /// The executor's queue and the audit log.
    Jobs,
}

impl Pane {
    /// Every pane, in pane-bar order.
    pub const ALL: [Pane; 9] = [
        Pane::Overview,
        Pane::Cluster,
        Pane::Data,
        Pane::Ai,
        Pane::Rollouts,
        Pane::Failover,
        Pane::Scaling,
        Pane::Alerts,
        Pane::Jobs,
    ];

    /// The name used in keymaps and on the command line (`:overview`).
    pub fn name(self) -> &'static str {
        match self {
            Pane::Overview => "overview",
            Pane::Cluster => "cluster",
            Pane::Data => "data",
            Pane::Ai => "ai",
            Pane::Rollouts => "rollouts",
            Pane::Failover => "failover",
            Pane::Scaling => "scaling",
            Pane::Alerts => "alerts",
            Pane::Jobs => "jobs",
        }
    }

    /// Looks a pane up by its keymap / command-line name.
    pub fn from_name(name: &str) -> Option<Pane> {
        Pane::ALL.into_iter().find(|p| p.name() == name)
    }

    /// Whether the pane shows a table that `/` can filter.
    pub fn has_table(self) -> bool {
        !matches!(self, Pane::Overview | Pane::Failover)
    }

    /// Position in the pane bar, from 0.
    pub fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    /// The next pane in the bar, wrapping around.
    #[must_use]
    pub fn next(self) -> Pane {
        Pane::ALL[(self.index() + 1) % Pane::ALL.len()]
    }

    /// The previous pane in the bar, wrapping around.
    #[must_use]
    pub fn prev(self) -> Pane {
        Pane::ALL[(self.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

impl std::fmt::Display for Pane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_wrap() {
        for p in Pane::ALL {
            assert_eq!(Pane::from_name(p.name()), Some(p));
        }
        assert_eq!(Pane::Jobs.next(), Pane::Overview);
        assert_eq!(Pane::Overview.prev(), Pane::Jobs);
    }
}
