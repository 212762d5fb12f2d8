//! Refusals: wrong password, replayed and expired nonces, path traversal, oversized bodies,
//! unknown channels, bad content, start outside the window, bad API input.

mod common;

use std::sync::Arc;

use clock::ManualClock;
use common::*;
use origin::Origin;
use testkit::http::{assert_api_error, get_json, get_status, get_text};

#[tokio::test]
async fn refusals() {
    let clock = ManualClock::at(chrono::Utc::now());
    let c2 = clock.clone();
    let r = start(move |c| {
        Origin::with_parts(
            c,
            Arc::new(c2),
            Arc::new(origin::store::MemoryStore::new()),
            None,
        )
    })
    .await;
    let view = create(&r, serde_json::json!({"id": "news"})).await;
    assert_eq!(view.ingest.len(), 2);
    assert_ne!(view.ingest[0].username, view.ingest[1].username);
    // MediaPackage-style: the URL names the file stem; files go into its folder.
    assert_eq!(view.ingest[0].url, format!("{}/in/news/1/channel", r.base));
    assert_eq!(view.ingest[1].url, format!("{}/in/news/2/channel", r.base));
    let base = view.ingest[0]
        .url
        .strip_suffix("/channel")
        .unwrap()
        .to_string();

    // No credentials: 401 with SHA-256 and MD5 challenges.
    let resp = r
        .http
        .put(format!("{base}/a.ts"))
        .body(TS_PACKET.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let ch: Vec<String> = resp
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        ch[0].contains("algorithm=SHA-256") && ch[1].contains("algorithm=MD5"),
        "{ch:?}"
    );

    // Right password works with both algorithms.
    for algo in ["SHA-256", "MD5"] {
        let mut c = DigestPut::from_view(&view, 0);
        c.algorithm = algo;
        c.put_created(&format!("{base}/a.ts"), TS_PACKET.to_vec())
            .await;
    }
    // testkit's MD5-only Digest client picks the MD5 challenge among the two offered.
    let i = &view.ingest[0];
    let resp = testkit::digest::send(
        &r.http,
        reqwest::Method::PUT,
        &format!("{base}/t.ts"),
        &i.username,
        i.password.as_deref().unwrap(),
        Some(TS_PACKET.to_vec()),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    // The other ingest's credentials do not open ingest 1: 401 with a fresh challenge.
    let other = &view.ingest[1];
    let mut p = challenge(&r, "/in/news/1/a.ts").await;
    let h = answer(
        &mut p,
        &other.username,
        other.password.as_deref().unwrap(),
        "/in/news/1/a.ts",
    );
    let resp = put_authorized(&r, "/in/news/1/a.ts", h).await;
    assert_eq!(resp.status(), 401, "wrong user");
    assert!(
        resp.headers().contains_key("www-authenticate"),
        "fresh challenge"
    );

    // Wrong password: 401 with a fresh challenge.
    let mut p = challenge(&r, "/in/news/1/a.ts").await;
    let h = answer(&mut p, &view.ingest[0].username, "wrong", "/in/news/1/a.ts");
    let resp = put_authorized(&r, "/in/news/1/a.ts", h).await;
    assert_eq!(resp.status(), 401);
    let fresh = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(fresh.contains("nonce=") && !fresh.contains("stale=true"));

    // Replay of a (nonce, nc) pair is refused; expired nonce gets stale=true.
    let good = &view.ingest[0];
    let (user, pass) = (good.username.as_str(), good.password.as_deref().unwrap());
    let mut p = challenge(&r, "/in/news/1/b.ts").await;
    let h = answer(&mut p, user, pass, "/in/news/1/b.ts");
    assert_eq!(
        put_authorized(&r, "/in/news/1/b.ts", h.clone())
            .await
            .status(),
        201
    );
    let replay = put_authorized(&r, "/in/news/1/b.ts", h).await;
    assert_eq!(replay.status(), 401, "replayed nonce count");
    let h2 = answer(&mut p, user, pass, "/in/news/1/b.ts"); // nc = 2
    clock.advance(std::time::Duration::from_secs(
        origin::digest::NONCE_TTL_SECS as u64 + 1,
    ));
    let stale = put_authorized(&r, "/in/news/1/b.ts", h2).await;
    assert_eq!(stale.status(), 401);
    assert!(
        stale.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("stale=true")
    );

    let c = DigestPut::from_view(&view, 0);
    // Path traversal, plain and encoded, sent raw (HTTP clients normalize dot segments).
    for p in [
        "../x.ts",
        "a/../../x.ts",
        "%2e%2e/x.ts",
        "a/%2E%2E/b.ts",
        "a/%2fetc.ts",
        "a//b.ts",
        "a/./b.ts",
        "a%5c..%5cb.ts",
        "../../../etc/passwd",
    ] {
        let raw = raw_request(
            &r.base,
            &format!("PUT /in/news/1/{p} HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n"),
        )
        .await;
        assert!(raw.starts_with("HTTP/1.1 400"), "{p}: {raw}");
    }
    // Normalized by the client, ../ just leaves the ingest URL: not found, never written.
    let resp = c
        .put(&format!("{base}/../../x.ts"), TS_PACKET.to_vec())
        .await;
    assert!(resp.status().is_client_error());
    for (url, body, status) in [
        // Body over the limit.
        (format!("{base}/big.ts"), vec![0x47u8; 5 * 1024 * 1024], 413),
        // Wrong content.
        (format!("{base}/x.ts"), b"hello".to_vec(), 400),
        (format!("{base}/x.m3u8"), b"not a playlist".to_vec(), 400),
        (format!("{base}/x.exe"), b"MZ".to_vec(), 415),
        // Unknown channel / ingest.
        (
            format!("{}/in/nope/1/a.ts", r.base),
            TS_PACKET.to_vec(),
            404,
        ),
        (
            format!("{}/in/news/3/a.ts", r.base),
            TS_PACKET.to_vec(),
            404,
        ),
    ] {
        assert_eq!(c.put(&url, body).await.status(), status, "{url}");
    }
    assert_eq!(
        get_status(&r.http, format!("{}/out/nope/default/index.m3u8", r.base)).await,
        404
    );

    // Ingest a little so playback exists, then start outside the window -> 400 JSON.
    for i in 0..3 {
        c.put_created(&format!("{base}/channel_1_{i}.ts"), TS_PACKET.to_vec())
            .await;
    }
    let pl = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2,\nchannel_1_0.ts\n#EXTINF:2,\nchannel_1_1.ts\n#EXTINF:2,\nchannel_1_2.ts\n";
    c.put_created(&format!("{base}/channel_1.m3u8"), pl.into())
        .await;
    let out = format!("{}/out/news/default", r.base);
    let (status, text) = get_text(&r.http, format!("{out}/channel_1.m3u8")).await;
    assert_eq!(status, 200);
    assert!(text.contains("channel_1/2.ts"), "{text}");
    for start in [
        "2000-01-01T00:00:00Z",
        "yesterday",
        "4102444800", // in the future
    ] {
        let url = format!("{out}/channel_1.m3u8?start={start}");
        let resp = r.http.get(&url).send().await.unwrap();
        assert_api_error(resp, 400, "start", &url).await;
    }

    // API input errors name the field.
    for (spec, field) in [
        (
            serde_json::json!({"id": "x", "endpoints": [{"id": "a", "manifest_window_seconds": 0}]}),
            "endpoints[0].manifest_window_seconds",
        ),
        (
            serde_json::json!({"id": "x", "endpoints": [{"id": "a", "ad_markers": "loud"}]}),
            "endpoints[0].ad_markers",
        ),
        // CMAF + AES-128 is refused at creation.
        (
            serde_json::json!({"id": "x", "endpoints": [{"id": "a", "packaging": "cmaf",
                "encryption": {"aes128": {"key_rotation_seconds": 10}}}]}),
            "endpoints[0].encryption",
        ),
        (serde_json::json!({"id": "../x"}), "id"),
    ] {
        let resp = post_channel(&r, &spec).await;
        assert_api_error(resp, 400, field, &spec.to_string()).await;
    }
    let resp = post_channel(&r, &serde_json::json!({"id": "news"})).await;
    assert_eq!(resp.status(), 409);
    // Endpoint CRUD.
    let ep = format!("{}/api/v1/channels/news/endpoints", r.base);
    let resp = r
        .http
        .post(&ep)
        .json(&serde_json::json!({"id": "late", "time_delay_seconds": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = r
        .http
        .put(format!("{ep}/late"))
        .json(&serde_json::json!({"id": "late", "i_frames": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = get_json(&r.http, format!("{ep}/late")).await;
    assert_eq!(got["i_frames"], true);
    assert_eq!(got["url"], format!("{}/out/news/late/index.m3u8", r.base));
    let resp = r.http.delete(format!("{ep}/late")).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(get_status(&r.http, format!("{ep}/late")).await, 404);
    // The view never shows passwords again.
    let v = get_json(&r.http, format!("{}/api/v1/channels/news", r.base)).await;
    assert!(v["ingest"][0].get("password").is_none());
    // OpenAPI, health, CORS, HEAD.
    for path in ["/api/docs/openapi.json", "/healthz"] {
        assert_eq!(
            get_status(&r.http, format!("{}{path}", r.base)).await,
            200,
            "{path}"
        );
    }
    let head = r
        .http
        .head(format!("{out}/channel_1.m3u8"))
        .header("origin", "http://player.example")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["access-control-allow-origin"], "*");
    let resp = r
        .http
        .delete(format!("{}/api/v1/channels/news", r.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
}

#[tokio::test]
async fn api_token_guards_control_api_only() {
    let r = start(|mut c| {
        c.api_token = Some("sekret".into());
        Origin::with_parts(
            c,
            Arc::new(clock::SystemClock),
            Arc::new(origin::store::MemoryStore::new()),
            None,
        )
    })
    .await;
    let url = format!("{}/api/v1/channels", r.base);
    assert_eq!(get_status(&r.http, &url).await, 401);
    let resp = r.http.get(&url).bearer_auth("sekret").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        get_status(&r.http, format!("{}/healthz", r.base)).await,
        200
    );
}

/// The first (SHA-256) Digest challenge an unauthenticated PUT of a TS packet to `path` gets.
async fn challenge(r: &Running, path: &str) -> digest_auth::WwwAuthenticateHeader {
    let resp = r
        .http
        .put(format!("{}{path}", r.base))
        .body(TS_PACKET.to_vec())
        .send()
        .await
        .unwrap();
    digest_auth::parse(resp.headers()["www-authenticate"].to_str().unwrap()).unwrap()
}

/// The `Authorization` value answering `prompt` for a PUT of `path` (each call the next nc).
fn answer(
    prompt: &mut digest_auth::WwwAuthenticateHeader,
    user: &str,
    pass: &str,
    path: &str,
) -> String {
    let ctx = digest_auth::AuthContext::new_with_method(
        user,
        pass,
        path,
        Option::<&[u8]>::None,
        digest_auth::HttpMethod::from("PUT"),
    );
    prompt.respond(&ctx).unwrap().to_string()
}

/// PUT a TS packet to `path` with the given `Authorization` value.
async fn put_authorized(r: &Running, path: &str, authorization: String) -> reqwest::Response {
    r.http
        .put(format!("{}{path}", r.base))
        .header("authorization", authorization)
        .body(TS_PACKET.to_vec())
        .send()
        .await
        .unwrap()
}

async fn raw_request(base: &str, req: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}
