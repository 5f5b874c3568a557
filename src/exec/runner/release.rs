//! The steps of a blue-green job (see `actions::blue_green`): each checks
//! its precondition against the cluster as it is, writes with a JSON patch
//! whose `test`s are what was planned from, and converges: a step whose
//! effect is already there (a resumed job, a Service already switched)
//! writes nothing.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::watch;

use super::{Done, POLL, READ_TIMEOUT, await_deployment};
use crate::exec::actions::{Progress, scale};
use crate::exec::backend::{Backend, Call, Failure};
use crate::exec::step::{Job, ReleaseOp};
use crate::model::action::{ObjectKind, Target};
use crate::model::cluster::ServiceRow;

/// One of the release's objects, in the target's cluster and namespace.
fn object(t: &Target, kind: ObjectKind, name: &str) -> Target {
    Target {
        kind,
        name: name.to_owned(),
        ..t.clone()
    }
}

fn done(said: impl Into<String>, call: Option<Call>) -> Done {
    Done {
        said: said.into(),
        call,
    }
}

fn fail(what: impl Into<String>) -> Failure {
    Failure {
        what: what.into(),
        status: None,
    }
}

/// The release's Services named in the plan, as they are now.
async fn services<B: Backend>(
    backend: &B,
    t: &Target,
    names: &[String],
) -> Result<Vec<ServiceRow>, Failure> {
    let (_, all) = backend.release(t).await?;
    names
        .iter()
        .map(|n| {
            all.iter()
                .find(|s| &s.name == n)
                .cloned()
                .ok_or_else(|| Failure {
                    what: format!("Service {n} is gone from {} of {}", t.namespace, t.cluster),
                    status: Some(404),
                })
        })
        .collect()
}

/// Performs one step of a blue-green job.
pub(super) async fn perform<B: Backend>(
    backend: &B,
    job: &Job,
    op: &ReleaseOp,
    cancel: &watch::Receiver<bool>,
    resuming: bool,
) -> Result<Done, Failure> {
    let t = &job.plan.request.target;
    let dry_run = job.plan.request.dry_run;
    match op {
        ReleaseOp::ExpectLive {
            services: names,
            live,
            idle,
            mixed,
        } => {
            let now = services(backend, t, names).await?;
            let colour = |s: &ServiceRow| s.selects("color").unwrap_or("no colour").to_owned();
            if now.iter().all(|s| colour(s) == *live) {
                return Ok(done(format!("{} route to {live}", names.join(", ")), None));
            }
            // Resumed after touban's own switch (whole or half): the switch
            // step completes it.
            if (resuming || *mixed) && now.iter().all(|s| colour(s) == *live || colour(s) == *idle)
            {
                return Ok(done(
                    format!("already switched (wholly or in part) to {idle} by this job: going on"),
                    None,
                ));
            }
            let s = now.iter().find(|s| colour(s) != *live);
            Err(fail(format!(
                "Service {} routes to {} now, not {live} as planned: someone else changed it; plan again",
                s.map_or("?", |s| s.name.as_str()),
                s.map_or_else(String::new, colour)
            )))
        }
        ReleaseOp::Prepare {
            deployment,
            image,
            replicas,
        } => prepare(backend, t, deployment, image, *replicas, dry_run).await,
        ReleaseOp::AwaitSaturated {
            deployment,
            replicas,
            within,
        } => {
            if dry_run {
                return Ok(done("dry run: nothing changed, nothing to wait for", None));
            }
            let d = object(t, ObjectKind::Deployment, deployment);
            await_saturated(backend, &d, *replicas, *within, cancel).await
        }
        ReleaseOp::Switch {
            services: names,
            from,
            to,
            deployment,
        } => switch(backend, t, names, (from, to), deployment, dry_run).await,
        ReleaseOp::AwaitEndpoints {
            services: names,
            colour,
            within,
        } => {
            if dry_run {
                return Ok(done("dry run: nothing changed, nothing to wait for", None));
            }
            await_endpoints(backend, t, names, colour, *within, cancel).await
        }
        ReleaseOp::Retarget { hpa, from, to } => {
            retarget(backend, t, hpa, (from, to), dry_run).await
        }
        ReleaseOp::Hold { deployment, delay } => {
            if dry_run {
                return Ok(done("dry run: no wait", None));
            }
            hold(deployment, *delay, cancel).await
        }
        ReleaseOp::Retire {
            deployment,
            colour,
            services: names,
            within,
        } => {
            retire(
                backend, t, deployment, colour, names, *within, dry_run, cancel,
            )
            .await
        }
    }
}

/// Retargets the HPA from the old colour's deployment to the new one's.
async fn retarget<B: Backend>(
    backend: &B,
    t: &Target,
    hpa: &str,
    (from, to): (&str, &str),
    dry_run: bool,
) -> Result<Done, Failure> {
    let h = object(t, ObjectKind::HorizontalPodAutoscaler, hpa);
    let Some((now, rv)) = backend.hpa(&h).await? else {
        return Err(Failure {
            what: format!("HPA {hpa} is gone from {} of {}", t.namespace, t.cluster),
            status: Some(404),
        });
    };
    if now.target == *to {
        return Ok(done(
            format!("{hpa} already scales {to}: nothing written"),
            Some(unchanged(rv)),
        ));
    }
    let patch = json!([
        {"op": "test", "path": "/spec/scaleTargetRef/name", "value": from},
        {"op": "replace", "path": "/spec/scaleTargetRef/name", "value": to},
    ]);
    let call = cas(
        backend,
        &h,
        &patch,
        dry_run,
        &format!("{hpa} no longer scales {from}"),
    )
    .await?;
    Ok(done(
        if dry_run {
            format!("dry run: the server accepts {hpa} scaling {to}")
        } else {
            format!("{hpa} scales {to}")
        },
        Some(Call {
            before: Some(rv),
            ..call
        }),
    ))
}

/// Waits until the deployment runs `replicas` pods of its newest template,
/// every one Ready and available.
async fn await_saturated<B: Backend>(
    backend: &B,
    d: &Target,
    replicas: i32,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let wanted = u32::try_from(replicas).unwrap_or(0);
    let verify = |d: &crate::model::cluster::DeploymentRow| match scale::verify(wanted, d) {
        Progress::Done if d.ready < replicas => {
            Progress::Waiting(format!("{} of {replicas} Ready", d.ready))
        }
        other => other,
    };
    let said = format!("{replicas} of {replicas} updated, Ready and available");
    await_deployment(backend, d, &verify, &said, within, cancel).await
}

/// A call that wrote nothing: the object stays at `rv`.
fn unchanged(rv: String) -> Call {
    Call {
        status: 200,
        before: Some(rv.clone()),
        after: Some(rv),
    }
}

/// A compare-and-swap JSON patch: a failed `test` (422) is said as
/// `changed`, not overwritten.
async fn cas<B: Backend>(
    backend: &B,
    object: &Target,
    patch: &serde_json::Value,
    dry_run: bool,
    changed: &str,
) -> Result<Call, Failure> {
    backend
        .json_patch(object, patch, dry_run)
        .await
        .map_err(|f| match f.status {
            Some(422) => Failure {
                what: format!("{changed} since it was read: nothing overwritten; plan again"),
                status: Some(422),
            },
            _ => f,
        })
}

async fn prepare<B: Backend>(
    backend: &B,
    t: &Target,
    deployment: &str,
    (from_image, to_image): &(String, String),
    (from, to): (i32, i32),
    dry_run: bool,
) -> Result<Done, Failure> {
    let target = object(t, ObjectKind::Deployment, deployment);
    let Some((d, rv)) = backend.deployment(&target).await? else {
        return Err(Failure {
            what: format!(
                "deployment {deployment} is gone from {} of {}",
                t.namespace, t.cluster
            ),
            status: Some(404),
        });
    };
    if d.image == *to_image && d.desired == to {
        return Ok(done(
            format!("{deployment} already runs {to_image} with {to} replicas: nothing written"),
            Some(unchanged(rv)),
        ));
    }
    let image = "/spec/template/spec/containers/0/image";
    let patch = json!([
        {"op": "test", "path": image, "value": from_image},
        {"op": "test", "path": "/spec/replicas", "value": from},
        {"op": "replace", "path": image, "value": to_image},
        {"op": "replace", "path": "/spec/replicas", "value": to},
    ]);
    let changed = format!("{deployment} no longer runs {from_image} with {from} replicas");
    let call = cas(backend, &target, &patch, dry_run, &changed).await?;
    Ok(done(
        if dry_run {
            format!("dry run: the server accepts {to_image} and {to} replicas")
        } else {
            format!("{deployment}: {to_image}, {to} replicas")
        },
        Some(Call {
            before: Some(rv),
            ..call
        }),
    ))
}

/// Switches each Service not yet on `to`, only while `deployment` has
/// every pod Ready; a Service switched before a failure is named, so a
/// half-switched release is never left unsaid.
async fn switch<B: Backend>(
    backend: &B,
    t: &Target,
    names: &[String],
    (from, to): (&str, &str),
    deployment: &str,
    dry_run: bool,
) -> Result<Done, Failure> {
    if !dry_run {
        let target = object(t, ObjectKind::Deployment, deployment);
        let ready = backend.deployment(&target).await?.map(|(d, _)| d);
        match ready {
            Some(d) if d.desired > 0 && d.ready >= d.desired => {}
            Some(d) => {
                return Err(fail(format!(
                    "{deployment} has {} of {} pods Ready: the selectors stay on {from}",
                    d.ready, d.desired
                )));
            }
            None => {
                return Err(fail(format!(
                    "{deployment} is gone: the selectors stay on {from}"
                )));
            }
        }
    }
    let now = services(backend, t, names).await?;
    let mut switched: Vec<&str> = Vec::new();
    let mut last = None;
    for s in &now {
        if s.selects("color") == Some(to) {
            continue;
        }
        let patch = json!([
            {"op": "test", "path": "/spec/selector/color", "value": from},
            {"op": "replace", "path": "/spec/selector/color", "value": to},
        ]);
        let service = object(t, ObjectKind::Service, &s.name);
        let changed = format!("Service {}'s selector is no longer color={from}", s.name);
        match cas(backend, &service, &patch, dry_run, &changed).await {
            Ok(call) => {
                switched.push(&s.name);
                last = Some(call);
            }
            Err(f) if switched.is_empty() => return Err(f),
            Err(f) => {
                return Err(Failure {
                    what: format!(
                        "{}; the release is half-switched: {} route to {to}, the rest to {from}: revert or resume it",
                        f.what,
                        switched.join(", ")
                    ),
                    status: f.status,
                });
            }
        }
    }
    if switched.is_empty() {
        return Ok(done(
            format!("every Service already routes to {to}: nothing written"),
            None,
        ));
    }
    Ok(done(
        if dry_run {
            format!(
                "dry run: the server accepts color={to} on {}",
                switched.join(", ")
            )
        } else {
            format!("{} route to {to}", switched.join(", "))
        },
        last,
    ))
}

/// Reads each Service's Endpoints until they hold Ready pods of `colour`
/// and no other.
async fn await_endpoints<B: Backend>(
    backend: &B,
    t: &Target,
    names: &[String],
    colour: &str,
    within: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let start = Instant::now();
    let selector = format!("app={},color={colour}", t.name);
    let mut last = String::from("not read yet");
    loop {
        if *cancel.borrow() {
            return Err(fail(format!("cancelled while waiting: {last}")));
        }
        let read =
            tokio::time::timeout(READ_TIMEOUT, endpoints_hold(backend, t, names, &selector)).await;
        match read {
            Ok(Ok(None)) => {
                return Ok(done(
                    format!(
                        "every address a Ready {colour} pod, {} ms after the switch",
                        start.elapsed().as_millis()
                    ),
                    None,
                ));
            }
            Ok(Ok(Some(why))) => last = why,
            Ok(Err(f)) => last = f.what,
            Err(_) => {
                last = format!(
                    "reading the Endpoints took over {} s",
                    READ_TIMEOUT.as_secs()
                );
            }
        }
        if start.elapsed() >= within {
            return Err(fail(format!(
                "the Endpoints did not follow within {} s: {last}",
                within.as_secs()
            )));
        }
        let mut cancelled = cancel.clone();
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            _ = cancelled.changed() => {}
        }
    }
}

/// `None` when every Service's Endpoints hold only Ready pods of the
/// selector, else what is still in the way.
async fn endpoints_hold<B: Backend>(
    backend: &B,
    t: &Target,
    names: &[String],
    selector: &str,
) -> Result<Option<String>, Failure> {
    let pods = backend.pods(t, selector).await?;
    let ready: Vec<&str> = pods
        .iter()
        .filter(|p| p.is_ready())
        .map(|p| p.name.as_str())
        .collect();
    for name in names {
        let (addresses, _) = backend
            .endpoints(&object(t, ObjectKind::Service, name))
            .await?;
        let others = addresses
            .iter()
            .filter(|a| !ready.contains(&a.as_str()))
            .count();
        if addresses.is_empty() || others > 0 {
            return Ok(Some(format!(
                "{name}: {} addresses, {others} not a Ready pod of {selector}",
                addresses.len()
            )));
        }
    }
    Ok(None)
}

async fn hold(
    deployment: &str,
    delay: Duration,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    let mut cancelled = cancel.clone();
    if *cancelled.borrow() {
        return Err(fail(format!("cancelled: {deployment} stays scaled")));
    }
    tokio::select! {
        () = tokio::time::sleep(delay) => Ok(done(format!("{} s passed", delay.as_secs()), None)),
        _ = cancelled.changed() => Err(fail(format!("cancelled while holding: {deployment} stays scaled"))),
    }
}

#[allow(clippy::too_many_arguments)]
async fn retire<B: Backend>(
    backend: &B,
    t: &Target,
    deployment: &str,
    colour: &str,
    names: &[String],
    within: Duration,
    dry_run: bool,
    cancel: &watch::Receiver<bool>,
) -> Result<Done, Failure> {
    if !dry_run {
        let now = services(backend, t, names).await?;
        if let Some(s) = now.iter().find(|s| s.selects("color") == Some(colour)) {
            return Err(fail(format!(
                "Service {} routes to {colour} again: {deployment} stays scaled",
                s.name
            )));
        }
    }
    let target = object(t, ObjectKind::Deployment, deployment);
    let Some((d, rv)) = backend.deployment(&target).await? else {
        return Ok(done(
            format!("{deployment} is gone: nothing to scale down"),
            None,
        ));
    };
    let call = if d.desired == 0 {
        unchanged(rv)
    } else {
        backend.scale(&target, 0, dry_run, Some(&rv)).await?
    };
    if dry_run {
        return Ok(done(
            "dry run: the server accepts spec.replicas=0",
            Some(call),
        ));
    }
    let verify = |d: &crate::model::cluster::DeploymentRow| scale::verify(0, d);
    let said = format!("{deployment} scaled to 0, no {colour} pod left");
    await_deployment(backend, &target, &verify, &said, within, cancel)
        .await
        .map(|d| Done {
            call: Some(call),
            ..d
        })
}
