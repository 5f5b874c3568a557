//! The steps of deleting a pod: each converges (a resumed job that finds
//! the pod gone, or another pod of that name, deletes nothing).

use std::time::Instant;

use tokio::sync::watch;

use super::{Done, POLL, READ_TIMEOUT, await_deployment};
use crate::exec::actions::scale;
use crate::exec::backend::{Backend, Failure};
use crate::exec::step::{Job, Op};
use crate::model::action::{ObjectKind, Target};

/// Performs one step of a pod's deletion.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &Op,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let t = &job.plan.request.target;
    let dry_run = job.plan.request.dry_run;
    let now = backend.pod(t).await?;
    let same = |uid: &str| now.as_ref().is_some_and(|p| p.uid == uid);
    match op {
        Op::ExpectPod { uid } if same(uid) => Ok(Done {
            said: format!("{} as planned", t.name),
            call: None,
        }),
        Op::ExpectPod { .. } | Op::DeletePod { .. } if resuming => Ok(Done {
            said: format!(
                "{} is gone already (deleted before the interruption): nothing done",
                t.name
            ),
            call: None,
        }),
        Op::ExpectPod { .. } => Err(Failure {
            what: format!(
                "{} is {} since it was planned: plan again",
                t.name,
                if now.is_some() { "another pod" } else { "gone" }
            ),
            status: None,
        }),
        Op::DeletePod { uid } => {
            let call = backend.delete_pod(t, uid, dry_run).await?;
            Ok(Done {
                said: if dry_run {
                    format!("dry run: the server accepts deleting {}", t.name)
                } else {
                    format!("{} deleted", t.name)
                },
                call: Some(call),
            })
        }
        Op::AwaitReplaced {
            uid,
            deployment,
            selector,
            within,
        } => {
            if dry_run {
                return Ok(Done {
                    said: "dry run: nothing changed, nothing to wait for".into(),
                    call: None,
                });
            }
            await_replaced(backend, t, uid, (deployment, selector), *within, cancel).await
        }
        _ => Err(Failure {
            what: "not a step of deleting a pod: a defect of touban".into(),
            status: None,
        }),
    }
}

/// Waits until the pod is gone, its replacement Ready and its deployment
/// whole again.
async fn await_replaced<B: Backend>(
    backend: &B,
    t: &Target,
    uid: &str,
    (deployment, selector): (&str, &str),
    within: std::time::Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    // First the pod goes (its grace period), then the deployment
    // is whole again.
    loop {
        let read = tokio::time::timeout(READ_TIMEOUT, backend.pod(t)).await;
        if let Ok(Ok(p)) = read
            && p.is_none_or(|p| p.uid != *uid)
        {
            break;
        }
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(Failure {
                what: format!(
                    "{} is still terminating after {} s",
                    t.name,
                    start.elapsed().as_secs()
                ),
                status: None,
            });
        }
        let mut cancelled = cancel.clone();
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = cancelled.changed() => {}
        }
    }
    let d = Target {
        kind: ObjectKind::Deployment,
        name: deployment.to_owned(),
        ..t.clone()
    };
    let Some((row, _)) = backend.deployment(&d).await? else {
        return Err(Failure {
            what: format!("deployment {deployment} is gone"),
            status: Some(404),
        });
    };
    // A deployment's status lags its pods: the replacement is
    // counted among the pods themselves first.
    loop {
        let pods = backend.pods(t, selector).await?;
        let ready = pods.iter().filter(|p| p.is_ready()).count();
        let wanted = usize::try_from(row.desired).unwrap_or(0);
        if ready >= wanted {
            break;
        }
        if start.elapsed() >= within || *cancel.borrow() {
            return Err(Failure {
                what: format!(
                    "{ready} of {wanted} pods of {deployment} Ready after {} s: no replacement yet",
                    start.elapsed().as_secs()
                ),
                status: None,
            });
        }
        let mut cancelled = cancel.clone();
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = cancelled.changed() => {}
        }
    }
    let replicas = u32::try_from(row.desired).unwrap_or(0);
    let verify = |d: &crate::model::cluster::DeploymentRow| scale::verify(replicas, d);
    let said = format!(
        "{} gone, {replicas} of {replicas} of {deployment} available",
        t.name
    );
    let left = within.saturating_sub(start.elapsed());
    await_deployment(backend, &d, &verify, &said, left, cancel).await
}
