//! How a break is decided, seen from outside: no session state is held while the ad
//! server thinks (the session's other routes answer while its break decision waits on a
//! held ad server), concurrent requests for a session's renditions ask the ad server once
//! and get the same ads, and the decision is kept (a later reload does not ask again).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ads::adserver::catalog::Creative;
use ads::adserver::vast;
use axum::extract::State;
use axum::routing::get;
use common::*;
use serde_json::json;
use tokio::sync::watch;

#[derive(Clone)]
struct Gate {
    asked: Arc<AtomicUsize>,
    open: watch::Receiver<bool>,
    fx: String,
    base: Arc<std::sync::OnceLock<String>>,
}

/// A VAST answer with one 4 s HLS ad (two 2 s segments of the vod2 fixture), held until
/// the gate opens.
async fn held_vast(State(g): State<Gate>) -> String {
    g.asked.fetch_add(1, Ordering::SeqCst);
    let mut open = g.open.clone();
    let _ = open.wait_for(|o| *o).await;
    let base = g.base.get().cloned().unwrap_or_default();
    let ad = Creative {
        id: "four".into(),
        universal_id: None,
        url: format!("{base}/ad4.m3u8"),
        duration: 4.0,
        bitrate: 400,
        width: 640,
        height: 360,
    };
    vast::build("4", &base, "s", &[&ad])
}

async fn ad4(State(g): State<Gate>) -> String {
    format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n\
         #EXTINF:2.0,\n{fx}/ts/vod2/360p/seg000.ts\n#EXTINF:2.0,\n{fx}/ts/vod2/360p/seg001.ts\n\
         #EXT-X-ENDLIST\n",
        fx = g.fx
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_state_held_across_the_ad_server_and_one_decision_per_break() {
    let (_a, fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let fx_base = fx.url("").trim_end_matches('/').to_string();
    let (open_tx, open) = watch::channel(false);
    let gate = Gate {
        asked: Arc::default(),
        open,
        fx: fx_base.clone(),
        base: Arc::default(),
    };
    let gate_base = serve(
        axum::Router::new()
            .route("/vast", get(held_vast))
            .route("/ad4.m3u8", get(ad4))
            .with_state(gate.clone()),
    )
    .await;
    gate.base.set(gate_base.clone()).unwrap();
    let (_p, proxy) = proxy(ads::ProxyConfig::default()).await;
    put_config(
        &proxy,
        "vod",
        json!({
            "VideoContentSourceUrl": fx_base,
            "AdDecisionServerUrl": format!("{gate_base}/vast"),
            "AdDecisionServerTimeoutMs": 60000,
        }),
    )
    .await;
    // The ad-marked VOD: a 4 s break over its segments 1-2, in two renditions.
    let (master, tracking, id) =
        explicit_session(&proxy, "vod", "ads/vod1/master.m3u8", json!({})).await;
    let (status, text) = get_text(&master).await;
    assert_eq!(status, 200, "{text}");
    let renditions: Vec<String> = (0..2)
        .map(|n| format!("{proxy}/v1/manifest/vod/{id}/{n}.m3u8"))
        .collect();
    let pending: Vec<_> = renditions
        .iter()
        .map(|u| tokio::spawn(get_text_owned(u.clone())))
        .collect();
    testkit::wait_until(Duration::from_secs(20), "the ad server is asked", || {
        let asked = gate.asked.clone();
        async move { asked.load(Ordering::SeqCst) > 0 }
    })
    .await
    .unwrap();
    // The decision waits on the ad server; the session still answers.
    let (status, doc) = get_text(&tracking).await;
    assert_eq!(status, 200, "{doc}");
    let (status, info) = get_text(&format!("{proxy}/api/v1/sessions/{id}")).await;
    assert_eq!(status, 200, "{info}");
    assert!(
        pending.iter().all(|h| !h.is_finished()),
        "the playlists wait for the decision"
    );
    open_tx.send(true).unwrap();
    let mut playlists = Vec::new();
    for h in pending {
        let (status, text) = h.await.unwrap();
        assert_eq!(status, 200, "{text}");
        playlists.push(text);
    }
    assert_eq!(
        gate.asked.load(Ordering::SeqCst),
        1,
        "one decision per break"
    );
    for p in &playlists {
        let ads: Vec<&str> = p.lines().filter(|l| l.contains("/segment/")).collect();
        assert_eq!(ads.len(), 2, "both renditions play the 4 s ad:\n{p}");
        assert!(p.contains("#EXT-X-DISCONTINUITY"), "{p}");
        let (_, problems) = hls::validate::check_text(p);
        assert!(
            problems
                .iter()
                .all(|f| f.severity != hls::validate::Severity::Error),
            "{problems:?}\n{p}"
        );
    }
    // Kept: reloads do not ask again, and render the same text.
    let (_, again) = get_text(&renditions[0]).await;
    assert_eq!(again, playlists[0]);
    assert_eq!(gate.asked.load(Ordering::SeqCst), 1);
    let doc: serde_json::Value = get_json(&tracking).await;
    assert_eq!(
        doc["avails"][0]["ads"][0]["durationInSeconds"], 4.0,
        "{doc}"
    );
}

async fn get_text_owned(url: String) -> (u16, String) {
    get_text(&url).await
}
