//! CMAF across discontinuities: every fMP4 fragment the origin remuxes, probed with
//! ffprobe (init + fragment), has per-track decode timestamps contiguous with the previous
//! fragment inside each discontinuity span, and each track is presented from where its TS
//! source was (also the first fragment after a discontinuity); the first fragment after a
//! discontinuity decodes first what it presents first.

mod common;

use common::pusher::FixturePusher;
use common::*;

/// Per stream (`codec_type`): (first dts, end of the last packet's decode, earliest pts),
/// seconds.
type Spans = std::collections::BTreeMap<String, (f64, f64, f64)>;

async fn probe(path: &std::path::Path) -> Spans {
    let j = testkit::ffprobe_json(&[
        "-show_entries",
        "stream=index,codec_type,time_base:packet=stream_index,pts,dts,duration",
        path.to_str().unwrap(),
    ])
    .await;
    let mut out = Spans::new();
    for s in j["streams"].as_array().expect("streams") {
        let idx = s["index"].as_i64().unwrap();
        let kind = s["codec_type"].as_str().unwrap().to_string();
        let (n, d) = s["time_base"].as_str().unwrap().split_once('/').unwrap();
        let tb = n.parse::<f64>().unwrap() / d.parse::<f64>().unwrap();
        let pkts: Vec<&serde_json::Value> = j["packets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["stream_index"].as_i64() == Some(idx))
            .collect();
        let num = |p: &serde_json::Value, k: &str| p[k].as_i64().unwrap() as f64 * tb;
        let first = num(pkts[0], "dts");
        let last = pkts.last().unwrap();
        let end = num(last, "dts") + num(last, "duration");
        let pts = pkts.iter().map(|p| num(p, "pts")).fold(f64::MAX, f64::min);
        out.insert(kind, (first, end, pts));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragments_are_contiguous_per_track_and_start_where_the_ts_did() {
    if testkit::require("ffprobe").is_none() {
        return;
    }
    let r = start_default().await;
    let view = create(
        &r,
        serde_json::json!({"id": "c", "endpoints": [{"id": "cmaf", "packaging": "cmaf"}]}),
    )
    .await;
    let t0 = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0).unwrap();
    let mut pusher = FixturePusher::new(&view, t0);
    pusher.push_master().await;
    // vod1 (0-3) | slate (4-6) | vod2 (7-10) | vod3 (11-14) | vod1 (15-16)
    for _ in 0..17 {
        pusher.step().await;
    }
    let url = format!(
        "{}/out/c/cmaf/channel_1.m3u8?start={}",
        r.base,
        t0.timestamp()
    );
    let pl = testkit::http::get_media_playlist(&r.http, &url).await;
    assert!(pl.segments.len() >= 16, "{pl:?}");
    let tmp = tempfile::tempdir().unwrap();
    let mut prev: Option<Spans> = None;
    let mut discontinuities = 0;
    for (i, seg) in pl.segments.iter().enumerate() {
        let seq = pl.media_sequence + i as u64;
        assert!(!seg.gap, "segment {seq} did not remux");
        let (source, disc) = pusher.source_of(seq, 0);
        assert_eq!(seg.discontinuity, disc, "segment {seq}");
        let map = pl.effective_map(i).expect("EXT-X-MAP");
        let get = |u: &str| {
            let u = hls::uri::resolve_str(&url, u).unwrap();
            let http = r.http.clone();
            async move { testkit::http::get_bytes(&http, u).await.expect("200") }
        };
        let mut whole = get(map.uri().unwrap()).await.to_vec();
        whole.extend_from_slice(&get(&seg.uri).await);
        let p = tmp.path().join(format!("{seq}.mp4"));
        std::fs::write(&p, &whole).unwrap();
        let got = probe(&p).await;
        let ts = probe(&source).await;
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            ["audio", "video"],
            "segment {seq}"
        );
        for (kind, (first, _, pts)) in &got {
            let src_pts = ts[kind].2;
            assert!(
                (pts - src_pts).abs() < 0.001,
                "segment {seq} {kind}: starts at {pts}, its TS at {src_pts}"
            );
            match &prev {
                Some(before) if !seg.discontinuity => {
                    let end = before[kind].1;
                    assert!(
                        (first - end).abs() < 0.0001,
                        "segment {seq} {kind}: starts at {first}, the previous ended at {end}"
                    );
                }
                _ => {}
            }
        }
        if seg.discontinuity {
            // hls.js starts a discontinuity where the previous one ended with the smallest
            // tfdt of the fragment's tracks: that must be the first thing presented, or
            // the player has a hole there (B-frame video decodes 80 ms before it shows).
            let decode = got.values().map(|t| t.0).fold(f64::MAX, f64::min);
            let shown = got.values().map(|t| t.2).fold(f64::MAX, f64::min);
            assert!(
                (decode - shown).abs() < 0.0001,
                "segment {seq}: first decode at {decode}, first presentation at {shown}: {got:?}"
            );
        }
        discontinuities += usize::from(seg.discontinuity);
        prev = Some(got);
    }
    assert!(discontinuities >= 3, "{discontinuities}");
}
