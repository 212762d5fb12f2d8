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
