//! The MPD model (the part of ISO/IEC 23009-1 this origin writes) and its writer
//! (quick-xml). Pure: values in, XML text out, elements in the order the DASH schema
//! (`DASH-MPD.xsd`) requires.

use std::io;

use chrono::{DateTime, SecondsFormat, Utc};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, Event};

/// An MPD.
#[derive(Debug, Clone, PartialEq)]
pub struct Mpd {
    /// `type="dynamic"` (live, start-over) or `"static"` (time-shifted window).
    pub dynamic: bool,
    pub availability_start_time: Option<DateTime<Utc>>,
    pub publish_time: Option<DateTime<Utc>>,
    /// Seconds.
    pub minimum_update_period: Option<u64>,
    /// Seconds.
    pub time_shift_buffer_depth: Option<u64>,
    /// Seconds.
    pub suggested_presentation_delay: Option<u64>,
    /// Seconds.
    pub min_buffer_time: u64,
    /// Microseconds.
    pub max_segment_duration_us: Option<i64>,
    /// Microseconds (static MPDs).
    pub media_presentation_duration_us: Option<i64>,
    pub periods: Vec<Period>,
    /// `(schemeIdUri, value)`.
    pub utc_timing: Option<(&'static str, String)>,
}

/// A Period.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub id: String,
    /// `@start`, microseconds from the presentation's zero (`availabilityStartTime` of a
    /// dynamic MPD, the start of a static one).
    pub start_us: i64,
    pub event_streams: Vec<EventStream>,
    pub adaptation_sets: Vec<AdaptationSet>,
}

/// An EventStream of a Period.
#[derive(Debug, Clone, PartialEq)]
pub struct EventStream {
    pub scheme_id_uri: &'static str,
    pub timescale: u32,
    pub events: Vec<DashEvent>,
}

/// An Event; its payload is one SCTE-35 `splice_insert` (the only kind written so far).
#[derive(Debug, Clone, PartialEq)]
pub struct DashEvent {
    pub id: u32,
    /// Relative to the Period start, EventStream timescale.
    pub presentation_time: u64,
    pub duration: Option<u64>,
    pub splice: media::scte35::SpliceInsert,
}

/// An AdaptationSet.
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptationSet {
    pub id: u32,
    /// `video`, `audio` (absent for a muxed audio+video set).
    pub content_type: Option<&'static str>,
    pub mime_type: &'static str,
    pub lang: Option<String>,
    /// `ContentProtection` elements (encrypted endpoints), in order.
    pub protection: Vec<ContentProtection>,
    /// `Role@value` (`urn:mpeg:dash:role:2011`): `main`, `alternate`.
    pub role: Option<&'static str>,
    pub representations: Vec<Representation>,
}

/// A `ContentProtection` descriptor: the common encryption scheme
/// (`urn:mpeg:dash:mp4protection:2011`, `value` `cenc`/`cbcs`, `cenc:default_KID`) or one
/// DRM system (`urn:uuid:<system id>`, its `cenc:pssh`, base64).
#[derive(Debug, Clone, PartialEq)]
pub struct ContentProtection {
    pub scheme_id_uri: String,
    pub value: Option<String>,
    pub default_kid: Option<String>,
    pub pssh: Option<String>,
}

/// A Representation with its SegmentTemplate.
#[derive(Debug, Clone, PartialEq)]
pub struct Representation {
    pub id: String,
    pub bandwidth: u64,
    pub codecs: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub audio_sampling_rate: Option<u32>,
    /// `AudioChannelConfiguration` (23003-3).
    pub audio_channels: Option<u16>,
    pub template: SegmentTemplate,
}

/// `SegmentTemplate` with `$Number$` and a `SegmentTimeline`.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentTemplate {
    pub timescale: u32,
    pub presentation_time_offset: u64,
    pub start_number: u64,
    pub initialization: String,
    pub media: String,
    pub timeline: Vec<S>,
}

/// One `S` element: `r + 1` segments of duration `d`, the first at `t` (implied when
/// `None`: the end of the previous one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S {
    pub t: Option<u64>,
    pub d: u64,
    pub r: u32,
}

/// `(t, d)` of consecutive segments to `S` entries: `t` where it does not follow the end
/// of the previous segment, `r` for runs of equal durations.
pub fn timeline(segments: impl IntoIterator<Item = (u64, u64)>) -> Vec<S> {
    let mut out: Vec<S> = Vec::new();
    let mut end: Option<u64> = None;
    for (t, d) in segments {
        let follows = end == Some(t);
        match out.last_mut() {
            Some(last) if follows && last.d == d => last.r += 1,
            _ => out.push(S {
                t: (!follows).then_some(t),
                d,
                r: 0,
            }),
        }
        end = Some(t + d);
    }
    out
}

/// `xs:duration` of microseconds: `PT12.5S`.
pub fn duration(us: i64) -> String {
    let sign = if us < 0 { "-" } else { "" };
    let us = us.unsigned_abs();
    let (secs, frac) = (us / 1_000_000, us % 1_000_000);
    if frac == 0 {
        format!("{sign}PT{secs}S")
    } else {
        let f = format!("{frac:06}");
        format!("{sign}PT{secs}.{}S", f.trim_end_matches('0'))
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

type W = Writer<Vec<u8>>;

/// An element with attributes (`None` values are left out) and children.
fn el(
    w: &mut W,
    name: &str,
    attrs: &[(&str, Option<String>)],
    children: impl FnOnce(&mut W) -> io::Result<()>,
) -> io::Result<()> {
    let mut start = BytesStart::new(name);
    for (k, v) in attrs {
        if let Some(v) = v {
            start.push_attribute((*k, v.as_str()));
        }
    }
    w.write_event(Event::Start(start))?;
    children(w)?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// An element without children.
fn empty(w: &mut W, name: &str, attrs: &[(&str, Option<String>)]) -> io::Result<()> {
    let mut start = BytesStart::new(name);
    for (k, v) in attrs {
        if let Some(v) = v {
            start.push_attribute((*k, v.as_str()));
        }
    }
    w.write_event(Event::Empty(start))
}

fn some<T: ToString>(v: T) -> Option<String> {
    Some(v.to_string())
}

impl Mpd {
    /// The MPD as XML.
    pub fn to_xml(&self) -> String {
        let mut w = Writer::new_with_indent(Vec::with_capacity(4096), b' ', 1);
        // Writing into a Vec cannot fail.
        let _ = self.write(&mut w);
        String::from_utf8(w.into_inner()).unwrap_or_default()
    }

    fn write(&self, w: &mut W) -> io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let scte = self.periods.iter().any(|p| !p.event_streams.is_empty());
        let cenc = self
            .periods
            .iter()
            .flat_map(|p| &p.adaptation_sets)
            .any(|a| !a.protection.is_empty());
        let attrs = [
            ("xmlns", some("urn:mpeg:dash:schema:mpd:2011")),
            ("xmlns:cenc", cenc.then(|| "urn:mpeg:cenc:2013".into())),
            (
                "xmlns:scte35",
                scte.then(|| "http://www.scte.org/schemas/35/2016".into()),
            ),
            ("profiles", some("urn:mpeg:dash:profile:isoff-live:2011")),
            (
                "type",
                some(if self.dynamic { "dynamic" } else { "static" }),
            ),
            (
                "availabilityStartTime",
                self.availability_start_time.map(time),
            ),
            ("publishTime", self.publish_time.map(time)),
            (
                "mediaPresentationDuration",
                self.media_presentation_duration_us.map(duration),
            ),
            (
                "minimumUpdatePeriod",
                self.minimum_update_period
                    .map(|s| duration(s as i64 * 1_000_000)),
            ),
            (
                "timeShiftBufferDepth",
                self.time_shift_buffer_depth
                    .map(|s| duration(s as i64 * 1_000_000)),
            ),
            (
                "suggestedPresentationDelay",
                self.suggested_presentation_delay
                    .map(|s| duration(s as i64 * 1_000_000)),
            ),
            (
                "maxSegmentDuration",
                self.max_segment_duration_us.map(duration),
            ),
            (
                "minBufferTime",
                some(duration(self.min_buffer_time as i64 * 1_000_000)),
            ),
        ];
        el(w, "MPD", &attrs, |w| {
            for p in &self.periods {
                p.write(w)?;
            }
            if let Some((scheme, value)) = &self.utc_timing {
                empty(
                    w,
                    "UTCTiming",
                    &[("schemeIdUri", some(scheme)), ("value", some(value))],
                )?;
            }
            Ok(())
        })
    }
}

impl Period {
    fn write(&self, w: &mut W) -> io::Result<()> {
        let attrs = [
            ("id", some(&self.id)),
            ("start", some(duration(self.start_us))),
        ];
        el(w, "Period", &attrs, |w| {
            for es in &self.event_streams {
                es.write(w)?;
            }
            for a in &self.adaptation_sets {
                a.write(w)?;
            }
            Ok(())
        })
    }
}

impl EventStream {
    fn write(&self, w: &mut W) -> io::Result<()> {
        let attrs = [
            ("schemeIdUri", some(self.scheme_id_uri)),
            ("timescale", some(self.timescale)),
        ];
        el(w, "EventStream", &attrs, |w| {
            for e in &self.events {
                let attrs = [
                    ("presentationTime", some(e.presentation_time)),
                    ("duration", e.duration.map(|d| d.to_string())),
                    ("id", some(e.id)),
                ];
                el(w, "Event", &attrs, |w| scte35_xml(w, &e.splice))?;
            }
            Ok(())
        })
    }
}

/// A `splice_insert` as SCTE 214-1 / SCTE 35 XML (`urn:scte:scte35:2013:xml`).
fn scte35_xml(w: &mut W, s: &media::scte35::SpliceInsert) -> io::Result<()> {
    let section = [
        ("protocolVersion", some(0)),
        ("ptsAdjustment", some(0)),
        ("tier", some(4095)),
    ];
    el(w, "scte35:SpliceInfoSection", &section, |w| {
        let insert = [
            ("spliceEventId", some(s.event_id)),
            ("spliceEventCancelIndicator", some(false)),
            ("outOfNetworkIndicator", some(s.out_of_network)),
            ("uniqueProgramId", some(s.program_id)),
            ("availNum", some(s.avail_num)),
            ("availsExpected", some(s.avails_expected)),
            ("spliceImmediateFlag", some(s.pts.is_none())),
        ];
        el(w, "scte35:SpliceInsert", &insert, |w| {
            if let Some(pts) = s.pts {
                el(w, "scte35:Program", &[], |w| {
                    empty(w, "scte35:SpliceTime", &[("ptsTime", some(pts))])
                })?;
            }
            if let Some(d) = s.duration {
                empty(
                    w,
                    "scte35:BreakDuration",
                    &[("autoReturn", some(s.auto_return)), ("duration", some(d))],
                )?;
            }
            Ok(())
        })
    })
}

impl AdaptationSet {
    fn write(&self, w: &mut W) -> io::Result<()> {
        let attrs = [
            ("id", some(self.id)),
            ("contentType", self.content_type.map(str::to_string)),
            ("mimeType", some(self.mime_type)),
            ("lang", self.lang.clone()),
            ("segmentAlignment", some(true)),
            ("startWithSAP", some(1)),
        ];
        el(w, "AdaptationSet", &attrs, |w| {
            for cp in &self.protection {
                cp.write(w)?;
            }
            if let Some(role) = self.role {
                empty(
                    w,
                    "Role",
                    &[
                        ("schemeIdUri", some("urn:mpeg:dash:role:2011")),
                        ("value", some(role)),
                    ],
                )?;
            }
            for r in &self.representations {
                r.write(w)?;
            }
            Ok(())
        })
    }
}

impl ContentProtection {
    fn write(&self, w: &mut W) -> io::Result<()> {
        let attrs = [
            ("schemeIdUri", some(&self.scheme_id_uri)),
            ("value", self.value.clone()),
            ("cenc:default_KID", self.default_kid.clone()),
        ];
        match &self.pssh {
            None => empty(w, "ContentProtection", &attrs),
            Some(b64) => el(w, "ContentProtection", &attrs, |w| {
                el(w, "cenc:pssh", &[], |w| {
                    w.write_event(Event::Text(quick_xml::events::BytesText::new(b64)))
                        .map(|_| ())
                })
            }),
        }
    }
}

impl Representation {
    fn write(&self, w: &mut W) -> io::Result<()> {
        let attrs = [
            ("id", some(&self.id)),
            ("bandwidth", some(self.bandwidth.max(1))),
            ("codecs", some(&self.codecs)),
            ("width", self.width.map(|v| v.to_string())),
            ("height", self.height.map(|v| v.to_string())),
            (
                "audioSamplingRate",
                self.audio_sampling_rate.map(|v| v.to_string()),
            ),
        ];
        el(w, "Representation", &attrs, |w| {
            if let Some(ch) = self.audio_channels {
                empty(
                    w,
                    "AudioChannelConfiguration",
                    &[
                        (
                            "schemeIdUri",
                            some("urn:mpeg:dash:23003:3:audio_channel_configuration:2011"),
                        ),
                        ("value", some(ch)),
                    ],
                )?;
            }
            let t = &self.template;
            let attrs = [
                ("timescale", some(t.timescale)),
                ("presentationTimeOffset", some(t.presentation_time_offset)),
                ("startNumber", some(t.start_number)),
                ("initialization", some(&t.initialization)),
                ("media", some(&t.media)),
            ];
            el(w, "SegmentTemplate", &attrs, |w| {
                el(w, "SegmentTimeline", &[], |w| {
                    for s in &t.timeline {
                        empty(
                            w,
                            "S",
                            &[
                                ("t", s.t.map(|t| t.to_string())),
                                ("d", some(s.d)),
                                ("r", (s.r > 0).then(|| s.r.to_string())),
                            ],
                        )?;
                    }
                    Ok(())
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_runs_and_jumps() {
        let s = timeline([(100, 10), (110, 10), (120, 10), (130, 12), (150, 10)]);
        assert_eq!(
            s,
            [
                S {
                    t: Some(100),
                    d: 10,
                    r: 2
                },
                S {
                    t: None,
                    d: 12,
                    r: 0
                },
                S {
                    t: Some(150),
                    d: 10,
                    r: 0
                }
            ]
        );
        assert!(timeline([]).is_empty());
    }

    #[test]
    fn durations() {
        assert_eq!(duration(0), "PT0S");
        assert_eq!(duration(2_500_000), "PT2.5S");
        assert_eq!(duration(1_796_000_000_000_123), "PT1796000000.000123S");
        assert_eq!(duration(-1_500_000), "-PT1.5S");
    }
}
