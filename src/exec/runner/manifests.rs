//! The steps of applying a `[[manifests]]` set: each document found in
//! the files again and applied only if it reads as it did when planned
//! (server-side apply converges: applying the same fields again changes
//! nothing), then the Deployments it changed followed until rolled out.

use tokio::sync::watch;

use super::Done;
use crate::exec::backend::{Backend, Failure};
use crate::exec::step::{Job, ManifestOp};
use crate::model::action::ActionKind;

/// Performs one step of a manifest job.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &ManifestOp,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let request = &job.plan.request;
    let t = &request.target;
    let force = matches!(request.kind, ActionKind::Apply { force: true, .. });
    match op {
        ManifestOp::Apply { doc } => {
            let said = Box::pin(backend.manifest_apply(t, doc, force, request.dry_run)).await?;
            Ok(Done { said, call: None })
        }
        ManifestOp::AwaitRollout {
            namespace,
            name,
            within,
        } => {
            if request.dry_run {
                return Ok(Done {
                    said: "dry run: nothing applied, nothing to wait for".into(),
                    call: None,
                });
            }
            let start = std::time::Instant::now();
            let mut cancel = cancel.clone();
            // Cancelled while it rolls out: the wait ends, what was
            // applied stays.
            let cancelled = async move {
                if cancel.wait_for(|c| *c).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                r = Box::pin(backend.manifest_rollout(t, namespace, name, *within)) => r?,
                () = cancelled => {
                    return Err(Failure {
                        what: format!(
                            "cancelled while Deployment {namespace}/{name} rolled out ({:.0} s in): what was applied stays",
                            start.elapsed().as_secs_f64()
                        ),
                        status: None,
                    });
                }
            }
            Ok(Done {
                said: format!(
                    "Deployment {namespace}/{name} rolled out after {:.1} s",
                    start.elapsed().as_secs_f64()
                ),
                call: None,
            })
        }
    }
}
