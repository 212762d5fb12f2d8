//! The HTTP edge: thin handlers that decode the query, load the VODs through the
//! [`PlaylistSource`], call the pure functions of [`crate::plan`] and write the playlist.
//! Paths are relative to the service root (nested under `/stitch` by `lineup`), in
//! lambda-stitch's shapes: `master.m3u8`, `media.m3u8?bw=`, `audio.m3u8?groupid=&language=`,
//! plus `subtitles.m3u8?groupid=&language=` and `empty.vtt`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{OriginalUri, Query, State},
    http::{HeaderMap, HeaderValue, header},
    middleware,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Serialize;
use utoipa::OpenApi;
use web::{ApiError, JsonBody, cache};

use crate::error::{Error, Result};
use crate::payload::{Break, Payload};
use crate::plan::{self, Mode, Track};
use crate::source::{PlaylistSource, Vod};

/// An empty WebVTT segment: stands in for subtitles during an ad that has none.
pub const EMPTY_VTT: &str = "WEBVTT\n\n";

/// The stitch service: a playlist source plus the service's public URL (when known).
#[derive(Clone)]
pub struct Stitcher {
    source: Arc<dyn PlaylistSource>,
    public_url: Option<String>,
    api_token: Option<Arc<str>>,
}

impl Stitcher {
    /// `public_url`: the service's own URL (e.g. `http://host/stitch`) for the absolute URL
    /// of `empty.vtt`; without it the URL is derived from the request's `Host`.
    pub fn new(
        source: Arc<dyn PlaylistSource>,
        public_url: Option<String>,
        api_token: Option<String>,
    ) -> Self {
        Self {
            source,
            public_url: public_url.map(|u| u.trim_end_matches('/').to_string()),
            api_token: api_token.filter(|t| !t.is_empty()).map(Arc::from),
        }
    }

    /// Load the content and (for splicing) every ad; a failure names its payload field.
    pub async fn load(&self, payload: &Payload, mode: Mode) -> Result<(Vod, Vec<Option<Vod>>)> {
        let content = Vod::load(&*self.source, &payload.uri);
        let ads = payload.breaks.iter().enumerate().map(|(i, b)| async move {
            match (&b.url, mode) {
                (Some(url), Mode::Splice) => Vod::load(&*self.source, url)
                    .await
                    .map(Some)
                    .map_err(|e| e.blame(&format!("payload.breaks[{i}].url"))),
                (None, Mode::Splice) => Err(Error::bad(
                    format!("payload.breaks[{i}].url"),
                    "a spliced break needs a url (assetListUrl alone needs i=1)",
                )),
                _ => Ok(None),
            }
        });
        let (content, ads) = futures::join!(content, futures::future::try_join_all(ads));
        let content = content.map_err(|e| e.blame("payload.uri"))?;
        if content.master.variants.iter().all(|v| v.attrs.is_empty()) {
            return Err(Error::bad(
                "payload.uri",
                "the content must be a multivariant playlist",
            ));
        }
        Ok((content, ads?))
    }

    /// The stitched multivariant playlist.
    pub async fn master(&self, payload: &Payload, mode: Mode) -> Result<String> {
        let (content, _) = self.load(payload, mode).await?;
        Ok(plan::master(&content.master, payload, mode).to_string())
    }

    /// One stitched media playlist.
    pub async fn media(
        &self,
        payload: &Payload,
        track: &Track,
        mode: Mode,
        empty_vtt: &str,
    ) -> Result<String> {
        let (content, ads) = self.load(payload, mode).await?;
        Ok(plan::media(payload, &content, &ads, track, mode, empty_vtt)?.to_string())
    }

    /// All routes, relative to the service root.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/api/v1/stitch", post(create))
            .route_layer(middleware::from_fn_with_state(
                self.api_token.clone(),
                web::bearer_auth,
            ));
        Router::new()
            .route("/master.m3u8", get(master))
            .route("/media.m3u8", get(media_variant))
            .route("/audio.m3u8", get(media_audio))
            .route("/subtitles.m3u8", get(media_subtitles))
            .route("/empty.vtt", get(empty_vtt))
            .merge(api)
            .with_state(self.clone())
            .merge(web::common_routes())
            .merge(web::docs_routes(ApiDoc::openapi()))
            .layer(web::cors())
    }

    /// The OpenAPI document.
    pub fn openapi() -> utoipa::openapi::OpenApi {
        ApiDoc::openapi()
    }

    fn empty_vtt_url(&self, headers: &HeaderMap, uri: &axum::http::Uri) -> String {
        if let Some(base) = &self.public_url {
            return format!("{base}/empty.vtt");
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let path = uri.path();
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        format!("http://{host}{dir}/empty.vtt")
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lineup stitch",
        description = "House-ad stitching of HLS VODs. The payload is lambda-stitch's: base64url of `{uri, breaks:[{pos, duration, url}]}` (milliseconds)."
    ),
    paths(create, master, media_variant, media_audio, media_subtitles, empty_vtt),
    components(schemas(Payload, Break, Created))
)]
struct ApiDoc;

type Q = Query<HashMap<String, String>>;

fn payload_of(q: &HashMap<String, String>) -> Result<Payload> {
    let p = q
        .get("payload")
        .ok_or_else(|| Error::bad("payload", "the payload query parameter is missing"))?;
    Payload::decode(p)
}

fn mode_of(q: &HashMap<String, String>) -> Mode {
    if q.get("i").is_some_and(|v| v == "1" || v == "true") {
        Mode::Interstitial
    } else {
        Mode::Splice
    }
}

fn param(q: &HashMap<String, String>, name: &str) -> Result<String> {
    q.get(name)
        .cloned()
        .ok_or_else(|| Error::bad(name, format!("the {name} query parameter is missing")))
}

fn playlist(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(cache::M3U8)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache::CLOSED_PLAYLIST),
            ),
        ],
        body,
    )
        .into_response()
}

/// The response of `POST /api/v1/stitch`.
#[derive(Serialize, utoipa::ToSchema)]
struct Created {
    /// Path of the stitched multivariant playlist (`<prefix>/master.m3u8?payload=...`).
    uri: String,
}

/// Encode a payload: returns the stitched VOD's path (lambda-stitch's `POST /stitch/`).
#[utoipa::path(post, path = "/api/v1/stitch", tag = "stitch", request_body = Payload,
    responses((status = 200, body = Created), (status = 400, description = "bad payload, naming the field")))]
async fn create(
    OriginalUri(uri): OriginalUri,
    JsonBody(value): JsonBody<serde_json::Value>,
) -> Result<Json<Created>, ApiError> {
    let payload = Payload::from_value(&value)?;
    let prefix = uri.path().strip_suffix("/api/v1/stitch").unwrap_or("");
    Ok(Json(Created {
        uri: format!("{prefix}/master.m3u8?payload={}", payload.encode()),
    }))
}

/// The stitched multivariant playlist. Media playlist URIs point back into this service.
#[utoipa::path(get, path = "/master.m3u8", tag = "playlists",
    params(("payload" = String, Query, description = "base64url of the JSON payload"),
           ("i" = Option<String>, Query, description = "`1`: HLS Interstitials instead of splicing")),
    responses((status = 200, description = "HLS multivariant playlist", content_type = "application/vnd.apple.mpegurl"),
              (status = 400, description = "bad payload or unreachable VOD, naming the field")))]
async fn master(State(s): State<Stitcher>, Query(q): Q) -> Result<Response, ApiError> {
    let payload = payload_of(&q)?;
    Ok(playlist(s.master(&payload, mode_of(&q)).await?))
}

/// A video (or muxed) variant's media playlist with the ads spliced in.
#[utoipa::path(get, path = "/media.m3u8", tag = "playlists",
    params(("payload" = String, Query, description = "base64url of the JSON payload"),
           ("bw" = u64, Query, description = "BANDWIDTH of the content variant"),
           ("i" = Option<String>, Query, description = "`1`: HLS Interstitials")),
    responses((status = 200, description = "HLS media playlist", content_type = "application/vnd.apple.mpegurl"),
              (status = 400, description = "bad payload or parameter, naming it")))]
async fn media_variant(
    State(s): State<Stitcher>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let payload = payload_of(&q)?;
    let bw = param(&q, "bw")?
        .parse()
        .map_err(|_| Error::bad("bw", "bw must be an integer"))?;
    let vtt = s.empty_vtt_url(&headers, &uri);
    let body = s
        .media(&payload, &Track::Variant { bw }, mode_of(&q), &vtt)
        .await?;
    Ok(playlist(body))
}

/// An audio rendition's media playlist with the ads' audio spliced in.
#[utoipa::path(get, path = "/audio.m3u8", tag = "playlists",
    params(("payload" = String, Query, description = "base64url of the JSON payload"),
           ("groupid" = String, Query, description = "GROUP-ID of the content rendition"),
           ("language" = String, Query, description = "its LANGUAGE (else NAME)"),
           ("i" = Option<String>, Query, description = "`1`: HLS Interstitials")),
    responses((status = 200, description = "HLS media playlist", content_type = "application/vnd.apple.mpegurl"),
              (status = 400, description = "bad payload or parameter, naming it")))]
async fn media_audio(
    State(s): State<Stitcher>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let track = Track::Audio {
        group: param(&q, "groupid")?,
        language: param(&q, "language")?,
    };
    rendition(s, headers, uri, q, track).await
}

/// A subtitle rendition's media playlist; ads without subtitles get empty WebVTT segments.
#[utoipa::path(get, path = "/subtitles.m3u8", tag = "playlists",
    params(("payload" = String, Query, description = "base64url of the JSON payload"),
           ("groupid" = String, Query, description = "GROUP-ID of the content rendition"),
           ("language" = String, Query, description = "its LANGUAGE (else NAME)"),
           ("i" = Option<String>, Query, description = "`1`: HLS Interstitials")),
    responses((status = 200, description = "HLS media playlist", content_type = "application/vnd.apple.mpegurl"),
              (status = 400, description = "bad payload or parameter, naming it")))]
async fn media_subtitles(
    State(s): State<Stitcher>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Query(q): Q,
) -> Result<Response, ApiError> {
    let track = Track::Subtitles {
        group: param(&q, "groupid")?,
        language: param(&q, "language")?,
    };
    rendition(s, headers, uri, q, track).await
}

async fn rendition(
    s: Stitcher,
    headers: HeaderMap,
    uri: axum::http::Uri,
    q: HashMap<String, String>,
    track: Track,
) -> Result<Response, ApiError> {
    let payload = payload_of(&q)?;
    let vtt = s.empty_vtt_url(&headers, &uri);
    Ok(playlist(
        s.media(&payload, &track, mode_of(&q), &vtt).await?,
    ))
}

/// An empty WebVTT segment (subtitles during an ad that has none).
#[utoipa::path(get, path = "/empty.vtt", tag = "playlists",
    responses((status = 200, description = "WebVTT", content_type = "text/vtt")))]
async fn empty_vtt() -> Response {
    (
        [
            (header::CONTENT_TYPE, cache::VTT),
            (header::CACHE_CONTROL, cache::IMMUTABLE),
        ],
        EMPTY_VTT,
    )
        .into_response()
}
