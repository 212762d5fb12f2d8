//! Two SSAI proxies sharing sessions through one Redis, behind a "load balancer" that
//! alternates every request between them: a viewer's playlists are the same from both
//! (byte for byte, whenever both see the same origin window), the RFC 8216 oracle follows
//! them clean across breaks, one replica killed mid-break leaves the viewer playing on the
//! other without a validator error, and every impression reaches the ad server once.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ads::ProxyConfig;
use ads::ssai::{RedisSessions, SessionStore};
use common::*;
use serde_json::json;

const BREAK_SECS: f64 = 10.0;
const SPEED: f64 = 2.0;

/// A replica on its own port; its server task (abort it to kill the replica).
async fn replica(redis: &str) -> (String, tokio::task::JoinHandle<()>) {
    let store: Arc<dyn SessionStore> =
        Arc::new(RedisSessions::connect(redis, "test:ads:").await.unwrap());
    let p = ads::Proxy::new(ProxyConfig {
        sessions: Some(store),
        ..Default::default()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = p.router();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (base, task)
}

/// The load balancer: which replica the next request goes to.
struct Balancer {
    bases: Vec<String>,
    next: AtomicUsize,
    a_down: AtomicBool,
}

impl Balancer {
    fn pick(&self) -> &str {
        if self.a_down.load(Ordering::SeqCst) {
            return &self.bases[1];
        }
        &self.bases[self.next.fetch_add(1, Ordering::SeqCst) % 2]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_redis_serve_one_viewer() {
    testkit::require_peer!("redis-server");
    let redis = testkit::Redis::start().await.unwrap();
    let (_fx_addr, fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let fx_base = fx.url("").trim_end_matches('/').to_string();
    let (ad_server, ads_base) = ad_server(&fx_base).await;
    let engine = engine_channel(&fx_base, BREAK_SECS, SPEED).await;
    let (a, a_task) = replica(&redis.url()).await;
    let (b, _b_task) = replica(&redis.url()).await;
    for base in [&a, &b] {
        put_config(
            base,
            "demo",
            json!({
                "VideoContentSourceUrl": format!("{engine}/channels"),
                "AdDecisionServerUrl": format!("{ads_base}/api/v1/vast?dur=[session.avail_duration_secs]&uid=[player_params.uid]"),
                "SlateAdUrl": format!("{fx_base}/ts/slate/master.m3u8"),
            }),
        )
        .await;
    }
    // A session made on A, its master read from B.
    let (master_a, _tracking, id) =
        explicit_session(&a, "demo", "live/master.m3u8", json!({"uid": "rita"})).await;
    let master_path = master_a.strip_prefix(&format!("{a}/")).unwrap().to_string();
    let (status, master_b) = get_text(&format!("{b}/{master_path}")).await;
    assert_eq!(status, 200, "{master_b}");
    assert_eq!(
        master_b,
        get_text(&master_a).await.1,
        "one master from both"
    );
    let lb = Arc::new(Balancer {
        bases: vec![a.clone(), b.clone()],
        next: AtomicUsize::new(0),
        a_down: AtomicBool::new(false),
    });
    // The oracle follows through the balancer.
    let http = reqwest::Client::new();
    let follower = {
        let (lb, http) = (lb.clone(), http.clone());
        testkit::PlaylistFollower::start(&master_path, move |p: String| {
            let url = format!("{}/{p}", lb.pick());
            let http = http.clone();
            async move {
                let r = http.get(&url).send().await.ok()?;
                if !r.status().is_success() {
                    return None;
                }
                r.bytes().await.ok()
            }
        })
    };
    // A player of variant 0 through the balancer: every new segment fetched (ad segments
    // from whichever replica served the playlist: they fire the beacons).
    let variant = master_b
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap()
        .to_string();
    let variant_path = resolve(&format!("{b}/{master_path}"), &variant)
        .strip_prefix(&format!("{b}/"))
        .unwrap()
        .to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let same = Arc::new(AtomicUsize::new(0));
    let compared = Arc::new(AtomicUsize::new(0));
    let differing = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let player = {
        let (lb, http, stop) = (lb.clone(), http.clone(), stop.clone());
        let (same, compared, path) = (same.clone(), compared.clone(), variant_path.clone());
        let differing = differing.clone();
        let (a, b) = (a.clone(), b.clone());
        tokio::spawn(async move {
            let mut seen = std::collections::BTreeSet::new();
            while !stop.load(Ordering::SeqCst) {
                // Both replicas' answers, back to back, while both are up.
                if !lb.a_down.load(Ordering::SeqCst) {
                    let (ua, ub) = (format!("{a}/{path}"), format!("{b}/{path}"));
                    let (ta, tb) = tokio::join!(get_text(&ua), get_text(&ub));
                    compared.fetch_add(1, Ordering::SeqCst);
                    if ta == tb {
                        same.fetch_add(1, Ordering::SeqCst);
                    } else if window(&ta.1) == window(&tb.1) {
                        // The same content window must give the same bytes.
                        differing.lock().unwrap().push((ta.1.clone(), tb.1.clone()));
                    }
                }
                let url = format!("{}/{path}", lb.pick());
                if let Ok(r) = http.get(&url).send().await
                    && let Ok(text) = r.text().await
                    && let Ok(m) = hls::parse_media(&text)
                {
                    for (i, s) in m.segments.iter().enumerate() {
                        if seen.insert(m.sequence_of(i)) {
                            let _ = http.get(resolve(&url, &s.uri)).send().await;
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(700)).await;
            }
        })
    };
    // Past one break on both, then kill A in the middle of the next one.
    let info = format!("{b}/api/v1/sessions/{id}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = get_json(&info).await["avails"].as_u64().unwrap_or(0);
    testkit::wait_until(Duration::from_secs(120), "two more breaks", || {
        let info = info.clone();
        async move { get_json(&info).await["avails"].as_u64().unwrap_or(0) >= started + 2 }
    })
    .await
    .unwrap();
    testkit::wait_until(Duration::from_secs(60), "inside a break", || {
        let url = format!("{b}/{variant_path}");
        async move {
            let text = get_text(&url).await.1;
            let last = text
                .lines()
                .rev()
                .find(|l| !l.starts_with('#'))
                .unwrap_or("");
            last.contains("/segment/")
        }
    })
    .await
    .unwrap();
    lb.a_down.store(true, Ordering::SeqCst);
    a_task.abort();
    let killed_at = get_json(&info).await["avails"].as_u64().unwrap_or(0);
    // The viewer plays on through B past another break.
    testkit::wait_until(Duration::from_secs(120), "a break after the kill", || {
        let info = info.clone();
        async move { get_json(&info).await["avails"].as_u64().unwrap_or(0) > killed_at + 1 }
    })
    .await
    .unwrap();
    stop.store(true, Ordering::SeqCst);
    player.await.unwrap();
    follower
        .finish_after(10, Duration::from_secs(30))
        .await
        .assert_clean(10);
    let (same, compared) = (same.load(Ordering::SeqCst), compared.load(Ordering::SeqCst));
    assert!(compared >= 10, "{compared} comparisons");
    // Differences only where the two replicas' origin caches held different windows (a
    // replica reloads the content playlist on its own schedule): the same window is
    // always the same bytes.
    let differing = std::mem::take(&mut *differing.lock().unwrap());
    assert!(
        differing.is_empty(),
        "{} of {compared} answers differ for the same window:\n{:#?}",
        differing.len(),
        differing.first()
    );
    assert!(same * 2 >= compared, "{same} of {compared} identical");

    // Beacons: each (break, ad, event) fired once across both replicas, and the ad server
    // counted every impression once.
    let info = get_json(&info).await;
    let fired = info["beacons"].as_array().cloned().unwrap_or_default();
    assert!(
        fired.iter().any(|b| b["event"] == "impression"),
        "impressions fired: {info}"
    );
    let mut per: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for b in &fired {
        *per.entry((
            b["availIndex"].to_string(),
            b["adId"].as_str().unwrap().to_string(),
            b["url"].as_str().unwrap().to_string(),
        ))
        .or_default() += 1;
    }
    assert!(
        per.values().all(|n| *n == 1),
        "a beacon fired twice: {per:?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut impressions: BTreeMap<(String, String), usize> = BTreeMap::new();
    for s in ad_server.sessions() {
        for e in ad_server.events(&s.session_id).unwrap_or_default() {
            if e.kind == "vast:adImpression" {
                *impressions
                    .entry((s.session_id.clone(), e.on_ad.clone().unwrap_or_default()))
                    .or_default() += 1;
            }
        }
    }
    assert!(impressions.len() >= 2, "{impressions:?}");
    assert!(
        impressions.values().all(|n| *n == 1),
        "an impression counted twice: {impressions:?}"
    );
}

/// The content window a media playlist shows: its media sequence.
fn window(playlist: &str) -> Option<u64> {
    playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.trim().parse().ok())
}
