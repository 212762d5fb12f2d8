//! HLS `SAMPLE-AES` of MPEG-TS segments, as Apple's "MPEG-2 Stream Encryption Format for
//! HTTP Live Streaming" specifies it (`METHOD=SAMPLE-AES` with a TS media playlist).
//!
//! - H.264 (PMT `stream_type` 0xdb, `private_data_indicator_descriptor` `zavc`): NAL units
//!   of type 1 and 5 are encrypted as they are in the stream: the NAL header byte and 31
//!   more bytes stay clear, then one 16-byte block in ten is encrypted (AES-128-CBC chained
//!   over the encrypted blocks of the NAL unit, the IV reset at each NAL unit), a last block
//!   only if more than 16 bytes remain; emulation prevention is applied over the result,
//!   so the NAL unit stays a valid byte stream and may grow. A decryptor removes it,
//!   decrypts, and has the NAL unit back byte for byte (its own emulation prevention bytes
//!   included), which is what ffmpeg and hls.js feed their decoders.
//! - AAC in ADTS (0xcf, `aacd`, and a `registration_descriptor` `apad` carrying the audio
//!   setup information: `zaac`, priming 0, version 1, the AudioSpecificConfig): per ADTS
//!   frame the header and 16 more bytes stay clear, then every whole 16-byte block is
//!   encrypted (CBC, IV reset per frame), the partial tail stays clear.
//!
//! Other PIDs pass through byte for byte. PES packets of the two streams are written back
//! over the TS packets they came in (adaptation fields with PCR and random access flags
//! kept, stuffing recomputed, continuity counters renumbered per PID); a PES that grew
//! takes extra packets right after its last one. The PMT must fit in one TS packet (as the
//! specification requires).
//!
//! Note on ffmpeg (5.1, `hls_sample_encryption.c`): it resets the IV per PES packet for
//! audio, not per ADTS frame, so it decrypts AAC correctly only where each PES carries one
//! ADTS frame; hls.js, Safari and this module follow the specification (reset per frame).
//!
//! Hand-written: no crate rewrites TS packets; the TS walker of [`crate::ts`] finds the
//! streams and the ciphers are RustCrypto `aes`.

use ::aes::Aes128;
use ::aes::cipher::KeyInit;

use crate::bits::crc32_mpeg2;
use crate::cenc::{Block, cbc_pattern};
use crate::codec::parse_adts;
use crate::error::{Error, Result, invalid};
use crate::h264::escape;
use crate::ts::{self, StreamType, annexb_nals};

const PACKET: usize = 188;
const W: &str = "SAMPLE-AES";

/// PMT `stream_type` of SAMPLE-AES H.264.
pub const STREAM_TYPE_H264: u8 = 0xdb;
/// PMT `stream_type` of SAMPLE-AES AAC (ADTS).
pub const STREAM_TYPE_AAC: u8 = 0xcf;

/// Encrypts a TS segment with `SAMPLE-AES` (see the module docs). `iv` is the IV the
/// playlist states (or implies: the media sequence number, RFC 8216 5.2).
pub fn encrypt_ts(data: &[u8], key: &Block, iv: &Block) -> Result<Vec<u8>> {
    let d = ts::demux(data)?;
    let pid_of = |t: StreamType| d.streams.iter().find(|s| s.1 == t).map(|s| s.0);
    let (video, audio) = (pid_of(StreamType::H264), pid_of(StreamType::AacAdts));
    let asc = match audio {
        Some(pid) => {
            let first = d.pes_of(pid).next().ok_or_else(|| Error::Missing {
                what: W,
                detail: format!("AAC frames on PID {pid:#x}"),
            })?;
            Some(parse_adts(&first.payload, first.byte_offset)?.audio_specific_config())
        }
        None => None,
    };
    let aes = Aes128::new(key.into());
    let packets: Vec<Packet<'_>> = (0..data.len() / PACKET)
        .map(|i| Packet::parse(&data[i * PACKET..(i + 1) * PACKET], i * PACKET))
        .collect::<Result<_>>()?;
    // PES units of the encrypted PIDs: packet indexes, first to last.
    let mut units: Vec<(u16, Vec<usize>)> = Vec::new();
    let mut open: std::collections::HashMap<u16, usize> = Default::default();
    for (i, p) in packets.iter().enumerate() {
        if Some(p.pid) != video && Some(p.pid) != audio {
            continue;
        }
        if p.pusi {
            open.insert(p.pid, units.len());
            units.push((p.pid, vec![i]));
        } else if let Some(&u) = open.get(&p.pid) {
            units[u].1.push(i);
        }
    }
    // Encrypted PES bytes of each unit, emitted at the unit's last packet.
    let mut emit_at: std::collections::HashMap<usize, usize> = Default::default();
    let mut unit_of: std::collections::HashMap<usize, usize> = Default::default();
    let mut new_pes = Vec::with_capacity(units.len());
    for (u, (pid, idx)) in units.iter().enumerate() {
        let pes: Vec<u8> = idx
            .iter()
            .flat_map(|&i| packets[i].payload.to_vec())
            .collect();
        let enc = encrypt_pes(&pes, Some(*pid) == video, &aes, iv, packets[idx[0]].offset)?;
        new_pes.push(enc);
        emit_at.insert(*idx.last().unwrap_or(&0), u);
        for &i in idx {
            unit_of.insert(i, u);
        }
    }
    let mut out = Vec::with_capacity(data.len() + data.len() / 50);
    let mut cc: std::collections::HashMap<u16, u8> = Default::default();
    let mut filled: Vec<usize> = vec![0; units.len()];
    for (i, p) in packets.iter().enumerate() {
        if p.pid == d.pmt_pid && p.pusi {
            out.extend(rewrite_pmt(p, video, audio, asc)?);
            continue;
        }
        let Some(&u) = unit_of.get(&i) else {
            out.extend_from_slice(p.raw);
            continue;
        };
        let counter = cc.entry(p.pid).or_insert(p.cc);
        let pes = &new_pes[u];
        let af = p.meaningful_af();
        let cap = 184 - af.map_or(0, |a| 1 + a.len());
        let take = cap.min(pes.len() - filled[u]);
        let last = emit_at.get(&i) == Some(&u);
        // The last packet of the unit takes what is left in as many packets as it needs.
        if take > 0 || af.is_some_and(|a| a.first().is_some_and(|f| f & 0x10 != 0)) {
            let chunk = &pes[filled[u]..filled[u] + take];
            write_packet(&mut out, p.pid, p.pusi, counter, af, chunk);
            filled[u] += take;
        }
        if last {
            while filled[u] < pes.len() {
                let take = 184.min(pes.len() - filled[u]);
                let chunk = &pes[filled[u]..filled[u] + take];
                write_packet(&mut out, p.pid, false, counter, None, chunk);
                filled[u] += take;
            }
        }
    }
    Ok(out)
}

struct Packet<'a> {
    raw: &'a [u8],
    offset: usize,
    pid: u16,
    pusi: bool,
    cc: u8,
    /// Adaptation field body after its length byte (stuffing included), if any.
    af: Option<&'a [u8]>,
    payload: &'a [u8],
}

impl<'a> Packet<'a> {
    fn parse(raw: &'a [u8], offset: usize) -> Result<Self> {
        if raw[0] != 0x47 {
            return Err(invalid(W, offset, "lost TS sync"));
        }
        let pid = u16::from_be_bytes([raw[1] & 0x1F, raw[2]]);
        let afc = (raw[3] >> 4) & 3;
        let mut p = 4;
        let mut af = None;
        if afc & 2 != 0 {
            let len = usize::from(raw[4]);
            if 5 + len > PACKET {
                return Err(invalid(W, offset + 4, "adaptation field too long"));
            }
            af = Some(&raw[5..5 + len]);
            p = 5 + len;
        }
        Ok(Self {
            raw,
            offset,
            pid,
            pusi: raw[1] & 0x40 != 0,
            cc: raw[3] & 0x0F,
            af,
            payload: if afc & 1 != 0 { &raw[p..] } else { &[] },
        })
    }

    /// The adaptation field without its stuffing (flags and the fields they announce).
    fn meaningful_af(&self) -> Option<&'a [u8]> {
        let af = self.af?;
        let &flags = af.first()?;
        let mut n = 1;
        if flags & 0x10 != 0 {
            n += 6;
        }
        if flags & 0x08 != 0 {
            n += 6;
        }
        if flags & 0x04 != 0 {
            n += 1;
        }
        for bit in [0x02, 0x01] {
            if flags & bit != 0 {
                n += 1 + usize::from(af.get(n).copied().unwrap_or(0));
            }
        }
        let n = n.min(af.len());
        (flags != 0 || n > 1).then(|| &af[..n])
    }
}

/// One TS packet: `af` (flags and fields, no stuffing) and `payload` (at most what fits).
fn write_packet(
    out: &mut Vec<u8>,
    pid: u16,
    pusi: bool,
    cc: &mut u8,
    af: Option<&[u8]>,
    payload: &[u8],
) {
    let start = out.len();
    let has_payload = !payload.is_empty();
    let need_af = af.is_some() || payload.len() < 184;
    let afc = match (need_af, has_payload) {
        (true, true) => 3,
        (true, false) => 2,
        _ => 1,
    };
    // A packet without payload repeats the previous counter (13818-1 2.4.3.3).
    let this_cc = if has_payload {
        let c = *cc;
        *cc = (*cc + 1) & 0x0F;
        c
    } else {
        cc.wrapping_sub(1) & 0x0F
    };
    out.extend_from_slice(&[
        0x47,
        (u8::from(pusi) << 6) | ((pid >> 8) as u8 & 0x1F),
        pid as u8,
        (afc << 4) | this_cc,
    ]);
    if need_af {
        let af_len = 183 - payload.len();
        out.push(af_len as u8);
        if af_len > 0 {
            let body = af.unwrap_or(&[0x00]);
            out.extend_from_slice(body);
            out.resize(start + 5 + af_len, 0xFF);
        }
    }
    out.extend_from_slice(payload);
    debug_assert_eq!(out.len() - start, PACKET);
}

/// Encrypts the elementary stream of one PES packet, keeping its header (and fixing
/// `PES_packet_length` when it was set).
fn encrypt_pes(pes: &[u8], video: bool, aes: &Aes128, iv: &Block, at: usize) -> Result<Vec<u8>> {
    if pes.len() < 9 || pes[..3] != [0, 0, 1] {
        return Err(invalid(W, at, "PES start code missing"));
    }
    let hlen = 9 + usize::from(pes[8]);
    if hlen > pes.len() {
        return Err(invalid(W, at, "PES header longer than the PES"));
    }
    let es = &pes[hlen..];
    let enc = if video {
        encrypt_h264(es, aes, iv)
    } else {
        encrypt_adts(es, aes, iv, at)?
    };
    let mut out = pes[..hlen].to_vec();
    out.extend_from_slice(&enc);
    if u16::from_be_bytes([pes[4], pes[5]]) != 0 {
        let len = u16::try_from(out.len() - 6).unwrap_or(0);
        out[4..6].copy_from_slice(&len.to_be_bytes());
    }
    Ok(out)
}

/// The Annex B stream with its type 1 and 5 NAL units encrypted.
pub(crate) fn encrypt_h264(es: &[u8], aes: &Aes128, iv: &Block) -> Vec<u8> {
    let mut out = Vec::with_capacity(es.len() + 64);
    let mut copied = 0;
    for nal in annexb_nals(es) {
        let start = nal.as_ptr() as usize - es.as_ptr() as usize;
        out.extend_from_slice(&es[copied..start]);
        copied = start + nal.len();
        if !matches!(nal[0] & 0x1F, 1 | 5) {
            out.extend_from_slice(nal);
            continue;
        }
        // The NAL unit as it is in the stream, emulation prevention bytes included: what
        // the decrypting side gets back after removing the emulation prevention applied
        // below, and hands to its decoder as is (ffmpeg's HLS demuxer, hls.js).
        let mut data = nal.to_vec();
        if data.len() > 32 {
            // 1 in 10 blocks; a last block only if more than 16 bytes remain.
            let body = &mut data[32..];
            let whole = if body.len() % 16 == 0 {
                body.len().saturating_sub(16)
            } else {
                body.len() - body.len() % 16
            };
            cbc_pattern(aes, iv, &mut body[..whole], (1, 9));
        }
        out.extend(escape(&data));
    }
    out.extend_from_slice(&es[copied..]);
    out
}

/// The ADTS frames of `es`, each encrypted after its header and 16 clear bytes.
fn encrypt_adts(es: &[u8], aes: &Aes128, iv: &Block, at: usize) -> Result<Vec<u8>> {
    let mut out = es.to_vec();
    let mut p = 0;
    while p < out.len() {
        let h = parse_adts(&out[p..], at)?;
        let end = p + h.frame_len;
        if end > out.len() {
            return Err(invalid(W, at, "ADTS frame runs past its PES"));
        }
        let body = p + h.header_len + 16;
        if body < end {
            cbc_pattern(aes, iv, &mut out[body..end], (0, 0));
        }
        p = end;
    }
    Ok(out)
}

/// The PMT packet with SAMPLE-AES stream types and descriptors.
fn rewrite_pmt(
    p: &Packet<'_>,
    video: Option<u16>,
    audio: Option<u16>,
    asc: Option<[u8; 2]>,
) -> Result<Vec<u8>> {
    let pl = p.payload;
    let ptr = usize::from(*pl.first().unwrap_or(&0));
    let sec = pl.get(1 + ptr..).unwrap_or(&[]);
    if sec.len() < 12 || sec[0] != 0x02 {
        return Err(invalid(
            W,
            p.offset,
            "PMT section not at the start of its packet",
        ));
    }
    let sec_len = usize::from(u16::from_be_bytes([sec[1] & 0x0F, sec[2]]));
    if 3 + sec_len > sec.len() || sec_len < 13 {
        return Err(Error::Unsupported {
            what: W,
            offset: p.offset,
            detail: "a PMT over more than one TS packet".into(),
        });
    }
    let body = &sec[8..3 + sec_len - 4];
    let info_len = usize::from(u16::from_be_bytes([body[2] & 0x0F, body[3]]));
    let mut new = sec[..8].to_vec();
    new.extend_from_slice(&body[..4 + info_len.min(body.len() - 4)]);
    let mut i = 4 + info_len;
    while i + 5 <= body.len() {
        let pid = u16::from_be_bytes([body[i + 1] & 0x1F, body[i + 2]]);
        let es_len = usize::from(u16::from_be_bytes([body[i + 3] & 0x0F, body[i + 4]]));
        let info = body.get(i + 5..i + 5 + es_len).unwrap_or(&[]);
        let (st, extra): (u8, Vec<u8>) = if Some(pid) == video {
            (STREAM_TYPE_H264, [&[0x0F, 4][..], b"zavc"].concat())
        } else if Some(pid) == audio {
            let asc = asc.unwrap_or([0x12, 0x10]);
            let mut d = [&[0x0F, 4][..], b"aacd"].concat();
            // registration_descriptor: 'apad' + audio setup information.
            d.extend_from_slice(&[0x05, 4 + 10 + asc.len() as u8]);
            d.extend_from_slice(b"apadzaac");
            d.extend_from_slice(&[0, 0, 1, asc.len() as u8]);
            d.extend_from_slice(&asc);
            (STREAM_TYPE_AAC, d)
        } else {
            (body[i], Vec::new())
        };
        let n = info.len() + extra.len();
        new.push(st);
        new.extend_from_slice(&body[i + 1..i + 3]);
        new.extend_from_slice(&[0xF0 | (n >> 8) as u8, n as u8]);
        new.extend_from_slice(info);
        new.extend_from_slice(&extra);
        i += 5 + es_len;
    }
    let len = new.len() - 3 + 4;
    new[1] = (new[1] & 0xF0) | ((len >> 8) as u8 & 0x0F);
    new[2] = len as u8;
    let crc = crc32_mpeg2(&new);
    new.extend_from_slice(&crc.to_be_bytes());
    if new.len() + 1 > 184 - p.meaningful_af().map_or(0, |a| 1 + a.len()) {
        return Err(Error::Unsupported {
            what: W,
            offset: p.offset,
            detail: "the SAMPLE-AES PMT does not fit in one TS packet".into(),
        });
    }
    let mut payload = vec![0u8];
    payload.extend_from_slice(&new);
    let cap = 184 - p.meaningful_af().map_or(0, |a| 1 + a.len());
    payload.resize(cap, 0xFF);
    let mut out = Vec::with_capacity(PACKET);
    let mut cc = p.cc;
    write_packet(&mut out, p.pid, true, &mut cc, p.meaningful_af(), &payload);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h264::unescape;

    #[test]
    fn nal_pattern_leaves_32_bytes_and_the_tail_clear() {
        let aes = Aes128::new(&[1u8; 16].into());
        let iv = [2u8; 16];
        // One IDR NAL unit of 1 + 31 + 16*10 + 16 bytes: blocks at 32 and 192 (a last
        // block needs more than 16 bytes after it, so the final 16 stay clear).
        let mut nal = vec![0x65];
        nal.extend((1..1 + 31 + 160 + 16 + 17).map(|i| (i % 200 + 20) as u8));
        let es = [&[0, 0, 0, 1][..], &nal].concat();
        let (enc, _) = unescape(&encrypt_h264(&es, &aes, &iv)[4..]);
        assert_eq!(enc.len(), nal.len());
        let changed = |a: usize, b: usize| enc[a..b] != nal[a..b];
        assert!(!changed(0, 32));
        assert!(changed(32, 48));
        assert!(!changed(48, 192));
        assert!(changed(192, 208));
        assert!(!changed(208, nal.len()));
    }

    /// A slice's own emulation prevention bytes are part of what is encrypted: removing
    /// the emulation prevention applied after encryption gives them back in the clear
    /// part (ffmpeg and hls.js decode the decrypted NAL unit as is).
    #[test]
    fn a_slice_keeps_its_own_emulation_prevention_bytes() {
        let aes = Aes128::new(&[3u8; 16].into());
        let mut nal = vec![0x41, 0x9a, 0, 0, 3, 1, 0x20];
        nal.extend((0..200u32).map(|i| (i % 200 + 20) as u8));
        let es = [&[0, 0, 1][..], &nal].concat();
        let (enc, _) = unescape(&encrypt_h264(&es, &aes, &[4; 16])[3..]);
        assert_eq!(enc.len(), nal.len());
        assert_eq!(enc[..32], nal[..32]);
    }

    #[test]
    fn emulation_prevention_is_applied_after_encryption() {
        let aes = Aes128::new(&[9u8; 16].into());
        for seed in 0..64u8 {
            let mut nal = vec![0x41];
            nal.extend((0..300u32).map(|i| ((i * 37 + u32::from(seed) * 11) % 251 + 4) as u8));
            let es = [&[0, 0, 1][..], &nal].concat();
            let enc = encrypt_h264(&es, &aes, &[seed; 16]);
            let body = &enc[3..];
            assert!(
                !body.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2),
                "start code emulation in the encrypted NAL unit"
            );
        }
    }
}
