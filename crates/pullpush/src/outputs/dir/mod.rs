//! `dir`: a local folder. Every write goes to a temporary file in the same folder and is
//! renamed into place, so a reader never sees a partial playlist or segment.
//!
//! Confined: the folder is always inside the service's `dir` root (`--dir-root`, default
//! the data folder). A relative `path` is taken under the root; an absolute one must lie
//! inside it; `..` is refused. A caller of the API can never make the server write
//! elsewhere.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::io::AsyncWriteExt;

use super::{Body, Output, parse_payload};
use crate::error::{Error, Result};

/// Payload: `{ "path": "live/channel1" }` (relative to the dir root, or absolute inside it).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirConfig {
    /// The folder (created if missing).
    pub path: PathBuf,
}

/// Build a `dir` output confined to `root`.
pub fn factory(payload: serde_json::Value, root: &Path) -> Result<Arc<dyn Output>> {
    let cfg: DirConfig = parse_payload(payload)?;
    if cfg.path.as_os_str().is_empty() {
        return Err(Error::field("path", "must not be empty"));
    }
    Ok(Arc::new(DirOutput::new(confine(&cfg.path, root)?)))
}

/// `path` inside `root`, or a field error on `path` saying why not. Lexical (no file system
/// access): `..` anywhere is refused, an absolute path must start with the root.
pub fn confine(path: &Path, root: &Path) -> Result<PathBuf> {
    let root_abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let rel: PathBuf = if path.is_absolute() {
        match path.strip_prefix(&root_abs) {
            Ok(rel) => rel.to_path_buf(),
            Err(_) => {
                return Err(Error::field(
                    "path",
                    format!(
                        "{} is outside the folder this server writes to ({}); give a path \
                         relative to it",
                        path.display(),
                        root_abs.display()
                    ),
                ));
            }
        }
    } else {
        path.to_path_buf()
    };
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(Error::field(
            "path",
            "must not contain '..' (it must stay inside the server's dir root)",
        ));
    }
    Ok(root_abs.join(rel))
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
        Box::pin(super::timed_push("dir", async move {
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
        }))
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
