//! API errors, in the `Status` shape kubectl prints and kube-rs matches on
//! (`reason` decides `is_not_found()` and friends).

use serde_json::{Value, json};

use super::resource::Resource;

/// An error answer of the API server.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub code: u16,
    /// `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...
    pub reason: &'static str,
    /// For the operator.
    pub message: String,
    /// `details`, if any.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Option<Value>) -> ApiError {
        ApiError {
            code,
            reason,
            message,
            details,
        }
    }

    fn details(r: &Resource, name: &str) -> Value {
        json!({"name": name, "group": r.group, "kind": r.plural})
    }

    /// 404 for an object.
    pub fn not_found(r: &Resource, name: &str) -> ApiError {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", r.qualified()),
            Some(Self::details(r, name)),
        )
    }

    /// Any status, answered to everything while a fault is injected.
    pub fn injected(code: u16) -> ApiError {
        let reason = match code {
            401 => "Unauthorized",
            403 => "Forbidden",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            _ => "InternalError",
        };
        Self::new(
            code,
            reason,
            format!("the sandbox answers {code} to every request (an injected fault)"),
            None,
        )
    }

    /// 404 for a path.
    pub fn no_route() -> ApiError {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
            None,
        )
    }

    /// 409 on create.
    pub fn already_exists(r: &Resource, name: &str) -> ApiError {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", r.qualified()),
            Some(Self::details(r, name)),
        )
    }

    /// 409 on a delete whose precondition (`UID` or `ResourceVersion`)
    /// no longer holds.
    pub fn precondition(
        r: &Resource,
        name: &str,
        field: &str,
        wanted: &str,
        actual: &str,
    ) -> ApiError {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: {field} in precondition: {wanted}, {field} in object meta: {actual}",
                r.qualified()
            ),
            Some(Self::details(r, name)),
        )
    }

    /// 409 on a stale resourceVersion.
    pub fn conflict(r: &Resource, name: &str) -> ApiError {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                r.qualified()
            ),
            Some(Self::details(r, name)),
        )
    }

    /// 422 for an invalid object.
    pub fn invalid(r: &Resource, name: &str, field: &str, message: &str) -> ApiError {
        let kind = if r.group.is_empty() {
            r.kind.to_owned()
        } else {
            format!("{}.{}", r.kind, r.group)
        };
        Self::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {field}: {message}"),
            Some(json!({"name": name, "group": r.group, "kind": r.kind,
                "causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]})),
        )
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        Self::new(400, "BadRequest", message.into(), None)
    }

    /// 401.
    pub fn unauthorized() -> ApiError {
        Self::new(401, "Unauthorized", "Unauthorized".into(), None)
    }

    /// 403.
    pub fn forbidden(user: &str, verb: &str, r: &Resource, namespace: Option<&str>) -> ApiError {
        let scope = namespace.map_or_else(
            || " at the cluster scope".to_owned(),
            |ns| format!(" in the namespace \"{ns}\""),
        );
        Self::new(
            403,
            "Forbidden",
            format!(
                "{} is forbidden: User \"{user}\" cannot {verb} resource \"{}\" in API group \"{}\"{scope}",
                r.qualified(),
                r.plural,
                r.group
            ),
            Some(json!({"kind": r.plural})),
        )
    }

    /// 405.
    pub fn method_not_allowed() -> ApiError {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".into(),
            None,
        )
    }

    /// 410 for an expired continue token.
    pub fn expired(message: impl Into<String>) -> ApiError {
        Self::new(410, "Expired", message.into(), None)
    }

    /// 415.
    pub fn unsupported_media_type() -> ApiError {
        Self::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json, application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json".into(),
            None,
        )
    }

    /// The `Status` body.
    pub fn status(&self) -> Value {
        let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code});
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}
