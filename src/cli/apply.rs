//! `touban apply NAME`: a `[[manifests]]` set applied from the shell, as
//! the console applies it, for a pipeline's deploy step. Cluster by
//! cluster in the set's order (Tokyo first, verified, then Korea):
//! every document through a server-side dry run and its diff printed,
//! then (unless `--dry-run`) confirmed, applied in dependency order, and
//! the Deployments it changed followed until rolled out. The first
//! failure stops it. Each cluster's job is written to the audit log.
//!
//! Exit status: 0 applied (or nothing to do), 1 refused or failed
//! (conflicts, a refusal of the server, a stalled rollout), 2 a
//! configuration error or unreadable manifests.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre;

use crate::config::platform::{Cluster, Manifests, Platform};
use crate::config::secret::mask_line;
use crate::config::{Overrides, Paths};
use crate::exec::apply::{Applier, Planned, files};
use crate::exec::audit::{AuditLog, Event as Logged, Record, Who};
use crate::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use crate::model::manifest::{self, ObjectDiff};

use super::{EXIT_CONFIG, report};

/// What `touban apply` was asked.
#[derive(Debug, Clone, clap::Args)]
#[allow(clippy::struct_excessive_bools)] // flags of the command line, each its own choice
pub struct ApplyArgs {
    /// The `[[manifests]]` set's name.
    pub name: String,
    /// Print what would change (the server's own dry run) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only this cluster of the set's.
    #[arg(long, value_name = "CLUSTER")]
    pub cluster: Option<String>,
    /// Take over fields another field manager owns (else a conflict stops the apply).
    #[arg(long)]
    pub force_conflicts: bool,
    /// Apply without asking (a pipeline; without it, a terminal is asked to confirm).
    #[arg(long)]
    pub yes: bool,
    /// Delete the objects of a `prune = true` set that its files no longer
    /// hold (listed in every plan; asked for on their own).
    #[arg(long)]
    pub prune: bool,
    /// Seconds each changed Deployment may take to roll out.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub timeout: u64,
}

/// Runs `touban apply`; see the module.
pub fn apply(paths: &Paths, overrides: &Overrides, args: &ApplyArgs) -> eyre::Result<ExitCode> {
    let platform = match crate::config::load_platform(&paths.config) {
        Ok(p) => p,
        Err(e) => {
            report(&format!("touban apply: configuration error\n{e}"));
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let Some(set) = platform.manifest_set(&args.name) else {
        let names: Vec<&str> = platform
            .manifests
            .iter()
            .map(|m| m.name.get_ref().as_str())
            .collect();
        report(&format!(
            "touban apply: no [[manifests]] named `{}` in {}: {}",
            args.name,
            paths.config.describe(),
            if names.is_empty() {
                "it has none (add a [[manifests]] with name, path and clusters)".to_owned()
            } else {
                format!("it has {}", names.join(", "))
            }
        ));
        return Ok(ExitCode::from(EXIT_CONFIG));
    };
    let clusters = match clusters_of(&platform, set, args.cluster.as_deref()) {
        Ok(c) => c,
        Err(why) => {
            report(&format!("touban apply: {why}"));
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let base = paths.config.path().and_then(std::path::Path::parent);
    let files = match files(set, base) {
        Ok(f) => f,
        Err(e) => {
            report(&format!("touban apply: {e}"));
            return Ok(ExitCode::from(EXIT_CONFIG));
        }
    };
    let audit = super::open_audit(paths)?;
    let who = Who::new(&platform.environment, &super::operator(&platform));
    let runtime = super::runtime()?;
    let run = Run {
        platform: &platform,
        overrides,
        args,
        set,
        files: &files,
        audit: &audit,
        who: &who,
    };
    let code = runtime.block_on(async {
        for (job, cluster) in (1..).zip(&clusters) {
            if let Err(code) = run.cluster(job, cluster).await {
                return code;
            }
        }
        0
    });
    Ok(ExitCode::from(code))
}

fn clusters_of<'a>(
    platform: &'a Platform,
    set: &Manifests,
    only: Option<&str>,
) -> Result<Vec<&'a Cluster>, String> {
    let cluster_named = |name: &str| platform.clusters.iter().find(|c| c.name.get_ref() == name);
    if let Some(only) = only {
        if !set.clusters.iter().any(|c| c.get_ref() == only) {
            let names: Vec<&str> = set.clusters.iter().map(|c| c.get_ref().as_str()).collect();
            return Err(format!(
                "[[manifests]] `{}` does not go to cluster `{only}`: it goes to {}",
                set.name.get_ref(),
                names.join(", ")
            ));
        }
        return cluster_named(only)
            .map(|c| vec![c])
            .ok_or_else(|| format!("cluster `{only}` is not one of the [[clusters]]"));
    }
    Ok(set
        .clusters
        .iter()
        .filter_map(|c| cluster_named(c.get_ref()))
        .collect())
}

struct Run<'a> {
    platform: &'a Platform,
    overrides: &'a Overrides,
    args: &'a ApplyArgs,
    set: &'a Manifests,
    files: &'a [std::path::PathBuf],
    audit: &'a AuditLog,
    who: &'a Who,
}

impl Run<'_> {
    fn request(&self, cluster: &Cluster, namespace: &str) -> ActionRequest {
        ActionRequest {
            kind: ActionKind::Apply {
                manifests: self.set.name.get_ref().clone(),
                force: self.args.force_conflicts,
            },
            target: Target {
                region: cluster.region.get_ref().clone(),
                cluster: cluster.name.get_ref().clone(),
                namespace: namespace.to_owned(),
                kind: ObjectKind::Manifests,
                name: self.set.name.get_ref().clone(),
            },
            dry_run: self.args.dry_run,
        }
    }

    fn log(&self, record: &Record) {
        if let Err(e) = self.audit.append(record) {
            report(&format!("touban apply: cannot write the audit log: {e}"));
        }
    }

    fn read_only(&self, cluster: &Cluster) -> Option<&'static str> {
        if self.overrides.read_only {
            Some("--read-only")
        } else if cluster.read_only == Some(true) {
            Some("the cluster's read_only = true")
        } else if cluster.read_only.is_none() && self.platform.settings.read_only {
            Some("settings.read_only = true")
        } else {
            None
        }
    }

    /// One cluster's dry run, and unless `--dry-run` its apply and
    /// rollouts. `Err` carries the exit status that ends the run.
    async fn cluster(&self, job: u64, cluster: &Cluster) -> Result<(), u8> {
        let name = cluster.name.get_ref();
        let namespace = self.set.namespace.as_deref().unwrap_or("default");
        let request = self.request(cluster, namespace);
        let record = |event| Record::new(self.who, job, event, &request);
        out!(
            "{} → {name} ({}){}",
            self.set.name.get_ref(),
            self.platform.region_display(cluster.region.get_ref()),
            if self.args.dry_run { ", dry run" } else { "" }
        );
        if !self.args.dry_run
            && let Some(why) = self.read_only(cluster)
        {
            let text = format!("refused: {name} is read-only ({why}); --dry-run shows the diff");
            self.log(&record(Logged::Refused).detail(&text));
            report(&format!("touban apply: {text}"));
            return Err(1);
        }
        let mut applier = Applier::connect(cluster, namespace)
            .await
            .map_err(|why| fail(&why))?;
        let planned = self.plan(&mut applier).await?;
        let mut summary = print_plan(&planned);
        let orphans = self.orphans(&mut applier, &planned).await?;
        if !orphans.is_empty() {
            let _ = write!(summary, ", {} to prune", orphans.len());
        }
        out!("  {summary}");
        let conflicts: usize = planned.iter().map(|p| p.conflicts.len()).sum();
        self.log(&record(Logged::Planned).detail(&summary));
        if conflicts > 0 {
            let text = format!(
                "{conflicts} field{} owned by another field manager: nothing applied to {name}; --force-conflicts takes them over",
                if conflicts == 1 { " is" } else { "s are" }
            );
            self.log(&record(Logged::Refused).detail(&text));
            report(&format!("touban apply: {text}"));
            return Err(1);
        }
        if self.args.dry_run {
            return Ok(());
        }
        let changing: Vec<&Planned> = planned.iter().filter(|p| p.writes()).collect();
        if changing.is_empty() && (orphans.is_empty() || !self.args.prune) {
            out!("  nothing to apply: {name} is as the files say");
            return Ok(());
        }
        if !self.args.yes && !confirm(self.set.name.get_ref(), name, changing.len()) {
            self.log(&record(Logged::Declined));
            report("touban apply: not confirmed: nothing applied");
            return Err(1);
        }
        self.log(&record(Logged::Confirmed));
        for (step, p) in (1..).zip(&changing) {
            let mut started = record(Logged::StepStarted).detail(&p.label());
            started.step = Some(step);
            self.log(&started);
            let result = applier.apply(p, self.args.force_conflicts).await;
            let mut ended = record(Logged::StepEnded).detail(&p.label());
            ended.step = Some(step);
            match result {
                Ok(rv) => {
                    ended.resource_version_after = Some(rv);
                    self.log(&ended.outcome("succeeded"));
                    out!("  applied {}", p.label());
                }
                Err(why) => {
                    self.log(&ended.outcome(&format!("failed: {why}")));
                    self.log(&record(Logged::Finished).outcome(&format!("failed: {why}")));
                    return Err(fail(&why));
                }
            }
        }
        self.follow(&applier, &changing).await.map_err(|why| {
            self.log(&record(Logged::Finished).outcome(&format!("failed: {why}")));
            fail(&why)
        })?;
        if self.args.prune && !orphans.is_empty() {
            self.prune(&mut applier, &orphans, job, &request).await?;
        }
        self.log(&record(Logged::Finished).outcome("succeeded"));
        out!("  {name}: applied and rolled out");
        Ok(())
    }

    /// The objects of a pruning set that its files no longer hold, listed.
    async fn orphans(
        &self,
        applier: &mut Applier,
        planned: &[Planned],
    ) -> Result<Vec<crate::exec::apply::Orphan>, u8> {
        if !self.set.prune {
            return Ok(Vec::new());
        }
        let docs: Vec<_> = planned.iter().map(|p| p.doc.clone()).collect();
        let orphans = applier
            .orphans(&docs, self.set.name.get_ref())
            .await
            .map_err(|why| fail(&why))?;
        for o in &orphans {
            out!(
                "  prune      {}: no longer in the files{}",
                o.label(),
                if self.args.prune {
                    ""
                } else {
                    " (--prune deletes it)"
                }
            );
        }
        Ok(orphans)
    }

    /// Deletes what the files no longer hold, once the apply is rolled
    /// out, on its own confirmation.
    async fn prune(
        &self,
        applier: &mut Applier,
        orphans: &[crate::exec::apply::Orphan],
        job: u64,
        request: &ActionRequest,
    ) -> Result<(), u8> {
        let record = |event| Record::new(self.who, job, event, request);
        if !self.args.yes && !confirm_prune(orphans.len()) {
            report("touban apply: prune not confirmed: nothing deleted");
            self.log(&record(Logged::Finished).outcome("succeeded; prune declined"));
            return Err(1);
        }
        for o in orphans {
            let mut started = record(Logged::StepStarted).detail(&format!("prune {}", o.label()));
            started.step = None;
            self.log(&started);
            match applier.prune(o).await {
                Ok(()) => {
                    self.log(
                        &record(Logged::StepEnded)
                            .detail(&format!("prune {}", o.label()))
                            .outcome("succeeded"),
                    );
                    out!("  pruned {}", o.label());
                }
                Err(why) => {
                    self.log(&record(Logged::Finished).outcome(&format!("failed: {why}")));
                    return Err(fail(&why));
                }
            }
        }
        Ok(())
    }

    /// The documents (the idle colour put in for a colour set), through
    /// the server's dry run.
    async fn plan(&self, applier: &mut Applier) -> Result<Vec<Planned>, u8> {
        let unread = |e: manifest::ManifestError| {
            report(&format!("touban apply: {e}"));
            EXIT_CONFIG
        };
        let (docs, live) = match applier.set_documents(self.set, self.files).await {
            Ok(d) => d,
            Err(Ok(e)) => return Err(unread(e)),
            Err(Err(why)) => return Err(fail(&why)),
        };
        if let Some(live) = live {
            let idle = if live == "blue" { "green" } else { "blue" };
            out!("  live colour {live}: applying the idle colour, {idle}");
        }
        applier
            .plan(&docs, self.args.force_conflicts)
            .await
            .map_err(|why| fail(&why))
    }

    async fn follow(&self, applier: &Applier, changed: &[&Planned]) -> Result<(), String> {
        for p in changed.iter().filter(|p| p.doc.kind == "Deployment") {
            let ns = p.namespace.as_deref().unwrap_or("default");
            let label = p.label();
            applier
                .await_rollout(
                    ns,
                    &p.doc.name,
                    Duration::from_secs(self.args.timeout),
                    |why| out!("  {label}: {why}"),
                )
                .await?;
            out!("  {label}: rolled out");
        }
        Ok(())
    }
}

fn fail(why: &str) -> u8 {
    report(&format!("touban apply: {why}"));
    1
}

/// Prints each document's outcome and field changes; returns the summary
/// ("1 created, 2 changed, 6 unchanged"), to print after the prunes.
fn print_plan(planned: &[Planned]) -> String {
    for p in planned {
        if !p.conflicts.is_empty() {
            out!("  conflict   {} ({})", p.label(), p.doc.place());
            for c in &p.conflicts {
                out!("      {}", mask_line(c));
            }
            continue;
        }
        let claim = if p.claims && p.diff == ObjectDiff::Unchanged {
            ": touban takes over its fields"
        } else {
            ""
        };
        out!(
            "  {:<10} {} ({}){claim}",
            p.diff.word(),
            p.label(),
            p.doc.place()
        );
        for change in p.diff.fields() {
            out!("      {}", mask_line(&change.to_string()));
        }
        if let Some(note) = &p.note {
            out!("      note: {note}");
        }
    }
    let diffs: Vec<&ObjectDiff> = planned
        .iter()
        .filter(|p| p.conflicts.is_empty())
        .map(|p| &p.diff)
        .collect();
    manifest::summary(&diffs)
}

/// Asks the terminal, on its own, to delete what the files no longer
/// hold; refuses when stdin is no terminal.
fn confirm_prune(objects: usize) -> bool {
    super::ask(
        &format!(
            "Delete {objects} object{} no longer in the files? Type `prune` to confirm: ",
            if objects == 1 { "" } else { "s" }
        ),
        "pass --yes with --prune to delete without asking",
    )
    .is_some_and(|a| a == "prune")
}

/// Asks the terminal to confirm by typing the set's name; refuses when
/// stdin is no terminal (a pipeline passes --yes).
fn confirm(set: &str, cluster: &str, objects: usize) -> bool {
    super::ask(
        &format!(
            "Apply {objects} object{} to {cluster}? Type `{set}` to confirm: ",
            if objects == 1 { "" } else { "s" }
        ),
        "pass --yes to apply without asking",
    )
    .is_some_and(|a| a == set)
}
