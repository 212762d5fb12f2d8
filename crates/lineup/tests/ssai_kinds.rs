//! SSAI in front of every content kind `lineup demo` publishes (CMAF, AES-128, CMAF cbcs), with an ad server that
//! answers only MP4 mezzanines behind a 3-level wrapper chain (the ads crate's test stack):
//! the demo's proxy conditions the creative to each content's profile (fMP4 with an init
//! segment for the CMAF endpoint, TS for the AES-128 one) and splices it. For each kind, a
//! viewer session passes `lineup validate --follow` across a break, ffmpeg decodes it
//! through the break (for AES-128: the content's key fetched, the ads in the clear and the
//! key restored after them, IVs explicit), every discontinuity of the fMP4 sessions names
//! its `EXT-X-MAP`, ads play in the clear between keyed content (cbcs too), and each ad
//! segment probes (ffprobe) at its variant's resolution.

mod common;
#[path = "../../ads/tests/mp4_stack/mod.rs"]
mod mp4_stack;

use std::time::Duration;

use common::lineup;
use lineup::demo::start;
use mp4_stack::Mp4Stack;

async fn get(url: &str) -> Option<String> {
    let r = reqwest::get(url).await.ok()?;
    r.status().is_success().then_some(())?;
    r.text().await.ok()
}

fn resolve(base: &str, rel: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(rel)
        .unwrap()
        .to_string()
}

/// The session's variants: (media playlist URL, RESOLUTION).
async fn variants(master: &str) -> Vec<(String, String)> {
    let text = get(master).await.expect("session master");
    let m = hls::parse_master(&text).unwrap();
    m.variants
        .iter()
        .map(|v| {
            (
                resolve(master, &v.uri),
                v.attrs.get("RESOLUTION").unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Width x height of the video of `data` (an ad segment, its init segment prepended).
async fn probe_size(data: &[u8], dir: &std::path::Path) -> String {
    let path = dir.join("ad-segment");
    std::fs::write(&path, data).unwrap();
    let j = testkit::ffprobe_json(&["-show_streams", path.to_str().unwrap()]).await;
    let v = j["streams"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["codec_type"] == "video").cloned())
        .unwrap_or_else(|| panic!("no video stream: {j}"));
    format!("{}x{}", v["width"], v["height"])
}

/// Checks one kind's session playlist while it shows an ad: keys or maps around it, and
/// each ad segment's size.
async fn check_playlist(kind: &str, variant: &str, resolution: &str, dir: &std::path::Path) {
    let text = get(variant).await.unwrap();
    let m = hls::parse_media(&text).unwrap();
    let ads: Vec<usize> = (0..m.segments.len())
        .filter(|&i| m.segments[i].uri.contains("segment/kinds/"))
        .collect();
    assert!(!ads.is_empty(), "{kind}: no ad in\n{text}");
    for (i, s) in m.segments.iter().enumerate() {
        if kind != "aes" && (s.discontinuity || i == 0) {
            assert!(
                s.map.is_some(),
                "{kind}: segment {i} names no EXT-X-MAP\n{text}"
            );
        }
        let keys = m.effective_keys(i);
        let clear = keys.is_empty() || keys.iter().all(|k| k.method() == Some("NONE"));
        if ads.contains(&i) {
            assert!(clear, "{kind}: ad segment {i} under a key\n{text}");
        } else if kind == "drm" {
            assert!(!clear, "{kind}: content segment {i} in the clear\n{text}");
        } else if kind == "aes" {
            assert!(!clear, "{kind}: content segment {i} in the clear\n{text}");
            assert!(
                keys.iter().all(|k| k.attrs.get("IV").is_some()),
                "{kind}: content key without an explicit IV\n{text}"
            );
        }
    }
    let i = ads[0];
    let mut data = Vec::new();
    if let Some(init) = m.effective_map(i).and_then(|x| x.uri()) {
        data.extend(
            reqwest::get(resolve(variant, init))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        );
    }
    let seg = resolve(variant, &m.segments[i].uri);
    let r = reqwest::get(&seg).await.unwrap();
    assert!(r.status().is_success(), "{seg}: {}", r.status());
    data.extend(r.bytes().await.unwrap());
    assert_eq!(probe_size(&data, dir).await, resolution, "{kind}: {seg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mp4_ads_in_cmaf_and_aes128_content() {
    testkit::require_peer!("ffmpeg");
    testkit::require_peer!("ffprobe");
    let tmp = tempfile::tempdir().unwrap();
    let mezz = tmp.path().join("mezz");
    std::fs::create_dir_all(&mezz).unwrap();
    let stack = Mp4Stack::start_with(&mezz, |_| Vec::new()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let args = common::demo_args(&listener, 1);
    let demo = start(&args, listener).await.expect("demo starts");
    let base = demo.base.clone();
    let r = reqwest::Client::new()
        .put(format!("{base}/ads/api/v1/playbackConfigurations/kinds"))
        .json(&serde_json::json!({
            "VideoContentSourceUrl": format!("{base}/origin/out"),
            "AdDecisionServerUrl": stack.ads_url(),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let dvr_path = demo
        .ssai_master
        .split("/ads/v1/master/demo/")
        .nth(1)
        .expect("SSAI URL shape")
        .to_string();
    for kind in ["cmaf", "aes", "drm"] {
        let path = dvr_path.replace("/dvr/", &format!("/{kind}/"));
        let origin_master = format!("{base}/origin/out/{path}");
        testkit::wait_until(
            Duration::from_secs(90),
            "the endpoint at the origin",
            || {
                let m = origin_master.clone();
                async move { get(&m).await.is_some() }
            },
        )
        .await
        .unwrap();
        let answer: serde_json::Value = reqwest::Client::new()
            .post(format!("{base}/ads/v1/session/kinds/{path}"))
            .json(&serde_json::json!({"adsParams": {"uid": format!("viewer-{kind}")}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let master = answer["manifestUrl"]
            .as_str()
            .expect("manifestUrl")
            .to_string();
        let vs = variants(&master).await;
        assert!(!vs.is_empty(), "{kind}: no variants");
        // The first break makes the proxy condition the creative; a later one plays it.
        let waited = testkit::wait_until(Duration::from_secs(240), "an ad in the session", || {
            let v = vs[0].0.clone();
            async move { get(&v).await.is_some_and(|t| t.contains("segment/kinds/")) }
        })
        .await;
        if let Err(e) = waited {
            let now = get(&vs[0].0).await.unwrap_or_default();
            panic!(
                "{kind}: {e:?}; the session's playlist:\n{now}\nhits: {:?}",
                stack.hits()
            );
        }
        for (variant, resolution) in &vs {
            check_playlist(kind, variant, resolution, tmp.path()).await;
        }
        // From inside the break on: the validator and ffmpeg across its end (the DRM
        // endpoint's cbcs content needs a CDM: the validator only).
        let decode_args = ["-http_persistent", "0", "-i", master.as_str(), "-t", "20"];
        let follow_args = ["validate", "--follow", "30", master.as_str()];
        let decode = async {
            if kind != "drm" {
                testkit::ffmpeg_decode(&decode_args, Duration::from_secs(120))
                    .await
                    .assert_clean(&format!("{kind} SSAI session"));
            }
        };
        let (_, follow) = tokio::join!(decode, lineup(&follow_args));
        assert_eq!(follow.0, 0, "{kind} SSAI session:\n{}", follow.1);
    }
    // Every ad the viewers fetched reported its impression to the ad server.
    let hits = stack.hits();
    for kind in ["cmaf", "aes", "drm"] {
        assert!(
            hits.iter()
                .any(|h| h.starts_with(&format!("viewer-{kind}/"))
                    && h.ends_with("/inline/alpha/impression")),
            "{kind}: {hits:?}"
        );
    }
}
