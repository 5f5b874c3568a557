//! `/version` and API discovery: aggregated (v2, what kubectl asks for) or
//! legacy (`APIVersions`, `APIGroupList`, `APIResourceList`), chosen by the
//! Accept header as the real server does.

use serde_json::{Value, json};

use super::resource::{RESOURCES, Resource};

/// The Content-Type of an aggregated discovery answer: kubectl refuses
/// the answer without it.
pub const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether the client asked for aggregated discovery.
pub fn wants_aggregated(accept: &str) -> bool {
    accept.contains("as=APIGroupDiscoveryList")
}

/// `GET /version`: a 1.36 server. The kinds served are those of 1.33
/// (k8s-openapi's `v1_33`), unchanged through 1.36; the tests' kubectl is
/// pinned to 1.36 (tests/run.sh), within the one minor version of skew
/// kubectl supports.
pub fn version() -> Value {
    json!({"major": "1", "minor": "36", "gitVersion": "v1.36.0",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2", "compiler": "gc",
        "platform": "linux/amd64"})
}

/// Groups served, core ("") first, each with its versions in preference order.
fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for r in RESOURCES {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
            Some(_) => {}
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

fn aggregated_resource(r: &Resource) -> Value {
    let subresources: Vec<Value> = r
        .subresources
        .iter()
        .map(|s| {
            let (group, version, kind) = if *s == "scale" { ("autoscaling", "v1", "Scale") } else { (r.group, r.version, r.kind) };
            json!({"subresource": s, "responseKind": {"group": group, "version": version, "kind": kind},
                "verbs": ["get", "patch", "update"]})
        })
        .collect();
    let mut v = json!({"resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.kind.to_lowercase(), "verbs": r.verbs(), "shortNames": r.short,
        "subresources": subresources});
    if r.in_all {
        v["categories"] = json!(["all"]);
    }
    v
}

/// `GET /api` or `GET /apis` in the aggregated form.
pub fn aggregated(core: bool) -> Value {
    let mut items = vec![];
    for (group, versions) in groups() {
        if core != group.is_empty() {
            continue;
        }
        let versions: Vec<Value> = versions
            .iter()
            .map(|v| {
                let resources: Vec<Value> = RESOURCES
                    .iter()
                    .filter(|r| r.group == group && r.version == *v)
                    .map(aggregated_resource)
                    .collect();
                json!({"version": v, "freshness": "Current", "resources": resources})
            })
            .collect();
        items.push(
            json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": versions}),
        );
    }
    if !core {
        items.push(json!({"metadata": {"name": "authorization.k8s.io", "creationTimestamp": null},
            "versions": [{"version": "v1", "freshness": "Current", "resources": [
                {"resource": "selfsubjectaccessreviews", "responseKind": {"group": "authorization.k8s.io", "version": "v1", "kind": "SelfSubjectAccessReview"},
                 "scope": "Cluster", "singularResource": "selfsubjectaccessreview", "verbs": ["create"]}]}]}));
    }
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

/// `GET /api` in the legacy form.
pub fn api_versions() -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]})
}

/// `GET /apis` in the legacy form.
pub fn api_group_list() -> Value {
    let mut groups: Vec<Value> = groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, versions)| {
            let vs: Vec<Value> = versions
                .iter()
                .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                .collect();
            json!({"name": g, "versions": vs, "preferredVersion": vs[0]})
        })
        .collect();
    let authz = json!({"groupVersion": "authorization.k8s.io/v1", "version": "v1"});
    groups.push(
        json!({"name": "authorization.k8s.io", "versions": [authz], "preferredVersion": authz}),
    );
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /api/v1` or `GET /apis/{group}/{version}`; `None` for an unknown one.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut main = json!({"name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced,
            "kind": r.kind, "verbs": r.verbs(), "shortNames": r.short});
        if r.in_all {
            main["categories"] = json!(["all"]);
        }
        resources.push(main);
        for s in r.subresources {
            let (g, v, k) = if *s == "scale" {
                ("autoscaling", "v1", "Scale")
            } else {
                (r.group, r.version, r.kind)
            };
            resources.push(json!({"name": format!("{}/{s}", r.plural), "singularName": "", "namespaced": r.namespaced,
                "group": g, "version": v, "kind": k, "verbs": ["get", "patch", "update"]}));
        }
    }
    if group == "authorization.k8s.io" && version == "v1" {
        resources.push(
            json!({"name": "selfsubjectaccessreviews", "singularName": "", "namespaced": false,
            "kind": "SelfSubjectAccessReview", "verbs": ["create"]}),
        );
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: where each group version's document is.
pub fn openapi_root() -> Value {
    let mut paths = serde_json::Map::new();
    for (group, versions) in groups() {
        for v in versions {
            let p = gv_path(group, v);
            paths.insert(
                p.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash=sandbox")}),
            );
        }
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/{api/v1 | apis/g/v}`: a document naming, for each
/// resource, the PATCH operation with its kind and `fieldValidation`
/// parameter, which is what `kubectl apply` looks for.
pub fn openapi_group_version(path: &str) -> Option<Value> {
    let mut paths = serde_json::Map::new();
    for r in RESOURCES
        .iter()
        .filter(|r| gv_path(r.group, r.version) == path)
    {
        let url = if r.namespaced {
            format!("/{path}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("/{path}/{}/{{name}}", r.plural)
        };
        paths.insert(
            url,
            json!({"patch": {"x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
                "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": {"description": "OK"}}}}),
        );
    }
    if paths.is_empty() {
        return None;
    }
    Some(
        json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.36.0"}, "components": {"schemas": {}}, "paths": paths}),
    )
}
