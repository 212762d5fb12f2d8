//! The engine plays a schedule on the clock, in real time: a schedule service (lineup's,
//! over HTTP) holds programmes a few seconds to tens of seconds long, with an ad break
//! inside one, an AD event filled with the catalog's house ad and a LIVE event switching to
//! a live source and back. Following the channel's media playlist, every programme's
//! DATERANGE sits on a segment whose `EXT-X-PROGRAM-DATE-TIME` is within one segment (2 s)
//! of its scheduled start, across six programme changes; `lineup validate --follow`
//! accepts the channel; two engine replicas sharing Redis serve the same bytes.

mod common;
use common::lineup;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clock::SystemClock;
use engine::adapters::{ChannelsFile, FileAdapter, FileChannel, FileVod, ScheduleAdapter};
use engine::{Engine, EngineOptions, MemoryStore, RedisStore, Store};
use schedule::{EventType, NewAsset, NewEvent, ScheduleEvent};

/// One segment of the fixtures: the tolerance at every programme boundary.
const SEGMENT_MS: i64 = 2_000;

async fn serve(router: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

struct World {
    _fixtures: testkit::ServeHandle,
    fx: String,
    schedule_base: String,
    catalog_base: String,
    events: Vec<ScheduleEvent>,
    _live: Engine,
}

/// Fixtures, a live source (an engine channel of vod2), the schedule service with its
/// catalog (vod3 as the house ad) and channel "tv": programmes of vod1 from `start`.
async fn world() -> World {
    let (fx_addr, fixtures) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let fx = format!("http://{fx_addr}");
    let vod = |n: &str| format!("{fx}/ts/{n}/master.m3u8");

    // The live source: another engine's channel (vod2 in a loop).
    let live_adapter = Arc::new(
        FileAdapter::new(ChannelsFile {
            channels: vec![FileChannel {
                config: engine::adapters::ChannelConfig {
                    id: "src".into(),
                    title: None,
                    profile: None,
                    slate: Some(vod("slate")),
                },
                vods: vec![FileVod::Url(vod("vod2"))],
                order: Default::default(),
                seed: 0,
                ad_every: None,
                ad_duration_secs: 30.0,
                ad_filler: None,
            }],
        })
        .unwrap(),
    );
    let live = Engine::new(
        EngineOptions::default(),
        Arc::new(SystemClock),
        Arc::new(MemoryStore::new()),
        live_adapter.clone(),
        live_adapter,
    );
    live.reload_channels().await.unwrap();
    live.spawn_background();
    let live_addr = serve(engine::Service::new(live.clone(), None, None).router()).await;
    let live_url = format!("http://{live_addr}/channels/src/master.m3u8");

    let service = schedule::Service::open(":memory:").await.unwrap();
    let sched_addr = serve(
        axum::Router::new()
            .nest(
                "/schedule",
                schedule::schedule_api::router(service.clone(), None),
            )
            .nest(
                "/catalog",
                schedule::catalog_api::router(service.clone(), None),
            ),
    )
    .await;
    service
        .import(NewAsset {
            url: vod("vod3"),
            title: Some("House ad".into()),
            category: Some("ad".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    service
        .put_channel(schedule::Channel {
            id: "tv".into(),
            tenant: String::new(),
            title: "Scheduled".into(),
            auto: None,
        })
        .await
        .unwrap();
    // Lengths that do not line up with the 2 s segments or the 8 s VOD: programmes are cut
    // and padded with the slate.
    let start = (now_ms() / 1000 + 12) * 1000;
    let plan: [(&str, EventType, i64, Vec<schedule::AdBreak>); 7] = [
        ("p1", EventType::Vod, 13_000, vec![]),
        ("p2", EventType::Vod, 9_000, vec![]),
        (
            "p3",
            EventType::Vod,
            21_000,
            vec![schedule::AdBreak {
                offset: 6.0,
                duration: 5.0,
            }],
        ),
        ("ad", EventType::Ad, 7_000, vec![]),
        ("live", EventType::Live, 17_000, vec![]),
        ("p4", EventType::Vod, 11_000, vec![]),
        ("p5", EventType::Vod, 10_000, vec![]),
    ];
    let mut t = start;
    let mut events = Vec::new();
    for (id, kind, len, ad_breaks) in plan {
        let e = service
            .add_event(
                "tv",
                NewEvent {
                    id: Some(id.into()),
                    title: Some(format!("Programme {id}")),
                    start_time: Some(t),
                    end_time: Some(t + len),
                    url: if kind == EventType::Vod {
                        vod("vod1")
                    } else {
                        String::new()
                    },
                    kind: Some(kind),
                    live_url: (kind == EventType::Live).then(|| live_url.clone()),
                    ad_breaks,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        events.push(e);
        t += len;
    }
    World {
        _fixtures: fixtures,
        schedule_base: format!("http://{sched_addr}/schedule"),
        catalog_base: format!("http://{sched_addr}/catalog"),
        fx,
        events,
        _live: live,
    }
}

/// An engine replica playing the schedule service's channels, served on its own port.
async fn replica(w: &World, store: Arc<dyn Store>) -> (Engine, String) {
    let none = Arc::new(FileAdapter::new(Default::default()).unwrap());
    let mut cfg = engine::adapters::ScheduleAdapterConfig::new(w.schedule_base.clone());
    cfg.catalog_url = Some(w.catalog_base.clone());
    let adapter = Arc::new(ScheduleAdapter::new(cfg, clock::system(), none.clone(), none).unwrap());
    let engine = Engine::new(
        EngineOptions {
            window: Duration::from_secs(30),
            slate_url: Some(format!("{}/ts/slate/master.m3u8", w.fx)),
            channel_prefill: Some(Duration::from_secs(6)),
            ..Default::default()
        },
        Arc::new(SystemClock),
        store,
        adapter.clone(),
        adapter,
    );
    engine.reload_channels().await.unwrap();
    engine.spawn_background();
    let addr = serve(engine::Service::new(engine.clone(), None, None).router()).await;
    (engine, format!("http://{addr}/channels/tv"))
}

/// One segment as followed: where it came from and what was on it.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    uri: String,
    pdt_ms: i64,
    programme: Option<String>,
    cue_out: bool,
    cue_in: bool,
}

/// Reads a media playlist into its segments by media sequence number (each segment's date
/// from the last `EXT-X-PROGRAM-DATE-TIME` plus the durations after it).
fn segments(text: &str) -> BTreeMap<u64, Seen> {
    let pl = hls::parse_media(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    let mut out = BTreeMap::new();
    let mut date: Option<i64> = None;
    for (i, s) in pl.segments.iter().enumerate() {
        if let Some(p) = s.program_date_time {
            date = Some(p.timestamp_millis());
        }
        let pdt_ms = date.expect("the first segment carries a date");
        let programme = s
            .dateranges
            .iter()
            .find(|d| d.class() == Some(engine::timeline::PROGRAMME_CLASS))
            .and_then(|d| d.attrs.get("X-PROGRAMME-ID").map(str::to_string));
        out.insert(
            pl.media_sequence + i as u64,
            Seen {
                uri: s.uri.clone(),
                pdt_ms,
                programme,
                cue_out: s
                    .markers
                    .iter()
                    .any(|m| matches!(m, hls::Marker::CueOut { .. })),
                cue_in: s.markers.iter().any(|m| matches!(m, hls::Marker::CueIn)),
            },
        );
        date = Some(pdt_ms + (s.duration * 1000.0).round() as i64);
    }
    out
}

/// Follows `channels` (every replica in turn) until the schedule is over; returns the
/// segments seen, by media sequence, and how many same-window reloads of two replicas
/// were compared byte for byte.
async fn follow(w: &World, channels: &[String]) -> (BTreeMap<u64, Seen>, usize) {
    let http = reqwest::Client::new();
    let master = http
        .get(format!("{}/master.m3u8", channels[0]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let media = master
        .lines()
        .find(|l| !l.starts_with('#') && l.ends_with(".m3u8"))
        .expect("a variant")
        .to_string();
    let end = w.events.last().unwrap().end_time + 4_000;
    let mut seen = BTreeMap::new();
    let mut compared = 0;
    while now_ms() < end {
        let mut bodies = Vec::new();
        for ch in channels {
            let url = format!("{ch}/{media}");
            let r = http.get(&url).send().await.unwrap();
            assert_eq!(r.status(), 200, "{url}");
            bodies.push(r.text().await.unwrap());
        }
        let parsed: Vec<_> = bodies.iter().map(|b| segments(b)).collect();
        for (b, p) in bodies.iter().zip(&parsed).skip(1) {
            // The same window (first and last sequence numbers) must be the same bytes.
            if p.keys().next() == parsed[0].keys().next()
                && p.keys().last() == parsed[0].keys().last()
            {
                assert_eq!(b, &bodies[0], "replicas differ on the same window");
                compared += 1;
            }
        }
        for p in parsed {
            for (seq, s) in p {
                if let Some(old) = seen.insert(seq, s.clone()) {
                    assert_eq!(old, s, "segment {seq} changed between reloads");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    (seen, compared)
}

/// Every programme starts within one segment of its time, announced by its DATERANGE;
/// the breaks are marked and filled as scheduled; the live event plays the source.
fn check_timing(w: &World, seen: &BTreeMap<u64, Seen>) {
    let segs: Vec<&Seen> = seen.values().collect();
    let mut changes = 0;
    for e in &w.events {
        if e.kind == EventType::Ad {
            continue;
        }
        let i = segs
            .iter()
            .position(|s| s.programme.as_deref() == Some(&e.id))
            .unwrap_or_else(|| panic!("no DATERANGE for {}: {segs:#?}", e.id));
        let err = segs[i].pdt_ms - e.start_time;
        eprintln!("{:>5} scheduled {} started {err:+} ms off", e.id, e.start);
        assert!(
            err.abs() <= SEGMENT_MS,
            "{} started {err} ms from its scheduled time",
            e.id
        );
        changes += 1;
        // What plays until the next programme (or break) comes from the right place.
        let source = match e.kind {
            EventType::Live => "/ts/vod2/",
            _ => "/ts/vod1/",
        };
        assert!(segs[i].uri.contains(source), "{}: {}", e.id, segs[i].uri);
    }
    assert!(changes >= 6, "{changes} programme starts");
    // The AD event and the break inside p3: CUE-OUT within a segment of their times, the
    // AD event filled with the house ad (vod3), CUE-IN after each.
    let p3 = w.events.iter().find(|e| e.id == "p3").unwrap();
    let ad = w.events.iter().find(|e| e.id == "ad").unwrap();
    for (at, what) in [
        (p3.start_time + 6_000, "p3 break"),
        (ad.start_time, "AD event"),
    ] {
        let i = segs
            .iter()
            .position(|s| s.cue_out && (s.pdt_ms - at).abs() <= SEGMENT_MS)
            .unwrap_or_else(|| panic!("no CUE-OUT for the {what} at {at}: {segs:#?}"));
        assert!(
            segs[i..].iter().any(|s| s.cue_in),
            "no CUE-IN after the {what}"
        );
        if what == "AD event" {
            assert!(
                segs[i].uri.contains("/ts/vod3/"),
                "house ad: {}",
                segs[i].uri
            );
        }
    }
}

async fn validate_follow(master: String) -> (i32, String) {
    lineup(&["validate", "--follow", "60", &master]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_engine_plays_the_schedule_on_the_clock() {
    let w = world().await;
    let (_engine, channel) = replica(&w, Arc::new(MemoryStore::new())).await;
    let validate = tokio::spawn(validate_follow(format!("{channel}/master.m3u8")));
    let (seen, _) = follow(&w, std::slice::from_ref(&channel)).await;
    check_timing(&w, &seen);
    let (code, out) = validate.await.unwrap();
    assert_eq!(code, 0, "lineup validate --follow:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_redis_play_the_same_schedule() {
    testkit::require_peer!("redis-server");
    let redis = testkit::Redis::start().await.expect("redis");
    let w = world().await;
    let store = || async {
        Arc::new(RedisStore::connect(&redis.url(), "sched:").await.unwrap()) as Arc<dyn Store>
    };
    let (_a, a) = replica(&w, store().await).await;
    let (_b, b) = replica(&w, store().await).await;
    let validate = tokio::spawn(validate_follow(format!("{b}/master.m3u8")));
    let (seen, compared) = follow(&w, &[a, b]).await;
    check_timing(&w, &seen);
    assert!(
        compared >= 10,
        "only {compared} same-window reloads compared"
    );
    let (code, out) = validate.await.unwrap();
    assert_eq!(code, 0, "lineup validate --follow:\n{out}");
}
