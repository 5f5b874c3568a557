//! `touban snapshot` and `touban check` of the built binary: against a
//! `touban sandbox` in a process of its own (calm: everything holds, the
//! JSON valid against the schema the binary prints), against the outage
//! (check exits 2 naming Tokyo's database), and a broken config reading
//! as unknown (3), never as critical. Nothing but the output is printed.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use touban::sandbox::{Options, Sandbox, Scenario};

const BIN: &str = env!("CARGO_BIN_EXE_touban");

mod common;

use common::Process;

/// `touban sandbox --scenario calm` in its own process, its config in
/// `dir`: the process and the config, once it says it is up.
fn sandbox_process(dir: &Path) -> (Process, PathBuf) {
    let mut child = Command::new(BIN)
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
        .arg(dir.join("sandbox"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("start touban sandbox");
    let stdout = child.stdout.take().expect("its stdout");
    let process = Process(child);
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader
        .read_line(&mut first)
        .expect("read the sandbox's first line");
    assert!(first.contains("up in"), "touban sandbox said {first:?}");
    // The rest is read too: a sandbox whose reader has gone ends, as a
    // filter in a pipeline does.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    (process, dir.join("sandbox").join("config.toml"))
}

/// `touban --config CONFIG ARGS`, its state under `home`.
fn touban(home: &Path, config: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("TOUBAN_CONFIG")
        .output()
        .expect("run touban")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Prints only its output: nothing on stderr.
fn quiet(o: &Output) {
    assert!(
        o.stderr.is_empty(),
        "printed to stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every object schema in `schema` refuses properties it does not name:
/// a field the document prints that the schema does not document fails.
fn closed(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), false.into());
            }
            for v in map.values_mut() {
                closed(v);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(closed),
        _ => {}
    }
}

#[test]
fn against_a_calm_sandbox_every_rule_holds_and_the_snapshot_is_what_its_schema_says() {
    let dir = tempfile::tempdir().expect("temp");
    let (_sandbox, config) = sandbox_process(dir.path());
    let home = dir.path().join("home");

    let check = touban(&home, &config, &["check", "--wait", "30s"]);
    quiet(&check);
    let text = stdout(&check);
    assert_eq!(check.status.code(), Some(0), "{text}");
    assert!(text.starts_with("OK: "), "{text}");
    assert!(text.contains("in Tokyo, Seoul"), "{text}");

    // The standing faults of the seed's configuration are there on request.
    let rollouts = touban(&home, &config, &["check", "--only", "rollouts,drift"]);
    let text = stdout(&rollouts);
    assert_eq!(rollouts.status.code(), Some(2), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("CRITICAL")
            && l.contains("aks-korea iworkz-production/backend-api-hpa")
            && l.contains("does not exist")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("WARNING") && l.contains("Tokyo↔Seoul drift")),
        "{text}"
    );

    let schema = touban(&home, &config, &["snapshot", "--schema"]);
    quiet(&schema);
    let mut schema: serde_json::Value = serde_json::from_slice(&schema.stdout).expect("a schema");
    closed(&mut schema);
    let validator = jsonschema::validator_for(&schema).expect("the schema is a JSON Schema");

    let snap = touban(&home, &config, &["snapshot", "--json", "--wait", "30s"]);
    quiet(&snap);
    assert_eq!(snap.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&snap.stdout).expect("JSON");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{doc:#}");
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["did_not_answer"], serde_json::json!([]));
    let tokyo = &doc["regions"][0];
    assert_eq!(
        (tokyo["name"].as_str(), tokyo["health"].as_str()),
        (Some("tokyo"), Some("ok"))
    );
    let db = &tokyo["databases"][0];
    assert_eq!(db["name"], "iworkz-production-postgres");
    assert_eq!(db["source"]["state"], "live");
    assert_eq!(db["reading"]["role"], "primary");
    assert!(
        db["source"]["age_seconds"].as_u64().is_some_and(|a| a < 60),
        "{db}"
    );
    let korea = &doc["regions"][1];
    assert_eq!(korea["role"], "dr");
    assert!(
        korea["databases"][0]["reading"]["replay_lag_seconds"].is_number(),
        "{korea:#}"
    );
    assert_eq!(doc["readiness"][0]["ready"], true, "{:#}", doc["readiness"]);
    assert!(
        doc["rollouts"]
            .as_array()
            .expect("rollouts")
            .iter()
            .any(|r| r["app"] == "web-frontend" && r["live"] == "blue"),
        "{:#}",
        doc["rollouts"]
    );

    // YAML: the same fields.
    let yaml = touban(&home, &config, &["snapshot", "--yaml"]);
    quiet(&yaml);
    let doc: serde_json::Value = serde_yaml_ng::from_slice(&yaml.stdout).expect("YAML");
    assert_eq!(doc["regions"][1]["display"], "Seoul");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_the_tokyo_outage_check_is_critical_and_names_the_database() {
    // Tokyo's database fails at simulated second 60: a second here; its
    // API server stops answering a second later.
    let sandbox = Sandbox::start(Options {
        seed: 71,
        speed: 60.0,
        scenario: Scenario::OutageTokyo,
        ..Options::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let home = dir.path().join("home");
    let run = |args: &'static [&'static str]| {
        let (home, config) = (home.clone(), config.clone());
        tokio::task::spawn_blocking(move || touban(&home, &config, args))
    };

    let check = run(&["check", "--wait", "20s"]).await.expect("check");
    quiet(&check);
    let text = stdout(&check);
    assert_eq!(check.status.code(), Some(2), "{text}");
    assert!(text.starts_with("CRITICAL: "), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("CRITICAL")
            && l.contains("Tokyo database iworkz-production-postgres")),
        "{text}"
    );

    // The same rules, read from the document a script would read.
    let snap = run(&["snapshot", "--json", "--wait", "20s"])
        .await
        .expect("snapshot");
    let doc: serde_json::Value = serde_json::from_slice(&snap.stdout).expect("JSON");
    let tokyo = &doc["regions"][0];
    assert_eq!(tokyo["health"], "failing", "{tokyo:#}");
    let db = &tokyo["databases"][0];
    assert_eq!(db["health"], "failing", "{db:#}");
    assert!(
        db["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .any(|r| r["rule"] == "down" && r["counts"] == true),
        "{db:#}"
    );

    // Seoul alone is judged apart.
    let seoul = run(&["check", "--region", "Seoul", "--only", "databases"])
        .await
        .expect("check");
    let text = stdout(&seoul);
    assert!(!text.contains("Tokyo"), "{text}");
    let unknown_region = run(&["check", "--region", "osaka"]).await.expect("check");
    assert_eq!(
        unknown_region.status.code(),
        Some(3),
        "{}",
        stdout(&unknown_region)
    );
    assert!(stdout(&unknown_region).contains("no region `osaka`"));
}

#[test]
fn a_broken_config_is_unknown_to_check_and_a_configuration_error_elsewhere() {
    let dir = tempfile::tempdir().expect("temp");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "environment = \n").expect("write");
    let check = touban(dir.path(), &config, &["check"]);
    assert_eq!(check.status.code(), Some(3), "{check:?}");
    let missing = touban(dir.path(), &dir.path().join("absent.toml"), &["check"]);
    assert_eq!(missing.status.code(), Some(3), "{missing:?}");
    // A typo in a gate's arguments is unknown too, never critical.
    let typo = touban(dir.path(), &config, &["check", "--only", "databse"]);
    assert_eq!(typo.status.code(), Some(3), "{typo:?}");
    let snapshot = touban(dir.path(), &config, &["snapshot"]);
    assert_eq!(snapshot.status.code(), Some(2), "{snapshot:?}");
    assert!(
        String::from_utf8_lossy(&snapshot.stderr).contains("configuration error"),
        "{snapshot:?}"
    );
}
