//! Common Encryption (ISO/IEC 23001-7) of the fMP4/CMAF that [`crate::fmp4`] writes:
//! `cbcs` (AES-CBC, 1:9 pattern for video, whole blocks for audio, constant IV; what
//! MediaPackage and Apple use for HLS) and `cenc` (AES-CTR, 8-byte per-sample IVs).
//!
//! # API
//! - [`protect_init`]: a clear init segment -> the protected one: `avc1`/`mp4a` become
//!   `encv`/`enca` with `sinf` (`frma`, `schm`, `schi`/`tenc`), and the `pssh` boxes the
//!   key provider gave ([`pssh_box`] builds one) are appended to `moov`.
//! - [`encrypt_fragment`]: a clear media segment (`styp`/`moof`/`mdat`, as written by
//!   [`crate::fmp4::remux_ts`]) and its clear init -> the encrypted segment, same sample
//!   sizes, each `traf` gaining `saiz`, `saio` and `senc` (and, with
//!   [`FragmentOptions::key_rotation`], a `seig` sample group, `sgpd` + `sbgp`, naming
//!   the key of this fragment's key period; `pssh` boxes of the period go into `moof`).
//! - [`read_senc`]: the per-sample IVs and subsample maps of a segment (for checks).
//! - TS `SAMPLE-AES` is in [`crate::sample_aes`].
//!
//! Keys are per track kind ([`TrackKeys`]: one for video, one for audio, as SPEKE v2's
//! presets hand them out). A track without a key stays clear.
//!
//! # Subsamples
//! Video samples (H.264, length-prefixed NAL units) get subsample maps that leave every NAL
//! unit's length prefix and header and every slice header clear, and non-slice NAL units
//! (SEI, parameter sets) wholly clear, as 23001-7 requires; for `cenc` the protected part
//! of each slice is trimmed at its start to whole 16-byte blocks (CMAF). The maps are
//! built exactly as Shaka Packager builds them (`SubsampleGenerator`: consecutive clear
//! bytes merged into the next subsample, clear runs over 65535 bytes split), so for the
//! same samples the `senc` written here equals Shaka's (checked in
//! `tests/cenc.rs` against the packager). Audio is whole-sample: `cenc` encrypts it all,
//! `cbcs` its whole 16-byte blocks (the trailing partial block stays clear).
//!
//! # IVs
//! `cbcs`: the track key's `iv` is the constant IV written in `tenc` (and `seig`); it is
//! reset at every subsample. `cenc`: the first 8 bytes of the track key's `iv` are a
//! 64-bit base; sample `n` of the fragment's track gets `base + n` as its 8-byte IV (the
//! caller makes bases unique per key: the origin derives them from the media sequence
//! number, so no two samples under one key share a counter block).
//!
//! # Why hand-written
//! The box writer and walker of [`crate::fmp4`] already cover the boxes around; the ten
//! boxes added here are small fixed layouts. An MP4 box crate (`mp4-atom`) would need its
//! own model of the whole file for what is a rewrite of a few boxes (see
//! [`crate::fmp4`], "Why hand-written"). The ciphers are RustCrypto `aes` + `ctr`.

mod boxes;

use ::aes::Aes128;
use ::aes::cipher::{BlockEncrypt, KeyInit, KeyIvInit, StreamCipher};

use crate::error::{Error, Result, invalid};
use crate::h264::ParamSets;

pub use boxes::{SampleAux, TrafAux, read_senc};

/// The Common Encryption scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// AES-CTR, full-sample or subsample, per-sample IVs (`cenc`).
    Cenc,
    /// AES-CBC with a 1:9 pattern for video, whole blocks for audio, constant IV (`cbcs`).
    Cbcs,
}

impl Scheme {
    /// The `schm` scheme type.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            Scheme::Cenc => *b"cenc",
            Scheme::Cbcs => *b"cbcs",
        }
    }

    /// Per-sample IV size written in `tenc` / `senc`.
    pub fn per_sample_iv_size(self) -> usize {
        match self {
            Scheme::Cenc => 8,
            Scheme::Cbcs => 0,
        }
    }
}

/// A 16-byte value: key, key id or IV.
pub type Block = [u8; 16];

/// The key of one track kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackKey {
    /// Key id (`default_KID` in `tenc`, the KID in `seig`).
    pub kid: Block,
    pub key: Block,
    /// `cbcs`: the constant IV; `cenc`: the first 8 bytes are the per-sample IV base (see
    /// the module docs, "IVs").
    pub iv: Block,
}

/// Keys per track kind; `None` leaves that kind clear.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackKeys {
    pub video: Option<TrackKey>,
    pub audio: Option<TrackKey>,
}

/// One subsample: clear bytes then protected bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subsample {
    pub clear: u16,
    pub protected: u32,
}

/// Options of [`encrypt_fragment`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FragmentOptions {
    /// Name this fragment's key in a `seig` sample group (`sgpd` + `sbgp` in each `traf`),
    /// for keys that rotate: the `tenc` of the init names only one key.
    pub key_rotation: bool,
    /// `pssh` boxes (whole boxes) to put in the `moof` (key rotation: the period's).
    pub pssh: Vec<Vec<u8>>,
}

/// The W3C Common PSSH system id (`1077efec-c0b2-4d02-ace3-3c1e52e2fb4b`).
pub const COMMON_SYSTEM_ID: Block = [
    0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2, 0xfb, 0x4b,
];

/// A `pssh` box: version 1 with the key ids when `kids` is not empty, else version 0.
pub fn pssh_box(system_id: &Block, kids: &[Block], data: &[u8]) -> Vec<u8> {
    use crate::fmp4::{Put, fbx};
    let mut o = Vec::new();
    let version = u8::from(!kids.is_empty());
    fbx(&mut o, b"pssh", version, 0, |o| {
        o.extend_from_slice(system_id);
        if version == 1 {
            o.u32(kids.len() as u32);
            for k in kids {
                o.extend_from_slice(k);
            }
        }
        o.u32(data.len() as u32);
        o.extend_from_slice(data);
    });
    o
}

/// Protects a clear init segment (see the module docs).
pub fn protect_init(
    init: &[u8],
    scheme: Scheme,
    keys: &TrackKeys,
    pssh: &[Vec<u8>],
) -> Result<Vec<u8>> {
    boxes::protect_init(init, scheme, keys, pssh)
}

/// Encrypts a clear media segment whose init is `init` (the clear one: it holds the
/// parameter sets the slice headers need).
pub fn encrypt_fragment(
    init: &[u8],
    segment: &[u8],
    scheme: Scheme,
    keys: &TrackKeys,
    opts: &FragmentOptions,
) -> Result<Vec<u8>> {
    boxes::encrypt_fragment(init, segment, scheme, keys, opts)
}

/// What a track is, from its sample entry.
#[derive(Debug, Clone)]
pub(crate) enum Media {
    /// H.264 with its NAL length size and parameter sets.
    Avc { nal_len: usize, params: ParamSets },
    /// Audio: whole-sample encryption.
    Audio,
}

/// Builds the subsample map of one H.264 sample (Shaka Packager's rules, see the module
/// docs). `align`: trim protected parts to whole blocks (`cenc`).
pub(crate) fn avc_subsamples(
    params: &mut ParamSets,
    nal_len: usize,
    sample: &[u8],
    align: bool,
) -> Result<Vec<Subsample>> {
    const W: &str = "H.264 sample";
    let mut out = Vec::new();
    let mut clear_acc = 0usize;
    let push = |out: &mut Vec<Subsample>, mut clear: usize, protected: usize| {
        while clear > usize::from(u16::MAX) {
            out.push(Subsample {
                clear: u16::MAX,
                protected: 0,
            });
            clear -= usize::from(u16::MAX);
        }
        out.push(Subsample {
            clear: clear as u16,
            protected: protected as u32,
        });
    };
    let mut p = 0;
    while p < sample.len() {
        if sample.len() - p < nal_len {
            return Err(invalid(W, p, "truncated NAL length"));
        }
        let len = sample[p..p + nal_len]
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b));
        let start = p + nal_len;
        if len == 0 || len > sample.len() - start {
            return Err(invalid(W, p, format!("NAL length {len} out of the sample")));
        }
        let nal = &sample[start..start + len];
        params.add(nal)?;
        let (mut clear, mut protected) = match nal[0] & 0x1F {
            1 | 5 => {
                let header = 1 + params.slice_header_len(nal)?;
                if header > len {
                    return Err(invalid(W, start, "slice header longer than its NAL unit"));
                }
                (header, len - header)
            }
            2..=4 => {
                return Err(Error::Unsupported {
                    what: W,
                    offset: start,
                    detail: "data-partitioned slices".into(),
                });
            }
            _ => (len, 0),
        };
        if align && protected != 0 {
            clear += protected % 16;
            protected -= protected % 16;
        }
        clear_acc += nal_len + clear;
        if protected != 0 {
            push(&mut out, clear_acc, protected);
            clear_acc = 0;
        }
        p = start + len;
    }
    if clear_acc > 0 {
        push(&mut out, clear_acc, 0);
    }
    Ok(out)
}

/// The 16-byte counter block / IV of sample `n` of a track (see the module docs, "IVs").
pub(crate) fn sample_iv(scheme: Scheme, key: &TrackKey, n: u64) -> Block {
    match scheme {
        Scheme::Cbcs => key.iv,
        Scheme::Cenc => {
            let base = u64::from_be_bytes(key.iv[..8].try_into().unwrap_or([0; 8]));
            let mut iv = [0u8; 16];
            iv[..8].copy_from_slice(&base.wrapping_add(n).to_be_bytes());
            iv
        }
    }
}

/// Encrypts one sample in place. `subs` empty: the whole sample is protected. `pattern`:
/// (crypt, skip) blocks for `cbcs` video, (0, 0) for whole blocks.
pub(crate) fn encrypt_sample(
    scheme: Scheme,
    key: &Block,
    iv: &Block,
    sample: &mut [u8],
    subs: &[Subsample],
    pattern: (usize, usize),
) {
    let ranges: Vec<(usize, usize)> = if subs.is_empty() {
        vec![(0, sample.len())]
    } else {
        let mut p = 0;
        subs.iter()
            .map(|s| {
                let start = p + usize::from(s.clear);
                p = start + s.protected as usize;
                (start, p)
            })
            .collect()
    };
    let len = sample.len();
    match scheme {
        Scheme::Cenc => {
            let mut ctr = ctr::Ctr128BE::<Aes128>::new(key.into(), iv.into());
            for (a, b) in ranges {
                ctr.apply_keystream(&mut sample[a.min(len)..b.min(len)]);
            }
        }
        Scheme::Cbcs => {
            let aes = Aes128::new(key.into());
            for (a, b) in ranges {
                cbc_pattern(&aes, iv, &mut sample[a.min(len)..b.min(len)], pattern);
            }
        }
    }
}

/// AES-CBC over the whole blocks of `data` in a (crypt, skip) pattern, starting from `iv`;
/// (0, 0): every whole block. A trailing partial block stays clear.
pub(crate) fn cbc_pattern(aes: &Aes128, iv: &Block, data: &mut [u8], pattern: (usize, usize)) {
    let (crypt, skip) = if pattern.0 == 0 { (1, 0) } else { pattern };
    let mut chain = *iv;
    let mut blocks = data.chunks_exact_mut(16);
    'outer: loop {
        for _ in 0..crypt {
            let Some(b) = blocks.next() else {
                break 'outer;
            };
            for (x, c) in b.iter_mut().zip(chain.iter()) {
                *x ^= c;
            }
            let ga = ::aes::Block::from_mut_slice(b);
            aes.encrypt_block(ga);
            chain.copy_from_slice(b);
        }
        for _ in 0..skip {
            if blocks.next().is_none() {
                break 'outer;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbc_pattern_matches_plain_cbc_on_encrypted_blocks() {
        use ::aes::cipher::BlockEncryptMut;
        let key = [3u8; 16];
        let iv = [9u8; 16];
        let plain: Vec<u8> = (0..400u32).map(|i| (i * 7) as u8).collect();
        // 1:9 -> blocks 0, 10, 20 encrypted, chained with each other.
        let mut data = plain.clone();
        cbc_pattern(&Aes128::new(&key.into()), &iv, &mut data, (1, 9));
        let mut picked: Vec<u8> = [0usize, 10, 20]
            .iter()
            .flat_map(|b| plain[b * 16..b * 16 + 16].to_vec())
            .collect();
        let mut enc = cbc::Encryptor::<Aes128>::new(&key.into(), &iv.into());
        for c in picked.chunks_exact_mut(16) {
            enc.encrypt_block_mut(::aes::Block::from_mut_slice(c));
        }
        for (i, b) in [0usize, 10, 20].iter().enumerate() {
            assert_eq!(&data[b * 16..b * 16 + 16], &picked[i * 16..i * 16 + 16]);
        }
        // Skipped blocks and the partial tail (400 = 25 blocks + 0) are untouched.
        assert_eq!(&data[16..160], &plain[16..160]);
        // Whole blocks: a 20-byte input leaves its last 4 bytes clear.
        let mut short = plain[..20].to_vec();
        cbc_pattern(&Aes128::new(&key.into()), &iv, &mut short, (0, 0));
        assert_eq!(&short[16..], &plain[16..20]);
        assert_ne!(&short[..16], &plain[..16]);
    }

    #[test]
    fn cenc_ivs_count_up_from_the_base() {
        let key = TrackKey {
            kid: [0; 16],
            key: [0; 16],
            iv: [0, 0, 0, 0, 0, 0, 1, 0xFF, 7, 7, 7, 7, 7, 7, 7, 7],
        };
        let iv = sample_iv(Scheme::Cenc, &key, 1);
        assert_eq!(iv, [0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(sample_iv(Scheme::Cbcs, &key, 5), key.iv);
    }

    proptest::proptest! {
        #[test]
        fn random_input_never_panics(
            a in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        ) {
            let k = TrackKey { kid: [1; 16], key: [2; 16], iv: [3; 16] };
            let keys = TrackKeys { video: Some(k), audio: Some(k) };
            for scheme in [Scheme::Cenc, Scheme::Cbcs] {
                let _ = protect_init(&a, scheme, &keys, &[]);
                let _ = encrypt_fragment(&a, &b, scheme, &keys, &FragmentOptions::default());
            }
            let mut ts = b.clone();
            ts.resize(188 * 2, 0x47);
            let _ = crate::sample_aes::encrypt_ts(&ts, &[0; 16], &[0; 16]);
        }
    }

    #[test]
    fn clear_runs_merge_and_split_at_65535() {
        let mut ps = ParamSets::default();
        // Two SEI NAL units (clear) of 40000 bytes each, 4-byte lengths: 80008 clear bytes.
        let mut sample = Vec::new();
        for _ in 0..2 {
            sample.extend_from_slice(&40000u32.to_be_bytes());
            sample.push(6);
            sample.extend(std::iter::repeat_n(0x11, 39999));
        }
        let subs = avc_subsamples(&mut ps, 4, &sample, true).unwrap();
        assert_eq!(
            subs,
            [
                Subsample {
                    clear: 65535,
                    protected: 0
                },
                Subsample {
                    clear: (80008 - 65535) as u16,
                    protected: 0
                }
            ]
        );
        assert!(avc_subsamples(&mut ps, 4, &sample[..10], true).is_err());
    }
}
