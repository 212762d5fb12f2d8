//! MP4-only ads (the wrapper-chain stack of `mp4_ads.rs`) in a live engine channel with
//! demuxed audio (two languages in one group) and one with WebVTT subtitles: the creative is
//! conditioned with an audio rendition per content audio rendition; while an ad plays, each
//! audio playlist lists that rendition's segments (ffprobe: audio only, with the codec,
//! sample rate and channels of the content's audio rendition), the video playlists the
//! matching video, and each subtitles playlist empty WebVTT segments. The RFC 8216 oracle
//! follows every rendition of both sessions across the break.

mod common;
mod mp4_stack;

use std::time::Duration;

use ads::ProxyConfig;
use ads::condition::{ConditionConfig, Conditioner};
use common::*;
use mp4_stack::Mp4Stack;
use serde_json::{Value, json};

const BREAK_SECS: f64 = 10.0;
const SPEED: f64 = 2.0;

/// ffprobe's streams of `data` as (type, codec, sample rate, channels).
async fn streams(data: &[u8], dir: &std::path::Path) -> Vec<(String, String, String, String)> {
    let path = dir.join("probe");
    std::fs::write(&path, data).unwrap();
    let j = testkit::ffprobe_json(&["-show_streams", path.to_str().unwrap()]).await;
    j["streams"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s: &Value| {
            (
                s["codec_type"].to_string(),
                s["codec_name"].to_string(),
                s["sample_rate"].to_string(),
                s["channels"].to_string(),
            )
        })
        .collect()
}

async fn bytes(url: &str) -> Vec<u8> {
    let r = reqwest::get(url).await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.bytes().await.unwrap().to_vec()
}

/// Every rendition URL of a session master: (URL, TYPE of its EXT-X-MEDIA or "VARIANT").
async fn renditions(master: &str) -> Vec<(String, String)> {
    let m = hls::parse_master(&get_text(master).await.1).unwrap();
    let mut out: Vec<(String, String)> = m
        .variants
        .iter()
        .map(|v| (resolve(master, &v.uri), "VARIANT".to_string()))
        .collect();
    for r in &m.media {
        if let Some(u) = r.uri() {
            out.push((
                resolve(master, u),
                r.attrs.get("TYPE").unwrap_or("").to_string(),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mp4_ads_in_demuxed_audio_and_subtitled_channels() {
    testkit::require_peer!("ffmpeg");
    testkit::require_peer!("ffprobe");
    let tmp = tempfile::tempdir().unwrap();
    let (_fx_addr, fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let fx_base = fx.url("").trim_end_matches('/').to_string();
    let mezz = tmp.path().join("mezz");
    std::fs::create_dir_all(&mezz).unwrap();
    let stack = Mp4Stack::start_with(&mezz, |_| Vec::new()).await;
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
        conditioner: Some(conditioner),
        ..Default::default()
    });
    let router = proxy.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    for kind in ["demuxed", "subs"] {
        let vod = format!("{fx_base}/{kind}/vod1/master.m3u8");
        let engine = engine_channel_of(std::slice::from_ref(&vod), &vod, BREAK_SECS, SPEED).await;
        put_config(
            &proxy_base,
            kind,
            json!({
                "VideoContentSourceUrl": format!("{engine}/channels"),
                "AdDecisionServerUrl": stack.ads_url(),
            }),
        )
        .await;
        let (master, _t, _id) = explicit_session(
            &proxy_base,
            kind,
            "live/master.m3u8",
            json!({"uid": format!("v-{kind}")}),
        )
        .await;
        let all = renditions(&master).await;
        let follower = follow(&master);
        // Wait for an ad in every rendition at once (the first break conditions the
        // creative; a later one plays it).
        let waited = testkit::wait_until(Duration::from_secs(300), "an ad everywhere", || {
            let all = all.clone();
            async move {
                for (u, _) in &all {
                    let t = get_text(u).await.1;
                    if !(t.contains(&format!("segment/{kind}/")) || t.contains("empty.vtt")) {
                        return false;
                    }
                }
                true
            }
        })
        .await;
        if let Err(e) = waited {
            let now = get_text(&all[0].0).await.1;
            panic!("{kind}: {e:?}\n{now}");
        }
        let content_master = hls::parse_master(
            &get_text(&format!("{engine}/channels/live/master.m3u8"))
                .await
                .1,
        )
        .unwrap();
        let content_url = format!("{engine}/channels/live/master.m3u8");
        let mut audio_k = 0;
        for (u, ty) in &all {
            let m = hls::parse_media(&get_text(u).await.1).unwrap();
            let ad = m
                .segments
                .iter()
                .find(|s| {
                    s.uri.contains(&format!("segment/{kind}/")) || s.uri.contains("empty.vtt")
                })
                .unwrap();
            let data = bytes(&resolve(u, &ad.uri)).await;
            match ty.as_str() {
                "SUBTITLES" => {
                    assert!(ad.uri.contains("empty.vtt"), "{u}: {}", ad.uri);
                    let text = String::from_utf8(data).unwrap();
                    assert!(
                        text.starts_with("WEBVTT") && !text.contains("-->"),
                        "{text}"
                    );
                }
                "AUDIO" => {
                    // The content's audio rendition k, first segment.
                    let r = content_master
                        .media
                        .iter()
                        .filter(|r| r.media_type() == Some(hls::MediaType::Audio))
                        .filter_map(|r| r.uri())
                        .nth(audio_k)
                        .unwrap();
                    audio_k += 1;
                    let cu = resolve(&content_url, r);
                    let cm = hls::parse_media(&get_text(&cu).await.1).unwrap();
                    let want =
                        streams(&bytes(&resolve(&cu, &cm.segments[0].uri)).await, tmp.path()).await;
                    let got = streams(&data, tmp.path()).await;
                    assert_eq!(got, want, "{kind}: audio ad segment {} in {u}", ad.uri);
                    assert!(got.iter().all(|s| s.0 == "\"audio\""), "{got:?}");
                }
                _ => {
                    let got = streams(&data, tmp.path()).await;
                    assert!(got.iter().any(|s| s.0 == "\"video\""), "{u}: {got:?}");
                    if kind == "demuxed" {
                        assert!(
                            got.iter().all(|s| s.0 != "\"audio\""),
                            "{u}: muxed audio {got:?}"
                        );
                    }
                }
            }
        }
        assert_eq!(audio_k, if kind == "demuxed" { 2 } else { 0 });
        follower
            .finish_after(6, Duration::from_secs(30))
            .await
            .assert_clean(6);
    }
}
