//! The test key server's HTTP face: the SPEKE v2 endpoint, the ClearKey licences and the
//! fault switch.
//!
//! ```text
//! POST /speke/v2                 CPIX 2.3 in (X-Speke-Version: 2.0), the same document out
//!                                with keys and each DRM system's signalling filled in
//! POST /clearkey/license         {"kids":[b64url..],"type":"temporary"}
//!                                -> {"keys":[{"kty":"oct","kid","k"}],"type":"temporary"}
//! POST /clearkey/wrong/license   the same with wrong keys (players must fail with it)
//! GET|PUT /api/v1/fault          how the SPEKE endpoint misbehaves (tests): none, slow,
//!                                garbage, other_kids, error; behind --api-token when set
//! ```
//! Keys appear in the SPEKE answer and the licences only: never in logs, metrics or errors.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use web::ApiError;

use crate::cpix::{self, Block, Cpix, KeyData, KeySecret, Text, b64};
use crate::mint::Minter;
use crate::signal;

/// The route of the SPEKE v2 endpoint under the service root.
pub const SPEKE_PATH: &str = "/speke/v2";
/// The route of the ClearKey licence under the service root.
pub const LICENCE_PATH: &str = "/clearkey/license";
/// The route of the wrong-key ClearKey licence under the service root.
pub const WRONG_LICENCE_PATH: &str = "/clearkey/wrong/license";

/// How the SPEKE endpoint misbehaves (for fault tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultMode {
    /// Answer correctly.
    #[default]
    None,
    /// Answer correctly after `delay_ms`.
    Slow,
    /// Answer 200 with a body that is not CPIX.
    Garbage,
    /// Answer a well-formed CPIX whose keys are for other key ids than asked.
    OtherKids,
    /// Answer 500.
    Error,
}

/// `GET|PUT /api/v1/fault`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub mode: FaultMode,
    /// For `slow`: how long to wait before answering (at most 600000).
    #[serde(default)]
    pub delay_ms: u64,
}

/// The key server (cheap to clone: shared state).
#[derive(Clone)]
pub struct KeyServer {
    inner: Arc<Inner>,
}

struct Inner {
    minter: Minter,
    public_url: Option<String>,
    api_token: Option<Arc<str>>,
    fault: RwLock<Fault>,
}

/// How to build a [`KeyServer`].
#[derive(Debug, Clone)]
pub struct KeyServerConfig {
    /// The seed phrase keys are minted from.
    pub seed: web::Secret,
    /// The URL the service root is reached at by players (the licence URL in DASH and
    /// PlayReady signalling is `<public_url>/clearkey/license`); default: the `Host` and
    /// path of each SPEKE request.
    pub public_url: Option<String>,
    /// Bearer token of `/api/v1/fault`.
    pub api_token: Option<web::Secret>,
}

impl KeyServer {
    pub fn new(config: KeyServerConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                minter: Minter::new(config.seed.expose()),
                public_url: config
                    .public_url
                    .map(|u| u.trim_end_matches('/').to_string()),
                api_token: config.api_token.map(|t| Arc::from(t.expose())),
                fault: RwLock::new(Fault::default()),
            }),
        }
    }

    /// The key of `kid` (what the licence answers).
    pub fn key(&self, kid: &Block) -> Block {
        self.inner.minter.key(kid)
    }

    /// Change how the SPEKE endpoint behaves.
    pub fn set_fault(&self, fault: Fault) {
        *self.inner.fault.write().unwrap_or_else(|e| e.into_inner()) = fault;
    }

    fn fault(&self) -> Fault {
        *self.inner.fault.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The routes, relative to the service root (no health, metrics or CORS: the process
    /// adds them).
    pub fn router(&self) -> Router {
        let control = Router::new()
            .route("/api/v1/fault", get(get_fault).put(put_fault))
            .layer(axum::middleware::from_fn_with_state(
                self.inner.api_token.clone(),
                web::bearer_auth,
            ));
        Router::new()
            .route(SPEKE_PATH, post(speke))
            .route(LICENCE_PATH, post(licence))
            .route(WRONG_LICENCE_PATH, post(wrong_licence))
            .merge(control)
            .with_state(self.clone())
    }
}

async fn get_fault(State(s): State<KeyServer>) -> axum::Json<Fault> {
    axum::Json(s.fault())
}

async fn put_fault(
    State(s): State<KeyServer>,
    web::JsonBody(fault): web::JsonBody<Fault>,
) -> Result<axum::Json<Fault>, ApiError> {
    if fault.delay_ms > 600_000 {
        return Err(ApiError::bad_field("delay_ms", "at most 600000"));
    }
    tracing::info!(mode = ?fault.mode, delay_ms = fault.delay_ms, "SPEKE fault set");
    s.set_fault(fault);
    Ok(axum::Json(fault))
}

fn speke_error(e: cpix::CpixError) -> ApiError {
    ApiError::bad_field(e.field, e.message)
}

/// `POST /speke/v2`.
async fn speke(
    State(s): State<KeyServer>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let version = headers.get("x-speke-version").and_then(|v| v.to_str().ok());
    if version.map(str::trim) != Some("2.0") {
        return Err(ApiError::bad_field(
            "x-speke-version",
            format!("{version:?}: this endpoint speaks SPEKE 2.0 (X-Speke-Version: 2.0)"),
        ));
    }
    let fault = s.fault();
    match fault.mode {
        FaultMode::Slow => tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await,
        FaultMode::Error => return Err(ApiError::internal("fault injected: error")),
        FaultMode::Garbage => return Ok(xml_answer("<html>this is not CPIX</html>".into())),
        FaultMode::None | FaultMode::OtherKids => {}
    }
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::bad_field("body", "not UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_field(
            "body",
            "empty: POST a CPIX 2.3 document",
        ));
    }
    let mut doc = cpix::parse(text).map_err(speke_error)?;
    let asked = doc.check_request().map_err(speke_error)?;
    for (i, d) in doc.systems().iter().enumerate() {
        let id = d
            .system_id
            .as_deref()
            .and_then(cpix::normalize_system_id)
            .unwrap_or_default();
        if !signal::SUPPORTED.contains(&id.as_str()) {
            return Err(ApiError::bad_field(
                format!("DRMSystemList/DRMSystem[{}]@systemId", i + 1),
                format!("{id}: this key server signals {:?}", signal::SUPPORTED),
            ));
        }
    }
    let licence_url = s.licence_url(&headers, uri.path());
    s.fill(&mut doc, &asked.content_id, &licence_url);
    if fault.mode == FaultMode::OtherKids {
        other_kids(&mut doc);
    }
    metrics::counter!("keys_speke_answers_total").increment(1);
    tracing::info!(
        content_id = %asked.content_id,
        keys = asked.kids.len(),
        "SPEKE keys answered"
    );
    Ok(xml_answer(cpix::write(&doc)))
}

fn xml_answer(body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    h.insert("x-speke-version", HeaderValue::from_static("2.0"));
    h.insert(
        "x-speke-user-agent",
        HeaderValue::from_static(concat!("lineup-keys/", env!("CARGO_PKG_VERSION"))),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Replace every key id of an answer with another one (the `other_kids` fault).
fn other_kids(doc: &mut Cpix) {
    let flip = |kid: &mut Option<String>| {
        if let Some(mut k) = kid.as_deref().and_then(cpix::parse_kid) {
            k.iter_mut().for_each(|b| *b ^= 0x5a);
            *kid = Some(cpix::kid_string(&k));
        }
    };
    if let Some(l) = doc.content_keys.as_mut() {
        l.keys.iter_mut().for_each(|k| flip(&mut k.kid));
    }
    if let Some(l) = doc.drm_systems.as_mut() {
        l.systems.iter_mut().for_each(|d| flip(&mut d.kid));
    }
}

impl KeyServer {
    /// The ClearKey licence URL to signal: `--public-url` or the SPEKE request's own host
    /// and path prefix.
    fn licence_url(&self, headers: &HeaderMap, path: &str) -> String {
        if let Some(public) = &self.inner.public_url {
            return format!("{public}{LICENCE_PATH}");
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let prefix = path.strip_suffix(SPEKE_PATH).unwrap_or("");
        format!("http://{host}{prefix}{LICENCE_PATH}")
    }

    /// Fill a checked request in: keys, and each DRM system's signalling where the request
    /// has the element (FairPlay has no `PSSH` nor `ContentProtectionData`).
    fn fill(&self, doc: &mut Cpix, content_id: &str, licence_url: &str) {
        let mut schemes = std::collections::BTreeMap::new();
        if let Some(l) = doc.content_keys.as_mut() {
            for k in &mut l.keys {
                let Some(kid) = k.kid.as_deref().and_then(cpix::parse_kid) else {
                    continue;
                };
                let key = self.inner.minter.key(&kid);
                k.data = Some(KeyData {
                    secret: Some(KeySecret {
                        plain_value: Some(b64(&key)),
                        encrypted_value: None,
                    }),
                });
                schemes.insert(kid, k.common_encryption_scheme.clone().unwrap_or_default());
            }
        }
        let Some(list) = doc.drm_systems.as_mut() else {
            return;
        };
        for d in &mut list.systems {
            let kid = d
                .kid
                .as_deref()
                .and_then(cpix::parse_kid)
                .unwrap_or_default();
            let system = d
                .system_id
                .as_deref()
                .and_then(cpix::normalize_system_id)
                .unwrap_or_default();
            let scheme = schemes.get(&kid).cloned().unwrap_or_default();
            let Some(sig) = signal::signal(&system, &kid, &scheme, content_id, licence_url) else {
                continue;
            };
            if d.pssh.is_some() {
                d.pssh = sig.pssh.as_deref().map(|p| Text::new(b64(p)));
            }
            if d.content_protection_data.is_some() {
                d.content_protection_data = sig
                    .content_protection
                    .as_deref()
                    .map(|x| Text::new(b64(x.as_bytes())));
            }
            d.hls_signaling_data.retain_mut(|h| {
                let line = if h.playlist.as_deref() == Some("master") {
                    sig.ext_x_session_key(&scheme)
                } else {
                    sig.ext_x_key(&scheme)
                };
                line.map(|l| h.value = b64(l.as_bytes())).is_some()
            });
            d.smooth_streaming = None;
        }
    }
}

/// A W3C ClearKey licence request.
#[derive(Debug, Deserialize)]
struct LicenceRequest {
    kids: Vec<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Debug, Serialize)]
struct LicenceKey {
    kty: &'static str,
    kid: String,
    k: String,
}

#[derive(Debug, Serialize)]
struct Licence {
    keys: Vec<LicenceKey>,
    #[serde(rename = "type")]
    kind: String,
}

async fn licence(State(s): State<KeyServer>, body: Bytes) -> Result<Response, ApiError> {
    answer_licence(&s, &body, false)
}

async fn wrong_licence(State(s): State<KeyServer>, body: Bytes) -> Result<Response, ApiError> {
    answer_licence(&s, &body, true)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn answer_licence(s: &KeyServer, body: &[u8], wrong: bool) -> Result<Response, ApiError> {
    let req: LicenceRequest = web::parse_json(body)?;
    if req.kids.is_empty() || req.kids.len() > 100 {
        return Err(ApiError::bad_field("kids", "between 1 and 100 key ids"));
    }
    let kind = req.kind.unwrap_or_else(|| "temporary".into());
    if !matches!(kind.as_str(), "temporary" | "persistent-license") {
        return Err(ApiError::bad_field(
            "type",
            format!("{kind:?}: \"temporary\" or \"persistent-license\""),
        ));
    }
    let mut keys = Vec::with_capacity(req.kids.len());
    for (i, text) in req.kids.iter().enumerate() {
        let trimmed = text.trim_end_matches('=');
        let kid: Block = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(trimmed)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                ApiError::bad_field(format!("kids[{i}]"), "not 16 bytes of base64url")
            })?;
        let key = if wrong {
            s.inner.minter.wrong(&kid)
        } else {
            s.inner.minter.key(&kid)
        };
        keys.push(LicenceKey {
            kty: "oct",
            kid: b64url(&kid),
            k: b64url(&key),
        });
    }
    metrics::counter!("keys_licences_total", "keys" => if wrong { "wrong" } else { "right" })
        .increment(1);
    tracing::debug!(kids = keys.len(), wrong, "ClearKey licence answered");
    let mut r = axum::Json(Licence { keys, kind }).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
