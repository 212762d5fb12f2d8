//! The crate's one error type.

use axum::http::StatusCode;

/// Everything that can go wrong in pullpush.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field (or output payload field) is invalid. `field` is a JSON path such as
    /// `payload.ingestUrls[0].url`.
    #[error("{field}: {message}")]
    Field {
        field: String,
        message: String,
        detail: Option<serde_json::Value>,
    },
    /// A second fetcher would push to a destination that already has one.
    #[error("destination {destination} is already used by fetcher {existing}")]
    Conflict {
        destination: String,
        existing: String,
    },
    #[error("no fetcher with id {0}")]
    NotFound(String),
    /// Fetching the source failed (HTTP status, network, playlist syntax).
    #[error("source: {0}")]
    Source(String),
    /// Writing to or deleting from the destination failed.
    #[error("output: {0}")]
    Output(String),
    #[error("state store: {0}")]
    Store(String),
}

impl Error {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Field {
            field: field.into(),
            message: message.into(),
            detail: None,
        }
    }

    /// Prefix the field path (e.g. an output's `url` becomes `payload.url`).
    pub fn under(self, prefix: &str) -> Self {
        match self {
            Error::Field {
                field,
                message,
                detail,
            } => Error::Field {
                field: if field.is_empty() {
                    prefix.to_string()
                } else if field.starts_with('[') {
                    format!("{prefix}{field}")
                } else {
                    format!("{prefix}.{field}")
                },
                message,
                detail,
            },
            other => other,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(e.to_string())
    }
}

impl From<Error> for web::ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Field {
                field,
                message,
                detail,
            } => {
                let mut err = web::ApiError::bad_field(field, message);
                err.detail = detail;
                err
            }
            Error::Conflict { .. } => web::ApiError::conflict(e.to_string()),
            Error::NotFound(_) => web::ApiError::not_found(e.to_string()),
            Error::Source(_) | Error::Output(_) => {
                web::ApiError::new(StatusCode::BAD_GATEWAY, e.to_string())
            }
            Error::Store(_) => web::ApiError::internal(e.to_string()),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
