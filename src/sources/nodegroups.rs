//! The clouds' node groups: per cluster with `eks` or `aks`, each
//! configured group read from its cloud every [`INTERVAL`]
//! (`DescribeNodegroup`, the agent pool's `GET`): the same reads the
//! executor plans from, so that the Scaling pane shows the cloud's min,
//! desired and max, not the config's, once a group was resized.
//!
//! Not a source of its own: a reading attached to the cluster, with its
//! time and, for a group the cloud did not answer for, why. A cloud that
//! does not answer leaves the cluster source's health alone (its API
//! server may be fine); the pane shows the reading's age and error.

use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::config::Platform;
use crate::config::platform::Cluster;
use crate::exec::backend::nodepool::{NodePool, Pools};
use crate::model::Update;
use crate::model::cluster::CloudGroups;

/// How often each group is read.
pub const INTERVAL: Duration = Duration::from_secs(15);

/// Starts a reader per cluster that has `eks` or `aks`.
pub fn spawn<E: From<Update> + Send + 'static>(
    platform: &Platform,
    tx: &mpsc::Sender<E>,
    every: Duration,
) {
    for c in platform
        .clusters
        .iter()
        .filter(|c| (c.eks.is_some() || c.aks.is_some()) && !c.node_groups.is_empty())
    {
        tokio::spawn(run(c.clone(), tx.clone(), every));
    }
}

async fn run<E: From<Update>>(cluster: Cluster, tx: mpsc::Sender<E>, every: Duration) {
    let pools = Pools::new(std::slice::from_ref(&cluster));
    let name = cluster.name.get_ref().clone();
    let mut failing: Option<String> = None;
    loop {
        let mut groups: Vec<(String, Result<NodePool, String>)> = Vec::new();
        for g in &cluster.node_groups {
            let read = Box::pin(pools.read(&name, g.name.get_ref())).await;
            groups.push((g.name.get_ref().clone(), read.map_err(|f| f.what)));
        }
        // Each distinct failure logged once, as the sources do.
        let now_failing = groups.iter().find_map(|(_, r)| r.as_ref().err().cloned());
        if now_failing != failing {
            match &now_failing {
                Some(why) => tracing::warn!(cluster = %name, "node groups not read: {why}"),
                None if failing.is_some() => {
                    tracing::info!(cluster = %name, "node groups read again");
                }
                None => {}
            }
            failing = now_failing;
        }
        let update = Update::CloudGroups {
            cluster: name.clone(),
            groups: CloudGroups {
                at: SystemTime::now(),
                groups,
            },
        };
        if tx.send(E::from(update)).await.is_err() {
            return;
        }
        tokio::time::sleep(every).await;
    }
}
