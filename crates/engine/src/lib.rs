//! engine: VOD2Live.
pub mod error;
pub mod timeline;
pub use error::{Error, Result};
