//! pullpush: pull a live HLS stream and push its playlists and segments to another origin.
//!
//! **For**: carrying a live channel (lineup's engine output or any live HLS source) to an
//! origin: MediaPackage-style HTTP ingest with Digest auth, S3-compatible storage, a local
//! folder, or nowhere (`void`, for load tests). TS and fMP4 (EXT-X-MAP), demuxed audio and
//! subtitle renditions, AES-128 key files, byte ranges, discontinuities, ad markers and
//! PROGRAM-DATE-TIME pass through.
//! **Not for**: serving players (that is the origin), repackaging or transcoding media.
//!
//! Main types: [`PullPush`] (the service: start/list/stop fetchers, `router()`, `serve`),
//! [`Config`] / [`PullPushArgs`], [`Output`] and [`OutputRegistry`] (plugins, one folder each
//! under `outputs/`), [`TrackModel`] (the pure per-playlist model), [`Store`] (SQLite, one coalescing writer thread; see its doc for the restart invariant).
//!
//! # Architecture
//! ```text
//! source master ──> layout (destination names: <stem>.m3u8, <stem>_<bw>.m3u8, ...)
//! source media playlists ──poll (expected arrival, poll.rs)──> TrackModel::ingest ──> Transfers
//!   Transfers ──(semaphore: concurrency)── GET source ──bytes_stream──> Output::put
//!   completions ──> TrackModel::complete ──> trim window, render ──> Output::put playlist
//!                                                        └──> Store::save_track (queued; one writer thread commits the latest state per track every 300 ms)
//! all media playlists written ──> Output::put master
//! ```
//! Invariants:
//! - A destination media playlist lists only objects already stored (or, for queueing
//!   outputs, queued ahead of it in an ordered per-destination queue).
//! - The destination media sequence is pullpush's own counter: +1 per segment, never reset;
//!   a source restart adds a discontinuity, a pullpush restart resumes from the store.
//! - The fetcher never holds a whole segment: bodies stream from the source response to the
//!   output. Outputs that must retry or fan out (`mediapackage`) hold one copy per queued
//!   segment, bounded by their queue size.
//! - Every fetcher stays in the list with its state (`running`, `failing` + `last_error`,
//!   `ended`) until it is deleted; failures never make it vanish.
//! - Bad requests are 400 naming the field (`payload.ingestUrls[0].url`), never 404/500;
//!   a second fetcher to the same destination is 409.
//!
//! # Destination names
//! The output's stem (default `channel`; for `mediapackage` the last segment of the ingest
//! URL) names everything: master `<stem>.m3u8`; variant `<stem>_<bandwidth>.m3u8`; audio,
//! subtitle and alternative video renditions `<stem>_audio_<k>.m3u8`, `<stem>_subs_<k>.m3u8`,
//! `<stem>_video_<k>.m3u8`; segments `<track>_<destseq>.<ext>` (ext from the source: ts,
//! m4s, mp4, aac, vtt, ...); init sections `<track>_init.mp4` (a later different one
//! `<track>_init_<destseq>.mp4`); keys `<track>_<destseq>.key`.

pub mod config;
pub mod error;
pub mod fetcher;
pub mod outputs;
pub mod poll;
pub mod service;
pub mod store;
pub mod track;

pub use config::{Config, PullPushArgs};
pub use error::{Error, Result};
pub use fetcher::{FetcherSpec, FetcherState};
pub use outputs::{Body, Output, OutputFactory, OutputPolicy, OutputRegistry, OutputStatus};
pub use service::{FetcherInfo, NewFetcher, PullPush};
pub use store::Store;
pub use track::{TrackModel, TrackState, Transfer};

use std::time::Duration;

/// Exponential backoff with full jitter: `attempt` 0, 1, 2... gives up to `base_ms`,
/// `2*base_ms`, ... capped at `cap_ms`, uniformly drawn from its upper half.
pub fn backoff(attempt: u32, base_ms: u64, cap_ms: u64) -> Duration {
    let exp = base_ms.saturating_mul(1u64 << attempt.min(20)).min(cap_ms);
    let low = exp / 2;
    let ms = low + rand::random_range(0..=exp - low);
    Duration::from_millis(ms)
}
