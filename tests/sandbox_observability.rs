//! The sandbox's metrics and alerts, read by the real clients: a real
//! Prometheus scrapes every endpoint with the seed's rules loaded, and curl
//! reads the Alertmanager subset while the `incidents` scenario plays.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use touban::sandbox::{Options, Sandbox, Scenario};

mod common;

use common::Process;

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "--max-time", "5"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn get_json(url: &str) -> Value {
    serde_json::from_str(&curl(&[url])).unwrap_or_else(|e| panic!("{url} answered no JSON: {e}"))
}

/// Polls `f` until it returns something (60 s at most).
fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_every_endpoint_with_the_seed_rules() {
    common::need("prometheus", "prometheus");
    common::need("curl", "curl");
    let sandbox = common::calm(11, 10.0).await;
    let dir = tempfile::tempdir().expect("temp");
    let mut jobs: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for e in &sandbox.endpoints {
        jobs.entry(e.job)
            .or_default()
            .push(format!("\"{}\"", e.url.trim_start_matches("http://")));
    }
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/iworkz.rules.yml");
    let mut config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n",
        rules.display()
    );
    for (job, targets) in &jobs {
        let _ = write!(
            config,
            "  - job_name: {job}\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
    }
    std::fs::write(dir.path().join("prometheus.yml"), config).expect("write config");
    let port = common::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _prometheus = Process(
        Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let total = sandbox.endpoints.len();
    let (up, figures) = tokio::task::spawn_blocking(move || {
        let targets = until("every target up", || {
            let v = Command::new("curl")
                .args(["-sf", &format!("{base}/api/v1/targets")])
                .output()
                .ok()?;
            let v: Value = serde_json::from_slice(&v.stdout).ok()?;
            let active = v["data"]["activeTargets"].as_array()?.clone();
            (active.len() == total && active.iter().all(|t| t["health"] == "up")).then_some(active)
        });
        let rules = get_json(&format!("{base}/api/v1/rules"));
        let names: Vec<String> = rules["data"]["groups"][0]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["name"].as_str().map(str::to_owned))
            .collect();
        let pg = get_json(&format!("{base}/api/v1/query?query=pg_up"));
        let accuracy = get_json(&format!("{base}/api/v1/query?query=ai_model_accuracy"));
        (
            targets.len(),
            (
                names,
                pg["data"]["result"].as_array().map_or(0, Vec::len),
                accuracy["data"]["result"].as_array().map_or(0, Vec::len),
            ),
        )
    })
    .await
    .expect("prometheus checks");
    assert_eq!(up, total);
    let (rules, pg_series, accuracy_series) = figures;
    assert_eq!(rules.len(), 10, "{rules:?}");
    assert!(rules.contains(&"AIModelAccuracyDrop".to_owned()));
    assert_eq!(pg_series, 2, "a postgres_exporter per region");
    assert_eq!(accuracy_series, 2, "ai-services in both regions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incidents_scenario_fires_in_order_and_silences_work() {
    common::need("curl", "curl");
    let sandbox = Sandbox::start(Options {
        seed: 12,
        pods: 0,
        speed: 60.0,
        scenario: Scenario::Incidents,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let tokyo = sandbox
        .alertmanagers
        .iter()
        .find(|(r, _)| *r == "tokyo")
        .map(|(_, u)| u.clone())
        .expect("tokyo AM");
    let korea = sandbox
        .alertmanagers
        .iter()
        .find(|(r, _)| *r == "korea")
        .map(|(_, u)| u.clone())
        .expect("korea AM");
    let ready = format!(
        "{}/ready",
        sandbox
            .endpoint("tokyo", "ai-services")
            .expect("ai-services")
    );
    tokio::task::spawn_blocking(move || {
        // During the inference spike, ai-services is not ready.
        until("ai-services to turn not ready", || {
            let code = Command::new("curl").args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &ready]).output().ok()?;
            (String::from_utf8_lossy(&code.stdout) == "503").then_some(())
        });
        let mut order: Vec<String> = Vec::new();
        let alerts = until("AIModelInferenceLatency and PodCrashLooping to fire", || {
            let alerts = get_json(&format!("{tokyo}/api/v2/alerts"));
            for a in alerts.as_array()? {
                let name = a["labels"]["alertname"].as_str()?.to_owned();
                if !order.contains(&name) {
                    order.push(name);
                }
            }
            let names: Vec<&str> = alerts.as_array()?.iter().filter_map(|a| a["labels"]["alertname"].as_str()).collect();
            (names.contains(&"AIModelInferenceLatency") && names.contains(&"PodCrashLooping")).then(|| (alerts.clone(), order.clone()))
        });
        let (alerts, order) = alerts;
        let ai = order.iter().position(|n| n == "AIModelInferenceLatency");
        let crash = order.iter().position(|n| n == "PodCrashLooping");
        assert!(ai < crash, "the inference spike fires before the crash loop: {order:?}");
        let crash_alert = alerts.as_array().into_iter().flatten().find(|a| a["labels"]["alertname"] == "PodCrashLooping").cloned().expect("crash alert");
        assert_eq!(crash_alert["labels"]["severity"], "critical");
        assert_eq!(crash_alert["labels"]["team"], "platform");
        assert_eq!(crash_alert["labels"]["namespace"], "iworkz-production");
        assert!(crash_alert["labels"]["pod"].as_str().is_some_and(|p| p.starts_with("backend-api-blue-")), "{crash_alert}");
        assert!(crash_alert["annotations"]["summary"].is_string());
        assert_eq!(crash_alert["status"]["state"], "active");
        let korea_alerts = get_json(&format!("{korea}/api/v2/alerts"));
        assert!(korea_alerts.as_array().is_some_and(|a| a.iter().all(|x| x["labels"]["region"] == "korea")), "{korea_alerts}");

        // A silence suppresses it; expiring the silence brings it back.
        let silence = json!({"matchers": [{"name": "alertname", "value": "PodCrashLooping", "isRegex": false, "isEqual": true}],
            "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z", "createdBy": "on-call", "comment": "known, fix rolling out"});
        let created: Value = serde_json::from_str(&curl(&["-X", "POST", "-H", "Content-Type: application/json", "-d", &silence.to_string(), &format!("{tokyo}/api/v2/silences")])).expect("silence id");
        let id = created["silenceID"].as_str().expect("an id").to_owned();
        let suppressed = get_json(&format!("{tokyo}/api/v2/alerts?filter=alertname%3D%22PodCrashLooping%22"));
        assert_eq!(suppressed[0]["status"]["state"], "suppressed", "{suppressed}");
        assert_eq!(suppressed[0]["status"]["silencedBy"][0], id.as_str());
        let hidden = get_json(&format!("{tokyo}/api/v2/alerts?silenced=false&filter=alertname%3D%22PodCrashLooping%22"));
        assert_eq!(hidden.as_array().map(Vec::len), Some(0));
        let groups = get_json(&format!("{tokyo}/api/v2/alerts/groups"));
        assert!(groups.as_array().is_some_and(|g| g.iter().any(|g| g["labels"]["alertname"] == "PodCrashLooping")), "{groups}");
        let listed = get_json(&format!("{tokyo}/api/v2/silences"));
        assert_eq!(listed[0]["status"]["state"], "active");
        curl(&["-X", "DELETE", &format!("{tokyo}/api/v2/silence/{id}")]);
        let back = get_json(&format!("{tokyo}/api/v2/alerts?filter=alertname%3D%22PodCrashLooping%22"));
        assert_eq!(back[0]["status"]["state"], "active", "{back}");
        assert_eq!(get_json(&format!("{tokyo}/api/v2/silence/{id}"))["status"]["state"], "expired");
        let status = get_json(&format!("{tokyo}/api/v2/status"));
        assert_eq!(status["cluster"]["status"], "disabled");
    })
    .await
    .expect("alert checks");
}
