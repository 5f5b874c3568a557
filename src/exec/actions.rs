//! The registry of actions: one exhaustive match from an [`ActionKind`] to
//! its planner, so adding an action is one file here and one arm the
//! compiler asks for.

pub mod azure;
pub mod blue_green;
pub mod cache_failover;
pub mod cache_promote;
pub mod delete_pod;
pub mod elasticache;
pub mod failover;
pub mod hpa_bounds;
pub mod hpa_retarget;
pub mod infra;
pub mod lockout;
pub mod manifests;
pub mod node_group;
pub mod rds;
pub mod repoint;
pub mod restart;
pub mod resync;
pub mod rollout;
pub mod scale;
pub mod silence;
pub mod traffic;

use super::step::Job;
use crate::model::action::{ActionKind, ActionRequest};
use crate::model::cluster::{DeploymentRow, HpaRow, ServiceRow};
use crate::model::plan::Refusal;

/// What the executor read about a request's target before planning it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The target deployment (for an HPA: the deployment it scales), if
    /// it exists.
    pub deployment: Option<DeploymentRow>,
    /// The HPAs of the target's namespace.
    pub hpas: Vec<HpaRow>,
    /// For a release: its deployments (every colour).
    pub deployments: Vec<DeploymentRow>,
    /// For a release: the Services of its namespace.
    pub services: Vec<ServiceRow>,
    /// For a pod: the pod and its owner (then `deployment` is the owner).
    pub pod: Option<crate::exec::backend::OwnedPod>,
    /// For an undo: the revision asked for, its pod template and image.
    pub revision: Option<(u32, serde_json::Value, String)>,
    /// Whether the target deployment is the live colour of a blue / green
    /// release (a rolling change replaces live pods in place).
    pub live_colour: bool,
    /// For a release: its Lease, if one is there (a job on it, running or
    /// left by a console that died: its intent in the annotations).
    pub lease: Option<crate::exec::lease::Holder>,
    /// Whether the target's region is the primary (serves production).
    pub primary: bool,
    /// The time of planning, RFC 3339 (what a restart writes).
    pub now: String,
    /// For a database: what was read of it and of its primary.
    pub db: Option<DbSeen>,
    /// For a cache: its primary as read, or why it could not be.
    pub cache: Option<Result<crate::exec::backend::CacheReading, String>>,
    /// For an RDS action: the instance as RDS reports it, or why it could
    /// not be read.
    pub rds: Option<Result<crate::exec::backend::rds::RdsInstance, String>>,
    /// For an ElastiCache failover: the replication group as ElastiCache
    /// reports it and its events of the last 24 hours (the `TestFailover`
    /// quota's window), or why they could not be read.
    pub elasticache: Option<Result<ElastiCacheSeen, String>>,
    /// For a cache promotion: each configured replica as it answers for
    /// itself, or why it does not.
    pub cache_members: Vec<(String, Result<crate::exec::backend::CacheMember, String>)>,
    /// For a load-balancer pool: as the balancer reports it, or why it
    /// could not be read.
    pub pool: Option<Result<crate::model::traffic::PoolStatus, String>>,
    /// For a pool: the balancer's other pools, by region, as read.
    pub other_pools: Vec<(String, Result<crate::model::traffic::PoolStatus, String>)>,
    /// For a cloud replica: the server as its provider reports it, or
    /// why it could not be read.
    pub azure: Option<Result<crate::exec::backend::azure::FlexServer, String>>,
    /// For a cloud replica: what its postgres_exporter says now (its
    /// lag), if it has one.
    pub exported: Option<Result<crate::model::data::DbStatus, String>>,
    /// For a ConfigMap or Secret: the value of the action's key (`None`:
    /// no such key), or why the object could not be read.
    pub config: Option<Result<Option<crate::exec::backend::KeyValue>, String>>,
    /// For a node group: the group as its cloud reports it, or why it
    /// could not be read.
    pub node_pool: Option<Result<crate::exec::backend::nodepool::NodePool, String>>,
    /// For a node group: its nodes in the cluster (name, Ready), or why
    /// they could not be listed.
    pub nodes: Option<Result<Vec<(String, bool)>, String>>,
    /// For a manifest set: its plan on the target's cluster (the
    /// server's dry run of every document), or why it could not be made.
    pub manifests: Option<Result<crate::exec::apply::SetPlan, String>>,
    /// For an infrastructure apply: its saved plan, or why there is none
    /// to apply.
    pub infra: Option<Result<crate::exec::infra::Saved, String>>,
    /// For a lockout: the database's application roles as they are now.
    pub logins: Option<Result<Vec<crate::exec::backend::Login>, String>>,
}

/// A database target as read before planning: itself, and the primary a
/// switchover or promotion names; each, or why it could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSeen {
    /// The target.
    pub target: Result<crate::exec::backend::DbReading, String>,
    /// The primary named, and what was read of it.
    pub primary: Option<(String, Result<crate::exec::backend::DbReading, String>)>,
    /// The primary could not be read and its host takes no TCP connection
    /// either: down (or cut off), not merely unreadable.
    pub primary_down: bool,
}

/// How a step's expected effect stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// It holds: the step is done.
    Done,
    /// Not yet, and what it waits for.
    Waiting(String),
    /// It will not: the step failed, and why.
    Failed(String),
}

/// An ElastiCache replication group as read for a failover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElastiCacheSeen {
    /// The group.
    pub group: crate::exec::backend::elasticache::ReplicationGroup,
    /// Its events of the last 24 hours, oldest first.
    pub events: Vec<crate::exec::backend::elasticache::CacheEvent>,
}

/// The plan for a request and the operations that carry it out, from what
/// was read about its target.
pub fn plan(request: &ActionRequest, seen: &Seen) -> Result<Job, Refusal> {
    match &request.kind {
        ActionKind::Scale { replicas } => scale::plan(request, *replicas, seen),
        ActionKind::HpaBounds { min, max } => hpa_bounds::plan(request, *min, *max, seen),
        ActionKind::Restart => restart::plan(request, seen),
        ActionKind::RetargetHpa => hpa_retarget::plan(request, seen),
        ActionKind::DeletePod => delete_pod::plan(request, seen),
        ActionKind::SetImage { image } => rollout::set_image(request, image, seen),
        ActionKind::Silence {
            matchers, duration, ..
        } => silence::silence(request, matchers, *duration, seen),
        ActionKind::Expire { ids } => silence::expire(request, ids, seen),
        ActionKind::Undo { revision } => rollout::undo(request, *revision, seen),
        ActionKind::BlueGreen {
            image,
            scale_down_delay,
        } => blue_green::plan(request, image.as_deref(), *scale_down_delay, seen),
        ActionKind::Switchover {
            primary,
            subscription,
        } => failover::switchover(request, primary, subscription.as_deref(), seen),
        ActionKind::Promote {
            primary,
            subscription,
        } => failover::promote(request, primary, subscription.as_deref(), seen),
        ActionKind::Fence { read_only, .. } => failover::fence(request, *read_only, seen),
        ActionKind::Lockout { roles, locked } => lockout::plan(request, roles, *locked, seen),
        ActionKind::Resync {
            primary,
            source,
            rpo_seconds,
        } => resync::plan(request, primary, source, *rpo_seconds, seen),
        ActionKind::CacheFailover => cache_failover::plan(request, seen),
        ActionKind::CachePromote => cache_promote::plan(request, seen),
        ActionKind::ElastiCacheFailover => elasticache::plan(request, seen),
        ActionKind::RdsFailover => rds::failover(request, seen),
        ActionKind::RdsPromote => rds::promote(request, seen),
        ActionKind::TrafficPool { enabled } => traffic::plan(request, *enabled, seen),
        ActionKind::NodeGroup { min, desired, max } => node_group::plan(
            request,
            crate::exec::backend::nodepool::Sizes {
                min: *min,
                desired: *desired,
                max: *max,
            },
            seen,
        ),
        ActionKind::Infra { operation, .. } => infra::plan(request, operation, seen),
        ActionKind::Apply { force, .. } => manifests::plan(request, *force, seen),
        ActionKind::PromoteReplica { primary, forced } => {
            azure::plan(request, primary, *forced, seen)
        }
        // With parts, the runner plans each; with none it is the drill's
        // record, never run.
        ActionKind::Repoint { key, host, restart } => {
            repoint::plan(request, key, host, restart, seen)
        }
        ActionKind::RegionFailover { from, to, .. } => Err(Refusal::instead(
            format!("the region runbook {from} → {to} names no part to run"),
            "`:failover-region` plans it from what the sources read; `touban drill` checks the readiness from the shell",
        )),
    }
}
