//! Content profiles by content URL: read once (single flight per URL), kept for a while,
//! a failure remembered briefly so a broken origin is not profiled once per viewer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::profile::{self, ContentProfile};
use crate::error::{AdsError, Result};

type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Result<Arc<ContentProfile>, String>)>>>;

/// Profiles of the contents the proxy serves, by master playlist URL.
pub struct ProfileCache {
    ttl: Duration,
    failure_ttl: Duration,
    slots: Mutex<HashMap<String, Slot>>,
}

impl Default for ProfileCache {
    fn default() -> Self {
        Self::new(Duration::from_secs(600), Duration::from_secs(10))
    }
}

impl ProfileCache {
    /// Profiles are read again after `ttl`; a failure is answered again for `failure_ttl`.
    pub fn new(ttl: Duration, failure_ttl: Duration) -> Self {
        Self {
            ttl,
            failure_ttl,
            slots: Mutex::default(),
        }
    }

    /// The profile of the content whose master is at `url`, if known now (never waits).
    pub fn peek(&self, url: &str) -> Option<Arc<ContentProfile>> {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(url)
            .cloned()?;
        let guard = slot.try_lock().ok()?;
        match guard.as_ref() {
            Some((_, Ok(p))) => Some(p.clone()),
            _ => None,
        }
    }

    /// The profile of the content whose master is at `url`: read it when unknown or old
    /// (one read per URL however many callers wait for it).
    pub async fn get(&self, http: &reqwest::Client, url: &str) -> Result<Arc<ContentProfile>> {
        let slot = {
            let mut map = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() > 1024 {
                map.retain(|_, s| Arc::strong_count(s) > 1);
            }
            map.entry(url.to_string()).or_default().clone()
        };
        let mut guard = slot.lock().await;
        if let Some((at, result)) = guard.as_ref() {
            let fresh = match result {
                Ok(_) => at.elapsed() < self.ttl,
                Err(_) => at.elapsed() < self.failure_ttl,
            };
            if fresh {
                return result.clone().map_err(AdsError::Origin);
            }
        }
        let read = profile::read(http, url)
            .await
            .map(Arc::new)
            .map_err(|e| e.to_string());
        if let Err(e) = &read {
            tracing::warn!(url, error = %e, "content profile not read");
        }
        *guard = Some((Instant::now(), read.clone()));
        read.map_err(AdsError::Origin)
    }
}
