//! `touban drill`: the DR readiness of every DR region, from the shell.
//! The sources are started as the console starts them; once each has
//! answered or failed (or `--wait` has passed), every readiness check is
//! printed with its value and age, the drill is written to the audit log
//! (a dry run of the region runbook: nothing is changed), and the exit
//! status says whether every DR region could take over: 0 ready, 1 not
//! ready or not known, 2 a configuration error. A pipeline that drills
//! every day keeps the Failover pane's "last drill" row honest.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use color_eyre::eyre::{self, WrapErr};

use crate::app::App;
use crate::config::{Overrides, Paths};
use crate::exec::audit::{Event as Logged, Record};
use crate::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use crate::model::readiness::{Mark, Readiness};
use crate::model::runbook::Step;
use crate::model::source::age_label;

use super::{EXIT_CONFIG, report};

/// What `touban drill` was asked.
#[derive(Debug, Clone, clap::Args)]
pub struct DrillArgs {
    /// Print one JSON document (regions, checks, verdicts) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Wait at most this many seconds for every source to answer once.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub wait: u64,
    /// Drill the demo's simulated platform (started in-process) instead.
    #[arg(long)]
    pub demo: bool,
    /// The demo's world, with `--demo`.
    #[command(flatten)]
    pub world: super::WorldArgs,
}

/// Runs the drill; see the module.
pub fn drill(paths: &Paths, overrides: &Overrides, args: &DrillArgs) -> eyre::Result<ExitCode> {
    let read = super::headless::read(
        paths,
        overrides,
        args.demo.then_some(&args.world),
        Duration::from_secs(args.wait),
        EXIT_CONFIG,
    )?;
    let super::headless::Read { app, silent, paths } = match read {
        Ok(read) => read,
        Err(code) => return Ok(code),
    };
    let audit = super::open_audit(&paths)?;
    let who = crate::exec::runner::Who::new(
        &app.platform().environment,
        &super::operator(app.platform()),
    );
    let regions = app.readiness();
    if regions.is_empty() {
        report(
            "touban drill: the config has no region with role = \"primary\" and one with role = \"dr\": nothing to drill",
        );
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let now = SystemTime::now();
    let runbooks: Vec<Vec<Step>> = regions.iter().map(|r| app.runbook(&r.region, r)).collect();
    if args.json {
        out!("{}", json(&regions, &runbooks, &silent, now));
    } else {
        for line in text(&regions, &runbooks, &silent, now) {
            out!("{line}");
        }
    }
    let mut ready = true;
    for (job, r) in (1..).zip(&regions) {
        let (mark, verdict) = r.summary();
        let passed = matches!(mark, Mark::Ok | Mark::Warn);
        ready &= passed;
        let record = Record::new(&who, job, Logged::Finished, &request(&app, r))
            .detail(&counts(r))
            .outcome(&if passed {
                format!("succeeded: {verdict}")
            } else {
                format!("failed: {verdict}")
            });
        audit.append(&record).wrap_err_with(|| {
            format!(
                "cannot write the drill to the audit log {}",
                paths.audit_log.display()
            )
        })?;
    }
    Ok(if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The drill as the audit log records it: a dry run of the region runbook.
fn request(app: &App, r: &Readiness) -> ActionRequest {
    let from = app
        .platform()
        .regions
        .iter()
        .find(|x| x.display == r.from)
        .map_or_else(|| r.from.clone(), |x| x.name.get_ref().clone());
    ActionRequest {
        kind: ActionKind::RegionFailover {
            from: from.clone(),
            to: r.region.clone(),
            parts: Vec::new(),
            serving: None,
            by_hand: Vec::new(),
            back: false,
            undo: false,
        },
        target: Target {
            region: r.region.clone(),
            cluster: from,
            namespace: String::new(),
            kind: ObjectKind::Region,
            name: r.region.clone(),
        },
        dry_run: true,
    }
}

/// `6 checks: 4 ok, 2 warn`.
fn counts(r: &Readiness) -> String {
    let mut by: Vec<(Mark, usize)> = Vec::new();
    for c in &r.checks {
        match by.iter_mut().find(|(m, _)| *m == c.mark) {
            Some((_, n)) => *n += 1,
            None => by.push((c.mark, 1)),
        }
    }
    by.sort();
    let parts: Vec<String> = by
        .iter()
        .map(|(m, n)| format!("{n} {}", m.word()))
        .collect();
    format!(
        "drill: {}: {}",
        crate::model::verdict::plural(r.checks.len(), "check"),
        parts.join(", ")
    )
}

fn age(as_of: Option<SystemTime>, now: SystemTime) -> String {
    as_of.map_or_else(
        || "never read".to_owned(),
        |t| {
            format!(
                "read {} ago",
                age_label(now.duration_since(t).unwrap_or_default())
            )
        },
    )
}

/// The drill for a reader: per DR region its checks, then its verdict.
fn text(
    regions: &[Readiness],
    runbooks: &[Vec<Step>],
    silent: &[String],
    now: SystemTime,
) -> Vec<String> {
    let mut out = Vec::new();
    for (r, steps) in regions.iter().zip(runbooks) {
        out.push(format!("DR readiness {} → {}", r.from, r.to));
        let subject = r
            .checks
            .iter()
            .map(|c| c.subject.chars().count())
            .max()
            .unwrap_or(0);
        for c in &r.checks {
            out.push(format!(
                "  {:<7} {:<11} {:<subject$}  {} ({})",
                c.mark.word(),
                c.area,
                c.subject,
                c.why,
                age(c.as_of, now)
            ));
        }
        let (_, verdict) = r.summary();
        out.push(verdict);
        out.push(String::new());
        out.push(format!(
            "The runbook {} → {}: what a failover would do now (nothing is changed)",
            r.from, r.to
        ));
        for s in steps {
            out.push(format!("  {}. {}", s.n, s.title));
            for d in &s.does {
                out.push(format!("       {d}"));
            }
            for h in &s.how {
                out.push(format!("       {}: {}", h.word(), h.text()));
            }
        }
    }
    if !silent.is_empty() {
        out.push(format!(
            "did not answer within the wait: {}",
            silent.join(", ")
        ));
    }
    out
}

/// The drill for a script: one JSON document.
fn json(
    regions: &[Readiness],
    runbooks: &[Vec<Step>],
    silent: &[String],
    now: SystemTime,
) -> String {
    let regions: Vec<serde_json::Value> = regions
        .iter()
        .zip(runbooks)
        .map(|(r, steps)| {
            let (mark, verdict) = r.verdict();
            let checks: Vec<serde_json::Value> = r
                .checks
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "area": c.area,
                        "subject": c.subject,
                        "mark": c.mark.word(),
                        "why": c.why,
                        "age_seconds": c.as_of.map(|t| now.duration_since(t).unwrap_or_default().as_secs()),
                    })
                })
                .collect();
            serde_json::json!({
                "region": r.region,
                "from": r.from,
                "to": r.to,
                "ready": matches!(mark, Mark::Ok | Mark::Warn),
                "mark": mark.word(),
                "verdict": verdict,
                "lag_seconds": r.rpo.map(|(lag, _)| lag),
                "rpo_seconds": r.rpo.map(|(_, rpo)| rpo),
                "checks": checks,
                "runbook": steps.iter().map(|s| serde_json::json!({
                    "step": s.n,
                    "title": s.title,
                    "does": s.does,
                    "how": s.how.iter().map(|h| serde_json::json!({
                        "by": h.word(),
                        "text": h.text(),
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let ready = regions
        .iter()
        .all(|r| r.get("ready").and_then(serde_json::Value::as_bool) == Some(true));
    serde_json::json!({
        "ready": ready,
        "at": jiff::Timestamp::now().to_string(),
        "regions": regions,
        "did_not_answer": silent,
    })
    .to_string()
}
