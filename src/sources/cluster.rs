//! The Kubernetes source: per configured cluster, kube-rs watchers (list,
//! then watch, with the default backoff) for nodes, deployments and pods,
//! projected into compact rows. A fresh list replaces a table only once it
//! is complete, so tables never empty during a re-list. The source reports
//! connecting, live (with the time of the last event) and errors, keeping
//! what it showed.

use std::time::{Duration, SystemTime};

use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, future};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Platform;
use crate::config::platform::Cluster;
use crate::model::cluster::{ClusterChange, DeploymentRow, NodeRow, PodRow, RowChange};
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
            change,
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

/// Every watcher of the cluster, merged.
fn watch_all(client: &Client, namespaces: &[String]) -> Changes {
    let scopes: Vec<Option<String>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().cloned().map(Some).collect()
    };
    let mut streams: Vec<Changes> = vec![
        rows(Api::<Node>::all(client.clone()), None, node_row)
            .map(|c| c.map(ClusterChange::Nodes))
            .boxed(),
    ];
    for scope in scopes {
        let api = |c: &Client| match &scope {
            Some(ns) => (
                Api::namespaced(c.clone(), ns),
                Api::namespaced(c.clone(), ns),
            ),
            None => (Api::all(c.clone()), Api::all(c.clone())),
        };
        let (deployments, pods): (Api<Deployment>, Api<Pod>) = api(client);
        streams.push(
            rows(deployments, scope.clone(), deployment_row)
                .map(|c| c.map(ClusterChange::Deployments))
                .boxed(),
        );
        streams.push(
            rows(pods, scope, pod_row)
                .map(|c| c.map(ClusterChange::Pods))
                .boxed(),
        );
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
        image: spec
            .and_then(|s| s.template.spec.as_ref())
            .and_then(|p| p.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        color: d.labels().get("color").cloned(),
        progressing: status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Progressing"))
            .and_then(|c| c.reason.clone()),
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
        created: p
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| SystemTime::from(t.0)),
    }
}
