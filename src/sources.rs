//! Sources: one task per configured endpoint, each turning its protocol
//! into owned `model` values sent to the app through one channel, and
//! reporting its own health. They never touch the app's state.

pub mod alerts;
pub mod aws;
pub mod cloudwatch;
pub mod cluster;
pub mod data;
pub mod promql;

use std::time::SystemTime;

use crate::model::{SourceId, SourceState};

/// What a polling source says about itself after each poll: live at
/// each success; after a failure, stale since the last success (an error,
/// before any), reported and logged once per distinct failure.
#[derive(Debug, Default)]
pub(crate) struct PollHealth {
    last_ok: Option<SystemTime>,
    failing: Option<String>,
}

impl PollHealth {
    /// A poll succeeded: live now.
    pub(crate) fn ok(&mut self) -> SourceState {
        let now = SystemTime::now();
        self.last_ok = Some(now);
        self.failing = None;
        SourceState::Live { at: now }
    }

    /// A poll failed: the state to report, unless this failure was
    /// already reported.
    pub(crate) fn failed(&mut self, id: &SourceId, message: String) -> Option<SourceState> {
        if self.failing.as_ref() == Some(&message) {
            return None;
        }
        tracing::warn!(source = %id, "{message}");
        self.failing = Some(message.clone());
        Some(match self.last_ok {
            Some(since) => SourceState::Stale { since },
            None => SourceState::Error {
                message,
                since: SystemTime::now(),
            },
        })
    }
}
