//! Running Terraform or OpenTofu: `plan -json -out=FILE` and
//! `apply -json FILE`, the machine-readable UI read line by line as it
//! arrives (see `model::infra`). The tool runs in its own process group,
//! so the terminal's Ctrl-C reaches touban alone, which sends the tool
//! exactly one interrupt and waits: a second one can leave the state
//! locked or half-written.
//!
//! Plan files hold secrets (variables, provider data): each is written in
//! a 0700 directory, made 0600, and only its SHA-256 goes to the audit log.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncBufReadExt as _, BufReader};

use serde::{Deserialize, Serialize};

use crate::config::secret::mask_line;
use crate::model::infra::{Action, Message, PlanSummary, parse_line};

/// What a saved plan is, beside its file (`NAME.json`): never the plan's
/// content, only its hash and what it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Saved {
    /// The plan file's SHA-256.
    pub sha256: String,
    /// `1 to add, 0 to change, 1 to destroy`.
    pub totals: String,
    /// Each resource's address and planned action (its word).
    pub changes: Vec<(String, String)>,
    /// The resources destroyed or replaced.
    pub destroying: Vec<String>,
    /// The name must be typed: something is destroyed or replaced, or the
    /// plan says it removes more than its changes name (an action of a
    /// newer UI version read as unknown).
    #[serde(default)]
    pub typed: bool,
}

/// The record kept beside a plan file.
pub fn sidecar(plan: &Path) -> PathBuf {
    plan.with_extension("json")
}

/// The saved plan at `plan`, if both it and its record are there.
pub fn saved(plan: &Path) -> Option<Saved> {
    if !plan.is_file() {
        return None;
    }
    std::fs::read(sidecar(plan))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// Keeps a plan that succeeded: its hash and what it changes beside it,
/// the file made 0600; or what failed (the plan is then removed).
pub fn keep(plan: &Path, summary: &PlanSummary, binary: &str) -> Result<Saved, String> {
    let sha256 = plan_hash(plan)
        .map_err(|e| format!("{binary} wrote no plan file at {} ({e})", plan.display()))?;
    let destroying: Vec<String> = summary
        .destroying()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let typed = !destroying.is_empty()
        || summary.counts.as_ref().is_some_and(|c| c.remove > 0)
        || summary.changes.iter().any(|(_, a, _)| *a == Action::Other);
    let saved = Saved {
        sha256,
        totals: summary.totals(),
        changes: summary
            .changes
            .iter()
            .map(|(addr, action, _)| (addr.clone(), action.word().to_owned()))
            .collect(),
        destroying,
        typed,
    };
    if let Err(e) = std::fs::write(
        sidecar(plan),
        serde_json::to_vec(&saved).unwrap_or_default(),
    ) {
        let _ = std::fs::remove_file(plan);
        return Err(format!(
            "cannot keep what the plan changes beside it ({}: {e}): the plan cannot be applied",
            sidecar(plan).display()
        ));
    }
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(plan, std::fs::Permissions::from_mode(0o600));
    }
    Ok(saved)
}

/// The arguments of a plan saved to `plan`.
pub fn plan_args(plan: &Path) -> Vec<String> {
    let out = format!("-out={}", plan.display());
    ["plan", "-json", "-input=false", "-lock-timeout=60s", &out]
        .map(str::to_owned)
        .to_vec()
}

/// The arguments of applying the saved `plan`.
pub fn apply_args(plan: &Path) -> Vec<String> {
    vec![
        "apply".to_owned(),
        "-json".to_owned(),
        "-input=false".to_owned(),
        "-lock-timeout=60s".to_owned(),
        plan.display().to_string(),
    ]
}

/// Whether an action word (as saved) destroys.
pub fn destroys(word: &str) -> bool {
    [Action::Delete, Action::Replace]
        .iter()
        .any(|a| a.word() == word)
}

/// How a run ended.
#[derive(Debug, Clone, Default)]
pub struct Ran {
    /// Everything the stream said.
    pub summary: PlanSummary,
    /// The exit code (`None`: ended by a signal).
    pub code: Option<i32>,
    /// The operator interrupted it (once).
    pub interrupted: bool,
    /// The last lines of its stderr (masked).
    pub stderr: Vec<String>,
}

impl Ran {
    /// Whether it succeeded: exit 0 and no error said.
    pub fn ok(&self) -> bool {
        self.code == Some(0) && !self.summary.failed() && !self.interrupted
    }

    /// Why it failed, in the tool's words: its error diagnostics, else its
    /// stderr, else its exit status.
    pub fn why(&self) -> String {
        let errors: Vec<String> = self
            .summary
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(crate::model::infra::Diagnostic::line)
            .collect();
        if !errors.is_empty() {
            return errors.join("; ");
        }
        if self.interrupted {
            return "interrupted".into();
        }
        if let Some(last) = self.stderr.last() {
            return last.clone();
        }
        match self.code {
            Some(c) => format!("exit status {c}"),
            None => "ended by a signal".into(),
        }
    }
}

/// Where the plans of `name` are kept: `STATE/plans/NAME.tfplan`.
pub fn plan_file(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join("plans").join(format!("{name}.tfplan"))
}

/// Makes the plans directory (0700) and an empty plan file (0600) for the
/// tool to write into.
pub fn prepare_plan_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

/// The plan file's SHA-256, hex: what the audit log records of it.
pub fn plan_hash(path: &Path) -> std::io::Result<String> {
    use std::fmt::Write as _;
    let bytes = std::fs::read(path)?;
    let digest = Sha256::digest(&bytes);
    Ok(digest.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// Resolves on the first Ctrl-C, SIGTERM or SIGHUP (a pipeline cancelled,
/// a terminal closed): each is passed on to the tool as its one interrupt.
pub async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
}

/// Runs `binary args` in `dir`, each message of its stream given to
/// `each` as it arrives; the first `interrupt` sends it SIGINT once.
pub async fn run(
    binary: &str,
    dir: &Path,
    args: &[String],
    mut each: impl FnMut(&Message),
    interrupt: impl std::future::Future<Output = ()>,
) -> Result<Ran, String> {
    let mut child = tokio::process::Command::new(binary)
        .args(args)
        .current_dir(dir)
        .env("TF_IN_AUTOMATION", "1")
        .env("TF_INPUT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run `{binary}` in {} ({e}): is it installed and on PATH ([[infrastructure]] binary)?",
                dir.display()
            )
        })?;
    let pid = child.id();
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("`{binary}` started without its output pipes"));
    };
    let errors = tokio::spawn(async move {
        let mut tail: Vec<String> = Vec::new();
        let mut reader = BufReader::new(stderr);
        let mut bytes = Vec::new();
        while reader
            .read_until(b'\n', &mut bytes)
            .await
            .is_ok_and(|n| n > 0)
        {
            let line = String::from_utf8_lossy(&bytes).trim_end().to_owned();
            bytes.clear();
            if !line.trim().is_empty() {
                tail.push(mask_line(&line));
                if tail.len() > 20 {
                    tail.remove(0);
                }
            }
        }
        tail
    });
    let mut ran = Ran::default();
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    tokio::pin!(interrupt);
    let mut interrupted = false;
    loop {
        line.clear();
        tokio::select! {
            read = reader.read_until(b'\n', &mut line) => match read {
                // Bytes that are not UTF-8 (a provider's crash) are read
                // as they come: the pipe is drained until the tool ends.
                Ok(n) if n > 0 => {
                    let text = String::from_utf8_lossy(&line);
                    let message = parse_line(text.trim_end_matches(['\n', '\r']));
                    ran.summary.take(&message);
                    each(&message);
                }
                Ok(_) | Err(_) => break,
            },
            () = &mut interrupt, if !interrupted => {
                interrupted = true;
                if let Some(pid) = pid
                    .and_then(|p| i32::try_from(p).ok())
                    .and_then(rustix::process::Pid::from_raw)
                {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
                }
            }
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("cannot wait for `{binary}`: {e}"))?;
    ran.code = status.code();
    ran.interrupted = interrupted;
    ran.stderr = errors.await.unwrap_or_default();
    Ok(ran)
}
