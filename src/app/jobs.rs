//! The jobs of this session, as the Jobs pane shows them: the executor's
//! [`JobEvent`]s folded into one row per job, from the request (planning)
//! through its plan, its steps and its end.

use std::time::SystemTime;

use crate::model::action::ActionRequest;
use crate::model::plan::Plan;
use crate::model::{JobEvent, JobId, JobOutcome};

/// How a step of a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    /// Not reached yet.
    Pending,
    /// Running now.
    Running,
    /// Done, and what it saw and did.
    Done(String),
    /// Failed, and why.
    Failed(String),
}

/// A step as the Jobs pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRow {
    /// What it does.
    pub title: String,
    /// How it stands.
    pub state: StepState,
}

/// A job as the Jobs pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Its id.
    pub id: JobId,
    /// What it does.
    pub title: String,
    /// What was asked, when this console asked it.
    pub request: Option<ActionRequest>,
    /// The plan, once made.
    pub plan: Option<Plan>,
    /// Its steps, once planned.
    pub steps: Vec<StepRow>,
    /// The step running: number, count, description.
    pub step: Option<(usize, usize, String)>,
    /// Whether it was confirmed (is queued or running or ran).
    pub confirmed: bool,
    /// How it ended, once it has.
    pub outcome: Option<JobOutcome>,
    /// When it was asked for.
    pub queued: SystemTime,
    /// Confirmed as a dry run.
    pub dry_run: bool,
}

/// Every job of the session, oldest first.
#[derive(Debug, Default)]
pub struct JobTable {
    rows: Vec<JobRow>,
    last: u64,
}

impl JobTable {
    /// A new job for `request`, being planned; returns its id.
    pub fn ask(&mut self, request: ActionRequest, title: &str, at: SystemTime) -> JobId {
        self.last += 1;
        let id = JobId(self.last);
        self.rows.push(JobRow {
            id,
            title: format!("{title} (planning)"),
            request: Some(request),
            plan: None,
            steps: Vec::new(),
            step: None,
            confirmed: false,
            outcome: None,
            queued: at,
            dry_run: false,
        });
        id
    }

    /// Folds one event in.
    pub fn apply(&mut self, event: JobEvent) {
        let id = event.id();
        if self.row_mut(id).is_none() {
            // A job this table did not ask for (resumed, or a test's):
            // it gets a row of its own.
            self.last = self.last.max(id.0);
            self.rows.push(JobRow {
                id,
                title: String::new(),
                request: None,
                plan: None,
                steps: Vec::new(),
                step: None,
                confirmed: false,
                outcome: None,
                queued: SystemTime::now(),
                dry_run: false,
            });
        }
        let Some(job) = self.row_mut(id) else {
            return;
        };
        match event {
            JobEvent::Planned { plan, .. } => match *plan {
                Ok(plan) => {
                    // Planned again (after a conflict): to confirm again.
                    job.outcome = None;
                    job.confirmed = false;
                    job.step = None;
                    job.title.clone_from(&plan.title);
                    job.steps = plan
                        .steps
                        .iter()
                        .map(|s| StepRow {
                            title: s.title.clone(),
                            state: StepState::Pending,
                        })
                        .collect();
                    job.plan = Some(plan);
                }
                Err(refusal) => {
                    if let Some(t) = job.title.strip_suffix(" (planning)") {
                        job.title = t.to_owned();
                    }
                    let why = match refusal.instead {
                        Some(instead) => format!("{}; instead: {instead}", refusal.why),
                        None => refusal.why,
                    };
                    job.outcome = Some(JobOutcome::Refused(why));
                }
            },
            JobEvent::Queued { title, at, .. } => {
                job.title = title;
                job.confirmed = true;
                // Run again (planned again after a conflict, resumed).
                job.outcome = None;
                if job.request.is_none() {
                    job.queued = at;
                }
            }
            JobEvent::Step {
                step, index, of, ..
            } => {
                if let Some(s) = index.checked_sub(1).and_then(|i| job.steps.get_mut(i)) {
                    s.state = StepState::Running;
                } else if job.steps.len() < of {
                    job.steps.resize(
                        of,
                        StepRow {
                            title: String::new(),
                            state: StepState::Pending,
                        },
                    );
                    if let Some(s) = index.checked_sub(1).and_then(|i| job.steps.get_mut(i)) {
                        s.title.clone_from(&step);
                        s.state = StepState::Running;
                    }
                }
                job.step = Some((index, of, step));
            }
            JobEvent::StepEnded {
                index, ok, said, ..
            } => {
                if let Some(s) = index.checked_sub(1).and_then(|i| job.steps.get_mut(i)) {
                    s.state = if ok {
                        StepState::Done(said)
                    } else {
                        StepState::Failed(said)
                    };
                }
            }
            JobEvent::Finished { outcome, .. } => {
                job.outcome = Some(outcome);
            }
        }
    }

    fn row_mut(&mut self, id: JobId) -> Option<&mut JobRow> {
        self.rows.iter_mut().find(|j| j.id == id)
    }

    /// The operator confirmed the job: it counts as running (the quit
    /// prompt asks) before the executor has queued it.
    pub fn confirmed(&mut self, id: JobId) {
        if let Some(job) = self.row_mut(id) {
            job.confirmed = true;
        }
    }

    /// The operator confirmed the job as a dry run.
    pub fn confirmed_dry(&mut self, id: JobId) {
        if let Some(job) = self.row_mut(id) {
            job.confirmed = true;
            job.dry_run = true;
        }
    }

    /// The job is run again: it counts as running until it ends anew.
    pub fn resumed(&mut self, id: JobId) {
        if let Some(job) = self.row_mut(id) {
            job.outcome = None;
            job.step = None;
            for s in &mut job.steps {
                s.state = StepState::Pending;
            }
        }
    }

    /// One job.
    pub fn get(&self, id: JobId) -> Option<&JobRow> {
        self.rows.iter().find(|j| j.id == id)
    }

    /// Every job, oldest first.
    pub fn rows(&self) -> &[JobRow] {
        &self.rows
    }

    /// Jobs confirmed and not yet finished.
    pub fn running(&self) -> usize {
        self.rows
            .iter()
            .filter(|j| j.confirmed && j.outcome.is_none())
            .count()
    }
}
