//! Amazon RDS in the protocol `aws-sdk-rds` speaks: the Query API
//! (`POST /`, a form body `Action=…&Version=2014-10-31&…`, XML answers in
//! the `http://rds.amazonaws.com/doc/2014-10-31/` namespace, errors as an
//! `ErrorResponse` with the API's codes). The subset the failover actions
//! call: `DescribeDBInstances`, `RebootDBInstance` (with `ForceFailover`,
//! a Multi-AZ instance's standby taking over), `PromoteReadReplica` and
//! `DescribeEvents`. Changes take simulated time, as they take real time
//! in RDS: an instance is `rebooting` or `modifying` meanwhile, and its
//! events say what started and what completed.

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

use super::cloudwatch::{ACCOUNT, AWS_REGION, DB};
use super::controller::Clock;
use super::query::{self, escape};

/// The Tokyo primary's read replica in another zone.
pub const REPLICA: &str = "iworkz-production-postgres-ro";
/// How long (simulated) a Multi-AZ failover takes.
pub const FAILOVER: Duration = Duration::from_secs(20);
/// How long (simulated) a read replica's promotion takes.
pub const PROMOTION: Duration = Duration::from_secs(15);

/// What an instance is doing, until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Failover,
    Promotion,
}

#[derive(Debug, Clone)]
struct Instance {
    status: &'static str,
    multi_az: bool,
    zone: String,
    secondary: Option<String>,
    source: Option<String>,
    replicas: Vec<String>,
    class: &'static str,
    change: Option<(Change, Duration)>,
}

#[derive(Debug, Clone)]
struct Event {
    source: String,
    at: jiff::Timestamp,
    message: String,
    category: &'static str,
}

struct World {
    instances: BTreeMap<String, Instance>,
    events: Vec<Event>,
}

/// The RDS of the sandbox.
pub struct Rds {
    clock: Clock,
    world: Mutex<World>,
}

impl Rds {
    /// The seed's Tokyo database: a Multi-AZ primary in ap-northeast-1a
    /// (its standby in 1c) with a read replica in 1d.
    pub fn new(clock: Clock) -> Rds {
        let mut instances = BTreeMap::new();
        instances.insert(
            DB.to_owned(),
            Instance {
                status: "available",
                multi_az: true,
                zone: format!("{AWS_REGION}a"),
                secondary: Some(format!("{AWS_REGION}c")),
                source: None,
                replicas: vec![REPLICA.to_owned()],
                class: "db.r6g.xlarge",
                change: None,
            },
        );
        instances.insert(
            REPLICA.to_owned(),
            Instance {
                status: "available",
                multi_az: false,
                zone: format!("{AWS_REGION}d"),
                secondary: None,
                source: Some(DB.to_owned()),
                replicas: Vec::new(),
                class: "db.r6g.large",
                change: None,
            },
        );
        Rds {
            clock,
            world: Mutex::new(World {
                instances,
                events: Vec::new(),
            }),
        }
    }

    /// The world with every change that is due by now completed.
    fn world(&self) -> MutexGuard<'_, World> {
        let mut w = self
            .world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = self.clock.now();
        let mut done = Vec::new();
        for (id, i) in &mut w.instances {
            let Some((change, at)) = i.change else {
                continue;
            };
            if now < at {
                continue;
            }
            i.change = None;
            i.status = "available";
            match change {
                Change::Failover => {
                    if let Some(standby) = i.secondary.take() {
                        i.secondary = Some(std::mem::replace(&mut i.zone, standby));
                    }
                    done.push((
                        id.clone(),
                        "Multi-AZ instance failover completed.",
                        "failover",
                    ));
                }
                Change::Promotion => {
                    done.push((
                        id.clone(),
                        "Promoted Read Replica to a stand-alone database instance.",
                        "configuration change",
                    ));
                }
            }
        }
        for (source, message, category) in done {
            push_event(&mut w, &source, message, category);
        }
        w
    }

    /// How many instances have a change under way (for tests).
    pub fn changing(&self) -> usize {
        self.world()
            .instances
            .values()
            .filter(|i| i.change.is_some())
            .count()
    }
}

fn push_event(w: &mut World, source: &str, message: &str, category: &'static str) {
    w.events.push(Event {
        source: source.to_owned(),
        at: jiff::Timestamp::now(),
        message: message.to_owned(),
        category,
    });
}

/// The router: every action is a `POST /`.
pub fn router(rds: Arc<Rds>) -> Router {
    Router::new().route("/", post(action)).with_state(rds)
}

const NAMESPACE: &str = "http://rds.amazonaws.com/doc/2014-10-31/";

fn xml(action: &str, result: &str) -> Response {
    query::xml(NAMESPACE, action, result)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    query::error(NAMESPACE, status, code, message)
}

fn not_found(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "DBInstanceNotFound",
        &format!("DBInstance {id} not found."),
    )
}

fn instance_xml(id: &str, i: &Instance) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<DBInstance><DBInstanceIdentifier>{}</DBInstanceIdentifier><DBInstanceArn>arn:aws:rds:{AWS_REGION}:{ACCOUNT}:db:{}</DBInstanceArn>\
         <DBInstanceClass>{}</DBInstanceClass><Engine>postgres</Engine><EngineVersion>16.4</EngineVersion>\
         <DBInstanceStatus>{}</DBInstanceStatus><MultiAZ>{}</MultiAZ><AvailabilityZone>{}</AvailabilityZone>",
        escape(id),
        escape(id),
        i.class,
        i.status,
        i.multi_az,
        escape(&i.zone)
    );
    if let Some(s) = &i.secondary {
        let _ = write!(
            o,
            "<SecondaryAvailabilityZone>{}</SecondaryAvailabilityZone>",
            escape(s)
        );
    }
    if let Some(s) = &i.source {
        let _ = write!(
            o,
            "<ReadReplicaSourceDBInstanceIdentifier>{}</ReadReplicaSourceDBInstanceIdentifier>",
            escape(s)
        );
    }
    o.push_str("<ReadReplicaDBInstanceIdentifiers>");
    for r in &i.replicas {
        let _ = write!(
            o,
            "<ReadReplicaDBInstanceIdentifier>{}</ReadReplicaDBInstanceIdentifier>",
            escape(r)
        );
    }
    let _ = writeln!(
        o,
        "</ReadReplicaDBInstanceIdentifiers><Endpoint><Address>{}.c0sandbox.{AWS_REGION}.rds.amazonaws.com</Address><Port>5432</Port></Endpoint></DBInstance>",
        escape(id)
    );
    o
}

async fn action(State(rds): State<Arc<Rds>>, body: Bytes) -> Response {
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str);
    let id = get("DBInstanceIdentifier").unwrap_or_default().to_owned();
    let now = rds.clock.now();
    let mut w = rds.world();
    match get("Action").unwrap_or_default() {
        "DescribeDBInstances" => describe(&w, &id),
        "RebootDBInstance" => reboot(&mut w, &id, get("ForceFailover") == Some("true"), now),
        "PromoteReadReplica" => promote(&mut w, &id, now),
        "DescribeEvents" => events(&w, get("SourceIdentifier")),
        other => error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            &format!(
                "The action {other} is not valid for this web service (the sandbox serves DescribeDBInstances, RebootDBInstance, PromoteReadReplica, DescribeEvents)."
            ),
        ),
    }
}

fn describe(w: &World, id: &str) -> Response {
    if !id.is_empty() && !w.instances.contains_key(id) {
        return not_found(id);
    }
    let mut out = String::from("<DBInstances>\n");
    for (name, i) in &w.instances {
        if id.is_empty() || name == id {
            out.push_str(&instance_xml(name, i));
        }
    }
    out.push_str("</DBInstances>\n");
    xml("DescribeDBInstances", &out)
}

/// A reboot: with `force`, the Multi-AZ standby takes over, which takes a
/// while; without, it is over at once here.
fn reboot(w: &mut World, id: &str, force: bool, now: Duration) -> Response {
    let Some(i) = w.instances.get_mut(id) else {
        return not_found(id);
    };
    if i.status != "available" {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidDBInstanceState",
            &format!("Instance {id} is not in available state."),
        );
    }
    if force && !i.multi_az {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterCombination",
            "Cannot do a forced failover on a non-Multi-AZ instance.",
        );
    }
    if force {
        i.status = "rebooting";
        i.change = Some((Change::Failover, now + FAILOVER));
    }
    let out = instance_xml(id, i);
    if force {
        push_event(w, id, "Multi-AZ instance failover started.", "failover");
    } else {
        push_event(w, id, "DB instance restarted", "availability");
    }
    xml("RebootDBInstance", &out)
}

/// A read replica's promotion: its source forgets it at once, and it is
/// `modifying` until the promotion completes.
fn promote(w: &mut World, id: &str, now: Duration) -> Response {
    let Some(i) = w.instances.get_mut(id) else {
        return not_found(id);
    };
    let Some(source) = i.source.take() else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidDBInstanceState",
            &format!("DB Instance {id} is not a read replica."),
        );
    };
    i.status = "modifying";
    i.change = Some((Change::Promotion, now + PROMOTION));
    let out = instance_xml(id, i);
    if let Some(s) = w.instances.get_mut(&source) {
        s.replicas.retain(|r| r != id);
    }
    push_event(
        w,
        id,
        "Promoting Read Replica to a stand-alone database instance.",
        "configuration change",
    );
    xml("PromoteReadReplica", &out)
}

fn events(w: &World, source: Option<&str>) -> Response {
    let mut out = String::from("<Events>\n");
    for e in w
        .events
        .iter()
        .filter(|e| source.is_none_or(|s| s == e.source))
    {
        let _ = writeln!(
            out,
            "<Event><SourceIdentifier>{}</SourceIdentifier><SourceType>db-instance</SourceType><Message>{}</Message>\
             <EventCategories><EventCategory>{}</EventCategory></EventCategories><Date>{}</Date>\
             <SourceArn>arn:aws:rds:{AWS_REGION}:{ACCOUNT}:db:{}</SourceArn></Event>",
            escape(&e.source),
            escape(&e.message),
            e.category,
            e.at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
            escape(&e.source)
        );
    }
    out.push_str("</Events>\n");
    xml("DescribeEvents", &out)
}
