//! The crate's one error type.

/// Everything that can go wrong in this crate. Every parse error names the
/// problem and the byte offset (into the input slice the caller passed) where
/// it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input ended before a structure was complete.
    #[error("{what}: truncated at byte {offset} (needed {needed} more bytes)")]
    Truncated {
        what: &'static str,
        offset: usize,
        needed: usize,
    },
    /// A field holds a value the format does not allow.
    #[error("{what}: invalid at byte {offset}: {detail}")]
    Invalid {
        what: &'static str,
        offset: usize,
        detail: String,
    },
    /// A valid structure this crate does not handle (e.g. an encrypted SCTE-35 section).
    #[error("{what}: unsupported at byte {offset}: {detail}")]
    Unsupported {
        what: &'static str,
        offset: usize,
        detail: String,
    },
    /// A CRC-32/MPEG-2 check failed.
    #[error(
        "{what}: CRC-32 mismatch at byte {offset}: stored {stored:#010x}, computed {computed:#010x}"
    )]
    Crc {
        what: &'static str,
        offset: usize,
        stored: u32,
        computed: u32,
    },
    /// Something required is missing from otherwise well-formed input
    /// (e.g. no SPS in a video stream, no PMT in a TS segment).
    #[error("{what}: missing {detail}")]
    Missing { what: &'static str, detail: String },
}

impl Error {
    /// The same error with its byte offset moved by `by` (for errors found in
    /// a sub-slice, e.g. a section inside a TS segment).
    pub(crate) fn shifted(self, by: usize) -> Self {
        match self {
            Error::Truncated {
                what,
                offset,
                needed,
            } => Error::Truncated {
                what,
                offset: offset + by,
                needed,
            },
            Error::Invalid {
                what,
                offset,
                detail,
            } => Error::Invalid {
                what,
                offset: offset + by,
                detail,
            },
            Error::Unsupported {
                what,
                offset,
                detail,
            } => Error::Unsupported {
                what,
                offset: offset + by,
                detail,
            },
            Error::Crc {
                what,
                offset,
                stored,
                computed,
            } => Error::Crc {
                what,
                offset: offset + by,
                stored,
                computed,
            },
            e @ Error::Missing { .. } => e,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn invalid(what: &'static str, offset: usize, detail: impl Into<String>) -> Error {
    Error::Invalid {
        what,
        offset,
        detail: detail.into(),
    }
}

pub(crate) fn truncated(what: &'static str, offset: usize, needed: usize) -> Error {
    Error::Truncated {
        what,
        offset,
        needed,
    }
}
