//! Node groups sized through the executor and the clouds' real clients:
//! Tokyo's EKS managed node group through `aws-sdk-eks`
//! (`UpdateNodegroupConfig`, followed with `DescribeUpdate`) and Korea's
//! AKS agent pool through Resource Manager (its `PUT`, followed to the
//! operation's end), against the sandbox, whose new nodes join the
//! cluster NotReady and turn Ready as the job waits for them; a resumed
//! job sends nothing twice; and the same EKS calls against moto, an
//! independent emulator, where moto implements them.

use touban::config::Platform;
use touban::exec::audit::AuditLog;
use touban::exec::backend::Backend;
use touban::exec::backend::kube::KubeBackend;
use touban::exec::backend::nodepool::Sizes;
use touban::exec::runner::{self, Who};
use touban::model::JobOutcome;
use touban::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use touban::sandbox::Scenario;
use touban::sandbox::cloudwatch::AWS_REGION;

mod common;

use common::exec::said;

fn request(cluster: &str, region: &str, group: &str, sizes: Sizes) -> ActionRequest {
    ActionRequest {
        kind: ActionKind::NodeGroup {
            min: sizes.min,
            desired: sizes.desired,
            max: sizes.max,
        },
        target: Target {
            region: region.into(),
            cluster: cluster.into(),
            namespace: "kube-system".into(),
            kind: ObjectKind::NodeGroup,
            name: group.into(),
        },
        dry_run: false,
    }
}

fn desired(n: u32) -> Sizes {
    Sizes {
        desired: Some(n),
        ..Sizes::default()
    }
}

async fn ready_nodes<B: Backend>(backend: &B, t: &Target, label: &str) -> (usize, usize) {
    let n = backend
        .labelled_nodes(t, label, &t.name)
        .await
        .expect("nodes listed");
    (n.len(), n.iter().filter(|(_, r)| *r).count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokyo_s_general_group_is_raised_through_eks_its_nodes_join_and_a_resumed_job_sends_nothing()
 {
    let (_sandbox, dir, app) = common::world(Scenario::Calm, 31).await;
    let backend = KubeBackend::for_clusters(&app.platform().clusters);
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    let r = request("eks-tokyo", "tokyo", "general", desired(8));
    let job = runner::prepare(&backend, &r, true).await.expect("a plan");
    assert_eq!(
        job.plan.title,
        "size node group general in eks-tokyo to min 3, desired 8, max 20"
    );
    assert_eq!(
        job.plan.steps[1].call,
        "UpdateNodegroupConfig general scalingConfig min 3, desired 8, max 20, then DescribeUpdate until Successful"
    );
    assert_eq!(
        job.plan.steps[0].precondition,
        "general ACTIVE 3 ≤ 6 ≤ 20 (m6i.large/m6i.xlarge)"
    );
    assert!(
        job.plan
            .dry_run
            .as_deref()
            .unwrap_or_default()
            .contains("no dry run")
    );
    assert_eq!(job.plan.confirm_text, None);
    let t = &job.plan.request.target;
    let label = "eks.amazonaws.com/nodegroup";
    assert_eq!(ready_nodes(&backend, t, label).await, (6, 6));

    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    let steps = said(&events);
    eprintln!("eks: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[1].contains("succeeded after"), "{steps:?}");
    assert!(steps[1].contains("general ACTIVE 3 ≤ 8 ≤ 20"), "{steps:?}");
    assert!(steps[2].contains("8 node(s) of general Ready"), "{steps:?}");
    assert_eq!(ready_nodes(&backend, t, label).await, (8, 8));
    let p = backend.node_pool(t).await.expect("read");
    assert_eq!((p.desired, p.status.as_str()), (8, "ACTIVE"));

    // Run again, resumed: the sizes are there; nothing is sent.
    let (outcome, events) = common::exec::run_job(&backend, &job, 2, &audit, &who, true).await;
    let steps = said(&events);
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(
        steps[0].contains("before this job was interrupted"),
        "{steps:?}"
    );
    assert!(steps[1].ends_with("nothing sent"), "{steps:?}");

    // Killed right after its call: the next console finds the group
    // updating, sends nothing, waits for it and for the nodes.
    let back = runner::prepare(
        &backend,
        &request("eks-tokyo", "tokyo", "general", desired(6)),
        true,
    )
    .await
    .expect("a plan back");
    assert_eq!(
        back.plan.confirm_text.as_deref(),
        Some("general"),
        "removing nodes is typed"
    );
    backend
        .node_pool_set(
            t,
            Sizes {
                min: Some(3),
                desired: Some(6),
                max: Some(20),
            },
        )
        .await
        .expect("the interrupted run's call");
    let (outcome, events) = common::exec::run_job(&backend, &back, 3, &audit, &who, true).await;
    let steps = said(&events);
    eprintln!("resumed after its call: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[1].ends_with("nothing sent"), "{steps:?}");
    assert_eq!(ready_nodes(&backend, t, label).await, (6, 6));

    let audit_text = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit");
    assert!(audit_text.contains("\"node-group\""), "{audit_text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn korea_s_agent_pool_is_raised_by_two_through_resource_manager_and_refusals_name_the_way() {
    let (_sandbox, dir, app) = common::world(Scenario::Calm, 32).await;
    let backend = KubeBackend::for_clusters(&app.platform().clusters);
    let audit = AuditLog::open(&dir.path().join("audit.jsonl")).expect("audit log");
    let who = Who::new("test", "aiko@bastion");
    let r = request("aks-korea", "korea", "general", desired(5));
    let job = runner::prepare(&backend, &r, false).await.expect("a plan");
    assert_eq!(
        job.plan.steps[1].call,
        "PUT agentPools/general count 5, then its Azure-AsyncOperation until Succeeded"
    );
    assert_eq!(
        job.plan.steps[0].precondition,
        "general Succeeded 3 nodes (Standard_D4s_v5)"
    );
    let t = &job.plan.request.target;
    let (outcome, events) = common::exec::run_job(&backend, &job, 1, &audit, &who, false).await;
    let steps = said(&events);
    eprintln!("aks: {steps:#?}");
    assert_eq!(outcome, JobOutcome::Succeeded, "{steps:?}");
    assert!(steps[1].contains("succeeded after"), "{steps:?}");
    assert!(
        steps[2].contains("5 node(s) of general Ready in aks-korea"),
        "{steps:?}"
    );
    assert!(steps[2].contains("(3 when planned)"), "{steps:?}");
    assert_eq!(ready_nodes(&backend, t, "agentpool").await, (5, 5));

    // A manual pool has no autoscaler bounds; a System pool keeps a node;
    // the cloud's refusal of an unknown pool is named.
    let bounds = Sizes {
        max: Some(9),
        ..Sizes::default()
    };
    let e = runner::prepare(
        &backend,
        &request("aks-korea", "korea", "general", bounds),
        false,
    )
    .await
    .expect_err("refused");
    assert!(e.to_string().contains("manual agent pool"), "{e}");
    let e = runner::prepare(
        &backend,
        &request("aks-korea", "korea", "general", desired(0)),
        false,
    )
    .await
    .expect_err("refused");
    assert!(e.to_string().contains("System agent pool"), "{e}");
    let e = runner::prepare(
        &backend,
        &request("aks-korea", "korea", "gpu", desired(1)),
        false,
    )
    .await
    .expect_err("refused");
    assert!(
        e.to_string().contains("Could not find agent pool 'gpu'"),
        "{e}"
    );
    assert!(e.to_string().contains("aks.cluster"), "{e}");
}

/// The EKS calls against moto: a cluster and its node group created with
/// the SDK, read, planned from and sized (moto applies the new sizes at
/// once; it implements no `DescribeUpdate`, so the job's following of the
/// update is proved against the sandbox only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_moto_the_same_eks_calls_read_and_size_a_node_group() {
    let (_moto, url) = common::moto::moto_server();
    let sdk = aws_sdk_eks::Client::from_conf(
        aws_sdk_eks::config::Builder::new()
            .behavior_version(aws_sdk_eks::config::BehaviorVersion::latest())
            .region(aws_sdk_eks::config::Region::new(AWS_REGION))
            .endpoint_url(&url)
            .credentials_provider(aws_sdk_eks::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build(),
    );
    sdk.create_cluster()
        .name("iworkz-production")
        .role_arn("arn:aws:iam::123456789012:role/eks")
        .resources_vpc_config(
            aws_sdk_eks::types::VpcConfigRequest::builder()
                .subnet_ids("subnet-1")
                .build(),
        )
        .send()
        .await
        .expect("create cluster");
    sdk.create_nodegroup()
        .cluster_name("iworkz-production")
        .nodegroup_name("general")
        .node_role("arn:aws:iam::123456789012:role/node")
        .subnets("subnet-1")
        .scaling_config(
            aws_sdk_eks::types::NodegroupScalingConfig::builder()
                .min_size(3)
                .desired_size(6)
                .max_size(20)
                .build(),
        )
        .send()
        .await
        .expect("create node group");
    let text = format!(
        "{}\n[[clusters]]\nname = \"eks-tokyo\"\nregion = \"tokyo\"\ncontext = \"eks-tokyo\"\n\
         node_groups = [{{ name = \"general\", min = 3, max = 20, desired = 6 }}]\n\
         eks = {{ identifier = \"iworkz-production\", aws_region = \"{AWS_REGION}\", endpoint = \"{url}\", anonymous = true }}\n",
        common::TWO_REGIONS
    );
    let platform = Platform::parse("test config", &text).expect("valid config");
    let backend = KubeBackend::for_clusters(&platform.clusters);
    let t = request("eks-tokyo", "tokyo", "general", desired(9)).target;
    let p = backend.node_pool(&t).await.expect("DescribeNodegroup");
    assert_eq!((p.min, p.desired, p.max), (Some(3), 6, Some(20)));
    assert_eq!(p.status, "ACTIVE");
    let id = backend
        .node_pool_set(
            &t,
            Sizes {
                min: Some(3),
                desired: Some(9),
                max: Some(20),
            },
        )
        .await
        .expect("UpdateNodegroupConfig");
    assert!(
        id.is_some_and(|id| !id.is_empty()),
        "an update id to follow"
    );
    let p = backend.node_pool(&t).await.expect("DescribeNodegroup");
    assert_eq!(p.desired, 9);
    let e = backend
        .node_pool(&request("eks-tokyo", "tokyo", "gpu", desired(1)).target)
        .await
        .expect_err("no such group");
    assert!(e.what.contains("ResourceNotFoundException"), "{}", e.what);
}

/// The Scaling pane shows the cloud's sizes once read (the node-group
/// reader against the sandbox's EKS and Resource Manager), the cloud's
/// error for a group it could not read, and the config's sizes, with the
/// reading's age, once the reading is old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scaling_pane_shows_the_cloud_s_sizes_its_errors_and_old_readings() {
    use std::time::Duration;
    use touban::app::Event;
    use touban::model::cluster::{CloudGroups, NodePool};
    use touban::model::{Command, Pane, Update};

    let (sandbox, _dir, mut app) = common::world(Scenario::Calm, 33).await;
    // The cloud resized Korea's pool behind the config's back.
    let backend = KubeBackend::for_clusters(&app.platform().clusters);
    let t = request("aks-korea", "korea", "general", desired(4)).target;
    backend
        .node_pool_set(&t, desired(4))
        .await
        .expect("the agent pool's PUT");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(64);
    touban::sources::nodegroups::spawn(app.platform(), &tx, Duration::from_millis(200));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut read = 0;
    while read < 2 {
        assert!(std::time::Instant::now() < deadline, "both clusters read");
        let Some(Event::Update(u @ Update::CloudGroups { .. })) = rx.recv().await else {
            continue;
        };
        // Read now, as the app's fixed clock has it.
        let Update::CloudGroups {
            cluster,
            mut groups,
        } = u
        else {
            continue;
        };
        groups.at = app.now();
        app.handle(Event::Update(Update::CloudGroups { cluster, groups }));
        read += 1;
    }
    app.run(Command::Focus(Pane::Scaling));
    let screen = common::text(&common::render(&app, 160, 48));
    let row = |cluster: &str, group: &str| {
        screen
            .lines()
            .find(|l| l.contains(cluster) && l.contains(&format!(" {group} ")))
            .unwrap_or_default()
            .to_owned()
    };
    let korea = row("aks-korea", "general");
    assert!(
        korea.contains(" 4 "),
        "the cloud's desired 4: {korea}\n{screen}"
    );
    assert!(
        korea.contains("Updating") || korea.contains("Succeeded"),
        "{korea}"
    );
    let tokyo = row("eks-tokyo", "general");
    assert!(tokyo.contains("ACTIVE"), "{tokyo}");

    // A group the cloud does not answer for: its error; an old reading:
    // its age, the config's sizes standing in.
    let pool = |name: &str| NodePool {
        cloud: touban::model::cluster::Cloud::Eks,
        name: name.into(),
        status: "ACTIVE".into(),
        min: Some(1),
        desired: 9,
        max: Some(12),
        autoscale: false,
        system: false,
        instance: "m6i.large".into(),
    };
    app.handle(Event::Update(Update::CloudGroups {
        cluster: "eks-tokyo".into(),
        groups: CloudGroups {
            at: app.now() - Duration::from_secs(300),
            groups: vec![
                ("general".into(), Ok(pool("general"))),
                (
                    "compute-optimized".into(),
                    Err("EKS DescribeNodegroup iworkz-production/compute-optimized: AccessDeniedException".into()),
                ),
            ],
        },
    }));
    let screen = common::text(&common::render(&app, 160, 48));
    let row = |cluster: &str, group: &str| {
        screen
            .lines()
            .find(|l| l.contains(cluster) && l.contains(&format!(" {group} ")))
            .unwrap_or_default()
            .to_owned()
    };
    let old = row("eks-tokyo", "general");
    assert!(old.contains("ACTIVE 5 min ago"), "{old}");
    assert!(
        !old.contains(" 9 "),
        "an old reading's sizes are not shown as the cloud's: {old}"
    );
    let failed = row("eks-tokyo", "compute-optimized");
    assert!(failed.contains("error: EKS DescribeNodegroup"), "{failed}");
    drop(sandbox);
}
