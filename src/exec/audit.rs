//! The audit log: append-only JSON lines, one record per event of a job
//! (planned, refused, confirmed, each step started and ended, finished), in
//! a file only its owner can read, written and flushed to disk record by
//! record so that a console killed mid-job leaves a readable log. Every
//! free text is masked: no password, token or DSN credential is written.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use crate::config::secret::mask_line;
use crate::model::action::{ActionKind, ActionRequest};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// A plan was made and shown.
    Planned,
    /// The request got no plan (the refusal is the detail).
    Refused,
    /// The operator confirmed the plan.
    Confirmed,
    /// A step started.
    StepStarted,
    /// A step ended (its result is the outcome).
    StepEnded,
    /// The job ended.
    Finished,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// When, RFC 3339 in UTC.
    pub at: String,
    /// The platform's `environment` (the demo's records say `sandbox`).
    pub environment: String,
    /// Who: `operator` from the config, else `$USER@host`.
    pub operator: String,
    /// The job, within the console's run.
    pub job: u64,
    /// What happened.
    pub event: Event,
    /// The region of the target.
    pub region: String,
    /// Its cluster.
    pub cluster: String,
    /// Its namespace.
    pub namespace: String,
    /// `Kind/name`.
    pub object: String,
    /// The action and its arguments.
    pub action: ActionKind,
    /// A dry run changes nothing.
    pub dry_run: bool,
    /// The step, from 1, for step events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// What was planned, refused or done, in words (masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How it ended: `succeeded`, `failed: …`, `cancelled` (masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// The API's HTTP status, for calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The object's resourceVersion before the step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version_before: Option<String>,
    /// And after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version_after: Option<String>,
}

impl Record {
    /// A record of `event` for `request`, now; the optional fields empty.
    pub fn new(
        environment: &str,
        operator: &str,
        job: u64,
        event: Event,
        request: &ActionRequest,
    ) -> Record {
        let t = &request.target;
        let kind: &'static str = t.kind.into();
        Record {
            at: jiff::Timestamp::now().to_string(),
            environment: environment.to_owned(),
            operator: operator.to_owned(),
            job,
            event,
            region: t.region.clone(),
            cluster: t.cluster.clone(),
            namespace: t.namespace.clone(),
            object: format!("{kind}/{}", t.name),
            action: request.kind.clone(),
            dry_run: request.dry_run,
            step: None,
            detail: None,
            outcome: None,
            status: None,
            resource_version_before: None,
            resource_version_after: None,
        }
    }

    /// The record with a detail (masked).
    #[must_use]
    pub fn detail(mut self, text: &str) -> Record {
        self.detail = Some(mask_line(text));
        self
    }

    /// The record with an outcome (masked).
    #[must_use]
    pub fn outcome(mut self, text: &str) -> Record {
        self.outcome = Some(mask_line(text));
        self
    }
}

/// The open audit log.
#[derive(Debug)]
pub struct AuditLog {
    file: File,
}

impl AuditLog {
    /// Opens `path` for appending, creating it (and its directory, 0700)
    /// if need be; the file and directory are made private whatever they
    /// were.
    pub fn open(path: &Path) -> io::Result<AuditLog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::logging::private_dir(dir)?;
        }
        let file = crate::logging::private_file(path)?;
        Ok(AuditLog { file })
    }

    /// Appends one record as a line and flushes it to disk before
    /// returning.
    pub fn append(&mut self, record: &Record) -> io::Result<()> {
        let mut line = serde_json::to_string(record).map_err(io::Error::other)?;
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.sync_data()
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::model::action::{ObjectKind, Target};

    fn request() -> ActionRequest {
        ActionRequest {
            kind: ActionKind::Scale { replicas: 10 },
            target: Target {
                region: "tokyo".into(),
                cluster: "eks-tokyo".into(),
                namespace: "iworkz-production".into(),
                kind: ObjectKind::Deployment,
                name: "web-frontend-blue".into(),
            },
            dry_run: false,
        }
    }

    #[test]
    fn records_are_private_lines_that_parse_and_carry_no_secret() {
        let dir = tempfile::tempdir().expect("temp");
        let path = dir.path().join("state/touban/audit.jsonl");
        let mut log = AuditLog::open(&path).expect("open");
        let r = request();
        log.append(
            &Record::new("iworkz-production", "ops@bastion", 1, Event::Planned, &r)
                .detail("scale web-frontend-blue from 4 to 10"),
        )
        .expect("append");
        let mut step = Record::new("iworkz-production", "ops@bastion", 1, Event::StepEnded, &r)
            .outcome("failed: postgres://touban:hunter2@db:5432/postgres refused");
        step.step = Some(2);
        step.status = Some(409);
        step.resource_version_before = Some("41".into());
        log.append(&step).expect("append");
        drop(log);
        // Reopened, it appends.
        let mut log = AuditLog::open(&path).expect("reopen");
        log.append(
            &Record::new("iworkz-production", "ops@bastion", 1, Event::Finished, &r)
                .outcome("failed"),
        )
        .expect("append");

        let text = std::fs::read_to_string(&path).expect("read");
        assert!(!text.contains("hunter2"), "{text}");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(lines.len(), 3);
        let first = &lines[0];
        for (key, value) in [
            ("environment", "iworkz-production"),
            ("operator", "ops@bastion"),
            ("event", "planned"),
            ("region", "tokyo"),
            ("cluster", "eks-tokyo"),
            ("namespace", "iworkz-production"),
            ("object", "Deployment/web-frontend-blue"),
        ] {
            assert_eq!(first[key], value, "{key} in {first}");
        }
        assert_eq!(first["action"]["action"], "scale");
        assert_eq!(first["action"]["replicas"], 10);
        assert_eq!(first["dry_run"], false);
        assert!(
            first["at"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{first}"
        );
        assert_eq!(lines[1]["step"], 2);
        assert_eq!(lines[1]["status"], 409);
        assert_eq!(lines[1]["resource_version_before"], "41");
        assert_eq!(lines[2]["event"], "finished");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().expect("dir"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
    }
}
