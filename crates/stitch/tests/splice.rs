//! Spliced VODs end to end: the fixtures served over HTTP, the stitch service in front,
//! every playlist validated, ffmpeg decoding across every break, SCTE-35 read back by
//! threefive.

mod common;

use common::{Env, assert_decodes, payload, threefive, uris};
use hls::Marker;

/// Pre-roll (pos 0), mid-roll (pos 3 s snaps to the 4 s boundary) and post-roll (pos at the
/// end) of ads/vod1 (10 s, 5 segments) into ts/vod1 (8 s, 4 segments).
#[tokio::test]
async fn pre_mid_post_rolls() {
    let env = Env::start().await;
    let ad = env.fixture("ads/vod1");
    let p = payload(
        &env.fixture("ts/vod1"),
        &[(0, &ad), (3000, &ad), (8000, &ad)],
    );
    let s = env.stitched(&env.master_url(&p, "")).await;
    assert_eq!(s.master.variants.len(), 2);
    for m in s.of_kind("variant") {
        let pl = &m.playlist;
        let u = uris(pl);
        assert_eq!(u.len(), 4 + 3 * 5, "{}", m.text);
        let rung = if u[5].contains("/360p/") {
            "360p"
        } else {
            "180p"
        };
        let content = |i: usize| env.fixtures.url(&format!("/ts/vod1/{rung}/seg00{i}.ts"));
        let ad_seg = |i: usize| env.fixtures.url(&format!("/ads/vod1/{rung}/seg00{i}.ts"));
        // pre-roll, content 0-1, mid-roll, content 2-3, post-roll
        let expected: Vec<String> = (0..5)
            .map(ad_seg)
            .chain((0..2).map(content))
            .chain((0..5).map(ad_seg))
            .chain((2..4).map(content))
            .chain((0..5).map(ad_seg))
            .collect();
        assert_eq!(u, expected);
        let disc: Vec<usize> = pl
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.discontinuity)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(disc, [5, 7, 12, 14], "{}", m.text);
        // Markers: CUE-OUT on each ad's first segment, CUE-IN where content resumes (and
        // after the last segment for the post-roll). The ad's own markers are gone.
        let outs: Vec<usize> = marker_at(pl, |m| matches!(m, Marker::CueOut { .. }));
        assert_eq!(outs, [0, 7, 14]);
        let ins: Vec<usize> = marker_at(pl, |m| matches!(m, Marker::CueIn));
        assert_eq!(ins, [5, 12]);
        assert!(
            pl.trailing
                .as_ref()
                .is_some_and(|t| t.markers.contains(&Marker::CueIn)),
            "post-roll CUE-IN"
        );
        for i in outs {
            let d = pl.segments[i].markers[0].duration().unwrap();
            assert!((d - 10.0).abs() < 0.01, "CUE-OUT duration {d}");
        }
        assert!(
            !m.text.contains("splice-1"),
            "the ad's own DATERANGE is dropped"
        );
    }

    // SCTE-35 from the DATERANGEs, read by an independent decoder.
    let v = s.of_kind("variant").next().unwrap();
    let scte: Vec<(String, String)> = v
        .playlist
        .segments
        .iter()
        .chain(v.playlist.trailing.as_deref())
        .flat_map(|s| s.dateranges.iter())
        .flat_map(|d| {
            ["SCTE35-OUT", "SCTE35-IN"]
                .into_iter()
                .filter_map(|k| Some((k.to_string(), d.attrs.get(k)?.to_string())))
        })
        .collect();
    assert_eq!(scte.len(), 6, "{}", v.text);
    if testkit::require("python3:threefive").is_some() {
        for (kind, hex) in &scte {
            let (name, out, duration) = threefive(hex);
            assert_eq!(name, "Splice Insert", "{hex}");
            assert_eq!(out, kind == "SCTE35-OUT", "{kind} {hex}");
            if kind == "SCTE35-OUT" {
                assert!(
                    duration.is_some_and(|d| (d - 10.0).abs() < 0.01),
                    "{duration:?}"
                );
            }
        }
    }

    testkit::require_peer!("ffmpeg");
    for m in &s.media {
        assert_decodes(&m.url).await;
        // The ads were decoded too: 8 s of content + 3 x 10 s of ads.
        let d = testkit::ffprobe_duration(&m.url).await;
        assert!((d - 38.0).abs() < 0.5, "{}: duration {d}", m.url);
    }
}

fn marker_at(pl: &hls::MediaPlaylist, f: impl Fn(&Marker) -> bool) -> Vec<usize> {
    pl.segments
        .iter()
        .enumerate()
        .filter(|(_, s)| s.markers.iter().any(&f))
        .map(|(i, _)| i)
        .collect()
}

/// An ad with a different ladder (three rungs at other bandwidths): each content variant
/// gets the ad variant nearest in bandwidth. ts/vod1 is 417000 and 225000; the ad is
/// 800000 / 400000 / 150000, so 417000 -> 400000 and 225000 -> 150000.
#[tokio::test]
async fn nearest_bandwidth_on_different_ladders() {
    testkit::require_peer!("ffmpeg");
    let dir = tempfile::tempdir().unwrap();
    let rungs = [
        ("r800", 800_000, "480x270"),
        ("r400", 400_000, "640x360"),
        ("r150", 150_000, "256x144"),
    ];
    let mut master = String::from("#EXTM3U\n#EXT-X-VERSION:3\n");
    for (name, bw, size) in rungs {
        let out = dir.path().join(name);
        std::fs::create_dir_all(&out).unwrap();
        let status = tokio::process::Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-y"])
            .args([
                "-f",
                "lavfi",
                "-i",
                &format!("testsrc2=size={size}:rate=25:duration=4"),
            ])
            .args([
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=1000:sample_rate=48000:duration=4",
            ])
            .args([
                "-c:v",
                "libx264",
                "-profile:v",
                "high",
                "-g",
                "50",
                "-pix_fmt",
                "yuv420p",
            ])
            .args(["-c:a", "aac", "-ac", "2", "-shortest"])
            .args(["-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod"])
            .args(["-hls_segment_filename"])
            .arg(out.join("seg%03d.ts"))
            .arg(out.join("index.m3u8"))
            .status()
            .await
            .unwrap();
        assert!(status.success(), "ffmpeg made the {name} rung");
        master.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={bw},CODECS=\"avc1.640015,mp4a.40.2\",RESOLUTION={size}\n{name}/index.m3u8\n"
        ));
    }
    std::fs::write(dir.path().join("master.m3u8"), master).unwrap();
    let (_, ads) = testkit::serve_dir(dir.path()).await;
    let env = Env::start().await;
    let ad = ads.url("/master.m3u8");
    let p = payload(&env.fixture("ts/vod1"), &[(4000, &ad)]);
    let s = env.stitched(&env.master_url(&p, "")).await;
    let mut matched = Vec::new();
    for (variant, m) in s.master.variants.iter().zip(s.of_kind("variant")) {
        let ad_seg = m
            .playlist
            .segments
            .iter()
            .find(|s| s.uri.starts_with(&ads.url("/")))
            .expect("an ad segment");
        let rung = ad_seg.uri.rsplit('/').nth(1).unwrap().to_string();
        matched.push((variant.bandwidth().unwrap(), rung));
        assert_decodes(&m.url).await;
    }
    matched.sort();
    assert_eq!(
        matched,
        [(225_000, "r150".to_string()), (417_000, "r400".to_string())]
    );
}

/// Demuxed content and ad: every audio rendition gets the ad's audio in its language, and
/// the break is at the same time in the video and the audio (AAC segments are 2.005 s).
#[tokio::test]
async fn demuxed_audio_by_group_and_language() {
    let env = Env::start().await;
    let vod = env.fixture("demuxed/vod1");
    let p = payload(&vod, &[(4000, &vod)]);
    let s = env.stitched(&env.master_url(&p, "")).await;
    let audio: Vec<_> = s.of_kind("AUDIO").collect();
    assert_eq!(audio.len(), 2);
    for a in &audio {
        let lang = if a.url.contains("language=en") {
            "en"
        } else {
            "sv"
        };
        let u = uris(&a.playlist);
        assert_eq!(u.len(), 8);
        for (i, uri) in u.iter().enumerate() {
            assert!(
                uri.contains(&format!("/demuxed/vod1/audio_{lang}/")),
                "{i}: {uri}"
            );
        }
        assert!(a.playlist.segments[2].discontinuity && a.playlist.segments[6].discontinuity);
        assert!(
            a.playlist.segments[2]
                .markers
                .iter()
                .any(|m| matches!(m, Marker::CueOut { .. }))
        );
    }
    for v in s.of_kind("variant") {
        assert!(v.playlist.segments[2].discontinuity && v.playlist.segments[6].discontinuity);
    }
    testkit::require_peer!("ffmpeg");
    for m in &s.media {
        assert_decodes(&m.url).await;
    }
    assert_decodes(&env.master_url(&p, "")).await;
}

/// Subtitles are kept: an ad without subtitles gets empty WebVTT segments served by the
/// service; an ad with subtitles contributes its own in the same language.
#[tokio::test]
async fn subtitles_kept_with_empty_webvtt_for_ads_without() {
    let env = Env::start().await;
    let content = env.fixture("subs/vod1");
    let p = payload(
        &content,
        &[(2000, &env.fixture("ts/vod2")), (6000, &content)],
    );
    let s = env.stitched(&env.master_url(&p, "")).await;
    let subs: Vec<_> = s.of_kind("SUBTITLES").collect();
    assert_eq!(subs.len(), 2);
    for sub in subs {
        let lang = if sub.url.contains("language=en") {
            "en"
        } else {
            "sv"
        };
        let u = uris(&sub.playlist);
        // content 0, empty x4 (ts/vod2 is 4 segments), content 1-2, ad subs x4, content 3
        assert_eq!(u.len(), 1 + 4 + 2 + 4 + 1, "{}", sub.text);
        for uri in &u[1..5] {
            assert!(uri.ends_with("/stitch/empty.vtt"), "{uri}");
        }
        for uri in u[..1].iter().chain(&u[5..]) {
            assert!(uri.contains(&format!("/subs/vod1/subs_{lang}/")), "{uri}");
        }
        let (status, body) = testkit::http::get_text(&env.client, u[1]).await;
        assert_eq!(status, 200);
        assert!(body.starts_with("WEBVTT"));
    }
    // ffmpeg 5.1's HLS demuxer keeps the codec parameters of the first EXT-X-MAP: an ad
    // init of another resolution then fails to decode even without stitching (two fixture
    // files in one playlist show it). So decode the renditions whose ad has the content's
    // resolution; cmaf/vod2's 360p rung is the nearest to cmaf/vod1's 360p (385000).
    testkit::require_peer!("ffmpeg");
    let mut decoded = 0;
    for m in s.of_kind("variant") {
        let rung = |i: usize| {
            let uri = m.playlist.segments[i]
                .map
                .as_ref()
                .and_then(|m| m.uri())
                .unwrap_or("");
            uri.rsplit('/').nth(1).unwrap_or("").to_string()
        };
        if rung(0) == rung(4) {
            assert_decodes(&m.url).await;
            decoded += 1;
        }
    }
    assert!(decoded >= 1);
}

/// CMAF (fMP4 with EXT-X-MAP): the ad's MAP comes right after its DISCONTINUITY, and the
/// content's MAP again where it resumes; a TS ad in fMP4 content is refused.
#[tokio::test]
async fn cmaf_maps_follow_the_discontinuities() {
    let env = Env::start().await;
    let p = payload(
        &env.fixture("cmaf/vod1"),
        &[
            (0, &env.fixture("cmaf/vod2")),
            (4000, &env.fixture("cmaf/vod2")),
        ],
    );
    let s = env.stitched(&env.master_url(&p, "")).await;
    for m in s.of_kind("variant") {
        let pl = &m.playlist;
        assert_eq!(pl.segments.len(), 12);
        let map_of = |i: usize| {
            pl.segments[i]
                .map
                .as_ref()
                .and_then(|m| m.uri())
                .unwrap_or("")
        };
        for (i, vod) in [(0, "vod2"), (4, "vod1"), (6, "vod2"), (10, "vod1")] {
            assert!(
                map_of(i).contains(&format!("/cmaf/{vod}/")),
                "{i}: {}",
                m.text
            );
            assert!(map_of(i).ends_with("/init.mp4"));
            assert_eq!(pl.segments[i].discontinuity, i != 0);
        }
        assert!(
            m.text.contains("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:"),
            "{}",
            m.text
        );
        assert!(pl.version.unwrap() >= 6);
    }
    let mixed = payload(
        &env.fixture("cmaf/vod1"),
        &[(4000, &env.fixture("ts/vod2"))],
    );
    let m = s.of_kind("variant").next().unwrap();
    let bw = m
        .url
        .split("bw=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let url = env
        .master_url(&mixed, &format!("&bw={bw}"))
        .replace("/master.m3u8", "/media.m3u8");
    let resp = env.client.get(&url).send().await.unwrap();
    testkit::http::assert_api_error(resp, 400, "payload.breaks[0].url", &url).await;

    // ffmpeg 5.1's HLS demuxer keeps the codec parameters of the first EXT-X-MAP: an ad
    // init of another resolution then fails to decode even without stitching (two fixture
    // files in one playlist show it). So decode the renditions whose ad has the content's
    // resolution; cmaf/vod2's 360p rung is the nearest to cmaf/vod1's 360p (385000).
    testkit::require_peer!("ffmpeg");
    let mut decoded = 0;
    for m in s.of_kind("variant") {
        let rung = |i: usize| {
            let uri = m.playlist.segments[i]
                .map
                .as_ref()
                .and_then(|m| m.uri())
                .unwrap_or("");
            uri.rsplit('/').nth(1).unwrap_or("").to_string()
        };
        if rung(0) == rung(4) {
            assert_decodes(&m.url).await;
            decoded += 1;
        }
    }
    assert!(decoded >= 1);
}

/// AES-128 content with a clear ad: the ad starts with `METHOD=NONE`, the content resumes
/// with its key again (absolute URI), and the whole decodes.
#[tokio::test]
async fn encrypted_content_with_a_clear_ad() {
    let env = Env::start().await;
    let p = payload(&env.fixture("aes/vod1"), &[(4000, &env.fixture("ts/vod2"))]);
    let s = env.stitched(&env.master_url(&p, "")).await;
    for m in s.of_kind("variant") {
        let seg = &m.playlist.segments;
        assert_eq!(seg.len(), 8);
        assert_eq!(seg[2].keys.len(), 1, "{}", m.text);
        assert_eq!(seg[2].keys[0].method(), Some("NONE"));
        assert_eq!(seg[6].keys[0].method(), Some("AES-128"));
        let key = seg[6].keys[0].uri().unwrap();
        assert!(
            key.starts_with("http://") && key.ends_with("key.bin"),
            "{key}"
        );
    }
    testkit::require_peer!("ffmpeg");
    for m in s.of_kind("variant") {
        assert_decodes(&m.url).await;
    }
}
