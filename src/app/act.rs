//! Acting: an operational command becomes an [`ActionRequest`] on the
//! selected object, passes the safety gate (read-only, by the setting that
//! made it so), goes to the executor as an effect, and the plan that comes
//! back is shown in a confirmation dialog. Nothing here performs I/O.

use super::overlay::{CommandLine, ConfirmDialog, Confirmed, Overlay};
use super::{App, Effect, Level, Said};
use crate::model::action::{ActionKind, ActionRequest, ObjectKind, Target};
use crate::model::cluster::ClusterView;
use crate::model::plan::{Plan, Refusal};
use crate::model::{ExecCommand, JobId, JobOutcome, Pane};

/// The most replicas a scale may ask for (the planner refuses more).
const MAX_REPLICAS: u32 = 500;

impl App {
    /// An operational command: the request it makes of the executor.
    pub(in crate::app) fn act(&mut self, command: crate::model::Command) {
        use crate::model::Command;
        match command {
            Command::Scale(arg) => self.scale(&arg),
            Command::Restart => self.restart(),
            Command::HpaMin(arg) => self.hpa_bound(&arg, true),
            Command::HpaMax(arg) => self.hpa_bound(&arg, false),
            Command::Deploy(arg) => self.deploy(&arg),
            Command::Revert => self.revert(),
            Command::RetargetHpa => self.retarget_hpa(),
            Command::DeletePod => self.delete_pod(),
            Command::SetImage(arg) => self.set_image(&arg),
            Command::Undo(arg) => self.undo(&arg),
            Command::Silence(arg) => self.silence(&arg),
            Command::Expire => self.expire(),
            Command::Switchover(arg) => self.failover(&arg, true),
            Command::Promote(arg) => self.failover(&arg, false),
            Command::Fence(arg) => self.fence(&arg, true),
            Command::Unfence(arg) => self.fence(&arg, false),
            Command::Lockout(arg) => self.lockout(&arg, true),
            Command::Unlock(arg) => self.lockout(&arg, false),
            Command::CacheFailover(arg) => self.cache_action(&arg, ActionKind::CacheFailover),
            Command::CachePromote(arg) => self.cache_action(&arg, ActionKind::CachePromote),
            Command::RdsFailover(arg) => self.rds_action(&arg, ActionKind::RdsFailover),
            Command::NodeGroup(arg) => self.node_group(&arg),
            Command::Apply(arg) => self.apply_set(&arg),
            Command::InfraPlan(arg) => self.infra(&arg, "plan"),
            Command::InfraApply(arg) => self.infra(&arg, "apply"),
            Command::RdsPromote(arg) => self.rds_action(&arg, ActionKind::RdsPromote),
            Command::DisablePool(arg) => self.traffic_pool(&arg, false),
            Command::EnablePool(arg) => self.traffic_pool(&arg, true),
            Command::FailoverRegion(arg) => self.failover_region(&arg, false),
            Command::FailbackRegion(arg) => self.failover_region(&arg, true),
            Command::CancelJob => self.cancel_job(),
            Command::ProceedJob => self.proceed_job(),
            Command::ResumeJob => self.resume_job(),
            _ => {}
        }
    }

    /// `:scale N` on the selected deployment; with no N, the command line
    /// asks for it.
    pub(in crate::app) fn scale(&mut self, arg: &str) {
        let Some(replicas) = self.replicas_argument("scale", arg) else {
            return;
        };
        let target = match self.selected_deployment() {
            Ok(t) => t,
            Err(why) => {
                self.say_command_why(&format!("scale {arg}"), &why);
                return;
            }
        };
        let request = ActionRequest {
            kind: ActionKind::Scale { replicas },
            target,
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// `:restart` on the selected deployment.
    pub(in crate::app) fn restart(&mut self) {
        let target = match self.selected_deployment() {
            Ok(t) => t,
            Err(why) => {
                self.say_command_why("restart", &why);
                return;
            }
        };
        let request = ActionRequest {
            kind: ActionKind::Restart,
            target,
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// `:deploy IMAGE` on the selected release, blue-green; with no image,
    /// the command line asks for it, starting from the live colour's (edit
    /// the tag). An image that does not parse is refused here.
    pub(in crate::app) fn deploy(&mut self, arg: &str) {
        let release = match self.selected_release() {
            Ok(r) => r,
            Err(why) => {
                self.say_command_why(&format!("deploy {arg}"), &why);
                return;
            }
        };
        if arg.is_empty() {
            self.open_command_line(&format!("deploy {}", release.1));
            return;
        }
        if let Err(why) = crate::exec::actions::blue_green::check_image(arg) {
            self.say_t(
                Level::Error,
                "msg-deploy-bad-image",
                &[("arg", arg), ("why", &why)],
            );
            return;
        }
        self.ask_blue_green(release.0, Some(arg.to_owned()));
    }

    /// `:revert` on the selected release: traffic back to its other colour
    /// while that one is still scaled.
    pub(in crate::app) fn revert(&mut self) {
        match self.selected_release() {
            Ok((target, _)) => self.ask_blue_green(target, None),
            Err(why) => self.say_command_why("revert", &why),
        }
    }

    /// `:set-image IMAGE` on the selected deployment, a rolling deploy;
    /// with no image, the command line asks, starting from the current one.
    pub(in crate::app) fn set_image(&mut self, arg: &str) {
        let target = match self.selected_deployment() {
            Ok(t) => t,
            Err(why) => {
                self.say_command_why(&format!("set-image {arg}"), &why);
                return;
            }
        };
        if arg.is_empty() {
            let image = self
                .deployment_row(&target)
                .map(|d| d.image.clone())
                .unwrap_or_default();
            self.open_command_line(&format!("set-image {image}"));
            return;
        }
        if let Err(why) = crate::exec::actions::blue_green::check_image(arg) {
            self.say_t(
                Level::Error,
                "msg-set-image-bad-image",
                &[("arg", arg), ("why", &why)],
            );
            return;
        }
        let request = ActionRequest {
            kind: ActionKind::SetImage {
                image: arg.to_owned(),
            },
            target,
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// `:undo N` on the selected deployment: back to revision N; with no
    /// N, the command line asks, starting from the revision before the
    /// current one.
    pub(in crate::app) fn undo(&mut self, arg: &str) {
        let target = match self.selected_deployment() {
            Ok(t) => t,
            Err(why) => {
                self.say_command_why(&format!("undo {arg}"), &why);
                return;
            }
        };
        // The revision chosen in the Rollouts pane's list: planned at once.
        let picked = (self.focus == Pane::Rollouts && arg.is_empty())
            .then(|| self.picked_revision())
            .flatten();
        let revision = match picked {
            Some(revision) => revision,
            None if arg.is_empty() => {
                let previous = self.store.cluster(&target.cluster).and_then(|c| {
                    let d = self.deployment_row(&target)?;
                    crate::model::rollout::revisions(c, d)
                        .into_iter()
                        .filter_map(|r| r.revision)
                        .filter(|r| Some(*r) != d.revision)
                        .max()
                });
                let text = previous.map_or_else(|| "undo ".to_owned(), |r| format!("undo {r}"));
                self.open_command_line(&text);
                return;
            }
            None => {
                let Ok(revision) = arg.parse::<u32>() else {
                    self.say_t(Level::Error, "msg-undo-bad-revision", &[("arg", arg)]);
                    return;
                };
                revision
            }
        };
        let request = ActionRequest {
            kind: ActionKind::Undo { revision },
            target,
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// `:silence DURATION MATCHER…` on the selected alert, sent to the
    /// Alertmanager of its region; with nothing given, the command line
    /// opens on `silence 1h` and the alert's labels, to edit.
    pub(in crate::app) fn silence(&mut self, arg: &str) {
        let alert = match self.selected_alert() {
            Ok(a) => a,
            Err(why) => {
                self.say_command_why("silence", &why);
                return;
            }
        };
        if arg.is_empty() {
            let mut labels = alert.labels.clone();
            labels.sort_by_key(|(k, _)| k != "alertname");
            let matchers: Vec<String> = labels
                .iter()
                .map(|(k, v)| crate::model::action::Matcher::equal(k, v).to_string())
                .collect();
            self.open_command_line(&format!("silence 1h {}", matchers.join(" ")));
            return;
        }
        let mut words = arg.split_whitespace();
        let duration = words.next().unwrap_or_default();
        let Ok(span) = duration.parse::<jiff::SignedDuration>() else {
            self.say_t(
                Level::Error,
                "msg-silence-bad-duration",
                &[("arg", arg), ("duration", duration)],
            );
            return;
        };
        let longest = *self.platform.settings.max_silence_hours.get_ref();
        let seconds = u64::try_from(span.as_secs()).unwrap_or(0);
        if seconds < 60 || seconds > longest * 3600 {
            self.say_t(
                Level::Error,
                "msg-silence-too-long",
                &[("arg", arg), ("longest", &longest.to_string())],
            );
            return;
        }
        let matchers: Result<Vec<_>, String> =
            words.map(crate::model::action::Matcher::parse).collect();
        let matchers = match matchers {
            Ok(m) => m,
            Err(why) => {
                self.say_t(
                    Level::Error,
                    "msg-command-why",
                    &[("command", "silence"), ("why", &why)],
                );
                return;
            }
        };
        let Some(target) = self.alertmanager_of(&alert) else {
            return;
        };
        let request = ActionRequest {
            kind: ActionKind::Silence {
                matchers,
                duration: std::time::Duration::from_secs(seconds),
                created_by: String::new(),
            },
            target,
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// `:expire`: the silences of the selected alert expired.
    pub(in crate::app) fn expire(&mut self) {
        let alert = match self.selected_alert() {
            Ok(a) => a,
            Err(why) => {
                self.say_command_why("expire", &why);
                return;
            }
        };
        if alert.silenced_by.is_empty() {
            self.say_t(
                Level::Info,
                "msg-expire-not-silenced",
                &[("alert", &alert.name)],
            );
            return;
        }
        let Some(target) = self.alertmanager_of(&alert) else {
            return;
        };
        let request = ActionRequest {
            kind: ActionKind::Expire {
                ids: alert.silenced_by.clone(),
            },
            target,
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// `:switchover [DB]` (`planned`) or `:promote [DB]`: the replica of a
    /// `[[replication]]` pair promoted, its primary fenced first when
    /// planned; with no DB, the only pair's.
    pub(in crate::app) fn failover(&mut self, arg: &str, planned: bool) {
        let command = if planned { "switchover" } else { "promote" };
        let pairs: Vec<_> = self
            .platform
            .replication
            .iter()
            .filter_map(|r| {
                let (p, replica) = self.platform.replication_pair(r)?;
                let logical = r.kind == crate::config::platform::ReplicationKind::Logical;
                let sub = r.subscription.clone().filter(|_| logical);
                Some((p.name.get_ref().clone(), replica.clone(), sub, r.kind))
            })
            .filter(|(_, replica, _, _)| arg.is_empty() || replica.name.get_ref() == arg)
            .collect();
        let (primary, replica, subscription, kind) = match pairs.as_slice() {
            [one] => one.clone(),
            [] if arg.is_empty() => {
                self.say_t(
                    Level::Error,
                    "msg-failover-no-pair",
                    &[("command", command)],
                );
                return;
            }
            [] => {
                self.say_t(
                    Level::Error,
                    "msg-failover-not-a-replica",
                    &[("command", command), ("arg", arg)],
                );
                return;
            }
            _ => {
                self.say_t(
                    Level::Error,
                    "msg-failover-name-the-replica",
                    &[("command", command)],
                );
                return;
            }
        };
        let target = database_target(&replica);
        let kind = if kind == crate::config::platform::ReplicationKind::AzureReplica {
            // Promoted through Azure Resource Manager: planned waits for
            // the replica to catch up, forced does not.
            ActionKind::PromoteReplica {
                primary,
                forced: !planned,
            }
        } else if planned {
            ActionKind::Switchover {
                primary,
                subscription,
            }
        } else {
            ActionKind::Promote {
                primary,
                subscription,
            }
        };
        let request = ActionRequest {
            kind,
            target,
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// `:failover-region [REGION]` (or, `back`, `:failback-region`): the
    /// region runbook as one job, its parts from what the sources read
    /// last.
    pub(in crate::app) fn failover_region(&mut self, arg: &str, back: bool) {
        let request = if back {
            self.failback_request(arg.trim())
        } else {
            self.region_request(arg.trim())
        };
        match request {
            Ok(request) => {
                let title = request_title(&request);
                self.ask(request, &title);
            }
            Err(why) => {
                let command = if back {
                    "failback-region"
                } else {
                    "failover-region"
                };
                self.say_t(
                    Level::Error,
                    "msg-command-why",
                    &[("command", command), ("why", &why)],
                );
            }
        }
    }

    /// `:rds-failover DB` / `:rds-promote DB`: an RDS instance failed over
    /// to its standby, or a read replica promoted.
    pub(in crate::app) fn rds_action(&mut self, arg: &str, kind: ActionKind) {
        let Some(db) = self.database_named(kind.name(), arg) else {
            return;
        };
        if db.rds.is_none() {
            self.say_t(
                Level::Error,
                "msg-rds-not-configured",
                &[("command", kind.name()), ("arg", arg)],
            );
            return;
        }
        let (region, name) = (db.region.get_ref().clone(), db.name.get_ref().clone());
        self.ask_outside(kind, ObjectKind::Database, region, name);
    }

    /// `:node-group [CLUSTER/]GROUP SIZE`: a node group sized in its cloud.
    /// The cluster is the one named, else the Scaling pane's selected
    /// one, else the only one with such a group. A size beyond the
    /// config's bounds for the group is refused here: they are the
    /// platform's own guard against a slip of the finger.
    pub(in crate::app) fn node_group(&mut self, arg: &str) {
        let mut words = arg.split_whitespace();
        let (named, sizes) = (words.next().unwrap_or_default(), words.collect::<Vec<_>>());
        let (cluster_name, group) = match named.split_once('/') {
            Some((c, g)) => (Some(c), g),
            None => (None, named),
        };
        let usage =
            |app: &mut Self| app.say_t(Level::Error, "msg-node-group-usage", &[("arg", arg)]);
        if group.is_empty() || sizes.is_empty() {
            usage(self);
            return;
        }
        let selected = self
            .selected_source(crate::model::Pane::Scaling)
            .map(|id| id.name);
        let having: Vec<&crate::config::platform::Cluster> = self
            .platform
            .clusters
            .iter()
            .filter(|c| c.node_groups.iter().any(|g| g.name.get_ref() == group))
            .collect();
        let cluster = match cluster_name {
            Some(c) => having.iter().find(|k| k.name.get_ref() == c),
            None => having
                .iter()
                .find(|k| Some(k.name.get_ref()) == selected.as_ref())
                .or_else(|| having.first().filter(|_| having.len() == 1)),
        }
        .map(|c| (*c).clone());
        let Some(cluster) = cluster else {
            self.say_t(
                Level::Error,
                "msg-node-group-unknown",
                &[("arg", arg), ("group", group)],
            );
            return;
        };
        let cname = cluster.name.get_ref().clone();
        if cluster.eks.is_none() && cluster.aks.is_none() {
            self.say_t(
                Level::Error,
                "msg-node-group-no-cloud",
                &[("arg", arg), ("cluster", &cname)],
            );
            return;
        }
        let Some(configured) = cluster
            .node_groups
            .iter()
            .find(|g| g.name.get_ref() == group)
        else {
            return;
        };
        let (lo, hi) = (configured.min, configured.max);
        let nodes = self
            .cluster(&cname)
            .map_or(0, |c| c.nodes.values().filter(|n| n.group == group).count());
        let Some((min, desired, max)) =
            node_sizes(&sizes, u32::try_from(nodes).unwrap_or(u32::MAX))
        else {
            usage(self);
            return;
        };
        let beyond = [min, desired, max]
            .into_iter()
            .flatten()
            .find(|n| *n < lo || *n > hi);
        if let Some(n) = beyond {
            self.say_t(
                Level::Error,
                "msg-node-group-beyond-config",
                &[
                    ("arg", arg),
                    ("group", group),
                    ("n", &n.to_string()),
                    ("min", &lo.to_string()),
                    ("max", &hi.to_string()),
                ],
            );
            return;
        }
        let request = ActionRequest {
            kind: ActionKind::NodeGroup { min, desired, max },
            target: Target {
                region: cluster.region.get_ref().clone(),
                cluster: cname,
                namespace: "kube-system".to_owned(),
                kind: ObjectKind::NodeGroup,
                name: group.to_owned(),
            },
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// `:apply NAME [CLUSTER] [force]`: a `[[manifests]]` set applied to
    /// its first cluster (or the one named), planned from the server's
    /// dry run; once that job succeeds, the next cluster of the set is
    /// planned in turn (staged: Tokyo, verified, then Korea).
    pub(in crate::app) fn apply_set(&mut self, arg: &str) {
        let words: Vec<&str> = arg.split_whitespace().collect();
        let force = words.contains(&"force");
        let words: Vec<&str> = words.into_iter().filter(|w| *w != "force").collect();
        let (Some(name), None) = (words.first(), words.get(2)) else {
            self.say_t(Level::Error, "msg-apply-usage", &[("arg", arg)]);
            return;
        };
        let Some(set) = self.platform.manifest_set(name).cloned() else {
            let names: Vec<&str> = self
                .platform
                .manifests
                .iter()
                .map(|m| m.name.get_ref().as_str())
                .collect();
            self.say_t(
                Level::Error,
                "msg-apply-unknown",
                &[("arg", arg), ("sets", &names.join(", "))],
            );
            return;
        };
        let cluster = match words.get(1) {
            Some(c) => set.clusters.iter().find(|k| k.get_ref() == c),
            None => set.clusters.first(),
        };
        let Some(cluster) = cluster.map(|c| c.get_ref().clone()) else {
            let names: Vec<&str> = set.clusters.iter().map(|c| c.get_ref().as_str()).collect();
            self.say_t(
                Level::Error,
                "msg-apply-not-to",
                &[("arg", arg), ("clusters", &names.join(", "))],
            );
            return;
        };
        self.ask_apply(&set, &cluster, force);
    }

    /// `:infra-plan NAME` / `:infra-apply NAME`: Terraform / OpenTofu on
    /// an `[[infrastructure]]` directory, as a job.
    pub(in crate::app) fn infra(&mut self, arg: &str, operation: &str) {
        let name = arg.trim();
        let Some(infra) = self.platform.infrastructure_named(name).cloned() else {
            let names: Vec<&str> = self
                .platform
                .infrastructure
                .iter()
                .map(|i| i.name.get_ref().as_str())
                .collect();
            self.say_t(
                Level::Error,
                "msg-infra-unknown",
                &[
                    ("command", &format!("infra-{operation}")),
                    ("arg", arg),
                    ("names", &names.join(", ")),
                ],
            );
            return;
        };
        let request = ActionRequest {
            kind: ActionKind::Infra {
                operation: operation.to_owned(),
                plan_sha256: String::new(),
            },
            target: Target {
                region: infra.region.get_ref().clone(),
                cluster: infra.binary.clone(),
                namespace: String::new(),
                kind: ObjectKind::Infrastructure,
                name: name.to_owned(),
            },
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    fn ask_apply(&mut self, set: &crate::config::platform::Manifests, cluster: &str, force: bool) {
        let Some(region) = self
            .platform
            .clusters
            .iter()
            .find(|c| c.name.get_ref() == cluster)
            .map(|c| c.region.get_ref().clone())
        else {
            return;
        };
        let request = ActionRequest {
            kind: ActionKind::Apply {
                manifests: set.name.get_ref().clone(),
                force,
            },
            target: Target {
                region,
                cluster: cluster.to_owned(),
                namespace: set
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "default".to_owned()),
                kind: ObjectKind::Manifests,
                name: set.name.get_ref().clone(),
            },
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// A job succeeded: an apply of a set with clusters after this one
    /// plans the next (a dry run does not go on).
    pub(in crate::app) fn next_stage(&mut self, id: JobId) {
        let Some(row) = self.jobs.get(id) else {
            return;
        };
        if row.dry_run {
            return;
        }
        let Some(request) = row.plan.as_ref().map(|p| p.request.clone()) else {
            return;
        };
        self.next_stage_after(&request, false);
    }

    /// Plans the cluster after `request`'s in its set, if there is one;
    /// `unchanged`: `request`'s cluster had nothing to apply.
    pub(in crate::app) fn next_stage_after(&mut self, request: &ActionRequest, unchanged: bool) {
        let ActionKind::Apply { manifests, .. } = &request.kind else {
            return;
        };
        let Some(set) = self.platform.manifest_set(manifests).cloned() else {
            return;
        };
        let next = set
            .clusters
            .iter()
            .skip_while(|c| c.get_ref() != &request.target.cluster)
            .nth(1)
            .map(|c| c.get_ref().clone());
        if let Some(next) = next {
            self.say_t(
                Level::Info,
                if unchanged {
                    "msg-apply-next-unchanged"
                } else {
                    "msg-apply-next"
                },
                &[
                    ("set", manifests),
                    ("done", &request.target.cluster),
                    ("next", &next),
                ],
            );
            // A forced plan is the operator's choice for the cluster it
            // named: the next one's conflicts are shown, not taken over.
            self.ask_apply(&set, &next, false);
        }
    }

    /// Asks for an action on a database or cache (its name is its
    /// "cluster": it has none).
    fn ask_outside(&mut self, kind: ActionKind, object: ObjectKind, region: String, name: String) {
        let request = ActionRequest {
            kind,
            target: Target {
                region,
                cluster: name.clone(),
                namespace: String::new(),
                kind: object,
                name,
            },
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// `:cache-failover CACHE`: the cache failed over to its most
    /// caught-up replica; `:cache-promote CACHE`: that replica promoted
    /// without its primary.
    pub(in crate::app) fn cache_action(&mut self, arg: &str, kind: ActionKind) {
        let Some(cache) = self
            .platform
            .caches
            .iter()
            .find(|c| c.name.get_ref() == arg.trim())
        else {
            self.say_t(
                Level::Error,
                "msg-cache-unknown",
                &[("command", kind.name()), ("arg", arg)],
            );
            return;
        };
        // ElastiCache refuses REPLICAOF and FAILOVER: its failover is
        // TestFailover, and a replica without its primary is promoted by
        // ElastiCache itself (automatic failover).
        let kind = match (&cache.elasticache, kind) {
            (Some(_), ActionKind::CacheFailover) => ActionKind::ElastiCacheFailover,
            (Some(e), ActionKind::CachePromote) => {
                let group = e.identifier.clone();
                self.say_t(
                    Level::Error,
                    "msg-cache-promote-elasticache",
                    &[("arg", arg), ("group", &group)],
                );
                return;
            }
            (_, kind) => kind,
        };
        let (region, name) = (cache.region.get_ref().clone(), cache.name.get_ref().clone());
        self.ask_outside(kind, ObjectKind::Cache, region, name);
    }

    /// `:disable-pool [REGION]` / `:enable-pool [REGION]`: the region's
    /// pool in the global load balancer; with no REGION, the pool
    /// selected in the Failover pane.
    pub(in crate::app) fn traffic_pool(&mut self, arg: &str, enabled: bool) {
        let command = if enabled {
            "enable-pool"
        } else {
            "disable-pool"
        };
        let Some(t) = &self.platform.traffic else {
            self.say_t(Level::Error, "msg-pool-no-traffic", &[("command", command)]);
            return;
        };
        let region = match arg.trim() {
            "" => self
                .selected_source(crate::model::pane::Pane::Failover)
                .filter(|id| id.kind == crate::model::SourceKind::Traffic)
                .map(|id| id.region),
            named => Some(named.to_owned()),
        };
        let Some(region) = region else {
            self.say_t(
                Level::Error,
                "msg-pool-name-the-region",
                &[("command", command)],
            );
            return;
        };
        let Some(pool) = t.pools.iter().find(|p| p.region.get_ref() == &region) else {
            self.say_t(
                Level::Error,
                "msg-pool-unknown-region",
                &[("command", command), ("region", &region)],
            );
            return;
        };
        let request = ActionRequest {
            kind: ActionKind::TrafficPool { enabled },
            target: Target {
                region,
                cluster: crate::config::platform::TRAFFIC.to_owned(),
                namespace: t.account.get_ref().clone(),
                kind: ObjectKind::Pool,
                name: pool.id.get_ref().clone(),
            },
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// `:fence DB` / `:unfence DB`.
    pub(in crate::app) fn fence(&mut self, arg: &str, read_only: bool) {
        let command = if read_only { "fence" } else { "unfence" };
        let Some(db) = self.database_named(command, arg) else {
            return;
        };
        let partner = self.platform.replication.iter().find_map(|r| {
            let (p, replica) = self.platform.replication_pair(r)?;
            if p.name.get_ref() == db.name.get_ref() {
                Some(replica.name.get_ref().clone())
            } else if replica.name.get_ref() == db.name.get_ref() {
                Some(p.name.get_ref().clone())
            } else {
                None
            }
        });
        let request = ActionRequest {
            kind: ActionKind::Fence { read_only, partner },
            target: database_target(&db),
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// The configured database `arg` names, or (said as `command`'s
    /// error) none.
    fn database_named(
        &mut self,
        command: &str,
        arg: &str,
    ) -> Option<crate::config::platform::Database> {
        let found = self
            .platform
            .databases
            .iter()
            .find(|d| d.name.get_ref() == arg.trim())
            .cloned();
        if found.is_none() {
            self.say_t(
                Level::Error,
                "msg-database-unknown",
                &[("command", command), ("arg", arg)],
            );
        }
        found
    }

    /// `:lockout DB` / `:unlock DB`: the database's application roles
    /// locked out, or let in again.
    pub(in crate::app) fn lockout(&mut self, arg: &str, locked: bool) {
        let command = if locked { "lockout" } else { "unlock" };
        let Some(db) = self.database_named(command, arg) else {
            return;
        };
        if db.app_roles.is_empty() {
            self.say_t(
                Level::Error,
                "msg-lockout-no-roles",
                &[
                    ("command", command),
                    ("arg", arg),
                    ("database", db.name.get_ref()),
                ],
            );
            return;
        }
        let request = ActionRequest {
            kind: ActionKind::Lockout {
                roles: db.app_roles.iter().map(|r| r.get_ref().clone()).collect(),
                locked,
            },
            target: database_target(&db),
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// The alert selected in the Alerts pane.
    fn selected_alert(&self) -> Result<crate::model::alert::AlertRow, Said> {
        if self.focus != Pane::Alerts {
            return Err(self.said("msg-select-alert-first", &[], &[]));
        }
        self.visible_alerts()
            .get(self.cursor(Pane::Alerts))
            .map(|a| (*a).clone())
            .ok_or_else(|| self.said("msg-select-no-alert", &[], &[]))
    }

    /// The Alertmanager that silences an alert: its region's.
    fn alertmanager_of(&mut self, alert: &crate::model::alert::AlertRow) -> Option<Target> {
        let source = self.platform.alert_sources.iter().find(|s| {
            s.kind == crate::config::platform::AlertSourceKind::Alertmanager
                && s.region.get_ref() == &alert.region
        });
        let Some(source) = source else {
            self.say_t(
                Level::Error,
                "msg-silence-no-alertmanager",
                &[("region", &alert.region)],
            );
            return None;
        };
        Some(Target {
            region: alert.region.clone(),
            cluster: source.name.get_ref().clone(),
            namespace: String::new(),
            kind: ObjectKind::Silence,
            name: alert.name.clone(),
        })
    }

    /// The command line, opened on `text`.
    pub(in crate::app) fn open_command_line(&mut self, text: &str) {
        let themes = self.themes.names().map(str::to_owned).collect();
        let history = self.input.history().to_vec();
        self.input.open(Overlay::CommandLine(
            CommandLine::new(themes, history).with_text(text),
        ));
    }

    /// The row of a deployment target, as last listed.
    fn deployment_row(&self, t: &Target) -> Option<&crate::model::cluster::DeploymentRow> {
        self.store
            .cluster(&t.cluster)?
            .deployments
            .get(&format!("{}/{}", t.namespace, t.name))
    }

    /// A job failed (or, a region runbook, was cancelled) and its plan
    /// has an undo (a rolling deploy that stalled; a runbook stopped part
    /// way): offered in a dialog, planned only if confirmed.
    pub(in crate::app) fn failed(&mut self, id: JobId, why: &str) {
        let Some(undo) = self
            .jobs
            .get(id)
            .and_then(|j| j.plan.as_ref())
            .and_then(|p| p.undo_request.clone())
        else {
            return;
        };
        let region = undo.target.kind == ObjectKind::Region;
        // A runbook stopped before it changed anything has nothing to
        // undo; one that went past its first gate (its point of no
        // return: a promotion, users moved) is not undone.
        let changed = self.jobs.get(id).is_some_and(|j| {
            j.plan.as_ref().is_some_and(|p| {
                let gate = p
                    .steps
                    .iter()
                    .position(|s| s.call == crate::model::plan::GATE_CALL)
                    .unwrap_or(p.steps.len());
                let done =
                    |(s, row): &(&crate::model::plan::PlannedStep, &super::jobs::StepRow)| {
                        s.kind == crate::model::plan::StepKind::Mutate
                            && matches!(row.state, super::jobs::StepState::Done(_))
                    };
                let steps: Vec<_> = p.steps.iter().zip(&j.steps).collect();
                steps[..gate.min(steps.len())].iter().any(done)
                    && !steps.iter().skip(gate + 1).any(done)
            })
        });
        let offered = match undo.target.kind {
            ObjectKind::Deployment => why != "cancelled",
            ObjectKind::Region => changed,
            _ => false,
        };
        if !offered
            || self
                .jobs
                .get(id)
                .is_some_and(|j| j.plan.as_ref().is_some_and(|p| p.request.dry_run))
        {
            return;
        }
        let (title, fields) = if region {
            (
                self.tr("msg-dialog-runbook-stopped"),
                vec![
                    (
                        self.tr("msg-dialog-field-from"),
                        undo.target.cluster.clone(),
                    ),
                    (self.tr("msg-dialog-field-to"), undo.target.region.clone()),
                ],
            )
        } else {
            (
                self.tr("msg-dialog-failed-undo"),
                vec![
                    (
                        self.tr("msg-dialog-field-cluster"),
                        undo.target.cluster.clone(),
                    ),
                    (
                        self.tr("msg-dialog-field-namespace"),
                        undo.target.namespace.clone(),
                    ),
                ],
            )
        };
        let consequence = self.trf("msg-dialog-undo-offer", &[("undo", &request_title(&undo))]);
        let dialog = ConfirmDialog::new(&title, fields, &consequence, Confirmed::Offer(undo))
            .details(vec![why.to_owned()]);
        self.confirm_when_idle(dialog);
    }

    /// `:delete-pod` on the pod selected in the Cluster pane's Pods view:
    /// its Deployment replaces it.
    pub(in crate::app) fn delete_pod(&mut self) {
        let target = match self.selected_pod() {
            Ok(t) => t,
            Err(why) => {
                self.say_command_why("delete-pod", &why);
                return;
            }
        };
        let request = ActionRequest {
            kind: ActionKind::DeletePod,
            target,
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// The pod selected in the Cluster pane's Pods view.
    pub(in crate::app) fn selected_pod(&self) -> Result<Target, Said> {
        if self.focus != Pane::Cluster || self.cluster_view() != ClusterView::Pods {
            return Err(self.said("msg-select-pod-first", &[], &[]));
        }
        let Some(cluster) = self.selected_cluster() else {
            return Err(self.said("msg-select-no-cluster", &[], &[]));
        };
        let Some(state) = self.store.cluster(cluster) else {
            return Err(self.said("msg-select-not-listed", &[("cluster", cluster)], &[]));
        };
        let window = self.cluster_window(state, self.cursor(Pane::Cluster), 1);
        let Some((namespace, name)) = window.keys.first().and_then(|k| k.split_once('/')) else {
            return Err(self.said("msg-select-no-pod-in", &[("cluster", cluster)], &[]));
        };
        Ok(Target {
            region: self.region_of(cluster),
            cluster: cluster.to_owned(),
            namespace: namespace.to_owned(),
            kind: ObjectKind::Pod,
            name: name.to_owned(),
        })
    }

    /// The configured region of a cluster.
    fn region_of(&self, cluster: &str) -> String {
        self.platform
            .clusters
            .iter()
            .find(|c| c.name.get_ref() == cluster)
            .map(|c| c.region.get_ref().clone())
            .unwrap_or_default()
    }

    /// `:retarget-hpa`: the HPA of the selected release that the Rollouts
    /// pane flags (it scales a Deployment that does not exist, or a colour
    /// that is not live) moved to the live colour.
    pub(in crate::app) fn retarget_hpa(&mut self) {
        let (release, _) = match self.selected_release() {
            Ok(r) => r,
            Err(why) => {
                self.say_command_why("retarget-hpa", &why);
                return;
            }
        };
        let flagged = self.store.cluster(&release.cluster).and_then(|c| {
            let releases = crate::model::rollout::releases(c);
            c.hpas
                .values()
                .filter(|h| h.namespace == release.namespace)
                .filter(|h| {
                    let of_release = h.target == release.name
                        || c.deployments
                            .get(&format!("{}/{}", h.namespace, h.target))
                            .is_some_and(|d| d.app.as_deref() == Some(release.name.as_str()));
                    of_release && crate::model::rollout::hpa_fault(c, &releases, h).is_some()
                })
                .map(|h| h.name.clone())
                .next()
        });
        let Some(hpa) = flagged else {
            self.say_t(
                Level::Info,
                "msg-retarget-none-flagged",
                &[("release", &release.name), ("cluster", &release.cluster)],
            );
            return;
        };
        let request = ActionRequest {
            kind: ActionKind::RetargetHpa,
            target: Target {
                kind: ObjectKind::HorizontalPodAutoscaler,
                name: hpa,
                ..release
            },
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    fn ask_blue_green(&mut self, target: Target, image: Option<String>) {
        let delay = *self.platform.settings.scale_down_delay_seconds.get_ref();
        let request = ActionRequest {
            kind: ActionKind::BlueGreen {
                image,
                scale_down_delay: std::time::Duration::from_secs(delay),
            },
            target,
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// The release of the selected deployment (its `app`, when it has a
    /// `color`) and the image its live colour runs.
    fn selected_release(&self) -> Result<(Target, String), Said> {
        let d = self.selected_deployment()?;
        let state = self
            .store
            .cluster(&d.cluster)
            .ok_or_else(|| self.said("msg-select-not-listed", &[("cluster", &d.cluster)], &[]))?;
        let row = state
            .deployments
            .get(&format!("{}/{}", d.namespace, d.name))
            .ok_or_else(|| {
                self.said(
                    "msg-select-gone",
                    &[("name", &d.name), ("cluster", &d.cluster)],
                    &[],
                )
            })?;
        let (Some(app), Some(_)) = (row.app.clone(), row.color.as_ref()) else {
            return Err(self.said("msg-select-not-blue-green", &[("name", &d.name)], &[]));
        };
        let live = crate::model::rollout::releases(state)
            .into_iter()
            .find(|r| r.namespace == d.namespace && r.app == app)
            .and_then(|r| r.live_deployment().map(|l| l.image.clone()))
            .unwrap_or_else(|| row.image.clone());
        Ok((
            Target {
                kind: ObjectKind::Release,
                name: app,
                ..d
            },
            live,
        ))
    }

    /// Says that `` `command` `` is refused, and why (in the console's
    /// language).
    fn say_command_why(&mut self, command: &str, why: &Said) {
        let said = self.said("msg-command-why", &[("command", command)], &[("why", why)]);
        self.say_said(Level::Error, said);
    }

    /// The replicas a command was given; with none, the command line asks
    /// for them (`scale ` typed), and a malformed number is refused before
    /// anything is planned.
    fn replicas_argument(&mut self, command: &str, arg: &str) -> Option<u32> {
        if arg.is_empty() {
            let target = self.selected_deployment();
            let themes = self.themes.names().map(str::to_owned).collect();
            let history = self.input.history().to_vec();
            self.input.open(Overlay::CommandLine(
                CommandLine::new(themes, history).with_text(&format!("{command} ")),
            ));
            if let Err(why) = target {
                self.say_said(Level::Warn, why);
            }
            return None;
        }
        match arg.parse::<u32>() {
            Ok(n) if n <= MAX_REPLICAS => Some(n),
            _ => {
                self.say_t(
                    Level::Error,
                    "msg-replicas-bad-number",
                    &[
                        ("command", command),
                        ("arg", arg),
                        ("max", &MAX_REPLICAS.to_string()),
                    ],
                );
                None
            }
        }
    }

    /// `:hpa-min N` / `:hpa-max N` on the HPA that scales the selected
    /// deployment.
    pub(in crate::app) fn hpa_bound(&mut self, arg: &str, min: bool) {
        let command = if min { "hpa-min" } else { "hpa-max" };
        let Some(n) = self.replicas_argument(command, arg) else {
            return;
        };
        let deployment = match self.selected_deployment() {
            Ok(t) => t,
            Err(why) => {
                self.say_command_why(&format!("{command} {arg}"), &why);
                return;
            }
        };
        let hpa = self.store.cluster(&deployment.cluster).and_then(|c| {
            c.hpas.values().find(|h| {
                h.namespace == deployment.namespace
                    && h.target_kind == "Deployment"
                    && h.target == deployment.name
            })
        });
        let Some(hpa) = hpa else {
            self.say_t(
                Level::Error,
                "msg-hpa-none",
                &[
                    ("command", command),
                    ("arg", arg),
                    ("deployment", &deployment.name),
                    ("cluster", &deployment.cluster),
                ],
            );
            return;
        };
        let request = ActionRequest {
            kind: if min {
                ActionKind::HpaBounds {
                    min: Some(n),
                    max: None,
                }
            } else {
                ActionKind::HpaBounds {
                    min: None,
                    max: Some(n),
                }
            },
            target: Target {
                kind: ObjectKind::HorizontalPodAutoscaler,
                name: hpa.name.clone(),
                ..deployment
            },
            dry_run: false,
        };
        let title = request_title(&request);
        self.ask(request, &title);
    }

    /// The deployment the focused pane has selected, as a target.
    fn selected_deployment(&self) -> Result<Target, Said> {
        let (cluster, namespace, name) = match self.focus {
            Pane::Cluster => {
                let Some(cluster) = self.selected_cluster() else {
                    return Err(self.said("msg-select-no-cluster", &[], &[]));
                };
                if self.cluster_view() != ClusterView::Deployments {
                    return Err(self.said("msg-select-deployment-first", &[], &[]));
                }
                let Some(state) = self.store.cluster(cluster) else {
                    return Err(self.said("msg-select-not-listed", &[("cluster", cluster)], &[]));
                };
                let window = self.cluster_window(state, self.cursor(Pane::Cluster), 1);
                let Some((namespace, name)) = window.keys.first().and_then(|k| k.split_once('/'))
                else {
                    return Err(self.said(
                        "msg-select-no-deployment-in",
                        &[("cluster", cluster)],
                        &[],
                    ));
                };
                (cluster.to_owned(), namespace.to_owned(), name.to_owned())
            }
            Pane::Rollouts => {
                let rows = self.rollout_rows();
                let Some((cluster, d)) = rows.get(self.cursor(Pane::Rollouts)) else {
                    return Err(self.said("msg-select-no-deployment-rollouts", &[], &[]));
                };
                ((*cluster).to_owned(), d.namespace.clone(), d.name.clone())
            }
            other => {
                let pane = self.pane_said(other);
                return Err(self.said("msg-select-no-deployment-pane", &[], &[("pane", &pane)]));
            }
        };
        Ok(Target {
            region: self.region_of(&cluster),
            cluster,
            namespace,
            kind: ObjectKind::Deployment,
            name,
        })
    }

    /// The safety gate, then the request to the executor.
    pub(in crate::app) fn ask(&mut self, request: ActionRequest, title: &str) {
        if let Some(by) = crate::config::read_only_for(
            self.read_only_flag,
            &self.platform,
            Some(&request.target.cluster),
        ) {
            self.say_t(
                Level::Error,
                "msg-ask-read-only",
                &[
                    ("title", title),
                    ("cluster", &request.target.cluster),
                    ("by", &by.to_string()),
                ],
            );
            return;
        }
        let id = self.jobs.ask(request.clone(), title, self.now);
        self.effects
            .push(Effect::Exec(ExecCommand::Plan { id, request }));
        self.say_t(
            Level::Info,
            "msg-ask-planning",
            &[("id", &id.0.to_string()), ("title", title)],
        );
    }

    /// A plan (or a refusal) came back for a job this console asked for.
    pub(in crate::app) fn planned(&mut self, id: JobId, plan: &Result<Plan, Refusal>) {
        if self.jobs.get(id).is_none_or(|j| j.request.is_none()) {
            return;
        }
        match plan {
            Ok(plan) => {
                let dialog = self.plan_dialog(id, plan);
                self.confirm_when_idle(dialog);
            }
            Err(refusal) if refusal.offer.is_some() => {
                let Some(offer) = refusal.offer.clone() else {
                    return;
                };
                let instead = refusal
                    .instead
                    .clone()
                    .unwrap_or_else(|| request_title(&offer));
                let dialog = ConfirmDialog::new(
                    &self.tr("msg-dialog-refused-offer"),
                    if offer.target.kind == ObjectKind::Database {
                        vec![(
                            self.tr("msg-dialog-field-database"),
                            offer.target.name.clone(),
                        )]
                    } else {
                        vec![
                            (
                                self.tr("msg-dialog-field-cluster"),
                                offer.target.cluster.clone(),
                            ),
                            (
                                self.tr("msg-dialog-field-namespace"),
                                offer.target.namespace.clone(),
                            ),
                        ]
                    },
                    &self.trf("msg-dialog-instead-offer", &[("instead", &instead)]),
                    Confirmed::Offer(offer),
                )
                .details(vec![refusal.why.clone()]);
                self.say_t(Level::Warn, "msg-refused", &[("why", &refusal.why)]);
                self.confirm_when_idle(dialog);
            }
            Err(refusal) => {
                match &refusal.instead {
                    Some(instead) => self.say_t(
                        Level::Error,
                        "msg-refused-instead",
                        &[("why", &refusal.why), ("instead", instead)],
                    ),
                    None => self.say_t(Level::Error, "msg-refused", &[("why", &refusal.why)]),
                }
                // A cluster already as the files say: the set's next one.
                let request = self.jobs.get(id).and_then(|j| j.request.clone());
                if let Some(r) = request
                    && matches!(r.kind, ActionKind::Apply { .. })
                    && refusal.why.contains("nothing to apply")
                {
                    self.next_stage_after(&r, true);
                }
            }
        }
    }

    /// Opens a dialog that arrived on its own (a plan read off the
    /// cluster): over the panes, but under a line being typed, so keys
    /// meant for the command line never confirm it.
    fn confirm_when_idle(&mut self, dialog: ConfirmDialog) {
        let typing = matches!(
            self.input.overlays().last(),
            Some(Overlay::CommandLine(_) | Overlay::Filter { .. } | Overlay::Reason { .. })
        );
        if typing {
            self.input.insert_below_top(Overlay::Confirm(dialog));
            self.dirty = true;
        } else {
            self.confirm(dialog);
        }
    }

    fn plan_dialog(&self, id: JobId, plan: &Plan) -> ConfirmDialog {
        let t = &plan.request.target;
        let region = self.platform.region(&t.region).map_or_else(
            || t.region.clone(),
            |r| format!("{} ({})", r.display, r.role.label()),
        );
        let kind: &'static str = t.kind.into();
        let mut details = Vec::new();
        if let Some(why) = &plan.lease_override {
            details.push(self.trf("msg-dialog-no-lease", &[("why", why)]));
        } else if let Some(at) = &plan.lease {
            details.push(self.trf(
                "msg-dialog-lease-held",
                &[("cluster", &at.cluster), ("namespace", &at.namespace)],
            ));
        }
        if !plan.changes.is_empty() {
            details.push(String::new());
            details.push(self.tr("msg-dialog-changes"));
            details.extend(plan.changes.iter().map(|c| format!("  {c}")));
            if let Some(dry) = &plan.dry_run {
                details.push(format!("  ✓ {dry}"));
            }
        }
        details.push(String::new());
        details.push(self.tr("msg-dialog-plan"));
        // The namespace is named above: calls are shown from it on.
        let within = format!("/namespaces/{}/", t.namespace);
        for (i, step) in plan.steps.iter().enumerate() {
            let call = match step.call.split_once(&within) {
                Some((verb_and_api, rest)) => {
                    let verb = verb_and_api.split_whitespace().next().unwrap_or_default();
                    format!("{verb} …/{rest}")
                }
                None => step.call.clone(),
            };
            details.push(format!("{}. {}", i + 1, step.title));
            details.push(format!("   {call}"));
        }
        let consequence = match &plan.undo {
            Some(undo) => self.trf("msg-dialog-plan-undo", &[("undo", undo)]),
            None => self.tr("msg-dialog-plan-no-undo"),
        };
        let mut dialog = ConfirmDialog::new(
            &capitalised(&plan.title),
            if t.kind == ObjectKind::Database {
                vec![
                    (self.tr("msg-dialog-field-region"), region),
                    (self.tr("msg-dialog-field-database"), t.name.clone()),
                ]
            } else if t.kind == ObjectKind::Infrastructure {
                vec![
                    (self.tr("msg-dialog-field-region"), region),
                    (
                        self.tr("msg-dialog-field-object"),
                        format!("{kind} {} ({})", t.name, t.cluster),
                    ),
                ]
            } else {
                vec![
                    (self.tr("msg-dialog-field-region"), region),
                    (self.tr("msg-dialog-field-cluster"), t.cluster.clone()),
                    (self.tr("msg-dialog-field-namespace"), t.namespace.clone()),
                    (
                        self.tr("msg-dialog-field-object"),
                        format!("{kind} {}", t.name),
                    ),
                ]
            },
            &consequence,
            Confirmed::Job { id, dry_run: false },
        )
        .details(details)
        .with_dry_run();
        if t.kind == ObjectKind::Manifests {
            dialog = dialog.scrolled();
        }
        if let Some(text) = &plan.confirm_text {
            dialog = dialog.typed(text);
        }
        dialog
    }

    /// The operator confirmed or declined a job's plan.
    pub(in crate::app) fn decided(&mut self, id: JobId, confirmed: Option<(bool, String)>) {
        let Some((dry_run, reason)) = confirmed else {
            self.say_t(
                Level::Info,
                "msg-job-not-confirmed",
                &[("id", &id.0.to_string())],
            );
            self.effects.push(Effect::Exec(ExecCommand::Decline { id }));
            return;
        };
        if dry_run {
            self.jobs.confirmed_dry(id);
        } else {
            self.jobs.confirmed(id);
        }
        let message = if dry_run {
            "msg-job-dry-run-confirmed"
        } else {
            "msg-job-confirmed"
        };
        let key = self
            .keymap
            .chord_for(Pane::Jobs, &crate::model::Command::Focus(Pane::Jobs))
            .map(|k| format!(" ({k})"))
            .unwrap_or_default();
        self.say_t(
            Level::Info,
            message,
            &[("id", &id.0.to_string()), ("key", &key)],
        );
        self.effects.push(Effect::Exec(ExecCommand::Confirm {
            id,
            dry_run,
            reason,
        }));
    }

    /// Cancels the Jobs pane's selected job, if it has not ended; one that
    /// ended unfinished is forgotten.
    pub(in crate::app) fn cancel_job(&mut self) {
        if self.focus != Pane::Jobs {
            self.say_t(Level::Info, "msg-job-select-to-cancel", &[]);
            return;
        }
        let jobs = self.visible_jobs().len();
        if let Some(index) = self.cursor(Pane::Jobs).checked_sub(jobs) {
            // Below the jobs: a port-forward.
            let id = self.visible_forwards().get(index).map(|f| f.id);
            if let Some(at) = id.and_then(|id| self.forwards().iter().position(|f| f.id == id)) {
                self.stop_forward(at);
            }
            return;
        }
        let selected = self
            .visible_jobs()
            .get(self.cursor(Pane::Jobs))
            .map(|j| (j.id, j.outcome.clone()));
        match selected {
            Some((id, None)) => {
                self.effects.push(Effect::Exec(ExecCommand::Cancel { id }));
                self.say_t(
                    Level::Info,
                    "msg-job-cancelling",
                    &[("id", &id.0.to_string())],
                );
            }
            // Ended unfinished: forgotten, no longer offered for resume
            // (its checkpoint goes).
            Some((id, Some(JobOutcome::Failed(_) | JobOutcome::Cancelled))) => {
                self.effects.push(Effect::Exec(ExecCommand::Cancel { id }));
                self.say_t(
                    Level::Info,
                    "msg-job-forgotten",
                    &[("id", &id.0.to_string())],
                );
            }
            Some((id, Some(_))) => {
                self.say_t(
                    Level::Info,
                    "msg-job-ended-already",
                    &[("id", &id.0.to_string())],
                );
            }
            None => self.say_t(Level::Info, "msg-job-none-selected", &[]),
        }
    }

    /// `:proceed-job`: the selected running job, waiting at a gate, goes
    /// on.
    pub(in crate::app) fn proceed_job(&mut self) {
        if self.focus != Pane::Jobs {
            self.say_t(Level::Info, "msg-job-select-to-proceed", &[]);
            return;
        }
        let selected = self
            .visible_jobs()
            .get(self.cursor(Pane::Jobs))
            .map(|j| (j.id, j.outcome.is_none()));
        match selected {
            Some((id, true)) => {
                self.effects.push(Effect::Exec(ExecCommand::Proceed { id }));
                self.say_t(
                    Level::Info,
                    "msg-job-going-on",
                    &[("id", &id.0.to_string())],
                );
            }
            Some((id, false)) => {
                self.say_t(
                    Level::Info,
                    "msg-job-ended-already",
                    &[("id", &id.0.to_string())],
                );
            }
            None => self.say_t(Level::Info, "msg-job-none-selected", &[]),
        }
    }

    /// `:resume-job`: the selected job, failed or cancelled, run again from
    /// its first step (each step converges).
    pub(in crate::app) fn resume_job(&mut self) {
        if self.focus != Pane::Jobs {
            self.say_t(Level::Info, "msg-job-select-to-resume", &[]);
            return;
        }
        let selected = self
            .visible_jobs()
            .get(self.cursor(Pane::Jobs))
            .map(|j| (j.id, j.outcome.clone()));
        match selected {
            Some((id, Some(JobOutcome::Failed(_) | JobOutcome::Cancelled))) => {
                self.jobs.resumed(id);
                self.effects.push(Effect::Exec(ExecCommand::Resume { id }));
                self.say_t(Level::Info, "msg-job-resumed", &[("id", &id.0.to_string())]);
            }
            Some((id, _)) => self.say_t(
                Level::Info,
                "msg-job-nothing-to-resume",
                &[("id", &id.0.to_string())],
            ),
            None => self.say_t(Level::Info, "msg-job-none-selected", &[]),
        }
    }
}

/// A request in the operator's words, before it is planned.
pub fn request_title(request: &ActionRequest) -> String {
    let name = &request.target.name;
    match &request.kind {
        ActionKind::Scale { replicas } => format!("scale {name} to {replicas}"),
        ActionKind::Restart => format!("restart {name}"),
        ActionKind::HpaBounds {
            min: Some(min),
            max: Some(max),
        } => format!("set {name}'s bounds to {min}–{max}"),
        ActionKind::HpaBounds { min: Some(min), .. } => format!("set {name}'s minimum to {min}"),
        ActionKind::HpaBounds { max: Some(max), .. } => format!("set {name}'s maximum to {max}"),
        ActionKind::HpaBounds { .. } => format!("set {name}'s bounds"),
        ActionKind::BlueGreen {
            image: Some(image), ..
        } => format!("deploy {image} to {name} (blue-green)"),
        ActionKind::BlueGreen { image: None, .. } => format!("revert {name} to its other colour"),
        ActionKind::RetargetHpa => format!("retarget {name} to the live colour"),
        ActionKind::DeletePod => format!("delete pod {name}"),
        ActionKind::SetImage { image } => format!("set {name}'s image to {image}"),
        ActionKind::Silence { duration, .. } => {
            format!("silence {name} for {} min", duration.as_secs() / 60)
        }
        ActionKind::Expire { ids } => format!("expire {} silence(s) of {name}", ids.len()),
        ActionKind::Undo { revision } => format!("undo {name} to revision {revision}"),
        ActionKind::Switchover { primary, .. } => format!("switch over {primary} to {name}"),
        ActionKind::Promote { primary, .. } => format!("promote {name} without {primary}"),
        ActionKind::Fence {
            read_only: true, ..
        } => format!("fence {name} (read-only)"),
        ActionKind::Fence {
            read_only: false, ..
        } => format!("lift {name}'s fence"),
        ActionKind::Lockout {
            roles,
            locked: true,
        } => format!("lock {} out of {name}", roles.join(", ")),
        ActionKind::Lockout {
            roles,
            locked: false,
        } => format!("let {} log in to {name} again", roles.join(", ")),
        ActionKind::CacheFailover => format!("fail {name} over to a replica"),
        ActionKind::CachePromote => format!("promote a replica of {name} without its primary"),
        ActionKind::ElastiCacheFailover => format!("fail ElastiCache {name} over (TestFailover)"),
        ActionKind::RdsFailover => format!("fail RDS {name} over to its standby"),
        ActionKind::RdsPromote => format!("promote RDS read replica {name}"),
        ActionKind::Infra { operation, .. } => format!("{operation} {name}"),
        ActionKind::NodeGroup { min, desired, max } => format!(
            "size node group {name} in {} to {}",
            request.target.cluster,
            crate::exec::actions::node_group::sizes_text(*min, *desired, *max)
        ),
        ActionKind::Apply { manifests, force } => format!(
            "apply {manifests} to {}{}",
            request.target.cluster,
            if *force {
                ", taking over conflicting fields"
            } else {
                ""
            }
        ),
        ActionKind::TrafficPool { enabled } => format!(
            "{} {}'s pool in the load balancer",
            if *enabled { "enable" } else { "disable" },
            request.target.region
        ),
        ActionKind::PromoteReplica { primary, forced } => format!(
            "promote {name} ({}) in place of {primary}",
            if *forced { "forced" } else { "planned" }
        ),
        ActionKind::RegionFailover {
            from,
            to,
            undo: true,
            back,
            ..
        } => {
            if *back {
                format!("undo the failback from {from} to {to}")
            } else {
                format!("undo the failover of {from} to {to}")
            }
        }
        ActionKind::RegionFailover {
            from,
            to,
            back: false,
            ..
        } => format!("fail {from} over to {to}"),
        ActionKind::RegionFailover {
            from,
            to,
            back: true,
            ..
        } => format!("fail back from {from} to {to}"),
        ActionKind::Resync { primary, .. } => format!("resync {name} from {primary}"),
        ActionKind::Repoint { key, host, .. } => format!("point {key} of {name} at {host}"),
    }
}

/// A configured database as an action's target.
fn database_target(db: &crate::config::platform::Database) -> Target {
    Target {
        region: db.region.get_ref().clone(),
        cluster: db.name.get_ref().clone(),
        namespace: String::new(),
        kind: ObjectKind::Database,
        name: db.name.get_ref().clone(),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().chain(chars).collect::<String>()
    })
}

/// The sizes of `:node-group`: `N`, `+N` / `-N` from the `nodes` the
/// group has, or `min=N desired=N max=N` in any order.
fn node_sizes(words: &[&str], nodes: u32) -> Option<(Option<u32>, Option<u32>, Option<u32>)> {
    let (mut min, mut desired, mut max) = (None, None, None);
    for w in words {
        if let Some(n) = w.strip_prefix('+') {
            desired = Some(nodes.checked_add(n.parse().ok()?)?);
        } else if let Some(n) = w.strip_prefix('-') {
            desired = Some(nodes.checked_sub(n.parse().ok()?)?);
        } else if let Some((k, v)) = w.split_once('=') {
            let v: u32 = v.parse().ok()?;
            match k {
                "min" => min = Some(v),
                "desired" => desired = Some(v),
                "max" => max = Some(v),
                _ => return None,
            }
        } else {
            desired = Some(w.parse().ok()?);
        }
    }
    Some((min, desired, max))
}
