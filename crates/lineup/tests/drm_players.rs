//! DRM playback in real players (headless Chromium, EME with ClearKey), against `lineup demo`
//! as a process: the demo's DRM endpoint (CMAF `cbcs`, keys rotating every 30 s, from the
//! embedded `lineup keys` over SPEKE v2) and two more added through the origin's API (CMAF
//! `cenc` with keys from the same `lineup keys` over SPEKE, and TS SAMPLE-AES with keys the
//! origin derives; keys rotating every 20 s), all fed by the engine's channel, whose VODs
//! change every few seconds.
//!
//! - hls.js (`emeEnabled`, `drmSystems['org.w3.clearkey'].licenseUrl`) and Shaka Player
//!   (`drm.servers['org.w3.clearkey']`) play the `cbcs` and `cenc` endpoints with
//!   `lineup keys`' ClearKey licence, and hls.js plays the TS SAMPLE-AES endpoint
//!   (decrypting itself with the `identity` key), each for at least 60 s: across key
//!   rotations and VOD changes, with no fatal error and no stall over a second (judged by
//!   `currentTime`: the canvas of EME video reads black). The five run at once on one page.
//! - With `lineup keys`' wrong-key licence (and a wrong `identity` key for TS, served by the
//!   test), every player fails: the content really is encrypted, and decrypted with the
//!   licence's keys.
//! - The demo page's DRM tab plays the DRM endpoint with hls.js and its licence.

#[path = "browser/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::time::Duration;

use harness::{DemoProcess, assert_smooth, play_for, players_page, states};
use serde_json::json;
use testkit::Browser;

/// Seconds every player must play.
const PLAY_SECONDS: f64 = 60.0;
/// Start-up and slack over the played time.
const SLACK: Duration = Duration::from_secs(90);
/// How long a player with wrong keys gets to show it fails.
const WRONG_KEY_WAIT: Duration = Duration::from_secs(45);

macro_rules! require_browser {
    () => {
        testkit::require_peer!("chromium");
        testkit::require_peer!("chromedriver");
    };
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Adds the `cenc` and TS SAMPLE-AES endpoints to the demo's channel.
async fn add_endpoints(demo: &DemoProcess) {
    let http = reqwest::Client::new();
    for body in [
        json!({"id": "drm-cenc", "packaging": "cmaf",
               "encryption": {"aes_ctr": {"key_rotation_interval_seconds": 20,
                   "speke_key_provider": {"url": lineup::demo::speke_url(&demo.base),
                       "resource_id": "demo-drm-cenc",
                       "system_ids": [lineup::demo::CLEARKEY_SYSTEM_ID]}}}}),
        json!({"id": "drm-ts",
               "encryption": {"sample_aes": {"key_rotation_interval_seconds": 20}}}),
    ] {
        let r = http
            .post(demo.url("origin/api/v1/channels/demo/endpoints"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{body}: {}", r.status());
    }
}

/// A wrong 16-byte `identity` key at `/key` (with CORS, as players need), for the TS
/// SAMPLE-AES endpoint, which hls.js decrypts itself. Returns its base URL.
async fn wrong_key_server() -> String {
    use axum::{http::header, routing::get};
    let cors = [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")];
    let router = axum::Router::new().route(
        "/key",
        get(move || async move { (cors, (0u8..16).collect::<Vec<u8>>()) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hlsjs_and_shaka_play_every_drm_endpoint_across_key_rotations_and_fail_with_wrong_keys() {
    require_browser!();
    let demo = DemoProcess::start().await;
    add_endpoints(&demo).await;
    for ep in ["drm", "drm-cenc", "drm-ts"] {
        demo.wait_for_dvr(ep, 12.0, Duration::from_secs(120)).await;
    }
    let licence = lineup::demo::drm_licence(&demo.base);
    let (cbcs_lic, cenc_lic) = (licence.clone(), licence);
    let master = |ep: &str| format!("origin/out/demo/{ep}/index.m3u8");
    let (cbcs, cenc, ts) = (master("drm"), master("drm-cenc"), master("drm-ts"));
    let players = [
        ("hlsjs", cbcs.as_str(), Some(cbcs_lic.as_str())),
        ("hlsjs", cenc.as_str(), Some(cenc_lic.as_str())),
        ("shaka", cbcs.as_str(), Some(cbcs_lic.as_str())),
        ("shaka", cenc.as_str(), Some(cenc_lic.as_str())),
        ("hlsjs", ts.as_str(), None),
    ];

    // All five at once, each >= 60 s.
    let started = chrono::Utc::now().timestamp();
    let browser = Browser::start(1280, 900).await.expect("chromium");
    browser
        .goto(&players_page(&demo, &players, None))
        .await
        .expect("open player page");
    let deadline = Duration::from_secs_f64(PLAY_SECONDS) + SLACK;
    let done = testkit::wait_for(deadline, "every player plays 60 s", || {
        let browser = &browser;
        async move {
            let all = states(browser).await;
            let finished = all
                .iter()
                .all(|s| s.played_seconds >= PLAY_SECONDS || !s.fatal.is_empty());
            finished.then_some(all)
        }
    })
    .await;
    let all = match done {
        Ok(all) => all,
        Err(e) => panic!("{e}: {:#?}\n{}", states(&browser).await, demo.log()),
    };
    for ((player, playlist, _), s) in players.iter().zip(&all) {
        eprintln!("{player} on {playlist}: {s:?}");
        let what = format!("{player} on {playlist}");
        assert_smooth(&what, s);
        assert!(s.played_seconds >= PLAY_SECONDS, "{what}: {s:?}");
    }
    drop(browser);
    // What they played spanned key rotations and VOD changes: the time-shifted playlists of
    // that minute carry several keys and discontinuities.
    for ep in ["drm", "drm-cenc", "drm-ts"] {
        let url = demo.url(&format!(
            "origin/out/demo/{ep}/{}?start={started}&end={}",
            demo.first_variant(ep).await,
            chrono::Utc::now().timestamp()
        ));
        let pl = testkit::http::get_media_playlist(&reqwest::Client::new(), &url).await;
        let keys: std::collections::BTreeSet<&str> = pl
            .segments
            .iter()
            .flat_map(|s| &s.keys)
            .filter_map(|k| k.uri())
            .collect();
        let vod_changes = pl.segments.iter().filter(|s| s.discontinuity).count();
        assert!(
            keys.len() >= 2 && vod_changes >= 1,
            "{ep}: {keys:?}, {vod_changes} discontinuities"
        );
    }

    // Wrong keys: every player fails (a fatal error, or nothing played).
    let wrong = wrong_key_server().await;
    let wrong_lic = demo.url(&format!("keys{}", keys::WRONG_LICENCE_PATH));
    let wrong_players: Vec<_> = players
        .iter()
        .map(|(p, pl, lic)| (*p, *pl, lic.map(|_| wrong_lic.as_str())))
        .collect();
    let browser = Browser::start(1280, 900).await.expect("chromium");
    let page = players_page(&demo, &wrong_players, Some(&format!("{wrong}/key")));
    browser.goto(&page).await.expect("open player page");
    // Failing is playing nothing: wait the whole time (unless every player has stopped
    // with a fatal error), then nobody may have played a second.
    let _ = testkit::wait_for(WRONG_KEY_WAIT, "every player with wrong keys stops", || {
        let browser = &browser;
        async move {
            let all = states(browser).await;
            all.iter().all(|s| !s.fatal.is_empty()).then_some(())
        }
    })
    .await;
    for ((player, playlist, _), s) in wrong_players.iter().zip(states(&browser).await) {
        eprintln!("wrong keys: {player} on {playlist}: {s:?}");
        assert!(
            s.played_seconds < 1.0,
            "{player} on {playlist} played {:.1} s with wrong keys: {s:?}",
            s.played_seconds
        );
        assert!(
            !s.fatal.is_empty() || !s.errors.is_empty(),
            "{player} on {playlist}: no error with wrong keys: {s:?}"
        );
    }
    drop(browser);

    // The demo page's DRM tab: hls.js with the page's licence.
    let browser = Browser::start(1366, 900).await.expect("chromium");
    browser.goto(&demo.url("/#drm")).await.expect("open page");
    let s = play_for(&browser, "lineup.state()", 20.0, SLACK).await;
    assert_eq!(s.source.as_deref(), Some("drm"), "{s:?}");
    assert_smooth("the page's DRM tab", &s);
    let link: serde_json::Value = browser
        .execute(
            "const a = document.getElementById('stat-shaka'); return a.hidden ? null : a.href;",
            json!([]),
        )
        .await
        .unwrap();
    let link = link
        .as_str()
        .expect("the Shaka Player link shows on the DRM tab");
    assert!(
        link.contains("player=shaka") && link.contains(&enc(&cbcs_lic)),
        "{link}"
    );
}

/// How long the per-track-key endpoint gets to start playing.
const SPLIT_WAIT: Duration = Duration::from_secs(45);

/// Per-track keys (`PresetSpeke20Video: PRESET-VIDEO-1`, `PresetSpeke20Audio:
/// PRESET-AUDIO-1`: one key for video, another for the muxed audio) on a CMAF `cbcs`
/// endpoint: the playlist's `EXT-X-KEY` names one key id (the video key's), the init
/// segment's `tenc` boxes and `pssh` name both. Neither hls.js nor Shaka Player plays it
/// with ClearKey: both wait for the audio key, which they never ask the licence for (no
/// error, nothing played), as the README states. The day this test fails, a player learned
/// it: update the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_track_keys_do_not_play_in_hlsjs_and_shaka() {
    require_browser!();
    let demo = DemoProcess::start().await;
    let body = json!({"id": "drm-split", "packaging": "cmaf",
        "encryption": {"sample_aes": {
            "speke_key_provider": {"url": lineup::demo::speke_url(&demo.base),
                "resource_id": "demo-drm-split",
                "system_ids": [lineup::demo::CLEARKEY_SYSTEM_ID],
                "encryption_contract_configuration": {
                    "preset_speke20_video": "PRESET-VIDEO-1",
                    "preset_speke20_audio": "PRESET-AUDIO-1"}}}}});
    let r = reqwest::Client::new()
        .post(demo.url("origin/api/v1/channels/demo/endpoints"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    demo.wait_for_dvr("drm-split", 12.0, Duration::from_secs(120))
        .await;
    let licence = lineup::demo::drm_licence(&demo.base);
    let master = "origin/out/demo/drm-split/index.m3u8";
    let players = [
        ("hlsjs", master, Some(licence.as_str())),
        ("shaka", master, Some(licence.as_str())),
    ];
    let browser = Browser::start(1280, 900).await.expect("chromium");
    browser
        .goto(&players_page(&demo, &players, None))
        .await
        .expect("open player page");
    // Not playing is the finding: wait the whole time, unless one plays (then it fails).
    let _ = testkit::wait_for(SPLIT_WAIT, "a player plays per-track keys", || {
        let browser = &browser;
        async move {
            let all = states(browser).await;
            all.iter().any(|s| s.played_seconds >= 1.0).then_some(())
        }
    })
    .await;
    for ((player, _, _), s) in players.iter().zip(&states(&browser).await) {
        eprintln!("per-track keys: {player}: {s:?}");
        assert!(
            s.played_seconds < 1.0,
            "{player} plays per-track keys now: update the README ({s:?})"
        );
    }
}
