//! The sandbox: a simulated two-region platform on loopback, speaking the
//! real protocols so that the real clients (kubectl, kube-rs, Prometheus,
//! curl) work against it unchanged. It knows nothing of the app or the UI.
//!
//! Per cluster (`eks-tokyo`, `aks-korea`) a Kubernetes API server over TLS
//! with the seed's world and the controllers that make it behave; per
//! region the Prometheus endpoints of the services, postgres_exporter,
//! redis_exporter and node_exporter, and an Alertmanager fed by the seed's
//! alert rules; all driven by a deterministic scenario on a clock that
//! `speed` hurries.

pub mod alertmanager;
pub mod alerts;
pub mod api;
pub mod apply;
pub mod azure;
pub mod cloudflare;
pub mod cloudwatch;
pub mod controller;
mod defaults;
mod discovery;
pub mod elasticache;
pub mod error;
mod hpa;
pub mod logs;
pub mod metrics;
pub mod nodepools;
mod patch;
pub mod prometheus;
mod query;
pub mod rds;
pub mod resource;
pub mod scenario;
pub mod select;
pub mod sim;
pub mod store;
pub mod table;
pub mod tls;
mod watch;
pub mod world;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::{ClusterApi, User};
use controller::{Clock, Controllers};
use metrics::{Endpoint, Target};
use resource::Resource;
pub use scenario::Scenario;
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
    /// What happens.
    pub scenario: Scenario,
    /// How a scenario's API outage fails: a black hole or a dead server.
    pub outage: api::Outage,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            seed: 1,
            pods: 0,
            speed: 1.0,
            outage: api::Outage::BlackHole,
            scenario: Scenario::default(),
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
    api: Arc<ClusterApi>,
}

/// The running sandbox. Dropping it stops the controllers and the
/// simulation; the servers stop with the runtime they were started on.
pub struct Sandbox {
    /// The clusters.
    pub clusters: Vec<Cluster>,
    /// Prometheus scrape targets.
    pub endpoints: Vec<Endpoint>,
    /// Alertmanagers: region and URL.
    pub alertmanagers: Vec<(&'static str, String)>,
    /// Prometheus (rules and alerts API): region and URL.
    pub prometheus: Vec<(&'static str, String)>,
    /// CloudWatch (ap-northeast-1), `http://127.0.0.1:PORT`.
    pub cloudwatch: String,
    /// Cloudflare's API v4 (load-balancer pools), `http://127.0.0.1:PORT/client/v4`.
    pub cloudflare: String,
    /// The API token Cloudflare accepts (random at each start).
    pub cloudflare_token: String,
    /// Cloudflare's state, for tests that slow it down.
    pub cloudflare_api: Arc<cloudflare::Cloudflare>,
    /// Azure Resource Manager's base URL (its flexible server is Korea's
    /// database).
    pub azure: String,
    /// The bearer token it takes (random at each start).
    pub azure_token: String,
    /// Its state, for tests (how many promotions were sent; slowed
    /// answers).
    pub azure_api: Arc<azure::Azure>,
    /// RDS's Query API (ap-northeast-1), `http://127.0.0.1:PORT`: the
    /// Tokyo database's Multi-AZ failover and its read replica.
    pub rds: String,
    /// Its state, for tests.
    pub rds_api: Arc<rds::Rds>,
    /// ElastiCache's Query API (ap-northeast-1), `http://127.0.0.1:PORT`:
    /// the Tokyo cache's test failover.
    pub elasticache: String,
    /// Its state, for tests.
    pub elasticache_api: Arc<elasticache::ElastiCache>,
    /// EKS's REST API (ap-northeast-1), `http://127.0.0.1:PORT`: Tokyo's
    /// managed node groups. Korea's agent pools are on [`Sandbox::azure`].
    pub eks: String,
    /// Both clusters' node groups, for tests.
    pub node_pools: Arc<nodepools::NodePools>,
    /// Token of the operator user (reads and writes).
    pub operator_token: String,
    /// Token of the read-only user.
    pub viewer_token: String,
    /// The CA that signed the servers' certificate, in PEM.
    pub ca_pem: String,
    /// The simulation, for tests that look behind the endpoints.
    pub sim: Arc<Mutex<sim::Sim>>,
    /// The alerting state, likewise.
    pub alerting: Arc<Mutex<alerts::Alerting>>,
    stop: Arc<AtomicBool>,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

/// The file, beside the kubeconfig, holding the Cloudflare API token.
pub const CLOUDFLARE_TOKEN_FILE: &str = "cloudflare-token";
/// The file beside the kubeconfig holding the sandbox's Azure token.
pub const AZURE_TOKEN_FILE: &str = "azure-token";

/// The operator user's name.
pub const OPERATOR: &str = "touban-operator";
/// The read-only user's name.
pub const VIEWER: &str = "touban-viewer";

/// Serves one cluster's API on `listener` until the sandbox stops. A dead
/// server closes its listener (connections refused) and cuts every open
/// connection; when it comes back it listens on the same address again.
async fn serve_api(
    listener: std::net::TcpListener,
    tls: axum_server::tls_rustls::RustlsConfig,
    router: axum::Router,
    mut outage: tokio::sync::watch::Receiver<api::Outage>,
) {
    let Ok(addr) = listener.local_addr() else {
        return;
    };
    let mut listener = Some(listener);
    loop {
        let l = match listener.take() {
            Some(l) => l,
            None => loop {
                if let Ok(l) = std::net::TcpListener::bind(addr)
                    && l.set_nonblocking(true).is_ok()
                {
                    break l;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            },
        };
        let Ok(server) = axum_server::from_tcp_rustls(l, tls.clone()) else {
            return;
        };
        let handle = axum_server::Handle::new();
        let serving = server
            .handle(handle.clone())
            .serve(router.clone().into_make_service());
        tokio::select! {
            result = serving => {
                if let Err(e) = result {
                    tracing::error!("sandbox API server stopped: {e}");
                }
                return;
            }
            dead = outage.wait_for(|o| *o == api::Outage::Dead) => {
                if dead.is_err() {
                    return;
                }
                handle.shutdown();
            }
        }
        if outage.wait_for(|o| *o != api::Outage::Dead).await.is_err() {
            return;
        }
    }
}

async fn serve_http(
    router: axum::Router,
    servers: &mut Vec<tokio::task::JoinHandle<()>>,
) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}", listener.local_addr()?);
    servers.push(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!("sandbox server stopped: {e}");
        }
    }));
    Ok(url)
}

impl Sandbox {
    /// Builds the world and starts serving it on free loopback ports.
    #[allow(clippy::too_many_lines)] // one story: every server of the world, started in turn
    pub async fn start(options: Options) -> std::io::Result<Sandbox> {
        let (operator_token, viewer_token, tokens) = tokens();
        // ring, the provider kube-rs uses: one process-wide choice, made once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = tls::Tls::generate().map_err(std::io::Error::other)?;
        let tls_config = axum_server::tls_rustls::RustlsConfig::from_pem(
            tls.cert_pem.clone().into_bytes(),
            tls.key_pem.clone().into_bytes(),
        )
        .await?;
        let stop = Arc::new(AtomicBool::new(false));
        let clock = Clock::new(options.speed);
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
            // The world as it stands after a while, before anyone watches:
            // pods running, their events in the past.
            let mut controllers = Controllers::new(store.clone(), clock, options.scenario, i == 0);
            controllers.settle();
            store.backdate(world::age_of);
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
            listener.set_nonblocking(true)?;
            let url = format!("https://{}", listener.local_addr()?);
            let api = Arc::new(ClusterApi {
                store: store.clone(),
                tokens: tokens.clone(),
                outage: tokio::sync::watch::channel(api::Outage::None).0,
                failing: std::sync::atomic::AtomicU16::new(0),
            });
            servers.push(tokio::spawn(serve_api(
                listener,
                tls_config.clone(),
                api::router(api.clone()),
                api.outage.subscribe(),
            )));
            spawn_loop(
                &format!("sandbox-{}", shape.name()),
                stop.clone(),
                Duration::from_millis(100),
                controllers,
                Controllers::pass,
            )?;
            clusters.push(Cluster {
                name: shape.name(),
                region,
                url,
                store,
                api,
            });
        }

        let nodes = [nodes_of(&clusters[0].store), nodes_of(&clusters[1].store)];
        let sim = Arc::new(Mutex::new(sim::Sim::new(options.scenario, nodes)));
        let alerting = Arc::new(Mutex::new(alerts::Alerting::default()));
        let endpoints = start_endpoints(&sim, &mut servers).await?;
        let cf = start_cloudflare(&sim, &mut servers).await?;
        let stores = [clusters[0].store.clone(), clusters[1].store.clone()];
        let (arm, node_pools) = start_azure(&sim, clock, stores, &stop, &mut servers).await?;
        let eks = serve_http(nodepools::eks_router(node_pools.clone()), &mut servers).await?;
        let rds_api = Arc::new(rds::Rds::new(clock));
        let rds = serve_http(rds::router(rds_api.clone()), &mut servers).await?;
        let elasticache_api = Arc::new(elasticache::ElastiCache::new(clock));
        let elasticache =
            serve_http(elasticache::router(elasticache_api.clone()), &mut servers).await?;
        let AlertEndpoints {
            alertmanagers,
            prometheus,
            cloudwatch,
        } = start_alerting(&alerting, clock, options, &mut servers).await?;
        let world = World {
            clock,
            sim: sim.clone(),
            alerting: alerting.clone(),
            stores: clusters.iter().map(|c| c.store.clone()).collect(),
            restarts: vec![(0, Vec::new()); clusters.len()],
            tokyo_api_down: false,
            outage: options.outage,
            apis: clusters.iter().map(|c| c.api.clone()).collect(),
        };
        spawn_loop(
            "sandbox-sim",
            stop.clone(),
            Duration::from_millis(200),
            world,
            World::tick,
        )?;
        Ok(Sandbox {
            clusters,
            endpoints,
            alertmanagers,
            prometheus,
            cloudwatch,
            cloudflare: cf.0,
            cloudflare_token: cf.1,
            cloudflare_api: cf.2,
            azure: arm.0,
            azure_token: arm.1,
            azure_api: arm.2,
            rds,
            rds_api,
            elasticache,
            elasticache_api,
            eks,
            node_pools,
            operator_token,
            viewer_token,
            ca_pem: tls.ca_pem,
            sim,
            alerting,
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

    /// Makes a cluster's API stop answering (a black hole: requests hang,
    /// open watches carry nothing), or answer again.
    pub fn set_api_down(&self, cluster: &str, down: bool) {
        let outage = if down {
            api::Outage::BlackHole
        } else {
            api::Outage::None
        };
        self.set_api_outage(cluster, outage);
    }

    /// Puts a cluster's API server in `outage` (a black hole, a dead
    /// server), or back to serving with `Outage::None`.
    pub fn set_api_outage(&self, cluster: &str, outage: api::Outage) {
        if let Some(c) = self.clusters.iter().find(|c| c.name == cluster) {
            c.api.outage.send_replace(outage);
        }
    }

    /// Makes a cluster's API answer every request with `status` (a 500,
    /// a 401, a 403), or answer normally again with `None`.
    pub fn set_api_status(&self, cluster: &str, status: Option<u16>) {
        if let Some(c) = self.clusters.iter().find(|c| c.name == cluster) {
            c.api.failing.store(status.unwrap_or(0), Ordering::SeqCst);
        }
    }

    /// The URL of a scrape target.
    pub fn endpoint(&self, region: &str, name: &str) -> Option<&str> {
        self.endpoints
            .iter()
            .find(|e| e.region == region && e.name == name)
            .map(|e| e.url.as_str())
    }

    /// A touban config for the console, pointing at this sandbox.
    pub fn console_config(&self, kubeconfig: &Path) -> String {
        let mut t = String::from(
            "# Written by touban for its sandbox: the console on the simulated platform.\n\
             environment = \"sandbox\"\nfrontend = \"web-frontend\"\n\n\
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
            t.push_str(&self.node_groups_config(c.name, kubeconfig));
        }
        for e in &self.endpoints {
            match e.job {
                "postgres_exporter" => {
                    let _ = write!(
                        t,
                        "\n[[databases]]\nname = \"{}\"\nregion = \"{}\"\nkind = \"postgres\"\nexporter = \"{}/metrics\"\n",
                        e.name, e.region, e.url
                    );
                    if e.name == azure::SERVER {
                        t.push_str(&self.azure_config(kubeconfig));
                        // Last in its [[databases]]: the table below takes
                        // the keys after it.
                        let _ = write!(
                            t,
                            "\n[[databases.consumers]]\ncluster = \"aks-korea\"\nnamespace = \"{}\"\nsecret = \"{}\"\nkey = \"DATABASE_URL\"\nhost = \"{}.postgres.database.azure.com:5432\"\nrestart = [\"backend-api-blue\", \"backend-api-green\"]\n",
                            world::NAMESPACE,
                            world::APP_SECRET,
                            azure::SERVER
                        );
                    }
                    if e.name == cloudwatch::DB {
                        t.push_str(&Self::aws_refs(
                            &e.name,
                            &[("cloudwatch", &self.cloudwatch), ("rds", &self.rds)],
                        ));
                    }
                }
                "redis_exporter" => {
                    let _ = write!(
                        t,
                        "\n[[caches]]\nname = \"{}\"\nregion = \"{}\"\nkind = \"redis\"\nexporter = \"{}/metrics\"\n",
                        e.name, e.region, e.url
                    );
                    if e.name == cloudwatch::CACHE {
                        t.push_str(&Self::aws_refs(
                            &e.name,
                            &[
                                ("cloudwatch", &self.cloudwatch),
                                ("elasticache", &self.elasticache),
                            ],
                        ));
                    }
                }
                "service" if e.name == "ai-services" => {
                    let _ = write!(
                        t,
                        "\n[[ai_services]]\nname = \"{}\"\nregion = \"{}\"\nhealth = \"{u}/health\"\nready = \"{u}/ready\"\nmetrics = \"{u}/metrics\"\n",
                        e.name,
                        e.region,
                        u = e.url
                    );
                }
                _ => {}
            }
        }
        // The sandbox has no SQL endpoint: its Korea database is the kind
        // it can serve, a read replica read through its exporter.
        t.push_str(
            "\n[[replication]]\nprimary = \"iworkz-production-postgres\"\nreplica = \"iworkz-dr-postgres\"\nkind = \"azure-replica\"\nrpo_seconds = 30\n",
        );
        for (region, url) in &self.alertmanagers {
            let _ = write!(
                t,
                "\n[[alert_sources]]\nname = \"alertmanager\"\nregion = \"{region}\"\nkind = \"alertmanager\"\nurl = \"{url}\"\n"
            );
        }
        // After the Alertmanagers, so their firing and silenced alerts are
        // the ones shown where both report an alert.
        for (region, url) in &self.prometheus {
            let _ = write!(
                t,
                "\n[[alert_sources]]\nname = \"prometheus\"\nregion = \"{region}\"\nkind = \"prometheus\"\nurl = \"{url}\"\n"
            );
        }
        t.push_str(&self.traffic_config(kubeconfig));
        let _ = write!(
            t,
            "\n[[alert_sources]]\nname = \"cloudwatch-alarms\"\nregion = \"tokyo\"\nkind = \"cloudwatch\"\naws_region = \"{}\"\nurl = \"{}\"\nanonymous = true\n",
            cloudwatch::AWS_REGION,
            self.cloudwatch
        );
        t
    }

    /// A database's or cache's references to the sandbox's AWS APIs
    /// (`cloudwatch`, `rds`, `elasticache`), unsigned.
    fn aws_refs(name: &str, apis: &[(&str, &str)]) -> String {
        let mut t = String::new();
        for (key, endpoint) in apis {
            let _ = writeln!(
                t,
                "{key} = {{ identifier = \"{name}\", aws_region = \"{}\", endpoint = \"{endpoint}\", anonymous = true }}",
                cloudwatch::AWS_REGION
            );
        }
        t
    }

    /// A cluster's `node_groups`, and the cloud API that sizes them:
    /// Tokyo's `eks`, Korea's `aks` (its token a file beside the
    /// kubeconfig).
    fn node_groups_config(&self, name: &str, kubeconfig: &Path) -> String {
        let mut t = String::new();
        let shape = if name == ClusterShape::EksTokyo.name() {
            ClusterShape::EksTokyo
        } else {
            ClusterShape::AksKorea
        };
        t.push_str("node_groups = [\n");
        for p in world::pools(shape) {
            let _ = writeln!(
                t,
                "    {{ name = \"{}\", min = {}, max = {}, desired = {} }},",
                p.name, p.min, p.max, p.count
            );
        }
        t.push_str("]\n");
        let _ = match shape {
            ClusterShape::EksTokyo => writeln!(
                t,
                "eks = {{ identifier = \"{}\", aws_region = \"{}\", endpoint = \"{}\", anonymous = true }}",
                nodepools::EKS_CLUSTER,
                cloudwatch::AWS_REGION,
                self.eks
            ),
            ClusterShape::AksKorea => writeln!(
                t,
                "aks = {{ cluster = \"{}\", api = \"{}\", token = {{ file = \"{}\" }} }}",
                nodepools::aks_id(),
                self.azure,
                kubeconfig.with_file_name(AZURE_TOKEN_FILE).display()
            ),
        };
        t
    }

    /// Korea's database's `azure`: the sandbox's Resource Manager, its
    /// token a file beside the kubeconfig (written 0600 by `write_config`).
    fn azure_config(&self, kubeconfig: &Path) -> String {
        format!(
            "azure = {{ server = \"{}\", api = \"{}\", token = {{ file = \"{}\" }} }}\n",
            azure::server_id(),
            self.azure,
            kubeconfig.with_file_name(AZURE_TOKEN_FILE).display()
        )
    }

    /// The config's `[traffic]`: the sandbox's Cloudflare, a pool per
    /// region, its token a file beside the kubeconfig (written 0600 by
    /// `write_config`).
    fn traffic_config(&self, kubeconfig: &Path) -> String {
        let mut t = format!(
            "\n[traffic]\nkind = \"cloudflare\"\napi = \"{}\"\naccount = \"{}\"\ntoken = {{ file = \"{}\" }}\npools = [\n",
            self.cloudflare,
            cloudflare::ACCOUNT,
            kubeconfig.with_file_name(CLOUDFLARE_TOKEN_FILE).display()
        );
        for (region, id, _) in cloudflare::POOLS {
            let _ = writeln!(t, "    {{ region = \"{region}\", id = \"{id}\" }},");
        }
        t.push_str("]\n");
        t
    }

    /// Writes `kubeconfig` and `config.toml` into `dir`; returns their
    /// paths. The kubeconfig holds bearer tokens: both files are written
    /// 0600, in a directory made 0700.
    pub fn write_config(&self, dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
        use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let private = |path: &Path, text: &str| -> std::io::Result<()> {
            use std::io::Write as _;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(path)?;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            file.write_all(text.as_bytes())
        };
        let kubeconfig = dir.join("kubeconfig");
        private(&kubeconfig, &self.kubeconfig())?;
        let config = dir.join("config.toml");
        private(
            &dir.join(CLOUDFLARE_TOKEN_FILE),
            &format!("{}\n", self.cloudflare_token),
        )?;
        private(
            &dir.join(AZURE_TOKEN_FILE),
            &format!("{}\n", self.azure_token),
        )?;
        let manifests = dir.join("manifests");
        std::fs::create_dir_all(&manifests)?;
        for (name, text) in world::manifests() {
            std::fs::write(manifests.join(name), text)?;
        }
        let mut text = self.console_config(&kubeconfig);
        let _ = write!(
            text,
            "\n# The seed's manifests (`touban apply iworkz --dry-run`): the idle colour's\n\
             # Deployments, the Services, the HPA and the ConfigMap, Tokyo then Korea.\n\
             [[manifests]]\nname = \"iworkz\"\npath = \"{}\"\nclusters = [{}]\ncolour = true\nnamespace = \"{}\"\n",
            manifests.display(),
            self.clusters
                .iter()
                .map(|c| format!("\"{}\"", c.name))
                .collect::<Vec<_>>()
                .join(", "),
            world::NAMESPACE
        );
        private(&config, &text)?;
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

/// 16 random bytes in hex: from the OS's generator, or should it fail,
/// from the clock (which still differs per start).
fn random_hex(salt: u128) -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (now ^ u128::from(std::process::id()) ^ salt).to_le_bytes();
    }
    bytes.iter().fold(String::new(), |mut hex, b| {
        use std::fmt::Write as _;
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// The operator's and the viewer's bearer tokens, random at each start
/// (the seed makes the world, not its secrets), and the users they stand
/// for.
fn tokens() -> (String, String, HashMap<String, User>) {
    let random = random_hex;
    let operator = format!("operator-{}", random(1));
    let viewer = format!("viewer-{}", random(2 << 64));
    let users = [
        (operator.clone(), false, OPERATOR),
        (viewer.clone(), true, VIEWER),
    ]
    .into_iter()
    .map(|(token, read_only, name)| {
        (
            token,
            User {
                name: name.into(),
                read_only,
            },
        )
    })
    .collect();
    (operator, viewer, users)
}

/// Each node's name and CPU count, for node_exporter.
fn nodes_of(store: &Store) -> Vec<(String, u32)> {
    let node = Resource::of_kind("Node").unwrap_or_else(|| unreachable!("nodes are served"));
    store
        .all(node)
        .iter()
        .map(|n| {
            let cpus = n
                .pointer("/status/capacity/cpu")
                .and_then(|v| v.as_str())
                .and_then(|c| c.parse().ok())
                .unwrap_or(4);
            (
                n.pointer("/metadata/name")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned(),
                cpus,
            )
        })
        .collect()
}

/// One Prometheus endpoint per scrape target of the simulation.
async fn start_endpoints(
    sim: &Arc<Mutex<sim::Sim>>,
    servers: &mut Vec<tokio::task::JoinHandle<()>>,
) -> std::io::Result<Vec<Endpoint>> {
    let targets: Vec<(&'static str, String, &'static str, Target)> =
        {
            let s = sim
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut out = Vec::new();
            for (ri, r) in s.regions.iter().enumerate() {
                out.extend(
                    r.services.iter().enumerate().map(|(i, x)| {
                        (r.name, x.name.to_owned(), "service", Target::Service(ri, i))
                    }),
                );
                out.extend(r.databases.iter().enumerate().map(|(i, x)| {
                    (
                        r.name,
                        x.name.to_owned(),
                        "postgres_exporter",
                        Target::Postgres(ri, i),
                    )
                }));
                out.extend(r.caches.iter().enumerate().map(|(i, x)| {
                    (
                        r.name,
                        x.name.to_owned(),
                        "redis_exporter",
                        Target::Redis(ri, i),
                    )
                }));
                out.extend(
                    r.nodes.iter().enumerate().map(|(i, x)| {
                        (r.name, x.name.clone(), "node_exporter", Target::Node(ri, i))
                    }),
                );
            }
            out
        };
    let mut endpoints = Vec::new();
    for (region, name, job, target) in targets {
        let url = serve_http(metrics::router(sim.clone(), target), servers).await?;
        endpoints.push(Endpoint {
            region,
            name,
            job,
            url,
        });
    }
    Ok(endpoints)
}

/// Cloudflare's load-balancer API over the simulation, with a token of
/// its own: its base URL (`…/client/v4`), the token, and its state.
async fn start_cloudflare(
    sim: &Arc<Mutex<sim::Sim>>,
    servers: &mut Vec<tokio::task::JoinHandle<()>>,
) -> std::io::Result<(String, String, Arc<cloudflare::Cloudflare>)> {
    let token = format!("cloudflare-{}", random_hex(3 << 64));
    let api = Arc::new(cloudflare::Cloudflare::new(sim.clone(), token.clone()));
    let url = serve_http(cloudflare::router(api.clone()), servers).await?;
    Ok((format!("{url}/client/v4"), token, api))
}

/// The three parts of the sandbox's Resource Manager: its base URL, its
/// token, its flexible server's state.
type Arm = (String, String, Arc<azure::Azure>);

/// Azure Resource Manager over the simulation, with a token of its own
/// (the flexible server and AKS's agent pools), and the clusters' node
/// groups, moved on by a thread of their own.
async fn start_azure(
    sim: &Arc<Mutex<sim::Sim>>,
    clock: Clock,
    stores: [Arc<Store>; 2],
    stop: &Arc<AtomicBool>,
    servers: &mut Vec<tokio::task::JoinHandle<()>>,
) -> std::io::Result<(Arm, Arc<nodepools::NodePools>)> {
    let token = format!("azure-{}", random_hex(5 << 64));
    let api = Arc::new(azure::Azure::new(sim.clone(), token.clone()));
    let pools = Arc::new(nodepools::NodePools::new(clock, stores, token.clone()));
    spawn_loop(
        "sandbox-node-pools",
        stop.clone(),
        Duration::from_millis(200),
        pools.clone(),
        |p| p.pass(),
    )?;
    let router = azure::router(api.clone()).merge(nodepools::arm_router(pools.clone()));
    let url = serve_http(router, servers).await?;
    Ok(((url, token, api), pools))
}

/// An Alertmanager per region, and CloudWatch.
/// Where the alerting endpoints are: each region's Alertmanager and
/// Prometheus, and CloudWatch.
struct AlertEndpoints {
    alertmanagers: Vec<(&'static str, String)>,
    prometheus: Vec<(&'static str, String)>,
    cloudwatch: String,
}

async fn start_alerting(
    alerting: &Arc<Mutex<alerts::Alerting>>,
    clock: Clock,
    options: Options,
    servers: &mut Vec<tokio::task::JoinHandle<()>>,
) -> std::io::Result<AlertEndpoints> {
    let mut alertmanagers = Vec::new();
    let mut prometheus = Vec::new();
    for region in ["tokyo", "korea"] {
        alertmanagers.push((
            region,
            serve_http(alertmanager::router(alerting.clone(), region), servers).await?,
        ));
        prometheus.push((
            region,
            serve_http(
                prometheus::router(alerting.clone(), region, options.speed),
                servers,
            )
            .await?,
        ));
    }
    let cloudwatch = cloudwatch::CloudWatch::new(clock, options.scenario, options.speed);
    let url = serve_http(cloudwatch::router(Arc::new(cloudwatch)), servers).await?;
    Ok(AlertEndpoints {
        alertmanagers,
        prometheus,
        cloudwatch: url,
    })
}

/// A pod that has restarted: namespace, name, restarts.
type Restarted = (String, String, i64);

fn restarted_pods(store: &Store, pod: &'static Resource) -> Vec<Restarted> {
    store
        .all(pod)
        .iter()
        .filter_map(|p| {
            let n: i64 = p
                .pointer("/status/containerStatuses")
                .and_then(|c| c.as_array())
                .map_or(0, |cs| {
                    cs.iter()
                        .filter_map(|c| c.get("restartCount").and_then(serde_json::Value::as_i64))
                        .sum()
                });
            (n > 0).then(|| {
                let (ns, name) = store::key_of(p);
                (ns, name, n)
            })
        })
        .collect()
}

/// What the simulation thread drives: the series, the alert rules, and the
/// scenario's switches on the API servers.
struct World {
    clock: Clock,
    sim: Arc<Mutex<sim::Sim>>,
    alerting: Arc<Mutex<alerts::Alerting>>,
    stores: Vec<Arc<Store>>,
    apis: Vec<Arc<ClusterApi>>,
    /// Per store: the resourceVersion and the restarted pods then. Restart
    /// counts change only with a write, so unchanged stores are not rescanned.
    restarts: Vec<(u64, Vec<Restarted>)>,
    /// The scenario's Tokyo API switch, as last applied.
    tokyo_api_down: bool,
    /// How the scenario's API outage fails.
    outage: api::Outage,
}

impl World {
    fn tick(&mut self) {
        let second = self.clock.now().as_secs();
        let pod = Resource::of_kind("Pod").unwrap_or_else(|| unreachable!("pods are served"));
        // Restart counts, for PodCrashLooping (what kube-state-metrics exports).
        for (store, cached) in self.stores.iter().zip(&mut self.restarts) {
            let rv = store.rv();
            if rv != cached.0 {
                *cached = (rv, restarted_pods(store, pod));
            }
        }
        let restarts: Vec<Vec<Restarted>> = self.restarts.iter().map(|(_, r)| r.clone()).collect();
        let mut sim = self
            .sim
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sim.advance_to(second);
        let conditions = sim.conditions();
        self.alerting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .evaluate(&sim, &restarts);
        drop(sim);
        // Only when the scenario's switch changes: between changes the
        // switch is free for others (tests partition an API by hand).
        if conditions.tokyo_api_down != self.tokyo_api_down {
            self.tokyo_api_down = conditions.tokyo_api_down;
            let outage = if self.tokyo_api_down {
                self.outage
            } else {
                api::Outage::None
            };
            if let Some(tokyo) = self.apis.first() {
                tokyo.outage.send_replace(outage);
            }
        }
    }
}

/// Runs `run` on a thread of its own every `every`: the controllers and
/// the simulation are CPU-bound at 10,000 pods and must not stall the
/// servers' runtime.
fn spawn_loop<T: Send + 'static>(
    name: &str,
    stop: Arc<AtomicBool>,
    every: Duration,
    mut state: T,
    run: fn(&mut T),
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                run(&mut state);
                std::thread::sleep(every);
            }
        })?;
    Ok(())
}
