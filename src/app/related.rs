//! What the detail view shows above an object's YAML: the objects related
//! to it (a Deployment's ReplicaSets and their pods, the Services that
//! route to it and the HPA that scales it; a pod's ReplicaSet, Deployment
//! and Services; a Service's pods, ready or not; a node's pods) and its
//! events (by involved object, newest first), from what the cluster
//! source already holds: nothing more is fetched.

use crate::model::cluster::{ClusterState, EventRow, ObjectRef, PodRow};

use super::App;

/// Events shown, at most.
const EVENTS: usize = 12;
/// Related objects of one kind shown, at most (the rest are counted).
const EACH: usize = 10;

/// One related object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedObject {
    /// How it relates (`ReplicaSet`, `Pod`, `routed by Service` ...).
    pub how: String,
    /// Its name.
    pub name: String,
    /// Its state in a few words.
    pub state: String,
}

/// What is related to an object, and its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Related {
    /// Related objects, in the order shown.
    pub objects: Vec<RelatedObject>,
    /// Of a kind cut at [`EACH`]: how many more.
    pub more: usize,
    /// Its events, newest first.
    pub events: Vec<EventRow>,
}

fn pod_state(p: &PodRow) -> String {
    format!(
        "{} {}/{} ready, {} restarts",
        p.status, p.ready, p.containers, p.restarts
    )
}

/// The pods of a namespace whose labels every `key=value` matches.
fn selected<'a>(c: &'a ClusterState, ns: &str, selector: &[(String, String)]) -> Vec<&'a PodRow> {
    if selector.is_empty() {
        return Vec::new();
    }
    c.pods
        .values()
        .filter(|p| p.namespace == ns && p.matches(selector))
        .collect()
}

impl Related {
    /// Adds the objects of one kind, at most [`EACH`] (the rest counted).
    fn add(&mut self, how: &str, items: Vec<(String, String)>) {
        self.more += items.len().saturating_sub(EACH);
        self.objects.extend(
            items
                .into_iter()
                .take(EACH)
                .map(|(name, state)| RelatedObject {
                    how: how.to_owned(),
                    name,
                    state,
                }),
        );
    }
}

/// A Deployment's ReplicaSets, their pods, its Services and HPA; returns
/// its ReplicaSets' `Kind/name`, whose events are its too.
fn of_deployment(c: &ClusterState, ns: &str, name: &str, r: &mut Related) -> Vec<String> {
    let sets: Vec<_> = c
        .replica_sets
        .values()
        .filter(|s| s.namespace == ns && s.owner.as_deref() == Some(name))
        .collect();
    let owned = |p: &&PodRow| {
        p.namespace == ns
            && sets.iter().any(|s| {
                p.name
                    .strip_prefix(&s.name)
                    .is_some_and(|r| r.starts_with('-'))
            })
    };
    let pods: Vec<&PodRow> = c.pods.values().filter(owned).collect();
    r.add(
        "ReplicaSet",
        sets.iter()
            .map(|s| {
                let revision = s.revision.map_or_else(|| "?".to_owned(), |v| v.to_string());
                let tag = crate::model::rollout::image_tag(&s.image);
                (
                    s.name.clone(),
                    format!(
                        "revision {revision} · {}/{} ready · {tag}",
                        s.ready, s.desired
                    ),
                )
            })
            .collect(),
    );
    r.add(
        "Pod",
        pods.iter()
            .map(|p| (p.name.clone(), pod_state(p)))
            .collect(),
    );
    let services = c
        .services
        .values()
        .filter(|s| s.namespace == ns && !s.selector.is_empty())
        .filter(|s| pods.iter().any(|p| p.matches(&s.selector)))
        .map(|s| {
            let ready = selected(c, ns, &s.selector)
                .iter()
                .filter(|p| p.is_ready())
                .count();
            (s.name.clone(), format!("{ready} ready pods behind it"))
        })
        .collect();
    r.add("routed by Service", services);
    let hpas = c
        .hpas
        .values()
        .filter(|h| h.namespace == ns && h.target_kind == "Deployment" && h.target == name)
        .map(|h| {
            (
                h.name.clone(),
                format!("{} to {} replicas, now {}", h.min, h.max, h.current),
            )
        })
        .collect();
    r.add("scaled by HPA", hpas);
    sets.iter()
        .map(|s| format!("ReplicaSet/{}", s.name))
        .collect()
}

/// A pod's ReplicaSet, Deployment, node and Services.
fn of_pod(c: &ClusterState, ns: &str, name: &str, r: &mut Related) {
    let set = c.replica_sets.values().find(|s| {
        s.namespace == ns
            && name
                .strip_prefix(&s.name)
                .is_some_and(|r| r.starts_with('-'))
    });
    if let Some(s) = set {
        r.add(
            "owned by ReplicaSet",
            vec![(s.name.clone(), format!("{}/{} ready", s.ready, s.desired))],
        );
        if let Some(d) = s
            .owner
            .as_ref()
            .and_then(|d| c.deployments.get(&format!("{ns}/{d}")))
        {
            r.add(
                "of Deployment",
                vec![(d.name.clone(), format!("{}/{} ready", d.ready, d.desired))],
            );
        }
    }
    let Some(p) = c.pods.get(&format!("{ns}/{name}")) else {
        return;
    };
    if !p.node.is_empty() {
        r.add("on Node", vec![(p.node.clone(), String::new())]);
    }
    let endpoint = if p.is_ready() {
        "an endpoint"
    } else {
        "not an endpoint: not ready"
    };
    let services = c
        .services
        .values()
        .filter(|s| s.namespace == ns && !s.selector.is_empty() && p.matches(&s.selector))
        .map(|s| (s.name.clone(), endpoint.to_owned()))
        .collect();
    r.add("routed by Service", services);
}

impl App {
    /// What is related to `o`, and its events; empty before its cluster
    /// is listed.
    pub fn related(&self, o: &ObjectRef) -> Related {
        let Some(c) = self.store.cluster(&o.cluster) else {
            return Related::default();
        };
        let ns = o.namespace.as_deref().unwrap_or_default();
        let mut r = Related::default();
        let mut involved = vec![format!("{}/{}", o.kind, o.name)];
        match o.kind {
            "Deployment" => involved.extend(of_deployment(c, ns, &o.name, &mut r)),
            "Pod" => of_pod(c, ns, &o.name, &mut r),
            "Service" => {
                if let Some(s) = c.services.get(&format!("{ns}/{}", o.name)) {
                    let pods = selected(c, ns, &s.selector)
                        .into_iter()
                        .map(|p| {
                            let role = if p.is_ready() {
                                "endpoint"
                            } else {
                                "not ready"
                            };
                            (p.name.clone(), format!("{role} · {}", pod_state(p)))
                        })
                        .collect();
                    r.add("Pod", pods);
                }
            }
            "Node" => {
                let pods = c
                    .pods
                    .values()
                    .filter(|p| p.node == o.name)
                    .map(|p| (format!("{}/{}", p.namespace, p.name), pod_state(p)))
                    .collect();
                r.add("Pod", pods);
            }
            _ => {}
        }
        let mut events: Vec<EventRow> = c
            .events
            .values()
            .filter(|e| (o.kind == "Node" || e.namespace == ns) && involved.contains(&e.object))
            .cloned()
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.last));
        events.truncate(EVENTS);
        r.events = events;
        r
    }
}
