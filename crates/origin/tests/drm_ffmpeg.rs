//! DRM endpoints end to end, checked by tools nobody here wrote: for the same media
//! sequence number, the `cbcs` (`sample_aes`) and `cenc` (`aes_ctr`) CMAF endpoints'
//! init + fragment decrypt, in ffmpeg (`-decryption_key`, the key fetched from the
//! playlist's `EXT-X-KEY` URI) and in Shaka Packager (raw key), to the frames of the clear
//! CMAF endpoint's fragment; the TS `sample_aes` endpoint, played by ffmpeg's HLS demuxer
//! from the origin, decodes to the clear TS endpoint's video frames; a wrong key gives
//! other frames or an error; the playlists carry `EXT-X-KEY` with the method of each.

mod common;

use std::process::Command;

use common::pusher::FixturePusher;
use common::*;

fn frames(file: &str, stream: &str, key: Option<&str>, input_opts: &[&str]) -> Option<Vec<String>> {
    let mut c = Command::new("ffmpeg");
    c.args(["-v", "error"]);
    if let Some(k) = key {
        c.args(["-decryption_key", k]);
    }
    c.args(input_opts);
    c.args([
        "-i",
        file,
        "-map",
        &format!("0:{stream}"),
        "-f",
        "framemd5",
        "-",
    ]);
    let out = c.output().unwrap();
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit(',').next().map(|s| s.trim().to_string()))
            .collect(),
    )
}

/// The `default_KID` of the first `tenc` of an init segment.
fn tenc_kid(init: &[u8]) -> String {
    let i = init.windows(4).position(|w| w == b"tenc").expect("tenc");
    hex::encode(&init[i + 12..i + 28])
}

async fn fetch(r: &Running, url: &str) -> Vec<u8> {
    testkit::http::get_bytes(&r.http, url.to_string())
        .await
        .unwrap_or_else(|| panic!("GET {url} failed"))
        .to_vec()
}

fn b64(b: &[u8], url: bool) -> String {
    use base64::Engine;
    if url {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    } else {
        base64::engine::general_purpose::STANDARD.encode(b)
    }
}

/// The key of `kid` (hex) from a W3C ClearKey licence server, in hex.
async fn clearkey(r: &Running, url: &str, kid: &str) -> String {
    let kid = b64(&hex::decode(kid).unwrap(), true);
    let resp = r
        .http
        .post(url)
        .json(&serde_json::json!({"kids": [kid], "type": "temporary"}))
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "licence {url}: {}",
        resp.status()
    );
    let j: serde_json::Value = resp.json().await.unwrap();
    let jwk = &j["keys"][0];
    assert_eq!(
        (jwk["kty"].as_str(), jwk["kid"].as_str()),
        (Some("oct"), Some(kid.as_str())),
        "{j}"
    );
    use base64::Engine;
    hex::encode(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk["k"].as_str().unwrap())
            .unwrap(),
    )
}

/// (init URL, segment URL, key URL, METHOD) of media sequence `seq` in a media playlist.
async fn entry(
    r: &Running,
    url: &str,
    seq: u64,
) -> (Option<String>, String, Option<String>, Option<String>) {
    let pl = testkit::http::get_media_playlist(&r.http, url).await;
    let i = (seq - pl.media_sequence) as usize;
    let abs = |u: &str| hls::uri::resolve_str(url, u).unwrap().to_string();
    let init = pl.segments[..=i]
        .iter()
        .rev()
        .find_map(|s| s.map.as_ref().and_then(|m| m.uri()).map(abs));
    let keys = pl.effective_keys(i);
    let key = keys.first();
    (
        init,
        abs(&pl.segments[i].uri),
        key.and_then(|k| k.uri()).map(abs),
        key.and_then(|k| k.method()).map(str::to_string),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cbcs_cenc_and_ts_sample_aes_decrypt_to_the_clear_frames() {
    testkit::require_peer!("ffmpeg");
    let shaka = testkit::require_peer!("shaka-packager");
    let r = start_default().await;
    let view = create(
        &r,
        serde_json::json!({"id": "d", "endpoints": [
            {"id": "cmaf", "packaging": "cmaf"},
            {"id": "cbcs", "packaging": "cmaf", "encryption": {"sample_aes": {}}},
            {"id": "cenc", "packaging": "cmaf", "encryption": {"aes_ctr": {"key_rotation_interval_seconds": 4}}},
            {"id": "ts"},
            {"id": "saes", "encryption": {"sample_aes": {}}}
        ]}),
    )
    .await;
    let t0 = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let mut pusher = FixturePusher::new(&view, t0);
    pusher.push_master().await;
    for _ in 0..6 {
        pusher.step().await;
    }
    let pl_url = |ep: &str| format!("{}/out/d/{ep}/channel_1.m3u8", r.base);
    let clear_pl = testkit::http::get_media_playlist(&r.http, &pl_url("cmaf")).await;
    let seq = clear_pl.media_sequence + clear_pl.segments.len() as u64 - 2;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (init, seg, key, method) = entry(&r, &pl_url("cmaf"), seq).await;
    assert!(key.is_none() && method.is_none());
    let clear_file = d.join("clear.mp4");
    std::fs::write(
        &clear_file,
        [fetch(&r, &init.unwrap()).await, fetch(&r, &seg).await].concat(),
    )
    .unwrap();
    let clear_file = clear_file.to_str().unwrap().to_string();
    let clear_v = frames(&clear_file, "v", None, &[]).unwrap();
    let clear_a = frames(&clear_file, "a", None, &[]).unwrap();
    assert!(clear_v.len() >= 20, "{} clear video frames", clear_v.len());

    for (ep, want_method) in [("cbcs", "SAMPLE-AES"), ("cenc", "SAMPLE-AES-CTR")] {
        let (init, seg, key_url, method) = entry(&r, &pl_url(ep), seq).await;
        assert_eq!(method.as_deref(), Some(want_method), "{ep}");
        let init = fetch(&r, &init.expect("EXT-X-MAP")).await;
        let file = d.join(format!("{ep}.mp4"));
        std::fs::write(&file, [init.clone(), fetch(&r, &seg).await].concat()).unwrap();
        let file = file.to_str().unwrap().to_string();
        // ClearKey signalling: the KID in a data: URI (as in the init's tenc); the key
        // from the origin's ClearKey licence, asked as an EME CDM asks.
        let kid = tenc_kid(&init);
        assert_eq!(
            key_url.as_deref(),
            Some(
                format!(
                    "data:text/plain;base64,{}",
                    b64(&hex::decode(&kid).unwrap(), false)
                )
                .as_str()
            ),
            "{ep}: EXT-X-KEY URI"
        );
        let key = clearkey(&r, &format!("{}/keys/d/{ep}/clearkey", r.base), &kid).await;
        assert_eq!(key.len(), 32);
        assert_eq!(
            frames(&file, "v", Some(&key), &[]).as_ref(),
            Some(&clear_v),
            "{ep} video"
        );
        assert_eq!(
            frames(&file, "a", Some(&key), &[]).as_ref(),
            Some(&clear_a),
            "{ep} audio"
        );
        let wrong = "00112233445566778899aabbccddeeff";
        assert_ne!(
            frames(&file, "v", Some(wrong), &[]).as_ref(),
            Some(&clear_v),
            "{ep} wrong key"
        );
        // Shaka Packager, raw key decryption.
        for (stream, ff, want) in [("video", "v", &clear_v), ("audio", "a", &clear_a)] {
            let out = d.join(format!("{ep}-{stream}-shaka.mp4"));
            let st = Command::new(&shaka)
                .arg(format!(
                    "in={file},stream={stream},output={}",
                    out.display()
                ))
                .args(["--enable_raw_key_decryption", "--keys"])
                .arg(format!("key_id={kid}:key={key}"))
                .output()
                .unwrap();
            assert!(
                st.status.success(),
                "{}",
                String::from_utf8_lossy(&st.stderr)
            );
            let got = frames(out.to_str().unwrap(), ff, None, &[]);
            assert_eq!(got.as_ref(), Some(want), "{ep} {stream} by Shaka Packager");
        }
    }

    // TS SAMPLE-AES, played from the origin by ffmpeg's HLS demuxer over the same
    // (time-shifted) window as the clear TS endpoint. ffmpeg hands over the last PES
    // packets of a span (before a discontinuity or the end) after leaving its segment, and
    // does not decrypt them (see media's tests/sample_aes.rs): the window is three
    // segments of one VOD (no discontinuity inside) and the first two are compared.
    let pl = testkit::http::get_media_playlist(&r.http, &pl_url("saes")).await;
    assert!(
        pl.segments
            .iter()
            .flat_map(|s| &s.keys)
            .any(|k| k.method() == Some("SAMPLE-AES") && k.iv().is_some())
    );
    let s0 = (0..seq)
        .find(|&s| !pusher.source_of(s + 1, 0).1 && !pusher.source_of(s + 2, 0).1)
        .expect("three segments of one VOD");
    let window = |ep: &str, n: u64| {
        let (a, b) = (pusher.start_of(s0), pusher.start_of(s0 + n));
        format!(
            "{}?start={}&end={}",
            pl_url(ep),
            a.timestamp(),
            b.timestamp()
        )
    };
    let opts = ["-allowed_extensions", "ALL"];
    let n = frames(&window("ts", 2), "v", None, &opts).unwrap().len();
    let clear_ts = frames(&window("ts", 3), "v", None, &opts).unwrap();
    let enc_ts = frames(&window("saes", 3), "v", None, &opts).unwrap();
    assert!(
        n >= 20 && clear_ts.len() > n && enc_ts.len() > n,
        "{n} TS frames"
    );
    assert_eq!(&enc_ts[..n], &clear_ts[..n], "TS SAMPLE-AES video");
    assert_ne!(
        enc_ts, clear_ts,
        "the last PES, left encrypted by ffmpeg, differs"
    );
}

/// A key source giving video and audio different keys (as a SPEKE provider does for the
/// presets `PRESET-VIDEO-1` / `PRESET-AUDIO-1`), signalled with the video KID.
struct PerTrackKeys;

const VIDEO_KEY: [u8; 16] = [0x11; 16];
const AUDIO_KEY: [u8; 16] = [0x22; 16];

impl origin::drm::KeySource for PerTrackKeys {
    fn keys(
        &self,
        req: origin::drm::KeyRequest,
    ) -> futures::future::BoxFuture<
        'static,
        Result<std::sync::Arc<origin::drm::PeriodKeys>, origin::OriginError>,
    > {
        use origin::drm::{HlsSignal, PeriodKeys, TrackKey};
        let kid = |track: u8| {
            let mut k = [track; 16];
            k[8..].copy_from_slice(&req.period.to_be_bytes());
            k
        };
        let (video, audio) = (kid(0xa1), kid(0xa2));
        let pssh = media::cenc::pssh_box(&media::cenc::COMMON_SYSTEM_ID, &[video, audio], &[]);
        let signal = HlsSignal { attrs: Vec::new() }
            .attr(
                "URI",
                format!("data:text/plain;base64,{}", b64(&video, false)),
                true,
            )
            .attr("KEYFORMAT", "org.w3.clearkey", true);
        Box::pin(std::future::ready(Ok(std::sync::Arc::new(PeriodKeys {
            video: TrackKey {
                kid: video,
                key: VIDEO_KEY,
            },
            audio: TrackKey {
                kid: audio,
                key: AUDIO_KEY,
            },
            pssh: vec![pssh],
            hls: vec![signal],
        }))))
    }
}

/// Video and audio under different keys: the init names a KID per track (`tenc`), each
/// track decrypts with its own key (ffmpeg per stream, Shaka Packager with both keys) to the
/// clear frames, and not with the other track's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn video_and_audio_keys_differ_when_the_key_source_says_so() {
    testkit::require_peer!("ffmpeg");
    let shaka = testkit::require_peer!("shaka-packager");
    let r = start_default().await;
    r.origin.set_key_source(std::sync::Arc::new(PerTrackKeys));
    let view = create(
        &r,
        serde_json::json!({"id": "t", "endpoints": [
            {"id": "cmaf", "packaging": "cmaf"},
            {"id": "cenc", "packaging": "cmaf", "encryption": {"aes_ctr": {}}}
        ]}),
    )
    .await;
    let t0 = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let mut pusher = FixturePusher::new(&view, t0);
    pusher.push_master().await;
    for _ in 0..4 {
        pusher.step().await;
    }
    let pl_url = |ep: &str| format!("{}/out/t/{ep}/channel_1.m3u8", r.base);
    let clear_pl = testkit::http::get_media_playlist(&r.http, &pl_url("cmaf")).await;
    let seq = clear_pl.media_sequence + clear_pl.segments.len() as u64 - 2;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |name: &str, parts: Vec<Vec<u8>>| {
        let f = d.join(name);
        std::fs::write(&f, parts.concat()).unwrap();
        f.to_str().unwrap().to_string()
    };
    let (init, seg, _, _) = entry(&r, &pl_url("cmaf"), seq).await;
    let clear = write(
        "clear.mp4",
        vec![fetch(&r, &init.unwrap()).await, fetch(&r, &seg).await],
    );
    let (clear_v, clear_a) = (
        frames(&clear, "v", None, &[]).unwrap(),
        frames(&clear, "a", None, &[]).unwrap(),
    );
    let (init, seg, _, _) = entry(&r, &pl_url("cenc"), seq).await;
    let init = fetch(&r, &init.unwrap()).await;
    let tencs: Vec<String> = init
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"tenc")
        .map(|(i, _)| hex::encode(&init[i + 12..i + 28]))
        .collect();
    assert_eq!(tencs.len(), 2, "a tenc per track");
    assert_ne!(tencs[0], tencs[1], "a KID per track");
    let file = write("enc.mp4", vec![init.clone(), fetch(&r, &seg).await]);
    let (vk, ak) = (hex::encode(VIDEO_KEY), hex::encode(AUDIO_KEY));
    assert_eq!(frames(&file, "v", Some(&vk), &[]).as_ref(), Some(&clear_v));
    assert_eq!(frames(&file, "a", Some(&ak), &[]).as_ref(), Some(&clear_a));
    assert_ne!(frames(&file, "a", Some(&vk), &[]).as_ref(), Some(&clear_a));
    // Shaka Packager with both keys (KIDs from the init), each stream decrypted.
    let keys = tencs
        .iter()
        .map(|kid| {
            let (label, key) = if kid.starts_with("a1") {
                ("VIDEO", &vk)
            } else {
                ("AUDIO", &ak)
            };
            format!("label={label}:key_id={kid}:key={key}")
        })
        .collect::<Vec<_>>()
        .join(",");
    for (stream, ff, want) in [("video", "v", &clear_v), ("audio", "a", &clear_a)] {
        let out = d.join(format!("{stream}-shaka.mp4"));
        let st = Command::new(&shaka)
            .arg(format!(
                "in={file},stream={stream},output={}",
                out.display()
            ))
            .args(["--enable_raw_key_decryption", "--keys", &keys])
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let got = frames(out.to_str().unwrap(), ff, None, &[]);
        assert_eq!(got.as_ref(), Some(want), "{stream} by Shaka Packager");
    }
}
