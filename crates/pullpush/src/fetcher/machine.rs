//! A fetcher's policy, sans I/O: which playlists are due for a reload, what a reload
//! starts (the transfers its [`TrackModel`] returns) and when the next one is
//! ([`crate::poll`]), which playlists to publish and when the master goes out, which
//! segments to delete after their grace period, whether the fetcher is failing (a cause that
//! persisted [`FAILING_AFTER`]), when it has ended or finished stopping, and when to wake
//! next. The time is passed in: tests run it on a made-up clock, without tasks or sleeps.
//! [`super::run`] performs what it decides (HTTP, the output, the store, the transfer tasks,
//! metrics and logs) and reports the outcomes back.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use hls::{MasterPlaylist, MediaPlaylist};
use tokio::time::Instant;
use url::Url;

use crate::track::{TrackModel, TrackState, Transfer};

/// How long a segment that left the window stays at the destination (players holding an
/// older playlist may still ask for it).
pub const DELETE_GRACE: Duration = Duration::from_secs(30);

/// How long a cause must persist before a fetcher shows `failing`.
pub const FAILING_AFTER: Duration = Duration::from_secs(4);

/// Destination layout derived from the source master: the master to publish (`None` for a
/// single media playlist: one is synthesised) and each track's destination name and source.
#[derive(Debug, Clone)]
pub struct Layout {
    pub master: Option<MasterPlaylist>,
    pub tracks: Vec<(String, Url)>,
}

/// One destination track and its polling history.
#[derive(Debug)]
pub struct Track {
    pub model: TrackModel,
    pub url: Url,
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

/// What the fetcher's state is after a look at the whole chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// The first cause found (source, publishing, output delivery, transfer, retrying).
    pub cause: Option<String>,
    /// A cause persisted [`FAILING_AFTER`].
    pub failing: bool,
    /// Seconds the furthest-behind track's destination edge is behind its source.
    pub lag_seconds: f64,
}

/// How the fetcher ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Asked to stop, and every transfer in flight finished and was published.
    Stopped,
    /// The source ended and every playlist was published in full.
    Ended,
}

/// A fetcher's state and decisions (see the module doc).
#[derive(Debug)]
pub struct Machine {
    tracks: Vec<Track>,
    master: Option<MasterPlaylist>,
    master_written: bool,
    deletes: VecDeque<(Instant, String)>,
    /// Per track, its last reload's error (cleared by a good one).
    poll_errors: BTreeMap<usize, String>,
    output_error: Option<String>,
    transfer_error: Option<String>,
    failing_since: Option<Instant>,
    /// Asked to stop: no more polls; the transfers in flight finish and are published.
    stopping: bool,
}

impl Machine {
    /// The tracks of `layout`, resumed from `resume` (a persisted state by track name,
    /// taken), every one due for a reload at `now`.
    pub fn new(
        layout: Layout,
        window: Option<f64>,
        resume: &mut HashMap<String, TrackState>,
        now: Instant,
    ) -> Self {
        let tracks = layout
            .tracks
            .into_iter()
            .map(|(name, url)| Track {
                model: match resume.remove(&name) {
                    Some(state) => TrackModel::resume(name, window, &state),
                    None => TrackModel::new(name, window),
                },
                url,
                next_poll: now,
                last_change: None,
                head: None,
                last_poll: None,
                written: false,
                peak_bps: 0.0,
            })
            .collect();
        Self {
            tracks,
            master: layout.master,
            master_written: false,
            deletes: VecDeque::new(),
            poll_errors: BTreeMap::new(),
            output_error: None,
            transfer_error: None,
            failing_since: None,
            stopping: false,
        }
    }

    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    pub fn set_stopping(&mut self, stopping: bool) {
        self.stopping = stopping;
    }

    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// The tracks due for a reload at `now` (none once stopping), with their sources.
    pub fn due_polls(&self, now: Instant) -> Vec<(usize, Url)> {
        if self.stopping {
            return Vec::new();
        }
        (self.tracks.iter().enumerate())
            .filter(|(_, t)| t.next_poll <= now && !t.model.source_ended)
            .map(|(i, t)| (i, t.url.clone()))
            .collect()
    }

    /// Track `i` reloaded at `now`: the transfers to start (an error retries after half a
    /// target duration and is a failing cause until a reload succeeds).
    pub fn polled(
        &mut self,
        i: usize,
        res: Result<MediaPlaylist, String>,
        now: Instant,
    ) -> Vec<Transfer> {
        let t = &mut self.tracks[i];
        let pl = match res {
            Ok(pl) => pl,
            Err(e) => {
                let target = Duration::from_secs(t.model.target_duration.max(2));
                t.next_poll = now + target / 2;
                self.poll_errors.insert(i, e);
                return Vec::new();
            }
        };
        self.poll_errors.remove(&i);
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
        transfers
    }

    /// A transfer of track `i` finished: `Ok(bytes)` or gave up (a failing cause until the
    /// next success; the model lists it as failed).
    pub fn transferred(&mut self, i: usize, tr: &Transfer, res: Result<u64, String>) {
        let t = &mut self.tracks[i];
        match res {
            Ok(n) => {
                if tr.segment
                    && let Some(d) = t.model.segments.iter().find(|s| s.dest_seq == tr.dest_seq)
                    && d.seg.duration > 0.0
                {
                    t.peak_bps = t.peak_bps.max(n as f64 * 8.0 / d.seg.duration);
                }
                self.transfer_error = None;
                t.model.complete(tr.dest_seq, true);
            }
            Err(e) => {
                self.transfer_error = Some(e);
                t.model.complete(tr.dest_seq, false);
            }
        }
    }

    /// The playlists to publish now (the tracks whose ready prefix changed), after trimming
    /// their windows (what left is deleted [`DELETE_GRACE`] after `now`).
    pub fn publishable(&mut self, now: Instant) -> Vec<(usize, MediaPlaylist)> {
        let mut out = Vec::new();
        for (i, t) in self.tracks.iter_mut().enumerate() {
            if !t.model.changed() {
                continue;
            }
            for path in t.model.trim() {
                self.deletes.push_back((now + DELETE_GRACE, path));
            }
            if let Some(rendered) = t.model.render() {
                out.push((i, rendered));
            }
        }
        out
    }

    /// Track `i`'s playlist `rendered` was put (or not: a failing cause until the next
    /// success). `true`: it was, and its state is worth persisting.
    pub fn published(
        &mut self,
        i: usize,
        rendered: &MediaPlaylist,
        res: Result<(), String>,
    ) -> bool {
        if let Err(e) = res {
            self.output_error = Some(e);
            return false;
        }
        let t = &mut self.tracks[i];
        t.model.published(rendered);
        t.written = true;
        self.output_error = None;
        true
    }

    /// The master to put now: once, after every media playlist exists (the source's, or one
    /// synthesised from the tracks' peak bit rates).
    pub fn master_due(&self) -> Option<MasterPlaylist> {
        if self.master_written || !self.tracks.iter().all(|t| t.written) {
            return None;
        }
        Some(match &self.master {
            Some(m) => m.clone(),
            None => synth_master(&self.tracks),
        })
    }

    pub fn master_put(&mut self, res: Result<(), String>) {
        match res {
            Ok(()) => self.master_written = true,
            Err(e) => self.output_error = Some(e),
        }
    }

    /// Failing while any part of the chain fails: the source, publishing a playlist, the
    /// output's own delivery (`output`: its error while it still holds undelivered work),
    /// the last segment transfer, or one still retrying (`retrying`); and only once the
    /// cause persisted [`FAILING_AFTER`] (one slow reload or one retried PUT under load is
    /// not a failing fetcher).
    pub fn health(
        &mut self,
        now: Instant,
        output: Option<String>,
        retrying: Option<String>,
    ) -> Health {
        let cause = (self.poll_errors.values().next().cloned())
            .or_else(|| self.output_error.clone())
            .or(output)
            .or_else(|| self.transfer_error.clone())
            .or(retrying);
        let since = match &cause {
            Some(_) => *self.failing_since.get_or_insert(now),
            None => {
                self.failing_since = None;
                now
            }
        };
        Health {
            cause,
            failing: now - since >= FAILING_AFTER,
            lag_seconds: (self.tracks.iter())
                .map(|t| t.model.lag_seconds())
                .fold(0.0, f64::max),
        }
    }

    /// Whether the fetcher is done (`in_flight`: transfers still running).
    pub fn finish(&self, in_flight: bool) -> Option<Finish> {
        if self.stopping && !in_flight {
            return Some(Finish::Stopped);
        }
        let all_out = (self.tracks.iter()).all(|t| t.model.finished() && !t.model.changed());
        (self.master_written && all_out && !in_flight).then_some(Finish::Ended)
    }

    /// The destination paths whose grace period is over at `now`.
    pub fn due_deletes(&mut self, now: Instant) -> Vec<String> {
        let mut out = Vec::new();
        while self.deletes.front().is_some_and(|(due, _)| *due <= now) {
            out.push(self.deletes.pop_front().expect("checked").1);
        }
        out
    }

    /// When to wake at the latest if no transfer finishes first: the next reload or
    /// delete; every 500 ms while the master is not out or the output fails, every second
    /// while a cause is pending; once stopping, only transfers wake us (a second's tick).
    pub fn wake(&self, now: Instant) -> Instant {
        if self.stopping {
            return now + Duration::from_secs(1);
        }
        let mut wake = (self.tracks.iter())
            .filter(|t| !t.model.source_ended)
            .map(|t| t.next_poll)
            .min()
            .unwrap_or(now + Duration::from_secs(1));
        if let Some((due, _)) = self.deletes.front() {
            wake = wake.min(*due);
        }
        if !self.master_written || self.output_error.is_some() {
            wake = wake.min(now + Duration::from_millis(500));
        }
        if self.failing_since.is_some() {
            wake = wake.min(now + Duration::from_secs(1));
        }
        wake
    }
}

fn synth_master(tracks: &[Track]) -> MasterPlaylist {
    let mut m = MasterPlaylist::default();
    for t in tracks {
        let bw = (t.peak_bps.ceil() as u64).max(1);
        m.variants.push(hls::VariantStream {
            uri: format!("{}.m3u8", t.model.name),
            attrs: hls::AttributeList::new().unquoted("BANDWIDTH", bw),
        });
    }
    m
}

/// The fetcher's policy on a made-up clock: a test plays the source, the transfers and
/// the output by hand (no tasks, no sleeps, no HTTP).
#[cfg(test)]
mod tests {
    use super::*;

    /// A live source playlist: `n` two-second segments from `first`.
    fn src(first: u64, n: u64, ended: bool) -> MediaPlaylist {
        let mut text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n");
        for i in first..first + n {
            text.push_str(&format!("#EXTINF:2.0,\ns{i}.ts\n"));
        }
        if ended {
            text.push_str("#EXT-X-ENDLIST\n");
        }
        hls::parse_media(&text).unwrap()
    }

    fn machine(window: Option<f64>, now: Instant) -> Machine {
        let layout = Layout {
            master: None,
            tracks: vec![(
                "ch_1".into(),
                Url::parse("http://src/live/index.m3u8").unwrap(),
            )],
        };
        Machine::new(layout, window, &mut HashMap::new(), now)
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// Every transfer succeeds with 100 kB; the playlists are put; the next action's time.
    fn transfer_and_publish(m: &mut Machine, transfers: &[Transfer], now: Instant) -> usize {
        for tr in transfers {
            m.transferred(0, tr, Ok(100_000));
        }
        let out = m.publishable(now);
        for (i, r) in &out {
            assert!(m.published(*i, r, Ok(())));
        }
        out.len()
    }

    /// Polled at once; after a change, next on the expected arrival of the next segment
    /// (not before a fast interval); nothing is due in between, nor once stopping.
    #[test]
    fn reloads_are_due_on_the_expected_arrival() {
        let t0 = Instant::now();
        let mut m = machine(Some(6.0), t0);
        assert_eq!(m.due_polls(t0).len(), 1);
        let tr = m.polled(0, Ok(src(10, 3, false)), t0);
        assert_eq!(tr.len(), 3);
        assert!(m.due_polls(t0 + secs(0.1)).is_empty());
        // The first reload changed the playlist: the next one a fast interval later.
        let next = m.wake(t0);
        assert_eq!(next, t0 + secs(0.25));
        assert_eq!(transfer_and_publish(&mut m, &tr, t0), 1);
        m.master_put(Ok(()));
        assert_eq!(m.wake(t0), next);
        assert_eq!(m.due_polls(next).len(), 1);
        m.set_stopping(true);
        assert!(m.due_polls(next).is_empty());
        assert_eq!(m.wake(next), next + secs(1.0));
    }

    /// A failed reload retries after half a target duration (at least 1 s) and is the
    /// failing cause, but the state says failing only once it persisted 4 s; one good
    /// reload clears it.
    #[test]
    fn a_failing_source_fails_only_after_a_while() {
        let t0 = Instant::now();
        let mut m = machine(Some(6.0), t0);
        assert!(m.polled(0, Err("GET src: 503".into()), t0).is_empty());
        // The master is not out: wake every 500 ms meanwhile.
        assert_eq!(m.wake(t0), t0 + secs(0.5));
        assert!(m.due_polls(t0 + secs(0.9)).is_empty());
        assert_eq!(m.due_polls(t0 + secs(1.0)).len(), 1);
        let h = m.health(t0, None, None);
        assert_eq!(h.cause.as_deref(), Some("GET src: 503"));
        assert!(!h.failing);
        assert!(!m.health(t0 + secs(3.9), None, None).failing);
        assert!(m.health(t0 + FAILING_AFTER, None, None).failing);
        m.polled(0, Ok(src(10, 3, false)), t0 + secs(5.0));
        let h = m.health(t0 + secs(5.0), None, None);
        assert_eq!((h.cause, h.failing), (None, false));
        assert!((h.lag_seconds - 6.0).abs() < 1e-9, "nothing stored yet");
        // The output's undelivered work and a retrying transfer are causes too.
        assert_eq!(
            m.health(t0 + secs(6.0), Some("PUT 500".into()), Some("retry".into()))
                .cause
                .as_deref(),
            Some("PUT 500")
        );
        assert_eq!(
            m.health(t0 + secs(6.0), None, Some("retry".into()))
                .cause
                .as_deref(),
            Some("retry")
        );
    }

    /// The master goes out once every media playlist exists, synthesised from the tracks'
    /// peak bit rates when the source had none; a failed put is retried (and a cause).
    #[test]
    fn the_master_goes_out_after_every_playlist() {
        let t0 = Instant::now();
        let mut m = machine(Some(6.0), t0);
        assert!(m.master_due().is_none());
        let tr = m.polled(0, Ok(src(10, 3, false)), t0);
        transfer_and_publish(&mut m, &tr, t0);
        let master = m.master_due().unwrap();
        assert_eq!(master.variants[0].uri, "ch_1.m3u8");
        // 100 kB in 2 s: 400 kb/s.
        assert_eq!(master.variants[0].bandwidth(), Some(400_000));
        m.master_put(Err("PUT master: 500".into()));
        assert!(m.master_due().is_some());
        assert_eq!(
            m.health(t0, None, None).cause.as_deref(),
            Some("PUT master: 500")
        );
        m.master_put(Ok(()));
        assert!(m.master_due().is_none());
    }

    /// A playlist is published only when its ready prefix changed, and not while the
    /// first segment's transfer is still running; a failed put leaves it to publish again.
    #[test]
    fn playlists_are_published_when_their_ready_prefix_grows() {
        let t0 = Instant::now();
        let mut m = machine(Some(6.0), t0);
        let tr = m.polled(0, Ok(src(10, 3, false)), t0);
        m.transferred(0, &tr[1], Ok(1));
        assert!(m.publishable(t0).is_empty(), "the first is still in flight");
        m.transferred(0, &tr[0], Ok(1));
        let out = m.publishable(t0);
        assert_eq!(out[0].1.segments.len(), 2);
        assert!(!m.published(0, &out[0].1, Err("PUT 503".into())));
        let again = m.publishable(t0);
        assert_eq!(again.len(), 1);
        assert!(m.published(0, &again[0].1, Ok(())));
        assert!(m.publishable(t0).is_empty(), "unchanged");
    }

    /// Segments that left the window are deleted after the grace period, not before.
    #[test]
    fn segments_out_of_the_window_are_deleted_after_the_grace() {
        let t0 = Instant::now();
        let mut m = machine(Some(6.0), t0);
        let tr = m.polled(0, Ok(src(10, 3, false)), t0);
        transfer_and_publish(&mut m, &tr, t0);
        let t1 = t0 + secs(4.0);
        let tr = m.polled(0, Ok(src(12, 3, false)), t1);
        assert_eq!(tr.len(), 2);
        transfer_and_publish(&mut m, &tr, t1);
        assert!(m.due_deletes(t1 + DELETE_GRACE - secs(0.001)).is_empty());
        m.master_put(Ok(()));
        assert!(m.wake(t1) <= t1 + DELETE_GRACE);
        let gone = m.due_deletes(t1 + DELETE_GRACE);
        assert_eq!(gone, ["ch_1_0.ts", "ch_1_1.ts"]);
    }

    /// A transfer that gave up is a cause until the next success, and is listed as failed
    /// (not waited for).
    #[test]
    fn a_transfer_that_gave_up_is_a_cause_until_the_next_success() {
        let t0 = Instant::now();
        let mut m = machine(Some(6.0), t0);
        let tr = m.polled(0, Ok(src(10, 2, false)), t0);
        m.transferred(0, &tr[0], Err("PUT s10: 500".into()));
        assert_eq!(
            m.health(t0, None, None).cause.as_deref(),
            Some("PUT s10: 500")
        );
        m.transferred(0, &tr[1], Ok(1));
        assert_eq!(m.health(t0, None, None).cause, None);
        let out = m.publishable(t0);
        assert_eq!(out[0].1.segments.len(), 1);
    }

    /// A source that ended is not polled again; once every playlist and the master are
    /// out and nothing is in flight, the fetcher has ended. Asked to stop, it finishes
    /// once its transfers in flight have.
    #[test]
    fn ended_and_stopped() {
        let t0 = Instant::now();
        let mut m = machine(None, t0);
        let tr = m.polled(0, Ok(src(0, 2, true)), t0);
        assert!(
            m.due_polls(t0 + secs(60.0)).is_empty(),
            "ended: no more reloads"
        );
        assert_eq!(m.finish(true), None);
        transfer_and_publish(&mut m, &tr, t0);
        assert_eq!(m.finish(false), None, "the master is not out yet");
        m.master_put(Ok(()));
        assert_eq!(m.finish(true), None, "a transfer in flight");
        assert_eq!(m.finish(false), Some(Finish::Ended));

        let mut m = machine(Some(6.0), t0);
        m.polled(0, Ok(src(10, 2, false)), t0);
        m.set_stopping(true);
        assert_eq!(m.finish(true), None);
        assert_eq!(m.finish(false), Some(Finish::Stopped));
    }
}
