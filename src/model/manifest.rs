//! Manifests: the YAML documents of a `[[manifests]]` set, read with the
//! file and line of each, ordered as they must be applied, and the diff
//! of a live object against what a server-side dry run says it would
//! become. Pure: the files' text comes in, no I/O here.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// One document of a manifest file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The file it is in, as the operator named it.
    pub file: String,
    /// The line its first line is on (1-based).
    pub line: usize,
    /// `apps/v1`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, if it says.
    pub namespace: Option<String>,
    /// The object, as written (the colour substituted).
    pub object: Value,
}

impl Document {
    /// `Deployment iworkz-production/backend-api-green`.
    pub fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    /// Where it is written: `manifests/backend-api.yaml:12`.
    pub fn place(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// A document that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    /// The file.
    pub file: String,
    /// The line, when known.
    pub line: Option<usize>,
    /// What is wrong, and what to do.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// The placeholder a colour manifest's files carry: the idle colour.
pub const COLOUR_PLACEHOLDER: &str = "${COLOR}";

/// The placeholder for the live colour (what the Services select, what
/// the HPA scales): unchanged by applying the idle colour.
pub const LIVE_COLOUR_PLACEHOLDER: &str = "${LIVE_COLOR}";

/// The documents of one file's text, the colours (idle, live) put for
/// `${COLOR}` and `${LIVE_COLOR}` when given. Empty documents (comments
/// only) are skipped.
pub fn parse_file(
    file: &str,
    text: &str,
    colours: Option<(&str, &str)>,
) -> Result<Vec<Document>, ManifestError> {
    let text = match colours {
        Some((idle, live)) => text
            .replace(LIVE_COLOUR_PLACEHOLDER, live)
            .replace(COLOUR_PLACEHOLDER, idle),
        None => text.to_owned(),
    };
    let mut docs = Vec::new();
    for (start, body) in split_documents(&text) {
        let meaningful = body
            .lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
        if !meaningful {
            continue;
        }
        let value: Value = serde_yaml_ng::from_str(&body).map_err(|e| ManifestError {
            file: file.to_owned(),
            line: Some(start + e.location().map_or(0, |l| l.line().saturating_sub(1))),
            message: format!("not valid YAML: {}", strip_location(&e.to_string())),
        })?;
        docs.push(document(file, start, value)?);
    }
    Ok(docs)
}

/// The documents of a text, each with the line it starts on: split at the
/// `---` lines.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut start = 1;
    let mut body = String::new();
    for (i, line) in text.lines().enumerate() {
        let is_marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_marker {
            out.push((start, std::mem::take(&mut body)));
            // What follows the marker on its line (`--- {kind: …}`) is
            // the next document's first line.
            let rest = line.get(3..).unwrap_or_default().trim();
            if rest.is_empty() || rest.starts_with('#') {
                start = i + 2;
            } else {
                start = i + 1;
                body.push_str(rest);
                body.push('\n');
            }
            continue;
        }
        if line == "..." || line.starts_with("... ") || line.starts_with('%') {
            // The end of a document, or a directive: no content.
            continue;
        }
        body.push_str(line);
        body.push('\n');
    }
    out.push((start, body));
    out
}

/// serde_yaml's message without its own "at line N column M" (the line
/// is given from the file's start instead).
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn document(file: &str, line: usize, object: Value) -> Result<Document, ManifestError> {
    let err = |message: String| ManifestError {
        file: file.to_owned(),
        line: Some(line),
        message,
    };
    if !object.is_object() {
        return Err(err(
            "a document must be a Kubernetes object (a mapping with apiVersion, kind and metadata)"
                .into(),
        ));
    }
    let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
    let Some(api_version) = text("/apiVersion") else {
        return Err(err("the document has no apiVersion".into()));
    };
    let Some(kind) = text("/kind") else {
        return Err(err("the document has no kind".into()));
    };
    let Some(name) = text("/metadata/name").filter(|n| !n.is_empty()) else {
        return Err(err(format!(
            "the {kind} has no metadata.name (generateName cannot be applied)"
        )));
    };
    if kind.ends_with("List") && object.get("items").is_some() {
        return Err(err(format!(
            "a {kind} cannot be applied as one object: write its items as documents"
        )));
    }
    for (pointer, field) in [
        ("/metadata/resourceVersion", "metadata.resourceVersion"),
        ("/metadata/uid", "metadata.uid"),
        ("/metadata/managedFields", "metadata.managedFields"),
    ] {
        if object.pointer(pointer).is_some() {
            return Err(err(format!(
                "the {kind} {name} carries {field}, which is the server's: remove it (an object exported with `kubectl get -o yaml` needs its server fields removed)"
            )));
        }
    }
    Ok(Document {
        file: file.to_owned(),
        line,
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        namespace: text("/metadata/namespace").map(str::to_owned),
        object,
    })
}

/// Where a kind goes in the order of applying: what others refer to
/// first (Namespaces, then configuration and Services), workloads, then
/// what refers to workloads (HPAs), then everything else.
pub fn apply_rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "ServiceAccount" | "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => 1,
        "ConfigMap" | "Secret" => 2,
        "Service" => 3,
        "Deployment" | "StatefulSet" | "DaemonSet" => 4,
        "HorizontalPodAutoscaler" => 5,
        _ => 6,
    }
}

/// Sorts documents into the order of applying; within a kind, as written.
pub fn in_apply_order(docs: &mut [Document]) {
    docs.sort_by_key(|d| apply_rank(&d.kind));
}

/// The key that identifies elements of the list `field` (under a map of
/// kind `parent`), as strategic merge and server-side apply use it.
pub fn merge_key(parent: &str, field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => "name",
        "ports" if parent == "container" => "containerPort",
        "ports" => "port",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" | "addresses" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        _ => return None,
    })
}

/// What the maps inside the list `field` are, for merge keys that depend
/// on it (container ports).
pub fn list_context(field: &str) -> &'static str {
    match field {
        "containers" | "initContainers" | "ephemeralContainers" => "container",
        _ => "",
    }
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldChange {
    /// A field the object gains.
    Added {
        /// `spec.template.spec.containers[web].image`.
        path: String,
        /// The value, as YAML on one line (masked in a Secret).
        value: String,
    },
    /// A field the object loses.
    Removed {
        /// Its path.
        path: String,
        /// The value it had.
        value: String,
    },
    /// A field whose value changes.
    Changed {
        /// Its path.
        path: String,
        /// The value now.
        before: String,
        /// The value after.
        after: String,
    },
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldChange::Added { path, value } => write!(f, "+ {path}: {value}"),
            FieldChange::Removed { path, value } => write!(f, "- {path}: {value}"),
            FieldChange::Changed {
                path,
                before,
                after,
            } => write!(f, "~ {path}: {before} → {after}"),
        }
    }
}

/// What applying a document does to its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectDiff {
    /// It does not exist: created with these fields.
    Created(Vec<FieldChange>),
    /// It exists and these fields change.
    Changed(Vec<FieldChange>),
    /// It exists as the files say.
    Unchanged,
}

impl ObjectDiff {
    /// `created`, `changed`, `unchanged`.
    pub fn word(&self) -> &'static str {
        match self {
            ObjectDiff::Created(_) => "created",
            ObjectDiff::Changed(_) => "changed",
            ObjectDiff::Unchanged => "unchanged",
        }
    }

    /// The field changes.
    pub fn fields(&self) -> &[FieldChange] {
        match self {
            ObjectDiff::Created(f) | ObjectDiff::Changed(f) => f,
            ObjectDiff::Unchanged => &[],
        }
    }
}

/// Fields the server keeps for itself: never a change of the operator's.
const SERVER_FIELDS: [&str; 7] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
];

/// Annotations the server or kubectl write.
const SERVER_ANNOTATIONS: [&str; 2] = [
    "deployment.kubernetes.io/revision",
    "kubectl.kubernetes.io/last-applied-configuration",
];

/// The diff of `live` (None: not there) against `after`, the server's
/// dry-run answer. Status and the server's own metadata are left out; a
/// Secret's values are never shown, only whether they change.
pub fn diff(live: Option<&Value>, after: &Value) -> ObjectDiff {
    let secret = after.get("kind").and_then(Value::as_str) == Some("Secret");
    let after_fields = flatten(after);
    let Some(live) = live else {
        let fields = after_fields
            .iter()
            .map(|(path, v)| FieldChange::Added {
                path: path.clone(),
                value: shown(path, v, secret),
            })
            .collect();
        return ObjectDiff::Created(fields);
    };
    let before_fields = flatten(live);
    let mut changes = Vec::new();
    for (path, before) in &before_fields {
        match after_fields.get(path) {
            None => changes.push(FieldChange::Removed {
                path: path.clone(),
                value: shown(path, before, secret),
            }),
            Some(after) if after != before => changes.push(FieldChange::Changed {
                path: path.clone(),
                before: shown(path, before, secret),
                after: if secret && is_secret_value(path) {
                    "(hidden, changed)".into()
                } else {
                    one_line(after)
                },
            }),
            Some(_) => {}
        }
    }
    for (path, after) in &after_fields {
        if !before_fields.contains_key(path) {
            changes.push(FieldChange::Added {
                path: path.clone(),
                value: shown(path, after, secret),
            });
        }
    }
    changes.sort_by(|a, b| path_of(a).cmp(path_of(b)));
    if changes.is_empty() {
        ObjectDiff::Unchanged
    } else {
        ObjectDiff::Changed(changes)
    }
}

fn path_of(c: &FieldChange) -> &str {
    match c {
        FieldChange::Added { path, .. }
        | FieldChange::Removed { path, .. }
        | FieldChange::Changed { path, .. } => path,
    }
}

fn is_secret_value(path: &str) -> bool {
    path.starts_with("data.") || path.starts_with("stringData.")
}

fn shown(path: &str, v: &Value, secret: bool) -> String {
    if secret && is_secret_value(path) {
        "(hidden)".into()
    } else {
        one_line(v)
    }
}

fn one_line(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An object's fields, leaf by leaf, by path: list elements with a merge
/// key by that key (`containers[web]`), others by index; status and the
/// server's metadata left out.
pub fn flatten(object: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let Some(map) = object.as_object() else {
        return out;
    };
    for (key, value) in map {
        match key.as_str() {
            "status" => {}
            "metadata" => {
                let Some(meta) = value.as_object() else {
                    continue;
                };
                for (k, v) in meta {
                    if SERVER_FIELDS.contains(&k.as_str()) {
                        continue;
                    }
                    if k == "annotations" {
                        let Some(a) = v.as_object() else { continue };
                        for (name, text) in a {
                            if !SERVER_ANNOTATIONS.contains(&name.as_str()) {
                                out.insert(format!("metadata.annotations.{name}"), text.clone());
                            }
                        }
                        continue;
                    }
                    leaves(v, k, "", &format!("metadata.{k}"), &mut out);
                }
            }
            _ => leaves(value, key, "", key, &mut out),
        }
    }
    out
}

fn leaves(v: &Value, field: &str, ctx: &str, path: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                leaves(child, k, list_context(field), &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let key = merge_key(ctx, field).filter(|k| items.iter().all(|i| i.get(*k).is_some()));
            for (i, item) in items.iter().enumerate() {
                let id = match key.and_then(|k| item.get(k)) {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => i.to_string(),
                };
                let element = format!("{path}[{id}]");
                match item {
                    Value::Object(_) => leaves(item, field, ctx, &element, out),
                    scalar => {
                        out.insert(element, scalar.clone());
                    }
                }
            }
        }
        other => {
            out.insert(path.to_owned(), other.clone());
        }
    }
}

/// Counts by outcome: "2 created, 1 changed, 6 unchanged".
pub fn summary(diffs: &[&ObjectDiff]) -> String {
    let count = |word: &str| diffs.iter().filter(|d| d.word() == word).count();
    format!(
        "{} created, {} changed, {} unchanged",
        count("created"),
        count("changed"),
        count("unchanged")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TWO: &str = "# the web tier\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-${COLOR}\n  namespace: prod\nspec:\n  replicas: 3\n";

    #[test]
    fn documents_carry_their_line_and_colour() {
        let docs = parse_file("web.yaml", TWO, Some(("green", "blue"))).expect("parses");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].place(), "web.yaml:1");
        assert_eq!(docs[1].place(), "web.yaml:10");
        assert_eq!(docs[1].label(), "Deployment prod/web-green");
        let mut docs = docs;
        docs.reverse();
        in_apply_order(&mut docs);
        assert_eq!(docs[0].kind, "Service");
    }

    #[test]
    fn broken_yaml_names_its_line_in_the_file() {
        let broken = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n data: [\n";
        let e = parse_file("cm.yaml", broken, None).expect_err("broken");
        assert_eq!(e.file, "cm.yaml");
        assert_eq!(e.line, Some(10), "{e}");
        assert!(
            e.to_string().starts_with("cm.yaml:10: not valid YAML"),
            "{e}"
        );
        let nameless = "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n";
        let e = parse_file("cm.yaml", nameless, None).expect_err("no name");
        assert!(e.message.contains("no metadata.name"), "{e}");
    }

    #[test]
    fn a_document_may_start_on_its_marker_and_server_fields_are_refused() {
        let text = "--- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n--- # b\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n...\n";
        let docs = parse_file("cm.yaml", text, None).expect("parses");
        let names: Vec<(&str, usize)> = docs.iter().map(|d| (d.name.as_str(), d.line)).collect();
        assert_eq!(names, [("a", 1), ("b", 3)]);
        let exported =
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  resourceVersion: \"42\"\n";
        let e = parse_file("cm.yaml", exported, None).expect_err("server field");
        assert!(e.message.contains("metadata.resourceVersion"), "{e}");
        let list_kind = "apiVersion: example.io/v1\nkind: ShoppingList\nmetadata:\n  name: a\n";
        assert!(
            parse_file("l.yaml", list_kind, None).is_ok(),
            "a kind named …List is not a List"
        );
    }

    #[test]
    fn the_diff_is_field_by_field_and_hides_secrets() {
        let live = json!({"kind": "Deployment", "metadata": {"name": "web", "resourceVersion": "7",
                "annotations": {"deployment.kubernetes.io/revision": "2"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "web:1"}]}}},
            "status": {"replicas": 3}});
        let after = json!({"kind": "Deployment", "metadata": {"name": "web", "resourceVersion": "7", "labels": {"tier": "front"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "web:2"}]}}}});
        let d = diff(Some(&live), &after);
        let lines: Vec<String> = d.fields().iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "+ metadata.labels.tier: front",
                "~ spec.template.spec.containers[web].image: web:1 → web:2"
            ]
        );
        assert_eq!(diff(Some(&live), &live), ObjectDiff::Unchanged);
        let secret =
            |v: &str| json!({"kind": "Secret", "metadata": {"name": "s"}, "data": {"PASSWORD": v}});
        let d = diff(Some(&secret("aHVudGVyMg==")), &secret("c2VjcmV0"));
        let text = d.fields()[0].to_string();
        assert_eq!(text, "~ data.PASSWORD: (hidden) → (hidden, changed)");
        assert!(matches!(diff(None, &secret("x")), ObjectDiff::Created(_)));
    }
}
