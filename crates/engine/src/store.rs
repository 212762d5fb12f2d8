//! State stores: schedule logs (per channel or session) and sessions.
//!
//! A schedule log is a header (epoch, rendition count, least target duration) written once
//! ("first writer wins") plus an append-only list of entries; appending is a compare-and-set
//! on the log length, so two engines racing to schedule the next item agree on one.
//! [`MemoryStore`] is the default; [`RedisStore`] lets several engine processes share state.

use std::collections::HashMap;
use std::sync::Mutex;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::timeline::{Entry, Millis};

/// The fixed part of a schedule log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogHeader {
    pub epoch_ms: Millis,
    pub renditions: usize,
    pub min_target: u64,
}

/// A viewer session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionRecord {
    pub id: String,
    pub channel: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    pub created_ms: Millis,
    pub last_seen_ms: Millis,
}

/// Where engine state lives.
pub trait Store: Send + Sync {
    /// Write `header` for `scope` unless one exists; return the one in force.
    fn init_log(&self, scope: &str, header: LogHeader) -> BoxFuture<'_, Result<LogHeader>>;
    /// Entries with index >= `from`.
    fn entries_from(&self, scope: &str, from: u64) -> BoxFuture<'_, Result<Vec<Entry>>>;
    /// Append `entry` if the log holds exactly `entry.index` entries. `false`: someone else
    /// appended first.
    fn append(&self, scope: &str, entry: &Entry) -> BoxFuture<'_, Result<bool>>;
    fn delete_log(&self, scope: &str) -> BoxFuture<'_, Result<()>>;
    fn put_session(&self, s: &SessionRecord) -> BoxFuture<'_, Result<()>>;
    fn get_session(&self, id: &str) -> BoxFuture<'_, Result<Option<SessionRecord>>>;
    fn delete_session(&self, id: &str) -> BoxFuture<'_, Result<bool>>;
    fn list_sessions(&self) -> BoxFuture<'_, Result<Vec<SessionRecord>>>;
}

/// In-process state (the default).
#[derive(Default)]
pub struct MemoryStore {
    logs: Mutex<HashMap<String, (LogHeader, Vec<Entry>)>>,
    sessions: Mutex<HashMap<String, SessionRecord>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Store for MemoryStore {
    fn init_log(&self, scope: &str, header: LogHeader) -> BoxFuture<'_, Result<LogHeader>> {
        let mut logs = self.logs.lock().expect("store lock");
        let h = logs
            .entry(scope.to_string())
            .or_insert((header, Vec::new()))
            .0;
        Box::pin(async move { Ok(h) })
    }
    fn entries_from(&self, scope: &str, from: u64) -> BoxFuture<'_, Result<Vec<Entry>>> {
        let logs = self.logs.lock().expect("store lock");
        let v = logs
            .get(scope)
            .map(|(_, e)| e.iter().skip(from as usize).cloned().collect())
            .unwrap_or_default();
        Box::pin(async move { Ok(v) })
    }
    fn append(&self, scope: &str, entry: &Entry) -> BoxFuture<'_, Result<bool>> {
        let mut logs = self.logs.lock().expect("store lock");
        let ok = match logs.get_mut(scope) {
            Some((_, e)) if e.len() as u64 == entry.index => {
                let mut entry = entry.clone();
                entry.media = None;
                e.push(entry);
                true
            }
            Some(_) => false,
            None => return Box::pin(async { Err(Error::Store("log not initialised".into())) }),
        };
        Box::pin(async move { Ok(ok) })
    }
    fn delete_log(&self, scope: &str) -> BoxFuture<'_, Result<()>> {
        self.logs.lock().expect("store lock").remove(scope);
        Box::pin(async { Ok(()) })
    }
    fn put_session(&self, s: &SessionRecord) -> BoxFuture<'_, Result<()>> {
        self.sessions
            .lock()
            .expect("store lock")
            .insert(s.id.clone(), s.clone());
        Box::pin(async { Ok(()) })
    }
    fn get_session(&self, id: &str) -> BoxFuture<'_, Result<Option<SessionRecord>>> {
        let s = self.sessions.lock().expect("store lock").get(id).cloned();
        Box::pin(async move { Ok(s) })
    }
    fn delete_session(&self, id: &str) -> BoxFuture<'_, Result<bool>> {
        let had = self
            .sessions
            .lock()
            .expect("store lock")
            .remove(id)
            .is_some();
        Box::pin(async move { Ok(had) })
    }
    fn list_sessions(&self) -> BoxFuture<'_, Result<Vec<SessionRecord>>> {
        let mut v: Vec<_> = self
            .sessions
            .lock()
            .expect("store lock")
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Box::pin(async move { Ok(v) })
    }
}

/// Redis (or Valkey) state shared by several engine processes.
///
/// Keys (under `prefix`): `log:<scope>:h` (header JSON, `SET NX`), `log:<scope>:e` (list of
/// entry JSON; appended by a Lua compare-and-set on `LLEN`), `session:<id>` (JSON) and the
/// set `sessions`. Logs are not trimmed (one small entry per item played).
#[derive(Clone)]
pub struct RedisStore {
    conn: redis::aio::ConnectionManager,
    prefix: String,
}

fn rerr(e: redis::RedisError) -> Error {
    Error::Store(e.to_string())
}

const APPEND_LUA: &str = r#"
if redis.call('LLEN', KEYS[1]) == tonumber(ARGV[1]) then
  redis.call('RPUSH', KEYS[1], ARGV[2])
  return 1
end
return 0
"#;

impl RedisStore {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(rerr)?;
        let conn = redis::aio::ConnectionManager::new(client)
            .await
            .map_err(rerr)?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
        })
    }
    fn k(&self, s: &str) -> String {
        format!("{}{}", self.prefix, s)
    }
}

impl Store for RedisStore {
    fn init_log(&self, scope: &str, header: LogHeader) -> BoxFuture<'_, Result<LogHeader>> {
        let key = self.k(&format!("log:{scope}:h"));
        Box::pin(async move {
            let mut c = self.conn.clone();
            let json = serde_json::to_string(&header).map_err(|e| Error::Store(e.to_string()))?;
            let _: bool = redis::cmd("SET")
                .arg(&key)
                .arg(json)
                .arg("NX")
                .query_async::<Option<String>>(&mut c)
                .await
                .map(|r| r.is_some())
                .map_err(rerr)?;
            let v: String = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            serde_json::from_str(&v).map_err(|e| Error::Store(e.to_string()))
        })
    }
    fn entries_from(&self, scope: &str, from: u64) -> BoxFuture<'_, Result<Vec<Entry>>> {
        let key = self.k(&format!("log:{scope}:e"));
        Box::pin(async move {
            let mut c = self.conn.clone();
            let v: Vec<String> = redis::cmd("LRANGE")
                .arg(&key)
                .arg(from as i64)
                .arg(-1)
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            v.iter()
                .map(|s| serde_json::from_str(s).map_err(|e| Error::Store(e.to_string())))
                .collect()
        })
    }
    fn append(&self, scope: &str, entry: &Entry) -> BoxFuture<'_, Result<bool>> {
        let key = self.k(&format!("log:{scope}:e"));
        let json = serde_json::to_string(entry).map_err(|e| Error::Store(e.to_string()));
        let index = entry.index;
        Box::pin(async move {
            let json = json?;
            let mut c = self.conn.clone();
            let r: i64 = redis::Script::new(APPEND_LUA)
                .key(&key)
                .arg(index)
                .arg(json)
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(r == 1)
        })
    }
    fn delete_log(&self, scope: &str) -> BoxFuture<'_, Result<()>> {
        let (h, e) = (
            self.k(&format!("log:{scope}:h")),
            self.k(&format!("log:{scope}:e")),
        );
        Box::pin(async move {
            let mut c = self.conn.clone();
            let _: i64 = redis::cmd("DEL")
                .arg(h)
                .arg(e)
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(())
        })
    }
    fn put_session(&self, s: &SessionRecord) -> BoxFuture<'_, Result<()>> {
        let key = self.k(&format!("session:{}", s.id));
        let set = self.k("sessions");
        let id = s.id.clone();
        let json = serde_json::to_string(s).map_err(|e| Error::Store(e.to_string()));
        Box::pin(async move {
            let json = json?;
            let mut c = self.conn.clone();
            redis::pipe()
                .cmd("SET")
                .arg(&key)
                .arg(json)
                .ignore()
                .cmd("SADD")
                .arg(&set)
                .arg(&id)
                .ignore()
                .query_async::<()>(&mut c)
                .await
                .map_err(rerr)
        })
    }
    fn get_session(&self, id: &str) -> BoxFuture<'_, Result<Option<SessionRecord>>> {
        let key = self.k(&format!("session:{id}"));
        Box::pin(async move {
            let mut c = self.conn.clone();
            let v: Option<String> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            v.map(|s| serde_json::from_str(&s).map_err(|e| Error::Store(e.to_string())))
                .transpose()
        })
    }
    fn delete_session(&self, id: &str) -> BoxFuture<'_, Result<bool>> {
        let key = self.k(&format!("session:{id}"));
        let set = self.k("sessions");
        let id = id.to_string();
        Box::pin(async move {
            let mut c = self.conn.clone();
            let (n, _): (i64, i64) = redis::pipe()
                .cmd("DEL")
                .arg(&key)
                .cmd("SREM")
                .arg(&set)
                .arg(&id)
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(n > 0)
        })
    }
    fn list_sessions(&self) -> BoxFuture<'_, Result<Vec<SessionRecord>>> {
        let set = self.k("sessions");
        Box::pin(async move {
            let mut c = self.conn.clone();
            let mut ids: Vec<String> = redis::cmd("SMEMBERS")
                .arg(&set)
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            ids.sort();
            let mut out = Vec::new();
            for id in ids {
                if let Some(s) = self.get_session(&id).await? {
                    out.push(s);
                }
            }
            Ok(out)
        })
    }
}
