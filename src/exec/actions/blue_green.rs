//! A blue-green deploy of a release, the seed's production algorithm as
//! one job, with Argo Rollouts' two safety rules:
//!
//! 1. the live colour is read from the release's Services (`color` in
//!    their selector); a Service without one, or Services that disagree,
//!    refuse the plan: the live colour is never assumed;
//! 2. traffic moves only to a fully saturated colour: the idle colour gets
//!    the new image and the live colour's replicas, and every one of its
//!    pods is Ready before any selector changes.
//!
//! Then each Service's selector is switched with a JSON patch that first
//! `test`s the old colour, the Endpoints are checked to hold the new pods
//! only, the HPA that scaled the old colour is retargeted to the new one
//! (else the switch makes the very fault the Rollouts pane flags), the old
//! colour stays scaled for the scale-down delay (a revert meanwhile is
//! instant: the same job with no image, back to pods that are up), then it
//! is scaled to 0. No selector is ever empty or aimed at a colour without
//! Ready pods.

use std::time::Duration;

use oci_spec::distribution::Reference;

use super::Seen;
use crate::exec::step::{Access, Job, Op, ReleaseOp};
use crate::model::action::{ActionKind, ActionRequest, Target};
use crate::model::cluster::{DeploymentRow, HpaRow, ServiceRow};
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// How long the idle colour may take to be saturated: the default
/// `progressDeadlineSeconds` (a deployment past its own fails earlier).
pub const SATURATE: Duration = Duration::from_secs(600);
/// How long the Endpoints may take to follow a selector.
pub const ENDPOINTS: Duration = Duration::from_secs(60);
/// How long the old colour's pods may take to go.
pub const RETIRE: Duration = Duration::from_secs(300);
/// The seed's scale-down delay: the old colour stays scaled 5 minutes.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(300);

/// Whether `image` is an image reference a registry would take
/// (`repository[:tag][@digest]`, with an optional registry host): a
/// malformed one is refused before anything is planned.
pub fn check_image(image: &str) -> Result<(), String> {
    if image.trim() != image || image.is_empty() {
        return Err(format!("{image:?} is not an image reference"));
    }
    image
        .parse::<Reference>()
        .map(|_| ())
        .map_err(|e| format!("{image:?} is not an image reference: {e}"))
}

/// The release as read: its Services and the live and idle colours'
/// deployments.
pub(super) struct Read<'a> {
    pub(super) services: Vec<&'a ServiceRow>,
    pub(super) live: &'a str,
    pub(super) live_d: &'a DeploymentRow,
    pub(super) idle: &'a str,
    pub(super) idle_d: &'a DeploymentRow,
    /// Half-switched by a touban job that was interrupted (its Lease says
    /// so): which job, by whom, its switch. The plan repairs it.
    pub(super) repair: Option<Repair>,
}

/// A touban job that stopped in the middle of its switch, as its Lease
/// tells.
pub(super) struct Repair {
    /// The job and who ran it, in the operator's words.
    pub(super) who: String,
    /// The job (`session/id`).
    pub(super) job: String,
    /// The switch it was making, from and to which colour.
    pub(super) from: String,
    pub(super) to: String,
    /// Whether the repair takes `from` as live (a deploy finishes the
    /// switch) or `to` (a revert goes back).
    pub(super) live_is_from: bool,
}

/// Services that disagree on the colour: when a touban job's Lease shows
/// it stopped in the middle of switching them (every Service on its from
/// or its to colour), the repair's live and idle colours: a deploy
/// finishes the switch (live = from), a revert goes back (live = to).
/// Anything else (and any other action) is refused: the live colour
/// cannot be read.
fn half_switched(
    request: &ActionRequest,
    app: &str,
    colours: &[(&str, &str)],
    seen: &Seen,
) -> Result<Repair, Refusal> {
    let live = colours.first().map_or("", |(_, c)| *c);
    let first = colours.first().map_or("", |(n, _)| *n);
    let (other, colour) = colours
        .iter()
        .find(|(_, c)| *c != live)
        .copied()
        .unwrap_or_default();
    let disagree =
        format!("the Services of {app} disagree: {first} routes to {live}, {other} to {colour}");
    let repairable = matches!(request.kind, ActionKind::BlueGreen { .. });
    let interrupted = seen.lease.as_ref().filter(|_| repairable).and_then(|h| {
        let (from, to) = h.switch.clone()?;
        colours
            .iter()
            .all(|(_, c)| *c == from || *c == to)
            .then_some((h, from, to))
    });
    let Some((h, from, to)) = interrupted else {
        return Err(Refusal::instead(
            format!("{disagree}; the live colour cannot be read"),
            format!(
                "make {app}'s Services agree on one colour (kubectl edit service), then plan again"
            ),
        ));
    };
    if let Some(why) = h.blocks("", &request.target, jiff::Timestamp::now()) {
        return Err(Refusal::new(format!(
            "{disagree}: a job is switching them; {why}"
        )));
    }
    Ok(Repair {
        who: format!("touban job {} of {} (step {})", h.job, h.identity, h.step),
        job: h.job.clone(),
        from,
        to,
        live_is_from: !matches!(request.kind, ActionKind::BlueGreen { image: None, .. }),
    })
}

fn colour_of(d: &DeploymentRow) -> Option<&str> {
    d.color.as_deref()
}

/// Reads the release named by the request from what was seen, refusing
/// what rule 1 refuses.
pub(super) fn read<'a>(request: &ActionRequest, seen: &'a Seen) -> Result<Read<'a>, Refusal> {
    read_app(request, &request.target.name, seen)
}

/// Reads the release of `app` in the request's namespace.
pub(super) fn read_app<'a>(
    request: &ActionRequest,
    app: &str,
    seen: &'a Seen,
) -> Result<Read<'a>, Refusal> {
    let t = &request.target;
    let services: Vec<&ServiceRow> = seen
        .services
        .iter()
        .filter(|s| s.namespace == t.namespace && s.selects("app") == Some(app))
        .collect();
    if services.is_empty() {
        return Err(Refusal::new(format!(
            "no Service in {} of {} selects app={app}: there is no traffic to switch",
            t.namespace, t.cluster
        )));
    }
    if let Some(s) = services.iter().find(|s| s.selects("color").is_none()) {
        return Err(Refusal::new(format!(
            "Service {} selects app={app} with no color: the live colour cannot be read, and touban never assumes one",
            s.name
        )));
    }
    let colours: Vec<(&str, &str)> = services
        .iter()
        .filter_map(|s| Some((s.name.as_str(), s.selects("color")?)))
        .collect();
    let mut live = colours.first().map_or("", |(_, c)| *c);
    let mut repair = None;
    if colours.iter().any(|(_, c)| *c != live) {
        let r = half_switched(request, app, &colours, seen)?;
        let want = if r.live_is_from { &r.from } else { &r.to };
        // Both colours are some Service's: the disagreement.
        live = colours
            .iter()
            .map(|(_, c)| *c)
            .find(|c| c == want)
            .unwrap_or(live);
        repair = Some(r);
    }
    let of_app: Vec<&DeploymentRow> = seen
        .deployments
        .iter()
        .filter(|d| d.namespace == t.namespace && d.app.as_deref() == Some(app))
        .collect();
    let Some(live_d) = of_app.iter().copied().find(|d| colour_of(d) == Some(live)) else {
        return Err(Refusal::new(format!(
            "the Services route to {live}, but no deployment of {app} has color={live}"
        )));
    };
    let idle: Vec<&DeploymentRow> = of_app
        .iter()
        .copied()
        .filter(|d| colour_of(d).is_some_and(|c| c != live))
        .collect();
    let [idle_d] = idle.as_slice() else {
        return Err(Refusal::new(format!(
            "{app} has {} deployments of a colour other than {live}; a blue-green deploy needs exactly one",
            idle.len()
        )));
    };
    Ok(Read {
        services,
        live,
        live_d,
        idle: colour_of(idle_d).unwrap_or_default(),
        idle_d,
        repair,
    })
}

fn step(
    title: String,
    kind: StepKind,
    precondition: String,
    call: String,
    expect: String,
) -> PlannedStep {
    PlannedStep {
        title,
        kind,
        precondition,
        call,
        expect,
    }
}

/// The image the idle colour is to run: the one asked for (not the live
/// colour's), or for a revert the one it runs; refused when it cannot be.
fn image_to_deploy(r: &Read<'_>, app: &str, image: Option<&str>) -> Result<String, Refusal> {
    let (live_d, idle_d, idle) = (r.live_d, r.idle_d, r.idle);
    match image {
        // Finishing an interrupted switch: the colour half-live keeps the
        // image it runs (a new one would roll pods that take traffic).
        Some(image) if r.repair.is_some() && image != idle_d.image => Err(Refusal::instead(
            format!(
                "{app} is half-switched from {live} to {idle}, whose pods take traffic: a new image would replace them under it",
                live = r.live,
                idle = r.idle
            ),
            format!(
                "finish the switch with {idle_image} (the image {idle} runs), or revert (V) to {live}; then deploy {image}",
                idle_image = idle_d.image,
                live = r.live,
                idle = r.idle
            ),
        )),
        Some(image) => {
            check_image(image).map_err(Refusal::new)?;
            if image == live_d.image {
                return Err(Refusal::new(format!(
                    "{} (live) already runs {image}: nothing to deploy",
                    live_d.name
                )));
            }
            Ok(image.to_owned())
        }
        None if idle_d.desired == 0 || idle_d.ready == 0 => Err(Refusal::instead(
            format!(
                "{} is scaled to 0: there are no {idle} pods to switch back to",
                idle_d.name
            ),
            format!(
                "a revert is only while the old colour is still scaled: deploy {} again instead",
                idle_d.image
            ),
        )),
        None => Ok(idle_d.image.clone()),
    }
}

/// The plan for deploying `image` to the request's release (none: switch
/// back to the idle colour as it is, the revert), the old colour kept
/// scaled for `delay`.
pub fn plan(
    request: &ActionRequest,
    image: Option<&str>,
    delay: Duration,
    seen: &Seen,
) -> Result<Job, Refusal> {
    let r = read(request, seen)?;
    let t = &request.target;
    let app = t.name.as_str();
    let (live, idle) = (r.live, r.idle);
    let (live_d, idle_d) = (r.live_d, r.idle_d);
    let to_image = image_to_deploy(&r, app, image)?;
    let replicas = live_d.desired.max(1);
    let hpa = seen.hpas.iter().find(|h| {
        h.namespace == t.namespace && h.target_kind == "Deployment" && h.target == live_d.name
    });
    let mut built = switch_steps(&r, t, &to_image, replicas);
    after_switch(&mut built, &r, &t.namespace, hpa, delay);
    let Built {
        steps,
        ops,
        changes,
    } = built;
    let title = match (&r.repair, image) {
        (Some(repair), Some(_)) => format!(
            "repair {app}: finish the switch {live} → {idle} that {} left half-done ({to_image})",
            repair.who
        ),
        (Some(repair), None) => format!(
            "repair {app}: switch back to {idle}, undoing the switch {} left half-done ({})",
            repair.who, idle_d.image
        ),
        (None, Some(_)) => {
            format!("deploy {to_image} to {app}: {idle} gets it, traffic {live} → {idle}")
        }
        (None, None) => format!("revert {app}: traffic {live} → {idle} ({})", idle_d.image),
    };
    let plan = Plan {
        request: request.clone(),
        title,
        steps,
        // Switching traffic in the primary region needs the name typed.
        confirm_text: seen.primary.then(|| app.to_owned()),
        undo: Some(format!(
            "revert: switch {app} back to {live} while {} is still scaled (the next {} s)",
            live_d.name,
            delay.as_secs()
        )),
        reason: None,
        changes,
        dry_run: None,
        undo_request: None,
        // A revert of an interrupted switch reverts the job that made it.
        reverts: r
            .repair
            .as_ref()
            .filter(|_| image.is_none())
            .map(|repair| repair.job.clone()),
        lease: None,
        lease_override: None,
    };
    Ok(Job {
        plan,
        ops: ops.into_iter().map(Op::Release).collect(),
        access: vec![
            Access::new("list", "", "services"),
            Access::new("patch", "", "services"),
            Access::new("list", "apps", "deployments"),
            Access::new("patch", "apps", "deployments"),
            Access::new("patch", "apps", "deployments").sub("scale"),
            Access::new("get", "", "endpoints"),
            Access::new("list", "", "pods"),
            Access::new("list", "autoscaling", "horizontalpodautoscalers"),
            Access::new("patch", "autoscaling", "horizontalpodautoscalers"),
        ],
    })
}

/// What a plan is made of, step for step.
struct Built {
    steps: Vec<PlannedStep>,
    ops: Vec<ReleaseOp>,
    changes: Vec<String>,
}

/// The first step: the Services route to the live colour (or, repairing
/// an interrupted switch, to either colour).
fn check_step(r: &Read<'_>, t: &Target, names: &str) -> PlannedStep {
    let (live, idle) = (r.live, r.idle);
    let ns = &t.namespace;
    match &r.repair {
        None => step(
            format!("check {names} route to {live}"),
            StepKind::Check,
            format!("every Service of {} selects color={live}", t.name),
            format!("GET /api/v1/namespaces/{ns}/services"),
            format!("{live} live, {idle} idle"),
        ),
        Some(repair) => step(
            format!("check {names} route to {live} or {idle}"),
            StepKind::Check,
            format!(
                "every Service of {} selects color={live} or color={idle}, as {} left them",
                t.name, repair.who
            ),
            format!("GET /api/v1/namespaces/{ns}/services"),
            format!("half-switched: each Service on {idle} stays, the rest move"),
        ),
    }
}

/// The deploy and the switch: the idle colour prepared and saturated,
/// the selectors switched, the Endpoints followed.
fn switch_steps(r: &Read<'_>, t: &Target, to_image: &str, replicas: i32) -> Built {
    let (live, idle) = (r.live, r.idle);
    let idle_d = r.idle_d;
    let services: Vec<String> = r.services.iter().map(|s| s.name.clone()).collect();
    let names = services.join(", ");
    let ns = &t.namespace;
    let deployments = format!("/apis/apps/v1/namespaces/{ns}/deployments");
    let check = check_step(r, t, &names);
    let steps = vec![
        check,
        step(
            format!("{} gets {to_image} and {replicas} replicas", idle_d.name),
            StepKind::Mutate,
            format!(
                "{} still runs {} with {} replicas",
                idle_d.name, idle_d.image, idle_d.desired
            ),
            format!(
                "PATCH {deployments}/{} (JSON patch: test the image and replicas, then replace them)",
                idle_d.name
            ),
            format!("the {idle} template runs {to_image}"),
        ),
        step(
            format!("wait until every {} pod is Ready", idle_d.name),
            StepKind::Verify,
            "the change was accepted".into(),
            format!("GET {deployments}/{} until saturated", idle_d.name),
            format!(
                "{replicas} of {replicas} updated, Ready and available, no old pod, within {} s",
                SATURATE.as_secs()
            ),
        ),
        step(
            format!("switch {names} from {live} to {idle}"),
            StepKind::Mutate,
            format!("every {} pod is Ready", idle_d.name),
            format!(
                "PATCH /api/v1/namespaces/{ns}/services/… (JSON patch: test color={live}, replace with {idle})"
            ),
            format!("each selector color={idle}"),
        ),
        step(
            format!("wait for the Endpoints to hold {idle} pods only"),
            StepKind::Verify,
            "the selectors were switched".into(),
            format!("GET /api/v1/namespaces/{ns}/endpoints/… until they follow"),
            format!(
                "every address a Ready {idle} pod, within {} s",
                ENDPOINTS.as_secs()
            ),
        ),
    ];
    let ops = vec![
        ReleaseOp::ExpectLive {
            services: services.clone(),
            live: live.to_owned(),
            idle: idle.to_owned(),
            mixed: r.repair.is_some(),
        },
        ReleaseOp::Prepare {
            deployment: idle_d.name.clone(),
            image: (idle_d.image.clone(), to_image.to_owned()),
            replicas: (idle_d.desired, replicas),
        },
        ReleaseOp::AwaitSaturated {
            deployment: idle_d.name.clone(),
            replicas,
            within: SATURATE,
        },
        ReleaseOp::Switch {
            services: services.clone(),
            from: live.to_owned(),
            to: idle.to_owned(),
            deployment: idle_d.name.clone(),
        },
        ReleaseOp::AwaitEndpoints {
            services: services.clone(),
            colour: idle.to_owned(),
            within: ENDPOINTS,
        },
    ];
    let changes = switch_changes(idle_d, to_image, replicas, &services, (live, idle));
    Built {
        steps,
        ops,
        changes,
    }
}

/// What the deploy and the switch change, field by field.
fn switch_changes(
    idle_d: &DeploymentRow,
    to_image: &str,
    replicas: i32,
    services: &[String],
    (live, idle): (&str, &str),
) -> Vec<String> {
    let mut changes = Vec::new();
    if idle_d.image != to_image {
        changes.push(format!(
            "{}: image {} → {to_image}",
            idle_d.name, idle_d.image
        ));
    }
    if idle_d.desired != replicas {
        changes.push(format!(
            "{}: spec.replicas {} → {replicas}",
            idle_d.name, idle_d.desired
        ));
    }
    changes.extend(
        services
            .iter()
            .map(|s| format!("{s}: spec.selector.color {live} → {idle}")),
    );
    changes
}

/// After the switch: the HPA retargeted, the old colour held, then
/// retired.
fn after_switch(b: &mut Built, r: &Read<'_>, ns: &str, hpa: Option<&HpaRow>, delay: Duration) {
    let (live, idle_d, live_d) = (r.live, r.idle_d, r.live_d);
    let services: Vec<String> = r.services.iter().map(|s| s.name.clone()).collect();
    let deployments = format!("/apis/apps/v1/namespaces/{ns}/deployments");
    let (steps, ops, changes) = (&mut b.steps, &mut b.ops, &mut b.changes);
    if let Some(h) = hpa {
        steps.push(step(
            format!("retarget {} from {} to {}", h.name, live_d.name, idle_d.name),
            StepKind::Mutate,
            format!("{} still scales {}", h.name, live_d.name),
            format!(
                "PATCH /apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/{} (JSON patch: test, replace scaleTargetRef.name)",
                h.name
            ),
            format!("{} scales {}", h.name, idle_d.name),
        ));
        ops.push(ReleaseOp::Retarget {
            hpa: h.name.clone(),
            from: live_d.name.clone(),
            to: idle_d.name.clone(),
        });
        changes.push(format!(
            "{}: scaleTargetRef {} → {}",
            h.name, live_d.name, idle_d.name
        ));
    }
    steps.push(step(
        format!(
            "keep {} scaled for {} s (revert: switch back)",
            live_d.name,
            delay.as_secs()
        ),
        StepKind::Verify,
        "traffic is on the new colour".into(),
        "no call: a wait".into(),
        format!(
            "{} s pass; cancel to keep {} scaled",
            delay.as_secs(),
            live_d.name
        ),
    ));
    ops.push(ReleaseOp::Hold {
        deployment: live_d.name.clone(),
        delay,
    });
    steps.push(step(
        format!("scale {} to 0", live_d.name),
        StepKind::Mutate,
        format!("no Service routes to {live}"),
        format!(
            "PATCH {deployments}/{}/scale, then GET until its pods are gone",
            live_d.name
        ),
        format!("no {live} pod left, within {} s", RETIRE.as_secs()),
    ));
    ops.push(ReleaseOp::Retire {
        deployment: live_d.name.clone(),
        colour: live.to_owned(),
        services: services.clone(),
        within: RETIRE,
    });
    changes.push(format!(
        "{}: spec.replicas {} → 0 after {} s",
        live_d.name,
        live_d.desired,
        delay.as_secs()
    ));
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::model::action::{ActionKind, ObjectKind, Target};
    use crate::model::cluster::HpaRow;

    fn request(image: Option<&str>) -> ActionRequest {
        ActionRequest {
            kind: ActionKind::BlueGreen {
                image: image.map(str::to_owned),
                scale_down_delay: DEFAULT_DELAY,
            },
            target: Target {
                region: "tokyo".into(),
                cluster: "eks-tokyo".into(),
                namespace: "prod".into(),
                kind: ObjectKind::Release,
                name: "web".into(),
            },
            dry_run: false,
        }
    }

    fn deployment(colour: &str, replicas: i32, image: &str) -> DeploymentRow {
        DeploymentRow {
            namespace: "prod".into(),
            name: format!("web-{colour}"),
            desired: replicas,
            ready: replicas,
            updated: replicas,
            available: replicas,
            replicas,
            image: image.into(),
            color: Some(colour.into()),
            app: Some("web".into()),
            ..DeploymentRow::default()
        }
    }

    fn service(name: &str, colour: Option<&str>) -> ServiceRow {
        let mut selector = vec![("app".to_owned(), "web".to_owned())];
        if let Some(c) = colour {
            selector.push(("color".to_owned(), c.to_owned()));
        }
        ServiceRow {
            namespace: "prod".into(),
            name: name.into(),
            app: Some("web".into()),
            selector,
        }
    }

    fn seen(services: Vec<ServiceRow>) -> Seen {
        Seen {
            deployments: vec![
                deployment("blue", 4, "web:1.0"),
                deployment("green", 0, "web:0.9"),
            ],
            services,
            hpas: vec![HpaRow {
                namespace: "prod".into(),
                name: "web-hpa".into(),
                target_kind: "Deployment".into(),
                target: "web-blue".into(),
                min: 2,
                max: 8,
                ..HpaRow::default()
            }],
            primary: true,
            ..Seen::default()
        }
    }

    #[test]
    fn the_idle_colour_is_saturated_before_the_switch_and_the_hpa_follows() {
        let job = plan(
            &request(Some("web:1.1")),
            Some("web:1.1"),
            DEFAULT_DELAY,
            &seen(vec![service("web-svc", Some("blue"))]),
        )
        .expect("a plan");
        let kinds: Vec<&str> = job
            .ops
            .iter()
            .map(|op| match op {
                Op::Release(ReleaseOp::ExpectLive { .. }) => "expect",
                Op::Release(ReleaseOp::Prepare { .. }) => "prepare",
                Op::Release(ReleaseOp::AwaitSaturated { .. }) => "saturate",
                Op::Release(ReleaseOp::Switch { .. }) => "switch",
                Op::Release(ReleaseOp::AwaitEndpoints { .. }) => "endpoints",
                Op::Release(ReleaseOp::Retarget { .. }) => "retarget",
                Op::Release(ReleaseOp::Hold { .. }) => "hold",
                Op::Release(ReleaseOp::Retire { .. }) => "retire",
                _ => "other",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "expect",
                "prepare",
                "saturate",
                "switch",
                "endpoints",
                "retarget",
                "hold",
                "retire"
            ]
        );
        assert_eq!(job.plan.steps.len(), job.ops.len());
        assert!(matches!(
            &job.ops[1],
            Op::Release(ReleaseOp::Prepare { replicas: (0, 4), image, .. }) if image.1 == "web:1.1"
        ));
        assert_eq!(job.plan.confirm_text.as_deref(), Some("web"));
        assert!(
            job.plan
                .changes
                .contains(&"web-svc: spec.selector.color blue → green".to_owned())
        );
        assert!(
            job.plan
                .changes
                .contains(&"web-hpa: scaleTargetRef web-blue → web-green".to_owned())
        );
    }

    #[test]
    fn the_live_colour_is_read_never_assumed() {
        let no_colour = plan(
            &request(Some("web:1.1")),
            Some("web:1.1"),
            DEFAULT_DELAY,
            &seen(vec![service("web-svc", None)]),
        )
        .expect_err("refused");
        assert!(no_colour.why.contains("never assumes"), "{no_colour:?}");
        let disagree = plan(
            &request(Some("web:1.1")),
            Some("web:1.1"),
            DEFAULT_DELAY,
            &seen(vec![
                service("web-svc", Some("blue")),
                service("web-internal", Some("green")),
            ]),
        )
        .expect_err("refused");
        assert!(disagree.why.contains("disagree"), "{disagree:?}");
        let none = plan(
            &request(Some("web:1.1")),
            Some("web:1.1"),
            DEFAULT_DELAY,
            &seen(vec![]),
        )
        .expect_err("refused");
        assert!(none.why.contains("no Service"), "{none:?}");
    }

    #[test]
    fn bad_images_and_reverts_to_nothing_are_refused() {
        let services = vec![service("web-svc", Some("blue"))];
        for bad in ["web:1.1 ", "Web Frontend", "web::1", "", "web@sha256:zz"] {
            assert!(
                plan(
                    &request(Some(bad)),
                    Some(bad),
                    DEFAULT_DELAY,
                    &seen(services.clone())
                )
                .is_err(),
                "{bad:?} is not an image"
            );
        }
        for good in ["web:1.1", "registry.example.com:5000/team/web:1.1", "web"] {
            assert!(check_image(good).is_ok(), "{good}");
        }
        let revert =
            plan(&request(None), None, DEFAULT_DELAY, &seen(services)).expect_err("green is at 0");
        assert!(revert.why.contains("scaled to 0"), "{revert:?}");
    }

    /// A release a touban job left half-switched (its Lease, run out,
    /// names the switch blue → green): a revert goes back to blue, a
    /// deploy of green's own image finishes the switch, a new image is
    /// refused; anything else that disagrees stays refused.
    #[test]
    fn services_left_half_switched_by_an_interrupted_job_lead_to_its_repair() {
        let half = || {
            let mut s = seen(vec![
                service("web-svc", Some("green")),
                service("web-internal", Some("blue")),
            ]);
            s.deployments = vec![
                deployment("blue", 4, "web:1.0"),
                deployment("green", 4, "web:1.1"),
            ];
            let long_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(120);
            s.lease = Some(crate::exec::lease::Holder {
                identity: "aiko@bastion-1".into(),
                job: "20261202T100000Z-41/3".into(),
                action: "deploy web:1.1 to web".into(),
                step: "4/8".into(),
                switch: Some(("blue".into(), "green".into())),
                acquired: long_ago,
                renewed: long_ago,
                duration: crate::exec::lease::DURATION,
            });
            s
        };
        let back = plan(&request(None), None, DEFAULT_DELAY, &half()).expect("a repair");
        assert!(
            back.plan
                .title
                .starts_with("repair web: switch back to blue")
                && back.plan.title.contains("aiko@bastion-1"),
            "{}",
            back.plan.title
        );
        assert!(matches!(
            &back.ops[0],
            Op::Release(ReleaseOp::ExpectLive { live, idle, mixed: true, .. })
                if live == "green" && idle == "blue"
        ));
        assert!(back.ops.iter().any(|op| matches!(
            op,
            Op::Release(ReleaseOp::Switch { from, to, .. }) if from == "green" && to == "blue"
        )));
        let forward = plan(
            &request(Some("web:1.1")),
            Some("web:1.1"),
            DEFAULT_DELAY,
            &half(),
        )
        .expect("a repair");
        assert!(
            forward
                .plan
                .title
                .contains("finish the switch blue → green"),
            "{}",
            forward.plan.title
        );
        let new_image = plan(
            &request(Some("web:1.2")),
            Some("web:1.2"),
            DEFAULT_DELAY,
            &half(),
        )
        .expect_err("refused");
        assert!(new_image.why.contains("half-switched"), "{new_image:?}");

        // The job still holds its Lease: it is switching, not interrupted.
        let mut running = half();
        if let Some(h) = running.lease.as_mut() {
            h.renewed = jiff::Timestamp::now();
        }
        let busy = plan(&request(None), None, DEFAULT_DELAY, &running).expect_err("refused");
        assert!(busy.why.contains("locked by aiko@bastion-1"), "{busy:?}");

        // A Lease of another switch: nothing says these Services were ours.
        let mut other = half();
        if let Some(h) = other.lease.as_mut() {
            h.switch = Some(("green".into(), "red".into()));
        }
        let refused = plan(&request(None), None, DEFAULT_DELAY, &other).expect_err("refused");
        assert!(refused.why.contains("cannot be read"), "{refused:?}");
    }
}
