//! The stateful shell around the pure timeline and planner. This file: the engine's types,
//! scopes (a channel's or a session's schedule), the store gate and the render path; the
//! rest by responsibility: `channels` (channel list, profiles from content, slate check,
//! resolving items), `schedule` (`ensure`: the driver of a scheduling round,
//! `plan::round`, that keeps a schedule ahead of need), `live` (the
//! live switch's open entry), `sessions` (cap, touch, expiry). I/O (VOD fetches, adapters,
//! store) happens here, never in `timeline` or `plan`.
//!
//! A store failure never hangs a request: the store's own calls are bounded (Redis
//! timeouts), a request whose window the local schedule already covers needs no store at
//! all (the render is pure), and one that needs the store fails at once with
//! [`Error::Store`] (503) for `STORE_BACKOFF` (1 s) after a failure, while the background
//! tick keeps retrying. A store that lost a log (Redis restarted empty) is re-seeded from
//! this replica's schedule ([`Store::restore_log`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use clock::Clock;
use serde::Serialize;

use crate::adapters::{AssetManager, ChannelConfig, ChannelManager};
use crate::error::{Error, Result};
use crate::profile::Profile;
use crate::store::{SessionRecord, Store};
use crate::timeline::{Item, Millis, RenderOptions, Schedule, WindowPos};

/// After a failed store call, requests that need the store fail at once (503) for this
/// long instead of queueing behind one another's timeouts; the background tick keeps
/// retrying, so the engine recovers by itself when the store answers again.
const STORE_BACKOFF: Duration = Duration::from_secs(1);

use crate::vod::VodCache;

mod channels;
mod live;
mod schedule;
mod sessions;

use crate::plan::feed::LiveFeed;

/// Tunables (see [`crate::config::EngineArgs`] for the CLI form).
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Live window length.
    pub window: Duration,
    /// How far ahead of need the next item is scheduled (and its VOD fetched).
    pub lookahead: Duration,
    /// Sessions expire after this long without a playlist request.
    pub session_ttl: Duration,
    /// Default slate master playlist URL (a channel may override it).
    pub slate_url: Option<String>,
    /// How long a slate entry plays when it replaces a failed item.
    pub slate_duration: Duration,
    /// Bound on loading one VOD (master + media playlists) and on asking an adapter.
    pub load_timeout: Duration,
    /// How long a parsed VOD stays cached.
    pub vod_ttl: Duration,
    /// How much already-elapsed schedule a new channel starts with (a full window by
    /// default, so players get a full playlist at once). A session starts with three
    /// target durations of its first item listed ([`crate::timeline::fresh_epoch`]): a
    /// player starting that far from the live edge sees its first VOD from about its
    /// beginning.
    pub channel_prefill: Option<Duration>,
    /// Most live sessions (seen within `session_ttl`) across every replica sharing the
    /// store; creating one more answers 503.
    pub max_sessions: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            lookahead: Duration::from_secs(30),
            session_ttl: Duration::from_secs(300),
            slate_url: None,
            slate_duration: Duration::from_secs(10),
            load_timeout: Duration::from_secs(5),
            vod_ttl: Duration::from_secs(600),
            channel_prefill: None,
            max_sessions: 100_000,
        }
    }
}

struct Channel {
    config: ChannelConfig,
    profile: tokio::sync::OnceCell<Arc<Profile>>,
    master: tokio::sync::OnceCell<Bytes>,
}

struct Scope {
    key: String,
    channel: Arc<Channel>,
    session: Option<SessionRecord>,
    schedule: RwLock<Option<Schedule>>,
    sched_lock: tokio::sync::Mutex<()>,
    cache: Mutex<HashMap<usize, (WindowPos, Bytes, u64)>>,
    live: Mutex<Option<LiveFeed>>,
    /// Entries below this index were trimmed from the store (by this process).
    trimmed: AtomicU64,
    /// Engine-clock instant of this replica's last request for the scope.
    last_used_ms: AtomicI64,
    /// A session's last-seen instant as this replica last wrote it to the store.
    touched_ms: AtomicI64,
}

/// Which playlist family: a channel's shared one, or one viewer's session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Channel(String),
    Session(String),
}

/// A rendered media playlist.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub body: Bytes,
    pub target_duration: u64,
}

/// Public view of a channel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelInfo {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Relative to the engine root.
    pub master: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// The item playing now (once the channel has started).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub now_playing: Option<Item>,
}

pub(crate) struct Inner {
    pub(crate) opts: EngineOptions,
    pub(crate) clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
    assets: Arc<dyn AssetManager>,
    channel_manager: Arc<dyn ChannelManager>,
    vods: VodCache,
    channels: RwLock<BTreeMap<String, Arc<Channel>>>,
    /// Keyed by the request's own [`Target`] (no key string built per request); read-locked
    /// on the hot path, written only when a scope is created or removed.
    scopes: RwLock<HashMap<Target, Arc<Scope>>>,
    /// When a store call last failed (the clock's monotonic time; see [`STORE_BACKOFF`]).
    store_failed: Mutex<Option<std::time::Instant>>,
}

/// The channel engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

/// `engine_render_cache_hits_total`, looked up once: the `metrics` macros build the key and
/// search the registry on every call, and a hit is the whole of a cached request's work.
fn cache_hits() -> &'static metrics::Counter {
    static HITS: std::sync::OnceLock<metrics::Counter> = std::sync::OnceLock::new();
    HITS.get_or_init(|| metrics::counter!("engine_render_cache_hits_total"))
}

fn render_opts(o: &EngineOptions) -> RenderOptions {
    RenderOptions {
        window_ms: o.window.as_millis() as u64,
    }
}

impl Engine {
    /// An engine over the given adapters and store. Call [`Engine::reload_channels`] (done by
    /// [`crate::build`]) before serving.
    pub fn new(
        opts: EngineOptions,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
        assets: Arc<dyn AssetManager>,
        channel_manager: Arc<dyn ChannelManager>,
    ) -> Self {
        let vods = VodCache::new(opts.vod_ttl, opts.load_timeout, clock.clone());
        Self {
            inner: Arc::new(Inner {
                opts,
                clock,
                store,
                assets,
                channel_manager,
                vods,
                channels: RwLock::new(BTreeMap::new()),
                scopes: RwLock::new(HashMap::new()),
                store_failed: Mutex::new(None),
            }),
        }
    }

    pub fn options(&self) -> &EngineOptions {
        &self.inner.opts
    }

    pub fn now_ms(&self) -> Millis {
        self.inner.clock.now_ms()
    }

    async fn scope(&self, target: &Target) -> Result<Arc<Scope>> {
        if let Some(s) = self.inner.scopes.read().expect("scopes lock").get(target) {
            return Ok(s.clone());
        }
        let key = match target {
            Target::Channel(id) => format!("channel:{id}"),
            Target::Session(id) => format!("session:{id}"),
        };
        let (channel, session) = match target {
            Target::Channel(id) => (self.channel(id)?, None),
            Target::Session(id) => {
                let rec = self
                    .live_session(id)
                    .await?
                    .ok_or_else(|| Error::NoSuchSession(id.clone()))?;
                (self.channel(&rec.channel)?, Some(rec))
            }
        };
        let scope = Arc::new(Scope {
            key: key.clone(),
            channel,
            schedule: RwLock::new(None),
            sched_lock: tokio::sync::Mutex::new(()),
            cache: Mutex::new(HashMap::new()),
            live: Mutex::new(None),
            trimmed: AtomicU64::new(0),
            last_used_ms: AtomicI64::new(self.now_ms()),
            touched_ms: AtomicI64::new(session.as_ref().map_or(0, |s| s.last_seen_ms)),
            session,
        });
        Ok(self
            .inner
            .scopes
            .write()
            .expect("scopes lock")
            .entry(target.clone())
            .or_insert(scope)
            .clone())
    }

    /// Fail at once while the store is known to be down (see [`STORE_BACKOFF`]).
    fn store_gate(&self) -> Result<()> {
        match *self.inner.store_failed.lock().expect("store_failed lock") {
            Some(t) if self.inner.clock.instant().saturating_duration_since(t) < STORE_BACKOFF => {
                Err(Error::Store(
                    "the state store is unavailable; retrying in the background".into(),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Remember whether a call that needed the store succeeded.
    fn note_store<T>(&self, r: &Result<T>) {
        let mut failed = self.inner.store_failed.lock().expect("store_failed lock");
        match r {
            Err(Error::Store(_)) => *failed = Some(self.inner.clock.instant()),
            Ok(_) => *failed = None,
            Err(_) => {}
        }
    }

    /// The media playlist `rendition` (a slot name such as `v0`, `audio-en`) at the clock's now.
    pub async fn media_playlist(&self, target: &Target, rendition: &str) -> Result<Rendered> {
        let now = self.now_ms();
        self.media_playlist_at(target, rendition, now).await
    }

    /// The media playlist `rendition` at instant `now`.
    pub async fn media_playlist_at(
        &self,
        target: &Target,
        rendition: &str,
        now: Millis,
    ) -> Result<Rendered> {
        let scope = self.scope(target).await?;
        if scope.session.is_none() {
            Self::note_watched(&scope, now);
        }
        self.touch(&scope).await?;
        let profile = self.profile(&scope.channel).await?;
        let slot = profile
            .slot_by_name(rendition)
            .ok_or_else(|| Error::NoSuchRendition(rendition.to_string()))?;
        // One look at the schedule's end decides both: catch up now (ensure) and/or
        // schedule ahead in the background (prefetch). The hot path (covered past the
        // lookahead) takes no other lock than the render's read lock below.
        let until = now + self.inner.opts.lookahead.as_millis() as Millis;
        let end = Self::schedule_end(&scope);
        if end.is_none_or(|e| e <= until) {
            if end.is_none_or(|e| e <= now) {
                // The window cannot be rendered from what this replica holds: the store
                // must answer (or the request fails fast while it is known to be down).
                self.store_gate()?;
                let r = self.ensure(&scope, now).await;
                self.note_store(&r);
                r?;
            }
            if !Self::covered(&scope, until) {
                self.prefetch(&scope, until);
            }
        }
        let opts = render_opts(&self.inner.opts);
        let guard = scope.schedule.read().expect("schedule lock");
        let sched = guard.as_ref().expect("initialised");
        let pos = sched.window_pos(slot, now, &opts)?;
        if let Some((p, body, td)) = scope.cache.lock().expect("cache lock").get(&slot)
            && *p == pos
        {
            cache_hits().increment(1);
            return Ok(Rendered {
                body: body.clone(),
                target_duration: *td,
            });
        }
        let started = std::time::Instant::now();
        let pl = sched.render(slot, now, &opts)?;
        let body = Bytes::from(pl.to_bytes());
        metrics::histogram!("engine_render_seconds").record(started.elapsed().as_secs_f64());
        let td = pl.target_duration.unwrap_or(1);
        scope
            .cache
            .lock()
            .expect("cache lock")
            .insert(slot, (pos, body.clone(), td));
        metrics::counter!("engine_renders_total").increment(1);
        Ok(Rendered {
            body,
            target_duration: td,
        })
    }

    /// Remember that a channel was requested now (at most one store per second: on the hot
    /// path this is one shared read).
    fn note_watched(scope: &Scope, now: Millis) {
        if scope.last_used_ms.load(Ordering::Relaxed) + 1_000 < now {
            scope.last_used_ms.store(now, Ordering::Relaxed);
        }
    }

    /// The background tick's scheduling: keep ahead of need the channels requested within
    /// the last window + lookahead, those playing a live entry (its source is polled as it
    /// publishes), and every channel that has started (was requested once): a channel left
    /// to fall behind would have to catch up, in one request, on every item it missed (for
    /// a schedule-driven channel, one schedule read each). A channel nobody ever requested
    /// is not scheduled at all: it holds no schedule until its first request. So 10,000
    /// idle channels cost neither CPU nor memory; [`Engine::warm_up`] still starts them
    /// all.
    pub async fn keep_watched_ahead(&self) {
        let now = self.now_ms();
        let o = &self.inner.opts;
        let until = now + o.lookahead.as_millis() as Millis;
        let idle = (o.window + o.lookahead).as_millis() as Millis;
        let watched: Vec<Arc<Scope>> = self
            .inner
            .scopes
            .read()
            .expect("scopes lock")
            .iter()
            .filter(|(t, s)| {
                matches!(t, Target::Channel(_))
                    && (s.last_used_ms.load(Ordering::Relaxed) + idle >= now
                        || s.schedule
                            .read()
                            .expect("schedule lock")
                            .as_ref()
                            .is_some_and(|sch| sch.len_total() > 0))
            })
            .map(|(_, s)| s.clone())
            .collect();
        for scope in watched {
            if Self::covered(&scope, until) {
                continue;
            }
            let r = self.ensure(&scope, until).await;
            self.note_store(&r);
            if let Err(e) = r {
                tracing::warn!(scope = %scope.key, error = %e, "could not schedule channel");
            }
        }
    }

    /// Background work: schedule started channels ahead of need
    /// ([`Engine::keep_watched_ahead`]) and expire sessions, every second, and reload the
    /// channel list every ten, until the engine is dropped (and set the `engine_sessions`
    /// gauge: sessions held).
    pub fn spawn_background(&self) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut n: u64 = 0;
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let engine = Engine { inner };
                // Channels come and go (a schedule service's list): look again now and then.
                if n % 10 == 5
                    && let Err(e) = engine.reload_channels().await
                {
                    tracing::warn!(error = %e, "reloading the channel list failed");
                }
                metrics::gauge!("engine_sessions").set(engine.local_sessions() as f64);
                engine.keep_watched_ahead().await;
                if n.is_multiple_of(10)
                    && let Err(e) = engine.sweep_sessions().await
                {
                    tracing::warn!(error = %e, "session sweep failed");
                }
                n += 1;
            }
        })
    }

    /// Number of parsed VODs in the shared cache.
    pub fn cached_vods(&self) -> usize {
        self.inner.vods.len()
    }
}
