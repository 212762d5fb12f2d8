//! The ad catalog and the pod choice: which creatives fill a requested duration.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One ad creative: an HLS VOD (master playlist) with its duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Creative {
    /// Ad id (`adId` in tracking URLs).
    pub id: String,
    /// Universal ad id (VAST 4 `UniversalAdId`).
    #[serde(default)]
    pub universal_id: Option<String>,
    /// HLS master playlist URL.
    pub url: String,
    /// Duration, seconds.
    pub duration: f64,
    #[serde(default = "default_bitrate")]
    pub bitrate: u32,
    #[serde(default = "default_width")]
    pub width: u32,
    #[serde(default = "default_height")]
    pub height: u32,
}

fn default_bitrate() -> u32 {
    400
}
fn default_width() -> u32 {
    640
}
fn default_height() -> u32 {
    360
}

/// The default catalog over the test fixtures served at `fixtures_base` (a URL whose
/// `ads/vod1/master.m3u8`, `ts/vod1/master.m3u8`, ... exist): the 10 s ad-marked VOD
/// and the three 8 s test patterns.
pub fn default_catalog(fixtures_base: &str) -> Vec<Creative> {
    let base = fixtures_base.trim_end_matches('/');
    let c = |id: &str, uid: &str, path: &str, duration: f64| Creative {
        id: id.into(),
        universal_id: Some(uid.into()),
        url: format!("{base}/{path}/master.m3u8"),
        duration,
        bitrate: default_bitrate(),
        width: default_width(),
        height: default_height(),
    };
    vec![
        c("lineup-ad-10s", "LAD001", "ads/vod1", 10.0),
        c("testsrc-8s", "LAD002", "ts/vod1", 8.0),
        c("smptebars-8s", "LAD003", "ts/vod2", 8.0),
        c("mandelbrot-8s", "LAD004", "ts/vod3", 8.0),
    ]
}

/// Pod parameters of a VAST request (`dur`, `ps`, `min`, `max`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PodRequest {
    /// Desired total duration, seconds.
    pub duration: f64,
    /// Most ads in the pod.
    pub pod_size: Option<u32>,
    /// Least total duration; a pod that cannot reach it is empty.
    pub min: Option<f64>,
    /// Most total duration (defaults to `duration`).
    pub max: Option<f64>,
}

/// A 64-bit FNV-1a hash (stable across runs and platforms, unlike `DefaultHasher`).
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Choose the ads for one request: deterministic in (`seed`, `key`). The catalog is
/// ordered by a seeded shuffle (so different viewers get different ads), then filled
/// greedily like Eyevinn's test ad server: take each creative that still fits, again and
/// again, until nothing fits, the pod size is reached or the duration is filled.
pub fn choose(catalog: &[Creative], req: PodRequest, seed: u64, key: &str) -> Vec<usize> {
    let target = req.max.unwrap_or(req.duration).min(req.duration.max(0.0));
    let mut order: Vec<usize> = (0..catalog.len()).collect();
    let mut state = stable_hash(&[&seed.to_le_bytes(), key.as_bytes()]);
    // Fisher-Yates with a splitmix64 stream.
    for i in (1..order.len()).rev() {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        order.swap(i, (z % (i as u64 + 1)) as usize);
    }
    let max_ads = req.pod_size.map(|n| n as usize).unwrap_or(usize::MAX);
    let mut remaining = target;
    let mut chosen = Vec::new();
    loop {
        let mut added = false;
        for &i in &order {
            if chosen.len() >= max_ads {
                break;
            }
            let d = catalog[i].duration;
            if d > 0.0 && d <= remaining + 1e-6 {
                chosen.push(i);
                remaining -= d;
                added = true;
            }
        }
        if !added || chosen.len() >= max_ads {
            break;
        }
    }
    let total: f64 = chosen.iter().map(|&i| catalog[i].duration).sum();
    if req.min.is_some_and(|m| total + 1e-6 < m) {
        return Vec::new();
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_without_exceeding_and_is_deterministic() {
        let cat = default_catalog("http://x");
        for dur in [0.0, 5.0, 8.0, 16.0, 20.0, 30.0, 61.0] {
            for key in ["a", "b", "c"] {
                let req = PodRequest {
                    duration: dur,
                    ..Default::default()
                };
                let a = choose(&cat, req, 7, key);
                assert_eq!(a, choose(&cat, req, 7, key));
                let total: f64 = a.iter().map(|&i| cat[i].duration).sum();
                assert!(total <= dur + 1e-6, "{dur} {a:?}");
                // Greedy: nothing in the catalog still fits.
                assert!(
                    cat.iter().all(|c| c.duration > dur - total + 1e-6),
                    "{dur} {a:?}"
                );
            }
        }
        let req = PodRequest {
            duration: 30.0,
            pod_size: Some(2),
            ..Default::default()
        };
        assert_eq!(choose(&cat, req, 1, "x").len(), 2);
        let req = PodRequest {
            duration: 9.0,
            min: Some(9.0),
            ..Default::default()
        };
        assert!(choose(&cat, req, 1, "x").is_empty());
    }
}
