//! Ad conditioning: MediaTailor's transcode step. A creative that ad servers send as a
//! progressive MP4 (or any other file ffmpeg reads) is transcoded, in the background, into
//! HLS renditions that splice cleanly into a given content: one per content variant with
//! the same codec (profile and level), resolution, frame rate and bitrate, the same audio
//! codec, sample rate, channels and demuxed language renditions, the content's container
//! (TS, or fMP4 with its own init segment) and segments of the content's target duration,
//! each starting on a keyframe.
//!
//! # The API the break policy uses
//! ```text
//! let profile: Arc<ContentProfile> = profiles.get(&http, content_master_url).await?;   // async, cached
//! let url = vast_ad.mezzanine()?.url;                // the best non-HLS media file (crate::vast)
//! match conditioner.request(url, &profile) {         // never blocks; starts a job once
//!     Readiness::Ready(ad) => /* splice ad.variant(i) / ad.audio(k) */,
//!     Readiness::Pending => /* leave the ad out of this break: the next one or slate */,
//!     Readiness::Failed(why) => /* drop it: VAST error 405 (crate::vast::ErrorCode) */,
//!     Readiness::Absent => unreachable!("request never answers Absent"),
//! }
//! conditioner.lookup(url, &profile)                  // the same answer without starting anything
//! ```
//! [`Conditioner::request`] and [`Conditioner::lookup`] take a mutex for a hash-map look-up
//! and return: no I/O, no await, so a pure policy can call them (or be handed their
//! answers). A [`ConditionedAd`] lists, per rendition, absolute segment URLs (and the init
//! segment's for fMP4) under [`ConditionConfig::public_url`], which
//! [`Conditioner::router`] serves (`GET /v1/conditioned/{key}/{rendition}/{file}`), or
//! which a CDN in front of the shared store serves.
//!
//! # Flow and invariants
//! ```text
//! request(url, profile) -> key = digest(url, profile.key())
//!   ready in the local cache?  -> Ready (a cache hit)
//!   a job pending?             -> Pending          failed lately? -> Failed (retried later)
//!   else: Pending, and one task:
//!     [shared store] ad.json there? copy it -> Ready     lease held by another replica? poll
//!     wait for a job slot (ConditionConfig::jobs, default 1)
//!     download (bounded bytes/time) -> ffprobe -> ffmpeg (nice, deadline) -> check -> commit
//!     [shared store] publish files then ad.json; release the lease; evict beyond the bound
//! ```
//! - **Each ad is made at most once** per (creative URL, content profile): in a process,
//!   the job map admits one job per key however many viewers ask at once; across replicas
//!   sharing a store, a create-if-absent lease object (see [`shared`]).
//! - **A 2-core machine keeps serving**: one ffmpeg at a time by default, under `nice`
//!   (10), with `-threads` settable; queued jobs are bounded ([`ConditionConfig::queue`],
//!   beyond it a request answers `Failed` and is retried at a later break).
//! - **Bounded**: every ffmpeg/ffprobe run has a deadline and bounded output; downloads a
//!   byte limit and a deadline; the cache a byte bound with least-recently-used eviction
//!   ([`cache`]); a failed job's files are removed, and a crash's at the next start.
//! - **Survives restarts**: the cache folder is read back at start; with a shared store,
//!   another replica's work is copied instead of redone.
//! - Failures are remembered per key for [`ConditionConfig::retry_after`] (a mezzanine
//!   ffmpeg cannot read: ten times longer), so a broken creative costs one job per period,
//!   not one per viewer.
//!
//! Metrics: `ssai_condition_jobs_total{result}`, `ssai_condition_seconds`,
//! `ssai_condition_pending`, `ssai_condition_cache_bytes`, `ssai_condition_cache_hits_total`,
//! `ssai_condition_evictions_total`, `ssai_condition_shared_total`.
//!
//! Hand-written rather than a crate: there is no Rust crate for MediaTailor-style
//! conditioning; ffmpeg is the field's tool and runs as a process (its libraries through
//! FFI bindings would tie the build to a system libav* version).

pub mod cache;
pub mod job;
pub mod plan;
pub mod process;
pub mod profile;
pub mod profiles;
mod serve;
pub mod shared;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub use cache::{ConditionedAd, ConditionedRendition};
pub use profile::{
    AudioProfile, AudioRendition, Container, ContentProfile, VariantProfile, VideoProfile,
};
pub use profiles::ProfileCache;
pub use shared::SharedStore;

use crate::error::{AdsError, Result};
use cache::Cache;
use job::{JobError, JobSettings};

/// Settings of the [`Conditioner`].
#[derive(Debug, Clone)]
pub struct ConditionConfig {
    /// The local cache folder (made if missing).
    pub dir: PathBuf,
    /// Absolute URL under which conditioned files are reached (`<proxy>/v1/conditioned`,
    /// or a CDN in front of the shared store).
    pub public_url: String,
    /// Byte bound of the cache (local folder, and shared store).
    pub max_bytes: u64,
    /// ffmpeg jobs at once.
    pub jobs: usize,
    /// Jobs queued or running at most; beyond, requests answer `Failed` for a while.
    pub queue: usize,
    /// Deadline of one ffmpeg (or ffprobe) run.
    pub timeout: Duration,
    /// Deadline of a mezzanine download.
    pub download_timeout: Duration,
    /// Largest mezzanine downloaded, bytes.
    pub max_input_bytes: u64,
    /// Longest ad made, seconds (the mezzanine is cut there).
    pub max_secs: f64,
    /// `nice` increment of ffmpeg (0: normal priority).
    pub nice: i32,
    /// Encoder threads per rendition (0: ffmpeg's choice).
    pub threads: u32,
    /// A failed key is not tried again for this long (transient failures); a mezzanine
    /// that ffmpeg refuses: ten times longer.
    pub retry_after: Duration,
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Replicas share conditioned ads through this store.
    pub shared: Option<SharedStore>,
}

impl ConditionConfig {
    /// Defaults around a cache folder and the public URL of the files.
    pub fn new(dir: impl Into<PathBuf>, public_url: impl Into<String>) -> Self {
        Self {
            dir: dir.into(),
            public_url: public_url.into(),
            max_bytes: 2 * 1024 * 1024 * 1024,
            jobs: 1,
            queue: 64,
            timeout: Duration::from_secs(300),
            download_timeout: Duration::from_secs(60),
            max_input_bytes: 512 * 1024 * 1024,
            max_secs: 180.0,
            nice: 10,
            threads: 0,
            retry_after: Duration::from_secs(60),
            ffmpeg: "ffmpeg".into(),
            ffprobe: "ffprobe".into(),
            shared: None,
        }
    }
}

/// Whether a creative is ready for a content profile.
#[derive(Debug, Clone)]
pub enum Readiness {
    /// Conditioned: splice these renditions.
    Ready(Arc<ConditionedAd>),
    /// Queued or being made (leave it out of this break).
    Pending,
    /// It could not be made lately (the reason); it will be tried again after a while.
    Failed(Arc<str>),
    /// Never asked for ([`Conditioner::lookup`] only).
    Absent,
}

impl Readiness {
    /// The ad, when ready.
    pub fn ready(&self) -> Option<&Arc<ConditionedAd>> {
        match self {
            Readiness::Ready(ad) => Some(ad),
            _ => None,
        }
    }
}

enum JobState {
    Pending,
    Failed { reason: Arc<str>, until: Instant },
}

/// The conditioning service (cheap to clone).
#[derive(Clone)]
pub struct Conditioner {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: ConditionConfig,
    cache: Cache,
    jobs: Mutex<HashMap<String, JobState>>,
    slots: tokio::sync::Semaphore,
    http: reqwest::Client,
    settings: JobSettings,
}

/// The cache key of a creative conditioned for a profile (32 hex digits).
pub fn ad_key(creative_url: &str, profile: &ContentProfile) -> String {
    let mut h = Sha256::new();
    h.update(b"lineup-condition-1\n");
    h.update(creative_url.as_bytes());
    h.update(b"\n");
    h.update(profile.key().as_bytes());
    hex::encode(&h.finalize()[..16])
}

impl Conditioner {
    /// Opens the cache folder (reading back what earlier runs made).
    pub fn new(cfg: ConditionConfig, http: reqwest::Client) -> Result<Self> {
        let cache = Cache::open(&cfg.dir, cfg.max_bytes, &cfg.public_url).map_err(|e| {
            AdsError::BadField {
                field: "condition_dir".into(),
                message: format!("{}: {e}", cfg.dir.display()),
            }
        })?;
        let settings = JobSettings {
            ffmpeg: cfg.ffmpeg.clone(),
            ffprobe: cfg.ffprobe.clone(),
            runner: process::Runner {
                nice: cfg.nice,
                timeout: cfg.timeout,
            },
            download_timeout: cfg.download_timeout,
            max_input_bytes: cfg.max_input_bytes,
            plan: plan::PlanOptions {
                threads: cfg.threads,
                max_secs: cfg.max_secs,
            },
        };
        metrics::gauge!("ssai_condition_pending").set(0.0);
        Ok(Self {
            inner: Arc::new(Inner {
                slots: tokio::sync::Semaphore::new(cfg.jobs.max(1)),
                cfg,
                cache,
                jobs: Mutex::default(),
                http,
                settings,
            }),
        })
    }

    /// The settings it runs with.
    pub fn config(&self) -> &ConditionConfig {
        &self.inner.cfg
    }

    /// Whether `creative_url` is ready for `profile`, without starting anything.
    pub fn lookup(&self, creative_url: &str, profile: &ContentProfile) -> Readiness {
        let key = ad_key(creative_url, profile);
        if let Some(ad) = self.inner.cache.peek(&key) {
            return Readiness::Ready(ad);
        }
        let jobs = self.inner.jobs.lock().unwrap_or_else(|p| p.into_inner());
        match jobs.get(&key) {
            Some(JobState::Pending) => Readiness::Pending,
            Some(JobState::Failed { reason, until }) if *until > Instant::now() => {
                Readiness::Failed(reason.clone())
            }
            _ => Readiness::Absent,
        }
    }

    /// Whether `creative_url` is ready for `profile`; when it is neither ready, nor being
    /// made, nor failed lately, starts making it (in the background) and answers `Pending`.
    /// Never blocks. Must be called within a Tokio runtime.
    pub fn request(&self, creative_url: &str, profile: &Arc<ContentProfile>) -> Readiness {
        let key = ad_key(creative_url, profile);
        if let Some(ad) = self.inner.cache.get(&key) {
            metrics::counter!("ssai_condition_cache_hits_total").increment(1);
            if let Some(shared) = self.inner.cfg.shared.clone() {
                let key = key.clone();
                tokio::spawn(async move { shared.touch(&key).await });
            }
            return Readiness::Ready(ad);
        }
        let mut jobs = self.inner.jobs.lock().unwrap_or_else(|p| p.into_inner());
        match jobs.get(&key) {
            Some(JobState::Pending) => return Readiness::Pending,
            Some(JobState::Failed { reason, until }) if *until > Instant::now() => {
                return Readiness::Failed(reason.clone());
            }
            _ => {}
        }
        let pending = jobs
            .values()
            .filter(|j| matches!(j, JobState::Pending))
            .count();
        if pending >= self.inner.cfg.queue {
            return Readiness::Failed(Arc::from("conditioning queue full"));
        }
        if jobs.len() > 10_000 {
            let now = Instant::now();
            jobs.retain(|_, j| match j {
                JobState::Pending => true,
                JobState::Failed { until, .. } => *until > now,
            });
        }
        jobs.insert(key.clone(), JobState::Pending);
        metrics::gauge!("ssai_condition_pending").set((pending + 1) as f64);
        drop(jobs);
        let this = self.clone();
        let url = creative_url.to_string();
        let profile = profile.clone();
        tokio::spawn(async move { this.run_job(key, url, profile).await });
        Readiness::Pending
    }

    /// Waits (polling) until `creative_url` is no longer pending for `profile`, or
    /// `deadline` passes. For tests and tools; the proxy never waits.
    pub async fn ready(
        &self,
        creative_url: &str,
        profile: &Arc<ContentProfile>,
        deadline: Duration,
    ) -> Readiness {
        let until = Instant::now() + deadline;
        loop {
            let r = self.request(creative_url, profile);
            if !matches!(r, Readiness::Pending) || Instant::now() >= until {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Jobs queued or running.
    pub fn pending(&self) -> usize {
        let jobs = self.inner.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.values()
            .filter(|j| matches!(j, JobState::Pending))
            .count()
    }

    /// Bytes of conditioned ads held locally.
    pub fn cache_bytes(&self) -> u64 {
        self.inner.cache.bytes()
    }

    /// `GET /v1/conditioned/{key}/{rendition}/{file}`: the conditioned files.
    pub fn router(&self) -> axum::Router {
        serve::router(self.clone())
    }

    async fn run_job(self, key: String, url: String, profile: Arc<ContentProfile>) {
        let started = Instant::now();
        let result = self.obtain(&key, &url, &profile).await;
        let mut jobs = self.inner.jobs.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(()) => {
                jobs.remove(&key);
            }
            Err(e) => {
                metrics::counter!("ssai_condition_jobs_total", "result" => "failed").increment(1);
                tracing::warn!(creative = url, key, error = %e.error, permanent = e.permanent, "conditioning failed");
                let wait = if e.permanent {
                    self.inner.cfg.retry_after * 10
                } else {
                    self.inner.cfg.retry_after
                };
                jobs.insert(
                    key.clone(),
                    JobState::Failed {
                        reason: Arc::from(e.error.to_string()),
                        until: Instant::now() + wait,
                    },
                );
            }
        }
        let pending = jobs
            .values()
            .filter(|j| matches!(j, JobState::Pending))
            .count();
        metrics::gauge!("ssai_condition_pending").set(pending as f64);
        tracing::debug!(
            key,
            secs = started.elapsed().as_secs_f64(),
            "conditioning job done"
        );
    }

    /// Makes the ad (or copies it from the shared store) into the local cache.
    async fn obtain(
        &self,
        key: &str,
        url: &str,
        profile: &ContentProfile,
    ) -> std::result::Result<(), JobError> {
        let transient = |error: AdsError| JobError {
            error,
            permanent: false,
        };
        if let Some(shared) = &self.inner.cfg.shared {
            let hold = self.inner.cfg.timeout + self.inner.cfg.download_timeout * 2;
            loop {
                if let Some(ad) = shared.manifest(key).await.map_err(transient)? {
                    let work = self.work_dir(key).map_err(transient)?;
                    let copied = shared.download(&ad, &work).await;
                    let committed = copied.and_then(|()| {
                        self.inner
                            .cache
                            .commit(&work, ad)
                            .map_err(|e| AdsError::Creative(e.to_string()))
                    });
                    if committed.is_err() {
                        let _ = std::fs::remove_dir_all(&work);
                    }
                    committed.map_err(transient)?;
                    metrics::counter!("ssai_condition_shared_total").increment(1);
                    return Ok(());
                }
                match shared.lease(key, hold).await.map_err(transient)? {
                    shared::Lease::Mine => break,
                    shared::Lease::Held { until_ms, .. } => {
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::SystemTime::UNIX_EPOCH)
                            .map(|d| d.as_millis() as u64)
                            .unwrap_or(0);
                        if now > until_ms {
                            tracing::warn!(key, "conditioning lease expired; taking it over");
                            shared.release(key).await;
                        } else {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            }
        }
        let made = self.make(key, url, profile).await;
        if let Some(shared) = &self.inner.cfg.shared {
            if let Ok(ad) = &made {
                let dir = self.inner.cache.ad_dir(key);
                match shared.publish(ad, &dir).await {
                    Ok(()) => {
                        if let Err(e) = shared.evict(self.inner.cfg.max_bytes, key).await {
                            tracing::warn!(error = %e, "shared store eviction failed");
                        }
                    }
                    Err(e) => tracing::warn!(key, error = %e, "conditioned ad not shared"),
                }
            }
            shared.release(key).await;
        }
        made.map(|_| ())
    }

    fn work_dir(&self, key: &str) -> Result<PathBuf> {
        self.inner
            .cache
            .work_dir(key)
            .map_err(|e| AdsError::Creative(format!("work folder: {e}")))
    }

    /// Runs ffmpeg under a job slot and commits the result to the local cache.
    async fn make(
        &self,
        key: &str,
        url: &str,
        profile: &ContentProfile,
    ) -> std::result::Result<Arc<ConditionedAd>, JobError> {
        let transient = |error: AdsError| JobError {
            error,
            permanent: false,
        };
        let _slot = self
            .inner
            .slots
            .acquire()
            .await
            .map_err(|_| transient(AdsError::Creative("conditioner closed".into())))?;
        let started = Instant::now();
        let work = self.work_dir(key).map_err(transient)?;
        let made = job::run(
            &self.inner.http,
            &self.inner.settings,
            url,
            profile,
            key,
            &work,
        )
        .await;
        let committed = made.and_then(|ad| {
            self.inner
                .cache
                .commit(&work, ad)
                .map_err(|e| transient(AdsError::Creative(format!("cache: {e}"))))
        });
        if committed.is_err() {
            let _ = std::fs::remove_dir_all(&work);
        } else {
            metrics::counter!("ssai_condition_jobs_total", "result" => "ok").increment(1);
            metrics::histogram!("ssai_condition_seconds").record(started.elapsed().as_secs_f64());
            tracing::info!(
                creative = url,
                key,
                secs = started.elapsed().as_secs_f64(),
                "creative conditioned"
            );
        }
        committed
    }
}
