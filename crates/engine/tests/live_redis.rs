//! Live switch with replicas: two engines on one real Redis play VOD -> live (ffmpeg -re)
//! -> VOD. Both poll the source; the store's compare-and-set keeps them on one list of live
//! segments, so they render byte-identical playlists for the same instants during and after
//! the live part, and a player following one of them passes the RFC 8216 oracle.

mod common;

use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use common::follow::follow_master;
use common::*;
use engine::{Engine, RedisStore, Service, Store, Target};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_agree_on_a_live_entry() {
    testkit::require_peer!("ffmpeg");
    testkit::require_peer!("redis-server");
    let redis = testkit::Redis::start().await.expect("redis");
    let (live, live_base) = live_source().await;
    let fx = fixture_server().await;
    let clock: Arc<dyn Clock> = Arc::new(ScaledClock::new(1.0));
    let start = clock.now_ms() + 8_000;
    let opts = live_options(&fx);
    let mut engines = Vec::new();
    for _ in 0..2 {
        let store = Arc::new(RedisStore::connect(&redis.url(), "live:").await.unwrap());
        let assets = Arc::new(LiveSchedule {
            fx: fx.clone(),
            live_url: live.playlist_url(),
            start,
            len_ms: 10_000,
        });
        let chans = Arc::new(channels(
            json!({"channels": [{"id": "live", "vods": ["unused"]}]}),
        ));
        let e = Engine::new(
            opts.clone(),
            clock.clone(),
            store as Arc<dyn Store>,
            assets,
            chans,
        );
        e.reload_channels().await.unwrap();
        e.spawn_background();
        engines.push(e);
    }
    let (a, b) = (engines[0].clone(), engines[1].clone());
    let base = serve(Service::new(a.clone(), None, None).router()).await;

    // Compare both replicas at the same instants (a little in the past, so both have had
    // the chance to see the source), alternating who renders first.
    let compare = {
        let clock = clock.clone();
        let live_base = live_base.clone();
        async move {
            let ch = Target::Channel("live".into());
            let (mut n, mut live_seen) = (0, 0);
            let deadline = clock.now_ms() + 27_000;
            while clock.now_ms() < deadline {
                let t = clock.now_ms() - 500;
                for r in ["v0", "v1"] {
                    let (x, y) = if n % 2 == 0 {
                        let x = a.media_playlist_at(&ch, r, t).await.unwrap();
                        (x, b.media_playlist_at(&ch, r, t).await.unwrap())
                    } else {
                        let y = b.media_playlist_at(&ch, r, t).await.unwrap();
                        (a.media_playlist_at(&ch, r, t).await.unwrap(), y)
                    };
                    // Byte for byte, empty pre-start playlists included (a live entry
                    // reaches the store with its first chunk in one step, so no replica
                    // sees the entry without its segments and target duration).
                    assert_eq!(
                        String::from_utf8_lossy(&x.body),
                        String::from_utf8_lossy(&y.body),
                        "replicas differ at {t} ({r})"
                    );
                    if String::from_utf8_lossy(&x.body).contains(&live_base) {
                        live_seen += 1;
                    }
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            (n, live_seen)
        }
    };
    let master = format!("{base}channels/live/master.m3u8");
    let follow = follow_master(&master, clock.clone(), 1.0, 25_000);
    let ((n, live_seen), report) = tokio::join!(compare, follow);
    report.assert_clean();
    assert!(n > 20, "compared {n} instants");
    assert!(
        live_seen > 10,
        "live segments in {live_seen} compared playlists"
    );
    let tl: Vec<_> = report
        .rendition("v0.m3u8")
        .segments
        .values()
        .map(|s| s.0.clone())
        .collect();
    let first_live = tl
        .iter()
        .position(|u| u.starts_with(&live_base))
        .expect("live");
    let after = tl.iter().rposition(|u| u.starts_with(&live_base)).unwrap() + 1;
    assert!(tl[first_live - 1].contains("ts/vod1/"), "{tl:#?}");
    assert!(
        after < tl.len() && tl[after].contains("ts/vod2/"),
        "{tl:#?}"
    );
}
