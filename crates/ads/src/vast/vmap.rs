//! VMAP 1.0 (IAB): the ad breaks of an answer, each with its time offset, its ad source
//! (inline VAST data or an ad tag URI) and its tracking. Read with `quick-xml` (vast4-rs
//! has no VMAP); element names are matched by local name, so any namespace prefix works.

use quick_xml::events::Event;

use crate::error::{AdsError, Result};

/// `timeOffset` of a break.
#[derive(Debug, Clone, PartialEq)]
pub enum Offset {
    /// `start`, or a time of zero: a pre-roll.
    Start,
    /// `end`: a post-roll.
    End,
    /// `HH:MM:SS[.mmm]`, seconds.
    Time(f64),
    /// `n%` of the content.
    Percent(f64),
    /// `#n`: the n-th opportunity.
    Position(u32),
}

impl Offset {
    fn parse(s: &str) -> Option<Offset> {
        let s = s.trim();
        match s {
            "start" => return Some(Offset::Start),
            "end" => return Some(Offset::End),
            _ => {}
        }
        if let Some(p) = s.strip_suffix('%') {
            let p: f64 = p.trim().parse().ok()?;
            return Some(if p == 0.0 {
                Offset::Start
            } else {
                Offset::Percent(p)
            });
        }
        if let Some(n) = s.strip_prefix('#') {
            return n.parse().ok().map(Offset::Position);
        }
        let mut parts = s.split(':');
        let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
        let secs = h.parse::<f64>().ok()? * 3600.0
            + m.parse::<f64>().ok()? * 60.0
            + sec.parse::<f64>().ok()?;
        Some(if secs == 0.0 {
            Offset::Start
        } else {
            Offset::Time(secs)
        })
    }
}

/// Where a break's ads come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `<VASTAdData>`: a VAST document inline.
    VastData(String),
    /// `<AdTagURI>`: a URL answering VAST.
    AdTagUri(String),
    None,
}

/// One `<AdBreak>`.
#[derive(Debug, Clone, PartialEq)]
pub struct AdBreak {
    pub id: Option<String>,
    pub offset: Offset,
    pub break_type: String,
    pub source: Source,
    /// (`breakStart` | `breakEnd` | `error`, URL).
    pub tracking: Vec<(String, String)>,
}

/// Whether a document is VMAP rather than VAST.
pub fn is_vmap(xml: &str) -> bool {
    let head = &xml[..xml.len().min(2048)];
    head.contains(":VMAP") || head.contains("<VMAP")
}

fn attr(s: &quick_xml::events::BytesStart<'_>, key: &str) -> Option<String> {
    s.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == key.as_bytes())
        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
}

/// Reads the breaks of a VMAP document.
pub fn parse(xml: &str) -> Result<Vec<AdBreak>> {
    let bad = |e: &dyn std::fmt::Display| AdsError::Vast(format!("VMAP: {e}"));
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut breaks = Vec::new();
    let mut current: Option<AdBreak> = None;
    let mut text = String::new();
    let mut tracking_event: Option<String> = None;
    // Byte offset where the current <VASTAdData>'s content starts.
    let mut data_start: Option<usize> = None;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| bad(&e))?;
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let local = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                let empty = matches!(event, Event::Empty(_));
                match local.as_str() {
                    "AdBreak" => {
                        let offset = attr(s, "timeOffset")
                            .and_then(|o| Offset::parse(&o))
                            .ok_or_else(|| bad(&"AdBreak without a valid timeOffset"))?;
                        let b = AdBreak {
                            id: attr(s, "breakId"),
                            offset,
                            break_type: attr(s, "breakType").unwrap_or_else(|| "linear".into()),
                            source: Source::None,
                            tracking: Vec::new(),
                        };
                        if empty {
                            breaks.push(b);
                        } else {
                            current = Some(b);
                        }
                    }
                    "VASTAdData" | "VASTData" if data_start.is_none() && !empty => {
                        data_start = Some(reader.buffer_position() as usize);
                    }
                    "Tracking" if data_start.is_none() => tracking_event = attr(s, "event"),
                    _ => {}
                }
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.xml_content().map_err(|e| bad(&e))?),
            Event::CData(t) => text.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| bad(&e))?;
                let resolved = quick_xml::escape::unescape(&format!("&{name};"))
                    .map_err(|e| bad(&e))?
                    .into_owned();
                text.push_str(&resolved);
            }
            Event::End(e) => {
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                match local.as_str() {
                    "VASTAdData" | "VASTData" => {
                        if let (Some(start), Some(b)) = (data_start.take(), current.as_mut()) {
                            let inner = xml.get(start..before).unwrap_or("").trim();
                            b.source = Source::VastData(inner.to_string());
                        }
                    }
                    _ if data_start.is_some() => {}
                    "AdTagURI" => {
                        if let Some(b) = current.as_mut() {
                            b.source = Source::AdTagUri(text.trim().to_string());
                        }
                    }
                    "Tracking" => {
                        if let (Some(ev), Some(b)) = (tracking_event.take(), current.as_mut())
                            && !text.trim().is_empty()
                        {
                            b.tracking.push((ev, text.trim().to_string()));
                        }
                    }
                    "AdBreak" => breaks.extend(current.take()),
                    _ => {}
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(breaks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaks_offsets_sources_and_tracking() {
        let doc = r#"<?xml version="1.0" encoding="UTF-8"?>
<vmap:VMAP xmlns:vmap="http://www.iab.net/videoadvertising" version="1.0">
 <vmap:AdBreak timeOffset="start" breakType="linear" breakId="preroll">
  <vmap:AdSource id="preroll-ad-1" allowMultipleAds="false" followRedirects="true">
   <vmap:VASTAdData><VAST version="3.0"><Ad id="a"><InLine><AdSystem>x</AdSystem><AdTitle>t</AdTitle><Impression><![CDATA[http://i]]></Impression><Creatives></Creatives></InLine></Ad></VAST></vmap:VASTAdData>
  </vmap:AdSource>
  <vmap:TrackingEvents>
   <vmap:Tracking event="breakStart"><![CDATA[http://t/start?b=pre]]></vmap:Tracking>
  </vmap:TrackingEvents>
 </vmap:AdBreak>
 <vmap:AdBreak timeOffset="00:10:00.000" breakType="linear" breakId="mid">
  <vmap:AdSource id="m"><vmap:AdTagURI templateType="vast3"><![CDATA[http://ads/vast?a=1&b=2]]></vmap:AdTagURI></vmap:AdSource>
 </vmap:AdBreak>
 <vmap:AdBreak timeOffset="end" breakType="linear"/>
</vmap:VMAP>"#;
        assert!(is_vmap(doc));
        let b = parse(doc).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].offset, Offset::Start);
        let Source::VastData(v) = &b[0].source else {
            panic!("{:?}", b[0])
        };
        assert!(
            v.starts_with("<VAST version=\"3.0\">") && v.ends_with("</VAST>"),
            "{v}"
        );
        assert_eq!(
            b[0].tracking,
            [("breakStart".to_string(), "http://t/start?b=pre".to_string())]
        );
        assert_eq!(b[1].offset, Offset::Time(600.0));
        assert_eq!(
            b[1].source,
            Source::AdTagUri("http://ads/vast?a=1&b=2".into())
        );
        assert_eq!(b[2].offset, Offset::End);
        assert_eq!(Offset::parse("0%"), Some(Offset::Start));
        assert_eq!(Offset::parse("#2"), Some(Offset::Position(2)));
        assert!(
            parse("<vmap:VMAP><vmap:AdBreak breakType=\"linear\"></vmap:AdBreak></vmap:VMAP>")
                .is_err()
        );
    }
}
