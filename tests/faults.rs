//! The fault matrix: each source kind against a server that is down at
//! start, dies, hangs, half-opens its connections, answers 5xx, garbage or
//! 401/403, sends an endless body, is paused (SIGSTOP) or killed, and
//! comes back. Behind every source is a real server (the sandbox's
//! Kubernetes API, exporters, AI services, Alertmanager and CloudWatch; a
//! real PostgreSQL, Redis and Prometheus) reached through a switchable
//! proxy on loopback.
//!
//! Asserted, as behaviour: never live while failing (after the time it
//! takes to notice), the last good data kept, no source task gone
//! (recovery proves it), a key answered while a source fails, memory
//! bounded. Reported, as figures (`figure: fault ...`), not asserted
//! against a clock: how long each took to notice and to recover. The only
//! bound asserted on time is a generous minute.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::faults::{Mode, Proxy};
use tokio::sync::mpsc;
use touban::app::{App, Event};
use touban::model::cluster::Health;
use touban::model::data::{self, DataStatus};
use touban::model::{Key, SourceId, SourceKind, SourceState};
use touban::sandbox::{Options, Sandbox, Scenario};

/// The most any fault may take to notice, or to recover from.
const MINUTE: Duration = Duration::from_secs(60);
/// How long a fault is held once noticed, checking it stays noticed.
const HOLD: Duration = Duration::from_secs(3);

/// The process's resident memory, in bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// A console's state, its event channel, and what the tests measure.
struct Console {
    app: App,
    rx: mpsc::Receiver<Event>,
    tx: mpsc::Sender<Event>,
    /// When a key was sent, until the loop handles it.
    key_sent: Option<Instant>,
    key_latency: Option<Duration>,
    peak_rss: u64,
}

impl Console {
    fn new(platform_toml: &str) -> Console {
        let mut loaded = common::loaded("default", "default");
        loaded.platform = touban::config::Platform::parse("faults.toml", platform_toml)
            .expect("the test's config is valid");
        let (tx, rx) = mpsc::channel(4096);
        Console {
            app: App::new(loaded, std::time::SystemTime::now()),
            rx,
            tx,
            key_sent: None,
            key_latency: None,
            peak_rss: 0,
        }
    }

    /// Handles what arrives for at most `limit`, until `done`; returns how
    /// long it took. Every state seen passes `always`.
    async fn until(
        &mut self,
        limit: Duration,
        what: &str,
        always: &dyn Fn(&App) -> Result<(), String>,
        done: &dyn Fn(&App) -> bool,
    ) -> Duration {
        let started = Instant::now();
        loop {
            if let Err(e) = always(&self.app) {
                panic!("{what}: {e}");
            }
            if done(&self.app) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "timed out after {} s waiting for {what}",
                limit.as_secs()
            );
            if let Ok(Some(event)) =
                tokio::time::timeout(Duration::from_millis(100), self.rx.recv()).await
            {
                if matches!(event, Event::Key(_))
                    && let Some(sent) = self.key_sent.take()
                {
                    self.key_latency = Some(sent.elapsed());
                }
                self.app.handle(event);
            }
            self.app.handle(Event::Tick(std::time::SystemTime::now()));
            self.peak_rss = self.peak_rss.max(rss());
        }
    }

    /// Sends a key through the channel the sources use.
    fn press(&mut self, c: char) {
        self.key_sent = Some(Instant::now());
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(Event::Key(Key::char(c))).await;
        });
    }
}

/// What a source's cell looks like while it fails.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Not live (stale, saying why).
    NotLive,
    /// Live, with this verdict: the server answered, and what it said is
    /// bad news (an AI service's probes answering 5xx, its metrics a page
    /// of HTML).
    Verdict(Health),
}

/// What an HTTP source shows for the answers that are answers.
#[derive(Clone, Copy)]
struct Answered {
    /// A 5xx, a 401/403.
    refused: Expect,
    /// 200 with a page that is not what it serves; an endless body.
    garbage: Expect,
}

/// An HTTP source that is failing for each of them.
const FAILS: Answered = Answered {
    refused: Expect::NotLive,
    garbage: Expect::NotLive,
};

/// A question asked of the console's state.
type Ask<T> = Box<dyn Fn(&App) -> T>;

/// One source as the suite watches it.
struct Subject {
    kind: &'static str,
    id: SourceId,
    /// The last good data is still there.
    kept: Ask<bool>,
    /// Its verdict, where it has one.
    verdict: Ask<Option<Health>>,
}

impl Subject {
    fn state<'a>(&self, app: &'a App) -> &'a SourceState {
        app.source(&self.id.region, self.id.kind, &self.id.name)
    }
}

/// The figures of one cell.
struct Cell {
    noticed: Duration,
    recovered: Duration,
    key: Option<Duration>,
}

fn report(s: &Subject, condition: &str, c: &Cell) {
    println!(
        "figure: fault {:<16} {:<12} noticed after {:>5.1} s · live again {:>5.1} s after it ended · last good kept{}",
        s.kind,
        condition,
        c.noticed.as_secs_f64(),
        c.recovered.as_secs_f64(),
        c.key
            .map(|k| format!(" · a key answered in {} ms", k.as_millis()))
            .unwrap_or_default()
    );
}

/// Runs one fault against a live source: `fault`, noticed, held, `heal`,
/// recovered. Asserts the behaviour; returns the figures.
async fn cell(
    console: &mut Console,
    s: &Subject,
    condition: &str,
    expect: Expect,
    fault: impl FnOnce(),
    heal: impl FnOnce(),
) -> Cell {
    held(console, s, condition, expect, HOLD, fault, heal).await
}

/// As [`cell`], the fault held for `hold` once noticed.
async fn held(
    console: &mut Console,
    s: &Subject,
    condition: &str,
    expect: Expect,
    hold: Duration,
    fault: impl FnOnce(),
    heal: impl FnOnce(),
) -> Cell {
    let ok = |a: &App| s.state(a).is_live() && (s.kept)(a);
    let nothing = |_: &App| Ok(());
    console
        .until(
            MINUTE,
            &format!("{} live before {condition}", s.kind),
            &nothing,
            &ok,
        )
        .await;
    fault();
    let noticed_now = |a: &App| match expect {
        Expect::NotLive => !s.state(a).is_live(),
        Expect::Verdict(h) => (s.verdict)(a) == Some(h),
    };
    let kept = |a: &App| {
        if (s.kept)(a) {
            Ok(())
        } else {
            Err(format!("{}: the last good data is gone", s.kind))
        }
    };
    let noticed = console
        .until(
            MINUTE,
            &format!("{} noticing {condition}", s.kind),
            &kept,
            &noticed_now,
        )
        .await;
    if expect == Expect::NotLive {
        let state = s.state(&console.app);
        assert!(
            matches!(state, SourceState::Stale { why, .. } if !why.is_empty()),
            "{} {condition}: was live, so stale saying why: {state:?}",
            s.kind
        );
    }
    // Held: never live (or never better) while it fails; a key answered.
    console.press('9');
    let still = |a: &App| {
        kept(a)?;
        if noticed_now(a) {
            Ok(())
        } else {
            // What it showed instead, for the next time this happens.
            Err(format!(
                "{}: {condition} is no longer shown (state {:?}, verdict {:?}, reading {:?})",
                s.kind,
                s.state(a),
                (s.verdict)(a),
                data_of(a, &s.id)
            ))
        }
    };
    let hold_until = Instant::now() + hold;
    console
        .until(
            hold * 2,
            &format!("{} holding {condition}", s.kind),
            &still,
            &|_| Instant::now() >= hold_until,
        )
        .await;
    let key = console.key_latency.take();
    assert!(
        key.is_some(),
        "{}: a key sent during {condition} was never handled",
        s.kind
    );
    heal();
    let healed = |a: &App| ok(a) && !noticed_now(a);
    let recovered = console
        .until(
            MINUTE,
            &format!("{} recovering from {condition}", s.kind),
            &kept,
            &healed,
        )
        .await;
    let c = Cell {
        noticed,
        recovered,
        key,
    };
    report(s, condition, &c);
    c
}

/// A source whose server is down from the start: an error (never stale:
/// it was never live), then live once the server comes.
async fn down_at_start(console: &mut Console, s: &Subject, heal: impl FnOnce()) {
    let never_live = |a: &App| {
        let state = s.state(a);
        if state.is_live() || matches!(state, SourceState::Stale { .. }) {
            Err(format!(
                "{}: {state:?} while its server was down from the start",
                s.kind
            ))
        } else {
            Ok(())
        }
    };
    let failing = |a: &App| matches!(s.state(a), SourceState::Error { .. });
    let noticed = console
        .until(
            MINUTE,
            &format!("{} failing from the start", s.kind),
            &never_live,
            &failing,
        )
        .await;
    let hold_until = Instant::now() + HOLD;
    console
        .until(HOLD * 2, "held down", &never_live, &|_| {
            Instant::now() >= hold_until
        })
        .await;
    heal();
    let ok = |a: &App| s.state(a).is_live() && (s.kept)(a);
    let recovered = console
        .until(MINUTE, &format!("{} coming up", s.kind), &|_| Ok(()), &ok)
        .await;
    report(
        s,
        "down at start",
        &Cell {
            noticed,
            recovered,
            key: None,
        },
    );
}

/// Every loopback `http(s)://127.0.0.1:PORT` of `text` put behind a proxy
/// of its own; returns the text and the proxies by upstream port.
async fn behind_proxies(text: &str) -> (String, Vec<(u16, Proxy)>) {
    let mut out = text.to_owned();
    let mut proxies: Vec<(u16, Proxy)> = Vec::new();
    for scheme in ["http://127.0.0.1:", "https://127.0.0.1:"] {
        let mut from = 0;
        while let Some(at) = out[from..].find(scheme).map(|i| i + from) {
            let digits: String = out[at + scheme.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let Ok(port) = digits.parse::<u16>() else {
                from = at + scheme.len();
                continue;
            };
            let proxy_port = if let Some((_, proxy)) = proxies.iter().find(|(p, _)| *p == port) {
                proxy.addr.port()
            } else {
                let upstream: SocketAddr = ([127, 0, 0, 1], port).into();
                let proxy = Proxy::start(upstream).await;
                let p = proxy.addr.port();
                proxies.push((port, proxy));
                p
            };
            let old = format!("{scheme}{port}");
            let new = format!("{scheme}{proxy_port}");
            out.replace_range(at..at + old.len(), &new);
            from = at + new.len();
        }
    }
    (out, proxies)
}

/// The sandbox's world (calm), its every endpoint behind a proxy; the
/// console config (alert sources polled each second) and its proxies.
async fn proxied_world(seed: u64) -> (Sandbox, tempfile::TempDir, String, Vec<(u16, Proxy)>) {
    let sandbox = Sandbox::start(Options {
        seed,
        pods: 0,
        speed: 10.0,
        scenario: Scenario::Calm,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("temp");
    let (kubeconfig_text, mut proxies) = behind_proxies(&sandbox.kubeconfig()).await;
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, kubeconfig_text).expect("kubeconfig");
    let (config, more) = behind_proxies(&sandbox.console_config(&kubeconfig)).await;
    proxies.extend(more);
    let config = config.replace(
        "kind = \"alertmanager\"\n",
        "kind = \"alertmanager\"\ninterval_seconds = 1\n",
    );
    let config = config.replace(
        "kind = \"cloudwatch\"\n",
        "kind = \"cloudwatch\"\ninterval_seconds = 1\n",
    );
    (sandbox, dir, config, proxies)
}

/// The proxy in front of `url`'s port.
fn proxy_of<'a>(proxies: &'a [(u16, Proxy)], url: &str) -> &'a Proxy {
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .expect("a port");
    proxies
        .iter()
        .find(|(p, _)| *p == port)
        .map(|(_, proxy)| proxy)
        .expect("proxied")
}

fn data_of<'a>(app: &'a App, id: &SourceId) -> Option<&'a DataStatus> {
    app.data(&id.region, id.kind, &id.name)
}

/// A database or cache, kept while its last reading is.
fn data_subject(kind: &'static str, id: SourceId) -> Subject {
    let kept_id = id.clone();
    Subject {
        kind,
        id,
        kept: Box::new(move |a| data_of(a, &kept_id).is_some()),
        verdict: Box::new(|_| None),
    }
}

/// The HTTP faults, one after another, on one source behind `proxy`.
async fn http_matrix(console: &mut Console, s: &Subject, proxy: &Proxy, answered: Answered) {
    let relay = || proxy.set(Mode::Relay);
    cell(
        console,
        s,
        "dies",
        Expect::NotLive,
        || proxy.set(Mode::Down),
        relay,
    )
    .await;
    cell(
        console,
        s,
        "hangs",
        Expect::NotLive,
        || proxy.set(Mode::Hang),
        relay,
    )
    .await;
    cell(
        console,
        s,
        "5xx",
        answered.refused,
        || proxy.set(Mode::Http(503, "text/plain", "upstream unavailable".into())),
        relay,
    )
    .await;
    cell(
        console,
        s,
        "malformed",
        answered.garbage,
        || {
            proxy.set(Mode::Http(
                200,
                "text/html",
                "<html><body><h1>Welcome to nginx!</h1></body></html>".into(),
            ));
        },
        relay,
    )
    .await;
    cell(
        console,
        s,
        "401/403",
        answered.refused,
        || {
            proxy.set(Mode::Http(
                403,
                "application/json",
                "{\"error\":\"forbidden\"}".into(),
            ));
        },
        relay,
    )
    .await;
    let before = rss();
    console.peak_rss = before;
    cell(
        console,
        s,
        "endless body",
        answered.garbage,
        || proxy.set(Mode::Endless),
        relay,
    )
    .await;
    let grew = console.peak_rss.saturating_sub(before);
    println!(
        "figure: fault {:<16} endless body: resident memory grew {:.1} MiB at most (cap 8 MiB an answer)",
        s.kind,
        f64::from(u32::try_from(grew >> 10).unwrap_or(u32::MAX)) / 1024.0
    );
    assert!(grow_ok(grew), "{}: memory grew {grew} bytes", s.kind);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_api_faults() {
    let (sandbox, _dir, config, proxies) = proxied_world(41).await;
    let tokyo = &sandbox.clusters[0];
    let proxy = proxy_of(&proxies, &tokyo.url);
    let subject = Subject {
        kind: "cluster",
        id: SourceId::new("tokyo", SourceKind::Cluster, "eks-tokyo"),
        kept: Box::new(|a| a.cluster("eks-tokyo").is_some_and(|c| c.pods.len() == 9)),
        verdict: Box::new(|_| None),
    };
    // Down from the start: the proxy refuses before the source begins.
    proxy.set(Mode::Down);
    let mut console = Console::new(&config);
    touban::sources::cluster::spawn(console.app.platform(), &console.tx);
    down_at_start(&mut console, &subject, || proxy.set(Mode::Relay)).await;
    let relay = || proxy.set(Mode::Relay);
    cell(
        &mut console,
        &subject,
        "dies",
        Expect::NotLive,
        || proxy.set(Mode::Down),
        relay,
    )
    .await;
    cell(
        &mut console,
        &subject,
        "hangs",
        Expect::NotLive,
        || proxy.set(Mode::Hang),
        relay,
    )
    .await;
    // Held past a watch's idle limit: the probe finds a fresh connection
    // soon, but the frozen watches must be heard from again (or abandoned
    // and opened afresh) before the cluster reads live.
    held(
        &mut console,
        &subject,
        "half-open",
        Expect::NotLive,
        Duration::from_secs(40),
        || proxy.set(Mode::HalfOpen),
        relay,
    )
    .await;
    cell(
        &mut console,
        &subject,
        "5xx",
        Expect::NotLive,
        || sandbox.set_api_status("eks-tokyo", Some(500)),
        || sandbox.set_api_status("eks-tokyo", None),
    )
    .await;
    cell(
        &mut console,
        &subject,
        "401/403",
        Expect::NotLive,
        || sandbox.set_api_status("eks-tokyo", Some(403)),
        || sandbox.set_api_status("eks-tokyo", None),
    )
    .await;
    cell(
        &mut console,
        &subject,
        "malformed",
        Expect::NotLive,
        || proxy.set(Mode::Garbage),
        relay,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporter_faults() {
    let (sandbox, _dir, config, proxies) = proxied_world(42).await;
    let mut console = Console::new(&config);
    touban::sources::data::spawn(console.app.platform(), &console.tx, Duration::from_secs(1));
    let db = touban::sandbox::cloudwatch::DB;
    let cache = touban::sandbox::cloudwatch::CACHE;
    for (kind, name, source_kind) in [
        ("postgres exporter", db, SourceKind::Database),
        ("redis exporter", cache, SourceKind::Cache),
    ] {
        let id = SourceId::new("tokyo", source_kind, name);
        let proxy = proxy_of(&proxies, sandbox.endpoint("tokyo", name).expect("endpoint"));
        let kept_id = id.clone();
        let subject = Subject {
            kind,
            id,
            kept: Box::new(move |a| data_of(a, &kept_id).is_some()),
            verdict: Box::new(|_| None),
        };
        http_matrix(&mut console, &subject, proxy, FAILS).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ai_service_faults() {
    let (sandbox, _dir, config, proxies) = proxied_world(43).await;
    let mut console = Console::new(&config);
    touban::sources::data::spawn(console.app.platform(), &console.tx, Duration::from_secs(1));
    let id = SourceId::new("tokyo", SourceKind::AiService, "ai-services");
    let proxy = proxy_of(
        &proxies,
        sandbox.endpoint("tokyo", "ai-services").expect("endpoint"),
    );
    let thresholds = console.app.platform().thresholds.clone();
    let (kept_id, verdict_id) = (id.clone(), id.clone());
    let subject = Subject {
        kind: "ai service",
        id,
        kept: Box::new(move |a| data_of(a, &kept_id).is_some()),
        verdict: Box::new(move |a| data_of(a, &verdict_id).map(|d| data::health(d, &thresholds).0)),
    };
    // Probes answering 503 or 403 are answers: the source is live and its
    // service is failing; metrics that are a page of HTML, or endless, are
    // said as unreadable. Probes that cannot be read at all are no answer.
    let answered = Answered {
        refused: Expect::Verdict(Health::Crit),
        garbage: Expect::Verdict(Health::Warn),
    };
    http_matrix(&mut console, &subject, proxy, answered).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_source_faults() {
    let (sandbox, _dir, config, proxies) = proxied_world(44).await;
    let mut console = Console::new(&config);
    touban::sources::alerts::spawn(console.app.platform(), &console.tx);
    let (_, am) = sandbox
        .alertmanagers
        .iter()
        .find(|(r, _)| *r == "tokyo")
        .expect("Tokyo's Alertmanager");
    for (kind, name, url) in [
        ("alertmanager", "alertmanager", am.as_str()),
        (
            "cloudwatch alarms",
            "cloudwatch-alarms",
            sandbox.cloudwatch.as_str(),
        ),
    ] {
        let id = SourceId::new("tokyo", SourceKind::Alerts, name);
        let subject = Subject {
            kind,
            id,
            kept: Box::new(|a| a.alert_counts("tokyo").is_some()),
            verdict: Box::new(|_| None),
        };
        http_matrix(&mut console, &subject, proxy_of(&proxies, url), FAILS).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_metric_faults() {
    let (sandbox, _dir, config, proxies) = proxied_world(45).await;
    let mut console = Console::new(&config);
    touban::sources::cloudwatch::spawn(console.app.platform(), &console.tx, Duration::from_secs(1));
    let proxy = proxy_of(&proxies, &sandbox.cloudwatch);
    let db = touban::sandbox::cloudwatch::DB;
    let series = |a: &App| a.cloudwatch("tokyo", SourceKind::Database, db).cloned();
    for (condition, mode) in [
        ("dies", Mode::Down),
        ("hangs", Mode::Hang),
        ("5xx", Mode::Http(500, "application/json", "{}".into())),
        ("malformed", Mode::Garbage),
    ] {
        let good =
            |a: &App| series(a).is_some_and(|s| s.failing.is_none() && !s.metrics.is_empty());
        console
            .until(MINUTE, "CloudWatch series", &|_| Ok(()), &good)
            .await;
        proxy.set(mode);
        let kept = |a: &App| {
            if series(a).is_some_and(|s| !s.metrics.is_empty()) {
                Ok(())
            } else {
                Err("the last good series are gone".to_owned())
            }
        };
        let failing = |a: &App| series(a).is_some_and(|s| s.failing.is_some());
        let noticed = console
            .until(MINUTE, "the failure shown", &kept, &failing)
            .await;
        proxy.set(Mode::Relay);
        let recovered = console
            .until(MINUTE, "CloudWatch again", &kept, &good)
            .await;
        println!(
            "figure: fault {:<16} {condition:<12} noticed after {:>5.1} s · good again {:>5.1} s after it ended · last good kept",
            "cloudwatch series",
            noticed.as_secs_f64(),
            recovered.as_secs_f64()
        );
    }
}

/// A Prometheus with nothing to scrape and no rules, on a free port.
fn empty_prometheus(dir: &std::path::Path) -> (common::Process, u16) {
    common::need("prometheus", "prometheus");
    std::fs::write(
        dir.join("prometheus.yml"),
        "global:\n  scrape_interval: 1s\n",
    )
    .expect("config");
    let port = common::free_port();
    let server = common::Process(
        std::process::Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    (server, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_faults() {
    let dir = tempfile::tempdir().expect("temp");
    let (_prometheus, port) = empty_prometheus(dir.path());
    let proxy = Proxy::start(([127, 0, 0, 1], port).into()).await;
    let config = format!(
        "{}\n[[alert_sources]]\nname = \"prometheus\"\nregion = \"tokyo\"\nkind = \"prometheus\"\nurl = \"{}\"\ninterval_seconds = 1\n",
        common::TWO_REGIONS.replacen(
            "time_zone = \"Asia/Tokyo\"\n",
            &format!(
                "time_zone = \"Asia/Tokyo\"\nprometheus = \"{}\"\n",
                proxy.url("http")
            ),
            1
        ),
        proxy.url("http")
    );
    // Down from the start, then up.
    proxy.set(Mode::Down);
    let mut console = Console::new(&config);
    touban::sources::alerts::spawn(console.app.platform(), &console.tx);
    touban::sources::promql::spawn(console.app.platform(), &console.tx, Duration::from_secs(1));
    let alerts = Subject {
        kind: "prometheus rules",
        id: SourceId::new("tokyo", SourceKind::Alerts, "prometheus"),
        kept: Box::new(|a| a.alert_counts("tokyo").is_some()),
        verdict: Box::new(|_| None),
    };
    down_at_start(&mut console, &alerts, || proxy.set(Mode::Relay)).await;
    http_matrix(&mut console, &alerts, &proxy, FAILS).await;
    let promql = Subject {
        kind: "promql",
        id: SourceId::new("tokyo", SourceKind::Metrics, "prometheus"),
        kept: Box::new(|a| a.figures("tokyo").is_some()),
        verdict: Box::new(|_| None),
    };
    http_matrix(&mut console, &promql, &proxy, FAILS).await;
}

/// The faults of a connection, on one source behind `proxy`: it dies,
/// hangs, half-opens, answers garbage.
async fn connection_matrix(console: &mut Console, s: &Subject, proxy: &Proxy) {
    let relay = || proxy.set(Mode::Relay);
    for (condition, mode) in [
        ("dies", Mode::Down),
        ("hangs", Mode::Hang),
        ("half-open", Mode::HalfOpen),
        ("malformed", Mode::Garbage),
    ] {
        cell(
            console,
            s,
            condition,
            Expect::NotLive,
            || proxy.set(mode),
            relay,
        )
        .await;
    }
}

/// A peer that answers with `head` and then endless bytes; memory stays
/// bounded.
async fn flood(console: &mut Console, s: &Subject, proxy: &Proxy, head: &'static [u8]) {
    let before = rss();
    console.peak_rss = before;
    cell(
        console,
        s,
        "oversized",
        Expect::NotLive,
        || proxy.set(Mode::Flood(head)),
        || proxy.set(Mode::Relay),
    )
    .await;
    let grew = console.peak_rss.saturating_sub(before);
    println!(
        "figure: fault {:<16} oversized reply: resident memory grew {:.1} MiB at most (cap 8 MiB an answer)",
        s.kind,
        f64::from(u32::try_from(grew >> 10).unwrap_or(u32::MAX)) / 1024.0
    );
    assert!(grow_ok(grew), "{}: memory grew {grew} bytes", s.kind);
}

fn grow_ok(grew: u64) -> bool {
    grew < 256 << 20
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_direct_faults() {
    let pg = common::postgres::Server::start();
    let port = pg.port;
    pg.psql("CREATE ROLE touban LOGIN");
    let proxy = Proxy::start(([127, 0, 0, 1], port).into()).await;
    let config = format!(
        "{}\n[[databases]]\nname = \"db\"\nregion = \"tokyo\"\nkind = \"postgres\"\ndirect = {{ url = \"postgres://touban@127.0.0.1:{}/postgres?sslmode=disable\" }}\n",
        common::TWO_REGIONS,
        proxy.addr.port()
    );
    proxy.set(Mode::Down);
    let mut console = Console::new(&config);
    touban::sources::data::spawn(console.app.platform(), &console.tx, Duration::from_secs(1));
    let s = data_subject(
        "postgres direct",
        SourceId::new("tokyo", SourceKind::Database, "db"),
    );
    down_at_start(&mut console, &s, || proxy.set(Mode::Relay)).await;
    connection_matrix(&mut console, &s, &proxy).await;
    // A reply announcing 2 GiB, then sending it: refused past the cap.
    flood(&mut console, &s, &proxy, b"R\x7f\xff\xff\xff").await;
    // Refused: every connection rejected by pg_hba.conf, and the one
    // touban holds ended.
    let hba = pg.data.join("pg_hba.conf");
    let trusting = std::fs::read_to_string(&hba).expect("hba");
    cell(
        &mut console,
        &s,
        "401/403",
        Expect::NotLive,
        || {
            std::fs::write(
                &hba,
                format!("host all touban 127.0.0.1/32 reject\n{trusting}"),
            )
            .expect("hba");
            pg.psql("SELECT pg_reload_conf()");
            pg.psql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'touban'",
            );
        },
        || {
            std::fs::write(&hba, &trusting).expect("hba");
            pg.psql("SELECT pg_reload_conf()");
        },
    )
    .await;
    // The real server paused (SIGSTOP), then continued.
    cell(
        &mut console,
        &s,
        "paused",
        Expect::NotLive,
        || pg.signal("STOP"),
        || pg.signal("CONT"),
    )
    .await;
    // Killed, then started again on the same port.
    cell(
        &mut console,
        &s,
        "killed",
        Expect::NotLive,
        || pg.ctl("stop"),
        || pg.ctl("start"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_direct_faults() {
    use common::redis::{redis_cli, redis_server};
    let dir = tempfile::tempdir().expect("temp");
    let port = common::free_port();
    let server = std::sync::Mutex::new(Some(redis_server(dir.path(), port, None)));
    common::redis::wait_ready(port);
    let pid = || {
        server
            .lock()
            .expect("lock")
            .as_ref()
            .map(|p| p.0.id())
            .expect("running")
    };
    let proxy = Proxy::start(([127, 0, 0, 1], port).into()).await;
    let config = format!(
        "{}\n[[caches]]\nname = \"cache\"\nregion = \"tokyo\"\nkind = \"redis\"\ndirect = {{ url = \"redis://127.0.0.1:{}\" }}\n",
        common::TWO_REGIONS,
        proxy.addr.port()
    );
    proxy.set(Mode::Down);
    let mut console = Console::new(&config);
    touban::sources::data::spawn(console.app.platform(), &console.tx, Duration::from_secs(1));
    let s = data_subject(
        "redis direct",
        SourceId::new("tokyo", SourceKind::Cache, "cache"),
    );
    down_at_start(&mut console, &s, || proxy.set(Mode::Relay)).await;
    connection_matrix(&mut console, &s, &proxy).await;
    // A bulk string of 2 GiB announced, then sent: refused past the cap.
    flood(&mut console, &s, &proxy, b"$2147483647\r\n").await;
    // Refused: a password required, the connection touban holds ended.
    cell(
        &mut console,
        &s,
        "401/403",
        Expect::NotLive,
        || {
            redis_cli(
                port,
                &["CONFIG", "SET", "requirepass", "not-given-to-touban"],
            );
            redis_cli(
                port,
                &[
                    "-a",
                    "not-given-to-touban",
                    "CLIENT",
                    "KILL",
                    "TYPE",
                    "normal",
                ],
            );
        },
        || {
            redis_cli(
                port,
                &[
                    "-a",
                    "not-given-to-touban",
                    "CONFIG",
                    "SET",
                    "requirepass",
                    "",
                ],
            );
        },
    )
    .await;
    let by_pid = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig}");
    };
    cell(
        &mut console,
        &s,
        "paused",
        Expect::NotLive,
        || by_pid("STOP"),
        || by_pid("CONT"),
    )
    .await;
    cell(
        &mut console,
        &s,
        "killed",
        Expect::NotLive,
        || {
            server.lock().expect("lock").take();
        },
        || {
            *server.lock().expect("lock") = Some(redis_server(dir.path(), port, None));
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_answers_that_parse_never_panic_and_one_bad_alert_hides_no_other() {
    // A Prometheus answering a rule whose `for` is beyond any time, and an
    // Alertmanager answering one alert without a fingerprint among good
    // ones: the console stays up, live, shows the good ones, counts the bad.
    let huge_for = serde_json::json!({"status": "success", "data": {"groups": [{"name": "g", "rules": [
        {"type": "alerting", "name": "Forever", "query": "up == 0", "duration": 1e300,
         "alerts": [{"labels": {"alertname": "Forever", "severity": "critical"}, "annotations": {},
                     "state": "pending", "activeAt": "2026-12-01T00:00:00Z"}]},
        {"type": "alerting", "name": "Broken", "query": "x", "duration": "not a number"}
    ]}]}});
    let good = |n: &str| {
        serde_json::json!({"labels": {"alertname": n, "severity": "warning"},
        "annotations": {}, "startsAt": "2026-12-01T00:00:00Z", "fingerprint": n,
        "status": {"state": "active", "silencedBy": [], "inhibitedBy": []}})
    };
    let mut bad = good("NoFingerprint");
    bad.as_object_mut().map(|o| o.remove("fingerprint"));
    let alerts = serde_json::json!([good("First"), bad, good("Second")]);
    let prom = Proxy::start(([127, 0, 0, 1], 9).into()).await;
    prom.set(Mode::Http(200, "application/json", huge_for.to_string()));
    let am = Proxy::start(([127, 0, 0, 1], 9).into()).await;
    am.set(Mode::Http(200, "application/json", alerts.to_string()));
    let config = format!(
        "{}\n[[alert_sources]]\nname = \"prometheus\"\nregion = \"tokyo\"\nkind = \"prometheus\"\nurl = \"{}\"\ninterval_seconds = 1\n\n[[alert_sources]]\nname = \"alertmanager\"\nregion = \"korea\"\nkind = \"alertmanager\"\nurl = \"{}\"\ninterval_seconds = 1\n",
        common::TWO_REGIONS,
        prom.url("http"),
        am.url("http")
    );
    let mut console = Console::new(&config);
    touban::sources::alerts::spawn(console.app.platform(), &console.tx);
    let live = |a: &App, r: &str, n: &str| a.source(r, SourceKind::Alerts, n).is_live();
    console
        .until(MINUTE, "both hostile sources read", &|_| Ok(()), &|a| {
            live(a, "tokyo", "prometheus")
                && live(a, "korea", "alertmanager")
                && a.alert_rows().len() == 3
        })
        .await;
    let names: Vec<&str> = console
        .app
        .alert_rows()
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert!(
        names.contains(&"First") && names.contains(&"Second") && names.contains(&"Forever"),
        "{names:?}"
    );
    let forever = console
        .app
        .alert_rows()
        .into_iter()
        .find(|a| a.name == "Forever")
        .expect("listed");
    assert_eq!(forever.fires_at, None, "a time past any time is no time");
    assert_eq!(
        console.app.malformed_alerts(),
        2,
        "the alert without a fingerprint and the rule with a bad `for`"
    );
}
