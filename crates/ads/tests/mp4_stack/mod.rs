//! A production-shaped ad stack for tests: only MP4 mezzanines (1280x720, 25 fps, 10 s,
//! made by ffmpeg at test time), each linear creative's one `MediaFile` a progressive
//! `video/mp4` (Eyevinn test-adserver's shape), behind a 3-level wrapper chain (VAST 2.0,
//! 3.0 and 4.0 wrappers in front of a VAST 4 pod). Every impression, tracking and error URL
//! of every level names the viewer and the avail, and every hit is recorded:
//!
//! ```text
//! GET /vast/l1?uid=&avail=&dur=   -> wrapper -> /vast/l2 -> wrapper -> /vast/l3 -> wrapper
//!                                 -> /vast/inline: a pod filling dur with 10 s ads
//! GET /t/{uid}/{avail}/{level}/{ad}/{event}[?code=N]   recorded (level: l1, l2, l3, inline)
//! GET /media/{name}.mp4                                the mezzanines
//! ```
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::{
    Router,
    extract::{Path as UrlPath, Query, State},
    http::StatusCode,
    response::IntoResponse,
    routing::get,
};

/// The good creatives (each a different test pattern), in pod order.
pub const ADS: [&str; 2] = ["alpha", "beta"];
/// Wrapper levels, outermost first, then the inline answer.
pub const LEVELS: [&str; 4] = ["l1", "l2", "l3", "inline"];
/// The tracked events of each ad and level.
pub const EVENTS: [&str; 6] = [
    "impression",
    "start",
    "firstQuartile",
    "midpoint",
    "thirdQuartile",
    "complete",
];

#[derive(Clone)]
struct Stack {
    base: String,
    dir: PathBuf,
    hits: Arc<Mutex<Vec<String>>>,
    /// Extra ads appended to every pod: (id, media file XML).
    extra: Arc<Vec<(String, String)>>,
}

/// A running stack.
pub struct Mp4Stack {
    pub base: String,
    hits: Arc<Mutex<Vec<String>>>,
}

/// A 10 s 1280x720 25 fps MP4 (H.264 + stereo AAC at 44.1 kHz) of `source` (a lavfi video
/// source at that size).
pub async fn make_mezzanine(dir: &Path, name: &str, source: &str) {
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("{source}=s=1280x720:r=25"))
        .args(["-f", "lavfi", "-i", "sine=frequency=880:sample_rate=44100"])
        .args(["-t", "10", "-c:v", "libx264", "-preset", "ultrafast"])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2"])
        .arg(dir.join(format!("{name}.mp4")))
        .status()
        .await
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made {name}.mp4");
}

fn tracking(base: &str, uid: &str, avail: &str, level: &str, ad: &str) -> String {
    let t = |e: &str| format!("{base}/t/{uid}/{avail}/{level}/{ad}/{e}");
    let events: String = EVENTS[1..]
        .iter()
        .map(|e| format!("<Tracking event=\"{e}\"><![CDATA[{}]]></Tracking>", t(e)))
        .collect();
    format!("<TrackingEvents>{events}</TrackingEvents>")
}

fn wrapper(s: &Stack, version: &str, level: &str, next: &str, q: &Params) -> String {
    let (uid, avail) = (&q.uid, &q.avail);
    let b = &s.base;
    let attrs = if version.starts_with('4') {
        " allowMultipleAds=\"true\""
    } else {
        ""
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<VAST version="{version}"><Ad id="{level}"><Wrapper{attrs}>
<AdSystem>stack {level}</AdSystem>
<VASTAdTagURI><![CDATA[{b}/vast/{next}?uid={uid}&avail={avail}&dur={dur}]]></VASTAdTagURI>
<Error><![CDATA[{b}/t/{uid}/{avail}/{level}/any/error?code=[ERRORCODE]]]></Error>
<Impression><![CDATA[{b}/t/{uid}/{avail}/{level}/any/impression]]></Impression>
<Creatives><Creative><Linear>{tr}</Linear></Creative></Creatives>
</Wrapper></Ad></VAST>"#,
        dur = q.dur,
        tr = tracking(b, uid, avail, level, "any"),
    )
}

fn inline(s: &Stack, q: &Params) -> String {
    let (uid, avail, b) = (&q.uid, &q.avail, &s.base);
    let n = (q.dur / 10.0).floor().max(0.0) as usize;
    // The extras first, so the policy meets them before the break is full.
    let mut pod: Vec<(String, String)> = s.extra.iter().cloned().collect();
    pod.extend((0..n.min(ADS.len())).map(|i| {
            let id = ADS[i].to_string();
            let file = format!(
                r#"<MediaFile delivery="progressive" type="video/mp4" width="1280" height="720" bitrate="2000" codec="H.264"><![CDATA[{b}/media/{id}.mp4]]></MediaFile>"#
            );
            (id, file)
        }));
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<VAST version=\"4.0\">");
    for (i, (id, file)) in pod.iter().enumerate() {
        out.push_str(&format!(
            r#"<Ad id="{id}" sequence="{seq}"><InLine>
<AdSystem version="1.0">Test Adserver</AdSystem><AdTitle>{id}</AdTitle>
<AdServingId>{uid}-{avail}-{id}</AdServingId>
<Error><![CDATA[{b}/t/{uid}/{avail}/inline/{id}/error?code=[ERRORCODE]]]></Error>
<Impression><![CDATA[{b}/t/{uid}/{avail}/inline/{id}/impression]]></Impression>
<Creatives><Creative id="c-{id}" adId="{id}" sequence="1"><UniversalAdId idRegistry="test-ad-id.eyevinn">{id}</UniversalAdId><Linear>
<Duration>00:00:10</Duration>{tr}
<MediaFiles>{file}</MediaFiles>
</Linear></Creative></Creatives>
</InLine></Ad>"#,
            seq = i + 1,
            tr = tracking(b, uid, avail, "inline", id),
        ));
    }
    out.push_str("</VAST>");
    out
}

#[derive(serde::Deserialize)]
struct Params {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    avail: String,
    #[serde(default)]
    dur: f64,
}

async fn vast(
    State(s): State<Stack>,
    UrlPath(level): UrlPath<String>,
    Query(q): Query<Params>,
) -> impl IntoResponse {
    let body = match level.as_str() {
        "l1" => wrapper(&s, "2.0", "l1", "l2", &q),
        "l2" => wrapper(&s, "3.0", "l2", "l3", &q),
        "l3" => wrapper(&s, "4.0", "l3", "inline", &q),
        "inline" => inline(&s, &q),
        _ => return (StatusCode::NOT_FOUND, String::new()),
    };
    (StatusCode::OK, body)
}

async fn track(
    State(s): State<Stack>,
    UrlPath(path): UrlPath<String>,
    Query(q): Query<BTreeMap<String, String>>,
) -> StatusCode {
    let mut hit = path;
    if let Some(code) = q.get("code") {
        hit.push_str(&format!("?code={code}"));
    }
    s.hits.lock().unwrap().push(hit);
    StatusCode::NO_CONTENT
}

async fn media(State(s): State<Stack>, UrlPath(name): UrlPath<String>) -> impl IntoResponse {
    match tokio::fs::read(s.dir.join(&name)).await {
        Ok(b) if !name.contains('/') => (StatusCode::OK, [("content-type", "video/mp4")], b),
        _ => (
            StatusCode::NOT_FOUND,
            [("content-type", "text/plain")],
            Vec::new(),
        ),
    }
}

impl Mp4Stack {
    /// Makes the mezzanines in `dir` (alpha: testsrc2, beta: smptehdbars) and serves the
    /// stack (`dir` is served under `/media/`). `extra(base)` ads (id, `<MediaFile>` XML)
    /// lead every pod.
    pub async fn start_with(
        dir: &Path,
        extra: impl FnOnce(&str) -> Vec<(String, String)>,
    ) -> Mp4Stack {
        make_mezzanine(dir, "alpha", "testsrc2").await;
        make_mezzanine(dir, "beta", "smptehdbars").await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(Vec::new()));
        let state = Stack {
            base: base.clone(),
            dir: dir.to_path_buf(),
            hits: hits.clone(),
            extra: Arc::new(extra(&base)),
        };
        let app = Router::new()
            .route("/vast/{level}", get(vast))
            .route("/t/{*path}", get(track))
            .route("/media/{name}", get(media))
            .with_state(state);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Mp4Stack { base, hits }
    }

    /// The ADS URL template for a playback configuration.
    pub fn ads_url(&self) -> String {
        format!(
            "{}/vast/l1?uid=[player_params.uid]&avail=[avail.index]&dur=[session.avail_duration_secs]",
            self.base
        )
    }

    /// Every tracking hit so far (`uid/avail/level/ad/event[?code=N]`).
    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

/// vastlint's errors for a VAST document (the IAB rules; run through python3).
pub fn lint(xml: &str) -> Vec<String> {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, vastlint\nr = vastlint.validate(sys.stdin.read())\nprint('\\n'.join(i.id + ': ' + i.message for i in r.issues if i.severity == 'error'))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "vastlint failed to run");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}
