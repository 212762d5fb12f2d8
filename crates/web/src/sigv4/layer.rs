//! The async shell around [`Verifier::verify`]: read the body (bounded), check the
//! signature against the path the client sent (the whole one, with any prefix the router
//! is nested under), and let the request through with its [`Principal`], or answer 403
//! with AWS's error type.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{SignedRequest, Verifier};
use crate::aws_error::AwsError;

/// Largest body an AWS-shaped control request may have (they are small JSON documents).
pub const MAX_BODY: usize = 1024 * 1024;

/// The middleware: use as `axum::middleware::from_fn_with_state(verifier, require_sigv4)`,
/// or through [`layer`].
pub async fn require_sigv4(
    State(verifier): State<Arc<Verifier>>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return AwsError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            format!("the request body exceeds {MAX_BODY} bytes"),
        )
        .into_response();
    };
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |o| &o.0);
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: uri.path(),
        query: uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &bytes,
    };
    match verifier.verify(&signed, chrono::Utc::now()) {
        Ok(principal) => {
            parts.extensions.insert(principal);
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(rejection) => {
            tracing::info!(
                service = verifier.service(),
                code = rejection.code(verifier.forbidden_code()),
                "SigV4 request refused"
            );
            rejection
                .into_aws_error(verifier.forbidden_code())
                .into_response()
        }
    }
}
