//! Line-level rules the parser is lenient about (RFC 8216 4.1, 4.2, 4.3): byte order mark,
//! control characters, line endings, whitespace, the EXTINF comma, tags that may appear only
//! once, attribute names, repeated attributes and attribute value types.

use super::Problem;
use super::attrs;
use crate::attr::AttributeList;

/// Tags that must appear at most once and that the parser does not already refuse twice.
const ONCE: &[&str] = &[
    "EXT-X-ENDLIST",
    "EXT-X-PLAYLIST-TYPE",
    "EXT-X-I-FRAMES-ONLY",
    "EXT-X-INDEPENDENT-SEGMENTS",
    "EXT-X-START",
];

/// RFC 8216 tags whose value is one token, where no whitespace is allowed.
const SIMPLE: &[&str] = &[
    "EXT-X-VERSION",
    "EXT-X-TARGETDURATION",
    "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE",
    "EXT-X-PLAYLIST-TYPE",
    "EXT-X-BYTERANGE",
    "EXT-X-PROGRAM-DATE-TIME",
];

fn is_control(c: char) -> bool {
    matches!(c as u32, 0x00..=0x1F | 0x7F..=0x9F) && c != '\r' && c != '\n'
}

/// Whitespace outside quoted strings of an attribute list.
fn unquoted_whitespace(value: &str) -> bool {
    let mut quoted = false;
    value.chars().any(|c| {
        if c == '"' {
            quoted = !quoted;
        }
        !quoted && (c == ' ' || c == '\t')
    })
}

/// Check every line of `text`. Problems carry the line number.
pub(super) fn check_lines(text: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut seen_once: Vec<&str> = Vec::new();
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => {
            out.push(
                Problem::error(
                    "bom",
                    "a playlist must not start with a byte order mark (RFC 8216 4.1)",
                )
                .at(Some(1)),
            );
            rest
        }
        None => text,
    };
    for (i, raw) in text.split('\n').enumerate() {
        let no = Some(i + 1);
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.contains('\r') {
            out.push(
                Problem::error(
                    "bad-line-ending",
                    "a carriage return not followed by a line feed: lines end with LF or CR LF (RFC 8216 4.1)",
                )
                .at(no),
            );
        }
        if let Some(c) = line.chars().find(|c| is_control(*c)) {
            out.push(
                Problem::error(
                    "control-character",
                    format!(
                        "control character U+{:04X}: only CR and LF are allowed (RFC 8216 4.1)",
                        c as u32
                    ),
                )
                .at(no),
            );
        }
        let is_tag = line.trim_start().starts_with("#EXT");
        let is_comment = line.trim_start().starts_with('#') && !is_tag;
        if line.is_empty() || is_comment {
            continue;
        }
        let name_value = line
            .trim()
            .strip_prefix('#')
            .map(|t| match t.split_once(':') {
                Some((n, v)) => (n, Some(v)),
                None => (t, None),
            });
        whitespace_rule(line, name_value, no, &mut out);
        let Some((name, value)) = name_value else {
            continue;
        };
        if name == "EXTINF" && value.is_some_and(|v| !v.contains(',')) {
            out.push(
                Problem::error(
                    "extinf-missing-comma",
                    "#EXTINF is <duration>,[<title>]: the comma is required (RFC 8216 4.3.2.1)",
                )
                .at(no),
            );
        }
        if ONCE.contains(&name) {
            if seen_once.contains(&name) {
                out.push(
                    Problem::error(
                        "duplicate-tag",
                        format!("#{name} appears more than once (RFC 8216 4.3.3, 4.3.5)"),
                    )
                    .at(no),
                );
            } else {
                seen_once.push(name);
            }
        }
        attribute_rules(name, value, no, &mut out);
    }
    out
}

/// RFC 8216 4.1: no whitespace around a line, in a tag value or between attributes.
fn whitespace_rule(
    line: &str,
    name_value: Option<(&str, Option<&str>)>,
    no: Option<usize>,
    out: &mut Vec<Problem>,
) {
    let titled_extinf = matches!(name_value, Some(("EXTINF", Some(v))) if v.split_once(',').is_some_and(|(_, t)| !t.trim().is_empty()));
    let ws = |c: char| c == ' ' || c == '\t';
    let bad_edges = line.starts_with(ws) || (line.ends_with(ws) && !titled_extinf);
    let bad_inside = match name_value {
        Some((name, _)) if name.contains(ws) => true,
        Some(("EXTINF", Some(v))) => v.split(',').next().unwrap_or("").contains(ws),
        Some((name, Some(v))) if SIMPLE.contains(&name) => v.contains(ws),
        Some((name, Some(v))) if attrs::kinds(name).is_some() => unquoted_whitespace(v),
        _ => false,
    };
    if bad_edges || bad_inside {
        out.push(
            Problem::error(
                "whitespace",
                "whitespace where RFC 8216 4.1 allows none (around a line, in a tag value or between attributes)",
            )
            .at(no),
        );
    }
}

/// RFC 8216 4.2: attribute names, duplicates and values of a tag with an attribute list.
fn attribute_rules(name: &str, value: Option<&str>, no: Option<usize>, out: &mut Vec<Problem>) {
    if attrs::kinds(name).is_none() {
        return;
    }
    // Syntax errors are the parser's (bad-attribute-syntax).
    let Some(list) = value.and_then(|v| AttributeList::parse(v).ok()) else {
        return;
    };
    if let Some(bad) = list.0.iter().find(|(n, _)| !attrs::name_ok(n)) {
        out.push(
            Problem::error(
                "attribute-name-invalid",
                format!(
                    "#{name}: attribute name '{}' may hold only A-Z, 0-9 and '-' (RFC 8216 4.2)",
                    bad.0
                ),
            )
            .at(no),
        );
    }
    if let Some(dup) = attrs::duplicate(&list) {
        out.push(
            Problem::error(
                "duplicate-attribute",
                format!("#{name}: attribute {dup} appears twice (RFC 8216 4.2)"),
            )
            .at(no),
        );
    }
    for (n, v) in &list.0 {
        if let Some(msg) = attrs::check_value(name, n, v) {
            out.push(Problem::error("attribute-bad-value", msg).at(no));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<&'static str> {
        check_lines(text).iter().map(|p| p.rule).collect()
    }

    #[test]
    fn line_rules() {
        assert_eq!(
            rules("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,a title \na.ts\n"),
            Vec::<&str>::new()
        );
        assert_eq!(rules("\u{feff}#EXTM3U\n"), ["bom"]);
        assert_eq!(
            rules("#EXTM3U\n#EXTINF:2,\ta\x01\na.ts\n"),
            ["control-character"]
        );
        assert_eq!(
            rules("#EXTM3U\r\n#EXT-X-ENDLIST\ra\r\n"),
            ["bad-line-ending"]
        );
        assert_eq!(rules("#EXTM3U\n#EXT-X-TARGETDURATION: 2\n"), ["whitespace"]);
        assert_eq!(rules("#EXTM3U\n #EXT-X-ENDLIST\n"), ["whitespace"]);
        assert_eq!(
            rules("#EXTM3U\n#EXT-X-KEY:METHOD=NONE, URI=\"a b\"\n"),
            ["whitespace"]
        );
        assert_eq!(
            rules("#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"a b\"\n# a comment  \n"),
            Vec::<&str>::new()
        );
        assert_eq!(
            rules("#EXTM3U\n#EXTINF:2\na.ts\n"),
            ["extinf-missing-comma"]
        );
        assert_eq!(
            rules("#EXTM3U\n#EXT-X-ENDLIST\n#EXT-X-ENDLIST\n"),
            ["duplicate-tag"]
        );
        assert_eq!(
            rules("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,bandwidth=2\na.m3u8\n"),
            ["attribute-name-invalid"]
        );
        assert_eq!(
            rules("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,BANDWIDTH=2\na.m3u8\n"),
            ["duplicate-attribute"]
        );
        assert_eq!(
            rules("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=\"1\"\na.m3u8\n"),
            ["attribute-bad-value"]
        );
    }
}
