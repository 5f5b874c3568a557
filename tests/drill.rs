//! `touban drill` of the built binary against the sandbox: every readiness
//! check printed with its value, the drill written to the audit log as a
//! dry run of the region runbook, the exit status a pipeline can act on,
//! and the next drill's "last drill" row reading what the last one left.

use std::path::Path;
use std::process::{Command, Output};

use touban::sandbox::{Options, Sandbox, Scenario};

const BIN: &str = env!("CARGO_BIN_EXE_touban");

/// `touban --config CONFIG drill ARGS`, its state (the audit log) under `home`.
async fn drill(home: &Path, config: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--config")
        .arg(config)
        .arg("drill")
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("TOUBAN_CONFIG");
    tokio::task::spawn_blocking(move || cmd.output().expect("run touban drill"))
        .await
        .expect("drill thread")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "drill --json printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// The check of `area` in the only DR region's checks.
fn check<'a>(doc: &'a serde_json::Value, area: &str) -> &'a serde_json::Value {
    doc["regions"][0]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["area"] == area)
        .unwrap_or_else(|| panic!("no {area} check in {doc:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: ready, recorded, read back, not ready
async fn a_drill_prints_every_check_records_itself_and_fails_when_korea_could_not_take_over() {
    let sandbox = Sandbox::start(Options {
        seed: 61,
        speed: 10.0,
        scenario: Scenario::Calm,
        ..Options::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    let home = tempfile::tempdir().expect("home");

    // Calm: ready, with the seed's drift and HPA fault as warnings.
    let first = drill(home.path(), &config, &["--json", "--wait", "60"]).await;
    let doc = json(&first);
    assert_eq!(first.status.code(), Some(0), "{doc:#}");
    assert_eq!(doc["ready"], true);
    assert_eq!(doc["did_not_answer"], serde_json::json!([]), "{doc:#}");
    let region = &doc["regions"][0];
    assert_eq!(
        (region["from"].as_str(), region["to"].as_str()),
        (Some("Tokyo"), Some("Seoul"))
    );
    assert_eq!(region["rpo_seconds"], 30);
    let replication = check(&doc, "replication");
    assert_eq!(replication["mark"], "ok", "{replication}");
    assert!(
        replication["why"]
            .as_str()
            .is_some_and(|w| w.contains("within RPO 30 s")),
        "{replication}"
    );
    assert!(
        replication["age_seconds"].as_u64().is_some_and(|a| a < 60),
        "{replication}"
    );
    assert_eq!(check(&doc, "drift")["mark"], "warn");
    assert_eq!(
        check(&doc, "drill")["why"],
        "no drill on record · `touban drill` runs one"
    );
    assert_eq!(check(&doc, "traffic")["mark"], "ok");
    assert_eq!(check(&doc, "failback")["mark"], "ok");

    // Then the runbook's plan, in live values: eight steps, each saying
    // how it is done today.
    let runbook = region["runbook"].as_array().expect("the runbook");
    assert_eq!(runbook.len(), 8, "{runbook:#?}");
    let step = |n: usize| &runbook[n - 1];
    assert!(
        step(2)["does"]
            .as_array()
            .is_some_and(|d| d.iter().any(|l| l.as_str().is_some_and(|l| l
                .starts_with("iworkz-production/backend-api: backend-api-")
                && l.contains(" → ")))),
        "{:#}",
        step(2)
    );
    // Korea's database is an Azure replica with its ARM reference:
    // promoted by the executor.
    assert_eq!(
        step(5)["how"][0],
        serde_json::json!({"by": "executor", "text": ":switchover iworkz-dr-postgres (step 5: a Planned promotion through Azure; step 3's fence is not in it)"}),
        "{:#}",
        step(5)
    );
    assert_eq!(
        step(6)["how"][0],
        serde_json::json!({"by": "executor", "text": ":disable-pool tokyo"}),
        "{:#}",
        step(6)
    );

    // Written down as a dry run of the region runbook.
    let log =
        std::fs::read_to_string(home.path().join("state/touban/audit.jsonl")).expect("audit log");
    let record: serde_json::Value =
        serde_json::from_str(log.lines().last().expect("a record")).expect("json");
    assert_eq!(record["event"], "finished");
    assert_eq!(
        record["action"],
        serde_json::json!({"action": "region-failover", "from": "tokyo", "to": "korea"})
    );
    assert_eq!(record["object"], "Region/korea");
    assert_eq!(record["dry_run"], true);
    assert!(
        record["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("succeeded: Seoul ready")),
        "{record}"
    );

    // The next drill reads it; for a reader, every check with its value.
    let second = drill(home.path(), &config, &["--wait", "60"]).await;
    let text = String::from_utf8_lossy(&second.stdout);
    assert_eq!(second.status.code(), Some(0), "{text}");
    assert!(text.starts_with("DR readiness Tokyo → Seoul\n"), "{text}");
    assert!(text.contains("ok      drill"), "{text}");
    assert!(text.contains("passed (read"), "{text}");
    assert!(text.contains("lag 0.4 s within RPO 30 s"), "{text}");
    assert!(
        text.contains(
            "The runbook Tokyo → Seoul: what a failover would do now (nothing is changed)"
        ) && text.contains("  6. switch traffic: disable Tokyo's pool in the global load balancer")
            && text.contains("       executor: :disable-pool tokyo"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("Seoul ready (lag")),
        "{text}"
    );

    // Korea's replica far behind: not ready, exit 1, the failure recorded.
    sandbox.sim.lock().expect("sim").korea_lag = Some(120.0);
    // The simulation takes it at its next simulated second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !sandbox
        .sim
        .lock()
        .expect("sim")
        .regions
        .iter()
        .flat_map(|r| &r.databases)
        .any(|d| d.lag_seconds >= 120.0)
    {
        assert!(std::time::Instant::now() < deadline, "the lag never set");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let third = drill(home.path(), &config, &["--json", "--wait", "60"]).await;
    let doc = json(&third);
    assert_eq!(third.status.code(), Some(1), "{doc:#}");
    assert_eq!(doc["ready"], false);
    assert_eq!(check(&doc, "replication")["mark"], "fail", "{doc:#}");
    assert!(
        doc["regions"][0]["verdict"].as_str().is_some_and(
            |v| v.starts_with("not ready · iworkz-dr-postgres: lag 120 s over RPO 30 s")
        ),
        "{doc:#}"
    );
    assert_eq!(
        check(&doc, "drill")["mark"],
        "ok",
        "the last drill before this one passed"
    );
    sandbox.sim.lock().expect("sim").korea_lag = None;
    let fourth = drill(home.path(), &config, &["--json", "--wait", "60"]).await;
    let doc = json(&fourth);
    let last = check(&doc, "drill");
    assert_eq!(last["mark"], "warn", "{last}");
    assert!(
        last["why"]
            .as_str()
            .is_some_and(|w| w.contains("did not pass: failed: Seoul not ready")),
        "{last}"
    );
    let log =
        std::fs::read_to_string(home.path().join("state/touban/audit.jsonl")).expect("audit log");
    assert_eq!(log.lines().count(), 4, "one record per drill:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_without_a_dr_region_has_nothing_to_drill() {
    let home = tempfile::tempdir().expect("home");
    let config =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/valid/minimal.toml");
    let out = drill(home.path(), &config, &["--wait", "1"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to drill"));
}
