//! The origin's MPEG-DASH endpoint in the two DASH players, Shaka Player and dash.js (both
//! vendored in the binary), side by side on the player check page in headless Chromium,
//! against `lineup demo` as a process (issue 20):
//!
//! Open (the dash.js tests are `#[ignore]`d, with what is known): dash.js on the live
//! MPD and on the encrypted MPDs.
//!
//! - the live MPD, each player for at least 90 s, across at least three Period changes and
//!   one ad avail, with no fatal error and no stall over a second. The demo channel's VODs
//!   are 8 s long with ad breaks between them, so Periods change every few seconds. What a
//!   player crossed is read from the MPD, not from the player: the MPD is polled while they
//!   play (every Period it listed, with its `@start` and whether it opens an ad avail),
//!   and the Periods that start between a player's first and last playhead position
//!   (wall-clock time, `availabilityStartTime` + presentation time) are the ones it played
//!   through;
//! - a time-shifted static MPD (`?start=&end=`), played from its start: the presentation
//!   time at the playhead minus the time played is the MPD's zero;
//! - DRM: two encrypted DASH endpoints added to the demo channel through the origin's API
//!   (`aes_ctr`: cenc, and `sample_aes`: cbcs; keys from the embedded `lineup keys` over
//!   SPEKE v2, ClearKey signalled, rotating every 20 s), played with `lineup keys`'
//!   ClearKey licence by both players across key rotations (a Period each), and failing
//!   with its wrong-key licence.

#[path = "browser/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::collections::BTreeMap;
use std::time::Duration;

use harness::{DemoProcess, PlayState, assert_smooth, players_page, states};
use serde_json::json;
use testkit::Browser;

/// Seconds each player must play the live MPD.
const LIVE_SECONDS: f64 = 90.0;
/// Period changes and ad avails each player must cross on the live MPD.
const PERIOD_CHANGES: usize = 3;
const AD_AVAILS: usize = 1;
/// Start-up and slack over the played time.
const SLACK: Duration = Duration::from_secs(60);
/// Seconds of the time-shifted static MPD each player must play.
const STATIC_SECONDS: f64 = 8.0;
/// A window in which every player's video is on screen (Chromium may stop decoding video
/// that is scrolled out of view).
const WINDOW: (u32, u32) = (560, 1600);
/// How far from the MPD's zero a player may start a static MPD: a segment (2 s) plus
/// start-up rounding.
const START_TOLERANCE_S: f64 = 3.0;

const LIVE: &str = "origin/out/demo/dash/index.mpd";

macro_rules! require_browser {
    () => {
        testkit::require_peer!("chromium");
        testkit::require_peer!("chromedriver");
    };
}

/// Every Period an MPD listed across polls: `@start` (seconds since
/// `availabilityStartTime`) and whether it opens an ad avail (carries the SCTE-35
/// `EventStream`), by `@id`.
#[derive(Debug, Default)]
struct SeenPeriods(BTreeMap<String, (f64, bool)>);

impl SeenPeriods {
    async fn poll(&mut self, http: &reqwest::Client, url: &str) {
        let (status, text) = testkit::http::get_text(http, url).await;
        assert_eq!(status, 200, "{url}: {text}");
        let snap = dash::Snapshot::parse(&text).unwrap_or_else(|p| panic!("{p:?}: {text}"));
        let ads = ad_periods(&text);
        for p in snap.periods {
            let (Some(id), Some(start)) = (p.id, p.start) else {
                panic!("a Period without @id or @start: {text}");
            };
            let ad = ads.contains(&id);
            let was = self.0.insert(id.clone(), (start, ad));
            if let Some((was, _)) = was {
                assert!(
                    (was - start).abs() < dash::TOLERANCE,
                    "Period {id} moved from {was} to {start}"
                );
            }
        }
    }

    /// (Period changes, ad avails) with a Period start in `(from, to]` (seconds).
    fn crossed(&self, from: f64, to: f64) -> (Vec<&str>, usize) {
        let inside: Vec<_> = self
            .0
            .iter()
            .filter(|(_, (start, _))| *start > from && *start <= to)
            .collect();
        let ads = inside.iter().filter(|(_, (_, ad))| *ad).count();
        (inside.into_iter().map(|(id, _)| id.as_str()).collect(), ads)
    }
}

/// The ids of the Periods of `mpd` that carry a SCTE-35 `EventStream`.
fn ad_periods(mpd: &str) -> Vec<String> {
    mpd.split("<Period ")
        .skip(1)
        .filter_map(|chunk| {
            let body = chunk.split("</Period>").next()?;
            let id = body.split("id=\"").nth(1)?.split('"').next()?;
            body.contains("urn:scte:scte35:2013")
                .then(|| id.to_string())
        })
        .collect()
}

/// Issue 20: Shaka Player plays the live MPD for 90 s across Period changes and ad
/// avails, smoothly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shaka_plays_the_live_mpd_across_periods_and_ad_avails() {
    require_browser!();
    live_mpd_plays_across_periods("shaka").await;
}

/// Issue 20, open: dash.js does the same. In this harness it stops for good at the
/// second Period change (no error, no warning; currentTime frozen, the buffer ahead), while
/// by hand (headless Chromium, the same page and MPD, one or two players) it plays
/// through 20 Period changes; not understood yet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "issue 20: dash.js stalls at the second Period change in this harness"]
async fn dashjs_plays_the_live_mpd_across_periods_and_ad_avails() {
    require_browser!();
    live_mpd_plays_across_periods("dashjs").await;
}

/// `player` plays the live MPD for [`LIVE_SECONDS`] across [`PERIOD_CHANGES`] Period
/// changes and [`AD_AVAILS`] ad avails, smoothly.
async fn live_mpd_plays_across_periods(player: &'static str) {
    let demo = DemoProcess::start().await;
    // The DASH endpoint lists the CMAF endpoint's fragments: wait on that one.
    demo.wait_for_dvr("cmaf", 8.0, Duration::from_secs(60))
        .await;
    let http = reqwest::Client::new();
    let mpd = demo.url(LIVE);
    let players = [(player, LIVE, None)];
    let browser = Browser::start(WINDOW.0, WINDOW.1).await.expect("chromium");
    browser
        .goto(&players_page(&demo, &players, None))
        .await
        .expect("open player page");

    let mut seen = SeenPeriods::default();
    // Each player's first and last playhead position once playing (seconds since the
    // epoch, the MPD's availabilityStartTime).
    let mut span: Vec<Option<(f64, f64)>> = vec![None; players.len()];
    let deadline = std::time::Instant::now() + Duration::from_secs_f64(LIVE_SECONDS) + SLACK;
    let all: Vec<PlayState> = loop {
        seen.poll(&http, &mpd).await;
        let all = states(&browser).await;
        for (s, span) in all.iter().zip(span.iter_mut()) {
            if let (true, Some(at)) = (s.started, s.playhead_date) {
                let at = at / 1000.0;
                *span = Some(span.map_or((at, at), |(first, _)| (first, at)));
            }
        }
        let done = all
            .iter()
            .all(|s| s.played_seconds >= LIVE_SECONDS || !s.fatal.is_empty());
        if done {
            break all;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the players did not play {LIVE_SECONDS} s in time: {all:#?}\n{}",
            demo.log()
        );
        // The next poll of the MPD and the players (the MPD updates every 2 s).
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    for (((player, _, _), s), span) in players.iter().zip(&all).zip(&span) {
        let what = format!("{player} on the live MPD");
        eprintln!("{what}: {s:?}");
        assert_smooth(&what, s);
        assert!(s.played_seconds >= LIVE_SECONDS, "{what}: {s:?}");
        let (first, last) = span.unwrap_or_else(|| panic!("{what}: no playhead date: {s:?}"));
        assert!(
            last - first >= LIVE_SECONDS - 5.0,
            "{what}: the playhead moved from {first} to {last} only: {s:?}"
        );
        let (changes, ads) = seen.crossed(first, last);
        eprintln!(
            "{what}: from {first:.1} to {last:.1}, {} Period changes ({changes:?}), {ads} ad avails",
            changes.len()
        );
        assert!(
            changes.len() >= PERIOD_CHANGES && ads >= AD_AVAILS,
            "{what}: crossed {} Period changes and {ads} ad avails between {first} and \
             {last}: {changes:?}; Periods seen: {seen:?}",
            changes.len()
        );
    }
    // dash.js names the Periods it switched to: they are the MPD's.
    let switched = all[0].periods.clone().unwrap_or_default();
    assert!(
        player != "dashjs" || switched.len() >= PERIOD_CHANGES,
        "dash.js: {:?}",
        all[0]
    );
    for id in &switched {
        assert!(
            seen.0.contains_key(id),
            "dash.js switched to {id}: {seen:?}"
        );
    }
}

/// Issue 20: a time-shifted static MPD (`?start=&end=`, 30 s of the DVR window) plays
/// from its start in Shaka Player and dash.js.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shaka_and_dashjs_play_a_time_shifted_static_mpd_from_its_start() {
    require_browser!();
    let demo = DemoProcess::start().await;
    let first_pdt = demo
        .wait_for_dvr("cmaf", 50.0, Duration::from_secs(120))
        .await;
    let start = first_pdt / 1000 + 5;
    let mpd = format!("{LIVE}?start={start}&end={}", start + 30);
    let (status, text) = testkit::http::get_text(&reqwest::Client::new(), &demo.url(&mpd)).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("type=\"static\""), "{text}");
    let players = [
        ("shaka", mpd.as_str(), None),
        ("dashjs", mpd.as_str(), None),
    ];
    let browser = Browser::start(WINDOW.0, WINDOW.1).await.expect("chromium");
    browser
        .goto(&players_page(&demo, &players, None))
        .await
        .expect("open player page");
    let deadline = Duration::from_secs_f64(STATIC_SECONDS) + SLACK;
    let done = testkit::wait_for(deadline, "both players play the static MPD", || {
        let browser = &browser;
        async move {
            let all = states(browser).await;
            let finished = all
                .iter()
                .all(|s| s.played_seconds >= STATIC_SECONDS || !s.fatal.is_empty());
            finished.then_some(all)
        }
    })
    .await;
    let all = match done {
        Ok(all) => all,
        Err(e) => panic!("{e}: {:#?}\n{}", states(&browser).await, demo.log()),
    };
    for ((player, _, _), s) in players.iter().zip(&all) {
        let what = format!("{player} on {mpd}");
        eprintln!("{what}: {s:?}");
        assert_smooth(&what, s);
        // Started at the MPD's zero: where it is, less what it played.
        let began = s.current_time - s.played_seconds;
        assert!(
            began.abs() <= START_TOLERANCE_S,
            "{what}: started at {began:.1} s, not at the MPD's start: {s:?}"
        );
    }
}

/// Seconds each player must play an encrypted MPD: across at least one key rotation.
const DRM_SECONDS: f64 = 45.0;
/// How long a player with wrong keys gets to show it fails.
const WRONG_KEY_WAIT: Duration = Duration::from_secs(40);

/// Adds the encrypted DASH endpoints `dash-cenc` and `dash-cbcs` to the demo's channel.
async fn add_drm_endpoints(demo: &DemoProcess) {
    let http = reqwest::Client::new();
    for (id, method) in [("dash-cenc", "aes_ctr"), ("dash-cbcs", "sample_aes")] {
        let body = json!({"id": id, "packaging": "dash",
            "encryption": {method: {"key_rotation_interval_seconds": 20,
                "speke_key_provider": {"url": lineup::demo::speke_url(&demo.base),
                    "resource_id": format!("demo-{id}"),
                    "system_ids": [lineup::demo::CLEARKEY_SYSTEM_ID]}}}});
        let r = http
            .post(demo.url("origin/api/v1/channels/demo/endpoints"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{body}: {}", r.status());
    }
}

/// Issue 20: Shaka Player plays the CENC and CBCS MPDs with `lineup keys`' ClearKey
/// licence across key rotations, and fails with its wrong-key licence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shaka_plays_encrypted_mpds_with_clearkey_and_fails_with_wrong_keys() {
    require_browser!();
    encrypted_mpds_play("shaka").await;
}

/// Issue 20, open: dash.js does the same. Its EME request for the muxed audio+video
/// Representation names both codecs among the video capabilities, which Chromium refuses
/// ("KeySystem Access Denied"); the check page splits them (as Shaka does), which gets it
/// past that by hand but not yet in this harness.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "issue 20: dash.js is refused EME access for the muxed Representation"]
async fn dashjs_plays_encrypted_mpds_with_clearkey_and_fails_with_wrong_keys() {
    require_browser!();
    encrypted_mpds_play("dashjs").await;
}

/// `player` plays the CENC and CBCS MPDs with ClearKey for [`DRM_SECONDS`] and fails with
/// the wrong-key licence.
async fn encrypted_mpds_play(player: &'static str) {
    let demo = DemoProcess::start().await;
    add_drm_endpoints(&demo).await;
    demo.wait_for_dvr("cmaf", 8.0, Duration::from_secs(60))
        .await;
    let http = reqwest::Client::new();
    let (cenc, cbcs) = (
        "origin/out/demo/dash-cenc/index.mpd",
        "origin/out/demo/dash-cbcs/index.mpd",
    );
    for mpd in [cenc, cbcs] {
        let (status, text) = testkit::http::get_text(&http, &demo.url(mpd)).await;
        assert_eq!(status, 200, "{mpd}: {text}");
        assert!(
            text.contains("urn:mpeg:dash:mp4protection:2011")
                && text.contains(&format!("urn:uuid:{}", lineup::demo::CLEARKEY_SYSTEM_ID))
                && text.contains("<cenc:pssh>"),
            "{mpd}: {text}"
        );
    }
    let licence = lineup::demo::drm_licence(&demo.base);
    let lic = Some(licence.as_str());
    let players = [(player, cenc, lic), (player, cbcs, lic)];
    let started = chrono::Utc::now().timestamp();
    let browser = Browser::start(WINDOW.0, WINDOW.1).await.expect("chromium");
    browser
        .goto(&players_page(&demo, &players, None))
        .await
        .expect("open player page");
    let deadline = Duration::from_secs_f64(DRM_SECONDS) + SLACK;
    let done = testkit::wait_for(deadline, "every player plays the encrypted MPDs", || {
        let browser = &browser;
        async move {
            let all = states(browser).await;
            let finished = all
                .iter()
                .all(|s| s.played_seconds >= DRM_SECONDS || !s.fatal.is_empty());
            finished.then_some(all)
        }
    })
    .await;
    let all = match done {
        Ok(all) => all,
        Err(e) => panic!("{e}: {:#?}\n{}", states(&browser).await, demo.log()),
    };
    for ((player, mpd, _), s) in players.iter().zip(&all) {
        let what = format!("{player} on {mpd}");
        eprintln!("{what}: {s:?}");
        assert_smooth(&what, s);
        assert!(s.played_seconds >= DRM_SECONDS, "{what}: {s:?}");
    }
    drop(browser);
    // What they played spanned key rotations: the time-shifted MPD of that time names
    // more than one key.
    for mpd in [cenc, cbcs] {
        let url = demo.url(&format!(
            "{mpd}?start={started}&end={}",
            chrono::Utc::now().timestamp() - 2
        ));
        let (status, text) = testkit::http::get_text(&http, &url).await;
        assert_eq!(status, 200, "{url}: {text}");
        let kids: std::collections::BTreeSet<&str> = text
            .split("cenc:default_KID=\"")
            .skip(1)
            .filter_map(|s| s.get(..36))
            .collect();
        assert!(kids.len() >= 2, "{mpd}: keys {kids:?}: {text}");
    }

    // Wrong keys: every player fails (a fatal error, or nothing played).
    let wrong_lic = demo.url(&format!("keys{}", keys::WRONG_LICENCE_PATH));
    let wrong: Vec<_> = players
        .iter()
        .map(|(p, mpd, _)| (*p, *mpd, Some(wrong_lic.as_str())))
        .collect();
    let browser = Browser::start(WINDOW.0, WINDOW.1).await.expect("chromium");
    browser
        .goto(&players_page(&demo, &wrong, None))
        .await
        .expect("open player page");
    let _ = testkit::wait_for(WRONG_KEY_WAIT, "every player with wrong keys stops", || {
        let browser = &browser;
        async move {
            let all = states(browser).await;
            all.iter().all(|s| !s.fatal.is_empty()).then_some(())
        }
    })
    .await;
    for ((player, mpd, _), s) in wrong.iter().zip(states(&browser).await) {
        eprintln!("wrong keys: {player} on {mpd}: {s:?}");
        assert!(
            s.played_seconds < 1.0,
            "{player} on {mpd} played {:.1} s with wrong keys: {s:?}",
            s.played_seconds
        );
        assert!(
            !s.fatal.is_empty() || !s.errors.is_empty(),
            "{player} on {mpd}: no error with wrong keys: {s:?}"
        );
    }
}
