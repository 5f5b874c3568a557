//! The log view: `l` on a pod streams its log, on a deployment every pod's
//! interleaved. The view keeps a bounded ring ([`LogRing`]), follows the
//! end or holds still, wraps or cuts long lines, searches (`/`, `n`, `N`,
//! matches highlighted), reopens for the previous container (`p`) or
//! another window of time (`t`: all, 10 min, 1 h), and saves what it holds
//! to a file (`s`).

use crate::model::cluster::{ClusterView, ObjectRef};
use crate::model::logs::{LogCommand, LogParams, LogRing};
use crate::model::{Key, KeyCode, Pane};

use super::App;
use super::editor::LineEditor;
use super::effect::Effect;
use super::notices::Level;
use super::overlay::{Outcome, Overlay};

/// The windows `t` cycles through, in seconds (`None`: all kept).
const SINCE: [Option<i64>; 3] = [None, Some(600), Some(3600)];

/// One log view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogView {
    /// Its streams' id.
    pub id: u64,
    /// The Pod or Deployment.
    pub object: ObjectRef,
    /// What was asked.
    pub params: LogParams,
    /// The lines.
    pub ring: LogRing,
    /// Whether the view follows the end.
    pub follow: bool,
    /// Whether long lines wrap (else they are cut at the edge).
    pub wrap: bool,
    /// The first line shown while not following.
    pub top: usize,
    /// What `/` searched for.
    pub search: Option<String>,
    /// The search being typed.
    pub editing: Option<LineEditor>,
    /// Streams that ended: the pod and why, when it failed.
    pub ended: Vec<(String, Option<String>)>,
    /// Lines the last frame had room for (the renderer says), so that
    /// holding still keeps the screen as it was.
    pub rows: std::cell::Cell<usize>,
}

/// What a key in the log view asks of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogAction {
    /// Close the view and its streams.
    Close,
    /// Save what it holds.
    Save,
    /// Stream again with these parameters.
    Reopen(LogParams),
    /// Stream the pod's next container (after the last: the default one).
    NextContainer,
    /// Copy the lines on screen (`y`) or every line kept (`Y`).
    Copy {
        /// Every line kept, not only those on screen.
        all: bool,
    },
}

impl LogView {
    fn new(id: u64, object: ObjectRef, params: LogParams) -> LogView {
        LogView {
            id,
            object,
            params,
            ring: LogRing::default(),
            follow: true,
            wrap: false,
            top: 0,
            search: None,
            editing: None,
            ended: Vec::new(),
            rows: std::cell::Cell::new(20),
        }
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: Key) -> Outcome {
        if let Some(editor) = &mut self.editing {
            match key.code {
                KeyCode::Esc => self.editing = None,
                KeyCode::Enter => {
                    let text = editor.text().trim().to_owned();
                    self.editing = None;
                    self.search = (!text.is_empty()).then_some(text);
                    self.jump(true);
                }
                _ => {
                    editor.edit(key);
                }
            }
            return Outcome::Keep;
        }
        let page = 20;
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => return Outcome::Logs(LogAction::Close),
            KeyCode::Char('f' | ' ') => {
                self.follow = !self.follow;
                self.top = self.held_top();
            }
            KeyCode::Char('w') => self.wrap = !self.wrap,
            KeyCode::Char('/') => {
                self.editing = Some(LineEditor::with_text(self.search.as_deref().unwrap_or("")));
            }
            KeyCode::Char('n') => self.jump(false),
            KeyCode::Char('N') => self.jump(true),
            KeyCode::Char('s') => return Outcome::Logs(LogAction::Save),
            KeyCode::Char('c') => return Outcome::Logs(LogAction::NextContainer),
            KeyCode::Char('y') => return Outcome::Logs(LogAction::Copy { all: false }),
            KeyCode::Char('Y') => return Outcome::Logs(LogAction::Copy { all: true }),
            KeyCode::Char('p') => {
                let params = LogParams {
                    previous: !self.params.previous,
                    follow: self.params.previous,
                    ..self.params.clone()
                };
                return Outcome::Logs(LogAction::Reopen(params));
            }
            KeyCode::Char('t') => {
                let at = SINCE
                    .iter()
                    .position(|s| *s == self.params.since_seconds)
                    .unwrap_or(0);
                let since = SINCE[(at + 1) % SINCE.len()];
                let params = LogParams {
                    since_seconds: since,
                    // A window of time is the whole window, not its tail.
                    tail_lines: Some(if since.is_some() {
                        // All of it, up to what the view keeps.
                        i64::try_from(crate::model::logs::MAX_LINES).unwrap_or(i64::MAX)
                    } else {
                        500
                    }),
                    ..self.params.clone()
                };
                return Outcome::Logs(LogAction::Reopen(params));
            }
            KeyCode::Up | KeyCode::Char('k') => self.scroll(-1),
            KeyCode::Down | KeyCode::Char('j') => self.scroll(1),
            KeyCode::PageUp => self.scroll(-page),
            KeyCode::PageDown => self.scroll(page),
            KeyCode::Home | KeyCode::Char('g') => {
                self.follow = false;
                self.top = 0;
            }
            KeyCode::End | KeyCode::Char('G') => self.follow = true,
            _ => {}
        }
        Outcome::Keep
    }

    /// The lines on screen: from the top held, or the last screenful.
    pub fn shown(&self) -> std::ops::Range<usize> {
        let top = if self.follow {
            self.held_top()
        } else {
            self.top
        };
        top..(top + self.rows.get().max(1)).min(self.ring.len())
    }

    /// The top that shows what following showed: the last screenful.
    fn held_top(&self) -> usize {
        self.ring.len().saturating_sub(self.rows.get().max(1))
    }

    fn scroll(&mut self, by: isize) {
        if self.follow {
            self.follow = false;
            self.top = self.held_top();
        }
        self.top = self
            .top
            .saturating_add_signed(by)
            .min(self.ring.len().saturating_sub(1));
    }

    /// To the next (or previous) line matching the search; holds still there.
    fn jump(&mut self, back: bool) {
        let Some(needle) = &self.search else {
            return;
        };
        let from = if self.follow {
            self.ring.len()
        } else {
            self.top
        };
        let hit = if back {
            self.ring.find(needle, from, true)
        } else {
            self.ring.find(needle, from + 1, false)
        };
        if let Some(i) = hit {
            self.follow = false;
            self.top = i;
        }
    }

    /// A line was dropped from the front: what is shown stays put.
    fn dropped(&mut self, n: u64) {
        self.top = self
            .top
            .saturating_sub(usize::try_from(n).unwrap_or(usize::MAX));
    }
}

impl App {
    /// `l`: the selected pod's log, or every pod of the selected deployment.
    pub(in crate::app) fn open_logs(&mut self) {
        let object = match self.focus {
            Pane::Cluster
                if matches!(
                    self.cluster_view(),
                    ClusterView::Pods | ClusterView::Deployments
                ) =>
            {
                self.selected_object()
            }
            Pane::Rollouts => self.selected_object(),
            _ => None,
        };
        let Some(object) = object else {
            self.say_t(Level::Info, "msg-logs-select", &[]);
            return;
        };
        self.open_view(object);
    }

    /// Opens a log view of `object` (a Pod or a Deployment) as `l` does;
    /// returns what it asks of the world.
    pub fn open_logs_for(&mut self, object: ObjectRef) -> Vec<Effect> {
        self.open_view(object);
        std::mem::take(&mut self.effects)
    }

    fn open_view(&mut self, object: ObjectRef) {
        self.dirty = true;
        self.panes.log_ids += 1;
        let view = LogView::new(self.panes.log_ids, object, LogParams::default());
        self.effects.push(Effect::Logs(LogCommand::Open {
            id: view.id,
            object: view.object.clone(),
            params: view.params.clone(),
        }));
        self.input.push(Overlay::Logs(Box::new(view)));
    }

    /// What the view's keys asked.
    pub(in crate::app) fn log_action(&mut self, action: LogAction) {
        let Some(Overlay::Logs(view)) = self.input.overlays_mut().last_mut() else {
            return;
        };
        match action {
            LogAction::Close => {
                let id = view.id;
                self.input.close();
                self.effects.push(Effect::Logs(LogCommand::Close(id)));
            }
            LogAction::Save => {
                let stem = format!(
                    "{}-{}-{}",
                    view.object.cluster,
                    view.object.name,
                    jiff::Timestamp::try_from(self.now)
                        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
                        .unwrap_or_default()
                );
                let text = view.ring.text();
                let lines = view.ring.len();
                self.effects.push(Effect::SaveLog {
                    stem: stem.clone(),
                    text,
                });
                self.say_t(
                    Level::Info,
                    "msg-logs-saving",
                    &[("lines", &lines.to_string()), ("stem", &stem)],
                );
            }
            LogAction::Copy { all } => {
                let (what, lines, text) = if all {
                    ("msg-copy-what-log-all", view.ring.len(), view.ring.text())
                } else {
                    let shown = view.shown();
                    (
                        "msg-copy-what-log-shown",
                        shown.len(),
                        view.ring.text_of(shown),
                    )
                };
                let what = self.said(what, &[("n", &lines.to_string())], &[]);
                self.copy(&what, text);
            }
            LogAction::NextContainer => self.next_container(),
            LogAction::Reopen(params) => {
                let old = view.id;
                self.panes.log_ids += 1;
                let id = self.panes.log_ids;
                let object = view.object.clone();
                **view = LogView::new(id, object.clone(), params.clone());
                self.effects.push(Effect::Logs(LogCommand::Close(old)));
                self.effects
                    .push(Effect::Logs(LogCommand::Open { id, object, params }));
            }
        }
    }

    /// `c`: the pod's next container, after the last the default one
    /// again (kubectl's `-c`); a deployment's view names no pod to choose
    /// from, and a pod of one container has no other.
    fn next_container(&mut self) {
        let Some(Overlay::Logs(view)) = self.input.overlays().last() else {
            return;
        };
        let object = view.object.clone();
        let current = view.params.clone();
        if object.kind != "Pod" {
            self.say_t(Level::Info, "msg-logs-deployment-containers", &[]);
            return;
        }
        let names = self
            .store
            .cluster(&object.cluster)
            .and_then(|s| {
                let namespace = object.namespace.as_deref().unwrap_or_default();
                s.pods.get(&format!("{namespace}/{}", object.name))
            })
            .map(|p| p.container_names.clone())
            .unwrap_or_default();
        if names.len() < 2 {
            self.say_t(
                Level::Info,
                "msg-logs-one-container",
                &[("pod", &object.name)],
            );
            return;
        }
        let next = match &current.container {
            None => Some(names[0].clone()),
            Some(c) => names
                .iter()
                .position(|n| n == c)
                .and_then(|i| names.get(i + 1))
                .cloned(),
        };
        let params = LogParams {
            container: next.clone(),
            ..current
        };
        match &next {
            Some(c) => self.say_t(
                Level::Info,
                "msg-logs-container",
                &[("pod", &object.name), ("container", c)],
            ),
            None => self.say_t(
                Level::Info,
                "msg-logs-default-container",
                &[("pod", &object.name)],
            ),
        }
        self.log_action(LogAction::Reopen(params));
    }

    /// Lines arrived for a view.
    pub(in crate::app) fn log_lines(&mut self, id: u64, pod: Option<&str>, lines: Vec<String>) {
        for o in self.input.overlays_mut() {
            if let Overlay::Logs(view) = o
                && view.id == id
            {
                let before = view.ring.dropped;
                view.ring.push(pod, lines);
                let dropped = view.ring.dropped - before;
                view.dropped(dropped);
                return;
            }
        }
    }

    /// A view's stream ended.
    pub(in crate::app) fn log_ended(&mut self, id: u64, pod: String, why: Option<String>) {
        for o in self.input.overlays_mut() {
            if let Overlay::Logs(view) = o
                && view.id == id
            {
                view.ended.push((pod, why));
                return;
            }
        }
    }
}
