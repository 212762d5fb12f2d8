//! `dir`: a local folder. Every write goes to a temporary file in the same folder and is
//! renamed into place, so a reader never sees a partial playlist or segment.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::io::AsyncWriteExt;

use super::{Body, Output, parse_payload};
use crate::error::{Error, Result};

/// Payload: `{ "path": "/var/www/live/channel1" }`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirConfig {
    /// The folder (created if missing).
    pub path: PathBuf,
}

pub fn factory(payload: serde_json::Value) -> Result<Arc<dyn Output>> {
    let cfg: DirConfig = parse_payload(payload)?;
    if cfg.path.as_os_str().is_empty() {
        return Err(Error::field("path", "must not be empty"));
    }
    Ok(Arc::new(DirOutput::new(cfg.path)))
}

pub struct DirOutput {
    root: PathBuf,
}

impl DirOutput {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Join a destination-relative path, refusing anything that would leave the folder.
    fn full(&self, path: &str) -> Result<PathBuf> {
        let rel = Path::new(path);
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(Error::Output(format!("refusing path {path:?}")));
        }
        Ok(self.root.join(rel))
    }
}

impl Output for DirOutput {
    fn put<'a>(
        &'a self,
        path: &'a str,
        _content_type: &'a str,
        body: Body,
        _len: Option<u64>,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let target = self.full(path)?;
            let folder = target.parent().unwrap_or(&self.root).to_path_buf();
            tokio::fs::create_dir_all(&folder)
                .await
                .map_err(|e| Error::Output(format!("{}: {e}", folder.display())))?;
            let tmp = folder.join(format!(
                ".{}.tmp-{}",
                path.replace('/', "_"),
                uuid::Uuid::new_v4()
            ));
            let result = async {
                let mut file = tokio::fs::File::create(&tmp)
                    .await
                    .map_err(|e| Error::Output(format!("{}: {e}", tmp.display())))?;
                let mut stream = body.into_stream();
                let mut n = 0u64;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| Error::Source(e.to_string()))?;
                    n += chunk.len() as u64;
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| Error::Output(format!("{}: {e}", tmp.display())))?;
                }
                file.flush()
                    .await
                    .map_err(|e| Error::Output(e.to_string()))?;
                drop(file);
                tokio::fs::rename(&tmp, &target)
                    .await
                    .map_err(|e| Error::Output(format!("{}: {e}", target.display())))?;
                Ok(n)
            }
            .await;
            if result.is_err() {
                let _ = tokio::fs::remove_file(&tmp).await;
            }
            result
        })
    }

    fn delete<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let target = self.full(path)?;
            match tokio::fs::remove_file(&target).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::Output(format!("{}: {e}", target.display()))),
            }
        })
    }

    fn describe_destination(&self) -> String {
        let p = std::path::absolute(&self.root).unwrap_or_else(|_| self.root.clone());
        format!("dir:{}", p.display())
    }
}
