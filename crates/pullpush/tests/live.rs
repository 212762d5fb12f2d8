//! Live end-to-end tests against real peers: an `ffmpeg -re` HLS source, Apache httpd
//! (mod_dav + mod_auth_digest) as a MediaPackage-style ingest, moto as S3, a folder.
//! Each skips (or fails with LINEUP_REQUIRE_PEERS=1) when its peers are missing.

mod common;

use std::time::Duration;

use common::*;
use pullpush::{FetcherState, NewFetcher};
use serde_json::json;
use testkit::{Apache, FfmpegLive, LiveOptions, Moto, PlaylistFollower, wait_for, wait_until};

fn fetcher(url: String, output: &str, payload: serde_json::Value, window: i64) -> NewFetcher {
    NewFetcher {
        name: "test".into(),
        url,
        output: output.into(),
        payload,
        concurrency: None,
        window_size: Some(window),
    }
}

/// Highest source sequence the destination edge (last segment of variant 0) maps to.
async fn dest_edge_source_seq(
    client: &reqwest::Client,
    playlist_url: &str,
    rec: &Recorder,
) -> Option<u64> {
    let text = get_bytes(client, playlist_url.to_string()).await?;
    let p = hls::parse_media(std::str::from_utf8(&text).ok()?).ok()?;
    let last = p.segments.last()?;
    let base = url::Url::parse(playlist_url).ok()?;
    let bytes = get_bytes(client, base.join(&last.uri).ok()?.to_string()).await?;
    let h = hash(&bytes);
    rec.snapshot()
        .into_iter()
        .find(|(_, v)| *v == h)
        .map(|(s, _)| s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ts_two_renditions_to_apache_digest_survive_an_outage() {
    testkit::require_peer!("ffmpeg");
    testkit::require_peer!("apache2");
    let live = FfmpegLive::start(LiveOptions {
        two_renditions: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let recs = [
        Recorder::start(live.media_playlist_url(0)),
        Recorder::start(live.media_playlist_url(1)),
    ];
    let mut apache = Apache::start().await.unwrap();
    let (user, pass) = apache.credentials();
    let pp = service(":memory:");
    let info = pp
        .start_fetcher(fetcher(
            live.playlist_url(),
            "mediapackage",
            json!({"ingestUrls": [{"url": format!("{}live/channel", apache.url()), "username": user, "password": pass}]}),
            60,
        ))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let master_url = format!("{}live/channel.m3u8", apache.url());
    let follower = follow_http(&client, format!("{}live/", apache.url()), "channel.m3u8");
    wait_until(Duration::from_secs(20), "master at the ingest", || {
        let (c, u) = (client.clone(), master_url.clone());
        async move { get_bytes(&c, u).await.is_some() }
    })
    .await
    .unwrap();
    // The master names channel_<bandwidth>.m3u8 like MediaPackage's HLS ingest.
    let master = String::from_utf8(
        get_bytes(&client, master_url.clone())
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        master
            .lines()
            .any(|l| l.starts_with("channel_") && l.ends_with(".m3u8")),
        "{master}"
    );

    // The oracle has read both media playlists before the outage, so its LiveTrackers check
    // continuity across it.
    wait_until(
        Duration::from_secs(10),
        "the follower to read the output",
        || {
            let r = follower.report();
            async move { r.reloads.len() == 2 && r.reloads.values().all(|n| *n >= 2) }
        },
    )
    .await
    .unwrap();
    // Outage: the ingest is down for 20 s (this is the fault, not a wait for a condition).
    // The follower reads nothing while Apache is down; see PlaylistFollower::set_down for
    // the one validator report (`playlist-stale`) this tolerates and when.
    follower.set_down(true);
    apache.stop();
    wait_until(
        Duration::from_secs(10),
        "the output to report the failing ingest",
        || {
            let f = pp.get(&info.id).unwrap();
            async move { f.last_error.is_some_and(|e| e.contains("ingest 0")) }
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(20)).await;
    let source_seq_at_resume = live.media_sequence(0).unwrap() + 4;
    apache.resume().await.unwrap();
    follower.set_down(false);

    let variant0 = {
        let m = hls::parse_master(&master).unwrap();
        format!("{}live/{}", apache.url(), m.variants[0].uri)
    };
    wait_until(
        Duration::from_secs(25),
        "the destination to catch up after the outage",
        || {
            let (c, u, r) = (client.clone(), variant0.clone(), &recs[0]);
            async move {
                dest_edge_source_seq(&c, &u, r)
                    .await
                    .is_some_and(|s| s >= source_seq_at_resume)
            }
        },
    )
    .await
    .unwrap();

    let base = format!("{}live/", apache.url());
    let report = check_destination(
        |p| {
            let (c, u) = (client.clone(), format!("{base}{p}"));
            async move { get_bytes(&c, u).await }
        },
        "channel.m3u8",
        &[&recs[0], &recs[1]],
    )
    .await;
    assert_eq!(report.tracks.len(), 2);
    let matched = assert_no_source_gap(&report);
    assert!(
        matched >= 2 * 12,
        "only {matched} segments matched over the run"
    );
    for (path, p, _) in &report.tracks {
        assert!(
            p.segments
                .iter()
                .all(|s| s.uri.starts_with("channel_") && s.uri.ends_with(".ts")),
            "{path}"
        );
        assert!(
            p.segments.iter().all(|s| !s.discontinuity),
            "{path}: unexpected discontinuity"
        );
    }
    // Digest challenges are cached: far fewer 401s than PUTs.
    let log = apache.access_log();
    let puts = log.lines().filter(|l| l.contains("\"PUT ")).count();
    let unauthorized = log.lines().filter(|l| l.contains("\" 401 ")).count();
    assert!(
        puts > 24 && unauthorized * 10 < puts,
        "{unauthorized} 401s for {puts} PUTs"
    );
    // Recovered: the fetcher is running again (an ingest error shows `failing` only while
    // it lasts; under load a slow Apache can keep one alive for a few seconds).
    wait_until(Duration::from_secs(30), "the fetcher to run again", || {
        let f = pp.get(&info.id).unwrap();
        async move { f.state == FetcherState::Running }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {:?}", pp.get(&info.id)));
    let f = pp.get(&info.id).unwrap();
    assert!(f.segments_pushed >= 24 && f.bytes_pushed > 0, "{f:?}");
    ffmpeg_decode(&master_url, 6).await;
    let followed = follower.finish_after(10, Duration::from_secs(30)).await;
    assert_eq!(followed.reloads.len(), 2, "{followed:?}");
    followed.assert_clean(10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fmp4_to_moto_s3() {
    testkit::require_peer!("ffmpeg");
    testkit::require_peer!("moto_server");
    let live = FfmpegLive::start(LiveOptions {
        fmp4: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let rec = Recorder::start(live.media_playlist_url(0));
    let moto = Moto::start().await.unwrap();
    moto.create_bucket("media").await;
    let (key, secret) = moto.credentials();
    let pp = service(":memory:");
    pp.start_fetcher(fetcher(
        live.playlist_url(),
        "s3",
        json!({"bucket": "media", "prefix": "live/one", "region": moto.region(), "endpoint": moto.endpoint(),
               "accessKeyId": key, "secretAccessKey": secret, "allowHttp": true}),
        120,
    ))
    .await
    .unwrap();
    // moto keeps objects private: read them back signed, through object_store.
    let store = moto.object_store("media");
    let get = {
        let store = store.clone();
        move |p: String| {
            let store = store.clone();
            async move {
                let path = object_store::path::Path::from(format!("live/one/{p}"));
                store.get(&path).await.ok()?.bytes().await.ok()
            }
        }
    };
    let follower = PlaylistFollower::start("channel.m3u8", get.clone());
    let variant = wait_for(Duration::from_secs(20), "master in S3", || async {
        let m = hls::parse_master(std::str::from_utf8(&get("channel.m3u8".into()).await?).ok()?)
            .ok()?;
        Some(m.variants.first()?.uri.clone())
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {:?}", pp.list()));
    wait_until(Duration::from_secs(25), "15 segments in S3", || async {
        match get(variant.clone()).await {
            Some(b) => hls::parse_media(std::str::from_utf8(&b).unwrap())
                .is_ok_and(|p| p.segments.len() >= 15),
            None => false,
        }
    })
    .await
    .unwrap();
    let report = check_destination(get, "channel.m3u8", &[&rec]).await;
    let (_, p, _) = &report.tracks[0];
    assert!(p.segments[0].map.is_some(), "EXT-X-MAP carried");
    assert!(p.segments.iter().all(|s| s.uri.ends_with(".m4s")));
    assert!(assert_no_source_gap(&report) >= 12);
    // Decode a local copy of everything under the prefix.
    let copy = tempfile::tempdir().unwrap();
    use futures::TryStreamExt;
    let objects: Vec<_> = store
        .list(Some(&object_store::path::Path::from("live/one")))
        .try_collect()
        .await
        .unwrap();
    for o in objects {
        let name = o.location.filename().unwrap().to_string();
        let bytes = store.get(&o.location).await.unwrap().bytes().await.unwrap();
        std::fs::write(copy.path().join(name), bytes).unwrap();
    }
    ffmpeg_decode(&copy.path().join("channel.m3u8").display().to_string(), 6).await;
    let followed = follower.finish_after(10, Duration::from_secs(30)).await;
    assert_eq!(followed.reloads.len(), 1, "{followed:?}");
    followed.assert_clean(10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ingests_one_down_the_other_stays_current() {
    testkit::require_peer!("ffmpeg");
    testkit::require_peer!("apache2");
    let live = FfmpegLive::start(LiveOptions::default()).await.unwrap();
    let rec = Recorder::start(live.media_playlist_url(0));
    let apache = Apache::start().await.unwrap();
    let (user, pass) = apache.credentials();
    let dead = format!("http://127.0.0.1:{}/channel", testkit::free_port());
    let pp = service(":memory:");
    let info = pp
        .start_fetcher(fetcher(
            live.playlist_url(),
            "mediapackage",
            json!({"ingestUrls": [
                {"url": dead, "username": user, "password": pass},
                {"url": format!("{}channel", apache.url()), "username": user, "password": pass}]}),
            30,
        ))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let master_url = format!("{}channel.m3u8", apache.url());
    let follower = follow_http(&client, apache.url().to_string(), "channel.m3u8");
    let variant = wait_for(Duration::from_secs(20), "master at the live ingest", || {
        let (c, u) = (client.clone(), master_url.clone());
        async move {
            let m = hls::parse_master(std::str::from_utf8(&get_bytes(&c, u).await?).ok()?).ok()?;
            Some(m.variants.first()?.uri.clone())
        }
    })
    .await
    .unwrap();
    let playlist_url = format!("{}{variant}", apache.url());
    // Current: the destination edge reaches what the source lists now, twice over 8+ s.
    for _ in 0..2 {
        let target = live.media_sequence(0).unwrap() + 4 + 4;
        wait_until(
            Duration::from_secs(20),
            "the live ingest to stay current",
            || {
                let (c, u, r) = (client.clone(), playlist_url.clone(), &rec);
                async move {
                    dest_edge_source_seq(&c, &u, r)
                        .await
                        .is_some_and(|s| s >= target)
                }
            },
        )
        .await
        .unwrap();
    }
    let f = pp.get(&info.id).unwrap();
    assert!(
        f.last_error
            .as_deref()
            .is_some_and(|e| e.contains("ingest 0")),
        "{f:?}"
    );
    let report = check_destination(
        |p| {
            let (c, u) = (client.clone(), format!("{}{p}", apache.url()));
            async move { get_bytes(&c, u).await }
        },
        "channel.m3u8",
        &[&rec],
    )
    .await;
    assert_no_source_gap(&report);
    follower
        .finish_after(10, Duration::from_secs(30))
        .await
        .assert_clean(10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_on_the_same_sqlite_file_continues_the_sequence() {
    testkit::require_peer!("ffmpeg");
    let live = FfmpegLive::start(LiveOptions::default()).await.unwrap();
    let rec = Recorder::start(live.media_playlist_url(0));
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("pullpush.db").display().to_string();
    let out = tmp.path().join("out");
    let read = |p: String| {
        let path = out.join(p);
        async move { tokio::fs::read(path).await.ok().map(bytes::Bytes::from) }
    };
    let read_playlist = || {
        let out = out.clone();
        async move {
            let master = hls::parse_master(
                &tokio::fs::read_to_string(out.join("channel.m3u8"))
                    .await
                    .ok()?,
            )
            .ok()?;
            let p = tokio::fs::read_to_string(out.join(&master.variants.first()?.uri))
                .await
                .ok()?;
            hls::parse_media(&p).ok()
        }
    };
    let follower = {
        let out = out.clone();
        PlaylistFollower::start("channel.m3u8", move |p: String| {
            let path = out.join(p);
            async move { tokio::fs::read(path).await.ok() }
        })
    };
    let pp = service(&db);
    let info = pp
        .start_fetcher(fetcher(
            live.playlist_url(),
            "dir",
            json!({"path": out}),
            120,
        ))
        .await
        .unwrap();
    let before = wait_for(
        Duration::from_secs(20),
        "6 segments before the restart",
        || async { read_playlist().await.filter(|p| p.segments.len() >= 6) },
    )
    .await
    .unwrap();
    // The publisher is down from here until resume(): see PlaylistFollower::set_down.
    follower.set_down(true);
    pp.shutdown();
    drop(pp);
    let last_before = wait_for(Duration::from_secs(5), "the playlist to settle", || async {
        read_playlist()
            .await
            .map(|p| p.media_sequence + p.segments.len() as u64 - 1)
    })
    .await
    .unwrap();
    assert!(last_before >= before.media_sequence + 5);

    let pp = service(&db);
    assert_eq!(pp.resume().await.unwrap(), 1);
    follower.set_down(false);
    let listed = pp.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, info.id);
    let after = wait_for(
        Duration::from_secs(20),
        "4 new segments after the restart",
        || async {
            read_playlist()
                .await
                .filter(|p| p.media_sequence + p.segments.len() as u64 > last_before + 4)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        after.media_sequence, 0,
        "window of 120 s keeps everything from the start"
    );
    assert!(
        after.segments.iter().all(|s| !s.discontinuity),
        "a quick restart continues without a discontinuity"
    );
    let report = check_destination(read, "channel.m3u8", &[&rec]).await;
    assert!(assert_no_source_gap(&report) >= 6);
    // Across the restart the media sequence never jumps or goes back and no segment
    // changes its URI under a number (LiveTracker), and every reload is valid.
    let followed = follower.finish_after(10, Duration::from_secs(30)).await;
    assert_eq!(followed.reloads.len(), 1, "{followed:?}");
    followed.assert_clean(10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demuxed_audio_and_subtitles_to_a_folder() {
    testkit::require_peer!("ffmpeg");
    let live = FfmpegLive::start(LiveOptions {
        two_renditions: true,
        demuxed_audio: true,
        subtitles: true,
        ..Default::default()
    })
    .await
    .unwrap();
    // Source tracks in the order check_destination lists the destination's: variants
    // (video 0, video 1, ffmpeg's audio-only variant), then the renditions not yet listed
    // (the subtitles; the audio rendition is the audio-only variant's playlist).
    let recs = [
        Recorder::start(live.media_playlist_url(0)),
        Recorder::start(live.media_playlist_url(1)),
        Recorder::start(live.audio_playlist_url().unwrap()),
        Recorder::start(live.subtitle_playlist_url().unwrap()),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let read = |p: String| {
        let path = out.join(p);
        async move { tokio::fs::read(path).await.ok().map(bytes::Bytes::from) }
    };
    let follower = {
        let out = out.clone();
        PlaylistFollower::start("channel.m3u8", move |p: String| {
            let path = out.join(p);
            async move { tokio::fs::read(path).await.ok() }
        })
    };
    let pp = service(":memory:");
    pp.start_fetcher(fetcher(
        live.playlist_url(),
        "dir",
        json!({"path": out}),
        60,
    ))
    .await
    .unwrap();
    // Every rendition the master names gets 8 segments.
    let master = wait_for(
        Duration::from_secs(30),
        "8 segments in every destination playlist",
        || async {
            let m =
                hls::parse_master(std::str::from_utf8(&read("channel.m3u8".into()).await?).ok()?)
                    .ok()?;
            let uris: Vec<&str> = m
                .variants
                .iter()
                .map(|v| v.uri.as_str())
                .chain(m.media.iter().filter_map(|r| r.uri()))
                .collect();
            for u in &uris {
                let p = hls::parse_media(std::str::from_utf8(&read(u.to_string()).await?).ok()?)
                    .ok()?;
                if p.segments.len() < 8 {
                    return None;
                }
            }
            Some(m)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {:?}", pp.list()));
    let audio: Vec<_> = master
        .media
        .iter()
        .filter(|r| r.media_type() == Some(hls::MediaType::Audio))
        .collect();
    let subs: Vec<_> = master
        .media
        .iter()
        .filter(|r| r.media_type() == Some(hls::MediaType::Subtitles))
        .collect();
    assert_eq!(audio.len(), 1, "one AUDIO rendition: {master:?}");
    assert_eq!(subs.len(), 1, "one SUBTITLES rendition: {master:?}");
    let (audio_uri, subs_uri) = (audio[0].uri().unwrap(), subs[0].uri().unwrap());
    let video: Vec<_> = master
        .variants
        .iter()
        .filter(|v| v.resolution().is_some())
        .collect();
    assert_eq!(video.len(), 2, "{master:?}");
    for v in &video {
        assert_eq!(v.audio(), audio[0].group_id(), "{v:?}");
        assert_eq!(v.subtitles(), subs[0].group_id(), "{v:?}");
    }
    let report = check_destination(
        read,
        "channel.m3u8",
        &[&recs[0], &recs[1], &recs[2], &recs[3]],
    )
    .await;
    let paths: Vec<&str> = report.tracks.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(paths.len(), 4, "{paths:?}");
    assert_eq!(paths[2], audio_uri, "{paths:?}");
    assert_eq!(paths[3], subs_uri, "{paths:?}");
    // 8+ segments per track; the recorders (polling every 300 ms) may not have the newest.
    assert!(assert_no_source_gap(&report) >= 4 * 7);
    let subs_playlist = &report.tracks[3].1;
    assert!(
        subs_playlist
            .segments
            .iter()
            .all(|s| s.uri.ends_with(".vtt"))
    );
    let cue = read(subs_playlist.segments[0].uri.clone()).await.unwrap();
    let cue = String::from_utf8_lossy(&cue);
    assert!(cue.starts_with("WEBVTT") && cue.contains("cue "), "{cue}");

    let path = |u: &str| out.join(u).display().to_string();
    ffmpeg_decode(&path(&video[0].uri), 4).await;
    ffmpeg_decode(&path(audio_uri), 4).await;
    let followed = follower.finish_after(10, Duration::from_secs(30)).await;
    assert_eq!(followed.reloads.len(), 4, "{followed:?}");
    followed.assert_clean(10);
}
