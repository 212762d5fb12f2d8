//! House ads and the stitched feed, end to end over real HTTP: the bundled VODs served by a
//! file server, the catalog with house ads, its stitched MRSS feed read by Python
//! `feedparser` and by `feed-rs`, and one stitched item followed through a real stitch
//! service and checked with the `hls` validator (breaks marked, total = content + ads).

mod common;

use std::sync::Arc;
use std::time::Duration;

use hls::validate::{Severity, check_text};
use hls::{Marker, Playlist};
use schedule::Service;
use schedule::model::Asset;
use schedule::stitched::StitchFeed;
use serde_json::{Value, json};

const FEEDPARSER_CHECK: &str = r#"
import sys, json, feedparser
d = feedparser.parse(sys.argv[1])
assert not d.bozo, d.bozo_exception
out = {"version": d.version, "entries": []}
for e in d.entries:
    mc = (e.get("media_content") or [{}])[0]
    out["entries"].append({"id": e.get("id"), "title": e.get("title"),
        "media_url": mc.get("url"), "duration": mc.get("duration"), "medium": mc.get("medium")})
print(json.dumps(out))
"#;

struct Env {
    base: String,
    stitch: String,
    vods: std::net::SocketAddr,
    http: reqwest::Client,
    _fixtures: testkit::ServeHandle,
    _dir: tempfile::TempDir,
}

/// Fixtures, a stitch service, and a catalog whose stitched feed points at it (a mid-roll
/// every 4 s) nested at `/catalog`; a second catalog on the same data without a stitch
/// service at `/plain`.
async fn start() -> Env {
    let (vods, fixtures) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let source = stitch::HttpSource::new(
        Duration::from_secs(60),
        Duration::from_secs(5),
        clock::system(),
    );
    let stitcher = stitch::Stitcher::new(Arc::new(source), None, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stitch_base = format!("http://{}/stitch", listener.local_addr().unwrap());
    let app = axum::Router::new().nest("/stitch", stitcher.router());
    tokio::spawn(web::serve_until(listener, app, std::future::pending()));

    let dir = tempfile::tempdir().unwrap();
    let db = schedule::Db::open(dir.path().join("lineup.db").to_str().unwrap())
        .await
        .unwrap();
    let service = Service::with_db(db, clock::system());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let feed = StitchFeed::new(&stitch_base, 4.0).unwrap();
    let app = axum::Router::new()
        .nest(
            "/catalog",
            schedule::catalog_api::router_with(service.clone(), None, Some(feed)),
        )
        .nest("/plain", schedule::catalog_api::router(service, None));
    tokio::spawn(web::serve_until(listener, app, std::future::pending()));
    Env {
        base,
        stitch: stitch_base,
        vods,
        http: reqwest::Client::new(),
        _fixtures: fixtures,
        _dir: dir,
    }
}

impl Env {
    async fn add(&self, body: Value) -> Asset {
        let r = self
            .http
            .post(format!("{}/catalog/api/v1/assets", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }
    fn vod(&self, path: &str) -> String {
        format!("http://{}/{path}/master.m3u8", self.vods)
    }
    async fn get(&self, path: &str) -> (u16, String) {
        testkit::http::get_text(&self.http, format!("{}{path}", self.base)).await
    }
}

fn reason(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{v}");
    v["detail"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn house_ads_stay_out_of_the_plain_feed_and_fill_the_stitched_one() {
    let py = testkit::require_peer!("python3:feedparser");
    let env = start().await;

    // Programmes first: the stitched feed has nothing to insert yet (409), and a catalog
    // without a stitch service has no stitched feed at all (404).
    let mut programmes = Vec::new();
    for (n, category) in [("vod1", "news"), ("vod2", "film"), ("vod3", "news")] {
        programmes.push(
            env.add(json!({"url": env.vod(&format!("ts/{n}")), "category": category}))
                .await,
        );
    }
    let (status, body) = env.get("/catalog/mrss/stitched/all.xml").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(reason(&body), "no-house-ads");

    // Two house ads: one by category "ad", one by tag "house-ad".
    let ad_a = env
        .add(json!({"url": env.vod("ads/vod1"), "id": "ad-a", "category": "ad"}))
        .await;
    let ad_b = env
        .add(json!({"url": env.vod("ts/slate"), "id": "ad-b", "category": "promo", "tags": ["house-ad"]}))
        .await;
    assert!(ad_a.is_house_ad() && ad_b.is_house_ad());
    assert!(programmes.iter().all(|p| !p.is_house_ad()));
    let (status, body) = env.get("/plain/mrss/stitched/all.xml").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(reason(&body), "no-stitch-url");

    // ?houseAds=true lists them, false the others; anything else is a 400 naming the field.
    let list = |q: &'static str| {
        let env = &env;
        async move {
            let (status, body) = env.get(&format!("/catalog/api/v1/assets{q}")).await;
            assert_eq!(status, 200, "{body}");
            let assets: Vec<Asset> = serde_json::from_str(&body).unwrap();
            assets.into_iter().map(|a| a.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(list("?houseAds=true").await, ["ad-a", "ad-b"]);
    assert_eq!(list("?houseAds=false").await, ["vod1", "vod2", "vod3"]);
    // An expired house ad is in the catalog but fills no break (and is in no feed).
    let expired = env
        .add(json!({"url": env.vod("ts/slate"), "id": "ad-0", "category": "ad", "availableUntil": 1}))
        .await;
    assert!(expired.is_house_ad());
    assert_eq!(list("?houseAds=true").await, ["ad-a", "ad-b"]);
    assert_eq!(list("").await.len(), 6);
    let (status, body) = env.get("/catalog/api/v1/assets?houseAds=yes").await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["field"],
        "houseAds"
    );

    let (status, body) = env.get("/catalog/mrss/stitched/all.json").await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["field"],
        "file"
    );

    // The plain feeds (MRSS, Atom, by category) never list a house ad.
    for (path, n) in [
        ("/catalog/mrss/all.xml", 3),
        ("/catalog/mrss/all.atom", 3),
        ("/catalog/mrss/news.xml", 2),
        ("/catalog/mrss/ad.xml", 0),
        ("/catalog/mrss/promo.xml", 0),
    ] {
        let url = format!("{}{path}", env.base);
        let parsed: Value =
            serde_json::from_str(&common::python(&py, FEEDPARSER_CHECK, &url).await).unwrap();
        let ids: Vec<&str> = parsed["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), n, "{path}: {ids:?}");
        assert!(
            ids.iter().all(|id| !id.starts_with("ad-")),
            "{path}: {ids:?}"
        );
    }

    // The stitched feed, by feedparser: the same items, each at the stitch service, lasting
    // content + ads.
    let stitched_url = format!("{}/catalog/mrss/stitched/all.xml", env.base);
    let parsed: Value =
        serde_json::from_str(&common::python(&py, FEEDPARSER_CHECK, &stitched_url).await).unwrap();
    assert_eq!(parsed["version"], "rss20");
    let entries = parsed["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let ads = [&ad_a, &ad_b];
    let mut expected = Vec::new();
    for (e, p) in entries.iter().zip(&programmes) {
        assert_eq!(e["id"], p.id.as_str());
        assert_eq!(e["medium"], "video");
        let url = e["media_url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/master.m3u8?payload=", env.stitch)),
            "{url}"
        );
        let payload = stitch::Payload::decode(url.split_once("payload=").unwrap().1).unwrap();
        assert_eq!(payload.uri, p.url);
        // 8 s VODs, a mid-roll every 4 s: pre-roll + one mid-roll, rotating the two ads.
        let pos: Vec<f64> = payload.breaks.iter().map(|b| b.pos).collect();
        assert_eq!(pos, [0.0, 4000.0], "{}", p.id);
        let used: Vec<&Asset> = payload
            .breaks
            .iter()
            .map(|b| *ads.iter().find(|a| Some(&a.url) == b.url.as_ref()).unwrap())
            .collect();
        assert_ne!(used[0].id, used[1].id, "consecutive breaks rotate");
        let total = p.duration + used.iter().map(|a| a.duration).sum::<f64>();
        let d: f64 = e["duration"].as_str().unwrap().parse().unwrap();
        assert!((d - total).abs() < 0.001, "{} vs {total}", d);
        expected.push((
            p.clone(),
            url.to_string(),
            total,
            used.iter().map(|a| a.duration).collect::<Vec<f64>>(),
        ));
    }
    // Deterministic: the same feed again.
    let (_, once) = env.get("/catalog/mrss/stitched/all.xml").await;
    let (_, twice) = env.get("/catalog/mrss/stitched/all.xml").await;
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("lastBuildDate"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&once), strip(&twice));

    // ... and by feed-rs (RSS and Atom).
    let feed = feed_rs::parser::parse(once.as_bytes()).unwrap();
    assert_eq!(feed.entries.len(), 3);
    for (entry, (p, url, total, _)) in feed.entries.iter().zip(&expected) {
        assert_eq!(entry.id, p.id);
        let content = &entry.media[0].content[0];
        assert_eq!(content.url.as_ref().map(|u| u.as_str()), Some(url.as_str()));
        let d = content.duration.unwrap().as_secs_f64();
        assert!((d - total).abs() < 1.0, "{d} vs {total}");
    }
    let (status, atom) = env.get("/catalog/mrss/stitched/news.atom").await;
    assert_eq!(status, 200);
    let feed = feed_rs::parser::parse(atom.as_bytes()).unwrap();
    let links: Vec<&str> = feed
        .entries
        .iter()
        .map(|e| e.links[0].href.as_str())
        .collect();
    assert_eq!(links, [expected[0].1.as_str(), expected[2].1.as_str()]);

    // Follow one stitched item through the stitch service: every playlist valid, each
    // rendition with its two ad breaks marked and spliced, total = content + ads.
    let (p, url, total, ad_durations) = &expected[1];
    let (status, master_text) = testkit::http::get_text(&env.http, url.as_str()).await;
    assert_eq!(status, 200, "{master_text}");
    assert_valid(url, &master_text);
    let Ok(Playlist::Master(master)) = hls::parse(&master_text) else {
        panic!("{url} is not a multivariant playlist:\n{master_text}")
    };
    assert_eq!(master.variants.len(), p.renditions.len());
    let base = url::Url::parse(url).unwrap();
    for v in &master.variants {
        let media_url = hls::uri::resolve(&base, &v.uri).unwrap().to_string();
        let (status, text) = testkit::http::get_text(&env.http, media_url.as_str()).await;
        assert_eq!(status, 200, "{text}");
        assert_valid(&media_url, &text);
        let media = hls::parse_media(&text).unwrap();
        let duration: f64 = media.segments.iter().map(|s| s.duration).sum();
        assert!(
            (duration - total).abs() < 0.05,
            "{media_url}: {duration} s, expected {total} s\n{text}"
        );
        // Each break: CUE-OUT with the ad's duration on the ad's first segment, CUE-IN on
        // the content's next one.
        let cue_outs: Vec<f64> = media
            .segments
            .iter()
            .flat_map(|s| &s.markers)
            .filter_map(|m| match m {
                Marker::CueOut { raw: Some(raw) } => {
                    raw.strip_prefix("DURATION=").and_then(|d| d.parse().ok())
                }
                _ => None,
            })
            .collect();
        assert_eq!(&cue_outs, ad_durations, "CUE-OUT durations\n{text}");
        let cue_ins = media
            .segments
            .iter()
            .filter(|s| s.markers.iter().any(|m| matches!(m, Marker::CueIn)))
            .count();
        assert_eq!(cue_ins, ad_durations.len(), "CUE-IN\n{text}");
        // Pre-roll: one DISCONTINUITY (ad -> content); mid-roll: two (content -> ad -> content).
        let discontinuities = media.segments.iter().filter(|s| s.discontinuity).count();
        assert_eq!(discontinuities, 3, "DISCONTINUITY\n{text}");
        let dateranges = media.segments.iter().flat_map(|s| &s.dateranges).count();
        assert_eq!(
            dateranges,
            2 * ad_durations.len(),
            "DATERANGE (out + in)\n{text}"
        );
        let ad_seconds: f64 = media
            .segments
            .iter()
            .filter(|s| !s.uri.starts_with(p.url.trim_end_matches("master.m3u8")))
            .map(|s| s.duration)
            .sum();
        let want: f64 = ad_durations.iter().sum();
        assert!(
            (ad_seconds - want).abs() < 0.05,
            "{ad_seconds} s of ads\n{text}"
        );
    }
}

/// `Service::house_ads` (what the engine adapter fills breaks with): the house ads
/// available now, by id, whichever rule made them house ads.
#[tokio::test]
async fn house_ads_are_the_available_ones_by_id() {
    let now = 1_800_000_000_000;
    let db = schedule::Db::open(":memory:").await.unwrap();
    let service = Service::with_db(db, clock::ManualClock::new(now).shared());
    let asset = |id: &str, category: Option<&str>, tags: &[&str]| Asset {
        id: id.into(),
        title: id.into(),
        description: String::new(),
        url: format!("http://vod.test/{id}/master.m3u8"),
        duration: 10.0,
        renditions: Vec::new(),
        category: category.map(Into::into),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        thumbnail: None,
        available_from: None,
        available_until: None,
    };
    for a in [
        asset("z-ad", Some("ad"), &[]),
        asset("film", Some("film"), &["ad-free"]),
        asset("b-promo", Some("promo"), &["house-ad"]),
        Asset {
            available_until: Some(now - 1),
            ..asset("a-expired", Some("ad"), &[])
        },
        Asset {
            available_from: Some(now + 1),
            ..asset("a-later", None, &["house-ad"])
        },
        asset("adverts", Some("ads"), &["house"]),
    ] {
        service.put_asset(a).await.unwrap();
    }
    let ids: Vec<String> = service
        .house_ads()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, ["b-promo", "z-ad"]);
    let programmes: Vec<String> = service
        .feed_assets("all")
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    // (Added at one instant of the fake clock: the catalog's order is then by id.)
    assert_eq!(programmes, ["adverts", "film"]);
}

fn assert_valid(url: &str, text: &str) {
    let (_, problems) = check_text(text);
    let errors: Vec<_> = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{url}: {errors:?}\n{text}");
}
