//! What the operator asks the executor for: an action on a target, maybe as
//! a dry run. The app builds these from commands; the executor plans them.
//! They cross the boundary between the two and go into the audit log, so
//! they serialise.

use serde::{Deserialize, Serialize};

/// The kind of object an action works on.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
)]
pub enum ObjectKind {
    /// An apps/v1 Deployment.
    Deployment,
    /// An autoscaling/v2 HorizontalPodAutoscaler.
    HorizontalPodAutoscaler,
    /// A blue / green release: the Deployments of one `app` told apart by
    /// `color` and the Services that select it (named by the `app`).
    Release,
    /// A v1 Service.
    Service,
    /// A v1 Pod.
    Pod,
    /// Silences of an Alertmanager (the target's `cluster` is the alert
    /// source's name, its `name` the alert's).
    Silence,
    /// A configured database (the target's `cluster` and `name` are both
    /// its name in the config, its `region` the config's region).
    Database,
    /// A configured cache (named as a database is).
    Cache,
    /// A region's pool in the global load balancer (the target's `region`
    /// is the pool's region, `cluster` is `traffic`, `namespace` the
    /// balancer's account, `name` the pool's id).
    Pool,
    /// A DR region taking over from the primary (the target's `region`
    /// and `name` are the DR region's name in the config, its `cluster`
    /// the primary's).
    Region,
    /// A v1 ConfigMap.
    ConfigMap,
    /// A v1 Secret (its values are never shown, logged or audited).
    Secret,
    /// A `[[manifests]]` set of YAML documents (the target's `name` is the
    /// set's, its `namespace` the set's default one).
    Manifests,
    /// An `[[infrastructure]]` working directory (the target's `name` is
    /// its name, `cluster` its binary).
    Infrastructure,
    /// A cluster's node group in its cloud: an EKS managed node group or
    /// an AKS agent pool (the target's `name` is the group's, as the
    /// nodes' label names it; `namespace` is `kube-system`, where the
    /// job's Lease is kept).
    NodeGroup,
}

/// One matcher of a silence, as Alertmanager API v2 takes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Matcher {
    /// The label.
    pub name: String,
    /// The value, or the regular expression.
    pub value: String,
    /// `=~` / `!~` rather than `=` / `!=`.
    pub is_regex: bool,
    /// `=` / `=~` rather than `!=` / `!~`.
    pub is_equal: bool,
}

impl Matcher {
    /// `name=value`.
    pub fn equal(name: &str, value: &str) -> Matcher {
        Matcher {
            name: name.to_owned(),
            value: value.to_owned(),
            is_regex: false,
            is_equal: true,
        }
    }

    /// Parses `name=value`, `name!=value`, `name=~regex` or `name!~regex`
    /// (the value may be quoted).
    pub fn parse(text: &str) -> Result<Matcher, String> {
        let at = text
            .find(['=', '!'])
            .ok_or_else(|| format!("`{text}` is no matcher: write label=value, label!=value, label=~regex or label!~regex"))?;
        let (name, rest) = text.split_at(at);
        let (op, value) = ["=~", "!~", "!=", "="]
            .iter()
            .find_map(|op| rest.strip_prefix(op).map(|v| (*op, v)))
            .ok_or_else(|| format!("`{text}`: expected =, !=, =~ or !~ after `{name}`"))?;
        let valid_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(format!("`{text}`: `{name}` is not a label name"));
        }
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        Ok(Matcher {
            name: name.to_owned(),
            value: value.to_owned(),
            is_regex: op.ends_with('~'),
            is_equal: !op.starts_with('!'),
        })
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match (self.is_equal, self.is_regex) {
            (true, false) => "=",
            (false, false) => "!=",
            (true, true) => "=~",
            (false, true) => "!~",
        };
        write!(f, "{}{op}\"{}\"", self.name, self.value)
    }
}

/// What an action works on, named as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Target {
    /// The configured region (`tokyo`).
    pub region: String,
    /// The configured cluster (`eks-tokyo`).
    pub cluster: String,
    /// The object's namespace.
    pub namespace: String,
    /// The object's kind.
    pub kind: ObjectKind,
    /// The object's name.
    pub name: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind: &'static str = self.kind.into();
        write!(
            f,
            "{kind} {}/{} in {} ({})",
            self.namespace, self.name, self.cluster, self.region
        )
    }
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum ActionKind {
    /// Set a deployment's replicas through its `scale` subresource.
    Scale {
        /// The replicas wanted.
        replicas: u32,
    },
    /// Restart a deployment's pods as `kubectl rollout restart` does (the
    /// pod template's `restartedAt` annotation), then follow the rollout.
    Restart,
    /// Set an HPA's minimum and / or maximum replicas (unset: unchanged).
    HpaBounds {
        /// The new `spec.minReplicas`.
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<u32>,
        /// The new `spec.maxReplicas`.
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
    },
    /// Set the image of a deployment's first container (a rolling
    /// deploy), followed until rolled out; a stall offers the undo.
    SetImage {
        /// The new image reference.
        image: String,
    },
    /// Roll a deployment back to the pod template of one of its
    /// revisions, as `kubectl rollout undo --to-revision` does.
    Undo {
        /// The revision (`deployment.kubernetes.io/revision`).
        revision: u32,
    },
    /// Silence alerts on an Alertmanager (API v2): the matchers, for
    /// `duration` from now, created by the operator, the job's reason as
    /// its comment.
    Silence {
        /// What it silences.
        matchers: Vec<Matcher>,
        /// For how long.
        #[serde(with = "seconds")]
        duration: std::time::Duration,
        /// The operator, set by the executor (never typed).
        created_by: String,
    },
    /// Expire silences of an Alertmanager, by id.
    Expire {
        /// The silences.
        ids: Vec<String>,
    },
    /// Delete a pod, for its Deployment to replace it, followed until the
    /// replacement is available.
    DeletePod,
    /// Move an HPA that scales a Deployment that does not exist, or a
    /// colour that is not live, to its release's live colour.
    RetargetHpa,
    /// A blue-green deploy of a release: the idle colour gets `image` (or,
    /// none given, keeps its own: a switch back, the revert) and the live
    /// colour's replicas, traffic moves to it once every pod is Ready, and
    /// the old colour is scaled to 0 after `scale_down_delay`.
    BlueGreen {
        /// The new image of the release's first container; `None`: the
        /// idle colour as it is (a revert while it is still scaled).
        #[serde(skip_serializing_if = "Option::is_none")]
        image: Option<String>,
        /// How long the old colour stays scaled after the switch, so that
        /// a revert is instant.
        #[serde(with = "seconds")]
        scale_down_delay: std::time::Duration,
    },
    /// A planned switchover of PostgreSQL: `primary` fenced (read-only,
    /// its sessions ended), the target (its streaming replica, or its
    /// logical subscriber) waited for until it has replayed (applied) the
    /// primary's last WAL, then promoted (its subscription disabled and
    /// its sequences advanced past the primary's).
    Switchover {
        /// The database that is primary now (its name in the config).
        primary: String,
        /// A logical pair's subscription on the target (then it is
        /// disabled and the sequences advanced instead of a promotion).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subscription: Option<String>,
    },
    /// Failing back, the old primary (the target) rebuilt as the
    /// replica of `primary`, the database that took over: touban cannot
    /// run `pg_rewind` or `pg_basebackup` on the target's host, so it
    /// says the commands and waits until the target streams from
    /// `primary` (the same system identifier) no more than `rpo_seconds`
    /// behind; a fence it carries (`default_transaction_read_only` in the
    /// configuration the rebuild copied) is lifted while it is a replica.
    Resync {
        /// The database that is primary now (its name in the config).
        primary: String,
        /// `primary`'s address (`host:port`), for the commands said.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        source: String,
        /// How far behind the target may be and count as resynced.
        rpo_seconds: u64,
    },
    /// An unplanned promotion: `primary` does not answer, the target (its
    /// replica) is promoted with what it has; what the primary committed
    /// after the replica's last replayed transaction is lost.
    Promote {
        /// The database that was primary (its name in the config).
        primary: String,
        /// A logical pair's subscription on the target (then it is
        /// disabled and the sequences set past the data they number).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subscription: Option<String>,
    },
    /// Fail a Redis cache over to its most caught-up replica: Redis's own
    /// coordinated `FAILOVER` on its primary, or `SENTINEL FAILOVER`
    /// behind Sentinel; followed until the new primary answers as one.
    CacheFailover,
    /// Promote a Redis cache's most caught-up replica when its primary
    /// does not answer: `REPLICAOF NO ONE` on it, its other replicas
    /// re-pointed to it, the old primary re-pointed too should it answer
    /// again. What the primary acknowledged after the replica's offset is
    /// lost (Redis replicates asynchronously).
    CachePromote,
    /// Fail an Amazon ElastiCache replication group over: `TestFailover`
    /// on each of its node groups in turn, each followed until another
    /// node is its primary and the old one's replacement is finished.
    ElastiCacheFailover,
    /// Fail a Multi-AZ Amazon RDS instance over to its standby in the
    /// other zone (`RebootDBInstance` with `ForceFailover`), followed until
    /// it is available in the standby's zone.
    RdsFailover,
    /// Promote an Amazon RDS read replica to a standalone instance
    /// (`PromoteReadReplica`): replication from its source ends for good.
    RdsPromote,
    /// Fence a PostgreSQL database (`read_only`: `default_transaction_read_only`
    /// on, every other session ended) or lift its fence.
    Fence {
        /// On (fence) or off (lift it).
        read_only: bool,
        /// The other end of its `[[replication]]` pair: a fence is not
        /// lifted while that one takes writes (two primaries).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partner: Option<String>,
    },
    /// Lock a PostgreSQL database's application roles out (`locked`:
    /// `ALTER ROLE … NOLOGIN`, their sessions ended) or let them log in
    /// again: the fence that holds for clients that set
    /// `default_transaction_read_only` off. Role attributes replicate
    /// physically, so it is refused on a primary with a streaming
    /// replica (it would lock the replica out too, promoted or not).
    Lockout {
        /// The roles (`app_roles` in the config).
        roles: Vec<String>,
        /// Lock them out, or let them in again.
        locked: bool,
    },
    /// Server-side apply of a `[[manifests]]` set to the target's
    /// cluster (field manager `touban`), after a server-side dry run
    /// whose diff is shown; Deployments it changes are followed until
    /// rolled out.
    Apply {
        /// The set's name.
        manifests: String,
        /// Take over fields another field manager owns.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        force: bool,
    },
    /// Size a cluster's node group in its cloud: an EKS managed node
    /// group's `scalingConfig` (`UpdateNodegroupConfig`, followed with
    /// `DescribeUpdate`) or an AKS agent pool's count / autoscaler bounds
    /// (its `PUT`, followed to the operation's end), then its nodes
    /// followed until that many are Ready in the cluster.
    NodeGroup {
        /// Fewest nodes (unset: unchanged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<u32>,
        /// Nodes wanted (unset: unchanged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        desired: Option<u32>,
        /// Most nodes (unset: unchanged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<u32>,
    },
    /// Terraform / OpenTofu on an `[[infrastructure]]` directory: a plan
    /// saved to a file, or the apply of the saved plan.
    Infra {
        /// `plan` or `apply`.
        operation: String,
        /// The SHA-256 of the plan file (never the plan: it holds secrets).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        plan_sha256: String,
    },
    /// Enable or disable a region's pool in the global load balancer
    /// (Cloudflare: `PATCH` the pool's `enabled`). Disabled, the balancer
    /// sends it no users whatever its health: what keeps traffic from
    /// failing back to a region that looks healthy again.
    TrafficPool {
        /// Enabled (users may be sent there) or disabled.
        enabled: bool,
    },
    /// A cloud read replica promoted to a standalone server through its
    /// provider (Azure Resource Manager for an `azure-replica` pair):
    /// planned (once it has what `primary` wrote) or forced (now, with
    /// what it has). Replication from `primary` ends.
    PromoteReplica {
        /// The database that was primary (its name in the config).
        primary: String,
        /// Now, not waiting for the replica to catch up.
        forced: bool,
    },
    /// Re-point applications at a promoted database: the `key` of the
    /// target ConfigMap or Secret (a URL, whose host and port are
    /// replaced, or a bare host) set to `host`, then each deployment of
    /// `restart` restarted so that its pods read it. Only the host is
    /// carried, shown and audited: the rest of a Secret's value (its
    /// password) never leaves the cluster.
    Repoint {
        /// The key holding the database's address (`DATABASE_URL`).
        key: String,
        /// The new `host:port`.
        host: String,
        /// The deployments (in the target's namespace) that read it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        restart: Vec<String>,
    },
    /// The region runbook: the DR region `to` takes over from the primary
    /// region `from`, as one job of `parts` (each an action of its own,
    /// planned from what is read when the runbook is planned: Korea
    /// scaled, the database promoted, Tokyo's pool disabled), verified by
    /// `serving` (the DR region's pool, enabled and healthy). With no
    /// parts, the drill (`touban drill`: every readiness check, nothing
    /// changed).
    RegionFailover {
        /// The primary region's name in the config.
        from: String,
        /// The DR region's.
        to: String,
        /// The actions it runs, in order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        parts: Vec<ActionRequest>,
        /// The pool whose health says the DR region serves.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        serving: Option<Box<Target>>,
        /// What the runbook leaves to the operator, said in its plan
        /// (node groups grown in the cloud's console, a fence touban
        /// cannot set).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        by_hand: Vec<String>,
        /// Failing back: `from` is the DR region that took over, `to` the
        /// primary region, rebuilt as its replica before users return.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        back: bool,
        /// The undo of a runbook that did not end: `parts` put back what
        /// the runbook's parts changed, newest first; a part whose target
        /// is as it was already is left out when planned.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        undo: bool,
    },
}

/// A duration as whole seconds in the audit log and a checkpoint.
mod seconds {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<std::time::Duration, D::Error> {
        <u64 as serde::Deserialize>::deserialize(d).map(std::time::Duration::from_secs)
    }
}

impl ActionKind {
    /// The action's name, as in the audit log and the command line.
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Scale { .. } => "scale",
            ActionKind::HpaBounds { .. } => "hpa-bounds",
            ActionKind::Restart => "restart",
            ActionKind::RetargetHpa => "retarget-hpa",
            ActionKind::DeletePod => "delete-pod",
            ActionKind::SetImage { .. } => "set-image",
            ActionKind::Silence { .. } => "silence",
            ActionKind::Expire { .. } => "expire",
            ActionKind::Undo { .. } => "undo",
            ActionKind::BlueGreen { image: Some(_), .. } => "blue-green",
            ActionKind::BlueGreen { image: None, .. } => "revert",
            ActionKind::Switchover { .. } => "switchover",
            ActionKind::Promote { .. } => "promote",
            ActionKind::Resync { .. } => "resync",
            ActionKind::Fence {
                read_only: true, ..
            } => "fence",
            ActionKind::Fence {
                read_only: false, ..
            } => "unfence",
            ActionKind::Lockout { locked: true, .. } => "lockout",
            ActionKind::Lockout { locked: false, .. } => "unlock",
            ActionKind::CacheFailover => "cache-failover",
            ActionKind::CachePromote => "cache-promote",
            ActionKind::ElastiCacheFailover => "elasticache-failover",
            ActionKind::RdsFailover => "rds-failover",
            ActionKind::RdsPromote => "rds-promote",
            ActionKind::Apply { .. } => "apply",
            ActionKind::NodeGroup { .. } => "node-group",
            ActionKind::Infra { operation, .. } if operation == "plan" => "infra-plan",
            ActionKind::Infra { .. } => "infra-apply",
            ActionKind::TrafficPool { enabled: true } => "enable-pool",
            ActionKind::TrafficPool { enabled: false } => "disable-pool",
            ActionKind::PromoteReplica { .. } => "promote-replica",
            ActionKind::RegionFailover { undo: true, .. } => "region-undo",
            ActionKind::RegionFailover { back: false, .. } => "region-failover",
            ActionKind::RegionFailover { back: true, .. } => "region-failback",
            ActionKind::Repoint { .. } => "repoint",
        }
    }
}

/// One request of the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRequest {
    /// What to do.
    pub kind: ActionKind,
    /// To what.
    pub target: Target,
    /// Plan and dry-run every step, change nothing.
    pub dry_run: bool,
}
