//! PostgreSQL for the executor: read a database's role and WAL position,
//! fence it (read-only) or lift the fence, promote a replica, and prove a
//! primary takes writes. Every call opens a session of its own, connected
//! as the data source connects (TCP with a deadline, a byte budget, TLS as
//! the URL's `sslmode` says), and closes it: a fence is verified from a
//! session begun after it, and a database that hangs is given up on after
//! the timeout. Failures name the database and its URL without password.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::task::AbortHandle;

use super::{DbReading, Failure};
use crate::config::platform::Direct;
use crate::config::secret::mask_url;

/// How long one connection or statement may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most the server may send in one session.
const CAP: u64 = 4 << 20;
/// How long a promotion may take before `pg_promote` gives up.
pub const PROMOTE_SECONDS: i32 = 60;

/// The configured databases with direct access, by name.
#[derive(Default)]
pub struct Databases {
    direct: BTreeMap<String, Direct>,
}

/// One session, its connection's task stopped when it ends.
struct Session {
    client: tokio_postgres::Client,
    driver: AbortHandle,
    /// The database, as failures name it.
    shown: String,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl Session {
    fn failed(&self, e: &tokio_postgres::Error) -> Failure {
        Failure {
            what: format!(
                "{}: {}",
                self.shown,
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned())
            ),
            status: None,
        }
    }

    fn late(&self) -> Failure {
        Failure {
            what: format!("{}: no answer within {} s", self.shown, TIMEOUT.as_secs()),
            status: None,
        }
    }

    async fn rows(&self, sql: &str) -> Result<Vec<tokio_postgres::Row>, Failure> {
        self.rows_within(sql, TIMEOUT).await
    }

    async fn rows_within(
        &self,
        sql: &str,
        within: Duration,
    ) -> Result<Vec<tokio_postgres::Row>, Failure> {
        match tokio::time::timeout(within, self.client.query(sql, &[])).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e)) => Err(self.failed(&e)),
            Err(_) => Err(Failure {
                what: format!("{}: no answer within {} s", self.shown, within.as_secs()),
                status: None,
            }),
        }
    }

    async fn one(&self, sql: &str) -> Result<tokio_postgres::Row, Failure> {
        self.one_within(sql, TIMEOUT).await
    }

    async fn one_within(
        &self,
        sql: &str,
        within: Duration,
    ) -> Result<tokio_postgres::Row, Failure> {
        self.rows_within(sql, within)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Failure {
                what: format!("{}: `{sql}` returned no row", self.shown),
                status: None,
            })
    }

    async fn batch(&self, sql: &str) -> Result<(), Failure> {
        match tokio::time::timeout(TIMEOUT, self.client.batch_execute(sql)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.failed(&e)),
            Err(_) => Err(self.late()),
        }
    }

    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
        &self,
        row: &'a tokio_postgres::Row,
        i: usize,
    ) -> Result<T, Failure> {
        row.try_get(i).map_err(|e| self.failed(&e))
    }
}

/// Whether the role may fence: a superuser, or (PostgreSQL 15+) ALTER
/// SYSTEM on the parameter, pg_signal_backend and pg_reload_conf().
async fn may_fence(s: &Session) -> Result<(), Failure> {
    let row = s
        .one(
            "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), \
               current_setting('server_version_num')::int",
        )
        .await?;
    let superuser: Option<bool> = s.get(&row, 0)?;
    let version: i32 = s.get(&row, 1)?;
    let may = if superuser == Some(true) {
        true
    } else if version >= 150_000 {
        let row = s
            .one("SELECT has_parameter_privilege('default_transaction_read_only', 'ALTER SYSTEM') AND pg_has_role('pg_signal_backend', 'MEMBER') AND has_function_privilege('pg_reload_conf()', 'EXECUTE')")
            .await?;
        s.get::<bool>(&row, 0)?
    } else {
        false
    };
    if !may {
        return Err(Failure {
            what: format!(
                "{}: the role may not ALTER SYSTEM default_transaction_read_only and end sessions (grant it ALTER SYSTEM on that parameter, pg_signal_backend and EXECUTE on pg_reload_conf(), or use a superuser)",
                s.shown
            ),
            status: None,
        });
    }
    Ok(())
}

/// Ends every other client session (each waited for, 1 s at most, from
/// PostgreSQL 14) and checks none begun before this call is left; the
/// sessions ended.
async fn end_sessions(s: &Session) -> Result<i64, Failure> {
    let version: i32 = s.get(
        &s.one("SELECT current_setting('server_version_num')::int")
            .await?,
        0,
    )?;
    // From PostgreSQL 14 the call waits (1 s at most each) until the
    // session has ended.
    let terminate = if version >= 140_000 {
        "pg_terminate_backend(pid, 1000)"
    } else {
        "pg_terminate_backend(pid)"
    };
    let since = s
        .one("SELECT now()::text")
        .await
        .and_then(|r| s.get::<String>(&r, 0))?;
    let row = s
        .one_within(
            &format!(
                "SELECT count(*) FILTER (WHERE ended) FROM ( \
                   SELECT {terminate} AS ended FROM pg_stat_activity \
                    WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()) t"
            ),
            Duration::from_secs(120),
        )
        .await?;
    let ended: i64 = s.get(&row, 0)?;
    // Every session begun before the fence must be gone: one left could
    // still write (a superuser's, which pg_signal_backend cannot end).
    let left = s
        .one(&format!(
            "SELECT count(*) FROM pg_stat_activity \
              WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() \
                AND backend_start < '{}'::timestamptz",
            since.replace('\'', "")
        ))
        .await
        .and_then(|r| s.get::<i64>(&r, 0))?;
    if left > 0 {
        return Err(Failure {
            what: format!(
                "{}: {left} session(s) begun before the fence could not be ended (a superuser's needs a superuser to end it); they could still write",
                s.shown
            ),
            status: None,
        });
    }
    Ok(ended)
}

/// Names as SQL literals, comma-separated.
fn literals(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("'{}'", n.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the session's role may lock `roles` out: a superuser may; a
/// role with CREATEROLE and pg_signal_backend may (from PostgreSQL 16
/// only with ADMIN OPTION on each role).
async fn may_lock(s: &Session, roles: &[String]) -> Result<(), Failure> {
    let row = s
        .one(&format!(
            "SELECT p.rolsuper, \
                    p.rolcreaterole AND pg_has_role('pg_signal_backend', 'MEMBER') \
                      AND (current_setting('server_version_num')::int < 160000 \
                           OR (SELECT bool_and(pg_has_role(r.name, 'MEMBER WITH ADMIN OPTION')) \
                                 FROM unnest(ARRAY[{}]::text[]) AS r(name) \
                                WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name))) \
               FROM pg_roles p WHERE p.rolname = current_user",
            literals(roles)
        ))
        .await?;
    let superuser: bool = s.get(&row, 0)?;
    let may: Option<bool> = s.get(&row, 1)?;
    if superuser || may == Some(true) {
        return Ok(());
    }
    Err(Failure {
        what: format!(
            "{}: the role may not lock {} out (it needs CREATEROLE, pg_signal_backend and, from PostgreSQL 16, ADMIN OPTION on each; or use a superuser)",
            s.shown,
            roles.join(", ")
        ),
        status: None,
    })
}

/// Whether locking `roles` out is safe: touban's own login is not one of
/// them (it could not verify nor lift it), and no physical slot keeps a
/// replica that is not connected now (it would replay the change later).
async fn may_lock_out(s: &Session, roles: &[String]) -> Result<(), Failure> {
    let row = s
        .one(&format!(
            "SELECT current_user::text = ANY(ARRAY[{0}]::text[]) OR session_user::text = ANY(ARRAY[{0}]::text[]), \
                    (SELECT string_agg(slot_name::text, ', ') FROM pg_replication_slots WHERE slot_type = 'physical')",
            literals(roles)
        ))
        .await?;
    if s.get::<Option<bool>>(&row, 0)? == Some(true) {
        return Err(Failure {
            what: format!(
                "{}: touban logs in as one of {}: locked out, it could neither verify nor lift it; give touban a login of its own",
                s.shown,
                roles.join(", ")
            ),
            status: None,
        });
    }
    if let Some(slots) = s.get::<Option<String>>(&row, 1)? {
        return Err(Failure {
            what: format!(
                "{}: physical replication slots {slots} keep a replica that would replay the role change when it connects; lock the roles out once no physical replica follows (drop the slots of replicas that are gone)",
                s.shown
            ),
            status: None,
        });
    }
    Ok(())
}

/// A database's subscriptions, logical slots and the roles or databases
/// that set the fence's parameter of their own.
#[allow(clippy::type_complexity)]
async fn extras(
    s: &Session,
) -> Result<
    (
        Vec<super::Subscription>,
        Vec<(String, Option<u64>)>,
        Vec<String>,
    ),
    Failure,
> {
    let subscriptions = s
        .rows(
            "SELECT subname::text, subenabled, subslotname::text FROM pg_subscription \
              WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
              ORDER BY subname",
        )
        .await?
        .iter()
        .map(|r| {
            Ok(super::Subscription {
                name: s.get(r, 0)?,
                enabled: s.get(r, 1)?,
                slot: s.get(r, 2)?,
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let slots = s
        .rows(
            "SELECT slot_name::text, confirmed_flush_lsn::text FROM pg_replication_slots \
              WHERE slot_type = 'logical' ORDER BY slot_name",
        )
        .await?
        .iter()
        .map(|r| {
            let lsn: Option<String> = s.get(r, 1)?;
            Ok((s.get::<String>(r, 0)?, lsn.as_deref().and_then(parse_lsn)))
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    // Per-role or per-database settings of the fence's parameter beat
    // ALTER SYSTEM: a session of that role would not be fenced.
    let overrides = s
        .rows(
            "SELECT coalesce(r.rolname::text, 'every role') || ' in ' || coalesce(d.datname::text, 'every database') \
               FROM pg_db_role_setting st \
               LEFT JOIN pg_roles r ON r.oid = st.setrole \
               LEFT JOIN pg_database d ON d.oid = st.setdatabase, \
               unnest(st.setconfig) c \
              WHERE c LIKE 'default_transaction_read_only=%' \
                 OR c LIKE 'transaction_read_only=%'",
        )
        .await?
        .iter()
        .map(|r| s.get::<String>(r, 0))
        .collect::<Result<Vec<_>, Failure>>()?;
    Ok((subscriptions, slots, overrides))
}

/// An LSN (`16/B374D848`) as a number, to compare.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    (u32::try_from(hi).is_ok() && u32::try_from(lo).is_ok()).then_some((hi << 32) | lo)
}

/// An LSN as PostgreSQL writes it.
pub fn lsn_text(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & u64::from(u32::MAX))
}

impl Databases {
    /// These databases, by configured name.
    pub fn new(direct: BTreeMap<String, Direct>) -> Databases {
        let _ = rustls::crypto::ring::default_provider().install_default();
        Databases { direct }
    }

    async fn open(&self, db: &str) -> Result<Session, Failure> {
        let direct = self.direct.get(db).ok_or_else(|| Failure {
            what: format!(
                "database {db} has no direct access: touban fails PostgreSQL over through a direct connection ([[databases]] direct.url, a role that may ALTER SYSTEM and pg_promote)"
            ),
            status: None,
        })?;
        let shown = format!("database {db} ({})", mask_url(direct.url.get_ref()));
        let (client, driver) = crate::sources::data::postgres::connect(direct, TIMEOUT, CAP)
            .await
            .map_err(|what| Failure { what, status: None })?;
        Ok(Session {
            client,
            driver,
            shown,
        })
    }

    /// Its role, WAL position and fence, read in a new session.
    pub async fn read(&self, db: &str) -> Result<DbReading, Failure> {
        let s = self.open(db).await?;
        let row = s
            .one(
                "SELECT pg_is_in_recovery(), \
                   CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text \
                        ELSE pg_current_wal_insert_lsn()::text END, \
                   pg_last_wal_receive_lsn()::text, \
                   extract(epoch FROM pg_last_xact_replay_timestamp())::float8, \
                   current_setting('default_transaction_read_only') = 'on', \
                   (SELECT status FROM pg_stat_wal_receiver LIMIT 1), \
                   current_setting('server_version_num')::int, \
                   (SELECT count(*) FROM pg_stat_activity \
                     WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()), \
                   CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END, \
                   (SELECT count(*) FROM pg_stat_activity \
                     WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() \
                       AND backend_xid IS NOT NULL)",
            )
            .await?;
        let lsn: Option<String> = s.get(&row, 1)?;
        let received: Option<String> = s.get(&row, 2)?;
        let replayed_at: Option<f64> = s.get(&row, 3)?;
        let system = s
            .one("SELECT system_identifier::text FROM pg_control_system()")
            .await
            .ok()
            .and_then(|r| r.try_get::<_, String>(0).ok());
        let (subscriptions, slots, overrides) = extras(&s).await?;
        let senders = s
            .rows(
                "SELECT r.application_name, r.state, r.replay_lsn::text, \
                        NOT EXISTS (SELECT 1 FROM pg_replication_slots l \
                                     WHERE l.active_pid = r.pid AND l.slot_type = 'logical') \
                   FROM pg_stat_replication r ORDER BY r.application_name",
            )
            .await?
            .iter()
            .map(|r| {
                let lsn: Option<String> = s.get(r, 2)?;
                Ok(super::Sender {
                    name: s.get::<Option<String>>(r, 0)?.unwrap_or_default(),
                    state: s.get::<Option<String>>(r, 1)?.unwrap_or_default(),
                    replayed: lsn.as_deref().and_then(parse_lsn),
                    physical: s.get::<Option<bool>>(r, 3)?.unwrap_or(true),
                })
            })
            .collect::<Result<Vec<_>, Failure>>()?;
        Ok(DbReading {
            in_recovery: s.get(&row, 0)?,
            lsn: lsn.as_deref().and_then(parse_lsn),
            received: received.as_deref().and_then(parse_lsn),
            replayed_at: replayed_at
                .and_then(|t| jiff::SignedDuration::try_from_secs_f64(t).ok())
                .and_then(|d| jiff::Timestamp::from_duration(d).ok()),
            read_only: s.get(&row, 4)?,
            receiver: s.get(&row, 5)?,
            version: s.get(&row, 6)?,
            sessions: s.get(&row, 7)?,
            paused: s.get(&row, 8)?,
            writing: s.get(&row, 9)?,
            system,
            subscriptions,
            senders,
            slots,
            overrides,
        })
    }

    /// Fences the database (`read_only`: `default_transaction_read_only`
    /// on for every session, every other client session ended so none
    /// keeps writing) or lifts the fence; the sessions ended. A dry run
    /// checks the role may do it and changes nothing.
    pub async fn fence(&self, db: &str, read_only: bool, dry_run: bool) -> Result<i64, Failure> {
        let s = self.open(db).await?;
        if dry_run {
            return may_fence(&s).await.map(|()| 0);
        }
        if read_only {
            s.batch("ALTER SYSTEM SET default_transaction_read_only = on")
                .await?;
        } else {
            s.batch("ALTER SYSTEM RESET default_transaction_read_only")
                .await?;
        }
        if let Err(f) = s.one("SELECT pg_reload_conf()").await {
            // Not left in postgresql.auto.conf to take effect at some later
            // reload.
            let undo = if read_only {
                "ALTER SYSTEM RESET default_transaction_read_only"
            } else {
                "ALTER SYSTEM SET default_transaction_read_only = on"
            };
            let _ = s.batch(undo).await;
            return Err(Failure {
                what: format!("{} (the setting was put back)", f.what),
                status: None,
            });
        }
        if !read_only {
            return Ok(0);
        }
        // Sessions are ended only once a new one starts read-only (the
        // server has read its configuration again): one that reconnects
        // at once cannot write.
        let start = std::time::Instant::now();
        loop {
            let fresh = self.open(db).await?;
            let row = fresh
                .one("SELECT current_setting('default_transaction_read_only') = 'on'")
                .await?;
            if fresh.get::<bool>(&row, 0)? {
                break;
            }
            if start.elapsed() >= TIMEOUT {
                return Err(Failure {
                    what: format!(
                        "{}: new sessions are not read-only {} s after the reload; no session was ended",
                        s.shown,
                        TIMEOUT.as_secs()
                    ),
                    status: None,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        end_sessions(&s).await
    }

    /// The application roles as the database has them: whether each
    /// exists and may log in, and its client sessions.
    pub async fn logins(&self, db: &str, roles: &[String]) -> Result<Vec<super::Login>, Failure> {
        let s = self.open(db).await?;
        let rows = s
            .rows(&format!(
                "SELECT r.name, p.rolcanlogin, \
                        (SELECT count(*) FROM pg_stat_activity a \
                          WHERE a.usename = r.name AND a.backend_type = 'client backend' \
                            AND a.pid <> pg_backend_pid()) \
                   FROM unnest(ARRAY[{}]::text[]) AS r(name) \
                   LEFT JOIN pg_roles p ON p.rolname = r.name ORDER BY r.name",
                literals(roles)
            ))
            .await?;
        rows.iter()
            .map(|r| {
                let can: Option<bool> = s.get(r, 1)?;
                Ok(super::Login {
                    role: s.get(r, 0)?,
                    exists: can.is_some(),
                    can_login: can.unwrap_or(false),
                    sessions: s.get(r, 2)?,
                })
            })
            .collect()
    }

    /// Locks the roles out (`ALTER ROLE … NOLOGIN`, then every session of
    /// theirs ended; how many were) or lets them log in again. A dry run
    /// checks the role may, and changes nothing.
    pub async fn lockout(
        &self,
        db: &str,
        roles: &[String],
        locked: bool,
        dry_run: bool,
    ) -> Result<i64, Failure> {
        let s = self.open(db).await?;
        may_lock(&s, roles).await?;
        if locked {
            may_lock_out(&s, roles).await?;
        }
        if dry_run {
            return Ok(0);
        }
        for role in roles {
            s.batch(&format!(
                "ALTER ROLE \"{}\" {}",
                role.replace('"', "\"\""),
                if locked { "NOLOGIN" } else { "LOGIN" }
            ))
            .await?;
        }
        if !locked {
            return Ok(0);
        }
        let version: i32 = s.get(
            &s.one("SELECT current_setting('server_version_num')::int")
                .await?,
            0,
        )?;
        // From PostgreSQL 14 the call waits (1 s at most each) until the
        // session has ended.
        let terminate = if version >= 140_000 {
            "pg_terminate_backend(pid, 1000)"
        } else {
            "pg_terminate_backend(pid)"
        };
        let row = s
            .one_within(
                &format!(
                    "SELECT count(*) FILTER (WHERE ended) FROM ( \
                       SELECT {terminate} AS ended FROM pg_stat_activity \
                        WHERE usename = ANY(ARRAY[{}]::text[]) AND pid <> pg_backend_pid()) t",
                    literals(roles)
                ),
                Duration::from_secs(120),
            )
            .await?;
        s.get(&row, 0)
    }

    /// Whether the database's host takes a TCP connection at all: a
    /// database that does not is down (or cut off); one that does but
    /// cannot be read (authentication, TLS, too many clients) is not.
    pub async fn reachable(&self, db: &str) -> Result<bool, Failure> {
        let direct = self.direct.get(db).ok_or_else(|| Failure {
            what: format!("database {db} has no direct access"),
            status: None,
        })?;
        let config: tokio_postgres::Config = direct.url.get_ref().parse().map_err(|e| Failure {
            what: format!("PostgreSQL URL {}: {e}", mask_url(direct.url.get_ref())),
            status: None,
        })?;
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "localhost".to_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        let connected = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect((host.as_str(), port)),
        )
        .await;
        Ok(matches!(connected, Ok(Ok(_))))
    }

    /// Promotes a replica and waits for the promotion to finish. A dry
    /// run checks the role may and changes nothing.
    pub async fn promote(&self, db: &str, dry_run: bool) -> Result<(), Failure> {
        let s = self.open(db).await?;
        if dry_run {
            let row = s
                .one("SELECT has_function_privilege('pg_promote(boolean, integer)', 'EXECUTE')")
                .await?;
            if !s.get::<bool>(&row, 0)? {
                return Err(Failure {
                    what: format!(
                        "{}: the role may not execute pg_promote (grant it EXECUTE on pg_promote(boolean, integer), or use a superuser)",
                        s.shown
                    ),
                    status: None,
                });
            }
            return Ok(());
        }
        let row = s
            .one_within(
                &format!("SELECT pg_promote(true, {PROMOTE_SECONDS})"),
                Duration::from_secs(u64::from(PROMOTE_SECONDS.unsigned_abs()) + 10),
            )
            .await?;
        if s.get::<bool>(&row, 0)? {
            Ok(())
        } else {
            Err(Failure {
                what: format!(
                    "{}: pg_promote did not finish within {PROMOTE_SECONDS} s (the server's log says why)",
                    s.shown
                ),
                status: None,
            })
        }
    }

    /// Disables a logical subscription (its apply worker stops; the
    /// subscription and its slot on the source stay, for a failback). A
    /// dry run checks the role may.
    pub async fn disable_subscription(
        &self,
        db: &str,
        name: &str,
        dry_run: bool,
    ) -> Result<(), Failure> {
        let s = self.open(db).await?;
        if dry_run {
            let rows = match tokio::time::timeout(
                TIMEOUT,
                s.client.query(
                    "SELECT pg_has_role(subowner, 'USAGE') FROM pg_subscription WHERE subname = $1",
                    &[&name],
                ),
            )
            .await
            {
                Ok(Ok(rows)) => rows,
                Ok(Err(e)) => return Err(s.failed(&e)),
                Err(_) => return Err(s.late()),
            };
            let may = rows.first().map(|r| s.get::<bool>(r, 0)).transpose()?;
            return match may {
                Some(true) => Ok(()),
                Some(false) => Err(Failure {
                    what: format!(
                        "{}: the role does not own subscription {name} (ALTER SUBSCRIPTION needs its owner or a superuser)",
                        s.shown
                    ),
                    status: None,
                }),
                None => Err(Failure {
                    what: format!("{}: no subscription {name}", s.shown),
                    status: None,
                }),
            };
        }
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        s.batch(&format!("ALTER SUBSCRIPTION {quoted} DISABLE"))
            .await
    }

    /// Every sequence: its name (`schema.name` quoted), last value (`None`
    /// when never used), increment, and whether the role may read it (one
    /// it may not read shows no last value either).
    pub async fn sequences(&self, db: &str) -> Result<Vec<super::Sequence>, Failure> {
        let s = self.open(db).await?;
        let rows = s
            .rows(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value, \
                        increment_by, \
                        has_sequence_privilege(quote_ident(schemaname) || '.' || quote_ident(sequencename), 'SELECT') \
                   FROM pg_sequences ORDER BY 1",
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(super::Sequence {
                    name: s.get(r, 0)?,
                    last: s.get(r, 1)?,
                    increment: s.get(r, 2)?,
                    readable: s.get(r, 3)?,
                })
            })
            .collect()
    }

    /// Each sequence with the column that owns it and the highest value
    /// in use there (one `max()` per owned sequence).
    pub async fn sequence_highs(&self, db: &str) -> Result<Vec<super::SequenceHigh>, Failure> {
        let s = self.open(db).await?;
        let rows = s
            .rows(
                "SELECT quote_ident(sn.nspname) || '.' || quote_ident(q.relname), \
                        quote_ident(tn.nspname) || '.' || quote_ident(t.relname), \
                        quote_ident(a.attname) \
                   FROM pg_class q JOIN pg_namespace sn ON sn.oid = q.relnamespace \
                   LEFT JOIN pg_depend d ON d.objid = q.oid \
                        AND d.classid = 'pg_class'::regclass \
                        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
                   LEFT JOIN pg_class t ON t.oid = d.refobjid \
                   LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace \
                   LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
                  WHERE q.relkind = 'S' AND sn.nspname NOT IN ('pg_catalog', 'information_schema') \
                    AND NOT pg_is_other_temp_schema(sn.oid) \
                  ORDER BY 1",
            )
            .await?;
        let mut highs = Vec::new();
        for r in &rows {
            let name: String = s.get(r, 0)?;
            let table: Option<String> = s.get(r, 1)?;
            let column: Option<String> = s.get(r, 2)?;
            let (owner, high) = match (table, column) {
                (Some(t), Some(c)) => {
                    // Both quoted by quote_ident above.
                    let row = s
                        .one_within(
                            &format!("SELECT max({c})::bigint FROM {t}"),
                            Duration::from_secs(120),
                        )
                        .await?;
                    (Some(format!("{t}.{c}")), s.get::<Option<i64>>(&row, 0)?)
                }
                _ => (None, None),
            };
            highs.push(super::SequenceHigh { name, owner, high });
        }
        Ok(highs)
    }

    /// Sets each sequence's last value (`setval(seq, value, true)`: the
    /// next value is past it). A dry run checks the role may update each.
    pub async fn set_sequences(
        &self,
        db: &str,
        values: &[(String, i64)],
        dry_run: bool,
    ) -> Result<(), Failure> {
        let s = self.open(db).await?;
        for (seq, value) in values {
            let sql = if dry_run {
                "SELECT has_sequence_privilege($1::text, 'UPDATE')::text, $2::bigint"
            } else {
                "SELECT setval($1::text::regclass, $2::bigint, true)::text, $2::bigint"
            };
            let row =
                match tokio::time::timeout(TIMEOUT, s.client.query_one(sql, &[seq, value])).await {
                    Ok(Ok(row)) => row,
                    Ok(Err(e)) => return Err(s.failed(&e)),
                    Err(_) => return Err(s.late()),
                };
            if dry_run && s.get::<String>(&row, 0)? != "true" {
                return Err(Failure {
                    what: format!("{}: the role may not update sequence {seq}", s.shown),
                    status: None,
                });
            }
        }
        Ok(())
    }

    /// Proves the database takes writes, in a new session: a transaction
    /// that takes a transaction id and creates a temporary table (refused
    /// in recovery and in a read-only transaction), committed; no table of
    /// the database's own is touched.
    pub async fn write_check(&self, db: &str) -> Result<(), Failure> {
        let s = self.open(db).await?;
        s.batch(
            "BEGIN; CREATE TEMPORARY TABLE touban_write_check (x int) ON COMMIT DROP; \
             SELECT txid_current(); COMMIT",
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_read_as_postgresql_writes_them() {
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(lsn_text(0x16_B374_D848), "16/B374D848");
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("nope"), None);
        assert_eq!(parse_lsn("1FFFFFFFF/0"), None);
    }
}
