//! Live switch: a channel plays VOD -> a real live HLS source (ffmpeg -re) -> VOD, and the
//! windows pass the RFC 8216 oracle across both switches; a live source that is down is
//! replaced by the slate until the event's end, without stalling.

mod common;

use std::sync::Arc;

use clock::Clock;
use common::follow::follow_master;
use common::*;
use engine::{Engine, MemoryStore, Service};
use serde_json::json;

async fn live_channel(fx: &str, live_url: String, clock: Arc<dyn Clock>, len_ms: i64) -> String {
    let start = clock.now_ms() + 8_000;
    let assets = Arc::new(LiveSchedule {
        fx: fx.to_string(),
        live_url,
        start,
        len_ms,
    });
    let channels = Arc::new(channels(
        json!({"channels": [{"id": "live", "vods": ["unused"]}]}),
    ));
    let opts = live_options(fx);
    let e = Engine::new(opts, clock, Arc::new(MemoryStore::new()), assets, channels);
    e.reload_channels().await.unwrap();
    e.spawn_background();
    serve(Service::new(e, None, None).router()).await
}

/// Each segment's URI in sequence order and whether it carries EXT-X-DISCONTINUITY.
fn timeline(seen: &common::follow::Seen) -> Vec<(String, bool)> {
    seen.segments.values().map(|s| (s.0.clone(), s.1)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vod_live_vod_validates() {
    testkit::require_peer!("ffmpeg");
    let (live, live_base) = live_source().await;
    let fx = fixture_server().await;
    // The live source runs in real time, so does the channel.
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(1.0));
    let base = live_channel(&fx, live.playlist_url(), clock.clone(), 10_000).await;
    let r = follow_master(
        &format!("{base}channels/live/master.m3u8"),
        clock,
        1.0,
        25_000,
    )
    .await;
    r.assert_clean();
    for (n, rendition) in ["v0.m3u8", "v1.m3u8"].iter().enumerate() {
        let tl = timeline(r.rendition(rendition));
        let is_live = |u: &str| u.starts_with(&live_base);
        let live_segs: Vec<_> = tl.iter().filter(|s| is_live(&s.0)).collect();
        assert!(
            live_segs.len() >= 4,
            "{rendition}: 10 s of live in 2 s segments: {tl:#?}"
        );
        assert!(
            live_segs
                .iter()
                .all(|s| s.0.contains(&format!("stream_{n}/"))),
            "{rendition} plays the matching live rendition: {tl:#?}"
        );
        // vod1 -> live -> vod2, each switch marked with a discontinuity.
        let first_live = tl.iter().position(|s| is_live(&s.0)).unwrap();
        let after_live = tl.iter().rposition(|s| is_live(&s.0)).unwrap() + 1;
        assert!(tl[first_live - 1].0.contains("ts/vod1/"), "{tl:#?}");
        assert!(tl[first_live].1, "discontinuity into live: {tl:#?}");
        assert!(after_live < tl.len(), "back to VOD: {tl:#?}");
        assert!(tl[after_live].0.contains("ts/vod2/"), "{tl:#?}");
        assert!(tl[after_live].1, "discontinuity out of live: {tl:#?}");
        assert!(
            tl[first_live + 1..after_live].iter().all(|s| !s.1),
            "contiguous live segments: {tl:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_source_down_plays_slate_without_stalling() {
    let fx = fixture_server().await;
    let speed = 3.0;
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(speed));
    let base = live_channel(
        &fx,
        format!("{fx}no/live/master.m3u8"),
        clock.clone(),
        12_000,
    )
    .await;
    let r = follow_master(
        &format!("{base}channels/live/master.m3u8"),
        clock,
        speed,
        30_000,
    )
    .await;
    // Includes playlist-stale: the window kept moving through the failed event.
    r.assert_clean();
    let tl = timeline(r.rendition("v0.m3u8"));
    let slate: Vec<_> = tl.iter().filter(|s| s.0.contains("ts/slate/")).collect();
    // 12 s of event in 2 s slate segments (looped, a discontinuity per loop).
    assert!(slate.len() >= 6, "{tl:#?}");
    let after = tl.iter().rposition(|s| s.0.contains("ts/slate/")).unwrap() + 1;
    assert!(tl[after].0.contains("ts/vod2/") && tl[after].1, "{tl:#?}");
    assert!(!tl.iter().any(|s| s.0.contains("no/live")), "{tl:#?}");
}
