//! The clouds' node groups for the executor: an Amazon EKS managed node
//! group through `aws-sdk-eks` (`DescribeNodegroup`,
//! `UpdateNodegroupConfig` of its `scalingConfig`, `DescribeUpdate`) and
//! an AKS agent pool through Azure Resource Manager (api-version
//! 2025-01-01: the pool read, its `PUT` with the count or the
//! autoscaler's bounds, and the operation it answers with). A client per
//! configured cluster, made at its first use and kept.

use std::collections::BTreeMap;

use aws_sdk_eks::error::DisplayErrorContext;
use aws_sdk_eks::types::NodegroupScalingConfig;
use serde::Deserialize;

use super::Failure;
use super::azure::{Arm, Operation};
use crate::config::platform::Cluster;

/// The agent pools' api-version.
pub const AKS_API_VERSION: &str = "2025-01-01";
/// No EKS answer the executor reads is larger.
const CAP: u64 = 1 << 20;
/// The most nodes an EKS managed node group holds (its service quota,
/// `Nodes per managed node group`, 450 unless raised).
pub const EKS_MAX_NODES: u32 = 450;
/// The most nodes an AKS agent pool holds.
pub const AKS_MAX_NODES: u32 = 1000;

pub use crate::model::cluster::{Cloud, NodePool};

/// Sizes to set; `None` keeps the group's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sizes {
    /// Fewest nodes.
    pub min: Option<u32>,
    /// Nodes wanted.
    pub desired: Option<u32>,
    /// Most nodes.
    pub max: Option<u32>,
}

/// Where a change sent stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Still running, as the cloud words it.
    Running(String),
    /// Done.
    Succeeded,
    /// Ended without being done, and why.
    Failed(String),
}

fn failure(what: String) -> Failure {
    Failure { what, status: None }
}

fn to_u32(n: Option<i32>) -> Option<u32> {
    n.and_then(|n| u32::try_from(n).ok())
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AgentPool {
    #[serde(default)]
    name: String,
    #[serde(default)]
    properties: AgentPoolProperties,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AgentPoolProperties {
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    min_count: Option<u32>,
    #[serde(default)]
    max_count: Option<u32>,
    #[serde(default)]
    enable_auto_scaling: Option<bool>,
    #[serde(default)]
    provisioning_state: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    vm_size: Option<String>,
}

/// An agent pool from ARM's JSON.
fn agent_pool(body: &[u8]) -> Result<(NodePool, serde_json::Value), String> {
    let raw: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "an answer touban cannot read".to_owned())?;
    let p: AgentPool = serde_json::from_value(raw.clone())
        .map_err(|_| "an answer touban cannot read".to_owned())?;
    let props = p.properties;
    let autoscale = props.enable_auto_scaling.unwrap_or(false);
    Ok((
        NodePool {
            cloud: Cloud::Aks,
            name: p.name,
            status: props.provisioning_state.unwrap_or_default(),
            min: props.min_count.filter(|_| autoscale),
            desired: props.count.unwrap_or(0),
            max: props.max_count.filter(|_| autoscale),
            autoscale,
            system: props.mode.as_deref() == Some("System"),
            instance: props.vm_size.unwrap_or_default(),
        },
        raw,
    ))
}

/// The node groups of the configured clusters.
#[derive(Default)]
pub struct Pools {
    clusters: BTreeMap<String, Cluster>,
    eks: tokio::sync::Mutex<BTreeMap<String, aws_sdk_eks::Client>>,
}

impl Pools {
    /// The node groups of these clusters (those with `eks` or `aks`).
    pub fn new(clusters: &[Cluster]) -> Pools {
        Pools {
            clusters: clusters
                .iter()
                .filter(|c| c.eks.is_some() || c.aks.is_some())
                .map(|c| (c.name.get_ref().clone(), c.clone()))
                .collect(),
            eks: tokio::sync::Mutex::default(),
        }
    }

    fn cluster(&self, cluster: &str) -> Result<&Cluster, Failure> {
        self.clusters.get(cluster).ok_or_else(|| {
            failure(format!(
                "cluster {cluster} has neither eks nor aks in its [[clusters]]: touban sizes node groups through the cloud's API (eks = {{ identifier, aws_region }} or aks = {{ cluster = \"/subscriptions/…\", token = … }})"
            ))
        })
    }

    async fn eks(&self, cluster: &str) -> Result<Option<(aws_sdk_eks::Client, String)>, Failure> {
        let c = self.cluster(cluster)?;
        let Some(r) = &c.eks else {
            return Ok(None);
        };
        let mut clients = self.eks.lock().await;
        if let Some(client) = clients.get(cluster) {
            return Ok(Some((client.clone(), r.identifier.clone())));
        }
        let endpoint = r.endpoint.as_ref().map(|e| e.get_ref().as_str());
        let sdk = crate::sources::aws::sdk_config(Some(&r.aws_region), endpoint, r.anonymous).await;
        let config = aws_sdk_eks::config::Builder::from(&sdk)
            .interceptor(crate::sources::aws::CapBody(CAP))
            .build();
        let client = aws_sdk_eks::Client::from_conf(config);
        clients.insert(cluster.to_owned(), client.clone());
        Ok(Some((client, r.identifier.clone())))
    }

    fn aks(&self, cluster: &str) -> Result<Arm, Failure> {
        let c = self.cluster(cluster)?;
        let a = c
            .aks
            .as_ref()
            .ok_or_else(|| failure(format!("cluster {cluster} has no aks in its [[clusters]]")))?;
        Arm::resource(
            a.api.get_ref(),
            a.cluster.get_ref(),
            AKS_API_VERSION,
            a.token.get_ref(),
        )
        .map_err(failure)
    }

    /// The group `group` of `cluster` as its cloud reports it now.
    pub async fn read(&self, cluster: &str, group: &str) -> Result<NodePool, Failure> {
        if let Some((client, name)) = self.eks(cluster).await? {
            let out = client
                .describe_nodegroup()
                .cluster_name(&name)
                .nodegroup_name(group)
                .send()
                .await
                .map_err(|e| {
                    failure(format!(
                        "EKS DescribeNodegroup {name}/{group}: {}",
                        DisplayErrorContext(&e)
                    ))
                })?;
            let g = out.nodegroup().ok_or_else(|| {
                failure(format!(
                    "EKS DescribeNodegroup {name}/{group}: no such node group"
                ))
            })?;
            let s = g.scaling_config();
            return Ok(NodePool {
                cloud: Cloud::Eks,
                name: g.nodegroup_name().unwrap_or(group).to_owned(),
                status: g
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                min: to_u32(s.and_then(NodegroupScalingConfig::min_size)),
                desired: to_u32(s.and_then(NodegroupScalingConfig::desired_size)).unwrap_or(0),
                max: to_u32(s.and_then(NodegroupScalingConfig::max_size)),
                autoscale: false,
                system: false,
                instance: g.instance_types().join("/"),
            });
        }
        let arm = self.aks(cluster)?;
        let what = format!("read agent pool {group}");
        let url = arm.url_of(&format!("/agentPools/{group}"));
        let (_, _, body) = arm
            .call(&what, arm.http().get(url))
            .await
            .map_err(failure)?;
        agent_pool(&body)
            .map(|(p, _)| p)
            .map_err(|e| failure(format!("Azure: {what}: {e}")))
    }

    /// Sends the change: EKS's `UpdateNodegroupConfig` (its update's id),
    /// or the agent pool `PUT` (the operation to follow, if ARM gave one).
    pub async fn set(
        &self,
        cluster: &str,
        group: &str,
        to: Sizes,
    ) -> Result<Option<String>, Failure> {
        if let Some((client, name)) = self.eks(cluster).await? {
            let mut scaling = NodegroupScalingConfig::builder();
            if let Some(n) = to.min {
                scaling = scaling.min_size(to_i32(n));
            }
            if let Some(n) = to.desired {
                scaling = scaling.desired_size(to_i32(n));
            }
            if let Some(n) = to.max {
                scaling = scaling.max_size(to_i32(n));
            }
            let out = client
                .update_nodegroup_config()
                .cluster_name(&name)
                .nodegroup_name(group)
                .scaling_config(scaling.build())
                .send()
                .await
                .map_err(|e| {
                    failure(format!(
                        "EKS UpdateNodegroupConfig {name}/{group}: {}",
                        DisplayErrorContext(&e)
                    ))
                })?;
            return Ok(out.update().and_then(|u| u.id()).map(str::to_owned));
        }
        let arm = self.aks(cluster)?;
        let what = format!("update agent pool {group}");
        let url = arm.url_of(&format!("/agentPools/{group}"));
        // A PUT replaces the pool: the pool as read, with its sizes changed.
        let (_, _, body) = arm
            .call(&format!("read agent pool {group}"), arm.http().get(&url))
            .await
            .map_err(failure)?;
        let (_, mut raw) = agent_pool(&body).map_err(|e| failure(format!("Azure: {what}: {e}")))?;
        let Some(props) = raw.get_mut("properties") else {
            return Err(failure(format!(
                "Azure: {what}: the pool as read has no properties"
            )));
        };
        if let Some(n) = to.desired {
            props["count"] = serde_json::json!(n);
        }
        if let Some(n) = to.min {
            props["minCount"] = serde_json::json!(n);
        }
        if let Some(n) = to.max {
            props["maxCount"] = serde_json::json!(n);
        }
        // Read-only: ARM refuses them in a write.
        if let Some(p) = props.as_object_mut() {
            for key in [
                "provisioningState",
                "powerState",
                "nodeImageVersion",
                "currentOrchestratorVersion",
            ] {
                p.remove(key);
            }
        }
        let (_, headers, _) = arm
            .call(&what, arm.http().put(&url).json(&raw))
            .await
            .map_err(failure)?;
        arm.to_follow(&headers).map_err(failure)
    }

    /// Where a change sent stands: EKS's `DescribeUpdate`, or ARM's
    /// operation at `id`.
    pub async fn standing(
        &self,
        cluster: &str,
        group: &str,
        id: &str,
    ) -> Result<Standing, Failure> {
        if let Some((client, name)) = self.eks(cluster).await? {
            let out = client
                .describe_update()
                .name(&name)
                .nodegroup_name(group)
                .update_id(id)
                .send()
                .await
                .map_err(|e| {
                    failure(format!(
                        "EKS DescribeUpdate {name}/{group} {id}: {}",
                        DisplayErrorContext(&e)
                    ))
                })?;
            let u = out.update().ok_or_else(|| {
                failure(format!(
                    "EKS DescribeUpdate {name}/{group} {id}: no such update"
                ))
            })?;
            let status = u
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            return Ok(match status.as_str() {
                "Successful" => Standing::Succeeded,
                "Failed" | "Cancelled" => {
                    let errors: Vec<String> = u
                        .errors()
                        .iter()
                        .map(|e| {
                            format!(
                                "{}: {}",
                                e.error_code()
                                    .map_or("?", aws_sdk_eks::types::ErrorCode::as_str),
                                e.error_message().unwrap_or_default()
                            )
                        })
                        .collect();
                    Standing::Failed(format!("{status}: {}", errors.join("; ")))
                }
                _ => Standing::Running(status),
            });
        }
        let arm = self.aks(cluster)?;
        let what = format!("follow the update of agent pool {group}");
        Ok(match arm.operation_of(id, &what).await.map_err(failure)? {
            Operation::Succeeded => Standing::Succeeded,
            Operation::Failed(why) => Standing::Failed(why),
            Operation::Running(s) => Standing::Running(s),
        })
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    /// The fields touban reads of `AgentPoolsGet.json`, azure-rest-api-specs'
    /// example for 2025-01-01.
    const EXAMPLE_POOL: &str = r#"{
      "id": "/subscriptions/subid1/resourcegroups/rg1/providers/Microsoft.ContainerService/managedClusters/clustername1/agentPools/agentpool1",
      "name": "agentpool1",
      "properties": {
        "count": 3, "vmSize": "Standard_DS1_v2", "maxPods": 110, "osType": "Linux",
        "provisioningState": "Succeeded", "orchestratorVersion": "1.9.6",
        "upgradeSettings": { "maxSurge": "33%" }, "mode": "User",
        "enableAutoScaling": true, "minCount": 2, "maxCount": 5
      }
    }"#;

    #[test]
    fn an_agent_pool_reads_as_its_cloud_says() {
        let (p, _) = agent_pool(EXAMPLE_POOL.as_bytes()).expect("pool");
        assert_eq!(
            p,
            NodePool {
                cloud: Cloud::Aks,
                name: "agentpool1".into(),
                status: "Succeeded".into(),
                min: Some(2),
                desired: 3,
                max: Some(5),
                autoscale: true,
                system: false,
                instance: "Standard_DS1_v2".into(),
            }
        );
        assert_eq!(
            p.summary(),
            "agentpool1 Succeeded 2 ≤ 3 ≤ 5 (Standard_DS1_v2)"
        );
        assert!(p.settled());
    }
}
