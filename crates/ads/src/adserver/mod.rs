//! The test ad server: Eyevinn test-adserver's API over a catalog of HLS creatives.
//!
//! `GET /api/v1/vast?dur=&uid=&ps=&min=&max=&v=` creates a session and answers VAST whose
//! linear creatives fill `dur` seconds ([`catalog::choose`], deterministic in the seed,
//! the `uid` and how many requests that `uid` made before); `GET /api/v1/vmap?dur=&bp=&prr=&por=`
//! answers VMAP with one VAST per break; every tracking URL in them
//! (`/api/v1/sessions/{id}/tracking?adId=&progress=`) is recorded per session and listed by
//! `GET /api/v1/sessions/{id}/events` (`{"events":[{type, issuedAt, onAd, userAgent}]}`).
//! Sessions are kept in memory, the newest [`AdServerConfig::max_sessions`].

pub mod catalog;
pub mod vast;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};
use web::ApiError;

pub use catalog::{Creative, PodRequest};

/// Ad server settings.
#[derive(Debug, Clone)]
pub struct AdServerConfig {
    /// Base URL the ad server is reached at (tracking URLs start with it), without a
    /// trailing slash. `None`: `http://<Host header>`.
    pub public_url: Option<String>,
    pub catalog: Vec<Creative>,
    /// Seed of the pod choice.
    pub seed: u64,
    /// Most sessions kept (oldest dropped first).
    pub max_sessions: usize,
}

/// One tracked event, Eyevinn's shape.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrackedEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub issued_at: String,
    pub on_ad: Option<String>,
    pub user_agent: String,
}

/// A session: one ad request and what was tracked for it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdSession {
    pub session_id: String,
    pub user_id: Option<String>,
    pub created: String,
    /// Seconds of ads in the answer (per break for VMAP).
    pub ad_break_duration: Vec<f64>,
    /// The ad ids answered, in order.
    pub ads: Vec<String>,
    pub client_request: HashMap<String, String>,
    #[serde(skip)]
    pub response: String,
    #[serde(skip)]
    pub events: Vec<TrackedEvent>,
}

#[derive(Default)]
struct Sessions {
    by_id: HashMap<String, AdSession>,
    order: VecDeque<String>,
    requests_per_uid: HashMap<String, u64>,
}

/// The ad server (cheap to clone).
#[derive(Clone)]
pub struct AdServer {
    inner: Arc<Inner>,
}

struct Inner {
    config: AdServerConfig,
    sessions: Mutex<Sessions>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lineup test ad server",
        description = "Eyevinn test-adserver compatible VAST/VMAP with per-session tracking"
    ),
    paths(
        vast_handler,
        vmap_handler,
        tracking_handler,
        events_handler,
        session_handler,
        sessions_handler
    ),
    components(schemas(TrackedEvent, AdSession, Creative))
)]
struct ApiDoc;

impl AdServer {
    pub fn new(config: AdServerConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                sessions: Mutex::default(),
            }),
        }
    }

    pub fn config(&self) -> &AdServerConfig {
        &self.inner.config
    }

    /// The router: `/api/v1/...`, `/api/docs`, `/healthz`, `/metrics`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/v1/vast", get(vast_handler))
            .route("/api/v1/vmap", get(vmap_handler))
            .route("/api/v1/sessions", get(sessions_handler))
            .route(
                "/api/v1/sessions/{id}",
                get(session_handler).delete(delete_handler),
            )
            // Beacons come as GET pixels from servers and as POSTs from players (Shaka Player's
            // MediaTailor ad manager POSTs every beacon URL).
            .route(
                "/api/v1/sessions/{id}/tracking",
                get(tracking_handler).post(tracking_handler),
            )
            .route("/api/v1/sessions/{id}/events", get(events_handler))
            .route("/api/v1/sessions/{id}/vast", get(session_vast_handler))
            .route("/api/v1/catalog", get(catalog_handler))
            .with_state(self.clone())
            .merge(web::docs_routes(ApiDoc::openapi()))
            .merge(web::common_routes())
    }

    /// The events tracked for a session (`None`: unknown session).
    pub fn events(&self, session: &str) -> Option<Vec<TrackedEvent>> {
        let s = self.inner.sessions.lock().ok()?;
        s.by_id.get(session).map(|s| s.events.clone())
    }

    /// One session (`None`: unknown).
    pub fn session(&self, id: &str) -> Option<AdSession> {
        let s = self.inner.sessions.lock().ok()?;
        s.by_id.get(id).cloned()
    }

    /// Every session kept, oldest first.
    pub fn sessions(&self) -> Vec<AdSession> {
        let s = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        s.order
            .iter()
            .filter_map(|id| s.by_id.get(id).cloned())
            .collect()
    }

    fn base(&self, headers: &HeaderMap) -> String {
        match &self.inner.config.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("localhost");
                format!("http://{host}")
            }
        }
    }

    /// Choose the ads for one request and record the session. Returns (session id, ads).
    fn open_session(
        &self,
        params: &HashMap<String, String>,
        pods: &[PodRequest],
    ) -> (String, Vec<Vec<Creative>>) {
        let id = uuid::Uuid::new_v4().to_string();
        let uid = params.get("uid").cloned();
        let mut s = self
            .inner
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let n = {
            let c = s
                .requests_per_uid
                .entry(uid.clone().unwrap_or_default())
                .or_default();
            *c += 1;
            *c - 1
        };
        let cat = &self.inner.config.catalog;
        let chosen: Vec<Vec<Creative>> = pods
            .iter()
            .enumerate()
            .map(|(i, pod)| {
                let key = format!("{}/{n}/{i}", uid.as_deref().unwrap_or(""));
                catalog::choose(cat, *pod, self.inner.config.seed, &key)
                    .into_iter()
                    .map(|i| cat[i].clone())
                    .collect()
            })
            .collect();
        let session = AdSession {
            session_id: id.clone(),
            user_id: uid,
            created: now(),
            ad_break_duration: chosen
                .iter()
                .map(|p| p.iter().map(|c| c.duration).sum())
                .collect(),
            ads: chosen.iter().flatten().map(|c| c.id.clone()).collect(),
            client_request: params.clone(),
            response: String::new(),
            events: Vec::new(),
        };
        s.by_id.insert(id.clone(), session);
        s.order.push_back(id.clone());
        while s.order.len() > self.inner.config.max_sessions.max(1) {
            if let Some(old) = s.order.pop_front() {
                s.by_id.remove(&old);
            }
        }
        if s.requests_per_uid.len() > self.inner.config.max_sessions.max(1) * 4 {
            s.requests_per_uid.clear();
        }
        (id, chosen)
    }

    fn store_response(&self, id: &str, xml: &str) {
        if let Ok(mut s) = self.inner.sessions.lock()
            && let Some(sess) = s.by_id.get_mut(id)
        {
            sess.response = xml.to_string();
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn num<T: std::str::FromStr>(p: &HashMap<String, String>, k: &str) -> Result<Option<T>, ApiError> {
    match p.get(k).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_field(k, format!("`{k}` must be a number, got `{v}`"))),
    }
}

fn pod(p: &HashMap<String, String>) -> Result<PodRequest, ApiError> {
    let duration: f64 = num(p, "dur")?.unwrap_or(0.0);
    if !(0.0..=86_400.0).contains(&duration) {
        return Err(ApiError::bad_field("dur", "`dur` must be 0..86400 seconds"));
    }
    Ok(PodRequest {
        duration,
        pod_size: num(p, "ps")?,
        min: num(p, "min")?,
        max: num(p, "max")?,
    })
}

fn version(p: &HashMap<String, String>) -> Result<&'static str, ApiError> {
    match p.get("v").map(String::as_str) {
        None | Some("") | Some("4") => Ok("4"),
        Some("3") => Ok("3"),
        Some("2") => Ok("2"),
        Some(other) => Err(ApiError::bad_field(
            "v",
            format!("`v` must be 2, 3 or 4, got `{other}`"),
        )),
    }
}

fn xml(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/xml; charset=utf-8"),
            (header::CACHE_CONTROL, web::cache::NO_STORE),
        ],
        body,
    )
        .into_response()
}

/// Create a session and answer VAST.
#[utoipa::path(get, path = "/api/v1/vast", params(
    ("dur" = Option<f64>, Query, description = "desired duration, seconds"),
    ("uid" = Option<String>, Query, description = "user id"),
    ("ps" = Option<u32>, Query, description = "pod size"),
    ("min" = Option<f64>, Query, description = "least pod duration"),
    ("max" = Option<f64>, Query, description = "most pod duration"),
    ("v" = Option<String>, Query, description = "VAST version: 2, 3 or 4 (default)"),
), responses((status = 200, description = "VAST XML")))]
async fn vast_handler(
    State(s): State<AdServer>,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let req = pod(&p)?;
    let version = version(&p)?;
    let (id, chosen) = s.open_session(&p, &[req]);
    let ads: Vec<&Creative> = chosen.iter().flatten().collect();
    let body = vast::build(version, &s.base(&headers), &id, &ads);
    s.store_response(&id, &body);
    metrics::counter!("adserver_requests_total", "kind" => "vast").increment(1);
    Ok(xml(body))
}

/// Create a session and answer VMAP: `prr=true` pre-roll, `bp=30,60` mid-rolls at those
/// seconds, `por=true` post-roll; each break asks for `dur` seconds (15 for pre/post).
#[utoipa::path(get, path = "/api/v1/vmap", params(
    ("dur" = Option<f64>, Query, description = "mid-roll duration, seconds"),
    ("bp" = Option<String>, Query, description = "mid-roll break points, seconds, comma separated"),
    ("prr" = Option<bool>, Query, description = "pre-roll"),
    ("por" = Option<bool>, Query, description = "post-roll"),
), responses((status = 200, description = "VMAP XML")))]
async fn vmap_handler(
    State(s): State<AdServer>,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let mid = pod(&p)?;
    let version = version(&p)?;
    let edge = PodRequest {
        duration: 15.0,
        ..Default::default()
    };
    let mut breaks: Vec<(String, String, PodRequest)> = Vec::new();
    if p.get("prr").is_some_and(|v| v == "true") {
        breaks.push(("preroll.ad".into(), "start".into(), edge));
    }
    for (i, bp) in p
        .get("bp")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .filter(|b| !b.trim().is_empty())
        .enumerate()
    {
        let secs: f64 = bp.trim().parse().map_err(|_| {
            ApiError::bad_field("bp", format!("break point `{bp}` is not a number"))
        })?;
        breaks.push((
            format!("midroll.ad-{}", i + 1),
            vast::time_offset(secs),
            mid,
        ));
    }
    if p.get("por").is_some_and(|v| v == "true") {
        breaks.push(("postroll.ad".into(), "end".into(), edge));
    }
    let pods: Vec<PodRequest> = breaks.iter().map(|b| b.2).collect();
    let (id, chosen) = s.open_session(&p, &pods);
    let base = s.base(&headers);
    let docs: Vec<(String, String, String)> = breaks
        .into_iter()
        .zip(chosen.iter())
        .map(|((bid, off, _), ads)| {
            let ads: Vec<&Creative> = ads.iter().collect();
            (bid, off, vast::build(version, &base, &id, &ads))
        })
        .collect();
    let body = vast::vmap(&base, &id, &docs);
    s.store_response(&id, &body);
    metrics::counter!("adserver_requests_total", "kind" => "vmap").increment(1);
    Ok(xml(body))
}

/// Record a tracking event.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/tracking", params(
    ("id" = String, Path, description = "session id"),
    ("adId" = Option<String>, Query, description = "ad id"),
    ("progress" = Option<String>, Query, description = "vast|0|25|50|75|100|e|vmap"),
), responses((status = 200), (status = 404)))]
async fn tracking_handler(
    State(s): State<AdServer>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let ad = p.get("adId").or_else(|| p.get("adID")).cloned();
    let progress = p.get("progress").cloned().unwrap_or_default();
    let kind = match progress.as_str() {
        "0" => "start",
        "25" => "firstQuartile",
        "50" => "midpoint",
        "75" => "thirdQuartile",
        "100" => "complete",
        "vmap" => "vmap:breakStart",
        "vast" => "vast:adImpression",
        "e" => "error",
        _ => "",
    };
    let mut sessions = s.inner.sessions.lock().unwrap_or_else(|p| p.into_inner());
    let Some(sess) = sessions.by_id.get_mut(&id) else {
        return Err(
            ApiError::not_found(format!("Session with ID: '{id}' was not found")).with_field("id"),
        );
    };
    sess.events.push(TrackedEvent {
        kind: kind.to_string(),
        issued_at: now(),
        on_ad: ad.clone(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("Not Found")
            .to_string(),
    });
    metrics::counter!("adserver_tracking_events_total", "type" => kind).increment(1);
    Ok(Json(serde_json::json!({
        "message": format!("Tracking Data Recieved [ ADID:{}, PROGRESS:{progress} ]", ad.unwrap_or_default())
    })))
}

/// Events tracked for a session.
#[utoipa::path(get, path = "/api/v1/sessions/{id}/events", params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = Vec<TrackedEvent>), (status = 404)))]
async fn events_handler(
    State(s): State<AdServer>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let events = s.events(&id).ok_or_else(|| {
        ApiError::not_found(format!("Session with ID: '{id}' was not found")).with_field("id")
    })?;
    Ok(Json(serde_json::json!({ "events": events })))
}

/// One session.
#[utoipa::path(get, path = "/api/v1/sessions/{id}", params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = AdSession), (status = 404)))]
async fn session_handler(
    State(s): State<AdServer>,
    Path(id): Path<String>,
) -> Result<Json<AdSession>, ApiError> {
    let sessions = s.inner.sessions.lock().unwrap_or_else(|p| p.into_inner());
    sessions.by_id.get(&id).cloned().map(Json).ok_or_else(|| {
        ApiError::not_found(format!("Session with ID: '{id}' was not found")).with_field("id")
    })
}

async fn delete_handler(State(s): State<AdServer>, Path(id): Path<String>) -> Response {
    let mut sessions = s.inner.sessions.lock().unwrap_or_else(|p| p.into_inner());
    match sessions.by_id.remove(&id) {
        Some(_) => {
            sessions.order.retain(|o| o != &id);
            StatusCode::NO_CONTENT.into_response()
        }
        None => ApiError::not_found(format!("Session with ID: '{id}' was not found"))
            .with_field("id")
            .into_response(),
    }
}

async fn session_vast_handler(State(s): State<AdServer>, Path(id): Path<String>) -> Response {
    let sessions = s.inner.sessions.lock().unwrap_or_else(|p| p.into_inner());
    match sessions.by_id.get(&id) {
        Some(sess) => xml(sess.response.clone()),
        None => ApiError::not_found(format!("Session with ID: '{id}' was not found"))
            .with_field("id")
            .into_response(),
    }
}

/// Sessions, newest first.
#[utoipa::path(get, path = "/api/v1/sessions", responses((status = 200, body = Vec<AdSession>)))]
async fn sessions_handler(State(s): State<AdServer>) -> Json<Vec<AdSession>> {
    let sessions = s.inner.sessions.lock().unwrap_or_else(|p| p.into_inner());
    Json(
        sessions
            .order
            .iter()
            .rev()
            .filter_map(|id| sessions.by_id.get(id).cloned())
            .collect(),
    )
}

async fn catalog_handler(State(s): State<AdServer>) -> Json<Vec<Creative>> {
    Json(s.inner.config.catalog.clone())
}
