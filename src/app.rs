//! The console's state and its reducer. [`App::handle`] is the only writer
//! of state: terminal keys, source updates, job events and clock ticks all
//! arrive as an [`Event`] and are folded in here. It never blocks and
//! performs no I/O: what it needs done outside comes back as [`Effect`]s.
//! Views borrow the state to draw it.
//!
//! The state is split by what it is: [`store`] (what sources reported),
//! [`panes`] (each pane's cursor, view and memory), [`input`] (overlays,
//! chords, history), [`jobs`], [`notices`], and the filters; this file
//! composes them and dispatches commands.

pub mod act;
pub mod changes;
pub mod clock;
pub mod copy;
pub mod editor;
pub mod effect;
pub mod filter;
pub mod forward;
pub mod input;
pub mod jobs;
pub mod logs;
pub mod notices;
pub mod overlay;
pub mod panes;
pub mod readiness;
pub mod region;
pub mod related;
pub mod runbook;
pub mod snapshot;
pub mod store;
pub mod verdicts;
pub mod wall;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::config::{Keymap, Loaded, Platform, Theme, ThemeSet};
use crate::model::alert::{AlertRow, SilenceRow};
use crate::model::cluster::ClusterState;
use crate::model::data::{CloudWatchSeries, DataStatus, Figure};
use crate::model::source::age_label;
use crate::model::{Command, JobEvent, Key, Pane, SourceId, SourceKind, SourceState, Update};

use act::request_title;
use clock::RegionClock;
use editor::LineEditor;
pub use effect::Effect;
use filter::Filters;
use input::{Input, Keyed};
pub use jobs::JobRow;
use jobs::JobTable;
use notices::Notices;
pub use notices::{Level, Message, Said};
use overlay::{CommandLine, ConfirmDialog, Confirmed, Outcome, Overlay};
use panes::Panes;
use store::{Applied, Store};

/// Everything the app reacts to, from every producer, through one channel.
#[derive(Debug, Clone)]
pub enum Event {
    /// A key from the terminal.
    Key(Key),
    /// The terminal changed size.
    Resize,
    /// Data or health from a source.
    Update(Update),
    /// Progress of an executor job.
    Job(JobEvent),
    /// The clock: time labels may have changed.
    Tick(SystemTime),
    /// The process was told to stop (SIGTERM, SIGHUP).
    Shutdown(&'static str),
    /// The process was asked to suspend (SIGTSTP).
    Suspend,
    /// The process was continued (SIGCONT, after `fg`): the terminal may
    /// have been changed meanwhile.
    Continued,
    /// Something the console asked of the terminal failed: said as an error.
    Notice(String),
    /// What the port-forward runner says of a forward.
    Forward(crate::model::forward::ForwardEvent),
    /// The terminal is back from a program it was handed to (`x`).
    HandedBack {
        /// What it was, as the hand-off said.
        what: String,
        /// How it ended.
        result: forward::HandedBack,
    },
}

/// What the app asks of the terminal it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalRequest {
    /// Give the terminal back and stop until continued (job control).
    Suspend,
    /// Take the terminal again and redraw it whole.
    Reclaim,
    /// Give the terminal to a program (`kubectl exec -it`) until it ends,
    /// then take it back.
    HandOff(forward::HandOff),
}

impl From<Update> for Event {
    fn from(update: Update) -> Event {
        Event::Update(update)
    }
}

/// The console's state.
#[derive(Debug)]
pub struct App {
    platform: Platform,
    themes: ThemeSet,
    theme: String,
    theme_generation: u64,
    keymap: Keymap,
    /// `--read-only` itself, which no setting of the file overrides.
    read_only_flag: bool,
    focus: Pane,
    store: Store,
    panes: Panes,
    filters: Filters,
    input: Input,
    jobs: JobTable,
    forwards: forward::Forwards,
    notices: Notices,
    /// What the event being handled asks of the world.
    effects: Vec<Effect>,
    now: SystemTime,
    clocks: Vec<RegionClock>,
    changes: changes::Changes,
    dirty: bool,
    quit: bool,
    terminal: Option<TerminalRequest>,
    /// The wallboard, when this console is one.
    wall: Option<wall::Wall>,
    /// The interface's language.
    language: crate::i18n::Language,
}

impl App {
    /// A new app on loaded configuration, its clocks set to `now`.
    pub fn new(loaded: Loaded, now: SystemTime) -> App {
        let read_only_flag = loaded.read_only_flag;
        let mut clocks = RegionClock::for_platform(&loaded.platform);
        for c in &mut clocks {
            c.set(now);
        }
        let mut app = App {
            themes: loaded.themes,
            theme: loaded.theme,
            theme_generation: 0,
            keymap: loaded.keymap,
            read_only_flag,
            focus: Pane::Overview,
            store: Store::new(&loaded.platform),
            panes: Panes::default(),
            filters: Filters::default(),
            input: Input::default(),
            jobs: JobTable::default(),
            forwards: forward::Forwards::default(),
            notices: Notices::default(),
            effects: Vec::new(),
            now,
            clocks,
            changes: changes::Changes::default(),
            dirty: true,
            quit: false,
            terminal: None,
            wall: None,
            language: loaded.platform.settings.language.unwrap_or_default(),
            platform: loaded.platform,
        };
        let warnings = loaded.warnings.len();
        for w in loaded.warnings {
            app.notices.keep(Level::Warn, w);
        }
        if warnings > 0 {
            let key = app
                .key_hint(&Command::Messages)
                .unwrap_or_else(|| ":messages".into());
            let text = app.trf(
                "msg-start-warnings",
                &[("n", &warnings.to_string()), ("key", &key)],
            );
            app.notices.show(Level::Warn, text);
        }
        app
    }

    /// Folds one event into the state; returns what it asks of the world.
    pub fn handle(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Key(key) => self.on_key(key.normalized()),
            Event::Resize => self.dirty = true,
            Event::Update(update) => self.apply(update),
            Event::Job(job) => {
                if let JobEvent::Planned { id, plan } = &job {
                    self.planned(*id, plan);
                }
                let failed = match &job {
                    JobEvent::Finished {
                        id,
                        outcome: crate::model::JobOutcome::Failed(why),
                        ..
                    } => Some((*id, why.clone())),
                    JobEvent::Finished {
                        id,
                        outcome: crate::model::JobOutcome::Cancelled,
                        ..
                    } => Some((*id, "cancelled".to_owned())),
                    _ => None,
                };
                let succeeded = match &job {
                    JobEvent::Finished {
                        id,
                        outcome: crate::model::JobOutcome::Succeeded,
                        ..
                    } => Some(*id),
                    _ => None,
                };
                self.jobs.apply(job);
                if let Some((id, why)) = failed {
                    self.failed(id, &why);
                }
                if let Some(id) = succeeded {
                    self.next_stage(id);
                }
                self.dirty = true;
            }
            Event::Tick(now) => self.tick(now),
            Event::Shutdown(why) => {
                tracing::info!(why, "shutting down");
                self.quit = true;
            }
            Event::Suspend => self.terminal = Some(TerminalRequest::Suspend),
            Event::Continued => {
                self.terminal.get_or_insert(TerminalRequest::Reclaim);
                self.dirty = true;
            }
            Event::Notice(text) => {
                self.say(Level::Error, text);
                self.dirty = true;
            }
            Event::Forward(event) => self.forward_event(event),
            Event::HandedBack { what, result } => self.handed_back(&what, &result),
        }
        std::mem::take(&mut self.effects)
    }

    /// Whether the screen must be redrawn; clears the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Whether the app should exit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// What the app asks of the terminal, once; clears it.
    pub fn take_terminal_request(&mut self) -> Option<TerminalRequest> {
        self.terminal.take()
    }

    fn tick(&mut self, now: SystemTime) {
        let before = self.time_labels();
        self.now = now;
        let mut changed = false;
        for c in &mut self.clocks {
            changed |= c.set(now);
        }
        // Levels can change with time alone (a starting pod's allowance
        // running out); the changes log samples them once a tick.
        let clock = self
            .clocks
            .first()
            .map(|c| format!("{} {}", c.time, c.abbreviation))
            .unwrap_or_default();
        let regions: Vec<(String, String)> = self
            .platform
            .regions
            .iter()
            .map(|r| (r.name.get_ref().clone(), r.display.clone()))
            .collect();
        for (name, display) in regions {
            let cells = self.region_cells(&name);
            changed |= self.changes.observe(&clock, &display, &cells);
        }
        changed |= self.wall_tick(&clock);
        if changed || self.time_labels() != before {
            self.dirty = true;
        }
    }

    /// Every label whose text depends on the time (the coarse ages of
    /// sources that are not live, jobs' ages), so a tick redraws only when
    /// one of them reads differently.
    fn time_labels(&self) -> Vec<String> {
        let coarse = |t: SystemTime| {
            crate::model::source::age_short(crate::model::source::age_coarse(
                self.now.duration_since(t).unwrap_or(Duration::ZERO),
            ))
        };
        self.store
            .sources()
            .values()
            .filter(|s| !s.is_live())
            .filter_map(SourceState::since)
            .map(coarse)
            .chain(self.jobs.rows().iter().map(|j| self.age(j.queued)))
            .collect()
    }

    /// The last changes of any cell's level, oldest first.
    pub fn changes(&self) -> &std::collections::VecDeque<changes::Change> {
        self.changes.log()
    }

    /// The age of `t`, as labels show it.
    pub fn age(&self, t: SystemTime) -> String {
        age_label(self.now.duration_since(t).unwrap_or(Duration::ZERO))
    }

    fn on_key(&mut self, key: Key) {
        self.dirty = true;
        self.notices.clear_status();
        match self.input.key(&self.keymap, self.focus, key) {
            Keyed::Overlay(outcome) => self.on_outcome(outcome),
            Keyed::Command(command) => self.command(command),
            Keyed::Nothing => {}
        }
    }

    fn on_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Keep => {}
            Outcome::Copy => self.copy_shown(),
            Outcome::Logs(action) => self.log_action(action),
            Outcome::Close
            | Outcome::Declined(
                Confirmed::Quit | Confirmed::Offer(_) | Confirmed::Reasoned { .. },
            ) => {
                self.input.close();
            }
            Outcome::Confirmed(Confirmed::Offer(request)) => {
                self.input.close();
                let title = request_title(&request);
                self.ask(*request, &title);
            }
            Outcome::Submit(text) => {
                self.input.close();
                self.input.remember(&text);
                match text.parse::<Command>() {
                    Ok(command) => self.command(command),
                    Err(e) => self.say_t(
                        Level::Error,
                        "msg-command-unknown",
                        &[("text", &text), ("why", &e.to_string())],
                    ),
                }
            }
            Outcome::Filter { pane, text, close } => {
                self.filters.set(pane, text);
                self.panes.cursors.remove(&pane);
                if close {
                    self.input.close();
                }
            }
            Outcome::Confirmed(Confirmed::Quit) => {
                self.input.close();
                self.quit = true;
            }
            Outcome::Confirmed(Confirmed::Job { id, dry_run }) => {
                self.input.close();
                self.input.push(Overlay::Reason {
                    id,
                    dry_run,
                    editor: LineEditor::default(),
                });
            }
            Outcome::Confirmed(Confirmed::Reasoned {
                id,
                dry_run,
                reason,
            }) => {
                self.input.close();
                self.decided(id, Some((dry_run, reason)));
            }
            Outcome::Declined(Confirmed::Job { id, .. }) => {
                self.input.close();
                self.decided(id, None);
            }
        }
    }

    /// Runs a command, from a key or the command line; returns what it
    /// asks of the world.
    pub fn run(&mut self, command: Command) -> Vec<Effect> {
        self.command(command);
        std::mem::take(&mut self.effects)
    }

    fn command(&mut self, command: Command) {
        self.dirty = true;
        if self.cluster_command(&command) || self.rollouts_command(&command) {
            self.mark_seen();
            return;
        }
        if command.is_action() {
            self.act(command);
            self.mark_seen();
            return;
        }
        match command {
            Command::Quit => {
                let running = self.jobs.running();
                if self.wall.is_some() {
                    self.confirm(ConfirmDialog::new(
                        &self.tr("msg-dialog-leave-wall"),
                        Vec::new(),
                        &self.tr("msg-dialog-leave-wall-body"),
                        Confirmed::Quit,
                    ));
                } else if running == 0 {
                    self.quit = true;
                } else {
                    self.confirm(ConfirmDialog::new(
                        &self.tr("msg-dialog-quit"),
                        vec![(
                            self.tr("msg-dialog-field-running-jobs"),
                            running.to_string(),
                        )],
                        &self.tr("msg-dialog-quit-body"),
                        Confirmed::Quit,
                    ));
                }
            }
            Command::Suspend => self.terminal = Some(TerminalRequest::Suspend),
            Command::Help => self.input.open(Overlay::Help { scroll: 0 }),
            Command::Messages => self.input.open(Overlay::Messages { scroll: 0 }),
            Command::WallPause => self.wall_pause(),
            Command::NextPane if self.wall.is_some() => self.wall_step(true),
            Command::PrevPane if self.wall.is_some() => self.wall_step(false),
            Command::Logs
            | Command::Shell
            | Command::PortForward(_)
            | Command::Copy
            | Command::CopyYaml => self.object_command(command),
            Command::CommandLine => {
                let themes = self.themes.names().map(str::to_owned).collect();
                let history = self.input.history().to_vec();
                self.input
                    .open(Overlay::CommandLine(CommandLine::new(themes, history)));
            }
            Command::Filter => {
                if self.focus.has_table() {
                    let previous = self.filter(self.focus).unwrap_or_default().to_owned();
                    self.input.open(Overlay::Filter {
                        pane: self.focus,
                        editor: LineEditor::with_text(&previous),
                        previous,
                    });
                } else {
                    let pane = self.pane_said(self.focus);
                    let said = self.said("msg-filter-no-table", &[], &[("pane", &pane)]);
                    self.say_said(Level::Info, said);
                }
            }
            Command::Focus(pane) => self.focus = pane,
            Command::NextPane => self.focus = self.focus.next(),
            Command::PrevPane => self.focus = self.focus.prev(),
            Command::Up => self.move_cursor(-1),
            Command::Down => self.move_cursor(1),
            Command::PageUp => self.move_cursor(-10),
            Command::PageDown => self.move_cursor(10),
            Command::Top => self.move_cursor(isize::MIN),
            Command::Bottom => self.move_cursor(isize::MAX),
            Command::Select => self.select(),
            Command::Back if self.filter(self.focus).is_some() => {
                self.filters.set(self.focus, String::new());
                self.panes.cursors.remove(&self.focus);
            }
            Command::Theme(name) => self.theme_command(name),
            Command::Jump => self.jump(),
            Command::Language(code) => self.language_command(&code),
            // Handled above: by the Cluster pane (views, sort, namespaces)
            // or as an action; `nothing` unbinds a key; `back` with no
            // filter does nothing.
            _ => {}
        }
        self.mark_seen();
    }

    /// Asks the operator to confirm something, over everything else.
    pub fn confirm(&mut self, dialog: ConfirmDialog) {
        self.input.push(Overlay::Confirm(dialog));
        self.dirty = true;
    }

    fn move_cursor(&mut self, by: isize) {
        let rows = self.rows(self.focus);
        if rows == 0 {
            return;
        }
        let cur = self.cursor(self.focus);
        let next = cur.saturating_add_signed(by).min(rows - 1);
        self.panes.cursors.insert(self.focus, next);
    }

    fn say(&mut self, level: Level, text: String) {
        self.notices.say(level, text);
        self.dirty = true;
    }

    /// Says the catalogues' message `id` with `args` (each `{ $name }` of the
    /// message): logged in English, shown in the console's language.
    fn say_t(&mut self, level: Level, id: &str, args: &[(&str, &str)]) {
        let said = self.said(id, args, &[]);
        self.say_said(level, said);
    }

    /// Says `said`: logged in English, shown in the console's language.
    fn say_said(&mut self, level: Level, said: Said) {
        self.notices.say_shown(level, &said.english, said.shown);
        self.dirty = true;
    }

    /// The catalogues' message `id` in English and in the console's
    /// language: `args` the same in both, each of `phrases` in its own
    /// language (words of the catalogues themselves).
    fn said(&self, id: &str, args: &[(&str, &str)], phrases: &[(&str, &Said)]) -> Said {
        let fill = |lang: crate::i18n::Language, english: bool| {
            let same = args
                .iter()
                .map(|(k, v)| (*k, fluent_bundle::FluentValue::from(*v)));
            let own = phrases.iter().map(move |(k, p)| {
                let text = if english { &p.english } else { &p.shown };
                (*k, fluent_bundle::FluentValue::from(text.as_str()))
            });
            crate::i18n::tf(lang, id, same.chain(own))
        };
        Said {
            english: fill(crate::i18n::Language::En, true),
            shown: fill(self.language, false),
        }
    }

    /// The catalogues' message `id` (no arguments) in the console's
    /// language.
    fn tr(&self, id: &str) -> String {
        crate::i18n::t(self.language, id).into_owned()
    }

    /// The catalogues' message `id` with `args` in the console's language.
    fn trf(&self, id: &str, args: &[(&str, &str)]) -> String {
        crate::i18n::tf(
            self.language,
            id,
            args.iter()
                .map(|(k, v)| (*k, fluent_bundle::FluentValue::from(*v))),
        )
    }

    /// A pane's name (`Cluster`) in English and its title in the console's
    /// language, as a message's argument.
    fn pane_said(&self, pane: Pane) -> Said {
        Said {
            english: pane.to_string(),
            shown: crate::i18n::t(self.language, &format!("pane-{}", pane.name())).into_owned(),
        }
    }

    fn apply(&mut self, update: Update) {
        match self.store.apply(update) {
            Applied::Alerts => self.mark_seen(),
            Applied::Detail(object, yaml) => {
                for o in self.input.overlays_mut() {
                    if let Overlay::Detail {
                        object: shown,
                        text,
                        ..
                    } = o
                        && *shown == object
                    {
                        *text = Some(yaml.clone());
                    }
                }
                self.copy_arrived(&object, &yaml);
            }
            Applied::Log(Update::LogLines { id, pod, lines }) => {
                self.log_lines(id, pod.as_deref(), lines);
            }
            Applied::Log(Update::LogEnded { id, pod, why }) => self.log_ended(id, pod, why),
            Applied::Stored | Applied::Log(_) => {}
        }
        self.dirty = true;
    }

    // --- what views read -------------------------------------------------

    /// The platform being watched.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The theme in use (the built-in default if the named one is gone).
    pub fn theme(&self) -> &Theme {
        self.themes
            .get(&self.theme)
            .unwrap_or_else(|| self.themes.default_theme())
    }

    /// Bumped each time the theme changes, so views re-resolve styles once.
    pub fn theme_generation(&self) -> u64 {
        self.theme_generation
    }

    /// The keymap in force.
    pub fn keymap(&self) -> &Keymap {
        &self.keymap
    }

    /// The keys bound to `command` in the focused pane, as text.
    pub fn key_hint(&self, command: &Command) -> Option<String> {
        self.keymap
            .chord_for(self.focus, command)
            .map(ToString::to_string)
    }

    /// The interface's language.
    pub fn language(&self) -> crate::i18n::Language {
        self.language
    }

    /// What the operator asks of the selected object: its log, a shell or
    /// a port into it, a copy of it.
    fn object_command(&mut self, command: Command) {
        match command {
            Command::Logs => self.open_logs(),
            Command::Shell => self.shell(),
            Command::PortForward(arg) => self.port_forward(&arg),
            Command::Copy => self.copy_name(),
            Command::CopyYaml => self.copy_yaml(),
            _ => {}
        }
    }

    /// `:theme NAME`.
    fn theme_command(&mut self, name: String) {
        if self.themes.get(&name).is_some() {
            self.theme = name;
            self.theme_generation += 1;
        } else if let Some(why) = self.themes.broken().get(&name) {
            let (at, why) = (why.position(), why.message.clone());
            self.say_t(
                Level::Error,
                "msg-theme-broken",
                &[("name", &name), ("at", &at), ("why", &why)],
            );
        } else {
            let known = self.themes.names_list();
            self.say_t(
                Level::Error,
                "msg-theme-unknown",
                &[("name", &name), ("known", &known)],
            );
        }
    }

    /// `:language CODE`.
    fn language_command(&mut self, code: &str) {
        match crate::i18n::Language::from_code(code) {
            Some(lang) => self.set_language(lang),
            None => self.say_t(Level::Error, "msg-language-unknown", &[("code", code)]),
        }
    }

    /// Speaks `lang` from the next frame.
    pub fn set_language(&mut self, lang: crate::i18n::Language) {
        self.language = lang;
        self.dirty = true;
    }

    /// Whether mutating actions are refused.
    pub fn read_only(&self) -> bool {
        self.read_only_flag || self.platform.settings.read_only
    }

    /// The clusters read-only by their own `read_only` while the console
    /// is not: actions on them are refused, on the others allowed.
    pub fn read_only_clusters(&self) -> Vec<&str> {
        if self.read_only() {
            return Vec::new();
        }
        self.platform
            .clusters
            .iter()
            .filter(|c| c.read_only == Some(true))
            .map(|c| c.name.get_ref().as_str())
            .collect()
    }

    /// The focused pane.
    pub fn focus(&self) -> Pane {
        self.focus
    }

    /// Overlays, bottom first.
    pub fn overlays(&self) -> &[Overlay] {
        self.input.overlays()
    }

    /// A pane's filter.
    pub fn filter(&self, pane: Pane) -> Option<&str> {
        self.filters.get(pane)
    }

    /// Whether `text` passes the pane's filter (a case-insensitive regex).
    pub fn filter_matches(&self, pane: Pane, text: &str) -> bool {
        self.filters.matches(pane, text)
    }

    /// A pane's selected row.
    pub fn cursor(&self, pane: Pane) -> usize {
        self.panes.cursors.get(&pane).copied().unwrap_or(0)
    }

    /// Every source and its health.
    pub fn sources(&self) -> &BTreeMap<SourceId, SourceState> {
        self.store.sources()
    }

    /// A source's health.
    pub fn source(&self, region: &str, kind: SourceKind, name: &str) -> &SourceState {
        self.store.source(region, kind, name)
    }

    /// What is known of a cluster, once its source has listed it.
    pub fn cluster(&self, name: &str) -> Option<&ClusterState> {
        self.store.cluster(name)
    }

    /// A cluster's node groups as their cloud last reported them (the
    /// config's `eks` / `aks`), if read yet.
    pub fn cloud_groups(&self, cluster: &str) -> Option<&crate::model::cluster::CloudGroups> {
        self.store.cloud_groups(cluster)
    }

    /// What a database, cache or AI service reported last.
    pub fn data(&self, region: &str, kind: SourceKind, name: &str) -> Option<&DataStatus> {
        self.store.data(region, kind, name)
    }

    /// A region's PromQL figures, once queried.
    pub fn figures(&self, region: &str) -> Option<&[Figure]> {
        self.store.figures(region)
    }

    /// A database's or cache's CloudWatch series, once fetched.
    pub fn cloudwatch(
        &self,
        region: &str,
        kind: SourceKind,
        name: &str,
    ) -> Option<&CloudWatchSeries> {
        self.store.cloudwatch(region, kind, name)
    }

    /// The databases (or caches) that report themselves primary, as
    /// `name (Region)`.
    pub fn primaries(&self, kind: SourceKind) -> Vec<String> {
        self.store
            .primaries(kind)
            .into_iter()
            .map(|id| format!("{} ({})", id.name, self.platform.region_display(&id.region)))
            .collect()
    }

    /// Every alert of every source, each once, active first.
    pub fn alert_rows(&self) -> Vec<&AlertRow> {
        self.store.alert_rows()
    }

    /// The active silences of every source.
    pub fn silences(&self) -> impl Iterator<Item = &SilenceRow> {
        self.store.silences()
    }

    /// Alerts the sources sent that could not be read (skipped, counted).
    pub fn malformed_alerts(&self) -> usize {
        self.store.malformed_alerts()
    }

    /// Firing alerts of a region by severity, once known.
    pub fn alert_counts(&self, region: &str) -> Option<(usize, usize, usize)> {
        self.store.alert_counts(region)
    }

    /// Jobs of this session, oldest first.
    pub fn jobs(&self) -> &[JobRow] {
        self.jobs.rows()
    }

    /// Jobs not yet finished.
    pub fn running_jobs(&self) -> usize {
        self.jobs.running()
    }

    /// Every message of this session, oldest first.
    pub fn messages(&self) -> &[Message] {
        self.notices.messages()
    }

    /// The message shown in the footer until the next key.
    pub fn status(&self) -> Option<&Message> {
        self.notices.status()
    }

    /// Keys of a chord typed so far.
    pub fn pending_keys(&self) -> &[Key] {
        self.input.pending()
    }

    /// The regions' clocks.
    pub fn clocks(&self) -> &[RegionClock] {
        &self.clocks
    }

    /// The rules holding for a source's last reading and how long each
    /// has held (see [`Store::rules`]).
    pub fn rules(&self, id: &SourceId) -> Option<Vec<(crate::model::data::Finding, Option<u32>)>> {
        self.store.rules(id)
    }

    /// The current time, as of the last tick.
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// The health of a database, cache or AI service from its last
    /// reading, with hysteresis (see [`Store::data_health`]).
    pub fn data_health(
        &self,
        region: &str,
        kind: SourceKind,
        name: &str,
    ) -> Option<(crate::model::cluster::Health, String)> {
        self.store.data_health(region, kind, name)
    }
}
