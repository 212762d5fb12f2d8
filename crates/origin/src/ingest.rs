//! `PUT` / `DELETE` under `/in/{channel}/{1|2}/{path...}`: WebDAV-style ingest with Digest
//! authentication.
//!
//! Checks, in order: path shape (400), channel and ingest number (404), Digest (401 with a
//! fresh challenge; `stale=true` for an expired nonce), body size (413), content (400 for
//! a playlist that does not parse or a `.ts` without sync byte, 415 for other file kinds).
//! Paths are validated as a whole (`[A-Za-z0-9._-]` segments, no `.`/`..`, no encoded
//! dots/slashes) and are never used to build file names: bytes go to the store under keys
//! the origin builds from the channel id, variant and sequence number.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::{OriginalUri, Path, Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use web::ApiError;

use crate::Shared;
use crate::digest::Refusal;
use crate::error::OriginError;

const SEGMENT_EXTS: &[&str] = &[
    "ts", "aac", "ac3", "ec3", "mp3", "m4s", "mp4", "m4a", "m4v", "cmfv", "cmfa", "vtt", "webvtt",
];

/// Validate the ingest path: relative, 1..=8 segments of `[A-Za-z0-9._-]`, no dot segments.
pub fn validate_path(raw_uri_path: &str, path: &str) -> Result<(), OriginError> {
    let lower = raw_uri_path.to_ascii_lowercase();
    if lower.contains("%2e")
        || lower.contains("%2f")
        || lower.contains("%5c")
        || lower.contains("%00")
    {
        return Err(OriginError::bad(
            "path",
            "encoded dots or slashes are not allowed",
        ));
    }
    if path.is_empty() || path.len() > 512 || path.starts_with('/') {
        return Err(OriginError::bad(
            "path",
            "path must be relative and non-empty",
        ));
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() > 8 {
        return Err(OriginError::bad("path", "path is too deep"));
    }
    for p in parts {
        if p.is_empty() || p == "." || p == ".." {
            return Err(OriginError::bad(
                "path",
                format!("path segment {p:?} is not allowed"),
            ));
        }
        if !p
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(OriginError::bad(
                "path",
                format!("path segment {p:?} has characters outside A-Z a-z 0-9 . _ -"),
            ));
        }
    }
    Ok(())
}

fn unauthorized(s: &Shared, refusal: Refusal) -> Response {
    metrics::counter!("origin_ingest_auth_refused_total").increment(1);
    let stale = refusal == Refusal::Stale;
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, refusal.reason())
        .with_field("authorization")
        .into_response();
    for c in s.digest.challenges(s.clock.now(), stale) {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

/// `PUT` or `DELETE` of one ingest file.
pub async fn ingest(
    State(s): State<Arc<Shared>>,
    Path((channel, ingest, path)): Path<(String, String, String)>,
    OriginalUri(original): OriginalUri,
    method: Method,
    req: Request,
) -> Response {
    let started = std::time::Instant::now();
    let kind = ingest_kind(&method, &path);
    match ingest_inner(&s, &channel, &ingest, &path, &original, &method, req).await {
        Ok(r) => {
            metrics::histogram!("origin_ingest_seconds", "kind" => kind)
                .record(started.elapsed().as_secs_f64());
            r
        }
        Err(e) => {
            metrics::counter!("origin_ingest_errors_total", "reason" => error_reason(e.status(), kind))
                .increment(1);
            e
        }
    }
}

/// What an ingest request carries: `playlist`, `segment`, `delete` (or `other`, refused).
fn ingest_kind(method: &Method, path: &str) -> &'static str {
    if method == Method::DELETE {
        return "delete";
    }
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if ext == "m3u8" {
        "playlist"
    } else if SEGMENT_EXTS.contains(&ext.as_str()) {
        "segment"
    } else {
        "other"
    }
}

/// The `reason` label of `origin_ingest_errors_total`, from the answer's status (each
/// status has one cause in [`ingest_inner`]'s checks).
fn error_reason(status: StatusCode, kind: &str) -> &'static str {
    match status.as_u16() {
        400 if kind == "playlist" => "bad_playlist",
        400 if kind == "segment" => "bad_segment",
        400 => "bad_path",
        401 => "unauthorized",
        404 => "unknown_channel",
        413 => "too_large",
        415 => "unsupported_media",
        500..=599 => "store",
        _ => "other",
    }
}

async fn ingest_inner(
    s: &Arc<Shared>,
    channel: &str,
    ingest: &str,
    path: &str,
    original: &axum::http::Uri,
    method: &Method,
    req: Request,
) -> Result<Response, Response> {
    let err = |e: OriginError| e.into_response();
    validate_path(original.path(), path).map_err(err)?;
    let ch = s.channel(channel).map_err(IntoResponse::into_response)?;
    let n: u8 = match ingest {
        "1" => 1,
        "2" => 2,
        _ => {
            return Err(err(OriginError::not_found(format!(
                "ingest {ingest:?} (use 1 or 2)"
            ))));
        }
    };
    let now = s.clock.now();
    let request_uri = original
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or(original.path());
    let authz = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let users = ch.users.load();
    let user = &users[(n - 1) as usize];
    s.digest
        .verify(now, method.as_str(), request_uri, authz, |u| {
            (u == user.0).then(|| user.1.clone())
        })
        .map_err(|r| unauthorized(s, r))?;

    if method == Method::DELETE {
        ch.lock().change().on_delete(n, path);
        return Ok(StatusCode::NO_CONTENT.into_response());
    }

    let limit = s.config.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|l| l > limit) {
        return Err(err(OriginError::TooLarge { limit }));
    }
    let body: Bytes = axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|_| err(OriginError::TooLarge { limit }))?;
    metrics::counter!("origin_ingest_bytes_total").increment(body.len() as u64);

    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if ext == "m3u8" {
        let text = std::str::from_utf8(&body)
            .map_err(|_| err(OriginError::bad("body", "playlist is not UTF-8")))?;
        let playlist = hls::parse(&crate::timeline::normalize_pdt(text)).map_err(|e| {
            err(OriginError::bad(
                "body",
                format!("playlist does not parse: {e}"),
            ))
        })?;
        let ready = match playlist {
            hls::Playlist::Master(m) => {
                ch.lock().change().on_master(path, m, now);
                Vec::new()
            }
            hls::Playlist::Media(m) => ch.lock().change().on_media(channel, n, path, &m, now),
        };
        s.commit(&ch, ready).await.map_err(err)?;
    } else if SEGMENT_EXTS.contains(&ext.as_str()) {
        if ext == "ts" && body.first() != Some(&0x47) {
            return Err(err(OriginError::bad(
                "body",
                "not MPEG-TS: the first byte is not the 0x47 sync byte",
            )));
        }
        let ready = {
            let mut guard = ch.lock();
            let data = guard.change();
            data.pending_budget = s.config.pending_bytes;
            data.on_segment(n, path, body, now)
        };
        s.commit(&ch, ready.into_iter().collect())
            .await
            .map_err(err)?;
    } else {
        return Err(err(OriginError::UnsupportedMedia(format!(
            "unsupported file kind {ext:?}: send .m3u8 playlists and {SEGMENT_EXTS:?} segments"
        ))));
    }
    metrics::counter!("origin_ingest_requests_total").increment(1);
    Ok((StatusCode::CREATED, Body::empty()).into_response())
}
