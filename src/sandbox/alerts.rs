//! The seed's ten alert rules (group `iworkz.rules`), evaluated over the
//! simulated series the way Prometheus would evaluate their expressions,
//! with their `for` durations, labels and annotations; and the state of an
//! Alertmanager: the alerts that fire, silences, and alerts pushed to it.

// Percentages and counts are small floats.
#![allow(clippy::cast_precision_loss)]

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::{Value, json};

use super::sim::{Region, Sim, WINDOW};

/// Labels of an alert.
pub type Labels = BTreeMap<String, String>;

/// An alert that fires (or, with `pending`, waits out its `for`).
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Labels, `alertname` and `region` among them.
    pub labels: Labels,
    /// `summary` and `description`.
    pub annotations: Labels,
    /// Simulated second the condition became true.
    pub active_since: u64,
    /// Wall-clock time it became true (RFC 3339), as Prometheus's
    /// `activeAt`.
    pub active_at: String,
    /// The expression's value at the last evaluation.
    pub value: f64,
    /// Wall-clock time it started firing (RFC 3339), once it has.
    pub starts_at: Option<String>,
    /// Where it came from: the rule's expression.
    pub generator_url: String,
}

impl Alert {
    /// Prometheus's fingerprint of the label set, as hex.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.labels)
    }
}

/// An alert as Prometheus's API shows it: pending until its `for` has
/// passed, then firing.
fn prometheus_alert(a: &Alert) -> Value {
    let state = if a.starts_at.is_some() {
        "firing"
    } else {
        "pending"
    };
    json!({"labels": a.labels, "annotations": a.annotations, "state": state,
        "activeAt": a.active_at, "value": format!("{:e}", a.value)})
}

/// FNV-64a over the sorted labels, as Alertmanager computes it.
pub fn fingerprint(labels: &Labels) -> String {
    crate::model::alert::fingerprint(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

struct Rule {
    name: &'static str,
    expr: &'static str,
    for_secs: u64,
    severity: &'static str,
    team: &'static str,
}

const RULES: [Rule; 10] = [
    Rule {
        name: "ServiceDown",
        expr: "up == 0",
        for_secs: 60,
        severity: "critical",
        team: "platform",
    },
    Rule {
        name: "HighAPILatency",
        expr: "histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m])) > 0.5",
        for_secs: 300,
        severity: "warning",
        team: "backend",
    },
    Rule {
        name: "HighErrorRate",
        expr: "rate(http_requests_total{status=~\"5..\"}[5m]) / rate(http_requests_total[5m]) > 0.05",
        for_secs: 300,
        severity: "critical",
        team: "backend",
    },
    Rule {
        name: "DatabaseConnectionsHigh",
        expr: "pg_stat_database_numbackends / pg_settings_max_connections * 100 > 80",
        for_secs: 300,
        severity: "warning",
        team: "database",
    },
    Rule {
        name: "HighMemoryUsage",
        expr: "(1 - (node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)) * 100 > 85",
        for_secs: 600,
        severity: "warning",
        team: "infrastructure",
    },
    Rule {
        name: "HighDiskUsage",
        expr: "(1 - (node_filesystem_avail_bytes / node_filesystem_size_bytes)) * 100 > 85",
        for_secs: 300,
        severity: "warning",
        team: "infrastructure",
    },
    Rule {
        name: "HighCPUUsage",
        expr: "100 - (avg by(instance) (irate(node_cpu_seconds_total{mode=\"idle\"}[5m])) * 100) > 85",
        for_secs: 600,
        severity: "warning",
        team: "infrastructure",
    },
    Rule {
        name: "PodCrashLooping",
        expr: "rate(kube_pod_container_status_restarts_total[15m]) > 0",
        for_secs: 300,
        severity: "critical",
        team: "platform",
    },
    Rule {
        name: "AIModelInferenceLatency",
        expr: "histogram_quantile(0.95, rate(ai_model_inference_duration_seconds_bucket[5m])) > 2.0",
        for_secs: 180,
        severity: "warning",
        team: "ai",
    },
    Rule {
        name: "AIModelAccuracyDrop",
        expr: "ai_model_accuracy < 0.85",
        for_secs: 600,
        severity: "critical",
        team: "ai",
    },
];

/// A value that breaks a rule, with the labels of its series.
struct Breach {
    rule: usize,
    labels: Vec<(&'static str, String)>,
    value: f64,
}

/// What the alerting side holds: rule state, silences, pushed alerts.
#[derive(Debug, Default)]
pub struct Alerting {
    /// Alerts whose condition holds, by fingerprint (pending or firing).
    pub alerts: BTreeMap<String, Alert>,
    /// Restart counts per (region, namespace, pod), for PodCrashLooping.
    restarts: HashMap<(String, String, String), VecDeque<(u64, i64)>>,
    /// Silences, newest last.
    pub silences: Vec<Silence>,
    /// Alerts pushed with `POST /api/v2/alerts`, with their end (RFC 3339).
    pub pushed: BTreeMap<String, (Labels, Labels, String, String)>,
    next_silence: u64,
}

/// A silence.
#[derive(Debug, Clone, PartialEq)]
pub struct Silence {
    /// Its id.
    pub id: String,
    /// `{name, value, isRegex, isEqual}` matchers.
    pub matchers: Vec<Matcher>,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339.
    pub ends_at: String,
    /// Who.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// When it was last changed.
    pub updated_at: String,
}

/// A label matcher.
#[derive(Debug, Clone, PartialEq)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Value or regex.
    pub value: String,
    /// Whether `value` is a regex (anchored).
    pub is_regex: bool,
    /// `=` (true) or `!=` (false).
    pub is_equal: bool,
}

impl Matcher {
    /// Whether a label set matches.
    pub fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.name).map_or("", String::as_str);
        let hit = if self.is_regex {
            regex::Regex::new(&format!("^(?:{})$", self.value)).is_ok_and(|r| r.is_match(v))
        } else {
            v == self.value
        };
        hit == self.is_equal
    }
}

impl Silence {
    /// `active`, `pending` or `expired` at `now` (RFC 3339 compare).
    pub fn state(&self, now: &str) -> &'static str {
        if self.ends_at.as_str() <= now {
            "expired"
        } else if self.starts_at.as_str() > now {
            "pending"
        } else {
            "active"
        }
    }
}

/// Wall-clock now, as the Alertmanager API writes times.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl Alerting {
    /// Evaluates every rule at the simulation's current second. `pods` are
    /// per region `(namespace, pod, restarts)` of pods that have restarted.
    pub fn evaluate(&mut self, sim: &Sim, pods: &[Vec<(String, String, i64)>]) {
        let t = sim.second;
        let mut breaches = Vec::new();
        let old = sim.ago(WINDOW);
        for (ri, region) in sim.regions.iter().enumerate() {
            let before = &old[ri];
            service_breaches(region, before, &mut breaches);
            infrastructure_breaches(region, before, &mut breaches);
            for (ns, pod, restarts) in pods.get(ri).into_iter().flatten() {
                let key = (region.name.to_owned(), ns.clone(), pod.clone());
                let seen = self.restarts.entry(key).or_default();
                seen.push_back((t, *restarts));
                while seen
                    .front()
                    .is_some_and(|(s, _)| t.saturating_sub(*s) > 900)
                {
                    seen.pop_front();
                }
                let first = seen.front().map_or(*restarts, |(_, r)| *r);
                if *restarts > first {
                    let per_second = (*restarts - first) as f64 / 900.0;
                    breaches.push(Breach {
                        rule: 7,
                        labels: vec![
                            ("region", region.name.to_owned()),
                            ("namespace", ns.clone()),
                            ("pod", pod.clone()),
                        ],
                        value: per_second,
                    });
                }
            }
        }
        let mut seen = Vec::new();
        for b in breaches {
            let rule = &RULES[b.rule];
            let mut labels: Labels = [
                ("alertname", rule.name),
                ("severity", rule.severity),
                ("team", rule.team),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
            for (k, v) in b.labels {
                labels.insert(k.to_owned(), v);
            }
            let fp = fingerprint(&labels);
            seen.push(fp.clone());
            let alert = self.alerts.entry(fp).or_insert_with(|| Alert {
                labels: labels.clone(),
                annotations: Labels::new(),
                active_since: t,
                active_at: now(),
                value: b.value,
                starts_at: None,
                generator_url: format!(
                    "http://prometheus.sandbox/graph?g0.expr={}",
                    rule.expr.replace(' ', "+")
                ),
            });
            alert.annotations = annotations(rule.name, &labels, b.value);
            alert.value = b.value;
            if alert.starts_at.is_none() && t.saturating_sub(alert.active_since) >= rule.for_secs {
                alert.starts_at = Some(now());
            }
        }
        // Resolved: the condition no longer holds.
        self.alerts.retain(|fp, _| seen.contains(fp));
        let wall = now();
        self.pushed
            .retain(|_, (_, _, _, ends)| ends.as_str() > wall.as_str());
    }

    /// The seed's rules with a region's pending and firing alerts, as
    /// Prometheus's `/api/v1/rules` answers them. A rule's `for` is given
    /// in wall-clock seconds (the world runs `speed` times faster), so that
    /// `activeAt` + `for` is when the alert fires.
    pub fn prometheus_rules(&self, region: &str, speed: f64) -> Value {
        let wall = now();
        let rules: Vec<Value> = RULES
            .iter()
            .map(|rule| {
                let alerts: Vec<Value> = self
                    .alerts
                    .values()
                    .filter(|a| {
                        a.labels.get("alertname").is_some_and(|n| n == rule.name)
                            && a.labels.get("region").is_some_and(|r| r == region)
                    })
                    .map(prometheus_alert)
                    .collect();
                let state = if alerts.iter().any(|a| a["state"] == "firing") {
                    "firing"
                } else if alerts.is_empty() {
                    "inactive"
                } else {
                    "pending"
                };
                json!({"type": "alerting", "name": rule.name, "query": rule.expr,
                    "duration": rule.for_secs as f64 / speed.max(0.01), "keepFiringFor": 0,
                    "labels": {"severity": rule.severity, "team": rule.team}, "annotations": {},
                    "state": state, "alerts": alerts, "health": "ok", "lastError": "",
                    "evaluationTime": 0.0001, "lastEvaluation": wall})
            })
            .collect();
        json!({"status": "success", "data": {"groups": [{"name": "iworkz.rules",
            "file": "/etc/prometheus/rules/iworkz.rules.yml", "interval": 15, "limit": 0,
            "evaluationTime": 0.001, "lastEvaluation": wall, "rules": rules}]}})
    }

    /// A region's pending and firing alerts, as Prometheus's `/api/v1/alerts`.
    pub fn prometheus_alerts(&self, region: &str) -> Value {
        let alerts: Vec<Value> = self
            .alerts
            .values()
            .filter(|a| a.labels.get("region").is_some_and(|r| r == region))
            .map(prometheus_alert)
            .collect();
        json!({"status": "success", "data": {"alerts": alerts}})
    }

    /// Firing alerts (and pushed ones) of a region, as API v2 objects.
    pub fn api_alerts(&self, region: &str) -> Vec<Value> {
        let wall = now();
        let mut out = Vec::new();
        for a in self.alerts.values().filter(|a| {
            a.starts_at.is_some() && a.labels.get("region").is_some_and(|r| r == region)
        }) {
            out.push(self.api_alert(
                &a.labels,
                &a.annotations,
                a.starts_at.as_deref().unwrap_or_default(),
                "0001-01-01T00:00:00Z",
                &a.generator_url,
                &wall,
            ));
        }
        for (labels, annotations, starts, ends) in self.pushed.values() {
            if labels.get("region").is_none_or(|r| r == region) {
                out.push(self.api_alert(labels, annotations, starts, ends, "", &wall));
            }
        }
        out
    }

    fn api_alert(
        &self,
        labels: &Labels,
        annotations: &Labels,
        starts: &str,
        ends: &str,
        url: &str,
        wall: &str,
    ) -> Value {
        let silenced_by: Vec<&str> = self
            .silences
            .iter()
            .filter(|s| s.state(wall) == "active" && s.matchers.iter().all(|m| m.matches(labels)))
            .map(|s| s.id.as_str())
            .collect();
        json!({"labels": labels, "annotations": annotations, "startsAt": starts, "endsAt": ends, "updatedAt": wall,
            "generatorURL": url, "fingerprint": fingerprint(labels), "receivers": [{"name": "on-call"}],
            "status": {"state": if silenced_by.is_empty() { "active" } else { "suppressed" }, "silencedBy": silenced_by, "inhibitedBy": []}})
    }

    /// Adds or replaces a silence; returns its id.
    pub fn silence(&mut self, mut s: Silence) -> String {
        if s.id.is_empty() || !self.silences.iter().any(|x| x.id == s.id) {
            self.next_silence += 1;
            s.id = format!(
                "5a1e{:04x}-0000-4000-8000-{:012x}",
                self.next_silence, self.next_silence
            );
        }
        let id = s.id.clone();
        self.silences.retain(|x| x.id != id);
        self.silences.push(s);
        id
    }
}

fn annotations(rule: &str, labels: &Labels, value: f64) -> Labels {
    let l = |k: &str| labels.get(k).cloned().unwrap_or_default();
    let (summary, description) = match rule {
        "ServiceDown" => (
            format!("Service {} is down", l("instance")),
            format!(
                "{} at {} has been down for more than a minute.",
                l("job"),
                l("instance")
            ),
        ),
        "HighAPILatency" => (
            "High API latency detected".into(),
            format!(
                "The 95th percentile latency of {} is {value:.3}s.",
                l("instance")
            ),
        ),
        "HighErrorRate" => (
            "High error rate detected".into(),
            format!(
                "The error rate of {} is {:.1}%.",
                l("instance"),
                value * 100.0
            ),
        ),
        "DatabaseConnectionsHigh" => (
            "Database connection usage is high".into(),
            format!("Connection usage of {} is {value:.0}%.", l("instance")),
        ),
        "HighMemoryUsage" => (
            "High memory usage".into(),
            format!("Memory usage of {} is {value:.0}%.", l("instance")),
        ),
        "HighDiskUsage" => (
            "High disk usage".into(),
            format!("Disk usage of {} is {value:.0}%.", l("instance")),
        ),
        "HighCPUUsage" => (
            "High CPU usage".into(),
            format!("CPU usage of {} is {value:.0}%.", l("instance")),
        ),
        "PodCrashLooping" => (
            "A pod is crash-looping".into(),
            format!(
                "Pod {}/{} restarts {value:.4} times a second.",
                l("namespace"),
                l("pod")
            ),
        ),
        "AIModelInferenceLatency" => (
            "AI model inference latency is high".into(),
            format!(
                "The 95th percentile inference latency of model {} is {value:.2}s.",
                l("model_name")
            ),
        ),
        _ => (
            "AI model accuracy dropped".into(),
            format!(
                "The accuracy of model {} is {value:.3}, below the 0.85 threshold.",
                l("model_name")
            ),
        ),
    };
    [
        ("summary".to_owned(), summary),
        ("description".to_owned(), description),
    ]
    .into_iter()
    .collect()
}

fn service_breaches(region: &Region, before: &Region, out: &mut Vec<Breach>) {
    let r = || ("region", region.name.to_owned());
    for (s, old) in region.services.iter().zip(&before.services) {
        let service = || ("service", s.name.to_owned());
        let instance = || ("instance", format!("{}-service:9090", s.name));
        if !s.up {
            out.push(Breach {
                rule: 0,
                labels: vec![r(), service(), instance(), ("job", s.name.to_owned())],
                value: 0.0,
            });
            continue;
        }
        if let Some(p95) = s.latency.quantile_since(&old.latency, 0.95)
            && p95 > 0.5
        {
            out.push(Breach {
                rule: 1,
                labels: vec![r(), service(), instance()],
                value: p95,
            });
        }
        let total = (s.ok + s.errors) - (old.ok + old.errors);
        let errors = s.errors - old.errors;
        if total > 0.0 && errors / total > 0.05 {
            out.push(Breach {
                rule: 2,
                labels: vec![r(), service(), instance()],
                value: errors / total,
            });
        }
        if let (Some(h), Some(oh)) = (&s.inference, &old.inference)
            && let Some(p95) = h.quantile_since(oh, 0.95)
            && p95 > 2.0
        {
            out.push(Breach {
                rule: 8,
                labels: vec![
                    r(),
                    service(),
                    instance(),
                    ("model_name", "matching".into()),
                ],
                value: p95,
            });
        }
        if let Some(a) = s.accuracy
            && a < 0.85
        {
            out.push(Breach {
                rule: 9,
                labels: vec![
                    r(),
                    service(),
                    instance(),
                    ("model_name", "matching".into()),
                ],
                value: a,
            });
        }
    }
}

fn infrastructure_breaches(region: &Region, before: &Region, out: &mut Vec<Breach>) {
    let r = || ("region", region.name.to_owned());
    for d in &region.databases {
        let instance = || ("instance", format!("{}:9187", d.name));
        if !d.up {
            // The exporter still answers; PostgreSQL behind it does not.
            continue;
        }
        let used = d.backends / d.max_connections * 100.0;
        if used > 80.0 {
            out.push(Breach {
                rule: 3,
                labels: vec![r(), instance(), ("database", d.name.to_owned())],
                value: used,
            });
        }
    }
    for (n, old) in region.nodes.iter().zip(&before.nodes) {
        let instance = || ("instance", format!("{}:9100", n.name));
        let mem = (1.0 - n.mem_available / n.mem_total) * 100.0;
        if mem > 85.0 {
            out.push(Breach {
                rule: 4,
                labels: vec![r(), instance()],
                value: mem,
            });
        }
        let disk = (1.0 - n.fs_avail / n.fs_size) * 100.0;
        if disk > 85.0 {
            out.push(Breach {
                rule: 5,
                labels: vec![r(), instance()],
                value: disk,
            });
        }
        let idle = n.idle_seconds - old.idle_seconds;
        let all = idle + n.busy_seconds - old.busy_seconds;
        if all > 0.0 && 100.0 - idle / all * 100.0 > 85.0 {
            out.push(Breach {
                rule: 6,
                labels: vec![r(), instance()],
                value: 100.0 - idle / all * 100.0,
            });
        }
    }
}
