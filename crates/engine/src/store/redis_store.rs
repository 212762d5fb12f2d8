//! [`RedisStore`]: the [`Store`] shared by engine replicas through Redis or Valkey.

use std::time::Duration;

use futures::future::BoxFuture;

use super::{LiveChunk, LogHeader, OpenState, SessionRecord, Store};
use crate::error::{Error, Result};
use crate::timeline::{Entry, Millis};

/// Redis (or Valkey) state shared by several engine processes.
///
/// Keys (under `prefix`): `log:<scope>:h` (header JSON, `SET NX`), `log:<scope>:e` (list of
/// entry JSON; appended by a Lua compare-and-set on `LLEN`), per open entry `log:<scope>:o:<i>`
/// (list of [`LiveChunk`] JSON; Lua compare-and-set on `LLEN` and the closed marker) and
/// `log:<scope>:o:<i>:closed` (chunk count at close, `SET NX` under the same script), the set
/// `log:<scope>:o` of open-entry indexes (for `delete_log` and trimming), `log:<scope>:t`
/// (index of the first entry kept: entries that left every window are trimmed in batches,
/// with their chunks), `session:<id>` (JSON) and the sorted set `sessions:seen` (session id
/// scored by its last-seen instant, ms: counting live sessions for the cap, listing them and
/// finding expired ones are range queries on it, never a scan of every key).
///
/// Every call is bounded by [`RedisTimeouts`]: a hung or unreachable Redis makes calls fail
/// ([`Error::Store`]) after the response or connect timeout instead of hanging; the
/// connection manager reconnects by itself when Redis is back.
#[derive(Clone)]
pub struct RedisStore {
    conn: redis::aio::ConnectionManager,
    prefix: String,
}

/// Bounds on every Redis call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisTimeouts {
    /// One connection attempt.
    pub connect: Duration,
    /// One command's answer (a script or pipeline counts as one).
    pub response: Duration,
}

impl Default for RedisTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            response: Duration::from_secs(1),
        }
    }
}

/// Session records fetched per `MGET` (several `MGET`s go in one pipeline).
const MGET_BATCH: usize = 512;

fn rerr(e: redis::RedisError) -> Error {
    Error::Store(e.to_string())
}

/// KEYS: entry list, the entry's chunk list, open-index set, trim offset. ARGV: entry
/// index, entry JSON, chunk 0 JSON ("" for a closed entry).
const APPEND_LUA: &str = r#"
local off = tonumber(redis.call('GET', KEYS[4]) or '0')
if off + redis.call('LLEN', KEYS[1]) == tonumber(ARGV[1]) then
  redis.call('RPUSH', KEYS[1], ARGV[2])
  if ARGV[3] ~= '' then
    redis.call('DEL', KEYS[2])
    redis.call('RPUSH', KEYS[2], ARGV[3])
    redis.call('SADD', KEYS[3], ARGV[1])
  end
  return 1
end
return 0
"#;

/// KEYS: entry list, trim offset. ARGV: first index wanted.
const ENTRIES_LUA: &str = r#"
local off = tonumber(redis.call('GET', KEYS[2]) or '0')
local from = tonumber(ARGV[1]) - off
if from < 0 then from = 0 end
return redis.call('LRANGE', KEYS[1], from, -1)
"#;

/// KEYS: entry list, trim offset, open-index set. ARGV: first index to keep, prefix of the
/// open entries' chunk keys (`...:o:`). Keeps the last entry. Returns how many went.
const TRIM_LUA: &str = r#"
local off = tonumber(redis.call('GET', KEYS[2]) or '0')
local n = tonumber(ARGV[1]) - off
local len = redis.call('LLEN', KEYS[1])
if n > len - 1 then n = len - 1 end
if n <= 0 then return 0 end
redis.call('LTRIM', KEYS[1], n, -1)
redis.call('SET', KEYS[2], off + n)
for _, i in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if tonumber(i) < off + n then
    redis.call('DEL', ARGV[2] .. i, ARGV[2] .. i .. ':closed')
    redis.call('SREM', KEYS[3], i)
  end
end
return n
"#;

/// KEYS: chunk list, closed marker, index set. ARGV: chunk number, chunk JSON, entry index.
const EXTEND_LUA: &str = r#"
if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('LLEN', KEYS[1]) == tonumber(ARGV[1]) then
  redis.call('RPUSH', KEYS[1], ARGV[2])
  redis.call('SADD', KEYS[3], ARGV[3])
  return 1
end
return 0
"#;

/// KEYS: chunk list, closed marker, index set. ARGV: chunk count, entry index.
const CLOSE_LUA: &str = r#"
local at = redis.call('GET', KEYS[2])
if at then
  if tonumber(at) == tonumber(ARGV[1]) then return 1 end
  return 0
end
if redis.call('LLEN', KEYS[1]) == tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], ARGV[1])
  redis.call('SADD', KEYS[3], ARGV[2])
  return 1
end
return 0
"#;

/// KEYS: header, entry list, trim offset. ARGV: header JSON, next index.
const RESTORE_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[3], ARGV[2])
return 1
"#;

/// KEYS: session key, last-seen index. ARGV: id, JSON, last seen, cap, live after.
const CREATE_SESSION_LUA: &str = r#"
if redis.call('ZCOUNT', KEYS[2], ARGV[5], '+inf') >= tonumber(ARGV[4]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"#;

/// KEYS: session key, last-seen index. ARGV: id, JSON, last seen.
const TOUCH_SESSION_LUA: &str = r#"
if redis.call('SET', KEYS[1], ARGV[2], 'XX') then
  redis.call('ZADD', KEYS[2], 'GT', ARGV[3], ARGV[1])
  return 1
end
return 0
"#;

impl RedisStore {
    /// Connect with the default [`RedisTimeouts`].
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        Self::connect_with(url, prefix, RedisTimeouts::default()).await
    }

    /// Connect with explicit timeouts.
    pub async fn connect_with(url: &str, prefix: &str, t: RedisTimeouts) -> Result<Self> {
        let client = redis::Client::open(url).map_err(rerr)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(t.connect)
            .set_response_timeout(t.response)
            // Reconnect attempts: few and short, so a call fails within about the
            // timeouts while Redis is away and the next one after it is back succeeds.
            .set_number_of_retries(1)
            .set_max_delay(500);
        let conn = tokio::time::timeout(
            t.connect + t.response,
            redis::aio::ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| Error::Store(format!("connecting to {url}: timed out")))?
        .map_err(rerr)?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
        })
    }
    fn k(&self, s: &str) -> String {
        format!("{}{}", self.prefix, s)
    }
    /// (chunk list, closed marker, open-index set) of an open entry.
    fn open_keys(&self, scope: &str, entry_index: u64) -> (String, String, String) {
        (
            self.k(&format!("log:{scope}:o:{entry_index}")),
            self.k(&format!("log:{scope}:o:{entry_index}:closed")),
            self.k(&format!("log:{scope}:o")),
        )
    }
}

/// What both session writes send: the record's key, the last-seen index, the id, the
/// last-seen time and the record as JSON.
type SessionWrite = (String, String, String, Millis, Result<String>);

impl RedisStore {
    fn session_write(&self, s: &SessionRecord) -> SessionWrite {
        (
            self.k(&format!("session:{}", s.id)),
            self.k("sessions:seen"),
            s.id.clone(),
            s.last_seen_ms,
            serde_json::to_string(s).map_err(|e| Error::Store(e.to_string())),
        )
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
        let off = self.k(&format!("log:{scope}:t"));
        Box::pin(async move {
            let mut c = self.conn.clone();
            let v: Vec<String> = redis::Script::new(ENTRIES_LUA)
                .key(&key)
                .key(&off)
                .arg(from)
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            v.iter()
                .map(|s| serde_json::from_str(s).map_err(|e| Error::Store(e.to_string())))
                .collect()
        })
    }
    fn append(
        &self,
        scope: &str,
        entry: &Entry,
        first_chunk: Option<&LiveChunk>,
    ) -> BoxFuture<'_, Result<bool>> {
        let key = self.k(&format!("log:{scope}:e"));
        let off = self.k(&format!("log:{scope}:t"));
        let (list, _, set) = self.open_keys(scope, entry.index);
        let json = serde_json::to_string(entry).map_err(|e| Error::Store(e.to_string()));
        let chunk = first_chunk
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| Error::Store(e.to_string()));
        let index = entry.index;
        Box::pin(async move {
            let json = json?;
            let chunk = chunk?.unwrap_or_default();
            let mut c = self.conn.clone();
            let r: i64 = redis::Script::new(APPEND_LUA)
                .key(&key)
                .key(&list)
                .key(&set)
                .key(&off)
                .arg(index)
                .arg(json)
                .arg(chunk)
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(r == 1)
        })
    }
    fn trim(&self, scope: &str, before: u64) -> BoxFuture<'_, Result<()>> {
        let key = self.k(&format!("log:{scope}:e"));
        let off = self.k(&format!("log:{scope}:t"));
        let set = self.k(&format!("log:{scope}:o"));
        let chunk_prefix = self.k(&format!("log:{scope}:o:"));
        Box::pin(async move {
            let mut c = self.conn.clone();
            let _: i64 = redis::Script::new(TRIM_LUA)
                .key(&key)
                .key(&off)
                .key(&set)
                .arg(before)
                .arg(chunk_prefix)
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(())
        })
    }
    fn extend_open(
        &self,
        scope: &str,
        entry_index: u64,
        chunk_no: u64,
        chunk: &LiveChunk,
    ) -> BoxFuture<'_, Result<bool>> {
        let (list, closed, set) = self.open_keys(scope, entry_index);
        let json = serde_json::to_string(chunk).map_err(|e| Error::Store(e.to_string()));
        Box::pin(async move {
            let json = json?;
            let mut c = self.conn.clone();
            let r: i64 = redis::Script::new(EXTEND_LUA)
                .key(&list)
                .key(&closed)
                .key(&set)
                .arg(chunk_no)
                .arg(json)
                .arg(entry_index)
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(r == 1)
        })
    }
    fn close_open(
        &self,
        scope: &str,
        entry_index: u64,
        chunks: u64,
    ) -> BoxFuture<'_, Result<bool>> {
        let (list, closed, set) = self.open_keys(scope, entry_index);
        Box::pin(async move {
            let mut c = self.conn.clone();
            let r: i64 = redis::Script::new(CLOSE_LUA)
                .key(&list)
                .key(&closed)
                .key(&set)
                .arg(chunks)
                .arg(entry_index)
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(r == 1)
        })
    }
    fn open_state(
        &self,
        scope: &str,
        entry_index: u64,
        from: u64,
    ) -> BoxFuture<'_, Result<OpenState>> {
        let (list, closed, _) = self.open_keys(scope, entry_index);
        Box::pin(async move {
            let mut c = self.conn.clone();
            // One MULTI/EXEC: the chunks and the closed marker of the same instant.
            let (v, at): (Vec<String>, Option<u64>) = redis::pipe()
                .atomic()
                .cmd("LRANGE")
                .arg(&list)
                .arg(from as i64)
                .arg(-1)
                .cmd("GET")
                .arg(&closed)
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            let chunks = v
                .iter()
                .map(|s| serde_json::from_str(s).map_err(|e| Error::Store(e.to_string())))
                .collect::<Result<_>>()?;
            Ok(OpenState {
                chunks,
                closed_at: at,
            })
        })
    }
    fn delete_log(&self, scope: &str) -> BoxFuture<'_, Result<()>> {
        let (h, e, o, t) = (
            self.k(&format!("log:{scope}:h")),
            self.k(&format!("log:{scope}:e")),
            self.k(&format!("log:{scope}:o")),
            self.k(&format!("log:{scope}:t")),
        );
        let scope = scope.to_string();
        Box::pin(async move {
            let mut c = self.conn.clone();
            let open: Vec<u64> = redis::cmd("SMEMBERS")
                .arg(&o)
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            let mut del = redis::cmd("DEL");
            del.arg(h).arg(e).arg(&o).arg(t);
            for i in open {
                let (list, closed, _) = self.open_keys(&scope, i);
                del.arg(list).arg(closed);
            }
            let _: i64 = del.query_async(&mut c).await.map_err(rerr)?;
            Ok(())
        })
    }
    fn restore_log(
        &self,
        scope: &str,
        header: LogHeader,
        next_index: u64,
    ) -> BoxFuture<'_, Result<bool>> {
        let (h, e, t) = (
            self.k(&format!("log:{scope}:h")),
            self.k(&format!("log:{scope}:e")),
            self.k(&format!("log:{scope}:t")),
        );
        Box::pin(async move {
            let json = serde_json::to_string(&header).map_err(|e| Error::Store(e.to_string()))?;
            let mut c = self.conn.clone();
            let r: i64 = redis::Script::new(RESTORE_LUA)
                .key(&h)
                .key(&e)
                .key(&t)
                .arg(json)
                .arg(next_index)
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(r == 1)
        })
    }
    fn create_session(
        &self,
        s: &SessionRecord,
        max: usize,
        live_after: Millis,
    ) -> BoxFuture<'_, Result<bool>> {
        let (key, index, id, seen, json) = self.session_write(s);
        Box::pin(async move {
            let json = json?;
            let mut c = self.conn.clone();
            let r: i64 = redis::Script::new(CREATE_SESSION_LUA)
                .key(&key)
                .key(&index)
                .arg(id)
                .arg(json)
                .arg(seen)
                .arg(max)
                .arg(live_after)
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(r == 1)
        })
    }
    fn touch_session(&self, s: &SessionRecord) -> BoxFuture<'_, Result<bool>> {
        let (key, index, id, seen, json) = self.session_write(s);
        Box::pin(async move {
            let json = json?;
            let mut c = self.conn.clone();
            let r: i64 = redis::Script::new(TOUCH_SESSION_LUA)
                .key(&key)
                .key(&index)
                .arg(id)
                .arg(json)
                .arg(seen)
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(r == 1)
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
    fn get_sessions(&self, ids: &[String]) -> BoxFuture<'_, Result<Vec<Option<SessionRecord>>>> {
        let keys: Vec<String> = ids
            .iter()
            .map(|id| self.k(&format!("session:{id}")))
            .collect();
        Box::pin(async move { self.mget_sessions(&keys).await })
    }
    fn delete_session(&self, id: &str) -> BoxFuture<'_, Result<bool>> {
        let key = self.k(&format!("session:{id}"));
        let index = self.k("sessions:seen");
        let id = id.to_string();
        Box::pin(async move {
            let mut c = self.conn.clone();
            let (n, _): (i64, i64) = redis::pipe()
                .cmd("DEL")
                .arg(&key)
                .cmd("ZREM")
                .arg(&index)
                .arg(&id)
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(n > 0)
        })
    }
    fn list_sessions(&self, live_after: Millis) -> BoxFuture<'_, Result<Vec<SessionRecord>>> {
        let index = self.k("sessions:seen");
        Box::pin(async move {
            let mut c = self.conn.clone();
            // Round trip 1: the live ids from the index.
            let ids: Vec<String> = redis::cmd("ZRANGE")
                .arg(&index)
                .arg(live_after)
                .arg("+inf")
                .arg("BYSCORE")
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            // Round trip 2: every record (MGETs in one pipeline).
            let keys: Vec<String> = ids
                .iter()
                .map(|id| self.k(&format!("session:{id}")))
                .collect();
            let mut out: Vec<SessionRecord> = self
                .mget_sessions(&keys)
                .await?
                .into_iter()
                .flatten()
                .collect();
            out.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(out)
        })
    }
    fn expired_sessions(&self, before: Millis, limit: usize) -> BoxFuture<'_, Result<Vec<String>>> {
        let index = self.k("sessions:seen");
        Box::pin(async move {
            let mut c = self.conn.clone();
            redis::cmd("ZRANGE")
                .arg(&index)
                .arg("-inf")
                .arg(format!("({before}"))
                .arg("BYSCORE")
                .arg("LIMIT")
                .arg(0)
                .arg(limit)
                .query_async(&mut c)
                .await
                .map_err(rerr)
        })
    }
}

impl RedisStore {
    /// The session records under `keys`, in order: one round trip (the `MGET`s of
    /// [`MGET_BATCH`] keys each go in one pipeline).
    async fn mget_sessions(&self, keys: &[String]) -> Result<Vec<Option<SessionRecord>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for batch in keys.chunks(MGET_BATCH) {
            pipe.cmd("MGET").arg(batch);
        }
        let mut c = self.conn.clone();
        let batches: Vec<Vec<Option<String>>> = pipe.query_async(&mut c).await.map_err(rerr)?;
        batches
            .into_iter()
            .flatten()
            .map(|v| {
                v.map(|s| serde_json::from_str(&s).map_err(|e| Error::Store(e.to_string())))
                    .transpose()
            })
            .collect()
    }
}
