//! The web page of `lineup demo` (at `/`) and the player test page (`/player.html`).
//!
//! The assets (HTML, CSS, JS, and the vendored hls.js and Shaka Player builds from npm) are
//! embedded in the binary from `crates/lineup/assets/` (see its README for where the players
//! come from and how to update them). Nothing is built on the user's machine.
//!
//! The page reads one JSON document, `page.json` ([`PageConfig`]): the streams it can play,
//! where the fetchers and the on-air item are, and the API docs. Other services add to it
//! (a per-viewer SSAI session is one more [`Source`]; the EPG strip reads
//! [`PageConfig::schedule`]) without touching the page's code.
//!
//! Caching: assets are served under `assets/<hash>/...`, where the hash covers every
//! embedded asset, with `immutable` year-long caching; the HTML pages and `page.json` are
//! `no-cache`, so a new binary's assets are picked up on the next page load.

use std::sync::{Arc, OnceLock};

use axum::{
    Json, Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use include_dir::{Dir, include_dir};
use serde_json::json;

static ASSETS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/assets");

/// A stream the page can play.
#[derive(Debug, Clone)]
pub struct Source {
    /// Short id, also the page's URL fragment (`/#dvr`).
    pub id: String,
    /// Tab label.
    pub label: String,
    /// Playlist URL, relative to the page (or absolute).
    pub url: String,
    /// One line on what it is (tooltip).
    pub note: String,
}

/// A link to an API's docs.
#[derive(Debug, Clone)]
pub struct DocLink {
    pub name: String,
    pub url: String,
}

/// What the page shows: served as `page.json`. URLs are relative to the page.
#[derive(Debug, Clone, Default)]
pub struct PageConfig {
    pub title: String,
    /// The streams, in tab order (the demo's: the engine's channel, the origin's DVR, CMAF
    /// and AES endpoints, and an SSAI URL whose every load is a new viewer session).
    pub sources: Vec<Source>,
    /// Id of the source played first.
    pub default_source: String,
    /// `GET` answering the pull/push fetchers (`[{name, state, lag_seconds, ...}]`).
    pub fetchers: Option<String>,
    /// `GET` answering the engine's channel (`{title, now_playing}`).
    pub now_playing: Option<String>,
    /// `GET` answering the channel's schedule as Eyevinn schedule-service events (`id`,
    /// `title`, `start_time`/`end_time` in epoch ms, `type`, `adBreaks`), taking
    /// `start=<ms>&end=<ms>`: the page draws the EPG strip when it is set, highlighting the
    /// programme at the playhead (named by the stream's `com.lineup.programme` DATERANGEs
    /// when it carries them, else found by time).
    pub schedule: Option<String>,
    pub docs: Vec<DocLink>,
    /// DRM sources: (source id, W3C ClearKey licence URL). The page plays them with hls.js's
    /// EME (`emeEnabled`, `drmSystems['org.w3.clearkey'].licenseUrl`) and links them to the
    /// player check page in Shaka Player with the same licence.
    pub licences: Vec<(String, String)>,
}

impl PageConfig {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "title": self.title,
            "sources": self.sources.iter().map(|s| json!({
                "id": s.id, "label": s.label, "url": s.url, "note": s.note,
            })).collect::<Vec<_>>(),
            "default_source": self.default_source,
            "fetchers": self.fetchers,
            "now_playing": self.now_playing,
            "schedule": self.schedule,
            "docs": self.docs.iter().map(|d| json!({"name": d.name, "url": d.url})).collect::<Vec<_>>(),
            "licences": self.licences.iter().map(|(id, url)| (id.clone(), json!(url))).collect::<serde_json::Map<_, _>>(),
        })
    }
}

/// The routes: `/`, `/player.html`, `/page.json`, `/assets/<hash>/<file>`.
pub fn routes(config: PageConfig) -> Router {
    let config = Arc::new(config.to_json());
    Router::new()
        .route("/", get(|| async { html("index.html") }))
        .route("/index.html", get(|| async { html("index.html") }))
        .route("/player.html", get(|| async { html("player.html") }))
        .route(
            "/page.json",
            get(move || {
                let config = config.clone();
                async move {
                    (
                        [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
                        Json((*config).clone()),
                    )
                }
            }),
        )
        .route("/assets/{hash}/{*path}", get(asset))
}

/// A hash of every embedded asset: the cache-busting part of asset URLs.
fn assets_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        // FNV-1a over names and contents: stable across builds and runs.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= u64::from(*b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        let mut files = Vec::new();
        collect(&ASSETS, &mut files);
        files.sort_by_key(|f| f.path());
        for f in files {
            eat(f.path().to_string_lossy().as_bytes());
            eat(f.contents());
        }
        format!("{:012x}", h & 0xffff_ffff_ffff)
    })
}

fn collect<'a>(dir: &'a Dir<'a>, out: &mut Vec<&'a include_dir::File<'a>>) {
    out.extend(dir.files());
    for d in dir.dirs() {
        collect(d, out);
    }
}

/// An HTML page with its asset URLs pointing at this build's assets.
fn html(name: &str) -> Response {
    let Some(text) = ASSETS.get_file(name).and_then(|f| f.contents_utf8()) else {
        return web::ApiError::new(StatusCode::NOT_FOUND, format!("no page {name}"))
            .into_response();
    };
    let body = text.replace("{{ASSETS}}", &format!("assets/{}", assets_hash()));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// Content type of a servable asset, by extension; other files (README, update script) are
/// not served.
fn asset_type(path: &str) -> Option<&'static str> {
    Some(match path.rsplit_once('.')?.1 {
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => return None,
    })
}

async fn asset(Path((hash, path)): Path<(String, String)>) -> Response {
    let not_found = || {
        web::ApiError::new(StatusCode::NOT_FOUND, format!("no asset {path}"))
            .with_field("path")
            .into_response()
    };
    if path.split('/').any(|p| p == ".." || p.is_empty()) {
        return web::ApiError::bad_field("path", "no empty or '..' path segments").into_response();
    }
    let (Some(ct), Some(file)) = (asset_type(&path), ASSETS.get_file(&path)) else {
        return not_found();
    };
    // Another build's hash: serve what we have, but do not let it be cached for long.
    let cache = if hash == assets_hash() {
        web::cache::IMMUTABLE
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(ct)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        file.contents(),
    )
        .into_response()
}
