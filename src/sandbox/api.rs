//! One cluster's Kubernetes API over HTTP: discovery, list / watch / get /
//! create / update / patch / delete, the `scale` and `status`
//! subresources, dry runs, and bearer-token auth with an operator and a
//! read-only user. The wire contract is `shared/notes/kube-api.md`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::apply;
use super::discovery;
use super::error::ApiError;
use super::patch::{self, PatchType};
use super::resource::{RESOURCES, Resource};
use super::select::{FieldSelector, LabelSelector};
use super::store::{Part, Store, key_of};
use super::watch;

/// Who a bearer token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user name, as 403 messages give it.
    pub name: String,
    /// Whether the user may only read.
    pub read_only: bool,
}

/// How a cluster's API server is failing, if it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Outage {
    /// Serving.
    #[default]
    None,
    /// Behind a black-holed network: requests get no answer, open watch
    /// streams carry nothing (neither closed nor answered), until it heals.
    BlackHole,
    /// A dead server: connections refused, open ones cut.
    Dead,
}

impl std::str::FromStr for Outage {
    type Err = String;

    fn from_str(s: &str) -> Result<Outage, String> {
        match s {
            "black-hole" => Ok(Outage::BlackHole),
            "dead" => Ok(Outage::Dead),
            other => Err(format!(
                "unknown outage `{other}`: expected black-hole or dead"
            )),
        }
    }
}

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outage::None => "none",
            Outage::BlackHole => "black-hole",
            Outage::Dead => "dead",
        })
    }
}

/// The state behind one cluster's API server.
pub struct ClusterApi {
    /// The cluster's store.
    pub store: Arc<Store>,
    /// Bearer tokens and their users.
    pub tokens: HashMap<String, User>,
    /// Set by a scenario or a test: how the server is failing.
    pub outage: tokio::sync::watch::Sender<Outage>,
    /// Set by a test: every request is answered with this status (0: none).
    pub failing: std::sync::atomic::AtomicU16,
}

/// The router of one cluster's API server.
pub fn router(api: Arc<ClusterApi>) -> Router {
    Router::new().fallback(handle).with_state(api)
}

fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response()
}

fn error_response(e: &ApiError) -> Response {
    json_response(
        StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &e.status(),
    )
}

/// Where a request points.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    resource: &'static Resource,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

/// Parses `/api/v1/...` and `/apis/{group}/{version}/...`.
fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let find = |plural: &str| Resource::find(group, version, plural);
    let (namespace, rest) = match rest {
        // `/namespaces/x/pods...` is inside a namespace; `/namespaces/x[/status]` is the namespace.
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|r| r.namespaced) => {
            (Some((*ns).to_owned()), {
                let mut v = vec![*plural];
                v.extend_from_slice(tail);
                v
            })
        }
        other => (None, other.to_vec()),
    };
    let (resource, name, sub) = match rest.as_slice() {
        [plural] => (find(plural)?, None, None),
        [plural, name] => (find(plural)?, Some((*name).to_owned()), None),
        [plural, name, sub] => (
            find(plural)?,
            Some((*name).to_owned()),
            Some((*sub).to_owned()),
        ),
        _ => return None,
    };
    if let Some(s) = &sub
        && !resource.subresources.contains(&s.as_str())
    {
        return None;
    }
    Some(Target {
        resource,
        namespace,
        name,
        sub,
    })
}

/// The query string as a map (`+` is a space, as kube-rs sends it).
fn query(raw: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

async fn handle(
    State(api): State<Arc<ClusterApi>>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> Response {
    // A black hole: requests get no answer until it heals, as over TCP.
    let mut outage = api.outage.subscribe();
    let _ = outage.wait_for(|o| *o != Outage::BlackHole).await;
    let injected = api.failing.load(std::sync::atomic::Ordering::SeqCst);
    if injected != 0 {
        return error_response(&ApiError::injected(injected));
    }
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let q = query(raw.as_deref());
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    // Public, as on a real server: version and health.
    match path.as_str() {
        "/version" | "/version/" => return json_response(StatusCode::OK, &discovery::version()),
        "/healthz" | "/readyz" | "/livez" => return (StatusCode::OK, "ok").into_response(),
        _ => {}
    }
    let Some(user) = authenticate(&api, &parts.headers) else {
        return error_response(&ApiError::unauthorized());
    };
    if parts.method == Method::GET
        && let Some(r) = discovery_response(&path, &accept)
    {
        return r;
    }
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return error_response(&ApiError::bad_request("the request body could not be read"));
    };
    if parts.method == Method::POST
        && path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    {
        return access_review(&user, &parts.headers, &body);
    }
    let Some(target) = parse_path(&path) else {
        return error_response(&ApiError::no_route());
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let verb = verb_of(&parts.method, &target, &q);
    let manager = field_manager(&q, &parts.headers);
    if let Some(r) = refused_or_log(&api, &user, verb, &target, &q) {
        return r;
    }
    if verb == "watch" {
        return watch::stream(
            &api.store,
            target.resource,
            target.namespace,
            &q,
            api.outage.subscribe(),
        );
    }
    let result = dispatch(
        &api.store,
        &target,
        verb,
        &content_type,
        &body,
        &q,
        &manager,
    );
    match result {
        // kubectl asks for server-side printing; others get the objects.
        Ok((StatusCode::OK, body)) if matches!(verb, "list" | "get") && target.sub.is_none() => {
            match super::table::wanted(&accept) {
                Some(version) => {
                    let include = q.get("includeObject").map_or("Metadata", String::as_str);
                    let table = super::table::convert(
                        target.resource,
                        &body,
                        verb == "list",
                        include,
                        version,
                    );
                    json_response(StatusCode::OK, &table)
                }
                None => json_response(StatusCode::OK, &body),
            }
        }
        Ok((code, body)) => json_response(code, &body),
        Err(e) => error_response(&e),
    }
}

/// A request's verb carried out on the store.
fn dispatch(
    store: &Store,
    target: &Target,
    verb: &str,
    content_type: &str,
    body: &Bytes,
    q: &HashMap<String, String>,
    manager: &str,
) -> Result<(StatusCode, Value), ApiError> {
    match verb {
        "list" => list(store, target, q),
        "get" => get(store, target),
        "create" => create(store, target, content_type, body, q, manager),
        "update" => write(store, target, content_type, body, q, None, manager),
        "patch" => match PatchType::from_content_type(content_type) {
            Some(kind) => write(store, target, content_type, body, q, Some(kind), manager),
            None => Err(ApiError::unsupported_media_type()),
        },
        "delete" => delete(store, target, body, q),
        "deletecollection" => delete_collection(store, target, q),
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// A write by the read-only user, refused; or a pod's log, served (plain
/// text, not an object).
fn refused_or_log(
    api: &ClusterApi,
    user: &User,
    verb: &'static str,
    target: &Target,
    q: &HashMap<String, String>,
) -> Option<Response> {
    if user.read_only && !matches!(verb, "get" | "list" | "watch") {
        return Some(error_response(&ApiError::forbidden(
            &user.name,
            verb,
            target.resource,
            target.namespace.as_deref(),
        )));
    }
    if verb == "get" && target.resource.plural == "pods" && target.sub.as_deref() == Some("log") {
        let name = target.name.as_deref().unwrap_or_default();
        let served = super::logs::serve(
            &api.store,
            target.resource,
            namespace_of(target),
            name,
            q,
            api.outage.subscribe(),
        );
        return Some(served.unwrap_or_else(|e| error_response(&e)));
    }
    None
}

/// Who a write's fields are recorded for: the request's `fieldManager`,
/// else the first part of its User-Agent (`kubectl`), as the API server
/// defaults it.
fn field_manager(q: &HashMap<String, String>, headers: &HeaderMap) -> String {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.clone();
    }
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(|ua| ua.split('/').next())
        .filter(|m| !m.is_empty())
        .unwrap_or("unknown")
        .to_owned()
}

fn authenticate(api: &ClusterApi, headers: &HeaderMap) -> Option<User> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?.trim();
    api.tokens.get(token).cloned()
}

fn discovery_response(path: &str, accept: &str) -> Option<Response> {
    if let Some(rest) = path.strip_prefix("/openapi/v3") {
        let doc = match rest.trim_matches('/') {
            "" => discovery::openapi_root(),
            gv => discovery::openapi_group_version(gv)?,
        };
        return Some(json_response(StatusCode::OK, &doc));
    }
    let aggregated = discovery::wants_aggregated(accept);
    let body = match path.trim_end_matches('/') {
        "/api" if aggregated => discovery::aggregated(true),
        "/apis" if aggregated => discovery::aggregated(false),
        "/api" => discovery::api_versions(),
        "/apis" => discovery::api_group_list(),
        "/api/v1" => discovery::resource_list("", "v1")?,
        other => {
            let segs: Vec<&str> = other.trim_matches('/').split('/').collect();
            match segs.as_slice() {
                ["apis", g, v] => discovery::resource_list(g, v)?,
                _ => return None,
            }
        }
    };
    let content_type = if aggregated && matches!(path.trim_end_matches('/'), "/api" | "/apis") {
        discovery::AGGREGATED
    } else {
        "application/json"
    };
    Some(
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type)],
            serde_json::to_vec(&body).unwrap_or_default(),
        )
            .into_response(),
    )
}

fn verb_of(method: &Method, t: &Target, q: &HashMap<String, String>) -> &'static str {
    let watching = q.get("watch").is_some_and(|w| w == "true" || w == "1");
    match (method.as_str(), t.name.is_some()) {
        ("GET", false) if watching => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", false) => "create",
        ("PUT", true) => "update",
        ("PATCH", true) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unsupported",
    }
}

fn dry_run(q: &HashMap<String, String>) -> bool {
    q.get("dryRun").is_some_and(|d| d == "All")
}

/// The filter of a list or watch: label and field selectors.
pub fn selectors(
    r: &Resource,
    q: &HashMap<String, String>,
) -> Result<impl Fn(&Value) -> bool + Send + Sync + 'static, ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").map_or("", String::as_str))
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(r.kind, q.get("fieldSelector").map_or("", String::as_str))
        .map_err(ApiError::bad_request)?;
    Ok(move |o: &Value| labels.matches(o) && fields.matches(o))
}

fn list(
    store: &Store,
    t: &Target,
    q: &HashMap<String, String>,
) -> Result<(StatusCode, Value), ApiError> {
    let filter = selectors(t.resource, q)?;
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let after = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            if q.get("resourceVersion").is_some_and(|rv| !rv.is_empty()) {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            Some(decode_continue(token).ok_or_else(|| {
                ApiError::expired("The provided continue parameter is too old to display a consistent list result.")
            })?)
        }
        None => None,
    };
    let (rv, items, more) = store.list(
        t.resource,
        t.namespace.as_deref(),
        &filter,
        limit,
        after.as_ref().map(|(_, k)| k),
    );
    let list_rv = after.as_ref().map_or(rv, |(rv, _)| *rv);
    let mut metadata = json!({"resourceVersion": list_rv.to_string()});
    if let Some(key) = more {
        metadata["continue"] = json!(encode_continue(list_rv, &key));
    }
    let items: Vec<&Value> = items.iter().map(AsRef::as_ref).collect();
    Ok((
        StatusCode::OK,
        json!({"kind": format!("{}List", t.resource.kind), "apiVersion": t.resource.api_version(), "metadata": metadata, "items": items}),
    ))
}

/// An opaque continue token: the list's resourceVersion and the last key, hex-encoded.
fn encode_continue(rv: u64, key: &(String, String)) -> String {
    format!("{rv}\u{0}{}\u{0}{}", key.0, key.1)
        .bytes()
        .fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn decode_continue(token: &str) -> Option<(u64, (String, String))> {
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| {
            token
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let mut parts = text.split('\u{0}');
    let rv = parts.next()?.parse().ok()?;
    Some((rv, (parts.next()?.to_owned(), parts.next()?.to_owned())))
}

fn namespace_of(t: &Target) -> &str {
    t.namespace.as_deref().unwrap_or("")
}

fn get(store: &Store, t: &Target) -> Result<(StatusCode, Value), ApiError> {
    let name = t.name.as_deref().unwrap_or_default();
    let object = store
        .get(t.resource, namespace_of(t), name)
        .ok_or_else(|| ApiError::not_found(t.resource, name))?;
    Ok((
        StatusCode::OK,
        match t.sub.as_deref() {
            Some("scale") => scale_of(&object),
            _ => (*object).clone(),
        },
    ))
}

fn parse_body(content_type: &str, body: &Bytes) -> Result<Value, ApiError> {
    if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        return Err(ApiError::unsupported_media_type());
    }
    if content_type.starts_with("application/apply-patch+yaml") {
        // An applied configuration may be YAML (JSON is YAML too).
        return serde_yaml_ng::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("the request body is not valid YAML: {e}"))
        });
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

fn create(
    store: &Store,
    t: &Target,
    content_type: &str,
    body: &Bytes,
    q: &HashMap<String, String>,
    manager: &str,
) -> Result<(StatusCode, Value), ApiError> {
    if t.name.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    let mut object = apply::applied_config(parse_body(content_type, body)?);
    apply::record_create(&mut object, t.resource, manager, "Update");
    let created = store.create(t.resource, namespace_of(t), object, dry_run(q))?;
    Ok((StatusCode::CREATED, (*created).clone()))
}

/// PUT or PATCH, on the object, its status or its scale. A server-side
/// apply of an object that does not exist creates it.
fn write(
    store: &Store,
    t: &Target,
    content_type: &str,
    body: &Bytes,
    q: &HashMap<String, String>,
    patch_type: Option<PatchType>,
    manager: &str,
) -> Result<(StatusCode, Value), ApiError> {
    let name = t.name.as_deref().unwrap_or_default();
    let input = parse_body(content_type, body)?;
    let ns = namespace_of(t);
    if patch_type == Some(PatchType::Apply) {
        return server_side_apply(store, t, input, q);
    }
    if t.sub.as_deref() == Some("scale") {
        return write_scale(store, t, &input, q, patch_type, manager);
    }
    let part = if t.sub.as_deref() == Some("status") {
        Part::Status
    } else {
        Part::Main
    };
    let updated = store.modify(t.resource, ns, name, part, dry_run(q), |current| {
        let previous = current.clone();
        match patch_type {
            None => *current = apply::applied_config(input),
            Some(kind) => {
                // A patch carries no resourceVersion precondition unless it sets one.
                let rv = current.pointer("/metadata/resourceVersion").cloned();
                patch::apply(kind, current, &input)?;
                if input.pointer("/metadata/resourceVersion").is_none()
                    && let Some(rv) = rv
                {
                    current["metadata"]["resourceVersion"] = rv;
                }
            }
        }
        if part == Part::Main {
            apply::record_update(&previous, current, t.resource, manager, None);
        } else if let Some(m) = previous.pointer("/metadata/managedFields") {
            current["metadata"]["managedFields"] = m.clone();
        }
        Ok(())
    })?;
    Ok((StatusCode::OK, (*updated).clone()))
}

/// A server-side apply (`application/apply-patch+yaml`): creates the
/// object if it is not there, else merges the applied configuration with
/// the field ownership rules of [`apply::server_side`].
fn server_side_apply(
    store: &Store,
    t: &Target,
    input: Value,
    q: &HashMap<String, String>,
) -> Result<(StatusCode, Value), ApiError> {
    let name = t.name.as_deref().unwrap_or_default();
    let ns = namespace_of(t);
    let Some(manager) = q.get("fieldManager").filter(|m| !m.is_empty()) else {
        return Err(ApiError::bad_request(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    };
    if t.sub.is_some() {
        return Err(ApiError::method_not_allowed());
    }
    if !input.is_object() || input.get("metadata").is_some_and(|m| !m.is_object()) {
        return Err(ApiError::bad_request(
            "an applied configuration is an object whose metadata is an object",
        ));
    }
    let config = apply::applied_config(input);
    if store.get(t.resource, ns, name).is_none() {
        let mut object = config;
        apply::record_create(&mut object, t.resource, manager, "Apply");
        let created = store.create(t.resource, ns, object, dry_run(q))?;
        return Ok((StatusCode::CREATED, (*created).clone()));
    }
    let force = q.get("force").is_some_and(|f| f == "true");
    let updated = store.modify(t.resource, ns, name, Part::Main, dry_run(q), |current| {
        apply::server_side(t.resource, name, current, &config, manager, force)
    })?;
    Ok((StatusCode::OK, (*updated).clone()))
}

/// The `autoscaling/v1` Scale of a Deployment or ReplicaSet.
pub fn scale_of(object: &Value) -> Value {
    let selector = object
        .pointer("/spec/selector")
        .map(LabelSelector::from_label_selector)
        .unwrap_or_default();
    let meta = &object["metadata"];
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"]},
        "spec": {"replicas": object.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
        "status": {"replicas": object.pointer("/status/replicas").cloned().unwrap_or(json!(0)), "selector": selector.to_query()}})
}

fn write_scale(
    store: &Store,
    t: &Target,
    input: &Value,
    q: &HashMap<String, String>,
    patch_type: Option<PatchType>,
    manager: &str,
) -> Result<(StatusCode, Value), ApiError> {
    let name = t.name.as_deref().unwrap_or_default();
    let updated = store.modify(
        t.resource,
        namespace_of(t),
        name,
        Part::Main,
        dry_run(q),
        |current| {
            let mut scale = scale_of(current);
            match patch_type {
                Some(kind) => patch::apply(kind, &mut scale, input)?,
                None => scale = input.clone(),
            }
            let replicas = scale
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .ok_or_else(|| {
                    ApiError::invalid(t.resource, name, "spec.replicas", "Required value")
                })?;
            let previous = current.clone();
            current["spec"]["replicas"] = json!(replicas);
            apply::record_update(&previous, current, t.resource, manager, Some("scale"));
            // A resourceVersion in the Scale is a precondition on the
            // object, as the API server enforces it: the store answers 409
            // when it is not the current one.
            if let Some(rv) = scale
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
            {
                current["metadata"]["resourceVersion"] = json!(rv);
            }
            Ok(())
        },
    )?;
    Ok((StatusCode::OK, scale_of(&updated)))
}

fn delete(
    store: &Store,
    t: &Target,
    body: &Bytes,
    q: &HashMap<String, String>,
) -> Result<(StatusCode, Value), ApiError> {
    let name = t.name.as_deref().unwrap_or_default();
    let options: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(body).unwrap_or_else(|_| json!({}))
    };
    let dry = dry_run(q)
        || options
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|x| x == "All"));
    let orphan = options.get("propagationPolicy").and_then(Value::as_str) == Some("Orphan")
        || q.get("propagationPolicy").is_some_and(|p| p == "Orphan")
        || options.get("orphanDependents").and_then(Value::as_bool) == Some(true);
    // Preconditions, as the API server checks them: a uid or
    // resourceVersion that is no longer the object's is a 409.
    if let Some(pre) = options.get("preconditions")
        && let Some(current) = store.get(t.resource, namespace_of(t), name)
    {
        for (field, pointer) in [
            ("UID", "/metadata/uid"),
            ("ResourceVersion", "/metadata/resourceVersion"),
        ] {
            let key = if field == "UID" {
                "uid"
            } else {
                "resourceVersion"
            };
            if let Some(wanted) = pre.get(key).and_then(Value::as_str) {
                let actual = current
                    .pointer(pointer)
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if wanted != actual {
                    return Err(ApiError::precondition(
                        t.resource, name, field, wanted, actual,
                    ));
                }
            }
        }
    }
    let gone = store.delete_with(t.resource, namespace_of(t), name, dry, orphan)?;
    Ok((StatusCode::OK, (*gone).clone()))
}

fn delete_collection(
    store: &Store,
    t: &Target,
    q: &HashMap<String, String>,
) -> Result<(StatusCode, Value), ApiError> {
    let filter = selectors(t.resource, q)?;
    let (_, items, _) = store.list(t.resource, t.namespace.as_deref(), &filter, None, None);
    let mut deleted = Vec::new();
    for item in items {
        let (ns, name) = key_of(&item);
        if let Ok(gone) = store.delete(t.resource, &ns, &name, dry_run(q)) {
            deleted.push((*gone).clone());
        }
    }
    Ok((
        StatusCode::OK,
        json!({"kind": format!("{}List", t.resource.kind), "apiVersion": t.resource.api_version(),
            "metadata": {"resourceVersion": store.rv().to_string()}, "items": deleted}),
    ))
}

/// SelfSubjectAccessReview from kube-rs (JSON). kubectl sends protobuf,
/// which is answered 415 for now.
fn access_review(user: &User, headers: &HeaderMap, body: &Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let review = match parse_body(content_type, body) {
        Ok(v) => v,
        Err(e) => return error_response(&e),
    };
    let verb = review
        .pointer("/spec/resourceAttributes/verb")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let allowed = !user.read_only || matches!(verb, "get" | "list" | "watch");
    let mut out = review.clone();
    out["kind"] = json!("SelfSubjectAccessReview");
    out["apiVersion"] = json!("authorization.k8s.io/v1");
    out["metadata"] = json!({"creationTimestamp": null});
    out["status"] = if allowed {
        json!({"allowed": true})
    } else {
        json!({"allowed": false, "denied": true, "reason": format!("user {} may only read", user.name)})
    };
    json_response(StatusCode::CREATED, &out)
}

/// Every resource the server knows, for tests and the sandbox summary.
pub fn served() -> impl Iterator<Item = &'static Resource> {
    RESOURCES.iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_like_the_api_server() {
        let t = parse_path("/api/v1/namespaces/prod/pods").expect("pods");
        assert_eq!(
            (t.resource.plural, t.namespace.as_deref(), t.name.as_deref()),
            ("pods", Some("prod"), None)
        );
        let t = parse_path("/api/v1/namespaces/prod").expect("a namespace");
        assert_eq!(
            (t.resource.plural, t.name.as_deref()),
            ("namespaces", Some("prod"))
        );
        let t = parse_path("/apis/apps/v1/namespaces/prod/deployments/web/scale").expect("scale");
        assert_eq!(
            (t.resource.kind, t.sub.as_deref()),
            ("Deployment", Some("scale"))
        );
        let t = parse_path("/api/v1/pods").expect("all pods");
        assert_eq!(t.namespace, None);
        assert!(parse_path("/api/v1/namespaces/prod/pods/p/exec").is_none());
        assert!(parse_path("/apis/apps/v2/deployments").is_none());
    }

    #[test]
    fn continue_tokens_round_trip() {
        let key = ("prod".to_owned(), "web-1".to_owned());
        assert_eq!(
            decode_continue(&encode_continue(1042, &key)),
            Some((1042, key))
        );
        assert_eq!(decode_continue("zz"), None);
    }
}
