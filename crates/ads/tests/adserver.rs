//! The test ad server: VAST 2/3/4 and VMAP checked by independent parsers (Python's
//! `xml.etree` for structure, `vastlint` for the IAB VAST rules; no VAST XSD ships in a
//! package registry we can reach), deterministic answers, tracking, bad input.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use ads::adserver::catalog::{self, PodRequest};
use common::*;

/// Checks one VAST document with Python's XML parser and vastlint; prints a JSON summary:
/// version, per ad: adId (creative), duration seconds, media URL + type, tracking events,
/// impressions; and vastlint's error count.
const CHECK_VAST: &str = r#"
import sys, json, xml.etree.ElementTree as ET
text = sys.stdin.read()
root = ET.fromstring(text)
assert root.tag == 'VAST', root.tag
def secs(s):
    h, m, x = s.strip().split(':')
    return int(h) * 3600 + int(m) * 60 + float(x)
ads = []
for ad in root.findall('Ad'):
    inline = ad.find('InLine')
    assert inline is not None
    assert inline.find('AdSystem') is not None and inline.find('AdTitle') is not None
    imps = [i.text.strip() for i in inline.findall('Impression')]
    for c in inline.find('Creatives').findall('Creative'):
        lin = c.find('Linear')
        mf = lin.find('MediaFiles').find('MediaFile')
        ads.append({
            'adId': c.get('adId'),
            'duration': secs(lin.find('Duration').text),
            'media': mf.text.strip(), 'type': mf.get('type'), 'delivery': mf.get('delivery'),
            'events': [t.get('event') for t in lin.find('TrackingEvents').findall('Tracking')],
            'tracking': [t.text.strip() for t in lin.find('TrackingEvents').findall('Tracking')],
            'impressions': imps,
            'universal': [u.text for u in c.findall('UniversalAdId')],
        })
errors = None
try:
    import vastlint
    r = vastlint.validate(text)
    errors = [i.message for i in r.issues if i.severity == 'error']
except ImportError:
    pass
print(json.dumps({'version': root.get('version'), 'ads': ads, 'lint_errors': errors}))
"#;

fn python_check(xml: &str) -> serde_json::Value {
    let mut child = Command::new("python3")
        .args(["-c", CHECK_VAST])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python rejected the VAST: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn vast_versions_pass_independent_parsers() {
    if testkit::require("python3:vastlint").is_none() {
        return;
    }
    let fx = "http://127.0.0.1:9/fixtures";
    let (server, base) = ad_server(fx).await;
    let cat = catalog::default_catalog(fx);
    for (v, version) in [("2", "2.0"), ("3", "3.0"), ("4", "4.0"), ("", "4.0")] {
        for dur in [8.0, 20.0, 30.0] {
            let uid = format!("u-{v}-{dur}");
            let (status, xml) =
                get_text(&format!("{base}/api/v1/vast?dur={dur}&uid={uid}&v={v}")).await;
            assert_eq!(status, 200, "{xml}");
            let r = python_check(&xml);
            assert_eq!(r["version"], version, "{xml}");
            assert_eq!(r["lint_errors"], serde_json::json!([]), "vastlint: {xml}");
            // The pod the seeded choice predicts, in order, filling without exceeding.
            let want = catalog::choose(
                &cat,
                PodRequest {
                    duration: dur,
                    ..Default::default()
                },
                SEED,
                &format!("{uid}/0/0"),
            );
            let ads = r["ads"].as_array().unwrap();
            assert_eq!(ads.len(), want.len(), "{xml}");
            let mut total = 0.0;
            for (ad, k) in ads.iter().zip(&want) {
                let c = &cat[*k];
                assert_eq!(ad["adId"], c.id.as_str());
                assert_eq!(ad["media"], c.url.as_str());
                assert_eq!(ad["type"], "application/x-mpegURL");
                assert_eq!(ad["delivery"], "streaming");
                assert_eq!(ad["duration"].as_f64().unwrap(), c.duration);
                assert_eq!(
                    ad["events"],
                    serde_json::json!([
                        "start",
                        "firstQuartile",
                        "midpoint",
                        "thirdQuartile",
                        "complete"
                    ])
                );
                assert_eq!(
                    ad["universal"].as_array().unwrap().is_empty(),
                    version != "4.0"
                );
                total += c.duration;
            }
            assert!(total <= dur);
            // The proxy's own VAST reader agrees with Python's.
            let parsed = ads::ssai::loader::parse_vast(&xml).unwrap();
            assert_eq!(parsed.len(), ads.len());
            for (p, a) in parsed.iter().zip(ads) {
                assert_eq!(p.media_url, a["media"].as_str().unwrap());
                assert_eq!(p.duration, a["duration"].as_f64().unwrap());
            }
            // Tracking: each URL is recorded once for its session.
            let imp = ads
                .first()
                .map(|a| a["impressions"][0].as_str().unwrap().to_string());
            if let Some(imp) = imp {
                let (s, _) = get_text(&imp).await;
                assert_eq!(s, 200);
                let start = ads[0]["tracking"][0].as_str().unwrap();
                assert_eq!(get_text(start).await.0, 200);
                let sid = imp
                    .split("/sessions/")
                    .nth(1)
                    .unwrap()
                    .split('/')
                    .next()
                    .unwrap();
                let events = get_json(&format!("{base}/api/v1/sessions/{sid}/events")).await;
                let kinds: Vec<&str> = events["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["type"].as_str().unwrap())
                    .collect();
                assert_eq!(kinds, ["vast:adImpression", "start"]);
                assert_eq!(server.events(sid).unwrap().len(), 2);
            }
        }
    }
}

#[tokio::test]
async fn vmap_has_a_vast_per_break() {
    testkit::require_peer!("python3");
    let (_s, base) = ad_server("http://127.0.0.1:9/f").await;
    let (status, xml) = get_text(&format!(
        "{base}/api/v1/vmap?dur=20&bp=30,60&prr=true&por=true&uid=x"
    ))
    .await;
    assert_eq!(status, 200);
    let script = r#"
import sys, json, xml.etree.ElementTree as ET
ns = {'vmap': 'http://www.iab.net/videoadvertising'}
root = ET.fromstring(sys.stdin.read())
out = []
for b in root.findall('vmap:AdBreak', ns):
    vast = b.find('vmap:AdSource/vmap:VASTAdData/VAST', ns)
    out.append([b.get('breakId'), b.get('timeOffset'), len(vast.findall('Ad'))])
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    let breaks: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = breaks.as_array().unwrap();
    assert_eq!(b.len(), 4, "{xml}");
    assert_eq!(b[0][0], "preroll.ad");
    assert_eq!(b[0][1], "start");
    assert_eq!(b[1][1], "00:00:30.000");
    assert_eq!(b[2][1], "00:01:00.000");
    assert_eq!(b[3][1], "end");
    assert!(b.iter().all(|x| x[2].as_u64().unwrap() >= 1), "{xml}");
}

#[tokio::test]
async fn deterministic_in_the_seed_and_bad_input_is_400() {
    let fx = "http://127.0.0.1:9/f";
    let (a, abase) = ad_server(fx).await;
    let (b, bbase) = ad_server(fx).await;
    for _ in 0..3 {
        for base in [&abase, &bbase] {
            let (s, _) = get_text(&format!("{base}/api/v1/vast?dur=30&uid=same")).await;
            assert_eq!(s, 200);
        }
    }
    let pods = |s: &ads::AdServer| s.sessions().into_iter().map(|s| s.ads).collect::<Vec<_>>();
    assert_eq!(pods(&a), pods(&b));
    let http = reqwest::Client::new();
    {
        let u = format!("{abase}/api/v1/vast?dur=abc");
        testkit::http::assert_api_error(http.get(&u).send().await.unwrap(), 400, "dur", &u).await;
    }
    {
        let u = format!("{abase}/api/v1/vast?dur=10&v=5");
        testkit::http::assert_api_error(http.get(&u).send().await.unwrap(), 400, "v", &u).await;
    }
    {
        let u = format!("{abase}/api/v1/vmap?bp=x");
        testkit::http::assert_api_error(http.get(&u).send().await.unwrap(), 400, "bp", &u).await;
    }
    {
        let u = format!("{abase}/api/v1/sessions/nope/events");
        testkit::http::assert_api_error(http.get(&u).send().await.unwrap(), 404, "id", &u).await;
    }
    {
        let u = format!("{abase}/api/v1/sessions/nope/tracking?progress=0");
        testkit::http::assert_api_error(http.get(&u).send().await.unwrap(), 404, "id", &u).await;
    }
    assert_eq!(get_text(&format!("{abase}/healthz")).await.0, 200);
    assert_eq!(
        get_text(&format!("{abase}/api/docs/openapi.json")).await.0,
        200
    );
}
