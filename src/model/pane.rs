//! The nine panes of the console and their stable names, derived once
//! (strum) from the enum: the pane bar's order is the declaration order.

use serde::{Deserialize, Serialize};
use strum::VariantArray as _;

/// A pane of the console, reachable from the pane bar.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Pane {
    /// Regions side by side: a cell per cluster, database, cache and service.
    #[default]
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
    pub const ALL: &'static [Pane] = Pane::VARIANTS;

    /// The name used in keymaps and on the command line (`:overview`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Looks a pane up by its keymap / command-line name.
    pub fn from_name(name: &str) -> Option<Pane> {
        name.parse().ok()
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
        for &p in Pane::ALL {
            assert_eq!(Pane::from_name(p.name()), Some(p));
        }
        assert_eq!(Pane::Jobs.next(), Pane::Overview);
        assert_eq!(Pane::Overview.prev(), Pane::Jobs);
    }
}
