//! Running the executor's jobs in tests: one call runs a job to its end and
//! hands back its outcome and every event it sent.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use touban::exec::audit::AuditLog;
use touban::exec::backend::Backend;
use touban::exec::runner::{self, Context, Who};
use touban::exec::step::Job;
use touban::model::{JobEvent, JobId, JobOutcome};

/// What each step of a job said as it ended, in order.
pub fn said(events: &[JobEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            JobEvent::StepEnded { said, .. } => Some(said.clone()),
            _ => None,
        })
        .collect()
}

/// Runs (or, `resume`, resumes) `job` as `who` with nobody cancelling it;
/// its outcome and the events it sent, in order.
pub async fn run_job<B: Backend>(
    backend: &B,
    job: &Job,
    id: u64,
    audit: &AuditLog,
    who: &Who,
    resume: bool,
) -> (JobOutcome, Vec<JobEvent>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (_cancel_tx, cancel) = watch::channel(false);
    let mut cx = Context {
        audit,
        who,
        events: &tx,
        cancel: &cancel,
        proceed: None,
        key: None,
        began: None,
        conflicted: false,
    };
    let outcome = if resume {
        runner::resume(backend, job, JobId(id), &mut cx).await
    } else {
        runner::run(backend, job, JobId(id), &mut cx).await
    };
    drop(tx);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (outcome, events)
}

/// A job run in a task of its own, for a test to watch, cancel or kill.
pub struct Running {
    /// The task: abort it to kill the job as a dying console would.
    pub task: tokio::task::JoinHandle<JobOutcome>,
    /// The job's events as they come.
    pub events: mpsc::UnboundedReceiver<JobEvent>,
    /// Send `true` to cancel the job between its steps.
    pub cancel: watch::Sender<bool>,
}

/// Starts `job` as `who` in its own task, its records appended to `audit`.
pub fn spawn_job<B: Backend + Send + 'static>(
    backend: std::sync::Arc<B>,
    job: Job,
    id: u64,
    audit: std::sync::Arc<AuditLog>,
    who: Who,
) -> Running {
    let (tx, events) = mpsc::unbounded_channel();
    let (cancel, cancelled) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut cx = Context {
            audit: &audit,
            who: &who,
            events: &tx,
            cancel: &cancelled,
            proceed: None,
            key: None,
            began: None,
            conflicted: false,
        };
        runner::run(backend.as_ref(), &job, JobId(id), &mut cx).await
    });
    Running {
        task,
        events,
        cancel,
    }
}

/// Kills the job (its task aborted, as a dying console would) when step
/// `step` begins; fails if it ends first or takes two minutes.
pub async fn kill_at_step(running: Running, step: usize) {
    let Running {
        task, mut events, ..
    } = running;
    let killed = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(e) = events.recv().await {
            if matches!(e, JobEvent::Step { index, .. } if index == step) {
                task.abort();
                return true;
            }
            assert!(
                !matches!(e, JobEvent::Finished { .. }),
                "ended before the kill: {e:?}"
            );
        }
        false
    })
    .await
    .expect("the step within two minutes");
    assert!(killed);
    assert!(task.await.is_err_and(|e| e.is_cancelled()), "killed");
}

/// `touban sandbox` in its own process, its config written to `dir`; the
/// process and a client of its Tokyo cluster.
pub async fn separate_sandbox(dir: &std::path::Path) -> (super::Process, kube::Client) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sandbox = super::Process(
        std::process::Command::new(env!("CARGO_BIN_EXE_touban"))
            .arg("--log-file")
            .arg(dir.join("sandbox.log"))
            .args([
                "sandbox",
                "--scenario",
                "calm",
                "--speed",
                "10",
                "--write-config",
            ])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start touban sandbox"),
    );
    let kubeconfig = dir.join("kubeconfig");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !(kubeconfig.exists() && dir.join("config.toml").exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the sandbox wrote no config"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let kc = kube::config::Kubeconfig::read_from(&kubeconfig).expect("kubeconfig");
    let options = kube::config::KubeConfigOptions {
        context: Some("eks-tokyo".into()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    (sandbox, client)
}
