//! Rolling changes against the sandbox through kube-rs: a rolling deploy
//! (set-image) followed until every replica runs the new image; one whose
//! image cannot be pulled stalls past its progress deadline, fails, and
//! offers the undo; the undo writes back the revision before and rolls it
//! out. A resume after the write writes nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use touban::exec::audit::AuditLog;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::runner::{self, Who};
use touban::model::JobOutcome;
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};

mod common;

const NS: &str = "iworkz-production";

fn request(kind: ActionKind) -> ActionRequest {
    ActionRequest {
        kind,
        target: Target {
            region: "tokyo".into(),
            cluster: "eks-tokyo".into(),
            namespace: NS.into(),
            kind: ObjectKind::Deployment,
            name: "web-frontend-blue".into(),
        },
        dry_run: false,
    }
}

fn image_of(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()?
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .image
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_deploy_rolls_out_a_stall_offers_the_undo_and_the_undo_rolls_back() {
    let sandbox = common::calm(41, 10.0).await;
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let backend = KubeBackend::new(BTreeMap::from([("eks-tokyo".to_owned(), client.clone())]));
    let deployments: Api<Deployment> = Api::namespaced(client, NS);
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("log");
    let who = Who::new("sandbox", "test@touban");
    let run = |job, id, resume| {
        let (backend, audit, who) = (&backend, &audit, &who);
        async move {
            tokio::time::timeout(
                Duration::from_secs(120),
                common::exec::run_job(backend, &job, id, audit, who, resume),
            )
            .await
            .expect("ends within two minutes")
            .0
        }
    };

    // The rolling deploy: the live colour, so the plan says it is not
    // blue-green and asks for the name.
    let to = "iworkz/web-frontend:3.2.1";
    let job = runner::prepare(
        &backend,
        &request(ActionKind::SetImage { image: to.into() }),
        true,
    )
    .await
    .expect("a plan");
    assert_eq!(job.plan.confirm_text.as_deref(), Some("web-frontend-blue"));
    assert!(
        job.plan
            .changes
            .iter()
            .any(|c| c.contains("not blue-green")),
        "{:?}",
        job.plan.changes
    );
    assert_eq!(run(job.clone(), 1, false).await, JobOutcome::Succeeded);
    let d = deployments.get("web-frontend-blue").await.expect("get");
    assert_eq!(image_of(&d).as_deref(), Some(to));
    let status = d.status.expect("status");
    assert_eq!(
        (status.replicas, status.updated_replicas),
        (Some(4), Some(4))
    );
    // Resumed after its write: nothing written again.
    assert_eq!(run(job, 1, true).await, JobOutcome::Succeeded);

    // An image that cannot be pulled, with a short progress deadline:
    // stalled, failed, the undo offered.
    deployments
        .patch(
            "web-frontend-blue",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(serde_json::json!({"spec": {"progressDeadlineSeconds": 20}})),
        )
        .await
        .expect("a short deadline");
    let bad = "iworkz/web-frontend:does-not-exist";
    let job = runner::prepare(
        &backend,
        &request(ActionKind::SetImage { image: bad.into() }),
        true,
    )
    .await
    .expect("a plan");
    let undo = job.plan.undo_request.clone().expect("an undo to offer");
    let outcome = run(job, 2, false).await;
    assert!(
        matches!(&outcome, JobOutcome::Failed(why) if why.contains("step 3 of 3") && why.contains("exceeded its progress deadline") && why.contains("to undo what was done")),
        "{outcome:?}"
    );
    let ActionKind::Undo { revision } = undo.kind else {
        panic!("the undo is an undo: {undo:?}");
    };

    // The undo offered: the revision before, rolled out again.
    let job = runner::prepare(&backend, &undo, true)
        .await
        .expect("an undo plan");
    assert!(
        job.plan
            .title
            .contains(&format!("revision {revision} ({to})")),
        "{}",
        job.plan.title
    );
    assert_eq!(run(job, 3, false).await, JobOutcome::Succeeded);
    let d = deployments.get("web-frontend-blue").await.expect("get");
    assert_eq!(image_of(&d).as_deref(), Some(to));
    let status = d.status.expect("status");
    assert_eq!(
        (status.replicas, status.available_replicas),
        (Some(4), Some(4))
    );

    // An undo to a revision that is not there is refused.
    let none = runner::prepare(&backend, &request(ActionKind::Undo { revision: 99 }), true)
        .await
        .expect_err("refused");
    assert!(none.why.contains("no revision 99"), "{none:?}");
}

/// The console's side: `:set-image` on the Rollouts pane's deployment
/// goes to the executor; when the job fails, the plan's undo is offered in
/// a dialog, and confirming it plans the undo (nothing runs before its own
/// confirmation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rolling_deploy_offers_its_undo_in_the_console() {
    use touban::app::{Effect, Event};
    use touban::model::{ExecCommand, JobEvent, Key, KeyCode};
    let (sandbox, _dir, mut app, mut rx) = common::watched(42).await;
    let mut effects = Vec::new();
    let mut typed = |app: &mut touban::app::App, text: &str| {
        for c in text.chars() {
            effects.extend(app.handle(Event::Key(Key::char(c))));
        }
    };
    typed(&mut app, "5/web-frontend-blue");
    app.handle(Event::Key(Key::plain(KeyCode::Enter)));
    // Both clusters' rows under the filter, wherever their listings put
    // Tokyo's.
    common::until(&mut app, &mut rx, "both clusters listed", |a| {
        a.rollout_rows()
            .iter()
            .filter(|(_, d)| d.name == "web-frontend-blue")
            .count()
            == 2
    })
    .await;
    let tokyo = app
        .rollout_rows()
        .iter()
        .filter(|(_, d)| d.name == "web-frontend-blue")
        .position(|(c, _)| *c == "eks-tokyo")
        .expect("Tokyo's row");
    for _ in 0..tokyo {
        app.handle(Event::Key(Key::plain(KeyCode::Down)));
    }
    typed(&mut app, ":set-image iworkz/web-frontend:3.2.1");
    effects.extend(app.handle(Event::Key(Key::plain(KeyCode::Enter))));
    let Some((id, request)) = effects.iter().find_map(|e| match e {
        Effect::Exec(ExecCommand::Plan { id, request }) => Some((*id, request.clone())),
        _ => None,
    }) else {
        panic!("a plan asked for: {effects:?}");
    };
    assert_eq!(request.target.name, "web-frontend-blue");
    assert_eq!(request.target.cluster, "eks-tokyo", "Tokyo's row selected");
    // The executor's answer, from the sandbox itself.
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let backend = KubeBackend::new(BTreeMap::from([("eks-tokyo".to_owned(), client)]));
    let plan = runner::prepare(&backend, &request, true)
        .await
        .map(|job| job.plan);
    app.handle(Event::Job(JobEvent::Planned {
        id,
        plan: Box::new(plan),
    }));
    // Confirmed as an operator would: the live colour's name typed (a
    // rolling change of live pods in the primary), then the reason.
    common::confirm_typed(&mut app, id, "web-frontend-blue", "3.2.1 fixes the login");
    app.handle(Event::Job(JobEvent::Finished {
        id,
        outcome: JobOutcome::Failed("step 3 of 3: stalled".into()),
        at: std::time::SystemTime::now(),
    }));
    let screen = common::text(&common::render(&app, 160, 48));
    assert!(screen.contains("Failed: undo it?"), "{screen}");
    assert!(
        screen.contains("Undo: undo web-frontend-blue to revision 1"),
        "{screen}"
    );
    let mut effects = app.handle(Event::Key(Key::plain(KeyCode::Tab)));
    effects.extend(app.handle(Event::Key(Key::plain(KeyCode::Enter))));
    assert!(
        effects.iter().any(|e| matches!(e,
            Effect::Exec(ExecCommand::Plan { request, .. })
                if request.kind == ActionKind::Undo { revision: 1 })),
        "{effects:?}"
    );
}

/// The Rollouts pane's revision list is where an undo is chosen: `[` and
/// `]` move the choice over the revisions shown (marked `›`), `u` plans
/// the undo to it at once; another row forgets the choice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undo_is_chosen_from_the_revision_list() {
    use touban::app::{Effect, Event};
    use touban::model::{ExecCommand, Key, KeyCode};
    let (sandbox, _dir, mut app, mut rx) = common::watched(43).await;
    // Two rolling deploys, one after the other: revisions 2 and 3 of
    // Tokyo's web-frontend-blue.
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let deployments: Api<Deployment> = Api::namespaced(client, NS);
    let typed = |app: &mut touban::app::App, text: &str| {
        for c in text.chars() {
            app.handle(Event::Key(Key::char(c)));
        }
    };
    typed(&mut app, "5/web-frontend-blue");
    app.handle(Event::Key(Key::plain(KeyCode::Enter)));
    let tokyo_revision = |a: &touban::app::App| {
        a.rollout_rows()
            .iter()
            .find(|(c, d)| *c == "eks-tokyo" && d.name == "web-frontend-blue")
            .and_then(|(_, d)| d.revision)
    };
    for (tag, revision) in [("3.2.1", 2), ("3.2.2", 3)] {
        let mut d = deployments.get("web-frontend-blue").await.expect("get");
        if let Some(c) = d
            .spec
            .as_mut()
            .and_then(|s| s.template.spec.as_mut())
            .and_then(|p| p.containers.first_mut())
        {
            c.image = Some(format!("iworkz/web-frontend:{tag}"));
        }
        deployments
            .replace("web-frontend-blue", &kube::api::PostParams::default(), &d)
            .await
            .expect("replace");
        common::until(&mut app, &mut rx, "the next revision in Tokyo", |a| {
            tokyo_revision(a) == Some(revision)
        })
        .await;
    }
    let tokyo = app
        .rollout_rows()
        .iter()
        .position(|(c, d)| *c == "eks-tokyo" && d.name == "web-frontend-blue")
        .expect("Tokyo's row");
    for _ in 0..tokyo {
        app.handle(Event::Key(Key::plain(KeyCode::Down)));
    }
    assert_eq!(app.picked_revision(), None);
    for key in ['[', '[', ']'] {
        app.handle(Event::Key(Key::char(key)));
    }
    assert_eq!(app.picked_revision(), Some(2), "older, older, newer");
    let screen = common::text(&common::render(&app, 160, 48));
    assert!(
        screen
            .lines()
            .any(|l| l.contains("›") && l.contains("web-frontend:3.2.1")),
        "{screen}"
    );
    let effects = app.handle(Event::Key(Key::char('u')));
    assert!(
        effects.iter().any(|e| matches!(e,
            Effect::Exec(ExecCommand::Plan { request, .. })
                if request.kind == ActionKind::Undo { revision: 2 }
                    && request.target.cluster == "eks-tokyo")),
        "{effects:?}"
    );
    // Another row: the choice is forgotten.
    let other = if tokyo == 0 {
        KeyCode::Down
    } else {
        KeyCode::Up
    };
    app.handle(Event::Key(Key::plain(other)));
    assert_eq!(app.picked_revision(), None);
}
