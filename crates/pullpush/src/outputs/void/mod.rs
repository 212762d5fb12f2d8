//! `void`: downloads every body completely, counts the bytes and drops them. For load tests:
//! unlike the reference's void output it really downloads, so comparisons are fair.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use futures::future::BoxFuture;

use super::{Body, Output, parse_payload};
use crate::error::{Error, Result};

/// Payload: `{}` (no options).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoidConfig {}

pub fn factory(payload: serde_json::Value) -> Result<Arc<dyn Output>> {
    let _: VoidConfig = parse_payload(payload)?;
    Ok(Arc::new(VoidOutput::new()))
}

#[derive(Default)]
#[allow(clippy::new_without_default)]
pub struct VoidOutput {
    id: uuid::Uuid,
    bytes: AtomicU64,
    objects: AtomicU64,
}

impl VoidOutput {
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
    pub fn objects(&self) -> u64 {
        self.objects.load(Ordering::Relaxed)
    }
}

impl Output for VoidOutput {
    fn put<'a>(
        &'a self,
        _path: &'a str,
        _content_type: &'a str,
        body: Body,
        _len: Option<u64>,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(super::timed_push("void", async move {
            let mut s = body.into_stream();
            let mut n = 0u64;
            while let Some(chunk) = s.next().await {
                n += chunk.map_err(|e| Error::Source(e.to_string()))?.len() as u64;
            }
            self.bytes.fetch_add(n, Ordering::Relaxed);
            self.objects.fetch_add(1, Ordering::Relaxed);
            Ok(n)
        }))
    }

    fn delete<'a>(&'a self, _path: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// Every void output is its own destination (never conflicts).
    fn describe_destination(&self) -> String {
        format!("void:{}", self.id)
    }
}

impl VoidOutput {
    pub fn new() -> Self {
        Self {
            id: uuid::Uuid::new_v4(),
            ..Default::default()
        }
    }
}
