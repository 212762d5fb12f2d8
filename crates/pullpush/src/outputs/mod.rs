//! Output plugins: where a fetcher pushes playlists and segments.
//!
//! Each plugin is one folder (`mod.rs` with its payload config and the [`Output`] impl, the
//! same small shape as vector's sinks) and one line in [`OutputRegistry::with_builtin`].
//! A plugin receives destination-relative paths (`channel.m3u8`, `channel_800000_12.ts`, ...)
//! chosen by the fetcher; it decides only where they land (folder, bucket prefix, ingest
//! URL folder) and how (atomic file write, S3 put, HTTP PUT with Digest auth).

pub mod dir;
pub mod mediapackage;
pub mod s3;
pub mod void;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use crate::error::{Error, Result};

/// The body of one object: whole bytes (playlists) or a stream (segments, straight from
/// the source response).
pub enum Body {
    Bytes(Bytes),
    Stream(BoxStream<'static, std::io::Result<Bytes>>),
}

impl Body {
    /// Collect the whole body (for outputs that must hold it to retry or fan out).
    pub async fn collect(self) -> std::io::Result<Bytes> {
        match self {
            Body::Bytes(b) => Ok(b),
            Body::Stream(mut s) => {
                let mut out = bytes::BytesMut::new();
                while let Some(chunk) = s.next().await {
                    out.extend_from_slice(&chunk?);
                }
                Ok(out.freeze())
            }
        }
    }

    /// The body as a stream of chunks.
    pub fn into_stream(self) -> BoxStream<'static, std::io::Result<Bytes>> {
        match self {
            Body::Bytes(b) => futures::stream::once(async move { Ok(b) }).boxed(),
            Body::Stream(s) => s,
        }
    }
}

/// Health of an output as it sees itself (queued work, last error), shown in the fetcher list.
#[derive(Debug, Clone, Default)]
pub struct OutputStatus {
    /// The most recent delivery error still unresolved, if any.
    pub last_error: Option<String>,
    /// Items waiting in the output's own queues (queueing outputs only).
    pub queued: usize,
}

/// A destination for playlists and segments.
///
/// Contract: `put` returns `Ok` once the object is stored, or — for queueing outputs such as
/// `mediapackage` — once it is accepted into an ordered per-destination queue that delivers
/// every object in the order it was put (so a playlist is never delivered before the
/// segments it lists). `delete` of a missing object is `Ok`.
pub trait Output: Send + Sync {
    fn put<'a>(
        &'a self,
        path: &'a str,
        content_type: &'a str,
        body: Body,
        len: Option<u64>,
    ) -> BoxFuture<'a, Result<u64>>;
    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<()>>;
    /// A canonical description of where this output writes; two fetchers with the same
    /// description conflict (409).
    fn describe_destination(&self) -> String;
    /// Base name of destination files (`channel` by default: `channel.m3u8`, ...).
    fn stem(&self) -> String {
        "channel".to_string()
    }
    fn status(&self) -> OutputStatus {
        OutputStatus::default()
    }
    /// Resolves once everything `put` accepted has been delivered (queueing outputs); the
    /// fetcher awaits it when it stops. Outputs that store within `put` need nothing here.
    fn flush(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Runs one write to a destination and records how long it took when it succeeded, as
/// `pullpush_push_seconds{output}` (each built-in output wraps the place where bytes reach
/// its destination: a file, an S3 object, an ingest PUT).
pub(crate) async fn timed_push<T, E>(
    output: &'static str,
    write: impl std::future::Future<Output = std::result::Result<T, E>>,
) -> std::result::Result<T, E> {
    let started = std::time::Instant::now();
    let result = write.await;
    if result.is_ok() {
        metrics::histogram!("pullpush_push_seconds", "output" => output)
            .record(started.elapsed().as_secs_f64());
    }
    result
}

/// Builds an output from the fetcher's `payload`. Errors name the field relative to the
/// payload (e.g. `ingestUrls[0].url`); the registry prefixes `payload.`.
pub type OutputFactory =
    Arc<dyn Fn(serde_json::Value) -> Result<Arc<dyn Output>> + Send + Sync + 'static>;

/// What the outputs that touch the server's own resources may touch.
#[derive(Debug, Clone, Default)]
pub struct OutputPolicy {
    /// Every `dir` output writes inside this folder.
    pub dir_root: std::path::PathBuf,
    /// Buckets an `s3` output may write with the server's own credentials.
    pub s3_allowed_buckets: Vec<String>,
}

/// Output plugins by name.
#[derive(Clone, Default)]
pub struct OutputRegistry {
    factories: BTreeMap<String, OutputFactory>,
}

impl OutputRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// `mediapackage`, `s3`, `dir`, `void`, with `dir` and `s3` confined by `policy`.
    pub fn with_builtin(policy: &OutputPolicy) -> Self {
        let mut r = Self::new();
        r.register("mediapackage", mediapackage::factory);
        let buckets = policy.s3_allowed_buckets.clone();
        r.register("s3", move |p| s3::factory(p, &buckets));
        let root = policy.dir_root.clone();
        r.register("dir", move |p| dir::factory(p, &root));
        r.register("void", void::factory);
        r
    }

    pub fn register<F>(&mut self, name: &str, factory: F)
    where
        F: Fn(serde_json::Value) -> Result<Arc<dyn Output>> + Send + Sync + 'static,
    {
        self.factories.insert(name.to_string(), Arc::new(factory));
    }

    pub fn names(&self) -> Vec<String> {
        self.factories.keys().cloned().collect()
    }

    /// Build output `name` from `payload`. Unknown name: a field error on `output` listing the
    /// known outputs in `detail`.
    pub fn build(&self, name: &str, payload: serde_json::Value) -> Result<Arc<dyn Output>> {
        let Some(factory) = self.factories.get(name) else {
            return Err(Error::Field {
                field: "output".into(),
                message: format!(
                    "unknown output {name:?}; known outputs: {}",
                    self.names().join(", ")
                ),
                detail: Some(serde_json::json!({ "known_outputs": self.names() })),
            });
        };
        factory(payload).map_err(|e| e.under("payload"))
    }
}

/// Parse a plugin payload, naming the failing field (relative to the payload).
pub fn parse_payload<T: serde::de::DeserializeOwned>(payload: serde_json::Value) -> Result<T> {
    let payload = if payload.is_null() {
        serde_json::json!({})
    } else {
        payload
    };
    let text = payload.to_string();
    web::parse_json(text.as_bytes()).map_err(|e| Error::field(e.field.unwrap_or_default(), e.error))
}
