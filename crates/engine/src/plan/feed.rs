//! A live entry's process-local feed, pure: the segments taken from a live source's
//! snapshots, the chunks they are stored as, and the media they render to (no I/O: the
//! engine's live switch, `engine::live`, polls the source and the store).

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::profile::LiveSlot;
use crate::store::LiveChunk;
use crate::timeline::{EntryMedia, MediaSeg, Millis, RenditionMedia};

/// The process-local state of a scope's open live entry: where the source is, which source
/// sequence number comes next, and the segments appended so far (per rendition slot).
#[derive(Debug)]
pub struct LiveFeed {
    pub(crate) url: String,
    pub(crate) end_ms: Millis,
    pub(crate) next_seq: u64,
    pub(crate) segments: Vec<Vec<MediaSeg>>,
    pub(crate) last_poll_ms: Millis,
    /// Chunks of this entry in the store (what `segments` holds).
    pub(crate) chunks: u64,
}

/// An open entry's segments as stored: an HLS media playlist fragment, every segment with
/// its map and keys spelled out (URIs are already absolute, so nothing is resolved back).
pub(crate) fn chunk_text(segs: &[MediaSeg]) -> String {
    let pl = hls::MediaPlaylist {
        version: Some(6),
        target_duration: Some(
            segs.iter()
                .map(|s| s.duration.round() as u64)
                .max()
                .unwrap_or(1),
        ),
        segments: segs
            .iter()
            .map(|s| hls::Segment {
                uri: s.uri.to_string(),
                duration: s.duration,
                byte_range: s.byte_range,
                discontinuity: s.discontinuity,
                map: s.map.as_deref().cloned(),
                keys: if s.keys.is_empty() {
                    vec![hls::Key::none()]
                } else {
                    s.keys.to_vec()
                },
                markers: s.markers.clone(),
                dateranges: s.dateranges.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let mut out = String::new();
    pl.write_to(&mut out);
    out
}

pub(crate) fn chunk_segments(text: &str) -> Result<Vec<MediaSeg>> {
    let pl = hls::parse_media(text).map_err(|e| Error::Store(format!("live chunk: {e}")))?;
    Ok(pl
        .segments
        .into_iter()
        .map(|s| {
            let mut m = MediaSeg::new(s.uri, s.duration);
            m.discontinuity = s.discontinuity;
            m.map = s.map.map(Arc::new);
            m.keys = Arc::from(
                s.keys
                    .into_iter()
                    .filter(|k| k.method() != Some("NONE"))
                    .collect::<Vec<_>>(),
            );
            m.byte_range = s.byte_range;
            m.markers = s.markers;
            m.dateranges = s.dateranges;
            m
        })
        .collect())
}

impl LiveFeed {
    /// Append the segments of `snap` from `next_seq` on, the same count in every slot (the
    /// fewest any slot has), while the entry stays within `budget_ms`. A source that moved
    /// past `next_seq` (we fell behind its window) resumes at its oldest segment with a
    /// discontinuity. Returns how many were appended per slot.
    pub(crate) fn take(&mut self, snap: &[LiveSlot], budget_ms: u64) -> usize {
        if snap.len() != self.segments.len() || snap.iter().any(|s| s.segments.is_empty()) {
            return 0;
        }
        let max_first = snap.iter().map(|s| s.first_seq).max().unwrap_or(0);
        let mut gap = false;
        if self.next_seq < max_first {
            gap = !self.segments[0].is_empty();
            self.next_seq = max_first;
        }
        let avail = snap
            .iter()
            .map(|s| (s.first_seq + s.segments.len() as u64).saturating_sub(self.next_seq))
            .min()
            .unwrap_or(0) as usize;
        let mut dur: u64 = self.segments[0].iter().map(|s| s.dur_ms).sum();
        let mut n = 0;
        while n < avail {
            let d = snap[0].segments[(self.next_seq - snap[0].first_seq) as usize + n].dur_ms;
            if dur + d > budget_ms {
                break;
            }
            dur += d;
            n += 1;
        }
        for (slot, out) in snap.iter().zip(self.segments.iter_mut()) {
            let from = (self.next_seq - slot.first_seq) as usize;
            for (k, seg) in slot.segments[from..from + n].iter().enumerate() {
                let mut seg = seg.clone();
                seg.discontinuity |= k == 0 && gap;
                out.push(seg);
            }
        }
        self.next_seq += n as u64;
        n
    }

    /// The chunk of the segments from `from` (per slot) on.
    pub(crate) fn chunk(&self, from: usize, first_source_seq: u64) -> LiveChunk {
        LiveChunk {
            first_source_seq,
            next_source_seq: self.next_seq,
            renditions: self
                .segments
                .iter()
                .map(|s| chunk_text(&s[from..]))
                .collect(),
        }
    }

    /// Append a chunk read from the store.
    pub(crate) fn apply(&mut self, c: &LiveChunk) -> Result<()> {
        if c.renditions.len() != self.segments.len() {
            return Err(Error::Store("live chunk: wrong rendition count".into()));
        }
        for (out, text) in self.segments.iter_mut().zip(&c.renditions) {
            out.extend(chunk_segments(text)?);
        }
        self.next_seq = c.next_source_seq;
        self.chunks += 1;
        Ok(())
    }

    pub(crate) fn media(&self) -> Result<EntryMedia> {
        EntryMedia::new(
            self.segments
                .iter()
                .map(|s| RenditionMedia::new(s.clone()))
                .collect(),
        )
    }
}
