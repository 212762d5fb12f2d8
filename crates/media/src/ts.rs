//! MPEG-TS inspection: packets, PAT/PMT, PES reassembly with PTS/DTS,
//! H.264/HEVC keyframe detection, SCTE-35 sections.
//!
//! [`inspect`] answers what the origin needs for an `EXT-X-I-FRAMES-ONLY`
//! playlist: each keyframe's byte range (from the first TS packet of the
//! keyframe's PES to the first packet of the next video PES) and the byte range
//! of the PAT+PMT packets, which the I-frame playlist uses as `EXT-X-MAP` so
//! each range decodes on its own. [`demux`] returns the reassembled PES packets
//! (used by the TS -> fMP4 remux).
//!
//! # Why hand-written
//! `mpeg2ts-reader` is push-based: the caller implements a demux context and
//! per-stream consumer traits and receives payload fragments by callback. We
//! need the opposite shape (a slice in, a value out, with byte offsets of the
//! packets that started each PES), and TS packet headers, PSI sections and PES
//! headers are a few fixed fields each, so a ~400-line walker is simpler.
//!
//! # Assumptions
//! - Packets are 188 bytes, aligned at offset 0 (HLS segments always are).
//! - One video access unit per PES (every HLS packager we know does this).
//! - PTS/DTS are unwrapped across the 33-bit wrap relative to the first
//!   timestamp of the segment, so values may exceed 2^33.
//! - Only the first program of the PAT is used.

use crate::error::{Error, Result, invalid, truncated};
use crate::scte35::SpliceInfoSection;

/// TS packet size.
pub const PACKET_SIZE: usize = 188;
const WHAT: &str = "MPEG-TS";
const WRAP: u64 = 1 << 33;

/// An elementary stream type from the PMT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamType {
    /// 0x1b
    H264,
    /// 0x24
    Hevc,
    /// 0x0f
    AacAdts,
    /// 0x15 (ID3 timed metadata)
    Id3,
    /// 0x86
    Scte35,
    /// Anything else, with its `stream_type` byte.
    Other(u8),
}

impl StreamType {
    /// From the PMT `stream_type` byte.
    pub fn from_byte(b: u8) -> Self {
        match b {
            0x1b => Self::H264,
            0x24 => Self::Hevc,
            0x0f => Self::AacAdts,
            0x15 => Self::Id3,
            0x86 => Self::Scte35,
            o => Self::Other(o),
        }
    }

    /// The PMT `stream_type` byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::H264 => 0x1b,
            Self::Hevc => 0x24,
            Self::AacAdts => 0x0f,
            Self::Id3 => 0x15,
            Self::Scte35 => 0x86,
            Self::Other(o) => o,
        }
    }

    /// H.264 or HEVC.
    pub fn is_video(self) -> bool {
        matches!(self, Self::H264 | Self::Hevc)
    }
}

/// One elementary stream of the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub pid: u16,
    pub stream_type: StreamType,
    /// Smallest PTS seen on this PID (90 kHz, unwrapped).
    pub first_pts: Option<u64>,
    /// Largest PTS seen on this PID.
    pub last_pts: Option<u64>,
    /// Number of PES packets.
    pub pes_count: usize,
}

/// A keyframe and the byte range an `EXT-X-BYTERANGE` needs for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyframe {
    /// PTS of the keyframe (90 kHz, unwrapped).
    pub pts: u64,
    /// Offset of the first TS packet of the keyframe's PES.
    pub byte_offset: usize,
    /// From `byte_offset` to the first packet of the next video PES (or the end).
    pub byte_len: usize,
}

/// A byte range in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub offset: usize,
    pub len: usize,
}

/// An SCTE-35 section found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scte35InTs {
    pub pid: u16,
    /// Offset of the packet in which the section started.
    pub byte_offset: usize,
    pub section: SpliceInfoSection,
}

/// The result of [`inspect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsInfo {
    /// Elementary streams in PMT order.
    pub streams: Vec<Stream>,
    /// PID of the PMT.
    pub pmt_pid: u16,
    /// First PTS of the main stream (video if any, else the first audio stream).
    pub first_pts: Option<u64>,
    /// Last PTS of the main stream.
    pub last_pts: Option<u64>,
    /// Duration of the main stream in 90 kHz ticks: last - first + one frame.
    pub duration: Option<u64>,
    /// Keyframes of the first video stream, in stream order.
    pub keyframes: Vec<Keyframe>,
    /// From the first PAT packet through the first PMT packet after it. An
    /// `EXT-X-MAP` for I-frame playlists. Packets in between (if any) are included.
    pub pat_pmt_range: Option<ByteRange>,
    /// SCTE-35 sections on stream type 0x86 PIDs.
    pub scte35: Vec<Scte35InTs>,
    /// SCTE-35 sections that failed to decode (they do not fail the inspection).
    /// Offsets are section-relative plus the offset of the packet the section
    /// started in (approximate by the packet header and pointer_field).
    pub scte35_errors: Vec<Error>,
    /// Byte offsets of packets with a continuity_counter jump.
    pub continuity_errors: Vec<usize>,
    /// Number of TS packets.
    pub packets: usize,
}

impl TsInfo {
    /// Duration in seconds.
    pub fn duration_secs(&self) -> Option<f64> {
        self.duration.map(|d| d as f64 / 90_000.0)
    }

    /// The first video stream, if any.
    pub fn video(&self) -> Option<&Stream> {
        self.streams.iter().find(|s| s.stream_type.is_video())
    }
}

/// A reassembled PES packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pes {
    pub pid: u16,
    pub stream_type: StreamType,
    /// Offset of the TS packet carrying the PES start.
    pub byte_offset: usize,
    /// 90 kHz, unwrapped.
    pub pts: Option<u64>,
    /// 90 kHz, unwrapped; equals `pts` when the PES has no DTS.
    pub dts: Option<u64>,
    /// `random_access_indicator` of the starting packet.
    pub random_access: bool,
    /// The elementary stream bytes (after the PES header).
    pub payload: Vec<u8>,
}

/// The result of [`demux`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Demuxed {
    pub pmt_pid: u16,
    /// (pid, stream type) in PMT order.
    pub streams: Vec<(u16, StreamType)>,
    /// PES packets of all elementary streams, in order of their first packet.
    pub pes: Vec<Pes>,
    pub pat_pmt_range: Option<ByteRange>,
    pub scte35: Vec<Scte35InTs>,
    /// SCTE-35 sections that failed to decode (they do not fail the demux).
    pub scte35_errors: Vec<Error>,
    pub continuity_errors: Vec<usize>,
    pub packets: usize,
}

impl Demuxed {
    /// PES packets of one PID.
    pub fn pes_of(&self, pid: u16) -> impl Iterator<Item = &Pes> {
        self.pes.iter().filter(move |p| p.pid == pid)
    }
}

struct Packet<'a> {
    offset: usize,
    pid: u16,
    pusi: bool,
    cc: u8,
    has_payload: bool,
    discontinuity: bool,
    random_access: bool,
    payload: &'a [u8],
    payload_offset: usize,
}

fn packet(data: &[u8], offset: usize) -> Result<Packet<'_>> {
    let p = &data[offset..offset + PACKET_SIZE];
    if p[0] != 0x47 {
        return Err(invalid(
            WHAT,
            offset,
            format!("sync byte {:#04x}, expected 0x47", p[0]),
        ));
    }
    let pusi = p[1] & 0x40 != 0;
    let pid = u16::from_be_bytes([p[1] & 0x1F, p[2]]);
    let afc = (p[3] >> 4) & 3;
    let cc = p[3] & 0x0F;
    let mut start = 4;
    let (mut discontinuity, mut random_access) = (false, false);
    if afc & 2 != 0 {
        let len = p[4] as usize;
        if 5 + len > PACKET_SIZE {
            return Err(invalid(
                WHAT,
                offset + 4,
                format!("adaptation_field_length {len} runs past the packet"),
            ));
        }
        if len > 0 {
            discontinuity = p[5] & 0x80 != 0;
            random_access = p[5] & 0x40 != 0;
        }
        start = 5 + len;
    }
    let has_payload = afc & 1 != 0;
    Ok(Packet {
        offset,
        pid,
        pusi,
        cc,
        has_payload,
        discontinuity,
        random_access,
        payload: if has_payload { &p[start..] } else { &[] },
        payload_offset: offset + start,
    })
}

/// Collects PSI sections on one PID.
#[derive(Default)]
struct SectionBuf {
    buf: Vec<u8>,
    start_offset: usize,
    active: bool,
}

impl SectionBuf {
    /// Feeds one packet payload; returns complete sections with the offset of
    /// the packet they started in.
    fn push(&mut self, pkt: &Packet<'_>) -> Result<Vec<(usize, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut pl = pkt.payload;
        if pkt.pusi {
            let Some((&ptr, rest)) = pl.split_first() else {
                return Ok(out);
            };
            let ptr = ptr as usize;
            if ptr > rest.len() {
                return Err(invalid(
                    WHAT,
                    pkt.payload_offset,
                    format!("pointer_field {ptr} runs past the packet"),
                ));
            }
            if self.active {
                self.buf.extend_from_slice(&rest[..ptr]);
                self.take(&mut out);
            }
            self.buf.clear();
            self.active = true;
            self.start_offset = pkt.offset;
            pl = &rest[ptr..];
        } else if !self.active {
            return Ok(out);
        }
        self.buf.extend_from_slice(pl);
        self.take(&mut out);
        Ok(out)
    }

    fn take(&mut self, out: &mut Vec<(usize, Vec<u8>)>) {
        loop {
            if self.buf.first().is_none_or(|&b| b == 0xFF) {
                // Stuffing: the rest of the packet is padding.
                self.buf.clear();
                self.active = false;
                return;
            }
            if self.buf.len() < 3 {
                return;
            }
            let len = 3 + (usize::from(u16::from_be_bytes([self.buf[1], self.buf[2]])) & 0x0FFF);
            if self.buf.len() < len {
                return;
            }
            let rest = self.buf.split_off(len);
            out.push((self.start_offset, std::mem::replace(&mut self.buf, rest)));
        }
    }
}

/// Checks a long-form PSI section's CRC and returns its body between the
/// 8-byte header and the CRC.
fn psi_body<'a>(sec: &'a [u8], offset: usize, what: &'static str) -> Result<&'a [u8]> {
    if sec.len() < 12 {
        return Err(invalid(
            what,
            offset,
            format!("section of {} bytes too short", sec.len()),
        ));
    }
    if crate::bits::crc32_mpeg2(sec) != 0 {
        let n = sec.len();
        return Err(Error::Crc {
            what,
            offset,
            stored: u32::from_be_bytes([sec[n - 4], sec[n - 3], sec[n - 2], sec[n - 1]]),
            computed: crate::bits::crc32_mpeg2(&sec[..n - 4]),
        });
    }
    Ok(&sec[8..sec.len() - 4])
}

/// Picks `ts + k*2^33` closest to `reference`.
fn unwrap_ts(reference: Option<u64>, ts: u64) -> u64 {
    let Some(r) = reference else { return ts };
    let base = r - (r % WRAP);
    let candidates = [
        base.wrapping_sub(WRAP).wrapping_add(ts),
        base + ts,
        base + WRAP + ts,
    ];
    *candidates
        .iter()
        .filter(|&&c| c < u64::MAX / 2)
        .min_by_key(|&&c| c.abs_diff(r))
        .unwrap_or(&ts)
}

fn read_ts(b: &[u8]) -> u64 {
    (u64::from(b[0] >> 1) & 0x07) << 30
        | u64::from(b[1]) << 22
        | u64::from(b[2] >> 1) << 15
        | u64::from(b[3]) << 7
        | u64::from(b[4] >> 1)
}

struct PesBuf {
    pes: Pes,
    payload_offset: usize,
}

/// Parses the PES header at the start of `b` (reassembled bytes); returns
/// (pts, dts, header length).
fn pes_header(b: &[u8], offset: usize) -> Result<(Option<u64>, Option<u64>, usize)> {
    const W: &str = "PES header";
    if b.len() < 6 {
        return Err(truncated(W, offset + b.len(), 6 - b.len()));
    }
    if b[..3] != [0, 0, 1] {
        return Err(invalid(
            W,
            offset,
            "missing packet_start_code_prefix 00 00 01",
        ));
    }
    let sid = b[3];
    // Streams without the optional header: program_stream_map, padding,
    // private_stream_2, ECM, EMM, directory, DSMCC, H.222.1 type E.
    if matches!(sid, 0xBC | 0xBE | 0xBF | 0xF0 | 0xF1 | 0xFF | 0xF2 | 0xF8) {
        return Ok((None, None, 6));
    }
    if b.len() < 9 {
        return Err(truncated(W, offset + b.len(), 9 - b.len()));
    }
    let flags = b[7] >> 6;
    let hlen = 9 + b[8] as usize;
    if b.len() < hlen {
        return Err(truncated(W, offset + b.len(), hlen - b.len()));
    }
    let need = match flags {
        2 => 14,
        3 => 19,
        _ => 9,
    };
    if hlen < need {
        return Err(invalid(
            W,
            offset + 8,
            format!("PES_header_data_length {} too short for PTS/DTS", b[8]),
        ));
    }
    let pts = (flags & 2 != 0).then(|| read_ts(&b[9..14]));
    let dts = (flags == 3).then(|| read_ts(&b[14..19]));
    Ok((pts, dts, hlen))
}

/// Walks all packets: PAT/PMT, PES reassembly, SCTE-35 sections.
pub fn demux(data: &[u8]) -> Result<Demuxed> {
    if !data.len().is_multiple_of(PACKET_SIZE) {
        let whole = data.len() - data.len() % PACKET_SIZE;
        return Err(truncated(
            WHAT,
            data.len(),
            whole + PACKET_SIZE - data.len(),
        ));
    }
    let mut d = Demuxed::default();
    let mut psi = Psi::default();
    let mut sections: std::collections::HashMap<u16, SectionBuf> = Default::default();
    let mut pes_bufs: std::collections::HashMap<u16, PesBuf> = Default::default();
    let mut last_cc: std::collections::HashMap<u16, u8> = Default::default();
    let mut ts_ref: Option<u64> = None;

    for offset in (0..data.len()).step_by(PACKET_SIZE) {
        let pkt = packet(data, offset)?;
        d.packets += 1;
        if pkt.pid == 0x1FFF {
            continue;
        }
        if pkt.has_payload {
            if let Some(&prev) = last_cc.get(&pkt.pid)
                && pkt.cc != (prev + 1) & 0x0F
                && pkt.cc != prev
                && !pkt.discontinuity
            {
                d.continuity_errors.push(offset);
            }
            last_cc.insert(pkt.pid, pkt.cc);
        }
        let stream_type = d.streams.iter().find(|s| s.0 == pkt.pid).map(|s| s.1);
        let is_psi =
            pkt.pid == 0 || Some(pkt.pid) == psi.pmt_pid || stream_type == Some(StreamType::Scte35);
        if is_psi {
            for (sec_off, sec) in sections.entry(pkt.pid).or_default().push(&pkt)? {
                psi.section(&mut d, pkt.pid, sec_off, &sec, offset)?;
            }
            continue;
        }
        let Some(st) = stream_type else { continue };
        if pkt.pusi {
            if let Some(buf) = pes_bufs.remove(&pkt.pid) {
                finish_pes(buf, &mut d, &mut ts_ref)?;
            }
            pes_bufs.insert(
                pkt.pid,
                PesBuf {
                    pes: Pes {
                        pid: pkt.pid,
                        stream_type: st,
                        byte_offset: offset,
                        pts: None,
                        dts: None,
                        random_access: pkt.random_access,
                        payload: pkt.payload.to_vec(),
                    },
                    payload_offset: pkt.payload_offset,
                },
            );
        } else if let Some(buf) = pes_bufs.get_mut(&pkt.pid) {
            buf.pes.payload.extend_from_slice(pkt.payload);
        }
    }
    let mut rest: Vec<PesBuf> = pes_bufs.into_values().collect();
    rest.sort_by_key(|b| b.pes.byte_offset);
    for buf in rest {
        finish_pes(buf, &mut d, &mut ts_ref)?;
    }
    d.pes.sort_by_key(|p| p.byte_offset);
    if psi.pmt_pid.is_none() {
        return Err(Error::Missing {
            what: WHAT,
            detail: "PAT (no program found)".into(),
        });
    }
    if !psi.have_pmt {
        return Err(Error::Missing {
            what: WHAT,
            detail: "PMT".into(),
        });
    }
    Ok(d)
}

/// A finished PES packet: its header's timestamps (unwrapped against the first PTS) read,
/// its payload from the elementary stream on.
fn finish_pes(buf: PesBuf, d: &mut Demuxed, ts_ref: &mut Option<u64>) -> Result<()> {
    let PesBuf {
        mut pes,
        payload_offset,
    } = buf;
    let (pts, dts, hlen) = pes_header(&pes.payload, payload_offset)?;
    let pts = pts.map(|t| unwrap_ts(*ts_ref, t));
    if ts_ref.is_none() {
        *ts_ref = pts;
    }
    let dts = dts.map(|t| unwrap_ts(*ts_ref, t)).or(pts);
    pes.pts = pts;
    pes.dts = dts;
    pes.payload.drain(..hlen);
    d.pes.push(pes);
    Ok(())
}

/// What the PSI tables said so far.
#[derive(Default)]
struct Psi {
    pmt_pid: Option<u16>,
    pat_offset: Option<usize>,
    have_pmt: bool,
}

impl Psi {
    /// One PSI section of `pid` at `sec_off` (in the packet at `offset`): the PAT, the PMT
    /// or a SCTE-35 section.
    fn section(
        &mut self,
        d: &mut Demuxed,
        pid: u16,
        sec_off: usize,
        sec: &[u8],
        offset: usize,
    ) -> Result<()> {
        if pid == 0 && sec[0] == 0x00 {
            let body = psi_body(sec, sec_off, "PAT")?;
            if self.pat_offset.is_none() {
                self.pat_offset = Some(sec_off);
            }
            for e in body.chunks_exact(4) {
                let program = u16::from_be_bytes([e[0], e[1]]);
                let pid = u16::from_be_bytes([e[2] & 0x1F, e[3]]);
                if program != 0 && self.pmt_pid.is_none() {
                    self.pmt_pid = Some(pid);
                    d.pmt_pid = pid;
                }
            }
        } else if Some(pid) == self.pmt_pid && sec[0] == 0x02 {
            let body = psi_body(sec, sec_off, "PMT")?;
            if !self.have_pmt {
                self.have_pmt = true;
                if let Some(p) = self.pat_offset {
                    d.pat_pmt_range = Some(ByteRange {
                        offset: p,
                        len: offset + PACKET_SIZE - p,
                    });
                }
                d.streams = parse_pmt(body, sec_off)?;
            }
        } else if sec[0] == 0xFC {
            // Offsets of SCTE-35 errors are relative to the section;
            // report them relative to the segment.
            match SpliceInfoSection::parse(sec) {
                Ok(section) => d.scte35.push(Scte35InTs {
                    pid,
                    byte_offset: sec_off,
                    section,
                }),
                Err(e) => d.scte35_errors.push(e.shifted(sec_off)),
            }
        }
        Ok(())
    }
}

fn parse_pmt(body: &[u8], offset: usize) -> Result<Vec<(u16, StreamType)>> {
    if body.len() < 4 {
        return Err(truncated("PMT", offset + 8 + body.len(), 4 - body.len()));
    }
    let info_len = usize::from(u16::from_be_bytes([body[2] & 0x0F, body[3]]));
    let mut p = 4 + info_len;
    let mut out = Vec::new();
    while p < body.len() {
        if p + 5 > body.len() {
            return Err(truncated(
                "PMT",
                offset + 8 + body.len(),
                p + 5 - body.len(),
            ));
        }
        let st = StreamType::from_byte(body[p]);
        let pid = u16::from_be_bytes([body[p + 1] & 0x1F, body[p + 2]]);
        let es_len = usize::from(u16::from_be_bytes([body[p + 3] & 0x0F, body[p + 4]]));
        p += 5 + es_len;
        if p > body.len() {
            return Err(invalid(
                "PMT",
                offset + 8 + p - es_len - 2,
                format!("ES_info_length {es_len} runs past the section"),
            ));
        }
        out.push((pid, st));
    }
    Ok(out)
}

/// Byte ranges of Annex-B NAL units (without start codes) in `es`.
pub fn annexb_nals(es: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= es.len() {
        if es[i] == 0 && es[i + 1] == 0 && es[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let mut e = starts.get(k + 1).map_or(es.len(), |&n| n - 3);
        // Trailing zeros belong to the next 4-byte start code / trailing_zero_8bits.
        while e > s && es[e - 1] == 0 {
            e -= 1;
        }
        if e > s {
            out.push(&es[s..e]);
        }
    }
    out
}

/// Whether an access unit contains an IDR (H.264) / IRAP (HEVC) picture.
pub fn is_keyframe(stream_type: StreamType, es: &[u8]) -> bool {
    annexb_nals(es).iter().any(|n| match stream_type {
        StreamType::H264 => n[0] & 0x1F == 5,
        StreamType::Hevc => (16..=21).contains(&((n[0] >> 1) & 0x3F)),
        _ => false,
    })
}

/// Number of ADTS frames in an AAC PES payload and the sample rate of the first.
fn adts_frames(es: &[u8]) -> (u64, Option<u32>) {
    let (mut n, mut sr, mut p) = (0, None, 0);
    while p + 7 <= es.len() && es[p] == 0xFF && es[p + 1] & 0xF0 == 0xF0 {
        let len = (usize::from(es[p + 3] & 3) << 11)
            | (usize::from(es[p + 4]) << 3)
            | usize::from(es[p + 5] >> 5);
        if len < 7 {
            break;
        }
        if sr.is_none() {
            sr = crate::codec::adts_sample_rate((es[p + 2] >> 2) & 0x0F);
        }
        n += 1;
        p += len;
    }
    (n, sr)
}

/// Inspects a TS segment: streams, timing, keyframe byte ranges, PAT/PMT range,
/// SCTE-35 sections.
pub fn inspect(data: &[u8]) -> Result<TsInfo> {
    let d = demux(data)?;
    let mut streams: Vec<Stream> = d
        .streams
        .iter()
        .map(|&(pid, stream_type)| Stream {
            pid,
            stream_type,
            first_pts: None,
            last_pts: None,
            pes_count: 0,
        })
        .collect();
    for p in &d.pes {
        if let Some(s) = streams.iter_mut().find(|s| s.pid == p.pid) {
            s.pes_count += 1;
            if let Some(t) = p.pts {
                s.first_pts = Some(s.first_pts.map_or(t, |f| f.min(t)));
                s.last_pts = Some(s.last_pts.map_or(t, |l| l.max(t)));
            }
        }
    }
    let main = streams
        .iter()
        .find(|s| s.stream_type.is_video())
        .or_else(|| {
            streams
                .iter()
                .find(|s| s.stream_type == StreamType::AacAdts)
        })
        .cloned();

    let mut keyframes = Vec::new();
    let mut duration = None;
    if let Some(main) = &main {
        let pes: Vec<&Pes> = d.pes_of(main.pid).collect();
        if main.stream_type.is_video() {
            for (i, p) in pes.iter().enumerate() {
                if let Some(pts) = p.pts
                    && is_keyframe(main.stream_type, &p.payload)
                {
                    let end = pes.get(i + 1).map_or(data.len(), |n| n.byte_offset);
                    keyframes.push(Keyframe {
                        pts,
                        byte_offset: p.byte_offset,
                        byte_len: end - p.byte_offset,
                    });
                }
            }
            let mut ptss: Vec<u64> = pes.iter().filter_map(|p| p.pts).collect();
            ptss.sort_unstable();
            let frame = ptss
                .windows(2)
                .map(|w| w[1] - w[0])
                .filter(|&d| d > 0)
                .min();
            if let (Some(f), Some(l)) = (main.first_pts, main.last_pts) {
                duration = Some(l - f + frame.unwrap_or(0));
            }
        } else if let (Some(f), Some(last)) =
            (main.first_pts, pes.iter().rev().find(|p| p.pts.is_some()))
        {
            let (n, sr) = adts_frames(&last.payload);
            let tail = sr.map_or(0, |sr| n * 1024 * 90_000 / u64::from(sr));
            duration = last.pts.map(|l| l - f + tail);
        }
    }
    Ok(TsInfo {
        streams,
        pmt_pid: d.pmt_pid,
        first_pts: main.as_ref().and_then(|m| m.first_pts),
        last_pts: main.as_ref().and_then(|m| m.last_pts),
        duration,
        keyframes,
        pat_pmt_range: d.pat_pmt_range,
        scte35: d.scte35,
        scte35_errors: d.scte35_errors,
        continuity_errors: d.continuity_errors,
        packets: d.packets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pts_unwraps_across_33_bits() {
        assert_eq!(unwrap_ts(None, 5), 5);
        assert_eq!(unwrap_ts(Some(WRAP - 10), 5), WRAP + 5);
        assert_eq!(unwrap_ts(Some(WRAP + 5), WRAP - 10), WRAP - 10);
        assert_eq!(unwrap_ts(Some(100), 90), 90);
    }

    #[test]
    fn nal_split_handles_3_and_4_byte_start_codes() {
        let es = [
            0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x65, 1, 2, 0, 0, 0, 1, 0x41, 7,
        ];
        let nals = annexb_nals(&es);
        assert_eq!(
            nals,
            vec![&[0x09, 0xF0][..], &[0x65, 1, 2][..], &[0x41, 7][..]]
        );
        assert!(is_keyframe(StreamType::H264, &es));
        assert!(!is_keyframe(StreamType::H264, &es[9..9]));
    }

    #[test]
    fn rejects_bad_sync_and_partial_packets() {
        let mut b = vec![0u8; PACKET_SIZE];
        assert!(matches!(demux(&b), Err(Error::Invalid { offset: 0, .. })));
        b[0] = 0x47;
        b.push(0x47);
        assert!(matches!(demux(&b), Err(Error::Truncated { .. })));
        assert!(matches!(demux(&[]), Err(Error::Missing { .. })));
    }
}
