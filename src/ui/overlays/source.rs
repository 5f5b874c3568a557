//! A source whole, opened with Enter in the Data, AI, Failover and Scaling
//! panes: its state and last error, where it reads from (credentials
//! masked), every figure, the thresholds they are judged by and how many
//! polls each crossed rule has held; and a job whole, from the Jobs pane.

use ratatui::text::{Line, Span};

use crate::app::App;
use crate::app::jobs::{JobRow, StepState};
use crate::config::secret::mask_url;
use crate::model::data::{DataStatus, Thresholds};
use crate::model::verdict::Level;
use crate::model::{JobId, SourceId, SourceKind};
use crate::ui::Styles;
use crate::ui::panes::{ai, data, level_style, verdict_line};
use crate::ui::text::word as tr_word;

/// The overlay's title: what the source is, and where.
pub fn title(app: &App, id: &SourceId) -> String {
    format!(
        " {} · {} · {} ",
        id.name,
        kind_word(id.kind),
        app.platform().region_display(&id.region)
    )
}

fn kind_word(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Cluster => "Kubernetes cluster",
        SourceKind::Database => "database",
        SourceKind::Cache => "cache",
        SourceKind::AiService => "AI service",
        SourceKind::Alerts => "alert source",
        SourceKind::Metrics => "Prometheus for figures",
        SourceKind::Traffic => "global load balancer pool",
    }
}

fn heading<'a>(st: &Styles, text: &str) -> Line<'a> {
    Line::from(Span::styled(text.to_owned(), st.accent))
}

fn field<'a>(st: &Styles, k: &'static str, v: String) -> Line<'a> {
    let k = tr_word(k);
    Line::from(vec![
        Span::styled(format!("  {}", crate::ui::text::pad(&k, 14)), st.muted),
        Span::styled(v, st.text),
    ])
}

/// Every line of a source's detail.
pub fn lines<'a>(app: &App, st: &Styles, id: &SourceId) -> Vec<Line<'a>> {
    let state = app.source(&id.region, id.kind, &id.name);
    let mut out = vec![heading(st, "State")];
    let mut now = vec![
        Span::styled(format!("  {:<14}", "source"), st.muted),
        Span::styled(tr_word(state.word()), st.state(state)),
    ];
    if let Some(since) = state.since().filter(|_| !state.is_live()) {
        now.push(Span::styled(format!(" for {}", app.age(since)), st.muted));
    }
    out.push(Line::from(now));
    if let Some(why) = state.failure() {
        out.push(Line::from(vec![
            Span::styled(format!("  {:<14}", "last error"), st.muted),
            Span::styled(why.to_owned(), st.crit),
        ]));
    }
    let mut verdict = verdict_line(st, &app.cell(&id.region, id.kind, &id.name), 0).spans;
    verdict.insert(0, Span::styled(format!("  {:<14}", "verdict"), st.muted));
    out.push(Line::from(verdict));
    out.push(Line::default());
    out.push(heading(st, "Reads from"));
    out.extend(endpoints(app, st, id));
    out.push(Line::default());
    out.push(heading(st, "Figures"));
    let figures = crate::ui::panes::last_known(st, state.is_live(), figures(app, st, id));
    if figures.is_empty() {
        out.push(Line::from(Span::styled(
            tr_word("  nothing read yet"),
            st.muted,
        )));
    }
    out.extend(figures);
    if matches!(
        id.kind,
        SourceKind::Database | SourceKind::Cache | SourceKind::AiService
    ) {
        out.push(Line::default());
        out.extend(rules(app, st, id));
    }
    out
}

/// Where the source reads from, as the config says, with credentials
/// masked.
fn endpoints<'a>(app: &App, st: &Styles, id: &SourceId) -> Vec<Line<'a>> {
    let p = app.platform();
    let mut out = Vec::new();
    // The host only, as in the Data pane: no user name on a shared screen.
    let mut direct = |d: &crate::config::platform::Direct| {
        out.extend(data::reach(st, Some(d), None, None));
        if d.password.is_some() {
            out.push(field(
                st,
                "password",
                "from the config's secret reference (never shown)".into(),
            ));
        }
    };
    match id.kind {
        SourceKind::Database => {
            if let Some(d) = p.databases.iter().find(|d| d.name.get_ref() == &id.name) {
                if let Some(x) = &d.direct {
                    direct(x);
                }
                out.extend(data::reach(
                    st,
                    None,
                    d.exporter.as_ref().map(|e| e.get_ref().as_str()),
                    d.cloudwatch.as_ref(),
                ));
            }
        }
        SourceKind::Cache => {
            if let Some(c) = p.caches.iter().find(|c| c.name.get_ref() == &id.name) {
                if let Some(x) = &c.direct {
                    direct(x);
                }
                if let Some(m) = &c.master_name {
                    out.push(field(st, "sentinel of", m.clone()));
                }
                out.extend(data::reach(
                    st,
                    None,
                    c.exporter.as_ref().map(|e| e.get_ref().as_str()),
                    c.cloudwatch.as_ref(),
                ));
            }
        }
        SourceKind::AiService => {
            if let Some(a) = p.ai_services.iter().find(|a| a.name.get_ref() == &id.name) {
                out.push(field(st, "health", mask_url(a.health.get_ref())));
                out.push(field(st, "ready", mask_url(a.ready.get_ref())));
                if let Some(m) = &a.metrics {
                    out.push(field(st, "metrics", mask_url(m.get_ref())));
                }
            }
        }
        SourceKind::Cluster => {
            if let Some(c) = p.clusters.iter().find(|c| c.name.get_ref() == &id.name) {
                out.push(field(st, "context", c.context.clone()));
                out.push(field(
                    st,
                    "kubeconfig",
                    c.kubeconfig.as_ref().map_or_else(
                        || "$KUBECONFIG, else ~/.kube/config".to_owned(),
                        |k| k.display().to_string(),
                    ),
                ));
                out.push(field(
                    st,
                    "namespaces",
                    if c.namespaces.is_empty() {
                        "all".to_owned()
                    } else {
                        c.namespaces.join(", ")
                    },
                ));
            }
        }
        SourceKind::Metrics => {}
        SourceKind::Traffic => {
            if let Some(t) = &p.traffic {
                out.push(field(st, "api", mask_url(t.api.get_ref())));
                out.push(field(st, "account", t.account.get_ref().clone()));
                if let Some(pool) = t.pools.iter().find(|x| x.region.get_ref() == &id.region) {
                    out.push(field(st, "pool", pool.id.get_ref().clone()));
                }
            }
        }
        SourceKind::Alerts => {
            if let Some(u) = p
                .alert_sources
                .iter()
                .find(|a| a.name.get_ref() == &id.name)
                .and_then(|a| a.url.as_ref())
            {
                out.push(field(st, "url", mask_url(u.get_ref())));
            }
        }
    }
    if out.is_empty() {
        out.push(field(st, "config", "not in the platform file".into()));
    }
    out
}

/// Every figure the source's last reading holds.
fn figures<'a>(app: &App, st: &Styles, id: &SourceId) -> Vec<Line<'a>> {
    let t = &app.platform().thresholds;
    if id.kind == SourceKind::Cluster {
        return app.cluster(&id.name).map_or_else(Vec::new, |c| {
            let s = c.summary(app.now());
            vec![
                field(st, "nodes", format!("{}/{} ready", s.nodes_ready, s.nodes)),
                field(
                    st,
                    "deployments",
                    format!("{}/{} available", s.deployments_available, s.deployments),
                ),
                field(
                    st,
                    "pods",
                    if app.source(&id.region, id.kind, &id.name).is_live() {
                        format!(
                            "{} · {} not ready · {} starting · {} crash-looping",
                            s.pods, s.pods_not_ready, s.pods_starting, s.crash_looping
                        )
                    } else {
                        // What is wrong now is unknown, never a zero.
                        format!(
                            "{} last known · ? not ready · ? starting · ? crash-looping",
                            s.pods
                        )
                    },
                ),
                field(st, "services", c.services.len().to_string()),
                field(st, "autoscalers", c.hpas.len().to_string()),
                field(st, "events kept", c.events.len().to_string()),
            ]
        });
    }
    let mut lines = match app.data(&id.region, id.kind, &id.name) {
        Some(DataStatus::Database(d)) => data::db_lines(st, d, t),
        Some(DataStatus::Cache(c)) => data::cache_lines(st, c, t),
        Some(DataStatus::Ai(a)) => ai::ai_lines(st, a, t),
        Some(DataStatus::Pool(pool)) => vec![
            field(st, "name", pool.name.clone()),
            field(st, "state", pool.summary()),
            field(
                st,
                "disabled at",
                pool.disabled_at.clone().unwrap_or_else(|| "-".into()),
            ),
        ],
        None => Vec::new(),
    };
    lines.extend(data::cloudwatch_lines(
        app,
        st,
        app.cloudwatch(&id.region, id.kind, &id.name),
    ));
    lines
}

/// The thresholds the source is judged by, and each rule crossed now with
/// the polls it has held against the `hold_polls` it needs.
fn rules<'a>(app: &App, st: &Styles, id: &SourceId) -> Vec<Line<'a>> {
    let t = &app.platform().thresholds;
    let need = *t.hold_polls.get_ref();
    let mut out = vec![heading(
        st,
        &format!(
            "Thresholds (a rule fails after {need} polls in a row; rates over {} s)",
            t.window_seconds.get_ref()
        ),
    )];
    for (k, v) in thresholds(t, id.kind) {
        out.push(field(st, k, v));
    }
    match app.rules(id) {
        None => out.push(field(st, "crossed now", "nothing read yet".into())),
        Some(rules) if rules.is_empty() => {
            out.push(field(st, "crossed now", "none".into()));
        }
        Some(rules) => {
            for (f, held) in rules {
                let level = match held {
                    Some(n) if n < need => Level::Pending,
                    _ => Level::of(f.health),
                };
                let held = held.map_or_else(
                    || "at once".to_owned(),
                    |n| format!("held {n}/{need} polls"),
                );
                out.push(Line::from(vec![
                    Span::styled(format!("  {:<14}", f.rule), st.muted),
                    Span::styled(
                        format!("{} ", tr_word(level.word())),
                        level_style(st, level),
                    ),
                    Span::styled(format!("{} ", f.why), st.text),
                    Span::styled(format!("({held})"), st.muted),
                ]));
            }
        }
    }
    out
}

fn thresholds(t: &Thresholds, kind: SourceKind) -> Vec<(&'static str, String)> {
    let pct = |x: f64| format!("{:.0} %", x * 100.0);
    match kind {
        SourceKind::Database => vec![
            (
                "connections",
                format!("degraded above {} of max", pct(t.connections_warn)),
            ),
            (
                "lag",
                format!(
                    "degraded above {} s, failing above {} s",
                    t.lag_warn_seconds, t.lag_crit_seconds
                ),
            ),
        ],
        SourceKind::Cache => vec![(
            "memory",
            format!("degraded above {} of maxmemory", pct(t.cache_memory_warn)),
        )],
        SourceKind::AiService => vec![
            (
                "p95",
                format!("degraded above {} s", t.inference_p95_warn_seconds),
            ),
            (
                "accuracy",
                format!("failing below {}", pct(t.accuracy_crit)),
            ),
            (
                "errors",
                format!("failing above {}", pct(t.error_rate_crit)),
            ),
        ],
        SourceKind::Cluster | SourceKind::Alerts | SourceKind::Metrics | SourceKind::Traffic => {
            Vec::new()
        }
    }
}

/// The overlay's title for a job.
pub fn job_title(id: JobId) -> String {
    format!(" Job #{} ", id.0)
}

/// Every line of a job's detail.
pub fn job_lines<'a>(app: &App, st: &Styles, id: JobId) -> Vec<Line<'a>> {
    let Some(job): Option<&JobRow> = app.jobs().iter().find(|j| j.id == id) else {
        return vec![Line::from(Span::styled(
            tr_word("  this job is no longer in the session's table"),
            st.muted,
        ))];
    };
    let mut out = vec![
        field(st, "what", job.title.clone()),
        field(st, "asked", format!("{} ago", app.age(job.queued))),
    ];
    if let Some(plan) = &job.plan {
        let t = &plan.request.target;
        out.push(field(
            st,
            "region",
            app.platform().region_display(&t.region).to_owned(),
        ));
        out.push(field(st, "cluster", t.cluster.clone()));
        out.push(field(st, "namespace", t.namespace.clone()));
        let kind: &'static str = t.kind.into();
        out.push(field(st, "object", format!("{kind} {}", t.name)));
        if plan.request.dry_run {
            out.push(field(
                st,
                "dry run",
                "yes: every write checked by the server, nothing changed".to_owned(),
            ));
        }
        if let Some(undo) = &plan.undo {
            out.push(field(st, "undo", undo.clone()));
        }
        if let Some(reason) = &plan.reason {
            out.push(field(st, "reason", reason.clone()));
        }
        for change in &plan.changes {
            out.push(field(st, "changes", change.clone()));
        }
        if let Some(dry) = &plan.dry_run {
            out.push(field(st, "checked", dry.clone()));
        }
    }
    let (state, style) = crate::ui::panes::jobs::state(job, st);
    out.push(Line::from(vec![
        Span::styled(format!("  {:<14}", "state"), st.muted),
        Span::styled(state, style),
    ]));
    if !job.steps.is_empty() {
        out.push(Line::default());
        out.push(Line::from(Span::styled(tr_word("  steps"), st.title)));
    }
    let planned = job
        .plan
        .as_ref()
        .map(|p| p.steps.as_slice())
        .unwrap_or_default();
    for (i, step) in job.steps.iter().enumerate() {
        let (mark, style, said) = match &step.state {
            StepState::Pending => ("·", st.muted, None),
            StepState::Running => ("▶", st.text, None),
            StepState::Done(said) => ("✓", st.ok, Some(said)),
            StepState::Failed(why) => ("✗", st.crit, Some(why)),
        };
        out.push(Line::from(vec![
            Span::styled(format!("  {mark} {}. ", i + 1), style),
            Span::styled(step.title.clone(), st.text),
        ]));
        if let Some(p) = planned.get(i) {
            out.push(Line::from(Span::styled(
                format!("       needs   {}", p.precondition),
                st.muted,
            )));
            out.push(Line::from(Span::styled(
                format!("       call    {}", p.call),
                st.muted,
            )));
            out.push(Line::from(Span::styled(
                format!("       expects {}", p.expect),
                st.muted,
            )));
        }
        if let Some(said) = said {
            out.push(Line::from(Span::styled(
                format!("       saw     {said}"),
                style,
            )));
        }
    }
    out
}
