//! A fetcher: poll the source, diff, transfer, publish. One tokio task per fetcher.
//!
//! Flow: fetch the source master once (retrying while the source is down) and derive the
//! destination tracks (variants, audio/subtitle/video renditions) with their destination
//! names; then loop: poll each media playlist when due (on the expected arrival of its next
//! segment, see [`crate::poll`]), feed it to its
//! [`crate::track::TrackModel`], spawn the transfers it returns (bounded by a semaphore of
//! `concurrency`), and whenever a track's ready prefix grows, trim the window, render and put
//! its playlist, then persist its [`TrackState`]. The master goes out once every media
//! playlist exists. Segments that left the window are deleted after a grace period.
//!
//! The decisions (what is due, what to publish, failing or not, ended or not, when to wake)
//! are the pure [`machine::Machine`]'s, on a clock passed in; [`run`] is the driver that
//! performs them (HTTP, the output, the store, the transfer tasks, metrics and logs).
//!
//! Stopping ([`run`]'s `stop` turning true) is graceful: no more polls, the transfers in
//! flight finish, the playlists they complete are published and their state persisted,
//! and the output delivers what it queued ([`Output::flush`]); then the task returns. The
//! caller bounds how long that may take ([`crate::PullPush::close_within`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clock::Clock;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use url::Url;

use crate::outputs::{Body, Output};
use crate::store::Store;
use crate::track::{TrackState, Transfer};

mod machine;

pub use machine::{DELETE_GRACE, FAILING_AFTER};
use machine::{Finish, Layout, Machine};

/// What a fetcher was asked to do (the API body after validation, plus id and time).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FetcherSpec {
    pub id: String,
    pub name: String,
    pub url: String,
    pub output: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub concurrency: usize,
    /// Seconds; -1 keeps everything (EVENT playlist).
    pub window_size: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl FetcherSpec {
    pub fn window(&self) -> Option<f64> {
        (self.window_size > 0).then_some(self.window_size as f64)
    }
}

/// A fetcher's lifecycle state.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum FetcherState {
    Running,
    Failing,
    Stopped,
    Ended,
}

impl FetcherState {
    pub fn as_str(self) -> &'static str {
        match self {
            FetcherState::Running => "running",
            FetcherState::Failing => "failing",
            FetcherState::Stopped => "stopped",
            FetcherState::Ended => "ended",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "failing" => FetcherState::Failing,
            "stopped" => FetcherState::Stopped,
            "ended" => FetcherState::Ended,
            _ => FetcherState::Running,
        }
    }
}

/// Live counters of one fetcher.
#[derive(Debug, Clone)]
pub struct FetcherStats {
    pub state: FetcherState,
    pub last_error: Option<String>,
    pub segments_pushed: u64,
    pub bytes_pushed: u64,
    pub lag_seconds: f64,
    /// Source media sequences seen / listed per track (for tests and diagnostics).
    pub last_source_seq: HashMap<String, u64>,
}

impl Default for FetcherStats {
    fn default() -> Self {
        Self {
            state: FetcherState::Running,
            last_error: None,
            segments_pushed: 0,
            bytes_pushed: 0,
            lag_seconds: 0.0,
            last_source_seq: HashMap::new(),
        }
    }
}

pub(crate) struct Shared {
    pub stats: Mutex<FetcherStats>,
}

pub(crate) struct Ctx {
    pub spec: FetcherSpec,
    pub output: Arc<dyn Output>,
    pub shared: Arc<Shared>,
    pub store: Option<Store>,
    pub resume: HashMap<String, TrackState>,
    pub client: reqwest::Client,
    pub clock: Arc<dyn Clock>,
}

fn set_error(shared: &Shared, err: Option<String>, failing: bool) {
    let mut s = shared.stats.lock().unwrap();
    if let Some(e) = &err {
        s.last_error = Some(e.clone());
    }
    if s.state == FetcherState::Running || s.state == FetcherState::Failing {
        s.state = if failing {
            FetcherState::Failing
        } else {
            FetcherState::Running
        };
    }
}

/// The message of a panic payload, for `last_error`.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panicked".to_string())
}

/// The largest source playlist a fetcher reads: a 24-hour EVENT playlist of 1-second
/// segments is ~3 MB. Anything larger is refused instead of buffered without bound.
pub(crate) const MAX_PLAYLIST_BYTES: usize = 8 * 1024 * 1024;

async fn get_text(client: &reqwest::Client, url: &Url) -> Result<String, String> {
    let mut resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("GET {url}: {}", resp.status()));
    }
    let too_big = || format!("GET {url}: playlist larger than {MAX_PLAYLIST_BYTES} bytes");
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_PLAYLIST_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
        if body.len() + chunk.len() > MAX_PLAYLIST_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| format!("GET {url}: the playlist is not UTF-8"))
}

/// The destination layout of a source master (or single media playlist).
fn layout(stem: &str, base: &Url, playlist: hls::Playlist) -> Result<Layout, String> {
    match playlist {
        hls::Playlist::Media(_) => Ok(Layout {
            master: None,
            tracks: vec![(format!("{stem}_1"), base.clone())],
        }),
        hls::Playlist::Master(mut m) => {
            let mut tracks: Vec<(String, Url)> = Vec::new();
            let mut by_url: HashMap<Url, String> = HashMap::new();
            let mut add =
                |tracks: &mut Vec<(String, Url)>, preferred: String, url: Url| -> String {
                    if let Some(n) = by_url.get(&url) {
                        return n.clone();
                    }
                    let mut name = preferred.clone();
                    let mut k = 2;
                    while tracks.iter().any(|(n, _)| *n == name) {
                        name = format!("{preferred}_{k}");
                        k += 1;
                    }
                    by_url.insert(url.clone(), name.clone());
                    tracks.push((name.clone(), url));
                    name
                };
            for (i, v) in m.variants.iter_mut().enumerate() {
                let url = hls::uri::resolve(base, &v.uri)
                    .map_err(|e| format!("variant {}: {e}", v.uri))?;
                let bw = v.bandwidth().unwrap_or(i as u64 + 1);
                let name = add(&mut tracks, format!("{stem}_{bw}"), url);
                v.uri = format!("{name}.m3u8");
            }
            let mut counters: HashMap<&'static str, usize> = HashMap::new();
            for r in m.media.iter_mut() {
                let Some(uri) = r.uri().map(str::to_string) else {
                    continue;
                };
                let url =
                    hls::uri::resolve(base, &uri).map_err(|e| format!("rendition {uri}: {e}"))?;
                let kind = match r.media_type() {
                    Some(hls::MediaType::Audio) => "audio",
                    Some(hls::MediaType::Subtitles) => "subs",
                    Some(hls::MediaType::Video) => "video",
                    _ => "media",
                };
                let c = counters.entry(kind).or_insert(0);
                *c += 1;
                let name = add(&mut tracks, format!("{stem}_{kind}_{c}"), url);
                r.attrs.set_quoted("URI", format!("{name}.m3u8"));
            }
            // I-frame playlists are not carried.
            m.i_frame_streams.clear();
            Ok(Layout {
                master: Some(m),
                tracks,
            })
        }
    }
}

async fn transfer(
    client: reqwest::Client,
    output: Arc<dyn Output>,
    tr: Transfer,
    sem: Arc<Semaphore>,
    give_up: Duration,
    retrying: Arc<Mutex<Option<String>>>,
    clock: Arc<dyn Clock>,
) -> Result<u64, String> {
    let _permit = sem.acquire_owned().await.map_err(|e| e.to_string())?;
    let started = clock.instant();
    let content_type = web::cache::content_type_for(&tr.path);
    let mut attempt = 0;
    loop {
        let result = async {
            let mut req = client.get(tr.source.clone());
            if let Some((off, len)) = tr.range {
                req = req.header(
                    reqwest::header::RANGE,
                    format!("bytes={}-{}", off, off + len.max(1) - 1),
                );
            }
            let asked = Instant::now();
            let resp = req
                .send()
                .await
                .map_err(|e| format!("GET {}: {e}", tr.source))?;
            if !resp.status().is_success() {
                return Err(format!("GET {}: {}", tr.source, resp.status()));
            }
            // Time to the response head: the source's latency (the body streams on into
            // the output, timed as the push).
            metrics::histogram!("pullpush_fetch_seconds", "kind" => "segment")
                .record(asked.elapsed().as_secs_f64());
            let len = resp.content_length();
            let stream = resp.bytes_stream().map_err(std::io::Error::other).boxed();
            output
                .put(&tr.path, content_type, Body::Stream(stream), len)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        match result {
            Ok(n) => return Ok(n),
            Err(e) => {
                if clock.instant().saturating_duration_since(started) >= give_up {
                    return Err(e);
                }
                tracing::debug!(path = %tr.path, error = %e, "transfer failed; retrying");
                // Visible in the fetcher's state while it retries, not only when it gives up.
                *retrying.lock().unwrap() = Some(e);
                tokio::time::sleep(crate::backoff(attempt, 250, 5_000)).await;
                attempt += 1;
            }
        }
    }
}

type Done = (usize, Transfer, Result<u64, String>);

/// Run a fetcher: open its source, then perform what its [`Machine`] decides (reload,
/// transfer, publish, report, delete, wait) until it ends or is stopped.
pub(crate) async fn run(ctx: Ctx, mut stop: watch::Receiver<bool>) {
    let Some(layout) = open_source(&ctx, &mut stop).await else {
        return;
    };
    let (mut d, mut m) = Driver::new(ctx, layout, *stop.borrow());
    loop {
        d.poll(&mut m).await;
        d.publish(&mut m).await;
        d.report(&mut m);
        if let Some(finish) = m.finish(!d.jobs.is_empty()) {
            return d.finish(finish).await;
        }
        for path in m.due_deletes(d.now()) {
            if let Err(e) = d.output.delete(&path).await {
                tracing::debug!(fetcher = %d.fid, path, error = %e, "delete failed");
            }
        }
        let wake = m.wake(d.now());
        tokio::select! {
            _ = tokio::time::sleep(wake.saturating_duration_since(d.now())) => {}
            Some(done) = d.jobs.join_next_with_id(), if !d.jobs.is_empty() => {
                d.transferred(&mut m, done);
            }
            changed = stop.changed(), if !m.stopping() => {
                // The sender gone (the fetcher was dropped) stops at once; `true` drains.
                if changed.is_err() {
                    return;
                }
                m.set_stopping(*stop.borrow());
            }
        }
    }
}

/// The source master (or single media playlist) as a layout, retried while the source is
/// down (`None`: the source URL is bad, or the fetcher was stopped meanwhile).
async fn open_source(ctx: &Ctx, stop: &mut watch::Receiver<bool>) -> Option<Layout> {
    let source = match Url::parse(&ctx.spec.url) {
        Ok(u) => u,
        Err(e) => {
            set_error(&ctx.shared, Some(e.to_string()), true);
            return None;
        }
    };
    let stem = ctx.output.stem();
    let mut attempt = 0;
    loop {
        let res = match get_text(&ctx.client, &source).await {
            Ok(text) => hls::parse(&text)
                .map_err(|e| format!("{source}: {e}"))
                .and_then(|p| layout(&stem, &source, p)),
            Err(e) => Err(e),
        };
        let e = match res {
            Ok(l) => return Some(l),
            Err(e) => e,
        };
        let fid = ctx.spec.id.clone();
        tracing::warn!(fetcher = %fid, error = %e, "source master failed");
        metrics::counter!("pullpush_errors_total", "fetcher" => fid, "kind" => "source")
            .increment(1);
        set_error(&ctx.shared, Some(e), true);
        tokio::select! {
            _ = tokio::time::sleep(crate::backoff(attempt, 500, 10_000)) => {}
            _ = stop.changed() => return None,
        }
        attempt += 1;
    }
}

/// Reload a source media playlist.
async fn fetch_media(client: reqwest::Client, url: Url) -> Result<hls::MediaPlaylist, String> {
    let started = Instant::now();
    let text = get_text(&client, &url).await?;
    metrics::histogram!("pullpush_fetch_seconds", "kind" => "playlist")
        .record(started.elapsed().as_secs_f64());
    hls::parse_media(&text).map_err(|e| format!("{url}: {e}"))
}

/// The I/O side of a running fetcher: performs what its [`Machine`] decides.
struct Driver {
    fid: String,
    output: Arc<dyn Output>,
    shared: Arc<Shared>,
    store: Option<Store>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    sem: Arc<Semaphore>,
    /// How long a transfer retries before it gives up.
    give_up: Duration,
    jobs: JoinSet<Done>,
    /// Which transfer each task carries, to account for a task that panics.
    running: HashMap<tokio::task::Id, (usize, Transfer)>,
    /// The latest error of a transfer that is still retrying.
    retrying: Arc<Mutex<Option<String>>>,
}

impl Driver {
    fn new(ctx: Ctx, layout: Layout, stopping: bool) -> (Self, Machine) {
        let Ctx {
            spec,
            output,
            shared,
            store,
            mut resume,
            client,
            clock,
        } = ctx;
        let window = spec.window();
        let now = Instant::from_std(clock.instant());
        let mut m = Machine::new(layout, window, &mut resume, now);
        m.set_stopping(stopping);
        let d = Driver {
            fid: spec.id.clone(),
            output,
            shared,
            store,
            client,
            clock,
            sem: Arc::new(Semaphore::new(spec.concurrency.max(1))),
            give_up: Duration::from_secs(window.map(|w| w as u64).unwrap_or(120).max(30)),
            jobs: JoinSet::new(),
            running: HashMap::new(),
            retrying: Arc::default(),
        };
        (d, m)
    }

    fn now(&self) -> Instant {
        Instant::from_std(self.clock.instant())
    }

    /// Reload the playlists that are due (together) and start the transfers they bring.
    async fn poll(&mut self, m: &mut Machine) {
        let due = m.due_polls(self.now());
        if due.is_empty() {
            return;
        }
        let fetches = (due.iter()).map(|(_, url)| fetch_media(self.client.clone(), url.clone()));
        let results = futures::future::join_all(fetches).await;
        let now = self.now();
        for ((i, _), res) in due.into_iter().zip(results) {
            if let Err(e) = &res {
                tracing::warn!(fetcher = %self.fid, error = %e, "source playlist failed");
                metrics::counter!("pullpush_errors_total", "fetcher" => self.fid.clone(), "kind" => "source").increment(1);
            }
            let ok = res.is_ok();
            let transfers = m.polled(i, res, now);
            let model = &m.tracks()[i].model;
            if let (true, Some(seq)) = (ok, model.last_source_seq) {
                let mut stats = self.shared.stats.lock().unwrap();
                stats.last_source_seq.insert(model.name.clone(), seq);
            }
            for tr in transfers {
                let (client, output, sem) =
                    (self.client.clone(), self.output.clone(), self.sem.clone());
                let (retrying, clock) = (self.retrying.clone(), self.clock.clone());
                let (give_up, job) = (self.give_up, tr.clone());
                let handle = self.jobs.spawn(async move {
                    let r = transfer(client, output, job.clone(), sem, give_up, retrying, clock);
                    (i, job, r.await)
                });
                self.running.insert(handle.id(), (i, tr));
            }
        }
    }

    /// Put the playlists whose ready prefix grew (persisting their state), and the master
    /// once every media playlist exists.
    async fn publish(&mut self, m: &mut Machine) {
        for (i, rendered) in m.publishable(self.now()) {
            let name = m.tracks()[i].model.name.clone();
            let (path, body) = (format!("{name}.m3u8"), rendered.to_bytes().into());
            let put = self
                .output
                .put(&path, web::cache::M3U8, Body::Bytes(body), None);
            let res = put.await.map(|_| ()).map_err(|e| e.to_string());
            if res.is_err() {
                metrics::counter!("pullpush_errors_total", "fetcher" => self.fid.clone(), "kind" => "output").increment(1);
            }
            if m.published(i, &rendered, res)
                && let Some(store) = &self.store
            {
                let state: TrackState = m.tracks()[i].model.state(&rendered);
                if let Err(e) = store.save_track(&self.fid, &name, &state).await {
                    tracing::warn!(fetcher = %self.fid, error = %e, "could not persist track state");
                }
            }
        }
        if let Some(master) = m.master_due() {
            let body = Body::Bytes(master.to_bytes().into());
            let path = format!("{}.m3u8", self.output.stem());
            let put = self.output.put(&path, web::cache::M3U8, body, None).await;
            m.master_put(put.map(|_| ()).map_err(|e| e.to_string()));
        }
    }

    /// The fetcher's state, last error and lag, as its machine sees the chain now.
    fn report(&mut self, m: &mut Machine) {
        // An output's error counts while it still holds undelivered work; once its queues
        // drain, the error is history.
        let st = self.output.status();
        let output = st.last_error.filter(|_| st.queued > 0);
        let retrying = self.retrying.lock().unwrap().clone();
        let h = m.health(self.now(), output, retrying);
        set_error(&self.shared, h.cause, h.failing);
        self.shared.stats.lock().unwrap().lag_seconds = h.lag_seconds;
        metrics::gauge!("pullpush_lag_seconds", "fetcher" => self.fid.clone()).set(h.lag_seconds);
    }

    async fn finish(&self, finish: Finish) {
        let fid = &self.fid;
        match finish {
            // The output delivers what it queued (the state of every playlist published is
            // persisted by now).
            Finish::Stopped => {
                self.output.flush().await;
                tracing::info!(fetcher = %fid, "stopped: transfers in flight finished and published");
            }
            Finish::Ended => {
                self.shared.stats.lock().unwrap().state = FetcherState::Ended;
                if let Some(store) = &self.store {
                    let _ = store.set_state(fid, FetcherState::Ended).await;
                }
                tracing::info!(fetcher = %fid, "source ended; final playlists written");
            }
        }
    }

    /// `first` and every other transfer that finished meanwhile, reported to the machine.
    fn transferred(
        &mut self,
        m: &mut Machine,
        first: Result<(tokio::task::Id, Done), tokio::task::JoinError>,
    ) {
        let mut batch = vec![first];
        while let Some(more) = self.jobs.try_join_next_with_id() {
            batch.push(more);
        }
        for done in batch {
            let (i, tr, res) = match done {
                Ok((id, done)) => {
                    self.running.remove(&id);
                    done
                }
                Err(e) => {
                    // A transfer task that panicked: find its transfer by task id, mark it
                    // failed (the model retries or skips it) and say so.
                    let Some((i, tr)) = self.running.remove(&e.id()) else {
                        continue;
                    };
                    let cause = if e.is_panic() {
                        panic_message(&e.into_panic())
                    } else {
                        "cancelled".to_string()
                    };
                    (i, tr, Err(format!("transfer task failed: {cause}")))
                }
            };
            self.count(&tr, &res);
            m.transferred(i, &tr, res);
        }
    }

    fn count(&self, tr: &Transfer, res: &Result<u64, String>) {
        let fid = self.fid.clone();
        match res {
            Ok(n) => {
                if tr.segment {
                    metrics::counter!("pullpush_segments_total", "fetcher" => fid.clone())
                        .increment(1);
                }
                metrics::counter!("pullpush_bytes_total", "fetcher" => fid).increment(*n);
                let mut s = self.shared.stats.lock().unwrap();
                s.bytes_pushed += n;
                s.segments_pushed += u64::from(tr.segment);
                drop(s);
                *self.retrying.lock().unwrap() = None;
            }
            Err(e) => {
                tracing::warn!(fetcher = %fid, path = %tr.path, error = %e, "transfer gave up");
                metrics::counter!("pullpush_errors_total", "fetcher" => fid, "kind" => "transfer")
                    .increment(1);
            }
        }
    }
}
