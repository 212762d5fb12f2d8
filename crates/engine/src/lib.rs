//! engine: VOD2Live. Turns a library of already-packaged HLS VODs into linear live HLS
//! channels by manifest manipulation only (no transcoding, no media proxying: segment URIs in
//! the rendered playlists point at the VODs' own origins).
//!
//! **Not for**: packaging or transcoding media, serving segments, DVR/time-shift (that is the
//! origin's job), pushing to an origin (pullpush).
//!
//! Main types:
//! - [`timeline::Schedule`] (pure): an append-only log of [`timeline::Entry`]s (item,
//!   start, duration, per-rendition counters) and `render(rendition, now) ->`
//!   [`hls::MediaPlaylist`].
//! - [`profile::Profile`]: the fixed renditions of a channel; matching VOD variants to it;
//!   the master playlist.
//! - [`Engine`]: channels and sessions over adapters ([`AssetManager`], [`ChannelManager`]),
//!   a [`Store`] ([`MemoryStore`], [`RedisStore`]), a shared [`vod::VodCache`] and a
//!   [`clock::Clock`]. [`Service`] is its HTTP face ([`Service::router`], [`Service::openapi`]);
//!   [`EngineArgs`] + [`build`] is how the `lineup` binary mounts it.
//! - [`plan`] (pure): the scheduling policy (poll the live entry / stop / schedule one more
//!   item; slate before a later live event; what replaces an unusable item; when a live
//!   entry closes); [`plan::round::Round`], a scheduling round as a state machine (events
//!   and the instant in, actions out), which `Engine::ensure` drives by performing its
//!   actions (the store, the asset manager, VOD and live source fetches);
//!   [`plan::feed::LiveFeed`], an open live entry's segments and chunks.
//!
//! # Architecture
//! ```text
//!  request(now) -> Engine::media_playlist
//!     -> ensure(schedule covers now), driving plan::round::Round: catch up on entries other replicas appended (store),
//!        else ask the AssetManager for item #n, resolve it (VodCache: fetch+parse once,
//!        Arc-shared; profile::build_media: match variants, absolute URIs), on any failure
//!        substitute the slate, then compare-and-append the entry to the store log
//!     -> Schedule::window_pos (cheap) -> render cache hit? else Schedule::render -> Bytes
//!  background: every second schedule each channel `lookahead` ahead; every ten seconds
//!  expire sessions (store) and drop the session state this replica holds for gone ones
//! ```
//! Invariants:
//! - The timeline is a pure function of (schedule log, rendition, instant): media sequence
//!   and discontinuity sequence are derived from counters stored in each entry, never from
//!   a ticking loop. Two replicas sharing a store render byte-identical playlists for the
//!   same instant; a restart with a persistent store loses nothing.
//! - The log is append-only and an entry records what was actually played (a failed VOD is
//!   logged as `Slate`), so every replica resolves an entry to the same segments.
//! - A segment is published when its scheduled start has passed and leaves the window one
//!   `window` after its end (see [`timeline`]). TARGETDURATION never shrinks.
//! - A bad asset (HTTP error, timeout, not a playlist, no matching variant) never produces a
//!   5xx or a stalled playlist while the slate is healthy: the slot plays the slate. The one
//!   exception is before a channel has a profile: one not declared is copied from its
//!   content, so while none of its first items loads the channel answers 503 (and retries)
//!   rather than take the slate's renditions for good.
//! - A live item ([`timeline::Item::Live`]) is the one exception to "entries are fixed when
//!   appended": see *Live switch* below.
//! - A channel's profile (renditions, container) comes from its declared profile or its
//!   content, never from the slate; a slate that cannot play in a channel is refused
//!   ([`Error::SlateIncompatible`], at start by [`build`] via [`Engine::check_channels`]).
//! - Sessions are capped across replicas ([`EngineOptions::max_sessions`], 503 beyond);
//!   an expired or deleted session leaves the store and every replica's memory; listing
//!   them costs a bounded number of store round trips.
//! - A store that hangs or is gone never hangs a request: what the local schedule covers is
//!   still served, the rest is 503 (JSON, `Retry-After`) until the store is back.
//! - Ad breaks carry `EXT-X-CUE-OUT`/`-CONT`/`-IN` and `EXT-X-DATERANGE` with SCTE-35
//!   `splice_insert` (out/in) from [`media::scte35`]; markers inside VODs pass through.
//!
//! # Live switch
//! A live source's segments are not known in advance, so its entry is *open*
//! ([`timeline::Entry::open`]): it is appended at the schedule's end (after the slate if the
//! event starts later than that; joining late if it started earlier) with the source's
//! newest segments but one (hold-back, so the next one is normally fetched before it is due),
//! and nothing is scheduled after it while it is open. While it is open, `ensure` (driven by
//! requests and the background tick) looks at the source at most every 500 ms (uncached,
//! [`vod::VodCache::live`]), matches its renditions to the profile
//! ([`profile::live_snapshot`]: variants as for VODs, audio by language, subtitles or empty
//! WebVTT) and appends the segments after the last one taken, the same count in every
//! rendition, mapped by the source's media sequence (so the channel's sequence is the
//! entry's `seq_before` + the count taken; a source window that moved past us resumes at its
//! oldest segment with a discontinuity) via [`timeline::Schedule::extend_open`]. The entry is
//! closed ([`timeline::Schedule::close_open`]) at the last segment boundary before the event's
//! end, when the source ends (ENDLIST), or when it has run dry for three target durations;
//! in the last two cases the slate fills until the event's end. A source that is down when
//! the event starts is replaced by the slate until its end. Already-published segments never
//! change (the timeline only grows the open entry at its end), so players see a plain live
//! playlist with `EXT-X-DISCONTINUITY` at both switches.
//!
//! Replicas: the open entry's growth is persisted in the [`Store`] as a list of
//! [`store::LiveChunk`]s per (scope, entry) ([`Store::extend_open`], [`Store::close_open`],
//! [`Store::open_state`]; compare-and-set on the chunk count, Lua on Redis). The replica
//! whose `append` won writes chunk 0 (the entry's first segments) right after the entry;
//! every later poll's segments are one chunk. Before catching up or polling, `ensure`
//! syncs the local open entry from the store (`sync_open`): chunks others appended, and the
//! close. A replica without a local feed (it did not append the entry, or it restarted)
//! rebuilds the feed from the chunks and then polls the source too; when two replicas poll
//! the same source the loser of a chunk's compare-and-set drops what it took, reads the
//! winner's chunk and resumes at its `next_source_seq`, and a close is refused unless the
//! closer has seen every chunk. Segments are stored as HLS fragments (absolute URIs, map and
//! keys spelled out) and the poller itself renders the stored form, so all replicas render
//! the same bytes (tests/live_redis.rs).
//!
//! Limits: a replica that appended a live entry and died before writing chunk 0 leaves the
//! entry unreadable (others render up to it and wait). TARGETDURATION of a live entry grows
//! with its longest segment, so a replica a chunk behind may briefly announce a smaller one
//! if a source segment is longer than the earlier ones. Live sources must be segment-aligned
//! across renditions, carry every audio language of the channel profile, and a long event
//! re-copies its segment list on each poll (O(segments)).

pub mod adapters;
pub mod config;
pub mod engine;
pub mod error;
pub mod http;
pub mod plan;
pub mod profile;
pub mod slots;
pub mod store;
pub mod timeline;
pub mod vod;

pub use adapters::{
    AssetManager, ChannelConfig, ChannelManager, ChannelsFile, FileAdapter, FileChannel,
    HttpAssetManager, NextItemRequest, VodRef,
};
pub use config::{EngineArgs, build};
pub use engine::{Engine, EngineOptions, Target};
pub use error::{Error, Result};
pub use http::Service;
pub use store::{
    LiveChunk, MemoryStore, OpenState, RedisStore, RedisTimeouts, SessionRecord, Store,
};
