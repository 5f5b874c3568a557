//! The state store and its reducer. [`App::handle`] is the only writer of
//! state: terminal keys, source updates, job events and clock ticks all
//! arrive as an [`Event`] and are folded in here. It never blocks: no I/O,
//! no locks. Views borrow the state to draw it.

pub mod clock;
pub mod editor;
pub mod overlay;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use crate::config::keymap::Lookup;
use crate::config::{Keymap, Loaded, Platform, Theme, ThemeSet};
use tokio::sync::mpsc;

use crate::model::alert::{self, AlertFilter, AlertRow, AlertSnapshot, Target};
use crate::model::cluster::{ClusterState, ClusterView, DeploymentRow, ObjectRef, Query, Window};
use crate::model::data::DataStatus;
use crate::model::source::age_label;
use crate::model::{
    Command, JobEvent, JobId, JobOutcome, Key, Pane, SourceId, SourceKind, SourceState, Update,
};

use clock::RegionClock;
use editor::LineEditor;
use overlay::{CommandLine, ConfirmDialog, Confirmed, Outcome, Overlay};

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
}

impl From<Update> for Event {
    fn from(update: Update) -> Event {
        Event::Update(update)
    }
}

/// How serious a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// For information.
    Info,
    /// Something is wrong but touban carries on.
    Warn,
    /// Something the operator asked for failed.
    Error,
}

/// A message for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// How serious.
    pub level: Level,
    /// What happened.
    pub text: String,
}

/// A job as the Jobs pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Its id.
    pub id: JobId,
    /// What it does.
    pub title: String,
    /// The step running: number, count, description.
    pub step: Option<(usize, usize, String)>,
    /// How it ended, once it has.
    pub outcome: Option<JobOutcome>,
    /// When it was queued.
    pub queued: SystemTime,
}

/// The console's state.
#[derive(Debug)]
pub struct App {
    platform: Platform,
    themes: ThemeSet,
    theme: String,
    theme_generation: u64,
    keymap: Keymap,
    read_only: bool,
    focus: Pane,
    overlays: Vec<Overlay>,
    filters: BTreeMap<Pane, String>,
    /// Each filter compiled: a case-insensitive regex, or the text literally
    /// while it is not one yet (as it is typed).
    compiled: BTreeMap<Pane, regex::Regex>,
    cluster_view: ClusterView,
    /// The Cluster pane's namespace; `None`: all.
    namespace: Option<String>,
    /// Each Cluster view's sort, an index into its `sorts()`.
    sorts: [usize; ClusterView::ALL.len()],
    /// Where detail fetches are sent, once a fetcher is connected.
    details: Option<mpsc::UnboundedSender<ObjectRef>>,
    cursors: BTreeMap<Pane, usize>,
    selected_cluster: Option<String>,
    sources: BTreeMap<SourceId, SourceState>,
    clusters: BTreeMap<String, ClusterState>,
    /// What each database, cache and AI service reported last.
    data: BTreeMap<SourceId, DataStatus>,
    /// PromQL figures per region.
    figures: BTreeMap<String, Vec<crate::model::data::Figure>>,
    /// CloudWatch series of databases and caches.
    cloudwatch: BTreeMap<SourceId, crate::model::data::Series>,
    /// Each alert source's last snapshot.
    alerts: BTreeMap<SourceId, AlertSnapshot>,
    /// Critical alerts the operator has seen (the Alerts pane was shown
    /// while they fired), by fingerprint.
    seen: BTreeSet<String>,
    jobs: Vec<JobRow>,
    messages: Vec<Message>,
    status: Option<Message>,
    history: Vec<String>,
    pending: Vec<Key>,
    now: SystemTime,
    clocks: Vec<RegionClock>,
    dirty: bool,
    quit: bool,
}

impl App {
    /// A new app on loaded configuration, its clocks set to `now`.
    pub fn new(loaded: Loaded, now: SystemTime) -> App {
        let sources = sources_of(&loaded.platform);
        let mut clocks = RegionClock::for_platform(&loaded.platform);
        for c in &mut clocks {
            c.set(now);
        }
        let mut app = App {
            themes: loaded.themes,
            theme: loaded.theme,
            theme_generation: 0,
            keymap: loaded.keymap,
            read_only: loaded.read_only,
            focus: Pane::Overview,
            overlays: Vec::new(),
            filters: BTreeMap::new(),
            compiled: BTreeMap::new(),
            cluster_view: ClusterView::default(),
            namespace: None,
            sorts: [0; ClusterView::ALL.len()],
            details: None,
            cursors: BTreeMap::new(),
            selected_cluster: None,
            sources,
            clusters: BTreeMap::new(),
            data: BTreeMap::new(),
            cloudwatch: BTreeMap::new(),
            figures: BTreeMap::new(),
            alerts: BTreeMap::new(),
            seen: BTreeSet::new(),
            jobs: Vec::new(),
            messages: Vec::new(),
            status: None,
            history: Vec::new(),
            pending: Vec::new(),
            now,
            clocks,
            dirty: true,
            quit: false,
            platform: loaded.platform,
        };
        for w in loaded.warnings {
            app.messages.push(Message {
                level: Level::Warn,
                text: w,
            });
        }
        if !app.messages.is_empty() {
            let key = app
                .key_hint(&Command::Messages)
                .unwrap_or_else(|| ":messages".into());
            app.status = Some(Message {
                level: Level::Warn,
                text: format!("{} keymap warning(s): {key} shows them", app.messages.len()),
            });
        }
        app
    }

    /// Folds one event into the state.
    pub fn handle(&mut self, event: Event) {
        match event {
            Event::Key(key) => self.on_key(key.normalized()),
            Event::Resize => self.dirty = true,
            Event::Update(update) => self.apply(update),
            Event::Job(job) => self.apply_job(job),
            Event::Tick(now) => self.tick(now),
            Event::Shutdown(why) => {
                tracing::info!(why, "shutting down");
                self.quit = true;
            }
        }
    }

    /// Whether the screen must be redrawn; clears the flag.
    pub fn take_dirty(&mut self) -> bool {
        std::mem::take(&mut self.dirty)
    }

    /// Whether the app should exit.
    pub fn should_quit(&self) -> bool {
        self.quit
    }

    fn tick(&mut self, now: SystemTime) {
        let before = self.time_labels();
        self.now = now;
        let mut changed = false;
        for c in &mut self.clocks {
            changed |= c.set(now);
        }
        if changed || self.time_labels() != before {
            self.dirty = true;
        }
    }

    /// Every label whose text depends on the time (ages of sources and
    /// jobs), so a tick redraws only when one of them reads differently.
    fn time_labels(&self) -> Vec<String> {
        self.sources
            .values()
            .filter_map(SourceState::since)
            .chain(self.jobs.iter().map(|j| j.queued))
            .map(|t| self.age(t))
            .collect()
    }

    /// The age of `t`, as labels show it.
    pub fn age(&self, t: SystemTime) -> String {
        age_label(self.now.duration_since(t).unwrap_or(Duration::ZERO))
    }

    fn on_key(&mut self, key: Key) {
        self.dirty = true;
        self.status = None;
        if let Some(top) = self.overlays.last_mut() {
            let outcome = top.on_key(key);
            self.on_outcome(outcome);
            return;
        }
        self.pending.push(key);
        let mut lookup = self.keymap.lookup(self.focus, &self.pending);
        if lookup == Lookup::Unbound && self.pending.len() > 1 {
            // A chord broken off: the last key may start something new.
            self.pending = vec![key];
            lookup = self.keymap.lookup(self.focus, &self.pending);
        }
        match lookup {
            Lookup::Found(binding) => {
                let command = binding.command.clone();
                self.pending.clear();
                self.run(command);
            }
            Lookup::Pending => {}
            Lookup::Unbound => self.pending.clear(),
        }
    }

    fn on_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Keep => {}
            Outcome::Close => {
                self.overlays.pop();
            }
            Outcome::Submit(text) => {
                self.overlays.pop();
                self.history.retain(|h| h != &text);
                self.history.push(text.clone());
                match text.parse::<Command>() {
                    Ok(command) => self.run(command),
                    Err(e) => self.say(Level::Error, format!(":{text}: {e}")),
                }
            }
            Outcome::Filter { pane, text, close } => {
                self.set_filter(pane, text);
                self.cursors.remove(&pane);
                if close {
                    self.overlays.pop();
                }
            }
            Outcome::Confirmed(Confirmed::Quit) => {
                self.overlays.pop();
                self.quit = true;
            }
        }
    }

    /// Runs a command, from a key or the command line.
    pub fn run(&mut self, command: Command) {
        self.dirty = true;
        match command {
            Command::Quit => {
                let running = self.running_jobs();
                if running == 0 {
                    self.quit = true;
                } else {
                    self.confirm(ConfirmDialog::new(
                        "Quit touban",
                        vec![("running jobs".into(), running.to_string())],
                        "Jobs still running are cancelled between steps; resumable ones converge when run again.",
                        Confirmed::Quit,
                    ));
                }
            }
            Command::Help => self.open(Overlay::Help { scroll: 0 }),
            Command::Messages => self.open(Overlay::Messages { scroll: 0 }),
            Command::CommandLine => {
                let themes = self.themes.names().map(str::to_owned).collect();
                self.open(Overlay::CommandLine(CommandLine::new(
                    themes,
                    self.history.clone(),
                )));
            }
            Command::Filter => {
                if self.focus.has_table() {
                    let previous = self.filters.get(&self.focus).cloned().unwrap_or_default();
                    self.open(Overlay::Filter {
                        pane: self.focus,
                        editor: LineEditor::with_text(&previous),
                        previous,
                    });
                } else {
                    self.say(
                        Level::Info,
                        format!("the {} pane has no table to filter", self.focus),
                    );
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
            Command::Back => {
                if self.filters.contains_key(&self.focus) {
                    self.set_filter(self.focus, String::new());
                    self.cursors.remove(&self.focus);
                }
            }
            Command::NextView | Command::PrevView => {
                if self.focus == Pane::Cluster {
                    self.cluster_view = if command == Command::NextView {
                        self.cluster_view.next()
                    } else {
                        self.cluster_view.prev()
                    };
                    self.cursors.remove(&Pane::Cluster);
                }
            }
            Command::NextNamespace => self.next_namespace(),
            Command::Namespace(name) => {
                self.namespace = (name != "all").then_some(name);
                self.cursors.remove(&Pane::Cluster);
            }
            Command::Sort => {
                if self.focus == Pane::Cluster {
                    let i = self.view_index();
                    self.sorts[i] = (self.sorts[i] + 1) % self.cluster_view.sorts().len();
                    self.cursors.remove(&Pane::Cluster);
                }
            }
            Command::Theme(name) => {
                if self.themes.get(&name).is_some() {
                    self.theme = name;
                    self.theme_generation += 1;
                } else {
                    self.say(
                        Level::Error,
                        format!(
                            "unknown theme `{name}`: expected one of {}",
                            self.themes.names_list()
                        ),
                    );
                }
            }
            Command::Jump => self.jump(),
            Command::Nothing => {}
        }
        self.mark_seen();
    }

    /// With the Alerts pane shown, every critical alert firing is seen.
    fn mark_seen(&mut self) {
        if self.focus != Pane::Alerts {
            return;
        }
        let fresh: Vec<String> = self
            .alert_rows()
            .iter()
            .filter(|a| a.rank() == 0)
            .map(|a| a.fingerprint.clone())
            .collect();
        self.seen.extend(fresh);
    }

    /// Opens the pane that shows what the selected alert is about,
    /// filtered to it.
    fn jump(&mut self) {
        if self.focus != Pane::Alerts {
            return;
        }
        let Some(a) = self
            .visible_alerts()
            .get(self.cursor(Pane::Alerts))
            .map(|a| (*a).clone())
        else {
            return;
        };
        let databases: Vec<&str> = self
            .platform
            .databases
            .iter()
            .map(|d| d.name.get_ref().as_str())
            .chain(
                self.platform
                    .caches
                    .iter()
                    .map(|c| c.name.get_ref().as_str()),
            )
            .collect();
        let ai: Vec<&str> = self
            .platform
            .ai_services
            .iter()
            .map(|a| a.name.get_ref().as_str())
            .collect();
        let Some(target) = alert::target(&a, &databases, &ai) else {
            self.say(
                Level::Info,
                format!("{}: its labels name no workload, database or node", a.name),
            );
            return;
        };
        let cluster = self
            .platform
            .clusters
            .iter()
            .find(|c| c.region.get_ref() == &a.region)
            .map(|c| c.name.get_ref().clone());
        let (pane, filter) = match target {
            Target::Pod(namespace, pod) => {
                self.cluster_view = ClusterView::Pods;
                self.namespace = namespace;
                (Pane::Cluster, pod)
            }
            Target::Workload(name) => {
                self.cluster_view = ClusterView::Deployments;
                self.namespace = None;
                (Pane::Cluster, name)
            }
            Target::Node(name) => {
                self.cluster_view = ClusterView::Nodes;
                (Pane::Cluster, name)
            }
            Target::Data(name) => (Pane::Data, name),
            Target::Ai(name) => (Pane::Ai, name),
        };
        if pane == Pane::Cluster {
            self.selected_cluster = cluster.or_else(|| self.selected_cluster.clone());
        }
        self.focus = pane;
        // Escaped as a regex, but names read as typed (`-` needs no escape).
        self.set_filter(pane, regex::escape(&filter).replace("\\-", "-"));
        self.cursors.remove(&pane);
    }

    /// Asks the operator to confirm something, over everything else.
    pub fn confirm(&mut self, dialog: ConfirmDialog) {
        self.overlays.push(Overlay::Confirm(dialog));
        self.dirty = true;
    }

    fn open(&mut self, overlay: Overlay) {
        let same = self
            .overlays
            .last()
            .is_some_and(|top| std::mem::discriminant(top) == std::mem::discriminant(&overlay));
        if !same {
            self.overlays.push(overlay);
        }
    }

    fn select(&mut self) {
        let object = match self.focus {
            Pane::Overview => {
                if let Some(cluster) = self.platform.clusters.get(self.cursor(Pane::Overview)) {
                    self.selected_cluster = Some(cluster.name.get_ref().clone());
                    self.focus = Pane::Cluster;
                    self.cursors.remove(&Pane::Cluster);
                }
                return;
            }
            Pane::Cluster => self.selected_cluster().and_then(|name| {
                let cursor = self.cursor(Pane::Cluster);
                let window = self.cluster_window(self.cluster(name)?, cursor, 1);
                let key = window.keys.first()?;
                let kind = match self.cluster_view {
                    ClusterView::Pods => "Pod",
                    ClusterView::Deployments => "Deployment",
                    ClusterView::Nodes => "Node",
                    ClusterView::Events => "Event",
                };
                Some(ObjectRef::from_key(name, kind, key))
            }),
            Pane::Alerts => {
                if let Some(a) = self.visible_alerts().get(self.cursor(Pane::Alerts)) {
                    let fingerprint = a.fingerprint.clone();
                    self.overlays.push(Overlay::Alert {
                        fingerprint,
                        scroll: 0,
                    });
                }
                return;
            }
            Pane::Rollouts => {
                self.rollout_rows()
                    .get(self.cursor(Pane::Rollouts))
                    .map(|(cluster, d)| ObjectRef {
                        cluster: (*cluster).to_owned(),
                        kind: "Deployment",
                        namespace: Some(d.namespace.clone()),
                        name: d.name.clone(),
                    })
            }
            _ => None,
        };
        let Some(object) = object else {
            return;
        };
        let text = match &self.details {
            Some(tx) => tx.send(object.clone()).err().map(|_| {
                Err("the detail fetcher has stopped; restart touban to fetch objects".to_owned())
            }),
            None => Some(Err(
                "no cluster source is connected in this session to fetch it from".to_owned(),
            )),
        };
        self.overlays.push(Overlay::Detail {
            object,
            text,
            scroll: 0,
        });
    }

    fn next_namespace(&mut self) {
        let Some(cluster) = self.selected_cluster().and_then(|n| self.cluster(n)) else {
            return;
        };
        let namespaces = cluster.namespaces();
        let next = match &self.namespace {
            None => namespaces.first().map(|s| (*s).to_owned()),
            Some(cur) => namespaces
                .iter()
                .position(|n| n == cur)
                .and_then(|i| namespaces.get(i + 1))
                .map(|s| (*s).to_owned()),
        };
        self.namespace = next;
        self.cursors.remove(&Pane::Cluster);
    }

    fn view_index(&self) -> usize {
        ClusterView::ALL
            .iter()
            .position(|v| *v == self.cluster_view)
            .unwrap_or(0)
    }

    fn move_cursor(&mut self, by: isize) {
        let rows = self.rows(self.focus);
        if rows == 0 {
            return;
        }
        let cur = self.cursor(self.focus);
        let next = cur.saturating_add_signed(by).min(rows - 1);
        self.cursors.insert(self.focus, next);
    }

    /// Rows the focused pane's selection moves over.
    fn rows(&self, pane: Pane) -> usize {
        match pane {
            Pane::Overview => self.platform.clusters.len(),
            Pane::Jobs => self.jobs.len(),
            Pane::Cluster => self
                .selected_cluster()
                .and_then(|c| self.clusters.get(c))
                .map_or(0, |c| self.cluster_window(c, 0, 0).total),
            Pane::Rollouts => self.rollout_rows().len(),
            Pane::Alerts => self.visible_alerts().len(),
            _ => 0,
        }
    }

    fn set_filter(&mut self, pane: Pane, text: String) {
        if text.is_empty() {
            self.filters.remove(&pane);
            self.compiled.remove(&pane);
            return;
        }
        let regex = regex::RegexBuilder::new(&text)
            .case_insensitive(true)
            .build()
            .or_else(|_| {
                regex::RegexBuilder::new(&regex::escape(&text))
                    .case_insensitive(true)
                    .build()
            });
        match regex {
            Ok(r) => {
                self.compiled.insert(pane, r);
            }
            Err(_) => {
                self.compiled.remove(&pane);
            }
        }
        self.filters.insert(pane, text);
    }

    /// Whether `text` passes the pane's filter (a case-insensitive regex).
    pub fn filter_matches(&self, pane: Pane, text: &str) -> bool {
        match (self.filters.get(&pane), self.compiled.get(&pane)) {
            (None, _) => true,
            (Some(_), Some(r)) => r.is_match(text),
            (Some(f), None) => text.contains(f.as_str()),
        }
    }

    /// The Cluster pane's view.
    pub fn cluster_view(&self) -> ClusterView {
        self.cluster_view
    }

    /// The Cluster pane's rows: its view, namespace and sort.
    pub fn cluster_query(&self) -> Query<'_> {
        Query {
            view: self.cluster_view,
            namespace: self.namespace.as_deref(),
            sort: self.sorts[self.view_index()],
        }
    }

    /// `height` rows of the Cluster pane's table around `cursor`, and how
    /// many rows pass its filter.
    pub fn cluster_window<'a>(
        &self,
        cluster: &'a ClusterState,
        cursor: usize,
        height: usize,
    ) -> Window<'a> {
        let keep = |k: &str| self.filter_matches(Pane::Cluster, k);
        let filtered: Option<&dyn Fn(&str) -> bool> =
            self.filter(Pane::Cluster).map(|_| &keep as _);
        cluster.window(self.cluster_query(), filtered, cursor, height)
    }

    /// What a database, cache or AI service reported last.
    pub fn data(&self, region: &str, kind: SourceKind, name: &str) -> Option<&DataStatus> {
        self.data.get(&SourceId::new(region, kind, name))
    }

    /// A region's PromQL figures, once queried.
    pub fn figures(&self, region: &str) -> Option<&[crate::model::data::Figure]> {
        self.figures.get(region).map(Vec::as_slice)
    }

    /// A database's or cache's CloudWatch series, once fetched.
    pub fn cloudwatch(
        &self,
        region: &str,
        kind: SourceKind,
        name: &str,
    ) -> Option<&crate::model::data::Series> {
        self.cloudwatch.get(&SourceId::new(region, kind, name))
    }

    /// The databases (or caches) that report themselves primary, as
    /// `name (region)`. More than one where a region is a standby's is a
    /// split brain: two sides taking writes.
    pub fn primaries(&self, kind: SourceKind) -> Vec<String> {
        self.data
            .iter()
            .filter(|(id, _)| id.kind == kind)
            .filter(|(_, s)| match s {
                DataStatus::Database(d) => d.up && d.role.as_deref() == Some("primary"),
                DataStatus::Cache(c) => c.up && c.role.as_deref() == Some("master"),
                DataStatus::Ai(_) => false,
            })
            .map(|(id, _)| format!("{} ({})", id.name, id.region))
            .collect()
    }

    /// Every alert of every source, each once, active first, by severity
    /// then team (sources in configured order).
    pub fn alert_rows(&self) -> Vec<&AlertRow> {
        let order = self
            .platform
            .alert_sources
            .iter()
            .map(|s| SourceId::new(s.region.get_ref(), SourceKind::Alerts, s.name.get_ref()));
        alert::merged(order.filter_map(|id| self.alerts.get(&id)))
    }

    /// The Alerts pane's rows: [`App::alert_rows`] through its filter
    /// (`team=ai severity=critical text`).
    pub fn visible_alerts(&self) -> Vec<&AlertRow> {
        let filter = AlertFilter::parse(self.filter(Pane::Alerts).unwrap_or(""));
        self.alert_rows()
            .into_iter()
            .filter(|a| filter.matches(a))
            .collect()
    }

    /// An alert by fingerprint.
    pub fn alert(&self, fingerprint: &str) -> Option<&AlertRow> {
        self.alert_rows()
            .into_iter()
            .find(|a| a.fingerprint == fingerprint)
    }

    /// The active silences of every source.
    pub fn silences(&self) -> impl Iterator<Item = &alert::SilenceRow> {
        self.alerts.values().flat_map(|s| s.silences.iter())
    }

    /// Whether a critical alert has not been seen yet.
    pub fn is_new(&self, a: &AlertRow) -> bool {
        a.rank() == 0 && !self.seen.contains(&a.fingerprint)
    }

    /// Firing alerts of a region by severity (critical, warning, other),
    /// once one of its alert sources has reported; `None` before.
    pub fn alert_counts(&self, region: &str) -> Option<(usize, usize, usize)> {
        let reported = self.alerts.keys().any(|id| id.region == region);
        reported
            .then(|| alert::counts(self.alert_rows().into_iter().filter(|a| a.region == region)))
    }

    /// Sends detail fetches to this fetcher.
    pub fn connect_details(&mut self, tx: mpsc::UnboundedSender<ObjectRef>) {
        self.details = Some(tx);
    }

    /// The Rollouts pane's deployments: every cluster's, in configured
    /// order, those passing the pane's filter (on name, image or colour).
    pub fn rollout_rows(&self) -> Vec<(&str, &DeploymentRow)> {
        self.platform
            .clusters
            .iter()
            .filter_map(|c| {
                let name = c.name.get_ref().as_str();
                self.clusters.get(name).map(|s| (name, s))
            })
            .flat_map(|(name, s)| {
                s.deployments
                    .iter()
                    .filter(|(k, d)| {
                        self.filter_matches(Pane::Rollouts, k)
                            || self.filter_matches(Pane::Rollouts, &d.image)
                            || d.color
                                .as_deref()
                                .is_some_and(|c| self.filter_matches(Pane::Rollouts, c))
                    })
                    .map(move |(_, d)| (name, d))
            })
            .collect()
    }

    fn say(&mut self, level: Level, text: String) {
        match level {
            Level::Info => tracing::info!("{text}"),
            Level::Warn => tracing::warn!("{text}"),
            Level::Error => tracing::error!("{text}"),
        }
        let message = Message { level, text };
        self.messages.push(message.clone());
        self.status = Some(message);
        self.dirty = true;
    }

    fn apply(&mut self, update: Update) {
        match update {
            Update::Cluster { id, change } => {
                self.clusters.entry(id.name).or_default().apply(*change);
            }
            Update::Data { id, status } => {
                self.data.insert(id, *status);
            }
            Update::Figures { region, figures } => {
                self.figures.insert(region, figures);
            }
            Update::CloudWatch { id, series } => {
                self.cloudwatch.insert(id, series);
            }
            Update::Alerts { id, snapshot } => {
                self.alerts.insert(id, snapshot);
                self.mark_seen();
            }
            Update::Detail { object, yaml } => {
                for o in &mut self.overlays {
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
            }
            Update::SourceState { id, state } => {
                if let SourceState::Error { message, .. } = &state
                    && !matches!(self.sources.get(&id), Some(SourceState::Error { .. }))
                {
                    tracing::warn!(source = %id, "{message}");
                }
                self.sources.insert(id, state);
            }
        }
        self.dirty = true;
    }

    fn apply_job(&mut self, event: JobEvent) {
        match event {
            JobEvent::Queued { id, title, at } => self.jobs.push(JobRow {
                id,
                title,
                step: None,
                outcome: None,
                queued: at,
            }),
            JobEvent::Step {
                id,
                step,
                index,
                of,
            } => {
                if let Some(job) = self.jobs.iter_mut().find(|j| j.id == id) {
                    job.step = Some((index, of, step));
                }
            }
            JobEvent::Finished { id, outcome, .. } => {
                if let Some(job) = self.jobs.iter_mut().find(|j| j.id == id) {
                    job.outcome = Some(outcome);
                }
            }
        }
        self.dirty = true;
    }

    // --- what views read -------------------------------------------------

    /// The platform being watched.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The theme in use.
    pub fn theme(&self) -> &Theme {
        self.themes.get(&self.theme).unwrap_or_else(|| {
            self.themes
                .get("default")
                .unwrap_or_else(|| unreachable!("the default theme is built in"))
        })
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

    /// Whether mutating actions are refused.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The focused pane.
    pub fn focus(&self) -> Pane {
        self.focus
    }

    /// Overlays, bottom first.
    pub fn overlays(&self) -> &[Overlay] {
        &self.overlays
    }

    /// A pane's filter.
    pub fn filter(&self, pane: Pane) -> Option<&str> {
        self.filters.get(&pane).map(String::as_str)
    }

    /// A pane's selected row.
    pub fn cursor(&self, pane: Pane) -> usize {
        self.cursors.get(&pane).copied().unwrap_or(0)
    }

    /// The cluster the Cluster pane shows.
    pub fn selected_cluster(&self) -> Option<&str> {
        self.selected_cluster.as_deref().or_else(|| {
            self.platform
                .clusters
                .first()
                .map(|c| c.name.get_ref().as_str())
        })
    }

    /// Every source and its health.
    pub fn sources(&self) -> &BTreeMap<SourceId, SourceState> {
        &self.sources
    }

    /// A source's health.
    pub fn source(&self, region: &str, kind: SourceKind, name: &str) -> &SourceState {
        self.sources
            .get(&SourceId::new(region, kind, name))
            .unwrap_or(&SourceState::NotConnected)
    }

    /// What is known of a cluster, once its source has listed it.
    pub fn cluster(&self, name: &str) -> Option<&ClusterState> {
        self.clusters.get(name)
    }

    /// Jobs of this session, oldest first.
    pub fn jobs(&self) -> &[JobRow] {
        &self.jobs
    }

    /// Jobs not yet finished.
    pub fn running_jobs(&self) -> usize {
        self.jobs.iter().filter(|j| j.outcome.is_none()).count()
    }

    /// Every message of this session, oldest first.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The message shown in the footer until the next key.
    pub fn status(&self) -> Option<&Message> {
        self.status.as_ref()
    }

    /// Keys of a chord typed so far.
    pub fn pending_keys(&self) -> &[Key] {
        &self.pending
    }

    /// The regions' clocks.
    pub fn clocks(&self) -> &[RegionClock] {
        &self.clocks
    }

    /// The current time, as of the last tick.
    pub fn now(&self) -> SystemTime {
        self.now
    }
}

/// One source per configured endpoint, none connected yet.
fn sources_of(p: &Platform) -> BTreeMap<SourceId, SourceState> {
    let ids = p
        .clusters
        .iter()
        .map(|c| (SourceKind::Cluster, &c.region, &c.name))
        .chain(
            p.databases
                .iter()
                .map(|d| (SourceKind::Database, &d.region, &d.name)),
        )
        .chain(
            p.caches
                .iter()
                .map(|c| (SourceKind::Cache, &c.region, &c.name)),
        )
        .chain(
            p.ai_services
                .iter()
                .map(|a| (SourceKind::AiService, &a.region, &a.name)),
        )
        .chain(
            p.alert_sources
                .iter()
                .map(|a| (SourceKind::Alerts, &a.region, &a.name)),
        );
    let mut all: BTreeMap<SourceId, SourceState> = ids
        .map(|(kind, region, name)| {
            (
                SourceId::new(region.get_ref(), kind, name.get_ref()),
                SourceState::NotConnected,
            )
        })
        .collect();
    for r in p.regions.iter().filter(|r| r.prometheus.is_some()) {
        all.insert(
            SourceId::new(
                r.name.get_ref(),
                SourceKind::Metrics,
                crate::sources::promql::NAME,
            ),
            SourceState::NotConnected,
        );
    }
    all
}
