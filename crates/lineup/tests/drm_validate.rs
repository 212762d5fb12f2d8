//! `lineup validate --follow` (the built binary, as a user runs it) on every playlist of the
//! DRM endpoints: CMAF `cbcs`, CMAF `cenc` and TS SAMPLE-AES; for each, its live master (so
//! its media and I-frame playlists), a start-over master and a time-shifted master, while
//! keys rotate every 8 s of media time (every 2 s of the test: segments are pushed at 4x
//! real time) and the window slides over VOD changes. Each run checks the segments and init
//! sections it sees (`--check-segments`) and must report no error, with every media and
//! I-frame playlist loaded often enough to have crossed key rotations.
//!
//! The negative control: the same live `cbcs` playlist served through a proxy that drops
//! every `EXT-X-KEY` after the first segment (so a segment of the next key period is listed
//! under the previous key until the window slides past the rotation, then under its own:
//! its key changes without a new `EXT-X-KEY`) is reported as `segment-key-changed`, exit 1.
//!
//! `origin --test drm_follow` follows the same playlists in-process and adds what one
//! validator run cannot see: one segment keeps its keys across the live, start-over and
//! time-shifted windows.

#[path = "../../origin/tests/common/mod.rs"]
mod origin_common;

use std::time::Duration;

use origin_common::pusher::FixturePusher;
use origin_common::{Running, create, start_default};

/// One 2 s segment every 500 ms (4x real time).
const STEP: Duration = Duration::from_millis(500);
/// Seconds each validator follows: a live run sees ~10 key rotations, a windowed one ~6.
const FOLLOW_LIVE: &str = "20";
const FOLLOW_WINDOW: &str = "12";

fn endpoint(id: &str, packaging: &str, encryption: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"id": id, "packaging": packaging, "manifest_window_seconds": 12,
        "startover_window_seconds": 90, "i_frames": true, "encryption": encryption})
}

/// Runs `lineup validate --json --follow <secs> [extra] <url>`: (exit code, report).
async fn validate(url: String, secs: &'static str, extra: &'static [&'static str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_lineup"))
        .args(["validate", "--json", "--follow", secs])
        .args(extra)
        .arg(&url)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .expect("run lineup validate");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{url}: not a JSON report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        url,
        code: out.status.code().unwrap_or(-1),
        report,
    }
}

struct Run {
    url: String,
    code: i32,
    report: serde_json::Value,
}

impl Run {
    fn rules(&self, severity: &str) -> Vec<String> {
        self.report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["severity"] == severity)
            .map(|p| format!("{} {} {}", p["rule"], p["url"], p["message"]))
            .collect()
    }

    /// Clean: exit 0, no error, no `reload-gap` (the output's sequence jumped), the two
    /// variants and two I-frame playlists each loaded at least `min_loads` times.
    fn assert_clean(&self, min_loads: u64) {
        for w in self.rules("warning") {
            eprintln!("{}: validator warning: {w}", self.url);
        }
        let errors = self.rules("error");
        assert!(
            self.code == 0 && errors.is_empty(),
            "{}: exit {}, errors:\n{}",
            self.url,
            self.code,
            errors.join("\n")
        );
        let gaps: Vec<String> = self
            .rules("warning")
            .into_iter()
            .filter(|w| w.starts_with("\"reload-gap\""))
            .collect();
        assert!(gaps.is_empty(), "{}: {gaps:?}", self.url);
        let loads = self.report["playlists"].as_array().unwrap();
        let iframes = loads
            .iter()
            .filter(|p| p["url"].as_str().unwrap().contains("_iframes.m3u8"))
            .count();
        assert!(
            loads.len() == 4 && iframes == 2,
            "{}: followed {loads:?}",
            self.url
        );
        for p in loads {
            eprintln!("{}: followed {} {} times", self.url, p["url"], p["loads"]);
            assert!(
                p["loads"].as_u64().unwrap() >= min_loads,
                "{}: {p} (wanted {min_loads} loads)",
                self.url
            );
        }
    }
}

/// A proxy to the origin that serves `/out/ch/cbcs/channel_1.m3u8` without the `EXT-X-KEY`
/// tags that follow its first segment (the key rotations).
async fn keyless_rotation_proxy(origin: String) -> String {
    use axum::extract::{Request, State};
    async fn forward(State(origin): State<String>, req: Request) -> axum::response::Response {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let resp = reqwest::get(format!("{origin}{path}")).await.unwrap();
        let status = resp.status().as_u16();
        let mut body = resp.bytes().await.unwrap().to_vec();
        if req.uri().path() == "/out/ch/cbcs/channel_1.m3u8" && status == 200 {
            let text = String::from_utf8(body).unwrap();
            let mut seen_segment = false;
            let kept: Vec<&str> = text
                .lines()
                .filter(|l| {
                    seen_segment |= l.starts_with("#EXTINF");
                    !(seen_segment && l.starts_with("#EXT-X-KEY"))
                })
                .collect();
            body = (kept.join("\n") + "\n").into_bytes();
        }
        axum::response::Response::builder()
            .status(status)
            .body(axum::body::Body::from(body))
            .unwrap()
    }
    let app = axum::Router::new().fallback(forward).with_state(origin);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_follow_accepts_every_encrypted_playlist_and_catches_a_silent_key_change() {
    let r: Running = start_default().await;
    let rot = serde_json::json!({"key_rotation_interval_seconds": 8});
    let view = create(
        &r,
        serde_json::json!({"id": "ch", "endpoints": [
            endpoint("cbcs", "cmaf", serde_json::json!({"sample_aes": rot})),
            endpoint("cenc", "cmaf", serde_json::json!({"aes_ctr": rot})),
            endpoint("saes", "ts", serde_json::json!({"sample_aes": rot})),
        ]}),
    )
    .await;
    let t0 = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let mut pusher = FixturePusher::new(&view, t0);
    pusher.push_master().await;
    for _ in 0..10 {
        pusher.step().await;
    }
    let start = pusher.start_of(2);
    // An end the test does not reach: the window stays an EVENT playlist while followed.
    let shift = format!(
        "?start={}&end={}",
        start.timestamp(),
        (start + chrono::Duration::seconds(120)).timestamp()
    );
    let startover = format!("?start={}", start.timestamp());
    let proxy = keyless_rotation_proxy(r.base.clone()).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let push = tokio::spawn(async move {
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            pusher.step().await;
            tokio::time::sleep(STEP).await;
        }
        pusher
    });
    let pushed_before = 10;

    let segs: &'static [&'static str] = &["--check-segments"];
    let mut runs = Vec::new();
    for ep in ["cbcs", "cenc", "saes"] {
        let master = format!("{}/out/ch/{ep}/index.m3u8", r.base);
        runs.push((validate(format!("{master}{shift}"), FOLLOW_WINDOW, segs), 8));
        runs.push((
            validate(format!("{master}{startover}"), FOLLOW_WINDOW, segs),
            8,
        ));
        runs.push((validate(master, FOLLOW_LIVE, segs), 14));
    }
    let broken = validate(
        format!("{proxy}/out/ch/cbcs/channel_1.m3u8"),
        FOLLOW_WINDOW,
        &[],
    );
    let (clean, broken) = tokio::join!(
        futures::future::join_all(
            runs.into_iter()
                .map(|(run, n)| async move { (run.await, n) })
        ),
        broken
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let pusher = push.await.expect("pusher task");
    // 20 s at 4x: the live runs crossed ~10 key periods of 8 s.
    assert!(
        pusher.pushed() >= pushed_before + 30,
        "pushed {}",
        pusher.pushed()
    );
    for ep in ["cbcs", "cenc", "saes"] {
        // 12 s windows of 8 s key periods: every window holds a key change.
        let url = format!("{}/out/ch/{ep}/channel_1.m3u8", r.base);
        let live = testkit::http::get_media_playlist(&r.http, &url).await;
        let keys: std::collections::BTreeSet<&str> = live
            .segments
            .iter()
            .flat_map(|s| &s.keys)
            .filter_map(|k| k.uri())
            .collect();
        assert!(keys.len() >= 2, "{ep}: one key in {keys:?}");
        assert!(live.discontinuity_sequence > 4, "{ep}: no VOD change");
    }
    for (run, min_loads) in &clean {
        run.assert_clean(*min_loads);
    }
    let errors = broken.rules("error");
    eprintln!(
        "keyless rotation: {} errors, the first: {:?}",
        errors.len(),
        errors.first()
    );
    assert_eq!(broken.code, 1, "the key change went unseen: {errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("\"segment-key-changed\"")),
        "{errors:?}"
    );
}
