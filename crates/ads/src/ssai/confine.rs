//! Confinement of viewer paths: a public route may only reach the content source its
//! configuration names.
//!
//! A viewer's path is joined to `VideoContentSourceUrl`; a `.` or `..` segment in it, written
//! plainly, percent-encoded (`%2e%2e`, `..%2F`), encoded twice (`%252e%252e`, which URL
//! parsers decode once more when the joined URL is parsed), or separated by a backslash
//! (which WHATWG URL parsing reads as `/`), could climb out of that prefix. Any of them is
//! a 400 before anything is fetched: [`check_path`] on the raw request path of every public
//! route ([`reject_dot_segments`]) and on the path a session is started with, and
//! [`join`] checks once more that the joined URL is still under the prefix.

use axum::{
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
};
use percent_encoding::percent_decode_str;

use crate::error::{AdsError, Result};

/// How many rounds of percent-decoding are undone before judging a path (a path still
/// changing after this many is refused as well).
const DECODE_ROUNDS: usize = 4;

fn refused(message: &str) -> AdsError {
    AdsError::BadField {
        field: "path".into(),
        message: message.into(),
    }
}

/// Refuse a path with a `.` or `..` segment (in any encoding), a backslash, or a NUL.
pub fn check_path(path: &str) -> Result<()> {
    let mut text = path.to_string();
    for round in 0..=DECODE_ROUNDS {
        if text.contains('\\') || text.contains('\0') {
            return Err(refused("must not contain a backslash or NUL"));
        }
        if text.split('/').any(|seg| seg == "." || seg == "..") {
            return Err(refused("must not contain . or .. segments"));
        }
        let decoded = percent_decode_str(&text).decode_utf8_lossy().into_owned();
        if decoded == text {
            return Ok(());
        }
        if round == DECODE_ROUNDS {
            break;
        }
        text = decoded;
    }
    Err(refused("encoded too many times"))
}

/// `<prefix>/<path>`, refused (400) unless it stays under `prefix`.
pub fn join(prefix: &str, path: &str) -> Result<String> {
    check_path(path)?;
    let base = prefix.trim_end_matches('/');
    let joined = format!("{base}/{}", path.trim_start_matches('/'));
    let parsed = url::Url::parse(&joined).map_err(|e| refused(&format!("not a URL: {e}")))?;
    let root = url::Url::parse(&format!("{base}/")).map_err(|e| refused(&e.to_string()))?;
    if parsed.origin() != root.origin() || !parsed.path().starts_with(root.path()) {
        return Err(refused("leaves the configuration's content source"));
    }
    Ok(joined)
}

/// Middleware for public routes: 400 `{error, field: "path"}` for a request path that
/// [`check_path`] refuses, before the handler runs.
pub async fn reject_dot_segments(req: Request, next: Next) -> Response {
    if let Err(e) = check_path(req.uri().path()) {
        return web::ApiError::from(e).into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_in_every_encoding_are_refused() {
        for bad in [
            "../metrics",
            "demo/../../metrics",
            "..%2F..%2Fmetrics",
            "%2e%2e/metrics",
            "%2E%2E%2fmetrics",
            "%252e%252e/metrics",
            "%25252e%25252e%25252fmetrics",
            "demo/./x",
            "demo\\..\\metrics",
            "demo%5c..%5cmetrics",
            "a/%2e/b",
            "a/%00/b",
        ] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        for good in [
            "demo/dvr/index.m3u8",
            "a..b/c.m3u8",
            "a/...m3u8",
            "a%20b/index.m3u8",
        ] {
            assert!(check_path(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn joined_urls_stay_under_the_prefix() {
        assert_eq!(
            join("http://o/out/", "/demo/dvr/index.m3u8").unwrap(),
            "http://o/out/demo/dvr/index.m3u8"
        );
        assert!(join("http://o/out", "..%2F..%2Fmetrics").is_err());
        assert!(join("http://o/out", "@evil/x").is_ok());
        assert_eq!(
            url::Url::parse(&join("http://o/out", "@evil/x").unwrap())
                .unwrap()
                .host_str(),
            Some("o")
        );
    }
}
