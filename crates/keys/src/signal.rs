//! What a key provider says about one key for each DRM system: the `pssh` box, the DASH
//! `ContentProtection` children and the HLS `EXT-X-KEY` / `EXT-X-SESSION-KEY` lines.
//!
//! - **ClearKey** (`e2719d58-a985-b3c9-781a-b030af78d30e`, the DASH-IF id): the `pssh` is
//!   the W3C Common PSSH box (system `1077efec-...`, version 1, the key id), which is the
//!   initialization data browsers' ClearKey CDMs read from an init segment; the DASH data
//!   adds the licence URL (`dashif:Laurl`); the HLS line is
//!   `KEYFORMAT="org.w3.clearkey"` with the key id as a `data:` URI and as `KEYID` (hls.js
//!   takes the key id from either; a URI per key id keeps its key sessions apart across
//!   key rotation).
//! - **Widevine**: a version 0 `pssh` with a `WidevinePsshData` protobuf (key id, content
//!   id); HLS `KEYFORMAT="urn:uuid:edef8ba9-..."` with the `pssh` as a `data:` URI.
//! - **PlayReady**: a PlayReady Object with a `WRMHEADER` 4.3 in the `pssh`; HLS
//!   `KEYFORMAT="com.microsoft.playready"` with the object as a `data:` URI.
//! - **FairPlay**: no `pssh`; HLS `skd://<key id>` with
//!   `KEYFORMAT="com.apple.streamingkeydelivery"`.
//! - **Common PSSH** (`1077efec-...`): the box and its DASH element only.
//!
//! These are test signals: a real Widevine, PlayReady or FairPlay licence server would
//! know nothing of these keys.

use crate::cpix::{Block, b64, kid_string};

pub const CLEARKEY: &str = "e2719d58-a985-b3c9-781a-b030af78d30e";
pub const COMMON: &str = "1077efec-c0b2-4d02-ace3-3c1e52e2fb4b";
pub const WIDEVINE: &str = "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed";
pub const PLAYREADY: &str = "9a04f079-9840-4286-ab92-e65be0885f95";
pub const FAIRPLAY: &str = "94ce86fb-07ff-4f43-adb8-93d2fa968ca2";

/// The DRM systems this key server signals.
pub const SUPPORTED: &[&str] = &[CLEARKEY, COMMON, WIDEVINE, PLAYREADY, FAIRPLAY];

/// One key's signalling for one DRM system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// A whole `pssh` box.
    pub pssh: Option<Vec<u8>>,
    /// DASH `ContentProtection` children (XML text).
    pub content_protection: Option<String>,
    /// The attributes of `EXT-X-KEY` (and `EXT-X-SESSION-KEY`) after `METHOD=`.
    pub hls: Option<String>,
}

impl Signal {
    /// `#EXT-X-KEY:METHOD=...` for `scheme` (`cbcs`/`cbc1`: `SAMPLE-AES`; `cenc`/`cens`:
    /// `SAMPLE-AES-CTR`).
    pub fn ext_x_key(&self, scheme: &str) -> Option<String> {
        let attrs = self.hls.as_ref()?;
        Some(format!("#EXT-X-KEY:METHOD={},{attrs}", hls_method(scheme)))
    }

    /// `#EXT-X-SESSION-KEY:METHOD=...`, the master playlist's form of the same.
    pub fn ext_x_session_key(&self, scheme: &str) -> Option<String> {
        let attrs = self.hls.as_ref()?;
        Some(format!(
            "#EXT-X-SESSION-KEY:METHOD={},{attrs}",
            hls_method(scheme)
        ))
    }
}

/// The HLS `METHOD` of a common encryption scheme.
pub fn hls_method(scheme: &str) -> &'static str {
    if scheme.starts_with("cbc") {
        "SAMPLE-AES"
    } else {
        "SAMPLE-AES-CTR"
    }
}

/// The signalling of `kid` for `system` (a normalized system id), `None` for a system
/// this server does not know.
pub fn signal(
    system: &str,
    kid: &Block,
    scheme: &str,
    content_id: &str,
    licence_url: &str,
) -> Option<Signal> {
    let kid_hex = hex::encode_upper(kid);
    match system {
        CLEARKEY => {
            let pssh = media::cenc::pssh_box(&media::cenc::COMMON_SYSTEM_ID, &[*kid], &[]);
            Some(Signal {
                content_protection: Some(format!(
                    "{}<dashif:Laurl xmlns:dashif=\"https://dashif.org/CPS\" \
                     licenseType=\"EME-1.0\">{}</dashif:Laurl>",
                    cenc_pssh(&pssh),
                    xml_escape(licence_url)
                )),
                pssh: Some(pssh),
                hls: Some(format!(
                    "URI=\"data:text/plain;base64,{}\",KEYID=0x{kid_hex},\
                     KEYFORMAT=\"org.w3.clearkey\",KEYFORMATVERSIONS=\"1\"",
                    b64(kid)
                )),
            })
        }
        COMMON => {
            let pssh = media::cenc::pssh_box(&media::cenc::COMMON_SYSTEM_ID, &[*kid], &[]);
            Some(Signal {
                content_protection: Some(cenc_pssh(&pssh)),
                pssh: Some(pssh),
                hls: None,
            })
        }
        WIDEVINE => {
            let pssh = media::cenc::pssh_box(
                &system_bytes(WIDEVINE),
                &[],
                &widevine_data(kid, content_id),
            );
            Some(Signal {
                content_protection: Some(cenc_pssh(&pssh)),
                hls: Some(format!(
                    "URI=\"data:text/plain;base64,{}\",KEYID=0x{kid_hex},\
                     KEYFORMAT=\"urn:uuid:{WIDEVINE}\",KEYFORMATVERSIONS=\"1\"",
                    b64(&pssh)
                )),
                pssh: Some(pssh),
            })
        }
        PLAYREADY => {
            let pro = playready_object(kid, scheme, licence_url);
            let pssh = media::cenc::pssh_box(&system_bytes(PLAYREADY), &[], &pro);
            Some(Signal {
                content_protection: Some(format!(
                    "{}<mspr:pro xmlns:mspr=\"urn:microsoft:playready\">{}</mspr:pro>",
                    cenc_pssh(&pssh),
                    b64(&pro)
                )),
                hls: Some(format!(
                    "URI=\"data:text/plain;charset=UTF-16;base64,{}\",\
                     KEYFORMAT=\"com.microsoft.playready\",KEYFORMATVERSIONS=\"1\"",
                    b64(&pro)
                )),
                pssh: Some(pssh),
            })
        }
        FAIRPLAY => Some(Signal {
            pssh: None,
            content_protection: None,
            hls: Some(format!(
                "URI=\"skd://{}\",KEYFORMAT=\"com.apple.streamingkeydelivery\",\
                 KEYFORMATVERSIONS=\"1\"",
                hex::encode(kid)
            )),
        }),
        _ => None,
    }
}

fn system_bytes(system: &str) -> Block {
    crate::cpix::parse_kid(system).unwrap_or_default()
}

fn cenc_pssh(pssh: &[u8]) -> String {
    format!(
        "<cenc:pssh xmlns:cenc=\"urn:mpeg:cenc:2013\">{}</cenc:pssh>",
        b64(pssh)
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `WidevinePsshData` (protobuf): `key_ids` (field 2) and `content_id` (field 4).
fn widevine_data(kid: &Block, content_id: &str) -> Vec<u8> {
    let mut o = vec![0x12, 16];
    o.extend_from_slice(kid);
    let id = &content_id.as_bytes()[..content_id.len().min(127)];
    o.push(0x22);
    o.push(id.len() as u8);
    o.extend_from_slice(id);
    o
}

/// A PlayReady Object holding one `WRMHEADER` 4.3 record (UTF-16LE) for `kid`.
fn playready_object(kid: &Block, scheme: &str, licence_url: &str) -> Vec<u8> {
    // PlayReady writes GUIDs little-endian in their first three fields.
    let mut guid = *kid;
    guid[0..4].reverse();
    guid[4..6].reverse();
    guid[6..8].reverse();
    let alg = if scheme.starts_with("cbc") {
        "AESCBC"
    } else {
        "AESCTR"
    };
    let header = format!(
        "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" \
         version=\"4.3.0.0\"><DATA><PROTECTINFO><KIDS><KID ALGID=\"{alg}\" VALUE=\"{}\">\
         </KID></KIDS></PROTECTINFO><LA_URL>{}</LA_URL><CUSTOMATTRIBUTES>\
         <KIDUUID>{}</KIDUUID></CUSTOMATTRIBUTES></DATA></WRMHEADER>",
        b64(&guid),
        xml_escape(licence_url),
        kid_string(kid)
    );
    let record: Vec<u8> = header.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let total = 4 + 2 + 2 + 2 + record.len();
    let mut o = Vec::with_capacity(total);
    o.extend_from_slice(&(total as u32).to_le_bytes());
    o.extend_from_slice(&1u16.to_le_bytes());
    o.extend_from_slice(&1u16.to_le_bytes()); // rights management header
    o.extend_from_slice(&(record.len() as u16).to_le_bytes());
    o.extend_from_slice(&record);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const KID: Block = [
        0x0f, 0x08, 0x3e, 0x4e, 0xb8, 0x31, 0x4a, 0x3d, 0x91, 0x7e, 0xce, 0x78, 0x07, 0x6e, 0x54,
        0xaa,
    ];

    #[test]
    fn clearkey_signals_the_common_pssh_and_the_kid() {
        let s = signal(CLEARKEY, &KID, "cbcs", "c", "http://k/clearkey/license").unwrap();
        let pssh = s.pssh.clone().unwrap();
        assert_eq!(&pssh[4..8], b"pssh");
        assert_eq!(pssh[8], 1, "version 1: the key ids are in the box");
        assert_eq!(&pssh[12..28], &media::cenc::COMMON_SYSTEM_ID);
        assert_eq!(&pssh[32..48], &KID);
        let line = s.ext_x_key("cbcs").unwrap();
        assert!(line.starts_with("#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"data:text/plain;base64,Dwg+TrgxSj2Rfs54B25Uqg==\""), "{line}");
        assert!(
            line.contains("KEYID=0x0F083E4EB8314A3D917ECE78076E54AA"),
            "{line}"
        );
        assert!(line.contains("KEYFORMAT=\"org.w3.clearkey\""));
        assert!(
            s.ext_x_session_key("cenc")
                .unwrap()
                .starts_with("#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES-CTR,")
        );
        assert!(
            s.content_protection
                .unwrap()
                .contains("http://k/clearkey/license")
        );
    }

    #[test]
    fn playready_object_is_length_prefixed_utf16() {
        let pro = playready_object(&KID, "cenc", "http://x");
        assert_eq!(
            u32::from_le_bytes(pro[..4].try_into().unwrap()) as usize,
            pro.len()
        );
        let text: Vec<u16> = pro[10..]
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let text = String::from_utf16(&text).unwrap();
        assert!(text.starts_with("<WRMHEADER"), "{text}");
        assert!(text.contains("ALGID=\"AESCTR\""));
    }

    #[test]
    fn fairplay_has_no_pssh_and_unknown_systems_have_nothing() {
        let s = signal(FAIRPLAY, &KID, "cbcs", "c", "").unwrap();
        assert!(s.pssh.is_none() && s.content_protection.is_none());
        assert!(
            s.hls
                .unwrap()
                .contains("skd://0f083e4eb8314a3d917ece78076e54aa")
        );
        assert!(
            signal(
                "00000000-0000-0000-0000-000000000000",
                &KID,
                "cbcs",
                "c",
                ""
            )
            .is_none()
        );
    }
}
