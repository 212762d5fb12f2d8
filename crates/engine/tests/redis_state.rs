//! Two engines on one real Redis serve the same channels and sessions byte-identically, and a
//! third one started later (a restart) picks up where they were.

mod common;

use std::sync::Arc;
use std::time::Duration;

use clock::{Clock, ManualClock};
use common::*;
use engine::{EngineOptions, RedisStore, Store, Target};
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
        clock.advance_ms(2_300);
    }
    let last = seen.last().unwrap().clone();
    let text = String::from_utf8_lossy(&last).to_string();
    assert!(
        text.contains("ts/slate/"),
        "the missing VOD became slate: {text}"
    );
    assert!(text.contains("#EXT-X-CUE-OUT"), "{text}");

    // A restarted engine (fresh process state, same Redis) renders the same bytes.
    clock.advance_ms(-2_300);
    let c = engine_with(mk(), opts.clone(), clock.clone(), store().await).await;
    assert_eq!(c.media_playlist(&ch, "v0").await.unwrap().body, last);
    assert!(c.session(&s.id).await.is_ok());
    assert_eq!(
        c.media_playlist(&st, "v0").await.unwrap().body,
        a.media_playlist(&st, "v0").await.unwrap().body
    );
}

/// A channel that has run for two (simulated) hours: the Redis log keeps only recent
/// entries (trimmed in batches), and an engine joining late resumes from them, rendering the
/// same bytes without resolving the VODs the channel played before its window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_running_log_is_trimmed_and_a_late_replica_skips_history() {
    testkit::require_peer!("redis-server");
    let redis = testkit::Redis::start().await.expect("redis");
    let (addr, fx) = testkit::serve_dir(fixtures()).await;
    let base = format!("http://{addr}/");
    // 60 distinct VOD URLs (the same three fixtures under different queries), so every
    // entry a replica resolves is a fetch the fixture server counts.
    let vods: Vec<String> = (0..60)
        .map(|i| format!("{base}ts/vod{}/master.m3u8?copy={i}", 1 + i % 3))
        .collect();
    let mk = || channels(json!({"channels": [{"id": "c", "vods": vods}]}));
    let opts = EngineOptions {
        window: Duration::from_secs(20),
        slate_url: Some(format!("{base}ts/slate/master.m3u8")),
        ..EngineOptions::default()
    };
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let store = || async {
        Arc::new(RedisStore::connect(&redis.url(), "trim:").await.unwrap()) as Arc<dyn Store>
    };
    let a = engine_with(mk(), opts.clone(), clock.clone(), store().await).await;
    let ch = Target::Channel("c".into());
    for _ in 0..720 {
        a.media_playlist(&ch, "v0").await.unwrap();
        clock.advance_ms(10_000);
    }
    // Let A schedule through the lookahead (30 s) at this instant, so a late replica only
    // catches up. Each render starts a background prefetch unless one is running (then the
    // next render does), so render until the log covers it.
    let log = store().await;
    let until = clock.now_ms() + 30_000;
    let scheduled = testkit::wait_until(Duration::from_secs(30), "A's prefetch", || {
        let (log, a, ch) = (log.clone(), a.clone(), ch.clone());
        async move {
            a.media_playlist(&ch, "v0").await.unwrap();
            let e = log.entries_from("channel:c", 0).await.unwrap();
            e.last().is_some_and(|e| e.end_ms() > until)
        }
    })
    .await;
    assert!(scheduled.is_ok());
    let kept = store().await.entries_from("channel:c", 0).await.unwrap();
    let first = kept.first().expect("entries kept").index;
    assert!(
        first > 700,
        "two hours of 8 s VODs, the oldest were trimmed: first kept {first}"
    );
    assert!(kept.len() < 64, "{} entries kept", kept.len());

    let masters = || {
        (1..=3)
            .map(|i| fx.hits(&format!("/ts/vod{i}/master.m3u8")))
            .sum::<usize>()
    };
    let before = masters();
    let b = engine_with(mk(), opts.clone(), clock.clone(), store().await).await;
    for r in ["v0", "v1"] {
        assert_eq!(
            b.media_playlist(&ch, r).await.unwrap().body,
            a.media_playlist(&ch, r).await.unwrap().body,
            "{r}"
        );
    }
    let fetched = masters() - before;
    // What the late replica needs: the kept entries that end after its horizon (window
    // 20 s + pruning margin 60 s before now); the older kept ones are skipped.
    let horizon = clock.now_ms() - 20_000 - 60_000;
    let needed = kept.iter().filter(|e| e.end_ms() > horizon).count();
    assert!(needed < kept.len(), "the test needs kept entries to skip");
    assert!(
        fetched <= needed,
        "the late replica resolved {fetched} VODs; {needed} of the {} kept entries are needed",
        kept.len()
    );
    // Both go on identically.
    for _ in 0..20 {
        clock.advance_ms(3_000);
        assert_eq!(
            a.media_playlist(&ch, "v0").await.unwrap().body,
            b.media_playlist(&ch, "v0").await.unwrap().body
        );
    }
}
