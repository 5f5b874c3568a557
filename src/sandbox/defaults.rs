//! Defaults the real API server fills in on every write. kubectl depends on
//! them (`describe` reads `spec.replicas`; `rollout undo` compares the
//! ReplicaSet template with the defaulted Deployment template).

use serde_json::{Map, Value, json};

fn set_default(obj: &mut Map<String, Value>, key: &str, value: Value) {
    obj.entry(key.to_owned()).or_insert(value);
}

/// Fills in defaults for an object of `kind`.
pub fn apply(kind: &str, object: &mut Value) {
    match kind {
        "Deployment" => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                set_default(spec, "replicas", json!(1));
                set_default(spec, "revisionHistoryLimit", json!(10));
                set_default(spec, "progressDeadlineSeconds", json!(600));
                let strategy = spec
                    .entry("strategy")
                    .or_insert_with(|| json!({}))
                    .as_object_mut();
                if let Some(strategy) = strategy {
                    set_default(strategy, "type", json!("RollingUpdate"));
                    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                        let ru = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
                        if let Some(ru) = ru.as_object_mut() {
                            set_default(ru, "maxUnavailable", json!("25%"));
                            set_default(ru, "maxSurge", json!("25%"));
                        }
                    }
                }
                if let Some(template) = spec.get_mut("template") {
                    pod_template(template);
                }
            }
        }
        "ReplicaSet" => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                set_default(spec, "replicas", json!(1));
                if let Some(template) = spec.get_mut("template") {
                    pod_template(template);
                }
            }
        }
        "Pod" => {
            if let Some(spec) = object.get_mut("spec") {
                pod_spec(spec);
            }
        }
        // A namespace is Active from the start (kdash and kubectl read it).
        "Namespace" => {
            if let Some(o) = object.as_object_mut() {
                if let Some(status) = o
                    .entry("status")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                {
                    set_default(status, "phase", json!("Active"));
                }
                if let Some(spec) = o.entry("spec").or_insert_with(|| json!({})).as_object_mut() {
                    set_default(spec, "finalizers", json!(["kubernetes"]));
                }
            }
        }
        // The API server folds `stringData` into `data` (base64) and keeps
        // no `stringData`: what a write sends in clear is read back encoded.
        "Secret" => {
            if let Some(o) = object.as_object_mut() {
                set_default(o, "type", json!("Opaque"));
                if let Some(Value::Object(clear)) = o.remove("stringData") {
                    use base64::Engine as _;
                    let b64 = base64::engine::general_purpose::STANDARD;
                    let data = o.entry("data").or_insert_with(|| json!({}));
                    if let Some(data) = data.as_object_mut() {
                        for (k, v) in clear {
                            let v = v.as_str().unwrap_or_default();
                            data.insert(k, json!(b64.encode(v)));
                        }
                    }
                }
            }
        }
        "Service" => {
            if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                set_default(spec, "type", json!("ClusterIP"));
                set_default(spec, "sessionAffinity", json!("None"));
                for port in spec
                    .get_mut("ports")
                    .and_then(Value::as_array_mut)
                    .into_iter()
                    .flatten()
                {
                    if let Some(port) = port.as_object_mut() {
                        set_default(port, "protocol", json!("TCP"));
                        let p = port.get("port").cloned().unwrap_or(Value::Null);
                        set_default(port, "targetPort", p);
                    }
                }
            }
        }
        _ => {}
    }
}

fn pod_template(template: &mut Value) {
    if let Some(meta) = template.as_object_mut() {
        set_default(meta, "metadata", json!({}));
    }
    if let Some(spec) = template.get_mut("spec") {
        pod_spec(spec);
    }
}

fn pod_spec(spec: &mut Value) {
    let Some(spec) = spec.as_object_mut() else {
        return;
    };
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    for container in spec
        .get_mut("containers")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        let Some(c) = container.as_object_mut() else {
            continue;
        };
        set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
        set_default(c, "terminationMessagePolicy", json!("File"));
        set_default(c, "resources", json!({}));
        let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
        let tag = image
            .rsplit_once(':')
            .map(|(_, t)| t)
            .filter(|t| !t.contains('/'));
        let policy = if tag.is_none_or(|t| t == "latest") {
            "Always"
        } else {
            "IfNotPresent"
        };
        set_default(c, "imagePullPolicy", json!(policy));
        for port in c
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(port) = port.as_object_mut() {
                set_default(port, "protocol", json!("TCP"));
            }
        }
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
                set_default(p, "timeoutSeconds", json!(1));
                set_default(p, "periodSeconds", json!(10));
                set_default(p, "successThreshold", json!(1));
                set_default(p, "failureThreshold", json!(3));
                if let Some(get) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                    set_default(get, "scheme", json!("HTTP"));
                }
            }
        }
    }
}

/// Checks an object against its k8s-openapi type, as the real server
/// rejects a body that does not decode.
pub fn validate(kind: &str, object: &Value) -> Result<(), String> {
    use k8s_openapi::api::{apps, autoscaling, core};
    fn check<T: serde::de::DeserializeOwned>(v: &Value) -> Result<(), String> {
        T::deserialize(v).map(|_| ()).map_err(|e| e.to_string())
    }
    match kind {
        "Namespace" => check::<core::v1::Namespace>(object),
        "Node" => check::<core::v1::Node>(object),
        "Pod" => check::<core::v1::Pod>(object),
        "Service" => check::<core::v1::Service>(object),
        "Endpoints" => check::<core::v1::Endpoints>(object),
        "ConfigMap" => check::<core::v1::ConfigMap>(object),
        "Secret" => check::<core::v1::Secret>(object),
        "Event" => check::<core::v1::Event>(object),
        "Deployment" => check::<apps::v1::Deployment>(object),
        "ReplicaSet" => check::<apps::v1::ReplicaSet>(object),
        "HorizontalPodAutoscaler" => check::<autoscaling::v2::HorizontalPodAutoscaler>(object),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_defaults_match_the_api_server() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]},
            {"name": "side", "image": "busybox"}]}}}});
        apply("Deployment", &mut d);
        assert_eq!(d.pointer("/spec/replicas"), Some(&json!(1)));
        assert_eq!(
            d.pointer("/spec/strategy/rollingUpdate/maxSurge"),
            Some(&json!("25%"))
        );
        assert_eq!(
            d.pointer("/spec/template/spec/containers/0/imagePullPolicy"),
            Some(&json!("IfNotPresent"))
        );
        assert_eq!(
            d.pointer("/spec/template/spec/containers/1/imagePullPolicy"),
            Some(&json!("Always"))
        );
        assert_eq!(
            d.pointer("/spec/template/spec/containers/0/ports/0/protocol"),
            Some(&json!("TCP"))
        );
        assert_eq!(d.pointer("/spec/template/metadata"), Some(&json!({})));
    }
}
