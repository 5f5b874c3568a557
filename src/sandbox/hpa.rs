//! The HorizontalPodAutoscaler controller: the standard formula
//! (`desired = ceil(current × utilisation / target)`, the largest over the
//! metrics), min / max bounds, the behaviour's stabilisation windows and
//! rate policies (per period, from the count at the period's start, as the
//! real controller reckons them), a 15 s sync, and the conditions and
//! events the real controller writes.
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

/// Recommendations kept per HPA, for the stabilisation windows; the
/// scales it made, for the rate policies; when it last synced.
#[derive(Default)]
pub struct Autoscaler {
    history: HashMap<String, Vec<(Duration, i64)>>,
    scales: HashMap<String, Vec<(Duration, i64)>>,
    synced: HashMap<String, Duration>,
}

/// The controller's sync period.
const SYNC: Duration = Duration::from_secs(15);

/// A scaling rule of an HPA's behaviour: `Pods` or `Percent`, its value,
/// its period.
struct Policy {
    pods: bool,
    value: i64,
    period: Duration,
}

/// The rules of one direction: its policies and how they combine.
fn policies(hpa: &Value, up: bool) -> (Vec<Policy>, String) {
    let dir = if up { "scaleUp" } else { "scaleDown" };
    let rules = hpa.pointer(&format!("/spec/behavior/{dir}"));
    let select = rules
        .and_then(|r| r.get("selectPolicy"))
        .and_then(Value::as_str)
        .unwrap_or("Max")
        .to_owned();
    let given: Vec<Policy> = rules
        .and_then(|r| r.get("policies"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| Policy {
            pods: p.get("type").and_then(Value::as_str) == Some("Pods"),
            value: p.get("value").and_then(Value::as_i64).unwrap_or(100),
            period: Duration::from_secs(
                p.get("periodSeconds").and_then(Value::as_u64).unwrap_or(15),
            ),
        })
        .collect();
    let defaults = if up {
        vec![
            Policy {
                pods: true,
                value: 4,
                period: SYNC,
            },
            Policy {
                pods: false,
                value: 100,
                period: SYNC,
            },
        ]
    } else {
        vec![Policy {
            pods: false,
            value: 100,
            period: SYNC,
        }]
    };
    (if given.is_empty() { defaults } else { given }, select)
}

/// The furthest the rules let `current` move in one direction, as the
/// real controller reckons it: from the count at the start of each
/// policy's period (the scales within it undone), Pods adding or taking
/// its value, Percent multiplying (rounded up going up, truncated going
/// down); Max takes the largest change, Min the smallest.
fn rate_limit(
    current: i64,
    scales: &[(Duration, i64)],
    now: Duration,
    up: bool,
    rules: &(Vec<Policy>, String),
) -> i64 {
    let (policies, select) = rules;
    if select == "Disabled" {
        return current;
    }
    let largest = select != "Min";
    let limits = policies.iter().map(|p| {
        let within = scales
            .iter()
            .filter(|(t, _)| now.saturating_sub(*t) < p.period);
        let (added, removed) = within.fold((0, 0), |(a, r), (_, change)| {
            if *change > 0 {
                (a + change, r)
            } else {
                (a, r - change)
            }
        });
        let start = current - added + removed;
        match (p.pods, up) {
            (true, true) => start + p.value,
            (true, false) => start - p.value,
            (false, true) => (start as f64 * (1.0 + p.value as f64 / 100.0)).ceil() as i64,
            (false, false) => (start as f64 * (1.0 - p.value as f64 / 100.0)) as i64,
        }
    });
    let pick = if largest == up {
        limits.max()
    } else {
        limits.min()
    };
    pick.unwrap_or(current)
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
        let key = format!("{ns}/{name}");
        if self
            .synced
            .get(&key)
            .is_some_and(|t| now.saturating_sub(*t) < SYNC)
        {
            return;
        }
        self.synced.insert(key.clone(), now);
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
        // Stabilised: raised to the lowest recommendation of the scale-up
        // window, lowered to the highest of the scale-down window.
        let up_to = in_window(up_window).min().unwrap_or(raw);
        let down_to = in_window(down_window).max().unwrap_or(raw);
        let stabilized = current.max(up_to).min(down_to);
        let scales = self.scales.entry(key.clone()).or_default();
        scales.retain(|(t, _)| now.saturating_sub(*t) < Duration::from_secs(1800));
        let (desired, limited) = match stabilized.cmp(&current) {
            std::cmp::Ordering::Greater => {
                let limit =
                    rate_limit(current, scales, now, true, &policies(hpa, true)).max(current);
                if max > limit {
                    (stabilized.min(limit), (stabilized > limit).then_some(("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")))
                } else {
                    (
                        stabilized.min(max),
                        (stabilized > max).then_some((
                            "TooManyReplicas",
                            "the desired replica count is more than the maximum replica count",
                        )),
                    )
                }
            }
            std::cmp::Ordering::Less => {
                let limit =
                    rate_limit(current, scales, now, false, &policies(hpa, false)).min(current);
                if min < limit {
                    (stabilized.max(limit), (stabilized < limit).then_some(("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")))
                } else {
                    (
                        stabilized.max(min),
                        (stabilized < min).then_some((
                            "TooFewReplicas",
                            "the desired replica count is less than the minimum replica count",
                        )),
                    )
                }
            }
            std::cmp::Ordering::Equal => {
                let reason = if current < min {
                    Some((
                        "TooFewReplicas",
                        "the desired replica count is less than the minimum replica count",
                    ))
                } else if current > max {
                    Some((
                        "TooManyReplicas",
                        "the desired replica count is more than the maximum replica count",
                    ))
                } else {
                    None
                };
                (current.clamp(min, max), reason)
            }
        };
        let limited = limited.map(|(r, m)| (r, m.to_owned()));
        let mut last_scale_time = hpa.pointer("/status/lastScaleTime").cloned();
        let able = if desired == current {
            condition(
                "AbleToScale",
                "True",
                "ReadyForNewScale",
                "recommended size matches current size".into(),
            )
        } else {
            let target_resource = resource(target_kind);
            let _ = store.modify(target_resource, &ns, target_name, Part::Main, false, |v| {
                v["spec"]["replicas"] = json!(desired);
                Ok(())
            });
            self.scales
                .entry(key)
                .or_default()
                .push((now, desired - current));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_percent_a_minute_scales_down_below_ten_replicas() {
        let hpa = json!({"spec": {"behavior": {"scaleDown": {"policies": [
            {"type": "Percent", "value": 10, "periodSeconds": 60}]}}}});
        let rules = policies(&hpa, false);
        let mut current = 20;
        let mut scales = Vec::new();
        let mut seen = vec![current];
        for minute in 0..20u64 {
            let now = Duration::from_secs(minute * 60);
            let limit = rate_limit(current, &scales, now, false, &rules).min(current);
            let next = 3.max(limit);
            if next != current {
                scales.push((now, next - current));
                current = next;
                seen.push(current);
            }
        }
        assert_eq!(seen, [20, 18, 16, 14, 12, 10, 9, 8, 7, 6, 5, 4, 3]);
    }

    #[test]
    fn the_default_scale_up_is_four_pods_or_double_whichever_is_more() {
        let rules = policies(&json!({}), true);
        assert_eq!(rate_limit(1, &[], Duration::ZERO, true, &rules), 5);
        assert_eq!(rate_limit(10, &[], Duration::ZERO, true, &rules), 20);
    }
}
