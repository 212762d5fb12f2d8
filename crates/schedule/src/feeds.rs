//! Feeds: the catalog written as MRSS (RSS 2.0 + Media RSS) and Atom, and any such feed
//! read back into [`Programme`]s for the auto-filler.
//!
//! Written with `quick_xml::Writer` (escaping is the writer's job, never ours). The Atom
//! shape is the one Eyevinn's schedule service reads (`feed/updated`, `feed/entry/{id,
//! title, link}` where `link`'s *text* is the HLS URL): our `<link>` carries the URL both
//! as `href` (Atom) and as its text content (which RFC 4287 allows), so both readers work.

use std::io::Cursor;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::error::{Error, Result};
use crate::model::{Asset, Millis, Programme, iso};

/// The Media RSS namespace.
pub const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";
/// The Atom namespace.
pub const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
/// The MIME type of an HLS playlist in `media:content@type`.
pub const HLS_MIME: &str = "application/x-mpegURL";

/// What a feed is about (its channel/feed header).
#[derive(Debug, Clone)]
pub struct FeedInfo {
    /// Feed name (`all`, or a category).
    pub name: String,
    pub title: String,
    /// The feed's own URL.
    pub self_url: String,
    /// Link to the catalog (HTML/JSON) it comes from.
    pub link: String,
    pub updated: Millis,
}

fn rfc2822(ms: Millis) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc2822()
}

fn seconds(d: f64) -> String {
    // Exact to the millisecond, without trailing zeros ("30", "30.04").
    let ms = (d * 1000.0).round() as i64;
    if ms % 1000 == 0 {
        (ms / 1000).to_string()
    } else {
        format!("{}", ms as f64 / 1000.0)
    }
}

fn io(e: std::io::Error) -> Error {
    Error::Db(format!("writing XML: {e}"))
}

/// RSS 2.0 with the Media RSS namespace: one `item` per asset.
pub fn mrss(info: &FeedInfo, assets: &[Asset]) -> Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(io)?;
    w.create_element("rss")
        .with_attributes([
            ("version", "2.0"),
            ("xmlns:media", MEDIA_NS),
            ("xmlns:atom", ATOM_NS),
        ])
        .write_inner_content(|w| {
            w.create_element("channel").write_inner_content(|w| {
                text(w, "title", &info.title)?;
                text(w, "link", &info.link)?;
                text(
                    w,
                    "description",
                    &format!("lineup catalog feed {}", info.name),
                )?;
                text(w, "lastBuildDate", &rfc2822(info.updated))?;
                text(w, "generator", "lineup")?;
                w.create_element("atom:link")
                    .with_attributes([
                        ("href", info.self_url.as_str()),
                        ("rel", "self"),
                        ("type", "application/rss+xml"),
                    ])
                    .write_empty()?;
                for a in assets {
                    w.create_element("item").write_inner_content(|w| {
                        text(w, "title", &a.title)?;
                        w.create_element("guid")
                            .with_attribute(("isPermaLink", "false"))
                            .write_text_content(BytesText::new(&a.id))?;
                        text(w, "link", &a.url)?;
                        if !a.description.is_empty() {
                            text(w, "description", &a.description)?;
                        }
                        if let Some(c) = &a.category {
                            text(w, "category", c)?;
                        }
                        for t in &a.tags {
                            text(w, "category", t)?;
                        }
                        let duration = seconds(a.duration);
                        w.create_element("media:content")
                            .with_attributes([
                                ("url", a.url.as_str()),
                                ("type", HLS_MIME),
                                ("medium", "video"),
                                ("duration", duration.as_str()),
                            ])
                            .write_empty()?;
                        text(w, "media:title", &a.title)?;
                        if !a.description.is_empty() {
                            text(w, "media:description", &a.description)?;
                        }
                        if let Some(t) = &a.thumbnail {
                            w.create_element("media:thumbnail")
                                .with_attribute(("url", t.as_str()))
                                .write_empty()?;
                        }
                        if let Some(c) = &a.category {
                            text(w, "media:category", c)?;
                        }
                        Ok(())
                    })?;
                }
                Ok(())
            })?;
            Ok(())
        })
        .map_err(io)?;
    Ok(w.into_inner().into_inner())
}

/// Atom: `feed/entry/{id, title, link, updated, summary, category}`.
pub fn atom(info: &FeedInfo, assets: &[Asset]) -> Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Cursor::new(Vec::new()), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(io)?;
    let updated = iso(info.updated);
    w.create_element("feed")
        .with_attributes([("xmlns", ATOM_NS), ("xmlns:media", MEDIA_NS)])
        .write_inner_content(|w| {
            text(w, "id", &info.self_url)?;
            text(w, "title", &info.title)?;
            text(w, "updated", &updated)?;
            w.create_element("link")
                .with_attributes([("href", info.self_url.as_str()), ("rel", "self")])
                .write_empty()?;
            w.create_element("author")
                .write_inner_content(|w| text(w, "name", "lineup"))?;
            for a in assets {
                w.create_element("entry").write_inner_content(|w| {
                    text(w, "id", &a.id)?;
                    text(w, "title", &a.title)?;
                    text(w, "updated", &updated)?;
                    w.create_element("link")
                        .with_attributes([
                            ("href", a.url.as_str()),
                            ("rel", "alternate"),
                            ("type", HLS_MIME),
                        ])
                        .write_text_content(BytesText::new(&a.url))?;
                    if !a.description.is_empty() {
                        text(w, "summary", &a.description)?;
                    }
                    if let Some(c) = &a.category {
                        w.create_element("category")
                            .with_attribute(("term", c.as_str()))
                            .write_empty()?;
                    }
                    let duration = seconds(a.duration);
                    w.create_element("media:content")
                        .with_attributes([
                            ("url", a.url.as_str()),
                            ("type", HLS_MIME),
                            ("medium", "video"),
                            ("duration", duration.as_str()),
                        ])
                        .write_empty()?;
                    Ok(())
                })?;
            }
            Ok(())
        })
        .map_err(io)?;
    Ok(w.into_inner().into_inner())
}

fn text<W: std::io::Write>(w: &mut Writer<W>, name: &str, value: &str) -> std::io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(value))?;
    Ok(())
}

/// One feed entry as read, before its duration is known for sure.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedEntry {
    pub id: String,
    pub title: String,
    pub url: String,
    /// Seconds, when the feed says (`media:content@duration`).
    pub duration: Option<f64>,
    pub category: Option<String>,
    pub description: Option<String>,
}

impl FeedEntry {
    /// With a known duration, the programme the auto-filler schedules.
    pub fn programme(&self, duration: f64) -> Programme {
        Programme {
            id: self.id.clone(),
            title: self.title.clone(),
            url: self.url.clone(),
            duration,
            category: self.category.clone(),
            description: self.description.clone(),
        }
    }
}

/// Reads an MRSS/RSS 2.0 (`item`) or Atom (`entry`) feed. The HLS URL is
/// `media:content@url`, else the `link` text, else `link@href`; the id is `guid`/`id`, else
/// the URL.
pub fn parse(xml: &str) -> Result<Vec<FeedEntry>> {
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let mut entries = Vec::new();
    let mut current: Option<FeedEntry> = None;
    let mut path: Vec<String> = Vec::new();
    let mut text_buf = String::new();
    let bad = |e: &dyn std::fmt::Display| Error::field("url", format!("not a feed: {e}"));
    loop {
        let event = reader.read_event().map_err(|e| bad(&e))?;
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
                let local = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                let empty = matches!(event, Event::Empty(_));
                if (local == "item" || local == "entry") && !empty {
                    current = Some(FeedEntry::default());
                }
                if let Some(entry) = current.as_mut() {
                    let attr = |key: &str| -> Option<String> {
                        s.attributes()
                            .flatten()
                            .find(|a| a.key.as_ref() == key.as_bytes())
                            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                    };
                    match name.as_str() {
                        "media:content" => {
                            if let Some(u) = attr("url") {
                                entry.url = u;
                            }
                            entry.duration = attr("duration").and_then(|d| d.parse().ok());
                        }
                        "link" if entry.url.is_empty() => {
                            if let Some(h) = attr("href") {
                                entry.url = h;
                            }
                        }
                        "category" => {
                            if let Some(t) = attr("term") {
                                entry.category.get_or_insert(t);
                            }
                        }
                        _ => {}
                    }
                }
                if !empty {
                    path.push(name);
                }
                text_buf.clear();
            }
            Event::Text(t) => {
                text_buf.push_str(&t.xml_content().map_err(|e| bad(&e))?);
            }
            Event::CData(t) => {
                text_buf.push_str(&String::from_utf8_lossy(&t));
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| bad(&e))?;
                let resolved = quick_xml::escape::unescape(&format!("&{name};"))
                    .map_err(|e| bad(&e))?
                    .into_owned();
                text_buf.push_str(&resolved);
            }
            Event::End(e) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                path.pop();
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if local == "item" || local == "entry" {
                    if let Some(mut entry) = current.take() {
                        if entry.id.is_empty() {
                            entry.id = entry.url.clone();
                        }
                        if !entry.url.is_empty() {
                            entries.push(entry);
                        }
                    }
                } else if let Some(entry) = current.as_mut() {
                    let value = std::mem::take(&mut text_buf);
                    let value = value.trim();
                    match name.as_str() {
                        "guid" | "id" => entry.id = value.to_string(),
                        "title" => entry.title = value.to_string(),
                        "media:title" if entry.title.is_empty() => entry.title = value.to_string(),
                        "link" if entry.url.is_empty() && !value.is_empty() => {
                            entry.url = value.to_string()
                        }
                        "category" if !value.is_empty() => {
                            entry.category.get_or_insert(value.to_string());
                        }
                        "description" | "summary" | "media:description"
                            if entry.description.is_none() && !value.is_empty() =>
                        {
                            entry.description = Some(value.to_string())
                        }
                        _ => {}
                    }
                }
                text_buf.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(entries)
}
