//! Runs one job: for each step, check for cancellation, record its start,
//! perform its operation, verify its effect, record its end, report it.
//! A failed step stops the job with what failed, where, and what undoes
//! what was done. Nothing is written that is not first in the audit log:
//! a log that cannot be written fails the job before its next step.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::actions::{self, Progress, Seen, scale};
use super::audit::{AuditLog, Event, Record};
use super::backend::{Backend, Call, Failure};
use super::step::{Job, Op};
use crate::model::action::ActionRequest;
use crate::model::plan::Refusal;
use crate::model::{JobEvent, JobId, JobOutcome};

/// How often a verification reads the target again.
const POLL: Duration = Duration::from_millis(250);

/// Who acts, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// The platform's `environment`.
    pub environment: String,
    /// The operator (`operator` from the config, else `$USER@host`).
    pub operator: String,
}

/// Reads what the request's action needs and plans it; a target that
/// cannot be read is a refusal that says why.
pub async fn prepare<B: Backend>(
    backend: &B,
    request: &ActionRequest,
    primary: bool,
) -> Result<Job, Refusal> {
    let t = &request.target;
    let deployment = backend
        .deployment(t)
        .await
        .map_err(|f| Refusal::new(f.what))?;
    let hpas = backend.hpas(t).await.map_err(|f| Refusal::new(f.what))?;
    actions::plan(
        request,
        &Seen {
            deployment: deployment.map(|(d, _)| d),
            hpas,
            primary,
        },
    )
}

/// Where a running job reports and records.
pub struct Context<'a> {
    /// The audit log.
    pub audit: &'a mut AuditLog,
    /// Who acts.
    pub who: &'a Who,
    /// The app's channel for job events.
    pub events: &'a mpsc::UnboundedSender<JobEvent>,
    /// Set to `true` to cancel the job before its next step.
    pub cancel: &'a watch::Receiver<bool>,
}

impl Context<'_> {
    fn record(&mut self, id: JobId, job: &Job, event: Event) -> Record {
        Record::new(
            &self.who.environment,
            &self.who.operator,
            id.0,
            event,
            &job.plan.request,
        )
    }

    fn write(&mut self, record: &Record) -> Result<(), String> {
        self.audit
            .append(record)
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
    let outcome = steps(backend, job, id, cx).await;
    let said = match &outcome {
        JobOutcome::Succeeded => "succeeded".to_owned(),
        JobOutcome::Failed(why) => format!("failed: {why}"),
        JobOutcome::Cancelled => "cancelled".to_owned(),
    };
    let end = cx.record(id, job, Event::Finished).outcome(&said);
    let outcome = match cx.write(&end) {
        Ok(()) => outcome,
        Err(why) => JobOutcome::Failed(why),
    };
    cx.report(JobEvent::Finished {
        id,
        outcome: outcome.clone(),
        at: std::time::SystemTime::now(),
    });
    outcome
}

async fn steps<B: Backend>(backend: &B, job: &Job, id: JobId, cx: &mut Context<'_>) -> JobOutcome {
    cx.report(JobEvent::Queued {
        id,
        title: job.plan.title.clone(),
        at: std::time::SystemTime::now(),
    });
    let confirmed = cx.record(id, job, Event::Confirmed).detail(&job.plan.title);
    if let Err(why) = cx.write(&confirmed) {
        return JobOutcome::Failed(why);
    }
    let of = job.ops.len();
    for (i, (op, shown)) in job.ops.iter().zip(&job.plan.steps).enumerate() {
        if *cx.cancel.borrow() {
            return JobOutcome::Cancelled;
        }
        let index = i + 1;
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
        let result = perform(backend, job, op).await;
        let mut end = cx.record(id, job, Event::StepEnded);
        end.step = Some(index);
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
                Some(f.what.clone())
            }
        };
        if let Err(why) = cx.write(&end) {
            return JobOutcome::Failed(why);
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

/// What a step did.
struct Done {
    said: String,
    call: Option<Call>,
}

async fn perform<B: Backend>(backend: &B, job: &Job, op: &Op) -> Result<Done, Failure> {
    let request = &job.plan.request;
    let t = &request.target;
    let missing = || Failure {
        what: format!(
            "deployment {}/{} on {} is gone",
            t.namespace, t.name, t.cluster
        ),
        status: Some(404),
    };
    match op {
        Op::ExpectReplicas { replicas } => {
            let (d, rv) = backend.deployment(t).await?.ok_or_else(missing)?;
            if d.desired != *replicas {
                return Err(Failure {
                    what: format!(
                        "{} wants {} replicas now, not the {replicas} planned from: plan again",
                        d.name, d.desired
                    ),
                    status: None,
                });
            }
            Ok(Done {
                said: format!("{} wants {replicas} replicas, as planned", d.name),
                call: Some(Call {
                    status: 200,
                    before: Some(rv.clone()),
                    after: Some(rv),
                }),
            })
        }
        Op::Scale { replicas } => {
            let before = backend.deployment(t).await?.map(|(_, rv)| rv);
            let mut call = backend.scale(t, *replicas, request.dry_run).await?;
            call.before = before;
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
            let deadline = Instant::now() + *within;
            loop {
                let (d, _) = backend.deployment(t).await?.ok_or_else(missing)?;
                match scale::verify(*replicas, &d) {
                    Progress::Done => {
                        return Ok(Done {
                            said: format!("{} of {replicas} updated and available", d.available),
                            call: None,
                        });
                    }
                    Progress::Failed(why) => {
                        return Err(Failure {
                            what: why,
                            status: None,
                        });
                    }
                    Progress::Waiting(why) if Instant::now() >= deadline => {
                        return Err(Failure {
                            what: format!("not done after {} s: {why}", within.as_secs()),
                            status: None,
                        });
                    }
                    Progress::Waiting(_) => tokio::time::sleep(POLL).await,
                }
            }
        }
    }
}
