//! Applying a `[[manifests]]` set to a cluster: its files read (the idle
//! colour put in for a blue-green set), every document dry-run through a
//! server-side apply (field manager `touban`) and diffed against the live
//! object, then applied in dependency order, stopping at the first
//! failure, and the Deployments it changed followed until rolled out by
//! kubectl's rules.
//!
//! A field another manager owns is a conflict the server reports (409,
//! with the manager); forcing takes the field over and is its own choice.
//! A Deployment an HPA scales is applied without `spec.replicas`: the
//! HPA owns it, and the plan says so.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::{ApiResource, Scope};
use kube::{Client, core::GroupVersionKind};
use serde_json::Value;

use crate::config::platform::{Cluster, Manifests};
use crate::config::secret::mask_line;
use crate::model::manifest::{self, Document, ManifestError, ObjectDiff};
use crate::model::rollout::{RolloutState, rollout_state};

/// The field manager touban applies as.
pub const FIELD_MANAGER: &str = "touban";

/// The label a pruned set's objects carry: the set's name.
pub const SET_LABEL: &str = "touban.io/manifests";

/// Labels every document as the set's (for a set that prunes).
pub fn label_documents(docs: &mut [Document], set: &str) {
    for d in docs {
        let Some(meta) = d.object.get_mut("metadata").and_then(Value::as_object_mut) else {
            continue;
        };
        let labels = meta
            .entry("labels")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if !labels.is_object() {
            *labels = Value::Object(serde_json::Map::new());
        }
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(SET_LABEL.to_owned(), Value::String(set.to_owned()));
        }
    }
}

/// An object of the set's label that its files no longer hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    /// `apps/v1`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// Its namespace (`None`: cluster-scoped).
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
}

impl Orphan {
    /// `Deployment iworkz-production/old-worker`.
    pub fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// The files of a set: the directory's `*.yaml` / `*.yml` in name order,
/// or the one file. `path` relative to `base` (the config file's
/// directory) when it is relative.
pub fn files(set: &Manifests, base: Option<&Path>) -> Result<Vec<PathBuf>, ManifestError> {
    let path = match base {
        Some(b) if set.path.is_relative() => b.join(&set.path),
        _ => set.path.clone(),
    };
    let err = |message: String| ManifestError {
        file: path.display().to_string(),
        line: None,
        message,
    };
    let meta = std::fs::metadata(&path)
        .map_err(|e| err(format!("cannot read it ({e}): check [[manifests]] path")))?;
    if meta.is_file() {
        return Ok(vec![path]);
    }
    let mut out: Vec<PathBuf> = std::fs::read_dir(&path)
        .map_err(|e| err(format!("cannot list the directory ({e})")))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml"))
        })
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(err("the directory holds no .yaml or .yml file".into()));
    }
    Ok(out)
}

/// The documents of `files`, in the order of applying. With a colour
/// (`idle`, `live`), `${COLOR}` becomes the idle colour and a file whose
/// name ends in the live colour (`backend-api-blue.yaml`) is left out.
pub fn documents(
    files: &[PathBuf],
    colour: Option<(&str, &str)>,
) -> Result<Vec<Document>, ManifestError> {
    let mut docs = Vec::new();
    for file in files {
        let shown = file.display().to_string();
        if let Some((_, live)) = colour
            && file
                .file_name()
                .and_then(|s| s.to_str())
                .is_some_and(|s| names_colour(s, live))
        {
            continue;
        }
        let text = std::fs::read_to_string(file).map_err(|e| ManifestError {
            file: shown.clone(),
            line: None,
            message: format!("cannot read it ({e})"),
        })?;
        docs.extend(manifest::parse_file(&shown, &text, colour)?);
    }
    if docs.is_empty() {
        return Err(ManifestError {
            file: files
                .first()
                .map(|f| f.display().to_string())
                .unwrap_or_default(),
            line: None,
            message: "the set holds no document to apply".into(),
        });
    }
    manifest::in_apply_order(&mut docs);
    Ok(docs)
}

/// Whether a file's name carries `colour` as a word of its own
/// (`backend-api-blue.yaml`, `web_blue.k8s.yml`, `blue.yaml`).
fn names_colour(file_name: &str, colour: &str) -> bool {
    file_name
        .to_ascii_lowercase()
        .split(['-', '_', '.'])
        .any(|word| word == colour)
}

/// A set's plan for one cluster: the live colour (a colour set), and
/// each document as the server's dry run answered it, with the digest of
/// the document as the files hold it.
#[derive(Debug, Clone)]
pub struct SetPlan {
    /// The live colour the set's Services select (a colour set).
    pub live: Option<String>,
    /// Each document, in the order of applying, and its [`digest`].
    pub planned: Vec<(Planned, String)>,
}

/// A document of a set, named for a job's step: found again in the files
/// when the step runs, and applied only if it still reads the same (its
/// digest). A job's checkpoint holds this, never a document's content
/// (a Secret's values).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DocRef {
    /// `Deployment`.
    pub kind: String,
    /// The namespace it goes to (`None`: cluster-scoped).
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// The SHA-256 of the document as planned.
    pub digest: String,
}

/// The SHA-256 of a document's object, hex.
pub fn digest(doc: &Document) -> String {
    use sha2::{Digest as _, Sha256};
    let bytes = serde_json::to_vec(&doc.object).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// What the server said of one document.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The document.
    pub doc: Document,
    /// The namespace it goes to (`None`: cluster-scoped).
    pub namespace: Option<String>,
    /// Its diff against the live object.
    pub diff: ObjectDiff,
    /// The fields other managers own that it would change: `(manager,
    /// field)`, as the server reported them. Empty when forced.
    pub conflicts: Vec<String>,
    /// Applying changes which of its fields touban owns (a document
    /// applied for the first time, or a field let go of): applied even
    /// when unchanged, so that what the files no longer say is removed
    /// next time and another writer's change is a conflict.
    pub claims: bool,
    /// What touban left out of the document, and why (`spec.replicas` of
    /// a Deployment an HPA scales: the HPA owns it).
    pub note: Option<String>,
}

impl Planned {
    /// Whether applying it writes anything: a change, or a claim.
    pub fn writes(&self) -> bool {
        self.conflicts.is_empty() && (self.diff != ObjectDiff::Unchanged || self.claims)
    }

    /// `Deployment iworkz-production/backend-api-green`.
    pub fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.doc.kind, self.doc.name),
            None => format!("{} {}", self.doc.kind, self.doc.name),
        }
    }
}

/// One cluster, connected, applying as [`FIELD_MANAGER`].
pub struct Applier {
    client: Client,
    cluster: String,
    namespace: String,
    kinds: HashMap<(String, String), (ApiResource, bool)>,
}

impl Applier {
    /// Connects to `cluster`; documents that name no namespace go to
    /// `namespace`.
    pub async fn connect(cluster: &Cluster, namespace: &str) -> Result<Applier, String> {
        let connection = crate::sources::cluster::auth::connect(cluster, Duration::from_secs(30))
            .await
            .map_err(|why| {
                mask_line(&format!(
                    "cannot connect to cluster {}: {why}",
                    cluster.name.get_ref()
                ))
            })?;
        Ok(Applier::new(
            connection.client,
            cluster.name.get_ref(),
            namespace,
        ))
    }

    /// An applier on a client already made.
    pub fn new(client: Client, cluster: &str, namespace: &str) -> Applier {
        Applier {
            client,
            cluster: cluster.to_owned(),
            namespace: namespace.to_owned(),
            kinds: HashMap::new(),
        }
    }

    /// The API of a document's kind (found by discovery, once per kind),
    /// and its namespace.
    async fn api(
        &mut self,
        doc: &Document,
    ) -> Result<(Api<DynamicObject>, Option<String>), String> {
        let key = (doc.api_version.clone(), doc.kind.clone());
        if !self.kinds.contains_key(&key) {
            let (group, version) = doc
                .api_version
                .split_once('/')
                .unwrap_or(("", doc.api_version.as_str()));
            let gvk = GroupVersionKind::gvk(group, version, &doc.kind);
            let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk)
                .await
                .map_err(|e| {
                    format!(
                        "{}: cluster {} does not serve {} {} ({}): is the apiVersion right?",
                        doc.place(),
                        self.cluster,
                        doc.api_version,
                        doc.kind,
                        kube_message(&e)
                    )
                })?;
            self.kinds
                .insert(key.clone(), (resource, caps.scope == Scope::Namespaced));
        }
        let Some((resource, namespaced)) = self.kinds.get(&key) else {
            return Err(format!("{}: no API for {}", doc.place(), doc.kind));
        };
        if *namespaced {
            let ns = doc
                .namespace
                .clone()
                .unwrap_or_else(|| self.namespace.clone());
            Ok((
                Api::namespaced_with(self.client.clone(), &ns, resource),
                Some(ns),
            ))
        } else {
            Ok((Api::all_with(self.client.clone(), resource), None))
        }
    }

    /// The live colour of a blue-green set: the `color` its Services
    /// select now (the first that has one).
    pub async fn live_colour(&mut self, docs: &[Document]) -> Result<Option<String>, String> {
        for doc in docs.iter().filter(|d| d.kind == "Service") {
            let ns = doc
                .namespace
                .clone()
                .unwrap_or_else(|| self.namespace.clone());
            let api: Api<Service> = Api::namespaced(self.client.clone(), &ns);
            let live = api.get_opt(&doc.name).await.map_err(|e| {
                format!(
                    "cannot read Service {ns}/{} in {}: {}",
                    doc.name,
                    self.cluster,
                    kube_message(&e)
                )
            })?;
            let colour = live
                .and_then(|s| s.spec?.selector?.get("color").cloned())
                .filter(|c| !c.is_empty());
            if colour.is_some() {
                return Ok(colour);
            }
        }
        Ok(None)
    }

    /// The set's documents as they go to this cluster, in the order of
    /// applying, labelled for a set that prunes; for a colour set, the
    /// idle colour put in (the other of the live colour the set's Services
    /// select, also returned). An unreadable file is `Err(Ok(_))`, a
    /// cluster that cannot tell its live colour `Err(Err(_))`.
    pub async fn set_documents(
        &mut self,
        set: &Manifests,
        files: &[PathBuf],
    ) -> Result<(Vec<Document>, Option<String>), Result<ManifestError, String>> {
        let label = |docs: &mut Vec<Document>| {
            if set.prune {
                label_documents(docs, set.name.get_ref());
            }
        };
        let mut docs = documents(files, None).map_err(Ok)?;
        label(&mut docs);
        if !set.colour {
            return Ok((docs, None));
        }
        let live = self.live_colour(&docs).await.map_err(Err)?;
        let live = match live.as_deref() {
            Some(c @ ("blue" | "green")) => c.to_owned(),
            Some(other) => {
                return Err(Err(format!(
                    "the set's Services select color={other}: a colour set deploys blue or green, so its idle colour is unknown"
                )));
            }
            None => {
                return Err(Err(format!(
                    "cannot tell the live colour: no Service of `{}` selects a `color` in {}; add the Service that carries the traffic to the set",
                    set.name.get_ref(),
                    self.cluster
                )));
            }
        };
        let idle = if live == "blue" { "green" } else { "blue" };
        let mut docs = documents(files, Some((idle, &live))).map_err(Ok)?;
        label(&mut docs);
        Ok((docs, Some(live)))
    }

    /// The set's plan on this cluster: its documents (see
    /// [`Applier::set_documents`]) through the server's dry run.
    pub async fn plan_set(
        &mut self,
        set: &Manifests,
        files: &[PathBuf],
        force: bool,
    ) -> Result<SetPlan, String> {
        let (docs, live) = self
            .set_documents(set, files)
            .await
            .map_err(|e| e.map_or_else(|why| why, |m| m.to_string()))?;
        let digests: Vec<String> = docs.iter().map(digest).collect();
        let planned = self.plan(&docs, force).await?;
        Ok(SetPlan {
            live,
            planned: planned.into_iter().zip(digests).collect(),
        })
    }

    /// One document of the set, named by `r`, found in the files again
    /// and, if it still reads as planned, dry-run and (unless `dry_run`)
    /// applied; what was done, in words.
    pub async fn apply_one(
        &mut self,
        set: &Manifests,
        files: &[PathBuf],
        r: &DocRef,
        force: bool,
        dry_run: bool,
    ) -> Result<String, String> {
        let (docs, _) = self
            .set_documents(set, files)
            .await
            .map_err(|e| e.map_or_else(|why| why, |m| m.to_string()))?;
        let default_ns = self.namespace.clone();
        let doc = docs
            .iter()
            .find(|d| {
                d.kind == r.kind
                    && d.name == r.name
                    && r.namespace
                        .as_ref()
                        .is_none_or(|ns| d.namespace.as_ref().unwrap_or(&default_ns) == ns)
            })
            .ok_or_else(|| {
                format!(
                    "{} {} is no longer in the set's files: nothing applied; plan again",
                    r.kind, r.name
                )
            })?;
        if digest(doc) != r.digest {
            return Err(format!(
                "{}: {} changed in the files since the plan: nothing applied; plan again",
                doc.place(),
                doc.label()
            ));
        }
        // The HPAs of the whole set: one it creates after this Deployment
        // scales it all the same.
        let scaled = self.scaled(&docs).await?;
        let planned = self
            .plan_scaled(std::slice::from_ref(doc), &scaled, force)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| format!("{}: the server answered nothing for it", doc.place()))?;
        if !planned.conflicts.is_empty() {
            return Err(format!(
                "{} conflicts with another field manager: {}; nothing applied (plan with force to take the fields over)",
                planned.label(),
                planned.conflicts.join("; ")
            ));
        }
        if dry_run {
            return Ok(format!(
                "dry run: the server accepts {} ({})",
                planned.label(),
                planned.diff.word()
            ));
        }
        let rv = self.apply(&planned, force).await?;
        Ok(format!(
            "applied {} ({}): resourceVersion {rv}",
            planned.label(),
            planned.diff.word()
        ))
    }

    /// Every document through a server-side dry run, diffed against what
    /// is live. A conflict is kept with its document (nothing is written);
    /// any other refusal of the server ends the plan.
    pub async fn plan(&mut self, docs: &[Document], force: bool) -> Result<Vec<Planned>, String> {
        let scaled = self.scaled(docs).await?;
        self.plan_scaled(docs, &scaled, force).await
    }

    /// [`Applier::plan`], the Deployments HPAs scale known (those of the
    /// whole set, when `docs` is a part of it).
    async fn plan_scaled(
        &mut self,
        docs: &[Document],
        scaled: &BTreeMap<(String, String), String>,
        force: bool,
    ) -> Result<Vec<Planned>, String> {
        let mut out = Vec::new();
        for doc in docs {
            let (api, namespace) = self.api(doc).await?;
            let live = api.get_opt(&doc.name).await.map_err(|e| {
                format!(
                    "{}: cannot read {} in {}: {}",
                    doc.place(),
                    doc.label(),
                    self.cluster,
                    kube_message(&e)
                )
            })?;
            let live = live.map(|o| serde_json::to_value(o).unwrap_or(Value::Null));
            // A Deployment there, that an HPA scales: its replicas are
            // the HPA's (a new one is created with the file's).
            let (doc, note) = match namespace
                .as_ref()
                .and_then(|ns| scaled.get(&(ns.clone(), doc.name.clone())))
            {
                Some(hpa) if doc.kind == "Deployment" && live.is_some() => {
                    hpa_replicas(doc, live.as_ref(), hpa)
                }
                _ => (doc.clone(), None),
            };
            let doc = &doc;
            let params = params(force).dry_run();
            let (diff, conflicts, claims) = match api
                .patch(&doc.name, &params, &Patch::Apply(&doc.object))
                .await
            {
                Ok(after) => {
                    let after = serde_json::to_value(after).unwrap_or(Value::Null);
                    let claims = live.as_ref().and_then(owned) != owned(&after);
                    (manifest::diff(live.as_ref(), &after), Vec::new(), claims)
                }
                Err(kube::Error::Api(status)) if is_field_conflict(&status) => {
                    let conflicts = conflicts_of(&status);
                    (ObjectDiff::Unchanged, conflicts, false)
                }
                Err(e) => {
                    return Err(format!(
                        "{}: the server refused {} in its dry run: {}",
                        doc.place(),
                        doc.label(),
                        kube_message(&e)
                    ));
                }
            };
            out.push(Planned {
                doc: doc.clone(),
                namespace,
                diff,
                conflicts,
                claims,
                note,
            });
        }
        Ok(out)
    }

    /// The Deployments an HPA scales, by `(namespace, name)`, with the
    /// HPA's name: those the set's own HPAs target, and those the live
    /// HPAs of the set's namespaces do.
    async fn scaled(
        &mut self,
        docs: &[Document],
    ) -> Result<BTreeMap<(String, String), String>, String> {
        let mut scaled = BTreeMap::new();
        let mut namespaces = BTreeSet::new();
        for doc in docs {
            let ns = doc
                .namespace
                .clone()
                .unwrap_or_else(|| self.namespace.clone());
            if doc.kind == "HorizontalPodAutoscaler"
                && let Some(target) = deployment_scaled(&doc.object)
            {
                scaled.insert((ns.clone(), target), doc.name.clone());
            }
            if doc.kind == "Deployment" {
                namespaces.insert(ns);
            }
        }
        for ns in namespaces {
            let api: Api<HorizontalPodAutoscaler> = Api::namespaced(self.client.clone(), &ns);
            let live = api
                .list(&kube::api::ListParams::default())
                .await
                .map_err(|e| {
                    format!(
                        "cannot list the HorizontalPodAutoscalers of {ns} in {}: {}",
                        self.cluster,
                        kube_message(&e)
                    )
                })?;
            for h in live.items {
                let v = serde_json::to_value(&h).unwrap_or(Value::Null);
                if let (Some(target), Some(name)) = (deployment_scaled(&v), h.metadata.name) {
                    scaled.entry((ns.clone(), target)).or_insert(name);
                }
            }
        }
        Ok(scaled)
    }

    /// Applies one planned document for real; returns the object's new
    /// resourceVersion.
    pub async fn apply(&mut self, planned: &Planned, force: bool) -> Result<String, String> {
        let (api, _) = self.api(&planned.doc).await?;
        match api
            .patch(
                &planned.doc.name,
                &params(force),
                &Patch::Apply(&planned.doc.object),
            )
            .await
        {
            Ok(o) => Ok(o.metadata.resource_version.unwrap_or_default()),
            Err(kube::Error::Api(status)) if is_field_conflict(&status) => Err(format!(
                "{}: {} conflicts with another field manager: {} (re-run with --force-conflicts to take the fields over)",
                planned.doc.place(),
                planned.label(),
                conflicts_of(&status).join("; ")
            )),
            Err(e) => Err(format!(
                "{}: the server refused {}: {}",
                planned.doc.place(),
                planned.label(),
                kube_message(&e)
            )),
        }
    }

    /// Waits until the Deployment is rolled out by kubectl's rules;
    /// `progress` hears each new state. Fails when it stalls or after
    /// `within`.
    pub async fn await_rollout(
        &self,
        namespace: &str,
        name: &str,
        within: Duration,
        mut progress: impl FnMut(&str),
    ) -> Result<(), String> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), namespace);
        let started = Instant::now();
        let mut last = String::new();
        loop {
            let d = api.get(name).await.map_err(|e| {
                format!(
                    "cannot read Deployment {namespace}/{name} in {}: {}",
                    self.cluster,
                    kube_message(&e)
                )
            })?;
            let row = crate::projection::deployment_row(&d);
            match rollout_state(&row) {
                RolloutState::Complete => return Ok(()),
                RolloutState::Stalled(why) => {
                    return Err(format!(
                        "Deployment {namespace}/{name} in {}: {why}",
                        self.cluster
                    ));
                }
                RolloutState::Progressing(why) => {
                    if why != last {
                        progress(&why);
                        last = why;
                    }
                }
            }
            if started.elapsed() > within {
                return Err(format!(
                    "Deployment {namespace}/{name} in {} is not rolled out after {} s: {last}",
                    self.cluster,
                    within.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// The fields touban's apply owns in an object (its `managedFields`).
fn owned(object: &Value) -> Option<&Value> {
    object
        .pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|m| m["manager"] == FIELD_MANAGER && m["operation"] == "Apply")
        .map(|m| &m["fieldsV1"])
}

impl Applier {
    /// The objects of every kind the files hold, in the namespaces they
    /// go to, that carry the set's label and are in no document.
    pub async fn orphans(&mut self, docs: &[Document], set: &str) -> Result<Vec<Orphan>, String> {
        let mut seen: Vec<(String, String, Option<String>)> = Vec::new();
        let mut out = Vec::new();
        for doc in docs {
            let (api, namespace) = self.api(doc).await?;
            let key = (doc.api_version.clone(), doc.kind.clone(), namespace.clone());
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let selector = format!("{SET_LABEL}={set}");
            let listed = api
                .list(&kube::api::ListParams::default().labels(&selector))
                .await
                .map_err(|e| {
                    format!(
                        "cannot list {} labelled {selector} in {}: {}",
                        doc.kind,
                        self.cluster,
                        kube_message(&e)
                    )
                })?;
            for o in listed.items {
                let name = o.metadata.name.clone().unwrap_or_default();
                let effective = |d: &Document| {
                    namespace.as_ref().map(|_| {
                        d.namespace
                            .clone()
                            .unwrap_or_else(|| self.namespace.clone())
                    })
                };
                let kept = docs
                    .iter()
                    .any(|d| d.kind == doc.kind && d.name == name && effective(d) == namespace);
                if !kept {
                    out.push(Orphan {
                        api_version: doc.api_version.clone(),
                        kind: doc.kind.clone(),
                        namespace: namespace.clone(),
                        name,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Deletes an object the files no longer hold.
    pub async fn prune(&mut self, orphan: &Orphan) -> Result<(), String> {
        let probe = Document {
            file: String::new(),
            line: 0,
            api_version: orphan.api_version.clone(),
            kind: orphan.kind.clone(),
            name: orphan.name.clone(),
            namespace: orphan.namespace.clone(),
            object: Value::Null,
        };
        let (api, _) = self.api(&probe).await?;
        api.delete(&orphan.name, &kube::api::DeleteParams::default())
            .await
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "cannot delete {} in {}: {}",
                    orphan.label(),
                    self.cluster,
                    kube_message(&e)
                )
            })
    }
}

/// The Deployment an HPA's `scaleTargetRef` names, if it names one.
fn deployment_scaled(hpa: &Value) -> Option<String> {
    let target = hpa.pointer("/spec/scaleTargetRef")?;
    (target.get("kind").and_then(Value::as_str) == Some("Deployment"))
        .then(|| {
            target
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .flatten()
}

/// Whether touban's applied fields of `live` include `spec.replicas`.
fn owns_replicas(live: &Value) -> bool {
    live.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|entries| {
            entries.iter().any(|e| {
                e.get("manager").and_then(Value::as_str) == Some(FIELD_MANAGER)
                    && e.get("operation").and_then(Value::as_str) == Some("Apply")
                    && e.pointer("/fieldsV1/f:spec/f:replicas").is_some()
            })
        })
}

/// A Deployment's document for the HPA `hpa` to keep scaling it, and the
/// note saying so: `spec.replicas` left out, so that applying does not
/// undo the HPA's last scale. Where touban still owns the field (it
/// created the Deployment and the HPA has not scaled it since), leaving
/// it out would delete it and the API server would default it to 1: the
/// live count is sent instead, which changes nothing. The document as it
/// is when it names no replicas.
fn hpa_replicas(doc: &Document, live: Option<&Value>, hpa: &str) -> (Document, Option<String>) {
    let mut d = doc.clone();
    let Some(spec) = d.object.get_mut("spec").and_then(Value::as_object_mut) else {
        return (d, None);
    };
    let Some(n) = spec.get("replicas").cloned() else {
        return (d, None);
    };
    let live_replicas = live.and_then(|l| l.pointer("/spec/replicas")).cloned();
    match live_replicas {
        Some(current) if live.is_some_and(owns_replicas) => {
            spec.insert("replicas".to_owned(), current.clone());
            (
                d,
                Some(format!(
                    "spec.replicas kept at {current}, not the file's {n}: HorizontalPodAutoscaler {hpa} scales it"
                )),
            )
        }
        _ => {
            spec.remove("replicas");
            (
                d,
                Some(format!(
                    "spec.replicas ({n}) left out: HorizontalPodAutoscaler {hpa} scales it"
                )),
            )
        }
    }
}

fn params(force: bool) -> PatchParams {
    let p = PatchParams::apply(FIELD_MANAGER);
    if force { p.force() } else { p }
}

/// Whether a 409 is a field-manager conflict (not a stale
/// resourceVersion or an object that already exists).
fn is_field_conflict(status: &kube::core::Status) -> bool {
    status.code == 409
        && status
            .details
            .as_ref()
            .is_some_and(|d| d.causes.iter().any(|c| c.reason == "FieldManagerConflict"))
}

/// The conflicts of a 409, one per field: `"kubectl-edit" owns
/// .spec.replicas` (from the status's causes, else its message).
fn conflicts_of(status: &kube::core::Status) -> Vec<String> {
    let causes: Vec<String> = status
        .details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .filter(|c| c.reason == "FieldManagerConflict")
                .map(|c| {
                    let who = c
                        .message
                        .strip_prefix("conflict with ")
                        .unwrap_or(&c.message);
                    format!("{} is owned by {who}", c.field)
                })
                .collect()
        })
        .unwrap_or_default();
    if causes.is_empty() {
        vec![mask_line(&status.message)]
    } else {
        causes
    }
}

/// The server's message of a kube error (credentials masked).
fn kube_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => mask_line(&format!("{} ({})", status.message, status.code)),
        other => mask_line(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::{hpa_replicas, names_colour};
    use crate::model::manifest::Document;
    use serde_json::json;

    #[test]
    fn an_hpa_s_deployment_keeps_its_replicas_and_never_falls_to_one() {
        let doc = Document {
            file: "web.yaml".into(),
            line: 1,
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "web".into(),
            namespace: None,
            object: json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web"}, "spec": {"replicas": 2}}),
        };
        // The HPA scaled it (it owns the field now): left out.
        let live = json!({"spec": {"replicas": 5}, "metadata": {"managedFields": [
            {"manager": "touban", "operation": "Apply", "fieldsV1": {"f:spec": {"f:template": {}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "subresource": "scale",
             "fieldsV1": {"f:spec": {"f:replicas": {}}}}]}});
        let (d, note) = hpa_replicas(&doc, Some(&live), "web-hpa");
        assert_eq!(d.object.pointer("/spec/replicas"), None);
        assert_eq!(
            note.as_deref(),
            Some("spec.replicas (2) left out: HorizontalPodAutoscaler web-hpa scales it")
        );
        // touban still owns it (the HPA never scaled it): leaving it out
        // would delete it, and the server would make it 1; the live count
        // is sent instead.
        let live = json!({"spec": {"replicas": 3}, "metadata": {"managedFields": [
            {"manager": "touban", "operation": "Apply",
             "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {}}}}]}});
        let (d, note) = hpa_replicas(&doc, Some(&live), "web-hpa");
        assert_eq!(d.object.pointer("/spec/replicas"), Some(&json!(3)));
        assert!(note.is_some_and(|n| n.starts_with("spec.replicas kept at 3, not the file's 2")));
    }

    #[test]
    fn a_file_names_a_colour_as_a_word_of_its_own() {
        assert!(names_colour("backend-api-blue.yaml", "blue"));
        assert!(names_colour("web_blue.k8s.yml", "blue"));
        assert!(names_colour("Blue.YAML", "blue"));
        assert!(!names_colour("bluebird.yaml", "blue"));
        assert!(!names_colour("backend-api.yaml", "blue"));
    }
}
