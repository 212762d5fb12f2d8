//! Failure handling: an ad server that is down, slow, answers garbage or empty VAST gives
//! viewers slate (or the original content past the personalization threshold), and their
//! playlists still follow clean; an origin that fails gives the last good playlist, then
//! the error; sessions are capped and expire; bad configurations are 4xx.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use ads::ProxyConfig;
use axum::routing::get;
use common::*;
use serde_json::json;

/// Every segment URI listed in a playlist text.
fn uris(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_ad_servers_give_slate_or_content_and_stay_valid() {
    let (_a, fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let fx_base = fx.url("").trim_end_matches('/').to_string();
    // Content: vod1/vod2 and 6 s breaks of the engine's slate; the proxy's slate is vod3,
    // so its fill is told apart from the original break.
    let engine = {
        let file: engine::ChannelsFile = serde_json::from_value(json!({"channels": [{
            "id": "live",
            "vods": [format!("{fx_base}/ts/vod1/master.m3u8"), format!("{fx_base}/ts/vod2/master.m3u8")],
            "ad_every": 1, "ad_duration_secs": 6.0
        }]}))
        .unwrap();
        let adapter = std::sync::Arc::new(engine::FileAdapter::new(file).unwrap());
        let e = engine::Engine::new(
            engine::EngineOptions {
                window: Duration::from_secs(20),
                slate_url: Some(format!("{fx_base}/ts/slate/master.m3u8")),
                slate_duration: Duration::from_secs(6),
                ..Default::default()
            },
            std::sync::Arc::new(ScaledClock::new(2.0)),
            std::sync::Arc::new(engine::MemoryStore::new()),
            adapter.clone(),
            adapter,
        );
        e.reload_channels().await.unwrap();
        e.spawn_background();
        serve(engine::Service::new(e, None, None).router()).await
    };
    let bad = serve(
        axum::Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    "<VAST version=\"4.0\"/>"
                }),
            )
            .route(
                "/garbage",
                get(|| async { "<html><body>not VAST</body></html>" }),
            )
            .route(
                "/empty",
                get(|| async { "<?xml version=\"1.0\"?><VAST version=\"4.0\"/>" }),
            )
            .route(
                "/error",
                get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
            ),
    )
    .await;
    let down = format!("http://127.0.0.1:{}/vast", testkit::free_port());
    let (_p, proxy) = proxy(ProxyConfig::default()).await;
    let cases = [
        ("down", down.clone(), None, true),
        ("slow", format!("{bad}/slow"), Some(800), true),
        ("garbage", format!("{bad}/garbage"), None, true),
        ("empty", format!("{bad}/empty"), None, true),
        ("error", format!("{bad}/error"), None, true),
        ("threshold", format!("{bad}/garbage"), None, false),
    ];
    let mut sessions = Vec::new();
    for (name, ads_url, timeout, slate) in &cases {
        let mut cfg = json!({
            "VideoContentSourceUrl": format!("{engine}/channels"),
            "AdDecisionServerUrl": ads_url,
            "SlateAdUrl": format!("{fx_base}/ts/vod3/master.m3u8"),
        });
        if let Some(t) = timeout {
            cfg["AdDecisionServerTimeoutMs"] = json!(t);
        }
        if !slate {
            cfg["PersonalizationThresholdSeconds"] = json!(1);
        }
        put_config(&proxy, name, cfg).await;
        let (master, _t, id) = explicit_session(&proxy, name, "live/master.m3u8", json!({})).await;
        sessions.push((name.to_string(), master, id, *slate));
    }
    let followers: Vec<_> = sessions.iter().map(|s| follow(&s.1)).collect();
    let mut seen: Vec<BTreeSet<String>> = vec![BTreeSet::new(); sessions.len()];
    for (i, (name, _m, id, slate)) in sessions.iter().enumerate() {
        // What a break looks like for this case: the proxy's fill, or the original.
        let mark = if *slate { "ts/vod3/" } else { "ts/slate/" };
        let media = format!("{proxy}/v1/manifest/{name}/{id}/0.m3u8");
        let info = format!("{proxy}/api/v1/sessions/{id}");
        let acc = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::new()));
        testkit::wait_until(Duration::from_secs(60), "two breaks", || {
            let (media, info, acc) = (media.clone(), info.clone(), acc.clone());
            async move {
                let (s, text) = get_text(&media).await;
                if s == 200 {
                    acc.lock().unwrap().extend(uris(&text));
                }
                let breaks = get_json(&info).await["avails"].as_u64().unwrap_or(0);
                breaks >= 2 && acc.lock().unwrap().iter().any(|u| u.contains(mark))
            }
        })
        .await
        .unwrap();
        seen[i] = acc.lock().unwrap().clone();
    }
    for f in followers {
        f.finish_after(6, Duration::from_secs(30))
            .await
            .assert_clean(6);
    }
    for (i, (name, _, _, slate)) in sessions.iter().enumerate() {
        let s = &seen[i];
        assert!(
            !s.iter().any(|u| u.contains("/v1/segment/")),
            "{name}: no ads: {s:?}"
        );
        if *slate {
            assert!(
                s.iter().any(|u| u.contains("ts/vod3/")),
                "{name}: slate fill: {s:?}"
            );
        } else {
            assert!(
                !s.iter().any(|u| u.contains("ts/vod3/")),
                "{name}: no fill: {s:?}"
            );
            assert!(
                s.iter().any(|u| u.contains("ts/slate/")),
                "{name}: original break: {s:?}"
            );
        }
    }
    let (_, metrics) = get_text(&format!("{proxy}/metrics")).await;
    for m in [
        "ssai_ads_errors_total",
        "ssai_avails_total",
        "ssai_ads_latency_seconds",
    ] {
        assert!(metrics.contains(m), "{m} in /metrics");
    }
}

#[tokio::test]
async fn vod_origin_failure_caps_expiry_and_config_errors() {
    let (_a, fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let fx_base = fx.url("").trim_end_matches('/').to_string();
    let (_s, ads_base) = ad_server(&fx_base).await;
    let (p, proxy) = proxy(ProxyConfig {
        max_sessions: 3,
        idle_manifests: 0,
        min_idle: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    put_config(
        &proxy,
        "vod",
        json!({
            "VideoContentSourceUrl": fx_base,
            "AdDecisionServerUrl": format!("{ads_base}/api/v1/vast?dur=[session.avail_duration_secs]"),
            "SlateAdUrl": format!("{fx_base}/ts/slate/master.m3u8"),
            "ManifestProcessingRules": {"AdMarkerPassthrough": {"Enabled": true}}
        }),
    )
    .await;
    // Implicit session over the ad-marked VOD: the 4 s break becomes slate (no 4 s ad).
    let (s, master) = get_text(&format!(
        "{proxy}/v1/master/vod/ads/vod1/master.m3u8?ads.uid=x"
    ))
    .await;
    assert_eq!(s, 200, "{master}");
    let (_, problems) = hls::validate::check_text(&master);
    assert!(
        problems
            .iter()
            .all(|p| p.severity != hls::validate::Severity::Error),
        "{problems:?}"
    );
    let variant = uris(&master)[0].clone();
    let media_url = reqwest::Url::parse(&format!("{proxy}/v1/master/vod/ads/vod1/master.m3u8"))
        .unwrap()
        .join(&variant)
        .unwrap()
        .to_string();
    let (s, media) = get_text(&media_url).await;
    assert_eq!(s, 200, "{media}");
    let (pl, problems) = hls::validate::check_text(&media);
    assert!(pl.is_some());
    assert!(
        problems
            .iter()
            .all(|p| p.severity != hls::validate::Severity::Error),
        "{problems:?}\n{media}"
    );
    let u = uris(&media);
    assert!(media.contains("#EXT-X-ENDLIST"), "{media}");
    assert!(u[0].ends_with("ads/vod1/360p/seg000.ts"), "{media}");
    assert!(
        u.iter().filter(|x| x.contains("ts/slate/")).count() == 2,
        "{media}"
    );
    assert!(
        !u.iter()
            .any(|x| x.ends_with("vod1/360p/seg001.ts") || x.ends_with("vod1/360p/seg002.ts")),
        "{media}"
    );
    assert!(
        u.last().unwrap().ends_with("ads/vod1/360p/seg004.ts"),
        "{media}"
    );
    assert!(
        media.contains("#EXT-X-CUE-OUT:DURATION=4") && media.contains("#EXT-X-CUE-IN"),
        "passthrough: {media}"
    );
    assert_eq!(
        media.matches("#EXT-X-DISCONTINUITY\n").count(),
        2,
        "{media}"
    );
    // Origin failure: the last good playlist, then the error.
    fx.fail("ads/vod1/360p/index.m3u8", testkit::Fault::Status(500));
    tokio::time::sleep(Duration::from_millis(600)).await; // past the shared origin cache
    let (s, again) = get_text(&media_url).await;
    assert_eq!((s, &again), (200, &media));
    let http = reqwest::Client::new();
    testkit::wait_until(
        Duration::from_secs(30),
        "502 after the last good playlist aged",
        || {
            let (http, url) = (http.clone(), media_url.clone());
            async move {
                http.get(&url)
                    .send()
                    .await
                    .map(|r| r.status() == 502)
                    .unwrap_or(false)
            }
        },
    )
    .await
    .unwrap();
    let r = http.get(&media_url).send().await.unwrap();
    testkit::http::assert_api_error(r, 502, "origin", &media_url)
        .await
        .get("error");
    fx.clear("ads/vod1/360p/index.m3u8");
    // Session cap: 503 with Retry-After.
    let mut answers = Vec::new();
    for _ in 0..4 {
        let r = http
            .post(format!("{proxy}/v1/session/vod/ads/vod1/master.m3u8"))
            .json(&json!({"adsParams": {"a": "b"}}))
            .send()
            .await
            .unwrap();
        answers.push((
            r.status().as_u16(),
            r.headers().get("retry-after").is_some(),
        ));
    }
    assert!(answers.contains(&(503, true)), "{answers:?}");
    // Sessions expire when idle.
    testkit::wait_until(Duration::from_secs(20), "idle sessions expire", || {
        let p = p.clone();
        async move { p.session_count().await.unwrap() == 0 }
    })
    .await
    .unwrap();
    assert_eq!(get_text(&media_url).await.0, 404);
    // Bad configurations.
    for (body, field) in [
        (
            json!({"AdDecisionServerUrl": "http://a/"}),
            "VideoContentSourceUrl",
        ),
        (
            json!({"VideoContentSourceUrl": "nope", "AdDecisionServerUrl": "http://a/"}),
            "VideoContentSourceUrl",
        ),
        (
            json!({"VideoContentSourceUrl": "http://a/", "AdDecisionServerUrl": "http://a/", "PersonalizationThresholdSeconds": -1}),
            "PersonalizationThresholdSeconds",
        ),
        (
            json!({"VideoContentSourceUrl": "http://a/", "AdDecisionServerUrl": "http://a/", "AvailSuppression": {"Mode": "SOMETIMES"}}),
            "AvailSuppression.Mode",
        ),
        (
            json!({"VideoContentSourceUrl": "http://a/", "AdDecisionServerUrl": "http://a/", "Bogus": 1}),
            "Bogus",
        ),
    ] {
        let r = http
            .put(format!("{proxy}/api/v1/playbackConfigurations/x"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, 400, "{body}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(
            v["field"].as_str().unwrap_or("").contains(field) || text.contains(field),
            "{body}: {text}"
        );
    }
    let r = http
        .get(format!("{proxy}/api/v1/playbackConfigurations/none"))
        .send()
        .await
        .unwrap();
    testkit::http::assert_api_error(r, 404, "name", "unknown config").await;
    let r = http
        .get(format!("{proxy}/v1/master/none/a.m3u8"))
        .send()
        .await
        .unwrap();
    testkit::http::assert_api_error(r, 404, "name", "unknown config").await;
}

#[tokio::test]
async fn unplayable_creative_reports_error_and_plays_slate() {
    let (_a, fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let fx_base = fx.url("").trim_end_matches('/').to_string();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ads_base = format!("http://{}", listener.local_addr().unwrap());
    let server = ads::AdServer::new(ads::AdServerConfig {
        public_url: Some(ads_base.clone()),
        catalog: vec![ads::adserver::Creative {
            id: "missing-4s".into(),
            universal_id: None,
            url: format!("{fx_base}/missing/master.m3u8"),
            duration: 4.0,
            bitrate: 400,
            width: 640,
            height: 360,
        }],
        seed: SEED,
        max_sessions: 100,
    });
    let router = server.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let (_p, proxy) = proxy(ProxyConfig::default()).await;
    put_config(
        &proxy,
        "vod",
        json!({
            "VideoContentSourceUrl": fx_base,
            "AdDecisionServerUrl": format!("{ads_base}/api/v1/vast?dur=[session.avail_duration_secs]"),
            "SlateAdUrl": format!("{fx_base}/ts/slate/master.m3u8"),
        }),
    )
    .await;
    let (master, _t, id) = explicit_session(&proxy, "vod", "ads/vod1/master.m3u8", json!({})).await;
    assert_eq!(get_text(&master).await.0, 200);
    let (s, media) = get_text(&format!("{proxy}/v1/manifest/vod/{id}/0.m3u8")).await;
    assert_eq!(s, 200, "{media}");
    assert_eq!(media.matches("ts/slate/").count(), 2, "{media}");
    assert!(!media.contains("/v1/segment/"), "{media}");
    // The ad server hears about the unplayable creative (VAST Error URL).
    testkit::wait_until(Duration::from_secs(15), "an error event", || {
        let n = server
            .sessions()
            .iter()
            .flat_map(|s| server.events(&s.session_id).unwrap_or_default())
            .filter(|e| e.kind == "error")
            .count();
        async move { n == 1 }
    })
    .await
    .unwrap();
}
