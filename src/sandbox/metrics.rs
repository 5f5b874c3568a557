//! Prometheus text endpoints of the simulated platform: each service (and
//! ai-services' `/health` and `/ready`), postgres_exporter, redis_exporter
//! and node_exporter, with the metric names of the seed's alert rules and
//! dashboards. One loopback port per scrape target, as in production.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::sim::{Histogram, Sim};

/// What a target exposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A service's own metrics: region index, service index.
    Service(usize, usize),
    /// postgres_exporter for a region's database.
    Postgres(usize, usize),
    /// redis_exporter for a region's cache.
    Redis(usize, usize),
    /// node_exporter on a region's node.
    Node(usize, usize),
}

/// A served target.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `tokyo` or `korea`.
    pub region: &'static str,
    /// `backend-api`, `iworkz-production-postgres`, a node's name.
    pub name: String,
    /// `service`, `postgres_exporter`, `redis_exporter`, `node_exporter`.
    pub job: &'static str,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

struct Served {
    sim: Arc<Mutex<Sim>>,
    target: Target,
}

/// The router of one target.
pub fn router(sim: Arc<Mutex<Sim>>, target: Target) -> Router {
    let ai = matches!(&target, Target::Service(_, 1));
    let mut r = Router::new().route("/metrics", get(metrics));
    if ai {
        r = r.route("/health", get(health)).route("/ready", get(ready));
    }
    r.with_state(Arc::new(Served { sim, target }))
}

fn lock(sim: &Mutex<Sim>) -> std::sync::MutexGuard<'_, Sim> {
    sim.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn metrics(State(s): State<Arc<Served>>) -> Response {
    let sim = lock(&s.sim);
    let text = match &s.target {
        Target::Service(r, i) => {
            let svc = &sim.regions[*r].services[*i];
            if !svc.up {
                return (StatusCode::SERVICE_UNAVAILABLE, "service unavailable\n").into_response();
            }
            service(sim.regions[*r].name, svc)
        }
        Target::Postgres(r, i) => postgres(&sim.regions[*r].databases[*i]),
        Target::Redis(r, i) => redis(&sim.regions[*r].caches[*i]),
        Target::Node(r, i) => node(&sim.regions[*r].nodes[*i]),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn health(State(s): State<Arc<Served>>) -> Response {
    let Target::Service(r, i) = s.target else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let up = lock(&s.sim).regions[r].services[i].up;
    if up {
        (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"ok"}"#,
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"down"}"#,
        )
            .into_response()
    }
}

async fn ready(State(s): State<Arc<Served>>) -> Response {
    let Target::Service(r, i) = s.target else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let svc = lock(&s.sim).regions[r].services[i].clone();
    if svc.up && svc.ready {
        (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"ready"}"#,
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"not ready","reason":"inference latency above the readiness threshold"}"#,
        )
            .into_response()
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    for (b, c) in h.bounds.iter().zip(&h.buckets) {
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {c:.3}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {:.3}", h.count);
    let _ = writeln!(
        out,
        "{name}_sum{{{labels}}} {:.3}\n{name}_count{{{labels}}} {:.3}",
        h.sum, h.count
    );
}

fn service(region: &str, s: &super::sim::Service) -> String {
    let mut o = String::new();
    let l = format!("service=\"{}\",region=\"{region}\"", s.name);
    family(
        &mut o,
        "http_requests_total",
        "counter",
        "HTTP requests answered, by status.",
    );
    let _ = writeln!(o, "http_requests_total{{{l},status=\"200\"}} {:.0}", s.ok);
    let _ = writeln!(
        o,
        "http_requests_total{{{l},status=\"500\"}} {:.0}",
        s.errors
    );
    family(
        &mut o,
        "http_request_duration_seconds",
        "histogram",
        "HTTP request latency.",
    );
    histogram(&mut o, "http_request_duration_seconds", &l, &s.latency);
    family(
        &mut o,
        "active_users_total",
        "gauge",
        "Users signed in now.",
    );
    let _ = writeln!(o, "active_users_total{{{l}}} {}", s.active_users);
    if let Some(h) = &s.inference {
        family(
            &mut o,
            "ai_model_inference_duration_seconds",
            "histogram",
            "Model inference latency.",
        );
        histogram(
            &mut o,
            "ai_model_inference_duration_seconds",
            &format!("{l},model_name=\"matching\""),
            h,
        );
    }
    if let Some(a) = s.accuracy {
        family(
            &mut o,
            "ai_model_accuracy",
            "gauge",
            "Model accuracy on the rolling evaluation set.",
        );
        let _ = writeln!(o, "ai_model_accuracy{{{l},model_name=\"matching\"}} {a}");
    }
    o
}

fn postgres(d: &super::sim::Database) -> String {
    let mut o = String::new();
    family(
        &mut o,
        "pg_up",
        "gauge",
        "Whether the last scrape of PostgreSQL succeeded.",
    );
    let _ = writeln!(o, "pg_up {}", u8::from(d.up));
    if !d.up {
        return o;
    }
    family(
        &mut o,
        "pg_stat_database_numbackends",
        "gauge",
        "Backends connected to this database.",
    );
    let _ = writeln!(
        o,
        "pg_stat_database_numbackends{{datname=\"iworkz\"}} {}",
        d.backends
    );
    family(
        &mut o,
        "pg_settings_max_connections",
        "gauge",
        "Server parameter max_connections.",
    );
    let _ = writeln!(o, "pg_settings_max_connections {}", d.max_connections);
    family(
        &mut o,
        "pg_stat_database_blks_hit",
        "counter",
        "Disk blocks found in the buffer cache.",
    );
    let _ = writeln!(
        o,
        "pg_stat_database_blks_hit{{datname=\"iworkz\"}} {:.0}",
        d.blks_hit
    );
    family(
        &mut o,
        "pg_stat_database_blks_read",
        "counter",
        "Disk blocks read.",
    );
    let _ = writeln!(
        o,
        "pg_stat_database_blks_read{{datname=\"iworkz\"}} {:.0}",
        d.blks_read
    );
    family(
        &mut o,
        "pg_replication_is_replica",
        "gauge",
        "Whether the server is a standby.",
    );
    let _ = writeln!(
        o,
        "pg_replication_is_replica {}",
        u8::from(d.role == "replica")
    );
    if d.role == "replica" {
        family(
            &mut o,
            "pg_replication_lag",
            "gauge",
            "Replication lag behind the primary, seconds.",
        );
        let _ = writeln!(o, "pg_replication_lag {:.1}", d.lag_seconds);
    }
    // postgres_exporter's stat_wal_receiver collector: the status as a
    // number (stopped 0, starting 1, streaming 2, waiting 3, restarting 4,
    // stopping -1).
    if let Some(status) = d.receiver.filter(|_| d.role == "replica") {
        family(
            &mut o,
            "pg_stat_wal_receiver_status",
            "gauge",
            "Activity status of the WAL receiver process",
        );
        let code = match status {
            "stopped" => 0,
            "starting" => 1,
            "streaming" => 2,
            "waiting" => 3,
            "restarting" => 4,
            "stopping" => -1,
            _ => -2,
        };
        let _ = writeln!(
            o,
            "pg_stat_wal_receiver_status{{upstream_host=\"primary.iworkz.internal\",slot_name=\"iworkz_dr\"}} {code}"
        );
    }
    o
}

fn redis(c: &super::sim::Cache) -> String {
    let mut o = String::new();
    family(
        &mut o,
        "redis_up",
        "gauge",
        "Whether the Redis server is up.",
    );
    let _ = writeln!(o, "redis_up {}", u8::from(c.up));
    family(
        &mut o,
        "redis_instance_info",
        "gauge",
        "Information about the Redis instance.",
    );
    let _ = writeln!(
        o,
        "redis_instance_info{{role=\"master\",redis_version=\"7.1.0\",redis_mode=\"standalone\"}} 1"
    );
    for (name, kind, help, v) in [
        (
            "redis_connected_slaves",
            "gauge",
            "Replicas connected.",
            c.replicas,
        ),
        (
            "redis_connected_clients",
            "gauge",
            "Clients connected.",
            c.clients,
        ),
        (
            "redis_memory_used_bytes",
            "gauge",
            "Memory used.",
            c.memory_used,
        ),
        (
            "redis_memory_max_bytes",
            "gauge",
            "maxmemory.",
            c.memory_max,
        ),
        (
            "redis_keyspace_hits_total",
            "counter",
            "Keyspace hits.",
            c.hits,
        ),
        (
            "redis_keyspace_misses_total",
            "counter",
            "Keyspace misses.",
            c.misses,
        ),
    ] {
        family(&mut o, name, kind, help);
        let _ = writeln!(o, "{name} {v:.0}");
    }
    o
}

fn node(n: &super::sim::Node) -> String {
    let mut o = String::new();
    family(
        &mut o,
        "node_cpu_seconds_total",
        "counter",
        "Seconds the CPUs spent in each mode.",
    );
    let cpus = f64::from(n.cpus.max(1));
    for cpu in 0..n.cpus {
        let _ = writeln!(
            o,
            "node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"idle\"}} {:.2}",
            n.idle_seconds / cpus
        );
        let _ = writeln!(
            o,
            "node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"user\"}} {:.2}",
            n.busy_seconds / cpus
        );
    }
    for (name, help, v) in [
        (
            "node_memory_MemTotal_bytes",
            "Memory information field MemTotal_bytes.",
            n.mem_total,
        ),
        (
            "node_memory_MemAvailable_bytes",
            "Memory information field MemAvailable_bytes.",
            n.mem_available,
        ),
    ] {
        family(&mut o, name, "gauge", help);
        let _ = writeln!(o, "{name} {v:.0}");
    }
    let fs = "device=\"/dev/nvme0n1p1\",fstype=\"ext4\",mountpoint=\"/\"";
    family(
        &mut o,
        "node_filesystem_size_bytes",
        "gauge",
        "Filesystem size in bytes.",
    );
    let _ = writeln!(o, "node_filesystem_size_bytes{{{fs}}} {:.0}", n.fs_size);
    family(
        &mut o,
        "node_filesystem_avail_bytes",
        "gauge",
        "Filesystem space available to non-root users in bytes.",
    );
    let _ = writeln!(o, "node_filesystem_avail_bytes{{{fs}}} {:.0}", n.fs_avail);
    o
}
