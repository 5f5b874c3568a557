//! The Kubernetes source: per configured cluster, kube-rs watchers (list,
//! then watch, with the default backoff) for nodes, deployments, pods,
//! ReplicaSets, Services, HPAs, events and ConfigMaps,
//! projected into compact rows. A fresh list replaces a table only once it
//! is complete, so tables never empty during a re-list. The source reports
//! connecting, live (with the time of the last event) and errors, keeping
//! what it showed.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, future};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Node, Pod, Service};
use kube::api::{ApiResource, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Platform;
use crate::config::platform::Cluster;
use crate::model::cluster::{
    ClusterChange, ConfigMapRow, DeploymentRow, EventRow, HpaRow, NodeRow, ObjectRef, PodRow,
    ReplicaSetRow, RowChange, ServiceRow, Utilisation,
};
use crate::model::{SourceId, SourceKind, SourceState, Update};

/// How often a live source refreshes the time of its last event.
const LIVE_EVERY: Duration = Duration::from_secs(1);
/// How long to wait before trying a cluster whose client cannot be built.
const RETRY: Duration = Duration::from_secs(10);
/// How often the API server is asked for its version: a watch stream
/// cannot tell a quiet cluster from one that stopped answering.
const PROBE_EVERY: Duration = Duration::from_secs(3);
/// How long the probe waits for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts a source per configured cluster.
pub fn spawn<E: From<Update> + Send + 'static>(
    platform: &Platform,
    tx: &mpsc::Sender<E>,
) -> Vec<JoinHandle<()>> {
    // ring, the provider kube-rs is built with: one process-wide choice.
    let _ = rustls::crypto::ring::default_provider().install_default();
    platform
        .clusters
        .iter()
        .map(|c| tokio::spawn(run(c.clone(), tx.clone())))
        .collect()
}

async fn run<E: From<Update> + Send + 'static>(cluster: Cluster, tx: mpsc::Sender<E>) {
    let mut follow = Follow {
        id: SourceId::new(
            cluster.region.get_ref(),
            SourceKind::Cluster,
            cluster.name.get_ref(),
        ),
        tx,
        last_live: None,
        last_contact: SystemTime::now(),
        failing: false,
        stale: false,
    };
    if !follow
        .report(SourceState::Connecting {
            since: SystemTime::now(),
        })
        .await
    {
        return;
    }
    // Retried until it works; reported once per distinct failure, so the
    // age shown counts from when it started failing.
    let mut reported: Option<String> = None;
    let client = loop {
        match client(&cluster).await {
            Ok(c) => break c,
            Err(message) => {
                if reported.as_ref() != Some(&message) {
                    tracing::warn!(cluster = %cluster.name.get_ref(), "{message}");
                    reported = Some(message.clone());
                    if !follow
                        .report(SourceState::Error {
                            message,
                            since: SystemTime::now(),
                        })
                        .await
                    {
                        return;
                    }
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    };
    let mut changes = watch_all(&client, &cluster.namespaces);
    let mut probe = tokio::time::interval(PROBE_EVERY);
    loop {
        let going_on = tokio::select! {
            item = changes.next() => match item {
                Some(Ok(change)) => follow.change(change).await,
                Some(Err(message)) => follow.error(message).await,
                None => false,
            },
            _ = probe.tick() => {
                let answered = tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await.is_ok_and(|r| r.is_ok());
                follow.probed(answered).await
            }
        };
        if !going_on {
            return;
        }
    }
}

/// How long a detail fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Fetches whole objects for the detail view, on demand, and sends each
/// back as YAML (without managedFields, as kubectl shows it) or as the
/// reason it failed. Returns where to send requests.
pub fn spawn_details<E: From<Update> + Send + 'static>(
    platform: &Platform,
    tx: &mpsc::Sender<E>,
) -> mpsc::UnboundedSender<ObjectRef> {
    let (requests, mut rx) = mpsc::unbounded_channel::<ObjectRef>();
    let clusters: HashMap<String, Cluster> = platform
        .clusters
        .iter()
        .map(|c| (c.name.get_ref().clone(), c.clone()))
        .collect();
    let tx = tx.clone();
    tokio::spawn(async move {
        let mut clients: HashMap<String, Client> = HashMap::new();
        while let Some(object) = rx.recv().await {
            let client = match clients.get(&object.cluster) {
                Some(c) => Ok(c.clone()),
                None => match clusters.get(&object.cluster) {
                    Some(cluster) => client(cluster).await,
                    None => Err(format!("no cluster `{}` is configured", object.cluster)),
                },
            };
            let tx = tx.clone();
            match client {
                Ok(c) => {
                    clients.insert(object.cluster.clone(), c.clone());
                    tokio::spawn(async move {
                        let yaml = tokio::time::timeout(FETCH_TIMEOUT, fetch_yaml(c, &object))
                            .await
                            .unwrap_or_else(|_| {
                                Err(format!(
                                    "{object}: no answer within {} s",
                                    FETCH_TIMEOUT.as_secs()
                                ))
                            });
                        let _ = tx.send(E::from(Update::Detail { object, yaml })).await;
                    });
                }
                Err(message) => {
                    let _ = tx
                        .send(E::from(Update::Detail {
                            object,
                            yaml: Err(message),
                        }))
                        .await;
                }
            }
        }
    });
    requests
}

async fn fetch_yaml(client: Client, o: &ObjectRef) -> Result<String, String> {
    let ar = match o.kind {
        "Pod" => ApiResource::erase::<Pod>(&()),
        "Deployment" => ApiResource::erase::<Deployment>(&()),
        "Node" => ApiResource::erase::<Node>(&()),
        "Event" => ApiResource::erase::<CoreEvent>(&()),
        "ReplicaSet" => ApiResource::erase::<ReplicaSet>(&()),
        "Service" => ApiResource::erase::<Service>(&()),
        "HorizontalPodAutoscaler" => ApiResource::erase::<HorizontalPodAutoscaler>(&()),
        "ConfigMap" => ApiResource::erase::<ConfigMap>(&()),
        other => return Err(format!("touban cannot show a {other}")),
    };
    let api: Api<DynamicObject> = match &o.namespace {
        Some(ns) => Api::namespaced_with(client, ns, &ar),
        None => Api::all_with(client, &ar),
    };
    let mut object = api.get(&o.name).await.map_err(|e| format!("{o}: {e}"))?;
    object.metadata.managed_fields = None;
    serde_yaml_ng::to_string(&object).map_err(|e| format!("{o}: cannot write it as YAML: {e}"))
}

/// A cluster source's view of its own health, and its way to the app.
/// Each method returns whether the app is still listening.
struct Follow<E> {
    id: SourceId,
    tx: mpsc::Sender<E>,
    last_live: Option<tokio::time::Instant>,
    /// The last time the API server answered anything.
    last_contact: SystemTime,
    /// A watcher reported an error not yet followed by an event.
    failing: bool,
    /// The probe found the API server silent.
    stale: bool,
}

impl<E: From<Update> + Send + 'static> Follow<E> {
    async fn send(&self, update: Update) -> bool {
        self.tx.send(E::from(update)).await.is_ok()
    }

    async fn report(&self, state: SourceState) -> bool {
        self.send(Update::SourceState {
            id: self.id.clone(),
            state,
        })
        .await
    }

    /// A row change: the cluster is live; its time refreshed at most once a second.
    async fn change(&mut self, change: ClusterChange) -> bool {
        self.last_contact = SystemTime::now();
        let due = self.last_live.is_none_or(|t| t.elapsed() >= LIVE_EVERY);
        if (self.failing || self.stale || due)
            && !self
                .report(SourceState::Live {
                    at: self.last_contact,
                })
                .await
        {
            return false;
        }
        if self.failing || self.stale || due {
            self.last_live = Some(tokio::time::Instant::now());
        }
        self.failing = false;
        self.stale = false;
        self.send(Update::Cluster {
            id: self.id.clone(),
            change: Box::new(change),
        })
        .await
    }

    /// A watcher error (it retries with backoff): reported once until data flows again.
    async fn error(&mut self, message: String) -> bool {
        if self.failing {
            return true;
        }
        tracing::warn!(source = %self.id, "{message}");
        self.failing = true;
        self.report(SourceState::Error {
            message,
            since: SystemTime::now(),
        })
        .await
    }

    /// The probe's answer: live at the time of contact, or stale since the last one.
    async fn probed(&mut self, answered: bool) -> bool {
        if answered {
            self.last_contact = SystemTime::now();
            self.stale = false;
            if self.failing {
                return true;
            }
            self.last_live = Some(tokio::time::Instant::now());
            return self
                .report(SourceState::Live {
                    at: self.last_contact,
                })
                .await;
        }
        if self.stale {
            return true;
        }
        self.stale = true;
        tracing::warn!(source = %self.id, "the API server stopped answering");
        self.report(SourceState::Stale {
            since: self.last_contact,
        })
        .await
    }
}

/// A client for the cluster's kube context. Messages name the file and
/// the context, never a credential.
async fn client(cluster: &Cluster) -> Result<Client, String> {
    let kubeconfig = match &cluster.kubeconfig {
        Some(path) => Kubeconfig::read_from(path)
            .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?,
        None => Kubeconfig::read().map_err(|e| {
            format!("cannot read the kubeconfig ($KUBECONFIG or ~/.kube/config): {e}")
        })?,
    };
    let options = KubeConfigOptions {
        context: Some(cluster.context.clone()),
        ..KubeConfigOptions::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| format!("kube context `{}`: {e}", cluster.context))?;
    Client::try_from(config).map_err(|e| {
        format!(
            "cannot make a client for kube context `{}`: {e}",
            cluster.context
        )
    })
}

type Changes = BoxStream<'static, Result<ClusterChange, String>>;

/// One namespaced kind watched in `scope` (a namespace, or all).
fn scoped<K, T>(
    client: &Client,
    scope: Option<&String>,
    project: fn(&K) -> T,
    wrap: fn(RowChange<T>) -> ClusterChange,
) -> Changes
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
    K::DynamicType: Default,
    T: Send + 'static,
{
    let api = match scope {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    rows(api, scope.cloned(), project)
        .map(move |c| c.map(wrap))
        .boxed()
}

/// Every watcher of the cluster, merged.
fn watch_all(client: &Client, namespaces: &[String]) -> Changes {
    let scopes: Vec<Option<&String>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().map(Some).collect()
    };
    let mut streams: Vec<Changes> = vec![
        rows(Api::<Node>::all(client.clone()), None, node_row)
            .map(|c| c.map(ClusterChange::Nodes))
            .boxed(),
    ];
    for scope in scopes {
        streams.extend([
            scoped(client, scope, deployment_row, ClusterChange::Deployments),
            scoped(client, scope, pod_row, ClusterChange::Pods),
            scoped(client, scope, replica_set_row, ClusterChange::ReplicaSets),
            scoped(client, scope, service_row, ClusterChange::Services),
            scoped(client, scope, hpa_row, ClusterChange::Hpas),
            scoped(client, scope, event_row, ClusterChange::Events),
            scoped(client, scope, config_map_row, ClusterChange::ConfigMaps),
        ]);
    }
    stream::select_all(streams).boxed()
}

/// A watcher's events as row changes: the initial (and any re-) list is
/// gathered and sent whole once complete.
fn rows<K, T>(
    api: Api<K>,
    scope: Option<String>,
    project: fn(&K) -> T,
) -> BoxStream<'static, Result<RowChange<T>, String>>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    T: Send + 'static,
{
    let mut listing: Vec<T> = Vec::new();
    watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .filter_map(move |event| {
            let out = match event {
                Ok(Event::Init) => {
                    listing.clear();
                    None
                }
                Ok(Event::InitApply(o)) => {
                    listing.push(project(&o));
                    None
                }
                Ok(Event::InitDone) => Some(Ok(RowChange::Listed(
                    scope.clone(),
                    std::mem::take(&mut listing),
                ))),
                Ok(Event::Apply(o)) => Some(Ok(RowChange::Applied(project(&o)))),
                Ok(Event::Delete(o)) => Some(Ok(RowChange::Deleted(match o.namespace() {
                    Some(ns) => format!("{ns}/{}", o.name_any()),
                    None => o.name_any(),
                }))),
                Err(e) => Some(Err(e.to_string())),
            };
            future::ready(out)
        })
        .boxed()
}

fn node_row(n: &Node) -> NodeRow {
    let label = |k: &str| n.labels().get(k).cloned().unwrap_or_default();
    let group = [
        label("eks.amazonaws.com/nodegroup"),
        label("agentpool"),
        label("cloud.google.com/gke-nodepool"),
    ]
    .into_iter()
    .find(|g| !g.is_empty())
    .unwrap_or_default();
    let spec = n.spec.as_ref();
    NodeRow {
        name: n.name_any(),
        group,
        zone: label("topology.kubernetes.io/zone"),
        instance_type: label("node.kubernetes.io/instance-type"),
        ready: n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
        unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
        taints: spec
            .and_then(|s| s.taints.as_ref())
            .map(|t| {
                t.iter()
                    .map(|t| {
                        format!(
                            "{}={}:{}",
                            t.key,
                            t.value.clone().unwrap_or_default(),
                            t.effect
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        capacity: {
            let of = |k: &str| {
                n.status
                    .as_ref()
                    .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))
                    .and_then(|m| m.get(k))
                    .map(|q| q.0.clone())
                    .unwrap_or_default()
            };
            (of("cpu"), of("memory"))
        },
    }
}

fn deployment_row(d: &Deployment) -> DeploymentRow {
    let status = d.status.as_ref();
    let spec = d.spec.as_ref();
    DeploymentRow {
        namespace: d.namespace().unwrap_or_default(),
        name: d.name_any(),
        desired: spec.and_then(|s| s.replicas).unwrap_or(1),
        ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        updated: status.and_then(|s| s.updated_replicas).unwrap_or(0),
        available: status.and_then(|s| s.available_replicas).unwrap_or(0),
        image: first_image(spec.and_then(|s| s.template.spec.as_ref())),
        color: d.labels().get("color").cloned(),
        progressing: status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Progressing"))
            .and_then(|c| c.reason.clone()),
        replicas: status.and_then(|s| s.replicas).unwrap_or(0),
        generation: d.metadata.generation.unwrap_or(0),
        observed_generation: status.and_then(|s| s.observed_generation).unwrap_or(0),
        app: d.labels().get("app").cloned(),
        revision: revision(d),
        created: created(d),
    }
}

fn created<K: Resource>(o: &K) -> Option<SystemTime> {
    o.meta()
        .creation_timestamp
        .as_ref()
        .map(|t| SystemTime::from(t.0))
}

fn revision<K: Resource>(o: &K) -> Option<u32> {
    o.meta()
        .annotations
        .as_ref()?
        .get("deployment.kubernetes.io/revision")?
        .parse()
        .ok()
}

fn first_image(spec: Option<&k8s_openapi::api::core::v1::PodSpec>) -> String {
    spec.and_then(|p| p.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

fn replica_set_row(r: &ReplicaSet) -> ReplicaSetRow {
    let spec = r.spec.as_ref();
    ReplicaSetRow {
        namespace: r.namespace().unwrap_or_default(),
        name: r.name_any(),
        owner: r
            .owner_references()
            .iter()
            .find(|o| o.kind == "Deployment")
            .map(|o| o.name.clone()),
        revision: revision(r),
        image: first_image(
            spec.and_then(|s| s.template.as_ref())
                .and_then(|t| t.spec.as_ref()),
        ),
        desired: spec.and_then(|s| s.replicas).unwrap_or(1),
        ready: r
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0),
        created: created(r),
    }
}

fn service_row(s: &Service) -> ServiceRow {
    ServiceRow {
        namespace: s.namespace().unwrap_or_default(),
        name: s.name_any(),
        app: s.labels().get("app").cloned(),
        selector: s
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}

fn hpa_row(h: &HorizontalPodAutoscaler) -> HpaRow {
    let spec = h.spec.as_ref();
    let status = h.status.as_ref();
    let target = |name: &str| {
        spec.and_then(|s| s.metrics.as_ref())
            .and_then(|m| {
                m.iter()
                    .filter_map(|m| m.resource.as_ref())
                    .find(|r| r.name == name)
            })
            .and_then(|r| r.target.average_utilization)
    };
    let current = |name: &str| {
        status
            .and_then(|s| s.current_metrics.as_ref())
            .and_then(|m| {
                m.iter()
                    .filter_map(|m| m.resource.as_ref())
                    .find(|r| r.name == name)
            })
            .and_then(|r| r.current.average_utilization)
    };
    HpaRow {
        namespace: h.namespace().unwrap_or_default(),
        name: h.name_any(),
        target_kind: spec
            .map(|s| s.scale_target_ref.kind.clone())
            .unwrap_or_default(),
        target: spec
            .map(|s| s.scale_target_ref.name.clone())
            .unwrap_or_default(),
        min: spec.and_then(|s| s.min_replicas).unwrap_or(1),
        max: spec.map_or(0, |s| s.max_replicas),
        current: status.and_then(|s| s.current_replicas).unwrap_or(0),
        desired: status.map_or(0, |s| s.desired_replicas),
        cpu: Utilisation {
            current: current("cpu"),
            target: target("cpu"),
        },
        memory: Utilisation {
            current: current("memory"),
            target: target("memory"),
        },
        last_scale: status
            .and_then(|s| s.last_scale_time.as_ref())
            .map(|t| SystemTime::from(t.0)),
        failing: status
            .and_then(|s| s.conditions.as_ref())
            .map(|c| {
                // AbleToScale and ScalingActive are healthy when True;
                // ScalingLimited when False.
                c.iter()
                    .filter(|c| (c.type_ == "ScalingLimited") == (c.status == "True"))
                    .map(|c| {
                        format!(
                            "{} {}: {}",
                            c.type_,
                            c.status,
                            c.reason.as_deref().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn event_row(e: &CoreEvent) -> EventRow {
    EventRow {
        namespace: e.namespace().unwrap_or_default(),
        name: e.name_any(),
        warning: e.type_.as_deref() == Some("Warning"),
        reason: e.reason.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            e.involved_object.kind.as_deref().unwrap_or(""),
            e.involved_object.name.as_deref().unwrap_or("")
        ),
        message: e.message.clone().unwrap_or_default(),
        count: e.count.unwrap_or(1),
        last: e
            .last_timestamp
            .as_ref()
            .map(|t| SystemTime::from(t.0))
            .or_else(|| e.event_time.as_ref().map(|t| SystemTime::from(t.0)))
            .or_else(|| created(e)),
    }
}

fn config_map_row(c: &ConfigMap) -> ConfigMapRow {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    c.data.hash(&mut h);
    c.binary_data
        .as_ref()
        .map(|b| b.iter().map(|(k, v)| (k, &v.0)).collect::<Vec<_>>())
        .hash(&mut h);
    ConfigMapRow {
        namespace: c.namespace().unwrap_or_default(),
        name: c.name_any(),
        keys: c.data.as_ref().map_or(0, std::collections::BTreeMap::len)
            + c.binary_data
                .as_ref()
                .map_or(0, std::collections::BTreeMap::len),
        hash: h.finish(),
    }
}

/// The status kubectl's STATUS column shows: a terminating pod, else the
/// first container waiting or terminated with a reason, else the phase.
fn pod_row(p: &Pod) -> PodRow {
    let status = p.status.as_ref();
    let containers = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let waiting = containers.iter().find_map(|c| {
        let state = c.state.as_ref()?;
        state
            .waiting
            .as_ref()
            .and_then(|w| w.reason.clone())
            .or_else(|| state.terminated.as_ref().and_then(|t| t.reason.clone()))
    });
    let shown = if p.metadata.deletion_timestamp.is_some() {
        "Terminating".to_owned()
    } else {
        waiting.unwrap_or_else(|| {
            status
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Unknown".to_owned())
        })
    };
    let spec_containers = p.spec.as_ref().map_or(0, |s| s.containers.len());
    PodRow {
        namespace: p.namespace().unwrap_or_default(),
        name: p.name_any(),
        status: shown,
        ready: u16::try_from(containers.iter().filter(|c| c.ready).count()).unwrap_or(u16::MAX),
        containers: u16::try_from(spec_containers.max(containers.len())).unwrap_or(u16::MAX),
        restarts: u32::try_from(
            containers
                .iter()
                .map(|c| i64::from(c.restart_count))
                .sum::<i64>(),
        )
        .unwrap_or(0),
        node: p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        created: created(p),
        labels: p
            .labels()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}
