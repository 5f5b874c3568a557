//! The typed commands between keys and behaviour. Keymaps bind keys to
//! commands by name, the command line (`:`) parses the same names, and help
//! is generated from [`COMMANDS`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::pane::Pane;

/// Something the operator asks the console to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Command {
    /// Quit touban (asks first while jobs are running).
    Quit,
    /// Show keys and commands.
    Help,
    /// Open the command line.
    CommandLine,
    /// Filter the rows of the focused table.
    Filter,
    /// Focus a pane.
    Focus(Pane),
    /// Focus the next pane.
    NextPane,
    /// Focus the previous pane.
    PrevPane,
    /// Show the pane's next view (pods, deployments, nodes).
    NextView,
    /// Show the pane's previous view.
    PrevView,
    /// Move the selection up.
    Up,
    /// Move the selection down.
    Down,
    /// Move the selection a page up.
    PageUp,
    /// Move the selection a page down.
    PageDown,
    /// Select the first row.
    Top,
    /// Select the last row.
    Bottom,
    /// Open the selected row.
    Select,
    /// Close the top overlay, or clear the filter.
    Back,
    /// Switch to another colour theme.
    Theme(String),
    /// Show one namespace (`all` for every one).
    Namespace(String),
    /// Show the next namespace of the cluster (after the last: all).
    NextNamespace,
    /// Sort the table by its next order.
    Sort,
    /// Open the pane that shows what the selected alert is about.
    Jump,
    /// Show warnings and messages.
    Messages,
    /// Unbind a key (in a user keymap).
    Nothing,
}

/// A command's name, argument and help text, for help, hints and completion.
#[derive(Clone, Copy, Debug)]
pub struct CommandInfo {
    /// The name bound in keymaps and typed on the command line.
    pub name: &'static str,
    /// The argument it takes, if any.
    pub arg: Option<&'static str>,
    /// A word or two for the footer hints.
    pub hint: &'static str,
    /// One line for help.
    pub doc: &'static str,
}

/// Every command except the pane names (`overview`, `cluster`, ...), which
/// focus their pane.
pub const COMMANDS: &[CommandInfo] = &[
    info(
        "quit",
        None,
        "quit",
        "Quit touban (asks first while jobs are running)",
    ),
    info("help", None, "help", "Show keys and commands"),
    info("command-line", None, "command", "Open the command line"),
    info(
        "filter",
        None,
        "filter",
        "Filter the rows of the focused table",
    ),
    info("next-pane", None, "next", "Focus the next pane"),
    info("prev-pane", None, "prev", "Focus the previous pane"),
    info(
        "next-view",
        None,
        "view",
        "Show the pane's next view (pods, deployments, nodes)",
    ),
    info("prev-view", None, "view", "Show the pane's previous view"),
    info("up", None, "up", "Move the selection up"),
    info("down", None, "down", "Move the selection down"),
    info("page-up", None, "page up", "Move the selection a page up"),
    info(
        "page-down",
        None,
        "page down",
        "Move the selection a page down",
    ),
    info("top", None, "top", "Select the first row"),
    info("bottom", None, "bottom", "Select the last row"),
    info("select", None, "open", "Open the selected row"),
    info(
        "back",
        None,
        "back",
        "Close the top overlay, or clear the filter",
    ),
    info(
        "theme",
        Some("NAME"),
        "theme",
        "Switch to another colour theme",
    ),
    info(
        "namespace",
        Some("NAME"),
        "namespace",
        "Show one namespace of the cluster (`all` for every one)",
    ),
    info(
        "next-namespace",
        None,
        "namespace",
        "Show the next namespace of the cluster (after the last: all)",
    ),
    info("sort", None, "sort", "Sort the table by its next order"),
    info(
        "jump",
        None,
        "workload",
        "Open the pane that shows what the selected alert is about",
    ),
    info("messages", None, "messages", "Show warnings and messages"),
    info("nothing", None, "", "Unbind a key (in a user keymap)"),
];

const fn info(
    name: &'static str,
    arg: Option<&'static str>,
    hint: &'static str,
    doc: &'static str,
) -> CommandInfo {
    CommandInfo {
        name,
        arg,
        hint,
        doc,
    }
}

/// Short names accepted on the command line only.
const ALIASES: &[(&str, &str)] = &[("q", "quit"), ("q!", "quit"), ("h", "help")];

impl Command {
    /// The command's name, as keymaps and the command line spell it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Quit => "quit",
            Command::Help => "help",
            Command::CommandLine => "command-line",
            Command::Filter => "filter",
            Command::Focus(pane) => pane.name(),
            Command::NextPane => "next-pane",
            Command::PrevPane => "prev-pane",
            Command::NextView => "next-view",
            Command::PrevView => "prev-view",
            Command::Up => "up",
            Command::Down => "down",
            Command::PageUp => "page-up",
            Command::PageDown => "page-down",
            Command::Top => "top",
            Command::Bottom => "bottom",
            Command::Select => "select",
            Command::Back => "back",
            Command::Theme(_) => "theme",
            Command::Namespace(_) => "namespace",
            Command::NextNamespace => "next-namespace",
            Command::Sort => "sort",
            Command::Jump => "jump",
            Command::Messages => "messages",
            Command::Nothing => "nothing",
        }
    }

    /// The footer hint for this command.
    pub fn hint(&self) -> &'static str {
        match self {
            Command::Focus(pane) => pane.name(),
            other => COMMANDS
                .iter()
                .find(|c| c.name == other.name())
                .map_or("", |c| c.hint),
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
        let arg = words.next();
        if let Some(extra) = words.next() {
            return Err(CommandParseError(format!(
                "`{s}`: unexpected `{extra}` (a command takes at most one argument)"
            )));
        }
        let no_arg = |cmd: Command| match arg {
            None => Ok(cmd),
            Some(a) => Err(CommandParseError(format!(
                "`{name}` takes no argument, got `{a}`"
            ))),
        };
        if let Some(pane) = Pane::from_name(name) {
            return no_arg(Command::Focus(pane));
        }
        match name {
            "quit" => no_arg(Command::Quit),
            "help" => no_arg(Command::Help),
            "command-line" => no_arg(Command::CommandLine),
            "filter" => no_arg(Command::Filter),
            "next-pane" => no_arg(Command::NextPane),
            "prev-pane" => no_arg(Command::PrevPane),
            "next-view" => no_arg(Command::NextView),
            "prev-view" => no_arg(Command::PrevView),
            "up" => no_arg(Command::Up),
            "down" => no_arg(Command::Down),
            "page-up" => no_arg(Command::PageUp),
            "page-down" => no_arg(Command::PageDown),
            "top" => no_arg(Command::Top),
            "bottom" => no_arg(Command::Bottom),
            "select" => no_arg(Command::Select),
            "back" => no_arg(Command::Back),
            "messages" => no_arg(Command::Messages),
            "next-namespace" => no_arg(Command::NextNamespace),
            "sort" => no_arg(Command::Sort),
            "jump" => no_arg(Command::Jump),
            "namespace" | "ns" => arg
                .map(|a| Command::Namespace(a.to_owned()))
                .ok_or_else(|| {
                    CommandParseError(
                    "`namespace` needs a namespace, e.g. `namespace iworkz-production`, or `all`"
                        .into(),
                )
                }),
            "nothing" => no_arg(Command::Nothing),
            "theme" => arg.map(|a| Command::Theme(a.to_owned())).ok_or_else(|| {
                CommandParseError("`theme` needs a theme name, e.g. `theme light`".into())
            }),
            _ => Err(CommandParseError(format!(
                "unknown command `{first}`: expected one of {}",
                Command::completions().collect::<Vec<_>>().join(", ")
            ))),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Theme(name) => write!(f, "theme {name}"),
            Command::Namespace(name) => write!(f, "namespace {name}"),
            other => f.write_str(other.name()),
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
        for c in COMMANDS {
            let text = match c.arg {
                Some(_) => format!("{} x", c.name),
                None => c.name.to_owned(),
            };
            let cmd: Command = text.parse().expect(&text);
            assert_eq!(cmd.to_string(), text);
            assert_eq!(cmd.name(), c.name);
        }
        for p in Pane::ALL {
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
        let err = "deploy".parse::<Command>().expect_err("unknown");
        assert!(err.0.starts_with("unknown command `deploy`"), "{err}");
        assert!("theme".parse::<Command>().is_err());
        assert!("quit now".parse::<Command>().is_err());
    }
}
