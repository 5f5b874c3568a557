//! Runs one job: for each step, check for cancellation, record its start,
//! perform its operation, verify its effect, record its end, report it.
//! A failed step stops the job with what failed, where, and what undoes
//! what was done. Nothing is written that is not first in the audit log:
//! a log that cannot be written fails the job before its next step.

mod azure;
mod cache;
mod config;
mod db;
mod elasticache;
mod infra;
mod manifests;
mod node_group;
mod pod;
mod rds;
mod read;
mod region;
mod release;
mod silence;
mod template;
mod traffic;

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::actions::{self, Progress, hpa_bounds, restart, scale};
pub use super::audit::Who;
use super::audit::{AuditLog, Event, Record};
use super::backend::{Backend, Call, Failure};
use super::lease;
use super::step::{Job, Op};
use crate::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use crate::model::plan::Refusal;
use crate::model::{JobEvent, JobId, JobOutcome};

/// How often a verification reads the target again.
const POLL: Duration = Duration::from_millis(250);
/// How long one read may take before it counts as failed.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads what the request's action needs and plans it; a target that
/// cannot be read is a refusal that says why.
pub async fn prepare<B: Backend>(
    backend: &B,
    request: &ActionRequest,
    primary: bool,
) -> Result<Job, Refusal> {
    let mut job = match &request.kind {
        ActionKind::RegionFailover {
            from,
            to,
            parts,
            serving,
            by_hand,
            back,
            undo,
        } if !parts.is_empty() || serving.is_some() => {
            let runbook = region::Runbook {
                from,
                to,
                parts,
                serving: serving.as_deref(),
                by_hand,
                back: *back,
                undo: *undo,
            };
            region::plan(backend, request, &runbook).await?
        }
        _ => {
            let mut job = actions::plan(request, &read::seen(backend, request, primary).await?)?;
            say_login(backend, &mut job);
            preflight(backend, request, &job).await?;
            job
        }
    };
    job.plan.dry_run = Some(dry_run_check(backend, &job).await?);
    Ok(job)
}

/// A plan on a database or cache says which login acts: its own action
/// login, or the monitoring one, which then may fence and promote. A cloud
/// API's action (RDS, Azure) acts with the cloud's credentials instead.
fn say_login<B: Backend>(backend: &B, job: &mut Job) {
    let cloud = matches!(
        job.plan.request.kind,
        ActionKind::RdsFailover
            | ActionKind::RdsPromote
            | ActionKind::ElastiCacheFailover
            | ActionKind::PromoteReplica { .. }
            | ActionKind::NodeGroup { .. }
    );
    if cloud {
        return;
    }
    let target = &job.plan.request.target;
    let mut lines: Vec<String> = backend.login(target).into_iter().collect();
    // A switchover fences the primary it names, a promotion fences it
    // should it answer again: with the primary's own login.
    if let ActionKind::Switchover { primary, .. } | ActionKind::Promote { primary, .. } =
        &job.plan.request.kind
    {
        let named = Target {
            name: primary.clone(),
            cluster: primary.clone(),
            ..target.clone()
        };
        lines.extend(backend.login(&named));
    }
    job.plan.changes.extend(lines);
}

/// Every mutating step as a server-side dry run (`dryRun=All`), before the
/// plan is shown: what the API server would refuse (admission, validation,
/// quota) is a refusal now, not a failed step later.
async fn dry_run_check<B: Backend>(backend: &B, job: &Job) -> Result<String, Refusal> {
    let mut dry = job.clone();
    dry.plan.request.dry_run = true;
    let azure = matches!(job.plan.request.kind, ActionKind::PromoteReplica { .. });
    let rds = matches!(
        job.plan.request.kind,
        ActionKind::RdsFailover | ActionKind::RdsPromote
    );
    let elasticache = job.plan.request.kind == ActionKind::ElastiCacheFailover;
    let (refuses, accepted) = match job.plan.request.target.kind {
        ObjectKind::Cache if elasticache => (
            "ElastiCache refuses",
            "ElastiCache answers for the replication group with these credentials (TestFailover has no dry run: whether the credentials may call it is known at the call; nothing sent)",
        ),
        ObjectKind::Database if rds => (
            "RDS refuses",
            "RDS answers for the instance with these credentials (RebootDBInstance and PromoteReadReplica have no dry run: whether the credentials may call them is known at the call; nothing sent)",
        ),
        ObjectKind::Database if azure => (
            "Azure refuses",
            "Resource Manager answers for the server with this token (it has no dry run of an update: whether the token may promote is known at the write; nothing sent)",
        ),
        ObjectKind::Region => (
            "a part's server refuses",
            "every part's dry run passes: the API servers accept each change (dryRun=All); Azure, Cloudflare and PostgreSQL have none: each answers with touban's credentials, nothing sent",
        ),
        ObjectKind::Database | ObjectKind::Cache => (
            "the database refuses",
            "the servers answer and the role may make every change (PostgreSQL and Redis have no dry run: privileges and versions checked, nothing sent)",
        ),
        ObjectKind::Infrastructure => (
            "the tool refuses",
            "Terraform and OpenTofu have no dry run but the plan itself: the tool is not run until confirmed",
        ),
        ObjectKind::NodeGroup => (
            "the cloud refuses",
            "the cloud answers for the node group with these credentials (UpdateNodegroupConfig and an agent pool's PUT have no dry run: whether the credentials may write is known at the write; nothing sent)",
        ),
        ObjectKind::Pool => (
            "the balancer refuses",
            "the balancer answers for the pool with this token (Cloudflare has no dry run: whether the token may write is known at the write; nothing sent)",
        ),
        _ => (
            "the API server refuses",
            "the API server accepts every change in a dry run (dryRun=All)",
        ),
    };
    let (_never, cancel) = watch::channel(false);
    for (op, step) in dry.ops.iter().zip(&dry.plan.steps) {
        if step.kind != crate::model::plan::StepKind::Mutate {
            continue;
        }
        if let Err(f) = perform(backend, &dry, op, None, &cancel, false).await {
            return Err(Refusal::new(format!(
                "{refuses} \"{}\" in a dry run: {}; nothing was changed",
                step.title, f.what
            )));
        }
    }
    Ok(accepted.to_owned())
}

/// A step of an AWS job (RDS, ElastiCache).
async fn aws<B: Backend>(
    backend: &B,
    job: &Job,
    op: &Op,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    match op {
        Op::Rds(op) => rds::perform(backend, job, op, cancel, resuming).await,
        Op::ElastiCache(op) => elasticache::perform(backend, job, op, cancel, resuming).await,
        _ => Err(Failure {
            what: "not an AWS step: a defect of touban".into(),
            status: None,
        }),
    }
}

/// The RBAC preflight: a SelfSubjectAccessReview for each verb and
/// resource the job's calls need; a denial refuses the plan before anything
/// changes, naming what the credentials lack.
async fn preflight<B: Backend>(
    backend: &B,
    request: &ActionRequest,
    job: &Job,
) -> Result<(), Refusal> {
    let t = &request.target;
    let lease = (!request.dry_run && lease::applies(t)).then(lease::access);
    for access in job.access.iter().chain(lease.iter().flatten()) {
        match backend.may(t, access).await {
            Ok(None) => {}
            Ok(Some(why)) => {
                return Err(Refusal::instead(
                    format!(
                        "the credentials for {} may not {access} in namespace {} ({why}): nothing was changed",
                        t.cluster, t.namespace
                    ),
                    "ask the cluster's admin for the Role in touban's README (Acting: RBAC)",
                ));
            }
            Err(f) => {
                return Err(Refusal::new(format!(
                    "cannot check whether the credentials may {access}: {}; nothing was changed",
                    f.what
                )));
            }
        }
    }
    Ok(())
}

/// Records a plan, or the refusal of one, in the audit log.
pub fn record_plan(
    audit: &AuditLog,
    who: &Who,
    id: JobId,
    request: &ActionRequest,
    planned: &Result<Job, Refusal>,
) -> std::io::Result<()> {
    let record = Record::new(who, id.0, Event::Planned, request);
    let record = match planned {
        Ok(job) => {
            let mut r = record
                .detail(&job.plan.title)
                .reverts(job.plan.reverts.as_deref());
            r.lease_override.clone_from(&job.plan.lease_override);
            r
        }
        Err(refusal) => {
            let mut r = record.detail(&refusal.why);
            r.event = Event::Refused;
            match &refusal.instead {
                Some(instead) => r.outcome(&format!("instead: {instead}")),
                None => r,
            }
        }
    };
    append(audit, &record)
}

/// Appends a record; the flush to disk runs off the async workers where it
/// can (a multi-thread runtime), so a slow disk stalls no other task.
fn append(audit: &AuditLog, record: &Record) -> std::io::Result<()> {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(|| audit.append(record))
    } else {
        audit.append(record)
    }
}

/// Where a running job reports and records.
pub struct Context<'a> {
    /// The audit log.
    pub audit: &'a AuditLog,
    /// Who acts.
    pub who: &'a Who,
    /// The app's channel for job events.
    pub events: &'a mpsc::UnboundedSender<JobEvent>,
    /// Set to `true` to cancel the job before its next step.
    pub cancel: &'a watch::Receiver<bool>,
    /// The operator's go-aheads (a count) for the job's gates; none:
    /// nobody is there to ask (the runner driven alone), a gate passes
    /// and says so.
    pub proceed: Option<&'a watch::Receiver<u64>>,
    /// The job's key, its Lease's (`session/id`); `None`: this session's.
    /// A job found in a checkpoint keeps the key it ran under, so that it
    /// takes back its own Lease at once.
    pub key: Option<String>,
    /// When the job first started (RFC 3339), if this run resumes one a
    /// console left: a runbook's RTO counts from there.
    pub began: Option<String>,
    /// Set when the job failed on a conflict before it changed anything:
    /// what it was planned from changed (a precondition, a 409, a JSON
    /// patch's `test`). The executor plans it again and, if the plan
    /// differs, asks again.
    pub conflicted: bool,
}

impl Context<'_> {
    fn record(&mut self, id: JobId, job: &Job, event: Event) -> Record {
        let mut record = Record::new(self.who, id.0, event, &job.plan.request)
            .reason(job.plan.reason.as_deref())
            .reverts(job.plan.reverts.as_deref());
        record.lease_override.clone_from(&job.plan.lease_override);
        // A job another run of touban left: named by the key it ran under.
        let own = format!("{}/{}", self.who.session, id.0);
        record.resumes = self.key.clone().filter(|k| *k != own);
        record
    }

    fn write(&mut self, record: &Record) -> Result<(), String> {
        append(self.audit, record)
            .map_err(|e| format!("cannot write the audit log: {e}; nothing more is done"))
    }

    fn report(&self, event: JobEvent) {
        // The app may be gone (shutting down); the audit log has it all.
        let _ = self.events.send(event);
    }
}

/// Runs a confirmed job to its end and says how it ended.
pub async fn run<B: Backend>(
    backend: &B,
    job: &Job,
    id: JobId,
    cx: &mut Context<'_>,
) -> JobOutcome {
    to_the_end(backend, job, id, cx, false).await
}

/// Runs again a job that was interrupted (its console killed, its task
/// aborted) from its first step. Each step converges: one whose effect is
/// already there (the deployment already wants the replicas asked for) does
/// nothing, so a resumed job never doubles work and ends where an
/// uninterrupted run would.
pub async fn resume<B: Backend>(
    backend: &B,
    job: &Job,
    id: JobId,
    cx: &mut Context<'_>,
) -> JobOutcome {
    to_the_end(backend, job, id, cx, true).await
}

async fn to_the_end<B: Backend>(
    backend: &B,
    job: &Job,
    id: JobId,
    cx: &mut Context<'_>,
    resuming: bool,
) -> JobOutcome {
    let key = cx
        .key
        .clone()
        .unwrap_or_else(|| format!("{}/{}", cx.who.session, id.0));
    let began = std::time::Instant::now();
    let (progress, seen_progress) = watch::channel(format!("0/{}", job.ops.len()));
    let outcome = match take_lease(backend, job, &key, cx.who).await {
        Ok(None) if job.plan.lease_override.is_some() && !job.plan.request.dry_run => {
            tracing::warn!("job {key} runs without a lease, on the operator's typed override");
            steps(backend, job, id, cx, resuming, &progress).await
        }
        Err(why) => JobOutcome::Failed(why),
        Ok(None) => steps(backend, job, id, cx, resuming, &progress).await,
        Ok(Some(rv)) => {
            let rv = std::sync::Mutex::new(rv);
            let who = cx.who;
            let outcome = tokio::select! {
                outcome = steps(backend, job, id, cx, resuming, &progress) => outcome,
                () = renew_lease(backend, job, &key, who, &rv, seen_progress) => {
                    JobOutcome::Failed("the lease's renewal ended: a defect of touban".into())
                }
            };
            let last = rv.lock().map(|r| r.clone()).unwrap_or_default();
            if let Some(at) = lease::of(job) {
                release_lease(backend, &at, &last, &key).await;
            }
            outcome
        }
    };
    let (reason, warning) = match &outcome {
        JobOutcome::Succeeded => ("ToubanJobSucceeded", false),
        JobOutcome::Failed(_) | JobOutcome::Refused(_) => ("ToubanJobFailed", true),
        JobOutcome::Cancelled => ("ToubanJobCancelled", true),
    };
    announce(backend, job, id, cx.who, reason, warning).await;
    let said = match &outcome {
        JobOutcome::Succeeded => match &job.plan.request.kind {
            ActionKind::RegionFailover { to, serving, .. }
                if serving.is_some() && !job.plan.request.dry_run =>
            {
                let this = began.elapsed().as_secs();
                let first = cx
                    .began
                    .as_deref()
                    .and_then(|b| b.parse::<jiff::Timestamp>().ok())
                    .and_then(|b| {
                        u64::try_from(jiff::Timestamp::now().duration_since(b).as_secs()).ok()
                    });
                match first {
                    Some(total) => format!(
                        "succeeded: {to} serves, {total} s after the job first began (the RTO, its interruption included; {this} s of it in this resumed run)"
                    ),
                    None => format!(
                        "succeeded: {to} serves, {this} s after this run began (the RTO of this run)"
                    ),
                }
            }
            _ => "succeeded".to_owned(),
        },
        JobOutcome::Failed(why) => format!("failed: {why}"),
        JobOutcome::Cancelled => "cancelled".to_owned(),
        JobOutcome::Refused(why) => format!("refused: {why}"),
    };
    let end = cx.record(id, job, Event::Finished).outcome(&said);
    let outcome = match cx.write(&end) {
        Ok(()) => outcome,
        Err(why) => JobOutcome::Failed(format!("{said}; and {why}")),
    };
    cx.report(JobEvent::Finished {
        id,
        outcome: outcome.clone(),
        at: std::time::SystemTime::now(),
    });
    outcome
}

/// Takes the target's Lease for this job (none for a dry run, which
/// changes nothing): created if there is none, taken over if it ran out or
/// is this job's own (resumed); held by another job, the job does not run
/// and says who holds it. Returns the Lease's resourceVersion.
async fn take_lease<B: Backend>(
    backend: &B,
    job: &Job,
    key: &str,
    who: &Who,
) -> Result<Option<String>, String> {
    let Some(at) = lease::of(job) else {
        return Ok(None);
    };
    let t = &at;
    let now = jiff::Timestamp::now();
    let current = match backend.lease(t).await {
        Ok(current) => current,
        // Planned without an answer from the coordination cluster, and
        // overridden: it runs without a Lease.
        Err(_) if job.plan.lease_override.is_some() => return Ok(None),
        Err(f) => {
            return Err(format!(
                "cannot read the target's lease: {}; nothing was done",
                f.what
            ));
        }
    };
    if let Some((h, _)) = &current
        && let Some(why) = h.blocks(key, t, now)
    {
        return Err(why);
    }
    let holder = lease::Holder {
        identity: who.operator.clone(),
        job: key.to_owned(),
        action: job.plan.title.clone(),
        step: format!("0/{}", job.ops.len()),
        switch: job.switch(),
        acquired: now,
        renewed: now,
        duration: lease::DURATION,
    };
    let rv = current.as_ref().map(|(_, rv)| rv.as_str());
    let put = backend.put_lease(t, &holder, rv).await;
    // Overridden (the credentials may not take Leases there): it runs
    // without; a 409 is another console's, which no override passes.
    if let Err(f) = &put
        && f.status != Some(409)
        && job.plan.lease_override.is_some()
    {
        return Ok(None);
    }
    put.map(Some).map_err(|f| {
        if f.status == Some(409) {
            format!(
                "another console took {}'s lease just now: read the Jobs of others and try again; nothing was done",
                t.name
            )
        } else {
            format!("cannot take the target's lease: {}; nothing was done", f.what)
        }
    })
}

/// Renews the Lease every few seconds with the step reached, until the job
/// ends (this future never returns; the job's end drops it). A renewal
/// that fails is tried again at the next tick: the Lease runs out only if
/// renewals fail for its whole duration.
async fn renew_lease<B: Backend>(
    backend: &B,
    job: &Job,
    key: &str,
    who: &Who,
    rv: &std::sync::Mutex<String>,
    mut progress: watch::Receiver<String>,
) {
    let acquired = jiff::Timestamp::now();
    let Some(at) = lease::of(job) else {
        return std::future::pending().await;
    };
    loop {
        tokio::select! {
            () = tokio::time::sleep(lease::RENEW) => {}
            changed = progress.changed() => {
                if changed.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
        let holder = lease::Holder {
            identity: who.operator.clone(),
            job: key.to_owned(),
            action: job.plan.title.clone(),
            step: progress.borrow().clone(),
            switch: job.switch(),
            acquired,
            renewed: jiff::Timestamp::now(),
            duration: lease::DURATION,
        };
        let current = rv.lock().map(|r| r.clone()).unwrap_or_default();
        match backend.put_lease(&at, &holder, Some(&current)).await {
            Ok(new) => {
                if let Ok(mut r) = rv.lock() {
                    *r = new;
                }
            }
            Err(f) => tracing::warn!("renewing the lease of job {key}: {}", f.what),
        }
    }
}

/// Gives the Lease back when the job ends; one that cannot be deleted runs
/// out by itself.
/// Gives the Lease back. A renewal cut off by the job's end may have
/// moved it past the resourceVersion last seen (409): read again, it is
/// given back if it still names this job.
async fn release_lease<B: Backend>(backend: &B, t: &Target, rv: &str, key: &str) {
    let mut dropped = backend.drop_lease(t, rv).await;
    if dropped.as_ref().is_err_and(|f| f.status == Some(409)) {
        dropped = match backend.lease(t).await {
            Ok(Some((h, now))) if h.job == key => backend.drop_lease(t, &now).await,
            Ok(_) => Ok(()),
            Err(f) => Err(f),
        };
    }
    if let Err(f) = dropped {
        tracing::warn!(
            "giving back the lease of {}: {} (it runs out by itself)",
            t.name,
            f.what
        );
    }
}

/// A job's start: reported queued, its confirmation recorded, its start
/// announced on the target; a job whose plan and operations do not match
/// does not start.
async fn begin<B: Backend>(
    backend: &B,
    job: &Job,
    id: JobId,
    cx: &mut Context<'_>,
    resuming: bool,
) -> Result<(), JobOutcome> {
    cx.report(JobEvent::Queued {
        id,
        title: job.plan.title.clone(),
        at: std::time::SystemTime::now(),
    });
    let confirmed = cx.record(id, job, Event::Confirmed).detail(&if resuming {
        format!("resumed: {}", job.plan.title)
    } else {
        job.plan.title.clone()
    });
    if let Err(why) = cx.write(&confirmed) {
        return Err(JobOutcome::Failed(why));
    }
    let started = if resuming {
        "ToubanJobResumed"
    } else {
        "ToubanJobStarted"
    };
    announce(backend, job, id, cx.who, started, false).await;
    let of = job.ops.len();
    if of != job.plan.steps.len() {
        return Err(JobOutcome::Failed(format!(
            "the plan shows {} steps for {of} operations: a defect of touban, nothing was done",
            job.plan.steps.len()
        )));
    }
    Ok(())
}

async fn steps<B: Backend>(
    backend: &B,
    job: &Job,
    id: JobId,
    cx: &mut Context<'_>,
    resuming: bool,
    progress: &watch::Sender<String>,
) -> JobOutcome {
    if let Err(outcome) = begin(backend, job, id, cx, resuming).await {
        return outcome;
    }
    let of = job.ops.len();
    // The resourceVersion the last read saw: the precondition of a write.
    let mut seen_rv: Option<String> = None;
    // Whether a step has changed something yet.
    let mut written = false;
    // The part a step of a runbook is of: another part's resourceVersion
    // is no precondition of this one's.
    let mut part: Option<&crate::model::action::ActionRequest> = None;
    for (i, (op, shown)) in job.ops.iter().zip(&job.plan.steps).enumerate() {
        if *cx.cancel.borrow() {
            return JobOutcome::Cancelled;
        }
        if let Op::Part { request, .. } = op
            && part != Some(request.as_ref())
        {
            part = Some(request.as_ref());
            seen_rv = None;
        }
        let index = i + 1;
        let _ = progress.send(format!("{index}/{of}"));
        cx.report(JobEvent::Step {
            id,
            step: shown.title.clone(),
            index,
            of,
        });
        let mut start = cx.record(id, job, Event::StepStarted).detail(&shown.call);
        start.step = Some(index);
        if let Err(why) = cx.write(&start) {
            return JobOutcome::Failed(why);
        }
        let result = match op {
            Op::Gate { what } => gate(cx, what, job.plan.request.dry_run).await,
            _ => perform(backend, job, op, seen_rv.as_deref(), cx.cancel, resuming).await,
        };
        if let Ok(Done {
            call: Some(Call {
                after: Some(rv), ..
            }),
            ..
        }) = &result
        {
            seen_rv = Some(rv.clone());
        }
        let mut end = cx.record(id, job, Event::StepEnded);
        end.step = Some(index);
        let said = result
            .as_ref()
            .map_or_else(|f| f.what.clone(), |d| d.said.clone());
        cx.report(JobEvent::StepEnded {
            id,
            index,
            ok: result.is_ok(),
            said,
        });
        let failed = match &result {
            Ok(done) => {
                end = end.outcome(&done.said);
                end.status = done.call.as_ref().map(|c| c.status);
                end.resource_version_before = done.call.as_ref().and_then(|c| c.before.clone());
                end.resource_version_after = done.call.as_ref().and_then(|c| c.after.clone());
                None
            }
            Err(f) => {
                end = end.outcome(&format!("failed: {}", f.what));
                end.status = f.status;
                let stale = lease::applies(&job.plan.request.target)
                    && (shown.kind == crate::model::plan::StepKind::Check
                        || matches!(f.status, Some(409 | 422)));
                cx.conflicted = stale && !written && !resuming && !job.plan.request.dry_run;
                Some(f.what.clone())
            }
        };
        written |= result.is_ok() && shown.kind == crate::model::plan::StepKind::Mutate;
        if let Err(why) = cx.write(&end) {
            return JobOutcome::Failed(why);
        }
        if failed.is_some() && *cx.cancel.borrow() {
            return JobOutcome::Cancelled;
        }
        if let Some(why) = failed {
            let undo = match (&job.plan.undo, index > 1) {
                (Some(undo), true) => format!("; to undo what was done: {undo}"),
                _ => String::new(),
            };
            return JobOutcome::Failed(format!(
                "step {index} of {of} ({}): {why}{undo}",
                shown.title
            ));
        }
    }
    JobOutcome::Succeeded
}

/// Waits at a gate until the operator lets the job go on (a go-ahead
/// given after the gate was reached) or cancels it.
async fn gate(cx: &Context<'_>, what: &str, dry_run: bool) -> Result<Done, Failure> {
    let said = |said: String| Ok(Done { said, call: None });
    if dry_run {
        return said(format!(
            "dry run: the gate would wait for the operator ({what})"
        ));
    }
    let Some(proceed) = cx.proceed else {
        return said("no operator to ask (the runner alone): passed".into());
    };
    let mut proceed = proceed.clone();
    let mut cancel = cx.cancel.clone();
    let reached = *proceed.borrow_and_update();
    loop {
        if *cancel.borrow_and_update() {
            return Err(Failure {
                what: "cancelled at the gate: nothing after it was done".into(),
                status: None,
            });
        }
        if *proceed.borrow_and_update() > reached {
            return said("the operator went on".into());
        }
        tokio::select! {
            changed = proceed.changed() => {
                if changed.is_err() {
                    return Err(Failure {
                        what: "the console left while the job waited at its gate".into(),
                        status: None,
                    });
                }
            }
            _ = cancel.changed() => {}
        }
    }
}

/// Writes a Kubernetes Event on the job's target (not for a dry run,
/// which changes nothing): other consoles and `kubectl get events` see
/// who did what. An Event that cannot be written (no permission to create
/// events, say) fails nothing: the audit log has the job whole.
async fn announce<B: Backend>(
    backend: &B,
    job: &Job,
    id: JobId,
    who: &Who,
    reason: &str,
    warning: bool,
) {
    if job.plan.request.dry_run || !lease::applies(&job.plan.request.target) {
        return;
    }
    let because = job
        .plan
        .reason
        .as_deref()
        .map(|r| format!(", because: {r}"))
        .unwrap_or_default();
    let message = format!(
        "{}: {}{because} (touban job {}/{})",
        who.operator, job.plan.title, who.session, id.0
    );
    let written = tokio::time::timeout(
        READ_TIMEOUT,
        backend.record_event(&job.plan.request.target, reason, &message, warning),
    )
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(f)) => tracing::warn!("the job's {reason} Event was not written: {}", f.what),
        Err(_) => tracing::warn!(
            "the job's {reason} Event was not written within {} s",
            READ_TIMEOUT.as_secs()
        ),
    }
}

/// What a step did.
struct Done {
    said: String,
    call: Option<Call>,
}

/// What a scale wants: a resumed step that finds it there converges.
fn wanted(kind: &ActionKind) -> Option<i64> {
    match *kind {
        ActionKind::Scale { replicas } => Some(i64::from(replicas)),
        ActionKind::HpaBounds { .. }
        | ActionKind::Restart
        | ActionKind::Repoint { .. }
        | ActionKind::RetargetHpa
        | ActionKind::DeletePod
        | ActionKind::SetImage { .. }
        | ActionKind::Undo { .. }
        | ActionKind::Silence { .. }
        | ActionKind::Expire { .. }
        | ActionKind::BlueGreen { .. }
        | ActionKind::Switchover { .. }
        | ActionKind::Promote { .. }
        | ActionKind::Resync { .. }
        | ActionKind::Fence { .. }
        | ActionKind::Lockout { .. }
        | ActionKind::CacheFailover
        | ActionKind::CachePromote
        | ActionKind::RdsFailover
        | ActionKind::RdsPromote
        | ActionKind::ElastiCacheFailover
        | ActionKind::TrafficPool { .. }
        | ActionKind::Apply { .. }
        | ActionKind::Infra { .. }
        | ActionKind::NodeGroup { .. }
        | ActionKind::PromoteReplica { .. }
        | ActionKind::RegionFailover { .. } => None,
    }
}

async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &Op,
    seen_rv: Option<&str>,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let request = &job.plan.request;
    let wanted = wanted(&request.kind);
    let t = &request.target;
    match op {
        Op::ExpectReplicas { replicas } => {
            expect_replicas(backend, t, *replicas, wanted.filter(|_| resuming)).await
        }
        Op::Scale { replicas, from } => {
            if resuming
                && let Some((d, rv)) = backend.deployment(t).await?
                && Some(i64::from(d.desired)) == wanted
            {
                return Ok(Done {
                    said: format!("already wants {replicas} replicas: nothing written"),
                    call: Some(Call {
                        status: 200,
                        before: Some(rv.clone()),
                        after: Some(rv),
                    }),
                });
            }
            let call = write_scale(backend, t, *replicas, *from, request.dry_run, seen_rv).await?;
            Ok(Done {
                said: if request.dry_run {
                    format!("dry run: the server accepts spec.replicas={replicas}")
                } else {
                    format!("spec.replicas={replicas} accepted")
                },
                call: Some(call),
            })
        }
        Op::AwaitScaled { replicas, within } => {
            if request.dry_run {
                return Ok(Done {
                    said: "dry run: nothing changed, nothing to wait for".into(),
                    call: None,
                });
            }
            let verify = |d: &crate::model::cluster::DeploymentRow| scale::verify(*replicas, d);
            let done = format!("{replicas} of {replicas} updated and available, no others");
            await_deployment(backend, t, &verify, &done, *within, cancel).await
        }
        Op::ExpectGeneration { .. } | Op::Restart { .. } | Op::AwaitRestarted { .. } => {
            perform_restart(backend, job, op, seen_rv, cancel, resuming).await
        }
        Op::ExpectBounds {
            min,
            max,
            deployment,
        } => expect_bounds(backend, request, (*min, *max), deployment, resuming).await,
        Op::SetBounds { .. } | Op::AwaitWithinBounds { .. } => {
            perform_bounds(backend, job, op, seen_rv, cancel, resuming).await
        }
        Op::Release(op) => release::perform(backend, job, op, cancel, resuming).await,
        Op::Silence(op) => silence::perform(backend, job, op, seen_rv, cancel, resuming).await,
        Op::Db(op) => db::perform(backend, job, op, cancel, resuming).await,
        Op::Cache(op) => cache::perform(backend, job, op, cancel, resuming).await,
        Op::Traffic(op) => traffic::perform(backend, job, op, cancel, resuming).await,
        Op::Config(op) => config::perform(backend, job, op, cancel).await,
        Op::Azure(op) => azure::perform(backend, job, op, cancel, resuming).await,
        // Boxed: the AWS SDK's futures are large, and every step's future
        // would be as large.
        Op::Rds(_) | Op::ElastiCache(_) => Box::pin(aws(backend, job, op, cancel, resuming)).await,
        Op::NodeGroup(op) => {
            Box::pin(node_group::perform(backend, job, op, cancel, resuming)).await
        }
        Op::Manifest(op) => Box::pin(manifests::perform(backend, job, op, cancel)).await,
        Op::Infra(op) => Box::pin(infra::perform(backend, job, op, cancel)).await,
        // Passed by the job's steps, which know the operator.
        Op::Gate { .. } => Err(Failure {
            what: "a gate outside a job's steps: a defect of touban".into(),
            status: None,
        }),
        Op::Part { request, op } => {
            let part = region::part_job(job, request);
            Box::pin(perform(backend, &part, op, seen_rv, cancel, resuming)).await
        }
        Op::SetImage { .. } | Op::RestoreTemplate { .. } | Op::AwaitRolledOut { .. } => {
            template::perform(backend, job, op, cancel, resuming).await
        }
        Op::ExpectPod { .. } | Op::DeletePod { .. } | Op::AwaitReplaced { .. } => {
            pod::perform(backend, job, op, cancel, resuming).await
        }
    }
}

/// The HPA still has the bounds planned from (or, resumed, the bounds
/// asked for: the write was done).
async fn expect_bounds<B: Backend>(
    backend: &B,
    request: &ActionRequest,
    (min, max): (i32, i32),
    deployment: &str,
    resuming: bool,
) -> Result<Done, Failure> {
    let t = &request.target;
    let (h, rv) = backend.hpa(t).await?.ok_or_else(|| Failure {
        what: format!("HPA {}/{} on {} is gone", t.namespace, t.name, t.cluster),
        status: Some(404),
    })?;
    let converged = resuming
        && matches!(request.kind, ActionKind::HpaBounds { min: m, max: x }
            if m.is_none_or(|m| i64::from(m) == i64::from(h.min))
                && x.is_none_or(|x| i64::from(x) == i64::from(h.max)));
    if !hpa_bounds::holds(&h, min, max) && !converged {
        return Err(Failure {
            what: format!(
                "{} scales between {} and {} now, not the {min}–{max} planned from: plan again",
                h.name, h.min, h.max
            ),
            status: None,
        });
    }
    if h.target_kind != "Deployment" || h.target != deployment {
        return Err(Failure {
            what: format!(
                "{} scales {} {} now, not deployment {deployment} as planned: plan again",
                h.name, h.target_kind, h.target
            ),
            status: None,
        });
    }
    Ok(Done {
        said: format!(
            "{} scales {} between {} and {}, as planned",
            h.name, h.target, h.min, h.max
        ),
        call: Some(Call {
            status: 200,
            before: Some(rv.clone()),
            after: Some(rv),
        }),
    })
}

/// Writes the restart with the resourceVersion last read as
/// precondition; a 409 is read again and retried while the deployment is
/// still at the generation planned from (only its status moved).
async fn write_restart<B: Backend>(
    backend: &B,
    t: &Target,
    at: &str,
    planned: Option<i64>,
    dry_run: bool,
    seen_rv: Option<&str>,
) -> Result<Call, Failure> {
    with_conflicts(
        t,
        seen_rv,
        |rv: Option<String>| async move { backend.restart(t, at, dry_run, rv.as_deref()).await },
        |_: Option<String>| async move {
            let (d, now) = backend.deployment(t).await?.ok_or_else(|| gone(t))?;
            if planned.is_some_and(|g| g != d.generation) {
                return Err(Failure {
                    what: format!(
                        "{}'s spec changed since the plan (generation {}): plan again",
                        d.name, d.generation
                    ),
                    status: Some(409),
                });
            }
            Ok(Reread::Retry(now))
        },
    )
    .await
}

/// Writes an HPA's bounds with the resourceVersion last read as
/// precondition; a 409 is read again and retried while the HPA still has
/// the bounds planned from.
async fn write_bounds<B: Backend>(
    backend: &B,
    t: &Target,
    (min, max): (u32, u32),
    from: (i32, i32),
    dry_run: bool,
    seen_rv: Option<&str>,
) -> Result<Call, Failure> {
    with_conflicts(
        t,
        seen_rv,
        |rv: Option<String>| async move {
            backend
                .set_hpa_bounds(t, min, max, dry_run, rv.as_deref())
                .await
        },
        |rv: Option<String>| async move {
            let Some((h, now)) = backend.hpa(t).await? else {
                return Err(Failure {
                    what: format!("HPA {}/{} on {} is gone", t.namespace, t.name, t.cluster),
                    status: Some(404),
                });
            };
            if i64::from(h.min) == i64::from(min) && i64::from(h.max) == i64::from(max) {
                // Already what was asked (a write of ours that was
                // answered late): nothing more to write.
                return Ok(Reread::Done(Call {
                    status: 200,
                    before: rv,
                    after: Some(now),
                }));
            }
            if !hpa_bounds::holds(&h, from.0, from.1) {
                return Err(Failure {
                    what: format!(
                        "{} now scales between {} and {}, not the {}–{} planned from: plan again",
                        h.name, h.min, h.max, from.0, from.1
                    ),
                    status: Some(409),
                });
            }
            Ok(Reread::Retry(now))
        },
    )
    .await
}

/// The operations of a restart.
async fn perform_restart<B: Backend>(
    backend: &B,
    job: &Job,
    op: &Op,
    seen_rv: Option<&str>,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let request = &job.plan.request;
    let t = &request.target;
    match op {
        Op::ExpectGeneration { generation } => {
            let (d, rv) = backend.deployment(t).await?.ok_or_else(|| gone(t))?;
            // Resumed after its write: the write's effect is there.
            let restarted = match (job.ops.get(1), job.ops.get(2)) {
                (Some(Op::Restart { at }), _) => d.restarted_at.as_deref() == Some(at.as_str()),
                (Some(Op::SetImage { to, .. }), _) => d.image == *to,
                (Some(Op::RestoreTemplate { .. }), Some(Op::AwaitRolledOut { image, .. })) => {
                    d.image == *image
                }
                _ => false,
            };
            if d.generation != *generation && !(resuming && restarted) {
                return Err(Failure {
                    what: format!(
                        "{} is at generation {} now, not the {generation} planned from (its spec changed): plan again",
                        d.name, d.generation
                    ),
                    status: None,
                });
            }
            Ok(Done {
                said: format!("{} at generation {}, as planned", d.name, d.generation),
                call: Some(Call {
                    status: 200,
                    before: Some(rv.clone()),
                    after: Some(rv),
                }),
            })
        }
        Op::Restart { at } => {
            if resuming
                && let Some((d, rv)) = backend.deployment(t).await?
                && d.restarted_at.as_deref() == Some(at.as_str())
            {
                return Ok(Done {
                    said: format!("already restarted at {at}: nothing written"),
                    call: Some(Call {
                        status: 200,
                        before: Some(rv.clone()),
                        after: Some(rv),
                    }),
                });
            }
            let planned = match job.ops.first() {
                Some(Op::ExpectGeneration { generation }) => Some(*generation),
                _ => None,
            };
            let call = write_restart(backend, t, at, planned, request.dry_run, seen_rv).await?;
            Ok(Done {
                said: if request.dry_run {
                    format!("dry run: the server accepts restartedAt={at}")
                } else {
                    format!("restartedAt={at} accepted: new pods rolling")
                },
                call: Some(call),
            })
        }
        Op::AwaitRestarted { at, within } => {
            if request.dry_run {
                return Ok(Done {
                    said: "dry run: nothing changed, nothing to wait for".into(),
                    call: None,
                });
            }
            let verify = |d: &crate::model::cluster::DeploymentRow| restart::verify(at, d);
            await_deployment(
                backend,
                t,
                &verify,
                "every pod new, updated and available, no old one",
                *within,
                cancel,
            )
            .await
        }
        other => Err(Failure {
            what: format!(
                "{other:?} is not a restart's operation: a defect of touban, nothing was done"
            ),
            status: None,
        }),
    }
}

/// The operations of an HPA's bounds.
async fn perform_bounds<B: Backend>(
    backend: &B,
    job: &Job,
    op: &Op,
    seen_rv: Option<&str>,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let request = &job.plan.request;
    let t = &request.target;
    match op {
        Op::SetBounds { min, max, from } => {
            if resuming
                && let Some((h, rv)) = backend.hpa(t).await?
                && i64::from(h.min) == i64::from(*min)
                && i64::from(h.max) == i64::from(*max)
            {
                return Ok(Done {
                    said: format!("already scales between {min} and {max}: nothing written"),
                    call: Some(Call {
                        status: 200,
                        before: Some(rv.clone()),
                        after: Some(rv),
                    }),
                });
            }
            let call =
                write_bounds(backend, t, (*min, *max), *from, request.dry_run, seen_rv).await?;
            Ok(Done {
                said: if request.dry_run {
                    format!("dry run: the server accepts minReplicas={min}, maxReplicas={max}")
                } else {
                    format!("minReplicas={min}, maxReplicas={max} accepted")
                },
                call: Some(call),
            })
        }
        Op::AwaitWithinBounds {
            deployment,
            min,
            max,
            within,
        } => {
            if request.dry_run {
                return Ok(Done {
                    said: "dry run: nothing changed, nothing to wait for".into(),
                    call: None,
                });
            }
            let d = Target {
                kind: ObjectKind::Deployment,
                name: deployment.clone(),
                ..t.clone()
            };
            let verify =
                |row: &crate::model::cluster::DeploymentRow| hpa_bounds::verify(*min, *max, row);
            let done = format!(
                "{deployment} runs inside {min}–{max}, every replica updated and available"
            );
            await_deployment(backend, &d, &verify, &done, *within, cancel).await
        }
        other => Err(Failure {
            what: format!(
                "{other:?} is not an HPA bounds operation: a defect of touban, nothing was done"
            ),
            status: None,
        }),
    }
}

/// The deployment still wants the replicas planned from (or, resumed,
/// `converged_at`: the write was done), and no HPA scales it.
async fn expect_replicas<B: Backend>(
    backend: &B,
    t: &Target,
    replicas: i32,
    converged_at: Option<i64>,
) -> Result<Done, Failure> {
    let (d, rv) = backend.deployment(t).await?.ok_or_else(|| Failure {
        what: format!(
            "deployment {}/{} on {} is gone",
            t.namespace, t.name, t.cluster
        ),
        status: Some(404),
    })?;
    // Resumed after the write: already where it was going.
    let converged = Some(i64::from(d.desired)) == converged_at;
    if d.desired != replicas && !converged {
        return Err(Failure {
            what: format!(
                "{} wants {} replicas now, not the {replicas} planned from: plan again",
                d.name, d.desired
            ),
            status: None,
        });
    }
    // An HPA made since the plan would undo the scale.
    if let Some(h) =
        backend.hpas(t).await?.iter().find(|h| {
            h.target_kind == "Deployment" && h.target == d.name && h.namespace == d.namespace
        })
    {
        return Err(Failure {
            what: format!("the HPA {} scales {} now: plan again", h.name, d.name),
            status: None,
        });
    }
    Ok(Done {
        said: format!(
            "{} wants {replicas} replicas, as planned, and no HPA scales it",
            d.name
        ),
        call: Some(Call {
            status: 200,
            before: Some(rv.clone()),
            after: Some(rv),
        }),
    })
}

/// The target deployment is not there any more.
fn gone(t: &Target) -> Failure {
    Failure {
        what: format!(
            "deployment {}/{} on {} is gone",
            t.namespace, t.name, t.cluster
        ),
        status: Some(404),
    }
}

/// What a write refused with 409 finds when it reads the object again.
enum Reread {
    /// The plan still holds: write again on this resourceVersion.
    Retry(String),
    /// The write's effect is there already (ours, answered late).
    Done(Call),
}

/// Writes with the resourceVersion last read as precondition; a 409 reads
/// the object again (`reread`, which fails the step when the plan no longer
/// holds) and retries, at most [`CONFLICT_RETRIES`] times.
async fn with_conflicts<W, R>(
    t: &Target,
    seen_rv: Option<&str>,
    mut write: impl FnMut(Option<String>) -> W,
    mut reread: impl FnMut(Option<String>) -> R,
) -> Result<Call, Failure>
where
    W: Future<Output = Result<Call, Failure>>,
    R: Future<Output = Result<Reread, Failure>>,
{
    let mut rv = seen_rv.map(str::to_owned);
    for _ in 0..CONFLICT_RETRIES {
        match write(rv.clone()).await {
            Err(f) if f.status == Some(409) => match reread(rv.clone()).await? {
                Reread::Retry(now) => rv = Some(now),
                Reread::Done(call) => return Ok(call),
            },
            other => return other,
        }
    }
    Err(Failure {
        what: format!(
            "{}/{} on {} changed under every one of {CONFLICT_RETRIES} writes: try again",
            t.namespace, t.name, t.cluster
        ),
        status: Some(409),
    })
}

/// How many times a write refused with 409 is read again and retried while
/// what it was planned on (the replicas wanted) still holds.
const CONFLICT_RETRIES: usize = 5;

/// Writes the scale with the resourceVersion last read as precondition. A
/// 409 is read again: if the deployment still wants `from` (only its status
/// moved), the same write is retried on the new resourceVersion; if its
/// replicas changed, the plan no longer holds and the step fails.
async fn write_scale<B: Backend>(
    backend: &B,
    t: &Target,
    replicas: u32,
    from: i32,
    dry_run: bool,
    seen_rv: Option<&str>,
) -> Result<Call, Failure> {
    with_conflicts(
        t,
        seen_rv,
        |rv: Option<String>| async move { backend.scale(t, replicas, dry_run, rv.as_deref()).await },
        |_: Option<String>| async move {
            let (d, now) = backend.deployment(t).await?.ok_or_else(|| gone(t))?;
            if d.desired != from {
                return Err(Failure {
                    what: format!(
                        "{} now wants {} replicas, not the {from} planned from: plan again",
                        d.name, d.desired
                    ),
                    status: Some(409),
                });
            }
            Ok(Reread::Retry(now))
        },
    )
    .await
}

/// Reads the deployment until `verify` says done, it stalls, the deadline
/// passes or the job is cancelled; a read that fails or hangs is tried
/// again until the deadline, then named.
async fn await_deployment<B: Backend>(
    backend: &B,
    t: &Target,
    verify: &(dyn Fn(&crate::model::cluster::DeploymentRow) -> Progress + Sync),
    done: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    let deadline = start.checked_add(within).unwrap_or(start);
    let mut last = String::from("not read yet");
    loop {
        if *cancel.borrow() {
            return Err(Failure {
                what: format!("cancelled while waiting: {last}"),
                status: None,
            });
        }
        let read = tokio::time::timeout(READ_TIMEOUT, backend.deployment(t)).await;
        match read {
            Ok(Ok(Some((d, _)))) => match verify(&d) {
                Progress::Done => {
                    return Ok(Done {
                        said: done.to_owned(),
                        call: None,
                    });
                }
                Progress::Failed(why) => {
                    return Err(Failure {
                        what: why,
                        status: None,
                    });
                }
                Progress::Waiting(why) => last = why,
            },
            Ok(Ok(None)) => {
                return Err(Failure {
                    what: format!(
                        "deployment {}/{} on {} is gone",
                        t.namespace, t.name, t.cluster
                    ),
                    status: Some(404),
                });
            }
            Ok(Err(f)) => last = f.what,
            Err(_) => {
                last = format!(
                    "reading {}/{} on {} took over {} s",
                    t.namespace,
                    t.name,
                    t.cluster,
                    READ_TIMEOUT.as_secs()
                );
            }
        }
        if Instant::now() >= deadline {
            return Err(Failure {
                what: format!("not done after {} s: {last}", within.as_secs()),
                status: None,
            });
        }
        let mut cancelled = cancel.clone();
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = cancelled.changed() => {}
        }
    }
}
