//! Channel profile: the fixed set of renditions a channel shows for its whole life, how each
//! VOD's variants are matched to it, and the master playlist. Pure (no I/O).
//!
//! Rendition slots, in this order (the index is the timeline's rendition number):
//! one per profile variant (`v0`, `v1`, ...), then one per profile audio language
//! (`audio-<lang>`), then one per profile subtitle language (`subs-<lang>`).
//!
//! Matching a VOD (see [`build_media`]):
//! - video: among the VOD's variants whose video codec family (`avc1`, `hvc1`, ...) matches
//!   the profile variant's, the one closest in log-bandwidth plus log-height. No compatible
//!   variant makes the VOD unusable (the engine plays the slate instead).
//! - audio: the VOD's `EXT-X-MEDIA TYPE=AUDIO` with the same language, else its default one,
//!   else its first one. A VOD with no demuxed audio at all gets the **slate's** audio
//!   rendition for that slot, looped to the VOD's length (so the audio group never breaks);
//!   without a slate it is unusable.
//! - subtitles: the VOD's `TYPE=SUBTITLES` with the same language; a VOD without it gets
//!   empty WebVTT segments ([`EMPTY_VTT_URI`], served by the engine) mirroring the timing
//!   of the first video rendition, so the subtitle group stays continuous.

use std::sync::Arc;

use hls::{
    AttributeList, Key, Map, MasterPlaylist, MediaPlaylist, MediaType, Rendition, VariantStream,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};
use crate::timeline::{EntryMedia, MediaSeg, RenditionMedia};

/// Where empty WebVTT filler segments point, relative to a media playlist served at
/// `<root>/channels/<id>/<rendition>.m3u8` or `<root>/sessions/<id>/<rendition>.m3u8`.
pub const EMPTY_VTT_URI: &str = "../../vtt/empty.vtt";

/// One video variant of a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VariantProfile {
    pub bandwidth: u64,
    /// `[width, height]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<[u32; 2]>,
    /// RFC 6381 codecs, e.g. `avc1.64001e,mp4a.40.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codecs: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<f64>,
}

/// A demuxed audio or subtitle track of a channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrackProfile {
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub default: bool,
}

/// The fixed set of renditions a channel shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profile {
    pub variants: Vec<VariantProfile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio: Vec<TrackProfile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subtitles: Vec<TrackProfile>,
    /// The least `EXT-X-TARGETDURATION` announced (seconds); grows with longer segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_duration: Option<u64>,
    /// The segment container every item must have: `true` fMP4/CMAF (`EXT-X-MAP`), `false`
    /// MPEG-TS. A media playlist cannot go back from fMP4 to TS (an `EXT-X-MAP` cannot be
    /// unset), so an item in the other container is unusable (the slate plays instead).
    /// A profile copied from a VOD takes that VOD's; unset in a configured profile: the
    /// channel's content's (its first loadable item), else the slate's, else not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fmp4: Option<bool>,
}

/// What a rendition slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotKind {
    Video(usize),
    Audio(usize),
    Subtitles(usize),
}

impl Profile {
    /// A profile copying a VOD's master playlist (its variants, audio and subtitle tracks).
    pub fn from_master(m: &MasterPlaylist) -> Self {
        let variants = m
            .variants
            .iter()
            .map(|v| VariantProfile {
                bandwidth: v.bandwidth().unwrap_or(1_000_000),
                resolution: v.resolution().map(|(w, h)| [w, h]),
                codecs: v.codecs().map(str::to_string),
                frame_rate: v.frame_rate(),
            })
            .collect();
        let mut audio: Vec<TrackProfile> = Vec::new();
        let mut subtitles: Vec<TrackProfile> = Vec::new();
        for r in &m.media {
            let list = match r.media_type() {
                Some(MediaType::Audio) if r.uri().is_some() => &mut audio,
                Some(MediaType::Subtitles) => &mut subtitles,
                _ => continue,
            };
            let language = r.language().unwrap_or("und").to_string();
            if list.iter().any(|t| t.language == language) {
                continue;
            }
            list.push(TrackProfile {
                language,
                name: r.name().map(str::to_string),
                default: r.is_default(),
            });
        }
        Profile {
            variants,
            audio,
            subtitles,
            target_duration: None,
            fmp4: None,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.variants.is_empty() {
            return Err(Error::Config("a profile needs at least one variant".into()));
        }
        Ok(())
    }

    /// Number of rendition slots.
    pub fn slots(&self) -> usize {
        self.variants.len() + self.audio.len() + self.subtitles.len()
    }

    pub fn slot_kind(&self, slot: usize) -> Option<SlotKind> {
        let (v, a) = (self.variants.len(), self.audio.len());
        if slot < v {
            Some(SlotKind::Video(slot))
        } else if slot < v + a {
            Some(SlotKind::Audio(slot - v))
        } else if slot < self.slots() {
            Some(SlotKind::Subtitles(slot - v - a))
        } else {
            None
        }
    }

    /// The URL name of a slot (`v0`, `audio-en`, `subs-sv`).
    pub fn slot_name(&self, slot: usize) -> Option<String> {
        Some(match self.slot_kind(slot)? {
            SlotKind::Video(i) => format!("v{i}"),
            SlotKind::Audio(i) => format!("audio-{}", self.audio[i].language),
            SlotKind::Subtitles(i) => format!("subs-{}", self.subtitles[i].language),
        })
    }

    /// The slot with URL name `name`.
    /// Parsed, not formatted per slot: this runs on every media playlist request.
    pub fn slot_by_name(&self, name: &str) -> Option<usize> {
        let (v, a) = (self.variants.len(), self.audio.len());
        if let Some(lang) = name.strip_prefix("audio-") {
            return self
                .audio
                .iter()
                .position(|t| t.language == lang)
                .map(|i| v + i);
        }
        if let Some(lang) = name.strip_prefix("subs-") {
            return self
                .subtitles
                .iter()
                .position(|t| t.language == lang)
                .map(|i| v + a + i);
        }
        let digits = name.strip_prefix('v')?;
        // `v0`, `v12`: exactly what `slot_name` writes (no sign, no leading zeros).
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || (digits.len() > 1 && digits.starts_with('0'))
        {
            return None;
        }
        digits.parse::<usize>().ok().filter(|&i| i < v)
    }

    /// The channel's master playlist; media playlist URIs are `<slot name>.m3u8`, relative.
    pub fn master(&self) -> MasterPlaylist {
        let mut m = MasterPlaylist {
            version: Some(6),
            independent_segments: true,
            ..Default::default()
        };
        for (i, a) in self.audio.iter().enumerate() {
            let default = a.default || (i == 0 && !self.audio.iter().any(|t| t.default));
            m.media.push(Rendition {
                attrs: AttributeList::new()
                    .unquoted("TYPE", "AUDIO")
                    .quoted("GROUP-ID", "audio")
                    .quoted("LANGUAGE", &a.language)
                    .quoted("NAME", a.name.clone().unwrap_or_else(|| a.language.clone()))
                    .unquoted("DEFAULT", if default { "YES" } else { "NO" })
                    .unquoted("AUTOSELECT", "YES")
                    .quoted("URI", format!("audio-{}.m3u8", a.language)),
            });
        }
        for (i, s) in self.subtitles.iter().enumerate() {
            let default = s.default && i == 0;
            m.media.push(Rendition {
                attrs: AttributeList::new()
                    .unquoted("TYPE", "SUBTITLES")
                    .quoted("GROUP-ID", "subs")
                    .quoted("LANGUAGE", &s.language)
                    .quoted("NAME", s.name.clone().unwrap_or_else(|| s.language.clone()))
                    .unquoted("DEFAULT", if default { "YES" } else { "NO" })
                    .unquoted("AUTOSELECT", "YES")
                    .quoted("URI", format!("subs-{}.m3u8", s.language)),
            });
        }
        for (i, v) in self.variants.iter().enumerate() {
            let mut attrs = AttributeList::new().unquoted("BANDWIDTH", v.bandwidth);
            if let Some([w, h]) = v.resolution {
                attrs.set_unquoted("RESOLUTION", format!("{w}x{h}"));
            }
            if let Some(c) = &v.codecs {
                attrs.set_quoted("CODECS", c.clone());
            }
            if let Some(f) = v.frame_rate {
                attrs.set_unquoted("FRAME-RATE", format!("{f:.3}"));
            }
            if !self.audio.is_empty() {
                attrs.set_quoted("AUDIO", "audio");
            }
            if !self.subtitles.is_empty() {
                attrs.set_quoted("SUBTITLES", "subs");
            }
            m.variants.push(VariantStream {
                uri: format!("v{i}.m3u8"),
                attrs,
            });
        }
        m
    }
}

/// A VOD fetched and parsed once: its master (or a synthetic one for a bare media playlist)
/// and every media playlist it references, keyed by absolute URL. Shared by `Arc`.
#[derive(Debug, Clone)]
pub struct LoadedVod {
    pub url: Url,
    pub master: MasterPlaylist,
    /// (absolute URL, parsed playlist) for each variant, in master order.
    pub variants: Vec<(Url, Arc<MediaPlaylist>)>,
    /// (rendition, absolute URL, parsed playlist) for each audio/subtitle rendition with a URI.
    pub media: Vec<(Rendition, Url, Arc<MediaPlaylist>)>,
}

impl LoadedVod {
    /// Whether its segments are fMP4 (its first variant's first segment has an
    /// `EXT-X-MAP`); `None` without segments.
    pub fn is_fmp4(&self) -> Option<bool> {
        let (_, pl) = self.variants.first()?;
        pl.segments.first().map(|s| s.map.is_some())
    }
}

/// Refuse an item whose segment container is not the channel's (see [`Profile::fmp4`]).
fn check_container(profile: &Profile, vod: &LoadedVod) -> Result<()> {
    match (profile.fmp4, vod.is_fmp4()) {
        (Some(want), Some(have)) if want != have => {
            let name = |f: bool| if f { "fMP4" } else { "MPEG-TS" };
            Err(Error::Unusable(format!(
                "{}: {} segments in a {} channel",
                vod.url,
                name(have),
                name(want)
            )))
        }
        _ => Ok(()),
    }
}

fn codec_family(codecs: Option<&str>) -> Option<String> {
    let c = codecs?;
    c.split(',')
        .map(str::trim)
        .find(|c| {
            let f = c.get(..4).unwrap_or("");
            matches!(
                f,
                "avc1" | "avc3" | "hvc1" | "hev1" | "av01" | "vp09" | "dvh1" | "dvhe"
            )
        })
        .map(|c| {
            match &c[..4] {
                "avc3" => "avc1",
                "hev1" => "hvc1",
                "dvhe" => "dvh1",
                f => f,
            }
            .to_string()
        })
}

fn score(p: &VariantProfile, v: &VariantStream) -> f64 {
    let bw = v.bandwidth().unwrap_or(p.bandwidth).max(1) as f64;
    let mut s = (bw / p.bandwidth.max(1) as f64).ln().abs();
    // Resolution names a ladder rung; bitrates vary with content (a still slate vs. a
    // moving live source), so a resolution mismatch weighs three times a bitrate one.
    if let (Some([_, ph]), Some((_, vh))) = (p.resolution, v.resolution()) {
        s += 3.0 * (vh.max(1) as f64 / ph.max(1) as f64).ln().abs();
    }
    s
}

/// Pick the VOD variant for each profile variant (indices into `vod.variants`).
pub fn match_variants(profile: &Profile, vod: &LoadedVod) -> Result<Vec<usize>> {
    profile
        .variants
        .iter()
        .map(|p| {
            let want = codec_family(p.codecs.as_deref());
            vod.master
                .variants
                .iter()
                .enumerate()
                .filter(|(_, v)| {
                    let have = codec_family(v.codecs());
                    want.is_none() || have.is_none() || want == have
                })
                .min_by(|(_, a), (_, b)| score(p, a).total_cmp(&score(p, b)))
                .map(|(i, _)| i)
                .ok_or_else(|| {
                    Error::Unusable(format!(
                        "{}: no variant compatible with codecs {:?}",
                        vod.url,
                        p.codecs.as_deref().unwrap_or("")
                    ))
                })
        })
        .collect()
}

/// Convert a parsed media playlist to timeline segments with absolute URIs.
pub fn to_rendition(base: &Url, pl: &MediaPlaylist) -> Result<RenditionMedia> {
    let abs = |u: &str| -> Result<String> {
        hls::uri::resolve(base, u)
            .map(|u| u.to_string())
            .map_err(|e| Error::Unusable(format!("{base}: bad URI {u:?}: {e}")))
    };
    let mut out = Vec::with_capacity(pl.segments.len());
    let mut map: Option<Arc<Map>> = None;
    let mut keys: Arc<[Key]> = Arc::from(Vec::new());
    for s in &pl.segments {
        if let Some(m) = &s.map {
            let mut m = m.clone();
            if let Some(u) = m.uri() {
                let u = abs(u)?;
                m.attrs.set_quoted("URI", u);
            }
            map = Some(Arc::new(m));
        }
        if !s.keys.is_empty() {
            let mut ks = Vec::new();
            for k in &s.keys {
                let mut k = k.clone();
                if k.method() == Some("NONE") {
                    continue;
                }
                if let Some(u) = k.uri() {
                    let u = abs(u)?;
                    k.attrs.set_quoted("URI", u);
                }
                ks.push(k);
            }
            keys = Arc::from(ks);
        }
        let mut seg = MediaSeg::new(abs(&s.uri)?, s.duration);
        seg.discontinuity = s.discontinuity;
        seg.map = map.clone();
        seg.keys = keys.clone();
        seg.byte_range = s.byte_range;
        seg.markers = s.markers.clone();
        seg.dateranges = s.dateranges.clone();
        out.push(seg);
    }
    if out.is_empty() {
        return Err(Error::Unusable(format!("{base}: no segments")));
    }
    Ok(RenditionMedia::new(out))
}

/// Empty WebVTT segments with the timing of `like`.
pub fn empty_subtitles(like: &RenditionMedia) -> RenditionMedia {
    RenditionMedia::new(
        like.segments
            .iter()
            .map(|s| {
                let mut e = MediaSeg::new(EMPTY_VTT_URI, s.duration);
                e.discontinuity = s.discontinuity;
                e
            })
            .collect(),
    )
}

fn find_track<'a>(
    vod: &'a LoadedVod,
    kind: MediaType,
    language: &str,
) -> Option<&'a (Rendition, Url, Arc<MediaPlaylist>)> {
    let of_kind = || {
        vod.media
            .iter()
            .filter(move |(r, _, _)| r.media_type() == Some(kind))
    };
    of_kind()
        .find(|(r, _, _)| r.language() == Some(language))
        .or_else(|| {
            if kind == MediaType::Audio {
                of_kind()
                    .find(|(r, _, _)| r.is_default())
                    .or_else(|| of_kind().next())
            } else {
                None
            }
        })
}

/// Build an entry's media for `profile` from a loaded VOD. `slate` (the channel slate's
/// media, already built for this profile) fills audio a VOD lacks. Pure.
pub fn build_media(
    profile: &Profile,
    vod: &LoadedVod,
    slate: Option<&EntryMedia>,
) -> Result<EntryMedia> {
    check_container(profile, vod)?;
    let picks = match_variants(profile, vod)?;
    let mut renditions = Vec::with_capacity(profile.slots());
    for i in picks {
        let (url, pl) = &vod.variants[i];
        renditions.push(to_rendition(url, pl)?);
    }
    let main_ms = renditions[0].total_ms();
    for (slot_i, a) in profile.audio.iter().enumerate() {
        match find_track(vod, MediaType::Audio, &a.language) {
            Some((_, url, pl)) => renditions.push(to_rendition(url, pl)?),
            None => {
                let slot = profile.variants.len() + slot_i;
                let filler = slate.and_then(|s| s.renditions.get(slot)).ok_or_else(|| {
                    Error::Unusable(format!(
                        "{}: no audio track for {:?} and no slate audio to fill it",
                        vod.url, a.language
                    ))
                })?;
                let looped = EntryMedia {
                    renditions: vec![filler.clone()],
                }
                .looped(main_ms)?;
                renditions.extend(looped.renditions);
            }
        }
    }
    for s in &profile.subtitles {
        match find_track(vod, MediaType::Subtitles, &s.language) {
            Some((_, url, pl)) => renditions.push(to_rendition(url, pl)?),
            None => renditions.push(empty_subtitles(&renditions[0])),
        }
    }
    EntryMedia::new(renditions)
}

/// The body of [`EMPTY_VTT_URI`].
pub const EMPTY_VTT: &str = "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n";

/// One rendition slot of a live source at one look: the source media sequence number of its
/// first segment and its segments (absolute URIs).
#[derive(Debug, Clone)]
pub struct LiveSlot {
    pub first_seq: u64,
    pub segments: Vec<crate::timeline::MediaSeg>,
    /// The source ended (`EXT-X-ENDLIST`).
    pub ended: bool,
}

/// Match a live source's renditions to `profile`'s slots (video variants as for VODs; audio
/// tracks by language, required; subtitles by language or empty WebVTT with the timing of
/// the first video slot). Pure. Live sources must be segment-aligned across renditions (the
/// same media sequence numbers cover the same time), as HLS authoring requires for ABR.
pub fn live_snapshot(profile: &Profile, live: &LoadedVod) -> Result<Vec<LiveSlot>> {
    let slot = |url: &Url, pl: &MediaPlaylist| -> Result<LiveSlot> {
        Ok(LiveSlot {
            first_seq: pl.media_sequence,
            segments: to_rendition(url, pl)?.segments,
            ended: pl.end_list,
        })
    };
    check_container(profile, live)?;
    let picks = match_variants(profile, live)?;
    let mut out = Vec::with_capacity(profile.slots());
    for i in picks {
        let (url, pl) = &live.variants[i];
        out.push(slot(url, pl)?);
    }
    for a in &profile.audio {
        let (_, url, pl) = find_track(live, MediaType::Audio, &a.language).ok_or_else(|| {
            Error::Unusable(format!(
                "{}: live source has no audio track for {:?}",
                live.url, a.language
            ))
        })?;
        out.push(slot(url, pl)?);
    }
    for s in &profile.subtitles {
        match find_track(live, MediaType::Subtitles, &s.language) {
            Some((_, url, pl)) => out.push(slot(url, pl)?),
            None => {
                let v = &out[0];
                out.push(LiveSlot {
                    first_seq: v.first_seq,
                    segments: empty_subtitles(&RenditionMedia::new(v.segments.clone())).segments,
                    ended: v.ended,
                });
            }
        }
    }
    Ok(out)
}
