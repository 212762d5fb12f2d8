//! The per-viewer playlist rewrite: a pure function of the origin window, the ads decided
//! for this viewer, and the viewer's timeline state. No I/O, no clock.
//!
//! # Model
//! A viewer's [`Timeline`] is a log of output segments ([`Entry`]), shared by every
//! rendition of the session: an entry is either an origin *content* segment (named by its
//! origin media sequence number, the same in every rendition) or a *slot* of a replaced
//! break (an ad segment or a slate segment, named by break and slot index; the rendition
//! is chosen at render time by bandwidth). Output sequence numbers are positions in this
//! log: `media_seq` is the number of the first entry kept.
//!
//! [`Timeline::advance`] appends what the origin window adds (content 1:1; inside a
//! replaced break, the plan's slots as the origin's break time passes them, so the output
//! never runs ahead of the origin by more than one slot) and trims entries whose anchor
//! (the origin segment they stand for) left the origin window. [`Timeline::render`] writes
//! one rendition's playlist from the log.
//!
//! # Invariants (property-tested in `tests/rewrite_props.rs`)
//! - Entries are only appended at the tail and removed at the head, so an output sequence
//!   number never changes its segment, the media sequence never goes back, and a segment
//!   never repeats or vanishes between reloads.
//! - `disc_seq` counts the discontinuities of the entries trimmed from the head.
//! - A break is planned once ([`Plan`]) when its start is first seen, and never re-planned.

use std::collections::{HashMap, VecDeque};

use hls::{DateRange, Key, Marker, MediaPlaylist, Segment};
use serde::{Deserialize, Serialize};

/// Tolerance for comparing accumulated durations, seconds.
const EPS: f64 = 0.05;

/// One output segment of a replaced break.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    /// Index of the ad in the break's decision, `None` for slate.
    pub ad: Option<u16>,
    /// Segment index inside the ad's (or the slate's) media playlist.
    pub seg: u16,
    /// Duration in seconds (of the reference rendition).
    pub dur: f32,
}

/// What a break becomes for this viewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Plan {
    /// The origin's own segments (suppressed, unfilled past the personalization threshold,
    /// or a break this viewer joined in the middle).
    Passthrough,
    /// Ads and slate, in order.
    Replace(Vec<Slot>),
}

/// A break start found in an origin window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakStart {
    /// Origin media sequence number of the break's first segment: the break's key.
    pub key: u64,
    /// Planned duration from the marker (CUE-OUT duration or DATERANGE PLANNED-DURATION).
    pub planned: Option<f64>,
    /// SCTE-35 event id or DATERANGE ID, when the marker carries one.
    pub event_id: Option<String>,
    /// Seconds from the break's start to the end of the window (how far behind the live
    /// edge it is).
    pub behind_live_edge: f64,
}

/// A break as this viewer's timeline keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakState {
    pub key: u64,
    /// 0-based index of the break in this session.
    pub avail_index: u32,
    pub planned: f64,
    pub plan: Plan,
    /// Output time (seconds since the session's first segment) where the break starts.
    pub start_time: f64,
    /// Origin break time seen so far, seconds.
    consumed: f64,
    /// Slots appended so far and their total duration.
    revealed: u16,
    revealed_secs: f64,
    ended: bool,
}

/// How an entry announces the break when ad-marker passthrough is on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Cue {
    None,
    /// First slot of a replaced break: `EXT-X-CUE-OUT:DURATION=<planned>`.
    Out,
    /// Later slots: `EXT-X-CUE-OUT-CONT` with the elapsed time.
    Cont(f32),
    /// First content after a replaced break: `EXT-X-CUE-IN`.
    In,
}

/// What an output segment is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum EntryKind {
    Content { origin_seq: u64 },
    Slot { brk: u64, slot: u16 },
}

/// One output segment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub kind: EntryKind,
    pub disc: bool,
    /// The origin segment this entry stands for in time: trimmed when it leaves the window.
    pub anchor: u64,
    pub cue: Cue,
}

/// One viewer's output timeline (shared by all its renditions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Output sequence number of `entries[0]`.
    pub media_seq: u64,
    /// Discontinuity sequence number at `entries[0]`.
    pub disc_seq: u64,
    pub entries: VecDeque<Entry>,
    /// Breaks still referenced by entries or still running, oldest first.
    pub breaks: Vec<BreakState>,
    /// Breaks started in this session (for `avail.index`).
    pub avails: u32,
    /// Target duration fixed at the first window (a live playlist must not change it).
    pub target: u64,
    next_origin_seq: Option<u64>,
    active: Option<u64>,
    pending_disc: bool,
    pending_cue_in: bool,
    /// Set once the origin said ENDLIST and everything is appended.
    pub complete: bool,
    /// Seconds of output appended since the session's first segment.
    pub appended_secs: f64,
}

/// A segment's role in the break structure.
struct Scan {
    out: bool,
    back_in: bool,
    planned: Option<f64>,
    event_id: Option<String>,
}

fn scan(s: &Segment) -> Scan {
    let mut r = Scan {
        out: false,
        back_in: false,
        planned: None,
        event_id: None,
    };
    for m in &s.markers {
        match m {
            Marker::CueOut { .. } => {
                r.out = true;
                r.planned = r.planned.or(m.duration());
            }
            Marker::CueIn => r.back_in = true,
            _ => {}
        }
    }
    for d in &s.dateranges {
        if d.attrs.contains("SCTE35-OUT") {
            r.out = true;
            r.planned = r.planned.or(d.planned_duration()).or(d.duration());
            r.event_id = r.event_id.take().or(d.id().map(str::to_string));
        }
        if d.attrs.contains("SCTE35-IN") {
            r.back_in = true;
        }
    }
    r
}

fn is_scte_daterange(d: &DateRange) -> bool {
    d.attrs.contains("SCTE35-OUT")
        || d.attrs.contains("SCTE35-IN")
        || d.attrs.contains("SCTE35-CMD")
}

impl Timeline {
    pub fn new() -> Self {
        Self::default()
    }

    /// True before the first window was applied.
    pub fn is_new(&self) -> bool {
        self.next_origin_seq.is_none()
    }

    pub fn break_state(&self, key: u64) -> Option<&BreakState> {
        self.breaks.iter().find(|b| b.key == key)
    }

    /// The breaks that start in `window` and that this timeline has not planned yet: the
    /// caller decides a [`Plan`] for each (asking the ad server) before [`advance`](Self::advance).
    pub fn new_breaks(&self, window: &MediaPlaylist) -> Vec<BreakStart> {
        let total: f64 = window.duration();
        let mut before = 0.0;
        let mut out = Vec::new();
        for (i, s) in window.segments.iter().enumerate() {
            let seq = window.sequence_of(i);
            let sc = scan(s);
            let fresh = self.next_origin_seq.is_none_or(|n| seq >= n);
            if sc.out && fresh && self.break_state(seq).is_none() {
                out.push(BreakStart {
                    key: seq,
                    planned: sc.planned,
                    event_id: sc.event_id,
                    behind_live_edge: total - before,
                });
            }
            before += s.duration;
        }
        out
    }

    /// Apply one origin window (any rendition: sequence numbers and markers agree across
    /// renditions). `plans` holds the plan for each break start returned by
    /// [`new_breaks`](Self::new_breaks); a break without one passes through.
    pub fn advance(&mut self, window: &MediaPlaylist, plans: &HashMap<u64, Plan>) {
        let Some(first) = window.segments.first().map(|_| window.media_sequence) else {
            return;
        };
        let last = first + window.segments.len() as u64 - 1;
        if self.is_new() {
            self.media_seq = first;
            self.disc_seq = window.discontinuity_sequence;
            self.target = window
                .target_duration
                .unwrap_or(0)
                .max(window.computed_target_duration());
        }
        let mut next = self.next_origin_seq.unwrap_or(first);
        if next > last + 1 {
            // The origin went back (restarted): nothing we can append consistently.
            return;
        }
        if next < first {
            // Origin segments were missed (no reload for longer than the window): close a
            // running break and continue at the window's head.
            if let Some(key) = self.active.take() {
                if let Some(b) = self.breaks.iter_mut().find(|b| b.key == key) {
                    b.ended = true;
                }
                self.pending_disc = true;
            }
            next = first;
        }
        for i in (next - first) as usize..window.segments.len() {
            let seq = first + i as u64;
            let s = &window.segments[i];
            let sc = scan(s);
            if sc.back_in && self.active.is_some() {
                self.end_break(seq.saturating_sub(1));
            }
            if sc.out && self.active.is_none() && self.break_state(seq).is_none() {
                let plan = plans.get(&seq).cloned().unwrap_or(Plan::Passthrough);
                let avail_index = self.avails;
                self.avails += 1;
                self.breaks.push(BreakState {
                    key: seq,
                    avail_index,
                    planned: sc.planned.unwrap_or(0.0),
                    plan,
                    start_time: self.appended_secs,
                    consumed: 0.0,
                    revealed: 0,
                    revealed_secs: 0.0,
                    ended: false,
                });
                self.active = Some(seq);
            }
            let replacing = self.active.and_then(|k| {
                let b = self.breaks.iter().find(|b| b.key == k)?;
                matches!(b.plan, Plan::Replace(_)).then_some(k)
            });
            match replacing {
                Some(key) => self.reveal(key, seq, s.duration),
                None => {
                    let disc = s.discontinuity || std::mem::take(&mut self.pending_disc);
                    let cue = if std::mem::take(&mut self.pending_cue_in) {
                        Cue::In
                    } else {
                        Cue::None
                    };
                    self.appended_secs += s.duration;
                    self.entries.push_back(Entry {
                        kind: EntryKind::Content { origin_seq: seq },
                        disc,
                        anchor: seq,
                        cue,
                    });
                    if let Some(key) = self.active
                        && let Some(b) = self.breaks.iter_mut().find(|b| b.key == key)
                    {
                        b.consumed += s.duration;
                        if b.planned > 0.0 && b.consumed >= b.planned - EPS {
                            b.ended = true;
                            self.active = None;
                        }
                    }
                }
            }
        }
        self.next_origin_seq = Some(last + 1);
        if window.end_list && self.active.is_some() {
            self.end_break(last);
        }
        self.complete = window.end_list;
        // Trim what left the origin window.
        while let Some(e) = self.entries.front() {
            if e.anchor >= first {
                break;
            }
            if e.disc {
                self.disc_seq += 1;
            }
            self.media_seq += 1;
            self.entries.pop_front();
        }
        let oldest = self.entries.front().map(|e| e.anchor).unwrap_or(first);
        let active = self.active;
        self.breaks.retain(|b| {
            Some(b.key) == active
                || b.key >= oldest
                || match b.plan {
                    Plan::Passthrough => false,
                    Plan::Replace(_) => self
                        .entries
                        .iter()
                        .any(|e| matches!(e.kind, EntryKind::Slot { brk, .. } if brk == b.key)),
                }
        });
    }

    /// One origin break segment of a replaced break passed: append the slots it covers.
    fn reveal(&mut self, key: u64, seq: u64, dur: f64) {
        let Some(idx) = self.breaks.iter().position(|b| b.key == key) else {
            return;
        };
        let b = &mut self.breaks[idx];
        b.consumed += dur;
        let Plan::Replace(slots) = &b.plan else {
            return;
        };
        while (b.revealed as usize) < slots.len() && b.revealed_secs < b.consumed - EPS {
            let i = b.revealed as usize;
            let slot = slots[i];
            let disc = i == 0 || slots[i - 1].ad != slot.ad || slot.seg == 0;
            let cue = if i == 0 {
                Cue::Out
            } else {
                Cue::Cont(b.revealed_secs as f32)
            };
            self.entries.push_back(Entry {
                kind: EntryKind::Slot {
                    brk: key,
                    slot: b.revealed,
                },
                disc,
                anchor: seq,
                cue,
            });
            b.revealed += 1;
            b.revealed_secs += f64::from(slot.dur);
            self.appended_secs += f64::from(slot.dur);
        }
        if b.planned > 0.0 && b.consumed >= b.planned - EPS {
            self.end_break(seq);
        }
    }

    /// The running break ended: append its remaining slots; the next content starts with
    /// a discontinuity (and a CUE-IN with marker passthrough).
    fn end_break(&mut self, anchor: u64) {
        let Some(key) = self.active.take() else {
            return;
        };
        let Some(idx) = self.breaks.iter().position(|b| b.key == key) else {
            return;
        };
        let b = &mut self.breaks[idx];
        b.ended = true;
        let Plan::Replace(slots) = &b.plan else {
            return;
        };
        while (b.revealed as usize) < slots.len() {
            let i = b.revealed as usize;
            let slot = slots[i];
            let disc = i == 0 || slots[i - 1].ad != slot.ad || slot.seg == 0;
            let cue = if i == 0 {
                Cue::Out
            } else {
                Cue::Cont(b.revealed_secs as f32)
            };
            self.entries.push_back(Entry {
                kind: EntryKind::Slot {
                    brk: key,
                    slot: b.revealed,
                },
                disc,
                anchor,
                cue,
            });
            b.revealed += 1;
            b.revealed_secs += f64::from(slot.dur);
            self.appended_secs += f64::from(slot.dur);
        }
        self.pending_disc = true;
        self.pending_cue_in = true;
    }

    /// Write one rendition's playlist. `window` is that rendition's origin window (segment
    /// URIs as they should appear); `slot_segment` gives the segment for a slot of a break
    /// in this rendition (`None` when it cannot: the listing stops there; its `map` is the
    /// creative's init segment, if any). Keys and init segments are re-stated wherever what
    /// is in effect changes ([`KeyState`]): ads play in the clear after
    /// `EXT-X-KEY:METHOD=NONE`, the content's key comes back after them, and each side of a
    /// discontinuity names its own `EXT-X-MAP`.
    pub fn render(
        &self,
        window: &MediaPlaylist,
        ad_marker_passthrough: bool,
        slot_segment: &dyn Fn(&BreakState, &Slot, u16) -> Option<Segment>,
    ) -> MediaPlaylist {
        let first = window.media_sequence;
        let n = window.segments.len() as u64;
        let mut out = MediaPlaylist {
            version: window.version,
            target_duration: Some(self.target.max(window.target_duration.unwrap_or(0))),
            independent_segments: window.independent_segments,
            playlist_type: window.playlist_type,
            unknown: window.unknown.clone(),
            ..Default::default()
        };
        let mut listing = false;
        let mut media_seq = self.media_seq;
        let mut disc_seq = self.disc_seq;
        let mut longest = 0u64;
        let mut state = KeyState::new(window);
        for e in &self.entries {
            // This rendition's window ends before this entry (renditions may lag each
            // other by a segment): stop, never skip, so the tail only grows.
            if e.anchor >= first + n {
                break;
            }
            let seg = match e.kind {
                EntryKind::Content { origin_seq } => {
                    (origin_seq >= first && origin_seq < first + n).then(|| {
                        let i = (origin_seq - first) as usize;
                        let mut s = window.segments[i].clone();
                        s.discontinuity = e.disc;
                        s.dateranges.retain(|d| !is_scte_daterange(d));
                        if ad_marker_passthrough {
                            if e.cue == Cue::In && !s.markers.contains(&Marker::CueIn) {
                                s.markers.insert(0, Marker::CueIn);
                            }
                        } else {
                            s.markers.clear();
                        }
                        let map = window.effective_map(i).cloned();
                        let keys =
                            content_keys(window.effective_keys(i), origin_seq, map.is_some());
                        state.restate(&mut s, keys, map);
                        s
                    })
                }
                EntryKind::Slot { brk, slot } => {
                    if !listing && e.anchor < first {
                        None
                    } else {
                        self.slot_entry(e, brk, slot, ad_marker_passthrough, slot_segment)
                            .map(|mut s| {
                                let map = s.map.take();
                                state.restate(&mut s, Vec::new(), map);
                                s
                            })
                    }
                }
            };
            match seg {
                Some(s) => {
                    listing = true;
                    longest = longest.max(s.duration.round() as u64);
                    out.segments.push(s);
                }
                None if listing => break,
                None => {
                    media_seq += 1;
                    if e.disc {
                        disc_seq += 1;
                    }
                }
            }
        }
        out.media_sequence = media_seq;
        out.discontinuity_sequence = disc_seq;
        out.end_list = window.end_list && self.complete && self.active.is_none();
        if let Some(t) = out.target_duration.as_mut() {
            *t = (*t).max(longest);
        }
        out
    }

    /// The segment of slot `slot` of break `brk`, with its markers.
    fn slot_entry(
        &self,
        e: &Entry,
        brk: u64,
        slot: u16,
        ad_marker_passthrough: bool,
        slot_segment: &dyn Fn(&BreakState, &Slot, u16) -> Option<Segment>,
    ) -> Option<Segment> {
        let b = self.break_state(brk)?;
        let Plan::Replace(slots) = &b.plan else {
            return None;
        };
        let sl = slots.get(slot as usize)?;
        let mut s = slot_segment(b, sl, slot)?;
        s.discontinuity = e.disc;
        s.markers.clear();
        s.dateranges.clear();
        s.keys.clear();
        if ad_marker_passthrough {
            match e.cue {
                Cue::Out => s.markers.push(Marker::cue_out(b.planned)),
                Cue::Cont(el) => s
                    .markers
                    .push(Marker::cue_out_cont(f64::from(el), b.planned)),
                _ => {}
            }
        }
        Some(s)
    }
}

/// The keys of a content segment as the output must state them: an AES-128 (or TS
/// SAMPLE-AES) IV made explicit (without one, a player takes the segment's media sequence
/// number, which the output renumbers: the origin's number is the right one; fMP4 sample
/// encryption carries its own IVs); `METHOD=NONE` as no key.
fn content_keys(keys: &[Key], origin_seq: u64, fmp4: bool) -> Vec<Key> {
    if keys.iter().all(|k| k.method().is_none_or(|m| m == "NONE")) {
        return Vec::new();
    }
    keys.iter()
        .map(|k| {
            let mut k = k.clone();
            let by_sequence = match k.method() {
                Some("AES-128") => true,
                Some("SAMPLE-AES") => !fmp4,
                _ => false,
            };
            if by_sequence && k.attrs.get("IV").is_none() {
                k.attrs
                    .set_unquoted("IV", format!("0x{:032X}", u128::from(origin_seq)));
            }
            k
        })
        .collect()
}

/// What is in effect at the tail of a playlist being written: keys and init segment. A
/// segment states them again when they differ from what it needs. In encrypted content the
/// first segment always states its key (`METHOD=NONE` for an ad), so a segment's key never
/// changes between reloads as the window slides.
struct KeyState {
    /// `None`: not stated yet.
    keys: Option<Vec<Key>>,
    map: Option<hls::Map>,
}

impl KeyState {
    fn new(window: &MediaPlaylist) -> Self {
        let encrypted = window
            .segments
            .iter()
            .flat_map(|s| &s.keys)
            .any(|k| k.method().is_some_and(|m| m != "NONE"));
        Self {
            keys: (!encrypted).then(Vec::new),
            map: None,
        }
    }

    fn restate(&mut self, s: &mut Segment, keys: Vec<Key>, map: Option<hls::Map>) {
        s.keys.clear();
        if self.keys.as_ref() != Some(&keys) {
            s.keys = if keys.is_empty() {
                vec![Key::none()]
            } else {
                keys.clone()
            };
            self.keys = Some(keys);
        }
        s.map = None;
        if map != self.map || (s.discontinuity && map.is_some()) {
            s.map.clone_from(&map);
            self.map = map;
        }
    }
}
