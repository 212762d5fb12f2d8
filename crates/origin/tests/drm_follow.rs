//! Every playlist of the DRM endpoints (CMAF `cbcs`, CMAF `cenc`, TS SAMPLE-AES; masters,
//! media and I-frame playlists; live, start-over and time-shifted) followed with the RFC
//! 8216 oracle (`testkit::PlaylistFollower`, what `lineup validate --follow` runs) while
//! keys rotate every 8 s and the window slides over VOD changes (discontinuities). Also:
//! each master carries an `EXT-X-SESSION-KEY` equal to the `EXT-X-KEY` of the period its
//! playlists start in, the I-frame playlists carry `EXT-X-KEY` per period, and an I-frame
//! byte range of the encrypted `cbcs` and `cenc` fragments, with its init, decrypts in ffmpeg
//! (key from the origin's ClearKey licence) to a picture.

mod common;

use std::time::Duration;

use common::pusher::FixturePusher;
use common::*;
use testkit::PlaylistFollower;

/// One 2 s segment every 500 ms (4x real time): keys rotate every 8 s of media time, so
/// every second of the test.
const STEP: Duration = Duration::from_millis(500);

/// Followers given the same `keys` check that a segment keeps its keys across their
/// playlists (`segment-key-differs`): the live, start-over and time-shifted windows.
fn follower(r: &Running, master: &str, keys: &SharedKeys) -> PlaylistFollower {
    let http = r.http.clone();
    let base = r.base.clone();
    let get = move |path: String| {
        let http = http.clone();
        let url = format!("{base}/{path}");
        async move { testkit::http::get_bytes(&http, url).await }
    };
    PlaylistFollower::start_sharing_keys(master, get, keys.clone())
}

type SharedKeys = std::sync::Arc<std::sync::Mutex<hls::validate::SegmentKeys>>;

fn endpoint(id: &str, packaging: &str, encryption: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"id": id, "packaging": packaging, "manifest_window_seconds": 12,
        "startover_window_seconds": 90, "i_frames": true, "encryption": encryption})
}

/// The attributes of a key tag, as (name, value) pairs in order.
fn attrs(a: &hls::AttributeList) -> Vec<(String, String)> {
    a.0.iter()
        .map(|(k, v)| (k.clone(), v.as_str().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_encrypted_playlist_follows_clean_across_key_rotations_and_vod_changes() {
    let r = start_default().await;
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

    for ep in ["cbcs", "cenc", "saes"] {
        session_key_is_the_first_key(&r, ep).await;
    }
    for ep in ["cbcs", "cenc"] {
        iframe_range_decrypts(&r, ep).await;
    }

    let mut followers = Vec::new();
    for ep in ["cbcs", "cenc", "saes"] {
        let keys = SharedKeys::default();
        let master = format!("out/ch/{ep}/index.m3u8");
        // Time-shifted first: their start leaves the start-over window after ~20 s.
        followers.push((follower(&r, &format!("{master}{shift}"), &keys), 8));
        followers.push((follower(&r, &format!("{master}{startover}"), &keys), 8));
        followers.push((follower(&r, &master, &keys), 60));
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let push = tokio::spawn(async move {
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            pusher.step().await;
            tokio::time::sleep(STEP).await;
        }
        pusher
    });
    let mut reports = Vec::new();
    for (f, reloads) in followers {
        reports.push((
            f.finish_after(reloads, Duration::from_secs(90)).await,
            reloads,
        ));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let pusher = push.await.expect("pusher task");
    assert!(pusher.pushed() > 50, "pushed {}", pusher.pushed());
    for ep in ["cbcs", "cenc", "saes"] {
        // Key rotations and VOD changes happened under the followers' eyes.
        let url = format!("{}/out/ch/{ep}/channel_1.m3u8", r.base);
        let live = testkit::http::get_media_playlist(&r.http, &url).await;
        assert!(live.media_sequence > 40, "{ep}: {}", live.media_sequence);
        assert!(
            live.discontinuity_sequence > 6,
            "{ep}: {}",
            live.discontinuity_sequence
        );
        // 12 s windows of 8 s key periods: every window holds a key change.
        let keys: std::collections::BTreeSet<&str> = live
            .segments
            .iter()
            .flat_map(|s| &s.keys)
            .filter_map(|k| k.uri())
            .collect();
        assert!(keys.len() >= 2, "{ep}: one key in {keys:?}");
    }
    for (rep, reloads) in &reports {
        // Variants and I-frame playlists of both renditions.
        assert_eq!(rep.reloads.len(), 4, "{rep:?}");
        rep.assert_clean(*reloads);
        for path in rep.reloads.keys() {
            assert!(path.contains("channel_"), "{path}");
        }
    }
}

/// The master's `EXT-X-SESSION-KEY` is the `EXT-X-KEY` of the first segment of the live
/// media playlists, and the I-frame playlists carry `EXT-X-KEY` with the same method.
async fn session_key_is_the_first_key(r: &Running, ep: &str) {
    let base = format!("{}/out/ch/{ep}", r.base);
    let (status, text) = testkit::http::get_text(&r.http, format!("{base}/index.m3u8")).await;
    assert_eq!(status, 200, "{text}");
    let m = hls::parse_master(&text).unwrap();
    assert_eq!(m.session_keys.len(), 1, "{ep}: {text}");
    assert_eq!(m.i_frame_streams.len(), 2, "{ep}: {text}");
    let pl = testkit::http::get_media_playlist(&r.http, format!("{base}/channel_1.m3u8")).await;
    let first = &pl.effective_keys(0)[0];
    assert_eq!(
        attrs(&m.session_keys[0]),
        attrs(&first.attrs),
        "{ep}: {text}"
    );
    let method = first.method().unwrap().to_string();
    let ifr =
        testkit::http::get_media_playlist(&r.http, format!("{base}/channel_1_iframes.m3u8")).await;
    assert!(ifr.i_frames_only && !ifr.segments.is_empty(), "{ep}");
    let keys: Vec<&hls::Key> = ifr.segments.iter().flat_map(|s| &s.keys).collect();
    assert!(
        !keys.is_empty() && keys.iter().all(|k| k.method() == Some(method.as_str())),
        "{ep}: I-frame keys {keys:?}"
    );
    assert!(
        ifr.segments[0].keys.len() == 1,
        "{ep}: the first entry states its key"
    );
}

/// The first entry of the `cbcs` / `cenc` I-frame playlist (init + byte range of the
/// encrypted fragment) decrypts in ffmpeg to at least one video frame; a wrong key does not
/// give the same picture.
async fn iframe_range_decrypts(r: &Running, ep: &str) {
    use base64::Engine;
    let url = format!("{}/out/ch/{ep}/channel_1_iframes.m3u8", r.base);
    let pl = testkit::http::get_media_playlist(&r.http, &url).await;
    let s = &pl.segments[0];
    let abs = |u: &str| hls::uri::resolve_str(&url, u).unwrap().to_string();
    let init = testkit::http::get_bytes(&r.http, abs(s.map.as_ref().unwrap().uri().unwrap()))
        .await
        .unwrap();
    let range = s.byte_range.unwrap();
    let (off, len) = (range.offset.unwrap(), range.length);
    let resp = r
        .http
        .get(abs(&s.uri))
        .header("range", format!("bytes={off}-{}", off + len - 1))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 206);
    let part = resp.bytes().await.unwrap();
    assert_eq!(part.len() as u64, len);
    assert_eq!(&part[4..8], b"moof", "{ep}: the range starts at the moof");
    // The KID from the EXT-X-KEY data: URI, the key from the origin's licence.
    let key_uri = s.keys[0].uri().unwrap();
    let kid = base64::engine::general_purpose::STANDARD
        .decode(key_uri.strip_prefix("data:text/plain;base64,").unwrap())
        .unwrap();
    let b64u = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let lic: serde_json::Value = r
        .http
        .post(format!("{}/keys/ch/{ep}/clearkey", r.base))
        .json(&serde_json::json!({"kids": [b64u.encode(&kid)], "type": "temporary"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = hex::encode(b64u.decode(lic["keys"][0]["k"].as_str().unwrap()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("iframe.mp4");
    std::fs::write(&file, [init.to_vec(), part.to_vec()].concat()).unwrap();
    let decode = |key: &str| {
        let out = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-decryption_key", key, "-i"])
            .arg(&file)
            .args(["-map", "0:v", "-f", "framemd5", "-"])
            .output()
            .unwrap();
        let frames: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        (
            out.status.success(),
            frames,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, frames, err) = decode(&key);
    assert!(ok && !frames.is_empty(), "{ep}: I-frame range: {err}");
    let (_, wrong, _) = decode("00112233445566778899aabbccddeeff");
    assert_ne!(
        wrong.first(),
        frames.first(),
        "{ep}: a wrong key gives another picture"
    );
}
