//! The proxy's HTTP edge.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::{
    Json, Router,
    extract::{OriginalUri, Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use hls::{MasterPlaylist, Playlist};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use web::{ApiError, JsonBody};

use super::config::PlaybackConfiguration;
use super::session::{
    AdFetch, DecideCtx, FiredBeacon, RenderedCache, Reporting, Session, VariantRef,
};
use super::tracking::{TrackingDoc, on_ad_fetch, tracking_doc};
use super::{Proxy, rewrite};
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
        .route("/v1/tracking/{config}/{session}", get(tracking));
    Router::new()
        .merge(public)
        .merge(api)
        .with_state(p)
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
    match p.put_config(&name, c) {
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
    match p.config(&name) {
        Ok(c) => Json(described(&c)).into_response(),
        Err(e) => api_err(e),
    }
}

/// Every playback configuration.
#[utoipa::path(get, path = "/api/v1/playbackConfigurations",
    responses((status = 200, body = Vec<PlaybackConfiguration>)))]
async fn list_configs(State(p): State<Proxy>) -> Json<serde_json::Value> {
    let configs = p.inner.configs.read().unwrap_or_else(|e| e.into_inner());
    let mut items: Vec<PlaybackConfiguration> = configs.values().map(|c| described(c)).collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    Json(serde_json::json!({ "Items": items }))
}

async fn delete_config(State(p): State<Proxy>, Path(name): Path<String>) -> Response {
    let removed = p
        .inner
        .configs
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&name);
    match removed {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => api_err(AdsError::UnknownConfig(name)),
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
    let reporting = match req.reporting_mode.as_deref() {
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
    let cfg = match p.config(&config) {
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
    match p.new_session(cfg, &path, params, reporting) {
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
    let cfg = match p.config(&config) {
        Ok(c) => c,
        Err(e) => return api_err(e),
    };
    if let Err(e) = cfg.content_url(&path) {
        return api_err(e);
    }
    let session = match q.get("aws.sessionId") {
        Some(id) => match p.session(id) {
            Ok(s) if s.config.name == config && s.path == path => s,
            Ok(_) => return api_err(AdsError::UnknownSession(id.clone())),
            Err(e) => return api_err(e),
        },
        None => {
            let mut params: Vec<(String, String)> = q
                .iter()
                .filter_map(|(k, v)| k.strip_prefix("ads.").map(|k| (k.to_string(), v.clone())))
                .collect();
            params.sort();
            match p.new_session(cfg.clone(), &path, params, Reporting::Server) {
                Ok(s) => s,
                Err(e) => return api_err(e),
            }
        }
    };
    let url = match cfg.content_url(&path) {
        Ok(u) => u,
        Err(e) => return api_err(e),
    };
    let fetched = match p
        .inner
        .origin
        .get(&url, std::time::Duration::from_secs(30))
        .await
    {
        Ok(f) => f,
        Err(e) => return api_err(e),
    };
    let ups = ups_from_master(&path);
    let manifest = |n: usize| format!("{ups}manifest/{config}/{}/{n}.m3u8", session.id);
    let mut state = session.state.lock().await;
    match &fetched.playlist {
        Playlist::Master(m) => {
            state.variants = m
                .variants
                .iter()
                .map(|v| VariantRef {
                    url: v.uri.clone(),
                    bandwidth: v.bandwidth().unwrap_or(0),
                })
                .collect();
            let mut out = MasterPlaylist {
                version: m.version,
                independent_segments: m.independent_segments,
                start: m.start.clone(),
                session_data: m.session_data.clone(),
                ..Default::default()
            };
            for (i, v) in m.variants.iter().enumerate() {
                let mut v = v.clone();
                v.uri = manifest(i);
                out.variants.push(v);
            }
            for r in &m.media {
                let mut r = r.clone();
                if let Some(u) = r.uri().map(str::to_string) {
                    let n = state.variants.len();
                    state.variants.push(VariantRef {
                        url: u,
                        bandwidth: 0,
                    });
                    r.attrs.set_quoted("URI", manifest(n));
                }
                out.media.push(r);
            }
            playlist_response(Playlist::Master(out).to_string())
        }
        Playlist::Media(_) => {
            // A media playlist as "master": one variant, answered through a master.
            state.variants = vec![VariantRef {
                url: url.clone(),
                bandwidth: 0,
            }];
            let mut out = MasterPlaylist::default();
            out.variants.push(hls::VariantStream {
                uri: manifest(0),
                attrs: hls::AttributeList::new().unquoted("BANDWIDTH", 1_000_000),
            });
            playlist_response(Playlist::Master(out).to_string())
        }
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
    let s = match p.session(&session) {
        Ok(s) if s.config.name == config => s,
        Ok(_) => return api_err(AdsError::UnknownSession(session)),
        Err(e) => return api_err(e),
    };
    match render_media(&p, &s, n).await {
        Ok(text) => playlist_response(text.to_string()),
        Err(e) => api_err(e),
    }
}

async fn render_media(p: &Proxy, s: &Arc<Session>, n: usize) -> Result<Arc<str>, AdsError> {
    let variant = {
        let st = s.state.lock().await;
        st.variants.get(n).cloned()
    }
    .ok_or_else(|| AdsError::UnknownSession(format!("{} (variant {n})", s.id)))?;
    // Last good playlist for up to ~3 target durations when the origin fails.
    let stale = std::time::Duration::from_millis(
        (s.manifest_ms.load(Ordering::Relaxed) / 3).clamp(6_000, 60_000),
    );
    let fetched = p.inner.origin.get(&variant.url, stale).await?;
    let Playlist::Media(window) = &fetched.playlist else {
        return Err(AdsError::Origin(format!(
            "{}: not a media playlist",
            variant.url
        )));
    };
    s.manifest_ms
        .store((window.duration() * 1000.0) as u64, Ordering::Relaxed);
    let mut st = s.state.lock().await;
    let at = (st.timeline.media_seq, st.timeline.entries.len());
    if let Some(c) = st.rendered.get(&n)
        && Arc::ptr_eq(&c.origin, &fetched)
        && c.at == at
    {
        return Ok(c.text.clone());
    }
    let starts = st.timeline.new_breaks(window);
    let mut plans = HashMap::new();
    if !starts.is_empty() {
        let ctx = DecideCtx {
            http: &p.inner.http,
            creatives: &p.inner.creatives,
            target: window
                .target_duration
                .unwrap_or(0)
                .max(window.computed_target_duration()),
            first_window: st.timeline.is_new(),
        };
        for (index, b) in (st.timeline.avails..).zip(starts.iter()) {
            let (plan, decision) = s.decide(b, index, &ctx).await;
            if let Some(d) = decision {
                st.decisions.insert(b.key, d);
            }
            plans.insert(b.key, plan);
        }
    }
    st.timeline.advance(window, &plans);
    st.prune();
    let config = &s.config.name;
    let sid = &s.id;
    let ad_uri = |b: &rewrite::BreakState, slot: u16, ri: usize| {
        format!("../../../segment/{config}/{sid}/{}/{ri}/{slot}.ts", b.key)
    };
    let out = st.render(
        window,
        s.config.marker_passthrough(),
        variant.bandwidth,
        &ad_uri,
        true,
    );
    let text: Arc<str> = Arc::from(out.to_string());
    let at = (st.timeline.media_seq, st.timeline.entries.len());
    st.rendered.insert(
        n,
        RenderedCache {
            origin: fetched.clone(),
            at,
            text: text.clone(),
        },
    );
    Ok(text)
}

async fn segment(
    State(p): State<Proxy>,
    Path((config, session, brk, rendition, file)): Path<(String, String, u64, usize, String)>,
) -> Response {
    let Some(slot) = file.strip_suffix(".ts").and_then(|n| n.parse::<u16>().ok()) else {
        return ApiError::not_found("expected <slot>.ts")
            .with_field("file")
            .into_response();
    };
    let s = match p.session(&session) {
        Ok(s) if s.config.name == config => s,
        Ok(_) => return api_err(AdsError::UnknownSession(session)),
        Err(e) => return api_err(e),
    };
    let mut st = s.state.lock().await;
    match on_ad_fetch(
        &s,
        &mut st,
        brk,
        slot,
        rendition,
        &p.inner.http,
        p.inner.cfg.beacons,
    ) {
        Some(url) => (
            StatusCode::FOUND,
            [
                (header::LOCATION, url),
                (header::CACHE_CONTROL, web::cache::NO_STORE.to_string()),
            ],
        )
            .into_response(),
        None => ApiError::not_found("no such ad segment in this session")
            .with_field("slot")
            .into_response(),
    }
}

/// Client-side tracking: the avails of the session, MediaTailor's shape.
#[utoipa::path(get, path = "/v1/tracking/{config}/{session}",
    params(("config" = String, Path, description = "configuration"), ("session" = String, Path, description = "session id")),
    responses((status = 200, body = TrackingDoc), (status = 404)))]
async fn tracking(
    State(p): State<Proxy>,
    Path((config, session)): Path<(String, String)>,
) -> Response {
    let s = match p.session(&session) {
        Ok(s) if s.config.name == config => s,
        Ok(_) => return api_err(AdsError::UnknownSession(session)),
        Err(e) => return api_err(e),
    };
    let st = s.state.lock().await;
    Json(tracking_doc(&st)).into_response()
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
    let s = match p.session(&id) {
        Ok(s) => s,
        Err(e) => return api_err(e),
    };
    let st = s.state.lock().await;
    Json(SessionInfo {
        id: s.id.clone(),
        config: s.config.name.clone(),
        path: s.path.clone(),
        player_params: s.player_params.clone(),
        avails: st.timeline.avails,
        fetched: st.fetched.clone(),
        beacons: st.beacons.clone(),
    })
    .into_response()
}

#[allow(dead_code)]
fn _unused(_: &Session) {}
