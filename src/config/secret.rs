//! Keeping secrets off the screen and out of the log: URLs checked for
//! credentials when the config is read (with the `url` crate, not by
//! hand), and every URL or line that is shown masked, whatever it carries.

/// Query parameters whose value is a secret, whatever the scheme.
const SECRET_PARAMS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "token",
    "access_token",
    "auth_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "client_secret",
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-security-token",
    "sslpassword",
];

/// TOML keys whose string value is a secret (quoted config lines mask it).
const SECRET_KEYS: &[&str] = &[
    "password", "passwd", "token", "secret", "api_key", "apikey", "key",
];

fn secret_param(name: &str) -> bool {
    SECRET_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(name))
}

/// What in a URL is a credential, if anything: `Some("a password")`.
/// A URL that does not parse is reported by the caller; it carries none
/// this function can see.
pub fn credential_in(url: &url::Url) -> Option<String> {
    if url.password().is_some() {
        return Some("a password in its user part (user:password@)".into());
    }
    url.query_pairs()
        .find(|(k, _)| secret_param(k))
        .map(|(k, _)| format!("a secret in its query (`{k}=`)"))
}

/// `url` as it may be shown: the password of its user part and the value
/// of every secret-looking query parameter replaced by `****`. Text that is
/// not a URL is masked as a line would be.
pub fn mask_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return mask_line(url);
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("****"));
    }
    if parsed.query_pairs().any(|(k, _)| secret_param(&k)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_param(&k) {
                    "****".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// A line of text (a config line, an error message, a log line) with every
/// credential it may carry replaced by `****`: the password of each
/// `scheme://user:password@host` (up to the last `@` before the URL ends,
/// so a `/` in the password hides nothing), secret query parameters, and
/// the value of `password = "..."`-like keys.
pub fn mask_line(line: &str) -> String {
    mask_keys(&mask_params(&mask_userinfo(line)))
}

/// Where a URL written in text ends.
fn url_end(s: &str) -> usize {
    s.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
        .unwrap_or(s.len())
}

fn mask_userinfo(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = url_end(tail);
        let candidate = &tail[..end];
        match candidate
            .rfind('@')
            .and_then(|at| candidate[..at].find(':').map(|colon| (colon, at)))
        {
            Some((colon, at)) => {
                out.push_str(&candidate[..=colon]);
                out.push_str("****");
                out.push_str(&candidate[at..]);
            }
            None => out.push_str(candidate),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `name=value` after `?` or `&` with a secret name: the value masked.
fn mask_params(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.char_indices().peekable();
    let mut last = 0;
    while let Some((i, c)) = chars.next() {
        if c != '?' && c != '&' {
            continue;
        }
        let after = &line[i + 1..];
        let Some(eq) = after.find('=') else { continue };
        let name = &after[..eq];
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            continue;
        }
        if !secret_param(name) {
            continue;
        }
        let value_start = i + 1 + eq + 1;
        let value_len = line[value_start..]
            .find(|c: char| c == '&' || c == '#' || c.is_whitespace() || matches!(c, '"' | '\''))
            .unwrap_or(line.len() - value_start);
        out.push_str(&line[last..value_start]);
        out.push_str("****");
        last = value_start + value_len;
        while chars.peek().is_some_and(|(j, _)| *j < last) {
            chars.next();
        }
    }
    out.push_str(&line[last..]);
    out
}

/// `password = "..."` (a secret key given a string): the string masked.
fn mask_keys(line: &str) -> String {
    let mut out = line.to_owned();
    for key in SECRET_KEYS {
        let mut from = 0;
        while let Some(pos) = out[from..].find(key).map(|p| p + from) {
            let before_ok = pos == 0
                || !out[..pos]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let after = &out[pos + key.len()..];
            let trimmed = after.trim_start();
            from = pos + key.len();
            if !before_ok || !trimmed.starts_with('=') {
                continue;
            }
            let value = trimmed[1..].trim_start();
            let Some(quote) = value.chars().next().filter(|q| *q == '"' || *q == '\'') else {
                continue;
            };
            let start = out.len() - value.len() + 1;
            let Some(len) = out[start..].find(quote) else {
                continue;
            };
            out.replace_range(start..start + len, "****");
            from = start + 4;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_found_by_parsing() {
        let find = |s: &str| credential_in(&url::Url::parse(s).expect(s));
        assert!(find("postgres://u:secret@h:5432/db").is_some());
        assert!(find("http://admin:pw@am:9093").is_some());
        assert!(find("postgres://u@h/db?sslmode=require&password=x").is_some());
        assert!(find("http://h:9100/metrics?token=abc").is_some());
        assert!(find("postgres://u@h:5432/db?sslmode=require").is_none());
        assert!(find("redis://h:6379").is_none());
    }

    #[test]
    fn urls_and_lines_are_masked() {
        assert_eq!(
            mask_url("http://admin:hunter2@am:9093/api?token=abc&x=1"),
            "http://admin:****@am:9093/api?token=****&x=1"
        );
        assert_eq!(mask_url("redis://h:6379"), "redis://h:6379");
        let line =
            r#"direct = { url = "postgres://u:pa/ss@db:5432/x?password=p2", b = "redis://h:1" }"#;
        let masked = mask_line(line);
        assert!(
            !masked.contains("pa/ss") && !masked.contains("p2"),
            "{masked}"
        );
        assert!(masked.contains("postgres://u:****@db:5432"), "{masked}");
        assert!(masked.contains("redis://h:1"), "{masked}");
        assert_eq!(mask_line(r#"password = "plain""#), r#"password = "****""#);
        assert_eq!(
            mask_line("url = \"redis://:tok@h\""),
            "url = \"redis://:****@h\""
        );
        assert_eq!(mask_line("no url here"), "no url here");
        assert_eq!(
            mask_line("cannot connect to http://u:p@h/x: refused"),
            "cannot connect to http://u:****@h/x: refused"
        );
    }
}
