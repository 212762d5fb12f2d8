//! The stateful shell around the pure timeline: channels and their profiles, scheduling
//! ahead of need, live feeds, slate fallback, render caching; sessions in [`sessions`]. I/O
//! (VOD fetches, adapters, store) happens here.
//!
//! A store failure never hangs a request: the store's own calls are bounded (Redis
//! timeouts), a request whose window the local schedule already covers needs no store at
//! all (the render is pure), and one that needs the store fails at once with
//! [`Error::Store`] (503) for [`STORE_BACKOFF`] after a failure, while the background tick
//! keeps retrying. A store that lost a log (Redis restarted empty) is re-seeded from this
//! replica's schedule ([`Store::restore_log`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;

use crate::adapters::{AssetManager, ChannelConfig, ChannelManager, NextItemRequest};
use crate::error::{Error, Result};
use crate::profile::{LiveSlot, Profile, build_media, live_snapshot};
use crate::store::{LiveChunk, LogHeader, SessionRecord, Store};
use crate::timeline::{
    EntryMedia, Item, MediaSeg, Millis, RenderOptions, RenditionMedia, Schedule, WindowPos,
    fresh_epoch,
};

/// Segments a live entry starts behind the source's newest one, so the next source segment
/// is normally fetched before the timeline needs to publish it.
const LIVE_HOLD_BACK: u64 = 1;
/// Least time between two looks at a live source (engine clock).
const LIVE_POLL_MS: Millis = 500;
/// A live item whose start is further than this after the schedule's end gets the slate
/// until it starts; a closer (or past) start joins the source at the schedule's end.
const LIVE_EARLY_MS: Millis = 1_000;
/// A live entry that has run dry for this many target durations is closed (source failed).
const LIVE_STALL_TARGETS: i64 = 3;
/// How long after leaving the window an entry is kept (pruned locally, trimmed from the
/// store after that).
const HORIZON_MARGIN_MS: Millis = 60_000;
/// Items looked at for content to copy a channel's profile from.
const PROFILE_PROBE_ITEMS: u64 = 3;
/// Entries trimmed from the store log at a time.
const TRIM_BATCH: u64 = 32;
/// After a failed store call, requests that need the store fail at once (503) for this
/// long instead of queueing behind one another's timeouts; the background tick keeps
/// retrying, so the engine recovers by itself when the store answers again.
const STORE_BACKOFF: Duration = Duration::from_secs(1);

/// The process-local state of a scope's open live entry: where the source is, which source
/// sequence number comes next, and the segments appended so far (per rendition slot).
struct LiveFeed {
    url: String,
    end_ms: Millis,
    next_seq: u64,
    segments: Vec<Vec<MediaSeg>>,
    last_poll_ms: Millis,
    /// Chunks of this entry in the store (what `segments` holds).
    chunks: u64,
}

/// An open entry's segments as stored: an HLS media playlist fragment, every segment with
/// its map and keys spelled out (URIs are already absolute, so nothing is resolved back).
fn chunk_text(segs: &[MediaSeg]) -> String {
    let pl = hls::MediaPlaylist {
        version: Some(6),
        target_duration: Some(
            segs.iter()
                .map(|s| s.duration.round() as u64)
                .max()
                .unwrap_or(1),
        ),
        segments: segs
            .iter()
            .map(|s| hls::Segment {
                uri: s.uri.to_string(),
                duration: s.duration,
                byte_range: s.byte_range,
                discontinuity: s.discontinuity,
                map: s.map.as_deref().cloned(),
                keys: if s.keys.is_empty() {
                    vec![hls::Key::none()]
                } else {
                    s.keys.to_vec()
                },
                markers: s.markers.clone(),
                dateranges: s.dateranges.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut out = String::new();
    pl.write_to(&mut out);
    out
}

fn chunk_segments(text: &str) -> Result<Vec<MediaSeg>> {
    let pl = hls::parse_media(text).map_err(|e| Error::Store(format!("live chunk: {e}")))?;
    Ok(pl
        .segments
        .into_iter()
        .map(|s| {
            let mut m = MediaSeg::new(s.uri, s.duration);
            m.discontinuity = s.discontinuity;
            m.map = s.map.map(Arc::new);
            m.keys = Arc::from(
                s.keys
                    .into_iter()
                    .filter(|k| k.method() != Some("NONE"))
                    .collect::<Vec<_>>(),
            );
            m.byte_range = s.byte_range;
            m.markers = s.markers;
            m.dateranges = s.dateranges;
            m
        })
        .collect())
}

impl LiveFeed {
    /// Append the segments of `snap` from `next_seq` on, the same count in every slot (the
    /// fewest any slot has), while the entry stays within `budget_ms`. A source that moved
    /// past `next_seq` (we fell behind its window) resumes at its oldest segment with a
    /// discontinuity. Returns how many were appended per slot.
    fn take(&mut self, snap: &[LiveSlot], budget_ms: u64) -> usize {
        if snap.len() != self.segments.len() || snap.iter().any(|s| s.segments.is_empty()) {
            return 0;
        }
        let max_first = snap.iter().map(|s| s.first_seq).max().unwrap_or(0);
        let mut gap = false;
        if self.next_seq < max_first {
            gap = !self.segments[0].is_empty();
            self.next_seq = max_first;
        }
        let avail = snap
            .iter()
            .map(|s| (s.first_seq + s.segments.len() as u64).saturating_sub(self.next_seq))
            .min()
            .unwrap_or(0) as usize;
        let mut dur: u64 = self.segments[0].iter().map(|s| s.dur_ms).sum();
        let mut n = 0;
        while n < avail {
            let d = snap[0].segments[(self.next_seq - snap[0].first_seq) as usize + n].dur_ms;
            if dur + d > budget_ms {
                break;
            }
            dur += d;
            n += 1;
        }
        for (slot, out) in snap.iter().zip(self.segments.iter_mut()) {
            let from = (self.next_seq - slot.first_seq) as usize;
            for (k, seg) in slot.segments[from..from + n].iter().enumerate() {
                let mut seg = seg.clone();
                seg.discontinuity |= k == 0 && gap;
                out.push(seg);
            }
        }
        self.next_seq += n as u64;
        n
    }

    /// The chunk of the segments from `from` (per slot) on.
    fn chunk(&self, from: usize, first_source_seq: u64) -> LiveChunk {
        LiveChunk {
            first_source_seq,
            next_source_seq: self.next_seq,
            renditions: self
                .segments
                .iter()
                .map(|s| chunk_text(&s[from..]))
                .collect(),
        }
    }

    /// Append a chunk read from the store.
    fn apply(&mut self, c: &LiveChunk) -> Result<()> {
        if c.renditions.len() != self.segments.len() {
            return Err(Error::Store("live chunk: wrong rendition count".into()));
        }
        for (out, text) in self.segments.iter_mut().zip(&c.renditions) {
            out.extend(chunk_segments(text)?);
        }
        self.next_seq = c.next_source_seq;
        self.chunks += 1;
        Ok(())
    }

    fn media(&self) -> Result<EntryMedia> {
        EntryMedia::new(
            self.segments
                .iter()
                .map(|s| RenditionMedia::new(s.clone()))
                .collect(),
        )
    }
}
use crate::vod::VodCache;

mod sessions;

/// Where "now" comes from. Tests use [`ManualClock`].
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> Millis;
}

/// Wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock tests move by hand.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(ms: Millis) -> Self {
        Self(AtomicI64::new(ms))
    }
    pub fn set(&self, ms: Millis) {
        self.0.store(ms, Ordering::SeqCst)
    }
    pub fn advance(&self, ms: Millis) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

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
    /// When a store call last failed (real time; see [`STORE_BACKOFF`]).
    store_failed: Mutex<Option<std::time::Instant>>,
}

/// The channel engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
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
        let vods = VodCache::new(opts.vod_ttl, opts.load_timeout);
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

    /// Ask the channel manager for the channel list (kept: unchanged channels keep running).
    pub async fn reload_channels(&self) -> Result<usize> {
        let list = self.inner.channel_manager.channels().await?;
        let mut map = self.inner.channels.write().expect("channels lock");
        let mut next = BTreeMap::new();
        for c in list {
            let ch = match map.remove(&c.id) {
                Some(old) if old.config == c => old,
                _ => Arc::new(Channel {
                    config: c.clone(),
                    profile: tokio::sync::OnceCell::new(),
                    master: tokio::sync::OnceCell::new(),
                }),
            };
            next.insert(c.id.clone(), ch);
        }
        *map = next;
        Ok(map.len())
    }

    fn channel(&self, id: &str) -> Result<Arc<Channel>> {
        self.inner
            .channels
            .read()
            .expect("channels lock")
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NoSuchChannel(id.to_string()))
    }

    pub fn channel_ids(&self) -> Vec<String> {
        self.inner
            .channels
            .read()
            .expect("channels lock")
            .keys()
            .cloned()
            .collect()
    }

    fn slate_url(&self, ch: &Channel) -> Option<String> {
        ch.config
            .slate
            .clone()
            .or_else(|| self.inner.opts.slate_url.clone())
    }

    /// The channel's profile: its declared one, else a copy of its content's (the first
    /// loadable VOD or live source among its first [`PROFILE_PROBE_ITEMS`] items), never the
    /// slate's unless the channel has no content to copy from. The container (`fmp4`) of a
    /// declared profile that leaves it unset is its content's too. A slate that cannot serve
    /// the profile (another container, missing audio groups, ...) makes the channel fail
    /// with [`Error::Channel`] naming it: it never silently decides the channel's renditions.
    async fn profile(&self, ch: &Channel) -> Result<Arc<Profile>> {
        ch.profile
            .get_or_try_init(|| async {
                let content = self.content_vod(ch).await?;
                let p = match &ch.config.profile {
                    Some(p) => {
                        p.validate()?;
                        let mut p = p.clone();
                        if p.fmp4.is_none() {
                            p.fmp4 = match &content {
                                Some(v) => v.is_fmp4(),
                                None => self.slate_vod(ch).await.and_then(|v| v.is_fmp4()),
                            };
                        }
                        p
                    }
                    None => {
                        let vod = match content {
                            Some(v) => v,
                            None => {
                                let url = self.slate_url(ch).ok_or_else(|| {
                                    Error::Channel {
                                        channel: ch.config.id.clone(),
                                        reason: "no profile, no content to copy one from and no slate".into(),
                                    }
                                })?;
                                tracing::warn!(channel = %ch.config.id, slate = %url, "no content to copy a profile from: using the slate's");
                                self.inner.vods.get(&url).await?
                            }
                        };
                        let mut p = Profile::from_master(&vod.master);
                        p.fmp4 = vod.is_fmp4();
                        p.validate()?;
                        p
                    }
                };
                self.check_slate(ch, &p).await?;
                Ok(Arc::new(p))
            })
            .await
            .cloned()
    }

    /// The first content the channel plays (a VOD, an ad filler or a live source) among its
    /// first [`PROFILE_PROBE_ITEMS`] items that loads. `None`: those items are slate (or
    /// ad breaks without filler). An error: content exists but none of it loads now (the
    /// channel waits for it rather than copy the slate's profile).
    async fn content_vod(&self, ch: &Channel) -> Result<Option<Arc<crate::profile::LoadedVod>>> {
        let mut last_err = None;
        for position in 0..PROFILE_PROBE_ITEMS {
            let req = NextItemRequest {
                channel: ch.config.id.clone(),
                session: None,
                category: None,
                playlist: None,
                position,
            };
            let item = match tokio::time::timeout(
                self.inner.opts.load_timeout,
                self.inner.assets.next_item(req),
            )
            .await
            {
                Ok(Ok(i)) => i,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(Error::Adapter("asset manager timed out".into())),
            };
            let loaded = match item {
                Item::Vod { url, .. }
                | Item::AdBreak {
                    filler: Some(url), ..
                } => self.inner.vods.get(&url).await,
                Item::Live { url, .. } => self.inner.vods.live(&url).await.map(Arc::new),
                Item::Slate { .. } | Item::AdBreak { filler: None, .. } => continue,
            };
            match loaded {
                Ok(v) => return Ok(Some(v)),
                Err(e) => last_err = Some(e),
            }
        }
        match last_err {
            Some(e) => Err(Error::Channel {
                channel: ch.config.id.clone(),
                reason: format!("no content to take the channel's profile from yet: {e}"),
            }),
            None => Ok(None),
        }
    }

    async fn slate_vod(&self, ch: &Channel) -> Option<Arc<crate::profile::LoadedVod>> {
        self.inner.vods.get(&self.slate_url(ch)?).await.ok()
    }

    /// Refuse a slate that cannot play in a channel of `profile` (checked once per channel,
    /// when its profile is settled). A slate that does not load now is not judged here:
    /// each slot it should fill fails on its own and is retried.
    async fn check_slate(&self, ch: &Channel, profile: &Profile) -> Result<()> {
        let Some(url) = self.slate_url(ch) else {
            return Ok(());
        };
        let vod = match self.inner.vods.get(&url).await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(channel = %ch.config.id, slate = %url, error = %e, "slate not loadable now; not checked");
                return Ok(());
            }
        };
        build_media(profile, &vod, None)
            .map(drop)
            .map_err(|e| Error::SlateIncompatible {
                channel: ch.config.id.clone(),
                slate: url,
                reason: e.to_string(),
            })
    }

    /// Settle every channel's profile and check its slate: a channel whose slate cannot
    /// serve it is an error naming the channel ([`crate::build`] refuses to start). A
    /// channel whose content does not load now is only logged (it starts when it does).
    pub async fn check_channels(&self) -> Result<()> {
        for id in self.channel_ids() {
            let ch = self.channel(&id)?;
            match self.profile(&ch).await {
                Ok(_) => {}
                Err(e @ Error::SlateIncompatible { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(channel = %id, error = %e, "channel profile not settled yet")
                }
            }
        }
        Ok(())
    }

    /// The channel's master playlist (same bytes for the channel and its sessions).
    pub async fn master(&self, target: &Target) -> Result<Bytes> {
        let ch = match target {
            Target::Channel(id) => self.channel(id)?,
            Target::Session(_) => {
                let scope = self.scope(target).await?;
                self.touch(&scope).await?;
                scope.channel.clone()
            }
        };
        let p = self.profile(&ch).await?;
        ch.master
            .get_or_init(|| async { Bytes::from(p.master().to_bytes()) })
            .await;
        Ok(ch.master.get().cloned().unwrap_or_default())
    }

    async fn slate_media(&self, ch: &Channel, profile: &Profile) -> Result<EntryMedia> {
        let url = self
            .slate_url(ch)
            .ok_or_else(|| Error::Unusable("no slate configured".into()))?;
        let vod = self.inner.vods.get(&url).await?;
        build_media(profile, &vod, None)
    }

    /// Resolve an item to its media; the item returned is what the log must record (an
    /// ad break whose filler failed becomes one filled with the slate).
    async fn resolve(
        &self,
        ch: &Channel,
        profile: &Profile,
        item: Item,
    ) -> Result<(Item, EntryMedia)> {
        match item {
            Item::Vod { ref url, .. } => {
                let vod = self.inner.vods.get(url).await?;
                let slate = self.slate_media(ch, profile).await.ok();
                let media = build_media(profile, &vod, slate.as_ref())?;
                Ok((item, media))
            }
            Item::Slate { duration_ms, .. } => {
                let ms = duration_ms
                    .unwrap_or(self.inner.opts.slate_duration.as_millis() as u64)
                    .max(1);
                let media = self.slate_media(ch, profile).await?.looped(ms)?;
                Ok((item, media))
            }
            Item::AdBreak {
                duration_ms,
                ref filler,
            } => {
                let filled = match filler {
                    Some(u) => match self.inner.vods.get(u).await {
                        Ok(v) => build_media(profile, &v, None).and_then(|m| m.looped(duration_ms)),
                        Err(e) => Err(e),
                    },
                    None => Err(Error::Unusable("no filler".into())),
                };
                match filled {
                    Ok(m) => Ok((item, m)),
                    Err(e) => {
                        if filler.is_some() {
                            tracing::warn!(channel = %ch.config.id, error = %e, "ad filler unusable, filling the break with the slate");
                        }
                        let m = self.slate_media(ch, profile).await?.looped(duration_ms)?;
                        Ok((
                            Item::AdBreak {
                                duration_ms,
                                filler: None,
                            },
                            m,
                        ))
                    }
                }
            }
            Item::Live { .. } => Err(Error::Unusable(
                "a live entry is resolved where it is scheduled (its segments are not re-fetchable)"
                    .into(),
            )),
        }
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

    /// Where the scope's schedule ends (`None` before it is initialised or holds its first
    /// entry: an instant before the first entry still renders from it, so every replica
    /// must have read or appended that entry before rendering anything).
    fn schedule_end(scope: &Scope) -> Option<Millis> {
        scope
            .schedule
            .read()
            .expect("schedule lock")
            .as_ref()
            .filter(|s| s.len_total() > 0)
            .map(|s| s.end_ms())
    }

    fn covered(scope: &Scope, until: Millis) -> bool {
        Self::schedule_end(scope).is_some_and(|end| end > until)
    }

    /// Make sure the schedule covers `until` (fetching and appending items as needed).
    async fn ensure(&self, scope: &Scope, until: Millis) -> Result<()> {
        if Self::covered(scope, until) {
            return Ok(());
        }
        let _guard = scope.sched_lock.lock().await;
        let ch = &scope.channel;
        let profile = self.profile(ch).await?;
        // Not after `until`: a request renders at the instant it read before calling us, and
        // an epoch after it would leave that render (a new session's first) empty.
        let now = self.now_ms().min(until);
        let opts = &self.inner.opts;
        // Entries that ended before this are not rendered again (pruned here, skipped on
        // catch-up, trimmed from the store).
        let horizon = now - opts.window.as_millis() as Millis - HORIZON_MARGIN_MS;
        let mut pending: Option<Item> = None;
        // A session's first item, asked for before its log existed (see below).
        let mut first: Option<Item> = None;
        if scope.schedule.read().expect("schedule lock").is_none() {
            let epoch_ms = match &scope.session {
                // A session starts with its first item, already listed for as long as a
                // player needs to start (see `timeline::fresh_epoch`).
                Some(_) => {
                    let item = self.next_item(scope).await;
                    let target = match item {
                        Item::Live { .. } => None,
                        _ => self
                            .resolve(ch, &profile, item.clone())
                            .await
                            .ok()
                            .map(|(_, m)| m.max_target()),
                    };
                    first = Some(item);
                    let least = profile.target_duration.unwrap_or(1);
                    fresh_epoch(now, target.unwrap_or(least).max(least))
                }
                None => now - opts.channel_prefill.unwrap_or(opts.window).as_millis() as Millis,
            };
            let header = self
                .inner
                .store
                .init_log(
                    &scope.key,
                    LogHeader {
                        epoch_ms,
                        renditions: profile.slots(),
                        min_target: profile.target_duration.unwrap_or(1),
                    },
                )
                .await?;
            *scope.schedule.write().expect("schedule lock") = Some(Schedule::new(
                header.epoch_ms,
                header.renditions,
                header.min_target,
            ));
        }
        // Rounds in a row whose append lost without anything to catch up with.
        let mut lost = 0;
        loop {
            // Catch up with what other replicas appended.
            let from = self.with_schedule(scope, |s| s.len_total());

            self.sync_open(scope).await?;
            let mut fetched = self.inner.store.entries_from(&scope.key, from).await?;
            // Entries that ended before the horizon are never rendered again: a replica
            // joining a long-running channel (or one the store trimmed past) resumes at the
            // first entry it needs instead of resolving every VOD the channel ever played.
            let keep = fetched
                .iter()
                .position(|e| e.open || e.end_ms() > horizon)
                .unwrap_or(fetched.len().saturating_sub(1));
            // An entry this replica still holds open while the store has entries after it
            // was closed elsewhere; if sync_open could not close it, its chunks and close
            // marker were trimmed: resume at the store's entries too.
            let mut stale_open = false;
            if !fetched.is_empty() && self.with_schedule(scope, |s| s.open_entry().is_some()) {
                // Read its state again (it may have been closed just after the first look).
                self.sync_open(scope).await?;
                stale_open = self.with_schedule(scope, |s| s.open_entry().is_some());
            }
            if let Some(first) = fetched.get(keep)
                && (keep > 0 || first.index != from || stale_open)
            {
                scope.live.lock().expect("live lock").take();
                self.with_schedule_mut(scope, |s| s.skip_to(first))?;
                metrics::counter!("engine_entries_skipped_total").increment(keep as u64);
                fetched.drain(..keep);
            }
            for mut e in fetched {
                let media = if e.open {
                    // Another replica's live entry: its first segments are its chunk 0, stored
                    // with the entry in one step (a log written without it cannot be read
                    // further: render what we have).
                    let st = self.inner.store.open_state(&scope.key, e.index, 0).await?;
                    let Some(c0) = st.chunks.first() else {
                        return Ok(());
                    };
                    EntryMedia::new(
                        c0.renditions
                            .iter()
                            .map(|t| chunk_segments(t).map(RenditionMedia::new))
                            .collect::<Result<_>>()?,
                    )?
                } else {
                    self.resolve(ch, &profile, e.item.clone()).await?.1
                };
                let media = Arc::new(media);
                let mut expected =
                    self.with_schedule(scope, |s| s.next_entry(e.item.clone(), media.clone()))?;
                expected.open = e.open;
                if expected != e {
                    return Err(Error::Unusable(format!(
                        "{}: entry {} resolves differently here than where it was scheduled",
                        scope.key, e.index
                    )));
                }
                e.media = Some(media);
                let open = e.open;
                self.with_schedule_mut(scope, |s| s.push(e))?;
                if open {
                    scope.live.lock().expect("live lock").take();
                    self.sync_open(scope).await?;
                }
            }
            if self.with_schedule(scope, |s| s.open_entry().is_some()) {
                self.poll_live(scope, &profile).await?;
                if self.with_schedule(scope, |s| s.open_entry().is_some()) {
                    // Nothing is scheduled past a live entry until it closes.
                    break;
                }
                continue;
            }
            if Self::covered(scope, until) {
                break;
            }
            // The first item is used only at position 0 (another replica may have started
            // this session's schedule meanwhile: then ask again at the right position).
            let next = self.with_schedule(scope, |s| s.len_total());
            let first_item = first.take().filter(|_| next == 0);
            let item = match pending.take().or(first_item) {
                Some(i) => i,
                None => self.next_item(scope).await,
            };
            let at = self.with_schedule(scope, |s| s.end_ms());
            if let Item::Live { start_ms, .. } = &item
                && *start_ms > at + LIVE_EARLY_MS
            {
                // The slate until the live event starts, then the event.
                let slate = Item::Slate {
                    reason: Some("waiting for a live event".into()),
                    duration_ms: Some((start_ms - at) as u64),
                };
                let (slate, media) = self.resolve(ch, &profile, slate).await?;
                self.append_entry(scope, slate, media, None).await?;
                pending = Some(item);
                continue;
            }
            let resolved = match &item {
                Item::Live { .. } => self.start_live(&profile, &item, at).await.map(|(m, f)| {
                    *scope.live.lock().expect("live lock") = Some(f);
                    (item.clone(), m)
                }),
                _ => self.resolve(ch, &profile, item.clone()).await,
            };
            let (item, media) = match resolved {
                Ok(x) => x,
                Err(e) => {
                    metrics::counter!("engine_asset_failures_total", "kind" => item.kind())
                        .increment(1);
                    tracing::warn!(scope = %scope.key, item = ?item, error = %e, "item unusable, playing slate");
                    // A failed live event is replaced by the slate until its end.
                    let duration_ms = match &item {
                        Item::Live { end_ms, .. } if *end_ms > at => Some((end_ms - at) as u64),
                        _ => None,
                    };
                    let slate = Item::Slate {
                        reason: Some(e.to_string()),
                        duration_ms,
                    };
                    self.resolve(ch, &profile, slate).await?
                }
            };
            // A live entry goes to the store with chunk 0 (its first segments) in one step.
            let feed = match item {
                Item::Live { .. } => scope.live.lock().expect("live lock").take(),
                _ => None,
            };
            let chunk0 = feed.as_ref().map(|f| {
                let first = f.next_seq - f.segments[0].len() as u64;
                f.chunk(0, first)
            });
            let won = self
                .append_entry(scope, item, media, chunk0.as_ref())
                .await?;
            if won {
                lost = 0;
            } else if self
                .inner
                .store
                .entries_from(&scope.key, next)
                .await?
                .is_empty()
            {
                // Lost, yet nothing to catch up with: the store does not hold this log
                // (Redis restarted empty). Re-seed it from this replica's schedule once.
                lost += 1;
                let header = self.with_schedule(scope, |s| LogHeader {
                    epoch_ms: s.epoch_ms,
                    renditions: s.renditions,
                    min_target: s.min_target,
                });
                let restored = self
                    .inner
                    .store
                    .restore_log(&scope.key, header, next)
                    .await?;
                if restored {
                    tracing::warn!(scope = %scope.key, next_index = next, "the store had lost this schedule log; re-seeded it");
                    metrics::counter!("engine_log_restores_total").increment(1);
                }
                if !restored || lost > 1 {
                    return Err(Error::Store(format!(
                        "{}: the store's log does not continue this replica's schedule at entry {next}",
                        scope.key
                    )));
                }
            }
            if let (true, Some(mut feed), Some(c)) = (won, feed, chunk0) {
                // From here on, the stored form (what other replicas render).
                feed.segments.iter_mut().for_each(Vec::clear);
                feed.apply(&c)?;
                let media = Arc::new(feed.media()?);
                self.with_schedule_mut(scope, |s| s.extend_open(media))?;
                *scope.live.lock().expect("live lock") = Some(feed);
            }
        }
        self.with_schedule_mut(scope, |s| {
            s.prune_before(horizon);
            Ok(())
        })?;
        self.trim_store(scope).await;
        Ok(())
    }

    /// Ask the asset manager for the scope's next item (the slate when it fails).
    async fn next_item(&self, scope: &Scope) -> Item {
        let ch = &scope.channel;
        // 0 before the schedule exists (a session's first item is asked for to place its
        // epoch, see `ensure`).
        let position = scope
            .schedule
            .read()
            .expect("schedule lock")
            .as_ref()
            .map_or(0, |s| s.len_total());
        let req = NextItemRequest {
            channel: ch.config.id.clone(),
            session: scope.session.as_ref().map(|s| s.id.clone()),
            category: scope.session.as_ref().and_then(|s| s.category.clone()),
            playlist: scope.session.as_ref().and_then(|s| s.playlist.clone()),
            position,
        };
        let asked = tokio::time::timeout(
            self.inner.opts.load_timeout,
            self.inner.assets.next_item(req),
        )
        .await;
        match asked {
            Ok(Ok(i)) => i,
            Ok(Err(e)) => {
                metrics::counter!("engine_adapter_errors_total").increment(1);
                tracing::warn!(scope = %scope.key, error = %e, "asset manager failed, playing slate");
                Item::Slate {
                    reason: Some(format!("asset manager: {e}")),
                    duration_ms: None,
                }
            }
            Err(_) => {
                metrics::counter!("engine_adapter_errors_total").increment(1);
                Item::Slate {
                    reason: Some("asset manager timed out".into()),
                    duration_ms: None,
                }
            }
        }
    }

    /// Trim the store's log below the first entry this replica still holds, in batches of
    /// [`TRIM_BATCH`] (every replica would prune the same entries; trimming twice is
    /// harmless). A failure is logged: the log only grows until the next success.
    async fn trim_store(&self, scope: &Scope) {
        let Some(first) = self.with_schedule(scope, |s| s.entries.front().map(|e| e.index)) else {
            return;
        };
        if first < scope.trimmed.load(Ordering::Relaxed) + TRIM_BATCH {
            return;
        }
        match self.inner.store.trim(&scope.key, first).await {
            Ok(()) => {
                scope.trimmed.store(first, Ordering::Relaxed);
                metrics::counter!("engine_log_trims_total").increment(1);
            }
            Err(e) => {
                tracing::warn!(scope = %scope.key, error = %e, "trimming the schedule log failed")
            }
        }
    }

    /// Compare-and-append the next entry to the store log and, when it won, to the local
    /// schedule. `false`: another replica appended first (the caller catches up).
    async fn append_entry(
        &self,
        scope: &Scope,
        item: Item,
        media: EntryMedia,
        first_chunk: Option<&LiveChunk>,
    ) -> Result<bool> {
        let mut entry = self.with_schedule(scope, |s| s.next_entry(item, Arc::new(media)))?;
        entry.open = first_chunk.is_some();
        if !self
            .inner
            .store
            .append(&scope.key, &entry, first_chunk)
            .await?
        {
            return Ok(false);
        }
        metrics::counter!("engine_items_scheduled_total", "kind" => entry.item.kind()).increment(1);
        tracing::debug!(scope = %scope.key, index = entry.index, item = ?entry.item, "scheduled");
        self.with_schedule_mut(scope, |s| s.push(entry))?;
        Ok(true)
    }

    /// Join a live source at `at`: its newest segments but [`LIVE_HOLD_BACK`], matched to
    /// the profile's slots.
    async fn start_live(
        &self,
        profile: &Profile,
        item: &Item,
        at: Millis,
    ) -> Result<(EntryMedia, LiveFeed)> {
        let Item::Live { url, end_ms, .. } = item else {
            return Err(Error::Unusable("not a live item".into()));
        };
        if *end_ms <= at {
            return Err(Error::Unusable(format!("live event {url} is already over")));
        }
        let snap = live_snapshot(profile, &self.inner.vods.live(url).await?)?;
        let newest = snap
            .first()
            .filter(|s| !s.segments.is_empty())
            .map(|s| s.first_seq + s.segments.len() as u64 - 1)
            .ok_or_else(|| Error::Unusable(format!("live source {url} has no segments")))?;
        let mut feed = LiveFeed {
            url: url.clone(),
            end_ms: *end_ms,
            next_seq: newest.saturating_sub(LIVE_HOLD_BACK),
            segments: vec![Vec::new(); snap.len()],
            last_poll_ms: self.now_ms(),
            chunks: 0,
        };
        if feed.take(&snap, (end_ms - at) as u64) == 0 {
            return Err(Error::Unusable(format!(
                "live source {url}: no segment fits before the event ends"
            )));
        }
        metrics::counter!("engine_live_switches_total").increment(1);
        tracing::info!(url = %url, from_seq = feed.next_seq, "switching to live");
        Ok((feed.media()?, feed))
    }

    /// Grow the open live entry with what the source published since the last look (at
    /// most every [`LIVE_POLL_MS`]); close it when the next segment would end after the
    /// event's end, when the event is over, or when the source has run dry for
    /// [`LIVE_STALL_TARGETS`] target durations (then the slate fills until the event's end).
    async fn poll_live(&self, scope: &Scope, profile: &Profile) -> Result<()> {
        let now = self.now_ms();
        let feed = scope.live.lock().expect("live lock").take();
        let Some(mut feed) = feed else {
            // An open entry whose chunks are not in the store yet: wait for them (sync_open).
            return Ok(());
        };
        let Some((index, start)) =
            self.with_schedule(scope, |s| s.open_entry().map(|e| (e.index, e.start_ms)))
        else {
            return Ok(());
        };
        let budget = (feed.end_ms - start).max(0) as u64;
        let mut ended = false;
        if now - feed.last_poll_ms >= LIVE_POLL_MS {
            feed.last_poll_ms = now;
            match self
                .inner
                .vods
                .live(&feed.url)
                .await
                .and_then(|l| live_snapshot(profile, &l))
            {
                Ok(snap) => {
                    let (lens, seq) = (
                        feed.segments.iter().map(Vec::len).collect::<Vec<_>>(),
                        feed.next_seq,
                    );
                    if feed.take(&snap, budget) > 0 {
                        let first = feed.next_seq - (feed.segments[0].len() - lens[0]) as u64;
                        let c = feed.chunk(lens[0], first);
                        if !self
                            .inner
                            .store
                            .extend_open(&scope.key, index, feed.chunks, &c)
                            .await?
                        {
                            // Another replica extended first: take its chunk instead.
                            metrics::counter!("engine_live_chunk_conflicts_total").increment(1);
                            for (s, n) in feed.segments.iter_mut().zip(lens) {
                                s.truncate(n);
                            }
                            feed.next_seq = seq;
                            *scope.live.lock().expect("live lock") = Some(feed);
                            return self.sync_open(scope).await;
                        }
                        // Keep what the store holds (what other replicas render), not the
                        // source's parse: the same bytes everywhere.
                        for (s, n) in feed.segments.iter_mut().zip(&lens) {
                            s.truncate(*n);
                        }
                        feed.apply(&c)?;
                        let media = Arc::new(feed.media()?);
                        self.with_schedule_mut(scope, |s| s.extend_open(media))?;
                    }
                    let newest = snap
                        .iter()
                        .map(|s| s.first_seq + s.segments.len() as u64)
                        .min()
                        .unwrap_or(0);
                    ended = snap.iter().any(|s| s.ended) && feed.next_seq >= newest;
                }
                Err(e) => {
                    metrics::counter!("engine_live_poll_errors_total").increment(1);
                    tracing::warn!(scope = %scope.key, url = %feed.url, error = %e, "live source poll failed");
                }
            }
        }
        let (end, target) = self.with_schedule(scope, |s| {
            s.open_entry()
                .map(|e| (e.end_ms(), e.target_duration))
                .unwrap_or((start, 1))
        });
        let last = feed.segments[0].last().map(|s| s.dur_ms).unwrap_or(1) as Millis;
        let full = end + last > feed.end_ms || now >= feed.end_ms;
        let stalled = now > end + LIVE_STALL_TARGETS * 1000 * target as Millis;
        if !(full || stalled || ended) {
            *scope.live.lock().expect("live lock") = Some(feed);
            return Ok(());
        }
        if !self
            .inner
            .store
            .close_open(&scope.key, index, feed.chunks)
            .await?
        {
            // Extended or closed elsewhere meanwhile: follow the store.
            *scope.live.lock().expect("live lock") = Some(feed);
            return self.sync_open(scope).await;
        }
        tracing::info!(scope = %scope.key, url = %feed.url, stalled, ended, "live entry closed");
        self.with_schedule_mut(scope, |s| {
            s.close_open();
            Ok(())
        })?;
        if (stalled || ended) && feed.end_ms > end + LIVE_EARLY_MS {
            let slate = Item::Slate {
                reason: Some(format!("live source {} stopped", feed.url)),
                duration_ms: Some((feed.end_ms - end) as u64),
            };
            let (slate, media) = self.resolve(&scope.channel, profile, slate).await?;
            self.append_entry(scope, slate, media, None).await?;
        }
        Ok(())
    }

    /// Bring the local open entry (if any) up to the store: chunks other replicas appended
    /// and its close. Without a local feed (another replica appended the entry, or a
    /// restart), the feed is rebuilt from all the entry's chunks; this process then polls the
    /// source too, and the store's compare-and-set keeps the replicas on one list.
    async fn sync_open(&self, scope: &Scope) -> Result<()> {
        let Some((index, item, slots)) = self.with_schedule(scope, |s| {
            s.open_entry()
                .map(|e| (e.index, e.item.clone(), s.renditions))
        }) else {
            return Ok(());
        };
        let Item::Live { url, end_ms, .. } = item else {
            return Ok(());
        };
        let feed = scope.live.lock().expect("live lock").take();
        let rebuilt = feed.is_none();
        let mut feed = feed.unwrap_or_else(|| LiveFeed {
            url,
            end_ms,
            next_seq: 0,
            segments: vec![Vec::new(); slots],
            last_poll_ms: Millis::MIN / 2,
            chunks: 0,
        });
        let st = self
            .inner
            .store
            .open_state(&scope.key, index, feed.chunks)
            .await?;
        for c in &st.chunks {
            feed.apply(c)?;
        }
        if feed.chunks == 0 {
            // Chunk 0 not written yet: nothing to rebuild from.
            return Ok(());
        }
        if rebuilt || !st.chunks.is_empty() {
            let media = Arc::new(feed.media()?);
            self.with_schedule_mut(scope, |s| s.extend_open(media))?;
        }
        if st.closed_at == Some(feed.chunks) {
            self.with_schedule_mut(scope, |s| {
                s.close_open();
                Ok(())
            })?;
            return Ok(());
        }
        *scope.live.lock().expect("live lock") = Some(feed);
        Ok(())
    }

    fn with_schedule<T>(&self, scope: &Scope, f: impl FnOnce(&Schedule) -> T) -> T {
        f(scope
            .schedule
            .read()
            .expect("schedule lock")
            .as_ref()
            .expect("initialised"))
    }

    fn with_schedule_mut<T>(
        &self,
        scope: &Scope,
        f: impl FnOnce(&mut Schedule) -> Result<T>,
    ) -> Result<T> {
        f(scope
            .schedule
            .write()
            .expect("schedule lock")
            .as_mut()
            .expect("initialised"))
    }

    /// Fail at once while the store is known to be down (see [`STORE_BACKOFF`]).
    fn store_gate(&self) -> Result<()> {
        match *self.inner.store_failed.lock().expect("store_failed lock") {
            Some(t) if t.elapsed() < STORE_BACKOFF => Err(Error::Store(
                "the state store is unavailable; retrying in the background".into(),
            )),
            _ => Ok(()),
        }
    }

    /// Remember whether a call that needed the store succeeded.
    fn note_store<T>(&self, r: &Result<T>) {
        let mut failed = self.inner.store_failed.lock().expect("store_failed lock");
        match r {
            Err(Error::Store(_)) => *failed = Some(std::time::Instant::now()),
            Ok(_) => *failed = None,
            Err(_) => {}
        }
    }

    /// Prefetch in the background when the schedule runs out within the lookahead (the
    /// caller checked that it does: `until` = now + lookahead is not covered).
    fn prefetch(&self, scope: &Arc<Scope>, until: Millis) {
        if scope.sched_lock.try_lock().is_err() {
            return;
        }
        let (engine, scope) = (self.clone(), scope.clone());
        tokio::spawn(async move {
            if let Err(e) = engine.ensure(&scope, until).await {
                tracing::warn!(scope = %scope.key, error = %e, "prefetch failed");
            }
        });
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
            metrics::counter!("engine_render_cache_hits_total").increment(1);
            return Ok(Rendered {
                body: body.clone(),
                target_duration: *td,
            });
        }
        let pl = sched.render(slot, now, &opts)?;
        let body = Bytes::from(pl.to_bytes());
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

    /// Start every channel's schedule now (optional; channels also start on first request).
    pub async fn warm_up(&self) {
        let now = self.now_ms();
        let until = now + self.inner.opts.lookahead.as_millis() as Millis;
        for id in self.channel_ids() {
            let r = async {
                let scope = self.scope(&Target::Channel(id.clone())).await?;
                let r = self.ensure(&scope, until).await;
                self.note_store(&r);
                r
            }
            .await;
            if let Err(e) = r {
                tracing::warn!(channel = %id, error = %e, "could not schedule channel");
            }
        }
    }

    /// Public info about every channel.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        let now = self.now_ms();
        let chans: Vec<_> = self
            .inner
            .channels
            .read()
            .expect("channels lock")
            .values()
            .cloned()
            .collect();
        chans.into_iter().map(|c| self.info(&c, now)).collect()
    }

    pub fn channel_info(&self, id: &str) -> Result<ChannelInfo> {
        let c = self.channel(id)?;
        Ok(self.info(&c, self.now_ms()))
    }

    fn info(&self, c: &Channel, now: Millis) -> ChannelInfo {
        let now_playing = self
            .inner
            .scopes
            .read()
            .expect("scopes lock")
            .get(&Target::Channel(c.config.id.clone()))
            .and_then(|s| {
                s.schedule
                    .read()
                    .expect("schedule lock")
                    .as_ref()
                    .and_then(|sch| sch.entry_at(now).map(|e| e.item.clone()))
            });
        ChannelInfo {
            id: c.config.id.clone(),
            title: c.config.title.clone(),
            master: format!("channels/{}/master.m3u8", c.config.id),
            profile: c.profile.get().map(|p| (**p).clone()),
            now_playing,
        }
    }

    /// Background work: schedule channels ahead of need and expire sessions, every second,
    /// until the engine is dropped.
    pub fn spawn_background(&self) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut n: u64 = 0;
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                let engine = Engine { inner };
                engine.warm_up().await;
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
