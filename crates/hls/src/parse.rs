//! The parser: text to [`Playlist`].
//!
//! Line oriented, one pass over the tags after a pre-scan that decides master vs media. The
//! parser is strict about syntax (what it cannot represent is an error naming the line) and
//! lenient about semantics (a missing TARGETDURATION, an EXTINF over the target, ...), which
//! the validator reports with its own rule ids.

use crate::attr::AttributeList;
use crate::model::*;

/// A playlist that could not be read, with the 1-based line and a rule id shared with the
/// validator (e.g. `missing-extm3u`, `bad-attribute-syntax`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub rule: &'static str,
    pub message: String,
}

impl ParseError {
    fn new(line: usize, rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            line,
            rule,
            message: message.into(),
        }
    }
}

const MASTER_TAGS: &[&str] = &[
    "EXT-X-STREAM-INF",
    "EXT-X-I-FRAME-STREAM-INF",
    "EXT-X-MEDIA",
    "EXT-X-SESSION-DATA",
    "EXT-X-SESSION-KEY",
];

const MEDIA_TAGS: &[&str] = &[
    "EXTINF",
    "EXT-X-TARGETDURATION",
    "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE",
    "EXT-X-ENDLIST",
    "EXT-X-PLAYLIST-TYPE",
    "EXT-X-I-FRAMES-ONLY",
    "EXT-X-BYTERANGE",
    "EXT-X-DISCONTINUITY",
    "EXT-X-KEY",
    "EXT-X-MAP",
    "EXT-X-PROGRAM-DATE-TIME",
];

/// Parse playlist bytes (must be UTF-8).
pub fn parse_bytes(input: &[u8]) -> Result<Playlist, ParseError> {
    match std::str::from_utf8(input) {
        Ok(s) => parse(s),
        Err(e) => {
            let line = input[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            Err(ParseError::new(
                line,
                "not-utf8",
                "playlist is not valid UTF-8",
            ))
        }
    }
}

/// Parse a playlist, deciding master vs media from its tags.
pub fn parse(input: &str) -> Result<Playlist, ParseError> {
    let lines = lines(input)?;
    let mut kind = None;
    for (no, line) in &lines {
        if let Line::Tag(name, _) = line {
            let this = if MASTER_TAGS.contains(name) {
                Some(true)
            } else if MEDIA_TAGS.contains(name) {
                Some(false)
            } else {
                None
            };
            match (kind, this) {
                (None, Some(t)) => kind = Some(t),
                (Some(k), Some(t)) if k != t => {
                    return Err(ParseError::new(
                        *no,
                        "mixed-playlist",
                        format!("#{name} is a {} tag in a {} playlist", word(t), word(k)),
                    ));
                }
                _ => {}
            }
        }
    }
    // A playlist of only URIs and no classifying tags is treated as media (it will fail on
    // the first URI without EXTINF, which names the line).
    if kind == Some(true) {
        parse_master_lines(&lines).map(Playlist::Master)
    } else {
        parse_media_lines(&lines).map(Playlist::Media)
    }
}

fn word(master: bool) -> &'static str {
    if master { "master" } else { "media" }
}

/// Parse text that must be a media playlist.
pub fn parse_media(input: &str) -> Result<MediaPlaylist, ParseError> {
    match parse(input)? {
        Playlist::Media(m) => Ok(m),
        Playlist::Master(_) => Err(ParseError::new(
            1,
            "wrong-playlist-kind",
            "expected a media playlist, found a master playlist",
        )),
    }
}

/// Parse text that must be a master playlist.
pub fn parse_master(input: &str) -> Result<MasterPlaylist, ParseError> {
    match parse(input)? {
        Playlist::Master(m) => Ok(m),
        Playlist::Media(_) => Err(ParseError::new(
            1,
            "wrong-playlist-kind",
            "expected a master playlist, found a media playlist",
        )),
    }
}

#[derive(Debug)]
enum Line<'a> {
    /// Tag name (without `#`) and value after `:`.
    Tag(&'a str, Option<&'a str>),
    Uri(&'a str),
}

fn lines(input: &str) -> Result<Vec<(usize, Line<'_>)>, ParseError> {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut out = Vec::new();
    let mut seen_header = false;
    for (i, raw) in input.split('\n').enumerate() {
        let no = i + 1;
        let line = raw.trim_end_matches('\r').trim();
        if line.is_empty() {
            continue;
        }
        if !seen_header {
            if line != "#EXTM3U" {
                return Err(ParseError::new(
                    no,
                    "missing-extm3u",
                    "a playlist must start with #EXTM3U",
                ));
            }
            seen_header = true;
            continue;
        }
        if let Some(tag) = line.strip_prefix('#') {
            if !tag.starts_with("EXT") {
                continue; // a comment
            }
            let (name, value) = match tag.split_once(':') {
                Some((n, v)) => (n, Some(v)),
                None => (tag, None),
            };
            if name == "EXTM3U" {
                return Err(ParseError::new(
                    no,
                    "duplicate-extm3u",
                    "#EXTM3U appears twice",
                ));
            }
            out.push((no, Line::Tag(name, value)));
        } else {
            out.push((no, Line::Uri(line)));
        }
    }
    if !seen_header {
        return Err(ParseError::new(
            1,
            "missing-extm3u",
            "the playlist is empty",
        ));
    }
    Ok(out)
}

fn attrs(no: usize, name: &str, value: Option<&str>) -> Result<AttributeList, ParseError> {
    let value = value.ok_or_else(|| {
        ParseError::new(
            no,
            "bad-attribute-syntax",
            format!("#{name} needs attributes"),
        )
    })?;
    AttributeList::parse(value)
        .map_err(|e| ParseError::new(no, "bad-attribute-syntax", format!("#{name}: {}", e.0)))
}

fn integer(no: usize, name: &str, value: Option<&str>) -> Result<u64, ParseError> {
    let v = value.unwrap_or("").trim();
    v.parse().map_err(|_| {
        ParseError::new(
            no,
            "bad-number",
            format!("#{name} needs a non-negative integer, found '{v}'"),
        )
    })
}

fn no_value(no: usize, name: &str, value: Option<&str>) -> Result<(), ParseError> {
    match value {
        None => Ok(()),
        Some(v) => Err(ParseError::new(
            no,
            "unexpected-value",
            format!("#{name} takes no value, found ':{v}'"),
        )),
    }
}

fn start(no: usize, name: &str, value: Option<&str>) -> Result<Start, ParseError> {
    let a = attrs(no, name, value)?;
    let time_offset = a.get_f64("TIME-OFFSET").ok_or_else(|| {
        ParseError::new(
            no,
            "missing-attribute",
            "#EXT-X-START needs a numeric TIME-OFFSET",
        )
    })?;
    Ok(Start {
        time_offset,
        precise: a.get_bool("PRECISE"),
    })
}

fn version(
    no: usize,
    name: &str,
    value: Option<&str>,
    slot: &mut Option<u64>,
) -> Result<(), ParseError> {
    if slot.is_some() {
        return Err(ParseError::new(
            no,
            "duplicate-version",
            "#EXT-X-VERSION appears twice",
        ));
    }
    *slot = Some(integer(no, name, value)?);
    Ok(())
}

fn parse_master_lines(lines: &[(usize, Line<'_>)]) -> Result<MasterPlaylist, ParseError> {
    let mut m = MasterPlaylist::default();
    let mut pending_variant: Option<(usize, AttributeList)> = None;
    for (no, line) in lines {
        let no = *no;
        match line {
            Line::Uri(uri) => match pending_variant.take() {
                Some((_, attrs)) => m.variants.push(VariantStream {
                    uri: uri.to_string(),
                    attrs,
                }),
                None => {
                    return Err(ParseError::new(
                        no,
                        "uri-without-stream-inf",
                        format!(
                            "URI '{uri}' in a master playlist without #EXT-X-STREAM-INF before it"
                        ),
                    ));
                }
            },
            Line::Tag(name, value) => {
                if let Some((at, _)) = &pending_variant {
                    return Err(ParseError::new(
                        *at,
                        "stream-inf-missing-uri",
                        format!(
                            "#EXT-X-STREAM-INF is not followed by a URI (next is #{name} at line {no})"
                        ),
                    ));
                }
                match *name {
                    "EXT-X-VERSION" => version(no, name, *value, &mut m.version)?,
                    "EXT-X-INDEPENDENT-SEGMENTS" => {
                        no_value(no, name, *value)?;
                        m.independent_segments = true
                    }
                    "EXT-X-START" => m.start = Some(start(no, name, *value)?),
                    "EXT-X-STREAM-INF" => pending_variant = Some((no, attrs(no, name, *value)?)),
                    "EXT-X-I-FRAME-STREAM-INF" => m.i_frame_streams.push(IFrameStream {
                        attrs: attrs(no, name, *value)?,
                    }),
                    "EXT-X-MEDIA" => m.media.push(Rendition {
                        attrs: attrs(no, name, *value)?,
                    }),
                    "EXT-X-SESSION-DATA" => m.session_data.push(attrs(no, name, *value)?),
                    "EXT-X-SESSION-KEY" => m.session_keys.push(attrs(no, name, *value)?),
                    _ => m.unknown.push(Tag::new(*name, value.map(str::to_string))),
                }
            }
        }
    }
    if let Some((at, _)) = pending_variant {
        return Err(ParseError::new(
            at,
            "stream-inf-missing-uri",
            "#EXT-X-STREAM-INF at the end of the playlist has no URI",
        ));
    }
    Ok(m)
}

/// The state of a media playlist parse between lines.
#[derive(Default)]
struct MediaParse {
    /// The segment being built (its tags so far).
    seg: Segment,
    /// The line of the `#EXTINF` waiting for its URI.
    extinf_line: Option<usize>,
    /// A segment tag was seen: unknown tags belong to segments from here on.
    in_segments: bool,
    seen_target: bool,
    seen_sequence: bool,
    seen_dseq: bool,
}

fn parse_media_lines(lines: &[(usize, Line<'_>)]) -> Result<MediaPlaylist, ParseError> {
    let mut p = MediaPlaylist::default();
    let mut st = MediaParse::default();
    for (no, line) in lines {
        let no = *no;
        match line {
            Line::Uri(uri) => {
                if st.extinf_line.is_none() {
                    return Err(ParseError::new(
                        no,
                        "uri-without-extinf",
                        format!("segment URI '{uri}' has no #EXTINF before it"),
                    ));
                }
                st.seg.uri = uri.to_string();
                p.segments.push(std::mem::take(&mut st.seg));
                st.extinf_line = None;
            }
            Line::Tag(name, value) => {
                if playlist_tag(&mut p, &mut st, no, name, *value)? {
                    continue;
                }
                if segment_tag(&mut st, no, name, *value)? {
                    st.in_segments = true;
                    continue;
                }
                let tag = Tag::new(*name, value.map(str::to_string));
                if st.in_segments {
                    st.seg.unknown.push(tag);
                } else {
                    p.unknown.push(tag);
                }
            }
        }
    }
    let MediaParse {
        seg, extinf_line, ..
    } = st;
    if let Some(at) = extinf_line {
        return Err(ParseError::new(
            at,
            "extinf-missing-uri",
            "#EXTINF at the end of the playlist has no URI",
        ));
    }
    if seg.has_tags() {
        p.trailing = Some(Box::new(seg));
    }
    Ok(p)
}

/// A media playlist's own tag (`false`: not one).
fn playlist_tag(
    p: &mut MediaPlaylist,
    st: &mut MediaParse,
    no: usize,
    name: &str,
    value: Option<&str>,
) -> Result<bool, ParseError> {
    match name {
        "EXT-X-VERSION" => version(no, name, value, &mut p.version)?,
        "EXT-X-TARGETDURATION" => {
            if st.seen_target {
                return Err(ParseError::new(
                    no,
                    "duplicate-targetduration",
                    "#EXT-X-TARGETDURATION appears twice",
                ));
            }
            st.seen_target = true;
            p.target_duration = Some(integer(no, name, value)?);
        }
        "EXT-X-MEDIA-SEQUENCE" => {
            if st.seen_sequence || !p.segments.is_empty() {
                return Err(ParseError::new(
                    no,
                    "media-sequence-misplaced",
                    "#EXT-X-MEDIA-SEQUENCE must appear once, before the first segment",
                ));
            }
            st.seen_sequence = true;
            p.media_sequence = integer(no, name, value)?;
        }
        "EXT-X-DISCONTINUITY-SEQUENCE" => {
            if st.seen_dseq || !p.segments.is_empty() {
                return Err(ParseError::new(
                    no,
                    "discontinuity-sequence-misplaced",
                    "#EXT-X-DISCONTINUITY-SEQUENCE must appear once, before the first segment",
                ));
            }
            st.seen_dseq = true;
            p.discontinuity_sequence = integer(no, name, value)?;
        }
        "EXT-X-PLAYLIST-TYPE" => {
            p.playlist_type = Some(match value.map(str::trim) {
                Some("VOD") => PlaylistType::Vod,
                Some("EVENT") => PlaylistType::Event,
                other => {
                    return Err(ParseError::new(
                        no,
                        "bad-playlist-type",
                        format!(
                            "#EXT-X-PLAYLIST-TYPE must be VOD or EVENT, found '{}'",
                            other.unwrap_or("")
                        ),
                    ));
                }
            })
        }
        "EXT-X-I-FRAMES-ONLY" => {
            no_value(no, name, value)?;
            p.i_frames_only = true
        }
        "EXT-X-INDEPENDENT-SEGMENTS" => {
            no_value(no, name, value)?;
            p.independent_segments = true
        }
        "EXT-X-START" => p.start = Some(start(no, name, value)?),
        "EXT-X-ENDLIST" => {
            no_value(no, name, value)?;
            p.end_list = true
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// A tag of the next segment (`false`: not one).
fn segment_tag(
    st: &mut MediaParse,
    no: usize,
    name: &str,
    value: Option<&str>,
) -> Result<bool, ParseError> {
    match name {
        "EXTINF" => {
            if let Some(prev) = st.extinf_line {
                return Err(ParseError::new(
                    prev,
                    "extinf-missing-uri",
                    format!("#EXTINF is not followed by a URI (another #EXTINF at line {no})"),
                ));
            }
            (st.seg.duration, st.seg.title) = extinf(no, value)?;
            st.extinf_line = Some(no);
        }
        "EXT-X-BYTERANGE" => {
            let v = value.unwrap_or("");
            st.seg.byte_range = Some(ByteRange::parse(v).ok_or_else(|| {
                ParseError::new(
                    no,
                    "bad-byterange",
                    format!("#EXT-X-BYTERANGE '{v}' is not <length>[@<offset>]"),
                )
            })?);
        }
        "EXT-X-DISCONTINUITY" => {
            no_value(no, name, value)?;
            st.seg.discontinuity = true;
        }
        "EXT-X-GAP" => {
            no_value(no, name, value)?;
            st.seg.gap = true;
        }
        "EXT-X-BITRATE" => {
            st.seg.bitrate = Some(integer(no, name, value)?);
        }
        "EXT-X-KEY" => {
            st.seg.keys.push(Key {
                attrs: attrs(no, name, value)?,
            });
        }
        "EXT-X-MAP" => {
            if st.seg.map.is_some() {
                return Err(ParseError::new(
                    no,
                    "duplicate-map",
                    "two #EXT-X-MAP tags before one segment",
                ));
            }
            st.seg.map = Some(Map {
                attrs: attrs(no, name, value)?,
            });
        }
        "EXT-X-PROGRAM-DATE-TIME" => {
            let v = value.unwrap_or("").trim();
            st.seg.program_date_time = Some(parse_date_time(v).ok_or_else(|| {
                ParseError::new(
                    no,
                    "bad-date",
                    format!("#EXT-X-PROGRAM-DATE-TIME '{v}' is not an ISO 8601 date-time"),
                )
            })?);
        }
        "EXT-X-DATERANGE" => {
            st.seg.dateranges.push(DateRange {
                attrs: attrs(no, name, value)?,
            });
        }
        "EXT-X-CUE-OUT" => {
            st.seg.markers.push(Marker::CueOut {
                raw: value.map(str::to_string),
            });
        }
        "EXT-X-CUE-OUT-CONT" => {
            st.seg.markers.push(Marker::CueOutCont {
                raw: value.map(str::to_string),
            });
        }
        "EXT-X-CUE-IN" => {
            st.seg.markers.push(Marker::CueIn);
        }
        "EXT-OATCLS-SCTE35" | "EXT-X-ASSET" | "EXT-X-SCTE35" => {
            let v = value.unwrap_or("").to_string();
            st.seg.markers.push(match name {
                "EXT-OATCLS-SCTE35" => Marker::OatclsScte35(v),
                "EXT-X-ASSET" => Marker::Asset(v),
                _ => Marker::Scte35(v),
            });
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// An `#EXTINF` value: the duration and the title.
fn extinf(no: usize, value: Option<&str>) -> Result<(f64, Option<String>), ParseError> {
    let v = value.unwrap_or("");
    let (d, title) = match v.split_once(',') {
        Some((d, t)) => (d, (!t.is_empty()).then(|| t.to_string())),
        None => (v, None),
    };
    let d = d.trim();
    let duration: f64 = d.parse().map_err(|_| {
        ParseError::new(
            no,
            "bad-number",
            format!("#EXTINF duration '{d}' is not a number"),
        )
    })?;
    if !duration.is_finite() || duration < 0.0 || d.starts_with('-') {
        return Err(ParseError::new(
            no,
            "negative-duration",
            format!("#EXTINF duration '{d}' must be a non-negative number"),
        ));
    }
    Ok((duration, title))
}
