//! Pods through their lives, as the kubelet reports them: scheduled, then
//! after a while pulled, created and started (with those events), Running
//! and Ready; or crash-looping (an image tag containing `crash`, or the
//! scenario's victim) under the kubelet's back-off (10 s, doubling to
//! 5 min, reset once a container has run 10 min), its BackOff event
//! aggregated with a count; or stuck pulling (`does-not-exist`).

use std::time::Duration;

use serde_json::{Value, json};

use super::{Controllers, START, i, ready, restarts_of, s, uid};
use crate::sandbox::store::now_rfc3339;

/// How long a crashing container runs before it exits (simulated).
const RUNS_FOR: Duration = Duration::from_secs(5);
/// The kubelet's first back-off.
const BACKOFF_FIRST: Duration = Duration::from_secs(10);
/// The kubelet's longest back-off.
const BACKOFF_CAP: Duration = Duration::from_secs(300);
/// A container that ran this long starts its back-off afresh.
const BACKOFF_RESET: Duration = Duration::from_secs(600);
/// How often a container in back-off gets a BackOff event.
const TELL_EVERY: Duration = Duration::from_secs(10);

/// A crash-looping container's life, in simulated time.
#[derive(Debug, Clone)]
pub(in crate::sandbox) struct Crash {
    restarts: i64,
    /// When it last started.
    started: Duration,
    /// When it last exited, while it is not running.
    exited: Option<Duration>,
    /// The back-off in force.
    backoff: Option<Duration>,
    /// When its BackOff event was last recorded.
    told: Option<Duration>,
    /// Wall-clock stamps of its last run, for `lastState`.
    last_run: Option<(String, String)>,
    /// Wall-clock stamp of its current start.
    started_at: String,
}

/// What a crashing container did in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Still running.
    Running,
    /// It exited just now.
    Exited,
    /// It waits out its back-off.
    BackingOff(Duration),
    /// Its back-off is over: started again.
    Restarted,
}

impl Crash {
    fn new(now: Duration, restarts: i64) -> Crash {
        Crash {
            restarts,
            started: now,
            exited: None,
            backoff: None,
            told: None,
            last_run: None,
            started_at: now_rfc3339(),
        }
    }

    fn step(&mut self, now: Duration) -> Step {
        match self.exited {
            None if now.saturating_sub(self.started) >= RUNS_FOR => {
                self.exited = Some(self.started + RUNS_FOR);
                self.last_run = Some((self.started_at.clone(), now_rfc3339()));
                // The kubelet's back-off: first 10 s, then doubled, capped;
                // a container that had run long starts afresh.
                let ran = RUNS_FOR;
                self.backoff = Some(match self.backoff {
                    Some(b) if ran < BACKOFF_RESET => (b * 2).min(BACKOFF_CAP),
                    _ => BACKOFF_FIRST,
                });
                Step::Exited
            }
            None => Step::Running,
            Some(exited) => {
                let backoff = self.backoff.unwrap_or(BACKOFF_FIRST);
                if now.saturating_sub(exited) < backoff {
                    return Step::BackingOff(backoff);
                }
                self.restarts += 1;
                self.started = now;
                self.started_at = now_rfc3339();
                self.exited = None;
                Step::Restarted
            }
        }
    }
}

/// Go's formatting of a duration, as the kubelet's messages show it.
fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, s) => format!("{m}m{s}s"),
    }
}

impl Controllers {
    /// Moves a pod through its life.
    pub(super) fn pod(&mut self, p: &Value, now: Duration) {
        if s(p, "/spec/nodeName").is_empty() {
            return;
        }
        let containers: Vec<Value> = p
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let image_has = |word: &str| containers.iter().any(|c| s(c, "/image").contains(word));
        let (crashes, pulls) = (image_has("crash"), image_has("does-not-exist"));
        let victim = self
            .victim
            .as_ref()
            .filter(|(name, _)| name == s(p, "/metadata/name"))
            .map(|(_, since)| *since);
        let id = uid(p).to_owned();
        let crashing = crashes || victim.is_some();
        // A pod that is up and has nothing to crash or pull stays as it is:
        // at 10,000 pods, rebuilding every status on every pass dominates.
        if !crashing && !pulls && ready(p) && !self.crash.contains_key(&id) {
            return;
        }
        // Pods short of ready keep the controllers stepping: they start on time.
        self.waiting = true;
        let born = *self.born.entry(id.clone()).or_insert(now);
        if now.saturating_sub(born) < START && !self.instant {
            return;
        }
        let first_start = p.pointer("/status/startTime").is_none();
        let step = if crashing {
            let previous = restarts_of(p);
            let crash = self
                .crash
                .entry(id.clone())
                .or_insert_with(|| Crash::new(victim.unwrap_or(now), previous));
            Some((crash.step(now), crash.clone()))
        } else {
            None
        };
        self.tell(p, &containers, first_start, step.as_ref(), now);
        if !crashing {
            // Recovered (the scenario's crash is over): the count stays.
            self.crash.remove(&id);
        }
        let status = Self::pod_status(p, &containers, step.as_ref(), first_start);
        if p.get("status") != Some(&status) {
            self.status("Pod", p, status, None);
        }
    }

    /// The kubelet's events about a pod: pulled, created and started the
    /// first time and at each restart; back-off while it waits (at most
    /// every 10 s, aggregated into one Event with a count).
    fn tell(
        &mut self,
        p: &Value,
        containers: &[Value],
        first_start: bool,
        step: Option<&(Step, Crash)>,
        now: Duration,
    ) {
        let id = uid(p).to_owned();
        if first_start && Self::told(p) {
            for c in containers {
                let (name, image) = (s(c, "/name"), s(c, "/image"));
                self.event(p, "Pulling", &format!("Pulling image \"{image}\""), false);
                if image.contains("does-not-exist") {
                    self.event(
                        p,
                        "Failed",
                        &format!("Failed to pull image \"{image}\": not found"),
                        true,
                    );
                    continue;
                }
                self.event(
                    p,
                    "Pulled",
                    &format!(
                        "Successfully pulled image \"{image}\" in 1.2s (1.2s including waiting)"
                    ),
                    false,
                );
                self.event(p, "Created", &format!("Created container: {name}"), false);
                self.event(p, "Started", &format!("Started container {name}"), false);
            }
        }
        match step {
            Some((Step::Restarted, _)) => {
                for c in containers {
                    let (name, image) = (s(c, "/name"), s(c, "/image"));
                    self.event(
                        p,
                        "Pulled",
                        &format!("Container image \"{image}\" already present on machine"),
                        false,
                    );
                    self.event(p, "Created", &format!("Created container: {name}"), false);
                    self.event(p, "Started", &format!("Started container {name}"), false);
                }
            }
            Some((Step::BackingOff(_), c))
                if c.told.is_none_or(|t| now.saturating_sub(t) >= TELL_EVERY) =>
            {
                for container in containers {
                    self.event(
                        p,
                        "BackOff",
                        &format!(
                            "Back-off restarting failed container {} in pod {}_{}({id})",
                            s(container, "/name"),
                            s(p, "/metadata/name"),
                            s(p, "/metadata/namespace")
                        ),
                        true,
                    );
                }
                if let Some(c) = self.crash.get_mut(&id) {
                    c.told = Some(now);
                }
            }
            _ => {}
        }
    }

    /// The pod's status as the kubelet writes it.
    fn pod_status(
        p: &Value,
        containers: &[Value],
        crash: Option<&(Step, Crash)>,
        first_start: bool,
    ) -> Value {
        let started = if first_start {
            json!(now_rfc3339())
        } else {
            p.pointer("/status/startTime").cloned().unwrap_or_default()
        };
        let mut all_ready = true;
        let mut pulling = false;
        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                let (name, image) = (s(c, "/name"), s(c, "/image"));
                let id = format!("docker.io/{image}");
                if image.contains("does-not-exist") {
                    all_ready = false;
                    pulling = true;
                    return json!({"name": name, "image": image, "imageID": "", "ready": false, "started": false, "restartCount": 0,
                        "state": {"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}}});
                }
                let previous = p
                    .pointer("/status/containerStatuses")
                    .and_then(Value::as_array)
                    .and_then(|cs| cs.iter().find(|c| c["name"] == name))
                    .map_or(0, |c| i(c, "/restartCount"));
                let Some((step, crash)) = crash else {
                    return json!({"name": name, "image": image, "imageID": id, "ready": true, "started": true, "restartCount": previous,
                        "state": {"running": {"startedAt": started}}});
                };
                all_ready = false;
                let last = crash.last_run.as_ref().map(|(from, to)| {
                    json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": from, "finishedAt": to,
                        "containerID": format!("containerd://{:016x}", crash.restarts)}})
                });
                let state = match step {
                    Step::BackingOff(_) | Step::Exited => {
                        let backoff = crash.backoff.unwrap_or(BACKOFF_FIRST);
                        json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!(
                            "back-off {} restarting failed container={name} pod={}_{}({})",
                            go_duration(backoff), s(p, "/metadata/name"), s(p, "/metadata/namespace"), uid(p))}})
                    }
                    _ => json!({"running": {"startedAt": crash.started_at}}),
                };
                let mut status = json!({"name": name, "image": image, "imageID": id, "ready": false,
                    "started": state.get("running").is_some(), "restartCount": crash.restarts, "state": state});
                if let Some(last) = last {
                    status["lastState"] = last;
                }
                status
            })
            .collect();
        let phase = if pulling { "Pending" } else { "Running" };
        let ready_word = if all_ready { "True" } else { "False" };
        let stamp = p
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .find(|c| c["type"] == "Ready" && c["status"] == ready_word)
            })
            .and_then(|c| c.get("lastTransitionTime").cloned())
            .unwrap_or_else(|| json!(now_rfc3339()));
        let node_index = s(p, "/metadata/uid")
            .bytes()
            .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
        let mut conditions = vec![
            json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp}),
            json!({"type": "Initialized", "status": "True", "lastTransitionTime": stamp}),
            json!({"type": "ContainersReady", "status": ready_word, "lastTransitionTime": stamp}),
            json!({"type": "Ready", "status": ready_word, "lastTransitionTime": stamp}),
        ];
        if !all_ready {
            for c in conditions.iter_mut().skip(2) {
                c["reason"] = json!("ContainersNotReady");
            }
        }
        json!({"phase": phase, "qosClass": "Burstable", "startTime": started,
            "hostIP": format!("10.0.{}.{}", node_index % 3 * 16 + 1, node_index % 200 + 10),
            "podIP": format!("10.1.{}.{}", (node_index >> 8) % 250, node_index % 250 + 2),
            "conditions": conditions, "containerStatuses": statuses})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crashing_container_restarts_on_the_kubelet_s_schedule() {
        let mut c = Crash::new(Duration::ZERO, 0);
        let mut restarts_at = Vec::new();
        for t in 0..700 {
            if c.step(Duration::from_secs(t)) == Step::Restarted {
                restarts_at.push(t);
            }
        }
        // Runs 5 s, then waits 10, 20, 40, 80, 160, 300, 300 s.
        assert_eq!(restarts_at, [15, 40, 85, 170, 335, 640]);
        assert_eq!(c.restarts, 6);
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
        assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
    }
}
