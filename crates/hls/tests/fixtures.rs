//! Every committed fixture and corpus playlist parses, re-writes to an equivalent playlist,
//! and agrees with m3u8-rs (an independent parser) on what it contains.

use std::path::{Path, PathBuf};

use hls::{Playlist, parse};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn playlists(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "broken") {
                continue;
            }
            playlists(&p, out);
        } else if p.extension().is_some_and(|x| x == "m3u8") {
            out.push(p);
        }
    }
}

fn all_good_playlists() -> Vec<PathBuf> {
    let mut out = Vec::new();
    playlists(&fixtures_dir(), &mut out);
    out.sort();
    out
}

#[test]
fn fixtures_exist() {
    let all = all_good_playlists();
    assert!(
        all.len() >= 20,
        "expected the committed fixtures under tests/fixtures, found {}",
        all.len()
    );
}

#[test]
fn every_fixture_round_trips() {
    for path in all_good_playlists() {
        let text = std::fs::read_to_string(&path).unwrap();
        let parsed = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let written = parsed.to_string();
        let again = parse(&written).unwrap_or_else(|e| {
            panic!("{}: re-written text fails: {e}\n{written}", path.display())
        });
        assert_eq!(
            parsed,
            again,
            "{}: not stable across a rewrite",
            path.display()
        );
        // Writing is a fixed point after one normalisation.
        assert_eq!(written, again.to_string(), "{}", path.display());
    }
}

/// Fixtures where m3u8-rs 6 is wrong and we are right (each checked by its own test below).
const M3U8_RS_WRONG: &[&str] = &[
    // m3u8-rs splits an EXTINF title at ", " and reads the rest as a segment URI.
    "corpus/tags-event.m3u8",
];

#[test]
fn extinf_title_with_comma() {
    let text = std::fs::read_to_string(fixtures_dir().join("corpus/tags-event.m3u8")).unwrap();
    let Playlist::Media(m) = parse(&text).unwrap() else {
        panic!("media expected")
    };
    assert_eq!(m.segments.len(), 4);
    assert_eq!(
        m.segments[0].title.as_deref(),
        Some("Title with spaces, and a comma")
    );
    assert_eq!(m.segments[0].uri, "e0.ts");
}

#[test]
fn agrees_with_m3u8_rs() {
    let mut compared = 0;
    for path in all_good_playlists() {
        if M3U8_RS_WRONG.iter().any(|w| path.ends_with(w)) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let ours = parse(std::str::from_utf8(&bytes).unwrap()).unwrap();
        let Ok(theirs) = m3u8_rs::parse_playlist_res(&bytes) else {
            // m3u8-rs rejects some valid corner cases; ours is checked by round trip above.
            continue;
        };
        compared += 1;
        match (ours, theirs) {
            (Playlist::Media(a), m3u8_rs::Playlist::MediaPlaylist(b)) => {
                assert_eq!(a.segments.len(), b.segments.len(), "{}", path.display());
                assert_eq!(a.media_sequence, b.media_sequence, "{}", path.display());
                assert_eq!(a.end_list, b.end_list, "{}", path.display());
                for (x, y) in a.segments.iter().zip(&b.segments) {
                    assert_eq!(x.uri, y.uri, "{}", path.display());
                    assert!(
                        (x.duration - f64::from(y.duration)).abs() < 1e-3,
                        "{}: {} vs {}",
                        path.display(),
                        x.duration,
                        y.duration
                    );
                    assert_eq!(x.discontinuity, y.discontinuity, "{}", path.display());
                }
            }
            (Playlist::Master(a), m3u8_rs::Playlist::MasterPlaylist(b)) => {
                let theirs_variants = b.variants.iter().filter(|v| !v.is_i_frame).count();
                let theirs_iframes = b.variants.iter().filter(|v| v.is_i_frame).count();
                assert_eq!(a.variants.len(), theirs_variants, "{}", path.display());
                assert_eq!(
                    a.i_frame_streams.len(),
                    theirs_iframes,
                    "{}",
                    path.display()
                );
                assert_eq!(a.media.len(), b.alternatives.len(), "{}", path.display());
                for (x, y) in a
                    .variants
                    .iter()
                    .zip(b.variants.iter().filter(|v| !v.is_i_frame))
                {
                    assert_eq!(x.uri, y.uri, "{}", path.display());
                    assert_eq!(x.bandwidth(), Some(y.bandwidth), "{}", path.display());
                }
            }
            (a, _) => panic!(
                "{}: we say {}, m3u8-rs disagrees",
                path.display(),
                if matches!(a, Playlist::Master(_)) {
                    "master"
                } else {
                    "media"
                }
            ),
        }
    }
    assert!(
        compared >= 15,
        "only {compared} fixtures were comparable with m3u8-rs"
    );
}

#[test]
fn ad_markers_are_typed() {
    let dir = fixtures_dir().join("ads");
    let mut found_cue_out = false;
    let mut found_daterange = false;
    let mut out = Vec::new();
    playlists(&dir, &mut out);
    for path in out {
        if let Playlist::Media(m) = parse(&std::fs::read_to_string(&path).unwrap()).unwrap() {
            for s in &m.segments {
                for mk in &s.markers {
                    if let hls::Marker::CueOut { .. } = mk {
                        found_cue_out = true;
                        assert!(
                            mk.duration().is_some(),
                            "{}: CUE-OUT without duration",
                            path.display()
                        );
                    }
                }
                for d in &s.dateranges {
                    if let Some(bytes) = d.scte35("SCTE35-OUT") {
                        found_daterange = true;
                        assert_eq!(bytes.first(), Some(&0xFC), "SCTE-35 table id");
                    }
                }
            }
        }
    }
    assert!(
        found_cue_out && found_daterange,
        "ads fixture lacks CUE-OUT or DATERANGE SCTE35-OUT"
    );
}
