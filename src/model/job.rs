//! Events the executor sends about its jobs. The app folds them into the
//! Jobs pane; the executor itself lives in `exec`.

use std::time::SystemTime;

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
    /// The operator cancelled it between steps.
    Cancelled,
}

/// Progress of one job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobEvent {
    /// The job entered the queue.
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
            JobEvent::Queued { id, .. }
            | JobEvent::Step { id, .. }
            | JobEvent::Finished { id, .. } => *id,
        }
    }
}
