//! One MPD reduced to what the rules look at, and the structural rules on it.

use chrono::{DateTime, Utc};

use crate::{EDGE_LIMIT, Problem, TOLERANCE, error, warning};

/// One segment of a Representation's timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegView {
    /// Its `$Number$`.
    pub number: u64,
    /// Media time and duration (the Representation's timescale).
    pub t: u64,
    pub d: u64,
    /// Where it starts on the presentation timeline, seconds from the MPD's zero
    /// (`availabilityStartTime` of a dynamic MPD).
    pub start: f64,
    pub end: f64,
}

/// A Representation with a `SegmentTemplate`.
#[derive(Debug, Clone, PartialEq)]
pub struct RepView {
    /// `<AdaptationSet index>/<Representation@id>`.
    pub key: String,
    pub timescale: u64,
    pub pto: u64,
    pub start_number: Option<u64>,
    pub media: Option<String>,
    pub initialization: Option<String>,
    pub bandwidth: Option<u64>,
    pub segments: Vec<SegView>,
}

/// A Period.
#[derive(Debug, Clone, PartialEq)]
pub struct PeriodView {
    pub id: Option<String>,
    /// Seconds from the MPD's zero; `None` when neither given nor implied.
    pub start: Option<f64>,
    pub adaptation_sets: usize,
    pub reps: Vec<RepView>,
}

/// An MPD as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub dynamic: bool,
    pub availability_start: Option<DateTime<Utc>>,
    pub publish_time: Option<DateTime<Utc>>,
    /// Seconds.
    pub time_shift_buffer_depth: Option<f64>,
    pub minimum_update_period: Option<f64>,
    pub utc_timing: bool,
    pub periods: Vec<PeriodView>,
    /// Structural problems found while reducing (missing templates, codecs, ...).
    pending: Vec<Problem>,
}

fn secs(d: std::time::Duration) -> f64 {
    d.as_secs_f64()
}

impl Snapshot {
    /// Parse with `dash-mpd` and reduce.
    pub fn parse(text: &str) -> Result<Snapshot, Problem> {
        let mpd = dash_mpd::parse(text).map_err(|e| error("mpd-parse", e.to_string()))?;
        let mut pending = Vec::new();
        let dynamic = match mpd.mpdtype.as_deref() {
            Some("dynamic") => true,
            Some("static") | None => false,
            Some(other) => {
                pending.push(error(
                    "mpd-type",
                    format!("MPD@type {other:?} is neither static nor dynamic"),
                ));
                false
            }
        };
        let mut periods: Vec<PeriodView> = Vec::new();
        for (i, p) in mpd.periods.iter().enumerate() {
            // An absent start follows the previous Period's end, or is 0 for the first
            // Period of a static MPD.
            let implied = match periods.last() {
                None if !dynamic => Some(0.0),
                None => None,
                Some(prev) => prev
                    .start
                    .zip(mpd.periods[i - 1].duration)
                    .map(|(s, d)| s + secs(d)),
            };
            let start = p.start.map(secs).or(implied);
            let reps = reps_of(p, start.unwrap_or(0.0), &mut pending);
            periods.push(PeriodView {
                id: p.id.clone(),
                start,
                adaptation_sets: p.adaptations.len(),
                reps,
            });
        }
        Ok(Snapshot {
            dynamic,
            availability_start: mpd.availabilityStartTime,
            publish_time: mpd.publishTime,
            time_shift_buffer_depth: mpd.timeShiftBufferDepth.map(secs),
            minimum_update_period: mpd.minimumUpdatePeriod.map(secs),
            utc_timing: !mpd.UTCTiming.is_empty(),
            periods,
            pending,
        })
    }

    /// The structural rules.
    pub fn check(&self) -> Vec<Problem> {
        let mut out = self.pending.clone();
        if self.dynamic {
            self.check_dynamic(&mut out);
        }
        let mut seen = std::collections::HashSet::new();
        for (i, p) in self.periods.iter().enumerate() {
            let name = period_name(p, i);
            if let Some(id) = &p.id
                && !seen.insert(id.clone())
            {
                out.push(error(
                    "period-id-duplicate",
                    format!("{name}: id used twice"),
                ));
            }
            if p.start.is_none() {
                out.push(error(
                    "period-start-missing",
                    format!("{name}: no start, and none implied by the Period before"),
                ));
            }
            if p.adaptation_sets == 0 {
                out.push(error("period-empty", format!("{name}: no AdaptationSet")));
            }
            if let (Some(a), Some(b)) = (p.start, self.periods.get(i + 1).and_then(|n| n.start)) {
                if b <= a {
                    out.push(error(
                        "period-start-order",
                        format!("{name}: the next Period starts at {b} s, not after {a} s"),
                    ));
                }
                check_edge(p, &name, b, &mut out);
            }
            for r in &p.reps {
                check_timeline(p, &name, r, &mut out);
            }
        }
        out
    }

    fn check_dynamic(&self, out: &mut Vec<Problem>) {
        if self.availability_start.is_none() {
            out.push(error(
                "dynamic-availability-start-time",
                "dynamic MPD without availabilityStartTime",
            ));
        }
        if self.publish_time.is_none() {
            out.push(error(
                "dynamic-publish-time",
                "dynamic MPD without publishTime",
            ));
        }
        if self.minimum_update_period.is_none() {
            out.push(error(
                "dynamic-minimum-update-period",
                "dynamic MPD without minimumUpdatePeriod: players never reload it",
            ));
        }
        if !self.utc_timing {
            out.push(warning(
                "utc-timing-missing",
                "dynamic MPD without UTCTiming: players guess the server's clock",
            ));
        }
        for (i, p) in self.periods.iter().enumerate() {
            if p.id.is_none() {
                out.push(error(
                    "period-id-missing",
                    format!("Period {i} of a dynamic MPD has no id"),
                ));
            }
        }
    }

    /// The time-shift buffer's start at this MPD's publish time, seconds from its zero.
    pub fn buffer_start(&self) -> Option<f64> {
        let (ast, publish) = (self.availability_start?, self.publish_time?);
        let now = (publish - ast).num_microseconds()? as f64 / 1e6;
        Some(now - self.time_shift_buffer_depth?)
    }
}

pub(crate) fn period_name(p: &PeriodView, i: usize) -> String {
    match &p.id {
        Some(id) => format!("Period {id:?}"),
        None => format!("Period {i}"),
    }
}

/// Media of `p` against the next Period's start `next`.
fn check_edge(p: &PeriodView, name: &str, next: f64, out: &mut Vec<Problem>) {
    for r in &p.reps {
        let Some(last) = r.segments.last() else {
            continue;
        };
        let gap = next - last.end;
        if gap > EDGE_LIMIT {
            out.push(with_number(
                error(
                    "period-gap",
                    format!(
                        "{name} {}: media ends {gap:.3} s before the next Period starts",
                        r.key
                    ),
                ),
                last.number,
            ));
        } else if -gap > EDGE_LIMIT {
            out.push(with_number(
                error(
                    "period-overlap",
                    format!(
                        "{name} {}: media runs {:.3} s into the next Period",
                        r.key, -gap
                    ),
                ),
                last.number,
            ));
        }
    }
}

fn check_timeline(p: &PeriodView, name: &str, r: &RepView, out: &mut Vec<Problem>) {
    let ts = r.timescale.max(1) as f64;
    for w in r.segments.windows(2) {
        let (a, b) = (w[0], w[1]);
        let end = a.t + a.d;
        if b.t < end {
            out.push(with_number(
                error(
                    "timeline-overlap",
                    format!(
                        "{name} {}: segment {} starts {:.3} s before the previous one ends",
                        r.key,
                        b.number,
                        (end - b.t) as f64 / ts
                    ),
                ),
                b.number,
            ));
        } else if (b.t - end) as f64 / ts > TOLERANCE {
            out.push(with_number(
                warning(
                    "timeline-gap",
                    format!(
                        "{name} {}: {:.3} s gap before segment {}",
                        r.key,
                        (b.t - end) as f64 / ts,
                        b.number
                    ),
                ),
                b.number,
            ));
        }
    }
    if let Some(first) = r.segments.first()
        && (r.pto as f64 - first.t as f64) / ts > TOLERANCE
        && p.start.is_some()
    {
        out.push(with_number(
            error(
                "timeline-before-period",
                format!(
                    "{name} {}: segment {} starts {:.3} s before presentationTimeOffset",
                    r.key,
                    first.number,
                    (r.pto - first.t) as f64 / ts
                ),
            ),
            first.number,
        ));
    }
}

pub(crate) fn with_number(mut p: Problem, number: u64) -> Problem {
    p.sequence = Some(number);
    p
}

/// The Representations of a Period, with templates inherited from the AdaptationSet and
/// Period.
fn reps_of(p: &dash_mpd::Period, start: f64, pending: &mut Vec<Problem>) -> Vec<RepView> {
    let mut out = Vec::new();
    for (ai, a) in p.adaptations.iter().enumerate() {
        for (ri, r) in a.representations.iter().enumerate() {
            let key = format!("{ai}/{}", r.id.clone().unwrap_or_else(|| ri.to_string()));
            let where_ = format!("Period {:?} {key}", p.id.as_deref().unwrap_or("?"));
            if r.codecs.is_none() && a.codecs.is_none() {
                pending.push(error("codecs-missing", format!("{where_}: no codecs")));
            }
            if r.bandwidth.is_none() {
                pending.push(error(
                    "bandwidth-missing",
                    format!("{where_}: no bandwidth"),
                ));
            }
            let tpl = r
                .SegmentTemplate
                .as_ref()
                .or(a.SegmentTemplate.as_ref())
                .or(p.SegmentTemplate.as_ref());
            let Some(tpl) = tpl.filter(|t| t.SegmentTimeline.is_some()) else {
                pending.push(error(
                    "segment-template-missing",
                    format!("{where_}: no SegmentTemplate with a SegmentTimeline"),
                ));
                continue;
            };
            if tpl.startNumber.is_none() {
                pending.push(warning(
                    "start-number-missing",
                    format!("{where_}: SegmentTemplate without startNumber (1 implied)"),
                ));
            }
            if !tpl
                .media
                .as_deref()
                .is_some_and(|m| m.contains("$Number") || m.contains("$Time"))
            {
                pending.push(error(
                    "media-template",
                    format!("{where_}: SegmentTemplate@media names neither $Number$ nor $Time$"),
                ));
            }
            out.push(rep_view(key, r.bandwidth, tpl, start));
        }
    }
    out
}

fn rep_view(
    key: String,
    bandwidth: Option<u64>,
    tpl: &dash_mpd::SegmentTemplate,
    period_start: f64,
) -> RepView {
    let timescale = tpl.timescale.unwrap_or(1).max(1);
    let pto = tpl.presentationTimeOffset.unwrap_or(0);
    let start_number = tpl.startNumber;
    let mut segments = Vec::new();
    let mut number = start_number.unwrap_or(1);
    let mut t = 0u64;
    let entries = tpl
        .SegmentTimeline
        .as_ref()
        .map(|tl| tl.segments.as_slice())
        .unwrap_or(&[]);
    for s in entries {
        if let Some(st) = s.t {
            t = st;
        }
        // A negative repeat ("until the next S or the Period's end") is read as none.
        for _ in 0..=s.r.unwrap_or(0).max(0) {
            let start = period_start + (t as f64 - pto as f64) / timescale as f64;
            segments.push(SegView {
                number,
                t,
                d: s.d,
                start,
                end: start + s.d as f64 / timescale as f64,
            });
            number += 1;
            t += s.d;
        }
    }
    RepView {
        key,
        timescale,
        pto,
        start_number,
        media: tpl.media.clone(),
        initialization: tpl.initialization.clone(),
        bandwidth,
        segments,
    }
}
