//! Segment bytes storage behind a small trait. The timeline index (which segments exist,
//! their times and tags) lives in memory in [`crate::timeline`] (and, with `--store disk`
//! or `--store s3`, is also persisted next to the segments by [`crate::persist`]); a
//! [`Store`] only holds
//! bytes under keys the origin builds itself (`<channel>/<variant>/<seq>`; never from
//! client input), so a backend never sees a client path.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use futures::future::BoxFuture;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

use crate::error::{OriginError, Result};

/// Where segment bytes live. Implementations must be cheap to call concurrently.
pub trait Store: Send + Sync + 'static {
    fn put(&self, key: String, data: Bytes) -> BoxFuture<'_, Result<()>>;
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>>;
    fn delete(&self, key: String) -> BoxFuture<'_, Result<()>>;
    /// The bytes under `key` when the store can answer without waiting (`Some(None)`: not
    /// there); `None` when it cannot, so the caller awaits [`Store::get`]. Called with the
    /// channel lock held: implementations must not block.
    fn get_now(&self, _key: &str) -> Option<Option<Bytes>> {
        None
    }
}

/// The default: `Bytes` in a map. Memory is bounded by the startover window because the
/// timeline deletes what leaves the window. The map is split into [`SHARDS`] read-write
/// locked shards by key hash, so concurrent reads (every segment request) never wait on
/// each other and rarely on a write.
pub struct MemoryStore {
    shards: Box<[RwLock<HashMap<String, Bytes>>]>,
    hasher: RandomState,
}

/// Shards of a [`MemoryStore`].
pub const SHARDS: usize = 16;

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
    fn shard(&self, key: &str) -> &RwLock<HashMap<String, Bytes>> {
        &self.shards[self.hasher.hash_one(key) as usize % SHARDS]
    }
    fn read(&self, key: &str) -> std::sync::RwLockReadGuard<'_, HashMap<String, Bytes>> {
        self.shard(key).read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self, key: &str) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Bytes>> {
        self.shard(key).write().unwrap_or_else(|e| e.into_inner())
    }
    /// Total bytes held.
    pub fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.read()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .map(Bytes::len)
                    .sum::<usize>()
            })
            .sum()
    }
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Store for MemoryStore {
    fn put(&self, key: String, data: Bytes) -> BoxFuture<'_, Result<()>> {
        metrics::gauge!("origin_store_bytes").increment(data.len() as f64);
        let old = self.write(&key).insert(key, data);
        if let Some(old) = old {
            metrics::gauge!("origin_store_bytes").decrement(old.len() as f64);
        }
        Box::pin(async { Ok(()) })
    }
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        let v = self.read(key).get(key).cloned();
        Box::pin(async { Ok(v) })
    }
    fn get_now(&self, key: &str) -> Option<Option<Bytes>> {
        Some(self.read(key).get(key).cloned())
    }
    fn delete(&self, key: String) -> BoxFuture<'_, Result<()>> {
        let old = self.write(&key).remove(&key);
        if let Some(old) = old {
            metrics::gauge!("origin_store_bytes").decrement(old.len() as f64);
        }
        Box::pin(async { Ok(()) })
    }
}

/// Segments as files under a root folder (`<root>/<channel>/<variant>/<seq>`).
pub struct DiskStore {
    root: PathBuf,
}

impl DiskStore {
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)
            .map_err(|e| OriginError::Store(format!("create {}: {e}", root.display())))?;
        Ok(Self { root })
    }
    fn path(&self, key: &str) -> PathBuf {
        // Keys are built by the origin from validated ids; still, keep them relative.
        self.root
            .join(key.trim_start_matches('/').replace("..", "_"))
    }
}

impl Store for DiskStore {
    fn put(&self, key: String, data: Bytes) -> BoxFuture<'_, Result<()>> {
        let path = self.path(&key);
        Box::pin(async move {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| OriginError::Store(format!("mkdir {}: {e}", dir.display())))?;
            }
            let tmp = path.with_extension("part");
            tokio::fs::write(&tmp, &data)
                .await
                .map_err(|e| OriginError::Store(format!("write {}: {e}", tmp.display())))?;
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| OriginError::Store(format!("rename {}: {e}", path.display())))
        })
    }
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        let path = self.path(key);
        Box::pin(async move {
            match tokio::fs::read(&path).await {
                Ok(v) => Ok(Some(Bytes::from(v))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(OriginError::Store(format!("read {}: {e}", path.display()))),
            }
        })
    }
    fn delete(&self, key: String) -> BoxFuture<'_, Result<()>> {
        let path = self.path(&key);
        Box::pin(async move {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(OriginError::Store(format!(
                    "delete {}: {e}",
                    path.display()
                ))),
            }
        })
    }
}

/// Segments as objects in any `object_store` backend (S3 and compatible stores), under
/// an optional prefix: `<prefix>/<channel>/<variant>/<seq>`.
pub struct ObjectStoreBackend {
    inner: Arc<dyn ObjectStore>,
    prefix: Option<ObjectPath>,
}

impl ObjectStoreBackend {
    pub fn new(inner: Arc<dyn ObjectStore>, prefix: Option<ObjectPath>) -> Self {
        Self { inner, prefix }
    }
    fn path(&self, key: &str) -> ObjectPath {
        // Keys are built by the origin from validated ids and numbers: plain parts.
        key.split('/')
            .filter(|p| !p.is_empty())
            .fold(self.prefix.clone().unwrap_or_default(), |p, part| {
                p.child(part)
            })
    }
}

impl Store for ObjectStoreBackend {
    fn put(&self, key: String, data: Bytes) -> BoxFuture<'_, Result<()>> {
        let path = self.path(&key);
        Box::pin(async move {
            self.inner
                .put(&path, PutPayload::from(data))
                .await
                .map(|_| ())
                .map_err(|e| OriginError::Store(format!("put {path}: {e}")))
        })
    }
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        let path = self.path(key);
        Box::pin(async move {
            let got = match self.inner.get(&path).await {
                Ok(g) => g,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(OriginError::Store(format!("get {path}: {e}"))),
            };
            got.bytes()
                .await
                .map(Some)
                .map_err(|e| OriginError::Store(format!("get {path}: {e}")))
        })
    }
    fn delete(&self, key: String) -> BoxFuture<'_, Result<()>> {
        let path = self.path(&key);
        Box::pin(async move {
            match self.inner.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(OriginError::Store(format!("delete {path}: {e}"))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_and_disk_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        let local = object_store::local::LocalFileSystem::new_with_prefix(&objects).unwrap();
        let stores: Vec<Box<dyn Store>> = vec![
            Box::new(MemoryStore::new()),
            Box::new(DiskStore::new(dir.path()).unwrap()),
            Box::new(ObjectStoreBackend::new(
                Arc::new(local),
                Some(ObjectPath::from("pre/fix")),
            )),
        ];
        for s in stores {
            s.put("c/v/1".into(), Bytes::from_static(b"abc"))
                .await
                .unwrap();
            assert_eq!(s.get("c/v/1").await.unwrap().unwrap(), "abc");
            if let Some(now) = s.get_now("c/v/1") {
                assert_eq!(now.unwrap(), "abc");
            }
            s.delete("c/v/1".into()).await.unwrap();
            assert!(s.get("c/v/1").await.unwrap().is_none());
            assert!(s.get_now("c/v/1").is_none_or(|b| b.is_none()));
        }
    }

    #[tokio::test]
    async fn memory_store_counts_across_shards() {
        let s = MemoryStore::new();
        for i in 0..100 {
            s.put(format!("c/v/{i}"), Bytes::from_static(b"ab"))
                .await
                .unwrap();
        }
        assert_eq!((s.len(), s.bytes()), (100, 200));
        for i in 0..100 {
            assert_eq!(s.get_now(&format!("c/v/{i}")).unwrap().unwrap(), "ab");
            s.delete(format!("c/v/{i}")).await.unwrap();
        }
        assert!(s.is_empty());
    }
}

/// A [`Store`] with the newest segments in memory in front of it (write-through, kept up
/// to a byte budget, oldest written first out) and a deadline on every call to it: with
/// the store hung or gone, what was ingested lately (the live window) is still served from
/// memory, and the rest fails within the deadline (503) instead of hanging.
pub struct Cached {
    inner: Arc<dyn Store>,
    recent: std::sync::Mutex<Recent>,
    budget: usize,
    deadline: std::time::Duration,
}

#[derive(Default)]
struct Recent {
    map: HashMap<String, Bytes>,
    order: std::collections::VecDeque<String>,
    bytes: usize,
}

impl Cached {
    pub fn new(inner: Arc<dyn Store>, budget: usize, deadline: std::time::Duration) -> Self {
        Self {
            inner,
            recent: Default::default(),
            budget,
            deadline,
        }
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keep(&self, key: &str, data: &Bytes) {
        if data.len() > self.budget {
            return;
        }
        let mut r = self.recent();
        if let Some(old) = r.map.insert(key.to_string(), data.clone()) {
            r.bytes -= old.len();
        } else {
            r.order.push_back(key.to_string());
        }
        r.bytes += data.len();
        while r.bytes > self.budget {
            let Some(k) = r.order.pop_front() else { break };
            if let Some(old) = r.map.remove(&k) {
                r.bytes -= old.len();
            }
        }
    }

    async fn timed<T>(
        &self,
        what: &str,
        f: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        tokio::time::timeout(self.deadline, f)
            .await
            .unwrap_or_else(|_| {
                Err(OriginError::Store(format!(
                    "{what}: no answer within {:?}",
                    self.deadline
                )))
            })
    }
}

impl Store for Cached {
    fn put(&self, key: String, data: Bytes) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.timed("put", self.inner.put(key.clone(), data.clone()))
                .await?;
            self.keep(&key, &data);
            Ok(())
        })
    }
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        Box::pin(async move {
            if let Some(b) = self.recent().map.get(key).cloned() {
                return Ok(Some(b));
            }
            self.timed("get", self.inner.get(key)).await
        })
    }
    fn get_now(&self, key: &str) -> Option<Option<Bytes>> {
        self.recent().map.get(key).cloned().map(Some)
    }
    fn delete(&self, key: String) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            {
                let mut r = self.recent();
                if let Some(old) = r.map.remove(&key) {
                    r.bytes -= old.len();
                    r.order.retain(|k| *k != key);
                }
            }
            self.timed("delete", self.inner.delete(key)).await
        })
    }
}
