//! `web::sigv4` against botocore's own signer (boto3's and the AWS CLI's): requests signed
//! by botocore pass through the middleware, nested under a prefix as the services are in
//! `lineup demo`; a wrong secret, an unknown key, another region or service, a signature
//! six minutes old or ahead, a body changed after signing and an unsigned request get 403
//! with AWS's error types. Needs python3 with botocore (`pip install boto3`).

use std::process::Command;
use std::sync::Arc;

use axum::extract::Extension;
use axum::routing::{any, get};
use axum::{Json, Router};
use web::sigv4::{AccessKeys, KeyPair, Principal, Verifier, require_sigv4};

const KEY: &str = "AKIALINEUPTEST";
const SECRET: &str = "Zm9vYmFy/secret+with/slashes";

async fn echo(Extension(p): Extension<Principal>, body: String) -> Json<serde_json::Value> {
    Json(serde_json::json!({"key": p.access_key_id, "body": body}))
}

#[tokio::test]
async fn botocore_signatures_pass_and_bad_ones_get_aws_errors() {
    let python = testkit::require_peer!("python3:botocore");
    let keys = AccessKeys::new([KeyPair::new(KEY, SECRET)]).unwrap();
    let verifier = Arc::new(Verifier::new(
        keys,
        "mediapackage",
        "us-east-1",
        "ForbiddenException",
    ));
    let aws = Router::new()
        .route("/things", any(echo))
        .route("/tags/{arn}", any(echo))
        .route_layer(axum::middleware::from_fn_with_state(
            verifier,
            require_sigv4,
        ));
    let app = Router::new()
        .nest("/prefix", aws)
        .route("/open", get(|| async { "open" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sigv4_botocore.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args([
                script,
                &format!("http://{addr}/prefix"),
                KEY,
                SECRET,
                "us-east-1",
                "mediapackage",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let results: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let get = |case: &str| {
        results
            .iter()
            .find(|r| r["case"] == case)
            .unwrap_or_else(|| panic!("no case {case}: {results:?}"))
    };
    for ok in [
        "get-query",
        "post-json",
        "encoded-path",
        "delete-query",
        "four-minutes-old",
    ] {
        let r = get(ok);
        assert_eq!(r["status"], 200, "{r}");
        let body: serde_json::Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["key"], KEY, "{r}");
    }
    let posted: serde_json::Value =
        serde_json::from_str(get("post-json")["body"].as_str().unwrap()).unwrap();
    assert!(posted["body"].as_str().unwrap().contains("\"ch1\""));
    for (case, code, says) in [
        (
            "wrong-secret",
            "InvalidSignatureException",
            "does not match",
        ),
        (
            "unknown-key",
            "UnrecognizedClientException",
            "security token",
        ),
        ("other-region", "InvalidSignatureException", "valid region"),
        (
            "other-service",
            "InvalidSignatureException",
            "'mediapackage'",
        ),
        (
            "six-minutes-old",
            "InvalidSignatureException",
            "Signature expired",
        ),
        (
            "six-minutes-ahead",
            "InvalidSignatureException",
            "not yet current",
        ),
        (
            "body-changed",
            "InvalidSignatureException",
            "does not match",
        ),
        (
            "unsigned",
            "ForbiddenException",
            "Missing Authentication Token",
        ),
    ] {
        let r = get(case);
        assert_eq!(r["status"], 403, "{r}");
        assert_eq!(r["code"], code, "{r}");
        let body: serde_json::Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        assert!(body["message"].as_str().unwrap().contains(says), "{r}");
    }
}
