//! CMAF (fMP4) packaging of ingested MPEG-TS, for endpoints with `packaging: "cmaf"`.
//!
//! Segments are remuxed with [`media::fmp4::remux_ts`] on first request (a playlist that
//! lists them, or the segment itself) and cached per variant in a [`CmafCache`] as `Bytes`.
//! The cache holds only sequence numbers still on the timeline: [`CmafCache::retain`] runs
//! with every eviction, so its memory is bounded by the DVR window like the TS bytes.
//!
//! Init segments (`ftyp`+`moov`) depend only on codec parameters; each distinct init is
//! kept once per variant under a short content hash (`init_<hash>.mp4`), so a codec change
//! yields a new URI and playlists re-emit `EXT-X-MAP` exactly where the init changes (and
//! after every discontinuity). Remuxed decode times are the TS DTS, so fragments remuxed
//! one at a time are continuous. A segment with a discontinuity is remuxed with
//! `RemuxOptions::starts_span`: its video decodes from its first presentation time, which
//! is where hls.js puts the start of a discontinuity (`media::fmp4`, "Discontinuities";
//! with the TS DTS, hls.js left an 80 ms hole at every discontinuity and stalled there).
//!
//! Limits: only TS segments with H.264 and/or AAC ADTS remux (see `media::fmp4`); a segment
//! that does not remux is listed as `EXT-X-GAP` and its `.m4s` answers 404. AES-128 is not
//! offered on CMAF endpoints (rejected at creation): the hls writer puts `EXT-X-KEY` before
//! `EXT-X-MAP`, which would make the init segment encrypted too.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};

/// One distinct init segment of a variant.
#[derive(Debug, Clone, PartialEq)]
pub struct CmafInit {
    pub bytes: Bytes,
    /// RFC 6381 codec strings of its tracks (`avc1.64001e`, `mp4a.40.2`).
    pub codecs: Vec<String>,
}

/// One remuxed media segment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CmafSeg {
    /// `styp` + `moof` + `mdat`.
    pub bytes: Bytes,
    /// Key of its init in [`CmafCache::inits`] (also the init's file name stem).
    pub init_id: String,
    /// Video keyframes: (byte offset, byte length, seconds from the segment start); the
    /// range starts at the `moof` and ends after the keyframe's sample.
    pub keyframes: Vec<(u64, u64, f64)>,
    /// Presentation timing of its main track (video, else the first), for DASH
    /// `SegmentTimeline`s: `None` when the fragment did not parse.
    pub timing: Option<SegTiming>,
}

/// When a remuxed segment presents, in its main track's media time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegTiming {
    /// Track timescale (90000 for video, the sample rate for audio).
    pub timescale: u32,
    /// Earliest presentation time (smallest decode time + composition offset).
    pub earliest: u64,
    /// Presentation duration: the end of the last presented sample minus `earliest` (what
    /// an `S@d` says; the same whether or not leading decode times were moved up, see
    /// [`media::fmp4`] "Discontinuities").
    pub duration: u64,
}

/// The [`SegTiming`] of `track_id` in a parsed fragment.
fn timing_of(info: &media::fmp4::Mp4Info, track_id: u32, timescale: u32) -> Option<SegTiming> {
    let (mut first, mut end) = (u64::MAX, 0u64);
    for t in info.trafs(track_id) {
        let mut dts = t.base_media_decode_time?;
        for s in &t.samples {
            let pts = dts.saturating_add_signed(s.cts_offset);
            first = first.min(pts);
            end = end.max(pts + u64::from(s.duration));
            dts += u64::from(s.duration);
        }
    }
    (first < end).then_some(SegTiming {
        timescale,
        earliest: first,
        duration: end - first,
    })
}

/// Per-variant cache of remuxed segments (`None` = remux failed) and their inits.
#[derive(Debug, Default)]
pub struct CmafCache {
    pub segs: BTreeMap<u64, Option<Arc<CmafSeg>>>,
    pub inits: HashMap<String, Arc<CmafInit>>,
}

impl CmafCache {
    /// Keep only entries whose sequence number `keep` accepts, and inits still used.
    pub fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        self.segs.retain(|seq, _| keep(*seq));
        let used: std::collections::HashSet<&str> = self
            .segs
            .values()
            .flatten()
            .map(|s| s.init_id.as_str())
            .collect();
        self.inits.retain(|id, _| used.contains(id.as_str()));
    }

    /// Record the result of a remux.
    pub fn insert(&mut self, seq: u64, result: Option<(CmafSeg, CmafInit)>) {
        match result {
            Some((seg, init)) => {
                self.inits
                    .entry(seg.init_id.clone())
                    .or_insert_with(|| Arc::new(init));
                self.segs.insert(seq, Some(Arc::new(seg)));
            }
            None => {
                self.segs.insert(seq, None);
            }
        }
    }

    /// The codecs of the newest remuxed segment's init.
    pub fn newest_codecs(&self) -> Option<&[String]> {
        let seg = self.segs.values().rev().flatten().next()?;
        self.inits.get(&seg.init_id).map(|i| i.codecs.as_slice())
    }
}

/// The init file name of an init id.
pub fn init_file(init_id: &str) -> String {
    format!("init_{init_id}.mp4")
}

/// The init file name of an init id protected for a key period (encrypted endpoints).
pub fn encrypted_init_file(init_id: &str, period: u64) -> String {
    format!("init_{init_id}_{period}.mp4")
}

/// Remux one TS segment. `None` (and a warning) when it does not remux. `starts_span`:
/// the segment carries a discontinuity (see the module docs).
pub fn remux(ts: &[u8], seq: u64, starts_span: bool) -> Option<(CmafSeg, CmafInit)> {
    let opts = media::fmp4::RemuxOptions { starts_span };
    let r = match media::fmp4::remux_ts_with(ts, seq as u32, opts) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(seq, error = %e, "TS -> CMAF remux failed");
            metrics::counter!("origin_cmaf_remux_failed_total").increment(1);
            return None;
        }
    };
    metrics::counter!("origin_cmaf_remuxed_total").increment(1);
    let init_id = hex::encode(&Sha256::digest(&r.init)[..6]);
    let video = r
        .tracks
        .iter()
        .find(|t| matches!(t.kind, media::fmp4::TrackKind::Avc { .. }));
    let info = media::fmp4::inspect(&r.segment);
    let timing = video.or(r.tracks.first()).and_then(|t| {
        let info = info.as_ref().ok()?;
        timing_of(info, t.track_id, t.timescale)
    });
    let keyframes = match (video, info) {
        (Some(t), Ok(info)) => {
            let base = t.base_media_decode_time;
            let ts = f64::from(t.timescale.max(1));
            info.keyframes(t.track_id)
                .into_iter()
                .map(|k| {
                    (
                        k.byte_offset as u64,
                        k.byte_len as u64,
                        k.pts.saturating_sub(base) as f64 / ts,
                    )
                })
                .collect()
        }
        _ => Vec::new(),
    };
    let codecs = r.tracks.iter().map(|t| t.codec_string()).collect();
    Some((
        CmafSeg {
            bytes: Bytes::from(r.segment),
            init_id,
            keyframes,
            timing,
        },
        CmafInit {
            bytes: Bytes::from(r.init),
            codecs,
        },
    ))
}
