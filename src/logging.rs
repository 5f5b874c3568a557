//! The debug log: to a file, never to the terminal; written by a
//! background thread so logging never blocks the event loop; created
//! private (0600 in a 0700 directory); rotated by size, so it never fills
//! a disk; and the same message from the same place is rate-limited, so a
//! source failing many times a second writes a few lines, not millions.
//! Any credential in a message is masked on its way to the file.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;

/// The log's size before it is rotated.
pub const MAX_BYTES: u64 = 8 << 20;
/// Rotated files kept beside the log (`touban.log.1` ...).
pub const KEEP: usize = 3;
/// The same message from the same place: this many in a row, then one per
/// [`REPEAT_EVERY`].
const BURST: u32 = 5;
/// See [`BURST`].
const REPEAT_EVERY: Duration = Duration::from_secs(60);

/// Creates `dir` (and its parents) readable by its owner only.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    // A directory made before touban did this may be world-readable.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Opens `path` for appending, created 0600 (and made so if it was not).
pub fn private_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// A log file rotated when it passes `max` bytes: `log` becomes `log.1`,
/// `log.1` becomes `log.2`, ... up to `keep`.
#[derive(Debug)]
pub struct Rotating {
    path: PathBuf,
    file: File,
    written: u64,
    max: u64,
    keep: usize,
}

impl Rotating {
    /// Opens (or creates) the log at `path`.
    pub fn open(path: &Path, max: u64, keep: usize) -> io::Result<Rotating> {
        let file = private_file(path)?;
        let written = file.metadata().map_or(0, |m| m.len());
        Ok(Rotating {
            path: path.to_owned(),
            file,
            written,
            max,
            keep,
        })
    }

    fn numbered(&self, n: usize) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        for n in (1..self.keep).rev() {
            let _ = std::fs::rename(self.numbered(n), self.numbered(n + 1));
        }
        if self.keep > 0 {
            std::fs::rename(&self.path, self.numbered(1))?;
        } else {
            std::fs::remove_file(&self.path)?;
        }
        self.file = private_file(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

impl Write for Rotating {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.written > 0 && self.written + bytes.len() as u64 > self.max {
            self.rotate()?;
        }
        let masked = crate::config::secret::mask_line(&String::from_utf8_lossy(bytes));
        self.file.write_all(masked.as_bytes())?;
        self.written += masked.len() as u64;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Drops repeats of the same message from the same call site beyond a
/// burst of [`BURST`], until [`REPEAT_EVERY`] has passed.
#[derive(Debug, Default)]
pub struct RateLimit {
    seen: Mutex<HashMap<(tracing::callsite::Identifier, String), Repeats>>,
}

#[derive(Debug)]
struct Repeats {
    since: Instant,
    count: u32,
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0);
        }
    }
}

impl RateLimit {
    /// Whether an event with this key may be logged now.
    fn admit(&self, key: (tracing::callsite::Identifier, String), now: Instant) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        if seen.len() > 4096 {
            seen.clear();
        }
        let r = seen.entry(key).or_insert(Repeats {
            since: now,
            count: 0,
        });
        if now.duration_since(r.since) >= REPEAT_EVERY {
            r.since = now;
            r.count = 0;
        }
        r.count += 1;
        r.count <= BURST
    }
}

impl<S: Subscriber> Layer<S> for RateLimit {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let mut message = Message(String::new());
        event.record(&mut message);
        self.admit((event.metadata().callsite(), message.0), Instant::now())
    }
}

/// The log writer's guard: dropping it flushes the log. Held here so the
/// panic hook and a forced exit can flush before `process::exit`, which
/// runs no drops.
static GUARD: Mutex<Option<tracing_appender::non_blocking::WorkerGuard>> = Mutex::new(None);

/// Starts logging to `path` (level from `TOUBAN_LOG`, `info` by default).
pub fn init(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        private_dir(dir)?;
    }
    let file = Rotating::open(path, MAX_BYTES, KEEP)?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let filter = tracing_subscriber::EnvFilter::try_from_env("TOUBAN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(RateLimit::default())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false),
        )
        .init();
    if let Ok(mut slot) = GUARD.lock() {
        *slot = Some(guard);
    }
    Ok(())
}

/// Flushes the log (and stops its writer).
pub fn flush() {
    if let Ok(mut guard) = GUARD.lock() {
        guard.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_by_size_and_stays_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("state/touban.log");
        private_dir(dir.path().join("state").as_path()).expect("dir");
        let mut log = Rotating::open(&path, 100, 2).expect("open");
        for i in 0..30 {
            writeln!(log, "line {i:03} with some words").expect("write");
        }
        let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("state")), 0o700);
        assert!(std::fs::metadata(&path).expect("log").len() <= 100);
        assert!(path.with_extension("log.2").exists());
        assert!(!path.with_extension("log.3").exists(), "only two kept");
    }

    #[test]
    fn credentials_are_masked_on_the_way_to_the_file() {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("touban.log");
        let mut log = Rotating::open(&path, 1 << 20, 1).expect("open");
        writeln!(log, "cannot connect to postgres://u:hunter2@db/x").expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn repeats_beyond_a_burst_are_dropped_until_a_minute_passes() {
        struct Site;
        impl tracing::callsite::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &tracing::Metadata<'_> {
                unreachable!("not asked")
            }
        }
        static SITE: Site = Site;
        let limit = RateLimit::default();
        let key = || (tracing::callsite::Identifier(&SITE), "API down".to_owned());
        let t0 = Instant::now();
        let admitted = (0..100).filter(|_| limit.admit(key(), t0)).count();
        assert_eq!(admitted, BURST as usize);
        assert!(
            limit.admit(key(), t0 + REPEAT_EVERY),
            "a minute later, again"
        );
        assert!(limit.admit(
            (
                tracing::callsite::Identifier(&SITE),
                "another message".into()
            ),
            t0
        ));
    }
}
