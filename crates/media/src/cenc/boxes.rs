//! The boxes of Common Encryption: reading the clear init (tracks, `avcC`), rewriting it
//! (`encv`/`enca` + `sinf`, `pssh`), and rewriting each `moof` of a segment (`saiz`,
//! `saio`, `senc`, `seig` `sgpd`/`sbgp`, `pssh`) with the `trun` data offsets moved by
//! what the `moof` grew.

use super::{
    FragmentOptions, Media, Scheme, Subsample, TrackKey, TrackKeys, avc_subsamples, encrypt_sample,
    sample_iv,
};
use crate::error::{Error, Result, invalid};
use crate::fmp4::{Put, Reader, boxes, bx, child, fbx, inspect};
use crate::h264::ParamSets;

/// A track of the clear init.
#[derive(Debug, Clone)]
struct InitTrack {
    track_id: u32,
    media: Option<Media>,
}

impl InitTrack {
    fn key<'a>(&self, keys: &'a TrackKeys) -> Option<&'a TrackKey> {
        match self.media {
            Some(Media::Avc { .. }) => keys.video.as_ref(),
            Some(Media::Audio) => keys.audio.as_ref(),
            None => None,
        }
    }
}

/// Visual sample entry fields before its child boxes (ISO/IEC 14496-12 12.1.3).
const VISUAL_ENTRY: usize = 78;

/// The sample entry (type, body) of a `trak` body.
fn sample_entry(trak: &[u8]) -> Result<Option<([u8; 4], &[u8])>> {
    let Some((mdia, _)) = child(trak, 0, b"mdia")? else {
        return Ok(None);
    };
    let Some((minf, _)) = child(mdia, 0, b"minf")? else {
        return Ok(None);
    };
    let Some((stbl, _)) = child(minf, 0, b"stbl")? else {
        return Ok(None);
    };
    let Some((stsd, _)) = child(stbl, 0, b"stsd")? else {
        return Ok(None);
    };
    if stsd.len() < 8 {
        return Err(invalid("stsd", 0, "shorter than its header"));
    }
    Ok(boxes(&stsd[8..], 0)?
        .into_iter()
        .next()
        .map(|(k, _, body, _)| (k, body)))
}

fn init_track(trak: &[u8]) -> Result<InitTrack> {
    let (tkhd, _) = child(trak, 0, b"tkhd")?.ok_or_else(|| Error::Missing {
        what: "trak",
        detail: "tkhd".into(),
    })?;
    let mut r = Reader::new(tkhd, 0);
    let v = r.u8("tkhd")?;
    r.take(3, "tkhd")?;
    r.take(if v == 1 { 16 } else { 8 }, "tkhd")?;
    let track_id = r.u32("tkhd")?;
    let media = match sample_entry(trak)? {
        Some((k, body)) if &k == b"avc1" || &k == b"avc3" => {
            let (avcc, _) = child(body.get(VISUAL_ENTRY..).unwrap_or(&[]), 0, b"avcC")?
                .ok_or_else(|| Error::Missing {
                    what: "avc1",
                    detail: "avcC".into(),
                })?;
            let (nal_len, params) = parse_avcc(avcc)?;
            Some(Media::Avc { nal_len, params })
        }
        Some((k, _)) if &k == b"mp4a" || &k == b"ac-3" || &k == b"ec-3" => Some(Media::Audio),
        _ => None,
    };
    Ok(InitTrack { track_id, media })
}

/// NAL length size and parameter sets of an `avcC` body.
fn parse_avcc(b: &[u8]) -> Result<(usize, ParamSets)> {
    const W: &str = "avcC";
    let mut r = Reader::new(b, 0);
    r.take(4, W)?;
    let nal_len = usize::from(r.u8(W)? & 3) + 1;
    let mut params = ParamSets::default();
    let sps = r.u8(W)? & 0x1F;
    for _ in 0..sps {
        let n = usize::from(r.u16(W)?);
        params.add(r.take(n, W)?)?;
    }
    let pps = r.u8(W)?;
    for _ in 0..pps {
        let n = usize::from(r.u16(W)?);
        params.add(r.take(n, W)?)?;
    }
    Ok((nal_len, params))
}

fn init_tracks(init: &[u8]) -> Result<Vec<InitTrack>> {
    let (moov, _) = child(init, 0, b"moov")?.ok_or_else(|| Error::Missing {
        what: "init segment",
        detail: "moov".into(),
    })?;
    boxes(moov, 0)?
        .into_iter()
        .filter(|b| &b.0 == b"trak")
        .map(|b| init_track(b.2))
        .collect()
}

/// Re-emits the boxes of `d`; `f` writes a box itself (returning true) or lets it be copied.
fn each_box(
    d: &[u8],
    out: &mut Vec<u8>,
    mut f: impl FnMut(&[u8; 4], &[u8], &mut Vec<u8>) -> Result<bool>,
) -> Result<()> {
    for (kind, off, body, body_off) in boxes(d, 0)? {
        if !f(&kind, body, out)? {
            out.extend_from_slice(&d[off..body_off + body.len()]);
        }
    }
    Ok(())
}

/// [`bx`] whose body can fail.
fn bx_try(
    out: &mut Vec<u8>,
    kind: &[u8; 4],
    body: impl FnOnce(&mut Vec<u8>) -> Result<()>,
) -> Result<()> {
    let mut r = Ok(());
    bx(out, kind, |o| r = body(o));
    r
}

fn pattern(scheme: Scheme, media: &Media) -> (u8, u8) {
    match (scheme, media) {
        (Scheme::Cbcs, Media::Avc { .. }) => (1, 9),
        _ => (0, 0),
    }
}

/// `tenc` (in `schi`), and the same fields as a `seig` entry.
fn crypto_fields(o: &mut Vec<u8>, scheme: Scheme, media: &Media, key: &TrackKey) {
    let (crypt, skip) = pattern(scheme, media);
    o.push(0);
    // tenc version 1 / seig: the pattern; tenc version 0 (cenc): reserved.
    o.push((crypt << 4) | skip);
    o.push(1);
    o.push(scheme.per_sample_iv_size() as u8);
    o.extend_from_slice(&key.kid);
    if scheme == Scheme::Cbcs {
        o.push(16);
        o.extend_from_slice(&key.iv);
    }
}

fn sinf(o: &mut Vec<u8>, original: &[u8; 4], scheme: Scheme, media: &Media, key: &TrackKey) {
    bx(o, b"sinf", |o| {
        bx(o, b"frma", |o| o.extend_from_slice(original));
        fbx(o, b"schm", 0, 0, |o| {
            o.extend_from_slice(&scheme.fourcc());
            o.u32(0x0001_0000);
        });
        bx(o, b"schi", |o| {
            let version = u8::from(scheme == Scheme::Cbcs);
            fbx(o, b"tenc", version, 0, |o| {
                crypto_fields(o, scheme, media, key)
            });
        });
    });
}

pub(super) fn protect_init(
    init: &[u8],
    scheme: Scheme,
    keys: &TrackKeys,
    pssh: &[Vec<u8>],
) -> Result<Vec<u8>> {
    let tracks = init_tracks(init)?;
    let mut out = Vec::with_capacity(init.len() + 256);
    each_box(init, &mut out, |k, moov, o| {
        if k != b"moov" {
            return Ok(false);
        }
        let mut n = 0;
        bx_try(o, b"moov", |o| {
            each_box(moov, o, |k, trak, o| {
                if k != b"trak" {
                    return Ok(false);
                }
                let t = &tracks[n];
                n += 1;
                match (t.key(keys), &t.media) {
                    (Some(key), Some(media)) => {
                        bx_try(o, b"trak", |o| protect_trak(trak, o, scheme, media, key))?;
                        Ok(true)
                    }
                    _ => Ok(false),
                }
            })?;
            for p in pssh {
                o.extend_from_slice(p);
            }
            Ok(())
        })?;
        Ok(true)
    })?;
    Ok(out)
}

/// Descends trak > mdia > minf > stbl > stsd and protects its sample entry.
fn protect_trak(
    trak: &[u8],
    o: &mut Vec<u8>,
    scheme: Scheme,
    media: &Media,
    key: &TrackKey,
) -> Result<()> {
    const PATH: [&[u8; 4]; 4] = [b"mdia", b"minf", b"stbl", b"stsd"];
    fn walk(
        d: &[u8],
        depth: usize,
        o: &mut Vec<u8>,
        scheme: Scheme,
        media: &Media,
        key: &TrackKey,
    ) -> Result<()> {
        each_box(d, o, |k, body, o| {
            if k != PATH[depth] {
                return Ok(false);
            }
            bx_try(o, k, |o| {
                if depth + 1 < PATH.len() {
                    return walk(body, depth + 1, o, scheme, media, key);
                }
                // stsd: version/flags, entry_count, entries.
                let head = body
                    .get(..8)
                    .ok_or_else(|| invalid("stsd", 0, "shorter than its header"))?;
                o.extend_from_slice(head);
                each_box(&body[8..], o, |k, entry, o| {
                    let enc = match media {
                        Media::Avc { .. } => b"encv",
                        Media::Audio => b"enca",
                    };
                    bx(o, enc, |o| {
                        o.extend_from_slice(entry);
                        sinf(o, k, scheme, media, key);
                    });
                    Ok(true)
                })
            })?;
            Ok(true)
        })
    }
    walk(trak, 0, o, scheme, media, key)
}

/// Encryption metadata of one `traf`.
struct TrafCrypto {
    track_id: u32,
    scheme: Scheme,
    media: Media,
    key: TrackKey,
    /// Per sample: (IV as written in `senc`, subsamples).
    samples: Vec<(Vec<u8>, Vec<Subsample>)>,
}

pub(super) fn encrypt_fragment(
    init: &[u8],
    segment: &[u8],
    scheme: Scheme,
    keys: &TrackKeys,
    opts: &FragmentOptions,
) -> Result<Vec<u8>> {
    let mut tracks = init_tracks(init)?;
    let info = inspect(segment)?;
    let mut data = segment.to_vec();
    // Per moof (in order): the crypto of its trafs.
    let mut per_moof: Vec<Vec<TrafCrypto>> = Vec::new();
    for f in &info.fragments {
        let mut trafs = Vec::new();
        for t in &f.trafs {
            let Some(track) = tracks.iter_mut().find(|x| x.track_id == t.track_id) else {
                continue;
            };
            let Some(key) = track.key(keys).copied() else {
                continue;
            };
            let Some(media) = track.media.as_mut() else {
                continue;
            };
            let pat = pattern(scheme, media);
            let mut samples = Vec::with_capacity(t.samples.len());
            for (n, s) in t.samples.iter().enumerate() {
                let bytes = &mut data[s.data_offset..s.data_offset + s.size as usize];
                let subs = match media {
                    Media::Avc { nal_len, params } => {
                        avc_subsamples(params, *nal_len, bytes, scheme == Scheme::Cenc)
                            .map_err(|e| e.shifted(s.data_offset))?
                    }
                    Media::Audio => Vec::new(),
                };
                let iv = sample_iv(scheme, &key, n as u64);
                encrypt_sample(
                    scheme,
                    &key.key,
                    &iv,
                    bytes,
                    &subs,
                    (usize::from(pat.0), usize::from(pat.1)),
                );
                samples.push((iv[..scheme.per_sample_iv_size()].to_vec(), subs));
            }
            trafs.push(TrafCrypto {
                track_id: t.track_id,
                scheme,
                media: media.clone(),
                key,
                samples,
            });
        }
        per_moof.push(trafs);
    }
    let mut out = Vec::with_capacity(data.len() + 1024);
    let mut moofs = per_moof.iter();
    each_box(&data, &mut out, |k, moof, o| {
        if k != b"moof" {
            return Ok(false);
        }
        let crypto = moofs.next().map(Vec::as_slice).unwrap_or(&[]);
        // Twice: the growth of the moof is known after the first pass.
        let mut probe = Vec::new();
        write_moof(moof, crypto, opts, 0, &mut probe)?;
        let grew = probe.len() - (moof.len() + 8);
        write_moof(moof, crypto, opts, grew, o)?;
        Ok(true)
    })?;
    Ok(out)
}

fn write_moof(
    moof: &[u8],
    crypto: &[TrafCrypto],
    opts: &FragmentOptions,
    grew: usize,
    o: &mut Vec<u8>,
) -> Result<()> {
    let moof_start = o.len();
    bx_try(o, b"moof", |o| {
        each_box(moof, o, |k, traf, o| {
            if k != b"traf" {
                return Ok(false);
            }
            bx_try(o, b"traf", |o| {
                write_traf(traf, crypto, opts, grew, moof_start, o)
            })?;
            Ok(true)
        })?;
        for p in &opts.pssh {
            o.extend_from_slice(p);
        }
        Ok(())
    })
}

fn write_traf(
    traf: &[u8],
    crypto: &[TrafCrypto],
    opts: &FragmentOptions,
    grew: usize,
    moof_start: usize,
    o: &mut Vec<u8>,
) -> Result<()> {
    let mut track_id = None;
    each_box(traf, o, |k, body, o| match k {
        b"tfhd" => {
            let mut r = Reader::new(body, 0);
            let flags = r.u32("tfhd")? & 0x00FF_FFFF;
            track_id = Some(r.u32("tfhd")?);
            if flags & 1 != 0 {
                return Err(Error::Unsupported {
                    what: "tfhd",
                    offset: 0,
                    detail: "base_data_offset (only default-base-is-moof)".into(),
                });
            }
            Ok(false)
        }
        b"trun" => {
            let mut b = body.to_vec();
            if b.len() >= 12 && b[3] & 1 != 0 {
                let off = i32::from_be_bytes([b[8], b[9], b[10], b[11]]);
                let moved = off
                    .checked_add(grew as i32)
                    .ok_or_else(|| invalid("trun", 8, "data_offset overflows"))?;
                b[8..12].copy_from_slice(&moved.to_be_bytes());
            }
            bx(o, b"trun", |o| o.extend_from_slice(&b));
            Ok(true)
        }
        _ => Ok(false),
    })?;
    let Some(c) = crypto.iter().find(|c| Some(c.track_id) == track_id) else {
        return Ok(());
    };
    let subsampled = c.samples.iter().any(|s| !s.1.is_empty());
    let sizes: Vec<usize> = c
        .samples
        .iter()
        .map(|(iv, subs)| iv.len() + if subsampled { 2 + 6 * subs.len() } else { 0 })
        .collect();
    let n = c.samples.len() as u32;
    fbx(o, b"saiz", 0, 0, |o| {
        let same = sizes.windows(2).all(|w| w[0] == w[1]) && sizes.first().is_some_and(|&s| s > 0);
        o.push(if same { sizes[0] as u8 } else { 0 });
        o.u32(n);
        if !same {
            o.extend(sizes.iter().map(|&s| s.min(255) as u8));
        }
    });
    let saio_at = o.len() + 16;
    fbx(o, b"saio", 0, 0, |o| {
        o.u32(1);
        o.u32(0);
    });
    let senc_data = o.len() + 16;
    fbx(o, b"senc", 0, if subsampled { 2 } else { 0 }, |o| {
        o.u32(n);
        for (iv, subs) in &c.samples {
            o.extend_from_slice(iv);
            if subsampled {
                o.u16(subs.len() as u16);
                for s in subs {
                    o.u16(s.clear);
                    o.u32(s.protected);
                }
            }
        }
    });
    let rel = (senc_data - moof_start) as u32;
    o[saio_at..saio_at + 4].copy_from_slice(&rel.to_be_bytes());
    if opts.key_rotation {
        fbx(o, b"sbgp", 0, 0, |o| {
            o.extend_from_slice(b"seig");
            o.u32(1);
            o.u32(n);
            o.u32(0x0001_0001);
        });
        fbx(o, b"sgpd", 1, 0, |o| {
            o.extend_from_slice(b"seig");
            let mut entry = Vec::new();
            crypto_fields(&mut entry, c.scheme, &c.media, &c.key);
            o.u32(entry.len() as u32);
            o.u32(1);
            o.extend_from_slice(&entry);
        });
    }
    Ok(())
}

/// One sample's `senc` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleAux {
    pub iv: Vec<u8>,
    pub subsamples: Vec<Subsample>,
}

/// The `senc` of one `traf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafAux {
    pub track_id: u32,
    pub samples: Vec<SampleAux>,
}

/// Reads every `senc` of a segment (top-level `moof`s), given the per-sample IV size the
/// track's `tenc` states (8 or 16 for `cenc`, 0 for `cbcs` with a constant IV).
pub fn read_senc(segment: &[u8], per_sample_iv_size: usize) -> Result<Vec<TrafAux>> {
    const W: &str = "senc";
    let mut out = Vec::new();
    for (k, _, moof, moof_off) in boxes(segment, 0)? {
        if &k != b"moof" {
            continue;
        }
        for (k, _, traf, traf_off) in boxes(moof, moof_off)? {
            if &k != b"traf" {
                continue;
            }
            let mut track_id = 0;
            let mut samples = Vec::new();
            for (k, _, b, bo) in boxes(traf, traf_off)? {
                let mut r = Reader::new(b, bo);
                match &k {
                    b"tfhd" => {
                        r.u32("tfhd")?;
                        track_id = r.u32("tfhd")?;
                    }
                    b"senc" => {
                        let flags = r.u32(W)? & 0x00FF_FFFF;
                        let n = r.u32(W)? as usize;
                        if n > b.len() {
                            return Err(invalid(W, bo + 4, format!("{n} samples")));
                        }
                        for _ in 0..n {
                            let iv = r.take(per_sample_iv_size, W)?.to_vec();
                            let mut subsamples = Vec::new();
                            if flags & 2 != 0 {
                                for _ in 0..r.u16(W)? {
                                    subsamples.push(Subsample {
                                        clear: r.u16(W)?,
                                        protected: r.u32(W)?,
                                    });
                                }
                            }
                            samples.push(SampleAux { iv, subsamples });
                        }
                    }
                    _ => {}
                }
            }
            out.push(TrafAux { track_id, samples });
        }
    }
    Ok(out)
}
