//! PostgreSQL read directly (tokio-postgres): role, version, uptime,
//! connections, cache hits, the longest transaction, and replication from
//! either side. The connection is made by touban (TCP with a deadline,
//! under a byte budget, TLS as the URL's `sslmode` says, the server always
//! verified) and dropped whole after any failure or timeout, so a backend
//! that hangs is left behind rather than waited on forever.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::AbortHandle;
use tokio_postgres::config::Host;

use crate::config::platform::Direct;
use crate::config::secret::mask_url;
use crate::model::data::{DbStatus, ReplicaLink};

use super::super::budget::Budget;
use super::read_secret;

/// A connection to one database, kept between polls.
#[derive(Default)]
pub(super) struct Session {
    client: Option<tokio_postgres::Client>,
    /// The task driving the connection, aborted when the session ends.
    driver: Option<AbortHandle>,
}

impl Session {
    /// Forgets the connection (and stops its task).
    pub(super) fn reset(&mut self) {
        self.client = None;
        if let Some(d) = self.driver.take() {
            d.abort();
        }
    }

    /// Reads the database, connecting first if need be.
    pub(super) async fn read(
        &mut self,
        direct: &Direct,
        timeout: Duration,
        cap: u64,
    ) -> Result<DbStatus, String> {
        if self
            .client
            .as_ref()
            .is_none_or(tokio_postgres::Client::is_closed)
        {
            self.reset();
            let (client, driver) = connect(direct, timeout, cap).await?;
            self.client = Some(client);
            self.driver = Some(driver);
        }
        let Some(client) = &self.client else {
            return Err("no connection".into());
        };
        status(client).await
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.reset();
    }
}

/// Seconds from the server as a duration; absurd values (infinite, NaN,
/// beyond a `Duration`) are not a duration at all.
fn secs(v: Option<f64>) -> Option<Duration> {
    v.filter(|s| s.is_finite())
        .and_then(|s| Duration::try_from_secs_f64(s.max(0.0)).ok())
}

async fn status(client: &tokio_postgres::Client) -> Result<DbStatus, String> {
    let q = |e: tokio_postgres::Error| {
        format!(
            "PostgreSQL: {}",
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned())
        )
    };
    let row = client
        .query_one(
            "SELECT pg_is_in_recovery(), current_setting('server_version'), \
             extract(epoch FROM now() - pg_postmaster_start_time())::float8, \
             (SELECT count(*) FROM pg_stat_activity)::float8, \
             current_setting('max_connections')::float8, \
             (SELECT sum(blks_hit)::float8 / nullif(sum(blks_hit) + sum(blks_read), 0) FROM pg_stat_database), \
             (SELECT extract(epoch FROM max(now() - xact_start))::float8 FROM pg_stat_activity \
              WHERE xact_start IS NOT NULL AND state <> 'idle' AND pid <> pg_backend_pid()), \
             (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
            &[],
        )
        .await
        .map_err(q)?;
    let replica: bool = row.get(0);
    let mut d = DbStatus {
        via: "direct",
        up: true,
        role: Some(if replica { "replica" } else { "primary" }.to_owned()),
        version: Some(row.get(1)),
        uptime: secs(row.get(2)),
        connections: Some((row.get(3), row.get(4))),
        cache_hit: row.get(5),
        longest_transaction: secs(row.get(6)),
        tls: row.get(7),
        ..DbStatus::default()
    };
    if replica {
        let r = client
            .query_one(
                "SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, \
                 CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 \
                 ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END, \
                 (SELECT status FROM pg_stat_wal_receiver), pg_is_wal_replay_paused()",
                &[],
            )
            .await
            .map_err(q)?;
        let received: Option<String> = r.get(0);
        let replayed: Option<String> = r.get(1);
        d.lsn = Some((received.unwrap_or_default(), replayed.unwrap_or_default()));
        d.replay_lag = r
            .get::<_, Option<f64>>(2)
            .filter(|l| l.is_finite())
            .map(|l| l.max(0.0));
        d.wal_receiver = r.get(3);
        d.replay_paused = r.get(4);
    } else {
        // At most a hundred replicas: a primary listing more is not one
        // touban can show anyway, and the list is bounded.
        let rows = client
            .query(
                "SELECT coalesce(application_name, ''), coalesce(client_addr::text, 'local'), coalesce(state, ''), \
                 pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8, \
                 extract(epoch FROM replay_lag)::float8 FROM pg_stat_replication LIMIT 100",
                &[],
            )
            .await
            .map_err(q)?;
        d.replicas = rows
            .iter()
            .map(|r| {
                let app: String = r.get(0);
                let addr: String = r.get(1);
                ReplicaLink {
                    name: if app.is_empty() {
                        addr
                    } else {
                        format!("{app} ({addr})")
                    },
                    state: r.get(2),
                    lag_bytes: r.get::<_, Option<f64>>(3).filter(|v| v.is_finite()),
                    lag_seconds: r.get::<_, Option<f64>>(4).filter(|v| v.is_finite()),
                }
            })
            .collect();
    }
    Ok(d)
}

/// Connects with the DSN and the password from its reference: TCP within
/// `timeout`, every answer under `cap` bytes. Errors name the host, never
/// the password. The executor connects the same way.
pub(crate) async fn connect(
    direct: &Direct,
    timeout: Duration,
    cap: u64,
) -> Result<(tokio_postgres::Client, AbortHandle), String> {
    let url = direct.url.get_ref();
    let shown = mask_url(url);
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| format!("PostgreSQL URL {shown}: {e}"))?;
    if let Some(secret) = &direct.password {
        config.password(read_secret(secret.get_ref())?);
    }
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(_)) => {
            return Err(format!(
                "{shown}: a Unix socket cannot be read directly; give a TCP host"
            ));
        }
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let tcp = tokio::time::timeout(timeout, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| {
            format!(
                "cannot connect to {shown}: no answer within {} s",
                timeout.as_secs()
            )
        })?
        .map_err(|e| format!("cannot connect to {shown}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let stream = Budget::new(tcp, cap, "PostgreSQL");
    let mut make =
        tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(direct.ca_file.as_deref())?);
    let tls = tokio_postgres::tls::MakeTlsConnect::<Budget<TcpStream>>::make_tls_connect(
        &mut make, &host,
    )
    .map_err(|e| format!("{shown}: TLS: {e}"))?;
    let (client, connection) = tokio::time::timeout(timeout, config.connect_raw(stream, tls))
        .await
        .map_err(|_| {
            format!(
                "cannot connect to {shown}: no answer within {} s",
                timeout.as_secs()
            )
        })?
        .map_err(|e| {
            format!(
                "cannot connect to {shown}: {}",
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned())
            )
        })?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("PostgreSQL connection ended: {e}");
        }
    });
    Ok((client, driver.abort_handle()))
}

/// TLS for PostgreSQL: the system's CA certificates and those of
/// `ca_file`; the server's certificate is always verified.
fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("CA file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("CA file {}: {e}", path.display()))?;
        }
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_seconds_are_no_duration() {
        assert_eq!(secs(Some(f64::INFINITY)), None);
        assert_eq!(secs(Some(f64::NAN)), None);
        assert_eq!(secs(Some(1e300)), None);
        assert_eq!(secs(Some(-5.0)), Some(Duration::ZERO));
        assert_eq!(secs(Some(1.5)), Some(Duration::from_millis(1500)));
    }
}
