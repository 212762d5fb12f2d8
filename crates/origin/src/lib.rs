//! # origin: lineup's answer to AWS Elemental MediaPackage
//!
//! **For**: receiving a live HLS channel pushed over HTTP (WebDAV-style `PUT`, Digest
//! auth, MediaPackage naming `channel.m3u8` / `channel_<n>.m3u8` / `channel_<n>_<seq>.ts`)
//! on two redundant ingest URLs, keeping a DVR window of segments, and serving output
//! endpoints: live playlists (manifest window, time delay), start-over (`?start=`) and
//! time-shift / catch-up (`?start=&end=`) playlists, ad markers per endpoint mode
//! (none / passthrough / SCTE-35 enhanced / DATERANGE), AES-128 encryption with key
//! rotation (TS endpoints), and CMAF packaging (fMP4 remuxed from the ingested TS,
//! see [`cmaf`]).
//! **Not for**: producing the channel (that is `engine`), pulling from a source (that is
//! `pullpush`), transcoding, DRM beyond HLS AES-128, or ad insertion (that is `ads`).
//!
//! ## Main types
//! - [`Config`] (= [`OriginArgs`], `clap::Args`), [`build`] -> [`Origin`];
//!   [`Origin::router`] (relative paths, nestable under a prefix), [`Origin::openapi`],
//!   [`Origin::create_channel`] (the programmatic twin of `POST /api/v1/channels`).
//! - [`model`]: [`ChannelSpec`], [`EndpointSpec`], [`AdMarkers`], [`Packaging`],
//!   [`Encryption`], the API views.
//! - [`store::Store`]: where segment bytes live ([`store::MemoryStore`] by default,
//!   [`store::DiskStore`] for `--store disk`, [`store::ObjectStoreBackend`] for
//!   `--store s3`); [`persist`]: with a persistent store, each channel's definition and
//!   timeline index are objects beside its segments (`<channel>.channel.json`,
//!   `<channel>.index.json`), restored at start ([`Origin::open`]) and followed while
//!   running ([`Origin::refresh`]), so replicas on one bucket serve the same channels.
//! - [`timeline::ChannelData`]: a channel's ingest state and per-variant timelines (pure).
//! - [`digest::DigestAuth`]: server-side Digest (RFC 7616) with stateless expiring nonces.
//! - [`clock::Clock`]: time is an input ([`clock::FakeClock`] in tests).
//!
//! ## Routes (relative to the service root)
//! - `POST/GET /api/v1/channels`, `GET/DELETE /api/v1/channels/{ch}`,
//!   `POST /api/v1/channels/{ch}/endpoints`, `GET/PUT/DELETE .../endpoints/{ep}`
//!   (bearer token when configured); OpenAPI at `/api/docs`.
//! - `PUT/DELETE /in/{ch}/{1|2}/{path}`: ingest, Digest auth. The API returns each ingest
//!   URL as MediaPackage does, naming the file stem (`<public>/in/{ch}/1/channel`); clients
//!   PUT `<url>.m3u8`, `<url>_<n>.m3u8`, `<url>_<n>_<seq>.ts` (any file under the folder is
//!   accepted, so clients that append `/channel.m3u8` to the folder work too).
//! - `GET/HEAD /out/{ch}/{ep}/index.m3u8`, `/out/{ch}/{ep}/{variant}.m3u8[?start=&end=]`,
//!   `/out/{ch}/{ep}/{variant}/{seq}.ts` (TS endpoints) or `.../{variant}/{seq}.m4s` and
//!   `.../{variant}/init_{hash}.mp4` (CMAF endpoints): playback, CORS.
//! - `GET /keys/{ch}/{ep}/{key id}?token=`: AES-128 keys.
//! - `/healthz`, `/metrics`.
//!
//! ## Architecture
//! ```text
//! PUT /in/.. -> path check -> Digest -> body limit -> parse ----> ChannelData (pure)
//!                                                 segments/playlists |  Ready{meta, bytes}
//!                                                                    v
//!                                   Store::put(bytes) -> ChannelData::commit(meta) -> evict
//! GET /out/.. -> ChannelData (select by wall time) -> render (hls writer) -> Bytes
//!             -> Store::get -> (AES-128) -> Bytes
//! GET .m4s / CMAF playlist -> Variant::cmaf cache, else Store::get -> remux_ts -> cache
//! commit / API change -> persist::Index::put(<ch>.index.json | <ch>.channel.json)
//! every follow interval: Index::list -> changed objects -> ChannelData (other replicas)
//! ```
//! Invariants: one timeline per variant fed by both ingests (dedupe by media sequence,
//! gaps filled by either); a segment is listed only once its bytes are stored; the store
//! is written only under origin-built keys (`<channel>/<variant>/<seq>`), so nothing a
//! client sends chooses where bytes land; memory is bounded by the longest endpoint
//! startover window (eviction on every commit and by a background sweep when ingest
//! stops; the CMAF cache is trimmed with it); with a persistent store an ingest PUT is
//! answered after the segment and the index listing it are stored, and a replica that
//! ingested into a channel in the last 30 s is that channel's only index writer; live
//! playlists are rendered once per timeline change and served as shared
//! `Bytes`; segments are served as `Bytes` from the store without copying (except
//! AES-128 output, which encrypts per request).

mod api;
pub mod clock;
pub mod cmaf;
pub mod digest;
pub mod error;
mod ingest;
pub mod keys;
pub mod model;
pub mod persist;
mod playback;
pub mod render;
pub mod store;
pub mod timeline;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use arc_swap::ArcSwap;

use axum::{
    Router,
    routing::{get, put},
};
use clap::ValueEnum;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

pub use clock::{Clock, FakeClock, SystemClock};
pub use error::OriginError;
pub use model::{
    AdMarkers, ChannelSpec, ChannelView, Encryption, EndpointSpec, EndpointView, IngestEndpoint,
    Packaging,
};

use digest::{DigestAuth, Ha1};
use keys::Keys;
use store::Store;
use timeline::{ChannelData, Ready};

/// Where segment bytes are kept. `Disk` and `S3` also persist channel definitions and
/// timeline indexes next to the segments, so a restarted origin keeps serving what it had
/// and several replicas on one store serve the same channels ([`persist`]); `Memory`
/// forgets everything on restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    #[default]
    Memory,
    Disk,
    /// Any S3-compatible bucket (`--store-url s3://bucket/prefix`).
    S3,
}

/// Origin settings; flattened into `lineup origin` as command-line flags.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
pub struct OriginArgs {
    /// Address to listen on.
    #[arg(long, env = "LINEUP_ORIGIN_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// Public base URL of this service (including any path prefix), used in the ingest and
    /// playback URLs the API returns. Default: `http://<listen>`.
    #[arg(long, env = "LINEUP_ORIGIN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest accepted ingest body, bytes.
    #[arg(long, env = "LINEUP_ORIGIN_MAX_BODY", default_value_t = 64 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Segment store.
    #[arg(
        long,
        value_enum,
        env = "LINEUP_ORIGIN_STORE",
        default_value = "memory"
    )]
    pub store: StoreKind,
    /// Folder for `--store disk`.
    #[arg(long, env = "LINEUP_ORIGIN_STORE_PATH")]
    pub store_path: Option<PathBuf>,
    /// Bucket and optional prefix for `--store s3`, as `s3://bucket/prefix`.
    #[arg(long, env = "LINEUP_ORIGIN_STORE_URL")]
    pub store_url: Option<String>,
    /// S3 endpoint for S3-compatible stores (MinIO, moto, ...); `http://` is allowed.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// S3 access key id (default: the usual AWS environment and instance credentials).
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// S3 secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
    /// How often a replica re-lists the store for channels and indexes other replicas
    /// wrote (`--store disk` or `s3`), milliseconds.
    #[arg(long, env = "LINEUP_ORIGIN_FOLLOW_INTERVAL_MS", default_value_t = 1000)]
    pub follow_interval_ms: u64,
    /// Bearer token required on the control API when set.
    #[arg(long, env = "LINEUP_API_TOKEN")]
    pub api_token: Option<String>,
    /// Secret for Digest nonces, AES keys and key tokens (any length). Set the same value on
    /// every replica; default: random per process (keys change on restart).
    #[arg(long, env = "LINEUP_ORIGIN_SECRET")]
    pub secret: Option<String>,
}

/// The origin's configuration.
pub type Config = OriginArgs;

impl Default for OriginArgs {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            public_url: None,
            max_body_bytes: 64 * 1024 * 1024,
            store: StoreKind::Memory,
            store_path: None,
            store_url: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            follow_interval_ms: 1000,
            api_token: None,
            secret: None,
        }
    }
}

/// One channel: its two ingest users and its state.
pub struct Channel {
    pub id: String,
    /// (username, HA1) for ingest 1 and 2.
    pub(crate) users: [(String, Ha1); 2],
    data: Mutex<ChannelData>,
    /// Ready live-playlist responses, read without the `data` lock (see [`LiveMap`]).
    live: ArcSwap<LiveMap>,
    /// Orders writes of this channel's persisted objects; holds what was last stored or
    /// read of its index.
    persist_lock: tokio::sync::Mutex<persist::Persisted>,
    /// When this process last committed ingest into the channel (clock, ms since epoch;
    /// 0: never). A replica that ingested within [`persist::INGEST_QUIET`] writes the
    /// channel's index and does not take other replicas' indexes.
    last_ingest_ms: std::sync::atomic::AtomicI64,
    /// Store keys evicted from the timeline whose removal waits for an index write that
    /// no longer lists them (a failed write keeps them here for the next one).
    pending_gone: Mutex<Vec<String>>,
}

/// A live media playlist response ready to send: body and `Cache-Control`, rendered when
/// the timeline changed.
#[derive(Debug)]
pub(crate) struct LivePlaylist {
    pub(crate) body: bytes::Bytes,
    pub(crate) cache_control: axum::http::HeaderValue,
}

/// Endpoint id -> variant slug -> ready live playlist. An immutable snapshot: it holds only
/// entries rendered from the current `ChannelData` (every mutable access to the data through
/// [`ChannelGuard`] replaces it with an empty map before the lock is released).
pub(crate) type LiveMap = HashMap<String, HashMap<String, Arc<LivePlaylist>>>;

impl Channel {
    fn new(id: String, users: [(String, Ha1); 2], data: ChannelData) -> Self {
        Self {
            id,
            users,
            data: Mutex::new(data),
            live: ArcSwap::from_pointee(LiveMap::new()),
            persist_lock: tokio::sync::Mutex::new(persist::Persisted::default()),
            last_ingest_ms: std::sync::atomic::AtomicI64::new(0),
            pending_gone: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn lock(&self) -> ChannelGuard<'_> {
        ChannelGuard {
            data: self.data.lock().unwrap_or_else(|e| e.into_inner()),
            live: &self.live,
            dirty: false,
            publish: None,
        }
    }

    /// The ready live playlist of (endpoint, variant slug), without taking the data lock.
    pub(crate) fn live_playlist(&self, endpoint: &str, slug: &str) -> Option<Arc<LivePlaylist>> {
        self.live.load().get(endpoint)?.get(slug).cloned()
    }
}

/// The channel's data lock. Mutable access (`DerefMut`) marks the data changed: on release
/// the ready live playlists are dropped (under the lock, so a reader of the snapshot never
/// sees one older than the data it was rendered from). [`ChannelGuard::cache_mut`] is for
/// output caches that do not change what is served.
pub(crate) struct ChannelGuard<'a> {
    data: MutexGuard<'a, ChannelData>,
    live: &'a ArcSwap<LiveMap>,
    dirty: bool,
    publish: Option<(String, String, Arc<LivePlaylist>)>,
}

impl ChannelGuard<'_> {
    /// Mutable access that does not invalidate the ready live playlists: only for caches
    /// of output derived from the data (`Variant::live_cache`).
    pub(crate) fn cache_mut(&mut self) -> &mut ChannelData {
        &mut self.data
    }

    /// Publish a live playlist rendered from the data as it is under this lock (applied
    /// when the lock is released).
    pub(crate) fn publish(&mut self, endpoint: &str, slug: &str, pl: Arc<LivePlaylist>) {
        self.publish = Some((endpoint.to_string(), slug.to_string(), pl));
    }
}

impl std::ops::Deref for ChannelGuard<'_> {
    type Target = ChannelData;
    fn deref(&self) -> &ChannelData {
        &self.data
    }
}

impl std::ops::DerefMut for ChannelGuard<'_> {
    fn deref_mut(&mut self) -> &mut ChannelData {
        self.dirty = true;
        &mut self.data
    }
}

impl Drop for ChannelGuard<'_> {
    fn drop(&mut self) {
        // Runs before `data` (the MutexGuard) is dropped: still under the lock.
        if self.dirty {
            self.live.store(Arc::new(LiveMap::new()));
        }
        if let Some((ep, slug, pl)) = self.publish.take() {
            let cur = self.live.load();
            if cur.get(&ep).is_some_and(|m| m.contains_key(&slug)) {
                return; // published by an earlier request since the last change
            }
            let mut next = LiveMap::clone(&cur);
            next.entry(ep).or_default().insert(slug, pl);
            self.live.store(Arc::new(next));
        }
    }
}

pub(crate) struct Shared {
    pub(crate) config: Config,
    public_url: String,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) store: Arc<dyn Store>,
    channels: RwLock<HashMap<String, Arc<Channel>>>,
    pub(crate) digest: DigestAuth,
    pub(crate) keys: Keys,
    /// `--store disk`/`s3`: where channel definitions and indexes are persisted and
    /// followed (see [`persist`]).
    index: Option<Arc<persist::Index>>,
    /// `origin_segments_served_total`, resolved once (after the router installed the
    /// recorder) rather than looked up per request.
    segments_served: std::sync::OnceLock<metrics::Counter>,
}

fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

impl Shared {
    pub(crate) fn channel(&self, id: &str) -> Result<Arc<Channel>, OriginError> {
        self.channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .ok_or_else(|| OriginError::not_found(format!("channel {id:?}")))
    }

    pub(crate) fn segments_served(&self) -> &metrics::Counter {
        self.segments_served
            .get_or_init(|| metrics::counter!("origin_segments_served_total"))
    }

    /// A channel's ready live playlist, without taking any channel's data lock.
    pub(crate) fn live_playlist(
        &self,
        channel: &str,
        endpoint: &str,
        slug: &str,
    ) -> Option<Arc<LivePlaylist>> {
        self.channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(channel)?
            .live_playlist(endpoint, slug)
    }

    pub(crate) async fn create_channel(
        &self,
        spec: ChannelSpec,
    ) -> Result<ChannelView, OriginError> {
        spec.validate()?;
        let exists = || OriginError::Conflict(format!("channel {:?} exists", spec.id));
        if self.channel(&spec.id).is_ok() {
            return Err(exists());
        }
        // Another replica may have created it since this one last listed the store.
        if let Some(index) = &self.index
            && index
                .get(&spec.id, persist::Part::Definition)
                .await?
                .is_some()
        {
            return Err(exists());
        }
        let creds: Vec<(String, String)> = (1..=2)
            .map(|n| {
                (
                    format!("{}-{n}-{}", spec.id, random_token(4)),
                    random_token(16),
                )
            })
            .collect();
        let users = [
            (creds[0].0.clone(), Ha1::new(&creds[0].0, &creds[0].1)),
            (creds[1].0.clone(), Ha1::new(&creds[1].0, &creds[1].1)),
        ];
        let mut data = ChannelData::default();
        data.description = spec.description.clone();
        data.endpoints = spec.endpoints.clone();
        let ch = Arc::new(Channel::new(spec.id.clone(), users, data));
        {
            let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
            if channels.contains_key(&spec.id) {
                return Err(exists());
            }
            channels.insert(spec.id.clone(), ch.clone());
        }
        let saved = match &self.index {
            // Leftovers of an earlier channel with this id (an index a replica wrote while
            // the channel was being deleted) must not become this channel's timeline.
            Some(index) => match index.delete(&spec.id).await {
                Ok(()) => self.save_definition(&ch).await,
                Err(e) => Err(e),
            },
            None => Ok(()),
        };
        if let Err(e) = saved {
            // Not stored: other replicas and a restart would not know it. Refuse it here too.
            self.channels
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&spec.id);
            return Err(e);
        }
        metrics::gauge!("origin_channels").increment(1.0);
        tracing::info!(channel = %spec.id, "channel created");
        let mut view = self.view(&ch);
        for (i, v) in view.ingest.iter_mut().enumerate() {
            v.password = Some(creds[i].1.clone());
        }
        Ok(view)
    }

    fn view(&self, ch: &Channel) -> ChannelView {
        let data = ch.lock();
        ChannelView {
            id: ch.id.clone(),
            description: data.description.clone(),
            ingest: ch
                .users
                .iter()
                .enumerate()
                .map(|(i, (u, _))| IngestEndpoint {
                    url: format!("{}/in/{}/{}/channel", self.public_url, ch.id, i + 1),
                    username: u.clone(),
                    password: None,
                })
                .collect(),
            endpoints: data
                .endpoints
                .iter()
                .map(|e| self.endpoint_view(&ch.id, e.clone()))
                .collect(),
            variants: data.variants.keys().cloned().collect(),
        }
    }

    pub(crate) fn endpoint_view(&self, channel: &str, spec: EndpointSpec) -> EndpointView {
        EndpointView {
            url: format!("{}/out/{channel}/{}/index.m3u8", self.public_url, spec.id),
            spec,
        }
    }

    pub(crate) fn channel_view(&self, id: &str) -> Result<ChannelView, OriginError> {
        let ch = self.channel(id)?;
        Ok(self.view(&ch))
    }

    pub(crate) fn list_channels(&self) -> Vec<ChannelView> {
        let chans: Vec<Arc<Channel>> = self
            .channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let mut v: Vec<ChannelView> = chans.iter().map(|c| self.view(c)).collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    pub(crate) async fn delete_channel(&self, id: &str) -> Result<(), OriginError> {
        let ch = self
            .channels
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .ok_or_else(|| OriginError::not_found(format!("channel {id:?}")))?;
        metrics::gauge!("origin_channels").decrement(1.0);
        if let Some(index) = &self.index {
            let _g = ch.persist_lock.lock().await;
            index.delete(id).await?;
        }
        let mut keys: Vec<String> = ch
            .lock()
            .variants
            .values()
            .flat_map(|v| v.segments.values().map(|s| s.key.clone()))
            .collect();
        // And evicted ones still waiting for an index write that no longer lists them.
        keys.append(&mut ch.pending_gone.lock().unwrap_or_else(|e| e.into_inner()));
        for k in keys {
            self.store.delete(k).await?;
        }
        Ok(())
    }

    /// Store ready segments, put them on their timelines, evict what left the window.
    pub(crate) async fn commit(
        &self,
        ch: &Channel,
        mut ready: Vec<Ready>,
    ) -> Result<(), OriginError> {
        // Also with nothing ready: a playlist PUT is ingest (and may change the master).
        for r in &mut ready {
            timeline::index_keyframes(&mut r.meta, &r.data);
        }
        for r in &ready {
            self.store.put(r.meta.key.clone(), r.data.clone()).await?;
        }
        let now = self.clock.now();
        let gone = {
            let mut data = ch.lock();
            // Under the data lock, so `apply_index` sees it before replacing the timeline.
            ch.last_ingest_ms
                .store(now.timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
            for r in ready {
                data.commit(&r.variant, r.meta);
            }
            data.evict(now)
        };
        match self.save_index(ch).await {
            Ok(()) => {
                self.retire(ch, gone).await;
                Ok(())
            }
            Err(e) => {
                ch.pending_gone
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(gone);
                // The segment is on this replica's timeline but not in the stored index:
                // the encoder's retry of this PUT writes the index again.
                Err(e)
            }
        }
    }

    /// Delete the bytes of segments that left the timeline (and those a failed index
    /// write held back). With a persistent store this happens after twice the follow
    /// interval, so replicas that read the previous index stop listing them first.
    async fn retire(&self, ch: &Channel, gone: Vec<String>) {
        let mut keys =
            std::mem::take(&mut *ch.pending_gone.lock().unwrap_or_else(|e| e.into_inner()));
        keys.extend(gone);
        if keys.is_empty() {
            return;
        }
        let store = self.store.clone();
        let delete = async move {
            for k in keys {
                if let Err(e) = store.delete(k).await {
                    tracing::warn!(error = %e, "deleting an evicted segment failed");
                }
            }
        };
        if self.index.is_none() {
            return delete.await;
        }
        let grace = 2 * self.follow_interval();
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            delete.await;
        });
    }

    /// How often replicas re-list the store (`follow_interval_ms`, at least 50 ms).
    fn follow_interval(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.config.follow_interval_ms.max(50))
    }

    /// Whether `ch` is still the channel registered under its id (not deleted or
    /// replaced meanwhile: then it must not be written back).
    fn is_current(&self, ch: &Channel) -> bool {
        self.channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&ch.id)
            .is_some_and(|c| std::ptr::eq(Arc::as_ptr(c), ch))
    }

    fn persist_failed(ch: &Channel, e: &OriginError) {
        tracing::warn!(channel = %ch.id, error = %e, "persisting the channel failed");
        metrics::counter!("origin_persist_failed_total").increment(1);
    }

    /// Write a channel's definition (with `--store disk`/`s3`). A failure is logged,
    /// counted and returned.
    pub(crate) async fn save_definition(&self, ch: &Channel) -> Result<(), OriginError> {
        let Some(index) = &self.index else {
            return Ok(());
        };
        let _g = ch.persist_lock.lock().await;
        if !self.is_current(ch) {
            return Ok(());
        }
        let bytes = persist::definition_bytes(&ch.id, &ch.users, &ch.lock());
        index
            .put(&ch.id, persist::Part::Definition, bytes)
            .await
            .inspect_err(|e| Self::persist_failed(ch, e))
    }

    /// Write a channel's timeline index if it changed since the last write (with
    /// `--store disk`/`s3`). A failure is logged, counted and returned; the next write
    /// retries.
    pub(crate) async fn save_index(&self, ch: &Channel) -> Result<(), OriginError> {
        let Some(index) = &self.index else {
            return Ok(());
        };
        let mut st = ch.persist_lock.lock().await;
        if !self.is_current(ch) {
            return Ok(());
        }
        let (version, plan) = {
            let data = ch.lock();
            let version = data.index_version();
            if version == st.version {
                return Ok(());
            }
            (version, persist::index_write(&data, &st.pages))
        };
        self.store_index(index, &ch.id, &mut st, plan)
            .await
            .inspect_err(|e| Self::persist_failed(ch, e))?;
        st.version = version;
        Ok(())
    }

    /// Pages first (the head must never name a page that is not stored), the head, then
    /// pages that left the window.
    async fn store_index(
        &self,
        index: &persist::Index,
        id: &str,
        st: &mut persist::Persisted,
        plan: persist::IndexWrite,
    ) -> Result<(), OriginError> {
        for p in &plan.pages {
            index
                .put_page(id, &p.slug, p.block, p.bytes.clone())
                .await?;
            st.pages.wrote(p);
        }
        index.put(id, persist::Part::Index, plan.head).await?;
        for (slug, block) in plan.gone {
            index.delete_page(id, &slug, block).await?;
            st.pages.deleted(&slug, block);
        }
        Ok(())
    }

    /// Whether this process ingested into `ch` within [`persist::INGEST_QUIET`].
    fn ingesting(&self, ch: &Channel) -> bool {
        let last = ch.last_ingest_ms.load(std::sync::atomic::Ordering::Relaxed);
        last != 0
            && self.clock.now().timestamp_millis() - last < persist::INGEST_QUIET.as_millis() as i64
    }

    /// Bring channels up to date with the store: channels other replicas created appear,
    /// changed definitions apply, changed indexes replace the timeline (unless this process
    /// is ingesting into that channel), channels deleted elsewhere disappear. Runs at start
    /// and every `follow_interval_ms`.
    pub(crate) async fn refresh(&self) -> Result<(), OriginError> {
        let Some(index) = &self.index else {
            return Ok(());
        };
        let stamp = index.now_stamp();
        let mut listed = index.list().await?;
        let mut defined = std::collections::HashSet::new();
        // Definitions first, so an index always finds its channel.
        listed.sort_by_key(|l| l.part != persist::Part::Definition);
        for l in &listed {
            if l.part == persist::Part::Definition {
                defined.insert(l.id.clone());
            }
            if !index.changed(l) {
                continue;
            }
            let existing = self.channel(&l.id).ok();
            let result = match l.part {
                persist::Part::Definition => self.apply_definition(index, &l.id, existing).await,
                persist::Part::Index => match existing {
                    Some(ch) if !self.ingesting(&ch) => self.apply_index(index, &ch).await,
                    _ => Ok(()),
                },
            };
            if let Err(e) = result {
                tracing::warn!(channel = %l.id, error = %e, "channel not taken from the store");
                metrics::counter!("origin_follow_failed_total").increment(1);
                // Not applied: try again on the next pass even if the object stays as is.
                index.unsee(&l.id, l.part);
            }
        }
        let gone: Vec<String> = self
            .channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .filter(|id| !defined.contains(*id) && index.definition_known_before(id, stamp))
            .cloned()
            .collect();
        for id in gone {
            let removed = self
                .channels
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            if removed.is_some() {
                index.forget(&id);
                metrics::gauge!("origin_channels").decrement(1.0);
                tracing::info!(channel = %id, "channel deleted by another replica");
            }
        }
        Ok(())
    }

    async fn apply_definition(
        &self,
        index: &persist::Index,
        id: &str,
        existing: Option<Arc<Channel>>,
    ) -> Result<(), String> {
        let Some(bytes) = index
            .get(id, persist::Part::Definition)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        let def = persist::parse_definition(&bytes)?;
        if def.id != id {
            return Err(format!("object names channel {:?}", def.id));
        }
        if let Some(ch) = existing.filter(|ch| ch.users == def.users) {
            let mut data = ch.lock();
            if data.description != def.description || data.endpoints != def.endpoints {
                data.description = def.description;
                data.endpoints = def.endpoints;
            }
            return Ok(());
        }
        // New here, or deleted and created again elsewhere (new ingest users): a new channel.
        let mut data = ChannelData::default();
        data.description = def.description;
        data.endpoints = def.endpoints;
        let ch = Arc::new(Channel::new(def.id.clone(), def.users, data));
        let added = {
            let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
            match channels.get(&def.id) {
                Some(c) if c.users == ch.users => false,
                old => {
                    if old.is_none() {
                        metrics::gauge!("origin_channels").increment(1.0);
                    }
                    channels.insert(def.id.clone(), ch.clone());
                    true
                }
            }
        };
        if added {
            tracing::info!(channel = %def.id, "channel taken from the store");
            // Its index, if any, in the same pass.
            self.apply_index(index, &ch).await?;
        }
        Ok(())
    }

    async fn apply_index(&self, index: &persist::Index, ch: &Channel) -> Result<(), String> {
        let mut st = ch.persist_lock.lock().await;
        let Some(bytes) = index
            .get(&ch.id, persist::Part::Index)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        let head = persist::IndexHead::parse(&bytes)?;
        let mut read = Vec::new();
        for (slug, r) in head.missing(&st.pages) {
            let page = index
                .get_page(&ch.id, &slug, r.block)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("page {slug}/{} is gone (the writer moved on)", r.block))?;
            read.push((slug, r, page));
        }
        let mut data = ch.lock();
        if self.ingesting(ch) {
            return Ok(()); // ingest started here meanwhile: this process is the writer now
        }
        // Only now: pages of a head that is not applied must not enter the bookkeeping.
        for (slug, r, page) in read {
            persist::read_page(&mut st.pages, &slug, r, &page)?;
        }
        persist::apply_index(head, &mut st.pages, &mut data)?;
        // What is stored now is this content: no need to write it back.
        st.version = data.index_version();
        Ok(())
    }

    /// Remux the listed segments of `variant` (sequence, store key) that are not in its
    /// CMAF cache yet. Store reads and remuxing run without the channel lock.
    pub(crate) async fn ensure_cmaf(
        &self,
        ch: &Channel,
        variant: &str,
        wanted: Vec<(u64, String)>,
    ) -> Result<(), OriginError> {
        let missing: Vec<(u64, String)> = {
            let data = ch.lock();
            let Some(v) = data.variants.get(variant) else {
                return Ok(());
            };
            wanted
                .into_iter()
                .filter(|(seq, _)| !v.cmaf.segs.contains_key(seq))
                .collect()
        };
        for (seq, key) in missing {
            let Some(ts) = self.store.get(&key).await? else {
                continue;
            };
            let result = tokio::task::spawn_blocking(move || cmaf::remux(&ts, seq))
                .await
                .unwrap_or(None);
            let mut data = ch.lock();
            if let Some(v) = data.variants.get_mut(variant)
                && v.segments.contains_key(&seq)
            {
                v.cmaf.insert(seq, result);
            }
        }
        Ok(())
    }

    /// Evict on every channel (the background sweep, for channels whose ingest stopped).
    pub(crate) async fn sweep(&self) {
        let chans: Vec<Arc<Channel>> = self
            .channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for ch in chans {
            let gone = ch.lock().evict(self.clock.now());
            // Only the replica whose index is stored writes it back; others evict their
            // copy (deleting a segment twice is harmless) and take the writer's next index.
            if !gone.is_empty()
                && self.index.as_ref().is_some_and(|i| i.index_is_ours(&ch.id))
                && self.save_index(&ch).await.is_err()
            {
                ch.pending_gone
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(gone);
                continue;
            }
            self.retire(&ch, gone).await;
        }
    }
}

/// A running origin: cheap to clone, shares its state.
#[derive(Clone)]
pub struct Origin {
    shared: Arc<Shared>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lineup origin",
        description = "Channels, ingest credentials and output endpoints"
    ),
    paths(
        api::create_channel,
        api::list_channels,
        api::get_channel,
        api::delete_channel,
        api::create_endpoint,
        api::get_endpoint,
        api::put_endpoint,
        api::delete_endpoint
    ),
    components(schemas(
        ChannelSpec,
        ChannelView,
        EndpointSpec,
        EndpointView,
        IngestEndpoint,
        AdMarkers,
        Packaging,
        Encryption
    ))
)]
struct ApiDoc;

/// A segment store and, when it persists, the channel index kept beside it.
pub type Stores = (Arc<dyn Store>, Option<Arc<persist::Index>>);

/// The segment store and channel index a configuration asks for.
pub fn stores(config: &Config) -> Result<Stores, OriginError> {
    match config.store {
        StoreKind::Memory => Ok((Arc::new(store::MemoryStore::new()), None)),
        StoreKind::Disk => {
            let path = config
                .store_path
                .clone()
                .ok_or_else(|| OriginError::bad("store_path", "--store disk needs --store-path"))?;
            let segments = store::DiskStore::new(&path)?;
            let local = object_store::local::LocalFileSystem::new_with_prefix(&path)
                .map_err(|e| OriginError::bad("store_path", format!("{}: {e}", path.display())))?;
            let index = persist::Index::new(Arc::new(local), None);
            Ok((Arc::new(segments), Some(Arc::new(index))))
        }
        StoreKind::S3 => {
            let url = config.store_url.as_deref().ok_or_else(|| {
                OriginError::bad(
                    "store_url",
                    "--store s3 needs --store-url s3://bucket/prefix",
                )
            })?;
            let parsed = url::Url::parse(url)
                .ok()
                .filter(|u| u.scheme() == "s3" && u.host_str().is_some_and(|h| !h.is_empty()))
                .ok_or_else(|| {
                    OriginError::bad(
                        "store_url",
                        format!("--store-url {url:?} is not s3://bucket[/prefix]"),
                    )
                })?;
            let bucket = parsed.host_str().unwrap_or_default();
            let prefix = parsed.path().trim_matches('/');
            let prefix = (!prefix.is_empty()).then(|| object_store::path::Path::from(prefix));
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_region(&config.s3_region);
            if let Some(e) = &config.s3_endpoint {
                b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
            }
            if let Some(k) = &config.s3_access_key_id {
                b = b.with_access_key_id(k);
            }
            if let Some(k) = &config.s3_secret_access_key {
                b = b.with_secret_access_key(k);
            }
            let s3: Arc<dyn object_store::ObjectStore> =
                Arc::new(b.build().map_err(|e| {
                    OriginError::bad("store_url", format!("--store-url {url:?}: {e}"))
                })?);
            Ok((
                Arc::new(store::ObjectStoreBackend::new(s3.clone(), prefix.clone())),
                Some(Arc::new(persist::Index::new(s3, prefix))),
            ))
        }
    }
}

/// Build an origin from its configuration (system clock, stores from the config): restore
/// the channels a persistent store holds, then start the background eviction sweep and,
/// with a persistent store, the loop that follows other replicas' changes.
pub async fn build(config: Config) -> Result<Origin, OriginError> {
    let origin = Origin::open(config, Arc::new(SystemClock)).await?;
    let weak = Arc::downgrade(&origin.shared);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            tick.tick().await;
            let Some(shared) = weak.upgrade() else { break };
            shared.sweep().await;
        }
    });
    if origin.shared.index.is_some() {
        let every = origin.shared.follow_interval();
        let weak = Arc::downgrade(&origin.shared);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(shared) = weak.upgrade() else { break };
                if let Err(e) = shared.refresh().await {
                    tracing::warn!(error = %e, "following the store failed");
                    metrics::counter!("origin_follow_failed_total").increment(1);
                }
            }
        });
    }
    Ok(origin)
}

impl Origin {
    /// An origin with an explicit clock, segment store and (for persistence and replicas)
    /// channel index. Nothing is read from the index here: see [`Origin::open`] or call
    /// [`Origin::refresh`].
    pub fn with_parts(
        config: Config,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
        index: Option<Arc<persist::Index>>,
    ) -> Self {
        let secret: [u8; 32] = match &config.secret {
            Some(s) => {
                use sha2::Digest;
                sha2::Sha256::digest(s.as_bytes()).into()
            }
            None => rand::random(),
        };
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.listen))
            .trim_end_matches('/')
            .to_string();
        Self {
            shared: Arc::new(Shared {
                config,
                public_url,
                clock,
                store,
                channels: RwLock::new(HashMap::new()),
                digest: DigestAuth::new(secret),
                keys: Keys::new(secret),
                index,
                segments_served: std::sync::OnceLock::new(),
            }),
        }
    }

    /// An origin with the stores its configuration names and an explicit clock, with the
    /// channels of a persistent store restored (no background tasks: [`build`] adds them).
    pub async fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Self, OriginError> {
        let (store, index) = stores(&config)?;
        let origin = Self::with_parts(config, clock, store, index);
        origin.shared.refresh().await?;
        Ok(origin)
    }

    /// Take what other replicas changed in the store now (also runs every
    /// `follow_interval_ms` after [`build`]).
    pub async fn refresh(&self) -> Result<(), OriginError> {
        self.shared.refresh().await
    }

    /// Create a channel (same as `POST /api/v1/channels`). The returned view holds the two
    /// ingest URLs with usernames and passwords (shown only here).
    pub async fn create_channel(&self, spec: ChannelSpec) -> Result<ChannelView, OriginError> {
        self.shared.create_channel(spec).await
    }

    /// A channel's current view (no passwords).
    pub fn channel(&self, id: &str) -> Result<ChannelView, OriginError> {
        self.shared.channel_view(id)
    }

    /// Evict what left every channel's window now (also runs every 10 s after [`build`]).
    pub async fn sweep(&self) {
        self.shared.sweep().await
    }

    /// The OpenAPI document of the control API.
    pub fn openapi() -> utoipa::openapi::OpenApi {
        ApiDoc::openapi()
    }

    /// All routes, relative to the service root (nest under a prefix freely; set
    /// `public_url` to include that prefix).
    pub fn router(&self) -> Router {
        let s = self.shared.clone();
        let token: Option<Arc<str>> = s.config.api_token.as_deref().map(Arc::from);
        let control = Router::new()
            .route(
                "/api/v1/channels",
                get(api::list_channels).post(api::create_channel),
            )
            .route(
                "/api/v1/channels/{channel}",
                get(api::get_channel).delete(api::delete_channel),
            )
            .route(
                "/api/v1/channels/{channel}/endpoints",
                axum::routing::post(api::create_endpoint),
            )
            .route(
                "/api/v1/channels/{channel}/endpoints/{endpoint}",
                get(api::get_endpoint)
                    .put(api::put_endpoint)
                    .delete(api::delete_endpoint),
            )
            .route_layer(axum::middleware::from_fn_with_state(
                token,
                web::bearer_auth,
            ));
        let public = Router::new()
            .route(
                "/in/{channel}/{ingest}/{*path}",
                put(ingest::ingest).delete(ingest::ingest),
            )
            .route("/out/{channel}/{endpoint}/{*path}", get(playback::out))
            .route("/keys/{channel}/{endpoint}/{kid}", get(playback::key));
        Router::new()
            .merge(control)
            .merge(public)
            .with_state(s)
            .merge(web::common_routes())
            .merge(web::docs_routes(Self::openapi()))
            .layer(web::cors())
    }

    /// Bind `config.listen` and serve until Ctrl-C / SIGTERM.
    pub async fn serve(self) -> std::io::Result<()> {
        let listener = tokio::net::TcpListener::bind(self.shared.config.listen).await?;
        tracing::info!(addr = %self.shared.config.listen, "origin listening");
        web::serve(listener, self.router()).await
    }
}
