//! Pod logs as the console keeps them: what was asked of the API server
//! (follow, since, tail, the previous container, which container), and a
//! ring of the lines received, bounded in lines and in bytes both, so a
//! firehose costs a fixed amount of memory however long it is watched.
//! A deployment's pods are interleaved, each line prefixed with a short
//! name of its pod.

use std::collections::VecDeque;

use super::cluster::ObjectRef;

/// Lines a log view keeps, at most.
pub const MAX_LINES: usize = 20_000;
/// Bytes of text a log view keeps, at most.
pub const MAX_BYTES: usize = 8 << 20;
/// The longest line kept whole; longer ones are cut (and said so).
pub const MAX_LINE: usize = 16 << 10;

/// What the API server is asked for (kubectl logs' flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogParams {
    /// The container; `None`: the pod's only one (or its first).
    pub container: Option<String>,
    /// The previous, terminated, container's log.
    pub previous: bool,
    /// Only lines of the last this many seconds.
    pub since_seconds: Option<i64>,
    /// Only the last this many lines.
    pub tail_lines: Option<i64>,
    /// Keep the stream open for new lines.
    pub follow: bool,
}

impl Default for LogParams {
    fn default() -> LogParams {
        LogParams {
            container: None,
            previous: false,
            since_seconds: None,
            tail_lines: Some(500),
            follow: true,
        }
    }
}

impl LogParams {
    /// The flags in kubectl's words: `--tail 500 -f`.
    pub fn describe(&self) -> String {
        let mut out = Vec::new();
        if let Some(c) = &self.container {
            out.push(format!("-c {c}"));
        }
        if self.previous {
            out.push("--previous".to_owned());
        }
        if let Some(s) = self.since_seconds {
            out.push(format!("--since {}", since_word(s)));
        }
        if let Some(t) = self.tail_lines {
            out.push(format!("--tail {t}"));
        }
        if self.follow {
            out.push("-f".to_owned());
        }
        out.join(" ")
    }
}

/// `600` → `10m`, `3600` → `1h`.
pub fn since_word(seconds: i64) -> String {
    if seconds % 3600 == 0 {
        format!("{}h", seconds / 3600)
    } else if seconds % 60 == 0 {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// What the console asks of the log fetcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogCommand {
    /// Stream the log of a pod, or of every pod of a deployment.
    Open {
        /// The view it is for.
        id: u64,
        /// A Pod or a Deployment.
        object: ObjectRef,
        /// What to ask.
        params: LogParams,
    },
    /// Stop streaming for a view.
    Close(u64),
}

/// One line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// A short name of its pod, when several are interleaved.
    pub pod: Option<String>,
    /// The text, without its newline.
    pub text: String,
}

/// The ring of a view's lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRing {
    lines: VecDeque<LogLine>,
    bytes: usize,
    /// Lines dropped from the front to keep within the bounds.
    pub dropped: u64,
    /// Lines received in all.
    pub received: u64,
}

impl LogRing {
    /// Adds lines at the end, dropping the oldest beyond the bounds.
    pub fn push(&mut self, pod: Option<&str>, lines: impl IntoIterator<Item = String>) {
        for mut text in lines {
            if text.len() > MAX_LINE {
                let mut cut = MAX_LINE;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push_str(" … (cut)");
            }
            self.received += 1;
            self.bytes += text.len();
            self.lines.push_back(LogLine {
                pod: pod.map(str::to_owned),
                text,
            });
            while self.lines.len() > MAX_LINES || self.bytes > MAX_BYTES {
                let Some(old) = self.lines.pop_front() else {
                    break;
                };
                self.bytes -= old.text.len();
                self.dropped += 1;
            }
        }
    }

    /// Lines kept.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Bytes of text kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Line `i`, oldest first.
    pub fn get(&self, i: usize) -> Option<&LogLine> {
        self.lines.get(i)
    }

    /// Every line, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogLine> + ExactSizeIterator {
        self.lines.iter()
    }

    /// The first line at or after `from` (before it, `back`) that contains
    /// `needle`, any case.
    pub fn find(&self, needle: &str, from: usize, back: bool) -> Option<usize> {
        let needle = needle.to_lowercase();
        let hit = |i: &usize| {
            self.lines
                .get(*i)
                .is_some_and(|l| l.text.to_lowercase().contains(&needle))
        };
        if back {
            (0..from.min(self.lines.len())).rev().find(hit)
        } else {
            (from..self.lines.len()).find(hit)
        }
    }

    /// The lines as a file would hold them: `pod | text`, a line each.
    pub fn text(&self) -> String {
        self.text_of(0..self.lines.len())
    }

    /// Lines `range` (oldest first) as [`LogRing::text`] writes them.
    pub fn text_of(&self, range: std::ops::Range<usize>) -> String {
        let mut out = String::new();
        for l in self
            .lines
            .range(range.start.min(self.lines.len())..range.end.min(self.lines.len()))
        {
            if let Some(p) = &l.pod {
                out.push_str(p);
                out.push_str(" | ");
            }
            out.push_str(&l.text);
            out.push('\n');
        }
        out
    }
}

/// A short name of a deployment's pod: its ReplicaSet and pod hashes
/// (`web-frontend-blue-7c9f-x2k4l` → `x2k4l`).
pub fn short_pod(pod: &str) -> String {
    pod.rsplit('-').next().unwrap_or(pod).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_holds_its_bounds_under_a_firehose_and_counts_what_it_dropped() {
        let mut ring = LogRing::default();
        ring.push(None, (0..50_000).map(|i| format!("line {i}")));
        assert_eq!(ring.len(), MAX_LINES);
        assert_eq!(ring.dropped, 50_000 - MAX_LINES as u64);
        assert_eq!(ring.received, 50_000);
        assert_eq!(ring.get(0).map(|l| l.text.as_str()), Some("line 30000"));
        // Long lines: the byte bound holds first.
        let mut ring = LogRing::default();
        ring.push(Some("x2k4l"), (0..2_000).map(|_| "y".repeat(10_000)));
        assert!(ring.bytes() <= MAX_BYTES, "{}", ring.bytes());
        assert_eq!(ring.len(), MAX_BYTES / 10_000);
        // One huge line is cut, not kept whole.
        ring.push(None, ["z".repeat(MAX_LINE * 3)]);
        let last = ring.iter().last().expect("a line");
        assert!(last.text.len() < MAX_LINE + 16 && last.text.ends_with("(cut)"));
    }

    #[test]
    fn search_finds_forward_and_back_in_any_case_and_text_prefixes_pods() {
        let mut ring = LogRing::default();
        ring.push(
            Some("a1"),
            ["GET / 200".to_owned(), "POST /x 503".to_owned()],
        );
        ring.push(Some("b2"), ["get /y 200".to_owned()]);
        assert_eq!(ring.find("get", 0, false), Some(0));
        assert_eq!(ring.find("get", 1, false), Some(2));
        assert_eq!(ring.find("GET", 2, true), Some(0));
        assert_eq!(ring.find("nothing", 0, false), None);
        assert_eq!(
            ring.text(),
            "a1 | GET / 200\na1 | POST /x 503\nb2 | get /y 200\n"
        );
        assert_eq!(short_pod("web-frontend-blue-7c9f-x2k4l"), "x2k4l");
        let p = LogParams {
            since_seconds: Some(600),
            ..LogParams::default()
        };
        assert_eq!(p.describe(), "--since 10m --tail 500 -f");
    }
}
