//! The object store of one simulated cluster: every object as JSON, one
//! resourceVersion counter bumped by each persisted write, and a ring of
//! recent changes so that `watch?resourceVersion=N` replays what followed N
//! (older than the ring: the caller answers 410 Expired, as the real
//! server's watch cache does). Dry runs validate and answer but persist
//! nothing. Objects are shared `Arc`s between the store, the ring and the
//! watchers, so a change costs one copy.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::defaults;
use super::error::ApiError;
use super::resource::{RESOURCES, Resource};

/// A stored object.
pub type Object = Arc<Value>;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created.
    Added,
    /// Changed.
    Modified,
    /// Deleted.
    Deleted,
}

/// One persisted write.
#[derive(Debug, Clone)]
pub struct Change {
    /// The resourceVersion it made.
    pub rv: u64,
    /// Of which resource.
    pub resource: &'static Resource,
    /// What happened.
    pub kind: ChangeKind,
    /// The object after (for a deletion: its last state).
    pub object: Object,
    /// The object before, for watchers with selectors.
    pub previous: Option<Object>,
}

/// Which part of an object a write replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The object, keeping its status.
    Main,
    /// Only the status (and a Deployment's annotations).
    Status,
}

type Key = (String, String);

struct Inner {
    rv: u64,
    objects: HashMap<&'static str, BTreeMap<Key, Object>>,
    ring: VecDeque<Change>,
    /// Watches may not resume from before this resourceVersion.
    compacted: u64,
    /// Live changes, for watches; replaced (ending every watch) by a compaction.
    changes: broadcast::Sender<Change>,
    rng: u64,
}

/// The store.
pub struct Store {
    inner: Mutex<Inner>,
}

/// Changes kept for watches that resume from a resourceVersion (the real
/// watch cache keeps a bounded window too). Each holds an old version of an
/// object, so this bounds the sandbox's memory at 10,000 pods.
const RING: usize = 4_096;

/// A watcher whose buffer of live changes overflows is expired (410).
const LIVE_BUFFER: usize = 65_536;

const NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

impl Store {
    /// An empty store; `seed` makes uids and generated names reproducible.
    pub fn new(seed: u64) -> Store {
        Store {
            inner: Mutex::new(Inner {
                rv: 1000,
                objects: RESOURCES
                    .iter()
                    .map(|r| (r.plural, BTreeMap::new()))
                    .collect(),
                ring: VecDeque::new(),
                compacted: 0,
                changes: broadcast::channel(LIVE_BUFFER).0,
                rng: seed ^ 0x9e37_79b9_7f4a_7c15,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the data consistent (each
        // write is applied at once), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.lock().rv
    }

    /// Five characters for a generated name (`web-7d9c6b8f5-x2v9k`).
    pub fn suffix(&self, len: usize) -> String {
        let mut inner = self.lock();
        (0..len)
            .map(|_| {
                let i = usize::try_from(inner.next() % NAME_CHARS.len() as u64).unwrap_or(0);
                char::from(NAME_CHARS[i])
            })
            .collect()
    }

    /// One object.
    pub fn get(&self, r: &Resource, namespace: &str, name: &str) -> Option<Object> {
        self.lock()
            .objects
            .get(r.plural)?
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Objects of `r` (in `namespace`, or all), sorted by namespace and
    /// name, passing `filter`, at most `limit`, after the key `after`.
    /// Returns the list's resourceVersion, the items, and the last key when
    /// more remain.
    pub fn list(
        &self,
        r: &Resource,
        namespace: Option<&str>,
        filter: &dyn Fn(&Value) -> bool,
        limit: Option<usize>,
        after: Option<&Key>,
    ) -> (u64, Vec<Object>, Option<Key>) {
        let inner = self.lock();
        let Some(all) = inner.objects.get(r.plural) else {
            return (inner.rv, Vec::new(), None);
        };
        let mut items = Vec::new();
        // Keys sort by namespace first: a namespace is one contiguous range.
        let from = match (after, namespace) {
            (Some(key), _) => std::ops::Bound::Excluded(key.clone()),
            (None, Some(ns)) => std::ops::Bound::Included((ns.to_owned(), String::new())),
            (None, None) => std::ops::Bound::Unbounded,
        };
        let range = all
            .range::<Key, _>((from, std::ops::Bound::Unbounded))
            .take_while(|(key, _)| namespace.is_none_or(|ns| key.0 == ns));
        let mut more = None;
        for (key, obj) in range {
            if namespace.is_some_and(|ns| ns != key.0) || !filter(obj) {
                continue;
            }
            if limit.is_some_and(|l| items.len() >= l) {
                more = items.last().map(|o: &Object| key_of(o));
                break;
            }
            items.push(obj.clone());
        }
        (inner.rv, items, more)
    }

    /// Every object of `r` in every namespace, for controllers.
    pub fn all(&self, r: &Resource) -> Vec<Object> {
        self.lock()
            .objects
            .get(r.plural)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Creates an object.
    pub fn create(
        &self,
        r: &'static Resource,
        namespace: &str,
        mut object: Value,
        dry_run: bool,
    ) -> Result<Object, ApiError> {
        let mut inner = self.lock();
        let meta = object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| ApiError::bad_request("the object has no metadata"))?;
        if !r.namespaced {
            meta.remove("namespace");
        } else if let Some(ns) = meta.get("namespace").and_then(Value::as_str)
            && ns != namespace
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let name = match (
            meta.get("name").and_then(Value::as_str),
            meta.get("generateName").and_then(Value::as_str),
        ) {
            (Some(n), _) if !n.is_empty() => n.to_owned(),
            (_, Some(prefix)) => {
                let suffix: String = (0..5)
                    .map(|_| {
                        char::from(NAME_CHARS[usize::try_from(inner.next() % 27).unwrap_or(0)])
                    })
                    .collect();
                format!("{prefix}{suffix}")
            }
            _ => {
                return Err(ApiError::invalid(
                    r,
                    "",
                    "metadata.name",
                    "Required value: name or generateName is required",
                ));
            }
        };
        let key = (
            if r.namespaced {
                namespace.to_owned()
            } else {
                String::new()
            },
            name.clone(),
        );
        if inner
            .objects
            .get(r.plural)
            .is_some_and(|m| m.contains_key(&key))
        {
            return Err(ApiError::already_exists(r, &name));
        }
        let uid = inner.uid();
        let meta = object
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| ApiError::bad_request("no metadata"))?;
        meta.insert("name".into(), json!(name));
        if r.namespaced {
            meta.insert("namespace".into(), json!(namespace));
        }
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        if has_generation(r) {
            meta.insert("generation".into(), json!(1));
        }
        prepare(r, &name, &mut object)?;
        object["kind"] = json!(r.kind);
        object["apiVersion"] = json!(r.api_version());
        if dry_run {
            return Ok(Arc::new(object));
        }
        Ok(inner.commit(r, ChangeKind::Added, key, Some(object), None))
    }

    /// Changes an object atomically: `change` edits a copy of it (a patch,
    /// a scale, a controller's update), then the write rules apply.
    pub fn modify(
        &self,
        r: &'static Resource,
        namespace: &str,
        name: &str,
        part: Part,
        dry_run: bool,
        change: impl FnOnce(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Object, ApiError> {
        let mut inner = self.lock();
        let key = key_for(r, namespace, name);
        let previous = inner.existing(r, &key, name)?;
        let mut next = (*previous).clone();
        change(&mut next)?;
        let expected = next
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let current = previous
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if let Some(expected) = expected
            && Some(expected.as_str()) != current
            && !expected.is_empty()
        {
            return Err(ApiError::conflict(r, name));
        }
        let object = merge_write(r, &previous, next, part);
        let mut object = object;
        prepare(r, name, &mut object)?;
        if object == *previous {
            // Nothing changed: no new resourceVersion, no event.
            return Ok(previous);
        }
        if dry_run {
            return Ok(Arc::new(object));
        }
        Ok(inner.commit(r, ChangeKind::Modified, key, Some(object), Some(previous)))
    }

    /// Replaces an object (PUT): `object`'s resourceVersion, if set, must be current.
    pub fn replace(
        &self,
        r: &'static Resource,
        namespace: &str,
        name: &str,
        object: Value,
        part: Part,
        dry_run: bool,
    ) -> Result<Object, ApiError> {
        self.modify(r, namespace, name, part, dry_run, move |current| {
            *current = object;
            Ok(())
        })
    }

    /// Deletes an object and everything it owns (the default for apps/v1,
    /// and what `Foreground` ends with), or with `orphan` leaves what it owns
    /// and removes their owner reference. Returns the object's last state.
    pub fn delete(
        &self,
        r: &'static Resource,
        namespace: &str,
        name: &str,
        dry_run: bool,
    ) -> Result<Object, ApiError> {
        self.delete_with(r, namespace, name, dry_run, false)
    }

    /// [`Store::delete`], choosing whether dependents are orphaned.
    pub fn delete_with(
        &self,
        r: &'static Resource,
        namespace: &str,
        name: &str,
        dry_run: bool,
        orphan: bool,
    ) -> Result<Object, ApiError> {
        let mut inner = self.lock();
        let key = key_for(r, namespace, name);
        let current = inner.existing(r, &key, name)?;
        if dry_run {
            return Ok(current);
        }
        let last = inner.remove(r, &key);
        let mut owners = vec![
            last.pointer("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        ];
        if orphan {
            let uid = owners.pop().unwrap_or_default();
            inner.orphan(&uid);
            return Ok(last);
        }
        while let Some(owner) = owners.pop() {
            for dep in RESOURCES {
                let owned: Vec<Key> = inner.objects.get(dep.plural).map_or_else(Vec::new, |m| {
                    m.iter()
                        .filter(|(_, o)| owned_by(o, &owner))
                        .map(|(k, _)| k.clone())
                        .collect()
                });
                for k in owned {
                    let gone = inner.remove(dep, &k);
                    owners.push(
                        gone.pointer("/metadata/uid")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    );
                }
            }
        }
        Ok(last)
    }

    /// The changes of `r` after `rv` still in the ring, and a receiver of
    /// changes to come, taken together so none falls between. `Err` with the
    /// oldest resourceVersion the ring can replay when `rv` is older.
    pub fn watch_from(
        &self,
        rv: Option<u64>,
    ) -> Result<(Vec<Change>, broadcast::Receiver<Change>), u64> {
        let inner = self.lock();
        let receiver = inner.changes.subscribe();
        let Some(rv) = rv else {
            return Ok((Vec::new(), receiver));
        };
        let oldest = inner.ring.front().map_or(inner.rv, |c| c.rv);
        if rv + 1 < oldest || rv < inner.compacted {
            return Err(oldest.max(inner.compacted));
        }
        let backlog = inner.ring.iter().filter(|c| c.rv > rv).cloned().collect();
        Ok((backlog, receiver))
    }
}

/// The fields that hold when something happened.
const STAMPS: &[&str] = &[
    "creationTimestamp",
    "startTime",
    "startedAt",
    "finishedAt",
    "lastTransitionTime",
    "lastUpdateTime",
    "lastScaleTime",
    "firstTimestamp",
    "lastTimestamp",
];

/// Moves every stamp in `v` back by `secs`.
fn shift(v: &mut Value, secs: i64) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if STAMPS.contains(&k.as_str())
                    && let Some(t) = child
                        .as_str()
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                    && let Ok(earlier) = t.checked_sub(jiff::SignedDuration::from_secs(secs))
                {
                    *child = json!(earlier.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
                } else {
                    shift(child, secs);
                }
            }
        }
        Value::Array(items) => {
            for child in items {
                shift(child, secs);
            }
        }
        _ => {}
    }
}

impl Store {
    /// Moves the past of every object back by `age(kind)` seconds, as if
    /// the world had stood that long; only before anyone watches (the
    /// history of changes is dropped, as a compaction would).
    pub fn backdate(&self, age: impl Fn(&str) -> i64) {
        let mut inner = self.lock();
        for (plural, objects) in &mut inner.objects {
            let kind = RESOURCES
                .iter()
                .find(|r| r.plural == *plural)
                .map_or("", |r| r.kind);
            let secs = age(kind);
            for object in objects.values_mut() {
                let mut moved = (**object).clone();
                shift(&mut moved, secs);
                *object = Arc::new(moved);
            }
        }
        inner.ring.clear();
        inner.compacted = inner.rv;
    }

    /// Compacts history, as etcd does and a restarting API server implies:
    /// every open watch ends, and a watch resuming from before now gets 410
    /// Expired, so clients must list again.
    pub fn compact(&self) {
        let mut inner = self.lock();
        inner.ring.clear();
        inner.compacted = inner.rv;
        inner.changes = broadcast::channel(LIVE_BUFFER).0;
    }
}

/// The store key of an object of `r`: cluster-scoped objects have no namespace.
fn key_for(r: &Resource, namespace: &str, name: &str) -> Key {
    (
        if r.namespaced {
            namespace.to_owned()
        } else {
            String::new()
        },
        name.to_owned(),
    )
}

impl Store {
    /// Records an Event about `object`, as the component that saw it.
    pub fn record_event(
        &self,
        object: &Value,
        reason: &str,
        message: &str,
        warning: bool,
        component: &str,
    ) {
        let (ns, name) = key_of(object);
        let now = now_rfc3339();
        // The same report about the same object is one Event whose count
        // grows, as the real event recorder aggregates them.
        let same = |e: &Value| {
            e.pointer("/involvedObject/uid") == object.pointer("/metadata/uid")
                && e["reason"] == reason
                && e["message"] == message
                && e.pointer("/source/component").and_then(Value::as_str) == Some(component)
        };
        if let Some(events) = Resource::of_kind("Event") {
            let existing = self.lock().objects.get(events.plural).and_then(|m| {
                m.range((ns.clone(), String::new())..)
                    .take_while(|((n, _), _)| *n == ns)
                    .find(|(_, e)| same(e))
                    .map(|((_, n), _)| n.clone())
            });
            if let Some(existing) = existing
                && self
                    .modify(events, &ns, &existing, Part::Main, false, |e| {
                        let count = e["count"].as_i64().unwrap_or(1) + 1;
                        e["count"] = json!(count);
                        e["lastTimestamp"] = json!(now);
                        Ok(())
                    })
                    .is_ok()
            {
                return;
            }
        }
        let event = json!({"metadata": {"name": format!("{name}.{}", self.suffix(10)), "namespace": ns},
            "involvedObject": {"kind": object["kind"], "apiVersion": object["apiVersion"], "name": name, "namespace": ns,
                "uid": object["metadata"]["uid"], "resourceVersion": object["metadata"]["resourceVersion"]},
            "reason": reason, "message": message, "type": if warning { "Warning" } else { "Normal" },
            "source": {"component": component}, "reportingComponent": component, "reportingInstance": "",
            "firstTimestamp": now, "lastTimestamp": now, "count": 1});
        if let Some(events) = Resource::of_kind("Event") {
            let _ = self.create(events, &ns, event, false);
        }
    }
}

impl Inner {
    /// The stored object, or 404.
    fn existing(&self, r: &Resource, key: &Key, name: &str) -> Result<Object, ApiError> {
        self.objects
            .get(r.plural)
            .and_then(|m| m.get(key))
            .cloned()
            .ok_or_else(|| ApiError::not_found(r, name))
    }

    /// Removes owner references to `uid` from every object that has one.
    fn orphan(&mut self, uid: &str) {
        for r in RESOURCES {
            let owned: Vec<Key> = self.objects.get(r.plural).map_or_else(Vec::new, |m| {
                m.iter()
                    .filter(|(_, o)| owned_by(o, uid))
                    .map(|(k, _)| k.clone())
                    .collect()
            });
            for key in owned {
                let Some(previous) = self
                    .objects
                    .get(r.plural)
                    .and_then(|m| m.get(&key))
                    .cloned()
                else {
                    continue;
                };
                let mut next = (*previous).clone();
                if let Some(refs) = next
                    .pointer_mut("/metadata/ownerReferences")
                    .and_then(Value::as_array_mut)
                {
                    refs.retain(|o| o.get("uid").and_then(Value::as_str) != Some(uid));
                }
                self.commit(r, ChangeKind::Modified, key, Some(next), Some(previous));
            }
        }
    }

    /// splitmix64: reproducible from the seed, good enough for names.
    fn next(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn uid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    fn commit(
        &mut self,
        r: &'static Resource,
        kind: ChangeKind,
        key: Key,
        object: Option<Value>,
        previous: Option<Object>,
    ) -> Object {
        self.rv += 1;
        let mut object = object.unwrap_or(Value::Null);
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let object = Arc::new(object);
        if let Some(m) = self.objects.get_mut(r.plural) {
            m.insert(key, object.clone());
        }
        self.record(r, kind, object.clone(), previous);
        object
    }

    fn remove(&mut self, r: &'static Resource, key: &Key) -> Object {
        self.rv += 1;
        let previous = self
            .objects
            .get_mut(r.plural)
            .and_then(|m| m.remove(key))
            .unwrap_or_default();
        let mut last = (*previous).clone();
        last["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let last = Arc::new(last);
        self.record(r, ChangeKind::Deleted, last.clone(), Some(previous));
        last
    }

    fn record(
        &mut self,
        r: &'static Resource,
        kind: ChangeKind,
        object: Object,
        previous: Option<Object>,
    ) {
        let change = Change {
            rv: self.rv,
            resource: r,
            kind,
            object,
            previous,
        };
        if self.ring.len() == RING {
            self.ring.pop_front();
        }
        self.ring.push_back(change.clone());
        // No watcher is fine.
        let _ = self.changes.send(change);
    }
}

fn has_generation(r: &Resource) -> bool {
    matches!(
        r.kind,
        "Deployment" | "ReplicaSet" | "HorizontalPodAutoscaler"
    )
}

/// Applies the write rules of the real registry to `next` over `previous`.
fn merge_write(r: &Resource, previous: &Value, mut next: Value, part: Part) -> Value {
    let keep = |next: &mut Value, ptr: &str| {
        if let Some(v) = previous.pointer(ptr) {
            let (parent, field) = ptr.rsplit_once('/').unwrap_or(("", ptr));
            if let Some(obj) = next.pointer_mut(parent).and_then(Value::as_object_mut) {
                obj.insert(field.to_owned(), v.clone());
            }
        }
    };
    if next.get("metadata").is_none_or(|m| !m.is_object()) {
        next["metadata"] = json!({});
    }
    for field in [
        "/metadata/uid",
        "/metadata/creationTimestamp",
        "/metadata/name",
        "/metadata/namespace",
        "/metadata/generation",
    ] {
        keep(&mut next, field);
    }
    match part {
        Part::Status => {
            // Only status changes (and a Deployment's annotations, where the
            // controller keeps its revision).
            let mut out = previous.clone();
            out["status"] = next.get("status").cloned().unwrap_or_else(|| json!({}));
            if r.kind == "Deployment"
                && let Some(a) = next.pointer("/metadata/annotations")
            {
                out["metadata"]["annotations"] = a.clone();
            }
            out
        }
        Part::Main => {
            if r.subresources.contains(&"status") {
                match previous.get("status") {
                    Some(s) => next["status"] = s.clone(),
                    None => {
                        if let Some(o) = next.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            if has_generation(r) {
                let spec_changed = previous.get("spec") != next.get("spec");
                let annotations_changed = r.kind == "Deployment"
                    && previous.pointer("/metadata/annotations")
                        != next.pointer("/metadata/annotations");
                if spec_changed || annotations_changed {
                    let generation = previous
                        .pointer("/metadata/generation")
                        .and_then(Value::as_i64)
                        .unwrap_or(1);
                    next["metadata"]["generation"] = json!(generation + 1);
                }
            }
            next["kind"] = json!(r.kind);
            next["apiVersion"] = json!(r.api_version());
            next
        }
    }
}

/// Nulls dropped (the real server decodes into Go structs, where a null
/// field is absent: `kubectl rollout undo` sends `creationTimestamp: null`
/// in the template), defaults, then validation against the k8s-openapi type.
fn prepare(r: &Resource, name: &str, object: &mut Value) -> Result<(), ApiError> {
    drop_nulls(object);
    defaults::apply(r.kind, object);
    if let Some(replicas) = object.pointer("/spec/replicas").and_then(Value::as_i64)
        && replicas < 0
    {
        return Err(ApiError::invalid(
            r,
            name,
            "spec.replicas",
            &format!("Invalid value: {replicas}: must be greater than or equal to 0"),
        ));
    }
    defaults::validate(r.kind, object).map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            r.kind, r.version, r.kind
        ))
    })
}

fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

fn owned_by(object: &Value, owner_uid: &str) -> bool {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|o| o.get("uid").and_then(Value::as_str) == Some(owner_uid))
        })
}

/// An object's store key.
pub fn key_of(object: &Value) -> Key {
    let field = |f: &str| {
        object
            .pointer(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (field("/metadata/namespace"), field("/metadata/name"))
}

/// The time now as the API writes it: RFC 3339, UTC, whole seconds.
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_report_about_the_same_object_is_one_event_that_counts() {
        let store = Store::new(1);
        let pods = Resource::of_kind("Pod").expect("pods");
        let pod = store
            .create(
                pods,
                "ns",
                json!({"metadata": {"name": "p", "namespace": "ns"}}),
                false,
            )
            .expect("pod");
        let other = store
            .create(
                pods,
                "ns",
                json!({"metadata": {"name": "q", "namespace": "ns"}}),
                false,
            )
            .expect("pod");
        for _ in 0..3 {
            store.record_event(
                &pod,
                "BackOff",
                "Back-off restarting failed container",
                true,
                "kubelet",
            );
        }
        store.record_event(&pod, "Pulled", "Container image pulled", false, "kubelet");
        store.record_event(
            &other,
            "BackOff",
            "Back-off restarting failed container",
            true,
            "kubelet",
        );
        let events = store.all(Resource::of_kind("Event").expect("events"));
        let counts: Vec<(String, String, i64)> = events
            .iter()
            .map(|e| {
                (
                    e["involvedObject"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    e["reason"].as_str().unwrap_or_default().to_owned(),
                    e["count"].as_i64().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(counts.len(), 3, "{counts:?}");
        assert!(
            counts.contains(&("p".into(), "BackOff".into(), 3)),
            "{counts:?}"
        );
        assert!(
            counts.contains(&("p".into(), "Pulled".into(), 1)),
            "{counts:?}"
        );
        assert!(
            counts.contains(&("q".into(), "BackOff".into(), 1)),
            "{counts:?}"
        );
        let backoff = events
            .iter()
            .find(|e| e["reason"] == "BackOff" && e["involvedObject"]["name"] == "p")
            .expect("the aggregated event");
        assert_eq!(backoff["type"], "Warning");
        assert!(backoff["firstTimestamp"].as_str() <= backoff["lastTimestamp"].as_str());
    }
}
