//! The pure timeline: `(schedule, rendition, instant) -> live media playlist`.
//!
//! No I/O, no tokio, no clock: time is an argument. Everything a live playlist shows is
//! derived from the schedule (an append-only log of [`Entry`]s starting at the channel
//! epoch) and the instant asked about, so any replica renders the same bytes for the same
//! instant and a restart loses nothing.
//!
//! # Publishing rule (the choice we made)
//! A segment is *published* once its scheduled start time has passed: `start <= now`. The
//! VOD segments already exist on their origin, so there is nothing to wait for; a player
//! that starts three target durations from the live edge is then about three segments behind
//! wall clock, as with a real encoder. (A viewer's session is given an epoch
//! [`PLAYER_START_TARGETS`] target durations before its first request, [`fresh_epoch`], so
//! its first render already lists that much.) A segment leaves the window once it ended more than
//! `window` ago: `end <= now - window`. Both bounds only move forward with `now`, so the media
//! sequence never goes backwards and consecutive renders never skip or repeat a segment.
//!
//! # Counters
//! Each entry stores, per rendition, the number of segments and discontinuities before it
//! (`seq_before`, `disc_before`), so a render touches only the entries in the window:
//! `EXT-X-MEDIA-SEQUENCE` = `seq_before` + index of the first segment in its entry;
//! `EXT-X-DISCONTINUITY-SEQUENCE` = the number of `EXT-X-DISCONTINUITY` tags on segments
//! that already left the window (hls.js / RFC 8216 semantics: a tag on the window's first
//! segment is still in the window). Entries that fell out of the window can be pruned
//! ([`Schedule::prune_before`]) without changing any later render.
//!
//! # Renditions segmented differently
//! The entry's duration is that of rendition 0 (the first video variant). Another rendition
//! whose segments add up to a slightly different total has its segment start times scaled
//! into the entry (`offset * entry_duration / rendition_total`), so every rendition switches
//! entries at the same instant and start times stay monotonic.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use hls::{AttributeList, DateRange, Key, Map, Marker, MediaPlaylist, Segment};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// What a schedule entry plays.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Item {
    /// An HLS VOD (URL of its master playlist).
    Vod {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        url: String,
    },
    /// The channel slate, looped for the entry's duration. `reason` says why (e.g. the VOD
    /// that failed to load).
    Slate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// How long it plays (default: the engine's `slate_duration`); set when the slate
        /// stands in for a live event or fills the gap before one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    /// A true live HLS source (URL of its master or media playlist) between `start_ms` and
    /// `end_ms`. Its entry is *open* while it plays: the engine appends the segments the
    /// source publishes ([`Schedule::extend_open`]) and closes it at the last segment
    /// boundary before `end_ms` ([`Schedule::close_open`]).
    Live {
        url: String,
        start_ms: Millis,
        end_ms: Millis,
        /// The schedule event this live entry plays (its first segment carries the
        /// programme DATERANGE).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        programme: Option<ProgrammeTag>,
    },
    /// An ad break of `duration_ms`, filled with `filler` (an HLS VOD URL) or the slate,
    /// looped; marked with CUE-OUT/CUE-IN and SCTE-35 DATERANGEs.
    AdBreak {
        duration_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filler: Option<String>,
    },
    /// (Part of) a scheduled programme: the HLS VOD `url` from `offset_ms` into it, for at
    /// most `max_ms` (segments are cut at the last boundary before that), padded with the
    /// slate when the VOD ends sooner, so the next programme starts on time. A programme
    /// with ad breaks is several entries (content, break, content, ...); `first` marks the
    /// one that starts it, whose first segment carries the programme DATERANGE.
    Programme {
        programme: ProgrammeTag,
        url: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        offset_ms: u64,
        max_ms: u64,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        first: bool,
    },
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// Which schedule event an entry plays: announced to players with an `EXT-X-DATERANGE`
/// (`CLASS="com.lineup.programme"`, `X-PROGRAMME-ID`, `X-TITLE`) on its first segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgrammeTag {
    /// The schedule event's id.
    pub id: String,
    #[serde(default)]
    pub title: String,
    /// The event's scheduled start and end, epoch ms.
    pub start_ms: Millis,
    pub end_ms: Millis,
}

impl Item {
    pub fn kind(&self) -> &'static str {
        match self {
            Item::Vod { .. } => "vod",
            Item::Slate { .. } => "slate",
            Item::Live { .. } => "live",
            Item::AdBreak { .. } => "ad_break",
            Item::Programme { .. } => "programme",
        }
    }

    /// The programme this entry starts, if it starts one (its DATERANGE goes on the
    /// entry's first segment).
    pub fn starts_programme(&self) -> Option<&ProgrammeTag> {
        match self {
            Item::Programme {
                programme,
                first: true,
                ..
            } => Some(programme),
            Item::Live { programme, .. } => programme.as_ref(),
            _ => None,
        }
    }
}

/// One media segment of an entry, as rendered (URIs absolute).
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSeg {
    pub uri: Arc<str>,
    /// `EXTINF` seconds, written as read.
    pub duration: f64,
    /// The duration used for timing, milliseconds (at least 1).
    pub dur_ms: u64,
    /// A discontinuity inside the item before this segment (ignored on the first segment:
    /// the entry boundary decides that one).
    pub discontinuity: bool,
    /// The `EXT-X-MAP` in effect (absolute URI), if any.
    pub map: Option<Arc<Map>>,
    /// The `EXT-X-KEY`s in effect (absolute URIs); empty when clear.
    pub keys: Arc<[Key]>,
    pub byte_range: Option<hls::ByteRange>,
    /// Markers and DATERANGEs that were in the VOD, passed through.
    pub markers: Vec<Marker>,
    pub dateranges: Vec<DateRange>,
}

impl MediaSeg {
    pub fn new(uri: impl Into<Arc<str>>, duration: f64) -> Self {
        Self {
            uri: uri.into(),
            duration,
            dur_ms: duration_ms(duration),
            discontinuity: false,
            map: None,
            keys: Arc::from(Vec::new()),
            byte_range: None,
            markers: Vec::new(),
            dateranges: Vec::new(),
        }
    }
}

/// Seconds to timing milliseconds (at least 1 so time always advances).
pub fn duration_ms(secs: f64) -> u64 {
    if secs.is_finite() && secs > 0.0 {
        ((secs * 1000.0).round() as u64).max(1)
    } else {
        1
    }
}

/// The segments of one entry for one rendition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RenditionMedia {
    pub segments: Vec<MediaSeg>,
    /// Start of each segment relative to the rendition's own start, ms (unscaled).
    offsets: Vec<u64>,
    total_ms: u64,
}

impl RenditionMedia {
    pub fn new(segments: Vec<MediaSeg>) -> Self {
        let mut offsets = Vec::with_capacity(segments.len());
        let mut t = 0;
        for s in &segments {
            offsets.push(t);
            t += s.dur_ms;
        }
        Self {
            segments,
            offsets,
            total_ms: t,
        }
    }
    pub fn total_ms(&self) -> u64 {
        self.total_ms
    }
    /// Discontinuities inside the item (not counting the entry boundary).
    pub fn internal_discontinuities(&self) -> u32 {
        self.segments
            .iter()
            .skip(1)
            .filter(|s| s.discontinuity)
            .count() as u32
    }
    /// The largest `EXTINF` rounded to an integer (RFC 8216 4.3.3.1).
    pub fn max_rounded(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.duration.round() as u64)
            .max()
            .unwrap_or(1)
    }
}

/// The resolved media of one entry: one [`RenditionMedia`] per channel rendition, in the
/// channel's rendition order. Shared by `Arc`; built from parsed VODs by the profile module.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntryMedia {
    pub renditions: Vec<RenditionMedia>,
}

impl EntryMedia {
    pub fn new(renditions: Vec<RenditionMedia>) -> Result<Self> {
        if renditions.is_empty() || renditions.iter().any(|r| r.segments.is_empty()) {
            return Err(Error::Unusable(
                "an entry needs at least one segment in every rendition".into(),
            ));
        }
        Ok(Self { renditions })
    }

    /// This media repeated until every rendition lasts at least `min_ms`, with a
    /// discontinuity at each repeat; VOD markers are dropped (filler carries no cues).
    pub fn looped(&self, min_ms: u64) -> Result<Self> {
        let mut out = Vec::with_capacity(self.renditions.len());
        for r in &self.renditions {
            if r.segments.is_empty() {
                return Err(Error::Unusable("empty rendition".into()));
            }
            let mut segs = Vec::new();
            let mut total = 0u64;
            'outer: loop {
                for (i, s) in r.segments.iter().enumerate() {
                    let mut s = s.clone();
                    s.markers.clear();
                    s.dateranges.clear();
                    if i == 0 {
                        s.discontinuity = !segs.is_empty();
                    }
                    total += s.dur_ms;
                    segs.push(s);
                    if total >= min_ms {
                        break 'outer;
                    }
                }
            }
            out.push(RenditionMedia::new(segs));
        }
        Self::new(out)
    }

    /// The part of this media from `from_ms` (the segment playing at that offset of
    /// rendition 0 on) lasting about `max_ms`: cut at the segment boundary nearest to it
    /// (a segment is kept when its middle is within `max_ms`), so the cut is off by at most
    /// half a segment either way. Other renditions are cut at the boundaries nearest
    /// rendition 0's, so every rendition covers the same span. `None` when nothing is left
    /// at `from_ms` or not even half a segment fits in `max_ms`.
    pub fn clip(&self, from_ms: u64, max_ms: u64) -> Option<Self> {
        let r0 = self.renditions.first()?;
        let n = r0.segments.len();
        // First segment: the one playing at `from_ms` (ends after it).
        let i0 = r0.offsets[1..].partition_point(|&o| o <= from_ms);
        if i0 >= n || from_ms >= r0.total_ms {
            return None;
        }
        let t0 = r0.offsets[i0];
        // Boundaries after i0: offsets[i0+1..] then the total.
        let end_of = |k: usize| if k < n { r0.offsets[k] } else { r0.total_ms };
        let mut i1 = i0;
        while i1 < n && end_of(i1 + 1) - t0 - r0.segments[i1].dur_ms / 2 <= max_ms {
            i1 += 1;
        }
        if i1 == i0 {
            return None;
        }
        if i0 == 0 && i1 == n {
            return Some(self.clone());
        }
        let (t1, total0) = (end_of(i1), r0.total_ms.max(1));
        let mut out = Vec::with_capacity(self.renditions.len());
        for (r, rm) in self.renditions.iter().enumerate() {
            let (a, b) = if r == 0 {
                (i0, i1)
            } else {
                // Rendition r's boundaries, scaled to rendition 0's time: the nearest to t0
                // and t1 (at least one segment).
                let m = rm.segments.len();
                let total = rm.total_ms.max(1);
                let bound = |k: usize| -> u64 {
                    let o = if k < m { rm.offsets[k] } else { rm.total_ms };
                    (o as u128 * total0 as u128 / total as u128) as u64
                };
                let nearest = |t: u64| -> usize {
                    (0..=m).min_by_key(|&k| bound(k).abs_diff(t)).unwrap_or(0)
                };
                let (a, b) = (nearest(t0).min(m.saturating_sub(1)), nearest(t1).min(m));
                if b > a {
                    (a, b)
                } else {
                    // The span is within one boundary's reach (this rendition's segments are
                    // longer than it): the one segment playing at its middle, not the one
                    // after that boundary (which could end more than a segment past it).
                    let mid = t0 + (t1 - t0) / 2;
                    let k = (0..m)
                        .find(|&k| bound(k + 1) > mid)
                        .unwrap_or(m.saturating_sub(1));
                    (k, (k + 1).min(m))
                }
            };
            out.push(RenditionMedia::new(rm.segments[a..b].to_vec()));
        }
        Self::new(out).ok()
    }

    /// This media followed by `next`, with a discontinuity between them.
    pub fn then(&self, next: &EntryMedia) -> Result<Self> {
        if self.renditions.len() != next.renditions.len() {
            return Err(Error::Unusable(
                "cannot join media with different rendition counts".into(),
            ));
        }
        let out = self
            .renditions
            .iter()
            .zip(&next.renditions)
            .map(|(a, b)| {
                let mut segs = a.segments.clone();
                for (i, s) in b.segments.iter().enumerate() {
                    let mut s = s.clone();
                    if i == 0 {
                        s.discontinuity = true;
                    }
                    segs.push(s);
                }
                RenditionMedia::new(segs)
            })
            .collect();
        Self::new(out)
    }

    /// The largest rounded `EXTINF` of any rendition (the target duration it needs).
    pub fn max_target(&self) -> u64 {
        self.renditions
            .iter()
            .map(RenditionMedia::max_rounded)
            .max()
            .unwrap_or(1)
    }

    /// The entry duration: rendition 0's total.
    pub fn duration_ms(&self) -> u64 {
        self.renditions.first().map(|r| r.total_ms).unwrap_or(0)
    }
}

/// Per-rendition counters of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Segments in this entry.
    pub segments: u32,
    /// Discontinuity tags in this entry (the boundary one included).
    pub discontinuities: u32,
    /// Segments in all entries before this one.
    pub seq_before: u64,
    /// Discontinuity tags in all entries before this one.
    pub disc_before: u64,
}

/// The return to content after an ad break, put on the first segment of the next entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CueIn {
    pub event_id: u32,
    pub break_start_ms: Millis,
    pub break_duration_ms: u64,
}

/// One schedule entry. Serializable (for stores); `media` is attached after loading.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the channel's log (0 = the first entry ever).
    pub index: u64,
    pub start_ms: Millis,
    pub duration_ms: u64,
    pub item: Item,
    pub counts: Vec<Counts>,
    /// `EXT-X-TARGETDURATION` in force from this entry on (running max, never shrinks).
    pub target_duration: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cue_in: Option<CueIn>,
    /// A live entry still growing: it is the last entry and nothing is scheduled after it
    /// until it is closed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
    #[serde(skip)]
    pub media: Option<Arc<EntryMedia>>,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.index == o.index
            && self.start_ms == o.start_ms
            && self.duration_ms == o.duration_ms
            && self.item == o.item
            && self.counts == o.counts
            && self.target_duration == o.target_duration
            && self.cue_in == o.cue_in
    }
}

impl Entry {
    pub fn end_ms(&self) -> Millis {
        self.start_ms + self.duration_ms as Millis
    }
    /// The SCTE-35 `splice_event_id` of an ad-break entry.
    pub fn event_id(&self) -> u32 {
        (self.index as u32).wrapping_add(1)
    }
}

/// A channel's (or session's) schedule: the epoch, the rendition count and the entries still
/// needed (older ones pruned; their counters live on in the remaining entries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub epoch_ms: Millis,
    pub renditions: usize,
    /// The smallest target duration the channel announces (its profile's).
    pub min_target: u64,
    pub entries: VecDeque<Entry>,
    /// Counters after the last entry ever appended (kept when everything is pruned).
    next: NextCounters,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
struct NextCounters {
    index: u64,
    start_ms: Millis,
    seq: Vec<u64>,
    disc: Vec<u64>,
    target: u64,
    cue_in: Option<CueIn>,
}

/// Window options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenderOptions {
    /// Window length, ms.
    pub window_ms: u64,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { window_ms: 60_000 }
    }
}

/// Which segments of a rendition are in the window: enough to key a render cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowPos {
    pub first_seq: u64,
    pub count: u64,
}

impl Schedule {
    pub fn new(epoch_ms: Millis, renditions: usize, min_target: u64) -> Self {
        Self {
            epoch_ms,
            renditions,
            min_target: min_target.max(1),
            entries: VecDeque::new(),
            next: NextCounters {
                index: 0,
                start_ms: epoch_ms,
                seq: vec![0; renditions],
                disc: vec![0; renditions],
                target: min_target.max(1),
                cue_in: None,
            },
        }
    }

    /// When the next appended entry will start.
    pub fn end_ms(&self) -> Millis {
        self.next.start_ms
    }

    /// How many entries were ever appended.
    pub fn len_total(&self) -> u64 {
        self.next.index
    }

    /// Build (without appending) the entry that `item` with `media` would become.
    pub fn next_entry(&self, item: Item, media: Arc<EntryMedia>) -> Result<Entry> {
        if media.renditions.len() != self.renditions {
            return Err(Error::Unusable(format!(
                "media has {} renditions, the channel {}",
                media.renditions.len(),
                self.renditions
            )));
        }
        let index = self.next.index;
        let boundary = u32::from(index > 0);
        let counts = media
            .renditions
            .iter()
            .enumerate()
            .map(|(r, m)| Counts {
                segments: m.segments.len() as u32,
                discontinuities: boundary + m.internal_discontinuities(),
                seq_before: self.next.seq[r],
                disc_before: self.next.disc[r],
            })
            .collect();
        let target = media
            .renditions
            .iter()
            .map(RenditionMedia::max_rounded)
            .max()
            .unwrap_or(1)
            .max(self.next.target);
        Ok(Entry {
            index,
            start_ms: self.next.start_ms,
            duration_ms: media.duration_ms(),
            item,
            counts,
            target_duration: target,
            cue_in: self.next.cue_in,
            open: false,
            media: Some(media),
        })
    }

    /// The last entry if it is open (a live entry still growing).
    pub fn open_entry(&self) -> Option<&Entry> {
        self.entries.back().filter(|e| e.open)
    }

    /// Replace the open entry's media with a longer one (the same segments plus new ones at
    /// the end, in every rendition): its duration, counters and the schedule's end grow.
    /// Segments already published keep their sequence numbers and start times (rendition
    /// 0's; other renditions are scaled, see the module doc, so keep live sources
    /// segment-aligned across renditions).
    pub fn extend_open(&mut self, media: Arc<EntryMedia>) -> Result<()> {
        let renditions = self.renditions;
        let e = self
            .entries
            .back_mut()
            .filter(|e| e.open)
            .ok_or_else(|| Error::Unusable("no open entry to extend".into()))?;
        let old = e.media.as_ref().ok_or(Error::MissingMedia(e.index))?;
        if media.renditions.len() != renditions
            || media
                .renditions
                .iter()
                .zip(&old.renditions)
                .any(|(n, o)| n.segments.len() < o.segments.len())
        {
            return Err(Error::Unusable(
                "a live entry can only grow at its end".into(),
            ));
        }
        let boundary = u32::from(e.index > 0);
        for (c, m) in e.counts.iter_mut().zip(&media.renditions) {
            c.segments = m.segments.len() as u32;
            c.discontinuities = boundary + m.internal_discontinuities();
        }
        e.duration_ms = media.duration_ms();
        e.target_duration = media
            .renditions
            .iter()
            .map(RenditionMedia::max_rounded)
            .max()
            .unwrap_or(1)
            .max(e.target_duration);
        e.media = Some(media);
        self.next.start_ms = e.end_ms();
        for (r, c) in e.counts.iter().enumerate() {
            self.next.seq[r] = c.seq_before + u64::from(c.segments);
            self.next.disc[r] = c.disc_before + u64::from(c.discontinuities);
        }
        self.next.target = e.target_duration;
        Ok(())
    }

    /// Close the open entry (if any): the next entry starts at its end.
    pub fn close_open(&mut self) {
        if let Some(e) = self.entries.back_mut() {
            e.open = false;
        }
    }

    /// Append an entry made by [`Schedule::next_entry`] (or read from a store); it must be
    /// the next one.
    pub fn push(&mut self, entry: Entry) -> Result<()> {
        if entry.index != self.next.index
            || self.open_entry().is_some()
            || entry.start_ms != self.next.start_ms
            || entry.counts.len() != self.renditions
            || entry.duration_ms == 0
        {
            return Err(Error::Unusable(format!(
                "entry {} does not follow the schedule (expected index {} at {})",
                entry.index, self.next.index, self.next.start_ms
            )));
        }
        self.next.index += 1;
        self.next.start_ms = entry.end_ms();
        for (r, c) in entry.counts.iter().enumerate() {
            self.next.seq[r] = c.seq_before + u64::from(c.segments);
            self.next.disc[r] = c.disc_before + u64::from(c.discontinuities);
        }
        self.next.target = entry.target_duration;
        self.next.cue_in = match entry.item {
            Item::AdBreak { .. } => Some(CueIn {
                event_id: entry.event_id(),
                break_start_ms: entry.start_ms,
                break_duration_ms: entry.duration_ms,
            }),
            _ => None,
        };
        self.entries.push_back(entry);
        Ok(())
    }

    /// Append `item` played as `media`.
    pub fn append(&mut self, item: Item, media: Arc<EntryMedia>) -> Result<&Entry> {
        if self.open_entry().is_some() {
            return Err(Error::Unusable("the last entry is still open".into()));
        }
        let e = self.next_entry(item, media)?;
        self.push(e)?;
        Ok(self.entries.back().expect("just pushed"))
    }

    /// Drop entries that ended at or before `t` (keep at least the last one).
    pub fn prune_before(&mut self, t: Millis) {
        while self.entries.len() > 1 && self.entries[0].end_ms() <= t {
            self.entries.pop_front();
        }
    }

    /// Drop every entry and continue as if all entries before `entry` had been pushed and
    /// pruned: the next [`Schedule::push`] must be `entry`. For a replica joining a channel
    /// whose older entries it will never render (or that the store trimmed): their
    /// counters live on in `entry`. Refused if `entry` is behind what this schedule holds.
    pub fn skip_to(&mut self, entry: &Entry) -> Result<()> {
        if entry.index < self.next.index || entry.counts.len() != self.renditions {
            return Err(Error::Unusable(format!(
                "cannot skip to entry {} (schedule is at {})",
                entry.index, self.next.index
            )));
        }
        self.entries.clear();
        self.next = NextCounters {
            index: entry.index,
            start_ms: entry.start_ms,
            seq: entry.counts.iter().map(|c| c.seq_before).collect(),
            disc: entry.counts.iter().map(|c| c.disc_before).collect(),
            // A running max: the entry's value covers everything before it.
            target: entry.target_duration,
            cue_in: entry.cue_in,
        };
        Ok(())
    }

    /// The entry playing at `t`, if scheduled.
    pub fn entry_at(&self, t: Millis) -> Option<&Entry> {
        let i = self.entries.partition_point(|e| e.end_ms() <= t);
        self.entries.get(i).filter(|e| e.start_ms <= t)
    }

    /// Visit the window's segments of rendition `r` at `now`, in order: (entry, index in
    /// entry, effective start ms). No allocation: [`Schedule::window_pos`] runs on every
    /// request, render-cache hit or not.
    fn visit_window<'a>(
        &'a self,
        r: usize,
        now: Millis,
        opts: &RenderOptions,
        mut f: impl FnMut(&'a Entry, usize, Millis),
    ) -> Result<()> {
        let lo = now - opts.window_ms as Millis;
        let first = self.entries.partition_point(|e| e.end_ms() <= lo);
        for e in self.entries.range(first..) {
            if e.start_ms > now {
                break;
            }
            let media = e.media.as_ref().ok_or(Error::MissingMedia(e.index))?;
            let rm = media
                .renditions
                .get(r)
                .ok_or(Error::NoSuchRendition(r.to_string()))?;
            let total = rm.total_ms.max(1);
            let dur = e.duration_ms;
            // Offset -> ms into the entry, scaled to its scheduled duration; exact (floor)
            // like the u128 form, which is kept for products past u64.
            let scaled = |o: u64| -> Millis {
                match o.checked_mul(dur) {
                    Some(p) => (p / total) as Millis,
                    None => (o as u128 * dur as u128 / total as u128) as Millis,
                }
            };
            let n = rm.segments.len();
            // Segments that ended before the window's start are skipped by binary search
            // (offsets are monotonic, and so are their scaled start times).
            let skip = if e.start_ms < lo {
                let rel = lo - e.start_ms;
                // First segment whose (scaled) end is after `lo`: end of i = start of i+1.
                rm.offsets[1..].partition_point(|&o| scaled(o) <= rel)
            } else {
                0
            };
            // The end of segment i is the start of i + 1: each offset is scaled once.
            let mut start = e.start_ms + scaled(rm.offsets.get(skip).copied().unwrap_or(0));
            for i in skip..n {
                if start > now {
                    break;
                }
                let end = if i + 1 < n {
                    e.start_ms + scaled(rm.offsets[i + 1])
                } else {
                    e.end_ms()
                };
                if end > lo {
                    f(e, i, start);
                }
                start = end;
            }
        }
        Ok(())
    }

    /// The window's segments of rendition `r` at `now`: (entry, index in entry, start ms).
    fn window_segments(
        &self,
        r: usize,
        now: Millis,
        opts: &RenderOptions,
    ) -> Result<Vec<(&Entry, usize, Millis)>> {
        let mut out = Vec::new();
        self.visit_window(r, now, opts, |e, i, start| out.push((e, i, start)))?;
        Ok(out)
    }

    /// Where the window of rendition `r` is at `now` (cheap: no playlist built, no
    /// allocation).
    pub fn window_pos(&self, r: usize, now: Millis, opts: &RenderOptions) -> Result<WindowPos> {
        let mut pos = WindowPos {
            first_seq: 0,
            count: 0,
        };
        self.visit_window(r, now, opts, |e, i, _| {
            if pos.count == 0 {
                pos.first_seq = e.counts[r].seq_before + i as u64;
            }
            pos.count += 1;
        })?;
        Ok(pos)
    }

    /// Render the live media playlist of rendition `r` at `now`.
    pub fn render(&self, r: usize, now: Millis, opts: &RenderOptions) -> Result<MediaPlaylist> {
        if r >= self.renditions {
            return Err(Error::NoSuchRendition(r.to_string()));
        }
        let segs = self.window_segments(r, now, opts)?;
        let mut pl = MediaPlaylist {
            version: Some(6),
            target_duration: Some(self.min_target),
            independent_segments: true,
            ..Default::default()
        };
        let Some(&(first_entry, first_i, _)) = segs.first() else {
            // Nothing published yet: an empty live playlist.
            pl.target_duration = Some(
                self.entries
                    .front()
                    .map(|e| e.target_duration)
                    .unwrap_or(self.min_target),
            );
            return Ok(pl);
        };
        let c = first_entry.counts[r];
        pl.media_sequence = c.seq_before + first_i as u64;
        let first_media = first_entry.media.as_ref().expect("checked");
        let internal_before = first_media.renditions[r].segments[..first_i]
            .iter()
            .enumerate()
            .filter(|(i, s)| *i > 0 && s.discontinuity)
            .count() as u64;
        let boundary_before = u64::from(first_i > 0 && first_entry.index > 0);
        pl.discontinuity_sequence = c.disc_before + boundary_before + internal_before;

        let mut target = self.min_target;
        let mut prev_map: Option<&Arc<Map>> = None;
        let mut prev_keys: Option<&Arc<[Key]>> = None;
        pl.segments.reserve(segs.len());
        for (n, &(e, i, start)) in segs.iter().enumerate() {
            target = target.max(e.target_duration);
            let media = e.media.as_ref().expect("checked");
            let s = &media.renditions[r].segments[i];
            let head = n == 0;
            let disc = if i == 0 { e.index > 0 } else { s.discontinuity };
            let mut seg = Segment {
                uri: s.uri.to_string(),
                duration: s.duration,
                byte_range: s.byte_range,
                discontinuity: disc,
                markers: s.markers.clone(),
                dateranges: s.dateranges.clone(),
                ..Default::default()
            };
            if head || disc || prev_keys.map(|k| k[..] != s.keys[..]).unwrap_or(true) {
                if !s.keys.is_empty() {
                    seg.keys = s.keys.to_vec();
                } else if !head && prev_keys.map(|k| !k.is_empty()).unwrap_or(false) {
                    seg.keys = vec![Key::none()];
                }
            }
            prev_keys = Some(&s.keys);
            if let Some(m) = &s.map
                && (head || disc || prev_map.map(|p| **p != **m).unwrap_or(true))
            {
                seg.map = Some((**m).clone());
            }
            prev_map = s.map.as_ref();
            if head || i == 0 {
                seg.program_date_time = Some(pdt(start));
            }
            if i == 0
                && let Some(ci) = e.cue_in
            {
                seg.markers.insert(0, Marker::CueIn);
                seg.dateranges.insert(0, cue_in_daterange(&ci));
            }
            if i == 0
                && let Some(p) = e.item.starts_programme()
            {
                seg.dateranges.push(programme_daterange(e, p));
            }
            if let Item::AdBreak { .. } = e.item {
                let offset_ms = (start - e.start_ms).max(0) as u64;
                let dur = e.duration_ms as f64 / 1000.0;
                if i == 0 {
                    seg.markers.insert(0, Marker::cue_out(dur));
                    seg.dateranges.insert(0, cue_out_daterange(e));
                } else {
                    seg.markers
                        .insert(0, Marker::cue_out_cont(offset_ms as f64 / 1000.0, dur));
                }
            }
            pl.segments.push(seg);
        }
        pl.target_duration = Some(target);
        Ok(pl)
    }
}

/// How many target durations of segments a playlist must list for a player to start: players
/// start this many target durations from the live edge (RFC 8216 6.3.3, and a server must
/// not shrink a live playlist below it, 6.2.2).
pub const PLAYER_START_TARGETS: i64 = 3;

/// The epoch of a schedule that starts (its first entry, whose target duration is
/// `target_s`) at `now` for a viewer: [`PLAYER_START_TARGETS`] target durations earlier, so
/// the first render already lists at least that much (every segment starting at or before
/// `now` is published, and they cover `[epoch, now]`), and a player starting that far from
/// the live edge starts at about the first entry's beginning.
pub fn fresh_epoch(now: Millis, target_s: u64) -> Millis {
    now - PLAYER_START_TARGETS * 1000 * target_s.max(1) as Millis
}

/// `EXT-X-PROGRAM-DATE-TIME` value for an instant.
pub fn pdt(ms: Millis) -> DateTime<FixedOffset> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .fixed_offset()
}

fn date_string(ms: Millis) -> String {
    pdt(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn secs(ms: u64) -> String {
    let mut s = String::new();
    use std::fmt::Write;
    let _ = write!(s, "{}", ms as f64 / 1000.0);
    s
}

const TICKS_PER_MS: u64 = 90;

fn cue_out_daterange(e: &Entry) -> DateRange {
    let scte =
        media::scte35::SpliceInsert::out(e.event_id(), None, Some(e.duration_ms * TICKS_PER_MS));
    DateRange {
        attrs: AttributeList::new()
            .quoted("ID", format!("break-{}", e.event_id()))
            .quoted("CLASS", "urn:lineup:ad-break")
            .quoted("START-DATE", date_string(e.start_ms))
            .unquoted("PLANNED-DURATION", secs(e.duration_ms))
            .unquoted("SCTE35-OUT", scte.to_hex()),
    }
}

/// The DATERANGE announcing a programme: `START-DATE` is when this entry actually starts
/// (the first segment's date), `X-SCHEDULED-START` when the schedule said, and
/// `PLANNED-DURATION` the time left until its scheduled end. The id is unique per entry.
fn programme_daterange(e: &Entry, p: &ProgrammeTag) -> DateRange {
    DateRange {
        attrs: AttributeList::new()
            .quoted("ID", format!("programme-{}", e.start_ms))
            .quoted("CLASS", PROGRAMME_CLASS)
            .quoted("START-DATE", date_string(e.start_ms))
            .unquoted(
                "PLANNED-DURATION",
                secs((p.end_ms - e.start_ms).max(0) as u64),
            )
            .quoted("X-PROGRAMME-ID", quotable(&p.id))
            .quoted("X-TITLE", quotable(&p.title))
            .quoted("X-SCHEDULED-START", date_string(p.start_ms)),
    }
}

/// A quoted-string attribute value may hold neither `"` nor a line break (RFC 8216
/// 4.2): those become `'` and spaces.
fn quotable(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            '\r' | '\n' => ' ',
            c => c,
        })
        .collect()
}

/// The `CLASS` of the DATERANGE that starts each scheduled programme.
pub const PROGRAMME_CLASS: &str = "com.lineup.programme";

fn cue_in_daterange(ci: &CueIn) -> DateRange {
    let scte = media::scte35::SpliceInsert::back_in(ci.event_id, None);
    DateRange {
        attrs: AttributeList::new()
            .quoted("ID", format!("break-{}", ci.event_id))
            .quoted("CLASS", "urn:lineup:ad-break")
            .quoted("START-DATE", date_string(ci.break_start_ms))
            .unquoted("DURATION", secs(ci.break_duration_ms))
            .unquoted("SCTE35-IN", scte.to_hex()),
    }
}
