//! Connecting to a cluster: its kubeconfig context, and a kubeconfig
//! `exec` credential plugin run by touban itself (kube-client runs it
//! synchronously on a runtime worker, with the operator's terminal, and
//! puts its command line and environment in its errors). Here the plugin
//! runs as a child of its own: no terminal (stdin closed, stderr to the
//! log, `interactive` false, its own process group, so it cannot read the
//! operator's keys), killed with its children after a deadline, and only
//! its name and exit status reach the screen. kube is then handed the
//! credential it returned.

use std::process::Stdio;

use base64::Engine as _;
use std::time::{Duration, SystemTime};

use kube::Client;
use kube::config::{ExecConfig, KubeConfigOptions, Kubeconfig};
use serde::Deserialize;

use crate::config::platform::Cluster;

/// How long a credential plugin may take (`aws eks get-token` takes a
/// second or two; a browser sign-in would take longer, and has no
/// terminal to happen in anyway).
pub(super) const EXEC_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a connection to the API server may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A cluster connected: a client for watches and reads, another (its own
/// connection pool) for the liveness probe, and when the credential
/// expires, if it does.
pub(crate) struct Connection {
    pub(crate) client: Client,
    pub(crate) probe: Client,
    pub(crate) expires: Option<SystemTime>,
    /// The API server's URL.
    pub(crate) server: String,
}

/// Connects to the cluster's kube context. Messages name the file, the
/// context and the plugin, never a credential.
pub(crate) async fn connect(
    cluster: &Cluster,
    read_timeout: Duration,
) -> Result<Connection, String> {
    // The one TLS provider this build has, whoever connects first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = match &cluster.kubeconfig {
        Some(path) => {
            let text = crate::config::read(path).map_err(|e| format!("kubeconfig: {e}"))?;
            Kubeconfig::from_yaml(&text)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?
        }
        None => Kubeconfig::read().map_err(|e| {
            format!("cannot read the kubeconfig ($KUBECONFIG or ~/.kube/config): {e}")
        })?,
    };
    let options = KubeConfigOptions {
        context: Some(cluster.context.clone()),
        ..KubeConfigOptions::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| format!("kube context `{}`: {e}", cluster.context))?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(read_timeout);
    let mut expires = None;
    if let Some(exec) = config.auth_info.exec.take() {
        let credential = run_plugin(&exec, EXEC_TIMEOUT).await?;
        let b64 = base64::engine::general_purpose::STANDARD;
        match (
            credential.client_certificate_data,
            credential.client_key_data,
            credential.token,
        ) {
            (Some(cert), Some(key), _) => {
                config.auth_info.client_certificate_data = Some(b64.encode(cert));
                config.auth_info.client_key_data = Some(b64.encode(key).into());
            }
            (_, _, Some(token)) => config.auth_info.token = Some(token.into()),
            _ => {
                return Err(format!(
                    "kube exec plugin `{}` returned neither a token nor a client certificate",
                    plugin_name(&exec)
                ));
            }
        }
        expires = credential
            .expiration_timestamp
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .and_then(|t| SystemTime::try_from(t).ok());
    }
    let made = |c: kube::Config| {
        Client::try_from(c).map_err(|e| {
            format!(
                "cannot make a client for kube context `{}`: {e}",
                cluster.context
            )
        })
    };
    Ok(Connection {
        server: config.cluster_url.to_string(),
        client: made(config.clone())?,
        probe: made(config)?,
        expires,
    })
}

/// What a plugin prints: an `ExecCredential`.
#[derive(Deserialize)]
struct ExecCredential {
    status: Option<Credential>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credential {
    token: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
    expiration_timestamp: Option<String>,
}

/// The plugin's program, without its directory: what messages name.
fn plugin_name(exec: &ExecConfig) -> String {
    let program = exec.command.as_deref().unwrap_or("(none)");
    std::path::Path::new(program)
        .file_name()
        .map_or_else(|| program.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Runs a credential plugin under the ExecCredential protocol.
async fn run_plugin(exec: &ExecConfig, timeout: Duration) -> Result<Credential, String> {
    let name = plugin_name(exec);
    let Some(program) = exec.command.as_deref() else {
        return Err("the kubeconfig's exec section names no command".into());
    };
    let api_version = exec
        .api_version
        .as_deref()
        .unwrap_or("client.authentication.k8s.io/v1");
    let mut spec = serde_json::json!({ "interactive": false });
    if exec.provide_cluster_info
        && let Some(cluster) = &exec.cluster
        && let Ok(c) = serde_json::to_value(cluster)
    {
        spec["cluster"] = c;
    }
    let info = serde_json::json!({
        "apiVersion": api_version,
        "kind": "ExecCredential",
        "spec": spec,
    });
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(exec.args.iter().flatten())
        .env("KUBERNETES_EXEC_INFO", info.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group: never the terminal's foreground job.
        .process_group(0);
    for pair in exec.env.iter().flatten() {
        if let (Some(k), Some(v)) = (pair.get("name"), pair.get("value")) {
            cmd.env(k, v);
        }
    }
    for var in exec.drop_env.iter().flatten() {
        cmd.env_remove(var);
    }
    let child = cmd.spawn().map_err(|e| {
        let hint = exec
            .install_hint
            .as_deref()
            .map(|h| format!(": {}", h.lines().next().unwrap_or("")))
            .unwrap_or_default();
        format!("cannot run kube exec plugin `{name}` ({e}){hint}")
    })?;
    let mut child = child;
    let pid = child.id();
    // Its stderr goes to the log as it comes, a line at a time (and at
    // most a hundred), whether it ends, fails or hangs.
    if let Some(stderr) = child.stderr.take() {
        let plugin = name.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt as _;
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            let mut told = 0;
            while let Ok(Some(line)) = lines.next_line().await {
                if told < 100 && !line.trim().is_empty() {
                    tracing::info!(plugin = %plugin, "exec plugin said: {line}");
                    told += 1;
                }
            }
        });
    }
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(format!("kube exec plugin `{name}`: {e}")),
        Err(_) => {
            // The child is killed as it is dropped; its own children too.
            if let Some(group) = pid
                .and_then(|p| i32::try_from(p).ok())
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
            }
            return Err(format!(
                "kube exec plugin `{name}` gave no credential within {} s: killed",
                timeout.as_secs()
            ));
        }
    };
    if !output.status.success() {
        return Err(format!(
            "kube exec plugin `{name}` failed ({}); its messages are in the log",
            output.status
        ));
    }
    serde_json::from_slice::<ExecCredential>(&output.stdout)
        .map_err(|e| format!("kube exec plugin `{name}` printed no ExecCredential: {e}"))?
        .status
        .ok_or_else(|| format!("kube exec plugin `{name}` returned no status"))
}

/// Clients of the configured clusters for on-demand requests (the detail
/// view, logs), each connected when first asked for, within `within` (and
/// the credential plugin's own deadline), and again a minute before its
/// credential expires (an EKS token lasts a quarter of an hour).
pub(super) struct OnDemand {
    clusters: std::collections::HashMap<String, Cluster>,
    clients: std::collections::HashMap<String, (Client, Option<SystemTime>)>,
    within: Duration,
    read_timeout: Duration,
}

impl OnDemand {
    /// For every cluster of the platform; each socket read of an answer
    /// may wait `read_timeout` (a followed log of a quiet pod waits long).
    pub(super) fn new(
        platform: &crate::config::Platform,
        within: Duration,
        read_timeout: Duration,
    ) -> OnDemand {
        OnDemand {
            clusters: platform
                .clusters
                .iter()
                .map(|c| (c.name.get_ref().clone(), c.clone()))
                .collect(),
            clients: std::collections::HashMap::new(),
            within,
            read_timeout,
        }
    }

    /// The client of `cluster`, connecting it the first time and when its
    /// credential is about to expire; what failed, said about `what`,
    /// otherwise.
    pub(super) async fn client(
        &mut self,
        cluster: &str,
        what: &(dyn std::fmt::Display + Sync),
    ) -> Result<Client, String> {
        let fresh = |expires: &Option<SystemTime>| {
            expires.is_none_or(|e| SystemTime::now() + Duration::from_secs(60) < e)
        };
        if let Some((c, expires)) = self.clients.get(cluster)
            && fresh(expires)
        {
            return Ok(c.clone());
        }
        let Some(config) = self.clusters.get(cluster) else {
            return Err(format!("no cluster `{cluster}` is configured"));
        };
        let connected = tokio::time::timeout(
            EXEC_TIMEOUT + self.within,
            connect(config, self.read_timeout),
        )
        .await
        .unwrap_or_else(|_| Err(format!("{what}: cannot connect in time")))?;
        self.clients.insert(
            cluster.to_owned(),
            (connected.client.clone(), connected.expires),
        );
        Ok(connected.client)
    }
}
