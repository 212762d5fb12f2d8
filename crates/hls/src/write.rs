//! The writer: [`Playlist`] to text. One `String` grown in place; no intermediate allocations
//! per tag beyond number formatting. The engine and the origin render through this on their
//! hot paths.

use std::fmt::Write;

use chrono::SecondsFormat;

use crate::attr::write_f64;
use crate::model::*;

impl Playlist {
    pub fn write_to(&self, out: &mut String) {
        match self {
            Playlist::Master(m) => m.write_to(out),
            Playlist::Media(m) => m.write_to(out),
        }
    }
}

/// `Display` writes the playlist text through `write_to`.
macro_rules! display_via_write_to {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut s = String::new();
                self.write_to(&mut s);
                f.write_str(&s)
            }
        }
    )*};
}

display_via_write_to!(Playlist, MasterPlaylist, MediaPlaylist);

fn tag(out: &mut String, name: &str) {
    out.push('#');
    out.push_str(name);
    out.push('\n');
}

fn tag_value(out: &mut String, name: &str, value: &str) {
    out.push('#');
    out.push_str(name);
    out.push(':');
    out.push_str(value);
    out.push('\n');
}

fn tag_attrs(out: &mut String, name: &str, attrs: &crate::AttributeList) {
    out.push('#');
    out.push_str(name);
    out.push(':');
    attrs.write_to(out);
    out.push('\n');
}

fn unknown(out: &mut String, t: &Tag) {
    match &t.value {
        Some(v) => tag_value(out, &t.name, v),
        None => tag(out, &t.name),
    }
}

fn start(out: &mut String, s: &Start) {
    out.push_str("#EXT-X-START:TIME-OFFSET=");
    write_f64(out, s.time_offset);
    if s.precise {
        out.push_str(",PRECISE=YES");
    }
    out.push('\n');
}

impl MasterPlaylist {
    /// Append this playlist's text to `out`.
    pub fn write_to(&self, out: &mut String) {
        out.push_str("#EXTM3U\n");
        if let Some(v) = self.version {
            let _ = writeln!(out, "#EXT-X-VERSION:{v}");
        }
        if self.independent_segments {
            tag(out, "EXT-X-INDEPENDENT-SEGMENTS");
        }
        if let Some(s) = &self.start {
            start(out, s);
        }
        for t in &self.unknown {
            unknown(out, t);
        }
        for d in &self.session_data {
            tag_attrs(out, "EXT-X-SESSION-DATA", d);
        }
        for k in &self.session_keys {
            tag_attrs(out, "EXT-X-SESSION-KEY", k);
        }
        for m in &self.media {
            tag_attrs(out, "EXT-X-MEDIA", &m.attrs);
        }
        for v in &self.variants {
            tag_attrs(out, "EXT-X-STREAM-INF", &v.attrs);
            out.push_str(&v.uri);
            out.push('\n');
        }
        for i in &self.i_frame_streams {
            tag_attrs(out, "EXT-X-I-FRAME-STREAM-INF", &i.attrs);
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::with_capacity(256 + 160 * (self.variants.len() + self.media.len()));
        self.write_to(&mut s);
        s.into_bytes()
    }
}

impl MediaPlaylist {
    /// Append this playlist's text to `out`.
    pub fn write_to(&self, out: &mut String) {
        out.push_str("#EXTM3U\n");
        if let Some(v) = self.version {
            let _ = writeln!(out, "#EXT-X-VERSION:{v}");
        }
        if let Some(t) = self.target_duration {
            let _ = writeln!(out, "#EXT-X-TARGETDURATION:{t}");
        }
        let _ = writeln!(out, "#EXT-X-MEDIA-SEQUENCE:{}", self.media_sequence);
        // RFC 8216 6.2.2: a playlist that removes segments and has discontinuities must
        // carry the tag, even at 0 (zero is the default, so it reads back the same).
        if self.discontinuity_sequence != 0 || self.segments.iter().any(|s| s.discontinuity) {
            let _ = writeln!(
                out,
                "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
                self.discontinuity_sequence
            );
        }
        if let Some(t) = self.playlist_type {
            tag_value(out, "EXT-X-PLAYLIST-TYPE", t.as_str());
        }
        if self.i_frames_only {
            tag(out, "EXT-X-I-FRAMES-ONLY");
        }
        if self.independent_segments {
            tag(out, "EXT-X-INDEPENDENT-SEGMENTS");
        }
        if let Some(s) = &self.start {
            start(out, s);
        }
        for t in &self.unknown {
            unknown(out, t);
        }
        for s in &self.segments {
            s.write_to(out);
        }
        if let Some(t) = &self.trailing {
            t.write_tags(out);
            t.write_unknown(out);
        }
        if self.end_list {
            tag(out, "EXT-X-ENDLIST");
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = String::with_capacity(256 + 96 * self.segments.len());
        self.write_to(&mut s);
        s.into_bytes()
    }
}

impl Segment {
    fn write_unknown(&self, out: &mut String) {
        for t in &self.unknown {
            unknown(out, t);
        }
    }

    /// The tags before `#EXTINF`, in a fixed order: DISCONTINUITY, KEY, MAP,
    /// PROGRAM-DATE-TIME, DATERANGE, ad markers, BITRATE, GAP, BYTERANGE. Unknown tags are
    /// written between `#EXTINF` and the URI (see [`Segment::write_to`]).
    pub fn write_tags(&self, out: &mut String) {
        if self.discontinuity {
            tag(out, "EXT-X-DISCONTINUITY");
        }
        for k in &self.keys {
            tag_attrs(out, "EXT-X-KEY", &k.attrs);
        }
        if let Some(m) = &self.map {
            tag_attrs(out, "EXT-X-MAP", &m.attrs);
        }
        if let Some(pdt) = &self.program_date_time {
            out.push_str("#EXT-X-PROGRAM-DATE-TIME:");
            out.push_str(&pdt.to_rfc3339_opts(SecondsFormat::AutoSi, false));
            out.push('\n');
        }
        for d in &self.dateranges {
            tag_attrs(out, "EXT-X-DATERANGE", &d.attrs);
        }
        for m in &self.markers {
            match m.value() {
                Some(v) => tag_value(out, m.tag_name(), v),
                None => tag(out, m.tag_name()),
            }
        }
        if let Some(b) = self.bitrate {
            let _ = writeln!(out, "#EXT-X-BITRATE:{b}");
        }
        if self.gap {
            tag(out, "EXT-X-GAP");
        }
        if let Some(r) = &self.byte_range {
            let _ = writeln!(out, "#EXT-X-BYTERANGE:{r}");
        }
    }

    /// The segment's tags, `#EXTINF`, unknown tags and URI. Unknown tags go after
    /// `#EXTINF` so that those of the first segment can never be read back as header tags.
    pub fn write_to(&self, out: &mut String) {
        self.write_tags(out);
        out.push_str("#EXTINF:");
        write_f64(out, self.duration);
        out.push(',');
        if let Some(t) = &self.title {
            out.push_str(t);
        }
        out.push('\n');
        self.write_unknown(out);
        out.push_str(&self.uri);
        out.push('\n');
    }
}
