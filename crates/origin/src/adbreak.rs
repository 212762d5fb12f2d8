//! Ad breaks as the origin understands them from ingested markers (`EXT-X-CUE-OUT`/`-IN`,
//! `EXT-X-OATCLS-SCTE35`, `EXT-X-DATERANGE` with SCTE-35): [`AdMark`] of each segment,
//! derived from its own markers and its predecessor's when it joins a timeline.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hls::Marker;

use crate::timeline::SegMeta;

/// An ad break as the origin understood it from the ingested markers.
#[derive(Debug, Clone, PartialEq)]
pub struct AdBreak {
    pub event_id: u32,
    pub start: DateTime<Utc>,
    /// Planned duration, seconds (0 when unknown).
    pub duration: f64,
    /// The SCTE-35 `splice_info_section` that opened the break (ingested or synthesized).
    pub scte35_out: Vec<u8>,
}

/// Where a segment sits relative to an ad break.
#[derive(Debug, Clone, PartialEq)]
pub enum AdMark {
    /// The first segment of a break.
    Out(Arc<AdBreak>),
    /// Inside a break, `elapsed` seconds after its start.
    Cont(Arc<AdBreak>, f64),
    /// The first segment back in the program after the break.
    In(Arc<AdBreak>),
}

/// Derive a segment's place in an ad break from its own markers and its predecessor's.
pub(crate) fn ad_mark(meta: &SegMeta, prev: Option<(AdMark, f64)>) -> Option<AdMark> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    // Signals on this segment.
    let mut out: Option<(f64, Option<Vec<u8>>)> = None;
    let mut back_in = false;
    let mut payload: Option<Vec<u8>> = None;
    let mut cont_elapsed: Option<f64> = None;
    for m in &meta.markers {
        match m {
            Marker::CueOut { .. } => out = Some((m.duration().unwrap_or(0.0), None)),
            Marker::CueIn => back_in = true,
            Marker::OatclsScte35(v) => payload = b64.decode(v.trim()).ok(),
            Marker::CueOutCont { .. } => cont_elapsed = m.elapsed(),
            _ => {}
        }
    }
    for d in &meta.dateranges {
        if let Some(bytes) = d.scte35("SCTE35-OUT") {
            let dur = d
                .planned_duration()
                .or(d.duration())
                .or_else(|| {
                    media::scte35::SpliceInsert::parse(&bytes)
                        .ok()
                        .and_then(|s| s.duration_secs())
                })
                .unwrap_or(0.0);
            out = Some((dur, Some(bytes)));
        } else if d.scte35("SCTE35-IN").is_some() || d.end_date().is_some() {
            back_in = true;
        }
    }
    let prev_break = prev.as_ref().and_then(|(a, d)| match a {
        AdMark::Out(b) => Some((b.clone(), *d)),
        AdMark::Cont(b, e) => Some((b.clone(), e + d)),
        AdMark::In(_) => None,
    });
    let continuing = prev_break.is_some() && !back_in;
    if let Some((mut duration, bytes)) = out.filter(|_| !continuing) {
        let bytes = bytes.or(payload);
        let parsed = bytes
            .as_deref()
            .and_then(|b| media::scte35::SpliceInsert::parse(b).ok());
        if duration <= 0.0 {
            duration = parsed.and_then(|p| p.duration_secs()).unwrap_or(0.0);
        }
        let event_id = parsed.map(|p| p.event_id).unwrap_or(meta.seq as u32);
        let scte35_out = bytes.unwrap_or_else(|| {
            media::scte35::SpliceInsert::out(
                event_id,
                None,
                (duration > 0.0).then(|| (duration * 90_000.0).round() as u64),
            )
            .to_bytes()
        });
        return Some(AdMark::Out(Arc::new(AdBreak {
            event_id,
            start: meta.start,
            duration,
            scte35_out,
        })));
    }
    let (brk, elapsed) = prev_break?;
    if back_in || (brk.duration > 0.0 && elapsed >= brk.duration - 0.05) {
        return Some(AdMark::In(brk));
    }
    Some(AdMark::Cont(brk, cont_elapsed.unwrap_or(elapsed)))
}
