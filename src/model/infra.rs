//! Infrastructure plans: Terraform's (and OpenTofu's, which shares the
//! schema) machine-readable UI, the JSON lines `plan -json` and
//! `apply -json` stream, read one message at a time as they arrive, and
//! what a plan or an apply amounts to: each resource's planned change,
//! the diagnostics with their file and line, the summary, the progress of
//! each resource being applied. Messages of types this does not know are
//! kept as log lines (the UI's minor versions add types).

use serde::Deserialize;
use serde_json::Value;

/// A resource's planned action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// No change.
    Noop,
    /// Created.
    Create,
    /// Read (a data source).
    Read,
    /// Changed in place.
    Update,
    /// Destroyed and created again.
    Replace,
    /// Destroyed.
    Delete,
    /// Moved to a new address.
    Move,
    /// Removed from the state, left standing.
    Remove,
    /// Imported into the state.
    Import,
    /// An action of a newer UI version.
    #[serde(other)]
    Other,
}

impl Action {
    /// `create`, `replace`, ...
    pub fn word(self) -> &'static str {
        match self {
            Action::Noop => "no-op",
            Action::Create => "create",
            Action::Read => "read",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "destroy",
            Action::Move => "move",
            Action::Remove => "forget",
            Action::Import => "import",
            Action::Other => "change",
        }
    }

    /// Whether it destroys what stands (a destroy or a replacement): what
    /// needs the operator's typed confirmation.
    pub fn destroys(self) -> bool {
        matches!(self, Action::Delete | Action::Replace)
    }
}

/// A position in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Pos {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    #[serde(default)]
    pub column: u64,
}

/// Where a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Range {
    /// The file, relative to the working directory.
    pub filename: String,
    /// Where it starts.
    pub start: Pos,
}

/// A warning or error of the tool, with its place in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Diagnostic {
    /// `error` or `warning`.
    pub severity: String,
    /// The one-line summary.
    pub summary: String,
    /// The detail, if any.
    #[serde(default)]
    pub detail: String,
    /// Where, if it is about the configuration.
    #[serde(default)]
    pub range: Option<Range>,
}

impl Diagnostic {
    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.severity == "error"
    }

    /// `main.tf:12: Error: Unsupported argument: An argument named …`.
    pub fn line(&self) -> String {
        let what = if self.is_error() { "Error" } else { "Warning" };
        let place = self
            .range
            .as_ref()
            .map(|r| format!("{}:{}: ", r.filename, r.start.line))
            .unwrap_or_default();
        let detail = self.detail.lines().next().unwrap_or_default();
        if detail.is_empty() {
            format!("{place}{what}: {}", self.summary)
        } else {
            format!("{place}{what}: {}: {detail}", self.summary)
        }
    }
}

/// A resource, as the UI names it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Resource {
    /// `module.eks.aws_eks_node_group.general`.
    pub addr: String,
}

#[derive(Debug, Deserialize)]
struct Change {
    resource: Resource,
    action: Action,
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Hook {
    resource: Resource,
    #[serde(default)]
    action: Option<Action>,
    #[serde(default)]
    elapsed_seconds: Option<u64>,
    #[serde(default)]
    id_value: Option<String>,
}

/// The counts of a `change_summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Counts {
    /// Resources to create.
    #[serde(default)]
    pub add: u64,
    /// To change in place.
    #[serde(default)]
    pub change: u64,
    /// To destroy (replacements count here and in `add`).
    #[serde(default)]
    pub remove: u64,
    /// To import.
    #[serde(default)]
    pub import: u64,
    /// `plan`, `apply` or `destroy`.
    #[serde(default)]
    pub operation: String,
}

/// One message of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The first: the tool's version and the UI's.
    Version {
        /// `terraform 1.9.5` or `tofu 1.8.0`.
        tool: String,
        /// The UI version (`1.2`).
        ui: String,
    },
    /// A line of the tool's own.
    Log(String),
    /// A warning or error.
    Diagnostic(Diagnostic),
    /// A resource's planned change.
    Planned {
        /// The resource.
        addr: String,
        /// What the plan does to it.
        action: Action,
        /// Why a replacement, when the tool says.
        reason: Option<String>,
    },
    /// A change made outside the tool, found while refreshing.
    Drift {
        /// The resource.
        addr: String,
        /// What changed.
        action: Action,
    },
    /// The plan's or the apply's totals.
    Summary(Counts),
    /// A resource's apply started, goes on, ended or failed.
    Applying {
        /// The resource.
        addr: String,
        /// Its action.
        action: Option<Action>,
        /// Where it is.
        stage: Stage,
        /// Seconds since it started.
        elapsed: Option<u64>,
        /// The id it got, once complete.
        id: Option<String>,
    },
    /// The outputs' names (their values may be secrets: never kept).
    Outputs(Vec<String>),
    /// A message of a type this does not know, or without a type.
    Other(String),
}

/// The stage of a resource's apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `apply_start`.
    Started,
    /// `apply_progress`.
    Progress,
    /// `apply_complete`.
    Complete,
    /// `apply_errored`.
    Errored,
}

/// The UI's major version this reads; a stream of another is refused.
pub const UI_MAJOR: &str = "1";

/// Reads one line of the stream. A line that is not JSON is the tool
/// writing plain text (a crash, a provider's panic): kept as a log line.
pub fn parse_line(line: &str) -> Message {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return Message::Log(line.to_owned());
    };
    let text = |key: &str| v.get(key).and_then(Value::as_str).unwrap_or_default();
    let message = text("@message").to_owned();
    let decode = |key: &str| v.get(key).cloned().unwrap_or(Value::Null);
    match text("type") {
        "version" => {
            let tool = if v.get("tofu").is_some() {
                format!("tofu {}", text("tofu"))
            } else {
                format!("terraform {}", text("terraform"))
            };
            Message::Version {
                tool,
                ui: text("ui").to_owned(),
            }
        }
        "log" => Message::Log(message),
        "diagnostic" => serde_json::from_value(decode("diagnostic"))
            .map_or(Message::Other(message), Message::Diagnostic),
        "planned_change" => match serde_json::from_value::<Change>(decode("change")) {
            Ok(c) => Message::Planned {
                addr: c.resource.addr,
                action: c.action,
                reason: c.reason,
            },
            Err(_) => Message::Other(message),
        },
        "resource_drift" => match serde_json::from_value::<Change>(decode("change")) {
            Ok(c) => Message::Drift {
                addr: c.resource.addr,
                action: c.action,
            },
            Err(_) => Message::Other(message),
        },
        "change_summary" => serde_json::from_value(decode("changes"))
            .map_or(Message::Other(message), Message::Summary),
        kind @ ("apply_start" | "apply_progress" | "apply_complete" | "apply_errored") => {
            let stage = match kind {
                "apply_start" => Stage::Started,
                "apply_progress" => Stage::Progress,
                "apply_complete" => Stage::Complete,
                _ => Stage::Errored,
            };
            match serde_json::from_value::<Hook>(decode("hook")) {
                Ok(h) => Message::Applying {
                    addr: h.resource.addr,
                    action: h.action,
                    stage,
                    elapsed: h.elapsed_seconds,
                    id: h.id_value,
                },
                Err(_) => Message::Other(message),
            }
        }
        "outputs" => Message::Outputs(
            v.get("outputs")
                .and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default(),
        ),
        _ => Message::Other(message),
    }
}

/// What a plan amounts to, message by message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanSummary {
    /// `terraform 1.9.5`, once said.
    pub tool: Option<String>,
    /// Every resource's planned change other than no-op, in order.
    pub changes: Vec<(String, Action, Option<String>)>,
    /// Changes made outside the tool.
    pub drift: Vec<(String, Action)>,
    /// Warnings and errors.
    pub diagnostics: Vec<Diagnostic>,
    /// The totals, once said.
    pub counts: Option<Counts>,
    /// A UI version this does not read, if the stream said one.
    pub unsupported_ui: Option<String>,
}

impl PlanSummary {
    /// Takes in one message.
    pub fn take(&mut self, message: &Message) {
        match message {
            Message::Version { tool, ui } => {
                self.tool = Some(tool.clone());
                if ui.split('.').next() != Some(UI_MAJOR) {
                    self.unsupported_ui = Some(ui.clone());
                }
            }
            Message::Planned {
                addr,
                action,
                reason,
            } if *action != Action::Noop => {
                self.changes.push((addr.clone(), *action, reason.clone()));
            }
            Message::Drift { addr, action } => self.drift.push((addr.clone(), *action)),
            Message::Diagnostic(d) => self.diagnostics.push(d.clone()),
            Message::Summary(c) => self.counts = Some(c.clone()),
            _ => {}
        }
    }

    /// The resources it destroys or replaces.
    pub fn destroying(&self) -> Vec<&str> {
        self.changes
            .iter()
            .filter(|(_, a, _)| a.destroys())
            .map(|(addr, ..)| addr.as_str())
            .collect()
    }

    /// Whether any error was said.
    pub fn failed(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// "2 to add, 1 to change, 1 to destroy".
    pub fn totals(&self) -> String {
        match &self.counts {
            Some(c) => format!(
                "{} to add, {} to change, {} to destroy{}",
                c.add,
                c.change,
                c.remove,
                if c.import > 0 {
                    format!(", {} to import", c.import)
                } else {
                    String::new()
                }
            ),
            None => "no summary".into(),
        }
    }
}

/// One line for a message in the job's progress, if it is worth one.
pub fn progress_line(message: &Message) -> Option<String> {
    match message {
        Message::Version { tool, .. } => Some(tool.clone()),
        Message::Log(text) | Message::Other(text) if !text.is_empty() => Some(text.clone()),
        Message::Diagnostic(d) => Some(d.line()),
        Message::Planned {
            addr,
            action,
            reason,
        } if *action != Action::Noop => Some(match reason {
            Some(r) => format!("{}: {addr} ({r})", action.word()),
            None => format!("{}: {addr}", action.word()),
        }),
        Message::Drift { addr, action } => {
            Some(format!("changed outside: {addr} ({})", action.word()))
        }
        Message::Applying {
            addr,
            stage,
            elapsed,
            id,
            action,
        } => {
            let what = action.map_or("apply", Action::word);
            Some(match stage {
                Stage::Started => format!("{addr}: {what} started"),
                Stage::Progress => format!("{addr}: {what} running, {} s", elapsed.unwrap_or(0)),
                Stage::Complete => match id {
                    Some(id) => format!(
                        "{addr}: {what} done after {} s [{id}]",
                        elapsed.unwrap_or(0)
                    ),
                    None => format!("{addr}: {what} done after {} s", elapsed.unwrap_or(0)),
                },
                Stage::Errored => format!("{addr}: {what} FAILED after {} s", elapsed.unwrap_or(0)),
            })
        }
        Message::Summary(c) => Some(format!(
            "{}: {} added, {} changed, {} destroyed",
            if c.operation.is_empty() {
                "summary"
            } else {
                c.operation.as_str()
            },
            c.add,
            c.change,
            c.remove
        )),
        Message::Outputs(names) if !names.is_empty() => {
            Some(format!("outputs: {}", names.join(", ")))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plan stream in the documented shapes (Terraform's machine-readable
    /// UI reference; OpenTofu's is the same with `tofu` for `terraform`).
    const PLAN: &str = r#"{"@level":"info","@message":"Terraform 1.9.5","@module":"terraform.ui","@timestamp":"2026-12-07T10:00:00.000000Z","terraform":"1.9.5","type":"version","ui":"1.2"}
{"@level":"info","@message":"aws_eks_node_group.general: Refreshing state... [id=iworkz-production:general]","@module":"terraform.ui","hook":{"resource":{"addr":"aws_eks_node_group.general","module":"","resource":"aws_eks_node_group.general","implied_provider":"aws","resource_type":"aws_eks_node_group","resource_name":"general","resource_key":null},"id_key":"id","id_value":"iworkz-production:general"},"type":"refresh_start"}
{"@level":"info","@message":"aws_eks_node_group.general: Drift detected (update)","@module":"terraform.ui","change":{"resource":{"addr":"aws_eks_node_group.general","module":"","resource":"aws_eks_node_group.general","implied_provider":"aws","resource_type":"aws_eks_node_group","resource_name":"general","resource_key":null},"action":"update"},"type":"resource_drift"}
{"@level":"info","@message":"aws_eks_node_group.general: Plan to update","@module":"terraform.ui","change":{"resource":{"addr":"aws_eks_node_group.general","module":"","resource":"aws_eks_node_group.general","implied_provider":"aws","resource_type":"aws_eks_node_group","resource_name":"general","resource_key":null},"action":"update"},"type":"planned_change"}
{"@level":"info","@message":"aws_db_instance.main: Plan to replace","@module":"terraform.ui","change":{"resource":{"addr":"aws_db_instance.main","module":"","resource":"aws_db_instance.main","implied_provider":"aws","resource_type":"aws_db_instance","resource_name":"main","resource_key":null},"action":"replace","reason":"cannot_update"},"type":"planned_change"}
{"@level":"warn","@message":"Warning: Argument is deprecated","@module":"terraform.ui","diagnostic":{"severity":"warning","summary":"Argument is deprecated","detail":"Use the aws_s3_bucket_versioning resource instead.","range":{"filename":"s3.tf","start":{"line":14,"column":3,"byte":301},"end":{"line":14,"column":13,"byte":311}}},"type":"diagnostic"}
{"@level":"info","@message":"Plan: 1 to add, 1 to change, 1 to destroy.","@module":"terraform.ui","changes":{"add":1,"change":1,"import":0,"remove":1,"operation":"plan"},"type":"change_summary"}"#;

    #[test]
    fn a_plan_stream_reads_into_changes_diagnostics_and_totals() {
        let mut plan = PlanSummary::default();
        let lines: Vec<String> = PLAN
            .lines()
            .map(parse_line)
            .inspect(|m| plan.take(m))
            .filter_map(|m| progress_line(&m))
            .collect();
        assert_eq!(plan.tool.as_deref(), Some("terraform 1.9.5"));
        assert_eq!(plan.unsupported_ui, None);
        assert_eq!(
            plan.changes,
            [
                ("aws_eks_node_group.general".into(), Action::Update, None),
                (
                    "aws_db_instance.main".into(),
                    Action::Replace,
                    Some("cannot_update".into())
                )
            ]
        );
        assert_eq!(plan.destroying(), ["aws_db_instance.main"]);
        assert_eq!(plan.totals(), "1 to add, 1 to change, 1 to destroy");
        assert!(!plan.failed());
        assert!(lines.contains(
            &"s3.tf:14: Warning: Argument is deprecated: Use the aws_s3_bucket_versioning resource instead."
                .to_owned()
        ));
        assert!(lines.contains(&"replace: aws_db_instance.main (cannot_update)".to_owned()));
        assert!(lines.contains(&"changed outside: aws_eks_node_group.general (update)".to_owned()));
    }

    #[test]
    fn apply_hooks_errors_and_unknown_lines() {
        let start = r#"{"@level":"info","@message":"aws_eks_node_group.general: Modifying... [id=iworkz-production:general]","hook":{"resource":{"addr":"aws_eks_node_group.general"},"action":"update","id_key":"id","id_value":"iworkz-production:general"},"type":"apply_start"}"#;
        let done = r#"{"@level":"info","@message":"aws_eks_node_group.general: Modifications complete after 42s","hook":{"resource":{"addr":"aws_eks_node_group.general"},"action":"update","id_key":"id","id_value":"iworkz-production:general","elapsed_seconds":42},"type":"apply_complete"}"#;
        assert_eq!(
            progress_line(&parse_line(start)).as_deref(),
            Some("aws_eks_node_group.general: update started")
        );
        assert_eq!(
            progress_line(&parse_line(done)).as_deref(),
            Some("aws_eks_node_group.general: update done after 42 s [iworkz-production:general]")
        );
        let stale = r#"{"@level":"error","@message":"Error: Saved plan is stale","diagnostic":{"severity":"error","summary":"Saved plan is stale","detail":"The given plan file can no longer be applied because the state was changed by another operation after the plan was created."},"type":"diagnostic"}"#;
        let mut s = PlanSummary::default();
        s.take(&parse_line(stale));
        assert!(s.failed());
        assert_eq!(
            s.diagnostics[0].line(),
            "Error: Saved plan is stale: The given plan file can no longer be applied because the state was changed by another operation after the plan was created."
        );
        assert_eq!(
            parse_line("panic: runtime error"),
            Message::Log("panic: runtime error".into())
        );
        let newer = r#"{"@level":"info","@message":"something new","type":"ephemeral_op_start"}"#;
        assert_eq!(parse_line(newer), Message::Other("something new".into()));
        let tofu = r#"{"@level":"info","@message":"OpenTofu 1.8.0","tofu":"1.8.0","type":"version","ui":"1.2"}"#;
        assert_eq!(
            parse_line(tofu),
            Message::Version {
                tool: "tofu 1.8.0".into(),
                ui: "1.2".into()
            }
        );
        let mut future = PlanSummary::default();
        future.take(&parse_line(
            r#"{"type":"version","terraform":"2.0.0","ui":"2.0"}"#,
        ));
        assert_eq!(future.unsupported_ui.as_deref(), Some("2.0"));
    }
}
