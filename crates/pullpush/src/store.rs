//! Durable fetcher state in SQLite: fetcher specs, their lifecycle state and, per
//! destination track, the [`TrackState`] that lets a restarted service continue the
//! destination media sequence.
//!
//! # One writer
//! One dedicated thread owns the [`Connection`]; every call is a message on a bounded
//! channel ([`QUEUE`] deep). Track states, saved after every playlist publish (about one per
//! segment per track: ~1,000/s with 1,000 fetchers), are **coalesced**: the writer keeps
//! only the latest state per (fetcher, track) and commits them all in one transaction at
//! most every [`COMMIT_INTERVAL`]. [`Store::save_track`] returns once the state is queued;
//! the fetcher never waits for the disk. Everything else (fetcher specs, states, deletes,
//! [`Store::load`]) is rare: the writer first commits what is pending (so a delete always
//! comes after the track saves queued before it), then runs it and answers at once.
//! [`Store::flush`] commits what is pending and waits for it (service shutdown); when the
//! last handle is dropped the writer commits and exits.
//!
//! # The restart invariant
//! A track's stored state is always a snapshot of a playlist that **was published**
//! ([`crate::TrackModel::state`] of the rendered playlist, saved after the put succeeded):
//! its `next_dest_seq` is one past the last listed segment and `last_source_seq` is the
//! source segment listed last. Coalescing only makes the stored snapshot older (by at most
//! one commit interval, or nothing after a flush), never newer than what players saw. A
//! restarted fetcher resumes from that snapshot and numbers the source segments after
//! `last_source_seq` from `next_dest_seq` on: for segments it had already published in the
//! lost interval it re-derives the *same* numbers for the *same* source segments (the
//! mapping is +1 per source segment), overwriting the objects with identical content, so
//! the destination sequence continues without a jump or a re-use for different media. This
//! holds as long as the source still lists those segments when the fetcher comes back
//! (seconds, against a source window of several target durations); after a longer outage
//! the model marks a discontinuity, as it does for any source gap.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, params};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::fetcher::{FetcherSpec, FetcherState};
use crate::track::TrackState;

/// Longest a saved track state waits before it is committed.
pub const COMMIT_INTERVAL: Duration = Duration::from_millis(300);
/// Depth of the writer's queue; a full queue makes `save_track` wait (backpressure).
pub const QUEUE: usize = 4096;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

enum Cmd {
    Track {
        fetcher: String,
        name: String,
        state: TrackState,
    },
    Run(Job),
    Flush(oneshot::Sender<()>),
}

/// Writer counters (for tests and diagnostics).
#[derive(Debug, Default)]
struct Counters {
    commits: AtomicU64,
    rows: AtomicU64,
}

/// A handle to the state database (cheap to clone).
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Cmd>,
    counters: Arc<Counters>,
}

/// One fetcher as stored.
pub struct StoredFetcher {
    pub spec: FetcherSpec,
    pub state: FetcherState,
    pub tracks: HashMap<String, TrackState>,
}

/// The latest unsaved state per (fetcher, track): later saves replace earlier ones.
#[derive(Default)]
struct Pending {
    tracks: HashMap<(String, String), TrackState>,
}

impl Pending {
    fn put(&mut self, fetcher: String, name: String, state: TrackState) {
        self.tracks.insert((fetcher, name), state);
    }

    /// Write everything pending in one transaction; returns the rows written.
    fn commit(&mut self, conn: &mut Connection) -> Result<u64> {
        if self.tracks.is_empty() {
            return Ok(0);
        }
        let tracks = std::mem::take(&mut self.tracks);
        let tx = conn.transaction()?;
        let mut n = 0;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO tracks (fetcher_id, name, state) VALUES (?1, ?2, ?3)
                 ON CONFLICT(fetcher_id, name) DO UPDATE SET state = excluded.state",
            )?;
            for ((fetcher, name), state) in &tracks {
                let json = serde_json::to_string(state).map_err(|e| Error::Store(e.to_string()))?;
                stmt.execute(params![fetcher, name, json])?;
                n += 1;
            }
        }
        tx.commit()?;
        Ok(n)
    }
}

fn writer(mut conn: Connection, mut rx: mpsc::Receiver<Cmd>, interval: Duration, c: Arc<Counters>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "store writer: no runtime; state is not persisted");
            return;
        }
    };
    let mut pending = Pending::default();
    let commit = |pending: &mut Pending, conn: &mut Connection| match pending.commit(conn) {
        Ok(0) => {}
        Ok(n) => {
            c.commits.fetch_add(1, Ordering::Relaxed);
            c.rows.fetch_add(n, Ordering::Relaxed);
            metrics::counter!("pullpush_store_commits_total").increment(1);
            metrics::counter!("pullpush_store_rows_total").increment(n);
        }
        Err(e) => {
            metrics::counter!("pullpush_errors_total", "fetcher" => "", "kind" => "store")
                .increment(1);
            tracing::warn!(error = %e, "could not persist track states");
        }
    };
    rt.block_on(async {
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let cmd = match deadline {
                None => rx.recv().await,
                Some(at) => tokio::select! {
                    cmd = rx.recv() => cmd,
                    _ = tokio::time::sleep_until(at) => {
                        commit(&mut pending, &mut conn);
                        deadline = None;
                        continue;
                    }
                },
            };
            match cmd {
                None => {
                    commit(&mut pending, &mut conn);
                    return;
                }
                Some(Cmd::Track {
                    fetcher,
                    name,
                    state,
                }) => {
                    pending.put(fetcher, name, state);
                    deadline.get_or_insert_with(|| tokio::time::Instant::now() + interval);
                }
                Some(Cmd::Run(job)) => {
                    commit(&mut pending, &mut conn);
                    deadline = None;
                    job(&mut conn);
                }
                Some(Cmd::Flush(done)) => {
                    commit(&mut pending, &mut conn);
                    deadline = None;
                    let _ = done.send(());
                }
            }
        }
    });
}

impl Store {
    /// Open (or create) the database at `path`; `:memory:` keeps it in memory. Starts the
    /// writer thread (it ends when the last handle is dropped).
    pub fn open(path: &str) -> Result<Self> {
        Self::open_with_interval(path, COMMIT_INTERVAL)
    }

    /// [`Store::open`] with another commit interval (tests).
    pub fn open_with_interval(path: &str, interval: Duration) -> Result<Self> {
        let conn = if path == ":memory:" {
            Connection::open_in_memory()?
        } else {
            Connection::open(path)?
        };
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS fetchers (
                 id TEXT PRIMARY KEY, spec TEXT NOT NULL, state TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS tracks (
                 fetcher_id TEXT NOT NULL, name TEXT NOT NULL, state TEXT NOT NULL,
                 PRIMARY KEY (fetcher_id, name));",
        )?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        std::thread::Builder::new()
            .name("pullpush-store".into())
            .spawn(move || writer(conn, rx, interval, c))
            .map_err(|e| Error::Store(e.to_string()))?;
        Ok(Self { tx, counters })
    }

    /// Run `f` on the writer (after committing what is pending) and return its result.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (done, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = done.send(f(conn));
        });
        self.tx
            .send(Cmd::Run(job))
            .await
            .map_err(|_| Error::Store("store writer stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Store("store writer stopped".into()))?
    }

    pub async fn save_fetcher(&self, spec: &FetcherSpec, state: FetcherState) -> Result<()> {
        let json = serde_json::to_string(spec).map_err(|e| Error::Store(e.to_string()))?;
        let id = spec.id.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO fetchers (id, spec, state) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET spec = excluded.spec, state = excluded.state",
                params![id, json, state.as_str()],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn set_state(&self, id: &str, state: FetcherState) -> Result<()> {
        let id = id.to_string();
        self.with(move |c| {
            c.execute(
                "UPDATE fetchers SET state = ?2 WHERE id = ?1",
                params![id, state.as_str()],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn delete_fetcher(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.with(move |c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM tracks WHERE fetcher_id = ?1", params![id])?;
            tx.execute("DELETE FROM fetchers WHERE id = ?1", params![id])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Queue a track's state (a snapshot of a published playlist, see the module doc).
    /// Returns once queued; the writer commits the latest state per track within
    /// [`COMMIT_INTERVAL`].
    pub async fn save_track(&self, fetcher_id: &str, name: &str, state: &TrackState) -> Result<()> {
        self.tx
            .send(Cmd::Track {
                fetcher: fetcher_id.to_string(),
                name: name.to_string(),
                state: state.clone(),
            })
            .await
            .map_err(|_| Error::Store("store writer stopped".into()))
    }

    /// Commit every queued track state and wait for it.
    pub async fn flush(&self) -> Result<()> {
        let (done, committed) = oneshot::channel();
        self.tx
            .send(Cmd::Flush(done))
            .await
            .map_err(|_| Error::Store("store writer stopped".into()))?;
        committed
            .await
            .map_err(|_| Error::Store("store writer stopped".into()))
    }

    /// Ask the writer to commit what is queued, without waiting (for sync shutdown paths).
    pub fn flush_soon(&self) {
        let (done, _) = oneshot::channel();
        let _ = self.tx.try_send(Cmd::Flush(done));
    }

    /// (transactions, rows) the writer has committed for track states.
    pub fn write_counts(&self) -> (u64, u64) {
        (
            self.counters.commits.load(Ordering::Relaxed),
            self.counters.rows.load(Ordering::Relaxed),
        )
    }

    /// Every stored fetcher with its tracks.
    pub async fn load(&self) -> Result<Vec<StoredFetcher>> {
        self.with(|c| {
            let mut out = Vec::new();
            let mut stmt = c.prepare("SELECT id, spec, state FROM fetchers ORDER BY rowid")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows {
                let (id, spec, state) = row?;
                let Ok(spec) = serde_json::from_str::<FetcherSpec>(&spec) else {
                    tracing::warn!(id, "skipping unreadable stored fetcher");
                    continue;
                };
                let mut tracks = HashMap::new();
                let mut ts = c.prepare("SELECT name, state FROM tracks WHERE fetcher_id = ?1")?;
                let trows = ts.query_map(params![id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })?;
                for t in trows {
                    let (name, json) = t?;
                    if let Ok(state) = serde_json::from_str(&json) {
                        tracks.insert(name, state);
                    }
                }
                out.push(StoredFetcher {
                    spec,
                    state: FetcherState::parse(&state),
                    tracks,
                });
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(next: u64) -> TrackState {
        TrackState {
            playlist: format!("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:{next}\n"),
            next_dest_seq: next,
            ..TrackState::default()
        }
    }

    fn spec(id: &str) -> FetcherSpec {
        FetcherSpec {
            id: id.into(),
            name: id.into(),
            url: "http://127.0.0.1:1/x.m3u8".into(),
            output: "void".into(),
            payload: serde_json::json!({}),
            concurrency: 1,
            window_size: -1,
            created_at: chrono::Utc::now(),
        }
    }

    #[tokio::test]
    async fn saves_are_coalesced_per_track_and_committed_in_one_transaction() {
        // A long interval: nothing is committed until the flush.
        let store = Store::open_with_interval(":memory:", Duration::from_secs(3600)).unwrap();
        store
            .save_fetcher(&spec("f"), FetcherState::Running)
            .await
            .unwrap();
        for i in 0..1000 {
            store.save_track("f", "a", &state(i)).await.unwrap();
            store
                .save_track("f", "b", &state(10_000 + i))
                .await
                .unwrap();
        }
        assert_eq!(
            store.write_counts(),
            (0, 0),
            "nothing written before the flush"
        );
        store.flush().await.unwrap();
        assert_eq!(
            store.write_counts(),
            (1, 2),
            "one transaction, latest state per track"
        );
        let loaded = store.load().await.unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].tracks["a"].next_dest_seq, 999);
        assert_eq!(loaded[0].tracks["b"].next_dest_seq, 10_999);
    }

    #[tokio::test]
    async fn pending_saves_commit_on_the_interval_and_before_other_calls() {
        let store = Store::open_with_interval(":memory:", Duration::from_millis(50)).unwrap();
        store
            .save_fetcher(&spec("f"), FetcherState::Running)
            .await
            .unwrap();
        store.save_track("f", "a", &state(7)).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while store.write_counts().1 == 0 {
            assert!(std::time::Instant::now() < deadline, "interval commit");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A queued save is committed before a later load sees the database...
        let slow = Store::open_with_interval(":memory:", Duration::from_secs(3600)).unwrap();
        slow.save_fetcher(&spec("g"), FetcherState::Running)
            .await
            .unwrap();
        slow.save_track("g", "a", &state(3)).await.unwrap();
        assert_eq!(slow.load().await.unwrap()[0].tracks["a"].next_dest_seq, 3);
        // ... and before a delete, which therefore removes it.
        slow.save_track("g", "a", &state(4)).await.unwrap();
        slow.delete_fetcher("g").await.unwrap();
        slow.flush().await.unwrap();
        assert!(slow.load().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn dropping_the_last_handle_commits_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db").display().to_string();
        let store = Store::open_with_interval(&path, Duration::from_secs(3600)).unwrap();
        store
            .save_fetcher(&spec("f"), FetcherState::Running)
            .await
            .unwrap();
        store.save_track("f", "a", &state(42)).await.unwrap();
        store.flush().await.unwrap();
        store.save_track("f", "a", &state(43)).await.unwrap();
        drop(store);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let reopened = Store::open(&path).unwrap();
            let next = reopened.load().await.unwrap()[0].tracks["a"].next_dest_seq;
            if next == 43 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "exit commit: still {next}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
