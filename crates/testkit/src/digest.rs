//! Minimal HTTP Digest (RFC 7616, MD5, qop=auth) client side, so tests can talk to
//! [`Apache`](crate::Apache) and the lineup origin directly. Production code has its own
//! implementation.
//!
//! Only MD5 is spoken. A server may offer several challenges (RFC 7616 lists the preferred
//! first; the origin sends `SHA-256` then `MD5`): [`send`] answers the first one this module
//! can answer, via [`pick_challenge`].

use md5::{Digest, Md5};

/// The `Authorization` header value answering a `WWW-Authenticate: Digest ...` challenge.
/// `uri` is the request target as sent (path and query, e.g. `/live/seg1.ts`).
pub fn authorization(
    challenge: &str,
    method: &str,
    uri: &str,
    user: &str,
    password: &str,
) -> Option<String> {
    let cnonce = hex::encode(rand::random::<[u8; 8]>());
    authorization_with_cnonce(challenge, method, uri, user, password, &cnonce)
}

fn authorization_with_cnonce(
    challenge: &str,
    method: &str,
    uri: &str,
    user: &str,
    password: &str,
    cnonce: &str,
) -> Option<String> {
    let params = challenge.trim().strip_prefix("Digest")?;
    let get = |key: &str| param(params, key);
    let realm = get("realm")?;
    let nonce = get("nonce")?;
    let algorithm = get("algorithm").unwrap_or_else(|| "MD5".into());
    if !algorithm.eq_ignore_ascii_case("MD5") {
        return None;
    }
    let md5 = |s: String| hex::encode(Md5::digest(s));
    let ha1 = md5(format!("{user}:{realm}:{password}"));
    let ha2 = md5(format!("{method}:{uri}"));
    let nc = "00000001";
    let qop_auth = get("qop").is_some_and(|q| q.split(',').any(|v| v.trim() == "auth"));
    let mut h = format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm=MD5"
    );
    if qop_auth {
        let resp = md5(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
        h += &format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\", response=\"{resp}\"");
    } else {
        h += &format!(", response=\"{}\"", md5(format!("{ha1}:{nonce}:{ha2}")));
    }
    if let Some(opaque) = get("opaque") {
        h += &format!(", opaque=\"{opaque}\"");
    }
    Some(h)
}

/// Sends `method url` with Digest auth: one unauthenticated try, then the answer to its
/// challenge. Returns the final response.
pub async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    user: &str,
    password: &str,
    body: Option<Vec<u8>>,
) -> reqwest::Result<reqwest::Response> {
    let build = |auth: Option<String>| {
        let mut rb = client.request(method.clone(), url);
        if let Some(b) = body.clone() {
            rb = rb.body(b);
        }
        if let Some(a) = auth {
            rb = rb.header(reqwest::header::AUTHORIZATION, a);
        }
        rb
    };
    let first = build(None).send().await?;
    if first.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Ok(first);
    }
    let challenge = pick_challenge(
        first
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
    .map(str::to_string);
    let Some(challenge) = challenge else {
        return Ok(first);
    };
    let parsed = reqwest::Url::parse(url).expect("valid url");
    let target = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    match authorization(&challenge, method.as_str(), &target, user, password) {
        Some(auth) => build(Some(auth)).send().await,
        None => Ok(first),
    }
}

/// Among `WWW-Authenticate` values, the first Digest challenge this module can answer
/// (algorithm `MD5` or none given); if no challenge is answerable, the first Digest one.
pub fn pick_challenge<'a>(challenges: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let digest: Vec<&str> = challenges
        .into_iter()
        .filter(|v| v.trim_start().starts_with("Digest"))
        .collect();
    digest
        .iter()
        .copied()
        .find(|c| {
            c.trim()
                .strip_prefix("Digest")
                .and_then(|p| param(p, "algorithm"))
                .is_none_or(|a| a.eq_ignore_ascii_case("MD5"))
        })
        .or(digest.first().copied())
}

fn param(params: &str, key: &str) -> Option<String> {
    // key="quoted, value" or key=token; values may contain commas inside quotes.
    let mut rest = params;
    while let Some(i) = rest.find('=') {
        let k = rest[..i].rsplit([' ', '\t', ',']).next().unwrap_or("");
        let v = &rest[i + 1..];
        let (val, next) = if let Some(q) = v.strip_prefix('"') {
            let end = q.find('"')?;
            (q[..end].to_string(), &q[end + 1..])
        } else {
            let end = v.find(',').unwrap_or(v.len());
            (v[..end].trim().to_string(), &v[end..])
        };
        if k.eq_ignore_ascii_case(key) {
            return Some(val);
        }
        rest = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example() {
        // RFC 2617 3.5: Mufasa / Circle Of Life.
        let ch = r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;
        let h = authorization_with_cnonce(
            ch,
            "GET",
            "/dir/index.html",
            "Mufasa",
            "Circle Of Life",
            "0a4f113b",
        )
        .unwrap();
        assert!(
            h.contains(r#"response="6629fae49393a05397450978507c4ef1""#),
            "{h}"
        );
        assert!(
            h.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#),
            "{h}"
        );
        assert!(h.contains("qop=auth,"), "{h}");
        assert_eq!(param(ch, "qop").as_deref(), Some("auth,auth-int"));
        assert_eq!(param(ch, "realm").as_deref(), Some("testrealm@host.com"));
    }

    #[test]
    fn picks_the_md5_challenge_when_several_are_offered() {
        let sha = r#"Digest realm="r", qop="auth", algorithm=SHA-256, nonce="n1", opaque="o""#;
        let md5 = r#"Digest realm="r", qop="auth", algorithm=MD5, nonce="n1", opaque="o""#;
        let plain = r#"Digest realm="r", qop="auth", nonce="n2""#;
        assert_eq!(pick_challenge([sha, md5]), Some(md5));
        assert_eq!(
            pick_challenge(["Basic realm=\"x\"", sha, plain]),
            Some(plain)
        );
        assert_eq!(pick_challenge([sha]), Some(sha));
        assert_eq!(pick_challenge(["Basic realm=\"x\""]), None);
        assert!(authorization(sha, "PUT", "/a", "u", "p").is_none());
        let h = authorization(md5, "PUT", "/a", "u", "p").unwrap();
        assert!(
            h.contains("algorithm=MD5") && h.contains("nonce=\"n1\""),
            "{h}"
        );
    }

    #[test]
    fn htdigest_format() {
        let line = crate::apache::htdigest_line("u", "r", "p");
        assert_eq!(line, format!("u:r:{}\n", hex::encode(Md5::digest("u:r:p"))));
    }
}
