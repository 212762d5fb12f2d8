//! [`RedisSessions`]: SSAI sessions shared by proxy replicas through Redis (or Valkey), so
//! any replica answers any viewer: the session (what it started with, its timeline, its
//! ad decisions) is one hash, saved with a version compare-and-set in a Lua script; each
//! beacon is claimed with `SADD` (true once across replicas); the session cap and idle
//! expiry are range queries on one sorted set of deadlines.
//!
//! Keys (under `prefix`): `s:<id>` (hash: `meta` JSON, `state` JSON, `ver`), `c:<id>`
//! (set of claimed beacons `break/ad/event`), `f:<id>` and `b:<id>` (lists: ad segments
//! fetched, beacons fired; the newest [`LOG_CAP`] kept), `deadlines` (sorted set: session
//! id scored by the instant it expires, ms). Expired sessions are removed by whichever
//! replica's sweep sees them first (`ZREM` says which).
//!
//! Every call is bounded by a response timeout: an unreachable Redis makes requests fail
//! (503 at the edge) instead of hanging; the connection manager reconnects by itself.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::session::{SessionMeta, SessionState};
use super::store::{BeaconKey, LOG_CAP, Loaded, SessionStore};
use super::tracking::{AdFetch, FiredBeacon};
use crate::error::{AdsError, Result};

/// Sessions in Redis (cheap to clone).
#[derive(Clone)]
pub struct RedisSessions {
    conn: redis::aio::ConnectionManager,
    prefix: String,
}

fn rerr(e: redis::RedisError) -> AdsError {
    AdsError::Store(format!("redis: {e}"))
}

fn jerr(e: serde_json::Error) -> AdsError {
    AdsError::Store(format!("redis: {e}"))
}

/// KEYS: session hash, deadlines. ARGV: id, meta JSON, state JSON, deadline, cap, now.
const CREATE_LUA: &str = r#"
if redis.call('ZCOUNT', KEYS[2], ARGV[6], '+inf') >= tonumber(ARGV[5]) then return 0 end
redis.call('HSET', KEYS[1], 'meta', ARGV[2], 'state', ARGV[3], 'ver', 0)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return 1
"#;

/// KEYS: session hash. ARGV: state JSON, expected version. The new version, or -1.
const SAVE_LUA: &str = r#"
local v = redis.call('HGET', KEYS[1], 'ver')
if not v or tonumber(v) ~= tonumber(ARGV[2]) then return -1 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'ver', tonumber(v) + 1)
return tonumber(v) + 1
"#;

/// KEYS: session hash, deadlines. ARGV: id, deadline. Moves the deadline later only.
const TOUCH_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[1])
return 1
"#;

/// KEYS: session hash, claims. ARGV: claim. 1 the first time (and only while the session
/// exists).
const CLAIM_LUA: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('SADD', KEYS[2], ARGV[1])
"#;

impl RedisSessions {
    /// Connects to `url` (`redis://host:port/db`); keys go under `prefix`
    /// (`lineup:ads:`).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let client = redis::Client::open(url).map_err(rerr)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(1))
            .set_number_of_retries(1)
            .set_max_delay(500);
        let conn = tokio::time::timeout(
            Duration::from_secs(3),
            redis::aio::ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| AdsError::Store(format!("connecting to {url}: timed out")))?
        .map_err(rerr)?;
        Ok(Self {
            conn,
            prefix: prefix.to_string(),
        })
    }

    fn k(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    fn deadlines(&self) -> String {
        format!("{}deadlines", self.prefix)
    }

    async fn push_log(&self, kind: &str, id: &str, json: String) -> Result<()> {
        let mut c = self.conn.clone();
        let key = self.k(kind, id);
        redis::pipe()
            .rpush(&key, json)
            .ignore()
            .ltrim(&key, -(LOG_CAP as isize), -1)
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)
    }

    async fn list<T: serde::de::DeserializeOwned>(&self, kind: &str, id: &str) -> Result<Vec<T>> {
        let mut c = self.conn.clone();
        let items: Vec<String> = redis::cmd("LRANGE")
            .arg(self.k(kind, id))
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(items
            .iter()
            .filter_map(|s| serde_json::from_str(s).ok())
            .collect())
    }
}

impl SessionStore for RedisSessions {
    fn create(
        &self,
        meta: SessionMeta,
        cap: usize,
        now_ms: i64,
        deadline_ms: i64,
    ) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let mut c = self.conn.clone();
            let meta_json = serde_json::to_string(&meta).map_err(jerr)?;
            let state = serde_json::to_string(&SessionState::default()).map_err(jerr)?;
            let ok: i64 = redis::Script::new(CREATE_LUA)
                .key(self.k("s", &meta.id))
                .key(self.deadlines())
                .arg(&meta.id)
                .arg(meta_json)
                .arg(state)
                .arg(deadline_ms)
                .arg(cap)
                .arg(now_ms)
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(ok == 1)
        })
    }

    fn load(&self, id: &str) -> BoxFuture<'_, Result<Option<Loaded>>> {
        let key = self.k("s", id);
        Box::pin(async move {
            let mut c = self.conn.clone();
            let (meta, state, ver): (Option<String>, Option<String>, Option<u64>) =
                redis::cmd("HMGET")
                    .arg(&key)
                    .arg("meta")
                    .arg("state")
                    .arg("ver")
                    .query_async(&mut c)
                    .await
                    .map_err(rerr)?;
            let (Some(meta), Some(state), Some(version)) = (meta, state, ver) else {
                return Ok(None);
            };
            Ok(Some(Loaded {
                meta: Arc::new(serde_json::from_str(&meta).map_err(jerr)?),
                state: Arc::new(serde_json::from_str(&state).map_err(jerr)?),
                version,
            }))
        })
    }

    fn save(
        &self,
        id: &str,
        state: &SessionState,
        version: u64,
    ) -> BoxFuture<'_, Result<Option<u64>>> {
        let key = self.k("s", id);
        let json = serde_json::to_string(state).map_err(jerr);
        Box::pin(async move {
            let mut c = self.conn.clone();
            let v: i64 = redis::Script::new(SAVE_LUA)
                .key(key)
                .arg(json?)
                .arg(version)
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok((v >= 0).then_some(v as u64))
        })
    }

    fn touch(&self, id: &str, deadline_ms: i64) -> BoxFuture<'_, Result<()>> {
        let key = self.k("s", id);
        let id = id.to_string();
        Box::pin(async move {
            let mut c = self.conn.clone();
            let _: i64 = redis::Script::new(TOUCH_LUA)
                .key(key)
                .key(self.deadlines())
                .arg(id)
                .arg(deadline_ms)
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(())
        })
    }

    fn claim(&self, id: &str, key: BeaconKey) -> BoxFuture<'_, Result<bool>> {
        let (session, claims) = (self.k("s", id), self.k("c", id));
        Box::pin(async move {
            let mut c = self.conn.clone();
            let n: i64 = redis::Script::new(CLAIM_LUA)
                .key(session)
                .key(claims)
                .arg(format!("{}/{}/{}", key.0, key.1, key.2))
                .invoke_async(&mut c)
                .await
                .map_err(rerr)?;
            Ok(n == 1)
        })
    }

    fn log_fetch(&self, id: &str, fetch: AdFetch) -> BoxFuture<'_, Result<()>> {
        let id = id.to_string();
        Box::pin(async move {
            let json = serde_json::to_string(&fetch).map_err(jerr)?;
            self.push_log("f", &id, json).await
        })
    }

    fn log_beacon(&self, id: &str, beacon: FiredBeacon) -> BoxFuture<'_, Result<()>> {
        let id = id.to_string();
        Box::pin(async move {
            let json = serde_json::to_string(&beacon).map_err(jerr)?;
            self.push_log("b", &id, json).await
        })
    }

    fn logs(&self, id: &str) -> BoxFuture<'_, Result<(Vec<AdFetch>, Vec<FiredBeacon>)>> {
        let id = id.to_string();
        Box::pin(async move { Ok((self.list("f", &id).await?, self.list("b", &id).await?)) })
    }

    fn count(&self, now_ms: i64) -> BoxFuture<'_, Result<usize>> {
        Box::pin(async move {
            let mut c = self.conn.clone();
            redis::cmd("ZCOUNT")
                .arg(self.deadlines())
                .arg(now_ms)
                .arg("+inf")
                .query_async(&mut c)
                .await
                .map_err(rerr)
        })
    }

    fn expire(&self, now_ms: i64) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async move {
            let mut c = self.conn.clone();
            let due: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                .arg(self.deadlines())
                .arg("-inf")
                .arg(format!("({now_ms}"))
                .arg("LIMIT")
                .arg(0)
                .arg(1000)
                .query_async(&mut c)
                .await
                .map_err(rerr)?;
            let mut gone = Vec::new();
            for id in due {
                let removed: i64 = redis::cmd("ZREM")
                    .arg(self.deadlines())
                    .arg(&id)
                    .query_async(&mut c)
                    .await
                    .map_err(rerr)?;
                if removed == 1 {
                    redis::cmd("DEL")
                        .arg(self.k("s", &id))
                        .arg(self.k("c", &id))
                        .arg(self.k("f", &id))
                        .arg(self.k("b", &id))
                        .query_async::<()>(&mut c)
                        .await
                        .map_err(rerr)?;
                    gone.push(id);
                }
            }
            Ok(gone)
        })
    }
}
