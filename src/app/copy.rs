//! Copying to the operator's clipboard: `y` the selected row's name, `Y`
//! the selected object's YAML (fetched whole, as the detail view fetches
//! it) or an alert's labels; inside the detail or alert view, what it
//! shows. The app asks for [`Effect::Copy`]; the terminal side writes it as
//! an OSC 52 sequence, which reaches the clipboard of the terminal the
//! operator sits at through SSH and tmux (`set -s set-clipboard on`).

use crate::model::Pane;
use crate::model::cluster::{ClusterView, ObjectRef};

use super::App;
use super::effect::Effect;
use super::notices::{Level, Said};
use super::overlay::Overlay;

/// The most text one copy writes. Terminals drop longer OSC 52 sequences
/// (hterm at 100,000 bytes of base64, some at less): 64 KiB of text is
/// about 87,000.
pub const COPY_MAX: usize = 64 * 1024;

impl App {
    /// `y`: the focused pane's selected row's name, or what the open
    /// detail or alert view shows.
    pub(in crate::app) fn copy_name(&mut self) {
        let Some((what, name)) = self.selected_name() else {
            let pane = self.pane_said(self.focus);
            let said = self.said("msg-copy-nothing-selected", &[], &[("pane", &pane)]);
            self.say_said(Level::Info, said);
            return;
        };
        self.copy(&what, name);
    }

    /// `Y`: the selected Kubernetes object's YAML (fetched first), or the
    /// selected alert's labels; the name where there is no YAML.
    pub(in crate::app) fn copy_yaml(&mut self) {
        if self.focus == Pane::Alerts {
            let labels = self
                .visible_alerts()
                .get(self.cursor(Pane::Alerts))
                .map(|a| (a.name.clone(), labels_text(&a.labels)));
            match labels {
                Some((name, text)) => {
                    let what = self.said("msg-copy-what-alert-labels", &[("alert", &name)], &[]);
                    self.copy(&what, text);
                }
                None => self.say_t(Level::Info, "msg-copy-no-alert", &[]),
            }
            return;
        }
        let Some(object) = self.selected_object() else {
            let pane = self.pane_said(self.focus);
            let key = self
                .key_hint(&crate::model::Command::Copy)
                .unwrap_or_else(|| ":copy".into());
            let said = self.said("msg-copy-no-yaml", &[("key", &key)], &[("pane", &pane)]);
            self.say_said(Level::Info, said);
            return;
        };
        self.panes.copy_pending = Some(object.clone());
        self.say_t(
            Level::Info,
            "msg-copy-fetching",
            &[("kind", object.kind), ("name", &object.name)],
        );
        self.effects.push(Effect::FetchDetail(object));
    }

    /// `y` / `Y` inside the detail or alert view: what it shows.
    pub(in crate::app) fn copy_shown(&mut self) {
        let shown = match self.input.overlays().last() {
            Some(Overlay::Detail {
                object,
                text: Some(Ok(yaml)),
                ..
            }) => Some((
                self.said(
                    "msg-copy-what-yaml",
                    &[("kind", object.kind), ("name", &object.name)],
                    &[],
                ),
                yaml.clone(),
            )),
            Some(Overlay::Alert { fingerprint, .. }) => self
                .store
                .alert_rows()
                .into_iter()
                .find(|a| &a.fingerprint == fingerprint)
                .map(|a| {
                    (
                        self.said("msg-copy-what-alert-labels", &[("alert", &a.name)], &[]),
                        labels_text(&a.labels),
                    )
                }),
            _ => None,
        };
        match shown {
            Some((what, text)) => self.copy(&what, text),
            None => self.say_t(Level::Info, "msg-copy-nothing-here", &[]),
        }
    }

    /// A fetched object arrived: copied, if a copy waited for it.
    pub(in crate::app) fn copy_arrived(
        &mut self,
        object: &ObjectRef,
        yaml: &Result<String, String>,
    ) {
        if self.panes.copy_pending.as_ref() != Some(object) {
            return;
        }
        self.panes.copy_pending = None;
        match yaml {
            Ok(text) => {
                let what = self.said(
                    "msg-copy-what-yaml",
                    &[("kind", object.kind), ("name", &object.name)],
                    &[],
                );
                self.copy(&what, text.clone());
            }
            Err(e) => self.say_t(
                Level::Error,
                "msg-copy-failed",
                &[("kind", object.kind), ("name", &object.name), ("why", e)],
            ),
        }
    }

    /// Copies `text`, `what` it is (said in the message).
    pub(in crate::app) fn copy(&mut self, what: &Said, text: String) {
        let bytes = text.len().to_string();
        if text.len() > COPY_MAX {
            let said = self.said(
                "msg-copy-too-long",
                &[("bytes", &bytes), ("max", &COPY_MAX.to_string())],
                &[("what", what)],
            );
            self.say_said(Level::Warn, said);
            return;
        }
        let said = self.said("msg-copy-copied", &[("bytes", &bytes)], &[("what", what)]);
        self.say_said(Level::Info, said);
        self.effects.push(Effect::Copy(text));
    }

    /// What `y` copies in the focused pane: what it is, and its name.
    fn selected_name(&self) -> Option<(Said, String)> {
        let cursor = self.cursor(self.focus);
        let name_of = |kind: &str| self.said("msg-copy-what-name", &[("kind", kind)], &[]);
        match self.focus {
            Pane::Overview => self
                .platform
                .clusters
                .get(cursor)
                .map(|c| (name_of("cluster"), c.name.get_ref().clone())),
            Pane::Cluster | Pane::Rollouts => self
                .selected_object()
                .map(|o| (name_of(o.kind.to_lowercase().as_str()), o.name)),
            Pane::Alerts => self
                .visible_alerts()
                .get(cursor)
                .map(|a| (name_of("alert"), a.name.clone())),
            Pane::Data | Pane::Ai | Pane::Failover | Pane::Scaling => self
                .selected_source(self.focus)
                .map(|id| (name_of(id.kind.label()), id.name)),
            Pane::Jobs => self.visible_jobs().get(cursor).map(|j| {
                (
                    self.said("msg-copy-what-job-title", &[], &[]),
                    j.title.clone(),
                )
            }),
        }
    }

    /// The Kubernetes object the Cluster or Rollouts pane's selection is on.
    pub(in crate::app) fn selected_object(&self) -> Option<ObjectRef> {
        match self.focus {
            Pane::Cluster => {
                let name = self.selected_cluster()?;
                let cursor = self.cursor(Pane::Cluster);
                let window = self.cluster_window(self.store.cluster(name)?, cursor, 1);
                let key = window.keys.first()?;
                let kind = match self.cluster_view() {
                    ClusterView::Pods => "Pod",
                    ClusterView::Deployments => "Deployment",
                    ClusterView::Nodes => "Node",
                    ClusterView::Events => "Event",
                };
                Some(ObjectRef::from_key(name, kind, key))
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
        }
    }
}

/// An alert's labels as YAML: `key: "value"` lines, sorted.
fn labels_text(labels: &[(String, String)]) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    for (k, v) in labels {
        let quoted = serde_json::to_string(v).unwrap_or_else(|_| v.clone());
        let _ = writeln!(text, "{k}: {quoted}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::labels_text;

    #[test]
    fn labels_are_yaml_with_every_value_quoted() {
        let text = labels_text(&[
            ("alertname".into(), "ServiceDown".into()),
            ("summary".into(), "a: \"b\"".into()),
        ]);
        assert_eq!(
            text,
            "alertname: \"ServiceDown\"\nsummary: \"a: \\\"b\\\"\"\n"
        );
        let parsed: std::collections::BTreeMap<String, String> =
            serde_yaml_ng::from_str(&text).expect("YAML");
        assert_eq!(parsed["summary"], "a: \"b\"");
    }
}
