//! Azure Resource Manager in the protocol of its REST API, the subset the
//! region runbook calls on an Azure Database for PostgreSQL flexible
//! server (api-version 2024-08-01): the server read (`GET`), its update
//! (`PATCH`) to promote a read replica (`properties.replica.promoteMode`
//! Standalone, `promoteOption` Planned or Forced), answered `202` with
//! `Azure-AsyncOperation` and `Location` headers as the published examples
//! show, and those operations' status.
//!
//! The sandbox has one such server: Korea's database, a replica of
//! Tokyo's. The seed's Tokyo database is Amazon RDS, and a real Azure
//! replica cannot have a source in another cloud; the sandbox names its
//! source as an Azure server so that the pair reads as one replication
//! set (what the DR demo needs), and says so here. A promotion takes a
//! few seconds, the server `Updating` meanwhile; when it succeeds the
//! simulated database turns primary, so its postgres_exporter says so.
//! A planned promotion while Tokyo's database is down fails, as Azure's
//! planned option waits for a source that does not answer.
//!
//! Requests carry a bearer token (random at each start); another token,
//! or none, is refused the way ARM refuses it (401).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::sim::Sim;

/// The sandbox's subscription.
pub const SUBSCRIPTION: &str = "8f3c2a41-6b7d-4e59-a0c1-3d5e7f9b2a64";
/// Its resource group.
pub const RESOURCE_GROUP: &str = "iworkz-dr";
/// The flexible server: Korea's database, by the name the config gives it.
pub const SERVER: &str = "iworkz-dr-postgres";
/// Where it is.
const LOCATION: &str = "koreacentral";
/// The replica's source, as the sandbox names it.
const SOURCE: &str = "iworkz-production-postgres";
/// How long a promotion takes.
const PROMOTION: Duration = Duration::from_secs(3);

/// The server's resource id.
pub fn server_id() -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{SERVER}"
    )
}

/// A promotion sent and not yet settled.
#[derive(Debug, Clone)]
struct Running {
    id: String,
    started: Instant,
    forced: bool,
}

/// Where a promotion stands.
#[derive(Debug, Clone)]
enum Standing {
    Running,
    Succeeded,
    Failed(String),
}

#[derive(Debug, Default)]
struct Kept {
    /// A replica until promoted.
    replica: bool,
    running: Option<Running>,
    ended: Vec<(String, Standing)>,
    patches: usize,
}

/// The flexible server, over the simulation.
pub struct Azure {
    sim: Arc<Mutex<Sim>>,
    token: String,
    latency: Mutex<Duration>,
    state: Mutex<Kept>,
}

impl Azure {
    /// The server, a replica of Tokyo's.
    pub fn new(sim: Arc<Mutex<Sim>>, token: String) -> Azure {
        Azure {
            sim,
            token,
            latency: Mutex::new(Duration::ZERO),
            state: Mutex::new(Kept {
                replica: true,
                ..Kept::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many updates were sent (a test's proof that a resumed job did
    /// not promote twice).
    pub fn patches(&self) -> usize {
        self.state().patches
    }

    /// Every answer from now on takes `latency`.
    pub fn set_latency(&self, latency: Duration) {
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

    /// Whether Tokyo's database answers (what a planned promotion waits
    /// for).
    fn source_up(&self) -> bool {
        let sim = self
            .sim
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sim.regions
            .iter()
            .flat_map(|r| &r.databases)
            .any(|d| d.name == SOURCE && d.up)
    }

    /// Ends a promotion whose time has come: the simulated database turns
    /// primary, or the operation fails.
    fn settle(&self) {
        let source_up = self.source_up();
        let mut st = self.state();
        let Some(r) = st.running.clone() else {
            return;
        };
        if r.started.elapsed() < PROMOTION {
            return;
        }
        st.running = None;
        if !r.forced && !source_up {
            st.ended.push((
                r.id,
                Standing::Failed(format!(
                    "The planned promotion of '{SERVER}' could not synchronize with its source server '{SOURCE}': the source does not respond. Promote with the forced option."
                )),
            ));
            return;
        }
        st.replica = false;
        st.ended.push((r.id, Standing::Succeeded));
        drop(st);
        let mut sim = self
            .sim
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sim.promote(SERVER);
    }
}

/// The routes, at ARM's paths.
pub fn router(azure: Arc<Azure>) -> Router {
    Router::new()
        .route(
            "/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{name}",
            get(server).patch(patch),
        )
        .route(
            "/subscriptions/{sub}/providers/Microsoft.DBforPostgreSQL/locations/{location}/azureAsyncOperation/{id}",
            get(async_operation),
        )
        .route(
            "/subscriptions/{sub}/providers/Microsoft.DBforPostgreSQL/locations/{location}/operationResults/{id}",
            get(operation_result),
        )
        .with_state(azure)
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

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

/// Refuses a request without the token or without an api-version.
fn refused(
    azure: &Azure,
    headers: &HeaderMap,
    query: &Query<Vec<(String, String)>>,
) -> Option<Response> {
    unauthorised(&azure.token, headers, &query.0)
}

/// ARM's refusal of a request without the bearer token `token` or
/// without an api-version.
pub(super) fn unauthorised(
    token: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Option<Response> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match bearer.and_then(|v| v.strip_prefix("Bearer ")) {
        None => {
            return Some(error(
                StatusCode::UNAUTHORIZED,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            ));
        }
        Some(t) if t != token => {
            return Some(error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            ));
        }
        Some(_) => {}
    }
    (!query.iter().any(|(k, _)| k == "api-version")).then(|| {
        error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    })
}

/// ARM's 404 unless the path names the server.
fn missing(sub: &str, group: &str, name: &str) -> Option<Response> {
    if sub.eq_ignore_ascii_case(SUBSCRIPTION)
        && group.eq_ignore_ascii_case(RESOURCE_GROUP)
        && name.eq_ignore_ascii_case(SERVER)
    {
        return None;
    }
    Some(error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        &format!(
            "The Resource 'Microsoft.DBforPostgreSQL/flexibleServers/{name}' under resource group '{group}' was not found."
        ),
    ))
}

/// The server as ARM shows it (the fields of the published examples).
fn server_json(azure: &Azure) -> Value {
    let st = azure.state();
    let (state, role, replica) = match (st.running.is_some(), st.replica) {
        (true, _) => (
            "Updating",
            "AsyncReplica",
            json!({ "role": "AsyncReplica", "capacity": 0, "replicationState": "Updating" }),
        ),
        (false, true) => (
            "Ready",
            "AsyncReplica",
            json!({ "role": "AsyncReplica", "capacity": 0, "replicationState": "Active" }),
        ),
        (false, false) => ("Ready", "None", json!({ "role": "None", "capacity": 5 })),
    };
    let source = if st.replica {
        format!(
            "/subscriptions/{SUBSCRIPTION}/resourceGroups/iworkz-production/providers/Microsoft.DBforPostgreSQL/flexibleServers/{SOURCE}"
        )
    } else {
        String::new()
    };
    json!({
        "sku": { "name": "Standard_D4ds_v5", "tier": "GeneralPurpose" },
        "properties": {
            "fullyQualifiedDomainName": format!("{SERVER}.postgres.database.azure.com"),
            "version": "16",
            "administratorLogin": "iworkz_admin",
            "state": state,
            "availabilityZone": "1",
            "storage": { "storageSizeGB": 512, "autoGrow": "Disabled", "tier": "P20", "iops": 2300 },
            "highAvailability": { "mode": "Disabled", "state": "NotEnabled" },
            "replicationRole": role,
            "replicaCapacity": if st.replica { 0 } else { 5 },
            "replica": replica,
            "sourceServerResourceId": source,
        },
        "location": LOCATION,
        "id": server_id(),
        "name": SERVER,
        "type": "Microsoft.DBforPostgreSQL/flexibleServers",
    })
}

async fn server(
    State(azure): State<Arc<Azure>>,
    Path((sub, group, name)): Path<(String, String, String)>,
    query: Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    azure.wait().await;
    if let Some(r) = refused(&azure, &headers, &query) {
        return r;
    }
    if let Some(r) = missing(&sub, &group, &name) {
        return r;
    }
    azure.settle();
    json_response(StatusCode::OK, &server_json(&azure))
}

/// What a `PATCH` asks: whether a promotion to a standalone server is
/// forced, or why anything else is refused (named, not dropped).
fn promotion(body: &[u8]) -> Result<bool, String> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Err("The request content is not valid JSON.".into());
    };
    let properties = v.get("properties").and_then(Value::as_object);
    let others: Vec<&str> = v
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .chain(properties.into_iter().flat_map(|p| p.keys()))
        .map(String::as_str)
        .filter(|k| !matches!(*k, "properties" | "replica"))
        .collect();
    if !others.is_empty() {
        return Err(format!(
            "the sandbox updates properties.replica only, not {}",
            others.join(", ")
        ));
    }
    let replica = properties.and_then(|p| p.get("replica"));
    let field = |k: &str| replica.and_then(|r| r.get(k)).and_then(Value::as_str);
    match (field("promoteMode"), field("promoteOption")) {
        (Some(mode), Some(option)) if mode.eq_ignore_ascii_case("standalone") => {
            if option.eq_ignore_ascii_case("forced") {
                Ok(true)
            } else if option.eq_ignore_ascii_case("planned") {
                Ok(false)
            } else {
                Err(format!("promoteOption '{option}' is not Planned or Forced"))
            }
        }
        (Some(mode), _) if mode.eq_ignore_ascii_case("switchover") => Err(
            "Switchover needs a source server in the same replication set; the sandbox's source is not an Azure server: promote Standalone".into(),
        ),
        _ => Err(
            "properties.replica needs promoteMode (Standalone) and promoteOption (Planned or Forced)".into(),
        ),
    }
}

async fn patch(
    State(azure): State<Arc<Azure>>,
    Path((sub, group, name)): Path<(String, String, String)>,
    query: Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    azure.wait().await;
    if let Some(r) = refused(&azure, &headers, &query) {
        return r;
    }
    if let Some(r) = missing(&sub, &group, &name) {
        return r;
    }
    let forced = match promotion(&body) {
        Ok(f) => f,
        Err(why) => return error(StatusCode::BAD_REQUEST, "InvalidRequestContent", &why),
    };
    azure.settle();
    let mut st = azure.state();
    if st.running.is_some() {
        return error(
            StatusCode::CONFLICT,
            "AnotherOperationInProgress",
            &format!(
                "Another operation is in progress on server '{SERVER}'. Retry after it completes."
            ),
        );
    }
    if !st.replica {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidReplicaPromotion",
            &format!("Server '{SERVER}' is not a read replica: there is nothing to promote."),
        );
    }
    st.patches += 1;
    let id = format!("{:08x}-0000-4000-8000-{:012x}", st.patches, st.patches);
    st.running = Some(Running {
        id: id.clone(),
        started: Instant::now(),
        forced,
    });
    drop(st);
    // Settled when its time comes even if nobody asks.
    let later = Arc::clone(&azure);
    tokio::spawn(async move {
        tokio::time::sleep(PROMOTION).await;
        later.settle();
    });
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let base = format!(
        "http://{host}/subscriptions/{SUBSCRIPTION}/providers/Microsoft.DBforPostgreSQL/locations/{LOCATION}"
    );
    (
        StatusCode::ACCEPTED,
        [
            (
                "Azure-AsyncOperation",
                format!("{base}/azureAsyncOperation/{id}?api-version=2024-08-01"),
            ),
            (
                "Location",
                format!("{base}/operationResults/{id}?api-version=2024-08-01"),
            ),
            ("Retry-After", "1".to_owned()),
        ],
    )
        .into_response()
}

/// Where the operation `id` stands; none if there is no such operation.
fn standing(azure: &Azure, id: &str) -> Option<Standing> {
    azure.settle();
    let st = azure.state();
    if st.running.as_ref().is_some_and(|r| r.id == id) {
        return Some(Standing::Running);
    }
    st.ended
        .iter()
        .find(|(i, _)| i == id)
        .map(|(_, e)| e.clone())
}

async fn async_operation(
    State(azure): State<Arc<Azure>>,
    Path((_, _, id)): Path<(String, String, String)>,
    query: Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    azure.wait().await;
    if let Some(r) = refused(&azure, &headers, &query) {
        return r;
    }
    let body = match standing(&azure, &id) {
        None => {
            return error(
                StatusCode::NOT_FOUND,
                "OperationNotFound",
                &format!("The operation '{id}' was not found."),
            );
        }
        Some(Standing::Running) => json!({ "name": id, "status": "InProgress" }),
        Some(Standing::Succeeded) => json!({ "name": id, "status": "Succeeded" }),
        Some(Standing::Failed(message)) => json!({
            "name": id,
            "status": "Failed",
            "error": { "code": "ReplicaPromotionFailed", "message": message },
        }),
    };
    json_response(StatusCode::OK, &body)
}

async fn operation_result(
    State(azure): State<Arc<Azure>>,
    Path((_, _, id)): Path<(String, String, String)>,
    query: Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    azure.wait().await;
    if let Some(r) = refused(&azure, &headers, &query) {
        return r;
    }
    match standing(&azure, &id) {
        None => error(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            &format!("The operation '{id}' was not found."),
        ),
        Some(Standing::Running) => StatusCode::ACCEPTED.into_response(),
        Some(Standing::Succeeded) => json_response(StatusCode::OK, &server_json(&azure)),
        Some(Standing::Failed(message)) => {
            error(StatusCode::BAD_REQUEST, "ReplicaPromotionFailed", &message)
        }
    }
}
