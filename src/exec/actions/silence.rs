//! Silence alerts on the Alertmanager of their region, and expire
//! silences: Alertmanager API v2. A silence is its matchers (from the
//! alert's labels, edited on the command line before it is sent), a
//! duration, `createdBy` the operator (set by the executor) and a comment
//! (the job's required reason). The Alertmanager has no dry run: the plan
//! checks it answers instead.

use std::time::Duration;

use super::Seen;
use crate::exec::step::{Job, Op, SilenceOp};
use crate::model::action::{ActionRequest, Matcher};
use crate::model::plan::{Plan, PlannedStep, Refusal, StepKind};

/// The longest silence touban sends at all (the console's own bound,
/// `settings.max_silence_hours`, is checked before it asks).
pub const LONGEST: Duration = Duration::from_secs(7 * 24 * 3600);

fn step(title: String, kind: StepKind, call: &str, expect: String) -> PlannedStep {
    PlannedStep {
        title,
        kind,
        precondition: "the Alertmanager answers".into(),
        call: call.to_owned(),
        expect,
    }
}

fn plan_of(
    request: &ActionRequest,
    title: String,
    steps: Vec<PlannedStep>,
    changes: Vec<String>,
) -> Plan {
    Plan {
        request: request.clone(),
        title,
        steps,
        confirm_text: None,
        undo: None,
        reason: None,
        changes,
        dry_run: None,
        undo_request: None,
        reverts: None,
        lease: None,
        lease_override: None,
    }
}

/// The plan for a silence of `matchers` for `duration`.
pub fn silence(
    request: &ActionRequest,
    matchers: &[Matcher],
    duration: Duration,
    _seen: &Seen,
) -> Result<Job, Refusal> {
    let t = &request.target;
    if matchers.is_empty() {
        return Err(Refusal::new(
            "a silence needs at least one matcher (alertname=…): one without would silence everything",
        ));
    }
    if matchers
        .iter()
        .all(|m| !m.is_equal || (m.is_regex && matches!(m.value.as_str(), ".*" | ".+" | "")))
    {
        return Err(Refusal::new(
            "every matcher is negative or matches anything: the silence would hide every alert",
        ));
    }
    if duration.is_zero() || duration > LONGEST {
        return Err(Refusal::new(format!(
            "a silence lasts from a minute to {} days, not {} s",
            LONGEST.as_secs() / 86_400,
            duration.as_secs()
        )));
    }
    let shown: Vec<String> = matchers.iter().map(ToString::to_string).collect();
    let hours = duration.as_secs_f64() / 3600.0;
    let steps = vec![
        step(
            format!("check the Alertmanager {} answers", t.cluster),
            StepKind::Check,
            "GET /api/v2/status",
            "its status".into(),
        ),
        step(
            format!("silence {{{}}} for {hours:.1} h", shown.join(", ")),
            StepKind::Mutate,
            "POST /api/v2/silences (createdBy: the operator, comment: the reason)",
            "a silence id".into(),
        ),
        step(
            "wait until the silence is active".into(),
            StepKind::Verify,
            "GET /api/v2/silence/{id}",
            "status.state = active, within 30 s".into(),
        ),
    ];
    let plan = plan_of(
        request,
        format!("silence {} in {} for {hours:.1} h", t.name, t.region),
        steps,
        vec![format!(
            "{}: a new silence {{{}}} for {hours:.1} h",
            t.cluster,
            shown.join(", ")
        )],
    );
    Ok(Job {
        plan,
        ops: vec![
            Op::Silence(SilenceOp::Reachable),
            Op::Silence(SilenceOp::Create),
            Op::Silence(SilenceOp::AwaitActive),
        ],
        access: Vec::new(),
    })
}

/// The plan for expiring silences `ids`.
pub fn expire(request: &ActionRequest, ids: &[String], _seen: &Seen) -> Result<Job, Refusal> {
    let t = &request.target;
    if ids.is_empty() {
        return Err(Refusal::new(format!(
            "{} is not silenced: nothing to expire",
            t.name
        )));
    }
    let mut steps = vec![step(
        format!("check the Alertmanager {} answers", t.cluster),
        StepKind::Check,
        "GET /api/v2/status",
        "its status".into(),
    )];
    let mut ops = vec![Op::Silence(SilenceOp::Reachable)];
    for id in ids {
        steps.push(step(
            format!("expire silence {id}"),
            StepKind::Mutate,
            &format!("DELETE /api/v2/silence/{id}"),
            "status.state = expired".into(),
        ));
        ops.push(Op::Silence(SilenceOp::Expire { id: id.clone() }));
    }
    let plan = plan_of(
        request,
        format!("expire the silences of {} in {}", t.name, t.region),
        steps,
        ids.iter()
            .map(|id| format!("{}: silence {id} expired", t.cluster))
            .collect(),
    );
    Ok(Job {
        plan,
        ops,
        access: Vec::new(),
    })
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;
    use crate::model::action::{ActionKind, ObjectKind, Target};

    fn request() -> ActionRequest {
        ActionRequest {
            kind: ActionKind::Expire { ids: Vec::new() },
            target: Target {
                region: "tokyo".into(),
                cluster: "alertmanager".into(),
                namespace: String::new(),
                kind: ObjectKind::Silence,
                name: "ServiceDown".into(),
            },
            dry_run: false,
        }
    }

    #[test]
    fn a_silence_that_would_hide_everything_is_refused() {
        let hour = Duration::from_secs(3600);
        let r = request();
        assert!(silence(&r, &[], hour, &Seen::default()).is_err());
        let anything = Matcher::parse("alertname=~.*").expect("parses");
        assert!(silence(&r, &[anything], hour, &Seen::default()).is_err());
        let negative = Matcher::parse("team!=ai").expect("parses");
        assert!(silence(&r, std::slice::from_ref(&negative), hour, &Seen::default()).is_err());
        let named = Matcher::equal("alertname", "ServiceDown");
        let job = silence(&r, &[named.clone(), negative], hour, &Seen::default()).expect("a plan");
        assert_eq!(job.ops.len(), 3);
        assert!(silence(&r, &[named], LONGEST * 2, &Seen::default()).is_err());
        assert!(expire(&r, &[], &Seen::default()).is_err());
    }

    #[test]
    fn matchers_parse_as_amtool_writes_them() {
        let m = Matcher::parse("instance=~\"10\\.0\\..*\"").expect("parses");
        assert!(m.is_regex && m.is_equal && m.value == "10\\.0\\..*");
        let m = Matcher::parse("severity!=info").expect("parses");
        assert!(!m.is_equal && !m.is_regex);
        assert!(Matcher::parse("no matcher").is_err());
        assert!(Matcher::parse("1abc=x").is_err());
        assert_eq!(Matcher::equal("a", "b").to_string(), "a=\"b\"");
    }
}
