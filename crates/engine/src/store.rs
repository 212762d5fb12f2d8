//! State stores: schedule logs (per channel or session) and sessions.
//!
//! A schedule log is a header (epoch, rendition count, least target duration) written once
//! ("first writer wins") plus an append-only list of entries; appending is a compare-and-set
//! on the log length, so two engines racing to schedule the next item agree on one.
//! [`MemoryStore`] is the default; [`RedisStore`] lets several engine processes share state.
//!
//! # Open (live) entries
//! A live entry grows after it is appended. Its growth is a second append-only list per
//! open entry, keyed by (scope, entry index): [`LiveChunk`]s, each what one poll of the
//! source added (the segments of every rendition slot, and the source sequence to resume
//! at). [`Store::extend_open`] appends chunk number `n` only if the list holds exactly `n`
//! chunks and the entry is not closed; [`Store::close_open`] closes it only at a given chunk
//! count. So replicas polling the same source race on the same compare-and-set, one chunk
//! wins, the losers read it back ([`Store::open_state`]) and resume from its
//! `next_source_seq`: every replica converges on the same segments and the same end.
//! Chunk 0 is the entry's initial segments (written right after the entry, by the replica
//! whose `append` won).

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::timeline::{Entry, Millis};

mod memory;
mod redis_store;

pub use memory::MemoryStore;
pub use redis_store::{RedisStore, RedisTimeouts};

/// The fixed part of a schedule log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogHeader {
    pub epoch_ms: Millis,
    pub renditions: usize,
    pub min_target: u64,
}

/// One growth step of an open live entry (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveChunk {
    /// The source media sequence number of the chunk's first segment (the previous chunk's
    /// `next_source_seq`, unless the source moved past it).
    pub first_source_seq: u64,
    /// The source media sequence number to resume at after this chunk.
    pub next_source_seq: u64,
    /// Per rendition slot, in profile order: the appended segments, serialized (the engine
    /// writes them as an HLS media playlist fragment with absolute URIs; the store does not
    /// look inside). Every slot holds the same number of segments.
    pub renditions: Vec<String>,
}

/// What the store holds about an open entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpenState {
    /// Chunks with number >= the `from` asked for.
    pub chunks: Vec<LiveChunk>,
    /// `Some(n)`: closed after `n` chunks (nothing more will be appended).
    pub closed_at: Option<u64>,
}

/// A viewer session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionRecord {
    pub id: String,
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub created_ms: Millis,
    pub last_seen_ms: Millis,
}

/// Where engine state lives.
pub trait Store: Send + Sync {
    /// Write `header` for `scope` unless one exists; return the one in force.
    fn init_log(&self, scope: &str, header: LogHeader) -> BoxFuture<'_, Result<LogHeader>>;
    /// Entries with index >= `from` (from the first one kept, if `from` was trimmed).
    fn entries_from(&self, scope: &str, from: u64) -> BoxFuture<'_, Result<Vec<Entry>>>;
    /// Drop the entries with index < `before` (always keeping the last one) and the chunks
    /// of open entries among them. Entries carry their counters, so readers resume at the
    /// first one kept.
    fn trim(&self, scope: &str, before: u64) -> BoxFuture<'_, Result<()>>;
    /// Append `entry` if the log holds exactly `entry.index` entries. `false`: someone else
    /// appended first. An open (live) entry comes with its chunk 0, stored in the same
    /// atomic step: a replica that reads the entry always finds the segments it starts
    /// with, even if the appender dies right after.
    fn append(
        &self,
        scope: &str,
        entry: &Entry,
        first_chunk: Option<&LiveChunk>,
    ) -> BoxFuture<'_, Result<bool>>;
    /// Append chunk number `chunk_no` to the open entry `entry_index` of `scope` if it has
    /// exactly `chunk_no` chunks and is not closed. `false`: another replica extended (or
    /// closed) it first: read [`Store::open_state`] and resume from there.
    fn extend_open(
        &self,
        scope: &str,
        entry_index: u64,
        chunk_no: u64,
        chunk: &LiveChunk,
    ) -> BoxFuture<'_, Result<bool>>;
    /// Close the open entry after exactly `chunks` chunks. `true` if it is now closed at
    /// `chunks` (also when it already was); `false` if it has a different chunk count or was
    /// closed elsewhere at another count.
    fn close_open(&self, scope: &str, entry_index: u64, chunks: u64)
    -> BoxFuture<'_, Result<bool>>;
    /// The open entry's chunks from number `from` on, and whether it is closed.
    fn open_state(
        &self,
        scope: &str,
        entry_index: u64,
        from: u64,
    ) -> BoxFuture<'_, Result<OpenState>>;
    /// Delete the log, its header and every open-entry chunk list of `scope`.
    fn delete_log(&self, scope: &str) -> BoxFuture<'_, Result<()>>;
    /// Write a header for `scope` and continue its log at `next_index` (as if the entries
    /// before it had been trimmed), only if the store holds no header for it: a replica whose
    /// store lost its state (Redis restarted empty) re-seeds the log from what it holds.
    /// `false`: a header exists (another replica re-seeded first, or nothing was lost).
    fn restore_log(
        &self,
        scope: &str,
        header: LogHeader,
        next_index: u64,
    ) -> BoxFuture<'_, Result<bool>>;
    /// Store `s` as a new session unless `max` sessions last seen at or after `live_after`
    /// already exist (one atomic step). `false`: at the cap, nothing stored.
    fn create_session(
        &self,
        s: &SessionRecord,
        max: usize,
        live_after: Millis,
    ) -> BoxFuture<'_, Result<bool>>;
    /// Record `s.last_seen_ms`, only if the session still exists. `false`: it is gone
    /// (deleted or swept, maybe by another replica).
    fn touch_session(&self, s: &SessionRecord) -> BoxFuture<'_, Result<bool>>;
    fn get_session(&self, id: &str) -> BoxFuture<'_, Result<Option<SessionRecord>>>;
    /// Several sessions at once (one round trip on Redis), in the order of `ids`.
    fn get_sessions(&self, ids: &[String]) -> BoxFuture<'_, Result<Vec<Option<SessionRecord>>>>;
    fn delete_session(&self, id: &str) -> BoxFuture<'_, Result<bool>>;
    /// Sessions last seen at or after `live_after`, sorted by id, in a bounded number of
    /// round trips whatever their count (two on Redis).
    fn list_sessions(&self, live_after: Millis) -> BoxFuture<'_, Result<Vec<SessionRecord>>>;
    /// Ids of up to `limit` sessions last seen before `before` (one round trip on Redis).
    fn expired_sessions(&self, before: Millis, limit: usize) -> BoxFuture<'_, Result<Vec<String>>>;
}
