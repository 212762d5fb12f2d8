//! hls
