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
            Some(tokio::spawn(run(id, url, specs.clone(), tx.clone(), every)))
        })
        .collect()
}

async fn run<E: From<Update> + Send + 'static>(
    id: SourceId,
    url: String,
    specs: Vec<FigureSpec>,
    tx: mpsc::Sender<E>,
    every: Duration,
) {
    let Some(mut report) = super::Reporter::start(id, tx).await else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(h) => h,
        Err(e) => {
            report
                .failed(format!("cannot make an HTTP client: {e}"))
                .await;
            return;
        }
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let mut figures = Vec::new();
        let mut reached = false;
        let mut error = None;
        for spec in &specs {
            let values = query(&http, &url, &spec.query).await;
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
) -> Result<Vec<(String, f64)>, (bool, String)> {
    let q: String = form_urlencoded::byte_serialize(promql.as_bytes()).collect();
    let response = http
        .get(format!("{base}/api/v1/query?query={q}"))
        .send()
        .await
        .map_err(|e| {
            (
                true,
                format!(
                    "{base}: {}",
                    if e.is_connect() {
                        "cannot connect".to_owned()
                    } else {
                        e.to_string()
                    }
                ),
            )
        })?;
    let answer: Answer = response
        .json()
        .await
        .map_err(|e| (true, format!("{base}: unexpected answer: {e}")))?;
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
