//! Viewer sessions: creation under a cap, touching, listing, expiry in the store and in
//! every replica's memory.
//!
//! A session is a record in the [`Store`](crate::Store) (id, channel, last seen) plus, on each
//! replica that served it, a [`Scope`] holding its schedule. Invariants:
//! - At most [`EngineOptions::max_sessions`](super::EngineOptions) sessions are live (seen
//!   within the TTL) across all replicas sharing a store: the count and the insert are one
//!   atomic store step; beyond it creation fails with [`Error::TooManySessions`] (503).
//! - A playlist request touches the store at most every [`TOUCH_EVERY_MS`] per replica and
//!   never fails because the store is slow or down while this replica holds the session (it
//!   keeps serving what it has; the next touch retries).
//! - Expired sessions leave the store (any replica's sweep; deleting twice is harmless) and
//!   the memory of every replica: each replica's sweep also drops the session scopes it holds
//!   that it has not served for a TTL or that the store no longer lists as live.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Engine, Scope, Target};
use crate::error::{Error, Result};
use crate::store::SessionRecord;
use crate::timeline::Millis;

/// Least time between two writes of a session's last-seen instant by one replica.
pub(super) const TOUCH_EVERY_MS: Millis = 5_000;
/// Expired sessions deleted per store query in a sweep.
const SWEEP_BATCH: usize = 1_000;

impl Engine {
    fn ttl_ms(&self) -> Millis {
        self.inner.opts.session_ttl.as_millis() as Millis
    }

    /// Create a viewer session on `channel` (counted against the session cap).
    pub async fn create_session(
        &self,
        channel: &str,
        category: Option<String>,
        playlist: Option<String>,
    ) -> Result<SessionRecord> {
        self.channel(channel)?;
        let now = self.now_ms();
        let rec = SessionRecord {
            id: uuid::Uuid::new_v4().simple().to_string(),
            channel: channel.to_string(),
            category,
            playlist,
            created_ms: now,
            last_seen_ms: now,
        };
        let max = self.inner.opts.max_sessions;
        if !self
            .inner
            .store
            .create_session(&rec, max, now - self.ttl_ms())
            .await?
        {
            metrics::counter!("engine_sessions_refused_total").increment(1);
            return Err(Error::TooManySessions(max));
        }
        metrics::counter!("engine_sessions_created_total").increment(1);
        Ok(rec)
    }

    fn expired(&self, s: &SessionRecord, now: Millis) -> bool {
        s.last_seen_ms + self.ttl_ms() < now
    }

    pub(super) async fn live_session(&self, id: &str) -> Result<Option<SessionRecord>> {
        let now = self.now_ms();
        Ok(self
            .inner
            .store
            .get_session(id)
            .await?
            .filter(|s| !self.expired(s, now)))
    }

    pub async fn session(&self, id: &str) -> Result<SessionRecord> {
        self.live_session(id)
            .await?
            .ok_or_else(|| Error::NoSuchSession(id.to_string()))
    }

    /// A request for the session of `scope` (no-op for a channel): note the use locally and,
    /// at most every [`TOUCH_EVERY_MS`], in the store. A session this replica has not served
    /// for a TTL is checked in the store first (it may have expired meanwhile). A store
    /// failure is logged, not returned: what this replica holds stays servable.
    pub(super) async fn touch(&self, scope: &Scope) -> Result<()> {
        let Some(rec) = &scope.session else {
            return Ok(());
        };
        let now = self.now_ms();
        let used = scope.last_used_ms.fetch_max(now, Ordering::Relaxed);
        let forget = || {
            self.inner
                .scopes
                .write()
                .expect("scopes lock")
                .remove(&Target::Session(rec.id.clone()));
            Error::NoSuchSession(rec.id.clone())
        };
        if used + self.ttl_ms() < now {
            match self.live_session(&rec.id).await {
                Ok(Some(_)) => {}
                Ok(None) => return Err(forget()),
                Err(e) => return Err(e),
            }
        }
        if now - scope.touched_ms.load(Ordering::Relaxed) < TOUCH_EVERY_MS {
            return Ok(());
        }
        scope.touched_ms.store(now, Ordering::Relaxed);
        let mut r = rec.clone();
        r.last_seen_ms = now;
        match self.inner.store.touch_session(&r).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(forget()),
            Err(e) => {
                metrics::counter!("engine_session_touch_errors_total").increment(1);
                tracing::warn!(session = %rec.id, error = %e, "could not record session use; serving what this replica holds");
                Ok(())
            }
        }
    }

    /// Live sessions (a bounded number of store round trips, whatever their count).
    pub async fn sessions(&self) -> Result<Vec<SessionRecord>> {
        let now = self.now_ms();
        self.inner.store.list_sessions(now - self.ttl_ms()).await
    }

    pub async fn delete_session(&self, id: &str) -> Result<bool> {
        let key = format!("session:{id}");
        self.inner
            .scopes
            .write()
            .expect("scopes lock")
            .remove(&Target::Session(id.to_string()));
        self.inner.store.delete_log(&key).await?;
        self.inner.store.delete_session(id).await
    }

    /// Remove expired sessions from the store (their records and schedules), then drop the
    /// session state this replica holds for sessions that are gone or that it has not served
    /// for a TTL ([`Engine::sweep_local_sessions`]). Returns how many left the store.
    pub async fn sweep_sessions(&self) -> Result<usize> {
        let now = self.now_ms();
        let mut n = 0;
        loop {
            let ids = self
                .inner
                .store
                .expired_sessions(now - self.ttl_ms(), SWEEP_BATCH)
                .await?;
            for id in &ids {
                self.delete_session(id).await?;
            }
            n += ids.len();
            if ids.len() < SWEEP_BATCH {
                break;
            }
        }
        if n > 0 {
            metrics::counter!("engine_sessions_expired_total").increment(n as u64);
        }
        self.sweep_local_sessions().await?;
        Ok(n)
    }

    /// Drop the session scopes this replica holds for sessions it has not served for a TTL,
    /// and for sessions the store no longer has live (expired, or deleted or swept by another
    /// replica): one store round trip. Returns how many were dropped.
    pub async fn sweep_local_sessions(&self) -> Result<usize> {
        let now = self.now_ms();
        let ttl = self.ttl_ms();
        let held: Vec<(String, Arc<Scope>)> = self
            .inner
            .scopes
            .read()
            .expect("scopes lock")
            .iter()
            .filter_map(|(t, s)| match t {
                Target::Session(id) => Some((id.clone(), s.clone())),
                Target::Channel(_) => None,
            })
            .collect();
        if held.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = held.iter().map(|(id, _)| id.clone()).collect();
        let records = self.inner.store.get_sessions(&ids).await?;
        let mut gone = Vec::new();
        for ((id, scope), rec) in held.iter().zip(records) {
            let used = scope.last_used_ms.load(Ordering::Relaxed);
            let seen = rec.map(|r| r.last_seen_ms.max(used));
            if used + ttl < now || seen.is_none_or(|s| s + ttl < now) {
                gone.push(id.clone());
            }
        }
        let mut scopes = self.inner.scopes.write().expect("scopes lock");
        for id in &gone {
            scopes.remove(&Target::Session(id.clone()));
        }
        if !gone.is_empty() {
            metrics::counter!("engine_session_scopes_dropped_total").increment(gone.len() as u64);
        }
        Ok(gone.len())
    }

    /// How many sessions this replica holds in memory (schedules of sessions it served).
    pub fn local_sessions(&self) -> usize {
        self.inner
            .scopes
            .read()
            .expect("scopes lock")
            .keys()
            .filter(|t| matches!(t, Target::Session(_)))
            .count()
    }
}
