//! # media
//!
//! Pure functions over byte slices for the media formats lineup moves around:
//! MPEG-TS and fMP4/CMAF inspection, TS -> CMAF remux, HLS AES-128 segment
//! encryption, Common Encryption (`cbcs`/`cenc`) of fMP4, HLS `SAMPLE-AES` of TS,
//! and SCTE-35 ad markers.
//!
//! **For**: the origin (I-frame-only playlists, TS->CMAF packaging, AES-128
//! output, SCTE-35 markers found in TS), the engine (SCTE-35 `splice_insert`
//! payloads for `#EXT-X-DATERANGE` / `#EXT-X-CUE-OUT`) and tests (structural
//! checks of segments).
//!
//! **Not for**: I/O of any kind (no files, sockets or clocks), playlists (see
//! the `hls` crate), transcoding or decoding pictures/audio.
//!
//! ## Main types
//! - [`scte35::SpliceInsert`], [`scte35::SpliceInfoSection`]: SCTE-35 encode/decode.
//! - [`aes`]: [`aes::encrypt_segment`], [`aes::decrypt_segment`], [`aes::iv_from_sequence`].
//! - [`cenc`]: [`cenc::protect_init`] (clear init -> `encv`/`enca` + `sinf`/`tenc` + `pssh`),
//!   [`cenc::encrypt_fragment`] (clear segment -> encrypted, `senc`/`saiz`/`saio`, `seig`
//!   groups for key rotation), [`cenc::pssh_box`], [`cenc::read_senc`]; subsample maps as
//!   Shaka Packager makes them (checked against it).
//! - [`sample_aes::encrypt_ts`]: Apple's SAMPLE-AES for TS (H.264 NAL units, AAC ADTS frames,
//!   PMT signalling).
//! - [`ts::inspect`] -> [`ts::TsInfo`]: streams, PTS range, keyframe byte ranges, PAT/PMT range.
//! - [`fmp4::inspect`] -> [`fmp4::Mp4Info`]; [`fmp4::remux_ts`] -> [`fmp4::Remuxed`] (CMAF init + media segment).
//! - [`Error`]: the one error type; every parse error names the problem and a byte offset.
//!
//! ## Architecture and invariants
//! - Every module is sans-I/O: input is `&[u8]`, output is owned values/`Vec<u8>`.
//! - Parsers never panic on any input (each has proptest fuzzing over random and
//!   mutated bytes); no `unsafe`.
//! - Times are integer ticks: 90 kHz for MPEG-TS/SCTE-35, the track timescale in fMP4.
//! - Flow: `ts::demux` (packets -> PSI -> PES, PTS unwrapped) feeds both
//!   `ts::inspect` (keyframes, durations) and `fmp4::remux_ts` (Annex B ->
//!   AVCC, ADTS -> raw AAC, box writer). `scte35` is used by `ts` for 0x86 PIDs.
//! - Remuxed decode times are the source PTS/DTS, so segments remuxed one at a
//!   time are continuous (a segment that starts a discontinuity span decodes its
//!   first video sample at its presentation time: `fmp4::RemuxOptions`); the init
//!   segment depends only on codec parameters.
//! - Encryption preserves everything but the protected bytes: fMP4 sample sizes and
//!   timing are unchanged (the `moof` grows by its new boxes, `trun` offsets follow);
//!   TS timing, PCR and other PIDs are unchanged (a SAMPLE-AES PES may take more packets).
//! - Tests that need peers (python3 + threefive, openssl, ffmpeg/ffprobe, Shaka Packager) skip
//!   with a printed reason when a peer is missing, unless
//!   `LINEUP_REQUIRE_PEERS=1`, which turns a missing peer into a failure.
//! - Formats are hand-written where the crate ecosystem did not fit a small,
//!   slice-based API; each module's doc says why.
#![forbid(unsafe_code)]

pub mod aes;
mod bits;
pub mod cenc;
mod codec;
mod error;
pub mod fmp4;
mod h264;
pub mod sample_aes;
pub mod scte35;
pub mod ts;

pub use bits::crc32_mpeg2;
pub use error::{Error, Result};
