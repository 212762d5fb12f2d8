//! The house-ad stitched variant of a feed: each programme asset rewritten to point at the
//! stitch service (lambda-stitch payload `{uri, breaks}`) with house ads inserted.
//!
//! Pure: [`StitchFeed::breaks`] and [`StitchFeed::item`] take the asset and the house ads
//! and return the breaks / the rewritten asset, so the same catalog gives the same feed
//! bytes on any replica. The rule: one pre-roll (pos 0), then a mid-roll every `every`
//! seconds of content (at `k * every` for k = 1, 2, ... strictly before the end; none when
//! `every` is 0). The ads rotate through the house ads (ordered by id) starting at an index
//! drawn from the asset id (FNV-1a), so every asset gets the same ads each time and
//! different assets start on different ads. The item's duration is the content's plus every
//! inserted ad's (the stitcher splices the whole ad VOD at each break).

use crate::error::{Error, Result};
use crate::model::Asset;

/// Where the stitched feed points and how often it breaks.
#[derive(Debug, Clone, PartialEq)]
pub struct StitchFeed {
    /// The stitch service's base URL, including its prefix (e.g. `http://host/stitch`):
    /// items point at `<url>/master.m3u8?payload=...`.
    pub url: String,
    /// Seconds of content between mid-rolls; 0: pre-roll only.
    pub every: f64,
}

impl StitchFeed {
    /// Checks `url` (absolute http(s)) and `every` (finite, >= 0); the field names are the
    /// command-line options.
    pub fn new(url: &str, every: f64) -> Result<StitchFeed> {
        let parsed = url::Url::parse(url)
            .map_err(|e| Error::field("--stitch-url", format!("not a URL ({e}): {url}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::field(
                "--stitch-url",
                format!("not an http(s) URL: {url}"),
            ));
        }
        if !(every.is_finite() && every >= 0.0) {
            return Err(Error::field(
                "--stitch-every",
                "must be seconds >= 0 (0: pre-roll only)",
            ));
        }
        Ok(StitchFeed {
            url: url.trim_end_matches('/').to_string(),
            every,
        })
    }

    /// The breaks for `asset` with `house_ads` (ordered by id, non-empty for any break).
    pub fn breaks(&self, asset: &Asset, house_ads: &[Asset]) -> Vec<stitch::Break> {
        if house_ads.is_empty() {
            return Vec::new();
        }
        let content_ms = (asset.duration * 1000.0).round() as i64;
        let mut positions = vec![0i64];
        let every_ms = (self.every * 1000.0).round() as i64;
        if every_ms > 0 {
            positions.extend(
                (1..)
                    .map(|k| k * every_ms)
                    .take_while(|pos| *pos < content_ms),
            );
        }
        let start = (fnv1a(asset.id.as_bytes()) % house_ads.len() as u64) as usize;
        positions
            .into_iter()
            .enumerate()
            .map(|(i, pos)| {
                let ad = &house_ads[(start + i) % house_ads.len()];
                stitch::Break {
                    pos: pos as f64,
                    duration: Some((ad.duration * 1000.0).round()),
                    url: Some(ad.url.clone()),
                    asset_list_url: None,
                }
            })
            .collect()
    }

    /// The stitch service URL of `asset` with `breaks`.
    pub fn url_of(&self, asset: &Asset, breaks: Vec<stitch::Break>) -> String {
        let payload = stitch::Payload {
            uri: asset.url.clone(),
            breaks,
        };
        format!("{}/master.m3u8?payload={}", self.url, payload.encode())
    }

    /// `asset` as its stitched variant: `url` at the stitch service, `duration` = content +
    /// ads, renditions dropped (the stitched VOD's ladder is the content's, but its URIs are
    /// the stitcher's). Id, title, description, category, tags, thumbnail stay.
    pub fn item(&self, asset: &Asset, house_ads: &[Asset]) -> Asset {
        let breaks = self.breaks(asset, house_ads);
        let ads_ms: f64 = breaks.iter().filter_map(|b| b.duration).sum();
        Asset {
            url: self.url_of(asset, breaks),
            duration: ((asset.duration * 1000.0).round() + ads_ms) / 1000.0,
            renditions: Vec::new(),
            ..asset.clone()
        }
    }
}

/// 64-bit FNV-1a: stable across runs, platforms and Rust versions (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset(id: &str, duration: f64) -> Asset {
        Asset {
            id: id.into(),
            title: id.into(),
            description: String::new(),
            url: format!("http://vod.test/{id}/master.m3u8"),
            duration,
            renditions: Vec::new(),
            category: None,
            tags: Vec::new(),
            thumbnail: None,
            available_from: None,
            available_until: None,
        }
    }

    #[test]
    fn pre_roll_then_a_mid_roll_every_n_seconds_rotating_the_ads() {
        let feed = StitchFeed::new("http://stitch.test/stitch/", 4.0).unwrap();
        assert_eq!(feed.url, "http://stitch.test/stitch");
        let ads = [asset("ad-a", 10.0), asset("ad-b", 5.0), asset("ad-c", 6.0)];
        let content = asset("film", 12.5);
        let breaks = feed.breaks(&content, &ads);
        let pos: Vec<f64> = breaks.iter().map(|b| b.pos).collect();
        assert_eq!(pos, [0.0, 4000.0, 8000.0, 12000.0]);
        // Consecutive breaks take consecutive ads, from a start drawn from the asset id.
        let idx: Vec<usize> = breaks
            .iter()
            .map(|b| {
                ads.iter()
                    .position(|a| Some(&a.url) == b.url.as_ref())
                    .unwrap()
            })
            .collect();
        for w in idx.windows(2) {
            assert_eq!(w[1], (w[0] + 1) % ads.len());
        }
        assert_eq!(feed.breaks(&content, &ads), breaks, "deterministic");
        // Different ids start on different ads (for some pair of these).
        let starts: std::collections::HashSet<_> = ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|id| feed.breaks(&asset(id, 1.0), &ads)[0].url.clone())
            .collect();
        assert!(starts.len() > 1);

        let item = feed.item(&content, &ads);
        let ads_s: f64 = idx.iter().map(|i| ads[*i].duration).sum();
        assert_eq!(item.duration, 12.5 + ads_s);
        assert_eq!(item.id, "film");
        let payload = item.url.split_once("payload=").unwrap().1;
        let decoded = stitch::Payload::decode(payload).unwrap();
        assert_eq!(decoded.uri, content.url);
        assert_eq!(decoded.breaks, breaks);
    }

    #[test]
    fn no_mid_roll_at_the_end_and_every_zero_is_pre_roll_only() {
        let ads = [asset("ad", 10.0)];
        let at_end = StitchFeed::new("http://s.test/stitch", 4.0).unwrap();
        let pos: Vec<f64> = at_end
            .breaks(&asset("v", 8.0), &ads)
            .iter()
            .map(|b| b.pos)
            .collect();
        assert_eq!(pos, [0.0, 4000.0]);
        let pre = StitchFeed::new("http://s.test/stitch", 0.0).unwrap();
        assert_eq!(pre.breaks(&asset("v", 8.0), &ads).len(), 1);
        assert!(pre.breaks(&asset("v", 8.0), &[]).is_empty());
    }

    #[test]
    fn bad_options_name_the_option() {
        for (url, every, field) in [
            ("stitch", 1.0, "--stitch-url"),
            ("ftp://x/stitch", 1.0, "--stitch-url"),
            ("http://x/stitch", -1.0, "--stitch-every"),
            ("http://x/stitch", f64::NAN, "--stitch-every"),
        ] {
            match StitchFeed::new(url, every) {
                Err(Error::Field { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{url} {every}: {other:?}"),
            }
        }
    }
}
