//! Pod logs, streamed on demand (kube-rs `log_stream`): a pod's, or every
//! pod of a deployment's, interleaved. Lines are sent in batches (at most
//! every [`BATCH`] or [`BATCH_LINES`] lines), so a pod writing a thousand
//! lines a second costs the event loop twenty events, not a thousand. A
//! view's streams end when it is closed.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::io::AsyncBufReadExt as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams as KubeLogParams};
use kube::{Api, Client};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Platform;
use crate::config::secret::mask_line;
use crate::model::Update;
use crate::model::cluster::ObjectRef;
use crate::model::logs::{LogCommand, LogParams, short_pod};

/// How long lines wait to be sent together, at most.
const BATCH: Duration = Duration::from_millis(50);
/// Lines sent together, at most.
const BATCH_LINES: usize = 500;
/// Pods of a deployment streamed together, at most.
const MAX_PODS: usize = 10;
/// How long a followed log may stay silent (a quiet pod's): the stream's
/// socket reads wait this long, not the detail view's ten seconds.
const QUIET: Duration = Duration::from_secs(24 * 3600);
/// How long connecting and starting a stream may take.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the log fetcher; returns where to send its commands.
pub fn spawn_logs<E: From<Update> + Send + 'static>(
    platform: &Platform,
    tx: &mpsc::Sender<E>,
) -> mpsc::UnboundedSender<LogCommand> {
    let (commands, mut rx) = mpsc::unbounded_channel::<LogCommand>();
    let mut clients = super::auth::OnDemand::new(platform, OPEN_TIMEOUT, QUIET);
    let tx = tx.clone();
    tokio::spawn(async move {
        let mut open: HashMap<u64, JoinHandle<()>> = HashMap::new();
        while let Some(command) = rx.recv().await {
            match command {
                LogCommand::Close(id) => {
                    if let Some(task) = open.remove(&id) {
                        task.abort();
                    }
                }
                LogCommand::Open { id, object, params } => {
                    let client = clients.client(&object.cluster, &object).await;
                    let tx = tx.clone();
                    match client {
                        Ok(c) => {
                            let task = tokio::spawn(stream_view(c, id, object, params, tx));
                            if let Some(old) = open.insert(id, task) {
                                old.abort();
                            }
                        }
                        Err(why) => ended(&tx, id, object.name.clone(), Some(why)).await,
                    }
                }
            }
        }
        for (_, task) in open {
            task.abort();
        }
    });
    commands
}

/// Streams every pod of the view's object until each stream ends.
async fn stream_view<E: From<Update> + Send + 'static>(
    client: Client,
    id: u64,
    object: ObjectRef,
    params: LogParams,
    tx: mpsc::Sender<E>,
) {
    let namespace = object.namespace.clone().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let names = match object.kind {
        "Deployment" => match deployment_pods(&client, &namespace, &object.name).await {
            Ok(names) => names,
            Err(why) => {
                ended(&tx, id, object.name.clone(), Some(why)).await;
                return;
            }
        },
        _ => vec![object.name.clone()],
    };
    let prefixed = object.kind == "Deployment";
    let streams = names.into_iter().map(|name| {
        let pods = pods.clone();
        let params = params.clone();
        let tx = tx.clone();
        async move {
            let why = stream_pod(&pods, id, &name, prefixed, &params, &tx)
                .await
                .err();
            ended(&tx, id, name, why).await;
        }
    });
    futures_util::future::join_all(streams).await;
}

/// The names of a deployment's pods, by its selector.
async fn deployment_pods(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Vec<String>, String> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let d = tokio::time::timeout(OPEN_TIMEOUT, deployments.get(name))
        .await
        .map_err(|_| format!("Deployment {namespace}/{name}: no answer in time"))?
        .map_err(|e| format!("Deployment {namespace}/{name}: {e}"))?;
    let selector: Vec<String> = d
        .spec
        .and_then(|s| s.selector.match_labels)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if selector.is_empty() {
        return Err(format!(
            "Deployment {namespace}/{name} selects its pods by no label: touban cannot list them"
        ));
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = tokio::time::timeout(
        OPEN_TIMEOUT,
        pods.list(&ListParams::default().labels(&selector.join(","))),
    )
    .await
    .map_err(|_| format!("the pods of {namespace}/{name}: no answer in time"))?
    .map_err(|e| format!("the pods of {namespace}/{name}: {e}"))?;
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    names.sort();
    names.truncate(MAX_PODS);
    if names.is_empty() {
        return Err(format!("Deployment {namespace}/{name} has no pod"));
    }
    Ok(names)
}

/// The container kubectl would read: the pod's
/// `kubectl.kubernetes.io/default-container`, else its first; none when
/// the pod cannot be read (the API server then says what it needs).
async fn default_container(pods: &Api<Pod>, name: &str) -> Option<String> {
    let pod = tokio::time::timeout(OPEN_TIMEOUT, pods.get(name))
        .await
        .ok()?
        .ok()?;
    let annotated = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("kubectl.kubernetes.io/default-container"))
        .cloned();
    annotated.or_else(|| pod.spec?.containers.first().map(|c| c.name.clone()))
}

/// The line in `buf` (its newline, and a carriage return, dropped),
/// leaving `buf` empty.
fn take_line(buf: &mut Vec<u8>) -> String {
    let mut line = String::from_utf8_lossy(buf).into_owned();
    buf.clear();
    while line.ends_with(['\n', '\r']) {
        line.pop();
    }
    // An application may log its own DSN: its password never reaches
    // the screen or a saved file.
    mask_line(&line)
}

/// Tells the view one of its streams ended, and why when it failed (the
/// API server's or the connection's words, credentials masked).
async fn ended<E: From<Update>>(tx: &mpsc::Sender<E>, id: u64, pod: String, why: Option<String>) {
    let why = why.map(|w| mask_line(&w));
    let _ = tx.send(E::from(Update::LogEnded { id, pod, why })).await;
}

/// Streams one pod's log in batches, until it ends.
async fn stream_pod<E: From<Update> + Send + 'static>(
    pods: &Api<Pod>,
    id: u64,
    name: &str,
    prefixed: bool,
    params: &LogParams,
    tx: &mpsc::Sender<E>,
) -> Result<(), String> {
    let container = match &params.container {
        Some(c) => Some(c.clone()),
        None => default_container(pods, name).await,
    };
    let lp = KubeLogParams {
        container,
        follow: params.follow,
        previous: params.previous,
        since_seconds: params.since_seconds,
        tail_lines: params.tail_lines,
        ..KubeLogParams::default()
    };
    let reader = tokio::time::timeout(OPEN_TIMEOUT, pods.log_stream(name, &lp))
        .await
        .map_err(|_| format!("pod {name}: the log did not start in time"))?
        .map_err(|e| format!("pod {name}: {e}"))?;
    // Lines read as bytes: one that is not UTF-8 is shown with
    // replacement characters, not the end of the stream.
    let mut reader = std::pin::pin!(reader);
    let pod = prefixed.then(|| short_pod(name));
    let mut buf: Vec<u8> = Vec::new();
    let mut batch: Vec<String> = Vec::new();
    // A batch goes at most BATCH after its first line, however steadily
    // lines keep coming.
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let read = reader.read_until(b'\n', &mut buf);
        let next = match deadline {
            None => Ok(read.await),
            Some(d) => tokio::time::timeout_at(d, read).await,
        };
        let ended = match next {
            Ok(Ok(0)) => {
                if !buf.is_empty() {
                    batch.push(take_line(&mut buf));
                }
                Some(Ok(()))
            }
            Ok(Ok(_)) => {
                if buf.last() == Some(&b'\n') {
                    batch.push(take_line(&mut buf));
                    deadline.get_or_insert_with(|| tokio::time::Instant::now() + BATCH);
                }
                if batch.len() < BATCH_LINES
                    && deadline.is_none_or(|d| tokio::time::Instant::now() < d)
                {
                    continue;
                }
                None
            }
            Ok(Err(e)) => Some(Err(format!("pod {name}: the log stream failed: {e}"))),
            Err(_) => None,
        };
        deadline = None;
        if !batch.is_empty() {
            let update = Update::LogLines {
                id,
                pod: pod.clone(),
                lines: std::mem::take(&mut batch),
            };
            if tx.send(E::from(update)).await.is_err() {
                return Ok(());
            }
        }
        if let Some(end) = ended {
            return end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::take_line;

    #[test]
    fn a_line_is_taken_whole_lossy_and_masked() {
        let mut buf = b"connecting to postgres://app:s3cret@db:5432/iworkz \xff\r\n".to_vec();
        let line = take_line(&mut buf);
        assert!(buf.is_empty());
        assert_eq!(
            line,
            "connecting to postgres://app:****@db:5432/iworkz \u{fffd}"
        );
    }
}
