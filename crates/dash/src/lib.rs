//! # dash: checks of MPEG-DASH MPDs
//!
//! **For**: telling whether an MPD (ISO/IEC 23009-1) is one players can trust, alone and
//! across the updates of a live presentation: the rules `lineup validate` runs on an
//! `.mpd`, and that tests run on every MPD the origin publishes. Pure: the caller fetches.
//! **Not for**: writing MPDs (the origin's `dash` module does), fetching, or checking
//! media bytes.
//!
//! The MPD is parsed with the `dash-mpd` crate into its typed model, then reduced to a
//! [`Snapshot`]: each Period's id and start, and each Representation's segments (number,
//! media time, duration, and the time on the presentation timeline they map to).
//!
//! - [`check_text`]: the structural rules of one MPD ([`Snapshot::check`]);
//! - [`LiveTracker`]: the rules across updates of one dynamic MPD (Periods' ids and starts
//!   stable, timelines never rewritten in the past, `$Number$` to time stable,
//!   `availabilityStartTime` fixed, nothing leaves before the time-shift buffer says).
//!
//! Problems use `hls::validate::Problem` (the rule id, severity, the segment's
//! `$Number$` as its sequence), so `lineup validate` reports both the same way. Rule ids
//! are part of the interface: `tests/fixtures/broken-dash/` names its fixtures by them.

mod live;
mod snapshot;

pub use hls::validate::{Problem, Severity};
pub use live::LiveTracker;
pub use snapshot::{PeriodView, RepView, SegView, Snapshot};

/// Tolerance on media times across Period edges and updates, seconds: below a frame.
pub const TOLERANCE: f64 = 0.04;
/// A gap or overlap at a Period edge larger than this is an error (players jump gaps of
/// up to about half a second; Shaka's default).
pub const EDGE_LIMIT: f64 = 0.5;

pub(crate) fn error(rule: &'static str, message: impl Into<String>) -> Problem {
    Problem {
        rule,
        severity: Severity::Error,
        line: None,
        sequence: None,
        message: message.into(),
    }
}

pub(crate) fn warning(rule: &'static str, message: impl Into<String>) -> Problem {
    Problem {
        severity: Severity::Warning,
        ..error(rule, message)
    }
}

/// Parse `text` and run the structural rules; the snapshot when it parsed.
pub fn check_text(text: &str) -> (Option<Snapshot>, Vec<Problem>) {
    match Snapshot::parse(text) {
        Ok(s) => {
            let problems = s.check();
            (Some(s), problems)
        }
        Err(p) => (None, vec![p]),
    }
}

/// Every rule id, with what it checks.
pub const RULES: &[(&str, &str)] = &[
    ("mpd-parse", "the text parses as an MPD"),
    ("mpd-type", "MPD@type is static or dynamic"),
    (
        "dynamic-availability-start-time",
        "a dynamic MPD has availabilityStartTime",
    ),
    ("dynamic-publish-time", "a dynamic MPD has publishTime"),
    (
        "dynamic-minimum-update-period",
        "a dynamic MPD that will change has minimumUpdatePeriod",
    ),
    (
        "utc-timing-missing",
        "a dynamic MPD names a UTCTiming source (warning)",
    ),
    (
        "period-id-missing",
        "every Period of a dynamic MPD has an id",
    ),
    ("period-id-duplicate", "Period ids are unique"),
    ("period-start-missing", "every Period has a start"),
    ("period-start-order", "Periods start in increasing order"),
    ("period-empty", "a Period has an AdaptationSet"),
    (
        "period-gap",
        "a Period's media reaches the next Period's start (no gap over 0.5 s)",
    ),
    (
        "period-overlap",
        "a Period's media ends by the next Period's start (no overlap over 0.5 s)",
    ),
    (
        "segment-template-missing",
        "a Representation has a SegmentTemplate with a SegmentTimeline",
    ),
    (
        "start-number-missing",
        "SegmentTemplate@startNumber is present",
    ),
    (
        "media-template",
        "SegmentTemplate@media names $Number$ or $Time$",
    ),
    ("codecs-missing", "a Representation has codecs"),
    ("bandwidth-missing", "a Representation has a bandwidth"),
    (
        "timeline-overlap",
        "a SegmentTimeline's segments do not overlap",
    ),
    (
        "timeline-gap",
        "a SegmentTimeline's segments follow each other (warning)",
    ),
    (
        "timeline-before-period",
        "no segment starts before its Period (presentationTimeOffset)",
    ),
    (
        "availability-start-time-changed",
        "availabilityStartTime never moves across updates",
    ),
    ("publish-time-decreased", "publishTime never goes back"),
    ("type-changed", "a static MPD never becomes dynamic"),
    (
        "period-start-changed",
        "a Period's start never changes across updates",
    ),
    (
        "period-removed-early",
        "a Period leaves only after it left the time-shift buffer",
    ),
    (
        "period-inserted-in-past",
        "a new Period never starts before a Period already published",
    ),
    (
        "timeline-rewritten",
        "a segment number keeps its media time and duration across updates",
    ),
    (
        "segment-removed-early",
        "a segment leaves only after it left the time-shift buffer",
    ),
];
