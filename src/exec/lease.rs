//! Several operators, several consoles: while a job runs it holds a Lease
//! (`coordination.k8s.io/v1`) in its target's namespace, named after the
//! target, its holder the operator, renewed while the job runs and
//! expiring after a crash. Its annotations carry the job's intent (which
//! job, what it does, the step reached), so another console sees who does
//! what and refuses a conflicting job; an expired Lease is taken over.

use std::time::Duration;

use crate::exec::step::Access;
use crate::model::action::{ObjectKind, Target};

/// How long a Lease holds without renewal: a console that died frees its
/// targets this long after its last renewal.
pub const DURATION: Duration = Duration::from_secs(30);

/// How often a running job renews its Lease.
pub const RENEW: Duration = Duration::from_secs(10);

/// Annotation: the job (`session/id`).
pub const JOB: &str = "touban.io/job";
/// Annotation: what the job does, in the operator's words.
pub const ACTION: &str = "touban.io/action";
/// Annotation: the step reached (`2/3`).
pub const STEP: &str = "touban.io/step";
/// Annotation: the switch a blue-green job makes (`blue->green`): what
/// another console reads to repair a release this job left half-switched.
pub const SWITCH: &str = "touban.io/switch";

/// A Lease as the executor reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// `holderIdentity`: the operator.
    pub identity: String,
    /// The job (`session/id`).
    pub job: String,
    /// What it does.
    pub action: String,
    /// The step reached (`2/3`).
    pub step: String,
    /// The switch it makes, from and to which colour (a blue-green job).
    pub switch: Option<(String, String)>,
    /// When the holder took it.
    pub acquired: jiff::Timestamp,
    /// When it last renewed it.
    pub renewed: jiff::Timestamp,
    /// How long it holds without renewal.
    pub duration: Duration,
}

impl Holder {
    /// Whether the Lease has run out at `now` (its holder stopped
    /// renewing: a console that died).
    pub fn expired(&self, now: jiff::Timestamp) -> bool {
        let until = self
            .renewed
            .checked_add(jiff::SignedDuration::try_from(self.duration).unwrap_or_default())
            .unwrap_or(self.renewed);
        until <= now
    }

    /// Why a job of `job` may not run while this one holds the target,
    /// if it may not.
    pub fn blocks(&self, job: &str, target: &Target, now: jiff::Timestamp) -> Option<String> {
        if self.job == job || self.expired(now) {
            return None;
        }
        let since = now.duration_since(self.acquired).as_secs().max(0);
        Some(format!(
            "{} is locked by {}: \"{}\" (job {}, step {}) since {since} s ago; try again when it ends{}",
            target.name,
            self.identity,
            self.action,
            self.job,
            self.step,
            format_args!(
                ", or after {} s if its console has died",
                self.renewed
                    .checked_add(jiff::SignedDuration::try_from(self.duration).unwrap_or_default())
                    .map_or(0, |u| u.duration_since(now).as_secs().max(0))
            )
        ))
    }
}

/// `blue->green` as an annotation's value.
pub fn switch_value((from, to): &(String, String)) -> String {
    format!("{from}->{to}")
}

/// The switch an annotation's value names, if it names one.
pub fn parse_switch(value: &str) -> Option<(String, String)> {
    let (from, to) = value.split_once("->")?;
    (!from.is_empty() && !to.is_empty()).then(|| (from.to_owned(), to.to_owned()))
}

/// Whether a job on the target holds its Lease beside it: every target in
/// a cluster (a silence's Alertmanager and a database have none: their
/// Lease is in the coordination cluster).
pub fn applies(target: &Target) -> bool {
    !matches!(
        target.kind,
        ObjectKind::Silence
            | ObjectKind::Database
            | ObjectKind::Cache
            | ObjectKind::Pool
            | ObjectKind::Region
            // Outside any cluster: Terraform's own state lock
            // (`-lock-timeout=60s`) keeps two runs apart.
            | ObjectKind::Infrastructure
    )
}

/// The Lease's name for a target: the kind and name, as a DNS subdomain
/// (lower case; what else an alert's name holds becomes `-`).
pub fn name(target: &Target) -> String {
    let kind = match target.kind {
        ObjectKind::Deployment => "deployment",
        ObjectKind::HorizontalPodAutoscaler => "hpa",
        ObjectKind::Release => "release",
        ObjectKind::Service => "service",
        ObjectKind::Pod => "pod",
        ObjectKind::Silence => "silence",
        ObjectKind::Database => "database",
        ObjectKind::Cache => "cache",
        ObjectKind::Pool => "pool",
        ObjectKind::Region => "region",
        ObjectKind::ConfigMap => "configmap",
        ObjectKind::Manifests => "manifests",
        ObjectKind::Infrastructure => "infrastructure",
        ObjectKind::NodeGroup => "nodegroup",
        ObjectKind::Secret => "secret",
    };
    let name: String = target
        .name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '-') => c,
            _ => '-',
        })
        .collect();
    let mut full = format!("touban.{kind}.{name}");
    full.truncate(253);
    // A DNS subdomain: labels of letters, digits and inner `-`, none empty.
    full.split('.')
        .map(|l| l.trim_matches('-'))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

/// Where a job's Lease is held: beside its target, or where its plan
/// says (a target without a cluster: in the coordination cluster); none
/// for a dry run, which changes nothing, or a job without one.
pub fn of(job: &crate::exec::step::Job) -> Option<Target> {
    let request = &job.plan.request;
    if request.dry_run {
        return None;
    }
    job.plan
        .lease
        .clone()
        .or_else(|| applies(&request.target).then(|| request.target.clone()))
}

/// What a job that writes needs besides its own calls: its target's Lease
/// read, taken, renewed and given back.
pub fn access() -> [Access; 4] {
    ["get", "create", "update", "delete"]
        .map(|verb| Access::new(verb, "coordination.k8s.io", "leases"))
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    fn holder(renewed: jiff::Timestamp) -> Holder {
        Holder {
            identity: "aiko@bastion-1".into(),
            job: "s1/3".into(),
            action: "scale web-frontend-blue from 4 to 10".into(),
            step: "2/3".into(),
            switch: None,
            acquired: renewed,
            renewed,
            duration: DURATION,
        }
    }

    #[test]
    fn another_job_is_blocked_until_the_lease_runs_out() {
        let t = Target {
            region: "tokyo".into(),
            cluster: "eks-tokyo".into(),
            namespace: "iworkz-production".into(),
            kind: ObjectKind::Deployment,
            name: "web-frontend-blue".into(),
        };
        assert_eq!(name(&t), "touban.deployment.web-frontend-blue");
        let odd = Target {
            kind: ObjectKind::Silence,
            name: "am (tokyo)..Foo_".into(),
            ..t.clone()
        };
        assert_eq!(name(&odd), "touban.silence.am--tokyo.foo");
        let now = jiff::Timestamp::now();
        let h = holder(now);
        let why = h.blocks("s2/1", &t, now).expect("blocked");
        assert!(
            why.contains("locked by aiko@bastion-1") && why.contains("scale web-frontend-blue"),
            "{why}"
        );
        assert_eq!(h.blocks("s1/3", &t, now), None, "its own job");
        let later = now + jiff::SignedDuration::from_secs(31);
        assert!(h.expired(later));
        assert_eq!(h.blocks("s2/1", &t, later), None, "expired: taken over");
    }
}
