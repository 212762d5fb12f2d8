//! One channel as the running origin holds it: its ingest users, its [`ChannelData`] behind
//! a lock whose guard ([`ChannelGuard`]) drops the ready live playlists on every change,
//! and that lock-free snapshot of ready live playlists ([`LiveMap`]) the hot path reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;

use crate::digest::Ha1;
use crate::persist;
use crate::timeline::ChannelData;

/// One channel: its two ingest users and its state.
pub struct Channel {
    pub id: String,
    /// (username, HA1) for ingest 1 and 2. Swapped whole when credentials rotate (the
    /// usernames stay: they identify this channel's creation across replicas).
    pub(crate) users: ArcSwap<Users>,
    pub(crate) data: Mutex<ChannelData>,
    /// Ready live-playlist responses, read without the `data` lock (see [`LiveMap`]).
    pub(crate) live: ArcSwap<LiveMap>,
    /// Orders writes of this channel's persisted objects; holds what was last stored or
    /// read of its index.
    pub(crate) persist_lock: tokio::sync::Mutex<persist::Persisted>,
    /// When this process last committed ingest into the channel (clock, ms since epoch;
    /// 0: never). A replica that ingested within [`persist::INGEST_QUIET`] writes the
    /// channel's index and does not take other replicas' indexes.
    pub(crate) last_ingest_ms: std::sync::atomic::AtomicI64,
    /// Store keys evicted from the timeline whose removal waits for an index write that
    /// no longer lists them (a failed write keeps them here for the next one).
    pub(crate) pending_gone: Mutex<Vec<String>>,
}

/// (username, HA1) of ingest 1 and 2.
pub(crate) type Users = [(String, Ha1); 2];

/// The same channel creation (same usernames), whatever the passwords are now.
pub(crate) fn same_users(a: &Users, b: &Users) -> bool {
    a[0].0 == b[0].0 && a[1].0 == b[1].0
}

/// A live or time-shifted media playlist response ready to send: body and `Cache-Control`,
/// rendered from the channel's data as it is now.
#[derive(Debug)]
pub(crate) struct LivePlaylist {
    pub(crate) body: bytes::Bytes,
    pub(crate) cache_control: axum::http::HeaderValue,
}

/// Endpoint id -> key -> ready playlist, where the key is a variant slug (its live playlist)
/// or `<slug>.m3u8?<query>` (a time-shifted playlist, the query as requested). An immutable
/// snapshot: it holds only entries rendered from the current `ChannelData` (every mutable
/// access to the data through [`ChannelGuard`] replaces it with an empty map before the
/// lock is released).
pub(crate) type LiveMap = HashMap<String, HashMap<String, Arc<LivePlaylist>>>;

/// Most entries an endpoint's snapshot takes between two changes of the channel: each
/// publish copies the map, and distinct time-shift queries are the client's to choose.
pub(crate) const SNAPSHOT_ENTRIES: usize = 64;

impl Channel {
    pub(crate) fn new(id: String, users: Users, data: ChannelData) -> Self {
        Self {
            id,
            users: ArcSwap::from_pointee(users),
            data: Mutex::new(data),
            live: ArcSwap::from_pointee(LiveMap::new()),
            persist_lock: tokio::sync::Mutex::new(persist::Persisted::default()),
            last_ingest_ms: std::sync::atomic::AtomicI64::new(0),
            pending_gone: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn lock(&self) -> ChannelGuard<'_> {
        ChannelGuard {
            data: self.data.lock().unwrap_or_else(|e| e.into_inner()),
            live: &self.live,
            dirty: false,
            publish: None,
        }
    }

    /// The ready playlist of (endpoint, key), without taking the data lock: `key` is a
    /// variant slug (live) or `<slug>.m3u8?<query>` (time-shifted).
    pub(crate) fn live_playlist(&self, endpoint: &str, key: &str) -> Option<Arc<LivePlaylist>> {
        self.live.load().get(endpoint)?.get(key).cloned()
    }
}

/// The channel's data lock. Mutable access (`DerefMut`) marks the data changed: on release
/// the ready live playlists are dropped (under the lock, so a reader of the snapshot never
/// sees one older than the data it was rendered from). [`ChannelGuard::cache_mut`] is for
/// output caches that do not change what is served.
pub(crate) struct ChannelGuard<'a> {
    pub(crate) data: MutexGuard<'a, ChannelData>,
    pub(crate) live: &'a ArcSwap<LiveMap>,
    dirty: bool,
    publish: Option<(String, String, Arc<LivePlaylist>)>,
}

impl ChannelGuard<'_> {
    /// Mutable access that does not invalidate the ready live playlists: only for caches
    /// of output derived from the data (`Variant::live_cache`).
    pub(crate) fn cache_mut(&mut self) -> &mut ChannelData {
        &mut self.data
    }

    /// Publish a playlist rendered from the data as it is under this lock (applied when the
    /// lock is released), under a [`LiveMap`] key.
    pub(crate) fn publish(&mut self, endpoint: &str, key: &str, pl: Arc<LivePlaylist>) {
        self.publish = Some((endpoint.to_string(), key.to_string(), pl));
    }
}

impl std::ops::Deref for ChannelGuard<'_> {
    type Target = ChannelData;
    fn deref(&self) -> &ChannelData {
        &self.data
    }
}

impl std::ops::DerefMut for ChannelGuard<'_> {
    fn deref_mut(&mut self) -> &mut ChannelData {
        self.dirty = true;
        &mut self.data
    }
}

impl Drop for ChannelGuard<'_> {
    fn drop(&mut self) {
        // Runs before `data` (the MutexGuard) is dropped: still under the lock.
        if self.dirty {
            self.live.store(Arc::new(LiveMap::new()));
        }
        if let Some((ep, slug, pl)) = self.publish.take() {
            let cur = self.live.load();
            if cur.get(&ep).is_some_and(|m| {
                m.contains_key(&slug) || (slug.contains('?') && m.len() >= SNAPSHOT_ENTRIES)
            }) {
                // Published by an earlier request since the last change, or full until then.
                return;
            }
            let mut next = LiveMap::clone(&cur);
            next.entry(ep).or_default().insert(slug, pl);
            self.live.store(Arc::new(next));
        }
    }
}
