//! End to end: `ffmpeg -re` live HLS -> a Digest-PUT pusher (MediaPackage naming, two
//! ingest URLs, some segments only on one of them) -> origin -> ffmpeg as the player:
//! live, start-over (EVENT), start/end clip (VOD) and an AES-128 endpoint.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use testkit::http::{get_bytes, get_media_playlist, get_text};
use testkit::{ffprobe_duration, ffprobe_json};

struct Pusher {
    src: std::path::PathBuf,
    ingest: [DigestPut; 2],
    urls: [String; 2],
    pushed: BTreeSet<u64>,
}

impl Pusher {
    /// One poll: push new segments (seq % 4 == 0 only to ingest 2, others to ingest 1,
    /// every third also to ingest 2), then the playlist to both ingests.
    async fn poll(&mut self) {
        let Ok(text) = std::fs::read_to_string(self.src.join("stream_0/index.m3u8")) else {
            return;
        };
        let mut pl = hls::parse_media(&origin::timeline::normalize_pdt(&text))
            .expect("source playlist parses");
        for i in 0..pl.segments.len() {
            let seq = pl.sequence_of(i);
            let name = format!("channel_1_{seq}.ts");
            if !self.pushed.contains(&seq) {
                let Ok(bytes) = std::fs::read(self.src.join("stream_0").join(&pl.segments[i].uri))
                else {
                    continue;
                };
                let targets: &[usize] = match seq % 4 {
                    0 => &[1],
                    3 => &[0, 1],
                    _ => &[0],
                };
                for &t in targets {
                    let resp = self.ingest[t]
                        .put(&format!("{}_1_{seq}.ts", self.urls[t]), bytes.clone())
                        .await;
                    assert_eq!(resp.status(), 201, "segment put");
                }
                self.pushed.insert(seq);
            }
            pl.segments[i].uri = name;
        }
        let body = pl.to_bytes();
        for t in 0..2 {
            let resp = self.ingest[t]
                .put(&format!("{}_1.m3u8", self.urls[t]), body.clone())
                .await;
            assert_eq!(resp.status(), 201, "playlist put");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_startover_timeshift_aes() {
    if testkit::require("ffmpeg").is_none() || testkit::require("ffprobe").is_none() {
        return;
    }
    let live = testkit::FfmpegLive::start(testkit::LiveOptions {
        program_date_time: true,
        list_size: 6,
        ..Default::default()
    })
    .await
    .expect("ffmpeg live source");
    let r = start_default().await;
    let view = create(
        &r,
        serde_json::json!({"id": "live", "endpoints": [
            {"id": "hls", "manifest_window_seconds": 6, "startover_window_seconds": 300},
            {"id": "ifr", "manifest_window_seconds": 6, "i_frames": true},
            {"id": "delayed", "manifest_window_seconds": 4, "time_delay_seconds": 3},
            {"id": "enc", "manifest_window_seconds": 6, "encryption": {"aes128": {"key_rotation_seconds": 4}}},
            {"id": "cmaf", "manifest_window_seconds": 6, "startover_window_seconds": 300, "packaging": "cmaf", "i_frames": true}
        ]}),
    )
    .await;
    let ingest = [
        DigestPut::from_view(&view, 0),
        DigestPut::from_view(&view, 1),
    ];
    // MediaPackage-style ingest URLs name the file stem: PUT <url>.m3u8, <url>_1_<seq>.ts.
    let urls = [view.ingest[0].url.clone(), view.ingest[1].url.clone()];
    assert!(urls[0].ends_with("/in/live/1/channel"), "{}", urls[0]);
    let master = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=600000,CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360\nchannel_1.m3u8\n";
    assert_eq!(
        ingest[0]
            .put(&format!("{}.m3u8", urls[0]), master.into())
            .await
            .status(),
        201
    );
    let mut pusher = Pusher {
        src: live.hls_dir(),
        ingest,
        urls,
        pushed: BTreeSet::new(),
    };
    pusher.poll().await;
    assert!(
        !pusher.pushed.is_empty(),
        "first poll pushed nothing: {:?}",
        std::fs::read_dir(live.hls_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect::<Vec<_>>()
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let push_task = tokio::spawn(async move {
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            pusher.poll().await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        pusher
    });

    let out = format!("{}/out/live/hls", r.base);
    let http = r.http.clone();
    let url = format!("{out}/channel_1.m3u8");
    // Wait for ~8 segments so live, start-over and clips have material.
    let first = testkit::wait_for(Duration::from_secs(40), "8 segments at the origin", || {
        let http = http.clone();
        let url = url.clone();
        async move {
            let text = http.get(&url).send().await.ok()?.text().await.ok()?;
            let pl = hls::parse_media(&text).ok()?;
            (pl.segments.len() >= 6 && pl.media_sequence >= 2).then_some(pl)
        }
    })
    .await
    .unwrap_or_else(|e| {
        let text = std::process::Command::new("curl")
            .args(["-s", &url])
            .output()
            .unwrap();
        panic!(
            "{e}: {}\nffmpeg: {}",
            String::from_utf8_lossy(&text.stdout),
            live.log()
        );
    });
    // Master mirrors the ingest master.
    let m = r
        .http
        .get(format!("{out}/index.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), 200);
    assert_eq!(m.headers()["access-control-allow-origin"], "*");
    let mtext = m.text().await.unwrap();
    assert!(
        mtext.contains("RESOLUTION=640x360") && mtext.contains("\nchannel_1.m3u8"),
        "{mtext}"
    );

    // Live: valid, no holes (gap filled from ingest 2), advancing, short cache.
    let resp = r.http.get(&url).send().await.unwrap();
    let cc = resp.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(cc, "public, max-age=1");
    let pl = hls::parse_media(&resp.text().await.unwrap()).unwrap();
    assert!(
        pl.segments.iter().all(|s| !s.gap),
        "no gaps: both ingests fill each other"
    );
    assert!(!pl.end_list && pl.playlist_type.is_none());
    let seq0 = pl.media_sequence;
    testkit::wait_until(Duration::from_secs(10), "live playlist advances", || {
        let http = http.clone();
        let url = url.clone();
        async move {
            let text = http.get(&url).send().await.unwrap().text().await.unwrap();
            hls::parse_media(&text).unwrap().media_sequence > seq0
        }
    })
    .await
    .unwrap();
    // Segments: immutable, Bytes, HEAD works.
    let seg_url = format!("{out}/{}", pl.segments[0].uri);
    let seg = r.http.get(&seg_url).send().await.unwrap();
    assert_eq!(
        seg.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(seg.headers()["content-type"], "video/mp2t");
    let head = r.http.head(&seg_url).send().await.unwrap();
    assert_eq!(head.status(), 200);

    // The player decodes the live endpoint.
    let (ok, err) = ffmpeg_decode(&["-i", &format!("{out}/index.m3u8"), "-t", "6"]).await;
    assert!(ok, "live decode: {err}");

    // Start-over: EVENT from the first segment we saw.
    let start = first.segments[1].program_date_time.unwrap().timestamp();
    let ev_url = format!("{url}?start={start}");
    let ev = r.http.get(&ev_url).send().await.unwrap();
    assert_eq!(ev.status(), 200);
    let ev = hls::parse_media(&ev.text().await.unwrap()).unwrap();
    assert_eq!(ev.playlist_type, Some(hls::PlaylistType::Event));
    assert!(!ev.end_list);
    assert!(
        ev.segments.len() > first.segments.len() - 1,
        "event grows from the start"
    );
    let (ok, err) = ffmpeg_decode(&["-live_start_index", "0", "-i", &ev_url, "-t", "3"]).await;
    assert!(ok, "start-over decode: {err}");

    // Start/end clip: VOD of 4 seconds, decodes, about 4 s long.
    let s = first.segments[2].program_date_time.unwrap();
    let e = s + chrono::Duration::seconds(4);
    let clip_url = format!(
        "{url}?start={}&end={}",
        s.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        e.timestamp()
    );
    let clip = r.http.get(&clip_url).send().await.unwrap();
    assert_eq!(clip.status(), 200);
    assert_eq!(clip.headers()["cache-control"], "public, max-age=3600");
    let clip = hls::parse_media(&clip.text().await.unwrap()).unwrap();
    assert!(clip.end_list && clip.playlist_type == Some(hls::PlaylistType::Vod));
    assert!(
        (3.5..=6.5).contains(&clip.duration()),
        "clip duration {}",
        clip.duration()
    );
    let (ok, err) = ffmpeg_decode(&["-i", &clip_url]).await;
    assert!(ok, "clip decode: {err}");
    let d = ffprobe_duration(&clip_url).await;
    assert!((3.0..=7.0).contains(&d), "probed clip duration {d}");

    // Time delay: the delayed endpoint's edge is ~3 s behind.
    let delayed = get_media_playlist(
        &r.http,
        format!("{}/out/live/delayed/channel_1.m3u8", r.base),
    )
    .await;
    let now_pl = get_media_playlist(&r.http, &url).await;
    let last = |p: &hls::MediaPlaylist| p.media_sequence + p.segments.len() as u64;
    assert!(
        last(&delayed) + 2 <= last(&now_pl) + 1,
        "delayed {} vs live {}",
        last(&delayed),
        last(&now_pl)
    );

    // AES-128: decodes through the key URI; the key needs the token; bytes are ciphertext.
    let enc_url = format!("{}/out/live/enc/channel_1.m3u8", r.base);
    let enc = get_media_playlist(&r.http, &enc_url).await;
    let key = enc.segments[0]
        .keys
        .first()
        .expect("EXT-X-KEY on the first segment");
    assert_eq!(key.method(), Some("AES-128"));
    let key_url = hls::uri::resolve_str(&enc_url, key.uri().unwrap()).unwrap();
    let (ok, err) = ffmpeg_decode(&[
        "-allowed_extensions",
        "ALL",
        "-i",
        &format!("{}/out/live/enc/index.m3u8", r.base),
        "-t",
        "3",
    ])
    .await;
    assert!(ok, "aes decode: {err}");
    let key_bytes = get_bytes(&r.http, key_url.clone()).await.unwrap();
    assert_eq!(key_bytes.len(), 16);
    let mut no_token = key_url.clone();
    no_token.set_query(None);
    assert_eq!(
        r.http.get(no_token.clone()).send().await.unwrap().status(),
        401
    );
    no_token.set_query(Some("token=00"));
    assert_eq!(r.http.get(no_token).send().await.unwrap().status(), 403);
    let seg_url = hls::uri::resolve_str(&enc_url, &enc.segments[0].uri).unwrap();
    let cipher = get_bytes(&r.http, seg_url).await.unwrap();
    assert_ne!(cipher[0], 0x47, "encrypted bytes are not TS");
    let iv = media::aes::iv_from_sequence(enc.media_sequence);
    let plain =
        media::aes::decrypt_segment(&cipher, &key_bytes[..].try_into().unwrap(), &iv).unwrap();
    assert_eq!(plain[0], 0x47);
    let wrong = media::aes::decrypt_segment(&cipher, &[0u8; 16], &iv);
    assert!(
        wrong.map_or(true, |p| p.first() != Some(&0x47)),
        "a wrong key does not yield TS"
    );
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("enc.ts");
    std::fs::write(&p, &cipher).unwrap();
    let (ok, _) = ffmpeg_decode(&["-i", p.to_str().unwrap()]).await;
    assert!(!ok, "ciphertext must not decode without the key");

    // I-frame-only playlist: each byte range (with the MAP's PAT/PMT) decodes as one frame.
    let (status, im) = get_text(&r.http, format!("{}/out/live/ifr/index.m3u8", r.base)).await;
    assert_eq!(status, 200, "{im}");
    assert!(
        im.contains("#EXT-X-I-FRAME-STREAM-INF:") && im.contains("URI=\"channel_1_iframes.m3u8\""),
        "{im}"
    );
    let if_url = format!("{}/out/live/ifr/channel_1_iframes.m3u8", r.base);
    let ifr = get_media_playlist(&r.http, &if_url).await;
    assert!(ifr.i_frames_only && ifr.segments.len() >= 3);
    let range = |u: &str, br: hls::ByteRange| {
        let http = r.http.clone();
        let u = hls::uri::resolve_str(&if_url, u).unwrap();
        async move {
            let off = br.offset.unwrap();
            let resp = http
                .get(u)
                .header("range", format!("bytes={}-{}", off, off + br.length - 1))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 206);
            resp.bytes().await.unwrap()
        }
    };
    for (i, seg) in ifr.segments.iter().take(3).enumerate() {
        let map = ifr.effective_map(i).expect("EXT-X-MAP");
        let mut bytes = range(map.uri().unwrap(), map.byte_range().unwrap())
            .await
            .to_vec();
        bytes.extend_from_slice(&range(&seg.uri, seg.byte_range.unwrap()).await);
        let p = tmp.path().join(format!("kf{i}.ts"));
        std::fs::write(&p, &bytes).unwrap();
        let j = probe_video_frames(&p).await;
        assert_eq!(j["streams"][0]["nb_read_frames"], "1", "keyframe {i}: {j}");
    }

    cmaf_checks(&r, &first, tmp.path()).await;

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    push_task.await.expect("the ingest pusher task panicked");
}

/// The CMAF endpoint of the same channel: fMP4 remuxed from the ingested TS.
async fn cmaf_checks(r: &Running, first: &hls::MediaPlaylist, tmp: &std::path::Path) {
    let get = |u: String| {
        let http = r.http.clone();
        async move {
            let resp = http.get(&u).send().await.unwrap();
            assert_eq!(resp.status(), 200, "{u}");
            resp
        }
    };
    let base = format!("{}/out/live/cmaf", r.base);
    // Master: version 7, CODECS of what the fMP4 carries, I-frame stream.
    let master = get(format!("{base}/index.m3u8"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        master.contains("#EXT-X-VERSION:7") && master.contains("#EXT-X-INDEPENDENT-SEGMENTS"),
        "{master}"
    );
    let mpl = hls::parse_master(&master).unwrap();
    let codecs = mpl.variants[0].codecs().unwrap().to_string();
    assert!(
        codecs.contains("avc1.") && codecs.contains("mp4a.40.2"),
        "{codecs}"
    );
    assert!(
        master.contains("URI=\"channel_1_iframes.m3u8\""),
        "{master}"
    );

    // Live media playlist: version 7, EXT-X-MAP, .m4s, no gaps.
    let url = format!("{base}/channel_1.m3u8");
    let text = get(url.clone()).await.text().await.unwrap();
    assert!(
        text.contains("#EXT-X-VERSION:7") && text.contains("#EXT-X-INDEPENDENT-SEGMENTS"),
        "{text}"
    );
    let pl = hls::parse_media(&text).unwrap();
    assert!(pl.segments.len() >= 3, "{text}");
    assert!(
        pl.segments
            .iter()
            .all(|s| !s.gap && s.uri.ends_with(".m4s")),
        "{text}"
    );
    let map = pl.effective_map(0).expect("EXT-X-MAP").clone();
    let init_url = hls::uri::resolve_str(&url, map.uri().unwrap()).unwrap();
    let init = get(init_url.to_string()).await;
    assert_eq!(init.headers()["content-type"], "video/mp4");
    let init = init.bytes().await.unwrap();
    let mut whole = init.to_vec();
    let mut frags = Vec::new();
    for seg in &pl.segments[..2] {
        let u = hls::uri::resolve_str(&url, &seg.uri).unwrap();
        let resp = get(u.to_string()).await;
        assert_eq!(resp.headers()["content-type"], "video/iso.segment");
        assert_eq!(
            resp.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let b = resp.bytes().await.unwrap();
        // Served from the cache: the same bytes again.
        assert_eq!(get(u.to_string()).await.bytes().await.unwrap(), b);
        whole.extend_from_slice(&b);
        frags.push(b);
    }
    // Structure, independent of ffmpeg: moov has both tracks, each moof a tfdt, and
    // fragment n+1 starts where fragment n ends.
    let info = media::fmp4::inspect(&whole).unwrap();
    let handlers: Vec<&str> = info.tracks.iter().map(|t| t.handler.as_str()).collect();
    assert!(
        handlers.contains(&"vide") && handlers.contains(&"soun"),
        "{handlers:?}"
    );
    assert_eq!(info.fragments.len(), 2);
    assert!(
        info.fragments
            .iter()
            .all(|f| f.trafs.iter().all(|t| t.base_media_decode_time.is_some()))
    );
    info.check_continuity().expect("tfdt continuity");
    let p = tmp.join("cmaf.mp4");
    std::fs::write(&p, &whole).unwrap();
    let probe = ffprobe_json(&["-show_entries", "stream=codec_name", p.to_str().unwrap()]).await;
    let names: Vec<&str> = probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["codec_name"].as_str())
        .collect();
    assert!(names.contains(&"h264") && names.contains(&"aac"), "{probe}");
    let (ok, err) = ffmpeg_decode(&["-i", p.to_str().unwrap()]).await;
    assert!(ok, "init + 2 fragments decode: {err}");

    // The player decodes the live CMAF endpoint.
    let (ok, err) = ffmpeg_decode(&["-i", &format!("{base}/index.m3u8"), "-t", "6"]).await;
    assert!(ok, "cmaf live decode: {err}");
    let (ok, err) = ffmpeg_decode(&["-i", &url, "-t", "4"]).await;
    assert!(ok, "cmaf live media playlist decode: {err}");

    // Start-over and a start/end clip.
    let start = first.segments[1].program_date_time.unwrap().timestamp();
    let ev_url = format!("{url}?start={start}");
    let ev = hls::parse_media(&get(ev_url.clone()).await.text().await.unwrap()).unwrap();
    assert_eq!(ev.playlist_type, Some(hls::PlaylistType::Event));
    assert!(ev.segments.iter().all(|s| !s.gap));
    let (ok, err) = ffmpeg_decode(&["-live_start_index", "0", "-i", &ev_url, "-t", "3"]).await;
    assert!(ok, "cmaf start-over decode: {err}");
    let s = first.segments[2].program_date_time.unwrap();
    let clip_url = format!("{url}?start={}&end={}", s.timestamp(), s.timestamp() + 4);
    let clip = hls::parse_media(&get(clip_url.clone()).await.text().await.unwrap()).unwrap();
    assert!(clip.end_list && clip.effective_map(0).is_some());
    let (ok, err) = ffmpeg_decode(&["-i", &clip_url]).await;
    assert!(ok, "cmaf clip decode: {err}");
    let d = ffprobe_duration(&clip_url).await;
    assert!((3.0..=7.0).contains(&d), "probed cmaf clip duration {d}");

    // I-frames: init + each byte range decodes as one frame.
    let if_url = format!("{base}/channel_1_iframes.m3u8");
    let ifr = hls::parse_media(&get(if_url.clone()).await.text().await.unwrap()).unwrap();
    assert!(ifr.i_frames_only && ifr.segments.len() >= 3);
    for (i, seg) in ifr.segments.iter().take(3).enumerate() {
        let map = ifr.effective_map(i).expect("EXT-X-MAP");
        assert!(map.byte_range().is_none());
        let mut bytes = get(hls::uri::resolve_str(&if_url, map.uri().unwrap())
            .unwrap()
            .to_string())
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
        let br = seg.byte_range.unwrap();
        let off = br.offset.unwrap();
        let resp = r
            .http
            .get(hls::uri::resolve_str(&if_url, &seg.uri).unwrap())
            .header("range", format!("bytes={}-{}", off, off + br.length - 1))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 206);
        bytes.extend_from_slice(&resp.bytes().await.unwrap());
        let p = tmp.join(format!("cmaf_kf{i}.mp4"));
        std::fs::write(&p, &bytes).unwrap();
        let j = probe_video_frames(&p).await;
        assert_eq!(
            j["streams"][0]["nb_read_frames"], "1",
            "cmaf keyframe {i}: {j}"
        );
    }

    // A TS name on a CMAF endpoint is not served.
    let ts = hls::uri::resolve_str(&url, &pl.segments[0].uri.replace(".m4s", ".ts")).unwrap();
    assert_eq!(r.http.get(ts).send().await.unwrap().status(), 404);
}
