//! [`MemoryStore`]: the in-process [`Store`] (one engine process).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use futures::future::BoxFuture;

use super::{LiveChunk, LogHeader, OpenState, SessionRecord, Store};
use crate::error::{Error, Result};
use crate::timeline::{Entry, Millis};

/// An open entry's chunks and the chunk count it was closed at.
type OpenLog = (Vec<LiveChunk>, Option<u64>);
/// A scope's header, the entries kept, and the index of the first one kept.
type Log = (LogHeader, Vec<Entry>, u64);

/// In-process state (the default).
#[derive(Default)]
pub struct MemoryStore {
    /// scope -> (header, entries kept, index of the first one kept).
    logs: Mutex<HashMap<String, Log>>,
    /// (scope, entry index) -> (chunks, closed after n chunks).
    open: Mutex<HashMap<(String, u64), OpenLog>>,
    sessions: Mutex<Sessions>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
    /// Index of the first entry of `scope` still kept.
    fn trimmed(&self, scope: &str) -> u64 {
        self.logs
            .lock()
            .expect("store lock")
            .get(scope)
            .map_or(0, |l| l.2)
    }
}

impl Store for MemoryStore {
    fn init_log(&self, scope: &str, header: LogHeader) -> BoxFuture<'_, Result<LogHeader>> {
        let mut logs = self.logs.lock().expect("store lock");
        let h = logs
            .entry(scope.to_string())
            .or_insert((header, Vec::new(), 0))
            .0;
        Box::pin(async move { Ok(h) })
    }
    fn entries_from(&self, scope: &str, from: u64) -> BoxFuture<'_, Result<Vec<Entry>>> {
        let logs = self.logs.lock().expect("store lock");
        let v = logs
            .get(scope)
            .map(|(_, e, off)| {
                e.iter()
                    .skip(from.saturating_sub(*off) as usize)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Box::pin(async move { Ok(v) })
    }
    fn append(
        &self,
        scope: &str,
        entry: &Entry,
        first_chunk: Option<&LiveChunk>,
    ) -> BoxFuture<'_, Result<bool>> {
        let mut logs = self.logs.lock().expect("store lock");
        let ok = match logs.get_mut(scope) {
            Some((_, e, off)) if *off + e.len() as u64 == entry.index => {
                let mut entry = entry.clone();
                entry.media = None;
                if let Some(c) = first_chunk {
                    // Under the logs lock: readers of the entry find its chunk 0.
                    self.open
                        .lock()
                        .expect("store lock")
                        .insert((scope.to_string(), entry.index), (vec![c.clone()], None));
                }
                e.push(entry);
                true
            }
            Some(_) => false,
            None => return Box::pin(async { Err(Error::Store("log not initialised".into())) }),
        };
        Box::pin(async move { Ok(ok) })
    }
    fn trim(&self, scope: &str, before: u64) -> BoxFuture<'_, Result<()>> {
        let mut logs = self.logs.lock().expect("store lock");
        if let Some((_, e, off)) = logs.get_mut(scope) {
            let n = before
                .saturating_sub(*off)
                .min(e.len().saturating_sub(1) as u64);
            e.drain(..n as usize);
            *off += n;
            let kept_from = *off;
            self.open
                .lock()
                .expect("store lock")
                .retain(|(s, i), _| s != scope || *i >= kept_from);
        }
        Box::pin(async { Ok(()) })
    }
    fn extend_open(
        &self,
        scope: &str,
        entry_index: u64,
        chunk_no: u64,
        chunk: &LiveChunk,
    ) -> BoxFuture<'_, Result<bool>> {
        if entry_index < self.trimmed(scope) {
            return Box::pin(async { Ok(false) }); // trimmed: nothing to grow
        }
        let mut open = self.open.lock().expect("store lock");
        let (chunks, closed) = open.entry((scope.to_string(), entry_index)).or_default();
        let ok = closed.is_none() && chunks.len() as u64 == chunk_no;
        if ok {
            chunks.push(chunk.clone());
        }
        Box::pin(async move { Ok(ok) })
    }
    fn close_open(&self, scope: &str, entry_index: u64, n: u64) -> BoxFuture<'_, Result<bool>> {
        if entry_index < self.trimmed(scope) {
            return Box::pin(async { Ok(false) });
        }
        let mut open = self.open.lock().expect("store lock");
        let (chunks, closed) = open.entry((scope.to_string(), entry_index)).or_default();
        let ok = match *closed {
            Some(at) => at == n,
            None if chunks.len() as u64 == n => {
                *closed = Some(n);
                true
            }
            None => false,
        };
        Box::pin(async move { Ok(ok) })
    }
    fn open_state(
        &self,
        scope: &str,
        entry_index: u64,
        from: u64,
    ) -> BoxFuture<'_, Result<OpenState>> {
        let open = self.open.lock().expect("store lock");
        let st = open
            .get(&(scope.to_string(), entry_index))
            .map(|(c, closed)| OpenState {
                chunks: c.iter().skip(from as usize).cloned().collect(),
                closed_at: *closed,
            })
            .unwrap_or_default();
        Box::pin(async move { Ok(st) })
    }
    fn delete_log(&self, scope: &str) -> BoxFuture<'_, Result<()>> {
        self.logs.lock().expect("store lock").remove(scope);
        self.open
            .lock()
            .expect("store lock")
            .retain(|(s, _), _| s != scope);
        Box::pin(async { Ok(()) })
    }
    fn restore_log(
        &self,
        scope: &str,
        header: LogHeader,
        next_index: u64,
    ) -> BoxFuture<'_, Result<bool>> {
        let mut logs = self.logs.lock().expect("store lock");
        let fresh = !logs.contains_key(scope);
        if fresh {
            logs.insert(scope.to_string(), (header, Vec::new(), next_index));
        }
        Box::pin(async move { Ok(fresh) })
    }
    fn create_session(
        &self,
        s: &SessionRecord,
        max: usize,
        live_after: Millis,
    ) -> BoxFuture<'_, Result<bool>> {
        let mut sessions = self.sessions.lock().expect("store lock");
        // Live = all but the expired ones, which sit at the front of the index (few: the
        // sweep removes them), so this does not walk every session.
        let expired = sessions
            .by_seen
            .range(..(live_after, String::new()))
            .count();
        let ok = sessions.records.len() - expired < max;
        if ok {
            sessions.insert(s.clone());
        }
        Box::pin(async move { Ok(ok) })
    }
    fn touch_session(&self, s: &SessionRecord) -> BoxFuture<'_, Result<bool>> {
        let mut sessions = self.sessions.lock().expect("store lock");
        let ok = match sessions.records.get(&s.id) {
            Some(r) => {
                let mut r = r.clone();
                r.last_seen_ms = r.last_seen_ms.max(s.last_seen_ms);
                sessions.insert(r);
                true
            }
            None => false,
        };
        Box::pin(async move { Ok(ok) })
    }
    fn get_session(&self, id: &str) -> BoxFuture<'_, Result<Option<SessionRecord>>> {
        let s = self
            .sessions
            .lock()
            .expect("store lock")
            .records
            .get(id)
            .cloned();
        Box::pin(async move { Ok(s) })
    }
    fn get_sessions(&self, ids: &[String]) -> BoxFuture<'_, Result<Vec<Option<SessionRecord>>>> {
        let sessions = self.sessions.lock().expect("store lock");
        let v = ids
            .iter()
            .map(|id| sessions.records.get(id).cloned())
            .collect();
        Box::pin(async move { Ok(v) })
    }
    fn delete_session(&self, id: &str) -> BoxFuture<'_, Result<bool>> {
        let had = self.sessions.lock().expect("store lock").remove(id);
        Box::pin(async move { Ok(had) })
    }
    fn list_sessions(&self, live_after: Millis) -> BoxFuture<'_, Result<Vec<SessionRecord>>> {
        let sessions = self.sessions.lock().expect("store lock");
        let mut v: Vec<_> = sessions
            .by_seen
            .range((live_after, String::new())..)
            .filter_map(|(_, id)| sessions.records.get(id).cloned())
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Box::pin(async move { Ok(v) })
    }
    fn expired_sessions(&self, before: Millis, limit: usize) -> BoxFuture<'_, Result<Vec<String>>> {
        let v = self
            .sessions
            .lock()
            .expect("store lock")
            .by_seen
            .range(..(before, String::new()))
            .map(|(_, id)| id.clone())
            .take(limit)
            .collect();
        Box::pin(async move { Ok(v) })
    }
}

/// Session records and their index by last-seen instant.
#[derive(Default)]
struct Sessions {
    records: HashMap<String, SessionRecord>,
    by_seen: BTreeSet<(Millis, String)>,
}

impl Sessions {
    fn insert(&mut self, r: SessionRecord) {
        if let Some(old) = self.records.get(&r.id) {
            self.by_seen.remove(&(old.last_seen_ms, old.id.clone()));
        }
        self.by_seen.insert((r.last_seen_ms, r.id.clone()));
        self.records.insert(r.id.clone(), r);
    }
    fn remove(&mut self, id: &str) -> bool {
        match self.records.remove(id) {
            Some(old) => {
                self.by_seen.remove(&(old.last_seen_ms, old.id));
                true
            }
            None => false,
        }
    }
}
