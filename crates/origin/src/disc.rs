//! The origin's own discontinuity numbering (RFC 8216 4.3.3.3, 6.2.2): which number each
//! segment of an ingested playlist gets, and keeping numbers consistent on commit. See
//! [`disc_numbers`] for why the ingest's numbers are not taken as they are.

use hls::MediaPlaylist;

use crate::timeline::{SegMeta, Variant};

/// The discontinuity number (RFC 8216 4.3.3.3) and discontinuity flag the origin gives each
/// segment of an ingested playlist, in the origin's own numbering.
///
/// The ingest's numbers are not trusted as they are: two ingests may come from encoders
/// that count differently, and an encoder may restart or slip its
/// `EXT-X-DISCONTINUITY-SEQUENCE`. What is kept from a playlist is only where its
/// discontinuities are relative to each other. The numbering is anchored on the newest
/// segment of the playlist that is already on the timeline (its number there is fixed
/// once published); with no such segment, on the timeline's newest segment before the
/// playlist (a jump over missing segments is marked as a discontinuity, since nobody knows
/// what the missing ones held), else the ingest's own numbers are taken (empty timeline).
pub(crate) fn disc_numbers(v: &Variant, playlist: &MediaPlaylist) -> Vec<(u64, bool)> {
    // The ingest's number of each segment: DISCONTINUITY-SEQUENCE plus the tags up to and
    // including the segment's own (a tag on the first segment counts too).
    let mut n = playlist.discontinuity_sequence as i128;
    let mut own: Vec<(i128, bool)> = Vec::with_capacity(playlist.segments.len());
    for s in &playlist.segments {
        if s.discontinuity {
            n += 1;
        }
        own.push((n, s.discontinuity));
    }
    let anchor = (0..own.len()).rev().find_map(|i| {
        let on = v.segments.get(&playlist.sequence_of(i))?;
        Some(on.disc_seq as i128 - own[i].0)
    });
    let offset = match anchor {
        Some(off) => off,
        None => {
            let first = playlist.sequence_of(0);
            match (own.first_mut(), v.segments.range(..first).next_back()) {
                (Some(head), Some((prev_seq, prev))) => {
                    if prev_seq + 1 != first && !head.1 {
                        head.1 = true;
                        head.0 += 1;
                        for later in own.iter_mut().skip(1) {
                            later.0 += 1;
                        }
                    }
                    prev.disc_seq as i128 + i128::from(own[0].1) - own[0].0
                }
                _ => 0,
            }
        }
    };
    own.into_iter()
        .map(|(n, d)| (u64::try_from((n + offset).max(0)).unwrap_or(u64::MAX), d))
        .collect()
}

/// Keep a timeline's discontinuity numbers consistent when `meta` joins it: with its
/// neighbours present, the number follows the previous segment (plus one at a
/// discontinuity) and never exceeds the next one's. Playlists already published list
/// the neighbours, so their numbers are the ones that must not move.
pub(crate) fn fit_disc(v: &Variant, meta: &mut SegMeta) {
    if let Some(prev) = v.segments.get(&meta.seq.wrapping_sub(1)) {
        meta.disc_seq = prev.disc_seq + u64::from(meta.discontinuity);
    } else if let Some((_, prev)) = v.segments.range(..meta.seq).next_back() {
        meta.disc_seq = meta.disc_seq.max(prev.disc_seq);
    }
    if let Some(next) = v.segments.get(&(meta.seq + 1)) {
        let limit = next.disc_seq - u64::from(next.discontinuity).min(next.disc_seq);
        if meta.disc_seq > limit {
            meta.disc_seq = limit;
        }
    } else if let Some((_, next)) = v.segments.range(meta.seq + 1..).next() {
        meta.disc_seq = meta.disc_seq.min(next.disc_seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::ChannelData;
    use bytes::Bytes;
    use chrono::Utc;

    /// A window of `(seq, discontinuity)` with `disc_base` as DISCONTINUITY-SEQUENCE.
    fn pl(disc_base: u64, segs: &[(u64, bool)]) -> MediaPlaylist {
        let mut t = format!(
            "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{}\n#EXT-X-DISCONTINUITY-SEQUENCE:{disc_base}\n",
            segs[0].0
        );
        for (seq, d) in segs {
            if *d {
                t.push_str("#EXT-X-DISCONTINUITY\n");
            }
            t.push_str(&format!("#EXTINF:2,\ns{seq}.ts\n"));
        }
        hls::parse_media(&t).unwrap()
    }

    fn feed(c: &mut ChannelData, ingest: u8, p: &MediaPlaylist) {
        let now = Utc::now();
        for i in 0..p.segments.len() {
            let path = format!("s{}.ts", p.sequence_of(i));
            c.on_segment(ingest, &path, Bytes::from_static(b"x"), now);
        }
        for r in c.on_media("c", ingest, "v.m3u8", p, now) {
            c.commit(&r.variant, r.meta);
        }
    }

    fn numbers(c: &ChannelData) -> Vec<(u64, u64)> {
        c.variants["v"]
            .segments
            .values()
            .map(|s| (s.seq, s.disc_seq))
            .collect()
    }

    #[test]
    fn numbers_follow_the_timeline_whatever_each_ingest_counts() {
        let mut c = ChannelData::default();
        // Ingest 1: 0 1 |2 3; numbers 0 0 1 1.
        feed(
            &mut c,
            1,
            &pl(0, &[(0, false), (1, false), (2, true), (3, false)]),
        );
        // Ingest 1 slid: the tag stays on 2 while it is first (it counts: 2 is still 1).
        feed(&mut c, 1, &pl(0, &[(2, true), (3, false), (4, false)]));
        // Ingest 2 counts from 7 and already dropped the tag (DISC-SEQ bumped): 5 |6.
        feed(
            &mut c,
            2,
            &pl(8, &[(3, false), (4, false), (5, false), (6, true)]),
        );
        assert_eq!(
            numbers(&c),
            [(0, 0), (1, 0), (2, 1), (3, 1), (4, 1), (5, 1), (6, 2)]
        );
        // A jump over missing segments with no overlap starts a new discontinuity.
        feed(&mut c, 1, &pl(3, &[(9, false), (10, false)]));
        let n = numbers(&c);
        assert_eq!(&n[7..], [(9, 3), (10, 3)]);
        assert!(c.variants["v"].segments[&9].discontinuity);
    }
}
