//! Configuration files: valid and invalid platform, theme and keymap
//! fixtures, asserting the operator-facing error text (file:line:col and
//! what is expected), and every shipped theme and keymap.

mod common;

use std::path::{Path, PathBuf};

use common::isolated_paths;
use touban::config::theme::{Color, ThemeSet};
use touban::config::{self, ConfigOrigin, Keymap, Overrides, Platform};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn load(rel: &str) -> Result<config::Loaded, String> {
    let paths = isolated_paths(ConfigOrigin::Flag(fixture(rel)));
    config::load(&paths, &Overrides::default()).map_err(|e| e.to_string())
}

/// The first line of an error, with the fixture directory cut off.
fn first_line(err: &str) -> String {
    let dir = format!(
        "{}/",
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .display()
    );
    err.lines().next().unwrap_or_default().replace(&dir, "")
}

#[test]
fn valid_platform_files_load() {
    let minimal = load("config/valid/minimal.toml").expect("minimal");
    assert_eq!(minimal.platform.environment, "staging");
    assert!(minimal.platform.clusters.is_empty());
    let three = load("config/valid/three_regions.toml").expect("three regions");
    assert_eq!(three.platform.regions.len(), 3);
    assert_eq!(three.theme, "light");
    assert_eq!(three.keymap.name, "vim");
    assert!(three.read_only());
}

#[test]
fn read_only_is_the_flag_over_the_cluster_over_the_settings() {
    use touban::config::ReadOnlyBy;
    let src = format!(
        "{}[settings]\nread_only = true\n\n[[clusters]]\nname = \"eks-tokyo\"\nregion = \"tokyo\"\ncontext = \"t\"\nread_only = false\n\n[[clusters]]\nname = \"aks-korea\"\nregion = \"korea\"\ncontext = \"k\"\n\n[[clusters]]\nname = \"eks-dr\"\nregion = \"korea\"\ncontext = \"d\"\nread_only = true\n",
        common::TWO_REGIONS
    );
    let mut loaded = common::loaded("default", "default");
    loaded.platform = Platform::parse("test.toml", &src).expect("valid");
    assert!(
        loaded.read_only(),
        "the settings make the console read-only"
    );
    assert_eq!(
        loaded.read_only_for(Some("eks-tokyo")),
        None,
        "the cluster's own false wins over the settings"
    );
    assert_eq!(
        loaded.read_only_for(Some("aks-korea")),
        Some(ReadOnlyBy::Settings)
    );
    assert_eq!(loaded.read_only_for(None), Some(ReadOnlyBy::Settings));
    assert_eq!(
        loaded.read_only_for(Some("eks-dr")),
        Some(ReadOnlyBy::Cluster("eks-dr".into()))
    );
    loaded.read_only_flag = true;
    assert_eq!(
        loaded.read_only_for(Some("eks-tokyo")),
        Some(ReadOnlyBy::Flag),
        "nothing overrides --read-only"
    );
    assert_eq!(ReadOnlyBy::Flag.to_string(), "--read-only");
}

#[test]
fn invalid_platform_files_name_file_line_column_and_what_is_expected() {
    let cases = [
        (
            "syntax",
            "config/invalid/syntax.toml:1:33: invalid basic string, expected `\"`",
        ),
        (
            "unknown_key",
            "config/invalid/unknown_key.toml:7:1: unknown field `timezone`, expected one of `name`, `display`, `role`, `time_zone`, `location`, `prometheus`",
        ),
        (
            "wrong_type",
            "config/invalid/wrong_type.toml:4:13: invalid type: string \"yes\", expected a boolean",
        ),
        (
            "unknown_region",
            "config/invalid/unknown_region.toml:11:10: unknown region `osaka`: expected one of `tokyo`",
        ),
        (
            "bad_time_zone",
            "config/invalid/bad_time_zone.toml:7:13: unknown time zone `Korea/Central`: expected an IANA name such as `Asia/Tokyo`",
        ),
        (
            "inline_password",
            "config/invalid/inline_password.toml:13:18: the URL carries a password in its user part (user:password@): touban keeps credentials out of URLs, which it shows and logs; remove it (a database's or cache's password goes in password = { env = \"VAR\" } or password = { file = \"/path\" })",
        ),
        (
            "unknown_theme",
            "config/invalid/unknown_theme.toml:4:9: unknown theme `solarized`: expected one of `default`, `high-contrast`, `light`, `mono`",
        ),
        (
            "wrong_role",
            "config/invalid/wrong_role.toml:6:8: unknown variant `secondary`, expected `primary` or `dr`",
        ),
    ];
    for (name, expected) in cases {
        let err = load(&format!("config/invalid/{name}.toml")).expect_err(name);
        assert_eq!(first_line(&err), expected, "{name}: full error:\n{err}");
    }
}

#[test]
fn errors_quote_the_line_and_point_at_the_column() {
    let err = load("config/invalid/unknown_region.toml").expect_err("unknown region");
    let quoted: Vec<&str> = err.lines().skip(1).collect();
    assert_eq!(
        quoted,
        ["   |", "11 | region = \"osaka\"", "   |          ^"]
    );
}

#[test]
fn secrets_in_the_config_never_reach_an_error_message() {
    let err = load("config/invalid/inline_password.toml").expect_err("inline password");
    // The offending line is quoted so the operator can find it, with the
    // password masked: the error goes to a terminal, maybe a shared one.
    assert!(!err.contains("hunter2"), "{err}");
    assert!(
        err.contains("postgres://touban:****@db:5432/postgres"),
        "{err}"
    );
    let platform = load("config/valid/three_regions.toml")
        .expect("valid")
        .platform;
    let debug = format!("{platform:?}");
    assert!(
        debug.contains("SecretRef(file /run/secrets/redis)"),
        "{debug}"
    );
}

#[test]
fn the_built_in_example_is_the_seed_platform() {
    let p = Platform::parse("example", config::platform::EXAMPLE).expect("example");
    let names: Vec<_> = p
        .clusters
        .iter()
        .map(|c| c.name.get_ref().as_str())
        .collect();
    assert_eq!(names, ["eks-tokyo", "aks-korea"]);
    let general = &p.clusters[0].node_groups[0];
    assert_eq!(
        (
            general.name.get_ref().as_str(),
            general.min,
            general.desired,
            general.max
        ),
        ("general", 3, 6, 20)
    );
    assert_eq!(p.regions[0].time_zone.get_ref(), "Asia/Tokyo");
    assert_eq!(p.regions[1].time_zone.get_ref(), "Asia/Seoul");
    assert!(!config::platform::EXAMPLE.contains(":password@"));
}

#[test]
fn theme_errors_name_file_line_column() {
    let set = ThemeSet::load(Some(&fixture("themes/unknown_role"))).expect("built-ins load");
    let err = set.broken()["default"].to_string();
    let first = first_line(&err);
    assert!(
        first.starts_with("themes/unknown_role/default.toml:2:1: unknown field `succes`, expected one of `extends`, `text`, `muted`"),
        "{err}"
    );
    let set = ThemeSet::load(Some(&fixture("themes/unknown_colour"))).expect("built-ins load");
    let err = set.broken()["incident"].to_string();
    assert!(
        first_line(&err).starts_with("themes/unknown_colour/incident.toml:2:29: unknown colour `blood-red`: expected reset, black, red,"),
        "{err}"
    );
}

#[test]
fn a_broken_theme_stops_the_start_only_when_it_is_in_use() {
    let dir = tempfile::tempdir().expect("temp");
    std::fs::create_dir_all(dir.path().join("themes")).expect("themes dir");
    std::fs::write(
        dir.path().join("themes/spare.toml"),
        "ok = \"chartreuse\"\n",
    )
    .expect("write");
    let mut paths = isolated_paths(ConfigOrigin::BuiltIn);
    paths.themes_dir = dir.path().join("themes");
    let loaded = config::load(&paths, &Overrides::default())
        .expect("an unused broken theme is no reason to stop");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("theme `spare` not loaded") && w.contains("spare.toml:1:6")),
        "{:?}",
        loaded.warnings
    );
    let in_use = Overrides {
        theme: Some("spare".into()),
        ..Overrides::default()
    };
    let err = config::load(&paths, &in_use)
        .expect_err("the theme in use is broken")
        .to_string();
    assert!(
        err.contains("spare.toml:1:6: unknown colour `chartreuse`"),
        "{err}"
    );
}

#[test]
fn files_of_any_size_are_refused_before_they_are_read_whole() {
    let paths = isolated_paths(ConfigOrigin::Flag(PathBuf::from("/dev/zero")));
    let err = config::load(&paths, &Overrides::default())
        .expect_err("/dev/zero")
        .to_string();
    assert!(
        err.contains("/dev/zero") && err.contains("larger than 1024 KiB"),
        "{err}"
    );
    let mut paths = isolated_paths(ConfigOrigin::BuiltIn);
    paths.keymap_file = PathBuf::from("/dev/zero");
    let loaded = config::load(&paths, &Overrides::default()).expect("a keymap file is never fatal");
    assert!(
        loaded.warnings.iter().any(|w| w.contains("larger than")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn a_keymap_that_leaves_no_way_to_quit_is_refused() {
    let dir = tempfile::tempdir().expect("temp");
    let file = dir.path().join("keymap.toml");
    std::fs::write(
        &file,
        "[[global]]\non = \"q\"\nrun = \"nothing\"\n\n[[global]]\non = \":\"\nrun = \"nothing\"\n\n[[global]]\non = \"ctrl-c\"\nrun = \"nothing\"\n",
    )
    .expect("write");
    let mut paths = isolated_paths(ConfigOrigin::BuiltIn);
    paths.keymap_file = file;
    let loaded = config::load(&paths, &Overrides::default()).expect("loads");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("refused, it leaves no way to quit")),
        "{:?}",
        loaded.warnings
    );
    assert!(
        loaded.keymap.trapped_in().is_none(),
        "the built-in keys are in force"
    );
}

#[test]
fn a_user_theme_overrides_only_the_roles_it_names() {
    let built_in = ThemeSet::load(None).expect("built-in");
    let user = ThemeSet::load(Some(&fixture("themes/override"))).expect("override");
    let (before, after) = (
        built_in.get("default").expect("default"),
        user.get("default").expect("default"),
    );
    assert_eq!(after.crit.fg, Some(Color::Rgb(255, 0, 0)));
    assert!(after.crit.blink);
    assert_eq!(after.ok, before.ok);
    assert_eq!(after.selection, before.selection);
    let wallboard = user.get("wallboard").expect("a new user theme");
    assert!(wallboard.title.underline);
    assert_eq!(
        wallboard.ok,
        built_in.get("light").expect("light").ok,
        "extends light"
    );
}

#[test]
fn a_bad_user_keymap_warns_and_keeps_the_rest() {
    let (mut keymap, _) = Keymap::built_in("default").expect("default");
    let src = std::fs::read_to_string(fixture("keymaps/user.toml")).expect("fixture");
    let warnings = keymap.merge("keymap.toml", &src);
    assert_eq!(
        warnings,
        [
            "keymap.toml:5:12: unknown key `hyper-x`: expected one character or one of enter, esc, tab, backtab, backspace, delete, insert, up, down, left, right, home, end, pageup, pagedown, space, f1..f24, with optional ctrl- / alt- / shift- prefixes",
            "keymap.toml:6:23: unknown command `launch`: expected one of quit, suspend, help, command-line, filter, next-pane, prev-pane, next-view, prev-view, up, down, page-up, page-down, top, bottom, select, back, theme, namespace, next-namespace, scale, restart, hpa-min, hpa-max, set-image, undo, older-revision, newer-revision, deploy, revert, delete-pod, retarget-hpa, silence, expire, switchover, promote, fence, unfence, lockout, unlock, cache-failover, cache-promote, rds-failover, rds-promote, apply, infra-plan, infra-apply, node-group, disable-pool, enable-pool, failover-region, failback-region, cancel-job, resume-job, proceed-job, sort, jump, messages, logs, shell, port-forward, language, wall-pause, copy, copy-yaml, overview, cluster, data, ai, rollouts, failover, scaling, alerts, jobs",
        ]
    );
    let q = touban::model::Key::char('Q');
    assert!(matches!(
        keymap.lookup(touban::model::Pane::Overview, &[q]),
        touban::config::keymap::Lookup::Found(b) if b.command == touban::model::Command::Quit
    ));
}

/// Every file in `themes/` and `keymaps/` is built in and loads cleanly:
/// a file added without being registered fails here.
#[test]
fn every_shipped_theme_and_keymap_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let themes = ThemeSet::load(None).expect("built-in themes");
    let stems = |dir: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(root.join(dir))
            .expect(dir)
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        v.sort();
        v
    };
    let theme_files = stems("themes");
    assert!(theme_files.len() >= 4, "{theme_files:?}");
    for name in &theme_files {
        let t = themes
            .get(name)
            .unwrap_or_else(|| panic!("themes/{name}.toml is not built in"));
        assert_eq!(&t.name, name);
    }
    for name in stems("keymaps") {
        // The wallboard's keymap is its own, not one `--keymap` offers.
        let (_, warnings) = if name == "wall" {
            Keymap::wall()
        } else {
            Keymap::built_in(&name).unwrap_or_else(|| panic!("keymaps/{name}.toml is not built in"))
        };
        assert!(warnings.is_empty(), "keymaps/{name}.toml: {warnings:?}");
    }
}
