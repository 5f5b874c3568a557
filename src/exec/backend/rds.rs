//! Amazon RDS for the executor, through `aws-sdk-rds` and the standard
//! credential chain (or placeholder keys for a local endpoint): an
//! instance as `DescribeDBInstances` reports it, a Multi-AZ failover
//! (`RebootDBInstance` with `ForceFailover`), a read replica's promotion
//! (`PromoteReadReplica`) and the instance's recent events. A client per
//! configured database, made at its first use and kept.

use std::collections::BTreeMap;

use aws_sdk_rds::error::DisplayErrorContext;

use super::Failure;
use crate::config::platform::CloudWatchRef;

/// No RDS answer the executor reads is larger.
const CAP: u64 = 1 << 20;

/// An RDS instance as `DescribeDBInstances` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RdsInstance {
    /// `DBInstanceIdentifier`.
    pub identifier: String,
    /// `DBInstanceStatus` (`available`, `rebooting`, `modifying` …).
    pub status: String,
    /// Multi-AZ: a standby in another zone.
    pub multi_az: bool,
    /// The primary's zone.
    pub zone: String,
    /// The standby's zone (Multi-AZ).
    pub secondary: Option<String>,
    /// A read replica's source instance.
    pub source: Option<String>,
    /// Its read replicas.
    pub replicas: Vec<String>,
    /// `DBInstanceClass`.
    pub class: String,
    /// `Engine` and `EngineVersion`.
    pub engine: String,
}

/// The configured RDS instances, by database name.
#[derive(Default)]
pub struct Instances {
    reach: BTreeMap<String, CloudWatchRef>,
    clients: tokio::sync::Mutex<BTreeMap<String, aws_sdk_rds::Client>>,
}

fn failure(what: String) -> Failure {
    Failure { what, status: None }
}

impl Instances {
    /// These instances, by configured database name.
    pub fn new(reach: BTreeMap<String, CloudWatchRef>) -> Instances {
        Instances {
            reach,
            clients: tokio::sync::Mutex::default(),
        }
    }

    /// The client for `db` and its instance's reference.
    async fn client(&self, db: &str) -> Result<(aws_sdk_rds::Client, &CloudWatchRef), Failure> {
        let r = self.reach.get(db).ok_or_else(|| {
            failure(format!(
                "database {db} has no rds: touban fails RDS over through its API ([[databases]] rds = {{ identifier, aws_region }})"
            ))
        })?;
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(db) {
            return Ok((c.clone(), r));
        }
        let endpoint = r.endpoint.as_ref().map(|e| e.get_ref().as_str());
        let sdk = crate::sources::aws::sdk_config(Some(&r.aws_region), endpoint, r.anonymous).await;
        let config = aws_sdk_rds::config::Builder::from(&sdk)
            .interceptor(crate::sources::aws::CapBody(CAP))
            .build();
        let client = aws_sdk_rds::Client::from_conf(config);
        clients.insert(db.to_owned(), client.clone());
        Ok((client, r))
    }

    /// The instance as RDS reports it now.
    pub async fn describe(&self, db: &str) -> Result<RdsInstance, Failure> {
        let (client, r) = self.client(db).await?;
        let out = client
            .describe_db_instances()
            .db_instance_identifier(&r.identifier)
            .send()
            .await
            .map_err(|e| {
                failure(format!(
                    "RDS DescribeDBInstances {} ({}): {}",
                    r.identifier,
                    r.aws_region,
                    DisplayErrorContext(&e)
                ))
            })?;
        let i = out.db_instances().first().ok_or_else(|| {
            failure(format!(
                "RDS DescribeDBInstances {} ({}): no such instance",
                r.identifier, r.aws_region
            ))
        })?;
        Ok(RdsInstance {
            identifier: i.db_instance_identifier().unwrap_or_default().to_owned(),
            status: i.db_instance_status().unwrap_or_default().to_owned(),
            multi_az: i.multi_az().unwrap_or(false),
            zone: i.availability_zone().unwrap_or_default().to_owned(),
            secondary: i.secondary_availability_zone().map(str::to_owned),
            source: i
                .read_replica_source_db_instance_identifier()
                .map(str::to_owned),
            replicas: i.read_replica_db_instance_identifiers().to_vec(),
            class: i.db_instance_class().unwrap_or_default().to_owned(),
            engine: format!(
                "{} {}",
                i.engine().unwrap_or_default(),
                i.engine_version().unwrap_or_default()
            ),
        })
    }

    /// `RebootDBInstance` with `ForceFailover`: the standby takes over.
    pub async fn failover(&self, db: &str) -> Result<(), Failure> {
        let (client, r) = self.client(db).await?;
        client
            .reboot_db_instance()
            .db_instance_identifier(&r.identifier)
            .force_failover(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                failure(format!(
                    "RDS RebootDBInstance {} with ForceFailover ({}): {}",
                    r.identifier,
                    r.aws_region,
                    DisplayErrorContext(&e)
                ))
            })
    }

    /// `PromoteReadReplica`: the replica becomes a standalone instance.
    pub async fn promote(&self, db: &str) -> Result<(), Failure> {
        let (client, r) = self.client(db).await?;
        client
            .promote_read_replica()
            .db_instance_identifier(&r.identifier)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                failure(format!(
                    "RDS PromoteReadReplica {} ({}): {}",
                    r.identifier,
                    r.aws_region,
                    DisplayErrorContext(&e)
                ))
            })
    }

    /// The instance's events of the last hour, oldest first.
    pub async fn events(&self, db: &str) -> Result<Vec<String>, Failure> {
        let (client, r) = self.client(db).await?;
        let out = client
            .describe_events()
            .source_identifier(&r.identifier)
            .source_type(aws_sdk_rds::types::SourceType::DbInstance)
            .duration(60)
            .send()
            .await
            .map_err(|e| {
                failure(format!(
                    "RDS DescribeEvents {} ({}): {}",
                    r.identifier,
                    r.aws_region,
                    DisplayErrorContext(&e)
                ))
            })?;
        Ok(out
            .events()
            .iter()
            .filter_map(|e| e.message().map(str::to_owned))
            .collect())
    }
}
