//! Redis read directly through `INFO` (the redis crate): role, replicas or
//! the link to the primary, clients, memory, and rates of hits, commands
//! and evictions; behind Sentinel, the primary it names; in a Redis
//! Cluster, `CLUSTER INFO`. Connections are made by touban (TCP with a
//! deadline, under a byte budget), kept between polls (the Sentinel's too,
//! with the same password) and dropped whole after a failure or timeout.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use tokio::net::TcpStream;
use tokio::task::AbortHandle;

use crate::config::platform::Direct;
use crate::config::secret::mask_url;
use crate::model::data::{CacheStatus, History, ReplicaLink};

use super::super::budget::Budget;
use super::read_secret;
use super::window::Window;

/// A connection and the task that drives it (the executor's calls open
/// one the same way).
pub(crate) struct Link {
    pub(crate) conn: MultiplexedConnection,
    driver: AbortHandle,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Connections to one cache (and its Sentinel), kept between polls, with
/// the counters rates are taken from.
pub(super) struct Session {
    primary: Option<(String, Link)>,
    sentinel: Option<Link>,
    /// The counters' window, and the server they were read from: another
    /// server's counters (a new primary after a failover) start a new one.
    counters: Window,
    counted: Option<String>,
    window: Duration,
}

impl Session {
    /// No connection yet; rates over `window`.
    pub(super) fn new(window: Duration) -> Session {
        Session {
            primary: None,
            sentinel: None,
            counters: Window::new(window),
            counted: None,
            window,
        }
    }
}

/// How long a connection and a command may take.
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) cap: u64,
}

/// Connects to the Redis at `url` with `direct`'s password: TCP within the
/// timeout, every answer under the cap. Errors name the host, never the
/// password.
pub(crate) async fn open(url: &str, direct: &Direct, limits: &Limits) -> Result<Link, String> {
    let shown = mask_url(url);
    let mut info = redis::IntoConnectionInfo::into_connection_info(url)
        .map_err(|e| format!("Redis URL {shown}: {e}"))?;
    if let Some(secret) = &direct.password {
        let settings = info
            .redis_settings()
            .clone()
            .set_password(read_secret(secret.get_ref())?);
        info = info.set_redis_settings(settings);
    }
    let redis::ConnectionAddr::Tcp(host, port) = info.addr().clone() else {
        return Err(format!(
            "{shown}: only plain TCP Redis can be read directly"
        ));
    };
    let failed = |why: String| format!("cannot connect to {shown}: {why}");
    let tcp = tokio::time::timeout(limits.timeout, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| failed(format!("no answer within {} s", limits.timeout.as_secs())))?
        .map_err(|e| failed(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(limits.timeout))
        .set_response_timeout(Some(limits.timeout));
    let (conn, driver) = tokio::time::timeout(
        limits.timeout,
        MultiplexedConnection::new_with_config(
            info.redis_settings(),
            Budget::new(tcp, limits.cap, "Redis"),
            config,
        ),
    )
    .await
    .map_err(|_| failed(format!("no answer within {} s", limits.timeout.as_secs())))?
    .map_err(|e| failed(e.to_string()))?;
    let driver = tokio::spawn(driver).abort_handle();
    Ok(Link { conn, driver })
}

impl Session {
    /// Forgets every connection (their tasks stop).
    pub(super) fn reset(&mut self) {
        self.primary = None;
        self.sentinel = None;
    }

    /// The connection to `url`, opened if need be.
    async fn link(
        &mut self,
        url: &str,
        direct: &Direct,
        limits: &Limits,
    ) -> Result<&mut MultiplexedConnection, String> {
        if self.primary.as_ref().is_none_or(|(u, _)| u != url) {
            self.primary = None;
            let link = open(url, direct, limits).await?;
            self.primary = Some((url.to_owned(), link));
        }
        self.primary
            .as_mut()
            .map(|(_, l)| &mut l.conn)
            .ok_or_else(|| "no connection".to_owned())
    }

    /// Behind Sentinel: asks the Sentinel at `direct.url` which primary it
    /// names and how many replicas it knows, then reads that primary.
    pub(super) async fn sentinel(
        &mut self,
        direct: &Direct,
        name: Option<&str>,
        limits: &Limits,
    ) -> Result<CacheStatus, String> {
        let name = name.ok_or_else(|| {
            "kind = \"redis-sentinel\" needs master_name = \"NAME\" (the monitored primary)"
                .to_owned()
        })?;
        let url = direct.url.get_ref();
        let shown = mask_url(url);
        if self.sentinel.is_none() {
            self.sentinel = Some(open(url, direct, limits).await?);
        }
        let Some(sentinel) = self.sentinel.as_mut() else {
            return Err("no connection".into());
        };
        let addr: Vec<String> = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(name)
            .query_async(&mut sentinel.conn)
            .await
            .map_err(|e| format!("Sentinel {shown}: {e}"))?;
        let [host, port] = addr.as_slice() else {
            return Err(format!("Sentinel {shown} does not monitor `{name}`"));
        };
        let replicas: Vec<Vec<String>> = redis::cmd("SENTINEL")
            .arg("REPLICAS")
            .arg(name)
            .query_async(&mut sentinel.conn)
            .await
            .map_err(|e| format!("Sentinel {shown}: {e}"))?;
        let primary = format!("{host}:{port}");
        // A new primary named: `link` drops the connection to the old one.
        let mut c = self
            .info(&format!("redis://{primary}"), direct, limits)
            .await?;
        c.sentinel = Some((primary, replicas.len()));
        Ok(c)
    }

    /// Redis Cluster: `CLUSTER INFO` from the node at `direct.url`, with
    /// that node's own `INFO`.
    pub(super) async fn cluster(
        &mut self,
        direct: &Direct,
        limits: &Limits,
    ) -> Result<CacheStatus, String> {
        let url = direct.url.get_ref();
        let mut c = self.info(url, direct, limits).await?;
        let conn = self.link(url, direct, limits).await?;
        let text: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async(conn)
            .await
            .map_err(|e| format!("Redis {}: CLUSTER INFO: {e}", mask_url(url)))?;
        let info = fields(&text);
        let n = |k: &str| info.get(k).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
        c.cluster = Some((
            (*info.get("cluster_state").unwrap_or(&"unknown")).to_owned(),
            n("cluster_slots_ok"),
            n("cluster_known_nodes"),
        ));
        Ok(c)
    }

    /// Redis through `INFO` at `url`.
    pub(super) async fn info(
        &mut self,
        url: &str,
        direct: &Direct,
        limits: &Limits,
    ) -> Result<CacheStatus, String> {
        let conn = self.link(url, direct, limits).await?;
        let text: String = redis::cmd("INFO")
            .query_async(conn)
            .await
            .map_err(|e| format!("Redis {}: INFO: {e}", mask_url(url)))?;
        let info = fields(&text);
        if !info.contains_key("role") {
            return Err(format!(
                "Redis {}: INFO answered without a role: not a Redis server?",
                mask_url(url)
            ));
        }
        let num = |k: &str| {
            info.get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        let counters = [
            "keyspace_hits",
            "keyspace_misses",
            "total_commands_processed",
            "evicted_keys",
        ]
        .into_iter()
        .filter_map(|k| Some((k.to_owned(), num(k)?)));
        if self.counted.as_deref() != Some(url) {
            self.counters = Window::new(self.window);
            self.counted = Some(url.to_owned());
        }
        let inc = self
            .counters
            .observe(Instant::now(), counters.collect::<Vec<_>>())
            .unwrap_or_default();
        let of = |name: &'static str| move |k: &str| k == name;
        let (hits, misses) = (inc.sum(of("keyspace_hits")), inc.sum(of("keyspace_misses")));
        let ops = inc.rate(of("total_commands_processed"));
        let evictions = inc.rate(of("evicted_keys"));
        let role = info.get("role").map(|r| {
            if *r == "slave" {
                "replica".to_owned()
            } else {
                (*r).to_owned()
            }
        });
        let offset = num("master_repl_offset");
        let replicas = info
            .iter()
            .filter(|(k, _)| {
                k.len() > 5 && k.starts_with("slave") && k[5..].chars().all(|c| c.is_ascii_digit())
            })
            .map(|(_, v)| {
                let f: HashMap<&str, &str> =
                    v.split(',').filter_map(|f| f.split_once('=')).collect();
                let their = f.get("offset").and_then(|o| o.parse::<f64>().ok());
                ReplicaLink {
                    name: format!(
                        "{}:{}",
                        f.get("ip").unwrap_or(&""),
                        f.get("port").unwrap_or(&"")
                    ),
                    state: (*f.get("state").unwrap_or(&"")).to_owned(),
                    lag_bytes: offset.zip(their).map(|(o, t)| (o - t).max(0.0)),
                    lag_seconds: f.get("lag").and_then(|l| l.parse().ok()),
                }
            })
            .collect();
        Ok(CacheStatus {
            via: "direct",
            up: true,
            link_up: info.get("master_link_status").map(|s| *s == "up"),
            role,
            replicas,
            clients: num("connected_clients"),
            memory: num("used_memory").map(|u| (u, num("maxmemory").unwrap_or(0.0))),
            hit_rate: match (hits, misses) {
                (Some(h), Some(m)) if h + m > 0.0 => Some(h / (h + m)),
                _ => None,
            },
            ops,
            evictions,
            memory_history: History::default(),
            sentinel: None,
            cluster: None,
        })
    }
}

/// `key:value` lines.
pub(crate) fn fields(text: &str) -> HashMap<&str, &str> {
    text.lines()
        .filter_map(|l| l.trim_end().split_once(':'))
        .collect()
}
