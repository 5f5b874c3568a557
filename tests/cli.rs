//! The command line of the built binary: where config comes from, what
//! `info`, `config` and `completions` print, and the theme / mode flags.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_touban");

fn fixture(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Runs touban with a clean environment of XDG dirs under `home`.
fn touban(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("TOUBAN_CONFIG")
        .env_remove("NO_COLOR")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run touban")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn config_line(o: &Output) -> String {
    stdout(o)
        .lines()
        .find(|l| l.starts_with("config "))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn config_is_found_by_flag_then_env_then_xdg_then_built_in() {
    let home = tempfile::tempdir().expect("temp");
    let h = home.path();
    let minimal = fixture("config/valid/minimal.toml");
    let three = fixture("config/valid/three_regions.toml");

    let built_in = touban(h, &["info"], &[]);
    assert!(
        config_line(&built_in).contains("built-in example"),
        "{}",
        stdout(&built_in)
    );

    std::fs::create_dir_all(h.join("config/touban")).expect("mkdir");
    std::fs::copy(&minimal, h.join("config/touban/config.toml")).expect("copy");
    let xdg = touban(h, &["info"], &[]);
    assert!(
        config_line(&xdg).contains("config/touban/config.toml"),
        "{}",
        stdout(&xdg)
    );

    let env = touban(
        h,
        &["info"],
        &[("TOUBAN_CONFIG", three.to_str().expect("utf-8"))],
    );
    assert!(
        config_line(&env).contains("three_regions.toml (TOUBAN_CONFIG)"),
        "{}",
        stdout(&env)
    );

    let flag = touban(
        h,
        &["--config", minimal.to_str().expect("utf-8"), "info"],
        &[("TOUBAN_CONFIG", three.to_str().expect("utf-8"))],
    );
    assert!(
        config_line(&flag).contains("minimal.toml (--config)"),
        "{}",
        stdout(&flag)
    );

    let info = stdout(&flag);
    for key in [
        "themes dir",
        "keymap file",
        "log file",
        "audit log",
        "themes       default, high-contrast, light, mono",
        "keymaps      default, vim",
    ] {
        assert!(info.contains(key), "`{key}` in:\n{info}");
    }
    assert!(
        info.contains(&format!("{}/state/touban/touban.log", h.display())),
        "{info}"
    );
}

#[test]
fn no_color_picks_mono_unless_a_theme_is_asked_for() {
    let home = tempfile::tempdir().expect("temp");
    let check = |args: &[&str], env: &[(&str, &str)]| stdout(&touban(home.path(), args, env));
    assert!(check(&["config", "check"], &[]).contains("theme default"));
    assert!(check(&["config", "check"], &[("NO_COLOR", "1")]).contains("theme mono"));
    assert!(
        check(&["config", "check"], &[("NO_COLOR", "")]).contains("theme default"),
        "an empty NO_COLOR does not count"
    );
    assert!(
        check(
            &["--theme", "light", "config", "check"],
            &[("NO_COLOR", "1")]
        )
        .contains("theme light")
    );
    let unknown = touban(home.path(), &["--theme", "neon", "config", "check"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        said.contains(
            "--theme: unknown theme `neon`: expected one of `default`, `high-contrast`, `light`, `mono`"
        ),
        "{said}"
    );
    // An option is not a file: no line and column, no snippet.
    assert!(
        !said.contains("--theme:1") && !said.contains(" | "),
        "{said}"
    );
}

#[test]
fn a_user_keymap_with_mistakes_is_reported_not_fatal() {
    let home = tempfile::tempdir().expect("temp");
    std::fs::create_dir_all(home.path().join("config/touban")).expect("mkdir");
    std::fs::copy(
        fixture("keymaps/user.toml"),
        home.path().join("config/touban/keymap.toml"),
    )
    .expect("copy");
    let out = touban(home.path(), &["config", "check"], &[]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("warning: ") && text.contains("keymap.toml:5:12: unknown key `hyper-x`"),
        "{text}"
    );
    assert!(
        text.contains("keymap.toml:6:23: unknown command `launch`"),
        "{text}"
    );
}

#[test]
fn example_and_completions_print() {
    let home = tempfile::tempdir().expect("temp");
    let example = stdout(&touban(home.path(), &["config", "example"], &[]));
    assert!(example.contains("environment = \"iworkz-production\""));
    assert!(example.contains("password = { env = \"TOUBAN_TOKYO_PG_PASSWORD\" }"));
    for shell in ["bash", "zsh", "fish"] {
        let out = touban(home.path(), &["completions", shell], &[]);
        assert!(out.status.success(), "{shell}");
        assert!(stdout(&out).contains("touban"), "{shell}");
    }
    // Values complete as values, not as file names.
    let bash = stdout(&touban(home.path(), &["completions", "bash"], &[]));
    for offered in [
        "calm incidents outage-tokyo",
        "black-hole dead",
        "default light high-contrast mono",
        "default vim",
    ] {
        assert!(
            bash.contains(offered),
            "`{offered}` offered by bash completion"
        );
    }
    let help = stdout(&touban(home.path(), &["--help"], &[]));
    for flag in [
        "--config",
        "--theme",
        "--keymap",
        "--read-only",
        "--log-file",
    ] {
        assert!(help.contains(flag), "{flag} in --help");
    }
    assert!(!help.contains("crash-test"), "the crash test stays hidden");
}

/// `touban audit`: nothing yet said as such; the records since a while ago
/// for humans, or as the JSON lines they are; a bad duration is refused.
#[test]
fn audit_prints_the_log_for_humans_or_scripts() {
    let home = tempfile::tempdir().expect("temp");
    let none = touban(home.path(), &["audit"], &[]);
    assert!(none.status.success());
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("no audit log at"),
        "{none:?}"
    );
    let dir = home.path().join("state/touban");
    std::fs::create_dir_all(&dir).expect("dir");
    let now = jiff::Timestamp::now();
    let record = |at: jiff::Timestamp, job: u64, event: &str| {
        serde_json::json!({
            "at": at.to_string(), "environment": "prod", "operator": "ops@bastion",
            "session": "s", "job": job, "event": event, "region": "tokyo",
            "cluster": "eks-tokyo", "namespace": "iworkz-production",
            "object": "Deployment/web-frontend-blue",
            "action": {"action": "scale", "replicas": 10}, "dry_run": false,
            "detail": "scale web-frontend-blue from 4 to 10"
        })
        .to_string()
    };
    let old = record(now - jiff::SignedDuration::from_hours(3), 1, "planned");
    let new = record(now, 2, "confirmed");
    std::fs::write(dir.join("audit.jsonl"), format!("{old}\n{new}\n")).expect("write");
    let human = touban(home.path(), &["audit", "--since", "1h"], &[]);
    assert!(human.status.success(), "{human:?}");
    let text = stdout(&human);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("ops@bastion #2 confirmed eks-tokyo/iworkz-production Deployment/web-frontend-blue scale replicas=10: scale web-frontend-blue from 4 to 10"),
        "{text}"
    );
    let json = touban(home.path(), &["audit", "--json"], &[]);
    assert_eq!(stdout(&json), format!("{old}\n{new}\n"));
    let bad = touban(home.path(), &["audit", "--since", "yesterday"], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("give a duration such as 1h"),
        "{bad:?}"
    );
}
