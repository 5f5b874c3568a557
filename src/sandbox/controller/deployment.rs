//! The Deployment controller: a ReplicaSet per pod template (with
//! revisions and rollbacks), rolling between them within maxSurge and
//! maxUnavailable (or all at once, Recreate), its status and conditions as
//! the real controller writes them.

use std::time::Duration;

use serde_json::{Value, json};

use super::{
    Controllers, fenceposts, i, owner_ref, resource, s, same_template, strip_times, template_hash,
    uid, unavailable_count,
};
use crate::sandbox::store::{Object, Part, key_of, now_rfc3339};

impl Controllers {
    // The steps of the real deployment controller, in its order: they read
    // best as one function.
    #[allow(clippy::too_many_lines)]
    pub(super) fn deployment(&mut self, d: &Value, all_rs: &[Object]) {
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
            // As the real controller sizes a new ReplicaSet: up to desired,
            // within the surge the old ones leave; an event only for a
            // scale that happens (never "from 0 to 0").
            let old_pods: i64 = all_rs.iter().map(|rs| i(rs, "/spec/replicas")).sum();
            let start = (desired + surge - old_pods).clamp(0, desired);
            new_rs = self.new_replica_set(d, &template, &hash, max_revision + 1, start);
            if new_rs.is_some() && start > 0 {
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
}
