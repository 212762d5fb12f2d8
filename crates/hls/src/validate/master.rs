//! Static rules of one master playlist (RFC 8216 4.3.4).

use std::collections::BTreeMap;

use super::{LineIndex, Problem};
use crate::model::*;

/// Static rules of a master playlist.
pub fn check_master(p: &MasterPlaylist, idx: &LineIndex) -> Vec<Problem> {
    let mut out = Vec::new();
    let groups = media_rules(p, idx, &mut out);
    groups_rules(p, &groups, idx, &mut out);
    variant_rules(p, &groups, idx, &mut out);
    i_frame_rules(p, idx, &mut out);
    super::session::check_session_tags(p, idx, &mut out);
    whole_rules(p, idx, &mut out);
    out
}

/// The renditions, by group and type.
type Groups<'a> = BTreeMap<(&'a str, MediaType), Vec<&'a Rendition>>;

/// EXT-X-MEDIA: type, group, name, per-type attributes; the groups they form.
fn media_rules<'a>(p: &'a MasterPlaylist, idx: &LineIndex, out: &mut Vec<Problem>) -> Groups<'a> {
    let mut groups: Groups<'a> = BTreeMap::new();
    for (i, m) in p.media.iter().enumerate() {
        let line = idx.media.get(i).copied();
        let Some(kind) = m.media_type() else {
            out.push(
                Problem::error(
                    "media-bad-type",
                    "EXT-X-MEDIA TYPE must be AUDIO, VIDEO, SUBTITLES or CLOSED-CAPTIONS",
                )
                .at(line),
            );
            continue;
        };
        let Some(group) = m.group_id() else {
            out.push(
                Problem::error("media-missing-group-id", "EXT-X-MEDIA needs GROUP-ID").at(line),
            );
            continue;
        };
        if m.name().is_none() {
            out.push(Problem::error("media-missing-name", "EXT-X-MEDIA needs NAME").at(line));
        }
        match kind {
            MediaType::ClosedCaptions => {
                if m.uri().is_some() {
                    out.push(
                        Problem::error(
                            "media-closed-captions-uri",
                            "CLOSED-CAPTIONS must not have a URI",
                        )
                        .at(line),
                    );
                }
                if !m.attrs.contains("INSTREAM-ID") {
                    out.push(
                        Problem::error(
                            "media-missing-instream-id",
                            "CLOSED-CAPTIONS needs INSTREAM-ID",
                        )
                        .at(line),
                    );
                }
            }
            MediaType::Subtitles if m.uri().is_none() => {
                out.push(
                    Problem::error("media-subtitles-without-uri", "SUBTITLES needs a URI").at(line),
                );
            }
            _ => {}
        }
        let same = groups.entry((group, kind)).or_default();
        if let Some(name) = m.name()
            && same.iter().any(|o| o.name() == Some(name))
        {
            out.push(
                Problem::error(
                    "media-duplicate-name",
                    format!("two renditions named '{name}' in group '{group}'"),
                )
                .at(line),
            );
        }
        same.push(m);
        rendition_attributes(m, kind, line, out);
    }
    groups
}

/// EXT-X-STREAM-INF: BANDWIDTH, CODECS, RESOLUTION, and the groups it names.
fn variant_rules(p: &MasterPlaylist, groups: &Groups<'_>, idx: &LineIndex, out: &mut Vec<Problem>) {
    for (i, v) in p.variants.iter().enumerate() {
        let line = idx.stream_inf.get(i).copied();
        if v.bandwidth().is_none() {
            out.push(
                Problem::error(
                    "stream-inf-missing-bandwidth",
                    format!("EXT-X-STREAM-INF for '{}' needs a numeric BANDWIDTH", v.uri),
                )
                .at(line),
            );
        }
        if v.codecs().is_none() {
            out.push(Problem::warning("codecs-missing", format!("EXT-X-STREAM-INF for '{}' should have CODECS (RFC 8216 4.3.4.2 SHOULD; players pick variants by it)", v.uri)).at(line));
        }
        if v.attrs.contains("RESOLUTION") && v.resolution().is_none() {
            out.push(
                Problem::error("resolution-bad", "RESOLUTION must be <width>x<height>").at(line),
            );
        }
        for (attr, kind) in [
            ("AUDIO", MediaType::Audio),
            ("VIDEO", MediaType::Video),
            ("SUBTITLES", MediaType::Subtitles),
            ("CLOSED-CAPTIONS", MediaType::ClosedCaptions),
        ] {
            if let Some(group) = v.attrs.get(attr) {
                if attr == "CLOSED-CAPTIONS"
                    && matches!(v.attrs.get_value(attr), Some(crate::AttrValue::Unquoted(s)) if s == "NONE")
                {
                    continue;
                }
                if !groups.contains_key(&(group, kind)) {
                    out.push(
                        Problem::error(
                            "media-group-undefined",
                            format!(
                                "{attr}=\"{group}\" names a group no EXT-X-MEDIA TYPE={} defines",
                                kind.as_str()
                            ),
                        )
                        .at(line),
                    );
                }
            }
        }
    }
}

/// EXT-X-I-FRAME-STREAM-INF: URI and BANDWIDTH.
fn i_frame_rules(p: &MasterPlaylist, idx: &LineIndex, out: &mut Vec<Problem>) {
    for (i, f) in p.i_frame_streams.iter().enumerate() {
        let line = idx.i_frame_stream_inf.get(i).copied();
        if f.uri().is_none() {
            out.push(
                Problem::error("iframe-missing-uri", "EXT-X-I-FRAME-STREAM-INF needs URI").at(line),
            );
        }
        if f.bandwidth().is_none() {
            out.push(
                Problem::error(
                    "iframe-missing-bandwidth",
                    "EXT-X-I-FRAME-STREAM-INF needs BANDWIDTH",
                )
                .at(line),
            );
        }
    }
}

/// CLOSED-CAPTIONS=NONE on all or none, the version SERVICE captions need, a variant at all.
fn whole_rules(p: &MasterPlaylist, idx: &LineIndex, out: &mut Vec<Problem>) {
    let cc: Vec<bool> = p
        .variants
        .iter()
        .filter_map(|v| v.attrs.get_value("CLOSED-CAPTIONS"))
        .map(|v| matches!(v, crate::AttrValue::Unquoted(s) if s == "NONE"))
        .collect();
    if cc.contains(&true) && (cc.contains(&false) || cc.len() < p.variants.len()) {
        out.push(
            Problem::error(
                "closed-captions-none-inconsistent",
                "CLOSED-CAPTIONS=NONE on one EXT-X-STREAM-INF requires it on every EXT-X-STREAM-INF",
            )
            .at(idx.stream_inf.first().copied()),
        );
    }
    let service = p.media.iter().any(|m| {
        m.attrs
            .get("INSTREAM-ID")
            .is_some_and(|v| v.starts_with("SERVICE"))
    });
    if service && p.version.unwrap_or(1) < 7 {
        out.push(
            Problem::error(
                "version-too-low",
                format!(
                    "EXT-X-VERSION is {} but INSTREAM-ID=\"SERVICEn\" needs version 7",
                    p.version.unwrap_or(1)
                ),
            )
            .at(idx.tag("EXT-X-VERSION")),
        );
    }
    if p.variants.is_empty() && p.i_frame_streams.is_empty() {
        out.push(Problem::error(
            "master-without-variants",
            "a master playlist needs at least one EXT-X-STREAM-INF",
        ));
    }
}

/// RFC 5646 language tag, syntactically: alphanumeric subtags of 1-8 characters separated
/// by '-', the first of letters.
fn language_ok(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or("");
    (1..=8).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The attribute rules of one EXT-X-MEDIA (RFC 8216 4.3.4.1).
fn rendition_attributes(
    m: &Rendition,
    kind: MediaType,
    line: Option<usize>,
    out: &mut Vec<Problem>,
) {
    let mut err = |rule: &'static str, msg: String| out.push(Problem::error(rule, msg).at(line));
    let name = m.name().unwrap_or("");
    if m.is_default() && m.attrs.contains("AUTOSELECT") && !m.autoselect() {
        err(
            "media-default-not-autoselect",
            format!(
                "rendition '{name}': DEFAULT=YES requires AUTOSELECT=YES when AUTOSELECT is present"
            ),
        );
    }
    if m.attrs.contains("FORCED") && kind != MediaType::Subtitles {
        err(
            "media-forced-not-subtitles",
            format!("rendition '{name}': FORCED is only for TYPE=SUBTITLES"),
        );
    }
    match (kind, m.attrs.get("INSTREAM-ID")) {
        (MediaType::ClosedCaptions, Some(id)) => {
            let ok = match (id.strip_prefix("CC"), id.strip_prefix("SERVICE")) {
                (Some(n), _) => matches!(n, "1" | "2" | "3" | "4"),
                (_, Some(n)) => {
                    !n.starts_with('0') && n.parse::<u8>().is_ok_and(|n| (1..=63).contains(&n))
                }
                _ => false,
            };
            if !ok {
                err(
                    "media-bad-instream-id",
                    format!(
                        "rendition '{name}': INSTREAM-ID=\"{id}\" is not CC1-CC4 or SERVICE1-SERVICE63"
                    ),
                );
            }
        }
        (MediaType::ClosedCaptions, None) => {}
        (_, Some(_)) => err(
            "media-instream-id-not-cc",
            format!("rendition '{name}': INSTREAM-ID is only for TYPE=CLOSED-CAPTIONS"),
        ),
        (_, None) => {}
    }
    for attr in ["LANGUAGE", "ASSOC-LANGUAGE"] {
        if let Some(v) = m.attrs.get(attr)
            && !language_ok(v)
        {
            err(
                "media-bad-language",
                format!("rendition '{name}': {attr}=\"{v}\" is not an RFC 5646 language tag"),
            );
        }
    }
    if kind == MediaType::Audio
        && let Some(c) = m.attrs.get("CHANNELS")
        && c.split('/')
            .next()
            .is_none_or(|n| n.parse::<u64>().is_err())
    {
        err(
            "media-bad-channels",
            format!("rendition '{name}': CHANNELS=\"{c}\" must start with a decimal channel count"),
        );
    }
}

/// Rules on rendition groups (RFC 8216 4.3.4.1.1, 4.3.4.2.1).
fn groups_rules(
    p: &MasterPlaylist,
    groups: &BTreeMap<(&str, MediaType), Vec<&Rendition>>,
    idx: &LineIndex,
    out: &mut Vec<Problem>,
) {
    let line_of = |r: &Rendition| {
        p.media
            .iter()
            .position(|m| std::ptr::eq(m, r))
            .and_then(|i| idx.media.get(i).copied())
    };
    for ((group, kind), members) in groups {
        let defaults: Vec<_> = members.iter().filter(|m| m.is_default()).collect();
        if defaults.len() > 1 {
            out.push(
                Problem::error(
                    "media-multiple-defaults",
                    format!(
                        "group '{group}' ({}) has {} members with DEFAULT=YES",
                        kind.as_str(),
                        defaults.len()
                    ),
                )
                .at(line_of(defaults[1])),
            );
        }
    }
    // Several groups of one TYPE: the same members (by NAME), with identical attributes
    // except URI and CHANNELS (and GROUP-ID, which names the group).
    let key = |m: &Rendition| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = m
            .attrs
            .0
            .iter()
            .filter(|(n, _)| !matches!(n.as_str(), "URI" | "CHANNELS" | "GROUP-ID"))
            .map(|(n, v)| (n.clone(), v.as_str().to_string()))
            .collect();
        v.sort();
        v
    };
    for kind in [
        MediaType::Audio,
        MediaType::Video,
        MediaType::Subtitles,
        MediaType::ClosedCaptions,
    ] {
        let of_kind: Vec<_> = groups.iter().filter(|((_, k), _)| *k == kind).collect();
        let Some(&(&(first_group, _), first)) = of_kind.first() else {
            continue;
        };
        let mut want: Vec<_> = first.iter().map(|m| key(m)).collect();
        want.sort();
        for ((group, _), members) in &of_kind[1..] {
            let mut have: Vec<_> = members.iter().map(|m| key(m)).collect();
            have.sort();
            if have != want {
                out.push(
                    Problem::error(
                        "media-groups-mismatch",
                        format!(
                            "{} groups '{first_group}' and '{group}' must have the same members with the same attributes (except URI and CHANNELS)",
                            kind.as_str()
                        ),
                    )
                    .at(members.first().and_then(|m| line_of(m))),
                );
            }
        }
    }
}
