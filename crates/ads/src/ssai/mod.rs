//! The SSAI proxy (MediaTailor's conventions): playback configurations, sessions, and
//! per-viewer playlists with the origin's breaks replaced by that viewer's ads.
//!
//! ```text
//! GET  /v1/master/{config}/{path}.m3u8?ads.k=v   implicit session: the origin master with
//!                                                 variant URIs pointing at the session
//! POST /v1/session/{config}/{path}               explicit: {adsParams, reportingMode} ->
//!                                                 {manifestUrl, trackingUrl}
//! GET  /v1/manifest/{config}/{session}/{n}.m3u8  the viewer's media playlist for variant n
//! GET  /v1/segment/{config}/{session}/{break}/{rendition}/{slot}.ts
//!                                                 an ad segment: 302 to the creative's
//!                                                 segment; fires the server-side beacons
//! GET  /v1/tracking/{config}/{session}           client-side tracking JSON
//! ```
//!
//! Flow of a media playlist request: origin window (shared [`loader::OriginCache`]) ->
//! break starts not yet planned -> ask the ADS (timeout) and plan each once
//! ([`session::Session::decide`]) -> [`rewrite::Timeline::advance`] -> render.

pub mod config;
pub mod confine;
mod http;
pub mod loader;
pub mod rewrite;
pub mod session;
pub mod tracking;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;

pub use config::PlaybackConfiguration;
pub use session::{Reporting, Session};

use crate::error::{AdsError, Result};
use loader::{CreativeCache, OriginCache};

/// Proxy-wide settings.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Most live sessions; beyond, new sessions get 503 with `Retry-After`.
    pub max_sessions: usize,
    /// How long one origin playlist fetch is shared by all sessions.
    pub origin_cache: Duration,
    /// A session idle for this many manifest durations expires (MediaTailor: 10).
    pub idle_manifests: u32,
    /// ... but never before this.
    pub min_idle: Duration,
    /// Bearer token for the configuration API.
    pub api_token: Option<Arc<str>>,
    /// Where players reach the proxy's routes (`https://ads.example.com/ads`): session
    /// answers give absolute URLs under it. Without it they are absolute paths under the
    /// prefix the request came in on (MediaTailor's shape).
    pub public_url: Option<String>,
    pub beacons: tracking::BeaconPolicy,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            max_sessions: 100_000,
            origin_cache: Duration::from_millis(500),
            idle_manifests: 10,
            min_idle: Duration::from_secs(10),
            api_token: None,
            public_url: None,
            beacons: tracking::BeaconPolicy::default(),
        }
    }
}

/// The SSAI proxy (cheap to clone).
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: ProxyConfig,
    configs: RwLock<HashMap<String, Arc<PlaybackConfiguration>>>,
    sessions: RwLock<HashMap<String, Arc<Session>>>,
    origin: OriginCache,
    creatives: CreativeCache,
    http: reqwest::Client,
    epoch: Instant,
    sweeper: AtomicBool,
}

impl Proxy {
    pub fn new(cfg: ProxyConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            inner: Arc::new(Inner {
                origin: OriginCache::new(http.clone(), cfg.origin_cache),
                creatives: CreativeCache::new(http.clone()),
                cfg,
                configs: RwLock::default(),
                sessions: RwLock::default(),
                http,
                epoch: Instant::now(),
                sweeper: AtomicBool::new(false),
            }),
        }
    }

    /// The router (`/v1/...`, `/api/v1/playbackConfigurations...`, docs, health, metrics).
    pub fn router(&self) -> Router {
        http::router(self.clone())
    }

    /// Create or replace a configuration.
    pub fn put_config(
        &self,
        name: &str,
        mut c: PlaybackConfiguration,
    ) -> Result<Arc<PlaybackConfiguration>> {
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            return Err(AdsError::BadField {
                field: "name".into(),
                message: "1-64 characters of A-Z a-z 0-9 - _".into(),
            });
        }
        c.name = name.to_string();
        c.hls_configuration = None;
        c.session_initialization_endpoint_prefix = None;
        c.validate()?;
        let c = Arc::new(c);
        self.inner
            .configs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), c.clone());
        Ok(c)
    }

    pub fn config(&self, name: &str) -> Result<Arc<PlaybackConfiguration>> {
        self.inner
            .configs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| AdsError::UnknownConfig(name.to_string()))
    }

    pub fn session(&self, id: &str) -> Result<Arc<Session>> {
        let s = self
            .inner
            .sessions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| AdsError::UnknownSession(id.to_string()))?;
        s.last_access_ms.store(self.now_ms(), Ordering::Relaxed);
        Ok(s)
    }

    pub fn session_count(&self) -> usize {
        self.inner
            .sessions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    fn now_ms(&self) -> u64 {
        self.inner.epoch.elapsed().as_millis() as u64
    }

    /// Start a session (capped by [`ProxyConfig::max_sessions`]).
    pub fn new_session(
        &self,
        config: Arc<PlaybackConfiguration>,
        path: &str,
        player_params: Vec<(String, String)>,
        reporting: Reporting,
    ) -> Result<Arc<Session>> {
        self.start_sweeper();
        let mut sessions = self
            .inner
            .sessions
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= self.inner.cfg.max_sessions {
            metrics::counter!("ssai_sessions_refused_total").increment(1);
            return Err(AdsError::TooManySessions(self.inner.cfg.max_sessions));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let s = Arc::new(Session {
            id: id.clone(),
            config,
            path: path.to_string(),
            player_params,
            reporting,
            last_access_ms: AtomicU64::new(self.now_ms()),
            manifest_ms: AtomicU64::new(0),
            state: tokio::sync::Mutex::default(),
        });
        sessions.insert(id, s.clone());
        metrics::gauge!("ssai_sessions").set(sessions.len() as f64);
        metrics::counter!("ssai_sessions_created_total").increment(1);
        Ok(s)
    }

    /// Remove sessions idle longer than `idle_manifests` x their manifest duration.
    pub fn expire_idle(&self) -> usize {
        let now = self.now_ms();
        let min = self.inner.cfg.min_idle.as_millis() as u64;
        let factor = u64::from(self.inner.cfg.idle_manifests);
        let mut sessions = self
            .inner
            .sessions
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let before = sessions.len();
        sessions.retain(|_, s| {
            let limit = (s.manifest_ms.load(Ordering::Relaxed) * factor).max(min);
            now.saturating_sub(s.last_access_ms.load(Ordering::Relaxed)) <= limit
        });
        metrics::gauge!("ssai_sessions").set(sessions.len() as f64);
        before - sessions.len()
    }

    fn start_sweeper(&self) {
        if self.inner.sweeper.swap(true, Ordering::SeqCst) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                let n = Proxy { inner }.expire_idle();
                if n > 0 {
                    metrics::counter!("ssai_sessions_expired_total").increment(n as u64);
                }
            }
        });
    }
}
