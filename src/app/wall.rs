//! The wallboard: the console on the incident room's shared screen.
//! Read-only whatever the config says, no action bound; it rotates through
//! the configured panes, holds the Overview while a critical alert is new,
//! and keeps a ticker of what changed in the last ten minutes: cells
//! changing level, alerts firing and resolving, rollouts starting and
//! completing, live colours switching, runbook runs from the audit log.
//! Everything here moves on the clock's tick, so a wall that sees nothing
//! change draws nothing.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, SystemTime};

use crate::model::Pane;
use crate::model::alert::AlertState;
use crate::model::rollout::{self, RolloutState};
use crate::model::verdict::Level;

use super::App;

/// How far back the ticker reaches.
pub const TICKER_SPAN: Duration = Duration::from_secs(600);

/// Ticker lines kept, at most.
const TICKER_KEPT: usize = 200;

/// One line of the ticker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticked {
    /// When it was seen.
    pub at: SystemTime,
    /// When, as the primary region's clock read (`12:04 JST`).
    pub clock: String,
    /// How it reads: good news, bad news, or neither.
    pub level: Level,
    /// What happened.
    pub text: String,
}

/// The wallboard's state.
#[derive(Debug)]
pub struct Wall {
    /// The panes it rotates through, in order.
    pub panes: Vec<Pane>,
    /// How long each is shown.
    pub every: Duration,
    /// How long a critical alert is new.
    pub hold: Duration,
    /// Whether the operator paused the rotation.
    pub paused: bool,
    /// The pane shown, as an index of `panes`.
    index: usize,
    /// When the next pane is due.
    next_at: Option<SystemTime>,
    /// The critical alert holding the Overview, with its region.
    pub held_by: Option<String>,
    /// Firing alerts last seen, by fingerprint: name, region, severity,
    /// and when first seen.
    firing: BTreeMap<String, (String, String, u8, SystemTime)>,
    /// Live colour and rollout state per release deployment last seen.
    releases: BTreeMap<String, (Option<String>, bool)>,
    /// Runbook runs already told.
    runs: BTreeSet<(String, String, SystemTime)>,
    /// The last change of the changes log already told.
    last_change: Option<super::changes::Change>,
    /// Whether the state has been read once (what is there at start is not news).
    primed: bool,
    /// What changed, oldest first.
    ticker: VecDeque<Ticked>,
}

impl Wall {
    /// A wall over `panes` (the Overview when none), each shown `every`.
    pub fn new(panes: Vec<Pane>, every: Duration, hold: Duration) -> Wall {
        let panes = if panes.is_empty() {
            vec![Pane::Overview]
        } else {
            panes
        };
        Wall {
            panes,
            every,
            hold,
            paused: false,
            index: 0,
            next_at: None,
            held_by: None,
            firing: BTreeMap::new(),
            releases: BTreeMap::new(),
            runs: BTreeSet::new(),
            last_change: None,
            primed: false,
            ticker: VecDeque::new(),
        }
    }

    /// The pane shown, and its place: `(pane, 1-based index, count)`.
    pub fn showing(&self) -> (Pane, usize, usize) {
        (self.panes[self.index], self.index + 1, self.panes.len())
    }

    /// The ticker's lines of the last [`TICKER_SPAN`] before `now`, newest first.
    pub fn ticker(&self, now: SystemTime) -> impl Iterator<Item = &Ticked> {
        self.ticker
            .iter()
            .rev()
            .take_while(move |t| now.duration_since(t.at).unwrap_or_default() <= TICKER_SPAN)
    }

    fn tell(&mut self, at: SystemTime, clock: &str, level: Level, text: String) {
        if self.ticker.len() == TICKER_KEPT {
            self.ticker.pop_front();
        }
        self.ticker.push_back(Ticked {
            at,
            clock: clock.to_owned(),
            level,
            text,
        });
    }
}

impl App {
    /// Turns this console into the wallboard: read-only, whatever the
    /// config says.
    pub fn enter_wall(&mut self, wall: Wall) {
        self.read_only_flag = true;
        for c in &mut self.clocks {
            c.minutes = true;
        }
        self.focus = wall.panes[0];
        self.wall = Some(wall);
        self.dirty = true;
    }

    /// The wallboard, when this console is one.
    pub fn wall(&self) -> Option<&Wall> {
        self.wall.as_ref()
    }

    /// `space` on the wall: pause or resume the rotation.
    pub(in crate::app) fn wall_pause(&mut self) {
        let now = self.now;
        if let Some(w) = &mut self.wall {
            w.paused = !w.paused;
            w.next_at = (!w.paused).then(|| now + w.every);
        }
    }

    /// Next / previous pane on the wall: the rotation goes on from there.
    pub(in crate::app) fn wall_step(&mut self, forward: bool) {
        let now = self.now;
        let Some(w) = &mut self.wall else {
            return;
        };
        let n = w.panes.len();
        w.index = if forward {
            (w.index + 1) % n
        } else {
            (w.index + n - 1) % n
        };
        w.next_at = (!w.paused).then(|| now + w.every);
        self.focus = w.panes[w.index];
    }

    /// On each tick: the ticker's news, the hold, the rotation. Returns
    /// whether anything shown changed.
    pub(in crate::app) fn wall_tick(&mut self, clock: &str) -> bool {
        let Some(mut w) = self.wall.take() else {
            return false;
        };
        let before = (self.focus, w.held_by.clone(), w.ticker.len());
        self.wall_news(&mut w, clock);
        let now = self.now;
        // A critical alert first seen (or started) within the hold is new:
        // the Overview is held while one is.
        let new = w
            .firing
            .values()
            .filter(|(_, _, rank, seen)| {
                *rank == 0 && now.duration_since(*seen).unwrap_or_default() < w.hold
            })
            .map(|(name, region, _, _)| {
                format!("{name} in {}", self.platform.region_display(region))
            })
            .next();
        if let Some(held) = new {
            w.held_by = Some(held);
            self.focus = Pane::Overview;
            w.next_at = None;
        } else {
            if w.held_by.take().is_some() {
                w.index = w
                    .panes
                    .iter()
                    .position(|p| *p == Pane::Overview)
                    .unwrap_or(0);
                self.focus = w.panes[w.index];
            }
            if !w.paused {
                match w.next_at {
                    Some(due) if now >= due => {
                        w.index = (w.index + 1) % w.panes.len();
                        self.focus = w.panes[w.index];
                        w.next_at = Some(now + w.every);
                    }
                    Some(_) => {}
                    None => w.next_at = Some(now + w.every),
                }
            }
        }
        let changed = before != (self.focus, w.held_by.clone(), w.ticker.len());
        self.wall = Some(w);
        changed
    }

    /// What changed since the last tick, into the ticker.
    fn wall_news(&self, w: &mut Wall, clock: &str) {
        let now = self.now;
        let primed = w.primed;
        // Alerts firing and resolved. One seen already firing when the
        // wall starts is dated by when it started, so it holds the
        // Overview only if it is new.
        let mut firing = BTreeMap::new();
        for a in self.store.alert_rows() {
            if a.state() != AlertState::Firing {
                continue;
            }
            let seen = w
                .firing
                .get(&a.fingerprint)
                .map(|f| f.3)
                .or(if primed { None } else { a.since })
                .unwrap_or(now);
            firing.insert(
                a.fingerprint.clone(),
                (a.name.clone(), a.region.clone(), a.rank(), seen),
            );
        }
        // An alert whose source stopped answering is not known resolved.
        let blind: BTreeSet<&str> = self
            .platform
            .alert_sources
            .iter()
            .filter(|s| {
                !self
                    .store
                    .source(
                        s.region.get_ref(),
                        crate::model::SourceKind::Alerts,
                        s.name.get_ref(),
                    )
                    .is_live()
            })
            .map(|s| s.region.get_ref().as_str())
            .collect();
        if primed {
            for (fp, (name, region, rank, _)) in &firing {
                if !w.firing.contains_key(fp) {
                    let level = if *rank == 0 { Level::Crit } else { Level::Warn };
                    let text = format!("{name} fired in {}", self.platform.region_display(region));
                    w.tell(now, clock, level, text);
                }
            }
            let gone: Vec<(String, String)> = w
                .firing
                .iter()
                .filter(|(fp, (_, region, _, _))| {
                    !firing.contains_key(*fp) && !blind.contains(region.as_str())
                })
                .map(|(_, (name, region, _, _))| (name.clone(), region.clone()))
                .collect();
            for (name, region) in gone {
                let text = format!(
                    "{name} resolved in {}",
                    self.platform.region_display(&region)
                );
                w.tell(now, clock, Level::Ok, text);
            }
        }
        for (fp, f) in &w.firing {
            if !firing.contains_key(fp) && blind.contains(f.1.as_str()) {
                firing.insert(fp.clone(), f.clone());
            }
        }
        w.firing = firing;
        self.release_news(w, clock, primed);
        // Runbook runs (drills and failovers) the audit log has.
        for d in &self.store.drills().last {
            let key = (d.from.clone(), d.to.clone(), d.at);
            if w.runs.insert(key) && now.duration_since(d.at).unwrap_or_default() <= TICKER_SPAN {
                let what = if d.dry_run { "drill" } else { "failover" };
                let level = if d.passed { Level::Ok } else { Level::Crit };
                let text = format!(
                    "{what} {} → {}: {}",
                    self.platform.region_display(&d.from),
                    self.platform.region_display(&d.to),
                    d.outcome
                );
                w.tell(d.at, clock, level, text);
            }
        }
        // Cells changing level, as the Overview's changes log has them.
        let log = self.changes.log();
        let after = w
            .last_change
            .as_ref()
            .and_then(|last| log.iter().rposition(|c| c == last))
            .map_or(0, |i| i + 1);
        if primed {
            for c in log.iter().skip(after) {
                let text = format!(
                    "{} {} → {}: {}",
                    c.region,
                    c.from.word(),
                    c.to.word(),
                    c.why
                );
                w.tell(now, clock, c.to, text);
            }
        }
        w.last_change = log.back().cloned();
        // What the alert sources say at first is the state the wall starts
        // on, not news: primed once each has answered (or failed) once.
        w.primed = self.alerts_answered();
    }

    /// Whether every alert source has answered (or failed) once.
    fn alerts_answered(&self) -> bool {
        self.platform.alert_sources.iter().all(|s| {
            !matches!(
                self.store.source(
                    s.region.get_ref(),
                    crate::model::SourceKind::Alerts,
                    s.name.get_ref()
                ),
                crate::model::SourceState::NotConnected
                    | crate::model::SourceState::Connecting { .. }
            )
        })
    }

    /// Rollouts starting and completing, live colours switching.
    fn release_news(&self, w: &mut Wall, clock: &str, primed: bool) {
        let now = self.now;
        let mut seen = BTreeMap::new();
        for c in &self.platform.clusters {
            let cluster = c.name.get_ref();
            let Some(state) = self.store.cluster(cluster) else {
                continue;
            };
            for r in rollout::releases(state) {
                let key = format!("{cluster} {}/{}", r.namespace, r.app);
                let live = r.live().map(str::to_owned);
                let rolling = r
                    .colours
                    .iter()
                    .any(|d| matches!(rollout::rollout_state(d), RolloutState::Progressing(_)));
                if primed && let Some((was_live, was_rolling)) = w.releases.get(&key).cloned() {
                    if was_live != live {
                        let text = format!(
                            "{} live {} → {} in {cluster}",
                            r.app,
                            was_live.as_deref().unwrap_or("?"),
                            live.as_deref().unwrap_or("?")
                        );
                        w.tell(now, clock, Level::Warn, text);
                    }
                    if rolling && !was_rolling {
                        w.tell(
                            now,
                            clock,
                            Level::Pending,
                            format!("{} rollout started in {cluster}", r.app),
                        );
                    }
                    if !rolling && was_rolling {
                        w.tell(
                            now,
                            clock,
                            Level::Ok,
                            format!("{} rollout completed in {cluster}", r.app),
                        );
                    }
                }
                seen.insert(key, (live, rolling));
            }
        }
        // A cluster not listed now keeps what it had: not news.
        for (k, v) in std::mem::take(&mut w.releases) {
            seen.entry(k).or_insert(v);
        }
        w.releases = seen;
    }
}
