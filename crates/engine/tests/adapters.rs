//! Built-in adapters: the channels file (TOML), deterministic shuffle, ad breaks, and the
//! HTTP asset manager against a real HTTP server.

mod common;

use std::time::Duration;

use engine::adapters::{FileAdapter, NextItemRequest};
use engine::timeline::Item;
use engine::{AssetManager, ChannelManager, HttpAssetManager};

/// Adapters with no channels of their own (what a schedule adapter falls back to).
fn none() -> std::sync::Arc<FileAdapter> {
    std::sync::Arc::new(FileAdapter::new(Default::default()).unwrap())
}

fn req(channel: &str, position: u64) -> NextItemRequest {
    NextItemRequest {
        channel: channel.into(),
        session: None,
        category: None,
        playlist: None,
        position,
        at_ms: None,
        target_ms: None,
    }
}

#[tokio::test]
async fn toml_channels_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("channels.toml");
    std::fs::write(
        &path,
        r#"
[[channels]]
id = "news"
title = "News"
vods = ["http://o/a.m3u8", { id = "b", title = "B", uri = "http://o/b.m3u8" }, "http://o/c.m3u8"]
order = "shuffle"
seed = 3
ad_every = 3
ad_duration_secs = 15

[channels.profile]
variants = [{ bandwidth = 400000, resolution = [640, 360], codecs = "avc1.64001e,mp4a.40.2" }]
"#,
    )
    .unwrap();
    let f = FileAdapter::from_path(&path).unwrap();
    let chans = f.channels().await.unwrap();
    assert_eq!(chans[0].id, "news");
    assert_eq!(
        chans[0].profile.as_ref().unwrap().variants[0].bandwidth,
        400_000
    );
    let mut first_cycle = Vec::new();
    for p in 0..8 {
        let item = f.next_item(req("news", p)).await.unwrap();
        // Deterministic: asking again gives the same item.
        assert_eq!(item, f.next_item(req("news", p)).await.unwrap());
        if p % 4 == 3 {
            assert_eq!(
                item,
                Item::AdBreak {
                    duration_ms: 15_000,
                    filler: None
                }
            );
        } else if p < 3 {
            first_cycle.push(item);
        }
    }
    // A shuffle plays every VOD once per cycle.
    let mut urls: Vec<String> = first_cycle
        .iter()
        .map(|i| match i {
            Item::Vod { url, .. } => url.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    urls.sort();
    assert_eq!(
        urls,
        ["http://o/a.m3u8", "http://o/b.m3u8", "http://o/c.m3u8"]
    );
    assert!(f.next_item(req("nope", 0)).await.is_err());

    std::fs::write(&path, "[[channels]]\nid = \"bad id!\"\nvods = [\"x\"]\n").unwrap();
    assert!(FileAdapter::from_path(&path).is_err());
}

#[tokio::test]
async fn http_asset_manager() {
    use axum::{Json, Router, extract::Query, routing::get};
    use std::collections::HashMap;
    let app = Router::new().route(
        "/next",
        get(|Query(q): Query<HashMap<String, String>>| async move {
            let pos: u64 = q["position"].parse().unwrap();
            if q.get("category").map(String::as_str) == Some("ads") {
                Json(serde_json::json!({"type": "ad_break", "duration_ms": 5000}))
            } else {
                Json(serde_json::json!({"id": format!("v{pos}"), "title": "T", "uri": format!("http://o/{}/{pos}.m3u8", q["channel"])}))
            }
        }),
    );
    let base = common::serve(app).await;
    let m = HttpAssetManager::new(&format!("{base}next"), Duration::from_secs(2)).unwrap();
    let item = m.next_item(req("one", 4)).await.unwrap();
    assert_eq!(
        item,
        Item::Vod {
            id: "v4".into(),
            title: Some("T".into()),
            url: "http://o/one/4.m3u8".into()
        }
    );
    let mut r = req("one", 5);
    r.category = Some("ads".into());
    assert_eq!(
        m.next_item(r).await.unwrap(),
        Item::AdBreak {
            duration_ms: 5000,
            filler: None
        }
    );
    let bad = HttpAssetManager::new(&format!("{base}nothing"), Duration::from_secs(2)).unwrap();
    assert!(bad.next_item(req("one", 0)).await.is_err());
}

/// The schedule adapter against a schedule service and a catalog that fail (503) or hang:
/// the channel list keeps the schedule's channels, items are planned from the last schedule
/// read while it still covers the instant asked, and every answer comes within the engine's
/// load timeout (after it the engine would play its 10 s slate).
#[tokio::test]
async fn schedule_adapter_rides_out_an_unreachable_schedule_service() {
    use axum::{
        Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get,
    };
    use engine::adapters::{ChannelConfig, ScheduleAdapter, ScheduleAdapterConfig};
    use engine::timeline::Item;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU8, Ordering};

    const OK: u8 = 0;
    const DOWN: u8 = 1;
    const HANG: u8 = 2;
    #[derive(Clone)]
    struct Modes {
        schedule: Arc<AtomicU8>,
        catalog: Arc<AtomicU8>,
    }
    async fn answer(mode: &AtomicU8, body: serde_json::Value) -> axum::response::Response {
        match mode.load(Ordering::SeqCst) {
            OK => Json(body).into_response(),
            DOWN => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            _ => futures::future::pending().await,
        }
    }
    const T0: i64 = 1_700_000_000_000;
    let app = Router::new()
        .route(
            "/api/v1/channels",
            get(|State(m): State<Modes>| async move {
                answer(
                    &m.schedule,
                    serde_json::json!([{"id": "sch", "title": "S"}]),
                )
                .await
            }),
        )
        .route(
            "/api/v1/channels/sch/schedule",
            get(|State(m): State<Modes>| async move {
                answer(
                    &m.schedule,
                    serde_json::json!([
                        {"id": "p1", "title": "One", "start_time": T0, "end_time": T0 + 60_000,
                         "url": "http://v/1.m3u8", "type": "vod",
                         "adBreaks": [{"offset": 20.0, "duration": 10.0}]},
                        {"id": "ad", "start_time": T0 + 60_000, "end_time": T0 + 75_000,
                         "url": "", "type": "ad"}
                    ]),
                )
                .await
            }),
        )
        .route(
            "/catalog/api/v1/assets",
            get(|State(m): State<Modes>| async move {
                answer(
                    &m.catalog,
                    serde_json::json!([{"url": "http://ads/1.m3u8", "category": "ad"}]),
                )
                .await
            }),
        );
    let modes = Modes {
        schedule: Arc::new(AtomicU8::new(OK)),
        catalog: Arc::new(AtomicU8::new(OK)),
    };
    let base = common::serve(app.with_state(modes.clone())).await;

    // The engine gives the adapter its load timeout, and waits that long for an answer.
    let timeout = Duration::from_millis(2_000);
    let adapter = || {
        let mut cfg = ScheduleAdapterConfig::new(base.clone());
        cfg.catalog_url = Some(format!("{base}catalog"));
        cfg.timeout = timeout;
        // Every ask reads (or fails to read) the service.
        cfg.reuse_for = Duration::ZERO;
        ScheduleAdapter::new(cfg, clock::system(), none(), none()).unwrap()
    };
    async fn ask(adapter: &ScheduleAdapter, at_ms: i64, timeout: Duration) -> engine::Result<Item> {
        let mut r = req("sch", 1);
        r.at_ms = Some(at_ms);
        r.target_ms = Some(2_000);
        tokio::time::timeout(timeout, adapter.next_item(r))
            .await
            .expect("an answer within the engine's load timeout")
    }
    let at = |a, at_ms| ask(a, at_ms, timeout);
    let ids = |l: Vec<ChannelConfig>| l.into_iter().map(|c| c.id).collect::<Vec<_>>();

    let a = adapter();
    assert_eq!(ids(a.channels().await.unwrap()), ["sch"]);
    assert!(matches!(
        at(&a, T0).await.unwrap(),
        Item::Programme {
            first: true,
            max_ms: 20_000,
            ..
        }
    ));

    // The schedule service goes down: its channel stays, and the schedule read a moment
    // ago still plans the programme's second half and the AD event (house ads read now).
    modes.schedule.store(DOWN, Ordering::SeqCst);
    assert_eq!(ids(a.channels().await.unwrap()), ["sch"]);
    match at(&a, T0 + 30_000).await.unwrap() {
        Item::Programme {
            offset_ms, max_ms, ..
        } => assert_eq!((offset_ms, max_ms), (30_000, 30_000)),
        other => panic!("{other:?}"),
    }
    // ... or hangs (the list is read in the engine's background loop: not for long).
    modes.schedule.store(HANG, Ordering::SeqCst);
    let listed = tokio::time::timeout(timeout, a.channels()).await;
    assert_eq!(ids(listed.expect("listed in time").unwrap()), ["sch"]);
    assert_eq!(
        at(&a, T0 + 60_000).await.unwrap(),
        Item::AdBreak {
            duration_ms: 15_000,
            filler: Some("http://ads/1.m3u8".into())
        }
    );
    // Past what was read: an error (the engine plays its slate), still in time.
    assert!(at(&a, T0 + 16 * 60_000).await.is_err());

    // A hanging catalog delays no break past the engine's timeout (slate instead of ads).
    modes.schedule.store(OK, Ordering::SeqCst);
    modes.catalog.store(HANG, Ordering::SeqCst);
    let b = adapter();
    b.channels().await.unwrap();
    assert_eq!(
        at(&b, T0 + 20_000).await.unwrap(),
        Item::AdBreak {
            duration_ms: 10_000,
            filler: None
        }
    );
    // A schedule service down when the engine starts: the other channels still load.
    modes.schedule.store(DOWN, Ordering::SeqCst);
    assert!(ids(adapter().channels().await.unwrap()).is_empty());
}

/// Eyevinn's schedule-service reads `start`/`end` as ISO 8601 (an epoch-ms string is parsed
/// as a date in the year 1700) and lists the events *starting* in the range: the event
/// playing at the instant asked is not in it. The adapter must still find it, e.g. when the
/// programme resumes after a break or the channel starts in its middle.
#[tokio::test]
async fn schedule_adapter_reads_an_eyevinn_style_schedule_service() {
    use axum::{
        Json, Router, extract::Query, http::StatusCode, response::IntoResponse, routing::get,
    };
    use engine::adapters::{ScheduleAdapter, ScheduleAdapterConfig};
    use std::collections::HashMap;

    const T0: i64 = 1_700_000_000_000;
    let events = serde_json::json!([
        {"id": "p1", "channelId": "eye", "title": "One", "start_time": T0,
         "end_time": T0 + 3_600_000, "start": "", "end": "", "url": "http://v/1.m3u8",
         "duration": 3600, "type": "VOD"},
        {"id": "p2", "channelId": "eye", "title": "Two", "start_time": T0 + 3_600_000,
         "end_time": T0 + 7_200_000, "start": "", "end": "", "url": "http://v/2.m3u8",
         "duration": 3600, "type": "VOD"}
    ]);
    let app = Router::new()
        .route(
            "/api/v1/channels",
            get(|| async { Json(serde_json::json!([{"id": "eye", "title": "E"}])) }),
        )
        .route(
            "/api/v1/channels/eye/schedule",
            get(move |Query(q): Query<HashMap<String, String>>| {
                let events = events.clone();
                async move {
                    let iso = |k: &str| {
                        q.get(k).map(|s| {
                            chrono::DateTime::parse_from_rfc3339(s).map(|t| t.timestamp_millis())
                        })
                    };
                    let (Some(Ok(start)), Some(Ok(end))) = (iso("start"), iso("end")) else {
                        return (StatusCode::BAD_REQUEST, "start/end: ISO 8601").into_response();
                    };
                    let list: Vec<_> = events
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|e| {
                            let s = e["start_time"].as_i64().unwrap();
                            s >= start && s < end
                        })
                        .cloned()
                        .collect();
                    Json(list).into_response()
                }
            }),
        );
    let base = common::serve(app).await;
    let mut cfg = ScheduleAdapterConfig::new(base.clone());
    cfg.timeout = Duration::from_secs(5);
    let a = ScheduleAdapter::new(cfg, clock::system(), none(), none()).unwrap();
    a.channels().await.unwrap();
    let ask = |at: i64| {
        let mut r = req("eye", 3);
        r.at_ms = Some(at);
        r.target_ms = Some(2_000);
        a.next_item(r)
    };
    // Its start, the middle of it, and the next one.
    for (at, id, offset) in [
        (T0, "p1", 0),
        (T0 + 1_800_000, "p1", 1_800_000),
        (T0 + 3_600_000, "p2", 0),
    ] {
        match ask(at).await.unwrap() {
            Item::Programme {
                programme,
                offset_ms,
                ..
            } => assert_eq!((programme.id.as_str(), offset_ms), (id, offset), "at {at}"),
            other => panic!("at {at}: {other:?}"),
        }
    }
}

/// A schedule service answering without end (or a huge body) does not fill the engine's
/// memory: an answer over the adapter's limit is an error (the engine plays its slate).
#[tokio::test]
async fn schedule_adapter_refuses_a_huge_answer() {
    use axum::{Json, Router, routing::get};
    use engine::adapters::{ScheduleAdapter, ScheduleAdapterConfig};

    let app = Router::new()
        .route(
            "/api/v1/channels",
            get(|| async { Json(serde_json::json!([{"id": "big"}])) }),
        )
        .route(
            "/api/v1/channels/big/schedule",
            // Valid JSON (an empty list padded with whitespace), 64 MiB of it.
            get(|| async { format!("[{}]", " ".repeat(64 << 20)) }),
        );
    let base = common::serve(app).await;
    let mut cfg = ScheduleAdapterConfig::new(base.clone());
    cfg.timeout = Duration::from_secs(20);
    let a = ScheduleAdapter::new(cfg, clock::system(), none(), none()).unwrap();
    a.channels().await.unwrap();
    let mut r = req("big", 1);
    r.at_ms = Some(1_700_000_000_000);
    let err = a.next_item(r).await.unwrap_err().to_string();
    assert!(err.contains("bytes"), "{err}");
}

/// Entries appended in a row (and a channel's sessions) make one schedule request while the
/// last read is fresh; with reuse off, every ask reads.
#[tokio::test]
async fn schedule_adapter_reuses_a_fresh_read() {
    use axum::{Json, Router, routing::get};
    use engine::adapters::{ScheduleAdapter, ScheduleAdapterConfig};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const T0: i64 = 1_700_000_000_000;
    let reads = Arc::new(AtomicUsize::new(0));
    let counter = reads.clone();
    let app = Router::new()
        .route(
            "/api/v1/channels",
            get(|| async { Json(serde_json::json!([{"id": "c"}])) }),
        )
        .route(
            "/api/v1/channels/c/schedule",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async {
                    Json(serde_json::json!([{"id": "p", "start_time": T0,
                        "end_time": T0 + 3_600_000, "url": "http://v/1.m3u8", "type": "vod"}]))
                }
            }),
        );
    let base = common::serve(app).await;
    for (reuse, expected) in [(Duration::from_secs(3600), 2), (Duration::ZERO, 3)] {
        reads.store(0, Ordering::SeqCst);
        let mut cfg = ScheduleAdapterConfig::new(base.clone());
        cfg.reuse_for = reuse;
        let a = ScheduleAdapter::new(cfg, clock::system(), none(), none()).unwrap();
        a.channels().await.unwrap();
        // Two asks close together, one past half the read-ahead (read again).
        for at in [T0, T0 + 10_000, T0 + 8 * 60_000] {
            let mut r = req("c", 1);
            r.at_ms = Some(at);
            match a.next_item(r).await.unwrap() {
                Item::Programme { offset_ms, .. } => assert_eq!(offset_ms as i64, at - T0),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(reads.load(Ordering::SeqCst), expected, "reuse {reuse:?}");
    }
}
