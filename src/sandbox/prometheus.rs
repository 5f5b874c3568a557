//! A Prometheus HTTP API subset per region, over the sandbox's own
//! evaluation of the seed's rules: `/api/v1/rules` (the rules, with their
//! pending and firing alerts and each `for`), `/api/v1/alerts`, and the
//! `/-/ready` and `/-/healthy` probes. Pending alerts are known from the
//! first minute, before any of them fires. There is no PromQL query API: an
//! honest one needs a PromQL engine; the tests' real Prometheus answers
//! queries.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;

use super::alerts::Alerting;

struct Served {
    alerting: Arc<Mutex<Alerting>>,
    region: &'static str,
    speed: f64,
}

/// The router of one region's Prometheus.
pub fn router(alerting: Arc<Mutex<Alerting>>, region: &'static str, speed: f64) -> Router {
    Router::new()
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/alerts", get(alerts))
        .route("/-/ready", get(|| async { "Prometheus Server is Ready." }))
        .route(
            "/-/healthy",
            get(|| async { "Prometheus Server is Healthy." }),
        )
        .with_state(Arc::new(Served {
            alerting,
            region,
            speed,
        }))
}

fn json_ok(v: &Value) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

fn lock(a: &Mutex<Alerting>) -> std::sync::MutexGuard<'_, Alerting> {
    a.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn rules(State(s): State<Arc<Served>>, RawQuery(_): RawQuery) -> Response {
    json_ok(&lock(&s.alerting).prometheus_rules(s.region, s.speed))
}

async fn alerts(State(s): State<Arc<Served>>) -> Response {
    json_ok(&lock(&s.alerting).prometheus_alerts(s.region))
}
