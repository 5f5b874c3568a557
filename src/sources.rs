//! Sources: one task per configured endpoint, each turning its protocol
//! into owned `model` values sent to the app through one channel, and
//! reporting its own health. They never touch the app's state.

pub mod alerts;
pub mod aws;
mod budget;
pub mod cloudwatch;
pub mod cluster;
pub mod data;
pub mod drills;
pub(crate) mod http;
pub mod nodegroups;
pub mod promql;
pub mod traffic;

use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::config::Platform;
use crate::model::cluster::ObjectRef;
use crate::model::{SourceId, SourceState, Update};

/// How often the polling sources poll.
#[derive(Debug, Clone, Copy)]
pub struct Intervals {
    /// Databases, caches and AI services.
    pub data: Duration,
    /// CloudWatch series.
    pub cloudwatch: Duration,
    /// PromQL figures.
    pub promql: Duration,
    /// The global load balancer's pools.
    pub traffic: Duration,
    /// The clouds' node groups.
    pub node_groups: Duration,
}

impl Intervals {
    /// The console's.
    pub const CONSOLE: Intervals = Intervals {
        data: data::INTERVAL,
        cloudwatch: cloudwatch::INTERVAL,
        promql: promql::INTERVAL,
        traffic: traffic::INTERVAL,
        node_groups: nodegroups::INTERVAL,
    };

    /// Every poll each `every` (tests hurry).
    pub const fn every(every: Duration) -> Intervals {
        Intervals {
            data: every,
            cloudwatch: every,
            promql: every,
            traffic: every,
            node_groups: every,
        }
    }
}

/// Starts every source the platform configures, and the detail fetcher;
/// returns where detail requests go. The one list of sources, for the
/// console and the tests alike.
pub fn spawn_all<E: From<Update> + Send + 'static>(
    platform: &Platform,
    tx: &mpsc::Sender<E>,
    every: Intervals,
) -> Fetchers {
    cluster::spawn(platform, tx);
    alerts::spawn(platform, tx);
    data::spawn(platform, tx, every.data);
    cloudwatch::spawn(platform, tx, every.cloudwatch);
    promql::spawn(platform, tx, every.promql);
    traffic::spawn(platform, tx, every.traffic);
    nodegroups::spawn(platform, tx, every.node_groups);
    Fetchers {
        details: cluster::spawn_details(platform, tx),
        logs: cluster::spawn_logs(platform, tx),
    }
}

/// Where the console sends what it fetches on demand.
#[derive(Debug, Clone)]
pub struct Fetchers {
    /// Objects for the detail view.
    pub details: mpsc::UnboundedSender<ObjectRef>,
    /// Log views' streams.
    pub logs: mpsc::UnboundedSender<crate::model::logs::LogCommand>,
}

/// A polling source's way to the app: what it read, and what it says about
/// itself: connecting at first, live at each success; after a failure,
/// stale since the last success (an error, before any), reported and
/// logged once per distinct failure. Each method returns whether the app
/// is still listening.
pub(crate) struct Reporter<E> {
    /// The source.
    pub(crate) id: SourceId,
    tx: mpsc::Sender<E>,
    last_ok: Option<SystemTime>,
    failing: Option<String>,
    /// When it started failing, before any success.
    failing_since: Option<SystemTime>,
}

impl<E: From<Update>> Reporter<E> {
    /// A reporter for `id`; says it is connecting.
    pub(crate) async fn start(id: SourceId, tx: mpsc::Sender<E>) -> Option<Reporter<E>> {
        let r = Reporter {
            id,
            tx,
            last_ok: None,
            failing: None,
            failing_since: None,
        };
        r.state(SourceState::Connecting {
            since: SystemTime::now(),
        })
        .await
        .then_some(r)
    }

    /// Sends what the source read.
    pub(crate) async fn send(&self, update: Update) -> bool {
        self.tx.send(E::from(update)).await.is_ok()
    }

    async fn state(&self, state: SourceState) -> bool {
        self.send(Update::SourceState {
            id: self.id.clone(),
            state,
        })
        .await
    }

    /// A poll succeeded: live now.
    pub(crate) async fn ok(&mut self) -> bool {
        let now = SystemTime::now();
        self.last_ok = Some(now);
        self.failing = None;
        self.failing_since = None;
        self.state(SourceState::Live { at: now }).await
    }

    /// A poll (or the set-up) failed.
    pub(crate) async fn failed(&mut self, message: String) -> bool {
        if self.failing.as_ref() == Some(&message) {
            return true;
        }
        tracing::warn!(source = %self.id, "{message}");
        self.failing = Some(message.clone());
        let state = match self.last_ok {
            Some(since) => SourceState::Stale {
                since,
                why: message,
            },
            // Since the first failure, however its message varies (a
            // server's date in it): the age is how long it has failed.
            None => SourceState::Error {
                message,
                since: *self.failing_since.get_or_insert_with(SystemTime::now),
            },
        };
        self.state(state).await
    }
}
