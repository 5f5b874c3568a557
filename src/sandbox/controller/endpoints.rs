//! The Endpoints controller: each Service's ready pods, on its ports.

use serde_json::{Value, json};

use super::{Controllers, ready, resource, s, uid};
use crate::sandbox::select::LabelSelector;
use crate::sandbox::store::{Object, Part, key_of};

impl Controllers {
    /// Keeps each Service's Endpoints: the ready pods its selector matches,
    /// with their IPs and nodes, on the Service's ports.
    pub(super) fn endpoints(&self) {
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
