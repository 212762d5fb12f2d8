//! `lineup schedule` SIGKILLed while it writes (manual events reflowing thousands of auto
//! events, on SQLite in its data folder): after each kill the stored schedule is intact,
//! and a restarted service keeps serving and filling it.

use std::process::Stdio;
use std::time::Duration;

use schedule::model::EventSource;
use serde_json::json;

const FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title>
<link>http://127.0.0.1/</link><description>d</description>
<item><title>A</title><guid>a</guid><media:content url="http://127.0.0.1:1/a/master.m3u8" type="application/x-mpegURL" medium="video" duration="7.3"/></item>
<item><title>B</title><guid>b</guid><media:content url="http://127.0.0.1:1/b/master.m3u8" type="application/x-mpegURL" medium="video" duration="11.1"/></item>
<item><title>C</title><guid>c</guid><media:content url="http://127.0.0.1:1/c/master.m3u8" type="application/x-mpegURL" medium="video" duration="5.9"/></item>
</channel></rss>"#;

async fn intact(db_path: &str) -> usize {
    let db = schedule::Db::open(db_path).await.unwrap();
    let events = db.all_events("k").await.unwrap();
    schedule::plan::check(&events).unwrap();
    let first = events[0].start_time;
    let last = events.iter().map(|e| e.end_time).max().unwrap();
    assert_eq!(schedule::plan::gaps(&events, first, last), vec![]);
    let mut seqs: Vec<u64> = events.iter().filter_map(|e| e.seq).collect();
    seqs.sort();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "auto sequence has a hole"
    );
    assert!(events.iter().any(|e| e.source == EventSource::Auto));
    events.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lineup_schedule_killed_during_writes_restarts_intact() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("feed.xml"), FEED).unwrap();
    let (feeds, _h) = testkit::serve_dir(dir.path()).await;
    let data = dir.path().join("data");
    let http = reqwest::Client::new();
    for round in 0..3 {
        let port = testkit::free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_lineup"))
            .args([
                "schedule",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--tick-secs",
                "1",
            ])
            .arg("--data-dir")
            .arg(&data)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        testkit::wait_until(Duration::from_secs(30), "lineup schedule up", || {
            let http = http.clone();
            let url = format!("{base}/healthz");
            async move {
                http.get(url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await
        .unwrap();
        if round == 0 {
            let r = http
                .post(format!("{base}/api/v1/channels"))
                .json(&json!({"id": "k"}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            let r = http
                .post(format!("{base}/api/v1/auto/mrss"))
                .json(
                    &json!({"url": format!("http://{feeds}/feed.xml"), "channelId": "k",
                              "config": {"horizonHours": 6}}),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
        // Manual events from two writers at once until a few are committed, then SIGKILL
        // while more are in flight.
        let mut writers = Vec::new();
        for w in 0..2 {
            let http = http.clone();
            let base = base.clone();
            writers.push(tokio::spawn(async move {
                let now = chrono::Utc::now().timestamp_millis();
                for i in 0.. {
                    let start = now + 120_000 + ((i * 7919 + w * 104_729) % 300) * 60_000;
                    let _ = http
                        .post(format!("{base}/api/v1/channels/k/schedule"))
                        .json(&json!({"id": format!("r{round}-w{w}-{i}"), "url": "http://127.0.0.1:1/m.m3u8",
                                      "start_time": start, "duration": 90}))
                        .send()
                        .await;
                }
            }));
        }
        testkit::wait_until(
            Duration::from_secs(60),
            "a few manual events stored",
            || {
                let http = http.clone();
                let url = format!("{base}/api/v1/channels/k/schedule");
                async move {
                    let Ok(r) = http.get(url).send().await else {
                        return false;
                    };
                    let events: Vec<serde_json::Value> = r.json().await.unwrap_or_default();
                    events.iter().filter(|e| e["source"] == "manual").count() >= 3 * (round + 1)
                }
            },
        )
        .await
        .unwrap();
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        for w in writers {
            w.abort();
        }
        let n = intact(data.join("lineup.db").to_str().unwrap()).await;
        eprintln!("round {round}: killed; {n} events intact");
    }
}
