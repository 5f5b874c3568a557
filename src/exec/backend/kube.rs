//! The backend on Kubernetes, through kube-rs: one client per configured
//! cluster, given by the caller or connected on first use from the
//! cluster's kube context (the way the cluster source connects, exec
//! credential plugins included; connected again once the credential
//! expires). Writes carry the field manager `touban`.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use super::{Backend, Call, Failure};
use crate::config::secret::mask_line;
use crate::model::action::Target;
use crate::model::cluster::{DeploymentRow, HpaRow};
use crate::projection::{RESTARTED_AT, deployment_row, hpa_row};

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "touban";

/// How long one call of the executor may wait for an answer.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A client and when its credential expires, if it does.
type Connected = (Client, Option<SystemTime>);

/// Kubernetes clusters by configured name.
#[derive(Default)]
pub struct KubeBackend {
    /// Clusters that are connected on first use.
    clusters: BTreeMap<String, crate::config::platform::Cluster>,
    /// Each cluster's client, behind a lock of its own: a cluster slow to
    /// connect (an exec plugin) stalls no other.
    clients: BTreeMap<String, tokio::sync::Mutex<Option<Connected>>>,
}

impl KubeBackend {
    /// A backend over these clients, by cluster name.
    pub fn new(clients: BTreeMap<String, Client>) -> KubeBackend {
        KubeBackend {
            clusters: BTreeMap::new(),
            clients: clients
                .into_iter()
                .map(|(k, c)| (k, tokio::sync::Mutex::new(Some((c, None)))))
                .collect(),
        }
    }

    /// A backend over the configured clusters, each connected when first
    /// acted on.
    pub fn for_clusters(clusters: &[crate::config::platform::Cluster]) -> KubeBackend {
        KubeBackend {
            clusters: clusters
                .iter()
                .map(|c| (c.name.get_ref().clone(), c.clone()))
                .collect(),
            clients: clusters
                .iter()
                .map(|c| (c.name.get_ref().clone(), tokio::sync::Mutex::new(None)))
                .collect(),
        }
    }

    async fn client(&self, t: &Target) -> Result<Client, Failure> {
        let Some(slot) = self.clients.get(&t.cluster) else {
            return Err(Failure {
                what: format!(
                    "no client for cluster {}: is it in the config's [[clusters]]?",
                    t.cluster
                ),
                status: None,
            });
        };
        let mut slot = slot.lock().await;
        let fresh = |expires: &Option<SystemTime>| {
            expires.is_none_or(|e| e > SystemTime::now() + Duration::from_secs(30))
        };
        if let Some((client, expires)) = slot.as_ref()
            && (fresh(expires) || !self.clusters.contains_key(&t.cluster))
        {
            return Ok(client.clone());
        }
        let Some(cluster) = self.clusters.get(&t.cluster) else {
            return Err(Failure {
                what: format!("no client for cluster {}", t.cluster),
                status: None,
            });
        };
        let connection = crate::sources::cluster::auth::connect(cluster, READ_TIMEOUT)
            .await
            .map_err(|why| Failure {
                what: mask_line(&format!("cannot connect to cluster {}: {why}", t.cluster)),
                status: None,
            })?;
        *slot = Some((connection.client.clone(), connection.expires));
        Ok(connection.client)
    }

    async fn deployments(&self, t: &Target) -> Result<Api<Deployment>, Failure> {
        Ok(Api::namespaced(self.client(t).await?, &t.namespace))
    }
}

/// A kube-rs error as the operator reads it: what was asked of which
/// cluster, the server's answer, and for 403 what is missing.
fn failure(t: &Target, doing: &str, e: &kube::Error) -> Failure {
    match e {
        kube::Error::Api(status) => {
            let hint = match status.code {
                403 => format!(
                    ": the operator's credentials for {} may not {doing} in namespace {}",
                    t.cluster, t.namespace
                ),
                409 => ": it changed since it was read; plan again".to_owned(),
                _ => String::new(),
            };
            Failure {
                what: mask_line(&format!(
                    "{doing} {}/{} on {}: HTTP {} {}{hint}",
                    t.namespace, t.name, t.cluster, status.code, status.message
                )),
                status: Some(status.code),
            }
        }
        other => Failure {
            what: mask_line(&format!(
                "{doing} {}/{} on {}: {other} (is its API server reachable?)",
                t.namespace, t.name, t.cluster
            )),
            status: None,
        },
    }
}

impl Backend for KubeBackend {
    async fn deployment(&self, t: &Target) -> Result<Option<(DeploymentRow, String)>, Failure> {
        let got = self
            .deployments(t)
            .await?
            .get_opt(&t.name)
            .await
            .map_err(|e| failure(t, "get deployment", &e))?;
        Ok(got.map(|d| {
            let rv = d.metadata.resource_version.clone().unwrap_or_default();
            (deployment_row(&d), rv)
        }))
    }

    async fn restart(
        &self,
        t: &Target,
        at: &str,
        dry_run: bool,
        resource_version: Option<&str>,
    ) -> Result<Call, Failure> {
        let api = self.deployments(t).await?;
        let params = PatchParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        let template = json!({ "metadata": { "annotations": { RESTARTED_AT: at } } });
        let patch = match resource_version {
            Some(rv) => json!({
                "metadata": { "resourceVersion": rv },
                "spec": { "template": template },
            }),
            None => json!({ "spec": { "template": template } }),
        };
        let d = api
            .patch(&t.name, &params, &Patch::Merge(patch))
            .await
            .map_err(|e| failure(t, "patch deployment", &e))?;
        Ok(Call {
            status: 200,
            before: resource_version.map(str::to_owned),
            after: d.metadata.resource_version,
        })
    }

    async fn hpa(&self, t: &Target) -> Result<Option<(HpaRow, String)>, Failure> {
        let api: Api<HorizontalPodAutoscaler> =
            Api::namespaced(self.client(t).await?, &t.namespace);
        let got = api
            .get_opt(&t.name)
            .await
            .map_err(|e| failure(t, "get horizontalpodautoscaler", &e))?;
        Ok(got.map(|h| {
            let rv = h.metadata.resource_version.clone().unwrap_or_default();
            (hpa_row(&h), rv)
        }))
    }

    async fn set_hpa_bounds(
        &self,
        t: &Target,
        min: u32,
        max: u32,
        dry_run: bool,
        resource_version: Option<&str>,
    ) -> Result<Call, Failure> {
        let api: Api<HorizontalPodAutoscaler> =
            Api::namespaced(self.client(t).await?, &t.namespace);
        let params = PatchParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        let patch = match resource_version {
            Some(rv) => json!({
                "metadata": { "resourceVersion": rv },
                "spec": { "minReplicas": min, "maxReplicas": max },
            }),
            None => json!({ "spec": { "minReplicas": min, "maxReplicas": max } }),
        };
        let h = api
            .patch(&t.name, &params, &Patch::Merge(patch))
            .await
            .map_err(|e| failure(t, "patch horizontalpodautoscaler", &e))?;
        Ok(Call {
            status: 200,
            before: resource_version.map(str::to_owned),
            after: h.metadata.resource_version,
        })
    }

    async fn record_event(
        &self,
        t: &Target,
        reason: &str,
        message: &str,
        warning: bool,
    ) -> Result<(), Failure> {
        use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
        let api: Api<Event> = Api::namespaced(self.client(t).await?, &t.namespace);
        let (kind, api_version) = match t.kind {
            crate::model::action::ObjectKind::Deployment => ("Deployment", "apps/v1"),
            crate::model::action::ObjectKind::HorizontalPodAutoscaler => {
                ("HorizontalPodAutoscaler", "autoscaling/v2")
            }
        };
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let event = Event {
            metadata: ObjectMeta {
                generate_name: Some(format!("{}.touban-", t.name)),
                namespace: Some(t.namespace.clone()),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some(api_version.to_owned()),
                kind: Some(kind.to_owned()),
                name: Some(t.name.clone()),
                namespace: Some(t.namespace.clone()),
                ..ObjectReference::default()
            },
            reason: Some(reason.to_owned()),
            message: Some(mask_line(message)),
            type_: Some(if warning { "Warning" } else { "Normal" }.to_owned()),
            source: Some(EventSource {
                component: Some(FIELD_MANAGER.to_owned()),
                host: None,
            }),
            reporting_component: Some(FIELD_MANAGER.to_owned()),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            ..Event::default()
        };
        let params = kube::api::PostParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..kube::api::PostParams::default()
        };
        api.create(&params, &event)
            .await
            .map(|_| ())
            .map_err(|e| failure(t, "create event", &e))
    }

    async fn hpas(&self, t: &Target) -> Result<Vec<HpaRow>, Failure> {
        let api: Api<HorizontalPodAutoscaler> =
            Api::namespaced(self.client(t).await?, &t.namespace);
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| failure(t, "list horizontalpodautoscalers", &e))?;
        Ok(list.items.iter().map(hpa_row).collect())
    }

    async fn scale(
        &self,
        t: &Target,
        replicas: u32,
        dry_run: bool,
        resource_version: Option<&str>,
    ) -> Result<Call, Failure> {
        let api = self.deployments(t).await?;
        let params = PatchParams {
            dry_run,
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..PatchParams::default()
        };
        // The resourceVersion read is a precondition: a change in between
        // is a 409, never overwritten.
        let patch = match resource_version {
            Some(rv) => Patch::Merge(json!({
                "metadata": { "resourceVersion": rv },
                "spec": { "replicas": replicas },
            })),
            None => Patch::Merge(json!({ "spec": { "replicas": replicas } })),
        };
        let scale = api
            .patch_scale(&t.name, &params, &patch)
            .await
            .map_err(|e| failure(t, "patch deployments/scale", &e))?;
        // kube-rs answers Ok for a 2xx only, and a PATCH's success is 200.
        Ok(Call {
            status: 200,
            before: resource_version.map(str::to_owned),
            after: scale.metadata.resource_version,
        })
    }
}
