//! A source that ends (ENDLIST) — here the ffmpeg-made VOD fixtures — is copied whole:
//! final playlists carry ENDLIST, the fetcher's state becomes `ended`, and renditions
//! (demuxed audio, subtitles), fMP4 init sections, AES-128 keys and ad markers come along.

mod common;

use std::time::Duration;

use common::*;
use pullpush::{FetcherState, NewFetcher};
use serde_json::json;

fn count_tags(text: &str, prefixes: &[&str]) -> usize {
    text.lines()
        .filter(|l| prefixes.iter().any(|p| l.starts_with(p)))
        .count()
}

async fn copy_fixture(rel: &str) -> (tempfile::TempDir, hls::MasterPlaylist) {
    let src = testkit::fixture(&format!("{rel}/master.m3u8"));
    let (_, server) = testkit::serve_dir(src.parent().unwrap()).await;
    let out = tempfile::tempdir().unwrap();
    let pp = service(":memory:");
    let info = pp
        .start_fetcher(NewFetcher {
            // A fetcher name is an id (no `/`): `ts-vod1` for `ts/vod1`.
            name: rel.replace('/', "-"),
            url: server.url("master.m3u8"),
            output: "dir".into(),
            payload: json!({"path": out.path()}),
            concurrency: Some(8),
            window_size: Some(-1),
        })
        .await
        .unwrap();
    testkit::wait_until(Duration::from_secs(30), "the fetcher to end", || {
        let f = pp.get(&info.id).unwrap();
        async move { f.state == FetcherState::Ended }
    })
    .await
    .unwrap_or_else(|e| panic!("{rel}: {e}: {:?}", pp.get(&info.id)));

    let src_master = hls::parse_master(&std::fs::read_to_string(&src).unwrap()).unwrap();
    let dest_master =
        hls::parse_master(&std::fs::read_to_string(out.path().join("channel.m3u8")).unwrap())
            .unwrap();
    assert_eq!(
        dest_master.variants.len(),
        src_master.variants.len(),
        "{rel}"
    );
    assert_eq!(dest_master.media.len(), src_master.media.len(), "{rel}");
    // Every source media playlist has a destination twin with the same segments and tags.
    let pairs = src_master
        .variants
        .iter()
        .map(|v| v.uri.clone())
        .zip(dest_master.variants.iter().map(|v| v.uri.clone()))
        .chain(
            src_master
                .media
                .iter()
                .filter_map(|m| m.uri().map(str::to_string))
                .zip(
                    dest_master
                        .media
                        .iter()
                        .filter_map(|m| m.uri().map(str::to_string)),
                ),
        );
    for (s, d) in pairs {
        let s_text = std::fs::read_to_string(src.parent().unwrap().join(&s)).unwrap();
        let d_text = std::fs::read_to_string(out.path().join(&d)).unwrap();
        let sp = hls::parse_media(&s_text).unwrap();
        let dp = hls::parse_media(&d_text).unwrap();
        assert!(dp.end_list, "{rel} {d}: ENDLIST");
        assert_eq!(
            dp.playlist_type,
            Some(hls::PlaylistType::Event),
            "{rel} {d}"
        );
        assert_eq!(sp.segments.len(), dp.segments.len(), "{rel} {d}");
        for (a, b) in sp.segments.iter().zip(&dp.segments) {
            assert_eq!(a.duration, b.duration);
            assert!(out.path().join(&b.uri).exists(), "{rel}: {} missing", b.uri);
        }
        for tags in [
            &["#EXT-X-CUE-OUT", "#EXT-X-CUE-IN"][..],
            &["#EXT-X-DATERANGE"],
            &["#EXT-X-PROGRAM-DATE-TIME"],
            &["#EXT-X-DISCONTINUITY:", "#EXT-X-DISCONTINUITY\n"],
        ] {
            assert_eq!(
                count_tags(&s_text, tags),
                count_tags(&d_text, tags),
                "{rel} {d}: {tags:?}\n{d_text}"
            );
        }
        assert_eq!(
            s_text.matches("#EXT-X-DISCONTINUITY\n").count(),
            d_text.matches("#EXT-X-DISCONTINUITY\n").count()
        );
        if s_text.contains("#EXT-X-MAP") {
            assert!(d_text.contains("#EXT-X-MAP:URI=\"channel_"), "{rel} {d}");
        }
        if s_text.contains("METHOD=AES-128") {
            assert!(
                d_text.contains("METHOD=AES-128,URI=\"channel_"),
                "{rel} {d}: {d_text}"
            );
        }
    }
    (out, dest_master)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vod_fixtures_are_copied_whole_and_decode() {
    testkit::require_peer!("ffmpeg");
    for rel in [
        "ts/vod1",
        "cmaf/vod1",
        "demuxed/vod1",
        "subs/vod1",
        "aes/vod1",
        "ads/vod1",
    ] {
        let (out, _) = copy_fixture(rel).await;
        let master = out.path().join("channel.m3u8").display().to_string();
        ffmpeg_decode(&master, 600).await;
    }
}
