//! `GET /v1/conditioned/{key}/{rendition}/{file}`: conditioned files from the local cache,
//! or from the shared store when this replica does not hold them. Every part of the path
//! is checked against the names conditioning writes (a 32-hex key, `v<n>`/`a<n>`, `s<n>.ts`,
//! `s<n>.m4s`, `init.mp4`, `index.m3u8`) before anything is read, so no path leaves the
//! cache. The bytes under a key never change: answers are cacheable for a year.

use axum::{
    Router,
    extract::{Path, State},
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};
use web::ApiError;

use super::Conditioner;
use super::cache::safe_key;

pub fn router(c: Conditioner) -> Router {
    Router::new()
        .route("/v1/conditioned/{key}/master.m3u8", get(master))
        .route("/v1/conditioned/{key}/{rendition}/{file}", get(file))
        .with_state(c)
}

fn safe_rendition(r: &str) -> bool {
    let mut chars = r.chars();
    matches!(chars.next(), Some('v' | 'a'))
        && r.len() > 1
        && r.len() <= 5
        && chars.all(|c| c.is_ascii_digit())
}

fn safe_file(f: &str) -> bool {
    if f == "init.mp4" || f == "index.m3u8" {
        return true;
    }
    let Some(stem) = f.strip_suffix(".ts").or_else(|| f.strip_suffix(".m4s")) else {
        return false;
    };
    stem.strip_prefix('s')
        .is_some_and(|n| !n.is_empty() && n.len() <= 6 && n.bytes().all(|b| b.is_ascii_digit()))
}

async fn master(State(c): State<Conditioner>, Path(key): Path<String>) -> Response {
    if !safe_key(&key) {
        return ApiError::not_found("no such conditioned ad")
            .with_field("key")
            .into_response();
    }
    send(&c, &key, "master.m3u8".into(), "master.m3u8").await
}

async fn file(
    State(c): State<Conditioner>,
    Path((key, rendition, file)): Path<(String, String, String)>,
) -> Response {
    if !safe_key(&key) {
        return ApiError::not_found("no such conditioned ad")
            .with_field("key")
            .into_response();
    }
    if !safe_rendition(&rendition) || !safe_file(&file) {
        return ApiError::not_found("no such conditioned file")
            .with_field("file")
            .into_response();
    }
    send(&c, &key, format!("{rendition}/{file}"), &file).await
}

/// `rel` of ad `key` (checked names only), from the local cache or the shared store.
async fn send(c: &Conditioner, key: &str, rel: String, file: &str) -> Response {
    let local = c.inner.cache.ad_dir(key).join(&rel);
    let body = match tokio::fs::read(&local).await {
        Ok(b) => Some(bytes::Bytes::from(b)),
        Err(_) => match &c.inner.cfg.shared {
            Some(shared) => shared.file(key, &rel).await.ok().flatten(),
            None => None,
        },
    };
    match body {
        Some(b) => (
            [
                (header::CONTENT_TYPE, web::cache::content_type_for(file)),
                (header::CACHE_CONTROL, web::cache::IMMUTABLE),
            ],
            b,
        )
            .into_response(),
        None => {
            if c.inner.cache.peek(key).is_some() && !c.inner.cache.ad_dir(key).exists() {
                c.inner.cache.forget(key);
            }
            ApiError::not_found("no such conditioned file")
                .with_field("file")
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_names_conditioning_writes() {
        for ok in ["s000.ts", "s12.m4s", "init.mp4", "index.m3u8"] {
            assert!(safe_file(ok), "{ok}");
        }
        for bad in [
            "../x.ts", "s.ts", "sx1.ts", "s1.mp4", "ad.json", "%2e%2e", "s1.ts/..",
        ] {
            assert!(!safe_file(bad), "{bad}");
        }
        assert!(safe_rendition("v0") && safe_rendition("a12"));
        assert!(!safe_rendition("v") && !safe_rendition("..") && !safe_rendition("x1"));
    }
}
