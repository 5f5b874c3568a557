//! An Alertmanager API v2 subset per region: `GET /api/v2/alerts`
//! (`active`, `silenced`, `inhibited`, `filter`), `POST /api/v2/alerts`,
//! `GET /api/v2/alerts/groups`, silences (`GET`/`POST /api/v2/silences`,
//! `GET`/`DELETE /api/v2/silence/{id}`), `GET /api/v2/status`, and the
//! `/-/ready` and `/-/healthy` probes.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde_json::{Value, json};

use super::alerts::{Alerting, Labels, Matcher, Silence, now};

struct Served {
    alerting: Arc<Mutex<Alerting>>,
    region: &'static str,
    started: String,
}

/// The router of one region's Alertmanager.
pub fn router(alerting: Arc<Mutex<Alerting>>, region: &'static str) -> Router {
    Router::new()
        .route("/api/v2/alerts", get(alerts).post(push))
        .route("/api/v2/alerts/groups", get(groups))
        .route("/api/v2/silences", get(silences).post(create_silence))
        .route(
            "/api/v2/silence/{id}",
            delete(expire_silence).get(get_silence),
        )
        .route("/api/v2/status", get(status))
        .route("/-/ready", get(|| async { "OK" }))
        .route("/-/healthy", get(|| async { "OK" }))
        .with_state(Arc::new(Served {
            alerting,
            region,
            started: now(),
        }))
}

fn json_ok(v: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

fn bad(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        json!(message).to_string(),
    )
        .into_response()
}

fn lock(a: &Mutex<Alerting>) -> std::sync::MutexGuard<'_, Alerting> {
    a.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Parses `name="value"`, `name!="value"`, `name=~"re"`, `name!~"re"`.
fn parse_matcher(s: &str) -> Option<Matcher> {
    let s = s.trim().trim_start_matches('{').trim_end_matches('}');
    for (op, is_regex, is_equal) in [
        ("!~", true, false),
        ("=~", true, true),
        ("!=", false, false),
        ("=", false, true),
    ] {
        if let Some((name, value)) = s.split_once(op) {
            return Some(Matcher {
                name: name.trim().to_owned(),
                value: value.trim().trim_matches('"').to_owned(),
                is_regex,
                is_equal,
            });
        }
    }
    None
}

fn filtered(s: &Served, query: Option<&str>) -> Result<Vec<Value>, String> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    let flag = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .is_none_or(|(_, v)| v != "false")
    };
    let matchers: Vec<Matcher> = pairs
        .iter()
        .filter(|(k, _)| k == "filter")
        .map(|(_, v)| parse_matcher(v).ok_or_else(|| format!("bad matcher format: {v}")))
        .collect::<Result<_, _>>()?;
    let alerts = lock(&s.alerting).api_alerts(s.region);
    Ok(alerts
        .into_iter()
        .filter(|a| {
            let labels: Labels = serde_json::from_value(a["labels"].clone()).unwrap_or_default();
            let silenced = a["status"]["state"] == "suppressed";
            matchers.iter().all(|m| m.matches(&labels))
                && if silenced {
                    flag("silenced")
                } else {
                    flag("active")
                }
        })
        .collect())
}

async fn alerts(State(s): State<Arc<Served>>, RawQuery(q): RawQuery) -> Response {
    match filtered(&s, q.as_deref()) {
        Ok(a) => json_ok(&json!(a)),
        Err(e) => bad(&e),
    }
}

async fn groups(State(s): State<Arc<Served>>, RawQuery(q): RawQuery) -> Response {
    let alerts = match filtered(&s, q.as_deref()) {
        Ok(a) => a,
        Err(e) => return bad(&e),
    };
    // Grouped by alertname, as the seed's route does.
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    for a in alerts {
        let name = a["labels"]["alertname"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, list)) => list.push(a),
            None => groups.push((name, vec![a])),
        }
    }
    let body: Vec<Value> = groups
        .into_iter()
        .map(|(name, alerts)| json!({"labels": {"alertname": name}, "receiver": {"name": "on-call"}, "alerts": alerts}))
        .collect();
    json_ok(&json!(body))
}

async fn push(State(s): State<Arc<Served>>, body: Bytes) -> Response {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return bad("expected a JSON array of alerts");
    };
    let mut a = lock(&s.alerting);
    let wall = now();
    for item in items {
        let labels: Labels = serde_json::from_value(item["labels"].clone()).unwrap_or_default();
        if labels.is_empty() {
            return bad("an alert needs labels");
        }
        let annotations: Labels =
            serde_json::from_value(item["annotations"].clone()).unwrap_or_default();
        let starts = item["startsAt"].as_str().unwrap_or(&wall).to_owned();
        let ends = item["endsAt"].as_str().map_or_else(
            || {
                jiff::Timestamp::now()
                    .checked_add(jiff::SignedDuration::from_mins(5))
                    .map_or_else(
                        |_| wall.clone(),
                        |t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                    )
            },
            str::to_owned,
        );
        a.pushed.insert(
            super::alerts::fingerprint(&labels),
            (labels, annotations, starts, ends),
        );
    }
    StatusCode::OK.into_response()
}

fn silence_json(s: &Silence, wall: &str) -> Value {
    let matchers: Vec<Value> = s
        .matchers
        .iter()
        .map(|m| json!({"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}))
        .collect();
    json!({"id": s.id, "matchers": matchers, "startsAt": s.starts_at, "endsAt": s.ends_at, "createdBy": s.created_by,
        "comment": s.comment, "updatedAt": s.updated_at, "status": {"state": s.state(wall)}})
}

async fn silences(State(s): State<Arc<Served>>) -> Response {
    let wall = now();
    let list: Vec<Value> = lock(&s.alerting)
        .silences
        .iter()
        .map(|x| silence_json(x, &wall))
        .collect();
    json_ok(&json!(list))
}

async fn get_silence(State(s): State<Arc<Served>>, Path(id): Path<String>) -> Response {
    let wall = now();
    match lock(&s.alerting).silences.iter().find(|x| x.id == id) {
        Some(x) => json_ok(&silence_json(x, &wall)),
        None => (StatusCode::NOT_FOUND, format!("silence {id} not found")).into_response(),
    }
}

async fn create_silence(State(s): State<Arc<Served>>, body: Bytes) -> Response {
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad("the silence is not valid JSON");
    };
    let str_of = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let matchers: Vec<Matcher> = v["matchers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| Matcher {
            name: m["name"].as_str().unwrap_or_default().to_owned(),
            value: m["value"].as_str().unwrap_or_default().to_owned(),
            is_regex: m["isRegex"].as_bool().unwrap_or(false),
            is_equal: m["isEqual"].as_bool().unwrap_or(true),
        })
        .collect();
    if matchers.is_empty() {
        return bad("silence invalid: at least one matcher required");
    }
    let (starts, ends) = (str_of("startsAt"), str_of("endsAt"));
    if starts.is_empty() || ends.is_empty() || ends <= starts {
        return bad("silence invalid: start time must be before end time");
    }
    let id = lock(&s.alerting).silence(Silence {
        id: str_of("id"),
        matchers,
        starts_at: starts,
        ends_at: ends,
        created_by: str_of("createdBy"),
        comment: str_of("comment"),
        updated_at: now(),
    });
    json_ok(&json!({"silenceID": id}))
}

async fn expire_silence(State(s): State<Arc<Served>>, Path(id): Path<String>) -> Response {
    let mut a = lock(&s.alerting);
    let wall = now();
    match a.silences.iter_mut().find(|x| x.id == id) {
        Some(x) if x.state(&wall) != "expired" => {
            x.ends_at.clone_from(&wall);
            x.updated_at = wall;
            StatusCode::OK.into_response()
        }
        Some(_) => bad(&format!("silence {id} already expired")),
        None => (StatusCode::NOT_FOUND, format!("silence {id} not found")).into_response(),
    }
}

async fn status(State(s): State<Arc<Served>>) -> Response {
    json_ok(&json!({"cluster": {"status": "disabled", "peers": []},
        "versionInfo": {"version": "0.25.0", "branch": "touban-sandbox", "revision": "sandbox", "buildUser": "touban", "buildDate": "", "goVersion": ""},
        "config": {"original": format!("route:\n  receiver: on-call\n  group_by: [alertname]\nreceivers:\n- name: on-call\n# region {}\n", s.region)},
        "uptime": s.started}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_parse_like_amtool() {
        let m = parse_matcher("team=\"ai\"").expect("eq");
        assert_eq!(
            (m.name.as_str(), m.value.as_str(), m.is_regex, m.is_equal),
            ("team", "ai", false, true)
        );
        let m = parse_matcher("severity=~\"crit.*\"").expect("re");
        assert!(m.is_regex && m.is_equal);
        let labels: Labels = [("severity".to_owned(), "critical".to_owned())]
            .into_iter()
            .collect();
        assert!(m.matches(&labels));
        assert!(parse_matcher("nonsense").is_none());
    }
}
