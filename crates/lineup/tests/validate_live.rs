//! `lineup validate --follow` against a live stream that a real `ffmpeg -re` writes during
//! the test: clean as written, and an error once the test tampers with the sequence.

mod common;
use common::lineup;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::{Router, extract::State, routing::get};
use testkit::{FfmpegLive, LiveOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_is_clean_on_ffmpeg_live() {
    testkit::require_peer!("ffmpeg");
    let live = FfmpegLive::start(LiveOptions {
        two_renditions: true,
        ..LiveOptions::default()
    })
    .await
    .expect("ffmpeg live");
    let url = live.playlist_url();
    let (code, out) = lineup(&["validate", "--follow", "30", "--check-segments", &url]).await;
    assert_eq!(
        code,
        0,
        "validate --follow reported problems:\n{out}\nffmpeg:\n{}",
        live.log()
    );
    assert!(out.contains("0 error(s)"), "{out}");
}

#[derive(Clone)]
struct Tamper {
    dir: std::path::PathBuf,
    on: Arc<AtomicBool>,
}

async fn tampered_playlist(State(t): State<Tamper>) -> ([(&'static str, &'static str); 1], String) {
    let text = std::fs::read_to_string(t.dir.join("stream_0/index.m3u8")).unwrap_or_default();
    let text = if t.on.load(Ordering::SeqCst) {
        // Move the sequence back by two: the same numbers now name other segments.
        text.lines()
            .map(|l| match l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
                Some(n) => format!(
                    "#EXT-X-MEDIA-SEQUENCE:{}",
                    n.trim().parse::<u64>().unwrap_or(0).saturating_sub(2)
                ),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    } else {
        text
    };
    ([("content-type", "application/vnd.apple.mpegurl")], text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_reports_a_tampered_sequence() {
    testkit::require_peer!("ffmpeg");
    let live = FfmpegLive::start(LiveOptions::default())
        .await
        .expect("ffmpeg live");
    let tamper = Tamper {
        dir: live.hls_dir(),
        on: Arc::new(AtomicBool::new(false)),
    };
    let app = Router::new()
        .route("/stream_0/index.m3u8", get(tampered_playlist))
        .with_state(tamper.clone())
        .fallback_service(tower_http::services::ServeDir::new(live.hls_dir()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/stream_0/index.m3u8");

    let run = tokio::spawn(async move { lineup(&["validate", "--follow", "12", &url]).await });
    // Let the validator see a few honest reloads first: wait until ffmpeg's sequence moved.
    let start_seq = live.media_sequence(0).unwrap_or(0);
    testkit::wait_until(Duration::from_secs(10), "ffmpeg advances", || {
        let s = live.media_sequence(0);
        async move { s.is_some_and(|s| s >= start_seq + 2) }
    })
    .await
    .unwrap();
    tamper.on.store(true, Ordering::SeqCst);
    let (code, out) = run.await.unwrap();
    server.abort();
    assert_eq!(code, 1, "expected errors:\n{out}");
    assert!(out.contains("error[media-sequence-decreased]"), "{out}");
}
