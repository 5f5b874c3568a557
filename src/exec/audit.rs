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
    /// The operator cancelled a plan without confirming it, or a
    /// confirmed job before it started.
    Declined,
    /// A step started.
    StepStarted,
    /// A step ended (its result is the outcome).
    StepEnded,
    /// The job ended.
    Finished,
}

/// Who acts, and in which run of the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    /// The platform's `environment`.
    pub environment: String,
    /// The operator (`operator` from the config, else `$USER@host`).
    pub operator: String,
    /// This run of the console: when it started and its process id.
    pub session: String,
}

impl Who {
    /// `operator` in `environment`, in this run of this process.
    pub fn new(environment: &str, operator: &str) -> Who {
        let started = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
        Who {
            environment: environment.to_owned(),
            operator: operator.to_owned(),
            session: format!("{started}-{}", std::process::id()),
        }
    }
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
    /// The console's run the job belongs to (its start and process id):
    /// with `job`, what names one job across runs.
    pub session: String,
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
    /// Why, as the operator gave it when confirming (masked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The job this one reverts (`session/id`), if it is a revert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverts: Option<String>,
    /// The job this one resumes (`session/id`), when a console resumed
    /// a job another run of touban left unfinished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumes: Option<String>,
    /// Why the job runs without a Lease, on the operator's typed
    /// override (no coordination cluster answered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_override: Option<String>,
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
    pub fn new(who: &Who, job: u64, event: Event, request: &ActionRequest) -> Record {
        let t = &request.target;
        let kind: &'static str = t.kind.into();
        Record {
            at: jiff::Timestamp::now().to_string(),
            environment: who.environment.clone(),
            operator: who.operator.clone(),
            session: who.session.clone(),
            job,
            event,
            region: t.region.clone(),
            cluster: t.cluster.clone(),
            namespace: t.namespace.clone(),
            object: format!("{kind}/{}", t.name),
            action: request.kind.clone(),
            dry_run: request.dry_run,
            reason: None,
            reverts: None,
            resumes: None,
            lease_override: None,
            step: None,
            detail: None,
            outcome: None,
            status: None,
            resource_version_before: None,
            resource_version_after: None,
        }
    }

    /// The record with the operator's reason (masked), if one was given.
    #[must_use]
    pub fn reason(mut self, reason: Option<&str>) -> Record {
        self.reason = reason.map(mask_line);
        self
    }

    /// The record naming the job it reverts, if any.
    #[must_use]
    pub fn reverts(mut self, job: Option<&str>) -> Record {
        self.reverts = job.map(str::to_owned);
        self
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

/// The runs of the region runbook (drills and failovers) among the
/// records of `text`, in order: each `finished` record of a
/// `region-failover`. Lines that are not such records are passed over.
pub fn drills(text: &str) -> Vec<crate::model::readiness::Drill> {
    text.lines()
        .filter(|l| l.contains("region-failover") && l.contains("finished"))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| {
            let text = |path: &str| v.pointer(path).and_then(serde_json::Value::as_str);
            if text("/event")? != "finished" || text("/action/action")? != "region-failover" {
                return None;
            }
            let at: jiff::Timestamp = text("/at")?.parse().ok()?;
            let outcome = text("/outcome").unwrap_or("").to_owned();
            Some(crate::model::readiness::Drill {
                from: text("/action/from")?.to_owned(),
                to: text("/action/to")?.to_owned(),
                at: std::time::SystemTime::UNIX_EPOCH
                    + std::time::Duration::from_secs(u64::try_from(at.as_second()).ok()?),
                dry_run: v.pointer("/dry_run").and_then(serde_json::Value::as_bool) == Some(true),
                passed: outcome.starts_with("succeeded"),
                outcome,
            })
        })
        .collect()
}

/// The open audit log.
#[derive(Debug)]
pub struct AuditLog {
    /// One writer at a time: jobs of different targets run side by side.
    file: std::sync::Mutex<File>,
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
        Ok(AuditLog {
            file: std::sync::Mutex::new(file),
        })
    }

    /// Appends one record as a line and flushes it to disk before
    /// returning.
    pub fn append(&self, record: &Record) -> io::Result<()> {
        let mut line = serde_json::to_string(record).map_err(io::Error::other)?;
        line.push('\n');
        // A writer that panicked mid-line leaves the file as it was: the
        // lock's poison says nothing about the file, so it is taken anyway.
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        file.write_all(line.as_bytes())?;
        file.sync_data()
    }
}

/// What `touban audit` prints of an audit log's text: the records at or
/// after `since` (all when `None`), as the JSON lines they are (`json`) or
/// a line each for a human; and how many lines were not records (a line
/// cut by a crash mid-write, say), skipped.
pub fn show(text: &str, since: Option<jiff::Timestamp>, json: bool) -> (Vec<String>, usize) {
    let mut out = Vec::new();
    let mut skipped = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            skipped += 1;
            continue;
        };
        let field = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or("");
        let Ok(at) = field("at").parse::<jiff::Timestamp>() else {
            skipped += 1;
            continue;
        };
        if since.is_some_and(|s| at < s) {
            continue;
        }
        if json {
            out.push(line.to_owned());
            continue;
        }
        let action = v.get("action").map_or_else(String::new, |a| {
            let name = a
                .get("action")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            let args: Vec<String> = a
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| *k != "action")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            [name.to_owned()]
                .into_iter()
                .chain(args)
                .collect::<Vec<_>>()
                .join(" ")
        });
        let dry = if v.get("dry_run").and_then(serde_json::Value::as_bool) == Some(true) {
            " (dry run)"
        } else {
            ""
        };
        let step = v
            .get("step")
            .and_then(serde_json::Value::as_u64)
            .map(|n| format!(" {n}"))
            .unwrap_or_default();
        let status = v
            .get("status")
            .and_then(serde_json::Value::as_u64)
            .map(|n| format!(" HTTP {n}"))
            .unwrap_or_default();
        let said = [field("detail"), field("outcome")]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" → ");
        out.push(format!(
            "{} {} #{} {}{step} {}/{} {} {action}{dry}{status}: {said}",
            at.strftime("%Y-%m-%d %H:%M:%SZ"),
            field("operator"),
            v.get("job")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0),
            field("event"),
            field("cluster"),
            field("namespace"),
            field("object"),
        ));
    }
    (out, skipped)
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
        let log = AuditLog::open(&path).expect("open");
        let r = request();
        let who = Who::new("iworkz-production", "ops@bastion");
        log.append(
            &Record::new(&who, 1, Event::Planned, &r)
                .detail("scale web-frontend-blue from 4 to 10"),
        )
        .expect("append");
        let mut step = Record::new(&who, 1, Event::StepEnded, &r)
            .outcome("failed: postgres://touban:hunter2@db:5432/postgres refused");
        step.step = Some(2);
        step.status = Some(409);
        step.resource_version_before = Some("41".into());
        log.append(&step).expect("append");
        drop(log);
        // Reopened, it appends.
        let log = AuditLog::open(&path).expect("reopen");
        log.append(&Record::new(&who, 1, Event::Finished, &r).outcome("failed"))
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

    #[test]
    fn show_prints_records_since_for_humans_or_as_they_are() {
        let who = Who::new("sandbox", "ops@bastion");
        let r = request();
        let old = serde_json::to_string(&{
            let mut rec = Record::new(&who, 1, Event::Planned, &r).detail("scale from 4 to 10");
            rec.at = "2026-12-01T00:00:00Z".into();
            rec
        })
        .expect("json");
        let mut step =
            Record::new(&who, 2, Event::StepEnded, &r).outcome("spec.replicas=10 accepted");
        step.step = Some(2);
        step.status = Some(200);
        let new = serde_json::to_string(&step).expect("json");
        let text = format!("{old}\n{new}\n{{\"at\": \"cut mid-wr");
        let since = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
        let (lines, skipped) = show(&text, Some(since), false);
        assert_eq!(skipped, 1, "the cut line");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains(
                "ops@bastion #2 step-ended 2 eks-tokyo/iworkz-production Deployment/web-frontend-blue scale replicas=10 HTTP 200: spec.replicas=10 accepted"
            ),
            "{lines:?}"
        );
        let (all, _) = show(&text, None, true);
        assert_eq!(all, [old, new]);
    }
}
