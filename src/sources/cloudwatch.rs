//! CloudWatch metrics of the databases and caches that name themselves
//! there (`cloudwatch = { identifier, aws_region }`): per AWS region and
//! endpoint, one batched GetMetricData every minute for the last hour of
//! one-minute averages, sent as short histories for sparklines.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::Platform;
use crate::config::platform::CloudWatchRef;
use crate::model::{SourceId, SourceKind, Update};

/// How often the metrics are fetched unless told otherwise: CloudWatch's
/// basic resolution is a minute.
pub const INTERVAL: Duration = Duration::from_secs(60);

/// The RDS metrics read, with their unit as shown.
pub const RDS: &[(&str, &str)] = &[
    ("CPUUtilization", "%"),
    ("DatabaseConnections", ""),
    ("FreeStorageSpace", "B"),
    ("ReplicaLag", "s"),
];
/// The ElastiCache metrics read.
pub const ELASTICACHE: &[(&str, &str)] = &[
    ("EngineCPUUtilization", "%"),
    ("DatabaseMemoryUsagePercentage", "%"),
    ("CurrConnections", ""),
];

struct Target {
    id: SourceId,
    namespace: &'static str,
    dimension: &'static str,
    identifier: String,
    metrics: &'static [(&'static str, &'static str)],
}

/// How long one fetch (every page of it) may take.
const DEADLINE: Duration = Duration::from_secs(20);
/// The most pages one fetch reads: an hour of one-minute points for a few
/// metrics is one or two.
const MAX_PAGES: usize = 20;

/// Starts a task per AWS region and endpoint named by a database or cache.
pub fn spawn<E: From<Update> + Send + 'static>(
    platform: &Platform,
    tx: &mpsc::Sender<E>,
    every: Duration,
) -> Vec<JoinHandle<()>> {
    type Key = (String, Option<String>, bool);
    let mut groups: BTreeMap<Key, Vec<Target>> = BTreeMap::new();
    let mut add = |cw: &CloudWatchRef, target: Target| {
        let key = (
            cw.aws_region.clone(),
            cw.endpoint.as_ref().map(|e| e.get_ref().clone()),
            cw.anonymous,
        );
        groups.entry(key).or_default().push(target);
    };
    for d in &platform.databases {
        if let Some(cw) = &d.cloudwatch {
            add(
                cw,
                Target {
                    id: SourceId::new(d.region.get_ref(), SourceKind::Database, d.name.get_ref()),
                    namespace: "AWS/RDS",
                    dimension: "DBInstanceIdentifier",
                    identifier: cw.identifier.clone(),
                    metrics: RDS,
                },
            );
        }
    }
    for c in &platform.caches {
        if let Some(cw) = &c.cloudwatch {
            add(
                cw,
                Target {
                    id: SourceId::new(c.region.get_ref(), SourceKind::Cache, c.name.get_ref()),
                    namespace: "AWS/ElastiCache",
                    dimension: "ReplicationGroupId",
                    identifier: cw.identifier.clone(),
                    metrics: ELASTICACHE,
                },
            );
        }
    }
    let cap = platform.max_reply_bytes();
    groups
        .into_iter()
        .map(|((region, endpoint, anonymous), targets)| {
            let tx = tx.clone();
            tokio::spawn(async move {
                let client = crate::sources::aws::cloudwatch(
                    Some(&region),
                    endpoint.as_deref(),
                    anonymous,
                    cap,
                )
                .await;
                let mut ticks = tokio::time::interval(every);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    let at = SystemTime::now();
                    let result = tokio::time::timeout(DEADLINE, fetch(&client, &targets))
                        .await
                        .unwrap_or_else(|_| {
                            Err(format!(
                                "CloudWatch GetMetricData: no answer within {} s",
                                DEADLINE.as_secs()
                            ))
                        });
                    if let Err(e) = &result {
                        tracing::warn!(aws_region = %region, "{e}");
                    }
                    for (i, t) in targets.iter().enumerate() {
                        let series = match &result {
                            Ok(all) => Ok(all.get(&i).cloned().unwrap_or_default()),
                            Err(e) => Err(e.clone()),
                        };
                        let update = Update::CloudWatch {
                            id: t.id.clone(),
                            series,
                            at,
                        };
                        if tx.send(E::from(update)).await.is_err() {
                            return;
                        }
                    }
                }
            })
        })
        .collect()
}

/// Every target's series (oldest first), by target index, in one call
/// (paged by the SDK's paginator).
async fn fetch(
    client: &aws_sdk_cloudwatch::Client,
    targets: &[Target],
) -> Result<BTreeMap<usize, Vec<(String, Vec<f64>)>>, String> {
    let now = SystemTime::now();
    let mut request = client
        .get_metric_data()
        .start_time(DateTime::from(now - Duration::from_secs(3600)))
        .end_time(DateTime::from(now));
    for (i, t) in targets.iter().enumerate() {
        for (j, (metric, _)) in t.metrics.iter().enumerate() {
            let m = Metric::builder()
                .namespace(t.namespace)
                .metric_name(*metric)
                .dimensions(
                    Dimension::builder()
                        .name(t.dimension)
                        .value(&t.identifier)
                        .build(),
                )
                .build();
            request = request.metric_data_queries(
                MetricDataQuery::builder()
                    .id(format!("t{i}m{j}"))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(m)
                            .period(60)
                            .stat("Average")
                            .build(),
                    )
                    .build(),
            );
        }
    }
    let mut out: BTreeMap<usize, Vec<(String, Vec<f64>)>> = BTreeMap::new();
    let mut pages = request.into_paginator().send();
    let mut read = 0;
    while let Some(page) = pages.next().await {
        read += 1;
        if read > MAX_PAGES {
            return Err(format!(
                "CloudWatch GetMetricData: more than {MAX_PAGES} pages for an hour of series"
            ));
        }
        let page =
            page.map_err(|e| format!("CloudWatch GetMetricData: {}", DisplayErrorContext(&e)))?;
        for r in page.metric_data_results() {
            let Some((i, j)) = r.id().and_then(|id| {
                let (t, m) = id.strip_prefix('t')?.split_once('m')?;
                Some((t.parse::<usize>().ok()?, m.parse::<usize>().ok()?))
            }) else {
                continue;
            };
            let Some((metric, _)) = targets.get(i).and_then(|t| t.metrics.get(j)) else {
                continue;
            };
            // Newest first by default: pair with timestamps and sort.
            let mut points: Vec<(i64, f64)> = r
                .timestamps()
                .iter()
                .map(DateTime::secs)
                .zip(r.values().iter().copied())
                .collect();
            points.sort_by_key(|(t, _)| *t);
            let entry = out.entry(i).or_default();
            match entry.iter_mut().find(|(m, _)| m == metric) {
                Some((_, v)) => v.extend(points.into_iter().map(|(_, v)| v)),
                None => entry.push((
                    (*metric).to_owned(),
                    points.into_iter().map(|(_, v)| v).collect(),
                )),
            }
        }
    }
    Ok(out)
}
