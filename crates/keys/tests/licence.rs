//! The ClearKey licence (W3C EME "Clear Key" license request / response format), its CORS
//! for players on other origins, the wrong-key licence, and the fault switch.

use base64::Engine;
use keys::{KeyServer, KeyServerConfig};

async fn start(token: Option<&str>) -> (String, KeyServer) {
    let server = KeyServer::new(KeyServerConfig {
        seed: "licence".into(),
        public_url: None,
        api_token: token.map(Into::into),
    });
    let router = server
        .router()
        .merge(web::common_routes())
        .layer(web::cors());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}"), server)
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

async fn licence(url: &str, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("origin", "http://player.example")
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn licence_answers_the_minted_key_of_each_kid() {
    let (base, server) = start(None).await;
    let (a, b) = ([1u8; 16], [2u8; 16]);
    let body = format!(
        r#"{{"kids":["{}","{}"],"type":"temporary"}}"#,
        b64url(&a),
        b64url(&b)
    );
    let r = licence(&format!("{base}/clearkey/license"), &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["type"], "temporary");
    let keys = json["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for (k, kid) in keys.iter().zip([a, b]) {
        assert_eq!(k["kty"], "oct");
        assert_eq!(k["kid"], b64url(&kid));
        assert_eq!(k["k"], b64url(&server.key(&kid)));
        assert!(
            !k["k"].as_str().unwrap().contains('='),
            "base64url without padding"
        );
    }
    // The wrong-key licence: same shape, other keys.
    let r = licence(&format!("{base}/clearkey/wrong/license"), &body).await;
    assert_eq!(r.status(), 200);
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["keys"][0]["kid"], b64url(&a));
    assert_ne!(json["keys"][0]["k"], b64url(&server.key(&a)));
    // A player's preflight.
    let pre = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{base}/clearkey/license"))
        .header("origin", "http://player.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 200);
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn bad_licence_requests_are_4xx_json_naming_the_field() {
    let (base, _) = start(None).await;
    let url = format!("{base}/clearkey/license");
    for (body, field) in [
        ("{", None),
        ("{}", Some("kids")),
        (r#"{"kids":[]}"#, Some("kids")),
        (r#"{"kids":["AAAA"]}"#, Some("kids[0]")),
        (r#"{"kids":["not base64!"]}"#, Some("kids[0]")),
        (r#"{"kids":[7]}"#, Some("kids[0]")),
        (
            r#"{"kids":["AQEBAQEBAQEBAQEBAQEBAQ"],"type":"forever"}"#,
            Some("type"),
        ),
    ] {
        let r = licence(&url, body).await;
        assert_eq!(r.status(), 400, "{body}");
        let json: serde_json::Value = r.json().await.unwrap();
        assert!(json["error"].is_string(), "{body}: {json}");
        if let Some(f) = field {
            assert_eq!(json["field"], f, "{body}: {json}");
        }
    }
    // Padded base64url is accepted too (some CDMs pad).
    let r = licence(&url, r#"{"kids":["AQEBAQEBAQEBAQEBAQEBAQ=="]}"#).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_fault_switch_is_a_guarded_control_api() {
    let (base, _) = start(Some("tok")).await;
    let c = reqwest::Client::new();
    let r = c.get(format!("{base}/api/v1/fault")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = c
        .put(format!("{base}/api/v1/fault"))
        .bearer_auth("tok")
        .json(&serde_json::json!({"mode": "garbage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .put(format!("{base}/api/v1/fault"))
        .bearer_auth("tok")
        .json(&serde_json::json!({"mode": "sometimes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let json: serde_json::Value = r.json().await.unwrap();
    assert_eq!(json["field"], "mode");
    let r = c
        .post(format!("{base}/speke/v2"))
        .header("x-speke-version", "2.0")
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("not CPIX"));
    let r = c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
