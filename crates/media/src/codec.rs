//! Codec header parsing shared by the TS inspector and the remux: ADTS (AAC)
//! headers and H.264 SPS (for the avcC / avc1 sample entry).

use crate::bits::BitReader;
use crate::error::{Result, invalid, truncated};

const SAMPLE_RATES: [u32; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

/// Sample rate for an ADTS/ASC `sampling_frequency_index`.
pub(crate) fn adts_sample_rate(index: u8) -> Option<u32> {
    SAMPLE_RATES.get(usize::from(index)).copied()
}

/// A parsed ADTS frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Adts {
    /// MPEG-4 audio object type (profile + 1), e.g. 2 = AAC-LC.
    pub object_type: u8,
    pub sample_rate_index: u8,
    pub sample_rate: u32,
    pub channels: u8,
    /// Header length (7, or 9 with CRC).
    pub header_len: usize,
    /// Whole frame length including the header.
    pub frame_len: usize,
}

impl Adts {
    /// The 2-byte AudioSpecificConfig for esds.
    pub fn audio_specific_config(&self) -> [u8; 2] {
        [
            (self.object_type << 3) | (self.sample_rate_index >> 1),
            ((self.sample_rate_index & 1) << 7) | (self.channels << 3),
        ]
    }
}

/// Parses the ADTS header at the start of `b`; `offset` is for errors.
pub(crate) fn parse_adts(b: &[u8], offset: usize) -> Result<Adts> {
    const W: &str = "ADTS header";
    if b.len() < 7 {
        return Err(truncated(W, offset + b.len(), 7 - b.len()));
    }
    if b[0] != 0xFF || b[1] & 0xF0 != 0xF0 {
        return Err(invalid(W, offset, "missing 0xFFF syncword"));
    }
    let protection_absent = b[1] & 1 == 1;
    let object_type = (b[2] >> 6) + 1;
    let sample_rate_index = (b[2] >> 2) & 0x0F;
    let sample_rate = adts_sample_rate(sample_rate_index).ok_or_else(|| {
        invalid(
            W,
            offset + 2,
            format!("sampling_frequency_index {sample_rate_index}"),
        )
    })?;
    let channels = ((b[2] & 1) << 2) | (b[3] >> 6);
    let frame_len =
        (usize::from(b[3] & 3) << 11) | (usize::from(b[4]) << 3) | usize::from(b[5] >> 5);
    let header_len = if protection_absent { 7 } else { 9 };
    if frame_len < header_len {
        return Err(invalid(
            W,
            offset + 3,
            format!("frame_length {frame_len} shorter than the header"),
        ));
    }
    if (b[6] & 3) != 0 {
        return Err(invalid(
            W,
            offset + 6,
            "more than one raw data block per ADTS frame is not supported",
        ));
    }
    Ok(Adts {
        object_type,
        sample_rate_index,
        sample_rate,
        channels,
        header_len,
        frame_len,
    })
}

/// What the avc1 sample entry needs from an SPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sps {
    pub profile_idc: u8,
    pub constraint_flags: u8,
    pub level_idc: u8,
    pub width: u32,
    pub height: u32,
}

/// Removes emulation prevention bytes (00 00 03 -> 00 00).
pub(crate) fn rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Parses an H.264 SPS NAL unit (with its 1-byte NAL header).
pub(crate) fn parse_sps(nal: &[u8], offset: usize) -> Result<Sps> {
    const W: &str = "H.264 SPS";
    if nal.len() < 4 {
        return Err(truncated(W, offset + nal.len(), 4 - nal.len()));
    }
    let data = rbsp(&nal[1..]);
    let mut r = BitReader::new(&data, offset + 1, W);
    let profile_idc = r.u8()?;
    let constraint_flags = r.u8()?;
    let level_idc = r.u8()?;
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag()?;
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.flag()?; // qpprime_y_zero_transform_bypass_flag
        if r.flag()? {
            let n = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..n {
                if r.flag()? {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i32, 8i32);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()? + 256).rem_euclid(256);
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?;
        }
        1 => {
            r.flag()?;
            r.se()?;
            r.se()?;
            let n = r.ue()?;
            if n > 255 {
                return Err(invalid(
                    W,
                    r.offset(),
                    format!("num_ref_frames_in_pic_order_cnt_cycle {n}"),
                ));
            }
            for _ in 0..n {
                r.se()?;
            }
        }
        _ => {}
    }
    r.ue()?; // max_num_ref_frames
    r.flag()?; // gaps_in_frame_num_value_allowed_flag
    let w_mbs = u64::from(r.ue()?) + 1;
    let h_units = u64::from(r.ue()?) + 1;
    let frame_mbs_only = r.flag()?;
    if !frame_mbs_only {
        r.flag()?;
    }
    r.flag()?; // direct_8x8_inference_flag
    let (mut cl, mut cr, mut ct, mut cb) = (0u64, 0u64, 0u64, 0u64);
    if r.flag()? {
        cl = r.ue()?.into();
        cr = r.ue()?.into();
        ct = r.ue()?.into();
        cb = r.ue()?.into();
    }
    let (sub_w, sub_h) = match (chroma_format_idc, separate_colour_plane) {
        (1, false) => (2, 2),
        (2, false) => (2, 1),
        _ => (1, 1),
    };
    let fm = if frame_mbs_only { 1 } else { 2 };
    let (crop_x, crop_y) = if chroma_format_idc == 0 || separate_colour_plane {
        (1, fm)
    } else {
        (sub_w, sub_h * fm)
    };
    let width = (w_mbs * 16).saturating_sub((cl + cr) * crop_x);
    let height = (h_units * 16 * fm).saturating_sub((ct + cb) * crop_y);
    if width == 0 || height == 0 || width > 16384 || height > 16384 {
        return Err(invalid(
            W,
            offset,
            format!("implausible size {width}x{height}"),
        ));
    }
    Ok(Sps {
        profile_idc,
        constraint_flags,
        level_idc,
        width: width as u32,
        height: height as u32,
    })
}
