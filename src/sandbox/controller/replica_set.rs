//! The ReplicaSet controller: each ReplicaSet keeps its pod count
//! (creating pods, scheduled onto nodes, or removing the least useful).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{BATCH, Controllers, i, owner_ref, ready, resource, s, schedule, uid};
use crate::sandbox::store::{Object, key_of, now_rfc3339};

impl Controllers {
    pub(super) fn replica_set(
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
            if let Some(node) = node.as_ref().filter(|_| Self::told(&created)) {
                self.store.record_event(
                    &created,
                    "Scheduled",
                    &format!(
                        "Successfully assigned {ns}/{} to {node}",
                        s(&created, "/metadata/name")
                    ),
                    false,
                    "default-scheduler",
                );
            } else if node.is_none() {
                self.store.record_event(
                    &created,
                    "FailedScheduling",
                    "no node matches the pod's node selector and tolerations",
                    true,
                    "default-scheduler",
                );
            }
        }
    }
}
