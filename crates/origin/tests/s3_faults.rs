//! `--store s3` with the store hung (moto SIGSTOPped) and then gone (killed): the origin
//! keeps serving its live playlists and the newest segments it holds in memory, answers
//! 503 with a JSON error (within the store deadline, not a hang) for what it cannot read
//! and for ingest it cannot store, and recovers by itself when moto is back.

mod common;

use std::time::Duration;

use common::pusher::FixturePusher;
use common::*;
use origin::{Config, StoreKind};
use testkit::Moto;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_then_gone_store_degrades_to_503_and_recovers() {
    testkit::require_peer!("moto_server");
    let mut moto = Moto::start().await.expect("moto_server");
    moto.create_bucket("faults").await;
    let (key, secret) = moto.credentials();
    let endpoint = moto.endpoint();
    let r = start_async(async |mut c: Config| {
        c.store = StoreKind::S3;
        c.store_url = Some("s3://faults/o".into());
        c.s3_endpoint = Some(endpoint);
        c.s3_access_key_id = Some(key.into());
        c.s3_secret_access_key = Some(secret.into());
        c.store_timeout_ms = 1000;
        // Room for the newest few segments only: older ones must come from the store.
        c.store_cache_bytes = 600_000;
        origin::build(c).await.expect("origin on moto")
    })
    .await;
    // A request that hangs fails the test here instead of hanging it.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let view = create(
        &r,
        serde_json::json!({"id": "s", "endpoints": [{"id": "live"}]}),
    )
    .await;
    let t0 = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let mut pusher = FixturePusher::new(&view, t0);
    pusher.push_master().await;
    for _ in 0..12 {
        pusher.step().await;
    }
    let out = format!("{}/out/s/live", r.base);
    let get = |path: String| {
        let http = http.clone();
        async move {
            let resp = http.get(&path).send().await.expect("an answer, not a hang");
            (resp.status().as_u16(), resp.bytes().await.unwrap())
        }
    };
    let (status, live) = get(format!("{out}/channel_1.m3u8")).await;
    assert_eq!(status, 200);
    let newest = 11;
    assert_eq!(get(format!("{out}/channel_1/{newest}.ts")).await.0, 200);
    assert_eq!(get(format!("{out}/channel_1/0.ts")).await.0, 200);

    for fault in ["hung", "gone"] {
        if fault == "hung" {
            moto.pause();
        } else {
            moto.stop();
        }
        // What it has for the current window: playlists and the newest segments.
        let (status, again) = get(format!("{out}/channel_1.m3u8")).await;
        assert_eq!((status, &again), (200, &live), "{fault}");
        let (status, seg) = get(format!("{out}/channel_1/{newest}.ts")).await;
        assert_eq!(status, 200, "{fault}");
        assert_eq!(seg[0], 0x47);
        // What it cannot read: 503 with the JSON error.
        let (status, body) = get(format!("{out}/channel_1/0.ts")).await;
        assert_eq!(status, 503, "{fault}: {}", String::from_utf8_lossy(&body));
        let err: serde_json::Value = serde_json::from_slice(&body).expect("JSON error");
        assert!(
            err["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{err}"
        );
        // Ingest it cannot store: 503, so the encoder retries.
        let put = DigestPut::from_view(&view, 0);
        put.put_created(
            &format!("{}_1_99.ts", view.ingest[0].url),
            common::TS_PACKET.to_vec(),
        )
        .await;
        let listing = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:99\n#EXTINF:2,\nchannel_1_99.ts\n";
        let resp = put
            .put(&format!("{}_1.m3u8", view.ingest[0].url), listing.into())
            .await;
        assert_eq!(resp.status(), 503, "{fault} ingest");
    }

    // moto is back (empty, as a new bucket would be): ingest and playback recover alone.
    moto.resume().await.expect("moto again");
    moto.create_bucket("faults").await;
    for _ in 0..3 {
        pusher.step().await;
    }
    let pl = testkit::http::get_media_playlist(&http, format!("{out}/channel_1.m3u8")).await;
    let last = pl.media_sequence + pl.segments.len() as u64 - 1;
    assert_eq!(last, 14, "{pl:?}");
    let (status, seg) = get(format!("{out}/channel_1/{last}.ts")).await;
    assert_eq!(status, 200);
    assert_eq!(seg[0], 0x47);
}
