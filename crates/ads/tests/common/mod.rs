//! Shared rig: the fixtures over HTTP, the seeded test ad server, an engine channel with
//! ad breaks as the live origin, and the SSAI proxy in front of it.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use ads::{AdServer, AdServerConfig, Proxy, ProxyConfig};
use serde_json::{Value, json};

pub const SEED: u64 = 7;

/// Serve `router` on 127.0.0.1:0; its base URL (no trailing slash).
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// The ad server on its own port, seeded, with the default catalog over `fx_base`.
pub async fn ad_server(fx_base: &str) -> (AdServer, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let s = AdServer::new(AdServerConfig {
        public_url: Some(base.clone()),
        catalog: ads::adserver::catalog::default_catalog(fx_base),
        seed: SEED,
        max_sessions: 1000,
    });
    let router = s.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (s, base)
}

pub use clock::ScaledClock;

/// An engine channel "live": vod1, vod2, vod3 in rotation, a `break_secs` ad break (slate,
/// CUE-OUT/CUE-IN + SCTE-35 DATERANGE) after every VOD. Returns the engine's base URL
/// (`<base>/channels/live/master.m3u8` plays it).
pub async fn engine_channel(fx_base: &str, break_secs: f64, speed: f64) -> String {
    let vods = ["ts/vod1", "ts/vod2", "ts/vod3"].map(|v| format!("{fx_base}/{v}/master.m3u8"));
    engine_channel_of(
        &vods,
        &format!("{fx_base}/ts/slate/master.m3u8"),
        break_secs,
        speed,
    )
    .await
}

/// [`engine_channel`] of other VODs and slate (demuxed audio, subtitles).
pub async fn engine_channel_of(
    vods: &[String],
    slate: &str,
    break_secs: f64,
    speed: f64,
) -> String {
    let file: engine::ChannelsFile = serde_json::from_value(json!({"channels": [{
        "id": "live",
        "vods": vods,
        "ad_every": 1,
        "ad_duration_secs": break_secs
    }]}))
    .unwrap();
    let adapter = Arc::new(engine::FileAdapter::new(file).unwrap());
    let opts = engine::EngineOptions {
        window: Duration::from_secs(30),
        slate_url: Some(slate.to_string()),
        slate_duration: Duration::from_secs(6),
        load_timeout: Duration::from_secs(3),
        ..engine::EngineOptions::default()
    };
    let e = engine::Engine::new(
        opts,
        Arc::new(ScaledClock::new(speed)),
        Arc::new(engine::MemoryStore::new()),
        adapter.clone(),
        adapter,
    );
    e.reload_channels().await.unwrap();
    e.spawn_background();
    serve(engine::Service::new(e, None, None).router()).await
}

/// The proxy on its own port.
pub async fn proxy(cfg: ProxyConfig) -> (Proxy, String) {
    let p = Proxy::new(cfg);
    let base = serve(p.router()).await;
    (p, base)
}

/// `PUT /api/v1/playbackConfigurations/{name}`; panics unless 200.
pub async fn put_config(proxy: &str, name: &str, body: Value) {
    let r = reqwest::Client::new()
        .put(format!("{proxy}/api/v1/playbackConfigurations/{name}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
}

/// An explicit session: (master URL, tracking URL, session id).
pub async fn explicit_session(
    proxy: &str,
    config: &str,
    path: &str,
    params: Value,
) -> (String, String, String) {
    let session_url = format!("{proxy}/v1/session/{config}/{path}");
    let r: Value = reqwest::Client::new()
        .post(&session_url)
        .json(&json!({"adsParams": params, "reportingMode": "SERVER"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let manifest = r["manifestUrl"].as_str().unwrap().to_string();
    let tracking = r["trackingUrl"].as_str().unwrap().to_string();
    let id = manifest
        .rsplit_once("aws.sessionId=")
        .unwrap()
        .1
        .to_string();
    // As players do (Shaka's MediaTailor client): resolved against the session URL.
    (
        resolve(&session_url, &manifest),
        resolve(&session_url, &tracking),
        id,
    )
}

/// `reference` resolved against `base` (RFC 3986), as a player resolves a URL it is given.
pub fn resolve(base: &str, reference: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(reference))
        .map(|u| u.to_string())
        .unwrap_or_else(|e| panic!("{reference} against {base}: {e}"))
}

/// Follow a master URL (absolute) with the RFC 8216 oracle.
pub fn follow(master_url: &str) -> testkit::PlaylistFollower {
    let (origin, path) = split_origin(master_url);
    let http = reqwest::Client::new();
    testkit::PlaylistFollower::start(&path, move |p: String| {
        let http = http.clone();
        let url = if p.starts_with("http") {
            p
        } else {
            format!("{origin}/{p}")
        };
        async move {
            let r = http.get(&url).send().await.ok()?;
            if !r.status().is_success() {
                return None;
            }
            r.bytes().await.ok()
        }
    })
}

fn split_origin(url: &str) -> (String, String) {
    let after = url.find("://").map(|i| i + 3).unwrap_or(0);
    let slash = url[after..]
        .find('/')
        .map(|i| i + after)
        .unwrap_or(url.len());
    (url[..slash].to_string(), url[slash + 1..].to_string())
}

pub async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

pub async fn get_text(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}
