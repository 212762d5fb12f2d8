//! Rules across the updates of one dynamic MPD.

use std::collections::HashMap;

use crate::snapshot::{period_name, with_number};
use crate::{Problem, Snapshot, TOLERANCE, check_text, error};

/// Follows one MPD URL's successive texts. Feed each fetched text to
/// [`LiveTracker::update`]: it returns the structural problems of that text and the live
/// problems against the texts before it.
#[derive(Debug, Default)]
pub struct LiveTracker {
    prev: Option<Snapshot>,
    /// Every Period id seen, with the start it had.
    starts: HashMap<String, f64>,
    /// Updates taken.
    pub updates: usize,
}

impl LiveTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The last snapshot taken.
    pub fn last(&self) -> Option<&Snapshot> {
        self.prev.as_ref()
    }

    /// Take the next text of the MPD.
    pub fn update(&mut self, text: &str) -> Vec<Problem> {
        let (snap, mut out) = check_text(text);
        let Some(snap) = snap else {
            return out;
        };
        self.updates += 1;
        if let Some(prev) = &self.prev {
            compare(prev, &snap, &mut out);
        }
        for (i, p) in snap.periods.iter().enumerate() {
            let (Some(id), Some(start)) = (&p.id, p.start) else {
                continue;
            };
            match self.starts.get(id) {
                Some(before) if (before - start).abs() > 1e-3 => out.push(error(
                    "period-start-changed",
                    format!(
                        "{}: start moved from {before} s to {start} s",
                        period_name(p, i)
                    ),
                )),
                Some(_) => {}
                None => {
                    self.starts.insert(id.clone(), start);
                }
            }
        }
        self.prev = Some(snap);
        out
    }
}

fn compare(prev: &Snapshot, next: &Snapshot, out: &mut Vec<Problem>) {
    if !prev.dynamic && next.dynamic {
        out.push(error("type-changed", "a static MPD became dynamic"));
    }
    if let (Some(a), Some(b)) = (prev.availability_start, next.availability_start)
        && a != b
    {
        out.push(error(
            "availability-start-time-changed",
            format!("availabilityStartTime moved from {a} to {b}"),
        ));
    }
    if let (Some(a), Some(b)) = (prev.publish_time, next.publish_time)
        && b < a
    {
        out.push(error(
            "publish-time-decreased",
            format!("publishTime went back from {a} to {b}"),
        ));
    }
    if !next.dynamic {
        return;
    }
    let buffer = next.buffer_start();
    let newest_before = prev
        .periods
        .iter()
        .filter_map(|p| p.start)
        .fold(f64::MIN, f64::max);
    for (i, p) in prev.periods.iter().enumerate() {
        let Some(id) = &p.id else { continue };
        let name = period_name(p, i);
        match next.periods.iter().find(|n| n.id.as_ref() == Some(id)) {
            Some(n) => compare_period(&name, p, n, buffer, out),
            None => {
                // Its end: the next Period's start, else its media's end.
                let end = prev
                    .periods
                    .get(i + 1)
                    .and_then(|n| n.start)
                    .or_else(|| media_end(p));
                if let (Some(end), Some(buffer)) = (end, buffer)
                    && end > buffer + TOLERANCE
                {
                    out.push(error(
                        "period-removed-early",
                        format!(
                            "{name} left the MPD while it ends {:.3} s inside the time-shift buffer",
                            end - buffer
                        ),
                    ));
                }
            }
        }
    }
    for (i, n) in next.periods.iter().enumerate() {
        let known = prev.periods.iter().any(|p| p.id.is_some() && p.id == n.id);
        if !known && n.start.is_some_and(|s| s < newest_before - 1e-3) {
            out.push(error(
                "period-inserted-in-past",
                format!(
                    "{}: a new Period starts before one published earlier",
                    period_name(n, i)
                ),
            ));
        }
    }
}

fn media_end(p: &crate::PeriodView) -> Option<f64> {
    p.reps
        .iter()
        .filter_map(|r| r.segments.last().map(|s| s.end))
        .reduce(f64::max)
}

/// One Period in two updates: every segment number in both keeps its time and duration,
/// and one that left was outside the time-shift buffer.
fn compare_period(
    name: &str,
    prev: &crate::PeriodView,
    next: &crate::PeriodView,
    buffer: Option<f64>,
    out: &mut Vec<Problem>,
) {
    for r in &prev.reps {
        let Some(n) = next.reps.iter().find(|n| n.key == r.key) else {
            continue;
        };
        let now: HashMap<u64, (u64, u64, f64)> = n
            .segments
            .iter()
            .map(|s| (s.number, (s.t, s.d, s.start)))
            .collect();
        let first = n.segments.first().map(|s| s.number);
        for s in &r.segments {
            match now.get(&s.number) {
                Some(&(t, d, start)) => {
                    if t != s.t || d != s.d || (start - s.start).abs() > 1e-3 {
                        out.push(with_number(
                            error(
                                "timeline-rewritten",
                                format!(
                                    "{name} {}: segment {} was t={} d={} (at {:.3} s), now t={t} d={d} (at {start:.3} s)",
                                    r.key, s.number, s.t, s.d, s.start
                                ),
                            ),
                            s.number,
                        ));
                    }
                }
                None => {
                    let left_early = buffer.is_some_and(|b| s.end > b + TOLERANCE);
                    let before_first = first.is_some_and(|f| s.number < f);
                    if left_early || !before_first {
                        out.push(with_number(
                            error(
                                "segment-removed-early",
                                format!(
                                    "{name} {}: segment {} left the MPD while it is in the time-shift buffer",
                                    r.key, s.number
                                ),
                            ),
                            s.number,
                        ));
                    }
                }
            }
        }
    }
}
