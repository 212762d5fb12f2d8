//! VAST as ad stacks send it, against a small local ad stack: a 3-level wrapper chain
//! (VAST 2.0, 3.0 and 4.0 wrappers) in front of a VAST 4 answer with a two-ad pod and a
//! standalone ad, each with one progressive `video/mp4` media file (Eyevinn
//! test-adserver's shape). Every level's impressions, errors and tracking reach each ad;
//! pods play by sequence before standalone ads; wrappers that fail fire the error URLs of
//! every level above with the IAB code: 301 (timeout), 302 (too deep, or a wrapper where
//! followAdditionalWrappers is false), 303 (no ad), 100 (not XML); a VMAP pre-roll is read.

use std::time::Duration;

use ads::vast::{ErrorCode, ResolveOptions, preroll, resolve};
use axum::{Router, extract::Path, extract::State, routing::get};

/// The error URL each level puts in its answer.
fn err(base: &str, level: &str) -> String {
    format!("{base}/err/{level}?code=[ERRORCODE]")
}

fn wrapper(version: &str, base: &str, level: &str, next: &str, attrs: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<VAST version="{version}"><Ad id="{level}"><Wrapper {attrs}>
<AdSystem>stack-{level}</AdSystem>
<VASTAdTagURI><![CDATA[{base}/{next}]]></VASTAdTagURI>
<Error><![CDATA[{e}]]></Error>
<Impression><![CDATA[{base}/imp/{level}]]></Impression>
<Creatives><Creative><Linear><TrackingEvents>
<Tracking event="start"><![CDATA[{base}/t/{level}/start]]></Tracking>
<Tracking event="firstQuartile"><![CDATA[{base}/t/{level}/q1]]></Tracking>
<Tracking event="midpoint"><![CDATA[{base}/t/{level}/mid]]></Tracking>
<Tracking event="thirdQuartile"><![CDATA[{base}/t/{level}/q3]]></Tracking>
<Tracking event="complete"><![CDATA[{base}/t/{level}/done]]></Tracking>
</TrackingEvents></Linear></Creative></Creatives>
</Wrapper></Ad></VAST>"#,
        e = err(base, level)
    )
}

fn inline_ad(base: &str, id: &str, seq: Option<u32>) -> String {
    let seq = seq
        .map(|s| format!(" sequence=\"{s}\""))
        .unwrap_or_default();
    format!(
        r#"<Ad id="{id}"{seq}><InLine>
<AdSystem version="1.0">Test Adserver</AdSystem><AdTitle>{id}</AdTitle>
<AdServingId>{id}-serving</AdServingId>
<Error><![CDATA[{e}]]></Error>
<Impression id="i-{id}"><![CDATA[{base}/imp/{id}]]></Impression>
<Creatives><Creative id="c-{id}" adId="{id}"><UniversalAdId idRegistry="test">{id}</UniversalAdId><Linear>
<Duration>00:00:10</Duration>
<TrackingEvents>
<Tracking event="start"><![CDATA[{base}/t/{id}/start]]></Tracking>
<Tracking event="firstQuartile"><![CDATA[{base}/t/{id}/q1]]></Tracking>
<Tracking event="midpoint"><![CDATA[{base}/t/{id}/mid]]></Tracking>
<Tracking event="thirdQuartile"><![CDATA[{base}/t/{id}/q3]]></Tracking>
<Tracking event="complete"><![CDATA[{base}/t/{id}/done]]></Tracking>
</TrackingEvents>
<MediaFiles><MediaFile delivery="progressive" type="video/mp4" width="1280" height="720" bitrate="2000" codec="H.264"><![CDATA[{base}/media/{id}.mp4]]></MediaFile></MediaFiles>
</Linear></Creative></Creatives>
</InLine></Ad>"#,
        e = err(base, id)
    )
}

async fn answer(State(base): State<String>, Path(name): Path<String>) -> String {
    let inline = || {
        format!(
            "<VAST version=\"4.0\">{}{}{}</VAST>",
            inline_ad(&base, "standalone", None),
            inline_ad(&base, "pod2", Some(2)),
            inline_ad(&base, "pod1", Some(1)),
        )
    };
    match name.as_str() {
        "l1" => wrapper("2.0", &base, "l1", "vast/l2", ""),
        "l2" => wrapper("3.0", &base, "l2", "vast/l3", ""),
        "l3" => wrapper(
            "4.0",
            &base,
            "l3",
            "vast/inline",
            "allowMultipleAds=\"true\"",
        ),
        "inline" => inline(),
        // One ad only through a VAST 4 wrapper that does not allow several.
        "single" => wrapper("4.0", &base, "single", "vast/inline", ""),
        // Six wrappers deep: beyond the limit of five.
        n if n.starts_with("deep") => {
            let k: u32 = n[4..].parse().unwrap();
            wrapper("3.0", &base, n, &format!("vast/deep{}", k + 1), "")
        }
        "to-slow" => wrapper("3.0", &base, "to-slow", "slow", ""),
        "to-empty" => wrapper("3.0", &base, "to-empty", "vast/empty", ""),
        "empty" => format!(
            "<VAST version=\"3.0\"><Error><![CDATA[{}]]></Error></VAST>",
            err(&base, "empty")
        ),
        "to-junk" => wrapper("3.0", &base, "to-junk", "junk", ""),
        "no-follow" => wrapper(
            "4.0",
            &base,
            "no-follow",
            "vast/l3",
            "followAdditionalWrappers=\"false\"",
        ),
        "vmap" => format!(
            r#"<vmap:VMAP xmlns:vmap="http://www.iab.net/videoadvertising" version="1.0">
<vmap:AdBreak timeOffset="start" breakType="linear" breakId="preroll">
<vmap:AdSource id="pre" allowMultipleAds="true" followRedirects="true"><vmap:AdTagURI templateType="vast3"><![CDATA[{base}/vast/l2]]></vmap:AdTagURI></vmap:AdSource>
<vmap:TrackingEvents><vmap:Tracking event="breakStart"><![CDATA[{base}/t/break/start]]></vmap:Tracking></vmap:TrackingEvents>
</vmap:AdBreak>
<vmap:AdBreak timeOffset="00:05:00.000" breakType="linear" breakId="mid">
<vmap:AdSource id="mid"><vmap:AdTagURI><![CDATA[{base}/vast/inline]]></vmap:AdTagURI></vmap:AdSource>
</vmap:AdBreak></vmap:VMAP>"#
        ),
        _ => "<VAST version=\"4.0\"/>".into(),
    }
}

async fn stack() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/vast/{name}", get(answer))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "<VAST version=\"3.0\"/>"
            }),
        )
        .route("/junk", get(|| async { "<html>this is not VAST</html>" }))
        .with_state(base.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    base
}

fn opts() -> ResolveOptions {
    ResolveOptions {
        timeout: Duration::from_millis(800),
        ..Default::default()
    }
}

#[tokio::test]
async fn three_wrapper_levels_merge_into_each_ad_of_the_pod() {
    let base = stack().await;
    let http = reqwest::Client::new();
    let r = resolve(&http, &format!("{base}/vast/l1"), opts())
        .await
        .unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let ids: Vec<&str> = r.ads.iter().map(|a| a.ad_id.as_str()).collect();
    assert_eq!(
        ids,
        ["pod1", "pod2", "standalone"],
        "pod by sequence, then standalone"
    );
    for ad in &r.ads {
        assert_eq!(ad.wrapper_depth, 3);
        assert_eq!(ad.duration, 10.0);
        let m = ad.mezzanine().expect("an MP4 to condition");
        assert_eq!(m.url, format!("{base}/media/{}.mp4", ad.ad_id));
        assert!(ad.hls().is_none());
        let mut imps = ad.beacon_urls("impression");
        imps.sort();
        let mut want = vec![
            format!("{base}/imp/{}", ad.ad_id),
            format!("{base}/imp/l1"),
            format!("{base}/imp/l2"),
            format!("{base}/imp/l3"),
        ];
        want.sort();
        assert_eq!(imps, want, "{}", ad.ad_id);
        for q in ["start", "q1", "mid", "q3", "done"] {
            let event = match q {
                "q1" => "firstQuartile",
                "mid" => "midpoint",
                "q3" => "thirdQuartile",
                "done" => "complete",
                other => other,
            };
            let urls = ad.beacon_urls(event);
            for level in [ad.ad_id.as_str(), "l1", "l2", "l3"] {
                assert!(
                    urls.contains(&format!("{base}/t/{level}/{q}").as_str()),
                    "{} {event}: {urls:?}",
                    ad.ad_id
                );
            }
        }
        let errors = ad.error_urls(ErrorCode::NoSupportedMedia);
        assert_eq!(errors.len(), 4);
        assert!(
            errors.iter().all(|e| e.ends_with("?code=403")),
            "{errors:?}"
        );
    }
    // A VAST 4 wrapper without allowMultipleAds passes one ad on.
    let one = resolve(&http, &format!("{base}/vast/single"), opts())
        .await
        .unwrap();
    assert_eq!(one.ads.len(), 1);
    assert_eq!(one.ads[0].ad_id, "standalone");
}

#[tokio::test]
async fn failing_wrappers_fire_their_chains_errors_with_iab_codes() {
    let base = stack().await;
    let http = reqwest::Client::new();
    let errors_of = |name: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r = resolve(&http, &format!("{base}/vast/{name}"), opts())
                .await
                .unwrap();
            assert!(r.ads.is_empty(), "{name}: {:?}", r.ads);
            let mut e = r.errors;
            e.sort();
            e
        }
    };
    // Six levels: the five wrappers above the sixth fire 302 (and the sixth's own).
    let deep = errors_of("deep1").await;
    let want: Vec<String> = (1..=6)
        .map(|k| format!("{base}/err/deep{k}?code=302"))
        .collect();
    assert_eq!(deep, want);
    assert_eq!(
        errors_of("to-slow").await,
        [format!("{base}/err/to-slow?code=301")]
    );
    assert_eq!(
        errors_of("to-empty").await,
        [
            format!("{base}/err/empty?code=303"),
            format!("{base}/err/to-empty?code=303")
        ]
    );
    assert_eq!(
        errors_of("to-junk").await,
        [format!("{base}/err/to-junk?code=100")]
    );
    assert_eq!(
        errors_of("no-follow").await,
        [format!("{base}/err/no-follow?code=302")]
    );
    // An empty top-level answer is no ad, not an error of the request.
    let r = resolve(&http, &format!("{base}/vast/empty"), opts())
        .await
        .unwrap();
    assert_eq!(r.errors, [format!("{base}/err/empty?code=303")]);
    // A top-level answer that is not VAST, or no answer, is the request's error.
    assert!(
        resolve(&http, &format!("{base}/junk"), opts())
            .await
            .is_err()
    );
    assert!(
        resolve(&http, &format!("{base}/slow"), opts())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn vmap_preroll_follows_its_ad_tag() {
    let base = stack().await;
    let http = reqwest::Client::new();
    let r = preroll(&http, &format!("{base}/vast/vmap"), opts())
        .await
        .unwrap();
    let ids: Vec<&str> = r.ads.iter().map(|a| a.ad_id.as_str()).collect();
    assert_eq!(ids, ["pod1", "pod2", "standalone"]);
    assert!(r.ads.iter().all(|a| a.wrapper_depth == 2));
    assert_eq!(
        r.break_beacons,
        [("breakStart".to_string(), format!("{base}/t/break/start"))]
    );
    // A plain VAST answer works as a pre-roll too.
    let plain = preroll(&http, &format!("{base}/vast/inline"), opts())
        .await
        .unwrap();
    assert_eq!(plain.ads.len(), 3);
}
