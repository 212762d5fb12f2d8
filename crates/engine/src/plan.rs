//! The scheduling policy of the engine, pure: given what a scope's schedule looks like (and
//! the instant), what to do next. No I/O, no clock, no locks: [`round::Round`] strings these
//! decisions into one scheduling round (a state machine: events in, actions out), which
//! `Engine::ensure` (`engine::schedule`) drives, and the live poller carries out the live
//! ones (asking the asset manager, fetching VODs and sources, the store's compare-and-sets).
//! [`feed::LiveFeed`] is an open live entry's process-local segments.
//!
//! The decisions:
//! - [`step`]: poll the open live entry, stop (the schedule covers the instant asked for),
//!   or schedule one more item.
//! - [`place`]: how an item goes at the schedule's end: resolved as it is, a live source
//!   joined, or the slate first until a live event that starts later.
//! - [`fallback`]: what plays instead of an item that cannot be used (the slate; for a live
//!   event, until its end).
//! - [`live_after_poll`]: keep an open live entry open, or close it (and fill the rest of
//!   the event with the slate when the source stopped early).
//! - [`after_lost_append`]: what to do when an append lost but there is nothing to catch up
//!   with (the store lost the log).

use crate::timeline::{Item, Millis, ProgrammeTag};

pub mod feed;
pub mod round;

/// A live item whose start is further than this after the schedule's end gets the slate
/// until it starts; a closer (or past) start joins the source at the schedule's end.
pub const LIVE_EARLY_MS: Millis = 1_000;
/// A live entry that has run dry for this many target durations is closed (source failed).
pub const LIVE_STALL_TARGETS: i64 = 3;

/// What a scope's schedule looks like to the planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// The last entry is an open live entry.
    pub open: bool,
    /// Where the schedule ends (the next entry's start).
    pub end_ms: Millis,
    /// The instant the schedule must cover (exclusive end).
    pub until: Millis,
}

/// The next thing the scheduling loop does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Grow (or close) the open live entry; nothing is scheduled past it while it is open.
    PollLive,
    /// The schedule covers `until`.
    Done,
    /// Get the next item and append it.
    Schedule,
}

pub fn step(v: &View) -> Step {
    if v.open {
        Step::PollLive
    } else if v.end_ms > v.until {
        Step::Done
    } else {
        Step::Schedule
    }
}

/// How an item goes at the schedule's end `at`.
#[derive(Debug, Clone, PartialEq)]
pub enum Placement {
    /// Resolve it (VOD, slate, ad break) and append it.
    Resolve,
    /// Join the live source now (an event that started, or starts within
    /// [`LIVE_EARLY_MS`]).
    JoinLive,
    /// Append this slate first (until the event starts), then place the item again.
    SlateFirst(Item),
}

pub fn place(item: &Item, at: Millis) -> Placement {
    match item {
        Item::Live { start_ms, .. } if *start_ms > at + LIVE_EARLY_MS => {
            Placement::SlateFirst(Item::Slate {
                reason: Some("waiting for a live event".into()),
                duration_ms: Some((start_ms - at) as u64),
            })
        }
        Item::Live { .. } => Placement::JoinLive,
        _ => Placement::Resolve,
    }
}

/// `item` as the engine schedules it: asking for at most [`crate::slots::MAX_ENTRY_MS`]
/// and at least 1 ms (an entry's slate, filler or padding is built in memory; whatever an
/// asset manager answers).
pub fn bounded(mut item: Item) -> Item {
    let cap = |ms: &mut u64| *ms = (*ms).clamp(1, crate::slots::MAX_ENTRY_MS);
    match &mut item {
        Item::Slate {
            duration_ms: Some(ms),
            ..
        }
        | Item::AdBreak {
            duration_ms: ms, ..
        }
        | Item::Programme { max_ms: ms, .. } => cap(ms),
        _ => {}
    }
    item
}

/// `item` as the engine schedules it after `last`, the programme of the schedule's most
/// recent programme (or live) entry: a programme entry that does not continue `last` starts
/// its programme as far as viewers can tell, so it carries the programme DATERANGE even when
/// the adapter did not mark it `first` (it joined late: the slate of a failed or timed-out
/// adapter answer overran the programme's start).
pub fn announce(mut item: Item, last: Option<&ProgrammeTag>) -> Item {
    if let Item::Programme {
        programme, first, ..
    } = &mut item
    {
        let continues =
            last.is_some_and(|l| l.id == programme.id && l.start_ms == programme.start_ms);
        *first = *first || !continues;
    }
    item
}

/// What plays at `at` instead of `item`, which could not be used (`error` says why): the
/// slate, for its default duration, or until the end of a live event, or for a scheduled
/// programme's slot (the next programme keeps its time).
pub fn fallback(item: &Item, at: Millis, error: &str) -> Item {
    let duration_ms = match item {
        Item::Live { end_ms, .. } if *end_ms > at => Some((end_ms - at) as u64),
        Item::Programme { max_ms, .. } => Some((*max_ms).max(1)),
        _ => None,
    };
    Item::Slate {
        reason: Some(error.to_string()),
        duration_ms,
    }
}

/// An open live entry after a poll of its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveView {
    pub now: Millis,
    /// Where the open entry ends now.
    pub entry_end_ms: Millis,
    /// Its target duration, seconds.
    pub target: u64,
    /// Its last segment's duration, ms.
    pub last_segment_ms: Millis,
    /// The live event's scheduled end.
    pub event_end_ms: Millis,
    /// The source ended (ENDLIST) and everything it published was taken.
    pub source_ended: bool,
}

/// What becomes of an open live entry after a poll.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveDecision {
    Keep,
    /// Close it; `fill`: the slate to append after it, until the event's end (the source
    /// stopped early).
    Close {
        stalled: bool,
        fill: Option<Item>,
    },
}

/// Close at the last segment boundary before the event's end (the next segment would end
/// after it, or the event is over), when the source ended, or when it has run dry for
/// [`LIVE_STALL_TARGETS`] target durations; in the last two cases the slate fills until the
/// event's end.
pub fn live_after_poll(v: &LiveView, url: &str) -> LiveDecision {
    let full = v.entry_end_ms + v.last_segment_ms > v.event_end_ms || v.now >= v.event_end_ms;
    let stalled = v.now > v.entry_end_ms + LIVE_STALL_TARGETS * 1000 * v.target as Millis;
    if !(full || stalled || v.source_ended) {
        return LiveDecision::Keep;
    }
    let fill = ((stalled || v.source_ended) && v.event_end_ms > v.entry_end_ms + LIVE_EARLY_MS)
        .then(|| Item::Slate {
            reason: Some(format!("live source {url} stopped")),
            duration_ms: Some((v.event_end_ms - v.entry_end_ms) as u64),
        });
    LiveDecision::Close { stalled, fill }
}

/// After an append that lost with nothing to catch up with, and a re-seed attempt
/// (`restored`: this replica re-seeded the store's log), for the `lost`-th time in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterLostAppend {
    /// Try the append again (the log now continues this replica's schedule).
    Retry,
    /// Give up this round: the store's log does not continue this replica's schedule.
    Fail,
}

pub fn after_lost_append(restored: bool, lost: u32) -> AfterLostAppend {
    if restored && lost <= 1 {
        AfterLostAppend::Retry
    } else {
        AfterLostAppend::Fail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(start_ms: Millis, end_ms: Millis) -> Item {
        Item::Live {
            url: "http://src/live.m3u8".into(),
            start_ms,
            end_ms,
            programme: None,
        }
    }

    #[test]
    fn steps() {
        let v = |open, end_ms| View {
            open,
            end_ms,
            until: 100,
        };
        assert_eq!(step(&v(true, 0)), Step::PollLive);
        assert_eq!(
            step(&v(true, 500)),
            Step::PollLive,
            "open wins over covered"
        );
        assert_eq!(step(&v(false, 101)), Step::Done);
        assert_eq!(
            step(&v(false, 100)),
            Step::Schedule,
            "end == until is not covered"
        );
    }

    /// A scheduled programme that cannot play (its VOD does not fit the channel, say) is
    /// the slate for its slot, not the default slate: that would overrun the next
    /// programme's start by up to the default's length (and leave it unannounced).
    /// An asset manager's item (HTTP adapters answer any item) asking for an entry longer
    /// than [`crate::slots::MAX_ENTRY_MS`] is cut to it: the entry's looped slate or filler
    /// is built in memory (`max_ms: u64::MAX` never finished looping).
    #[test]
    fn items_from_adapters_are_bounded() {
        let cap = crate::slots::MAX_ENTRY_MS;
        let huge = [
            Item::Slate {
                reason: None,
                duration_ms: Some(u64::MAX),
            },
            Item::AdBreak {
                duration_ms: u64::MAX,
                filler: None,
            },
            Item::Programme {
                programme: crate::timeline::ProgrammeTag {
                    id: "p".into(),
                    title: String::new(),
                    start_ms: 0,
                    end_ms: Millis::MAX,
                },
                url: "http://v/p.m3u8".into(),
                offset_ms: 0,
                max_ms: u64::MAX,
                first: true,
            },
        ];
        for i in huge {
            let b = bounded(i.clone());
            let len = match b {
                Item::Slate { duration_ms, .. } => duration_ms.unwrap(),
                Item::AdBreak { duration_ms, .. } => duration_ms,
                Item::Programme { max_ms, .. } => max_ms,
                _ => unreachable!(),
            };
            assert_eq!(len, cap, "{i:?}");
        }
        let small = Item::AdBreak {
            duration_ms: 0,
            filler: None,
        };
        assert_eq!(
            bounded(small),
            Item::AdBreak {
                duration_ms: 1,
                filler: None
            }
        );
    }

    /// A programme joined after something else played at its start (the adapter failed
    /// or timed out there and the default slate overran it) is announced all the same; one
    /// resumed after its own break (or its previous part) is not announced again.
    #[test]
    fn a_programme_joined_late_after_something_else_is_announced() {
        let tag = |id: &str, start_ms| crate::timeline::ProgrammeTag {
            id: id.into(),
            title: String::new(),
            start_ms,
            end_ms: start_ms + 60_000,
        };
        let part = |first| Item::Programme {
            programme: tag("b", 60_000),
            url: "http://v/b.m3u8".into(),
            offset_ms: 8_000,
            max_ms: 52_000,
            first,
        };
        let first = |i: Item| matches!(i, Item::Programme { first: true, .. });
        assert!(first(announce(part(false), Some(&tag("a", 0)))));
        assert!(first(announce(part(false), None)));
        // The same event id at another time is another programme (a repeat).
        assert!(first(announce(part(false), Some(&tag("b", 0)))));
        assert!(!first(announce(part(false), Some(&tag("b", 60_000)))));
        assert!(first(announce(part(true), Some(&tag("b", 60_000)))));
    }

    #[test]
    fn a_failed_programme_is_the_slate_for_its_slot() {
        let p = Item::Programme {
            programme: crate::timeline::ProgrammeTag {
                id: "p".into(),
                title: String::new(),
                start_ms: 0,
                end_ms: 3_000,
            },
            url: "http://v/p.m3u8".into(),
            offset_ms: 0,
            max_ms: 3_000,
            first: true,
        };
        assert_eq!(
            fallback(&p, 0, "bad"),
            Item::Slate {
                reason: Some("bad".into()),
                duration_ms: Some(3_000)
            }
        );
    }

    #[test]
    fn a_live_event_starting_later_gets_the_slate_first() {
        assert_eq!(
            place(&live(10_000, 20_000), 4_000),
            Placement::SlateFirst(Item::Slate {
                reason: Some("waiting for a live event".into()),
                duration_ms: Some(6_000)
            })
        );
        assert_eq!(place(&live(4_900, 20_000), 4_000), Placement::JoinLive);
        assert_eq!(
            place(&live(0, 20_000), 4_000),
            Placement::JoinLive,
            "late join"
        );
        let vod = Item::Vod {
            id: "a".into(),
            title: None,
            url: "u".into(),
        };
        assert_eq!(place(&vod, 4_000), Placement::Resolve);
    }

    #[test]
    fn a_failed_live_event_is_slate_until_its_end() {
        assert_eq!(
            fallback(&live(0, 20_000), 5_000, "down"),
            Item::Slate {
                reason: Some("down".into()),
                duration_ms: Some(15_000)
            }
        );
        let vod = Item::Vod {
            id: "a".into(),
            title: None,
            url: "u".into(),
        };
        assert_eq!(
            fallback(&vod, 5_000, "404"),
            Item::Slate {
                reason: Some("404".into()),
                duration_ms: None
            }
        );
    }

    fn lv(now: Millis, entry_end_ms: Millis, source_ended: bool) -> LiveView {
        LiveView {
            now,
            entry_end_ms,
            target: 2,
            last_segment_ms: 2_000,
            event_end_ms: 60_000,
            source_ended,
        }
    }

    #[test]
    fn live_entries_close_when_full_stalled_or_ended() {
        assert_eq!(
            live_after_poll(&lv(20_000, 22_000, false), "s"),
            LiveDecision::Keep
        );
        // The next segment would end after the event: closed, nothing to fill.
        assert_eq!(
            live_after_poll(&lv(50_000, 58_500, false), "s"),
            LiveDecision::Close {
                stalled: false,
                fill: None
            }
        );
        // Dry for more than three target durations: closed, slate to the event's end.
        assert_eq!(
            live_after_poll(&lv(30_001, 24_000, false), "s"),
            LiveDecision::Close {
                stalled: true,
                fill: Some(Item::Slate {
                    reason: Some("live source s stopped".into()),
                    duration_ms: Some(36_000)
                })
            }
        );
        assert_eq!(
            live_after_poll(&lv(30_000, 24_000, false), "s"),
            LiveDecision::Keep
        );
        // The source ended: closed and filled, unless the event ends within LIVE_EARLY_MS.
        assert!(matches!(
            live_after_poll(&lv(20_000, 22_000, true), "s"),
            LiveDecision::Close { fill: Some(_), .. }
        ));
        assert_eq!(
            live_after_poll(&lv(58_000, 59_500, true), "s"),
            LiveDecision::Close {
                stalled: false,
                fill: None
            }
        );
    }

    #[test]
    fn a_lost_log_is_reseeded_once() {
        assert_eq!(after_lost_append(true, 1), AfterLostAppend::Retry);
        assert_eq!(after_lost_append(true, 2), AfterLostAppend::Fail);
        assert_eq!(after_lost_append(false, 1), AfterLostAppend::Fail);
    }
}
