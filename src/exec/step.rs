//! The operations a runner performs, one per planned step: what the plan
//! shows is [`PlannedStep`], what is done is [`Op`].
//!
//! [`PlannedStep`]: crate::model::plan::PlannedStep

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::plan::Plan;

/// One primitive operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// The deployment still wants `replicas`, as when it was planned: a
    /// change since then fails the job before anything is written.
    ExpectReplicas {
        /// The replicas planned from.
        replicas: i32,
    },
    /// Sets the deployment's `scale` subresource, if it still wants
    /// `from` (the resourceVersion last read is the write's precondition;
    /// a 409 from a change of status only is read again and retried).
    Scale {
        /// The replicas wanted.
        replicas: u32,
        /// The replicas it wanted when planned.
        from: i32,
    },
    /// Waits until the scale is done by kubectl's rollout rules; fails
    /// when they say stalled, or after `within`.
    AwaitScaled {
        /// The replicas wanted.
        replicas: u32,
        /// How long to wait at most.
        within: Duration,
    },
    /// The deployment is still at the generation it was planned from (no
    /// one changed its spec since).
    ExpectGeneration {
        /// `metadata.generation` planned from.
        generation: i64,
    },
    /// Sets the pod template's `restartedAt` annotation to `at` (the
    /// resourceVersion last read is the write's precondition).
    Restart {
        /// The annotation's value: the time of planning.
        at: String,
    },
    /// Waits until the pods of the template restarted at `at` are every
    /// replica, updated and available, and no old one runs; fails when
    /// stalled, or after `within`.
    AwaitRestarted {
        /// The annotation's value.
        at: String,
        /// How long to wait at most.
        within: Duration,
    },
    /// The HPA still has the bounds it was planned from (and exists).
    ExpectBounds {
        /// `spec.minReplicas` planned from.
        min: i32,
        /// `spec.maxReplicas` planned from.
        max: i32,
        /// The deployment it scaled when planned.
        deployment: String,
    },
    /// Sets the HPA's bounds, if it still has `from` (the resourceVersion
    /// last read is the write's precondition; a 409 is read again).
    SetBounds {
        /// The new minimum.
        min: u32,
        /// The new maximum.
        max: u32,
        /// The bounds planned from.
        from: (i32, i32),
    },
    /// Waits until the HPA's target deployment wants a count inside the
    /// bounds and is rolled out; fails when stalled, or after `within`.
    AwaitWithinBounds {
        /// The deployment the HPA scales.
        deployment: String,
        /// The minimum.
        min: u32,
        /// The maximum.
        max: u32,
        /// How long to wait at most.
        within: Duration,
    },
    /// A step of a blue-green job.
    Release(ReleaseOp),
    /// Sets the deployment's first container image, if it is still `from`
    /// (a JSON patch that tests it).
    SetImage {
        /// The image planned from.
        from: String,
        /// The image wanted.
        to: String,
    },
    /// Replaces the deployment's pod template with a revision's, if the
    /// deployment is still at `generation` (a JSON patch that tests it).
    RestoreTemplate {
        /// The revision.
        revision: u32,
        /// `metadata.generation` planned from.
        generation: i64,
        /// The revision's pod template (without `pod-template-hash`).
        template: serde_json::Value,
    },
    /// Waits until the deployment runs `image` on every replica, rolled
    /// out by kubectl's rules, no old pod left; fails when stalled (past
    /// its progress deadline), or after `within`.
    AwaitRolledOut {
        /// The image of the new template.
        image: String,
        /// How long to wait at most.
        within: Duration,
    },
    /// A step of a silence or its expiry.
    Silence(SilenceOp),
    /// A step of a database failover or fence.
    Db(DbOp),
    /// A step of a cache failover.
    Cache(CacheOp),
    /// A step on a load-balancer pool.
    Traffic(TrafficOp),
    /// A step of re-pointing applications at a promoted database.
    Config(ConfigOp),
    /// A step of an Azure read replica's promotion.
    Azure(AzureOp),
    /// A step of an RDS failover or promotion.
    Rds(RdsOp),
    /// A step of an ElastiCache `TestFailover`.
    ElastiCache(ElastiCacheOp),
    /// A step of sizing a node group in its cloud.
    NodeGroup(NodeGroupOp),
    /// A step of applying a `[[manifests]]` set to a cluster.
    Manifest(ManifestOp),
    /// A step of Terraform / OpenTofu on an `[[infrastructure]]`.
    Infra(InfraOp),
    /// Waits for the operator to let the job go on (the region runbook's
    /// points of no return); cancelling ends the job there.
    Gate {
        /// What the operator is to do or know first.
        what: String,
    },
    /// A step of one part of a job of parts (the region runbook): `op`
    /// performed as a step of `request`'s own job.
    Part {
        /// The part's action and target.
        request: Box<crate::model::action::ActionRequest>,
        /// Its step.
        op: Box<Op>,
    },
    /// The pod is still the one planned from (its uid).
    ExpectPod {
        /// `metadata.uid` planned from.
        uid: String,
    },
    /// Deletes the pod, only if it is still that one (a uid
    /// precondition).
    DeletePod {
        /// `metadata.uid` planned from.
        uid: String,
    },
    /// Waits until the pod is gone and its deployment has every replica
    /// updated and available again.
    AwaitReplaced {
        /// The pod's `metadata.uid`.
        uid: String,
        /// Its deployment.
        deployment: String,
        /// The labels of its ReplicaSet's pods (`k=v,k=v`): the
        /// replacement's.
        selector: String,
        /// How long to wait at most.
        within: Duration,
    },
}

/// The operations of a blue-green job, on the release's objects by name
/// (in the target's namespace). Every write is a JSON patch whose `test`
/// operations are what the job planned from: a change in between fails
/// the write (compare-and-swap) instead of being overwritten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReleaseOp {
    /// Every Service of the release still routes to `live` (resumed, or
    /// `mixed`: or already to `idle`, the switch was done wholly or in
    /// part).
    ExpectLive {
        /// The Services.
        services: Vec<String>,
        /// The live colour planned from.
        live: String,
        /// The other colour.
        idle: String,
        /// Planned from a half-switched release (the repair of a job
        /// interrupted mid-switch): each Service routes to either.
        #[serde(default)]
        mixed: bool,
    },
    /// The idle colour's deployment gets the image and the replicas.
    Prepare {
        /// The idle colour's deployment.
        deployment: String,
        /// Its first container's image: planned from, wanted.
        image: (String, String),
        /// Its replicas: planned from, wanted.
        replicas: (i32, i32),
    },
    /// Waits until `deployment` runs `replicas` pods of its newest
    /// template, every one Ready and available, none old (fully
    /// saturated); fails when stalled, or after `within`.
    AwaitSaturated {
        /// The deployment.
        deployment: String,
        /// The replicas.
        replicas: i32,
        /// How long to wait at most.
        within: Duration,
    },
    /// Each Service's selector `color` from `from` to `to`, only while
    /// `deployment` (of `to`) has every pod Ready.
    Switch {
        /// The Services.
        services: Vec<String>,
        /// The colour they route to now.
        from: String,
        /// The colour they are to route to.
        to: String,
        /// The deployment of `to`.
        deployment: String,
    },
    /// Waits until every Service's Endpoints list ready pods of `colour`
    /// and none of another.
    AwaitEndpoints {
        /// The Services.
        services: Vec<String>,
        /// The colour they route to.
        colour: String,
        /// How long to wait at most.
        within: Duration,
    },
    /// The HPA's `scaleTargetRef.name` from `from` to `to`.
    Retarget {
        /// The HPA.
        hpa: String,
        /// The deployment it scales now.
        from: String,
        /// The deployment it is to scale.
        to: String,
    },
    /// Keeps the old colour scaled for `delay` (a revert meanwhile is a
    /// switch back to pods that are up).
    Hold {
        /// The old colour's deployment.
        deployment: String,
        /// How long.
        delay: Duration,
    },
    /// Scales the old colour to 0, only while no Service routes to it.
    Retire {
        /// The old colour's deployment.
        deployment: String,
        /// Its colour.
        colour: String,
        /// The Services.
        services: Vec<String>,
        /// How long to wait at most for its pods to go.
        within: Duration,
    },
}

/// The operations on an Alertmanager's silences (API v2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SilenceOp {
    /// The Alertmanager answers (`GET /api/v2/status`).
    Reachable,
    /// Creates the silence (`POST /api/v2/silences`); its id is the
    /// step's result (the call's `after`).
    Create,
    /// Waits until the silence just created is active.
    AwaitActive,
    /// Expires a silence (`DELETE /api/v2/silence/{id}`); one already
    /// expired is left as it is.
    Expire {
        /// Its id.
        id: String,
    },
}

/// The operations of a PostgreSQL failover or fence, on the target
/// database and the databases they name (by configured name). Each
/// converges: a resumed job finds what an earlier run did (a fence in
/// place, a replica promoted) and does not do it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DbOp {
    /// The target is a replica of `primary`. Planned: `primary` answers as
    /// a primary, the target streams from it (the same system
    /// identifier), its replay not paused. Unplanned: `primary` does not
    /// answer. Resumed, a target promoted already passes.
    Replica {
        /// The primary.
        primary: String,
        /// A planned switchover, not a promotion after a loss.
        planned: bool,
    },
    /// The target answers as a primary (what a fence needs).
    Primary,
    /// Fences `db` (`read_only`) or lifts its fence: `ALTER SYSTEM`
    /// `default_transaction_read_only`, the configuration reloaded, and
    /// (fencing) once a new session reads it on, every other client
    /// session ended; verified from a new session.
    Fence {
        /// The database.
        db: String,
        /// Fence, or lift the fence.
        read_only: bool,
    },
    /// Waits until the target has replayed the WAL `primary` has written
    /// (read after its fence: every acknowledged commit is in it).
    AwaitReplayed {
        /// The primary.
        primary: String,
        /// How long to wait at most.
        within: Duration,
    },
    /// Promotes the target (`pg_promote`, waiting for it).
    Promote,
    /// Failing back: as `Replica` (planned), but its dry run reads the
    /// target being rebuilt and says where it stands instead of failing.
    ReplicaRebuilt {
        /// The database that is primary now.
        primary: String,
    },
    /// Promotes the target once rebuilt (failing back): as `Promote`,
    /// but its dry run passes while the target is still being rebuilt,
    /// saying so.
    PromoteRebuilt,
    /// Waits until the target is a primary, not fenced, and commits a
    /// transaction.
    AwaitWritable {
        /// How long to wait at most.
        within: Duration,
    },
    /// Waits until the target (rebuilt by the operator) is a streaming
    /// replica of `primary`, the same system identifier, replayed to
    /// `primary`'s WAL or no more than `rpo_seconds` behind; a fence it
    /// carries is lifted once it is a replica (a promotion would keep it).
    AwaitResynced {
        /// The database that is primary now.
        primary: String,
        /// How far behind counts as resynced.
        rpo_seconds: u64,
        /// How long to wait at most.
        within: Duration,
    },
    /// The target's subscription lost its source: `primary` does not
    /// answer (one that answers again fails the step: plan a switchover),
    /// the subscription is there. Resumed, one disabled already passes.
    Orphaned {
        /// The source.
        primary: String,
        /// The subscription.
        subscription: String,
    },
    /// Sets every sequence that numbers a column and is behind the
    /// highest value in use there past it by `gap` increments: the
    /// source's last values cannot be read, and what it handed out and
    /// never sent stays unused. A sequence at or past the data already
    /// (set before, or used here) is left.
    AdvancePastData {
        /// How many increments past the highest value in use.
        gap: i64,
    },
    /// Locks the target's application roles out (`locked`: `NOLOGIN`,
    /// their sessions ended) or lets them in again; converges: a role
    /// already so is not altered, its sessions are still ended.
    Lockout {
        /// The roles.
        roles: Vec<String>,
        /// Out, or in again.
        locked: bool,
    },
    /// Verifies the lockout from what the database says now: every role
    /// `NOLOGIN` and no session of theirs left (or every role `LOGIN`).
    AwaitLockedOut {
        /// The roles.
        roles: Vec<String>,
        /// Out, or in again.
        locked: bool,
    },
    /// Fences `db` (the old primary) if it answers as a primary; one that
    /// does not answer is left, with what to do when it returns.
    FenceIfBack {
        /// The old primary.
        db: String,
    },
    /// The target subscribes to `primary` through `subscription`: it is
    /// enabled and its link on `primary` streams. Resumed, a subscription
    /// disabled already passes.
    Subscriber {
        /// The source.
        primary: String,
        /// The target's subscription.
        subscription: String,
    },
    /// Waits until the subscription has applied everything `primary`
    /// wrote (its sender's `replay_lsn` against the source's WAL, read
    /// after its fence).
    AwaitApplied {
        /// The source.
        primary: String,
        /// The subscription.
        subscription: String,
        /// How long to wait at most.
        within: Duration,
    },
    /// Disables the target's subscription: nothing is applied from the
    /// source any more.
    DisableSubscription {
        /// The subscription.
        subscription: String,
    },
    /// Sets every sequence of the target that is behind the source's past
    /// its last value there (sequences are not replicated logically).
    AdvanceSequences {
        /// The source.
        primary: String,
    },
}

/// The operations of an RDS failover or read-replica promotion, on the
/// target database's instance. Each reads it first and converges: an
/// instance found failed over (its primary in the standby's zone) or
/// promoted is not sent the call again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RdsOp {
    /// Available, Multi-AZ, its primary in `zone` (resumed: or in the
    /// standby's already).
    ExpectMultiAz {
        /// The primary's zone planned from.
        zone: String,
        /// The standby's.
        standby: String,
    },
    /// `RebootDBInstance` with `ForceFailover`, unless the primary is in
    /// `standby`'s zone already or the instance is not available.
    Failover {
        /// The primary's zone planned from.
        zone: String,
        /// The standby's.
        standby: String,
    },
    /// Waits until the instance is available with its primary in
    /// `standby`.
    AwaitFailedOver {
        /// The zone the primary should be in.
        standby: String,
        /// How long to wait at most.
        within: Duration,
    },
    /// Available and a read replica of `source` (resumed: or promoted).
    ExpectReplica {
        /// Its source planned from.
        source: String,
    },
    /// `PromoteReadReplica`, unless it is no replica any more.
    Promote {
        /// Its source planned from.
        source: String,
    },
    /// Waits until it is available and no read replica.
    AwaitPromoted {
        /// How long to wait at most.
        within: Duration,
    },
}

/// The operations of Terraform / OpenTofu on an `[[infrastructure]]`
/// directory: cancelling sends the tool one interrupt and waits for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InfraOp {
    /// `plan -json -out=FILE`, the plan saved.
    Plan,
    /// `apply -json FILE` of the saved plan, if it is still this one.
    Apply {
        /// The plan file's SHA-256, as confirmed.
        sha256: String,
    },
}

/// The operations of applying a `[[manifests]]` set: each document found
/// in the files again when its step runs (never carried in the job: a
/// Secret's values would be in its checkpoint), then the Deployments it
/// changed followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ManifestOp {
    /// Server-side apply of one document, if it still reads as planned.
    Apply {
        /// The document.
        doc: crate::exec::apply::DocRef,
    },
    /// Waits until a Deployment the apply changed is rolled out.
    AwaitRollout {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// How long to wait at most.
        within: Duration,
    },
}

/// The operations of sizing a node group in its cloud. Each reads the
/// group first and converges: one found with the sizes wanted is not sent
/// them again, and one found updating (a change sent before an
/// interruption) is waited for, not sent another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeGroupOp {
    /// The group is settled, with the sizes it was planned from (resumed:
    /// or with those wanted, or updating).
    Expect {
        /// The sizes planned from.
        from: crate::exec::backend::nodepool::Sizes,
        /// The sizes wanted.
        to: crate::exec::backend::nodepool::Sizes,
    },
    /// Sends the sizes (`UpdateNodegroupConfig`, the agent pool's `PUT`)
    /// unless the group has them, and follows the change until the cloud
    /// says it succeeded.
    Set {
        /// The sizes wanted: what is sent.
        to: crate::exec::backend::nodepool::Sizes,
        /// How long to wait at most.
        within: Duration,
    },
    /// Waits until the cluster has between `at_least` and `at_most` of
    /// the group's nodes, every one Ready.
    AwaitNodes {
        /// Fewest nodes.
        at_least: u32,
        /// Most nodes.
        at_most: u32,
        /// The nodes it had when planned.
        planned: u32,
        /// How long to wait at most.
        within: Duration,
    },
}

/// The operations of an ElastiCache `TestFailover` on one node group of
/// the target cache's replication group. Each reads the group first and
/// converges: a node group found with another primary, or (resumed) with
/// a test failover called and not finished, is not sent the call again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ElastiCacheOp {
    /// The group available with automatic failover, `node_group`'s
    /// primary the node planned from (resumed: or moved already).
    Expect {
        /// The node group (`0001`).
        node_group: String,
        /// Its primary's cluster planned from.
        primary: String,
    },
    /// `TestFailover` on `node_group`, unless its primary moved already
    /// or (resumed) a test failover of it is under way.
    TestFailover {
        /// The node group.
        node_group: String,
        /// Its primary's cluster planned from.
        primary: String,
    },
    /// Waits until another node is `node_group`'s primary and the old
    /// one's recovery is finished (ElastiCache's events say so): the node
    /// replacement is complete.
    AwaitFailedOver {
        /// The node group.
        node_group: String,
        /// The primary's cluster it moves from.
        from: String,
        /// How long to wait at most.
        within: Duration,
    },
}

/// The operations of a cache failover, on the target cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacheOp {
    /// `primary` (`host:port`) is still the primary, with the replica `to`
    /// online. Resumed, a cache whose primary is `to` already passes.
    Expect {
        /// The primary planned from.
        primary: String,
        /// The replica to promote (behind Sentinel, the one it would
        /// likely choose: the Sentinel decides).
        to: String,
    },
    /// Starts the failover (converges: a cache failed over already is
    /// left).
    Failover {
        /// The primary planned from.
        primary: String,
        /// The replica to promote.
        to: String,
    },
    /// Waits until a server other than `from` is the primary and answers
    /// as one (and, without Sentinel, `from` replicates from it).
    AwaitPrimary {
        /// The old primary.
        from: String,
        /// How long to wait at most.
        within: Duration,
    },
    /// The primary `dead` still does not answer, and `to` answers as its
    /// replica (resumed: or as the primary already).
    ExpectDead {
        /// The primary that does not answer.
        dead: String,
        /// The replica to promote.
        to: String,
    },
    /// `REPLICAOF NO ONE` on `to` (converges: a primary already is left).
    Promote {
        /// The replica to promote.
        to: String,
    },
    /// `REPLICAOF to` on `server` (converges: one that replicates from
    /// `to` already is left; one that does not answer is said, not an
    /// error, and the verification names it).
    Repoint {
        /// The server to re-point.
        server: String,
        /// The new primary.
        to: String,
    },
    /// Waits until `to` answers as the primary and each of `others`
    /// replicates from it with its link up.
    AwaitPromoted {
        /// The new primary.
        to: String,
        /// The servers that should replicate from it.
        others: Vec<String>,
        /// How long to wait at most.
        within: Duration,
    },
}

/// The steps of re-pointing applications (the target is the ConfigMap or
/// Secret). Only hosts are carried: the value is read and written inside
/// the step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigOp {
    /// The key is pointed at `to` if it still points at `from` (resumed,
    /// or planned so: found at `to` already, nothing is written).
    PointAt {
        /// The key.
        key: String,
        /// The host it pointed at when planned.
        from: String,
        /// The host it is to point at.
        to: String,
    },
    /// The deployment (in the target's namespace) restarted at `at`,
    /// unless it is already or runs no pod.
    Restart {
        /// The deployment's name.
        deployment: String,
        /// The `restartedAt` annotation's value: the time of planning.
        at: String,
    },
    /// Waits until the deployment's pods are all of the restart at `at`.
    AwaitRestarted {
        /// The deployment's name.
        deployment: String,
        /// The annotation's value.
        at: String,
        /// How long to wait at most.
        within: Duration,
    },
}

/// The operations on a region's pool in the global load balancer (the
/// target's `name` is the pool's id). Each converges: a pool found as
/// wanted already is not written again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrafficOp {
    /// The pool is still `enabled` as planned from (resumed: or as
    /// wanted already).
    Expect {
        /// As planned from.
        enabled: bool,
    },
    /// Sets the pool's `enabled`.
    Set {
        /// As wanted.
        enabled: bool,
    },
    /// Reads the pool back until the balancer reports it as wanted.
    Await {
        /// As wanted.
        enabled: bool,
        /// How long to wait at most.
        within: Duration,
    },
    /// Reads the pool until it is enabled and every monitor sees it
    /// healthy: its region serves.
    Serving {
        /// How long to wait at most.
        within: Duration,
    },
}

/// The steps of an Azure flexible server's promotion (the target is the
/// database). Each reads the server first and converges: a server found
/// promoted is not promoted again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AzureOp {
    /// The server is a ready read replica, as planned from (resumed: or
    /// promoted already).
    Expect,
    /// Promotes it to a standalone server (`forced`: Forced, else
    /// Planned), following Azure's operation until it ends.
    Promote {
        /// Forced: now, with what it has.
        forced: bool,
        /// How long the operation may take.
        within: Duration,
    },
    /// Reads the server until Resource Manager reports it standalone and
    /// ready, then its postgres_exporter until it answers as a primary.
    Await {
        /// How long to wait at most.
        within: Duration,
    },
}

/// What a job's calls need the operator's credentials to allow, checked
/// by a SelfSubjectAccessReview before the plan is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The verb (`get`, `list`, `patch`).
    pub verb: &'static str,
    /// The API group (`apps`, `autoscaling`; `""` for core).
    pub group: &'static str,
    /// The resource (`deployments`).
    pub resource: &'static str,
    /// The subresource (`scale`), if any.
    pub subresource: Option<&'static str>,
}

impl Access {
    /// `verb` on `group`'s `resource`.
    pub const fn new(verb: &'static str, group: &'static str, resource: &'static str) -> Access {
        Access {
            verb,
            group,
            resource,
            subresource: None,
        }
    }

    /// The same, on a subresource.
    #[must_use]
    pub const fn sub(mut self, subresource: &'static str) -> Access {
        self.subresource = Some(subresource);
        self
    }
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if let Some(sub) = self.subresource {
            write!(f, "/{sub}")?;
        }
        if !self.group.is_empty() {
            write!(f, " ({})", self.group)?;
        }
        Ok(())
    }
}

/// A plan and the operations that carry it out, step for step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// What the operator is shown and confirms.
    pub plan: Plan,
    /// One operation per step of the plan.
    pub ops: Vec<Op>,
    /// What the operations need to be allowed, in the target's namespace
    /// (checked before the plan is shown; not kept in a checkpoint).
    #[serde(skip)]
    pub access: Vec<Access>,
}

impl Job {
    /// The switch of traffic a blue-green job makes, from and to which
    /// colour.
    pub fn switch(&self) -> Option<(String, String)> {
        self.ops.iter().find_map(|op| match op {
            Op::Release(ReleaseOp::Switch { from, to, .. }) => Some((from.clone(), to.clone())),
            _ => None,
        })
    }
}
