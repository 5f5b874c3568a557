//! A cluster as the console keeps it: compact rows projected from the
//! objects its watchers see (what the views show, not the objects), and the
//! summary and health the overview derives from them.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// A node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Name.
    pub name: String,
    /// Node group (EKS `eks.amazonaws.com/nodegroup`, AKS `agentpool`).
    pub group: String,
    /// `topology.kubernetes.io/zone`.
    pub zone: String,
    /// `node.kubernetes.io/instance-type`.
    pub instance_type: String,
    /// Condition Ready is True.
    pub ready: bool,
    /// Cordoned.
    pub unschedulable: bool,
    /// Taints, as `key=value:Effect`.
    pub taints: Vec<String>,
}

/// A deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// spec.replicas.
    pub desired: i32,
    /// status.readyReplicas.
    pub ready: i32,
    /// status.updatedReplicas.
    pub updated: i32,
    /// status.availableReplicas.
    pub available: i32,
    /// The first container's image.
    pub image: String,
    /// The `color` label, for blue / green.
    pub color: Option<String>,
    /// Progressing condition reason (`ProgressDeadlineExceeded` ...).
    pub progressing: Option<String>,
}

/// A pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// What kubectl's STATUS column says: Running, Pending,
    /// CrashLoopBackOff, ImagePullBackOff, Terminating ...
    pub status: String,
    /// Containers ready.
    pub ready: u16,
    /// Containers.
    pub containers: u16,
    /// Restarts, summed over containers.
    pub restarts: u32,
    /// The node it runs on.
    pub node: String,
    /// When it was created.
    pub created: Option<SystemTime>,
}

impl PodRow {
    /// Whether every container is ready.
    pub fn is_ready(&self) -> bool {
        self.containers > 0 && self.ready == self.containers
    }

    /// Whether a container is in CrashLoopBackOff.
    pub fn is_crash_looping(&self) -> bool {
        self.status == "CrashLoopBackOff"
    }
}

/// A change to one table of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub enum RowChange<T> {
    /// Every row of a namespace (or, with `None`, of the table), freshly
    /// listed: they replace what was there, and only then.
    Listed(Option<String>, Vec<T>),
    /// A row added or changed.
    Applied(T),
    /// A row gone, by key (`namespace/name`, or the name of a node).
    Deleted(String),
}

/// A change a cluster source reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterChange {
    /// Nodes.
    Nodes(RowChange<NodeRow>),
    /// Deployments.
    Deployments(RowChange<DeploymentRow>),
    /// Pods.
    Pods(RowChange<PodRow>),
}

/// A row's key in its table.
pub trait Keyed {
    /// `namespace/name`, or the name of a cluster-scoped object.
    fn key(&self) -> String;
    /// Its namespace, if it has one.
    fn namespace(&self) -> Option<&str> {
        None
    }
}

impl Keyed for NodeRow {
    fn key(&self) -> String {
        self.name.clone()
    }
}

impl Keyed for DeploymentRow {
    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    fn namespace(&self) -> Option<&str> {
        Some(&self.namespace)
    }
}

impl Keyed for PodRow {
    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
    fn namespace(&self) -> Option<&str> {
        Some(&self.namespace)
    }
}

/// What the console knows of one cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterState {
    /// Nodes by name.
    pub nodes: BTreeMap<String, NodeRow>,
    /// Deployments by `namespace/name`.
    pub deployments: BTreeMap<String, DeploymentRow>,
    /// Pods by `namespace/name`.
    pub pods: BTreeMap<String, PodRow>,
}

fn fold<T: Keyed>(table: &mut BTreeMap<String, T>, change: RowChange<T>) {
    match change {
        RowChange::Listed(scope, rows) => {
            match scope {
                Some(ns) => table.retain(|_, r| r.namespace() != Some(ns.as_str())),
                None => table.clear(),
            }
            table.extend(rows.into_iter().map(|r| (r.key(), r)));
        }
        RowChange::Applied(row) => {
            table.insert(row.key(), row);
        }
        RowChange::Deleted(key) => {
            table.remove(&key);
        }
    }
}

/// How healthy something looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// Nothing known.
    Unknown,
    /// Fine.
    Ok,
    /// Needs a look.
    Warn,
    /// Needs action.
    Crit,
}

impl Health {
    /// The word shown.
    pub fn word(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Warn => "degraded",
            Health::Crit => "failing",
        }
    }
}

/// The overview's figures for a cluster, and the reason for its health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSummary {
    /// Nodes Ready.
    pub nodes_ready: usize,
    /// Nodes.
    pub nodes: usize,
    /// Deployments with every desired replica available.
    pub deployments_available: usize,
    /// Deployments.
    pub deployments: usize,
    /// Pods.
    pub pods: usize,
    /// Pods not ready (not counting completed ones).
    pub pods_not_ready: usize,
    /// Pods crash-looping.
    pub crash_looping: usize,
    /// The worst health, and why.
    pub health: (Health, String),
}

impl ClusterState {
    /// Folds a change in.
    pub fn apply(&mut self, change: ClusterChange) {
        match change {
            ClusterChange::Nodes(c) => fold(&mut self.nodes, c),
            ClusterChange::Deployments(c) => fold(&mut self.deployments, c),
            ClusterChange::Pods(c) => fold(&mut self.pods, c),
        }
    }

    /// The overview's figures. The worst rule decides the health and says why.
    pub fn summary(&self) -> ClusterSummary {
        let nodes_ready = self.nodes.values().filter(|n| n.ready).count();
        let deployments_available = self
            .deployments
            .values()
            .filter(|d| d.available >= d.desired)
            .count();
        let live = |p: &&PodRow| p.status != "Completed" && p.status != "Succeeded";
        let pods_not_ready = self
            .pods
            .values()
            .filter(live)
            .filter(|p| !p.is_ready())
            .count();
        let crash_looping = self.pods.values().filter(|p| p.is_crash_looping()).count();
        let stalled = self
            .deployments
            .values()
            .filter(|d| d.progressing.as_deref() == Some("ProgressDeadlineExceeded"))
            .count();
        let health = if self.nodes.is_empty() && self.pods.is_empty() {
            (Health::Unknown, "nothing listed yet".to_owned())
        } else if nodes_ready < self.nodes.len() {
            (
                Health::Crit,
                format!("{} node(s) not ready", self.nodes.len() - nodes_ready),
            )
        } else if crash_looping > 0 {
            (
                Health::Crit,
                format!("{crash_looping} pod(s) crash-looping"),
            )
        } else if stalled > 0 {
            (
                Health::Crit,
                format!("{stalled} rollout(s) past their progress deadline"),
            )
        } else if deployments_available < self.deployments.len() {
            (
                Health::Warn,
                format!(
                    "{} deployment(s) below desired",
                    self.deployments.len() - deployments_available
                ),
            )
        } else if pods_not_ready > 0 {
            (Health::Warn, format!("{pods_not_ready} pod(s) not ready"))
        } else {
            (
                Health::Ok,
                "all nodes, deployments and pods ready".to_owned(),
            )
        };
        ClusterSummary {
            nodes_ready,
            nodes: self.nodes.len(),
            deployments_available,
            deployments: self.deployments.len(),
            pods: self.pods.len(),
            pods_not_ready,
            crash_looping,
            health,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, status: &str, ready: u16) -> PodRow {
        PodRow {
            namespace: "p".into(),
            name: name.into(),
            status: status.into(),
            ready,
            containers: 1,
            restarts: 0,
            node: "n".into(),
            created: None,
        }
    }

    #[test]
    fn a_relist_replaces_and_the_worst_rule_wins() {
        let mut c = ClusterState::default();
        c.apply(ClusterChange::Pods(RowChange::Listed(
            None,
            vec![pod("a", "Running", 1), pod("b", "Running", 1)],
        )));
        assert_eq!(c.summary().health.0, Health::Ok);
        c.apply(ClusterChange::Pods(RowChange::Applied(pod(
            "b",
            "CrashLoopBackOff",
            0,
        ))));
        let s = c.summary();
        assert_eq!((s.crash_looping, s.pods_not_ready), (1, 1));
        assert_eq!(s.health, (Health::Crit, "1 pod(s) crash-looping".into()));
        c.apply(ClusterChange::Pods(RowChange::Deleted("p/b".into())));
        c.apply(ClusterChange::Pods(RowChange::Listed(
            Some("p".into()),
            vec![pod("c", "Pending", 0)],
        )));
        assert_eq!(c.pods.keys().collect::<Vec<_>>(), ["p/c"]);
        assert_eq!(c.summary().health.0, Health::Warn);
    }
}

/// The tables of the Cluster pane.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClusterView {
    /// Pods.
    #[default]
    Pods,
    /// Deployments.
    Deployments,
    /// Nodes, by node group.
    Nodes,
}

impl ClusterView {
    /// Every view, in tab order.
    pub const ALL: [ClusterView; 3] = [
        ClusterView::Pods,
        ClusterView::Deployments,
        ClusterView::Nodes,
    ];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            ClusterView::Pods => "Pods",
            ClusterView::Deployments => "Deployments",
            ClusterView::Nodes => "Nodes",
        }
    }

    /// The next view, wrapping around.
    #[must_use]
    pub fn next(self) -> ClusterView {
        let i = ClusterView::ALL
            .iter()
            .position(|v| *v == self)
            .unwrap_or(0);
        ClusterView::ALL[(i + 1) % ClusterView::ALL.len()]
    }

    /// The previous view, wrapping around.
    #[must_use]
    pub fn prev(self) -> ClusterView {
        let i = ClusterView::ALL
            .iter()
            .position(|v| *v == self)
            .unwrap_or(0);
        ClusterView::ALL[(i + ClusterView::ALL.len() - 1) % ClusterView::ALL.len()]
    }
}

impl ClusterState {
    /// The keys of the view's rows that pass `keep` on any column an
    /// operator reads (name, status, node, image, colour, group, zone,
    /// type), in table order: nodes by group then name, others by
    /// namespace then name.
    pub fn keys(&self, view: ClusterView, keep: &dyn Fn(&str) -> bool) -> Vec<&str> {
        match view {
            ClusterView::Pods => self
                .pods
                .iter()
                .filter(|(k, p)| keep(k) || keep(&p.status) || keep(&p.node))
                .map(|(k, _)| k.as_str())
                .collect(),
            ClusterView::Deployments => self
                .deployments
                .iter()
                .filter(|(k, d)| keep(k) || keep(&d.image) || d.color.as_deref().is_some_and(keep))
                .map(|(k, _)| k.as_str())
                .collect(),
            ClusterView::Nodes => {
                let mut nodes: Vec<&NodeRow> = self
                    .nodes
                    .values()
                    .filter(|n| {
                        keep(&n.name) || keep(&n.group) || keep(&n.zone) || keep(&n.instance_type)
                    })
                    .collect();
                nodes.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name)));
                nodes.into_iter().map(|n| n.name.as_str()).collect()
            }
        }
    }
}
