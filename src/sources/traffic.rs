//! The global load balancer: Cloudflare Load Balancing through its API v4.
//! A source per configured pool (named `traffic` in its region) reads the
//! pool and its health every 15 s; [`Cloudflare`] is the one client, the
//! executor's as well as the source's. The token goes in the
//! `Authorization` header only: no message carries it.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Platform;
use crate::config::platform::{TRAFFIC, Traffic};
use crate::config::secret::mask_url;
use crate::model::data::DataStatus;
use crate::model::traffic::PoolStatus;
use crate::model::{SourceId, SourceKind, Update};

/// How often each pool is read.
pub const INTERVAL: Duration = Duration::from_secs(15);

/// How long one call may take.
const DEADLINE: Duration = Duration::from_secs(8);

/// The most an answer of Cloudflare may be.
const CAP: u64 = 4 << 20;

/// A client of one account's load-balancer pools.
#[derive(Clone)]
pub struct Cloudflare {
    http: reqwest::Client,
    /// `…/client/v4/accounts/{account}/load_balancers/pools`.
    pools: String,
    token: String,
    /// The configured pools: region and id.
    configured: Vec<(String, String)>,
}

impl std::fmt::Debug for Cloudflare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cloudflare({})", mask_url(&self.pools))
    }
}

/// Cloudflare's envelope around every answer.
#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<ApiMessage>,
    result: Option<T>,
}

#[derive(Deserialize)]
struct ApiMessage {
    #[serde(default)]
    code: u64,
    #[serde(default)]
    message: String,
    /// The causes Cloudflare chains under an error (6111 "Invalid format
    /// for Authorization header" under 6003).
    #[serde(default)]
    error_chain: Vec<ApiMessage>,
}

impl ApiMessage {
    fn codes(&self) -> impl Iterator<Item = u64> + '_ {
        std::iter::once(self.code).chain(self.error_chain.iter().map(|c| c.code))
    }

    fn text(&self) -> String {
        use std::fmt::Write as _;
        let mut t = format!("{} (code {})", self.message, self.code);
        for c in &self.error_chain {
            let _ = write!(t, ": {} (code {})", c.message, c.code);
        }
        t
    }
}

/// A pool as the API returns it (the fields touban reads).
#[derive(Deserialize)]
struct Pool {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    disabled_at: Option<String>,
}

fn yes() -> bool {
    true
}

/// A pool's health: per data centre, healthy or not, and its origins.
#[derive(Deserialize, Default)]
struct Health {
    #[serde(default)]
    pop_health: std::collections::BTreeMap<String, PopHealth>,
}

#[derive(Deserialize)]
struct PopHealth {
    #[serde(default)]
    healthy: bool,
    /// One map per origin: address → its health (`null` where the pool
    /// has no monitor).
    #[serde(default)]
    origins: Option<Vec<std::collections::BTreeMap<String, OriginHealth>>>,
}

#[derive(Deserialize)]
struct OriginHealth {
    #[serde(default)]
    healthy: bool,
    #[serde(default)]
    failure_reason: Option<String>,
}

impl Cloudflare {
    /// A client for `[traffic]`, its token read now.
    pub fn new(t: &Traffic) -> Result<Cloudflare, String> {
        let token = t.token.get_ref().read("Cloudflare API token")?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Cloudflare {
            http: super::http::client(DEADLINE)?,
            pools: format!(
                "{}/accounts/{}/load_balancers/pools",
                t.api.get_ref().trim_end_matches('/'),
                t.account.get_ref()
            ),
            token,
            configured: t
                .pools
                .iter()
                .map(|p| (p.region.get_ref().clone(), p.id.get_ref().clone()))
                .collect(),
        })
    }

    /// The configured pools: region and id.
    pub fn configured(&self) -> &[(String, String)] {
        &self.configured
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, String> {
        let shown = mask_url(&self.pools);
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| format!("Cloudflare ({shown}): {what}: {}", super::http::short(&e)))?;
        let status = response.status();
        let body = super::http::body(response, CAP)
            .await
            .map_err(|e| format!("Cloudflare: {what}: {e}"))?;
        let envelope: Envelope<T> = serde_json::from_slice(&body).map_err(|e| {
            self.masked(&format!(
                "Cloudflare: {what}: HTTP {status}, an answer touban cannot read ({e})"
            ))
        })?;
        if !status.is_success() || !envelope.success {
            return Err(self.masked(&refused(what, status, &envelope.errors)));
        }
        envelope
            .result
            .ok_or_else(|| format!("Cloudflare: {what}: the answer has no result"))
    }

    /// A message with the token taken out, should an answer echo it, and
    /// any URL credential masked.
    fn masked(&self, text: &str) -> String {
        let text = if self.token.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.token, "[token]")
        };
        crate::config::secret::mask_line(&text)
    }

    /// The pool: its name, whether enabled, and when disabled.
    async fn pool(&self, id: &str) -> Result<Pool, String> {
        let url = format!("{}/{id}", self.pools);
        self.call(&format!("get pool {id}"), self.http.get(url))
            .await
    }

    /// What the monitors see of the pool.
    async fn health(&self, id: &str) -> Result<Health, String> {
        let url = format!("{}/{id}/health", self.pools);
        self.call(&format!("get the health of pool {id}"), self.http.get(url))
            .await
    }

    /// The pool and its health, as one reading. A health that cannot be
    /// read leaves the pool read, its health unknown and why: whether the
    /// pool is enabled is what acting on it needs.
    pub async fn status(&self, id: &str) -> Result<PoolStatus, String> {
        let (pool, health) = tokio::join!(self.pool(id), self.health(id));
        let pool = pool?;
        Ok(match health {
            Ok(h) => reading(pool, &h),
            Err(e) => PoolStatus {
                failure: Some(format!("health not read: {e}")),
                ..reading(pool, &Health::default())
            },
        })
    }

    /// Enables or disables the pool (`PATCH {"enabled": …}`); returns
    /// whether the pool Cloudflare answers with is enabled.
    pub async fn set_enabled(&self, id: &str, enabled: bool) -> Result<bool, String> {
        let url = format!("{}/{id}", self.pools);
        let what = format!("{} pool {id}", if enabled { "enable" } else { "disable" });
        let pool: Pool = self
            .call(
                &what,
                self.http
                    .patch(url)
                    .json(&serde_json::json!({ "enabled": enabled })),
            )
            .await?;
        Ok(pool.enabled)
    }
}

/// What Cloudflare's refusal says, with what to check: the token where
/// an error (or a cause it chains) is authentication (10000),
/// authorization (9109) or a token not of a token's form (6003, 6111).
fn refused(what: &str, status: reqwest::StatusCode, errors: &[ApiMessage]) -> String {
    let token = errors
        .iter()
        .flat_map(ApiMessage::codes)
        .any(|c| matches!(c, 6003 | 6111 | 9109 | 10000));
    let hint = if token || matches!(status.as_u16(), 401 | 403) {
        ": check the API token and that it may use Load Balancing: Monitors and Pools"
    } else if status.as_u16() == 404 {
        ": check the account and pool ids in [traffic]"
    } else {
        ""
    };
    let errors: Vec<String> = errors.iter().map(ApiMessage::text).collect();
    format!(
        "Cloudflare: {what}: HTTP {status}: {}{hint}",
        errors.join("; ")
    )
}

/// One reading from a pool and its health: healthy where every data
/// centre that checks it says so; unknown where none does. An origin
/// counts once, healthy only if every data centre sees it so.
fn reading(pool: Pool, health: &Health) -> PoolStatus {
    let pops: Vec<&PopHealth> = health.pop_health.values().collect();
    let healthy = (!pops.is_empty()).then(|| pops.iter().all(|p| p.healthy));
    let mut origins: std::collections::BTreeMap<&str, bool> = std::collections::BTreeMap::new();
    let mut failure = None;
    for (address, o) in pops
        .iter()
        .flat_map(|p| p.origins.iter().flatten().flat_map(|o| o.iter()))
    {
        let all = origins.entry(address.as_str()).or_insert(true);
        *all &= o.healthy;
        if !o.healthy && failure.is_none() {
            failure.clone_from(&o.failure_reason);
        }
    }
    PoolStatus {
        name: if pool.name.is_empty() {
            pool.id.clone()
        } else {
            pool.name
        },
        id: pool.id,
        enabled: pool.enabled,
        disabled_at: pool.disabled_at,
        healthy,
        origins: (origins.values().filter(|h| **h).count(), origins.len()),
        failure,
    }
}

/// Starts a task per configured pool.
pub fn spawn<E: From<Update> + Send + 'static>(
    platform: &Platform,
    tx: &mpsc::Sender<E>,
    every: Duration,
) -> Vec<JoinHandle<()>> {
    let Some(t) = &platform.traffic else {
        return Vec::new();
    };
    t.pools
        .iter()
        .map(|p| {
            let id = SourceId::new(p.region.get_ref(), SourceKind::Traffic, TRAFFIC);
            tokio::spawn(run(
                id,
                t.clone(),
                p.id.get_ref().clone(),
                tx.clone(),
                every,
            ))
        })
        .collect()
}

async fn run<E: From<Update> + Send + 'static>(
    id: SourceId,
    traffic: Traffic,
    pool: String,
    tx: mpsc::Sender<E>,
    every: Duration,
) {
    let Some(mut report) = super::Reporter::start(id, tx).await else {
        return;
    };
    let client = match Cloudflare::new(&traffic) {
        Ok(c) => c,
        Err(e) => {
            report.failed(e).await;
            return;
        }
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let going_on = match client.status(&pool).await {
            Ok(status) => {
                report.ok().await
                    && report
                        .send(Update::Data {
                            id: report.id.clone(),
                            status: Box::new(DataStatus::Pool(status)),
                        })
                        .await
            }
            Err(e) => report.failed(e).await,
        };
        if !going_on {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cloudflare's published example of Pool Health Details.
    const EXAMPLE_HEALTH: &str = r#"{
      "errors": [], "messages": [], "success": true,
      "result": {
        "pool_id": "17b5962d775c646f3f9725cbc7a53df4",
        "pop_health": {
          "Amsterdam, NL": {
            "healthy": true,
            "origins": [
              { "2001:DB8::5": { "failure_reason": "No failures", "healthy": true, "response_code": 401, "rtt": "12.1ms" } }
            ]
          }
        }
      }
    }"#;

    fn pool(enabled: bool) -> Pool {
        Pool {
            id: "17b5962d775c646f3f9725cbc7a53df4".into(),
            name: "primary-dc-1".into(),
            enabled,
            disabled_at: None,
        }
    }

    #[test]
    fn the_published_health_example_reads_as_healthy() {
        let e: Envelope<Health> = serde_json::from_str(EXAMPLE_HEALTH).expect("parses");
        let health = e.result.expect("a result");
        let s = reading(pool(true), &health);
        assert_eq!(s.healthy, Some(true));
        assert_eq!(s.origins, (1, 1));
        assert_eq!(s.summary(), "enabled, healthy (1/1 origins)");
    }

    #[test]
    fn a_malformed_token_s_chained_error_says_to_check_the_token() {
        let text = r#"{"success": false, "result": null, "messages": [], "errors": [
            {"code": 6003, "message": "Invalid request headers",
             "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}]}
        ]}"#;
        let e: Envelope<Pool> = serde_json::from_str(text).expect("parses");
        let why = refused("get pool x", reqwest::StatusCode::BAD_REQUEST, &e.errors);
        assert_eq!(
            why,
            "Cloudflare: get pool x: HTTP 400 Bad Request: Invalid request headers (code 6003): Invalid format for Authorization header (code 6111): check the API token and that it may use Load Balancing: Monitors and Pools"
        );
    }

    #[test]
    fn an_answer_that_echoes_the_token_is_shown_without_it() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = Cloudflare {
            http: reqwest::Client::new(),
            pools: "http://127.0.0.1:1/client/v4/accounts/a/load_balancers/pools".into(),
            token: "s3cret-token-value".into(),
            configured: Vec::new(),
        };
        let shown = client.masked("Cloudflare: HTTP 400: bad header `Bearer s3cret-token-value`");
        assert!(!shown.contains("s3cret-token-value"), "{shown}");
        assert!(shown.contains("[token]"), "{shown}");
    }

    #[test]
    fn a_pool_without_a_monitor_reads_with_null_origins() {
        let text = r#"{"pop_health": {"Tokyo, JP": {"healthy": true, "origins": null}}}"#;
        let health: Health = serde_json::from_str(text).expect("parses");
        let s = reading(pool(true), &health);
        assert_eq!((s.healthy, s.origins), (Some(true), (0, 0)));
    }

    #[test]
    fn a_pool_no_monitor_checks_is_not_called_healthy() {
        let health = Health {
            pop_health: std::collections::BTreeMap::new(),
        };
        let s = reading(pool(false), &health);
        assert_eq!(s.healthy, None);
        assert_eq!(s.summary(), "disabled, not health-checked");
    }

    #[test]
    fn one_unhealthy_data_centre_makes_the_pool_unhealthy_with_its_reason() {
        let text = r#"{"pop_health": {
            "Tokyo, JP": {"healthy": false, "origins": [{"a": {"healthy": false, "failure_reason": "TCP connection failed"}}]},
            "Osaka, JP": {"healthy": true, "origins": [{"a": {"healthy": true, "failure_reason": "No failures"}}]}
        }}"#;
        let health: Health = serde_json::from_str(text).expect("parses");
        let s = reading(pool(true), &health);
        assert_eq!(s.healthy, Some(false));
        assert_eq!(s.failure.as_deref(), Some("TCP connection failed"));
        assert_eq!(s.origins, (0, 1), "one origin, not healthy everywhere");
    }
}
