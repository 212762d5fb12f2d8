//! The one parser of playback paths: `/out/{channel}/{endpoint}/{file}` (relative to the
//! router's nesting prefix) into an [`OutRequest`], once per request. A new kind of thing
//! an endpoint serves (an MPD, say) is a new [`OutFile`] variant and a new arm where the
//! request is dispatched, not another string test in the handler.
//!
//! Channel and endpoint ids are percent-decoded (only an encoded path pays for a copy);
//! file names are matched as sent (they are ids, sequence numbers and fixed suffixes).

use std::borrow::Cow;

/// What a playback request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutFile<'a> {
    /// `index.m3u8`: the endpoint's master playlist.
    Master,
    /// `index.mpd`: a DASH endpoint's MPD (live, start-over or time-shifted by query).
    Mpd,
    /// `<slug>.m3u8`: a media playlist (live, or time-shifted with a query).
    Media { slug: &'a str },
    /// `<slug>_iframes.m3u8`: an I-frame-only playlist.
    IFrames { slug: &'a str },
    /// `<slug>/init_<name>.mp4`: a CMAF init segment (`<name>` is the init id, with
    /// `_<key period>` on encrypted endpoints).
    Init { slug: &'a str, name: &'a str },
    /// `<slug>/<seq>.<ext>`: a media segment.
    Segment {
        slug: &'a str,
        seq: u64,
        ext: &'a str,
    },
}

impl<'a> OutFile<'a> {
    /// Parses the part of the path after `{channel}/{endpoint}/`.
    pub fn parse(file: &'a str) -> Option<Self> {
        if file == "index.m3u8" {
            return Some(OutFile::Master);
        }
        if file == "index.mpd" {
            return Some(OutFile::Mpd);
        }
        if let Some(name) = file.strip_suffix(".m3u8") {
            if name.contains('/') || name.is_empty() {
                return None;
            }
            return Some(match name.strip_suffix("_iframes") {
                Some(slug) if !slug.is_empty() => OutFile::IFrames { slug },
                _ => OutFile::Media { slug: name },
            });
        }
        let (slug, name) = file.rsplit_once('/')?;
        if slug.is_empty() || slug.contains('/') {
            return None;
        }
        if let Some(init) = name
            .strip_prefix("init_")
            .and_then(|f| f.strip_suffix(".mp4"))
        {
            return (!init.is_empty()).then_some(OutFile::Init { slug, name: init });
        }
        let (seq, ext) = name.split_once('.')?;
        Some(OutFile::Segment {
            slug,
            seq: seq.parse().ok()?,
            ext,
        })
    }

    /// A media playlist the channel's ready snapshot may hold.
    pub fn is_media_playlist(&self) -> bool {
        matches!(self, OutFile::Media { .. })
    }
}

/// A parsed playback request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRequest<'a> {
    pub channel: Cow<'a, str>,
    pub endpoint: Cow<'a, str>,
    /// The file part as sent (`<slug>.m3u8`, `<slug>/<seq>.ts`, ...).
    pub raw_file: &'a str,
    pub file: OutFile<'a>,
}

/// Why a path is not a playback path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutPathError {
    /// Not `/out/{channel}/{endpoint}/{file}`, or a file this origin never serves.
    NotFound,
    /// A percent-encoding that is not UTF-8.
    BadEncoding,
}

fn decode(s: &str) -> Result<Cow<'_, str>, OutPathError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map_err(|_| OutPathError::BadEncoding)
}

impl<'a> OutRequest<'a> {
    /// Parses `/out/{channel}/{endpoint}/{file}`.
    pub fn parse(path: &'a str) -> Result<Self, OutPathError> {
        let rest = path.strip_prefix("/out/").ok_or(OutPathError::NotFound)?;
        let (channel, rest) = rest.split_once('/').ok_or(OutPathError::NotFound)?;
        let (endpoint, raw_file) = rest.split_once('/').ok_or(OutPathError::NotFound)?;
        if channel.is_empty() || endpoint.is_empty() {
            return Err(OutPathError::NotFound);
        }
        let file = OutFile::parse(raw_file).ok_or(OutPathError::NotFound)?;
        Ok(Self {
            channel: decode(channel)?,
            endpoint: decode(endpoint)?,
            raw_file,
            file,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_kind_parses_once() {
        let p = |s| OutFile::parse(s);
        assert_eq!(p("index.m3u8"), Some(OutFile::Master));
        assert_eq!(p("index.mpd"), Some(OutFile::Mpd));
        assert_eq!(p("other.mpd"), None);
        assert_eq!(
            p("channel_1.m3u8"),
            Some(OutFile::Media { slug: "channel_1" })
        );
        assert_eq!(
            p("channel_1_iframes.m3u8"),
            Some(OutFile::IFrames { slug: "channel_1" })
        );
        assert_eq!(
            p("channel_1/init_ab12cd.mp4"),
            Some(OutFile::Init {
                slug: "channel_1",
                name: "ab12cd"
            })
        );
        assert_eq!(
            p("channel_1/init_ab12cd_7.mp4"),
            Some(OutFile::Init {
                slug: "channel_1",
                name: "ab12cd_7"
            })
        );
        assert_eq!(
            p("channel_1/42.m4s"),
            Some(OutFile::Segment {
                slug: "channel_1",
                seq: 42,
                ext: "m4s"
            })
        );
        for bad in [
            "",
            "x/y/1.ts",
            "a/b.ts",
            "a/.ts",
            "/1.ts",
            "a/init_.mp4",
            "a/b.m3u8",
            ".m3u8",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ids_are_decoded_and_the_prefix_is_required() {
        let r = OutRequest::parse("/out/ch%2Done/ep/index.m3u8").unwrap();
        assert_eq!((r.channel.as_ref(), r.endpoint.as_ref()), ("ch-one", "ep"));
        assert!(matches!(r.channel, Cow::Owned(_)));
        let r = OutRequest::parse("/out/c/e/v/3.ts").unwrap();
        assert!(matches!(r.channel, Cow::Borrowed(_)));
        assert_eq!(r.raw_file, "v/3.ts");
        assert_eq!(
            OutRequest::parse("/in/c/e/index.m3u8"),
            Err(OutPathError::NotFound)
        );
        assert_eq!(
            OutRequest::parse("/out/c/index.m3u8"),
            Err(OutPathError::NotFound)
        );
        assert_eq!(
            OutRequest::parse("/out/%ff/e/index.m3u8"),
            Err(OutPathError::BadEncoding)
        );
    }
}
