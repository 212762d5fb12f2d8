//! The operator's metrics: `lineup demo` started as a process, given some traffic (a viewer
//! on each kind of endpoint, an engine session, an SSAI session across an ad break, and a
//! few refused requests), answers on `/metrics` every metric the README's operations table
//! documents, with sane values, and nothing the table does not document.

#[allow(dead_code)] // the browser tests use the rest
#[path = "browser/harness.rs"]
mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use harness::DemoProcess;
use serde_json::json;

/// Documented metrics that count events this test does not cause (failures of peers the
/// demo does not have, caps, expiries), each with why.
const EVENT_ONLY: &[(&str, &str)] = &[
    ("engine_sessions_refused_total", "only at --max-sessions"),
    ("engine_sessions_expired_total", "only after a session TTL"),
    (
        "engine_session_scopes_dropped_total",
        "only after a session TTL",
    ),
    (
        "engine_session_touch_errors_total",
        "only when the store fails",
    ),
    (
        "engine_asset_failures_total",
        "only when a VOD cannot be loaded",
    ),
    ("engine_adapter_errors_total", "only when an adapter fails"),
    (
        "engine_entries_skipped_total",
        "only when a replica resumes behind the store",
    ),
    (
        "engine_log_trims_total",
        "once entries left every window (minutes)",
    ),
    (
        "engine_log_restores_total",
        "only when the store lost a log",
    ),
    ("engine_live_switches_total", "the demo has no live source"),
    (
        "engine_live_poll_errors_total",
        "the demo has no live source",
    ),
    (
        "engine_live_chunk_conflicts_total",
        "needs two replicas with a live source",
    ),
    ("pullpush_ingest_errors_total", "only when an ingest fails"),
    (
        "pullpush_ingest_dropped_total",
        "only when an ingest queue is full",
    ),
    (
        "origin_cmaf_remux_failed_total",
        "only for a segment that cannot be remuxed",
    ),
    (
        "origin_persist_failed_total",
        "disk/S3 stores only, on failure",
    ),
    (
        "origin_follow_failed_total",
        "disk/S3 stores only, on failure",
    ),
    ("schedule_errors_total", "only when a fill or a feed fails"),
    (
        "ssai_sessions_expired_total",
        "only after a session idles out",
    ),
    ("ssai_sessions_refused_total", "only at the session cap"),
    ("ssai_origin_errors_total", "only when the origin fails"),
    ("ssai_ads_errors_total", "only when the ad server fails"),
    (
        "ssai_ads_empty_total",
        "only when the ad server answers no ad",
    ),
    (
        "ssai_creative_errors_total",
        "only for an unplayable creative",
    ),
    (
        "ssai_beacons_sent_total",
        "client-side reporting is the demo's default",
    ),
    ("ssai_beacons_failed_total", "only when a beacon fails"),
    (
        "adserver_tracking_events_total",
        "only when a player sends beacons",
    ),
];

/// The metric names of the README's operations table (`| \`name\` | type | ...`).
fn documented() -> BTreeMap<String, String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let section = readme
        .split("\n## Operations")
        .nth(1)
        .expect("an Operations section in README.md");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((name.to_string(), cells.get(2)?.to_string()))
        })
        .collect()
}

/// One sample of the exposition: name, labels (as written), value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: String,
    value: f64,
}

/// Metric families (from `# TYPE` lines) and samples of a Prometheus text exposition.
fn parse(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(n), Some(t)) = (parts.next(), parts.next()) {
                types.insert(n.to_string(), t.to_string());
            }
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or(f64::NAN),
        };
        samples.push(Sample {
            name: name.to_string(),
            labels: labels.to_string(),
            value,
        });
    }
    (types, samples)
}

/// The first media playlist a master names, absolute.
async fn first_media(client: &reqwest::Client, master: &str) -> Option<String> {
    let (status, text) = testkit::http::get_text(client, master).await;
    if status != 200 {
        return None;
    }
    let uri = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())?;
    Some(
        url::Url::parse(master)
            .ok()?
            .join(uri.trim())
            .ok()?
            .to_string(),
    )
}

/// The last segment a media playlist names, absolute.
async fn last_segment(client: &reqwest::Client, media: &str) -> Option<String> {
    let (status, text) = testkit::http::get_text(client, media).await;
    if status != 200 {
        return None;
    }
    let uri = text
        .lines()
        .rev()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())?;
    Some(
        url::Url::parse(media)
            .ok()?
            .join(uri.trim())
            .ok()?
            .to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_every_documented_metric_with_sane_values() {
    let documented = documented();
    assert!(
        documented.len() > 30,
        "the table is too short: {documented:?}"
    );
    for (name, _) in EVENT_ONLY {
        assert!(
            documented.contains_key(*name),
            "{name} is exempted here but not documented"
        );
    }
    let demo = DemoProcess::start().await;
    demo.wait_for_dvr("dvr", 8.0, Duration::from_secs(90)).await;
    let client = reqwest::Client::new();

    // An engine session (the sessions gauge), refused ingests (errors by reason), a fetcher
    // whose source does not answer (fetchers by state, pull/push errors), the ad server.
    let created: serde_json::Value = client
        .post(demo.url("engine/api/v1/sessions"))
        .json(&json!({"channel": "demo"}))
        .send()
        .await
        .expect("create session")
        .json()
        .await
        .expect("session JSON");
    let session_master = created["master_url"]
        .as_str()
        .expect("master_url")
        .to_string();
    let r = client
        .put(demo.url("origin/in/no-such-channel/1/channel_1.ts"))
        .body(vec![0x47u8; 188])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = client
        .put(demo.url("origin/in/demo/1/channel.m3u8"))
        .body("#EXTM3U\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .post(demo.url("pullpush/api/v1/fetchers"))
        .json(&json!({"name": "broken", "url": "http://127.0.0.1:1/live.m3u8", "output": "void"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    assert_eq!(
        testkit::http::get_status(&client, demo.url("adserver/api/v1/vast?dur=30")).await,
        200
    );

    // Viewers: the engine channel and the session, the DVR/AES/CMAF endpoints and an SSAI
    // session, polled as players would until every metric has counted something (the SSAI
    // and ad metrics need an ad break to come into the SSAI window).
    let playlists = [
        demo.url("engine/channels/demo/master.m3u8"),
        session_master,
        demo.url("origin/out/demo/dvr/index.m3u8"),
        demo.url("origin/out/demo/aes/index.m3u8"),
        demo.url("origin/out/demo/cmaf/index.m3u8"),
        demo.url("ads/v1/master/demo/demo/dvr/index.m3u8?ads.uid=metrics"),
    ];
    let mut medias: Vec<Option<String>> = vec![None; playlists.len()];
    let exempt: BTreeSet<&str> = EVENT_ONLY.iter().map(|(n, _)| *n).collect();
    let expected: BTreeSet<String> = documented
        .keys()
        .filter(|n| !exempt.contains(n.as_str()))
        .cloned()
        .collect();
    let metrics_url = demo.url("metrics");
    let deadline = std::time::Instant::now() + Duration::from_secs(150);
    let text = loop {
        for (master, media) in playlists.iter().zip(medias.iter_mut()) {
            if media.is_none() {
                *media = first_media(&client, master).await;
            }
            let Some(media) = media.as_deref() else {
                continue;
            };
            // Twice: a render, then (within the same window position) a cache hit.
            let _ = testkit::http::get_text(&client, media).await;
            if let Some(seg) = last_segment(&client, media).await {
                let _ = testkit::http::get_bytes(&client, seg).await;
            }
        }
        let (_, text) = testkit::http::get_text(&client, metrics_url.as_str()).await;
        let (types, samples) = parse(&text);
        let missing: Vec<&String> = expected
            .iter()
            .filter(|n| !types.contains_key(n.as_str()))
            .collect();
        // The sessions gauge follows the engine's once-a-second sweep of what it holds.
        let sessions_held = samples
            .iter()
            .any(|s| s.name == "engine_sessions" && s.value >= 1.0);
        if missing.is_empty() && sessions_held {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not on /metrics after 150 s of traffic: {missing:?} (engine session held: \
             {sessions_held})\ndemo log:\n{}",
            demo.log()
        );
        // A player's reload interval.
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    let (types, samples) = parse(&text);
    // The documented type is the exposed type.
    for (name, kind) in &documented {
        if let Some(t) = types.get(name) {
            assert_eq!(t, kind, "{name}: documented as {kind}, exposed as {t}");
        }
    }
    // Nothing undocumented (the table is the operator's reference).
    let undocumented: Vec<&String> = types
        .keys()
        .filter(|n| !documented.contains_key(*n))
        .collect();
    assert!(
        undocumented.is_empty(),
        "exposed on /metrics but not in README's operations table: {undocumented:?}"
    );

    // Sane values.
    let value = |name: &str, labels: &str| -> f64 {
        samples
            .iter()
            .filter(|s| {
                s.name == name
                    && labels
                        .split(',')
                        .all(|l| l.is_empty() || s.labels.contains(l))
            })
            .map(|s| s.value)
            .sum()
    };
    for s in &samples {
        assert!(s.value.is_finite() || s.name.ends_with("_bucket"), "{s:?}");
        assert!(s.value >= 0.0, "a negative value: {s:?}");
    }
    for (name, kind) in &types {
        if kind == "histogram" {
            let count = value(&format!("{name}_count"), "");
            assert!(count >= 1.0, "{name}: no observations");
            let inf = value(&format!("{name}_bucket"), r#"le="+Inf""#);
            assert_eq!(
                inf, count,
                "{name}: the +Inf bucket holds every observation"
            );
        }
    }
    assert!(
        value("engine_sessions", "") >= 1.0,
        "the session we created"
    );
    assert!(value("engine_render_cache_hits_total", "") >= 1.0);
    assert!(value("engine_renders_total", "") >= 1.0);
    assert!(value("pullpush_fetchers", r#"state="running""#) >= 1.0);
    assert_eq!(
        value("pullpush_fetchers", ""),
        2.0,
        "the demo's fetcher and the broken one, each in one state"
    );
    assert!(value("pullpush_errors_total", r#"kind="source""#) >= 1.0);
    assert!(value("pullpush_segments_total", "") >= 4.0);
    assert!(value("pullpush_fetch_seconds_count", r#"kind="segment""#) >= 4.0);
    assert!(value("pullpush_push_seconds_count", r#"output="mediapackage""#) >= 4.0);
    assert!(value("origin_ingest_errors_total", r#"reason="unknown_channel""#) >= 1.0);
    assert!(value("origin_ingest_errors_total", r#"reason="unauthorized""#) >= 1.0);
    assert!(value("origin_ingest_seconds_count", r#"kind="segment""#) >= 4.0);
    assert!(value("origin_ingest_seconds_count", r#"kind="playlist""#) >= 1.0);
    assert!(value("origin_channels", "") >= 1.0);
    assert!(value("ssai_sessions", "") >= 1.0);
    assert!(
        value(
            "http_requests_total",
            r#"route="/engine/channels/{id}/{file}",status="2xx""#
        ) >= 1.0
            || samples.iter().any(|s| s.name == "http_requests_total"
                && s.labels.contains("/engine/")
                && s.value >= 1.0),
        "engine requests counted by route"
    );
}
