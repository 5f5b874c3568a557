//! The Kubernetes source: per configured cluster, a watch per kind and
//! scope (nodes, deployments, pods, ReplicaSets, Services, HPAs, events,
//! ConfigMaps) projected into compact rows, and a probe of the API server
//! on a connection of its own. A fresh list replaces a table only once it
//! is complete, so tables never empty during a re-list.
//!
//! Its health is the worst of what it knows: live only while the probe
//! answers and every watch is heard from (events, bookmarks, rounds that
//! end on time); stale, saying what fails, as soon as either does, however
//! much an old watch still delivers; error while it has never been live.
//! What it shows is kept throughout.

pub(crate) mod auth;
mod detail;
mod logs;
mod watch;

use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::Node;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Platform;
use crate::config::platform::Cluster;
use crate::model::cluster::{ClusterChange, RowChange};
use crate::model::{SourceId, SourceKind, SourceState, Update};

use crate::projection::{
    config_map_row, deployment_row, event_row, hpa_row, node_row, pod_row, replica_set_row,
    service_row,
};
pub use detail::spawn_details;
pub use logs::spawn_logs;
use watch::Heard;

/// How often a live source refreshes the time of its last contact.
const LIVE_EVERY: Duration = Duration::from_secs(1);
/// How often the API server is asked for its version, on a connection of
/// the probe's own: a watch cannot tell a quiet cluster from one whose new
/// requests hang.
const PROBE_EVERY: Duration = Duration::from_secs(3);
/// How long the probe waits for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// A watch not heard from for this long is silent (each round ends within
/// its server timeout; a few seconds more for the next one to open).
const SILENT: Duration = Duration::from_secs(watch::WATCH_SECONDS as u64 + 15);
/// A credential that expires is renewed this long before.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

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

/// What one watch has said about itself.
#[derive(Debug, Clone)]
struct WatchHealth {
    what: String,
    heard: Option<Instant>,
    failing: Option<String>,
}

/// A cluster source's view of its own health, from the probe and every
/// watch, and what it last reported.
struct ClusterHealth {
    watches: Vec<WatchHealth>,
    /// Since when, and why, the probe has been failing.
    probe_failing: Option<(Instant, String)>,
    probe_answered: bool,
    /// The last time the probe failed: a watch opened before it may be a
    /// dead connection still, so each must be heard from again after it.
    suspect_before: Option<Instant>,
    /// When it was last live.
    last_live: Option<SystemTime>,
    /// When it started failing, before it was ever live.
    failing_since: Option<SystemTime>,
    reported: Option<SourceState>,
    reported_at: Option<Instant>,
}

impl ClusterHealth {
    fn new(watches: Vec<String>) -> ClusterHealth {
        ClusterHealth {
            watches: watches
                .into_iter()
                .map(|what| WatchHealth {
                    what,
                    heard: None,
                    failing: None,
                })
                .collect(),
            probe_failing: None,
            probe_answered: false,
            suspect_before: None,
            last_live: None,
            failing_since: None,
            reported: None,
            reported_at: None,
        }
    }

    /// What is failing now, if anything: the probe first, then the first
    /// failing or silent watch.
    fn failure(&self, now: Instant) -> Option<String> {
        let streaming = self
            .watches
            .iter()
            .any(|w| w.heard.is_some_and(|h| now.duration_since(h) < SILENT));
        // No counting seconds here: the state's age says how long.
        if let Some((_, why)) = &self.probe_failing {
            let still = if streaming {
                "; a watch still streaming"
            } else {
                ""
            };
            return Some(format!("API not answering ({why}){still}"));
        }
        for w in &self.watches {
            if let Some(why) = &w.failing {
                return Some(why.clone());
            }
            if let (Some(suspect), Some(h)) = (self.suspect_before, w.heard)
                && h <= suspect
            {
                return Some(format!(
                    "the API answers again; watch {} not heard from since it stopped",
                    w.what
                ));
            }
            if let Some(h) = w.heard
                && now.duration_since(h) >= SILENT
            {
                return Some(format!("watch {}: silent", w.what));
            }
        }
        None
    }

    /// The state to report now.
    fn state(&mut self, now: Instant) -> SourceState {
        let wall = SystemTime::now();
        match self.failure(now) {
            Some(why) => match self.last_live {
                Some(since) => SourceState::Stale { since, why },
                None => SourceState::Error {
                    since: *self.failing_since.get_or_insert(wall),
                    message: why,
                },
            },
            None if self.probe_answered && self.watches.iter().all(|w| w.heard.is_some()) => {
                self.last_live = Some(wall);
                SourceState::Live { at: wall }
            }
            // Nothing failing, not everything heard from yet (starting, or
            // connected afresh): as it was, until it is known.
            None => match &self.reported {
                Some(
                    s @ (SourceState::Live { .. }
                    | SourceState::Stale { .. }
                    | SourceState::Error { .. }),
                ) => s.clone(),
                _ => SourceState::Connecting { since: wall },
            },
        }
    }

    /// Whether `state` must be sent: a different state or reason, or a
    /// live one whose time is due a refresh.
    fn due(&self, state: &SourceState, now: Instant) -> bool {
        match (&self.reported, state) {
            (Some(SourceState::Live { .. }), SourceState::Live { .. }) => self
                .reported_at
                .is_none_or(|t| now.duration_since(t) >= LIVE_EVERY),
            (Some(SourceState::Connecting { .. }), SourceState::Connecting { .. }) => false,
            (Some(SourceState::Stale { why: a, .. }), SourceState::Stale { why: b, .. })
            | (
                Some(SourceState::Error { message: a, .. }),
                SourceState::Error { message: b, .. },
            ) => a != b,
            _ => true,
        }
    }
}

/// The cluster's watches: started as tasks sending into `tx`; returns
/// their names (in index order) and handles.
fn start_watches(
    client: &Client,
    namespaces: &[String],
    tx: &mpsc::Sender<(usize, Heard<ClusterChange>)>,
) -> (Vec<String>, Vec<JoinHandle<()>>) {
    let mut starters: Vec<(String, Starter)> = vec![(
        "nodes".into(),
        watched(
            Api::<Node>::all(client.clone()),
            None,
            node_row,
            ClusterChange::Nodes,
            tx.clone(),
        ),
    )];
    let scopes: Vec<Option<&String>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().map(Some).collect()
    };
    for scope in scopes {
        let name = |kind: &str| match scope {
            Some(ns) => format!("{kind} in {ns}"),
            None => kind.to_owned(),
        };
        starters.extend([
            (
                name("deployments"),
                scoped(
                    client,
                    scope,
                    deployment_row,
                    ClusterChange::Deployments,
                    tx,
                ),
            ),
            (
                name("pods"),
                scoped(client, scope, pod_row, ClusterChange::Pods, tx),
            ),
            (
                name("replica sets"),
                scoped(
                    client,
                    scope,
                    replica_set_row,
                    ClusterChange::ReplicaSets,
                    tx,
                ),
            ),
            (
                name("services"),
                scoped(client, scope, service_row, ClusterChange::Services, tx),
            ),
            (
                name("HPAs"),
                scoped(client, scope, hpa_row, ClusterChange::Hpas, tx),
            ),
            (
                name("events"),
                scoped(client, scope, event_row, ClusterChange::Events, tx),
            ),
            (
                name("config maps"),
                scoped(client, scope, config_map_row, ClusterChange::ConfigMaps, tx),
            ),
        ]);
    }
    starters
        .into_iter()
        .enumerate()
        .map(|(i, (what, start))| {
            let task = start(i, what.clone());
            (what, task)
        })
        .unzip()
}

/// A watch, to be started with its index and name.
type Starter = Box<dyn FnOnce(usize, String) -> JoinHandle<()>>;

/// A watch of `api`, to be started with its index.
fn watched<K, T>(
    api: Api<K>,
    scope: Option<String>,
    project: fn(&K) -> T,
    wrap: fn(RowChange<T>) -> ClusterChange,
    tx: mpsc::Sender<(usize, Heard<ClusterChange>)>,
) -> Starter
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    T: Send + 'static,
{
    Box::new(move |index, what| {
        tokio::spawn(watch::watch(api, scope, project, wrap, what, index, tx))
    })
}

/// One namespaced kind watched in `scope` (a namespace, or all).
fn scoped<K, T>(
    client: &Client,
    scope: Option<&String>,
    project: fn(&K) -> T,
    wrap: fn(RowChange<T>) -> ClusterChange,
    tx: &mpsc::Sender<(usize, Heard<ClusterChange>)>,
) -> Starter
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default,
    T: Send + 'static,
{
    let api = match scope {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    watched(api, scope.cloned(), project, wrap, tx.clone())
}

/// The source's way to the app.
struct Outbox<E> {
    id: SourceId,
    tx: mpsc::Sender<E>,
}

impl<E: From<Update>> Outbox<E> {
    async fn send(&self, update: Update) -> bool {
        self.tx.send(E::from(update)).await.is_ok()
    }

    async fn state(&self, state: SourceState) -> bool {
        self.send(Update::SourceState {
            id: self.id.clone(),
            state,
        })
        .await
    }
}

async fn run<E: From<Update> + Send + 'static>(cluster: Cluster, tx: mpsc::Sender<E>) {
    let out = Outbox {
        id: SourceId::new(
            cluster.region.get_ref(),
            SourceKind::Cluster,
            cluster.name.get_ref(),
        ),
        tx,
    };
    if !out
        .state(SourceState::Connecting {
            since: SystemTime::now(),
        })
        .await
    {
        return;
    }
    // Rows survive reconnections: a re-list replaces a table only whole.
    let mut health: Option<ClusterHealth> = None;
    let mut failing_since: Option<SystemTime> = None;
    let mut last_live: Option<SystemTime> = None;
    let mut backoff = Duration::from_secs(1);
    loop {
        let read_timeout = watch::IDLE + Duration::from_secs(10);
        let connected = tokio::time::timeout(
            auth::EXEC_TIMEOUT + Duration::from_secs(10),
            auth::connect(&cluster, read_timeout),
        )
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "kube context `{}`: cannot connect in time",
                cluster.context
            ))
        });
        let conn = match connected {
            Ok(c) => c,
            Err(message) => {
                let state = match last_live {
                    Some(since) => SourceState::Stale {
                        since,
                        why: message.clone(),
                    },
                    None => SourceState::Error {
                        since: *failing_since.get_or_insert_with(SystemTime::now),
                        message: message.clone(),
                    },
                };
                let repeat = health
                    .as_ref()
                    .and_then(|h| h.reported.as_ref())
                    .and_then(SourceState::failure)
                    .is_some_and(|w| w == message);
                if !repeat {
                    tracing::warn!(source = %out.id, "{message}");
                    if !out.state(state.clone()).await {
                        return;
                    }
                }
                let h = health.get_or_insert_with(|| ClusterHealth::new(Vec::new()));
                h.reported = Some(state);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(watch::BACKOFF_CAP);
                continue;
            }
        };
        backoff = Duration::from_secs(1);
        let renew = conn.expires.map(|at| {
            let left = at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
                .saturating_sub(RENEW_BEFORE);
            tokio::time::Instant::now() + left.max(Duration::from_secs(5))
        });
        let (heard_tx, heard_rx) = mpsc::channel(256);
        let (names, tasks) = start_watches(&conn.client, &cluster.namespaces, &heard_tx);
        drop(heard_tx);
        let mut h = ClusterHealth::new(names);
        if let Some(previous) = &health {
            h.reported.clone_from(&previous.reported);
        }
        h.last_live = last_live;
        h.failing_since = failing_since;
        let outcome = follow(&out, &conn.probe, &mut h, heard_rx, renew).await;
        for t in tasks {
            t.abort();
        }
        last_live = h.last_live;
        failing_since = h.failing_since;
        health = Some(h);
        match outcome {
            Followed::AppGone => return,
            Followed::Reconnect(why) => {
                tracing::info!(source = %out.id, "connecting afresh: {why}");
            }
        }
    }
}

/// Why following a connection ended.
enum Followed {
    /// Nobody listens any more.
    AppGone,
    /// The credential expired or was refused: connect again.
    Reconnect(&'static str),
}

/// Follows one connection's watches and probe until the app goes away or
/// the connection must be made afresh.
async fn follow<E: From<Update> + Send + 'static>(
    out: &Outbox<E>,
    probe: &Client,
    h: &mut ClusterHealth,
    mut heard: mpsc::Receiver<(usize, Heard<ClusterChange>)>,
    renew: Option<tokio::time::Instant>,
) -> Followed {
    let mut probe_every = tokio::time::interval(PROBE_EVERY);
    probe_every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let renewal = async {
        match renew {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    let mut renewal = std::pin::pin!(renewal);
    loop {
        tokio::select! {
            got = heard.recv() => {
                let Some((i, heard)) = got else {
                    return Followed::Reconnect("every watch ended");
                };
                let Some(w) = h.watches.get_mut(i) else { continue };
                match heard {
                    Heard::Change(change) => {
                        w.heard = Some(Instant::now());
                        w.failing = None;
                        if !out.send(Update::Cluster { id: out.id.clone(), change: Box::new(change) }).await {
                            return Followed::AppGone;
                        }
                    }
                    Heard::Alive => {
                        w.heard = Some(Instant::now());
                        w.failing = None;
                    }
                    Heard::Failed { why, unauthorized } => {
                        w.failing = Some(why);
                        if unauthorized {
                            let _ = report(out, h).await;
                            return Followed::Reconnect("the API server refused the credential");
                        }
                    }
                }
            }
            _ = probe_every.tick() => {
                let answer = tokio::time::timeout(PROBE_TIMEOUT, probe.apiserver_version()).await;
                match &answer {
                    Ok(Ok(_)) => {
                        // Back after a spell of no answers: connections from
                        // before may be dead; open everything afresh rather
                        // than wait for each watch to find out.
                        let spell = h.probe_failing.as_ref().map(|(since, _)| since.elapsed());
                        h.probe_failing = None;
                        h.probe_answered = true;
                        let silent = h.suspect_before.is_some_and(|suspect| {
                            h.watches.iter().any(|w| w.heard.is_none_or(|t| t <= suspect))
                        });
                        if silent && spell.is_some_and(|d| d >= PROBE_EVERY) {
                            return Followed::Reconnect("the API answers again after a spell of silence");
                        }
                    }
                    Ok(Err(e)) => {
                        let why = match &e {
                            kube::Error::Api(s) => format!("{} {}", s.code, s.message),
                            other => crate::config::secret::mask_line(&other.to_string()),
                        };
                        let since = h.probe_failing.as_ref().map_or_else(Instant::now, |(t, _)| *t);
                        h.probe_failing = Some((since, why));
                    }
                    Err(_) => {
                        let since = h.probe_failing.as_ref().map_or_else(Instant::now, |(t, _)| *t);
                        h.probe_failing = Some((since, format!("no answer within {} s", PROBE_TIMEOUT.as_secs())));
                    }
                }
                // No answer at all (not an error status): the network may be
                // holding dead connections, the watches' among them.
                let unanswered = match &answer {
                    Ok(Ok(_)) => false,
                    Ok(Err(e)) => !matches!(e, kube::Error::Api(_)),
                    Err(_) => true,
                };
                if unanswered {
                    h.suspect_before = Some(Instant::now());
                }
            }
            () = &mut renewal => {
                return Followed::Reconnect("the credential is about to expire");
            }
        }
        if !report(out, h).await {
            return Followed::AppGone;
        }
    }
}

/// Reports the cluster's state when it is due; whether the app listens.
async fn report<E: From<Update>>(out: &Outbox<E>, h: &mut ClusterHealth) -> bool {
    let now = Instant::now();
    let state = h.state(now);
    if !h.due(&state, now) {
        return true;
    }
    if let Some(why) = state.failure()
        && h.reported.as_ref().and_then(SourceState::failure) != Some(why)
    {
        tracing::warn!(source = %out.id, "{why}");
    }
    h.reported = Some(state.clone());
    h.reported_at = Some(now);
    out.state(state).await
}
