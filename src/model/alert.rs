//! Alerts as the console keeps them: one row per alert from Alertmanager,
//! Prometheus or CloudWatch, the silences that cover them, and what the
//! Alerts pane derives: alerts seen through several sources shown once,
//! grouped by severity then team, filtered by `label=value` or text, and
//! the workload an alert is about.

use std::collections::BTreeSet;
use std::time::SystemTime;

/// Where an alert was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// An Alertmanager's API v2.
    Alertmanager,
    /// Prometheus's `/api/v1/alerts` (pending and firing).
    Prometheus,
    /// A CloudWatch alarm.
    CloudWatch,
}

impl Origin {
    /// The word shown.
    pub fn word(self) -> &'static str {
        match self {
            Origin::Alertmanager => "alertmanager",
            Origin::Prometheus => "prometheus",
            Origin::CloudWatch => "cloudwatch",
        }
    }
}

/// An alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertState {
    /// Firing, and nobody has silenced it.
    Firing,
    /// Its condition holds, but not yet for the rule's `for`.
    Pending,
    /// Silenced.
    Silenced,
    /// Inhibited by another alert.
    Inhibited,
}

impl AlertState {
    /// The word shown.
    pub fn word(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Pending => "pending",
            AlertState::Silenced => "silenced",
            AlertState::Inhibited => "inhibited",
        }
    }

    /// Whether it is shown apart (silenced or inhibited).
    pub fn suppressed(self) -> bool {
        matches!(self, AlertState::Silenced | AlertState::Inhibited)
    }
}

/// One alert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertRow {
    /// The same alert seen through two sources has the same fingerprint
    /// (Alertmanager's; FNV-64a of the sorted labels for Prometheus, as
    /// Alertmanager computes it; the alarm's ARN or name for CloudWatch).
    pub fingerprint: String,
    /// The configured region it was read in.
    pub region: String,
    /// The configured alert source's name.
    pub source: String,
    /// Where it was read; `None` only in `Default`.
    pub origin: Option<Origin>,
    /// `alertname`, or the alarm's name.
    pub name: String,
    /// The `severity` label (`critical`, `warning`, `info`); a CloudWatch
    /// alarm in ALARM is `critical`, one with INSUFFICIENT_DATA `info`.
    pub severity: String,
    /// The `team` label.
    pub team: String,
    /// Its state.
    pub state: Option<AlertState>,
    /// Since when (startsAt, activeAt, the alarm's last state change).
    pub since: Option<SystemTime>,
    /// For a pending alert: when its `for` elapses.
    pub fires_at: Option<SystemTime>,
    /// The `summary` annotation (or the alarm's description).
    pub summary: String,
    /// Every label, sorted.
    pub labels: Vec<(String, String)>,
    /// Every annotation, sorted.
    pub annotations: Vec<(String, String)>,
    /// Where it came from (Prometheus's graph of the expression).
    pub generator_url: Option<String>,
    /// The silences that cover it, by id.
    pub silenced_by: Vec<String>,
    /// The alerts that inhibit it, by fingerprint.
    pub inhibited_by: Vec<String>,
    /// Its Alertmanager group: the receiver and the group's labels
    /// (`on-call: alertname=ServiceDown`), with how many alerts it holds.
    pub group: Option<(String, usize)>,
}

impl AlertRow {
    /// A label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Its state (firing for a row built without one).
    pub fn state(&self) -> AlertState {
        self.state.unwrap_or(AlertState::Firing)
    }

    /// Severity rank: critical first.
    pub fn rank(&self) -> u8 {
        match self.severity.as_str() {
            "critical" | "page" => 0,
            "warning" => 1,
            "info" => 2,
            _ => 3,
        }
    }
}

/// A silence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SilenceRow {
    /// Its id.
    pub id: String,
    /// Its matchers, as `name=value` (`=~`, `!=`, `!~`).
    pub matchers: Vec<String>,
    /// Who made it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// When it ends.
    pub ends_at: Option<SystemTime>,
}

/// What one alert source read in one poll: it replaces the last.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertSnapshot {
    /// Alerts.
    pub alerts: Vec<AlertRow>,
    /// Silences (Alertmanager only), active ones.
    pub silences: Vec<SilenceRow>,
    /// Alerts the source sent that could not be read (a missing
    /// fingerprint, a wrong type), skipped rather than failing the poll.
    pub malformed: usize,
}

/// A filter typed in the Alerts pane: `label=value` terms (all must hold,
/// values compared case-insensitively) and free text (matched against the
/// name, summary and every label value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    terms: Vec<(String, String)>,
    text: Vec<String>,
}

impl AlertFilter {
    /// Reads `team=ai severity=critical text`.
    pub fn parse(s: &str) -> AlertFilter {
        let mut f = AlertFilter::default();
        for word in s.split_whitespace() {
            match word.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    f.terms.push((k.to_owned(), v.to_lowercase()));
                }
                _ => f.text.push(word.to_lowercase()),
            }
        }
        f
    }

    /// Whether the alert passes.
    pub fn matches(&self, a: &AlertRow) -> bool {
        let value = |k: &str| match k {
            "region" => Some(a.region.as_str()),
            "source" => Some(a.source.as_str()),
            "state" => Some(a.state().word()),
            "severity" => Some(a.severity.as_str()),
            "team" => Some(a.team.as_str()),
            "alertname" | "name" => Some(a.name.as_str()),
            other => a.label(other),
        };
        self.terms
            .iter()
            .all(|(k, v)| value(k).is_some_and(|x| x.to_lowercase() == *v))
            && self.text.iter().all(|t| {
                a.name.to_lowercase().contains(t)
                    || a.summary.to_lowercase().contains(t)
                    || a.labels.iter().any(|(_, v)| v.to_lowercase().contains(t))
            })
    }
}

/// Every source's alerts, each alert once (by fingerprint: the first
/// source to report it is kept, in the order given), sorted for the pane:
/// active before suppressed, then severity, team, region, name.
pub fn merged<'a>(snapshots: impl IntoIterator<Item = &'a AlertSnapshot>) -> Vec<&'a AlertRow> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut out: Vec<&AlertRow> = Vec::new();
    for s in snapshots {
        for a in &s.alerts {
            if seen.insert(a.fingerprint.as_str()) {
                out.push(a);
            }
        }
    }
    out.sort_by(|a, b| {
        (
            a.state().suppressed(),
            a.rank(),
            &a.team,
            &a.region,
            &a.name,
        )
            .cmp(&(
                b.state().suppressed(),
                b.rank(),
                &b.team,
                &b.region,
                &b.name,
            ))
    });
    out
}

/// What an alert is about, and so where the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A pod, by namespace (if known) and name.
    Pod(Option<String>, String),
    /// A deployment or service of a cluster.
    Workload(String),
    /// A node.
    Node(String),
    /// A database or cache, by name.
    Data(String),
    /// An AI service, by name.
    Ai(String),
}

/// The most specific thing an alert's labels name: a pod, then a
/// deployment, a database, a service, an instance.
pub fn target(a: &AlertRow, databases: &[&str], ai_services: &[&str]) -> Option<Target> {
    if let Some(pod) = a.label("pod") {
        return Some(Target::Pod(
            a.label("namespace").map(str::to_owned),
            pod.to_owned(),
        ));
    }
    if let Some(d) = a.label("deployment") {
        return Some(Target::Workload(d.to_owned()));
    }
    let data = [
        "database",
        "DBInstanceIdentifier",
        "ReplicationGroupId",
        "datname",
    ]
    .iter()
    .find_map(|k| a.label(k));
    if let Some(d) = data {
        return Some(Target::Data(d.to_owned()));
    }
    if let Some(s) = a.label("service").or_else(|| a.label("job")) {
        if ai_services.contains(&s) {
            return Some(Target::Ai(s.to_owned()));
        }
        if let Some(db) = databases.iter().find(|d| s.contains(**d)) {
            return Some(Target::Data((*db).to_owned()));
        }
        return Some(Target::Workload(s.to_owned()));
    }
    let instance = a.label("instance")?;
    let host = instance.split(':').next().unwrap_or(instance);
    if let Some(db) = databases.iter().find(|d| host.contains(**d)) {
        return Some(Target::Data((*db).to_owned()));
    }
    Some(Target::Node(host.to_owned()))
}

/// Counts of active (firing) alerts by severity: critical, warning, other.
pub fn counts<'a>(alerts: impl IntoIterator<Item = &'a AlertRow>) -> (usize, usize, usize) {
    let mut c = (0, 0, 0);
    for a in alerts {
        if a.state() != AlertState::Firing {
            continue;
        }
        match a.rank() {
            0 => c.0 += 1,
            1 => c.1 += 1,
            _ => c.2 += 1,
        }
    }
    c
}

/// An alert's fingerprint as Prometheus and Alertmanager compute it:
/// FNV-64a over the labels sorted by name, each name and value followed
/// by 0xff, as 16 hex digits.
pub fn fingerprint<'a>(sorted_labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in sorted_labels {
        for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(fp: &str, name: &str, severity: &str, team: &str, state: AlertState) -> AlertRow {
        AlertRow {
            fingerprint: fp.into(),
            region: "tokyo".into(),
            source: "am".into(),
            origin: Some(Origin::Alertmanager),
            name: name.into(),
            severity: severity.into(),
            team: team.into(),
            state: Some(state),
            summary: format!("{name} summary"),
            labels: vec![
                ("alertname".into(), name.into()),
                ("severity".into(), severity.into()),
                ("team".into(), team.into()),
            ],
            ..AlertRow::default()
        }
    }

    #[test]
    fn merged_shows_each_alert_once_in_severity_then_team_order() {
        let a = AlertSnapshot {
            alerts: vec![
                alert(
                    "1",
                    "HighMemoryUsage",
                    "warning",
                    "infrastructure",
                    AlertState::Firing,
                ),
                alert(
                    "2",
                    "ServiceDown",
                    "critical",
                    "platform",
                    AlertState::Firing,
                ),
                alert(
                    "3",
                    "HighAPILatency",
                    "warning",
                    "backend",
                    AlertState::Silenced,
                ),
            ],
            silences: vec![],
            malformed: 0,
        };
        let mut b = a.clone();
        b.alerts.truncate(2);
        b.alerts.push(alert(
            "4",
            "AIModelAccuracyDrop",
            "critical",
            "ai",
            AlertState::Firing,
        ));
        let names: Vec<&str> = merged([&a, &b]).iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "AIModelAccuracyDrop",
                "ServiceDown",
                "HighMemoryUsage",
                "HighAPILatency"
            ]
        );
        assert_eq!(counts(merged([&a, &b])), (2, 1, 0));
    }

    #[test]
    fn filters_by_label_terms_and_text() {
        let a = alert(
            "1",
            "AIModelInferenceLatency",
            "warning",
            "ai",
            AlertState::Firing,
        );
        assert!(AlertFilter::parse("team=ai").matches(&a));
        assert!(AlertFilter::parse("team=AI severity=warning").matches(&a));
        assert!(!AlertFilter::parse("severity=critical").matches(&a));
        assert!(AlertFilter::parse("latency").matches(&a));
        assert!(!AlertFilter::parse("team=ai disk").matches(&a));
        assert!(AlertFilter::parse("state=firing region=tokyo").matches(&a));
    }

    #[test]
    fn the_target_is_the_most_specific_label() {
        let mut a = alert(
            "1",
            "PodCrashLooping",
            "critical",
            "platform",
            AlertState::Firing,
        );
        a.labels
            .push(("namespace".into(), "iworkz-production".into()));
        a.labels.push(("pod".into(), "backend-api-blue-x".into()));
        assert_eq!(
            target(&a, &[], &[]),
            Some(Target::Pod(
                Some("iworkz-production".into()),
                "backend-api-blue-x".into()
            ))
        );
        let mut b = alert(
            "2",
            "AIModelInferenceLatency",
            "warning",
            "ai",
            AlertState::Firing,
        );
        b.labels.push(("service".into(), "ai-services".into()));
        assert_eq!(
            target(&b, &[], &["ai-services"]),
            Some(Target::Ai("ai-services".into()))
        );
        b.labels.retain(|(k, _)| k != "service");
        b.labels
            .push(("instance".into(), "ip-10-0-1-20:9100".into()));
        assert_eq!(
            target(&b, &[], &[]),
            Some(Target::Node("ip-10-0-1-20".into()))
        );
        let mut c = alert(
            "3",
            "DatabaseConnectionsHigh",
            "warning",
            "database",
            AlertState::Firing,
        );
        c.labels
            .push(("instance".into(), "iworkz-production-postgres:9187".into()));
        assert_eq!(
            target(&c, &["iworkz-production-postgres"], &[]),
            Some(Target::Data("iworkz-production-postgres".into()))
        );
    }
}
