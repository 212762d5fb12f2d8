//! Every playlist of every endpoint kind (TS with I-frames and DATERANGE ads, CMAF with
//! I-frames, AES-128; masters, media and I-frame playlists; live, time-shifted and
//! start-over) followed with the RFC 8216 oracle while the window slides dozens of times
//! over discontinuities and the DVR window evicts, fed by two ingests that number
//! discontinuities differently (`common::pusher`). Also: a master asked with a playback
//! query carries it into every URI it names.

mod common;

use std::time::Duration;

use common::pusher::FixturePusher;
use common::*;
use testkit::PlaylistFollower;

/// Pushing pace: one 2 s segment every 500 ms (4x real time), so the live windows slide
/// every reload and the 120 s retention evicts within the test.
const STEP: Duration = Duration::from_millis(500);

fn follower(r: &Running, master: &str) -> PlaylistFollower {
    let http = r.http.clone();
    let base = r.base.clone();
    PlaylistFollower::start(master, move |path: String| {
        let http = http.clone();
        let url = format!("{base}/{path}");
        async move { testkit::http::get_bytes(&http, url).await }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_playlist_of_every_endpoint_follows_clean_while_the_window_slides() {
    let r = start_default().await;
    let view = create(
        &r,
        serde_json::json!({"id": "ch", "endpoints": [
            {"id": "dvr", "manifest_window_seconds": 12, "startover_window_seconds": 90,
             "i_frames": true, "ad_markers": "daterange"},
            {"id": "cmaf", "manifest_window_seconds": 12, "startover_window_seconds": 90,
             "packaging": "cmaf", "i_frames": true},
            {"id": "aes", "manifest_window_seconds": 12,
             "encryption": {"aes128": {"key_rotation_seconds": 8}}}
        ]}),
    )
    .await;
    let t0 = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let mut pusher = FixturePusher::new(&view, t0);
    pusher.push_master().await;
    for _ in 0..8 {
        pusher.step().await;
    }
    let start = pusher.start_of(2);
    let shift = format!(
        "?start={}&end={}",
        start.timestamp(),
        (start + chrono::Duration::seconds(30)).timestamp()
    );

    // B: the time-shifted master names every playlist with the query, and the media
    // playlist reached through it starts at the requested time.
    let (status, master) =
        testkit::http::get_text(&r.http, format!("{}/out/ch/dvr/index.m3u8{shift}", r.base)).await;
    assert_eq!(status, 200, "{master}");
    let m = hls::parse_master(&master).unwrap();
    let uris: Vec<&str> = m
        .variants
        .iter()
        .map(|v| v.uri.as_str())
        .chain(m.i_frame_streams.iter().filter_map(|f| f.uri()))
        .collect();
    assert_eq!(uris.len(), 4, "{master}");
    for uri in &uris {
        let (_, query) = uri
            .split_once(".m3u8?")
            .expect("a query after the playlist name");
        assert!(
            query.split('&').all(|p| p.contains('=')),
            "{uri}: malformed query"
        );
        let u = reqwest::Url::parse(&format!("http://o/{uri}")).unwrap();
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert!(
            u.path().ends_with(".m3u8")
                && q.get("start") == Some(&start.timestamp().to_string())
                && q.get("end") == Some(&(start.timestamp() + 30).to_string()),
            "{uri} lacks {shift}: {master}"
        );
        let pl = testkit::http::get_media_playlist(&r.http, format!("{}/out/ch/dvr/{uri}", r.base))
            .await;
        let first = pl.segments[0].program_date_time.expect("PDT");
        let off = (first.with_timezone(&chrono::Utc) - start)
            .num_milliseconds()
            .abs();
        assert!(off <= 2000, "{uri}: first PDT {first} vs start {start}");
    }
    let (status, body) = testkit::http::get_text(
        &r.http,
        format!("{}/out/ch/dvr/index.m3u8?start=yesterday", r.base),
    )
    .await;
    assert_eq!(status, 400, "{body}");

    // (master, playlists it names); the time-shifted ones first: their start leaves the
    // 90 s start-over window (then they answer 400) after about 20 s of the test.
    let followers = [
        (follower(&r, &format!("out/ch/dvr/index.m3u8{shift}")), 4, 8),
        (
            follower(&r, &format!("out/ch/cmaf/index.m3u8{shift}")),
            4,
            8,
        ),
        (follower(&r, "out/ch/dvr/index.m3u8"), 4, 90),
        (follower(&r, "out/ch/cmaf/index.m3u8"), 4, 90),
        (follower(&r, "out/ch/aes/index.m3u8"), 2, 90),
    ];
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
    for (f, playlists, reloads) in followers {
        reports.push((
            f.finish_after(reloads, Duration::from_secs(90)).await,
            playlists,
            reloads,
        ));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let pusher = push.await.expect("pusher task");
    // The windows slid many times over many discontinuities, and the DVR evicted.
    let live =
        testkit::http::get_media_playlist(&r.http, format!("{}/out/ch/dvr/channel_1.m3u8", r.base))
            .await;
    assert!(pusher.pushed() > 70, "pushed {}", pusher.pushed());
    assert!(live.media_sequence > 60, "{}", live.media_sequence);
    assert!(
        live.discontinuity_sequence > 12,
        "{}",
        live.discontinuity_sequence
    );
    let (status, _) = testkit::http::get_text(
        &r.http,
        format!(
            "{}/out/ch/dvr/channel_1.m3u8?start={}",
            r.base,
            t0.timestamp()
        ),
    )
    .await;
    assert_eq!(
        status, 400,
        "the start of the test left the start-over window"
    );
    for (rep, playlists, reloads) in &reports {
        assert_eq!(rep.reloads.len(), *playlists, "{rep:?}");
        rep.assert_clean(*reloads);
    }
}
