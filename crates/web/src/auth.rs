//! The control plane's guard: bearer tokens compared in constant time, secrets that never
//! print, and the rule that a service reachable from other machines needs a token.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::ApiError;

/// Compare two secrets in time that depends on neither their contents nor their lengths:
/// both are hashed (SHA-256) and the digests compared with `subtle`.
pub fn secret_eq(given: &[u8], expected: &[u8]) -> bool {
    use sha2::{Digest, Sha256};
    let a = Sha256::digest(given);
    let b = Sha256::digest(expected);
    a.as_slice().ct_eq(b.as_slice()).into()
}

/// A secret (API token, password, key): `Debug` and `Display` print `***`, so it cannot leak
/// through logs, `{:?}` of a config, or error messages. Read it with [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(s: impl Into<Arc<str>>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for the one place that must use it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Constant-time comparison with what a client sent.
    pub fn matches(&self, given: &str) -> bool {
        secret_eq(given.as_bytes(), self.0.as_bytes())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret::new(s))
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret::new(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret::new(s)
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::from)
    }
}

/// Require `Authorization: Bearer <token>` when a token is configured; the comparison is
/// constant-time. Use with `axum::middleware::from_fn_with_state(token, web::bearer_auth)`.
pub async fn bearer_auth(
    axum::extract::State(token): axum::extract::State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let ok = given.is_some_and(|g| secret_eq(g.as_bytes(), token.as_bytes()));
        if !ok {
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this API requires Authorization: Bearer <api token>",
            )
            .with_field("authorization")
            .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

/// Why a service may not start as configured.
#[derive(Debug, thiserror::Error)]
#[error(
    "{service} would listen on {listen}, which other machines can reach, with no API token: \
     anyone could change it. Set {token_flag} (or its environment variable), or pass \
     --insecure-no-auth to run it open on purpose"
)]
pub struct OpenControlPlane {
    pub service: String,
    pub listen: String,
    pub token_flag: String,
}

/// A service listening beyond loopback needs an API token, unless the operator said
/// `--insecure-no-auth`. Loopback-only services (the demo's default) may stay open.
pub fn require_token(
    service: &str,
    listen: &[SocketAddr],
    token: Option<&str>,
    token_flag: &str,
    insecure_no_auth: bool,
) -> Result<(), OpenControlPlane> {
    let has_token = token.is_some_and(|t| !t.is_empty());
    let exposed = listen.iter().find(|a| !a.ip().is_loopback());
    match exposed {
        Some(addr) if !has_token && !insecure_no_auth => Err(OpenControlPlane {
            service: service.into(),
            listen: addr.to_string(),
            token_flag: token_flag.into(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "***");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(s.matches("hunter2"));
        assert!(!s.matches("hunter"));
        assert!(!s.matches(""));
    }

    #[test]
    fn exposed_listeners_need_a_token() {
        let lo: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let lo6: SocketAddr = "[::1]:80".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:80".parse().unwrap();
        assert!(require_token("engine", &[lo, lo6], None, "--api-token", false).is_ok());
        let e = require_token("engine", &[any], None, "--api-token", false).unwrap_err();
        assert!(e.to_string().contains("--api-token"), "{e}");
        assert!(e.to_string().contains("0.0.0.0:80"), "{e}");
        assert!(require_token("engine", &[any], Some(""), "--api-token", false).is_err());
        assert!(require_token("engine", &[any], Some("t"), "--api-token", false).is_ok());
        assert!(require_token("engine", &[any], None, "--api-token", true).is_ok());
    }
}
