//! `lineup engine ...` arguments and [`build`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::adapters::{
    AssetManager, ChannelManager, FileAdapter, HttpAssetManager, ScheduleAdapter,
    ScheduleAdapterConfig,
};
use crate::engine::{Engine, EngineOptions};
use crate::error::{Error, Result};
use crate::store::{MemoryStore, RedisStore, RedisTimeouts, Store};

/// Engine configuration (mount with `#[command(flatten)]`).
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// Address to listen on (standalone `lineup engine`).
    #[arg(
        long = "listen",
        env = "LINEUP_ENGINE_LISTEN",
        default_value = "127.0.0.1:8000"
    )]
    pub listen: String,
    /// Channels file (TOML or JSON): channels, their VOD URLs, order, ad breaks.
    #[arg(long = "channels", env = "LINEUP_ENGINE_CHANNELS")]
    pub channels: Option<PathBuf>,
    /// Ask this URL for each channel's next VOD instead of the channels file's list
    /// (`GET <url>?channel=..&position=..` -> `{id,title,uri}`).
    #[arg(long = "asset-manager-url", env = "LINEUP_ENGINE_ASSET_MANAGER_URL")]
    pub asset_manager_url: Option<String>,
    /// Play the channels of this schedule service (lineup's `schedule` or Eyevinn's
    /// schedule-service) on the clock: programmes start at their scheduled times, ad
    /// breaks and AD events are filled with house ads, LIVE events switch to their source.
    /// Channels of the channels file play as before.
    #[arg(long = "schedule-url", env = "LINEUP_ENGINE_SCHEDULE_URL")]
    pub schedule_url: Option<String>,
    /// The catalog whose house ads (category `ad` or tag `house-ad`) fill the schedule's
    /// ad breaks (default: none, breaks get the slate).
    #[arg(long = "catalog-url", env = "LINEUP_ENGINE_CATALOG_URL")]
    pub catalog_url: Option<String>,
    /// Bearer token for the schedule service and the catalog.
    #[arg(
        long = "schedule-token",
        env = "LINEUP_ENGINE_SCHEDULE_TOKEN",
        hide_env_values = true
    )]
    pub schedule_token: Option<web::Secret>,
    /// Live window length, seconds.
    #[arg(long = "window", env = "LINEUP_ENGINE_WINDOW", default_value_t = 60)]
    pub window_secs: u64,
    /// Sessions expire after this many seconds without a request.
    #[arg(
        long = "session-ttl",
        env = "LINEUP_ENGINE_SESSION_TTL",
        default_value_t = 300
    )]
    pub session_ttl_secs: u64,
    /// Most live sessions (seen within the session TTL) across every replica; creating one
    /// more (`?session=new` or the API) answers 503 with `Retry-After`.
    #[arg(
        long = "max-sessions",
        env = "LINEUP_ENGINE_MAX_SESSIONS",
        default_value_t = 100_000
    )]
    pub max_sessions: usize,
    /// Redis/Valkey URL for shared state (default: in memory).
    #[arg(long = "redis-url", env = "LINEUP_ENGINE_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Key prefix in Redis.
    #[arg(
        long = "redis-prefix",
        env = "LINEUP_ENGINE_REDIS_PREFIX",
        default_value = "lineup:engine:"
    )]
    pub redis_prefix: String,
    /// Bound on one Redis connection attempt, milliseconds.
    #[arg(
        long = "redis-connect-timeout-ms",
        env = "LINEUP_ENGINE_REDIS_CONNECT_TIMEOUT_MS",
        default_value_t = 2000
    )]
    pub redis_connect_timeout_ms: u64,
    /// Bound on one Redis answer, milliseconds (a hung Redis fails calls after it).
    #[arg(
        long = "redis-response-timeout-ms",
        env = "LINEUP_ENGINE_REDIS_RESPONSE_TIMEOUT_MS",
        default_value_t = 1000
    )]
    pub redis_response_timeout_ms: u64,
    /// Slate master playlist URL, played when an item fails and in ad breaks without filler.
    #[arg(long = "slate-url", env = "LINEUP_ENGINE_SLATE_URL")]
    pub slate_url: Option<String>,
    /// Seconds a slate plays when it replaces a failed item.
    #[arg(
        long = "slate-duration",
        env = "LINEUP_ENGINE_SLATE_DURATION",
        default_value_t = 10
    )]
    pub slate_duration_secs: u64,
    /// Timeout for loading one VOD or asking an adapter, milliseconds.
    #[arg(
        long = "load-timeout-ms",
        env = "LINEUP_ENGINE_LOAD_TIMEOUT_MS",
        default_value_t = 5000
    )]
    pub load_timeout_ms: u64,
    /// Bearer token required on the control API (/api/v1).
    #[arg(
        long = "api-token",
        env = "LINEUP_ENGINE_API_TOKEN",
        hide_env_values = true
    )]
    pub api_token: Option<web::Secret>,
    /// Public base URL of the engine (used for absolute `master_url`s in API answers).
    #[arg(long = "public-base-url", env = "LINEUP_ENGINE_PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,
}

impl Default for EngineArgs {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8000".into(),
            channels: None,
            asset_manager_url: None,
            schedule_url: None,
            catalog_url: None,
            schedule_token: None,
            window_secs: 60,
            session_ttl_secs: 300,
            max_sessions: 100_000,
            redis_url: None,
            redis_prefix: "lineup:engine:".into(),
            redis_connect_timeout_ms: 2000,
            redis_response_timeout_ms: 1000,
            slate_url: None,
            slate_duration_secs: 10,
            load_timeout_ms: 5000,
            api_token: None,
            public_base_url: None,
        }
    }
}

impl EngineArgs {
    pub fn options(&self) -> EngineOptions {
        EngineOptions {
            window: Duration::from_secs(self.window_secs.max(1)),
            session_ttl: Duration::from_secs(self.session_ttl_secs.max(1)),
            slate_url: self.slate_url.clone(),
            slate_duration: Duration::from_secs(self.slate_duration_secs.max(1)),
            load_timeout: Duration::from_millis(self.load_timeout_ms.max(1)),
            max_sessions: self.max_sessions,
            ..EngineOptions::default()
        }
    }
}

/// Build an engine from arguments: adapters from the channels file (and optional HTTP asset
/// manager), memory or Redis store, wall clock; channels loaded and checked (start its
/// background scheduling with [`Engine::spawn_background`], as the [`web::ServiceConfig`]
/// shell does). Needs a tokio runtime.
pub async fn build(args: EngineArgs) -> Result<crate::Service> {
    let file = match &args.channels {
        Some(p) => FileAdapter::from_path(p)?,
        None => FileAdapter::new(Default::default())?,
    };
    let file = Arc::new(file);
    let clock = clock::system();
    let assets: Arc<dyn AssetManager> = match &args.asset_manager_url {
        Some(u) => Arc::new(HttpAssetManager::new(
            u,
            Duration::from_millis(args.load_timeout_ms),
        )?),
        None => file.clone(),
    };
    let channels: Arc<dyn ChannelManager> = file;
    let (assets, channels) = match &args.schedule_url {
        Some(u) => {
            let mut cfg = ScheduleAdapterConfig::new(u.clone());
            cfg.catalog_url = args.catalog_url.clone();
            cfg.token = args.schedule_token.as_ref().map(|t| t.expose().to_string());
            cfg.timeout = Duration::from_millis(args.load_timeout_ms.max(1));
            let s = Arc::new(ScheduleAdapter::new(cfg, clock.clone(), assets, channels)?);
            (
                s.clone() as Arc<dyn AssetManager>,
                s as Arc<dyn ChannelManager>,
            )
        }
        None => (assets, channels),
    };
    let store: Arc<dyn Store> = match &args.redis_url {
        Some(u) => Arc::new(
            RedisStore::connect_with(
                u,
                &args.redis_prefix,
                RedisTimeouts {
                    connect: Duration::from_millis(args.redis_connect_timeout_ms.max(1)),
                    response: Duration::from_millis(args.redis_response_timeout_ms.max(1)),
                },
            )
            .await?,
        ),
        None => Arc::new(MemoryStore::new()),
    };
    let engine = Engine::new(args.options(), clock, store, assets, channels);
    engine
        .reload_channels()
        .await
        .map_err(|e| Error::Config(format!("loading channels: {e}")))?;
    // A channel whose slate cannot serve its profile is refused here, by name.
    engine.check_channels().await?;
    Ok(crate::Service::new(
        engine,
        args.api_token.as_ref().map(|t| t.expose().to_string()),
        args.public_base_url.clone(),
    ))
}

/// `lineup engine` in the shell every service shares: the playlists, the control API and
/// the background scheduling. Session `master_url`s are absolute: `--public-base-url`, or
/// the address it listens on.
impl web::ServiceConfig for EngineArgs {
    const NAME: &'static str = "engine";

    fn listen(&self) -> String {
        self.listen.clone()
    }

    fn api_token(&self) -> Option<&str> {
        self.api_token.as_ref().map(web::Secret::expose)
    }

    async fn build(
        mut self,
        local: std::net::SocketAddr,
    ) -> std::result::Result<web::Service, web::BoxError> {
        if self.public_base_url.is_none() {
            self.public_base_url = Some(format!("http://{local}"));
        }
        let service = build(self).await?;
        let background = service.engine.spawn_background();
        Ok(web::Service::new("engine", service.router())
            .task(background)
            .banner("channels: {base}/api/v1/channels  API docs: {base}/api/docs"))
    }
}
