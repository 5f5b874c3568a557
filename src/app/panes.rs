//! Per-pane state and the two questions every pane answers: how many rows
//! the selection moves over, and what Enter opens. Both are exhaustive
//! matches on [`Pane`], so a new pane makes the compiler ask for its arms.

pub mod alerts;
pub mod cluster;

use std::collections::BTreeMap;

use crate::model::Pane;
use crate::model::cluster::{ClusterView, DeploymentRow, ObjectRef};

use super::App;
use super::effect::Effect;
use super::overlay::Overlay;

/// The state of every pane that keeps one.
#[derive(Debug, Default)]
pub struct Panes {
    /// Each pane's selected row.
    pub cursors: BTreeMap<Pane, usize>,
    /// The Cluster pane.
    pub cluster: cluster::ClusterPane,
    /// The Alerts pane.
    pub alerts: alerts::AlertsPane,
}

impl App {
    /// Rows the pane's selection moves over.
    pub(in crate::app) fn rows(&self, pane: Pane) -> usize {
        match pane {
            Pane::Overview => self.platform.clusters.len(),
            Pane::Jobs => self.jobs.rows().len(),
            Pane::Cluster => self
                .selected_cluster()
                .and_then(|c| self.store.cluster(c))
                .map_or(0, |c| self.cluster_window(c, 0, 0).total),
            Pane::Rollouts => self.rollout_rows().len(),
            Pane::Alerts => self.visible_alerts().len(),
            Pane::Data | Pane::Ai | Pane::Failover | Pane::Scaling => 0,
        }
    }

    /// Enter on the focused pane's selected row.
    pub(in crate::app) fn select(&mut self) {
        let object = match self.focus {
            Pane::Overview => {
                if let Some(cluster) = self.platform.clusters.get(self.cursor(Pane::Overview)) {
                    self.panes.cluster.select(cluster.name.get_ref().clone());
                    self.focus = Pane::Cluster;
                    self.panes.cursors.remove(&Pane::Cluster);
                }
                return;
            }
            Pane::Cluster => self.selected_cluster().and_then(|name| {
                let cursor = self.cursor(Pane::Cluster);
                let window = self.cluster_window(self.store.cluster(name)?, cursor, 1);
                let key = window.keys.first()?;
                let kind = match self.cluster_view() {
                    ClusterView::Pods => "Pod",
                    ClusterView::Deployments => "Deployment",
                    ClusterView::Nodes => "Node",
                    ClusterView::Events => "Event",
                };
                Some(ObjectRef::from_key(name, kind, key))
            }),
            Pane::Alerts => {
                if let Some(a) = self.visible_alerts().get(self.cursor(Pane::Alerts)) {
                    let fingerprint = a.fingerprint.clone();
                    self.input.push(Overlay::Alert {
                        fingerprint,
                        scroll: 0,
                    });
                }
                return;
            }
            Pane::Rollouts => {
                self.rollout_rows()
                    .get(self.cursor(Pane::Rollouts))
                    .map(|(cluster, d)| ObjectRef {
                        cluster: (*cluster).to_owned(),
                        kind: "Deployment",
                        namespace: Some(d.namespace.clone()),
                        name: d.name.clone(),
                    })
            }
            Pane::Data | Pane::Ai | Pane::Failover | Pane::Scaling | Pane::Jobs => None,
        };
        let Some(object) = object else {
            return;
        };
        self.effects.push(Effect::FetchDetail(object.clone()));
        self.input.push(Overlay::Detail {
            object,
            text: None,
            scroll: 0,
        });
    }

    /// The Rollouts pane's deployments: every cluster's, in configured
    /// order, those passing the pane's filter (on name, image or colour).
    pub fn rollout_rows(&self) -> Vec<(&str, &DeploymentRow)> {
        self.platform
            .clusters
            .iter()
            .filter_map(|c| {
                let name = c.name.get_ref().as_str();
                self.store.cluster(name).map(|s| (name, s))
            })
            .flat_map(|(name, s)| {
                s.deployments
                    .iter()
                    .filter(|(k, d)| {
                        self.filter_matches(Pane::Rollouts, k)
                            || self.filter_matches(Pane::Rollouts, &d.image)
                            || d.color
                                .as_deref()
                                .is_some_and(|c| self.filter_matches(Pane::Rollouts, c))
                    })
                    .map(move |(_, d)| (name, d))
            })
            .collect()
    }
}
