//! The origin's configuration ([`OriginArgs`] = [`Config`], flattened into `lineup origin`)
//! and the stores it names ([`stores`]: segment store plus, for `disk`/`s3`, the channel
//! index kept beside it).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::error::OriginError;
use crate::persist;
use crate::store::{self, Store};

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
/// `Debug` and `Serialize` never show the API token, the secret or the S3 secret key.
#[derive(Clone, clap::Args, Serialize, Deserialize)]
pub struct OriginArgs {
    /// Address to listen on.
    #[arg(long, env = "LINEUP_ORIGIN_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// Public base URL of this service (including any path prefix), used in the ingest and
    /// playback URLs the API returns. Default: `http://<listen>`.
    #[arg(long, env = "LINEUP_ORIGIN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Bytes of AES-128-encrypted segments kept ready (each segment is encrypted once per
    /// endpoint, not per request, while it is kept).
    #[arg(long, env = "LINEUP_ORIGIN_SEGMENT_CACHE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub segment_cache_bytes: usize,
    /// Bytes of segments received whose playlist entry has not arrived yet, per channel.
    #[arg(long, env = "LINEUP_ORIGIN_PENDING_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub pending_bytes: usize,
    /// Largest accepted ingest body, bytes.
    #[arg(long, env = "LINEUP_ORIGIN_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
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
    #[serde(skip_serializing)]
    pub s3_secret_access_key: Option<String>,
    /// Deadline of one call to the S3 store (connect, request, retries), milliseconds. A
    /// store that does not answer in time makes that request answer 503, not hang.
    #[arg(long, env = "LINEUP_ORIGIN_STORE_TIMEOUT_MS", default_value_t = 5000)]
    pub store_timeout_ms: u64,
    /// Bytes of the newest segments kept in memory in front of a `disk`/`s3` store, so the
    /// live window keeps playing while the store is unreachable.
    #[arg(long, env = "LINEUP_ORIGIN_STORE_CACHE_BYTES", default_value_t = 128 * 1024 * 1024)]
    pub store_cache_bytes: usize,
    /// How often a replica re-lists the store for channels and indexes other replicas
    /// wrote (`--store disk` or `s3`), milliseconds.
    #[arg(long, env = "LINEUP_ORIGIN_FOLLOW_INTERVAL_MS", default_value_t = 1000)]
    pub follow_interval_ms: u64,
    /// Bearer token required on the control API when set.
    #[arg(long, env = "LINEUP_ORIGIN_API_TOKEN", hide_env_values = true)]
    #[serde(skip_serializing)]
    pub api_token: Option<String>,
    /// Secret for Digest nonces, AES keys and key tokens (any length). Set the same value on
    /// every replica; default: random per process (keys change on restart).
    #[arg(long, env = "LINEUP_ORIGIN_SECRET", hide_env_values = true)]
    #[serde(skip_serializing)]
    pub secret: Option<String>,
    /// Folder MediaPackage `CreateHarvestJob` writes its VOD packages into, as
    /// `<folder>/<BucketName>/<ManifestKey>`.
    #[arg(long, env = "LINEUP_ORIGIN_HARVEST_DIR")]
    pub harvest_dir: Option<PathBuf>,
    /// `CreateHarvestJob` writes into bucket `BucketName` of the S3-compatible store at
    /// `--s3-endpoint` (with `--s3-region` and the `--s3-*` credentials).
    #[arg(long, env = "LINEUP_ORIGIN_HARVEST_S3")]
    #[serde(default)]
    pub harvest_s3: bool,
    /// The access keys (and region) the MediaPackage API (`/channels`,
    /// `/origin_endpoints`, `/tags`) accepts SigV4 signatures from.
    #[command(flatten)]
    #[serde(flatten)]
    pub aws: web::sigv4::SigV4Args,
}

/// The origin's configuration.
pub type Config = OriginArgs;

impl std::fmt::Debug for OriginArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("OriginArgs")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("store", &self.store)
            .field("store_url", &self.store_url)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field("s3_secret_access_key", &masked(&self.s3_secret_access_key))
            .field("follow_interval_ms", &self.follow_interval_ms)
            .field("api_token", &masked(&self.api_token))
            .field("secret", &masked(&self.secret))
            .field("harvest_dir", &self.harvest_dir)
            .field("harvest_s3", &self.harvest_s3)
            .field("aws", &self.aws)
            .finish_non_exhaustive()
    }
}

impl Default for OriginArgs {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            public_url: None,
            max_body_bytes: 64 * 1024 * 1024,
            segment_cache_bytes: 64 * 1024 * 1024,
            pending_bytes: 256 * 1024 * 1024,
            store: StoreKind::Memory,
            store_path: None,
            store_url: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            follow_interval_ms: 1000,
            store_timeout_ms: 5000,
            store_cache_bytes: 128 * 1024 * 1024,
            api_token: None,
            secret: None,
            harvest_dir: None,
            harvest_s3: false,
            aws: web::sigv4::SigV4Args {
                aws_api_region: "us-east-1".into(),
                ..Default::default()
            },
        }
    }
}

/// A segment store and, when it persists, the channel index kept beside it.
pub type Stores = (Arc<dyn Store>, Option<Arc<persist::Index>>);

/// An S3 client for `bucket` on the configured endpoint, region and key pair (the segment
/// store and harvest jobs both write through one).
pub fn s3_builder(config: &Config, bucket: &str) -> object_store::aws::AmazonS3Builder {
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
    b
}

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
            let mut b = s3_builder(config, bucket);
            // A hung or gone store must fail fast (the default retries for minutes).
            let deadline = std::time::Duration::from_millis(config.store_timeout_ms.max(100));
            b = b
                .with_client_options(
                    object_store::ClientOptions::new()
                        .with_allow_http(
                            config
                                .s3_endpoint
                                .as_deref()
                                .is_some_and(|e| e.starts_with("http://")),
                        )
                        .with_timeout(deadline / 2)
                        .with_connect_timeout(deadline / 4),
                )
                .with_retry(object_store::RetryConfig {
                    max_retries: 1,
                    retry_timeout: deadline,
                    ..Default::default()
                });
            let s3: Arc<dyn object_store::ObjectStore> =
                Arc::new(b.build().map_err(|e| {
                    OriginError::bad("store_url", format!("--store-url {url:?}: {e}"))
                })?);
            let segments = store::ObjectStoreBackend::new(s3.clone(), prefix.clone());
            Ok((
                Arc::new(store::Cached::new(
                    Arc::new(segments),
                    config.store_cache_bytes,
                    deadline,
                )),
                Some(Arc::new(persist::Index::new(s3, prefix))),
            ))
        }
    }
}
