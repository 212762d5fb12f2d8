//! REST API: every bad field is a 400 naming it; a second fetcher to the same destination is
//! 409; failing fetchers stay in the list with their error. No peers needed.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use testkit::http::{assert_api_error, get_json, get_status};

async fn post(client: &reqwest::Client, base: &str, body: Value) -> (u16, Value) {
    let r = client
        .post(format!("{base}/api/v1/fetchers"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn valid(dir: &std::path::Path) -> Value {
    json!({"name": "n", "url": "http://127.0.0.1:9/master.m3u8", "output": "dir", "payload": {"path": dir}})
}

#[tokio::test]
async fn bad_fields_are_400_naming_the_field() {
    let pp = service(":memory:");
    let (base, _task) = serve(&pp).await;
    let client = reqwest::Client::new();
    let tmp = tempfile::tempdir().unwrap();
    let mp = |url: Value| json!({"name": "n", "url": "http://127.0.0.1:9/m.m3u8", "output": "mediapackage", "payload": {"ingestUrls": [url]}});
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"name": "n", "output": "dir", "payload": {"path": "/tmp/x"}}),
            "url",
        ),
        (
            json!({"url": "http://a/b.m3u8", "output": "dir", "payload": {"path": "/tmp/x"}}),
            "name",
        ),
        (
            json!({"name": "", "url": "http://a/b.m3u8", "output": "void"}),
            "name",
        ),
        (
            json!({"name": "n", "url": "ftp://a/b.m3u8", "output": "void"}),
            "url",
        ),
        (
            json!({"name": "n", "url": "not a url", "output": "void"}),
            "url",
        ),
        (json!({"name": "n", "url": 5, "output": "void"}), "url"),
        (json!({"name": "n", "url": "http://a/b.m3u8"}), "output"),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "nope"}),
            "output",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "void", "concurrency": 0}),
            "concurrency",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "void", "concurrency": -3}),
            "concurrency",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "void", "concurrency": "4"}),
            "concurrency",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "void", "window_size": 0}),
            "window_size",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "void", "window_size": -2}),
            "window_size",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "void", "bogus": 1}),
            "bogus",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "dir", "payload": {}}),
            "payload.path",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "dir", "payload": {"path": 3}}),
            "payload.path",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "s3", "payload": {}}),
            "payload.bucket",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "s3", "payload": {"bucket": "b", "endpoint": "http://127.0.0.1:1"}}),
            "payload.allowHttp",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "s3", "payload": {"bucket": "b", "endpoint": "nope"}}),
            "payload.endpoint",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "mediapackage", "payload": {}}),
            "payload.ingestUrls",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "mediapackage", "payload": {"ingestUrls": []}}),
            "payload.ingestUrls",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "mediapackage", "payload": {"ingestUrls": "x"}}),
            "payload.ingestUrls",
        ),
        (
            mp(json!({"username": "u", "password": "p"})),
            "payload.ingestUrls[0].url",
        ),
        (mp(json!({"url": "nope"})), "payload.ingestUrls[0].url"),
        (
            mp(json!({"url": "ftp://h/channel"})),
            "payload.ingestUrls[0].url",
        ),
        (
            mp(json!({"url": "http://h/channel", "username": "u"})),
            "payload.ingestUrls[0].password",
        ),
        (
            mp(json!({"url": "http://h/channel", "username": 1, "password": "p"})),
            "payload.ingestUrls[0].username",
        ),
        (
            json!({"name": "n", "url": "http://a/b.m3u8", "output": "void", "payload": {"x": 1}}),
            "payload.x",
        ),
    ];
    for (body, field) in cases {
        let r = client
            .post(format!("{base}/api/v1/fetchers"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_api_error(r, 400, field, &body.to_string()).await;
    }
    // Unknown output lists the known ones.
    let (_, err) = post(
        &client,
        &base,
        json!({"name": "n", "url": "http://a/b.m3u8", "output": "nope"}),
    )
    .await;
    let known = err["detail"]["known_outputs"].as_array().unwrap();
    for o in ["dir", "mediapackage", "s3", "void"] {
        assert!(known.contains(&json!(o)), "{err}");
    }
    // Not JSON at all.
    let r = client
        .post(format!("{base}/api/v1/fetchers"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = client
        .post(format!("{base}/api/v1/fetchers"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    // Nothing was created.
    let list = get_json(&client, format!("{base}/api/v1/fetchers")).await;
    assert_eq!(list, json!([]));
    let _ = tmp;
}

#[tokio::test]
async fn same_destination_is_409_and_failing_fetchers_stay_listed() {
    let pp = service(":memory:");
    let (base, _task) = serve(&pp).await;
    let client = reqwest::Client::new();
    let tmp = tempfile::tempdir().unwrap();
    let (status, created) = post(&client, &base, valid(tmp.path())).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let (status, err) = post(&client, &base, valid(tmp.path())).await;
    assert_eq!(status, 409, "{err}");
    assert!(err["error"].as_str().unwrap().contains(&id), "{err}");
    // Same ingest folder written two ways is the same destination too.
    let mp = |u: &str| json!({"name": "n", "url": "http://127.0.0.1:9/m.m3u8", "output": "mediapackage", "payload": {"ingestUrls": [{"url": u}]}});
    assert_eq!(
        post(&client, &base, mp("http://127.0.0.1:9/in/channel"))
            .await
            .0,
        201
    );
    assert_eq!(
        post(&client, &base, mp("http://127.0.0.1:9/in/channel.m3u8"))
            .await
            .0,
        409
    );

    // The source (port 9, discard) is unreachable: the fetcher is listed as failing.
    testkit::wait_until(Duration::from_secs(10), "state failing", || {
        let (c, u) = (client.clone(), format!("{base}/api/v1/fetchers/{id}"));
        async move {
            let f = get_json(&c, u).await;
            f["state"] == "failing"
                && f["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("127.0.0.1:9"))
        }
    })
    .await
    .unwrap();
    let list = get_json(&client, format!("{base}/api/v1/fetchers")).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    for k in [
        "id",
        "name",
        "url",
        "output",
        "state",
        "last_error",
        "segments_pushed",
        "bytes_pushed",
        "lag_seconds",
        "created_at",
    ] {
        assert!(list[0].get(k).is_some(), "missing {k} in {}", list[0]);
    }
    assert!(list.to_string().find("password").is_none());

    // Deleted once; then it is gone.
    let fetcher_url = format!("{base}/api/v1/fetchers/{id}");
    for (method, status) in [
        (reqwest::Method::DELETE, 204),
        (reqwest::Method::GET, 404),
        (reqwest::Method::DELETE, 404),
    ] {
        let r = client
            .request(method.clone(), &fetcher_url)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{method} after delete");
    }
    // The destination is free again.
    assert_eq!(post(&client, &base, valid(tmp.path())).await.0, 201);

    // Health, metrics, docs.
    for p in [
        "/healthz",
        "/metrics",
        "/api/docs",
        "/api/docs/openapi.json",
    ] {
        assert_eq!(get_status(&client, format!("{base}{p}")).await, 200, "{p}");
    }
}

#[tokio::test]
async fn api_token_is_required_when_set() {
    let pp = pullpush::PullPush::new(pullpush::Config {
        api_token: Some("s3cret".into()),
        ..Default::default()
    })
    .unwrap();
    let (base, _task) = serve(&pp).await;
    let client = reqwest::Client::new();
    assert_eq!(
        get_status(&client, format!("{base}/api/v1/fetchers")).await,
        401
    );
    let r = client
        .get(format!("{base}/api/v1/fetchers"))
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(get_status(&client, format!("{base}/healthz")).await, 200);
}
