//! Server-side apply as the API server does it: every writer's fields are
//! recorded in `metadata.managedFields` (FieldsV1), an apply that would
//! change a field another manager owns is refused with 409 and the
//! managers it conflicts with (unless forced, when it takes them over), and
//! the fields a manager applied before and applies no more are removed.
//!
//! Lists whose elements have a merge key (containers by `name`, ports by
//! `containerPort`, ...) are owned element by element (`k:{"name":"web"}`),
//! other lists whole, as the server's atomic lists are.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::error::ApiError;
use super::patch::{self, PatchType};
use super::resource::Resource;
use super::store::now_rfc3339;
use crate::model::manifest::{list_context, merge_key};

/// A field's path in FieldsV1 tokens: `f:spec`, `k:{"name":"web"}`, and
/// `.` for a list element itself.
pub type FieldPath = Vec<String>;

/// The fields an object sets, as a manager comes to own them.
pub fn fields_of(object: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    let Some(map) = object.as_object() else {
        return out;
    };
    for (key, value) in map {
        match key.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                for owned in ["labels", "annotations", "finalizers", "ownerReferences"] {
                    if let Some(v) = value.get(owned) {
                        let mut path = vec!["f:metadata".to_owned(), format!("f:{owned}")];
                        walk(v, owned, "", &mut path, &mut out);
                    }
                }
            }
            _ => {
                let mut path = vec![format!("f:{key}")];
                walk(value, key, "", &mut path, &mut out);
            }
        }
    }
    out
}

fn walk(
    value: &Value,
    field: &str,
    ctx: &str,
    path: &mut FieldPath,
    out: &mut BTreeSet<FieldPath>,
) {
    match value {
        Value::Object(map) if !map.is_empty() && !is_atomic(path) => {
            for (k, v) in map {
                path.push(format!("f:{k}"));
                walk(v, k, list_context(field), path, out);
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => match merge_key(ctx, field) {
            Some(mk) if items.iter().all(|i| i.get(mk).is_some()) => {
                for item in items {
                    let key = json!({ mk: item.get(mk).cloned().unwrap_or(Value::Null) });
                    path.push(format!("k:{key}"));
                    path.push(".".to_owned());
                    out.insert(path.clone());
                    path.pop();
                    walk(item, field, ctx, path, out);
                    path.pop();
                }
            }
            _ => {
                out.insert(path.clone());
            }
        },
        _ => {
            out.insert(path.clone());
        }
    }
}

/// Maps the API owns whole (`+mapType=atomic`, `+structType=atomic`): a
/// Service's or a workload's `spec.selector`, a pod's `nodeSelector`.
fn is_atomic(path: &[String]) -> bool {
    path == ["f:spec", "f:selector"] || path.last().is_some_and(|t| t == "f:nodeSelector")
}

/// Where atomic maps sit, replaced whole by an apply that sets them.
const ATOMIC: [&str; 3] = [
    "/spec/selector",
    "/spec/template/spec/nodeSelector",
    "/spec/nodeSelector",
];

/// The value at `path` in `object`, if it is there.
pub fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let Some((token, rest)) = path.split_first() else {
        return Some(object);
    };
    if token == "." {
        return Some(object);
    }
    if let Some(field) = token.strip_prefix("f:") {
        return value_at(object.get(field)?, rest);
    }
    let key: Map<String, Value> = serde_json::from_str(token.strip_prefix("k:")?).ok()?;
    let item = object
        .as_array()?
        .iter()
        .find(|e| key.iter().all(|(k, v)| e.get(k) == Some(v)))?;
    value_at(item, rest)
}

/// Removes what `path` names from `object`: a field, or a list element.
fn remove_at(object: &mut Value, path: &[String]) {
    let Some((token, rest)) = path.split_first() else {
        return;
    };
    if let Some(field) = token.strip_prefix("f:") {
        if rest.is_empty() {
            if let Some(map) = object.as_object_mut() {
                map.remove(field);
            }
        } else if let Some(child) = object.get_mut(field) {
            remove_at(child, rest);
        }
        return;
    }
    let Some(key) = token
        .strip_prefix("k:")
        .and_then(|k| serde_json::from_str::<Map<String, Value>>(k).ok())
    else {
        return;
    };
    let Some(items) = object.as_array_mut() else {
        return;
    };
    let Some(i) = items
        .iter()
        .position(|e| key.iter().all(|(k, v)| e.get(k) == Some(v)))
    else {
        return;
    };
    if rest == ["."] {
        items.remove(i);
    } else if let Some(item) = items.get_mut(i) {
        remove_at(item, rest);
    }
}

/// A path as the API server prints it in a conflict:
/// `.spec.template.spec.containers[name="web"].image`.
pub fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for token in path {
        if let Some(field) = token.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(key) = token
            .strip_prefix("k:")
            .and_then(|k| serde_json::from_str::<Map<String, Value>>(k).ok())
        {
            let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let _ = write!(out, "[{}]", parts.join(","));
        }
    }
    out
}

/// A set of paths as FieldsV1.
pub fn to_fields_v1(fields: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for token in path {
            let entry = node
                .entry(token.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(next) = entry else {
                break;
            };
            node = next;
        }
    }
    Value::Object(root)
}

/// The paths of a FieldsV1 tree.
pub fn from_fields_v1(tree: &Value) -> BTreeSet<FieldPath> {
    fn go(node: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        let Some(map) = node.as_object() else {
            return;
        };
        if map.is_empty() && !path.is_empty() {
            out.insert(path.clone());
        }
        for (token, child) in map {
            path.push(token.clone());
            go(child, path, out);
            path.pop();
        }
    }
    let mut out = BTreeSet::new();
    go(tree, &mut Vec::new(), &mut out);
    out
}

/// One entry of `metadata.managedFields`.
#[derive(Debug, Clone)]
struct Managed {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: Option<String>,
    fields: BTreeSet<FieldPath>,
}

impl Managed {
    fn to_json(&self) -> Value {
        let mut v = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(&self.fields),
        });
        if let Some(sub) = &self.subresource {
            v["subresource"] = json!(sub);
        }
        v
    }
}

fn read_managed(object: &Value) -> Vec<Managed> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .map(|e| Managed {
                    manager: str_of(e, "manager"),
                    operation: str_of(e, "operation"),
                    api_version: str_of(e, "apiVersion"),
                    time: str_of(e, "time"),
                    subresource: e
                        .get("subresource")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    fields: e.get("fieldsV1").map(from_fields_v1).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn write_managed(object: &mut Value, managed: &[Managed]) {
    let entries: Vec<Value> = managed
        .iter()
        .filter(|m| !m.fields.is_empty())
        .map(Managed::to_json)
        .collect();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        if entries.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

/// The applied configuration, as the server reads it: its own
/// `managedFields` (which an apply may not set) dropped.
pub fn applied_config(mut config: Value) -> Value {
    if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    config
}

/// A new object's `managedFields`: `manager` owns every field it sets.
pub fn record_create(object: &mut Value, r: &Resource, manager: &str, operation: &str) {
    let fields = fields_of(object);
    let entry = Managed {
        manager: manager.to_owned(),
        operation: operation.to_owned(),
        api_version: r.api_version(),
        time: now_rfc3339(),
        subresource: None,
        fields,
    };
    write_managed(object, &[entry]);
}

/// Records an update (a PUT or a patch other than apply) by `manager`: it
/// comes to own every field it changed, which no one else owns any more.
pub fn record_update(
    previous: &Value,
    next: &mut Value,
    r: &Resource,
    manager: &str,
    subresource: Option<&str>,
) {
    let mut entries = read_managed(previous);
    let before = fields_of(previous);
    let after = fields_of(next);
    // A list element itself (`.`) changes hands only when it is new: an
    // update of one of its fields takes that field, not the element.
    let changed: BTreeSet<FieldPath> = after
        .iter()
        .filter(|p| {
            if p.last().is_some_and(|t| t == ".") {
                value_at(previous, p).is_none()
            } else {
                value_at(previous, p) != value_at(next, p)
            }
        })
        .cloned()
        .collect();
    let removed: BTreeSet<&FieldPath> = before.difference(&after).collect();
    if changed.is_empty() && removed.is_empty() {
        write_managed(next, &entries);
        return;
    }
    for m in &mut entries {
        m.fields
            .retain(|p| !changed.contains(p) && !removed.contains(p));
    }
    let time = now_rfc3339();
    match entries.iter_mut().find(|m| {
        m.manager == manager && m.operation == "Update" && m.subresource.as_deref() == subresource
    }) {
        Some(mine) => {
            mine.fields.extend(changed);
            mine.time = time;
        }
        None => entries.push(Managed {
            manager: manager.to_owned(),
            operation: "Update".into(),
            api_version: r.api_version(),
            time,
            subresource: subresource.map(str::to_owned),
            fields: changed,
        }),
    }
    write_managed(next, &entries);
}

/// Applies `config` to `current` as `manager`: 409 with every conflicting
/// manager unless `force`, which takes their fields over; the fields the
/// manager applied before and not now are removed (where no one else
/// owns them).
pub fn server_side(
    r: &Resource,
    name: &str,
    current: &mut Value,
    config: &Value,
    manager: &str,
    force: bool,
) -> Result<(), ApiError> {
    let mut entries = read_managed(current);
    let wanted = fields_of(config);
    let mut conflicts: Vec<(String, FieldPath)> = Vec::new();
    for path in &wanted {
        if path.last().is_some_and(|t| t == ".") {
            continue;
        }
        let live = value_at(current, path);
        if live.is_none() || live == value_at(config, path) {
            continue;
        }
        for m in &entries {
            let other = m.manager != manager || m.operation != "Apply";
            if other && m.fields.contains(path) {
                conflicts.push((print_manager(m), path.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(r, name, &conflicts));
    }
    if force {
        // Only the fields in conflict change hands; a value both set
        // alike stays shared.
        let taken: BTreeSet<&FieldPath> = conflicts.iter().map(|(_, p)| p).collect();
        for m in &mut entries {
            if m.manager != manager || m.operation != "Apply" {
                m.fields.retain(|p| !taken.contains(p));
            }
        }
    }
    let before = entries
        .iter()
        .find(|m| m.manager == manager && m.operation == "Apply")
        .map(|m| m.fields.clone())
        .unwrap_or_default();
    // Fields this manager let go of, which no one else holds: removed
    // (the deepest first, so an element goes after its fields).
    let mut dropped: Vec<&FieldPath> = before
        .iter()
        .filter(|p| !wanted.contains(*p))
        .filter(|p| {
            !entries
                .iter()
                .any(|m| (m.manager != manager || m.operation != "Apply") && m.fields.contains(*p))
        })
        .collect();
    dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let rv = current.pointer("/metadata/resourceVersion").cloned();
    patch::apply(PatchType::Apply, current, config)?;
    for pointer in ATOMIC {
        if let (Some(wanted), Some(slot)) = (config.pointer(pointer), current.pointer_mut(pointer))
        {
            *slot = wanted.clone();
        }
    }
    for path in dropped {
        remove_at(current, path);
    }
    if config.pointer("/metadata/resourceVersion").is_none()
        && let Some(rv) = rv
    {
        current["metadata"]["resourceVersion"] = rv;
    }
    let time = now_rfc3339();
    match entries
        .iter_mut()
        .find(|m| m.manager == manager && m.operation == "Apply")
    {
        Some(mine) => {
            if mine.fields != wanted {
                mine.time = time;
            }
            mine.fields = wanted;
        }
        None => entries.push(Managed {
            manager: manager.to_owned(),
            operation: "Apply".into(),
            api_version: r.api_version(),
            time,
            subresource: None,
            fields: wanted,
        }),
    }
    write_managed(current, &entries);
    Ok(())
}

/// A manager as the API server prints it in a conflict: `"ops"` for an
/// applier; an updater with its subresource, version and time
/// (`"kubectl" with subresource "scale" using apps/v1 at 2026-…Z`).
fn print_manager(m: &Managed) -> String {
    let mut out = format!("{:?}", m.manager);
    if let Some(sub) = &m.subresource {
        let _ = write!(out, " with subresource {sub:?}");
    }
    if m.operation == "Update" {
        let _ = write!(out, " using {}", m.api_version);
        if !m.time.is_empty() {
            let _ = write!(out, " at {}", m.time);
        }
    }
    out
}

/// 409 as the API server words a field-manager conflict: one conflict on
/// a line, several grouped by manager (sorted), a cause per field.
fn conflict_error(r: &Resource, name: &str, conflicts: &[(String, FieldPath)]) -> ApiError {
    let summary = if let [(manager, path)] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {manager}: {}",
            display_path(path)
        )
    } else {
        let mut by_manager: std::collections::BTreeMap<&str, Vec<String>> =
            std::collections::BTreeMap::new();
        for (m, p) in conflicts {
            by_manager
                .entry(m.as_str())
                .or_default()
                .push(display_path(p));
        }
        let mut lines = Vec::new();
        for (m, paths) in by_manager {
            lines.push(format!("conflicts with {m}:"));
            lines.extend(paths.into_iter().map(|p| format!("- {p}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(m, p)| {
            json!({"reason": "FieldManagerConflict",
                "message": format!("conflict with {m}"),
                "field": display_path(p)})
        })
        .collect();
    ApiError {
        code: 409,
        reason: "Conflict",
        message: summary,
        details: Some(json!({"name": name, "group": r.group, "kind": r.plural, "causes": causes})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> &'static Resource {
        Resource::of_kind("Deployment").expect("served")
    }

    fn config(image: &str, replicas: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": "web", "image": image, "ports": [{"containerPort": 3000}]}]}}}})
    }

    #[test]
    fn fields_v1_round_trips_and_keys_list_elements() {
        let fields = fields_of(&config("nginx:1", 3));
        let tree = to_fields_v1(&fields);
        assert_eq!(from_fields_v1(&tree), fields);
        let image = [
            "f:spec",
            "f:template",
            "f:spec",
            "f:containers",
            "k:{\"name\":\"web\"}",
            "f:image",
        ]
        .map(str::to_owned);
        assert!(fields.contains(image.as_slice()), "{tree}");
        assert_eq!(
            display_path(&image),
            ".spec.template.spec.containers[name=\"web\"].image"
        );
        assert_eq!(
            value_at(&config("nginx:1", 3), &image),
            Some(&json!("nginx:1"))
        );
    }

    #[test]
    fn another_managers_field_conflicts_unless_forced() {
        let r = deployment();
        let mut live = config("nginx:1", 3);
        record_create(&mut live, r, "touban", "Apply");
        server_side(r, "web", &mut live, &config("nginx:1", 3), "touban", false).expect("own");
        let other = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"}, "spec": {"replicas": 5}});
        server_side(r, "web", &mut live, &other, "ops", true).expect("forced");
        let e = server_side(
            r,
            "web",
            &mut live.clone(),
            &config("nginx:1", 3),
            "touban",
            false,
        )
        .expect_err("conflict");
        assert_eq!(e.code, 409);
        assert_eq!(
            e.message,
            "Apply failed with 1 conflict: conflict with \"ops\": .spec.replicas"
        );
        // The same value as the other manager's is no conflict: shared.
        server_side(r, "web", &mut live, &config("nginx:2", 5), "touban", false).expect("shared");
        assert_eq!(live.pointer("/spec/replicas"), Some(&json!(5)));
    }

    #[test]
    fn a_selector_is_applied_whole_and_conflicts_group_by_manager() {
        let svc = Resource::of_kind("Service").expect("served");
        let mut live = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web", "color": "blue"}, "type": "ClusterIP"}});
        let applied = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}}});
        server_side(svc, "web", &mut live, &applied, "touban", false).expect("apply");
        assert_eq!(
            live.pointer("/spec/selector"),
            Some(&json!({"app": "web"})),
            "atomic: replaced whole"
        );
        // Two managers own what a third would change: grouped, sorted.
        let r = deployment();
        let mut d = config("nginx:1", 3);
        record_create(&mut d, r, "b-team", "Apply");
        let other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 3}});
        server_side(r, "web", &mut d, &other, "a-team", false).expect("shared");
        let e = server_side(r, "web", &mut d, &config("nginx:2", 4), "touban", false)
            .expect_err("conflicts");
        assert_eq!(
            e.message,
            "Apply failed with 3 conflicts: conflicts with \"a-team\":\n- .spec.replicas\nconflicts with \"b-team\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image"
        );
    }

    #[test]
    fn a_field_no_longer_applied_is_removed() {
        let r = deployment();
        let mut live = config("nginx:1", 3);
        record_create(&mut live, r, "touban", "Apply");
        let mut less = config("nginx:1", 3);
        if let Some(labels) = less
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.clear();
        }
        server_side(r, "web", &mut live, &less, "touban", false).expect("apply");
        assert_eq!(live.pointer("/metadata/labels/app"), None, "{live}");
    }
}
