//! The HorizontalPodAutoscaler controller: the standard formula
//! (`desired = ceil(current × utilisation / target)`, the largest over the
//! metrics), min / max bounds, the behaviour's stabilisation windows and
//! rate policies, and the conditions and events the real controller writes.
//! An HPA whose target does not exist reports `AbleToScale False,
//! FailedGetScale` and a warning event, as the seed's Korea manifest does.

// Replica counts and percentages are small: the float round trips are exact.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::controller::{resource, strip_times};
use super::resource::Resource;
use super::store::{Part, Store, key_of, now_rfc3339};

/// Simulated utilisation (percent of request) of a workload's pods:
/// a per-workload base with a slow swing, spread over its replicas.
pub fn utilisation(workload: &str, metric: &str, replicas: i64, at: Duration) -> i64 {
    let seed = workload
        .bytes()
        .fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    let base = 35.0 + f64::from(seed % 25);
    let swing =
        (at.as_secs_f64() / 600.0 * std::f64::consts::TAU + f64::from(seed % 7)).sin() * 8.0;
    let mut load = if metric == "memory" {
        base + 10.0
    } else {
        base + swing
    };
    // Load is carried by three replicas' worth of work: more replicas, less each.
    load = load * 3.0 / replicas.max(1) as f64;
    load.round().clamp(1.0, 400.0) as i64
}

/// Recommendations kept per HPA, for the stabilisation windows.
#[derive(Default)]
pub struct Autoscaler {
    history: HashMap<String, Vec<(Duration, i64)>>,
    last_scale: HashMap<String, (Duration, i64)>,
}

impl Autoscaler {
    /// One pass over every HPA at simulated time `now`.
    pub fn pass(&mut self, store: &Store, now: Duration) {
        for hpa in store.all(resource("HorizontalPodAutoscaler")) {
            self.reconcile(store, &hpa, now);
        }
    }

    #[allow(clippy::too_many_lines)]
    fn reconcile(&mut self, store: &Store, hpa: &Value, now: Duration) {
        let (ns, name) = key_of(hpa);
        let target_kind = hpa
            .pointer("/spec/scaleTargetRef/kind")
            .and_then(Value::as_str)
            .unwrap_or("Deployment");
        let target_name = hpa
            .pointer("/spec/scaleTargetRef/name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let min = hpa
            .pointer("/spec/minReplicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let max = hpa
            .pointer("/spec/maxReplicas")
            .and_then(Value::as_i64)
            .unwrap_or(min);
        let stamp = now_rfc3339();
        let previous: Vec<Value> = hpa
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let condition = |kind: &str, status: &str, reason: &str, message: String| {
            let since = previous
                .iter()
                .find(|c| c["type"] == kind && c["status"] == status)
                .and_then(|c| c.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| json!(stamp));
            json!({"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": since})
        };
        let Some(target) =
            Resource::of_kind(target_kind).and_then(|r| store.get(r, &ns, target_name))
        else {
            let message = format!(
                "the HPA controller was unable to get the target's current scale: {}s.apps \"{target_name}\" not found",
                target_kind.to_lowercase()
            );
            let status = json!({"currentReplicas": 0, "desiredReplicas": 0, "conditions": [
                condition("AbleToScale", "False", "FailedGetScale", message.clone())]});
            if hpa.get("status").map(strip_times) != Some(strip_times(&status)) {
                update_status(store, &ns, &name, status);
                warn_event(store, hpa, "FailedGetScale", &message);
            }
            return;
        };
        let current = target
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let mut metrics = Vec::new();
        let mut raw = current;
        for m in hpa
            .pointer("/spec/metrics")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(metric) = m.pointer("/resource/name").and_then(Value::as_str) else {
                continue;
            };
            let goal = m
                .pointer("/resource/target/averageUtilization")
                .and_then(Value::as_i64)
                .unwrap_or(80)
                .max(1);
            let used = utilisation(target_name, metric, current, now);
            // Within 10 % of the target the controller does not act.
            let ratio = used as f64 / goal as f64;
            let want = if (ratio - 1.0).abs() <= 0.1 {
                current
            } else {
                (current as f64 * ratio).ceil() as i64
            };
            raw = if metrics.is_empty() {
                want
            } else {
                raw.max(want)
            };
            metrics.push(json!({"type": "Resource", "resource": {"name": metric, "current": {"averageUtilization": used}}}));
        }
        let key = format!("{ns}/{name}");
        let history = self.history.entry(key.clone()).or_default();
        history.push((now, raw));
        let window = |path: &str, default: u64| {
            Duration::from_secs(hpa.pointer(path).and_then(Value::as_u64).unwrap_or(default))
        };
        let up_window = window("/spec/behavior/scaleUp/stabilizationWindowSeconds", 0);
        let down_window = window("/spec/behavior/scaleDown/stabilizationWindowSeconds", 300);
        history.retain(|(t, _)| now.saturating_sub(*t) <= up_window.max(down_window));
        let in_window = |w: Duration| {
            history
                .iter()
                .filter(move |(t, _)| now.saturating_sub(*t) <= w)
                .map(|(_, r)| *r)
        };
        // Scale up to the lowest, down to the highest, recommendation of the window.
        let up_to = in_window(up_window).min().unwrap_or(raw);
        let down_to = in_window(down_window).max().unwrap_or(raw);
        let mut desired = if raw > current {
            up_to.max(current)
        } else {
            down_to.min(current)
        };
        let percent =
            |path: &str, default: i64| hpa.pointer(path).and_then(Value::as_i64).unwrap_or(default);
        let max_up = current
            + (current * percent("/spec/behavior/scaleUp/policies/0/value", 100) + 99) / 100;
        let max_down =
            current - current * percent("/spec/behavior/scaleDown/policies/0/value", 100) / 100;
        desired = desired.clamp(max_down.max(0), max_up.max(1));
        let limited = if desired < min {
            Some((
                "TooFewReplicas",
                "the desired replica count is less than the minimum replica count".to_owned(),
            ))
        } else if desired > max {
            Some((
                "TooManyReplicas",
                "the desired replica count is more than the maximum replica count".to_owned(),
            ))
        } else {
            None
        };
        desired = desired.clamp(min, max);
        let recently = self
            .last_scale
            .get(&key)
            .is_some_and(|(t, _)| now.saturating_sub(*t) < Duration::from_secs(15));
        let mut last_scale_time = hpa.pointer("/status/lastScaleTime").cloned();
        let able = if desired != current && !recently {
            let target_resource = resource(target_kind);
            let _ = store.modify(target_resource, &ns, target_name, Part::Main, false, |v| {
                v["spec"]["replicas"] = json!(desired);
                Ok(())
            });
            self.last_scale.insert(key, (now, desired));
            last_scale_time = Some(json!(stamp));
            let direction = if desired > current { "above" } else { "below" };
            normal_event(
                store,
                hpa,
                "SuccessfulRescale",
                &format!(
                    "New size: {desired}; reason: cpu resource utilization (percentage of request) {direction} target"
                ),
            );
            condition(
                "AbleToScale",
                "True",
                "SucceededRescale",
                format!("the HPA controller was able to update the target scale to {desired}"),
            )
        } else {
            condition(
                "AbleToScale",
                "True",
                "ReadyForNewScale",
                "recommended size matches current size".into(),
            )
        };
        let scaling_limited = match limited {
            Some((reason, message)) => condition("ScalingLimited", "True", reason, message),
            None => condition(
                "ScalingLimited",
                "False",
                "DesiredWithinRange",
                "the desired count is within the acceptable range".into(),
            ),
        };
        let mut status = json!({"observedGeneration": hpa.pointer("/metadata/generation"), "currentReplicas": current,
            "desiredReplicas": desired, "currentMetrics": metrics,
            "conditions": [able, condition("ScalingActive", "True", "ValidMetricFound",
                "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)".into()), scaling_limited]});
        if let Some(t) = last_scale_time {
            status["lastScaleTime"] = t;
        }
        if hpa.get("status").map(strip_times) != Some(strip_times(&status)) {
            update_status(store, &ns, &name, status);
        }
    }
}

fn update_status(store: &Store, ns: &str, name: &str, status: Value) {
    let _ = store.modify(
        resource("HorizontalPodAutoscaler"),
        ns,
        name,
        Part::Status,
        false,
        |v| {
            v["status"] = status;
            Ok(())
        },
    );
}

fn warn_event(store: &Store, hpa: &Value, reason: &str, message: &str) {
    store.record_event(hpa, reason, message, true, "horizontal-pod-autoscaler");
}

fn normal_event(store: &Store, hpa: &Value, reason: &str, message: &str) {
    store.record_event(hpa, reason, message, false, "horizontal-pod-autoscaler");
}
