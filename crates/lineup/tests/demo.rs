//! `lineup demo` end to end, in-process on an ephemeral port: the engine's channel goes
//! through pullpush (Digest PUT over loopback) into the origin, and real players read both.

mod common;
use common::lineup;

use std::time::Duration;

use lineup::demo::start;

/// How long one ffmpeg decode may take.
const DECODE_TIMEOUT: Duration = Duration::from_secs(60);

async fn get(url: &str) -> Option<String> {
    let r = reqwest::get(url).await.ok()?;
    r.status().is_success().then_some(())?;
    r.text().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_chain_plays_end_to_end() {
    testkit::require_peer!("ffmpeg");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let args = common::demo_args(&listener, 1);
    let demo = start(&args, listener).await.expect("demo starts");

    // The schedule: channel "demo" filled from the catalog's MRSS feed of the bundled VODs,
    // no overlaps, no gaps over the first hour.
    let now = demo.schedule.now();
    let events = schedule::ScheduleClient::in_process(demo.schedule.clone())
        .events_between("demo", now, now + 3_600_000)
        .await
        .expect("demo schedule");
    schedule::plan::check(&events).unwrap();
    assert!(schedule::plan::gaps(&events, now, now + 3_600_000).is_empty());
    let vod = format!("{}/vod/ts/", demo.base);
    assert!(
        events
            .iter()
            .all(|e| e.kind == schedule::EventType::Ad || e.url.starts_with(&vod)),
        "{events:?}"
    );
    // `ad_every` 1: an AD event after every programme.
    assert!(events.iter().any(|e| e.kind == schedule::EventType::Ad));
    let dvr = demo
        .origin
        .endpoints
        .iter()
        .find(|e| e.spec.id == "dvr")
        .expect("dvr endpoint")
        .url
        .clone();

    // The engine's channel is valid right away.
    let (code, out) = lineup(&["validate", "--check-segments", &demo.engine_master]).await;
    assert_eq!(code, 0, "engine channel:\n{out}");
    // ... and plays the schedule: a programme DATERANGE names one of its events.
    let engine_master = demo.engine_master.clone();
    let programme = testkit::wait_for(Duration::from_secs(30), "a programme DATERANGE", || {
        let engine_master = engine_master.clone();
        async move {
            let master = get(&engine_master).await?;
            let uri = master
                .lines()
                .find(|l| !l.starts_with('#') && l.ends_with(".m3u8"))?;
            let media = get(&engine_master.replace("master.m3u8", uri)).await?;
            let at = media.find("X-PROGRAMME-ID=\"")? + "X-PROGRAMME-ID=\"".len();
            Some(media[at..].split('"').next()?.to_string())
        }
    })
    .await
    .unwrap();
    let all = schedule::ScheduleClient::in_process(demo.schedule.clone())
        .events_between("demo", now - 60_000, now + 3_600_000)
        .await
        .unwrap();
    assert!(
        all.iter().any(|e| e.id == programme),
        "{programme} not in {all:?}"
    );

    // The banner's stitched VOD (vod1 with a house-ad mid-roll) passes `lineup validate`.
    let (code, out) = lineup(&["validate", "--check-segments", &demo.stitched]).await;
    assert_eq!(code, 0, "stitched VOD:\n{out}");

    // The stitched feed: the three VODs (not the house ad), each through /stitch with the
    // house ad as pre-roll and mid-roll (8 s + 2 x 10 s); its first item validates too.
    let feed = get(&format!("{}/catalog/mrss/stitched/all.xml", demo.base))
        .await
        .expect("stitched feed");
    let items = schedule::feeds::parse(&feed).unwrap();
    let ids: Vec<&str> = items.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["vod1", "vod2", "vod3"]);
    assert!(items.iter().all(|e| e.duration == Some(28.0)), "{items:?}");
    let first = &items[0].url;
    assert!(
        first.starts_with(&format!("{}/stitch/", demo.base)),
        "{first}"
    );
    let (code, out) = lineup(&["validate", "--check-segments", first]).await;
    assert_eq!(code, 0, "stitched feed item:\n{out}");

    // Wait until the origin's live playlist lists a few segments pushed by pullpush.
    let variant = testkit::wait_for(Duration::from_secs(60), "origin DVR playlist", || {
        let dvr = dvr.clone();
        async move {
            let master = get(&dvr).await?;
            let uri = master
                .lines()
                .find(|l| l.ends_with(".m3u8") && !l.starts_with('#'))?;
            let media_url = dvr.replace("index.m3u8", uri);
            let media = get(&media_url).await?;
            (media.matches("#EXTINF").count() >= 4).then_some(media_url)
        }
    })
    .await
    .unwrap();

    // The origin's playlists pass the validator, segments included, and keep passing the
    // live rules while the chain runs (engine VOD and ad-break transitions, pushed by
    // pullpush, re-served by the origin).
    let (code, out) = lineup(&["validate", "--follow", "20", "--check-segments", &dvr]).await;
    assert_eq!(code, 0, "origin endpoint:\n{out}");

    // ffmpeg decodes the origin's live endpoint (which crosses VOD/ad discontinuities).
    // Decoders must report nothing. The null muxer's "non monotonically increasing dts"
    // notices are not decode errors: timestamps restart at each EXT-X-DISCONTINUITY (a new
    // VOD), which HLS allows and players handle; ffmpeg's muxer merely remarks on it
    // (testkit::decode_errors leaves out exactly those).
    testkit::ffmpeg_decode(&["-i", &variant, "-t", "8"], DECODE_TIMEOUT)
        .await
        .assert_clean("origin live endpoint");

    // The CMAF endpoint (remuxed from the same ingest) validates and decodes too.
    let cmaf = demo
        .origin
        .endpoints
        .iter()
        .find(|e| e.spec.id == "cmaf")
        .expect("cmaf endpoint")
        .url
        .clone();
    let (code, out) = lineup(&["validate", "--check-segments", &cmaf]).await;
    assert_eq!(code, 0, "cmaf endpoint:\n{out}");
    let cmaf_variant = cmaf.replace(
        "index.m3u8",
        variant.rsplit('/').next().expect("variant playlist name"),
    );
    let cmaf_decode =
        testkit::ffmpeg_decode(&["-i", &cmaf_variant, "-t", "4"], DECODE_TIMEOUT).await;
    assert!(cmaf_decode.ok, "ffmpeg on CMAF: {}", cmaf_decode.stderr);

    // The fetcher is healthy and has pushed segments.
    let fetchers = get(&format!("{}/pullpush/api/v1/fetchers", demo.base))
        .await
        .unwrap();
    let fetchers: serde_json::Value = serde_json::from_str(&fetchers).unwrap();
    assert_eq!(fetchers[0]["state"], "running", "{fetchers}");
    assert!(
        fetchers[0]["segments_pushed"].as_u64().unwrap() > 0,
        "{fetchers}"
    );
    demo.server.abort();
}
