//! A live engine channel with ad breaks behind the SSAI proxy, with the seeded test ad
//! server: two viewers get their own ads, both follow clean (RFC 8216 oracle) across at
//! least two breaks and decode with ffmpeg, and the beacons the ad server recorded match
//! the ad segments each viewer fetched. With the ad server down, slow or answering
//! garbage, viewers get slate and still validate.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ads::ProxyConfig;
use ads::adserver::catalog::{self, PodRequest};
use common::*;
use serde_json::{Value, json};

const BREAK_SECS: f64 = 10.0;
const SPEED: f64 = 2.0;

/// Two viewer ids whose first pods differ (the ad server is deterministic in its seed).
fn distinct_viewers(fx: &str) -> (String, String) {
    let cat = catalog::default_catalog(fx);
    let pod = PodRequest {
        duration: BREAK_SECS,
        ..Default::default()
    };
    let first = |uid: &str| catalog::choose(&cat, pod, SEED, &format!("{uid}/0/0"));
    for i in 0..50 {
        for j in i + 1..50 {
            let (a, b) = (format!("viewer-{i}"), format!("viewer-{j}"));
            if first(&a) != first(&b) {
                return (a, b);
            }
        }
    }
    panic!("the catalog offers no two different pods")
}

/// The ad-server session id named by a beacon URL.
fn ads_session(url: &str) -> Option<String> {
    let rest = url.split("/api/v1/sessions/").nth(1)?;
    Some(rest.split('/').next()?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_viewers_own_ads_follow_decode_and_beacons_match() {
    testkit::require_peer!("ffmpeg");
    let (_fx_addr, fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let fx_base = fx.url("").trim_end_matches('/').to_string();
    let (ad_server, ads_base) = ad_server(&fx_base).await;
    let engine = engine_channel(&fx_base, BREAK_SECS, SPEED).await;
    let (_proxy, proxy) = proxy(ProxyConfig::default()).await;
    put_config(
        &proxy,
        "demo",
        json!({
            "VideoContentSourceUrl": format!("{engine}/channels"),
            "AdDecisionServerUrl": format!("{ads_base}/api/v1/vast?dur=[session.avail_duration_secs]&uid=[player_params.uid]"),
            "SlateAdUrl": format!("{fx_base}/ts/slate/master.m3u8"),
        }),
    )
    .await;
    let (va, vb) = distinct_viewers(&fx_base);
    let mut viewers = Vec::new();
    for uid in [&va, &vb] {
        let (master, tracking, id) =
            explicit_session(&proxy, "demo", "live/master.m3u8", json!({"uid": uid})).await;
        viewers.push((uid.clone(), master, tracking, id));
    }
    // Follow both and decode both, at the same time, for 44 s of media (at 2x: two
    // 8 s VODs + two 10 s breaks and more).
    let followers: Vec<_> = viewers.iter().map(|v| follow(&v.1)).collect();
    let decodes: Vec<_> = viewers
        .iter()
        .map(|v| {
            let url = v.1.clone();
            tokio::spawn(async move {
                // Segments alternate between the proxy (ad segments, redirected) and the
                // content host: ffmpeg logs each failed keep-alive reuse as an error.
                testkit::ffmpeg_decode(
                    &["-http_persistent", "0", "-i", &url, "-t", "44"],
                    Duration::from_secs(120),
                )
                .await
            })
        })
        .collect();
    // Wait until both viewers are past their second break.
    for v in &viewers {
        let info = format!("{proxy}/api/v1/sessions/{}", v.3);
        testkit::wait_until(Duration::from_secs(90), "two breaks per viewer", || {
            let info = info.clone();
            async move { get_json(&info).await["avails"].as_u64().unwrap_or(0) >= 3 }
        })
        .await
        .unwrap();
    }
    for d in decodes {
        d.await.unwrap().assert_clean("session through the proxy");
    }
    for f in followers {
        f.finish_after(10, Duration::from_secs(30))
            .await
            .assert_clean(10);
    }

    for (uid, master, tracking, id) in &viewers {
        // The playlists name ad segments through the proxy, slate and content directly.
        let (status, text) = get_text(master).await;
        assert_eq!(status, 200, "{text}");
        let doc = get_json(tracking).await;
        let avails = doc["avails"].as_array().cloned().unwrap_or_default();
        assert!(
            !avails.is_empty(),
            "{uid}: tracking shows the avails: {doc}"
        );
        let info = get_json(&format!("{proxy}/api/v1/sessions/{id}")).await;
        let fetched = info["fetched"].as_array().cloned().unwrap_or_default();
        assert!(
            !fetched.is_empty(),
            "{uid}: ffmpeg fetched ad segments: {info}"
        );
        // Expected beacons, from the segments fetched: impression and start on the first
        // fetch of an ad, a quartile once a fetched segment reaches it, complete with the
        // last segment.
        let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
        let mut reach: BTreeMap<(u64, String), (u64, bool)> = BTreeMap::new();
        for f in &fetched {
            let ad = f["adId"].as_str().unwrap().to_string();
            let avail = f["availIndex"].as_u64().unwrap();
            let seg = f["segment"].as_u64().unwrap();
            let e = reach.entry((avail, ad)).or_insert((0, false));
            e.0 = e.0.max(seg + 1);
        }
        // Segment counts and durations from the tracking document's ads (2 s segments).
        for ((avail, ad), (segs_reached, _)) in &reach {
            let a = avails
                .iter()
                .find(|a| a["availId"].as_str().and_then(|s| s.parse::<u64>().ok()) == Some(*avail))
                .and_then(|a| a["ads"].as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .find(|x| x["adId"] == ad.as_str())
                .unwrap_or(Value::Null);
            let dur = a["durationInSeconds"].as_f64().unwrap_or(0.0);
            if dur == 0.0 {
                continue; // the avail already left the tracking window
            }
            let reached = *segs_reached as f64 * 2.0;
            for (event, frac) in [
                ("impression", 0.0),
                ("start", 0.0),
                ("firstQuartile", 0.25),
                ("midpoint", 0.5),
                ("thirdQuartile", 0.75),
            ] {
                if dur * frac < reached {
                    expected.insert((format!("{avail}/{ad}"), event.to_string()));
                }
            }
            if reached >= dur - 0.01 {
                expected.insert((format!("{avail}/{ad}"), "complete".to_string()));
            }
        }
        let fired = info["beacons"].as_array().cloned().unwrap_or_default();
        let fired_set: BTreeSet<(String, String)> = fired
            .iter()
            .map(|b| {
                (
                    format!("{}/{}", b["availIndex"], b["adId"].as_str().unwrap()),
                    b["event"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        for e in &expected {
            assert!(
                fired_set.contains(e),
                "{uid}: beacon {e:?} not fired: {fired_set:?}"
            );
        }
        assert_eq!(
            fired.len(),
            fired_set.len(),
            "{uid}: a beacon fired twice: {fired:?}"
        );
        // What the ad server recorded: exactly the beacons fired, per its session.
        let mut by_session: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for b in &fired {
            let url = b["url"].as_str().unwrap();
            by_session
                .entry(ads_session(url).unwrap())
                .or_default()
                .push(b["event"].as_str().unwrap().to_string());
        }
        for (sid, events) in &by_session {
            let want = events.len();
            let sid2 = sid.clone();
            let server = ad_server.clone();
            testkit::wait_until(
                Duration::from_secs(15),
                "beacons at the ad server",
                move || {
                    let n = server.events(&sid2).map(|e| e.len()).unwrap_or(0);
                    async move { n >= want }
                },
            )
            .await
            .unwrap();
            let recorded = ad_server.events(sid).unwrap();
            let mut got: Vec<String> = recorded
                .iter()
                .map(|e| match e.kind.as_str() {
                    "vast:adImpression" => "impression".to_string(),
                    other => other.to_string(),
                })
                .collect();
            let mut want_sorted = events.clone();
            got.sort();
            want_sorted.sort();
            assert_eq!(got, want_sorted, "{uid}: ad server session {sid}");
        }
        // Each avail plays exactly the pod the ad server answered for it.
        for a in &avails {
            let ads: Vec<&Value> = a["ads"]
                .as_array()
                .map(|v| v.iter().collect())
                .unwrap_or_default();
            let Some(first) = ads.first() else { continue };
            let url = first["trackingEvents"][0]["beaconUrls"][0]
                .as_str()
                .unwrap_or("");
            let sid = ads_session(url).expect("beacon URL names the ad server session");
            let session = ad_server.session(&sid).expect("ad server session");
            let ids: Vec<String> = ads
                .iter()
                .map(|x| x["adId"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(ids, session.ads, "{uid}: avail {}", a["availId"]);
            assert_eq!(session.user_id.as_deref(), Some(uid.as_str()));
        }
    }
    // The seeded ad server gave the two viewers' first breaks different pods, as predicted.
    let cat = catalog::default_catalog(&fx_base);
    let pod = PodRequest {
        duration: BREAK_SECS,
        ..Default::default()
    };
    let mut firsts = Vec::new();
    for uid in [&va, &vb] {
        let mut mine: Vec<_> = ad_server
            .sessions()
            .into_iter()
            .filter(|s| s.user_id.as_deref() == Some(uid.as_str()))
            .collect();
        mine.sort_by(|a, b| a.created.cmp(&b.created));
        let first = mine.first().expect("the viewer asked for ads");
        let want: Vec<String> = catalog::choose(&cat, pod, SEED, &format!("{uid}/0/0"))
            .into_iter()
            .map(|k| cat[k].id.clone())
            .collect();
        assert_eq!(first.ads, want, "{uid}");
        firsts.push(first.ads.clone());
    }
    assert_ne!(firsts[0], firsts[1]);
}
