//! The HTTP surface: sessions, redirects, errors, headers, docs.

mod common;

use std::sync::Arc;
use std::time::Duration;

use clock::ManualClock;
use common::*;
use engine::EngineOptions;
use serde_json::{Value, json};
use testkit::http::{assert_api_error, get_json, get_media_playlist, get_status};

async fn setup() -> (Arc<ManualClock>, String, String) {
    let fx = fixture_server().await;
    let adapter = channels(json!({"channels": [{
        "id": "one",
        "title": "One",
        "vods": [format!("{fx}ts/vod1/master.m3u8"), format!("{fx}ts/vod2/master.m3u8")]
    }]}));
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let opts = EngineOptions {
        window: Duration::from_secs(20),
        session_ttl: Duration::from_secs(30),
        slate_url: Some(format!("{fx}ts/slate/master.m3u8")),
        ..EngineOptions::default()
    };
    let (_e, base) = serve_engine(adapter, opts, clock.clone()).await;
    (clock, base, fx)
}

#[tokio::test]
async fn playlists_headers_and_errors() {
    let (_clock, base, _fx) = setup().await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = c
        .get(format!("{base}channels/one/master.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    let master = r.text().await.unwrap();
    assert!(
        master.contains("v0.m3u8") && master.contains("v1.m3u8"),
        "{master}"
    );

    let r = c
        .get(format!("{base}channels/one/v0.m3u8"))
        .header("origin", "http://player.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "public, max-age=1");
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let text = r.text().await.unwrap();
    let pl = hls::parse_media(&text).unwrap();
    assert_eq!(pl.target_duration, Some(2));
    assert_eq!(
        pl.segments.len(),
        11,
        "a full 20 s window (+ the segment starting now) at once: {text}"
    );

    let r = c
        .head(format!("{base}channels/one/v0.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    for (url, status, field) in [
        ("channels/nope/master.m3u8", 404, "channel"),
        ("channels/one/v9.m3u8", 404, "rendition"),
        ("channels/one/master.m3u8?session=bogus", 400, "session"),
        ("sessions/nope/v0.m3u8", 404, "session"),
    ] {
        let r = c.get(format!("{base}{url}")).send().await.unwrap();
        assert_api_error(r, status, field, url).await;
    }

    let doc = get_json(&c, format!("{base}api/docs/openapi.json")).await;
    assert!(doc["paths"]["/api/v1/sessions"].is_object(), "{doc}");
    assert_eq!(get_status(&c, format!("{base}healthz")).await, 200);
    let chans = get_json(&c, format!("{base}api/v1/channels")).await;
    assert_eq!(chans[0]["id"], "one");
    assert!(
        chans[0]["now_playing"]["url"]
            .as_str()
            .unwrap()
            .contains("vod"),
        "{chans}"
    );
}

#[tokio::test]
async fn sessions_lifecycle() {
    let (clock, base, _fx) = setup().await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Bad bodies are 400 naming the field (an unknown one too); an unknown channel is 404.
    for (body, status, field) in [
        (json!({"chanel": "one"}), 400, "chanel"),
        (json!({"channel": 5}), 400, "channel"),
        (json!({"channel": "nope"}), 404, "channel"),
    ] {
        let r = c
            .post(format!("{base}api/v1/sessions"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_api_error(r, status, field, &body.to_string()).await;
    }

    let r = c
        .post(format!("{base}api/v1/sessions"))
        .json(&json!({"channel": "one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["master_url"], format!("sessions/{id}/master.m3u8"));
    let m = c
        .get(format!("{base}sessions/{id}/master.m3u8"))
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), 200);
    // A session starts at the beginning of its first VOD, with the three target durations
    // a player starts from already listed.
    let pl = get_media_playlist(&c, format!("{base}sessions/{id}/v0.m3u8")).await;
    assert_eq!(pl.media_sequence, 0);
    let listed: f64 = pl.segments.iter().map(|s| s.duration).sum();
    assert!(listed >= 3.0 * pl.target_duration.unwrap() as f64, "{pl:?}");
    assert!(pl.segments[0].uri.ends_with("vod1/360p/seg000.ts"));

    // ?session=new redirects to a fresh session.
    let r = c
        .get(format!("{base}channels/one/master.m3u8?session=new"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        loc.starts_with("/sessions/") && loc.ends_with("/master.m3u8"),
        "{loc}"
    );

    let list = get_json(&c, format!("{base}api/v1/sessions")).await;
    assert_eq!(list.as_array().unwrap().len(), 2);

    // Delete one; the other expires after the TTL without requests.
    assert_eq!(
        c.delete(format!("{base}api/v1/sessions/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        get_status(&c, format!("{base}api/v1/sessions/{id}")).await,
        404
    );
    clock.advance_ms(31_000);
    let list = get_json(&c, format!("{base}api/v1/sessions")).await;
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
}

#[tokio::test]
async fn api_token_guards_control_api_only() {
    let fx = fixture_server().await;
    let adapter = channels(
        json!({"channels": [{"id": "one", "vods": [format!("{fx}ts/vod1/master.m3u8")]}]}),
    );
    let e = engine_with(
        adapter,
        EngineOptions::default(),
        Arc::new(ManualClock::new(1_700_000_000_000)),
        Arc::new(engine::MemoryStore::new()),
    )
    .await;
    let svc = engine::Service::new(
        e,
        Some("sekret".into()),
        Some("http://tv.example/engine".into()),
    );
    let base = serve(svc.router()).await;
    let c = reqwest::Client::new();
    assert_eq!(get_status(&c, format!("{base}api/v1/channels")).await, 401);
    let r = c
        .post(format!("{base}api/v1/sessions"))
        .bearer_auth("sekret")
        .json(&json!({"channel": "one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["master_url"]
            .as_str()
            .unwrap()
            .starts_with("http://tv.example/engine/sessions/")
    );
    assert_eq!(
        get_status(&c, format!("{base}channels/one/master.m3u8")).await,
        200
    );
}
