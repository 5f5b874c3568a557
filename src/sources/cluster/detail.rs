//! Objects fetched whole for the detail view, on demand: as YAML without
//! managedFields (as kubectl shows it), or why not. Each cluster is
//! connected once (exec plugins included), off the event loop.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Event as CoreEvent, Node, Pod, Service};
use kube::api::{ApiResource, DynamicObject};
use kube::{Api, Client};
use tokio::sync::mpsc;

use crate::config::Platform;
use crate::model::Update;
use crate::model::cluster::ObjectRef;

/// How long a detail fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the fetcher; returns where to send requests.
pub fn spawn_details<E: From<Update> + Send + 'static>(
    platform: &Platform,
    tx: &mpsc::Sender<E>,
) -> mpsc::UnboundedSender<ObjectRef> {
    let (requests, mut rx) = mpsc::unbounded_channel::<ObjectRef>();
    let mut clients = super::auth::OnDemand::new(platform, FETCH_TIMEOUT, FETCH_TIMEOUT);
    let tx = tx.clone();
    tokio::spawn(async move {
        while let Some(object) = rx.recv().await {
            let client = clients.client(&object.cluster, &object).await;
            let tx = tx.clone();
            match client {
                Ok(c) => {
                    tokio::spawn(async move {
                        let yaml = tokio::time::timeout(FETCH_TIMEOUT, fetch_yaml(c, &object))
                            .await
                            .unwrap_or_else(|_| {
                                Err(format!(
                                    "{object}: no answer within {} s",
                                    FETCH_TIMEOUT.as_secs()
                                ))
                            });
                        let _ = tx.send(E::from(Update::Detail { object, yaml })).await;
                    });
                }
                Err(message) => {
                    let _ = tx
                        .send(E::from(Update::Detail {
                            object,
                            yaml: Err(message),
                        }))
                        .await;
                }
            }
        }
    });
    requests
}

async fn fetch_yaml(client: Client, o: &ObjectRef) -> Result<String, String> {
    let ar = match o.kind {
        "Pod" => ApiResource::erase::<Pod>(&()),
        "Deployment" => ApiResource::erase::<Deployment>(&()),
        "Node" => ApiResource::erase::<Node>(&()),
        "Event" => ApiResource::erase::<CoreEvent>(&()),
        "ReplicaSet" => ApiResource::erase::<ReplicaSet>(&()),
        "Service" => ApiResource::erase::<Service>(&()),
        "HorizontalPodAutoscaler" => ApiResource::erase::<HorizontalPodAutoscaler>(&()),
        "ConfigMap" => ApiResource::erase::<ConfigMap>(&()),
        other => return Err(format!("touban cannot show a {other}")),
    };
    let api: Api<DynamicObject> = match &o.namespace {
        Some(ns) => Api::namespaced_with(client, ns, &ar),
        None => Api::all_with(client, &ar),
    };
    let mut object = api.get(&o.name).await.map_err(|e| format!("{o}: {e}"))?;
    object.metadata.managed_fields = None;
    serde_yaml_ng::to_string(&object).map_err(|e| format!("{o}: cannot write it as YAML: {e}"))
}
