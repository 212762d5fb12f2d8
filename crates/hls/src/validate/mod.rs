//! Validation against the RFC 8216 rules a playlist can break. Pure: the caller fetches.
//!
//! Four layers, each returning [`Problem`]s with a stable rule id:
//! - [`check_text`]: syntax (the parser's errors, with their rule ids, and the line-level
//!   rules of section 4.1/4.2 the parser is lenient about: BOM, control characters,
//!   whitespace, attribute names and value types) and then the static rules of the parsed
//!   playlist, with line numbers found by a scan of the text;
//! - [`check_media`] / [`check_master`]: static rules on a parsed playlist;
//! - [`LiveTracker`]: rules across reloads of one live media playlist (media sequence,
//!   segment identity and the tags that apply to it, discontinuity sequence, staleness,
//!   window length);
//! - [`check_variants`]: rules across the media playlists one master names (RFC 8216 6.2.4:
//!   same target duration, same playlist type, date-time and discontinuity agreement, ...).
//!
//! Every MUST / MUST NOT of RFC 8216 sections 4 and 6 that a playlist can break is listed in
//! [`rules`] with the rule id that checks it, or why playlists alone cannot show it.
//!
//! Rule ids are part of the interface: tests, `lineup validate --json` and the fixtures in
//! `tests/fixtures/broken/` name them.

use std::collections::BTreeMap;

use crate::model::*;
use crate::parse::parse;

mod attrs;
mod keys;
mod live;
mod master;
mod media;
pub mod rules;
mod session;
mod tags;
mod text;
mod variants;

pub use keys::SegmentKeys;
pub use live::LiveTracker;
pub use master::check_master;
pub use media::check_media;
pub use variants::check_variants;

/// How bad a problem is. Errors fail validation (non-zero exit); warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One broken rule and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub rule: &'static str,
    pub severity: Severity,
    /// 1-based line in the playlist text, when known.
    pub line: Option<usize>,
    /// Media sequence number of the segment concerned, when there is one.
    pub sequence: Option<u64>,
    pub message: String,
}

impl Problem {
    pub(crate) fn error(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            rule,
            severity: Severity::Error,
            line: None,
            sequence: None,
            message: message.into(),
        }
    }
    pub(crate) fn warning(rule: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(rule, message)
        }
    }
    pub(crate) fn at(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }
    pub(crate) fn seq(mut self, sequence: u64) -> Self {
        self.sequence = Some(sequence);
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]", self.severity.as_str(), self.rule)?;
        if let Some(l) = self.line {
            write!(f, " line {l}")?;
        }
        if let Some(s) = self.sequence {
            write!(f, " (segment {s})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Where things are in the text: line numbers of tags and segment URIs, found by a scan.
#[derive(Debug, Default, Clone)]
pub struct LineIndex {
    /// Line of each segment's `#EXTINF`, by segment index.
    pub extinf: Vec<usize>,
    /// First line of each tag name.
    pub first_tag: BTreeMap<String, usize>,
    /// Lines of each `EXT-X-STREAM-INF`, `EXT-X-MEDIA`, `EXT-X-I-FRAME-STREAM-INF`, in order.
    pub stream_inf: Vec<usize>,
    pub media: Vec<usize>,
    pub i_frame_stream_inf: Vec<usize>,
    /// Lines of `EXT-X-KEY` and `EXT-X-MAP`, in order.
    pub keys: Vec<usize>,
    pub maps: Vec<usize>,
}

impl LineIndex {
    pub fn scan(text: &str) -> Self {
        let mut idx = LineIndex::default();
        for (i, line) in text.split('\n').enumerate() {
            let no = i + 1;
            let line = line.trim();
            let Some(tag) = line.strip_prefix('#') else {
                continue;
            };
            let name = tag.split(':').next().unwrap_or(tag);
            if !name.starts_with("EXT") {
                continue;
            }
            idx.first_tag.entry(name.to_string()).or_insert(no);
            match name {
                "EXTINF" => idx.extinf.push(no),
                "EXT-X-STREAM-INF" => idx.stream_inf.push(no),
                "EXT-X-MEDIA" => idx.media.push(no),
                "EXT-X-I-FRAME-STREAM-INF" => idx.i_frame_stream_inf.push(no),
                "EXT-X-KEY" => idx.keys.push(no),
                "EXT-X-MAP" => idx.maps.push(no),
                _ => {}
            }
        }
        idx
    }
    pub(crate) fn tag(&self, name: &str) -> Option<usize> {
        self.first_tag.get(name).copied()
    }
}

/// Parse and check a playlist's text. Returns the playlist when it parsed.
pub fn check_text(text: &str) -> (Option<Playlist>, Vec<Problem>) {
    match parse(text) {
        Err(e) => {
            let mut problems = vec![Problem::error(e.rule, e.message).at(Some(e.line))];
            problems.extend(text::check_lines(text));
            (None, problems)
        }
        Ok(p) => {
            let idx = LineIndex::scan(text);
            let mut problems = text::check_lines(text);
            problems.extend(match &p {
                Playlist::Media(m) => check_media(m, &idx),
                Playlist::Master(m) => check_master(m, &idx),
            });
            (Some(p), problems)
        }
    }
}

/// The `EXT-X-VERSION` a media playlist needs for the features it uses (RFC 8216 7).
pub fn required_version(p: &MediaPlaylist) -> (u64, &'static str) {
    let mut need = (1, "");
    let mut bump = |v: u64, why: &'static str| {
        if v > need.0 {
            need = (v, why);
        }
    };
    for s in &p.segments {
        if s.duration.fract() != 0.0 {
            bump(3, "a decimal EXTINF duration");
        }
        if s.byte_range.is_some() {
            bump(4, "EXT-X-BYTERANGE");
        }
        for k in &s.keys {
            if k.attrs.contains("IV") {
                bump(2, "the IV attribute of EXT-X-KEY");
            }
            if k.attrs.contains("KEYFORMAT") || k.attrs.contains("KEYFORMATVERSIONS") {
                bump(5, "KEYFORMAT in EXT-X-KEY");
            }
        }
        if s.map.is_some() {
            if p.i_frames_only {
                bump(5, "EXT-X-MAP in an I-frames-only playlist");
            } else {
                bump(6, "EXT-X-MAP in a playlist that is not I-frames only");
            }
        }
    }
    if p.i_frames_only {
        bump(4, "EXT-X-I-FRAMES-ONLY");
    }
    need
}
