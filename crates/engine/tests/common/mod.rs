//! Test helpers: a static fixture server, engines over file adapters, a scaled clock.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub mod follow;

use clock::Clock;
use engine::{
    ChannelsFile, Engine, EngineOptions, FileAdapter, FileChannel, MemoryStore, Service, Store,
};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// Serve `router` on 127.0.0.1:0; returns its base URL (with a trailing slash).
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}/")
}

/// The fixtures over HTTP.
pub async fn fixture_server() -> String {
    serve(axum::Router::new().fallback_service(tower_http::services::ServeDir::new(fixtures())))
        .await
}

#[allow(unused_imports)]
pub use clock::ScaledClock;

pub fn channels(json: serde_json::Value) -> FileAdapter {
    let file: ChannelsFile = serde_json::from_value(json).unwrap();
    FileAdapter::new(file).unwrap()
}

pub async fn engine_with(
    adapter: FileAdapter,
    opts: EngineOptions,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
) -> Engine {
    let adapter = Arc::new(adapter);
    let e = Engine::new(opts, clock, store, adapter.clone(), adapter);
    e.reload_channels().await.unwrap();
    e
}

/// An engine service over `adapter`, served on 127.0.0.1; returns (engine, base URL).
pub async fn serve_engine(
    adapter: FileAdapter,
    opts: EngineOptions,
    clock: Arc<dyn Clock>,
) -> (Engine, String) {
    let e = engine_with(adapter, opts, clock, Arc::new(MemoryStore::new())).await;
    let svc = Service::new(e.clone(), None, None);
    let base = serve(svc.router()).await;
    (e, base)
}

/// A live ffmpeg HLS source (two renditions, 2 s segments, 6 listed) and the URL of the
/// folder its playlists are in (ends with `/`).
pub async fn live_source() -> (testkit::FfmpegLive, String) {
    let live = testkit::FfmpegLive::start(testkit::LiveOptions {
        two_renditions: true,
        segment_secs: 2,
        list_size: 6,
        ..Default::default()
    })
    .await
    .expect("ffmpeg live");
    let live_base = live
        .playlist_url()
        .trim_end_matches("master.m3u8")
        .to_string();
    (live, live_base)
}

/// Options for channels with a live entry: a 20 s window, the slate, a 3 s load timeout and
/// no prefill (the live entry is rendered as it comes).
pub fn live_options(fx: &str) -> EngineOptions {
    EngineOptions {
        window: Duration::from_secs(20),
        slate_url: Some(format!("{fx}ts/slate/master.m3u8")),
        load_timeout: Duration::from_secs(3),
        channel_prefill: Some(Duration::ZERO),
        ..EngineOptions::default()
    }
}

/// `POST {base}api/v1/sessions` for `channel`; the created session (`id`, `master_url`).
pub async fn create_session(base: &str, channel: &str) -> serde_json::Value {
    reqwest::Client::new()
        .post(format!("{base}api/v1/sessions"))
        .json(&serde_json::json!({"channel": channel}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub fn _unused(_: FileChannel) {}

/// Position 0: vod1 (8 s); 1: live from `start` for `len_ms`; then vod2, vod3, ...
pub struct LiveSchedule {
    pub fx: String,
    pub live_url: String,
    pub start: i64,
    pub len_ms: i64,
}

impl engine::AssetManager for LiveSchedule {
    fn next_item(
        &self,
        req: engine::NextItemRequest,
    ) -> futures::future::BoxFuture<'_, engine::Result<engine::timeline::Item>> {
        let vod = |n: u64| engine::timeline::Item::Vod {
            id: format!("vod{n}"),
            title: None,
            url: format!("{}ts/vod{n}/master.m3u8", self.fx),
        };
        let item = match req.position {
            0 => vod(1),
            1 => engine::timeline::Item::Live {
                url: self.live_url.clone(),
                start_ms: self.start,
                end_ms: self.start + self.len_ms,
                programme: None,
            },
            p => vod(2 + (p - 2) % 2),
        };
        Box::pin(async move { Ok(item) })
    }
}
