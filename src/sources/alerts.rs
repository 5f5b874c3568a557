//! Alert sources: per configured `[[alert_sources]]`, a task that polls
//! (every 5 s unless `interval_seconds` says otherwise) an Alertmanager's
//! API v2 (alerts with their state and group, active silences), a Prometheus's
//! `/api/v1/rules` (its alerting rules' pending and firing alerts, and the
//! `for` of each rule), or CloudWatch's DescribeAlarms; and sends what it
//! read whole. A failed poll keeps what was shown: the source turns stale
//! (or, before any success, error) and recovers by itself.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Platform;
use crate::config::platform::{AlertSource, AlertSourceKind};
use crate::model::alert::{AlertRow, AlertSnapshot, AlertState, Origin, SilenceRow, fingerprint};
use crate::model::{SourceId, SourceKind, Update};

/// How often a source is polled unless its config says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// How long one poll may take.
const TIMEOUT: Duration = Duration::from_secs(4);

/// Starts a task per configured alert source.
pub fn spawn<E: From<Update> + Send + 'static>(
    platform: &Platform,
    tx: &mpsc::Sender<E>,
) -> Vec<JoinHandle<()>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cap = platform.max_reply_bytes();
    platform
        .alert_sources
        .iter()
        .map(|s| tokio::spawn(run(s.clone(), tx.clone(), cap)))
        .collect()
}

async fn run<E: From<Update> + Send + 'static>(source: AlertSource, tx: mpsc::Sender<E>, cap: u64) {
    let id = SourceId::new(
        source.region.get_ref(),
        SourceKind::Alerts,
        source.name.get_ref(),
    );
    let Some(mut report) = super::Reporter::start(id, tx).await else {
        return;
    };
    let poller = match Poller::new(&source, cap).await {
        Ok(p) => p,
        Err(message) => {
            report.failed(message).await;
            return;
        }
    };
    let every = source
        .interval_seconds
        .as_ref()
        .map_or(DEFAULT_INTERVAL, |s| Duration::from_secs(*s.get_ref()));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_sent: Option<AlertSnapshot> = None;
    loop {
        ticks.tick().await;
        let result = tokio::time::timeout(TIMEOUT, poller.poll(&source))
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "{}: no answer within {} s",
                    poller.endpoint,
                    TIMEOUT.as_secs()
                ))
            });
        let going_on = match result {
            Ok(snapshot) => {
                // The snapshot goes first: a source is never live with
                // nothing of it stored.
                let mut ok = true;
                if last_sent.as_ref() != Some(&snapshot) {
                    last_sent = Some(snapshot.clone());
                    ok = report
                        .send(Update::Alerts {
                            id: report.id.clone(),
                            snapshot,
                        })
                        .await;
                }
                ok && report.ok().await
            }
            Err(message) => report.failed(message).await,
        };
        if !going_on {
            return;
        }
    }
}

/// What a source polls with.
struct Poller {
    http: reqwest::Client,
    /// The most an answer may be.
    cap: u64,
    /// The base URL, for messages.
    endpoint: String,
    cloudwatch: Option<aws_sdk_cloudwatch::Client>,
}

impl Poller {
    async fn new(source: &AlertSource, cap: u64) -> Result<Poller, String> {
        let url = source
            .url
            .as_ref()
            .map(|u| u.get_ref().trim_end_matches('/').to_owned());
        let http = super::http::client(TIMEOUT)?;
        let cloudwatch = match source.kind {
            AlertSourceKind::Cloudwatch => Some(
                crate::sources::aws::cloudwatch(
                    source.aws_region.as_deref(),
                    url.as_deref(),
                    source.anonymous,
                    cap,
                )
                .await,
            ),
            _ => None,
        };
        let endpoint = match (&url, source.kind) {
            (Some(u), _) => u.clone(),
            (None, AlertSourceKind::Cloudwatch) => format!(
                "CloudWatch {}",
                source.aws_region.as_deref().unwrap_or("(default region)")
            ),
            (None, _) => {
                return Err(format!(
                    "alert source `{}` has no url: set url = \"http://HOST:PORT\"",
                    source.name.get_ref()
                ));
            }
        };
        Ok(Poller {
            http,
            cap,
            endpoint,
            cloudwatch,
        })
    }

    async fn poll(&self, source: &AlertSource) -> Result<AlertSnapshot, String> {
        let base = Base {
            region: source.region.get_ref().clone(),
            source: source.name.get_ref().clone(),
        };
        match source.kind {
            AlertSourceKind::Alertmanager => self.alertmanager(&base).await,
            AlertSourceKind::Prometheus => self.prometheus(&base).await,
            AlertSourceKind::Cloudwatch => match &self.cloudwatch {
                Some(c) => crate::sources::aws::alarms(c, &base.region, &base.source).await,
                None => Err("CloudWatch client missing".into()),
            },
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, String> {
        let url = format!("{}{path}", self.endpoint);
        super::http::get_json(&self.http, &url, self.cap).await
    }

    async fn alertmanager(&self, base: &Base) -> Result<AlertSnapshot, String> {
        let (alerts, silences, groups) = tokio::join!(
            self.get::<Vec<serde_json::Value>>(
                "/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true"
            ),
            self.get::<Vec<serde_json::Value>>("/api/v2/silences"),
            self.get::<Vec<serde_json::Value>>("/api/v2/alerts/groups"),
        );
        let mut malformed = 0;
        let alerts: Vec<AmAlert> = readable(alerts?, &mut malformed);
        let silences: Vec<AmSilence> = readable(silences?, &mut 0);
        let groups: Vec<AmGroup> = readable(groups?, &mut 0);
        // Each alert's group, by fingerprint: the receiver and group labels.
        let mut group_of: std::collections::HashMap<String, (String, usize)> =
            std::collections::HashMap::new();
        for g in groups {
            let labels: Vec<String> = g.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let name = format!("{}: {}", g.receiver.name, labels.join(","));
            for a in &g.alerts {
                group_of.insert(a.fingerprint.clone(), (name.clone(), g.alerts.len()));
            }
        }
        Ok(AlertSnapshot {
            malformed,
            alerts: alerts
                .into_iter()
                .map(|a| {
                    let group = group_of.remove(&a.fingerprint);
                    let mut row = a.row(base);
                    row.group = group;
                    row
                })
                .collect(),
            silences: silences
                .into_iter()
                .filter(|s| s.status.state == "active")
                .map(AmSilence::row)
                .collect(),
        })
    }

    async fn prometheus(&self, base: &Base) -> Result<AlertSnapshot, String> {
        let rules: PromResponse = self.get("/api/v1/rules?type=alert").await?;
        let mut alerts = Vec::new();
        let mut malformed = 0;
        for group in rules.data.groups {
            let rules: Vec<PromRule> = readable(group.rules, &mut malformed);
            for rule in rules.into_iter().filter(|r| r.kind == "alerting") {
                let graph = format!(
                    "{}/graph?g0.expr={}&g0.tab=1",
                    self.endpoint,
                    form_urlencoded::byte_serialize(rule.query.as_bytes()).collect::<String>()
                );
                let hold = Duration::try_from_secs_f64(rule.duration).ok();
                for a in readable::<PromAlert>(rule.alerts, &mut malformed) {
                    let state = match a.state.as_str() {
                        "pending" => AlertState::Pending,
                        _ => AlertState::Firing,
                    };
                    let since = a.active_at.as_deref().and_then(parse_time);
                    // A `for` from the network may be anything: a time
                    // that does not exist is no time.
                    let fires_at = since
                        .filter(|_| state == AlertState::Pending)
                        .zip(hold)
                        .and_then(|(s, d)| s.checked_add(d));
                    let mut row = row(base, Origin::Prometheus, a.labels, a.annotations);
                    row.state = Some(state);
                    row.since = since;
                    row.fires_at = fires_at;
                    row.generator_url = Some(graph.clone());
                    alerts.push(row);
                }
            }
        }
        Ok(AlertSnapshot {
            alerts,
            silences: Vec::new(),
            malformed,
        })
    }
}

/// The values that read as `T`; the others counted in `skipped`.
fn readable<T: serde::de::DeserializeOwned>(
    values: Vec<serde_json::Value>,
    skipped: &mut usize,
) -> Vec<T> {
    let mut out = Vec::with_capacity(values.len());
    for v in values {
        match serde_json::from_value(v) {
            Ok(t) => out.push(t),
            Err(e) => {
                *skipped += 1;
                tracing::debug!("an alert source sent an entry that does not read: {e}");
            }
        }
    }
    out
}

/// Where rows come from.
pub(crate) struct Base {
    pub region: String,
    pub source: String,
}

/// A row from labels and annotations, as Prometheus and Alertmanager
/// send them.
fn row(
    base: &Base,
    origin: Origin,
    labels: std::collections::BTreeMap<String, String>,
    annotations: std::collections::BTreeMap<String, String>,
) -> AlertRow {
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    AlertRow {
        fingerprint: fingerprint(labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        region: base.region.clone(),
        source: base.source.clone(),
        origin: Some(origin),
        name: get("alertname"),
        severity: get("severity"),
        team: get("team"),
        summary: annotations
            .get("summary")
            .or_else(|| annotations.get("description"))
            .cloned()
            .unwrap_or_default(),
        labels: labels.into_iter().collect(),
        annotations: annotations.into_iter().collect(),
        ..AlertRow::default()
    }
}

/// An RFC 3339 time.
pub(crate) fn parse_time(s: &str) -> Option<SystemTime> {
    let t: jiff::Timestamp = s.parse().ok()?;
    SystemTime::try_from(t).ok()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmAlert {
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
    starts_at: Option<String>,
    #[serde(rename = "generatorURL")]
    generator_url: Option<String>,
    fingerprint: String,
    status: AmStatus,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmStatus {
    state: String,
    #[serde(default)]
    silenced_by: Vec<String>,
    #[serde(default)]
    inhibited_by: Vec<String>,
}

impl AmAlert {
    fn row(self, base: &Base) -> AlertRow {
        let state = if !self.status.silenced_by.is_empty() {
            AlertState::Silenced
        } else if !self.status.inhibited_by.is_empty() {
            AlertState::Inhibited
        } else {
            AlertState::Firing
        };
        let mut r = row(base, Origin::Alertmanager, self.labels, self.annotations);
        r.fingerprint = self.fingerprint;
        r.state = Some(state);
        r.since = self.starts_at.as_deref().and_then(parse_time);
        r.generator_url = self.generator_url.filter(|u| !u.is_empty());
        r.silenced_by = self.status.silenced_by;
        r.inhibited_by = self.status.inhibited_by;
        let _ = self.status.state;
        r
    }
}

#[derive(Deserialize)]
struct AmGroup {
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    receiver: AmReceiver,
    #[serde(default)]
    alerts: Vec<AmGroupAlert>,
}

#[derive(Deserialize)]
struct AmReceiver {
    name: String,
}

#[derive(Deserialize)]
struct AmGroupAlert {
    fingerprint: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmSilence {
    id: String,
    status: AmSilenceStatus,
    #[serde(default)]
    matchers: Vec<AmMatcher>,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    comment: String,
    ends_at: Option<String>,
}

#[derive(Deserialize)]
struct AmSilenceStatus {
    state: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmMatcher {
    name: String,
    value: String,
    #[serde(default)]
    is_regex: bool,
    #[serde(default = "yes")]
    is_equal: bool,
}

fn yes() -> bool {
    true
}

impl AmSilence {
    fn row(self) -> SilenceRow {
        SilenceRow {
            id: self.id,
            matchers: self
                .matchers
                .into_iter()
                .map(|m| {
                    let op = match (m.is_equal, m.is_regex) {
                        (true, false) => "=",
                        (true, true) => "=~",
                        (false, false) => "!=",
                        (false, true) => "!~",
                    };
                    format!("{}{op}{}", m.name, m.value)
                })
                .collect(),
            created_by: self.created_by,
            comment: self.comment,
            ends_at: self.ends_at.as_deref().and_then(parse_time),
        }
    }
}

#[derive(Deserialize)]
struct PromResponse {
    data: PromData,
}

#[derive(Deserialize)]
struct PromData {
    groups: Vec<PromGroup>,
}

#[derive(Deserialize)]
struct PromGroup {
    rules: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct PromRule {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    query: String,
    /// The rule's `for`, in seconds.
    #[serde(default)]
    duration: f64,
    #[serde(default)]
    alerts: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromAlert {
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
    state: String,
    active_at: Option<String>,
}
