//! The engine's HTTP surface: playlists (open, CORS, short Cache-Control) and the control API
//! under `/api/v1` (optional bearer token), with OpenAPI at `/api/docs`. Paths are relative
//! to the service root so the router can be nested (e.g. under `/engine`).

use std::sync::{Arc, OnceLock};

use axum::{
    Json, Router,
    extract::{OriginalUri, Path, Query, State},
    http::Uri,
    http::{HeaderValue, StatusCode, header},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;
use web::{ApiError, JsonBody, cache};

use crate::engine::{ChannelInfo, Engine, Target};
use crate::store::SessionRecord;

/// The engine as an HTTP service.
#[derive(Clone)]
pub struct Service {
    pub engine: Engine,
    api_token: Option<Arc<str>>,
    public_base_url: Option<String>,
}

impl Service {
    pub fn new(engine: Engine, api_token: Option<String>, public_base_url: Option<String>) -> Self {
        Self {
            engine,
            api_token: api_token.filter(|t| !t.is_empty()).map(Arc::from),
            public_base_url: public_base_url.map(|u| u.trim_end_matches('/').to_string()),
        }
    }

    /// All routes (playlists, API, docs, /healthz, /metrics), relative to the service root.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .route("/api/v1/channels", get(list_channels))
            .route("/api/v1/channels/{id}", get(get_channel))
            .route("/api/v1/sessions", get(list_sessions).post(create_session))
            .route(
                "/api/v1/sessions/{id}",
                get(get_session).delete(delete_session),
            )
            .route_layer(middleware::from_fn_with_state(
                self.api_token.clone(),
                web::bearer_auth,
            ));
        let playlists = Router::new()
            .route("/channels/{id}/{file}", get(channel_file))
            .route("/sessions/{id}/{file}", get(session_file))
            .route("/vtt/empty.vtt", get(empty_vtt));
        Router::new()
            .merge(api)
            .merge(playlists)
            .with_state(self.clone())
            .merge(web::common_routes())
            .merge(web::docs_routes(Self::openapi()))
            // One layer (each `Router::layer` is one more boxed service per route, cloned
            // per request): CORS outside, Retry-After on 503 inside.
            .layer((web::cors(), web::retry_after_on_503(RETRY_AFTER_SECS)))
    }

    /// The OpenAPI document of the control API and playlist routes.
    pub fn openapi() -> utoipa::openapi::OpenApi {
        ApiDoc::openapi()
    }

    fn absolute(&self, rel: &str) -> String {
        match &self.public_base_url {
            Some(b) => format!("{b}/{rel}"),
            None => rel.to_string(),
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lineup engine",
        description = "VOD2Live channel engine: linear HLS channels from HLS VODs by manifest manipulation."
    ),
    paths(
        list_channels,
        get_channel,
        list_sessions,
        create_session,
        get_session,
        delete_session,
        channel_file,
        session_file
    ),
    components(schemas(
        ChannelInfo,
        SessionRecord,
        NewSession,
        SessionCreated,
        crate::profile::Profile,
        crate::profile::VariantProfile,
        crate::profile::TrackProfile
    ))
)]
struct ApiDoc;

/// Seconds a client is told to wait after a 503 (the session cap, the state store down):
/// every 503 says when to come back (`Retry-After`); its body is the JSON error.
const RETRY_AFTER_SECS: &str = "2";

fn playlist_response(body: bytes::Bytes, cache_control: HeaderValue) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(cache::M3U8));
    h.insert(header::CACHE_CONTROL, cache_control);
    r
}

/// Target durations whose live `Cache-Control` value is built once (a `HeaderValue` clone is
/// a reference-count bump); longer ones are formatted per request.
const CACHED_TARGETS: u64 = 64;

/// `Cache-Control` of a live media playlist ([`cache::live_playlist`]), precomputed.
fn live_cache_control(target_duration: u64) -> HeaderValue {
    static VALUES: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    let build = |td: u64| {
        HeaderValue::from_str(&cache::live_playlist(td))
            .unwrap_or_else(|_| HeaderValue::from_static(cache::NO_STORE))
    };
    VALUES
        .get_or_init(|| (0..CACHED_TARGETS).map(build).collect())
        .get(target_duration as usize)
        .cloned()
        .unwrap_or_else(|| build(target_duration))
}

/// The master playlist's query (bad input: 400 naming `query`).
fn query(uri: &Uri) -> Result<MasterQuery, ApiError> {
    Query::<MasterQuery>::try_from_uri(uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_field("query", e.body_text()))
}

#[derive(Debug, Deserialize, Default)]
struct MasterQuery {
    session: Option<String>,
    category: Option<String>,
    playlist: Option<String>,
}

/// A channel's master playlist, or one of its media playlists (`v0.m3u8`, `audio-en.m3u8`,
/// `subs-sv.m3u8`). `master.m3u8?session=new` creates a viewer session and redirects (302)
/// to its master playlist.
#[utoipa::path(get, path = "/channels/{id}/{file}", tag = "playlists",
    params(("id" = String, Path, description = "channel id"), ("file" = String, Path, description = "master.m3u8 or <rendition>.m3u8"),
           ("session" = Option<String>, Query, description = "`new`: create a session and redirect")),
    responses((status = 200, description = "HLS playlist", content_type = "application/vnd.apple.mpegurl"),
              (status = 302, description = "redirect to a new session's master"),
              (status = 404, description = "unknown channel or rendition"),
              (status = 503, description = "session cap reached, or the state store is down and the window cannot be rendered from what this replica holds (JSON error, Retry-After)")))]
async fn channel_file(
    State(s): State<Service>,
    Path((id, file)): Path<(String, String)>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, ApiError> {
    if file == "master.m3u8" {
        // The query matters only here: media playlists do not parse it.
        let q = query(&uri)?;
        if q.session.as_deref() == Some("new") {
            let rec = s.engine.create_session(&id, q.category, q.playlist).await?;
            let path = uri.path();
            let prefix = path
                .strip_suffix(&format!("channels/{id}/master.m3u8"))
                .unwrap_or("/");
            let location = format!("{prefix}sessions/{}/master.m3u8", rec.id);
            let mut r = StatusCode::FOUND.into_response();
            r.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&location).map_err(|e| ApiError::internal(e.to_string()))?,
            );
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(cache::NO_STORE),
            );
            return Ok(r);
        }
        if let Some(other) = q.session.as_deref() {
            return Err(ApiError::bad_field(
                "session",
                format!("session={other:?}: only `new` is accepted here"),
            ));
        }
        let body = s.engine.master(&Target::Channel(id)).await?;
        return Ok(playlist_response(
            body,
            HeaderValue::from_static("public, max-age=60"),
        ));
    }
    media(&s, Target::Channel(id), &file).await
}

async fn media(s: &Service, target: Target, file: &str) -> Result<Response, ApiError> {
    let rendition = file.strip_suffix(".m3u8").ok_or_else(|| {
        ApiError::not_found(format!(
            "{file:?}: expected master.m3u8 or <rendition>.m3u8"
        ))
        .with_field("file")
    })?;
    let r = s.engine.media_playlist(&target, rendition).await?;
    Ok(playlist_response(
        r.body,
        live_cache_control(r.target_duration),
    ))
}

/// A session's master or media playlist.
#[utoipa::path(get, path = "/sessions/{id}/{file}", tag = "playlists",
    params(("id" = String, Path, description = "session id"), ("file" = String, Path, description = "master.m3u8 or <rendition>.m3u8")),
    responses((status = 200, description = "HLS playlist", content_type = "application/vnd.apple.mpegurl"),
              (status = 404, description = "unknown or expired session")))]
async fn session_file(
    State(s): State<Service>,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    if file == "master.m3u8" {
        let body = s.engine.master(&Target::Session(id)).await?;
        return Ok(playlist_response(
            body,
            HeaderValue::from_static(cache::NO_STORE),
        ));
    }
    let mut r = media(&s, Target::Session(id), &file).await?;
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache::NO_STORE),
    );
    Ok(r)
}

async fn empty_vtt() -> Response {
    (
        [
            (header::CONTENT_TYPE, cache::VTT),
            (header::CACHE_CONTROL, cache::IMMUTABLE),
        ],
        crate::profile::EMPTY_VTT,
    )
        .into_response()
}

/// List channels.
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels",
    responses((status = 200, body = Vec<ChannelInfo>)))]
async fn list_channels(State(s): State<Service>) -> Json<Vec<ChannelInfo>> {
    Json(s.engine.channels())
}

/// One channel.
#[utoipa::path(get, path = "/api/v1/channels/{id}", tag = "channels",
    params(("id" = String, Path, description = "channel id")),
    responses((status = 200, body = ChannelInfo), (status = 404, description = "unknown channel")))]
async fn get_channel(
    State(s): State<Service>,
    Path(id): Path<String>,
) -> Result<Json<ChannelInfo>, ApiError> {
    Ok(Json(s.engine.channel_info(&id)?))
}

/// Body of `POST /api/v1/sessions`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    pub channel: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub playlist: Option<String>,
}

/// Answer of `POST /api/v1/sessions`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionCreated {
    pub id: String,
    /// The session's master playlist (absolute when a public base URL is configured, else
    /// relative to the engine root).
    pub master_url: String,
    pub session: SessionRecord,
}

/// Create a viewer session.
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = NewSession,
    responses((status = 201, body = SessionCreated), (status = 400, description = "bad body"), (status = 404, description = "unknown channel"),
              (status = 503, description = "session cap reached (JSON error, Retry-After)")))]
async fn create_session(
    State(s): State<Service>,
    JsonBody(body): JsonBody<NewSession>,
) -> Result<(StatusCode, Json<SessionCreated>), ApiError> {
    let rec = s
        .engine
        .create_session(&body.channel, body.category, body.playlist)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(SessionCreated {
            id: rec.id.clone(),
            master_url: s.absolute(&format!("sessions/{}/master.m3u8", rec.id)),
            session: rec,
        }),
    ))
}

/// List live sessions.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions",
    responses((status = 200, body = Vec<SessionRecord>)))]
async fn list_sessions(State(s): State<Service>) -> Result<Json<Vec<SessionRecord>>, ApiError> {
    Ok(Json(s.engine.sessions().await?))
}

/// One session.
#[utoipa::path(get, path = "/api/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = SessionRecord), (status = 404, description = "unknown or expired session")))]
async fn get_session(
    State(s): State<Service>,
    Path(id): Path<String>,
) -> Result<Json<SessionRecord>, ApiError> {
    Ok(Json(s.engine.session(&id).await?))
}

/// End a session.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "session id")),
    responses((status = 204, description = "deleted"), (status = 404, description = "unknown session")))]
async fn delete_session(
    State(s): State<Service>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if s.engine.delete_session(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("no such session: {id}")).with_field("id"))
    }
}
