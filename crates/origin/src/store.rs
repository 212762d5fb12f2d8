//! Segment bytes storage behind a small trait. The timeline index (which segments exist,
//! their times and tags) lives in memory in [`crate::timeline`] (and, with `--store disk`,
//! is also persisted next to the segments by [`crate::persist`]); a [`Store`] only holds
//! bytes under keys the origin builds itself (`<channel>/<variant>/<seq>`; never from
//! client input), so a backend never sees a client path.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::error::{OriginError, Result};

/// Where segment bytes live. Implementations must be cheap to call concurrently.
pub trait Store: Send + Sync + 'static {
    fn put(&self, key: String, data: Bytes) -> BoxFuture<'_, Result<()>>;
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>>;
    fn delete(&self, key: String) -> BoxFuture<'_, Result<()>>;
}

/// The default: `Bytes` in a map. Memory is bounded by the startover window because the
/// timeline deletes what leaves the window.
#[derive(Default)]
pub struct MemoryStore {
    map: Mutex<HashMap<String, Bytes>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
    /// Total bytes held.
    pub fn bytes(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(Bytes::len)
            .sum()
    }
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Store for MemoryStore {
    fn put(&self, key: String, data: Bytes) -> BoxFuture<'_, Result<()>> {
        metrics::gauge!("origin_store_bytes").increment(data.len() as f64);
        if let Some(old) = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, data)
        {
            metrics::gauge!("origin_store_bytes").decrement(old.len() as f64);
        }
        Box::pin(async { Ok(()) })
    }
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>>> {
        let v = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned();
        Box::pin(async { Ok(v) })
    }
    fn delete(&self, key: String) -> BoxFuture<'_, Result<()>> {
        if let Some(old) = self
            .map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key)
        {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_and_disk_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let stores: Vec<Box<dyn Store>> = vec![
            Box::new(MemoryStore::new()),
            Box::new(DiskStore::new(dir.path()).unwrap()),
        ];
        for s in stores {
            s.put("c/v/1".into(), Bytes::from_static(b"abc"))
                .await
                .unwrap();
            assert_eq!(s.get("c/v/1").await.unwrap().unwrap(), "abc");
            s.delete("c/v/1".into()).await.unwrap();
            assert!(s.get("c/v/1").await.unwrap().is_none());
        }
    }
}
