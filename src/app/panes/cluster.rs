//! The Cluster pane's state: which cluster, which view (pods, deployments,
//! nodes, events), which namespace, and each view's sort.

use crate::model::cluster::{ClusterState, ClusterView, Query, Window};
use crate::model::{Command, Pane};

use super::super::App;

/// What the Cluster pane shows.
#[derive(Debug, Default)]
pub struct ClusterPane {
    view: ClusterView,
    /// `None`: all namespaces.
    namespace: Option<String>,
    /// Each view's sort, an index into its `sorts()`.
    sorts: [usize; ClusterView::ALL.len()],
    /// The cluster shown; `None`: the first configured.
    selected: Option<String>,
}

impl ClusterPane {
    fn view_index(&self) -> usize {
        ClusterView::ALL
            .iter()
            .position(|v| *v == self.view)
            .unwrap_or(0)
    }

    /// Shows `view` of all namespaces (the Alerts pane's jump).
    pub fn show(&mut self, view: ClusterView, namespace: Option<String>) {
        self.view = view;
        self.namespace = namespace;
    }

    /// Shows `view`, keeping the namespace.
    pub fn set_view(&mut self, view: ClusterView) {
        self.view = view;
    }

    /// Shows this cluster.
    pub fn select(&mut self, cluster: String) {
        self.selected = Some(cluster);
    }

    /// The cluster chosen, if one was.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }
}

impl App {
    /// The Cluster pane's own commands; whether `command` was one.
    pub(in crate::app) fn cluster_command(&mut self, command: &Command) -> bool {
        let pane = &mut self.panes.cluster;
        match command {
            Command::NextView | Command::PrevView if self.focus == Pane::Cluster => {
                pane.view = if *command == Command::NextView {
                    pane.view.next()
                } else {
                    pane.view.prev()
                };
            }
            Command::Sort if self.focus == Pane::Cluster => {
                let i = pane.view_index();
                pane.sorts[i] = (pane.sorts[i] + 1) % pane.view.sorts().len();
            }
            Command::Namespace(name) => {
                pane.namespace = (name != "all").then(|| name.clone());
            }
            Command::NextNamespace => self.next_namespace(),
            Command::NextView | Command::PrevView | Command::Sort => return true,
            _ => return false,
        }
        self.panes.cursors.remove(&Pane::Cluster);
        true
    }

    fn next_namespace(&mut self) {
        let Some(cluster) = self.selected_cluster().and_then(|n| self.store.cluster(n)) else {
            return;
        };
        let namespaces = cluster.namespaces();
        let next = match &self.panes.cluster.namespace {
            None => namespaces.first().map(|s| (*s).to_owned()),
            Some(cur) => namespaces
                .iter()
                .position(|n| n == cur)
                .and_then(|i| namespaces.get(i + 1))
                .map(|s| (*s).to_owned()),
        };
        self.panes.cluster.namespace = next;
    }

    /// The Cluster pane's view.
    pub fn cluster_view(&self) -> ClusterView {
        self.panes.cluster.view
    }

    /// The Cluster pane's rows: its view, namespace and sort.
    pub fn cluster_query(&self) -> Query<'_> {
        let pane = &self.panes.cluster;
        Query {
            view: pane.view,
            namespace: pane.namespace.as_deref(),
            sort: pane.sorts[pane.view_index()],
        }
    }

    /// `height` rows of the Cluster pane's table around `cursor`, and how
    /// many rows pass its filter.
    pub fn cluster_window<'a>(
        &self,
        cluster: &'a ClusterState,
        cursor: usize,
        height: usize,
    ) -> Window<'a> {
        let keep = |k: &str| self.filter_matches(Pane::Cluster, k);
        let filtered: Option<&dyn Fn(&str) -> bool> =
            self.filter(Pane::Cluster).map(|_| &keep as _);
        cluster.window(self.cluster_query(), filtered, cursor, height)
    }

    /// The cluster the Cluster pane shows.
    pub fn selected_cluster(&self) -> Option<&str> {
        self.panes.cluster.selected().or_else(|| {
            self.platform
                .clusters
                .first()
                .map(|c| c.name.get_ref().as_str())
        })
    }
}
