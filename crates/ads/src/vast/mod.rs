//! VAST as ad stacks send it: wrapper chains, pods and standalone ads, VAST 2, 3 and 4,
//! error beacons with IAB error codes, and VMAP pre-rolls.
//!
//! ```text
//! resolve(http, ads_url, opts)                                   (async; chain.rs)
//!   GET (ADS timeout) -> parse (vast4-rs; parse.rs)
//!   each <Ad>: InLine -> a LinearAd per linear creative
//!              Wrapper -> GET its VASTAdTagURI (ADS timeout, at most 5 levels deep),
//!                         resolve that answer, and merge the wrapper's impressions,
//!                         errors and linear tracking into each ad it yields
//!   -> Resolved { ads: pod (by sequence) then standalone ads (document order),
//!                 errors: error URLs to fire, [ERRORCODE] filled }
//! preroll(http, url, opts)  a VMAP (its `start` break) or a plain VAST, resolved alike
//! ```
//! What is dropped while resolving fires the `Error` URLs of the ad and of every wrapper
//! above it, with the IAB code ([`ErrorCode`]): 100 (the wrapped answer is not XML
//! VAST), 301 (a wrapped URI failed or timed out), 302 (more than five wrappers, or a
//! wrapper where `followAdditionalWrappers="false"`), 303 (a wrapped answer had no ad;
//! also an empty top-level answer's own `<Error>`). Later drops (no media file the proxy
//! can play, 403; an ad that could not be conditioned, 405) are the break policy's, with
//! [`LinearAd::error_urls`]. Error and impression URLs are fired by the caller (server
//! side whatever the session's reporting mode: they are about the ad decision, not the
//! viewer's playback).
//!
//! Pods and standalone ads: ads with a `sequence` form the pod and play first, in sequence
//! order; standalone ads follow in document order (Eyevinn's test-adserver fills the rest
//! of a break with them; VAST 3 calls them the ad buffet). The break's duration budget
//! cuts what does not fit. A wrapper's `allowMultipleAds` (default true before VAST 4,
//! false from VAST 4 on) keeps only the first ad of its answer when false.
//!
//! Written over `vast4-rs` (which reads VAST 2, 3 and 4 documents into one model); VMAP,
//! which that crate lacks, is read with `quick-xml` (vmap.rs).

mod chain;
mod parse;
pub mod vmap;

use serde::Serialize;

pub use chain::{ResolveOptions, Resolved, preroll, resolve};
pub use parse::{Document, Node, parse_document};

/// IAB VAST error codes the proxy reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ErrorCode {
    /// 100: XML parsing error.
    XmlParse = 100,
    /// 300: general wrapper error.
    WrapperGeneral = 300,
    /// 301: timeout (or failure) of the VAST URI of a wrapper.
    WrapperTimeout = 301,
    /// 302: wrapper limit reached.
    WrapperLimit = 302,
    /// 303: no ads VAST response after one or more wrappers.
    NoAds = 303,
    /// 400: general linear error.
    LinearGeneral = 400,
    /// 403: could not find a media file supported by the player.
    NoSupportedMedia = 403,
    /// 405: problem displaying the media file (here: it could not be conditioned).
    MediaProblem = 405,
}

impl ErrorCode {
    pub fn code(self) -> u16 {
        self as u16
    }
}

/// Fills the VAST macros the proxy knows in a tracking or error URL: `[ERRORCODE]`,
/// `[CACHEBUSTING]` (8 random digits) and `[TIMESTAMP]` (ISO 8601), also when
/// percent-encoded (`%5BERRORCODE%5D`).
pub fn fill_macros(url: &str, code: Option<ErrorCode>) -> String {
    let mut out = url.to_string();
    let code = code.map(|c| c.code().to_string()).unwrap_or_default();
    let bust = format!("{:08}", rand::random::<u32>() % 100_000_000);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let now_enc: String = url::form_urlencoded::byte_serialize(now.as_bytes()).collect();
    for (name, value) in [
        ("ERRORCODE", code.as_str()),
        ("CACHEBUSTING", bust.as_str()),
        ("TIMESTAMP", now_enc.as_str()),
    ] {
        for form in [
            format!("[{name}]"),
            format!("%5B{name}%5D"),
            format!("%5b{name}%5d"),
        ] {
            if out.contains(&form) {
                out = out.replace(&form, value);
            }
        }
    }
    out
}

/// A media file of a linear creative (`<MediaFile>`, or VAST 4 `<Mezzanine>`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaFile {
    pub url: String,
    /// `type`: `video/mp4`, `application/x-mpegURL`, ...
    pub mime: String,
    /// `progressive` or `streaming`.
    pub delivery: String,
    pub width: u32,
    pub height: u32,
    /// kb/s (`bitrate`, else `maxBitrate`).
    pub bitrate: Option<u32>,
    pub codec: Option<String>,
    /// `VPAID`, `SIMID`, ...: interactive, never played by SSAI.
    pub api_framework: Option<String>,
    /// A VAST 4 `<Mezzanine>` (the source file meant for server-side transcoding).
    pub mezzanine: bool,
}

impl MediaFile {
    /// An HLS playlist (plays as it is, without conditioning).
    pub fn is_hls(&self) -> bool {
        self.mime.to_ascii_lowercase().contains("mpegurl")
            || self
                .url
                .split(['?', '#'])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
                .ends_with(".m3u8")
    }

    /// A video file ffmpeg can condition (not interactive, not a playlist, a video type).
    pub fn is_conditionable(&self) -> bool {
        let mime = self.mime.to_ascii_lowercase();
        self.api_framework.is_none()
            && !self.is_hls()
            && !mime.contains("javascript")
            && !mime.contains("flash")
            && !mime.contains("dash")
            && (mime.starts_with("video/") || mime.is_empty() || self.mezzanine)
    }
}

/// One linear ad, with every wrapper level's beacons merged in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinearAd {
    /// The creative's `adId` (`AdID` in VAST 2/3), else the `<Ad id>`, else the creative
    /// id.
    pub ad_id: String,
    /// Position in the pod; `None`: a standalone ad.
    pub sequence: Option<u32>,
    /// `<Duration>`, seconds.
    pub duration: f64,
    pub media_files: Vec<MediaFile>,
    /// (event, URL): `impression`, `error`, `start`, `firstQuartile`, `midpoint`,
    /// `thirdQuartile`, `complete`, and any other tracking event, from the inline ad and
    /// every wrapper above it.
    pub beacons: Vec<(String, String)>,
    /// How many wrappers led to it.
    pub wrapper_depth: u8,
    /// The VAST version of the inline answer (`2.0`, `3.0`, `4.1`, ...).
    pub version: String,
}

impl LinearAd {
    /// The HLS media file, if it has one.
    pub fn hls(&self) -> Option<&MediaFile> {
        self.media_files.iter().find(|m| m.is_hls())
    }

    /// The file to condition: a VAST 4 `<Mezzanine>` if present, else the largest
    /// conditionable `<MediaFile>` (pixels, then bitrate), preferring `video/mp4`.
    pub fn mezzanine(&self) -> Option<&MediaFile> {
        self.media_files
            .iter()
            .filter(|m| m.is_conditionable())
            .max_by_key(|m| {
                (
                    m.mezzanine,
                    u64::from(m.width) * u64::from(m.height),
                    m.mime.eq_ignore_ascii_case("video/mp4"),
                    m.bitrate.unwrap_or(0),
                )
            })
    }

    /// The URLs of one event (`impression`, `start`, ...).
    pub fn beacon_urls(&self, event: &str) -> Vec<&str> {
        self.beacons
            .iter()
            .filter(|(e, _)| e == event)
            .map(|(_, u)| u.as_str())
            .collect()
    }

    /// Its `Error` URLs (and its wrappers'), with `[ERRORCODE]` set to `code`.
    pub fn error_urls(&self, code: ErrorCode) -> Vec<String> {
        self.beacon_urls("error")
            .into_iter()
            .map(|u| fill_macros(u, Some(code)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(url: &str, mime: &str, w: u32, h: u32) -> MediaFile {
        MediaFile {
            url: url.into(),
            mime: mime.into(),
            delivery: "progressive".into(),
            width: w,
            height: h,
            bitrate: None,
            codec: None,
            api_framework: None,
            mezzanine: false,
        }
    }

    #[test]
    fn mezzanine_choice_and_macros() {
        let mut ad = LinearAd {
            ad_id: "a".into(),
            sequence: None,
            duration: 10.0,
            media_files: vec![
                file("http://x/small.mp4", "video/mp4", 640, 360),
                file("http://x/big.webm", "video/webm", 1920, 1080),
                file("http://x/big.mp4", "video/mp4", 1920, 1080),
                file("http://x/vpaid.js", "application/javascript", 1920, 1080),
                file("http://x/a.m3u8", "application/x-mpegURL", 1280, 720),
            ],
            beacons: vec![(
                "error".into(),
                "http://t/e?c=[ERRORCODE]&x=%5BERRORCODE%5D".into(),
            )],
            wrapper_depth: 0,
            version: "3.0".into(),
        };
        assert_eq!(ad.mezzanine().unwrap().url, "http://x/big.mp4");
        assert_eq!(ad.hls().unwrap().url, "http://x/a.m3u8");
        assert_eq!(
            ad.error_urls(ErrorCode::NoSupportedMedia),
            ["http://t/e?c=403&x=403"]
        );
        ad.media_files.push(MediaFile {
            mezzanine: true,
            ..file("http://x/mezz.mov", "video/quicktime", 1280, 720)
        });
        assert_eq!(ad.mezzanine().unwrap().url, "http://x/mezz.mov");
        let filled = fill_macros("http://t/i?cb=[CACHEBUSTING]&t=[TIMESTAMP]", None);
        assert!(!filled.contains('['), "{filled}");
    }
}
