//! The ad server users really have: it answers only MP4 mezzanines (1280x720, 25 fps,
//! 10 s, made by ffmpeg at test time), behind a 3-level wrapper chain (VAST 2.0, 3.0, 4.0
//! wrappers over a VAST 4 pod), in front of a live engine channel with ad breaks, through
//! the SSAI proxy with conditioning on. Once the creatives are conditioned (a first viewer
//! asks; that break plays slate), two viewers play on: every break of theirs has the two
//! good ads; their playlists follow clean (RFC 8216 oracle) across at least three breaks;
//! every ad segment they fetch decodes (ffprobe) with the codecs, profile, level, size,
//! frame rate, sample rate and channels of the content variant it sits in; the impression
//! and the five quartile beacons of each ad and of each wrapper level reach the ad server
//! once per viewer and break; the pod's broken creative (not media: conditioning fails)
//! fires error 405 and its VPAID-only one 403, on every level of the chain.
//!
//! Real time at 2x (the engine's clock): about two minutes, most of it the three breaks
//! each viewer must play through, with conditioning (three ffmpeg jobs, one at a time)
//! before them.

mod common;
mod mp4_stack;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ads::ProxyConfig;
use ads::condition::{ConditionConfig, Conditioner, Readiness, profile};
use common::*;
use mp4_stack::{ADS, EVENTS, LEVELS, Mp4Stack};
use serde_json::{Value, json};

const BREAK_SECS: f64 = 20.0;
const SPEED: f64 = 2.0;

/// Segments a viewer fetched: (playlist URI, bytes).
type Fetched = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A player of one variant: reloads it every half target duration (real time) and fetches
/// every new segment (redirects followed), until `stop`.
fn play(
    variant_url: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (Fetched, tokio::task::JoinHandle<()>) {
    let fetched: Fetched = Arc::default();
    let out = fetched.clone();
    let task = tokio::spawn(async move {
        let http = reqwest::Client::new();
        let mut seen: BTreeSet<u64> = BTreeSet::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            if let Ok(r) = http.get(&variant_url).send().await
                && let Ok(text) = r.text().await
                && let Ok(m) = hls::parse_media(&text)
            {
                for (i, s) in m.segments.iter().enumerate() {
                    let seq = m.sequence_of(i);
                    if !seen.insert(seq) {
                        continue;
                    }
                    let url = resolve(&variant_url, &s.uri);
                    if let Ok(r) = http.get(&url).send().await
                        && r.status().is_success()
                        && let Ok(b) = r.bytes().await
                    {
                        out.lock().unwrap().push((s.uri.clone(), b.to_vec()));
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    (fetched, task)
}

/// What ffprobe says about a segment: the properties an ad must share with its content.
async fn shape(data: &[u8], dir: &Path, name: &str) -> Vec<(String, String)> {
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    let j = testkit::ffprobe_json(&["-show_streams", path.to_str().unwrap()]).await;
    let mut out = Vec::new();
    for s in j["streams"].as_array().cloned().unwrap_or_default() {
        let kind = s["codec_type"].as_str().unwrap_or("").to_string();
        let keys: &[&str] = match kind.as_str() {
            "video" => &[
                "codec_name",
                "profile",
                "level",
                "width",
                "height",
                "avg_frame_rate",
            ],
            "audio" => &["codec_name", "profile", "sample_rate", "channels"],
            _ => continue,
        };
        for k in keys {
            out.push((format!("{kind}.{k}"), s[*k].to_string()));
        }
    }
    out
}

/// The `<MediaFile>` of an extra ad.
fn media_file(mime: &str, url: &str, api: &str) -> String {
    format!(
        r#"<MediaFile delivery="progressive" type="{mime}" width="1280" height="720"{api}><![CDATA[{url}]]></MediaFile>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mp4_only_ad_server_behind_three_wrappers_fills_every_break() {
    testkit::require_peer!("ffmpeg");
    testkit::require_peer!("ffprobe");
    let tmp = tempfile::tempdir().unwrap();
    let (_fx_addr, fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let fx_base = fx.url("").trim_end_matches('/').to_string();
    let mezz = tmp.path().join("mezz");
    std::fs::create_dir_all(&mezz).unwrap();
    std::fs::write(mezz.join("junk.mp4"), vec![0x42u8; 64 * 1024]).unwrap();
    let stack_extra = |base: &str| {
        vec![
            (
                "junk".to_string(),
                media_file("video/mp4", &format!("{base}/media/junk.mp4"), ""),
            ),
            (
                "vpaid".to_string(),
                media_file(
                    "application/javascript",
                    "https://vpaid.invalid/ad.js",
                    " apiFramework=\"VPAID\"",
                ),
            ),
        ]
    };
    // The extras' URLs name the stack, so start it in two steps: a placeholder for its
    // base, which the MediaFile of `junk` needs.
    let stack = Mp4Stack::start_with(&mezz, stack_extra).await;
    let engine = engine_channel(&fx_base, BREAK_SECS, SPEED).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_base = format!("http://{}", listener.local_addr().unwrap());
    let conditioner = Conditioner::new(
        ConditionConfig::new(
            tmp.path().join("conditioned"),
            format!("{proxy_base}/v1/conditioned"),
        ),
        reqwest::Client::new(),
    )
    .unwrap();
    let proxy = ads::Proxy::new(ProxyConfig {
        conditioner: Some(conditioner.clone()),
        ..Default::default()
    });
    let router = proxy.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    put_config(
        &proxy_base,
        "mp4",
        json!({
            "VideoContentSourceUrl": format!("{engine}/channels"),
            "AdDecisionServerUrl": stack.ads_url(),
            "SlateAdUrl": format!("{fx_base}/ts/slate/master.m3u8"),
        }),
    )
    .await;

    // Every level of the chain answers valid VAST (vastlint, the IAB rules).
    for level in LEVELS {
        let text = reqwest::get(format!(
            "{}/vast/{level}?uid=lint&avail=0&dur=20",
            stack.base
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        let errors = mp4_stack::lint(&text);
        assert!(errors.is_empty(), "{level}: {errors:?}\n{text}");
    }

    // A first viewer's first break makes the proxy condition the creatives; wait for them.
    let (warm, _, _) = explicit_session(
        &proxy_base,
        "mp4",
        "live/master.m3u8",
        json!({"uid": "warm"}),
    )
    .await;
    let content = format!("{engine}/channels/live/master.m3u8");
    let p = Arc::new(
        profile::read(&reqwest::Client::new(), &content)
            .await
            .unwrap(),
    );
    let media_url = |name: &str| format!("{}/media/{name}.mp4", stack.base);
    testkit::wait_until(Duration::from_secs(240), "creatives conditioned", || {
        let (warm, conditioner, p) = (warm.clone(), conditioner.clone(), p.clone());
        let urls: Vec<String> = ["alpha", "beta", "junk"]
            .iter()
            .map(|n| media_url(n))
            .collect();
        async move {
            // Keep the warm-up session's playlists moving (that is what asks).
            let master = get_text(&warm).await.1;
            if let Some(v) = master
                .lines()
                .find(|l| !l.starts_with('#') && !l.is_empty())
            {
                let _ = get_text(&resolve(&warm, v)).await;
            }
            let ready = |u: &str| matches!(conditioner.lookup(u, &p), Readiness::Ready(_));
            ready(&urls[0])
                && ready(&urls[1])
                && matches!(conditioner.lookup(&urls[2], &p), Readiness::Failed(_))
        }
    })
    .await
    .unwrap();

    // Two viewers, each followed by the RFC 8216 oracle and played (variant 0).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut viewers = Vec::new();
    for uid in ["ann", "bob"] {
        let (master, _tracking, id) =
            explicit_session(&proxy_base, "mp4", "live/master.m3u8", json!({"uid": uid})).await;
        let text = get_text(&master).await.1;
        let variants: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| resolve(&master, l))
            .collect();
        let follower = follow(&master);
        let (fetched, task) = play(variants[0].clone(), stop.clone());
        viewers.push((uid, master, id, variants, follower, fetched, task));
    }
    // Until each has played three whole breaks (the last ad's complete at the inline level).
    testkit::wait_until(
        Duration::from_secs(300),
        "three whole breaks per viewer",
        || {
            let hits = stack.hits();
            async move {
                ["ann", "bob"].iter().all(|uid| {
                    let done: BTreeSet<&str> = hits
                        .iter()
                        .filter(|h| {
                            h.starts_with(&format!("{uid}/"))
                                && h.ends_with("/inline/beta/complete")
                        })
                        .map(|h| h.split('/').nth(1).unwrap_or(""))
                        .collect();
                    done.len() >= 3
                })
            }
        },
    )
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);

    let content_master = hls::parse_master(&get_text(&content).await.1).unwrap();
    let hits = stack.hits();
    for (uid, _master, _id, variants, follower, fetched, task) in viewers {
        task.await.unwrap();
        follower
            .finish_after(10, Duration::from_secs(30))
            .await
            .assert_clean(10);
        // The breaks this viewer played whole.
        let whole: BTreeSet<String> = hits
            .iter()
            .filter(|h| h.starts_with(&format!("{uid}/")) && h.ends_with("/inline/beta/complete"))
            .map(|h| h.split('/').nth(1).unwrap().to_string())
            .collect();
        assert!(whole.len() >= 3, "{uid}: {whole:?}");
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for h in hits.iter().filter(|h| h.starts_with(&format!("{uid}/"))) {
            *counts.entry(h.clone()).or_default() += 1;
        }
        for avail in &whole {
            let n = |path: &str| {
                counts
                    .get(&format!("{uid}/{avail}/{path}"))
                    .copied()
                    .unwrap_or(0)
            };
            for ad in ADS {
                for event in EVENTS {
                    assert_eq!(
                        n(&format!("inline/{ad}/{event}")),
                        1,
                        "{uid} break {avail}: {ad} {event}"
                    );
                }
            }
            for level in &LEVELS[..3] {
                for event in EVENTS {
                    // Each wrapper's tracking goes with both ads it led to.
                    assert_eq!(
                        n(&format!("{level}/any/{event}")),
                        2,
                        "{uid} break {avail}: {level} {event}"
                    );
                }
                assert_eq!(
                    n(&format!("{level}/any/error?code=405")),
                    1,
                    "{uid} break {avail}: {level}"
                );
                assert_eq!(
                    n(&format!("{level}/any/error?code=403")),
                    1,
                    "{uid} break {avail}: {level}"
                );
            }
            assert_eq!(n("inline/junk/error?code=405"), 1, "{uid} break {avail}");
            assert_eq!(n("inline/vpaid/error?code=403"), 1, "{uid} break {avail}");
            assert_eq!(
                n("inline/junk/impression") + n("inline/vpaid/impression"),
                0
            );
        }
        // Every ad segment decodes like the content variant it sits in.
        let ad_segments: Vec<(String, Vec<u8>)> = fetched
            .lock()
            .unwrap()
            .iter()
            .filter(|(uri, _)| uri.contains("segment/mp4/"))
            .cloned()
            .collect();
        assert!(
            ad_segments.len() >= 30,
            "{uid}: {} ad segments",
            ad_segments.len()
        );
        let first_content = |i: usize| {
            let base = url::Url::parse(&content).unwrap();
            base.join(&content_master.variants[i].uri)
                .unwrap()
                .to_string()
        };
        let content_shape = |i: usize| {
            let url = first_content(i);
            let dir = tmp.path().to_path_buf();
            async move {
                let m = hls::parse_media(&get_text(&url).await.1).unwrap();
                let seg = resolve(&url, &m.segments[0].uri);
                let bytes = reqwest::get(&seg).await.unwrap().bytes().await.unwrap();
                shape(&bytes, &dir, "content.ts").await
            }
        };
        let want0 = content_shape(0).await;
        for (uri, bytes) in &ad_segments {
            assert_eq!(
                shape(bytes, tmp.path(), "ad.ts").await,
                want0,
                "{uid}: {uri}"
            );
        }
        // And in the other variant, the ad segments of its latest playlist.
        let want1 = content_shape(1).await;
        let text = get_text(&variants[1]).await.1;
        let m = hls::parse_media(&text).unwrap();
        for s in m.segments.iter().filter(|s| s.uri.contains("segment/mp4/")) {
            let b = reqwest::get(resolve(&variants[1], &s.uri))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(
                shape(&b, tmp.path(), "ad1.ts").await,
                want1,
                "{uid}: {}",
                s.uri
            );
        }
    }
    let _ = Value::Null;
}
