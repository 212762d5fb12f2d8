//! `lineup demo`: every service in one process, on one port, on embedded defaults.
//!
//! The chain is the one a separate deployment runs, over loopback HTTP, with no in-process
//! shortcut:
//!
//! ```text
//! /vod      the bundled VODs (embedded in the binary)
//!   -> /engine    channel "demo": the schedule's programmes on the clock, house-ad breaks,
//!                 slate on failure
//!   -> /pullpush  one fetcher pulling the engine's channel, pushing with Digest auth into
//!   -> /origin    channel "demo": DVR (start-over, time-shift), I-frames, ad markers,
//!                 CMAF, AES-128
//! /stitch   house ads stitched into the bundled VODs (lambda-stitch payloads)
//! /catalog    the three VODs imported as assets, published as MRSS/Atom at /catalog/mrss/,
//!             plus the bundled ad creative as a house ad: /catalog/mrss/stitched/all.xml
//!             points each VOD at /stitch with house-ad breaks
//!   -> /schedule  channel "demo" auto-filled from /catalog/mrss/all.xml (EPG: XMLTV)
//!   -> /ads       SSAI proxy (playback configuration "demo") in front of the DVR
//!                 endpoint, asking /adserver (the test ad server) per viewer and break
//! ```
//! The engine's channel "demo" plays the schedule: each programme at its scheduled time,
//! announced with a programme DATERANGE, AD events filled with the catalog's house ads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use include_dir::{Dir, include_dir};

/// The demo VODs: TS renditions of three test patterns, an ad-marked VOD and a slate.
static FIXTURES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../tests/fixtures");

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to serve everything on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Live window of the engine's channel, seconds.
    #[arg(long, default_value_t = 30)]
    pub window: u64,
    /// An AD event (a 10 s ad break filled with house ads) after every N programmes of the
    /// demo channel's schedule (0: none).
    #[arg(long, default_value_t = 2)]
    pub ad_every: u32,
    /// SQLite file for the pull/push fetchers (default: in memory).
    #[arg(long, default_value = ":memory:")]
    pub pullpush_db: String,
    /// Bearer token for every control API. Without it the control APIs are open, which
    /// the demo allows only on a loopback address (or with --insecure-no-auth).
    #[arg(long, hide_env_values = true)]
    pub api_token: Option<web::Secret>,
    /// Database of the catalog and schedule: SQLite file, `:memory:`, or `postgres://...`.
    #[arg(long, default_value = ":memory:")]
    pub schedule_db: String,
}

/// What `run` started, for tests and for printing.
pub struct Demo {
    pub base: String,
    pub pullpush: pullpush::PullPush,
    pub engine_master: String,
    pub origin: origin::ChannelView,
    pub fetcher: pullpush::FetcherInfo,
    /// A stitched VOD: vod1 with the ad-marked VOD as a mid-roll.
    pub stitched: String,
    /// Catalog + schedule (channel "demo" filled from the catalog's MRSS feed).
    pub schedule: schedule::Service,
    /// The SSAI master of the DVR endpoint: each GET starts a viewer session.
    pub ssai_master: String,
    /// The key pair the AWS-shaped APIs accept (loopback only; see [`crate::demo_aws`]).
    pub aws_key: Option<web::sigv4::KeyPair>,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Start everything on `listener`.
pub async fn start(args: &Args, listener: tokio::net::TcpListener) -> anyhow::Result<Demo> {
    // Before the services count anything (the origin's channel gauge is set at creation).
    web::metrics_handle();
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let token = args.api_token.clone().filter(|t| !t.expose().is_empty());
    let engine = demo_engine(&base, args, token.as_ref())?;
    let aws_key = crate::demo_aws::demo_key(args.listen);
    let (origin, channel) = demo_origin(addr, &base, token.as_ref(), aws_key.as_ref()).await?;
    let pullpush = demo_pullpush(args, token.as_ref()).await?;
    // Catalog and schedule: one service, one database, two routers.
    let schedule = schedule::Service::open(&args.schedule_db).await?;
    let page = crate::page::routes(page_config(&base, &channel, args.window));
    // On the way out (Ctrl-C / SIGTERM) the fetcher drains first, while the origin it
    // pushes to in this same process still accepts; then the listener closes and the
    // requests in flight finish; then the origin writes what it has not persisted.
    let process = web::Process::new()
        .routes(
            Router::new()
                .route("/vod/{*path}", get(fixture))
                .merge(page),
        )
        .mount("/engine", web::Service::new("engine", engine.router()))
        .mount("/pullpush", pullpush.shell())
        .mount("/origin", origin.shell())
        .mount("/keys", demo_keys(&base, token.as_ref()));
    let (process, ssai_master) = mount_the_rest(
        process,
        &base,
        token.as_ref(),
        &schedule,
        &channel,
        aws_key.as_ref(),
    )
    .await?;
    let server = tokio::spawn(process.serve(listener));
    let (engine_master, fetcher) = start_the_chain(
        &engine,
        &schedule,
        &pullpush,
        &channel,
        &base,
        args.ad_every,
    )
    .await?;
    Ok(Demo {
        stitched: stitched_vod(&base),
        base,
        pullpush,
        engine_master,
        origin: channel,
        fetcher,
        schedule,
        ssai_master,
        aws_key,
        server,
    })
}

/// Once serving: the catalog and the schedule read the VODs from /vod, the engine reads
/// the schedule and the fetcher the engine, over HTTP: fill, load and start. The engine's
/// master URL and the fetcher.
async fn start_the_chain(
    engine: &engine::Service,
    schedule: &schedule::Service,
    pullpush: &pullpush::PullPush,
    channel: &origin::ChannelView,
    base: &str,
    ad_every: u32,
) -> anyhow::Result<(String, pullpush::FetcherInfo)> {
    fill_demo_schedule(schedule, base, ad_every).await?;
    engine
        .engine
        .reload_channels()
        .await
        .context("loading the demo channel")?;
    engine.engine.spawn_background();
    let engine_master = format!("{base}/engine/channels/demo/master.m3u8");
    let fetcher = demo_fetcher(pullpush, channel, &engine_master).await?;
    Ok((engine_master, fetcher))
}

/// `/stitch`, the catalog and the schedule on one database (`/catalog` publishes the
/// house-ad stitched feed through `/stitch`), `/adserver` and `/ads`; with the SSAI master.
async fn mount_the_rest(
    process: web::Process,
    base: &str,
    token: Option<&web::Secret>,
    schedule: &schedule::Service,
    channel: &origin::ChannelView,
    aws_key: Option<&web::sigv4::KeyPair>,
) -> anyhow::Result<(web::Process, String)> {
    let token_arc: Option<Arc<str>> = token.map(|t| Arc::from(t.expose()));
    let stitch = stitch::build(&stitch::StitchArgs {
        public_url: Some(format!("{base}/stitch")),
        api_token: token.cloned(),
        ..Default::default()
    });
    // The stitched feed: a house-ad pre-roll, and a mid-roll every 4 s of the 8 s VODs.
    let stitch_feed = schedule::stitched::StitchFeed::new(&format!("{base}/stitch"), 4.0)?;
    let catalog =
        schedule::catalog_api::router_with(schedule.clone(), token_arc.clone(), Some(stitch_feed));
    let schedule = schedule::schedule_api::router(schedule.clone(), token_arc.clone());
    let (ad_server, ssai, ssai_master) = demo_ads(base, token_arc, channel, aws_key).await?;
    let process = process
        .mount("/stitch", web::Service::new("stitch", stitch.router()))
        .mount("/catalog", web::Service::new("catalog", catalog))
        .mount("/schedule", web::Service::new("schedule", schedule))
        .mount(
            "/adserver",
            web::Service::new("adserver", ad_server.router()),
        )
        .mount("/ads", web::Service::new("ads", ssai.router()));
    Ok((process, ssai_master))
}

/// The engine's channel "demo" plays the schedule service's channel "demo" (filled from the
/// catalog's MRSS feed of the embedded VODs, served by ourselves under /vod), with the
/// catalog's house ads in its AD events, all over loopback HTTP.
fn demo_engine(
    base: &str,
    args: &Args,
    token: Option<&web::Secret>,
) -> anyhow::Result<engine::Service> {
    let none = Arc::new(engine::adapters::FileAdapter::new(Default::default())?);
    let mut schedule_cfg = engine::adapters::ScheduleAdapterConfig::new(format!("{base}/schedule"));
    schedule_cfg.catalog_url = Some(format!("{base}/catalog"));
    schedule_cfg.token = token.map(|t| t.expose().to_string());
    let adapter = Arc::new(engine::adapters::ScheduleAdapter::new(
        schedule_cfg,
        clock::system(),
        none.clone(),
        none,
    )?);
    let engine_args = engine::EngineArgs {
        window_secs: args.window,
        slate_url: Some(format!("{base}/vod/ts/slate/master.m3u8")),
        public_base_url: Some(format!("{base}/engine")),
        ..Default::default()
    };
    // The schedule starts now: a channel prefilled with a whole window would open on the
    // slate standing in for the programmes before it. Three segments are enough for a
    // player to start at once; the window fills as the channel runs.
    let engine_opts = engine::EngineOptions {
        channel_prefill: Some(Duration::from_secs(6)),
        ..engine_args.options()
    };
    let engine = engine::Engine::new(
        engine_opts,
        clock::system(),
        Arc::new(engine::MemoryStore::new()),
        adapter.clone(),
        adapter,
    );
    Ok(engine::Service::new(
        engine,
        token.map(|t| t.expose().to_string()),
        engine_args.public_base_url.clone(),
    ))
}

/// The origin with channel "demo": a DVR endpoint (I-frames, DATERANGE ad markers), a CMAF
/// endpoint, an AES-128 endpoint and a DRM endpoint (CMAF `cbcs`, keys rotating every
/// [`DRM_ROTATION_SECONDS`], from the embedded `lineup keys` over SPEKE v2 ([`speke_url`]),
/// ClearKey licence: [`drm_licence`]); breaks marked on each
/// (DATERANGE; CUE-OUT/CUE-IN on the AES-128 one).
async fn demo_origin(
    addr: SocketAddr,
    base: &str,
    token: Option<&web::Secret>,
    aws_key: Option<&web::sigv4::KeyPair>,
) -> anyhow::Result<(origin::Origin, origin::ChannelView)> {
    let mut config = origin::Config {
        listen: addr,
        public_url: Some(format!("{base}/origin")),
        api_token: token.map(|t| t.expose().to_string()),
        ..Default::default()
    };
    config.aws.aws_api_key.extend(aws_key.cloned());
    let origin = origin::build(config).await?;
    let mut dvr = origin::EndpointSpec::new("dvr");
    dvr.i_frames = true;
    dvr.ad_markers = origin::AdMarkers::Daterange;
    let mut aes = origin::EndpointSpec::new("aes");
    aes.encryption = origin::Encryption::Aes128 {
        key_rotation_seconds: 60,
    };
    // Breaks marked on every endpoint, so SSAI can run in front of each kind.
    aes.ad_markers = origin::AdMarkers::Scte35Enhanced;
    let mut cmaf = origin::EndpointSpec::new("cmaf");
    cmaf.packaging = origin::Packaging::Cmaf;
    cmaf.i_frames = true;
    cmaf.ad_markers = origin::AdMarkers::Daterange;
    let mut spec = origin::ChannelSpec::new("demo");
    spec.description = Some("the engine's demo channel, pushed by pullpush".into());
    // DASH over the same fMP4 fragments as the CMAF endpoint (one remux, one cache).
    let mut dash = origin::EndpointSpec::new("dash");
    dash.packaging = origin::Packaging::Dash;
    spec.endpoints = vec![dvr, cmaf, aes, drm_endpoint(base), dash];
    let channel = origin.create_channel(spec).await?;
    Ok((origin, channel))
}

/// `lineup keys` (the test key server: SPEKE v2, ClearKey licences) at `/keys`, keys
/// minted from a fixed seed (the demo's keys are no secret).
fn demo_keys(base: &str, token: Option<&web::Secret>) -> web::Service {
    let keys = keys::KeyServer::new(keys::KeyServerConfig {
        seed: web::Secret::new("lineup demo"),
        public_url: Some(format!("{base}/keys")),
        api_token: token.cloned(),
    });
    web::Service::new("keys", keys.router())
}

/// The pull/push service on its own database.
async fn demo_pullpush(
    args: &Args,
    token: Option<&web::Secret>,
) -> anyhow::Result<pullpush::PullPush> {
    Ok(pullpush::PullPush::open(pullpush::Config {
        db_path: args.pullpush_db.clone(),
        api_token: token.cloned(),
        ..Default::default()
    })
    .await?)
}

/// Key period of the demo's DRM endpoint: short, so a viewer sees keys rotate.
pub const DRM_ROTATION_SECONDS: u64 = 30;

/// ClearKey's DRM system id, the one `lineup keys` signals for EME players.
pub const CLEARKEY_SYSTEM_ID: &str = "e2719d58-a985-b3c9-781a-b030af78d30e";

/// The demo's DRM endpoint: CMAF `cbcs` (MediaPackage's `SAMPLE_AES` on CMAF), I-frames,
/// keys from the embedded `lineup keys` over SPEKE v2 (one key for video and audio).
fn drm_endpoint(base: &str) -> origin::EndpointSpec {
    let mut drm = origin::EndpointSpec::new("drm");
    drm.packaging = origin::Packaging::Cmaf;
    drm.i_frames = true;
    drm.encryption = origin::Encryption::SampleAes(origin::DrmSettings {
        key_rotation_interval_seconds: DRM_ROTATION_SECONDS,
        speke_key_provider: Some(origin::SpekeKeyProvider {
            url: speke_url(base),
            resource_id: "demo-drm".into(),
            system_ids: vec![CLEARKEY_SYSTEM_ID.into()],
            ..Default::default()
        }),
        ..Default::default()
    });
    drm.ad_markers = origin::AdMarkers::Daterange;
    drm
}

/// The SPEKE v2 URL of the embedded `lineup keys`.
pub fn speke_url(base: &str) -> String {
    format!("{base}/keys{}", keys::SPEKE_PATH)
}

/// The W3C ClearKey licence URL of the embedded `lineup keys` (for every endpoint whose
/// keys come from it).
pub fn drm_licence(base: &str) -> String {
    format!("{base}/keys{}", keys::LICENCE_PATH)
}

/// The test ad server over the bundled creatives, and the SSAI proxy in front of the
/// origin's DVR endpoint (playback configuration "demo"); with the SSAI master URL.
async fn demo_ads(
    base: &str,
    token: Option<Arc<str>>,
    channel: &origin::ChannelView,
    aws_key: Option<&web::sigv4::KeyPair>,
) -> anyhow::Result<(ads::AdServer, ads::Proxy, String)> {
    let ad_server = ads::AdServer::new(ads::AdServerConfig {
        public_url: Some(format!("{base}/adserver")),
        catalog: ads::adserver::catalog::default_catalog(&format!("{base}/vod")),
        seed: 1,
        max_sessions: 10_000,
    });
    // MP4 creatives are conditioned to the channel's renditions (the cache folder is kept
    // across runs in the system's temporary folder).
    let conditioner = ads::condition::Conditioner::new(
        ads::condition::ConditionConfig::new(
            std::env::temp_dir().join("lineup-demo-conditioned"),
            format!("{base}/ads/v1/conditioned"),
        ),
        reqwest::Client::new(),
    )?;
    let ssai = ads::Proxy::new(ads::ProxyConfig {
        api_token: token,
        public_url: Some(format!("{base}/ads")),
        aws_keys: web::sigv4::AccessKeys::new(aws_key.cloned()).map_err(anyhow::Error::msg)?,
        conditioner: Some(conditioner),
        ..Default::default()
    });
    let dvr_url = channel
        .endpoints
        .iter()
        .find(|e| e.spec.id == "dvr")
        .map(|e| e.url.clone())
        .unwrap_or_default();
    let (dvr_prefix, dvr_file) = dvr_url
        .split_once("/origin/out/")
        .map(|(_, rest)| (format!("{base}/origin/out"), rest.to_string()))
        .unwrap_or_default();
    ssai.put_config(
        "demo",
        serde_json::from_value(serde_json::json!({
            "VideoContentSourceUrl": dvr_prefix,
            "AdDecisionServerUrl": format!("{base}/adserver/api/v1/vast?dur=[session.avail_duration_secs]&uid=[session.id]"),
            "SlateAdUrl": format!("{base}/vod/ts/slate/master.m3u8"),
        }))?,
    )
    .await?;
    Ok((
        ad_server,
        ssai,
        format!("{base}/ads/v1/master/demo/{dvr_file}"),
    ))
}

/// Pull/push: one fetcher, engine -> origin ingest (both ingest URLs, Digest auth); the
/// one a persistent database already holds, if any.
async fn demo_fetcher(
    pullpush: &pullpush::PullPush,
    channel: &origin::ChannelView,
    engine_master: &str,
) -> anyhow::Result<pullpush::FetcherInfo> {
    if let Some(f) = pullpush.list().into_iter().find(|f| f.name == "demo") {
        return Ok(f);
    }
    let ingest_urls: Vec<_> = channel
        .ingest
        .iter()
        .map(|i| {
            // MediaPackage-style: the ingest URL names the file stem (`.../channel`);
            // pullpush PUTs `channel.m3u8`, `channel_<n>.m3u8`, `channel_<n>_<seq>.ts`.
            let url = if i.url.ends_with("/channel") {
                i.url.clone()
            } else {
                format!("{}/channel", i.url.trim_end_matches('/'))
            };
            serde_json::json!({
                "url": url,
                "username": i.username,
                "password": i.password,
            })
        })
        .collect();
    Ok(pullpush
        .start_fetcher(pullpush::NewFetcher {
            name: "demo".into(),
            url: engine_master.to_string(),
            output: "mediapackage".into(),
            payload: serde_json::json!({ "ingestUrls": ingest_urls }),
            concurrency: None,
            window_size: None,
        })
        .await?)
}

/// A stitched VOD: vod1 with the ad-marked VOD as a 10 s mid-roll at 4 s.
fn stitched_vod(base: &str) -> String {
    let payload = stitch::Payload {
        uri: format!("{base}/vod/ts/vod1/master.m3u8"),
        breaks: vec![stitch::Break {
            pos: 4000.0,
            duration: Some(10_000.0),
            url: Some(format!("{base}/vod/ads/vod1/master.m3u8")),
            asset_list_url: None,
        }],
    };
    format!("{base}/stitch/master.m3u8?payload={}", payload.encode())
}

/// Imports the bundled VODs into the catalog and fills channel "demo" from its MRSS feed.
async fn fill_demo_schedule(
    schedule: &schedule::Service,
    base: &str,
    ad_every: u32,
) -> anyhow::Result<()> {
    // The bundled ad creative (the ad server's `lineup-ad-10s`) as a house ad: category
    // "ad" keeps it out of the programme feeds; it fills the engine's AD events and the
    // stitched feed's breaks.
    schedule
        .import(schedule::NewAsset {
            url: format!("{base}/vod/ads/vod1/master.m3u8"),
            id: Some("house-ad-10s".into()),
            title: Some("lineup house ad".into()),
            category: Some(schedule::HOUSE_AD_CATEGORY.into()),
            ..Default::default()
        })
        .await
        .context("importing the house ad into the catalog")?;
    for (n, category) in [("vod1", "news"), ("vod2", "film"), ("vod3", "news")] {
        schedule
            .import(schedule::NewAsset {
                url: format!("{base}/vod/ts/{n}/master.m3u8"),
                title: Some(format!("Test pattern {n}")),
                category: Some(category.into()),
                ..Default::default()
            })
            .await
            .with_context(|| format!("importing {n} into the catalog"))?;
    }
    if schedule.channel("demo").await.is_err() {
        schedule
            .put_channel(schedule::Channel {
                id: "demo".into(),
                tenant: String::new(),
                title: "lineup demo channel".into(),
                auto: None,
            })
            .await?;
    }
    schedule
        .set_auto_mrss(schedule::AutoMrss {
            url: format!("{base}/catalog/mrss/all.xml"),
            channel_id: "demo".into(),
            config: schedule::FillConfig {
                // An AD event after every `ad_every` programmes (the bundled VODs are 8 s
                // long), 10 s: long enough for the test ad server's 8-10 s creatives
                // (SSAI at /ads). The engine fills it with the catalog's house ads.
                ad_events: (ad_every > 0).then_some(schedule::AdEventPolicy {
                    every: ad_every,
                    duration: 10.0,
                }),
                // Keep a day of history.
                schedule_retention: Some(24.0),
                ..Default::default()
            },
            id: None,
            tenant: None,
        })
        .await
        .context("filling the demo schedule from the catalog's MRSS feed")?;
    schedule.spawn_background(Duration::from_secs(10), Duration::from_secs(300));
    Ok(())
}

/// `lineup demo`: the token rule and the listener of every service, then [`start`], the
/// banner, and serving until Ctrl-C / SIGTERM.
pub async fn run(args: Args, insecure_no_auth: bool) -> anyhow::Result<std::process::ExitCode> {
    let token = args.api_token.as_ref().map(|t| t.expose());
    let listener = web::bind("demo", &args.listen.to_string(), token, insecure_no_auth).await?;
    // A stop signal while starting stops here (the services call each other over this
    // listener, which the signal closes: finishing the start would only fail).
    let demo = tokio::select! {
        demo = start(&args, listener) => demo?,
        _ = web::shutdown_signal() => {
            tracing::info!("stopped while starting");
            return Ok(std::process::ExitCode::SUCCESS);
        }
    };
    print_banner(&args, &demo);
    demo.server.await??;
    tracing::info!("lineup demo stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

/// The URLs to play, check and explore, as a user types them.
fn print_banner(args: &Args, demo: &Demo) {
    let b = &demo.base;
    let endpoint = |id: &str| {
        demo.origin
            .endpoints
            .iter()
            .find(|e| e.spec.id == id)
            .map(|e| e.url.clone())
            .unwrap_or_default()
    };
    let dvr = endpoint("dvr");
    let cmaf = endpoint("cmaf");
    let dash = endpoint("dash");
    let aes = endpoint("aes");
    let drm = endpoint("drm");
    let licence = drm_licence(b);
    let speke = speke_url(b);
    let started = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    println!(
        "lineup demo is running on {b}

  web page (player, DVR, fetchers, API docs):
    {b}/

  engine channel (live, from the bundled VODs):
    {engine}
  origin DVR endpoint (pushed there by pullpush with Digest auth; give it a few seconds):
    {dvr}
  start-over from the moment the demo started (the DVR window grows as it runs):
    {dvr}?start={started}
  I-frame playlists are listed in the DVR master (EXT-X-I-FRAME-STREAM-INF)
  CMAF (fMP4 remuxed from the TS the origin ingests):
    {cmaf}
  MPEG-DASH (dynamic MPD over the same fMP4 fragments; Periods at VOD changes and ads):
    {dash}
  AES-128 endpoint (key URI carries its token):
    {aes}
  DRM endpoint (CMAF cbcs, ClearKey, keys rotate every {DRM_ROTATION_SECONDS} s; the page's DRM tab plays it):
    {drm}
  its keys: from the embedded test key server (lineup keys) over SPEKE v2:
    {speke}
  ClearKey licence (W3C EME; hls.js drmSystems / Shaka drm.servers 'org.w3.clearkey'):
    {licence}
  server-side ad insertion (each GET is a new viewer with its own ads; breaks every VOD):
    {ssai}
  test ad server (VAST): {b}/adserver/api/v1/vast?dur=30

  house-ad stitched VOD (vod1, the ad-marked VOD as a mid-roll at 4 s; &i=1 for
  HLS Interstitials instead of splicing):
    {stitched}

  play:      ffplay {dvr}
             vlc {dvr}      (Safari: open the URL directly)
  check:     lineup validate --follow 30 {dvr}
  schedule (auto-filled from the catalog's MRSS feed, Eyevinn schedule-service JSON):
    {b}/schedule/api/v1/channels/demo/schedule
  catalog:   {b}/catalog/api/v1/assets
  MRSS feed: {b}/catalog/mrss/all.xml   (Atom: {b}/catalog/mrss/all.atom)
  stitched MRSS feed (each VOD with house-ad pre-roll and mid-rolls, via /stitch):
             {b}/catalog/mrss/stitched/all.xml
  XMLTV EPG: {b}/schedule/api/v1/channels/demo/xmltv   (all channels: {b}/schedule/api/v1/xmltv)

  APIs:      {b}/engine/api/docs  {b}/pullpush/api/docs  {b}/origin/api/docs
             {b}/stitch/api/docs  {b}/catalog/api/docs  {b}/schedule/api/docs
             {b}/ads/api/docs  {b}/adserver/api/docs
  fetchers:  {b}/pullpush/api/v1/fetchers
  health:    {b}/healthz   metrics: {b}/metrics
  control:   {control}

{aws}

Ctrl-C stops.",
        engine = demo.engine_master,
        control = if args
            .api_token
            .as_ref()
            .is_some_and(|t| !t.expose().is_empty())
        {
            "the control APIs need Authorization: Bearer <--api-token>".to_string()
        } else {
            format!(
                "the control APIs are OPEN (no --api-token): fine on loopback ({}), \
                 never expose this port",
                args.listen
            )
        },
        stitched = demo.stitched,
        ssai = demo.ssai_master,
        aws = crate::demo_aws::banner(b, demo.aws_key.as_ref()),
    );
}

/// What the web page at `/` shows: the engine's channel and the origin's endpoints, the
/// fetchers, the on-air item and the API docs (URLs relative to the page).
fn page_config(
    base: &str,
    channel: &origin::ChannelView,
    window_secs: u64,
) -> crate::page::PageConfig {
    use crate::page::{DocLink, PageConfig, Source};
    let relative = |url: &str| {
        url.strip_prefix(base)
            .map(|p| p.trim_start_matches('/').to_string())
            .unwrap_or_else(|| url.to_string())
    };
    let mut sources = vec![Source {
        id: "engine".into(),
        label: "Channel".into(),
        url: "engine/channels/demo/master.m3u8".into(),
        note: format!("the engine's live channel (VOD2Live), {window_secs} s window"),
    }];
    let notes = [
        (
            "dvr",
            "DVR",
            "origin: start-over window, I-frames, SCTE-35 DATERANGE",
        ),
        ("cmaf", "CMAF", "origin: fMP4 remuxed from the ingested TS"),
        ("aes", "AES-128", "origin: encrypted, rotating keys"),
        (
            "dash",
            "DASH",
            "origin: MPEG-DASH MPD over the CMAF fragments (Shaka Player)",
        ),
        (
            "drm",
            "DRM",
            "origin: CMAF cbcs, ClearKey licence, rotating keys (EME)",
        ),
    ];
    for (id, label, note) in notes {
        if let Some(e) = channel.endpoints.iter().find(|e| e.spec.id == id) {
            sources.push(Source {
                id: id.into(),
                label: label.into(),
                url: relative(&e.url),
                note: note.into(),
            });
        }
    }
    // Each load of the page is a new viewer with its own ads (an implicit SSAI session).
    if let Some(e) = channel.endpoints.iter().find(|e| e.spec.id == "dvr")
        && let Some(path) = e.url.strip_prefix(&format!("{base}/origin/out/"))
    {
        sources.push(Source {
            id: "ssai".into(),
            label: "SSAI".into(),
            url: format!("ads/v1/master/demo/{path}"),
            note: "the DVR endpoint with per-viewer ads (server-side ad insertion)".into(),
        });
    }
    let doc = |name: &str, url: &str| DocLink {
        name: name.into(),
        url: url.into(),
    };
    PageConfig {
        title: "Demo channel".into(),
        sources,
        default_source: "engine".into(),
        fetchers: Some("pullpush/api/v1/fetchers".into()),
        now_playing: Some("engine/api/v1/channels/demo".into()),
        // The EPG strip: channel "demo"'s schedule (the page adds `start`/`end`).
        schedule: Some("schedule/api/v1/channels/demo/schedule".into()),
        licences: vec![("drm".into(), relative(&drm_licence(base)))],
        docs: vec![
            doc("Engine API", "engine/api/docs"),
            doc("Pull/push API", "pullpush/api/docs"),
            doc("Origin API", "origin/api/docs"),
            doc("Stitch API", "stitch/api/docs"),
            doc("SSAI API", "ads/api/docs"),
            doc("Ad server API", "adserver/api/docs"),
            doc("Catalog API", "catalog/api/docs"),
            doc("Schedule API", "schedule/api/docs"),
            doc("Schedule (JSON)", "schedule/api/v1/channels/demo/schedule"),
            doc("MRSS feed", "catalog/mrss/all.xml"),
            doc("Stitched MRSS feed", "catalog/mrss/stitched/all.xml"),
            doc("XMLTV (EPG)", "schedule/api/v1/channels/demo/xmltv"),
        ],
    }
}

/// The embedded fixtures, read-only, with HLS content types and long caching for media.
async fn fixture(Path(path): Path<String>) -> Response {
    if path.split('/').any(|p| p == ".." || p.is_empty()) {
        return web::ApiError::bad_field("path", "no empty or '..' path segments").into_response();
    }
    match FIXTURES.get_file(&path) {
        Some(f) => {
            let ct = web::cache::content_type_for(&path);
            let cache = if ct == web::cache::M3U8 {
                web::cache::CLOSED_PLAYLIST
            } else {
                web::cache::IMMUTABLE
            };
            (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(ct)),
                    (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
                ],
                f.contents(),
            )
                .into_response()
        }
        None => web::ApiError::new(StatusCode::NOT_FOUND, format!("no bundled file {path}"))
            .with_field("path")
            .into_response(),
    }
}

/// How long to wait for the demo chain to come alive in tests.
pub const WARM_UP: Duration = Duration::from_secs(60);
