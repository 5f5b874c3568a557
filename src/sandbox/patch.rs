//! Patches: JSON merge (RFC 7386) and JSON patch (RFC 6902) through the
//! json-patch crate, and strategic merge as kubectl sends it: lists with a
//! merge key merge element by element, directives (`$patch`,
//! `$setElementOrder/..`, `$retainKeys`, `$deleteFromPrimitiveList/..`)
//! are applied, never stored.

use serde_json::{Map, Value};

use super::error::ApiError;
use crate::model::manifest::{list_context as context, merge_key};

/// The kinds of patch, by Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
    /// `application/json-patch+json`.
    Json,
    /// `application/apply-patch+yaml` (server-side apply: a strategic merge
    /// of the applied configuration, with field ownership, in `apply`).
    Apply,
}

impl PatchType {
    /// The patch type of a Content-Type.
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        let ct = ct.split(';').next().unwrap_or_default().trim();
        Some(match ct {
            "application/merge-patch+json" => PatchType::Merge,
            "application/strategic-merge-patch+json" => PatchType::Strategic,
            "application/json-patch+json" => PatchType::Json,
            "application/apply-patch+yaml" | "application/apply-patch+json" => PatchType::Apply,
            _ => return None,
        })
    }
}

/// Applies `patch` to `target`.
pub fn apply(kind: PatchType, target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    match kind {
        PatchType::Merge => {
            json_patch::merge(target, patch);
            Ok(())
        }
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            json_patch::patch(target, &ops).map_err(|e| ApiError {
                code: 422,
                reason: "Invalid",
                message: format!("the JSON patch could not be applied: {e}"),
                details: None,
            })
        }
        PatchType::Strategic | PatchType::Apply => {
            strategic(target, patch, "");
            Ok(())
        }
    }
}

fn strategic(target: &mut Value, patch: &Value, ctx: &str) {
    let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) else {
        *target = strip(patch);
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        *target = strip(patch);
        return;
    }
    if let Some(keep) = p.get("$retainKeys").and_then(Value::as_array) {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        t.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (key, value) in p {
        if let Some(list) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(items), Some(remove)) = (
                t.get_mut(list).and_then(Value::as_array_mut),
                value.as_array(),
            ) {
                items.retain(|i| !remove.contains(i));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                t.remove(key);
            }
            Value::Object(_) => {
                let entry = t
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                strategic(entry, value, ctx);
            }
            Value::Array(items) => match merge_key(ctx, key) {
                Some(mk) if items.iter().all(Value::is_object) => {
                    let entry = t
                        .entry(key.clone())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    merge_list(entry, items, mk, context(key));
                }
                _ if key == "finalizers" => {
                    let entry = t
                        .entry(key.clone())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Some(existing) = entry.as_array_mut() {
                        for i in items {
                            if !existing.contains(i) {
                                existing.push(i.clone());
                            }
                        }
                    }
                }
                _ => {
                    t.insert(key.clone(), strip(value));
                }
            },
            scalar => {
                t.insert(key.clone(), scalar.clone());
            }
        }
    }
}

fn merge_list(target: &mut Value, patch: &[Value], key: &str, ctx: &str) {
    if !target.is_array() {
        *target = Value::Array(Vec::new());
    }
    let Some(list) = target.as_array_mut() else {
        return;
    };
    for item in patch {
        let id = item.get(key);
        let directive = item.get("$patch").and_then(Value::as_str);
        let pos = list.iter().position(|e| id.is_some() && e.get(key) == id);
        match (pos, directive) {
            (Some(i), Some("delete")) => {
                list.remove(i);
            }
            (None, Some("delete")) => {}
            (Some(i), Some("replace")) => list[i] = strip(item),
            (Some(i), _) => strategic(&mut list[i], item, ctx),
            (None, _) => list.push(strip(item)),
        }
    }
}

/// A patch value with its directives removed.
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_image_keeps_the_other_containers() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.24", "ports": [{"containerPort": 80}]},
            {"name": "side", "image": "busybox:1"}]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
            "containers": [{"image": "nginx:1.26", "name": "web"}]}}}});
        apply(PatchType::Strategic, &mut d, &patch).expect("patch");
        assert_eq!(
            d.pointer("/spec/template/spec/containers/0/image"),
            Some(&json!("nginx:1.26"))
        );
        assert_eq!(
            d.pointer("/spec/template/spec/containers/0/ports/0/containerPort"),
            Some(&json!(80))
        );
        assert_eq!(
            d.pointer("/spec/template/spec/containers/1/name"),
            Some(&json!("side"))
        );
        assert!(
            d.to_string().find('$').is_none(),
            "no directive stored: {d}"
        );
    }

    #[test]
    fn selector_patches_and_deletions() {
        let mut svc = json!({"spec": {"selector": {"app": "backend-api", "color": "blue"},
            "ports": [{"port": 80, "targetPort": 3000}]}});
        apply(
            PatchType::Strategic,
            &mut svc,
            &json!({"spec": {"selector": {"color": "green"}}}),
        )
        .expect("patch");
        assert_eq!(
            svc.pointer("/spec/selector"),
            Some(&json!({"app": "backend-api", "color": "green"}))
        );
        apply(
            PatchType::Strategic,
            &mut svc,
            &json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}),
        )
        .expect("patch");
        assert_eq!(
            svc.pointer("/spec/ports"),
            Some(&json!([{"port": 80, "targetPort": 8080}]))
        );
        apply(
            PatchType::Merge,
            &mut svc,
            &json!({"spec": {"selector": {"color": null}}}),
        )
        .expect("patch");
        assert_eq!(
            svc.pointer("/spec/selector"),
            Some(&json!({"app": "backend-api"}))
        );
        apply(
            PatchType::Json,
            &mut svc,
            &json!([{"op": "replace", "path": "/spec/selector/app", "value": "x"}]),
        )
        .expect("patch");
        assert_eq!(svc.pointer("/spec/selector/app"), Some(&json!("x")));
        assert_eq!(
            apply(
                PatchType::Json,
                &mut svc,
                &json!([{"op": "remove", "path": "/nope"}])
            )
            .map_err(|e| e.code),
            Err(422)
        );
    }
}
