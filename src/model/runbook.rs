//! The region runbook's plan: the eight steps by which a DR region takes
//! over from the primary, each with what it would do to what, in live
//! values, and how it is done today: by an executor job the console
//! runs (its command named), by hand (what touban does not do yet, said),
//! or skipped (and why). What `touban drill` prints after the readiness.

/// How a step is carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    /// By the executor: the console command that plans it.
    Executor(String),
    /// By hand: what to do, and why touban does not do it yet.
    ByHand(String),
    /// Not needed here, and why.
    Skipped(String),
}

impl How {
    /// The word shown (`executor`, `by hand`, `skipped`).
    pub fn word(&self) -> &'static str {
        match self {
            How::Executor(_) => "executor",
            How::ByHand(_) => "by hand",
            How::Skipped(_) => "skipped",
        }
    }

    /// The command, the instruction or the reason.
    pub fn text(&self) -> &str {
        match self {
            How::Executor(s) | How::ByHand(s) | How::Skipped(s) => s,
        }
    }
}

/// One step of the runbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// From 1.
    pub n: usize,
    /// In the operator's words.
    pub title: String,
    /// What it would do, one line per object, in live values.
    pub does: Vec<String>,
    /// How it is carried out.
    pub how: Vec<How>,
}
