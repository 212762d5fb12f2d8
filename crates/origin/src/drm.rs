//! Keys of DRM-encrypted endpoints (`sample_aes`, `aes_ctr`) and how playlists signal them.
//!
//! [`KeySource`] is the one seam: (content, key period) in, [`PeriodKeys`] out: the key of
//! each track kind, the `pssh` boxes for the init segments and the HLS signalling
//! (`EXT-X-KEY` attributes) per DRM system. [`DerivedKeys`] is the source used when an
//! endpoint names no key provider: keys derived by HMAC from the origin's secret (every
//! replica derives the same; the KID names its period), one key shared by video and audio,
//! signalled for EME players as ClearKey on CMAF endpoints (the licence:
//! `POST /keys/{channel}/{endpoint}/clearkey` on this origin) and with the `identity` key
//! format and a token-guarded `/keys/...` URI on TS SAMPLE-AES endpoints. Endpoints that
//! name a SPEKE v2 provider get theirs from the provider through `crate::speke`
//! ([`crate::speke::ProviderOrDerived`], the default source, routes between the two);
//! another source can be plugged in with [`crate::Origin::set_key_source`].
//!
//! Key periods: with `key_rotation_interval_seconds` = R > 0, a segment starting at media
//! time t belongs to period `floor(t / R)` (epoch seconds), as AES-128 rotation does;
//! with R = 0 every segment is in period 0.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::error::OriginError;
use crate::keys::Keys;
use crate::model::{DrmSettings, Encryption, EndpointSpec, SpekeKeyProvider};

/// A 16-byte key, key id or IV.
pub type Block = [u8; 16];

/// The DRM method of an endpoint (its encryption and packaging together).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DrmMethod {
    /// CMAF `cbcs` (`SAMPLE_AES` on a CMAF endpoint): `METHOD=SAMPLE-AES`.
    Cbcs,
    /// CMAF `cenc` (`AES_CTR`): `METHOD=SAMPLE-AES-CTR`.
    Cenc,
    /// Apple SAMPLE-AES in TS: `METHOD=SAMPLE-AES`.
    TsSampleAes,
}

impl DrmMethod {
    /// The `METHOD` of `EXT-X-KEY`.
    pub fn hls_method(self) -> &'static str {
        match self {
            DrmMethod::Cbcs | DrmMethod::TsSampleAes => "SAMPLE-AES",
            DrmMethod::Cenc => "SAMPLE-AES-CTR",
        }
    }

    /// The method of an endpoint, `None` when it is not DRM-encrypted.
    pub fn of(encryption: &Encryption, cmaf: bool) -> Option<Self> {
        match (encryption, cmaf) {
            (Encryption::SampleAes(_), true) => Some(DrmMethod::Cbcs),
            (Encryption::SampleAes(_), false) => Some(DrmMethod::TsSampleAes),
            (Encryption::AesCtr(_), true) => Some(DrmMethod::Cenc),
            _ => None,
        }
    }
}

/// An endpoint's DRM: its method and settings.
#[derive(Debug, Clone)]
pub struct Drm {
    pub method: DrmMethod,
    pub settings: DrmSettings,
}

impl Drm {
    pub fn of(ep: &EndpointSpec) -> Option<Self> {
        let cmaf = ep.packaging.is_fmp4();
        Some(Self {
            method: DrmMethod::of(&ep.encryption, cmaf)?,
            settings: ep.encryption.drm()?.clone(),
        })
    }

    pub fn period(&self, t: chrono::DateTime<chrono::Utc>) -> u64 {
        period_of(t, self.settings.key_rotation_interval_seconds)
    }

    pub fn scheme(&self) -> media::cenc::Scheme {
        match self.method {
            DrmMethod::Cenc => media::cenc::Scheme::Cenc,
            _ => media::cenc::Scheme::Cbcs,
        }
    }
}

/// What a [`KeySource`] is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    pub channel: String,
    pub endpoint: String,
    /// The content id: the SPEKE `ResourceId`, else `<channel>/<endpoint>`.
    pub content_id: String,
    /// The key period (see the module docs).
    pub period: u64,
    /// Seconds per period (0: no rotation).
    pub rotation_seconds: u64,
    pub method: DrmMethod,
    pub provider: Option<SpekeKeyProvider>,
}

/// One track kind's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackKey {
    pub kid: Block,
    pub key: Block,
}

/// The HLS signalling of one DRM system: the attributes of its `EXT-X-KEY` (and
/// `EXT-X-SESSION-KEY`) besides `METHOD`: `URI`, `KEYFORMAT`, `KEYFORMATVERSIONS`,
/// `KEYID`, `IV`, as the provider gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsSignal {
    pub attrs: Vec<(String, String, bool)>,
}

impl HlsSignal {
    /// An attribute, `quoted` or not.
    pub fn attr(mut self, name: &str, value: impl Into<String>, quoted: bool) -> Self {
        self.attrs.push((name.to_string(), value.into(), quoted));
        self
    }
}

/// Keys and signalling of one key period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodKeys {
    pub video: TrackKey,
    pub audio: TrackKey,
    /// Whole `pssh` boxes, one per DRM system that has one.
    pub pssh: Vec<Vec<u8>>,
    /// Per DRM system, for `EXT-X-KEY` / `EXT-X-SESSION-KEY`.
    pub hls: Vec<HlsSignal>,
}

/// Where an encrypted endpoint's keys come from.
pub trait KeySource: Send + Sync {
    /// The keys of one period. Errors become 503s for the endpoint, never clear content.
    fn keys(&self, req: KeyRequest) -> BoxFuture<'static, Result<Arc<PeriodKeys>, OriginError>>;
}

/// The key period of a segment starting at `t`.
pub fn period_of(t: DateTime<Utc>, rotation_seconds: u64) -> u64 {
    if rotation_seconds == 0 {
        0
    } else {
        Keys::key_id(t, rotation_seconds)
    }
}

/// The constant IV of a period: the endpoint's `ConstantInitializationVector`, else
/// derived (from the period's key id, so it changes with the key).
pub fn constant_iv(settings: &DrmSettings, keys: &PeriodKeys) -> Block {
    settings
        .constant_initialization_vector
        .as_deref()
        .and_then(|h| hex::decode(h).ok())
        .and_then(|b| b.try_into().ok())
        .unwrap_or_else(|| {
            use sha2::Digest;
            let d = sha2::Sha256::digest([&b"iv"[..], &keys.video.kid].concat());
            d[..16].try_into().unwrap_or([0; 16])
        })
}

/// Keys derived from the origin's secret (see the module docs).
pub struct DerivedKeys {
    keys: Arc<Keys>,
}

impl DerivedKeys {
    pub fn new(keys: Arc<Keys>) -> Self {
        Self { keys }
    }
}

impl KeySource for DerivedKeys {
    fn keys(&self, req: KeyRequest) -> BoxFuture<'static, Result<Arc<PeriodKeys>, OriginError>> {
        let key = self.keys.key(&req.channel, &req.endpoint, req.period);
        let kid = self.keys.kid(&req.channel, &req.endpoint, req.period);
        let shared = TrackKey { kid, key };
        let pssh = media::cenc::pssh_box(&media::cenc::COMMON_SYSTEM_ID, &[kid], &[]);
        Box::pin(std::future::ready(Ok(Arc::new(PeriodKeys {
            video: shared,
            audio: shared,
            pssh: vec![pssh],
            hls: vec![derived_signal(&req, kid, &self.keys)],
        }))))
    }
}

/// `KEYFORMAT="org.w3.clearkey"`: what EME players (hls.js) read the KID of a ClearKey key
/// from: a `data:` URI of the KID.
pub const CLEARKEY_KEYFORMAT: &str = "org.w3.clearkey";

/// The HLS signalling of derived keys. CMAF (`cbcs` / `cenc`): ClearKey, the KID in a
/// `data:` URI, for EME players with a ClearKey licence server (the origin's
/// `POST /keys/{channel}/{endpoint}/clearkey`); not `identity`, which players prefer over
/// every other KEYFORMAT and which hls.js cannot decrypt in fMP4. TS SAMPLE-AES (decrypted by
/// the player itself): `identity`, the key at a token-guarded `/keys/...` URI.
fn derived_signal(req: &KeyRequest, kid: Block, keys: &Keys) -> HlsSignal {
    use base64::Engine;
    let signal = HlsSignal { attrs: Vec::new() };
    if req.method == DrmMethod::TsSampleAes {
        let token = keys.token(&req.channel, &req.endpoint, req.period);
        return signal
            .attr(
                "URI",
                format!(
                    "../../../keys/{}/{}/{}?token={token}",
                    req.channel, req.endpoint, req.period
                ),
                true,
            )
            .attr("KEYFORMAT", "identity", true)
            .attr("KEYFORMATVERSIONS", "1", true);
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(kid);
    signal
        .attr("URI", format!("data:text/plain;base64,{b64}"), true)
        .attr("KEYFORMAT", CLEARKEY_KEYFORMAT, true)
        .attr("KEYFORMATVERSIONS", "1", true)
}

/// The attributes of the `EXT-X-KEY` (or `EXT-X-SESSION-KEY`) tags of a period: one per
/// DRM system, `METHOD` first, then what the source signalled; `iv` (TS SAMPLE-AES: the
/// IV the segments were encrypted with) is added where the signal has none.
pub fn key_attrs(
    method: DrmMethod,
    keys: &PeriodKeys,
    iv: Option<Block>,
) -> Vec<hls::AttributeList> {
    keys.hls
        .iter()
        .map(|sig| {
            let mut a = hls::AttributeList::new().unquoted("METHOD", method.hls_method());
            for (name, value, quoted) in &sig.attrs {
                if *quoted {
                    a.set_quoted(name, value.clone());
                } else {
                    a.set_unquoted(name, value.clone());
                }
            }
            if let Some(iv) = iv
                && a.get("IV").is_none()
            {
                a.set_unquoted("IV", format!("0x{}", hex::encode_upper(iv)));
            }
            a
        })
        .collect()
}
