//! Ads for lineup: a VAST test ad server and a server-side ad insertion (SSAI) proxy.
//!
//! **For**: replacing the ad breaks an HLS origin marks (`EXT-X-CUE-OUT`/`EXT-X-CUE-IN`,
//! `EXT-X-DATERANGE` with `SCTE35-OUT`/`SCTE35-IN`) with ads chosen per viewer, the role AWS
//! Elemental MediaTailor plays, in front of any origin (ours or anyone's); and answering
//! the proxy's ad requests in tests and demos with a test ad server compatible with
//! Eyevinn's test-adserver API.
//! Creatives that are not HLS (the MP4 mezzanines production ad servers send) are
//! conditioned with ffmpeg into the content's renditions in the background
//! ([`condition`]); VAST wrapper chains are followed ([`vast`]).
//! TS, fMP4 (CMAF), AES-128 and cbcs content, demuxed audio and WebVTT subtitles: keys and
//! `EXT-X-MAP` are re-stated around ads. Sessions live in memory or in Redis (replicas).
//! **Not for**: DASH, VPAID/interactive ads, I-frame playlists in session masters (left
//! out).
//!
//! Main types: [`AdServer`] (`GET /api/v1/vast`, `/api/v1/vmap`, tracking and events),
//! [`Proxy`] (playback configurations, sessions, per-viewer playlists, beacons),
//! [`ssai::rewrite::Timeline`] (the pure per-viewer rewrite), [`ssai::policy::plan_break`]
//! (the pure policy of one break), [`ssai::SessionStore`] (where sessions live),
//! [`condition::Conditioner`] (ffmpeg conditioning of MP4 creatives into a content's
//! renditions; its module doc has the readiness API a break policy calls) and
//! [`vast::resolve`] (VAST 2/3/4 with wrapper chains, pods and error codes; VMAP pre-rolls).
//!
//! # Architecture
//! ```text
//!  player --GET master--> Proxy --origin master (shared cache)--> origin
//!  player --GET n.m3u8--> Proxy --origin window (shared cache)-->
//!           load the session (store) -> new break start?
//!             --ADS URL template--> ad server (VAST, timeout 3 s)   [no session held]
//!             --creative masters/media (loaded once, shared)--> CDN
//!             policy::plan_break(break, answer, readiness, config, now), once per viewer
//!           state.apply(window, plans) -> save (version compare-and-set) -> render
//!  player --GET ad segment--> Proxy (302 to the creative) --beacons--> ad server
//! ```
//! Invariants:
//! - The rewrite is pure ([`ssai::rewrite`]): a viewer's output is a log of segments shared
//!   by its renditions, appended at the tail as the origin advances and trimmed at the
//!   head as the origin's window slides, so media sequence and discontinuity sequence are
//!   consistent across reloads and renditions; property-tested (`tests/rewrite_props.rs`).
//! - A break is planned once per viewer; nothing the ADS does (slow, failing, invalid or
//!   empty VAST, unplayable creatives) breaks a playlist: the break becomes slate, or the
//!   original content when the unfilled time exceeds the personalization threshold.
//! - An origin failure answers the last good window for a third of the manifest duration
//!   (at least 6 s, at most 60 s), then the error (502).
//! - Beacons fire at most once per viewer, ad and event, when the viewer fetches the ad
//!   segment that reaches the event's position; each is retried with a 3 s timeout.
//! - Sessions expire after ten manifest durations without a request and are capped
//!   (503 with `Retry-After` beyond).

pub mod adserver;
pub mod condition;
mod error;
pub mod ssai;
pub mod vast;

use std::net::SocketAddr;
use std::sync::Arc;

pub use adserver::{AdServer, AdServerConfig};
pub use error::{AdsError, Result};
pub use ssai::{PlaybackConfiguration, Proxy, ProxyConfig};

/// `lineup ads`: the ad server and the proxy on one port (`/adserver`, `/ads`).
#[derive(clap::Args, Debug, Clone)]
pub struct AdsArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8070", env = "LINEUP_ADS_LISTEN")]
    pub listen: SocketAddr,
    /// Public base URL (the ad server's tracking URLs and the proxy's session answers name
    /// it: `<url>/adserver/...`, `<url>/ads/v1/...`); default `http://<listen>`.
    #[arg(long)]
    pub public_url: Option<String>,
    /// Base URL of the HLS creatives for the default catalog (a folder holding
    /// `ads/vod1/master.m3u8`, `ts/vod1/master.m3u8`, ...: the test fixtures).
    #[arg(long, default_value = "http://127.0.0.1:8080/vod")]
    pub creatives_base: String,
    /// A JSON file with the catalog (`[{"id","url","duration"}, ...]`) instead.
    #[arg(long)]
    pub catalog: Option<std::path::PathBuf>,
    /// Seed of the ad choice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Most SSAI sessions at once.
    #[arg(long, default_value_t = 100_000)]
    pub max_sessions: usize,
    /// Bearer token for the playback configuration API.
    #[arg(long, hide_env_values = true)]
    pub api_token: Option<web::Secret>,
    /// Access keys (and region) of the MediaTailor API (SigV4).
    #[command(flatten)]
    pub aws: web::sigv4::SigV4Args,
    /// Folder of conditioned ads (MP4 creatives transcoded to each content's renditions;
    /// kept across restarts). Default: `lineup-ads-conditioned` in the system's temporary
    /// folder.
    #[arg(long, env = "LINEUP_ADS_CONDITION_DIR")]
    pub condition_dir: Option<std::path::PathBuf>,
    /// Byte bound of that folder (least recently used ads are removed beyond it).
    #[arg(long, env = "LINEUP_ADS_CONDITION_MAX_BYTES", default_value_t = 2 * 1024 * 1024 * 1024)]
    pub condition_max_bytes: u64,
    /// ffmpeg conditioning jobs at once (each under `nice`).
    #[arg(long, env = "LINEUP_ADS_CONDITION_JOBS", default_value_t = 1)]
    pub condition_jobs: usize,
    /// Do not condition: only HLS creatives play (others fire VAST error 403).
    #[arg(long, env = "LINEUP_ADS_NO_CONDITION")]
    pub no_condition: bool,
    /// Redis (or Valkey) URL: SSAI sessions, their ad decisions and beacon state live there,
    /// shared by every `lineup ads` replica on it (the session cap applies across them).
    #[arg(long, env = "LINEUP_ADS_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<web::Secret>,
}

impl AdsArgs {
    /// The conditioner these arguments ask for (`None` with `--no-condition`); its files
    /// are served by the proxy under `<public>/ads/v1/conditioned`.
    pub fn conditioner(&self, public: &str) -> Result<Option<condition::Conditioner>> {
        if self.no_condition {
            return Ok(None);
        }
        let dir = self
            .condition_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("lineup-ads-conditioned"));
        let mut cfg = condition::ConditionConfig::new(
            dir,
            format!("{}/ads/v1/conditioned", public.trim_end_matches('/')),
        );
        cfg.max_bytes = self.condition_max_bytes;
        cfg.jobs = self.condition_jobs.max(1);
        condition::Conditioner::new(cfg, reqwest::Client::new()).map(Some)
    }
}

/// The ad server and the proxy, built from [`AdsArgs`] (sessions in memory; see
/// [`build_with`]).
pub fn build(args: &AdsArgs) -> Result<(AdServer, Proxy)> {
    build_with(args, None)
}

/// The ad server and the proxy, sessions in `sessions` (`None`: this process's memory).
pub fn build_with(
    args: &AdsArgs,
    sessions: Option<Arc<dyn ssai::SessionStore>>,
) -> Result<(AdServer, Proxy)> {
    let public = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let catalog = match &args.catalog {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| AdsError::BadField {
                field: "catalog".into(),
                message: format!("{}: {e}", path.display()),
            })?;
            serde_json::from_str(&text).map_err(|e| AdsError::BadField {
                field: "catalog".into(),
                message: format!("{}: {e}", path.display()),
            })?
        }
        None => adserver::catalog::default_catalog(&args.creatives_base),
    };
    let ad_server = AdServer::new(AdServerConfig {
        public_url: Some(format!("{}/adserver", public.trim_end_matches('/'))),
        catalog,
        seed: args.seed,
        max_sessions: 10_000,
    });
    let aws_keys = args.aws.keys().map_err(|message| AdsError::BadField {
        field: "aws_api_credentials".into(),
        message,
    })?;
    let proxy = Proxy::new(ProxyConfig {
        aws_keys,
        aws_region: args.aws.aws_api_region.clone(),
        conditioner: args.conditioner(&public)?,
        sessions,
        max_sessions: args.max_sessions,
        api_token: args.api_token.as_ref().map(|t| Arc::from(t.expose())),
        public_url: Some(format!("{}/ads", public.trim_end_matches('/'))),
        ..Default::default()
    });
    Ok((ad_server, proxy))
}

/// One router with both: the ad server under `/adserver`, the proxy under `/ads`.
pub fn router(ad_server: &AdServer, proxy: &Proxy) -> axum::Router {
    axum::Router::new()
        .nest("/adserver", ad_server.router())
        .nest("/ads", proxy.router())
        .merge(web::common_routes())
        .layer(web::cors())
}

/// `lineup ads` in the shell every service shares (tracking URLs name the bound address
/// unless `--public-url` is given).
impl web::ServiceConfig for AdsArgs {
    const NAME: &'static str = "ads";

    fn listen(&self) -> String {
        self.listen.to_string()
    }

    fn api_token(&self) -> Option<&str> {
        self.api_token.as_ref().map(web::Secret::expose)
    }

    async fn build(
        mut self,
        local: SocketAddr,
    ) -> std::result::Result<web::Service, web::BoxError> {
        self.listen = local;
        let sessions: Option<Arc<dyn ssai::SessionStore>> = match &self.redis_url {
            Some(url) => Some(Arc::new(
                ssai::RedisSessions::connect(url.expose(), "lineup:ads:").await?,
            )),
            None => None,
        };
        let (ad_server, proxy) = build_with(&self, sessions)?;
        Ok(web::Service::new("ads", router(&ad_server, &proxy))
            .banner("test ad server (VAST): {base}/adserver/api/v1/vast?dur=30")
            .banner(
                "SSAI: {base}/ads/v1/master/<configuration>/<path>  API docs: {base}/ads/api/docs",
            ))
    }
}
