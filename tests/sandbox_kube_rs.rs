//! The sandbox with kube-rs as the client, as touban's cluster source will
//! use it: a kubeconfig context over TLS, `runtime::watcher` (list, then
//! watch, with bookmarks), a 410 answered as a watch ERROR event, and a
//! re-list after the server's history is compacted.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube::runtime::watcher::{self, Event};
use serde_json::json;
use touban::sandbox::{Options, Sandbox, Scenario};

mod common;

const NS: &str = "iworkz-production";

/// The next watcher event, failing the test after 20 s.
async fn next<T>(stream: &mut (impl futures_util::Stream<Item = T> + Unpin)) -> T {
    tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("an event within 20 s")
        .expect("the stream goes on")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_a_scale_after_its_initial_list() {
    let sandbox = common::calm(3, 10.0).await;
    let deployments: Api<Deployment> =
        Api::namespaced(common::kube_client(&sandbox, "eks-tokyo").await, NS);
    let mut stream = watcher::watcher(deployments.clone(), watcher::Config::default()).boxed();
    let mut listed = Vec::new();
    loop {
        match next(&mut stream).await.expect("no watch error") {
            Event::Init => {}
            Event::InitApply(d) => listed.push(d.metadata.name.unwrap_or_default()),
            Event::InitDone => break,
            other => panic!("unexpected before InitDone: {other:?}"),
        }
    }
    listed.sort();
    assert_eq!(listed.len(), 6, "{listed:?}");
    assert!(listed.contains(&"backend-api-blue".to_owned()));

    deployments
        .patch_scale(
            "backend-api-blue",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 6}})),
        )
        .await
        .expect("scale");
    let started = Instant::now();
    loop {
        if let Event::Apply(d) = next(&mut stream).await.expect("no watch error")
            && d.metadata.name.as_deref() == Some("backend-api-blue")
            && d.spec.as_ref().and_then(|s| s.replicas) == Some(6)
        {
            break;
        }
    }
    println!(
        "figure: scale seen by the kube-rs watcher after {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_resource_version_is_a_410_event_and_the_watcher_lists_again() {
    let sandbox = common::calm(4, 10.0).await;
    let client = common::kube_client(&sandbox, "eks-tokyo").await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);

    // A raw watch from far in the past: 200, then one ERROR event, 410 Expired.
    let mut raw = pods
        .watch(&WatchParams::default().timeout(5), "1")
        .await
        .expect("watch request")
        .boxed();
    match next(&mut raw).await.expect("a decodable event") {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired"), "{e:?}"),
        other => panic!("expected ERROR 410, got {other:?}"),
    }

    // The watcher lists, then the server compacts its history (ending the
    // watch); resuming from its old version gets 410 and it lists again.
    let mut stream = watcher::watcher(pods.clone(), watcher::Config::default()).boxed();
    let mut init_done = 0;
    while init_done == 0 {
        if matches!(next(&mut stream).await, Ok(Event::InitDone)) {
            init_done += 1;
        }
    }
    let configmaps: Api<ConfigMap> = Api::namespaced(client, NS);
    configmaps
        .patch(
            "backend-api-config",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"LOG_LEVEL": "debug"}})),
        )
        .await
        .expect("a write the pod watcher does not see");
    sandbox.clusters[0].store.compact();
    let mut saw_error = false;
    let mut relisted = Vec::new();
    while init_done < 2 {
        match next(&mut stream).await {
            Err(e) => {
                saw_error = true;
                assert!(
                    e.to_string().contains("410") || format!("{e:?}").contains("410"),
                    "{e:?}"
                );
            }
            Ok(Event::InitApply(p)) => relisted.push(p.metadata.name.unwrap_or_default()),
            Ok(Event::InitDone) => init_done += 1,
            Ok(_) => {}
        }
    }
    assert!(saw_error, "the resume was answered 410");
    assert!(!relisted.is_empty(), "the re-list brought the pods back");
    let listed = pods
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .len();
    assert_eq!(
        relisted.len(),
        listed,
        "the re-list is complete: the table never empties"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_lists_and_watches_10000_pods_per_cluster() {
    let started = Instant::now();
    let sandbox = Sandbox::start(Options {
        seed: 5,
        pods: 10_000,
        speed: 20.0,
        scenario: Scenario::Calm,
        ..Default::default()
    })
    .await
    .expect("sandbox");
    let up = started.elapsed();
    let mut figures = vec![format!("sandbox up with its world in {up:?}")];
    for (cluster, context) in [(0, "eks-tokyo"), (1, "aks-korea")] {
        let pods: Api<Pod> = Api::all(common::kube_client(&sandbox, context).await);
        // The controllers create pods in batches: wait until they are all there.
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut count = 0;
        while count < 10_000 {
            assert!(
                Instant::now() < deadline,
                "{context}: only {count} pods after 120 s"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            count = sandbox.clusters[cluster]
                .store
                .all(touban::sandbox::resource::Resource::of_kind("Pod").expect("pods"))
                .len();
        }
        let t = Instant::now();
        let mut stream = watcher::watcher(pods, watcher::Config::default()).boxed();
        let mut seen = 0usize;
        loop {
            match next(&mut stream).await.expect("no watch error") {
                Event::InitApply(_) => seen += 1,
                Event::InitDone => break,
                _ => {}
            }
        }
        assert!(seen >= 10_000, "{context}: the watcher listed {seen} pods");
        figures.push(format!("{context}: {count} pods in the store, {seen} listed by the kube-rs watcher in {:?} (pages of 500)", t.elapsed()));
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let rss = status
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .unwrap_or_default()
            .to_owned();
        figures.push(format!(
            "test process (sandbox, 2 x 10,000 pods, and the kube-rs clients) {rss}"
        ));
    }
    for f in figures {
        println!("figure: {f}");
    }
}
