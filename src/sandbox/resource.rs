//! The Kubernetes resources the sandbox serves: their group, version,
//! plural, kind, scope and the short names and verbs discovery reports.

/// One served resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource {
    /// API group; empty for core.
    pub group: &'static str,
    /// Version.
    pub version: &'static str,
    /// Plural name, as in URLs.
    pub plural: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// kubectl short names.
    pub short: &'static [&'static str],
    /// Subresources: `scale`, `status`.
    pub subresources: &'static [&'static str],
    /// In kubectl's `all` category.
    pub in_all: bool,
}

#[allow(clippy::too_many_arguments)]
const fn res(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    subresources: &'static [&'static str],
    in_all: bool,
) -> Resource {
    Resource {
        group,
        version,
        plural,
        kind,
        namespaced,
        short,
        subresources,
        in_all,
    }
}

/// Every resource, in discovery order.
pub const RESOURCES: &[Resource] = &[
    res(
        "",
        "v1",
        "namespaces",
        "Namespace",
        false,
        &["ns"],
        &["status"],
        false,
    ),
    res(
        "",
        "v1",
        "nodes",
        "Node",
        false,
        &["no"],
        &["status"],
        false,
    ),
    res(
        "",
        "v1",
        "pods",
        "Pod",
        true,
        &["po"],
        &["status", "log"],
        true,
    ),
    res(
        "",
        "v1",
        "services",
        "Service",
        true,
        &["svc"],
        &["status"],
        true,
    ),
    res(
        "",
        "v1",
        "endpoints",
        "Endpoints",
        true,
        &["ep"],
        &[],
        false,
    ),
    res(
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        true,
        &["cm"],
        &[],
        false,
    ),
    res("", "v1", "secrets", "Secret", true, &[], &[], false),
    res("", "v1", "events", "Event", true, &["ev"], &[], false),
    res(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        &["deploy"],
        &["scale", "status"],
        true,
    ),
    res(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        &["rs"],
        &["scale", "status"],
        true,
    ),
    // What touban's executor locks a target with (and records its intent
    // in), with the store's resourceVersion conflicts as any object.
    res(
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        true,
        &[],
        &[],
        false,
    ),
    res(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
        &["hpa"],
        &["status"],
        true,
    ),
];

impl Resource {
    /// `apiVersion` of its objects.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps`, as error messages name it.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The resource served at `group/version/plural`.
    pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Resource> {
        RESOURCES
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// The resource of a kind.
    pub fn of_kind(kind: &str) -> Option<&'static Resource> {
        RESOURCES.iter().find(|r| r.kind == kind)
    }

    /// Verbs discovery reports.
    pub fn verbs(&self) -> &'static [&'static str] {
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}
