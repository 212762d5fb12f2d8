//! The verifier against AWS's published test vectors (`tests/sigv4-suite`), and what it
//! refuses when anything signed is changed.

use std::path::PathBuf;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::{DateTime, Utc};

use super::*;

struct Case {
    name: String,
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
    canonical: String,
    string_to_sign: String,
    key: KeyPair,
    region: String,
    service: String,
    time: DateTime<Utc>,
}

fn suite() -> Vec<Case> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sigv4-suite");
    let mut cases: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            e.file_type().unwrap().is_dir().then(|| case(e.path()))
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(cases.len() >= 30, "the suite is missing: {}", dir.display());
    cases
}

fn case(dir: PathBuf) -> Case {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let ctx: serde_json::Value = serde_json::from_str(&read("context.json")).unwrap();
    let raw = read("signed-request.txt");
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let (method, rest) = request_line.split_once(' ').unwrap();
    // One upstream file has no HTTP version on its request line.
    let target = rest.strip_suffix(" HTTP/1.1").unwrap_or(rest);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            // As an HTTP server does: optional whitespace around the value is not part of it.
            HeaderValue::from_str(value.trim()).unwrap(),
        );
    }
    let time = DateTime::parse_from_rfc3339(ctx["timestamp"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    Case {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: body.as_bytes().to_vec(),
        canonical: read("canonical-request.txt"),
        string_to_sign: read("string-to-sign.txt"),
        key: KeyPair::new(
            ctx["credentials"]["access_key_id"].as_str().unwrap(),
            ctx["credentials"]["secret_access_key"].as_str().unwrap(),
        ),
        region: ctx["region"].as_str().unwrap().to_string(),
        service: ctx["service"].as_str().unwrap().to_string(),
        time,
    }
}

impl Case {
    fn verifier(&self) -> Verifier {
        Verifier::new(
            AccessKeys::new([self.key.clone()]).unwrap(),
            &self.service,
            &self.region,
            "ForbiddenException",
        )
    }
    fn request(&self) -> SignedRequest<'_> {
        SignedRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }
    fn uses_token(&self) -> bool {
        self.headers.contains_key("x-amz-security-token")
    }
}

#[test]
fn every_suite_request_verifies_at_its_time() {
    for c in suite() {
        let got = c.verifier().verify(&c.request(), c.time);
        if c.uses_token() {
            assert_eq!(got, Err(Rejection::SessionToken), "{}", c.name);
        } else {
            assert_eq!(
                got,
                Ok(Principal {
                    access_key_id: c.key.access_key_id.clone()
                }),
                "{}",
                c.name
            );
        }
    }
}

#[test]
fn canonical_request_and_string_to_sign_match_the_suite_byte_for_byte() {
    for c in suite() {
        let auth =
            parse_authorization(c.headers.get("authorization").unwrap().to_str().unwrap()).unwrap();
        let body_hash = hex::encode(Sha256::digest(&c.body));
        let canonical = canonical_request(&c.request(), &auth.signed_headers, &body_hash).unwrap();
        assert_eq!(canonical, c.canonical, "{}", c.name);
        let amz = c.headers.get("x-amz-date").unwrap().to_str().unwrap();
        let scope = format!(
            "{}/{}/{}/aws4_request",
            auth.date, auth.region, auth.service
        );
        assert_eq!(
            string_to_sign(amz, &scope, &canonical),
            c.string_to_sign.trim_end(),
            "{}",
            c.name
        );
    }
}

#[test]
fn anything_changed_after_signing_is_refused() {
    for c in suite().into_iter().filter(|c| !c.uses_token()) {
        let v = c.verifier();
        let mut body = c.body.clone();
        body.push(b'x');
        let changed = SignedRequest {
            body: &body,
            ..c.request()
        };
        let want = if c.headers.contains_key("x-amz-content-sha256") {
            Rejection::BodyHash
        } else {
            Rejection::Mismatch
        };
        assert_eq!(v.verify(&changed, c.time), Err(want), "{}: body", c.name);
        let other_method = if c.method == "GET" { "POST" } else { "GET" };
        let changed = SignedRequest {
            method: other_method,
            ..c.request()
        };
        assert_eq!(
            v.verify(&changed, c.time),
            Err(Rejection::Mismatch),
            "{}: method",
            c.name
        );
        let path = format!("{}x", c.path);
        let changed = SignedRequest {
            path: &path,
            ..c.request()
        };
        assert_eq!(
            v.verify(&changed, c.time),
            Err(Rejection::Mismatch),
            "{}: path",
            c.name
        );
        let query = format!("{}&extra=1", c.query);
        let changed = SignedRequest {
            query: &query,
            ..c.request()
        };
        assert_eq!(
            v.verify(&changed, c.time),
            Err(Rejection::Mismatch),
            "{}: query",
            c.name
        );
        let mut headers = c.headers.clone();
        headers.insert("host", HeaderValue::from_static("other.example.com"));
        let changed = SignedRequest {
            headers: &headers,
            ..c.request()
        };
        assert_eq!(
            v.verify(&changed, c.time),
            Err(Rejection::Mismatch),
            "{}: host",
            c.name
        );
    }
}

#[test]
fn wrong_secret_key_scope_and_time_are_refused_with_aws_codes() {
    let c = suite()
        .into_iter()
        .find(|c| c.name == "post-vanilla")
        .unwrap();
    let r = c.request();
    let wrong_secret = Verifier::new(
        AccessKeys::new([KeyPair::new("AKIDEXAMPLE", "not-the-secret")]).unwrap(),
        "service",
        "us-east-1",
        "ForbiddenException",
    );
    let e = wrong_secret.verify(&r, c.time).unwrap_err();
    assert_eq!(e, Rejection::Mismatch);
    assert_eq!(e.code("ForbiddenException"), "InvalidSignatureException");

    let other_key = Verifier::new(
        AccessKeys::new([KeyPair::new("AKIDOTHER", "x")]).unwrap(),
        "service",
        "us-east-1",
        "ForbiddenException",
    );
    let e = other_key.verify(&r, c.time).unwrap_err();
    assert_eq!(e.code("ForbiddenException"), "UnrecognizedClientException");

    let keys = AccessKeys::new([c.key.clone()]).unwrap();
    let other_region = Verifier::new(keys.clone(), "service", "eu-west-1", "ForbiddenException");
    let e = other_region.verify(&r, c.time).unwrap_err();
    assert!(
        matches!(&e, Rejection::WrongScope(m) if m.contains("'us-east-1'")),
        "{e:?}"
    );
    assert_eq!(e.code("ForbiddenException"), "InvalidSignatureException");
    let other_service = Verifier::new(keys, "mediapackage", "us-east-1", "ForbiddenException");
    let e = other_service.verify(&r, c.time).unwrap_err();
    assert!(
        matches!(&e, Rejection::WrongScope(m) if m.contains("'mediapackage'")),
        "{e:?}"
    );

    let v = c.verifier();
    let minutes = |m| chrono::TimeDelta::minutes(m);
    assert!(v.verify(&r, c.time + minutes(5)).is_ok());
    assert!(v.verify(&r, c.time - minutes(5)).is_ok());
    let e = v.verify(&r, c.time + minutes(6)).unwrap_err();
    assert_eq!(
        e,
        Rejection::Expired(
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z \
             (20150830T124200Z - 5 min.)"
                .into()
        )
    );
    assert_eq!(e.code("ForbiddenException"), "InvalidSignatureException");
    assert!(matches!(
        v.verify(&r, c.time - minutes(6)),
        Err(Rejection::Expired(_))
    ));

    let none = HeaderMap::new();
    let unsigned = SignedRequest {
        headers: &none,
        ..r
    };
    let e = v.verify(&unsigned, c.time).unwrap_err();
    assert_eq!(e, Rejection::Missing);
    assert_eq!(e.code("ForbiddenException"), "ForbiddenException");
}

#[test]
fn content_sha256_header_must_match_the_body() {
    let c = suite()
        .into_iter()
        .find(|c| c.name == "post-x-www-form-urlencoded")
        .unwrap();
    assert!(c.headers.contains_key("x-amz-content-sha256"));
    let v = c.verifier();
    let body = b"Param1=value2".to_vec();
    let changed = SignedRequest {
        body: &body,
        ..c.request()
    };
    assert_eq!(v.verify(&changed, c.time), Err(Rejection::BodyHash));
}

#[test]
fn malformed_authorization_is_incomplete() {
    for bad in [
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=A/1/r/s/aws4_request, SignedHeaders=host",
        "AWS4-HMAC-SHA256 Credential=A/1/r/s, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=A/1/r/s/aws4_request/x, SignedHeaders=host, Signature=00",
        "AWS AKID:sig",
        "AWS4-HMAC-SHA256 Credential=A/1/r/s/aws4_request, SignedHeaders=host;;x, Signature=00",
    ] {
        assert!(
            matches!(parse_authorization(bad), Err(Rejection::Incomplete(_))),
            "{bad}"
        );
    }
}

#[test]
fn canonical_uri_and_query_rules() {
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(canonical_uri("/a/./b/../c//d/"), "/a/c/d/");
    assert_eq!(canonical_uri("/tags/arn%3Aaws"), "/tags/arn%253Aaws");
    assert_eq!(canonical_query("b=2&a=1&a=0"), "a=0&a=1&b=2");
    assert_eq!(canonical_query("k=a%20b&e"), "e=&k=a%20b");
    assert_eq!(canonical_query("k=a+b"), "k=a%2Bb");
}
