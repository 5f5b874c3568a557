//! The README's screenshots, from the real renderer: the demo's world (the
//! sandbox, scenario `incidents`, hurried tenfold) watched by every real
//! source until Tokyo's backend-api pod crash-loops, each pane
//! drawn at 160x48 into ratatui's test backend, and every cell rasterised
//! (DejaVu Sans Mono, IPAGothic for Japanese) into `screenshots/*.png`.
//!
//! Rerun with `screenshots/make.sh` (it installs the two fonts if missing).

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use touban::app::Event;
use touban::model::{Command, Pane};
use touban::sandbox::Scenario;

mod common;

const MONO: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf";
const MONO_BOLD: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf";
const JAPANESE: &str = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf";
const CELL_W: u32 = 10;
const CELL_H: u32 = 20;
const BACKGROUND: [u8; 3] = [0x1d, 0x1f, 0x21];
const FOREGROUND: [u8; 3] = [0xd0, 0xd0, 0xd0];

fn font(path: &str) -> FontVec {
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!("{path}: {e}; install it with `apt-get install -y fonts-dejavu-core fonts-ipafont-gothic` (screenshots/make.sh does)")
    });
    FontVec::try_from_vec(bytes).expect("a TrueType font")
}

/// The xterm palette, as terminals show the 16 named colours by default.
fn rgb(c: Color, default: [u8; 3]) -> [u8; 3] {
    const ANSI: [[u8; 3]; 16] = [
        [0x00, 0x00, 0x00],
        [0xcd, 0x00, 0x00],
        [0x00, 0xcd, 0x00],
        [0xcd, 0xcd, 0x00],
        [0x3b, 0x78, 0xff],
        [0xcd, 0x00, 0xcd],
        [0x00, 0xcd, 0xcd],
        [0xe5, 0xe5, 0xe5],
        [0x7f, 0x7f, 0x7f],
        [0xff, 0x00, 0x00],
        [0x00, 0xff, 0x00],
        [0xff, 0xff, 0x00],
        [0x5c, 0x5c, 0xff],
        [0xff, 0x00, 0xff],
        [0x00, 0xff, 0xff],
        [0xff, 0xff, 0xff],
    ];
    let cube = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
    match c {
        Color::Reset => default,
        Color::Black => ANSI[0],
        Color::Red => ANSI[1],
        Color::Green => ANSI[2],
        Color::Yellow => ANSI[3],
        Color::Blue => ANSI[4],
        Color::Magenta => ANSI[5],
        Color::Cyan => ANSI[6],
        Color::Gray => ANSI[7],
        Color::DarkGray => ANSI[8],
        Color::LightRed => ANSI[9],
        Color::LightGreen => ANSI[10],
        Color::LightYellow => ANSI[11],
        Color::LightBlue => ANSI[12],
        Color::LightMagenta => ANSI[13],
        Color::LightCyan => ANSI[14],
        Color::White => ANSI[15],
        Color::Rgb(r, g, b) => [r, g, b],
        Color::Indexed(i) if i < 16 => ANSI[usize::from(i)],
        Color::Indexed(i) if i < 232 => {
            let i = i - 16;
            [cube(i / 36), cube((i / 6) % 6), cube(i % 6)]
        }
        Color::Indexed(i) => {
            let v = 8 + (i - 232) * 10;
            [v, v, v]
        }
    }
}

/// A box-drawing character's lines: left, right, up, down, double.
fn box_lines(c: char) -> Option<(bool, bool, bool, bool, bool)> {
    Some(match c {
        '─' => (true, true, false, false, false),
        '│' => (false, false, true, true, false),
        '┌' | '╭' => (false, true, false, true, false),
        '┐' | '╮' => (true, false, false, true, false),
        '└' | '╰' => (false, true, true, false, false),
        '┘' | '╯' => (true, false, true, false, false),
        '├' => (false, true, true, true, false),
        '┤' => (true, false, true, true, false),
        '┬' => (true, true, false, true, false),
        '┴' => (true, true, true, false, false),
        '┼' => (true, true, true, true, false),
        '═' => (true, true, false, false, true),
        '║' => (false, false, true, true, true),
        '╔' => (false, true, false, true, true),
        '╗' => (true, false, false, true, true),
        '╚' => (false, true, true, false, true),
        '╝' => (true, false, true, false, true),
        _ => return None,
    })
}

/// Draws a box-drawing character's lines: a glyph's lines stop short of
/// the cell's edges, and frames would look dashed.
fn draw_box(
    put: &mut impl FnMut(u32, u32, [u8; 3], f32),
    (left, right, up, down, double): (bool, bool, bool, bool, bool),
    x0: u32,
    y0: u32,
    fg: [u8; 3],
) {
    let (mx, my) = (x0 + CELL_W / 2, y0 + CELL_H / 2);
    let offsets: &[i32] = if double { &[-2, 2] } else { &[0] };
    for d in offsets {
        let (hy, vx) = (my.saturating_add_signed(*d), mx.saturating_add_signed(*d));
        if left || right {
            let from = if left { x0 } else { mx };
            let to = if right { x0 + CELL_W } else { mx + 1 };
            for x in from..to {
                put(x, hy, fg, 1.0);
            }
        }
        if up || down {
            let from = if up { y0 } else { my };
            let to = if down { y0 + CELL_H } else { my + 1 };
            for y in from..to {
                put(vx, y, fg, 1.0);
            }
        }
    }
}

/// Rasterises a buffer: every cell's background, then every glyph.
fn png(buffer: &Buffer, path: &Path) {
    let (mono, bold, japanese) = (font(MONO), font(MONO_BOLD), font(JAPANESE));
    let cols = u32::from(buffer.area.width);
    let rows = u32::from(buffer.area.height);
    let (width, height) = (cols * CELL_W, rows * CELL_H);
    let mut pixels = vec![0u8; (width * height * 3) as usize];
    let mut put = |x: u32, y: u32, c: [u8; 3], alpha: f32| {
        if x >= width || y >= height {
            return;
        }
        let i = ((y * width + x) * 3) as usize;
        for k in 0..3 {
            let old = f32::from(pixels[i + k]);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let v = (old + (f32::from(c[k]) - old) * alpha.clamp(0.0, 1.0)).round() as u8;
            pixels[i + k] = v;
        }
    };
    let scale = PxScale::from(16.0);
    // Every background first, then every glyph: a wide glyph (当番) spans
    // two cells, and the second cell's background must not cut it in half.
    for glyphs in [false, true] {
        for row in 0..rows {
            for col in 0..cols {
                let Some(cell) = buffer.cell((
                    u16::try_from(col).unwrap_or(0),
                    u16::try_from(row).unwrap_or(0),
                )) else {
                    continue;
                };
                let mut fg = rgb(cell.fg, FOREGROUND);
                let mut bg = rgb(cell.bg, BACKGROUND);
                if cell.modifier.contains(Modifier::REVERSED) {
                    std::mem::swap(&mut fg, &mut bg);
                }
                if cell.modifier.contains(Modifier::DIM) {
                    fg = [
                        fg[0] / 2 + bg[0] / 2,
                        fg[1] / 2 + bg[1] / 2,
                        fg[2] / 2 + bg[2] / 2,
                    ];
                }
                let (x0, y0) = (col * CELL_W, row * CELL_H);
                if !glyphs {
                    for y in y0..y0 + CELL_H {
                        for x in x0..x0 + CELL_W {
                            put(x, y, bg, 1.0);
                        }
                    }
                    continue;
                }
                let Some(ch) = cell.symbol().chars().next().filter(|c| *c != ' ') else {
                    continue;
                };
                if let Some(lines) = box_lines(ch) {
                    draw_box(&mut put, lines, x0, y0, fg);
                    continue;
                }
                let face = if cell.modifier.contains(Modifier::BOLD) {
                    &bold
                } else {
                    &mono
                };
                let face = if face.glyph_id(ch).0 == 0 {
                    &japanese
                } else {
                    face
                };
                let scaled = face.as_scaled(scale);
                #[allow(clippy::cast_precision_loss)]
                let glyph = face.glyph_id(ch).with_scale_and_position(
                    scale,
                    point(x0 as f32, y0 as f32 + 2.0 + scaled.ascent()),
                );
                if let Some(outline) = face.outline_glyph(glyph) {
                    let bounds = outline.px_bounds();
                    outline.draw(|gx, gy, coverage| {
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        let (x, y) = (
                            (bounds.min.x as i64 + i64::from(gx)),
                            (bounds.min.y as i64 + i64::from(gy)),
                        );
                        if let (Ok(x), Ok(y)) = (u32::try_from(x), u32::try_from(y)) {
                            put(x, y, fg, coverage);
                        }
                    });
                }
            }
        }
    }
    let file = std::fs::File::create(path).expect("create the png");
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&pixels))
        .expect("write the png");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes screenshots/*.png: run screenshots/make.sh"]
async fn screenshots_of_the_demo() {
    let (sandbox, config_dir, mut app, mut rx) = common::console_in(Scenario::Incidents, 1).await;
    // Until the incident has begun: a backend-api pod crash-looping in
    // Tokyo, and an alert firing.
    let deadline = Instant::now() + Duration::from_secs(60);
    let begun = |a: &touban::app::App| {
        a.cluster("eks-tokyo")
            .is_some_and(|c| c.summary(a.now()).crash_looping > 0)
            && a.alert_rows()
                .iter()
                .any(|r| r.state() == touban::model::alert::AlertState::Firing)
    };
    while !begun(&app) {
        assert!(Instant::now() < deadline, "the incident did not begin");
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            app.handle(e);
        }
    }
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(2) {
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
            app.handle(e);
        }
    }
    app.handle(Event::Tick(SystemTime::now()));
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots");
    let shots: [(&str, &[Command]); 8] = [
        ("overview", &[]),
        ("data", &[Command::Focus(Pane::Data)]),
        ("ai", &[Command::Focus(Pane::Ai)]),
        ("alerts", &[Command::Focus(Pane::Alerts)]),
        ("cluster", &[Command::Focus(Pane::Cluster), Command::Sort]),
        ("rollouts", &[Command::Focus(Pane::Rollouts)]),
        ("scaling", &[Command::Focus(Pane::Scaling)]),
        ("failover", &[Command::Focus(Pane::Failover)]),
    ];
    for (name, commands) in shots {
        for c in commands {
            app.run(c.clone());
        }
        let path = dir.join(format!("{name}.png"));
        png(&common::render(&app, 160, 48), &path);
        println!("wrote {}", path.display());
    }
    acting(&sandbox, &mut app, &mut rx, &dir).await;
    applying(&mut app, &mut rx, config_dir.path(), &dir).await;
}

/// The diff overlay of `:apply iworkz`, planned by the real executor from
/// the sandbox's server-side dry run of the seed's manifests.
async fn applying(
    app: &mut touban::app::App,
    rx: &mut tokio::sync::mpsc::Receiver<Event>,
    config_dir: &Path,
    dir: &Path,
) {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use touban::app::Effect;
    use touban::exec::task::{self, Executor};
    use touban::model::{Key, KeyCode};
    let backend = touban::exec::backend::kube::KubeBackend::for_clusters(&app.platform().clusters)
        .with_manifests(&app.platform().manifests, Some(config_dir.to_path_buf()));
    let state = tempfile::tempdir().expect("temp");
    let (jobs_tx, mut jobs) = tokio::sync::mpsc::unbounded_channel();
    let (exec, _task) = task::spawn(
        Executor {
            backend: Arc::new(backend),
            audit: Arc::new(
                touban::exec::audit::AuditLog::open(&state.path().join("audit.jsonl"))
                    .expect("audit log"),
            ),
            who: Arc::new(touban::exec::runner::Who::new("sandbox", "aiko@bastion-1")),
            primary: ["tokyo".to_owned()].into(),
            read_only: BTreeMap::new(),
            read_only_elsewhere: None,
            checkpoints: None,
            coordination: None,
            runbooks: Vec::new(),
        },
        jobs_tx,
    );
    app.handle(Event::Key(Key::plain(KeyCode::Esc)));
    app.run(Command::Focus(Pane::Rollouts));
    let before = app.jobs().len();
    for e in app.run(Command::Apply("iworkz".into())) {
        if let Effect::Exec(c) = e {
            exec.send(c).expect("the executor listens");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while !app.jobs().iter().skip(before).any(|j| j.plan.is_some()) {
        assert!(Instant::now() < deadline, "the apply was not planned");
        tokio::select! {
            Some(j) = jobs.recv() => { app.handle(Event::Job(j)); }
            Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()) => { app.handle(e); }
            else => {}
        }
    }
    // Scrolled one line on: the changes, the first Deployment's among them.
    app.handle(Event::Key(Key::plain(KeyCode::Down)));
    app.handle(Event::Tick(SystemTime::now()));
    let path = dir.join("apply.png");
    png(&common::render(app, 160, 48), &path);
    println!("wrote {}", path.display());
}

/// The confirm dialog of a scale planned by the real executor against the
/// sandbox, then the Jobs pane once it ran.
async fn acting(
    sandbox: &touban::sandbox::Sandbox,
    app: &mut touban::app::App,
    rx: &mut tokio::sync::mpsc::Receiver<Event>,
    dir: &Path,
) {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use touban::app::Effect;
    use touban::exec::task::{self, Executor};
    use touban::model::{Key, KeyCode};
    let backend = touban::exec::backend::kube::KubeBackend::new(BTreeMap::from([(
        "eks-tokyo".to_owned(),
        common::kube_client(sandbox, "eks-tokyo").await,
    )]));
    let state = tempfile::tempdir().expect("temp");
    let (jobs_tx, mut jobs) = tokio::sync::mpsc::unbounded_channel();
    let (exec, _task) = task::spawn(
        Executor {
            backend: Arc::new(backend),
            audit: Arc::new(
                touban::exec::audit::AuditLog::open(&state.path().join("audit.jsonl"))
                    .expect("audit log"),
            ),
            who: Arc::new(touban::exec::runner::Who::new("sandbox", "aiko@bastion-1")),
            primary: ["tokyo".to_owned()].into(),
            read_only: BTreeMap::new(),
            read_only_elsewhere: None,
            checkpoints: None,
            coordination: None,
            runbooks: Vec::new(),
        },
        jobs_tx,
    );
    let mut effects = app.run(Command::Focus(Pane::Rollouts));
    for c in "/web-frontend-blue".chars() {
        effects.extend(app.handle(Event::Key(Key::char(c))));
    }
    effects.extend(app.handle(Event::Key(Key::plain(KeyCode::Enter))));
    effects.extend(app.run(Command::Scale("10".into())));
    // Pumps the console's and the executor's events until `done`.
    let mut pump = async |app: &mut touban::app::App,
                          effects: Vec<Effect>,
                          done: &dyn Fn(&touban::app::App) -> bool| {
        for e in effects {
            if let Effect::Exec(c) = e {
                exec.send(c).expect("the executor listens");
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(app) {
            assert!(Instant::now() < deadline, "the job did not get there");
            tokio::select! {
                Some(j) = jobs.recv() => { app.handle(Event::Job(j)); }
                Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()) => { app.handle(e); }
                else => {}
            }
        }
    };
    pump(app, effects, &|a| a.jobs().iter().any(|j| j.plan.is_some())).await;
    app.handle(Event::Tick(SystemTime::now()));
    let path = dir.join("confirm.png");
    png(&common::render(app, 160, 48), &path);
    println!("wrote {}", path.display());
    let mut effects = Vec::new();
    for code in [KeyCode::Tab, KeyCode::Tab, KeyCode::Enter] {
        effects.extend(app.handle(Event::Key(Key::plain(code))));
    }
    for c in "campaign traffic at 10:00".chars() {
        effects.extend(app.handle(Event::Key(Key::char(c))));
    }
    effects.extend(app.handle(Event::Key(Key::plain(KeyCode::Enter))));
    pump(app, effects, &|a| {
        a.jobs().iter().any(|j| j.outcome.is_some())
    })
    .await;
    let mut effects = app.run(Command::Focus(Pane::Jobs));
    effects.extend(app.handle(Event::Key(Key::plain(KeyCode::Enter))));
    drop(effects);
    app.handle(Event::Tick(SystemTime::now()));
    let path = dir.join("jobs.png");
    png(&common::render(app, 160, 48), &path);
    println!("wrote {}", path.display());
}
