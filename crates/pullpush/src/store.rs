//! Durable fetcher state in SQLite: fetcher specs, their lifecycle state and, per
//! destination track, the [`TrackState`] that lets a restarted service continue the
//! destination media sequence. All calls run on tokio's blocking pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, params};

use crate::error::{Error, Result};
use crate::fetcher::{FetcherSpec, FetcherState};
use crate::track::TrackState;

/// A handle to the state database (cheap to clone).
#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

/// One fetcher as stored.
pub struct StoredFetcher {
    pub spec: FetcherSpec,
    pub state: FetcherState,
    pub tracks: HashMap<String, TrackState>,
}

impl Store {
    /// Open (or create) the database at `path`; `:memory:` keeps it in memory.
    pub fn open(path: &str) -> Result<Self> {
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
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().map_err(|_| Error::Store("poisoned".into()))?;
            f(&conn)
        })
        .await
        .map_err(|e| Error::Store(e.to_string()))?
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
            c.execute("DELETE FROM tracks WHERE fetcher_id = ?1", params![id])?;
            c.execute("DELETE FROM fetchers WHERE id = ?1", params![id])?;
            Ok(())
        })
        .await
    }

    pub async fn save_track(&self, fetcher_id: &str, name: &str, state: &TrackState) -> Result<()> {
        let json = serde_json::to_string(state).map_err(|e| Error::Store(e.to_string()))?;
        let (id, name) = (fetcher_id.to_string(), name.to_string());
        self.with(move |c| {
            c.execute(
                "INSERT INTO tracks (fetcher_id, name, state) VALUES (?1, ?2, ?3)
                 ON CONFLICT(fetcher_id, name) DO UPDATE SET state = excluded.state",
                params![id, name, json],
            )?;
            Ok(())
        })
        .await
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
