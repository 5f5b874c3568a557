//! The steps of Terraform / OpenTofu on an `[[infrastructure]]`
//! directory: the plan run and saved, or the saved plan applied. A
//! cancelled job sends the tool one interrupt and waits for it to stop.

use tokio::sync::watch;

use super::Done;
use crate::exec::backend::{Backend, Failure};
use crate::exec::step::{InfraOp, Job};

/// Performs one step of an infrastructure job.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &InfraOp,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let request = &job.plan.request;
    let t = &request.target;
    let said = match op {
        InfraOp::Plan if request.dry_run => {
            "dry run: the tool is not run (its plan is its own dry run)".to_owned()
        }
        InfraOp::Plan => Box::pin(backend.infra_plan(t, cancel)).await?,
        InfraOp::Apply { sha256 } if request.dry_run => {
            backend.infra_saved(t).await?;
            format!(
                "dry run: the saved plan (sha256 {sha256}) is there, unchanged; nothing applied"
            )
        }
        InfraOp::Apply { sha256 } => Box::pin(backend.infra_apply(t, sha256, cancel)).await?,
    };
    Ok(Done { said, call: None })
}
