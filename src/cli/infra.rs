//! `touban infra plan NAME` and `touban infra apply NAME`: Terraform or
//! OpenTofu on an `[[infrastructure]]` directory, its machine-readable UI
//! streamed as it runs. The plan is saved (0600, in the state directory)
//! with what it changes; the apply runs that saved plan and no other,
//! once, after a confirmation that must be the directory's name typed
//! when the plan destroys or replaces anything. A plan gone stale is
//! refused by the tool itself, and its message is printed. Ctrl-C sends
//! the tool one interrupt and waits for it.
//!
//! Exit status: 0 done, 1 failed or refused, 2 a configuration error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use color_eyre::eyre;

use crate::config::platform::{Infrastructure, Platform};
use crate::config::secret::mask_line;
use crate::config::{Overrides, Paths};
use crate::exec::audit::{AuditLog, Event as Logged, Record, Who};
use crate::exec::infra::{
    Ran, Saved, apply_args, destroys, keep, plan_args, plan_file, plan_hash, prepare_plan_file,
    run, saved, sidecar,
};
use crate::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use crate::model::infra::progress_line;

use super::{EXIT_CONFIG, report};

/// What `touban infra` was asked.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum InfraCommand {
    /// Plan (`plan -json -out=FILE`) and save the plan.
    Plan {
        /// The `[[infrastructure]]` name.
        name: String,
    },
    /// Apply the saved plan (`apply -json FILE`).
    Apply {
        /// The `[[infrastructure]]` name.
        name: String,
        /// Apply without asking when nothing is destroyed (a pipeline).
        #[arg(long)]
        yes: bool,
        /// The name, typed ahead: what a plan that destroys or replaces
        /// needs when stdin is not a terminal.
        #[arg(long, value_name = "NAME")]
        confirm: Option<String>,
    },
}

/// Runs `touban infra`; see the module.
pub fn infra(
    paths: &Paths,
    overrides: &Overrides,
    command: &InfraCommand,
) -> eyre::Result<ExitCode> {
    let platform = match crate::config::load_platform(&paths.config) {
        Ok(p) => p,
        Err(e) => {
            report(&format!("touban infra: configuration error\n{e}"));
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let (InfraCommand::Plan { name } | InfraCommand::Apply { name, .. }) = command;
    let Some(infra) = platform.infrastructure_named(name) else {
        let names: Vec<&str> = platform
            .infrastructure
            .iter()
            .map(|i| i.name.get_ref().as_str())
            .collect();
        report(&format!(
            "touban infra: no [[infrastructure]] named `{name}` in {}: {}",
            paths.config.describe(),
            if names.is_empty() {
                "it has none (add one with name, dir, binary and region)".to_owned()
            } else {
                format!("it has {}", names.join(", "))
            }
        ));
        return Ok(ExitCode::from(EXIT_CONFIG));
    };
    let base = paths.config.path().and_then(Path::parent);
    let dir = match base {
        Some(b) if infra.dir.is_relative() => b.join(&infra.dir),
        _ => infra.dir.clone(),
    };
    if !dir.is_dir() {
        report(&format!(
            "touban infra: {} is not a directory: check [[infrastructure]] `{name}` dir",
            dir.display()
        ));
        return Ok(ExitCode::from(EXIT_CONFIG));
    }
    let audit = super::open_audit(paths)?;
    let job = Job {
        platform: &platform,
        infra,
        dir,
        plan: plan_file(&paths.state_dir, name),
        audit: &audit,
        who: Who::new(&platform.environment, &super::operator(&platform)),
    };
    let runtime = super::runtime()?;
    let code = match command {
        InfraCommand::Plan { .. } => runtime.block_on(job.plan()),
        InfraCommand::Apply { yes, confirm, .. } => {
            if overrides.read_only || platform.settings.read_only {
                report(
                    "touban infra: refused: read-only (--read-only or settings.read_only); `touban infra plan` changes nothing",
                );
                1
            } else {
                runtime.block_on(job.apply(*yes, confirm.as_deref()))
            }
        }
    };
    Ok(ExitCode::from(code))
}

struct Job<'a> {
    platform: &'a Platform,
    infra: &'a Infrastructure,
    dir: PathBuf,
    plan: PathBuf,
    audit: &'a AuditLog,
    who: Who,
}

impl Job<'_> {
    fn name(&self) -> &str {
        self.infra.name.get_ref()
    }

    fn request(&self, operation: &str, sha256: &str) -> ActionRequest {
        ActionRequest {
            kind: ActionKind::Infra {
                operation: operation.to_owned(),
                plan_sha256: sha256.to_owned(),
            },
            target: Target {
                region: self.infra.region.get_ref().clone(),
                cluster: self.infra.binary.clone(),
                namespace: String::new(),
                kind: ObjectKind::Infrastructure,
                name: self.name().to_owned(),
            },
            dry_run: operation == "plan",
        }
    }

    fn log(&self, record: &Record) {
        if let Err(e) = self.audit.append(record) {
            report(&format!("touban infra: cannot write the audit log: {e}"));
        }
    }

    /// Runs the tool, its progress printed line by line.
    async fn stream(&self, args: &[String]) -> Result<Ran, String> {
        let interrupt = async {
            crate::exec::infra::interrupted().await;
            report(&format!(
                "touban infra: interrupt sent to {} once; waiting for it to stop (a second interrupt can lose state or leave it locked)",
                self.infra.binary
            ));
        };
        run(
            &self.infra.binary,
            &self.dir,
            args,
            |m| {
                if let Some(line) = progress_line(m) {
                    out!("  {}", mask_line(&line));
                }
            },
            interrupt,
        )
        .await
    }

    async fn plan(&self) -> u8 {
        out!(
            "{} plan of {} ({}, {})",
            self.infra.binary,
            self.name(),
            self.dir.display(),
            self.platform.region_display(self.infra.region.get_ref())
        );
        if let Err(e) = prepare_plan_file(&self.plan) {
            report(&format!(
                "touban infra: cannot make the plan file {} ({e})",
                self.plan.display()
            ));
            return 1;
        }
        let ran = match self.stream(&plan_args(&self.plan)).await {
            Ok(r) => r,
            Err(why) => {
                report(&format!("touban infra: {why}"));
                return 1;
            }
        };
        if let Some(ui) = &ran.summary.unsupported_ui {
            report(&format!(
                "touban infra: {} speaks machine-readable UI {ui}; touban reads 1.x: its plan is not used",
                self.infra.binary
            ));
            let _ = std::fs::remove_file(&self.plan);
            return 1;
        }
        if !ran.ok() {
            let why = mask_line(&ran.why());
            let _ = std::fs::remove_file(&self.plan);
            self.log(
                &Record::new(&self.who, 1, Logged::Refused, &self.request("plan", "")).detail(&why),
            );
            report(&format!("touban infra: the plan failed: {why}"));
            return 1;
        }
        self.keep(&ran.summary)
    }

    /// Keeps a plan that succeeded: its hash and what it changes beside
    /// it, printed and audited.
    fn keep(&self, summary: &crate::model::infra::PlanSummary) -> u8 {
        let saved = match keep(&self.plan, summary, &self.infra.binary) {
            Ok(s) => s,
            Err(why) => {
                report(&format!("touban infra: {why}"));
                return 1;
            }
        };
        let sha256 = saved.sha256.clone();
        out!("Plan: {}", saved.totals);
        for (addr, action, _) in &summary.changes {
            let mark = if action.destroys() { "!" } else { " " };
            out!("  {mark} {:<8} {addr}", action.word());
        }
        if saved.typed {
            out!(
                "  ! destroys or replaces {}: applying needs `{}` typed",
                saved.destroying.join(", "),
                self.name()
            );
        }
        out!(
            "Saved: {} (sha256 {sha256}); `touban infra apply {}` applies it",
            self.plan.display(),
            self.name()
        );
        let detail = format!(
            "{}; destroys: {}",
            saved.totals,
            if saved.destroying.is_empty() {
                "none".to_owned()
            } else {
                saved.destroying.join(", ")
            }
        );
        self.log(
            &Record::new(
                &self.who,
                1,
                Logged::Planned,
                &self.request("plan", &sha256),
            )
            .detail(&detail),
        );
        0
    }

    async fn apply(&self, yes: bool, typed: Option<&str>) -> u8 {
        let Some(saved) = saved(&self.plan) else {
            report(&format!(
                "touban infra: no saved plan of {}: run `touban infra plan {}` first",
                self.name(),
                self.name()
            ));
            return 1;
        };
        let request = self.request("apply", &saved.sha256);
        match plan_hash(&self.plan) {
            Ok(h) if h == saved.sha256 => {}
            _ => {
                let why = "the plan file is not the one planned (its hash differs): plan again";
                self.log(&Record::new(&self.who, 1, Logged::Refused, &request).detail(why));
                report(&format!("touban infra: refused: {why}"));
                return 1;
            }
        }
        out!(
            "{} apply of {}: {}",
            self.infra.binary,
            self.name(),
            saved.totals
        );
        for (addr, action) in &saved.changes {
            out!(
                "  {} {action:<8} {addr}",
                if destroys(action) { "!" } else { " " }
            );
        }
        if !self.confirmed(&saved, yes, typed) {
            self.log(&Record::new(&self.who, 1, Logged::Declined, &request));
            report("touban infra: not confirmed: nothing applied");
            return 1;
        }
        self.log(&Record::new(&self.who, 1, Logged::Confirmed, &request));
        let ran = match self.stream(&apply_args(&self.plan)).await {
            Ok(r) => r,
            Err(why) => {
                report(&format!("touban infra: {why}"));
                return 1;
            }
        };
        if ran.ok() {
            // A saved plan applies once.
            let _ = std::fs::remove_file(&self.plan);
            let _ = std::fs::remove_file(sidecar(&self.plan));
            self.log(&Record::new(&self.who, 1, Logged::Finished, &request).outcome("succeeded"));
            out!(
                "Applied: {}",
                ran.summary.counts.as_ref().map_or_else(
                    || saved.totals.clone(),
                    |c| format!(
                        "{} added, {} changed, {} destroyed",
                        c.add, c.change, c.remove
                    )
                )
            );
            0
        } else {
            let why = mask_line(&ran.why());
            self.log(
                &Record::new(&self.who, 1, Logged::Finished, &request)
                    .outcome(&format!("failed: {why}")),
            );
            report(&format!(
                "touban infra: the apply failed: {why}{}",
                if why.contains("stale") {
                    format!(" (plan again: `touban infra plan {}`)", self.name())
                } else {
                    String::new()
                }
            ));
            1
        }
    }

    /// The operator's yes: the name typed when anything is destroyed or
    /// replaced, else y (or `--yes`).
    fn confirmed(&self, saved: &Saved, yes: bool, typed: Option<&str>) -> bool {
        let destroys = saved.typed || !saved.destroying.is_empty();
        if let Some(t) = typed {
            if t != self.name() {
                report(&format!(
                    "touban infra: --confirm {t} is not the name: type --confirm {}",
                    self.name()
                ));
            }
            return t == self.name();
        }
        if yes && !destroys {
            return true;
        }
        let question = if destroys {
            format!(
                "This destroys or replaces {}. Type `{}` to apply: ",
                saved.destroying.join(", "),
                self.name()
            )
        } else {
            "Apply? [y/N] ".to_owned()
        };
        let unattended = if destroys {
            format!(
                "pass --confirm {} (the plan destroys or replaces)",
                self.name()
            )
        } else {
            "pass --yes".to_owned()
        };
        super::ask(&question, &unattended).is_some_and(|a| {
            if destroys {
                a == self.name()
            } else {
                a == "y" || a == "yes"
            }
        })
    }
}
