//! AWS Signature Version 4, the server's side: is this request signed, by a key this
//! service accepts, for this service and region, within five minutes of now, over exactly
//! this method, path, query, the headers it names and this body?
//!
//! Any lineup service that answers an AWS-shaped API (the origin's MediaPackage door, the
//! ads service's MediaTailor door) puts [`require_sigv4`] in front of those routes with a
//! [`Verifier`] for its signing name
//! (`route_layer(from_fn_with_state(Arc::new(verifier), web::sigv4::require_sigv4))`). The lineup-shaped APIs keep their bearer tokens.
//!
//! ## The algorithm (AWS "Create a signed AWS API request")
//! ```text
//! canonical request = METHOD \n canonical URI \n canonical query \n
//!                     canonical headers \n \n signed headers \n hex(sha256(body))
//! string to sign    = AWS4-HMAC-SHA256 \n X-Amz-Date \n date/region/service/aws4_request \n
//!                     hex(sha256(canonical request))
//! signing key       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
//! signature         = hex(HMAC(signing key, string to sign))
//! ```
//! - canonical URI: the path as sent, dot segments and empty segments removed, then
//!   URI-encoded once more (non-S3 services encode twice: the client encoded once to send).
//! - canonical query: each `name=value` decoded and URI-encoded again (RFC 3986
//!   unreserved characters only), sorted by name, then value.
//! - canonical headers: the headers `SignedHeaders` names, lower-cased, values trimmed
//!   with runs of spaces made one, repeated headers joined with `,` in the order sent.
//! - the body hash is computed here from the bytes received, so a body changed after
//!   signing fails the comparison (an `x-amz-content-sha256` header must match it too).
//!
//! ## Why it is written here
//! `aws-sigv4` (smithy-rs) signs: it decides which headers to sign and builds its
//! canonical request from them. A verifier must rebuild the canonical request from the
//! header list the *client* chose, which that crate does not expose. What is here is the
//! published algorithm, checked against AWS's own test suite (`tests/sigv4-suite`, the
//! vectors shipped with `aws-sigv4`) and against botocore's signer
//! (`tests/sigv4_botocore.rs`).
//!
//! ## Invariants
//! - [`Verifier::verify`] is pure: the request and the time in, a principal or a
//!   [`Rejection`] out. [`require_sigv4`] is the thin async shell (reads the body, bounded).
//! - Secrets are [`crate::Secret`]; signatures are compared in constant time.
//! - No query-string (presigned) signatures and no session tokens: lineup issues neither.

mod keys;
mod layer;

pub use keys::{AccessKeys, KeyFileError, KeyPair, SigV4Args};
pub use layer::{MAX_BODY, require_sigv4};

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::aws_error::AwsError;

/// The only algorithm lineup accepts (SigV4A and SigV2 are refused).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far a request's `X-Amz-Date` may be from the server's clock, either way.
pub const MAX_SKEW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// The hex SHA-256 of an empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The parts of a received request that a signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path exactly as sent (still percent-encoded), including any prefix the service
    /// is nested under.
    pub path: &'a str,
    /// The query exactly as sent, without `?` (empty when there is none).
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Who signed a request that passed: put into the request's extensions by [`require_sigv4`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub access_key_id: String,
}

/// Why a request was refused. Every rejection is a 403; [`Rejection::code`] is the error
/// type AWS answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header that is not a complete SigV4 one.
    Incomplete(String),
    /// The access key id is not one this service accepts.
    UnknownKey,
    /// Signed for another region or service, or with a malformed scope.
    WrongScope(String),
    /// Signed more than [`MAX_SKEW`] before or after now.
    Expired(String),
    /// `x-amz-content-sha256` does not match the body received.
    BodyHash,
    /// The signature does not match (wrong secret, or anything signed changed on the way).
    Mismatch,
    /// A session token (temporary credentials): lineup issues none.
    SessionToken,
}

impl Rejection {
    /// The `x-amzn-ErrorType` of this rejection. `forbidden` is what the service's model
    /// calls a refused unsigned request (`ForbiddenException` for MediaPackage).
    pub fn code(&self, forbidden: &'static str) -> &'static str {
        match self {
            Rejection::Missing => forbidden,
            Rejection::Incomplete(_) => "IncompleteSignatureException",
            Rejection::UnknownKey | Rejection::SessionToken => "UnrecognizedClientException",
            Rejection::WrongScope(_)
            | Rejection::Expired(_)
            | Rejection::BodyHash
            | Rejection::Mismatch => "InvalidSignatureException",
        }
    }

    /// AWS's wording, where AWS has one.
    pub fn message(&self) -> String {
        match self {
            Rejection::Missing => "Missing Authentication Token: sign the request with \
                                   Signature Version 4 (an AWS SDK or CLI does)"
                .into(),
            Rejection::Incomplete(why) => why.clone(),
            Rejection::UnknownKey | Rejection::SessionToken => {
                "The security token included in the request is invalid.".into()
            }
            Rejection::WrongScope(why) | Rejection::Expired(why) => why.clone(),
            Rejection::BodyHash => {
                "The provided 'x-amz-content-sha256' header does not match what was computed."
                    .into()
            }
            Rejection::Mismatch => "The request signature we calculated does not match the \
                                    signature you provided. Check your AWS Secret Access Key \
                                    and signing method. Consult the service documentation \
                                    for details."
                .into(),
        }
    }

    /// The 403 answer, with `forbidden` as the code of an unsigned request.
    pub fn into_aws_error(self, forbidden: &'static str) -> AwsError {
        AwsError::new(StatusCode::FORBIDDEN, self.code(forbidden), self.message())
    }
}

/// Checks signatures for one service (its signing name) in one region against a set of
/// access keys.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: AccessKeys,
    service: String,
    region: String,
    forbidden: &'static str,
}

/// The fields of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub access_key_id: &'a str,
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    pub terminator: &'a str,
    pub signed_headers: Vec<&'a str>,
    pub signature: &'a str,
}

impl Verifier {
    /// `service` is the signing name of the service's model (`mediapackage`,
    /// `mediatailor`); `forbidden` the error type an unsigned request gets.
    pub fn new(
        keys: AccessKeys,
        service: impl Into<String>,
        region: impl Into<String>,
        forbidden: &'static str,
    ) -> Self {
        Self {
            keys,
            service: service.into(),
            region: region.into(),
            forbidden,
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The error type of a refused unsigned request.
    pub fn forbidden_code(&self) -> &'static str {
        self.forbidden
    }

    /// Check `req`'s signature at time `now`.
    pub fn verify(
        &self,
        req: &SignedRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<Principal, Rejection> {
        let header = match req.headers.get("authorization") {
            None => return Err(Rejection::Missing),
            Some(v) => v
                .to_str()
                .map_err(|_| Rejection::Incomplete("Authorization is not ASCII".into()))?,
        };
        let auth = parse_authorization(header)?;
        let secret = self
            .keys
            .secret(auth.access_key_id)
            .ok_or(Rejection::UnknownKey)?;
        if req.headers.contains_key("x-amz-security-token") {
            return Err(Rejection::SessionToken);
        }
        self.check_scope(&auth)?;
        let amz_date = request_time(req.headers)?;
        check_time(&amz_date, auth.date, now)?;
        if !auth.signed_headers.contains(&"host") {
            return Err(Rejection::Incomplete(
                "'Host' must be a 'SignedHeader' in the AWS Authorization.".into(),
            ));
        }
        let body_hash = hex::encode(Sha256::digest(req.body));
        if let Some(claimed) = req.headers.get("x-amz-content-sha256")
            && claimed.as_bytes() != body_hash.as_bytes()
        {
            return Err(Rejection::BodyHash);
        }
        let canonical = canonical_request(req, &auth.signed_headers, &body_hash)?;
        let scope = format!(
            "{}/{}/{}/aws4_request",
            auth.date, auth.region, auth.service
        );
        let sts = string_to_sign(&amz_date.text, &scope, &canonical);
        let key = signing_key(secret.expose(), auth.date, auth.region, auth.service);
        let expected = signature(&key, &sts);
        if crate::secret_eq(expected.as_bytes(), auth.signature.as_bytes()) {
            Ok(Principal {
                access_key_id: auth.access_key_id.to_string(),
            })
        } else {
            Err(Rejection::Mismatch)
        }
    }

    fn check_scope(&self, auth: &Authorization<'_>) -> Result<(), Rejection> {
        if auth.terminator != "aws4_request" {
            return Err(Rejection::WrongScope(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
                auth.terminator
            )));
        }
        if auth.service != self.service {
            return Err(Rejection::WrongScope(format!(
                "Credential should be scoped to correct service: '{}'.",
                self.service
            )));
        }
        if auth.region != self.region {
            return Err(Rejection::WrongScope(format!(
                "Credential should be scoped to a valid region, not '{}'. This service \
                 answers region '{}'.",
                auth.region, self.region
            )));
        }
        Ok(())
    }
}

/// Parse `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request,
/// SignedHeaders=host;x-amz-date, Signature=hex`.
pub fn parse_authorization(header: &str) -> Result<Authorization<'_>, Rejection> {
    let incomplete = |what: &str| {
        Rejection::Incomplete(format!(
            "Authorization header requires '{what}' parameter. Authorization={header}"
        ))
    };
    let rest = header
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            Rejection::Incomplete(format!(
                "Authorization header must start with '{ALGORITHM} ' (Signature Version 4)"
            ))
        })?;
    let (mut credential, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            sig = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| incomplete("Credential"))?;
    let signed = signed.ok_or_else(|| incomplete("SignedHeaders"))?;
    let signature = sig.ok_or_else(|| incomplete("Signature"))?;
    let mut c = credential.split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some(terminator), None) =
        (c.next(), c.next(), c.next(), c.next(), c.next(), c.next())
    else {
        return Err(Rejection::Incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got '{credential}'"
        )));
    };
    if access_key_id.is_empty() {
        return Err(incomplete("Credential"));
    }
    let signed_headers: Vec<&str> = signed.split(';').collect();
    if signed_headers.iter().any(|h| h.is_empty()) {
        return Err(incomplete("SignedHeaders"));
    }
    Ok(Authorization {
        access_key_id,
        date,
        region,
        service,
        terminator,
        signed_headers,
        signature,
    })
}

/// The request's time: `X-Amz-Date` (`20150830T123600Z`), else `Date` (RFC 7231), with
/// the text that enters the string to sign.
struct RequestTime {
    at: DateTime<Utc>,
    text: String,
}

fn request_time(headers: &HeaderMap) -> Result<RequestTime, Rejection> {
    if let Some(v) = headers.get("x-amz-date") {
        let text = v.to_str().unwrap_or("");
        let at = NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ")
            .map_err(|_| {
                Rejection::Incomplete(format!(
                    "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\", \
                     got '{text}'"
                ))
            })?
            .and_utc();
        return Ok(RequestTime {
            at,
            text: text.to_string(),
        });
    }
    let date = headers
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
        .ok_or_else(|| {
            Rejection::Incomplete(
                "Authorization header requires existence of either a 'X-Amz-Date' or a \
                 'Date' header."
                    .into(),
            )
        })?;
    let at = date.with_timezone(&Utc);
    Ok(RequestTime {
        at,
        text: at.format("%Y%m%dT%H%M%SZ").to_string(),
    })
}

fn check_time(t: &RequestTime, scope_date: &str, now: DateTime<Utc>) -> Result<(), Rejection> {
    let day = t.at.format("%Y%m%d").to_string();
    if scope_date != day {
        return Err(Rejection::WrongScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{scope_date}' != '{day}', from '{}'.",
            t.text
        )));
    }
    let fmt = |d: DateTime<Utc>| d.format("%Y%m%dT%H%M%SZ").to_string();
    let now_text = fmt(now);
    if t.at < now - MAX_SKEW {
        return Err(Rejection::Expired(format!(
            "Signature expired: {} is now earlier than {} ({now_text} - 5 min.)",
            t.text,
            fmt(now - MAX_SKEW)
        )));
    }
    if t.at > now + MAX_SKEW {
        return Err(Rejection::Expired(format!(
            "Signature not yet current: {} is still later than {} ({now_text} + 5 min.)",
            t.text,
            fmt(now + MAX_SKEW)
        )));
    }
    Ok(())
}

/// The canonical request of `req` over `signed_headers`, with `body_hash` as its payload
/// line.
pub fn canonical_request(
    req: &SignedRequest<'_>,
    signed_headers: &[&str],
    body_hash: &str,
) -> Result<String, Rejection> {
    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&canonical_uri(req.path));
    out.push('\n');
    out.push_str(&canonical_query(req.query));
    out.push('\n');
    for name in signed_headers {
        if name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(Rejection::Incomplete(format!(
                "SignedHeaders must be lower case, got '{name}'"
            )));
        }
        let values: Vec<String> = req
            .headers
            .get_all(*name)
            .iter()
            .map(|v| collapse_spaces(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        if values.is_empty() {
            // A signed header that did not arrive: the signature cannot match.
            return Err(Rejection::Mismatch);
        }
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(body_hash);
    Ok(out)
}

/// A header value trimmed, with every run of whitespace made one space.
fn collapse_spaces(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The path with dot segments and empty segments removed (a trailing `/` kept), then
/// URI-encoded once more (`%` becomes `%25`).
pub fn canonical_uri(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    let mut segments: Vec<&str> = Vec::new();
    for s in path.split('/') {
        match s {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut normalized = String::with_capacity(path.len() + 8);
    if path.starts_with('/') {
        normalized.push('/');
    }
    normalized.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        normalized.push('/');
    }
    uri_encode(&normalized, false)
}

/// The query's `name=value` pairs decoded, encoded again (unreserved characters only)
/// and sorted by name, then value.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(percent_decode(k), true),
                uri_encode(percent_decode(v), true),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `%XX` decoded to bytes (anything else, an invalid escape included, kept as is).
fn percent_decode(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

/// RFC 3986 encoding as SigV4 wants it: `A-Z a-z 0-9 - _ . ~` kept, everything else
/// `%XX` (upper-case hex); `/` kept unless `slash` is set.
fn uri_encode(bytes: impl AsRef<[u8]>, slash: bool) -> String {
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (b == b'/' && !slash);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `AWS4-HMAC-SHA256 \n time \n scope \n hex(sha256(canonical request))`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The day's signing key for (secret, date, region, service).
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Hex HMAC of the string to sign.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac(signing_key, string_to_sign.as_bytes()))
}

#[cfg(test)]
mod tests;
