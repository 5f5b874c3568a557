//! Server-side printing: a list or an object answered as a
//! `meta.k8s.io/v1` Table when the client asks for one
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), with the
//! columns `kubectl get` prints for each kind (priority 1 columns only
//! with `-o wide`). kubectl prefixes NAMESPACE itself from each row's
//! object metadata.

use serde_json::{Value, json};

use super::resource::Resource;

/// The Table version the client accepts, if it asks for a Table.
pub fn wanted(accept: &str) -> Option<&'static str> {
    accept.split(',').find_map(|media| {
        let parts: Vec<&str> = media.split(';').map(str::trim).collect();
        let table = parts.contains(&"as=Table") && parts.contains(&"g=meta.k8s.io");
        table.then(|| {
            if parts.contains(&"v=v1beta1") {
                "v1beta1"
            } else {
                "v1"
            }
        })
    })
}

/// `body` (a list when `list`, else one object) as a Table; each row's
/// object is its metadata (`Metadata`, the default), the whole object
/// (`Object`), or nothing (`None`).
pub fn convert(r: &Resource, body: &Value, list: bool, include: &str, version: &str) -> Value {
    let items: Vec<&Value> = if list {
        body["items"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    } else {
        vec![body]
    };
    let now = jiff::Timestamp::now();
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut row = json!({"cells": cells(r.kind, o, now)});
            match include {
                "None" => {}
                "Object" => row["object"] = (*o).clone(),
                _ => {
                    row["object"] = json!({"kind": "PartialObjectMetadata",
                        "apiVersion": format!("meta.k8s.io/{version}"), "metadata": o["metadata"]});
                }
            }
            row
        })
        .collect();
    let metadata = if list {
        body["metadata"].clone()
    } else {
        json!({"resourceVersion": body["metadata"]["resourceVersion"]})
    };
    json!({"kind": "Table", "apiVersion": format!("meta.k8s.io/{version}"), "metadata": metadata,
        "columnDefinitions": columns(r.kind), "rows": rows})
}

/// A column: name, type, and 1 for the `-o wide` ones.
fn column(name: &str, kind: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": kind, "format": format, "description": "", "priority": priority})
}

fn columns(kind: &str) -> Vec<Value> {
    let s = |n: &str| column(n, "string", 0);
    let int = |n: &str| column(n, "integer", 0);
    let wide = |n: &str| column(n, "string", 1);
    match kind {
        "Pod" => vec![
            s("Name"),
            s("Ready"),
            s("Status"),
            s("Restarts"),
            s("Age"),
            wide("IP"),
            wide("Node"),
        ],
        "Deployment" => vec![
            s("Name"),
            s("Ready"),
            int("Up-to-date"),
            int("Available"),
            s("Age"),
            wide("Containers"),
            wide("Images"),
        ],
        "ReplicaSet" => vec![
            s("Name"),
            int("Desired"),
            int("Current"),
            int("Ready"),
            s("Age"),
            wide("Containers"),
            wide("Images"),
        ],
        "Node" => vec![s("Name"), s("Status"), s("Roles"), s("Age"), s("Version")],
        "Service" => vec![
            s("Name"),
            s("Type"),
            s("Cluster-IP"),
            s("External-IP"),
            s("Port(s)"),
            s("Age"),
            wide("Selector"),
        ],
        "HorizontalPodAutoscaler" => vec![
            s("Name"),
            s("Reference"),
            s("Targets"),
            int("MinPods"),
            int("MaxPods"),
            int("Replicas"),
            s("Age"),
        ],
        "Event" => vec![
            s("Last Seen"),
            s("Type"),
            s("Reason"),
            s("Object"),
            s("Message"),
        ],
        "ConfigMap" => vec![s("Name"), int("Data"), s("Age")],
        "Secret" => vec![s("Name"), s("Type"), int("Data"), s("Age")],
        "Namespace" => vec![s("Name"), s("Status"), s("Age")],
        "Endpoints" => vec![s("Name"), s("Endpoints"), s("Age")],
        _ => vec![s("Name"), column("Created At", "date", 0)],
    }
}

fn text<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

fn int(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

/// How kubectl shows an age: `45s`, `3m12s`, `25m`, `4h12m`, `20h`, `3d4h`, `30d`.
pub fn human(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..120 => format!("{s}s"),
        120..600 => format!("{}m{}s", s / 60, s % 60),
        600..10_800 => format!("{}m", s / 60),
        10_800..28_800 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        28_800..172_800 => format!("{}h", s / 3600),
        172_800..691_200 => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn age(v: &Value, ptr: &str, now: jiff::Timestamp) -> String {
    text(v, ptr).parse::<jiff::Timestamp>().map_or_else(
        |_| "<unknown>".to_owned(),
        |t| human(now.as_second() - t.as_second()),
    )
}

fn list_of(v: &Value, ptr: &str) -> Vec<Value> {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn or_none(s: String) -> String {
    if s.is_empty() { "<none>".to_owned() } else { s }
}

/// What each kind's cells are made from.
#[derive(Clone, Copy)]
struct Row<'a> {
    o: &'a Value,
    name: &'a str,
    created: &'a str,
    now: jiff::Timestamp,
}

fn cells(kind: &str, o: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let name = text(o, "/metadata/name");
    let created = age(o, "/metadata/creationTimestamp", now);
    let row = Row {
        o,
        name,
        created: &created,
        now,
    };
    let containers = |ptr: &str, field: &str| {
        list_of(o, ptr)
            .iter()
            .map(|c| text(c, &format!("/{field}")).to_owned())
            .collect::<Vec<_>>()
            .join(",")
    };
    match kind {
        "Pod" => pod_cells(&row),
        "Deployment" => vec![
            json!(name),
            json!(format!(
                "{}/{}",
                int(o, "/status/readyReplicas"),
                int(o, "/spec/replicas")
            )),
            json!(int(o, "/status/updatedReplicas")),
            json!(int(o, "/status/availableReplicas")),
            json!(created),
            json!(containers("/spec/template/spec/containers", "name")),
            json!(containers("/spec/template/spec/containers", "image")),
        ],
        "ReplicaSet" => vec![
            json!(name),
            json!(int(o, "/spec/replicas")),
            json!(int(o, "/status/replicas")),
            json!(int(o, "/status/readyReplicas")),
            json!(created),
            json!(containers("/spec/template/spec/containers", "name")),
            json!(containers("/spec/template/spec/containers", "image")),
        ],
        "Node" => node_cells(&row),
        "Service" => service_cells(&row),
        "HorizontalPodAutoscaler" => hpa_cells(&row),
        "Event" => event_cells(&row),
        "ConfigMap" => vec![
            json!(name),
            json!(
                o.get("data")
                    .and_then(Value::as_object)
                    .map_or(0, serde_json::Map::len)
            ),
            json!(created),
        ],
        "Secret" => vec![
            json!(name),
            json!(text(o, "/type")),
            json!(
                o.get("data")
                    .and_then(Value::as_object)
                    .map_or(0, serde_json::Map::len)
            ),
            json!(created),
        ],
        "Namespace" => vec![json!(name), json!(text(o, "/status/phase")), json!(created)],
        "Endpoints" => endpoint_cells(&row),
        _ => vec![json!(name), json!(text(o, "/metadata/creationTimestamp"))],
    }
}

fn pod_cells(row: &Row<'_>) -> Vec<Value> {
    let Row {
        o,
        name,
        created,
        now,
        ..
    } = *row;
    let statuses = list_of(o, "/status/containerStatuses");
    let ready = statuses.iter().filter(|c| c["ready"] == true).count();
    let total = list_of(o, "/spec/containers").len().max(statuses.len());
    let restarts: i64 = statuses.iter().map(|c| int(c, "/restartCount")).sum();
    let last = statuses
        .iter()
        .filter_map(|c| c.pointer("/lastState/terminated/finishedAt"))
        .filter_map(|t| t.as_str()?.parse::<jiff::Timestamp>().ok())
        .max();
    let restarts = match last {
        Some(t) if restarts > 0 => {
            format!(
                "{restarts} ({} ago)",
                human(now.as_second() - t.as_second())
            )
        }
        _ => restarts.to_string(),
    };
    let reason = statuses.iter().find_map(|c| {
        c.pointer("/state/waiting/reason")
            .or_else(|| c.pointer("/state/terminated/reason"))
            .and_then(Value::as_str)
    });
    let status = if o.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else {
        reason.unwrap_or_else(|| text(o, "/status/phase"))
    };
    vec![
        json!(name),
        json!(format!("{ready}/{total}")),
        json!(status),
        json!(restarts),
        json!(created),
        json!(or_none(text(o, "/status/podIP").to_owned())),
        json!(or_none(text(o, "/spec/nodeName").to_owned())),
    ]
}

fn node_cells(row: &Row<'_>) -> Vec<Value> {
    let Row {
        o, name, created, ..
    } = *row;
    let ready = list_of(o, "/status/conditions")
        .iter()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    let mut status = if ready { "Ready" } else { "NotReady" }.to_owned();
    if o.pointer("/spec/unschedulable") == Some(&json!(true)) {
        status.push_str(",SchedulingDisabled");
    }
    let roles: Vec<&str> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/"))
        .collect();
    vec![
        json!(name),
        json!(status),
        json!(or_none(roles.join(","))),
        json!(created),
        json!(text(o, "/status/nodeInfo/kubeletVersion")),
    ]
}

fn service_cells(row: &Row<'_>) -> Vec<Value> {
    let Row {
        o, name, created, ..
    } = *row;
    let ports: Vec<String> = list_of(o, "/spec/ports")
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                int(p, "/port"),
                p.get("protocol").and_then(Value::as_str).unwrap_or("TCP")
            )
        })
        .collect();
    let selector: Vec<String> = o
        .pointer("/spec/selector")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    vec![
        json!(name),
        json!(text(o, "/spec/type")),
        json!(or_none(text(o, "/spec/clusterIP").to_owned())),
        json!("<none>"),
        json!(or_none(ports.join(","))),
        json!(created),
        json!(or_none(selector.join(","))),
    ]
}

fn hpa_cells(row: &Row<'_>) -> Vec<Value> {
    let Row {
        o, name, created, ..
    } = *row;
    let current = list_of(o, "/status/currentMetrics");
    let targets: Vec<String> = list_of(o, "/spec/metrics")
        .iter()
        .filter_map(|m| {
            let metric = m.pointer("/resource/name")?.as_str()?;
            let goal = m.pointer("/resource/target/averageUtilization")?.as_i64()?;
            let used = current
                .iter()
                .find(|c| c.pointer("/resource/name").and_then(Value::as_str) == Some(metric))
                .and_then(|c| c.pointer("/resource/current/averageUtilization")?.as_i64())
                .map_or_else(|| "<unknown>".to_owned(), |u| format!("{u}%"));
            Some(format!("{metric}: {used}/{goal}%"))
        })
        .collect();
    vec![
        json!(name),
        json!(format!(
            "{}/{}",
            text(o, "/spec/scaleTargetRef/kind"),
            text(o, "/spec/scaleTargetRef/name")
        )),
        json!(or_none(targets.join(", "))),
        json!(
            o.pointer("/spec/minReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(1)
        ),
        json!(int(o, "/spec/maxReplicas")),
        json!(int(o, "/status/currentReplicas")),
        json!(created),
    ]
}

fn event_cells(row: &Row<'_>) -> Vec<Value> {
    let Row { o, now, .. } = *row;
    let count = int(o, "/count");
    let seen = age(o, "/lastTimestamp", now);
    let seen = if count > 1 {
        format!("{seen} (x{count} over {})", age(o, "/firstTimestamp", now))
    } else {
        seen
    };
    vec![
        json!(seen),
        json!(text(o, "/type")),
        json!(text(o, "/reason")),
        json!(format!(
            "{}/{}",
            text(o, "/involvedObject/kind").to_lowercase(),
            text(o, "/involvedObject/name")
        )),
        json!(text(o, "/message")),
    ]
}

fn endpoint_cells(row: &Row<'_>) -> Vec<Value> {
    let Row {
        o, name, created, ..
    } = *row;
    let addresses: Vec<String> = list_of(o, "/subsets")
        .iter()
        .flat_map(|s| {
            let ports = list_of(s, "/ports");
            let port = ports.first().map_or(0, |p| int(p, "/port"));
            list_of(s, "/addresses")
                .iter()
                .map(|a| format!("{}:{port}", text(a, "/ip")))
                .collect::<Vec<_>>()
        })
        .collect();
    let shown = if addresses.len() > 3 {
        format!(
            "{} + {} more...",
            addresses[..3].join(","),
            addresses.len() - 3
        )
    } else {
        or_none(addresses.join(","))
    };
    vec![json!(name), json!(shown), json!(created)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        assert_eq!(human(45), "45s");
        assert_eq!(human(192), "3m12s");
        assert_eq!(human(1500), "25m");
        assert_eq!(human(4 * 3600 + 12 * 60), "4h12m");
        assert_eq!(human(20 * 3600), "20h");
        assert_eq!(human(3 * 86_400 + 4 * 3600), "3d4h");
        assert_eq!(human(30 * 86_400), "30d");
        assert_eq!(
            wanted("application/json;as=Table;v=v1;g=meta.k8s.io,application/json"),
            Some("v1")
        );
        assert_eq!(wanted("application/json"), None);
    }
}
