//! Two engines on one real Redis serve the same channels and sessions byte-identically, and a
//! third one started later (a restart) picks up where they were.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use engine::{EngineOptions, ManualClock, RedisStore, Store, Target};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_share_state_through_redis() {
    testkit::require_peer!("redis-server");
    let redis = testkit::Redis::start().await.expect("redis");
    let fx = fixture_server().await;
    let mk = || {
        channels(json!({"channels": [{
            "id": "c",
            "vods": [format!("{fx}ts/vod1/master.m3u8"), format!("{fx}missing/master.m3u8"),
                     format!("{fx}ts/vod2/master.m3u8"), format!("{fx}ts/vod3/master.m3u8")],
            "order": "shuffle", "seed": 7, "ad_every": 2, "ad_duration_secs": 4.0
        }]}))
    };
    let opts = EngineOptions {
        window: Duration::from_secs(20),
        slate_url: Some(format!("{fx}ts/slate/master.m3u8")),
        ..EngineOptions::default()
    };
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let store = || async {
        Arc::new(RedisStore::connect(&redis.url(), "test:").await.unwrap()) as Arc<dyn Store>
    };
    let a = engine_with(mk(), opts.clone(), clock.clone(), store().await).await;
    let b = engine_with(mk(), opts.clone(), clock.clone(), store().await).await;
    let ch = Target::Channel("c".into());

    // A session made on one engine is served by the other.
    let s = a.create_session("c", None, None).await.unwrap();
    let st = Target::Session(s.id.clone());

    let mut seen = Vec::new();
    for step in 0..30 {
        for (t, r) in [(&ch, "v0"), (&ch, "v1"), (&st, "v0")] {
            let (x, y) = if step % 2 == 0 {
                let x = a.media_playlist(t, r).await.unwrap();
                (x, b.media_playlist(t, r).await.unwrap())
            } else {
                let y = b.media_playlist(t, r).await.unwrap();
                (a.media_playlist(t, r).await.unwrap(), y)
            };
            assert_eq!(x.body, y.body, "step {step} {t:?} {r}");
        }
        seen.push(a.media_playlist(&ch, "v0").await.unwrap().body);
        clock.advance(2_300);
    }
    let last = seen.last().unwrap().clone();
    let text = String::from_utf8_lossy(&last).to_string();
    assert!(
        text.contains("ts/slate/"),
        "the missing VOD became slate: {text}"
    );
    assert!(text.contains("#EXT-X-CUE-OUT"), "{text}");

    // A restarted engine (fresh process state, same Redis) renders the same bytes.
    clock.advance(-2_300);
    let c = engine_with(mk(), opts.clone(), clock.clone(), store().await).await;
    assert_eq!(c.media_playlist(&ch, "v0").await.unwrap().body, last);
    assert!(c.session(&s.id).await.is_ok());
    assert_eq!(
        c.media_playlist(&st, "v0").await.unwrap().body,
        a.media_playlist(&st, "v0").await.unwrap().body
    );
}
