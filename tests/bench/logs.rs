//! The log view under a firehose: a harness that prints figures (nothing
//! is asserted against a clock). Run it with `cargo bench --bench logs`.
//!
//! For 10 s, 1,000 lines a second arrive at the app as the fetcher sends
//! them (batches of 50 every 50 ms), the view following, and a frame of
//! the view is drawn at 160x48 after each batch, as the event loop would
//! (it draws at most once per 16 ms). Reported: the process's CPU time
//! over the wall time (share of one core), the ring's lines and bytes at
//! the end (its bounds held), and the draw time per frame, p50 / p99. Not
//! included: decoding the HTTP stream (kube-rs, hyper), which a real
//! stream adds.

use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use touban::app::Event;
use touban::app::overlay::Overlay;
use touban::model::{Command, Pane, Update};
use touban::ui::{self, Styles};

#[path = "../common/mod.rs"]
mod common;

/// User and system CPU time of this process, from /proc/self/stat.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 (1-based), 11 and 12 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn main() {
    let mut app = common::app();
    app.run(Command::Focus(Pane::Cluster));
    // A view as `l` opens it (its id is 1: the first).
    let _asked = app.open_logs_for(touban::model::cluster::ObjectRef {
        cluster: "eks-tokyo".into(),
        kind: "Deployment",
        namespace: Some("iworkz-production".into()),
        name: "backend-api-blue".into(),
    });
    let styles = Styles::resolve(app.theme());
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    let mut draws = Vec::new();
    let seconds = 10u64;
    let start_cpu = cpu();
    let start = Instant::now();
    let mut n = 0u64;
    for batch in 0..seconds * 20 {
        let lines: Vec<String> = (0..50)
            .map(|_| {
                n += 1;
                format!(r#"{{"time":"2026-12-07T15:40:01.500Z","level":"info","msg":"request","method":"GET","path":"/api/v1/jobs/{n}","status":200,"duration_ms":23}}"#)
            })
            .collect();
        app.handle(Event::Update(Update::LogLines {
            id: 1,
            pod: Some("x2k4l".into()),
            lines,
        }));
        let t = Instant::now();
        terminal.draw(|f| ui::draw(&app, &styles, f)).expect("draw");
        draws.push(t.elapsed());
        // Paced as the lines arrive: a batch every 50 ms.
        let due = start + Duration::from_millis(50 * (batch + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    let wall = start.elapsed();
    let used = cpu().saturating_sub(start_cpu);
    draws.sort();
    let at = |p: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((draws.len() as f64 - 1.0) * p).round() as usize;
        draws[i]
    };
    let (lines, bytes) = app
        .overlays()
        .iter()
        .find_map(|o| match o {
            Overlay::Logs(v) => Some((v.ring.len(), v.ring.bytes())),
            _ => None,
        })
        .unwrap_or_default();
    #[allow(clippy::cast_precision_loss)]
    let share = used.as_secs_f64() / wall.as_secs_f64() * 100.0;
    println!(
        "figure: logs at 1,000 lines/s for {seconds} s ({n} lines): CPU {share:.1} % of one core ({} ms over {} ms)",
        used.as_millis(),
        wall.as_millis()
    );
    println!(
        "figure: the ring at the end: {lines} lines, {} KiB (bounds {} lines, {} KiB)",
        bytes / 1024,
        touban::model::logs::MAX_LINES,
        touban::model::logs::MAX_BYTES / 1024
    );
    println!(
        "figure: a frame of the log view at 160x48: p50 {:?}, p99 {:?}",
        at(0.5),
        at(0.99)
    );
}
