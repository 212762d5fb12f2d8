//! The crate's one error type, and its HTTP face.

use axum::http::StatusCode;
use web::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum AdsError {
    /// The origin failed or answered something that is not a playlist.
    #[error("origin: {0}")]
    Origin(String),
    /// An ad creative could not be loaded.
    #[error("creative: {0}")]
    Creative(String),
    /// The ad decision server answered something that is not VAST.
    #[error("invalid VAST: {0}")]
    Vast(String),
    /// The ad decision server failed or timed out.
    #[error("ad decision server: {0}")]
    AdServer(String),
    #[error("no playback configuration named `{0}`")]
    UnknownConfig(String),
    #[error("no session `{0}` (expired or never created)")]
    UnknownSession(String),
    #[error("no such ad segment in this session")]
    NoSuchSegment,
    /// The session store (Redis) failed.
    #[error("session store: {0}")]
    Store(String),
    #[error("too many sessions ({0}); try again later")]
    TooManySessions(usize),
    #[error("{field}: {message}")]
    BadField { field: String, message: String },
}

pub type Result<T, E = AdsError> = std::result::Result<T, E>;

impl From<AdsError> for ApiError {
    fn from(e: AdsError) -> Self {
        let msg = e.to_string();
        match e {
            AdsError::Origin(_) => ApiError::new(StatusCode::BAD_GATEWAY, msg).with_field("origin"),
            AdsError::Creative(_) | AdsError::Vast(_) | AdsError::AdServer(_) => {
                ApiError::new(StatusCode::BAD_GATEWAY, msg)
            }
            AdsError::UnknownConfig(_) => ApiError::not_found(msg).with_field("name"),
            AdsError::UnknownSession(_) => ApiError::not_found(msg).with_field("session"),
            AdsError::NoSuchSegment => ApiError::not_found(msg).with_field("slot"),
            AdsError::Store(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, msg),
            AdsError::TooManySessions(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, msg),
            AdsError::BadField { field, message } => ApiError::bad_field(field, message),
        }
    }
}
