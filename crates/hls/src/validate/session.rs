//! Rules of EXT-X-SESSION-DATA and EXT-X-SESSION-KEY (RFC 8216 4.3.4.4, 4.3.4.5).

use super::{LineIndex, Problem};
use crate::model::*;

pub(super) fn check_session_tags(p: &MasterPlaylist, idx: &LineIndex, out: &mut Vec<Problem>) {
    let line = |name: &str| idx.tag(name);
    let mut seen = Vec::new();
    for d in &p.session_data {
        let at = line("EXT-X-SESSION-DATA");
        let Some(id) = d.get("DATA-ID") else {
            out.push(
                Problem::error(
                    "session-data-missing-data-id",
                    "EXT-X-SESSION-DATA needs DATA-ID",
                )
                .at(at),
            );
            continue;
        };
        if d.contains("VALUE") == d.contains("URI") {
            out.push(
                Problem::error(
                    "session-data-value-and-uri",
                    format!("EXT-X-SESSION-DATA '{id}' needs exactly one of VALUE and URI"),
                )
                .at(at),
            );
        }
        let key = (id, d.get("LANGUAGE"));
        if seen.contains(&key) {
            out.push(
                Problem::error(
                    "session-data-duplicate",
                    format!("two EXT-X-SESSION-DATA with DATA-ID '{id}' and the same LANGUAGE"),
                )
                .at(at),
            );
        }
        seen.push(key);
    }
    let mut keys: Vec<Vec<Option<&str>>> = Vec::new();
    for k in &p.session_keys {
        let at = line("EXT-X-SESSION-KEY");
        match k.get("METHOD") {
            Some("NONE") => out.push(
                Problem::error(
                    "session-key-method-none",
                    "EXT-X-SESSION-KEY METHOD must not be NONE",
                )
                .at(at),
            ),
            None => out
                .push(Problem::error("key-bad-method", "#EXT-X-SESSION-KEY without METHOD").at(at)),
            Some(_) if !k.contains("URI") => {
                out.push(Problem::error("key-missing-uri", "EXT-X-SESSION-KEY needs a URI").at(at))
            }
            Some(_) => {}
        }
        let id: Vec<Option<&str>> = ["METHOD", "URI", "IV", "KEYFORMAT", "KEYFORMATVERSIONS"]
            .into_iter()
            .map(|a| k.get(a))
            .collect();
        if keys.contains(&id) {
            out.push(
                Problem::error(
                    "session-key-duplicate",
                    "two EXT-X-SESSION-KEY tags with the same METHOD, URI, IV, KEYFORMAT and KEYFORMATVERSIONS",
                )
                .at(at),
            );
        }
        keys.push(id);
    }
}
