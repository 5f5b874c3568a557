//! The jobs of this session, as the Jobs pane shows them: the executor's
//! [`JobEvent`]s folded into one row per job.

use std::time::SystemTime;

use crate::model::{JobEvent, JobId, JobOutcome};

/// A job as the Jobs pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Its id.
    pub id: JobId,
    /// What it does.
    pub title: String,
    /// The step running: number, count, description.
    pub step: Option<(usize, usize, String)>,
    /// How it ended, once it has.
    pub outcome: Option<JobOutcome>,
    /// When it was queued.
    pub queued: SystemTime,
}

/// Every job of the session, oldest first.
#[derive(Debug, Default)]
pub struct JobTable {
    rows: Vec<JobRow>,
}

impl JobTable {
    /// Folds one event in.
    pub fn apply(&mut self, event: JobEvent) {
        match event {
            JobEvent::Queued { id, title, at } => self.rows.push(JobRow {
                id,
                title,
                step: None,
                outcome: None,
                queued: at,
            }),
            JobEvent::Step {
                id,
                step,
                index,
                of,
            } => {
                if let Some(job) = self.row_mut(id) {
                    job.step = Some((index, of, step));
                }
            }
            JobEvent::Finished { id, outcome, .. } => {
                if let Some(job) = self.row_mut(id) {
                    job.outcome = Some(outcome);
                }
            }
        }
    }

    fn row_mut(&mut self, id: JobId) -> Option<&mut JobRow> {
        self.rows.iter_mut().find(|j| j.id == id)
    }

    /// Every job, oldest first.
    pub fn rows(&self) -> &[JobRow] {
        &self.rows
    }

    /// Jobs not yet finished.
    pub fn running(&self) -> usize {
        self.rows.iter().filter(|j| j.outcome.is_none()).count()
    }
}
