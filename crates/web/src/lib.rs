//! The HTTP edge every lineup service shares.
//!
//! What it is for: the few things each service (engine, pullpush, origin, ...) must do the
//! same way at its HTTP boundary, so that a user meets one convention everywhere:
//!
//! - [`ApiError`]: the JSON error body `{ "error": "...", "field": "..." }` with a status code.
//!   Each crate keeps its own `thiserror` error type and converts it into an `ApiError` at the
//!   edge (`impl From<MyError> for ApiError`).
//! - [`JsonBody`]: a JSON extractor whose rejections are 400 (never 404 or 422) and name the
//!   field that failed, using `serde_path_to_error` (malformed JSON names the line and
//!   column; a body over the limit is 413).
//! - [`check_name`]: the one rule for ids and names every control API takes.
//! - [`not_found`]: the JSON 404 every unknown route answers (the [`Process`] fallback).
//! - [`common_routes`]: `GET /healthz` and `GET /metrics` (Prometheus text; histograms
//!   named `*_seconds` have buckets, so replicas aggregate; [`on_scrape`] lets a service
//!   set gauges from its state at scrape time).
//! - [`cors`]: CORS open to every origin for playback (playlists, segments, keys), closed
//!   for the control plane except the origins the operator lists ([`set_control_origins`]);
//!   cross-origin control requests from anyone else are refused before the handler.
//! - [`cache`]: `Cache-Control` values for live playlists, immutable media and time-shifted
//!   playlists, and content types for HLS.
//! - [`bearer_auth`]: the `--api-token` guard for control APIs (constant-time), [`Secret`]
//!   (never printed), and [`require_token`]: a service listening beyond loopback needs a
//!   token unless the operator passes `--insecure-no-auth`.
//! - [`sigv4`]: AWS Signature Version 4 verification for the AWS-shaped APIs (access key
//!   pairs from flags, the environment or a credentials file; service, region, a 5-minute
//!   clock skew and the body checked), and [`AwsError`], the error answer the AWS SDKs
//!   turn into their exception classes (`x-amzn-ErrorType`, `{"message"}`).
//! - [`docs_routes`]: OpenAPI JSON at `/api/docs/openapi.json` and a Scalar page at `/api/docs`
//!   (Scalar's bundle is vendored and served by the service itself: the page works offline).
//! - [`serve`]: serve with header-read and request timeouts and a connection cap (see
//!   [`ServeOptions`]), request metrics by route ([`TrackRequests`]), and stop on Ctrl-C /
//!   SIGTERM: stop accepting, let requests in flight finish until [`shutdown_deadline`],
//!   then return.
//! - [`retry_after_on_503`]: a `Retry-After` on every 503 a router answers.
//! - [`Service`], [`ServiceConfig`], [`Process`], [`run`]: the one shell every service runs
//!   in (its configuration turns into routes, background tasks and a shutdown; the token
//!   rule, the listener, health, metrics and the shutdown order are written once).
//!
//! What it is not for: anything specific to one service. No business logic lives here.

mod auth;
pub mod aws_error;
mod cors;
mod docs;
mod names;
mod retry;
mod serve;
mod service;
pub mod sigv4;

pub use auth::{OpenControlPlane, Secret, bearer_auth, require_token, secret_eq};
pub use aws_error::AwsError;
pub use cors::{Cors, CorsFuture, CorsService, cors, parse_origin, set_control_origins};
pub use docs::docs_routes;
pub use names::{NAME_MAX, NAME_RULE, check_name, is_valid_name, name_problem};
pub use retry::{RetryAfter, RetryAfterFuture, RetryAfterService, retry_after_on_503};
pub use serve::{
    DEFAULT_SHUTDOWN_TIMEOUT, ServeOptions, TrackFuture, TrackRequests, TrackService,
    raise_fd_limit, serve, serve_until, serve_with, set_shutdown_timeout, shutdown_deadline,
    shutdown_signal, shutdown_timeout,
};
pub use service::{BoxError, Process, Service, ServiceConfig, StartError, bind, run};

use std::sync::{Mutex, OnceLock};

use axum::{
    Json, Router,
    extract::{FromRequest, Request},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Serialize, de::DeserializeOwned};

/// The error a control API answers with: a status code and `{ "error", "field" }`.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    /// What went wrong, in words a user can act on.
    pub error: String,
    /// The request field (JSON path, query parameter, header) that caused it, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Extra machine-readable detail (e.g. the list of known outputs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self {
            status,
            error: error.into(),
            field: None,
            detail: None,
        }
    }
    /// 400 naming the field at fault.
    pub fn bad_field(field: impl Into<String>, error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error).with_field(field)
    }
    pub fn bad_request(error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error)
    }
    pub fn not_found(error: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, error)
    }
    pub fn conflict(error: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, error)
    }
    pub fn internal(error: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, error)
    }
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{} ({}): {}", self.status, field, self.error),
            None => write!(f, "{}: {}", self.status, self.error),
        }
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(&self)).into_response();
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache::NO_STORE),
        );
        response
    }
}

/// A JSON request body. Malformed JSON, a wrong content type or a field of the wrong shape
/// become a 400 [`ApiError`] naming the field (e.g. `payload.ingestUrls[0].url`).
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().ends_with("json"))
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body with content-type: application/json",
            )
            .with_field("content-type"));
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > JSON_BODY_LIMIT as u64) {
            // Said up front: answer before reading any of it.
            return Err(too_large());
        }
        let bytes = bytes::Bytes::from_request(req, state)
            .await
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => too_large(),
                _ => ApiError::bad_request(format!("could not read the body: {e}"))
                    .with_field("body"),
            })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// The answer to a route no service has: a JSON 404 naming the path, like every other
/// error (the [`Process`] fallback; a standalone service gets it too).
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such route: {}", uri.path())).with_field("path")
}

/// The largest JSON body a control API takes (axum's default body limit).
pub const JSON_BODY_LIMIT: usize = 2 * 1024 * 1024;

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than this API takes ({JSON_BODY_LIMIT} bytes)"),
    )
    .with_field("body")
}

/// Parse JSON into `T`, naming the path of the first field that fails.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() {
            // Not JSON at all: no field to name; say where it broke.
            return ApiError::bad_request(format!("malformed JSON: {message}"))
                .with_field("body")
                .with_detail(serde_json::json!({
                    "line": inner.line(),
                    "column": inner.column(),
                }));
        }
        // serde reports a missing field at the parent path; name the field itself.
        let field = match message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(missing) if path == "." => missing.to_string(),
            Some(missing) => format!("{path}.{missing}"),
            None => path,
        };
        let mut error = ApiError::bad_request(message);
        if field != "." {
            error = error.with_field(field);
        }
        error
    })
}

/// `GET /healthz` and `GET /metrics` (the process-wide Prometheus recorder). Installs the
/// recorder now, so that counts made before the first scrape are kept.
pub fn common_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    metrics_handle();
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/metrics", get(metrics_text))
}

static PROMETHEUS: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Buckets of every `*_seconds` histogram: 0.5 ms (a cached playlist) to 30 s (a stuck
/// upstream). Buckets rather than the exporter's default summaries, so that an operator
/// can sum replicas and compute quantiles over any window.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Install the Prometheus recorder for this process (idempotent). Returns `None` if another
/// recorder was installed first (then `/metrics` answers empty).
///
/// Histogram samples wait in the recorder until they are folded into buckets, which a
/// scrape does; a thread does it every [`METRICS_UPKEEP`] too, so that memory stays flat
/// when nobody scrapes (a busy engine records tens of thousands of samples a second).
pub fn metrics_handle() -> Option<&'static PrometheusHandle> {
    PROMETHEUS
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                    SECONDS_BUCKETS,
                )
                .ok()?
                .install_recorder()
                .ok()?;
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(METRICS_UPKEEP);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!("no metrics upkeep thread: {e}");
            }
            Some(handle)
        })
        .as_ref()
}

/// A function run before each `/metrics` answer; it returns `false` once its service is
/// gone (then it is dropped).
type Collector = Box<dyn Fn() -> bool + Send + Sync>;
static COLLECTORS: Mutex<Vec<Collector>> = Mutex::new(Vec::new());

/// Run `collect` before every `/metrics` answer of this process, to set gauges from state
/// that is cheaper to read on demand than to track (fetchers by state, sessions held).
/// `collect` returns `false` when what it reads is gone (hold the service by a `Weak`);
/// it is then forgotten.
pub fn on_scrape(collect: impl Fn() -> bool + Send + Sync + 'static) {
    metrics_handle();
    COLLECTORS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Box::new(collect));
}

/// The Prometheus text of this process, after running the [`on_scrape`] collectors.
pub fn render_metrics() -> String {
    COLLECTORS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|collect| collect());
    metrics_handle().map(|h| h.render()).unwrap_or_default()
}

/// How often the metrics recorder drains histogram samples when nobody scrapes.
pub const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

async fn metrics_text() -> Response {
    let body = render_metrics();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        body,
    )
        .into_response()
}

/// Cache-Control values and content types for HLS.
pub mod cache {
    /// Errors and per-viewer answers.
    pub const NO_STORE: &str = "no-store";
    /// Segments and init segments: their bytes never change under a URL.
    pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
    /// A closed (VOD / time-shifted span) playlist: it will not change either.
    pub const CLOSED_PLAYLIST: &str = "public, max-age=3600";

    /// `Cache-Control` for a live playlist: at most half a target duration (RFC 8216bis
    /// advises caches to hold live playlists no longer than that), at least one second.
    pub fn live_playlist(target_duration_secs: u64) -> String {
        let max_age = (target_duration_secs / 2).max(1);
        format!("public, max-age={max_age}")
    }

    pub const M3U8: &str = "application/vnd.apple.mpegurl";
    pub const TS: &str = "video/mp2t";
    pub const MP4: &str = "video/mp4";
    pub const M4S: &str = "video/iso.segment";
    pub const AAC: &str = "audio/aac";
    pub const VTT: &str = "text/vtt";
    pub const KEY: &str = "application/octet-stream";

    /// Content type from a file name's extension.
    pub fn content_type_for(path: &str) -> &'static str {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        match path
            .rsplit('.')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
            .as_str()
        {
            "m3u8" | "m3u" => M3U8,
            "ts" => TS,
            "mp4" | "m4v" | "cmfv" => MP4,
            "m4s" | "cmfa" => M4S,
            "m4a" => "audio/mp4",
            "aac" => AAC,
            "vtt" | "webvtt" => VTT,
            "key" => KEY,
            "json" => "application/json",
            "html" => "text/html; charset=utf-8",
            _ => "application/octet-stream",
        }
    }
}

/// The tokio runtime every lineup service runs on (the `lineup` binary builds it once).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        payload: Payload,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Payload {
        concurrency: u32,
    }

    #[test]
    fn parse_json_names_nested_field() {
        let err = parse_json::<Body>(br#"{"name":"a","payload":{"concurrency":-1}}"#).unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.field.as_deref(), Some("payload.concurrency"));
    }

    #[test]
    fn parse_json_names_missing_field() {
        let err = parse_json::<Body>(br#"{"payload":{"concurrency":1}}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("name"));
        let err = parse_json::<Body>(br#"{"name":"x","payload":{}}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("payload.concurrency"));
    }

    #[test]
    fn live_playlist_max_age_is_half_target() {
        assert_eq!(cache::live_playlist(6), "public, max-age=3");
        assert_eq!(cache::live_playlist(1), "public, max-age=1");
    }

    /// `serve_until` answers over TCP and stops when its signal resolves.
    #[tokio::test]
    async fn serve_until_serves_and_stops() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_until(
            listener,
            common_routes().layer(cors()),
            async move {
                let _ = stopped.await;
            },
        ));
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            answer.contains("access-control-allow-origin: *\r\n"),
            "{answer}"
        );
        assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer}");
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    #[test]
    fn content_types() {
        assert_eq!(cache::content_type_for("a/b/index.m3u8?x=1"), cache::M3U8);
        assert_eq!(cache::content_type_for("seg_1.ts"), cache::TS);
        assert_eq!(cache::content_type_for("init.mp4"), cache::MP4);
    }
}
