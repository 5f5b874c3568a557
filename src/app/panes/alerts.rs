//! The Alerts pane's state and behaviour: which critical alerts the
//! operator has seen, the filtered rows, and the jump to what an alert is
//! about.

use std::collections::BTreeSet;

use crate::model::Pane;
use crate::model::alert::{self, AlertFilter, AlertRow, Target};
use crate::model::cluster::ClusterView;

use super::super::App;
use super::super::notices::Level;

/// What the Alerts pane remembers.
#[derive(Debug, Default)]
pub struct AlertsPane {
    /// Critical alerts the operator has seen (the Alerts pane was shown
    /// while they fired), by fingerprint.
    seen: BTreeSet<String>,
}

impl App {
    /// With the Alerts pane shown, every critical alert firing is seen.
    pub(in crate::app) fn mark_seen(&mut self) {
        if self.focus != Pane::Alerts {
            return;
        }
        let fresh: Vec<String> = self
            .alert_rows()
            .iter()
            .filter(|a| a.rank() == 0)
            .map(|a| a.fingerprint.clone())
            .collect();
        self.panes.alerts.seen.extend(fresh);
    }

    /// Whether a critical alert has not been seen yet.
    pub fn is_new(&self, a: &AlertRow) -> bool {
        a.rank() == 0 && !self.panes.alerts.seen.contains(&a.fingerprint)
    }

    /// The Alerts pane's rows: [`App::alert_rows`] through its filter
    /// (`team=ai severity=critical text`).
    pub fn visible_alerts(&self) -> Vec<&AlertRow> {
        let filter = AlertFilter::parse(self.filter(Pane::Alerts).unwrap_or(""));
        self.alert_rows()
            .into_iter()
            .filter(|a| filter.matches(a))
            .collect()
    }

    /// An alert by fingerprint.
    pub fn alert(&self, fingerprint: &str) -> Option<&AlertRow> {
        self.alert_rows()
            .into_iter()
            .find(|a| a.fingerprint == fingerprint)
    }

    /// Opens the pane that shows what the selected alert is about,
    /// filtered to it.
    pub(in crate::app) fn jump(&mut self) {
        if self.focus != Pane::Alerts {
            return;
        }
        let Some(a) = self
            .visible_alerts()
            .get(self.cursor(Pane::Alerts))
            .map(|a| (*a).clone())
        else {
            return;
        };
        let p = &self.platform;
        let databases: Vec<&str> = p
            .databases
            .iter()
            .map(|d| d.name.get_ref().as_str())
            .chain(p.caches.iter().map(|c| c.name.get_ref().as_str()))
            .collect();
        let ai: Vec<&str> = p
            .ai_services
            .iter()
            .map(|a| a.name.get_ref().as_str())
            .collect();
        let Some(target) = alert::target(&a, &databases, &ai) else {
            let said = self.said("msg-jump-no-target", &[("alert", &a.name)], &[]);
            self.notices
                .say_shown(Level::Info, &said.english, said.shown);
            return;
        };
        let cluster = p
            .clusters
            .iter()
            .find(|c| c.region.get_ref() == &a.region)
            .map(|c| c.name.get_ref().clone());
        let cluster_pane = &mut self.panes.cluster;
        let (pane, filter) = match target {
            Target::Pod(namespace, pod) => {
                cluster_pane.show(ClusterView::Pods, namespace);
                (Pane::Cluster, pod)
            }
            Target::Workload(name) => {
                cluster_pane.show(ClusterView::Deployments, None);
                (Pane::Cluster, name)
            }
            Target::Node(name) => {
                cluster_pane.set_view(ClusterView::Nodes);
                (Pane::Cluster, name)
            }
            Target::Data(name) => (Pane::Data, name),
            Target::Ai(name) => (Pane::Ai, name),
        };
        if pane == Pane::Cluster
            && let Some(cluster) = cluster
        {
            cluster_pane.select(cluster);
        }
        self.focus = pane;
        // Escaped as a regex, but names read as typed (`-` needs no escape).
        self.filters
            .set(pane, regex::escape(&filter).replace("\\-", "-"));
        self.panes.cursors.remove(&pane);
    }
}
