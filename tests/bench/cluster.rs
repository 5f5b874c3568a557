//! The console against two clusters of 10,000 pods each: a harness that
//! prints figures (the machines are shared and noisy, so nothing here is
//! asserted against a clock). Run it with
//!
//! ```sh
//! cargo bench --bench cluster            # 10,000 pods per cluster
//! TOUBAN_BENCH_PODS=2000 cargo bench --bench cluster
//! ```
//!
//! The sandbox runs as its own process (`touban sandbox --pods N`), so the
//! resident memory measured here is the console's alone: the cluster
//! sources, the app's state and the renderer, as `touban` runs them.
//!
//! It reports, first, the whole console as an operator runs it: the
//! release binary in a terminal (a tmux pane, 200x50) watching every
//! namespace of both clusters, its process's resident memory sampled from
//! /proc once both clusters are on screen (steady: the median of 20 s of
//! samples; peak: VmHWM). Then, in this process: resident memory once both
//! clusters are listed; the time
//! from start to both clusters complete; the delay from a change in the
//! sandbox (a scale through kube-rs) to the app's state holding it, p50 /
//! p99; and building + drawing a frame at 200x50 per pane, p50 / p99.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use tokio::sync::mpsc;
use touban::app::{App, Event};
use touban::config::Platform;
use touban::model::{Command as Cmd, Pane};
use touban::ui::{self, Styles};

#[path = "../common/mod.rs"]
mod common;

const BIN: &str = env!("CARGO_BIN_EXE_touban");

/// A /proc/self/status figure, in KiB.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn figures(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{label:<34} p50 {:>9.3} ms   p99 {:>9.3} ms   max {:>9.3} ms   ({} samples)",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        samples.len()
    );
}

/// A figure of /proc/PID/status, in KiB.
fn pid_kib(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The console binary in a tmux pane on `config` with every namespace
/// watched; prints its process's resident memory once both clusters of
/// `pods` pods are on screen.
#[allow(clippy::cast_precision_loss)]
fn console_in_a_terminal(dir: &std::path::Path, config: &std::path::Path, pods: usize) {
    let every_namespace = dir.join("every-namespace.toml");
    let text = std::fs::read_to_string(config).expect("config");
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("namespaces = ") {
                "namespaces = []"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&every_namespace, text).expect("write");
    let socket = format!("touban-bench-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .expect("tmux (tests/run.sh installs it)")
    };
    let run = format!(
        "env TERM=xterm-256color XDG_STATE_HOME={d} XDG_CONFIG_HOME={d} {BIN} --log-file {d}/console.log --config {}",
        every_namespace.display(),
        d = dir.display()
    );
    let started = Instant::now();
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "bench",
        "-x",
        "200",
        "-y",
        "50",
        &run,
    ]);
    let pid = String::from_utf8_lossy(
        &tmux(&["display-message", "-p", "-t", "bench", "#{pane_pid}"]).stdout,
    )
    .trim()
    .to_owned();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let screen = String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", "bench"]).stdout)
            .into_owned();
        let counts: Vec<usize> = screen
            .match_indices(" pods")
            .filter_map(|(i, _)| {
                screen[..i]
                    .rsplit(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            })
            .collect();
        if counts
            .iter()
            .filter(|n| **n >= pods.saturating_sub(10))
            .count()
            >= 2
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the console never showed both clusters:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let on_screen = started.elapsed();
    let mut samples = Vec::new();
    let sampling = Instant::now();
    while sampling.elapsed() < Duration::from_secs(20) {
        samples.push(pid_kib(&pid, "VmRSS:"));
        std::thread::sleep(Duration::from_millis(500));
    }
    samples.sort_unstable();
    let steady = samples.get(samples.len() / 2).copied().unwrap_or(0);
    let peak = pid_kib(&pid, "VmHWM:");
    println!("touban binary in a 200x50 terminal, every namespace, two clusters of {pods} pods");
    println!(
        "  both clusters on screen after     {:>9.0} ms",
        on_screen.as_secs_f64() * 1e3
    );
    println!(
        "  resident memory, steady           {:>9.1} MiB (median of {} samples over 20 s; peak {:.1} MiB; budget 64 MiB)",
        steady as f64 / 1024.0,
        samples.len(),
        peak as f64 / 1024.0
    );
    let _ = tmux(&["kill-server"]);
}

fn pods_of(app: &App, cluster: &str) -> usize {
    app.cluster(cluster).map_or(0, |c| c.pods.len())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::cast_precision_loss, clippy::too_many_lines)]
async fn main() {
    let pods: usize = std::env::var("TOUBAN_BENCH_PODS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let _sandbox = common::Process(
        Command::new(BIN)
            .arg("--log-file")
            .arg(dir.path().join("sandbox.log"))
            .args(["sandbox", "--scenario", "calm", "--pods", &pods.to_string()])
            .arg("--write-config")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("start touban sandbox"),
    );
    let config = dir.path().join("config.toml");
    let kubeconfig = dir.path().join("kubeconfig");
    while !(config.exists() && kubeconfig.exists()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The sandbox's own pods must be Running before listing means anything:
    // wait until its controllers have created them all.
    tokio::time::sleep(Duration::from_secs(2)).await;
    console_in_a_terminal(dir.path(), &config, pods);
    let rss_before = status_kib("VmRSS:");

    let mut loaded = common::loaded("default", "default");
    loaded.platform = Platform::parse(
        "sandbox config",
        &std::fs::read_to_string(&config).expect("config"),
    )
    .expect("valid");
    // Every namespace: the filler is spread over `load-NN` namespaces.
    for c in &mut loaded.platform.clusters {
        c.namespaces.clear();
    }
    let mut app = App::new(loaded, SystemTime::now());
    let (tx, mut rx) = mpsc::channel::<Event>(touban::tui::CHANNEL);
    let started = Instant::now();
    touban::sources::cluster::spawn(app.platform(), &tx);
    // Complete: every pod of both clusters listed (the filler makes up `pods`).
    let complete = |a: &App| {
        pods_of(a, "eks-tokyo") >= pods && pods_of(a, "aks-korea") >= pods.saturating_sub(10)
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut report = Instant::now();
    while !complete(&app) {
        assert!(
            Instant::now() < deadline,
            "the clusters were not listed in 300 s"
        );
        if report.elapsed() > Duration::from_secs(5) {
            report = Instant::now();
            let state =
                |r: &str, c: &str| app.source(r, touban::model::SourceKind::Cluster, c).word();
            println!(
                "  … {:.0} s: eks-tokyo {} pods ({}), aks-korea {} pods ({})",
                started.elapsed().as_secs_f64(),
                pods_of(&app, "eks-tokyo"),
                state("tokyo", "eks-tokyo"),
                pods_of(&app, "aks-korea"),
                state("korea", "aks-korea"),
            );
        }
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await {
            app.handle(e);
        }
    }
    let listed = started.elapsed();
    // Let the initial burst settle, then measure.
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(3) {
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            app.handle(e);
        }
    }
    let rss = status_kib("VmRSS:");
    let hwm = status_kib("VmHWM:");
    println!("touban console, two clusters, {pods} pods each (sandbox in its own process)");
    println!(
        "  pods held: eks-tokyo {}, aks-korea {}",
        pods_of(&app, "eks-tokyo"),
        pods_of(&app, "aks-korea")
    );
    println!(
        "start to both clusters complete     {:>9.0} ms",
        listed.as_secs_f64() * 1e3
    );
    println!(
        "resident memory once listed         {:>9.1} MiB (peak {:.1} MiB; {:.1} MiB before the sources started)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );

    // Change latency: scale a deployment in the sandbox, time until the
    // app's state holds the new replica count.
    let kc = Kubeconfig::read_from(&kubeconfig).expect("kubeconfig");
    let options = KubeConfigOptions {
        context: Some("eks-tokyo".into()),
        ..KubeConfigOptions::default()
    };
    let client = Client::try_from(
        kube::Config::from_custom_kubeconfig(kc, &options)
            .await
            .expect("config"),
    )
    .expect("client");
    let deployments: Api<Deployment> = Api::namespaced(client, "iworkz-production");
    let mut latencies = Vec::new();
    for i in 0..100 {
        let replicas = 4 + (i % 2) * 2;
        let sent = Instant::now();
        deployments
            .patch_scale(
                "web-frontend-blue",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await
            .expect("scale");
        loop {
            let held = app
                .cluster("eks-tokyo")
                .and_then(|c| c.deployments.get("iworkz-production/web-frontend-blue"))
                .is_some_and(|d| d.desired == replicas);
            if held {
                break;
            }
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some(e)) => {
                    app.handle(e);
                }
                _ => panic!("the scale never reached the app"),
            }
        }
        latencies.push(sent.elapsed());
        // Drain what the scale set off (pods, events) before the next one.
        let quiet = Instant::now();
        while quiet.elapsed() < Duration::from_millis(50) {
            if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(10), rx.recv()).await {
                app.handle(e);
            }
        }
    }
    figures("change in the sandbox to state", latencies);

    // Frame build + draw at 200x50, per pane, into ratatui's test backend.
    let styles = Styles::resolve(app.theme());
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
    let panes: [(&str, &[Cmd]); 6] = [
        ("overview", &[Cmd::Focus(Pane::Overview)]),
        (
            "cluster: pods (all namespaces)",
            &[Cmd::Focus(Pane::Cluster)],
        ),
        ("cluster: pods, problems first", &[Cmd::Sort]),
        ("cluster: events", &[Cmd::PrevView]),
        ("rollouts", &[Cmd::Focus(Pane::Rollouts)]),
        ("scaling", &[Cmd::Focus(Pane::Scaling)]),
    ];
    for (label, commands) in panes {
        for c in commands {
            app.run(c.clone());
        }
        let mut samples = Vec::new();
        for _ in 0..300 {
            let t = Instant::now();
            terminal.draw(|f| ui::draw(&app, &styles, f)).expect("draw");
            samples.push(t.elapsed());
        }
        figures(&format!("frame 200x50 {label}"), samples);
    }
    println!(
        "resident memory at the end          {:>9.1} MiB",
        status_kib("VmRSS:") as f64 / 1024.0
    );
}
