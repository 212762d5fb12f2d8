//! Following a live HLS output like a player does, with the RFC 8216 oracle of
//! `hls::validate` watching every reload.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hls::validate::{LiveTracker, Problem, Severity, check_text, check_variants};

/// Reload interval before any media playlist has told us its target duration.
const DEFAULT_RELOAD: Duration = Duration::from_millis(500);

/// Follows a live output: reloads its master and every media playlist the master names
/// (variants, `EXT-X-MEDIA` renditions with a URI and `EXT-X-I-FRAME-STREAM-INF` I-frame
/// playlists) every half target duration, runs each
/// text through [`check_text`] (static rules) and each media playlist through its own
/// [`LiveTracker`] (rules across reloads: the media sequence never goes back, a segment
/// never changes its URI under a number, the playlist keeps changing, ...), and after each
/// round the master and the media playlists of that round through [`check_variants`]
/// (RFC 8216 6.2.4: one target duration, matching discontinuities, ...; each problem is
/// reported once, under the master's path).
///
/// `get` reads one object of the output by path, e.g. `"channel.m3u8"` or
/// `"channel_400000.m3u8"`: relative URIs in the master are joined to the master's folder
/// (`a/b/master.m3u8` + `x.m3u8` -> `a/b/x.m3u8`); absolute URIs are passed as they are.
/// It returns `None` when the object cannot be read (404, peer down, ...): that reload is
/// skipped, not reported (the caller checks existence itself).
///
/// # What counts as a failure
/// - every [`Severity::Error`] problem, static or live;
/// - the live warning `reload-gap` too: a whole window published and removed between two
///   reloads means the output's media sequence jumped, which an output we produce must
///   never do;
/// - except `playlist-stale` while the output is *known to be down*: between
///   [`set_down(true)`](Self::set_down) and the first reload after
///   [`set_down(false)`](Self::set_down) that shows a changed playlist. A planned outage
///   (the ingest server stopped, the publisher restarted) freezes the output by design;
///   while down, nothing is read or fed to the trackers, and after it the tracker's
///   "unchanged since" clock still counts from before the outage, so the first reloads of
///   the still-old playlist would report it stale. Those reports are kept as
///   [`FollowReport::tolerated`]; a stale playlist after the output has moved again is an
///   error like any other.
///
/// Other warnings are collected (deduplicated by playlist and rule) for the test to print.
pub struct PlaylistFollower {
    state: Arc<Mutex<FollowState>>,
    task: tokio::task::JoinHandle<()>,
}

/// What a [`PlaylistFollower`] saw.
#[derive(Debug, Default, Clone)]
pub struct FollowReport {
    /// Media playlist path -> successful reloads fed to its tracker.
    pub reloads: BTreeMap<String, usize>,
    /// Successful reloads of the master.
    pub master_reloads: usize,
    /// Failures: `"<path> @<ms>: <problem>"`.
    pub errors: Vec<String>,
    /// `playlist-stale` reports caused by a declared outage (see the type's doc).
    pub tolerated: Vec<String>,
    /// Warnings: `"<path> [<rule>]"` -> the first message.
    pub warnings: BTreeMap<String, String>,
}

impl FollowReport {
    /// Panics unless there is no failure, every media playlist followed had at least
    /// `min_reloads` reloads, and there was at least one media playlist.
    pub fn assert_clean(&self, min_reloads: usize) {
        for (w, m) in &self.warnings {
            eprintln!("validator warning: {w} {m}");
        }
        for t in &self.tolerated {
            eprintln!("validator (tolerated, output declared down): {t}");
        }
        assert!(
            self.errors.is_empty(),
            "the RFC 8216 oracle found {} problem(s) on the output:\n{}",
            self.errors.len(),
            self.errors.join("\n")
        );
        assert!(!self.reloads.is_empty(), "no media playlist was followed");
        for (path, n) in &self.reloads {
            assert!(
                *n >= min_reloads,
                "{path}: only {n} reloads (wanted {min_reloads}); {self:?}"
            );
        }
    }
}

#[derive(Default)]
struct FollowState {
    down: bool,
    /// Declared down and no playlist has changed since: a playlist first read now starts
    /// with `outage_pending`.
    outage_pending: bool,
    report: FollowReport,
    tracks: BTreeMap<String, Track>,
}

#[derive(Default)]
struct Track {
    tracker: LiveTracker,
    last_text: Option<String>,
    /// Declared down since this playlist last changed: `playlist-stale` is tolerated.
    outage_pending: bool,
}

impl PlaylistFollower {
    /// Starts following `master_path` in a background task (needs a tokio runtime).
    pub fn start<F, Fut, B>(master_path: &str, get: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<B>> + Send,
        B: AsRef<[u8]>,
    {
        Self::start_sharing_keys(master_path, get, Default::default())
    }

    /// [`start`](Self::start), checking that every resource keeps the keys it was first
    /// listed with (`segment-key-differs`) across the playlists of every follower given the
    /// same `keys` (paths are compared resolved, so give followers of one output the same
    /// folder: a live master and its time-shifted masters, say).
    pub fn start_sharing_keys<F, Fut, B>(
        master_path: &str,
        get: F,
        keys: Arc<Mutex<hls::validate::SegmentKeys>>,
    ) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<B>> + Send,
        B: AsRef<[u8]>,
    {
        let state: Arc<Mutex<FollowState>> = Default::default();
        let st = state.clone();
        let master_path = master_path.to_string();
        let folder = master_path
            .rsplit_once('/')
            .map(|(f, _)| format!("{f}/"))
            .unwrap_or_default();
        let task = tokio::spawn(async move {
            let t0 = Instant::now();
            let mut media: Vec<String> = Vec::new();
            // Path -> URI as the master writes it, for the cross-variant rules.
            let mut uri_of: BTreeMap<String, String> = BTreeMap::new();
            let mut master: Option<hls::MasterPlaylist> = None;
            let mut variant_seen: std::collections::HashSet<String> = Default::default();
            loop {
                let mut round: Vec<(String, hls::MediaPlaylist)> = Vec::new();
                let mut interval = DEFAULT_RELOAD;
                if !st.lock().unwrap().down {
                    if let Some(text) = get(master_path.clone()).await.and_then(utf8) {
                        let now = t0.elapsed().as_millis() as u64;
                        let (parsed, problems) = check_text(&text);
                        let mut s = st.lock().unwrap();
                        s.report.master_reloads += 1;
                        for p in problems {
                            s.record(&master_path, now, p, false);
                        }
                        if let Some(hls::Playlist::Master(m)) = parsed {
                            for uri in m
                                .variants
                                .iter()
                                .map(|v| v.uri.as_str())
                                .chain(m.media.iter().filter_map(|r| r.uri()))
                                .chain(m.i_frame_streams.iter().filter_map(|f| f.uri()))
                            {
                                let path = if uri.contains("://") {
                                    uri.to_string()
                                } else {
                                    format!("{folder}{uri}")
                                };
                                uri_of.insert(path.clone(), uri.to_string());
                                if !media.contains(&path) {
                                    media.push(path);
                                }
                            }
                            master = Some(m);
                        }
                    }
                    for path in &media {
                        let Some(text) = get(path.clone()).await.and_then(utf8) else {
                            continue;
                        };
                        let now = t0.elapsed().as_millis() as u64;
                        let Some(parsed) = media_reload(&st, &keys, path, &text, now) else {
                            // Declared down while this read was in flight: don't feed it.
                            break;
                        };
                        if let Some(m) = parsed {
                            if let Some(t) = m.target_duration {
                                interval = interval.min(Duration::from_millis(t.max(1) * 500));
                            }
                            if let Some(uri) = uri_of.get(path) {
                                round.push((uri.clone(), m));
                            }
                        }
                    }
                    if let Some(m) = &master {
                        let refs: Vec<(&str, &hls::MediaPlaylist)> =
                            round.iter().map(|(u, p)| (u.as_str(), p)).collect();
                        let now = t0.elapsed().as_millis() as u64;
                        let mut s = st.lock().unwrap();
                        for p in check_variants(m, &refs) {
                            if variant_seen.insert(format!("{} {}", p.rule, p.message)) {
                                s.record(&master_path, now, p, false);
                            }
                        }
                    }
                }
                tokio::time::sleep(interval).await;
            }
        });
        PlaylistFollower { state, task }
    }

    /// Declares the output down (`true`: an outage or a restart begins; nothing is read
    /// until `false`) or back up. See the type's doc for what this tolerates.
    pub fn set_down(&self, down: bool) {
        let mut s = self.state.lock().unwrap();
        if down {
            s.outage_pending = true;
            for t in s.tracks.values_mut() {
                t.outage_pending = true;
            }
        }
        s.down = down;
    }

    /// What was seen so far (the follower keeps going).
    pub fn report(&self) -> FollowReport {
        self.state.lock().unwrap().report.clone()
    }

    /// Keeps following until every media playlist seen so far has had `min_reloads`
    /// reloads (or `timeout` passes), then stops and returns what was seen. Tests use this
    /// so that "enough reloads were checked" is a condition waited for, not a guess about
    /// how long the rest of the test takes.
    pub async fn finish_after(
        self,
        min_reloads: usize,
        timeout: std::time::Duration,
    ) -> FollowReport {
        let _ = crate::wait_until(timeout, "the follower's reloads", || {
            let r = self.report();
            async move { !r.reloads.is_empty() && r.reloads.values().all(|n| *n >= min_reloads) }
        })
        .await;
        self.finish()
    }

    /// Stops following and returns what was seen.
    pub fn finish(self) -> FollowReport {
        self.task.abort();
        self.report()
    }
}

/// One reload of media playlist `path` (`text` at `now`): its problems, its live rules
/// (`playlist-stale` tolerated while an outage declared before it is pending) and the keys
/// shared across followers, recorded; `None`: declared down while the read was in flight
/// (nothing is fed); else the playlist, if it parsed as a media playlist.
fn media_reload(
    st: &Mutex<FollowState>,
    keys: &Mutex<hls::validate::SegmentKeys>,
    path: &str,
    text: &str,
    now: u64,
) -> Option<Option<hls::MediaPlaylist>> {
    let (parsed, problems) = check_text(text);
    let mut s = st.lock().unwrap();
    if s.down {
        return None;
    }
    let pending = s.outage_pending;
    let track = s.tracks.entry(path.to_string()).or_insert_with(|| Track {
        outage_pending: pending,
        ..Track::default()
    });
    // The first text of a playlist is its baseline, not a change.
    if track.last_text.as_deref() != Some(text) {
        if track.last_text.is_some() {
            track.outage_pending = false;
        }
        track.last_text = Some(text.to_string());
    }
    let stale_ok = track.outage_pending;
    if !stale_ok {
        s.outage_pending = false;
    }
    for p in problems {
        s.record(path, now, p, false);
    }
    let Some(hls::Playlist::Media(m)) = parsed else {
        return Some(None);
    };
    let live = s.tracks.get_mut(path).unwrap().tracker.observe(&m, now);
    for p in live {
        s.record(path, now, p, stale_ok);
    }
    let differs = keys.lock().unwrap().observe(path, &m);
    for p in differs {
        s.record(path, now, p, false);
    }
    *s.report.reloads.entry(path.to_string()).or_default() += 1;
    Some(Some(m))
}

impl Drop for PlaylistFollower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FollowState {
    fn record(&mut self, path: &str, now_ms: u64, p: Problem, stale_ok: bool) {
        let line = format!("{path} @{now_ms}ms: {p}");
        if p.rule == "playlist-stale" && stale_ok {
            self.report.tolerated.push(line);
        } else if p.severity == Severity::Error || p.rule == "reload-gap" {
            self.report.errors.push(line);
        } else {
            self.report
                .warnings
                .entry(format!("{path} [{}]", p.rule))
                .or_insert(p.message);
        }
    }
}

fn utf8<B: AsRef<[u8]>>(b: B) -> Option<String> {
    String::from_utf8(b.as_ref().to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wait_until;
    use std::collections::HashMap;

    const MASTER: &str =
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000,CODECS=\"avc1.42c01e\"\nv/index.m3u8\n";

    fn media(seq: u64, uris: &[&str]) -> String {
        let mut s = format!(
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:{seq}\n"
        );
        for u in uris {
            s.push_str(&format!("#EXTINF:1.0,\n{u}\n"));
        }
        s
    }

    type Store = Arc<Mutex<HashMap<String, String>>>;

    fn follow(store: &Store) -> PlaylistFollower {
        let store = store.clone();
        PlaylistFollower::start("out/master.m3u8", move |p: String| {
            let text = store.lock().unwrap().get(&p).cloned();
            async move { text }
        })
    }

    async fn reloads_reach(f: &PlaylistFollower, n: usize) {
        wait_until(Duration::from_secs(5), "reloads", || {
            let r = f.report();
            async move { r.reloads.get("out/v/index.m3u8").is_some_and(|k| *k >= n) }
        })
        .await
        .unwrap();
    }

    fn set(store: &Store, text: String) {
        let mut s = store.lock().unwrap();
        s.insert("out/master.m3u8".into(), MASTER.into());
        s.insert("out/v/index.m3u8".into(), text);
    }

    #[tokio::test]
    async fn catches_a_changed_uri_a_sequence_going_back_and_a_stale_playlist() {
        let store = Store::default();
        set(&store, media(0, &["a0.ts", "a1.ts", "a2.ts", "a3.ts"]));
        let f = follow(&store);
        reloads_reach(&f, 1).await;
        set(&store, media(1, &["x1.ts", "a2.ts", "a3.ts", "a4.ts"]));
        reloads_reach(&f, 3).await;
        set(
            &store,
            media(0, &["a0.ts", "x1.ts", "a2.ts", "a3.ts", "a4.ts"]),
        );
        // Unchanged from here: stale after 1.5 target durations.
        wait_until(Duration::from_secs(5), "a stale report", || {
            let r = f.report();
            async move { r.errors.iter().any(|e| e.contains("playlist-stale")) }
        })
        .await
        .unwrap();
        let r = f.finish();
        let all = r.errors.join("\n");
        assert!(all.contains("segment-uri-changed"), "{all}");
        assert!(all.contains("media-sequence-decreased"), "{all}");
        assert!(r.tolerated.is_empty(), "{r:?}");
    }

    #[tokio::test]
    async fn a_declared_outage_tolerates_only_its_own_staleness() {
        let store = Store::default();
        set(&store, media(0, &["a0.ts", "a1.ts", "a2.ts"]));
        let f = follow(&store);
        reloads_reach(&f, 1).await;
        f.set_down(true);
        // The outage itself (the fault, not a wait for a condition).
        tokio::time::sleep(Duration::from_millis(1600)).await;
        f.set_down(false);
        // Still the old playlist after the outage: stale, tolerated.
        wait_until(Duration::from_secs(5), "a tolerated stale report", || {
            let r = f.report();
            async move { !r.tolerated.is_empty() }
        })
        .await
        .unwrap();
        let n = f.report().reloads["out/v/index.m3u8"];
        set(&store, media(0, &["a0.ts", "a1.ts", "a2.ts", "a3.ts"]));
        reloads_reach(&f, n + 1).await;
        let r = f.report();
        assert!(r.errors.is_empty(), "{r:?}");
        // Moved again: from now on staleness is an error.
        wait_until(Duration::from_secs(5), "a stale error", || {
            let r = f.report();
            async move { r.errors.iter().any(|e| e.contains("playlist-stale")) }
        })
        .await
        .unwrap();
    }
}
