//! The sandbox: a simulated two-region platform on loopback, speaking the
//! real protocols so that the real clients (kubectl, kube-rs) work against
//! it unchanged. It knows nothing of the app or the UI.
//!
//! So far it serves one Kubernetes API server per cluster (`eks-tokyo`,
//! `aks-korea`) with the seed's world and the controllers that make it
//! behave. Metrics, Alertmanager, CloudWatch and scenarios come next.

pub mod api;
pub mod controller;
mod defaults;
mod discovery;
pub mod error;
mod hpa;
mod patch;
pub mod resource;
pub mod select;
pub mod store;
mod tls;
mod watch;
pub mod world;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use api::{ClusterApi, User};
use controller::{Clock, Controllers};
use store::Store;
use world::ClusterShape;

/// How to build the world.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Seed of every generated name and uid: the same seed, the same world.
    pub seed: u64,
    /// About this many pods per cluster (filler namespaces make up the rest).
    pub pods: usize,
    /// How much faster than real time the world runs.
    pub speed: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            seed: 1,
            pods: 0,
            speed: 1.0,
        }
    }
}

/// One simulated cluster, serving.
pub struct Cluster {
    /// Its name and kube context (`eks-tokyo`).
    pub name: &'static str,
    /// The region it is in, as the example config names it.
    pub region: &'static str,
    /// The API server's URL (`https://127.0.0.1:PORT`).
    pub url: String,
    /// Its store, for tests that look behind the API.
    pub store: Arc<Store>,
}

/// The running sandbox. Dropping it stops the controllers; the servers
/// stop with the runtime they were started on.
pub struct Sandbox {
    /// The clusters.
    pub clusters: Vec<Cluster>,
    /// Token of the operator user (reads and writes).
    pub operator_token: String,
    /// Token of the read-only user.
    pub viewer_token: String,
    /// The CA that signed the servers' certificate, in PEM.
    pub ca_pem: String,
    stop: Arc<AtomicBool>,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

/// The operator user's name.
pub const OPERATOR: &str = "touban-operator";
/// The read-only user's name.
pub const VIEWER: &str = "touban-viewer";

impl Sandbox {
    /// Builds the world and starts serving it on free loopback ports.
    pub async fn start(options: Options) -> std::io::Result<Sandbox> {
        let operator_token = format!(
            "operator-{:016x}",
            options.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        let viewer_token = format!(
            "viewer-{:016x}",
            options.seed.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
        );
        let tokens: HashMap<String, User> = [
            (
                operator_token.clone(),
                User {
                    name: OPERATOR.into(),
                    read_only: false,
                },
            ),
            (
                viewer_token.clone(),
                User {
                    name: VIEWER.into(),
                    read_only: true,
                },
            ),
        ]
        .into_iter()
        .collect();
        // ring, the provider kube-rs uses: one process-wide choice, made once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = tls::Tls::generate().map_err(std::io::Error::other)?;
        let tls_config = axum_server::tls_rustls::RustlsConfig::from_pem(
            tls.cert_pem.clone().into_bytes(),
            tls.key_pem.clone().into_bytes(),
        )
        .await?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut clusters = Vec::new();
        let mut servers = Vec::new();
        for (i, (shape, region)) in [
            (ClusterShape::EksTokyo, "tokyo"),
            (ClusterShape::AksKorea, "korea"),
        ]
        .into_iter()
        .enumerate()
        {
            let store = Arc::new(Store::new(options.seed.wrapping_add(i as u64)));
            world::seed(&store, shape, options.pods);
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
            listener.set_nonblocking(true)?;
            let url = format!("https://{}", listener.local_addr()?);
            let router = api::router(Arc::new(ClusterApi {
                store: store.clone(),
                tokens: tokens.clone(),
            }));
            let server = axum_server::from_tcp_rustls(listener, tls_config.clone())?;
            servers.push(tokio::spawn(async move {
                if let Err(e) = server.serve(router.into_make_service()).await {
                    tracing::error!("sandbox API server stopped: {e}");
                }
            }));
            spawn_controllers(
                shape.name(),
                store.clone(),
                Clock::new(options.speed),
                stop.clone(),
            )?;
            clusters.push(Cluster {
                name: shape.name(),
                region,
                url,
                store,
            });
        }
        Ok(Sandbox {
            clusters,
            operator_token,
            viewer_token,
            ca_pem: tls.ca_pem,
            stop,
            servers,
        })
    }

    /// The kubeconfig: a context per cluster for the operator, and a
    /// `-readonly` context per cluster for the viewer.
    pub fn kubeconfig(&self) -> String {
        use base64::Engine as _;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        let mut y = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
        for c in &self.clusters {
            let _ = write!(
                y,
                "- name: {}\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\n",
                c.name, c.url
            );
        }
        y.push_str("contexts:\n");
        for c in &self.clusters {
            for (suffix, user) in [("", OPERATOR), ("-readonly", VIEWER)] {
                let _ = write!(
                    y,
                    "- name: {}{suffix}\n  context:\n    cluster: {}\n    user: {user}\n    namespace: {}\n",
                    c.name,
                    c.name,
                    world::NAMESPACE
                );
            }
        }
        let _ = write!(
            y,
            "users:\n- name: {OPERATOR}\n  user:\n    token: {}\n- name: {VIEWER}\n  user:\n    token: {}\ncurrent-context: {}\n",
            self.operator_token,
            self.viewer_token,
            self.clusters.first().map_or("", |c| c.name)
        );
        y
    }

    /// A touban config for the console, pointing at this sandbox.
    pub fn console_config(&self, kubeconfig: &Path) -> String {
        let mut t = String::from(
            "# Written by `touban sandbox`: the console on the simulated platform.\n\
             environment = \"sandbox\"\n\n\
             [[regions]]\nname = \"tokyo\"\ndisplay = \"Tokyo\"\nrole = \"primary\"\ntime_zone = \"Asia/Tokyo\"\nlocation = \"sandbox eks-tokyo\"\n\n\
             [[regions]]\nname = \"korea\"\ndisplay = \"Seoul\"\nrole = \"dr\"\ntime_zone = \"Asia/Seoul\"\nlocation = \"sandbox aks-korea\"\n",
        );
        for c in &self.clusters {
            let _ = write!(
                t,
                "\n[[clusters]]\nname = \"{0}\"\nregion = \"{1}\"\ncontext = \"{0}\"\nkubeconfig = \"{2}\"\nnamespaces = [\"{3}\"]\n",
                c.name,
                c.region,
                kubeconfig.display(),
                world::NAMESPACE
            );
            if c.name == "aks-korea" {
                t.push_str(
                    "node_groups = [\n    { name = \"general\", min = 2, max = 10, desired = 3 },\n    \
                     { name = \"compute-optimized\", min = 0, max = 5, desired = 1 },\n]\n",
                );
            }
            if c.name == "eks-tokyo" {
                t.push_str(
                    "node_groups = [\n    { name = \"general\", min = 3, max = 20, desired = 6 },\n    \
                     { name = \"compute-optimized\", min = 0, max = 10, desired = 2 },\n    \
                     { name = \"memory-optimized\", min = 0, max = 5, desired = 1 },\n]\n",
                );
            }
        }
        t
    }

    /// Writes `kubeconfig` and `config.toml` into `dir`; returns their paths.
    pub fn write_config(&self, dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, self.kubeconfig())?;
        let config = dir.join("config.toml");
        std::fs::write(&config, self.console_config(&kubeconfig))?;
        Ok((kubeconfig, config))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for s in &self.servers {
            s.abort();
        }
    }
}

/// Runs a cluster's controllers on a thread of their own: they are
/// CPU-bound at 10,000 pods and must not stall the servers' runtime.
fn spawn_controllers(
    name: &str,
    store: Arc<Store>,
    clock: Clock,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let mut controllers = Controllers::new(store, clock);
    std::thread::Builder::new()
        .name(format!("sandbox-{name}"))
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                controllers.pass();
                std::thread::sleep(Duration::from_millis(100));
            }
        })?;
    Ok(())
}
