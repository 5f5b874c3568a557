//! Amazon ElastiCache for the executor, through `aws-sdk-elasticache` and
//! the standard credential chain (or placeholder keys for a local
//! endpoint): a replication group as `DescribeReplicationGroups` reports
//! it, `TestFailover` on one of its node groups, and the events of the
//! group and its member clusters. A client per configured cache, made at
//! its first use and kept.

use std::collections::BTreeMap;

use aws_sdk_elasticache::error::DisplayErrorContext;

use super::Failure;
use crate::config::platform::CloudWatchRef;

/// No ElastiCache answer the executor reads is larger.
const CAP: u64 = 1 << 20;
/// No more pages of events are read (100 events each).
pub const PAGES: usize = 20;

/// A node of a node group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Member {
    /// `CacheClusterId`: the node's cluster (`group-001`).
    pub cluster: String,
    /// `CacheNodeId` (`0001`).
    pub node: String,
    /// `CurrentRole`: `primary` or `replica` (absent in cluster mode).
    pub role: String,
    /// `PreferredAvailabilityZone`.
    pub zone: String,
}

/// A node group (a shard): one primary and its replicas.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeGroup {
    /// `NodeGroupId` (`0001`).
    pub id: String,
    /// Its `Status`.
    pub status: String,
    /// Its nodes.
    pub members: Vec<Member>,
}

impl NodeGroup {
    /// Its primary node, as `CurrentRole` says.
    pub fn primary(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.role == "primary")
    }

    /// Its replicas.
    pub fn replicas(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.role != "primary")
    }
}

/// A replication group as `DescribeReplicationGroups` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicationGroup {
    /// `ReplicationGroupId`.
    pub id: String,
    /// `Status` (`available`, `modifying`, `snapshotting` …).
    pub status: String,
    /// `AutomaticFailover` (`enabled`, `disabled`, `enabling` …).
    pub automatic_failover: String,
    /// `MultiAZ` (`enabled`, `disabled`).
    pub multi_az: String,
    /// `ClusterEnabled`: cluster mode, many node groups.
    pub cluster_mode: bool,
    /// `CacheNodeType`.
    pub node_type: String,
    /// Its node groups.
    pub node_groups: Vec<NodeGroup>,
}

/// An event of the group or of one of its clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEvent {
    /// When.
    pub at: jiff::Timestamp,
    /// `SourceIdentifier`: the group or a member cluster.
    pub source: String,
    /// `Message`.
    pub message: String,
}

/// The configured replication groups, by cache name.
#[derive(Default)]
pub struct Groups {
    reach: BTreeMap<String, CloudWatchRef>,
    clients: tokio::sync::Mutex<BTreeMap<String, aws_sdk_elasticache::Client>>,
}

fn failure(what: String) -> Failure {
    Failure { what, status: None }
}

impl Groups {
    /// These groups, by configured cache name.
    pub fn new(reach: BTreeMap<String, CloudWatchRef>) -> Groups {
        Groups {
            reach,
            clients: tokio::sync::Mutex::default(),
        }
    }

    /// The client for `cache` and its group's reference.
    async fn client(
        &self,
        cache: &str,
    ) -> Result<(aws_sdk_elasticache::Client, &CloudWatchRef), Failure> {
        let r = self.reach.get(cache).ok_or_else(|| {
            failure(format!(
                "cache {cache} has no elasticache: touban fails ElastiCache over through its API ([[caches]] elasticache = {{ identifier, aws_region }})"
            ))
        })?;
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(cache) {
            return Ok((c.clone(), r));
        }
        let endpoint = r.endpoint.as_ref().map(|e| e.get_ref().as_str());
        let sdk = crate::sources::aws::sdk_config(Some(&r.aws_region), endpoint, r.anonymous).await;
        let config = aws_sdk_elasticache::config::Builder::from(&sdk)
            .interceptor(crate::sources::aws::CapBody(CAP))
            .build();
        let client = aws_sdk_elasticache::Client::from_conf(config);
        clients.insert(cache.to_owned(), client.clone());
        Ok((client, r))
    }

    /// The replication group as ElastiCache reports it now.
    pub async fn describe(&self, cache: &str) -> Result<ReplicationGroup, Failure> {
        let (client, r) = self.client(cache).await?;
        let out = client
            .describe_replication_groups()
            .replication_group_id(&r.identifier)
            .send()
            .await
            .map_err(|e| {
                failure(format!(
                    "ElastiCache DescribeReplicationGroups {} ({}): {}",
                    r.identifier,
                    r.aws_region,
                    DisplayErrorContext(&e)
                ))
            })?;
        let g = out.replication_groups().first().ok_or_else(|| {
            failure(format!(
                "ElastiCache DescribeReplicationGroups {} ({}): no such replication group",
                r.identifier, r.aws_region
            ))
        })?;
        let text = |s: Option<&str>| s.unwrap_or_default().to_owned();
        Ok(ReplicationGroup {
            id: text(g.replication_group_id()),
            status: text(g.status()),
            automatic_failover: text(
                g.automatic_failover()
                    .map(aws_sdk_elasticache::types::AutomaticFailoverStatus::as_str),
            ),
            multi_az: text(
                g.multi_az()
                    .map(aws_sdk_elasticache::types::MultiAzStatus::as_str),
            ),
            cluster_mode: g.cluster_enabled().unwrap_or(false),
            node_type: text(g.cache_node_type()),
            node_groups: g
                .node_groups()
                .iter()
                .map(|n| NodeGroup {
                    id: text(n.node_group_id()),
                    status: text(n.status()),
                    members: n
                        .node_group_members()
                        .iter()
                        .map(|m| Member {
                            cluster: text(m.cache_cluster_id()),
                            node: text(m.cache_node_id()),
                            role: text(m.current_role()),
                            zone: text(m.preferred_availability_zone()),
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// `TestFailover` on `node_group`: ElastiCache promotes one of its
    /// replicas and replaces the old primary.
    pub async fn test_failover(&self, cache: &str, node_group: &str) -> Result<(), Failure> {
        let (client, r) = self.client(cache).await?;
        client
            .test_failover()
            .replication_group_id(&r.identifier)
            .node_group_id(node_group)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                failure(format!(
                    "ElastiCache TestFailover {} node group {node_group} ({}): {}",
                    r.identifier,
                    r.aws_region,
                    DisplayErrorContext(&e)
                ))
            })
    }

    /// The events of the region's last `minutes`, oldest first: every
    /// group's and cluster's (TestFailover's quota is the customer's, not
    /// one group's); callers keep what is theirs by `source`. At most
    /// [`PAGES`] pages are read.
    pub async fn events(&self, cache: &str, minutes: i32) -> Result<Vec<CacheEvent>, Failure> {
        let (client, r) = self.client(cache).await?;
        let mut found = Vec::new();
        let mut pages = client
            .describe_events()
            .duration(minutes)
            .max_records(100)
            .into_paginator()
            .send();
        let mut read = 0;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                failure(format!(
                    "ElastiCache DescribeEvents for {} ({}): {} (the credentials need elasticache:DescribeEvents)",
                    r.identifier,
                    r.aws_region,
                    DisplayErrorContext(&e)
                ))
            })?;
            for e in page.events() {
                let at = e
                    .date()
                    .and_then(|d| {
                        jiff::Timestamp::new(d.secs(), d.subsec_nanos().try_into().ok()?).ok()
                    })
                    .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
                found.push(CacheEvent {
                    at,
                    source: e.source_identifier().unwrap_or_default().to_owned(),
                    message: e.message().unwrap_or_default().to_owned(),
                });
            }
            read += 1;
            if read >= PAGES {
                break;
            }
        }
        found.sort_by_key(|e| e.at);
        Ok(found)
    }
}
