//! The platform file (`config.toml`): the environment, its regions, and per
//! region the clusters, databases, caches, AI services and alert sources
//! touban watches, plus the operator's settings. Parsed strictly (unknown
//! keys are errors) and validated, every error located to file:line:col.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::error::{Located, parse_toml};

/// The whole platform file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    /// The environment's name, shown in the header (`iworkz-production`).
    pub environment: String,
    /// The operator's settings.
    #[serde(default)]
    pub settings: Settings,
    /// Regions, in the order they are shown side by side.
    pub regions: Vec<Region>,
    /// Kubernetes clusters.
    #[serde(default)]
    pub clusters: Vec<Cluster>,
    /// Databases.
    #[serde(default)]
    pub databases: Vec<Database>,
    /// Caches.
    #[serde(default)]
    pub caches: Vec<Cache>,
    /// AI services.
    #[serde(default)]
    pub ai_services: Vec<AiService>,
    /// Alert sources.
    #[serde(default)]
    pub alert_sources: Vec<AlertSource>,
    /// Health thresholds (defaults: the seed's alert rules).
    #[serde(default)]
    pub thresholds: crate::model::data::Thresholds,
    /// PromQL figures (defaults: the seed's dashboard panels).
    #[serde(default)]
    pub figures: Vec<crate::model::data::FigureSpec>,
    /// The `app` label of the user-facing release (`web-frontend`), shown
    /// as each region's frontend cell.
    #[serde(default)]
    pub frontend: Option<String>,
    /// Where jobs on targets without a cluster of their own (a silence of
    /// an Alertmanager) hold their Lease.
    #[serde(default)]
    pub coordination: Coordination,
    /// Database replication pairs: what the DR readiness checks (and the
    /// failover actions) read.
    #[serde(default)]
    pub replication: Vec<Replication>,
    /// The global load balancer that sends users to a region.
    #[serde(default)]
    pub traffic: Option<Traffic>,
    /// The incident room's wallboard (`touban wall`).
    #[serde(default)]
    pub wall: Wall,
    /// Sets of manifest files `touban apply` (and the console) applies.
    #[serde(default)]
    pub manifests: Vec<Manifests>,
    /// Terraform / OpenTofu working directories `touban infra` plans and applies.
    #[serde(default)]
    pub infrastructure: Vec<Infrastructure>,
}

/// `[[infrastructure]]`: a Terraform or OpenTofu working directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Infrastructure {
    /// Its name (`tokyo-eks`), as `touban infra plan NAME` takes it.
    pub name: Spanned<String>,
    /// The working directory (relative to the config file's directory).
    pub dir: PathBuf,
    /// The binary: `terraform` (the default) or `tofu`, or a path.
    #[serde(default = "default_infra_binary")]
    pub binary: String,
    /// The region it provisions.
    pub region: Spanned<String>,
}

fn default_infra_binary() -> String {
    "terraform".into()
}

/// `[[manifests]]`: a directory (or file) of YAML documents and the
/// clusters it goes to, in order (the first verified before the next).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifests {
    /// Its name (`iworkz`), as `touban apply NAME` takes it.
    pub name: Spanned<String>,
    /// The directory of `*.yaml` / `*.yml` files (read in name order), or
    /// one file; relative to the config file's directory.
    pub path: PathBuf,
    /// The clusters it is applied to, in this order (staged: Tokyo first,
    /// verified, then Korea).
    pub clusters: Vec<Spanned<String>>,
    /// Blue-green files: the idle colour (the other of the live
    /// Services' `color` selector) is put where the files say `${COLOR}`,
    /// and files named for the live colour are left out.
    #[serde(default)]
    pub colour: bool,
    /// The namespace of documents that name none (default: `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Label every object applied `touban.io/manifests: NAME`, so that
    /// those no longer in the files are found: listed in every plan,
    /// deleted only with `--prune`, confirmed on their own.
    #[serde(default)]
    pub prune: bool,
}

impl Platform {
    /// The `[[infrastructure]]` of this name.
    pub fn infrastructure_named(&self, name: &str) -> Option<&Infrastructure> {
        self.infrastructure
            .iter()
            .find(|i| i.name.get_ref() == name)
    }

    fn validate_infrastructure(&self) -> Result<(), (std::ops::Range<usize>, String)> {
        let mut seen = HashSet::new();
        for i in &self.infrastructure {
            if !seen.insert(i.name.get_ref().as_str()) {
                return Err((
                    i.name.span(),
                    format!("two [[infrastructure]] are named `{}`", i.name.get_ref()),
                ));
            }
            if self.region(i.region.get_ref()).is_none() {
                return Err((
                    i.region.span(),
                    format!(
                        "region `{}` is not one of the [[regions]]",
                        i.region.get_ref()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The `[[manifests]]` set of this name.
    pub fn manifest_set(&self, name: &str) -> Option<&Manifests> {
        self.manifests.iter().find(|m| m.name.get_ref() == name)
    }

    fn validate_manifests(&self) -> Result<(), (std::ops::Range<usize>, String)> {
        let mut seen = HashSet::new();
        for m in &self.manifests {
            if !seen.insert(m.name.get_ref().as_str()) {
                return Err((
                    m.name.span(),
                    format!("two [[manifests]] are named `{}`", m.name.get_ref()),
                ));
            }
            if m.clusters.is_empty() {
                return Err((
                    m.name.span(),
                    format!(
                        "[[manifests]] `{}` names no clusters: say where it goes (clusters = [\"eks-tokyo\"])",
                        m.name.get_ref()
                    ),
                ));
            }
            if m.colour && m.prune {
                return Err((
                    m.name.span(),
                    format!(
                        "[[manifests]] `{}` has colour and prune: the live colour's objects are not in the files applied (only the idle colour's), so pruning would delete them; choose one",
                        m.name.get_ref()
                    ),
                ));
            }
            for c in &m.clusters {
                if !self
                    .clusters
                    .iter()
                    .any(|k| k.name.get_ref() == c.get_ref())
                {
                    return Err((
                        c.span(),
                        format!("cluster `{}` is not one of the [[clusters]]", c.get_ref()),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `[wall]`: what the wallboard rotates through, and how fast.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wall {
    /// The panes, in order (`overview`, `alerts`, `rollouts`, `failover`, ...).
    #[serde(default = "default_wall_panes")]
    pub panes: Vec<crate::model::Pane>,
    /// Seconds each pane is shown.
    #[serde(default = "default_wall_seconds")]
    pub seconds: Spanned<u64>,
    /// Seconds the Overview is held after a critical alert is new.
    #[serde(default = "default_wall_hold")]
    pub hold_seconds: u64,
}

impl Default for Wall {
    fn default() -> Wall {
        Wall {
            panes: default_wall_panes(),
            seconds: default_wall_seconds(),
            hold_seconds: default_wall_hold(),
        }
    }
}

fn default_wall_panes() -> Vec<crate::model::Pane> {
    use crate::model::Pane;
    vec![Pane::Overview, Pane::Alerts, Pane::Rollouts, Pane::Failover]
}

fn default_wall_seconds() -> Spanned<u64> {
    Spanned::new(0..0, 15)
}

fn default_wall_hold() -> u64 {
    300
}

/// `[traffic]`: the global load balancer in front of the regions, a pool
/// per region: Cloudflare Load Balancing (API v4). Its readings feed the
/// failback-hazard check; the region runbook disables the old primary's
/// pool (disabled, not merely unhealthy: Cloudflare sends traffic back
/// to a pool on its own once it looks healthy again).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// The balancer (`cloudflare`).
    pub kind: TrafficKind,
    /// The API's base URL (default `https://api.cloudflare.com/client/v4`).
    #[serde(default = "default_cloudflare_api")]
    pub api: Spanned<String>,
    /// The Cloudflare account id the pools belong to.
    pub account: Spanned<String>,
    /// The API token (Load Balancing: Monitors and Pools Read; Write to
    /// act), by reference.
    pub token: Spanned<SecretRef>,
    /// A pool per region.
    pub pools: Vec<TrafficPool>,
}

/// The kinds of global load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrafficKind {
    /// Cloudflare Load Balancing.
    Cloudflare,
}

/// A region's pool in the global load balancer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficPool {
    /// The region whose frontend the pool's origins are.
    pub region: Spanned<String>,
    /// The pool's id (32 hex digits).
    pub id: Spanned<String>,
}

/// The source name of the global load balancer, in each region with a pool.
pub const TRAFFIC: &str = "traffic";

fn default_cloudflare_api() -> Spanned<String> {
    Spanned::new(0..0, "https://api.cloudflare.com/client/v4".to_owned())
}

/// `[[replication]]`: a database and the replica that would take over
/// from it, each named `name` or, where a name is used in more than one
/// region, `region/name`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Replication {
    /// The database that serves now.
    pub primary: Spanned<String>,
    /// The one fed from it.
    pub replica: Spanned<String>,
    /// How it is fed.
    pub kind: ReplicationKind,
    /// The most data, in seconds of writes, the platform may lose: the
    /// replica's lag is held against it (1 to 86400).
    pub rpo_seconds: Spanned<u64>,
    /// Logical replication: the subscription's name, as the primary's
    /// `pg_stat_replication.application_name` shows it (the primary's
    /// only link when unset).
    #[serde(default)]
    pub subscription: Option<String>,
}

/// How a replica is fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicationKind {
    /// PostgreSQL streaming replication: the replica is in recovery.
    Physical,
    /// A logical subscription: the replica is a writable server of its
    /// own, and sequences are not replicated.
    Logical,
    /// An Azure Database for PostgreSQL flexible server read replica.
    AzureReplica,
    /// An Amazon RDS read replica.
    RdsReplica,
}

impl ReplicationKind {
    /// The word the config and the screen use.
    pub fn word(self) -> &'static str {
        match self {
            ReplicationKind::Physical => "physical",
            ReplicationKind::Logical => "logical",
            ReplicationKind::AzureReplica => "azure-replica",
            ReplicationKind::RdsReplica => "rds-replica",
        }
    }
}

/// `[coordination]`: the cluster (and namespace) holding the Leases of
/// jobs whose target has no cluster of its own. By default the DR
/// region's first cluster: the one up when the primary is down.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coordination {
    /// The cluster, by its name in touban.
    #[serde(default)]
    pub cluster: Option<Spanned<String>>,
    /// The namespace of its Leases (default `default`).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// The operator's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Colour theme name.
    #[serde(default = "default_name")]
    pub theme: Spanned<String>,
    /// Keymap name.
    #[serde(default = "default_name")]
    pub keymap: Spanned<String>,
    /// Language of the interface; by default the one `LANG` names
    /// (`ja_JP.UTF-8`, `ko_KR.UTF-8`), else English.
    #[serde(default)]
    pub language: Option<Language>,
    /// Refuse every mutating action.
    #[serde(default)]
    pub read_only: bool,
    /// Who acts, in the audit log and on the cluster (`ops@bastion`);
    /// by default `$USER@host`.
    #[serde(default)]
    pub operator: Option<String>,
    /// The most any one answer of a source may be, in MiB (an HTTP body,
    /// a PostgreSQL or Redis reply): beyond it the answer is refused.
    #[serde(default = "default_max_reply_mib")]
    pub max_reply_mib: Spanned<u64>,
    /// How long a blue-green deploy keeps the old colour scaled after the
    /// switch, in seconds (a revert meanwhile is instant); the seed's 5
    /// minutes by default.
    #[serde(default = "default_scale_down_delay")]
    pub scale_down_delay_seconds: Spanned<u64>,
    /// The longest silence the console sends, in hours (24 by default).
    #[serde(default = "default_max_silence_hours")]
    pub max_silence_hours: Spanned<u64>,
    /// The kubectl that shells (`x`) and port-forwards (`F`) run: a name
    /// looked up on PATH, or a path (`kubectl` by default).
    #[serde(default = "default_kubectl")]
    pub kubectl: String,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            theme: default_name(),
            keymap: default_name(),
            language: None,
            read_only: false,
            operator: None,
            max_reply_mib: default_max_reply_mib(),
            scale_down_delay_seconds: default_scale_down_delay(),
            max_silence_hours: default_max_silence_hours(),
            kubectl: default_kubectl(),
        }
    }
}

fn default_kubectl() -> String {
    "kubectl".to_owned()
}

fn default_max_silence_hours() -> Spanned<u64> {
    Spanned::new(0..0, 24)
}

fn default_scale_down_delay() -> Spanned<u64> {
    Spanned::new(0..0, 300)
}

fn default_max_reply_mib() -> Spanned<u64> {
    Spanned::new(0..0, 8)
}

fn default_name() -> Spanned<String> {
    Spanned::new(0..0, "default".to_owned())
}

/// Language of the interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, strum::EnumIter)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English.
    #[default]
    En,
    /// Japanese.
    Ja,
    /// Korean.
    Ko,
}

impl Language {
    /// Its code, as `settings.language` and `:language` spell it.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ja => "ja",
            Language::Ko => "ko",
        }
    }

    /// The language a code names (`ja`), or a locale (`ko_KR.UTF-8`).
    pub fn from_code(code: &str) -> Option<Language> {
        let lang = code
            .split(['_', '-', '.', '@'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match lang.as_str() {
            "en" => Some(Language::En),
            "ja" => Some(Language::Ja),
            "ko" => Some(Language::Ko),
            _ => None,
        }
    }

    /// The language the locale environment names, as `gettext` reads it
    /// (`LC_ALL`, then `LC_MESSAGES`, then `LANG`), if it is one of these.
    pub fn from_env() -> Option<Language> {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .and_then(|v| Language::from_code(&v))
    }
}

/// A region's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Serves production.
    Primary,
    /// Disaster recovery: takes over when the primary fails.
    Dr,
}

impl Role {
    /// The word shown in the region's title.
    pub fn label(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Dr => "DR",
        }
    }
}

/// A region.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// The name the other sections refer to (`tokyo`).
    pub name: Spanned<String>,
    /// The name shown (`Tokyo`).
    pub display: String,
    /// Primary or DR.
    pub role: Role,
    /// IANA time zone for the region's clock (`Asia/Tokyo`).
    pub time_zone: Spanned<String>,
    /// Provider and location, shown under the title (`AWS ap-northeast-1`).
    #[serde(default)]
    pub location: Option<String>,
    /// The region's Prometheus, for PromQL figures (`http://host:9090`).
    #[serde(default)]
    pub prometheus: Option<Spanned<String>>,
}

/// A Kubernetes cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Its name in touban (`eks-tokyo`).
    pub name: Spanned<String>,
    /// The region it is in.
    pub region: Spanned<String>,
    /// The kubeconfig context.
    pub context: String,
    /// A kubeconfig file, when not the default one.
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// Namespaces to watch; empty watches all.
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Node groups with their configured bounds.
    #[serde(default)]
    pub node_groups: Vec<NodeGroup>,
    /// Refuse mutating actions on this cluster, whatever the global setting.
    #[serde(default)]
    pub read_only: Option<bool>,
    /// Amazon EKS: the cluster's name there (`identifier`), `aws_region`
    /// and optional `endpoint` / `anonymous` as for CloudWatch: what sizes
    /// its managed node groups (`UpdateNodegroupConfig`), through the
    /// standard credential chain.
    #[serde(default)]
    pub eks: Option<CloudWatchRef>,
    /// Azure Kubernetes Service: what sizes its agent pools through
    /// Azure Resource Manager.
    #[serde(default)]
    pub aks: Option<AksCluster>,
}

/// An AKS managed cluster, acted on through Azure Resource Manager.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AksCluster {
    /// Its resource id: `/subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{name}`.
    pub cluster: Spanned<String>,
    /// Azure Resource Manager's endpoint (the public cloud's by default).
    #[serde(default = "default_arm")]
    pub api: Spanned<String>,
    /// Where an ARM bearer token is, read at every call (as for a
    /// database's `azure.token`). An action credential.
    pub token: Spanned<SecretRef>,
}

/// A node group's configured size.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeGroup {
    /// The group's name, as in the nodes' labels.
    pub name: Spanned<String>,
    /// Fewest nodes.
    pub min: u32,
    /// Most nodes.
    pub max: u32,
    /// Desired nodes.
    pub desired: u32,
}

/// A reference to a secret: never the secret itself. A secret written in
/// its place (`password = "plain"`) is refused without being quoted.
#[derive(Clone)]
pub struct SecretRef {
    /// Read from this environment variable.
    pub env: Option<String>,
    /// Read from this file.
    pub file: Option<PathBuf>,
}

/// The shape of a reference, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretRefFields {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    file: Option<PathBuf>,
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SecretRef, D::Error> {
        struct Visit;
        const WHERE: &str = "a secret is named, never written: expected \
            { env = \"VAR\" } or { file = \"/path\" }";
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = SecretRef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(WHERE)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<SecretRef, A::Error> {
                let fields = SecretRefFields::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                Ok(SecretRef {
                    env: fields.env,
                    file: fields.file,
                })
            }
            // Anything else: refused without its value in the message.
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<SecretRef, E> {
                Err(E::custom(WHERE))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<SecretRef, E> {
                Err(E::custom(WHERE))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<SecretRef, E> {
                Err(E::custom(WHERE))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SecretRef, E> {
                Err(E::custom(WHERE))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<SecretRef, E> {
                Err(E::custom(WHERE))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<SecretRef, A::Error> {
                Err(serde::de::Error::custom(WHERE))
            }
        }
        d.deserialize_any(Visit)
    }
}

impl SecretRef {
    /// The secret, from its environment variable or file (at most 64 KiB,
    /// the trailing newline cut); `what` names it in a failure (`password`,
    /// `API token`), which never holds the secret.
    pub fn read(&self, what: &str) -> Result<String, String> {
        if let Some(var) = &self.env {
            return std::env::var(var)
                .map_err(|_| format!("the {what}'s environment variable {var} is not set"));
        }
        if let Some(path) = &self.file {
            use std::io::Read as _;
            let mut text = String::new();
            return std::fs::File::open(path)
                .and_then(|f| f.take(64 << 10).read_to_string(&mut text))
                .map(|_| text.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()));
        }
        Err(format!("the {what} reference names neither env nor file"))
    }
}

impl std::fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.env, &self.file) {
            (Some(var), _) => write!(f, "SecretRef(env {var})"),
            (None, Some(path)) => write!(f, "SecretRef(file {})", path.display()),
            (None, None) => f.write_str("SecretRef(none)"),
        }
    }
}

/// Direct access to a database or cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Direct {
    /// `postgres://user@host:port/db` or `redis://host:port`, without a password.
    pub url: Spanned<String>,
    /// Where the password is.
    #[serde(default)]
    pub password: Option<Spanned<SecretRef>>,
    /// PostgreSQL: CA certificates (PEM) to trust beside the system's, such
    /// as the RDS bundle. TLS is used as the URL's `sslmode` says
    /// (`prefer` by default, `require` to insist); certificates are always
    /// verified.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// How CloudWatch names a database or cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchRef {
    /// `DBInstanceIdentifier` or `ReplicationGroupId`.
    pub identifier: String,
    /// The AWS region (`ap-northeast-1`).
    pub aws_region: String,
    /// An endpoint override (an emulator, a VPC endpoint).
    #[serde(default)]
    pub endpoint: Option<Spanned<String>>,
    /// Sign with placeholder keys, for a local endpoint that does not
    /// check them (the sandbox, moto).
    #[serde(default)]
    pub anonymous: bool,
}

/// A database's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    /// PostgreSQL.
    Postgres,
}

/// A cache's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheKind {
    /// Redis, standalone or replicated.
    Redis,
    /// Redis behind Sentinel.
    RedisSentinel,
    /// Redis Cluster.
    RedisCluster,
}

/// A database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// Its name in touban.
    pub name: Spanned<String>,
    /// The region it is in.
    pub region: Spanned<String>,
    /// What it is.
    pub kind: DatabaseKind,
    /// Direct access: the monitoring login (`pg_monitor` is all it needs).
    #[serde(default)]
    pub direct: Option<Direct>,
    /// The executor's login (fence, promote, advance sequences), kept
    /// apart from `direct` so that the monitoring login cannot fence or
    /// promote. Unset: the executor acts with `direct`, and every plan
    /// says so.
    #[serde(default)]
    pub action: Option<Direct>,
    /// A postgres_exporter `/metrics` URL.
    #[serde(default)]
    pub exporter: Option<Spanned<String>>,
    /// CloudWatch metrics.
    #[serde(default)]
    pub cloudwatch: Option<CloudWatchRef>,
    /// An Amazon RDS instance (`identifier`, `aws_region`, optional
    /// `endpoint` / `anonymous` as for `cloudwatch`): what fails it over
    /// (Multi-AZ) or promotes it (a read replica), through the RDS API and
    /// the standard credential chain.
    #[serde(default)]
    pub rds: Option<CloudWatchRef>,
    /// An Azure Database for PostgreSQL flexible server: what promotes it
    /// when it is the replica of an `azure-replica` pair.
    #[serde(default)]
    pub azure: Option<AzureServer>,
    /// The applications that must reach this database once it is
    /// promoted: where their configuration holds its address, and what
    /// to restart. The region runbook re-points them after the promotion.
    #[serde(default)]
    pub consumers: Vec<Consumer>,
    /// The roles its applications log in as: what `:lockout` locks out
    /// (`ALTER ROLE … NOLOGIN`, their sessions ended), the fence that
    /// holds for clients that set `default_transaction_read_only` off.
    #[serde(default)]
    pub app_roles: Vec<Spanned<String>>,
}

/// `[[databases.consumers]]`: a ConfigMap's or Secret's key holding a
/// database's address, and the deployments that read it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    /// The cluster, by its name in touban.
    pub cluster: Spanned<String>,
    /// The namespace of the object and the deployments.
    pub namespace: String,
    /// A ConfigMap holding the key (this or `secret`).
    #[serde(default)]
    pub configmap: Option<Spanned<String>>,
    /// A Secret holding the key: touban reads and writes it, never shows
    /// more of it than the host.
    #[serde(default)]
    pub secret: Option<Spanned<String>>,
    /// The key: a URL (`postgres://user:…@host:5432/db`, whose host and
    /// port are replaced) or a bare `host[:port]`.
    pub key: String,
    /// The address the key gets once this database is primary (default:
    /// the host and port of `direct.url`).
    #[serde(default)]
    pub host: Option<Spanned<String>>,
    /// The deployments restarted once the key is changed.
    #[serde(default)]
    pub restart: Vec<String>,
}

impl Consumer {
    /// The object holding the key: its kind and name.
    pub fn object(&self) -> (crate::model::action::ObjectKind, &str) {
        use crate::model::action::ObjectKind;
        match (&self.secret, &self.configmap) {
            (Some(s), _) => (ObjectKind::Secret, s.get_ref()),
            (None, Some(c)) => (ObjectKind::ConfigMap, c.get_ref()),
            (None, None) => (ObjectKind::ConfigMap, ""),
        }
    }
}

impl Database {
    /// The address a consumer's key gets once this database is primary:
    /// its own `host`, else `direct.url`'s host and port.
    pub fn consumer_host(&self, c: &Consumer) -> Option<String> {
        if let Some(h) = &c.host {
            return Some(h.get_ref().clone());
        }
        let url = self.direct.as_ref()?.url.get_ref();
        crate::exec::actions::repoint::host_of(url).map(str::to_owned)
    }
}

/// An Azure Database for PostgreSQL flexible server, acted on through
/// Azure Resource Manager.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureServer {
    /// Its resource id: `/subscriptions/{id}/resourceGroups/{group}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{name}`.
    pub server: Spanned<String>,
    /// Azure Resource Manager's endpoint (the public cloud's by default).
    #[serde(default = "default_arm")]
    pub api: Spanned<String>,
    /// Where an ARM bearer token is (what `az account get-access-token
    /// --resource https://management.azure.com` prints), read at every
    /// call: a file kept fresh by a timer keeps touban's too. An action
    /// credential: touban's monitoring never uses it.
    pub token: Spanned<SecretRef>,
}

fn default_arm() -> Spanned<String> {
    Spanned::new(0..0, "https://management.azure.com".to_owned())
}

/// A cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    /// Its name in touban.
    pub name: Spanned<String>,
    /// The region it is in.
    pub region: Spanned<String>,
    /// What it is.
    pub kind: CacheKind,
    /// Direct access: the monitoring login.
    #[serde(default)]
    pub direct: Option<Direct>,
    /// The executor's login (`FAILOVER`, `REPLICAOF`), kept apart from
    /// `direct` (a Redis ACL user that may only `INFO`, say). Unset: the
    /// executor acts with `direct`, and every plan says so.
    #[serde(default)]
    pub action: Option<Direct>,
    /// A redis_exporter `/metrics` URL.
    #[serde(default)]
    pub exporter: Option<Spanned<String>>,
    /// CloudWatch metrics.
    #[serde(default)]
    pub cloudwatch: Option<CloudWatchRef>,
    /// `redis-sentinel`: the monitored primary's name (`direct.url` is a
    /// Sentinel's address).
    #[serde(default)]
    pub master_name: Option<String>,
    /// `redis`: its replicas' `host:port`, reached with `direct`'s scheme
    /// and password: the servers a replica is promoted from when the
    /// primary does not answer (and so cannot list them).
    #[serde(default)]
    pub replicas: Vec<String>,
    /// An Amazon ElastiCache replication group (`identifier` is its
    /// `ReplicationGroupId`, with `aws_region` and optional `endpoint` /
    /// `anonymous` as for `cloudwatch`): what fails it over
    /// (`TestFailover`), through the ElastiCache API and the standard
    /// credential chain. ElastiCache refuses `REPLICAOF` and `FAILOVER`.
    #[serde(default)]
    pub elasticache: Option<CloudWatchRef>,
}

/// An AI service's endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiService {
    /// Its name in touban.
    pub name: Spanned<String>,
    /// The region it is in.
    pub region: Spanned<String>,
    /// Liveness URL.
    pub health: Spanned<String>,
    /// Readiness URL.
    pub ready: Spanned<String>,
    /// Prometheus metrics URL.
    #[serde(default)]
    pub metrics: Option<Spanned<String>>,
}

/// Where alerts come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertSourceKind {
    /// Alertmanager API v2.
    Alertmanager,
    /// Prometheus `/api/v1/alerts` and `/api/v1/rules`.
    Prometheus,
    /// CloudWatch alarms.
    Cloudwatch,
}

/// An alert source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSource {
    /// Its name in touban.
    pub name: Spanned<String>,
    /// The region it is in.
    pub region: Spanned<String>,
    /// What it is.
    pub kind: AlertSourceKind,
    /// Base URL (Alertmanager, Prometheus) or endpoint override (CloudWatch).
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// The AWS region (CloudWatch).
    #[serde(default)]
    pub aws_region: Option<String>,
    /// Seconds between polls (5 when unset; 1 to 3600).
    #[serde(default)]
    pub interval_seconds: Option<Spanned<u64>>,
    /// CloudWatch: sign with placeholder keys, for a local endpoint that
    /// does not check them (the sandbox, moto); otherwise credentials come
    /// from the standard AWS chain.
    #[serde(default)]
    pub anonymous: bool,
}

/// The name of a region's PromQL source (one per region, so it needs no
/// name of its own in the file).
pub const PROMETHEUS: &str = "prometheus";

/// The built-in example: the platform of `seed/infrastructure.ja.md`.
pub const EXAMPLE: &str = include_str!("example.toml");

impl Platform {
    /// Parses and validates a platform file. `file` names it in errors.
    pub fn parse(file: &str, src: &str) -> Result<Platform, Located> {
        let platform: Platform = parse_toml(file, src)?;
        platform
            .validate()
            .map_err(|(span, message)| Located::at(file, src, Some(span), message))?;
        Ok(platform)
    }

    /// The PromQL figures to show: the configured ones, else the seed's
    /// dashboard panels.
    pub fn figure_specs(&self) -> Vec<crate::model::data::FigureSpec> {
        if self.figures.is_empty() {
            crate::model::data::FigureSpec::defaults()
        } else {
            self.figures.clone()
        }
    }

    /// Every source touban runs for this platform, in the order the
    /// sections list them: a cluster, database, cache, AI service and alert
    /// source each, and a region's Prometheus for its PromQL figures.
    pub fn source_ids(&self) -> Vec<crate::model::SourceId> {
        use crate::model::{SourceId, SourceKind};
        let named = |kind, region: &Spanned<String>, name: &Spanned<String>| {
            SourceId::new(region.get_ref(), kind, name.get_ref())
        };
        let mut ids: Vec<SourceId> = Vec::new();
        ids.extend(
            self.clusters
                .iter()
                .map(|c| named(SourceKind::Cluster, &c.region, &c.name)),
        );
        ids.extend(
            self.databases
                .iter()
                .map(|d| named(SourceKind::Database, &d.region, &d.name)),
        );
        ids.extend(
            self.caches
                .iter()
                .map(|c| named(SourceKind::Cache, &c.region, &c.name)),
        );
        ids.extend(
            self.ai_services
                .iter()
                .map(|a| named(SourceKind::AiService, &a.region, &a.name)),
        );
        ids.extend(
            self.alert_sources
                .iter()
                .map(|a| named(SourceKind::Alerts, &a.region, &a.name)),
        );
        ids.extend(
            self.regions
                .iter()
                .filter(|r| r.prometheus.is_some())
                .map(|r| SourceId::new(r.name.get_ref(), SourceKind::Metrics, PROMETHEUS)),
        );
        ids.extend(self.traffic.iter().flat_map(|t| {
            t.pools
                .iter()
                .map(|p| SourceId::new(p.region.get_ref(), SourceKind::Traffic, TRAFFIC))
        }));
        ids
    }

    /// The most bytes any one answer of a source may be.
    pub fn max_reply_bytes(&self) -> u64 {
        self.settings.max_reply_mib.get_ref() << 20
    }

    /// The region with this name.
    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.name.get_ref() == name)
    }

    /// How a region is named to the operator: its `display` ("Seoul"),
    /// everywhere; the id itself for a region the config does not know.
    pub fn region_display<'a>(&'a self, name: &'a str) -> &'a str {
        self.region(name).map_or(name, |r| r.display.as_str())
    }

    fn validate(&self) -> Result<(), (std::ops::Range<usize>, String)> {
        let cap = &self.settings.max_reply_mib;
        if !(1..=1024).contains(cap.get_ref()) {
            return Err((
                cap.span(),
                "max_reply_mib must be 1 to 1024 (MiB an answer of a source may be)".into(),
            ));
        }
        let delay = &self.settings.scale_down_delay_seconds;
        if *delay.get_ref() > 86_400 {
            return Err((
                delay.span(),
                "scale_down_delay_seconds must be 0 to 86400 (how long a blue-green deploy keeps the old colour scaled)".into(),
            ));
        }
        let wall = &self.wall.seconds;
        if !(1..=3600).contains(wall.get_ref()) {
            return Err((
                wall.span(),
                "[wall] seconds must be 1 to 3600 (how long the wallboard shows each pane)".into(),
            ));
        }
        let silence = &self.settings.max_silence_hours;
        if !(1..=168).contains(silence.get_ref()) {
            return Err((
                silence.span(),
                "max_silence_hours must be 1 to 168 (the longest silence the console sends)".into(),
            ));
        }
        let hold = &self.thresholds.hold_polls;
        if !(1..=100).contains(hold.get_ref()) {
            return Err((
                hold.span(),
                "hold_polls must be 1 to 100 (polls a threshold must hold before it counts)".into(),
            ));
        }
        let window = &self.thresholds.window_seconds;
        if !(1..=3600).contains(window.get_ref()) {
            return Err((
                window.span(),
                "window_seconds must be 1 to 3600 (seconds rates are computed over)".into(),
            ));
        }
        let regions = self.validate_regions()?;
        self.validate_resources(&regions)?;
        self.validate_replication()?;
        self.validate_consumers()?;
        self.validate_manifests()?;
        self.validate_infrastructure()?;
        if let Some(t) = &self.traffic {
            validate_traffic(t, &regions)?;
        }
        if let Some(c) = &self.coordination.cluster
            && !self
                .clusters
                .iter()
                .any(|k| k.name.get_ref() == c.get_ref())
        {
            return Err((
                c.span(),
                format!(
                    "[coordination] cluster `{}` is not one of the [[clusters]]",
                    c.get_ref()
                ),
            ));
        }
        Ok(())
    }

    /// Checks every `[[replication]]` pair: both ends name one database,
    /// not the same one, each replica fed once, a sane RPO.
    fn validate_replication(&self) -> Result<(), (std::ops::Range<usize>, String)> {
        let mut fed = HashSet::new();
        for r in &self.replication {
            let primary = self.replication_end(&r.primary)?;
            let replica = self.replication_end(&r.replica)?;
            if std::ptr::eq(primary, replica) {
                return Err((
                    r.replica.span(),
                    "a database cannot replicate to itself: replica names the primary".into(),
                ));
            }
            if !fed.insert(std::ptr::from_ref(replica)) {
                return Err((
                    r.replica.span(),
                    format!(
                        "`{}` is the replica of more than one [[replication]] pair",
                        r.replica.get_ref()
                    ),
                ));
            }
            if !(1..=86_400).contains(r.rpo_seconds.get_ref()) {
                return Err((
                    r.rpo_seconds.span(),
                    "rpo_seconds must be 1 to 86400 (the seconds of writes a failover may lose)"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// Checks every `[[databases.consumers]]`: one ConfigMap or Secret, a
    /// cluster of the database's region, an address to point at.
    fn validate_consumers(&self) -> Result<(), (std::ops::Range<usize>, String)> {
        for d in &self.databases {
            if let Some(r) = d.app_roles.iter().find(|r| r.get_ref().trim().is_empty()) {
                return Err((
                    r.span(),
                    "an app_roles entry is a role's name, not empty".into(),
                ));
            }

            for c in &d.consumers {
                match (&c.configmap, &c.secret) {
                    (Some(a), Some(_)) => {
                        return Err((
                            a.span(),
                            "a consumer names a configmap or a secret, not both".into(),
                        ));
                    }
                    (None, None) => {
                        return Err((
                            c.cluster.span(),
                            "a consumer names the configmap or secret holding the database's address"
                                .into(),
                        ));
                    }
                    _ => {}
                }
                let Some(k) = self
                    .clusters
                    .iter()
                    .find(|k| k.name.get_ref() == c.cluster.get_ref())
                else {
                    return Err((
                        c.cluster.span(),
                        format!(
                            "consumer cluster `{}` is not one of the [[clusters]]",
                            c.cluster.get_ref()
                        ),
                    ));
                };
                if k.region.get_ref() != d.region.get_ref() {
                    return Err((
                        c.cluster.span(),
                        format!(
                            "consumer cluster `{}` is in {}, not in {}'s region {}: re-point the applications beside the database",
                            c.cluster.get_ref(),
                            k.region.get_ref(),
                            d.name.get_ref(),
                            d.region.get_ref()
                        ),
                    ));
                }
                let key_ok = !c.key.is_empty()
                    && c.key
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'));
                if !key_ok || c.namespace.is_empty() {
                    return Err((
                        c.cluster.span(),
                        "a consumer needs its namespace and a key of letters, digits, `-`, `_` and `.` (as Kubernetes names a ConfigMap's or Secret's key)"
                            .into(),
                    ));
                }
                if let Some(h) = &c.host
                    && !crate::exec::actions::repoint::valid_host(h.get_ref())
                {
                    return Err((
                        h.span(),
                        "host is an address only: host[:port] (a URL's user, path and options stay as the key holds them)"
                            .into(),
                    ));
                }
                let replica = self.replication.iter().any(|r| {
                    self.replication_end(&r.replica)
                        .is_ok_and(|x| std::ptr::eq(x, d))
                });
                if !replica {
                    return Err((
                        c.cluster.span(),
                        format!(
                            "{} has consumers but is the replica of no [[replication]] pair: they are re-pointed when it is promoted",
                            d.name.get_ref()
                        ),
                    ));
                }
                if d.consumer_host(c).is_none() {
                    return Err((
                        c.cluster.span(),
                        format!(
                            "the consumer of {} needs `host` (the address to point at): the database has no direct.url to take it from",
                            d.name.get_ref()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The database a `[[replication]]` end names: `name`, or
    /// `region/name`.
    fn replication_end(
        &self,
        end: &Spanned<String>,
    ) -> Result<&Database, (std::ops::Range<usize>, String)> {
        let found: Vec<&Database> = self
            .databases
            .iter()
            .filter(|d| match end.get_ref().split_once('/') {
                Some((region, name)) => d.region.get_ref() == region && d.name.get_ref() == name,
                None => d.name.get_ref() == end.get_ref(),
            })
            .collect();
        match found.as_slice() {
            [one] => Ok(one),
            [] => Err((
                end.span(),
                format!(
                    "`{}` is not one of the [[databases]] (write its name, or region/name)",
                    end.get_ref()
                ),
            )),
            _ => Err((
                end.span(),
                format!(
                    "`{}` names a database in more than one region: write region/name",
                    end.get_ref()
                ),
            )),
        }
    }

    /// The databases of a `[[replication]]` pair: primary and replica.
    /// Both exist once the platform has been validated.
    pub fn replication_pair(&self, r: &Replication) -> Option<(&Database, &Database)> {
        Some((
            self.replication_end(&r.primary).ok()?,
            self.replication_end(&r.replica).ok()?,
        ))
    }

    /// The `[[replication]]` pairs whose primary is in region `from` and
    /// replica in region `to`, each with its two ends.
    pub fn pairs_between<'a>(
        &'a self,
        from: &'a str,
        to: &'a str,
    ) -> impl Iterator<Item = (&'a Replication, &'a Database, &'a Database)> + 'a {
        self.replication.iter().filter_map(move |r| {
            let (primary, replica) = self.replication_pair(r)?;
            (primary.region.get_ref() == from && replica.region.get_ref() == to)
                .then_some((r, primary, replica))
        })
    }

    /// The coordination cluster (see [`Coordination`]): its name, region
    /// and the namespace of its Leases; none when no cluster is
    /// configured.
    pub fn coordination(&self) -> Option<(String, String, String)> {
        let named = self.coordination.cluster.as_ref().map(Spanned::get_ref);
        let dr = || {
            self.regions
                .iter()
                .filter(|r| r.role == Role::Dr)
                .find_map(|r| {
                    self.clusters
                        .iter()
                        .find(|c| c.region.get_ref() == r.name.get_ref())
                })
        };
        let cluster = match named {
            Some(name) => self.clusters.iter().find(|c| c.name.get_ref() == name),
            None => dr().or_else(|| self.clusters.first()),
        }?;
        let namespace = self
            .coordination
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        Some((
            cluster.name.get_ref().clone(),
            cluster.region.get_ref().clone(),
            namespace,
        ))
    }

    /// Checks the regions; returns their names.
    fn validate_regions(&self) -> Result<HashSet<&str>, (std::ops::Range<usize>, String)> {
        let mut regions = HashSet::new();
        let mut primaries = 0;
        for r in &self.regions {
            if !regions.insert(r.name.get_ref().as_str()) {
                return Err((
                    r.name.span(),
                    format!("region `{}` is defined twice", r.name.get_ref()),
                ));
            }
            if jiff::tz::TimeZone::get(r.time_zone.get_ref()).is_err() {
                return Err((
                    r.time_zone.span(),
                    format!(
                        "unknown time zone `{}`: expected an IANA name such as `Asia/Tokyo`",
                        r.time_zone.get_ref()
                    ),
                ));
            }
            if let Some(url) = &r.prometheus {
                check_url(url, &["http", "https"])?;
            }
            primaries += usize::from(r.role == Role::Primary);
        }
        if self.regions.is_empty() {
            return Err((0..0, "no region defined: add a [[regions]] table".into()));
        }
        if primaries > 1 {
            let second = self
                .regions
                .iter()
                .filter(|r| r.role == Role::Primary)
                .nth(1);
            let span = second.map_or(0..0, |r| r.name.span());
            return Err((span, "more than one region has role = \"primary\"".into()));
        }
        Ok(regions)
    }

    /// Checks that every resource names a known region, is named once per
    /// region and kind, and can be reached.
    fn validate_resources(
        &self,
        regions: &HashSet<&str>,
    ) -> Result<(), (std::ops::Range<usize>, String)> {
        let known = || {
            self.regions
                .iter()
                .map(|r| format!("`{}`", r.name.get_ref()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let check_region = |region: &Spanned<String>| {
            if regions.contains(region.get_ref().as_str()) {
                Ok(())
            } else {
                Err((
                    region.span(),
                    format!(
                        "unknown region `{}`: expected one of {}",
                        region.get_ref(),
                        known()
                    ),
                ))
            }
        };
        let mut names = HashSet::new();
        let mut check_name = |what: &str, region: &Spanned<String>, name: &Spanned<String>| {
            check_region(region)?;
            if names.insert((
                what.to_owned(),
                region.get_ref().clone(),
                name.get_ref().clone(),
            )) {
                Ok(())
            } else {
                Err((
                    name.span(),
                    format!(
                        "{what} `{}` is defined twice in region `{}`",
                        name.get_ref(),
                        region.get_ref()
                    ),
                ))
            }
        };
        for c in &self.clusters {
            check_name("cluster", &c.region, &c.name)?;
            check_cluster(c)?;
        }
        for d in &self.databases {
            check_name("database", &d.region, &d.name)?;
            check_reach(
                &d.name,
                [d.direct.as_ref(), d.action.as_ref()],
                d.exporter.as_ref(),
                d.cloudwatch.as_ref(),
                &["postgres", "postgresql"],
            )?;
            d.azure.as_ref().map_or(Ok(()), check_azure)?;
            if let Some(endpoint) = d.rds.as_ref().and_then(|r| r.endpoint.as_ref()) {
                check_url(endpoint, &["http", "https"])?;
            }
        }
        for c in &self.caches {
            check_name("cache", &c.region, &c.name)?;
            check_reach(
                &c.name,
                [c.direct.as_ref(), c.action.as_ref()],
                c.exporter.as_ref(),
                c.cloudwatch.as_ref(),
                &["redis", "rediss"],
            )?;
            check_replicas(c)?;
            check_elasticache(c)?;
        }
        for a in &self.ai_services {
            check_name("ai service", &a.region, &a.name)?;
            for url in [Some(&a.health), Some(&a.ready), a.metrics.as_ref()]
                .into_iter()
                .flatten()
            {
                check_url(url, &["http", "https"])?;
            }
        }
        for s in &self.alert_sources {
            check_name("alert source", &s.region, &s.name)?;
            check_alert_source(s)?;
        }
        Ok(())
    }
}

/// The longest poll interval touban accepts: an hour.
pub const MAX_INTERVAL_SECONDS: u64 = 3600;

fn check_alert_source(s: &AlertSource) -> Result<(), (std::ops::Range<usize>, String)> {
    let name = s.name.get_ref();
    if let Some(every) = &s.interval_seconds
        && !(1..=MAX_INTERVAL_SECONDS).contains(every.get_ref())
    {
        return Err((
            every.span(),
            format!(
                "alert source `{name}`: interval_seconds must be 1 to {MAX_INTERVAL_SECONDS} \
                 (an alert source polled never, or once in days, shows what it cannot know)"
            ),
        ));
    }
    match (s.kind, &s.url, &s.aws_region) {
        (AlertSourceKind::Cloudwatch, _, None) => Err((
            s.name.span(),
            format!("alert source `{name}`: CloudWatch needs aws_region"),
        )),
        (AlertSourceKind::Alertmanager | AlertSourceKind::Prometheus, None, _) => {
            Err((s.name.span(), format!("alert source `{name}` needs a url")))
        }
        (_, Some(url), _) => check_url(url, &["http", "https"]),
        _ => Ok(()),
    }
}

/// Checks `[traffic]`: a readable API URL, an account id, one token
/// reference, and one pool per known region at most.
fn validate_traffic(
    t: &Traffic,
    regions: &HashSet<&str>,
) -> Result<(), (std::ops::Range<usize>, String)> {
    if !t.api.span().is_empty() {
        check_url(&t.api, &["https", "http"])?;
    }
    let hex32 = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex32(t.account.get_ref()) {
        return Err((
            t.account.span(),
            "account must be a Cloudflare account id: 32 hex digits (the dashboard's Account ID)"
                .into(),
        ));
    }
    let token = t.token.get_ref();
    if token.env.is_some() == token.file.is_some() {
        return Err((
            t.token.span(),
            "token: expected exactly one of env = \"VAR\" or file = \"/path\"".into(),
        ));
    }
    if t.pools.is_empty() {
        return Err((
            t.account.span(),
            "[traffic] has no pools: add pools = [{ region = \"…\", id = \"…\" }], one per region"
                .into(),
        ));
    }
    let mut seen = HashSet::new();
    for p in &t.pools {
        let region = p.region.get_ref();
        if !regions.contains(region.as_str()) {
            return Err((
                p.region.span(),
                format!("pool region `{region}` is not one of the [[regions]]"),
            ));
        }
        if !seen.insert(region.as_str()) {
            return Err((
                p.region.span(),
                format!("region `{region}` has a second pool: one pool per region"),
            ));
        }
        if !hex32(p.id.get_ref()) {
            return Err((
                p.id.span(),
                "a pool id is 32 hex digits (Load Balancing → Pools → the pool's ID)".into(),
            ));
        }
    }
    Ok(())
}

/// Checks a cluster's node groups' bounds and its clouds' references.
fn check_cluster(c: &Cluster) -> Result<(), (std::ops::Range<usize>, String)> {
    if let Some(endpoint) = c.eks.as_ref().and_then(|r| r.endpoint.as_ref()) {
        check_url(endpoint, &["http", "https"])?;
    }
    if let Some(a) = &c.aks {
        if aks_cluster_name(a.cluster.get_ref()).is_none() {
            return Err((
                a.cluster.span(),
                "cluster must be the AKS cluster's resource id: /subscriptions/{subscription id}/resourceGroups/{group}/providers/Microsoft.ContainerService/managedClusters/{name} (`az aks show --query id`)".into(),
            ));
        }
        check_arm(&a.api, &a.token)?;
    }
    for g in &c.node_groups {
        if !(g.min <= g.desired && g.desired <= g.max) {
            return Err((
                g.name.span(),
                format!(
                    "node group `{}`: expected min <= desired <= max, got {} / {} / {}",
                    g.name.get_ref(),
                    g.min,
                    g.desired,
                    g.max
                ),
            ));
        }
    }
    Ok(())
}

/// Checks an `azure` reference: a flexible server's resource id, an ARM
/// URL, one token reference.
fn check_azure(a: &AzureServer) -> Result<(), (std::ops::Range<usize>, String)> {
    if azure_server_name(a.server.get_ref()).is_none() {
        return Err((
            a.server.span(),
            "server must be the flexible server's resource id: /subscriptions/{subscription id}/resourceGroups/{group}/providers/Microsoft.DBforPostgreSQL/flexibleServers/{name} (the portal's JSON View, or `az postgres flexible-server show --query id`)".into(),
        ));
    }
    check_arm(&a.api, &a.token)
}

/// Checks an ARM endpoint (https, or http to a loopback address) and one
/// token reference.
fn check_arm(
    api: &Spanned<String>,
    token: &Spanned<SecretRef>,
) -> Result<(), (std::ops::Range<usize>, String)> {
    if !api.span().is_empty() {
        check_url(api, &["https", "http"])?;
        // The token is a bearer token: in the clear only to this machine
        // (an emulator, the sandbox).
        let loopback = url::Url::parse(api.get_ref()).is_ok_and(|u| {
            u.scheme() == "https"
                || matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
        });
        if !loopback {
            return Err((
                api.span(),
                "api must be https:// (http:// only to a loopback address: the token would cross the network in the clear)".into(),
            ));
        }
    }
    let span = token.span();
    let token = token.get_ref();
    if token.env.is_some() == token.file.is_some() {
        return Err((
            span,
            "token: expected exactly one of env = \"VAR\" or file = \"/path\"".into(),
        ));
    }
    Ok(())
}

/// The cluster's name in an AKS managed cluster's resource id, if `id`
/// is one (segment names matched whatever their case, as ARM does).
pub fn aks_cluster_name(id: &str) -> Option<&str> {
    arm_name(id, "Microsoft.ContainerService", "managedClusters")
}

/// The last segment of an ARM resource id of `namespace`/`kind` in a
/// resource group.
fn arm_name<'a>(id: &'a str, namespace: &str, kind: &str) -> Option<&'a str> {
    let parts: Vec<&str> = id.split('/').collect();
    let [
        "",
        subscriptions,
        subscription,
        groups,
        group,
        providers,
        ns,
        k,
        name,
    ] = parts.as_slice()
    else {
        return None;
    };
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let guid = subscription.len() == 36
        && subscription.bytes().enumerate().all(|(i, b)| {
            if [8, 13, 18, 23].contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    (is(subscriptions, "subscriptions")
        && guid
        && is(groups, "resourceGroups")
        && !group.is_empty()
        && is(providers, "providers")
        && is(ns, namespace)
        && is(k, kind)
        && !name.is_empty())
    .then_some(*name)
}

/// The server's name in a flexible server's resource id, if `id` is one
/// (segment names are matched as ARM does, whatever their case).
pub fn azure_server_name(id: &str) -> Option<&str> {
    arm_name(id, "Microsoft.DBforPostgreSQL", "flexibleServers")
}

/// `[direct, action]`: the monitoring login and the executor's, each
/// checked alike.
fn check_reach(
    name: &Spanned<String>,
    [direct, action]: [Option<&Direct>; 2],
    exporter: Option<&Spanned<String>>,
    cloudwatch: Option<&CloudWatchRef>,
    schemes: &[&str],
) -> Result<(), (std::ops::Range<usize>, String)> {
    if let Some(a) = action {
        check_direct(a, schemes)?;
    }
    if direct.is_none() && exporter.is_none() && cloudwatch.is_none() {
        return Err((
            name.span(),
            format!(
                "`{}` has no way to reach it: add direct, exporter or cloudwatch",
                name.get_ref()
            ),
        ));
    }
    if let Some(d) = direct {
        check_direct(d, schemes)?;
    }
    if let Some(url) = exporter {
        check_url(url, &["http", "https"])?;
    }
    if let Some(endpoint) = cloudwatch.and_then(|c| c.endpoint.as_ref()) {
        check_url(endpoint, &["http", "https"])?;
    }
    Ok(())
}

/// A direct login: its URL of one of `schemes`, its password a reference.
fn check_direct(d: &Direct, schemes: &[&str]) -> Result<(), (std::ops::Range<usize>, String)> {
    check_url(&d.url, schemes)?;
    if let Some(secret) = &d.password {
        let s = secret.get_ref();
        if s.env.is_some() == s.file.is_some() {
            return Err((
                secret.span(),
                "password: expected exactly one of env = \"VAR\" or file = \"/path\"".into(),
            ));
        }
    }
    Ok(())
}

/// A cache's `elasticache`: not behind Sentinel, its endpoint a URL.
fn check_elasticache(c: &Cache) -> Result<(), (std::ops::Range<usize>, String)> {
    let Some(e) = &c.elasticache else {
        return Ok(());
    };
    if c.kind == CacheKind::RedisSentinel {
        return Err((
            c.name.span(),
            format!(
                "`{}`: elasticache is for kind = \"redis\" or \"redis-cluster\" (ElastiCache has no Sentinel)",
                c.name.get_ref()
            ),
        ));
    }
    match &e.endpoint {
        Some(endpoint) => check_url(endpoint, &["http", "https"]),
        None => Ok(()),
    }
}

/// A cache's `replicas`: for kind `redis` only, each `host:port`.
fn check_replicas(c: &Cache) -> Result<(), (std::ops::Range<usize>, String)> {
    if !c.replicas.is_empty() && c.kind != CacheKind::Redis {
        return Err((
            c.name.span(),
            format!(
                "`{}`: replicas are for kind = \"redis\" (behind Sentinel or in a Redis Cluster, they fail over their own way)",
                c.name.get_ref()
            ),
        ));
    }
    // Never quoted: an entry may hold what it must not.
    let host_port = |r: &str| {
        r.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty()
                && port.parse::<u16>().is_ok()
                && !host.contains(['@', '/', '[', ']', ':', ' '])
        })
    };
    if let Some(at) = c.replicas.iter().position(|r| !host_port(r)) {
        return Err((
            c.name.span(),
            format!(
                "`{}`: replicas[{at}] is not host:port (a name or IPv4 address and a port; no scheme, no credentials: the password is direct's)",
                c.name.get_ref()
            ),
        ));
    }
    Ok(())
}

/// Checks a URL of the config: it parses (with the `url` crate), has a
/// scheme of `schemes` and a host, and carries no credential. Messages
/// never quote the URL: it may hold the very secret being refused.
fn check_url(
    url: &Spanned<String>,
    schemes: &[&str],
) -> Result<(), (std::ops::Range<usize>, String)> {
    let expected = || {
        schemes
            .iter()
            .map(|s| format!("{s}://"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let parsed = url::Url::parse(url.get_ref()).map_err(|e| {
        (
            url.span(),
            format!(
                "not a URL touban can read ({e}): expected one starting with {}; \
                 a password in it goes in password = {{ env = \"VAR\" }} instead",
                expected()
            ),
        )
    })?;
    if !schemes.contains(&parsed.scheme()) {
        return Err((
            url.span(),
            format!(
                "a URL starting with `{}://` cannot be used here: expected one starting with {}",
                parsed.scheme(),
                expected()
            ),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err((url.span(), "the URL has no host".into()));
    }
    if let Some(what) = super::secret::credential_in(&parsed) {
        return Err((
            url.span(),
            format!(
                "the URL carries {what}: touban keeps credentials out of URLs, which it shows \
                 and logs; remove it (a database's or cache's password goes in \
                 password = {{ env = \"VAR\" }} or password = {{ file = \"/path\" }})"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_valid() {
        let p = Platform::parse("example.toml", EXAMPLE).expect("example parses");
        assert_eq!(p.environment, "iworkz-production");
        assert_eq!(p.regions.len(), 2);
        assert!(p.clusters.iter().any(|c| c.name.get_ref() == "eks-tokyo"));
    }

    #[test]
    fn the_coordination_cluster_is_the_dr_region_s_unless_named() {
        let p = Platform::parse("example.toml", EXAMPLE).expect("example parses");
        let (cluster, region, namespace) = p.coordination().expect("one");
        let dr = p
            .regions
            .iter()
            .find(|r| r.role == Role::Dr)
            .expect("a DR region");
        assert_eq!(&region, dr.name.get_ref());
        assert!(cluster.starts_with("aks"), "{cluster}");
        assert_eq!(namespace, "default");
        let named =
            format!("{EXAMPLE}\n[coordination]\ncluster = \"eks-tokyo\"\nnamespace = \"touban\"\n");
        let p = Platform::parse("f.toml", &named).expect("parses");
        assert_eq!(
            p.coordination(),
            Some(("eks-tokyo".into(), "tokyo".into(), "touban".into()))
        );
        let unknown = format!("{EXAMPLE}\n[coordination]\ncluster = \"gke-nowhere\"\n");
        let err = Platform::parse("f.toml", &unknown).expect_err("unknown");
        assert!(err.message.contains("not one of the [[clusters]]"), "{err}");
    }

    #[test]
    fn replication_pairs_name_one_database_each_located_when_wrong() {
        let p = Platform::parse("example.toml", EXAMPLE).expect("example parses");
        let (primary, replica) = p.replication_pair(&p.replication[0]).expect("pair");
        assert_eq!(primary.region.get_ref(), "tokyo");
        assert_eq!(replica.region.get_ref(), "korea");
        let pair = |primary: &str, replica: &str, rpo: u64| {
            format!(
                "{EXAMPLE}\n[[replication]]\nprimary = \"{primary}\"\nreplica = \"{replica}\"\nkind = \"physical\"\nrpo_seconds = {rpo}\n"
            )
        };
        let lines = EXAMPLE.lines().count();
        for (src, says, line) in [
            (
                pair("tokyo/iworkz-production-postgres", "nowhere-db", 30),
                "`nowhere-db` is not one of the [[databases]]",
                lines + 4,
            ),
            (
                pair("iworkz-dr-postgres", "korea/iworkz-dr-postgres", 30),
                "cannot replicate to itself",
                lines + 4,
            ),
            (
                pair("iworkz-production-postgres", "iworkz-dr-postgres", 30),
                "the replica of more than one",
                lines + 4,
            ),
            (
                pair("iworkz-dr-postgres", "iworkz-production-postgres", 0),
                "rpo_seconds must be 1 to 86400",
                lines + 6,
            ),
        ] {
            let err = Platform::parse("f.toml", &src).expect_err(says);
            assert!(err.message.contains(says), "{err}");
            assert_eq!(err.line, line, "{err}");
        }
        let kind = format!(
            "{EXAMPLE}\n[[replication]]\nprimary = \"a\"\nreplica = \"b\"\nkind = \"snapshot\"\nrpo_seconds = 30\n"
        );
        let err = Platform::parse("f.toml", &kind).expect_err("unknown kind");
        assert!(err.message.contains("physical"), "{err}");
    }

    #[test]
    fn a_consumer_names_one_object_of_its_region_and_an_address_only() {
        let p = Platform::parse("example.toml", EXAMPLE).expect("example parses");
        let dr = p
            .databases
            .iter()
            .find(|d| d.name.get_ref() == "iworkz-dr-postgres")
            .expect("the DR database");
        assert_eq!(dr.consumers.len(), 1);
        let consumer = |body: &str| {
            format!(
                "{EXAMPLE}\n[[databases.consumers]]\ncluster = \"aks-korea\"\nnamespace = \"ns\"\n{body}\n"
            )
        };
        for (body, says) in [
            (
                "secret = \"s\"\nkey = \"DATABASE_URL\"\nhost = \"postgres://u:pw@h:5432/db\"",
                "host is an address only",
            ),
            (
                "secret = \"s\"\nkey = \"DATABASE URL\"\nhost = \"h:5432\"",
                "a key of letters",
            ),
            (
                "secret = \"s\"\nconfigmap = \"c\"\nkey = \"K\"\nhost = \"h\"",
                "not both",
            ),
            ("key = \"K\"\nhost = \"h\"", "names the configmap or secret"),
            ("secret = \"s\"\nkey = \"K\"", "needs `host`"),
        ] {
            let err = Platform::parse("f.toml", &consumer(body)).expect_err(says);
            assert!(err.message.contains(says), "{err}");
            assert!(!err.to_string().contains("pw@"), "{err}");
        }
        let tokyo = format!(
            "{EXAMPLE}\n[[databases.consumers]]\ncluster = \"eks-tokyo\"\nnamespace = \"ns\"\nsecret = \"s\"\nkey = \"K\"\nhost = \"h\"\n"
        );
        let err = Platform::parse("f.toml", &tokyo).expect_err("another region");
        assert!(err.message.contains("beside the database"), "{err}");
    }

    #[test]
    fn an_azure_server_is_its_resource_id_and_one_token_located_when_wrong() {
        let id = "/subscriptions/8f3c2a41-6b7d-4e59-a0c1-3d5e7f9b2a64/resourceGroups/iworkz-dr/providers/Microsoft.DBforPostgreSQL/flexibleServers/iworkz-dr-postgres";
        assert_eq!(azure_server_name(id), Some("iworkz-dr-postgres"));
        assert_eq!(
            azure_server_name(&id.replace("flexibleServers", "FLEXIBLESERVERS")),
            Some("iworkz-dr-postgres"),
            "ARM matches segment names whatever their case"
        );
        for bad in [
            "iworkz-dr-postgres",
            &id.replace("8f3c2a41-", "8f3c2a41"),
            &id.replace("Microsoft.DBforPostgreSQL", "Microsoft.Sql"),
            &format!("{id}/databases/x"),
        ] {
            assert_eq!(azure_server_name(bad), None, "{bad}");
        }
        let db = |azure: &str| {
            format!(
                "{EXAMPLE}\n[[databases]]\nname = \"az\"\nregion = \"korea\"\nkind = \"postgres\"\nexporter = \"http://e:9187/metrics\"\nazure = {azure}\n"
            )
        };
        let line = EXAMPLE.lines().count() + 7;
        let ok = db(&format!(
            "{{ server = \"{id}\", token = {{ env = \"ARM_TOKEN\" }} }}"
        ));
        let p = Platform::parse("f.toml", &ok).expect("valid");
        let a = p
            .databases
            .last()
            .and_then(|d| d.azure.as_ref())
            .expect("azure");
        assert_eq!(a.api.get_ref(), "https://management.azure.com");
        for (azure, says) in [
            (
                "{ server = \"iworkz-dr-postgres\", token = { env = \"T\" } }".to_owned(),
                "server must be the flexible server's resource id",
            ),
            (
                format!("{{ server = \"{id}\", token = {{ env = \"T\", file = \"/t\" }} }}"),
                "exactly one of env",
            ),
            (
                format!("{{ server = \"{id}\", token = \"eyJ0eXAi\" }}"),
                "a secret is named, never written",
            ),
        ] {
            let err = Platform::parse("f.toml", &db(&azure)).expect_err(&azure);
            assert!(err.message.contains(says), "{azure}: {err}");
            assert_eq!(err.line, line, "{azure}: {err}");
            assert!(!err.to_string().contains("eyJ0eXAi"), "{err}");
        }
    }

    #[test]
    fn credentials_in_any_url_are_refused_without_being_quoted() {
        let base = "environment = \"t\"\n[[regions]]\nname = \"tokyo\"\ndisplay = \"Tokyo\"\nrole = \"primary\"\ntime_zone = \"Asia/Tokyo\"\n";
        for (extra, secret) in [
            ("prometheus = \"http://u:s3cr3t@p:9090\"\n", "s3cr3t"),
            (
                "[[databases]]\nname = \"d\"\nregion = \"tokyo\"\nkind = \"postgres\"\ndirect = { url = \"postgres://u:pa/ss@h:5432/db\" }\n",
                "pa/ss",
            ),
            (
                "[[databases]]\nname = \"d\"\nregion = \"tokyo\"\nkind = \"postgres\"\ndirect = { url = \"postgres://u@h/db?password=hunter2\" }\n",
                "hunter2",
            ),
            (
                "[[databases]]\nname = \"d\"\nregion = \"tokyo\"\nkind = \"postgres\"\nexporter = \"http://x:topsecret@h:9187/metrics\"\n",
                "topsecret",
            ),
            (
                "[[databases]]\nname = \"d\"\nregion = \"tokyo\"\nkind = \"postgres\"\ndirect = { url = \"mysql://u:wrongscheme@h/db\" }\n",
                "wrongscheme",
            ),
            (
                "[[databases]]\nname = \"d\"\nregion = \"tokyo\"\nkind = \"postgres\"\ndirect = { url = \"postgres://u@h/db\", password = \"plain\" }\n",
                "plain",
            ),
            (
                "[[alert_sources]]\nname = \"am\"\nregion = \"tokyo\"\nkind = \"alertmanager\"\nurl = \"http://h:9093/?token=tok123\"\n",
                "tok123",
            ),
        ] {
            let src = if extra.starts_with("prometheus") {
                format!("{base}{extra}")
            } else {
                format!("{base}\n{extra}")
            };
            let err = Platform::parse("f.toml", &src)
                .expect_err(extra)
                .to_string();
            assert!(
                !err.contains(secret),
                "{extra}: the error quotes the secret:\n{err}"
            );
        }
    }

    #[test]
    fn intervals_are_bounded() {
        let src = "environment = \"t\"\n[[regions]]\nname = \"tokyo\"\ndisplay = \"Tokyo\"\nrole = \"primary\"\ntime_zone = \"Asia/Tokyo\"\n\n[[alert_sources]]\nname = \"am\"\nregion = \"tokyo\"\nkind = \"alertmanager\"\nurl = \"http://h:9093\"\ninterval_seconds = 0\n";
        let err = Platform::parse("f.toml", src).expect_err("zero");
        assert_eq!((err.line, err.col), (13, 20), "{err}");
        assert!(err.message.contains("1 to 3600"), "{err}");
    }
}
