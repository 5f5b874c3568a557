//! Redis for the executor: which server is a cache's primary and which
//! replicas it has (`INFO replication`; behind Sentinel, the primary the
//! Sentinel names; a server that turned replica is followed to its
//! primary), and the failover itself: Redis's own coordinated `FAILOVER`
//! (Redis 6.2 and later: writes paused, the replica caught up to the
//! primary's offset, roles swapped, the old primary re-pointed) or
//! `SENTINEL FAILOVER`. Connections are opened as the cache source opens
//! them and closed after each call; failures name the server without its
//! password.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{CacheMember, CacheReading, CacheReplica, Failure};
use crate::config::platform::{CacheKind, Direct};
use crate::config::secret::mask_url;
use crate::sources::data::redis::{Limits, Link, fields, open};

/// How long a connection or command may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long Redis's `FAILOVER` may wait for the replica to catch up.
pub const FAILOVER_MS: u64 = 10_000;

/// How a cache is reached.
#[derive(Debug, Clone)]
pub struct Reach {
    /// Redis, or Redis behind Sentinel.
    pub kind: CacheKind,
    /// Its address (the Sentinel's, behind Sentinel) and password.
    pub direct: Direct,
    /// Behind Sentinel: the monitored primary's name.
    pub master_name: Option<String>,
    /// Its replicas' `host:port` as configured (read when the primary
    /// does not answer).
    pub replicas: Vec<String>,
}

/// The configured caches with direct access, by name.
#[derive(Default)]
pub struct Caches {
    reach: BTreeMap<String, Reach>,
}

fn limits() -> Limits {
    Limits {
        timeout: TIMEOUT,
        cap: 1 << 20,
    }
}

fn failure(what: String) -> Failure {
    Failure { what, status: None }
}

async fn command<T: redis::FromRedisValue>(
    link: &mut Link,
    cmd: &redis::Cmd,
    shown: &str,
) -> Result<T, Failure> {
    match tokio::time::timeout(TIMEOUT, cmd.query_async(&mut link.conn)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failure(format!("Redis {shown}: {e}"))),
        Err(_) => Err(failure(format!(
            "Redis {shown}: no answer within {} s",
            TIMEOUT.as_secs()
        ))),
    }
}

/// `INFO` of the server at `url`: its replication section and version.
async fn info(url: &str, direct: &Direct) -> Result<CacheReading, Failure> {
    let shown = mask_url(url);
    let mut link = open(url, direct, &limits()).await.map_err(failure)?;
    let text: String = command(&mut link, redis::cmd("INFO").arg("replication"), &shown).await?;
    let server: String = command(&mut link, redis::cmd("INFO").arg("server"), &shown).await?;
    let f = fields(&text);
    let get = |k: &str| f.get(k).map(|v| (*v).to_owned());
    let replicas = f
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix("slave")
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        })
        .filter_map(|(_, v)| {
            let kv: BTreeMap<&str, &str> = v.split(',').filter_map(|p| p.split_once('=')).collect();
            Some(CacheReplica {
                addr: format!("{}:{}", kv.get("ip")?, kv.get("port")?),
                state: (*kv.get("state")?).to_owned(),
                offset: kv.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0),
            })
        })
        .collect();
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .rsplit('@')
        .next()
        .unwrap_or(url)
        .trim_end_matches('/');
    Ok(CacheReading {
        primary: authority.to_owned(),
        role: get("role").unwrap_or_default(),
        replicas,
        offset: get("master_repl_offset")
            .and_then(|o| o.parse().ok())
            .unwrap_or(0),
        version: fields(&server)
            .get("redis_version")
            .map(|v| (*v).to_owned())
            .unwrap_or_default(),
        failover_state: get("master_failover_state"),
        upstream: get("master_host")
            .zip(get("master_port"))
            .map(|(h, p)| format!("{h}:{p}")),
        sentinel: false,
    })
}

/// Whether a replica, as `SENTINEL REPLICAS` lists it (field, value,
/// field, value …), is one the Sentinel could promote: not down or
/// disconnected, its link to the primary up, its priority not 0.
fn promotable(fields: &[String]) -> bool {
    let get = |k: &str| {
        fields
            .chunks(2)
            .find(|kv| kv.first().is_some_and(|f| f == k))
            .and_then(|kv| kv.get(1))
            .map(String::as_str)
    };
    let flags = get("flags").unwrap_or("");
    !["s_down", "o_down", "disconnected"]
        .iter()
        .any(|f| flags.split(',').any(|g| g == *f))
        && get("master-link-status") == Some("ok")
        && get("slave-priority").is_none_or(|p| p != "0")
}

/// `redis://host:port` with the scheme of `url` (a TLS `rediss://` stays
/// one).
fn url_of(base: &str, addr: &str) -> String {
    let scheme = base.split_once("://").map_or("redis", |(s, _)| s);
    format!("{scheme}://{addr}")
}

impl Caches {
    /// These caches, by configured name.
    pub fn new(reach: BTreeMap<String, Reach>) -> Caches {
        Caches { reach }
    }

    fn reach(&self, cache: &str) -> Result<&Reach, Failure> {
        let r = self.reach.get(cache).ok_or_else(|| {
            failure(format!(
                "cache {cache} has no direct access: touban fails Redis over through a direct connection ([[caches]] direct.url)"
            ))
        })?;
        if r.kind == CacheKind::RedisCluster {
            return Err(failure(format!(
                "cache {cache} is a Redis Cluster: its failover is CLUSTER FAILOVER on a replica node, which touban does not do yet"
            )));
        }
        Ok(r)
    }

    /// The Sentinel's link and the primary's name, behind Sentinel.
    async fn sentinel(r: &Reach) -> Result<(Link, &str, String), Failure> {
        let url = r.direct.url.get_ref();
        let name = r.master_name.as_deref().ok_or_else(|| {
            failure("kind = \"redis-sentinel\" needs master_name (the monitored primary)".into())
        })?;
        let link = open(url, &r.direct, &limits()).await.map_err(failure)?;
        Ok((link, name, format!("Sentinel {}", mask_url(url))))
    }

    /// The cache's primary as it is now, with its replicas.
    pub async fn read(&self, cache: &str) -> Result<CacheReading, Failure> {
        let r = self.reach(cache)?;
        let url = r.direct.url.get_ref();
        if r.kind == CacheKind::RedisSentinel {
            let (mut link, name, shown) = Caches::sentinel(r).await?;
            let addr: Vec<String> = command(
                &mut link,
                redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(name),
                &shown,
            )
            .await?;
            let [host, port] = addr.as_slice() else {
                return Err(failure(format!("{shown} does not monitor `{name}`")));
            };
            let mut c = info(&url_of(url, &format!("{host}:{port}")), &r.direct).await?;
            c.sentinel = true;
            return Ok(c);
        }
        let c = info(url, &r.direct).await?;
        // A server that is a replica now (after a failover) names its
        // primary: read that one.
        match (&c.upstream, c.role.as_str()) {
            (Some(up), "slave") => info(&url_of(url, up), &r.direct).await,
            _ => Ok(c),
        }
    }

    /// Each configured replica, as it answers for itself.
    pub async fn members(&self, cache: &str) -> Vec<(String, Result<CacheMember, Failure>)> {
        let Ok(r) = self.reach(cache) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for addr in &r.replicas {
            out.push((addr.clone(), Caches::member_of(r, addr).await));
        }
        out
    }

    /// One server of the cache, `host:port`, as it answers for itself.
    pub async fn member(&self, cache: &str, addr: &str) -> Result<CacheMember, Failure> {
        Caches::member_of(self.reach(cache)?, addr).await
    }

    async fn member_of(r: &Reach, addr: &str) -> Result<CacheMember, Failure> {
        let url = url_of(r.direct.url.get_ref(), addr);
        let shown = mask_url(&url);
        let mut link = open(&url, &r.direct, &limits()).await.map_err(failure)?;
        let text: String =
            command(&mut link, redis::cmd("INFO").arg("replication"), &shown).await?;
        let f = fields(&text);
        let get = |k: &str| f.get(k).map(|v| (*v).to_owned());
        let number = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
        let role = get("role").unwrap_or_default();
        Ok(CacheMember {
            addr: addr.to_owned(),
            upstream: get("master_host")
                .zip(get("master_port"))
                .map(|(h, p)| format!("{h}:{p}")),
            linked: get("master_link_status").as_deref() == Some("up"),
            down_for: number("master_link_down_since_seconds").and_then(|s| u64::try_from(s).ok()),
            offset: if role == "master" {
                number("master_repl_offset")
            } else {
                number("slave_repl_offset")
            }
            .unwrap_or(0),
            role,
        })
    }

    /// `REPLICAOF NO ONE` on `server` (`to` None: it becomes a primary),
    /// or `REPLICAOF host port` of the primary `to`.
    pub async fn replica_of(
        &self,
        cache: &str,
        server: &str,
        to: Option<&str>,
    ) -> Result<(), Failure> {
        let r = self.reach(cache)?;
        let url = url_of(r.direct.url.get_ref(), server);
        let shown = mask_url(&url);
        let mut cmd = redis::cmd("REPLICAOF");
        match to {
            None => cmd.arg("NO").arg("ONE"),
            Some(to) => {
                let (host, port) = to
                    .rsplit_once(':')
                    .ok_or_else(|| failure(format!("primary address {to} is not host:port")))?;
                cmd.arg(host).arg(port)
            }
        };
        let mut link = open(&url, &r.direct, &limits()).await.map_err(failure)?;
        let ok: String = command(&mut link, &cmd, &shown).await?;
        if ok.starts_with("OK") {
            Ok(())
        } else {
            Err(failure(format!("{shown}: REPLICAOF answered {ok}")))
        }
    }

    /// Fails the cache over: behind Sentinel, `SENTINEL FAILOVER`; else
    /// `FAILOVER TO` the replica `to` on the primary `primary`. A dry run
    /// checks the failover could start and sends nothing.
    pub async fn failover(
        &self,
        cache: &str,
        primary: &str,
        to: &str,
        dry_run: bool,
    ) -> Result<(), Failure> {
        let r = self.reach(cache)?;
        if r.kind == CacheKind::RedisSentinel {
            let (mut link, name, shown) = Caches::sentinel(r).await?;
            if dry_run {
                let replicas: Vec<Vec<String>> = command(
                    &mut link,
                    redis::cmd("SENTINEL").arg("REPLICAS").arg(name),
                    &shown,
                )
                .await?;
                return if replicas.iter().any(|r| promotable(r)) {
                    Ok(())
                } else {
                    Err(failure(format!(
                        "{shown} knows no replica of `{name}` it could promote (each is down, disconnected, unlinked or of priority 0): it would answer NOGOODSLAVE"
                    )))
                };
            }
            let ok: String = command(
                &mut link,
                redis::cmd("SENTINEL").arg("FAILOVER").arg(name),
                &shown,
            )
            .await?;
            return if ok == "OK" {
                Ok(())
            } else {
                Err(failure(format!("{shown}: SENTINEL FAILOVER answered {ok}")))
            };
        }
        let url = url_of(r.direct.url.get_ref(), primary);
        let shown = mask_url(&url);
        let (host, port) = to
            .rsplit_once(':')
            .ok_or_else(|| failure(format!("replica address {to} is not host:port")))?;
        if dry_run {
            let c = info(&url, &r.direct).await?;
            let major_minor: Vec<u32> = c
                .version
                .split('.')
                .take(2)
                .filter_map(|p| p.parse().ok())
                .collect();
            if major_minor.as_slice() < [6, 2].as_slice() {
                return Err(failure(format!(
                    "Redis {shown} is version {}: FAILOVER needs 6.2 or later",
                    c.version
                )));
            }
            return Ok(());
        }
        let mut link = open(&url, &r.direct, &limits()).await.map_err(failure)?;
        let ok: String = command(
            &mut link,
            redis::cmd("FAILOVER")
                .arg("TO")
                .arg(host)
                .arg(port)
                .arg("TIMEOUT")
                .arg(FAILOVER_MS),
            &shown,
        )
        .await?;
        if ok == "OK" {
            Ok(())
        } else {
            Err(failure(format!("{shown}: FAILOVER answered {ok}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replica_the_sentinel_could_not_promote_is_told_apart() {
        let r = |flags: &str, link: &str, priority: &str| -> Vec<String> {
            [
                "flags",
                flags,
                "master-link-status",
                link,
                "slave-priority",
                priority,
            ]
            .iter()
            .map(ToString::to_string)
            .collect()
        };
        assert!(promotable(&r("slave", "ok", "100")));
        assert!(!promotable(&r("s_down,slave", "ok", "100")));
        assert!(!promotable(&r("slave", "err", "100")));
        assert!(!promotable(&r("slave", "ok", "0")));
    }

    #[test]
    fn a_replica_address_keeps_the_scheme() {
        assert_eq!(
            url_of("rediss://a:1", "10.0.0.5:6380"),
            "rediss://10.0.0.5:6380"
        );
        assert_eq!(url_of("nonsense", "h:1"), "redis://h:1");
    }
}
