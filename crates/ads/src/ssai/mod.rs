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
//! # Shape
//! Pure cores, a thin driver, I/O at the edges:
//! - [`rewrite`]: the per-viewer timeline (origin window + plans -> output log -> playlist);
//! - [`policy`]: what fills one break, from (break, ad answer, readiness, configuration,
//!   now); [`tracking`]: which beacons a fetch makes due, the tracking document;
//! - [`session`]: a session as a serializable value; [`store`]: where it lives (memory, or
//!   Redis for replicas), loaded and saved with a version compare-and-set;
//! - [`playlist`]: the driver, one `media_playlist(session, rendition, now)`;
//!   [`decide`]: asks the ad server and the creative caches for the policy;
//! - [`loader`] (origin playlists, VAST), [`creative`] (creatives), [`beacons`]: I/O;
//! - `http`: extracts requests and answers them.
//!
//! No lock is held across an ad server call: a request loads the session, decides its new
//! breaks (once per session and break in this process: concurrent requests share the
//! answer), then applies them and saves, retrying on a concurrent save.

pub mod beacons;
pub mod config;
pub mod confine;
pub mod creative;
pub mod decide;
mod http;
pub mod loader;
pub mod mediatailor;
pub mod playlist;
pub mod policy;
pub mod redis_store;
pub mod rewrite;
pub mod session;
pub mod store;
pub mod tracking;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;

pub use config::PlaybackConfiguration;
pub use redis_store::RedisSessions;
pub use session::{Reporting, SessionMeta, SessionState};
pub use store::{Loaded, MemorySessions, SessionStore};

use crate::error::{AdsError, Result};
use creative::CreativeCache;
use loader::OriginCache;

/// Proxy-wide settings.
#[derive(Clone)]
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
    pub beacons: beacons::BeaconPolicy,
    /// Where sessions live (default: this process's memory).
    pub sessions: Option<Arc<dyn SessionStore>>,
    /// The access keys the MediaTailor API ([`mediatailor`]) accepts SigV4 signatures
    /// from (none: it refuses every request), and the region they sign for.
    pub aws_keys: web::sigv4::AccessKeys,
    pub aws_region: String,
    /// Conditioning of non-HLS creatives (MP4 mezzanines) into the content's renditions;
    /// without it, only HLS creatives play (the others fire VAST error 403). Its files are
    /// served under `/v1/conditioned/` (its public URL should name that).
    pub conditioner: Option<crate::condition::Conditioner>,
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("max_sessions", &self.max_sessions)
            .field("origin_cache", &self.origin_cache)
            .field("idle_manifests", &self.idle_manifests)
            .field("min_idle", &self.min_idle)
            .field("api_token", &self.api_token.as_ref().map(|_| "***"))
            .field("public_url", &self.public_url)
            .field("sessions", &self.sessions.as_ref().map(|_| "custom"))
            .field("aws_keys", &self.aws_keys.ids())
            .field("aws_region", &self.aws_region)
            .field(
                "conditioner",
                &self.conditioner.as_ref().map(|c| c.config().dir.clone()),
            )
            .finish()
    }
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
            beacons: beacons::BeaconPolicy::default(),
            sessions: None,
            aws_keys: web::sigv4::AccessKeys::default(),
            aws_region: "us-east-1".into(),
            conditioner: None,
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
    sessions: Arc<dyn SessionStore>,
    origin: OriginCache,
    creatives: CreativeCache,
    /// Content profiles by master URL (what conditioned ads are made for).
    profiles: crate::condition::ProfileCache,
    http: reqwest::Client,
    /// Rendered playlists by (session, rendition), with what they were rendered from.
    rendered: Mutex<HashMap<(String, usize), playlist::Rendered>>,
    /// Break decisions under way, by (session, break): concurrent requests share one.
    inflight: playlist::Inflight,
    sweeper: AtomicBool,
}

impl Proxy {
    pub fn new(cfg: ProxyConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        let sessions = cfg
            .sessions
            .clone()
            .unwrap_or_else(|| Arc::new(MemorySessions::default()));
        Self {
            inner: Arc::new(Inner {
                origin: OriginCache::new(http.clone(), cfg.origin_cache),
                creatives: CreativeCache::new(http.clone()),
                profiles: crate::condition::ProfileCache::default(),
                cfg,
                configs: RwLock::default(),
                sessions,
                http,
                rendered: Mutex::default(),
                inflight: Mutex::default(),
                sweeper: AtomicBool::new(false),
            }),
        }
    }

    /// The router (`/v1/...`, `/api/v1/playbackConfigurations...`, docs, health, metrics).
    pub fn router(&self) -> Router {
        http::router(self.clone())
    }

    /// Wall time, ms since the Unix epoch: the one place the proxy reads it.
    pub fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    /// Create or replace a configuration.
    pub async fn put_config(
        &self,
        name: &str,
        mut c: PlaybackConfiguration,
    ) -> Result<Arc<PlaybackConfiguration>> {
        config::validate_name(name)?;
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

    pub async fn config(&self, name: &str) -> Result<Arc<PlaybackConfiguration>> {
        self.inner
            .configs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| AdsError::UnknownConfig(name.to_string()))
    }

    /// Every configuration, by name.
    pub async fn configs(&self) -> Result<Vec<Arc<PlaybackConfiguration>>> {
        let mut all: Vec<_> = self
            .inner
            .configs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// Remove a configuration (its sessions end with it).
    pub async fn delete_config(&self, name: &str) -> Result<()> {
        self.inner
            .configs
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| AdsError::UnknownConfig(name.to_string()))
    }

    /// Sessions held now.
    pub async fn session_count(&self) -> Result<usize> {
        self.inner.sessions.count(self.now_ms()).await
    }

    /// Start a session (capped by [`ProxyConfig::max_sessions`]).
    pub async fn new_session(
        &self,
        config: &PlaybackConfiguration,
        path: &str,
        player_params: Vec<(String, String)>,
        reporting: Reporting,
    ) -> Result<SessionMeta> {
        self.start_sweeper();
        let now = self.now_ms();
        let meta = SessionMeta {
            id: uuid::Uuid::new_v4().to_string(),
            config: config.name.clone(),
            path: path.to_string(),
            player_params,
            reporting,
            created_ms: now,
        };
        let idle = self.inner.cfg.min_idle.as_millis() as i64;
        let cap = self.inner.cfg.max_sessions;
        if !self
            .inner
            .sessions
            .create(meta.clone(), cap, now, now + idle)
            .await?
        {
            metrics::counter!("ssai_sessions_refused_total").increment(1);
            return Err(AdsError::TooManySessions(cap));
        }
        metrics::counter!("ssai_sessions_created_total").increment(1);
        Ok(meta)
    }

    /// Remove sessions idle past their deadline.
    pub async fn expire_idle(&self) -> Result<usize> {
        let gone = self.inner.sessions.expire(self.now_ms()).await?;
        if !gone.is_empty() {
            let mut rendered = self
                .inner
                .rendered
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            rendered.retain(|(id, _), _| !gone.contains(id));
        }
        Ok(gone.len())
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
                let p = Proxy { inner };
                playlist::sweep_inflight(&p.inner.inflight, std::time::Instant::now());
                match p.expire_idle().await {
                    Ok(n) if n > 0 => {
                        metrics::counter!("ssai_sessions_expired_total").increment(n as u64);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "expiring sessions failed"),
                }
                if let Ok(n) = p.session_count().await {
                    metrics::gauge!("ssai_sessions").set(n as f64);
                }
            }
        });
    }
}
