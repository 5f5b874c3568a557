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

use super::resource::Resource;
use super::scenario::Scenario;
use super::select::LabelSelector;
use super::store::{Object, Part, Store, key_of, now_rfc3339};

/// Pods wait this long (simulated) between being scheduled and ready.
const START: Duration = Duration::from_secs(3);
/// A crash-looping container restarts this often (simulated).
const CRASH_EVERY: Duration = Duration::from_secs(10);
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
        let mut load: HashMap<String, usize> = HashMap::new();
        for p in &pods {
            if let Some(owner) = controller_uid(p) {
                by_owner
                    .entry(owner.to_owned())
                    .or_default()
                    .push(p.clone());
            }
            *load.entry(s(p, "/spec/nodeName").to_owned()).or_default() += 1;
        }
        for rs in self.store.all(resource("ReplicaSet")) {
            let owned = by_owner.remove(uid(&rs)).unwrap_or_default();
            self.replica_set(&rs, &owned, &nodes, &mut load);
        }
        let now = self.clock.now();
        for p in pods {
            self.pod(&p, now);
        }
        self.endpoints();
        self.born
            .retain(|_, t| now.saturating_sub(*t) < Duration::from_secs(3600));
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

    // The steps of the real deployment controller, in its order: they read
    // best as one function.
    #[allow(clippy::too_many_lines)]
    fn deployment(&mut self, d: &Value, all_rs: &[Object]) {
        let (_, name) = key_of(d);
        let template = d.pointer("/spec/template").cloned().unwrap_or_default();
        let hash = template_hash(&template);

        let revision = |rs: &Value| {
            s(
                rs,
                "/metadata/annotations/deployment.kubernetes.io~1revision",
            )
            .parse::<i64>()
            .unwrap_or(0)
        };
        let max_revision = all_rs.iter().map(|rs| revision(rs)).max().unwrap_or(0);
        let desired = i(d, "/spec/replicas");
        let (surge, unavailable) = fenceposts(d, desired);
        let mut new_rs = all_rs
            .iter()
            .find(|rs| same_template(rs, &template))
            .cloned();
        if new_rs.is_none() {
            let old_pods: i64 = all_rs.iter().map(|rs| i(rs, "/spec/replicas")).sum();
            let start = if old_pods == 0 { desired } else { 0 };
            new_rs = self.new_replica_set(d, &template, &hash, max_revision + 1, start);
            if new_rs.is_some() {
                self.event(
                    d,
                    "ScalingReplicaSet",
                    &format!("Scaled up replica set {name}-{hash} from 0 to {start}"),
                    false,
                );
            }
        } else if let Some(rs) = &new_rs
            && revision(rs) < max_revision
        {
            // A rollback to an older template: that ReplicaSet becomes the newest revision.
            let old = revision(rs);
            let (rns, rname) = key_of(rs);
            new_rs = self
                .store
                .modify(
                    resource("ReplicaSet"),
                    &rns,
                    &rname,
                    Part::Main,
                    false,
                    |v| {
                        v["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
                            json!((max_revision + 1).to_string());
                        v["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] =
                            json!(old.to_string());
                        Ok(())
                    },
                )
                .ok();
        }
        let Some(new_rs) = new_rs else {
            return;
        };
        let olds: Vec<&Object> = all_rs.iter().filter(|rs| uid(rs) != uid(&new_rs)).collect();
        let new_spec = i(&new_rs, "/spec/replicas");
        let recreate = s(d, "/spec/strategy/type") == "Recreate";
        if recreate {
            let old_running: i64 = olds.iter().map(|rs| i(rs, "/status/replicas")).sum();
            for rs in olds.iter().filter(|rs| i(rs, "/spec/replicas") > 0) {
                self.scale_rs_event(d, rs, 0);
            }
            if old_running == 0 && new_spec != desired {
                self.scale_rs_event(d, &new_rs, desired);
            }
        } else {
            let total: i64 = all_rs.iter().map(|rs| i(rs, "/spec/replicas")).sum();
            if new_spec > desired {
                self.scale_rs_event(d, &new_rs, desired);
            } else if new_spec < desired && total < desired + surge {
                let up = (desired + surge - total).min(desired - new_spec);
                self.scale_rs_event(d, &new_rs, new_spec + up);
            }
            let available: i64 = all_rs
                .iter()
                .map(|rs| i(rs, "/status/availableReplicas"))
                .sum();
            let mut removable = available - (desired - unavailable);
            let mut olds_by_age = olds.clone();
            olds_by_age.sort_by_key(|rs| revision(rs));
            for rs in olds_by_age {
                let spec = i(rs, "/spec/replicas");
                // Pods that are not available can go at once: they serve nothing.
                let unhealthy = (spec - i(rs, "/status/availableReplicas")).max(0);
                let cut = (unhealthy + removable.max(0)).min(spec);
                if cut > 0 {
                    self.scale_rs_event(d, rs, spec - cut);
                    removable -= (cut - unhealthy).max(0);
                }
            }
        }
        self.cleanup_history(d, &olds);
        self.deployment_status(d, &new_rs, all_rs, desired, unavailable);
    }

    fn scale_rs_event(&self, d: &Value, rs: &Value, to: i64) {
        let from = i(rs, "/spec/replicas");
        if from == to {
            return;
        }
        self.scale("ReplicaSet", rs, to);
        let (verb, name) = (
            if to > from { "up" } else { "down" },
            s(rs, "/metadata/name"),
        );
        self.event(
            d,
            "ScalingReplicaSet",
            &format!("Scaled {verb} replica set {name} from {from} to {to}"),
            false,
        );
    }

    fn new_replica_set(
        &self,
        d: &Value,
        template: &Value,
        hash: &str,
        revision: i64,
        replicas: i64,
    ) -> Option<Object> {
        let (ns, name) = key_of(d);
        let mut template = template.clone();
        template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
        let mut selector = d
            .pointer("/spec/selector")
            .cloned()
            .unwrap_or_else(|| json!({}));
        selector["matchLabels"]["pod-template-hash"] = json!(hash);
        let mut annotations = d
            .pointer("/metadata/annotations")
            .cloned()
            .unwrap_or_else(|| json!({}));
        if let Some(a) = annotations.as_object_mut() {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
            a.remove("deployment.kubernetes.io/revision");
        }
        annotations["deployment.kubernetes.io/revision"] = json!(revision.to_string());
        annotations["deployment.kubernetes.io/desired-replicas"] =
            json!(i(d, "/spec/replicas").to_string());
        let (surge, _) = fenceposts(d, i(d, "/spec/replicas"));
        annotations["deployment.kubernetes.io/max-replicas"] =
            json!((i(d, "/spec/replicas") + surge).to_string());
        let rs = json!({"metadata": {"name": format!("{name}-{hash}"), "labels": template["metadata"]["labels"],
                "annotations": annotations, "ownerReferences": owner_ref("Deployment", d)},
            "spec": {"replicas": replicas, "selector": selector, "template": template}});
        self.store
            .create(resource("ReplicaSet"), &ns, rs, false)
            .ok()
    }

    fn cleanup_history(&self, d: &Value, olds: &[&Object]) {
        let limit = usize::try_from(
            d.pointer("/spec/revisionHistoryLimit")
                .and_then(Value::as_i64)
                .unwrap_or(10),
        )
        .unwrap_or(10);
        let mut idle: Vec<&&Object> = olds
            .iter()
            .filter(|rs| i(rs, "/spec/replicas") == 0 && i(rs, "/status/replicas") == 0)
            .collect();
        if idle.len() <= limit {
            return;
        }
        idle.sort_by_key(|rs| {
            s(
                rs,
                "/metadata/annotations/deployment.kubernetes.io~1revision",
            )
            .parse::<i64>()
            .unwrap_or(0)
        });
        for rs in &idle[..idle.len() - limit] {
            let (ns, name) = key_of(rs);
            let _ = self.store.delete(resource("ReplicaSet"), &ns, &name, false);
        }
    }

    #[allow(clippy::too_many_lines)]
    fn deployment_status(
        &mut self,
        d: &Value,
        new_rs: &Value,
        all_rs: &[Object],
        desired: i64,
        unavailable: i64,
    ) {
        let sum = |ptr: &str| all_rs.iter().map(|rs| i(rs, ptr)).sum::<i64>();
        let (replicas, ready, available) = (
            sum("/status/replicas"),
            sum("/status/readyReplicas"),
            sum("/status/availableReplicas"),
        );
        let updated = i(new_rs, "/status/replicas");
        let now = self.clock.now();
        let key = uid(d).to_owned();
        let progressed = self
            .progress
            .get(&key)
            .is_none_or(|(p, _)| *p != (updated, available));
        if progressed {
            self.progress
                .insert(key.clone(), ((updated, available), now));
        }
        let since_progress = self
            .progress
            .get(&key)
            .map_or(Duration::ZERO, |(_, t)| now.saturating_sub(*t));
        let deadline = Duration::from_secs(
            u64::try_from(i(d, "/spec/progressDeadlineSeconds").max(1)).unwrap_or(600),
        );
        let rs_name = s(new_rs, "/metadata/name");
        let complete = updated == desired
            && replicas == desired
            && available >= desired
            && i(new_rs, "/status/observedGeneration") >= i(new_rs, "/metadata/generation");
        // A rollout short of complete waits on its progress deadline.
        self.waiting |= !complete;
        let previous = d
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let stamp = now_rfc3339();
        let condition = |kind: &str, status: &str, reason: &str, message: String| {
            let old = previous.iter().find(|c| c["type"] == kind);
            let transition = old
                .filter(|c| c["status"] == status)
                .and_then(|c| c.get("lastTransitionTime").cloned())
                .unwrap_or_else(|| json!(stamp));
            let update = old
                .filter(|c| c["status"] == status && c["reason"] == reason)
                .and_then(|c| c.get("lastUpdateTime").cloned())
                .unwrap_or_else(|| json!(stamp));
            json!({"type": kind, "status": status, "reason": reason, "message": message, "lastUpdateTime": update, "lastTransitionTime": transition})
        };
        let available_condition = if available >= desired - unavailable {
            condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
            )
        } else {
            condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
            )
        };
        let progressing = if complete {
            condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            )
        } else if since_progress > deadline {
            condition(
                "Progressing",
                "False",
                "ProgressDeadlineExceeded",
                format!("ReplicaSet \"{rs_name}\" has timed out progressing."),
            )
        } else {
            condition(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{rs_name}\" is progressing."),
            )
        };
        let mut status = json!({"observedGeneration": i(d, "/metadata/generation"), "replicas": replicas, "updatedReplicas": updated,
            "readyReplicas": ready, "availableReplicas": available, "conditions": [available_condition, progressing]});
        if unavailable_count(desired, available) > 0 {
            status["unavailableReplicas"] = json!(unavailable_count(desired, available));
        }
        for (field, value) in [
            ("replicas", replicas),
            ("readyReplicas", ready),
            ("availableReplicas", available),
            ("updatedReplicas", updated),
        ] {
            if value == 0
                && let Some(o) = status.as_object_mut()
            {
                o.remove(field);
            }
        }
        let revision = s(
            new_rs,
            "/metadata/annotations/deployment.kubernetes.io~1revision",
        )
        .to_owned();
        let mut annotations = d
            .pointer("/metadata/annotations")
            .cloned()
            .unwrap_or_else(|| json!({}));
        annotations["deployment.kubernetes.io/revision"] = json!(revision);
        let same_status = d
            .get("status")
            .is_some_and(|old| strip_times(old) == strip_times(&status));
        if !same_status || d.pointer("/metadata/annotations") != Some(&annotations) {
            self.status("Deployment", d, status, Some(annotations));
        }
    }

    fn replica_set(
        &mut self,
        rs: &Value,
        pods: &[Object],
        nodes: &[Object],
        load: &mut HashMap<String, usize>,
    ) {
        let want = usize::try_from(i(rs, "/spec/replicas")).unwrap_or(0);
        let (ns, _) = key_of(rs);
        if pods.len() < want {
            for _ in 0..(want - pods.len()).min(BATCH) {
                self.create_pod(rs, &ns, nodes, load);
            }
        } else if pods.len() > want {
            let mut doomed: Vec<&Object> = pods.iter().collect();
            // Not ready first, then the youngest.
            doomed.sort_by_key(|p| {
                (
                    ready(p),
                    std::cmp::Reverse(s(p, "/metadata/creationTimestamp").to_owned()),
                )
            });
            for p in doomed.into_iter().take(pods.len() - want) {
                let (pns, pname) = key_of(p);
                let _ = self.store.delete(resource("Pod"), &pns, &pname, false);
            }
        }
        let current: Vec<&Object> = pods.iter().collect();
        let count = i64::try_from(current.len().min(want.max(current.len()))).unwrap_or(0);
        let ready_n = i64::try_from(current.iter().filter(|p| ready(p)).count()).unwrap_or(0);
        let mut status = json!({"replicas": count, "fullyLabeledReplicas": count, "readyReplicas": ready_n,
            "availableReplicas": ready_n, "observedGeneration": i(rs, "/metadata/generation")});
        for field in ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"] {
            if status[field] == 0
                && let Some(o) = status.as_object_mut()
            {
                o.remove(field);
            }
        }
        if rs.get("status") != Some(&status) {
            self.status("ReplicaSet", rs, status, None);
        }
    }

    fn create_pod(
        &mut self,
        rs: &Value,
        ns: &str,
        nodes: &[Object],
        load: &mut HashMap<String, usize>,
    ) {
        let template = rs.pointer("/spec/template").cloned().unwrap_or_default();
        let mut spec = template.get("spec").cloned().unwrap_or_default();
        let node = schedule(&spec, nodes, load);
        let rs_name = s(rs, "/metadata/name");
        let name = format!("{rs_name}-{}", self.store.suffix(5));
        let mut status = json!({"phase": "Pending", "qosClass": "Burstable"});
        if let Some(node) = &node {
            spec["nodeName"] = json!(node);
            *load.entry(node.clone()).or_default() += 1;
            status["conditions"] = json!([{"type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339()}]);
        } else {
            status["conditions"] = json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "message": "0/0 nodes are available: no node matches the pod's node selector and tolerations."}]);
        }
        let pod = json!({"metadata": {"name": name, "labels": template["metadata"]["labels"], "ownerReferences": owner_ref("ReplicaSet", rs)},
            "spec": spec, "status": status});
        if let Ok(created) = self.store.create(resource("Pod"), ns, pod, false) {
            self.born.insert(uid(&created).to_owned(), self.clock.now());
            if node.is_none() {
                self.event(
                    &created,
                    "FailedScheduling",
                    "no node matches the pod's node selector and tolerations",
                    true,
                );
            }
        }
    }

    /// Moves a pod through its life: Pending, then Running and Ready, or
    /// crash-looping (image tag containing `crash`), or stuck pulling (tag
    /// containing `does-not-exist`).
    fn pod(&mut self, p: &Value, now: Duration) {
        if s(p, "/spec/nodeName").is_empty() {
            return;
        }
        // A pod that is up and has nothing to crash or pull stays as it is:
        // at 10,000 pods, rebuilding every status on every pass dominates.
        let troubled = p
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    s(c, "/image").contains("crash") || s(c, "/image").contains("does-not-exist")
                })
            });
        let victim = self
            .victim
            .as_ref()
            .filter(|(name, _)| name == s(p, "/metadata/name"))
            .map(|(_, since)| *since);

        let was_victim = !ready(p) && restarts_of(p) > 0 && !troubled;
        if !troubled && victim.is_none() && ready(p) {
            return;
        }
        // Pods short of ready keep the controllers stepping: they start on time.
        self.waiting = true;
        let born = *self.born.entry(uid(p).to_owned()).or_insert(now);
        let age = now.saturating_sub(born);
        if age < START {
            return;
        }
        let containers: Vec<Value> = p
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let started = p
            .pointer("/status/startTime")
            .cloned()
            .unwrap_or_else(|| json!(now_rfc3339()));
        let mut all_ready = true;
        let mut pulling = false;
        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                let image = s(c, "/image");
                let name = s(c, "/name");
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
                if image.contains("crash") || victim.is_some() {
                    all_ready = false;
                    let crashing_for = victim.map_or_else(|| age.saturating_sub(START), |since| now.saturating_sub(since));
                    let restarts = previous.max(i64::try_from(crashing_for.as_secs() / CRASH_EVERY.as_secs() + 1).unwrap_or(0));
                    return json!({"name": name, "image": image, "imageID": id, "ready": false, "started": false, "restartCount": restarts,
                        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}},
                        "state": {"waiting": {"reason": "CrashLoopBackOff",
                            "message": format!("back-off restarting failed container {name} in pod {}", s(p, "/metadata/name"))}}});
                }
                // A container that recovers keeps its restart count.
                let restarts = if was_victim { previous } else { 0 };
                json!({"name": name, "image": image, "imageID": id, "ready": true, "started": true, "restartCount": restarts,
                    "state": {"running": {"startedAt": started}}})
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
        let status = json!({"phase": phase, "qosClass": "Burstable", "startTime": started,
            "hostIP": format!("10.0.{}.{}", node_index % 3 * 16 + 1, node_index % 200 + 10),
            "podIP": format!("10.1.{}.{}", (node_index >> 8) % 250, node_index % 250 + 2),
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp},
                {"type": "Initialized", "status": "True", "lastTransitionTime": stamp},
                {"type": "ContainersReady", "status": ready_word, "lastTransitionTime": stamp},
                {"type": "Ready", "status": ready_word, "lastTransitionTime": stamp}],
            "containerStatuses": statuses});
        if p.get("status") != Some(&status) {
            let crashed_again = restarts_of(p) < restarts_of(&json!({"status": status}));
            self.status("Pod", p, status, None);
            if crashed_again {
                self.event(p, "BackOff", "Back-off restarting failed container", true);
            }
        }
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

/// The least loaded node whose labels match the pod's nodeSelector and
/// whose NoSchedule taints the pod tolerates.
fn schedule(spec: &Value, nodes: &[Object], load: &HashMap<String, usize>) -> Option<String> {
    let selector = spec.get("nodeSelector").and_then(Value::as_object);
    let tolerations: Vec<&Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .map(|t| t.iter().collect())
        .unwrap_or_default();
    nodes
        .iter()
        .filter(|n| {
            let labels_ok = selector.is_none_or(|sel| {
                sel.iter()
                    .all(|(k, v)| n.pointer("/metadata/labels").and_then(|l| l.get(k)) == Some(v))
            });
            let taints_ok = n
                .pointer("/spec/taints")
                .and_then(Value::as_array)
                .is_none_or(|taints| {
                    taints.iter().all(|t| {
                        tolerations.iter().any(|tol| {
                            tol.get("key") == t.get("key")
                                && (tol.get("operator").and_then(Value::as_str) == Some("Exists")
                                    || tol.get("value") == t.get("value"))
                        })
                    })
                });
            let ready_ok = n
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                });
            labels_ok
                && taints_ok
                && ready_ok
                && !n
                    .pointer("/spec/unschedulable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
        })
        .min_by_key(|n| {
            (
                load.get(s(n, "/metadata/name")).copied().unwrap_or(0),
                s(n, "/metadata/name").to_owned(),
            )
        })
        .map(|n| s(n, "/metadata/name").to_owned())
}

impl Controllers {
    /// Keeps each Service's Endpoints: the ready pods its selector matches,
    /// with their IPs and nodes, on the Service's ports.
    fn endpoints(&self) {
        let endpoints = resource("Endpoints");
        for svc in self.store.all(resource("Service")) {
            let (ns, name) = key_of(&svc);
            let Some(selector) = svc
                .pointer("/spec/selector")
                .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()))
            else {
                continue;
            };
            let sel = LabelSelector::from_label_selector(&json!({"matchLabels": selector}));
            let (_, pods, _) =
                self.store
                    .list(resource("Pod"), Some(&ns), &|p| sel.matches(p), None, None);
            let address = |p: &Value| {
                json!({"ip": s(p, "/status/podIP"), "nodeName": s(p, "/spec/nodeName"),
                    "targetRef": {"kind": "Pod", "name": s(p, "/metadata/name"), "namespace": ns, "uid": uid(p)}})
            };
            let with_ip = |p: &&Object| !s(p, "/status/podIP").is_empty();
            let ready_pods: Vec<Value> = pods
                .iter()
                .filter(with_ip)
                .filter(|p| ready(p))
                .map(|p| address(p))
                .collect();
            let not_ready: Vec<Value> = pods
                .iter()
                .filter(with_ip)
                .filter(|p| !ready(p))
                .map(|p| address(p))
                .collect();
            let ports: Vec<Value> = svc
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| {
                    let mut port = json!({"port": p.get("targetPort").cloned().unwrap_or_else(|| p["port"].clone()), "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP"))});
                    if let Some(n) = p.get("name") {
                        port["name"] = n.clone();
                    }
                    port
                })
                .collect();
            let mut subset = json!({"ports": ports});
            if !ready_pods.is_empty() {
                subset["addresses"] = json!(ready_pods);
            }
            if !not_ready.is_empty() {
                subset["notReadyAddresses"] = json!(not_ready);
            }
            let subsets = if ready_pods.is_empty() && not_ready.is_empty() {
                json!([])
            } else {
                json!([subset])
            };
            match self.store.get(endpoints, &ns, &name) {
                Some(current) if current.get("subsets") == Some(&subsets) => {}
                Some(_) => {
                    let _ = self
                        .store
                        .modify(endpoints, &ns, &name, Part::Main, false, |v| {
                            v["subsets"] = subsets;
                            Ok(())
                        });
                }
                None => {
                    let labels = svc
                        .pointer("/metadata/labels")
                        .cloned()
                        .unwrap_or_else(|| json!({}));
                    let _ = self.store.create(
                        endpoints,
                        &ns,
                        json!({"metadata": {"name": name, "labels": labels}, "subsets": subsets}),
                        false,
                    );
                }
            }
        }
    }
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
