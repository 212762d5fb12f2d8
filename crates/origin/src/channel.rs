//! One channel as the running origin holds it: its ingest users, its [`ChannelData`] behind
//! a lock, the version of that data (bumped by every change, [`ChannelGuard::change`]), and
//! the lock-free snapshot of ready live playlists ([`LiveSnapshot`]) the hot path reads,
//! valid only while its version is the channel's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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
    data: Mutex<ChannelData>,
    /// The version of `data`: bumped under its lock before every change.
    version: AtomicU64,
    /// Ready live-playlist responses, read without the `data` lock (see [`LiveSnapshot`]).
    live: ArcSwap<LiveSnapshot>,
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
/// or `<slug>.m3u8?<query>` (a time-shifted playlist, the query as requested).
pub(crate) type LiveMap = HashMap<String, HashMap<String, Arc<LivePlaylist>>>;

/// The ready playlists rendered from one version of the channel's data: an immutable
/// snapshot, valid while `version` is the channel's [`Channel::version`].
#[derive(Debug, Default)]
pub(crate) struct LiveSnapshot {
    pub(crate) version: u64,
    pub(crate) map: LiveMap,
}

/// Most entries an endpoint's snapshot takes between two changes of the channel: each
/// publish copies the map, and distinct time-shift queries are the client's to choose.
pub(crate) const SNAPSHOT_ENTRIES: usize = 64;

impl Channel {
    pub(crate) fn new(id: String, users: Users, data: ChannelData) -> Self {
        Self {
            id,
            users: ArcSwap::from_pointee(users),
            data: Mutex::new(data),
            version: AtomicU64::new(0),
            live: ArcSwap::from_pointee(LiveSnapshot::default()),
            persist_lock: tokio::sync::Mutex::new(persist::Persisted::default()),
            last_ingest_ms: std::sync::atomic::AtomicI64::new(0),
            pending_gone: Mutex::new(Vec::new()),
        }
    }

    /// The channel's data lock: read access, and explicit write access
    /// ([`ChannelGuard::change`], [`ChannelGuard::cache_mut`]).
    pub(crate) fn lock(&self) -> ChannelGuard<'_> {
        ChannelGuard {
            data: self.data.lock().unwrap_or_else(|e| e.into_inner()),
            channel: self,
        }
    }

    /// The ready playlist of (endpoint, key), without taking the data lock: `key` is a
    /// variant slug (live) or `<slug>.m3u8?<query>` (time-shifted). `None` when the
    /// snapshot was rendered from an older version of the data.
    pub(crate) fn live_playlist(&self, endpoint: &str, key: &str) -> Option<Arc<LivePlaylist>> {
        let snap = self.live.load();
        if snap.version != self.version.load(Ordering::Acquire) {
            return None;
        }
        snap.map.get(endpoint)?.get(key).cloned()
    }
}

/// The channel's data lock. Reading is `Deref`; writing is explicit: [`change`] for what
/// changes what is served (it bumps the channel's version, so the ready playlists rendered
/// before stop being served), [`cache_mut`] for output caches that do not.
///
/// [`change`]: ChannelGuard::change
/// [`cache_mut`]: ChannelGuard::cache_mut
pub(crate) struct ChannelGuard<'a> {
    data: MutexGuard<'a, ChannelData>,
    channel: &'a Channel,
}

impl ChannelGuard<'_> {
    /// Mutable access for a change of the channel: bumps its version first (under the
    /// lock, so a playlist rendered under this lock before the bump was published with the
    /// old version, and one rendered after the change, under a later lock, with the new).
    pub(crate) fn change(&mut self) -> &mut ChannelData {
        self.channel.version.fetch_add(1, Ordering::AcqRel);
        &mut self.data
    }

    /// Mutable access that does not change what is served: only for caches of output
    /// derived from the data (`Variant::live_cache`, keyed by the variant's version).
    pub(crate) fn cache_mut(&mut self) -> &mut ChannelData {
        &mut self.data
    }

    /// The version of the data as it is under this lock.
    pub(crate) fn version(&self) -> u64 {
        self.channel.version.load(Ordering::Acquire)
    }

    /// Publish a playlist rendered from the data as it is under this lock, under a
    /// [`LiveMap`] key of the snapshot of this version (a snapshot of an older version is
    /// replaced).
    pub(crate) fn publish(&self, endpoint: &str, key: &str, pl: Arc<LivePlaylist>) {
        let version = self.version();
        let live = &self.channel.live;
        let cur = live.load();
        let mut next = if cur.version == version {
            if cur.map.get(endpoint).is_some_and(|m| {
                m.contains_key(key) || (key.contains('?') && m.len() >= SNAPSHOT_ENTRIES)
            }) {
                // Published by an earlier request since the last change, or full until then.
                return;
            }
            LiveSnapshot {
                version,
                map: LiveMap::clone(&cur.map),
            }
        } else {
            LiveSnapshot {
                version,
                map: LiveMap::new(),
            }
        };
        next.map
            .entry(endpoint.to_string())
            .or_default()
            .insert(key.to_string(), pl);
        live.store(Arc::new(next));
    }
}

impl std::ops::Deref for ChannelGuard<'_> {
    type Target = ChannelData;
    fn deref(&self) -> &ChannelData {
        &self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel() -> Channel {
        let user = |n: &str| (n.to_string(), Ha1::new(n, "pw"));
        Channel::new("ch".into(), [user("a"), user("b")], ChannelData::default())
    }

    fn playlist(body: &'static str) -> Arc<LivePlaylist> {
        Arc::new(LivePlaylist {
            body: bytes::Bytes::from_static(body.as_bytes()),
            cache_control: axum::http::HeaderValue::from_static("max-age=1"),
        })
    }

    fn body(ch: &Channel, key: &str) -> Option<bytes::Bytes> {
        ch.live_playlist("ep", key).map(|p| p.body.clone())
    }

    #[test]
    fn a_snapshot_serves_until_the_next_change_and_no_longer() {
        let ch = channel();
        ch.lock().publish("ep", "v1", playlist("one"));
        ch.lock()
            .publish("ep", "v1.m3u8?start=1", playlist("shifted"));
        assert_eq!(body(&ch, "v1").as_deref(), Some(&b"one"[..]));
        assert_eq!(
            body(&ch, "v1.m3u8?start=1").as_deref(),
            Some(&b"shifted"[..])
        );
        // A second publish of a key already there keeps the first (same version).
        ch.lock().publish("ep", "v1", playlist("again"));
        assert_eq!(body(&ch, "v1").as_deref(), Some(&b"one"[..]));
        // Read access and cache writes change nothing served.
        let before = ch.lock().version();
        let _ = ch.lock().endpoints.len();
        ch.lock().cache_mut().pending_budget = 1;
        assert_eq!(ch.lock().version(), before);
        assert!(body(&ch, "v1").is_some());
        // A change retires every entry of the snapshot at once.
        ch.lock().change().description = Some("changed".into());
        assert_eq!(ch.lock().version(), before + 1);
        assert_eq!(body(&ch, "v1"), None);
        assert_eq!(body(&ch, "v1.m3u8?start=1"), None);
        // The next publish starts the snapshot of the new version.
        ch.lock().publish("ep", "v1", playlist("two"));
        assert_eq!(body(&ch, "v1").as_deref(), Some(&b"two"[..]));
        assert_eq!(body(&ch, "v1.m3u8?start=1"), None);
    }

    #[test]
    fn time_shifted_entries_are_capped_per_version() {
        let ch = channel();
        for i in 0..SNAPSHOT_ENTRIES + 5 {
            ch.lock()
                .publish("ep", &format!("v1.m3u8?start={i}"), playlist("x"));
        }
        ch.lock().publish("ep", "v1", playlist("live"));
        let snap = ch.live.load();
        assert_eq!(snap.map["ep"].len(), SNAPSHOT_ENTRIES + 1);
        assert!(body(&ch, "v1").is_some());
    }
}
