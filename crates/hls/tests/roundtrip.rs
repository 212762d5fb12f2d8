//! Property tests: generated playlists survive write -> parse unchanged, and no input makes
//! the parser panic.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use hls::*;
use proptest::prelude::*;

fn cases() -> ProptestConfig {
    ProptestConfig {
        cases: 4000,
        ..ProptestConfig::default()
    }
}

fn uri() -> impl Strategy<Value = String> {
    "[a-z0-9_/.-]{0,20}[a-z0-9]\\.(ts|m4s|mp4|aac|vtt)(\\?t=[0-9]{1,4})?"
}

fn quoted_value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,=:/._-]{0,24}"
}

fn unquoted_value() -> impl Strategy<Value = String> {
    "[A-Z0-9x.-]{1,12}"
}

fn attr_name() -> impl Strategy<Value = String> {
    "X-[A-Z0-9-]{1,10}"
}

fn attrs() -> impl Strategy<Value = AttributeList> {
    prop::collection::vec(
        (
            attr_name(),
            prop_oneof![
                quoted_value().prop_map(AttrValue::Quoted),
                unquoted_value().prop_map(AttrValue::Unquoted),
            ],
        ),
        0..4,
    )
    .prop_map(|v| {
        // Names are unique in a list (RFC 8216 4.2); keep the first of each.
        let mut out = AttributeList::new();
        for (n, val) in v {
            if !out.contains(&n) {
                out.0.push((n, val));
            }
        }
        out
    })
}

fn duration() -> impl Strategy<Value = f64> {
    (0u32..20_000).prop_map(|ms| f64::from(ms) / 1000.0)
}

fn pdt() -> impl Strategy<Value = DateTime<FixedOffset>> {
    (1_500_000_000_000i64..2_000_000_000_000, -12i32..14).prop_map(|(ms, tz)| {
        Utc.timestamp_millis_opt(ms)
            .unwrap()
            .with_timezone(&FixedOffset::east_opt(tz * 3600).unwrap())
    })
}

fn unknown_tag() -> impl Strategy<Value = Tag> {
    (
        "EXT-X-MY-[A-Z]{1,8}",
        prop::option::of("[a-zA-Z0-9=,\":. -]{0,20}[a-zA-Z0-9]"),
    )
        .prop_map(|(n, v)| Tag::new(n, v))
}

fn marker() -> impl Strategy<Value = Marker> {
    prop_oneof![
        prop::option::of(duration().prop_map(|d| format!("DURATION={d}")))
            .prop_map(|raw| Marker::CueOut { raw }),
        (duration(), duration()).prop_map(|(e, d)| Marker::cue_out_cont(e, d)),
        Just(Marker::CueIn),
        "[A-Za-z0-9+/]{4,40}={0,2}".prop_map(Marker::OatclsScte35),
        "CAID=0x[0-9A-F]{4,16}".prop_map(Marker::Asset),
        "CUE=\"[A-Za-z0-9+/]{4,20}\"".prop_map(Marker::Scte35),
    ]
}

fn segment() -> impl Strategy<Value = Segment> {
    (
        (
            uri(),
            duration(),
            prop::option::of("[a-zA-Z0-9 ]{0,10}[a-z]"),
        ),
        (
            prop::option::of((1u64..1_000_000, prop::option::of(0u64..1_000_000))),
            any::<bool>(),
            prop::option::of(pdt()),
            prop::collection::vec(
                (uri(), prop::option::of(any::<[u8; 16]>())).prop_map(|(u, iv)| Key::aes128(u, iv)),
                0..2,
            ),
        ),
        (
            prop::option::of(uri().prop_map(|u| Map::new(u, None))),
            any::<bool>(),
            prop::option::of(1u64..100_000),
            prop::collection::vec(
                (attrs(), "[a-z0-9]{1,8}").prop_map(|(a, id)| DateRange {
                    attrs: AttributeList::new()
                        .quoted("ID", id)
                        .quoted("START-DATE", "2026-01-01T00:00:00.000Z")
                        .unquoted("SCTE35-OUT", "0xFC302000")
                        .tap_extend(a),
                }),
                0..2,
            ),
            prop::collection::vec(marker(), 0..3),
            prop::collection::vec(unknown_tag(), 0..2),
        ),
    )
        .prop_map(
            |(
                (uri, duration, title),
                (br, disc, pdt, keys),
                (map, gap, bitrate, dr, markers, unknown),
            )| Segment {
                uri,
                duration,
                title,
                byte_range: br.map(|(length, offset)| ByteRange { length, offset }),
                discontinuity: disc,
                program_date_time: pdt,
                keys,
                map,
                gap,
                bitrate,
                dateranges: dr,
                markers,
                unknown,
            },
        )
}

trait TapExtend {
    fn tap_extend(self, other: AttributeList) -> Self;
}
impl TapExtend for AttributeList {
    fn tap_extend(mut self, other: AttributeList) -> Self {
        for (n, v) in other.0 {
            if !self.contains(&n) {
                self.0.push((n, v));
            }
        }
        self
    }
}

fn media_playlist() -> impl Strategy<Value = MediaPlaylist> {
    (
        (
            prop::option::of(1u64..11),
            prop::option::of(1u64..30),
            0u64..u64::from(u32::MAX),
            0u64..10_000,
            prop::option::of(prop_oneof![
                Just(PlaylistType::Vod),
                Just(PlaylistType::Event)
            ]),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            prop::option::of((-60i32..60, any::<bool>()).prop_map(|(t, precise)| Start {
                time_offset: f64::from(t) / 2.0,
                precise,
            })),
            prop::collection::vec(unknown_tag(), 0..2),
            prop::collection::vec(segment(), 0..12),
            prop::option::of(prop::collection::vec(marker(), 1..3)),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((version, td, ms, ds, pt, ifo, indep), (start, unknown, segments, trailing, end))| {
                MediaPlaylist {
                    version,
                    target_duration: td,
                    media_sequence: ms,
                    discontinuity_sequence: ds,
                    playlist_type: pt,
                    i_frames_only: ifo,
                    independent_segments: indep,
                    start,
                    // Header unknown tags are only distinguishable when something else
                    // precedes the first segment-level tag; always true here.
                    unknown,
                    segments,
                    trailing: trailing.map(|markers| {
                        Box::new(Segment {
                            markers,
                            ..Default::default()
                        })
                    }),
                    end_list: end,
                }
            },
        )
}

fn master_playlist() -> impl Strategy<Value = MasterPlaylist> {
    (
        prop::option::of(1u64..11),
        any::<bool>(),
        prop::collection::vec(
            (attrs(), "[a-z]{1,6}", "[A-Za-z ]{1,10}[a-z]").prop_map(|(a, g, n)| Rendition {
                attrs: AttributeList::new()
                    .unquoted("TYPE", "AUDIO")
                    .quoted("GROUP-ID", g)
                    .quoted("NAME", n)
                    .tap_extend(a),
            }),
            0..4,
        ),
        prop::collection::vec(
            (uri(), 1u64..10_000_000, attrs()).prop_map(|(u, bw, a)| VariantStream {
                uri: u,
                attrs: AttributeList::new()
                    .unquoted("BANDWIDTH", bw)
                    .quoted("CODECS", "avc1.4d401f,mp4a.40.2")
                    .unquoted("RESOLUTION", "640x360")
                    .tap_extend(a),
            }),
            0..5,
        ),
        prop::collection::vec(
            (uri(), 1u64..1_000_000).prop_map(|(u, bw)| IFrameStream {
                attrs: AttributeList::new()
                    .unquoted("BANDWIDTH", bw)
                    .quoted("URI", u),
            }),
            0..3,
        ),
        prop::collection::vec(
            attrs().prop_map(|a| {
                AttributeList::new()
                    .quoted("DATA-ID", "com.example.x")
                    .tap_extend(a)
            }),
            0..2,
        ),
        prop::collection::vec(unknown_tag(), 0..2),
    )
        .prop_filter(
            "a master needs at least one master tag",
            |(_, _, m, v, i, s, _)| !(m.is_empty() && v.is_empty() && i.is_empty() && s.is_empty()),
        )
        .prop_map(
            |(version, indep, media, variants, iframes, session_data, unknown)| MasterPlaylist {
                version,
                independent_segments: indep,
                start: None,
                media,
                variants,
                i_frame_streams: iframes,
                session_data,
                session_keys: vec![],
                unknown,
            },
        )
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn media_round_trip(p in media_playlist()) {
        let text = p.to_string();
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(Playlist::Media(p), back, "text:\n{}", text);
    }

    #[test]
    fn master_round_trip(p in master_playlist()) {
        let text = p.to_string();
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(Playlist::Master(p), back, "text:\n{}", text);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_bytes(&bytes);
        let mut with_header = b"#EXTM3U\n".to_vec();
        with_header.extend_from_slice(&bytes);
        let _ = parse_bytes(&with_header);
    }

    #[test]
    fn mutated_playlists_never_panic(p in media_playlist(), cut in any::<prop::sample::Index>(),
                                     insert in "[#:,=\"@\n xA-Z0-9.-]{0,8}") {
        let text = p.to_string();
        let mut at = cut.index(text.len() + 1);
        while !text.is_char_boundary(at) { at -= 1; }
        let mutated = format!("{}{}{}", &text[..at], insert, &text[at..]);
        if let Err(e) = parse(&mutated) {
            // Every error names a line inside the input.
            prop_assert!(e.line >= 1 && e.line <= mutated.split('\n').count().max(1));
        }
        let truncated = &text[..at];
        let _ = parse(truncated);
    }
}
