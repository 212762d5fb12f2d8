//! Dev-only helpers shared by every test in the lineup workspace.
//!
//! What it is for: finding the committed HLS fixtures ([`fixtures_dir`]), serving a folder
//! over HTTP with injectable failures ([`serve_dir`]), and starting real peer programs on
//! ephemeral `127.0.0.1` ports: Apache httpd with WebDAV + HTTP Digest ([`Apache`]),
//! Redis ([`Redis`]), PostgreSQL ([`Postgres`]), moto's S3 server ([`Moto`]) and a live ffmpeg
//! HLS encoder ([`FfmpegLive`]), and headless Chromium over WebDriver ([`Browser`]). Plus
//! polling helpers ([`wait_until`], [`wait_for`]) so tests wait for
//! conditions, not for time, and [`PlaylistFollower`], which follows a live output like a
//! player and runs every reload through the RFC 8216 oracle of `hls::validate`.
//!
//! Shared test code: [`http`] (GET status/text/JSON/bytes in one call, and
//! [`http::assert_api_error`] for the `{error, field}` JSON errors of every lineup API),
//! [`player`] (ffmpeg decode / ffprobe as players, and the one rule for which ffmpeg lines
//! are errors: [`decode_errors`]), [`Moto::create_bucket`] + [`Moto::object_store`] for S3
//! tests, [`digest`] (an HTTP Digest client) and [`aws`] (boto3 and the AWS CLI as
//! clients).
//!
//! What it is not for: production code (it is a dev-dependency only) or mocking: the peers
//! are the real programs.
//!
//! # Peers and skipping
//! A test that needs a program calls [`require_peer!`] first:
//! ```no_run
//! # async fn t() {
//! testkit::require_peer!("ffmpeg");
//! # }
//! ```
//! If the program is missing the test prints `SKIP <test>: <peer> not found (<how to install>)`
//! and returns, unless `LINEUP_REQUIRE_PEERS=1` (CI sets it), in which case it panics.
//!
//! # Invariants
//! - Nothing binds anything but `127.0.0.1`.
//! - Every spawned process is terminated (SIGTERM, then SIGKILL) when its handle is dropped,
//!   including on panic. Don't keep peers in `static`s: statics are never dropped.
//! - Each peer lives in its own temporary directory, removed on drop.

mod apache;
pub mod aws;
mod browser;
pub mod digest;
mod ffmpeg;
mod follow;
pub mod http;
mod moto;
mod peer;
pub mod player;
mod postgres;
mod process;
mod redis;
mod serve;
mod wait;

pub use apache::Apache;
pub use browser::Browser;
pub use ffmpeg::{FfmpegLive, LiveOptions};
pub use follow::{FollowReport, PlaylistFollower};
pub use moto::Moto;
pub use peer::{SHAKA_PACKAGER, install_hint, peer, peers_required, require};
pub use player::{Decoded, decode_errors, ffmpeg_decode, ffprobe_duration, ffprobe_json};
pub use postgres::Postgres;
pub use redis::Redis;
pub use serve::{Fault, ServeHandle, serve_dir};
pub use wait::{WaitTimeout, free_port, wait_for, wait_until};

use std::path::PathBuf;

/// Absolute path of `tests/fixtures` (see its README for the contents).
pub fn fixtures_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    dir.canonicalize()
        .unwrap_or_else(|e| panic!("fixtures dir {}: {e}", dir.display()))
}

/// Absolute path of one fixture file or folder, e.g. `fixture("ts/vod1/master.m3u8")`.
/// Panics if it does not exist.
pub fn fixture(rel: &str) -> PathBuf {
    let p = fixtures_dir().join(rel);
    assert!(p.exists(), "fixture {} does not exist", p.display());
    p
}

/// Returns the program's path, or skips the test: prints `SKIP <test>: ...` and `return`s
/// (with the given value, if any), or panics when `LINEUP_REQUIRE_PEERS=1`.
///
/// ```no_run
/// # fn a() {
/// let ffmpeg = testkit::require_peer!("ffmpeg");
/// # }
/// # fn b() -> Result<(), String> {
/// let redis = testkit::require_peer!("redis-server", Ok(()));
/// # Ok(()) }
/// ```
#[macro_export]
macro_rules! require_peer {
    ($name:expr) => {
        match $crate::require($name) {
            Some(path) => path,
            None => return,
        }
    };
    ($name:expr, $ret:expr) => {
        match $crate::require($name) {
            Some(path) => path,
            None => return $ret,
        }
    };
}
