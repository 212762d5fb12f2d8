//! A media playlist cannot switch back from fMP4 to MPEG-TS (an `EXT-X-MAP` cannot be
//! unset), so a channel keeps one segment container: a VOD in the other one is unusable
//! and the slate plays in its slot, counted as an asset failure like any broken VOD.

mod common;

use std::sync::Arc;
use std::time::Duration;

use clock::{Clock, ManualClock};
use common::*;
use engine::{EngineOptions, MemoryStore, Target};
use serde_json::json;

#[tokio::test]
async fn a_cmaf_vod_in_a_ts_channel_becomes_slate() {
    let fx = fixture_server().await;
    let adapter = channels(json!({"channels": [{
        "id": "c",
        "vods": [
            format!("{fx}ts/vod1/master.m3u8"),
            format!("{fx}cmaf/vod1/master.m3u8"),
            format!("{fx}ts/vod2/master.m3u8")
        ]
    }]}));
    let opts = EngineOptions {
        window: Duration::from_secs(20),
        slate_url: Some(format!("{fx}ts/slate/master.m3u8")),
        ..EngineOptions::default()
    };
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let e = engine_with(adapter, opts, clock.clone(), Arc::new(MemoryStore::new())).await;
    let t = Target::Channel("c".into());
    let mut uris = Vec::new();
    let mut tracker = hls::validate::LiveTracker::default();
    for _ in 0..40 {
        let body = e.media_playlist(&t, "v0").await.unwrap().body;
        let text = String::from_utf8(body.to_vec()).unwrap();
        let pl = hls::parse_media(&text).unwrap();
        assert!(
            pl.segments.iter().all(|s| s.map.is_none()),
            "an EXT-X-MAP in a TS channel: {text}"
        );
        let problems = tracker.observe(&pl, clock.now_ms() as u64);
        assert!(problems.is_empty(), "{problems:?}\n{text}");
        uris.extend(pl.segments.iter().map(|s| s.uri.clone()));
        clock.advance_ms(2_000);
    }
    assert!(uris.iter().all(|u| !u.contains("/cmaf/")));
    assert!(
        uris.iter().any(|u| u.contains("/ts/slate/")),
        "the slate filled the slot"
    );
    assert!(
        uris.iter().any(|u| u.contains("/ts/vod2/")),
        "the channel went on after it"
    );
}
