//! PromQL figures: per region with a `prometheus` URL, instant queries
//! (`[[figures]]`, or the seed's dashboard panels by default) every 15 s,
//! each answer kept as `(series, value)` pairs. The region's Prometheus is
//! a source of its own: connecting, live, error, stale.

use std::time::Duration;

use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Platform;
use crate::model::data::{Figure, FigureSpec};
use crate::model::{SourceId, SourceKind, Update};

/// How often the figures are queried.
pub const INTERVAL: Duration = Duration::from_secs(15);

/// How long one round of queries may take.
const DEADLINE: Duration = Duration::from_secs(5);

/// The source's name in each region.
pub const NAME: &str = crate::config::platform::PROMETHEUS;

/// Starts a task per region that names a Prometheus.
pub fn spawn<E: From<Update> + Send + 'static>(
    platform: &Platform,
    tx: &mpsc::Sender<E>,
    every: Duration,
) -> Vec<JoinHandle<()>> {
    let specs = platform.figure_specs();
    platform
        .regions
        .iter()
        .filter_map(|r| {
            let url = r
                .prometheus
                .as_ref()?
                .get_ref()
                .trim_end_matches('/')
                .to_owned();
            let id = SourceId::new(r.name.get_ref(), SourceKind::Metrics, NAME);
            let cap = platform.max_reply_bytes();
            Some(tokio::spawn(run(
                id,
                url,
                specs.clone(),
                tx.clone(),
                every,
                cap,
            )))
        })
        .collect()
}

async fn run<E: From<Update> + Send + 'static>(
    id: SourceId,
    url: String,
    specs: Vec<FigureSpec>,
    tx: mpsc::Sender<E>,
    every: Duration,
    cap: u64,
) {
    let Some(mut report) = super::Reporter::start(id, tx).await else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = match super::http::client(DEADLINE) {
        Ok(h) => h,
        Err(e) => {
            report.failed(e).await;
            return;
        }
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // Every figure at once, under one deadline: a Prometheus that
        // hangs is noticed in one timeout, not one per figure.
        let (http, url) = (&http, &url);
        let asked = specs.iter().map(|spec| async move {
            let values = query(http, url, &spec.query, cap).await;
            (spec, values)
        });
        let answers = tokio::time::timeout(DEADLINE, futures_util::future::join_all(asked)).await;
        let mut figures = Vec::new();
        let mut reached = false;
        let mut error = Some(format!(
            "{}: no answer within {} s",
            crate::config::secret::mask_url(url),
            DEADLINE.as_secs()
        ));
        for (spec, values) in answers.unwrap_or_default() {
            match &values {
                Ok(_) | Err((false, _)) => reached = true,
                Err((true, e)) => error = Some(e.clone()),
            }
            figures.push(Figure {
                spec: spec.clone(),
                values: values.map_err(|(_, e)| e),
            });
        }
        let going_on = if reached {
            report.ok().await
                && report
                    .send(Update::Figures {
                        region: report.id.region.clone(),
                        figures,
                    })
                    .await
        } else {
            report
                .failed(error.unwrap_or_else(|| format!("{url}: no answer")))
                .await
        };
        if !going_on {
            return;
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: serde_json::Value,
}

/// An instant query's `(series, value)` pairs; the error says whether
/// Prometheus was unreachable (`true`) or refused the query (`false`).
async fn query(
    http: &reqwest::Client,
    base: &str,
    promql: &str,
    cap: u64,
) -> Result<Vec<(String, f64)>, (bool, String)> {
    let q: String = form_urlencoded::byte_serialize(promql.as_bytes()).collect();
    let shown = crate::config::secret::mask_url(base);
    let response = http
        .get(format!("{base}/api/v1/query?query={q}"))
        .send()
        .await
        .map_err(|e| (true, format!("{shown}: {}", super::http::short(&e))))?;
    // A refused query answers 400 with a JSON error: read it either way.
    let body = super::http::body(response, cap)
        .await
        .map_err(|e| (true, format!("{shown}: {e}")))?;
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|e| (true, format!("{shown}: not a Prometheus answer: {e}")))?;
    if answer.status != "success" {
        return Err((false, answer.error.unwrap_or_else(|| "query failed".into())));
    }
    let Some(data) = answer.data else {
        return Ok(Vec::new());
    };
    let value = |v: &serde_json::Value| {
        v.get(1)
            .and_then(|s| s.as_str())
            .and_then(|s| s.parse::<f64>().ok())
    };
    Ok(match data.result_type.as_str() {
        "scalar" => value(&data.result)
            .map(|v| vec![(String::new(), v)])
            .unwrap_or_default(),
        "vector" => data
            .result
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let labels = s.get("metric")?.as_object()?;
                let mut names: Vec<String> = labels
                    .iter()
                    .filter(|(k, _)| *k != "__name__")
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect();
                names.sort();
                Some((names.join(","), value(s.get("value")?)?))
            })
            .collect(),
        _ => Vec::new(),
    })
}
