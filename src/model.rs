//! Domain types and pure logic: panes, keys, commands, the health of each
//! source, and the owned messages that sources and the executor send to the
//! app. Nothing here knows about terminals, files or the network.

pub mod action;
pub mod alert;
pub mod cluster;
pub mod command;
pub mod data;
pub mod forward;
pub mod infra;
pub mod job;
pub mod key;
pub mod logs;
pub mod manifest;
pub mod pane;
pub mod plan;
pub mod readiness;
pub mod rollout;
pub mod runbook;
pub mod snapshot;
pub mod source;
pub mod traffic;
pub mod verdict;

pub use command::Command;
pub use job::{ExecCommand, JobEvent, JobId, JobOutcome};
pub use key::{Chord, Key, KeyCode, Modifiers};
pub use pane::Pane;
pub use source::{SourceId, SourceKind, SourceState, Update};
