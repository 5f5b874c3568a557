//! Programs the console runs for the operator: the terminal handed to
//! `kubectl exec -it` until it ends (the input reader stopped first, so
//! the two never share the keyboard), and `kubectl port-forward`s in the
//! background, each stopped when asked or when the console ends.

use std::collections::HashMap;
use std::io::{BufRead as _, Write as _};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::AsyncBufReadExt as _;
use tokio::sync::{mpsc, oneshot, watch};

use crate::app::Event;
use crate::app::forward::{HandOff, HandedBack};
use crate::model::forward::{ForwardCommand, ForwardEvent, ForwardId, forwarding_from};

/// Set while the terminal is another program's: SIGINT and SIGTSTP from
/// its keyboard are that program's business, not a reason to stop.
pub static HANDED_OFF: AtomicBool = AtomicBool::new(false);

/// How long a port-forward has to end after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The input reader's switch: paused, it drops its reader (crossterm's
/// thread stops polling the terminal) and says so. Each pause is numbered
/// and the reader acknowledges the number it let go for: a pause right
/// after a resume waits for the reader to let go again, never for an
/// acknowledgement left from the pause before.
#[derive(Debug, Clone)]
pub struct InputSwitch {
    /// `(true, n)` asks the reader to let go of the terminal for pause `n`.
    pub(super) paused: Arc<watch::Sender<(bool, u64)>>,
    /// The last pause the reader has let go for.
    pub(super) idle: watch::Receiver<u64>,
    /// The last pause asked.
    pauses: u64,
}

impl InputSwitch {
    /// A switch, and the reader's side of it.
    pub(super) fn new() -> (
        InputSwitch,
        watch::Receiver<(bool, u64)>,
        watch::Sender<u64>,
    ) {
        let (paused, paused_rx) = watch::channel((false, 0));
        let (idle_tx, idle) = watch::channel(0);
        (
            InputSwitch {
                paused: Arc::new(paused),
                idle,
                pauses: 0,
            },
            paused_rx,
            idle_tx,
        )
    }

    /// Stops the reader; returns once it has let go (a second at most).
    fn pause(&mut self) {
        self.pauses += 1;
        let n = self.pauses;
        self.paused.send_replace((true, n));
        let mut idle = self.idle.clone();
        let waited = tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(tokio::time::timeout(
                Duration::from_secs(1),
                idle.wait_for(|acked| *acked >= n),
            ))
        });
        if waited.is_err() {
            tracing::warn!("the input reader did not stop within a second");
        }
    }

    /// Starts the reader again.
    fn resume(&self) {
        self.paused.send_replace((false, self.pauses));
    }
}

/// Hands the terminal (already released) to `hand.argv` and waits for it
/// to end. A failure is left on the screen until Enter, so kubectl's own
/// message can be read before the console redraws over it.
pub fn hand_off(input: &mut InputSwitch, hand: &HandOff) -> HandedBack {
    // The reader lets go of the keyboard before the screen is given back.
    input.pause();
    super::guard::release();
    HANDED_OFF.store(true, Ordering::SeqCst);
    let result = tokio::task::block_in_place(|| run(hand));
    HANDED_OFF.store(false, Ordering::SeqCst);
    input.resume();
    result
}

fn run(hand: &HandOff) -> HandedBack {
    let (program, args) = hand
        .argv
        .split_first()
        .ok_or_else(|| "nothing to run".to_owned())?;
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "touban: {} ({})",
        hand.what,
        crate::config::secret::mask_line(&hand.argv.join(" "))
    );
    // What kubectl leaves (raw mode, when killed) is undone before the
    // console takes the terminal back, so that it is not what the console
    // restores at its exit.
    let modes = rustix::termios::tcgetattr(std::io::stdin()).ok();
    let result = match std::process::Command::new(program).args(args).spawn() {
        Ok(child) => wait_through_stops(program, child.id()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "cannot run `{program}`: not found; install kubectl or set settings.kubectl to its path"
        )),
        Err(e) => Err(format!("cannot run `{program}`: {e}")),
    };
    if let Some(modes) = &modes {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            modes,
        );
    }
    if !matches!(result, Ok(Some(0))) {
        let said = match &result {
            Ok(Some(code)) => format!("{program} exited with status {code}"),
            Ok(None) => format!("{program} was killed by a signal"),
            Err(why) => why.clone(),
        };
        let _ = write!(
            out,
            "\r\ntouban: {said}. Press Enter to return to the console. "
        );
        let _ = out.flush();
        let _ = std::io::stdin().lock().read_line(&mut String::new());
    }
    result
}

/// Waits for the program to end. Stopped (Ctrl-Z while it reads the
/// keyboard in cooked mode: the console ignores SIGTSTP, its child does
/// not), it is continued at once: no job control waits for it here, and
/// a stopped child would leave the console waiting for ever.
fn wait_through_stops(program: &str, pid: u32) -> HandedBack {
    use rustix::process::{Pid, Signal, WaitOptions, kill_process, waitpid};
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| format!("`{program}` started without a process id"))?;
    loop {
        match waitpid(Some(pid), WaitOptions::UNTRACED) {
            Ok(Some((_, status))) if status.stopped() => {
                let _ = kill_process(pid, Signal::CONT);
            }
            Ok(Some((_, status))) => return Ok(status.exit_status()),
            Ok(None) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("cannot wait for `{program}`: {e}")),
        }
    }
}

/// The port-forwards this console runs. Dropped (the console ends), the
/// runner ends and every forward still running hears its stop (SIGTERM);
/// a runtime shut down drops them, and `kill_on_drop` kills kubectl.
#[derive(Debug)]
pub struct Forwards {
    commands: mpsc::UnboundedSender<ForwardCommand>,
}

impl Forwards {
    /// Starts the runner; what each forward does goes to `events`.
    pub fn spawn(events: mpsc::Sender<Event>) -> Forwards {
        let (commands, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut stops: HashMap<ForwardId, oneshot::Sender<()>> = HashMap::new();
            while let Some(command) = rx.recv().await {
                match command {
                    ForwardCommand::Start { id, argv } => {
                        let (stop, stopped) = oneshot::channel();
                        stops.retain(|_, s: &mut oneshot::Sender<()>| !s.is_closed());
                        stops.insert(id, stop);
                        tokio::spawn(forward(id, argv, stopped, events.clone()));
                    }
                    ForwardCommand::Stop(id) => {
                        if let Some(stop) = stops.remove(&id) {
                            let _ = stop.send(());
                        }
                    }
                }
            }
        });
        Forwards { commands }
    }

    /// Asks the runner; `false` if it has stopped.
    pub fn send(&self, command: ForwardCommand) -> bool {
        self.commands.send(command).is_ok()
    }
}

fn terminate(pid: u32) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}

/// Runs one port-forward until it ends or `stop` fires.
async fn forward(
    id: ForwardId,
    argv: Vec<String>,
    stop: oneshot::Receiver<()>,
    events: mpsc::Sender<Event>,
) {
    let why = run_forward(id, &argv, stop, &events).await;
    tracing::info!(
        forward = id.0,
        why = why.as_deref().unwrap_or("stopped"),
        "port-forward ended"
    );
    let _ = events
        .send(Event::Forward(ForwardEvent::Ended { id, why }))
        .await;
}

/// Whether `program` can be run: a path to a file, or a name found in a
/// directory of `PATH`.
fn on_path(program: &str) -> bool {
    if program.contains('/') {
        return std::path::Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The forward's life; returns why it ended (`None`: stopped).
async fn run_forward(
    id: ForwardId,
    argv: &[String],
    mut stop: oneshot::Receiver<()>,
    events: &mpsc::Sender<Event>,
) -> Option<String> {
    let (program, rest) = argv.split_first()?;
    tracing::info!(
        forward = id.0,
        command = crate::config::secret::mask_line(&argv.join(" ")),
        "starting a port-forward"
    );
    // Under `setpriv --pdeathsig TERM` where util-linux has it: the
    // kernel ends the forward when touban dies, even killed outright
    // (SIGKILL, the OOM killer), which `kill_on_drop` cannot see to.
    let found = on_path(program);
    if !found {
        return Some(format!(
            "cannot run `{program}`: not found; install kubectl or set settings.kubectl to its path"
        ));
    }
    let mut command = if on_path("setpriv") {
        let mut c = tokio::process::Command::new("setpriv");
        c.args(["--pdeathsig", "TERM", "--", program]);
        c
    } else {
        tokio::process::Command::new(program)
    };
    let mut child = match command
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C meant for a shell handed the
        // terminal does not reach it.
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(format!(
                "cannot run `{program}`: not found; install kubectl or set settings.kubectl to its path"
            ));
        }
        Err(e) => return Some(format!("cannot run `{program}`: {e}")),
    };
    let mut stdout = child
        .stdout
        .take()
        .map(|o| tokio::io::BufReader::new(o).lines());
    let mut stderr = child
        .stderr
        .take()
        .map(|e| tokio::io::BufReader::new(e).lines());
    let mut listening = false;
    let mut last_error = None;
    loop {
        tokio::select! {
            line = next_line(&mut stdout) => match line {
                Some(line) => if let (false, Some(local)) = (listening, forwarding_from(&line)) {
                    listening = true;
                    let local = local.to_owned();
                    let _ = events.send(Event::Forward(ForwardEvent::Listening { id, local })).await;
                },
                None => stdout = None,
            },
            line = next_line(&mut stderr) => match line {
                Some(line) if !line.trim().is_empty() => {
                    last_error = Some(crate::config::secret::mask_line(line.trim()));
                }
                Some(_) => {}
                None => stderr = None,
            },
            status = child.wait() => {
                let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                // Its last words may still be in the pipe: read them.
                let drain = async {
                    while let Some(line) = next_line(&mut stderr).await {
                        if !line.trim().is_empty() {
                            last_error = Some(crate::config::secret::mask_line(line.trim()));
                        }
                    }
                };
                let _ = tokio::time::timeout(Duration::from_millis(200), drain).await;
                return Some(last_error.unwrap_or_else(|| format!("kubectl ended ({status})")));
            }
            _ = &mut stop => {
                if let Some(pid) = child.id() {
                    terminate(pid);
                }
                if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_err() {
                    let _ = child.kill().await;
                }
                return None;
            }
        }
    }
}

/// The next line of a child's output, or never once it has closed.
async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut Option<tokio::io::Lines<R>>,
) -> Option<String> {
    match lines {
        Some(l) => l.next_line().await.ok().flatten(),
        None => std::future::pending().await,
    }
}
