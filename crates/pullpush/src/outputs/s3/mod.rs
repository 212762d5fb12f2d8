//! `s3`: any S3-compatible store (AWS, MinIO, moto, ...) through `object_store`.
//!
//! Bodies stream through `object_store::buffered::BufWriter`: an object smaller than 8 MiB
//! is one PUT, a larger one becomes a multipart upload as it streams, so memory per transfer
//! stays bounded. The content type is set on every object.

use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{Attribute, Attributes, ObjectStore};
use tokio::io::AsyncWriteExt;

use super::{Body, Output, parse_payload};
use crate::error::{Error, Result};

/// Payload: `{ "bucket", "prefix"?, "region"?, "endpoint"?, "accessKeyId"?,
/// "secretAccessKey"?, "allowHttp"? }`. Credentials not given are read from the usual
/// `AWS_*` environment variables.
#[derive(Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct S3Config {
    pub bucket: String,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default, alias = "access_key_id")]
    pub access_key_id: Option<String>,
    #[serde(default, alias = "secret_access_key")]
    pub secret_access_key: Option<String>,
    #[serde(default, alias = "allow_http")]
    pub allow_http: Option<bool>,
}

/// Build an `s3` output. A payload without its own `accessKeyId`/`secretAccessKey` would
/// spend the server's credentials (`AWS_*`): that is allowed only for the buckets the
/// operator listed (`allowed_buckets`, `--s3-allowed-bucket`).
impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "***"),
            )
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

pub fn factory(payload: serde_json::Value, allowed_buckets: &[String]) -> Result<Arc<dyn Output>> {
    let cfg: S3Config = parse_payload(payload)?;
    let own_keys = cfg.access_key_id.as_deref().is_some_and(|k| !k.is_empty())
        && cfg
            .secret_access_key
            .as_deref()
            .is_some_and(|k| !k.is_empty());
    let bucket = cfg.bucket.clone();
    let output = S3Output::new(cfg)?;
    if !own_keys && !allowed_buckets.contains(&bucket) {
        return Err(Error::field(
            "bucket",
            format!(
                "bucket {bucket:?} may not be written with the server's credentials; give \
                 accessKeyId and secretAccessKey, or ask the operator to allow it \
                 (--s3-allowed-bucket)"
            ),
        ));
    }
    Ok(Arc::new(output))
}

pub struct S3Output {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    description: String,
}

impl S3Output {
    pub fn new(cfg: S3Config) -> Result<Self> {
        if cfg.bucket.trim().is_empty() {
            return Err(Error::field("bucket", "must not be empty"));
        }
        let mut b = AmazonS3Builder::from_env().with_bucket_name(&cfg.bucket);
        if let Some(r) = &cfg.region {
            b = b.with_region(r);
        }
        if let Some(e) = &cfg.endpoint {
            let u = url::Url::parse(e).map_err(|err| Error::field("endpoint", err.to_string()))?;
            if !matches!(u.scheme(), "http" | "https") {
                return Err(Error::field(
                    "endpoint",
                    "must be an http:// or https:// URL",
                ));
            }
            if u.scheme() == "http" && cfg.allow_http != Some(true) {
                return Err(Error::field(
                    "allowHttp",
                    "an http:// endpoint needs \"allowHttp\": true",
                ));
            }
            b = b.with_endpoint(e);
        }
        if let Some(k) = &cfg.access_key_id {
            b = b.with_access_key_id(k);
        }
        if let Some(s) = &cfg.secret_access_key {
            b = b.with_secret_access_key(s);
        }
        if let Some(h) = cfg.allow_http {
            b = b.with_allow_http(h);
        }
        let store = b.build().map_err(|e| Error::field("", e.to_string()))?;
        let prefix = cfg
            .prefix
            .clone()
            .unwrap_or_default()
            .trim_matches('/')
            .to_string();
        let description = format!(
            "s3:{}/{}/{}",
            cfg.endpoint.as_deref().unwrap_or("aws"),
            cfg.bucket,
            prefix
        );
        Ok(Self {
            store: Arc::new(store),
            prefix,
            description,
        })
    }

    fn key(&self, path: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(path)
        } else {
            Path::from(format!("{}/{}", self.prefix, path))
        }
    }
}

impl Output for S3Output {
    fn put<'a>(
        &'a self,
        path: &'a str,
        content_type: &'a str,
        body: Body,
        _len: Option<u64>,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(super::timed_push("s3", async move {
            let mut attrs = Attributes::new();
            attrs.insert(Attribute::ContentType, content_type.to_string().into());
            let mut w = object_store::buffered::BufWriter::with_capacity(
                self.store.clone(),
                self.key(path),
                8 * 1024 * 1024,
            )
            .with_attributes(attrs);
            let mut s = body.into_stream();
            let mut n = 0u64;
            while let Some(chunk) = s.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = w.abort().await;
                        return Err(Error::Source(e.to_string()));
                    }
                };
                n += chunk.len() as u64;
                if let Err(e) = w.write_all(&chunk).await {
                    let _ = w.abort().await;
                    return Err(Error::Output(e.to_string()));
                }
            }
            w.shutdown()
                .await
                .map_err(|e| Error::Output(e.to_string()))?;
            Ok(n)
        }))
    }

    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match self.store.delete(&self.key(path)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(Error::Output(e.to_string())),
            }
        })
    }

    fn describe_destination(&self) -> String {
        self.description.clone()
    }
}
