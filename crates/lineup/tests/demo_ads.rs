//! `lineup demo` with ads: the SSAI URL the banner prints serves a viewer session in front
//! of the origin's DVR endpoint; it passes `lineup validate --follow` across ad breaks,
//! ffmpeg decodes it, and the ad segments it fetched fired beacons at the test ad server.

mod common;
use common::lineup;

use std::time::Duration;

use lineup::demo::start;

async fn get(url: &str) -> Option<String> {
    let r = reqwest::get(url).await.ok()?;
    r.status().is_success().then_some(())?;
    r.text().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_ssai_session_validates_and_decodes() {
    testkit::require_peer!("ffmpeg");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let args = common::demo_args(&listener, 1);
    let demo = start(&args, listener).await.expect("demo starts");
    let base = demo.base.clone();
    // An explicit session (so reloading the master keeps the same viewer), once the DVR
    // endpoint lists a break.
    let path = demo
        .ssai_master
        .split("/ads/v1/master/demo/")
        .nth(1)
        .expect("SSAI URL shape")
        .to_string();
    testkit::wait_until(Duration::from_secs(90), "a break at the origin", || {
        let master = format!("{base}/origin/out/{path}");
        async move {
            let Some(m) = get(&master).await else {
                return false;
            };
            let Some(uri) = m
                .lines()
                .find(|l| l.ends_with(".m3u8") && !l.starts_with('#'))
            else {
                return false;
            };
            let media = master.replace("index.m3u8", uri);
            get(&media).await.is_some_and(|t| t.contains("SCTE35-OUT"))
        }
    })
    .await
    .unwrap();
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/ads/v1/session/demo/{path}"))
        .json(&serde_json::json!({"adsParams": {"uid": "demo-viewer"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Both URLs answer as returned (absolute, under the demo's /ads).
    let master = answer["manifestUrl"].as_str().unwrap().to_string();
    let tracking = answer["trackingUrl"].as_str().unwrap();
    assert!(
        master.starts_with(&format!("{base}/ads/v1/master/demo/")),
        "{answer}"
    );
    let r = reqwest::get(tracking).await.unwrap();
    assert_eq!(r.status(), 200, "{tracking}");
    let id = master.rsplit_once("aws.sessionId=").unwrap().1.to_string();
    let decode_args = ["-http_persistent", "0", "-i", master.as_str(), "-t", "24"];
    let follow_args = ["validate", "--follow", "24", master.as_str()];
    let (decode, follow) = tokio::join!(
        testkit::ffmpeg_decode(&decode_args, Duration::from_secs(90)),
        lineup(&follow_args)
    );
    decode.assert_clean("demo SSAI session");
    assert_eq!(follow.0, 0, "SSAI session:\n{}", follow.1);
    let info: serde_json::Value = reqwest::get(format!("{base}/ads/api/v1/sessions/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(info["avails"].as_u64().unwrap_or(0) >= 1, "{info}");
    let fetched = info["fetched"].as_array().cloned().unwrap_or_default();
    let beacons = info["beacons"].as_array().cloned().unwrap_or_default();
    assert!(!fetched.is_empty(), "ffmpeg played an ad: {info}");
    assert!(
        beacons.iter().any(|b| b["event"] == "impression"),
        "an impression was sent: {info}"
    );
}
