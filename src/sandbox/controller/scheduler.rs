//! The scheduler: a pod goes to a node whose labels match its
//! nodeSelector, whose NoSchedule taints it tolerates, which is Ready and
//! schedulable, and whose allocatable CPU, memory and pod slots still hold
//! the pod's requests after those of the pods already bound to it (the
//! default scheduler's NodeResourcesFit filter). Of the nodes that fit,
//! the least allocated wins. A pod that fits nowhere stays Pending with the
//! scheduler's own kind of message ("0/6 nodes are available: 3
//! Insufficient cpu, 3 node(s) didn't match Pod's node affinity/selector.")
//! and is tried again on the next pass, as the real scheduler retries it
//! when the cluster changes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::Value;

use super::s;
use crate::projection::{bytes, millicores};
use crate::sandbox::store::Object;

/// CPU (millicores), memory (bytes) and pod slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Room {
    pub cpu: u64,
    pub memory: u64,
    pub pods: u64,
}

/// A quantity read from a JSON map (`{"cpu": "250m"}`).
fn quantity(map: Option<&Value>, key: &str) -> Option<Quantity> {
    map?.get(key)?.as_str().map(|q| Quantity(q.to_owned()))
}

impl Room {
    /// What a pod spec requests: its containers' requests summed, or its
    /// largest init container's where larger (init containers run one at
    /// a time, before the others), and one slot.
    pub fn requested(spec: &Value) -> Room {
        let each = |ptr: &str| -> Vec<(u64, u64)> {
            spec.pointer(ptr)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| {
                    let r = c.pointer("/resources/requests");
                    (
                        millicores(quantity(r, "cpu").as_ref()),
                        bytes(quantity(r, "memory").as_ref()),
                    )
                })
                .collect()
        };
        let (cpu, memory) = each("/containers")
            .into_iter()
            .fold((0, 0), |(c, m), (dc, dm)| (c + dc, m + dm));
        let init = each("/initContainers");
        let init_cpu = init.iter().map(|r| r.0).max().unwrap_or(0);
        let init_memory = init.iter().map(|r| r.1).max().unwrap_or(0);
        Room {
            cpu: cpu.max(init_cpu),
            memory: memory.max(init_memory),
            pods: 1,
        }
    }

    fn allocatable(node: &Value) -> Room {
        let a = node.pointer("/status/allocatable");
        Room {
            cpu: millicores(quantity(a, "cpu").as_ref()),
            memory: bytes(quantity(a, "memory").as_ref()),
            pods: a
                .and_then(|a| a.get("pods"))
                .and_then(Value::as_str)
                .and_then(|p| p.parse().ok())
                .unwrap_or(110),
        }
    }
}

struct Candidate {
    name: String,
    node: Object,
    allocatable: Room,
    used: Room,
}

impl Candidate {
    /// The larger of the CPU and memory shares taken, in millionths, were
    /// `pod` placed here: the least allocated node scores lowest.
    fn share_with(&self, pod: Room) -> u64 {
        let share =
            |used: u64, more: u64, of: u64| (used + more).saturating_mul(1_000_000) / of.max(1);
        share(self.used.cpu, pod.cpu, self.allocatable.cpu).max(share(
            self.used.memory,
            pod.memory,
            self.allocatable.memory,
        ))
    }
}

/// The nodes of a cluster and what is bound to each, for one pass.
pub(super) struct Scheduler {
    nodes: Vec<Candidate>,
}

impl Scheduler {
    /// The nodes, with what their bound pods (those not finished) request.
    pub fn new(nodes: &[Object], pods: &[Object]) -> Scheduler {
        let mut used: BTreeMap<&str, Room> = BTreeMap::new();
        for p in pods {
            let node = s(p, "/spec/nodeName");
            if node.is_empty() || matches!(s(p, "/status/phase"), "Succeeded" | "Failed") {
                continue;
            }
            let r = Room::requested(p.get("spec").unwrap_or(&Value::Null));
            let u = used.entry(node).or_default();
            u.cpu += r.cpu;
            u.memory += r.memory;
            u.pods += 1;
        }
        let mut nodes: Vec<Candidate> = nodes
            .iter()
            .map(|n| {
                let name = s(n, "/metadata/name").to_owned();
                Candidate {
                    used: used.get(name.as_str()).copied().unwrap_or_default(),
                    allocatable: Room::allocatable(n),
                    node: n.clone(),
                    name,
                }
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Scheduler { nodes }
    }

    /// Binds a pod to the least allocated node that fits it, or says why
    /// none does, as the scheduler's FailedScheduling message.
    pub fn place(&mut self, spec: &Value) -> Result<String, String> {
        let pod = Room::requested(spec);
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut best: Option<(u64, usize)> = None;
        for (at, n) in self.nodes.iter().enumerate() {
            if let Some(why) = unfit(spec, n, pod) {
                *reasons.entry(why).or_default() += 1;
            } else {
                let score = n.share_with(pod);
                if best.is_none_or(|(b, _)| score < b) {
                    best = Some((score, at));
                }
            }
        }
        let Some(n) = best.and_then(|(_, at)| self.nodes.get_mut(at)) else {
            if self.nodes.is_empty() {
                return Err("no nodes available to schedule pods".to_owned());
            }
            let mut message = format!("0/{} nodes are available:", self.nodes.len());
            let mut first = true;
            for (why, count) in &reasons {
                let _ = write!(message, "{} {count} {why}", if first { "" } else { "," });
                first = false;
            }
            message.push('.');
            return Err(message);
        };
        n.used.cpu += pod.cpu;
        n.used.memory += pod.memory;
        n.used.pods += 1;
        Ok(n.name.clone())
    }

    /// What each node has bound to it, by name (for tests and figures).
    #[cfg(test)]
    pub fn used(&self) -> BTreeMap<String, (Room, Room)> {
        self.nodes
            .iter()
            .map(|n| (n.name.clone(), (n.used, n.allocatable)))
            .collect()
    }
}

/// Why a node cannot take the pod, in the scheduler's words; None when it
/// can. The first failing filter is the reason, in the scheduler's order.
fn unfit(spec: &Value, n: &Candidate, pod: Room) -> Option<String> {
    let node = &n.node;
    let ready = node
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        });
    if !ready {
        return Some("node(s) were not ready".to_owned());
    }
    if node
        .pointer("/spec/unschedulable")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return Some("node(s) were unschedulable".to_owned());
    }
    let selector = spec.get("nodeSelector").and_then(Value::as_object);
    let labels = node.pointer("/metadata/labels");
    if selector.is_some_and(|sel| {
        sel.iter()
            .any(|(k, v)| labels.and_then(|l| l.get(k)) != Some(v))
    }) {
        return Some("node(s) didn't match Pod's node affinity/selector".to_owned());
    }
    let tolerations: Vec<&Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .map(|t| t.iter().collect())
        .unwrap_or_default();
    let untolerated = node
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| matches!(s(t, "/effect"), "NoSchedule" | "NoExecute"))
        .find(|t| {
            !tolerations.iter().any(|tol| {
                let exists = tol.get("operator").and_then(Value::as_str) == Some("Exists");
                // No key with Exists tolerates every taint; an effect, if
                // given, must be the taint's.
                (tol.get("key") == t.get("key") || (exists && tol.get("key").is_none()))
                    && (exists || tol.get("value") == t.get("value"))
                    && tol.get("effect").is_none_or(|e| Some(e) == t.get("effect"))
            })
        });
    if let Some(t) = untolerated {
        return Some(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            s(t, "/key"),
            s(t, "/value")
        ));
    }
    let free = |used: u64, of: u64| of.saturating_sub(used);
    if n.used.pods + 1 > n.allocatable.pods {
        return Some("Too many pods".to_owned());
    }
    if pod.cpu > free(n.used.cpu, n.allocatable.cpu) {
        return Some("Insufficient cpu".to_owned());
    }
    if pod.memory > free(n.used.memory, n.allocatable.memory) {
        return Some("Insufficient memory".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn node(name: &str, cpu: &str, memory: &str, taint: Option<&str>) -> Object {
        let taints: Vec<Value> = taint
            .iter()
            .map(|t| json!({"key": t, "value": "true", "effect": "NoSchedule"}))
            .collect();
        Arc::new(
            json!({"metadata": {"name": name, "labels": {"pool": if taint.is_some() { "tainted" } else { "general" }}},
            "spec": {"taints": taints},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "3"},
                "conditions": [{"type": "Ready", "status": "True"}]}}),
        )
    }

    fn pod(cpu: &str, memory: &str) -> Value {
        json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]})
    }

    #[test]
    fn a_pod_goes_to_the_least_allocated_node_that_holds_its_requests() {
        let nodes = [node("a", "1", "4Gi", None), node("b", "2", "4Gi", None)];
        let mut sched = Scheduler::new(&nodes, &[]);
        // 600m: a would be 60 % full, b 30 %.
        assert_eq!(sched.place(&pod("600m", "1Gi")), Ok("b".to_owned()));
        // b now 30 %: a at 60 % against b at 60 %: the tie goes by name.
        assert_eq!(sched.place(&pod("600m", "1Gi")), Ok("a".to_owned()));
        // a has 400m left, b 1400m; then b 700m.
        assert_eq!(sched.place(&pod("700m", "1Gi")), Ok("b".to_owned()));
        assert_eq!(
            sched.place(&pod("800m", "1Gi")),
            Err("0/2 nodes are available: 2 Insufficient cpu.".to_owned())
        );
        let used = sched.used();
        assert_eq!(used.get("b").map(|(u, _)| u.cpu), Some(1300));
    }

    #[test]
    fn the_message_counts_each_node_s_first_reason() {
        let nodes = [
            node("a", "1", "1Gi", None),
            node("b", "8", "16Gi", Some("compute-optimized")),
        ];
        let mut sched = Scheduler::new(&nodes, &[]);
        assert_eq!(
            sched.place(&pod("2", "1Gi")),
            Err(
                "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {compute-optimized: true}."
                    .to_owned()
            )
        );
        let mut selective = pod("100m", "2Gi");
        selective["nodeSelector"] = json!({"pool": "tainted"});
        assert_eq!(
            sched.place(&selective),
            Err("0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {compute-optimized: true}.".to_owned())
        );
    }

    #[test]
    fn bound_pods_count_and_pod_slots_run_out() {
        let nodes = [node("a", "4", "8Gi", None)];
        let bound: Vec<Object> = (0..2)
            .map(|i| {
                Arc::new(json!({"metadata": {"name": format!("p{i}")},
                    "spec": {"nodeName": "a", "containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]},
                    "status": {"phase": "Running"}}))
            })
            .collect();
        let mut sched = Scheduler::new(&nodes, &bound);
        assert_eq!(sched.place(&pod("1", "1Gi")), Ok("a".to_owned()));
        // Three slots, three pods: CPU is left but no slot.
        assert_eq!(
            sched.place(&pod("100m", "1Mi")),
            Err("0/1 nodes are available: 1 Too many pods.".to_owned())
        );
    }
}
