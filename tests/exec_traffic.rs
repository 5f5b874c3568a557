//! The global load balancer through the executor, against the sandbox's
//! Cloudflare subset (API v4: pools list, get, `PATCH enabled`, health):
//! touban's client reads what Cloudflare's published examples show, a
//! pool is disabled and read back, a job killed after its write resumes
//! without writing again, and a wrong token is refused without being
//! shown.

use std::collections::BTreeMap;
use std::sync::Arc;

use touban::config::Platform;
use touban::exec::audit::AuditLog;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::runner::{self, Who};
use touban::model::JobOutcome;
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use touban::sandbox::cloudflare::{ACCOUNT, POOLS};
use touban::sources::traffic::Cloudflare;

mod common;

use common::exec::said;

/// The sandbox's `[traffic]`, as the console would read it.
fn platform(sandbox: &touban::sandbox::Sandbox, dir: &std::path::Path) -> Platform {
    let (_, config) = sandbox.write_config(dir).expect("config");
    Platform::parse(
        "sandbox config",
        &std::fs::read_to_string(&config).expect("read"),
    )
    .expect("valid config")
}

fn pool_request(region: &str, id: &str, enabled: bool, dry_run: bool) -> ActionRequest {
    ActionRequest {
        kind: ActionKind::TrafficPool { enabled },
        target: Target {
            region: region.into(),
            cluster: "traffic".into(),
            namespace: ACCOUNT.into(),
            kind: ObjectKind::Pool,
            name: id.into(),
        },
        dry_run,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)] // one story: dry run, kill, resume, refusal, back
async fn a_pool_is_disabled_read_back_and_a_killed_job_resumes_without_writing_again() {
    let sandbox = common::calm(21, 2.0).await;
    let dir = tempfile::tempdir().expect("temp");
    let platform = platform(&sandbox, dir.path());
    let traffic = platform.traffic.as_ref().expect("[traffic]");
    let client = Cloudflare::new(traffic).expect("a client");
    let (tokyo, korea) = (POOLS[0].1, POOLS[1].1);
    for id in [tokyo, korea] {
        let s = client.status(id).await.expect("a pool");
        assert_eq!(s.summary(), "enabled, healthy (1/1 origins)", "{id}: {s:?}");
    }
    let backend = Arc::new(KubeBackend::new(BTreeMap::new()).with_traffic(Ok(client.clone())));
    let audit_path = dir.path().join("audit.jsonl");
    let audit = Arc::new(AuditLog::open(&audit_path).expect("audit log"));
    let who = Who::new("sandbox", "test@touban");

    // A dry run: planned, checked, nothing written.
    let dry = runner::prepare(
        backend.as_ref(),
        &pool_request("tokyo", tokyo, false, true),
        true,
    )
    .await
    .expect("a plan");
    assert!(
        dry.plan
            .dry_run
            .as_deref()
            .is_some_and(|d| d.contains("Cloudflare has no dry run")),
        "{:?}",
        dry.plan.dry_run
    );
    let (outcome, events) =
        common::exec::run_job(backend.as_ref(), &dry, 1, &audit, &who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    assert!(
        client.status(tokyo).await.expect("read").enabled,
        "a dry run writes nothing"
    );

    // With Korea's pool disabled, disabling Tokyo's would leave users to
    // the fallback pool: refused, offering to enable Korea's first.
    assert!(!client.set_enabled(korea, false).await.expect("disable"));
    let refused = runner::prepare(
        backend.as_ref(),
        &pool_request("tokyo", tokyo, false, false),
        true,
    )
    .await
    .expect_err("refused");
    assert!(
        refused.why.contains("leaves no enabled, healthy pool"),
        "{}",
        refused.why
    );
    assert!(
        refused.offer.as_ref().is_some_and(
            |o| o.kind == ActionKind::TrafficPool { enabled: true } && o.target.name == korea
        ),
        "{refused:?}"
    );
    assert!(client.set_enabled(korea, true).await.expect("enable"));

    // For real, killed in its read-back (the write is done): Cloudflare
    // slowed to half a second an answer, so the kill lands in a call.
    let job = runner::prepare(
        backend.as_ref(),
        &pool_request("tokyo", tokyo, false, false),
        true,
    )
    .await
    .expect("a plan");
    assert_eq!(job.plan.confirm_text.as_deref(), Some("iworkz-tokyo"));
    sandbox
        .cloudflare_api
        .set_latency(std::time::Duration::from_millis(500));
    let running = common::exec::spawn_job(
        Arc::clone(&backend),
        job.clone(),
        2,
        Arc::clone(&audit),
        who.clone(),
    );
    common::exec::kill_at_step(running, 3).await;
    sandbox
        .cloudflare_api
        .set_latency(std::time::Duration::ZERO);
    let s = client.status(tokyo).await.expect("read");
    assert!(!s.enabled, "the write was made before the kill: {s:?}");
    assert_eq!(
        s.healthy, None,
        "a disabled pool is not health-checked: {s:?}"
    );

    // Resumed: every step finds it done and writes nothing.
    let (outcome, events) =
        common::exec::run_job(backend.as_ref(), &job, 2, &audit, &who, true).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    let words = said(&events);
    assert!(
        words
            .iter()
            .any(|w| w.contains("disabled already: found as wanted")),
        "{words:#?}"
    );
    assert!(
        words
            .iter()
            .any(|w| w.contains("disabled already: nothing written")),
        "{words:#?}"
    );
    assert!(!client.status(tokyo).await.expect("read").enabled);
    assert!(
        client.status(korea).await.expect("read").enabled,
        "the other pool is untouched"
    );

    // Asked again: refused, it is disabled already.
    let again = runner::prepare(
        backend.as_ref(),
        &pool_request("tokyo", tokyo, false, false),
        true,
    )
    .await
    .expect_err("refused");
    assert!(again.why.contains("disabled already"), "{}", again.why);

    // Enabled again; the audit log has the writes, never the token.
    let enable = runner::prepare(
        backend.as_ref(),
        &pool_request("tokyo", tokyo, true, false),
        true,
    )
    .await
    .expect("a plan");
    let (outcome, events) =
        common::exec::run_job(backend.as_ref(), &enable, 3, &audit, &who, false).await;
    assert_eq!(outcome, JobOutcome::Succeeded, "{events:#?}");
    assert_eq!(
        client.status(tokyo).await.expect("read").summary(),
        "enabled, healthy (1/1 origins)"
    );
    let text = std::fs::read_to_string(&audit_path).expect("audit log");
    assert!(
        text.contains(r#""action":{"action":"traffic-pool","enabled":false}"#)
            && text.contains(r#""action":{"action":"traffic-pool","enabled":true}"#),
        "{text}"
    );
    assert!(
        !text.contains(&sandbox.cloudflare_token),
        "the token is never written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_or_pool_is_refused_saying_what_to_check_never_the_token() {
    let sandbox = common::calm(22, 2.0).await;
    let dir = tempfile::tempdir().expect("temp");
    let good = platform(&sandbox, dir.path());
    let mut platform = good.clone();
    let traffic = platform.traffic.as_mut().expect("[traffic]");
    let wrong = dir.path().join("wrong-token");
    std::fs::write(&wrong, "not-the-token\n").expect("write");
    traffic.token = toml::Spanned::new(
        0..0,
        touban::config::platform::SecretRef {
            env: None,
            file: Some(wrong),
        },
    );
    let client = Cloudflare::new(traffic).expect("a client");
    let e = client.status(POOLS[0].1).await.expect_err("refused");
    assert!(
        e.contains("HTTP 403")
            && e.contains("Authentication error")
            && e.contains("check the API token"),
        "{e}"
    );
    assert!(!e.contains("not-the-token"), "{e}");

    let right = Cloudflare::new(good.traffic.as_ref().expect("[traffic]")).expect("a client");
    let e = right
        .status("0123456789abcdef0123456789abcdef")
        .await
        .expect_err("no such pool");
    assert!(
        e.contains("HTTP 404") && e.contains("check the account and pool ids"),
        "{e}"
    );

    // The executor refuses to plan on a pool it cannot read.
    let backend = KubeBackend::new(BTreeMap::new()).with_traffic(Ok(client));
    let r = runner::prepare(
        &backend,
        &pool_request("tokyo", POOLS[0].1, false, false),
        true,
    )
    .await
    .expect_err("refused");
    assert!(
        r.why.contains("nothing was changed") && r.why.contains("403"),
        "{}",
        r.why
    );
}
