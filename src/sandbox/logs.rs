//! Pod logs, as the kubelet serves them through the API server:
//! `GET /api/v1/namespaces/{ns}/pods/{name}/log` with `container`,
//! `follow`, `previous`, `sinceSeconds`, `tailLines` and `timestamps`,
//! plain text, a line per entry. Each container writes a line every
//! [`EVERY`] from its start, in its service's own shape: JSON request
//! logs for backend-api, gunicorn's access lines for ai-services, nginx's
//! for web-frontend; a crash-looping container's previous run ends in the
//! stack trace that killed it. A line's content is a function of the pod
//! and its number, so the same request reads the same lines.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::error::ApiError;
use super::resource::Resource;
use super::store::Store;

/// How often a container writes a line.
pub const EVERY: Duration = Duration::from_millis(500);

/// Lines a container's log keeps (older ones are rotated away).
const KEPT: u64 = 5000;

/// The shape of a service's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// JSON request logs.
    Json,
    /// gunicorn's access log.
    Gunicorn,
    /// nginx's combined log format.
    Nginx,
    /// Anything else: a plain heartbeat.
    Plain,
}

impl Shape {
    fn of(app: &str) -> Shape {
        match app {
            "backend-api" => Shape::Json,
            "ai-services" => Shape::Gunicorn,
            "web-frontend" => Shape::Nginx,
            _ => Shape::Plain,
        }
    }
}

/// 64 bits from a pod's name and a line's number (FNV-1a, then mixed).
fn hash(pod: &str, n: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in pod.bytes().chain(n.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ (h >> 29)
}

fn stamp(t: SystemTime) -> jiff::Timestamp {
    jiff::Timestamp::try_from(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// Line `n` of `pod`'s container, written at `at`.
fn line(shape: Shape, pod: &str, container: &str, n: u64, at: SystemTime) -> String {
    let h = hash(pod, n);
    let ts = stamp(at);
    let pick = |options: &[&'static str], salt: u32| {
        let i = usize::try_from((h >> salt) % options.len() as u64).unwrap_or(0);
        options[i]
    };
    let status = match h % 50 {
        0 => 503,
        1 | 2 => 404,
        _ => 200,
    };
    let ms = 5 + (h >> 8) % 240;
    match shape {
        Shape::Json => {
            let path = pick(
                &[
                    "/api/v1/jobs",
                    "/api/v1/users/me",
                    "/api/v1/search",
                    "/healthz",
                ],
                12,
            );
            let level = if status >= 500 { "error" } else { "info" };
            format!(
                r#"{{"time":"{}","level":"{level}","msg":"request","method":"{}","path":"{path}","status":{status},"duration_ms":{ms},"request_id":"{:08x}"}}"#,
                ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
                pick(&["GET", "GET", "POST"], 16),
                h >> 32
            )
        }
        Shape::Gunicorn => format!(
            r#"[{}] [{}] [INFO] 10.0.{}.{} "POST /v1/{} HTTP/1.1" {status} {}.{:03}s"#,
            ts.strftime("%Y-%m-%d %H:%M:%S +0000"),
            7 + h % 4,
            (h >> 4) % 4,
            2 + (h >> 6) % 200,
            pick(&["predict", "predict", "embed"], 14),
            ms / 1000,
            ms % 1000
        ),
        Shape::Nginx => format!(
            r#"10.0.{}.{} - - [{}] "GET {} HTTP/1.1" {status} {} "-" "Mozilla/5.0""#,
            (h >> 4) % 4,
            2 + (h >> 6) % 200,
            ts.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            pick(
                &[
                    "/",
                    "/assets/app.3f2a.js",
                    "/assets/app.9c1e.css",
                    "/favicon.ico"
                ],
                12
            ),
            200 + (h >> 20) % 60_000
        ),
        Shape::Plain => format!(
            "{} INFO {container}: heartbeat {n}",
            ts.strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
    }
}

/// The end of a crash-looping container's previous run.
fn crash(shape: Shape, container: &str, at: SystemTime) -> Vec<String> {
    let ts = stamp(at).strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    match shape {
        Shape::Json => vec![
            format!(r#"{{"time":"{ts}","level":"info","msg":"starting","service":"{container}"}}"#),
            format!(
                r#"{{"time":"{ts}","level":"fatal","msg":"cannot reach the database","error":"connect ECONNREFUSED 10.0.2.15:5432"}}"#
            ),
            "Error: connect ECONNREFUSED 10.0.2.15:5432".to_owned(),
            "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)".to_owned(),
            "    at Pool.connect (/app/node_modules/pg-pool/index.js:45:11)".to_owned(),
            "    at async main (/app/dist/server.js:88:5)".to_owned(),
        ],
        Shape::Gunicorn => vec![
            "Traceback (most recent call last):".to_owned(),
            "  File \"/app/serve.py\", line 41, in <module>".to_owned(),
            "    model = load_model(os.environ[\"MODEL_PATH\"])".to_owned(),
            "RuntimeError: CUDA out of memory".to_owned(),
        ],
        Shape::Nginx | Shape::Plain => vec![format!(
            "{ts} [emerg] 1#1: host not found in upstream \"{container}\""
        )],
    }
}

/// What a log request asked.
struct Ask {
    container: String,
    follow: bool,
    previous: bool,
    since: Option<u64>,
    tail: Option<u64>,
    timestamps: bool,
}

fn flag(q: &HashMap<String, String>, key: &str) -> bool {
    q.get(key).is_some_and(|v| v == "true" || v == "1")
}

fn number(q: &HashMap<String, String>, key: &str) -> Result<Option<u64>, ApiError> {
    q.get(key)
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "{key}: must be a non-negative integer, got {v:?}"
                    ))
                })
        })
        .transpose()
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn parsed(t: &str) -> Option<SystemTime> {
    let ts = t.parse::<jiff::Timestamp>().ok()?;
    let nanos = u64::try_from(ts.as_nanosecond()).ok()?;
    Some(std::time::UNIX_EPOCH + Duration::from_nanos(nanos))
}

/// The container a request names, or the pod's only one.
fn container_of(pod: &Value, name: &str, q: &HashMap<String, String>) -> Result<String, ApiError> {
    let containers: Vec<String> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().map(|c| str_at(c, "/name").to_owned()).collect())
        .unwrap_or_default();
    match q.get("container") {
        Some(c) if containers.contains(c) => Ok(c.clone()),
        Some(c) => Err(ApiError::bad_request(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            containers.join(" ")
        ))),
    }
}

/// A container's previous, terminated, run: the end of its crash.
fn previous_run(ask: &Ask, status: &Value, shape: Shape, name: &str) -> Result<Response, ApiError> {
    let Some(ended) = status
        .pointer("/lastState/terminated/finishedAt")
        .and_then(Value::as_str)
        .and_then(parsed)
    else {
        return Err(ApiError::bad_request(format!(
            "previous terminated container \"{}\" in pod \"{name}\" not found",
            ask.container
        )));
    };
    let mut lines = crash(shape, &ask.container, ended);
    if let Some(tail) = ask.tail {
        let keep = usize::try_from(tail).unwrap_or(usize::MAX);
        lines.drain(..lines.len().saturating_sub(keep));
    }
    let text: String = lines.iter().map(|l| stamped(ask, ended, l)).collect();
    Ok(plain(Body::from(text)))
}

/// Serves a pod's log; see the module.
pub fn serve(
    store: &Store,
    pods: &'static Resource,
    namespace: &str,
    name: &str,
    q: &HashMap<String, String>,
    outage: tokio::sync::watch::Receiver<super::api::Outage>,
) -> Result<Response, ApiError> {
    let pod = store
        .get(pods, namespace, name)
        .ok_or_else(|| ApiError::not_found(pods, name))?;
    let container = container_of(&pod, name, q)?;
    let ask = Ask {
        container,
        follow: flag(q, "follow"),
        previous: flag(q, "previous"),
        since: number(q, "sinceSeconds")?,
        tail: number(q, "tailLines")?,
        timestamps: flag(q, "timestamps"),
    };
    let status = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["name"] == ask.container.as_str()))
        .cloned()
        .unwrap_or(Value::Null);
    let app = str_at(&pod, "/metadata/labels/app").to_owned();
    let shape = Shape::of(&app);
    if ask.previous {
        return previous_run(&ask, &status, shape, name);
    }
    let Some(started) = status
        .pointer("/state/running/startedAt")
        .and_then(Value::as_str)
        .and_then(parsed)
    else {
        let reason = status
            .pointer("/state/waiting/reason")
            .and_then(Value::as_str)
            .unwrap_or("ContainerCreating");
        return Err(ApiError::bad_request(format!(
            "container \"{}\" in pod \"{name}\" is waiting to start: {reason}",
            ask.container
        )));
    };
    let now = SystemTime::now();
    let written = |t: SystemTime| -> u64 {
        let d = t.duration_since(started).unwrap_or_default();
        u64::try_from(d.as_millis() / EVERY.as_millis()).unwrap_or(u64::MAX)
    };
    let end = written(now);
    let mut first = end.saturating_sub(KEPT);
    if let Some(s) = ask.since {
        // The first line written at or after the cutoff.
        let cutoff = now.checked_sub(Duration::from_secs(s));
        first = first.max(cutoff.map_or(0, written).min(end));
    }
    if let Some(t) = ask.tail {
        first = first.max(end.saturating_sub(t));
    }
    let at = move |n: u64| started + EVERY * u32::try_from(n + 1).unwrap_or(u32::MAX);
    let pod_name = name.to_owned();
    let history: String = (first..end)
        .map(|n| {
            stamped(
                &ask,
                at(n),
                &line(shape, &pod_name, &ask.container, n, at(n)),
            )
        })
        .collect();
    if !ask.follow {
        return Ok(plain(Body::from(history)));
    }
    let written = Written {
        shape,
        pod: pod_name,
        container: ask.container.clone(),
        started,
        timestamps: ask.timestamps,
    };
    Ok(plain(follow(history, end, written, outage)))
}

/// What a followed stream writes: whose lines, from when.
struct Written {
    shape: Shape,
    pod: String,
    container: String,
    started: SystemTime,
    timestamps: bool,
}

/// Follow: the history, then each line as it is written, until the client
/// goes (the stream is dropped with its connection).
fn follow(
    history: String,
    end: u64,
    w: Written,
    outage: tokio::sync::watch::Receiver<super::api::Outage>,
) -> Body {
    let w = std::sync::Arc::new(w);
    let stream = futures_util::stream::unfold(
        (Some(history), end, outage),
        move |(first, n, mut outage)| {
            let w = w.clone();
            async move {
                if let Some(h) = first {
                    return Some((
                        Ok::<Bytes, std::io::Error>(Bytes::from(h)),
                        (None, n, outage),
                    ));
                }
                let due = w.started + EVERY * u32::try_from(n + 1).unwrap_or(u32::MAX);
                if let Ok(wait) = due.duration_since(SystemTime::now()) {
                    tokio::time::sleep(wait).await;
                }
                // A black hole: nothing more, until it heals; a dead
                // server: the stream is cut, as its connection would be.
                let healed = outage
                    .wait_for(|o| *o != super::api::Outage::BlackHole)
                    .await
                    .map(|o| *o);
                if !matches!(healed, Ok(super::api::Outage::None)) {
                    return None;
                }
                let text = line(w.shape, &w.pod, &w.container, n, due);
                let out = if w.timestamps {
                    format!("{} {text}\n", stamp(due))
                } else {
                    format!("{text}\n")
                };
                Some((Ok(Bytes::from(out)), (None, n + 1, outage)))
            }
        },
    );
    Body::from_stream(stream)
}

fn stamped(ask: &Ask, at: SystemTime, text: &str) -> String {
    if ask.timestamps {
        format!("{} {text}\n", stamp(at))
    } else {
        format!("{text}\n")
    }
}

fn plain(body: Body) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}
