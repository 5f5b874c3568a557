//! The action executor: it turns an operator's [`ActionRequest`] into a
//! [`Plan`] (ordered steps, each with its precondition, the call it makes
//! and the effect it expects), and writes down everything it plans and does
//! in the audit log. Nothing here touches UI state.
//!
//! The planners of [`actions`] make steps from what they are given to read,
//! without I/O; [`runner`] reads for them ([`runner::prepare`]) and runs a
//! confirmed job's operations through a [`backend::Backend`], verifying
//! each, recording each in the [`audit`] log and reporting each as a
//! `JobEvent`; [`task`] owns the queue of jobs: one at a time per target,
//! targets side by side, each job that changes a cluster holding its
//! target's [`lease`] and leaving a [`checkpoint`] while it runs.
//!
//! [`ActionRequest`]: crate::model::action::ActionRequest
//! [`Plan`]: crate::model::plan::Plan

// What acts on production does not panic on what it reads: no indexing, no
// unwrap or expect, no panic outside tests.
#![deny(
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used
)]

pub mod actions;
pub mod apply;
pub mod audit;
pub mod backend;
pub mod checkpoint;
pub mod infra;
pub mod lease;
pub mod runner;
pub mod step;
pub mod task;
