//! The one error type of the origin, and its conversion to the shared JSON error at the edge.

use axum::http::StatusCode;
use web::ApiError;

/// Everything that can go wrong in the origin. Each variant maps to one HTTP status; bad
/// input is always 4xx and names the field (path segment, query parameter, JSON field).
#[derive(Debug, Clone, thiserror::Error)]
pub enum OriginError {
    #[error("{message}")]
    BadField { field: String, message: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMedia(String),
    #[error("store: {0}")]
    Store(String),
    /// The keys of an encrypted endpoint could not be had (key provider down, slow or
    /// wrong): a 503, never clear content.
    #[error("keys unavailable: {0}")]
    KeysUnavailable(String),
}

impl OriginError {
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        OriginError::BadField {
            field: field.into(),
            message: message.into(),
        }
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        OriginError::NotFound { what: what.into() }
    }
}

impl From<OriginError> for ApiError {
    fn from(e: OriginError) -> Self {
        let message = e.to_string();
        match e {
            OriginError::BadField { field, .. } => ApiError::bad_field(field, message),
            OriginError::NotFound { .. } => ApiError::not_found(message),
            OriginError::Conflict(_) => ApiError::conflict(message),
            OriginError::Unauthorized(_) => ApiError::new(StatusCode::UNAUTHORIZED, message),
            OriginError::TooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message).with_field("body")
            }
            OriginError::UnsupportedMedia(_) => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message).with_field("path")
            }
            // The store is unreachable or failing: try again later, not a server bug.
            OriginError::Store(_) | OriginError::KeysUnavailable(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
            }
        }
    }
}

impl axum::response::IntoResponse for OriginError {
    fn into_response(self) -> axum::response::Response {
        ApiError::from(self).into_response()
    }
}

pub type Result<T, E = OriginError> = std::result::Result<T, E>;
