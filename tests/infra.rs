//! `touban infra plan` and `touban infra apply` of the built binary on a
//! stand-in for Terraform (tests/fixtures/infra/fake-terraform, which
//! writes the documented machine-readable UI stream: neither Terraform nor
//! OpenTofu can be installed here). The plan is streamed and saved 0600
//! with only its hash audited; the apply of a plan that replaces needs the
//! name typed; a stale plan is refused with the tool's own message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_touban");

struct World {
    home: tempfile::TempDir,
    work: tempfile::TempDir,
    config: PathBuf,
}

fn world() -> World {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/infra");
    let work = tempfile::tempdir().expect("work dir");
    for f in ["plan.jsonl", "apply.jsonl"] {
        std::fs::copy(fixtures.join(f), work.path().join(f)).expect("copy the stream");
    }
    let home = tempfile::tempdir().expect("home");
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "environment = \"staging\"\n\n[[regions]]\nname = \"tokyo\"\ndisplay = \"Tokyo\"\nrole = \"primary\"\ntime_zone = \"Asia/Tokyo\"\n\n[[infrastructure]]\nname = \"tokyo-eks\"\ndir = \"{}\"\nbinary = \"{}\"\nregion = \"tokyo\"\n",
            work.path().display(),
            fixtures.join("fake-terraform").display()
        ),
    )
    .expect("config");
    World { home, work, config }
}

impl World {
    fn touban(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--config")
            .arg(&self.config)
            .arg("infra")
            .args(args)
            .env("HOME", self.home.path())
            .env("XDG_STATE_HOME", self.home.path().join("state"))
            .env("XDG_CONFIG_HOME", self.home.path().join("xdg"))
            .env_remove("TOUBAN_CONFIG")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run touban infra")
    }

    fn plan_file(&self) -> PathBuf {
        self.home.path().join("state/touban/plans/tokyo-eks.tfplan")
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(self.home.path().join("state/touban/audit.jsonl"))
            .unwrap_or_default()
    }
}

fn both(o: &Output) -> String {
    format!(
        "{}\n--- stderr\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_plan_is_streamed_saved_0600_and_applied_once_with_the_name_typed() {
    use std::os::unix::fs::PermissionsExt as _;
    let w = world();
    let plan = w.touban(&["plan", "tokyo-eks"]);
    let text = both(&plan);
    assert_eq!(plan.status.code(), Some(0), "{text}");
    assert!(text.contains("  terraform 1.9.5"), "{text}");
    assert!(
        text.contains("  update: aws_eks_node_group.general"),
        "{text}"
    );
    assert!(
        text.contains("  replace: aws_elasticache_replication_group.redis (cannot_update)"),
        "{text}"
    );
    assert!(
        text.contains("s3.tf:14: Warning: Argument is deprecated"),
        "{text}"
    );
    assert!(
        text.contains("Plan: 1 to add, 1 to change, 1 to destroy"),
        "{text}"
    );
    assert!(
        text.contains("! replace  aws_elasticache_replication_group.redis"),
        "{text}"
    );
    let mode = std::fs::metadata(w.plan_file())
        .expect("plan file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the plan file holds secrets");
    let audit = w.audit();
    assert!(audit.contains("\"plan_sha256\":\""), "{audit}");
    assert!(
        !audit.contains("hunter2"),
        "only the plan's hash is audited: {audit}"
    );

    // It replaces: --yes is not enough, a wrong name is refused, the name
    // typed applies it, and the saved plan is gone after.
    let refused = w.touban(&["apply", "tokyo-eks", "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "{}", both(&refused));
    assert!(
        both(&refused).contains("--confirm tokyo-eks"),
        "{}",
        both(&refused)
    );
    let wrong = w.touban(&["apply", "tokyo-eks", "--confirm", "tokyo"]);
    assert_eq!(wrong.status.code(), Some(1), "{}", both(&wrong));
    let applied = w.touban(&["apply", "tokyo-eks", "--confirm", "tokyo-eks"]);
    let text = both(&applied);
    assert_eq!(applied.status.code(), Some(0), "{text}");
    assert!(
        text.contains("aws_eks_node_group.general: update started"),
        "{text}"
    );
    assert!(
        text.contains("aws_elasticache_replication_group.redis: create done after 600 s [iworkz-production-redis]"),
        "{text}"
    );
    assert!(text.contains("outputs: redis_endpoint"), "{text}");
    assert!(
        !text.contains("amazonaws.com"),
        "output values are not printed: {text}"
    );
    assert!(
        text.contains("Applied: 1 added, 1 changed, 1 destroyed"),
        "{text}"
    );
    assert!(!w.plan_file().exists(), "a saved plan applies once");
    let again = w.touban(&["apply", "tokyo-eks", "--confirm", "tokyo-eks"]);
    assert!(
        both(&again).contains("run `touban infra plan tokyo-eks` first"),
        "{}",
        both(&again)
    );
    let audit = w.audit();
    assert!(audit.contains("\"event\":\"finished\""), "{audit}");
    assert!(audit.contains("\"outcome\":\"succeeded\""), "{audit}");
}

#[test]
fn a_stale_plan_is_refused_in_the_tool_s_words_and_a_failed_plan_names_the_line() {
    let w = world();
    assert_eq!(w.touban(&["plan", "tokyo-eks"]).status.code(), Some(0));
    // Someone else applied meanwhile: the state moved on.
    std::fs::write(w.work.path().join("state"), "7\n").expect("state");
    let stale = w.touban(&["apply", "tokyo-eks", "--confirm", "tokyo-eks"]);
    let text = both(&stale);
    assert_eq!(stale.status.code(), Some(1), "{text}");
    assert!(
        text.contains("the apply failed: Error: Saved plan is stale: The given plan file can no longer be applied"),
        "{text}"
    );
    assert!(w.audit().contains("failed: Error: Saved plan is stale"));

    // A configuration error: the file and line, exit 1, no plan kept.
    std::fs::write(
        w.work.path().join("plan.jsonl"),
        "{\"@level\":\"error\",\"@message\":\"Error: Unsupported argument\",\"diagnostic\":{\"severity\":\"error\",\"summary\":\"Unsupported argument\",\"detail\":\"An argument named \\\"instance_typo\\\" is not expected here.\",\"range\":{\"filename\":\"eks.tf\",\"start\":{\"line\":31,\"column\":5,\"byte\":812},\"end\":{\"line\":31,\"column\":18,\"byte\":825}}},\"type\":\"diagnostic\"}\n",
    )
    .expect("broken plan");
    let broken = w.touban(&["plan", "tokyo-eks"]);
    let text = both(&broken);
    assert_eq!(broken.status.code(), Some(1), "{text}");
    assert!(
        text.contains("eks.tf:31: Error: Unsupported argument: An argument named \"instance_typo\" is not expected here."),
        "{text}"
    );
    assert!(!w.plan_file().exists());
}

#[test]
fn a_missing_binary_says_what_to_install() {
    let w = world();
    let text = std::fs::read_to_string(&w.config)
        .expect("config")
        .replace("fake-terraform", "no-such-terraform");
    std::fs::write(&w.config, text).expect("config");
    let out = w.touban(&["plan", "tokyo-eks"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        both(&out).contains("is it installed and on PATH"),
        "{}",
        both(&out)
    );
}

#[test]
fn ctrl_c_sends_the_tool_one_interrupt_and_waits_for_it() {
    use std::io::BufRead as _;
    let w = world();
    std::fs::write(w.work.path().join("hang"), "").expect("hang");
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&w.config)
        .args(["infra", "plan", "tokyo-eks"])
        .env("HOME", w.home.path())
        .env("XDG_STATE_HOME", w.home.path().join("state"))
        .env_remove("TOUBAN_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while stdout.read_line(&mut line).expect("read") > 0 && !line.contains("terraform 1.9.5") {
        line.clear();
    }
    assert!(line.contains("terraform 1.9.5"), "the tool started: {line}");
    let pid = child.id().to_string();
    for _ in 0..2 {
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("interrupt sent to"), "{err}");
    assert!(err.contains("a second interrupt can lose state"), "{err}");
    let got = std::fs::read_to_string(w.work.path().join("interrupts")).expect("interrupts");
    assert_eq!(
        got.lines().count(),
        1,
        "exactly one interrupt reached the tool"
    );
    assert!(!w.plan_file().exists(), "an interrupted plan is not kept");
}

/// The console's infrastructure jobs through the executor: a plan job
/// saves the plan (its changes in its step's words), the apply job is
/// planned from it (a replace needs the name typed; the audited request
/// names the plan's hash), and a plan cancelled while the tool runs sends
/// it exactly one interrupt and waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: refused, planned, applied, a plan cancelled
async fn the_console_s_plan_and_apply_are_jobs_and_a_cancel_is_one_interrupt() {
    use std::collections::BTreeMap;
    use touban::exec::audit::AuditLog;
    use touban::exec::backend::kube::KubeBackend;
    use touban::exec::runner::{self, Who};
    use touban::model::JobOutcome;
    use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};

    let w = world();
    let platform = touban::config::Platform::parse(
        "test config",
        &std::fs::read_to_string(&w.config).expect("read"),
    )
    .expect("valid");
    let state = w.home.path().join("state/touban");
    let backend = std::sync::Arc::new(KubeBackend::new(BTreeMap::new()).with_infrastructure(
        &platform.infrastructure,
        None,
        state.clone(),
    ));
    let request = |operation: &str| ActionRequest {
        kind: ActionKind::Infra {
            operation: operation.into(),
            plan_sha256: String::new(),
        },
        target: Target {
            region: "tokyo".into(),
            cluster: platform.infrastructure[0].binary.clone(),
            namespace: String::new(),
            kind: ObjectKind::Infrastructure,
            name: "tokyo-eks".into(),
        },
        dry_run: false,
    };
    let audit = std::sync::Arc::new(AuditLog::open(&state.join("audit.jsonl")).expect("audit"));
    let who = Who::new("staging", "aiko@bastion");
    // No saved plan yet: the apply is refused, saying what makes one.
    let e = runner::prepare(backend.as_ref(), &request("apply"), true)
        .await
        .expect_err("nothing to apply");
    assert!(
        e.to_string().contains("`:infra-plan tokyo-eks` makes one"),
        "{e}"
    );

    let job = runner::prepare(backend.as_ref(), &request("plan"), true)
        .await
        .expect("a plan job");
    let (outcome, events) =
        common::exec::run_job(backend.as_ref(), &job, 1, &audit, &who, false).await;
    let steps = common::exec::said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(
        steps[0].starts_with("Plan: 1 to add, 1 to change, 1 to destroy"),
        "{steps:?}"
    );
    assert!(
        steps[0].contains("!replace aws_elasticache_replication_group.redis"),
        "{steps:?}"
    );
    assert!(!steps[0].contains("hunter2"), "{steps:?}");
    assert!(w.plan_file().is_file());

    let apply = runner::prepare(backend.as_ref(), &request("apply"), true)
        .await
        .expect("an apply job");
    assert_eq!(
        apply.plan.confirm_text.as_deref(),
        Some("tokyo-eks"),
        "a replace is typed"
    );
    assert!(
        apply
            .plan
            .changes
            .iter()
            .any(|c| c.contains("- replace  aws_elasticache_replication_group.redis")),
        "{:?}",
        apply.plan.changes
    );
    let ActionKind::Infra { plan_sha256, .. } = &apply.plan.request.kind else {
        panic!("an infra request");
    };
    assert_eq!(
        plan_sha256.len(),
        64,
        "the audited request names the plan's hash"
    );
    let (outcome, events) =
        common::exec::run_job(backend.as_ref(), &apply, 2, &audit, &who, false).await;
    let steps = common::exec::said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[0].starts_with("Applied:"), "{steps:?}");
    assert!(!w.plan_file().exists(), "a saved plan applies once");
    assert!(
        !std::fs::read_to_string(state.join("audit.jsonl"))
            .expect("audit")
            .contains("hunter2")
    );

    // A plan that runs until interrupted: cancelled, the tool gets one
    // interrupt; the job ends failed, saying so.
    std::fs::write(w.work.path().join("hang"), "").expect("hang");
    let job = runner::prepare(backend.as_ref(), &request("plan"), true)
        .await
        .expect("a plan job");
    let mut running = common::exec::spawn_job(backend.clone(), job, 3, audit.clone(), who.clone());
    while let Some(e) = running.events.recv().await {
        if matches!(e, touban::model::JobEvent::Step { .. }) {
            break;
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    running.cancel.send(true).expect("cancel");
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(60), running.task)
        .await
        .expect("the job ends")
        .expect("the task");
    assert!(
        matches!(outcome, JobOutcome::Failed(_) | JobOutcome::Cancelled),
        "{outcome:?}"
    );
    let interrupts = std::fs::read_to_string(w.work.path().join("interrupts")).expect("interrupts");
    assert_eq!(interrupts.lines().count(), 1, "exactly one interrupt");
}
