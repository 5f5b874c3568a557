//! The data sources against real servers: a PostgreSQL 15 primary and its
//! streaming replica started here (as the `postgres` user, on free loopback
//! ports), read directly with tokio-postgres; and the sandbox's exporters
//! and AI services while `incidents` plays. Everything reaches the app
//! through the channel, as in the console.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use touban::app::{App, Event};
use touban::config::Platform;
use touban::model::cluster::Health;
use touban::model::data::{self, DataStatus, DbStatus};
use touban::model::{SourceKind, SourceState};
use touban::sandbox::{Options, Sandbox, Scenario};

mod common;

use common::Process;
use common::postgres::{Pair, as_postgres, init_server, pg_bin, psql};
use common::redis::{redis_cli, redis_server};

/// An app whose data sources are `config`'s, polled every 200 ms.
fn app_with(config: &str) -> (App, mpsc::Receiver<Event>) {
    let mut loaded = common::loaded("default", "default");
    loaded.platform = Platform::parse("test config", config).expect("valid config");
    let app = App::new(loaded, std::time::SystemTime::now());
    let (tx, rx) = mpsc::channel(1024);
    touban::sources::data::spawn(app.platform(), &tx, Duration::from_millis(200));
    (app, rx)
}

fn db<'a>(app: &'a App, region: &str, name: &str) -> Option<&'a DbStatus> {
    match app.data(region, SourceKind::Database, name) {
        Some(DataStatus::Database(d)) => Some(d),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_and_replica_read_directly_through_pause_promote_and_restart() {
    let pair = Pair::start();
    let (mut app, mut rx) = app_with(&format!(
        "{}\n\
         [[databases]]\nname = \"primary\"\nregion = \"tokyo\"\nkind = \"postgres\"\ndirect = {{ url = \"postgres://postgres@127.0.0.1:{}/postgres\" }}\n\n\
         [[databases]]\nname = \"replica\"\nregion = \"korea\"\nkind = \"postgres\"\ndirect = {{ url = \"postgres://postgres@127.0.0.1:{}/postgres\" }}\n",
        common::TWO_REGIONS,
        pair.primary,
        pair.replica
    ));
    common::until_for(
        &mut app,
        &mut rx,
        30,
        "roles and the replication link",
        |a| {
            db(a, "tokyo", "primary")
                .is_some_and(|d| d.role.as_deref() == Some("primary") && d.replicas.len() == 1)
                && db(a, "korea", "replica").is_some_and(|d| {
                    d.role.as_deref() == Some("replica")
                        && d.wal_receiver.as_deref() == Some("streaming")
                })
        },
    )
    .await;
    let p = db(&app, "tokyo", "primary").expect("primary");
    assert!(
        p.version.as_deref().is_some_and(|v| v.starts_with("15")),
        "{p:?}"
    );
    assert!(
        p.connections
            .is_some_and(|(used, max)| used >= 1.0 && max >= 100.0),
        "{p:?}"
    );
    assert_eq!(p.replicas[0].state, "streaming");
    let t = &app.platform().thresholds.clone();
    assert_eq!(data::db_health(p, t).0, Health::Ok);

    // Replay paused, writes on the primary: the replica falls behind.
    // (A transaction replayed first: lag counts from the last one replayed.)
    psql(&pair.bin, pair.primary, "CREATE TABLE t (v int)");
    pair.wait_replicated("t");
    psql(&pair.bin, pair.replica, "SELECT pg_wal_replay_pause()");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !db(&app, "korea", "replica")
        .is_some_and(|d| d.replay_paused && d.replay_lag.is_some_and(|l| l >= 2.0))
    {
        assert!(
            Instant::now() < deadline,
            "no lag while replay is paused: {:?}",
            db(&app, "korea", "replica")
        );
        psql(&pair.bin, pair.primary, "INSERT INTO t VALUES (1)");
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
            app.handle(e);
        }
    }
    let r = db(&app, "korea", "replica").expect("replica");
    let (received, replayed) = r.lsn.clone().expect("lsn");
    assert_ne!(received, replayed, "received WAL is not replayed: {r:?}");
    assert_eq!(
        data::db_health(r, t).0,
        Health::Warn,
        "{:?}",
        data::db_health(r, t)
    );
    // Resumed: the lag clears.
    psql(&pair.bin, pair.replica, "SELECT pg_wal_replay_resume()");
    common::until_for(&mut app, &mut rx, 30, "the lag cleared", |a| {
        db(a, "korea", "replica").is_some_and(|d| !d.replay_paused && d.replay_lag == Some(0.0))
    })
    .await;

    // Promoted: the replica reports itself a primary.
    psql(&pair.bin, pair.replica, "SELECT pg_promote()");
    common::until_for(&mut app, &mut rx, 30, "the replica promoted", |a| {
        db(a, "korea", "replica").is_some_and(|d| d.role.as_deref() == Some("primary"))
    })
    .await;

    // The old primary stopped: stale, its figures kept; started: live again.
    pair.ctl("primary", "stop");
    common::until_for(&mut app, &mut rx, 30, "the stopped primary stale", |a| {
        matches!(
            a.source("tokyo", SourceKind::Database, "primary"),
            SourceState::Stale { .. }
        )
    })
    .await;
    assert!(
        db(&app, "tokyo", "primary").is_some(),
        "a stale source keeps its figures"
    );
    pair.ctl("primary", "start");
    common::until_for(&mut app, &mut rx, 30, "the primary live again", |a| {
        a.source("tokyo", SourceKind::Database, "primary").is_live()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_exporters_and_ai_services_fill_every_cell() {
    let sandbox = Sandbox::start(Options {
        seed: 8,
        pods: 0,
        speed: 30.0,
        scenario: Scenario::Incidents,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    let (mut app, mut rx) = app_with(&std::fs::read_to_string(&config).expect("read"));
    let t = app.platform().thresholds.clone();
    // Every database, cache and AI service of both regions reports.
    common::until_for(&mut app, &mut rx, 30, "every data source live", |a| {
        let p = a.platform();
        p.databases
            .iter()
            .map(|d| (d.region.get_ref(), SourceKind::Database, d.name.get_ref()))
            .chain(
                p.caches
                    .iter()
                    .map(|c| (c.region.get_ref(), SourceKind::Cache, c.name.get_ref())),
            )
            .chain(
                p.ai_services
                    .iter()
                    .map(|s| (s.region.get_ref(), SourceKind::AiService, s.name.get_ref())),
            )
            .all(|(r, k, n)| a.data(r, k, n).is_some())
    })
    .await;
    let primary = db(&app, "tokyo", "iworkz-production-postgres").expect("primary");
    assert_eq!(
        (primary.role.as_deref(), primary.via),
        (Some("primary"), "exporter")
    );
    assert!(primary.cache_hit.is_some_and(|h| h > 0.9), "{primary:?}");
    match app.data("tokyo", SourceKind::Cache, "iworkz-production-redis") {
        Some(DataStatus::Cache(c)) => {
            assert!(
                c.up && c.memory.is_some_and(|(u, m)| u > 0.0 && m > 0.0),
                "{c:?}"
            );
        }
        other => panic!("no cache: {other:?}"),
    }
    // The scenario: inference slows (warn), then Korea's replica falls behind.
    common::until_for(&mut app, &mut rx, 40, "the inference-latency rule", |a| {
        matches!(a.data("tokyo", SourceKind::AiService, "ai-services"),
            Some(DataStatus::Ai(s)) if s.p95_inference.is_some_and(|p| p > t.inference_p95_warn_seconds))
    })
    .await;
    common::until_for(
        &mut app,
        &mut rx,
        60,
        "Korea's replica lag over 30 s",
        |a| {
            db(a, "korea", "iworkz-dr-postgres").is_some_and(|d| {
                data::db_health(d, &t).0 >= Health::Warn && d.replay_lag.is_some_and(|l| l > 30.0)
            })
        },
    )
    .await;
}

fn cache<'a>(
    app: &'a App,
    region: &str,
    name: &str,
) -> Option<&'a touban::model::data::CacheStatus> {
    match app.data(region, SourceKind::Cache, name) {
        Some(DataStatus::Cache(c)) => Some(c),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_primary_and_replica_read_directly_through_a_lost_link_and_two_primaries() {
    let dir = tempfile::tempdir().expect("temp");
    let (p, r) = (common::free_port(), common::free_port());
    let primary = redis_server(dir.path(), p, None);
    let rdir = dir.path().join("replica");
    std::fs::create_dir_all(&rdir).expect("dir");
    let _replica = redis_server(&rdir, r, Some(p));
    let (mut app, mut rx) = app_with(&format!(
        "{}\n\
         [[caches]]\nname = \"primary\"\nregion = \"tokyo\"\nkind = \"redis\"\ndirect = {{ url = \"redis://127.0.0.1:{p}\" }}\n\n\
         [[caches]]\nname = \"replica\"\nregion = \"korea\"\nkind = \"redis\"\ndirect = {{ url = \"redis://127.0.0.1:{r}\" }}\n",
        common::TWO_REGIONS
    ));
    let t = app.platform().thresholds.clone();
    common::until_for(&mut app, &mut rx, 30, "roles and the link", |a| {
        cache(a, "tokyo", "primary").is_some_and(|c| {
            c.role.as_deref() == Some("master")
                && c.replicas.len() == 1
                && c.replicas[0].state == "online"
        }) && cache(a, "korea", "replica")
            .is_some_and(|c| c.role.as_deref() == Some("replica") && c.link_up == Some(true))
    })
    .await;
    redis_cli(p, &["SET", "k", "v"]);
    redis_cli(p, &["GET", "k"]);
    redis_cli(p, &["GET", "missing"]);
    common::until_for(&mut app, &mut rx, 30, "memory, clients and rates", |a| {
        cache(a, "tokyo", "primary").is_some_and(|c| {
            c.memory
                .is_some_and(|(u, m)| u > 0.0 && (m - 64.0 * 1_048_576.0).abs() < 1.0)
                && c.clients.is_some_and(|n| n >= 1.0)
                && c.ops.is_some()
        })
    })
    .await;
    let c = cache(&app, "tokyo", "primary").expect("primary");
    assert_eq!(c.replicas[0].state, "online", "{c:?}");
    assert_eq!(data::cache_health(c, &t).0, Health::Ok);

    // The primary stops: the replica's link is down, and that is critical.
    drop(primary);
    common::until_for(&mut app, &mut rx, 30, "the link down", |a| {
        cache(a, "korea", "replica").is_some_and(|c| c.link_up == Some(false))
    })
    .await;
    let down = cache(&app, "korea", "replica").expect("replica");
    assert_eq!(
        data::cache_health(down, &t),
        (Health::Crit, "replication link down".into())
    );
    common::until_for(&mut app, &mut rx, 30, "the stopped primary stale", |a| {
        matches!(
            a.source("tokyo", SourceKind::Cache, "primary"),
            SourceState::Stale { .. }
        )
    })
    .await;

    // Back, then the replica told REPLICAOF NO ONE: two primaries.
    let _primary = redis_server(dir.path(), p, None);
    common::until_for(&mut app, &mut rx, 30, "the link up again", |a| {
        cache(a, "korea", "replica").is_some_and(|c| c.link_up == Some(true))
    })
    .await;
    redis_cli(r, &["REPLICAOF", "NO", "ONE"]);
    common::until_for(&mut app, &mut rx, 30, "two primaries", |a| {
        cache(a, "korea", "replica").is_some_and(|c| c.role.as_deref() == Some("master"))
            && cache(a, "tokyo", "primary").is_some_and(|c| c.role.as_deref() == Some("master"))
    })
    .await;
    assert_eq!(
        app.primaries(SourceKind::Cache),
        ["replica (Seoul)", "primary (Tokyo)"]
    );
    app.run(touban::model::Command::Focus(touban::model::Pane::Data));
    let screen = common::text(&common::render(&app, 160, 30));
    assert!(
        screen.contains("2 caches report themselves primary"),
        "{screen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_series_of_the_database_and_cache_come_through_the_sdk() {
    let sandbox = common::calm(9, 10.0).await;
    let dir = tempfile::tempdir().expect("temp");
    let (_, config) = sandbox.write_config(dir.path()).expect("config");
    let mut loaded = common::loaded("default", "default");
    loaded.platform = Platform::parse(
        "sandbox config",
        &std::fs::read_to_string(&config).expect("read"),
    )
    .expect("valid");
    let mut app = App::new(loaded, std::time::SystemTime::now());
    let (tx, mut rx) = mpsc::channel(1024);
    touban::sources::cloudwatch::spawn(app.platform(), &tx, Duration::from_secs(1));
    let series = |a: &App, kind, name: &str, metric: &str| -> Option<Vec<f64>> {
        a.cloudwatch("tokyo", kind, name)?
            .metrics
            .iter()
            .find(|(m, _)| m == metric)
            .map(|(_, v)| v.clone())
    };
    common::until_for(
        &mut app,
        &mut rx,
        30,
        "an hour of CloudWatch minutes",
        |a| {
            series(
                a,
                SourceKind::Database,
                "iworkz-production-postgres",
                "CPUUtilization",
            )
            .is_some_and(|v| v.len() >= 50)
                && series(
                    a,
                    SourceKind::Cache,
                    "iworkz-production-redis",
                    "DatabaseMemoryUsagePercentage",
                )
                .is_some_and(|v| v.len() >= 50)
        },
    )
    .await;
    let cpu = series(
        &app,
        SourceKind::Database,
        "iworkz-production-postgres",
        "CPUUtilization",
    )
    .expect("cpu");
    assert!(cpu.iter().all(|v| (10.0..60.0).contains(v)), "{cpu:?}");
    let storage = series(
        &app,
        SourceKind::Database,
        "iworkz-production-postgres",
        "FreeStorageSpace",
    )
    .expect("storage");
    assert!(
        storage.first() >= storage.last(),
        "oldest first: storage only shrinks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promql_figures_from_a_real_prometheus_scraping_the_sandbox() {
    let found = Command::new("sh")
        .args(["-c", "command -v prometheus"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "prometheus is missing: install it with `apt-get install -y prometheus` (tests/run.sh does this)"
    );
    let sandbox = common::calm(10, 10.0).await;
    let dir = tempfile::tempdir().expect("temp");
    let targets: Vec<String> = sandbox
        .endpoints
        .iter()
        .filter(|e| e.region == "tokyo")
        .map(|e| format!("\"{}\"", e.url.trim_start_matches("http://")))
        .collect();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: tokyo\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        ),
    )
    .expect("config");
    let port = common::free_port();
    let mut prometheus = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start prometheus");
    let (mut app, mut rx) = {
        let config = format!(
            "environment = \"test\"\n\n[[regions]]\nname = \"tokyo\"\ndisplay = \"Tokyo\"\nrole = \"primary\"\ntime_zone = \"Asia/Tokyo\"\nprometheus = \"http://127.0.0.1:{port}\"\n"
        );
        let mut loaded = common::loaded("default", "default");
        loaded.platform = Platform::parse("test config", &config).expect("valid config");
        let app = App::new(loaded, std::time::SystemTime::now());
        let (tx, rx) = mpsc::channel(1024);
        touban::sources::promql::spawn(app.platform(), &tx, Duration::from_secs(1));
        (app, rx)
    };
    let figure = |a: &App, name: &str, series: &str| -> Option<f64> {
        a.figures("tokyo")?
            .iter()
            .find(|f| f.spec.name == name)?
            .values
            .as_ref()
            .ok()?
            .iter()
            .find(|(s, _)| s == series)
            .map(|(_, v)| *v)
    };
    common::until_for(&mut app, &mut rx, 60, "request rates by service", |a| {
        figure(a, "request rate", "service=backend-api").is_some_and(|v| v > 0.0)
            && figure(a, "p95 latency", "service=backend-api").is_some()
            && figure(a, "DB connections", "").is_some()
    })
    .await;
    assert!(
        app.source("tokyo", SourceKind::Metrics, "prometheus")
            .is_live()
    );
    let screen = common::text(&common::render(&app, 160, 40));
    assert!(screen.contains("SERVICES (PROMQL)"), "{screen}");
    assert!(
        screen
            .lines()
            .any(|l| l.contains("backend-api") && l.contains("req/s")),
        "{screen}"
    );
    let _ = prometheus.kill();
    let _ = prometheus.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_exporters_are_scraped_for_postgres_and_redis() {
    common::need(
        "prometheus-postgres-exporter",
        "prometheus-postgres-exporter",
    );
    common::need("prometheus-redis-exporter", "prometheus-redis-exporter");
    let pair = Pair::start();
    let dir = tempfile::tempdir().expect("temp");
    let queries = Path::new("/usr/share/doc/prometheus-postgres-exporter/examples/queries.yaml");
    let pg_exporter = |db_port: u16, port: u16| {
        let mut c = Command::new("prometheus-postgres-exporter");
        c.env(
            "DATA_SOURCE_NAME",
            format!("postgresql://postgres@127.0.0.1:{db_port}/postgres?sslmode=disable"),
        )
        .arg(format!("--web.listen-address=127.0.0.1:{port}"));
        if queries.exists() {
            c.arg(format!("--extend.query-path={}", queries.display()));
        }
        Process(
            c.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start postgres_exporter"),
        )
    };
    let (pe, re) = (common::free_port(), common::free_port());
    let _pe = pg_exporter(pair.primary, pe);
    let _re = pg_exporter(pair.replica, re);
    let rp = common::free_port();
    let _redis = redis_server(dir.path(), rp, None);
    let xp = common::free_port();
    let _rx = Process(
        Command::new("prometheus-redis-exporter")
            .arg(format!("-redis.addr=redis://127.0.0.1:{rp}"))
            .arg(format!("-web.listen-address=127.0.0.1:{xp}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start redis_exporter"),
    );
    let (mut app, mut rx) = app_with(&format!(
        "{}\n\
         [[databases]]\nname = \"primary\"\nregion = \"tokyo\"\nkind = \"postgres\"\nexporter = \"http://127.0.0.1:{pe}/metrics\"\n\n\
         [[databases]]\nname = \"replica\"\nregion = \"korea\"\nkind = \"postgres\"\nexporter = \"http://127.0.0.1:{re}/metrics\"\n\n\
         [[caches]]\nname = \"cache\"\nregion = \"tokyo\"\nkind = \"redis\"\nexporter = \"http://127.0.0.1:{xp}/metrics\"\n",
        common::TWO_REGIONS
    ));
    common::until_for(
        &mut app,
        &mut rx,
        30,
        "both databases through their exporters",
        |a| {
            ["tokyo", "korea"]
                .iter()
                .zip(["primary", "replica"])
                .all(|(r, n)| {
                    db(a, r, n).is_some_and(|d| {
                        d.up && d.via == "exporter"
                            && d.connections
                                .is_some_and(|(used, max)| used >= 1.0 && max >= 100.0)
                            && d.cache_hit.is_some()
                    })
                })
        },
    )
    .await;
    // Commands through Redis: the exporter's counters become rates.
    for _ in 0..20 {
        redis_cli(rp, &["SET", "k", "v"]);
        redis_cli(rp, &["GET", "k"]);
        redis_cli(rp, &["GET", "nope"]);
    }
    common::until_for(
        &mut app,
        &mut rx,
        30,
        "the cache's figures and rates",
        |a| {
            cache(a, "tokyo", "cache").is_some_and(|c| {
                c.up && c.role.as_deref() == Some("master")
                    && c.memory.is_some_and(|(u, m)| u > 0.0 && m > 0.0)
                    && c.clients.is_some()
                    && c.ops.is_some()
            })
        },
    )
    .await;
    let c = cache(&app, "tokyo", "cache").expect("cache");
    assert_eq!(c.via, "exporter");
}

/// A free port whose cluster bus port (+10000) is free too.
fn cluster_port() -> u16 {
    loop {
        let p = common::free_port();
        if p < 55_000 && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
            return p;
        }
    }
}

fn redis_config(kind: &str, port: u16, extra: &str) -> String {
    format!(
        "environment = \"test\"\n\n[[regions]]\nname = \"tokyo\"\ndisplay = \"Tokyo\"\nrole = \"primary\"\ntime_zone = \"Asia/Tokyo\"\n\n\
         [[caches]]\nname = \"cache\"\nregion = \"tokyo\"\nkind = \"{kind}\"\ndirect = {{ url = \"redis://127.0.0.1:{port}\" }}\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_sentinel_the_named_primary_is_read_and_follows_a_failover() {
    let dir = tempfile::tempdir().expect("temp");
    let (p, r, s) = (
        common::free_port(),
        common::free_port(),
        common::free_port(),
    );
    let _primary = redis_server(dir.path(), p, None);
    let rdir = dir.path().join("replica");
    std::fs::create_dir_all(&rdir).expect("dir");
    let _replica = redis_server(&rdir, r, Some(p));
    let _sentinel = common::redis::sentinel(dir.path(), s, p);
    let (mut app, mut rx) = app_with(&redis_config(
        "redis-sentinel",
        s,
        "master_name = \"mymaster\"\n",
    ));
    let named = |a: &App| cache(a, "tokyo", "cache").and_then(|c| c.sentinel.clone());
    common::until_for(
        &mut app,
        &mut rx,
        30,
        "Sentinel naming the primary and its replica",
        |a| {
            named(a) == Some((format!("127.0.0.1:{p}"), 1))
                && cache(a, "tokyo", "cache").is_some_and(|c| c.role.as_deref() == Some("master"))
        },
    )
    .await;
    // Sentinel refuses (NOGOODSLAVE) until it has heard from the replica.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = redis_cli(s, &["SENTINEL", "FAILOVER", "mymaster"]);
        if answer == "OK" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Sentinel refused the failover: {answer}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    common::until_for(
        &mut app,
        &mut rx,
        30,
        "the replica named primary after the failover",
        |a| {
            named(a).is_some_and(|(primary, _)| primary == format!("127.0.0.1:{r}"))
                && cache(a, "tokyo", "cache").is_some_and(|c| c.role.as_deref() == Some("master"))
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_reports_its_state_and_slots() {
    let dir = tempfile::tempdir().expect("temp");
    let ports: Vec<u16> = (0..3).map(|_| cluster_port()).collect();
    let _nodes: Vec<Process> = ports
        .iter()
        .map(|port| {
            let d = dir.path().join(port.to_string());
            std::fs::create_dir_all(&d).expect("dir");
            Process(
                Command::new("redis-server")
                    .args([
                        "--port",
                        &port.to_string(),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                    ])
                    .args(["--cluster-enabled", "yes", "--appendonly", "no"])
                    .arg("--dir")
                    .arg(&d)
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .expect("start a cluster node"),
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while ports.iter().any(|p| redis_cli(*p, &["PING"]) != "PONG") {
        assert!(Instant::now() < deadline, "the cluster nodes did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (mut app, mut rx) = app_with(&redis_config("redis-cluster", ports[0], ""));
    let state = |a: &App| cache(a, "tokyo", "cache").and_then(|c| c.cluster.clone());
    common::until_for(&mut app, &mut rx, 30, "an unassigned cluster", |a| {
        state(a).is_some()
    })
    .await;
    let t = app.platform().thresholds.clone();
    let c = cache(&app, "tokyo", "cache").expect("cache");
    assert_eq!(data::cache_health(c, &t).0, Health::Crit, "{:?}", c.cluster);
    let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let out = Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(&nodes)
        .arg("--cluster-yes")
        .output()
        .expect("redis-cli --cluster create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    common::until_for(
        &mut app,
        &mut rx,
        30,
        "the cluster ok with every slot",
        |a| state(a) == Some(("ok".to_owned(), 16_384, 3)),
    )
    .await;
    let c = cache(&app, "tokyo", "cache").expect("cache");
    assert_eq!(data::cache_health(c, &t).0, Health::Ok);
}

/// One PostgreSQL server with TLS on (a certificate for 127.0.0.1 from a
/// fresh CA), stopped when dropped.
struct TlsServer {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    ca: PathBuf,
}

impl TlsServer {
    fn start() -> TlsServer {
        let bin = pg_bin();
        let dir = tempfile::tempdir().expect("temp");
        let root = dir.path().to_path_buf();
        let port = common::free_port();
        let data = init_server(&bin, &root, "data", port, "ssl = on\n");
        let tls = touban::sandbox::tls::Tls::generate().expect("certificates");
        std::fs::write(data.join("server.crt"), &tls.cert_pem).expect("cert");
        std::fs::write(data.join("server.key"), &tls.key_pem).expect("key");
        let ca = root.join("ca.pem");
        std::fs::write(&ca, &tls.ca_pem).expect("ca");
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&root)
            .status();
        let _ = Command::new("chmod")
            .arg("600")
            .arg(data.join("server.key"))
            .status();
        let log = root.join("server.log");
        as_postgres(
            &bin,
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-w",
                "start",
            ],
        );
        TlsServer { bin, dir, port, ca }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &data.to_string_lossy(), "-m", "immediate", "stop"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_verifies_the_server_and_says_so() {
    let server = TlsServer::start();
    let config = |extra: &str| {
        format!(
            "environment = \"test\"\n\n[[regions]]\nname = \"tokyo\"\ndisplay = \"Tokyo\"\nrole = \"primary\"\ntime_zone = \"Asia/Tokyo\"\n\n\
             [[databases]]\nname = \"db\"\nregion = \"tokyo\"\nkind = \"postgres\"\ndirect = {{ url = \"postgres://postgres@127.0.0.1:{}/postgres?sslmode=require\"{extra} }}\n",
            server.port
        )
    };
    // With the CA: encrypted, and the cell says so.
    let (mut app, mut rx) = app_with(&config(&format!(", ca_file = \"{}\"", server.ca.display())));
    common::until_for(&mut app, &mut rx, 30, "a TLS connection", |a| {
        db(a, "tokyo", "db").is_some_and(|d| d.tls == Some(true))
    })
    .await;
    app.run(touban::model::Command::Focus(touban::model::Pane::Data));
    let screen = common::text(&common::render(&app, 160, 30));
    assert!(screen.contains("· TLS"), "{screen}");
    // Without it, the certificate is not trusted: an error, never a
    // silent fallback to plain text.
    let (mut app, mut rx) = app_with(&config(""));
    common::until_for(&mut app, &mut rx, 30, "a refused certificate", |a| {
        matches!(a.source("tokyo", SourceKind::Database, "db"),
            SourceState::Error { message, .. } if message.contains("cannot connect"))
    })
    .await;
    assert!(db(&app, "tokyo", "db").is_none());
}
