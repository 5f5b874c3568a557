//! Azure Database for PostgreSQL flexible servers through Azure Resource
//! Manager's REST API (api-version 2024-08-01): the server read (`GET
//! {id}`: its state and its role in the replication set), a read replica
//! promoted to a standalone server (`PATCH {id}` with
//! `properties.replica = { promoteMode: Standalone, promoteOption:
//! Planned | Forced }`: 202 and an `Azure-AsyncOperation` to follow), and
//! that operation's status.
//!
//! The bearer token is read at every call (a file a timer refreshes keeps
//! working) and goes in the `Authorization` header only; no message
//! carries it. An operation URL the server answers with is followed only
//! on the configured endpoint's own origin: the token is sent nowhere
//! else.

use std::time::Duration;

use serde::Deserialize;

use crate::config::platform::{AzureServer, SecretRef, azure_server_name};
use crate::config::secret::mask_url;
use crate::model::data::DbStatus;

/// The API version every call names.
pub const API_VERSION: &str = "2024-08-01";

/// How long one call may take.
const DEADLINE: Duration = Duration::from_secs(15);

/// The most an answer may be.
const CAP: u64 = 4 << 20;

/// A flexible server as ARM reports it (what touban acts on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlexServer {
    /// Its name.
    pub name: String,
    /// `Ready`, `Updating`, `Stopped`, …
    pub state: String,
    /// Its role in the replication set: `Primary`, `AsyncReplica`,
    /// `GeoAsyncReplica`, or `None` (standalone).
    pub role: String,
    /// A replica's link: `Active`, `Catchup`, `Provisioning`, `Updating`,
    /// `Broken`, `Reconfiguring`.
    pub replication_state: Option<String>,
    /// A replica's source server, by name.
    pub source: Option<String>,
    /// Its Azure region.
    pub location: String,
}

impl FlexServer {
    /// Whether it is a read replica (of one region or another).
    pub fn is_replica(&self) -> bool {
        ["AsyncReplica", "GeoAsyncReplica"]
            .iter()
            .any(|r| self.role.eq_ignore_ascii_case(r))
    }

    /// Whether it is ready for an operation.
    pub fn ready(&self) -> bool {
        self.state.eq_ignore_ascii_case("Ready")
    }

    /// One line: `Ready, AsyncReplica of pg-tokyo (replication Active), japaneast`.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut t = format!("{}, {}", self.state, self.role);
        if let Some(source) = &self.source {
            let _ = write!(t, " of {source}");
        }
        if let Some(r) = &self.replication_state {
            let _ = write!(t, " (replication {r})");
        }
        if !self.location.is_empty() {
            let _ = write!(t, ", {}", self.location);
        }
        t
    }
}

/// Where an asynchronous operation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Still running (`InProgress`, or a status not final).
    Running(String),
    /// `Succeeded`.
    Succeeded,
    /// `Failed` or `Canceled`, and what Azure says of it.
    Failed(String),
}

#[derive(Deserialize)]
struct Server {
    #[serde(default)]
    name: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    properties: Properties,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Properties {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    replication_role: Option<String>,
    #[serde(default)]
    source_server_resource_id: Option<String>,
    #[serde(default)]
    replica: Option<Replica>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Replica {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    replication_state: Option<String>,
}

#[derive(Deserialize)]
struct OperationStatus {
    #[serde(default)]
    status: String,
    #[serde(default)]
    error: Option<ArmError>,
}

#[derive(Deserialize)]
struct Envelope {
    error: ArmError,
}

#[derive(Deserialize)]
struct ArmError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Reads a server from ARM's JSON.
fn server(body: &[u8]) -> Result<FlexServer, String> {
    let s: Server =
        serde_json::from_slice(body).map_err(|e| format!("an answer touban cannot read ({e})"))?;
    let p = s.properties;
    let replica = p.replica.unwrap_or_default();
    Ok(FlexServer {
        name: s.name,
        state: p.state.unwrap_or_else(|| "unknown".into()),
        role: replica
            .role
            .or(p.replication_role)
            .unwrap_or_else(|| "None".into()),
        replication_state: replica.replication_state,
        source: p
            .source_server_resource_id
            .filter(|id| !id.is_empty())
            .map(|id| azure_server_name(&id).map_or(id.clone(), str::to_owned)),
        location: s.location,
    })
}

/// One flexible server's client.
#[derive(Clone)]
pub struct Arm {
    http: reqwest::Client,
    /// The endpoint: scheme, host and port, no trailing slash.
    api: String,
    /// The resource's id.
    id: String,
    /// The api-version its calls name.
    version: &'static str,
    token: SecretRef,
    /// The database's postgres_exporter, if configured: the data
    /// source's own reading of its role.
    exporter: Option<String>,
}

impl std::fmt::Debug for Arm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Arm({}{})", mask_url(&self.api), self.id)
    }
}

impl Arm {
    /// A client for the server `a`; `exporter` is its postgres_exporter.
    pub fn new(a: &AzureServer, exporter: Option<String>) -> Result<Arm, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Arm {
            http: crate::sources::http::client(DEADLINE)?,
            api: a.api.get_ref().trim_end_matches('/').to_owned(),
            id: a.server.get_ref().clone(),
            version: API_VERSION,
            token: a.token.get_ref().clone(),
            exporter,
        })
    }

    /// A client for another kind of resource: `id` on the endpoint `api`,
    /// calls naming `version`.
    pub fn resource(
        api: &str,
        id: &str,
        version: &'static str,
        token: &SecretRef,
    ) -> Result<Arm, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Arm {
            http: crate::sources::http::client(DEADLINE)?,
            api: api.trim_end_matches('/').to_owned(),
            id: id.to_owned(),
            version,
            token: token.clone(),
            exporter: None,
        })
    }

    /// The URL of `suffix` under the resource (`""`: the resource).
    pub(super) fn url_of(&self, suffix: &str) -> String {
        format!(
            "{}{}{suffix}?api-version={}",
            self.api, self.id, self.version
        )
    }

    /// Whether the resource is an AKS cluster (its refusals are worded
    /// for it).
    fn aks(&self) -> bool {
        self.id.contains("/Microsoft.ContainerService/")
            || self.id.contains("/microsoft.containerservice/")
    }

    /// The HTTP client.
    pub(super) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        azure_server_name(&self.id).unwrap_or(&self.id)
    }

    fn url(&self) -> String {
        self.url_of("")
    }

    /// Sends `request` with the token; the answer's status, headers and
    /// body, or what went wrong with what to check.
    pub(super) async fn call(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>), String> {
        self.answer(what, request).await.map_err(|(_, e)| e)
    }

    /// [`Arm::call`], a refusal keeping its HTTP status.
    async fn answer(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<
        (reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>),
        (Option<reqwest::StatusCode>, String),
    > {
        let token = self
            .token
            .read("Azure Resource Manager token")
            .map_err(|e| (None, e))?;
        let response = request.bearer_auth(&token).send().await.map_err(|e| {
            (
                None,
                format!(
                    "Azure ({}): {what}: {}",
                    mask_url(&self.api),
                    crate::sources::http::short(&e)
                ),
            )
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = crate::sources::http::body(response, CAP)
            .await
            .map_err(|e| (None, format!("Azure: {what}: {e}")))?;
        let masked = |t: String| {
            let t = if token.is_empty() {
                t
            } else {
                t.replace(&token, "[token]")
            };
            crate::config::secret::mask_line(&t)
        };
        if !status.is_success() {
            let error = serde_json::from_slice::<Envelope>(&body)
                .ok()
                .map(|e| e.error);
            return Err((
                Some(status),
                masked(refused(what, status, error.as_ref(), self.aks())),
            ));
        }
        Ok((status, headers, body))
    }

    /// The server as ARM reports it now.
    pub async fn server(&self) -> Result<FlexServer, String> {
        let what = format!("read {}", self.name());
        let (_, _, body) = self.call(&what, self.http.get(self.url())).await?;
        server(&body).map_err(|e| format!("Azure: {what}: {e}"))
    }

    /// Promotes the replica to a standalone server, `Forced` (now, with
    /// what it has) or `Planned` (once it has what its source wrote);
    /// the URL of the operation to follow, if ARM gave one.
    pub async fn promote(&self, forced: bool) -> Result<Option<String>, String> {
        let what = format!("promote {}", self.name());
        let body = serde_json::json!({
            "properties": { "replica": {
                "promoteMode": "Standalone",
                "promoteOption": if forced { "Forced" } else { "Planned" },
            }}
        });
        let (_, headers, _) = self
            .call(&what, self.http.patch(self.url()).json(&body))
            .await?;
        self.to_follow(&headers)
    }

    /// The operation an accepted change answers with (its
    /// `Azure-AsyncOperation`, else its `Location`), if on the endpoint's
    /// origin.
    pub(super) fn to_follow(
        &self,
        headers: &reqwest::header::HeaderMap,
    ) -> Result<Option<String>, String> {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let Some(url) = header("azure-asyncoperation").or_else(|| header("location")) else {
            return Ok(None);
        };
        self.same_origin(&url)?;
        Ok(Some(url))
    }

    /// Refuses an operation URL off the configured endpoint: the token
    /// is not sent there.
    fn same_origin(&self, url: &str) -> Result<(), String> {
        let origin = |u: &str| url::Url::parse(u).ok().map(|u| u.origin());
        if origin(url).is_some_and(|o| Some(o) == origin(&self.api)) {
            return Ok(());
        }
        Err(format!(
            "Azure answered with an operation to follow at {}, not on {}: not followed (the token goes to the configured endpoint only); read the server to see whether it was promoted",
            mask_url(url),
            mask_url(&self.api)
        ))
    }

    /// Where the operation at `url` stands.
    pub async fn operation(&self, url: &str) -> Result<Operation, String> {
        let what = format!("follow the promotion of {}", self.name());
        self.operation_of(url, &what).await
    }

    /// Where the operation at `url` stands, `what` it is named in errors.
    pub(super) async fn operation_of(&self, url: &str, what: &str) -> Result<Operation, String> {
        self.same_origin(url)?;
        let (status, _, body) = match self.answer(what, self.http.get(url)).await {
            Ok(answer) => answer,
            // A refusal of the operation itself (a `Location` poll answers
            // a failed operation so, and an unknown one 404) is final; one
            // of the token, the rate or the service may pass.
            Err((Some(status), why))
                if status.is_client_error()
                    && !matches!(status.as_u16(), 401 | 403 | 408 | 429) =>
            {
                return Ok(Operation::Failed(why));
            }
            Err((_, why)) => return Err(why),
        };
        // A `Location` answers 202 while the operation runs, and (for an
        // update) the resource once it is done.
        if status == reqwest::StatusCode::ACCEPTED {
            return Ok(Operation::Running("Accepted".into()));
        }
        let unreadable = || format!("Azure: {what}: HTTP {status}, an answer touban cannot read");
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| unreadable())?;
        if v.get("status").is_none() && v.get("properties").is_some() {
            // A Location poll answering the server itself: done.
            return Ok(Operation::Succeeded);
        }
        let s: OperationStatus = serde_json::from_value(v).map_err(|_| unreadable())?;
        Ok(match s.status.as_str() {
            "Succeeded" => Operation::Succeeded,
            "Failed" | "Canceled" => Operation::Failed(match s.error {
                Some(e) => format!("{}: {} ({})", s.status, e.message, e.code),
                None => s.status,
            }),
            "" => return Err(unreadable()),
            other => Operation::Running(other.to_owned()),
        })
    }

    /// The database as its postgres_exporter says it is now; none where
    /// no exporter is configured.
    pub async fn exported(&self) -> Option<Result<DbStatus, String>> {
        let url = self.exporter.as_deref()?;
        Some(crate::sources::data::exported(&self.http, url, CAP).await)
    }
}

/// ARM's refusal, with what to check.
fn refused(what: &str, status: reqwest::StatusCode, error: Option<&ArmError>, aks: bool) -> String {
    let said = error.map_or_else(String::new, |e| format!(": {} ({})", e.message, e.code));
    let hint = match (status.as_u16(), aks) {
        (403, true) => {
            ": the identity may not do this: it needs Microsoft.ContainerService/managedClusters/agentPools/read and write on the cluster (a role such as Azure Kubernetes Service Contributor)"
        }
        (404, true) => {
            ": check the cluster's resource id in its [[clusters]] aks.cluster and the pool's name"
        }
        (409, true) => {
            ": another operation on the cluster or the pool is running: wait for it and plan again"
        }
        (status, _) => match status {
            401 => {
                ": the token is missing, expired or not for Resource Manager: write a fresh one (az account get-access-token --resource https://management.azure.com --query accessToken -o tsv)"
            }
            403 => {
                ": the identity may not do this: it needs Microsoft.DBforPostgreSQL/flexibleServers/read and write on the server (a role such as Contributor on it)"
            }
            404 => ": check the server's resource id in its [[databases]] azure.server",
            409 => ": another operation on the server is running: wait for it and plan again",
            _ => "",
        },
    };
    format!("Azure: {what}: HTTP {status}{said}{hint}")
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    /// The replica of `ReplicasListByServer.json`, azure-rest-api-specs'
    /// example for 2024-08-01 (the fields touban reads, as published).
    const EXAMPLE_REPLICA: &str = r#"{
      "sku": { "name": "Standard_D4ds_v5", "tier": "GeneralPurpose" },
      "properties": {
        "fullyQualifiedDomainName": "exampleserver.postgres.database.azure.com",
        "version": "18",
        "state": "Ready",
        "replicationRole": "AsyncReplica",
        "replicaCapacity": 0,
        "replica": { "role": "AsyncReplica", "capacity": 0, "replicationState": "Active" }
      },
      "location": "westus",
      "id": "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/exampleresourcegroup/providers/Microsoft.DBforPostgreSQL/flexibleServers/exampleserver",
      "name": "exampleserver",
      "type": "Microsoft.DBforPostgreSQL/flexibleServers"
    }"#;

    #[test]
    fn the_published_example_reads_as_an_active_replica() {
        let s = server(EXAMPLE_REPLICA.as_bytes()).expect("read");
        assert!(s.is_replica() && s.ready());
        assert_eq!(
            s.summary(),
            "Ready, AsyncReplica (replication Active), westus"
        );
        let standalone = server(br#"{"name":"x","properties":{"state":"Ready","replicationRole":"None","replica":{"role":"None"}}}"#)
            .expect("read");
        assert!(!standalone.is_replica());
    }

    #[test]
    fn refusals_say_what_to_check() {
        let e = ArmError {
            code: "ExpiredAuthenticationToken".into(),
            message: "The access token expiry UTC time is earlier than current UTC time.".into(),
        };
        let t = refused(
            "promote x",
            reqwest::StatusCode::UNAUTHORIZED,
            Some(&e),
            false,
        );
        assert!(
            t.contains("(ExpiredAuthenticationToken)") && t.contains("az account get-access-token"),
            "{t}"
        );
        let t = refused("promote x", reqwest::StatusCode::NOT_FOUND, None, false);
        assert!(t.ends_with("azure.server"), "{t}");
    }
}
