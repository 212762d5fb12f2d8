//! Sessions at scale: a cap on live sessions (503 + Retry-After beyond it, `?session=new`
//! included), a fresh session listing three target durations at once, expiry reaching every
//! replica's memory, and session listing on Redis in a bounded number of round trips.

mod common;

use std::sync::Arc;
use std::time::Duration;

use clock::ManualClock;
use common::*;
use engine::{
    Engine, EngineOptions, MemoryStore, RedisStore, Service, Store, Target,
    timeline::PLAYER_START_TARGETS,
};
use serde_json::json;

fn opts(fx: &str, max_sessions: usize) -> EngineOptions {
    EngineOptions {
        window: Duration::from_secs(20),
        session_ttl: Duration::from_secs(30),
        slate_url: Some(format!("{fx}ts/slate/master.m3u8")),
        max_sessions,
        ..EngineOptions::default()
    }
}

fn ts_channel(fx: &str) -> engine::FileAdapter {
    channels(json!({"channels": [{
        "id": "c",
        "vods": [format!("{fx}ts/vod1/master.m3u8"), format!("{fx}ts/vod2/master.m3u8")]
    }]}))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// `GET master.m3u8?session=new` and `POST /api/v1/sessions` share one cap; beyond it both
/// answer 503 with `Retry-After` and a JSON error; expired sessions stop counting.
#[tokio::test]
async fn the_session_cap_answers_503_with_retry_after() {
    let fx = fixture_server().await;
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let (_e, base) = serve_engine(ts_channel(&fx), opts(&fx, 3), clock.clone()).await;
    let http = no_redirects();
    let new = format!("{base}channels/c/master.m3u8?session=new");
    for _ in 0..2 {
        let r = http.get(&new).send().await.unwrap();
        assert_eq!(r.status(), 302);
    }
    let r = http
        .post(format!("{base}api/v1/sessions"))
        .json(&json!({"channel": "c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    for what in ["query", "api"] {
        let r = match what {
            "query" => http.get(&new).send().await.unwrap(),
            _ => http
                .post(format!("{base}api/v1/sessions"))
                .json(&json!({"channel": "c"}))
                .send()
                .await
                .unwrap(),
        };
        let retry = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        assert!(
            retry.is_some_and(|s| s > 0),
            "{what}: Retry-After {retry:?}"
        );
        testkit::http::assert_api_error(r, 503, "session", what).await;
    }
    let listed: serde_json::Value = http
        .get(format!("{base}api/v1/sessions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed}");

    // The three expire (30 s TTL, never requested): a new one fits again.
    clock.advance_ms(31_000);
    let r = http.get(&new).send().await.unwrap();
    assert_eq!(r.status(), 302);
}

/// Summed `EXTINF` of a media playlist, ms.
fn listed_ms(pl: &hls::MediaPlaylist) -> u64 {
    pl.segments
        .iter()
        .map(|s| (s.duration * 1000.0).round() as u64)
        .sum()
}

/// A fresh session lists at least three target durations at once (players start that far
/// from the live edge), from its first item's first segment; on a fake clock, at its first
/// instant and at every later one.
#[tokio::test]
async fn a_fresh_session_lists_three_target_durations() {
    let fx = fixture_server().await;
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let e = engine_with(
        ts_channel(&fx),
        opts(&fx, 10),
        clock.clone(),
        Arc::new(MemoryStore::new()),
    )
    .await;
    for _ in 0..3 {
        let s = e.create_session("c", None, None).await.unwrap();
        let t = Target::Session(s.id.clone());
        let first = e.media_playlist(&t, "v0").await.unwrap();
        let pl = hls::parse_media(std::str::from_utf8(&first.body).unwrap()).unwrap();
        let td = pl.target_duration.unwrap();
        assert!(
            listed_ms(&pl) >= PLAYER_START_TARGETS as u64 * td * 1000,
            "a fresh session lists too little: {}",
            String::from_utf8_lossy(&first.body)
        );
        assert_eq!(pl.media_sequence, 0);
        assert!(pl.segments[0].uri.contains("ts/vod1/"), "{pl:?}");
        for _ in 0..20 {
            clock.advance_ms(700);
            let b = e.media_playlist(&t, "v0").await.unwrap().body;
            let pl = hls::parse_media(std::str::from_utf8(&b).unwrap()).unwrap();
            let td = pl.target_duration.unwrap();
            assert!(listed_ms(&pl) >= PLAYER_START_TARGETS as u64 * td * 1000);
        }
    }
}

/// The same, followed like a player (wall clock): the validator sees no short window on a
/// session's very first reloads, nor anything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_session_follows_clean_from_its_first_reload() {
    let fx = fixture_server().await;
    let (_e, base) =
        serve_engine(ts_channel(&fx), opts(&fx, 10), Arc::new(clock::SystemClock)).await;
    let created = create_session(&base, "c").await;
    let master = created["master_url"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let b = base.clone();
    let follower = testkit::PlaylistFollower::start(&master, move |path| {
        let (http, url) = (http.clone(), format!("{b}{path}"));
        async move {
            let r = http.get(url).send().await.ok()?;
            if !r.status().is_success() {
                return None;
            }
            r.bytes().await.ok()
        }
    });
    let report = follower.finish_after(8, Duration::from_secs(40)).await;
    report.assert_clean(8);
    let short: Vec<_> = report
        .warnings
        .keys()
        .filter(|k| k.contains("window-too-short"))
        .collect();
    assert!(short.is_empty(), "{:?}", report.warnings);
}

async fn redis_store(redis: &testkit::Redis, prefix: &str) -> Arc<dyn Store> {
    Arc::new(RedisStore::connect(&redis.url(), prefix).await.unwrap())
}

/// Two engines on one Redis: both hold a session's schedule; once it expires (swept by one
/// of them) or is deleted on one, the other's sweep drops it from its memory too. The cap
/// counts the sessions of both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_leave_every_replica() {
    testkit::require_peer!("redis-server");
    let redis = testkit::Redis::start().await.expect("redis");
    let fx = fixture_server().await;
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mk = |store| engine_with(ts_channel(&fx), opts(&fx, 3), clock.clone(), store);
    let a = mk(redis_store(&redis, "x:").await).await;
    let b = mk(redis_store(&redis, "x:").await).await;

    let s1 = a.create_session("c", None, None).await.unwrap();
    let s2 = b.create_session("c", None, None).await.unwrap();
    let t1 = Target::Session(s1.id.clone());
    let t2 = Target::Session(s2.id.clone());
    for e in [&a, &b] {
        e.media_playlist(&t1, "v0").await.unwrap();
        e.media_playlist(&t2, "v0").await.unwrap();
        assert_eq!(e.local_sessions(), 2);
    }
    // The cap (3) counts both replicas' sessions.
    a.create_session("c", None, None).await.unwrap();
    assert!(matches!(
        b.create_session("c", None, None).await,
        Err(engine::Error::TooManySessions(3))
    ));

    // s2 is deleted through one replica: the other drops it at its next sweep and answers
    // 404 for it.
    a.delete_session(&s2.id).await.unwrap();
    assert_eq!(b.sweep_local_sessions().await.unwrap(), 1);
    assert_eq!(b.local_sessions(), 1);
    assert!(matches!(
        b.media_playlist(&t2, "v0").await,
        Err(engine::Error::NoSuchSession(_))
    ));

    // s1 expires: one replica's sweep removes it from the store, each replica's sweep from
    // its memory.
    clock.advance_ms(31_000);
    assert_eq!(a.sweep_sessions().await.unwrap(), 2);
    assert_eq!(a.local_sessions(), 0);
    assert_eq!(b.local_sessions(), 1);
    assert_eq!(b.sweep_sessions().await.unwrap(), 0, "already swept by a");
    assert_eq!(b.local_sessions(), 0);
    assert!(b.sessions().await.unwrap().is_empty());
    assert!(b.media_playlist(&t1, "v0").await.is_err());
}

/// Redis `INFO commandstats`: command -> calls (INFO itself left out).
async fn redis_calls(
    c: &mut redis::aio::MultiplexedConnection,
) -> std::collections::BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(c)
        .await
        .unwrap();
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            (name != "info").then(|| (name.to_string(), calls))
        })
        .collect()
}

/// Listing sessions on Redis: one range query on the last-seen index, then the records in
/// one pipeline of MGETs (512 keys each): no command per session, so the round trips stay
/// two whether 20 or 1,500 sessions are live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_sessions_on_redis_takes_bounded_round_trips() {
    testkit::require_peer!("redis-server");
    let redis = testkit::Redis::start().await.expect("redis");
    let fx = fixture_server().await;
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let e: Engine = engine_with(
        ts_channel(&fx),
        opts(&fx, 100_000),
        clock.clone(),
        redis_store(&redis, "l:").await,
    )
    .await;
    let svc = Service::new(e.clone(), None, None);
    let base = serve(svc.router()).await;
    let mut raw = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for total in [20usize, 1_500] {
        for _ in e.sessions().await.unwrap().len()..total {
            e.create_session("c", None, None).await.unwrap();
        }
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut raw)
            .await
            .unwrap();
        let listed: serde_json::Value = reqwest::get(format!("{base}api/v1/sessions"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed.as_array().map(Vec::len), Some(total));
        let mut calls = redis_calls(&mut raw).await;
        calls.remove("config|resetstat");
        let mgets = calls.remove("mget").unwrap_or(0);
        assert_eq!(calls.remove("zrange"), Some(1), "{total}: {calls:?}");
        assert_eq!(mgets, total.div_ceil(512) as u64, "{total}");
        assert!(calls.is_empty(), "{total}: other commands {calls:?}");
    }
}
