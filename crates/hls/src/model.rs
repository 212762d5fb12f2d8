//! The playlist model: what a parsed playlist is, and what the writer writes.

use chrono::{DateTime, FixedOffset};

use crate::attr::AttributeList;

/// A playlist: master (multivariant) or media.
#[derive(Debug, Clone, PartialEq)]
pub enum Playlist {
    Master(MasterPlaylist),
    Media(MediaPlaylist),
}

/// A tag this crate does not model, kept verbatim: `#NAME` or `#NAME:VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag {
    /// Without the leading `#`, e.g. `EXT-X-PART-INF`.
    pub name: String,
    /// Everything after the first `:`, if there was one.
    pub value: Option<String>,
}

impl Tag {
    pub fn new(name: impl Into<String>, value: Option<String>) -> Self {
        Self {
            name: name.into(),
            value,
        }
    }
}

/// `EXT-X-START`.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    pub time_offset: f64,
    pub precise: bool,
}

/// `EXT-X-PLAYLIST-TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlaylistType {
    Event,
    Vod,
}

impl PlaylistType {
    pub fn as_str(self) -> &'static str {
        match self {
            PlaylistType::Event => "EVENT",
            PlaylistType::Vod => "VOD",
        }
    }
}

/// A master (multivariant) playlist.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MasterPlaylist {
    pub version: Option<u64>,
    pub independent_segments: bool,
    pub start: Option<Start>,
    /// `EXT-X-MEDIA` renditions (audio, video, subtitles, closed captions).
    pub media: Vec<Rendition>,
    /// `EXT-X-STREAM-INF` + URI.
    pub variants: Vec<VariantStream>,
    /// `EXT-X-I-FRAME-STREAM-INF`.
    pub i_frame_streams: Vec<IFrameStream>,
    /// `EXT-X-SESSION-DATA`.
    pub session_data: Vec<AttributeList>,
    /// `EXT-X-SESSION-KEY`.
    pub session_keys: Vec<AttributeList>,
    /// Tags this crate does not model, in the order read (written after the header tags).
    pub unknown: Vec<Tag>,
}

/// `EXT-X-STREAM-INF` and its URI.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VariantStream {
    pub uri: String,
    pub attrs: AttributeList,
}

impl VariantStream {
    pub fn bandwidth(&self) -> Option<u64> {
        self.attrs.get_u64("BANDWIDTH")
    }
    pub fn average_bandwidth(&self) -> Option<u64> {
        self.attrs.get_u64("AVERAGE-BANDWIDTH")
    }
    pub fn codecs(&self) -> Option<&str> {
        self.attrs.get("CODECS")
    }
    pub fn resolution(&self) -> Option<(u32, u32)> {
        self.attrs.get_resolution("RESOLUTION")
    }
    pub fn frame_rate(&self) -> Option<f64> {
        self.attrs.get_f64("FRAME-RATE")
    }
    pub fn audio(&self) -> Option<&str> {
        self.attrs.get("AUDIO")
    }
    pub fn video(&self) -> Option<&str> {
        self.attrs.get("VIDEO")
    }
    pub fn subtitles(&self) -> Option<&str> {
        self.attrs.get("SUBTITLES")
    }
    pub fn closed_captions(&self) -> Option<&str> {
        self.attrs.get("CLOSED-CAPTIONS")
    }
}

/// `EXT-X-I-FRAME-STREAM-INF` (its URI is an attribute).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IFrameStream {
    pub attrs: AttributeList,
}

impl IFrameStream {
    pub fn uri(&self) -> Option<&str> {
        self.attrs.get("URI")
    }
    pub fn bandwidth(&self) -> Option<u64> {
        self.attrs.get_u64("BANDWIDTH")
    }
    pub fn codecs(&self) -> Option<&str> {
        self.attrs.get("CODECS")
    }
    pub fn resolution(&self) -> Option<(u32, u32)> {
        self.attrs.get_resolution("RESOLUTION")
    }
}

/// `EXT-X-MEDIA`: an alternative rendition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendition {
    pub attrs: AttributeList,
}

/// `TYPE` of an `EXT-X-MEDIA`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaType {
    Audio,
    Video,
    Subtitles,
    ClosedCaptions,
}

impl MediaType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "AUDIO" => MediaType::Audio,
            "VIDEO" => MediaType::Video,
            "SUBTITLES" => MediaType::Subtitles,
            "CLOSED-CAPTIONS" => MediaType::ClosedCaptions,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Audio => "AUDIO",
            MediaType::Video => "VIDEO",
            MediaType::Subtitles => "SUBTITLES",
            MediaType::ClosedCaptions => "CLOSED-CAPTIONS",
        }
    }
}

impl Rendition {
    pub fn media_type(&self) -> Option<MediaType> {
        self.attrs.get("TYPE").and_then(MediaType::parse)
    }
    pub fn group_id(&self) -> Option<&str> {
        self.attrs.get("GROUP-ID")
    }
    pub fn name(&self) -> Option<&str> {
        self.attrs.get("NAME")
    }
    pub fn language(&self) -> Option<&str> {
        self.attrs.get("LANGUAGE")
    }
    pub fn uri(&self) -> Option<&str> {
        self.attrs.get("URI")
    }
    pub fn is_default(&self) -> bool {
        self.attrs.get_bool("DEFAULT")
    }
    pub fn autoselect(&self) -> bool {
        self.attrs.get_bool("AUTOSELECT")
    }
}

/// A media playlist.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MediaPlaylist {
    pub version: Option<u64>,
    /// `EXT-X-TARGETDURATION` (seconds). `None` when the playlist lacks it (the validator
    /// reports that; the parser keeps going so that it can).
    pub target_duration: Option<u64>,
    pub media_sequence: u64,
    pub discontinuity_sequence: u64,
    pub playlist_type: Option<PlaylistType>,
    pub i_frames_only: bool,
    pub independent_segments: bool,
    pub start: Option<Start>,
    /// Header-level tags this crate does not model (those read before the first
    /// segment-level tag), in order.
    pub unknown: Vec<Tag>,
    pub segments: Vec<Segment>,
    /// Segment-level tags after the last segment (e.g. a CUE-IN or DATERANGE that closes a
    /// break at the live edge). Their `uri` and `duration` are unused.
    pub trailing: Option<Box<Segment>>,
    pub end_list: bool,
}

impl MediaPlaylist {
    /// Sum of segment durations, seconds.
    pub fn duration(&self) -> f64 {
        self.segments.iter().map(|s| s.duration).sum()
    }

    /// The smallest integer target duration that holds every segment (EXTINF rounded to the
    /// nearest integer, RFC 8216 4.3.3.1), at least 1.
    pub fn computed_target_duration(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| s.duration.round() as u64)
            .max()
            .unwrap_or(1)
            .max(1)
    }

    /// The `EXT-X-MAP` in effect for segment `index` (the last one at or before it).
    pub fn effective_map(&self, index: usize) -> Option<&Map> {
        self.segments[..=index.min(self.segments.len().saturating_sub(1))]
            .iter()
            .rev()
            .find_map(|s| s.map.as_ref())
    }

    /// The `EXT-X-KEY` tags in effect for segment `index` (the last group at or before it;
    /// empty when unencrypted or when the last key is `METHOD=NONE`).
    pub fn effective_keys(&self, index: usize) -> &[Key] {
        self.segments[..=index.min(self.segments.len().saturating_sub(1))]
            .iter()
            .rev()
            .find(|s| !s.keys.is_empty())
            .map(|s| s.keys.as_slice())
            .unwrap_or(&[])
    }

    /// The sequence number of segment `index`.
    pub fn sequence_of(&self, index: usize) -> u64 {
        self.media_sequence + index as u64
    }
}

/// One media segment and the tags that precede its URI.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Segment {
    pub uri: String,
    /// `EXTINF` duration, seconds.
    pub duration: f64,
    /// `EXTINF` title (after the comma), if any.
    pub title: Option<String>,
    pub byte_range: Option<ByteRange>,
    pub discontinuity: bool,
    pub program_date_time: Option<DateTime<FixedOffset>>,
    /// `EXT-X-KEY` tags right before this segment (several for several KEYFORMATs).
    pub keys: Vec<Key>,
    pub map: Option<Map>,
    pub gap: bool,
    pub bitrate: Option<u64>,
    pub dateranges: Vec<DateRange>,
    /// Ad markers (CUE-OUT, CUE-OUT-CONT, CUE-IN, OATCLS, ASSET, SCTE35), in order.
    pub markers: Vec<Marker>,
    /// Segment-level tags this crate does not model, in order.
    pub unknown: Vec<Tag>,
}

impl Segment {
    pub fn new(uri: impl Into<String>, duration: f64) -> Self {
        Self {
            uri: uri.into(),
            duration,
            ..Default::default()
        }
    }

    /// True if any segment-level tag is present (used for the trailing pseudo-segment).
    pub fn has_tags(&self) -> bool {
        self.discontinuity
            || self.program_date_time.is_some()
            || !self.keys.is_empty()
            || self.map.is_some()
            || self.gap
            || self.bitrate.is_some()
            || !self.dateranges.is_empty()
            || !self.markers.is_empty()
            || !self.unknown.is_empty()
            || self.byte_range.is_some()
    }
}

/// `EXT-X-BYTERANGE` / a `BYTERANGE` attribute: `<length>[@<offset>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ByteRange {
    pub length: u64,
    pub offset: Option<u64>,
}

impl ByteRange {
    pub fn parse(s: &str) -> Option<Self> {
        let (length, offset) = match s.split_once('@') {
            Some((l, o)) => (l.trim().parse().ok()?, Some(o.trim().parse().ok()?)),
            None => (s.trim().parse().ok()?, None),
        };
        Some(Self { length, offset })
    }
}

impl std::fmt::Display for ByteRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{}@{}", self.length, o),
            None => write!(f, "{}", self.length),
        }
    }
}

/// `EXT-X-KEY`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Key {
    pub attrs: AttributeList,
}

impl Key {
    /// `METHOD=AES-128,URI="<uri>"` with an optional IV (`0x...`).
    pub fn aes128(uri: impl Into<String>, iv: Option<[u8; 16]>) -> Self {
        let mut attrs = AttributeList::new()
            .unquoted("METHOD", "AES-128")
            .quoted("URI", uri);
        if let Some(iv) = iv {
            let hex: String = iv.iter().map(|b| format!("{b:02X}")).collect();
            attrs.set_unquoted("IV", format!("0x{hex}"));
        }
        Self { attrs }
    }
    pub fn none() -> Self {
        Self {
            attrs: AttributeList::new().unquoted("METHOD", "NONE"),
        }
    }
    pub fn method(&self) -> Option<&str> {
        self.attrs.get("METHOD")
    }
    pub fn uri(&self) -> Option<&str> {
        self.attrs.get("URI")
    }
    /// The IV as 16 bytes, if given and well-formed.
    pub fn iv(&self) -> Option<[u8; 16]> {
        let v = self.attrs.get("IV")?;
        let hex = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X"))?;
        if hex.len() != 32 {
            return None;
        }
        let mut out = [0u8; 16];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(out)
    }
    pub fn keyformat(&self) -> Option<&str> {
        self.attrs.get("KEYFORMAT")
    }
}

/// `EXT-X-MAP`: the media initialization section.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Map {
    pub attrs: AttributeList,
}

impl Map {
    pub fn new(uri: impl Into<String>, byte_range: Option<ByteRange>) -> Self {
        let mut attrs = AttributeList::new().quoted("URI", uri);
        if let Some(r) = byte_range {
            attrs.set_quoted("BYTERANGE", r.to_string());
        }
        Self { attrs }
    }
    pub fn uri(&self) -> Option<&str> {
        self.attrs.get("URI")
    }
    pub fn byte_range(&self) -> Option<ByteRange> {
        self.attrs.get("BYTERANGE").and_then(ByteRange::parse)
    }
}

/// `EXT-X-DATERANGE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DateRange {
    pub attrs: AttributeList,
}

impl DateRange {
    pub fn id(&self) -> Option<&str> {
        self.attrs.get("ID")
    }
    pub fn class(&self) -> Option<&str> {
        self.attrs.get("CLASS")
    }
    pub fn start_date(&self) -> Option<DateTime<FixedOffset>> {
        self.attrs.get("START-DATE").and_then(parse_date_time)
    }
    pub fn end_date(&self) -> Option<DateTime<FixedOffset>> {
        self.attrs.get("END-DATE").and_then(parse_date_time)
    }
    pub fn duration(&self) -> Option<f64> {
        self.attrs.get_f64("DURATION")
    }
    pub fn planned_duration(&self) -> Option<f64> {
        self.attrs.get_f64("PLANNED-DURATION")
    }
    /// `SCTE35-CMD`, `SCTE35-OUT` or `SCTE35-IN` as bytes (they are `0x`-hex).
    pub fn scte35(&self, which: &str) -> Option<Vec<u8>> {
        let v = self.attrs.get(which)?;
        let hex = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X"))?;
        if hex.len() % 2 != 0 {
            return None;
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect()
    }
}

/// An ad marker outside RFC 8216 that real origins and encoders emit. Values are kept as
/// read (`raw`), so they are written back byte for byte; accessors interpret them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Marker {
    /// `EXT-X-CUE-OUT[:<duration>|:DURATION=<d>,...]`
    CueOut { raw: Option<String> },
    /// `EXT-X-CUE-OUT-CONT[:ElapsedTime=<e>,Duration=<d>|:<e>/<d>]`
    CueOutCont { raw: Option<String> },
    /// `EXT-X-CUE-IN`
    CueIn,
    /// `EXT-OATCLS-SCTE35:<base64>`
    OatclsScte35(String),
    /// `EXT-X-ASSET:<attributes>`
    Asset(String),
    /// `EXT-X-SCTE35:<attributes>` (`CUE="<base64>"`, ...)
    Scte35(String),
}

impl Marker {
    /// `EXT-X-CUE-OUT:DURATION=<d>`.
    pub fn cue_out(duration: f64) -> Self {
        let mut s = String::from("DURATION=");
        crate::attr::write_f64(&mut s, duration);
        Marker::CueOut { raw: Some(s) }
    }
    /// `EXT-X-CUE-OUT-CONT:ElapsedTime=<e>,Duration=<d>`.
    pub fn cue_out_cont(elapsed: f64, duration: f64) -> Self {
        let mut s = String::from("ElapsedTime=");
        crate::attr::write_f64(&mut s, elapsed);
        s.push_str(",Duration=");
        crate::attr::write_f64(&mut s, duration);
        Marker::CueOutCont { raw: Some(s) }
    }

    /// The tag name, without `#`.
    pub fn tag_name(&self) -> &'static str {
        match self {
            Marker::CueOut { .. } => "EXT-X-CUE-OUT",
            Marker::CueOutCont { .. } => "EXT-X-CUE-OUT-CONT",
            Marker::CueIn => "EXT-X-CUE-IN",
            Marker::OatclsScte35(_) => "EXT-OATCLS-SCTE35",
            Marker::Asset(_) => "EXT-X-ASSET",
            Marker::Scte35(_) => "EXT-X-SCTE35",
        }
    }

    /// The tag value (after `:`), if any.
    pub fn value(&self) -> Option<&str> {
        match self {
            Marker::CueOut { raw } | Marker::CueOutCont { raw } => raw.as_deref(),
            Marker::CueIn => None,
            Marker::OatclsScte35(v) | Marker::Asset(v) | Marker::Scte35(v) => Some(v),
        }
    }

    /// Break duration of a CUE-OUT (`:30`, `:DURATION=30`) or CUE-OUT-CONT
    /// (`Duration=30`, `:2.0/30`).
    pub fn duration(&self) -> Option<f64> {
        match self {
            Marker::CueOut { raw: Some(raw) } => {
                if let Ok(d) = raw.trim().parse::<f64>() {
                    return Some(d);
                }
                lenient_attr(raw, "DURATION")
            }
            // `ElapsedTime=..,Duration=..[,SCTE35=<base64>]` first: base64 may contain '/'.
            Marker::CueOutCont { raw: Some(raw) } if raw.contains('=') => {
                lenient_attr(raw, "DURATION")
            }
            Marker::CueOutCont { raw: Some(raw) } => {
                raw.split_once('/').and_then(|(_, d)| d.trim().parse().ok())
            }
            _ => None,
        }
    }

    /// Elapsed time of a CUE-OUT-CONT (`ElapsedTime=5`, `:5/30`).
    pub fn elapsed(&self) -> Option<f64> {
        match self {
            Marker::CueOutCont { raw: Some(raw) } if raw.contains('=') => {
                lenient_attr(raw, "ELAPSEDTIME")
            }
            Marker::CueOutCont { raw: Some(raw) } => {
                raw.split_once('/').and_then(|(e, _)| e.trim().parse().ok())
            }
            _ => None,
        }
    }
}

/// Parse an ISO 8601 date-time as HLS uses it: RFC 3339, and also the `+0000` offset
/// without a colon that ffmpeg writes in EXT-X-PROGRAM-DATE-TIME.
pub fn parse_date_time(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
}

/// Find `NAME=value` in a loosely formatted, comma-separated list, case-insensitively.
fn lenient_attr(raw: &str, name: &str) -> Option<f64> {
    raw.split(',').find_map(|part| {
        let (k, v) = part.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffmpeg_pdt_offset_without_colon() {
        let a = parse_date_time("2026-11-25T16:00:00.123+0000").unwrap();
        let b = parse_date_time("2026-11-25T16:00:00.123Z").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn cue_out_cont_forms() {
        let m = Marker::CueOutCont {
            raw: Some("ElapsedTime=4.5,Duration=30,SCTE35=/DAl+/x==".into()),
        };
        assert_eq!(m.elapsed(), Some(4.5));
        assert_eq!(m.duration(), Some(30.0));
        let m = Marker::CueOutCont {
            raw: Some("2.0/30".into()),
        };
        assert_eq!(m.elapsed(), Some(2.0));
        assert_eq!(m.duration(), Some(30.0));
    }
}
