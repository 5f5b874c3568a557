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

use super::{Backend, Call, Failure, OwnedPod};
use crate::config::secret::mask_line;
use crate::model::action::Matcher;
use crate::model::action::Target;
use crate::model::cluster::{DeploymentRow, HpaRow, PodRow, ServiceRow};
use crate::projection::{RESTARTED_AT, deployment_row, hpa_row, pod_row, service_row};

/// The field manager of every write.
pub const FIELD_MANAGER: &str = "touban";

/// How long one call of the executor may wait for an answer.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A read that failed on its way (a connection cut, a timeout; never an
/// answer of the API server, which [`failure`] reports) is asked again
/// this many times, after 0.25 s, then 0.5 s, then 1 s: a deploy is not
/// failed at its last step because one GET was cut. Writes are not asked
/// again here: their steps read what happened and decide.
const READ_RETRIES: usize = 3;

/// Asks `call` (a GET or a LIST) again after a failure on the way.
async fn read<T, F, Fut>(call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    use backon::Retryable;
    let backoff = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(1))
        .with_max_times(READ_RETRIES);
    call.retry(backoff)
        .when(|e| matches!(e, kube::Error::HyperError(_) | kube::Error::Service(_)))
        .notify(|e, after| {
            tracing::warn!(
                "{}",
                mask_line(&format!(
                    "a read of the executor failed on its way ({e}); asking again in {after:?}"
                ))
            );
        })
        .await
}

/// A client and when its credential expires, if it does.
type Connected = (Client, Option<SystemTime>);

/// A client's cluster.
#[derive(Default)]
struct Slot {
    connected: Option<Connected>,
    /// Its API server's URL, once known.
    server: Option<String>,
}

/// Kubernetes clusters by configured name.
#[derive(Default)]
pub struct KubeBackend {
    /// Clusters that are connected on first use.
    clusters: BTreeMap<String, crate::config::platform::Cluster>,
    /// Each cluster's client, behind a lock of its own: a cluster slow to
    /// connect (an exec plugin) stalls no other.
    clients: BTreeMap<String, tokio::sync::Mutex<Slot>>,
    /// The Alertmanagers silences go to.
    alertmanagers: super::alertmanager::Alertmanagers,
    /// The databases failovers act on.
    databases: super::postgres::Databases,
    /// The caches failovers act on.
    caches: super::redis::Caches,
    /// The global load balancer, if configured (or why its client could
    /// not be made: a token that cannot be read).
    traffic: Option<Result<crate::sources::traffic::Cloudflare, String>>,
    /// Azure flexible servers, by configured database name (or why the
    /// client could not be made).
    azure: BTreeMap<String, Result<super::azure::Arm, String>>,
    /// RDS instances, by configured database name.
    rds: super::rds::Instances,
    /// ElastiCache replication groups, by configured cache name.
    elasticache: super::elasticache::Groups,
    /// The clusters' node groups in their clouds.
    node_pools: super::nodepool::Pools,
    /// The `[[manifests]]` sets, by name, and the directory their paths
    /// are relative to.
    manifests: (
        BTreeMap<String, crate::config::platform::Manifests>,
        Option<std::path::PathBuf>,
    ),
    /// The `[[infrastructure]]` directories, by name; the directory their
    /// paths are relative to; the state directory the plans are kept in.
    infrastructure: (
        BTreeMap<String, crate::config::platform::Infrastructure>,
        Option<std::path::PathBuf>,
        Option<std::path::PathBuf>,
    ),
    /// Which login the executor acts with on each database and cache, by
    /// configured name, as a plan says it.
    logins: BTreeMap<String, String>,
}

impl KubeBackend {
    /// A backend over these clients, by cluster name (their API
    /// servers' URLs unknown: a world is then its cluster uid).
    pub fn new(clients: BTreeMap<String, Client>) -> KubeBackend {
        KubeBackend {
            alertmanagers: super::alertmanager::Alertmanagers::default(),
            databases: super::postgres::Databases::default(),
            caches: super::redis::Caches::default(),
            traffic: None,
            azure: BTreeMap::new(),
            rds: super::rds::Instances::default(),
            elasticache: super::elasticache::Groups::default(),
            node_pools: super::nodepool::Pools::default(),
            manifests: (BTreeMap::new(), None),
            infrastructure: (BTreeMap::new(), None, None),
            logins: BTreeMap::new(),
            clusters: BTreeMap::new(),
            clients: clients
                .into_iter()
                .map(|(k, c)| {
                    let slot = Slot {
                        connected: Some((c, None)),
                        server: None,
                    };
                    (k, tokio::sync::Mutex::new(slot))
                })
                .collect(),
        }
    }

    /// The same backend, acting on the global load balancer's pools
    /// through `client`.
    #[must_use]
    pub fn with_traffic(
        mut self,
        client: Result<crate::sources::traffic::Cloudflare, String>,
    ) -> KubeBackend {
        self.traffic = Some(client);
        self
    }

    /// The same backend, promoting these Azure flexible servers (by
    /// configured database name).
    #[must_use]
    pub fn with_azure(
        mut self,
        servers: BTreeMap<String, Result<super::azure::Arm, String>>,
    ) -> KubeBackend {
        self.azure = servers;
        self
    }

    /// The same backend, failing over and promoting these RDS instances
    /// (by configured database name).
    #[must_use]
    pub fn with_rds(
        mut self,
        instances: BTreeMap<String, crate::config::platform::CloudWatchRef>,
    ) -> KubeBackend {
        self.rds = super::rds::Instances::new(instances);
        self
    }

    /// The same backend, applying these `[[manifests]]` sets, their paths
    /// relative to `base` (the config file's directory).
    #[must_use]
    pub fn with_manifests(
        mut self,
        sets: &[crate::config::platform::Manifests],
        base: Option<std::path::PathBuf>,
    ) -> KubeBackend {
        self.manifests = (
            sets.iter()
                .map(|m| (m.name.get_ref().clone(), m.clone()))
                .collect(),
            base,
        );
        self
    }

    /// The same backend, planning and applying these `[[infrastructure]]`
    /// directories (relative to `base`), their plans kept in `state_dir`.
    #[must_use]
    pub fn with_infrastructure(
        mut self,
        dirs: &[crate::config::platform::Infrastructure],
        base: Option<std::path::PathBuf>,
        state_dir: std::path::PathBuf,
    ) -> KubeBackend {
        self.infrastructure = (
            dirs.iter()
                .map(|i| (i.name.get_ref().clone(), i.clone()))
                .collect(),
            base,
            Some(state_dir),
        );
        self
    }

    /// The target's `[[infrastructure]]`, its working directory and its
    /// plan file.
    fn infra(
        &self,
        t: &Target,
    ) -> Result<
        (
            &crate::config::platform::Infrastructure,
            std::path::PathBuf,
            std::path::PathBuf,
        ),
        Failure,
    > {
        let fail = |what: String| Failure { what, status: None };
        let (dirs, base, state) = &self.infrastructure;
        let infra = dirs.get(&t.name).ok_or_else(|| {
            fail(format!(
                "no [[infrastructure]] named {} in the config",
                t.name
            ))
        })?;
        let dir = match base {
            Some(b) if infra.dir.is_relative() => b.join(&infra.dir),
            _ => infra.dir.clone(),
        };
        if !dir.is_dir() {
            return Err(fail(format!(
                "{} is not a directory: check [[infrastructure]] `{}` dir",
                dir.display(),
                t.name
            )));
        }
        let state = state
            .as_ref()
            .ok_or_else(|| fail("no state directory to keep plans in".into()))?;
        Ok((infra, dir, crate::exec::infra::plan_file(state, &t.name)))
    }

    /// An applier on the target's cluster, the target's set and its files.
    async fn applier(
        &self,
        t: &Target,
    ) -> Result<
        (
            crate::exec::apply::Applier,
            &crate::config::platform::Manifests,
            Vec<std::path::PathBuf>,
        ),
        Failure,
    > {
        let (sets, base) = &self.manifests;
        let set = sets.get(&t.name).ok_or_else(|| Failure {
            what: format!("no [[manifests]] named {} in the config", t.name),
            status: None,
        })?;
        let files = crate::exec::apply::files(set, base.as_deref()).map_err(|e| Failure {
            what: e.to_string(),
            status: None,
        })?;
        let client = self.client(t).await?;
        Ok((
            crate::exec::apply::Applier::new(client, &t.cluster, &t.namespace),
            set,
            files,
        ))
    }

    /// The same backend, failing these ElastiCache replication groups
    /// over (by configured cache name).
    #[must_use]
    pub fn with_elasticache(
        mut self,
        groups: BTreeMap<String, crate::config::platform::CloudWatchRef>,
    ) -> KubeBackend {
        self.elasticache = super::elasticache::Groups::new(groups);
        self
    }

    fn azure(&self, db: &str) -> Result<&super::azure::Arm, Failure> {
        match self.azure.get(db) {
            Some(Ok(client)) => Ok(client),
            Some(Err(why)) => Err(Failure {
                what: why.clone(),
                status: None,
            }),
            None => Err(Failure {
                what: format!(
                    "{db} has no azure = {{ server = \"/subscriptions/…\", token = … }} in its [[databases]]: touban cannot reach it through Azure Resource Manager"
                ),
                status: None,
            }),
        }
    }

    fn traffic(&self) -> Result<&crate::sources::traffic::Cloudflare, Failure> {
        match &self.traffic {
            Some(Ok(client)) => Ok(client),
            Some(Err(why)) => Err(Failure {
                what: why.clone(),
                status: None,
            }),
            None => Err(Failure {
                what: "no [traffic] load balancer is configured".into(),
                status: None,
            }),
        }
    }

    /// The same backend, the API server of `cluster` known as `server`.
    #[must_use]
    pub fn with_server(self, cluster: &str, server: &str) -> KubeBackend {
        if let Some(slot) = self.clients.get(cluster) {
            slot.try_lock()
                .map(|mut s| s.server = Some(server.to_owned()))
                .unwrap_or_default();
        }
        self
    }

    /// A backend over the configured clusters, each connected when first
    /// acted on.
    pub fn for_clusters(clusters: &[crate::config::platform::Cluster]) -> KubeBackend {
        KubeBackend {
            alertmanagers: super::alertmanager::Alertmanagers::default(),
            databases: super::postgres::Databases::default(),
            caches: super::redis::Caches::default(),
            traffic: None,
            azure: BTreeMap::new(),
            rds: super::rds::Instances::default(),
            elasticache: super::elasticache::Groups::default(),
            node_pools: super::nodepool::Pools::new(clusters),
            manifests: (BTreeMap::new(), None),
            infrastructure: (BTreeMap::new(), None, None),
            logins: BTreeMap::new(),
            clusters: clusters
                .iter()
                .map(|c| (c.name.get_ref().clone(), c.clone()))
                .collect(),
            clients: clusters
                .iter()
                .map(|c| {
                    let slot = tokio::sync::Mutex::new(Slot::default());
                    (c.name.get_ref().clone(), slot)
                })
                .collect(),
        }
    }

    /// The same backend, silencing on these Alertmanagers (by alert source
    /// name → base URL).
    #[must_use]
    pub fn with_alertmanagers(mut self, urls: BTreeMap<String, String>) -> KubeBackend {
        self.alertmanagers = super::alertmanager::Alertmanagers::new(urls);
        self
    }

    /// The same backend, failing over these PostgreSQL databases (by
    /// configured name → direct access).
    #[must_use]
    pub fn with_databases(
        mut self,
        direct: BTreeMap<String, crate::config::platform::Direct>,
    ) -> KubeBackend {
        self.databases = super::postgres::Databases::new(direct);
        self
    }

    /// The same backend, acting on the platform's PostgreSQL databases and
    /// Redis caches with each one's `action` login, else its `direct` one
    /// (and saying which in every plan).
    #[must_use]
    pub fn with_data_tier(self, platform: &crate::config::Platform) -> KubeBackend {
        use crate::config::platform::DatabaseKind;
        let databases = platform
            .databases
            .iter()
            .filter(|d| d.kind == DatabaseKind::Postgres)
            .filter_map(|d| {
                let login = d.action.clone().or_else(|| d.direct.clone())?;
                Some((d.name.get_ref().clone(), login))
            })
            .collect();
        let caches = platform
            .caches
            .iter()
            .filter_map(|c| {
                let reach = super::redis::Reach {
                    kind: c.kind,
                    direct: c.action.clone().or_else(|| c.direct.clone())?,
                    master_name: c.master_name.clone(),
                    replicas: c.replicas.clone(),
                };
                Some((c.name.get_ref().clone(), reach))
            })
            .collect();
        self.with_databases(databases)
            .with_caches(caches)
            .with_logins(super::logins(platform))
    }

    /// The same backend, saying in each plan which login it acts with on
    /// these databases and caches (by `database/NAME` or `cache/NAME` →
    /// what to say).
    #[must_use]
    pub fn with_logins(mut self, logins: BTreeMap<String, String>) -> KubeBackend {
        self.logins = logins;
        self
    }

    /// The same backend, failing over these caches (by configured name).
    #[must_use]
    pub fn with_caches(mut self, reach: BTreeMap<String, super::redis::Reach>) -> KubeBackend {
        self.caches = super::redis::Caches::new(reach);
        self
    }

    async fn client(&self, t: &Target) -> Result<Client, Failure> {
        self.connected(t).await.map(|(c, _)| c)
    }

    /// The target cluster's client and its API server's URL, if known.
    async fn connected(&self, t: &Target) -> Result<(Client, Option<String>), Failure> {
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
        if let Some((client, expires)) = slot.connected.as_ref()
            && (fresh(expires) || !self.clusters.contains_key(&t.cluster))
        {
            return Ok((client.clone(), slot.server.clone()));
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
        slot.connected = Some((connection.client.clone(), connection.expires));
        slot.server = Some(connection.server.clone());
        Ok((connection.client, Some(connection.server)))
    }

    async fn deployments(&self, t: &Target) -> Result<Api<Deployment>, Failure> {
        Ok(Api::namespaced(self.client(t).await?, &t.namespace))
    }
}

/// A ConfigMap or Secret that another object owns (an ExternalSecret, a
/// SealedSecret): its controller would put the old value back, so touban
/// refuses to write it and says what to re-point instead.
fn owned(
    t: &Target,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Result<(), Failure> {
    match meta.owner_references.as_deref().unwrap_or_default().first() {
        Some(owner) => Err(Failure {
            what: format!(
                "{}/{} on {} is owned by {} {}: its controller would put the old address back; re-point that {} at the new database and drop this consumer from [[databases.consumers]]",
                t.namespace, t.name, t.cluster, owner.kind, owner.name, owner.kind
            ),
            status: None,
        }),
        None => Ok(()),
    }
}

/// The parameters of every patch: touban's field manager, and the
/// server-side dry run when asked.
fn params(dry_run: bool) -> PatchParams {
    PatchParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    }
}

/// A Lease as the executor reads it; what is missing reads as an old,
/// anonymous holder (so it has run out).
fn holder_of(l: &k8s_openapi::api::coordination::v1::Lease) -> crate::exec::lease::Holder {
    let spec = l.spec.clone().unwrap_or_default();
    let annotation = |k: &str| {
        l.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(k))
            .cloned()
            .unwrap_or_default()
    };
    let time = |t: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime>| {
        t.and_then(|m| jiff::Timestamp::from_microsecond(m.0.as_microsecond()).ok())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    };
    crate::exec::lease::Holder {
        identity: spec
            .holder_identity
            .clone()
            .unwrap_or_else(|| "someone".into()),
        job: annotation(crate::exec::lease::JOB),
        action: annotation(crate::exec::lease::ACTION),
        step: annotation(crate::exec::lease::STEP),
        switch: crate::exec::lease::parse_switch(&annotation(crate::exec::lease::SWITCH)),
        acquired: time(spec.acquire_time.clone()),
        renewed: time(spec.renew_time.clone()),
        duration: std::time::Duration::from_secs(
            u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0),
        ),
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
        let api = self.deployments(t).await?;
        let got = read(|| api.get_opt(&t.name))
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
        let params = params(dry_run);
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
        let got = read(|| api.get_opt(&t.name))
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
        let params = params(dry_run);
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

        use crate::model::action::ObjectKind;
        let api: Api<Event> = Api::namespaced(self.client(t).await?, &t.namespace);
        let (kind, api_version) = match t.kind {
            ObjectKind::Deployment => ("Deployment", "apps/v1"),
            ObjectKind::HorizontalPodAutoscaler => ("HorizontalPodAutoscaler", "autoscaling/v2"),
            ObjectKind::Service => ("Service", "v1"),
            ObjectKind::Pod => ("Pod", "v1"),
            ObjectKind::ConfigMap => ("ConfigMap", "v1"),
            ObjectKind::Secret => ("Secret", "v1"),
            ObjectKind::Silence
            | ObjectKind::Database
            | ObjectKind::Cache
            | ObjectKind::Pool
            | ObjectKind::Manifests
            | ObjectKind::Infrastructure
            | ObjectKind::Region => {
                return Err(Failure {
                    what: format!("{t} has no cluster to write Events to"),
                    status: None,
                });
            }
            ObjectKind::NodeGroup => {
                return Err(Failure {
                    what: format!("{t} is its cloud's, no Kubernetes object to write Events to"),
                    status: None,
                });
            }
            // A release is no API object: its Events name it by its `app`,
            // as `kubectl get events --field-selector involvedObject.name=APP`
            // finds them.
            ObjectKind::Release => ("Release", "touban.io/v1"),
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

    async fn may(
        &self,
        t: &Target,
        access: &crate::exec::step::Access,
    ) -> Result<Option<String>, Failure> {
        use k8s_openapi::api::authorization::v1::{
            ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client(t).await?);
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(t.namespace.clone()),
                    verb: Some(access.verb.to_owned()),
                    group: Some(access.group.to_owned()),
                    resource: Some(access.resource.to_owned()),
                    subresource: access.subresource.map(str::to_owned),
                    // A release is several objects: its review is of the
                    // resource, not one name.
                    name: (t.kind != crate::model::action::ObjectKind::Release)
                        .then(|| t.name.clone()),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answer = api
            .create(&kube::api::PostParams::default(), &review)
            .await
            .map_err(|e| failure(t, "create selfsubjectaccessreview", &e))?;
        let status = answer.status.unwrap_or_default();
        Ok((!status.allowed).then(|| {
            status
                .reason
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "not allowed".to_owned())
        }))
    }

    async fn world(&self, t: &Target) -> Result<crate::exec::checkpoint::World, Failure> {
        use k8s_openapi::api::core::v1::Namespace;
        let (client, server) = self.connected(t).await?;
        let api: Api<Namespace> = Api::all(client);
        let uid = match read(|| api.get("kube-system")).await {
            Ok(ns) => ns.metadata.uid,
            // Credentials that may not read namespaces: the world is its
            // server alone.
            Err(kube::Error::Api(e)) if e.code == 403 => None,
            Err(e) => return Err(failure(t, "get namespace kube-system", &e)),
        };
        Ok(crate::exec::checkpoint::World { server, uid })
    }

    async fn lease(
        &self,
        t: &Target,
    ) -> Result<Option<(crate::exec::lease::Holder, String)>, Failure> {
        use k8s_openapi::api::coordination::v1::Lease;
        let api: Api<Lease> = Api::namespaced(self.client(t).await?, &t.namespace);
        let name = crate::exec::lease::name(t);
        let got = read(|| api.get_opt(&name))
            .await
            .map_err(|e| failure(t, "get lease", &e))?;
        Ok(got.map(|l| {
            let rv = l.metadata.resource_version.clone().unwrap_or_default();
            (holder_of(&l), rv)
        }))
    }

    async fn put_lease(
        &self,
        t: &Target,
        holder: &crate::exec::lease::Holder,
        resource_version: Option<&str>,
    ) -> Result<String, Failure> {
        use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
        let api: Api<Lease> = Api::namespaced(self.client(t).await?, &t.namespace);
        let name = crate::exec::lease::name(t);
        let micro = |ts: jiff::Timestamp| {
            k8s_openapi::jiff::Timestamp::from_microsecond(ts.as_microsecond())
                .ok()
                .map(MicroTime)
        };
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(t.namespace.clone()),
                resource_version: resource_version.map(str::to_owned),
                annotations: Some(
                    [
                        (crate::exec::lease::JOB, holder.job.clone()),
                        (crate::exec::lease::ACTION, mask_line(&holder.action)),
                        (crate::exec::lease::STEP, holder.step.clone()),
                    ]
                    .into_iter()
                    .chain(holder.switch.as_ref().map(|s| {
                        (
                            crate::exec::lease::SWITCH,
                            crate::exec::lease::switch_value(s),
                        )
                    }))
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.identity.clone()),
                lease_duration_seconds: i32::try_from(holder.duration.as_secs()).ok(),
                acquire_time: micro(holder.acquired),
                renew_time: micro(holder.renewed),
                ..LeaseSpec::default()
            }),
        };
        let params = kube::api::PostParams {
            field_manager: Some(FIELD_MANAGER.to_owned()),
            ..kube::api::PostParams::default()
        };
        let written = match resource_version {
            None => api.create(&params, &lease).await,
            Some(_) => api.replace(&name, &params, &lease).await,
        }
        .map_err(|e| failure(t, "write lease", &e))?;
        Ok(written.metadata.resource_version.unwrap_or_default())
    }

    async fn drop_lease(&self, t: &Target, resource_version: &str) -> Result<(), Failure> {
        use k8s_openapi::api::coordination::v1::Lease;
        let api: Api<Lease> = Api::namespaced(self.client(t).await?, &t.namespace);
        let params = kube::api::DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                resource_version: Some(resource_version.to_owned()),
                uid: None,
            }),
            ..kube::api::DeleteParams::default()
        };
        api.delete(&crate::exec::lease::name(t), &params)
            .await
            .map(|_| ())
            .map_err(|e| failure(t, "delete lease", &e))
    }

    async fn hpas(&self, t: &Target) -> Result<Vec<HpaRow>, Failure> {
        let api: Api<HorizontalPodAutoscaler> =
            Api::namespaced(self.client(t).await?, &t.namespace);
        let selected = ListParams::default();
        let list = read(|| api.list(&selected))
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
        let params = params(dry_run);
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

    async fn release(&self, t: &Target) -> Result<(Vec<DeploymentRow>, Vec<ServiceRow>), Failure> {
        use k8s_openapi::api::core::v1::Service;
        let client = self.client(t).await?;
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &t.namespace);
        let services: Api<Service> = Api::namespaced(client, &t.namespace);
        let of_app = ListParams::default().labels(&format!("app={}", t.name));
        let d = read(|| deployments.list(&of_app))
            .await
            .map_err(|e| failure(t, "list deployments", &e))?;
        let selected = ListParams::default();
        let s = read(|| services.list(&selected))
            .await
            .map_err(|e| failure(t, "list services", &e))?;
        Ok((
            d.items.iter().map(deployment_row).collect(),
            s.items.iter().map(service_row).collect(),
        ))
    }

    async fn json_patch(
        &self,
        object: &Target,
        patch: &serde_json::Value,
        dry_run: bool,
    ) -> Result<Call, Failure> {
        use crate::model::action::ObjectKind;
        use k8s_openapi::api::core::v1::Service;
        let client = self.client(object).await?;
        let ns = &object.namespace;
        let ops: json_patch::Patch =
            serde_json::from_value(patch.clone()).map_err(|e| Failure {
                what: format!("a JSON patch touban built does not parse ({e}): a defect of touban"),
                status: None,
            })?;
        let patch = Patch::<()>::Json(ops);
        let params = params(dry_run);
        let name = &object.name;
        let after = match object.kind {
            ObjectKind::Deployment => Api::<Deployment>::namespaced(client, ns)
                .patch(name, &params, &patch)
                .await
                .map(|o| o.metadata.resource_version)
                .map_err(|e| failure(object, "patch deployment", &e)),
            ObjectKind::Service => Api::<Service>::namespaced(client, ns)
                .patch(name, &params, &patch)
                .await
                .map(|o| o.metadata.resource_version)
                .map_err(|e| failure(object, "patch service", &e)),
            ObjectKind::HorizontalPodAutoscaler => {
                Api::<HorizontalPodAutoscaler>::namespaced(client, ns)
                    .patch(name, &params, &patch)
                    .await
                    .map(|o| o.metadata.resource_version)
                    .map_err(|e| failure(object, "patch horizontalpodautoscaler", &e))
            }
            ObjectKind::Release
            | ObjectKind::NodeGroup
            | ObjectKind::Pod
            | ObjectKind::Silence
            | ObjectKind::Database
            | ObjectKind::Cache
            | ObjectKind::Pool
            | ObjectKind::Region
            | ObjectKind::ConfigMap
            | ObjectKind::Manifests
            | ObjectKind::Infrastructure
            | ObjectKind::Secret => Err(Failure {
                what: format!("{object} is not patched by touban: a defect of touban"),
                status: None,
            }),
        }?;
        Ok(Call {
            status: 200,
            before: None,
            after,
        })
    }

    fn login(&self, t: &Target) -> Option<String> {
        use crate::model::action::ObjectKind;
        let kind = match t.kind {
            ObjectKind::Database => "database",
            ObjectKind::Cache => "cache",
            _ => return None,
        };
        self.logins.get(&format!("{kind}/{}", t.name)).cloned()
    }

    async fn config_value(
        &self,
        t: &Target,
        key: &str,
    ) -> Result<Option<(Option<super::KeyValue>, String)>, Failure> {
        use crate::model::action::ObjectKind;
        use k8s_openapi::api::core::v1::{ConfigMap, Secret};
        let client = self.client(t).await?;
        let found = if t.kind == ObjectKind::Secret {
            let api: Api<Secret> = Api::namespaced(client, &t.namespace);
            let got = read(|| api.get_opt(&t.name))
                .await
                .map_err(|e| failure(t, "get secret", &e))?;
            match got {
                None => None,
                Some(o) => {
                    owned(t, &o.metadata)?;
                    // Text only: bytes rewritten as text would not be the
                    // bytes the write's test compares.
                    let value = match o.data.as_ref().and_then(|d| d.get(key)) {
                        None => None,
                        Some(b) => Some(String::from_utf8(b.0.clone()).map_err(|_| Failure {
                            what: format!(
                                "{key} of secret {}/{} on {} is not text: touban re-points a URL or host only",
                                t.namespace, t.name, t.cluster
                            ),
                            status: None,
                        })?),
                    };
                    Some((value, o.metadata.resource_version))
                }
            }
        } else {
            let api: Api<ConfigMap> = Api::namespaced(client, &t.namespace);
            let got = read(|| api.get_opt(&t.name))
                .await
                .map_err(|e| failure(t, "get configmap", &e))?;
            match got {
                None => None,
                Some(o) => {
                    owned(t, &o.metadata)?;
                    Some((
                        o.data.and_then(|d| d.get(key).cloned()),
                        o.metadata.resource_version,
                    ))
                }
            }
        };
        Ok(found.map(|(v, rv)| (v.map(super::KeyValue), rv.unwrap_or_default())))
    }

    async fn set_config_value(
        &self,
        t: &Target,
        key: &str,
        from: &super::KeyValue,
        to: &super::KeyValue,
        dry_run: bool,
    ) -> Result<Call, Failure> {
        use crate::model::action::ObjectKind;
        use k8s_openapi::ByteString;
        use k8s_openapi::api::core::v1::{ConfigMap, Secret};
        let client = self.client(t).await?;
        // A Secret's data is base64, as its ByteString serializes.
        let encode = |v: &super::KeyValue| {
            if t.kind == ObjectKind::Secret {
                serde_json::to_value(ByteString(v.reveal().as_bytes().to_vec())).unwrap_or_default()
            } else {
                serde_json::Value::String(v.reveal().to_owned())
            }
        };
        let pointer = format!("/data/{}", key.replace('~', "~0").replace('/', "~1"));
        let ops: json_patch::Patch = serde_json::from_value(json!([
            {"op": "test", "path": pointer, "value": encode(from)},
            {"op": "replace", "path": pointer, "value": encode(to)},
        ]))
        .map_err(|e| Failure {
            what: format!("a JSON patch touban built does not parse ({e}): a defect of touban"),
            status: None,
        })?;
        let patch = Patch::<()>::Json(ops);
        let params = params(dry_run);
        // The test failing is a 422: the value changed since it was read.
        let failed = |doing: &str, e: &kube::Error| {
            let mut f = failure(t, doing, e);
            if f.status == Some(422) {
                f.what.push_str(
                    ": the value changed since it was read (or the server refused it); plan again",
                );
            }
            f
        };
        let after = if t.kind == ObjectKind::Secret {
            Api::<Secret>::namespaced(client, &t.namespace)
                .patch(&t.name, &params, &patch)
                .await
                .map(|o| o.metadata.resource_version)
                .map_err(|e| failed("patch secret", &e))?
        } else {
            Api::<ConfigMap>::namespaced(client, &t.namespace)
                .patch(&t.name, &params, &patch)
                .await
                .map(|o| o.metadata.resource_version)
                .map_err(|e| failed("patch configmap", &e))?
        };
        Ok(Call {
            status: 200,
            before: None,
            after,
        })
    }

    async fn endpoints(&self, service: &Target) -> Result<(Vec<String>, Vec<String>), Failure> {
        use k8s_openapi::api::core::v1::Endpoints;
        let api: Api<Endpoints> = Api::namespaced(self.client(service).await?, &service.namespace);
        let got = read(|| api.get_opt(&service.name))
            .await
            .map_err(|e| failure(service, "get endpoints", &e))?;
        let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
        let pod = |a: &k8s_openapi::api::core::v1::EndpointAddress| {
            a.target_ref.as_ref().and_then(|r| r.name.clone())
        };
        for subset in got.and_then(|e| e.subsets).unwrap_or_default() {
            ready.extend(subset.addresses.iter().flatten().filter_map(pod));
            not_ready.extend(subset.not_ready_addresses.iter().flatten().filter_map(pod));
        }
        Ok((ready, not_ready))
    }

    async fn pods(&self, t: &Target, selector: &str) -> Result<Vec<PodRow>, Failure> {
        use k8s_openapi::api::core::v1::Pod;
        let api: Api<Pod> = Api::namespaced(self.client(t).await?, &t.namespace);
        let selected = ListParams::default().labels(selector);
        let list = read(|| api.list(&selected))
            .await
            .map_err(|e| failure(t, "list pods", &e))?;
        Ok(list.items.iter().map(pod_row).collect())
    }

    async fn pod(&self, t: &Target) -> Result<Option<OwnedPod>, Failure> {
        use k8s_openapi::api::apps::v1::ReplicaSet;
        use k8s_openapi::api::core::v1::Pod;
        let client = self.client(t).await?;
        let pods: Api<Pod> = Api::namespaced(client.clone(), &t.namespace);
        let Some(p) = read(|| pods.get_opt(&t.name))
            .await
            .map_err(|e| failure(t, "get pod", &e))?
        else {
            return Ok(None);
        };
        let controller =
            |refs: Option<&Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>,
             kind: &str| {
                refs.into_iter()
                    .flatten()
                    .find(|o| o.controller == Some(true) && o.kind == kind)
                    .map(|o| o.name.clone())
            };
        let replicasets = Api::<ReplicaSet>::namespaced(client, &t.namespace);
        let deployment = match controller(p.metadata.owner_references.as_ref(), "ReplicaSet") {
            Some(rs) => read(|| replicasets.get_opt(&rs))
                .await
                .map_err(|e| failure(t, "get replicaset", &e))?
                .and_then(|rs| controller(rs.metadata.owner_references.as_ref(), "Deployment")),
            None => None,
        };
        Ok(Some(OwnedPod {
            row: pod_row(&p),
            uid: p.metadata.uid.clone().unwrap_or_default(),
            deployment,
        }))
    }

    async fn delete_pod(&self, t: &Target, uid: &str, dry_run: bool) -> Result<Call, Failure> {
        use k8s_openapi::api::core::v1::Pod;
        let api: Api<Pod> = Api::namespaced(self.client(t).await?, &t.namespace);
        let params = kube::api::DeleteParams {
            dry_run,
            preconditions: Some(kube::api::Preconditions {
                uid: Some(uid.to_owned()),
                resource_version: None,
            }),
            ..kube::api::DeleteParams::default()
        };
        api.delete(&t.name, &params)
            .await
            .map_err(|e| failure(t, "delete pod", &e))?;
        Ok(Call {
            status: 200,
            before: None,
            after: None,
        })
    }

    async fn revision(
        &self,
        t: &Target,
        revision: u32,
    ) -> Result<Option<(serde_json::Value, String)>, Failure> {
        use k8s_openapi::api::apps::v1::ReplicaSet;
        let api: Api<ReplicaSet> = Api::namespaced(self.client(t).await?, &t.namespace);
        let selected = ListParams::default();
        let list = read(|| api.list(&selected))
            .await
            .map_err(|e| failure(t, "list replicasets", &e))?;
        let wanted = revision.to_string();
        let Some(rs) = list.items.into_iter().find(|rs| {
            let owned =
                rs.metadata.owner_references.iter().flatten().any(|o| {
                    o.controller == Some(true) && o.kind == "Deployment" && o.name == t.name
                });
            let at = rs
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("deployment.kubernetes.io/revision"));
            owned && at == Some(&wanted)
        }) else {
            return Ok(None);
        };
        let Some(mut template) = rs.spec.map(|s| s.template.unwrap_or_default()) else {
            return Ok(None);
        };
        if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove("pod-template-hash");
        }
        let image = template
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default();
        let value = serde_json::to_value(&template).map_err(|e| Failure {
            what: format!("revision {revision}'s template does not serialise: {e}"),
            status: None,
        })?;
        Ok(Some((value, image)))
    }

    async fn silences_reachable(&self, t: &Target) -> Result<(), Failure> {
        self.alertmanagers.reachable(t).await
    }

    async fn create_silence(
        &self,
        t: &Target,
        matchers: &[Matcher],
        duration: Duration,
        created_by: &str,
        comment: &str,
    ) -> Result<String, Failure> {
        self.alertmanagers
            .create(t, matchers, duration, created_by, comment)
            .await
    }

    async fn silence_state(&self, t: &Target, id: &str) -> Result<Option<String>, Failure> {
        self.alertmanagers.state(t, id).await
    }

    async fn find_silence(
        &self,
        t: &Target,
        matchers: &[Matcher],
        created_by: &str,
        comment: &str,
    ) -> Result<Option<String>, Failure> {
        self.alertmanagers
            .find(t, matchers, created_by, comment)
            .await
    }

    async fn expire_silence(&self, t: &Target, id: &str) -> Result<(), Failure> {
        self.alertmanagers.expire(t, id).await
    }

    async fn db_read(&self, db: &str) -> Result<super::DbReading, Failure> {
        self.databases.read(db).await
    }

    async fn db_fence(&self, db: &str, read_only: bool, dry_run: bool) -> Result<i64, Failure> {
        self.databases.fence(db, read_only, dry_run).await
    }

    async fn db_sequence_highs(&self, db: &str) -> Result<Vec<super::SequenceHigh>, Failure> {
        self.databases.sequence_highs(db).await
    }

    async fn db_logins(&self, db: &str, roles: &[String]) -> Result<Vec<super::Login>, Failure> {
        self.databases.logins(db, roles).await
    }

    async fn db_lockout(
        &self,
        db: &str,
        roles: &[String],
        locked: bool,
        dry_run: bool,
    ) -> Result<i64, Failure> {
        self.databases.lockout(db, roles, locked, dry_run).await
    }

    async fn db_promote(&self, db: &str, dry_run: bool) -> Result<(), Failure> {
        self.databases.promote(db, dry_run).await
    }

    async fn db_disable_subscription(
        &self,
        db: &str,
        name: &str,
        dry_run: bool,
    ) -> Result<(), Failure> {
        self.databases.disable_subscription(db, name, dry_run).await
    }

    async fn db_sequences(&self, db: &str) -> Result<Vec<super::Sequence>, Failure> {
        self.databases.sequences(db).await
    }

    async fn db_reachable(&self, db: &str) -> Result<bool, Failure> {
        self.databases.reachable(db).await
    }

    async fn db_set_sequences(
        &self,
        db: &str,
        values: &[(String, i64)],
        dry_run: bool,
    ) -> Result<(), Failure> {
        self.databases.set_sequences(db, values, dry_run).await
    }

    async fn db_write_check(&self, db: &str) -> Result<(), Failure> {
        self.databases.write_check(db).await
    }

    async fn cache_read(&self, cache: &str) -> Result<super::CacheReading, Failure> {
        self.caches.read(cache).await
    }

    async fn cache_members(
        &self,
        cache: &str,
    ) -> Vec<(String, Result<super::CacheMember, Failure>)> {
        self.caches.members(cache).await
    }

    async fn elasticache_describe(
        &self,
        cache: &str,
    ) -> Result<super::elasticache::ReplicationGroup, Failure> {
        self.elasticache.describe(cache).await
    }

    async fn elasticache_test_failover(
        &self,
        cache: &str,
        node_group: &str,
    ) -> Result<(), Failure> {
        self.elasticache.test_failover(cache, node_group).await
    }

    async fn elasticache_events(
        &self,
        cache: &str,
        minutes: i32,
    ) -> Result<Vec<super::elasticache::CacheEvent>, Failure> {
        self.elasticache.events(cache, minutes).await
    }

    async fn node_pool(&self, t: &Target) -> Result<super::nodepool::NodePool, Failure> {
        self.node_pools.read(&t.cluster, &t.name).await
    }

    async fn node_pool_set(
        &self,
        t: &Target,
        to: super::nodepool::Sizes,
    ) -> Result<Option<String>, Failure> {
        self.node_pools.set(&t.cluster, &t.name, to).await
    }

    async fn node_pool_standing(
        &self,
        t: &Target,
        id: &str,
    ) -> Result<super::nodepool::Standing, Failure> {
        self.node_pools.standing(&t.cluster, &t.name, id).await
    }

    async fn labelled_nodes(
        &self,
        t: &Target,
        label: &str,
        value: &str,
    ) -> Result<Vec<(String, bool)>, Failure> {
        let api: Api<k8s_openapi::api::core::v1::Node> = Api::all(self.client(t).await?);
        let lp = kube::api::ListParams::default().labels(&format!("{label}={value}"));
        let list = read(|| api.list(&lp))
            .await
            .map_err(|e| failure(t, "list nodes", &e))?;
        Ok(list
            .items
            .iter()
            .map(|n| {
                let ready = n
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                (n.metadata.name.clone().unwrap_or_default(), ready)
            })
            .collect())
    }

    async fn manifests_plan(
        &self,
        t: &Target,
        force: bool,
    ) -> Result<crate::exec::apply::SetPlan, Failure> {
        let (mut applier, set, files) = self.applier(t).await?;
        applier
            .plan_set(set, &files, force)
            .await
            .map_err(|what| Failure { what, status: None })
    }

    async fn manifest_apply(
        &self,
        t: &Target,
        doc: &crate::exec::apply::DocRef,
        force: bool,
        dry_run: bool,
    ) -> Result<String, Failure> {
        let (mut applier, set, files) = self.applier(t).await?;
        applier
            .apply_one(set, &files, doc, force, dry_run)
            .await
            .map_err(|what| Failure { what, status: None })
    }

    async fn manifest_rollout(
        &self,
        t: &Target,
        namespace: &str,
        name: &str,
        within: std::time::Duration,
    ) -> Result<(), Failure> {
        let (applier, _, _) = self.applier(t).await?;
        applier
            .await_rollout(namespace, name, within, |_| {})
            .await
            .map_err(|what| Failure { what, status: None })
    }

    async fn infra_plan(
        &self,
        t: &Target,
        cancel: &tokio::sync::watch::Receiver<bool>,
    ) -> Result<String, Failure> {
        use crate::exec::infra;
        use std::fmt::Write as _;
        let fail = |what: String| Failure {
            what: crate::config::secret::mask_line(&what),
            status: None,
        };
        let (config, dir, plan) = self.infra(t)?;
        infra::prepare_plan_file(&plan).map_err(|e| {
            fail(format!(
                "cannot make the plan file {} ({e})",
                plan.display()
            ))
        })?;
        let ran = infra::run(
            &config.binary,
            &dir,
            &infra::plan_args(&plan),
            |_| {},
            interrupt(cancel),
        )
        .await
        .map_err(fail)?;
        if let Some(ui) = &ran.summary.unsupported_ui {
            let _ = std::fs::remove_file(&plan);
            return Err(fail(format!(
                "{} speaks machine-readable UI {ui}; touban reads 1.x: its plan is not used",
                config.binary
            )));
        }
        if !ran.ok() {
            let _ = std::fs::remove_file(&plan);
            return Err(fail(format!("the plan failed: {}", ran.why())));
        }
        let saved = infra::keep(&plan, &ran.summary, &config.binary).map_err(fail)?;
        let mut said = format!("Plan: {}", saved.totals);
        for (addr, action) in &saved.changes {
            let mark = if infra::destroys(action) { "!" } else { "" };
            let _ = write!(said, "; {mark}{action} {addr}");
        }
        let _ = write!(
            said,
            "; saved (sha256 {}): `:infra-apply {}` applies it{}",
            saved.sha256,
            t.name,
            if saved.typed {
                ", its name typed (it destroys or replaces)"
            } else {
                ""
            }
        );
        Ok(crate::config::secret::mask_line(&said))
    }

    async fn infra_saved(&self, t: &Target) -> Result<crate::exec::infra::Saved, Failure> {
        use crate::exec::infra;
        let (_, _, plan) = self.infra(t)?;
        let saved = infra::saved(&plan).ok_or_else(|| Failure {
            what: format!(
                "no saved plan of {}: `:infra-plan {}` makes one",
                t.name, t.name
            ),
            status: None,
        })?;
        match infra::plan_hash(&plan) {
            Ok(h) if h == saved.sha256 => Ok(saved),
            _ => Err(Failure {
                what: "the plan file is not the one planned (its hash differs): plan again".into(),
                status: None,
            }),
        }
    }

    async fn infra_apply(
        &self,
        t: &Target,
        sha256: &str,
        cancel: &tokio::sync::watch::Receiver<bool>,
    ) -> Result<String, Failure> {
        use crate::exec::infra;
        let fail = |what: String| Failure {
            what: crate::config::secret::mask_line(&what),
            status: None,
        };
        let saved = self.infra_saved(t).await?;
        if saved.sha256 != sha256 {
            return Err(fail(
                "the saved plan is not the one confirmed (planned again since): nothing applied; plan the apply again".into(),
            ));
        }
        let (config, dir, plan) = self.infra(t)?;
        let ran = infra::run(
            &config.binary,
            &dir,
            &infra::apply_args(&plan),
            |_| {},
            interrupt(cancel),
        )
        .await
        .map_err(fail)?;
        if !ran.ok() {
            let why = ran.why();
            return Err(fail(format!(
                "the apply failed: {why}{}",
                if why.contains("stale") {
                    format!(" (plan again: `:infra-plan {}`)", t.name)
                } else {
                    String::new()
                }
            )));
        }
        // A saved plan applies once.
        let _ = std::fs::remove_file(&plan);
        let _ = std::fs::remove_file(infra::sidecar(&plan));
        Ok(format!(
            "Applied: {}",
            ran.summary.counts.as_ref().map_or_else(
                || saved.totals.clone(),
                |c| format!(
                    "{} added, {} changed, {} destroyed",
                    c.add, c.change, c.remove
                )
            )
        ))
    }

    async fn rds_describe(&self, db: &str) -> Result<super::rds::RdsInstance, Failure> {
        self.rds.describe(db).await
    }

    async fn rds_failover(&self, db: &str) -> Result<(), Failure> {
        self.rds.failover(db).await
    }

    async fn rds_promote(&self, db: &str) -> Result<(), Failure> {
        self.rds.promote(db).await
    }

    async fn rds_events(&self, db: &str) -> Result<Vec<String>, Failure> {
        self.rds.events(db).await
    }

    async fn cache_member(&self, cache: &str, addr: &str) -> Result<super::CacheMember, Failure> {
        self.caches.member(cache, addr).await
    }

    async fn cache_promote(&self, cache: &str, to: &str) -> Result<(), Failure> {
        self.caches.replica_of(cache, to, None).await
    }

    async fn cache_repoint(&self, cache: &str, server: &str, to: &str) -> Result<(), Failure> {
        self.caches.replica_of(cache, server, Some(to)).await
    }

    async fn cache_failover(
        &self,
        cache: &str,
        primary: &str,
        to: &str,
        dry_run: bool,
    ) -> Result<(), Failure> {
        self.caches.failover(cache, primary, to, dry_run).await
    }

    async fn azure_read(&self, db: &str) -> Result<super::azure::FlexServer, Failure> {
        self.azure(db)?
            .server()
            .await
            .map_err(|what| Failure { what, status: None })
    }

    async fn azure_promote(
        &self,
        db: &str,
        forced: bool,
        dry_run: bool,
    ) -> Result<Option<String>, Failure> {
        let client = self.azure(db)?;
        let failed = |what| Failure { what, status: None };
        if dry_run {
            return client.server().await.map(|_| None).map_err(failed);
        }
        client.promote(forced).await.map_err(failed)
    }

    async fn azure_operation(
        &self,
        db: &str,
        url: &str,
    ) -> Result<super::azure::Operation, Failure> {
        self.azure(db)?
            .operation(url)
            .await
            .map_err(|what| Failure { what, status: None })
    }

    async fn db_exported(&self, db: &str) -> Option<Result<crate::model::data::DbStatus, Failure>> {
        let client = self.azure(db).ok()?;
        Some(
            client
                .exported()
                .await?
                .map_err(|what| Failure { what, status: None }),
        )
    }

    async fn pool_read(&self, pool: &Target) -> Result<crate::model::traffic::PoolStatus, Failure> {
        self.traffic()?
            .status(&pool.name)
            .await
            .map_err(|what| Failure { what, status: None })
    }

    async fn pools_beside(
        &self,
        pool: &Target,
    ) -> Vec<(String, Result<crate::model::traffic::PoolStatus, String>)> {
        let Ok(client) = self.traffic() else {
            return Vec::new();
        };
        let others = client
            .configured()
            .iter()
            .filter(|(_, id)| *id != pool.name)
            .map(|(region, id)| async move { (region.clone(), client.status(id).await) });
        futures_util::future::join_all(others).await
    }

    async fn pool_set(&self, pool: &Target, enabled: bool, dry_run: bool) -> Result<(), Failure> {
        let client = self.traffic()?;
        let failed = |what| Failure { what, status: None };
        if dry_run {
            return client.status(&pool.name).await.map(|_| ()).map_err(failed);
        }
        let now = client
            .set_enabled(&pool.name, enabled)
            .await
            .map_err(failed)?;
        if now == enabled {
            Ok(())
        } else {
            Err(failed(format!(
                "the balancer answered the write with the pool {}",
                if now { "enabled" } else { "disabled" }
            )))
        }
    }
}

/// Resolves once `cancel` says the job is cancelled (never, if the job
/// can no longer be cancelled): the tool then gets its one interrupt.
async fn interrupt(cancel: &tokio::sync::watch::Receiver<bool>) {
    let mut cancel = cancel.clone();
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::read;

    #[tokio::test(start_paused = true)]
    async fn a_read_cut_on_its_way_is_asked_again_an_answer_is_not() {
        let calls = AtomicUsize::new(0);
        let cut_twice = || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(kube::Error::Service("connection cut".into())),
                n => Ok(n),
            }
        };
        assert_eq!(read(cut_twice).await.ok(), Some(2));

        calls.store(0, Ordering::SeqCst);
        let always_cut = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(kube::Error::Service("connection cut".into()))
        };
        assert!(read(always_cut).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1 + super::READ_RETRIES);

        calls.store(0, Ordering::SeqCst);
        let answered = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            let mut status = kube::core::Status::failure("not found", "NotFound");
            status.code = 404;
            Err::<(), _>(kube::Error::Api(status.boxed()))
        };
        assert!(read(answered).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "an answer is final");
    }
}
