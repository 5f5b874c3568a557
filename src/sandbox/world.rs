//! The world of the seed (`shared/seed/SUMMARY.md`): per cluster the nodes
//! of its node groups, the `iworkz-production` namespace with backend-api,
//! ai-services and web-frontend in blue and green, the Services selecting
//! the live colour, the HPA and the ConfigMap. Korea is a warm standby at
//! reduced replicas whose `backend-api-hpa` is the seed's manifest verbatim:
//! it targets `backend-api`, which does not exist under blue / green; its
//! ConfigMap drifted (LOG_LEVEL left at debug).

use serde_json::{Value, json};

use super::resource::Resource;
use super::store::Store;

/// The Secret the seed's backend reads `DATABASE_URL` from.
pub const APP_SECRET: &str = "backend-api-secrets";
/// The sandbox's application password, in its Secret: what must never
/// reach touban's screen, log or audit log.
pub const APP_PASSWORD: &str = "s4ndbox-app-pw-1f0e";
/// Tokyo's RDS endpoint, as the sandbox's RDS reports it.
pub const TOKYO_DB_HOST: &str =
    "iworkz-production-postgres.c0sandbox.ap-northeast-1.rds.amazonaws.com:5432";

/// The namespace of the workloads.
pub const NAMESPACE: &str = "iworkz-production";

const TOKYO_ZONES: [&str; 3] = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"];
const KOREA_ZONES: [&str; 3] = ["koreacentral-1", "koreacentral-2", "koreacentral-3"];

/// A simulated cluster's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterShape {
    /// EKS in Tokyo: the primary.
    EksTokyo,
    /// AKS in Korea Central: the disaster-recovery standby.
    AksKorea,
}

impl ClusterShape {
    /// The cluster's (and kube context's) name.
    pub fn name(self) -> &'static str {
        match self {
            ClusterShape::EksTokyo => "eks-tokyo",
            ClusterShape::AksKorea => "aks-korea",
        }
    }
}

struct NodeGroup {
    name: &'static str,
    count: usize,
    /// The group's bounds in its cloud (EKS `scalingConfig`, AKS
    /// `minCount` / `maxCount`), as the config names them too.
    bounds: (u32, u32),
    instance_types: &'static [&'static str],
    taint: Option<&'static str>,
    workload: Option<&'static str>,
}

const EKS_GROUPS: &[NodeGroup] = &[
    NodeGroup {
        name: "general",
        count: 6,
        bounds: (3, 20),
        instance_types: &["m6i.large", "m6i.xlarge"],
        taint: None,
        workload: None,
    },
    NodeGroup {
        name: "compute-optimized",
        count: 2,
        bounds: (0, 10),
        instance_types: &["c6i.xlarge", "c6i.2xlarge"],
        taint: Some("compute-optimized"),
        workload: Some("ai-ml"),
    },
    NodeGroup {
        name: "memory-optimized",
        count: 1,
        bounds: (0, 5),
        instance_types: &["r6i.xlarge"],
        taint: Some("memory-optimized"),
        workload: Some("data-processing"),
    },
];

const AKS_GROUPS: &[NodeGroup] = &[
    NodeGroup {
        name: "general",
        count: 3,
        bounds: (2, 10),
        instance_types: &["Standard_D4s_v5"],
        taint: None,
        workload: None,
    },
    NodeGroup {
        name: "compute-optimized",
        count: 1,
        bounds: (0, 5),
        instance_types: &["Standard_F8s_v2"],
        taint: Some("compute-optimized"),
        workload: Some("ai-ml"),
    },
];

struct App {
    name: &'static str,
    replicas: [i64; 2],
    port: i64,
    image: &'static str,
    previous: &'static str,
    compute: bool,
    surge: (i64, i64),
}

const APPS: &[App] = &[
    App {
        name: "backend-api",
        replicas: [3, 1],
        port: 3000,
        image: "iworkz/backend-api:2.14.0",
        previous: "iworkz/backend-api:2.13.2",
        compute: false,
        surge: (1, 0),
    },
    App {
        name: "ai-services",
        replicas: [2, 1],
        port: 8000,
        image: "iworkz/ai-services:1.8.1",
        previous: "iworkz/ai-services:1.8.0",
        compute: true,
        surge: (1, 0),
    },
    App {
        name: "web-frontend",
        replicas: [4, 2],
        port: 3000,
        image: "iworkz/web-frontend:3.2.0",
        previous: "iworkz/web-frontend:3.1.4",
        compute: false,
        surge: (2, 1),
    },
];

/// The node group the filler pods run on (`touban sandbox --pods N`): as
/// many nodes of a large instance type as they need, so a 10,000-pod
/// cluster is shaped like one; tainted, so the seed's workloads stay on
/// the seed's node groups.
const LOAD_GROUP: NodeGroup = NodeGroup {
    name: "load",
    count: 0,
    bounds: (0, 1000),
    instance_types: &["m6i.4xlarge"],
    taint: Some("load"),
    workload: Some("load"),
};

/// What an instance type offers: vCPUs, memory in GiB, and the pods its
/// kubelet admits (on EKS the VPC CNI's per-ENI limit, on AKS kubenet's
/// default of 110), as the providers publish them.
fn instance_shape(instance: &str) -> (u64, u64, u64) {
    match instance {
        "m6i.xlarge" => (4, 16, 58),
        "c6i.xlarge" => (4, 8, 58),
        "c6i.2xlarge" => (8, 16, 58),
        "r6i.xlarge" => (4, 32, 58),
        "m6i.4xlarge" => (16, 64, 234),
        "Standard_D4s_v5" => (4, 16, 110),
        "Standard_F8s_v2" => (8, 16, 110),
        "Standard_D16s_v5" => (16, 64, 250),
        // m6i.large and anything unknown.
        _ => (2, 8, 29),
    }
}

/// A node's capacity and allocatable, as its kubelet reports them: the
/// memory the kernel leaves (about 96.5 % of the nominal), less what is
/// reserved for the system and the kubelet. EKS reserves CPU by its
/// per-core table (6 % of the first core, 1 % of the second, 0.5 % of the
/// third and fourth, 0.25 % of each above) and 255 MiB + 11 MiB per pod;
/// AKS 60 m for the first core, 40 m for the second, 20 m for the third
/// and fourth, 10 m for each above, and 20 MB per pod + 50 MB; both evict
/// below 100 MiB free.
fn node_resources(instance: &str, korea: bool) -> (Value, Value) {
    let (cores, gib, pods) = instance_shape(instance);
    let memory_ki = gib * 1024 * 1024 * 965 / 1000;
    let (cpu_reserved_m, memory_reserved_ki) = if korea {
        let cpu = 60
            + 40 * u64::from(cores >= 2)
            + 20 * cores.saturating_sub(2).min(2)
            + 10 * cores.saturating_sub(4);
        (cpu, (20 * pods + 50) * 1_000_000 / 1024 + 100 * 1024)
    } else {
        let cpu = 60
            + 10 * u64::from(cores >= 2)
            + 5 * cores.saturating_sub(2).min(2)
            + cores.saturating_sub(4) * 5 / 2;
        (cpu, (255 + 11 * pods + 100) * 1024)
    };
    let capacity = json!({"cpu": cores.to_string(), "memory": format!("{memory_ki}Ki"), "pods": pods.to_string()});
    let allocatable = json!({"cpu": format!("{}m", cores * 1000 - cpu_reserved_m),
        "memory": format!("{}Ki", memory_ki.saturating_sub(memory_reserved_ki)), "pods": pods.to_string()});
    (capacity, allocatable)
}

/// The colour the Services select at start.
pub const LIVE_COLOUR: &str = "blue";

fn create(store: &Store, kind: &str, namespace: &str, object: Value) {
    let Some(r) = Resource::of_kind(kind) else {
        return;
    };
    if let Err(e) = store.create(r, namespace, object, false) {
        tracing::error!("sandbox world: cannot create {kind}: {}", e.message);
    }
}

/// Fills a store with the cluster's world; `pods` adds filler namespaces
/// until the cluster holds about that many pods.
pub fn seed(store: &Store, shape: ClusterShape, pods: usize) {
    let (groups, zones, korea) = match shape {
        ClusterShape::EksTokyo => (EKS_GROUPS, TOKYO_ZONES, false),
        ClusterShape::AksKorea => (AKS_GROUPS, KOREA_ZONES, true),
    };
    nodes(store, groups, zones, korea, pods);
    for ns in ["default", "kube-system", NAMESPACE] {
        create(
            store,
            "Namespace",
            "",
            json!({"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}}),
        );
    }
    let idx = usize::from(korea);
    for app in APPS {
        for colour in ["blue", "green"] {
            let live = colour == LIVE_COLOUR;
            let replicas = if live { app.replicas[idx] } else { 0 };
            let image = if live { app.image } else { app.previous };
            create(
                store,
                "Deployment",
                NAMESPACE,
                deployment(app, colour, replicas, image),
            );
        }
        let mut svc = service(app);
        svc["spec"]["selector"]["color"] = json!(LIVE_COLOUR);
        create(store, "Service", NAMESPACE, svc);
    }
    // The seed's HPA. In Tokyo it follows the live colour; in Korea it is
    // the manifest as written, aimed at a Deployment that does not exist.
    let target = if korea {
        "backend-api".to_owned()
    } else {
        format!("backend-api-{LIVE_COLOUR}")
    };
    create(store, "HorizontalPodAutoscaler", NAMESPACE, hpa(&target));
    // Korea's was left at debug after an incident: drift the console flags.
    let log_level = if korea { "debug" } else { "info" };
    create(store, "ConfigMap", NAMESPACE, config_map(log_level));
    // The seed's backend reads its database and cache from a Secret. Both
    // regions' point at Tokyo's primary: Korea's standby writes across the
    // regions until a failover re-points it at its own promoted server.
    let b64 = |v: &str| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, v);
    create(
        store,
        "Secret",
        NAMESPACE,
        json!({"metadata": {"name": APP_SECRET, "labels": {"app": "backend-api"}},
        "type": "Opaque",
        "data": {
            "DATABASE_URL": b64(&format!("postgres://iworkz_app:{APP_PASSWORD}@{TOKYO_DB_HOST}/iworkz?sslmode=require")),
            "REDIS_URL": b64("rediss://iworkz-redis.c0sandbox.apne1.cache.amazonaws.com:6379"),
            "JWT_SECRET": b64(APP_PASSWORD),
        }}),
    );
    let seeded: i64 = APPS.iter().map(|a| a.replicas[idx]).sum();
    filler(
        store,
        pods.saturating_sub(usize::try_from(seeded).unwrap_or(0)),
    );
}

/// The nodes of the cluster's node groups, and as many load nodes as the
/// filler's `pods` need.
fn nodes(store: &Store, groups: &[NodeGroup], zones: [&str; 3], korea: bool, pods: usize) {
    // The filler's pods, 10 slots short of each load node's limit.
    let (_, _, slots) = instance_shape(
        LOAD_GROUP
            .instance_types
            .first()
            .copied()
            .unwrap_or_default(),
    );
    let load_nodes = pods.div_ceil(usize::try_from(slots - 10).unwrap_or(1));
    let mut n = 0;
    for g in groups.iter().chain(std::iter::once(&LOAD_GROUP)) {
        let count = if g.name == LOAD_GROUP.name {
            load_nodes
        } else {
            g.count
        };
        for i in 0..count {
            let zone = zones[n % zones.len()];
            let instance = match (korea, g.name) {
                (true, "load") => "Standard_D16s_v5",
                _ => g.instance_types[i % g.instance_types.len()],
            };
            let name = if korea {
                format!(
                    "aks-{}-{:08}-vmss{:06}",
                    g.name.replace('-', ""),
                    31_415_926,
                    i
                )
            } else {
                format!(
                    "ip-10-0-{}-{}.ap-northeast-1.compute.internal",
                    16 * (n % 3) + 1,
                    20 + n * 7
                )
            };
            create(store, "Node", "", node(&name, g, zone, instance, korea));
            n += 1;
        }
    }
}

/// A node group of the seed, as its cloud's API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSeed {
    /// Its name (the nodes' `eks.amazonaws.com/nodegroup` / `agentpool`).
    pub name: &'static str,
    /// Its nodes at the start.
    pub count: u32,
    /// Its bounds.
    pub min: u32,
    /// Its bounds.
    pub max: u32,
    /// Its instance types (EKS) or VM size (AKS, the first).
    pub instance_types: &'static [&'static str],
}

/// The seed's node groups of a cluster (not the filler's load nodes).
pub fn pools(shape: ClusterShape) -> Vec<PoolSeed> {
    let groups = match shape {
        ClusterShape::EksTokyo => EKS_GROUPS,
        ClusterShape::AksKorea => AKS_GROUPS,
    };
    groups
        .iter()
        .map(|g| PoolSeed {
            name: g.name,
            count: u32::try_from(g.count).unwrap_or(u32::MAX),
            min: g.bounds.0,
            max: g.bounds.1,
            instance_types: g.instance_types,
        })
        .collect()
}

/// A new node of the seed's group `group`, named `name`, in `zone`: as
/// the cloud's node groups add them, Ready.
pub fn pool_node(
    shape: ClusterShape,
    group: &str,
    name: &str,
    zone: &str,
    i: usize,
) -> Option<Value> {
    let korea = shape == ClusterShape::AksKorea;
    let groups = if korea { AKS_GROUPS } else { EKS_GROUPS };
    let g = groups.iter().find(|g| g.name == group)?;
    let instance = g.instance_types.get(i % g.instance_types.len().max(1))?;
    Some(node(name, g, zone, instance, korea))
}

/// A cluster's zones, as its nodes are spread over them.
pub fn zones(shape: ClusterShape) -> [&'static str; 3] {
    match shape {
        ClusterShape::EksTokyo => TOKYO_ZONES,
        ClusterShape::AksKorea => KOREA_ZONES,
    }
}

fn node(name: &str, g: &NodeGroup, zone: &str, instance: &str, korea: bool) -> Value {
    let mut labels = json!({
        "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "topology.kubernetes.io/zone": zone, "node.kubernetes.io/instance-type": instance,
    });
    if korea {
        labels["agentpool"] = json!(g.name);
        labels["kubernetes.azure.com/agentpool"] = json!(g.name);
    } else {
        labels["eks.amazonaws.com/nodegroup"] = json!(g.name);
        labels["eks.amazonaws.com/capacityType"] = json!("ON_DEMAND");
    }
    if let Some(w) = g.workload {
        labels["Workload"] = json!(w);
    }
    let taints: Vec<Value> = g
        .taint
        .iter()
        .map(|t| json!({"key": t, "value": "true", "effect": "NoSchedule"}))
        .collect();
    let now = super::store::now_rfc3339();
    let (capacity, allocatable) = node_resources(instance, korea);
    json!({"metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints, "providerID": if korea { format!("azure:///{name}") } else { format!("aws:///{zone}/i-0{:016x}", name.len() * 7919) }},
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "lastHeartbeatTime": now, "lastTransitionTime": now},
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now}],
            "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": if korea { "Ubuntu 22.04.5 LTS" } else { "Amazon Linux 2023" },
                "containerRuntimeVersion": "containerd://1.7.27", "architecture": "amd64", "operatingSystem": "linux",
                "kernelVersion": "6.1.0", "kubeProxyVersion": "v1.33.0", "machineID": "", "systemUUID": "", "bootID": ""}}})
}

fn deployment(app: &App, colour: &str, replicas: i64, image: &str) -> Value {
    let labels = json!({"app": app.name, "color": colour});
    let mut pod_spec = json!({"containers": [{"name": app.name, "image": image,
        "ports": [{"containerPort": app.port}, {"containerPort": 9090, "name": "metrics"}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": app.port}},
        "livenessProbe": {"httpGet": {"path": "/health", "port": app.port}},
        "resources": {"requests": {"cpu": if app.compute { "1" } else { "250m" }, "memory": if app.compute { "2Gi" } else { "512Mi" }},
                      "limits": {"cpu": if app.compute { "2" } else { "500m" }, "memory": if app.compute { "4Gi" } else { "1Gi" }}}}]});
    if app.compute {
        pod_spec["nodeSelector"] = json!({"Workload": "ai-ml"});
        pod_spec["tolerations"] = json!([{"key": "compute-optimized", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]);
    }
    json!({"metadata": {"name": format!("{}-{colour}", app.name), "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": app.surge.0, "maxUnavailable": app.surge.1}},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec}}})
}

fn service(app: &App) -> Value {
    json!({"metadata": {"name": format!("{}-service", app.name), "labels": {"app": app.name}},
        "spec": {"selector": {"app": app.name},
            "ports": [{"name": "http", "port": 80, "targetPort": app.port}, {"name": "metrics", "port": 9090, "targetPort": 9090}]}})
}

fn config_map(log_level: &str) -> Value {
    json!({"metadata": {"name": "backend-api-config", "labels": {"app": "backend-api"}},
        "data": {"NODE_ENV": "production", "LOG_LEVEL": log_level, "FEATURE_AI_MATCHING": "true",
            "FEATURE_VOICE_INTERFACE": "true", "FEATURE_BUSINESS_CARD_SCANNER": "true"}})
}

/// The seed's manifests as files (name, YAML) for `[[manifests]]`
/// `iworkz`: the ConfigMap and Services as Tokyo has them (the Services
/// selecting `${LIVE_COLOR}`, whatever colour is live when applied), each
/// app's Deployment with `${COLOR}` for the idle colour at Tokyo's
/// replicas and image, and the HPA on the live colour. Applied to Tokyo
/// they deploy the idle colour; to Korea they also mend its drift.
pub fn manifests() -> Vec<(String, String)> {
    let document = |api_version: &str, kind: &str, mut object: Value| {
        object["metadata"]["namespace"] = json!(NAMESPACE);
        let mut doc = json!({"apiVersion": api_version, "kind": kind});
        if let (Some(d), Some(o)) = (doc.as_object_mut(), object.as_object()) {
            d.extend(o.clone());
        }
        serde_yaml_ng::to_string(&doc).unwrap_or_default()
    };
    let mut files = vec![(
        "00-backend-api-config.yaml".to_owned(),
        document("v1", "ConfigMap", config_map("info")),
    )];
    let live = crate::model::manifest::LIVE_COLOUR_PLACEHOLDER;
    let services: Vec<String> = APPS
        .iter()
        .map(|a| {
            let mut svc = service(a);
            svc["spec"]["selector"]["color"] = json!(live);
            document("v1", "Service", svc)
        })
        .collect();
    files.push(("10-services.yaml".to_owned(), services.join("---\n")));
    for app in APPS {
        files.push((
            format!("20-{}.yaml", app.name),
            document(
                "apps/v1",
                "Deployment",
                deployment(
                    app,
                    crate::model::manifest::COLOUR_PLACEHOLDER,
                    app.replicas[0],
                    app.image,
                ),
            ),
        ));
    }
    files.push((
        "30-backend-api-hpa.yaml".to_owned(),
        document(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            hpa(&format!("backend-api-{live}")),
        ),
    ));
    files
}

fn hpa(target: &str) -> Value {
    json!({"metadata": {"name": "backend-api-hpa", "labels": {"app": "backend-api"}},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 3, "maxReplicas": 20,
            "metrics": [
                {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
                {"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}}}],
            "behavior": {
                "scaleDown": {"stabilizationWindowSeconds": 300, "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}]},
                "scaleUp": {"stabilizationWindowSeconds": 60, "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]}}}})
}

/// How long ago each kind of the settled world was made, in seconds: the
/// cluster a month ago, the rest (deployments, pods, their events) 25
/// minutes ago.
pub fn age_of(kind: &str) -> i64 {
    match kind {
        "Node" | "Namespace" => 30 * 86_400,
        _ => 25 * 60,
    }
}

/// Namespaces `load-NN` of 10-replica `worker-NN` Deployments holding
/// `pods` pods in all.
fn filler(store: &Store, pods: usize) {
    let mut remaining = pods;
    let mut i = 0;
    while remaining > 0 {
        let ns = format!("load-{:02}", i / 50);
        if i % 50 == 0 {
            create(
                store,
                "Namespace",
                "",
                json!({"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}}),
            );
        }
        let replicas = remaining.min(10);
        let labels = json!({"app": format!("worker-{i:03}")});
        create(
            store,
            "Deployment",
            &ns,
            json!({"metadata": {"name": format!("worker-{i:03}"), "labels": labels},
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels},
                        "spec": {"nodeSelector": {"Workload": "load"},
                            "tolerations": [{"key": "load", "operator": "Exists", "effect": "NoSchedule"}], "containers": [{"name": "worker", "image": "iworkz/worker:1.0.0",
                            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}}]}}}}),
        );
        remaining -= replicas;
        i += 1;
    }
}
