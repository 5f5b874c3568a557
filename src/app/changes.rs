//! The last changes: each time a cell's level changes (live to stale, ok
//! to failing, pending to degraded), a line with the time, the region and
//! why, for the Overview's panel and for the operator who looks away.
//! Sampled on each clock tick, so a flap within a second is not logged.

use std::collections::{BTreeMap, VecDeque};

use crate::model::verdict::{Level, Verdict};

/// Changes kept.
pub const KEPT: usize = 100;

/// One change of a cell's level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// When, as the primary region's clock read.
    pub clock: String,
    /// The region's display name.
    pub region: String,
    /// What changed (`eks-tokyo`, `iworkz-production-postgres`).
    pub what: String,
    /// Its level before.
    pub from: Level,
    /// Its level now.
    pub to: Level,
    /// Why, at the new level.
    pub why: String,
}

/// The levels last seen and the changes since.
#[derive(Debug, Default)]
pub struct Changes {
    last: BTreeMap<(String, String), Level>,
    log: VecDeque<Change>,
}

impl Changes {
    /// Compares the region's cells with the levels last seen; logs what
    /// changed. The first knowledge of a cell that is fine is not a change
    /// worth a line. Returns whether anything was logged.
    pub fn observe(&mut self, clock: &str, region: &str, cells: &[(String, Verdict)]) -> bool {
        let mut logged = false;
        for (what, v) in cells {
            let to = v.level();
            let key = (region.to_owned(), what.clone());
            let from = self.last.insert(key, to).unwrap_or(Level::Unknown);
            if from == to || (from == Level::Unknown && to <= Level::Ok) {
                continue;
            }
            if self.log.len() == KEPT {
                self.log.pop_front();
            }
            self.log.push_back(Change {
                clock: clock.to_owned(),
                region: region.to_owned(),
                what: what.clone(),
                from,
                to,
                why: v.reason(what),
            });
            logged = true;
        }
        logged
    }

    /// The changes, oldest first.
    pub fn log(&self) -> &VecDeque<Change> {
        &self.log
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceState;
    use crate::model::cluster::Health;
    use std::time::SystemTime;

    #[test]
    fn a_cell_going_stale_is_logged_once_with_why() {
        let live = SourceState::Live {
            at: SystemTime::UNIX_EPOCH,
        };
        let stale = SourceState::Stale {
            since: SystemTime::UNIX_EPOCH,
            why: "API not answering".into(),
        };
        let ok = || Some((Health::Ok, "all ready".to_owned()));
        let mut c = Changes::default();
        let cell = |s: &SourceState| vec![("eks-tokyo".to_owned(), Verdict::judge(s, ok()))];
        assert!(
            !c.observe("09:00:00", "Tokyo", &cell(&live)),
            "first sight of ok"
        );
        assert!(c.observe("09:00:05", "Tokyo", &cell(&stale)));
        assert!(!c.observe("09:00:06", "Tokyo", &cell(&stale)));
        let last = c.log().back().expect("logged");
        assert_eq!((last.from, last.to), (Level::Ok, Level::Stale));
        assert_eq!(last.why, "eks-tokyo: API not answering");
    }
}
