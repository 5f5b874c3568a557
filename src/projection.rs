//! Kubernetes objects projected into the compact rows the console keeps:
//! only what the panes show and the rules read, never the whole object.
//!
//! One projection for the cluster source (what the console shows) and the
//! executor (what it plans from and verifies against), so both judge a
//! deployment by the same rows and the same rules. It imports only `model`
//! and the Kubernetes types: a leaf, like `model`.

use std::time::SystemTime;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Node, Pod, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::{Resource, ResourceExt};
use kube_quantity::ParsedQuantity;

use crate::model::cluster::{
    ConfigMapRow, DeploymentRow, EventRow, HpaRow, NodeRow, PodRow, ReplicaSetRow, ServiceRow,
    Utilisation,
};

pub fn node_row(n: &Node) -> NodeRow {
    let label = |k: &str| n.labels().get(k).cloned().unwrap_or_default();
    let group = [
        label("eks.amazonaws.com/nodegroup"),
        label("agentpool"),
        label("cloud.google.com/gke-nodepool"),
    ]
    .into_iter()
    .find(|g| !g.is_empty())
    .unwrap_or_default();
    let spec = n.spec.as_ref();
    NodeRow {
        name: n.name_any(),
        group,
        zone: label("topology.kubernetes.io/zone"),
        instance_type: label("node.kubernetes.io/instance-type"),
        ready: n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
        unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
        taints: spec
            .and_then(|s| s.taints.as_ref())
            .map(|t| {
                t.iter()
                    .map(|t| {
                        format!(
                            "{}={}:{}",
                            t.key,
                            t.value.clone().unwrap_or_default(),
                            t.effect
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
        allocatable: n
            .status
            .as_ref()
            .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))
            .map_or((0, 0), |m| {
                (millicores(m.get("cpu")), bytes(m.get("memory")))
            }),
    }
}

/// A CPU quantity in millicores (`250m` → 250, `2` → 2000); 0 when absent
/// or unreadable.
pub(crate) fn millicores(q: Option<&Quantity>) -> u64 {
    // In f64: the crate's integer forms refuse a milli scale.
    whole(
        q.and_then(|q| ParsedQuantity::try_from(q).ok())
            .and_then(|p| p.to_bytes_f64())
            .map(|cores| cores * 1000.0),
    )
}

/// A memory quantity in bytes (`512Mi`, `2G`); 0 when absent or
/// unreadable.
pub(crate) fn bytes(q: Option<&Quantity>) -> u64 {
    whole(
        q.and_then(|q| ParsedQuantity::try_from(q).ok())
            .and_then(|p| p.to_bytes_f64()),
    )
}

/// A non-negative finite amount, rounded; 0 otherwise.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(v: Option<f64>) -> u64 {
    v.filter(|v| v.is_finite() && *v >= 0.0)
        .map_or(0, |v| v.round() as u64)
}

/// What one pod of a template requests, over its containers.
fn requests(spec: Option<&k8s_openapi::api::core::v1::PodSpec>) -> (u64, u64) {
    spec.map_or((0, 0), |p| {
        p.containers
            .iter()
            .filter_map(|c| c.resources.as_ref()?.requests.as_ref())
            .fold((0, 0), |(cpu, mem), r| {
                (cpu + millicores(r.get("cpu")), mem + bytes(r.get("memory")))
            })
    })
}

pub fn deployment_row(d: &Deployment) -> DeploymentRow {
    let status = d.status.as_ref();
    let spec = d.spec.as_ref();
    DeploymentRow {
        namespace: d.namespace().unwrap_or_default(),
        name: d.name_any(),
        desired: spec.and_then(|s| s.replicas).unwrap_or(1),
        ready: status.and_then(|s| s.ready_replicas).unwrap_or(0),
        updated: status.and_then(|s| s.updated_replicas).unwrap_or(0),
        available: status.and_then(|s| s.available_replicas).unwrap_or(0),
        image: first_image(spec.and_then(|s| s.template.spec.as_ref())),
        color: d.labels().get("color").cloned(),
        progressing: status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Progressing"))
            .and_then(|c| c.reason.clone()),
        replicas: status.and_then(|s| s.replicas).unwrap_or(0),
        generation: d.metadata.generation.unwrap_or(0),
        observed_generation: status.and_then(|s| s.observed_generation).unwrap_or(0),
        app: d.labels().get("app").cloned(),
        revision: revision(d),
        created: created(d),
        restarted_at: spec
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(RESTARTED_AT))
            .cloned(),
        requests: requests(spec.and_then(|s| s.template.spec.as_ref())),
    }
}

/// The pod template annotation of `kubectl rollout restart`.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

fn created<K: Resource>(o: &K) -> Option<SystemTime> {
    o.meta()
        .creation_timestamp
        .as_ref()
        .map(|t| SystemTime::from(t.0))
}

fn revision<K: Resource>(o: &K) -> Option<u32> {
    o.meta()
        .annotations
        .as_ref()?
        .get("deployment.kubernetes.io/revision")?
        .parse()
        .ok()
}

fn first_image(spec: Option<&k8s_openapi::api::core::v1::PodSpec>) -> String {
    spec.and_then(|p| p.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

pub fn replica_set_row(r: &ReplicaSet) -> ReplicaSetRow {
    let spec = r.spec.as_ref();
    ReplicaSetRow {
        namespace: r.namespace().unwrap_or_default(),
        name: r.name_any(),
        owner: r
            .owner_references()
            .iter()
            .find(|o| o.kind == "Deployment")
            .map(|o| o.name.clone()),
        revision: revision(r),
        image: first_image(
            spec.and_then(|s| s.template.as_ref())
                .and_then(|t| t.spec.as_ref()),
        ),
        desired: spec.and_then(|s| s.replicas).unwrap_or(1),
        ready: r
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0),
        created: created(r),
    }
}

pub fn service_row(s: &Service) -> ServiceRow {
    ServiceRow {
        namespace: s.namespace().unwrap_or_default(),
        name: s.name_any(),
        app: s.labels().get("app").cloned(),
        selector: s
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}

pub fn hpa_row(h: &HorizontalPodAutoscaler) -> HpaRow {
    let spec = h.spec.as_ref();
    let status = h.status.as_ref();
    let target = |name: &str| {
        spec.and_then(|s| s.metrics.as_ref())
            .and_then(|m| {
                m.iter()
                    .filter_map(|m| m.resource.as_ref())
                    .find(|r| r.name == name)
            })
            .and_then(|r| r.target.average_utilization)
    };
    let current = |name: &str| {
        status
            .and_then(|s| s.current_metrics.as_ref())
            .and_then(|m| {
                m.iter()
                    .filter_map(|m| m.resource.as_ref())
                    .find(|r| r.name == name)
            })
            .and_then(|r| r.current.average_utilization)
    };
    HpaRow {
        namespace: h.namespace().unwrap_or_default(),
        name: h.name_any(),
        target_kind: spec
            .map(|s| s.scale_target_ref.kind.clone())
            .unwrap_or_default(),
        target: spec
            .map(|s| s.scale_target_ref.name.clone())
            .unwrap_or_default(),
        min: spec.and_then(|s| s.min_replicas).unwrap_or(1),
        max: spec.map_or(0, |s| s.max_replicas),
        current: status.and_then(|s| s.current_replicas).unwrap_or(0),
        desired: status.map_or(0, |s| s.desired_replicas),
        cpu: Utilisation {
            current: current("cpu"),
            target: target("cpu"),
        },
        memory: Utilisation {
            current: current("memory"),
            target: target("memory"),
        },
        last_scale: status
            .and_then(|s| s.last_scale_time.as_ref())
            .map(|t| SystemTime::from(t.0)),
        failing: status
            .and_then(|s| s.conditions.as_ref())
            .map(|c| {
                // AbleToScale and ScalingActive are healthy when True;
                // ScalingLimited when False.
                c.iter()
                    .filter(|c| (c.type_ == "ScalingLimited") == (c.status == "True"))
                    .map(|c| {
                        format!(
                            "{} {}: {}",
                            c.type_,
                            c.status,
                            c.reason.as_deref().unwrap_or("")
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

pub fn event_row(e: &CoreEvent) -> EventRow {
    EventRow {
        namespace: e.namespace().unwrap_or_default(),
        name: e.name_any(),
        warning: e.type_.as_deref() == Some("Warning"),
        reason: e.reason.clone().unwrap_or_default(),
        object: format!(
            "{}/{}",
            e.involved_object.kind.as_deref().unwrap_or(""),
            e.involved_object.name.as_deref().unwrap_or("")
        ),
        message: e.message.clone().unwrap_or_default(),
        count: e.count.unwrap_or(1),
        last: e
            .last_timestamp
            .as_ref()
            .map(|t| SystemTime::from(t.0))
            .or_else(|| e.event_time.as_ref().map(|t| SystemTime::from(t.0)))
            .or_else(|| created(e)),
    }
}

pub fn config_map_row(c: &ConfigMap) -> ConfigMapRow {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    c.data.hash(&mut h);
    c.binary_data
        .as_ref()
        .map(|b| b.iter().map(|(k, v)| (k, &v.0)).collect::<Vec<_>>())
        .hash(&mut h);
    ConfigMapRow {
        namespace: c.namespace().unwrap_or_default(),
        name: c.name_any(),
        keys: c.data.as_ref().map_or(0, std::collections::BTreeMap::len)
            + c.binary_data
                .as_ref()
                .map_or(0, std::collections::BTreeMap::len),
        hash: h.finish(),
    }
}

/// The status kubectl's STATUS column shows: a terminating pod, else the
/// first container waiting or terminated with a reason, else the phase.
/// What a pod is allowed for its start-up before "not ready" means
/// something: a minute to be scheduled, pull and start, then the slowest
/// container's probes (a startup probe's whole budget, a readiness probe's
/// initial delay and failures).
fn startup(p: &Pod) -> std::time::Duration {
    let probe = |pr: Option<&k8s_openapi::api::core::v1::Probe>| {
        pr.map_or(0, |pr| {
            let n = |v: Option<i32>, default: i32| i64::from(v.unwrap_or(default).max(0));
            n(pr.initial_delay_seconds, 0) + n(pr.period_seconds, 10) * n(pr.failure_threshold, 3)
        })
    };
    let slowest = p.spec.as_ref().map_or(0, |s| {
        s.containers
            .iter()
            .map(|c| probe(c.startup_probe.as_ref()) + probe(c.readiness_probe.as_ref()))
            .max()
            .unwrap_or(0)
    });
    std::time::Duration::from_secs(60 + u64::try_from(slowest.min(3600)).unwrap_or(0))
}

pub fn pod_row(p: &Pod) -> PodRow {
    let status = p.status.as_ref();
    let containers = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let waiting = containers.iter().find_map(|c| {
        let state = c.state.as_ref()?;
        state
            .waiting
            .as_ref()
            .and_then(|w| w.reason.clone())
            .or_else(|| state.terminated.as_ref().and_then(|t| t.reason.clone()))
    });
    let shown = if p.metadata.deletion_timestamp.is_some() {
        "Terminating".to_owned()
    } else {
        waiting.unwrap_or_else(|| {
            status
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Unknown".to_owned())
        })
    };
    let spec_containers = p.spec.as_ref().map_or(0, |s| s.containers.len());
    PodRow {
        namespace: p.namespace().unwrap_or_default(),
        name: p.name_any(),
        status: shown,
        ready: u16::try_from(containers.iter().filter(|c| c.ready).count()).unwrap_or(u16::MAX),
        containers: u16::try_from(spec_containers.max(containers.len())).unwrap_or(u16::MAX),
        restarts: u32::try_from(
            containers
                .iter()
                .map(|c| i64::from(c.restart_count))
                .sum::<i64>(),
        )
        .unwrap_or(0),
        node: p
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
        created: created(p),
        startup: startup(p),
        labels: p
            .labels()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ports: p
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|port| u16::try_from(port.container_port).ok())
            .collect(),
        container_names: p
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .map(|c| c.name.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_millicores_and_bytes() {
        let q = |s: &str| Quantity(s.to_owned());
        assert_eq!(millicores(Some(&q("250m"))), 250);
        assert_eq!(millicores(Some(&q("2"))), 2000);
        assert_eq!(millicores(Some(&q("1.5"))), 1500);
        assert_eq!(bytes(Some(&q("512Mi"))), 512 << 20);
        assert_eq!(bytes(Some(&q("2G"))), 2_000_000_000);
        assert_eq!(bytes(Some(&q("16Gi"))), 16 << 30);
        assert_eq!(millicores(Some(&q("lots"))), 0);
        assert_eq!(bytes(None), 0);
    }
}
