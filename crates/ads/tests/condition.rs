//! Ad conditioning with the real ffmpeg: an MP4 mezzanine (1280x720, 25 fps, 10 s, mono
//! 44.1 kHz audio; made by ffmpeg at test time and served over HTTP) is conditioned for
//! the bundled TS, CMAF and demuxed-audio contents. ffprobe is the oracle: every segment of
//! each rendition has the codec, profile, level, size, frame rate, audio sample rate and
//! channels of the first segment of the content rendition it is made for, starts on a
//! keyframe and lasts at most the content's target duration. Many requests at once make
//! one ffmpeg run; a restart finds the ad again; replicas on one S3 bucket (moto) make it
//! once between them; broken creatives fail, are remembered, and leave no files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ads::condition::{
    ConditionConfig, Conditioner, ContentProfile, Readiness, SharedStore, profile,
};
use serde_json::Value;

const READY_WITHIN: Duration = Duration::from_secs(240);

/// A 10 s 1280x720 25 fps MP4 with mono 44.1 kHz AAC, like an ad server's mezzanine.
async fn make_mezzanine(dir: &Path) -> PathBuf {
    let out = dir.join("ad.mp4");
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=s=1280x720:r=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100"])
        .args(["-t", "10", "-c:v", "libx264", "-preset", "ultrafast"])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "1"])
        .arg(&out)
        .status()
        .await
        .unwrap();
    assert!(status.success());
    out
}

/// An ffmpeg that logs each run to `log` before doing the work (to count jobs).
fn counting_ffmpeg(dir: &Path, log: &Path) -> PathBuf {
    let script = dir.join("ffmpeg-counting");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{}'\nexec ffmpeg \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn runs(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

/// A conditioner on `dir`, its files served at a local address.
async fn conditioner(dir: &Path, ffmpeg: &Path, shared: Option<SharedStore>) -> Conditioner {
    // The public URL must be known before the cache opens: bind first, then serve.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1/conditioned", listener.local_addr().unwrap());
    let mut cfg = ConditionConfig::new(dir, base);
    cfg.ffmpeg = ffmpeg.to_path_buf();
    cfg.shared = shared;
    cfg.retry_after = Duration::from_secs(30);
    let c = Conditioner::new(cfg, reqwest::Client::new()).unwrap();
    let router = c.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    c
}

async fn bytes(url: &str) -> Vec<u8> {
    let r = reqwest::get(url).await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.bytes().await.unwrap().to_vec()
}

/// ffprobe's streams and first video frame of `data` (written to a file).
async fn probe(data: &[u8], tmp: &Path, name: &str) -> (Vec<Value>, Option<Value>) {
    let path = tmp.join(name);
    std::fs::write(&path, data).unwrap();
    let p = path.to_str().unwrap();
    let streams = testkit::ffprobe_json(&["-show_streams", p]).await["streams"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let frame = testkit::ffprobe_json(&[
        "-select_streams",
        "v:0",
        "-read_intervals",
        "%+#1",
        "-show_entries",
        "frame=key_frame,pict_type",
        p,
    ])
    .await["frames"][0]
        .clone();
    (streams, (!frame.is_null()).then_some(frame))
}

/// The properties an ad rendition must share with its content rendition.
fn shape(streams: &[Value]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for s in streams {
        let kind = s["codec_type"].as_str().unwrap_or("").to_string();
        let keys: &[&str] = match kind.as_str() {
            "video" => &[
                "codec_name",
                "profile",
                "level",
                "width",
                "height",
                "avg_frame_rate",
                "pix_fmt",
            ],
            "audio" => &["codec_name", "profile", "sample_rate", "channels"],
            _ => continue,
        };
        for k in keys {
            out.push((format!("{kind}.{k}"), s[*k].to_string()));
        }
    }
    out
}

/// The content's rendition `uri` (media playlist URL): its first segment (init prepended).
async fn content_first_segment(media_url: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes(media_url).await).unwrap();
    let m = hls::parse_media(&text).unwrap();
    let base = url::Url::parse(media_url).unwrap();
    let abs = |u: &str| base.join(u).unwrap().to_string();
    let mut out = Vec::new();
    if let Some(init) = m.effective_map(0).and_then(|x| x.uri()) {
        out.extend(bytes(&abs(init)).await);
    }
    out.extend(bytes(&abs(&m.segments[0].uri)).await);
    out
}

/// The ad's own master and media playlists pass the RFC 8216 validator (each, and the
/// variants against each other), and name what the content names: one variant per content
/// variant with its bandwidth, one audio rendition per content audio rendition.
async fn validate_playlists(ad: &ads::condition::ConditionedAd, content: &hls::MasterPlaylist) {
    let text = String::from_utf8(bytes(&ad.master_url()).await).unwrap();
    let (parsed, problems) = hls::validate::check_text(&text);
    let errors: Vec<_> = problems
        .iter()
        .filter(|p| p.severity == hls::validate::Severity::Error)
        .collect();
    assert!(errors.is_empty(), "master: {errors:?}\n{text}");
    let Some(hls::Playlist::Master(m)) = parsed else {
        panic!("not a master: {text}")
    };
    let bw = |v: &hls::VariantStream| v.bandwidth();
    assert_eq!(
        m.variants.iter().map(bw).collect::<Vec<_>>(),
        content.variants.iter().map(bw).collect::<Vec<_>>()
    );
    assert_eq!(
        m.media.len(),
        content.media.iter().filter(|r| r.uri().is_some()).count()
    );
    let base = url::Url::parse(&ad.master_url()).unwrap();
    let mut medias = Vec::new();
    let uris: Vec<String> = m
        .variants
        .iter()
        .map(|v| v.uri.clone())
        .chain(m.media.iter().filter_map(|r| r.uri().map(str::to_string)))
        .collect();
    for uri in &uris {
        let text = String::from_utf8(bytes(base.join(uri).unwrap().as_str()).await).unwrap();
        let (parsed, problems) = hls::validate::check_text(&text);
        let errors: Vec<_> = problems
            .iter()
            .filter(|p| p.severity == hls::validate::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{uri}: {errors:?}\n{text}");
        let Some(hls::Playlist::Media(media)) = parsed else {
            panic!("{uri}: not a media playlist")
        };
        medias.push((uri.clone(), media));
    }
    let pairs: Vec<(&str, &hls::MediaPlaylist)> =
        medias.iter().map(|(u, m)| (u.as_str(), m)).collect();
    let cross: Vec<_> = hls::validate::check_variants(&m, &pairs)
        .into_iter()
        .filter(|p| p.severity == hls::validate::Severity::Error)
        .collect();
    assert!(cross.is_empty(), "{cross:?}");
}

/// Checks every segment of `ad` against the content master at `master_url`.
async fn check_against_content(
    ad: &ads::condition::ConditionedAd,
    master_url: &str,
    profile: &ContentProfile,
    tmp: &Path,
) {
    let master = hls::parse_master(&String::from_utf8(bytes(master_url).await).unwrap()).unwrap();
    let base = url::Url::parse(master_url).unwrap();
    let mut targets: Vec<(String, String)> = master
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("v{i}"), base.join(&v.uri).unwrap().to_string()))
        .collect();
    targets.extend(
        master
            .media
            .iter()
            .filter(|r| r.media_type() == Some(hls::MediaType::Audio))
            .filter_map(|r| r.uri())
            .enumerate()
            .map(|(k, u)| (format!("a{k}"), base.join(u).unwrap().to_string())),
    );
    assert_eq!(
        ad.renditions.len(),
        targets.len(),
        "one rendition per content rendition"
    );
    validate_playlists(ad, &master).await;
    for (name, media_url) in targets {
        let want = shape(
            &probe(&content_first_segment(&media_url).await, tmp, "content")
                .await
                .0,
        );
        let r = ad.renditions.iter().find(|r| r.name == name).unwrap();
        assert!((ad.duration - 10.0).abs() < 0.2, "ad lasts {}", ad.duration);
        let init = match &r.init {
            Some(i) => bytes(&ad.url(i)).await,
            None => Vec::new(),
        };
        assert_eq!(
            r.init.is_some(),
            profile.container == profile::Container::Fmp4
        );
        for (seg, secs) in &r.segments {
            assert!(
                *secs <= profile.segment_secs as f64 + 0.05,
                "{seg}: {secs} s"
            );
            let mut data = init.clone();
            data.extend(bytes(&ad.url(seg)).await);
            let (streams, frame) = probe(&data, tmp, "ad").await;
            assert_eq!(
                shape(&streams),
                want,
                "{name} {seg} vs the content's {media_url}"
            );
            let has_video = want.iter().any(|(k, _)| k.starts_with("video."));
            assert!(
                !want.is_empty() && has_video == name.starts_with('v'),
                "{want:?}"
            );
            if has_video {
                let f = frame.unwrap_or_else(|| panic!("{name} {seg}: no video frame"));
                assert_eq!(f["key_frame"], 1, "{name} {seg} starts on a keyframe: {f}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mp4_conditioned_for_ts_cmaf_and_demuxed_content_once_and_kept() {
    testkit::require_peer!("ffmpeg");
    testkit::require_peer!("ffprobe");
    let tmp = tempfile::tempdir().unwrap();
    let mezz_dir = tmp.path().join("mezz");
    std::fs::create_dir_all(&mezz_dir).unwrap();
    make_mezzanine(&mezz_dir).await;
    let (_a, ads_host) = testkit::serve_dir(&mezz_dir).await;
    let (_b, fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let creative = ads_host.url("ad.mp4");
    let log = tmp.path().join("runs.log");
    let ffmpeg = counting_ffmpeg(tmp.path(), &log);
    let cache = tmp.path().join("cache");
    let c = conditioner(&cache, &ffmpeg, None).await;
    let http = reqwest::Client::new();
    for content in ["ts/vod1", "cmaf/vod1", "demuxed/vod1"] {
        let master = fx.url(&format!("{content}/master.m3u8"));
        let p = Arc::new(profile::read(&http, &master).await.unwrap());
        assert!(matches!(c.lookup(&creative, &p), Readiness::Absent));
        // A thousand viewers at once: one job.
        let before = runs(&log);
        let answers: Vec<Readiness> = (0..1000).map(|_| c.request(&creative, &p)).collect();
        assert!(answers.iter().all(|r| matches!(r, Readiness::Pending)));
        let ad = match c.ready(&creative, &p, READY_WITHIN).await {
            Readiness::Ready(ad) => ad,
            other => panic!("{content}: {other:?}"),
        };
        assert_eq!(runs(&log) - before, 1, "{content}: one ffmpeg run");
        assert!(c.request(&creative, &p).ready().is_some());
        check_against_content(&ad, &master, &p, tmp.path()).await;
    }
    let bytes_held = c.cache_bytes();
    assert!(bytes_held > 0);
    // A restart: the same ads, no ffmpeg.
    drop(c);
    let before = runs(&log);
    let again = conditioner(&cache, &ffmpeg, None).await;
    assert_eq!(again.cache_bytes(), bytes_held);
    let p = Arc::new(
        profile::read(&http, &fx.url("ts/vod1/master.m3u8"))
            .await
            .unwrap(),
    );
    let ad = again.lookup(&creative, &p);
    let ad = ad.ready().expect("ready after a restart");
    let _ = bytes(&ad.url(&ad.renditions[0].segments[0].0)).await;
    assert_eq!(runs(&log), before);
    // Broken creatives: a 404 and a file that is not media. Each fails once, is remembered,
    // and leaves no work behind.
    std::fs::write(mezz_dir.join("junk.mp4"), vec![7u8; 4096]).unwrap();
    for bad in [ads_host.url("missing.mp4"), ads_host.url("junk.mp4")] {
        let r = again.ready(&bad, &p, READY_WITHIN).await;
        assert!(matches!(r, Readiness::Failed(_)), "{bad}: {r:?}");
        assert!(matches!(again.request(&bad, &p), Readiness::Failed(_)));
    }
    let work: Vec<_> = std::fs::read_dir(cache.join("work")).unwrap().collect();
    assert!(work.is_empty(), "work left: {work:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_on_one_bucket_condition_an_ad_once() {
    testkit::require_peer!("ffmpeg");
    testkit::require_peer!("moto_server");
    let tmp = tempfile::tempdir().unwrap();
    let mezz_dir = tmp.path().join("mezz");
    std::fs::create_dir_all(&mezz_dir).unwrap();
    make_mezzanine(&mezz_dir).await;
    let (_a, ads_host) = testkit::serve_dir(&mezz_dir).await;
    let (_b, fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let moto = testkit::Moto::start().await.unwrap();
    moto.create_bucket("conditioned").await;
    let store = moto.object_store("conditioned");
    let log = tmp.path().join("runs.log");
    let ffmpeg = counting_ffmpeg(tmp.path(), &log);
    let replica = |n: usize| {
        let dir = tmp.path().join(format!("replica{n}"));
        let shared = SharedStore::new(store.clone(), "ads/conditioned");
        let ffmpeg = ffmpeg.clone();
        async move { conditioner(&dir, &ffmpeg, Some(shared)).await }
    };
    let (a, b) = (replica(1).await, replica(2).await);
    let http = reqwest::Client::new();
    let p = Arc::new(
        profile::read(&http, &fx.url("ts/vod1/master.m3u8"))
            .await
            .unwrap(),
    );
    let creative = ads_host.url("ad.mp4");
    // Both replicas asked at once, many times each.
    for _ in 0..100 {
        a.request(&creative, &p);
        b.request(&creative, &p);
    }
    let (ra, rb) = tokio::join!(
        a.ready(&creative, &p, READY_WITHIN),
        b.ready(&creative, &p, READY_WITHIN)
    );
    let (ra, rb) = (ra.ready().cloned().unwrap(), rb.ready().cloned().unwrap());
    assert_eq!(runs(&log), 1, "one ffmpeg run for both replicas");
    assert_eq!(ra.renditions, rb.renditions);
    // A third replica, started later, copies it from the bucket.
    let c = replica(3).await;
    let rc = c.ready(&creative, &p, READY_WITHIN).await;
    let rc = rc.ready().expect("copied from the bucket");
    assert_eq!(rc.renditions, ra.renditions);
    assert_eq!(runs(&log), 1);
    let seg = &rc.renditions[1].segments[0].0;
    assert_eq!(bytes(&rc.url(seg)).await, bytes(&ra.url(seg)).await);
    // The bucket holds the ad under the prefix, and no lease is left.
    use futures::TryStreamExt;
    let names: Vec<String> = store
        .list(Some(&object_store::path::Path::from("ads/conditioned")))
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .unwrap();
    assert!(
        names
            .iter()
            .any(|n| n.ends_with(&format!("{}/ad.json", ra.key))),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains("/leases/")), "{names:?}");
}
