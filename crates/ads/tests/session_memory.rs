//! Memory per SSAI session (run by `bench/ads/run.sh`; ignored in the test suite, it
//! measures rather than asserts): N explicit sessions over the ad-marked fixture VOD, each
//! with its master and one media playlist rendered (so each holds a timeline and a decided
//! break), RSS before and after, and sessions per second at creation. With `REDIS_URL`,
//! sessions live in that Redis: its `used_memory` before and after too.

mod common;

use common::*;
use serde_json::json;

fn rss_kb() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: bench/ads/run.sh runs it"]
async fn memory_per_session() {
    let n: usize = std::env::var("SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let (_a, fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let fx_base = fx.url("").trim_end_matches('/').to_string();
    let (_s, ads_base) = ad_server(&fx_base).await;
    let redis = std::env::var("REDIS_URL").ok();
    let sessions: Option<std::sync::Arc<dyn ads::ssai::SessionStore>> = match &redis {
        Some(url) => Some(std::sync::Arc::new(
            ads::ssai::RedisSessions::connect(url, "bench:ads:")
                .await
                .unwrap(),
        )),
        None => None,
    };
    let (p, proxy) = proxy(ads::ProxyConfig {
        sessions,
        max_sessions: n + 1000,
        // Keep every session for the measurement.
        min_idle: std::time::Duration::from_secs(3600),
        ..Default::default()
    })
    .await;
    put_config(
        &proxy,
        "m",
        json!({
            "VideoContentSourceUrl": fx_base,
            "AdDecisionServerUrl": format!("{ads_base}/api/v1/vast?dur=[session.avail_duration_secs]"),
            "SlateAdUrl": format!("{fx_base}/ts/slate/master.m3u8"),
        }),
    )
    .await;
    let http = reqwest::Client::new();
    let one = |http: reqwest::Client| {
        let proxy = proxy.clone();
        async move {
            let (master, _t, id) =
                explicit_session(&proxy, "m", "ads/vod1/master.m3u8", json!({})).await;
            let ok = http.get(&master).send().await.unwrap().status() == 200;
            let media = format!("{proxy}/v1/manifest/m/{id}/0.m3u8");
            ok && http.get(&media).send().await.unwrap().status() == 200
        }
    };
    // Warm up (caches, allocator pools), then measure.
    for _ in 0..200 {
        assert!(one(http.clone()).await);
    }
    let before = rss_kb();
    let redis_before = redis_used(redis.as_deref()).await;
    let start = p.session_count().await.unwrap();
    let clock = std::time::Instant::now();
    let mut done = 0;
    while done < n {
        let batch: Vec<_> = (0..50.min(n - done)).map(|_| one(http.clone())).collect();
        for ok in futures::future::join_all(batch).await {
            assert!(ok);
        }
        done += 50;
    }
    let secs = clock.elapsed().as_secs_f64();
    let after = rss_kb();
    let redis_after = redis_used(redis.as_deref()).await;
    let sessions = p.session_count().await.unwrap() - start;
    let store = match redis_before.zip(redis_after) {
        Some((b, a)) => format!(
            ", Redis used_memory {:.1} KB per session",
            a.saturating_sub(b) as f64 / 1024.0 / sessions as f64
        ),
        None => String::new(),
    };
    println!(
        "ssai sessions{}: {sessions}, RSS {before} KB -> {after} KB, {:.1} KB per session{store}; {:.0} sessions/s (create + master + media playlist)",
        if redis.is_some() { " (Redis)" } else { "" },
        (after.saturating_sub(before)) as f64 / sessions as f64,
        sessions as f64 / secs
    );
}

/// Redis's `used_memory`, bytes.
async fn redis_used(url: Option<&str>) -> Option<u64> {
    let client = redis::Client::open(url?).ok()?;
    let mut c = client.get_multiplexed_async_connection().await.ok()?;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut c)
        .await
        .ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
}
