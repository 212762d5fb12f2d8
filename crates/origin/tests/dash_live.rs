//! DASH endpoints: the live MPD followed with the DASH checker (`dash::LiveTracker`) while
//! the window slides over many Period changes (VOD changes and SCTE-35 ad avails), a
//! start-over and a time-shifted MPD checked the same way, every MPD valid against the
//! DASH MPD schema (`xmllint --schema`), and every fragment an MPD names byte for byte the
//! CMAF HLS fragment at that media sequence.
//!
//! The channel runs 4x real time: the fixture pusher sends one 2 s segment every 500 ms
//! and the origin's clock is `clock::ScaledClock` at 4x, so programme date-times and the
//! origin's `publishTime` advance together.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::pusher::{FixturePusher, RENDITIONS};
use common::*;

const STEP: Duration = Duration::from_millis(500);

async fn dash_origin() -> (Running, ChannelViewAndClock) {
    let clock = Arc::new(clock::ScaledClock::new(4.0));
    let c2 = clock.clone();
    let r = start(move |c| {
        origin::Origin::with_parts(c, c2, Arc::new(origin::store::MemoryStore::new()), None)
    })
    .await;
    let view = create(
        &r,
        serde_json::json!({"id": "ch", "endpoints": [
            {"id": "cmaf", "packaging": "cmaf", "manifest_window_seconds": 12,
             "startover_window_seconds": 100},
            {"id": "dash", "packaging": "dash", "manifest_window_seconds": 12,
             "startover_window_seconds": 100,
             "dash": {"min_update_period_seconds": 1, "suggested_presentation_delay_seconds": 6}}
        ]}),
    )
    .await;
    (r, (view, clock))
}

type ChannelViewAndClock = (origin::ChannelView, Arc<clock::ScaledClock>);

/// `xmllint --schema` against the shipped DASH MPD schema: `Ok` or its complaint.
fn schema_check(mpd: &str) -> Result<(), String> {
    let Some(xmllint) = testkit::require("xmllint") else {
        return Ok(());
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("index.mpd");
    std::fs::write(&file, mpd).unwrap();
    let xsd = testkit::fixture("dash/schema/DASH-MPD.xsd");
    let out = std::process::Command::new(xmllint)
        .args(["--noout", "--schema"])
        .arg(&xsd)
        .arg(&file)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

async fn get(r: &Running, path: &str) -> (u16, String) {
    testkit::http::get_text(&r.http, format!("{}/{path}", r.base)).await
}

/// Fetch the MPD at `path`, run the tracker on it; the text and the problems.
async fn follow_once(
    r: &Running,
    path: &str,
    tracker: &mut dash::LiveTracker,
) -> (String, Vec<dash::Problem>) {
    let (status, text) = get(r, path).await;
    assert_eq!(status, 200, "{path}: {text}");
    let problems = tracker.update(&text);
    (text, problems)
}

fn period_ids(text: &str) -> Vec<String> {
    text.match_indices("<Period id=\"")
        .map(|(i, m)| {
            let rest = &text[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_start_over_and_time_shifted_mpds_follow_clean_across_periods_and_ads() {
    let (r, (view, clock)) = dash_origin().await;
    let t0 = chrono::DateTime::from_timestamp(
        (clock::Clock::now(clock.as_ref()) - chrono::Duration::seconds(4)).timestamp(),
        0,
    )
    .unwrap();
    let mut pusher = FixturePusher::new(&view, t0);
    // A 2-segment ad avail every 9 segments, besides the 4 VOD changes every 15.
    pusher.ad_breaks = Some((9, 2));
    pusher.push_master().await;
    for _ in 0..4 {
        pusher.step().await;
    }
    let mut live = dash::LiveTracker::new();
    let mut start_over = dash::LiveTracker::new();
    let start_over_path = format!(
        "out/ch/dash/index.mpd?start={}",
        pusher.start_of(6).timestamp()
    );
    let mut ids = BTreeSet::new();
    let (mut problems, mut ad_periods) = (Vec::new(), BTreeSet::new());
    for step in 0..44 {
        pusher.step().await;
        let (text, p) = follow_once(&r, "out/ch/dash/index.mpd", &mut live).await;
        problems.extend(p.into_iter().map(|p| format!("live: {p:?}")));
        for id in period_ids(&text) {
            if text.contains(&format!("<Period id=\"{id}\"")) && ids.insert(id.clone()) {
                let at = text.find(&format!("<Period id=\"{id}\"")).unwrap();
                let next = text[at + 1..]
                    .find("<Period")
                    .map_or(text.len(), |n| at + 1 + n);
                if text[at..next].contains("urn:scte:scte35:2013:xml") {
                    ad_periods.insert(id);
                }
            }
        }
        if step % 8 == 0 {
            schema_check(&text).unwrap_or_else(|e| panic!("live MPD invalid: {e}\n{text}"));
        }
        if step >= 4 {
            let (text, p) = follow_once(&r, &start_over_path, &mut start_over).await;
            problems.extend(p.into_iter().map(|p| format!("start-over: {p:?}")));
            if step % 10 == 0 {
                schema_check(&text)
                    .unwrap_or_else(|e| panic!("start-over MPD invalid: {e}\n{text}"));
            }
        }
        tokio::time::sleep(STEP).await;
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(live.updates >= 44 && start_over.updates >= 40);
    assert!(ids.len() >= 10, "period changes seen: {ids:?}");
    assert!(ad_periods.len() >= 3, "ad avail periods: {ad_periods:?}");

    // The time-shifted window: static, its Periods named as the live MPD named them.
    let (from, to) = (pusher.start_of(10), pusher.start_of(30));
    let path = format!(
        "out/ch/dash/index.mpd?start={}&end={}",
        from.timestamp(),
        to.timestamp()
    );
    let (status, shifted) = get(&r, &path).await;
    assert_eq!(status, 200, "{shifted}");
    assert!(shifted.contains("type=\"static\""), "{shifted}");
    let (snap, p) = dash::check_text(&shifted);
    assert!(p.is_empty(), "{p:#?}\n{shifted}");
    let snap = snap.unwrap();
    let shifted_ids = period_ids(&shifted);
    assert!(shifted_ids.len() >= 4, "{shifted}");
    assert!(
        shifted_ids.iter().all(|id| ids.contains(id)),
        "{shifted_ids:?} not all in {ids:?}"
    );
    let listed: u64 = snap
        .periods
        .iter()
        .map(|p| p.reps[0].segments.len() as u64)
        .sum();
    assert_eq!(listed, 20, "{shifted}");
    schema_check(&shifted).unwrap_or_else(|e| panic!("time-shifted MPD invalid: {e}\n{shifted}"));

    same_bytes_as_cmaf(&r, &shifted).await;
}

/// Every fragment and init segment `mpd` names is the CMAF endpoint's, byte for byte.
async fn same_bytes_as_cmaf(r: &Running, mpd: &str) {
    let snap = dash::check_text(mpd).0.unwrap();
    let mut compared = 0;
    for p in &snap.periods {
        for rep in &p.reps {
            let slug = rep.key.split('/').nth(1).unwrap();
            assert!(RENDITIONS.iter().any(|(n, _)| *n == slug), "{slug}");
            let init = rep.initialization.as_deref().unwrap();
            let mut paths = vec![init.to_string()];
            paths.extend(rep.segments.iter().map(|s| {
                rep.media
                    .as_deref()
                    .unwrap()
                    .replace("$Number$", &s.number.to_string())
            }));
            for path in paths {
                let dash =
                    testkit::http::get_bytes(&r.http, format!("{}/out/ch/dash/{path}", r.base))
                        .await
                        .unwrap_or_else(|| panic!("dash {path}"));
                let cmaf =
                    testkit::http::get_bytes(&r.http, format!("{}/out/ch/cmaf/{path}", r.base))
                        .await
                        .unwrap_or_else(|| panic!("cmaf {path}"));
                assert!(!dash.is_empty() && dash == cmaf, "{path} differs");
                compared += 1;
            }
        }
    }
    assert!(compared >= 40, "{compared}");
}

/// Issue 20 (DRM in DASH): encrypted `dash` endpoints (`aes_ctr`: cenc, `sample_aes`:
/// cbcs; keys the origin derives, rotating every 8 s, four segments): every AdaptationSet
/// signals the scheme with `cenc:default_KID` and the W3C common system with its `pssh`,
/// a new Period starts at each key rotation (so each Period has one key), the Periods'
/// init segments carry their key's KID, the fragments are the encrypted ones (not the
/// clear CMAF bytes), and the MPDs follow clean and pass the schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_mpds_signal_each_key_in_its_own_period() {
    let clock = Arc::new(clock::ScaledClock::new(4.0));
    let c2 = clock.clone();
    let r = start(move |c| {
        origin::Origin::with_parts(c, c2, Arc::new(origin::store::MemoryStore::new()), None)
    })
    .await;
    let view = create(
        &r,
        serde_json::json!({"id": "ch", "endpoints": [
            {"id": "cmaf", "packaging": "cmaf", "manifest_window_seconds": 30},
            {"id": "cenc", "packaging": "dash", "manifest_window_seconds": 30,
             "encryption": {"aes_ctr": {"key_rotation_interval_seconds": 8}}},
            {"id": "cbcs", "packaging": "dash", "manifest_window_seconds": 30,
             "encryption": {"sample_aes": {"key_rotation_interval_seconds": 8}}}
        ]}),
    )
    .await;
    // A DASH endpoint refuses AES-128 (400 naming the field).
    let resp = r
        .http
        .post(format!("{}/api/v1/channels/ch/endpoints", r.base))
        .json(&serde_json::json!({"id": "bad", "packaging": "dash",
            "encryption": {"aes128": {"key_rotation_seconds": 60}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["field"], "encryption", "{body}");

    let t0 = chrono::DateTime::from_timestamp(
        (clock::Clock::now(clock.as_ref()) - chrono::Duration::seconds(4)).timestamp(),
        0,
    )
    .unwrap();
    let mut pusher = FixturePusher::new(&view, t0);
    pusher.push_master().await;
    for _ in 0..4 {
        pusher.step().await;
    }
    let mut trackers = [dash::LiveTracker::new(), dash::LiveTracker::new()];
    let mut problems = Vec::new();
    let mut texts = [String::new(), String::new()];
    for _ in 0..24 {
        pusher.step().await;
        for ((ep, tracker), text) in ["cenc", "cbcs"].iter().zip(&mut trackers).zip(&mut texts) {
            let (t, p) = follow_once(&r, &format!("out/ch/{ep}/index.mpd"), tracker).await;
            problems.extend(p.into_iter().map(|p| format!("{ep}: {p:?}")));
            *text = t;
        }
        tokio::time::sleep(STEP).await;
    }
    assert!(problems.is_empty(), "{problems:#?}");
    for (ep, text) in ["cenc", "cbcs"].iter().zip(&texts) {
        schema_check(text).unwrap_or_else(|e| panic!("{ep} MPD invalid: {e}\n{text}"));
        check_protection(&r, ep, text).await;
    }
}

/// The ContentProtection of every Period of `mpd` (endpoint `ep`), and its init segments
/// and fragments.
async fn check_protection(r: &Running, ep: &str, mpd: &str) {
    let scheme = if ep == "cenc" { "cenc" } else { "cbcs" };
    let snap = dash::check_text(mpd).0.unwrap();
    let chunks: Vec<&str> = mpd.split("<Period ").skip(1).collect();
    assert_eq!(chunks.len(), snap.periods.len(), "{mpd}");
    let mut kids = BTreeSet::new();
    for (chunk, period) in chunks.iter().zip(&snap.periods) {
        let sets = chunk.matches("<AdaptationSet ").count();
        let marker = format!(
            "schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"{scheme}\" cenc:default_KID=\""
        );
        assert_eq!(chunk.matches(&marker).count(), sets, "{ep}: {chunk}");
        for system in [
            "schemeIdUri=\"urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b\"",
            "<cenc:pssh>",
        ] {
            assert_eq!(chunk.matches(system).count(), sets, "{ep}: {chunk}");
        }
        // One key per Period (video and audio share the derived one).
        let period_kids: BTreeSet<&str> = chunk.split(&marker).skip(1).map(|s| &s[..36]).collect();
        assert_eq!(period_kids.len(), 1, "{ep}: {chunk}");
        let kid = period_kids.into_iter().next().unwrap().to_string();
        let kid_bytes = hex::decode(kid.replace('-', "")).unwrap();
        // (A key may span Periods: VOD changes cut them too.)
        kids.insert(kid.clone());
        for rep in &period.reps {
            let init = rep.initialization.as_deref().unwrap();
            let bytes = testkit::http::get_bytes(&r.http, format!("{}/out/ch/{ep}/{init}", r.base))
                .await
                .unwrap_or_else(|| panic!("{ep} {init}"));
            assert!(
                bytes.windows(16).any(|w| w == kid_bytes.as_slice()),
                "{ep}: {init} does not carry the KID {kid}"
            );
            let seg = rep.segments.last().unwrap();
            let path = rep
                .media
                .as_deref()
                .unwrap()
                .replace("$Number$", &seg.number.to_string());
            let enc = testkit::http::get_bytes(&r.http, format!("{}/out/ch/{ep}/{path}", r.base))
                .await
                .unwrap_or_else(|| panic!("{ep} {path}"));
            let clear = testkit::http::get_bytes(&r.http, format!("{}/out/ch/cmaf/{path}", r.base))
                .await
                .unwrap_or_else(|| panic!("cmaf {path}"));
            assert!(
                enc != clear && enc.windows(4).any(|w| w == b"senc"),
                "{ep}: {path} is not encrypted"
            );
        }
    }
    // 30 s of window with a key every 8 s: at least three keys, so Periods at rotations.
    assert!(kids.len() >= 3, "{ep}: {kids:?}\n{mpd}");
}
