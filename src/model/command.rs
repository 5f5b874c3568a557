//! The typed commands between keys and behaviour. Keymaps bind keys to
//! commands by name, the command line (`:`) parses the same names, and help
//! is generated from [`COMMANDS`]. Names, hints, arguments and help text are
//! derived once from the enum (strum): a new command is one variant with its
//! doc comment and attributes, nothing else to keep in step.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use strum::{EnumMessage as _, EnumProperty as _, IntoEnumIterator as _};

use super::pane::Pane;

/// Something the operator asks the console to do. The doc comment of each
/// variant is its line in help; `message` is its footer hint; `arg` names
/// its argument and `needs` says what to type when it is missing.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
    strum::EnumMessage,
    strum::EnumProperty,
)]
#[serde(try_from = "String", into = "String")]
#[strum(serialize_all = "kebab-case")]
pub enum Command {
    /// Quit touban (asks first while jobs are running)
    #[strum(message = "quit")]
    Quit,
    /// Suspend touban to the shell (`fg` brings it back)
    #[strum(message = "suspend")]
    Suspend,
    /// Show keys and commands
    #[strum(message = "help")]
    Help,
    /// Open the command line
    #[strum(message = "command")]
    CommandLine,
    /// Filter the rows of the focused table
    #[strum(message = "filter")]
    Filter,
    /// Focus a pane.
    Focus(Pane),
    /// Focus the next pane
    #[strum(message = "next")]
    NextPane,
    /// Focus the previous pane
    #[strum(message = "prev")]
    PrevPane,
    /// Show the pane's next view (pods, deployments, nodes)
    #[strum(message = "view")]
    NextView,
    /// Show the pane's previous view
    #[strum(message = "view")]
    PrevView,
    /// Move the selection up
    #[strum(message = "up")]
    Up,
    /// Move the selection down
    #[strum(message = "down")]
    Down,
    /// Move the selection a page up
    #[strum(message = "page up")]
    PageUp,
    /// Move the selection a page down
    #[strum(message = "page down")]
    PageDown,
    /// Select the first row
    #[strum(message = "top")]
    Top,
    /// Select the last row
    #[strum(message = "bottom")]
    Bottom,
    /// Open the selected row
    #[strum(message = "open")]
    Select,
    /// Close the top overlay, or clear the filter
    #[strum(message = "back")]
    Back,
    /// Switch to another colour theme
    #[strum(
        message = "theme",
        props(arg = "NAME", needs = "`theme` needs a theme name, e.g. `theme light`")
    )]
    Theme(String),
    /// Show one namespace of the cluster (`all` for every one)
    #[strum(
        message = "namespace",
        props(
            arg = "NAME",
            needs = "`namespace` needs a namespace, e.g. `namespace iworkz-production`, or `all`"
        )
    )]
    Namespace(String),
    /// Show the next namespace of the cluster (after the last: all)
    #[strum(message = "namespace")]
    NextNamespace,
    /// Scale the selected deployment to N replicas (plan, confirm, run)
    #[strum(message = "scale", props(arg = "N", optional = "yes"))]
    Scale(String),
    /// Restart the selected deployment's pods (rollout restart, followed to complete)
    #[strum(message = "restart")]
    Restart,
    /// Set the minimum of the HPA scaling the selected deployment
    #[strum(message = "hpa min", props(arg = "N", optional = "yes"))]
    HpaMin(String),
    /// Set the maximum of the HPA scaling the selected deployment
    #[strum(message = "hpa max", props(arg = "N", optional = "yes"))]
    HpaMax(String),
    /// Set the selected deployment's image (a rolling deploy; a stall offers the undo)
    #[strum(message = "set image", props(arg = "IMAGE", optional = "yes"))]
    SetImage(String),
    /// Roll the selected deployment back to revision N (kubectl rollout undo)
    #[strum(message = "undo", props(arg = "N", optional = "yes"))]
    Undo(String),
    /// Choose the next older revision of the selected deployment (what undo rolls back to)
    #[strum(message = "older")]
    OlderRevision,
    /// Choose the next newer revision of the selected deployment
    #[strum(message = "newer")]
    NewerRevision,
    /// Deploy IMAGE to the selected release, blue-green (traffic moves once it is Ready)
    #[strum(message = "deploy", props(arg = "IMAGE", optional = "yes"))]
    Deploy(String),
    /// Switch the selected release back to its other colour (while still scaled)
    #[strum(message = "revert")]
    Revert,
    /// Delete the selected pod (Pods view) for its Deployment to replace it
    #[strum(message = "delete pod")]
    DeletePod,
    /// Move the selected release's flagged HPA to its live colour
    #[strum(message = "retarget hpa")]
    RetargetHpa,
    /// Silence the selected alert: DURATION then matchers, from its labels when none are given
    #[strum(
        message = "silence",
        props(arg = "DURATION MATCHER…", optional = "yes", rest = "yes")
    )]
    Silence(String),
    /// Expire the silences of the selected alert
    #[strum(message = "expire")]
    Expire,
    /// Switch PostgreSQL over to DB, a [[replication]] replica (the only one if none is named): fence its primary, wait for the replay, promote
    #[strum(message = "switchover", props(arg = "DB", optional = "yes"))]
    Switchover(String),
    /// Promote DB, a [[replication]] replica, without its primary (which does not answer); the data-loss bound is shown first
    #[strum(message = "promote", props(arg = "DB", optional = "yes"))]
    Promote(String),
    /// Fence PostgreSQL database DB: read-only, its sessions ended (an old primary that returned)
    #[strum(message = "fence", props(arg = "DB"))]
    Fence(String),
    /// Lift the fence of PostgreSQL database DB: it takes writes again
    #[strum(message = "unfence", props(arg = "DB"))]
    Unfence(String),
    /// Lock PostgreSQL database DB's application roles out (its app_roles: NOLOGIN, their sessions ended): the fence that holds for every client
    #[strum(message = "lockout", props(arg = "DB"))]
    Lockout(String),
    /// Let DB's application roles log in again (LOGIN)
    #[strum(message = "unlock", props(arg = "DB"))]
    Unlock(String),
    /// Fail Redis cache CACHE over to its most caught-up replica (FAILOVER, or SENTINEL FAILOVER behind Sentinel)
    #[strum(message = "cache failover", props(arg = "CACHE"))]
    CacheFailover(String),
    /// Promote Redis cache CACHE's most caught-up replica when its primary does not answer (REPLICAOF NO ONE; the rest re-pointed)
    #[strum(message = "cache promote", props(arg = "CACHE"))]
    CachePromote(String),
    /// Fail Multi-AZ RDS database DB over to its standby (RebootDBInstance with ForceFailover)
    #[strum(message = "rds failover", props(arg = "DB"))]
    RdsFailover(String),
    /// Promote RDS read replica DB to a standalone instance (PromoteReadReplica)
    #[strum(message = "rds promote", props(arg = "DB"))]
    RdsPromote(String),
    /// Apply manifest set NAME ([[manifests]]) to its first cluster, or CLUSTER, after the server's dry run and its diff; the next cluster follows once it succeeds (force takes over fields another manager owns)
    #[strum(message = "apply", props(arg = "NAME [CLUSTER]", rest = "yes"))]
    Apply(String),
    /// Plan [[infrastructure]] NAME with Terraform / OpenTofu (plan -json -out=FILE) and save the plan; cancelling sends the tool one interrupt
    #[strum(message = "infra plan", props(arg = "NAME"))]
    InfraPlan(String),
    /// Apply NAME's saved plan (apply -json FILE); one that destroys or replaces needs the name typed
    #[strum(message = "infra apply", props(arg = "NAME"))]
    InfraApply(String),
    /// Size node group GROUP of the selected cluster (CLUSTER/GROUP names another) in its cloud (EKS, AKS): N nodes, +N / -N from the nodes it has, or min=N desired=N max=N
    #[strum(message = "node group", props(arg = "GROUP SIZE", rest = "yes"))]
    NodeGroup(String),
    /// Disable REGION's pool in the global load balancer (the selected pool if none is named): it gets no users, healthy or not
    #[strum(message = "disable pool", props(arg = "REGION", optional = "yes"))]
    DisablePool(String),
    /// Enable REGION's pool in the global load balancer again (the selected pool if none is named)
    #[strum(message = "enable pool", props(arg = "REGION", optional = "yes"))]
    EnablePool(String),
    /// Fail the primary region over to REGION (the only DR region if none is named): the region runbook as one job, scaled, promoted, traffic moved, verified
    #[strum(message = "failover region", props(arg = "REGION", optional = "yes"))]
    FailoverRegion(String),
    /// Fail back from REGION (the only DR region if none is named): the primary's databases resynced, switched back, its pool enabled, verified
    #[strum(message = "failback region", props(arg = "REGION", optional = "yes"))]
    FailbackRegion(String),
    /// Cancel the selected job: before it starts, or between its steps;
    /// forget one that ended unfinished
    #[strum(message = "cancel")]
    CancelJob,
    /// Run the selected failed, cancelled or interrupted job again from
    /// its first step
    #[strum(message = "resume")]
    ResumeJob,
    /// Let the selected job, waiting for the operator at a gate, go on
    #[strum(message = "proceed")]
    ProceedJob,
    /// Sort the table by its next order
    #[strum(message = "sort")]
    Sort,
    /// Open the pane that shows what the selected alert is about
    #[strum(message = "workload")]
    Jump,
    /// Show warnings and messages
    #[strum(message = "messages")]
    Messages,
    /// Stream the selected pod's log, or every pod of the selected deployment
    #[strum(message = "logs")]
    Logs,
    /// Open a shell in the selected pod: the terminal goes to `kubectl exec -it` and comes back when it ends
    #[strum(message = "shell")]
    Shell,
    /// Forward a local port to the selected pod through `kubectl port-forward`, in the background (listed in Jobs)
    #[strum(
        message = "port-forward",
        props(arg = "[LOCAL:]PORT", optional = "yes")
    )]
    PortForward(String),
    /// Speak LANG from now on: en, ja or ko
    #[strum(
        message = "language",
        props(arg = "LANG", needs = "`language` needs a language: en, ja or ko")
    )]
    Language(String),
    /// Pause or resume the wallboard's rotation
    #[strum(message = "pause")]
    WallPause,
    /// Copy the selected row's name to the clipboard (OSC 52: works through SSH and tmux)
    #[strum(message = "copy")]
    Copy,
    /// Copy the selected object's YAML, or an alert's labels, to the clipboard (OSC 52)
    #[strum(message = "copy YAML")]
    CopyYaml,
    /// Unbind a key (in a user keymap)
    #[strum(message = "")]
    Nothing,
}

/// A command's name, argument and help text, for help, hints and completion.
#[derive(Clone, Debug)]
pub struct CommandInfo {
    /// The name bound in keymaps and typed on the command line.
    pub name: &'static str,
    /// The argument it takes, if any.
    pub arg: Option<&'static str>,
    /// A word or two for the footer hints.
    pub hint: &'static str,
    /// One line for help (a doc comment's lines joined by spaces).
    pub doc: String,
}

/// Every command except the pane names (`overview`, `cluster`, ...), which
/// focus their pane; in declaration order.
pub static COMMANDS: LazyLock<Vec<CommandInfo>> = LazyLock::new(|| {
    Command::iter()
        .filter(|c| !matches!(c, Command::Focus(_)))
        .map(|c| CommandInfo {
            name: c.name(),
            arg: c.get_str("arg"),
            hint: c.get_message().unwrap_or(""),
            doc: c
                .get_documentation()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect()
});

/// Short names accepted on the command line only.
const ALIASES: &[(&str, &str)] = &[
    ("q", "quit"),
    ("q!", "quit"),
    ("h", "help"),
    ("ns", "namespace"),
];

impl Command {
    /// The command's name, as keymaps and the command line spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Focus(pane) => pane.name(),
            other => other.into(),
        }
    }

    /// Whether it asks the executor to act (or to cancel or resume a job).
    pub fn is_action(&self) -> bool {
        matches!(
            self,
            Command::Scale(_)
                | Command::Restart
                | Command::HpaMin(_)
                | Command::HpaMax(_)
                | Command::Deploy(_)
                | Command::Revert
                | Command::RetargetHpa
                | Command::DeletePod
                | Command::SetImage(_)
                | Command::Undo(_)
                | Command::Silence(_)
                | Command::Expire
                | Command::Switchover(_)
                | Command::Promote(_)
                | Command::Fence(_)
                | Command::Unfence(_)
                | Command::Lockout(_)
                | Command::Unlock(_)
                | Command::CacheFailover(_)
                | Command::CachePromote(_)
                | Command::RdsFailover(_)
                | Command::RdsPromote(_)
                | Command::NodeGroup(_)
                | Command::Apply(_)
                | Command::InfraPlan(_)
                | Command::InfraApply(_)
                | Command::DisablePool(_)
                | Command::EnablePool(_)
                | Command::FailoverRegion(_)
                | Command::FailbackRegion(_)
                | Command::CancelJob
                | Command::ResumeJob
                | Command::ProceedJob
        )
    }

    /// The footer hint for this command.
    pub fn hint(&self) -> &'static str {
        match self {
            Command::Focus(pane) => pane.name(),
            other => other.get_message().unwrap_or(""),
        }
    }

    /// The argument this command carries, if it takes one.
    fn argument(&self) -> Option<&str> {
        match self {
            Command::Theme(a) | Command::Namespace(a) | Command::Language(a) => Some(a),
            Command::Scale(a)
            | Command::HpaMin(a)
            | Command::HpaMax(a)
            | Command::Deploy(a)
            | Command::SetImage(a)
            | Command::Undo(a)
            | Command::Silence(a)
            | Command::Switchover(a)
            | Command::Promote(a)
            | Command::Fence(a)
            | Command::Unfence(a)
            | Command::Lockout(a)
            | Command::Unlock(a)
            | Command::CacheFailover(a)
            | Command::CachePromote(a)
            | Command::RdsFailover(a)
            | Command::RdsPromote(a)
            | Command::NodeGroup(a)
            | Command::Apply(a)
            | Command::InfraPlan(a)
            | Command::InfraApply(a)
            | Command::DisablePool(a)
            | Command::EnablePool(a)
            | Command::FailoverRegion(a)
            | Command::FailbackRegion(a)
            | Command::PortForward(a)
                if !a.is_empty() =>
            {
                Some(a)
            }
            _ => None,
        }
    }

    /// This command with its argument set to `arg`.
    fn with_argument(self, arg: &str) -> Command {
        match self {
            Command::Theme(_) => Command::Theme(arg.to_owned()),
            Command::Namespace(_) => Command::Namespace(arg.to_owned()),
            Command::Language(_) => Command::Language(arg.to_owned()),
            Command::Scale(_) => Command::Scale(arg.to_owned()),
            Command::HpaMin(_) => Command::HpaMin(arg.to_owned()),
            Command::HpaMax(_) => Command::HpaMax(arg.to_owned()),
            Command::Deploy(_) => Command::Deploy(arg.to_owned()),
            Command::SetImage(_) => Command::SetImage(arg.to_owned()),
            Command::Undo(_) => Command::Undo(arg.to_owned()),
            Command::Silence(_) => Command::Silence(arg.to_owned()),
            Command::Switchover(_) => Command::Switchover(arg.to_owned()),
            Command::Promote(_) => Command::Promote(arg.to_owned()),
            Command::Fence(_) => Command::Fence(arg.to_owned()),
            Command::Unfence(_) => Command::Unfence(arg.to_owned()),
            Command::Lockout(_) => Command::Lockout(arg.to_owned()),
            Command::Unlock(_) => Command::Unlock(arg.to_owned()),
            Command::CacheFailover(_) => Command::CacheFailover(arg.to_owned()),
            Command::CachePromote(_) => Command::CachePromote(arg.to_owned()),
            Command::RdsFailover(_) => Command::RdsFailover(arg.to_owned()),
            Command::RdsPromote(_) => Command::RdsPromote(arg.to_owned()),
            Command::NodeGroup(_) => Command::NodeGroup(arg.to_owned()),
            Command::Apply(_) => Command::Apply(arg.to_owned()),
            Command::InfraPlan(_) => Command::InfraPlan(arg.to_owned()),
            Command::InfraApply(_) => Command::InfraApply(arg.to_owned()),
            Command::DisablePool(_) => Command::DisablePool(arg.to_owned()),
            Command::EnablePool(_) => Command::EnablePool(arg.to_owned()),
            Command::FailoverRegion(_) => Command::FailoverRegion(arg.to_owned()),
            Command::FailbackRegion(_) => Command::FailbackRegion(arg.to_owned()),
            Command::PortForward(_) => Command::PortForward(arg.to_owned()),
            other => other,
        }
    }

    /// Names that can start a command line: commands, pane names, aliases.
    pub fn completions() -> impl Iterator<Item = &'static str> {
        COMMANDS
            .iter()
            .map(|c| c.name)
            .chain(Pane::ALL.iter().map(|p| p.name()))
            .filter(|n| *n != "nothing")
    }
}

/// Why a command could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandParseError(pub String);

impl fmt::Display for CommandParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CommandParseError {}

impl FromStr for Command {
    type Err = CommandParseError;

    /// Reads `quit`, `overview`, `theme light`, or an alias such as `q`.
    fn from_str(s: &str) -> Result<Command, CommandParseError> {
        let mut words = s.split_whitespace();
        let Some(first) = words.next() else {
            return Err(CommandParseError("empty command".into()));
        };
        let name = ALIASES
            .iter()
            .find(|(alias, _)| *alias == first)
            .map_or(first, |(_, name)| *name);
        let command = Pane::from_name(name).map(Command::Focus).or_else(|| {
            Command::iter().find(|c| !matches!(c, Command::Focus(_)) && c.name() == name)
        });
        let Some(command) = command else {
            return Err(CommandParseError(format!(
                "unknown command `{first}`: expected one of {}",
                Command::completions().collect::<Vec<_>>().join(", ")
            )));
        };
        // A command whose argument is the rest of the line (`silence 1h
        // a=b c=d`) takes every word; the others take one.
        let rest = s.trim_start().get(first.len()..).unwrap_or_default().trim();
        let arg = if command.get_str("rest").is_some() {
            Some(rest).filter(|r| !r.is_empty())
        } else {
            let arg = words.next();
            if let Some(extra) = words.next() {
                return Err(CommandParseError(format!(
                    "`{s}`: unexpected `{extra}` (a command takes at most one argument)"
                )));
            }
            arg
        };
        match (command.get_str("arg"), arg) {
            (None, None) => Ok(command),
            (None, Some(a)) => Err(CommandParseError(format!(
                "`{name}` takes no argument, got `{a}`"
            ))),
            (Some(_), Some(a)) => Ok(command.with_argument(a)),
            (Some(_), None) if command.get_str("optional").is_some() => Ok(command),
            (Some(what), None) => Err(CommandParseError(
                command
                    .get_str("needs")
                    .map_or_else(|| format!("`{name}` needs {what}"), str::to_owned),
            )),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.argument() {
            Some(arg) => write!(f, "{} {arg}", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

impl TryFrom<String> for Command {
    type Error = CommandParseError;

    fn try_from(s: String) -> Result<Command, CommandParseError> {
        s.parse()
    }
}

impl From<Command> for String {
    fn from(c: Command) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_command_parses_and_prints_back() {
        for c in COMMANDS.iter() {
            let text = match c.arg {
                Some(_) => format!("{} x", c.name),
                None => c.name.to_owned(),
            };
            let cmd: Command = text.parse().expect(&text);
            assert_eq!(cmd.to_string(), text);
            assert_eq!(cmd.name(), c.name);
            assert!(!c.doc.is_empty(), "{} has a doc comment for help", c.name);
        }
        for &p in Pane::ALL {
            assert_eq!(p.name().parse::<Command>(), Ok(Command::Focus(p)));
        }
    }

    #[test]
    fn aliases_and_errors() {
        assert_eq!("q".parse::<Command>(), Ok(Command::Quit));
        assert_eq!(
            "theme light".parse::<Command>(),
            Ok(Command::Theme("light".into()))
        );
        assert_eq!(
            "ns all".parse::<Command>(),
            Ok(Command::Namespace("all".into()))
        );
        assert_eq!(
            "silence 1h alertname=\"X\" team=ai".parse::<Command>(),
            Ok(Command::Silence("1h alertname=\"X\" team=ai".into())),
            "the rest of the line"
        );
        assert!("scale 1 2".parse::<Command>().is_err(), "one argument");
        let err = "launch".parse::<Command>().expect_err("unknown");
        assert!(err.0.starts_with("unknown command `launch`"), "{err}");
        let err = "theme".parse::<Command>().expect_err("needs a name");
        assert!(err.0.contains("e.g. `theme light`"), "{err}");
        assert!("quit now".parse::<Command>().is_err());
    }
}
