//! The demo channel's DASH endpoint followed by `lineup validate --follow --check-segments`
//! (the live MPD, a start-over MPD and a time-shifted static MPD), each also valid against
//! the DASH MPD schema (`xmllint --schema`).

mod common;
use common::{demo_args, lineup};

use std::time::Duration;

fn schema_valid(mpd: &str) {
    let Some(xmllint) = testkit::require("xmllint") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("index.mpd");
    std::fs::write(&file, mpd).unwrap();
    let out = std::process::Command::new(xmllint)
        .args(["--noout", "--schema"])
        .arg(testkit::fixture("dash/schema/DASH-MPD.xsd"))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{mpd}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_mpds_follow_clean() {
    testkit::require_peer!("ffmpeg");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let args = demo_args(&listener, 1);
    let demo = lineup::demo::start(&args, listener)
        .await
        .expect("demo starts");
    let url = format!("{}/origin/out/demo/dash/index.mpd", demo.base);
    let http = reqwest::Client::new();
    let started = chrono::Utc::now();
    // Until the MPD lists at least two Periods (a VOD change).
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let (status, text) = testkit::http::get_text(&http, &url).await;
        if status == 200 && text.matches("<Period ").count() >= 2 {
            schema_valid(&text);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status} {text}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let start = started.timestamp() + 2;
    let start_over = format!("{url}?start={start}");
    let shifted = format!("{url}?start={start}&end={}", start + 10);
    let a = [
        "validate",
        "--follow",
        "40",
        "--check-segments",
        url.as_str(),
    ];
    let b = [
        "validate",
        "--follow",
        "40",
        "--check-segments",
        start_over.as_str(),
    ];
    let c = ["validate", "--check-segments", shifted.as_str()];
    let (live, over, shift) = tokio::join!(lineup(&a), lineup(&b), lineup(&c));
    for (what, (code, out)) in [
        ("live", live),
        ("start-over", over),
        ("time-shifted", shift),
    ] {
        assert_eq!(code, 0, "{what}: {out}");
        assert!(out.contains("0 error(s), 0 warning(s)"), "{what}: {out}");
    }
    for u in [&url, &start_over, &shifted] {
        let (status, text) = testkit::http::get_text(&http, u.as_str()).await;
        assert_eq!(status, 200, "{u}: {text}");
        schema_valid(&text);
    }
    let (_, text) = testkit::http::get_text(&http, shifted.as_str()).await;
    assert!(text.contains("type=\"static\""), "{text}");
    let (_, text) = testkit::http::get_text(&http, url.as_str()).await;
    assert!(text.matches("<Period ").count() >= 3, "{text}");
    assert!(
        text.contains("urn:scte:scte35:2013:xml"),
        "no ad avail in the window: {text}"
    );
}
