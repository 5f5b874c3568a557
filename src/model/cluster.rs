//! A cluster as the console keeps it: compact rows projected from the
//! objects its watchers see (what the views show, not the objects), and the
//! summary and health the overview derives from them.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

/// A node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// Allocatable CPU and memory (what pods may request), in millicores
    /// and bytes (0 where unreadable).
    pub allocatable: (u64, u64),
}

impl NodeRow {
    /// Allocatable CPU in cores and memory in GiB, to two and one
    /// decimals, trailing zeros dropped: `1.93/7.1Gi`, `4/16Gi`.
    pub fn allocatable_text(&self) -> String {
        fn trimmed(s: String) -> String {
            if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            } else {
                s
            }
        }
        let (millis, bytes) = self.allocatable;
        // Hundredths of a core, rounded.
        let hundredths = (millis + 5) / 10;
        let cores = format!("{}.{:02}", hundredths / 100, hundredths % 100);
        // Tenths of a GiB, rounded.
        let tenths = (bytes.saturating_mul(10) + (1 << 29)) >> 30;
        let gib = format!("{}.{}", tenths / 10, tenths % 10);
        format!("{}/{}Gi", trimmed(cores), trimmed(gib))
    }
}

/// A deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// status.replicas: pods of every revision.
    pub replicas: i32,
    /// metadata.generation.
    pub generation: i64,
    /// status.observedGeneration.
    pub observed_generation: i64,
    /// The `app` label: the release a colour belongs to.
    pub app: Option<String>,
    /// The `deployment.kubernetes.io/revision` annotation.
    pub revision: Option<u32>,
    /// When it was created.
    pub created: Option<SystemTime>,
    /// The pod template's `kubectl.kubernetes.io/restartedAt` annotation:
    /// when a rollout restart last asked for new pods.
    pub restarted_at: Option<String>,
    /// What one pod requests, summed over its containers: millicores of
    /// CPU and bytes of memory.
    pub requests: (u64, u64),
}

/// A pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// How long after its creation it may take to become ready (a minute,
    /// and its probes' delays) before not being ready means something.
    pub startup: Duration,
    /// Its labels, for matching Service selectors.
    pub labels: Vec<(String, String)>,
    /// The ports its containers declare, in order (what `F` offers to
    /// forward).
    pub ports: Vec<u16>,
    /// Its containers' names, in order (what `c` in its log view cycles).
    pub container_names: Vec<String>,
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

    /// Until when it is starting: not ready, never restarted, in a phase
    /// of a start (not an image pull error, not a crash loop), within its
    /// start-up allowance. `None` if it is not starting.
    pub fn starting_until(&self) -> Option<SystemTime> {
        let in_start = matches!(
            self.status.as_str(),
            "Pending" | "ContainerCreating" | "PodInitializing" | "Running"
        );
        if self.is_ready() && self.containers > 0 || self.restarts > 0 || !in_start {
            return None;
        }
        self.created.map(|c| c + self.startup)
    }

    /// Whether it is starting at `now`.
    pub fn is_starting(&self, now: SystemTime) -> bool {
        self.starting_until().is_some_and(|until| now < until)
    }
}

impl PodRow {
    /// Whether every `key=value` of `selector` is among its labels.
    pub fn matches(&self, selector: &[(String, String)]) -> bool {
        selector
            .iter()
            .all(|(k, v)| self.labels.iter().any(|(lk, lv)| lk == k && lv == v))
    }
}

/// A ReplicaSet: one revision of a deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaSetRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The deployment that owns it.
    pub owner: Option<String>,
    /// The `deployment.kubernetes.io/revision` annotation.
    pub revision: Option<u32>,
    /// The first container's image.
    pub image: String,
    /// spec.replicas.
    pub desired: i32,
    /// status.readyReplicas.
    pub ready: i32,
    /// When it was created.
    pub created: Option<SystemTime>,
}

/// A Service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The `app` label.
    pub app: Option<String>,
    /// spec.selector, sorted by key.
    pub selector: Vec<(String, String)>,
}

impl ServiceRow {
    /// The value its selector requires for `key`.
    pub fn selects(&self, key: &str) -> Option<&str> {
        self.selector
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Current and target utilisation of one resource, in percent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Utilisation {
    /// Measured.
    pub current: Option<i32>,
    /// Aimed at.
    pub target: Option<i32>,
}

/// A HorizontalPodAutoscaler (autoscaling/v2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HpaRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// scaleTargetRef.kind.
    pub target_kind: String,
    /// scaleTargetRef.name.
    pub target: String,
    /// spec.minReplicas (1 when unset).
    pub min: i32,
    /// spec.maxReplicas.
    pub max: i32,
    /// status.currentReplicas.
    pub current: i32,
    /// status.desiredReplicas.
    pub desired: i32,
    /// CPU utilisation.
    pub cpu: Utilisation,
    /// Memory utilisation.
    pub memory: Utilisation,
    /// status.lastScaleTime.
    pub last_scale: Option<SystemTime>,
    /// Conditions in a bad state (AbleToScale or ScalingActive not True,
    /// ScalingLimited True), as `Type Status: Reason`.
    pub failing: Vec<String>,
}

/// An Event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Normal or Warning.
    pub warning: bool,
    /// Reason (`BackOff`, `ScalingReplicaSet` ...).
    pub reason: String,
    /// The object it is about, as `Kind/name`.
    pub object: String,
    /// Message.
    pub message: String,
    /// How many times it happened.
    pub count: i32,
    /// When it last happened.
    pub last: Option<SystemTime>,
}

/// A ConfigMap, as a hash of its data (enough to tell two regions apart).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigMapRow {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Keys in data and binaryData.
    pub keys: usize,
    /// A hash of data and binaryData.
    pub hash: u64,
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
    /// ReplicaSets.
    ReplicaSets(RowChange<ReplicaSetRow>),
    /// Services.
    Services(RowChange<ServiceRow>),
    /// HPAs.
    Hpas(RowChange<HpaRow>),
    /// Events.
    Events(RowChange<EventRow>),
    /// ConfigMaps.
    ConfigMaps(RowChange<ConfigMapRow>),
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

macro_rules! namespaced {
    ($($row:ty),*) => {$(
        impl Keyed for $row {
            fn key(&self) -> String {
                format!("{}/{}", self.namespace, self.name)
            }
            fn namespace(&self) -> Option<&str> {
                Some(&self.namespace)
            }
        }
    )*};
}

namespaced!(
    DeploymentRow,
    PodRow,
    ReplicaSetRow,
    ServiceRow,
    HpaRow,
    EventRow,
    ConfigMapRow
);

/// At most this many events are kept per cluster, the newest.
pub const EVENTS_KEPT: usize = 1000;

/// What the console knows of one cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterState {
    /// Nodes by name.
    pub nodes: BTreeMap<String, NodeRow>,
    /// Deployments by `namespace/name`.
    pub deployments: BTreeMap<String, DeploymentRow>,
    /// Pods by `namespace/name`.
    pub pods: BTreeMap<String, PodRow>,
    /// ReplicaSets by `namespace/name`.
    pub replica_sets: BTreeMap<String, ReplicaSetRow>,
    /// Services by `namespace/name`.
    pub services: BTreeMap<String, ServiceRow>,
    /// HPAs by `namespace/name`.
    pub hpas: BTreeMap<String, HpaRow>,
    /// The newest [`EVENTS_KEPT`] events by `namespace/name`.
    pub events: BTreeMap<String, EventRow>,
    /// ConfigMaps by `namespace/name`.
    pub config_maps: BTreeMap<String, ConfigMapRow>,
    /// The summary, computed once per change (the overview reads it every
    /// frame; at 10,000 pods walking them each time would cost the budget),
    /// and until when it holds (a starting pod's allowance running out
    /// changes it without any change of the rows).
    summary: RefCell<Option<(ClusterSummary, Option<SystemTime>)>>,
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
    /// Pods within their start-up: not ready yet, not failing either.
    Starting,
    /// A threshold crossed, not yet for long enough to count.
    Pending,
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
            Health::Starting => "starting",
            Health::Pending => "pending",
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
    /// Of those, pods within their start-up allowance.
    pub pods_starting: usize,
    /// Pods crash-looping.
    pub crash_looping: usize,
    /// The worst health, and why.
    pub health: (Health, String),
}

impl ClusterState {
    /// Folds a change in.
    pub fn apply(&mut self, change: ClusterChange) {
        self.summary = RefCell::new(None);
        match change {
            ClusterChange::Nodes(c) => fold(&mut self.nodes, c),
            ClusterChange::Deployments(c) => fold(&mut self.deployments, c),
            ClusterChange::Pods(c) => fold(&mut self.pods, c),
            ClusterChange::ReplicaSets(c) => fold(&mut self.replica_sets, c),
            ClusterChange::Services(c) => fold(&mut self.services, c),
            ClusterChange::Hpas(c) => fold(&mut self.hpas, c),
            ClusterChange::Events(c) => {
                fold(&mut self.events, c);
                self.trim_events();
            }
            ClusterChange::ConfigMaps(c) => fold(&mut self.config_maps, c),
        }
    }

    /// Drops the oldest events beyond [`EVENTS_KEPT`] (a tenth more is
    /// allowed first, so trimming is not paid on every event).
    fn trim_events(&mut self) {
        if self.events.len() <= EVENTS_KEPT + EVENTS_KEPT / 10 {
            return;
        }
        let mut by_age: Vec<(Option<SystemTime>, String)> = self
            .events
            .iter()
            .map(|(k, e)| (e.last, k.clone()))
            .collect();
        by_age.sort();
        let excess = self.events.len() - EVENTS_KEPT;
        for (_, key) in by_age.into_iter().take(excess) {
            self.events.remove(&key);
        }
    }

    /// Every namespace any of its namespaced rows is in, sorted.
    pub fn namespaces(&self) -> Vec<&str> {
        let mut set: BTreeSet<&str> = BTreeSet::new();
        set.extend(self.deployments.values().map(|d| d.namespace.as_str()));
        set.extend(self.pods.values().map(|p| p.namespace.as_str()));
        set.extend(self.events.values().map(|e| e.namespace.as_str()));
        set.into_iter().collect()
    }

    /// The overview's figures at `now`, computed once after each change
    /// (and again when a starting pod's allowance runs out).
    pub fn summary(&self, now: SystemTime) -> ClusterSummary {
        let mut cached = self.summary.borrow_mut();
        match &*cached {
            Some((s, until)) if until.is_none_or(|u| now < u) => s.clone(),
            _ => {
                let fresh = self.compute_summary(now);
                let s = fresh.0.clone();
                *cached = Some(fresh);
                s
            }
        }
    }

    fn compute_summary(&self, now: SystemTime) -> (ClusterSummary, Option<SystemTime>) {
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
        let starting_until: Vec<SystemTime> = self
            .pods
            .values()
            .filter(live)
            .filter_map(PodRow::starting_until)
            .filter(|until| now < *until)
            .collect();
        let pods_starting = starting_until.len();
        let valid_until = starting_until.iter().min().copied();
        // A deployment below desired is excused (starting) only while its
        // own starting pods make up what it lacks.
        let starting_of = |d: &DeploymentRow| {
            let prefix = format!("{}-", d.name);
            self.pods
                .values()
                .filter(live)
                .filter(|p| p.namespace == d.namespace && p.name.starts_with(&prefix))
                .filter(|p| p.starting_until().is_some_and(|until| now < until))
                .count()
        };
        let below_unexcused = self
            .deployments
            .values()
            .filter(|d| d.available < d.desired)
            .filter(|d| {
                let missing = usize::try_from(d.desired - d.available).unwrap_or(usize::MAX);
                starting_of(d) < missing
            })
            .count();
        let starting = (Health::Starting, format!("{pods_starting} pod(s) starting"));
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
        } else if below_unexcused > 0 {
            (
                Health::Warn,
                format!(
                    "{} deployment(s) below desired",
                    self.deployments.len() - deployments_available
                ),
            )
        } else if pods_not_ready > pods_starting {
            (
                Health::Warn,
                format!("{} pod(s) not ready", pods_not_ready - pods_starting),
            )
        } else if pods_starting > 0 {
            starting
        } else {
            (
                Health::Ok,
                "all nodes, deployments and pods ready".to_owned(),
            )
        };
        let summary = ClusterSummary {
            nodes_ready,
            nodes: self.nodes.len(),
            deployments_available,
            deployments: self.deployments.len(),
            pods: self.pods.len(),
            pods_not_ready,
            pods_starting,
            crash_looping,
            health,
        };
        (summary, valid_until)
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
    /// Events, newest first.
    Events,
}

impl ClusterView {
    /// Every view, in tab order.
    pub const ALL: [ClusterView; 4] = [
        ClusterView::Pods,
        ClusterView::Deployments,
        ClusterView::Nodes,
        ClusterView::Events,
    ];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            ClusterView::Pods => "Pods",
            ClusterView::Deployments => "Deployments",
            ClusterView::Nodes => "Nodes",
            ClusterView::Events => "Events",
        }
    }

    /// The orders its rows can be sorted in; the first is the default.
    pub fn sorts(self) -> &'static [&'static str] {
        match self {
            ClusterView::Pods => &["name", "problems first", "restarts", "newest"],
            ClusterView::Deployments => &["name", "problems first", "newest"],
            ClusterView::Nodes => &["group", "zone", "problems first"],
            ClusterView::Events => &["newest", "warnings first"],
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

/// Which rows of a view, in which order.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    /// The view.
    pub view: ClusterView,
    /// Only this namespace (namespaced views), or all.
    pub namespace: Option<&'a str>,
    /// An index into [`ClusterView::sorts`].
    pub sort: usize,
}

/// The rows of a namespace (or all) of a table keyed `namespace/name`.
fn in_namespace<'a, T>(
    table: &'a BTreeMap<String, T>,
    namespace: Option<&str>,
) -> Box<dyn Iterator<Item = (&'a String, &'a T)> + 'a> {
    match namespace {
        None => Box::new(table.iter()),
        Some(ns) => {
            let prefix = format!("{ns}/");
            Box::new(
                table
                    .range(prefix.clone()..)
                    .take_while(move |(k, _)| k.starts_with(&prefix)),
            )
        }
    }
}

/// 0 for a pod in trouble, 1 for one on its way, 2 for a ready one.
fn pod_rank(p: &PodRow) -> u8 {
    match p.status.as_str() {
        "CrashLoopBackOff" | "ImagePullBackOff" | "ErrImagePull" | "Error" | "OOMKilled" => 0,
        _ if p.is_ready() => 2,
        _ => 1,
    }
}

/// The rows of a table on screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window<'a> {
    /// Rows in the whole (filtered) table.
    pub total: usize,
    /// The index of the first row on screen.
    pub offset: usize,
    /// The keys of the rows on screen.
    pub keys: Vec<&'a str>,
}

impl ClusterState {
    /// The rows on screen: `height` rows keeping the `cursor` in view.
    /// Unfiltered pods and deployments in name order are read straight
    /// from the table (the cost does not grow with its size); a filter or
    /// another order goes through [`ClusterState::keys`].
    pub fn window(
        &self,
        q: Query<'_>,
        keep: Option<&dyn Fn(&str) -> bool>,
        cursor: usize,
        height: usize,
    ) -> Window<'_> {
        fn table_keys<'a>(
            keys: impl Iterator<Item = &'a String>,
            total: usize,
            offset: usize,
            height: usize,
        ) -> Window<'a> {
            Window {
                total,
                offset,
                keys: keys.skip(offset).take(height).map(String::as_str).collect(),
            }
        }
        let place = |total: usize| {
            let cursor = cursor.min(total.saturating_sub(1));
            (cursor + 1).saturating_sub(height.max(1))
        };
        let direct = keep.is_none() && q.sort == 0;
        match (q.view, direct) {
            (ClusterView::Pods, true) => {
                let total = match q.namespace {
                    None => self.pods.len(),
                    Some(_) => in_namespace(&self.pods, q.namespace).count(),
                };
                table_keys(
                    in_namespace(&self.pods, q.namespace).map(|(k, _)| k),
                    total,
                    place(total),
                    height,
                )
            }
            (ClusterView::Deployments, true) => {
                let total = match q.namespace {
                    None => self.deployments.len(),
                    Some(_) => in_namespace(&self.deployments, q.namespace).count(),
                };
                table_keys(
                    in_namespace(&self.deployments, q.namespace).map(|(k, _)| k),
                    total,
                    place(total),
                    height,
                )
            }
            _ => {
                let all = self.keys(q, keep.unwrap_or(&|_| true));
                let offset = place(all.len());
                Window {
                    total: all.len(),
                    offset,
                    keys: all.into_iter().skip(offset).take(height).collect(),
                }
            }
        }
    }

    /// The keys of the query's rows that pass `keep` on any column an
    /// operator reads (name, status, node, image, colour, group, zone,
    /// type, reason, object, message), in the query's order.
    pub fn keys(&self, q: Query<'_>, keep: &dyn Fn(&str) -> bool) -> Vec<&str> {
        let newest = |t: Option<SystemTime>| std::cmp::Reverse(t);
        match q.view {
            ClusterView::Pods => {
                let mut rows: Vec<(&String, &PodRow)> = in_namespace(&self.pods, q.namespace)
                    .filter(|(k, p)| keep(k) || keep(&p.status) || keep(&p.node))
                    .collect();
                match q.sort {
                    1 => rows.sort_by_key(|(_, p)| pod_rank(p)),
                    2 => rows.sort_by_key(|(_, p)| std::cmp::Reverse(p.restarts)),
                    3 => rows.sort_by_key(|(_, p)| newest(p.created)),
                    _ => {}
                }
                rows.into_iter().map(|(k, _)| k.as_str()).collect()
            }
            ClusterView::Deployments => {
                let mut rows: Vec<(&String, &DeploymentRow)> =
                    in_namespace(&self.deployments, q.namespace)
                        .filter(|(k, d)| {
                            keep(k) || keep(&d.image) || d.color.as_deref().is_some_and(keep)
                        })
                        .collect();
                match q.sort {
                    1 => rows.sort_by_key(|(_, d)| d.available >= d.desired),
                    2 => rows.sort_by_key(|(_, d)| newest(d.created)),
                    _ => {}
                }
                rows.into_iter().map(|(k, _)| k.as_str()).collect()
            }
            ClusterView::Nodes => {
                let mut nodes: Vec<&NodeRow> = self
                    .nodes
                    .values()
                    .filter(|n| {
                        keep(&n.name) || keep(&n.group) || keep(&n.zone) || keep(&n.instance_type)
                    })
                    .collect();
                match q.sort {
                    1 => nodes.sort_by(|a, b| (&a.zone, &a.name).cmp(&(&b.zone, &b.name))),
                    2 => nodes.sort_by_key(|n| (n.ready && !n.unschedulable, n.name.clone())),
                    _ => nodes.sort_by(|a, b| (&a.group, &a.name).cmp(&(&b.group, &b.name))),
                }
                nodes.into_iter().map(|n| n.name.as_str()).collect()
            }
            ClusterView::Events => {
                let mut rows: Vec<(&String, &EventRow)> = in_namespace(&self.events, q.namespace)
                    .filter(|(_, e)| keep(&e.reason) || keep(&e.object) || keep(&e.message))
                    .collect();
                rows.sort_by_key(|(_, e)| newest(e.last));
                if q.sort == 1 {
                    rows.sort_by_key(|(_, e)| !e.warning);
                }
                rows.into_iter().map(|(k, _)| k.as_str()).collect()
            }
        }
    }
}

/// Which cloud a node group is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// An EKS managed node group.
    Eks,
    /// An AKS agent pool.
    Aks,
}

impl Cloud {
    /// The node label naming the group.
    pub fn label(self) -> &'static str {
        match self {
            Cloud::Eks => "eks.amazonaws.com/nodegroup",
            Cloud::Aks => "agentpool",
        }
    }
}

/// A node group as its cloud reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePool {
    /// Which cloud.
    pub cloud: Cloud,
    /// Its name.
    pub name: String,
    /// `ACTIVE` / `UPDATING` … (EKS), `Succeeded` / `Updating` … (AKS).
    pub status: String,
    /// Fewest nodes (EKS; an autoscaled AKS pool).
    pub min: Option<u32>,
    /// Nodes wanted (AKS: the count).
    pub desired: u32,
    /// Most nodes (EKS; an autoscaled AKS pool).
    pub max: Option<u32>,
    /// AKS: the cluster autoscaler sizes it between min and max.
    pub autoscale: bool,
    /// AKS: a System pool (at least one node).
    pub system: bool,
    /// Instance types (EKS) or VM size (AKS).
    pub instance: String,
}

impl NodePool {
    /// Whether no change runs on it.
    pub fn settled(&self) -> bool {
        matches!(self.status.as_str(), "ACTIVE" | "Succeeded")
    }

    /// What it is, in a line: `general ACTIVE 3 ≤ 6 ≤ 20 (m6i.large)`.
    pub fn summary(&self) -> String {
        let sizes = match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("{lo} ≤ {} ≤ {hi}", self.desired),
            _ => format!("{} nodes", self.desired),
        };
        format!("{} {} {sizes} ({})", self.name, self.status, self.instance)
    }
}

/// A cluster's node groups as their cloud reported them in one read
/// (`sources::nodegroups`), each group's reading or why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudGroups {
    /// When they were read.
    pub at: SystemTime,
    /// Each configured group, by name: as read, or why not.
    pub groups: Vec<(String, Result<NodePool, String>)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocatable_reads_in_cores_and_gib() {
        let text = |cpu, memory| {
            NodeRow {
                allocatable: (cpu, memory),
                ..NodeRow::default()
            }
            .allocatable_text()
        };
        assert_eq!(text(4000, 16 << 30), "4/16Gi");
        assert_eq!(text(1930, 7_404_830 * 1024), "1.93/7.1Gi");
        assert_eq!(text(999, 1 << 29), "1/0.5Gi");
        assert_eq!(text(250, 0), "0.25/0Gi");
    }

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
            startup: Duration::ZERO,
            labels: vec![("app".into(), "a".into())],
            ports: Vec::new(),
            container_names: Vec::new(),
        }
    }

    #[test]
    fn a_relist_replaces_and_the_worst_rule_wins() {
        let mut c = ClusterState::default();
        c.apply(ClusterChange::Pods(RowChange::Listed(
            None,
            vec![pod("a", "Running", 1), pod("b", "Running", 1)],
        )));
        assert_eq!(c.summary(SystemTime::UNIX_EPOCH).health.0, Health::Ok);
        c.apply(ClusterChange::Pods(RowChange::Applied(pod(
            "b",
            "CrashLoopBackOff",
            0,
        ))));
        let s = c.summary(SystemTime::UNIX_EPOCH);
        assert_eq!((s.crash_looping, s.pods_not_ready), (1, 1));
        assert_eq!(s.health, (Health::Crit, "1 pod(s) crash-looping".into()));
        c.apply(ClusterChange::Pods(RowChange::Deleted("p/b".into())));
        c.apply(ClusterChange::Pods(RowChange::Listed(
            Some("p".into()),
            vec![pod("c", "Pending", 0)],
        )));
        assert_eq!(c.pods.keys().collect::<Vec<_>>(), ["p/c"]);
        assert_eq!(c.summary(SystemTime::UNIX_EPOCH).health.0, Health::Warn);
    }

    #[test]
    fn a_new_pod_is_starting_until_its_allowance_runs_out_and_a_restart_never_is() {
        let born = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let young = PodRow {
            created: Some(born),
            startup: Duration::from_secs(60),
            ..pod("a", "ContainerCreating", 0)
        };
        let mut c = ClusterState::default();
        c.apply(ClusterChange::Pods(RowChange::Listed(
            None,
            vec![young.clone()],
        )));
        let at = |s| born + Duration::from_secs(s);
        let s = c.summary(at(10));
        assert_eq!(s.health, (Health::Starting, "1 pod(s) starting".into()));
        assert_eq!((s.pods_not_ready, s.pods_starting), (1, 1));
        // The cached summary holds only until the allowance runs out.
        assert_eq!(
            c.summary(at(61)).health,
            (Health::Warn, "1 pod(s) not ready".into())
        );
        let restarted = PodRow {
            restarts: 1,
            status: "Running".into(),
            ..young.clone()
        };
        c.apply(ClusterChange::Pods(RowChange::Applied(restarted)));
        assert_eq!(
            c.summary(at(10)).health.0,
            Health::Warn,
            "a restart is never starting"
        );
        let pulling = PodRow {
            status: "ImagePullBackOff".into(),
            ..young
        };
        c.apply(ClusterChange::Pods(RowChange::Applied(pulling)));
        assert_eq!(c.summary(at(10)).health.0, Health::Warn);
    }

    #[test]
    fn a_starting_pod_excuses_only_its_own_deployment() {
        let born = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let deployment = |name: &str, desired: i32, available: i32| DeploymentRow {
            namespace: "p".into(),
            name: name.into(),
            desired,
            available,
            ready: available,
            ..DeploymentRow::default()
        };
        let starting = PodRow {
            created: Some(born),
            startup: Duration::from_secs(60),
            ..pod("b-7d9f-x2k9p", "ContainerCreating", 0)
        };
        let mut c = ClusterState::default();
        c.apply(ClusterChange::Pods(RowChange::Listed(None, vec![starting])));
        c.apply(ClusterChange::Deployments(RowChange::Listed(
            None,
            vec![deployment("b", 2, 1)],
        )));
        let at = born + Duration::from_secs(10);
        assert_eq!(c.summary(at).health.0, Health::Starting);
        // Another deployment short of pods it has not even created (a
        // quota, say) is below desired, starting pod or not.
        c.apply(ClusterChange::Deployments(RowChange::Applied(deployment(
            "a", 3, 1,
        ))));
        assert_eq!(
            c.summary(at).health,
            (Health::Warn, "2 deployment(s) below desired".into())
        );
    }

    #[test]
    fn a_window_reads_the_same_rows_directly_or_through_keys() {
        let mut c = ClusterState::default();
        let mut rows: Vec<PodRow> = (0..50)
            .map(|i| pod(&format!("a{i:02}"), "Running", 1))
            .collect();
        rows.push(PodRow {
            namespace: "q".into(),
            ..pod("z", "Pending", 0)
        });
        c.apply(ClusterChange::Pods(RowChange::Listed(None, rows)));
        for namespace in [None, Some("p"), Some("q")] {
            let q = Query {
                view: ClusterView::Pods,
                namespace,
                sort: 0,
            };
            for cursor in [0, 7, 30, 49, 500] {
                let direct = c.window(q, None, cursor, 10);
                let through = c.window(q, Some(&|_| true), cursor, 10);
                assert_eq!(direct, through, "{namespace:?} {cursor}");
            }
        }
        let q = Query {
            view: ClusterView::Pods,
            namespace: None,
            sort: 0,
        };
        let w = c.window(q, None, 45, 10);
        assert_eq!((w.total, w.offset, w.keys[0]), (51, 36, "p/a36"));
        let sorted = c.window(Query { sort: 1, ..q }, None, 0, 3);
        assert_eq!(sorted.keys[0], "q/z", "problems first");
    }
}

/// An object to fetch whole, for the detail view.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    /// The configured cluster name.
    pub cluster: String,
    /// Its kind: `Pod`, `Deployment`, `Node`, `Event`, `ReplicaSet`,
    /// `Service`, `HorizontalPodAutoscaler`, `ConfigMap`.
    pub kind: &'static str,
    /// Its namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

impl ObjectRef {
    /// The object a table key (`namespace/name`, or a node's name) names.
    pub fn from_key(cluster: &str, kind: &'static str, key: &str) -> ObjectRef {
        let (namespace, name) = match key.split_once('/') {
            Some((ns, name)) => (Some(ns.to_owned()), name.to_owned()),
            None => (None, key.to_owned()),
        };
        ObjectRef {
            cluster: cluster.to_owned(),
            kind,
            namespace,
            name,
        }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{} ({})", self.kind, self.name, self.cluster),
            None => write!(f, "{} {} ({})", self.kind, self.name, self.cluster),
        }
    }
}
