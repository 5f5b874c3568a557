//! The steps of a rolling change of a deployment's pod template
//! (set-image, undo): each write a JSON patch that `test`s what it was
//! planned from, each converging (resumed, a template already changed is
//! not written again).

use serde_json::json;
use tokio::sync::watch;

use super::{Done, await_deployment, gone};
use crate::exec::actions::rollout;
use crate::exec::backend::{Backend, Call, Failure};
use crate::exec::step::{Job, Op};

/// Performs one step of a template change.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &Op,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let t = &job.plan.request.target;
    let dry_run = job.plan.request.dry_run;
    let image_path = "/spec/template/spec/containers/0/image";
    let (patch, wanted, said) = match op {
        Op::SetImage { from, to } => (
            json!([
                {"op": "test", "path": image_path, "value": from},
                {"op": "replace", "path": image_path, "value": to},
            ]),
            to.clone(),
            format!("image {to}"),
        ),
        Op::RestoreTemplate {
            revision,
            generation,
            template,
        } => {
            let image = match job.ops.get(2) {
                Some(Op::AwaitRolledOut { image, .. }) => image.clone(),
                _ => String::new(),
            };
            (
                json!([
                    {"op": "test", "path": "/metadata/generation", "value": generation},
                    {"op": "replace", "path": "/spec/template", "value": template},
                ]),
                image,
                format!("revision {revision}'s template"),
            )
        }
        Op::AwaitRolledOut { image, within } => {
            if dry_run {
                return Ok(Done {
                    said: "dry run: nothing changed, nothing to wait for".into(),
                    call: None,
                });
            }
            let verify = |d: &crate::model::cluster::DeploymentRow| rollout::verify(image, d);
            let done = format!("every replica on {image}, no old pod");
            return await_deployment(backend, t, &verify, &done, *within, cancel).await;
        }
        _ => {
            return Err(Failure {
                what: "not a step of a template change: a defect of touban".into(),
                status: None,
            });
        }
    };
    let (d, rv) = backend.deployment(t).await?.ok_or_else(|| gone(t))?;
    if resuming && d.image == wanted {
        return Ok(Done {
            said: format!("{} already runs {wanted}: nothing written", d.name),
            call: Some(Call {
                status: 200,
                before: Some(rv.clone()),
                after: Some(rv),
            }),
        });
    }
    let call = backend
        .json_patch(t, &patch, dry_run)
        .await
        .map_err(|f| match f.status {
            Some(422) => Failure {
                what: format!(
                    "{} changed since it was read (the patch's test failed): nothing overwritten; plan again",
                    d.name
                ),
                status: Some(422),
            },
            _ => f,
        })?;
    Ok(Done {
        said: if dry_run {
            format!("dry run: the server accepts {said}")
        } else {
            format!("{said} accepted")
        },
        call: Some(Call {
            before: Some(rv),
            ..call
        }),
    })
}
