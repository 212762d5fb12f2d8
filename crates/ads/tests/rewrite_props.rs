//! Property test of the pure per-viewer rewrite: for random origin streams (segment
//! durations, discontinuities, breaks marked with CUE-OUT/CUE-IN or SCTE-35 DATERANGEs),
//! random windows sliding at random speeds and random ad plans, the viewer's playlists in
//! two renditions: the media sequence never goes back, a sequence number never changes its
//! segment, segments never vanish from the tail or repeat under another number, the
//! discontinuity sequence stays consistent (the `hls::validate` live rules), and every
//! slot of every replaced break is played exactly once.

use std::collections::{BTreeMap, HashMap};

use ads::ssai::rewrite::{BreakState, Plan, Slot, Timeline};
use hls::validate::{LiveTracker, Severity};
use hls::{AttributeList, DateRange, Marker, MediaPlaylist, Segment};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Break {
    start: usize,
    len: usize,
    daterange: bool,
    with_duration: bool,
    plan: Plan,
}

#[derive(Debug, Clone)]
struct Stream {
    durs: Vec<f64>,
    discs: Vec<bool>,
    breaks: Vec<Break>,
}

fn plan_strategy() -> impl Strategy<Value = Plan> {
    prop_oneof![
        1 => Just(Plan::Passthrough),
        4 => (
            proptest::collection::vec((1usize..5, prop_oneof![Just(1.0f32), Just(2.0f32)]), 0..4),
            0usize..4
        )
            .prop_map(|(ads, slate)| {
                let mut slots = Vec::new();
                for (a, (n, d)) in ads.iter().enumerate() {
                    for s in 0..*n {
                        slots.push(Slot { ad: Some(a as u16), seg: s as u16, dur: *d });
                    }
                }
                for s in 0..slate {
                    slots.push(Slot { ad: None, seg: (s % 2) as u16, dur: 2.0 });
                }
                if slots.is_empty() { Plan::Passthrough } else { Plan::Replace(slots) }
            }),
    ]
}

fn stream_strategy() -> impl Strategy<Value = Stream> {
    (
        proptest::collection::vec(prop_oneof![Just(1.0f64), Just(1.5), Just(2.0)], 30..90),
        proptest::collection::vec(proptest::bool::weighted(0.05), 90),
        proptest::collection::vec(
            (
                1usize..6,
                1usize..6,
                any::<bool>(),
                proptest::bool::weighted(0.8),
                plan_strategy(),
            ),
            0..6,
        ),
    )
        .prop_map(|(durs, discs, raw)| {
            let mut breaks = Vec::new();
            let mut pos = 0;
            for (gap, len, daterange, with_duration, plan) in raw {
                let start = pos + gap;
                if start + len + 1 >= durs.len() {
                    break;
                }
                breaks.push(Break {
                    start,
                    len,
                    daterange,
                    with_duration,
                    plan,
                });
                pos = start + len + 1;
            }
            let discs = discs[..durs.len()].to_vec();
            Stream {
                durs,
                discs,
                breaks,
            }
        })
}

/// The origin's segment `i` in rendition `r`, with its markers.
fn origin_segment(st: &Stream, i: usize, r: usize) -> Segment {
    let mut s = Segment::new(format!("r{r}/seg{i}.ts"), st.durs[i]);
    s.discontinuity = st.discs[i];
    for b in &st.breaks {
        let planned: f64 = st.durs[b.start..b.start + b.len].iter().sum();
        if i == b.start {
            if b.daterange {
                let mut a = AttributeList::new()
                    .quoted("ID", format!("b{}", b.start))
                    .quoted("START-DATE", "2026-01-01T00:00:00Z")
                    .unquoted("SCTE35-OUT", "0xFC");
                if b.with_duration {
                    a.set_unquoted("PLANNED-DURATION", planned);
                }
                s.dateranges.push(DateRange { attrs: a });
                s.program_date_time = hls::parse_date_time("2026-01-01T00:00:00Z");
            } else if b.with_duration {
                s.markers.push(Marker::cue_out(planned));
            } else {
                s.markers.push(Marker::CueOut { raw: None });
            }
        }
        if i == b.start + b.len {
            if b.daterange {
                s.dateranges.push(DateRange {
                    attrs: AttributeList::new()
                        .quoted("ID", format!("b{}", b.start))
                        .quoted("START-DATE", "2026-01-01T00:00:00Z")
                        .unquoted("SCTE35-IN", "0xFC"),
                });
                s.program_date_time = hls::parse_date_time("2026-01-01T00:00:00Z");
            } else {
                s.markers.push(Marker::CueIn);
            }
        }
    }
    s
}

fn window(st: &Stream, head: usize, len: usize, r: usize) -> MediaPlaylist {
    let end = (head + len).min(st.durs.len());
    MediaPlaylist {
        version: Some(3),
        target_duration: Some(2),
        media_sequence: 1000 + head as u64,
        discontinuity_sequence: 7 + st.discs[..head].iter().filter(|d| **d).count() as u64,
        segments: (head..end).map(|i| origin_segment(st, i, r)).collect(),
        ..Default::default()
    }
}

fn slot_uri(b: &BreakState, slot: &Slot, idx: u16, r: usize) -> Option<Segment> {
    let name = match slot.ad {
        Some(a) => format!("ad/b{}/a{a}/s{}/i{idx}/r{r}.ts", b.key, slot.seg),
        None => format!("slate/b{}/s{}/i{idx}/r{r}.ts", b.key, slot.seg),
    };
    Some(Segment::new(name, f64::from(slot.dur)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn per_viewer_playlists_are_consistent(
        st in stream_strategy(),
        win in 3usize..10,
        steps in proptest::collection::vec(prop_oneof![8 => 0usize..3, 1 => 3usize..20], 1..80),
        start in 0usize..10,
        lag in 0usize..2,
    ) {
        let n = st.durs.len();
        prop_assume!(n > win + 2);
        let mut head = start.min(n - win);
        let plans: HashMap<u64, Plan> = st.breaks.iter()
            .map(|b| (1000 + b.start as u64, b.plan.clone())).collect();
        let mut tl = Timeline::new();
        let mut trackers = [LiveTracker::new(), LiveTracker::new()];
        let mut prev: [Option<MediaPlaylist>; 2] = [None, None];
        let mut uri_seq: [HashMap<String, u64>; 2] = [HashMap::new(), HashMap::new()];
        let mut played: [BTreeMap<u64, String>; 2] = [BTreeMap::new(), BTreeMap::new()];
        let mut had_gap = false;
        let mut now = 0u64;
        let mut last_head = head;
        for step in steps.iter().copied() {
            last_head = head;
            let w0 = window(&st, head, win, 0);
            // Only break starts the timeline asks about get a plan.
            let asked: HashMap<u64, Plan> = tl.new_breaks(&w0).iter()
                .filter_map(|b| plans.get(&b.key).map(|p| (b.key, p.clone()))).collect();
            tl.advance(&w0, &asked);
            now += 500;
            for r in 0..2 {
                let wr = window(&st, head, win - if r == 1 { lag } else { 0 }, r);
                let out = tl.render(&wr, r == 1, &|b, s, i| slot_uri(b, s, i, r));
                // The live rules of the validator, except those about time and window size.
                for p in trackers[r].observe(&out, now) {
                    if p.severity == Severity::Error
                        && !matches!(p.rule, "playlist-stale" | "window-too-short")
                    {
                        prop_assert!(false, "rendition {r}: {p:?}\n{out}");
                    }
                }
                let (static_ok, problems) = {
                    let text = out.to_string();
                    let (pl, problems) = hls::validate::check_text(&text);
                    (pl.is_some(), problems)
                };
                prop_assert!(static_ok);
                for p in problems {
                    prop_assert!(p.severity != Severity::Error || p.rule == "daterange-without-program-date-time", "static {p:?}\n{out}");
                }
                if let Some(pv) = &prev[r] {
                    prop_assert!(out.media_sequence >= pv.media_sequence, "went back\n{pv}\n{out}");
                    if !had_gap {
                        // Nothing vanished from the tail.
                        prop_assert!(
                            out.media_sequence + out.segments.len() as u64
                                >= pv.media_sequence + pv.segments.len() as u64,
                            "tail shrank\n{pv}\n{out}"
                        );
                    }
                }
                for (i, s) in out.segments.iter().enumerate() {
                    let seq = out.media_sequence + i as u64;
                    let old = uri_seq[r].insert(s.uri.clone(), seq);
                    prop_assert!(old.is_none() || old == Some(seq), "{} repeated at {seq} and {old:?}", s.uri);
                    played[r].insert(seq, s.uri.clone());
                }
                prev[r] = Some(out);
            }
            let next = (head + step).min(n - win);
            if step >= win { had_gap = true; }
            head = next;
        }
        // With no gap, every slot of every replaced break whose end the viewer saw played
        // once, in order.
        if !had_gap {
            for b in &st.breaks {
                let key = 1000 + b.start as u64;
                let Plan::Replace(slots) = &b.plan else { continue };
                let seen_start = 1000 + start.min(n - win) as u64 <= key;
                let seen_end = (last_head + win) > b.start + b.len;
                if !(seen_start && seen_end) { continue; }
                let got: Vec<&String> = played[0].values()
                    .filter(|u| u.contains(&format!("/b{key}/"))).collect();
                prop_assert_eq!(got.len(), slots.len(), "break {}: {:?}", key, got);
            }
        }
    }
}
