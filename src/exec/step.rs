//! The operations a runner performs, one per planned step: what the plan
//! shows is [`PlannedStep`], what is done is [`Op`].
//!
//! [`PlannedStep`]: crate::model::plan::PlannedStep

use std::time::Duration;

use crate::model::plan::Plan;

/// One primitive operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// The deployment still wants `replicas`, as when it was planned: a
    /// change since then fails the job before anything is written.
    ExpectReplicas {
        /// The replicas planned from.
        replicas: i32,
    },
    /// Sets the deployment's `scale` subresource, if it still wants
    /// `from` (the resourceVersion last read is the write's precondition;
    /// a 409 from a change of status only is read again and retried).
    Scale {
        /// The replicas wanted.
        replicas: u32,
        /// The replicas it wanted when planned.
        from: i32,
    },
    /// Waits until the scale is done by kubectl's rollout rules; fails
    /// when they say stalled, or after `within`.
    AwaitScaled {
        /// The replicas wanted.
        replicas: u32,
        /// How long to wait at most.
        within: Duration,
    },
    /// The deployment is still at the generation it was planned from (no
    /// one changed its spec since).
    ExpectGeneration {
        /// `metadata.generation` planned from.
        generation: i64,
    },
    /// Sets the pod template's `restartedAt` annotation to `at` (the
    /// resourceVersion last read is the write's precondition).
    Restart {
        /// The annotation's value: the time of planning.
        at: String,
    },
    /// Waits until the pods of the template restarted at `at` are every
    /// replica, updated and available, and no old one runs; fails when
    /// stalled, or after `within`.
    AwaitRestarted {
        /// The annotation's value.
        at: String,
        /// How long to wait at most.
        within: Duration,
    },
    /// The HPA still has the bounds it was planned from (and exists).
    ExpectBounds {
        /// `spec.minReplicas` planned from.
        min: i32,
        /// `spec.maxReplicas` planned from.
        max: i32,
        /// The deployment it scaled when planned.
        deployment: String,
    },
    /// Sets the HPA's bounds, if it still has `from` (the resourceVersion
    /// last read is the write's precondition; a 409 is read again).
    SetBounds {
        /// The new minimum.
        min: u32,
        /// The new maximum.
        max: u32,
        /// The bounds planned from.
        from: (i32, i32),
    },
    /// Waits until the HPA's target deployment wants a count inside the
    /// bounds and is rolled out; fails when stalled, or after `within`.
    AwaitWithinBounds {
        /// The deployment the HPA scales.
        deployment: String,
        /// The minimum.
        min: u32,
        /// The maximum.
        max: u32,
        /// How long to wait at most.
        within: Duration,
    },
}

/// A plan and the operations that carry it out, step for step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// What the operator is shown and confirms.
    pub plan: Plan,
    /// One operation per step of the plan.
    pub ops: Vec<Op>,
}
