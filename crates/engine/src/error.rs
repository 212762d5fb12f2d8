//! The engine's one error type.

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An asset (VOD, slate, filler, live source) cannot be used; the engine plays the slate.
    #[error("unusable asset: {0}")]
    Unusable(String),
    /// Fetching something over HTTP failed.
    #[error("fetch {url}: {reason}")]
    Fetch { url: String, reason: String },
    /// A playlist did not parse.
    #[error("parse {url}: {reason}")]
    Parse { url: String, reason: String },
    /// A schedule entry has no media attached (it must be resolved before rendering).
    #[error("schedule entry {0} has no media attached")]
    MissingMedia(u64),
    #[error("no such rendition: {0}")]
    NoSuchRendition(String),
    #[error("no such channel: {0}")]
    NoSuchChannel(String),
    #[error("no such session: {0}")]
    NoSuchSession(String),
    /// Bad configuration (channels file, profile, arguments).
    #[error("config: {0}")]
    Config(String),
    /// The state store failed.
    #[error("store: {0}")]
    Store(String),
    /// The session cap ([`crate::EngineOptions::max_sessions`]) is reached.
    #[error("too many sessions: {0} are live; try again later")]
    TooManySessions(usize),
    /// A channel cannot play as configured (e.g. its slate cannot serve its profile).
    #[error("channel {channel}: {reason}")]
    Channel { channel: String, reason: String },
    /// A channel's slate cannot play in it (another segment container, no audio for its
    /// audio groups, no compatible variant): refused rather than let the slate decide.
    #[error(
        "channel {channel}: its slate {slate} cannot play in it ({reason}); give the channel a \
         slate in its own container with its renditions (`slate` in the channels file)"
    )]
    SlateIncompatible {
        channel: String,
        slate: String,
        reason: String,
    },
    /// A bug: a state machine was driven out of order.
    #[error("internal: {0}")]
    Internal(String),
    /// An adapter (asset or channel manager) failed.
    #[error("adapter: {0}")]
    Adapter(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for web::ApiError {
    fn from(e: Error) -> Self {
        match &e {
            Error::NoSuchChannel(_) => {
                web::ApiError::not_found(e.to_string()).with_field("channel")
            }
            Error::NoSuchSession(_) => {
                web::ApiError::not_found(e.to_string()).with_field("session")
            }
            Error::NoSuchRendition(_) => {
                web::ApiError::not_found(e.to_string()).with_field("rendition")
            }
            Error::Config(_) => web::ApiError::bad_request(e.to_string()),
            Error::TooManySessions(_) => {
                web::ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string())
                    .with_field("session")
            }
            _ => web::ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
        }
    }
}
