//! The schedule adapter's policy, pure: what a channel plays at an instant of its programme
//! schedule ([`item_at`]). No I/O and no clock: the adapter
//! ([`crate::adapters::schedule`]) reads the schedule and asks; tests drive it with
//! instants.
//!
//! # Keeping to the clock
//! The engine appends entries back to back, each as long as its segments; a schedule says
//! when programmes start. The two meet here:
//! - A programme's entry lasts until its end (or its next ad break): the engine cuts its
//!   segments at the boundary nearest to that ([`crate::timeline::EntryMedia::clip`]) and
//!   pads with the slate (cut the same way) when the VOD is shorter. The entry then ends
//!   within half a segment of the boundary.
//! - Asked at `at`, a programme with no more than `snap_ms` (one target duration) left is
//!   over: the next one starts now, less than one segment early. A programme that started
//!   less than `snap_ms` ago plays from its beginning (less than one segment late: ad
//!   fillers are looped to at least their break and end up to a segment past it). So every
//!   programme starts within one segment of its scheduled time (after a cut programme,
//!   within half of one), and the error never accumulates: each decision is made against
//!   the schedule, not against the previous entry's length.
//! - A gap in the schedule (LINEAR playback) is the slate until the next programme.
//! - Ad breaks inside a programme replace its content (the programme's length does not
//!   change): after a break the VOD resumes at the wall-clock offset into the programme.

use crate::timeline::{Item, Millis, ProgrammeTag};

/// What a schedule event plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotKind {
    /// An HLS VOD.
    Vod { url: String },
    /// A true live HLS source.
    Live { url: String },
    /// An ad break, filled with `url` when the event names one, else with a house ad (or
    /// the slate).
    Ad { url: Option<String> },
}

/// One schedule event, as the planner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub id: String,
    pub title: String,
    pub start_ms: Millis,
    pub end_ms: Millis,
    pub kind: SlotKind,
    /// Ad breaks inside the programme: (offset from its start, duration), ms, by offset.
    pub breaks: Vec<(u64, u64)>,
}

impl Slot {
    fn tag(&self) -> ProgrammeTag {
        ProgrammeTag {
            id: self.id.clone(),
            title: self.title.clone(),
            start_ms: self.start_ms,
            end_ms: self.end_ms,
        }
    }
}

/// The question.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// Where the item starts (the schedule's end).
    pub at: Millis,
    /// One segment: the rounding allowed at a boundary (the channel's target duration).
    pub snap_ms: u64,
    /// The log's first entry: it announces the programme even when it joins it late.
    pub first: bool,
    /// House ads to fill breaks with, taken in turn by `pick` (the entry's position).
    pub house_ads: &'a [String],
    pub pick: u64,
}

/// The longest entry the planner asks for. A longer event (or gap) plays as several
/// entries: an entry's media (a short VOD's slate padding, a break's looped filler) is
/// built in memory, so a year-long event must not become one entry.
pub const MAX_ENTRY_MS: u64 = 6 * 3_600_000;

/// What plays at `ask.at` given the channel's events `slots` (by start time, no overlaps).
/// Any input is planned without panicking: times are clamped (an event's breaks to its
/// span, every entry to [`MAX_ENTRY_MS`]).
pub fn item_at(slots: &[Slot], ask: &Ask) -> Item {
    let (at, snap) = (ask.at, ask.snap_ms);
    // Milliseconds from `at` until `t` (0 when `t` is not after it), bounded.
    let until = |t: Millis| t.saturating_sub(at).max(0) as u64;
    let capped = |ms: u64| ms.clamp(1, MAX_ENTRY_MS);
    let filler = || {
        (!ask.house_ads.is_empty())
            .then(|| ask.house_ads[(ask.pick % ask.house_ads.len() as u64) as usize].clone())
    };
    // The event playing at `at`: the first with more than one segment left.
    let Some(e) = slots.iter().find(|s| until(s.end_ms) > snap) else {
        return Item::Slate {
            reason: Some("nothing scheduled".into()),
            duration_ms: None,
        };
    };
    if until(e.start_ms) > snap {
        return Item::Slate {
            reason: Some(format!("nothing scheduled before {}", e.id)),
            duration_ms: Some(capped(until(e.start_ms))),
        };
    }
    let url = match &e.kind {
        SlotKind::Ad { url } => {
            return Item::AdBreak {
                duration_ms: capped(until(e.end_ms)),
                filler: url.clone().or_else(filler),
            };
        }
        SlotKind::Live { url } => {
            return Item::Live {
                url: url.clone(),
                start_ms: e.start_ms,
                end_ms: e.end_ms,
                programme: Some(e.tag()),
            };
        }
        SlotKind::Vod { url } => url,
    };
    let len = e.end_ms.saturating_sub(e.start_ms).max(0) as u64;
    // Breaks within the programme only, cut at its end (a break past it is ignored: the
    // programme's length does not change).
    let breaks = || {
        e.breaks
            .iter()
            .filter(move |&&(off, _)| off < len)
            .map(move |&(off, dur)| (off, dur.min(len - off)))
    };
    // Wall-clock time into the programme (a start less than a segment ago is its start).
    let raw = at.saturating_sub(e.start_ms).max(0) as u64;
    let elapsed = if raw < snap { 0 } else { raw };
    let soon = elapsed.saturating_add(snap);
    // Milliseconds from `at` until `off` into the programme.
    let until_off = |off: u64| until(e.start_ms.saturating_add(off as Millis));
    // In a break: one that starts within a segment and has more than a segment left.
    if let Some((off, dur)) = breaks().find(|&(off, dur)| off <= soon && off + dur > soon) {
        return Item::AdBreak {
            duration_ms: capped(until_off(off + dur)),
            filler: filler(),
        };
    }
    // Content until the next break or the programme's end.
    let limit = breaks()
        .map(|(off, _)| off)
        .find(|&off| off > soon)
        .unwrap_or(len);
    // The programme's content starts after the breaks at its very beginning (a pre-roll).
    let mut content_start = 0u64;
    for (off, dur) in breaks() {
        if off <= content_start.saturating_add(snap) {
            content_start = content_start.max(off + dur);
        }
    }
    Item::Programme {
        programme: e.tag(),
        url: url.clone(),
        offset_ms: elapsed,
        max_ms: capped(until_off(limit)),
        first: ask.first || elapsed <= content_start.saturating_add(snap),
    }
}

/// `slots` as [`item_at`] wants them: by start time, without overlaps. An event starting
/// while another runs cuts that one at its start (an event inserted over others, say a
/// breaking-news live event, plays; the rest of the one it interrupts does not); of events
/// starting together the last listed plays. Events left without time are dropped. Lineup's service
/// never overlaps events; a foreign one may.
pub fn normalized(mut slots: Vec<Slot>) -> Vec<Slot> {
    slots.sort_by_key(|s| s.start_ms);
    for i in 1..slots.len() {
        let start = slots[i].start_ms;
        let prev = &mut slots[i - 1];
        prev.end_ms = prev.end_ms.min(start);
    }
    slots.retain(|s| s.end_ms > s.start_ms);
    slots
}

/// The events' upcoming content (VOD and live URLs), from `at` on: what a channel's profile
/// is copied from before it starts.
pub fn content_urls(slots: &[Slot], at: Millis) -> impl Iterator<Item = &str> {
    slots
        .iter()
        .filter(move |s| s.end_ms > at)
        .filter_map(|s| match &s.kind {
            SlotKind::Vod { url } | SlotKind::Live { url } => Some(url.as_str()),
            SlotKind::Ad { .. } => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vod(id: &str, start_s: i64, end_s: i64, breaks: &[(u64, u64)]) -> Slot {
        Slot {
            id: id.into(),
            title: format!("Title {id}"),
            start_ms: start_s * 1000,
            end_ms: end_s * 1000,
            kind: SlotKind::Vod {
                url: format!("http://v/{id}.m3u8"),
            },
            breaks: breaks.iter().map(|&(o, d)| (o * 1000, d * 1000)).collect(),
        }
    }

    fn ask(at: Millis) -> Ask<'static> {
        Ask {
            at,
            snap_ms: 2_000,
            first: false,
            house_ads: &[],
            pick: 0,
        }
    }

    fn programme(i: &Item) -> (&str, u64, u64, bool) {
        match i {
            Item::Programme {
                programme,
                offset_ms,
                max_ms,
                first,
                ..
            } => (programme.id.as_str(), *offset_ms, *max_ms, *first),
            other => panic!("expected a programme, got {other:?}"),
        }
    }

    #[test]
    fn a_programme_plays_from_its_start_until_its_end() {
        let s = [vod("a", 0, 30, &[]), vod("b", 30, 60, &[])];
        assert_eq!(programme(&item_at(&s, &ask(0))), ("a", 0, 30_000, true));
        // Less than a segment late: from the beginning, still the start.
        assert_eq!(programme(&item_at(&s, &ask(1_500))), ("a", 0, 28_500, true));
    }

    #[test]
    fn the_boundary_snaps_within_one_segment() {
        let s = [vod("a", 0, 30, &[]), vod("b", 30, 60, &[])];
        // The previous entry ended 1.5 s early (cut at a segment boundary): b starts now.
        assert_eq!(
            programme(&item_at(&s, &ask(28_500))),
            ("b", 0, 31_500, true)
        );
        // ... or 1 s late (a filler overshot): b from its beginning.
        assert_eq!(
            programme(&item_at(&s, &ask(31_000))),
            ("b", 0, 29_000, true)
        );
        // More than a segment left: the rest of a (the VOD was shorter: slate pads it).
        assert_eq!(
            programme(&item_at(&s, &ask(20_000))),
            ("a", 20_000, 10_000, false)
        );
    }

    #[test]
    fn joining_late_starts_mid_programme_and_announces_it_once() {
        let s = [vod("a", 0, 600, &[])];
        assert_eq!(
            programme(&item_at(&s, &ask(250_000))),
            ("a", 250_000, 350_000, false)
        );
        let first = Ask {
            first: true,
            ..ask(250_000)
        };
        assert!(programme(&item_at(&s, &first)).3);
    }

    #[test]
    fn gaps_are_slate_until_the_next_programme() {
        let s = [vod("a", 0, 30, &[]), vod("b", 50, 80, &[])];
        assert_eq!(
            item_at(&s, &ask(30_000)),
            Item::Slate {
                reason: Some("nothing scheduled before b".into()),
                duration_ms: Some(20_000)
            }
        );
        assert!(matches!(
            item_at(&s, &ask(90_000)),
            Item::Slate {
                duration_ms: None,
                ..
            }
        ));
    }

    #[test]
    fn breaks_replace_content_and_content_resumes_at_the_clock() {
        let s = [vod("a", 0, 60, &[(20, 10)])];
        // Content until the break.
        assert_eq!(programme(&item_at(&s, &ask(0))), ("a", 0, 20_000, true));
        // The content entry ended 1 s early: the break starts now, ends at 30 s.
        let ads = [
            "http://ads/1.m3u8".to_string(),
            "http://ads/2.m3u8".to_string(),
        ];
        let a = Ask {
            house_ads: &ads,
            pick: 3,
            ..ask(19_000)
        };
        assert_eq!(
            item_at(&s, &a),
            Item::AdBreak {
                duration_ms: 11_000,
                filler: Some("http://ads/2.m3u8".into())
            }
        );
        // After it: content at 30 s into the VOD, not announced again.
        assert_eq!(
            programme(&item_at(&s, &ask(30_500))),
            ("a", 30_500, 29_500, false)
        );
    }

    #[test]
    fn a_pre_roll_comes_first_and_the_content_after_it_is_the_start() {
        let s = [vod("a", 0, 60, &[(0, 10)])];
        assert!(matches!(
            item_at(&s, &ask(0)),
            Item::AdBreak {
                duration_ms: 10_000,
                filler: None
            }
        ));
        assert_eq!(
            programme(&item_at(&s, &ask(10_000))),
            ("a", 10_000, 50_000, true)
        );
    }

    #[test]
    fn ad_and_live_events() {
        let mut ad = vod("x", 0, 15, &[]);
        ad.kind = SlotKind::Ad { url: None };
        let mut live = vod("l", 15, 75, &[]);
        live.kind = SlotKind::Live {
            url: "http://live/x.m3u8".into(),
        };
        let s = [ad, live];
        assert_eq!(
            item_at(&s, &ask(0)),
            Item::AdBreak {
                duration_ms: 15_000,
                filler: None
            }
        );
        match item_at(&s, &ask(14_000)) {
            Item::Live {
                start_ms,
                end_ms,
                programme: Some(p),
                ..
            } => assert_eq!((start_ms, end_ms, p.id.as_str()), (15_000, 75_000, "l")),
            other => panic!("{other:?}"),
        }
    }

    /// A day of programmes of awkward lengths, entries of segment-sized steps: every
    /// programme starts within one segment of its time, and nothing drifts.
    #[test]
    fn a_day_of_programmes_keeps_to_the_clock() {
        let mut slots = Vec::new();
        let mut t = 0;
        let mut i = 0;
        while t < 86_400 {
            let len = 17 + (i * 7) % 41;
            let breaks: &[(u64, u64)] = if i % 3 == 0 { &[(8, 5)] } else { &[] };
            slots.push(vod(&format!("p{i}"), t, t + len, breaks));
            t += len;
            i += 1;
        }
        // Segments of 2 s: an entry asked to last at most `max` lasts the largest
        // multiple of 2 s <= max (at least one segment); a break lasts the smallest
        // multiple of 2 s >= its duration (its filler is looped).
        let mut at: Millis = 0;
        let mut starts = std::collections::HashMap::new();
        while at < 86_400_000 {
            let item = item_at(&slots, &ask(at));
            let len = match &item {
                Item::Programme {
                    programme,
                    max_ms,
                    first,
                    ..
                } => {
                    if *first {
                        assert!(starts.insert(programme.id.clone(), at).is_none());
                    }
                    (max_ms / 2_000).max(1) * 2_000
                }
                Item::AdBreak { duration_ms, .. } => duration_ms.div_ceil(2_000) * 2_000,
                other => panic!("{other:?} at {at}"),
            };
            at += len as Millis;
        }
        let due: Vec<_> = slots.iter().filter(|s| s.start_ms + 2_000 < at).collect();
        assert!(due.len() > 2_000, "{} programmes", due.len());
        for s in due {
            let Some(started) = starts.get(&s.id) else {
                panic!("{} never started", s.id)
            };
            let err = (started - s.start_ms).abs();
            assert!(err < 2_000, "{} started {err} ms off", s.id);
        }
    }
}

#[cfg(test)]
mod hostile {
    //! Odd schedules (from a service this engine does not control): no panic, no entry
    //! past its slot, nothing unbounded.
    use super::*;
    use proptest::prelude::*;

    fn ask(at: Millis) -> Ask<'static> {
        Ask {
            at,
            snap_ms: 2_000,
            first: false,
            house_ads: &[],
            pick: 0,
        }
    }

    fn slot(id: &str, start_ms: Millis, end_ms: Millis, breaks: Vec<(u64, u64)>) -> Slot {
        Slot {
            id: id.into(),
            title: String::new(),
            start_ms,
            end_ms,
            kind: SlotKind::Vod {
                url: format!("http://v/{id}.m3u8"),
            },
            breaks,
        }
    }

    /// How long an item may make its entry (None: the engine's default slate).
    fn length(i: &Item) -> Option<u64> {
        match i {
            Item::Programme { max_ms, .. } => Some(*max_ms),
            Item::AdBreak { duration_ms, .. } => Some(*duration_ms),
            Item::Slate { duration_ms, .. } => *duration_ms,
            Item::Live { .. } | Item::Vod { .. } => None,
        }
    }

    /// Overlapping events (a foreign service does not refuse them): an event starting while
    /// another runs cuts it there, so an inserted event (breaking news) plays instead of
    /// being skipped; unsorted input is put in order.
    #[test]
    fn an_event_starting_inside_another_cuts_it() {
        let cut = normalized(vec![
            slot("a", 0, 100_000, vec![(70_000, 10_000)]),
            slot("n", 50_000, 80_000, vec![]),
        ]);
        assert_eq!((cut[0].end_ms, cut[1].start_ms), (50_000, 50_000));
        // Before the cut: the programme runs to it, the break past it is gone.
        match item_at(&cut, &ask(0)) {
            Item::Programme { max_ms, .. } => assert_eq!(max_ms, 50_000),
            other => panic!("{other:?}"),
        }
        let mut news = slot("news", 50_000, 80_000, vec![]);
        news.kind = SlotKind::Live {
            url: "http://l/news.m3u8".into(),
        };
        let s = normalized(vec![
            news,
            slot("a", 0, 100_000, vec![(70_000, 10_000)]),
            slot("same-start", 0, 30_000, vec![]),
            slot("b", 100_000, 160_000, vec![]),
        ]);
        let spans: Vec<(&str, Millis, Millis)> = s
            .iter()
            .map(|s| (s.id.as_str(), s.start_ms, s.end_ms))
            .collect();
        // "a" and "same-start" start together: the later listed wins the tie (it is cut
        // where the next event starts, and nothing of "a" is left).
        assert_eq!(
            spans,
            [
                ("same-start", 0, 30_000),
                ("news", 50_000, 80_000),
                ("b", 100_000, 160_000)
            ]
        );
        assert!(matches!(item_at(&s, &ask(50_000)), Item::Live { .. }));
    }

    #[test]
    fn a_break_past_the_programme_does_not_stretch_it() {
        // A 60 s programme whose (bad) break is at 100 s: the programme still ends at 60 s.
        let s = [
            slot("a", 0, 60_000, vec![(100_000, 10_000)]),
            slot("b", 60_000, 120_000, vec![]),
        ];
        match item_at(&s, &ask(0)) {
            Item::Programme { max_ms, .. } => assert_eq!(max_ms, 60_000),
            other => panic!("{other:?}"),
        }
        // ... and b starts on time, announced.
        match item_at(&s, &ask(60_000)) {
            Item::Programme {
                programme, first, ..
            } => assert_eq!((programme.id.as_str(), first), ("b", true)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_day_long_event_is_played_in_bounded_entries() {
        // One event lasting a year: each entry is at most MAX_ENTRY_MS (its slate pad or its
        // filler loop is built in memory).
        let year = 365 * 86_400_000;
        let s = [slot("a", 0, year, vec![])];
        assert!(length(&item_at(&s, &ask(0))).unwrap() <= MAX_ENTRY_MS);
        let mut ad = slot("x", 0, year, vec![]);
        ad.kind = SlotKind::Ad { url: None };
        assert!(length(&item_at(&[ad], &ask(0))).unwrap() <= MAX_ENTRY_MS);
        let s = [slot("a", 0, year, vec![(1_000, year as u64)])];
        assert!(length(&item_at(&s, &ask(5_000))).unwrap() <= MAX_ENTRY_MS);
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let s = [
            slot("a", Millis::MIN, Millis::MIN + 10, vec![]),
            slot("b", Millis::MIN, 10_000, vec![(u64::MAX, u64::MAX)]),
            slot("c", 20_000, Millis::MAX, vec![(u64::MAX - 1, 5)]),
        ];
        for at in [Millis::MIN, -1, 0, 5_000, 15_000, 30_000, Millis::MAX - 1] {
            let i = item_at(&s, &ask(at));
            if let Some(l) = length(&i) {
                assert!(l <= MAX_ENTRY_MS, "{i:?} at {at}");
            }
        }
    }

    fn arb_slot() -> impl Strategy<Value = Slot> {
        (
            prop_oneof![any::<Millis>(), -100_000..200_000i64],
            prop_oneof![any::<Millis>(), -100_000..200_000i64],
            proptest::collection::vec(
                (
                    prop_oneof![any::<u64>(), 0..100_000u64],
                    prop_oneof![any::<u64>(), 0..100_000u64],
                ),
                0..3,
            ),
            0..3u8,
        )
            .prop_map(|(a, b, mut breaks, k)| {
                breaks.sort_unstable();
                let mut s = slot("s", a.min(b), a.max(b), breaks);
                s.kind = match k {
                    0 => s.kind,
                    1 => SlotKind::Ad { url: None },
                    _ => SlotKind::Live {
                        url: "http://l/x.m3u8".into(),
                    },
                };
                s
            })
    }

    proptest! {
        /// Whatever the events (unsorted, overlapping, zero-length, at extreme times):
        /// no panic, a bounded entry, and a programme entry never runs past its event.
        #[test]
        fn any_schedule_gives_a_bounded_item(
            slots in proptest::collection::vec(arb_slot(), 0..4),
            at in prop_oneof![any::<Millis>(), -100_000..200_000i64],
            snap in 1..10_000u64,
        ) {
            let i = item_at(&slots, &Ask { snap_ms: snap, ..ask(at) });
            if let Some(l) = length(&i) {
                prop_assert!((1..=MAX_ENTRY_MS).contains(&l), "{:?}", i);
            }
            if let Item::Programme { programme, max_ms, .. } = &i {
                let left = programme.end_ms.saturating_sub(at).max(0) as u64;
                prop_assert!(*max_ms <= left.max(1), "{:?} at {}", i, at);
            }
        }
    }
}
