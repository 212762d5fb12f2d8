//! One surface: every control API of the demo answers the same mistake the same way.
//!
//! A table of the services' create routes gets the same bad inputs (malformed JSON, an
//! unknown field, a 10,000-character and a `../` name, a 5 MB body) and every service
//! gets an unknown route; each answer must be the one shape: the status the mistake
//! calls for and a JSON body `{"error": "...", "field": "..."}` naming what is wrong.

mod common;

use reqwest::StatusCode;
use serde_json::{Value, json};

/// A create route: method, path under the demo, a valid body with `{NAME}` where the
/// id or name goes (`None`: the route takes no name), and the field that holds it.
struct Route {
    service: &'static str,
    method: reqwest::Method,
    path: &'static str,
    body: Value,
    name_field: Option<&'static str>,
}

fn routes() -> Vec<Route> {
    use reqwest::Method;
    let name = "{NAME}";
    vec![
        Route {
            service: "origin",
            method: Method::POST,
            path: "/origin/api/v1/channels",
            body: json!({"id": name}),
            name_field: Some("id"),
        },
        Route {
            service: "pullpush",
            method: Method::POST,
            path: "/pullpush/api/v1/fetchers",
            body: json!({"name": name, "url": "http://127.0.0.1:9/x.m3u8", "output": "void", "payload": {}}),
            name_field: Some("name"),
        },
        Route {
            service: "schedule",
            method: Method::POST,
            path: "/schedule/api/v1/channels",
            body: json!({"id": name, "title": "t"}),
            name_field: Some("id"),
        },
        Route {
            service: "catalog",
            method: Method::POST,
            path: "/catalog/api/v1/assets",
            body: json!({"id": name, "url": "http://127.0.0.1:9/vod.m3u8", "duration": 10.0}),
            name_field: Some("id"),
        },
        Route {
            service: "catalog category",
            method: Method::POST,
            path: "/catalog/api/v1/assets",
            body: json!({"id": "a1", "category": name, "url": "http://127.0.0.1:9/vod.m3u8", "duration": 10.0}),
            name_field: Some("category"),
        },
        Route {
            service: "ads",
            method: Method::PUT,
            path: "/ads/api/v1/playbackConfigurations/surface",
            body: json!({"VideoContentSourceUrl": "http://127.0.0.1:9/", "AdDecisionServerUrl": "http://127.0.0.1:9/vast"}),
            name_field: None,
        },
        Route {
            service: "engine",
            method: Method::POST,
            path: "/engine/api/v1/sessions",
            body: json!({"channel": "demo"}),
            name_field: None,
        },
        Route {
            service: "stitch",
            method: Method::POST,
            path: "/stitch/api/v1/stitch",
            body: json!({"uri": "http://127.0.0.1:9/vod.m3u8"}),
            name_field: None,
        },
    ]
}

/// `body` with every `{NAME}` string replaced by `name`.
fn with_name(body: &Value, name: &str) -> Value {
    match body {
        Value::String(s) if s == "{NAME}" => Value::String(name.to_string()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), with_name(v, name)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Send and check the one shape: `status`, a JSON content type, a non-empty `error`, and
/// `field` when one is expected.
async fn expect(
    what: &str,
    req: reqwest::RequestBuilder,
    status: StatusCode,
    field: Option<&str>,
) -> Value {
    let resp = req.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let got = resp.status();
    let ctype = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "{what}: status, body {text}");
    assert!(
        ctype.starts_with("application/json"),
        "{what}: content-type {ctype:?}, body {text}"
    );
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"));
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: no error text: {body}"
    );
    if let Some(field) = field {
        assert_eq!(body["field"].as_str(), Some(field), "{what}: {body}");
    }
    assert!(
        text.len() < 2_000,
        "{what}: the answer echoes too much: {} bytes",
        text.len()
    );
    body
}

/// Send only the head of a request announcing a `length`-byte JSON body and read the
/// answer: (status, body).
async fn announce_body(base: &str, method: &str, path: &str, length: usize) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\nconnection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        s.read_to_end(&mut answer),
    )
    .await
    .expect("an answer before the body is sent")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_control_api_answers_the_same_mistake_the_same_way() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let args = common::demo_args(&listener, 1);
    let demo = lineup::demo::start(&args, listener)
        .await
        .expect("demo starts");
    let base = demo.base.clone();
    let http = reqwest::Client::new();
    let long = "x".repeat(10_000);

    for r in routes() {
        let url = format!("{base}{}", r.path);
        let send = |body: String| {
            http.request(r.method.clone(), &url)
                .header("content-type", "application/json")
                .body(body)
        };
        let what = |case: &str| format!("{} {} ({case})", r.service, r.path);

        // Malformed JSON: 400 naming the body and where it broke.
        let b = expect(
            &what("malformed JSON"),
            send("{,}".into()),
            StatusCode::BAD_REQUEST,
            Some("body"),
        )
        .await;
        assert!(
            b["detail"]["line"].as_u64().is_some(),
            "{}: {b}",
            what("line")
        );
        assert!(
            b["detail"]["column"].as_u64().is_some(),
            "{}: {b}",
            what("column")
        );

        // An unknown field is refused and named.
        let mut body = with_name(&r.body, "ok-name");
        body["noSuchField"] = json!(1);
        expect(
            &what("unknown field"),
            send(body.to_string()),
            StatusCode::BAD_REQUEST,
            None,
        )
        .await
        .get("error")
        .and_then(Value::as_str)
        .filter(|e| e.contains("noSuchField"))
        .unwrap_or_else(|| panic!("{}: the unknown field is not named", what("unknown field")));

        // Names: one rule everywhere.
        if let Some(field) = r.name_field {
            for bad in [long.as_str(), "../x", "a/b", ".."] {
                let shown = &bad[..bad.len().min(12)];
                expect(
                    &what(&format!("name {shown}")),
                    send(with_name(&r.body, bad).to_string()),
                    StatusCode::BAD_REQUEST,
                    Some(field),
                )
                .await;
            }
        }

        // A body over the limit: 413, not 400, said before the body is read (a client
        // sending it all would race the server's close).
        let (status, text) = announce_body(&base, r.method.as_str(), r.path, 5 * 1024 * 1024).await;
        assert_eq!(status, 413, "{}: {text}", what("5 MB body"));
        let b: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(b["field"], "body", "{}: {b}", what("5 MB body"));
    }

    // A name in the path follows the same rule (ads configurations are named by their path).
    // (`..` is refused before routing, by the confinement every public route has.)
    for (bad, field) in [
        ("x".repeat(10_000), "name"),
        ("%2E%2E%2Fx".to_string(), "path"),
        ("a.b".to_string(), "name"),
    ] {
        expect(
            &format!("ads configuration named {}", &bad[..bad.len().min(12)]),
            http.put(format!("{base}/ads/api/v1/playbackConfigurations/{bad}"))
                .json(&json!({"VideoContentSourceUrl": "http://127.0.0.1:9/", "AdDecisionServerUrl": "http://127.0.0.1:9/vast"})),
            StatusCode::BAD_REQUEST,
            Some(field),
        )
        .await;
    }

    // Unknown routes: a JSON 404 under every service and at the root.
    for prefix in [
        "",
        "/engine",
        "/pullpush",
        "/origin",
        "/schedule",
        "/catalog",
        "/stitch",
        "/ads",
    ] {
        expect(
            &format!("unknown route under {prefix:?}"),
            http.get(format!("{base}{prefix}/api/v1/no-such-thing")),
            StatusCode::NOT_FOUND,
            None,
        )
        .await;
    }
}

/// Every service's `/api/docs` renders its API in a browser with no network: the viewer is
/// served by the service itself (Chromium here reaches nothing but loopback).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_docs_render_offline_in_a_browser() {
    testkit::require_peer!("chromium");
    testkit::require_peer!("chromedriver");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let args = common::demo_args(&listener, 1);
    let demo = lineup::demo::start(&args, listener)
        .await
        .expect("demo starts");
    let browser = testkit::Browser::start(1280, 900).await.expect("chromium");
    // (service, a path its reference must show)
    for (service, path) in [
        ("origin", "/api/v1/channels"),
        ("pullpush", "/api/v1/fetchers"),
        ("schedule", "/api/v1/channels"),
        ("engine", "/api/v1/sessions"),
    ] {
        let url = format!("{}/{service}/api/docs", demo.base);
        browser.goto(&url).await.expect("open docs");
        let shown = testkit::wait_for(
            std::time::Duration::from_secs(30),
            "the API reference rendered",
            || {
                let browser = &browser;
                async move {
                    let text = browser
                        .execute("return document.body.innerText", json!([]))
                        .await
                        .ok()?;
                    let text = text.as_str()?.to_string();
                    text.contains(path).then_some(text)
                }
            },
        )
        .await;
        assert!(
            shown.is_ok(),
            "{url}: {path} not rendered: {:?}\n{}",
            browser
                .execute("return document.body.innerText", json!([]))
                .await,
            browser.log()
        );
    }
}
