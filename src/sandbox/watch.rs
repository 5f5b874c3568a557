//! Watch streams: one JSON object per line, flushed as it happens. A watch
//! from a resourceVersion replays the changes after it; one older than the
//! store keeps gets `200` and a single `ERROR` event carrying a 410
//! `Expired` Status, as the real watch cache answers (an HTTP 410 would make
//! kube-rs retry the same version forever instead of re-listing).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::api::Outage;
use super::api::selectors;
use super::error::ApiError;
use super::resource::Resource;
use super::store::{Change, ChangeKind, Store};

/// How often a watch that allows bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(15);

/// Answers a watch request.
pub fn stream(
    store: &Arc<Store>,
    r: &'static Resource,
    namespace: Option<String>,
    q: &HashMap<String, String>,
    outage: tokio::sync::watch::Receiver<Outage>,
) -> Response {
    let filter = match selectors(r, q) {
        Ok(f) => f,
        Err(e) => {
            return (
                StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST),
                [(header::CONTENT_TYPE, "application/json")],
                e.status().to_string(),
            )
                .into_response();
        }
    };
    let matches = move |o: &Value| {
        namespace
            .as_deref()
            .is_none_or(|ns| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns))
            && filter(o)
    };
    let rv = q.get("resourceVersion").filter(|v| !v.is_empty()).cloned();
    let initial = q.get("sendInitialEvents").is_some_and(|v| v == "true");
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|v| v == "true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs);
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let store = store.clone();
    tokio::spawn(async move {
        let watcher = Watcher {
            r,
            tx,
            matches: Box::new(matches),
            bookmarks,
            outage,
        };
        watcher.run(&store, rv, initial, timeout).await;
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    }));
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

struct Watcher {
    r: &'static Resource,
    tx: mpsc::Sender<Bytes>,
    matches: Box<dyn Fn(&Value) -> bool + Send + Sync>,
    bookmarks: bool,
    /// The server's outage: a black hole stalls the stream, a dead
    /// server ends it.
    outage: tokio::sync::watch::Receiver<Outage>,
}

impl Watcher {
    /// Sends one event line; `false` once the client has gone.
    async fn send(&self, kind: &str, object: &Value) -> bool {
        let mut line =
            serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
        line.push(b'\n');
        self.tx.send(Bytes::from(line)).await.is_ok()
    }

    async fn expired(&self, message: String) {
        self.send("ERROR", &ApiError::expired(message).status())
            .await;
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Value {
        let mut meta = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        json!({"kind": self.r.kind, "apiVersion": self.r.api_version(), "metadata": meta})
    }

    async fn run(
        mut self,
        store: &Store,
        rv: Option<String>,
        initial: bool,
        timeout: Option<Duration>,
    ) {
        // Unset or "0": start with every current object as ADDED.
        let from_now = rv.as_deref().is_none_or(|v| v == "0") || initial;
        let start = if from_now {
            None
        } else {
            match rv.as_deref().and_then(|v| v.parse::<u64>().ok()) {
                Some(n) => Some(n),
                None => {
                    return self
                        .expired(format!(
                            "invalid resource version: {}",
                            rv.unwrap_or_default()
                        ))
                        .await;
                }
            }
        };
        let (backlog, mut live) = match store.watch_from(start) {
            Ok(x) => x,
            Err(oldest) => {
                let asked = start.unwrap_or_default();
                return self
                    .expired(format!("too old resource version: {asked} ({oldest})"))
                    .await;
            }
        };
        let mut last = start.unwrap_or(0);
        if from_now {
            let (list_rv, items, _) = store.list(self.r, None, &|o| (self.matches)(o), None, None);
            for item in items {
                if !self.send("ADDED", &item).await {
                    return;
                }
            }
            last = list_rv;
            if initial && !self.send("BOOKMARK", &self.bookmark(list_rv, true)).await {
                return;
            }
        }
        for change in backlog {
            if !self.forward(&change, &mut last).await {
                return;
            }
        }
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let mut tick = tokio::time::interval(BOOKMARK_EVERY);
        tick.tick().await;
        loop {
            let outage = *self.outage.borrow_and_update();
            match outage {
                Outage::Dead => return,
                // Nothing carried, nothing closed: what happens meanwhile
                // waits in the buffer, as unacknowledged TCP would.
                Outage::BlackHole => {
                    tokio::select! {
                        healed = self.outage.wait_for(|o| *o != Outage::BlackHole) => {
                            if healed.is_err() { return }
                        }
                        () = self.tx.closed() => return,
                    }
                    continue;
                }
                Outage::None => {}
            }
            tokio::select! {
                _ = self.outage.changed() => {}
                change = live.recv() => match change {
                    Ok(change) => if !self.forward(&change, &mut last).await { return },
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        return self.expired(format!("too old resource version: {last} ({})", store.rv())).await;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                () = sleep_until(deadline) => {
                    if self.bookmarks {
                        self.send("BOOKMARK", &self.bookmark(last.max(store.rv()), false)).await;
                    }
                    return;
                }
                _ = tick.tick(), if self.bookmarks => {
                    if !self.send("BOOKMARK", &self.bookmark(last.max(store.rv()), false)).await { return }
                }
                () = self.tx.closed() => return,
            }
        }
    }

    /// Sends a change as the watcher sees it through its selectors: an
    /// object that starts matching is ADDED, one that stops is DELETED.
    async fn forward(&self, change: &Change, last: &mut u64) -> bool {
        if change.rv <= *last || change.resource != self.r {
            return true;
        }
        *last = change.rv;
        let now = (self.matches)(&change.object);
        let before = change.previous.as_ref().is_some_and(|p| (self.matches)(p));
        let kind = match change.kind {
            ChangeKind::Modified if now && before => "MODIFIED",
            ChangeKind::Added | ChangeKind::Modified if now => "ADDED",
            ChangeKind::Modified if before => "DELETED",
            ChangeKind::Deleted if now || before => "DELETED",
            _ => return true,
        };
        self.send(kind, &change.object).await
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
