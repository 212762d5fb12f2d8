//! CPIX 2.3 documents as SPEKE v2 exchanges them (DASH-IF CPIX 2.3; AWS "SPEKE v2" API).
//!
//! One model ([`Cpix`]) for both directions: the encryptor (the origin) sends a document
//! naming the content (`contentId`), the key ids (`ContentKeyList`), the DRM systems it
//! wants signalling for (`DRMSystemList`), the key periods and the usage rules (which key
//! for which tracks); the key provider answers the same document with the keys
//! (`Data/pskc:Secret/pskc:PlainValue`) and each DRM system's `PSSH`,
//! `ContentProtectionData` and `HLSSignalingData` filled in.
//!
//! quick-xml's deserializer matches elements by local name, so a request may bind the CPIX
//! namespace to any prefix (`cpix:` as MediaPackage does, or the default namespace);
//! [`parse`] checks that the root really is `{urn:dashif:org:cpix}CPIX`. [`write`] binds
//! CPIX to the default namespace and PSKC to `pskc:`.
//!
//! [`Cpix::check_request`] holds the rules a key provider enforces on a request (the AWS
//! SPEKE v2 verification suite's negative cases), [`Cpix::check_answer`] the rules an
//! encryptor enforces on an answer.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use serde::{Deserialize, Serialize};

/// `urn:dashif:org:cpix`.
pub const CPIX_NS: &str = "urn:dashif:org:cpix";
/// `urn:ietf:params:xml:ns:keyprov:pskc`.
pub const PSKC_NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
/// The CPIX version SPEKE v2 speaks.
pub const VERSION: &str = "2.3";

/// A 16-byte key id, key or IV.
pub type Block = [u8; 16];

/// A whole CPIX document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename = "CPIX")]
pub struct Cpix {
    #[serde(rename = "@xmlns", default, skip_serializing_if = "Option::is_none")]
    pub xmlns: Option<String>,
    #[serde(
        rename = "@xmlns:pskc",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub xmlns_pskc: Option<String>,
    #[serde(
        rename = "@contentId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub content_id: Option<String>,
    #[serde(rename = "@version", default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// CPIX 2.0's `id` (SPEKE v1); deprecated in 2.3 and never written.
    #[serde(rename = "@id", default, skip_serializing)]
    pub id: Option<String>,
    #[serde(
        rename = "ContentKeyList",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub content_keys: Option<ContentKeyList>,
    #[serde(
        rename = "DRMSystemList",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub drm_systems: Option<DrmSystemList>,
    #[serde(
        rename = "ContentKeyPeriodList",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub periods: Option<ContentKeyPeriodList>,
    #[serde(
        rename = "ContentKeyUsageRuleList",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub usage_rules: Option<ContentKeyUsageRuleList>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentKeyList {
    #[serde(rename = "ContentKey", default)]
    pub keys: Vec<ContentKey>,
}

/// A content key: its id, scheme and (in an answer) its value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentKey {
    #[serde(rename = "@kid", default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(
        rename = "@commonEncryptionScheme",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub common_encryption_scheme: Option<String>,
    #[serde(
        rename = "@explicitIV",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub explicit_iv: Option<String>,
    #[serde(rename = "Data", default, skip_serializing_if = "Option::is_none")]
    pub data: Option<KeyData>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyData {
    #[serde(
        rename(serialize = "pskc:Secret", deserialize = "Secret"),
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub secret: Option<KeySecret>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeySecret {
    /// The key, base64.
    #[serde(
        rename(serialize = "pskc:PlainValue", deserialize = "PlainValue"),
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub plain_value: Option<String>,
    /// An encrypted key (CPIX document encryption): recognised, not supported.
    #[serde(rename = "EncryptedValue", default, skip_serializing)]
    pub encrypted_value: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DrmSystemList {
    #[serde(rename = "DRMSystem", default)]
    pub systems: Vec<DrmSystem>,
}

/// One (DRM system, key id) pair and its signalling.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DrmSystem {
    #[serde(rename = "@kid", default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(rename = "@systemId", default, skip_serializing_if = "Option::is_none")]
    pub system_id: Option<String>,
    /// A whole `pssh` box, base64.
    #[serde(rename = "PSSH", default, skip_serializing_if = "Option::is_none")]
    pub pssh: Option<Text>,
    /// DASH `ContentProtection` children, base64 of XML.
    #[serde(
        rename = "ContentProtectionData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub content_protection_data: Option<Text>,
    /// `playlist="media"`: an `EXT-X-KEY` line; `playlist="master"`: an
    /// `EXT-X-SESSION-KEY` line; both base64.
    #[serde(rename = "HLSSignalingData", default)]
    pub hls_signaling_data: Vec<HlsSignalingData>,
    #[serde(
        rename = "SmoothStreamingProtectionHeaderData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub smooth_streaming: Option<Text>,
}

/// An element whose content is text (possibly empty: `<PSSH/>` in a request).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Text {
    #[serde(rename = "$text", default)]
    pub value: String,
}

impl Text {
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HlsSignalingData {
    #[serde(rename = "@playlist", default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    #[serde(rename = "$text", default)]
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentKeyPeriodList {
    #[serde(rename = "ContentKeyPeriod", default)]
    pub periods: Vec<ContentKeyPeriod>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentKeyPeriod {
    #[serde(rename = "@id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "@index", default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    #[serde(rename = "@start", default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(rename = "@end", default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentKeyUsageRuleList {
    #[serde(rename = "ContentKeyUsageRule", default)]
    pub rules: Vec<ContentKeyUsageRule>,
}

/// Which key protects which tracks (`intendedTrackType`: `VIDEO`, `AUDIO`, `SD`, `HD`,
/// `ALL`, ...), in which key periods.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentKeyUsageRule {
    #[serde(rename = "@kid", default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(
        rename = "@intendedTrackType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub intended_track_type: Option<String>,
    #[serde(rename = "KeyPeriodFilter", default)]
    pub key_period_filters: Vec<KeyPeriodFilter>,
    #[serde(rename = "VideoFilter", default)]
    pub video_filters: Vec<VideoFilter>,
    #[serde(rename = "AudioFilter", default)]
    pub audio_filters: Vec<AudioFilter>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyPeriodFilter {
    #[serde(rename = "@periodId", default, skip_serializing_if = "Option::is_none")]
    pub period_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoFilter {
    #[serde(
        rename = "@minPixels",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub min_pixels: Option<String>,
    #[serde(
        rename = "@maxPixels",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_pixels: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioFilter {
    #[serde(
        rename = "@minChannels",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub min_channels: Option<String>,
    #[serde(
        rename = "@maxChannels",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max_channels: Option<String>,
}

/// Why a document is refused: the element or attribute (`ContentKeyList/ContentKey[1]@kid`)
/// and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CpixError {
    pub field: String,
    pub message: String,
}

fn err<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, CpixError> {
    Err(CpixError {
        field: field.into(),
        message: message.into(),
    })
}

/// Read a CPIX document; the root must be `CPIX` in the CPIX namespace.
pub fn parse(xml: &str) -> Result<Cpix, CpixError> {
    check_root(xml)?;
    quick_xml::de::from_str(xml).map_err(|e| CpixError {
        field: "CPIX".into(),
        message: format!("not a CPIX document: {e}"),
    })
}

fn check_root(xml: &str) -> Result<(), CpixError> {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    let mut reader = quick_xml::NsReader::from_str(xml);
    loop {
        match reader.read_resolved_event() {
            Ok((ns, Event::Start(e) | Event::Empty(e))) => {
                let local = e.local_name();
                let in_cpix =
                    matches!(ns, ResolveResult::Bound(n) if n.as_ref() == CPIX_NS.as_bytes());
                return if local.as_ref() == b"CPIX" && in_cpix {
                    Ok(())
                } else {
                    err(
                        "CPIX",
                        format!(
                            "the root element is {:?}, not CPIX in namespace {CPIX_NS}",
                            String::from_utf8_lossy(local.as_ref())
                        ),
                    )
                };
            }
            Ok((_, Event::Eof)) => return err("CPIX", "empty document"),
            Ok(_) => continue,
            Err(e) => return err("CPIX", format!("not XML: {e}")),
        }
    }
}

/// Write a CPIX document (XML declaration, CPIX as the default namespace, `pskc:`).
pub fn write(doc: &Cpix) -> String {
    let mut doc = doc.clone();
    doc.xmlns = Some(CPIX_NS.into());
    doc.xmlns_pskc = Some(PSKC_NS.into());
    let body = quick_xml::se::to_string(&doc).unwrap_or_else(|e| {
        // Every field is a string or a list of structs of strings: nothing to refuse.
        tracing::error!("CPIX serialization failed: {e}");
        String::new()
    });
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}")
}

/// A key id as CPIX writes it: a UUID (`0f083e4e-b831-4a3d-917e-ce78076e54aa`).
pub fn kid_string(kid: &Block) -> String {
    uuid::Uuid::from_bytes(*kid).hyphenated().to_string()
}

/// Read a CPIX key id (a UUID, any case, with or without hyphens).
pub fn parse_kid(s: &str) -> Option<Block> {
    uuid::Uuid::parse_str(s.trim()).ok().map(|u| *u.as_bytes())
}

/// A DRM system id (`urn:uuid:` optional) as lower-case hyphenated UUID.
pub fn normalize_system_id(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_prefix("urn:uuid:").unwrap_or(s);
    uuid::Uuid::parse_str(s)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// base64 (standard alphabet, padded), as CPIX carries binary values.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Read base64 (standard alphabet; whitespace ignored).
pub fn unb64(s: &str) -> Option<Vec<u8>> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

/// The `commonEncryptionScheme` values of ISO/IEC 23001-7.
pub const SCHEMES: &[&str] = &["cenc", "cbc1", "cens", "cbcs"];

/// What a checked request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub content_id: String,
    /// Key ids in document order.
    pub kids: Vec<Block>,
    /// Per key id, its scheme.
    pub schemes: BTreeMap<Block, String>,
    /// DRM system ids (normalized) per key id.
    pub systems: BTreeMap<Block, BTreeSet<String>>,
}

impl Cpix {
    /// The content keys, empty when the list is missing.
    pub fn keys(&self) -> &[ContentKey] {
        self.content_keys.as_ref().map_or(&[], |l| &l.keys)
    }

    /// The DRM systems, empty when the list is missing.
    pub fn systems(&self) -> &[DrmSystem] {
        self.drm_systems.as_ref().map_or(&[], |l| &l.systems)
    }

    /// The usage rules, empty when the list is missing.
    pub fn rules(&self) -> &[ContentKeyUsageRule] {
        self.usage_rules.as_ref().map_or(&[], |l| &l.rules)
    }

    /// The rules a SPEKE v2 key provider enforces on a request.
    pub fn check_request(&self) -> Result<Asked, CpixError> {
        match self.version.as_deref().map(str::trim) {
            Some(VERSION) => {}
            Some(v) => return err("CPIX@version", format!("{v:?}: SPEKE v2 speaks CPIX 2.3")),
            None => return err("CPIX@version", "missing (SPEKE v2 speaks CPIX 2.3)"),
        }
        let content_id = match self.content_id.as_deref().map(str::trim) {
            Some(c) if !c.is_empty() => c.to_string(),
            _ => return err("CPIX@contentId", "missing"),
        };
        let (kids, schemes) = self.check_keys()?;
        let systems = self.check_systems(&schemes)?;
        self.check_rules(&schemes)?;
        Ok(Asked {
            content_id,
            kids,
            schemes,
            systems,
        })
    }

    fn check_keys(&self) -> Result<(Vec<Block>, BTreeMap<Block, String>), CpixError> {
        if self.content_keys.is_none() {
            return err("ContentKeyList", "missing");
        }
        if self.keys().is_empty() {
            return err("ContentKeyList", "has no ContentKey");
        }
        let mut kids = Vec::new();
        let mut schemes = BTreeMap::new();
        for (i, k) in self.keys().iter().enumerate() {
            let f = |a: &str| format!("ContentKeyList/ContentKey[{}]@{a}", i + 1);
            let kid = match k.kid.as_deref().map(parse_kid) {
                Some(Some(kid)) => kid,
                Some(None) => return err(f("kid"), "not a UUID"),
                None => return err(f("kid"), "missing"),
            };
            let scheme = match k.common_encryption_scheme.as_deref() {
                Some(s) if SCHEMES.contains(&s) => s.to_string(),
                Some(s) => {
                    return err(
                        f("commonEncryptionScheme"),
                        format!("{s:?} is not one of {SCHEMES:?}"),
                    );
                }
                None => return err(f("commonEncryptionScheme"), "missing"),
            };
            if schemes.insert(kid, scheme).is_some() {
                return err(f("kid"), "the same kid twice");
            }
            kids.push(kid);
        }
        Ok((kids, schemes))
    }

    fn check_systems(
        &self,
        schemes: &BTreeMap<Block, String>,
    ) -> Result<BTreeMap<Block, BTreeSet<String>>, CpixError> {
        if self.drm_systems.is_none() {
            return err("DRMSystemList", "missing");
        }
        if self.systems().is_empty() {
            return err("DRMSystemList", "has no DRMSystem");
        }
        let mut out: BTreeMap<Block, BTreeSet<String>> = BTreeMap::new();
        for (i, s) in self.systems().iter().enumerate() {
            let f = |a: &str| format!("DRMSystemList/DRMSystem[{}]@{a}", i + 1);
            let kid = match s.kid.as_deref().map(parse_kid) {
                Some(Some(kid)) => kid,
                Some(None) => return err(f("kid"), "not a UUID"),
                None => return err(f("kid"), "missing"),
            };
            let Some(scheme) = schemes.get(&kid) else {
                return err(f("kid"), "names no ContentKey of the ContentKeyList");
            };
            let system = match s.system_id.as_deref().map(normalize_system_id) {
                Some(Some(id)) => id,
                Some(None) => return err(f("systemId"), "not a UUID"),
                None => return err(f("systemId"), "missing"),
            };
            if system == crate::signal::FAIRPLAY && scheme != "cbcs" {
                return err(
                    f("systemId"),
                    format!("FairPlay keys are cbcs, and this key is {scheme}"),
                );
            }
            if !out.entry(kid).or_default().insert(system) {
                return err(f("systemId"), "the same (kid, systemId) twice");
            }
        }
        Ok(out)
    }

    fn check_rules(&self, schemes: &BTreeMap<Block, String>) -> Result<(), CpixError> {
        if self.usage_rules.is_none() {
            return err("ContentKeyUsageRuleList", "missing");
        }
        let rules = self.rules();
        if rules.is_empty() {
            return err("ContentKeyUsageRuleList", "has no ContentKeyUsageRule");
        }
        let periods: BTreeSet<&str> = self
            .periods
            .iter()
            .flat_map(|l| &l.periods)
            .filter_map(|p| p.id.as_deref())
            .collect();
        for (i, r) in rules.iter().enumerate() {
            let f = |a: &str| format!("ContentKeyUsageRuleList/ContentKeyUsageRule[{}]{a}", i + 1);
            match r.kid.as_deref().map(parse_kid) {
                Some(Some(kid)) if schemes.contains_key(&kid) => {}
                Some(Some(_)) => {
                    return err(f("@kid"), "names no ContentKey of the ContentKeyList");
                }
                Some(None) => return err(f("@kid"), "not a UUID"),
                None => return err(f("@kid"), "missing"),
            }
            match r.intended_track_type.as_deref() {
                Some(t) if !t.trim().is_empty() => {}
                _ => return err(f("@intendedTrackType"), "missing"),
            }
            if r.intended_track_type.as_deref() == Some("ALL") && rules.len() > 1 {
                return err(
                    f("@intendedTrackType"),
                    "ALL (one key shared by every track) cannot stand beside other rules",
                );
            }
            if r.video_filters.is_empty() && r.audio_filters.is_empty() {
                return err(f(""), "needs a VideoFilter or an AudioFilter");
            }
            for p in &r.key_period_filters {
                match p.period_id.as_deref() {
                    Some(id) if periods.contains(id) => {}
                    Some(id) => {
                        return err(
                            f("/KeyPeriodFilter@periodId"),
                            format!("{id:?} is not a ContentKeyPeriod of the document"),
                        );
                    }
                    None => return err(f("/KeyPeriodFilter@periodId"), "missing"),
                }
            }
        }
        Ok(())
    }

    /// The rules an encryptor enforces on a key provider's answer to `asked`: a 16-byte
    /// key for every key id asked, and no key id that was not asked. Returns the keys.
    pub fn check_answer(&self, asked: &[Block]) -> Result<BTreeMap<Block, Block>, CpixError> {
        if self.content_keys.is_none() {
            return err("ContentKeyList", "missing from the answer");
        }
        let mut keys = BTreeMap::new();
        for (i, k) in self.keys().iter().enumerate() {
            let f = |a: &str| format!("ContentKeyList/ContentKey[{}]{a}", i + 1);
            let Some(kid) = k.kid.as_deref().and_then(parse_kid) else {
                return err(f("@kid"), "missing or not a UUID");
            };
            if !asked.contains(&kid) {
                return err(f("@kid"), format!("{} was not asked for", kid_string(&kid)));
            }
            let secret = k.data.as_ref().and_then(|d| d.secret.as_ref());
            let Some(secret) = secret else {
                return err(f("/Data/Secret"), "missing: no key");
            };
            let Some(value) = secret.plain_value.as_deref() else {
                let why = if secret.encrypted_value.is_some() {
                    "an EncryptedValue: encrypted CPIX answers are not supported"
                } else {
                    "missing: no key"
                };
                return err(f("/Data/Secret/PlainValue"), why);
            };
            let key: Block = match unb64(value).map(Block::try_from) {
                Some(Ok(key)) => key,
                _ => return err(f("/Data/Secret/PlainValue"), "not 16 bytes of base64"),
            };
            keys.insert(kid, key);
        }
        for kid in asked {
            if !keys.contains_key(kid) {
                return err("ContentKeyList", format!("no key for {}", kid_string(kid)));
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<cpix:CPIX contentId="abc" version="2.3" xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc">
  <cpix:ContentKeyList>
    <cpix:ContentKey kid="0f083e4e-b831-4a3d-917e-ce78076e54aa" commonEncryptionScheme="cbcs"></cpix:ContentKey>
  </cpix:ContentKeyList>
  <cpix:DRMSystemList>
    <cpix:DRMSystem kid="0f083e4e-b831-4a3d-917e-ce78076e54aa" systemId="e2719d58-a985-b3c9-781a-b030af78d30e">
      <cpix:PSSH />
      <cpix:HLSSignalingData playlist="media" />
      <cpix:HLSSignalingData playlist="master"></cpix:HLSSignalingData>
    </cpix:DRMSystem>
  </cpix:DRMSystemList>
  <cpix:ContentKeyPeriodList>
    <cpix:ContentKeyPeriod id="p7" index="7" />
  </cpix:ContentKeyPeriodList>
  <cpix:ContentKeyUsageRuleList>
    <cpix:ContentKeyUsageRule kid="0f083e4e-b831-4a3d-917e-ce78076e54aa" intendedTrackType="ALL">
      <cpix:KeyPeriodFilter periodId="p7" />
      <cpix:VideoFilter />
      <cpix:AudioFilter />
    </cpix:ContentKeyUsageRule>
  </cpix:ContentKeyUsageRuleList>
</cpix:CPIX>"#;

    const KID: Block = [
        0x0f, 0x08, 0x3e, 0x4e, 0xb8, 0x31, 0x4a, 0x3d, 0x91, 0x7e, 0xce, 0x78, 0x07, 0x6e, 0x54,
        0xaa,
    ];

    #[test]
    fn a_request_reads_with_its_empty_elements() {
        let doc = parse(REQUEST).unwrap();
        assert_eq!(doc.content_id.as_deref(), Some("abc"));
        let asked = doc.check_request().unwrap();
        assert_eq!(asked.kids, vec![KID]);
        let s = &doc.systems()[0];
        assert_eq!(s.pssh, Some(Text::new("")), "<PSSH/> is asked for");
        assert!(s.content_protection_data.is_none());
        assert_eq!(s.hls_signaling_data.len(), 2);
        assert_eq!(s.hls_signaling_data[1].playlist.as_deref(), Some("master"));
        assert_eq!(
            doc.rules()[0].key_period_filters[0].period_id.as_deref(),
            Some("p7")
        );
        assert_eq!(
            doc.periods.as_ref().unwrap().periods[0].index.as_deref(),
            Some("7")
        );
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let mut doc = parse(REQUEST).unwrap();
        doc.content_keys.as_mut().unwrap().keys[0].data = Some(KeyData {
            secret: Some(KeySecret {
                plain_value: Some(b64(&[9u8; 16])),
                encrypted_value: None,
            }),
        });
        doc.drm_systems.as_mut().unwrap().systems[0].pssh = Some(Text::new("AAAA"));
        doc.drm_systems.as_mut().unwrap().systems[0].hls_signaling_data[0].value =
            "I0VYVA==".into();
        let text = write(&doc);
        assert!(text.starts_with("<?xml"));
        assert!(
            text.contains("<pskc:PlainValue>CQkJCQkJCQkJCQkJCQkJCQ==</pskc:PlainValue>"),
            "{text}"
        );
        assert!(text.contains(r#"xmlns="urn:dashif:org:cpix""#), "{text}");
        let back = parse(&text).unwrap();
        let mut want = doc.clone();
        want.xmlns = Some(CPIX_NS.into());
        want.xmlns_pskc = Some(PSKC_NS.into());
        assert_eq!(back, want);
        assert_eq!(back.check_answer(&[KID]).unwrap()[&KID], [9u8; 16]);
    }

    #[test]
    fn answers_with_other_or_missing_kids_are_refused() {
        let mut doc = parse(REQUEST).unwrap();
        doc.content_keys.as_mut().unwrap().keys[0].data = Some(KeyData {
            secret: Some(KeySecret {
                plain_value: Some(b64(&[9u8; 16])),
                encrypted_value: None,
            }),
        });
        let e = doc.check_answer(&[[1u8; 16]]).unwrap_err();
        assert!(e.message.contains("was not asked for"), "{e}");
        let e = doc.check_answer(&[KID, [1u8; 16]]).unwrap_err();
        assert!(e.message.contains("no key for"), "{e}");
        doc.content_keys.as_mut().unwrap().keys[0].data = None;
        assert!(doc.check_answer(&[KID]).is_err());
    }

    #[test]
    fn garbage_is_refused_with_the_reason() {
        assert!(parse("").unwrap_err().message.contains("empty"));
        assert!(
            parse("<html>no</html>")
                .unwrap_err()
                .message
                .contains("root element")
        );
        assert!(parse("<CPIX xmlns=\"urn:dashif:org:cpix\"><ContentKeyList>").is_err());
        let mut doc = parse(REQUEST).unwrap();
        doc.version = Some("2.0".into());
        assert_eq!(doc.check_request().unwrap_err().field, "CPIX@version");
    }
}
