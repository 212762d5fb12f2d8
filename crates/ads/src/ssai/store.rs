//! Where sessions live: [`MemorySessions`] in one process, or Redis shared by replicas
//! ([`super::redis_store`]). The proxy loads a session, computes its next state without
//! holding anything, and saves it back only if nobody saved another in between (a version
//! compare-and-set); beacons are claimed here so each fires once however many requests
//! (or replicas) serve the segment that makes it due.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use futures::future::BoxFuture;

use super::session::{SessionMeta, SessionState};
use super::tracking::{AdFetch, FiredBeacon};
use crate::error::Result;

/// A session as loaded: what it started with, where it is, and the version of that state.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub meta: Arc<SessionMeta>,
    pub state: Arc<SessionState>,
    pub version: u64,
}

/// A beacon event of one ad of one break: (break key, ad index, event index).
pub type BeaconKey = (u64, u16, u8);

/// Inspection logs kept per session (newest [`LOG_CAP`] of each).
pub const LOG_CAP: usize = 1000;

/// Session storage (see the module doc).
pub trait SessionStore: Send + Sync {
    /// Store a new session unless `cap` sessions are live at `now_ms`; it expires at
    /// `deadline_ms` unless touched.
    fn create(
        &self,
        meta: SessionMeta,
        cap: usize,
        now_ms: i64,
        deadline_ms: i64,
    ) -> BoxFuture<'_, Result<bool>>;
    fn load(&self, id: &str) -> BoxFuture<'_, Result<Option<Loaded>>>;
    /// Replace the state if it is still at `version`: the new version, or `None` when
    /// another request saved first (load and try again).
    fn save(
        &self,
        id: &str,
        state: &SessionState,
        version: u64,
    ) -> BoxFuture<'_, Result<Option<u64>>>;
    /// The session is in use: it expires at `deadline_ms` now.
    fn touch(&self, id: &str, deadline_ms: i64) -> BoxFuture<'_, Result<()>>;
    /// True the first time `key` is claimed in this session.
    fn claim(&self, id: &str, key: BeaconKey) -> BoxFuture<'_, Result<bool>>;
    fn log_fetch(&self, id: &str, fetch: AdFetch) -> BoxFuture<'_, Result<()>>;
    fn log_beacon(&self, id: &str, beacon: FiredBeacon) -> BoxFuture<'_, Result<()>>;
    fn logs(&self, id: &str) -> BoxFuture<'_, Result<(Vec<AdFetch>, Vec<FiredBeacon>)>>;
    /// Sessions live at `now_ms` (the memory store: held, until the next sweep).
    fn count(&self, now_ms: i64) -> BoxFuture<'_, Result<usize>>;
    /// Remove sessions whose deadline passed; their ids.
    fn expire(&self, now_ms: i64) -> BoxFuture<'_, Result<Vec<String>>>;
}

struct Record {
    meta: Arc<SessionMeta>,
    state: Mutex<(Arc<SessionState>, u64)>,
    deadline_ms: AtomicI64,
    claims: Mutex<HashSet<BeaconKey>>,
    fetched: Mutex<VecDeque<AdFetch>>,
    beacons: Mutex<VecDeque<FiredBeacon>>,
}

/// Sessions in this process's memory.
#[derive(Default)]
pub struct MemorySessions {
    map: RwLock<HashMap<String, Arc<Record>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn push_capped<T>(q: &Mutex<VecDeque<T>>, item: T) {
    let mut q = lock(q);
    if q.len() >= LOG_CAP {
        q.pop_front();
    }
    q.push_back(item);
}

impl MemorySessions {
    fn record(&self, id: &str) -> Option<Arc<Record>> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
}

impl SessionStore for MemorySessions {
    fn create(
        &self,
        meta: SessionMeta,
        cap: usize,
        now_ms: i64,
        deadline_ms: i64,
    ) -> BoxFuture<'_, Result<bool>> {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        // Sessions past their deadline count until the next sweep (every second), so
        // creating one stays O(1).
        let _ = now_ms;
        let ok = map.len() < cap;
        if ok {
            map.insert(
                meta.id.clone(),
                Arc::new(Record {
                    meta: Arc::new(meta),
                    state: Mutex::new((Arc::default(), 0)),
                    deadline_ms: AtomicI64::new(deadline_ms),
                    claims: Mutex::default(),
                    fetched: Mutex::default(),
                    beacons: Mutex::default(),
                }),
            );
        }
        Box::pin(async move { Ok(ok) })
    }

    fn load(&self, id: &str) -> BoxFuture<'_, Result<Option<Loaded>>> {
        let out = self.record(id).map(|r| {
            let (state, version) = lock(&r.state).clone();
            Loaded {
                meta: r.meta.clone(),
                state,
                version,
            }
        });
        Box::pin(async move { Ok(out) })
    }

    fn save(
        &self,
        id: &str,
        state: &SessionState,
        version: u64,
    ) -> BoxFuture<'_, Result<Option<u64>>> {
        let out = self.record(id).and_then(|r| {
            let mut cur = lock(&r.state);
            (cur.1 == version).then(|| {
                let keep = state.decisions.keys().next().copied().unwrap_or(u64::MAX);
                lock(&r.claims).retain(|(brk, _, _)| *brk >= keep);
                *cur = (Arc::new(state.clone()), version + 1);
                version + 1
            })
        });
        Box::pin(async move { Ok(out) })
    }

    fn touch(&self, id: &str, deadline_ms: i64) -> BoxFuture<'_, Result<()>> {
        if let Some(r) = self.record(id) {
            r.deadline_ms.fetch_max(deadline_ms, Ordering::Relaxed);
        }
        Box::pin(async { Ok(()) })
    }

    fn claim(&self, id: &str, key: BeaconKey) -> BoxFuture<'_, Result<bool>> {
        let ok = self.record(id).is_some_and(|r| lock(&r.claims).insert(key));
        Box::pin(async move { Ok(ok) })
    }

    fn log_fetch(&self, id: &str, fetch: AdFetch) -> BoxFuture<'_, Result<()>> {
        if let Some(r) = self.record(id) {
            push_capped(&r.fetched, fetch);
        }
        Box::pin(async { Ok(()) })
    }

    fn log_beacon(&self, id: &str, beacon: FiredBeacon) -> BoxFuture<'_, Result<()>> {
        if let Some(r) = self.record(id) {
            push_capped(&r.beacons, beacon);
        }
        Box::pin(async { Ok(()) })
    }

    fn logs(&self, id: &str) -> BoxFuture<'_, Result<(Vec<AdFetch>, Vec<FiredBeacon>)>> {
        let out = self.record(id).map_or_else(Default::default, |r| {
            (
                lock(&r.fetched).iter().cloned().collect(),
                lock(&r.beacons).iter().cloned().collect(),
            )
        });
        Box::pin(async move { Ok(out) })
    }

    fn count(&self, now_ms: i64) -> BoxFuture<'_, Result<usize>> {
        let _ = now_ms;
        let n = self.map.read().unwrap_or_else(|p| p.into_inner()).len();
        Box::pin(async move { Ok(n) })
    }

    fn expire(&self, now_ms: i64) -> BoxFuture<'_, Result<Vec<String>>> {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        let gone: Vec<String> = map
            .iter()
            .filter(|(_, r)| r.deadline_ms.load(Ordering::Relaxed) < now_ms)
            .map(|(k, _)| k.clone())
            .collect();
        for id in &gone {
            map.remove(id);
        }
        Box::pin(async move { Ok(gone) })
    }
}
