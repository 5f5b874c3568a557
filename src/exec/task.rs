//! The executor's task: it owns the job queue. The app sends it
//! [`ExecCommand`]s (plan this request, the operator confirmed or declined
//! that plan, cancel that job); it answers with `JobEvent`s on the app's
//! channel. Reads for a plan and the jobs themselves run as tasks of their
//! own, so the queue always answers: one job at a time per target, jobs of
//! different targets side by side, a job confirmed for a busy target waits
//! its turn.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::audit::{AuditLog, Event, Record};
use super::backend::Backend;
use super::checkpoint::{Checkpoint, Checkpoints, World};
use super::lease;
use super::runner::{self, Context, Who};
use super::step::Job;
use crate::model::action::{ActionKind, Target};
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
    /// Each configured cluster, and the setting that makes touban
    /// read-only on it if one does (`--read-only`, the cluster's
    /// `read_only`, `settings.read_only`).
    pub read_only: BTreeMap<String, Option<String>>,
    /// The setting that makes any other target read-only, if one does.
    pub read_only_elsewhere: Option<String>,
    /// Where jobs leave their checkpoints while they run (none: jobs
    /// leave none, and none are found at the start).
    pub checkpoints: Option<Arc<Checkpoints>>,
    /// The coordination cluster: where jobs on targets without a cluster
    /// (silences) hold their Lease, as a target's region, cluster and
    /// namespace; none configured: such jobs run only on a typed override.
    pub coordination: Option<Target>,
    /// Each region runbook that may run (primary region, DR region): while
    /// one holds its region's Lease, changes to either region are frozen.
    pub runbooks: Vec<(String, String)>,
}

/// What a task of the executor ended with.
enum Ended {
    Planned(JobId, Box<Result<Job, Refusal>>),
    /// A job ran: how it ended, and whether it failed on a conflict
    /// before it changed anything.
    Ran(Target, Box<Queued>, JobOutcome, bool),
    /// A job that failed on a conflict, planned again from what is there
    /// now.
    Replanned(Box<Queued>, Box<Result<Job, Refusal>>),
}

/// A job that runs or waits for its target.
struct Queued {
    id: JobId,
    job: Job,
    /// Run again (converging) rather than for the first time.
    resume: bool,
    /// Found in the checkpoint a console left: its key (`session/id`, its
    /// Lease's), the world it ran in and when it first started (RFC 3339).
    found: Option<(String, World, String)>,
    /// Planned again after a conflict already (once only).
    replanned: bool,
    /// Refused before its first step (a runbook's freeze): nothing of it
    /// ran, so there is nothing to resume; it is planned again instead.
    refused: bool,
}

impl Queued {
    fn new(id: JobId, job: Job) -> Queued {
        Queued {
            id,
            job,
            resume: false,
            found: None,
            replanned: false,
            refused: false,
        }
    }

    /// Its key (`session/id`): its Lease's and its checkpoint's; a job
    /// found again keeps the one it had.
    fn key(&self, session: &str) -> String {
        self.found
            .as_ref()
            .map_or_else(|| format!("{session}/{}", self.id.0), |(k, ..)| k.clone())
    }

    /// Whether a failure or a cancel leaves it to resume: a job that
    /// changes something, not a dry run (a resumed silence looks for the
    /// one it made before making one).
    fn resumable(&self) -> bool {
        !self.job.plan.request.dry_run && !self.refused
    }
}

/// The queue's state.
struct Queue {
    /// Plans shown, waiting for the operator.
    planned: HashMap<JobId, Job>,
    /// Targets with a running job, and how to cancel it.
    running: HashMap<Target, (JobId, watch::Sender<bool>)>,
    /// Each running job's gates: a go-ahead counted.
    gates: HashMap<JobId, watch::Sender<u64>>,
    /// Confirmed jobs waiting for their target, oldest first.
    waiting: BTreeMap<Target, VecDeque<Queued>>,
    /// The task running each target's job.
    tasks: HashMap<tokio::task::Id, Target>,
    /// Jobs being planned, by the task reading for them.
    planning: HashMap<tokio::task::Id, JobId>,
    /// Jobs cancelled while being planned: their plan is declined when it
    /// comes.
    cancelled: HashSet<JobId>,
    /// Whether the console still listens: plans that come after it left
    /// are declined.
    open: bool,
    /// The switch (from, to colour) of each target's running blue-green
    /// job: what a revert planned meanwhile is checked against.
    switches: HashMap<Target, (String, String)>,
    /// The last switch started on each target (not a dry run): the job's
    /// key, its id here, and from and to which colour. A revert planned
    /// after it that switches back reverts it.
    last_switch: HashMap<Target, Switched>,
    /// Jobs that failed or were cancelled, or that a console left
    /// unfinished, for a resume.
    ended: HashMap<JobId, Queued>,
    /// Jobs asked to resume while their task was still ending.
    resume_pending: HashSet<JobId>,
    /// Jobs cancelled while their task was running or ending: one that
    /// ended otherwise than cancelled (it had reported its end before the
    /// cancel came) is forgotten, as a cancel of an ended job is.
    cancel_pending: HashSet<JobId>,
}

/// A switch a job started: its key, its id, from and to which colour.
type Switched = (String, JobId, (String, String));

/// Whether the job switches a release back to its other colour as it is.
fn is_revert(job: &Job) -> bool {
    matches!(
        job.plan.request.kind,
        ActionKind::BlueGreen { image: None, .. }
    )
}

/// Starts the executor's task; it ends when every sender of commands is
/// dropped and its jobs have ended (running ones cancelled between steps,
/// planned and waiting ones declined and recorded): await the handle to
/// let it write that down before the process exits.
pub fn spawn<B: Backend + Send + 'static>(
    executor: Executor<B>,
    events: mpsc::UnboundedSender<JobEvent>,
) -> (
    mpsc::UnboundedSender<ExecCommand>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    // Told before the console's first request, so that its ids come after.
    let found = found(&executor, &events);
    let handle = tokio::spawn(serve(executor, rx, events, found));
    (tx, handle)
}

/// The jobs consoles left unfinished, from their checkpoints: each is
/// reported as interrupted (ids from 1, before any the console asks), for
/// the operator to resume or forget.
fn found<B>(executor: &Executor<B>, events: &mpsc::UnboundedSender<JobEvent>) -> Vec<Queued> {
    let Some(store) = &executor.checkpoints else {
        return Vec::new();
    };
    let (found, unreadable) = store.load();
    for u in unreadable {
        tracing::warn!(
            "{} is not a checkpoint touban can read ({}): it is left as it is",
            u.path.display(),
            u.why
        );
    }
    let mut queued = Vec::new();
    for (n, c) in (1..).zip(found) {
        let id = JobId(n);
        let Checkpoint {
            key,
            operator,
            started,
            world,
            job,
        } = c;
        let at = SystemTime::now();
        let _ = events.send(JobEvent::Queued {
            id,
            title: job.plan.title.clone(),
            at,
        });
        let _ = events.send(JobEvent::Finished {
            id,
            outcome: JobOutcome::Failed(format!(
                "interrupted: the console of {operator} that started it at {started} (job {key}) stopped before it ended; r resumes it where it is (steps done are not done again), c forgets it"
            )),
            at,
        });
        queued.push(Queued {
            id,
            job,
            resume: true,
            found: Some((key, world, started)),
            replanned: false,
            refused: false,
        });
    }
    queued
}

async fn serve<B: Backend + Send + 'static>(
    executor: Executor<B>,
    mut commands: mpsc::UnboundedReceiver<ExecCommand>,
    events: mpsc::UnboundedSender<JobEvent>,
    found: Vec<Queued>,
) {
    let mut queue = Queue {
        planned: HashMap::new(),
        running: HashMap::new(),
        gates: HashMap::new(),
        waiting: BTreeMap::new(),
        tasks: HashMap::new(),
        planning: HashMap::new(),
        cancelled: HashSet::new(),
        open: true,
        switches: HashMap::new(),
        last_switch: HashMap::new(),
        ended: found.into_iter().map(|q| (q.id, q)).collect(),
        resume_pending: HashSet::new(),
        cancel_pending: HashSet::new(),
    };
    let mut tasks: JoinSet<Ended> = JoinSet::new();
    while queue.open || !tasks.is_empty() {
        tokio::select! {
            command = commands.recv(), if queue.open => {
                if let Some(c) = command {
                    on_command(&executor, &mut queue, &mut tasks, &events, c);
                } else {
                    close(&executor, &mut queue, &events);
                }
            }
            Some(ended) = tasks.join_next_with_id() => match ended {
                Ok((task, Ended::Planned(id, planned))) => {
                    queue.planning.remove(&task);
                    planned_one(&executor, &mut queue, &events, id, *planned);
                }
                Ok((task, Ended::Replanned(q, planned))) => {
                    queue.planning.remove(&task);
                    replanned(&executor, &mut queue, &mut tasks, &events, *q, *planned);
                }
                Ok((task, Ended::Ran(target, q, outcome, conflicted))) => {
                    queue.tasks.remove(&task);
                    let id = q.id;
                    if conflicted
                        && matches!(outcome, JobOutcome::Failed(_))
                        && !q.replanned
                        && queue.open
                    {
                        // Planned from what changed since: re-read and planned
                        // again; asked again if the plan differs.
                        queue.resume_pending.remove(&id);
                        forget_checkpoint(&executor, &q);
                        replan(&executor, &mut queue, &mut tasks, *q);
                        free(&executor, &mut queue, &mut tasks, &events, &target);
                        continue;
                    }
                    // A job that failed or was cancelled can be resumed (its
                    // checkpoint kept for the next console); one that
                    // succeeded leaves nothing to find.
                    if outcome == JobOutcome::Succeeded {
                        forget_reverted(&executor, &mut queue, &events, &q);
                    }
                    let forget = queue.cancel_pending.remove(&id)
                        && !matches!(outcome, JobOutcome::Cancelled);
                    if matches!(outcome, JobOutcome::Failed(_)) && forget {
                        forget_checkpoint(&executor, &q);
                        declined(
                            &executor,
                            &events,
                            id,
                            &q.job,
                            "the operator forgot it unfinished: it is not offered for resume any more",
                        );
                    } else if matches!(outcome, JobOutcome::Failed(_) | JobOutcome::Cancelled)
                        && q.resumable()
                    {
                        queue.ended.insert(q.id, *q);
                    } else {
                        forget_checkpoint(&executor, &q);
                    }
                    free(&executor, &mut queue, &mut tasks, &events, &target);
                    if queue.resume_pending.remove(&id) {
                        resume(&executor, &mut queue, &mut tasks, &events, id);
                    }
                }
                // A task panicked or was aborted: a plan's answer is a
                // refusal; a job is said failed (the audit log has how far
                // it got) and its target freed for the next.
                Err(e) => {
                    tracing::error!("an executor task ended abnormally: {e}");
                    if let Some(id) = queue.planning.remove(&e.id()) {
                        let refusal = Refusal::new(format!(
                            "touban's planning task ended abnormally ({e}): nothing is planned; see the log"
                        ));
                        planned_one(&executor, &mut queue, &events, id, Err(refusal));
                    }
                    if let Some(target) = queue.tasks.remove(&e.id()) {
                        if let Some((id, _)) = queue.running.get(&target) {
                            let _ = events.send(JobEvent::Finished {
                                id: *id,
                                outcome: JobOutcome::Failed(format!(
                                    "touban's job task ended abnormally ({e}): read the target again before acting; the audit log says how far it got"
                                )),
                                at: SystemTime::now(),
                            });
                        }
                        free(&executor, &mut queue, &mut tasks, &events, &target);
                    }
                }
            },
        }
    }
}

/// The console left: nobody can confirm or cancel any more. What waits is
/// declined and recorded, what runs is cancelled before its next step.
fn close<B>(executor: &Executor<B>, queue: &mut Queue, events: &mpsc::UnboundedSender<JobEvent>) {
    queue.open = false;
    for (id, job) in queue.planned.drain() {
        declined(
            executor,
            events,
            id,
            &job,
            "the console stopped before it was confirmed",
        );
    }
    for (_, waiting) in std::mem::take(&mut queue.waiting) {
        for q in waiting {
            declined(
                executor,
                events,
                q.id,
                &q.job,
                "the console stopped while it waited",
            );
        }
    }
    for (_, cancel) in queue.running.values() {
        let _ = cancel.send(true);
    }
}

/// A plan (or refusal) came: shown, unless its job was cancelled while
/// being planned or the console has left, then declined.
fn planned_one<B>(
    executor: &Executor<B>,
    queue: &mut Queue,
    events: &mpsc::UnboundedSender<JobEvent>,
    id: JobId,
    planned: Result<Job, Refusal>,
) {
    let cancelled = queue.cancelled.remove(&id);
    match planned {
        Ok(job) if cancelled || !queue.open => {
            let why = if cancelled {
                "cancelled while it was being planned"
            } else {
                "the console stopped before it was confirmed"
            };
            declined(executor, events, id, &job, why);
        }
        Ok(job)
            if is_revert(&job)
                && queue
                    .switches
                    .get(&job.plan.request.target)
                    .is_some_and(|running| job.switch().as_ref() == Some(running)) =>
        {
            // Planned while the deploy it would revert has not switched
            // yet: it would make the very switch the deploy is about to.
            let (from, _) = job.switch().unwrap_or_default();
            let refusal = Refusal::instead(
                format!(
                    "the deploy running on {} has not switched its traffic yet: there is nothing to revert",
                    job.plan.request.target.name
                ),
                format!("cancel the deploy (c in the Jobs pane): {from} keeps the traffic"),
            );
            let _ = events.send(JobEvent::Planned {
                id,
                plan: Box::new(Err(refusal)),
            });
        }
        Ok(job) => {
            let _ = events.send(JobEvent::Planned {
                id,
                plan: Box::new(Ok(job.plan.clone())),
            });
            queue.planned.insert(id, job);
        }
        Err(refusal) => {
            let _ = events.send(JobEvent::Planned {
                id,
                plan: Box::new(Err(refusal)),
            });
        }
    }
}

/// A target's job ended: the next one waiting for it starts, if any (and
/// the console still listens).
fn free<B: Backend + Send + 'static>(
    executor: &Executor<B>,
    queue: &mut Queue,
    tasks: &mut JoinSet<Ended>,
    events: &mpsc::UnboundedSender<JobEvent>,
    target: &Target,
) {
    if let Some((id, _)) = queue.running.remove(target) {
        queue.gates.remove(&id);
    }
    queue.switches.remove(target);
    let next = queue.waiting.get_mut(target).and_then(VecDeque::pop_front);
    if queue.waiting.get(target).is_some_and(VecDeque::is_empty) {
        queue.waiting.remove(target);
    }
    if let Some(q) = next {
        start(executor, queue, tasks, events, q);
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
        ExecCommand::Plan { id, .. } if queue.ended.contains_key(&id) => {
            // The id of a job found at the start, asked before the console
            // heard of it.
            let refusal = Refusal::new(format!(
                "job #{} is an unfinished job found at the start: ask again",
                id.0
            ));
            let _ = events.send(JobEvent::Planned {
                id,
                plan: Box::new(Err(refusal)),
            });
        }
        ExecCommand::Plan { id, mut request } => {
            // A silence is created by the operator this console runs as,
            // whatever the request says.
            if let ActionKind::Silence { created_by, .. } = &mut request.kind {
                created_by.clone_from(&executor.who.operator);
            }
            let backend = Arc::clone(&executor.backend);
            let audit = Arc::clone(&executor.audit);
            let who = Arc::clone(&executor.who);
            let primary = executor.primary.contains(&request.target.region);
            let last = queue.last_switch.get(&request.target).cloned();
            let coordination = executor.coordination.clone();
            let runbooks = executor.runbooks.clone();
            let read_only = match executor.read_only.get(&request.target.cluster) {
                Some(by) => by.as_ref(),
                None => executor.read_only_elsewhere.as_ref(),
            };
            if let Some(why) = read_only {
                // The app refuses first; this holds whatever sends.
                let refusal = Refusal::new(format!(
                    "touban is read-only for {} ({why} says so); nothing was planned",
                    request.target.cluster
                ));
                let planned = Err(refusal);
                if let Err(e) =
                    runner::record_plan(&executor.audit, &executor.who, id, &request, &planned)
                {
                    tracing::error!("cannot write the audit log: {e}");
                }
                planned_one(executor, queue, events, id, planned);
                return;
            }
            let handle = tasks.spawn(async move {
                let frozen =
                    frozen(backend.as_ref(), &request, &runbooks, coordination.as_ref()).await;
                let mut planned = match frozen {
                    Some(why) => Err(Refusal::new(format!(
                        "{why}; nothing was planned; plan again when it ends"
                    ))),
                    None => runner::prepare(backend.as_ref(), &request, primary).await,
                };
                if let Ok(job) = &mut planned {
                    link_revert(job, last);
                    coordinate(backend.as_ref(), job, coordination.as_ref()).await;
                }
                if let Err(e) = runner::record_plan(&audit, &who, id, &request, &planned) {
                    // A plan that cannot be written down is not shown.
                    return Ended::Planned(
                        id,
                        Box::new(Err(Refusal::new(format!(
                            "cannot write the audit log: {e}; nothing is planned"
                        )))),
                    );
                }
                Ended::Planned(id, Box::new(planned))
            });
            queue.planning.insert(handle.id(), id);
        }
        ExecCommand::Confirm {
            id,
            dry_run,
            reason,
        } => confirmed(executor, queue, tasks, events, (id, dry_run, reason)),
        ExecCommand::Resume { id } => resume(executor, queue, tasks, events, id),
        ExecCommand::Decline { id } => {
            if let Some(job) = queue.planned.remove(&id) {
                declined(executor, events, id, &job, "the operator declined the plan");
            }
        }
        ExecCommand::Cancel { id } => cancel(executor, queue, events, id),
        ExecCommand::Proceed { id } => {
            if let Some(gates) = queue.gates.get(&id) {
                gates.send_modify(|n| *n += 1);
            }
        }
    }
}

/// Cancels a job: one being planned is declined when its plan comes, a
/// planned or waiting one is declined, a running one stops before its
/// next step; one that ended unfinished is forgotten.
fn cancel<B>(
    executor: &Executor<B>,
    queue: &mut Queue,
    events: &mpsc::UnboundedSender<JobEvent>,
    id: JobId,
) {
    if queue.planning.values().any(|p| *p == id) {
        queue.cancelled.insert(id);
        return;
    }
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
            // A resumed one is still unfinished: it stays to resume
            // (or to forget with a second cancel).
            if q.resume {
                queue.ended.insert(id, q);
            }
            return;
        }
    }
    if let Some((_, cancel)) = queue.running.values().find(|(running, _)| *running == id) {
        let _ = cancel.send(true);
        // It may have ended already, its end not yet taken in.
        queue.cancel_pending.insert(id);
        return;
    }
    // Cancelling a job that ended unfinished forgets it: it is no
    // longer offered for resume, here or at the next start.
    if let Some(q) = queue.ended.remove(&id) {
        forget_checkpoint(executor, &q);
        declined(
            executor,
            events,
            id,
            &q.job,
            "the operator forgot it unfinished: it is not offered for resume any more",
        );
    }
}

/// A plan confirmed: it runs if its target is free, else waits (a revert
/// cancelling the deploy it reverts).
fn confirmed<B: Backend + Send + 'static>(
    executor: &Executor<B>,
    queue: &mut Queue,
    tasks: &mut JoinSet<Ended>,
    events: &mpsc::UnboundedSender<JobEvent>,
    (id, dry_run, reason): (JobId, bool, String),
) {
    let Some(mut job) = queue.planned.remove(&id) else {
        tracing::warn!(job = id.0, "confirmed a job that is not planned");
        return;
    };
    job.plan.request.dry_run |= dry_run;
    job.plan.reason = Some(reason);
    let target = job.plan.request.target.clone();
    if let Some((busy, cancel)) = queue.running.get(&target) {
        // A revert takes over from the deploy it reverts: that one is
        // cancelled (in its hold, the old colour still scaled).
        let takes_over =
            is_revert(&job) && !job.plan.request.dry_run && queue.switches.contains_key(&target);
        if takes_over {
            let _ = cancel.send(true);
        }
        let after = if takes_over {
            format!("after #{}, which it cancels", busy.0)
        } else {
            format!("after #{} on the same target", busy.0)
        };
        let _ = events.send(JobEvent::Queued {
            id,
            title: format!("{} ({after})", job.plan.title),
            at: SystemTime::now(),
        });
        queue
            .waiting
            .entry(target)
            .or_default()
            .push_back(Queued::new(id, job));
    } else {
        start(executor, queue, tasks, events, Queued::new(id, job));
    }
}

/// Runs again a job that failed or was cancelled, after any job on its
/// target.
fn resume<B: Backend + Send + 'static>(
    executor: &Executor<B>,
    queue: &mut Queue,
    tasks: &mut JoinSet<Ended>,
    events: &mpsc::UnboundedSender<JobEvent>,
    id: JobId,
) {
    // Asked between its end and its task's: resumed once the task is
    // done.
    if queue.running.values().any(|(running, _)| *running == id) {
        queue.resume_pending.insert(id);
        return;
    }
    let Some(mut q) = queue.ended.remove(&id) else {
        let _ = events.send(JobEvent::Finished {
            id,
            outcome: JobOutcome::Refused(
                "only a job that failed, was cancelled or was interrupted can be resumed".into(),
            ),
            at: SystemTime::now(),
        });
        return;
    };
    q.resume = true;
    let target = q.job.plan.request.target.clone();
    if queue.running.contains_key(&target) {
        queue.waiting.entry(target).or_default().push_back(q);
    } else {
        start(executor, queue, tasks, events, q);
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
        .reverts(job.plan.reverts.as_deref())
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
    let (gates, proceed) = watch::channel(0_u64);
    queue.gates.insert(q.id, gates);
    if let Some(switch) = q.job.switch() {
        if !q.job.plan.request.dry_run {
            let key = q.key(&executor.who.session);
            queue
                .last_switch
                .insert(target.clone(), (key, q.id, switch.clone()));
        }
        queue.switches.insert(target.clone(), switch);
    }
    let backend = Arc::clone(&executor.backend);
    let audit = Arc::clone(&executor.audit);
    let who = Arc::clone(&executor.who);
    let store = executor.checkpoints.clone().filter(|_| q.resumable());
    let events = events.clone();
    let (runbooks, coordination) = (executor.runbooks.clone(), executor.coordination.clone());
    let handle = tasks.spawn(async move {
        let mut q = q;
        // A runbook may have taken its region since this job was planned.
        let request = &q.job.plan.request;
        if let Some(why) = frozen(backend.as_ref(), request, &runbooks, coordination.as_ref()).await
        {
            let why = if q.resume {
                format!(
                    "{why}; the job was not resumed (what its earlier steps did stays as it is); resume it when the runbook ends"
                )
            } else {
                format!(
                    "{why}; the job did not start and nothing was changed; plan it again when the runbook ends"
                )
            };
            let outcome = refuse_start(&audit, &who, &events, &q, &why);
            q.refused = !q.resume;
            return Ended::Ran(target, Box::new(q), outcome, false);
        }
        let key = q.key(&who.session);
        // The checkpoint, locked while the job runs.
        let mut _held = None;
        if let Some(store) = &store {
            match checkpoint(backend.as_ref(), store, &q, &key, &who).await {
                Ok(held) => _held = Some(held),
                Err(why) => {
                    let outcome = refuse_start(&audit, &who, &events, &q, &why);
                    return Ended::Ran(target, Box::new(q), outcome, false);
                }
            }
        }
        let mut cx = Context {
            audit: &audit,
            who: &who,
            events: &events,
            cancel: &cancel,
            proceed: Some(&proceed),
            key: Some(key),
            began: q.found.as_ref().map(|(.., started)| started.clone()),
            conflicted: false,
        };
        let outcome = if q.resume {
            runner::resume(backend.as_ref(), &q.job, q.id, &mut cx).await
        } else {
            runner::run(backend.as_ref(), &q.job, q.id, &mut cx).await
        };
        let conflicted = cx.conflicted;
        Ended::Ran(target, Box::new(q), outcome, conflicted)
    });
    queue.tasks.insert(handle.id(), q_target);
}

/// Why a change in a cluster is refused while a region runbook runs on
/// its region, if it is: the runbook's Lease, read in the coordination
/// cluster, held by a job whose console still renews it. Databases,
/// caches and pools of either region are frozen too (the runbook's parts
/// hold no Lease of their own); silences are not: an incident needs them.
/// A Lease that cannot be read freezes nothing: the coordination cluster
/// down must not stop the other region's console. Checked when a job is
/// planned and again when it starts (a runbook may have begun between).
async fn frozen<B: Backend>(
    backend: &B,
    request: &crate::model::action::ActionRequest,
    runbooks: &[(String, String)],
    coordination: Option<&Target>,
) -> Option<String> {
    use crate::model::action::ObjectKind;
    let t = &request.target;
    if request.dry_run || matches!(t.kind, ObjectKind::Silence | ObjectKind::Region) {
        return None;
    }
    let c = coordination?;
    let now = jiff::Timestamp::now();
    for (from, to) in runbooks
        .iter()
        .filter(|(from, to)| *from == t.region || *to == t.region)
    {
        let at = Target {
            kind: ObjectKind::Region,
            name: format!("{from}.{to}"),
            ..c.clone()
        };
        if let Ok(Some((h, _))) = backend.lease(&at).await
            && !h.expired(now)
        {
            return Some(format!(
                "changes to {} are frozen while the region runbook runs: {} runs \"{}\" (job {}, step {})",
                t.region, h.identity, h.action, h.job, h.step
            ));
        }
    }
    None
}

/// A job on a target without a cluster of its own (a silence) holds its
/// Lease in the coordination cluster: planned there if that cluster
/// answers and the credentials may take Leases in it; else the plan says
/// why and asks for `override` typed (the job then runs without a Lease,
/// and every record of it says so).
async fn coordinate<B: Backend>(backend: &B, job: &mut Job, coordination: Option<&Target>) {
    let t = &job.plan.request.target;
    if job.plan.request.dry_run || lease::applies(t) {
        return;
    }
    let Some(c) = coordination else {
        job.plan.lease_override = Some(
            "no coordination cluster is configured ([coordination] cluster, or a cluster in the DR region): this job would hold no Lease, so another console could act on the same target at once".to_owned(),
        );
        job.plan.confirm_text = Some("override".to_owned());
        return;
    };
    let at = Target {
        kind: t.kind,
        name: format!("{}.{}", t.cluster, t.name),
        ..c.clone()
    };
    let mut refused = match backend.lease(&at).await {
        Ok(_) => None,
        Err(f) => Some(f.what),
    };
    for access in lease::access() {
        if refused.is_some() {
            break;
        }
        refused = match backend.may(&at, &access).await {
            Ok(None) => None,
            Ok(Some(why)) => Some(format!("the credentials may not {access} ({why})")),
            Err(f) => Some(f.what),
        };
    }
    if let Some(why) = refused {
        job.plan.lease_override = Some(format!(
            "the coordination cluster {} does not answer for its Leases in {} ({why}): this job would hold no Lease, so another console could act on the same target at once",
            c.cluster, c.namespace
        ));
        job.plan.confirm_text = Some("override".to_owned());
    }
    job.plan.lease = Some(at);
}

/// Plans again a job that failed on a conflict before it changed
/// anything: from what is there now.
fn replan<B: Backend + Send + 'static>(
    executor: &Executor<B>,
    queue: &mut Queue,
    tasks: &mut JoinSet<Ended>,
    mut q: Queued,
) {
    q.replanned = true;
    let backend = Arc::clone(&executor.backend);
    let audit = Arc::clone(&executor.audit);
    let who = Arc::clone(&executor.who);
    let primary = executor.primary.contains(&q.job.plan.request.target.region);
    let id = q.id;
    let handle = tasks.spawn(async move {
        let mut request = q.job.plan.request.clone();
        request.dry_run = false;
        let planned = runner::prepare(backend.as_ref(), &request, primary).await;
        let planned = match runner::record_plan(&audit, &who, q.id, &request, &planned) {
            Ok(()) => planned,
            Err(e) => Err(Refusal::new(format!(
                "cannot write the audit log: {e}; nothing is planned"
            ))),
        };
        Ended::Replanned(Box::new(q), Box::new(planned))
    });
    queue.planning.insert(handle.id(), id);
}

/// The plan made again after a conflict: the same steps on the same
/// values run again at once (what conflicted was not what the plan
/// rests on); a plan that differs is shown to confirm again (never run
/// silently); a refusal is shown as one.
fn replanned<B: Backend + Send + 'static>(
    executor: &Executor<B>,
    queue: &mut Queue,
    tasks: &mut JoinSet<Ended>,
    events: &mpsc::UnboundedSender<JobEvent>,
    q: Queued,
    planned: Result<Job, Refusal>,
) {
    let id = q.id;
    let cancelled = queue.cancelled.remove(&id);
    if cancelled || !queue.open {
        let why = if cancelled {
            "cancelled while it was planned again"
        } else {
            "the console stopped before it was planned again"
        };
        declined(executor, events, id, &q.job, why);
        return;
    }
    match planned {
        Ok(mut job) if job.ops == q.job.ops && job.plan.steps == q.job.plan.steps => {
            job.plan.reason.clone_from(&q.job.plan.reason);
            job.plan.reverts.clone_from(&q.job.plan.reverts);
            let again = Queued { job, ..q };
            let target = again.job.plan.request.target.clone();
            if queue.running.contains_key(&target) {
                queue.waiting.entry(target).or_default().push_back(again);
            } else {
                start(executor, queue, tasks, events, again);
            }
        }
        Ok(mut job) => {
            if is_revert(&job) {
                job.plan.reverts.clone_from(&q.job.plan.reverts);
            }
            job.plan.title = format!(
                "{} (planned again: what it was planned from changed; confirm again)",
                job.plan.title
            );
            planned_one(executor, queue, events, id, Ok(job));
        }
        Err(refusal) => planned_one(executor, queue, events, id, Err(refusal)),
    }
}

/// Before a job that changes a cluster runs: its target's world read, the
/// world of a job found in a checkpoint checked against it (never resumed
/// against another), and its checkpoint written. Why not, if not.
async fn checkpoint<B: Backend>(
    backend: &B,
    store: &Checkpoints,
    q: &Queued,
    key: &str,
    who: &Who,
) -> Result<super::checkpoint::Held, String> {
    let t = &q.job.plan.request.target;
    let world = if lease::applies(t) {
        backend.world(t).await.map_err(|f| {
            format!(
                "cannot read which cluster {} is: {}; nothing was done",
                t.cluster, f.what
            )
        })?
    } else {
        // A target without a cluster (a silence): its world is the
        // source it is acted on through, by name.
        World {
            server: Some(format!("alert source {}", t.cluster)),
            uid: None,
        }
    };
    if let Some((_, was, _)) = &q.found
        && *was != world
    {
        return Err(format!(
            "this job was interrupted on {was}, but {} is now {world}: a checkpoint of another world is never resumed here; nothing was done (c forgets it)",
            t.cluster
        ));
    }
    // A resumed job keeps its first start: its RTO counts from there.
    let started = q
        .found
        .as_ref()
        .map_or_else(|| jiff::Timestamp::now().to_string(), |(.., s)| s.clone());
    // The reason as the audit log has it: masked (a resumed silence's
    // comment is the masked reason either way).
    let mut job = q.job.clone();
    let mask = crate::config::secret::mask_line;
    job.plan.reason = job.plan.reason.as_deref().map(mask);
    job.plan.title = mask(&job.plan.title);
    job.plan.changes = job.plan.changes.iter().map(|c| mask(c)).collect();
    let checkpoint = Checkpoint {
        key: key.to_owned(),
        operator: who.operator.clone(),
        started,
        world,
        job,
    };
    store.save(&checkpoint).map_err(|e| {
        format!(
            "cannot write the job's checkpoint in {}: {e}; nothing was done",
            store.dir().display()
        )
    })
}

/// A job that may not start: recorded and reported as failed (it stays to
/// resume or forget).
fn refuse_start(
    audit: &AuditLog,
    who: &Who,
    events: &mpsc::UnboundedSender<JobEvent>,
    q: &Queued,
    why: &str,
) -> JobOutcome {
    let record = Record::new(who, q.id.0, Event::Finished, &q.job.plan.request)
        .detail(&q.job.plan.title)
        .outcome(&format!("failed: {why}"));
    if let Err(e) = audit.append(&record) {
        tracing::error!("cannot write the audit log: {e}");
    }
    let outcome = JobOutcome::Failed(why.to_owned());
    let _ = events.send(JobEvent::Finished {
        id: q.id,
        outcome: outcome.clone(),
        at: SystemTime::now(),
    });
    outcome
}

/// A revert that succeeded ends what it reverted: the job it names, if it
/// is one left to resume (interrupted, failed, cancelled), is forgotten,
/// so that no resume later deploys again what was just reverted.
fn forget_reverted<B>(
    executor: &Executor<B>,
    queue: &mut Queue,
    events: &mpsc::UnboundedSender<JobEvent>,
    q: &Queued,
) {
    let Some(reverted) = &q.job.plan.reverts else {
        return;
    };
    let session = &executor.who.session;
    let ids: Vec<JobId> = queue
        .ended
        .iter()
        .filter(|(_, e)| e.key(session) == *reverted)
        .map(|(id, _)| *id)
        .collect();
    for id in ids {
        if let Some(e) = queue.ended.remove(&id) {
            forget_checkpoint(executor, &e);
            declined(
                executor,
                events,
                id,
                &e.job,
                &format!(
                    "reverted by job #{}: not offered for resume any more",
                    q.id.0
                ),
            );
        }
    }
}

/// Removes the checkpoint of a job that ended for good (or was forgotten).
fn forget_checkpoint<B>(executor: &Executor<B>, q: &Queued) {
    let Some(store) = &executor.checkpoints else {
        return;
    };
    let key = q.key(&executor.who.session);
    if let Err(e) = store.remove(&key) {
        tracing::warn!("cannot remove the checkpoint of job {key}: {e}");
    }
}

/// A revert that switches back the last switch this console started on
/// its target reverts that job: its plan names it (the audit records too).
fn link_revert(job: &mut Job, last: Option<Switched>) {
    let Some((key, id, (from, to))) = last else {
        return;
    };
    if !is_revert(job) || job.plan.reverts.is_some() {
        return;
    }
    if job.switch() == Some((to, from)) {
        job.plan.title = format!("{} (reverts job #{})", job.plan.title, id.0);
        job.plan.reverts = Some(key);
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::exec::step::{Op, ReleaseOp};
    use crate::model::action::ActionRequest;
    use crate::model::action::ObjectKind;
    use crate::model::plan::Plan;

    fn switch_job(image: Option<&str>, from: &str, to: &str) -> Job {
        let request = ActionRequest {
            kind: ActionKind::BlueGreen {
                image: image.map(str::to_owned),
                scale_down_delay: std::time::Duration::from_secs(300),
            },
            target: Target {
                region: "tokyo".into(),
                cluster: "eks-tokyo".into(),
                namespace: "prod".into(),
                kind: ObjectKind::Release,
                name: "web".into(),
            },
            dry_run: false,
        };
        Job {
            plan: Plan {
                request,
                title: format!("revert web: traffic {from} → {to}"),
                steps: Vec::new(),
                confirm_text: None,
                undo: None,
                reason: None,
                changes: Vec::new(),
                dry_run: None,
                undo_request: None,
                reverts: None,
                lease: None,
                lease_override: None,
            },
            ops: vec![Op::Release(ReleaseOp::Switch {
                services: vec!["web-svc".into()],
                from: from.into(),
                to: to.into(),
                deployment: format!("web-{to}"),
            })],
            access: Vec::new(),
        }
    }

    #[test]
    fn a_revert_names_the_switch_it_reverts() {
        let deployed: Switched = ("s1/3".into(), JobId(3), ("blue".into(), "green".into()));
        let mut revert = switch_job(None, "green", "blue");
        link_revert(&mut revert, Some(deployed.clone()));
        assert_eq!(revert.plan.reverts.as_deref(), Some("s1/3"));
        assert!(
            revert.plan.title.ends_with("(reverts job #3)"),
            "{}",
            revert.plan.title
        );

        // Not the way back, or not a revert: no link.
        let mut again = switch_job(None, "blue", "green");
        link_revert(&mut again, Some(deployed.clone()));
        assert_eq!(again.plan.reverts, None);
        let mut deploy = switch_job(Some("web:2"), "green", "blue");
        link_revert(&mut deploy, Some(deployed));
        assert_eq!(deploy.plan.reverts, None);
        let mut alone = switch_job(None, "green", "blue");
        link_revert(&mut alone, None);
        assert_eq!(alone.plan.reverts, None);
    }
}
