//! Cross-origin policy: playback is open to every web page, the control plane is not.
//!
//! A request is **playback** when its method is `GET` or `HEAD` (for a preflight: when the
//! method it asks for is) and its path has no `/api/` segment: playlists, segments, init
//! segments and keys. A `POST` to a path ending in `/license` is playback too: the W3C EME
//! licence request a player's CDM sends (`lineup keys`' ClearKey licence), which changes
//! nothing on the server. Players are web pages on other origins, so playback answers
//! carry `access-control-allow-origin: *`.
//!
//! Everything else is **control**: `POST`/`PUT`/`DELETE`/`PATCH` anywhere (fetcher creation,
//! ingest PUTs, channel changes) and every path under `/api/` (JSON APIs and their docs).
//! A control request that carries an `Origin` header is answered only when that origin is
//! the server itself (same host) or one the operator listed ([`set_control_origins`],
//! `lineup --cors-origin`); any other origin gets `403` with a JSON error *before* the
//! handler runs. That refusal matters for requests browsers send without a preflight
//! ("simple" cross-origin POSTs): the preflight alone would only hide the answer from the
//! page, not stop the side effect. Requests without `Origin` (curl, encoders, other
//! services) are not browser requests and pass untouched; they meet the bearer token.
//!
//! The playback path is built from static header values: `tower_http::cors::CorsLayer`
//! rebuilt its header values and cloned its configuration on every request, which cost more
//! than routing and the handler together on a cached playlist (about 11,000 instructions per
//! request, measured with callgrind).

use std::sync::{Arc, OnceLock};

use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header::*};
use axum::response::IntoResponse;

use crate::ApiError;

static CONTROL_ORIGINS: OnceLock<Arc<[String]>> = OnceLock::new();

/// Set the origins (`scheme://host[:port]`, e.g. `https://ops.example.com`) whose pages may
/// call the control APIs of every service in this process. Call once at start-up, before
/// serving; later calls are ignored (returns `false`). Without a call no other origin may.
pub fn set_control_origins(origins: Vec<String>) -> bool {
    let list: Vec<String> = origins
        .into_iter()
        .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
        .filter(|o| !o.is_empty())
        .collect();
    CONTROL_ORIGINS.set(list.into()).is_ok()
}

fn control_origins() -> &'static [String] {
    CONTROL_ORIGINS.get().map(|l| &**l).unwrap_or(&[])
}

/// Check an origin given on the command line: `scheme://host[:port]` with no path.
pub fn parse_origin(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| format!("{s:?} is not an origin: expected scheme://host[:port]"))?;
    if !matches!(scheme, "http" | "https") {
        return Err(format!("{s:?}: the scheme must be http or https"));
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) || rest.contains(char::is_whitespace)
    {
        return Err(format!(
            "{s:?} is not an origin: expected scheme://host[:port], with no path"
        ));
    }
    Ok(s.to_ascii_lowercase())
}

/// The CORS layer for a service router: [`Cors`] with the process-wide control origins.
pub fn cors() -> Cors {
    Cors { origins: None }
}

/// The layer [`cors`] returns.
#[derive(Debug, Clone, Default)]
pub struct Cors {
    /// `None`: the process-wide list of [`set_control_origins`].
    origins: Option<Arc<[String]>>,
}

impl Cors {
    /// A layer with its own list of control origins (tests, embedding).
    pub fn with_control_origins(origins: Vec<String>) -> Self {
        Cors {
            origins: Some(origins.into()),
        }
    }
}

impl<S> tower::Layer<S> for Cors {
    type Service = CorsService<S>;
    fn layer(&self, inner: S) -> CorsService<S> {
        CorsService {
            inner,
            origins: self.origins.clone(),
        }
    }
}

/// The service [`Cors`] wraps around a route.
#[derive(Debug, Clone)]
pub struct CorsService<S> {
    inner: S,
    origins: Option<Arc<[String]>>,
}

mod values {
    use axum::http::HeaderValue;
    pub const VARY: HeaderValue = HeaderValue::from_static(
        "origin, access-control-request-method, access-control-request-headers",
    );
    pub const ANY: HeaderValue = HeaderValue::from_static("*");
    pub const EXPOSE: HeaderValue =
        HeaderValue::from_static("content-length,content-range,content-type,date");
    pub const PLAYBACK_METHODS: HeaderValue = HeaderValue::from_static("GET,HEAD,OPTIONS");
    pub const LICENCE_METHODS: HeaderValue = HeaderValue::from_static("POST,OPTIONS");
    pub const CONTROL_METHODS: HeaderValue =
        HeaderValue::from_static("GET,HEAD,OPTIONS,POST,PUT,DELETE,PATCH");
    pub const MAX_AGE: HeaderValue = HeaderValue::from_static("600");
}

/// Whether a path names a control API (`/api/` anywhere: services are nested under
/// prefixes, e.g. `/pullpush/api/v1/fetchers`).
fn is_api_path(path: &str) -> bool {
    path.contains("/api/") || path.ends_with("/api")
}

fn is_read(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD
}

/// A W3C EME licence request (`POST .../license`): players send it cross-origin.
fn is_licence(method: &Method, path: &str) -> bool {
    *method == Method::POST && !is_api_path(path) && path.ends_with("/license")
}

/// What to do with one request.
enum Decision {
    /// Playback: answer `*`.
    Playback,
    /// Control, and the origin may call it: echo the origin (or none was sent).
    Control(Option<HeaderValue>),
    /// Control from an origin that may not: 403 before the handler.
    Refuse(String),
}

impl<S> CorsService<S> {
    fn allowed(&self, origin: &str, headers: &HeaderMap) -> bool {
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        // Same origin: the page was served by this host (the demo page, the API docs).
        if let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok())
            && let Some((_, rest)) = origin.split_once("://")
            && rest.eq_ignore_ascii_case(host)
        {
            return true;
        }
        let list = match &self.origins {
            Some(l) => &**l,
            None => control_origins(),
        };
        list.contains(&origin)
    }

    fn decide(&self, method: &Method, path: &str, headers: &HeaderMap) -> Decision {
        if (is_read(method) && !is_api_path(path)) || is_licence(method, path) {
            return Decision::Playback;
        }
        match headers.get(ORIGIN) {
            None => Decision::Control(None),
            Some(o) => match o.to_str() {
                Ok(s) if self.allowed(s, headers) => Decision::Control(Some(o.clone())),
                Ok(s) => Decision::Refuse(s.to_string()),
                Err(_) => Decision::Refuse("(not text)".into()),
            },
        }
    }
}

fn refuse<B: From<axum::body::Body>>(origin: &str) -> Response<B> {
    let r = ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "cross-origin requests from {origin} may not use this API; the operator can \
             allow an origin with --cors-origin"
        ),
    )
    .with_field("origin")
    .into_response();
    let (parts, body) = r.into_parts();
    Response::from_parts(parts, B::from(body))
}

impl<S, B, ResBody> tower::Service<Request<B>> for CorsService<S>
where
    S: tower::Service<Request<B>, Response = Response<ResBody>>,
    ResBody: Default + From<axum::body::Body>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = CorsFuture<S::Future, ResBody>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let path = request.uri().path();
        if request.method() == Method::OPTIONS {
            let asked = request
                .headers()
                .get(ACCESS_CONTROL_REQUEST_METHOD)
                .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
                .unwrap_or(Method::GET);
            let response = match self.decide(&asked, path, request.headers()) {
                Decision::Playback => playback_preflight(asked == Method::POST),
                Decision::Control(origin) => control_preflight(origin, request.headers()),
                Decision::Refuse(origin) => refuse(&origin),
            };
            return CorsFuture::Ready {
                response: Some(response),
            };
        }
        match self.decide(request.method(), path, request.headers()) {
            Decision::Playback => CorsFuture::Call {
                future: self.inner.call(request),
                origin: None,
                playback: true,
            },
            Decision::Control(origin) => CorsFuture::Call {
                future: self.inner.call(request),
                origin,
                playback: false,
            },
            Decision::Refuse(origin) => CorsFuture::Ready {
                response: Some(refuse(&origin)),
            },
        }
    }
}

fn playback_preflight<B: Default>(licence: bool) -> Response<B> {
    let mut response = Response::new(B::default());
    let h = response.headers_mut();
    h.insert(VARY, values::VARY);
    let methods = if licence {
        values::LICENCE_METHODS
    } else {
        values::PLAYBACK_METHODS
    };
    h.insert(ACCESS_CONTROL_ALLOW_METHODS, methods);
    h.insert(ACCESS_CONTROL_ALLOW_HEADERS, values::ANY);
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, values::ANY);
    h.insert(ACCESS_CONTROL_MAX_AGE, values::MAX_AGE);
    response
}

fn control_preflight<B: Default>(origin: Option<HeaderValue>, request: &HeaderMap) -> Response<B> {
    let mut response = Response::new(B::default());
    let h = response.headers_mut();
    h.insert(VARY, values::VARY);
    h.insert(ACCESS_CONTROL_ALLOW_METHODS, values::CONTROL_METHODS);
    // `*` does not cover `Authorization` (Fetch standard): echo what the page asks for.
    if let Some(asked) = request.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    if let Some(origin) = origin {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    h.insert(ACCESS_CONTROL_MAX_AGE, values::MAX_AGE);
    response
}

pin_project_lite::pin_project! {
    /// The response future of [`CorsService`].
    #[project = CorsFutureProj]
    pub enum CorsFuture<F, B> {
        Call { #[pin] future: F, origin: Option<HeaderValue>, playback: bool },
        Ready { response: Option<Response<B>> },
    }
}

impl<F, ResBody, E> std::future::Future for CorsFuture<F, ResBody>
where
    F: std::future::Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match self.project() {
            CorsFutureProj::Call {
                future,
                origin,
                playback,
            } => {
                let mut response = std::task::ready!(future.poll(cx))?;
                let h = response.headers_mut();
                h.append(VARY, values::VARY);
                if *playback {
                    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, values::ANY);
                    h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, values::EXPOSE);
                } else if let Some(origin) = origin.take() {
                    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                    h.insert(
                        ACCESS_CONTROL_ALLOW_CREDENTIALS,
                        HeaderValue::from_static("true"),
                    );
                    h.insert(ACCESS_CONTROL_EXPOSE_HEADERS, values::EXPOSE);
                } else {
                    // A control answer never carries a wildcard a handler may have set.
                    h.remove(ACCESS_CONTROL_ALLOW_ORIGIN);
                }
                std::task::Poll::Ready(Ok(response))
            }
            CorsFutureProj::Ready { response } => {
                std::task::Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app(origins: &[&str]) -> Router {
        Router::new()
            .route("/p.m3u8", get(|| async { "#EXTM3U\n" }))
            .route(
                "/api/v1/things",
                get(|| async { "[]" }).post(|| async { "made" }),
            )
            .route("/in/ch/x.ts", axum::routing::put(|| async { "stored" }))
            .route(
                "/keys/clearkey/license",
                axum::routing::post(|| async { "{}" }),
            )
            .layer(Cors::with_control_origins(
                origins.iter().map(|s| s.to_string()).collect(),
            ))
    }

    async fn send(app: &Router, r: Request<Body>) -> Response<Body> {
        app.clone().oneshot(r).await.unwrap()
    }

    fn acao(r: &Response<Body>) -> Option<&str> {
        r.headers()
            .get(ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().unwrap())
    }

    #[tokio::test]
    async fn playback_is_open_to_any_origin() {
        let app = app(&[]);
        let r = send(
            &app,
            Request::get("/p.m3u8")
                .header(ORIGIN, "http://player.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(acao(&r), Some("*"));
        assert_eq!(
            r.headers()[ACCESS_CONTROL_EXPOSE_HEADERS],
            "content-length,content-range,content-type,date"
        );
        let pre = send(
            &app,
            Request::options("/p.m3u8")
                .header(ORIGIN, "http://player.example")
                .header(ACCESS_CONTROL_REQUEST_METHOD, "GET")
                .header(ACCESS_CONTROL_REQUEST_HEADERS, "range")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(pre.status(), StatusCode::OK);
        assert_eq!(acao(&pre), Some("*"));
        assert_eq!(
            pre.headers()[ACCESS_CONTROL_ALLOW_METHODS],
            "GET,HEAD,OPTIONS"
        );
        // Unknown routes carry the headers too (the layer wraps the fallback).
        let r = send(&app, Request::get("/nope").body(Body::empty()).unwrap()).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(acao(&r), Some("*"));
    }

    /// A player's EME licence request (POST .../license) is playback: any origin.
    #[tokio::test]
    async fn licence_posts_are_open_to_any_origin() {
        let app = app(&[]);
        let pre = send(
            &app,
            Request::options("/keys/clearkey/license")
                .header(ORIGIN, "http://player.example")
                .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .header(ACCESS_CONTROL_REQUEST_HEADERS, "content-type")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(pre.status(), StatusCode::OK);
        assert_eq!(acao(&pre), Some("*"));
        assert_eq!(pre.headers()[ACCESS_CONTROL_ALLOW_METHODS], "POST,OPTIONS");
        let r = send(
            &app,
            Request::post("/keys/clearkey/license")
                .header(ORIGIN, "http://player.example")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(acao(&r), Some("*"));
        // Other POSTs stay control.
        let r = send(
            &app,
            Request::post("/api/v1/things")
                .header(ORIGIN, "http://player.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn control_refuses_unlisted_origins_before_the_handler() {
        let app = app(&["https://ops.example"]);
        // Preflight for a POST from a stranger: 403, no allow-origin.
        let pre = send(
            &app,
            Request::options("/api/v1/things")
                .header(ORIGIN, "http://evil.example")
                .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(pre.status(), StatusCode::FORBIDDEN);
        assert_eq!(acao(&pre), None);
        // A "simple" POST (no preflight) from a stranger never reaches the handler.
        let r = send(
            &app,
            Request::post("/api/v1/things")
                .header(ORIGIN, "http://evil.example")
                .header(CONTENT_TYPE, "text/plain")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["field"], "origin");
        // Ingest-style PUTs outside /api/ are control too.
        let r = send(
            &app,
            Request::put("/in/ch/x.ts")
                .header(ORIGIN, "http://evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // GETs of the API from a stranger: refused too (no wildcard on control answers).
        let r = send(
            &app,
            Request::get("/api/v1/things")
                .header(ORIGIN, "http://evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn control_answers_listed_and_same_origin_pages_and_non_browsers() {
        let app = app(&["https://ops.example"]);
        let pre = send(
            &app,
            Request::options("/api/v1/things")
                .header(ORIGIN, "https://ops.example")
                .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .header(ACCESS_CONTROL_REQUEST_HEADERS, "authorization,content-type")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(pre.status(), StatusCode::OK);
        assert_eq!(acao(&pre), Some("https://ops.example"));
        assert_eq!(
            pre.headers()[ACCESS_CONTROL_ALLOW_HEADERS],
            "authorization,content-type"
        );
        let r = send(
            &app,
            Request::post("/api/v1/things")
                .header(ORIGIN, "https://ops.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(acao(&r), Some("https://ops.example"));
        // Same origin (the page this host served).
        let r = send(
            &app,
            Request::post("/api/v1/things")
                .header(ORIGIN, "http://127.0.0.1:8080")
                .header(HOST, "127.0.0.1:8080")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        // No Origin: not a browser; the token (if any) is the guard.
        let r = send(
            &app,
            Request::post("/api/v1/things").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(acao(&r), None);
    }

    #[test]
    fn origins_parse() {
        assert_eq!(
            parse_origin("https://Ops.example/").unwrap(),
            "https://ops.example"
        );
        assert!(parse_origin("ops.example").is_err());
        assert!(parse_origin("https://ops.example/path").is_err());
        assert!(parse_origin("ftp://ops.example").is_err());
    }
}
