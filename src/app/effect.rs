//! Effects: what the app asks the world to do. [`super::App::handle`]
//! returns them instead of performing I/O or holding senders, so the
//! reducer stays pure and tests can assert on what it asked for; the event
//! loop hands each to whoever `cli` wired in (the detail fetcher, later the
//! executor), and answers come back as events.

use crate::model::ExecCommand;
use crate::model::cluster::ObjectRef;

/// Something the app needs done outside itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Fetch an object whole for the detail view; the answer comes back
    /// as an `Update::Detail`.
    FetchDetail(ObjectRef),
    /// Put this text on the operator's clipboard (OSC 52).
    Copy(String),
    /// Open or close a log view's streams; lines come back as
    /// `Update::LogLines`.
    Logs(crate::model::logs::LogCommand),
    /// Save a log view's lines as `STEM.log` in the state directory's
    /// `logs/`.
    SaveLog {
        /// The file's name without `.log`.
        stem: String,
        /// What it holds.
        text: String,
    },
    /// Start or stop a `kubectl port-forward`; what it does comes back as
    /// `Event::Forward`.
    Forward(crate::model::forward::ForwardCommand),
    /// Ask the executor: plan a request, run or drop a plan, cancel a job;
    /// the answers come back as `Event::Job`.
    Exec(ExecCommand),
}
