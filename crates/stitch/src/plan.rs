//! From a payload and its loaded VODs to playlists: the multivariant rewrite, which ad
//! rendition goes with which content rendition, and the per-track media playlist.
//! Pure: the VODs are loaded by the caller ([`crate::Vod::load`]).
//!
//! Matching rules:
//! - a content variant gets the ad variant nearest in `BANDWIDTH` ([`nearest_variant`]);
//! - a content audio or subtitle rendition gets the ad rendition of the same type with the
//!   same language (then NAME), preferring the same GROUP-ID, then the ad's DEFAULT one;
//!   audio without any ad audio rendition (a muxed ad) falls back to the ad variant nearest
//!   in bandwidth; subtitles without one get empty WebVTT segments served by the service.

use hls::{MasterPlaylist, MediaPlaylist, MediaType, Rendition, VariantStream};

use crate::error::{Error, Result};
use crate::payload::{Break, Payload};
use crate::source::Vod;
use crate::splice::{self, AdMedia, Asset, Insert, Interstitial};

/// Which rendition of the content a media playlist request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Track {
    /// A variant stream, by its `BANDWIDTH` (lambda-stitch's `media.m3u8?bw=`).
    Variant { bw: u64 },
    /// An audio rendition (`audio.m3u8?groupid=&language=`).
    Audio { group: String, language: String },
    /// A subtitle rendition (`subtitles.m3u8?groupid=&language=`).
    Subtitles { group: String, language: String },
}

/// How the ads are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Ad segments spliced into the playlists.
    #[default]
    Splice,
    /// HLS Interstitials: DATERANGE tags pointing at the ads (`i=1`).
    Interstitial,
}

impl Mode {
    fn query(self) -> &'static str {
        match self {
            Mode::Splice => "",
            Mode::Interstitial => "&i=1",
        }
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The key a rendition is asked for by: its LANGUAGE, else its NAME (as lambda-stitch).
pub fn rendition_key(r: &Rendition) -> &str {
    r.language().or(r.name()).unwrap_or("")
}

/// The content's multivariant playlist with every media playlist URI pointing back into the
/// service (relative: `media.m3u8?bw=...&payload=...`, `audio.m3u8?...`,
/// `subtitles.m3u8?...`). I-frame playlists are dropped (they would not carry the ads).
pub fn master(content: &MasterPlaylist, payload: &Payload, mode: Mode) -> MasterPlaylist {
    let p = payload.encode();
    let flag = mode.query();
    let mut out = content.clone();
    out.i_frame_streams.clear();
    for v in &mut out.variants {
        let bw = v.bandwidth().unwrap_or(0);
        v.uri = format!("media.m3u8?bw={bw}&payload={p}{flag}");
    }
    for r in &mut out.media {
        let path = match r.media_type() {
            Some(MediaType::Audio) => "audio.m3u8",
            Some(MediaType::Subtitles) => "subtitles.m3u8",
            _ => continue,
        };
        if r.uri().is_none() {
            continue;
        }
        let uri = format!(
            "{path}?groupid={}&language={}&payload={p}{flag}",
            enc(r.group_id().unwrap_or("")),
            enc(rendition_key(r)),
        );
        r.attrs.set_quoted("URI", uri);
    }
    out
}

/// The ad variant nearest in bandwidth to `bw` (the first of equals).
pub fn nearest_variant(ad: &MasterPlaylist, bw: u64) -> Option<&VariantStream> {
    ad.variants
        .iter()
        .min_by_key(|v| v.bandwidth().unwrap_or(0).abs_diff(bw))
}

fn find_rendition<'a>(
    m: &'a MasterPlaylist,
    ty: MediaType,
    group: &str,
    language: &str,
) -> Option<&'a Rendition> {
    let of_type = || {
        m.media
            .iter()
            .filter(move |r| r.media_type() == Some(ty) && r.uri().is_some())
    };
    let lang = |r: &&Rendition| r.language() == Some(language) || r.name() == Some(language);
    of_type()
        .filter(lang)
        .find(|r| r.group_id() == Some(group))
        .or_else(|| of_type().find(lang))
}

fn ad_rendition<'a>(
    m: &'a MasterPlaylist,
    ty: MediaType,
    group: &str,
    language: &str,
) -> Option<&'a Rendition> {
    find_rendition(m, ty, group, language).or_else(|| {
        let mut of_type = m
            .media
            .iter()
            .filter(|r| r.media_type() == Some(ty) && r.uri().is_some());
        let all: Vec<_> = of_type.by_ref().collect();
        all.iter().find(|r| r.is_default()).or(all.first()).copied()
    })
}

/// The content's media playlist for `track`, or a 400 naming the query parameter.
pub fn content_playlist<'a>(content: &'a Vod, track: &Track) -> Result<&'a MediaPlaylist> {
    let uri = match track {
        Track::Variant { bw } => content
            .master
            .variants
            .iter()
            .find(|v| v.bandwidth().unwrap_or(0) == *bw)
            .map(|v| v.uri.as_str())
            .ok_or_else(|| {
                Error::bad(
                    "bw",
                    format!("the content has no variant of BANDWIDTH {bw}"),
                )
            })?,
        Track::Audio { group, language } | Track::Subtitles { group, language } => {
            let ty = match track {
                Track::Audio { .. } => MediaType::Audio,
                _ => MediaType::Subtitles,
            };
            find_rendition(&content.master, ty, group, language)
                .and_then(Rendition::uri)
                .ok_or_else(|| {
                    Error::bad(
                        "language",
                        format!(
                            "the content has no {} rendition {group}/{language}",
                            ty.as_str()
                        ),
                    )
                })?
        }
    };
    content
        .playlist(uri)
        .map(|p| &**p)
        .ok_or_else(|| Error::bad("payload.uri", format!("{uri} was not loaded")))
}

/// The bandwidth a content rendition stands for: its own for a variant, that of the first
/// variant using its group for audio/subtitles.
fn track_bandwidth(content: &Vod, track: &Track) -> u64 {
    let uses = |v: &&VariantStream, g: &str| match track {
        Track::Audio { .. } => v.audio() == Some(g),
        _ => v.subtitles() == Some(g),
    };
    match track {
        Track::Variant { bw } => *bw,
        Track::Audio { group, .. } | Track::Subtitles { group, .. } => content
            .master
            .variants
            .iter()
            .find(|v| uses(v, group))
            .or(content.master.variants.first())
            .and_then(VariantStream::bandwidth)
            .unwrap_or(0),
    }
}

/// The ad's material for one content track.
pub enum AdChoice<'a> {
    /// The ad's matching media playlist.
    Playlist(&'a MediaPlaylist),
    /// No subtitles in the ad: empty WebVTT segments of these durations (the ad's
    /// reference rendition's segments).
    Empty(Vec<f64>),
}

/// Choose the ad rendition for `track` (see the module doc).
pub fn ad_for_track<'a>(
    content: &Vod,
    ad: &'a Vod,
    track: &Track,
    field: &str,
) -> Result<AdChoice<'a>> {
    let bw = track_bandwidth(content, track);
    let variant_playlist = || {
        nearest_variant(&ad.master, bw)
            .and_then(|v| ad.playlist(&v.uri))
            .map(|p| AdChoice::Playlist(p))
            .ok_or_else(|| Error::bad(field, "the ad has no variant stream"))
    };
    match track {
        Track::Variant { .. } => variant_playlist(),
        Track::Audio { group, language } => {
            match ad_rendition(&ad.master, MediaType::Audio, group, language)
                .and_then(Rendition::uri)
                .and_then(|u| ad.playlist(u))
            {
                Some(p) => Ok(AdChoice::Playlist(p)),
                None => variant_playlist(),
            }
        }
        Track::Subtitles { group, language } => {
            match find_rendition(&ad.master, MediaType::Subtitles, group, language)
                .and_then(Rendition::uri)
                .and_then(|u| ad.playlist(u))
            {
                Some(p) => Ok(AdChoice::Playlist(p)),
                None => {
                    let durations = ad
                        .reference()
                        .map(|r| r.segments.iter().map(|s| s.duration).collect())
                        .unwrap_or_default();
                    Ok(AdChoice::Empty(durations))
                }
            }
        }
    }
}

/// The stitched media playlist for `track`. `ads[i]` is the loaded VOD of
/// `payload.breaks[i]` (None for a break without `url`, Interstitial mode only).
pub fn media(
    payload: &Payload,
    content: &Vod,
    ads: &[Option<Vod>],
    track: &Track,
    mode: Mode,
    empty_vtt: &str,
) -> Result<MediaPlaylist> {
    let target = content_playlist(content, track)?;
    let reference = content.reference().map(|r| &**r).unwrap_or(target);
    let at = |b: &Break| splice::snap(reference, b.pos);
    if mode == Mode::Interstitial {
        let marks: Vec<Interstitial<'_>> = payload
            .breaks
            .iter()
            .map(|b| Interstitial {
                at: at(b),
                duration: b.duration.map(|d| d / 1000.0),
                asset: match (&b.url, &b.asset_list_url) {
                    (_, Some(list)) => Asset::List(list),
                    (Some(u), None) => Asset::Uri(u),
                    (None, None) => Asset::Uri(""),
                },
            })
            .collect();
        return Ok(splice::interstitials(target, &marks));
    }
    let mut choices = Vec::with_capacity(payload.breaks.len());
    for (i, b) in payload.breaks.iter().enumerate() {
        let field = format!("payload.breaks[{i}].url");
        let ad = ads
            .get(i)
            .and_then(Option::as_ref)
            .ok_or_else(|| Error::bad(&field, "a spliced break needs a url"))?;
        if ad.is_fmp4() != content.is_fmp4() {
            return Err(Error::bad(
                &field,
                "the ad and the content must both be MPEG-TS or both fMP4",
            ));
        }
        choices.push((at(b), ad_for_track(content, ad, track, &field)?));
    }
    let inserts: Vec<Insert<'_>> = choices
        .iter()
        .map(|(at, c)| Insert {
            at: *at,
            ad: match c {
                AdChoice::Playlist(p) => AdMedia::Playlist(p),
                AdChoice::Empty(d) => AdMedia::Empty {
                    durations: d,
                    uri: empty_vtt,
                },
            },
        })
        .collect();
    Ok(splice::splice(target, &inserts))
}
