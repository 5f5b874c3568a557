//! PostgreSQL failover through the executor against a real primary and its
//! streaming replica. A planned switchover with a writer inserting rows
//! throughout: every row the primary acknowledged is on the new primary,
//! the old one refuses writes, and the job run again converges without
//! doing anything twice. An unplanned promotion with the primary killed:
//! the switchover is refused (offering the promotion), the promotion's
//! plan states the data-loss bound, the replica takes writes; the old
//! primary, back as a second primary, is fenced and its fence lifted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use touban::config::Platform;
use touban::exec::audit::AuditLog;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::runner::{self, Who};
use touban::model::JobOutcome;
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};

mod common;

use common::exec::said;

use common::postgres::{Pair, Server, as_postgres, psql};

/// The config: `tokyo-postgres` (the pair's primary) and `korea-postgres`
/// (its replica) with direct URLs, a `[[replication]]` pair of them.
fn platform(pair: &Pair) -> Platform {
    Platform::parse(
        "test config",
        &format!(
            "{}\n\
             [[databases]]\nname = \"tokyo-postgres\"\nregion = \"tokyo\"\nkind = \"postgres\"\ndirect = {{ url = \"postgres://postgres@127.0.0.1:{}/postgres\" }}\n\n\
             [[databases]]\nname = \"korea-postgres\"\nregion = \"korea\"\nkind = \"postgres\"\ndirect = {{ url = \"postgres://postgres@127.0.0.1:{}/postgres\" }}\n\n\
             [[replication]]\nprimary = \"tokyo-postgres\"\nreplica = \"korea-postgres\"\nkind = \"physical\"\nrpo_seconds = 30\n",
            common::TWO_REGIONS,
            pair.primary,
            pair.replica
        ),
    )
    .expect("valid config")
}

/// A backend failing over the config's databases, through their direct
/// URLs.
fn backend(pair: &Pair) -> KubeBackend {
    backend_for(&platform(pair))
}

/// A backend failing over `tokyo-postgres` and `korea-postgres` on these
/// ports.
fn backend_on(tokyo: u16, korea: u16) -> KubeBackend {
    backend_for(&Platform::parse(
        "test config",
        &format!(
            "{}\n\
             [[databases]]\nname = \"tokyo-postgres\"\nregion = \"tokyo\"\nkind = \"postgres\"\ndirect = {{ url = \"postgres://postgres@127.0.0.1:{tokyo}/postgres\" }}\n\n\
             [[databases]]\nname = \"korea-postgres\"\nregion = \"korea\"\nkind = \"postgres\"\ndirect = {{ url = \"postgres://postgres@127.0.0.1:{korea}/postgres\" }}\n",
            common::TWO_REGIONS,
        ),
    )
    .expect("valid config"))
}

fn backend_for(platform: &Platform) -> KubeBackend {
    let direct: BTreeMap<_, _> = platform
        .databases
        .iter()
        .filter_map(|d| Some((d.name.get_ref().clone(), d.direct.clone()?)))
        .collect();
    KubeBackend::new(BTreeMap::new()).with_databases(direct)
}

fn request(kind: ActionKind, db: &str, region: &str) -> ActionRequest {
    ActionRequest {
        kind,
        target: Target {
            region: region.into(),
            cluster: db.into(),
            namespace: String::new(),
            kind: ObjectKind::Database,
            name: db.into(),
        },
        dry_run: false,
    }
}

async fn client(port: u16) -> Option<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=postgres dbname=postgres connect_timeout=2"),
        tokio_postgres::NoTls,
    )
    .await
    .ok()?;
    tokio::spawn(connection);
    Some(client)
}

/// Inserts rows into `acked` on `port` as fast as it can, reconnecting
/// after every error, until `stop`; the ids the server acknowledged.
async fn writer(port: u16, stop: Arc<AtomicBool>) -> Vec<i64> {
    let mut acked = Vec::new();
    let mut next = 0_i64;
    let mut session = None;
    while !stop.load(Ordering::Relaxed) {
        if session.is_none() {
            session = client(port).await;
        }
        let Some(c) = &session else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        next += 1;
        if c.execute("INSERT INTO acked (id) VALUES ($1)", &[&next])
            .await
            .is_ok()
        {
            acked.push(next);
        } else {
            session = None;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switchover_loses_no_acknowledged_row_and_converges_when_run_again() {
    let pair = Pair::start();
    psql(
        &pair.bin,
        pair.primary,
        "CREATE TABLE acked (id bigint PRIMARY KEY)",
    );
    pair.wait_replicated("acked");
    let backend = backend(&pair);
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");

    // A session that made itself read-write: only ending it fences it.
    let sneaky = client(pair.primary).await.expect("a session");
    sneaky
        .batch_execute("SET default_transaction_read_only = off")
        .await
        .expect("set");
    let stop = Arc::new(AtomicBool::new(false));
    let writing = tokio::spawn(writer(pair.primary, Arc::clone(&stop)));
    tokio::time::sleep(Duration::from_millis(800)).await;

    let r = request(
        ActionKind::Switchover {
            primary: "tokyo-postgres".into(),
            subscription: None,
        },
        "korea-postgres",
        "korea",
    );
    let job = runner::prepare(&backend, &r, false).await.expect("a plan");
    assert_eq!(job.plan.confirm_text.as_deref(), Some("korea-postgres"));
    assert!(
        job.plan
            .dry_run
            .as_deref()
            .is_some_and(|d| d.contains("the role may make every change")),
        "{:?}",
        job.plan.dry_run
    );
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{:?}", said(&events));
    let steps = said(&events);
    eprintln!("switchover: {steps:#?}");
    assert!(
        steps[1].contains("fenced") && !steps[1].contains(" 0 client sessions"),
        "{steps:?}"
    );
    assert!(
        sneaky
            .execute("INSERT INTO acked (id) VALUES (-2)", &[])
            .await
            .is_err(),
        "a read-write session outlived the fence"
    );
    assert!(steps[2].contains("every acknowledged commit"), "{steps:?}");

    // The writer goes on against the fenced primary a little: none of it
    // is acknowledged.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let acked = writing.await.expect("writer");
    assert!(
        acked.len() > 10,
        "the writer wrote only {} rows",
        acked.len()
    );
    eprintln!(
        "{} rows acknowledged, the last {:?}",
        acked.len(),
        acked.last()
    );
    let ids: Vec<String> = acked.iter().map(ToString::to_string).collect();
    let found = psql(
        &pair.bin,
        pair.replica,
        &format!("SELECT count(*) FROM acked WHERE id IN ({})", ids.join(",")),
    );
    assert_eq!(found, acked.len().to_string(), "acknowledged rows lost");
    assert_eq!(
        psql(&pair.bin, pair.replica, "SELECT pg_is_in_recovery()"),
        "f"
    );
    let old = client(pair.primary).await.expect("the old primary answers");
    let refused = old
        .execute("INSERT INTO acked (id) VALUES (-1)", &[])
        .await
        .expect_err("the old primary is fenced");
    assert!(
        refused.to_string().contains("read-only") || format!("{refused:?}").contains("read-only"),
        "{refused:?}"
    );

    // Run again (a console that died after the promotion resumes it):
    // nothing is done twice.
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, true).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{:?}", said(&events));
    let steps = said(&events);
    assert!(
        steps[0].contains("promoted before") && steps[3].contains("nothing done"),
        "{steps:?}"
    );
    let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit");
    assert!(log.contains("switch over tokyo-postgres"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_without_the_primary_states_its_loss_and_the_old_primary_is_fenced() {
    let pair = Pair::start();
    psql(
        &pair.bin,
        pair.primary,
        "CREATE TABLE acked (id bigint PRIMARY KEY)",
    );
    psql(
        &pair.bin,
        pair.primary,
        "INSERT INTO acked SELECT generate_series(1, 100)",
    );
    pair.wait_replicated("acked");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while psql(&pair.bin, pair.replica, "SELECT count(*) FROM acked") != "100" {
        assert!(std::time::Instant::now() < deadline, "rows never replayed");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The primary dies.
    let data = pair.dir.path().join("primary");
    as_postgres(
        &pair.bin,
        "pg_ctl",
        &["-D", &data.to_string_lossy(), "-m", "immediate", "stop"],
    );
    let backend = backend(&pair);
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");

    let switchover = request(
        ActionKind::Switchover {
            primary: "tokyo-postgres".into(),
            subscription: None,
        },
        "korea-postgres",
        "korea",
    );
    let refused = runner::prepare(&backend, &switchover, false)
        .await
        .expect_err("no switchover without the primary");
    let promote = ActionKind::Promote {
        primary: "tokyo-postgres".into(),
        subscription: None,
    };
    assert_eq!(refused.offer.map(|o| o.kind), Some(promote.clone()));

    let r = request(promote, "korea-postgres", "korea");
    let job = runner::prepare(&backend, &r, false).await.expect("a plan");
    let bound = job
        .plan
        .changes
        .iter()
        .find(|c| c.contains("data-loss bound"))
        .expect("the loss bound is stated");
    assert!(
        bound.contains("the last transaction replayed here"),
        "{bound}"
    );
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{:?}", said(&events));
    let steps = said(&events);
    eprintln!("promotion: {:#?}\n{steps:#?}", job.plan.changes);
    assert!(steps[3].contains("does not answer"), "{steps:?}");
    assert_eq!(
        psql(&pair.bin, pair.replica, "SELECT count(*) FROM acked"),
        "100"
    );
    psql(&pair.bin, pair.replica, "INSERT INTO acked VALUES (101)");

    // The old primary returns: a second primary, until fenced.
    pair.ctl("primary", "start");
    assert_eq!(
        psql(&pair.bin, pair.primary, "SELECT pg_is_in_recovery()"),
        "f"
    );
    let promote_again = runner::prepare(&backend, &r, false).await;
    assert!(
        promote_again.is_err(),
        "korea-postgres is a primary already"
    );
    fence_and_lift(&backend, &pair, &audit, &who).await;
}

/// The old primary, back as a second primary: fenced, then its fence
/// lifted; a second fence is refused as nothing to do.
async fn fence_and_lift(backend: &KubeBackend, pair: &Pair, audit: &AuditLog, who: &Who) {
    let fence = request(
        ActionKind::Fence {
            read_only: true,
            partner: None,
        },
        "tokyo-postgres",
        "tokyo",
    );
    let job = runner::prepare(backend, &fence, true)
        .await
        .expect("a fence");
    let (outcome, events) = common::exec::run_job(backend, &job, 2, audit, who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{:?}", said(&events));
    assert_eq!(
        psql(
            &pair.bin,
            pair.primary,
            "SHOW default_transaction_read_only"
        ),
        "on"
    );
    let refused = runner::prepare(backend, &fence, true)
        .await
        .expect_err("fenced already");
    assert!(refused.why.contains("fenced already"), "{}", refused.why);
    // Lifting it while the promoted partner takes writes: two primaries.
    let beside = request(
        ActionKind::Fence {
            read_only: false,
            partner: Some("korea-postgres".into()),
        },
        "tokyo-postgres",
        "tokyo",
    );
    let refused = runner::prepare(backend, &beside, true)
        .await
        .expect_err("two primaries");
    assert!(refused.why.contains("two primaries"), "{}", refused.why);
    let unfence = request(
        ActionKind::Fence {
            read_only: false,
            partner: None,
        },
        "tokyo-postgres",
        "tokyo",
    );
    let job = runner::prepare(backend, &unfence, true)
        .await
        .expect("a lift");
    let (outcome, events) = common::exec::run_job(backend, &job, 3, audit, who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{:?}", said(&events));
    assert_eq!(
        psql(
            &pair.bin,
            pair.primary,
            "SHOW default_transaction_read_only"
        ),
        "off"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_asks_for_a_switchover_and_shows_its_plan_to_type_the_name() {
    use touban::app::{App, Effect, Event};
    use touban::model::{ExecCommand, JobEvent, Key, KeyCode};
    let pair = Pair::start();
    let mut loaded = common::loaded("default", "default");
    loaded.platform = platform(&pair);
    let mut app = App::new(loaded, std::time::SystemTime::now());
    let mut effects = Vec::new();
    for c in ":switchover".chars() {
        effects.extend(app.handle(Event::Key(Key::char(c))));
    }
    effects.extend(app.handle(Event::Key(Key::plain(KeyCode::Enter))));
    let Some((id, request)) = effects.iter().find_map(|e| match e {
        Effect::Exec(ExecCommand::Plan { id, request }) => Some((*id, request.clone())),
        _ => None,
    }) else {
        panic!("a plan asked for: {effects:?}");
    };
    assert_eq!(
        request.kind,
        ActionKind::Switchover {
            primary: "tokyo-postgres".into(),
            subscription: None,
        }
    );
    assert_eq!(
        (request.target.kind, request.target.name.as_str()),
        (ObjectKind::Database, "korea-postgres")
    );
    let plan = runner::prepare(&backend(&pair), &request, false)
        .await
        .map(|job| job.plan);
    app.handle(Event::Job(JobEvent::Planned {
        id,
        plan: Box::new(plan),
    }));
    let screen = common::text(&common::render(&app, 160, 48));
    for shown in [
        "Switch over tokyo-postgres → korea-postgres",
        "database      korea-postgres",
        "fence tokyo-postgres",
        "promote korea-postgres",
        "korea-postgres",
    ] {
        assert!(screen.contains(shown), "{shown} not shown:\n{screen}");
    }
    common::confirm_typed(&mut app, id, "korea-postgres", "drill 2026-12");
}

/// Inserts orders on `port` until `stop`, reconnecting after errors; the
/// ids the server acknowledged.
async fn order_writer(port: u16, stop: Arc<AtomicBool>) -> Vec<i64> {
    let mut acked = Vec::new();
    let mut session = None;
    while !stop.load(Ordering::Relaxed) {
        if session.is_none() {
            session = client(port).await;
        }
        let Some(c) = &session else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if let Ok(row) = c
            .query_one("INSERT INTO orders (item) VALUES ('o') RETURNING id", &[])
            .await
        {
            acked.push(row.get::<_, i64>(0));
        } else {
            session = None;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    acked
}

/// A source (`wal_level = logical`) and its subscriber: table `orders`
/// (a `bigserial` id) on both, published as `iworkz` and subscribed as
/// `iworkz_dr`, 50 rows applied.
fn logical_pair() -> (Server, Server) {
    let source = Server::start_with("wal_level = logical\n");
    let subscriber = Server::start();
    let bin = &source.bin;
    for port in [source.port, subscriber.port] {
        psql(
            bin,
            port,
            "CREATE TABLE orders (id bigserial PRIMARY KEY, item text)",
        );
    }
    psql(bin, source.port, "CREATE PUBLICATION iworkz FOR ALL TABLES");
    psql(
        bin,
        subscriber.port,
        &format!(
            "CREATE SUBSCRIPTION iworkz_dr CONNECTION 'host=127.0.0.1 port={} user=postgres dbname=postgres' PUBLICATION iworkz",
            source.port
        ),
    );
    psql(
        bin,
        source.port,
        "INSERT INTO orders (item) SELECT 'x' FROM generate_series(1, 50)",
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while psql(bin, subscriber.port, "SELECT count(*) FROM orders") != "50" {
        assert!(std::time::Instant::now() < deadline, "rows never applied");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The subscriber's own sequence never moved: an insert there now would
    // reuse id 1.
    assert_eq!(
        psql(
            bin,
            subscriber.port,
            "SELECT coalesce(last_value, 0) FROM pg_sequences"
        ),
        "0"
    );
    (source, subscriber)
}

/// Unplanned, the seed's own path: the logical source gone, its last
/// sequence values cannot be read. The subscriber is promoted by
/// disabling its subscription and setting each sequence past the highest
/// id it holds by a gap; a sequence owned by no column is named, not set.
/// Run again, nothing is done twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_source_a_logical_subscriber_is_promoted_past_the_ids_it_holds() {
    let (source, subscriber) = logical_pair();
    let bin = &source.bin;
    psql(bin, subscriber.port, "CREATE SEQUENCE loose");
    source.ctl("stop");
    let backend = backend_on(source.port, subscriber.port);
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    let r = request(
        ActionKind::Promote {
            primary: "tokyo-postgres".into(),
            subscription: None,
        },
        "korea-postgres",
        "korea",
    );
    let job = runner::prepare(&backend, &r, false).await.expect("a plan");
    assert_eq!(
        job.plan.title,
        "promote korea-postgres without tokyo-postgres (logical)"
    );
    assert!(
        job.plan
            .changes
            .iter()
            .any(|c| c.contains("set 1000000 increments past it")),
        "{:#?}",
        job.plan.changes
    );
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    let steps = said(&events);
    eprintln!("logical promotion: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(
        steps[2].starts_with("1 of 2 sequences set 1000000 increments past the highest value in use (public.orders_id_seq → 1000050)")
            && steps[2].contains("public.loose (owned by no column)"),
        "{steps:?}"
    );
    assert!(steps[4].contains("does not answer"), "{steps:?}");
    assert_eq!(
        psql(
            bin,
            subscriber.port,
            "SELECT subenabled FROM pg_subscription"
        ),
        "f"
    );
    let next = psql(
        bin,
        subscriber.port,
        "INSERT INTO orders (item) VALUES ('after') RETURNING id",
    );
    assert_eq!(
        next.lines().next(),
        Some("1000051"),
        "the next id, past the gap"
    );
    // Run again: nothing is done twice.
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, true).await;
    let steps = said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(
        steps[0].contains("disabled already")
            && steps[1].contains("disabled already")
            && steps[2].contains("nothing set"),
        "{steps:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logical_switchover_disables_the_subscription_and_advances_the_sequences() {
    let (source, subscriber) = logical_pair();
    let bin = &source.bin;
    let stop = Arc::new(AtomicBool::new(false));
    let writing = tokio::spawn(order_writer(source.port, Arc::clone(&stop)));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let backend = backend_on(source.port, subscriber.port);
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    // The subscription is found without being named: the only one.
    let r = request(
        ActionKind::Switchover {
            primary: "tokyo-postgres".into(),
            subscription: None,
        },
        "korea-postgres",
        "korea",
    );
    let job = runner::prepare(&backend, &r, false).await.expect("a plan");
    assert!(job.plan.title.ends_with("(logical)"), "{}", job.plan.title);
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    let steps = said(&events);
    eprintln!("logical switchover: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    stop.store(true, Ordering::Relaxed);
    let acked = writing.await.expect("writer");
    assert!(
        acked.len() > 10,
        "the writer wrote only {} rows",
        acked.len()
    );
    let ids: Vec<String> = acked.iter().map(ToString::to_string).collect();
    assert_eq!(
        psql(
            bin,
            subscriber.port,
            &format!(
                "SELECT count(*) FROM orders WHERE id IN ({})",
                ids.join(",")
            )
        ),
        acked.len().to_string(),
        "acknowledged rows lost"
    );
    assert_eq!(
        psql(
            bin,
            subscriber.port,
            "SELECT subenabled FROM pg_subscription"
        ),
        "f"
    );
    // The next id on the new primary is past every id the source gave.
    let top = psql(bin, source.port, "SELECT max(id) FROM orders");
    let next = psql(
        bin,
        subscriber.port,
        "INSERT INTO orders (item) VALUES ('after') RETURNING id",
    );
    let next = next.lines().next().unwrap_or_default().to_owned();
    assert!(
        next.parse::<i64>().expect("id") > top.parse::<i64>().expect("id"),
        "next id {next} not past the source's {top}"
    );
    // Run again: nothing is done twice.
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, true).await;
    let steps = said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(
        steps[3].contains("disabled already") && steps[4].contains("nothing set"),
        "{steps:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fence_a_dead_console_left_half_done_ends_the_sessions_it_missed() {
    let pair = Pair::start();
    psql(
        &pair.bin,
        pair.primary,
        "CREATE TABLE acked (id bigint PRIMARY KEY)",
    );
    pair.wait_replicated("acked");
    // A session that made itself read-write, then a console that died
    // after the fence's reload and before it ended the sessions.
    let sneaky = client(pair.primary).await.expect("a session");
    sneaky
        .batch_execute("SET default_transaction_read_only = off")
        .await
        .expect("set");
    psql(
        &pair.bin,
        pair.primary,
        "ALTER SYSTEM SET default_transaction_read_only = on",
    );
    psql(&pair.bin, pair.primary, "SELECT pg_reload_conf()");
    let backend = backend(&pair);
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    let r = request(
        ActionKind::Switchover {
            primary: "tokyo-postgres".into(),
            subscription: None,
        },
        "korea-postgres",
        "korea",
    );
    let job = runner::prepare(&backend, &r, false).await.expect("a plan");
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, true).await;
    let steps = said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[1].contains("fenced already"), "{steps:?}");
    assert!(
        sneaky
            .execute("INSERT INTO acked (id) VALUES (1)", &[])
            .await
            .is_err(),
        "the read-write session outlived the resumed fence"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switchover_killed_at_its_promotion_resumes_to_the_same_end() {
    let pair = Pair::start();
    psql(
        &pair.bin,
        pair.primary,
        "CREATE TABLE acked (id bigint PRIMARY KEY)",
    );
    pair.wait_replicated("acked");
    psql(
        &pair.bin,
        pair.primary,
        "INSERT INTO acked SELECT generate_series(1, 500)",
    );
    let backend = Arc::new(backend(&pair));
    let dir = tempfile::tempdir().expect("temp");
    let audit = Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log"));
    let who = Who::new("test", "aiko@bastion");
    let r = request(
        ActionKind::Switchover {
            primary: "tokyo-postgres".into(),
            subscription: None,
        },
        "korea-postgres",
        "korea",
    );
    let job = runner::prepare(backend.as_ref(), &r, false)
        .await
        .expect("a plan");
    // The console dies as step 4 (the promotion) begins: fenced, caught
    // up, not promoted.
    let running = common::exec::spawn_job(
        Arc::clone(&backend),
        job.clone(),
        1,
        Arc::clone(&audit),
        who.clone(),
    );
    common::exec::kill_at_step(running, 4).await;
    assert_eq!(
        psql(&pair.bin, pair.replica, "SELECT pg_is_in_recovery()"),
        "t"
    );
    assert_eq!(
        psql(
            &pair.bin,
            pair.primary,
            "SHOW default_transaction_read_only"
        ),
        "on",
        "fenced before the kill"
    );
    let (outcome, events) =
        common::exec::run_job(backend.as_ref(), &job, 1, &audit, &who, true).await;
    let steps = said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[1].contains("fenced already"), "{steps:?}");
    assert!(steps[3].contains("promoted"), "{steps:?}");
    assert_eq!(
        psql(&pair.bin, pair.replica, "SELECT pg_is_in_recovery()"),
        "f"
    );
    assert_eq!(
        psql(&pair.bin, pair.replica, "SELECT count(*) FROM acked"),
        "500"
    );
}

/// The monitoring login and the action login kept apart: a switchover
/// with only the monitoring login (`pg_monitor`) is refused before
/// anything changes, by the role's own privileges; with an action login
/// it runs, and its plan says which login acts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitoring_login_cannot_switch_over_and_the_action_login_does() {
    let pair = Pair::start();
    psql(
        &pair.bin,
        pair.primary,
        "CREATE ROLE watcher LOGIN; GRANT pg_monitor TO watcher; CREATE TABLE marker (id int)",
    );
    pair.wait_replicated("marker");
    let config = |action: bool| {
        let end = |name: &str, region: &str, port: u16| {
            let action = if action {
                format!("action = {{ url = \"postgres://postgres@127.0.0.1:{port}/postgres\" }}\n")
            } else {
                String::new()
            };
            format!(
                "[[databases]]\nname = \"{name}\"\nregion = \"{region}\"\nkind = \"postgres\"\ndirect = {{ url = \"postgres://watcher@127.0.0.1:{port}/postgres\" }}\n{action}\n"
            )
        };
        Platform::parse(
            "test config",
            &format!(
                "{}\n{}{}[[replication]]\nprimary = \"tokyo-postgres\"\nreplica = \"korea-postgres\"\nkind = \"physical\"\nrpo_seconds = 30\n",
                common::TWO_REGIONS,
                end("tokyo-postgres", "tokyo", pair.primary),
                end("korea-postgres", "korea", pair.replica),
            ),
        )
        .expect("valid config")
    };
    // As the console makes it.
    let backend_of = |p: &Platform| KubeBackend::new(BTreeMap::new()).with_data_tier(p);
    let r = request(
        ActionKind::Switchover {
            primary: "tokyo-postgres".into(),
            subscription: None,
        },
        "korea-postgres",
        "korea",
    );

    let monitoring = backend_of(&config(false));
    let refused = runner::prepare(&monitoring, &r, false)
        .await
        .expect_err("the monitoring login may not fence");
    assert!(
        refused.why.contains("may not ALTER SYSTEM"),
        "{}",
        refused.why
    );
    assert_eq!(
        psql(
            &pair.bin,
            pair.primary,
            "SHOW default_transaction_read_only"
        ),
        "off",
        "nothing changed"
    );

    let acting = backend_of(&config(true));
    let job = runner::prepare(&acting, &r, false).await.expect("a plan");
    // Both ends: the switchover fences the primary with its login.
    for (db, port) in [
        ("korea-postgres", pair.replica),
        ("tokyo-postgres", pair.primary),
    ] {
        assert!(
            job.plan.changes.iter().any(|c| c
                == &format!(
                    "touban acts on {db} as postgres://postgres@127.0.0.1:{port}/postgres (its action login; the monitoring login does not fence or promote)"
                )),
            "{:#?}",
            job.plan.changes
        );
    }
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    let (outcome, events) = common::exec::run_job(&acting, &job, 1, &audit, &who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{:?}", said(&events));
    assert_eq!(
        psql(&pair.bin, pair.replica, "SELECT pg_is_in_recovery()"),
        "f"
    );
}

/// Failing back: Korea took over by a switchover and took writes; the
/// failback's plan waits until Tokyo is rebuilt as Korea's replica (the
/// operator's base backup, which copied a fence), lifts the fence while
/// Tokyo is a replica, switches the roles back, and every row Korea took
/// is on Tokyo; run again, it does nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: taken over, planned back, rebuilt, switched back, resumed
async fn failing_back_waits_for_tokyo_rebuilt_as_korea_s_replica_then_switches_the_roles_back() {
    use touban::app::App;
    use touban::model::JobEvent;
    let pair = Pair::start();
    psql(
        &pair.bin,
        pair.primary,
        "CREATE TABLE acked (id bigint PRIMARY KEY)",
    );
    pair.wait_replicated("acked");
    let backend = Arc::new(backend(&pair));
    let dir = tempfile::tempdir().expect("temp");
    let audit = Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log"));
    let who = Who::new("test", "aiko@bastion");
    let over = request(
        ActionKind::Switchover {
            primary: "tokyo-postgres".into(),
            subscription: None,
        },
        "korea-postgres",
        "korea",
    );
    let job = runner::prepare(backend.as_ref(), &over, false)
        .await
        .expect("a plan");
    let (outcome, events) =
        common::exec::run_job(backend.as_ref(), &job, 1, &audit, &who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{:?}", said(&events));
    // Korea serves and takes writes.
    psql(
        &pair.bin,
        pair.replica,
        "INSERT INTO acked SELECT generate_series(1, 300)",
    );

    // The console's failback: Tokyo resynced, then switched back.
    let mut loaded = common::loaded("default", "default");
    loaded.platform = platform(&pair);
    let app = App::new(loaded, std::time::SystemTime::now());
    let back = app.failback_request("").expect("a failback");
    let ActionKind::RegionFailover {
        from,
        to,
        parts,
        back: true,
        ..
    } = &back.kind
    else {
        panic!("{back:?}")
    };
    assert_eq!((from.as_str(), to.as_str()), ("korea", "tokyo"));
    let kinds: Vec<(&ActionKind, &str)> = parts
        .iter()
        .map(|p| (&p.kind, p.target.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                &ActionKind::Resync {
                    primary: "korea-postgres".into(),
                    source: format!("127.0.0.1:{}", pair.replica),
                    rpo_seconds: 30
                },
                "tokyo-postgres"
            ),
            (
                &ActionKind::Switchover {
                    primary: "korea-postgres".into(),
                    subscription: None
                },
                "tokyo-postgres"
            )
        ]
    );
    // Planned while Tokyo is still the fenced old primary.
    let job = runner::prepare(backend.as_ref(), &back, false)
        .await
        .expect("a plan");
    eprintln!("{:#?}", job.plan.steps);
    assert!(
        job.plan
            .title
            .starts_with("fail back from korea to tokyo: 2 parts"),
        "{}",
        job.plan.title
    );
    assert_eq!(job.plan.confirm_text.as_deref(), Some("tokyo"));
    let titles: Vec<&str> = job.plan.steps.iter().map(|s| s.title.as_str()).collect();
    assert!(
        titles[0].starts_with(
            "4 · wait until tokyo-postgres is rebuilt as korea-postgres's replica, streaming, within 30 s"
        ) && titles[1].starts_with("5 · wait for the operator: the roles switch back next")
            && titles.iter().any(|t| t.starts_with("3-5 · promote tokyo-postgres")),
        "{titles:#?}"
    );
    assert!(
        job.plan.steps[0].call.contains(&format!(
            "pg_basebackup -h 127.0.0.1 -p {} -D $PGDATA -R",
            pair.replica
        )),
        "the rebuild's command is said: {}",
        job.plan.steps[0].call
    );
    assert!(
        job.plan.steps[0]
            .precondition
            .contains("tokyo-postgres answers as a primary (fenced)"),
        "{}",
        job.plan.steps[0].precondition
    );

    // Run: it waits at the resync while Tokyo is not rebuilt.
    let mut running = common::exec::spawn_job(
        Arc::clone(&backend),
        job.clone(),
        2,
        Arc::clone(&audit),
        who.clone(),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut events = Vec::new();
    while let Ok(e) = running.events.try_recv() {
        events.push(e);
    }
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, JobEvent::StepEnded { .. })),
        "the resync waits for the rebuild: {events:#?}"
    );
    // The operator rebuilds Tokyo from Korea; the copied configuration
    // carries a fence.
    pair.rebuild_primary("default_transaction_read_only = on\n");
    let outcome = tokio::time::timeout(Duration::from_secs(120), running.task)
        .await
        .expect("the failback ends within two minutes")
        .expect("the job's task");
    while let Ok(e) = running.events.try_recv() {
        events.push(e);
    }
    let steps = said(&events);
    eprintln!("failback: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:#?}");
    assert!(
        steps[0].starts_with("tokyo-postgres streams from korea-postgres")
            && steps[0].contains("the fence it carried lifted"),
        "{steps:?}"
    );
    // Tokyo is the primary with every row Korea took; Korea is fenced.
    assert_eq!(
        psql(&pair.bin, pair.primary, "SELECT pg_is_in_recovery()"),
        "f"
    );
    assert_eq!(
        psql(&pair.bin, pair.primary, "SELECT count(*) FROM acked"),
        "300"
    );
    psql(&pair.bin, pair.primary, "INSERT INTO acked VALUES (301)");
    assert_eq!(
        psql(
            &pair.bin,
            pair.replica,
            "SHOW default_transaction_read_only"
        ),
        "on",
        "Korea is fenced"
    );

    // Run again (a console that died after the switch back resumes it):
    // nothing is waited for or done twice.
    let (outcome, events) =
        common::exec::run_job(backend.as_ref(), &job, 2, &audit, &who, true).await;
    let steps = said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[0].contains("switched back before"), "{steps:?}");
    assert!(steps[2].contains("promoted before"), "{steps:?}");
}

/// A session of `role` on `port`, or why it cannot log in.
async fn session_as(port: u16, role: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user={role} dbname=postgres connect_timeout=2"),
        tokio_postgres::NoTls,
    )
    .await
    .map_err(|e| {
        e.as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_owned())
    })?;
    tokio::spawn(connection);
    Ok(client)
}

/// The stronger fence. On a primary a physical replica streams from, the
/// read-only fence's plan says what it does not hold against and the
/// lockout is refused (role attributes replicate). On a primary with no
/// physical replica (an old primary back after its replica's promotion)
/// the application role is locked out: its session ended, a new one
/// refused; run again it does nothing; its undo lets the role in again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: refused where it would replicate, locked out, converged, undone
async fn the_application_role_is_locked_out_only_where_no_physical_replica_replays_it() {
    let roles = vec!["iworkz_app".to_owned()];
    let lock = |db: &str| {
        request(
            ActionKind::Lockout {
                roles: roles.clone(),
                locked: true,
            },
            db,
            "tokyo",
        )
    };
    let pair = Pair::start();
    psql(&pair.bin, pair.primary, "CREATE ROLE iworkz_app LOGIN");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while psql(
        &pair.bin,
        pair.primary,
        "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
    ) != "1"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the replica never streamed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let backend = backend(&pair);
    let refused = runner::prepare(&backend, &lock("tokyo-postgres"), true)
        .await
        .expect_err("refused where a physical replica replays it");
    assert!(
        refused.why.contains("streams to the physical replica")
            && refused
                .instead
                .as_deref()
                .is_some_and(|i| i.contains(":fence tokyo-postgres")),
        "{refused:?}"
    );
    let fence = runner::prepare(
        &backend,
        &request(
            ActionKind::Fence {
                read_only: true,
                partner: Some("korea-postgres".into()),
            },
            "tokyo-postgres",
            "tokyo",
        ),
        true,
    )
    .await
    .expect("a fence's plan");
    assert!(
        fence
            .plan
            .changes
            .iter()
            .any(|c| c.contains("stops well-behaved clients only")
                && c.contains("not offered while a physical replica streams from it")),
        "{:#?}",
        fence.plan.changes
    );
    drop(pair);

    // An old primary on its own: the lockout holds for every client.
    let server = Server::start();
    server.psql("CREATE ROLE iworkz_app LOGIN");
    let backend = backend_on(server.port, server.port);
    let app = session_as(server.port, "iworkz_app")
        .await
        .expect("the application logs in");
    let job = runner::prepare(&backend, &lock("tokyo-postgres"), true)
        .await
        .expect("a lockout's plan");
    assert_eq!(job.plan.confirm_text.as_deref(), Some("tokyo-postgres"));
    assert!(
        job.plan.changes[0].contains("iworkz_app NOLOGIN, 1 of their sessions ended"),
        "{:#?}",
        job.plan.changes
    );
    let dir = tempfile::tempdir().expect("temp");
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    let steps = said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(
        steps[0].contains(
            "iworkz_app locked out of tokyo-postgres (NOLOGIN); 1 of their sessions ended"
        ),
        "{steps:?}"
    );
    assert!(
        app.simple_query("SELECT 1").await.is_err(),
        "the application's session outlived the lockout"
    );
    let refused = session_as(server.port, "iworkz_app")
        .await
        .expect_err("the role cannot log in");
    assert!(refused.contains("not permitted to log in"), "{refused}");
    // Run again (resumed): nothing done twice; planned again: refused.
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, true).await;
    let steps = said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[0].contains("already: nothing done"), "{steps:?}");
    let again = runner::prepare(&backend, &lock("tokyo-postgres"), true)
        .await
        .expect_err("nothing to do");
    assert!(again.why.contains("already"), "{}", again.why);
    // Its undo lets the application in again.
    let undo = job.plan.undo_request.as_deref().expect("an undo");
    let job = runner::prepare(&backend, undo, true)
        .await
        .expect("the undo's plan");
    let (outcome, events) = common::exec::run_job(&backend, &job, 2, &audit, &who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{:?}", said(&events));
    session_as(server.port, "iworkz_app")
        .await
        .expect("the application logs in again");
}
