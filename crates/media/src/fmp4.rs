//! fMP4/CMAF: structural inspection and TS -> fMP4 remux (H.264 + AAC).
//!
//! [`inspect`] lists top-level boxes, the tracks in `moov` (timescale, codec,
//! size) and every fragment (`moof`/`traf`/`tfdt`/`trun`: base decode time,
//! samples with duration, size, composition offset, sync flag, absolute data
//! offset). That is enough for structural checks ("init + fragments, tfdt
//! continuous") and for keyframe byte ranges of fMP4 segments
//! ([`Mp4Info::keyframes`]).
//!
//! [`remux_ts`] turns one TS segment into a CMAF init segment and a media
//! segment. Decode times are the TS PTS/DTS (90 kHz for video; the sample rate
//! for audio), so segments remuxed one by one line up exactly; no edit list is
//! written and presentation time is the original PTS. Video-only and audio-only
//! inputs work (demuxed renditions).
//!
//! # Discontinuities
//! A segment that starts a run of continuous timestamps (after an
//! `EXT-X-DISCONTINUITY`) is remuxed with [`RemuxOptions::starts_span`]: its
//! first video sample then decodes at its presentation time (`tfdt` = earliest
//! PTS) and the next few samples' decode times are spaced closer until they
//! meet the TS DTS (see `decode_first_at_presentation`); presentation times and
//! the segment's end are unchanged. Why: hls.js (passthrough remuxer) places a
//! discontinuity by mapping the smallest `tfdt` of the fragment's tracks to
//! the end of what it buffered before. With the TS DTS as `tfdt`, B-frame video
//! (DTS 80 ms before PTS at 25 fps) was presented 80 ms after that point, and
//! every discontinuity left a hole that stalled hls.js. With `tfdt` at the
//! first PTS, the earliest track (usually audio) starts where the previous
//! span ended. Composition offsets stay non-negative (`trun` version 0): with
//! version 1 and negative offsets, ffmpeg 5.1 presents fragmented video late by
//! the largest negative offset.
//!
//! # Why hand-written
//! `mp4-atom` 0.17 has everything, but needs Rust 1.88 (the workspace promises
//! 1.85) and pulls `num`, `derive_more`, `pastey`, `thiserror` 1 and `tracing`
//! for ~15 boxes we write and ~10 we read. The writer here is a 10-line
//! size-patching helper, the reader a bounds-checked box walker. Output is
//! verified by ffmpeg/ffprobe in the tests, and the reader is checked against
//! ffmpeg's own fMP4 output.
//!
//! # Limits
//! One AU per video PES; in-band SPS/PPS/AUD are dropped (parameter sets live
//! in avcC; a mid-segment SPS change is not supported); HEVC is not remuxed;
//! the last video sample's duration is taken from the one before it.

use crate::codec::{Adts, parse_adts, parse_sps};
use crate::error::{Error, Result, invalid, truncated};
use crate::ts::{self, StreamType, annexb_nals};

// ---------------------------------------------------------------- reading

/// A top-level box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxInfo {
    /// Four-character type, e.g. `"moof"`.
    pub kind: String,
    pub offset: usize,
    pub size: usize,
}

/// A track from `moov`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Track {
    pub track_id: u32,
    pub timescale: u32,
    /// `hdlr` handler type: `"vide"`, `"soun"`, ...
    pub handler: String,
    /// First sample entry type: `"avc1"`, `"mp4a"`, `"hvc1"`, ...
    pub codec: String,
    /// From the visual sample entry.
    pub width: u16,
    pub height: u16,
    /// From the audio sample entry.
    pub channels: u16,
    pub sample_rate: u32,
}

/// One sample of a `trun`, defaults from `tfhd`/`trex` applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub duration: u32,
    pub size: u32,
    pub flags: u32,
    /// Composition time offset.
    pub cts_offset: i64,
    /// Absolute byte offset of the sample data in the input.
    pub data_offset: usize,
}

impl Sample {
    /// `sample_is_non_sync_sample` is clear.
    pub fn is_sync(&self) -> bool {
        self.flags & 0x0001_0000 == 0
    }
}

/// A `traf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFragment {
    pub track_id: u32,
    /// `tfdt` baseMediaDecodeTime, in the track timescale.
    pub base_media_decode_time: Option<u64>,
    pub samples: Vec<Sample>,
}

impl TrackFragment {
    /// Sum of the sample durations (track timescale).
    pub fn duration(&self) -> u64 {
        self.samples.iter().map(|s| u64::from(s.duration)).sum()
    }
}

/// A `moof` and the `mdat` after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub moof_offset: usize,
    pub moof_size: usize,
    /// `mfhd` sequence_number.
    pub sequence_number: u32,
    pub trafs: Vec<TrackFragment>,
    /// Offset and size of the following `mdat`, if any.
    pub mdat: Option<(usize, usize)>,
}

/// A keyframe of an fMP4 segment and the byte range an I-frame playlist needs:
/// from the start of its `moof` to the end of the keyframe's sample data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mp4Keyframe {
    pub track_id: u32,
    /// Presentation time (decode time + composition offset), track timescale.
    pub pts: u64,
    pub byte_offset: usize,
    pub byte_len: usize,
}

/// The result of [`inspect`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mp4Info {
    pub boxes: Vec<BoxInfo>,
    pub tracks: Vec<Track>,
    pub fragments: Vec<Fragment>,
}

impl Mp4Info {
    /// Kinds of the top-level boxes, e.g. `["ftyp", "moov"]`.
    pub fn box_kinds(&self) -> Vec<&str> {
        self.boxes.iter().map(|b| b.kind.as_str()).collect()
    }

    /// The track fragments of one track across all fragments.
    pub fn trafs(&self, track_id: u32) -> impl Iterator<Item = &TrackFragment> {
        self.fragments
            .iter()
            .flat_map(|f| f.trafs.iter())
            .filter(move |t| t.track_id == track_id)
    }

    /// Sync samples of `track_id` with their byte ranges (see [`Mp4Keyframe`]).
    pub fn keyframes(&self, track_id: u32) -> Vec<Mp4Keyframe> {
        let mut out = Vec::new();
        for f in &self.fragments {
            for t in f.trafs.iter().filter(|t| t.track_id == track_id) {
                let mut dts = t.base_media_decode_time.unwrap_or(0);
                for s in &t.samples {
                    if s.is_sync() {
                        out.push(Mp4Keyframe {
                            track_id,
                            pts: dts.saturating_add_signed(s.cts_offset),
                            byte_offset: f.moof_offset,
                            byte_len: s.data_offset + s.size as usize - f.moof_offset,
                        });
                    }
                    dts += u64::from(s.duration);
                }
            }
        }
        out
    }

    /// Checks that every track's fragments follow each other without gaps:
    /// each `tfdt` equals the previous `tfdt` plus the previous fragment's
    /// duration. Returns the first discontinuity as an error.
    pub fn check_continuity(&self) -> Result<()> {
        let mut next: std::collections::HashMap<u32, u64> = Default::default();
        for f in &self.fragments {
            for t in &f.trafs {
                let Some(base) = t.base_media_decode_time else {
                    return Err(Error::Missing {
                        what: "fMP4",
                        detail: format!(
                            "tfdt in traf of track {} (moof at byte {})",
                            t.track_id, f.moof_offset
                        ),
                    });
                };
                if let Some(&want) = next.get(&t.track_id)
                    && base != want
                {
                    return Err(invalid(
                        "fMP4",
                        f.moof_offset,
                        format!("track {} tfdt {base}, expected {want}", t.track_id),
                    ));
                }
                next.insert(t.track_id, base + t.duration());
            }
        }
        Ok(())
    }
}

pub(crate) struct Reader<'a> {
    d: &'a [u8],
    /// Absolute offset of d[0].
    base: usize,
    p: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(d: &'a [u8], base: usize) -> Self {
        Self { d, base, p: 0 }
    }
    pub(crate) fn off(&self) -> usize {
        self.base + self.p
    }
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if self.d.len() - self.p < n {
            return Err(truncated(
                what,
                self.base + self.d.len(),
                n - (self.d.len() - self.p),
            ));
        }
        let s = &self.d[self.p..self.p + n];
        self.p += n;
        Ok(s)
    }
    pub(crate) fn u8(&mut self, w: &'static str) -> Result<u8> {
        Ok(self.take(1, w)?[0])
    }
    pub(crate) fn u16(&mut self, w: &'static str) -> Result<u16> {
        let b = self.take(2, w)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    pub(crate) fn u32(&mut self, w: &'static str) -> Result<u32> {
        let b = self.take(4, w)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn u64(&mut self, w: &'static str) -> Result<u64> {
        let b = self.take(8, w)?;
        Ok(u64::from_be_bytes(b.try_into().unwrap_or([0; 8])))
    }
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.d[self.p..]
    }
}

/// Iterates boxes in `d` (absolute offset `base`): (kind, box offset, body, body offset).
/// (kind, box offset, body, body offset)
pub(crate) type RawBox<'a> = ([u8; 4], usize, &'a [u8], usize);

pub(crate) fn boxes(d: &[u8], base: usize) -> Result<Vec<RawBox<'_>>> {
    const W: &str = "MP4 box header";
    let mut out = Vec::new();
    let mut p = 0;
    while p < d.len() {
        if d.len() - p < 8 {
            return Err(truncated(W, base + d.len(), 8 - (d.len() - p)));
        }
        let mut size = u32::from_be_bytes([d[p], d[p + 1], d[p + 2], d[p + 3]]) as u64;
        let kind = [d[p + 4], d[p + 5], d[p + 6], d[p + 7]];
        let mut hdr = 8;
        if size == 1 {
            if d.len() - p < 16 {
                return Err(truncated(W, base + d.len(), 16 - (d.len() - p)));
            }
            size = u64::from_be_bytes(d[p + 8..p + 16].try_into().unwrap_or([0; 8]));
            hdr = 16;
        } else if size == 0 {
            size = (d.len() - p) as u64;
        }
        if size < hdr as u64 {
            return Err(invalid(
                W,
                base + p,
                format!("box size {size} smaller than its header"),
            ));
        }
        if size > (d.len() - p) as u64 {
            return Err(truncated(
                "MP4 box",
                base + d.len(),
                (size - (d.len() - p) as u64) as usize,
            ));
        }
        let size = size as usize;
        out.push((kind, base + p, &d[p + hdr..p + size], base + p + hdr));
        p += size;
    }
    Ok(out)
}

pub(crate) fn child<'a>(
    d: &'a [u8],
    base: usize,
    kind: &[u8; 4],
) -> Result<Option<(&'a [u8], usize)>> {
    Ok(boxes(d, base)?
        .into_iter()
        .find(|b| &b.0 == kind)
        .map(|b| (b.2, b.3)))
}

fn fourcc(k: &[u8]) -> String {
    k.iter()
        .map(|&c| if c.is_ascii_graphic() { c as char } else { '?' })
        .collect()
}

#[derive(Clone, Copy, Default)]
struct Defaults {
    duration: u32,
    size: u32,
    flags: u32,
}

/// Inspects an init segment, a media segment, or both concatenated.
pub fn inspect(data: &[u8]) -> Result<Mp4Info> {
    let mut info = Mp4Info::default();
    let mut trex: std::collections::HashMap<u32, Defaults> = Default::default();
    let top = boxes(data, 0)?;
    for (kind, off, body, body_off) in &top {
        info.boxes.push(BoxInfo {
            kind: fourcc(kind),
            offset: *off,
            size: body.len() + (body_off - off),
        });
        match kind {
            b"moov" => {
                for (k, _, b, bo) in boxes(body, *body_off)? {
                    match &k {
                        b"trak" => info.tracks.push(parse_trak(b, bo)?),
                        b"mvex" => {
                            for (k, _, b, bo) in boxes(b, bo)? {
                                if &k == b"trex" {
                                    let mut r = Reader::new(b, bo);
                                    r.take(4, "trex")?;
                                    let id = r.u32("trex")?;
                                    r.u32("trex")?;
                                    trex.insert(
                                        id,
                                        Defaults {
                                            duration: r.u32("trex")?,
                                            size: r.u32("trex")?,
                                            flags: r.u32("trex")?,
                                        },
                                    );
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            b"moof" => info
                .fragments
                .push(parse_moof(body, *body_off, *off, &trex)?),
            b"mdat" => {
                if let Some(f) = info.fragments.last_mut()
                    && f.mdat.is_none()
                {
                    f.mdat = Some((*off, body.len() + (body_off - off)));
                }
            }
            _ => {}
        }
    }
    // Sample data must lie inside the input.
    for f in &info.fragments {
        for t in &f.trafs {
            for s in &t.samples {
                if s.data_offset
                    .checked_add(s.size as usize)
                    .is_none_or(|e| e > data.len())
                {
                    return Err(invalid(
                        "trun",
                        f.moof_offset,
                        format!("sample data {}+{} outside the input", s.data_offset, s.size),
                    ));
                }
            }
        }
    }
    Ok(info)
}

fn parse_trak(d: &[u8], base: usize) -> Result<Track> {
    let mut t = Track::default();
    if let Some((b, bo)) = child(d, base, b"tkhd")? {
        let mut r = Reader::new(b, bo);
        let v = r.u8("tkhd")?;
        r.take(3, "tkhd")?;
        r.take(if v == 1 { 16 } else { 8 }, "tkhd")?;
        t.track_id = r.u32("tkhd")?;
    }
    let Some((mdia, mo)) = child(d, base, b"mdia")? else {
        return Err(Error::Missing {
            what: "trak",
            detail: format!("mdia (trak body at byte {base})"),
        });
    };
    if let Some((b, bo)) = child(mdia, mo, b"mdhd")? {
        let mut r = Reader::new(b, bo);
        let v = r.u8("mdhd")?;
        r.take(3, "mdhd")?;
        r.take(if v == 1 { 16 } else { 8 }, "mdhd")?;
        t.timescale = r.u32("mdhd")?;
    }
    if let Some((b, bo)) = child(mdia, mo, b"hdlr")? {
        let mut r = Reader::new(b, bo);
        r.take(8, "hdlr")?;
        t.handler = fourcc(r.take(4, "hdlr")?);
    }
    let stsd = child(mdia, mo, b"minf")?
        .map(|(b, o)| child(b, o, b"stbl"))
        .transpose()?
        .flatten()
        .map(|(b, o)| child(b, o, b"stsd"))
        .transpose()?
        .flatten();
    if let Some((b, bo)) = stsd {
        let mut r = Reader::new(b, bo);
        r.take(8, "stsd")?;
        if let Some((k, _, e, eo)) = boxes(r.rest(), r.off())?.into_iter().next() {
            t.codec = fourcc(&k);
            let mut r = Reader::new(e, eo);
            r.take(8, "sample entry")?;
            if t.handler == "vide" {
                r.take(16, "visual sample entry")?;
                t.width = r.u16("visual sample entry")?;
                t.height = r.u16("visual sample entry")?;
            } else if t.handler == "soun" {
                r.take(8, "audio sample entry")?;
                t.channels = r.u16("audio sample entry")?;
                r.take(6, "audio sample entry")?;
                t.sample_rate = r.u32("audio sample entry")? >> 16;
            }
        }
    }
    Ok(t)
}

fn parse_moof(
    d: &[u8],
    base: usize,
    moof_off: usize,
    trex: &std::collections::HashMap<u32, Defaults>,
) -> Result<Fragment> {
    let mut f = Fragment {
        moof_offset: moof_off,
        moof_size: d.len() + (base - moof_off),
        sequence_number: 0,
        trafs: vec![],
        mdat: None,
    };
    for (k, _, b, bo) in boxes(d, base)? {
        match &k {
            b"mfhd" => {
                let mut r = Reader::new(b, bo);
                r.take(4, "mfhd")?;
                f.sequence_number = r.u32("mfhd")?;
            }
            b"traf" => f.trafs.push(parse_traf(b, bo, moof_off, trex)?),
            _ => {}
        }
    }
    Ok(f)
}

fn parse_traf(
    d: &[u8],
    base: usize,
    moof_off: usize,
    trex: &std::collections::HashMap<u32, Defaults>,
) -> Result<TrackFragment> {
    let Some((b, bo)) = child(d, base, b"tfhd")? else {
        return Err(Error::Missing {
            what: "traf",
            detail: format!("tfhd (traf body at byte {base})"),
        });
    };
    let mut r = Reader::new(b, bo);
    let flags = r.u32("tfhd")? & 0x00FF_FFFF;
    let track_id = r.u32("tfhd")?;
    let mut def = trex.get(&track_id).copied().unwrap_or_default();
    let mut data_base = moof_off; // default-base-is-moof, and the usual CMAF case
    if flags & 0x1 != 0 {
        data_base = usize::try_from(r.u64("tfhd")?)
            .map_err(|_| invalid("tfhd", bo, "base_data_offset too large"))?;
    }
    if flags & 0x2 != 0 {
        r.u32("tfhd")?;
    }
    if flags & 0x8 != 0 {
        def.duration = r.u32("tfhd")?;
    }
    if flags & 0x10 != 0 {
        def.size = r.u32("tfhd")?;
    }
    if flags & 0x20 != 0 {
        def.flags = r.u32("tfhd")?;
    }
    let mut t = TrackFragment {
        track_id,
        base_media_decode_time: None,
        samples: vec![],
    };
    let mut next_data = data_base;
    for (k, _, b, bo) in boxes(d, base)? {
        match &k {
            b"tfdt" => {
                let mut r = Reader::new(b, bo);
                let v = r.u8("tfdt")?;
                r.take(3, "tfdt")?;
                t.base_media_decode_time = Some(if v == 1 {
                    r.u64("tfdt")?
                } else {
                    u64::from(r.u32("tfdt")?)
                });
            }
            b"trun" => next_data = parse_trun(b, bo, data_base, next_data, &def, &mut t.samples)?,
            _ => {}
        }
    }
    Ok(t)
}

/// A `trun` box (body `b` at `bo`): its samples, appended to `samples`, their data from
/// `next_data` on (or from the run's own data offset past `data_base`); where the next
/// run's data starts.
fn parse_trun(
    b: &[u8],
    bo: usize,
    data_base: usize,
    next_data: usize,
    def: &Defaults,
    samples: &mut Vec<Sample>,
) -> Result<usize> {
    const W: &str = "trun";
    let mut r = Reader::new(b, bo);
    let v = r.u8(W)?;
    let fb = r.take(3, W)?;
    let tf = u32::from_be_bytes([0, fb[0], fb[1], fb[2]]);
    let count = r.u32(W)? as usize;
    let mut data = next_data;
    if tf & 0x1 != 0 {
        let off = r.u32(W)? as i32;
        data = data_base.checked_add_signed(off as isize).ok_or_else(|| {
            invalid(
                W,
                bo,
                format!("data_offset {off} before the start of the input"),
            )
        })?;
    }
    let first_flags = if tf & 0x4 != 0 { Some(r.u32(W)?) } else { None };
    let per = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|&&m| tf & m != 0)
        .count()
        * 4;
    if per > 0 && count > r.rest().len() / per {
        return Err(truncated(W, r.off(), count * per - r.rest().len()));
    }
    if per == 0 && count > 1 << 18 {
        return Err(invalid(
            W,
            bo + 4,
            format!("sample_count {count} implausible"),
        ));
    }
    for i in 0..count {
        let duration = if tf & 0x100 != 0 {
            r.u32(W)?
        } else {
            def.duration
        };
        let size = if tf & 0x200 != 0 { r.u32(W)? } else { def.size };
        let mut flags = if tf & 0x400 != 0 {
            r.u32(W)?
        } else {
            def.flags
        };
        if i == 0
            && let Some(ff) = first_flags
        {
            flags = ff;
        }
        let cts_offset = if tf & 0x800 != 0 {
            let c = r.u32(W)?;
            if v == 0 {
                i64::from(c)
            } else {
                i64::from(c as i32)
            }
        } else {
            0
        };
        samples.push(Sample {
            duration,
            size,
            flags,
            cts_offset,
            data_offset: data,
        });
        data = data
            .checked_add(size as usize)
            .ok_or_else(|| invalid(W, bo, "sample sizes overflow"))?;
    }
    Ok(data)
}

// ---------------------------------------------------------------- writing

/// Writes a box: size placeholder, type, body, then patches the size.
pub(crate) fn bx(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(kind);
    body(out);
    let size = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

/// A full box (version + flags).
pub(crate) fn fbx(
    out: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    bx(out, kind, |o| {
        o.push(version);
        o.extend_from_slice(&flags.to_be_bytes()[1..]);
        body(o);
    });
}

pub(crate) trait Put {
    fn u16(&mut self, v: u16);
    fn u32(&mut self, v: u32);
    fn u64(&mut self, v: u64);
    fn zeros(&mut self, n: usize);
}
impl Put for Vec<u8> {
    fn u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
}

const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// What a remuxed track carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackKind {
    /// H.264 with its parameter sets and size.
    Avc {
        sps: Vec<u8>,
        pps: Vec<u8>,
        width: u32,
        height: u32,
        profile: u8,
        compat: u8,
        level: u8,
    },
    /// AAC with its AudioSpecificConfig.
    Aac {
        asc: [u8; 2],
        sample_rate: u32,
        channels: u8,
    },
}

/// A track of a remux output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemuxTrack {
    pub track_id: u32,
    pub kind: TrackKind,
    /// 90000 for video, the sample rate for audio.
    pub timescale: u32,
    /// `tfdt` of this segment (track timescale).
    pub base_media_decode_time: u64,
    pub sample_count: usize,
    /// Sum of sample durations (track timescale).
    pub duration: u64,
}

impl RemuxTrack {
    /// RFC 6381 codec string for `CODECS=` (e.g. `avc1.64001f`, `mp4a.40.2`).
    pub fn codec_string(&self) -> String {
        match &self.kind {
            TrackKind::Avc {
                profile,
                compat,
                level,
                ..
            } => format!("avc1.{profile:02x}{compat:02x}{level:02x}"),
            TrackKind::Aac { asc, .. } => format!("mp4a.40.{}", asc[0] >> 3),
        }
    }
}

/// The result of [`remux_ts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remuxed {
    /// `ftyp` + `moov` (the `EXT-X-MAP`); identical for every segment of a
    /// rendition with unchanged codec parameters.
    pub init: Vec<u8>,
    /// `styp` + `moof` + `mdat`.
    pub segment: Vec<u8>,
    pub tracks: Vec<RemuxTrack>,
}

struct Samples {
    track: RemuxTrack,
    /// (duration, size, sync, cts offset)
    meta: Vec<(u32, u32, bool, i64)>,
    data: Vec<u8>,
}

/// Options of [`remux_ts_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemuxOptions {
    /// The segment starts a run of continuous timestamps (it follows an
    /// `EXT-X-DISCONTINUITY`, or nothing): the video track's leading decode
    /// times are moved up so that its `tfdt` is its earliest presentation time
    /// (see the module docs, "Discontinuities").
    pub starts_span: bool,
}

/// Remuxes one TS segment (H.264 and/or AAC ADTS; other streams ignored) into
/// a CMAF init segment and a media segment with `mfhd` `sequence_number`.
pub fn remux_ts(ts_data: &[u8], sequence_number: u32) -> Result<Remuxed> {
    remux_ts_with(ts_data, sequence_number, RemuxOptions::default())
}

/// [`remux_ts`] with [`RemuxOptions`].
pub fn remux_ts_with(ts_data: &[u8], sequence_number: u32, opts: RemuxOptions) -> Result<Remuxed> {
    let d = ts::demux(ts_data)?;
    let video = d
        .streams
        .iter()
        .find(|s| s.1 == StreamType::H264)
        .map(|s| s.0);
    let audio = d
        .streams
        .iter()
        .find(|s| s.1 == StreamType::AacAdts)
        .map(|s| s.0);
    if video.is_none() && audio.is_none() {
        return Err(Error::Missing {
            what: "TS->fMP4 remux",
            detail: "an H.264 or AAC ADTS stream in the PMT".into(),
        });
    }
    let mut tracks = Vec::new();
    let mut next_id = 1;
    if let Some(pid) = video {
        tracks.push(video_samples(&d, pid, next_id, opts.starts_span)?);
        next_id += 1;
    }
    if let Some(pid) = audio {
        tracks.push(audio_samples(&d, pid, next_id)?);
    }
    let init = write_init(&tracks);
    let segment = write_segment(&tracks, sequence_number);
    Ok(Remuxed {
        init,
        segment,
        tracks: tracks.into_iter().map(|s| s.track).collect(),
    })
}

fn video_samples(d: &ts::Demuxed, pid: u16, track_id: u32, starts_span: bool) -> Result<Samples> {
    let mut sps: Option<(Vec<u8>, usize)> = None;
    let mut pps: Option<Vec<u8>> = None;
    let mut aus: Vec<(u64, u64, bool, Vec<u8>)> = Vec::new();
    for p in d.pes_of(pid) {
        let (Some(pts), Some(dts)) = (p.pts, p.dts) else {
            return Err(invalid(
                "TS->fMP4 remux",
                p.byte_offset,
                "video PES without PTS",
            ));
        };
        let mut data = Vec::with_capacity(p.payload.len() + 16);
        let mut sync = false;
        for nal in annexb_nals(&p.payload) {
            match nal[0] & 0x1F {
                7 => {
                    if sps.is_none() {
                        sps = Some((nal.to_vec(), p.byte_offset));
                    }
                    continue;
                }
                8 => {
                    if pps.is_none() {
                        pps = Some(nal.to_vec());
                    }
                    continue;
                }
                9 | 12 => continue,
                5 => sync = true,
                _ => {}
            }
            data.extend_from_slice(&(nal.len() as u32).to_be_bytes());
            data.extend_from_slice(nal);
        }
        aus.push((pts, dts, sync, data));
    }
    let (sps, sps_off) = sps.ok_or_else(|| Error::Missing {
        what: "TS->fMP4 remux",
        detail: format!("H.264 SPS on PID {pid:#x}"),
    })?;
    let pps = pps.ok_or_else(|| Error::Missing {
        what: "TS->fMP4 remux",
        detail: format!("H.264 PPS on PID {pid:#x}"),
    })?;
    let info = parse_sps(&sps, sps_off)?;
    if starts_span {
        decode_first_at_presentation(&mut aus);
    }
    let mut meta = Vec::with_capacity(aus.len());
    let mut data = Vec::new();
    let mut last_dur = 3600;
    for i in 0..aus.len() {
        let (pts, dts, sync, ref au) = aus[i];
        let dur = match aus.get(i + 1) {
            Some(n) => n.1.saturating_sub(dts),
            None => last_dur,
        };
        last_dur = dur;
        let dur = u32::try_from(dur).map_err(|_| {
            invalid(
                "TS->fMP4 remux",
                0,
                format!("video DTS jump of {dur} ticks"),
            )
        })?;
        meta.push((dur, au.len() as u32, sync, pts as i64 - dts as i64));
        data.extend_from_slice(au);
    }
    let base = aus.first().map_or(0, |a| a.1);
    Ok(Samples {
        track: RemuxTrack {
            track_id,
            kind: TrackKind::Avc {
                width: info.width,
                height: info.height,
                profile: info.profile_idc,
                compat: info.constraint_flags,
                level: info.level_idc,
                sps,
                pps,
            },
            timescale: 90_000,
            base_media_decode_time: base,
            sample_count: meta.len(),
            duration: meta.iter().map(|m| u64::from(m.0)).sum(),
        },
        meta,
        data,
    })
}

/// Moves the leading decode times of `aus` (pts, dts, ..., in decode order) up so that
/// the first access unit decodes at the earliest presentation time of the segment, with
/// every composition offset still non-negative (so `trun` stays version 0).
///
/// With B-frames the first DTS is before the first PTS (ffmpeg/x264: 80 ms at 25 fps).
/// The access units up to the first one decoded after that presentation time get evenly
/// spaced decode times between the two; later ones keep theirs, so the segment still
/// ends where the next one starts. Presentation times do not change. Nothing changes
/// when the first access unit is not the earliest presented, or when no spacing fits.
fn decode_first_at_presentation(aus: &mut [(u64, u64, bool, Vec<u8>)]) {
    let Some(&(p0, d0, _, _)) = aus.first() else {
        return;
    };
    if d0 >= p0 || aus.iter().any(|a| a.0 < p0) {
        return;
    }
    let Some(k) = (1..aus.len()).find(|&i| aus[i].1 > p0) else {
        return;
    };
    let (span, steps) = (aus[k].1 - p0, k as u64);
    if span < steps {
        return;
    }
    let dts = |i: usize| p0 + span * i as u64 / steps;
    if (0..k).any(|i| dts(i) > aus[i].0) {
        return;
    }
    for (i, au) in aus[..k].iter_mut().enumerate() {
        au.1 = dts(i);
    }
}

fn audio_samples(d: &ts::Demuxed, pid: u16, track_id: u32) -> Result<Samples> {
    let mut cfg: Option<Adts> = None;
    let mut first_pts = None;
    let mut meta = Vec::new();
    let mut data = Vec::new();
    for p in d.pes_of(pid) {
        if first_pts.is_none() {
            first_pts = p.pts;
        }
        let mut i = 0;
        while i < p.payload.len() {
            let h = parse_adts(&p.payload[i..], p.byte_offset)?;
            let end = i + h.frame_len;
            if end > p.payload.len() {
                return Err(truncated(
                    "ADTS frame",
                    p.byte_offset,
                    end - p.payload.len(),
                ));
            }
            match cfg {
                None => cfg = Some(h),
                Some(c)
                    if (c.sample_rate, c.channels, c.object_type)
                        != (h.sample_rate, h.channels, h.object_type) =>
                {
                    return Err(Error::Unsupported {
                        what: "TS->fMP4 remux",
                        offset: p.byte_offset,
                        detail: "AAC configuration changes within the segment".into(),
                    });
                }
                _ => {}
            }
            let frame = &p.payload[i + h.header_len..end];
            meta.push((1024, frame.len() as u32, true, 0));
            data.extend_from_slice(frame);
            i = end;
        }
    }
    let cfg = cfg.ok_or_else(|| Error::Missing {
        what: "TS->fMP4 remux",
        detail: format!("AAC frames on PID {pid:#x}"),
    })?;
    let sr = u64::from(cfg.sample_rate);
    let base = first_pts.map_or(0, |p| (p * sr + 45_000) / 90_000);
    Ok(Samples {
        track: RemuxTrack {
            track_id,
            kind: TrackKind::Aac {
                asc: cfg.audio_specific_config(),
                sample_rate: cfg.sample_rate,
                channels: cfg.channels,
            },
            timescale: cfg.sample_rate,
            base_media_decode_time: base,
            sample_count: meta.len(),
            duration: meta.len() as u64 * 1024,
        },
        meta,
        data,
    })
}

/// Writes the CMAF init segment for `tracks` (ftyp + moov with mvex/trex).
fn write_init(tracks: &[Samples]) -> Vec<u8> {
    let mut o = Vec::new();
    bx(&mut o, b"ftyp", |o| {
        o.extend_from_slice(b"iso6");
        o.u32(0);
        for b in [b"iso6", b"cmfc", b"mp41"] {
            o.extend_from_slice(b);
        }
    });
    bx(&mut o, b"moov", |o| {
        fbx(o, b"mvhd", 0, 0, |o| {
            o.u32(0);
            o.u32(0);
            o.u32(1000);
            o.u32(0);
            o.u32(0x0001_0000);
            o.u16(0x0100);
            o.zeros(10);
            MATRIX.iter().for_each(|&m| o.u32(m));
            o.zeros(24);
            o.u32(tracks.len() as u32 + 1);
        });
        for s in tracks {
            write_trak(o, &s.track);
        }
        bx(o, b"mvex", |o| {
            for s in tracks {
                fbx(o, b"trex", 0, 0, |o| {
                    o.u32(s.track.track_id);
                    o.u32(1);
                    o.u32(0);
                    o.u32(0);
                    o.u32(0);
                });
            }
        });
    });
    o
}

fn write_trak(o: &mut Vec<u8>, t: &RemuxTrack) {
    let video = matches!(t.kind, TrackKind::Avc { .. });
    bx(o, b"trak", |o| {
        fbx(o, b"tkhd", 0, 3, |o| {
            o.u32(0);
            o.u32(0);
            o.u32(t.track_id);
            o.u32(0);
            o.u32(0);
            o.zeros(8);
            o.u16(0);
            o.u16(0);
            o.u16(if video { 0 } else { 0x0100 });
            o.u16(0);
            MATRIX.iter().for_each(|&m| o.u32(m));
            let (w, h) = match t.kind {
                TrackKind::Avc { width, height, .. } => (width, height),
                _ => (0, 0),
            };
            o.u32(w << 16);
            o.u32(h << 16);
        });
        bx(o, b"mdia", |o| {
            fbx(o, b"mdhd", 0, 0, |o| {
                o.u32(0);
                o.u32(0);
                o.u32(t.timescale);
                o.u32(0);
                o.u16(0x55C4); // "und"
                o.u16(0);
            });
            fbx(o, b"hdlr", 0, 0, |o| {
                o.u32(0);
                o.extend_from_slice(if video { b"vide" } else { b"soun" });
                o.zeros(12);
                o.extend_from_slice(if video {
                    b"VideoHandler\0"
                } else {
                    b"SoundHandler\0"
                });
            });
            bx(o, b"minf", |o| {
                if video {
                    fbx(o, b"vmhd", 0, 1, |o| o.zeros(8));
                } else {
                    fbx(o, b"smhd", 0, 0, |o| o.zeros(4));
                }
                bx(o, b"dinf", |o| {
                    fbx(o, b"dref", 0, 0, |o| {
                        o.u32(1);
                        fbx(o, b"url ", 0, 1, |_| {});
                    })
                });
                bx(o, b"stbl", |o| {
                    fbx(o, b"stsd", 0, 0, |o| {
                        o.u32(1);
                        write_sample_entry(o, &t.kind);
                    });
                    fbx(o, b"stts", 0, 0, |o| o.u32(0));
                    fbx(o, b"stsc", 0, 0, |o| o.u32(0));
                    fbx(o, b"stsz", 0, 0, |o| {
                        o.u32(0);
                        o.u32(0);
                    });
                    fbx(o, b"stco", 0, 0, |o| o.u32(0));
                });
            });
        });
    });
}

fn write_sample_entry(o: &mut Vec<u8>, kind: &TrackKind) {
    match kind {
        TrackKind::Avc {
            sps,
            pps,
            width,
            height,
            profile,
            compat,
            level,
        } => bx(o, b"avc1", |o| {
            o.zeros(6);
            o.u16(1);
            o.zeros(16);
            o.u16(*width as u16);
            o.u16(*height as u16);
            o.u32(0x0048_0000);
            o.u32(0x0048_0000);
            o.u32(0);
            o.u16(1);
            o.zeros(32);
            o.u16(0x0018);
            o.u16(0xFFFF);
            bx(o, b"avcC", |o| {
                o.extend_from_slice(&[1, *profile, *compat, *level, 0xFF, 0xE1]);
                o.u16(sps.len() as u16);
                o.extend_from_slice(sps);
                o.push(1);
                o.u16(pps.len() as u16);
                o.extend_from_slice(pps);
            });
        }),
        TrackKind::Aac {
            asc,
            sample_rate,
            channels,
        } => bx(o, b"mp4a", |o| {
            o.zeros(6);
            o.u16(1);
            o.zeros(8);
            o.u16(u16::from(*channels));
            o.u16(16);
            o.u32(0);
            o.u32(if *sample_rate < 65536 {
                sample_rate << 16
            } else {
                0
            });
            fbx(o, b"esds", 0, 0, |o| {
                // ES_Descriptor > DecoderConfigDescriptor > DecoderSpecificInfo, SLConfig.
                let dsi = [&[0x05, asc.len() as u8][..], &asc[..]].concat();
                let mut dcd = vec![0x40, 0x15, 0, 0, 0];
                dcd.u32(0);
                dcd.u32(0);
                dcd.extend_from_slice(&dsi);
                let mut es = vec![0, 0, 0, 0x04, dcd.len() as u8];
                es.extend_from_slice(&dcd);
                es.extend_from_slice(&[0x06, 1, 0x02]);
                o.push(0x03);
                o.push(es.len() as u8);
                o.extend_from_slice(&es);
            });
        }),
    }
}

fn write_moof(tracks: &[Samples], seq: u32, data_start: u32) -> Vec<u8> {
    let mut o = Vec::new();
    bx(&mut o, b"moof", |o| {
        fbx(o, b"mfhd", 0, 0, |o| o.u32(seq));
        let mut data_off = data_start;
        for s in tracks {
            let video = matches!(s.track.kind, TrackKind::Avc { .. });
            bx(o, b"traf", |o| {
                if video {
                    fbx(o, b"tfhd", 0, 0x02_0000, |o| o.u32(s.track.track_id));
                } else {
                    fbx(o, b"tfhd", 0, 0x02_0020, |o| {
                        o.u32(s.track.track_id);
                        o.u32(0x0200_0000);
                    });
                }
                fbx(o, b"tfdt", 1, 0, |o| o.u64(s.track.base_media_decode_time));
                let flags = if video { 0x0F01 } else { 0x0301 };
                fbx(o, b"trun", 0, flags, |o| {
                    o.u32(s.meta.len() as u32);
                    o.u32(data_off);
                    for &(dur, size, sync, cts) in &s.meta {
                        o.u32(dur);
                        o.u32(size);
                        if video {
                            o.u32(if sync { 0x0200_0000 } else { 0x0101_0000 });
                            o.u32(cts.max(0) as u32);
                        }
                    }
                });
            });
            data_off += s.data.len() as u32;
        }
    });
    o
}

fn write_segment(tracks: &[Samples], seq: u32) -> Vec<u8> {
    let mut o = Vec::new();
    bx(&mut o, b"styp", |o| {
        o.extend_from_slice(b"msdh");
        o.u32(0);
        o.extend_from_slice(b"msdh");
        o.extend_from_slice(b"msix");
    });
    // Data offsets are relative to the moof start; its size does not depend on them.
    let moof_len = write_moof(tracks, seq, 0).len() as u32;
    o.extend(write_moof(tracks, seq, moof_len + 8));
    bx(&mut o, b"mdat", |o| {
        for s in tracks {
            o.extend_from_slice(&s.data);
        }
    });
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_fmp4() -> Vec<u8> {
        let v = Samples {
            track: RemuxTrack {
                track_id: 1,
                kind: TrackKind::Avc {
                    sps: vec![0x67, 0x64, 0, 0x1f],
                    pps: vec![0x68, 0xEE],
                    width: 320,
                    height: 180,
                    profile: 0x64,
                    compat: 0,
                    level: 0x1f,
                },
                timescale: 90_000,
                base_media_decode_time: 9000,
                sample_count: 3,
                duration: 10_800,
            },
            meta: vec![
                (3600, 5, true, 3600),
                (3600, 4, false, 0),
                (3600, 3, false, 7200),
            ],
            data: vec![1; 12],
        };
        let a = Samples {
            track: RemuxTrack {
                track_id: 2,
                kind: TrackKind::Aac {
                    asc: [0x11, 0x88],
                    sample_rate: 48_000,
                    channels: 1,
                },
                timescale: 48_000,
                base_media_decode_time: 4800,
                sample_count: 2,
                duration: 2048,
            },
            meta: vec![(1024, 6, true, 0), (1024, 6, true, 0)],
            data: vec![2; 12],
        };
        let t = [v, a];
        let mut out = write_init(&t);
        out.extend(write_segment(&t, 7));
        out
    }

    #[test]
    fn writer_and_reader_agree() {
        let b = sample_fmp4();
        let info = inspect(&b).unwrap();
        assert_eq!(info.box_kinds(), ["ftyp", "moov", "styp", "moof", "mdat"]);
        assert_eq!(info.fragments[0].sequence_number, 7);
        let v = info.trafs(1).next().unwrap();
        assert_eq!(v.base_media_decode_time, Some(9000));
        assert_eq!(
            v.samples
                .iter()
                .map(|s| (s.size, s.is_sync(), s.cts_offset))
                .collect::<Vec<_>>(),
            [(5, true, 3600), (4, false, 0), (3, false, 7200)]
        );
        assert_eq!(
            &b[v.samples[0].data_offset..v.samples[0].data_offset + 12],
            &[1; 12]
        );
        let a = info.trafs(2).next().unwrap();
        assert!(a.samples.iter().all(Sample::is_sync));
        assert_eq!(
            &b[a.samples[0].data_offset..a.samples[0].data_offset + 12],
            &[2; 12]
        );
        assert_eq!(info.keyframes(1)[0].pts, 12_600);
        assert_eq!(info.tracks[1].sample_rate, 48_000);
    }

    /// x264 at 25 fps (90 kHz): I P B b P..., DTS 80 ms before PTS.
    fn b_frame_aus() -> Vec<(u64, u64, bool, Vec<u8>)> {
        [
            (7200, 0),
            (21600, 3600),
            (14400, 7200),
            (10800, 10800),
            (18000, 14400),
        ]
        .iter()
        .map(|&(p, d)| (p + 126_000, d + 126_000, p == 7200, vec![]))
        .collect()
    }

    #[test]
    fn span_start_decodes_first_at_its_presentation_time() {
        let mut aus = b_frame_aus();
        decode_first_at_presentation(&mut aus);
        let dts: Vec<u64> = aus.iter().map(|a| a.1 - 126_000).collect();
        // Up to the first DTS after the first PTS (10800), evenly spaced; the rest kept.
        assert_eq!(dts, [7200, 8400, 9600, 10800, 14400]);
        assert!(
            aus.iter().all(|a| a.1 <= a.0),
            "negative composition offset"
        );
    }

    #[test]
    fn span_start_leaves_what_it_cannot_fix_alone() {
        // No B-frames: DTS = PTS already.
        let mut aus: Vec<_> = (0..3u64)
            .map(|i| (i * 3600, i * 3600, i == 0, vec![]))
            .collect();
        let before = aus.clone();
        decode_first_at_presentation(&mut aus);
        assert_eq!(aus, before);
        // A later access unit presented before the first one (open GOP).
        let mut aus = b_frame_aus();
        aus[2].0 = aus[0].0 - 3600;
        let before = aus.clone();
        decode_first_at_presentation(&mut aus);
        assert_eq!(aus, before);
        // Every DTS before the first PTS (a cut segment): nothing to meet.
        let mut aus = b_frame_aus();
        aus.truncate(3);
        let before = aus.clone();
        decode_first_at_presentation(&mut aus);
        assert_eq!(aus, before);
    }

    #[test]
    fn truncation_is_an_error_with_offset() {
        let b = sample_fmp4();
        assert!(matches!(
            inspect(&b[..b.len() - 1]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            inspect(&[0, 0, 0, 4, b'f', b'r', b'e', b'e']),
            Err(Error::Invalid { offset: 0, .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = inspect(&b);
        }

        #[test]
        fn mutated_fmp4_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
            let mut b = sample_fmp4();
            for (i, v) in edits { let n = b.len(); b[i % n] = v; }
            let _ = inspect(&b);
            let _ = inspect(&b[..cut % (b.len() + 1)]);
        }
    }
}
