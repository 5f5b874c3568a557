//! The controllers that make a simulated cluster behave: Deployments own
//! ReplicaSets (one per pod template, with revisions) and roll between them
//! within maxSurge / maxUnavailable; ReplicaSets keep their pod count;
//! pods are scheduled onto nodes whose labels and taints allow them, start
//! after a while, and crash-loop or fail to pull when their image says so.
//! Statuses and conditions follow the real controllers, so `kubectl rollout
//! status` and kube-rs watchers read them as they would in production.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use std::time::Instant;

mod deployment;
mod endpoints;
mod pod;
mod replica_set;
mod scheduler;

use super::resource::Resource;
use super::scenario::Scenario;
use super::store::{Object, Part, Store, key_of};

/// Pods wait this long (simulated) between being scheduled and ready.
const START: Duration = Duration::from_secs(3);
/// Pods created per ReplicaSet per pass, so a large world fills gradually.
const BATCH: usize = 500;

/// A served resource by kind.
pub(super) fn resource(kind: &str) -> &'static Resource {
    Resource::of_kind(kind).unwrap_or_else(|| unreachable!("{kind} is served"))
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

fn i(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn uid(v: &Value) -> &str {
    s(v, "/metadata/uid")
}

fn controller_uid(v: &Value) -> Option<&str> {
    v.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|o| o.get("controller").and_then(Value::as_bool) == Some(true))?
        .get("uid")?
        .as_str()
}

fn owner_ref(kind: &str, owner: &Value) -> Value {
    json!([{"apiVersion": owner["apiVersion"], "kind": kind, "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
        "controller": true, "blockOwnerDeletion": true}])
}

/// The simulated clock: real time scaled by the sandbox's speed.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
    speed: f64,
}

impl Clock {
    /// A clock running `speed` times faster than real time.
    pub fn new(speed: f64) -> Clock {
        Clock {
            start: Instant::now(),
            speed: speed.max(0.01),
        }
    }

    /// Simulated time since the start.
    pub fn now(&self) -> Duration {
        self.start.elapsed().mul_f64(self.speed)
    }
}

/// The controllers of one cluster; call [`Controllers::pass`] periodically.
pub struct Controllers {
    store: Arc<Store>,
    clock: Clock,
    /// When each pod was created, in simulated time (the API keeps seconds only).
    born: HashMap<String, Duration>,
    /// Per Deployment: its last progress (updated, available) and when it changed.
    progress: HashMap<String, ((i64, i64), Duration)>,
    autoscaler: super::hpa::Autoscaler,
    /// The scenario, and whether this is the cluster its incidents hit.
    scenario: Scenario,
    primary: bool,
    /// The pod the scenario makes crash-loop, and since when.
    victim: Option<(String, Duration)>,
    /// Crash-looping containers, by pod uid.
    crash: HashMap<String, pod::Crash>,
    /// Settling the world before it is served: pods start at once.
    instant: bool,
    /// The store's resourceVersion after the last full pass.
    settled_at: u64,
    /// Whether the last full pass left work that waits on time: pods
    /// starting or crash-looping, rollouts short of complete.
    waiting: bool,
}

impl Controllers {
    /// Controllers over a store.
    pub fn new(store: Arc<Store>, clock: Clock, scenario: Scenario, primary: bool) -> Controllers {
        Controllers {
            store,
            clock,
            born: HashMap::new(),
            progress: HashMap::new(),
            autoscaler: super::hpa::Autoscaler::default(),
            scenario,
            primary,
            victim: None,
            crash: HashMap::new(),
            instant: false,
            settled_at: 0,
            waiting: true,
        }
    }

    /// One reconciliation of everything.
    pub fn pass(&mut self) {
        self.autoscaler.pass(&self.store, self.clock.now());
        // Nothing changed and nothing waits on time: a real controller,
        // driven by watch events, would not run either.
        let crash_due = self.primary
            && self
                .scenario
                .at(self.clock.now().as_secs())
                .crash_backend_pod;
        if self.store.rv() == self.settled_at && !self.waiting && crash_due == self.victim.is_some()
        {
            return;
        }
        self.waiting = false;
        // ReplicaSets by owner, once: a list per Deployment is quadratic at 1,000 of them.
        let mut replica_sets: HashMap<String, Vec<Object>> = HashMap::new();
        for rs in self.store.all(resource("ReplicaSet")) {
            if let Some(owner) = controller_uid(&rs) {
                replica_sets
                    .entry(owner.to_owned())
                    .or_default()
                    .push(rs.clone());
            }
        }
        for d in self.store.all(resource("Deployment")) {
            let owned = replica_sets.remove(uid(&d)).unwrap_or_default();
            self.deployment(&d, &owned);
        }
        let nodes = self.store.all(resource("Node"));
        let pods = self.store.all(resource("Pod"));
        self.choose_victim(&pods);
        let mut by_owner: HashMap<String, Vec<Object>> = HashMap::new();
        for p in &pods {
            if let Some(owner) = controller_uid(p) {
                by_owner
                    .entry(owner.to_owned())
                    .or_default()
                    .push(p.clone());
            }
        }
        let mut scheduler = scheduler::Scheduler::new(&nodes, &pods);
        for rs in self.store.all(resource("ReplicaSet")) {
            let owned = by_owner.remove(uid(&rs)).unwrap_or_default();
            self.replica_set(&rs, &owned, &mut scheduler);
        }
        let now = self.clock.now();
        for p in pods {
            if s(&p, "/spec/nodeName").is_empty() {
                self.bind(&p, &mut scheduler, now);
            } else {
                self.pod(&p, now);
            }
        }
        self.endpoints();
        self.born
            .retain(|_, t| now.saturating_sub(*t) < Duration::from_secs(3600));
        if !self.crash.is_empty() {
            let alive: std::collections::HashSet<String> = self
                .store
                .all(resource("Pod"))
                .iter()
                .map(|p| uid(p).to_owned())
                .collect();
            self.crash.retain(|id, _| alive.contains(id));
        }
        self.settled_at = self.store.rv();
    }

    /// While the scenario says so, one backend-api pod of the primary
    /// cluster crash-loops: the first of the live colour, by name.
    fn choose_victim(&mut self, pods: &[Object]) {
        let now = self.clock.now();
        let crashing = self.primary && self.scenario.at(now.as_secs()).crash_backend_pod;
        if !crashing {
            self.victim = None;
            return;
        }
        let alive = self
            .victim
            .as_ref()
            .is_some_and(|(name, _)| pods.iter().any(|p| s(p, "/metadata/name") == name));
        if !alive {
            self.victim = pods
                .iter()
                .filter(|p| {
                    s(p, "/metadata/labels/app") == "backend-api"
                        && s(p, "/metadata/labels/color") == super::world::LIVE_COLOUR
                        && ready(p)
                })
                .map(|p| s(p, "/metadata/name").to_owned())
                .min()
                .map(|name| (name, now));
        }
    }

    fn scale(&self, kind: &str, o: &Value, replicas: i64) {
        let (ns, name) = key_of(o);
        let _ = self
            .store
            .modify(resource(kind), &ns, &name, Part::Main, false, |v| {
                v["spec"]["replicas"] = json!(replicas);
                Ok(())
            });
    }

    fn status(&self, kind: &str, o: &Value, status: Value, annotations: Option<Value>) {
        let (ns, name) = key_of(o);
        let _ = self
            .store
            .modify(resource(kind), &ns, &name, Part::Status, false, |v| {
                v["status"] = status;
                if let Some(a) = annotations {
                    v["metadata"]["annotations"] = a;
                }
                Ok(())
            });
    }

    fn event(&self, object: &Value, reason: &str, message: &str, warning: bool) {
        let component = match s(object, "/kind") {
            "Deployment" => "deployment-controller",
            "ReplicaSet" => "replicaset-controller",
            _ => "kubelet",
        };
        self.store
            .record_event(object, reason, message, warning, component);
    }

    /// Whether the kubelet's and scheduler's routine events are recorded for
    /// this pod: not for the filler namespaces (`load-NN`), whose tens of
    /// thousands of pods are load, not a story.
    fn told(p: &Value) -> bool {
        !s(p, "/metadata/namespace").starts_with("load-")
    }

    /// Runs passes with pods starting at once until nothing changes: the
    /// world as it stands after a while, before anyone watches it.
    pub fn settle(&mut self) {
        self.instant = true;
        for _ in 0..64 {
            let before = self.store.rv();
            self.settled_at = u64::MAX;
            self.pass();
            if self.store.rv() == before {
                break;
            }
        }
        self.instant = false;
    }
}

fn restarts_of(p: &Value) -> i64 {
    p.pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |c| c.iter().map(|c| i(c, "/restartCount")).sum())
}

fn unavailable_count(desired: i64, available: i64) -> i64 {
    (desired - available).max(0)
}

fn ready(p: &Value) -> bool {
    p.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Status without timestamps, to tell a real change from a re-stamp.
pub(super) fn strip_times(status: &Value) -> Value {
    let mut s = status.clone();
    for c in s
        .get_mut("conditions")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(o) = c.as_object_mut() {
            o.remove("lastUpdateTime");
            o.remove("lastTransitionTime");
        }
    }
    s
}

/// maxSurge and maxUnavailable as pod counts: surge rounds up,
/// unavailability down, and both zero means one unavailable.
pub fn fenceposts(d: &Value, desired: i64) -> (i64, i64) {
    let resolve = |v: Option<&Value>, default: &str, up: bool| -> i64 {
        let v = v.cloned().unwrap_or_else(|| json!(default));
        match v {
            Value::Number(n) => n.as_i64().unwrap_or(0),
            Value::String(p) => {
                let pct = p.trim_end_matches('%').parse::<i64>().unwrap_or(0);
                let scaled = pct * desired;
                if up {
                    (scaled + 99) / 100
                } else {
                    scaled / 100
                }
            }
            _ => 0,
        }
    };
    let surge = resolve(
        d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
        "25%",
        true,
    );
    let unavailable = resolve(
        d.pointer("/spec/strategy/rollingUpdate/maxUnavailable"),
        "25%",
        false,
    );
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// Whether a ReplicaSet's template is the Deployment's, ignoring the hash label.
fn same_template(rs: &Value, template: &Value) -> bool {
    let mut t = rs.pointer("/spec/template").cloned().unwrap_or_default();
    if let Some(labels) = t
        .pointer_mut("/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove("pod-template-hash");
    }
    t == *template
}

/// The `pod-template-hash`: FNV-32a of the template, each decimal digit
/// spelled in the API server's safe alphabet.
fn template_hash(template: &Value) -> String {
    const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u32 = 0x811c_9dc5;
    for b in template.to_string().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.to_string()
        .bytes()
        .map(|d| char::from(SAFE[usize::from(d - b'0')]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenceposts_round_like_kubectl() {
        let d = |surge: Value, unavail: Value| json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavail}}}});
        assert_eq!(fenceposts(&d(json!("25%"), json!("25%")), 10), (3, 2));
        assert_eq!(fenceposts(&d(json!(1), json!(0)), 3), (1, 0));
        assert_eq!(fenceposts(&d(json!(0), json!(0)), 3), (0, 1));
    }

    #[test]
    fn template_hashes_are_stable_and_safe() {
        let t = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}});
        let h = template_hash(&t);
        assert_eq!(h, template_hash(&t.clone()));
        assert!(
            h.len() >= 6
                && h.bytes()
                    .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)),
            "{h}"
        );
    }
}
