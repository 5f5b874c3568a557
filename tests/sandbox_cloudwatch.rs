//! The sandbox's CloudWatch through the real, current `aws-sdk-cloudwatch`
//! (Smithy RPC v2 CBOR): metric series of the Tokyo database and cache,
//! a request large enough to be compressed, and alarms that follow the
//! scenario.

use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::{BehaviorVersion, Region};
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StateValue};
use touban::sandbox::{Options, Sandbox, Scenario};

fn client(sandbox: &Sandbox) -> Client {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("ap-northeast-1"))
        .endpoint_url(&sandbox.cloudwatch)
        .credentials_provider(Credentials::new(
            "sandbox",
            "sandbox",
            None,
            None,
            "touban-test",
        ))
        .build();
    Client::from_conf(config)
}

fn query(id: &str, namespace: &str, metric: &str, dimension: (&str, &str)) -> MetricDataQuery {
    let metric = Metric::builder()
        .namespace(namespace)
        .metric_name(metric)
        .dimensions(
            Dimension::builder()
                .name(dimension.0)
                .value(dimension.1)
                .build(),
        )
        .build();
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(metric)
                .period(60)
                .stat("Average")
                .build(),
        )
        .build()
}

const DB: (&str, &str) = ("DBInstanceIdentifier", "iworkz-production-postgres");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_reads_metric_series_and_alarms() {
    let sandbox = Sandbox::start(Options {
        seed: 21,
        pods: 0,
        speed: 10.0,
        scenario: Scenario::Calm,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let cw = client(&sandbox);
    let now = SystemTime::now();
    let out = cw
        .get_metric_data()
        .start_time(DateTime::from(now - Duration::from_secs(3600)))
        .end_time(DateTime::from(now))
        .metric_data_queries(query("cpu", "AWS/RDS", "CPUUtilization", DB))
        .metric_data_queries(query("conns", "AWS/RDS", "DatabaseConnections", DB))
        .metric_data_queries(query("free", "AWS/RDS", "FreeStorageSpace", DB))
        .metric_data_queries(query(
            "mem",
            "AWS/ElastiCache",
            "DatabaseMemoryUsagePercentage",
            ("ReplicationGroupId", "iworkz-production-redis"),
        ))
        .metric_data_queries(query(
            "lag",
            "AWS/ElastiCache",
            "ReplicationLag",
            ("CacheClusterId", "iworkz-production-redis-002"),
        ))
        .metric_data_queries(query(
            "none",
            "AWS/RDS",
            "CPUUtilization",
            ("DBInstanceIdentifier", "no-such-db"),
        ))
        .send()
        .await
        .expect("GetMetricData");
    let results = out.metric_data_results();
    assert_eq!(results.len(), 6);
    for r in results.iter().filter(|r| r.id() != Some("none")) {
        assert!(
            r.values().len() >= 50,
            "{:?}: an hour of minutes, {} points",
            r.id(),
            r.values().len()
        );
        assert_eq!(r.values().len(), r.timestamps().len());
    }
    let cpu = results.iter().find(|r| r.id() == Some("cpu")).expect("cpu");
    assert!(
        cpu.values().iter().all(|v| (10.0..60.0).contains(v)),
        "{:?}",
        cpu.values()
    );
    assert!(
        cpu.timestamps()[0].secs() > cpu.timestamps()[1].secs(),
        "newest first, as CloudWatch returns by default"
    );
    assert!(
        results
            .iter()
            .find(|r| r.id() == Some("none"))
            .is_some_and(|r| r.values().is_empty()),
        "an unknown instance has no data"
    );

    // Eighty queries make a request body over 10 KiB, which the SDK may compress.
    let mut big = cw
        .get_metric_data()
        .start_time(DateTime::from(now - Duration::from_secs(600)))
        .end_time(DateTime::from(now));
    for i in 0..80 {
        big = big.metric_data_queries(query(&format!("q{i}"), "AWS/RDS", "ReadLatency", DB));
    }
    let out = big.send().await.expect("a large GetMetricData");
    assert_eq!(out.metric_data_results().len(), 80);

    let alarms = cw.describe_alarms().send().await.expect("DescribeAlarms");
    let names: Vec<&str> = alarms
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name())
        .collect();
    assert!(
        names.contains(&"iworkz-production-postgres-cpu-high"),
        "{names:?}"
    );
    assert!(
        alarms
            .metric_alarms()
            .iter()
            .all(|a| a.state_value() == Some(&StateValue::Ok)),
        "calm: every alarm OK"
    );
    let err = cw
        .describe_alarm_history()
        .send()
        .await
        .expect_err("not served");
    assert!(format!("{err:?}").contains("InvalidAction"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_failing_trips_its_alarm_and_stops_its_series() {
    let sandbox = Sandbox::start(Options {
        seed: 22,
        pods: 0,
        speed: 60.0,
        scenario: Scenario::OutageTokyo,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let cw = client(&sandbox);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alarms = cw
            .describe_alarms()
            .alarm_names("iworkz-production-postgres-connections-low")
            .send()
            .await
            .expect("DescribeAlarms");
        if let Some(alarm) = alarms.metric_alarms().first()
            && alarm.state_value() == Some(&StateValue::Alarm)
        {
            // The alarm agrees with the series: no datapoints, breaching.
            let reason = alarm.state_reason().unwrap_or_default();
            assert!(
                reason.contains("missing datapoints were treated as [Breaching]"),
                "{reason}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the connections alarm never fired"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Datapoints of the last two seconds, all after the failure (1 s periods:
    // a minute's datapoint would start before the sandbox did).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let now = SystemTime::now();
    let per_second = |id: &str, metric: &str, dimension| {
        let mut q = query(id, "AWS/RDS", metric, dimension);
        if let Some(stat) = q.metric_stat.as_mut() {
            stat.period = Some(1);
        }
        q
    };
    let out = cw
        .get_metric_data()
        .start_time(DateTime::from(now - Duration::from_secs(2)))
        .end_time(DateTime::from(now))
        .metric_data_queries(per_second("conns", "DatabaseConnections", DB))
        .metric_data_queries(per_second(
            "replica",
            "ReplicaLag",
            ("DBInstanceIdentifier", "iworkz-production-postgres-replica"),
        ))
        .send()
        .await
        .expect("GetMetricData");
    assert!(
        out.metric_data_results()[0].values().is_empty(),
        "a failed primary publishes nothing"
    );
    assert!(
        !out.metric_data_results()[1].values().is_empty(),
        "its replica still does"
    );
}

/// The SDK compresses only operations marked for it (PutMetricData), so
/// the gzip path is proven here with a hand-made request: a gzip-compressed
/// CBOR body posted with curl, the CBOR answer decoded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_compressed_cbor_request_is_answered_in_cbor() {
    use std::io::Write as _;

    use ciborium::Value;

    let sandbox = Sandbox::start(Options {
        seed: 23,
        pods: 0,
        speed: 1.0,
        scenario: Scenario::Calm,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let text = |s: &str| Value::Text(s.to_owned());
    let request = Value::Map(vec![
        (text("AlarmNamePrefix"), text("iworkz-production-redis")),
        (text("StateValue"), text("OK")),
        (text("Padding"), Value::Tag(1, Box::new(Value::Float(now)))),
    ]);
    let mut cbor = Vec::new();
    ciborium::into_writer(&request, &mut cbor).expect("encode");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&cbor).expect("compress");
    let dir = tempfile::tempdir().expect("temp");
    let body = dir.path().join("body.cbor.gz");
    std::fs::write(&body, gz.finish().expect("gzip")).expect("write body");
    let url = format!(
        "{}/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
        sandbox.cloudwatch
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("curl")
            .args([
                "-sS",
                "--fail-with-body",
                "-H",
                "Content-Type: application/cbor",
                "-H",
                "smithy-protocol: rpc-v2-cbor",
                "-H",
                "Content-Encoding: gzip",
            ])
            .arg("--data-binary")
            .arg(format!("@{}", body.display()))
            .arg(url)
            .output()
            .expect("curl")
    })
    .await
    .expect("curl thread");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = ciborium::from_reader(&out.stdout[..]).expect("a CBOR answer");
    let alarms = answer
        .as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_text() == Some("MetricAlarms")))
        .and_then(|(_, v)| v.as_array())
        .expect("MetricAlarms");
    assert_eq!(
        alarms.len(),
        1,
        "the cache's one alarm, in state OK: {alarms:?}"
    );
}
