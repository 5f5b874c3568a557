//! One kind watched in one scope, as a task: list (in pages), then watch
//! from the list's resourceVersion with bookmarks and a server-side
//! timeout, again and again; a 410 lists again. It says what it hears,
//! so the cluster's health comes from the watches themselves: a watch is
//! alive while events, bookmarks or the end of a round arrive, and one
//! that hears nothing within its idle limit (a half-open connection) is
//! abandoned and opened again. Failures back off exponentially to a cap,
//! reset only once a list succeeds (kube-runtime's watcher resets on every
//! re-list, which retries an unreachable cluster several times a second).

use std::time::Duration;

use futures_util::StreamExt as _;
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::model::cluster::RowChange;

/// The server ends each watch after this long; the next one follows.
pub(super) const WATCH_SECONDS: u32 = 20;
/// A watch that hears nothing this long (not even the end of its round)
/// is taken for a dead connection.
pub(super) const IDLE: Duration = Duration::from_secs(WATCH_SECONDS as u64 + 10);
/// Objects per list page.
const PAGE: u32 = 100;
/// Pages of one list at most (a million objects).
const MAX_PAGES: u32 = 10_000;
/// The first wait after a failure, doubled each time up to [`BACKOFF_CAP`].
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// See [`BACKOFF_FIRST`].
pub(super) const BACKOFF_CAP: Duration = Duration::from_secs(15);

/// What a watch reports.
pub(super) enum Heard<T> {
    /// Rows changed (a complete list, or one object).
    Change(T),
    /// The server answered (a bookmark, a watch opened or ended in time):
    /// the watch is alive with nothing to change.
    Alive,
    /// It failed; it will try again by itself.
    Failed {
        /// What failed.
        why: String,
        /// The server refused the credential (401): connect afresh.
        unauthorized: bool,
    },
}

/// Exponential backoff with a cap and a little jitter.
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            next: BACKOFF_FIRST,
        }
    }

    async fn wait(&mut self) {
        let jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::from(d.subsec_millis() % 250));
        tokio::time::sleep(self.next + Duration::from_millis(jitter)).await;
        self.next = (self.next * 2).min(BACKOFF_CAP);
    }

    fn reset(&mut self) {
        self.next = BACKOFF_FIRST;
    }
}

/// Why a request failed, for the operator; whether it was a 401; whether
/// the resourceVersion expired (410).
fn failure(what: &str, e: &kube::Error) -> (String, bool, bool) {
    match e {
        kube::Error::Api(s) => (
            format!("{what}: {} {}", s.code, s.message),
            s.code == 401,
            s.code == 410,
        ),
        other => (format!("{what}: {other}"), false, false),
    }
}

/// One watch's task: what it watches and where it reports.
struct Watch<K, T, E> {
    api: Api<K>,
    project: fn(&K) -> T,
    wrap: fn(RowChange<T>) -> E,
    what: String,
    index: usize,
    tx: mpsc::Sender<(usize, Heard<E>)>,
    backoff: Backoff,
}

/// How a round of watching ended.
enum Round {
    /// Watch again from the version reached.
    Again,
    /// The version expired (410): list again.
    List,
    /// Nobody listens any more.
    Gone,
}

impl<K, T, E> Watch<K, T, E>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    async fn send(&self, heard: Heard<E>) -> bool {
        self.tx.send((self.index, heard)).await.is_ok()
    }

    /// Reports a failure and waits out the backoff; whether to go on.
    async fn failed(&mut self, why: String, unauthorized: bool) -> bool {
        if !self.send(Heard::Failed { why, unauthorized }).await {
            return false;
        }
        self.backoff.wait().await;
        true
    }

    /// Lists, then watches round after round, until nobody listens.
    async fn run(mut self, scope: Option<String>) {
        loop {
            let (rows, mut version) = match list(&self.api, self.project).await {
                Ok(listed) => listed,
                Err(e) => {
                    let (why, unauthorized, _) = failure(&format!("list {}", self.what), &e);
                    if !self.failed(why, unauthorized).await {
                        return;
                    }
                    continue;
                }
            };
            let listed = (self.wrap)(RowChange::Listed(scope.clone(), rows));
            if !self.send(Heard::Change(listed)).await {
                return;
            }
            self.backoff.reset();
            loop {
                match self.round(&mut version).await {
                    Round::Again => {}
                    Round::List => break,
                    Round::Gone => return,
                }
            }
        }
    }

    /// One watch request, followed until it ends.
    async fn round(&mut self, version: &mut String) -> Round {
        let params = WatchParams::default().timeout(WATCH_SECONDS);
        let what = self.what.clone();
        let stream = match tokio::time::timeout(IDLE, self.api.watch(&params, version)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let (why, unauthorized, expired) = failure(&format!("watch {what}"), &e);
                return if expired {
                    Round::List
                } else if self.failed(why, unauthorized).await {
                    Round::Again
                } else {
                    Round::Gone
                };
            }
            Err(_) => {
                let why = format!("watch {what}: no answer within {} s", IDLE.as_secs());
                return if self.failed(why, false).await {
                    Round::Again
                } else {
                    Round::Gone
                };
            }
        };
        if !self.send(Heard::Alive).await {
            return Round::Gone;
        }
        let mut stream = std::pin::pin!(stream);
        loop {
            // `over`: this round has ended; the next opens at once.
            let (heard, over) = match tokio::time::timeout(IDLE, stream.next()).await {
                // Silent past its own timeout: a connection that stopped
                // carrying anything.
                Err(_) => (
                    Heard::Failed {
                        why: format!("watch {what}: silent past its own timeout"),
                        unauthorized: false,
                    },
                    true,
                ),
                // The round ended as the server said it would.
                Ok(None) => (Heard::Alive, true),
                Ok(Some(Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)))) => {
                    if let Some(v) = o.resource_version() {
                        *version = v;
                    }
                    let row = (self.project)(&o);
                    (Heard::Change((self.wrap)(RowChange::Applied(row))), false)
                }
                Ok(Some(Ok(WatchEvent::Deleted(o)))) => {
                    if let Some(v) = o.resource_version() {
                        *version = v;
                    }
                    (
                        Heard::Change((self.wrap)(RowChange::Deleted(key(&o)))),
                        false,
                    )
                }
                Ok(Some(Ok(WatchEvent::Bookmark(b)))) => {
                    version.clone_from(&b.metadata.resource_version);
                    (Heard::Alive, false)
                }
                Ok(Some(Ok(WatchEvent::Error(s)))) if s.code == 410 => return Round::List,
                Ok(Some(Ok(WatchEvent::Error(s)))) => {
                    let why = format!("watch {what}: {} {}", s.code, s.message);
                    return if self.failed(why, s.code == 401).await {
                        Round::Again
                    } else {
                        Round::Gone
                    };
                }
                Ok(Some(Err(e))) => {
                    let (why, unauthorized, _) = failure(&format!("watch {what}"), &e);
                    return if self.failed(why, unauthorized).await {
                        Round::Again
                    } else {
                        Round::Gone
                    };
                }
            };
            if !self.send(heard).await {
                return Round::Gone;
            }
            if over {
                return Round::Again;
            }
        }
    }
}

/// Watches `api` in `scope` (a namespace, or all) until `tx` is closed,
/// sending each row change and sign of life tagged with `index`.
pub(super) async fn watch<K, T, E>(
    api: Api<K>,
    scope: Option<String>,
    project: fn(&K) -> T,
    wrap: fn(RowChange<T>) -> E,
    what: String,
    index: usize,
    tx: mpsc::Sender<(usize, Heard<E>)>,
) where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let w = Watch {
        api,
        project,
        wrap,
        what,
        index,
        tx,
        backoff: Backoff::new(),
    };
    w.run(scope).await;
}

/// An object's key in its table: `namespace/name`, or the name.
fn key<K: Resource>(o: &K) -> String {
    match o.namespace() {
        Some(ns) => format!("{ns}/{}", o.name_any()),
        None => o.name_any(),
    }
}

/// Every object, page by page, projected; and the list's resourceVersion.
async fn list<K, T>(api: &Api<K>, project: fn(&K) -> T) -> Result<(Vec<T>, String), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut rows = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    for _ in 0..MAX_PAGES {
        let page = api.list(&params).await?;
        rows.extend(page.items.iter().map(project));
        let version = page.metadata.resource_version.unwrap_or_default();
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(next) => params = params.continue_token(&next),
            None => return Ok((rows, version)),
        }
    }
    Err(kube::Error::Service(
        format!("a list of more than {} objects", MAX_PAGES * PAGE).into(),
    ))
}
