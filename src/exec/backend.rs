//! The executor's narrow surface to the world: what it reads to plan and
//! verify, and the calls it makes. The runner is generic over it, so the
//! runner's rules are tested against the sandbox through the real client
//! and nothing else stands in for a cluster.

pub mod alertmanager;
pub mod azure;
pub mod elasticache;
pub mod kube;
pub mod nodepool;
pub mod postgres;
pub mod rds;
pub mod redis;

use std::future::Future;

use crate::model::action::Target;
use crate::model::cluster::{DeploymentRow, HpaRow, PodRow, ServiceRow};

/// A call that was made, for the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Call {
    /// The HTTP status of the answer.
    pub status: u16,
    /// The object's resourceVersion before the call, if read.
    pub before: Option<String>,
    /// And after it.
    pub after: Option<String>,
}

/// Why a read or a call failed, for the operator: what, where, and what to
/// do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}")]
pub struct Failure {
    /// What failed, naming the endpoint or object (no secrets).
    pub what: String,
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
}

/// A pod as the executor reads it: its row, uid and the Deployment that
/// owns it (through its ReplicaSet), if one does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedPod {
    /// The pod.
    pub row: PodRow,
    /// `metadata.uid`.
    pub uid: String,
    /// The Deployment whose ReplicaSet controls it.
    pub deployment: Option<String>,
}

/// A PostgreSQL database as the executor reads it before and after a
/// failover step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbReading {
    /// `pg_is_in_recovery()`: a replica (or a primary still promoting).
    pub in_recovery: bool,
    /// A replica: the WAL replayed (`pg_last_wal_replay_lsn()`); a
    /// primary: the WAL inserted (`pg_current_wal_insert_lsn()`).
    pub lsn: Option<u64>,
    /// A replica: the WAL received (`pg_last_wal_receive_lsn()`).
    pub received: Option<u64>,
    /// A replica: when the last transaction it replayed committed on the
    /// primary.
    pub replayed_at: Option<jiff::Timestamp>,
    /// `default_transaction_read_only` is on: fenced.
    pub read_only: bool,
    /// A replica's WAL receiver status (`streaming`), if one runs.
    pub receiver: Option<String>,
    /// `server_version_num`.
    pub version: i32,
    /// Client sessions other than this one.
    pub sessions: i64,
    /// A replica's replay is paused.
    pub paused: bool,
    /// Client sessions other than this one in a transaction that writes
    /// (`backend_xid` set).
    pub writing: i64,
    /// `pg_control_system()`'s system identifier (a physical replica
    /// shares its primary's), when the role may read it.
    pub system: Option<String>,
    /// Its logical subscriptions in this database.
    pub subscriptions: Vec<Subscription>,
    /// What it sends to (`pg_stat_replication`): replicas and logical
    /// subscribers.
    pub senders: Vec<Sender>,
    /// Its logical replication slots: name, `confirmed_flush_lsn` (what
    /// the subscriber has flushed).
    pub slots: Vec<(String, Option<u64>)>,
    /// Roles or databases with `default_transaction_read_only` set of
    /// their own (`role in database`): a fence by `ALTER SYSTEM` does not
    /// hold for them.
    pub overrides: Vec<String>,
}

/// A logical subscription of a database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    /// `subname`.
    pub name: String,
    /// `subenabled`.
    pub enabled: bool,
    /// `subslotname`: its slot on the source.
    pub slot: Option<String>,
}

/// A sequence of a database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sequence {
    /// `schema.name`, quoted as an identifier.
    pub name: String,
    /// `last_value` (`None`: never used, or not readable).
    pub last: Option<i64>,
    /// `increment_by` (negative: a descending sequence).
    pub increment: i64,
    /// The role may read it.
    pub readable: bool,
}

/// A sequence and the data it numbers: the highest value in use in the
/// column that owns it (`serial`, `identity`, `OWNED BY`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SequenceHigh {
    /// `schema.name`, quoted as an identifier (as [`Sequence::name`]).
    pub name: String,
    /// The owning column, `schema.table.column` quoted; `None`: owned by
    /// no column, so what it numbers is not known.
    pub owner: Option<String>,
    /// `max(column)`; `None`: the table is empty (or no owner).
    pub high: Option<i64>,
}

/// A ConfigMap's or Secret's value as read: perhaps a credential, so it
/// never prints (`{:?}` shows `KeyValue(…)`); [`KeyValue::reveal`] is for
/// the code that rewrites it.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyValue(pub String);

impl KeyValue {
    /// The value itself: for rewriting, never for showing.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyValue(…)")
    }
}

/// A cache's primary as the executor reads it, with its replicas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheReading {
    /// The server read, `host:port`: the primary (behind Sentinel, the
    /// one the Sentinel names).
    pub primary: String,
    /// Its `role` (`master`; `slave` if it is not the primary after all).
    pub role: String,
    /// Its replicas.
    pub replicas: Vec<CacheReplica>,
    /// `master_repl_offset`.
    pub offset: i64,
    /// `redis_version`.
    pub version: String,
    /// `master_failover_state` (`no-failover`, `waiting-for-sync`,
    /// `failover-in-progress`), Redis 6.2 and later.
    pub failover_state: Option<String>,
    /// A replica's primary (`master_host:master_port`).
    pub upstream: Option<String>,
    /// Read through a Sentinel.
    pub sentinel: bool,
}

/// A server of a cache as it answers for itself (`INFO replication`):
/// what a promotion is planned from when the primary does not answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheMember {
    /// `host:port`.
    pub addr: String,
    /// `master` or `slave`.
    pub role: String,
    /// A replica's primary (`master_host:master_port`).
    pub upstream: Option<String>,
    /// A replica's `master_link_status` is `up`.
    pub linked: bool,
    /// A replica's `master_link_down_since_seconds`, while its link is down.
    pub down_for: Option<u64>,
    /// Its replication offset (`slave_repl_offset`, or a primary's
    /// `master_repl_offset`).
    pub offset: i64,
}

/// A replica as its primary lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheReplica {
    /// `ip:port`.
    pub addr: String,
    /// `online`, `wait_bgsave` …
    pub state: String,
    /// Its replication offset.
    pub offset: i64,
}

/// A WAL sender of a database: to whom, in what state, replayed (applied,
/// for a subscriber) how far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sender {
    /// `application_name` (a subscription's name, for a subscriber).
    pub name: String,
    /// `streaming`, `catchup` …
    pub state: String,
    /// `replay_lsn`.
    pub replayed: Option<u64>,
    /// A physical replica (no logical slot is its), which replays the
    /// catalogs too: role attributes set here reach it.
    pub physical: bool,
}

/// An application role of a database, as it is now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    /// The role's name.
    pub role: String,
    /// Whether the role exists.
    pub exists: bool,
    /// `rolcanlogin`.
    pub can_login: bool,
    /// Its client sessions now.
    pub sessions: i64,
}

/// What a plan on each database and cache says of the login the executor
/// acts with: its own `action` login, or the monitoring one (`direct`),
/// which then may fence and promote; by `database/NAME` and `cache/NAME`.
/// URLs masked.
pub fn logins(platform: &crate::config::Platform) -> std::collections::BTreeMap<String, String> {
    use crate::config::secret::mask_url;
    let say = |name: &str,
               action: Option<&crate::config::platform::Direct>,
               direct: Option<&crate::config::platform::Direct>,
               section: &str| {
        match (action, direct) {
            (Some(a), _) => Some(format!(
                "touban acts on {name} as {} (its action login; the monitoring login does not fence or promote)",
                mask_url(a.url.get_ref())
            )),
            (None, Some(d)) => Some(format!(
                "touban acts on {name} with the monitoring login {}: give it action = {{ url, password }} in its {section} for the monitoring login to need no more than reading",
                mask_url(d.url.get_ref())
            )),
            (None, None) => None,
        }
    };
    let mut lines = std::collections::BTreeMap::new();
    for d in &platform.databases {
        let name = d.name.get_ref();
        if let Some(l) = say(name, d.action.as_ref(), d.direct.as_ref(), "[[databases]]") {
            lines.insert(format!("database/{name}"), l);
        }
    }
    for c in &platform.caches {
        let name = c.name.get_ref();
        if let Some(l) = say(name, c.action.as_ref(), c.direct.as_ref(), "[[caches]]") {
            lines.insert(format!("cache/{name}"), l);
        }
    }
    lines
}

/// What the executor reads and does on a cluster.
pub trait Backend: Sync {
    /// The target deployment as it is now, with its resourceVersion; `None`
    /// if it does not exist.
    fn deployment(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Option<(DeploymentRow, String)>, Failure>> + Send;

    /// Sets the target deployment's pod template annotation
    /// `kubectl.kubernetes.io/restartedAt` to `at` (server-side dry run when
    /// `dry_run`), only if it is still at `resource_version` when one is
    /// given (else 409).
    fn restart(
        &self,
        target: &Target,
        at: &str,
        dry_run: bool,
        resource_version: Option<&str>,
    ) -> impl Future<Output = Result<Call, Failure>> + Send;

    /// The target HPA as it is now, with its resourceVersion; `None` if it
    /// does not exist.
    fn hpa(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Option<(HpaRow, String)>, Failure>> + Send;

    /// Sets the target HPA's `spec.minReplicas` and `spec.maxReplicas`
    /// (server-side dry run when `dry_run`), only if it is still at
    /// `resource_version` when one is given (else 409).
    fn set_hpa_bounds(
        &self,
        target: &Target,
        min: u32,
        max: u32,
        dry_run: bool,
        resource_version: Option<&str>,
    ) -> impl Future<Output = Result<Call, Failure>> + Send;

    /// Writes a Kubernetes Event about the target (reason `Touban…`), so
    /// other consoles and `kubectl get events` see who did what.
    fn record_event(
        &self,
        target: &Target,
        reason: &str,
        message: &str,
        warning: bool,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Whether the operator's credentials allow `access` in the target's
    /// namespace (a SelfSubjectAccessReview): `None` when they do, else
    /// the server's reason.
    fn may(
        &self,
        target: &Target,
        access: &super::step::Access,
    ) -> impl Future<Output = Result<Option<String>, Failure>> + Send;

    /// The target's Lease (see `exec::lease`) and its resourceVersion, if
    /// there is one.
    fn lease(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Option<(super::lease::Holder, String)>, Failure>> + Send;

    /// Writes the target's Lease: created when `resource_version` is
    /// `None`, else replaced only if still at it (409 otherwise). Returns
    /// the new resourceVersion.
    fn put_lease(
        &self,
        target: &Target,
        holder: &super::lease::Holder,
        resource_version: Option<&str>,
    ) -> impl Future<Output = Result<String, Failure>> + Send;

    /// Deletes the target's Lease if it is still at `resource_version`.
    fn drop_lease(
        &self,
        target: &Target,
        resource_version: &str,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Which cluster the target's is: its API server's URL and the
    /// `kube-system` namespace's uid (what a checkpoint is checked
    /// against before a resume).
    fn world(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<super::checkpoint::World, Failure>> + Send;

    /// The HPAs of the target's namespace.
    fn hpas(&self, target: &Target) -> impl Future<Output = Result<Vec<HpaRow>, Failure>> + Send;

    /// Sets the target deployment's replicas through its `scale`
    /// subresource (server-side dry run when `dry_run`), only if it is
    /// still at `resource_version` when one is given (else 409).
    fn scale(
        &self,
        target: &Target,
        replicas: u32,
        dry_run: bool,
        resource_version: Option<&str>,
    ) -> impl Future<Output = Result<Call, Failure>> + Send;

    /// A release's deployments (labelled `app` = the target's name) and
    /// the Services of its namespace.
    fn release(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<(Vec<DeploymentRow>, Vec<ServiceRow>), Failure>> + Send;

    /// Applies a JSON patch (RFC 6902) to `object` (a Deployment, Service
    /// or HPA; server-side dry run when `dry_run`). Its `test` operations
    /// make it a compare-and-swap: one that fails is a 422 and nothing is
    /// written.
    fn json_patch(
        &self,
        object: &Target,
        patch: &serde_json::Value,
        dry_run: bool,
    ) -> impl Future<Output = Result<Call, Failure>> + Send;

    /// Which login the executor acts with on the target database or cache,
    /// as a plan says it (its URL masked), if it is known.
    fn login(&self, target: &Target) -> Option<String>;

    /// The value of `key` in the target ConfigMap or Secret (a Secret's
    /// decoded), with the object's resourceVersion: `None` when the object
    /// does not exist, `Some((None, rv))` when it lacks the key.
    fn config_value(
        &self,
        target: &Target,
        key: &str,
    ) -> impl Future<Output = Result<Option<(Option<KeyValue>, String)>, Failure>> + Send;

    /// Replaces `key` of the target ConfigMap or Secret with `to` if it is
    /// still `from` (a JSON patch whose `test` makes it a compare-and-swap:
    /// 422 otherwise; server-side dry run when `dry_run`).
    fn set_config_value(
        &self,
        target: &Target,
        key: &str,
        from: &KeyValue,
        to: &KeyValue,
        dry_run: bool,
    ) -> impl Future<Output = Result<Call, Failure>> + Send;

    /// The pods a Service's Endpoints hold, by name: ready and not ready.
    fn endpoints(
        &self,
        service: &Target,
    ) -> impl Future<Output = Result<(Vec<String>, Vec<String>), Failure>> + Send;

    /// The pods of the target's namespace that `selector` (`k=v,k=v`)
    /// matches.
    fn pods(
        &self,
        target: &Target,
        selector: &str,
    ) -> impl Future<Output = Result<Vec<PodRow>, Failure>> + Send;

    /// The target pod as it is now, with its owner; `None` if it does not
    /// exist.
    fn pod(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<Option<OwnedPod>, Failure>> + Send;

    /// Deletes the target pod, only if its uid is still `uid` (else 409;
    /// server-side dry run when `dry_run`).
    fn delete_pod(
        &self,
        target: &Target,
        uid: &str,
        dry_run: bool,
    ) -> impl Future<Output = Result<Call, Failure>> + Send;

    /// The pod template of revision `revision` of the target deployment
    /// (its ReplicaSet's, without `pod-template-hash`) and its first
    /// image; `None` if it has no such revision.
    fn revision(
        &self,
        target: &Target,
        revision: u32,
    ) -> impl Future<Output = Result<Option<(serde_json::Value, String)>, Failure>> + Send;

    /// The target's Alertmanager answers.
    fn silences_reachable(
        &self,
        target: &Target,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Creates a silence on the target's Alertmanager; its id.
    fn create_silence(
        &self,
        target: &Target,
        matchers: &[crate::model::action::Matcher],
        duration: std::time::Duration,
        created_by: &str,
        comment: &str,
    ) -> impl Future<Output = Result<String, Failure>> + Send;

    /// A silence's state on the target's Alertmanager (`active`,
    /// `pending`, `expired`); `None` if unknown.
    fn silence_state(
        &self,
        target: &Target,
        id: &str,
    ) -> impl Future<Output = Result<Option<String>, Failure>> + Send;

    /// The id of a silence on the target's Alertmanager, active or
    /// pending, with these matchers, creator and comment, if there is one.
    fn find_silence(
        &self,
        target: &Target,
        matchers: &[crate::model::action::Matcher],
        created_by: &str,
        comment: &str,
    ) -> impl Future<Output = Result<Option<String>, Failure>> + Send;

    /// Expires a silence on the target's Alertmanager.
    fn expire_silence(
        &self,
        target: &Target,
        id: &str,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// A configured database's role, WAL position and fence, read in a
    /// session of its own.
    fn db_read(&self, db: &str) -> impl Future<Output = Result<DbReading, Failure>> + Send;

    /// Fences a database (`read_only`: read-only by default for every
    /// session, the other sessions ended) or lifts its fence; the sessions
    /// ended. A dry run checks the role may, and changes nothing.
    fn db_fence(
        &self,
        db: &str,
        read_only: bool,
        dry_run: bool,
    ) -> impl Future<Output = Result<i64, Failure>> + Send;

    /// Promotes a replica, waiting until it is a primary. A dry run checks
    /// the role may, and changes nothing.
    fn db_promote(
        &self,
        db: &str,
        dry_run: bool,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Disables a logical subscription of a database (a dry run checks
    /// the role may).
    fn db_disable_subscription(
        &self,
        db: &str,
        name: &str,
        dry_run: bool,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// A database's sequences and their last values.
    fn db_sequences(&self, db: &str)
    -> impl Future<Output = Result<Vec<Sequence>, Failure>> + Send;

    /// A database's sequences with the highest value in use in the column
    /// each numbers.
    fn db_sequence_highs(
        &self,
        db: &str,
    ) -> impl Future<Output = Result<Vec<SequenceHigh>, Failure>> + Send;

    /// Whether a database's host takes a TCP connection at all.
    fn db_reachable(&self, db: &str) -> impl Future<Output = Result<bool, Failure>> + Send;

    /// Sets sequences' last values (a dry run checks the role may).
    fn db_set_sequences(
        &self,
        db: &str,
        values: &[(String, i64)],
        dry_run: bool,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// A database's application roles: whether each may log in, and its
    /// sessions.
    fn db_logins(
        &self,
        db: &str,
        roles: &[String],
    ) -> impl Future<Output = Result<Vec<Login>, Failure>> + Send;

    /// Locks the roles out (`NOLOGIN`, their sessions ended; how many
    /// were) or lets them in again. A dry run checks the role may.
    fn db_lockout(
        &self,
        db: &str,
        roles: &[String],
        locked: bool,
        dry_run: bool,
    ) -> impl Future<Output = Result<i64, Failure>> + Send;

    /// Proves a database takes writes (a committed transaction with a
    /// transaction id, in a session begun now).
    fn db_write_check(&self, db: &str) -> impl Future<Output = Result<(), Failure>> + Send;

    /// A cache's primary and its replicas, as they are now.
    fn cache_read(&self, cache: &str)
    -> impl Future<Output = Result<CacheReading, Failure>> + Send;

    /// A load-balancer pool (the target's `name` is its id), as the
    /// balancer reports it now.
    fn pool_read(
        &self,
        pool: &Target,
    ) -> impl Future<Output = Result<crate::model::traffic::PoolStatus, Failure>> + Send;

    /// The other configured pools of the target's balancer, by region,
    /// each as read now or why it could not be.
    fn pools_beside(
        &self,
        pool: &Target,
    ) -> impl Future<Output = Vec<(String, Result<crate::model::traffic::PoolStatus, String>)>> + Send;

    /// Enables or disables a load-balancer pool. A dry run reads it with
    /// the same token and writes nothing (the balancer has no dry run).
    fn pool_set(
        &self,
        pool: &Target,
        enabled: bool,
        dry_run: bool,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// An Azure flexible server (the configured database `db`), as
    /// Resource Manager reports it now.
    fn azure_read(
        &self,
        db: &str,
    ) -> impl Future<Output = Result<azure::FlexServer, Failure>> + Send;

    /// Promotes the Azure read replica `db` to a standalone server
    /// (`forced`: now, with what it has; else once it has what its
    /// source wrote); the operation to follow, if Azure gave one. A dry
    /// run reads the server with the same token and sends nothing (ARM
    /// has no dry run of an update).
    fn azure_promote(
        &self,
        db: &str,
        forced: bool,
        dry_run: bool,
    ) -> impl Future<Output = Result<Option<String>, Failure>> + Send;

    /// Where the Azure operation at `url` on `db` stands.
    fn azure_operation(
        &self,
        db: &str,
        url: &str,
    ) -> impl Future<Output = Result<azure::Operation, Failure>> + Send;

    /// The database `db` as its postgres_exporter says it is now; none
    /// where it has no exporter.
    fn db_exported(
        &self,
        db: &str,
    ) -> impl Future<Output = Option<Result<crate::model::data::DbStatus, Failure>>> + Send;

    /// Each configured replica of a cache (`replicas`), as it answers for
    /// itself, or why it does not.
    fn cache_members(
        &self,
        cache: &str,
    ) -> impl Future<Output = Vec<(String, Result<CacheMember, Failure>)>> + Send;

    /// A node group (the target's name, in its cluster) as its cloud
    /// reports it.
    fn node_pool(
        &self,
        t: &Target,
    ) -> impl Future<Output = Result<nodepool::NodePool, Failure>> + Send;

    /// Sends a node group's new sizes; the change's id to follow (EKS's
    /// update, ARM's operation), if the cloud gave one.
    fn node_pool_set(
        &self,
        t: &Target,
        to: nodepool::Sizes,
    ) -> impl Future<Output = Result<Option<String>, Failure>> + Send;

    /// Where a node group's change `id` stands.
    fn node_pool_standing(
        &self,
        t: &Target,
        id: &str,
    ) -> impl Future<Output = Result<nodepool::Standing, Failure>> + Send;

    /// The nodes of the cluster labelled `label=value`: their names, and
    /// whether each is Ready.
    fn labelled_nodes(
        &self,
        t: &Target,
        label: &str,
        value: &str,
    ) -> impl Future<Output = Result<Vec<(String, bool)>, Failure>> + Send;

    /// A `[[manifests]]` set (the target's name) for the target's
    /// cluster, through the server's dry run.
    fn manifests_plan(
        &self,
        t: &Target,
        force: bool,
    ) -> impl Future<Output = Result<crate::exec::apply::SetPlan, Failure>> + Send;

    /// One document of the target's set, applied (or dry-run) if it still
    /// reads as planned; what was done.
    fn manifest_apply(
        &self,
        t: &Target,
        doc: &crate::exec::apply::DocRef,
        force: bool,
        dry_run: bool,
    ) -> impl Future<Output = Result<String, Failure>> + Send;

    /// Waits until a Deployment of the target's cluster is rolled out by
    /// kubectl's rules.
    fn manifest_rollout(
        &self,
        t: &Target,
        namespace: &str,
        name: &str,
        within: std::time::Duration,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Terraform / OpenTofu plans the target's `[[infrastructure]]` and
    /// the plan is saved; what it changes, in words. `cancel` sends the
    /// tool one interrupt.
    fn infra_plan(
        &self,
        t: &Target,
        cancel: &tokio::sync::watch::Receiver<bool>,
    ) -> impl Future<Output = Result<String, Failure>> + Send;

    /// The target's saved plan, its hash checked.
    fn infra_saved(
        &self,
        t: &Target,
    ) -> impl Future<Output = Result<crate::exec::infra::Saved, Failure>> + Send;

    /// Applies the target's saved plan, if it is still the one of
    /// `sha256`; what it did. `cancel` sends the tool one interrupt.
    fn infra_apply(
        &self,
        t: &Target,
        sha256: &str,
        cancel: &tokio::sync::watch::Receiver<bool>,
    ) -> impl Future<Output = Result<String, Failure>> + Send;

    /// An RDS instance (by configured database name) as RDS reports it.
    fn rds_describe(
        &self,
        db: &str,
    ) -> impl Future<Output = Result<rds::RdsInstance, Failure>> + Send;

    /// Fails a Multi-AZ RDS instance over to its standby
    /// (`RebootDBInstance` with `ForceFailover`).
    fn rds_failover(&self, db: &str) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Promotes an RDS read replica to a standalone instance.
    fn rds_promote(&self, db: &str) -> impl Future<Output = Result<(), Failure>> + Send;

    /// An RDS instance's events of the last hour, oldest first.
    fn rds_events(&self, db: &str) -> impl Future<Output = Result<Vec<String>, Failure>> + Send;

    /// An ElastiCache replication group (by configured cache name) as
    /// `DescribeReplicationGroups` reports it.
    fn elasticache_describe(
        &self,
        cache: &str,
    ) -> impl Future<Output = Result<elasticache::ReplicationGroup, Failure>> + Send;

    /// `TestFailover` on one node group of an ElastiCache replication
    /// group.
    fn elasticache_test_failover(
        &self,
        cache: &str,
        node_group: &str,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// The events of the last `minutes` of an ElastiCache replication
    /// group and its clusters, oldest first.
    fn elasticache_events(
        &self,
        cache: &str,
        minutes: i32,
    ) -> impl Future<Output = Result<Vec<elasticache::CacheEvent>, Failure>> + Send;

    /// One server (`host:port`) of a cache as it answers for itself.
    fn cache_member(
        &self,
        cache: &str,
        addr: &str,
    ) -> impl Future<Output = Result<CacheMember, Failure>> + Send;

    /// `REPLICAOF NO ONE` on the server `to` of a cache: it stops
    /// replicating and takes writes.
    fn cache_promote(
        &self,
        cache: &str,
        to: &str,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// `REPLICAOF` the new primary `to` on the server `server` of a cache.
    fn cache_repoint(
        &self,
        cache: &str,
        server: &str,
        to: &str,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Fails a cache over from `primary` to the replica `to` (behind
    /// Sentinel, the Sentinel chooses). A dry run checks it could start.
    fn cache_failover(
        &self,
        cache: &str,
        primary: &str,
        to: &str,
        dry_run: bool,
    ) -> impl Future<Output = Result<(), Failure>> + Send;
}
