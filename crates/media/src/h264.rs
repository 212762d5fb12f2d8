//! H.264 bits that encryption needs: emulation prevention (remove, with a map back to the
//! escaped bytes, and re-insert), the SPS/PPS fields a slice header depends on, and the
//! length of a slice header in the escaped NAL unit.
//!
//! Common Encryption leaves each slice's NAL header and slice header clear (ISO/IEC
//! 23001-7 10.2 / 10.4, and CMAF); the slice header is variable-length Exp-Golomb, so its
//! end is only known by parsing it (7.3.3). The length is measured the way Shaka Packager
//! measures it (`H264Parser::ParseSliceHeader`: bits read, counted over the escaped bytes,
//! rounded up to whole bytes), so the subsample maps written here equal Shaka's byte for
//! byte. Like Shaka, interlaced field pictures, slice groups and MVC extension slices are
//! refused (an error, never a wrong map).

use std::collections::HashMap;

use crate::bits::BitReader;
use crate::error::{Error, Result, invalid};

const W: &str = "H.264 slice header";

/// Removes emulation prevention bytes (`00 00 03` -> `00 00`). Also returns, for each
/// removed byte, the index in the output of the byte that followed it.
pub(crate) fn unescape(nal: &[u8]) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::with_capacity(nal.len());
    let mut removed = Vec::new();
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            removed.push(out.len());
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    (out, removed)
}

/// Inserts emulation prevention bytes so that no `00 00 0x` (x <= 3) appears (7.4.1), and
/// a trailing `00` is escaped too (`cabac_zero_word` rules aside, a NAL unit must not end
/// in `00`).
pub(crate) fn escape(rbsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rbsp.len() + rbsp.len() / 64 + 1);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    if zeros >= 2 {
        out.push(3);
    }
    out
}

/// What a slice header needs from an SPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpsFields {
    chroma_array_type: u32,
    separate_colour_plane: bool,
    log2_max_frame_num: u32,
    poc_type: u32,
    log2_max_poc_lsb: u32,
    delta_pic_order_always_zero: bool,
    frame_mbs_only: bool,
}

/// What a slice header needs from a PPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PpsFields {
    sps_id: u32,
    entropy_coding_mode: bool,
    bottom_field_pic_order_in_frame_present: bool,
    num_slice_groups_minus1: u32,
    num_ref_idx_l0_default_minus1: u32,
    num_ref_idx_l1_default_minus1: u32,
    weighted_pred: bool,
    weighted_bipred_idc: u32,
    deblocking_filter_control_present: bool,
    redundant_pic_cnt_present: bool,
}

/// The parameter sets seen so far (from `avcC`, then in-band).
#[derive(Debug, Clone, Default)]
pub(crate) struct ParamSets {
    sps: HashMap<u32, SpsFields>,
    pps: HashMap<u32, PpsFields>,
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<()> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            next = (last + r.se()? + 256).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

impl ParamSets {
    /// Takes an SPS or PPS NAL unit (escaped, with its header byte); other NAL types are
    /// ignored.
    pub(crate) fn add(&mut self, nal: &[u8]) -> Result<()> {
        match nal.first().map(|b| b & 0x1F) {
            Some(7) => self.add_sps(nal),
            Some(8) => self.add_pps(nal),
            _ => Ok(()),
        }
    }

    fn add_sps(&mut self, nal: &[u8]) -> Result<()> {
        const WS: &str = "H.264 SPS";
        let (data, _) = unescape(&nal[1..]);
        let mut r = BitReader::new(&data, 1, WS);
        let profile_idc = r.u8()?;
        r.u8()?; // constraint flags
        r.u8()?; // level_idc
        let id = r.ue()?;
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
                        skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                    }
                }
            }
        }
        let log2_max_frame_num = r.ue()? + 4;
        let poc_type = r.ue()?;
        let mut log2_max_poc_lsb = 0;
        let mut delta_pic_order_always_zero = false;
        match poc_type {
            0 => log2_max_poc_lsb = r.ue()? + 4,
            1 => {
                delta_pic_order_always_zero = r.flag()?;
                r.se()?;
                r.se()?;
                let n = r.ue()?;
                if n > 255 {
                    return Err(invalid(WS, r.offset(), format!("{n} POC cycle frames")));
                }
                for _ in 0..n {
                    r.se()?;
                }
            }
            _ => {}
        }
        r.ue()?; // max_num_ref_frames
        r.flag()?; // gaps_in_frame_num_value_allowed_flag
        r.ue()?; // pic_width_in_mbs_minus1
        r.ue()?; // pic_height_in_map_units_minus1
        let frame_mbs_only = r.flag()?;
        if log2_max_frame_num > 16 || log2_max_poc_lsb > 16 {
            return Err(invalid(WS, 1, "frame_num / POC LSB longer than 16 bits"));
        }
        self.sps.insert(
            id,
            SpsFields {
                chroma_array_type: if separate_colour_plane {
                    0
                } else {
                    chroma_format_idc
                },
                separate_colour_plane,
                log2_max_frame_num,
                poc_type,
                log2_max_poc_lsb,
                delta_pic_order_always_zero,
                frame_mbs_only,
            },
        );
        Ok(())
    }

    fn add_pps(&mut self, nal: &[u8]) -> Result<()> {
        const WP: &str = "H.264 PPS";
        let (data, _) = unescape(&nal[1..]);
        let mut r = BitReader::new(&data, 1, WP);
        let id = r.ue()?;
        let sps_id = r.ue()?;
        let entropy_coding_mode = r.flag()?;
        let bottom_field_pic_order_in_frame_present = r.flag()?;
        let num_slice_groups_minus1 = r.ue()?;
        if num_slice_groups_minus1 > 0 {
            // Slices of such pictures are refused below; the rest of this PPS is not needed.
            self.pps.insert(
                id,
                PpsFields {
                    sps_id,
                    entropy_coding_mode,
                    bottom_field_pic_order_in_frame_present,
                    num_slice_groups_minus1,
                    num_ref_idx_l0_default_minus1: 0,
                    num_ref_idx_l1_default_minus1: 0,
                    weighted_pred: false,
                    weighted_bipred_idc: 0,
                    deblocking_filter_control_present: false,
                    redundant_pic_cnt_present: false,
                },
            );
            return Ok(());
        }
        let num_ref_idx_l0_default_minus1 = r.ue()?;
        let num_ref_idx_l1_default_minus1 = r.ue()?;
        let weighted_pred = r.flag()?;
        let weighted_bipred_idc = r.bits(2)? as u32;
        r.se()?; // pic_init_qp_minus26
        r.se()?; // pic_init_qs_minus26
        r.se()?; // chroma_qp_index_offset
        let deblocking_filter_control_present = r.flag()?;
        r.flag()?; // constrained_intra_pred_flag
        let redundant_pic_cnt_present = r.flag()?;
        self.pps.insert(
            id,
            PpsFields {
                sps_id,
                entropy_coding_mode,
                bottom_field_pic_order_in_frame_present,
                num_slice_groups_minus1,
                num_ref_idx_l0_default_minus1,
                num_ref_idx_l1_default_minus1,
                weighted_pred,
                weighted_bipred_idc,
                deblocking_filter_control_present,
                redundant_pic_cnt_present,
            },
        );
        Ok(())
    }

    /// Bytes of the slice header of a coded slice NAL unit (type 1 or 5), after its
    /// one-byte NAL header, counted over the escaped bytes and rounded up.
    pub(crate) fn slice_header_len(&self, nal: &[u8]) -> Result<usize> {
        let nal_type = nal.first().map_or(0, |b| b & 0x1F);
        let ref_idc = nal.first().map_or(0, |b| (b >> 5) & 3);
        let (data, removed) = unescape(&nal[1..]);
        let mut r = BitReader::new(&data, 1, W);
        r.ue()?; // first_mb_in_slice
        let slice_type = r.ue()?;
        if slice_type >= 10 {
            return Err(invalid(W, 1, format!("slice_type {slice_type}")));
        }
        let kind = slice_type % 5; // 0 P, 1 B, 2 I, 3 SP, 4 SI
        let pps_id = r.ue()?;
        let pps = self.pps.get(&pps_id).ok_or_else(|| Error::Missing {
            what: W,
            detail: format!("PPS {pps_id}"),
        })?;
        let sps = self.sps.get(&pps.sps_id).ok_or_else(|| Error::Missing {
            what: W,
            detail: format!("SPS {}", pps.sps_id),
        })?;
        let unsupported = |detail: &str| Error::Unsupported {
            what: W,
            offset: 0,
            detail: detail.into(),
        };
        if sps.separate_colour_plane {
            return Err(unsupported("separate colour planes"));
        }
        r.bits(sps.log2_max_frame_num)?; // frame_num
        if !sps.frame_mbs_only && r.flag()? {
            return Err(unsupported("field pictures"));
        }
        if nal_type == 5 {
            r.ue()?; // idr_pic_id
        }
        if sps.poc_type == 0 {
            r.bits(sps.log2_max_poc_lsb)?;
            if pps.bottom_field_pic_order_in_frame_present {
                r.se()?;
            }
        }
        if sps.poc_type == 1 && !sps.delta_pic_order_always_zero {
            r.se()?;
            if pps.bottom_field_pic_order_in_frame_present {
                r.se()?;
            }
        }
        if pps.redundant_pic_cnt_present {
            r.ue()?;
        }
        if kind == 1 {
            r.flag()?; // direct_spatial_mv_pred_flag
        }
        let (mut l0, mut l1) = (
            pps.num_ref_idx_l0_default_minus1,
            pps.num_ref_idx_l1_default_minus1,
        );
        if matches!(kind, 0 | 1 | 3) && r.flag()? {
            l0 = r.ue()?;
            if kind == 1 {
                l1 = r.ue()?;
            }
        }
        if l0 > 31 || l1 > 31 {
            return Err(invalid(W, r.offset(), "more than 32 reference indexes"));
        }
        // ref_pic_list_modification()
        for list in 0..2 {
            let applies = if list == 0 {
                kind != 2 && kind != 4
            } else {
                kind == 1
            };
            if applies && r.flag()? {
                let mut n = 0;
                loop {
                    let idc = r.ue()?;
                    if idc == 3 {
                        break;
                    }
                    if idc > 5 || n > 64 {
                        return Err(invalid(W, r.offset(), "bad ref_pic_list_modification"));
                    }
                    r.ue()?;
                    n += 1;
                }
            }
        }
        if (pps.weighted_pred && matches!(kind, 0 | 3))
            || (pps.weighted_bipred_idc == 1 && kind == 1)
        {
            pred_weight_table(&mut r, sps.chroma_array_type, kind == 1, l0, l1)?;
        }
        if ref_idc != 0 {
            dec_ref_pic_marking(&mut r, nal_type == 5)?;
        }
        if pps.entropy_coding_mode && kind != 2 && kind != 4 {
            r.ue()?; // cabac_init_idc
        }
        r.se()?; // slice_qp_delta
        if kind == 3 || kind == 4 {
            if kind == 3 {
                r.flag()?; // sp_for_switch_flag
            }
            r.se()?; // slice_qs_delta
        }
        if pps.deblocking_filter_control_present && r.ue()? != 1 {
            r.se()?;
            r.se()?;
        }
        if pps.num_slice_groups_minus1 > 0 {
            return Err(unsupported("slice groups"));
        }
        // Bits read -> the last (partly) read unescaped byte -> its index in the escaped
        // bytes, + 1 (Shaka's bit reader counts a skipped 03 before a byte it loaded).
        let bits = r.bit_pos();
        let last = bits.div_ceil(8).saturating_sub(1);
        let escaped = last + removed.iter().filter(|&&at| at <= last).count();
        Ok(if bits == 0 { 0 } else { escaped + 1 })
    }
}

fn pred_weight_table(
    r: &mut BitReader<'_>,
    chroma_array_type: u32,
    bi: bool,
    l0: u32,
    l1: u32,
) -> Result<()> {
    r.ue()?; // luma_log2_weight_denom
    if chroma_array_type != 0 {
        r.ue()?;
    }
    let lists: &[u32] = if bi { &[l0, l1] } else { &[l0] };
    for &n in lists {
        for _ in 0..=n {
            if r.flag()? {
                r.se()?;
                r.se()?;
            }
            if chroma_array_type != 0 && r.flag()? {
                for _ in 0..4 {
                    r.se()?;
                }
            }
        }
    }
    Ok(())
}

fn dec_ref_pic_marking(r: &mut BitReader<'_>, idr: bool) -> Result<()> {
    if idr {
        r.flag()?;
        r.flag()?;
        return Ok(());
    }
    if r.flag()? {
        for _ in 0..66 {
            let op = r.ue()?;
            match op {
                0 => return Ok(()),
                1 | 2 | 4 | 6 => {
                    r.ue()?;
                }
                3 => {
                    r.ue()?;
                    r.ue()?;
                }
                5 => {}
                _ => return Err(invalid(W, r.offset(), format!("MMCO {op}"))),
            }
        }
        return Err(invalid(W, r.offset(), "too many MMCOs"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_round_trips_and_maps_removed_bytes() {
        let rbsp = [0u8, 0, 1, 5, 0, 0, 0, 0, 0, 3, 9, 0, 0];
        let esc = escape(&rbsp);
        assert_eq!(esc, [0, 0, 3, 1, 5, 0, 0, 3, 0, 0, 3, 0, 3, 9, 0, 0, 3]);
        let (back, removed) = unescape(&esc);
        assert_eq!(back, rbsp);
        assert_eq!(removed, [2, 6, 8, 13]);
    }
}
