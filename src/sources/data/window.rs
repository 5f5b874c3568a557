//! Counter increases over a sliding window (a minute by default), the way
//! PromQL's `increase()` looks back over a range: rates and ratios from one
//! poll to the next swing with every burst; over a minute they say what the
//! service is doing. A counter that went down was reset: its value is the
//! increase.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// One step between two readings: when it started, and each counter's
/// increase over it.
struct Step {
    from: Instant,
    increases: HashMap<String, f64>,
}

/// Readings of a set of counters, kept for a window.
pub(super) struct Window {
    span: Duration,
    last: HashMap<String, f64>,
    at: Option<Instant>,
    steps: VecDeque<Step>,
}

/// Each counter's increase over the window, and the window's length.
#[derive(Debug, Default)]
pub(super) struct Increases {
    /// Seconds the increases were taken over.
    pub(super) secs: f64,
    /// Increase per counter key.
    pub(super) by_key: HashMap<String, f64>,
}

impl Increases {
    /// The summed increase of every key `keep` accepts, if any is there.
    pub(super) fn sum(&self, keep: impl Fn(&str) -> bool) -> Option<f64> {
        let mut found = false;
        let sum = self
            .by_key
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(_, v)| {
                found = true;
                *v
            })
            .sum();
        found.then_some(sum)
    }

    /// The per-second rate of the keys `keep` accepts.
    pub(super) fn rate(&self, keep: impl Fn(&str) -> bool) -> Option<f64> {
        let sum = self.sum(keep)?;
        (self.secs > 0.0).then(|| sum / self.secs)
    }
}

/// At most this many steps are kept, whatever the window and interval.
const MAX_STEPS: usize = 3600;

impl Window {
    /// A window of `span`.
    pub(super) fn new(span: Duration) -> Window {
        Window {
            span,
            last: HashMap::new(),
            at: None,
            steps: VecDeque::new(),
        }
    }

    /// Folds in counter values read at `now`; returns the increases over
    /// the window, or `None` before a second reading.
    pub(super) fn observe(
        &mut self,
        now: Instant,
        values: impl IntoIterator<Item = (String, f64)>,
    ) -> Option<Increases> {
        let mut increases = HashMap::new();
        for (key, v) in values {
            if !v.is_finite() {
                continue;
            }
            if let Some(prev) = self.last.insert(key.clone(), v) {
                let inc = if v >= prev { v - prev } else { v };
                *increases.entry(key).or_insert(0.0) += inc;
            }
        }
        if let Some(from) = self.at.replace(now) {
            self.steps.push_back(Step { from, increases });
        }
        let start = now.checked_sub(self.span);
        while self.steps.len() > 1
            && (self.steps.len() > MAX_STEPS
                || start.is_some_and(|s| self.steps.front().is_some_and(|f| f.from < s)))
        {
            self.steps.pop_front();
        }
        let first = self.steps.front()?;
        let mut by_key: HashMap<String, f64> = HashMap::new();
        for step in &self.steps {
            for (k, v) in &step.increases {
                *by_key.entry(k.clone()).or_insert(0.0) += v;
            }
        }
        Some(Increases {
            secs: now.duration_since(first.from).as_secs_f64(),
            by_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, s: u64) -> Instant {
        base + Duration::from_secs(s)
    }

    #[test]
    fn a_burst_in_one_poll_is_spread_over_the_minute() {
        let base = Instant::now();
        let mut w = Window::new(Duration::from_secs(60));
        let mut errors = 0.0;
        let mut all = 0.0;
        assert!(
            w.observe(base, [("e".into(), 0.0), ("a".into(), 0.0)])
                .is_none()
        );
        let mut shares = Vec::new();
        for poll in 1..=12u64 {
            all += 100.0;
            // One poll in twelve has nine errors in its hundred requests.
            errors += if poll == 6 { 9.0 } else { 1.0 };
            let inc = w
                .observe(
                    at(base, poll * 5),
                    [("e".into(), errors), ("a".into(), all)],
                )
                .expect("two readings");
            shares.push(inc.by_key["e"] / inc.by_key["a"]);
        }
        // The poll-to-poll share would be 9 %; over the window it stays
        // under 5 % from the burst on.
        assert!(shares[5..].iter().all(|s| *s < 0.05), "{shares:?}");
    }

    #[test]
    fn a_reset_counts_its_value_and_old_steps_leave_the_window() {
        let base = Instant::now();
        let mut w = Window::new(Duration::from_secs(10));
        w.observe(base, [("c".into(), 100.0)]);
        let inc = w.observe(at(base, 5), [("c".into(), 3.0)]).expect("two");
        assert!((inc.by_key["c"] - 3.0).abs() < 1e-9);
        let inc = w
            .observe(at(base, 10), [("c".into(), 13.0)])
            .expect("three");
        assert!((inc.by_key["c"] - 13.0).abs() < 1e-9);
        assert!((inc.secs - 10.0).abs() < 1e-9);
        // At 20 s the first two steps started before the window: only the
        // last is left.
        let inc = w.observe(at(base, 20), [("c".into(), 33.0)]).expect("four");
        assert!((inc.by_key["c"] - 20.0).abs() < 1e-9, "{inc:?}");
        assert!((inc.secs - 10.0).abs() < 1e-9);
        assert!((inc.rate(|k| k == "c").expect("rate") - 2.0).abs() < 1e-9);
    }
}
