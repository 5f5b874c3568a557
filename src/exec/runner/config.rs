//! The steps of re-pointing applications at a promoted database. The
//! key's value is read and rewritten inside the step (only its host is
//! said); the write tests the value read, so a change in between fails it
//! rather than being overwritten. Each step converges: a key found at the
//! new host is not written again, a deployment found restarted at the
//! planned time is not restarted again.

use tokio::sync::watch;

use super::{Done, await_deployment, write_restart};
use crate::exec::actions::{repoint, restart};
use crate::exec::backend::{Backend, Failure, KeyValue};
use crate::exec::step::{ConfigOp, Job};
use crate::model::action::{ObjectKind, Target};

/// Performs one step of re-pointing.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &ConfigOp,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let t = &job.plan.request.target;
    let dry_run = job.plan.request.dry_run;
    match op {
        ConfigOp::PointAt { key, from, to } => point_at(backend, job, key, from, to).await,
        ConfigOp::Restart { deployment, at } => {
            let d = deployment_of(t, deployment);
            let (row, rv) = backend.deployment(&d).await?.ok_or_else(|| Failure {
                what: format!(
                    "deployment {}/{deployment} on {} does not exist: say in [[databases.consumers]] restart which deployments read the key",
                    t.namespace, t.cluster
                ),
                status: Some(404),
            })?;
            if row.restarted_at.as_deref() == Some(at.as_str()) {
                return Ok(Done {
                    said: format!("{deployment} restarted at {at} already: nothing written"),
                    call: None,
                });
            }
            if row.desired == 0 {
                return Ok(Done {
                    said: format!(
                        "{deployment} runs no pod: nothing to restart (its pods will read the new address when scaled up)"
                    ),
                    call: None,
                });
            }
            let call = write_restart(backend, &d, at, None, dry_run, Some(&rv)).await?;
            Ok(Done {
                said: if dry_run {
                    format!("dry run: the server accepts {deployment} restartedAt={at}")
                } else {
                    format!("{deployment} restartedAt={at} accepted: new pods rolling")
                },
                call: Some(call),
            })
        }
        ConfigOp::AwaitRestarted {
            deployment,
            at,
            within,
        } => {
            if dry_run {
                return Ok(Done {
                    said: "dry run: nothing changed, nothing to wait for".into(),
                    call: None,
                });
            }
            let d = deployment_of(t, deployment);
            if let Some((row, _)) = backend.deployment(&d).await?
                && row.desired == 0
                && row.restarted_at.as_deref() != Some(at.as_str())
            {
                return Ok(Done {
                    said: format!("{deployment} runs no pod: nothing to wait for"),
                    call: None,
                });
            }
            let verify = |r: &crate::model::cluster::DeploymentRow| restart::verify(at, r);
            await_deployment(
                backend,
                &d,
                &verify,
                "every pod new, updated and available, no old one",
                *within,
                cancel,
            )
            .await
        }
    }
}

/// The key pointed at `to`, if it still points at `from` (found at `to`:
/// nothing written).
async fn point_at<B: Backend>(
    backend: &B,
    job: &Job,
    key: &str,
    from: &str,
    to: &str,
) -> Result<Done, Failure> {
    let t = &job.plan.request.target;
    let dry_run = job.plan.request.dry_run;
    let object = format!("{}/{} on {}", t.namespace, t.name, t.cluster);
    let (value, rv) = backend.config_value(t, key).await?.ok_or_else(|| Failure {
        what: format!("{object} is gone"),
        status: Some(404),
    })?;
    let value = value.ok_or_else(|| Failure {
        what: format!("{object} has no key {key} now: plan again"),
        status: None,
    })?;
    let now = repoint::host_of(value.reveal()).unwrap_or_default();
    if now == to {
        return Ok(Done {
            said: format!("{key} points at {to}: nothing written"),
            call: None,
        });
    }
    if now != from {
        return Err(Failure {
            what: format!(
                "{key} of {object} points at {now} now, not the {from} planned from: someone changed it; plan again"
            ),
            status: None,
        });
    }
    let new = KeyValue(repoint::rewrite(value.reveal(), to));
    let mut call = backend
        .set_config_value(t, key, &value, &new, dry_run)
        .await?;
    call.before = Some(rv);
    if dry_run {
        return Ok(Done {
            said: format!("dry run: the server accepts {key} pointed at {to}"),
            call: Some(call),
        });
    }
    // Read back: what the applications will read is what was written,
    // the rest of the value (a password) as it was.
    let back = backend
        .config_value(t, key)
        .await?
        .and_then(|(v, _)| v)
        .ok_or_else(|| Failure {
            what: format!("{object}: {key} is gone right after it was written"),
            status: None,
        })?;
    if back.reveal() != new.reveal() {
        return Err(Failure {
            what: format!(
                "{object}: {key} reads {} right after it was pointed at {to}: something else writes it (an operator, a controller); the deployments were not restarted",
                repoint::host_of(back.reveal()).unwrap_or("an address touban cannot read")
            ),
            status: None,
        });
    }
    Ok(Done {
        said: format!("{key} points at {to} (was {from}), read back"),
        call: Some(call),
    })
}

/// A deployment beside the target ConfigMap or Secret.
fn deployment_of(t: &Target, name: &str) -> Target {
    Target {
        kind: ObjectKind::Deployment,
        name: name.to_owned(),
        ..t.clone()
    }
}
