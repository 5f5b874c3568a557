//! What a request's planner is given: its target and what the target's
//! action depends on, read from the cluster before the plan is made.

use super::super::actions::{Seen, hpa_retarget};
use crate::exec::backend::{Backend, Failure};
use crate::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use crate::model::cluster::HpaRow;
use crate::model::plan::Refusal;

fn refused(f: Failure) -> Refusal {
    Refusal::new(f.what)
}

/// The target's release, by its `app`.
fn release(t: &Target, app: &str) -> Target {
    Target {
        kind: ObjectKind::Release,
        name: app.to_owned(),
        ..t.clone()
    }
}

/// The deployment acted on: the target, the one an HPA scales, the one
/// that owns a pod.
fn deployment_target(t: &Target, hpas: &[HpaRow], pod_owner: Option<&str>) -> Option<Target> {
    let named = |name: &str| Target {
        kind: ObjectKind::Deployment,
        name: name.to_owned(),
        ..t.clone()
    };
    match t.kind {
        ObjectKind::Release
        | ObjectKind::Service
        | ObjectKind::Silence
        | ObjectKind::Database
        | ObjectKind::Cache
        | ObjectKind::Pool
        | ObjectKind::Region
        | ObjectKind::ConfigMap
        | ObjectKind::Manifests
        | ObjectKind::Infrastructure
        | ObjectKind::NodeGroup
        | ObjectKind::Secret => None,
        ObjectKind::Pod => pod_owner.map(named),
        ObjectKind::Deployment => Some(t.clone()),
        ObjectKind::HorizontalPodAutoscaler => hpas
            .iter()
            .find(|h| h.name == t.name && h.target_kind == "Deployment")
            .map(|h| named(&h.target)),
    }
}

/// A cache's primary, read directly, or a pool, read from the balancer;
/// `None` for any other target.
async fn outside_kubernetes<B: Backend>(
    backend: &B,
    request: &ActionRequest,
    primary: bool,
) -> Option<Seen> {
    let t = &request.target;
    match t.kind {
        ObjectKind::Cache if request.kind == ActionKind::ElastiCacheFailover => {
            // Boxed: the AWS SDK's futures are large.
            let read = Box::pin(async {
                let group = backend.elasticache_describe(&t.name).await?;
                let events = backend.elasticache_events(&t.name, 24 * 60).await?;
                Ok::<_, Failure>(super::super::actions::ElastiCacheSeen { group, events })
            })
            .await;
            Some(Seen {
                primary,
                elasticache: Some(read.map_err(|f| f.what)),
                ..Seen::default()
            })
        }
        ObjectKind::Cache => {
            let cache = backend.cache_read(&t.name).await.map_err(|f| f.what);
            // A promotion is planned from the replicas, which a primary
            // that does not answer cannot list.
            let cache_members = if request.kind == ActionKind::CachePromote {
                backend
                    .cache_members(&t.name)
                    .await
                    .into_iter()
                    .map(|(addr, m)| (addr, m.map_err(|f| f.what)))
                    .collect()
            } else {
                Vec::new()
            };
            Some(Seen {
                primary,
                cache: Some(cache),
                cache_members,
                ..Seen::default()
            })
        }
        ObjectKind::Infrastructure => Some(Seen {
            primary,
            infra: match &request.kind {
                ActionKind::Infra { operation, .. } if operation == "apply" => {
                    Some(backend.infra_saved(t).await.map_err(|f| f.what))
                }
                _ => None,
            },
            ..Seen::default()
        }),
        ObjectKind::Manifests => {
            let force = matches!(request.kind, ActionKind::Apply { force: true, .. });
            Some(Seen {
                primary,
                manifests: Some(
                    Box::pin(backend.manifests_plan(t, force))
                        .await
                        .map_err(|f| f.what),
                ),
                ..Seen::default()
            })
        }
        ObjectKind::NodeGroup => {
            let label = match backend.node_pool(t).await {
                Ok(p) => {
                    let nodes = backend.labelled_nodes(t, p.cloud.label(), &p.name).await;
                    (Ok(p), Some(nodes.map_err(|f| f.what)))
                }
                Err(f) => (Err(f.what), None),
            };
            Some(Seen {
                primary,
                node_pool: Some(label.0),
                nodes: label.1,
                ..Seen::default()
            })
        }
        ObjectKind::Pool => Some(Seen {
            primary,
            pool: Some(backend.pool_read(t).await.map_err(|f| f.what)),
            other_pools: backend.pools_beside(t).await,
            ..Seen::default()
        }),
        ObjectKind::ConfigMap | ObjectKind::Secret => {
            let ActionKind::Repoint { key, .. } = &request.kind else {
                return Some(Seen {
                    primary,
                    ..Seen::default()
                });
            };
            let config = match backend.config_value(t, key).await {
                Ok(Some((value, _))) => Ok(value),
                Ok(None) => Err("not found".to_owned()),
                Err(f) => Err(f.what),
            };
            Some(Seen {
                primary,
                config: Some(config),
                now: now(),
                ..Seen::default()
            })
        }
        _ => None,
    }
}

/// A database target and the primary its action names, each read (or
/// why it could not be).
async fn database<B: Backend>(backend: &B, request: &ActionRequest, primary: bool) -> Seen {
    let t = &request.target;
    if matches!(
        request.kind,
        ActionKind::RdsFailover | ActionKind::RdsPromote
    ) {
        return Seen {
            primary,
            // Boxed: the AWS SDK's futures are large.
            rds: Some(
                Box::pin(backend.rds_describe(&t.name))
                    .await
                    .map_err(|f| f.what),
            ),
            ..Seen::default()
        };
    }
    if matches!(request.kind, ActionKind::PromoteReplica { .. }) {
        let (server, exported) =
            tokio::join!(backend.azure_read(&t.name), backend.db_exported(&t.name));
        return Seen {
            primary,
            azure: Some(server.map_err(|f| f.what)),
            exported: exported.map(|r| r.map_err(|f| f.what)),
            ..Seen::default()
        };
    }
    if let ActionKind::Lockout { roles, .. } = &request.kind {
        let (target, logins) =
            tokio::join!(backend.db_read(&t.name), backend.db_logins(&t.name, roles));
        return Seen {
            primary,
            db: Some(super::super::actions::DbSeen {
                target: target.map_err(|f| f.what),
                primary: None,
                primary_down: false,
            }),
            logins: Some(logins.map_err(|f| f.what)),
            ..Seen::default()
        };
    }
    let named = match &request.kind {
        ActionKind::Switchover { primary, .. }
        | ActionKind::Promote { primary, .. }
        | ActionKind::Resync { primary, .. } => Some(primary.clone()),
        ActionKind::Fence { partner, .. } => partner.clone(),
        _ => None,
    };
    let (target, named) = match named {
        Some(p) => {
            let (a, b) = tokio::join!(backend.db_read(&t.name), backend.db_read(&p));
            (a, Some((p, b.map_err(|f| f.what))))
        }
        None => (backend.db_read(&t.name).await, None),
    };
    Seen {
        primary,
        db: Some(super::super::actions::DbSeen {
            target: target.map_err(|f| f.what),
            primary_down: match &named {
                Some((p, Err(_))) => !backend.db_reachable(p).await.unwrap_or(true),
                _ => false,
            },
            primary: named,
        }),
        ..Seen::default()
    }
}

/// Reads what the request's action needs.
pub(super) async fn seen<B: Backend>(
    backend: &B,
    request: &ActionRequest,
    primary: bool,
) -> Result<Seen, Refusal> {
    let t = &request.target;
    if let Some(seen) = outside_kubernetes(backend, request, primary).await {
        return Ok(seen);
    }
    // A database is read directly, with the primary its action names.
    if t.kind == ObjectKind::Database {
        return Ok(database(backend, request, primary).await);
    }
    // A silence is planned from the request alone: its Alertmanager is
    // asked at the first step.
    if t.kind == ObjectKind::Silence {
        return Ok(Seen {
            primary,
            ..Seen::default()
        });
    }
    let hpas = backend.hpas(t).await.map_err(refused)?;
    let pod = match t.kind {
        ObjectKind::Pod => backend.pod(t).await.map_err(refused)?,
        _ => None,
    };
    let owner = pod.as_ref().and_then(|p| p.deployment.as_deref());
    let deployment_target = deployment_target(t, &hpas, owner);
    let deployment = match &deployment_target {
        Some(d) => backend
            .deployment(d)
            .await
            .map_err(refused)?
            .map(|(d, _)| d),
        None => None,
    };
    // A release's objects: the target's, the one of the HPA to retarget,
    // or the one whose colour the target deployment is (is it live?).
    let app = match (&request.kind, t.kind) {
        (_, ObjectKind::Release) => Some(t.name.clone()),
        (ActionKind::RetargetHpa, _) => hpas.iter().find(|h| h.name == t.name).map(|h| {
            let seen = Seen {
                deployments: deployment.clone().into_iter().collect(),
                ..Seen::default()
            };
            hpa_retarget::app_of(&h.target, &seen)
        }),
        (_, ObjectKind::Deployment) => deployment
            .as_ref()
            .filter(|d| d.color.is_some())
            .and_then(|d| d.app.clone()),
        _ => None,
    };
    let (deployments, services) = match &app {
        Some(app) => backend.release(&release(t, app)).await.map_err(refused)?,
        None => (Vec::new(), Vec::new()),
    };
    let live_colour = t.kind == ObjectKind::Deployment
        && deployment.as_ref().is_some_and(|d| {
            services.iter().any(|s| {
                s.selects("app") == d.app.as_deref() && s.selects("color") == d.color.as_deref()
            })
        });
    // A release's Lease: the intent of a job on it, perhaps interrupted
    // (unreadable: planned without it; the run reads it again).
    let lease = match t.kind {
        ObjectKind::Release => backend
            .lease(t)
            .await
            .inspect_err(|f| tracing::warn!("reading the lease of {}: {}", t.name, f.what))
            .ok()
            .flatten()
            .map(|(h, _)| h),
        _ => None,
    };
    let revision = match (&request.kind, &deployment_target) {
        (ActionKind::Undo { revision }, Some(d)) => backend
            .revision(d, *revision)
            .await
            .map_err(refused)?
            .map(|(template, image)| (*revision, template, image)),
        _ => None,
    };
    Ok(Seen {
        cache_members: Vec::new(),
        rds: None,
        elasticache: None,
        deployment,
        hpas,
        deployments,
        services,
        pod,
        revision,
        live_colour,
        lease,
        primary,
        now: now(),
        db: None,
        cache: None,
        pool: None,
        other_pools: Vec::new(),
        azure: None,
        exported: None,
        config: None,
        node_pool: None,
        nodes: None,
        manifests: None,
        infra: None,
        logins: None,
    })
}

/// The time of planning, RFC 3339 to the second (what a restart writes).
fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}
