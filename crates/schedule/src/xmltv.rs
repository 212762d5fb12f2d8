//! XMLTV export (the `tv` DTD, <http://xmltv.org>): channels and their programmes, for EPGs.

use std::io::Cursor;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::error::{Error, Result};
use crate::model::{Channel, EventType, Millis, ScheduleEvent};

/// XMLTV's time format: `YYYYMMDDhhmmss +0000`.
pub fn xmltv_time(ms: Millis) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y%m%d%H%M%S +0000")
        .to_string()
}

/// The XMLTV channel id of a lineup channel: XMLTV wants RFC 2838 style ids
/// (`name.domain`), so `demo` becomes `demo.lineup` (characters other than letters, digits,
/// `-` and `.` become `-`).
pub fn channel_id(id: &str) -> String {
    let name: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{}.lineup", name.trim_matches('.'))
}

/// A `tv` document with `channels` and, for each, its events (in the order given).
pub fn xmltv(channels: &[(Channel, Vec<ScheduleEvent>)]) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| Error::Db(format!("writing XMLTV: {e}"));
    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(io)?;
    w.write_event(Event::DocType(BytesText::from_escaped(
        "tv SYSTEM \"xmltv.dtd\"",
    )))
    .map_err(io)?;
    w.create_element("tv")
        .with_attributes([
            ("source-info-name", "lineup schedule"),
            ("generator-info-name", "lineup"),
        ])
        .write_inner_content(|w| {
            for (c, _) in channels {
                let id = channel_id(&c.id);
                w.create_element("channel")
                    .with_attribute(("id", id.as_str()))
                    .write_inner_content(|w| {
                        let name = if c.title.is_empty() { &c.id } else { &c.title };
                        w.create_element("display-name")
                            .write_text_content(BytesText::new(name))?;
                        Ok(())
                    })?;
            }
            for (c, events) in channels {
                let id = channel_id(&c.id);
                for e in events {
                    let start = xmltv_time(e.start_time);
                    let stop = xmltv_time(e.end_time);
                    w.create_element("programme")
                        .with_attributes([
                            ("start", start.as_str()),
                            ("stop", stop.as_str()),
                            ("channel", id.as_str()),
                        ])
                        .write_inner_content(|w| {
                            let title = if e.title.is_empty() { &e.id } else { &e.title };
                            w.create_element("title")
                                .write_text_content(BytesText::new(title))?;
                            let kind = match e.kind {
                                EventType::Vod => "VOD",
                                EventType::Live => "Live",
                                EventType::Ad => "Advertisement",
                            };
                            w.create_element("category")
                                .write_text_content(BytesText::new(kind))?;
                            if e.kind == EventType::Live {
                                w.create_element("live").write_empty()?;
                            }
                            Ok(())
                        })?;
                }
            }
            Ok(())
        })
        .map_err(io)?;
    Ok(w.into_inner().into_inner())
}
