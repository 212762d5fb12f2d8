//! Conditioned ads shared by replicas through an `object_store` (the origin's S3 bucket, or
//! any store the crate reaches), so an ad is made once for all of them.
//!
//! ```text
//! <prefix>/<key>/ad.json        written last: the ad exists once this does
//! <prefix>/<key>/<v0|a0>/...    its files
//! <prefix>/<key>/used           rewritten (empty) when a replica uses the ad, at most
//!                               every ten minutes: the recency of the shared LRU
//! <prefix>/leases/<key>         {"owner", "untilMs"}: who is making it, until when
//! ```
//! Single flight across replicas: a replica that needs an ad absent from the store creates
//! its lease with a create-if-absent put (S3 `If-None-Match: *`); the one that succeeds
//! makes the ad, publishes it and deletes the lease; the others poll for `ad.json` until it
//! appears (then copy it) or the lease passes its deadline (then take the lease over and
//! make it themselves). Two replicas can still both make an ad when both take over the same
//! expired lease at once; they write the same files, so the result is the same.
//! The byte bound applies to the store too: after each publish, the publishing replica
//! lists the prefix and deletes the least recently `used` ads beyond it (leaving ads used
//! in the last ten minutes).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload, path::Path as StorePath};
use serde::{Deserialize, Serialize};

use super::cache::ConditionedAd;
use crate::error::{AdsError, Result};

/// How often a replica rewrites an ad's `used` marker.
const TOUCH_EVERY: Duration = Duration::from_secs(600);

/// The shared store and where in it conditioned ads live.
#[derive(Clone)]
pub struct SharedStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    owner: String,
    touched: Arc<std::sync::Mutex<HashMap<String, SystemTime>>>,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// The state of a key's lease after [`SharedStore::lease`].
#[derive(Debug, Clone, PartialEq)]
pub enum Lease {
    /// This replica holds it: make the ad.
    Mine,
    /// Another replica holds it until this instant (ms since the Unix epoch).
    Held { owner: String, until_ms: u64 },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeaseDoc {
    owner: String,
    until_ms: u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn store_err(e: object_store::Error) -> AdsError {
    AdsError::Creative(format!("shared store: {e}"))
}

impl SharedStore {
    /// `prefix` (may be empty) is the folder under which ads are kept.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Self {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            owner: uuid::Uuid::new_v4().to_string(),
            touched: Arc::default(),
        }
    }

    fn path(&self, rel: &str) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(rel)
        } else {
            StorePath::from(format!("{}/{rel}", self.prefix))
        }
    }

    async fn get(&self, rel: &str) -> Result<Option<Bytes>> {
        match self.store.get(&self.path(rel)).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(store_err)?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_err(e)),
        }
    }

    /// The ad's description, if some replica published it.
    pub async fn manifest(&self, key: &str) -> Result<Option<ConditionedAd>> {
        let Some(body) = self.get(&format!("{key}/ad.json")).await? else {
            return Ok(None);
        };
        let ad: ConditionedAd = serde_json::from_slice(&body)
            .map_err(|e| AdsError::Creative(format!("shared store: {key}/ad.json: {e}")))?;
        Ok((ad.key == key).then_some(ad))
    }

    /// One file of an ad (`v0/s000.ts`).
    pub async fn file(&self, key: &str, file: &str) -> Result<Option<Bytes>> {
        self.get(&format!("{key}/{file}")).await
    }

    /// Copies every file of `ad` into `dir` (a work folder).
    pub async fn download(&self, ad: &ConditionedAd, dir: &Path) -> Result<()> {
        for f in ad.files() {
            let body = self.file(&ad.key, &f).await?.ok_or_else(|| {
                AdsError::Creative(format!("shared store: {}/{f} missing", ad.key))
            })?;
            let dest = dir.join(&f);
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| AdsError::Creative(e.to_string()))?;
            }
            tokio::fs::write(&dest, &body)
                .await
                .map_err(|e| AdsError::Creative(format!("{}: {e}", dest.display())))?;
        }
        Ok(())
    }

    /// Uploads every file of `ad` from `dir` (its ready folder), then its `ad.json`.
    pub async fn publish(&self, ad: &ConditionedAd, dir: &Path) -> Result<()> {
        for f in ad.files() {
            let body = tokio::fs::read(dir.join(&f))
                .await
                .map_err(|e| AdsError::Creative(format!("{f}: {e}")))?;
            self.store
                .put(
                    &self.path(&format!("{}/{f}", ad.key)),
                    PutPayload::from(body),
                )
                .await
                .map_err(store_err)?;
        }
        self.store
            .put(
                &self.path(&format!("{}/used", ad.key)),
                PutPayload::default(),
            )
            .await
            .map_err(store_err)?;
        let json = serde_json::to_vec(ad).map_err(|e| AdsError::Creative(e.to_string()))?;
        self.store
            .put(
                &self.path(&format!("{}/ad.json", ad.key)),
                PutPayload::from(json),
            )
            .await
            .map_err(store_err)?;
        Ok(())
    }

    /// Takes the lease on `key` for `hold`, unless another replica holds it.
    pub async fn lease(&self, key: &str, hold: Duration) -> Result<Lease> {
        let path = self.path(&format!("leases/{key}"));
        let doc = LeaseDoc {
            owner: self.owner.clone(),
            until_ms: now_ms() + hold.as_millis() as u64,
        };
        let body = serde_json::to_vec(&doc).map_err(|e| AdsError::Creative(e.to_string()))?;
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(body), opts)
            .await
        {
            Ok(_) => Ok(Lease::Mine),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                let held = self
                    .get(&format!("leases/{key}"))
                    .await?
                    .and_then(|b| serde_json::from_slice::<LeaseDoc>(&b).ok());
                match held {
                    Some(d) if d.owner == self.owner => Ok(Lease::Mine),
                    Some(d) => Ok(Lease::Held {
                        owner: d.owner,
                        until_ms: d.until_ms,
                    }),
                    // Gone meanwhile (released) or unreadable: held for a moment more.
                    None => Ok(Lease::Held {
                        owner: String::new(),
                        until_ms: now_ms() + 1000,
                    }),
                }
            }
            Err(e) => Err(store_err(e)),
        }
    }

    /// Drops a lease (this replica's, or an expired one it takes over).
    pub async fn release(&self, key: &str) {
        if let Err(e) = self
            .store
            .delete(&self.path(&format!("leases/{key}")))
            .await
            && !matches!(e, object_store::Error::NotFound { .. })
        {
            tracing::warn!(key, error = %e, "shared store: lease not released");
        }
    }

    /// Records a use of `key` for the shared LRU (at most every ten minutes per replica).
    pub async fn touch(&self, key: &str) {
        let now = SystemTime::now();
        {
            let mut t = self.touched.lock().unwrap_or_else(|p| p.into_inner());
            if t.len() > 100_000 {
                t.clear();
            }
            if t.get(key)
                .and_then(|at| now.duration_since(*at).ok())
                .is_some_and(|d| d < TOUCH_EVERY)
            {
                return;
            }
            t.insert(key.to_string(), now);
        }
        let _ = self
            .store
            .put(&self.path(&format!("{key}/used")), PutPayload::default())
            .await;
    }

    /// Deletes the least recently used ads beyond `max_bytes` (not those used in the last
    /// ten minutes, nor `keep`); the keys removed.
    pub async fn evict(&self, max_bytes: u64, keep: &str) -> Result<Vec<String>> {
        let prefix = (!self.prefix.is_empty()).then(|| StorePath::from(self.prefix.as_str()));
        let objects: Vec<object_store::ObjectMeta> = self
            .store
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(store_err)?;
        // key -> (bytes, last use, complete)
        let mut ads: HashMap<String, (u64, i64, bool)> = HashMap::new();
        let skip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.split('/').count()
        };
        for o in &objects {
            let rel: Vec<String> = o
                .location
                .parts()
                .skip(skip)
                .map(|p| p.as_ref().to_string())
                .collect();
            let (Some(key), Some(last)) = (rel.first(), rel.last()) else {
                continue;
            };
            if key == "leases" || rel.len() < 2 {
                continue;
            }
            let e = ads.entry(key.clone()).or_insert((0, 0, false));
            e.0 += o.size;
            if last == "used" {
                e.1 = e.1.max(o.last_modified.timestamp_millis());
            }
            if last == "ad.json" {
                e.2 = true;
            }
        }
        let mut total: u64 = ads.values().map(|a| a.0).sum();
        let recent = now_ms() as i64 - TOUCH_EVERY.as_millis() as i64;
        let mut order: Vec<(i64, String)> = ads
            .iter()
            .filter(|(k, a)| a.2 && a.1 < recent && k.as_str() != keep)
            .map(|(k, a)| (a.1, k.clone()))
            .collect();
        order.sort();
        let mut removed = Vec::new();
        for (_, key) in order {
            if total <= max_bytes {
                break;
            }
            // ad.json first: from then on nobody takes the ad as complete.
            let _ = self
                .store
                .delete(&self.path(&format!("{key}/ad.json")))
                .await;
            for o in objects.iter().filter(|o| {
                o.location
                    .parts()
                    .nth(skip)
                    .is_some_and(|p| p.as_ref() == key)
            }) {
                let _ = self.store.delete(&o.location).await;
            }
            total = total.saturating_sub(ads[&key].0);
            removed.push(key);
        }
        Ok(removed)
    }
}
