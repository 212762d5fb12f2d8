//! Server-side HTTP Digest authentication (RFC 7616) for the ingest URLs.
//!
//! Why partly hand-written: the Rust Digest crates are client-side. `http-auth` only answers
//! challenges; `digest_auth` is written for clients too, but its [`AuthorizationHeader::parse`]
//! reads the header a client sends, so we use it for parsing. What no crate provides is the
//! server's half: minting and checking nonces, verifying a response from a stored HA1 (we
//! never keep passwords), refusing replays. That is this module, about 150 lines.
//!
//! - Challenges: two `WWW-Authenticate` headers, `algorithm=SHA-256` first then `MD5`, both
//!   `qop="auth"`.
//! - Nonces carry their own issue time and an HMAC-SHA256 over it, so any replica holding
//!   the same secret can check them without shared state; after [`NONCE_TTL_SECS`] they are
//!   refused with `stale=true` (the client retries with the fresh nonce, no password
//!   prompt).
//! - Replay: a (nonce, nc) pair is accepted once. The seen set is per process and bounded:
//!   entries leave with their nonce's expiry. (Across replicas a replay inside the nonce
//!   lifetime is not detected; the nonce TTL bounds it.)
//! - The `uri` in the header must equal the request target, so a response for one path
//!   cannot be used for another.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use base64::Engine;
use chrono::{DateTime, Utc};
use digest_auth::{AlgorithmType, AuthorizationHeader, Qop};
use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};

/// Nonces expire after five minutes.
pub const NONCE_TTL_SECS: i64 = 300;
/// The realm every ingest challenge names.
pub const REALM: &str = "lineup-origin";

/// The two HA1 values kept for a user: `H(username:realm:password)` with MD5 and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ha1 {
    pub md5: String,
    pub sha256: String,
}

impl Ha1 {
    pub fn new(username: &str, password: &str) -> Self {
        let input = format!("{username}:{REALM}:{password}");
        Self {
            md5: hex::encode(Md5::digest(input.as_bytes())),
            sha256: hex::encode(Sha256::digest(input.as_bytes())),
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No or unparsable `Authorization`.
    Missing,
    /// Wrong user or password, uri mismatch, bad qop, forged nonce.
    Invalid(&'static str),
    /// The nonce is genuine but expired: answer with `stale=true`.
    Stale,
    /// This (nonce, nc) was already used.
    Replay,
}

impl Refusal {
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Missing => "missing or malformed Digest authorization",
            Refusal::Invalid(why) => why,
            Refusal::Stale => "nonce expired",
            Refusal::Replay => "nonce count replayed",
        }
    }
}

/// Mints and checks nonces; remembers used (nonce, nc) pairs until the nonce expires.
pub struct DigestAuth {
    secret: [u8; 32],
    seen: Mutex<HashMap<String, (i64, HashSet<u32>)>>,
}

type HmacSha256 = Hmac<Sha256>;

impl DigestAuth {
    pub fn new(secret: [u8; 32]) -> Self {
        Self {
            secret,
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn mac(&self, body: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("any key length");
        mac.update(b"digest-nonce|");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// A fresh nonce: base64url(issued_at_be8 | random8 | hmac16).
    pub fn nonce(&self, now: DateTime<Utc>) -> String {
        let mut body = [0u8; 16];
        body[..8].copy_from_slice(&now.timestamp().to_be_bytes());
        body[8..].copy_from_slice(&rand::random::<[u8; 8]>());
        let mac = self.mac(&body);
        let mut all = body.to_vec();
        all.extend_from_slice(&mac[..16]);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(all)
    }

    /// The issue time of a nonce we minted, or `None` if it is not ours.
    fn nonce_time(&self, nonce: &str) -> Option<i64> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(nonce)
            .ok()?;
        if raw.len() != 32 {
            return None;
        }
        let mac = self.mac(&raw[..16]);
        if !constant_time_eq(&mac[..16], &raw[16..]) {
            return None;
        }
        Some(i64::from_be_bytes(raw[..8].try_into().ok()?))
    }

    /// The `WWW-Authenticate` header values for a 401 (SHA-256 first, then MD5).
    pub fn challenges(&self, now: DateTime<Utc>, stale: bool) -> [String; 2] {
        let nonce = self.nonce(now);
        let stale = if stale { ", stale=true" } else { "" };
        let one = |algo: &str| {
            format!(
                "Digest realm=\"{REALM}\", qop=\"auth\", algorithm={algo}, nonce=\"{nonce}\", opaque=\"lineup\"{stale}"
            )
        };
        [one("SHA-256"), one("MD5")]
    }

    /// Check an `Authorization` header for `method` on `request_uri` (path and query as the
    /// client sent it). `ha1_of(username)` returns the stored HA1 for a known user.
    pub fn verify(
        &self,
        now: DateTime<Utc>,
        method: &str,
        request_uri: &str,
        authorization: Option<&str>,
        ha1_of: impl Fn(&str) -> Option<Ha1>,
    ) -> Result<String, Refusal> {
        let header = authorization.ok_or(Refusal::Missing)?;
        if !header.trim_start().starts_with("Digest") {
            return Err(Refusal::Missing);
        }
        let auth = AuthorizationHeader::parse(header).map_err(|_| Refusal::Missing)?;
        if auth.realm != REALM {
            return Err(Refusal::Invalid("wrong realm"));
        }
        if auth.qop != Some(Qop::AUTH) {
            return Err(Refusal::Invalid("qop must be auth"));
        }
        if auth.algorithm.sess || auth.userhash {
            return Err(Refusal::Invalid(
                "only MD5 and SHA-256 without -sess or userhash",
            ));
        }
        let cnonce = auth.cnonce.as_deref().unwrap_or("");
        if auth.uri != request_uri {
            return Err(Refusal::Invalid("digest uri does not match the request"));
        }
        let issued = self
            .nonce_time(&auth.nonce)
            .ok_or(Refusal::Invalid("unknown nonce"))?;
        let ha1 = ha1_of(&auth.username).ok_or(Refusal::Invalid("wrong username or password"))?;
        let nc = format!("{:08x}", auth.nc);
        let expected = match auth.algorithm.algo {
            AlgorithmType::MD5 => {
                let ha2 = hex::encode(Md5::digest(format!("{method}:{}", auth.uri)));
                hex::encode(Md5::digest(format!(
                    "{}:{}:{nc}:{cnonce}:auth:{ha2}",
                    ha1.md5, auth.nonce
                )))
            }
            AlgorithmType::SHA2_256 => {
                let ha2 = hex::encode(Sha256::digest(format!("{method}:{}", auth.uri)));
                hex::encode(Sha256::digest(format!(
                    "{}:{}:{nc}:{cnonce}:auth:{ha2}",
                    ha1.sha256, auth.nonce
                )))
            }
            _ => return Err(Refusal::Invalid("algorithm must be MD5 or SHA-256")),
        };
        if !constant_time_eq(
            expected.as_bytes(),
            auth.response.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(Refusal::Invalid("wrong username or password"));
        }
        // Only a correct response learns whether the nonce is stale (RFC 7616 3.3).
        let age = now.timestamp() - issued;
        if !(-5..=NONCE_TTL_SECS).contains(&age) {
            return Err(Refusal::Stale);
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let cutoff = now.timestamp() - NONCE_TTL_SECS - 5;
        if seen.len() > 1024 {
            seen.retain(|_, (t, _)| *t >= cutoff);
        }
        let entry = seen
            .entry(auth.nonce.clone())
            .or_insert_with(|| (issued, HashSet::new()));
        if !entry.1.insert(auth.nc) {
            return Err(Refusal::Replay);
        }
        Ok(auth.username)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    web::secret_eq(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use digest_auth::AuthContext;

    fn answer(challenge: &str, user: &str, pass: &str, uri: &str) -> String {
        let mut prompt = digest_auth::parse(challenge).unwrap();
        let ctx = AuthContext::new_with_method(
            user,
            pass,
            uri,
            Option::<&[u8]>::None,
            digest_auth::HttpMethod::from("PUT"),
        );
        prompt.respond(&ctx).unwrap().to_string()
    }

    #[test]
    fn accepts_both_algorithms_refuses_replay_wrong_password_and_stale() {
        let auth = DigestAuth::new([1; 32]);
        let now = Utc::now();
        let ha1 = Ha1::new("u", "p");
        let lookup = |u: &str| (u == "u").then(|| ha1.clone());
        for i in 0..2 {
            let challenge = auth.challenges(now, false)[i].clone();
            let h = answer(&challenge, "u", "p", "/in/c/1/a.ts");
            assert_eq!(
                auth.verify(now, "PUT", "/in/c/1/a.ts", Some(&h), lookup),
                Ok("u".into())
            );
            assert_eq!(
                auth.verify(now, "PUT", "/in/c/1/a.ts", Some(&h), lookup),
                Err(Refusal::Replay)
            );
            assert!(matches!(
                auth.verify(now, "PUT", "/in/c/1/b.ts", Some(&h), lookup),
                Err(Refusal::Invalid(_))
            ));
            let bad = answer(&challenge, "u", "wrong", "/in/c/1/a.ts");
            assert!(matches!(
                auth.verify(now, "PUT", "/in/c/1/a.ts", Some(&bad), lookup),
                Err(Refusal::Invalid(_))
            ));
            let later = now + chrono::Duration::seconds(NONCE_TTL_SECS + 1);
            let h2 = answer(&challenge, "u", "p", "/in/c/1/c.ts");
            assert_eq!(
                auth.verify(later, "PUT", "/in/c/1/c.ts", Some(&h2), lookup),
                Err(Refusal::Stale)
            );
        }
        let other = DigestAuth::new([2; 32]);
        let [c, _] = other.challenges(now, false);
        let h = answer(&c, "u", "p", "/x");
        assert!(matches!(
            auth.verify(now, "PUT", "/x", Some(&h), lookup),
            Err(Refusal::Invalid("unknown nonce"))
        ));
    }
}
