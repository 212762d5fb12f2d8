//! Time-shifted playlists (`?start=`, `?start=&end=`) are served from the channel's
//! snapshot once rendered: the kept bytes are what a fresh render gives, and an ingest
//! that changes the channel replaces them.

mod common;

use common::*;
use testkit::http::get_text;

/// GET `url`: (status, cache-control, body).
async fn fetch(r: &Running, url: &str) -> (u16, String, String) {
    let resp = r.http.get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    let cc = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, cc, resp.text().await.unwrap())
}

#[tokio::test]
async fn shifted_playlists_from_the_snapshot_match_a_fresh_render() {
    let r = start_default().await;
    let view = create(&r, serde_json::json!({"id": "tv"})).await;
    let c = DigestPut::from_view(&view, 0);
    let stem = view.ingest[0].url.clone();
    // Segments with explicit times: 2 s each from t0.
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let playlist = |n: u64| {
        let mut pl = String::from("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n");
        for i in 0..n {
            let t = t0 + chrono::Duration::seconds(2 * i as i64);
            pl.push_str(&format!(
                "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:2,\nchannel_1_{i}.ts\n",
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ));
        }
        pl
    };
    for i in 0..6 {
        c.put_created(&format!("{stem}_1_{i}.ts"), TS_PACKET.to_vec())
            .await;
    }
    c.put_created(&format!("{stem}_1.m3u8"), playlist(6).into_bytes())
        .await;

    let out = format!("{}/out/tv/default/channel_1.m3u8", r.base);
    let (status, live) = get_text(&r.http, &out).await;
    assert_eq!(status, 200, "{live}");
    let start = (t0 + chrono::Duration::seconds(2)).timestamp();
    let end = start + 6;
    let clip = format!("{out}?start={start}&end={end}");
    let event = format!("{out}?start={start}");

    for url in [&clip, &event] {
        let first = fetch(&r, url).await;
        assert_eq!(first.0, 200, "{url}: {}", first.2);
        // The second answer comes from the snapshot the first one published.
        let again = fetch(&r, url).await;
        assert_eq!(again, first, "{url}: the snapshot differs from the render");
        // Another spelling of the same request is another key: a fresh render.
        let fresh = fetch(&r, &format!("{url}&fresh=1")).await;
        assert_eq!(
            fresh, first,
            "{url}: a fresh render differs from the snapshot"
        );
    }
    // Served from the snapshot: no render (the counter on /metrics does not move).
    let renders = async || {
        let (_, text) = get_text(&r.http, format!("{}/metrics", r.base)).await;
        text.lines()
            .find_map(|l| l.strip_prefix("origin_shifted_playlists_rendered_total "))
            .map(|v| v.trim().parse::<f64>().unwrap())
            .unwrap_or(0.0)
    };
    let before_renders = renders().await;
    assert!(before_renders >= 4.0, "{before_renders}");
    for _ in 0..5 {
        fetch(&r, &clip).await;
        fetch(&r, &event).await;
    }
    assert_eq!(renders().await, before_renders);
    let (_, clip_cc, clip_text) = fetch(&r, &clip).await;
    assert_eq!(clip_cc, "public, max-age=3600");
    let clip_pl = hls::parse_media(&clip_text).unwrap();
    assert!(clip_pl.end_list, "{clip_text}");
    let before = hls::parse_media(&fetch(&r, &event).await.2).unwrap();
    assert!(!before.end_list);
    assert!(before.segments.iter().all(|s| s.uri != "channel_1/6.ts"));

    // One more segment: the start-over playlist grows at once (the ingest dropped the
    // snapshot), and the snapshot again equals a fresh render.
    c.put_created(&format!("{stem}_1_6.ts"), TS_PACKET.to_vec())
        .await;
    c.put_created(&format!("{stem}_1.m3u8"), playlist(7).into_bytes())
        .await;
    let after = fetch(&r, &event).await;
    let after_pl = hls::parse_media(&after.2).unwrap();
    assert_eq!(
        after_pl.segments.len(),
        before.segments.len() + 1,
        "{}",
        after.2
    );
    assert_eq!(after_pl.segments.last().unwrap().uri, "channel_1/6.ts");
    assert_eq!(fetch(&r, &event).await, after);
    assert_eq!(fetch(&r, &format!("{event}&fresh=2")).await, after);

    // A refused request is never kept: the same bad query is refused again.
    let bad = format!("{out}?start={}", start + 3600);
    assert_eq!(fetch(&r, &bad).await.0, 400);
    assert_eq!(fetch(&r, &bad).await.0, 400);
}
