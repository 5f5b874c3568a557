//! The steps of a silence and of its expiry, on the Alertmanager named by
//! the target. The Alertmanager takes no precondition, so a resumed create
//! first looks for the silence it would make (active or pending, the same
//! matchers, creator and comment) and makes none if it is there; an
//! expiry of a silence expired already sends nothing. The Alertmanager has
//! no dry run, so a dry run checks it answers and sends nothing.

use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{Done, POLL};
use crate::exec::backend::{Backend, Call, Failure};
use crate::exec::step::{Job, SilenceOp};
use crate::model::action::ActionKind;

/// How long a new silence may take to be active.
const ACTIVE: Duration = Duration::from_secs(30);

/// Performs one step of a silence job; `created` is the id the create step
/// returned, for the wait.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &SilenceOp,
    created: Option<&str>,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let t = &job.plan.request.target;
    let dry_run = job.plan.request.dry_run;
    match op {
        SilenceOp::Reachable => {
            backend.silences_reachable(t).await?;
            Ok(Done {
                said: format!("the Alertmanager {} answers", t.cluster),
                call: None,
            })
        }
        SilenceOp::Create => {
            let ActionKind::Silence {
                matchers,
                duration,
                created_by,
            } = &job.plan.request.kind
            else {
                return Err(Failure {
                    what: "a silence step of another action: a defect of touban".into(),
                    status: None,
                });
            };
            if dry_run {
                return Ok(Done {
                    said: "dry run: not sent (the Alertmanager has no dry run)".into(),
                    call: None,
                });
            }
            let comment = job.plan.reason.as_deref().unwrap_or("(no reason given)");
            if resuming
                && let Some(id) = backend
                    .find_silence(t, matchers, created_by, comment)
                    .await?
            {
                return Ok(Done {
                    said: format!(
                        "silence {id} is there already (made before this job was interrupted): nothing sent"
                    ),
                    call: Some(Call {
                        status: 200,
                        before: None,
                        after: Some(id),
                    }),
                });
            }
            let id = backend
                .create_silence(t, matchers, *duration, created_by, comment)
                .await?;
            Ok(Done {
                said: format!("silence {id} created by {created_by}"),
                call: Some(Call {
                    status: 200,
                    before: None,
                    after: Some(id),
                }),
            })
        }
        SilenceOp::AwaitActive => {
            if dry_run {
                return Ok(Done {
                    said: "dry run: nothing sent, nothing to wait for".into(),
                    call: None,
                });
            }
            let Some(id) = created else {
                return Err(Failure {
                    what: "no silence id from the create step: a defect of touban".into(),
                    status: None,
                });
            };
            let start = Instant::now();
            loop {
                let state = backend.silence_state(t, id).await?;
                if state.as_deref() == Some("active") {
                    return Ok(Done {
                        said: format!("silence {id} active"),
                        call: None,
                    });
                }
                if start.elapsed() >= ACTIVE || *cancel.borrow() {
                    return Err(Failure {
                        what: format!(
                            "silence {id} is {} after {} s, not active",
                            state.as_deref().unwrap_or("unknown"),
                            start.elapsed().as_secs()
                        ),
                        status: None,
                    });
                }
                tokio::time::sleep(POLL).await;
            }
        }
        SilenceOp::Expire { id } => expire(backend, t, id, dry_run).await,
    }
}

/// Expires a silence, unless it is expired already; checks it is.
async fn expire<B: Backend>(
    backend: &B,
    t: &crate::model::action::Target,
    id: &str,
    dry_run: bool,
) -> Result<Done, Failure> {
    let state = backend.silence_state(t, id).await?;
    if state.as_deref() == Some("expired") {
        return Ok(Done {
            said: format!("silence {id} is expired already: nothing sent"),
            call: None,
        });
    }
    if state.is_none() {
        return Err(Failure {
            what: format!("the Alertmanager {} knows no silence {id}", t.cluster),
            status: Some(404),
        });
    }
    if dry_run {
        return Ok(Done {
            said: format!("dry run: silence {id} not expired (the Alertmanager has no dry run)"),
            call: None,
        });
    }
    backend.expire_silence(t, id).await?;
    let after = backend.silence_state(t, id).await?;
    if after.as_deref() != Some("expired") {
        return Err(Failure {
            what: format!(
                "silence {id} is {} after its expiry",
                after.as_deref().unwrap_or("unknown")
            ),
            status: None,
        });
    }
    Ok(Done {
        said: format!("silence {id} expired"),
        call: None,
    })
}
