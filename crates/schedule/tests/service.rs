//! The catalog and schedule services over HTTP, on SQLite, with the bundled VODs served by
//! a real HTTP server: import, MRSS/Atom read by Python feedparser, auto-fill from the feed,
//! manual events (409), XMLTV validated by xmltv-util and xmllint, bad input, the client.

mod common;

use schedule::model::*;
use schedule::{ScheduleClient, Service, plan};
use serde_json::{Value, json};

const FEEDPARSER_CHECK: &str = r#"
import sys, json, feedparser
d = feedparser.parse(sys.argv[1])
assert not d.bozo, d.bozo_exception
out = {"version": d.version, "entries": []}
for e in d.entries:
    mc = (e.get("media_content") or [{}])[0]
    out["entries"].append({
        "id": e.get("id"), "title": e.get("title"),
        "link": next((l["href"] for l in e.get("links", []) if l.get("rel") == "alternate"), None),
        "media_url": mc.get("url"), "media_type": mc.get("type"),
        "medium": mc.get("medium"), "duration": mc.get("duration"),
        "tags": [t["term"] for t in e.get("tags", [])],
    })
print(json.dumps(out))
"#;

/// Eyevinn's schedule service reads `feed/entry/{id,title,link}` with `link` as text.
const EYEVINN_SHAPE: &str = r#"
import sys, json, urllib.request, xml.etree.ElementTree as ET
ns = {"a": "http://www.w3.org/2005/Atom"}
root = ET.fromstring(urllib.request.urlopen(sys.argv[1]).read())
assert root.tag == "{http://www.w3.org/2005/Atom}feed", root.tag
assert root.find("a:updated", ns) is not None
print(json.dumps([{"id": e.find("a:id", ns).text, "title": e.find("a:title", ns).text,
                   "link": e.find("a:link", ns).text} for e in root.findall("a:entry", ns)]))
"#;

async fn post(http: &reqwest::Client, url: &str, body: Value) -> reqwest::Response {
    http.post(url).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn catalog_feed_schedule_and_xmltv_end_to_end() {
    let py = testkit::require_peer!("python3:feedparser");
    let (vods, _h) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = schedule::Db::open(dir.path().join("lineup.db").to_str().unwrap())
        .await
        .unwrap();
    // A fake clock standing still, so that "now" is the instant every fill was made at.
    let t0 = chrono::Utc::now().timestamp_millis();
    let service = Service::with_db(db, clock::ManualClock::new(t0).shared());
    let base = common::serve(&service, None).await;
    let http = reqwest::Client::new();

    // Import the three VODs; their durations are what ffprobe reads from the playlists.
    let mut assets = Vec::new();
    for (i, n) in ["vod1", "vod2", "vod3"].iter().enumerate() {
        let url = format!("http://{vods}/ts/{n}/master.m3u8");
        let category = if i == 1 { "film" } else { "news" };
        let r = post(&http, &format!("{base}/catalog/api/v1/assets"),
            json!({"url": url, "category": category, "description": format!("test pattern {n} <&>")})).await;
        assert_eq!(r.status(), 201);
        let a: Asset = r.json().await.unwrap();
        assert_eq!(a.id, *n);
        assert_eq!(a.renditions.len(), 2, "{a:?}");
        if testkit::peer("ffprobe").is_some() {
            let media = format!("http://{vods}/ts/{n}/{}", a.renditions[0].uri);
            let probed = testkit::ffprobe_duration(&media).await;
            assert!(
                (a.duration - probed).abs() < 0.5,
                "{} vs ffprobe {probed}",
                a.duration
            );
        }
        assets.push(a);
    }
    // Importing the same URL again updates, not duplicates.
    let again = post(
        &http,
        &format!("{base}/catalog/api/v1/assets"),
        json!({"url": assets[0].url, "title": "Renamed"}),
    )
    .await;
    assert_eq!(again.status(), 201);
    let listed: Vec<Asset> = http
        .get(format!("{base}/catalog/api/v1/assets"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].title, "Renamed");
    assert_eq!(
        listed[0].category.as_deref(),
        Some("news"),
        "kept on re-import"
    );

    // MRSS read by feedparser.
    let mrss = format!("{base}/catalog/mrss/all.xml");
    let parsed: Value =
        serde_json::from_str(&common::python(&py, FEEDPARSER_CHECK, &mrss).await).unwrap();
    assert_eq!(parsed["version"], "rss20");
    let entries = parsed["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    for (e, a) in entries.iter().zip(&listed) {
        assert_eq!(e["id"], a.id.as_str());
        assert_eq!(e["title"], a.title.as_str());
        assert_eq!(e["media_url"], a.url.as_str());
        // MIME types are case-insensitive; feedparser lowercases them.
        assert_eq!(
            e["media_type"].as_str().unwrap().to_ascii_lowercase(),
            "application/x-mpegurl"
        );
        assert_eq!(e["medium"], "video");
        let d: f64 = e["duration"].as_str().unwrap().parse().unwrap();
        assert!((d - a.duration).abs() < 0.001);
        assert!(
            e["tags"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == a.category.as_deref().unwrap())
        );
    }
    let films: Value = serde_json::from_str(
        &common::python(
            &py,
            FEEDPARSER_CHECK,
            &format!("{base}/catalog/mrss/film.xml"),
        )
        .await,
    )
    .unwrap();
    assert_eq!(films["entries"].as_array().unwrap().len(), 1);
    // Atom: feedparser, and the shape Eyevinn's service reads.
    let atom = format!("{base}/catalog/mrss/all.atom");
    let parsed: Value =
        serde_json::from_str(&common::python(&py, FEEDPARSER_CHECK, &atom).await).unwrap();
    assert_eq!(parsed["version"], "atom10");
    assert_eq!(parsed["entries"][1]["link"], listed[1].url.as_str());
    let eyevinn: Value =
        serde_json::from_str(&common::python(&py, EYEVINN_SHAPE, &atom).await).unwrap();
    assert_eq!(
        eyevinn[2],
        json!({"id": "vod3", "title": "vod3", "link": listed[2].url})
    );

    // A channel filled from the Atom feed, 2 h ahead, with ad breaks.
    let r = post(
        &http,
        &format!("{base}/schedule/api/v1/channels"),
        json!({"id": "ch1", "title": "Channel <1>"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = post(
        &http,
        &format!("{base}/schedule/api/v1/auto/mrss"),
        json!({
            "url": atom, "channelId": "ch1",
            "config": {"horizonHours": 2, "adBreaks": {"every": 10, "duration": 4}}
        }),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    // Posting the channel again (Eyevinn clients do) keeps its auto-fill.
    let r = post(
        &http,
        &format!("{base}/schedule/api/v1/channels"),
        json!({"id": "ch1", "title": "Channel <1>"}),
    )
    .await;
    let again: Channel = r.json().await.unwrap();
    assert_eq!(again.auto.map(|a| a.url), Some(atom.clone()));
    let now = service.now();
    let events: Vec<ScheduleEvent> = http
        .get(format!("{base}/schedule/api/v1/channels/ch1/schedule"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    plan::check(&events).unwrap();
    assert!(plan::gaps(&events, events[0].start_time, now + 2 * 3_600_000).is_empty());
    for e in &events {
        let a = listed
            .iter()
            .find(|a| Some(&a.id) == e.asset_id.as_ref())
            .unwrap();
        assert_eq!(e.url, a.url);
        assert_eq!(e.start, iso(e.start_time));
        assert!(
            e.ad_breaks
                .iter()
                .all(|b| b.offset + b.duration <= e.duration)
        );
    }
    // The raw JSON keeps Eyevinn's field names.
    let raw: Value = http
        .get(format!(
            "{base}/schedule/api/v1/channels/ch1/schedule?start={}&end={}",
            iso(now),
            iso(now + 60_000)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in [
        "id",
        "channelId",
        "title",
        "start_time",
        "end_time",
        "start",
        "end",
        "url",
        "duration",
        "type",
    ] {
        assert!(raw[0].get(key).is_some(), "{key} missing in {}", raw[0]);
    }
    assert_eq!(raw[0]["type"], "VOD");

    // A manual LIVE event reflows; an overlapping manual event is 409.
    let live_start = now + 5 * 60_000;
    let r = post(&http, &format!("{base}/schedule/api/v1/channels/ch1/schedule"), json!({
        "id": "match", "title": "Match", "type": "LIVE", "liveUrl": "http://127.0.0.1:1/live.m3u8",
        "start_time": live_start, "duration": 300
    })).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let r = post(&http, &format!("{base}/schedule/api/v1/channels/ch1/schedule"), json!({
        "title": "Other", "url": listed[0].url, "start": iso(live_start + 60_000), "end": iso(live_start + 600_000)
    })).await;
    assert_eq!(r.status(), 409);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("match"), "{body}");
    let client = ScheduleClient::http(format!("{base}/schedule"), None);
    let over_http = client
        .events_between("ch1", now, now + 3_600_000)
        .await
        .unwrap();
    let in_process = ScheduleClient::in_process(service.clone())
        .events_between("ch1", now, now + 3_600_000)
        .await
        .unwrap();
    assert_eq!(over_http, in_process);
    plan::check(&over_http).unwrap();
    assert!(
        over_http
            .iter()
            .any(|e| e.id == "match" && e.kind == EventType::Live)
    );
    assert!(over_http.iter().any(|e| e.end_time == live_start));
    assert!(plan::gaps(&over_http, over_http[0].start_time, now + 3_600_000).is_empty());
    // Deleting it reflows again.
    let r = http
        .delete(format!(
            "{base}/schedule/api/v1/channels/ch1/schedule/match"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let after = client
        .events_between("ch1", now, now + 3_600_000)
        .await
        .unwrap();
    assert!(after.iter().all(|e| e.id != "match"));
    assert!(plan::gaps(&after, after[0].start_time, now + 3_600_000).is_empty());

    // XMLTV, validated by xmltv-util and by xmllint against the DTD.
    let (status, xml) =
        testkit::http::get_text(&http, format!("{base}/schedule/api/v1/xmltv")).await;
    assert_eq!(status, 200);
    assert!(xml.contains("Channel &lt;1&gt;"));
    validate_xmltv(&xml, dir.path());
    let (status, one) =
        testkit::http::get_text(&http, format!("{base}/schedule/api/v1/channels/ch1/xmltv")).await;
    assert_eq!(status, 200);
    validate_xmltv(&one, dir.path());
}

fn validate_xmltv(xml: &str, dir: &std::path::Path) {
    let file = dir.join("tv.xml");
    std::fs::write(&file, xml).unwrap();
    let mut validated = 0;
    if let Some(tv) = testkit::require("tv_validate_file") {
        // The DTD from the package, never from supplement.xmltv.org.
        let out = std::process::Command::new(tv)
            .env("XMLTV_SUPPLEMENT", "/usr/share/xmltv")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tv_validate_file: {}{}\n{xml}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        validated += 1;
    }
    if let Some(xmllint) = testkit::require("xmllint") {
        let dtd = [
            "/usr/share/xmltv/xmltv.dtd",
            "/usr/share/sgml/xmltv/dtd/0.5/xmltv.dtd",
        ]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
        if let Some(dtd) = dtd {
            let out = std::process::Command::new(xmllint)
                .args(["--noout", "--dtdvalid", dtd])
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "xmllint: {}\n{xml}",
                String::from_utf8_lossy(&out.stderr)
            );
            validated += 1;
        }
    }
    if validated == 0 {
        eprintln!("SKIP: no XMLTV validator");
    }
}

#[tokio::test]
async fn bad_input_is_a_4xx_naming_the_field() {
    let service = Service::open(":memory:").await.unwrap();
    let base = common::serve(&service, None).await;
    let http = reqwest::Client::new();
    let assets = format!("{base}/catalog/api/v1/assets");
    let cases = [
        (json!({"url": "ftp://example/x.m3u8"}), 400, "url"),
        (json!({"url": "not a url"}), 400, "url"),
        (json!({"url": 5}), 400, "url"),
        (
            json!({"url": "http://127.0.0.1:1/x.m3u8", "id": "../x", "duration": 5}),
            400,
            "id",
        ),
        (json!({"title": "no url"}), 400, "url"),
    ];
    for (body, status, field) in cases {
        let r = post(&http, &assets, body.clone()).await;
        testkit::http::assert_api_error(r, status, field, &body.to_string()).await;
    }
    // A VOD that cannot be read names the URL.
    let r = post(
        &http,
        &assets,
        json!({"url": "http://127.0.0.1:9/none.m3u8"}),
    )
    .await;
    testkit::http::assert_api_error(r, 400, "url", "unreachable").await;
    let r = http
        .get(format!("{base}/catalog/mrss/all.json"))
        .send()
        .await
        .unwrap();
    testkit::http::assert_api_error(r, 400, "file", "feed suffix").await;

    let channels = format!("{base}/schedule/api/v1/channels");
    testkit::http::assert_api_error(
        post(&http, &channels, json!({"id": "a b"})).await,
        400,
        "id",
        "id",
    )
    .await;
    assert_eq!(
        post(&http, &channels, json!({"id": "c"})).await.status(),
        200
    );
    let sched = format!("{base}/schedule/api/v1/channels/c/schedule");
    let now = service.now();
    let cases = [
        (json!({"url": "http://h/x.m3u8"}), "start_time"),
        (
            json!({"url": "http://h/x.m3u8", "start_time": now + 1000}),
            "end_time",
        ),
        (
            json!({"url": "http://h/x.m3u8", "start_time": now - 100_000, "duration": 10}),
            "start_time",
        ),
        (
            json!({"url": "http://h/x.m3u8", "start": "yesterday", "duration": 10}),
            "start_time",
        ),
        (
            json!({"type": "LIVE", "start_time": now + 1000, "duration": 10}),
            "liveUrl",
        ),
        (
            json!({"type": "SOMETIMES", "start_time": now + 1000, "duration": 10}),
            "type",
        ),
        (
            json!({"url": "http://h/x.m3u8", "start_time": now + 1000, "duration": 10,
                "adBreaks": [{"offset": 8, "duration": 5}]}),
            "adBreaks[0]",
        ),
    ];
    for (body, field) in cases {
        let r = post(&http, &sched, body.clone()).await;
        testkit::http::assert_api_error(r, 400, field, &body.to_string()).await;
    }
    let r = http
        .get(format!("{sched}?date=2026-13-01"))
        .send()
        .await
        .unwrap();
    testkit::http::assert_api_error(r, 400, "date", "date").await;
    let r = http
        .get(format!(
            "{sched}?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z"
        ))
        .send()
        .await
        .unwrap();
    testkit::http::assert_api_error(r, 400, "end", "range").await;
    let r = http
        .get(format!("{channels}/nope/schedule"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = post(
        &http,
        &format!("{base}/schedule/api/v1/auto/mrss"),
        json!({"url": "http://127.0.0.1:9/f.xml", "channelId": "nope"}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let r = post(&http, &format!("{base}/schedule/api/v1/auto/mrss"), json!({"url": "http://127.0.0.1:9/f.xml", "channelId": "c", "config": {"horizonHours": -1}})).await;
    testkit::http::assert_api_error(r, 400, "config.horizonHours", "horizon").await;
    let r = http.delete(format!("{sched}/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn the_token_guards_the_json_apis_and_the_docs_list_every_route() {
    let service = Service::open(":memory:").await.unwrap();
    let base = common::serve(&service, Some("s3cret")).await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{base}/schedule/api/v1/channels"))
        .send()
        .await
        .unwrap();
    testkit::http::assert_api_error(r, 401, "authorization", "no token").await;
    let r = http
        .get(format!("{base}/schedule/api/v1/channels"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Feeds and XMLTV are for players and EPG readers: public.
    assert_eq!(
        http.get(format!("{base}/catalog/mrss/all.xml"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{base}/schedule/api/v1/xmltv"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http.get(format!("{base}/schedule/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let docs = |svc: &str| {
        let url = format!("{base}/{svc}/api/docs/openapi.json");
        let http = http.clone();
        async move { testkit::http::get_json(&http, url).await }
    };
    let expect = |doc: &Value, routes: &[(&str, &str)]| {
        for (method, path) in routes {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} not in the docs"
            );
        }
    };
    expect(
        &docs("catalog").await,
        &[
            ("get", "/api/v1/assets"),
            ("post", "/api/v1/assets"),
            ("get", "/api/v1/assets/{id}"),
            ("put", "/api/v1/assets/{id}"),
            ("delete", "/api/v1/assets/{id}"),
            ("get", "/mrss/{file}"),
            ("get", "/mrss/stitched/{file}"),
        ],
    );
    expect(
        &docs("schedule").await,
        &[
            ("get", "/api/v1/channels"),
            ("post", "/api/v1/channels"),
            ("get", "/api/v1/channels/{id}"),
            ("delete", "/api/v1/channels/{id}"),
            ("get", "/api/v1/channels/{id}/schedule"),
            ("post", "/api/v1/channels/{id}/schedule"),
            ("delete", "/api/v1/channels/{id}/schedule/{event}"),
            ("post", "/api/v1/auto/mrss"),
            ("get", "/api/v1/auto/mrss"),
            ("get", "/api/v1/channels/{id}/xmltv"),
            ("get", "/api/v1/xmltv"),
        ],
    );
}

#[tokio::test]
async fn a_restarted_service_keeps_filling_from_the_stored_programmes() {
    let (vods, _h) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lineup.db");
    let programmes: Vec<Programme>;
    {
        let service = Service::open(db.to_str().unwrap()).await.unwrap();
        for n in ["vod1", "vod2"] {
            service
                .import(schedule::NewAsset {
                    url: format!("http://{vods}/ts/{n}/master.m3u8"),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let base = common::serve(&service, None).await;
        service
            .put_channel(Channel {
                id: "c".into(),
                tenant: String::new(),
                title: "C".into(),
                auto: None,
            })
            .await
            .unwrap();
        let c = service
            .set_auto_mrss(schedule::AutoMrss {
                url: format!("{base}/catalog/mrss/all.xml"),
                channel_id: "c".into(),
                config: FillConfig {
                    horizon_hours: 0.5,
                    ..Default::default()
                },
                id: None,
                tenant: None,
            })
            .await
            .unwrap();
        programmes = c.auto.unwrap().programmes;
        assert_eq!(programmes.len(), 2);
    }
    // The feed's server is gone; a new process on the same file fills a later horizon.
    // A fake clock an hour later, standing still.
    let later = chrono::Utc::now().timestamp_millis() + 3_600_000;
    let db2 = schedule::Db::open(db.to_str().unwrap()).await.unwrap();
    let service = Service::with_db(db2, clock::ManualClock::new(later).shared());
    service.tick(false).await;
    let now = service.now();
    let events = service
        .events_between("c", now, now + 1_800_000)
        .await
        .unwrap();
    plan::check(&events).unwrap();
    assert!(plan::gaps(&events, now, now + 1_800_000).is_empty());
}

/// Auto-fill policies out of range are refused by field, before the feed is read: an AD
/// event of 1e300 s overflowed the planner's clock, a break every 1e-300 s never ended.
#[tokio::test]
async fn auto_fill_policies_out_of_range_are_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::open(dir.path().join("s.db").to_str().unwrap())
        .await
        .unwrap();
    service
        .put_channel(Channel {
            id: "c".into(),
            tenant: String::new(),
            title: "C".into(),
            auto: None,
        })
        .await
        .unwrap();
    let bad = [
        (
            FillConfig {
                ad_events: Some(AdEventPolicy {
                    every: 1,
                    duration: 1e300,
                }),
                ..Default::default()
            },
            "config.adEvents.duration",
        ),
        (
            FillConfig {
                ad_breaks: Some(AdBreakPolicy {
                    every: 1e-300,
                    duration: 10.0,
                }),
                ..Default::default()
            },
            "config.adBreaks.every",
        ),
        (
            FillConfig {
                ad_breaks: Some(AdBreakPolicy {
                    every: 600.0,
                    duration: 1e300,
                }),
                ..Default::default()
            },
            "config.adBreaks.duration",
        ),
    ];
    for (config, field) in bad {
        let err = service
            .set_auto_mrss(schedule::AutoMrss {
                url: "http://127.0.0.1:1/feed.xml".into(),
                channel_id: "c".into(),
                config,
                id: None,
                tenant: None,
            })
            .await
            .unwrap_err();
        match err {
            schedule::Error::Field { field: f, .. } => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

/// Extreme instants and durations in a new event are refused by field, not a panic (an
/// overflow in the handler): `start_time` at the edge of i64, a duration of 1e300 s.
#[tokio::test]
async fn events_at_extreme_times_are_refused_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::open(dir.path().join("s.db").to_str().unwrap())
        .await
        .unwrap();
    service
        .put_channel(Channel {
            id: "c".into(),
            tenant: String::new(),
            title: "C".into(),
            auto: None,
        })
        .await
        .unwrap();
    let now = chrono::Utc::now().timestamp_millis();
    let cases = [
        (
            schedule::NewEvent {
                start_time: Some(Millis::MIN),
                end_time: Some(Millis::MAX),
                ad_breaks: vec![AdBreak {
                    offset: 1.0,
                    duration: 1.0,
                }],
                ..Default::default()
            },
            "start_time",
        ),
        (
            schedule::NewEvent {
                start_time: Some(now + 60_000),
                duration: Some(1e300),
                ..Default::default()
            },
            "duration",
        ),
        (
            schedule::NewEvent {
                start_time: Some(now + 60_000),
                end_time: Some(Millis::MAX),
                ..Default::default()
            },
            "end_time",
        ),
    ];
    for (mut new, field) in cases {
        new.url = "http://127.0.0.1:1/v/master.m3u8".into();
        match service.add_event("c", new).await {
            Err(schedule::Error::Field { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}
