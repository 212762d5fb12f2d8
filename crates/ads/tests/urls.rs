//! The URLs of the proxy, as `lineup ads` serves them (ad server under `/adserver`, proxy
//! under `/ads`): every public route refuses a `.`/`..` segment in any encoding with a 400
//! before anything is fetched (the origin in front of which it stands records every
//! request it gets), and session answers give a `manifestUrl` and `trackingUrl` that
//! resolve as returned, with the default public URL, with `--public-url`, and nested
//! under a prefix without one.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An origin that records every path it is asked for: `/content/<p>` serves the fixture
/// `<p>`, anything else answers `outside` (what a confined proxy must never reach).
async fn recording_origin() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    async fn serve(State(seen): State<Arc<Mutex<Vec<String>>>>, req: Request) -> Response {
        let path = req.uri().path().to_string();
        seen.lock().unwrap().push(path.clone());
        let Some(rel) = path.strip_prefix("/content/") else {
            return "outside".into_response();
        };
        let file: PathBuf = testkit::fixtures_dir().join(rel);
        match tokio::fs::read(&file).await {
            Ok(bytes) => bytes.into_response(),
            Err(_) => axum::http::StatusCode::NOT_FOUND.into_response(),
        }
    }
    let router = axum::Router::new().fallback(serve).with_state(seen.clone());
    (common::serve(router).await, seen)
}

/// `lineup ads` in process, on its own port, with `public_url` as `--public-url`.
async fn lineup_ads(public_url: Option<&str>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listen = listener.local_addr().unwrap();
    let args = ads::AdsArgs {
        listen,
        public_url: public_url.map(|u| u.replace("{port}", &listen.port().to_string())),
        creatives_base: "http://127.0.0.1:9/vod".into(),
        catalog: None,
        seed: 1,
        max_sessions: 100,
        api_token: None,
        aws: Default::default(),
        condition_dir: None,
        condition_max_bytes: 1 << 30,
        condition_jobs: 1,
        no_condition: true,
        redis_url: None,
    };
    let (ad_server, proxy) = ads::build(&args).unwrap();
    let router = ads::router(&ad_server, &proxy);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{listen}")
}

/// One request written as-is on a fresh connection (HTTP clients normalize `..` away).
async fn raw(base: &str, method: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

#[tokio::test]
async fn every_public_route_refuses_dot_segments_before_fetching() {
    let (origin, seen) = recording_origin().await;
    let base = lineup_ads(None).await;
    common::put_config(
        &format!("{base}/ads"),
        "c",
        json!({
            "VideoContentSourceUrl": format!("{origin}/content"),
            "AdDecisionServerUrl": format!("{base}/adserver/api/v1/vast?dur=[session.avail_duration_secs]"),
        }),
    )
    .await;
    // A real session, so the session routes would otherwise answer.
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/ads/v1/session/c/ts/vod1/master.m3u8"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sid = answer["manifestUrl"]
        .as_str()
        .and_then(|u| u.rsplit_once("aws.sessionId="))
        .map(|(_, id)| id.to_string())
        .unwrap_or_else(|| panic!("{answer}"));
    let (status, _) = raw(&base, "GET", &format!("/ads/v1/tracking/c/{sid}")).await;
    assert_eq!(status, 200, "the session answers");
    let fetched_before = seen.lock().unwrap().clone();
    assert!(
        fetched_before.iter().all(|p| p.starts_with("/content/")),
        "{fetched_before:?}"
    );

    let dots = [
        "..",
        ".",
        "%2e%2e",
        "%2E%2e",
        "..%2F..%2F..",
        "%252e%252e",
        "%25252e%25252e",
        "..%5C..",
        "..\\..",
    ];
    let routes: Vec<(&str, String)> = vec![
        ("GET", "/ads/v1/master/c/{X}/{X}/outside.m3u8".into()),
        ("GET", "/ads/v1/master/c/ts/{X}/{X}/{X}/metrics".into()),
        ("POST", "/ads/v1/session/c/{X}/{X}/outside.m3u8".into()),
        ("POST", "/ads/v1/session/c/ts/{X}/{X}/{X}/metrics".into()),
        ("GET", format!("/ads/v1/manifest/c/{sid}/{{X}}")),
        ("GET", "/ads/v1/manifest/c/{X}/0.m3u8".into()),
        ("GET", format!("/ads/v1/segment/c/{sid}/{{X}}/0/0.ts")),
        ("GET", format!("/ads/v1/segment/c/{sid}/1/0/{{X}}")),
        ("GET", "/ads/v1/tracking/c/{X}".into()),
        ("GET", "/ads/v1/tracking/{X}/{X}".into()),
    ];
    for (method, template) in &routes {
        for dot in dots {
            let path = template.replace("{X}", dot);
            let (status, body) = raw(&base, method, &path).await;
            assert_eq!(status, 400, "{method} {path}: {body}");
            let v: Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{method} {path}: {e}: {body}"));
            assert_eq!(v["field"], "path", "{method} {path}: {v}");
        }
    }
    assert_eq!(
        *seen.lock().unwrap(),
        fetched_before,
        "nothing was fetched for a refused path"
    );

    // The same path without dots reaches the content source, and only it.
    let (status, body) = raw(&base, "GET", "/ads/v1/master/c/ts/vod1/master.m3u8").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("#EXTM3U"), "{body}");
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(|p| p.starts_with("/content/")), "{seen:?}");
}

/// POST a session at `session_url`; the answer's URLs resolved against it, as a player
/// does, must answer: the master playlist and the tracking JSON.
async fn answers_resolve(session_url: &str, expect_prefix: &str) {
    let answer: Value = reqwest::Client::new()
        .post(session_url)
        .json(&json!({"adsParams": {"uid": "u1"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in ["manifestUrl", "trackingUrl"] {
        let returned = answer[key].as_str().unwrap_or_else(|| panic!("{answer}"));
        assert!(
            returned.starts_with(expect_prefix),
            "{key} {returned} starts with {expect_prefix}"
        );
        let url = common::resolve(session_url, returned);
        let r = reqwest::get(&url).await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert_eq!(status, 200, "{key} {url}: {text}");
        if key == "manifestUrl" {
            assert!(text.starts_with("#EXTM3U"), "{url}: {text}");
            // Its variants resolve too.
            let variant = text.lines().find(|l| l.ends_with(".m3u8")).unwrap();
            let (status, media) = common::get_text(&common::resolve(&url, variant)).await;
            assert_eq!(status, 200, "{variant}: {media}");
        } else {
            let doc: Value = serde_json::from_str(&text).unwrap();
            assert!(doc["avails"].is_array(), "{doc}");
        }
    }
}

#[tokio::test]
async fn session_answers_resolve_as_returned() {
    let (fx_addr, _fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let config = json!({
        "VideoContentSourceUrl": format!("http://{fx_addr}"),
        "AdDecisionServerUrl": "http://127.0.0.1:9/vast",
    });
    // `lineup ads` with its default public URL, and with `--public-url` (another name of
    // the same server, as a load balancer in front would have).
    for (public, prefix) in [
        (None, "http://127.0.0.1:{port}/ads/v1/"),
        (
            Some("http://localhost:{port}/"),
            "http://localhost:{port}/ads/v1/",
        ),
    ] {
        let base = lineup_ads(public).await;
        let port = base.rsplit(':').next().unwrap();
        common::put_config(&format!("{base}/ads"), "c", config.clone()).await;
        answers_resolve(
            &format!("{base}/ads/v1/session/c/ts/vod1/master.m3u8"),
            &prefix.replace("{port}", port),
        )
        .await;
    }
    // The proxy nested under a prefix by a program that gives it no public URL: absolute
    // paths under that prefix (MediaTailor answers absolute paths).
    let proxy = ads::Proxy::new(ads::ProxyConfig::default());
    let base = common::serve(axum::Router::new().nest("/x/ads", proxy.router())).await;
    common::put_config(&format!("{base}/x/ads"), "c", config).await;
    answers_resolve(
        &format!("{base}/x/ads/v1/session/c/ts/vod1/master.m3u8"),
        "/x/ads/v1/",
    )
    .await;
}
