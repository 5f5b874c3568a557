//! What the Rollouts and Scaling panes derive from a cluster's rows:
//! rollout state by kubectl's rules, revision history, blue / green
//! releases and their faults, HPA faults, and drift between two regions.
//! Pure functions over [`ClusterState`], so every rule is tested here.

use std::collections::BTreeMap;

use super::cluster::{ClusterState, DeploymentRow, Health, HpaRow, ReplicaSetRow, ServiceRow};

/// A deployment's rollout, as `kubectl rollout status` judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutState {
    /// Every replica updated and available.
    Complete,
    /// Under way, and what it waits for.
    Progressing(String),
    /// Past its progress deadline.
    Stalled(String),
}

impl RolloutState {
    /// The word shown.
    pub fn word(&self) -> &'static str {
        match self {
            RolloutState::Complete => "complete",
            RolloutState::Progressing(_) => "progressing",
            RolloutState::Stalled(_) => "stalled",
        }
    }

    /// What it waits for, if anything.
    pub fn detail(&self) -> &str {
        match self {
            RolloutState::Complete => "",
            RolloutState::Progressing(s) | RolloutState::Stalled(s) => s,
        }
    }
}

/// kubectl's `DeploymentStatusViewer`: the spec must be observed, then
/// every replica updated, old ones gone and the updated ones available.
pub fn rollout_state(d: &DeploymentRow) -> RolloutState {
    if d.generation > d.observed_generation {
        return RolloutState::Progressing(
            "waiting for the deployment spec update to be observed".into(),
        );
    }
    if d.progressing.as_deref() == Some("ProgressDeadlineExceeded") {
        return RolloutState::Stalled(format!(
            "exceeded its progress deadline ({} of {} updated replicas available)",
            d.available, d.desired
        ));
    }
    if d.updated < d.desired {
        return RolloutState::Progressing(format!(
            "{} of {} new replicas updated",
            d.updated, d.desired
        ));
    }
    if d.replicas > d.updated {
        return RolloutState::Progressing(format!(
            "{} old replicas pending termination",
            d.replicas - d.updated
        ));
    }
    if d.available < d.updated {
        return RolloutState::Progressing(format!(
            "{} of {} updated replicas available",
            d.available, d.updated
        ));
    }
    RolloutState::Complete
}

/// How many of a deployment's revisions the Rollouts pane lists (and its
/// revision choice moves over), newest first.
pub const SHOWN_REVISIONS: usize = 5;

/// A deployment's ReplicaSets, newest revision first.
pub fn revisions<'a>(c: &'a ClusterState, d: &DeploymentRow) -> Vec<&'a ReplicaSetRow> {
    let prefix = format!("{}/", d.namespace);
    let mut out: Vec<&ReplicaSetRow> = c
        .replica_sets
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(_, r)| r)
        .filter(|r| r.owner.as_deref() == Some(d.name.as_str()))
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.revision));
    out
}

/// The image's tag (after the last `:` past the last `/`), or the image.
pub fn image_tag(image: &str) -> &str {
    let name = image.rsplit('/').next().unwrap_or(image);
    name.rsplit_once(':').map_or(image, |(_, tag)| tag)
}

/// A Service of a blue / green release and what it routes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    /// The Service.
    pub service: &'a ServiceRow,
    /// The colour its selector requires; `None`: both colours serve.
    pub colour: Option<&'a str>,
    /// Ready pods its selector matches.
    pub ready_pods: usize,
}

/// A blue / green release: deployments of one `app` told apart by `color`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release<'a> {
    /// Namespace.
    pub namespace: &'a str,
    /// The `app` label.
    pub app: &'a str,
    /// Its deployments, by colour.
    pub colours: Vec<&'a DeploymentRow>,
    /// The Services that select it.
    pub routes: Vec<Route<'a>>,
}

impl<'a> Release<'a> {
    /// The colour its Services route to, when they agree on one.
    pub fn live(&self) -> Option<&'a str> {
        let mut colours = self.routes.iter().map(|r| r.colour);
        let first = colours.next()??;
        colours.all(|c| c == Some(first)).then_some(first)
    }

    /// The deployment of the live colour.
    pub fn live_deployment(&self) -> Option<&'a DeploymentRow> {
        let live = self.live()?;
        self.colours
            .iter()
            .copied()
            .find(|d| d.color.as_deref() == Some(live))
    }
}

/// Ready pods in `namespace` that every `key=value` of `selector` matches.
fn ready_pods(c: &ClusterState, namespace: &str, selector: &[(String, String)]) -> usize {
    if selector.is_empty() {
        return 0;
    }
    let prefix = format!("{namespace}/");
    c.pods
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(_, p)| p.is_ready() && p.matches(selector))
        .count()
}

/// Every blue / green release of the cluster, by namespace and app.
pub fn releases(c: &ClusterState) -> Vec<Release<'_>> {
    let mut by_app: BTreeMap<(&str, &str), Vec<&DeploymentRow>> = BTreeMap::new();
    for d in c.deployments.values() {
        if let (Some(app), Some(_)) = (d.app.as_deref(), d.color.as_deref()) {
            by_app
                .entry((d.namespace.as_str(), app))
                .or_default()
                .push(d);
        }
    }
    by_app
        .into_iter()
        .map(|((namespace, app), mut colours)| {
            colours.sort_by(|a, b| a.color.cmp(&b.color));
            let routes = c
                .services
                .values()
                .filter(|s| s.namespace == namespace)
                .filter(|s| s.selects("app") == Some(app))
                .map(|s| Route {
                    service: s,
                    colour: s.selects("color"),
                    ready_pods: ready_pods(c, namespace, &s.selector),
                })
                .collect();
            Release {
                namespace,
                app,
                colours,
                routes,
            }
        })
        .collect()
}

/// Something wrong that a pane flags, and how badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How bad.
    pub health: Health,
    /// What it is about (`iworkz-production/backend-api-service`).
    pub subject: String,
    /// What is wrong, and what follows from it.
    pub text: String,
}

/// The blue / green faults of a cluster: a Service that does not select a
/// colour (both serve), Services of one release that disagree on the live
/// colour, and a Service that matches no ready pod.
pub fn release_findings(releases: &[Release<'_>]) -> Vec<Finding> {
    let mut out = Vec::new();
    for r in releases {
        for route in &r.routes {
            let subject = format!("{}/{}", r.namespace, route.service.name);
            if route.colour.is_none() {
                out.push(Finding {
                    health: Health::Crit,
                    subject: subject.clone(),
                    text: format!(
                        "selects app={} without a color: both colours serve traffic",
                        r.app
                    ),
                });
            }
            if route.ready_pods == 0 {
                out.push(Finding {
                    health: Health::Crit,
                    subject,
                    text: "its selector matches no ready pod: the Service has no endpoints".into(),
                });
            }
        }
        let mut colours: Vec<Option<&str>> = r.routes.iter().map(|x| x.colour).collect();
        colours.sort_unstable();
        colours.dedup();
        if colours.len() > 1 {
            out.push(Finding {
                health: Health::Warn,
                subject: format!("{}/{}", r.namespace, r.app),
                text: format!(
                    "its Services disagree on the live colour ({})",
                    r.routes
                        .iter()
                        .map(|x| format!("{} → {}", x.service.name, x.colour.unwrap_or("both")))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    out
}

/// An HPA's fault: its target does not exist, or is a colour that is not
/// live (the live colour would never autoscale). `None` when it is sound.
pub fn hpa_fault(c: &ClusterState, releases: &[Release<'_>], h: &HpaRow) -> Option<String> {
    if h.target_kind != "Deployment" {
        return None;
    }
    let Some(target) = c.deployments.get(&format!("{}/{}", h.namespace, h.target)) else {
        let hint = releases
            .iter()
            .find(|r| r.namespace == h.namespace && r.app == h.target)
            .and_then(Release::live)
            .map(|live| format!(": the live colour is {}-{live}", h.target))
            .unwrap_or_default();
        return Some(format!(
            "targets Deployment {}, which does not exist{hint}",
            h.target
        ));
    };
    let (Some(app), Some(colour)) = (target.app.as_deref(), target.color.as_deref()) else {
        return None;
    };
    let live = releases
        .iter()
        .find(|r| r.namespace == h.namespace && r.app == app)
        .and_then(Release::live)?;
    (live != colour).then(|| {
        format!(
            "targets {} ({colour}) but {live} is live: the live colour never autoscales",
            h.target
        )
    })
}

/// One difference between the same workload in two regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// What differs (`iworkz-production/backend-api`).
    pub subject: String,
    /// Which property (`image`, `replicas`, `HPA bounds`, `data`).
    pub what: &'static str,
    /// Its value in the first cluster.
    pub left: String,
    /// Its value in the second.
    pub right: String,
    /// Expected of a standby (fewer replicas), so shown but not flagged.
    pub expected: bool,
}

/// A workload's identity across regions: a release by its app (whichever
/// colour is live), any other deployment by its name.
pub fn workloads(c: &ClusterState) -> BTreeMap<String, &DeploymentRow> {
    let mut out = BTreeMap::new();
    for r in releases(c) {
        if let Some(d) = r.live_deployment() {
            out.insert(format!("{}/{}", r.namespace, r.app), d);
        }
    }
    for (k, d) in &c.deployments {
        if d.color.is_none() {
            out.insert(k.clone(), d);
        }
    }
    out
}

/// The same workloads in two clusters compared: image tag and replicas of
/// the live deployment, HPA bounds, ConfigMap data. `right_standby`: the
/// second is a warm standby, so fewer replicas there are expected.
pub fn drift(left: &ClusterState, right: &ClusterState, right_standby: bool) -> Vec<Drift> {
    let mut out = Vec::new();
    let (l, r) = (workloads(left), workloads(right));
    for (k, a) in &l {
        let Some(b) = r.get(k) else {
            continue;
        };
        if a.image != b.image {
            out.push(Drift {
                subject: k.clone(),
                what: "image",
                left: image_tag(&a.image).to_owned(),
                right: image_tag(&b.image).to_owned(),
                expected: false,
            });
        }
        if a.desired != b.desired {
            out.push(Drift {
                subject: k.clone(),
                what: "replicas",
                left: a.desired.to_string(),
                right: b.desired.to_string(),
                expected: right_standby && b.desired < a.desired && b.desired > 0,
            });
        }
    }
    for (k, a) in &left.hpas {
        if let Some(b) = right.hpas.get(k)
            && (a.min, a.max) != (b.min, b.max)
        {
            out.push(Drift {
                subject: k.clone(),
                what: "HPA bounds",
                left: format!("{}..{}", a.min, a.max),
                right: format!("{}..{}", b.min, b.max),
                expected: false,
            });
        }
    }
    for (k, a) in &left.config_maps {
        if a.name == "kube-root-ca.crt" {
            continue;
        }
        if let Some(b) = right.config_maps.get(k)
            && a.hash != b.hash
        {
            out.push(Drift {
                subject: k.clone(),
                what: "data",
                left: format!("{} keys #{:08x}", a.keys, a.hash >> 32),
                right: format!("{} keys #{:08x}", b.keys, b.hash >> 32),
                expected: false,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cluster::{ConfigMapRow, PodRow, Utilisation};

    fn deployment(name: &str, colour: Option<&str>, replicas: i32, image: &str) -> DeploymentRow {
        DeploymentRow {
            namespace: "p".into(),
            name: name.into(),
            desired: replicas,
            ready: replicas,
            updated: replicas,
            available: replicas,
            image: image.into(),
            color: colour.map(Into::into),
            progressing: Some("NewReplicaSetAvailable".into()),
            replicas,
            generation: 1,
            observed_generation: 1,
            app: Some("api".into()),
            revision: Some(1),
            created: None,
            restarted_at: None,
            requests: (250, 512 << 20),
        }
    }

    fn service(name: &str, selector: &[(&str, &str)]) -> ServiceRow {
        ServiceRow {
            namespace: "p".into(),
            name: name.into(),
            app: Some("api".into()),
            selector: selector
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn pod(name: &str, colour: &str) -> PodRow {
        PodRow {
            namespace: "p".into(),
            name: name.into(),
            status: "Running".into(),
            ready: 1,
            containers: 1,
            restarts: 0,
            node: "n".into(),
            created: None,
            startup: std::time::Duration::ZERO,
            labels: vec![
                ("app".into(), "api".into()),
                ("color".into(), colour.into()),
            ],
            ports: Vec::new(),
            container_names: Vec::new(),
        }
    }

    fn hpa(target: &str) -> HpaRow {
        HpaRow {
            namespace: "p".into(),
            name: "api-hpa".into(),
            target_kind: "Deployment".into(),
            target: target.into(),
            min: 3,
            max: 20,
            current: 3,
            desired: 3,
            cpu: Utilisation::default(),
            memory: Utilisation::default(),
            last_scale: None,
            failing: Vec::new(),
        }
    }

    fn cluster(services: &[ServiceRow]) -> ClusterState {
        let mut c = ClusterState::default();
        for d in [
            deployment("api-blue", Some("blue"), 3, "r/api:2.0"),
            deployment("api-green", Some("green"), 0, "r/api:1.9"),
        ] {
            c.deployments.insert(format!("p/{}", d.name), d);
        }
        for p in [pod("api-blue-1", "blue"), pod("api-blue-2", "blue")] {
            c.pods.insert(format!("p/{}", p.name), p);
        }
        for s in services {
            c.services.insert(format!("p/{}", s.name), s.clone());
        }
        c
    }

    #[test]
    fn rollout_state_follows_kubectl() {
        let mut d = deployment("api", None, 3, "r/api:2.0");
        assert_eq!(rollout_state(&d), RolloutState::Complete);
        d.generation = 2;
        assert_eq!(rollout_state(&d).word(), "progressing");
        d.observed_generation = 2;
        d.updated = 1;
        d.replicas = 4;
        assert_eq!(rollout_state(&d).detail(), "1 of 3 new replicas updated");
        d.updated = 3;
        assert_eq!(
            rollout_state(&d).detail(),
            "1 old replicas pending termination"
        );
        d.replicas = 3;
        d.available = 2;
        assert_eq!(
            rollout_state(&d).detail(),
            "2 of 3 updated replicas available"
        );
        d.progressing = Some("ProgressDeadlineExceeded".into());
        assert_eq!(rollout_state(&d).word(), "stalled");
    }

    #[test]
    fn a_sound_release_has_a_live_colour_and_no_findings() {
        let c = cluster(&[service("api-service", &[("app", "api"), ("color", "blue")])]);
        let rs = releases(&c);
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].live(), Some("blue"));
        assert_eq!(rs[0].routes[0].ready_pods, 2);
        assert!(release_findings(&rs).is_empty());
        assert_eq!(hpa_fault(&c, &rs, &hpa("api-blue")), None);
    }

    #[test]
    fn release_faults_are_flagged() {
        let c = cluster(&[
            service("api-service", &[("app", "api")]),
            service("api-internal", &[("app", "api"), ("color", "green")]),
        ]);
        let rs = releases(&c);
        assert_eq!(rs[0].live(), None);
        let texts: Vec<String> = release_findings(&rs).into_iter().map(|f| f.text).collect();
        for expected in ["both colours serve", "no ready pod", "disagree"] {
            assert!(
                texts.iter().any(|t| t.contains(expected)),
                "{expected}: {texts:?}"
            );
        }
        assert_eq!(texts.len(), 3, "{texts:?}");
    }

    #[test]
    fn an_hpa_on_a_missing_or_idle_colour_is_a_fault() {
        let c = cluster(&[service("api-service", &[("app", "api"), ("color", "blue")])]);
        let rs = releases(&c);
        let missing = hpa_fault(&c, &rs, &hpa("api")).expect("missing target");
        assert!(
            missing.contains("does not exist: the live colour is api-blue"),
            "{missing}"
        );
        let idle = hpa_fault(&c, &rs, &hpa("api-green")).expect("idle colour");
        assert!(idle.contains("never autoscales"), "{idle}");
    }

    #[test]
    fn drift_compares_the_live_colours_and_config() {
        let svc = [service("api-service", &[("app", "api"), ("color", "blue")])];
        let tokyo = cluster(&svc);
        let mut korea = cluster(&svc);
        assert!(drift(&tokyo, &korea, true).is_empty());
        if let Some(d) = korea.deployments.get_mut("p/api-blue") {
            d.image = "r/api:1.9".into();
            d.desired = 1;
        }
        let cm = |hash| ConfigMapRow {
            namespace: "p".into(),
            name: "api-config".into(),
            keys: 2,
            hash,
        };
        let mut tokyo = tokyo;
        tokyo.config_maps.insert("p/api-config".into(), cm(1 << 40));
        korea.config_maps.insert("p/api-config".into(), cm(2 << 40));
        let d = drift(&tokyo, &korea, true);
        let found: Vec<(&str, &str, &str, bool)> = d
            .iter()
            .map(|d| (d.what, d.left.as_str(), d.right.as_str(), d.expected))
            .collect();
        assert_eq!(
            found,
            [
                ("image", "2.0", "1.9", false),
                ("replicas", "3", "1", true),
                ("data", "2 keys #00000100", "2 keys #00000200", false),
            ]
        );
    }

    #[test]
    fn image_tags() {
        assert_eq!(image_tag("iworkz/backend-api:2.14.0"), "2.14.0");
        assert_eq!(image_tag("registry:5000/api"), "registry:5000/api");
        assert_eq!(image_tag("api"), "api");
    }
}
