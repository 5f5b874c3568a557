//! AWS: a CloudWatch client from the standard credential chain (profiles,
//! environment, instance roles, credential processes) or, for a local
//! endpoint such as the sandbox, placeholder keys; and the alarms
//! DescribeAlarms reports.

use std::time::SystemTime;

use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::types::StateValue;

use crate::model::alert::{AlertRow, AlertSnapshot, AlertState, Origin};

/// Refuses answers over `0` bytes: by their Content-Length at once, else
/// as their body streams in (the SDK would read any body whole).
#[derive(Debug)]
pub(crate) struct CapBody(pub u64);

impl aws_sdk_cloudwatch::config::Intercept for CapBody {
    fn name(&self) -> &'static str {
        "touban::CapBody"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut aws_sdk_cloudwatch::config::interceptors::BeforeDeserializationInterceptorContextMut<'_>,
        _: &aws_sdk_cloudwatch::config::RuntimeComponents,
        _: &mut aws_sdk_cloudwatch::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let cap = self.0;
        let announced = context
            .response()
            .headers()
            .get("content-length")
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > cap) {
            return Err(format!(
                "the AWS API answered more than {} MiB: refused (for CloudWatch, settings.max_reply_mib sets the bound)",
                cap >> 20
            )
            .into());
        }
        let limit = usize::try_from(cap).unwrap_or(usize::MAX);
        let body = std::mem::replace(
            context.response_mut().body_mut(),
            aws_smithy_types::body::SdkBody::taken(),
        );
        *context.response_mut().body_mut() = body.map(move |b| {
            aws_smithy_types::body::SdkBody::from_body_1_x(http_body_util::Limited::new(b, limit))
        });
        Ok(())
    }
}

/// A CloudWatch client for `region` (else the chain's), at `endpoint`
/// (else AWS's); `anonymous` signs with placeholder keys, for a local
/// endpoint that does not check them. Every call ends within its
/// timeouts, and no answer may be larger than `cap` bytes.
pub async fn cloudwatch(
    region: Option<&str>,
    endpoint: Option<&str>,
    anonymous: bool,
    cap: u64,
) -> aws_sdk_cloudwatch::Client {
    let config =
        aws_sdk_cloudwatch::config::Builder::from(&sdk_config(region, endpoint, anonymous).await)
            .interceptor(CapBody(cap))
            .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
}

/// The shared AWS configuration of every client: `region` (else the
/// chain's), `endpoint` (else AWS's), the standard credential chain or,
/// `anonymous`, placeholder keys; every call ends within its timeouts.
pub(crate) async fn sdk_config(
    region: Option<&str>,
    endpoint: Option<&str>,
    anonymous: bool,
) -> aws_config::SdkConfig {
    // The SDK sets only a connect timeout by default: a request that hangs
    // after connecting would hang forever.
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .read_timeout(std::time::Duration::from_secs(8))
        .operation_attempt_timeout(std::time::Duration::from_secs(8))
        .operation_timeout(std::time::Duration::from_secs(15))
        .build();
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(timeouts);
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_owned()));
    }
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    if anonymous {
        // Signed with placeholder keys: DescribeAlarms is a SigV4 operation,
        // and local endpoints (the sandbox, moto) do not check the keys.
        loader = loader.credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
            "touban-anonymous",
            "touban-anonymous",
            None,
            None,
            "touban anonymous",
        ));
    }
    loader.load().await
}

/// Alarms in ALARM (critical) or INSUFFICIENT_DATA (info), every page.
pub(crate) async fn alarms(
    client: &aws_sdk_cloudwatch::Client,
    region: &str,
    source: &str,
) -> Result<AlertSnapshot, String> {
    let mut alerts = Vec::new();
    let mut pages = client.describe_alarms().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| format!("CloudWatch DescribeAlarms: {}", DisplayErrorContext(&e)))?;
        for a in page.metric_alarms() {
            let severity = match a.state_value() {
                Some(StateValue::Alarm) => "critical",
                Some(StateValue::InsufficientData) => "info",
                _ => continue,
            };
            let name = a.alarm_name().unwrap_or_default().to_owned();
            let aws_region = a
                .alarm_arn()
                .and_then(|arn| arn.split(':').nth(3))
                .unwrap_or_default()
                .to_owned();
            let mut labels: Vec<(String, String)> = vec![
                ("alertname".into(), name.clone()),
                ("severity".into(), severity.into()),
                ("namespace".into(), a.namespace().unwrap_or_default().into()),
                ("metric".into(), a.metric_name().unwrap_or_default().into()),
                (
                    "state".into(),
                    a.state_value()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                ),
            ];
            for d in a.dimensions() {
                labels.push((
                    d.name().unwrap_or_default().to_owned(),
                    d.value().unwrap_or_default().to_owned(),
                ));
            }
            labels.sort();
            let mut annotations = vec![(
                "reason".to_owned(),
                a.state_reason().unwrap_or_default().to_owned(),
            )];
            if let Some(d) = a.alarm_description() {
                annotations.push(("description".into(), d.to_owned()));
            }
            alerts.push(AlertRow {
                fingerprint: a.alarm_arn().map_or_else(|| format!("cloudwatch:{name}"), str::to_owned),
                region: region.to_owned(),
                source: source.to_owned(),
                origin: Some(Origin::CloudWatch),
                severity: severity.to_owned(),
                team: String::new(),
                state: Some(AlertState::Firing),
                since: a
                    .state_updated_timestamp()
                    .and_then(|t| SystemTime::try_from(*t).ok()),
                // An alarm in ALARM says what its description says; one
                // with no data says only that: its description ("CPU above
                // 80 %") would read as a fact.
                summary: if severity == "critical" {
                    a.alarm_description().or(a.state_reason())
                } else {
                    a.state_reason()
                }
                .unwrap_or_default()
                .to_owned(),
                generator_url: (!aws_region.is_empty()).then(|| {
                    format!(
                        "https://{aws_region}.console.aws.amazon.com/cloudwatch/home?region={aws_region}#alarmsV2:alarm/{name}"
                    )
                }),
                name,
                labels,
                annotations,
                ..AlertRow::default()
            });
        }
    }
    Ok(AlertSnapshot {
        alerts,
        ..AlertSnapshot::default()
    })
}
