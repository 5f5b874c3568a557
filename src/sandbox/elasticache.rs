//! Amazon ElastiCache in the protocol `aws-sdk-elasticache` speaks: the
//! Query API (`POST /`, a form body `Action=…&Version=2015-02-02&…`, XML
//! answers in the `http://elasticache.amazonaws.com/doc/2015-02-02/`
//! namespace, errors as an `ErrorResponse` with the API's codes). The
//! subset a failover calls: `DescribeReplicationGroups`, `TestFailover`
//! and `DescribeEvents`. The seed's Tokyo cache is a replication group
//! with cluster mode off (one node group, `0001`), a primary and a replica
//! in two zones, automatic failover and Multi-AZ enabled. A test failover
//! takes simulated time, as it takes real time in ElastiCache, and
//! records the events AWS documents, in their order: the call on the
//! group, the failover completed on the cluster and the group, the old
//! primary's recovery started and finished. This is the API only: the
//! simulated cache the exporter reports keeps its figures.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;

use super::cloudwatch::{ACCOUNT, AWS_REGION, CACHE};
use super::controller::Clock;
use super::query::{self, escape};

/// How long (simulated) until a replica is the primary.
pub const FAILOVER: Duration = Duration::from_secs(10);
/// How long (simulated) the old primary's recovery takes after that.
pub const RECOVERY: Duration = Duration::from_secs(10);
/// `TestFailover`'s quota: node groups per rolling 24 hours.
pub const QUOTA: usize = 15;
/// The node group of a group with cluster mode off.
pub const NODE_GROUP: &str = "0001";

/// Where a test failover is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Called: a replica is being promoted.
    Promoting,
    /// The replica is primary; the old primary (by index) is being
    /// recovered.
    Recovering(usize),
}

#[derive(Debug, Clone)]
struct Node {
    cluster: String,
    zone: String,
    primary: bool,
}

#[derive(Debug, Clone)]
struct Group {
    automatic_failover: bool,
    nodes: Vec<Node>,
    change: Option<(Stage, Duration)>,
}

#[derive(Debug, Clone)]
struct Event {
    source: String,
    kind: &'static str,
    at: jiff::Timestamp,
    message: String,
}

struct World {
    groups: BTreeMap<String, Group>,
    events: Vec<Event>,
    /// The simulated times of the test failovers called, on any group
    /// (the quota is the customer's).
    calls: Vec<Duration>,
}

/// The ElastiCache of the sandbox.
pub struct ElastiCache {
    clock: Clock,
    world: Mutex<World>,
}

impl ElastiCache {
    /// The seed's Tokyo cache: its primary in ap-northeast-1a, a replica
    /// in 1c.
    pub fn new(clock: Clock) -> ElastiCache {
        let node = |n: u32, zone: &str, primary| Node {
            cluster: format!("{CACHE}-00{n}"),
            zone: format!("{AWS_REGION}{zone}"),
            primary,
        };
        let mut groups = BTreeMap::new();
        groups.insert(
            CACHE.to_owned(),
            Group {
                automatic_failover: true,
                nodes: vec![node(1, "a", true), node(2, "c", false)],
                change: None,
            },
        );
        ElastiCache {
            clock,
            world: Mutex::new(World {
                groups,
                events: Vec::new(),
                calls: Vec::new(),
            }),
        }
    }

    /// The world with every stage that is due by now completed.
    fn world(&self) -> MutexGuard<'_, World> {
        let mut w = self
            .world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.clock.now();
        let mut said = Vec::new();
        for (id, g) in &mut w.groups {
            while let Some((stage, at)) = g.change {
                if now < at {
                    break;
                }
                match stage {
                    Stage::Promoting => {
                        let old = g.nodes.iter().position(|n| n.primary);
                        let new = g.nodes.iter().position(|n| !n.primary);
                        if let (Some(o), Some(n)) = (old, new) {
                            let (from, to) =
                                (g.nodes[o].cluster.clone(), g.nodes[n].cluster.clone());
                            g.nodes[o].primary = false;
                            g.nodes[n].primary = true;
                            let m = format!(
                                "Failover from primary node {from} to replica node {to} completed"
                            );
                            said.push((from.clone(), "cache-cluster", m.clone()));
                            said.push((id.clone(), "replication-group", m));
                            said.push((
                                from,
                                "cache-cluster",
                                format!("Recovering cache nodes {NODE_GROUP}"),
                            ));
                        }
                        g.change = old.map(|o| (Stage::Recovering(o), at + RECOVERY));
                    }
                    Stage::Recovering(o) => {
                        if let Some(n) = g.nodes.get(o) {
                            said.push((
                                n.cluster.clone(),
                                "cache-cluster",
                                format!("Finished recovery for cache nodes {NODE_GROUP}"),
                            ));
                        }
                        g.change = None;
                    }
                }
            }
        }
        for (source, kind, message) in said {
            push_event(&mut w, &source, kind, message);
        }
        w
    }

    /// Whether a test failover is under way (for tests).
    pub fn changing(&self) -> bool {
        self.world().groups.values().any(|g| g.change.is_some())
    }

    /// How many test failovers were called (for tests).
    pub fn calls(&self) -> usize {
        self.world().calls.len()
    }

    /// Turns the group's automatic failover on or off (for tests).
    pub fn set_automatic_failover(&self, on: bool) {
        if let Some(g) = self.world().groups.get_mut(CACHE) {
            g.automatic_failover = on;
        }
    }
}

fn push_event(w: &mut World, source: &str, kind: &'static str, message: String) {
    w.events.push(Event {
        source: source.to_owned(),
        kind,
        at: jiff::Timestamp::now(),
        message,
    });
}

/// The router: every action is a `POST /`.
pub fn router(api: Arc<ElastiCache>) -> Router {
    Router::new().route("/", post(action)).with_state(api)
}

const NAMESPACE: &str = "http://elasticache.amazonaws.com/doc/2015-02-02/";

fn xml(action: &str, result: &str) -> Response {
    query::xml(NAMESPACE, action, result)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    query::error(NAMESPACE, status, code, message)
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "ReplicationGroupNotFoundFault",
        &format!("ReplicationGroup {id} not found."),
    )
}

fn group_xml(id: &str, g: &Group) -> String {
    let status = if g.change.is_some() {
        "modifying"
    } else {
        "available"
    };
    let on = |b: bool| if b { "enabled" } else { "disabled" };
    let mut o = String::new();
    let _ = write!(
        o,
        "<ReplicationGroup><ReplicationGroupId>{}</ReplicationGroupId><Description>the seed's session and queue cache</Description>\
         <Status>{status}</Status><MemberClusters>",
        escape(id)
    );
    for n in &g.nodes {
        let _ = write!(o, "<ClusterId>{}</ClusterId>", escape(&n.cluster));
    }
    let _ = write!(
        o,
        "</MemberClusters><NodeGroups><NodeGroup><NodeGroupId>{NODE_GROUP}</NodeGroupId><Status>{status}</Status>\
         <PrimaryEndpoint><Address>{}.c0sandbox.ng.0001.apne1.cache.amazonaws.com</Address><Port>6379</Port></PrimaryEndpoint><NodeGroupMembers>",
        escape(id)
    );
    for n in &g.nodes {
        let _ = write!(
            o,
            "<NodeGroupMember><CacheClusterId>{}</CacheClusterId><CacheNodeId>{NODE_GROUP}</CacheNodeId>\
             <PreferredAvailabilityZone>{}</PreferredAvailabilityZone><CurrentRole>{}</CurrentRole></NodeGroupMember>",
            escape(&n.cluster),
            escape(&n.zone),
            if n.primary { "primary" } else { "replica" }
        );
    }
    let _ = writeln!(
        o,
        "</NodeGroupMembers></NodeGroup></NodeGroups><AutomaticFailover>{}</AutomaticFailover><MultiAZ>{}</MultiAZ>\
         <ClusterEnabled>false</ClusterEnabled><CacheNodeType>cache.r6g.large</CacheNodeType><Engine>redis</Engine>\
         <ARN>arn:aws:elasticache:{AWS_REGION}:{ACCOUNT}:replicationgroup:{}</ARN></ReplicationGroup>",
        on(g.automatic_failover),
        on(g.automatic_failover),
        escape(id)
    );
    o
}

async fn action(State(api): State<Arc<ElastiCache>>, body: Bytes) -> Response {
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str);
    let id = get("ReplicationGroupId").unwrap_or_default().to_owned();
    let now = api.clock.now();
    let mut w = api.world();
    match get("Action").unwrap_or_default() {
        "DescribeReplicationGroups" => describe(&w, &id),
        "TestFailover" => test_failover(&mut w, &id, get("NodeGroupId").unwrap_or_default(), now),
        "DescribeEvents" => events(
            &w,
            get("SourceIdentifier"),
            get("SourceType"),
            get("Duration")
                .and_then(|d| d.parse::<i64>().ok())
                .unwrap_or(60),
        ),
        other => error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &format!(
                "The action {other} is not valid for this web service (the sandbox serves DescribeReplicationGroups, TestFailover, DescribeEvents)."
            ),
        ),
    }
}

fn describe(w: &World, id: &str) -> Response {
    if !id.is_empty() && !w.groups.contains_key(id) {
        return not_found(id);
    }
    let mut out = String::from("<ReplicationGroups>\n");
    for (name, g) in &w.groups {
        if id.is_empty() || name == id {
            out.push_str(&group_xml(name, g));
        }
    }
    out.push_str("</ReplicationGroups>\n");
    xml("DescribeReplicationGroups", &out)
}

/// `TestFailover`: refused as ElastiCache refuses it (no such group or
/// node group, automatic failover off, a change under way, the quota
/// spent); else the promotion starts.
fn test_failover(w: &mut World, id: &str, node_group: &str, now: Duration) -> Response {
    let Some(g) = w.groups.get_mut(id) else {
        return not_found(id);
    };
    if node_group != NODE_GROUP {
        return error(
            StatusCode::NOT_FOUND,
            "NodeGroupNotFoundFault",
            &format!("The node group {node_group} was not found in replication group {id}."),
        );
    }
    if !g.automatic_failover {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidReplicationGroupState",
            &format!(
                "Replication group {id} must have automatic failover enabled to test failover."
            ),
        );
    }
    if g.change.is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidReplicationGroupState",
            &format!("Replication group {id} is not in available state."),
        );
    }
    let day = Duration::from_secs(24 * 3600);
    let recent = w
        .calls
        .iter()
        .filter(|&&at| now.saturating_sub(at) < day)
        .count();
    let Some(g) = w.groups.get_mut(id) else {
        return not_found(id);
    };
    if recent >= QUOTA {
        return error(
            StatusCode::BAD_REQUEST,
            "APICallRateForCustomerExceeded",
            &format!(
                "The customer has exceeded the allowed rate of API calls: TestFailover on up to {QUOTA} node groups in any rolling 24-hour period."
            ),
        );
    }
    g.change = Some((Stage::Promoting, now + FAILOVER));
    let out = group_xml(id, g);
    w.calls.push(now);
    push_event(
        w,
        id,
        "replication-group",
        format!("Test Failover API called for node group {node_group}"),
    );
    xml("TestFailover", &out)
}

fn events(w: &World, source: Option<&str>, kind: Option<&str>, minutes: i64) -> Response {
    let since = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_secs(minutes.saturating_mul(60)))
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let mut out = String::from("<Events>\n");
    for e in w.events.iter().filter(|e| {
        source.is_none_or(|s| s == e.source) && kind.is_none_or(|k| k == e.kind) && e.at >= since
    }) {
        let _ = writeln!(
            out,
            "<Event><SourceIdentifier>{}</SourceIdentifier><SourceType>{}</SourceType><Message>{}</Message><Date>{}</Date></Event>",
            escape(&e.source),
            e.kind,
            escape(&e.message),
            e.at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        );
    }
    out.push_str("</Events>\n");
    xml("DescribeEvents", &out)
}
