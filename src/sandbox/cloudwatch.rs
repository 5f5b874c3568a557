//! CloudWatch in the protocol the current `aws-sdk-cloudwatch` speaks:
//! Smithy RPC v2 CBOR (`POST /service/GraniteServiceVersion20100801/
//! operation/{Operation}`, CBOR bodies, gzip for large requests,
//! timestamps as CBOR tag 1). `GetMetricData` for the AWS/RDS and
//! AWS/ElastiCache metrics of the seed's Tokyo database and cache, and
//! `DescribeAlarms`. Values are functions of the simulated time and the
//! scenario, so CloudWatch agrees with the rest of the sandbox: when the
//! Tokyo primary fails, its datapoints stop and its alarm goes off.

// Simulated seconds and epoch seconds are well within f64's exact range.
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ciborium::Value;

use super::controller::Clock;
use super::scenario::Scenario;

/// The sandbox's AWS account, in ARNs.
pub const ACCOUNT: &str = "123456789012";
/// The AWS region served.
pub const AWS_REGION: &str = "ap-northeast-1";
/// The Tokyo primary's `DBInstanceIdentifier`.
pub const DB: &str = "iworkz-production-postgres";
/// The Tokyo cache's `ReplicationGroupId`.
pub const CACHE: &str = "iworkz-production-redis";

/// The CloudWatch of the sandbox.
pub struct CloudWatch {
    scenario: Scenario,
    speed: f64,
    started: f64,
}

impl CloudWatch {
    /// CloudWatch over the scenario, on the sandbox's clock.
    pub fn new(clock: Clock, scenario: Scenario, speed: f64) -> CloudWatch {
        CloudWatch {
            scenario,
            speed: speed.max(0.01),
            started: wall_now() - clock.now().as_secs_f64() / speed.max(0.01),
        }
    }

    /// The simulated second at a wall-clock epoch second (negative before
    /// the start: the world had a past, and its series swing through it).
    fn sim_second(&self, wall: f64) -> i64 {
        ((wall - self.started) * self.speed) as i64
    }

    /// The value of a metric at a wall-clock epoch second, if it has one.
    fn value(
        &self,
        namespace: &str,
        metric: &str,
        dims: &[(String, String)],
        wall: f64,
    ) -> Option<f64> {
        let t = self.sim_second(wall);
        let c = self.scenario.at(u64::try_from(t).unwrap_or(0));
        let swing = (t as f64 / 3600.0 * std::f64::consts::TAU).sin();
        let dim = |name: &str| {
            dims.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        match namespace {
            "AWS/RDS" => {
                let id = dim("DBInstanceIdentifier")?;
                let replica = id == format!("{DB}-replica");
                if id != DB && !replica {
                    return None;
                }
                // A failed primary publishes nothing.
                if c.tokyo_db_down && !replica {
                    return None;
                }
                Some(match metric {
                    "CPUUtilization" => 28.0 + 8.0 * swing,
                    "DatabaseConnections" => (48.0 + 10.0 * swing).round(),
                    "ReplicaLag" if replica => 0.3,
                    "FreeStorageSpace" => 420.0e9 - t as f64 * 1_000.0,
                    "ReadLatency" => 0.0018 + 0.0004 * swing,
                    "WriteLatency" => 0.0035 + 0.0006 * swing,
                    _ => return None,
                })
            }
            "AWS/ElastiCache" => {
                let node = dim("CacheClusterId").map(str::to_owned);
                let group = dim("ReplicationGroupId").map(str::to_owned);
                let ours = group.as_deref() == Some(CACHE)
                    || node.as_deref().is_some_and(|n| n.starts_with(CACHE));
                if !ours {
                    return None;
                }
                let replica_node = node.as_deref().is_some_and(|n| !n.ends_with("-001"));
                Some(match metric {
                    "EngineCPUUtilization" => 9.0 + 3.0 * swing,
                    "CurrConnections" => (60.0 + 15.0 * swing).round(),
                    "DatabaseMemoryUsagePercentage" => 57.0 + 5.0 * swing,
                    "CacheHitRate" => 93.0 - swing,
                    "ReplicationLag" if replica_node => 0.01,
                    _ => return None,
                })
            }
            _ => None,
        }
    }
}

/// The router.
pub fn router(cw: Arc<CloudWatch>) -> Router {
    Router::new()
        .route(
            "/service/GraniteServiceVersion20100801/operation/{operation}",
            post(operation),
        )
        .with_state(cw)
}

fn wall_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn field<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn text(map: &Value, key: &str) -> Option<String> {
    field(map, key)?.as_text().map(str::to_owned)
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Tag(_, inner) => number(inner),
        Value::Float(f) => Some(*f),
        Value::Integer(i) => i128::from(*i).to_string().parse().ok(),
        _ => None,
    }
}

fn timestamp(secs: f64) -> Value {
    Value::Tag(1, Box::new(Value::Float(secs)))
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::Text(k.to_owned()), v))
            .collect(),
    )
}

fn cbor(status: StatusCode, body: &Value, error: Option<&str>) -> Response {
    let mut bytes = Vec::new();
    if ciborium::into_writer(body, &mut bytes).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut response =
        (status, [(header::CONTENT_TYPE, "application/cbor")], bytes).into_response();
    response
        .headers_mut()
        .insert("smithy-protocol", HeaderValue::from_static("rpc-v2-cbor"));
    if let Some(code) = error.and_then(|e| HeaderValue::from_str(e).ok()) {
        response.headers_mut().insert("x-amzn-query-error", code);
    }
    response
}

fn client_error(code: &str, message: &str) -> Response {
    cbor(
        StatusCode::BAD_REQUEST,
        &map(vec![
            (
                "__type",
                Value::Text(format!("com.amazonaws.cloudwatch#{code}")),
            ),
            ("message", Value::Text(message.to_owned())),
        ]),
        Some(&format!("{code};Sender")),
    )
}

async fn operation(
    State(cw): State<Arc<CloudWatch>>,
    Path(operation): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let gzipped = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let raw = if gzipped {
        let mut out = Vec::new();
        if flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .is_err()
        {
            return client_error(
                "InvalidParameterValue",
                "the gzip request body could not be decompressed",
            );
        }
        out
    } else {
        body.to_vec()
    };
    let input: Value = if raw.is_empty() {
        Value::Map(Vec::new())
    } else {
        match ciborium::from_reader(&raw[..]) {
            Ok(v) => v,
            Err(e) => {
                return client_error(
                    "InvalidParameterValue",
                    &format!("the request body is not CBOR: {e}"),
                );
            }
        }
    };
    match operation.as_str() {
        "GetMetricData" => get_metric_data(&cw, &input),
        "DescribeAlarms" => describe_alarms(&cw, &input),
        other => client_error(
            "InvalidAction",
            &format!("the sandbox does not serve {other}: GetMetricData and DescribeAlarms only"),
        ),
    }
}

fn get_metric_data(cw: &CloudWatch, input: &Value) -> Response {
    let (Some(start), Some(end)) = (
        field(input, "StartTime").and_then(number),
        field(input, "EndTime").and_then(number),
    ) else {
        return client_error("MissingParameter", "StartTime and EndTime are required");
    };
    let ascending = text(input, "ScanBy").as_deref() == Some("TimestampAscending");
    let now = wall_now();
    let mut results = Vec::new();
    let mut messages = Vec::new();
    for q in field(input, "MetricDataQueries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id = text(q, "Id").unwrap_or_default();
        let Some(metric_stat) = field(q, "MetricStat") else {
            messages.push(map(vec![
                ("Code", Value::Text("Unsupported".into())),
                (
                    "Value",
                    Value::Text(format!("{id}: metric math is not served by the sandbox")),
                ),
            ]));
            continue;
        };
        let metric = field(metric_stat, "Metric");
        let namespace = metric
            .and_then(|m| text(m, "Namespace"))
            .unwrap_or_default();
        let name = metric
            .and_then(|m| text(m, "MetricName"))
            .unwrap_or_default();
        let dims: Vec<(String, String)> = metric
            .and_then(|m| field(m, "Dimensions"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| Some((text(d, "Name")?, text(d, "Value")?)))
            .collect();
        let period = field(metric_stat, "Period")
            .and_then(number)
            .unwrap_or(60.0)
            .max(1.0);
        let mut stamps = Vec::new();
        let mut values = Vec::new();
        let mut t = (end.min(now) / period).floor() * period;
        while t >= start && stamps.len() < 1440 {
            if let Some(v) = cw.value(&namespace, &name, &dims, t) {
                stamps.push(timestamp(t));
                values.push(Value::Float(v));
            }
            t -= period;
        }
        if ascending {
            stamps.reverse();
            values.reverse();
        }
        let label = text(q, "Label").unwrap_or_else(|| name.clone());
        results.push(map(vec![
            ("Id", Value::Text(id)),
            ("Label", Value::Text(label)),
            ("Timestamps", Value::Array(stamps)),
            ("Values", Value::Array(values)),
            ("StatusCode", Value::Text("Complete".into())),
        ]));
    }
    cbor(
        StatusCode::OK,
        &map(vec![
            ("MetricDataResults", Value::Array(results)),
            ("Messages", Value::Array(messages)),
        ]),
        None,
    )
}

/// The periods an alarm looks at.
const EVALUATION_PERIODS: usize = 5;
/// Their length, in simulated seconds.
const PERIOD: f64 = 60.0;

impl CloudWatch {
    /// An alarm period in wall-clock seconds: a simulated minute.
    fn period(&self) -> f64 {
        PERIOD / self.speed.max(f64::MIN_POSITIVE)
    }
}

/// An alarm's state at wall time `now` from its last five datapoints, and
/// the reason CloudWatch would give.
fn evaluate(
    cw: &CloudWatch,
    a: &Alarm,
    dims: &[(String, String)],
    now: f64,
) -> (&'static str, String) {
    let period = cw.period();
    let end = (now / period).floor() * period;
    let points: Vec<(f64, Option<f64>)> = (1..=EVALUATION_PERIODS)
        .map(|k| {
            let t = end - period * k as f64;
            (t, cw.value(a.namespace, a.metric, dims, t))
        })
        .collect();
    let breach = |v: f64| {
        if a.greater {
            v > a.threshold
        } else {
            v < a.threshold
        }
    };
    let present: Vec<f64> = points.iter().filter_map(|(_, v)| *v).collect();
    let missing = EVALUATION_PERIODS - present.len();
    let breaching = present.iter().filter(|v| breach(**v)).count()
        + if a.missing_breaches { missing } else { 0 };
    let shown: Vec<String> = present.iter().map(|v| format!("{v:.2}")).collect();
    let relation = if a.greater {
        "greater than"
    } else {
        "less than"
    };
    if breaching >= EVALUATION_PERIODS {
        let reason = if present.is_empty() {
            format!(
                "Threshold Crossed: no datapoints were received for {EVALUATION_PERIODS} periods and {EVALUATION_PERIODS} missing datapoints were treated as [Breaching]."
            )
        } else {
            format!(
                "Threshold Crossed: {EVALUATION_PERIODS} out of the last {EVALUATION_PERIODS} datapoints [{}] were {relation} the threshold ({}).",
                shown.join(", "),
                a.threshold
            )
        };
        ("ALARM", reason)
    } else if present.is_empty() {
        (
            "INSUFFICIENT_DATA",
            format!("Insufficient Data: {EVALUATION_PERIODS} datapoints were unknown."),
        )
    } else {
        (
            "OK",
            format!(
                "Threshold Crossed: {} datapoint(s) [{}] were not {relation} the threshold ({}).",
                present.len(),
                shown.join(", "),
                a.threshold
            ),
        )
    }
}

/// When the alarm came into `state`: the first period of the last two
/// hours since which it has held.
fn changed_at(cw: &CloudWatch, a: &Alarm, dims: &[(String, String)], now: f64, state: &str) -> f64 {
    let period = cw.period();
    let mut at = (now / period).floor() * period;
    for _ in 0..120 {
        let before = at - period;
        if evaluate(cw, a, dims, before).0 != state {
            return at;
        }
        at = before;
    }
    at
}

struct Alarm {
    name: String,
    namespace: &'static str,
    metric: &'static str,
    dims: Vec<(&'static str, String)>,
    threshold: f64,
    greater: bool,
    missing_breaches: bool,
    description: &'static str,
}

fn alarms() -> Vec<Alarm> {
    let rds = || vec![("DBInstanceIdentifier", DB.to_owned())];
    vec![
        Alarm {
            name: format!("{DB}-cpu-high"),
            namespace: "AWS/RDS",
            metric: "CPUUtilization",
            dims: rds(),
            threshold: 80.0,
            greater: true,
            missing_breaches: false,
            description: "RDS CPU above 80 % for 5 minutes",
        },
        Alarm {
            name: format!("{DB}-connections-low"),
            namespace: "AWS/RDS",
            metric: "DatabaseConnections",
            dims: rds(),
            threshold: 1.0,
            greater: false,
            missing_breaches: true,
            description: "No connections to the primary: it is down or unreachable",
        },
        Alarm {
            name: format!("{DB}-free-storage-low"),
            namespace: "AWS/RDS",
            metric: "FreeStorageSpace",
            dims: rds(),
            threshold: 50.0e9,
            greater: false,
            missing_breaches: false,
            description: "Less than 50 GB of storage left",
        },
        Alarm {
            name: format!("{CACHE}-memory-high"),
            namespace: "AWS/ElastiCache",
            metric: "DatabaseMemoryUsagePercentage",
            dims: vec![("ReplicationGroupId", CACHE.to_owned())],
            threshold: 85.0,
            greater: true,
            missing_breaches: false,
            description: "Redis memory above 85 %",
        },
    ]
}

fn describe_alarms(cw: &CloudWatch, input: &Value) -> Response {
    let names: Vec<String> = field(input, "AlarmNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_text().map(str::to_owned))
        .collect();
    let prefix = text(input, "AlarmNamePrefix");
    let state_filter = text(input, "StateValue");
    let now = wall_now();
    let mut out = Vec::new();
    for a in alarms() {
        if (!names.is_empty() && !names.contains(&a.name))
            || prefix.as_deref().is_some_and(|p| !a.name.starts_with(p))
        {
            continue;
        }
        let dims: Vec<(String, String)> = a
            .dims
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.clone()))
            .collect();
        // Evaluated over the datapoints GetMetricData serves: the last five
        // complete one-minute periods, as CloudWatch does.
        let (state, reason) = evaluate(cw, &a, &dims, now);
        let changed = changed_at(cw, &a, &dims, now, state);
        if state_filter.as_deref().is_some_and(|s| s != state) {
            continue;
        }
        let dimensions = Value::Array(
            dims.iter()
                .map(|(n, v)| {
                    map(vec![
                        ("Name", Value::Text(n.clone())),
                        ("Value", Value::Text(v.clone())),
                    ])
                })
                .collect(),
        );
        out.push(map(vec![
            ("AlarmName", Value::Text(a.name.clone())),
            (
                "AlarmArn",
                Value::Text(format!(
                    "arn:aws:cloudwatch:{AWS_REGION}:{ACCOUNT}:alarm:{}",
                    a.name
                )),
            ),
            ("AlarmDescription", Value::Text(a.description.to_owned())),
            ("ActionsEnabled", Value::Bool(true)),
            ("StateValue", Value::Text(state.to_owned())),
            ("StateReason", Value::Text(reason)),
            ("StateUpdatedTimestamp", timestamp(changed)),
            ("MetricName", Value::Text(a.metric.to_owned())),
            ("Namespace", Value::Text(a.namespace.to_owned())),
            ("Statistic", Value::Text("Average".into())),
            ("Dimensions", dimensions),
            ("Period", Value::Integer(60.into())),
            ("EvaluationPeriods", Value::Integer(5.into())),
            ("Threshold", Value::Float(a.threshold)),
            (
                "ComparisonOperator",
                Value::Text(
                    if a.greater {
                        "GreaterThanThreshold"
                    } else {
                        "LessThanThreshold"
                    }
                    .into(),
                ),
            ),
            (
                "TreatMissingData",
                Value::Text(
                    if a.missing_breaches {
                        "breaching"
                    } else {
                        "missing"
                    }
                    .into(),
                ),
            ),
        ]));
    }
    cbor(
        StatusCode::OK,
        &map(vec![
            ("MetricAlarms", Value::Array(out)),
            ("CompositeAlarms", Value::Array(Vec::new())),
        ]),
        None,
    )
}
