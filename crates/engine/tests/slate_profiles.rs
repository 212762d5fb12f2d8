//! A channel's profile comes from its content, not from the slate: with an engine-wide
//! MPEG-TS slate, a CMAF channel, a demuxed-audio channel and a subtitled channel each play
//! their own content (validated and decoded by ffmpeg); a slate that cannot serve a channel
//! (another container, no audio for its audio groups) is refused at start with an error
//! naming the channel; it never decides the channel's renditions.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use engine::{EngineOptions, MemoryStore};
use serde_json::json;

fn ts_slate(fx: &str) -> EngineOptions {
    EngineOptions {
        window: Duration::from_secs(30),
        slate_url: Some(format!("{fx}ts/slate/master.m3u8")),
        load_timeout: Duration::from_secs(3),
        ..EngineOptions::default()
    }
}

/// The channels of the issue, each with `slate` as its own slate (`None`: the engine's).
fn three_channels(fx: &str, own_slates: bool) -> serde_json::Value {
    let own = |p: &str| own_slates.then(|| format!("{fx}{p}/master.m3u8"));
    json!({"channels": [
        {"id": "cmaf", "slate": own("cmaf/vod2"),
         "vods": [format!("{fx}cmaf/vod1/master.m3u8"), format!("{fx}cmaf/vod2/master.m3u8")]},
        {"id": "demuxed", "slate": own("demuxed/vod1"),
         "vods": [format!("{fx}demuxed/vod1/master.m3u8")]},
        {"id": "subs",
         "vods": [format!("{fx}subs/vod1/master.m3u8")]}
    ]})
}

#[tokio::test]
async fn a_slate_that_cannot_serve_a_channel_is_refused_naming_it() {
    let fx = fixture_server().await;
    for (id, why) in [("cmaf", "MPEG-TS"), ("demuxed", "audio")] {
        let mut file = three_channels(&fx, true);
        // Only channel `id` falls back to the engine's TS slate.
        for c in file["channels"].as_array_mut().unwrap() {
            if c["id"] == id {
                c.as_object_mut().unwrap().remove("slate");
            }
        }
        let e = engine_with(
            channels(file),
            ts_slate(&fx),
            Arc::new(clock::SystemClock),
            Arc::new(MemoryStore::new()),
        )
        .await;
        let err = e.check_channels().await.expect_err("refused").to_string();
        assert!(
            err.contains(&format!("channel {id}")) && err.contains(why),
            "{id}: {err}"
        );
    }
}

/// `engine::build` (what `lineup engine` runs) refuses to start, naming the channel.
#[tokio::test]
async fn build_refuses_a_channel_its_slate_cannot_serve() {
    let fx = fixture_server().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("channels.json");
    std::fs::write(
        &path,
        serde_json::to_string(&json!({"channels": [
            {"id": "news", "vods": [format!("{fx}cmaf/vod1/master.m3u8")]}
        ]}))
        .unwrap(),
    )
    .unwrap();
    let args = engine::EngineArgs {
        channels: Some(path),
        slate_url: Some(format!("{fx}ts/slate/master.m3u8")),
        ..Default::default()
    };
    let err = match engine::build(args).await {
        Ok(_) => panic!("a CMAF channel with a TS slate started"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("channel news"), "{err}");
}

/// One engine with a TS slate: each channel's master, playlists and media are its content's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_channel_plays_its_content_whatever_the_slate() {
    testkit::require_peer!("ffmpeg");
    let fx = fixture_server().await;
    let clock = Arc::new(ScaledClock::new(3.0));
    let (e, base) = serve_engine(channels(three_channels(&fx, true)), ts_slate(&fx), clock).await;
    e.check_channels()
        .await
        .expect("every slate fits its channel");
    let text = |p: String| async move {
        let r = reqwest::get(&p).await.unwrap();
        assert!(r.status().is_success(), "{p}: {}", r.status());
        r.text().await.unwrap()
    };

    let master = text(format!("{base}channels/cmaf/master.m3u8")).await;
    assert!(!master.contains("TYPE=AUDIO"), "{master}");
    let v0 = text(format!("{base}channels/cmaf/v0.m3u8")).await;
    assert!(
        v0.contains("#EXT-X-MAP:") && v0.contains("/cmaf/vod1/"),
        "{v0}"
    );

    let master = text(format!("{base}channels/demuxed/master.m3u8")).await;
    assert!(
        master.contains("TYPE=AUDIO") && master.contains("LANGUAGE=\"sv\""),
        "{master}"
    );
    let sv = text(format!("{base}channels/demuxed/audio-sv.m3u8")).await;
    assert!(sv.contains("demuxed/vod1/audio_sv/"), "{sv}");

    // The subtitled channel keeps the engine's TS slate (it can serve it) and its subtitles.
    let master = text(format!("{base}channels/subs/master.m3u8")).await;
    assert!(
        master.contains("TYPE=SUBTITLES") && master.contains("LANGUAGE=\"sv\""),
        "{master}"
    );
    let subs = text(format!("{base}channels/subs/subs-sv.m3u8")).await;
    assert!(subs.contains("subs/vod1/subs_sv/"), "{subs}");

    // Followed with the validator, every rendition of every channel.
    for id in ["cmaf", "demuxed", "subs"] {
        let http = reqwest::Client::new();
        let b = base.clone();
        let follower =
            testkit::PlaylistFollower::start(&format!("channels/{id}/master.m3u8"), move |p| {
                let (http, url) = (http.clone(), format!("{b}{p}"));
                async move { http.get(url).send().await.ok()?.bytes().await.ok() }
            });
        follower
            .finish_after(3, Duration::from_secs(30))
            .await
            .assert_clean(3);
    }

    // Decoded by ffmpeg: the CMAF and subtitled masters, the demuxed renditions one by one
    // (ffmpeg cannot follow discontinuities across demuxed playlists: see tests/e2e.rs).
    let urls = [
        format!("{base}channels/cmaf/master.m3u8"),
        format!("{base}channels/subs/master.m3u8"),
        format!("{base}channels/demuxed/v0.m3u8"),
        format!("{base}channels/demuxed/audio-en.m3u8"),
    ];
    for url in urls {
        testkit::ffmpeg_decode(&["-i", &url, "-t", "8"], Duration::from_secs(90))
            .await
            .assert_clean(&url);
    }
}

/// A channel whose content does not load yet answers 503 (JSON) instead of taking the
/// slate's renditions for good; once its content is there it plays with its content's
/// profile (CMAF here, although the engine's slate is MPEG-TS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_down_at_first_is_waited_for_not_replaced_by_the_slate() {
    let fx = fixture_server().await;
    let dir = tempfile::tempdir().unwrap();
    let content = serve(
        axum::Router::new().fallback_service(tower_http::services::ServeDir::new(dir.path())),
    )
    .await;
    let file = json!({"channels": [{
        "id": "late", "slate": format!("{fx}cmaf/vod2/master.m3u8"),
        "vods": [format!("{content}vod1/master.m3u8")]
    }]});
    let (_e, base) =
        serve_engine(channels(file), ts_slate(&fx), Arc::new(clock::SystemClock)).await;
    let r = reqwest::get(format!("{base}channels/late/v0.m3u8"))
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("channel late")),
        "{body}"
    );

    // The content appears (copied in place): the channel starts, as CMAF.
    copy_dir(&fixtures().join("cmaf/vod1"), &dir.path().join("vod1"));
    let v0 = testkit::wait_for(Duration::from_secs(20), "the channel starts", || {
        let url = format!("{base}channels/late/v0.m3u8");
        async move {
            let r = reqwest::get(url).await.ok()?;
            if !r.status().is_success() {
                return None;
            }
            r.text().await.ok()
        }
    })
    .await
    .expect("started");
    assert!(v0.contains("#EXT-X-MAP:") && v0.contains("/vod1/"), "{v0}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}
