//! The clouds' node groups in their own protocols, over the simulated
//! clusters' nodes.
//!
//! Amazon EKS in the REST JSON protocol `aws-sdk-eks` speaks, the subset
//! sizing a managed node group needs: `ListNodegroups`,
//! `DescribeNodegroup`, `UpdateNodegroupConfig` (its `scalingConfig`) and
//! `DescribeUpdate`; errors as EKS sends them (`x-amzn-ErrorType`, a JSON
//! `message`). Azure Resource Manager's AKS agent pools (api-version
//! 2025-01-01): the list, a pool's read, its `PUT` (node count, or the
//! autoscaler's `minCount` / `maxCount`), answered with an
//! `Azure-AsyncOperation` to follow, and those operations.
//!
//! A change takes simulated time, as it takes real time in the clouds:
//! the group is `UPDATING` (`Updating`) meanwhile; new nodes register
//! NotReady after [`JOIN`] and turn Ready after [`READY`]; nodes removed
//! are cordoned, then deleted after [`DRAIN`] with their pods (their
//! ReplicaSets make them again elsewhere). The update succeeds once the
//! group has its count of nodes, every one Ready.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::cloudwatch::{ACCOUNT, AWS_REGION};
use super::controller::Clock;
use super::resource::Resource;
use super::store::{Part, Store};
use super::world::{self, ClusterShape};

/// Tokyo's EKS cluster, by the seed's name.
pub const EKS_CLUSTER: &str = "iworkz-production";
/// Korea's AKS cluster.
pub const AKS_CLUSTER: &str = "iworkz-dr-aks";
/// The agent pools' api-version.
pub const AKS_API_VERSION: &str = "2025-01-01";
/// How long (simulated) a new node takes to register with the cluster.
pub const JOIN: Duration = Duration::from_secs(3);
/// How long (simulated) from the change until the new nodes are Ready.
pub const READY: Duration = Duration::from_secs(6);
/// How long (simulated) a node removed is cordoned before it is deleted.
pub const DRAIN: Duration = Duration::from_secs(3);
/// Where the AKS cluster is.
const LOCATION: &str = "koreacentral";

/// AKS's managed cluster resource id.
pub fn aks_id() -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ContainerService/managedClusters/{AKS_CLUSTER}",
        super::azure::SUBSCRIPTION,
        super::azure::RESOURCE_GROUP
    )
}

/// A change under way.
#[derive(Debug, Clone)]
struct Change {
    /// The EKS update's id, or the ARM operation's.
    id: String,
    /// When it was made (simulated).
    since: Duration,
}

#[derive(Debug, Clone)]
struct Pool {
    shape: ClusterShape,
    name: &'static str,
    min: u32,
    max: u32,
    desired: u32,
    /// AKS: whether the cluster autoscaler sizes it (between min and max).
    autoscale: bool,
    /// AKS: a System pool (runs the cluster's own pods: at least one node).
    system: bool,
    instance_types: &'static [&'static str],
    modified: jiff::Timestamp,
    change: Option<Change>,
}

impl Pool {
    fn label(&self) -> &'static str {
        match self.shape {
            ClusterShape::EksTokyo => "eks.amazonaws.com/nodegroup",
            ClusterShape::AksKorea => "agentpool",
        }
    }
}

/// An EKS update or an ARM operation, as it stands.
#[derive(Debug, Clone)]
struct Update {
    id: String,
    pool: &'static str,
    params: Vec<(&'static str, String)>,
    created: jiff::Timestamp,
    ended: Option<jiff::Timestamp>,
}

struct Kept {
    pools: Vec<Pool>,
    updates: Vec<Update>,
    /// Ids and names made so far.
    made: u64,
}

/// The node groups of both clusters.
pub struct NodePools {
    clock: Clock,
    /// Tokyo's store, then Korea's.
    stores: [Arc<Store>; 2],
    token: String,
    kept: Mutex<Kept>,
}

fn node_resource() -> Option<&'static Resource> {
    Resource::of_kind("Node")
}

/// A node of a pool: its name, whether it is Ready, whether cordoned.
struct Seen {
    name: String,
    ready: bool,
    created: String,
}

impl NodePools {
    /// The seed's node groups over the clusters' stores (Tokyo's, then
    /// Korea's); `token` is ARM's bearer token.
    pub fn new(clock: Clock, stores: [Arc<Store>; 2], token: String) -> NodePools {
        let now = jiff::Timestamp::now();
        let mut pools = Vec::new();
        for shape in [ClusterShape::EksTokyo, ClusterShape::AksKorea] {
            for (i, p) in world::pools(shape).into_iter().enumerate() {
                pools.push(Pool {
                    shape,
                    name: p.name,
                    min: p.min,
                    max: p.max,
                    desired: p.count,
                    autoscale: false,
                    system: shape == ClusterShape::AksKorea && i == 0,
                    instance_types: p.instance_types,
                    modified: now,
                    change: None,
                });
            }
        }
        NodePools {
            clock,
            stores,
            token,
            kept: Mutex::new(Kept {
                pools,
                updates: Vec::new(),
                made: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kept> {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn store(&self, shape: ClusterShape) -> &Store {
        let [tokyo, korea] = &self.stores;
        match shape {
            ClusterShape::EksTokyo => tokyo,
            ClusterShape::AksKorea => korea,
        }
    }

    /// A pool's nodes, newest first.
    fn nodes(&self, p: &Pool) -> Vec<Seen> {
        let Some(r) = node_resource() else {
            return Vec::new();
        };
        let mut nodes: Vec<Seen> = self
            .store(p.shape)
            .all(r)
            .iter()
            .filter(|n| {
                n.pointer(&format!(
                    "/metadata/labels/{}",
                    p.label().replace('/', "~1")
                ))
                .and_then(Value::as_str)
                    == Some(p.name)
            })
            .map(|n| Seen {
                name: text(n, "/metadata/name"),
                ready: n
                    .pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|cs| {
                        cs.iter().any(|c| {
                            c.get("type").and_then(Value::as_str) == Some("Ready")
                                && c.get("status").and_then(Value::as_str) == Some("True")
                        })
                    }),
                created: text(n, "/metadata/creationTimestamp"),
            })
            .collect();
        nodes.sort_by(|a, b| (&b.created, &b.name).cmp(&(&a.created, &a.name)));
        nodes
    }

    /// Moves every change on by the simulated time passed: nodes join,
    /// turn Ready, are cordoned and deleted; a change whose pool has its
    /// nodes, all Ready, ends.
    pub fn pass(&self) {
        let now = self.clock.now();
        let mut kept = self.lock();
        let Kept {
            pools,
            updates,
            made,
        } = &mut *kept;
        for p in pools.iter_mut() {
            let Some(change) = p.change.clone() else {
                continue;
            };
            let since = now.saturating_sub(change.since);
            let nodes = self.nodes(p);
            let want = usize::try_from(p.desired).unwrap_or(usize::MAX);
            if nodes.len() < want && since >= JOIN {
                for _ in nodes.len()..want {
                    *made += 1;
                    self.join(p, *made);
                }
            }
            if since >= READY {
                for n in nodes.iter().filter(|n| !n.ready) {
                    self.set_ready(p.shape, &n.name);
                }
            }
            if nodes.len() > want {
                let extra = nodes.get(..nodes.len() - want).unwrap_or_default();
                for n in extra {
                    if since >= DRAIN {
                        self.remove(p.shape, &n.name);
                    } else {
                        self.cordon(p.shape, &n.name);
                    }
                }
            }
            let nodes = self.nodes(p);
            if nodes.len() == want && nodes.iter().all(|n| n.ready) {
                p.change = None;
                p.modified = jiff::Timestamp::now();
                if let Some(u) = updates.iter_mut().find(|u| u.id == change.id) {
                    u.ended = Some(jiff::Timestamp::now());
                }
            }
        }
    }

    /// A new node of `p`, NotReady: the kubelet registered, the network
    /// not up yet.
    fn join(&self, p: &Pool, n: u64) {
        let i = usize::try_from(n).unwrap_or(0);
        let zones = world::zones(p.shape);
        let zone = zones.get(i % zones.len()).copied().unwrap_or_default();
        let name = match p.shape {
            ClusterShape::EksTokyo => format!(
                "ip-10-0-{}-{}.{AWS_REGION}.compute.internal",
                16 * (i % 3) + 2,
                10 + i
            ),
            ClusterShape::AksKorea => format!(
                "aks-{}-31415926-vmss{:06}",
                p.name.replace('-', ""),
                100 + i
            ),
        };
        let Some(mut node) = world::pool_node(p.shape, p.name, &name, zone, i) else {
            return;
        };
        if let Some(cs) = node
            .pointer_mut("/status/conditions")
            .and_then(Value::as_array_mut)
        {
            for c in cs.iter_mut().filter(|c| c["type"] == "Ready") {
                c["status"] = json!("False");
                c["reason"] = json!("KubeletNotReady");
                c["message"] = json!("container runtime network not ready: NetworkReady=false");
            }
        }
        if let Some(r) = node_resource()
            && let Err(e) = self.store(p.shape).create(r, "", node, false)
        {
            tracing::error!("sandbox node pools: cannot add {name}: {}", e.message);
        }
    }

    fn set_ready(&self, shape: ClusterShape, name: &str) {
        let Some(r) = node_resource() else {
            return;
        };
        let now = super::store::now_rfc3339();
        let _ = self
            .store(shape)
            .modify(r, "", name, Part::Status, false, |n| {
                if let Some(cs) = n
                    .pointer_mut("/status/conditions")
                    .and_then(Value::as_array_mut)
                {
                    for c in cs.iter_mut().filter(|c| c["type"] == "Ready") {
                        c["status"] = json!("True");
                        c["reason"] = json!("KubeletReady");
                        c["message"] = json!("kubelet is posting ready status");
                        c["lastTransitionTime"] = json!(now);
                    }
                }
                Ok(())
            });
    }

    fn cordon(&self, shape: ClusterShape, name: &str) {
        let Some(r) = node_resource() else {
            return;
        };
        let _ = self
            .store(shape)
            .modify(r, "", name, Part::Main, false, |n| {
                n["spec"]["unschedulable"] = json!(true);
                Ok(())
            });
    }

    /// Deletes a node and the pods bound to it.
    fn remove(&self, shape: ClusterShape, name: &str) {
        let store = self.store(shape);
        if let Some(pods) = Resource::of_kind("Pod") {
            for p in store.all(pods) {
                if p.pointer("/spec/nodeName").and_then(Value::as_str) == Some(name) {
                    let _ = store.delete(
                        pods,
                        &text(&p, "/metadata/namespace"),
                        &text(&p, "/metadata/name"),
                        false,
                    );
                }
            }
        }
        if let Some(r) = node_resource() {
            let _ = store.delete(r, "", name, false);
        }
    }

    /// A change of `p` to the sizes given, the update's id; or the
    /// refusal (status, code, message).
    fn change(
        &self,
        shape: ClusterShape,
        pool: &str,
        min: Option<u32>,
        desired: Option<u32>,
        max: Option<u32>,
        autoscale: Option<bool>,
    ) -> Result<Update, (StatusCode, &'static str, String)> {
        let now = self.clock.now();
        let mut kept = self.lock();
        let Kept {
            pools,
            updates,
            made,
        } = &mut *kept;
        let Some(p) = pools
            .iter_mut()
            .find(|p| p.shape == shape && p.name == pool)
        else {
            return Err(not_found(shape, pool));
        };
        if p.change.is_some() {
            return Err(match shape {
                ClusterShape::EksTokyo => (
                    StatusCode::CONFLICT,
                    "ResourceInUseException",
                    format!(
                        "Nodegroup {pool} is currently being updated: wait for update to complete"
                    ),
                ),
                ClusterShape::AksKorea => (
                    StatusCode::CONFLICT,
                    "OperationNotAllowed",
                    format!(
                        "Operation is not allowed because there's an in progress update agent pool operation on agent pool '{pool}'. Please wait for it to finish before starting a new operation."
                    ),
                ),
            });
        }
        let (lo, want, hi) = (
            min.unwrap_or(p.min),
            desired.unwrap_or(p.desired),
            max.unwrap_or(p.max),
        );
        let scaled = autoscale.unwrap_or(p.autoscale);
        if let Some(refused) = refusal(shape, p, (lo, want, hi), scaled, desired) {
            return Err(refused);
        }
        *made += 1;
        let id = uuid(*made);
        let mut params = Vec::new();
        for (k, old, new) in [
            ("MinSize", p.min, lo),
            ("MaxSize", p.max, hi),
            ("DesiredSize", p.desired, want),
        ] {
            if old != new || shape == ClusterShape::EksTokyo {
                params.push((k, new.to_string()));
            }
        }
        (p.min, p.desired, p.max, p.autoscale) = (lo, want, hi, scaled);
        p.change = Some(Change {
            id: id.clone(),
            since: now,
        });
        let u = Update {
            id,
            pool: p.name,
            params,
            created: jiff::Timestamp::now(),
            ended: None,
        };
        updates.push(u.clone());
        Ok(u)
    }

    /// The pools of a cluster, as its cloud reports them.
    fn pools(&self, shape: ClusterShape) -> Vec<Pool> {
        self.pass();
        self.lock()
            .pools
            .iter()
            .filter(|p| p.shape == shape)
            .cloned()
            .collect()
    }

    fn update(&self, id: &str) -> Option<Update> {
        self.pass();
        self.lock().updates.iter().find(|u| u.id == id).cloned()
    }
}

/// Why the cloud refuses sizes `(lo, want, hi)` of `p` (`scaled`: with
/// its autoscaler; `desired`: the count asked for, if any), as it words it.
fn refusal(
    shape: ClusterShape,
    p: &Pool,
    (lo, want, hi): (u32, u32, u32),
    scaled: bool,
    desired: Option<u32>,
) -> Option<(StatusCode, &'static str, String)> {
    let pool = p.name;
    let invalid = |m: String| match shape {
        ClusterShape::EksTokyo => (StatusCode::BAD_REQUEST, "InvalidParameterException", m),
        ClusterShape::AksKorea => (StatusCode::BAD_REQUEST, "InvalidParameter", m),
    };
    if shape == ClusterShape::EksTokyo {
        if hi < 1 {
            return Some(invalid("Maximum capacity must be at least 1".into()));
        }
        if lo > hi {
            return Some(invalid(format!(
                "Minimum capacity {lo} can't be greater than max size {hi}"
            )));
        }
        if want > hi {
            return Some(invalid(format!(
                "Desired capacity {want} can't be greater than max size {hi}"
            )));
        }
        if want < lo {
            return Some(invalid(format!(
                "Minimum capacity {lo} can't be greater than desired size {want}"
            )));
        }
        if (lo, want, hi) == (p.min, p.desired, p.max) {
            return Some(invalid("No changes needed".into()));
        }
    } else {
        if p.system && want < 1 {
            return Some(invalid(format!(
                "The count of System agent pool '{pool}' must be at least 1."
            )));
        }
        if scaled && (want < lo || want > hi || lo > hi) {
            return Some(invalid(format!(
                "The value of parameter agentPoolProfile.count ({want}) must be within minCount ({lo}) and maxCount ({hi}) when enableAutoScaling is true."
            )));
        }
        if p.autoscale && scaled && desired.is_some_and(|d| d != p.desired) {
            return Some(invalid(format!(
                "Cannot change the node count of agent pool '{pool}' while its cluster autoscaler is enabled: change minCount and maxCount instead."
            )));
        }
        if !scaled && (lo, hi) != (p.min, p.max) {
            return Some(invalid(format!(
                "minCount and maxCount of agent pool '{pool}' can be set only when enableAutoScaling is true."
            )));
        }
    }
    None
}

fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A UUID-shaped id, different for each `n`.
fn uuid(n: u64) -> String {
    let x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995_1234_5678;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        x >> 32,
        (x >> 16) & 0xffff,
        x & 0xfff,
        (x >> 20) & 0xfff,
        x.rotate_left(17) & 0xffff_ffff_ffff
    )
}

fn not_found(shape: ClusterShape, pool: &str) -> (StatusCode, &'static str, String) {
    match shape {
        ClusterShape::EksTokyo => (
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("No node group found for name: {pool}."),
        ),
        ClusterShape::AksKorea => (
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("Could not find agent pool '{pool}' in managed cluster '{AKS_CLUSTER}'."),
        ),
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

// ---- Amazon EKS --------------------------------------------------------

/// EKS's routes (REST JSON, at its paths).
pub fn eks_router(pools: Arc<NodePools>) -> Router {
    Router::new()
        .route("/clusters/{name}/node-groups", get(eks_list))
        .route("/clusters/{name}/node-groups/{group}", get(eks_describe))
        .route(
            "/clusters/{name}/node-groups/{group}/update-config",
            post(eks_update),
        )
        .route("/clusters/{name}/updates/{id}", get(eks_describe_update))
        .with_state(pools)
}

fn eks_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [
            ("x-amzn-errortype", code),
            ("content-type", "application/json"),
        ],
        json!({ "message": message }).to_string(),
    )
        .into_response()
}

fn eks_cluster(name: &str) -> Option<Response> {
    (name != EKS_CLUSTER).then(|| {
        eks_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("No cluster found for name: {name}."),
        )
    })
}

fn epoch(t: jiff::Timestamp) -> f64 {
    t.as_duration().as_secs_f64()
}

fn eks_nodegroup(p: &Pool) -> Value {
    let arn_id = uuid(u64::from(p.max) * 131 + p.name.len() as u64);
    json!({
        "nodegroupName": p.name,
        "nodegroupArn": format!("arn:aws:eks:{AWS_REGION}:{ACCOUNT}:nodegroup/{EKS_CLUSTER}/{}/{arn_id}", p.name),
        "clusterName": EKS_CLUSTER,
        "version": "1.33",
        "releaseVersion": "1.33.0-20250715",
        "createdAt": 1_700_000_000.0,
        "modifiedAt": epoch(p.modified),
        "status": if p.change.is_some() { "UPDATING" } else { "ACTIVE" },
        "capacityType": "ON_DEMAND",
        "scalingConfig": { "minSize": p.min, "maxSize": p.max, "desiredSize": p.desired },
        "instanceTypes": p.instance_types,
        "subnets": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002", "subnet-0a1b2c3d4e5f60003"],
        "amiType": "AL2023_x86_64_STANDARD",
        "nodeRole": format!("arn:aws:iam::{ACCOUNT}:role/iworkz-production-node"),
        "labels": {},
        "resources": { "autoScalingGroups": [{ "name": format!("eks-{}-{arn_id}", p.name) }] },
        "health": { "issues": [] },
        "updateConfig": { "maxUnavailable": 1 },
        "tags": {},
    })
}

fn eks_update_json(u: &Update) -> Value {
    json!({ "update": {
        "id": u.id,
        "status": if u.ended.is_some() { "Successful" } else { "InProgress" },
        "type": "ConfigUpdate",
        "params": u.params.iter().map(|(k, v)| json!({ "type": k, "value": v })).collect::<Vec<_>>(),
        "createdAt": epoch(u.created),
        "errors": [],
    }})
}

async fn eks_list(State(pools): State<Arc<NodePools>>, Path(name): Path<String>) -> Response {
    if let Some(r) = eks_cluster(&name) {
        return r;
    }
    let names: Vec<&str> = pools
        .pools(ClusterShape::EksTokyo)
        .iter()
        .map(|p| p.name)
        .collect();
    json_response(StatusCode::OK, &json!({ "nodegroups": names }))
}

async fn eks_describe(
    State(pools): State<Arc<NodePools>>,
    Path((name, group)): Path<(String, String)>,
) -> Response {
    if let Some(r) = eks_cluster(&name) {
        return r;
    }
    let all = pools.pools(ClusterShape::EksTokyo);
    if let Some(p) = all.iter().find(|p| p.name == group) {
        return json_response(StatusCode::OK, &json!({ "nodegroup": eks_nodegroup(p) }));
    }
    let (status, code, message) = not_found(ClusterShape::EksTokyo, &group);
    eks_error(status, code, &message)
}

fn size(v: &Value, key: &str) -> Result<Option<u32>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("{key} must be a non-negative integer")),
    }
}

async fn eks_update(
    State(pools): State<Arc<NodePools>>,
    Path((name, group)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    if let Some(r) = eks_cluster(&name) {
        return r;
    }
    let invalid = |m: &str| eks_error(StatusCode::BAD_REQUEST, "InvalidParameterException", m);
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return invalid("The request body is not valid JSON");
    };
    for key in ["labels", "taints", "updateConfig", "nodeRepairConfig"] {
        if v.get(key).is_some() {
            return invalid(&format!(
                "the sandbox's EKS updates scalingConfig only, not {key}"
            ));
        }
    }
    let Some(scaling) = v.get("scalingConfig") else {
        return invalid("No changes needed");
    };
    let sizes = (
        size(scaling, "minSize"),
        size(scaling, "desiredSize"),
        size(scaling, "maxSize"),
    );
    let (Ok(min), Ok(desired), Ok(max)) = sizes else {
        return invalid("scalingConfig sizes must be non-negative integers");
    };
    match pools.change(ClusterShape::EksTokyo, &group, min, desired, max, None) {
        Ok(u) => json_response(StatusCode::OK, &eks_update_json(&u)),
        Err((s, c, m)) => eks_error(s, c, &m),
    }
}

async fn eks_describe_update(
    State(pools): State<Arc<NodePools>>,
    Path((name, id)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Some(r) = eks_cluster(&name) {
        return r;
    }
    let group = q
        .iter()
        .find(|(k, _)| k == "nodegroupName")
        .map(|(_, v)| v.as_str());
    match pools.update(&id) {
        Some(u) if group.is_none_or(|g| g == u.pool) => {
            json_response(StatusCode::OK, &eks_update_json(&u))
        }
        _ => eks_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("No update found for ID: {id}."),
        ),
    }
}

// ---- AKS agent pools (Azure Resource Manager) --------------------------

/// The agent pools' routes, at ARM's paths (merged into the sandbox's
/// Resource Manager).
pub fn arm_router(pools: Arc<NodePools>) -> Router {
    Router::new()
        .route(
            "/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{cluster}/agentPools",
            get(aks_list),
        )
        .route(
            "/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{cluster}/agentPools/{pool}",
            get(aks_get).put(aks_put),
        )
        .route(
            "/subscriptions/{sub}/providers/Microsoft.ContainerService/locations/{location}/operations/{id}",
            get(aks_operation),
        )
        .with_state(pools)
}

fn arm_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({ "error": { "code": code, "message": message } }),
    )
}

/// ARM's refusal of a request without the token or an api-version, or
/// one off the AKS cluster.
fn aks_refused(
    pools: &NodePools,
    headers: &HeaderMap,
    query: &[(String, String)],
    cluster: Option<(&str, &str, &str)>,
) -> Option<Response> {
    if let Some(r) = super::azure::unauthorised(&pools.token, headers, query) {
        return Some(r);
    }
    let (sub, group, name) = cluster?;
    (!(sub.eq_ignore_ascii_case(super::azure::SUBSCRIPTION)
        && group.eq_ignore_ascii_case(super::azure::RESOURCE_GROUP)
        && name.eq_ignore_ascii_case(AKS_CLUSTER)))
    .then(|| {
        arm_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            &format!("The Resource 'Microsoft.ContainerService/managedClusters/{name}' under resource group '{group}' was not found."),
        )
    })
}

fn aks_pool(p: &Pool) -> Value {
    let mut properties = json!({
        "count": p.desired,
        "vmSize": p.instance_types.first().copied().unwrap_or_default(),
        "osType": "Linux",
        "osSKU": "Ubuntu",
        "type": "VirtualMachineScaleSets",
        "mode": if p.system { "System" } else { "User" },
        "enableAutoScaling": p.autoscale,
        "provisioningState": if p.change.is_some() { "Updating" } else { "Succeeded" },
        "powerState": { "code": "Running" },
        "orchestratorVersion": "1.33.0",
        "availabilityZones": ["1", "2", "3"],
    });
    if p.autoscale {
        properties["minCount"] = json!(p.min);
        properties["maxCount"] = json!(p.max);
    }
    json!({
        "id": format!("{}/agentPools/{}", aks_id(), p.name),
        "name": p.name,
        "type": "Microsoft.ContainerService/managedClusters/agentPools",
        "properties": properties,
    })
}

async fn aks_list(
    State(pools): State<Arc<NodePools>>,
    Path((sub, group, cluster)): Path<(String, String, String)>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = aks_refused(&pools, &headers, &q, Some((&sub, &group, &cluster))) {
        return r;
    }
    let value: Vec<Value> = pools
        .pools(ClusterShape::AksKorea)
        .iter()
        .map(aks_pool)
        .collect();
    json_response(StatusCode::OK, &json!({ "value": value }))
}

async fn aks_get(
    State(pools): State<Arc<NodePools>>,
    Path((sub, group, cluster, pool)): Path<(String, String, String, String)>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = aks_refused(&pools, &headers, &q, Some((&sub, &group, &cluster))) {
        return r;
    }
    let all = pools.pools(ClusterShape::AksKorea);
    if let Some(p) = all.iter().find(|p| p.name == pool) {
        return json_response(StatusCode::OK, &aks_pool(p));
    }
    let (status, code, message) = not_found(ClusterShape::AksKorea, &pool);
    arm_error(status, code, &message)
}

async fn aks_put(
    State(pools): State<Arc<NodePools>>,
    Path((sub, group, cluster, pool)): Path<(String, String, String, String)>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = aks_refused(&pools, &headers, &query, Some((&sub, &group, &cluster))) {
        return r;
    }
    let invalid = |message: &str| arm_error(StatusCode::BAD_REQUEST, "InvalidParameter", message);
    let Ok(asked) = serde_json::from_slice::<Value>(&body) else {
        return invalid("The request content is not valid JSON.");
    };
    let Some(props) = asked.get("properties") else {
        return invalid("The request content has no properties.");
    };
    let sizes = (
        size(props, "minCount"),
        size(props, "count"),
        size(props, "maxCount"),
    );
    let (Ok(min), Ok(count), Ok(max)) = sizes else {
        return invalid("count, minCount and maxCount must be non-negative integers.");
    };
    let autoscale = props.get("enableAutoScaling").and_then(Value::as_bool);
    match pools.change(ClusterShape::AksKorea, &pool, min, count, max, autoscale) {
        Ok(u) => {
            let url = format!(
                "/subscriptions/{}/providers/Microsoft.ContainerService/locations/{LOCATION}/operations/{}?api-version={AKS_API_VERSION}",
                super::azure::SUBSCRIPTION,
                u.id
            );
            let origin = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(|h| format!("http://{h}"))
                .unwrap_or_default();
            let pool = pools
                .pools(ClusterShape::AksKorea)
                .into_iter()
                .find(|p| p.name == u.pool);
            let body = pool.as_ref().map_or(Value::Null, aks_pool);
            (
                StatusCode::OK,
                [
                    ("content-type", "application/json".to_owned()),
                    ("azure-asyncoperation", format!("{origin}{url}")),
                ],
                body.to_string(),
            )
                .into_response()
        }
        Err((status, code, message)) => arm_error(status, code, &message),
    }
}

async fn aks_operation(
    State(pools): State<Arc<NodePools>>,
    Path((_, _, id)): Path<(String, String, String)>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    if let Some(r) = aks_refused(&pools, &headers, &q, None) {
        return r;
    }
    match pools.update(&id) {
        None => arm_error(
            StatusCode::NOT_FOUND,
            "OperationNotFound",
            &format!("The operation '{id}' was not found."),
        ),
        Some(u) => {
            let ts = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            let mut body = json!({
                "name": u.id,
                "status": if u.ended.is_some() { "Succeeded" } else { "InProgress" },
                "startTime": ts(u.created),
            });
            if let Some(e) = u.ended {
                body["endTime"] = json!(ts(e));
            }
            json_response(StatusCode::OK, &body)
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn pools() -> NodePools {
        let stores = [ClusterShape::EksTokyo, ClusterShape::AksKorea].map(|shape| {
            let s = Arc::new(Store::new(7));
            world::seed(&s, shape, 0);
            s
        });
        NodePools::new(Clock::new(1000.0), stores, "t".into())
    }

    fn group_nodes(p: &NodePools, shape: ClusterShape, name: &str) -> (usize, usize) {
        let pool = p.pools(shape).into_iter().find(|g| g.name == name).unwrap();
        let nodes = p.nodes(&pool);
        (nodes.len(), nodes.iter().filter(|n| n.ready).count())
    }

    #[test]
    fn a_raised_group_gets_its_nodes_not_ready_then_ready_and_the_update_ends() {
        let p = pools();
        assert_eq!(group_nodes(&p, ClusterShape::AksKorea, "general"), (3, 3));
        let u = p
            .change(ClusterShape::AksKorea, "general", None, Some(5), None, None)
            .unwrap();
        assert!(p.update(&u.id).unwrap().ended.is_none());
        // Simulated seconds pass 1000 times faster.
        let mut seen_not_ready = false;
        for _ in 0..200 {
            std::thread::sleep(Duration::from_millis(1));
            p.pass();
            let (n, r) = group_nodes(&p, ClusterShape::AksKorea, "general");
            seen_not_ready |= n == 5 && r < 5;
            if p.update(&u.id).unwrap().ended.is_some() {
                break;
            }
        }
        assert!(p.update(&u.id).unwrap().ended.is_some());
        assert_eq!(group_nodes(&p, ClusterShape::AksKorea, "general"), (5, 5));
        assert!(
            seen_not_ready || READY <= JOIN,
            "the new nodes joined NotReady first"
        );
    }

    #[test]
    fn a_lowered_group_loses_its_newest_nodes() {
        let p = pools();
        p.change(ClusterShape::EksTokyo, "general", None, Some(4), None, None)
            .unwrap();
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(1));
            p.pass();
        }
        assert_eq!(group_nodes(&p, ClusterShape::EksTokyo, "general"), (4, 4));
    }

    #[test]
    fn sizes_out_of_bounds_and_a_second_change_are_refused_as_the_clouds_do() {
        let p = pools();
        let e = p
            .change(
                ClusterShape::EksTokyo,
                "general",
                None,
                Some(25),
                None,
                None,
            )
            .unwrap_err();
        assert_eq!(
            (e.0, e.1),
            (StatusCode::BAD_REQUEST, "InvalidParameterException")
        );
        assert!(e.2.contains("can't be greater than max size 20"), "{}", e.2);
        p.change(ClusterShape::EksTokyo, "general", None, Some(7), None, None)
            .unwrap();
        let e = p
            .change(ClusterShape::EksTokyo, "general", None, Some(8), None, None)
            .unwrap_err();
        assert_eq!((e.0, e.1), (StatusCode::CONFLICT, "ResourceInUseException"));
        let e = p
            .change(
                ClusterShape::AksKorea,
                "general",
                Some(1),
                None,
                Some(9),
                None,
            )
            .unwrap_err();
        assert!(e.2.contains("only when enableAutoScaling"), "{}", e.2);
        let e = p
            .change(ClusterShape::AksKorea, "general", None, Some(0), None, None)
            .unwrap_err();
        assert!(e.2.contains("System agent pool"), "{}", e.2);
    }
}
