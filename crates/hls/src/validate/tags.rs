//! Static rules on the segment tags of one media playlist that need more than one tag at a
//! time: KEY groups and their attributes (RFC 8216 4.3.2.4, 6.2.3), MAP (4.3.2.5) and the
//! semantics of DATERANGE (4.3.2.7).

use std::collections::BTreeMap;

use super::{LineIndex, Problem};
use crate::model::*;

pub(super) fn check_keys(p: &MediaPlaylist, idx: &LineIndex, out: &mut Vec<Problem>) {
    let mut key_no = 0;
    for (i, s) in p.segments.iter().enumerate() {
        let first_line = idx.keys.get(key_no).copied();
        for k in &s.keys {
            let line = idx.keys.get(key_no).copied();
            key_no += 1;
            if k.method() == Some("NONE") {
                let extra: Vec<&str> = ["IV", "KEYFORMAT", "KEYFORMATVERSIONS"]
                    .into_iter()
                    .filter(|a| k.attrs.contains(a))
                    .collect();
                if !extra.is_empty() {
                    out.push(
                        Problem::error(
                            "key-none-with-attributes",
                            format!(
                                "METHOD=NONE must have no other attributes, found {}",
                                extra.join(", ")
                            ),
                        )
                        .at(line),
                    );
                }
            }
            if let Some(v) = k.attrs.get("KEYFORMATVERSIONS")
                && !v.split('/').all(|n| n.parse::<u64>().is_ok_and(|n| n > 0))
            {
                out.push(
                    Problem::error(
                        "key-bad-keyformatversions",
                        format!(
                            "KEYFORMATVERSIONS=\"{v}\" must be positive integers separated by '/'"
                        ),
                    )
                    .at(line),
                );
            }
        }
        // SAMPLE-AES-CTR is the `cenc` scheme of Common Encryption, defined for fMP4 only
        // (rfc8216bis 4.4.4.4): a segment it applies to has a Media Initialization Section.
        if s.keys.iter().any(|k| k.method() == Some("SAMPLE-AES-CTR"))
            && !p.segments[..=i].iter().any(|s| s.map.is_some())
        {
            out.push(
                Problem::error(
                    "key-ctr-without-map",
                    "METHOD=SAMPLE-AES-CTR (Common Encryption 'cenc') is for fMP4 segments, which need EXT-X-MAP",
                )
                .at(first_line)
                .seq(p.sequence_of(i)),
            );
        }
        // Several KEY tags before one segment: one per KEYFORMAT, one METHOD (6.2.3: a
        // segment is encrypted with one METHOD, one key; several tags are several ways to
        // get that key).
        if s.keys.len() > 1 {
            let formats: Vec<&str> = s
                .keys
                .iter()
                .map(|k| k.keyformat().unwrap_or("identity"))
                .collect();
            let repeated = formats
                .iter()
                .enumerate()
                .any(|(j, f)| formats[..j].contains(f));
            let methods: Vec<&str> = s.keys.iter().filter_map(|k| k.method()).collect();
            let mixed = methods.windows(2).any(|w| w[0] != w[1]);
            if repeated || mixed {
                out.push(
                    Problem::error(
                        "key-conflict",
                        if mixed {
                            "EXT-X-KEY tags applying to one segment name different METHODs"
                        } else {
                            "two EXT-X-KEY tags with the same KEYFORMAT apply to one segment"
                        },
                    )
                    .at(first_line)
                    .seq(p.sequence_of(i)),
                );
            }
        }
    }
}

pub(super) fn check_maps(p: &MediaPlaylist, idx: &LineIndex, out: &mut Vec<Problem>) {
    let mut map_no = 0;
    for (i, s) in p.segments.iter().enumerate() {
        let Some(map) = &s.map else { continue };
        let line = idx.maps.get(map_no).copied();
        map_no += 1;
        if map.uri().is_none() {
            out.push(
                Problem::error("map-missing-uri", "#EXT-X-MAP needs a URI")
                    .at(line)
                    .seq(p.sequence_of(i)),
            );
        }
        // The KEY tags in effect (those before this segment's tags are written first).
        let encrypted_without_iv = p
            .effective_keys(i)
            .iter()
            .any(|k| k.method() == Some("AES-128") && !k.attrs.contains("IV"));
        if encrypted_without_iv {
            out.push(
                Problem::error(
                    "map-encrypted-without-iv",
                    "an EXT-X-MAP encrypted with AES-128 needs the IV attribute on its EXT-X-KEY",
                )
                .at(line)
                .seq(p.sequence_of(i)),
            );
        }
    }
}

pub(super) fn check_dateranges(p: &MediaPlaylist, idx: &LineIndex, out: &mut Vec<Problem>) {
    let mut by_id: BTreeMap<&str, Vec<&DateRange>> = BTreeMap::new();
    let line_of = |i: usize| idx.extinf.get(i).copied();
    let all = p
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| (Some(i), s))
        .chain(p.trailing.iter().map(|t| (None, &**t)));
    for (i, s) in all {
        let line = i.and_then(line_of);
        for d in &s.dateranges {
            let mut err = |rule: &'static str, msg: String| {
                out.push(Problem::error(rule, msg).at(line));
            };
            let id = d.id().unwrap_or("");
            for attr in ["DURATION", "PLANNED-DURATION"] {
                if let Some(v) = d.attrs.get(attr)
                    && v.starts_with('-')
                {
                    err(
                        "daterange-negative-duration",
                        format!("DATERANGE '{id}': {attr} must not be negative"),
                    );
                }
            }
            if let (Some(start), Some(end)) = (d.start_date(), d.end_date()) {
                if end < start {
                    err(
                        "daterange-end-before-start",
                        format!("DATERANGE '{id}': END-DATE is before START-DATE"),
                    );
                } else if let Some(dur) = d.duration() {
                    let span = (end - start).num_milliseconds() as f64 / 1000.0;
                    if (span - dur).abs() > 0.0015 {
                        err(
                            "daterange-end-mismatch",
                            format!(
                                "DATERANGE '{id}': END-DATE is {span:.3} s after START-DATE but DURATION is {dur}"
                            ),
                        );
                    }
                }
            }
            if d.attrs.get("END-ON-NEXT").is_some()
                && (d.class().is_none()
                    || d.attrs.contains("DURATION")
                    || d.attrs.contains("END-DATE"))
            {
                err(
                    "daterange-end-on-next",
                    format!(
                        "DATERANGE '{id}': END-ON-NEXT=YES needs CLASS and allows neither DURATION nor END-DATE"
                    ),
                );
            }
            if let Some(id) = d.id() {
                let earlier = by_id.entry(id).or_default();
                for e in earlier.iter() {
                    if let Some((name, _)) = d
                        .attrs
                        .0
                        .iter()
                        .find(|(n, v)| e.attrs.get_value(n).is_some_and(|ev| ev != v))
                    {
                        err(
                            "daterange-id-conflict",
                            format!(
                                "two DATERANGE tags with ID '{id}' give {name} different values"
                            ),
                        );
                        break;
                    }
                }
                earlier.push(d);
            }
        }
    }
}
