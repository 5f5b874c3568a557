//! The executor's task: it owns the job queue. The app sends it
//! [`ExecCommand`]s (plan this request, the operator confirmed or declined
//! that plan, cancel that job); it answers with `JobEvent`s on the app's
//! channel. Reads for a plan and the jobs themselves run as tasks of their
//! own, so the queue always answers: one job at a time per target, jobs of
//! different targets side by side, a job confirmed for a busy target waits
//! its turn.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::audit::{AuditLog, Event, Record};
use super::backend::Backend;
use super::runner::{self, Context, Who};
use super::step::Job;
use crate::model::action::Target;
pub use crate::model::job::ExecCommand;
use crate::model::plan::Refusal;
use crate::model::{JobEvent, JobId, JobOutcome};

/// What the executor needs: where it acts, where it writes down, who acts
/// and which regions are primary (their zero scales need a typed name).
pub struct Executor<B> {
    /// The clusters it acts on.
    pub backend: Arc<B>,
    /// The audit log every plan, confirmation and step goes to.
    pub audit: Arc<AuditLog>,
    /// Who acts.
    pub who: Arc<Who>,
    /// Names of the regions serving production.
    pub primary: BTreeSet<String>,
}

/// What a task of the executor ended with.
enum Ended {
    Planned(JobId, Result<Job, Refusal>),
    Ran(Target),
}

/// A job that runs or waits for its target.
struct Queued {
    id: JobId,
    job: Job,
}

/// The queue's state.
struct Queue {
    /// Plans shown, waiting for the operator.
    planned: HashMap<JobId, Job>,
    /// Targets with a running job, and how to cancel it.
    running: HashMap<Target, (JobId, watch::Sender<bool>)>,
    /// Confirmed jobs waiting for their target, oldest first.
    waiting: BTreeMap<Target, VecDeque<Queued>>,
    /// The task running each target's job.
    tasks: HashMap<tokio::task::Id, Target>,
}

/// Starts the executor's task; it ends when every sender of commands is
/// dropped and its jobs have ended.
pub fn spawn<B: Backend + Send + 'static>(
    executor: Executor<B>,
    events: mpsc::UnboundedSender<JobEvent>,
) -> mpsc::UnboundedSender<ExecCommand> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(serve(executor, rx, events));
    tx
}

async fn serve<B: Backend + Send + 'static>(
    executor: Executor<B>,
    mut commands: mpsc::UnboundedReceiver<ExecCommand>,
    events: mpsc::UnboundedSender<JobEvent>,
) {
    let mut queue = Queue {
        planned: HashMap::new(),
        running: HashMap::new(),
        waiting: BTreeMap::new(),
        tasks: HashMap::new(),
    };
    let mut tasks: JoinSet<Ended> = JoinSet::new();
    let mut open = true;
    while open || !tasks.is_empty() {
        tokio::select! {
            command = commands.recv(), if open => {
                if let Some(c) = command {
                    on_command(&executor, &mut queue, &mut tasks, &events, c);
                } else {
                    open = false;
                    // Nobody can confirm or cancel any more: what waits
                    // is cancelled, what runs is stopped between steps.
                    for (id, job) in queue.planned.drain() {
                        declined(&executor, &events, id, &job, "the console stopped before it was confirmed");
                    }
                    for (_, waiting) in std::mem::take(&mut queue.waiting) {
                        for q in waiting {
                            declined(&executor, &events, q.id, &q.job, "the console stopped while it waited");
                        }
                    }
                    for (_, cancel) in queue.running.values() {
                        let _ = cancel.send(true);
                    }
                }
            }
            Some(ended) = tasks.join_next() => match ended {
                Ok(Ended::Planned(id, planned)) => {
                    let event = JobEvent::Planned {
                        id,
                        plan: Box::new(planned.as_ref().map(|j| j.plan.clone()).map_err(Clone::clone)),
                    };
                    if let Ok(job) = planned {
                        queue.planned.insert(id, job);
                    }
                    let _ = events.send(event);
                }
                Ok(Ended::Ran(target)) => {
                    queue.running.remove(&target);
                    queue.tasks.retain(|_, t| *t != target);
                    let next = queue.waiting.get_mut(&target).and_then(VecDeque::pop_front);
                    if queue.waiting.get(&target).is_some_and(VecDeque::is_empty) {
                        queue.waiting.remove(&target);
                    }
                    if let Some(q) = next {
                        start(&executor, &mut queue, &mut tasks, &events, q);
                    }
                }
                // A job's task panicked or was aborted: its target is
                // freed and the job said failed (the audit log has how far
                // it got).
                Err(e) => {
                    tracing::error!("an executor task ended abnormally: {e}");
                    if let Some(target) = queue.tasks.remove(&e.id())
                        && let Some((id, _)) = queue.running.remove(&target)
                    {
                        let _ = events.send(JobEvent::Finished {
                            id,
                            outcome: JobOutcome::Failed(format!(
                                "touban's job task ended abnormally ({e}): read the target again before acting; the audit log says how far it got"
                            )),
                            at: SystemTime::now(),
                        });
                    }
                }
            },
        }
    }
}

fn on_command<B: Backend + Send + 'static>(
    executor: &Executor<B>,
    queue: &mut Queue,
    tasks: &mut JoinSet<Ended>,
    events: &mpsc::UnboundedSender<JobEvent>,
    command: ExecCommand,
) {
    match command {
        ExecCommand::Plan { id, request } => {
            let backend = Arc::clone(&executor.backend);
            let audit = Arc::clone(&executor.audit);
            let who = Arc::clone(&executor.who);
            let primary = executor.primary.contains(&request.target.region);
            tasks.spawn(async move {
                let planned = runner::prepare(backend.as_ref(), &request, primary).await;
                if let Err(e) = runner::record_plan(&audit, &who, id, &request, &planned) {
                    // A plan that cannot be written down is not shown.
                    return Ended::Planned(
                        id,
                        Err(Refusal::new(format!(
                            "cannot write the audit log: {e}; nothing is planned"
                        ))),
                    );
                }
                Ended::Planned(id, planned)
            });
        }
        ExecCommand::Confirm { id, dry_run } => {
            let Some(mut job) = queue.planned.remove(&id) else {
                tracing::warn!(job = id.0, "confirmed a job that is not planned");
                return;
            };
            job.plan.request.dry_run |= dry_run;
            let target = job.plan.request.target.clone();
            if let Some((busy, _)) = queue.running.get(&target) {
                let _ = events.send(JobEvent::Queued {
                    id,
                    title: format!("{} (after #{} on the same target)", job.plan.title, busy.0),
                    at: SystemTime::now(),
                });
                queue
                    .waiting
                    .entry(target)
                    .or_default()
                    .push_back(Queued { id, job });
            } else {
                start(executor, queue, tasks, events, Queued { id, job });
            }
        }
        ExecCommand::Decline { id } => {
            if let Some(job) = queue.planned.remove(&id) {
                declined(executor, events, id, &job, "the operator declined the plan");
            }
        }
        ExecCommand::Cancel { id } => {
            if let Some(job) = queue.planned.remove(&id) {
                declined(executor, events, id, &job, "the operator declined the plan");
                return;
            }
            for waiting in queue.waiting.values_mut() {
                if let Some(at) = waiting.iter().position(|q| q.id == id)
                    && let Some(q) = waiting.remove(at)
                {
                    declined(
                        executor,
                        events,
                        id,
                        &q.job,
                        "cancelled while it waited for its target",
                    );
                    return;
                }
            }
            if let Some((_, cancel)) = queue.running.values().find(|(running, _)| *running == id) {
                let _ = cancel.send(true);
            }
        }
    }
}

/// Records and reports a job that ends without running.
fn declined<B>(
    executor: &Executor<B>,
    events: &mpsc::UnboundedSender<JobEvent>,
    id: JobId,
    job: &Job,
    why: &str,
) {
    let record = Record::new(&executor.who, id.0, Event::Declined, &job.plan.request)
        .detail(&job.plan.title)
        .outcome(why);
    if let Err(e) = executor.audit.append(&record) {
        tracing::error!("cannot write the audit log: {e}");
    }
    let _ = events.send(JobEvent::Finished {
        id,
        outcome: JobOutcome::Cancelled,
        at: SystemTime::now(),
    });
}

/// Runs a job on its target, which is free.
fn start<B: Backend + Send + 'static>(
    executor: &Executor<B>,
    queue: &mut Queue,
    tasks: &mut JoinSet<Ended>,
    events: &mpsc::UnboundedSender<JobEvent>,
    q: Queued,
) {
    let target = q.job.plan.request.target.clone();
    let q_target = target.clone();
    let (cancel_tx, cancel) = watch::channel(false);
    queue.running.insert(target.clone(), (q.id, cancel_tx));
    let backend = Arc::clone(&executor.backend);
    let audit = Arc::clone(&executor.audit);
    let who = Arc::clone(&executor.who);
    let events = events.clone();
    let handle = tasks.spawn(async move {
        let mut cx = Context {
            audit: &audit,
            who: &who,
            events: &events,
            cancel: &cancel,
        };
        runner::run(backend.as_ref(), &q.job, q.id, &mut cx).await;
        Ended::Ran(target)
    });
    queue.tasks.insert(handle.id(), q_target);
}
