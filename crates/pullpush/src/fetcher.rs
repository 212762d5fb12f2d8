//! A fetcher: poll the source, diff, transfer, publish. One tokio task per fetcher.
//!
//! Flow: fetch the source master once (retrying while the source is down) and derive the
//! destination tracks (variants, audio/subtitle/video renditions) with their destination
//! names; then loop: poll each media playlist when due (on the expected arrival of its next
//! segment, see [`crate::poll`]), feed it to its
//! [`TrackModel`], spawn the transfers it returns (bounded by a semaphore of `concurrency`),
//! and whenever a track's ready prefix grows, trim the window, render and put its playlist,
//! then persist its [`TrackState`]. The master goes out once every media playlist exists.
//! Segments that left the window are deleted after a grace period.
//!
//! Stopping ([`run`]'s `stop` turning true) is graceful: no more polls, the transfers in
//! flight finish, the playlists they complete are published and their state persisted,
//! and the output delivers what it queued ([`Output::flush`]); then the task returns. The
//! caller bounds how long that may take ([`crate::PullPush::close_within`]).

use std::collections::{HashMap, VecDeque};
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
use crate::track::{TrackModel, TrackState, Transfer};

/// How long a segment that left the window stays at the destination (players holding an
/// older playlist may still ask for it).
pub const DELETE_GRACE: Duration = Duration::from_secs(30);

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

struct TrackRt {
    model: TrackModel,
    url: Url,
    next_poll: Instant,
    /// When a reload last changed the source playlist (for [`crate::poll::next_poll`]).
    last_change: Option<Instant>,
    /// The last reload's (media sequence after its last segment, end list): a change of it
    /// is a playlist change.
    head: Option<(u64, bool)>,
    /// When the last successful reload completed, and whether it changed the playlist.
    last_poll: Option<(Instant, bool)>,
    written: bool,
    /// Highest observed bits per second (for a master we synthesise).
    peak_bps: f64,
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

/// How long a cause must persist before a fetcher shows `failing`.
const FAILING_AFTER: Duration = Duration::from_secs(4);

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

/// Destination layout derived from the source master.
struct Layout {
    master: Option<hls::MasterPlaylist>,
    tracks: Vec<(String, Url)>,
}

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

pub(crate) async fn run(ctx: Ctx, mut stop: watch::Receiver<bool>) {
    let Ctx {
        spec,
        output,
        shared,
        store,
        mut resume,
        client,
        clock,
    } = ctx;
    let clock_now = || Instant::from_std(clock.instant());
    let fid = spec.id.clone();
    let source = match Url::parse(&spec.url) {
        Ok(u) => u,
        Err(e) => {
            set_error(&shared, Some(e.to_string()), true);
            return;
        }
    };
    let stem = output.stem();
    // 1. The source master (or single media playlist).
    let mut attempt = 0;
    let layout = loop {
        let res = match get_text(&client, &source).await {
            Ok(text) => hls::parse(&text)
                .map_err(|e| format!("{source}: {e}"))
                .and_then(|p| layout(&stem, &source, p)),
            Err(e) => Err(e),
        };
        match res {
            Ok(l) => break l,
            Err(e) => {
                tracing::warn!(fetcher = %fid, error = %e, "source master failed");
                metrics::counter!("pullpush_errors_total", "fetcher" => fid.clone(), "kind" => "source").increment(1);
                set_error(&shared, Some(e), true);
                tokio::select! {
                    _ = tokio::time::sleep(crate::backoff(attempt, 500, 10_000)) => {}
                    _ = stop.changed() => return,
                }
                attempt += 1;
            }
        }
    };
    let window = spec.window();
    let now = clock_now();
    let mut tracks: Vec<TrackRt> = layout
        .tracks
        .iter()
        .map(|(name, url)| TrackRt {
            model: match resume.remove(name) {
                Some(state) => TrackModel::resume(name.clone(), window, &state),
                None => TrackModel::new(name.clone(), window),
            },
            url: url.clone(),
            next_poll: now,
            last_change: None,
            head: None,
            last_poll: None,
            written: false,
            peak_bps: 0.0,
        })
        .collect();
    let master_path = format!("{stem}.m3u8");
    let mut master_written = false;
    let sem = Arc::new(Semaphore::new(spec.concurrency.max(1)));
    let give_up = Duration::from_secs(window.map(|w| w as u64).unwrap_or(120).max(30));
    let mut jobs: JoinSet<Done> = JoinSet::new();
    // Which transfer each task carries, to account for a task that panics.
    let mut running: HashMap<tokio::task::Id, (usize, Transfer)> = HashMap::new();
    let mut deletes: VecDeque<(Instant, String)> = VecDeque::new();
    let mut poll_errors: HashMap<usize, String> = HashMap::new();
    let mut output_error: Option<String> = None;
    let mut transfer_error: Option<String> = None;
    let mut failing_since: Option<Instant> = None;
    // The latest error of a transfer that is still retrying.
    let retrying: Arc<Mutex<Option<String>>> = Arc::default();
    // Asked to stop: finish the transfers in flight, publish, then return.
    let mut stopping = *stop.borrow();

    loop {
        let now = clock_now();
        // 2. Poll what is due (nothing new once stopping).
        let due: Vec<usize> = (0..tracks.len())
            .filter(|&i| !stopping && tracks[i].next_poll <= now && !tracks[i].model.source_ended)
            .collect();
        if !due.is_empty() {
            let fetches = due.iter().map(|&i| {
                let client = client.clone();
                let url = tracks[i].url.clone();
                async move {
                    let started = Instant::now();
                    let text = get_text(&client, &url).await?;
                    metrics::histogram!("pullpush_fetch_seconds", "kind" => "playlist")
                        .record(started.elapsed().as_secs_f64());
                    hls::parse_media(&text).map_err(|e| format!("{url}: {e}"))
                }
            });
            let results = futures::future::join_all(fetches).await;
            let now = clock_now();
            for (i, res) in due.into_iter().zip(results) {
                let t = &mut tracks[i];
                match res {
                    Ok(pl) => {
                        poll_errors.remove(&i);
                        let transfers = t.model.ingest(&pl, &t.url);
                        let head = (pl.media_sequence + pl.segments.len() as u64, pl.end_list);
                        let changed = t.head != Some(head) || !transfers.is_empty();
                        t.head = Some(head);
                        if changed {
                            t.last_change = Some(now);
                        }
                        let prev = t.last_poll.replace((now, changed));
                        t.next_poll = crate::poll::next_poll(crate::poll::PollInput {
                            now,
                            changed,
                            last_change: t.last_change,
                            prev_poll: prev.map(|p| p.0),
                            prev_changed: prev.is_some_and(|p| p.1),
                            newest_duration: pl.segments.last().map_or(0.0, |s| s.duration),
                            target: Duration::from_secs(t.model.target_duration.max(1)),
                        });
                        if let Some(seq) = t.model.last_source_seq {
                            shared
                                .stats
                                .lock()
                                .unwrap()
                                .last_source_seq
                                .insert(t.model.name.clone(), seq);
                        }
                        for tr in transfers {
                            let handle = jobs.spawn({
                                let (client, output, sem, tr, retrying, clock) = (
                                    client.clone(),
                                    output.clone(),
                                    sem.clone(),
                                    tr.clone(),
                                    retrying.clone(),
                                    clock.clone(),
                                );
                                async move {
                                    let r = transfer(
                                        client,
                                        output,
                                        tr.clone(),
                                        sem,
                                        give_up,
                                        retrying,
                                        clock,
                                    )
                                    .await;
                                    (i, tr, r)
                                }
                            });
                            running.insert(handle.id(), (i, tr));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(fetcher = %fid, error = %e, "source playlist failed");
                        metrics::counter!("pullpush_errors_total", "fetcher" => fid.clone(), "kind" => "source").increment(1);
                        let target = Duration::from_secs(t.model.target_duration.max(2));
                        t.next_poll = now + target / 2;
                        poll_errors.insert(i, e);
                    }
                }
            }
        }

        // 3. Publish what changed.
        for t in tracks.iter_mut() {
            if !t.model.changed() {
                continue;
            }
            for path in t.model.trim() {
                deletes.push_back((clock_now() + DELETE_GRACE, path));
            }
            let Some(rendered) = t.model.render() else {
                continue;
            };
            let path = format!("{}.m3u8", t.model.name);
            let body = Body::Bytes(rendered.to_bytes().into());
            match output.put(&path, web::cache::M3U8, body, None).await {
                Ok(_) => {
                    t.model.published(&rendered);
                    t.written = true;
                    output_error = None;
                    if let Some(store) = &store {
                        let state = t.model.state(&rendered);
                        if let Err(e) = store.save_track(&fid, &t.model.name, &state).await {
                            tracing::warn!(fetcher = %fid, error = %e, "could not persist track state");
                        }
                    }
                }
                Err(e) => {
                    metrics::counter!("pullpush_errors_total", "fetcher" => fid.clone(), "kind" => "output").increment(1);
                    output_error = Some(e.to_string());
                }
            }
        }
        if !master_written && tracks.iter().all(|t| t.written) {
            let master = match &layout.master {
                Some(m) => m.clone(),
                None => synth_master(&tracks),
            };
            let body = Body::Bytes(master.to_bytes().into());
            match output.put(&master_path, web::cache::M3U8, body, None).await {
                Ok(_) => master_written = true,
                Err(e) => output_error = Some(e.to_string()),
            }
        }
        {
            // Failing while any part of the chain fails: the source, publishing a playlist,
            // the output's own delivery, or the last segment transfer.
            let cause = poll_errors
                .values()
                .next()
                .cloned()
                .or_else(|| output_error.clone())
                .or({
                    // An output's error counts while it still holds undelivered work; once
                    // its queues drain, the error is history.
                    let st = output.status();
                    st.last_error.filter(|_| st.queued > 0)
                })
                .or_else(|| transfer_error.clone())
                .or_else(|| retrying.lock().unwrap().clone());
            // A cause must persist before the state says `failing`: one slow reload or one
            // retried PUT under load is not a failing fetcher.
            let now = clock_now();
            let since = match &cause {
                Some(_) => *failing_since.get_or_insert(now),
                None => {
                    failing_since = None;
                    now
                }
            };
            set_error(&shared, cause.clone(), now - since >= FAILING_AFTER);
            let mut s = shared.stats.lock().unwrap();
            s.lag_seconds = tracks
                .iter()
                .map(|t| t.model.lag_seconds())
                .fold(0.0, f64::max);
            metrics::gauge!("pullpush_lag_seconds", "fetcher" => fid.clone()).set(s.lag_seconds);
        }

        // Stopping, and every transfer in flight has finished and been published: let the
        // output deliver what it queued, and return (the state of every playlist published
        // is persisted by now).
        if stopping && jobs.is_empty() {
            output.flush().await;
            tracing::info!(fetcher = %fid, "stopped: transfers in flight finished and published");
            return;
        }

        // 4. Ended?
        if master_written
            && tracks
                .iter()
                .all(|t| t.model.finished() && !t.model.changed())
            && jobs.is_empty()
        {
            shared.stats.lock().unwrap().state = FetcherState::Ended;
            if let Some(store) = &store {
                let _ = store.set_state(&fid, FetcherState::Ended).await;
            }
            tracing::info!(fetcher = %fid, "source ended; final playlists written");
            return;
        }

        // 5. Deletes that are due.
        let now = clock_now();
        while deletes.front().is_some_and(|(due, _)| *due <= now) {
            let (_, path) = deletes.pop_front().expect("checked");
            if let Err(e) = output.delete(&path).await {
                tracing::debug!(fetcher = %fid, path, error = %e, "delete failed");
            }
        }

        // 6. Wait for the next thing to do.
        let mut wake = tracks
            .iter()
            .filter(|t| !t.model.source_ended)
            .map(|t| t.next_poll)
            .min()
            .unwrap_or(now + Duration::from_secs(1));
        if let Some((due, _)) = deletes.front() {
            wake = wake.min(*due);
        }
        if !master_written || output_error.is_some() {
            wake = wake.min(now + Duration::from_millis(500));
        }
        if failing_since.is_some() {
            wake = wake.min(now + Duration::from_secs(1));
        }
        if stopping {
            // No polls are due any more: only the transfers in flight wake us.
            wake = now + Duration::from_secs(1);
        }
        tokio::select! {
            _ = tokio::time::sleep(wake.saturating_duration_since(clock_now())) => {}
            Some(done) = jobs.join_next_with_id(), if !jobs.is_empty() => {
                let mut batch = vec![done];
                while let Some(more) = jobs.try_join_next_with_id() {
                    batch.push(more);
                }
                for done in batch {
                    let (i, tr, res) = match done {
                        Ok((id, done)) => {
                            running.remove(&id);
                            done
                        }
                        Err(e) => {
                            // A transfer task that panicked: find its transfer by task id,
                            // mark it failed (the model retries or skips it) and say so.
                            let Some((i, tr)) = running.remove(&e.id()) else { continue };
                            let cause = if e.is_panic() {
                                panic_message(&e.into_panic())
                            } else {
                                "cancelled".to_string()
                            };
                            (i, tr, Err(format!("transfer task failed: {cause}")))
                        }
                    };

                    let t = &mut tracks[i];
                    match res {
                        Ok(n) => {
                            if tr.segment {
                                if let Some(d) = t.model.segments.iter().find(|s| s.dest_seq == tr.dest_seq)
                                    && d.seg.duration > 0.0
                                {
                                    t.peak_bps = t.peak_bps.max(n as f64 * 8.0 / d.seg.duration);
                                }
                                metrics::counter!("pullpush_segments_total", "fetcher" => fid.clone()).increment(1);
                            }
                            metrics::counter!("pullpush_bytes_total", "fetcher" => fid.clone()).increment(n);
                            let mut s = shared.stats.lock().unwrap();
                            s.bytes_pushed += n;
                            if tr.segment {
                                s.segments_pushed += 1;
                            }
                            drop(s);
                            transfer_error = None;
                            *retrying.lock().unwrap() = None;
                            t.model.complete(tr.dest_seq, true);
                        }
                        Err(e) => {
                            tracing::warn!(fetcher = %fid, path = %tr.path, error = %e, "transfer gave up");
                            metrics::counter!("pullpush_errors_total", "fetcher" => fid.clone(), "kind" => "transfer").increment(1);
                            transfer_error = Some(e);
                            t.model.complete(tr.dest_seq, false);
                        }
                    }
                }
            }
            changed = stop.changed(), if !stopping => {
                // The sender gone (the fetcher was dropped) stops at once; `true` drains.
                if changed.is_err() {
                    return;
                }
                stopping = *stop.borrow();
            }
        }
    }
}

fn synth_master(tracks: &[TrackRt]) -> hls::MasterPlaylist {
    let mut m = hls::MasterPlaylist::default();
    for t in tracks {
        let bw = (t.peak_bps.ceil() as u64).max(1);
        m.variants.push(hls::VariantStream {
            uri: format!("{}.m3u8", t.model.name),
            attrs: hls::AttributeList::new().unquoted("BANDWIDTH", bw),
        });
    }
    m
}
