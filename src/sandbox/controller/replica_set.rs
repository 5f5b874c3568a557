//! The ReplicaSet controller: each ReplicaSet keeps its pod count
//! (creating pods, scheduled onto nodes, or removing the least useful).

use std::time::Duration;

use serde_json::{Value, json};

use super::scheduler::Scheduler;
use super::{BATCH, Controllers, i, owner_ref, ready, resource, s, uid};
use crate::sandbox::store::{Object, Part, key_of, now_rfc3339};

impl Controllers {
    pub(super) fn replica_set(&mut self, rs: &Value, pods: &[Object], scheduler: &mut Scheduler) {
        let want = usize::try_from(i(rs, "/spec/replicas")).unwrap_or(0);
        let (ns, _) = key_of(rs);
        if pods.len() < want {
            for _ in 0..(want - pods.len()).min(BATCH) {
                self.create_pod(rs, &ns, scheduler);
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
                for c in p
                    .pointer("/spec/containers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|_| Self::told(p))
                {
                    self.event(
                        p,
                        "Killing",
                        &format!("Stopping container {}", s(c, "/name")),
                        false,
                    );
                }
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

    fn create_pod(&mut self, rs: &Value, ns: &str, scheduler: &mut Scheduler) {
        let template = rs.pointer("/spec/template").cloned().unwrap_or_default();
        let mut spec = template.get("spec").cloned().unwrap_or_default();
        let node = scheduler.place(&spec);
        let rs_name = s(rs, "/metadata/name");
        let name = format!("{rs_name}-{}", self.store.suffix(5));
        let mut status = json!({"phase": "Pending", "qosClass": "Burstable"});
        match &node {
            Ok(node) => {
                spec["nodeName"] = json!(node);
                status["conditions"] = json!([scheduled(None)]);
            }
            Err(why) => status["conditions"] = json!([scheduled(Some(why))]),
        }
        let pod = json!({"metadata": {"name": name, "labels": template["metadata"]["labels"], "ownerReferences": owner_ref("ReplicaSet", rs)},
            "spec": spec, "status": status});
        if let Ok(created) = self.store.create(resource("Pod"), ns, pod, false) {
            self.born.insert(uid(&created).to_owned(), self.clock.now());
            self.tell_scheduled(&created, node.as_deref().map_err(String::as_str));
        }
    }

    /// Tries a Pending pod again: bound to a node that now holds it (it
    /// starts from then), or its PodScheduled condition says why not.
    pub(super) fn bind(&mut self, p: &Value, scheduler: &mut Scheduler, now: Duration) {
        let spec = p.get("spec").cloned().unwrap_or_default();
        let (ns, name) = key_of(p);
        let node = scheduler.place(&spec);
        let condition = scheduled(node.as_ref().err());
        let told = p
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == "PodScheduled"))
            .and_then(|c| c.get("message"));
        if node.is_err() && told == condition.get("message") {
            return;
        }
        if let Ok(node) = &node {
            let bound = self
                .store
                .modify(resource("Pod"), &ns, &name, Part::Main, false, |v| {
                    v["spec"]["nodeName"] = json!(node);
                    Ok(())
                });
            let Ok(bound) = bound else {
                return;
            };
            self.born.insert(uid(&bound).to_owned(), now);
        }
        let mut status = p.get("status").cloned().unwrap_or_else(|| json!({}));
        status["conditions"] = json!([condition]);
        self.status("Pod", p, status, None);
        self.tell_scheduled(p, node.as_deref().map_err(String::as_str));
    }

    /// The scheduler's event about a pod: where it went, or why nowhere.
    fn tell_scheduled(&self, p: &Value, node: Result<&str, &str>) {
        let (ns, name) = key_of(p);
        match node {
            Ok(node) if Self::told(p) => self.store.record_event(
                p,
                "Scheduled",
                &format!("Successfully assigned {ns}/{name} to {node}"),
                false,
                "default-scheduler",
            ),
            Ok(_) => {}
            Err(_) if !Self::told(p) => {}
            Err(why) => {
                self.store
                    .record_event(p, "FailedScheduling", why, true, "default-scheduler");
            }
        }
    }
}

/// The PodScheduled condition: true, or false with the scheduler's reason.
fn scheduled(why: Option<&String>) -> Value {
    match why {
        None => {
            json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339()})
        }
        Some(why) => json!({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": why, "lastTransitionTime": now_rfc3339()}),
    }
}
