//! CPU-heavy per-segment work done once: a keyed cache where concurrent requests for the
//! same key share one computation (a [`futures::future::Shared`] per key), the computation
//! runs on the blocking pool (never on the async workers), and finished results are kept
//! up to a budget in bytes (oldest dropped first).
//!
//! Used for AES-128 output (key: endpoint + segment identity; kept), and for CMAF remux
//! (key: segment identity; not kept here, the per-variant `CmafCache` holds the result):
//! see [`crate::registry::Shared`].

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use crate::error::OriginError;

type Flight<V> = Shared<BoxFuture<'static, Result<V, OriginError>>>;

enum Entry<V> {
    Running(Flight<V>),
    Done(V, usize),
}

struct Inner<V> {
    map: HashMap<String, Entry<V>>,
    /// Finished keys, oldest first.
    order: VecDeque<String>,
    bytes: usize,
}

/// Once-per-key work with a byte budget for kept results.
pub struct Once<V> {
    inner: Mutex<Inner<V>>,
    /// Bytes of finished results kept (0: keep none, share only in-flight work).
    budget: usize,
    weight: fn(&V) -> usize,
    /// Metric counting computations started (`kind` label).
    kind: &'static str,
}

impl<V: Clone + Send + Sync + 'static> Once<V> {
    pub fn new(kind: &'static str, budget: usize, weight: fn(&V) -> usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
            }),
            budget,
            weight,
            kind,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The result for `key`: kept, being computed by another request (joined), or
    /// computed now by `work` (which runs its CPU part with [`blocking`]). The work is
    /// driven by whichever request polls it, so it continues if the first one goes away.
    pub async fn get_or_run(
        &self,
        key: &str,
        work: impl std::future::Future<Output = Result<V, OriginError>> + Send + 'static,
    ) -> Result<V, OriginError> {
        let flight = {
            let mut g = self.lock();
            match g.map.get(key) {
                Some(Entry::Done(v, _)) => return Ok(v.clone()),
                Some(Entry::Running(f)) => f.clone(),
                None => {
                    metrics::counter!("origin_segment_work_total", "kind" => self.kind)
                        .increment(1);
                    let f: Flight<V> = work.boxed().shared();
                    g.map.insert(key.to_string(), Entry::Running(f.clone()));
                    f
                }
            }
        };
        let out = flight.await;
        let mut g = self.lock();
        if matches!(g.map.get(key), Some(Entry::Running(_))) {
            match &out {
                Ok(v) if self.budget > 0 => {
                    let w = (self.weight)(v);
                    g.map.insert(key.to_string(), Entry::Done(v.clone(), w));
                    g.order.push_back(key.to_string());
                    g.bytes += w;
                    while g.bytes > self.budget {
                        let Some(old) = g.order.pop_front() else {
                            break;
                        };
                        if let Some(Entry::Done(_, w)) = g.map.remove(&old) {
                            g.bytes -= w;
                        }
                    }
                    metrics::gauge!("origin_segment_cache_bytes", "kind" => self.kind)
                        .set(g.bytes as f64);
                }
                _ => {
                    g.map.remove(key);
                }
            }
        }
        out
    }

    /// Bytes of finished results kept now.
    #[cfg(test)]
    pub fn kept_bytes(&self) -> usize {
        self.lock().bytes
    }
}

/// Run CPU-heavy `f` on the blocking pool.
pub async fn blocking<V: Send + 'static>(
    f: impl FnOnce() -> V + Send + 'static,
) -> Result<V, OriginError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OriginError::Store(format!("segment work failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_one_run_and_the_budget_holds() {
        let once: Arc<Once<bytes::Bytes>> = Arc::new(Once::new("test", 100, |b| b.len()));
        let runs = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (once, runs) = (once.clone(), runs.clone());
            tasks.push(tokio::spawn(async move {
                once.get_or_run(
                    "a",
                    blocking(move || {
                        runs.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        bytes::Bytes::from(vec![1u8; 60])
                    }),
                )
                .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.expect("task").expect("work").len(), 60);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // A second 60-byte result pushes the first out of the 100-byte budget.
        once.get_or_run("b", async { Ok(bytes::Bytes::from(vec![2u8; 60])) })
            .await
            .unwrap();
        assert_eq!(once.kept_bytes(), 60);
        // Failures are not kept.
        let e = once
            .get_or_run("c", async { Err(OriginError::Store("x".into())) })
            .await;
        assert!(e.is_err());
        let again = once
            .get_or_run("c", async { Ok(bytes::Bytes::new()) })
            .await;
        assert!(again.is_ok());
    }
}
