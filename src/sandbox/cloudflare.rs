//! Cloudflare Load Balancing in the protocol of its API v4, the subset
//! the region runbook calls: the account's pools (list, get, `PATCH`
//! `enabled`) and a pool's health (`GET …/pools/{id}/health`), each
//! answer in Cloudflare's envelope (`success`, `errors`, `messages`,
//! `result`). One pool per region, its one origin the region's frontend:
//! Cloudflare's monitor sees it healthy while the simulated frontend
//! serves, so in `outage-tokyo` the Tokyo pool goes unhealthy. A disabled
//! pool is excluded from health checks, as Cloudflare documents: its
//! health lists no data centre.
//!
//! Requests carry the API token (random at each start) as
//! `Authorization: Bearer`; another token is refused the way Cloudflare
//! refuses it (403, code 10000).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::sim::Sim;

/// The sandbox's Cloudflare account id.
pub const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";
/// The pools: region, pool id, pool name.
pub const POOLS: [(&str, &str, &str); 2] = [
    ("tokyo", "17b5962d775c646f3f9725cbc7a53df4", "iworkz-tokyo"),
    ("korea", "9f2c4e6a8b0d1f3a5c7e9b1d3f5a7c9e", "iworkz-korea"),
];
/// The data centre whose monitor the health answer names.
const POP: &str = "Tokyo, JP";
/// When the pools were made, as Cloudflare writes times.
const CREATED: &str = "2025-04-01T09:00:00.000000Z";

/// One pool as kept.
#[derive(Debug, Clone)]
struct Pool {
    region: &'static str,
    id: &'static str,
    name: &'static str,
    description: String,
    enabled: bool,
    minimum_origins: u64,
    modified_on: String,
    disabled_at: Option<String>,
}

/// The load balancer's pools, over the simulation.
pub struct Cloudflare {
    sim: Arc<Mutex<Sim>>,
    token: String,
    /// How long each answer takes (none by default): how a test holds a
    /// job in a call, to kill it there.
    latency: Mutex<std::time::Duration>,
    pools: Mutex<Vec<Pool>>,
}

impl Cloudflare {
    /// Both regions' pools, enabled.
    pub fn new(sim: Arc<Mutex<Sim>>, token: String) -> Cloudflare {
        let pools = POOLS
            .iter()
            .map(|&(region, id, name)| Pool {
                region,
                id,
                name,
                description: format!("iworkz frontend in {region}"),
                enabled: true,
                minimum_origins: 1,
                modified_on: CREATED.to_owned(),
                disabled_at: None,
            })
            .collect();
        Cloudflare {
            sim,
            token,
            latency: Mutex::new(std::time::Duration::ZERO),
            pools: Mutex::new(pools),
        }
    }

    /// Whether the region's frontend serves (what the monitor sees).
    fn serving(&self, region: &str) -> bool {
        let sim = self
            .sim
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sim.regions
            .iter()
            .filter(|r| r.name == region)
            .flat_map(|r| &r.services)
            .any(|s| s.name == "web-frontend" && s.up && s.ready)
    }

    /// Every answer from now on takes `latency`.
    pub fn set_latency(&self, latency: std::time::Duration) {
        *self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = latency;
    }

    async fn wait(&self) {
        let latency = *self
            .latency
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
    }

    fn pools(&self) -> std::sync::MutexGuard<'_, Vec<Pool>> {
        self.pools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The router, under the API's base path `/client/v4`.
pub fn router(cf: Arc<Cloudflare>) -> Router {
    Router::new()
        .route(
            "/client/v4/accounts/{account}/load_balancers/pools",
            get(list),
        )
        .route(
            "/client/v4/accounts/{account}/load_balancers/pools/{pool}",
            get(pool).patch(patch),
        )
        .route(
            "/client/v4/accounts/{account}/load_balancers/pools/{pool}/health",
            get(health),
        )
        .with_state(cf)
}

fn origin_address(region: &str) -> String {
    format!("frontend.{region}.iworkz.example")
}

fn pool_json(p: &Pool) -> Value {
    let mut v = json!({
        "id": p.id,
        "created_on": CREATED,
        "modified_on": p.modified_on,
        "description": p.description,
        "enabled": p.enabled,
        "minimum_origins": p.minimum_origins,
        "monitor": "f1aba936b94213e5b8dca0c0dbf1f9cc",
        "name": p.name,
        "notification_email": "",
        "check_regions": ["NEAS"],
        "origin_steering": { "policy": "random" },
        "origins": [{
            "address": origin_address(p.region),
            "enabled": true,
            "name": format!("{}-frontend", p.region),
            "weight": 1,
        }],
    });
    if let (Some(at), Some(o)) = (&p.disabled_at, v.as_object_mut()) {
        o.insert("disabled_at".into(), json!(at));
    }
    v
}

/// A JSON answer (the sandbox's axum has no `json` feature).
fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn ok(result: &Value) -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "success": true, "errors": [], "messages": [], "result": result }),
    )
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    json_response(
        status,
        &json!({
            "success": false,
            "errors": [{ "code": code, "message": message }],
            "messages": [],
            "result": null,
        }),
    )
}

/// Refuses a request without the token or for another account.
fn refused(cf: &Cloudflare, headers: &HeaderMap, account: &str) -> Option<Response> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer != Some(cf.token.as_str()) {
        return Some(error(StatusCode::FORBIDDEN, 10000, "Authentication error"));
    }
    (account != ACCOUNT).then(|| {
        error(
            StatusCode::FORBIDDEN,
            9109,
            "Unauthorized to access requested resource",
        )
    })
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, 1002, "Pool not found")
}

async fn list(
    State(cf): State<Arc<Cloudflare>>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Response {
    cf.wait().await;
    if let Some(r) = refused(&cf, &headers, &account) {
        return r;
    }
    let pools: Vec<Value> = cf.pools().iter().map(pool_json).collect();
    let n = pools.len();
    json_response(
        StatusCode::OK,
        &json!({
            "success": true,
            "errors": [],
            "messages": [],
            "result": pools,
            "result_info": { "page": 1, "per_page": 20, "count": n, "total_count": n },
        }),
    )
}

async fn pool(
    State(cf): State<Arc<Cloudflare>>,
    Path((account, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    cf.wait().await;
    if let Some(r) = refused(&cf, &headers, &account) {
        return r;
    }
    cf.pools()
        .iter()
        .find(|p| p.id == id)
        .map_or_else(not_found, |p| ok(&pool_json(p)))
}

/// `PATCH`: overwrites the supplied properties of those the sandbox
/// keeps (`enabled`, `description`, `minimum_origins`); any other is
/// refused by name rather than silently dropped.
async fn patch(
    State(cf): State<Arc<Cloudflare>>,
    Path((account, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    cf.wait().await;
    if let Some(r) = refused(&cf, &headers, &account) {
        return r;
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            1001,
            "the body is not a JSON object",
        );
    };
    let mut pools = cf.pools();
    let Some(p) = pools.iter_mut().find(|p| p.id == id) else {
        return not_found();
    };
    let mut next = p.clone();
    for (k, v) in &fields {
        match (k.as_str(), v) {
            ("enabled", Value::Bool(b)) => next.enabled = *b,
            ("description", Value::String(s)) => next.description.clone_from(s),
            ("minimum_origins", Value::Number(n)) if n.as_u64().is_some() => {
                next.minimum_origins = n.as_u64().unwrap_or(1);
            }
            ("enabled" | "description" | "minimum_origins", _) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    1001,
                    &format!("{k}: a value of the wrong type"),
                );
            }
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    1001,
                    &format!(
                        "the sandbox does not patch `{k}` (enabled, description and minimum_origins only)"
                    ),
                );
            }
        }
    }
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    if next.enabled != p.enabled {
        next.disabled_at = (!next.enabled).then(|| now.clone());
    }
    next.modified_on = now;
    *p = next;
    ok(&pool_json(p))
}

async fn health(
    State(cf): State<Arc<Cloudflare>>,
    Path((account, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    cf.wait().await;
    if let Some(r) = refused(&cf, &headers, &account) {
        return r;
    }
    let Some(p) = cf.pools().iter().find(|p| p.id == id).cloned() else {
        return not_found();
    };
    let mut pops = serde_json::Map::new();
    if p.enabled {
        let up = cf.serving(p.region);
        pops.insert(
            POP.into(),
            json!({
                "healthy": up,
                "origins": [{
                    origin_address(p.region): if up {
                        json!({ "healthy": true, "failure_reason": "No failures", "response_code": 200, "rtt": "31.4ms" })
                    } else {
                        json!({ "healthy": false, "failure_reason": "TCP connection failed", "response_code": 0, "rtt": "0ms" })
                    }
                }],
            }),
        );
    }
    ok(&json!({ "pool_id": p.id, "pop_health": pops }))
}
