//! The HTTP surface: bad payloads answer 400 naming the field, the POST API, HLS
//! Interstitials, health and OpenAPI docs.

mod common;

use base64::Engine as _;
use common::{Env, payload};
use serde_json::json;

#[tokio::test]
async fn bad_payloads_are_400_naming_the_field() {
    let env = Env::start().await;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let vod = env.fixture("ts/vod1");
    let ad = env.fixture("ads/vod1");
    let cases: Vec<(String, &str)> = vec![
        ("master.m3u8".into(), "payload"),
        ("master.m3u8?payload=%25%25%25".into(), "payload"),
        (
            format!("master.m3u8?payload={}", b64("{not json")),
            "payload",
        ),
        (
            format!("master.m3u8?payload={}", b64(r#"{"breaks":[]}"#)),
            "payload.uri",
        ),
        (
            format!(
                "master.m3u8?payload={}",
                b64(&json!({"uri": vod, "breaks": [{"pos": -5, "url": ad}]}).to_string())
            ),
            "payload.breaks[0].pos",
        ),
        (
            format!(
                "master.m3u8?payload={}",
                b64(&json!({"uri": env.fixtures.url("/nope/master.m3u8")}).to_string())
            ),
            "payload.uri",
        ),
        (
            format!(
                "master.m3u8?payload={}",
                b64(&json!({"uri": vod, "breaks": [
                    {"pos": 0, "url": ad},
                    {"pos": 2000, "url": env.fixtures.url("/nope/ad.m3u8")}
                ]})
                .to_string())
            ),
            "payload.breaks[1].url",
        ),
        (
            format!(
                "master.m3u8?payload={}",
                b64(&json!({"uri": env.fixtures.url("/ts/vod1/360p/index.m3u8")}).to_string())
            ),
            "payload.uri",
        ),
        (
            format!(
                "master.m3u8?payload={}",
                b64(&json!({"uri": vod, "breaks": [{"pos": 0, "assetListUrl": ad}]}).to_string())
            ),
            "payload.breaks[0].url",
        ),
        (
            format!(
                "media.m3u8?bw=12&payload={}",
                b64(&json!({"uri": vod}).to_string())
            ),
            "bw",
        ),
        (
            format!(
                "media.m3u8?bw=abc&payload={}",
                b64(&json!({"uri": vod}).to_string())
            ),
            "bw",
        ),
        (
            format!(
                "audio.m3u8?groupid=aac&payload={}",
                b64(&json!({"uri": vod}).to_string())
            ),
            "language",
        ),
    ];
    for (path, field) in cases {
        let url = format!("{}/{path}", env.base);
        let resp = env.client.get(&url).send().await.unwrap();
        testkit::http::assert_api_error(resp, 400, field, &url).await;
    }
}

#[tokio::test]
async fn post_returns_the_stitched_path() {
    let env = Env::start().await;
    let p = payload(&env.fixture("ts/vod1"), &[(4000, &env.fixture("ads/vod1"))]);
    let resp = env
        .client
        .post(format!("{}/api/v1/stitch", env.base))
        .json(&p)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    let uri = body["uri"].as_str().unwrap();
    assert!(uri.starts_with("/stitch/master.m3u8?payload="), "{uri}");
    let origin = env.base.trim_end_matches("/stitch");
    let s = env.stitched(&format!("{origin}{uri}")).await;
    assert_eq!(s.media.len(), 2);

    let resp = env
        .client
        .post(format!("{}/api/v1/stitch", env.base))
        .json(&json!({"uri": env.fixture("ts/vod1"), "breaks": [{"pos": 1}]}))
        .send()
        .await
        .unwrap();
    testkit::http::assert_api_error(resp, 400, "payload.breaks[0].url", "POST").await;
}

/// `i=1`: no spliced segments, one interstitial DATERANGE per break with X-ASSET-URI.
#[tokio::test]
async fn interstitials_instead_of_splicing() {
    let env = Env::start().await;
    let ad = env.fixture("ads/vod1");
    let p = payload(
        &env.fixture("ts/vod1"),
        &[(0, &ad), (3000, &ad), (9000, &ad)],
    );
    let s = env.stitched(&env.master_url(&p, "&i=1")).await;
    for m in &s.media {
        assert!(m.url.contains("i=1"), "{}", m.url);
        let pl = &m.playlist;
        assert_eq!(pl.segments.len(), 4, "content only: {}", m.text);
        assert!(pl.segments.iter().all(|s| s.uri.contains("/ts/vod1/")));
        let ranges: Vec<_> = pl
            .segments
            .iter()
            .enumerate()
            .flat_map(|(i, s)| s.dateranges.iter().map(move |d| (i, d)))
            .collect();
        assert_eq!(ranges.len(), 3, "{}", m.text);
        let cues: Vec<_> = ranges.iter().map(|(_, d)| d.attrs.get("CUE")).collect();
        assert_eq!(cues, [Some("PRE"), None, Some("POST")]);
        for (_, d) in &ranges {
            assert_eq!(d.class(), Some("com.apple.hls.interstitial"));
            assert_eq!(d.attrs.get("X-ASSET-URI"), Some(ad.as_str()));
            assert_eq!(d.duration(), Some(10.0));
        }
        // The mid-roll starts at the 4 s boundary (pos 3 s snapped forward).
        let start = ranges[1].1.start_date().unwrap();
        let base = pl.segments[0].program_date_time.unwrap();
        assert_eq!((start - base).num_milliseconds(), 4000);
        assert_eq!(ranges[1].0, 2);
    }
}

#[tokio::test]
async fn health_docs_and_empty_vtt() {
    let env = Env::start().await;
    let c = &env.client;
    assert_eq!(
        testkit::http::get_status(c, format!("{}/healthz", env.base)).await,
        200
    );
    assert_eq!(
        testkit::http::get_status(c, format!("{}/api/docs", env.base)).await,
        200
    );
    let doc = testkit::http::get_json(c, format!("{}/api/docs/openapi.json", env.base)).await;
    for path in [
        "/api/v1/stitch",
        "/master.m3u8",
        "/media.m3u8",
        "/audio.m3u8",
        "/subtitles.m3u8",
        "/empty.vtt",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    let (status, body) = testkit::http::get_text(c, format!("{}/empty.vtt", env.base)).await;
    assert_eq!(status, 200);
    assert!(body.starts_with("WEBVTT"));
}
