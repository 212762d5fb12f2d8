//! The channels' live playlists pass the RFC 8216 oracle (`hls::validate`, what
//! `lineup validate --follow --check-segments` runs) across VOD transitions, slate insertion
//! and ad breaks: fixtures over HTTP on 127.0.0.1, the engine over HTTP, a 3x clock, every
//! rendition reloaded at half its target duration.

mod common;

use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use common::follow::follow_master;
use common::*;
use engine::EngineOptions;
use serde_json::json;

const SPEED: f64 = 3.0;

fn opts(fx: &str, slate: Option<String>) -> EngineOptions {
    EngineOptions {
        window: Duration::from_secs(20),
        slate_url: slate.or_else(|| Some(format!("{fx}ts/slate/master.m3u8"))),
        slate_duration: Duration::from_secs(6),
        load_timeout: Duration::from_secs(3),
        // Start close to the epoch so the follow crosses every transition itself.
        channel_prefill: Some(Duration::from_secs(4)),
        ..EngineOptions::default()
    }
}

/// ts/vod1..3 + a 404 asset (slate) + an ad break: zero validator errors, and the windows
/// crossed at least three VOD transitions, the slate and the ad break (CUE-OUT and CUE-IN).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ts_channel_with_slate_and_ad_break_validates() {
    let fx = fixture_server().await;
    let adapter = channels(json!({"channels": [{
        "id": "ts",
        "vods": [format!("{fx}ts/vod1/master.m3u8"), format!("{fx}ts/vod2/master.m3u8"),
                 format!("{fx}missing/master.m3u8"), format!("{fx}ts/vod3/master.m3u8")],
        "ad_every": 3,
        "ad_duration_secs": 4.0
    }]}));
    // Schedule from the epoch: vod1 8 s, vod2 8 s, slate 6 s (404), ad 4 s, vod3 8 s, vod1.
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(SPEED));
    let (_e, base) = serve_engine(adapter, opts(&fx, None), clock.clone()).await;
    let r = follow_master(
        &format!("{base}channels/ts/master.m3u8"),
        clock,
        SPEED,
        38_000,
    )
    .await;
    r.assert_clean();
    assert_eq!(r.renditions.len(), 2);
    for (url, seen) in &r.renditions {
        assert!(
            seen.crossed_discontinuities() >= 5,
            "{url}: vod1>vod2>slate>ad>vod3>vod1: {seen:?}"
        );
        assert!(
            seen.crossed_uri_containing("ts/slate/") >= 3,
            "{url}: {seen:?}"
        );
        assert!(
            seen.crossed_cue_outs() >= 1 && seen.crossed_cue_ins() >= 1,
            "{url}: {seen:?}"
        );
        assert!(
            seen.crossed_uri_containing("ts/vod3/") >= 1,
            "{url}: {seen:?}"
        );
        assert!(!seen.segments.values().any(|s| s.0.contains("missing/")));
        assert!(seen.reloads >= 20, "{url}: {} reloads", seen.reloads);
    }
    eprintln!("warnings: {:?}", r.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cmaf_channel_validates() {
    let fx = fixture_server().await;
    let adapter = channels(json!({"channels": [{
        "id": "cmaf",
        "slate": format!("{fx}cmaf/vod2/master.m3u8"),
        "vods": [format!("{fx}cmaf/vod1/master.m3u8"), format!("{fx}cmaf/vod2/master.m3u8")]
    }]}));
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(SPEED));
    let (_e, base) = serve_engine(adapter, opts(&fx, None), clock.clone()).await;
    let r = follow_master(
        &format!("{base}channels/cmaf/master.m3u8"),
        clock,
        SPEED,
        30_000,
    )
    .await;
    r.assert_clean();
    for (url, seen) in &r.renditions {
        assert!(seen.crossed_discontinuities() >= 3, "{url}: {seen:?}");
        assert!(seen.crossed_uri_containing(".m4s") >= 1, "{url}: {seen:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demuxed_audio_channel_validates() {
    let fx = fixture_server().await;
    let adapter = channels(json!({"channels": [{
        "id": "demux",
        "slate": format!("{fx}demuxed/vod1/master.m3u8"),
        "vods": [format!("{fx}demuxed/vod1/master.m3u8")]
    }]}));
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(SPEED));
    let (_e, base) = serve_engine(adapter, opts(&fx, None), clock.clone()).await;
    let r = follow_master(
        &format!("{base}channels/demux/master.m3u8"),
        clock,
        SPEED,
        30_000,
    )
    .await;
    r.assert_clean();
    assert_eq!(r.renditions.len(), 4, "{:?}", r.renditions.keys());
    for (url, seen) in &r.renditions {
        assert!(seen.crossed_discontinuities() >= 3, "{url}: {seen:?}");
    }
    assert!(
        r.rendition("audio-sv.m3u8")
            .crossed_uri_containing("audio_sv/")
            >= 4
    );
}

/// A viewer session (starts at its first VOD's beginning, grows its window from one segment).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_validates() {
    let fx = fixture_server().await;
    let adapter = channels(json!({"channels": [{
        "id": "s",
        "vods": [format!("{fx}ts/vod2/master.m3u8"), format!("{fx}missing/master.m3u8"),
                 format!("{fx}ts/vod3/master.m3u8")],
        "ad_every": 2,
        "ad_duration_secs": 4.0
    }]}));
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(SPEED));
    let (_e, base) = serve_engine(adapter, opts(&fx, None), clock.clone()).await;
    let created = create_session(&base, "s").await;
    let master = format!("{base}{}", created["master_url"].as_str().unwrap());
    let r = follow_master(&master, clock, SPEED, 32_000).await;
    r.assert_clean();
    let v0 = r.rendition("v0.m3u8");
    // vod2 > slate (404) > ad > vod3
    assert!(v0.crossed_discontinuities() >= 3, "{v0:?}");
    assert!(
        v0.crossed_cue_outs() >= 1 && v0.crossed_cue_ins() >= 1,
        "{v0:?}"
    );
    assert!(v0.crossed_uri_containing("ts/slate/") >= 1, "{v0:?}");
    assert_eq!(v0.media_sequences.first(), Some(&0));
}
