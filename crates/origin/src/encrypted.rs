//! Serving DRM-encrypted endpoints: keys per period from the [`crate::drm::KeySource`],
//! then encryption with `media::cenc` (CMAF `cbcs` / `cenc`) or `media::sample_aes` (TS),
//! once per (endpoint, segment, key period) on the blocking pool, shared by concurrent
//! requests and kept within the segment cache budget (`work::Once`, as AES-128 is).
//! Without keys there is no answer but 503: nothing clear is served for an encrypted
//! endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::drm::{Drm, DrmMethod, KeyRequest, PeriodKeys, constant_iv};
use crate::error::OriginError;
use crate::registry::Shared;

impl Shared {
    /// The keys of one period of an encrypted endpoint.
    pub(crate) async fn period_keys(
        &self,
        channel: &str,
        endpoint: &str,
        drm: &Drm,
        period: u64,
    ) -> Result<Arc<PeriodKeys>, OriginError> {
        let provider = drm.settings.speke_key_provider.clone();
        let req = KeyRequest {
            channel: channel.to_string(),
            endpoint: endpoint.to_string(),
            content_id: provider.as_ref().map_or_else(
                || format!("{channel}/{endpoint}"),
                |p| p.resource_id.clone(),
            ),
            period,
            rotation_seconds: drm.settings.key_rotation_interval_seconds,
            method: drm.method,
            provider,
        };
        let source = self
            .key_source
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        source.keys(req).await.map_err(|e| match e {
            e @ OriginError::KeysUnavailable(_) => e,
            e => OriginError::KeysUnavailable(e.to_string()),
        })
    }

    /// The keys of every period in `periods`.
    pub(crate) async fn keys_of_periods(
        &self,
        channel: &str,
        endpoint: &str,
        drm: &Drm,
        periods: impl IntoIterator<Item = u64>,
    ) -> Result<BTreeMap<u64, Arc<PeriodKeys>>, OriginError> {
        let mut out = BTreeMap::new();
        for p in periods {
            if let std::collections::btree_map::Entry::Vacant(e) = out.entry(p) {
                e.insert(self.period_keys(channel, endpoint, drm, p).await?);
            }
        }
        Ok(out)
    }

    /// An encrypted CMAF init segment (`init` is the clear one) for a key period.
    pub(crate) async fn encrypted_init(
        &self,
        channel: &str,
        endpoint: &str,
        drm: &Drm,
        period: u64,
        init_id: &str,
        init: Bytes,
    ) -> Result<Bytes, OriginError> {
        let keys = self.period_keys(channel, endpoint, drm, period).await?;
        let id = format!(
            "{channel}\n{endpoint}\ninit\n{init_id}\n{period}\n{:?}",
            drm.method
        );
        let (scheme, tk) = (drm.scheme(), track_keys(drm, &keys));
        self.aes
            .get_or_run(&id, async move {
                crate::work::blocking(move || {
                    media::cenc::protect_init(&init, scheme, &tk, &keys.pssh)
                        .map(Bytes::from)
                        .map_err(|e| OriginError::UnsupportedMedia(e.to_string()))
                })
                .await?
            })
            .await
    }

    /// An encrypted CMAF fragment (clear `segment` of clear `init`) of key period `period`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn encrypted_fragment(
        &self,
        channel: &str,
        endpoint: &str,
        drm: &Drm,
        period: u64,
        seq: u64,
        init: Bytes,
        segment: Bytes,
    ) -> Result<Bytes, OriginError> {
        let keys = self.period_keys(channel, endpoint, drm, period).await?;
        let id = format!(
            "{channel}\n{endpoint}\nm4s\n{seq}\n{period}\n{:?}",
            drm.method
        );
        let mut tk = track_keys(drm, &keys);
        // cenc: per-sample IVs counted from a base unique per segment and track kind.
        if drm.method == DrmMethod::Cenc {
            for (n, k) in [tk.video.as_mut(), tk.audio.as_mut()]
                .into_iter()
                .enumerate()
            {
                if let Some(k) = k {
                    let base = (seq << 24) | ((n as u64) << 20);
                    k.iv[..8].copy_from_slice(&base.to_be_bytes());
                }
            }
        }
        let scheme = drm.scheme();
        let opts = media::cenc::FragmentOptions {
            key_rotation: drm.settings.key_rotation_interval_seconds > 0,
            pssh: Vec::new(),
        };
        self.aes
            .get_or_run(&id, async move {
                crate::work::blocking(move || {
                    media::cenc::encrypt_fragment(&init, &segment, scheme, &tk, &opts)
                        .map(Bytes::from)
                        .map_err(|e| OriginError::UnsupportedMedia(e.to_string()))
                })
                .await?
            })
            .await
    }

    /// A TS segment with SAMPLE-AES, of key period `period`.
    pub(crate) async fn sample_aes_ts(
        &self,
        channel: &str,
        endpoint: &str,
        drm: &Drm,
        period: u64,
        store_key: String,
        ready: Option<Bytes>,
    ) -> Result<Bytes, OriginError> {
        let keys = self.period_keys(channel, endpoint, drm, period).await?;
        let iv = constant_iv(&drm.settings, &keys);
        let key = keys.video.key;
        let id = format!("{channel}\n{endpoint}\nts\n{store_key}\n{period}");
        let store = self.store.clone();
        self.aes
            .get_or_run(&id, async move {
                let plain = match ready {
                    Some(b) => b,
                    None => store
                        .get(&store_key)
                        .await?
                        .ok_or_else(|| OriginError::not_found("segment"))?,
                };
                crate::work::blocking(move || {
                    media::sample_aes::encrypt_ts(&plain, &key, &iv)
                        .map(Bytes::from)
                        .map_err(|e| OriginError::UnsupportedMedia(e.to_string()))
                })
                .await?
            })
            .await
    }
}

/// What encrypting one segment for an I-frame playlist needs, read under the channel lock.
enum IFrameInput {
    /// CMAF: clear init, clear fragment, and the clear keyframe range.
    Cmaf(Bytes, Bytes, (u64, u64)),
    /// TS: the store key and the bytes when the store had them at once.
    Ts(String, Option<Bytes>),
}

impl Shared {
    /// The byte ranges an I-frame playlist names in the encrypted segments `wanted` (media
    /// sequence number, key period) of variant `slug`. A segment that cannot be encrypted
    /// now (evicted, not remuxed) maps to `None`: the playlist lists it as a GAP.
    pub(crate) async fn iframe_ranges(
        &self,
        ch: &crate::Channel,
        (channel, endpoint, slug): (&str, &str, &str),
        drm: &Drm,
        wanted: &[(u64, u64)],
    ) -> BTreeMap<u64, Option<crate::render::EncRanges>> {
        let mut out: BTreeMap<u64, Option<crate::render::EncRanges>> =
            wanted.iter().map(|&(seq, _)| (seq, None)).collect();
        let inputs: Vec<(u64, u64, IFrameInput)> = {
            let data = ch.lock();
            let Some(v) = data.variants.values().find(|v| v.slug == slug) else {
                return out;
            };
            wanted
                .iter()
                .filter_map(|&(seq, period)| {
                    let input = if drm.method == DrmMethod::TsSampleAes {
                        let key = v.segments.get(&seq)?.key.clone();
                        let now = self.store.get_now(&key).flatten();
                        IFrameInput::Ts(key, now)
                    } else {
                        let m = v.cmaf.segs.get(&seq)?.as_ref()?;
                        let init = v.cmaf.inits.get(&m.init_id)?.bytes.clone();
                        let (off, len, _) = *m.keyframes.first()?;
                        IFrameInput::Cmaf(init, m.bytes.clone(), (off, len))
                    };
                    Some((seq, period, input))
                })
                .collect()
        };
        for (seq, period, input) in inputs {
            let ranges = match input {
                IFrameInput::Cmaf(init, clear, (off, len)) => {
                    let clear_mdat = mdat_offset(&clear);
                    let enc = self
                        .encrypted_fragment(channel, endpoint, drm, period, seq, init, clear)
                        .await;
                    enc.ok().and_then(|enc| {
                        let grown = mdat_offset(&enc)?.checked_sub(clear_mdat?)?;
                        Some(crate::render::EncRanges {
                            keyframe: (off, len + grown),
                            pat_pmt: None,
                        })
                    })
                }
                IFrameInput::Ts(key, now) => self
                    .sample_aes_ts(channel, endpoint, drm, period, key, now)
                    .await
                    .ok()
                    .and_then(|enc| ts_ranges(&enc)),
            };
            out.insert(seq, ranges);
        }
        out
    }
}

/// Offset of the first top-level `mdat` box of an MP4 fragment.
fn mdat_offset(b: &[u8]) -> Option<u64> {
    let mut at = 0usize;
    while at + 8 <= b.len() {
        let size = u32::from_be_bytes(b[at..at + 4].try_into().ok()?) as u64;
        if &b[at + 4..at + 8] == b"mdat" {
            return Some(at as u64);
        }
        let size = match size {
            1 => u64::from_be_bytes(b.get(at + 8..at + 16)?.try_into().ok()?),
            0 => return None,
            n => n,
        };
        at = at.checked_add(usize::try_from(size).ok().filter(|&n| n >= 8)?)?;
    }
    None
}

/// The first keyframe's PES packets and the PAT/PMT of a SAMPLE-AES TS segment (the NAL
/// headers of SAMPLE-AES H.264 stay clear, so the IDR is found as in a clear one).
fn ts_ranges(enc: &[u8]) -> Option<crate::render::EncRanges> {
    use media::ts::StreamType;
    let d = media::ts::demux(enc).ok()?;
    let video = d.streams.iter().find(|(_, t)| {
        matches!(t, StreamType::H264)
            || *t == StreamType::Other(media::sample_aes::STREAM_TYPE_H264)
    })?;
    let pes: Vec<&media::ts::Pes> = d.pes_of(video.0).collect();
    let i = pes
        .iter()
        .position(|p| p.pts.is_some() && media::ts::is_keyframe(StreamType::H264, &p.payload))?;
    let start = pes[i].byte_offset;
    let end = pes.get(i + 1).map_or(enc.len(), |n| n.byte_offset);
    let pp = d.pat_pmt_range?;
    Some(crate::render::EncRanges {
        keyframe: (start as u64, (end - start) as u64),
        pat_pmt: Some((pp.offset as u64, pp.len as u64)),
    })
}

/// The media keys of a period, with the constant IV (`cbcs`) in each.
fn track_keys(drm: &Drm, keys: &PeriodKeys) -> media::cenc::TrackKeys {
    let iv = constant_iv(&drm.settings, keys);
    let k = |t: &crate::drm::TrackKey| media::cenc::TrackKey {
        kid: t.kid,
        key: t.key,
        iv,
    };
    media::cenc::TrackKeys {
        video: Some(k(&keys.video)),
        audio: Some(k(&keys.audio)),
    }
}
