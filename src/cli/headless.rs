//! `touban snapshot` and `touban check`: the console's state without the
//! console. The sources are started as the console starts them; once each
//! has answered or failed (or the wait has passed), `snapshot` prints the
//! whole platform (text, JSON or YAML) and `check` judges it by the
//! console's rules, one line per rule that does not hold, with the Nagios
//! plugin's exit status: 0 ok, 1 warning, 2 critical, 3 unknown (also for
//! a configuration error, so that a broken config never reads as an
//! outage). Nothing but the output reaches the terminal: no log, no
//! progress.

use std::collections::BTreeSet;

use clap::builder::TypedValueParser as _;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use color_eyre::eyre;
use tokio::sync::mpsc;

use crate::app::{App, Event};
use crate::config::{self, Overrides, Paths};
use crate::model::SourceState;
use crate::model::readiness::Mark;
use crate::model::snapshot::{self, Category, Snapshot, Status};
use crate::model::verdict::Level;

use super::{WorldArgs, report};

/// Where the sources are read, and for how long.
#[derive(Debug, Clone, clap::Args)]
pub struct Reading {
    /// Wait at most this long for every source to answer once (`10s`, `1m`).
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = wait)]
    pub wait: Duration,
    /// Read the demo's simulated platform (started in-process) instead.
    #[arg(long)]
    pub demo: bool,
    /// The demo's world, with `--demo`.
    #[command(flatten)]
    pub world: WorldArgs,
}

/// A wait: a duration (`10s`, `1m30s`) or whole seconds.
fn wait(s: &str) -> Result<Duration, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    s.parse::<jiff::SignedDuration>()
        .ok()
        .and_then(|d| Duration::try_from(d).ok())
        .ok_or_else(|| format!("`{s}` is not a duration: give one such as 10s, 90s or 2m"))
}

/// What `touban snapshot` was asked.
#[derive(Debug, Clone, clap::Args)]
pub struct SnapshotArgs {
    /// Print one JSON document (its schema: `--schema`).
    #[arg(long, conflicts_with = "yaml")]
    pub json: bool,
    /// Print one YAML document, the same fields as the JSON.
    #[arg(long)]
    pub yaml: bool,
    /// Print the JSON Schema of the document and exit (nothing is read).
    #[arg(long, conflicts_with_all = ["json", "yaml"])]
    pub schema: bool,
    /// Where and how long.
    #[command(flatten)]
    pub reading: Reading,
}

/// What `touban check` was asked.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Judge only this region (its configured or shown name: `tokyo`, `Seoul`).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Judge only these (default: clusters, databases, caches, ai, alerts,
    /// frontends; rollouts, drift and readiness on request).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        value_parser = clap::builder::PossibleValuesParser::new(<Category as strum::VariantNames>::VARIANTS)
            .try_map(|s| s.parse::<Category>())
    )]
    pub only: Vec<Category>,
    /// Where and how long.
    #[command(flatten)]
    pub reading: Reading,
}

/// What the sources said once each answered or the wait passed.
pub(super) struct Read {
    /// The app, with every answer taken in.
    pub app: App,
    /// The sources that said nothing.
    pub silent: Vec<String>,
    /// The paths in force (the demo's audit log with `--demo`).
    pub paths: Paths,
}

/// Starts the sources (and the demo's world, given its options), waits at
/// most `wait` for them, and returns what they said; `Err(config_failed)`
/// when the configuration does not load (said on stderr).
pub(super) fn read(
    paths: &Paths,
    overrides: &Overrides,
    demo: Option<&WorldArgs>,
    wait: Duration,
    config_failed: u8,
) -> eyre::Result<Result<Read, ExitCode>> {
    let runtime = super::runtime()?;
    let mut paths = paths.clone();
    let world = match demo {
        Some(w) => Some(super::demo_world(&runtime, &mut paths, w.clone().into())?),
        None => None,
    };
    let loaded = match config::load(&paths, overrides) {
        Ok(l) => l,
        Err(e) => {
            report(&format!("touban: configuration error\n{e}"));
            return Ok(Err(ExitCode::from(config_failed)));
        }
    };
    let drills = crate::sources::drills::read_once(&paths.audit_log);
    let (app, silent) = runtime.block_on(async move {
        let (tx, mut rx) = mpsc::channel::<Event>(crate::tui::CHANNEL);
        let mut app = App::new(loaded, SystemTime::now());
        app.handle(Event::Update(crate::model::Update::Drills(drills)));
        let _fetchers =
            crate::sources::spawn_all(app.platform(), &tx, crate::sources::Intervals::CONSOLE);
        drop(tx);
        let silent = settle(&mut app, &mut rx, wait).await;
        (app, silent)
    });
    drop(world);
    runtime.shutdown_background();
    Ok(Ok(Read { app, silent, paths }))
}

impl Reading {
    fn read(
        &self,
        paths: &Paths,
        overrides: &Overrides,
        config_failed: u8,
    ) -> eyre::Result<Result<Read, ExitCode>> {
        read(
            paths,
            overrides,
            self.demo.then_some(&self.world),
            self.wait,
            config_failed,
        )
    }
}

/// `touban snapshot`.
pub fn snapshot(
    paths: &Paths,
    overrides: &Overrides,
    args: &SnapshotArgs,
) -> eyre::Result<ExitCode> {
    if args.schema {
        let schema = schemars::schema_for!(Snapshot);
        out!("{}", serde_json::to_string_pretty(&schema)?);
        return Ok(ExitCode::SUCCESS);
    }
    let read = match args.reading.read(paths, overrides, super::EXIT_CONFIG)? {
        Ok(read) => read,
        Err(code) => return Ok(code),
    };
    let s = read.app.snapshot(read.silent);
    if args.json {
        out!("{}", serde_json::to_string_pretty(&s)?);
    } else if args.yaml {
        out!("{}", serde_yaml_ng::to_string(&s)?.trim_end());
    } else {
        for line in text(&s) {
            out!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `touban check`: any failure to judge is unknown (3), never critical.
pub fn check(paths: &Paths, overrides: &Overrides, args: &CheckArgs) -> ExitCode {
    let unknown = Status::Unknown.code();
    let read = match args.reading.read(paths, overrides, unknown) {
        Ok(Ok(read)) => read,
        Ok(Err(code)) => return code,
        Err(e) => {
            out!("UNKNOWN: {e}");
            return ExitCode::from(unknown);
        }
    };
    let s = read.app.snapshot(read.silent);
    if let Some(r) = &args.region
        && !s
            .regions
            .iter()
            .any(|x| x.name.eq_ignore_ascii_case(r) || x.display.eq_ignore_ascii_case(r))
    {
        let names: Vec<&str> = s.regions.iter().map(|x| x.name.as_str()).collect();
        out!(
            "UNKNOWN: no region `{r}` in the config (its regions: {})",
            names.join(", ")
        );
        return ExitCode::from(unknown);
    }
    let only = if args.only.is_empty() {
        Category::DEFAULT.to_vec()
    } else {
        args.only.clone()
    };
    let checked = snapshot::check(&s, args.region.as_deref(), &only);
    out!("{}", checked.headline());
    for line in checked.lines() {
        out!("{line}");
    }
    if !s.did_not_answer.is_empty() {
        out!(
            "did not answer within the wait: {}",
            s.did_not_answer.join(", ")
        );
    }
    ExitCode::from(checked.status.code())
}

/// The snapshot for a reader: per region its verdict and cells, then the
/// alerts, releases, flags, drift and readiness.
fn text(s: &Snapshot) -> Vec<String> {
    let mut out = vec![format!(
        "touban snapshot · {} · {}",
        s.environment, s.taken_at
    )];
    for r in &s.regions {
        out.push(String::new());
        out.push(format!(
            "{} ({}): {}{}",
            r.display,
            r.role,
            level_word(r.health),
            if r.reasons.is_empty() {
                String::new()
            } else {
                format!(" · {}", r.reasons.join("; "))
            }
        ));
        let cells = r
            .clusters
            .iter()
            .map(|c| ("cluster", &c.cell))
            .chain(r.databases.iter().map(|d| ("database", &d.cell)))
            .chain(r.caches.iter().map(|c| ("cache", &c.cell)))
            .chain(r.ai_services.iter().map(|a| ("ai", &a.cell)))
            .chain(r.alert_sources.iter().map(|a| ("alerts", a)))
            .chain(r.metrics.iter().map(|m| ("metrics", m)))
            .chain(r.frontends.iter().map(|f| ("frontend", f)))
            .chain(r.pool.iter().map(|p| ("pool", &p.cell)));
        for (kind, c) in cells {
            let age = c
                .source
                .age_seconds
                .map(|a| crate::model::source::age_label(Duration::from_secs(a)))
                .unwrap_or_default();
            out.push(format!(
                "  {kind:<9} {:<9} {:<14} {}",
                level_word(c.health),
                format!("{} {age}", c.source.state),
                c.reason
            ));
        }
    }
    let firing: Vec<&snapshot::Alert> = s.alerts.iter().filter(|a| a.state == "firing").collect();
    out.push(String::new());
    out.push(format!("alerts firing: {}", firing.len()));
    for a in firing {
        out.push(format!(
            "  {:<8} {:<8} {} {}",
            a.severity, a.region, a.name, a.summary
        ));
    }
    out.push(format!("releases: {}", s.rollouts.len()));
    for r in &s.rollouts {
        let colours: Vec<String> = r
            .colours
            .iter()
            .map(|c| format!("{} {} {}/{}", c.colour, c.tag, c.ready, c.desired))
            .collect();
        out.push(format!(
            "  {} {}/{} live {} · {}",
            r.cluster,
            r.namespace,
            r.app,
            r.live.as_deref().unwrap_or("?"),
            colours.join(" · ")
        ));
    }
    let drifts = s.drift.iter().filter(|d| !d.expected).count();
    out.push(format!(
        "flags: {}, drift between regions: {drifts}",
        s.flags.len()
    ));
    for f in &s.flags {
        out.push(format!(
            "  {} {} {}: {}",
            level_word(f.health),
            f.cluster,
            f.subject,
            f.text
        ));
    }
    for d in s.drift.iter().filter(|d| !d.expected) {
        out.push(format!(
            "  drift {} {} {}↔{}: {} vs {}",
            d.subject, d.what, d.left, d.right, d.left_value, d.right_value
        ));
    }
    for r in &s.readiness {
        out.push(format!("DR readiness {} → {}: {}", r.from, r.to, r.verdict));
    }
    if !s.did_not_answer.is_empty() {
        out.push(format!(
            "did not answer within the wait: {}",
            s.did_not_answer.join(", ")
        ));
    }
    out
}

fn level_word(l: Level) -> &'static str {
    l.word()
}

/// How long a reading waits, once every source has answered, for the
/// readings that follow their answers.
const GRACE: Duration = Duration::from_secs(3);

/// Feeds `app` until every configured source has answered or failed once,
/// or `wait` has passed; returns the sources that did neither.
async fn settle(app: &mut App, rx: &mut mpsc::Receiver<Event>, wait: Duration) -> Vec<String> {
    let expected: BTreeSet<_> = app.platform().source_ids().into_iter().collect();
    let mut answered = BTreeSet::new();
    let deadline = Instant::now() + wait;
    while answered.len() < expected.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(event)) => {
                app.handle(event);
            }
            Ok(None) | Err(_) => break,
        }
        for (id, state) in app.sources() {
            if expected.contains(id)
                && !matches!(
                    state,
                    SourceState::NotConnected | SourceState::Connecting { .. }
                )
            {
                answered.insert(id.clone());
            }
        }
    }
    // What follows the last answers (a database's reading after its
    // state) is taken in too, for a moment, while a check cannot be told.
    let grace = (Instant::now() + GRACE).min(deadline.max(Instant::now()));
    loop {
        while let Ok(event) = rx.try_recv() {
            app.handle(event);
        }
        let unknown = app
            .readiness()
            .iter()
            .any(|r| r.checks.iter().any(|c| c.mark == Mark::Unknown))
            || app.platform().regions.iter().any(|r| {
                app.region_cells(r.name.get_ref())
                    .iter()
                    .any(|(_, v)| v.level() == Level::Unknown)
            });
        let left = grace.saturating_duration_since(Instant::now());
        if !unknown || left.is_zero() {
            break;
        }
        if let Ok(Some(event)) = tokio::time::timeout(left, rx.recv()).await {
            app.handle(event);
        }
    }
    app.handle(Event::Tick(SystemTime::now()));
    expected
        .difference(&answered)
        .map(|id| format!("{} {} in {}", id.kind.label(), id.name, id.region))
        .collect()
}
