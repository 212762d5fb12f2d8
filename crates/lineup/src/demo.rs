//! `lineup demo`: every service in one process, on one port, on embedded defaults.
//!
//! The chain is the one a separate deployment runs, over loopback HTTP, with no in-process
//! shortcut:
//!
//! ```text
//! /vod      the bundled VODs (embedded in the binary)
//!   -> /engine    channel "demo": the VODs in rotation, slate on failure, ad breaks
//!   -> /pullpush  one fetcher pulling the engine's channel, pushing with Digest auth into
//!   -> /origin    channel "demo": DVR (start-over, time-shift), I-frames, ad markers,
//!                 CMAF, AES-128
//!   -> /ads       SSAI proxy (playback configuration "demo") in front of the DVR
//!                 endpoint, asking /adserver (the test ad server) per viewer and break
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::{
    Router,
    extract::Path,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use include_dir::{Dir, include_dir};

/// The demo VODs: TS renditions of three test patterns, an ad-marked VOD and a slate.
static FIXTURES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../tests/fixtures");

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to serve everything on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "LINEUP_LISTEN")]
    pub listen: SocketAddr,
    /// Live window of the engine's channel, seconds.
    #[arg(long, default_value_t = 30)]
    pub window: u64,
    /// Insert an ad break after every N VODs (0: none).
    #[arg(long, default_value_t = 2)]
    pub ad_every: u32,
    /// SQLite file for the pull/push fetchers (default: in memory).
    #[arg(long, default_value = ":memory:")]
    pub pullpush_db: String,
}

/// What `run` started, for tests and for printing.
pub struct Demo {
    pub base: String,
    pub pullpush: pullpush::PullPush,
    pub engine_master: String,
    pub origin: origin::ChannelView,
    pub fetcher: pullpush::FetcherInfo,
    /// The SSAI master of the DVR endpoint: each GET starts a viewer session.
    pub ssai_master: String,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Start everything on `listener`.
pub async fn start(args: &Args, listener: tokio::net::TcpListener) -> anyhow::Result<Demo> {
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");

    // Engine: channel "demo" from the embedded VODs, served by ourselves under /vod.
    let vod = |name: &str| format!("{base}/vod/ts/{name}/master.m3u8");
    let slate = vod("slate");
    let file = engine::adapters::ChannelsFile {
        channels: vec![engine::adapters::FileChannel {
            config: engine::adapters::ChannelConfig {
                id: "demo".into(),
                title: Some("lineup demo channel".into()),
                profile: None,
                slate: Some(slate.clone()),
            },
            vods: ["vod1", "vod2", "vod3"]
                .iter()
                .map(|v| engine::adapters::FileVod::Url(vod(v)))
                .collect(),
            order: engine::adapters::Order::RoundRobin,
            seed: 0,
            ad_every: (args.ad_every > 0).then_some(args.ad_every),
            // 10 s: long enough for the test ad server's 8-10 s creatives (SSAI at /ads).
            ad_duration_secs: 10.0,
            ad_filler: None,
        }],
    };
    let adapter = Arc::new(engine::adapters::FileAdapter::new(file)?);
    let engine_args = engine::EngineArgs {
        window_secs: args.window,
        slate_url: Some(slate),
        public_base_url: Some(format!("{base}/engine")),
        ..Default::default()
    };
    let engine = engine::Engine::new(
        engine_args.options(),
        Arc::new(engine::SystemClock),
        Arc::new(engine::MemoryStore::new()),
        adapter.clone(),
        adapter,
    );
    let engine_service =
        engine::Service::new(engine.clone(), None, engine_args.public_base_url.clone());

    // Origin: channel "demo" with a DVR endpoint (I-frames, DATERANGE ad markers) and an
    // AES-128 endpoint.
    let origin = origin::build(origin::Config {
        listen: addr,
        public_url: Some(format!("{base}/origin")),
        ..Default::default()
    })
    .await?;
    let mut dvr = origin::EndpointSpec::new("dvr");
    dvr.i_frames = true;
    dvr.ad_markers = origin::AdMarkers::Daterange;
    let mut aes = origin::EndpointSpec::new("aes");
    aes.encryption = origin::Encryption::Aes128 {
        key_rotation_seconds: 60,
    };
    let mut cmaf = origin::EndpointSpec::new("cmaf");
    cmaf.packaging = origin::Packaging::Cmaf;
    cmaf.i_frames = true;
    let mut spec = origin::ChannelSpec::new("demo");
    spec.description = Some("the engine's demo channel, pushed by pullpush".into());
    spec.endpoints = vec![dvr, cmaf, aes];
    let channel = origin.create_channel(spec).await?;

    // Pull/push: one fetcher, engine -> origin ingest (both ingest URLs, Digest auth).
    let pullpush = pullpush::PullPush::open(pullpush::Config {
        db_path: args.pullpush_db.clone(),
        ..Default::default()
    })
    .await?;

    // Ads: the test ad server over the bundled creatives, and the SSAI proxy in front of
    // the origin's DVR endpoint (playback configuration "demo").
    let ad_server = ads::AdServer::new(ads::AdServerConfig {
        public_url: Some(format!("{base}/adserver")),
        catalog: ads::adserver::catalog::default_catalog(&format!("{base}/vod")),
        seed: 1,
        max_sessions: 10_000,
    });
    let ssai = ads::Proxy::new(ads::ProxyConfig::default());
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
    )?;
    let ssai_master = format!("{base}/ads/v1/master/demo/{dvr_file}");

    let router = Router::new()
        .route("/", get(index))
        .route("/vod/{*path}", get(fixture))
        .nest("/engine", engine_service.router())
        .nest("/pullpush", pullpush.router())
        .nest("/origin", origin.router())
        .nest("/adserver", ad_server.router())
        .nest("/ads", ssai.router())
        .merge(web::common_routes())
        .layer(web::cors());
    let server = tokio::spawn(web::serve(listener, router));

    // The engine reads its VODs from /vod over HTTP: load channels once we serve.
    engine
        .reload_channels()
        .await
        .context("loading the demo channel")?;
    engine.spawn_background();

    let engine_master = format!("{base}/engine/channels/demo/master.m3u8");
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
    let existing = pullpush.list().into_iter().find(|f| f.name == "demo");
    let fetcher = match existing {
        Some(f) => f,
        None => {
            pullpush
                .start_fetcher(pullpush::NewFetcher {
                    name: "demo".into(),
                    url: engine_master.clone(),
                    output: "mediapackage".into(),
                    payload: serde_json::json!({ "ingestUrls": ingest_urls }),
                    concurrency: None,
                    window_size: None,
                })
                .await?
        }
    };
    Ok(Demo {
        base,
        pullpush,
        engine_master,
        origin: channel,
        fetcher,
        ssai_master,
        server,
    })
}

pub async fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (try --listen 127.0.0.1:0)",
                args.listen
            )
        })?;
    let demo = start(&args, listener).await?;
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
    let aes = endpoint("aes");
    let started = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    println!(
        "lineup demo is running on {b}

  engine channel (live, from the bundled VODs):
    {engine}
  origin DVR endpoint (pushed there by pullpush with Digest auth; give it a few seconds):
    {dvr}
  start-over from the moment the demo started (the DVR window grows as it runs):
    {dvr}?start={started}
  I-frame playlists are listed in the DVR master (EXT-X-I-FRAME-STREAM-INF)
  CMAF (fMP4 remuxed from the TS the origin ingests):
    {cmaf}
  AES-128 endpoint (key URI carries its token):
    {aes}
  server-side ad insertion (each GET is a new viewer with its own ads; breaks every VOD):
    {ssai}
  test ad server (VAST): {b}/adserver/api/v1/vast?dur=30

  play:      ffplay {dvr}
             vlc {dvr}      (Safari: open the URL directly)
  check:     cargo run --release -- validate --follow 30 {dvr}
  APIs:      {b}/engine/api/docs  {b}/pullpush/api/docs  {b}/origin/api/docs
             {b}/ads/api/docs  {b}/adserver/api/docs
  fetchers:  {b}/pullpush/api/v1/fetchers
  health:    {b}/healthz   metrics: {b}/metrics

Ctrl-C stops.",
        engine = demo.engine_master,
        ssai = demo.ssai_master,
    );
    demo.server.await??;
    demo.pullpush.close().await?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn index() -> Html<&'static str> {
    Html(
        "<!doctype html><meta charset=utf-8><title>lineup demo</title>\
         <h1>lineup demo</h1><ul>\
         <li><a href=\"engine/channels/demo/master.m3u8\">engine channel</a></li>\
         <li><a href=\"origin/api/v1/channels\">origin channels (playback URLs)</a></li>\
         <li><a href=\"pullpush/api/v1/fetchers\">pull/push fetchers</a></li>\
         <li><a href=\"engine/api/docs\">engine API</a> · <a href=\"pullpush/api/docs\">pullpush API</a> · \
         <a href=\"origin/api/docs\">origin API</a></li></ul>",
    )
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
