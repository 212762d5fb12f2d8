//! AES-128 output is computed once per segment and endpoint: many concurrent GETs of one
//! encrypted segment share one encryption (counted by `origin_segment_work_total`), get
//! byte-identical answers, and the bytes decrypt with `openssl` to the ingested TS.

mod common;

use common::pusher::FixturePusher;
use common::*;

/// The value of `origin_segment_work_total{kind="<kind>"}` in `/metrics` (0 if absent).
async fn work_count(r: &Running, kind: &str) -> u64 {
    let (_, text) = testkit::http::get_text(&r.http, format!("{}/metrics", r.base)).await;
    let want = format!("origin_segment_work_total{{kind=\"{kind}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&want))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_gets_of_one_aes_segment_encrypt_once() {
    let r = start_default().await;
    let view = create(
        &r,
        serde_json::json!({"id": "a", "endpoints": [
            {"id": "enc", "encryption": {"aes128": {"key_rotation_seconds": 60}}}
        ]}),
    )
    .await;
    let t0 = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let mut pusher = FixturePusher::new(&view, t0);
    pusher.push_master().await;
    for _ in 0..4 {
        pusher.step().await;
    }
    let url = format!("{}/out/a/enc/channel_1.m3u8", r.base);
    let pl = testkit::http::get_media_playlist(&r.http, &url).await;
    let i = pl.segments.len() - 1;
    let seq = pl.media_sequence + i as u64;
    let seg_url = hls::uri::resolve_str(&url, &pl.segments[i].uri).unwrap();
    let key = pl
        .effective_keys(i)
        .first()
        .and_then(|k| k.uri())
        .map(|u| hls::uri::resolve_str(&url, u).unwrap())
        .expect("EXT-X-KEY");
    let key = testkit::http::get_bytes(&r.http, key).await.expect("key");
    assert_eq!(key.len(), 16);

    let before = work_count(&r, "aes").await;
    let gets: Vec<_> = (0..32)
        .map(|_| {
            let (http, u) = (r.http.clone(), seg_url.clone());
            tokio::spawn(async move { testkit::http::get_bytes(&http, u).await })
        })
        .collect();
    let mut bodies = Vec::new();
    for g in gets {
        bodies.push(g.await.expect("GET task").expect("200"));
    }
    assert!(bodies.iter().all(|b| *b == bodies[0]), "byte-identical");
    assert_eq!(work_count(&r, "aes").await - before, 1, "encrypted once");
    // And later requests are served from what was kept.
    let again = testkit::http::get_bytes(&r.http, seg_url).await.unwrap();
    assert_eq!(again, bodies[0]);
    assert_eq!(work_count(&r, "aes").await - before, 1);

    let Some(openssl) = testkit::require("openssl") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let enc = tmp.path().join("seg.enc");
    std::fs::write(&enc, &bodies[0]).unwrap();
    let iv = format!("{seq:032x}");
    let out = std::process::Command::new(openssl)
        .args([
            "enc",
            "-d",
            "-aes-128-cbc",
            "-K",
            &hex(&key),
            "-iv",
            &iv,
            "-in",
        ])
        .arg(&enc)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = std::fs::read(pusher.source_of(seq, 0).0).unwrap();
    assert!(out.stdout == plain, "decrypts to the ingested TS");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
