//! The control plane is closed by default: outputs that touch the server's own resources
//! are confined (`dir` under its root, `s3` with the server's credentials only for allowed
//! buckets), browsers on other origins cannot create fetchers, two concurrent creations of
//! one destination give one 201 and one 409, and a fetcher whose transfers fail says so.

use std::time::Duration;

use pullpush::{Config, FetcherState, NewFetcher, OutputPolicy, PullPush};
use serde_json::{Value, json};
use testkit::http::assert_api_error;

fn confined(root: &std::path::Path, buckets: &[&str]) -> PullPush {
    PullPush::new(Config {
        outputs: OutputPolicy {
            dir_root: root.to_path_buf(),
            s3_allowed_buckets: buckets.iter().map(|b| b.to_string()).collect(),
        },
        ..Config::default()
    })
    .unwrap()
}

fn dir_fetcher(path: Value) -> Value {
    json!({"name": "n", "url": "http://127.0.0.1:9/m.m3u8", "output": "dir", "payload": {"path": path}})
}

/// Serve the router on a real listener with the production edge (`web::serve`).
async fn serve_edge(pp: &PullPush) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(web::serve_until(
        listener,
        pp.router(),
        std::future::pending(),
    ));
    format!("http://{addr}")
}

#[tokio::test]
async fn dir_outputs_stay_inside_the_root() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let pp = confined(root.path(), &[]);
    let base = serve_edge(&pp).await;
    let client = reqwest::Client::new();
    let outside = elsewhere.path().join("victim");
    for (path, why) in [
        (json!(outside), "an absolute path outside the root"),
        (json!("../escape"), "a relative path climbing out"),
        (json!("a/../../escape"), "'..' in the middle"),
        (
            json!(root.path().join("x/../../escape")),
            "an absolute path inside the root that climbs out",
        ),
    ] {
        let r = client
            .post(format!("{base}/api/v1/fetchers"))
            .json(&dir_fetcher(path))
            .send()
            .await
            .unwrap();
        assert_api_error(r, 400, "payload.path", why).await;
    }
    assert!(!outside.exists(), "nothing may be written outside the root");

    // Relative and absolute-inside paths are accepted, and land under the root.
    let r = client
        .post(format!("{base}/api/v1/fetchers"))
        .json(&dir_fetcher(json!("live/one")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let root_abs = std::path::absolute(root.path()).unwrap();
    let dest = created["destination"].as_str().unwrap();
    assert_eq!(
        dest,
        format!("dir:{}", root_abs.join("live/one").display()),
        "{created}"
    );
    let r = client
        .post(format!("{base}/api/v1/fetchers"))
        .json(&dir_fetcher(json!(root.path().join("live/two"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn s3_with_server_credentials_only_for_allowed_buckets() {
    let root = tempfile::tempdir().unwrap();
    let pp = confined(root.path(), &["allowed"]);
    let base = serve_edge(&pp).await;
    let client = reqwest::Client::new();
    let s3 = |payload: Value| json!({"name": "n", "url": "http://127.0.0.1:9/m.m3u8", "output": "s3", "payload": payload});
    // The server's own credentials for a bucket nobody allowed: refused.
    let r = client
        .post(format!("{base}/api/v1/fetchers"))
        .json(&s3(
            json!({"bucket": "someone-elses", "region": "us-east-1"}),
        ))
        .send()
        .await
        .unwrap();
    assert_api_error(
        r,
        400,
        "payload.bucket",
        "server credentials, unlisted bucket",
    )
    .await;
    // An allowed bucket, or the caller's own keys: accepted.
    for payload in [
        json!({"bucket": "allowed", "region": "us-east-1"}),
        json!({"bucket": "theirs", "region": "us-east-1", "accessKeyId": "k", "secretAccessKey": "s"}),
    ] {
        let r = client
            .post(format!("{base}/api/v1/fetchers"))
            .json(&s3(payload.clone()))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "{payload}: {body}");
        // Secrets never come back.
        assert!(!body.to_string().contains("secretAccessKey"), "{body}");
    }
    let list = client
        .get(format!("{base}/api/v1/fetchers"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!list.contains("\"s\""), "{list}");
}

/// What a browser does for a page on another origin: a preflight for a JSON POST, and a
/// "simple" POST that needs no preflight. Neither creates anything.
#[tokio::test]
async fn browsers_on_other_origins_cannot_create_fetchers() {
    let root = tempfile::tempdir().unwrap();
    let pp = confined(root.path(), &[]);
    let base = serve_edge(&pp).await;
    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/fetchers");
    let pre = client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 403);
    assert!(pre.headers().get("access-control-allow-origin").is_none());
    let simple = client
        .post(&url)
        .header("origin", "https://evil.example")
        .header("content-type", "text/plain")
        .body(dir_fetcher(json!("x")).to_string())
        .send()
        .await
        .unwrap();
    assert_api_error(simple, 403, "origin", "simple cross-origin POST").await;
    let json_post = client
        .post(&url)
        .header("origin", "https://evil.example")
        .json(&dir_fetcher(json!("x")))
        .send()
        .await
        .unwrap();
    assert_eq!(json_post.status(), 403);
    assert!(pp.list().is_empty(), "nothing may be created");
    // Playback-style GETs stay open to any origin (the healthz route stands in for them).
    let r = client
        .get(format!("{base}/healthz"))
        .header("origin", "https://player.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    // A client that is not a browser (no Origin) still works.
    let r = client
        .post(&url)
        .json(&dir_fetcher(json!("x")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn concurrent_creations_of_one_destination_give_one_201() {
    let root = tempfile::tempdir().unwrap();
    let pp = confined(root.path(), &[]);
    let base = serve_edge(&pp).await;
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, url) = (client.clone(), format!("{base}/api/v1/fetchers"));
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&dir_fetcher(json!("same")))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("request task panicked"));
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|&s| s == 201 || s == 409),
        "{statuses:?}"
    );
    assert_eq!(pp.list().len(), 1);
}

/// The source works but every segment transfer fails (the destination folder is a file):
/// the fetcher shows `failing` and the cause, instead of stalling silently.
#[tokio::test]
async fn failing_transfers_show_failing_with_the_cause() {
    let src = testkit::fixture("ts/vod1/master.m3u8");
    let (_, server) = testkit::serve_dir(src.parent().unwrap()).await;
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("blocked"),
        b"a file where a folder should be",
    )
    .unwrap();
    let pp = confined(root.path(), &[]);
    let info = pp
        .start_fetcher(NewFetcher {
            name: "blocked".into(),
            url: server.url("master.m3u8"),
            output: "dir".into(),
            payload: json!({"path": "blocked"}),
            concurrency: Some(2),
            window_size: Some(-1),
        })
        .await
        .unwrap();
    testkit::wait_until(
        Duration::from_secs(20),
        "the fetcher to show failing",
        || {
            let f = pp.get(&info.id).unwrap();
            async move {
                f.state == FetcherState::Failing
                    && f.last_error
                        .as_deref()
                        .is_some_and(|e| e.contains("blocked"))
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {:?}", pp.get(&info.id)));
}
