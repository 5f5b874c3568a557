//! The terminal's doors out of the console: `x` hands the terminal to
//! `kubectl exec -it` in the selected pod (the console steps aside and
//! comes back, as k9s does), and `F` runs `kubectl port-forward` to it in
//! the background, listed in the Jobs pane with its local address until it
//! ends or is stopped there. Both refuse in read-only mode: a shell in a
//! pod, or a port into it, can change anything.

use std::time::SystemTime;

use super::notices::Level;
use super::{App, Effect, Pane, TerminalRequest};
use crate::model::action::Target;
use crate::model::forward::{self, ForwardCommand, ForwardEvent, ForwardId};

/// The terminal handed to a program until it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandOff {
    /// What it is, for the status line (`shell in eks-tokyo pod/api-7f9`).
    pub what: String,
    /// The program and its arguments.
    pub argv: Vec<String>,
}

/// How a hand-off ended: the program's exit status (`None`: killed by a
/// signal), or why it could not run.
pub type HandedBack = Result<Option<i32>, String>;

/// How a port-forward stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardState {
    /// kubectl started; not listening yet.
    Starting,
    /// Listening on this local address.
    Listening(String),
    /// Stopped by the operator.
    Stopped,
    /// Ended by itself, and why (kubectl's last error line).
    Ended(String),
}

/// A port-forward as the Jobs pane lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardRow {
    /// Its id (`pf1`).
    pub id: ForwardId,
    /// The pod.
    pub pod: Target,
    /// The pod's port.
    pub remote: u16,
    /// How it stands.
    pub state: ForwardState,
    /// When it was asked for.
    pub started: SystemTime,
}

impl ForwardRow {
    /// What it forwards, for the Jobs pane: `port-forward eks-tokyo
    /// pod/api-7f9 :8080`.
    pub fn title(&self) -> String {
        format!(
            "port-forward {} pod/{} :{}",
            self.pod.cluster, self.pod.name, self.remote
        )
    }

    /// Whether kubectl still runs.
    pub fn is_live(&self) -> bool {
        matches!(
            self.state,
            ForwardState::Starting | ForwardState::Listening(_)
        )
    }
}

impl App {
    /// `kubectl [--kubeconfig K] --context C`, for the cluster `name`.
    fn kubectl_for(&self, name: &str) -> Option<Vec<String>> {
        let cluster = self
            .platform
            .clusters
            .iter()
            .find(|c| c.name.get_ref() == name)?;
        let mut argv = vec![self.platform.settings.kubectl.clone()];
        if let Some(path) = &cluster.kubeconfig {
            argv.push("--kubeconfig".to_owned());
            argv.push(path.display().to_string());
        }
        argv.push("--context".to_owned());
        argv.push(cluster.context.clone());
        Some(argv)
    }

    /// The pod `x` or `F` acts on, or why there is none (said).
    fn pod_for(&mut self, what: &str) -> Option<Target> {
        let pod = match self.selected_pod() {
            Ok(pod) => pod,
            Err(why) => {
                let said = self.said("msg-forward-no-pod", &[("what", what)], &[("why", &why)]);
                self.say_said(Level::Info, said);
                return None;
            }
        };
        if let Some(by) =
            crate::config::read_only_for(self.read_only_flag, &self.platform, Some(&pod.cluster))
        {
            self.say_t(
                Level::Error,
                "msg-forward-read-only",
                &[
                    ("what", what),
                    ("pod", &pod.name),
                    ("cluster", &pod.cluster),
                    ("by", &by.to_string()),
                ],
            );
            return None;
        }
        Some(pod)
    }

    /// `x`: the terminal to `kubectl exec -it` in the selected pod, its
    /// default container, running the first shell it has.
    pub(in crate::app) fn shell(&mut self) {
        let Some(pod) = self.pod_for("shell") else {
            return;
        };
        let Some(mut argv) = self.kubectl_for(&pod.cluster) else {
            return;
        };
        argv.extend(
            [
                "exec",
                "-it",
                "-n",
                &pod.namespace,
                &pod.name,
                "--",
                "sh",
                "-c",
                "command -v bash >/dev/null 2>&1 && exec bash || exec sh",
            ]
            .map(str::to_owned),
        );
        let what = format!("shell in {} pod/{}", pod.cluster, pod.name);
        tracing::info!(
            command = crate::config::secret::mask_line(&argv.join(" ")),
            "handing the terminal over"
        );
        self.terminal = Some(TerminalRequest::HandOff(HandOff { what, argv }));
    }

    /// The terminal is back from a hand-off.
    pub(in crate::app) fn handed_back(&mut self, what: &str, result: &HandedBack) {
        self.dirty = true;
        match result {
            Ok(Some(0)) => self.say_t(Level::Info, "msg-handoff-ended", &[("what", what)]),
            Ok(Some(code)) => self.say_t(
                Level::Warn,
                "msg-handoff-exit-status",
                &[("what", what), ("code", &code.to_string())],
            ),
            Ok(None) => self.say_t(Level::Warn, "msg-handoff-killed", &[("what", what)]),
            Err(why) => self.say_t(
                Level::Error,
                "msg-handoff-failed",
                &[("what", what), ("why", why)],
            ),
        }
    }

    /// `F` / `:port-forward [LOCAL:]PORT`: with no port, the command line
    /// asks, offering the pod's first declared port.
    pub(in crate::app) fn port_forward(&mut self, arg: &str) {
        let Some(pod) = self.pod_for("port-forward") else {
            return;
        };
        if arg.trim().is_empty() {
            let declared = self
                .store
                .cluster(&pod.cluster)
                .and_then(|s| s.pods.get(&format!("{}/{}", pod.namespace, pod.name)))
                .and_then(|p| p.ports.first().copied());
            let text = declared.map_or_else(
                || "port-forward ".to_owned(),
                |p| format!("port-forward {p}"),
            );
            self.open_command_line(&text);
            if declared.is_none() {
                self.say_t(Level::Info, "msg-forward-no-port", &[("pod", &pod.name)]);
            }
            return;
        }
        let (local, remote) = match forward::parse_ports(arg) {
            Ok(ports) => ports,
            Err(why) => {
                self.say_t(
                    Level::Error,
                    "msg-command-why",
                    &[("command", &format!("port-forward {arg}")), ("why", &why)],
                );
                return;
            }
        };
        let Some(mut argv) = self.kubectl_for(&pod.cluster) else {
            return;
        };
        argv.extend([
            "port-forward".to_owned(),
            "--address".to_owned(),
            "127.0.0.1".to_owned(),
            "-n".to_owned(),
            pod.namespace.clone(),
            format!("pod/{}", pod.name),
            format!(
                "{}:{remote}",
                local.map(|l| l.to_string()).unwrap_or_default()
            ),
        ]);
        self.forwards.last += 1;
        let id = ForwardId(self.forwards.last);
        let row = ForwardRow {
            id,
            pod,
            remote,
            state: ForwardState::Starting,
            started: self.now,
        };
        self.say_t(
            Level::Info,
            "msg-forward-starting",
            &[("id", &id.0.to_string()), ("title", &row.title())],
        );
        self.forwards.rows.push(row);
        self.effects
            .push(Effect::Forward(ForwardCommand::Start { id, argv }));
        self.dirty = true;
    }

    /// What the port-forward runner says.
    pub(in crate::app) fn forward_event(&mut self, event: ForwardEvent) {
        self.dirty = true;
        let (id, state) = match event {
            ForwardEvent::Listening { id, local } => (id, ForwardState::Listening(local)),
            ForwardEvent::Ended { id, why: None } => (id, ForwardState::Stopped),
            ForwardEvent::Ended { id, why: Some(why) } => (id, ForwardState::Ended(why)),
        };
        let Some(row) = self.forwards.rows.iter_mut().find(|r| r.id == id) else {
            return;
        };
        let number = id.0.to_string();
        let message = match &state {
            ForwardState::Listening(local) => Some((
                Level::Info,
                "msg-forward-listening",
                vec![
                    ("id", number),
                    ("local", local.clone()),
                    ("pod", row.pod.name.clone()),
                    ("port", row.remote.to_string()),
                ],
            )),
            ForwardState::Ended(why) => Some((
                Level::Warn,
                "msg-forward-ended",
                vec![("id", number), ("title", row.title()), ("why", why.clone())],
            )),
            ForwardState::Starting | ForwardState::Stopped => None,
        };
        row.state = state;
        if let Some((level, message, args)) = message {
            let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
            self.say_t(level, message, &args);
        }
    }

    /// `c` on a port-forward in the Jobs pane: stop it; on an ended one,
    /// forget it.
    pub(in crate::app) fn stop_forward(&mut self, index: usize) {
        let Some(row) = self.forwards.rows.get(index) else {
            return;
        };
        let id = row.id;
        if row.is_live() {
            self.effects.push(Effect::Forward(ForwardCommand::Stop(id)));
            let title = row.title();
            self.say_t(
                Level::Info,
                "msg-forward-stopping",
                &[("id", &id.0.to_string()), ("title", &title)],
            );
        } else {
            self.forwards.rows.remove(index);
            self.say_t(
                Level::Info,
                "msg-forward-forgotten",
                &[("id", &id.0.to_string())],
            );
        }
        self.dirty = true;
    }

    /// The port-forwards of this session, oldest first.
    pub fn forwards(&self) -> &[ForwardRow] {
        &self.forwards.rows
    }

    /// The Jobs pane's port-forwards: those passing its filter.
    pub fn visible_forwards(&self) -> Vec<&ForwardRow> {
        self.forwards
            .rows
            .iter()
            .filter(|f| {
                self.filter(Pane::Jobs)
                    .is_none_or(|q| f.title().contains(q))
            })
            .collect()
    }
}

/// The port-forwards of the session.
#[derive(Debug, Default)]
pub struct Forwards {
    rows: Vec<ForwardRow>,
    last: u64,
}
