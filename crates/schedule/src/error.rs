//! The crate's one error type, and its HTTP face.

use crate::plan::PlanError;

/// Everything that can go wrong in the catalog or the schedule.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is invalid (`field` names it).
    #[error("{field}: {message}")]
    Field { field: String, message: String },
    #[error("not found: {0}")]
    NotFound(String),
    /// A manual event overlaps another manual event, or an id is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Reading a VOD or a feed failed (HTTP status, network, syntax).
    #[error("source {url}: {message}")]
    Source { url: String, message: String },
    /// The database failed.
    #[error("database: {0}")]
    Db(String),
    /// Serving or printing failed (bind, write).
    #[error("{0}")]
    Io(String),
}

impl Error {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Field {
            field: field.into(),
            message: message.into(),
        }
    }
    pub fn source(url: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Source {
            url: url.into(),
            message: message.to_string(),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Db(e.to_string())
    }
}

impl From<tokio_postgres::Error> for Error {
    /// With the server's own message (tokio-postgres displays only "db error").
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(d) => Error::Db(format!(
                "{} ({}): {}",
                d.severity(),
                d.code().code(),
                d.message()
            )),
            None => Error::Db(e.to_string()),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Db(format!("stored JSON: {e}"))
    }
}

impl From<PlanError> for Error {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Empty => Error::field("end_time", e.to_string()),
            PlanError::Past => Error::field("start_time", e.to_string()),
            PlanError::Conflict(_) | PlanError::Duplicate(_) => Error::Conflict(e.to_string()),
        }
    }
}

impl From<Error> for web::ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Field { field, message } => web::ApiError::bad_field(field, message),
            Error::NotFound(what) => web::ApiError::not_found(format!("not found: {what}")),
            Error::Conflict(m) => web::ApiError::conflict(m),
            // The URL came from the request: the caller can fix it.
            Error::Source { url, message } => {
                web::ApiError::bad_field("url", format!("could not read {url}: {message}"))
            }
            Error::Db(m) => web::ApiError::internal(format!("database: {m}")),
            Error::Io(m) => web::ApiError::internal(m),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
