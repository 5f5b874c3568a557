//! HTTP for the polling sources: one way to make a client, and every
//! answer read with a cap on its body (checked against Content-Length
//! first, then counted as it streams in), so an endpoint that answers with
//! gigabytes is an error of that source, not a console grown to the size
//! of the answer. URLs in messages are masked.

use std::time::Duration;

use crate::config::secret::mask_url;

/// A client whose every request ends within `timeout`.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))
}

/// The error without reqwest's long chain of causes, the URL masked.
pub(crate) fn short(e: &reqwest::Error) -> String {
    let text = if e.is_connect() {
        "cannot connect (is it running, and is the url right?)".to_owned()
    } else if e.is_timeout() {
        "no answer in time".to_owned()
    } else if e.is_body() || e.is_decode() {
        format!("the answer broke off: {e}")
    } else {
        e.to_string()
    };
    crate::config::secret::mask_line(&text)
}

/// GETs `url` and reads its body, at most `cap` bytes; a status other than
/// 2xx is an error naming it.
pub(crate) async fn get(http: &reqwest::Client, url: &str, cap: u64) -> Result<Vec<u8>, String> {
    let shown = mask_url(url);
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{shown}: {}", short(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{shown}: HTTP {status}"));
    }
    body(response, cap)
        .await
        .map_err(|e| format!("{shown}: {e}"))
}

/// A response's body, at most `cap` bytes.
pub(crate) async fn body(mut response: reqwest::Response, cap: u64) -> Result<Vec<u8>, String> {
    let too_big = || {
        format!(
            "answered more than {} MiB: refused (settings.max_reply_mib)",
            cap >> 20
        )
    };
    if response.content_length().is_some_and(|n| n > cap) {
        return Err(too_big());
    }
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| short(&e))? {
        if (out.len() + chunk.len()) as u64 > cap {
            return Err(too_big());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// GETs `url` and reads its body as JSON into `T`.
pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    cap: u64,
) -> Result<T, String> {
    let bytes = get(http, url, cap).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not the JSON expected: {e}", mask_url(url)))
}
