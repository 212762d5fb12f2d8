//! The value type of every attribute RFC 8216 defines (section 4.2 and each tag's
//! definition), and the check of one attribute list against it.

use crate::attr::{AttrValue, AttributeList};

/// How an attribute's value must be written.
#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Integer,
    Hex,
    Float,
    SignedFloat,
    Quoted,
    Resolution,
    /// An enumerated-string; `&[]` means any (the tag's own rule checks the value).
    Enum(&'static [&'static str]),
    /// `CLOSED-CAPTIONS`: a quoted-string or the enumerated-string `NONE`.
    QuotedOrNone,
    /// `X-` client attributes of EXT-X-DATERANGE: quoted-string, hexadecimal-sequence or
    /// decimal-floating-point.
    Client,
}

const YES_NO: &[&str] = &["YES", "NO"];

/// The attributes RFC 8216 defines for `tag`, with their kinds. `None` for a tag whose
/// value is not an attribute list (or is not RFC 8216's).
pub(super) fn kinds(tag: &str) -> Option<&'static [(&'static str, Kind)]> {
    use Kind::*;
    Some(match tag {
        "EXT-X-KEY" | "EXT-X-SESSION-KEY" => &[
            ("METHOD", Enum(&[])),
            ("URI", Quoted),
            ("IV", Hex),
            ("KEYFORMAT", Quoted),
            ("KEYFORMATVERSIONS", Quoted),
        ],
        "EXT-X-MAP" => &[("URI", Quoted), ("BYTERANGE", Quoted)],
        "EXT-X-DATERANGE" => &[
            ("ID", Quoted),
            ("CLASS", Quoted),
            ("START-DATE", Quoted),
            ("END-DATE", Quoted),
            ("DURATION", Float),
            ("PLANNED-DURATION", Float),
            ("SCTE35-CMD", Hex),
            ("SCTE35-OUT", Hex),
            ("SCTE35-IN", Hex),
            ("END-ON-NEXT", Enum(&["YES"])),
        ],
        "EXT-X-MEDIA" => &[
            ("TYPE", Enum(&[])),
            ("URI", Quoted),
            ("GROUP-ID", Quoted),
            ("LANGUAGE", Quoted),
            ("ASSOC-LANGUAGE", Quoted),
            ("NAME", Quoted),
            ("DEFAULT", Enum(YES_NO)),
            ("AUTOSELECT", Enum(YES_NO)),
            ("FORCED", Enum(YES_NO)),
            ("INSTREAM-ID", Quoted),
            ("CHARACTERISTICS", Quoted),
            ("CHANNELS", Quoted),
        ],
        "EXT-X-STREAM-INF" => &[
            ("BANDWIDTH", Integer),
            ("AVERAGE-BANDWIDTH", Integer),
            ("CODECS", Quoted),
            ("RESOLUTION", Resolution),
            ("FRAME-RATE", Float),
            // TYPE-1 is rfc8216bis; accepted so that newer playlists are not flagged.
            ("HDCP-LEVEL", Enum(&["TYPE-0", "TYPE-1", "NONE"])),
            ("AUDIO", Quoted),
            ("VIDEO", Quoted),
            ("SUBTITLES", Quoted),
            ("CLOSED-CAPTIONS", QuotedOrNone),
            ("PROGRAM-ID", Integer),
        ],
        "EXT-X-I-FRAME-STREAM-INF" => &[
            ("BANDWIDTH", Integer),
            ("AVERAGE-BANDWIDTH", Integer),
            ("CODECS", Quoted),
            ("RESOLUTION", Resolution),
            ("HDCP-LEVEL", Enum(&["TYPE-0", "TYPE-1", "NONE"])),
            ("VIDEO", Quoted),
            ("URI", Quoted),
            ("PROGRAM-ID", Integer),
        ],
        "EXT-X-SESSION-DATA" => &[
            ("DATA-ID", Quoted),
            ("VALUE", Quoted),
            ("URI", Quoted),
            ("LANGUAGE", Quoted),
        ],
        "EXT-X-START" => &[("TIME-OFFSET", SignedFloat), ("PRECISE", Enum(YES_NO))],
        _ => return None,
    })
}

fn is_integer(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && s.parse::<u64>().is_ok()
}

fn is_float(s: &str) -> bool {
    let mut parts = s.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn is_hex(s: &str) -> bool {
    s.strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_resolution(s: &str) -> bool {
    s.split_once('x')
        .is_some_and(|(w, h)| is_integer(w) && is_integer(h))
}

fn enum_ok(s: &str) -> bool {
    !s.is_empty() && !s.contains([',', '"', ' ', '\t'])
}

/// What is wrong with one attribute of `tag`, if anything.
pub(super) fn check_value(tag: &str, name: &str, value: &AttrValue) -> Option<String> {
    let kind = if tag == "EXT-X-DATERANGE" && name.starts_with("X-") {
        Kind::Client
    } else {
        kinds(tag)?.iter().find(|(n, _)| *n == name)?.1
    };
    let (quoted, s) = match value {
        AttrValue::Quoted(s) => (true, s.as_str()),
        AttrValue::Unquoted(s) => (false, s.as_str()),
    };
    let ok = match kind {
        Kind::Quoted => quoted,
        Kind::Integer => !quoted && is_integer(s),
        Kind::Hex => !quoted && is_hex(s),
        Kind::Float => !quoted && is_float(s),
        Kind::SignedFloat => !quoted && is_float(s.strip_prefix('-').unwrap_or(s)),
        Kind::Resolution => !quoted && is_resolution(s),
        Kind::Enum(values) => !quoted && enum_ok(s) && (values.is_empty() || values.contains(&s)),
        Kind::QuotedOrNone => quoted || s == "NONE",
        Kind::Client => quoted || is_hex(s) || is_float(s),
    };
    (!ok).then(|| {
        let want = match kind {
            Kind::Quoted => "a quoted-string".to_string(),
            Kind::Integer => "a decimal-integer".to_string(),
            Kind::Hex => "a hexadecimal-sequence (0x...)".to_string(),
            Kind::Float => "a decimal-floating-point".to_string(),
            Kind::SignedFloat => "a signed-decimal-floating-point".to_string(),
            Kind::Resolution => "a decimal-resolution (<width>x<height>)".to_string(),
            Kind::Enum([]) => "an enumerated-string (unquoted)".to_string(),
            Kind::Enum(v) => format!("one of {} (unquoted)", v.join(", ")),
            Kind::QuotedOrNone => "a quoted-string or NONE".to_string(),
            Kind::Client => {
                "a quoted-string, hexadecimal-sequence or decimal-floating-point".to_string()
            }
        };
        let shown = if quoted {
            format!("\"{s}\"")
        } else {
            s.to_string()
        };
        format!("#{tag} {name}={shown}: must be {want}")
    })
}

/// Attribute names: `[A-Z0-9-]` only (RFC 8216 4.2).
pub(super) fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// The first attribute name that appears twice, if any.
pub(super) fn duplicate(list: &AttributeList) -> Option<&str> {
    list.0
        .iter()
        .enumerate()
        .find(|(i, (n, _))| list.0[..*i].iter().any(|(m, _)| m == n))
        .map(|(_, (n, _))| n.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_kinds() {
        let q = |s: &str| AttrValue::Quoted(s.into());
        let u = |s: &str| AttrValue::Unquoted(s.into());
        assert!(check_value("EXT-X-STREAM-INF", "BANDWIDTH", &u("1280000")).is_none());
        assert!(check_value("EXT-X-STREAM-INF", "BANDWIDTH", &q("1280000")).is_some());
        assert!(check_value("EXT-X-STREAM-INF", "BANDWIDTH", &u("1.5")).is_some());
        assert!(check_value("EXT-X-STREAM-INF", "CODECS", &u("avc1")).is_some());
        assert!(check_value("EXT-X-STREAM-INF", "FRAME-RATE", &u("29.970")).is_none());
        assert!(check_value("EXT-X-STREAM-INF", "FRAME-RATE", &u("-1")).is_some());
        assert!(check_value("EXT-X-STREAM-INF", "CLOSED-CAPTIONS", &u("NONE")).is_none());
        assert!(check_value("EXT-X-STREAM-INF", "CLOSED-CAPTIONS", &u("cc")).is_some());
        assert!(check_value("EXT-X-START", "TIME-OFFSET", &u("-12.5")).is_none());
        assert!(check_value("EXT-X-KEY", "IV", &u("0x0F")).is_none());
        assert!(check_value("EXT-X-KEY", "IV", &q("0x0F")).is_some());
        assert!(check_value("EXT-X-MEDIA", "DEFAULT", &u("yes")).is_some());
        assert!(check_value("EXT-X-DATERANGE", "X-COM-FOO", &u("bar")).is_some());
        assert!(check_value("EXT-X-DATERANGE", "X-COM-FOO", &u("12.5")).is_none());
        assert!(check_value("EXT-X-MY-TAG", "X", &u("anything")).is_none());
        assert!(!name_ok("bandwidth"));
        assert!(name_ok("X-COM-EXAMPLE-2"));
    }
}
