//! Graceful shutdown of the `lineup` binary: on SIGTERM a service stops accepting, finishes
//! the requests in flight, persists its state and exits 0 within `--shutdown-timeout`; the
//! next start finds that state.
//!
//! - `lineup origin --store disk`: an ingest PUT still uploading its body when SIGTERM
//!   arrives is answered 201, the process exits 0, and a restarted origin serves the
//!   playlist that PUT carried.
//! - `lineup pullpush --db FILE`: SIGTERM while a fetcher pushes a live ffmpeg source; the
//!   process exits 0, the destination names only segments it holds (no half-written file
//!   left), and a restarted pullpush lists the same fetcher and continues its media
//!   sequence.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// The shutdown timeout given to the services.
const SHUTDOWN_TIMEOUT_S: u64 = 10;
/// What the test allows beyond it for the process to exit (a loaded 2-core machine).
const EXIT_SLACK: Duration = Duration::from_secs(20);

/// `lineup <args>` on `port`, logging to `log`.
fn spawn(args: &[&str], log: &std::path::Path) -> Child {
    let out = std::fs::File::create(log).expect("log file");
    Command::new(env!("CARGO_BIN_EXE_lineup"))
        .args(args)
        .args(["--shutdown-timeout", &SHUTDOWN_TIMEOUT_S.to_string()])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log file"))
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn lineup")
}

async fn wait_healthy(base: &str, child: &mut Child, log: &std::path::Path) {
    let client = reqwest::Client::new();
    let url = format!("{base}/healthz");
    let ok = testkit::wait_until(Duration::from_secs(30), "healthz", || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            client
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    if ok.is_err() {
        panic!(
            "{base} never became healthy ({:?}): {}",
            child.try_wait(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
}

fn sigterm(child: &Child) {
    let pid = child.id().expect("running") as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
}

/// Waits for the process to exit after SIGTERM; asserts status 0 within the deadline.
async fn exits_cleanly(child: &mut Child, log: &std::path::Path) {
    let status = tokio::time::timeout(
        Duration::from_secs(SHUTDOWN_TIMEOUT_S) + EXIT_SLACK,
        child.wait(),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "still running long after the shutdown deadline: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        )
    })
    .expect("wait");
    assert!(
        status.success(),
        "exit status {status:?}: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Polls until connecting to `port` is refused (the listener is closed).
async fn wait_refused(port: u16) {
    testkit::wait_until(
        Duration::from_secs(20),
        "the listener to close",
        || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_err()
        },
    )
    .await
    .expect("the service stops accepting on SIGTERM");
}

/// A 188-byte MPEG-TS packet (sync byte, stuffing).
fn ts_packet() -> Vec<u8> {
    let mut p = vec![0xffu8; 188];
    p[0] = 0x47;
    p
}

/// The Digest challenge of a fresh unauthenticated request to `url`.
async fn challenge(client: &reqwest::Client, url: &str) -> String {
    let r = client.put(url).body("").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let values: Vec<String> = r
        .headers()
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    testkit::digest::pick_challenge(values.iter().map(String::as_str))
        .expect("a Digest challenge")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_finishes_an_ingest_in_flight_on_sigterm_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let log = dir.path().join("origin.log");
    let port = testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let store_arg = store.to_str().unwrap();
    let args = [
        "origin",
        "--listen",
        &listen,
        "--store",
        "disk",
        "--store-path",
        store_arg,
    ];
    let mut child = spawn(&args, &log);
    wait_healthy(&base, &mut child, &log).await;
    let client = reqwest::Client::new();

    let view: Value = client
        .post(format!("{base}/api/v1/channels"))
        .json(&json!({"id": "news"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ingest = &view["ingest"][0];
    let (url, user, password) = (
        ingest["url"].as_str().expect("ingest url").to_string(),
        ingest["username"].as_str().unwrap().to_string(),
        ingest["password"].as_str().unwrap().to_string(),
    );
    let put = |path: String, body: Vec<u8>| {
        let (client, user, password) = (client.clone(), user.clone(), password.clone());
        async move {
            let r = testkit::digest::send(
                &client,
                reqwest::Method::PUT,
                &path,
                &user,
                &password,
                Some(body),
            )
            .await
            .unwrap();
            assert_eq!(r.status(), 201, "{path}");
        }
    };
    for i in 0..3 {
        put(format!("{url}_1_{i}.ts"), ts_packet()).await;
    }
    let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000\nchannel_1.m3u8\n";
    put(format!("{url}.m3u8"), master.into()).await;
    let start = chrono::Utc::now() - chrono::Duration::seconds(10);
    let mut playlist = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PROGRAM-DATE-TIME:{}\n",
        start.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    for i in 0..3 {
        playlist += &format!("#EXTINF:2,\nchannel_1_{i}.ts\n");
    }
    let body = playlist.into_bytes();

    // The media playlist, over a raw connection: head and half the body, then SIGTERM.
    let path = format!("{}_1.m3u8", url::Url::parse(&url).unwrap().path());
    let authorization = testkit::digest::authorization(
        &challenge(&client, &format!("{url}_1.m3u8")).await,
        "PUT",
        &path,
        &user,
        &password,
    )
    .expect("answerable challenge");
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    // One request first on this connection: it is accepted and served before the signal.
    conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // `Expect: 100-continue`: the server says "100 Continue" when the handler starts reading
    // the body, so the request is known to be in flight before the signal.
    let head = format!(
        "PUT {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nauthorization: {authorization}\r\n\
         content-type: application/vnd.apple.mpegurl\r\ncontent-length: {}\r\n\
         expect: 100-continue\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let n = conn.read(&mut buf).await.unwrap();
    let cont = String::from_utf8_lossy(&buf[..n]);
    assert!(cont.starts_with("HTTP/1.1 100"), "{cont}");
    let half = body.len() / 2;
    conn.write_all(&body[..half]).await.unwrap();
    sigterm(&child);
    wait_refused(port).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the origin must wait for the upload in flight"
    );
    conn.write_all(&body[half..]).await.unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the PUT in flight is answered: {answer}"
    );
    exits_cleanly(&mut child, &log).await;

    // Restarted on the same store: the playlist of that PUT is there.
    let mut child = spawn(&args, &log);
    wait_healthy(&base, &mut child, &log).await;
    let (status, media) =
        testkit::http::get_text(&client, format!("{base}/out/news/default/channel_1.m3u8")).await;
    assert_eq!(status, 200, "{media}");
    let pl = hls::parse_media(&media).unwrap_or_else(|e| panic!("{e}: {media}"));
    assert_eq!(pl.segments.len(), 3, "{media}");
    sigterm(&child);
    exits_cleanly(&mut child, &log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pullpush_drains_its_fetcher_on_sigterm_and_resumes_it() {
    testkit::require_peer!("ffmpeg");
    let live = testkit::FfmpegLive::start(testkit::LiveOptions::default())
        .await
        .expect("ffmpeg live");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pullpush.db");
    let root = dir.path().join("out");
    let log = dir.path().join("pullpush.log");
    let port = testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "pullpush",
        "--listen",
        &listen,
        "--db",
        db.to_str().unwrap(),
        "--dir-root",
        root.to_str().unwrap(),
    ];
    let mut child = spawn(&args, &log);
    wait_healthy(&base, &mut child, &log).await;
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{base}/api/v1/fetchers"))
        .json(&json!({
            "name": "live",
            "url": live.playlist_url(),
            "output": "dir",
            "payload": {"path": "live"},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("fetcher id").to_string();
    let fetcher_url = format!("{base}/api/v1/fetchers/{id}");
    let pushed = |client: reqwest::Client, url: String| async move {
        let v = testkit::http::get_json(&client, url).await;
        v["segments_pushed"].as_u64().unwrap_or(0)
    };
    testkit::wait_until(Duration::from_secs(60), "4 segments pushed", || {
        let n = pushed(client.clone(), fetcher_url.clone());
        async move { n.await >= 4 }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", std::fs::read_to_string(&log).unwrap_or_default()));

    sigterm(&child);
    exits_cleanly(&mut child, &log).await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("transfers in flight finished"),
        "the fetcher drained rather than being cut: {text}"
    );

    // The destination names only what it holds, and nothing is half-written.
    let out = root.join("live");
    let master = std::fs::read_to_string(out.join("channel.m3u8")).expect("the master");
    let master = hls::parse_master(&master).unwrap_or_else(|e| panic!("{e}: {master}"));
    let media_path = out.join(&master.variants.first().expect("a variant").uri);
    let media = std::fs::read_to_string(&media_path).expect("the media playlist");
    let before = hls::parse_media(&media).unwrap();
    assert!(!before.segments.is_empty());
    for s in &before.segments {
        let f = out.join(&s.uri);
        let len = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{} is listed but missing or empty", s.uri);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "half-written files: {leftovers:?}");
    let last_before = before.media_sequence + before.segments.len() as u64 - 1;

    // Restarted on the same database: the same fetcher, continuing its sequence.
    let mut child = spawn(&args, &log);
    wait_healthy(&base, &mut child, &log).await;
    let list = testkit::http::get_json(&client, format!("{base}/api/v1/fetchers")).await;
    let ids: Vec<&str> = list
        .as_array()
        .expect("fetcher list")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, vec![id.as_str()], "{list}");
    testkit::wait_until(
        Duration::from_secs(60),
        "new segments after the restart",
        || {
            let media_path = media_path.clone();
            async move {
                std::fs::read_to_string(&media_path)
                    .ok()
                    .and_then(|m| hls::parse_media(&m).ok())
                    .is_some_and(|p| {
                        p.media_sequence + p.segments.len() as u64 - 1 > last_before + 2
                    })
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", std::fs::read_to_string(&log).unwrap_or_default()));
    let after = hls::parse_media(&std::fs::read_to_string(&media_path).unwrap()).unwrap();
    // The destination's sequence went on from where it was, never back.
    assert!(after.media_sequence >= before.media_sequence);
    for s in &after.segments {
        let f = out.join(&s.uri);
        assert!(f.exists(), "{} is listed but missing", s.uri);
    }
    sigterm(&child);
    exits_cleanly(&mut child, &log).await;
}

/// `lineup demo --pullpush-db FILE`: SIGTERM drains the fetcher while the origin it pushes
/// to (same process) still accepts, the process exits 0, and the next start continues the
/// same fetcher from the database instead of creating another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_stops_cleanly_and_resumes_its_fetcher() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pullpush.db");
    let log = dir.path().join("demo.log");
    let port = testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "demo",
        "--listen",
        &listen,
        "--pullpush-db",
        db.to_str().unwrap(),
    ];
    let client = reqwest::Client::new();
    let fetchers = format!("{base}/pullpush/api/v1/fetchers");
    let demo_fetcher = |client: reqwest::Client, url: String| async move {
        let list = testkit::http::get_json(&client, url).await;
        list.as_array()
            .and_then(|l| l.iter().find(|f| f["name"] == "demo").cloned())
    };

    let mut child = spawn(&args, &log);
    wait_healthy(&base, &mut child, &log).await;
    let first = testkit::wait_for(Duration::from_secs(60), "the demo fetcher pushing", || {
        let f = demo_fetcher(client.clone(), fetchers.clone());
        async move { f.await.filter(|f| f["segments_pushed"].as_u64() >= Some(3)) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", std::fs::read_to_string(&log).unwrap_or_default()));
    sigterm(&child);
    exits_cleanly(&mut child, &log).await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("transfers in flight finished"),
        "the fetcher drained rather than being cut: {text}"
    );

    let mut child = spawn(&args, &log);
    wait_healthy(&base, &mut child, &log).await;
    // Started: the banner is out (the fetcher resumed from the database before that).
    testkit::wait_until(Duration::from_secs(60), "the demo's banner", || {
        let log = log.clone();
        async move {
            std::fs::read_to_string(&log).is_ok_and(|t| t.contains("lineup demo is running on"))
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {}", std::fs::read_to_string(&log).unwrap_or_default()));
    let list = testkit::http::get_json(&client, &fetchers).await;
    let ids: Vec<&str> = list
        .as_array()
        .expect("fetcher list")
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert_eq!(ids, vec![first["id"].as_str().unwrap()], "{list}");
    sigterm(&child);
    exits_cleanly(&mut child, &log).await;
}
