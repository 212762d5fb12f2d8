//! `--store disk` survives a restart: an origin built again on the same folder has the same
//! channels (ingest users, endpoints) and the same timelines, so it serves the same
//! playlists and segments, and ingest continues with the old credentials.

mod common;

use std::sync::Arc;

use clock::ManualClock;
use common::*;
use origin::{Origin, StoreKind};
use testkit::http::{get_bytes, get_text};

async fn start_on(dir: &std::path::Path, clock: &ManualClock) -> Running {
    let dir = dir.to_path_buf();
    let clock = clock.clone();
    start_async(async move |mut c| {
        c.store = StoreKind::Disk;
        c.store_path = Some(dir.clone());
        Origin::open(c, Arc::new(clock)).await.unwrap()
    })
    .await
}

async fn text(r: &Running, path: &str) -> String {
    let (status, body) = get_text(&r.http, format!("{}{path}", r.base)).await;
    assert_eq!(status, 200, "{path}");
    body
}

#[tokio::test]
async fn disk_store_restores_channels_and_timelines() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
        .unwrap()
        .to_utc();
    let clock = ManualClock::at(t0 + chrono::Duration::seconds(12));
    let r = start_on(dir.path(), &clock).await;
    let view = create(&r, serde_json::json!({"id": "news", "description": "d"})).await;
    let resp = r
        .http
        .post(format!("{}/api/v1/channels/news/endpoints", r.base))
        .json(&serde_json::json!({"id": "ads", "ad_markers": "scte35_enhanced", "i_frames": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let c = DigestPut::from_view(&view, 0);
    let url = &view.ingest[0].url;
    for i in 0..6 {
        c.put_created(&format!("{url}_1_{i}.ts"), TS_PACKET.to_vec())
            .await;
    }
    let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000,CODECS=\"avc1.64001e,mp4a.40.2\"\nchannel_1.m3u8\n";
    c.put_created(&format!("{url}.m3u8"), master.into()).await;
    let mut pl = String::from(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T10:00:00Z\n",
    );
    for i in 0..6 {
        match i {
            2 => pl += "#EXT-X-CUE-OUT:4\n",
            3 => pl += "#EXT-X-CUE-OUT-CONT:ElapsedTime=2,Duration=4\n",
            4 => pl += "#EXT-X-CUE-IN\n",
            _ => {}
        }
        pl += &format!("#EXTINF:2,\nchannel_1_{i}.ts\n");
    }
    c.put_created(&format!("{url}_1.m3u8"), pl.into()).await;

    let paths = [
        "/out/news/default/index.m3u8".to_string(),
        "/out/news/default/channel_1.m3u8".to_string(),
        "/out/news/ads/channel_1.m3u8".to_string(),
        "/out/news/ads/channel_1_iframes.m3u8".to_string(),
        format!(
            "/out/news/default/channel_1.m3u8?start={}",
            t0.timestamp() + 2
        ),
        format!(
            "/out/news/default/channel_1.m3u8?start={}&end={}",
            t0.timestamp(),
            t0.timestamp() + 6
        ),
    ];
    let mut before = Vec::new();
    for p in &paths {
        before.push(text(&r, p).await);
    }
    assert!(before[2].contains("#EXT-X-CUE-OUT:4"), "{}", before[2]);
    let seg_before = get_bytes(
        &r.http,
        format!("{}/out/news/default/channel_1/3.ts", r.base),
    )
    .await
    .unwrap();
    let view_before = r.origin.channel("news").unwrap();
    drop(r);

    // "Restart": a new origin on the same folder, nothing shared in memory.
    let r2 = start_on(dir.path(), &clock).await;
    for (p, want) in paths.iter().zip(&before) {
        assert_eq!(&text(&r2, p).await, want, "{p} differs after restart");
    }
    let seg_after = get_bytes(
        &r2.http,
        format!("{}/out/news/default/channel_1/3.ts", r2.base),
    )
    .await
    .unwrap();
    assert_eq!(seg_after, seg_before);
    let view_after = r2.origin.channel("news").unwrap();
    assert_eq!(view_after.description.as_deref(), Some("d"));
    assert_eq!(view_after.variants, view_before.variants);
    let specs = |v: &origin::ChannelView| {
        v.endpoints
            .iter()
            .map(|e| e.spec.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(specs(&view_after), specs(&view_before));
    let users = |v: &origin::ChannelView| {
        v.ingest
            .iter()
            .map(|i| i.username.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(users(&view_after), users(&view_before));

    // Ingest continues with the old password (HA1 restored) on the new origin.
    let url2 = view_after.ingest[0].url.clone();
    c.put_created(&format!("{url2}_1_6.ts"), TS_PACKET.to_vec())
        .await;
    let pl = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n#EXTINF:2,\nchannel_1_5.ts\n#EXTINF:2,\nchannel_1_6.ts\n";
    c.put_created(&format!("{url2}_1.m3u8"), pl.into()).await;
    let live = hls::parse_media(&text(&r2, "/out/news/default/channel_1.m3u8").await).unwrap();
    let last = live.segments.last().unwrap();
    assert!(last.uri.ends_with("/6.ts"));
    assert_eq!(
        last.program_date_time.unwrap().to_utc(),
        t0 + chrono::Duration::seconds(12),
        "seq 6 follows the restored seq 5 on the timeline"
    );

    // Deleting the channel removes its index: a third start has no channel.
    let resp = r2
        .http
        .delete(format!("{}/api/v1/channels/news", r2.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let r3 = start_on(dir.path(), &clock).await;
    assert!(r3.origin.channel("news").is_err());
}

/// A timeline longer than one index page (64 segments) is stored as a small head plus
/// page objects, and comes back whole after a restart.
#[tokio::test]
async fn long_timelines_are_stored_in_pages() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
        .unwrap()
        .to_utc();
    let clock = ManualClock::at(t0 + chrono::Duration::seconds(300));
    let r = start_on(dir.path(), &clock).await;
    let view = create(&r, serde_json::json!({"id": "long"})).await;
    let c = DigestPut::from_view(&view, 0);
    let url = &view.ingest[0].url;
    let n = 150;
    for i in 0..n {
        c.put_created(&format!("{url}_1_{i}.ts"), TS_PACKET.to_vec())
            .await;
    }
    let mut pl = String::from(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T10:00:00Z\n",
    );
    for i in 0..n {
        pl += &format!("#EXTINF:2,\nchannel_1_{i}.ts\n");
    }
    c.put_created(&format!("{url}_1.m3u8"), pl.into()).await;
    let all = format!(
        "/out/long/default/channel_1.m3u8?start={}&end={}",
        t0.timestamp(),
        t0.timestamp() + 2 * n
    );
    let before = text(&r, &all).await;
    assert_eq!(before.matches("#EXTINF").count(), n as usize);

    // Blocks 0 and 1 are pages; the head holds block 2 (seq 128..149) only.
    let pages = dir.path().join("long.pages/channel_1");
    for b in 0..2 {
        assert!(pages.join(format!("{b}.json")).is_file(), "page {b}");
    }
    assert!(!pages.join("2.json").exists());
    let head = std::fs::read_to_string(dir.path().join("long.index.json")).unwrap();
    assert_eq!(head.matches("\"seq\":").count(), 22, "{head}");

    drop(r);
    let r2 = start_on(dir.path(), &clock).await;
    assert_eq!(text(&r2, &all).await, before);

    // Deleting the channel deletes its pages too.
    let resp = r2
        .http
        .delete(format!("{}/api/v1/channels/long", r2.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let files = |d: &std::path::Path| -> usize {
        fn count(d: &std::path::Path) -> usize {
            std::fs::read_dir(d).map_or(0, |it| {
                it.flatten()
                    .map(|e| {
                        let p = e.path();
                        if p.is_dir() { count(&p) } else { 1 }
                    })
                    .sum()
            })
        }
        count(d)
    };
    assert_eq!(files(&dir.path().join("long.pages")), 0);
    assert!(!dir.path().join("long.index.json").exists());
}
