//! Browser tests in headless Chromium (chromedriver, WebDriver): the demo's web page and
//! the player checks of every demo endpoint, with `lineup demo` started as a process on an
//! ephemeral port. Players: hls.js and Shaka Player, embedded in the binary.
//!
//! What "plays" means here is what a viewer sees (assets/monitor.js): `currentTime`
//! advances, no fatal player error, no stall longer than a second.

#[path = "browser/harness.rs"]
mod harness;

use std::time::Duration;

use harness::{DemoProcess, PlayState, assert_smooth, play_for, state};
use serde_json::json;
use testkit::Browser;

/// Time for a player to load and start, and for a stall-free run to finish.
const SLACK: Duration = Duration::from_secs(60);
/// Played seconds required of every player check.
const PLAY_SECONDS: f64 = 20.0;
/// Tolerance on programme date-time positions: a segment (2 s) plus the player's start-up.
const PDT_TOLERANCE_S: f64 = 5.0;

/// Screenshots go to the target folder; the README's is docs/demo-page.png.
fn screenshot_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

macro_rules! require_browser {
    () => {
        testkit::require_peer!("chromium");
        testkit::require_peer!("chromedriver");
    };
}

/// Issue 13: the page plays the channel, seeks back in the DVR window, goes live again,
/// and shows the fetchers and the API docs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_page_plays_seeks_back_and_goes_live() {
    require_browser!();
    let demo = DemoProcess::start().await;
    let browser = Browser::start(1366, 900).await.expect("chromium");
    browser.goto(&demo.url("/")).await.expect("open page");
    const PAGE: &str = "lineup.state()";

    // The engine's channel plays at once, for 20 s, smoothly.
    let s = play_for(&browser, PAGE, PLAY_SECONDS, SLACK).await;
    assert_eq!(s.source.as_deref(), Some("engine"));
    assert_smooth("engine channel on the page", &s);

    // The EPG strip: programmes from the schedule, the one at the playhead highlighted.
    check_epg(&demo, &browser, "engine channel at live", true).await;

    // The fetcher's state and the API docs are on the page.
    let fetcher_state = wait_for_js(
        &browser,
        "const p = document.querySelector('[data-fetcher=\"demo\"] [data-state]');\
         return p && p.dataset.state;",
        "fetcher state on the page",
    )
    .await;
    assert_eq!(fetcher_state, "running");
    let links = browser
        .execute(
            "return [...document.querySelectorAll('a.api-doc')].map(a => a.href);",
            json!([]),
        )
        .await
        .expect("links");
    let links: Vec<String> = serde_json::from_value(links).expect("hrefs");
    let client = reqwest::Client::new();
    for service in ["engine", "pullpush", "origin"] {
        let href = links
            .iter()
            .find(|l| l.ends_with(&format!("/{service}/api/docs")))
            .unwrap_or_else(|| panic!("no {service} API docs link in {links:?}"));
        assert_eq!(
            testkit::http::get_status(&client, href).await,
            200,
            "{href}"
        );
    }

    // The DVR endpoint, once its window holds more than the seek.
    demo.wait_for_dvr("dvr", 45.0, Duration::from_secs(90))
        .await;
    browser
        .click("button[data-id=\"dvr\"]")
        .await
        .expect("DVR tab");
    let s = play_for(&browser, PAGE, 4.0, SLACK).await;
    assert_eq!(s.source.as_deref(), Some("dvr"));
    assert_smooth("DVR endpoint on the page", &s);
    assert_eq!(s.at_live, Some(true), "starts at live: {s:?}");
    let behind_at_live = s
        .behind_live()
        .expect("programme date-times on the DVR endpoint");

    // Seek back 30 s with a click on the seek bar.
    let x = browser
        .execute(
            "const s = lineup.state(); const w = s.window;\
             const r = document.getElementById('seekbar').getBoundingClientRect();\
             return r.width * (s.currentTime - 30 - w.start) / (w.end - w.start);",
            json!([]),
        )
        .await
        .expect("seek bar geometry")
        .as_f64()
        .expect("x");
    browser
        .click_at("#seekbar", x)
        .await
        .expect("click seek bar");
    browser
        .execute("lineup.resetStats();", json!([]))
        .await
        .expect("reset");
    let s = play_for(&browser, PAGE, 5.0, SLACK).await;
    assert_smooth("DVR after seeking back", &s);
    let behind = s.behind_live().expect("PDT after the seek");
    assert!(
        (behind - behind_at_live - 30.0).abs() <= PDT_TOLERANCE_S,
        "after seeking back 30 s the playhead is {behind:.1} s behind live (was {behind_at_live:.1} s): {s:?}"
    );
    assert_eq!(s.at_live, Some(false), "{s:?}");
    // The strip follows the playhead back: it highlights what was on then.
    check_epg(&demo, &browser, "DVR 30 s behind live", false).await;
    // Scrub to a programme that has ended (the latest whose start the DVR window holds):
    // the strip highlights it, and not the one on air.
    let past = browser
        .execute(
            "const s = lineup.state();\
             const first = s.liveEdgeDate - (s.window.end - s.window.start) * 1000;\
             const past = lineup.schedule().filter(e => e.start >= first + 2000 && e.end < Date.now() - 12000);\
             const e = past[past.length - 1];\
             if (!e) return null;\
             return lineup.seekToDate(e.start + 2000) === null ? null : e.id;",
            json!([]),
        )
        .await
        .expect("seek to a past programme");
    let Some(past) = past.as_str().map(str::to_string) else {
        panic!(
            "no ended programme in the DVR window: {:?}",
            state(&browser, PAGE).await
        );
    };
    browser
        .execute("lineup.resetStats();", json!([]))
        .await
        .expect("reset");
    let s = play_for(&browser, PAGE, 2.0, SLACK).await;
    assert_smooth("DVR after scrubbing to an ended programme", &s);
    let v = check_epg(&demo, &browser, "DVR on an ended programme", false).await;
    assert_eq!(v.current.as_deref(), Some(past.as_str()), "{v:?}");
    assert_ne!(
        v.current, v.live,
        "the ended programme is not the one on air: {v:?}"
    );

    // "Go live" returns to the live edge.
    browser.click("#golive").await.expect("go live");
    browser
        .execute("lineup.resetStats();", json!([]))
        .await
        .expect("reset");
    let s = play_for(&browser, PAGE, 3.0, SLACK).await;
    assert_smooth("DVR after go live", &s);
    let behind = s.behind_live().expect("PDT at live");
    assert!(
        (behind - behind_at_live).abs() <= PDT_TOLERANCE_S,
        "after go live the playhead is {behind:.1} s behind live (at start {behind_at_live:.1} s): {s:?}"
    );
    assert_eq!(s.at_live, Some(true), "{s:?}");

    // Ad breaks (the DVR playlist's SCTE-35 DATERANGEs) are drawn on the seek bar.
    wait_for_js(
        &browser,
        "return document.querySelectorAll('#ads .ad').length > 0 || null;",
        "ad breaks on the seek bar",
    )
    .await;

    // Screenshots of the product (with a programme playing rather than an ad break's
    // slate, when one comes within half a minute): desktop, then phone-sized.
    let programme = |s: &PlayState| s.in_ad_break == Some(false) && s.at_live == Some(true);
    let shown = testkit::wait_until(Duration::from_secs(40), "a programme playing", || async {
        // Still a programme two seconds of playback later: not at a boundary.
        let first = state(&browser, PAGE).await;
        if !programme(&first) {
            return false;
        }
        let later = testkit::wait_for(Duration::from_secs(5), "2 s of playback", || async {
            let s = state(&browser, PAGE).await;
            (s.current_time >= first.current_time + 2.0).then_some(s)
        })
        .await;
        later.is_ok_and(|s| programme(&s))
    })
    .await;
    eprintln!("screenshot ({shown:?}): {:?}", state(&browser, PAGE).await);
    // Tall enough for the EPG strip under the player.
    browser
        .set_window_size(1366, 1100)
        .await
        .expect("window size");
    let png = browser.screenshot().await.expect("screenshot");
    let path = screenshot_path("demo-page.png");
    std::fs::write(&path, png).expect("write screenshot");
    browser.set_window_size(390, 844).await.expect("phone size");
    let overflow = browser
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth;",
            json!([]),
        )
        .await
        .expect("layout");
    assert_eq!(
        overflow,
        json!(false),
        "the page scrolls sideways on a phone"
    );
    let png = browser.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_path("demo-page-phone.png"), png).expect("write screenshot");
    eprintln!("screenshots: {}", path.display());
}

/// What the EPG strip shows (read in one go, so that it is consistent).
#[derive(Debug, serde::Deserialize)]
struct EpgView {
    /// Programmes in the strip.
    shown: usize,
    /// `data-id` of the highlighted programme (`.prog.current`), and its `aria-current`.
    current: Option<String>,
    aria: Option<String>,
    /// `data-id` of the programme on air now (`.prog.live`).
    live: Option<String>,
    /// The playhead's programme date-time (ms), or the wall clock without one.
    at: f64,
    /// The programme the stream names at the playhead (`com.lineup.programme` DATERANGE).
    from_stream: Option<String>,
}

/// Waits for the EPG strip to show programmes, then checks that the highlighted one is the
/// programme at the playhead: the one the stream names there, else the schedule's event
/// whose times contain the playhead's date-time (none when the playhead is before the
/// schedule begins, as in the first seconds of a demo's DVR window). `live`: at the live
/// edge, where the schedule always has a programme, one must be highlighted.
async fn check_epg(demo: &DemoProcess, browser: &Browser, what: &str, live: bool) -> EpgView {
    let script = "const c = document.querySelector('#epg .prog.current');\
         const l = document.querySelector('#epg .prog.live');\
         const s = lineup.state();\
         const shown = document.querySelectorAll('#epg .prog[data-id]').length;\
         if (!shown || !s.epg) return null;\
         return { shown, current: c && c.dataset.id, aria: c && c.getAttribute('aria-current'),\
                  live: l && l.dataset.id, at: s.playheadDate || Date.now(),\
                  from_stream: s.epg.fromStream || null };";
    let v: EpgView = serde_json::from_value(
        wait_for_js(browser, script, &format!("the EPG strip ({what})")).await,
    )
    .expect("EPG view");
    assert!(v.shown >= 1, "{what}: {v:?}");
    let at = v.at as i64;
    let schedule = testkit::http::get_json(
        &reqwest::Client::new(),
        demo.url(&format!(
            "schedule/api/v1/channels/demo/schedule?start={}&end={}",
            at - 600_000,
            at + 600_000
        )),
    )
    .await;
    let events = schedule.as_array().expect("schedule events");
    // The page redraws every half second and the playhead moves on: allow for that.
    let containing = |t: i64| {
        events
            .iter()
            .find(|e| e["start_time"].as_i64() <= Some(t) && Some(t) < e["end_time"].as_i64())
            .and_then(|e| e["id"].as_str())
            .map(str::to_string)
    };
    let expected: Vec<Option<String>> = match &v.from_stream {
        Some(id) => vec![Some(id.clone())],
        None => [at, at - 1_500].iter().map(|t| containing(*t)).collect(),
    };
    assert!(
        expected.contains(&v.current),
        "{what}: the strip highlights {:?}, the programme at the playhead is {expected:?}: {v:?}",
        v.current
    );
    if live {
        assert!(
            v.current.is_some(),
            "{what}: nothing highlighted at live: {v:?}"
        );
    }
    assert!(
        v.live.is_some(),
        "{what}: the programme on air now is not marked: {v:?}"
    );
    if v.current.is_some() {
        assert_eq!(v.aria.as_deref(), Some("true"), "{what}: {v:?}");
    }
    eprintln!("EPG ({what}): {v:?}");
    v
}

/// Polls `script` in the page until it returns something other than `null`.
async fn wait_for_js(browser: &Browser, script: &str, what: &str) -> serde_json::Value {
    testkit::wait_for(Duration::from_secs(60), what, || async {
        let v = browser.execute(script, json!([])).await.ok()?;
        (!v.is_null()).then_some(v)
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

// ---------------------------------------------------------------- issue 10 item 6

/// A demo endpoint played as cleanly as a viewer expects: smooth, and not even the
/// non-fatal errors players report around timeline holes.
async fn endpoint_plays_clean(endpoint: &str, player: &str) {
    let demo = DemoProcess::start().await;
    let (playlist, seconds) = match endpoint {
        "engine" => ("engine/channels/demo/master.m3u8".to_string(), PLAY_SECONDS),
        // A per-viewer SSAI session of the DVR endpoint, long enough to cross an ad break
        // (one every two VODs of ~10 s, each 10 s long).
        // The same in front of the AES-128 endpoint: ads in the clear between keyed content.
        "ssai" | "ssai-aes" => {
            let origin = if endpoint == "ssai" { "dvr" } else { "aes" };
            demo.wait_for_dvr(origin, 8.0, Duration::from_secs(60))
                .await;
            (
                format!("ads/v1/master/demo/demo/{origin}/index.m3u8?ads.uid=browser"),
                SSAI_PLAY_SECONDS,
            )
        }
        "dash" => {
            // The DASH endpoint lists the CMAF endpoint's fragments: wait on that one.
            demo.wait_for_dvr("cmaf", 8.0, Duration::from_secs(60))
                .await;
            (
                "origin/out/demo/dash/index.mpd".to_string(),
                DASH_PLAY_SECONDS,
            )
        }
        origin => {
            demo.wait_for_dvr(origin, 8.0, Duration::from_secs(60))
                .await;
            (format!("origin/out/demo/{origin}/index.m3u8"), PLAY_SECONDS)
        }
    };
    let s = check_player(&demo, &playlist, player, seconds).await;
    let what = format!("{player} on {endpoint}");
    assert_smooth(&what, &s);
    assert!(s.errors.is_empty(), "{what}: player errors: {s:?}");
    assert_eq!(s.rebuffers, 0, "{what}: rebuffering: {s:?}");
}

macro_rules! endpoint_checks {
    ($($(#[$attr:meta])* $name:ident: $endpoint:literal, $player:literal;)*) => {$(
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            require_browser!();
            endpoint_plays_clean($endpoint, $player).await;
        }
    )*};
}

endpoint_checks! {
    engine_channel_plays_in_hlsjs: "engine", "hlsjs";
    engine_channel_plays_in_shaka: "engine", "shaka";
    origin_dvr_plays_in_hlsjs: "dvr", "hlsjs";
    origin_dvr_plays_in_shaka: "dvr", "shaka";
    origin_cmaf_plays_in_hlsjs: "cmaf", "hlsjs";
    origin_cmaf_plays_in_shaka: "cmaf", "shaka";
    origin_aes_plays_in_hlsjs: "aes", "hlsjs";
    origin_aes_plays_in_shaka: "aes", "shaka";
    origin_dash_plays_in_shaka: "dash", "shaka";
    ssai_session_plays_through_a_break_in_hlsjs: "ssai", "hlsjs";
    ssai_session_plays_through_a_break_in_shaka: "ssai", "shaka";
    ssai_aes_session_plays_through_a_break_in_hlsjs: "ssai-aes", "hlsjs";
}

/// The DASH MPD in Shaka Player: long enough to cross several Periods (a VOD change every
/// 8 s and ad avails in the demo channel).
const DASH_PLAY_SECONDS: f64 = 40.0;

/// Long enough for an SSAI session to cross at least one ad break.
const SSAI_PLAY_SECONDS: f64 = 40.0;

/// A time-shifted span of the DVR endpoint (`?start=<t>&end=<t+30s>`) plays the requested
/// time, not the live edge: the programme date-time at the playhead is `t` plus what was
/// played. `media`: ask a media playlist; otherwise the master (the start-over URL the demo
/// prints), which must carry the query into the playlists it names.
async fn time_shift_plays_requested_time(player: &str, media: bool) {
    let demo = DemoProcess::start().await;
    let first_pdt = demo
        .wait_for_dvr("dvr", 50.0, Duration::from_secs(120))
        .await;
    let start = (first_pdt / 1000) + 5;
    let end = start + 30;
    let file = if media {
        demo.first_variant("dvr").await
    } else {
        "index.m3u8".to_string()
    };
    let playlist = format!("origin/out/demo/dvr/{file}?start={start}&end={end}");
    let s = check_player(&demo, &playlist, player, 4.0).await;
    let what = format!("{player} on {playlist}");
    assert_smooth(&what, &s);
    let pdt = s
        .playhead_date
        .expect("programme date-time at the playhead")
        / 1000.0;
    let expected = start as f64 + s.played_seconds;
    assert!(
        (pdt - expected).abs() <= PDT_TOLERANCE_S,
        "{what}: the playhead is at {pdt:.1}, {:.1} s from the requested {expected:.1}: {s:?}",
        pdt - expected
    );
}

macro_rules! time_shift_checks {
    ($($(#[$attr:meta])* $name:ident: $player:literal, $media:literal;)*) => {$(
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            require_browser!();
            time_shift_plays_requested_time($player, $media).await;
        }
    )*};
}

time_shift_checks! {
    dvr_time_shift_media_playlist_plays_requested_time_in_hlsjs: "hlsjs", true;
    dvr_time_shift_media_playlist_plays_requested_time_in_shaka: "shaka", true;
    dvr_time_shift_master_plays_requested_time_in_hlsjs: "hlsjs", false;
    dvr_time_shift_master_plays_requested_time_in_shaka: "shaka", false;
}

// ---------------------------------------------------------------- issue 19: a real client

/// Shaka Player's own MediaTailor integration (`initMediaTailor`, `requestMediaTailorStream`)
/// on a session of the demo: it POSTs the session, plays the manifest URL it gets, polls
/// the tracking URL and shows lineup's ads as ads: its ad events fire, and the beacons it
/// POSTs reach the ad server from the browser (the session asked client-side reporting,
/// so lineup fires none itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shaka_mediatailor_integration_sees_lineups_ads() {
    require_browser!();
    let demo = DemoProcess::start().await;
    demo.wait_for_dvr("dvr", 8.0, Duration::from_secs(60)).await;
    let browser = Browser::start(800, 600).await.expect("chromium");
    let init = demo.url("ads/v1/session/demo/demo/dvr/index.m3u8");
    let page = format!(
        "{}?player=shaka&mediatailor=1&src={}",
        demo.url("player.html"),
        url::form_urlencoded::byte_serialize(init.as_bytes()).collect::<String>()
    );
    browser.goto(&page).await.expect("open player page");
    let s = play_for(&browser, "check.state()", SSAI_PLAY_SECONDS, SLACK).await;
    assert_smooth("Shaka (MediaTailor) on an SSAI session", &s);
    // An ad seen from start to its first quartile: poll, the break may come late in the run.
    let seen = testkit::wait_for(SLACK, "Shaka's ad events", || {
        let browser = &browser;
        async move {
            let s = state(browser, "check.state()").await;
            (s.ads.get("ad-first-quartile").copied().unwrap_or(0.0) >= 1.0).then_some(s)
        }
    })
    .await;
    let s = seen.unwrap_or_else(|e| {
        panic!(
            "{e}: Shaka raised no ad through a break; demo log:\n{}",
            demo.log()
        )
    });
    eprintln!("Shaka MediaTailor: {:?}", s.ads);
    for event in [
        "ads-loaded",
        "ad-cue-points-changed",
        "ad-impression",
        "ad-started",
    ] {
        assert!(
            s.ads.get(event).copied().unwrap_or(0.0) >= 1.0,
            "{event}: {s:?}"
        );
    }
    assert!(
        s.ads.get("cuepoints").copied().unwrap_or(0.0) >= 1.0,
        "no cue points: {s:?}"
    );
    assert!(!s.ads.contains_key("ad-error"), "{s:?}");
    assert_smooth("Shaka (MediaTailor) through a break", &s);

    // The beacons: the ad server's sessions for this viewer (its ADS URL passes the SSAI
    // session id as uid) recorded start and firstQuartile from the browser, none from lineup.
    let manifest = s.manifest.clone().expect("the session's manifest URL");
    let id = manifest
        .rsplit_once("aws.sessionId=")
        .map(|(_, id)| id.split('&').next().unwrap_or(id).to_string())
        .expect("aws.sessionId in the manifest URL");
    let sessions: serde_json::Value = reqwest::get(demo.url("adserver/api/v1/sessions"))
        .await
        .expect("ad server sessions")
        .json()
        .await
        .expect("sessions JSON");
    let mut from_browser = Vec::new();
    for sess in sessions.as_array().expect("a list") {
        if sess["userId"].as_str() != Some(id.as_str()) {
            continue;
        }
        let sid = sess["sessionId"].as_str().expect("sessionId");
        let events: serde_json::Value =
            reqwest::get(demo.url(&format!("adserver/api/v1/sessions/{sid}/events")))
                .await
                .expect("events")
                .json()
                .await
                .expect("events JSON");
        for e in events["events"].as_array().cloned().unwrap_or_default() {
            let ua = e["userAgent"].as_str().unwrap_or_default().to_string();
            assert!(
                ua.contains("Chrome"),
                "a beacon not from the player (client-side reporting): {e}"
            );
            from_browser.push(e["type"].as_str().unwrap_or_default().to_string());
        }
    }
    for kind in ["start", "firstQuartile"] {
        assert!(
            from_browser.iter().any(|k| k == kind),
            "the ad server got no {kind} beacon from the player: {from_browser:?}"
        );
    }
}

/// Plays `playlist` (a path on the demo) on the player check page for `seconds`.
async fn check_player(demo: &DemoProcess, playlist: &str, player: &str, seconds: f64) -> PlayState {
    let browser = Browser::start(800, 600).await.expect("chromium");
    let src = demo.url(playlist);
    let page = format!(
        "{}?player={player}&src={}",
        demo.url("player.html"),
        url::form_urlencoded::byte_serialize(src.as_bytes()).collect::<String>()
    );
    browser.goto(&page).await.expect("open player page");
    let s = play_for(&browser, "check.state()", seconds, SLACK).await;
    eprintln!("{player} on {playlist}: {s:?}");
    s
}
