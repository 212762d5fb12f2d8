//! The error answer of AWS's REST-JSON services, which the AWS SDKs turn into the
//! exception classes users catch: the status code, `x-amzn-ErrorType: <code>`, a request
//! id, and `{"message": "..."}`. botocore reads the code from the header (or `__type` /
//! `code` in the body) and the message from `message` or `Message`.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An AWS-shaped error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub status: StatusCode,
    /// The error type, e.g. `NotFoundException`.
    pub code: Cow<'static, str>,
    pub message: String,
}

impl AwsError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for AwsError {}

/// A request id in AWS's shape (a random UUID), for `x-amzn-RequestId`.
pub fn request_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        // Both spellings: MediaPackage's model names the member `message`, MediaTailor's
        // `Message`; the SDKs read either.
        let body = serde_json::json!({
            "message": self.message,
            "Message": self.message,
        });
        let mut r = (self.status, axum::Json(body)).into_response();
        let h = r.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&self.code) {
            h.insert("x-amzn-errortype", v);
        }
        if let Ok(v) = HeaderValue::from_str(&request_id()) {
            h.insert("x-amzn-requestid", v);
        }
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(crate::cache::NO_STORE),
        );
        r
    }
}
