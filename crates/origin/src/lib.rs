//! # origin: lineup's answer to AWS Elemental MediaPackage
//!
//! **For**: receiving a live HLS channel pushed over HTTP (WebDAV-style `PUT`, Digest
//! auth, MediaPackage naming `channel.m3u8` / `channel_<n>.m3u8` / `channel_<n>_<seq>.ts`)
//! on two redundant ingest URLs, keeping a DVR window of segments, and serving output
//! endpoints: live playlists (manifest window, time delay), start-over (`?start=`) and
//! time-shift / catch-up (`?start=&end=`) playlists, ad markers per endpoint mode
//! (none / passthrough / SCTE-35 enhanced / DATERANGE), AES-128 encryption with key
//! rotation (TS endpoints), DRM encryption as MediaPackage offers it (`sample_aes`: CMAF
//! `cbcs` or TS SAMPLE-AES; `aes_ctr`: CMAF `cenc`; keys per key period from a
//! [`drm::KeySource`]: derived from the secret, or asked of a SPEKE v2 key provider by
//! [`speke`]), and CMAF packaging (fMP4 remuxed from the ingested TS, see
//! [`cmaf`]).
//! **Not for**: producing the channel (that is `engine`), pulling from a source (that is
//! `pullpush`), transcoding, being a key provider or a licence server (the CPIX model
//! and the test key server are crate `keys`), or ad insertion (that is `ads`).
//!
//! ## Main types
//! - [`Config`] (= [`OriginArgs`], `clap::Args`), [`build`] -> [`Origin`];
//!   [`Origin::router`] (relative paths, nestable under a prefix), [`Origin::openapi`],
//!   [`Origin::create_channel`] (the programmatic twin of `POST /api/v1/channels`).
//! - [`model`]: [`ChannelSpec`], [`EndpointSpec`], [`AdMarkers`], [`Packaging`],
//!   [`Encryption`], the API views.
//! - [`store::Store`]: where segment bytes live ([`store::MemoryStore`] by default,
//!   [`store::DiskStore`] for `--store disk`, [`store::ObjectStoreBackend`] for
//!   `--store s3`, behind [`store::Cached`]: the newest segments in memory and a deadline
//!   on every call, so a hung or gone bucket gives 503s for what is not in memory while the
//!   live window keeps playing, and recovery needs nothing but the bucket coming back); [`persist`]: with a persistent store, each channel's definition and
//!   timeline index are objects beside its segments (`<channel>.channel.json`,
//!   `<channel>.index.json`), restored at start ([`Origin::open`]) and followed while
//!   running ([`Origin::refresh`]), so replicas on one bucket serve the same channels.
//! - [`timeline::ChannelData`]: a channel's ingest state and per-variant timelines (pure);
//!   discontinuity numbering in `disc`, ad breaks in `adbreak`.
//! - Modules of the running service: `config` ([`OriginArgs`], [`stores`]), `channel`
//!   ([`Channel`]: lock, ready live playlists), `registry` (the channel registry: create,
//!   view, delete, commit ingest, eviction sweep, CMAF on demand), `replication`
//!   (persisting definitions and indexes, following other replicas), `ingest` and
//!   `playback` (the HTTP handlers), `api` (control API); this file: [`Origin`], its router.
//! - [`digest::DigestAuth`]: server-side Digest (RFC 7616) with stateless expiring nonces.
//! - [`clock::Clock`]: time is an input ([`clock::ManualClock`] in tests).
//!
//! ## Routes (relative to the service root)
//! - `POST/GET /api/v1/channels`, `GET/DELETE /api/v1/channels/{ch}`,
//!   `POST /api/v1/channels/{ch}/endpoints`, `GET/PUT/DELETE .../endpoints/{ep}`
//!   (bearer token when configured); OpenAPI at `/api/docs`.
//! - `PUT/DELETE /in/{ch}/{1|2}/{path}`: ingest, Digest auth. The API returns each ingest
//!   URL as MediaPackage does, naming the file stem (`<public>/in/{ch}/1/channel`); clients
//!   PUT `<url>.m3u8`, `<url>_<n>.m3u8`, `<url>_<n>_<seq>.ts` (any file under the folder is
//!   accepted, so clients that append `/channel.m3u8` to the folder work too).
//! - `GET/HEAD /out/{ch}/{ep}/index.m3u8[?start=&end=]` (the master carries its query into
//!   every URI it names), `/out/{ch}/{ep}/{variant}.m3u8[?start=&end=]`,
//!   `/out/{ch}/{ep}/{variant}/{seq}.ts` (TS endpoints) or `.../{variant}/{seq}.m4s` and
//!   `.../{variant}/init_{hash}.mp4` (CMAF endpoints; `init_{hash}_{key period}.mp4` on
//!   encrypted ones): playback, CORS. One parser (`out_path::OutRequest`) turns the path
//!   into a file kind; the handler dispatches on it.
//! - `GET /keys/{ch}/{ep}/{key id}?token=`: AES-128 keys, and the derived keys of DRM
//!   endpoints without a key provider (TS SAMPLE-AES).
//! - `POST /keys/{ch}/{ep}/clearkey`: a W3C EME ClearKey licence for the derived keys of a
//!   CMAF DRM endpoint without a key provider (`clearkey`).
//! - `/channels[/{id}[/credentials|/ingest_endpoints/{1|2}/credentials]]`,
//!   `/origin_endpoints[/{id}]`, `/tags/{arn}`: MediaPackage's API for the AWS SDKs and
//!   CLI, SigV4-signed ([`mediapackage`]), translated onto the operations the lineup API
//!   calls (`ops`: add / replace / remove an endpoint, edit a channel, rotate ingest
//!   credentials).
//! - `/healthz`, `/metrics`.
//!
//! ## Architecture
//! ```text
//! PUT /in/.. -> path check -> Digest -> body limit -> parse ----> ChannelData (pure)
//!                                                 segments/playlists |  Ready{meta, bytes}
//!                                                                    v
//!                                   Store::put(bytes) -> ChannelData::commit(meta) -> evict
//! GET /out/.. -> ChannelData (select by wall time) -> render (hls writer) -> Bytes
//!             -> Store::get -> (AES-128, once per segment and endpoint) -> Bytes
//!             (DRM: KeySource -> keys of the period -> media::cenc / media::sample_aes, once
//!              per segment, endpoint and key period; no keys -> 503)
//! GET .m4s / CMAF playlist -> Variant::cmaf cache, else (once) Store::get -> remux_ts -> cache
//! commit / API change -> persist::Index::put(<ch>.index.json | <ch>.channel.json)
//! every follow interval: Index::list -> changed objects -> ChannelData (other replicas)
//! ```
//! Invariants: one timeline per variant fed by both ingests (dedupe by media sequence,
//! gaps filled by either); discontinuity numbers are the origin's own (anchored on the
//! timeline, never taken as absolute from an ingest) and never change once a segment is on
//! the timeline, so published playlists keep RFC 8216 6.2.2 (a discontinuity keeps its tag
//! while its segment is listed, also as the first one); a segment is listed only once its bytes are stored; the store
//! is written only under origin-built keys (`<channel>/<variant>/<seq>`), so nothing a
//! client sends chooses where bytes land; memory is bounded by the longest endpoint
//! startover window (eviction on every commit and by a background sweep when ingest
//! stops; the CMAF cache is trimmed with it); with a persistent store an ingest PUT is
//! answered after the segment and the index listing it are stored, and a replica that
//! ingested into a channel in the last 30 s is that channel's only index writer; live
//! playlists are rendered once per timeline change and served as shared
//! `Bytes`; segments are served as `Bytes` from the store without copying; CPU work
//! (AES-128 encryption, TS inspection, CMAF remux) runs on the blocking pool, once per
//! segment (and endpoint) however many requests ask at the same time (`work::Once`),
//! AES output kept up to `segment_cache_bytes`; segments waiting for their playlist entry
//! are bounded in count and in bytes (`pending_bytes`).

mod adbreak;
mod api;
mod channel;
mod clearkey;
pub mod cmaf;
mod config;
pub mod dash;
pub mod digest;
mod disc;
pub mod drm;
mod encrypted;
pub mod error;
pub mod harvest;
mod ingest;
pub mod keys;
pub mod mediapackage;
pub mod model;
mod ops;
mod out_path;
pub mod persist;
mod playback;
mod registry;
pub mod render;
mod replication;
pub mod speke;
pub mod store;
pub mod timeline;
mod work;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::{
    Router,
    routing::{get, put},
};
use clock::Clock;
use utoipa::OpenApi;

pub use channel::Channel;
pub(crate) use channel::LivePlaylist;
pub use config::{Config, OriginArgs, StoreKind, Stores, stores};
pub use error::OriginError;
pub use model::{
    AdMarkers, ChannelSpec, ChannelView, DrmSettings, Encryption, EncryptionContractConfiguration,
    EndpointSpec, EndpointView, IngestEndpoint, Packaging, ProviderCredential, SecretText,
    SpekeKeyProvider,
};

use digest::DigestAuth;
use keys::Keys;
pub(crate) use registry::Shared;
use store::Store;

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
        Encryption,
        DrmSettings,
        SpekeKeyProvider,
        EncryptionContractConfiguration,
        model::ProviderCredential
    ))
)]
struct ApiDoc;

/// Build an origin from its configuration (system clock, stores from the config): restore
/// the channels a persistent store holds, then start the background eviction sweep and,
/// with a persistent store, the loop that follows other replicas' changes.
pub async fn build(config: Config) -> Result<Origin, OriginError> {
    let origin = Origin::open(config, clock::system()).await?;
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
        let segment_cache_bytes = config.segment_cache_bytes;
        let keys = Arc::new(Keys::new(secret));
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
                keys: keys.clone(),
                key_source: RwLock::new(Arc::new(speke::ProviderOrDerived::new(Arc::new(
                    drm::DerivedKeys::new(keys),
                )))),
                index,
                segments_served: std::sync::OnceLock::new(),
                aes: work::Once::new("aes", segment_cache_bytes, bytes::Bytes::len),
                remux: work::Once::new("cmaf", 0, |_| 0),
                harvest: Default::default(),
            }),
        }
    }

    /// An origin with the stores its configuration names and an explicit clock, with the
    /// channels of a persistent store restored (no background tasks: [`build`] adds them).
    pub async fn open(config: Config, clock: Arc<dyn Clock>) -> Result<Self, OriginError> {
        config
            .aws
            .keys()
            .map_err(|e| OriginError::bad("aws_api_credentials", e))?;
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

    /// Where DRM-encrypted endpoints (`sample_aes`, `aes_ctr`) get their keys from now on
    /// (a SPEKE v2 client, say); the default derives them from the origin's secret.
    pub fn set_key_source(&self, source: Arc<dyn drm::KeySource>) {
        *self
            .shared
            .key_source
            .write()
            .unwrap_or_else(|e| e.into_inner()) = source;
    }

    /// A channel's current view (no passwords).
    pub fn channel(&self, id: &str) -> Result<ChannelView, OriginError> {
        self.shared.channel_view(id)
    }

    /// Evict what left every channel's window now (also runs every 10 s after [`build`]).
    pub async fn sweep(&self) {
        self.shared.sweep().await
    }

    /// Write what this replica holds and has not persisted yet: each channel's timeline
    /// index, where it changed since the last write (an ingest DELETE, or a write that
    /// failed and waits for the next ingest to retry). With the memory store there is
    /// nothing to write. Run on the way out, after the requests in flight have finished.
    pub async fn flush(&self) {
        let channels: Vec<_> = self
            .shared
            .channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for ch in channels {
            if let Err(e) = self.shared.save_index(&ch).await {
                tracing::error!(channel = %ch.id, error = %e, "could not persist the channel's index on the way out");
            }
        }
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
            .route("/keys/{channel}/{endpoint}/{kid}", get(playback::key))
            .route(
                "/keys/{channel}/{endpoint}/clearkey",
                axum::routing::post(clearkey::licence),
            )
            .route("/time", get(dash::serve::time));
        // The MediaPackage door (SigV4; keys were checked by `open`).
        let verifier = web::sigv4::Verifier::new(
            s.config.aws.keys().unwrap_or_default(),
            "mediapackage",
            s.config.aws.aws_api_region.clone(),
            "ForbiddenException",
        );
        Router::new()
            .merge(control)
            .merge(public)
            .merge(mediapackage::routes(Arc::new(verifier)))
            .with_state(s)
            .merge(web::common_routes())
            .merge(web::docs_routes(Self::openapi()))
            .layer(web::cors())
    }

    /// This origin in the shared shell: its router, and its channel indexes written once
    /// the requests in flight (ingest PUTs included) have finished (mount it in a
    /// [`web::Process`]).
    pub fn shell(&self) -> web::Service {
        let this = self.clone();
        web::Service::new("origin", self.router())
            .on_flush(async move { this.flush().await })
            .banner("channels: {base}/api/v1/channels  API docs: {base}/api/docs")
    }
}

/// `lineup origin` in the shell every service shares (see [`Origin::shell`]).
impl web::ServiceConfig for OriginArgs {
    const NAME: &'static str = "origin";

    fn listen(&self) -> String {
        self.listen.to_string()
    }

    fn api_token(&self) -> Option<&str> {
        self.api_token.as_deref()
    }

    async fn build(
        mut self,
        local: std::net::SocketAddr,
    ) -> std::result::Result<web::Service, web::BoxError> {
        self.listen = local;
        Ok(build(self).await?.shell())
    }
}
