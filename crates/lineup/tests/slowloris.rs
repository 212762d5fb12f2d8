//! A request path that holds: 2,000 slowloris connections (each sends half a request head
//! and a header line now and then, never finishing) are held open against `lineup demo`
//! while wrk loads an origin live playlist and an AES-128 segment. Every wrk request must
//! be answered with a 2xx (no socket errors, no timeouts), and a plain client must still
//! get its answers. Latency is reported by `bench/slowloris/run.sh`, never asserted here.

mod common;

use std::time::Duration;

use lineup::demo::start;
use tokio::io::AsyncWriteExt;

const IDLE: usize = 2_000;

async fn get(url: &str) -> Option<String> {
    let r = reqwest::get(url).await.ok()?;
    r.status().is_success().then_some(())?;
    r.text().await.ok()
}

/// First media playlist named by `master_url` that lists at least `n` segments.
async fn media_with_segments(master_url: &str, n: usize) -> Option<(String, String)> {
    let master = get(master_url).await?;
    let uri = master
        .lines()
        .find(|l| l.ends_with(".m3u8") && !l.starts_with('#'))?;
    let media_url = url::Url::parse(master_url)
        .ok()?
        .join(uri)
        .ok()?
        .to_string();
    let media = get(&media_url).await?;
    (media.matches("#EXTINF").count() >= n).then_some((media_url, media))
}

/// wrk's summary: (requests, non-2xx, socket errors).
fn wrk(url: &str) -> (u64, u64, String) {
    let out = std::process::Command::new("wrk")
        .args(["-t2", "-c16", "-d3s", "--timeout", "5s", url])
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}");
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let non_2xx = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses:"))
        .and_then(|l| l.rsplit(':').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let socket_errors = text
        .lines()
        .find(|l| l.contains("Socket errors:"))
        .map(str::to_string)
        .unwrap_or_default();
    (requests, non_2xx, socket_errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_connections_do_not_starve_viewers() {
    testkit::require_peer!("ffmpeg");
    testkit::require_peer!("wrk");
    web::raise_fd_limit();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let args = common::demo_args(&listener, 2);
    let demo = start(&args, listener).await.expect("demo starts");
    let endpoint = |id: &str| {
        demo.origin
            .endpoints
            .iter()
            .find(|e| e.spec.id == id)
            .unwrap_or_else(|| panic!("{id} endpoint"))
            .url
            .clone()
    };
    let (dvr, aes) = (endpoint("dvr"), endpoint("aes"));
    let (playlist_url, _) = testkit::wait_for(Duration::from_secs(90), "origin playlist", || {
        let dvr = dvr.clone();
        async move { media_with_segments(&dvr, 3).await }
    })
    .await
    .unwrap();
    let (aes_media_url, aes_media) =
        testkit::wait_for(Duration::from_secs(60), "AES playlist", || {
            let aes = aes.clone();
            async move { media_with_segments(&aes, 3).await }
        })
        .await
        .unwrap();
    assert!(aes_media.contains("METHOD=AES-128"), "{aes_media}");
    let segment = aes_media
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap();
    let segment_url = url::Url::parse(&aes_media_url)
        .unwrap()
        .join(segment)
        .unwrap()
        .to_string();

    // The slowloris: 2,000 connections that never finish a request head.
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let mut c = tokio::net::TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("idle connection {i}: {e}"));
        c.write_all(b"GET /origin/out/ HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        idle.push(c);
    }
    let trickle = tokio::spawn(async move {
        // A header line now and then on every connection, as slowloris does.
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            for c in idle.iter_mut() {
                let _ = c.write_all(b"X-a: b\r\n").await;
            }
        }
        idle
    });

    for url in [playlist_url.clone(), segment_url.clone()] {
        let (requests, non_2xx, socket_errors) = tokio::task::spawn_blocking(move || wrk(&url))
            .await
            .unwrap();
        assert!(requests > 100, "only {requests} requests answered");
        assert_eq!(non_2xx, 0, "non-2xx answers under the slowloris");
        assert!(socket_errors.is_empty(), "{socket_errors}");
    }
    // A viewer's plain requests are answered too, each within a deadline.
    for url in [&playlist_url, &segment_url] {
        let r = tokio::time::timeout(Duration::from_secs(5), reqwest::get(url.as_str()))
            .await
            .expect("answered within 5 s")
            .unwrap();
        assert!(r.status().is_success(), "{url}: {}", r.status());
    }
    let idle = trickle.await.expect("the slowloris task panicked");
    drop(idle);
    demo.server.abort();
    demo.pullpush.close().await.unwrap();
}
