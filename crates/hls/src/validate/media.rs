//! Static rules of one media playlist (RFC 8216 4.3.2, 4.3.3, 6.2.3).

use std::collections::HashSet;

use super::{LineIndex, Problem, required_version};
use crate::model::*;

/// Static rules of a media playlist.
pub fn check_media(p: &MediaPlaylist, idx: &LineIndex) -> Vec<Problem> {
    let mut out = Vec::new();
    target_rules(p, idx, &mut out);
    header_rules(p, idx, &mut out);
    key_methods(p, idx, &mut out);
    super::tags::check_keys(p, idx, &mut out);
    super::tags::check_maps(p, idx, &mut out);
    super::tags::check_dateranges(p, idx, &mut out);

    sequence_rules(p, idx, &mut out);
    daterange_rules(p, idx, &mut out);

    // Live playlists should hold three target durations (RFC 8216 6.2.2). Statically it is
    // a warning (a stream that just started is shorter, as in the RFC's own example 8.2);
    // the live tracker makes it an error when the server removed segments to get there.
    if let Some(short) = short_window(p) {
        out.push(Problem::warning("window-too-short", short));
    }
    out
}

/// EXT-X-TARGETDURATION: present, and no segment over it.
fn target_rules(p: &MediaPlaylist, idx: &LineIndex, out: &mut Vec<Problem>) {
    let line_of = |i: usize| idx.extinf.get(i).copied();
    match p.target_duration {
        None => out.push(Problem::error(
            "missing-targetduration",
            "a media playlist must have #EXT-X-TARGETDURATION",
        )),
        Some(target) => {
            for (i, s) in p.segments.iter().enumerate() {
                let rounded = s.duration.round() as u64;
                if rounded > target {
                    out.push(
                        Problem::error(
                            "extinf-over-target",
                            format!(
                                "EXTINF {} rounds to {rounded}, over EXT-X-TARGETDURATION {target}",
                                s.duration
                            ),
                        )
                        .at(line_of(i))
                        .seq(p.sequence_of(i)),
                    );
                }
            }
        }
    }
}

/// The version the features need, VOD with ENDLIST, the first segment's MAP.
fn header_rules(p: &MediaPlaylist, idx: &LineIndex, out: &mut Vec<Problem>) {
    let (need, why) = required_version(p);
    let have = p.version.unwrap_or(1);
    if have < need {
        out.push(
            Problem::error(
                "version-too-low",
                format!("EXT-X-VERSION is {have} but {why} needs version {need}"),
            )
            .at(idx.tag("EXT-X-VERSION")),
        );
    }

    if p.playlist_type == Some(PlaylistType::Vod) && !p.end_list {
        out.push(
            Problem::error(
                "vod-missing-endlist",
                "EXT-X-PLAYLIST-TYPE:VOD needs #EXT-X-ENDLIST",
            )
            .at(idx.tag("EXT-X-PLAYLIST-TYPE")),
        );
    }

    // MAP: if any segment has one, the first must (else it has no initialization section).
    if let Some(first_map) = p.segments.iter().position(|s| s.map.is_some())
        && first_map > 0
    {
        out.push(
            Problem::error(
                "map-after-segment",
                "the first #EXT-X-MAP comes after a segment, which then has no media initialization section",
            )
            .at(idx.maps.first().copied())
            .seq(p.sequence_of(first_map)),
        );
    }
}

/// EXT-X-KEY methods and their URI and IV.
fn key_methods(p: &MediaPlaylist, idx: &LineIndex, out: &mut Vec<Problem>) {
    // KEY
    let mut key_no = 0;
    for (i, s) in p.segments.iter().enumerate() {
        for k in &s.keys {
            let line = idx.keys.get(key_no).copied();
            key_no += 1;
            match k.method() {
                Some("NONE") => {
                    if k.uri().is_some() {
                        out.push(
                            Problem::error("key-none-with-uri", "METHOD=NONE must not have a URI")
                                .at(line),
                        );
                    }
                }
                Some("AES-128") | Some("SAMPLE-AES") | Some("SAMPLE-AES-CTR") => {
                    if k.uri().is_none() {
                        out.push(
                            Problem::error(
                                "key-missing-uri",
                                format!(
                                    "#EXT-X-KEY METHOD={} needs a URI",
                                    k.method().unwrap_or("")
                                ),
                            )
                            .at(line)
                            .seq(p.sequence_of(i)),
                        );
                    }
                    if k.attrs.contains("IV") && k.iv().is_none() {
                        out.push(
                            Problem::error("key-bad-iv", "IV must be a 128-bit 0x-hexadecimal")
                                .at(line),
                        );
                    }
                }
                Some(other) => out.push(
                    Problem::error(
                        "key-bad-method",
                        format!("METHOD={other} is not NONE, AES-128 or SAMPLE-AES"),
                    )
                    .at(line),
                ),
                None => {
                    out.push(Problem::error("key-bad-method", "#EXT-X-KEY without METHOD").at(line))
                }
            }
        }
    }
}

/// DISCONTINUITY-SEQUENCE in a live playlist that removes segments; BYTERANGE offsets; I-frames.
fn sequence_rules(p: &MediaPlaylist, idx: &LineIndex, out: &mut Vec<Problem>) {
    let line_of = |i: usize| idx.extinf.get(i).copied();
    // 6.2.2: a playlist that removes segments and has discontinuities must say its
    // discontinuity sequence. A live playlist past MEDIA-SEQUENCE 0 has removed segments.
    let live = !p.end_list && p.playlist_type.is_none();
    if live
        && p.media_sequence > 0
        && p.segments.iter().any(|s| s.discontinuity)
        && idx.tag("EXT-X-DISCONTINUITY-SEQUENCE").is_none()
    {
        out.push(
            Problem::error(
                "discontinuity-sequence-missing",
                "a live playlist that removes segments (MEDIA-SEQUENCE > 0) and has EXT-X-DISCONTINUITY needs EXT-X-DISCONTINUITY-SEQUENCE",
            )
            .at(idx.tag("EXT-X-MEDIA-SEQUENCE")),
        );
    }

    // BYTERANGE without offset must follow a sub-range of the same resource.
    for (i, s) in p.segments.iter().enumerate() {
        if let Some(r) = s.byte_range
            && r.offset.is_none()
        {
            let prev_same =
                i > 0 && p.segments[i - 1].byte_range.is_some() && p.segments[i - 1].uri == s.uri;
            if !prev_same {
                out.push(
                    Problem::error(
                        "byterange-without-offset-first",
                        "EXT-X-BYTERANGE without an offset must follow a sub-range of the same URI",
                    )
                    .at(line_of(i))
                    .seq(p.sequence_of(i)),
                );
            }
        }
    }

    if p.i_frames_only && p.segments.iter().any(|s| s.byte_range.is_none()) {
        out.push(Problem::warning(
            "i-frames-only-without-byterange",
            "an I-frames-only playlist whose segments are whole resources: players expect EXT-X-BYTERANGE per I-frame",
        ).at(idx.tag("EXT-X-I-FRAMES-ONLY")));
    }
}

/// EXT-X-DATERANGE attributes, and a PROGRAM-DATE-TIME to anchor them.
fn daterange_rules(p: &MediaPlaylist, idx: &LineIndex, out: &mut Vec<Problem>) {
    let line_of = |i: usize| idx.extinf.get(i).copied();
    // DATERANGE
    let mut ids = HashSet::new();
    for (i, s) in p.segments.iter().enumerate() {
        for d in &s.dateranges {
            // A later tag with the ID of an earlier one may omit START-DATE: it updates that
            // range (the RFC's own example 8.10 does so for the SCTE35-IN).
            let continues_earlier = d.id().is_some_and(|id| ids.contains(id));
            if d.id().is_none() || (d.attrs.get("START-DATE").is_none() && !continues_earlier) {
                out.push(
                    Problem::error(
                        "daterange-missing-attribute",
                        "EXT-X-DATERANGE needs ID and START-DATE",
                    )
                    .at(line_of(i)),
                );
            } else if d.attrs.contains("START-DATE") && d.start_date().is_none() {
                out.push(
                    Problem::error(
                        "daterange-bad-date",
                        "EXT-X-DATERANGE START-DATE is not ISO 8601",
                    )
                    .at(line_of(i)),
                );
            }
            if d.attrs.get_bool("END-ON-NEXT") && d.class().is_none() {
                out.push(
                    Problem::error(
                        "daterange-end-on-next-without-class",
                        "END-ON-NEXT=YES needs CLASS",
                    )
                    .at(line_of(i)),
                );
            }
            if let Some(id) = d.id() {
                ids.insert(id.to_string());
            }
            for which in ["SCTE35-CMD", "SCTE35-OUT", "SCTE35-IN"] {
                if d.attrs.contains(which) && d.scte35(which).is_none() {
                    out.push(
                        Problem::error(
                            "daterange-bad-scte35",
                            format!("{which} must be 0x-hexadecimal"),
                        )
                        .at(line_of(i)),
                    );
                }
            }
        }
        if !s.dateranges.is_empty() && !p.segments.iter().any(|s| s.program_date_time.is_some()) {
            out.push(
                Problem::error(
                    "daterange-without-program-date-time",
                    "a playlist with EXT-X-DATERANGE needs at least one EXT-X-PROGRAM-DATE-TIME",
                )
                .at(line_of(i)),
            );
            break;
        }
    }
}

pub(super) fn short_window(p: &MediaPlaylist) -> Option<String> {
    if p.end_list || p.playlist_type.is_some() {
        return None;
    }
    let target = p.target_duration?;
    let total = p.duration();
    (total + 1e-6 < 3.0 * target as f64).then(|| {
        format!(
            "live playlist holds {total:.3} s, less than three target durations ({} s)",
            3 * target
        )
    })
}
