//! The runbook's record: the audit log read for its drills and failovers
//! (their `finished` records), at once and then every interval, from where
//! the last read ended, so that a drill a pipeline ran while the console
//! is up shows in the Failover pane. A log that does not exist yet holds no
//! drill; one that cannot be read is said.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::model::Update;
use crate::model::readiness::Drills;

/// The most read in one go: a log written for years is read in pieces.
const CHUNK: u64 = 8 << 20;

/// Where the reading stands: the drills found, the bytes read so far and
/// a last line not yet ended.
#[derive(Default)]
struct Reader {
    drills: Drills,
    offset: u64,
    partial: String,
}

impl Reader {
    /// Reads what was appended since the last read (all of it again if
    /// the file got shorter: rotated or replaced).
    fn read(&mut self, path: &std::path::Path) {
        self.drills.read = Some(SystemTime::now());
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.drills.error = None;
                return;
            }
            Err(e) => {
                self.drills.error = Some(format!("{}: {e}", path.display()));
                return;
            }
        };
        let len = file.metadata().map_or(0, |m| m.len());
        if len < self.offset {
            *self = Reader::default();
            self.drills.read = Some(SystemTime::now());
        }
        let mut got = Vec::new();
        let read = file
            .seek(SeekFrom::Start(self.offset))
            .and_then(|_| file.take(CHUNK).read_to_end(&mut got));
        if let Err(e) = read {
            self.drills.error = Some(format!("{}: {e}", path.display()));
            return;
        }
        self.drills.error = None;
        self.offset += got.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&got));
        // Only whole lines: the rest waits for the next read.
        let whole = self.partial.rfind('\n').map_or(0, |i| i + 1);
        let lines: String = self.partial.drain(..whole).collect();
        self.drills.fold(crate::exec::audit::drills(&lines));
    }
}

/// Reads `path` now and every `every`, sending what it holds.
pub fn spawn<E: From<Update> + Send + 'static>(
    path: PathBuf,
    tx: &mpsc::Sender<E>,
    every: Duration,
) -> JoinHandle<()> {
    let tx = tx.clone();
    tokio::spawn(async move {
        let mut reader = Reader::default();
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            let path = path.clone();
            reader = match tokio::task::spawn_blocking(move || {
                reader.read(&path);
                reader
            })
            .await
            {
                Ok(r) => r,
                Err(_) => return,
            };
            if tx
                .send(E::from(Update::Drills(reader.drills.clone())))
                .await
                .is_err()
            {
                return;
            }
        }
    })
}

/// The drills in `path` now, read once (for `touban drill`).
pub fn read_once(path: &std::path::Path) -> Drills {
    let mut reader = Reader::default();
    loop {
        let before = reader.offset;
        reader.read(path);
        if reader.offset == before || reader.drills.error.is_some() {
            return reader.drills;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_read_from_where_it_ended_and_again_when_it_shrinks() {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("audit.jsonl");
        let line = |at: &str, outcome: &str| {
            format!(
                "{{\"at\":\"{at}\",\"event\":\"finished\",\"action\":{{\"action\":\"region-failover\",\"from\":\"tokyo\",\"to\":\"korea\"}},\"dry_run\":true,\"outcome\":\"{outcome}\"}}\n"
            )
        };
        let mut r = Reader::default();
        r.read(&path);
        assert_eq!(
            (r.drills.last.len(), r.drills.error.as_ref()),
            (0, None),
            "no log yet: no drill"
        );
        let first = line("2026-12-01T00:00:00Z", "succeeded: ready");
        // A line cut mid-write waits for its end.
        let cut = line("2026-12-02T00:00:00Z", "failed: not ready");
        std::fs::write(&path, format!("{first}{}", &cut[..20])).expect("write");
        r.read(&path);
        assert_eq!(r.drills.last.len(), 1);
        assert!(r.drills.last[0].passed);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        std::io::Write::write_all(&mut f, &cut.as_bytes()[20..]).expect("append");
        r.read(&path);
        assert_eq!(r.drills.last.len(), 1, "one pair, its latest run");
        assert!(!r.drills.last[0].passed, "{:?}", r.drills.last);
        std::fs::write(&path, first).expect("replace");
        r.read(&path);
        assert!(r.drills.last[0].passed, "a shorter file is read again");
        assert_eq!(read_once(&path).last.len(), 1);
    }
}
