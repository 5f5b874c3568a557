//! Events the executor sends about its jobs. The app folds them into the
//! Jobs pane; the executor itself lives in `exec`.

use std::time::SystemTime;

use super::action::ActionRequest;
use super::plan::{Plan, Refusal};

/// A job's id, unique within one run of the console.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub u64);

/// How a job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    /// Every step succeeded.
    Succeeded,
    /// A step failed; the message says which and why.
    Failed(String),
    /// The operator cancelled it: before confirming, while it waited for
    /// its target, or between steps.
    Cancelled,
    /// No plan was made: the request was refused, and why.
    Refused(String),
}

/// Progress of one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobEvent {
    /// The executor read the target and made a plan for the operator to
    /// confirm, or refused to.
    Planned {
        /// Its id.
        id: JobId,
        /// The plan, or why there is none.
        plan: Box<Result<Plan, Refusal>>,
    },
    /// The job entered the queue (confirmed; it may wait for another job
    /// on the same target).
    Queued {
        /// Its id.
        id: JobId,
        /// What it does, in the operator's words ("scale backend-api-blue to 6").
        title: String,
        /// When it was queued.
        at: SystemTime,
    },
    /// The job started a step.
    Step {
        /// Its id.
        id: JobId,
        /// The step, in the operator's words.
        step: String,
        /// Step number from 1.
        index: usize,
        /// Number of steps in the plan.
        of: usize,
    },
    /// A step ended: what it saw and did.
    StepEnded {
        /// Its id.
        id: JobId,
        /// Step number from 1.
        index: usize,
        /// Whether it did what it should.
        ok: bool,
        /// What it saw and did, or why it failed.
        said: String,
    },
    /// The job ended.
    Finished {
        /// Its id.
        id: JobId,
        /// How it ended.
        outcome: JobOutcome,
        /// When it ended.
        at: SystemTime,
    },
}

impl JobEvent {
    /// The job this event is about.
    pub fn id(&self) -> JobId {
        match self {
            JobEvent::Planned { id, .. }
            | JobEvent::Queued { id, .. }
            | JobEvent::Step { id, .. }
            | JobEvent::StepEnded { id, .. }
            | JobEvent::Finished { id, .. } => *id,
        }
    }
}

/// What the app asks of the executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecCommand {
    /// Read the target and plan the request; the answer is a
    /// `JobEvent::Planned`.
    Plan {
        /// The job's id, chosen by the app.
        id: JobId,
        /// What is asked.
        request: ActionRequest,
    },
    /// The operator confirmed the plan: run it (after any job already on
    /// its target).
    Confirm {
        /// Which job.
        id: JobId,
        /// Run it as a server-side dry run: every write checked, nothing
        /// changed.
        dry_run: bool,
        /// Why, in the operator's words: in every audit record of the job
        /// and in its Events.
        reason: String,
    },
    /// The operator declined the plan.
    Decline {
        /// Which job.
        id: JobId,
    },
    /// Cancel the job: before it starts, or between its steps. A job that
    /// ended unfinished (failed, cancelled, interrupted) is forgotten: it is
    /// no longer offered for resume, and its checkpoint goes.
    Cancel {
        /// Which job.
        id: JobId,
    },
    /// Let a job waiting for the operator at a gate go on.
    Proceed {
        /// Which job.
        id: JobId,
    },
    /// Run again a job that failed, was cancelled, or was found in the
    /// checkpoint of a console that stopped, from its first step: each
    /// step converges (what is done already is not done again).
    Resume {
        /// Which job.
        id: JobId,
    },
}
