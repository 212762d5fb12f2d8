//! Two real engine processes on one real Redis: kill one, the other keeps serving the same
//! session (and channel) with no media-sequence jump, byte-identical to what the killed one
//! served for the same window.
//!
//! The processes are this test executable re-run in "server mode": `serve_child` serves an
//! engine (RedisStore, a sped-up wall clock both processes agree on) when
//! `LINEUP_ENGINE_TEST_SERVE=1` is set, and does nothing otherwise. The parent test spawns
//! `current_exe() --exact serve_child --nocapture` twice and reads each child's address from
//! its stdout.

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use clock::Clock;
use common::*;
use engine::{EngineOptions, RedisStore, Service};
use hls::validate::{LiveTracker, Severity};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Wall time sped up by `factor` from `t0`: processes given the same `t0` and `factor` agree
/// on "now" (each reads the system clock).
struct WallScaled {
    t0: i64,
    factor: f64,
}

impl Clock for WallScaled {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.now_ms()).unwrap_or_default()
    }
    fn now_ms(&self) -> i64 {
        let wall = chrono::Utc::now().timestamp_millis();
        self.t0 + ((wall - self.t0) as f64 * self.factor) as i64
    }
    /// Intervals (TTLs, backoff) run in real time here.
    fn instant(&self) -> std::time::Instant {
        std::time::Instant::now()
    }
}

const FACTOR: f64 = 2.0;

fn env(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| panic!("{k} not set"))
}

/// Server mode (a child process); a no-op in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_child() {
    if std::env::var("LINEUP_ENGINE_TEST_SERVE").as_deref() != Ok("1") {
        return;
    }
    let fx = env("LINEUP_TEST_FX");
    let clock = Arc::new(WallScaled {
        t0: env("LINEUP_TEST_T0").parse().unwrap(),
        factor: FACTOR,
    });
    let store = RedisStore::connect(&env("LINEUP_TEST_REDIS"), "procs:")
        .await
        .unwrap();
    let adapter = channels(json!({"channels": [{
        "id": "c",
        "vods": [format!("{fx}ts/vod1/master.m3u8"), format!("{fx}ts/vod2/master.m3u8"),
                 format!("{fx}missing/master.m3u8"), format!("{fx}ts/vod3/master.m3u8")],
        "ad_every": 2, "ad_duration_secs": 4.0
    }]}));
    let opts = EngineOptions {
        window: Duration::from_secs(20),
        slate_url: Some(format!("{fx}ts/slate/master.m3u8")),
        slate_duration: Duration::from_secs(6),
        ..EngineOptions::default()
    };
    let e = engine_with(adapter, opts, clock, Arc::new(store)).await;
    e.spawn_background();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("LISTENING http://{}/", listener.local_addr().unwrap());
    axum::serve(listener, Service::new(e, None, None).router())
        .await
        .unwrap();
}

async fn spawn_child(fx: &str, redis: &str, t0: i64) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "serve_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("LINEUP_ENGINE_TEST_SERVE", "1")
        .env("LINEUP_TEST_FX", fx)
        .env("LINEUP_TEST_REDIS", redis)
        .env("LINEUP_TEST_T0", t0.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            // libtest prints "test serve_child ... " without a newline before it.
            if let Some(i) = l.find("LISTENING ") {
                return l[i + "LISTENING ".len()..].trim().to_string();
            }
        }
        panic!("child exited before listening")
    })
    .await
    .expect("child listening within 30 s");
    // Keep draining the child's stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, base)
}

async fn get(url: &str) -> String {
    let r = reqwest::get(url).await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.text().await.unwrap()
}

/// What one playlist family showed: window (media sequence, segment count) -> body.
#[derive(Default)]
struct Watch {
    tracker: LiveTracker,
    by_window: HashMap<(u64, usize), String>,
    last_seq: u64,
    /// Sequence number after the newest segment.
    next_seq: u64,
    prev: String,
}

impl Watch {
    /// Feed a body served by engine `who`; check the live rules (no errors, no reload gap)
    /// and that a window seen before has the same bytes.
    fn observe(&mut self, who: &str, body: String, now_ms: u64) {
        let pl = hls::parse_media(&body).unwrap();
        let problems = self.tracker.observe(&pl, now_ms);
        assert!(
            !problems
                .iter()
                .any(|p| p.severity == Severity::Error || p.rule == "reload-gap"),
            "{who}: {problems:?}\n{body}\nprevious:\n{}",
            self.prev
        );
        self.prev = body.clone();
        assert!(pl.media_sequence >= self.last_seq, "{who}: went back");
        self.last_seq = pl.media_sequence;
        self.next_seq = pl.media_sequence + pl.segments.len() as u64;
        let key = (pl.media_sequence, pl.segments.len());
        if let Some(old) = self.by_window.get(&key) {
            assert_eq!(old, &body, "{who}: same window, different bytes");
        } else {
            self.by_window.insert(key, body);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_one_of_two_engine_processes() {
    testkit::require_peer!("redis-server");
    let redis = testkit::Redis::start().await.expect("redis");
    let fx = fixture_server().await;
    let t0 = chrono::Utc::now().timestamp_millis();
    let clock = WallScaled { t0, factor: FACTOR };
    let (mut a, base_a) = spawn_child(&fx, &redis.url(), t0).await;
    let (_b, base_b) = spawn_child(&fx, &redis.url(), t0).await;

    let created = create_session(&base_a, "c").await;
    let sid = created["id"].as_str().unwrap().to_string();
    let paths = [
        format!("sessions/{sid}/v0.m3u8"),
        "channels/c/v1.m3u8".to_string(),
    ];
    let mut watches: Vec<Watch> = paths.iter().map(|_| Watch::default()).collect();
    let mut identical = 0;
    // Both serving: every half target duration of engine time, A then B.
    for _ in 0..10 {
        for (p, w) in paths.iter().zip(watches.iter_mut()) {
            let now = clock.now_ms() as u64;
            let x = get(&format!("{base_a}{p}")).await;
            let y = get(&format!("{base_b}{p}")).await;
            identical += usize::from(x == y);
            w.observe("A", x, now);
            w.observe("B", y, clock.now_ms() as u64);
        }
        tokio::time::sleep(Duration::from_millis((1000.0 / FACTOR) as u64)).await;
    }
    assert!(
        identical >= 10,
        "A and B mostly serve the same bytes: {identical}/20"
    );
    let windows_before: usize = watches.iter().map(|w| w.by_window.len()).sum();

    // Kill A; B carries on for six target durations.
    a.kill().await.unwrap();
    assert!(reqwest::get(format!("{base_a}healthz")).await.is_err());
    let mut seqs = Vec::new();
    for _ in 0..12 {
        for (p, w) in paths.iter().zip(watches.iter_mut()) {
            let y = get(&format!("{base_b}{p}")).await;
            w.observe("B after A died", y, clock.now_ms() as u64);
        }
        seqs.push(watches[0].next_seq);
        tokio::time::sleep(Duration::from_millis((1000.0 / FACTOR) as u64)).await;
    }
    assert!(
        seqs.last() > seqs.first(),
        "the session kept publishing on B: {seqs:?}"
    );
    let windows_after: usize = watches.iter().map(|w| w.by_window.len()).sum();
    assert!(windows_after > windows_before);
    // The session is still known to B (from Redis).
    let s = get(&format!("{base_b}api/v1/sessions/{sid}")).await;
    assert!(s.contains(&sid));
}
