//! The crate's one error type, and its HTTP form (`web::ApiError`).

use axum::http::StatusCode;

/// What can go wrong while stitching. Every variant a request can cause names the request
/// field at fault, so the HTTP edge answers 400 `{error, field}`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The request (payload or query parameter) is wrong.
    #[error("{field}: {message}")]
    BadRequest { field: String, message: String },
    /// A playlist could not be fetched or parsed.
    #[error("{url}: {message}")]
    Fetch { url: String, message: String },
}

impl Error {
    pub fn bad(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A fetch failure becomes a bad request naming `field` (the payload URL that failed).
    pub fn blame(self, field: &str) -> Self {
        match self {
            Error::Fetch { url, message } => {
                Error::bad(field, format!("cannot load {url}: {message}"))
            }
            other => other,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for web::ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::BadRequest { field, message } => web::ApiError::bad_field(field, message),
            Error::Fetch { .. } => web::ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()),
        }
    }
}
