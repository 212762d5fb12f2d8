//! The proxy's HTTP edge: extract a request, call the driver ([`super::playlist`]),
//! answer.

use std::collections::HashMap;

use axum::{
    Json, Router,
    extract::{OriginalUri, Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use web::{ApiError, JsonBody};

use super::Proxy;
use super::config::PlaybackConfiguration;
use super::session::Reporting;
use super::tracking::{AdFetch, FiredBeacon, TrackingDoc};
use crate::error::AdsError;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lineup SSAI proxy",
        description = "Server-side ad insertion with MediaTailor's conventions"
    ),
    paths(
        put_config,
        get_config,
        list_configs,
        start_session,
        session_info,
        tracking
    ),
    components(schemas(
        PlaybackConfiguration,
        SessionRequest,
        SessionAnswer,
        SessionInfo,
        TrackingDoc,
        AdFetch,
        FiredBeacon
    ))
)]
struct ApiDoc;

pub fn router(p: Proxy) -> Router {
    let api = Router::new()
        .route("/api/v1/playbackConfigurations", get(list_configs))
        .route(
            "/api/v1/playbackConfigurations/{name}",
            get(get_config).put(put_config).delete(delete_config),
        )
        .route("/api/v1/sessions/{id}", get(session_info))
        .layer(middleware::from_fn_with_state(
            p.inner.cfg.api_token.clone(),
            web::bearer_auth,
        ));
    let public = Router::new()
        .route("/v1/master/{config}/{*path}", get(master))
        .route("/v1/session/{config}/{*path}", post(start_session))
        .route("/v1/manifest/{config}/{session}/{file}", get(manifest))
        .route(
            "/v1/segment/{config}/{session}/{brk}/{rendition}/{file}",
            get(segment),
        )
        .route("/v1/tracking/{config}/{session}", get(tracking))
        .route("/v1/empty.vtt", get(empty_vtt));
    let conditioned = p
        .inner
        .cfg
        .conditioner
        .as_ref()
        .map(|c| c.router())
        .unwrap_or_default();
    Router::new()
        .merge(public)
        .merge(api)
        .merge(super::mediatailor::routes(&p))
        .with_state(p)
        .merge(conditioned)
        .merge(web::docs_routes(ApiDoc::openapi()))
        .merge(web::common_routes())
        // Every route: a `.`/`..` segment in any encoding is a 400 before the handler.
        .layer(middleware::from_fn(super::confine::reject_dot_segments))
}

fn playlist_response(text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, web::cache::M3U8),
            (header::CACHE_CONTROL, web::cache::NO_STORE),
        ],
        text,
    )
        .into_response()
}

fn api_err(e: AdsError) -> Response {
    let retry = matches!(e, AdsError::TooManySessions(_));
    let mut r = ApiError::from(e).into_response();
    if retry {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
    }
    r
}

/// Create or replace a playback configuration.
#[utoipa::path(put, path = "/api/v1/playbackConfigurations/{name}", request_body = PlaybackConfiguration,
    params(("name" = String, Path, description = "configuration name")),
    responses((status = 200, body = PlaybackConfiguration), (status = 400)))]
async fn put_config(
    State(p): State<Proxy>,
    Path(name): Path<String>,
    JsonBody(c): JsonBody<PlaybackConfiguration>,
) -> Response {
    match p.put_config(&name, c).await {
        Ok(c) => Json(described(&c)).into_response(),
        Err(e) => api_err(e),
    }
}

fn described(c: &PlaybackConfiguration) -> PlaybackConfiguration {
    let mut c = c.clone();
    c.hls_configuration = Some(super::config::HlsConfiguration {
        manifest_endpoint_prefix: format!("/v1/master/{}/", c.name),
    });
    c.session_initialization_endpoint_prefix = Some(format!("/v1/session/{}/", c.name));
    c
}

/// One playback configuration.
#[utoipa::path(get, path = "/api/v1/playbackConfigurations/{name}",
    params(("name" = String, Path, description = "configuration name")),
    responses((status = 200, body = PlaybackConfiguration), (status = 404)))]
async fn get_config(State(p): State<Proxy>, Path(name): Path<String>) -> Response {
    match p.config(&name).await {
        Ok(c) => Json(described(&c)).into_response(),
        Err(e) => api_err(e),
    }
}

/// Every playback configuration.
#[utoipa::path(get, path = "/api/v1/playbackConfigurations",
    responses((status = 200, body = Vec<PlaybackConfiguration>)))]
async fn list_configs(State(p): State<Proxy>) -> Response {
    match p.configs().await {
        Ok(all) => {
            let items: Vec<PlaybackConfiguration> = all.iter().map(|c| described(c)).collect();
            Json(serde_json::json!({ "Items": items })).into_response()
        }
        Err(e) => api_err(e),
    }
}

async fn delete_config(State(p): State<Proxy>, Path(name): Path<String>) -> Response {
    match p.delete_config(&name).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => api_err(e),
    }
}

/// `POST /v1/session/{config}/{path}` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionRequest {
    #[serde(default)]
    pub ads_params: HashMap<String, String>,
    /// `SERVER` (default) or `CLIENT`.
    #[serde(default)]
    pub reporting_mode: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionAnswer {
    pub manifest_url: String,
    pub tracking_url: String,
}

/// Start an explicit session.
#[utoipa::path(post, path = "/v1/session/{config}/{path}", request_body = SessionRequest,
    params(("config" = String, Path, description = "configuration"), ("path" = String, Path, description = "master playlist path under the content source")),
    responses((status = 200, body = SessionAnswer), (status = 400), (status = 404), (status = 503)))]
async fn start_session(
    State(p): State<Proxy>,
    Path((config, path)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
    body: axum::body::Bytes,
) -> Response {
    let req: SessionRequest = if body.iter().all(|b| b.is_ascii_whitespace()) {
        SessionRequest::default()
    } else {
        match web::parse_json(&body) {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        }
    };
    // MediaTailor's documents write the mode both ways (`SERVER`, `client`).
    let mode = req.reporting_mode.as_deref().map(str::to_ascii_uppercase);
    let reporting = match mode.as_deref() {
        None | Some("SERVER") => Reporting::Server,
        Some("CLIENT") => Reporting::Client,
        Some(other) => {
            return ApiError::bad_field(
                "reportingMode",
                format!("must be SERVER or CLIENT, got {other}"),
            )
            .into_response();
        }
    };
    let cfg = match p.config(&config).await {
        Ok(c) => c,
        Err(e) => return api_err(e),
    };
    if let Err(e) = cfg.content_url(&path) {
        return api_err(e);
    }
    let mut params: Vec<(String, String)> = req.ads_params.into_iter().collect();
    params.sort();
    let base = answer_base(&p, uri.path());
    // The master path as the request wrote it (still percent-encoded).
    let raw_path = uri
        .path()
        .split_once("/v1/session/")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or(path.as_str(), |(_, rest)| rest);
    match p.new_session(&cfg, &path, params, reporting).await {
        Ok(s) => Json(SessionAnswer {
            manifest_url: format!(
                "{base}/v1/master/{config}/{raw_path}?aws.sessionId={}",
                s.id
            ),
            tracking_url: format!("{base}/v1/tracking/{config}/{}", s.id),
        })
        .into_response(),
        Err(e) => api_err(e),
    }
}

/// What session answers put before `/v1/...`: the configured public URL, else the path
/// prefix the request came in on (`/ads` in `lineup demo`), so the URLs resolve as returned.
fn answer_base(p: &Proxy, request_path: &str) -> String {
    match &p.inner.cfg.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => request_path
            .split_once("/v1/session/")
            .map_or("", |(prefix, _)| prefix)
            .to_string(),
    }
}

/// `../` from `/v1/master/{config}/{path}` up to `/v1/`.
fn ups_from_master(path: &str) -> String {
    "../".repeat(2 + path.matches('/').count())
}

async fn master(
    State(p): State<Proxy>,
    Path((config, path)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let now = p.now_ms();
    let cfg = match p.config(&config).await {
        Ok(c) => c,
        Err(e) => return api_err(e),
    };
    let url = match cfg.content_url(&path) {
        Ok(u) => u,
        Err(e) => return api_err(e),
    };
    let id = match q.get("aws.sessionId") {
        Some(id) => id.clone(),
        None => {
            let mut params: Vec<(String, String)> = q
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("ads.").map(|k| (k.to_string(), v.clone())))
                .collect();
            params.sort();
            match p.new_session(&cfg, &path, params, Reporting::Server).await {
                Ok(s) => s.id,
                Err(e) => return api_err(e),
            }
        }
    };
    let s = match p.load_session(&config, &id, now).await {
        Ok(s) if s.meta.path == path => s,
        Ok(_) => return api_err(AdsError::UnknownSession(id)),
        Err(e) => return api_err(e),
    };
    let ups = ups_from_master(&path);
    let manifest = |n: usize| format!("{ups}manifest/{config}/{id}/{n}.m3u8");
    match p.master_playlist(s, &url, &manifest).await {
        Ok(text) => playlist_response(text),
        Err(e) => api_err(e),
    }
}

async fn manifest(
    State(p): State<Proxy>,
    Path((config, session, file)): Path<(String, String, String)>,
) -> Response {
    let Some(n) = file
        .strip_suffix(".m3u8")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return ApiError::not_found("expected <n>.m3u8")
            .with_field("file")
            .into_response();
    };
    let now = p.now_ms();
    let s = match p.load_session(&config, &session, now).await {
        Ok(s) => s,
        Err(e) => return api_err(e),
    };
    match p.media_playlist(s, n, now).await {
        Ok(text) => playlist_response(text.to_string()),
        Err(e) => api_err(e),
    }
}

async fn segment(
    State(p): State<Proxy>,
    Path((config, session, brk, rendition, file)): Path<(String, String, u64, usize, String)>,
) -> Response {
    let Some(slot) = file
        .strip_suffix(".ts")
        .or_else(|| file.strip_suffix(".m4s"))
        .and_then(|n| n.parse::<u16>().ok())
    else {
        return ApiError::not_found("expected <slot>.ts or <slot>.m4s")
            .with_field("file")
            .into_response();
    };
    let s = match p.load_session(&config, &session, p.now_ms()).await {
        Ok(s) => s,
        Err(e) => return api_err(e),
    };
    match p.ad_segment(&s, brk, slot, rendition).await {
        Ok(url) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, url),
                (header::CACHE_CONTROL, web::cache::NO_STORE.to_string()),
            ],
        )
            .into_response(),
        Err(e) => api_err(e),
    }
}

/// The subtitles segment of an ad: no cues.
async fn empty_vtt() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/vtt"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        "WEBVTT\n\n",
    )
        .into_response()
}

/// Client-side tracking: the avails of the session, MediaTailor's shape.
#[utoipa::path(get, path = "/v1/tracking/{config}/{session}",
    params(("config" = String, Path, description = "configuration"), ("session" = String, Path, description = "session id")),
    responses((status = 200, body = TrackingDoc), (status = 404)))]
async fn tracking(
    State(p): State<Proxy>,
    Path((config, session)): Path<(String, String)>,
) -> Response {
    match p.load_session(&config, &session, p.now_ms()).await {
        Ok(s) => Json(p.tracking_doc(&s)).into_response(),
        Err(e) => api_err(e),
    }
}

/// What the proxy knows about a session (for tests and debugging).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub id: String,
    pub config: String,
    pub path: String,
    pub player_params: Vec<(String, String)>,
    pub avails: u32,
    pub fetched: Vec<AdFetch>,
    pub beacons: Vec<FiredBeacon>,
}

/// A session's state: avails so far, ad segments fetched, beacons fired.
#[utoipa::path(get, path = "/api/v1/sessions/{id}",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = SessionInfo), (status = 404)))]
async fn session_info(State(p): State<Proxy>, Path(id): Path<String>) -> Response {
    let store = &p.inner.sessions;
    let s = match store.load(&id).await {
        Ok(Some(s)) => s,
        Ok(None) => return api_err(AdsError::UnknownSession(id)),
        Err(e) => return api_err(e),
    };
    let (fetched, beacons) = match store.logs(&id).await {
        Ok(l) => l,
        Err(e) => return api_err(e),
    };
    Json(SessionInfo {
        id: s.meta.id.clone(),
        config: s.meta.config.clone(),
        path: s.meta.path.clone(),
        player_params: s.meta.player_params.clone(),
        avails: s.state.timeline.avails,
        fetched,
        beacons,
    })
    .into_response()
}
