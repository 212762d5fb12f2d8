//! One key per Media Segment wherever it is listed (RFC 8216 6.2.3: "A Media Segment can
//! only be encrypted with one encryption METHOD, using one encryption key and IV"; 6.2.3:
//! the server "MUST NOT remove an EXT-X-KEY tag from the Playlist file if it applies to
//! any Media Segment in the Playlist file").
//!
//! A resource can be listed by several playlists: a media playlist and the I-frame playlist
//! whose byte ranges point into its segments, the live window and the time-shifted or
//! start-over windows of the same rendition, successive reloads. Each listing states the
//! keys that apply (the `EXT-X-KEY` tags in effect); every listing must state the same ones,
//! so a window that starts after a key rotation carries the key of its first period, and an
//! I-frame playlist of an encrypted stream carries its keys. [`SegmentKeys`] remembers, per
//! resource URI (resolved against the playlist's URI), the keys first stated and reports
//! `segment-key-differs` when a later listing states others.

use std::collections::{BTreeMap, VecDeque};

use super::Problem;
use crate::model::*;

/// Resources remembered at most (the oldest are forgotten first).
const CAPACITY: usize = 20_000;

/// The keys stated for each resource seen (see the module docs).
#[derive(Debug, Default)]
pub struct SegmentKeys {
    seen: BTreeMap<String, (String, String)>,
    order: VecDeque<String>,
}

/// Resolves `reference` against `base` (a playlist URI, absolute or relative).
fn resolve(base: &url::Url, reference: &str) -> String {
    base.join(reference)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| reference.to_string())
}

/// What the keys in effect say: `METHOD`, key URI (resolved), `KEYFORMAT`, `IV`, per
/// KEYFORMAT, sorted; empty for a clear segment.
fn signature(base: &url::Url, keys: &[Key]) -> String {
    let mut parts: Vec<String> = keys
        .iter()
        .filter(|k| k.method() != Some("NONE"))
        .map(|k| {
            format!(
                "METHOD={} URI={} KEYFORMAT={} IV={}",
                k.method().unwrap_or(""),
                k.uri().map(|u| resolve(base, u)).unwrap_or_default(),
                k.keyformat().unwrap_or("identity"),
                k.attrs.get("IV").unwrap_or("-"),
            )
        })
        .collect();
    parts.sort();
    if parts.is_empty() {
        "no key (clear)".into()
    } else {
        parts.join("; ")
    }
}

impl SegmentKeys {
    /// Checks the segments of `p`, loaded from `playlist_uri` (any URI the caller uses for
    /// it, e.g. a path relative to a common folder: resources are compared resolved against
    /// it), against what earlier listings stated.
    pub fn observe(&mut self, playlist_uri: &str, p: &MediaPlaylist) -> Vec<Problem> {
        let Ok(base) =
            url::Url::parse("http://playlist.invalid/").and_then(|b| b.join(playlist_uri))
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, s) in p.segments.iter().enumerate() {
            if s.gap {
                continue;
            }
            let resource = resolve(&base, &s.uri);
            let sig = signature(&base, p.effective_keys(i));
            match self.seen.get(&resource) {
                Some((first, by)) if *first != sig => out.push(
                    Problem::error(
                        "segment-key-differs",
                        format!(
                            "'{}' is listed under {sig} here but under {first} in '{by}'",
                            s.uri
                        ),
                    )
                    .seq(p.sequence_of(i)),
                ),
                Some(_) => {}
                None => {
                    if self.order.len() >= CAPACITY
                        && let Some(old) = self.order.pop_front()
                    {
                        self.seen.remove(&old);
                    }
                    self.order.push_back(resource.clone());
                    self.seen.insert(resource, (sig, playlist_uri.to_string()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(text: &str) -> MediaPlaylist {
        crate::parse_media(text).unwrap()
    }

    #[test]
    fn a_resource_keeps_its_key_across_playlists() {
        let live = media(
            "#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:4\n\
             #EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"k/1\",KEYFORMAT=\"identity\"\n\
             #EXTINF:2,\nv/4.ts\n#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"k/2\"\n#EXTINF:2,\nv/5.ts\n",
        );
        // A window that starts at 5 carries the key of its period: same resource, same key.
        let shifted_ok = media(
            "#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n\
             #EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"../a/k/2\"\n#EXTINF:2,\nv/5.ts\n",
        );
        // One that dropped the key with the segment that carried it.
        let shifted_bad = media(
            "#EXTM3U\n#EXT-X-VERSION:5\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n\
             #EXTINF:2,\nv/5.ts\n",
        );
        let mut k = SegmentKeys::default();
        assert!(k.observe("a/live.m3u8", &live).is_empty());
        assert!(k.observe("a/live.m3u8?start=1", &shifted_ok).is_empty());
        let p = k.observe("a/live.m3u8?start=2", &shifted_bad);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!((p[0].rule, p[0].sequence), ("segment-key-differs", Some(5)));
    }
}
