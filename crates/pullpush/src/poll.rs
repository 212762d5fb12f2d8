//! When to reload a source media playlist: poll on the expected arrival of the next segment.
//!
//! RFC 8216 6.3.4 tells a *player* to reload one target duration after a change and half of
//! it after an unchanged reload. A relay that does that locks onto one phase of the source's
//! segment cadence and adds a uniformly distributed 0..target delay to every segment. A
//! pull/push relay wants the opposite: see a change as soon as it happens, at little cost.
//!
//! [`next_poll`] is the whole schedule, a pure function of the clock (passed in, so tests
//! use a fake one):
//! - after a reload that **changed** the playlist (seen at `now`), the change happened
//!   between the previous reload and `now`, and the next one is expected one newest-segment
//!   duration later. If the previous reload was at most one fast interval ago, or itself a
//!   change (the usual cases once locked on), poll at `now + duration - fast / 2`; if it was longer ago (the
//!   first reloads, or after a back-off) the phase is uncertain, so poll at the earliest
//!   possible arrival, `previous reload + duration` (`now` on the very first reload), and
//!   let the fast polling below find it: the schedule locks on within one segment. Never
//!   sooner than one fast interval;
//! - after an **unchanged** reload within `1.5 x target` of the last change, poll again after
//!   the fast interval `max(100 ms, target / 8)` (250 ms for 2 s segments);
//! - after an unchanged reload later than that (source stalled, idle, or slower than it
//!   says), back off to `target / 2` (the RFC's unchanged-reload rule), so an idle source
//!   costs two requests per target duration, not eight.
//!
//! Cost: with a regular source about 1.5 reloads per segment (the first poll lands half a
//! fast interval early or late, alternately), and the change is seen at most one fast
//! interval after it happened (on average half of it).

use std::time::Duration;

use tokio::time::Instant;

/// The short interval used around the expected arrival: `max(100 ms, target / 8)`.
pub fn fast_interval(target: Duration) -> Duration {
    (target / 8).max(Duration::from_millis(100))
}

/// What [`next_poll`] needs to know about a track's polling history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollInput {
    /// When this reload completed.
    pub now: Instant,
    /// Did this reload change the playlist (new segment, new media sequence, end list)?
    pub changed: bool,
    /// When a change was last seen (`now` if `changed`); `None` before any.
    pub last_change: Option<Instant>,
    /// When the reload before this one completed; `None` if this is the first.
    pub prev_poll: Option<Instant>,
    /// Did the reload before this one change the playlist?
    pub prev_changed: bool,
    /// Duration of the newest segment in the playlist, seconds (0 if unknown).
    pub newest_duration: f64,
    /// The playlist's target duration.
    pub target: Duration,
}

/// When to reload next (see the module doc for the rule).
pub fn next_poll(i: PollInput) -> Instant {
    let target = i.target.max(Duration::from_millis(100));
    let fast = fast_interval(target);
    if i.changed {
        let dur = if i.newest_duration.is_finite() && i.newest_duration > 0.0 {
            Duration::from_secs_f64(i.newest_duration).min(target)
        } else {
            target
        };
        let expected = match i.prev_poll {
            Some(prev) if i.prev_changed || i.now.saturating_duration_since(prev) <= fast => {
                i.now + dur.saturating_sub(fast / 2)
            }
            Some(prev) => prev + dur,
            None => i.now,
        };
        return expected.max(i.now + fast);
    }
    match i.last_change {
        Some(at) if i.now.saturating_duration_since(at) < target * 3 / 2 => i.now + fast,
        _ => i.now + target / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(2);
    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn input(now: Instant, changed: bool, last_change: Option<Instant>) -> PollInput {
        PollInput {
            now,
            changed,
            last_change,
            prev_poll: Some(now - MS(250)),
            prev_changed: false,
            newest_duration: 2.0,
            target: T,
        }
    }

    #[test]
    fn fast_interval_is_an_eighth_of_target_at_least_100ms() {
        assert_eq!(fast_interval(T), MS(250));
        assert_eq!(fast_interval(Duration::from_secs(6)), MS(750));
        assert_eq!(fast_interval(Duration::from_millis(500)), MS(100));
    }

    #[test]
    fn after_a_change_waits_for_the_expected_arrival_minus_a_margin() {
        let t0 = Instant::now();
        assert_eq!(next_poll(input(t0, true, Some(t0))), t0 + MS(1875));
        // The newest segment's duration, not the target, sets the expectation.
        let mut i = input(t0, true, Some(t0));
        i.newest_duration = 1.0;
        assert_eq!(next_poll(i), t0 + MS(875));
        // Unknown or absurd durations fall back to the target; never sooner than `fast`.
        i.newest_duration = 0.0;
        assert_eq!(next_poll(i), t0 + MS(1875));
        i.newest_duration = 60.0;
        assert_eq!(next_poll(i), t0 + MS(1875));
        i.newest_duration = 0.01;
        assert_eq!(next_poll(i), t0 + MS(250));
    }

    #[test]
    fn an_imprecise_sighting_polls_at_the_earliest_possible_arrival() {
        let t0 = Instant::now() + Duration::from_secs(10);
        // Previous reload 1 s ago: the change happened in (t0 - 1 s, t0].
        let mut i = input(t0, true, Some(t0));
        i.prev_poll = Some(t0 - MS(1000));
        assert_eq!(next_poll(i), t0 + MS(1000));
        // ... unless that reload was a change too (we were locked on: first poll hit).
        i.prev_changed = true;
        assert_eq!(next_poll(i), t0 + MS(1875));
        i.prev_changed = false;
        // The very first reload: the newest segment may have arrived just now.
        i.prev_poll = None;
        assert_eq!(next_poll(i), t0 + MS(250));
    }

    #[test]
    fn unchanged_near_the_expected_arrival_polls_fast_then_backs_off() {
        let t0 = Instant::now();
        let last = Some(t0);
        assert_eq!(next_poll(input(t0 + MS(1875), false, last)), t0 + MS(2125));
        assert_eq!(next_poll(input(t0 + MS(2900), false, last)), t0 + MS(3150));
        // 1.5 target durations without a change: idle/stalled source, back off to target/2.
        assert_eq!(next_poll(input(t0 + MS(3000), false, last)), t0 + MS(4000));
        assert_eq!(next_poll(input(t0 + MS(9000), false, last)), t0 + MS(10000));
        // Never changed yet (e.g. an empty playlist): target/2.
        assert_eq!(next_poll(input(t0, false, None)), t0 + MS(1000));
    }

    /// Simulate a source that publishes a segment every 2 s at a fixed phase and a relay that
    /// starts at a given phase: after the first change, each new segment is seen at most one
    /// fast interval late, with about 1.5 reloads per segment.
    #[test]
    fn simulated_source_is_seen_within_one_fast_interval() {
        for phase_ms in [0u64, 1, 137, 999, 1500, 1999] {
            let t0 = Instant::now();
            let publish = |k: u64| t0 + MS(phase_ms + 2000 * k);
            // The playlist as of time t lists segments published up to t.
            let head = |t: Instant| (0..100).take_while(|&k| publish(k) <= t).count();
            let mut now = t0;
            let mut seen = head(now);
            let mut last_change = None;
            let mut prev_poll = None;
            let mut prev_changed = false;
            let mut delays = Vec::new();
            let mut polls = 0;
            while now < t0 + Duration::from_secs(60) {
                let h = head(now);
                let changed = h != seen;
                if changed {
                    delays.push(now - publish(h as u64 - 1));
                    seen = h;
                    last_change = Some(now);
                }
                if last_change.is_some() {
                    polls += 1;
                }
                let mut i = input(now, changed, last_change);
                i.prev_poll = prev_poll;
                i.prev_changed = prev_changed;
                prev_poll = Some(now);
                prev_changed = changed;
                now = next_poll(i);
            }
            assert!(delays.len() >= 28, "phase {phase_ms}: {delays:?}");
            // The first change may be found by the slow start-up polling (or be the
            // playlist's first reload); from the second one on, at most one fast interval.
            for d in &delays[1..] {
                assert!(*d <= MS(250), "phase {phase_ms}: delays {delays:?}");
            }
            assert!(
                polls * 2 <= 3 * delays.len() + 16,
                "phase {phase_ms}: {polls} polls for {} segments",
                delays.len()
            );
        }
    }
}
