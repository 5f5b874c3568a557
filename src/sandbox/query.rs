//! The AWS Query protocol's answers, as RDS and ElastiCache send them:
//! an `{Action}Response` in the API's XML namespace with a request id, or
//! an `ErrorResponse` naming the fault.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Text escaped for an XML element or attribute.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn request_id() -> String {
    format!("{:032x}", jiff::Timestamp::now().as_nanosecond())
}

/// `action`'s answer in `namespace`, `result` inside its `{action}Result`.
pub fn xml(namespace: &str, action: &str, result: &str) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml")],
        format!(
            "<{action}Response xmlns=\"{namespace}\">\n<{action}Result>\n{result}</{action}Result>\n<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>\n</{action}Response>\n",
            request_id()
        ),
    )
        .into_response()
}

/// A sender's fault `code` in `namespace`.
pub fn error(namespace: &str, status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml")],
        format!(
            "<ErrorResponse xmlns=\"{namespace}\">\n<Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error>\n<RequestId>{}</RequestId>\n</ErrorResponse>\n",
            escape(message),
            request_id()
        ),
    )
        .into_response()
}
