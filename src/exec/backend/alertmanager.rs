//! Silences through Alertmanager API v2, for the executor: create one
//! (`POST /api/v2/silences`), read its state (`GET /api/v2/silence/{id}`),
//! expire it (`DELETE /api/v2/silence/{id}`), and check the Alertmanager
//! answers (`GET /api/v2/status`). An Alertmanager that refuses says why:
//! its own error text is in the failure.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::Failure;
use crate::config::secret::{mask_line, mask_url};
use crate::model::action::{Matcher, Target};

/// How long one call may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most an answer may be.
const CAP: u64 = 1 << 20;

/// The Alertmanagers of the configured alert sources, by source name.
#[derive(Default)]
pub struct Alertmanagers {
    urls: BTreeMap<String, String>,
    http: Option<reqwest::Client>,
}

impl Alertmanagers {
    /// These Alertmanagers, by alert source name → base URL.
    pub fn new(urls: BTreeMap<String, String>) -> Alertmanagers {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Alertmanagers {
            urls: urls
                .into_iter()
                .map(|(k, v)| (k, v.trim_end_matches('/').to_owned()))
                .collect(),
            http: crate::sources::http::client(TIMEOUT).ok(),
        }
    }

    fn base(&self, t: &Target) -> Result<(&reqwest::Client, &str), Failure> {
        let http = self.http.as_ref().ok_or_else(|| Failure {
            what: "no HTTP client could be made for the Alertmanager".into(),
            status: None,
        })?;
        let url = self.urls.get(&t.cluster).ok_or_else(|| Failure {
            what: format!(
                "no Alertmanager named {}: is it an [[alert_sources]] of kind \"alertmanager\" with a url?",
                t.cluster
            ),
            status: None,
        })?;
        Ok((http, url))
    }

    /// Sends a request, reads its answer (capped); a status other than
    /// 2xx is a failure with the Alertmanager's own text.
    async fn call(
        &self,
        t: &Target,
        request: reqwest::RequestBuilder,
        doing: &str,
    ) -> Result<(u16, serde_json::Value), Failure> {
        let (_, base) = self.base(t)?;
        let shown = mask_url(base);
        let response = request.send().await.map_err(|e| Failure {
            what: format!(
                "{doing} on the Alertmanager {} ({shown}): {}",
                t.cluster,
                crate::sources::http::short(&e)
            ),
            status: None,
        })?;
        let status = response.status().as_u16();
        let body = crate::sources::http::body(response, CAP)
            .await
            .map_err(|e| Failure {
                what: format!("{doing} on the Alertmanager {} ({shown}): {e}", t.cluster),
                status: Some(status),
            })?;
        if !(200..300).contains(&status) {
            let text = String::from_utf8_lossy(&body);
            return Err(Failure {
                what: mask_line(&format!(
                    "{doing}: the Alertmanager {} ({shown}) answered HTTP {status}: {}",
                    t.cluster,
                    text.trim()
                )),
                status: Some(status),
            });
        }
        let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        Ok((status, value))
    }

    /// The Alertmanager answers.
    pub async fn reachable(&self, t: &Target) -> Result<(), Failure> {
        let (http, base) = self.base(t)?;
        let request = http.get(format!("{base}/api/v2/status"));
        self.call(t, request, "read the status").await.map(|_| ())
    }

    /// Creates a silence; its id.
    pub async fn create(
        &self,
        t: &Target,
        matchers: &[Matcher],
        duration: Duration,
        created_by: &str,
        comment: &str,
    ) -> Result<String, Failure> {
        let (http, base) = self.base(t)?;
        let now = jiff::Timestamp::now();
        let ends = now
            .checked_add(jiff::SignedDuration::try_from(duration).unwrap_or_default())
            .unwrap_or(now);
        let body = json!({
            "matchers": matchers.iter().map(|m| json!({
                "name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal,
            })).collect::<Vec<_>>(),
            "startsAt": now.to_string(),
            "endsAt": ends.to_string(),
            "createdBy": created_by,
            "comment": mask_line(comment),
        });
        let request = http.post(format!("{base}/api/v2/silences")).json(&body);
        let (_, answer) = self.call(t, request, "create the silence").await?;
        answer
            .get("silenceID")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Failure {
                what: format!(
                    "the Alertmanager {} answered no silenceID: {answer}",
                    t.cluster
                ),
                status: None,
            })
    }

    /// A silence's state (`active`, `pending`, `expired`), `None` if the
    /// Alertmanager does not know it.
    pub async fn state(&self, t: &Target, id: &str) -> Result<Option<String>, Failure> {
        let (http, base) = self.base(t)?;
        let request = http.get(format!("{base}/api/v2/silence/{id}"));
        match self.call(t, request, "read the silence").await {
            Ok((_, v)) => Ok(v
                .pointer("/status/state")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)),
            Err(f) if f.status == Some(404) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// The id of a silence not yet expired (active or pending) that is the
    /// one these arguments would create: the same matchers, creator and
    /// comment. What a resumed create finds instead of making a second.
    pub async fn find(
        &self,
        t: &Target,
        matchers: &[Matcher],
        created_by: &str,
        comment: &str,
    ) -> Result<Option<String>, Failure> {
        let (http, base) = self.base(t)?;
        let request = http.get(format!("{base}/api/v2/silences"));
        let (_, all) = self.call(t, request, "list the silences").await?;
        let comment = mask_line(comment);
        let mut wanted: Vec<(String, String, bool, bool)> = matchers
            .iter()
            .map(|m| (m.name.clone(), m.value.clone(), m.is_regex, m.is_equal))
            .collect();
        wanted.sort();
        let same = |s: &serde_json::Value| {
            let text = |k: &str| s.get(k).and_then(serde_json::Value::as_str);
            let state = s
                .pointer("/status/state")
                .and_then(serde_json::Value::as_str);
            let mut have: Vec<(String, String, bool, bool)> = s
                .get("matchers")
                .and_then(serde_json::Value::as_array)
                .map(|ms| {
                    ms.iter()
                        .map(|m| {
                            let flag = |k: &str, default: bool| {
                                m.get(k)
                                    .and_then(serde_json::Value::as_bool)
                                    .unwrap_or(default)
                            };
                            (
                                m.get("name")
                                    .and_then(serde_json::Value::as_str)
                                    .unwrap_or_default()
                                    .to_owned(),
                                m.get("value")
                                    .and_then(serde_json::Value::as_str)
                                    .unwrap_or_default()
                                    .to_owned(),
                                flag("isRegex", false),
                                flag("isEqual", true),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            have.sort();
            matches!(state, Some("active" | "pending"))
                && text("createdBy") == Some(created_by)
                && text("comment") == Some(comment.as_str())
                && have == wanted
        };
        Ok(all
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| same(s))
            .and_then(|s| s.get("id").and_then(serde_json::Value::as_str))
            .map(str::to_owned))
    }

    /// Expires a silence.
    pub async fn expire(&self, t: &Target, id: &str) -> Result<(), Failure> {
        let (http, base) = self.base(t)?;
        let request = http.delete(format!("{base}/api/v2/silence/{id}"));
        self.call(t, request, "expire the silence")
            .await
            .map(|_| ())
    }
}
