//! Harvest jobs (MediaPackage's `CreateHarvestJob`): a past time window of an HLS or CMAF
//! endpoint exported as a VOD HLS package (master, media and I-frame playlists ending in
//! `EXT-X-ENDLIST`, with the segments and init segments they name) into a bucket of an
//! S3-compatible store (`--harvest-s3`: the `--s3-*` endpoint and credentials) or a local
//! folder (`--harvest-dir`: `<dir>/<bucket>/<key>`).
//!
//! The package is what the endpoint's time-shifted playback (`?start=&end=`) answers, read
//! through the same handler players reach ([`crate::playback::out`]), so a harvest holds
//! byte for byte what a viewer of that window gets; URIs are rewritten to paths relative to
//! the manifest, without the query. A job is `IN_PROGRESS` until every object is written,
//! then `SUCCEEDED`, or `FAILED` at the first object that could not be read or written
//! (an unknown bucket, say). Jobs are kept in this process's memory (not shared by
//! replicas, not kept across restarts).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;

use crate::config::Config;
use crate::error::OriginError;
use crate::model::{Encryption, Packaging, validate_id};
use crate::registry::Shared;

type Result<T> = std::result::Result<T, OriginError>;

/// Where a job is (MediaPackage's `Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HarvestStatus {
    InProgress,
    Succeeded,
    Failed,
}

impl HarvestStatus {
    /// MediaPackage's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            HarvestStatus::InProgress => "IN_PROGRESS",
            HarvestStatus::Succeeded => "SUCCEEDED",
            HarvestStatus::Failed => "FAILED",
        }
    }
}

/// What a job is asked to do.
#[derive(Debug, Clone)]
pub struct HarvestRequest {
    pub id: String,
    pub origin_endpoint_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub bucket_name: String,
    pub manifest_key: String,
    /// Required by MediaPackage; accepted and unused (lineup writes with its own
    /// credentials).
    pub role_arn: String,
}

/// A job and where it is.
#[derive(Debug, Clone)]
pub struct HarvestJob {
    pub request: HarvestRequest,
    pub channel_id: String,
    pub created_at: DateTime<Utc>,
    pub status: HarvestStatus,
    /// Why it failed.
    pub error: Option<String>,
}

/// The jobs this process ran, by id.
#[derive(Default)]
pub(crate) struct HarvestJobs(Mutex<BTreeMap<String, HarvestJob>>);

impl HarvestJobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, HarvestJob>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finish(&self, id: &str, outcome: std::result::Result<usize, String>) {
        if let Some(job) = self.lock().get_mut(id) {
            match outcome {
                Ok(objects) => {
                    tracing::info!(job = %id, objects, "harvest job succeeded");
                    job.status = HarvestStatus::Succeeded;
                }
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "harvest job failed");
                    job.status = HarvestStatus::Failed;
                    job.error = Some(e);
                }
            }
        }
    }
}

/// S3's bucket naming rules (3 to 63 of `a-z 0-9 . -`, a letter or digit at each end).
fn valid_bucket(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

fn check_key(key: &str) -> Result<()> {
    let field = "s3_destination.manifest_key";
    if !key.ends_with(".m3u8") {
        return Err(OriginError::bad(
            field,
            "names the master playlist: ends in .m3u8",
        ));
    }
    if key.starts_with('/')
        || key
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err(OriginError::bad(
            field,
            "a relative key without empty, \".\" or \"..\" parts",
        ));
    }
    Ok(())
}

/// The store a job writes into: bucket `bucket` of the harvest S3 store, or the folder
/// `<harvest_dir>/<bucket>`.
fn destination(config: &Config, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
    let field = "s3_destination.bucket_name";
    if let Some(dir) = &config.harvest_dir {
        let path = dir.join(bucket);
        std::fs::create_dir_all(&path)
            .map_err(|e| OriginError::Store(format!("{}: {e}", path.display())))?;
        let local = object_store::local::LocalFileSystem::new_with_prefix(&path)
            .map_err(|e| OriginError::Store(format!("{}: {e}", path.display())))?;
        return Ok(Arc::new(local));
    }
    if !config.harvest_s3 {
        return Err(OriginError::bad(
            field,
            "this origin has no harvest destination (start it with --harvest-s3 or \
             --harvest-dir)",
        ));
    }
    let s3 = crate::config::s3_builder(config, bucket)
        .build()
        .map_err(|e| OriginError::bad(field, e.to_string()))?;
    Ok(Arc::new(s3))
}

impl Shared {
    /// Check a job, record it `IN_PROGRESS` and start it.
    pub(crate) fn create_harvest_job(self: &Arc<Self>, req: HarvestRequest) -> Result<HarvestJob> {
        validate_id(&req.id, "id")?;
        let (channel, ep) = self
            .all_endpoints()
            .into_iter()
            .find(|(_, e)| e.id == req.origin_endpoint_id)
            .ok_or_else(|| {
                OriginError::not_found(format!("origin endpoint {:?}", req.origin_endpoint_id))
            })?;
        let field = "origin_endpoint_id";
        if ep.packaging == Packaging::Dash {
            return Err(OriginError::bad(
                field,
                "harvesting a DASH endpoint is not offered: harvest an HLS or CMAF endpoint \
                 of the channel",
            ));
        }
        if ep.encryption != Encryption::None {
            return Err(OriginError::bad(
                field,
                "harvesting an encrypted endpoint is not offered: harvest a clear endpoint \
                 of the channel",
            ));
        }
        let now = self.clock.now();
        if req.end <= req.start {
            return Err(OriginError::bad("end_time", "must be after StartTime"));
        }
        if req.end > now {
            return Err(OriginError::bad("end_time", "must be in the past"));
        }
        let kept = chrono::Duration::seconds(ep.startover_window_seconds as i64);
        if req.start < now - kept {
            return Err(OriginError::bad(
                "start_time",
                format!(
                    "must be inside the endpoint's start-over window ({} s back from now)",
                    ep.startover_window_seconds
                ),
            ));
        }
        if !valid_bucket(&req.bucket_name) {
            return Err(OriginError::bad(
                "s3_destination.bucket_name",
                "3 to 63 characters of a-z, 0-9, '.' and '-'",
            ));
        }
        check_key(&req.manifest_key)?;
        let dest = destination(&self.config, &req.bucket_name)?;
        let job = HarvestJob {
            request: req.clone(),
            channel_id: channel.clone(),
            created_at: now,
            status: HarvestStatus::InProgress,
            error: None,
        };
        {
            let mut jobs = self.harvest.lock();
            if jobs.contains_key(&req.id) {
                return Err(OriginError::Conflict(format!(
                    "harvest job {:?} exists",
                    req.id
                )));
            }
            jobs.insert(req.id.clone(), job.clone());
        }
        let s = self.clone();
        tokio::spawn(async move {
            let outcome = export(&s, &channel, &req, dest).await;
            s.harvest.finish(&req.id, outcome);
        });
        Ok(job)
    }

    pub(crate) fn harvest_job(&self, id: &str) -> Result<HarvestJob> {
        self.harvest
            .lock()
            .get(id)
            .cloned()
            .ok_or_else(|| OriginError::not_found(format!("harvest job {id:?}")))
    }

    /// Every job, by id.
    pub(crate) fn harvest_jobs(&self) -> Vec<HarvestJob> {
        self.harvest.lock().values().cloned().collect()
    }
}

/// GET what a player of `path` (relative to the origin's root, with its query) gets.
async fn read(s: &Arc<Shared>, path: &str) -> std::result::Result<Bytes, String> {
    let req = Request::get(path)
        .body(Body::empty())
        .map_err(|e| format!("{path}: {e}"))?;
    let resp = crate::playback::out(State(s.clone()), req).await;
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    if status != StatusCode::OK {
        return Err(format!(
            "{path}: {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(body)
}

/// A playlist with every URI (URI lines and `URI="..."` attributes) resolved against
/// `base` and given its name in the package: the path under the endpoint, no query.
/// Returns the text and the (origin path with query, package name) pairs it named;
/// segments marked `EXT-X-GAP` are named but not listed (there is nothing to copy).
fn rewrite(
    text: &str,
    base: &url::Url,
    endpoint_root: &str,
) -> std::result::Result<(String, Vec<(String, String)>), String> {
    let mut out = String::with_capacity(text.len());
    let mut named = Vec::new();
    let mut gap = false;
    let mut local = |uri: &str, copy: bool| -> std::result::Result<String, String> {
        let abs = base.join(uri).map_err(|e| format!("{uri}: {e}"))?;
        let name = abs
            .path()
            .strip_prefix(endpoint_root)
            .ok_or_else(|| format!("{uri} is outside the endpoint"))?
            .to_string();
        if copy {
            let with_query = match abs.query() {
                Some(q) => format!("{}?{q}", abs.path()),
                None => abs.path().to_string(),
            };
            named.push((with_query, name.clone()));
        }
        Ok(name)
    };
    for line in text.lines() {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if !t.starts_with('#') {
            let name = local(t, !gap)?;
            out.push_str(&name);
            gap = false;
        } else if let Some(at) = t.find("URI=\"") {
            let rest = &t[at + 5..];
            let end = rest
                .find('"')
                .ok_or_else(|| format!("unclosed URI in {t}"))?;
            let name = local(&rest[..end], true)?;
            out.push_str(&t[..at + 5]);
            out.push_str(&name);
            out.push_str(&rest[end..]);
        } else {
            gap |= t == "#EXT-X-GAP";
            out.push_str(t);
        }
        out.push('\n');
    }
    Ok((out, named))
}

/// Copy the window: master, then each playlist it names and what they name. The number
/// of objects written.
async fn export(
    s: &Arc<Shared>,
    channel: &str,
    req: &HarvestRequest,
    dest: Arc<dyn ObjectStore>,
) -> std::result::Result<usize, String> {
    let root = format!("/out/{channel}/{}/", req.origin_endpoint_id);
    let query = format!(
        "start={}&end={}",
        req.start.timestamp_millis() as f64 / 1000.0,
        req.end.timestamp_millis() as f64 / 1000.0
    );
    let dir = match req.manifest_key.rsplit_once('/') {
        Some((d, _)) => format!("{d}/"),
        None => String::new(),
    };
    let put = |name: String, bytes: Bytes| {
        let dest = dest.clone();
        let key = ObjectPath::from(format!("{dir}{name}"));
        async move {
            dest.put(&key, bytes.into())
                .await
                .map(|_| ())
                .map_err(|e| format!("writing {key}: {e}"))
        }
    };
    let base = url::Url::parse("http://origin/").map_err(|e| e.to_string())?;
    let master_path = format!("{root}index.m3u8?{query}");
    let master_url = base.join(&master_path).map_err(|e| e.to_string())?;
    let master = read(s, &master_path).await?;
    let (master_text, playlists) = rewrite(&String::from_utf8_lossy(&master), &master_url, &root)?;
    let mut media: HashMap<String, String> = HashMap::new();
    for (path, name) in &playlists {
        let url = base.join(path).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&read(s, path).await?).into_owned();
        if !text.contains("#EXT-X-ENDLIST") {
            return Err(format!("{path} is not a closed (VOD) playlist"));
        }
        let (text, files) = rewrite(&text, &url, &root)?;
        media.extend(files);
        put(name.clone(), Bytes::from(text)).await?;
    }
    let written = futures::stream::iter(media)
        .map(|(path, name)| async move {
            let bytes = read(s, &path).await?;
            put(name, bytes).await
        })
        .buffer_unordered(4)
        .try_fold(0usize, |n, ()| async move { Ok(n + 1) })
        .await?;
    // The master last: a package whose manifest exists is complete.
    let master_name = req.manifest_key.rsplit('/').next().unwrap_or_default();
    put(master_name.to_string(), Bytes::from(master_text)).await?;
    Ok(written + playlists.len() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_become_package_paths_and_gaps_are_not_copied() {
        let base = url::Url::parse("http://origin/out/ch/ep/channel_1.m3u8?start=1&end=2").unwrap();
        let text = "#EXTM3U\n#EXT-X-MAP:URI=\"channel_1/init_a.mp4\"\n#EXTINF:2,\nchannel_1/7.m4s\n\
                    #EXT-X-GAP\n#EXTINF:2,\nchannel_1/8.m4s\n#EXT-X-ENDLIST\n";
        let (out, named) = rewrite(text, &base, "/out/ch/ep/").unwrap();
        assert!(
            out.contains("#EXT-X-MAP:URI=\"channel_1/init_a.mp4\"\n"),
            "{out}"
        );
        assert!(out.contains("\nchannel_1/8.m4s\n"), "{out}");
        assert_eq!(
            named,
            [
                (
                    "/out/ch/ep/channel_1/init_a.mp4".to_string(),
                    "channel_1/init_a.mp4".to_string()
                ),
                (
                    "/out/ch/ep/channel_1/7.m4s".to_string(),
                    "channel_1/7.m4s".to_string()
                ),
            ]
        );
        let master = url::Url::parse("http://origin/out/ch/ep/index.m3u8?start=1").unwrap();
        let (out, named) = rewrite(
            "#EXTM3U\nchannel_1.m3u8?start=1&end=2\n",
            &master,
            "/out/ch/ep/",
        )
        .unwrap();
        assert_eq!(out, "#EXTM3U\nchannel_1.m3u8\n");
        assert_eq!(named[0].0, "/out/ch/ep/channel_1.m3u8?start=1&end=2");
        assert!(rewrite("#EXTM3U\n../../x/y.ts\n", &master, "/out/ch/ep/").is_err());
    }

    #[test]
    fn keys_and_buckets_follow_s3_rules() {
        assert!(valid_bucket("vod-archive.1"));
        assert!(!valid_bucket("ab") && !valid_bucket("Upper") && !valid_bucket("-x-"));
        assert!(check_key("catchup/show/index.m3u8").is_ok());
        for bad in ["/abs.m3u8", "a/../b.m3u8", "a//b.m3u8", "index.mpd"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }
}
