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
                self.say(Level::Info, format!("{what}: {why}"));
                return None;
            }
        };
        if let Some(by) =
            crate::config::read_only_for(self.read_only_flag, &self.platform, Some(&pod.cluster))
        {
            self.say(
                Level::Error,
                format!(
                    "refused: {what} in pod/{}: touban is read-only for {} ({by} says so), and a {what} can change anything in the pod",
                    pod.name, pod.cluster
                ),
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
            Ok(Some(0)) => self.say(Level::Info, format!("{what} ended; the console is back")),
            Ok(Some(code)) => self.say(
                Level::Warn,
                format!("{what}: kubectl exited with status {code} (its message was on the screen before the console came back)"),
            ),
            Ok(None) => self.say(Level::Warn, format!("{what}: kubectl was killed by a signal")),
            Err(why) => self.say(Level::Error, format!("{what}: {why}")),
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
                self.say(
                    Level::Info,
                    format!(
                        "pod/{} declares no container port: type the pod's port, or LOCAL:PORT",
                        pod.name
                    ),
                );
            }
            return;
        }
        let (local, remote) = match forward::parse_ports(arg) {
            Ok(ports) => ports,
            Err(why) => {
                self.say(Level::Error, format!("`port-forward {arg}`: {why}"));
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
        self.say(
            Level::Info,
            format!(
                "pf{}: {} starting (the Jobs pane lists it)",
                id.0,
                row.title()
            ),
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
        let message = match &state {
            ForwardState::Listening(local) => Some((
                Level::Info,
                format!("pf{}: {local} → pod/{}:{}", id.0, row.pod.name, row.remote),
            )),
            ForwardState::Ended(why) => Some((
                Level::Warn,
                format!("pf{}: {} ended: {why}", id.0, row.title()),
            )),
            ForwardState::Starting | ForwardState::Stopped => None,
        };
        row.state = state;
        if let Some((level, text)) = message {
            self.say(level, text);
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
            self.say(Level::Info, format!("pf{}: stopping {}", id.0, row.title()));
        } else {
            self.forwards.rows.remove(index);
            self.say(Level::Info, format!("pf{}: forgotten", id.0));
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
