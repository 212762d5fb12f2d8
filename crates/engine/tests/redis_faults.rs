//! Faults of Redis: hung (SIGSTOP) or gone (killed), an engine keeps serving the window it
//! can render from what it holds, answers 503 with a JSON error and `Retry-After` (never a
//! hang) for what it cannot, and recovers by itself when Redis is back. Every request has a
//! deadline.

mod common;

use std::sync::Arc;
use std::time::Duration;

use clock::ManualClock;
use common::*;
use engine::{Engine, EngineOptions, RedisStore, RedisTimeouts, Service, Store, Target};
use serde_json::json;

/// No request may take longer than this, Redis hung or not.
const DEADLINE: Duration = Duration::from_secs(5);

fn timeouts() -> RedisTimeouts {
    RedisTimeouts {
        connect: Duration::from_millis(500),
        response: Duration::from_millis(500),
    }
}

struct Setup {
    redis: testkit::Redis,
    clock: Arc<ManualClock>,
    engine: Engine,
    base: String,
    http: reqwest::Client,
    fx: String,
}

async fn setup() -> Setup {
    let redis = testkit::Redis::start().await.expect("redis");
    let fx = fixture_server().await;
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect_with(&redis.url(), "f:", timeouts())
            .await
            .unwrap(),
    );
    let engine = engine_with(adapter(&fx), options(&fx), clock.clone(), store).await;
    let base = serve(Service::new(engine.clone(), None, None).router()).await;
    let http = reqwest::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap();
    Setup {
        redis,
        clock,
        engine,
        base,
        http,
        fx,
    }
}

fn adapter(fx: &str) -> engine::FileAdapter {
    channels(json!({"channels": [{
        "id": "c",
        "vods": [format!("{fx}ts/vod1/master.m3u8"), format!("{fx}ts/vod2/master.m3u8"),
                 format!("{fx}ts/vod3/master.m3u8")]
    }]}))
}

fn options(fx: &str) -> EngineOptions {
    EngineOptions {
        window: Duration::from_secs(20),
        lookahead: Duration::from_secs(30),
        slate_url: Some(format!("{fx}ts/slate/master.m3u8")),
        ..EngineOptions::default()
    }
}

/// `GET` with the deadline (a hang fails the test): (status, Retry-After, body).
async fn get(s: &Setup, path: &str) -> (u16, Option<String>, String) {
    let r = s
        .http
        .get(format!("{}{path}", s.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: no answer within {DEADLINE:?}: {e}"));
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, retry, r.text().await.unwrap())
}

/// A valid live media playlist (static RFC 8216 rules).
fn assert_valid(text: &str) {
    let (parsed, problems) = hls::validate::check_text(text);
    assert!(parsed.is_some(), "{text}");
    let errors: Vec<_> = problems
        .into_iter()
        .filter(|p| p.severity == hls::validate::Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{text}");
}

/// A session scheduled 20 s ahead (before the fault); its id.
async fn warm_session(s: &Setup) -> String {
    let created: serde_json::Value = s
        .http
        .post(format!("{}api/v1/sessions", s.base))
        .json(&json!({"channel": "c"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("a session").to_string();
    let t = Target::Session(id.clone());
    let ahead = s.engine.now_ms() + 20_000;
    s.engine.media_playlist_at(&t, "v0", ahead).await.unwrap();
    id
}

/// With Redis down: the scheduled window keeps being served (and moves with the clock),
/// past it the engine answers 503 with a JSON error and Retry-After, quickly. `session`
/// was scheduled ahead before the fault: it keeps playing too (recording its use in the
/// store fails, which is logged, not answered).
async fn serves_what_it_holds_then_503(s: &Setup, session: &str) -> String {
    // Inside what the engine scheduled before the fault (now + lookahead).
    let (st, _, first) = get(s, "channels/c/v0.m3u8").await;
    assert_eq!(st, 200, "{first}");
    assert_valid(&first);
    s.clock.advance_ms(10_000);
    let (st, _, moved) = get(s, "channels/c/v0.m3u8").await;
    assert_eq!(st, 200, "{moved}");
    assert_valid(&moved);
    assert_ne!(first, moved, "the window moved with the clock");
    let (st, _, text) = get(s, &format!("sessions/{session}/v0.m3u8")).await;
    assert_eq!(st, 200, "{text}");
    assert_valid(&text);
    // The master needs no store.
    assert_eq!(get(s, "channels/c/master.m3u8").await.0, 200);

    // Beyond the schedule: 503, JSON, Retry-After; twice (the second fails fast).
    s.clock.advance_ms(60_000);
    for _ in 0..2 {
        let (st, retry, body) = get(s, "channels/c/v1.m3u8").await;
        assert_eq!(st, 503, "{body}");
        assert!(retry.is_some(), "no Retry-After");
        let v: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    }
    // Sessions need the store: 503, not a hang.
    let (st, _, body) = get(s, "channels/c/master.m3u8?session=new").await;
    assert_eq!(st, 503, "{body}");
    let (st, _, body) = get(s, "sessions/0123/master.m3u8").await;
    assert_eq!(st, 503, "{body}");
    moved
}

/// After Redis is back: the engine answers 200 again by itself (no restart, no call).
async fn recovers(s: &Setup) {
    testkit::wait_until(Duration::from_secs(20), "the engine recovers", || async {
        get(s, "channels/c/v1.m3u8").await.0 == 200
    })
    .await
    .expect("recovered");
    let (st, _, text) = get(s, "channels/c/v0.m3u8").await;
    assert_eq!(st, 200);
    assert_valid(&text);
    // Sessions work again too.
    let created: serde_json::Value = s
        .http
        .post(format!("{}api/v1/sessions", s.base))
        .json(&json!({"channel": "c"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("a session").to_string();
    let (st, _, text) = get(s, &format!("sessions/{id}/v0.m3u8")).await;
    assert_eq!(st, 200, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_neither_hangs_nor_breaks_the_window() {
    testkit::require_peer!("redis-server");
    let mut s = setup().await;
    s.engine.warm_up().await;
    let session = warm_session(&s).await;
    s.redis.pause();
    serves_what_it_holds_then_503(&s, &session).await;
    s.redis.cont();
    recovers(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_redis_is_survived_and_rejoined() {
    testkit::require_peer!("redis-server");
    let mut s = setup().await;
    s.engine.warm_up().await;
    let session = warm_session(&s).await;
    s.redis.stop();
    serves_what_it_holds_then_503(&s, &session).await;
    // Back, empty (no persistence): the engine re-seeds its channel's log from what it holds.
    s.redis.resume().await.expect("redis again");
    recovers(&s).await;
    // A replica joining now renders the same bytes as the one that survived.
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect_with(&s.redis.url(), "f:", timeouts())
            .await
            .unwrap(),
    );
    let other = engine_with(adapter(&s.fx), options(&s.fx), s.clock.clone(), store).await;
    let t = Target::Channel("c".into());
    for _ in 0..5 {
        let x = s.engine.media_playlist(&t, "v0").await.unwrap().body;
        let y = other.media_playlist(&t, "v0").await.unwrap().body;
        assert_eq!(x, y);
        s.clock.advance_ms(3_000);
    }
}
