//! The region runbook as one executor job, against the sandbox: the
//! console makes its parts from what its sources read (Seoul's workloads
//! below Tokyo's replicas, the Azure replica, Tokyo's pool), the executor
//! plans each as the action it is and runs them in order, then waits
//! until Seoul's pool serves. Killed after the promotion was sent and
//! resumed, it promotes once, scales once, and ends as an uninterrupted
//! run would, with the run's RTO in the audit log.

use std::collections::BTreeMap;
use std::sync::Arc;

use touban::app::App;
use touban::exec::audit::AuditLog;
use touban::exec::backend::Backend;
use touban::exec::backend::azure::Arm;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::runner::{self, Who};
use touban::model::action::{ActionKind, ActionRequest, ObjectKind};
use touban::model::readiness::Mark;
use touban::model::{JobEvent, JobOutcome};
use touban::sandbox::Scenario;
use touban::sandbox::azure::SERVER;
use touban::sandbox::cloudflare::POOLS;
use touban::sandbox::world::{APP_PASSWORD, APP_SECRET, TOKYO_DB_HOST};
use touban::sources::traffic::Cloudflare;

mod common;

fn every_source_live(app: &App) -> bool {
    app.platform()
        .source_ids()
        .iter()
        .all(|id| app.source(&id.region, id.kind, &id.name).is_live())
}

/// The executor's backend as the console makes it for the sandbox's
/// config: its clusters, its load balancer, its Azure server.
fn backend(app: &App) -> KubeBackend {
    let p = app.platform();
    let db = p
        .databases
        .iter()
        .find(|d| d.name.get_ref() == SERVER)
        .expect("Korea's database");
    let arm = Arm::new(
        db.azure.as_ref().expect("azure"),
        db.exporter.as_ref().map(|e| e.get_ref().clone()),
    );
    KubeBackend::for_clusters(&p.clusters)
        .with_traffic(Cloudflare::new(p.traffic.as_ref().expect("[traffic]")))
        .with_azure(BTreeMap::from([(SERVER.to_owned(), arm)]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: parts, plan, kill, resume, serve
async fn the_region_runbook_runs_as_one_job_and_a_kill_after_the_promotion_resumes_to_the_end() {
    let (sandbox, _dir, mut app, mut rx) = common::console_in(Scenario::Calm, 41).await;
    common::until(&mut app, &mut rx, "every source live", every_source_live).await;
    common::until(&mut app, &mut rx, "the pools and the lag read", |a| {
        a.readiness().first().is_some_and(|r| {
            ["traffic", "replication"].iter().all(|area| {
                r.checks
                    .iter()
                    .any(|c| c.area == *area && c.mark == Mark::Ok)
            })
        })
    })
    .await;

    // Nothing to fail back while Tokyo serves.
    let refused = app.failback_request("").expect_err("Tokyo serves");
    assert!(refused.contains("is enabled: Tokyo serves"), "{refused}");

    // The parts, from what the console reads.
    let request = app.region_request("").expect("a runbook");
    let ActionKind::RegionFailover {
        from,
        to,
        parts,
        serving,
        by_hand,
        back: false,
        undo: false,
    } = &request.kind
    else {
        panic!("{request:?}")
    };
    assert_eq!((from.as_str(), to.as_str()), ("tokyo", "korea"));
    let scaled: Vec<&ActionRequest> = parts
        .iter()
        .filter(|p| {
            p.target.cluster == "aks-korea"
                && matches!(
                    p.kind,
                    ActionKind::Scale { .. } | ActionKind::HpaBounds { .. }
                )
        })
        .collect();
    assert!(!scaled.is_empty(), "Seoul runs fewer replicas: {parts:#?}");
    assert!(
        parts.iter().any(|p| p.kind
            == ActionKind::PromoteReplica {
                primary: "iworkz-production-postgres".into(),
                forced: false
            }),
        "Tokyo's database answers: a planned promotion: {parts:#?}"
    );
    // After the promotion, Seoul's backend is re-pointed at its own
    // database: the Secret's DATABASE_URL, then both colours restarted.
    let promoted = parts
        .iter()
        .position(|p| matches!(p.kind, ActionKind::PromoteReplica { .. }))
        .expect("the promotion");
    let repoint = &parts[promoted + 1];
    assert_eq!(
        (
            &repoint.kind,
            repoint.target.kind,
            repoint.target.name.as_str()
        ),
        (
            &ActionKind::Repoint {
                key: "DATABASE_URL".into(),
                host: format!("{SERVER}.postgres.database.azure.com:5432"),
                restart: vec!["backend-api-blue".into(), "backend-api-green".into()],
            },
            ObjectKind::Secret,
            APP_SECRET
        )
    );
    assert_eq!(
        parts.last().map(|p| (&p.kind, p.target.name.as_str())),
        Some((&ActionKind::TrafficPool { enabled: false }, POOLS[0].1))
    );
    assert_eq!(serving.as_ref().map(|s| s.name.as_str()), Some(POOLS[1].1));
    assert!(
        by_hand.iter().any(|h| h.starts_with("node groups"))
            && by_hand
                .iter()
                .any(|h| h.starts_with("fence iworkz-production-postgres"))
            && by_hand
                .iter()
                .any(|h| h.starts_with("no cache in Seoul: the cache step is skipped")),
        "{by_hand:#?}"
    );

    // One plan of every part's steps, the region's name typed.
    let backend = Arc::new(backend(&app));
    let job = runner::prepare(backend.as_ref(), &request, false)
        .await
        .expect("a plan");
    assert_eq!(job.plan.confirm_text.as_deref(), Some("korea"));
    assert!(
        job.plan
            .changes
            .iter()
            .any(|c| c.starts_with("by hand, not in this job: node groups")),
        "{:#?}",
        job.plan.changes
    );
    assert!(
        job.plan.changes.iter().any(|c| c.contains(&format!(
            "DATABASE_URL {TOKYO_DB_HOST} → {SERVER}.postgres.database.azure.com:5432 (only the host changes)"
        ))),
        "{:#?}",
        job.plan.changes
    );
    let titles: Vec<&str> = job.plan.steps.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles
            .iter()
            .filter(|t| t.contains(" · wait for the operator: "))
            .count(),
        2,
        "a gate before the promotion and one before the users move: {titles:#?}"
    );
    let promote = titles
        .iter()
        .position(|t| t.starts_with("5 · promote iworkz-dr-postgres"))
        .expect("the promotion's step");
    assert!(
        titles
            .last()
            .is_some_and(|t| t.starts_with("7 · verify korea serves")),
        "{titles:#?}"
    );
    assert!(
        job.plan
            .dry_run
            .as_deref()
            .is_some_and(|d| d.contains("every part's dry run passes")),
        "{:?}",
        job.plan.dry_run
    );
    assert_eq!(sandbox.azure_api.patches(), 0, "planning sends nothing");

    let dir = tempfile::tempdir().expect("temp");
    let audit_path = dir.path().join("audit.jsonl");
    let audit = Arc::new(AuditLog::open(&audit_path).expect("audit log"));
    let who = Who::new("sandbox", "test@touban");
    // A runbook stopped at its first gate (Korea scaled, nothing
    // promoted) is undone, and the runbook then runs from its plan.
    let gate = titles
        .iter()
        .position(|t| t.contains(" · wait for the operator: "))
        .expect("a gate");
    let mut head = job.clone();
    head.plan.steps.truncate(gate);
    head.ops.truncate(gate);
    let (outcome, events) =
        common::exec::run_job(backend.as_ref(), &head, 5, &audit, &who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    the_console_offers_the_undo(&mut app, &job, &events);
    undo_the_stopped_runbook(backend.as_ref(), &job, &scaled, &audit, &who).await;

    // Run, killed when the step after the promotion begins (the
    // promotion sent and followed to its end).
    let running = common::exec::spawn_job(
        Arc::clone(&backend),
        job.clone(),
        1,
        Arc::clone(&audit),
        who.clone(),
    );
    common::exec::kill_at_step(running, promote + 2).await;
    assert_eq!(sandbox.azure_api.patches(), 1, "promoted before the kill");

    // Resumed: every part converges; the promotion is not sent again.
    let (outcome, events) = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        common::exec::run_job(backend.as_ref(), &job, 1, &audit, &who, true),
    )
    .await
    .unwrap_or_else(|_| {
        // What it was waiting on: the audit log has every step so far.
        let log = std::fs::read_to_string(&audit_path).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(4).collect();
        panic!(
            "the runbook did not end within two minutes; the audit log's last records:\n{tail:#?}"
        )
    });
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    assert_eq!(sandbox.azure_api.patches(), 1, "not promoted twice");
    let said: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            JobEvent::StepEnded { said, .. } => Some(said.clone()),
            _ => None,
        })
        .collect();
    assert!(
        said.last()
            .is_some_and(|s| s.starts_with("korea serves: enabled, healthy")),
        "{said:#?}"
    );

    // Korea serves: its workloads at Tokyo's replicas, its database a
    // primary, Tokyo's pool disabled.
    for part in &scaled {
        let name = match (&part.kind, part.target.kind) {
            (ActionKind::Scale { replicas }, ObjectKind::Deployment) => {
                let (d, _) = backend
                    .deployment(&part.target)
                    .await
                    .expect("read")
                    .expect("there");
                assert_eq!(u32::try_from(d.desired).ok(), Some(*replicas), "{d:?}");
                d.name
            }
            (ActionKind::HpaBounds { min: Some(min), .. }, ObjectKind::HorizontalPodAutoscaler) => {
                let (h, _) = backend
                    .hpa(&part.target)
                    .await
                    .expect("read")
                    .expect("there");
                assert_eq!(u32::try_from(h.min).ok(), Some(*min), "{h:?}");
                h.name
            }
            other => panic!("{other:?}"),
        };
        assert!(!name.is_empty());
    }
    // The Secret points at Seoul's server with the rest of its URL (the
    // password) as it was, which no record of the job holds; the live
    // colour's pods are new.
    let (url, _) = backend
        .config_value(&repoint.target, "DATABASE_URL")
        .await
        .expect("read")
        .expect("the Secret");
    assert_eq!(
        url.expect("the key").reveal(),
        format!(
            "postgres://iworkz_app:{APP_PASSWORD}@{SERVER}.postgres.database.azure.com:5432/iworkz?sslmode=require"
        )
    );
    let blue = touban::model::action::Target {
        kind: ObjectKind::Deployment,
        name: "backend-api-blue".into(),
        ..repoint.target.clone()
    };
    let (d, _) = backend
        .deployment(&blue)
        .await
        .expect("read")
        .expect("there");
    assert!(d.restarted_at.is_some(), "{d:?}");
    let pools =
        Cloudflare::new(app.platform().traffic.as_ref().expect("[traffic]")).expect("a client");
    assert!(!pools.status(POOLS[0].1).await.expect("read").enabled);
    let audit_text = std::fs::read_to_string(&audit_path).expect("audit log");
    assert!(
        !audit_text.contains(APP_PASSWORD),
        "the Secret's password is in the audit log"
    );
    assert!(!format!("{events:?}").contains(APP_PASSWORD));
    let end = audit_text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .rfind(|v| v["event"] == "finished")
        .expect("the end");
    // The console reads the takeover and the Overview says so: Seoul
    // serves in Tokyo's place, Tokyo's users went there.
    common::until(&mut app, &mut rx, "the takeover read", |a| {
        a.takeover().is_some()
    })
    .await;
    let t = app.takeover().expect("a takeover");
    assert_eq!((t.to.as_str(), t.from.as_str()), ("Seoul", "Tokyo"));
    assert_eq!(
        t.evidence,
        "iworkz-tokyo disabled, iworkz-korea enabled, healthy (1/1 origins), iworkz-dr-postgres primary"
    );
    let screen = common::text(&common::render(&app, 160, 48));
    assert!(
        screen.contains("DR serves in Tokyo's place · iworkz-tokyo disabled")
            && screen.contains("failed over to Seoul: its users are served there"),
        "{screen}"
    );
    // The figure the closing note quotes.
    eprintln!("figure: the runbook's end: {}", end["outcome"]);
    assert!(
        end["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("succeeded: korea serves, ")
                && o.ends_with(" s after this run began (the RTO of this run)")),
        "{end:#}"
    );
    fail_back(&mut app, &mut rx, backend.as_ref(), &audit, &who).await;
}

/// The console asks for the runbook, confirms it, sees its steps up to
/// the first gate run and the job cancelled there: it offers the undo,
/// and confirming the offer asks for the undo's plan.
fn the_console_offers_the_undo(app: &mut App, job: &touban::exec::step::Job, ran: &[JobEvent]) {
    use touban::app::{Effect, Event};
    use touban::model::{ExecCommand, Key, KeyCode};
    let mut effects = Vec::new();
    for c in ":failover-region".chars() {
        effects.extend(app.handle(Event::Key(Key::char(c))));
    }
    effects.extend(app.handle(Event::Key(Key::plain(KeyCode::Enter))));
    let id = effects
        .iter()
        .find_map(|e| match e {
            Effect::Exec(ExecCommand::Plan { id, .. }) => Some(*id),
            _ => None,
        })
        .expect("a plan asked for");
    app.handle(Event::Job(JobEvent::Planned {
        id,
        plan: Box::new(Ok(job.plan.clone())),
    }));
    common::confirm_typed(app, id, "korea", "drill of the undo");
    for e in ran {
        let e = match e.clone() {
            JobEvent::Step {
                step, index, of, ..
            } => JobEvent::Step {
                id,
                step,
                index,
                of,
            },
            JobEvent::StepEnded {
                index, ok, said, ..
            } => JobEvent::StepEnded {
                id,
                index,
                ok,
                said,
            },
            _ => continue,
        };
        app.handle(Event::Job(e));
    }
    app.handle(Event::Job(JobEvent::Finished {
        id,
        outcome: JobOutcome::Cancelled,
        at: std::time::SystemTime::now(),
    }));
    let screen = common::text(&common::render(app, 160, 48));
    assert!(
        screen.contains("The runbook stopped: undo what it changed?")
            && screen.contains("Undo: undo the failover of tokyo to korea."),
        "{screen}"
    );
    let mut effects = app.handle(Event::Key(Key::plain(KeyCode::Tab)));
    effects.extend(app.handle(Event::Key(Key::plain(KeyCode::Enter))));
    assert!(
        effects.iter().any(|e| matches!(e,
            Effect::Exec(ExecCommand::Plan { request, .. })
                if matches!(request.kind, ActionKind::RegionFailover { undo: true, .. }))),
        "{effects:?}"
    );
}

/// The undo a runbook stopped at its first gate offers: Seoul's
/// workloads put back as they were; the promotion and Tokyo's pool, past
/// the gate, said not to be undone. Planned again, nothing is left.
async fn undo_the_stopped_runbook(
    backend: &KubeBackend,
    job: &touban::exec::step::Job,
    scaled: &[&ActionRequest],
    audit: &AuditLog,
    who: &Who,
) {
    let undo = job
        .plan
        .undo_request
        .as_deref()
        .expect("the runbook offers its undo");
    let ActionKind::RegionFailover {
        parts,
        by_hand,
        undo: true,
        ..
    } = &undo.kind
    else {
        panic!("{undo:?}")
    };
    // What comes before the first gate, newest first: Seoul's workloads.
    // The pool and the promotion are past it and not undone.
    assert_eq!(parts.len(), scaled.len(), "{parts:#?}");
    let mut before: Vec<&ActionRequest> = parts.iter().collect();
    before.reverse();
    assert!(
        before.iter().zip(scaled).all(|(u, s)| u.target == s.target),
        "newest first: {parts:#?}"
    );
    assert!(
        by_hand
            .iter()
            .any(|h| h.starts_with("not undone: promote iworkz-dr-postgres"))
            && by_hand
                .iter()
                .any(|h| h.starts_with("not undone: disable ")),
        "{by_hand:#?}"
    );
    let planned = runner::prepare(backend, undo, false)
        .await
        .expect("an undo's plan");
    assert!(
        planned
            .plan
            .title
            .starts_with("undo the failover of tokyo to korea: "),
        "{}",
        planned.plan.title
    );
    assert!(
        !planned
            .plan
            .steps
            .iter()
            .any(|s| s.title.contains("wait for the operator")),
        "an undo has no gate"
    );
    let (outcome, events) = common::exec::run_job(backend, &planned, 7, audit, who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    for part in parts {
        match (&part.kind, part.target.kind) {
            (ActionKind::Scale { replicas }, ObjectKind::Deployment) => {
                let (d, _) = backend
                    .deployment(&part.target)
                    .await
                    .expect("read")
                    .expect("there");
                assert_eq!(u32::try_from(d.desired).ok(), Some(*replicas), "{d:?}");
            }
            (ActionKind::HpaBounds { min: Some(min), .. }, ObjectKind::HorizontalPodAutoscaler) => {
                let (h, _) = backend
                    .hpa(&part.target)
                    .await
                    .expect("read")
                    .expect("there");
                assert_eq!(u32::try_from(h.min).ok(), Some(*min), "{h:?}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Nothing left to undo.
    let again = runner::prepare(backend, undo, false)
        .await
        .expect_err("nothing to undo");
    assert!(again.why.starts_with("nothing to undo"), "{}", again.why);
}

/// The failback after the takeover: the Azure pair is left by hand (said,
/// gated), Tokyo's pool enabled and verified serving; the Overview no
/// longer reads a takeover.
async fn fail_back(
    app: &mut App,
    rx: &mut tokio::sync::mpsc::Receiver<touban::app::Event>,
    backend: &KubeBackend,
    audit: &AuditLog,
    who: &Who,
) {
    let back = app.failback_request("").expect("a failback");
    let ActionKind::RegionFailover {
        from,
        to,
        parts,
        serving,
        by_hand,
        back: true,
        undo: false,
    } = &back.kind
    else {
        panic!("{back:?}")
    };
    assert_eq!((from.as_str(), to.as_str()), ("korea", "tokyo"));
    assert_eq!(
        parts.last().map(|p| (&p.kind, p.target.name.as_str())),
        Some((&ActionKind::TrafficPool { enabled: true }, POOLS[0].1)),
        "{parts:#?}"
    );
    assert_eq!(serving.as_ref().map(|s| s.name.as_str()), Some(POOLS[0].1));
    assert!(
        by_hand.iter().any(|h| h.starts_with(
            "iworkz-production-postgres (azure-replica pair): rebuild it from iworkz-dr-postgres"
        )),
        "{by_hand:#?}"
    );
    let job = runner::prepare(backend, &back, false)
        .await
        .expect("a plan");
    assert!(
        job.plan
            .title
            .starts_with("fail back from korea to tokyo: "),
        "{}",
        job.plan.title
    );
    assert_eq!(job.plan.confirm_text.as_deref(), Some("tokyo"));
    let (outcome, events) = common::exec::run_job(backend, &job, 2, audit, who, false).await;
    let said = common::exec::said(&events);
    eprintln!("failback: {said:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{said:#?}");
    assert!(
        said.last()
            .is_some_and(|s| s.starts_with("tokyo serves: enabled, healthy")),
        "{said:#?}"
    );
    common::until(app, rx, "Tokyo's pool read enabled", |a| {
        a.takeover().is_none()
    })
    .await;
}

/// What the executor answers to a plan of `request`: the plan's title, or
/// the refusal's why.
async fn planned(
    exec: &tokio::sync::mpsc::UnboundedSender<touban::model::ExecCommand>,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<JobEvent>,
    id: u64,
    request: ActionRequest,
) -> Result<String, String> {
    use touban::model::{ExecCommand, JobId};
    exec.send(ExecCommand::Plan {
        id: JobId(id),
        request,
    })
    .expect("sent");
    loop {
        let e = tokio::time::timeout(std::time::Duration::from_secs(60), rx.recv())
            .await
            .expect("an answer within a minute")
            .expect("the executor listens");
        if let JobEvent::Planned { id: i, plan } = e
            && i.0 == id
        {
            return (*plan).map(|p| p.title).map_err(|r| r.why);
        }
    }
}

/// While another console holds the region runbook's Lease (renewed), a
/// change to either region's clusters is refused as frozen, naming who
/// runs the runbook; a silence is not; given back, the change is planned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: frozen at planning, planned once given back, frozen again at the start
async fn changes_to_either_region_are_frozen_while_a_console_holds_the_runbook_s_lease() {
    use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
    use touban::exec::task::{self, Executor};
    let sandbox = common::calm(42, 4.0).await;
    let korea = common::kube_client(&sandbox, "aks-korea").await;
    let dir = tempfile::tempdir().expect("temp");
    let backend = KubeBackend::new(BTreeMap::from([("aks-korea".to_owned(), korea.clone())]));
    let (events, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (exec, _task) = task::spawn(
        Executor {
            backend: Arc::new(backend),
            audit: Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit")),
            who: Arc::new(Who::new("sandbox", "aiko@bastion-1")),
            primary: ["tokyo".to_owned()].into(),
            read_only: BTreeMap::new(),
            read_only_elsewhere: None,
            checkpoints: None,
            coordination: Some(touban::model::action::Target {
                region: "korea".into(),
                cluster: "aks-korea".into(),
                namespace: "default".into(),
                kind: ObjectKind::Silence,
                name: String::new(),
            }),
            runbooks: vec![("tokyo".into(), "korea".into())],
        },
        events,
    );
    let scale = || ActionRequest {
        kind: ActionKind::Scale { replicas: 3 },
        target: touban::model::action::Target {
            region: "korea".into(),
            cluster: "aks-korea".into(),
            namespace: "iworkz-production".into(),
            kind: ObjectKind::Deployment,
            name: "web-frontend-blue".into(),
        },
        dry_run: false,
    };
    let leases: kube::Api<Lease> = kube::Api::namespaced(korea, "default");
    let now = k8s_openapi::jiff::Timestamp::now();
    let held = Lease {
        metadata: ObjectMeta {
            name: Some("touban.region.tokyo.korea".into()),
            annotations: Some(BTreeMap::from([
                ("touban.io/job".to_owned(), "other/7".to_owned()),
                (
                    "touban.io/action".to_owned(),
                    "fail tokyo over to korea: 5 parts, 16 steps".to_owned(),
                ),
                ("touban.io/step".to_owned(), "4/16".to_owned()),
            ])),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("bo@bastion-2".into()),
            lease_duration_seconds: Some(30),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    };
    leases
        .create(&kube::api::PostParams::default(), &held)
        .await
        .expect("the other console's lease");
    let why = planned(&exec, &mut rx, 1, scale())
        .await
        .expect_err("frozen");
    assert!(
        why.starts_with("changes to korea are frozen while the region runbook runs: bo@bastion-2 runs \"fail tokyo over to korea: 5 parts, 16 steps\" (job other/7, step 4/16)"),
        "{why}"
    );
    // A pool of either region too: the runbook's parts hold no Lease.
    let pool = ActionRequest {
        kind: ActionKind::TrafficPool { enabled: true },
        target: touban::model::action::Target {
            region: "tokyo".into(),
            cluster: "traffic".into(),
            namespace: touban::sandbox::cloudflare::ACCOUNT.into(),
            kind: ObjectKind::Pool,
            name: POOLS[0].1.into(),
        },
        dry_run: false,
    };
    let why = planned(&exec, &mut rx, 3, pool).await.expect_err("frozen");
    assert!(why.starts_with("changes to tokyo are frozen"), "{why}");
    leases
        .delete(
            "touban.region.tokyo.korea",
            &kube::api::DeleteParams::default(),
        )
        .await
        .expect("given back");
    let title = planned(&exec, &mut rx, 2, scale()).await.expect("planned");
    assert_eq!(title, "scale web-frontend-blue from 2 to 3");
    // The runbook starts again before this plan is confirmed: the job is
    // refused at its start, nothing changed.
    leases
        .create(&kube::api::PostParams::default(), &held)
        .await
        .expect("the other console's lease again");
    exec.send(touban::model::ExecCommand::Confirm {
        id: touban::model::JobId(2),
        dry_run: false,
        reason: "more room".into(),
    })
    .expect("sent");
    let outcome = loop {
        let e = tokio::time::timeout(std::time::Duration::from_secs(60), rx.recv())
            .await
            .expect("an end within a minute")
            .expect("the executor listens");
        if let JobEvent::Finished { id, outcome, .. } = e
            && id.0 == 2
        {
            break outcome;
        }
    };
    let touban::model::JobOutcome::Failed(why) = outcome else {
        panic!("refused at its start: {outcome:?}");
    };
    assert!(
        why.starts_with("changes to korea are frozen while the region runbook runs: bo@bastion-2")
            && why.ends_with(
                "the job did not start and nothing was changed; plan it again when the runbook ends"
            ),
        "{why}"
    );
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> = kube::Api::namespaced(
        common::kube_client(&sandbox, "aks-korea").await,
        "iworkz-production",
    );
    let d = deployments.get("web-frontend-blue").await.expect("read");
    assert_eq!(d.spec.and_then(|s| s.replicas), Some(2), "nothing changed");
}

/// A Secret another object owns (an ExternalSecret's) is not written: its
/// controller would put the old address back. The plan says what to
/// re-point instead; one the console may write is planned by host only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: refused, planned, killed, resumed
async fn an_owned_secret_is_refused_and_a_repoint_killed_after_its_write_resumes_without_writing_again()
 {
    use k8s_openapi::api::core::v1::Secret;
    use kube::api::{Api, PostParams};
    use touban::model::action::Target;
    use touban::sandbox::world::NAMESPACE;
    let sandbox = common::calm(43, 10.0).await;
    let client = common::kube_client(&sandbox, "aks-korea").await;
    let owned: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "db-from-vault", "ownerReferences": [{
            "apiVersion": "external-secrets.io/v1beta1", "kind": "ExternalSecret",
            "name": "db-from-vault", "uid": "7c1e0f4e-0000-4000-8000-000000000001",
            "controller": true}]},
        "stringData": {"DATABASE_URL": format!("postgres://app:{APP_PASSWORD}@{TOKYO_DB_HOST}/iworkz")},
    }))
    .expect("a Secret");
    Api::<Secret>::namespaced(client.clone(), NAMESPACE)
        .create(&PostParams::default(), &owned)
        .await
        .expect("created");
    let backend = KubeBackend::new(BTreeMap::from([("aks-korea".to_owned(), client)]));
    let repoint = |name: &str| ActionRequest {
        kind: ActionKind::Repoint {
            key: "DATABASE_URL".into(),
            host: "seoul.example:5432".into(),
            restart: vec!["backend-api-blue".into()],
        },
        target: Target {
            region: "korea".into(),
            cluster: "aks-korea".into(),
            namespace: NAMESPACE.into(),
            kind: ObjectKind::Secret,
            name: name.into(),
        },
        dry_run: false,
    };
    let refused = runner::prepare(&backend, &repoint("db-from-vault"), false)
        .await
        .expect_err("an owned Secret");
    assert!(
        refused
            .why
            .contains("is owned by ExternalSecret db-from-vault: its controller would put the old address back"),
        "{}",
        refused.why
    );
    assert!(!refused.why.contains(APP_PASSWORD));
    let job = runner::prepare(&backend, &repoint(APP_SECRET), false)
        .await
        .expect("the seed's Secret, which no one owns");
    assert!(
        job.plan.changes[0].ends_with(&format!(
            "DATABASE_URL {TOKYO_DB_HOST} → seoul.example:5432 (only the host changes)"
        )),
        "{:#?}",
        job.plan.changes
    );
    assert!(!format!("{job:?}").contains(APP_PASSWORD));

    // Killed once the key is written (as its restart begins) and resumed:
    // the key is not written again, the deployment restarts once.
    let backend = Arc::new(backend);
    let dir = tempfile::tempdir().expect("temp");
    let audit = Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log"));
    let who = Who::new("sandbox", "test@touban");
    let running = common::exec::spawn_job(
        Arc::clone(&backend),
        job.clone(),
        1,
        Arc::clone(&audit),
        who.clone(),
    );
    common::exec::kill_at_step(running, 2).await;
    let target = repoint(APP_SECRET).target;
    let (url, _) = backend
        .config_value(&target, "DATABASE_URL")
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        url.expect("the key").reveal(),
        format!("postgres://iworkz_app:{APP_PASSWORD}@seoul.example:5432/iworkz?sslmode=require"),
        "written before the kill"
    );
    let (outcome, events) =
        common::exec::run_job(backend.as_ref(), &job, 1, &audit, &who, true).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    let said: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            JobEvent::StepEnded { said, .. } => Some(said.clone()),
            _ => None,
        })
        .collect();
    assert!(said[0].contains("nothing written"), "{said:#?}");
    let blue = Target {
        kind: ObjectKind::Deployment,
        name: "backend-api-blue".into(),
        ..target
    };
    let (d, _) = backend
        .deployment(&blue)
        .await
        .expect("read")
        .expect("there");
    assert!(d.restarted_at.is_some(), "{d:?}");
    let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit");
    assert!(
        !log.contains(APP_PASSWORD),
        "the password is in the audit log"
    );
}
