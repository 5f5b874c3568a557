//! A plan: what the executor will do for a request, step by step, as the
//! operator is shown it before confirming. Planners make plans without I/O
//! from what they were given to read; a plan that cannot be made safely is
//! a refusal that says why and what to do instead.

use serde::{Deserialize, Serialize};

use super::action::ActionRequest;

/// What a step is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepKind {
    /// Reads and checks a precondition; changes nothing.
    Check,
    /// Changes the target.
    Mutate,
    /// Waits until the change has the effect it should, or fails.
    Verify,
}

/// What a gate step of a runbook calls: nothing but the operator's
/// go-ahead. A runbook's undo is offered only before its first gate.
pub const GATE_CALL: &str = "none: the operator's go-ahead (proceed-job, p in the Jobs pane)";

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStep {
    /// What it does, in the operator's words.
    pub title: String,
    /// What it is for.
    pub kind: StepKind,
    /// What must hold before it runs.
    pub precondition: String,
    /// The call it makes (`PATCH …/deployments/web-frontend-blue/scale`).
    pub call: String,
    /// The effect it expects.
    pub expect: String,
}

impl PlannedStep {
    /// A step: what it does, what for, what must hold, the call, the
    /// effect expected.
    pub fn new(
        title: String,
        kind: StepKind,
        precondition: &str,
        call: &str,
        expect: &str,
    ) -> PlannedStep {
        PlannedStep {
            title,
            kind,
            precondition: precondition.to_owned(),
            call: call.to_owned(),
            expect: expect.to_owned(),
        }
    }
}

/// What the executor will do, for the operator to confirm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The request it answers.
    pub request: ActionRequest,
    /// In the operator's words: "scale web-frontend-blue from 4 to 10".
    pub title: String,
    /// The steps, in order.
    pub steps: Vec<PlannedStep>,
    /// A name the operator must type to confirm (scaling to zero or
    /// switching traffic in a primary region), if any.
    pub confirm_text: Option<String>,
    /// What undoes it, if anything does ("scale back to 4").
    pub undo: Option<String>,
    /// Why, as the operator gave it when confirming.
    pub reason: Option<String>,
    /// The fields it changes, `path: before → after`.
    pub changes: Vec<String>,
    /// What the API server said of every change in a server-side dry run
    /// (`dryRun=All`) made while planning, once made.
    pub dry_run: Option<String>,
    /// The request that undoes it, offered if the job fails at its
    /// verification (a rollout that stalls: back to the revision before).
    #[serde(skip)]
    pub undo_request: Option<Box<ActionRequest>>,
    /// The job it reverts (`session/id`), if it is a revert: its audit
    /// records name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverts: Option<String>,
    /// Where its Lease is held when not beside its target: a target
    /// without a cluster of its own (a silence) in the coordination
    /// cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<super::action::Target>,
    /// Why it would run without a Lease (no coordination cluster
    /// answers): then it runs only on the operator's typed override, and
    /// every record of it says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_override: Option<String>,
}

/// Why a request gets no plan, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{why}")]
pub struct Refusal {
    /// What is wrong, naming the object.
    pub why: String,
    /// What the operator can do instead, if anything.
    pub instead: Option<String>,
    /// That, as a request the console can plan at once, if it is one.
    pub offer: Option<Box<ActionRequest>>,
}

impl Refusal {
    /// A refusal with nothing to offer instead.
    pub fn new(why: impl Into<String>) -> Refusal {
        Refusal {
            why: why.into(),
            instead: None,
            offer: None,
        }
    }

    /// A refusal that offers something else.
    pub fn instead(why: impl Into<String>, instead: impl Into<String>) -> Refusal {
        Refusal {
            why: why.into(),
            instead: Some(instead.into()),
            offer: None,
        }
    }

    /// The same refusal, offering `request` to plan instead.
    #[must_use]
    pub fn offering(mut self, request: ActionRequest) -> Refusal {
        self.offer = Some(Box::new(request));
        self
    }
}
