//! The content profile: what an ad must look like to be spliced into a piece of content.
//!
//! Read from the content's master playlist (variants: `BANDWIDTH`, `AVERAGE-BANDWIDTH`,
//! `CODECS`, `RESOLUTION`, `FRAME-RATE`, `AUDIO` groups; `EXT-X-MEDIA` audio renditions:
//! group, language, name, `CHANNELS`), its media playlists (target duration, container:
//! an `EXT-X-MAP` means fMP4) and, for what playlists never say (audio sample rate) or
//! leave out, the first segment of each rendition, inspected with the `media` crate
//! (TS: remuxed in memory to read the H.264 SPS and the ADTS header; fMP4: the init
//! segment's sample entries and `avcC`, the first fragment's sample durations for the
//! frame rate). AES-128 segments are decrypted with the playlist's key first.
//!
//! [`assemble`] is pure (playlists and probes in, profile out); [`read`] is its I/O shell.

use std::collections::BTreeMap;

use hls::{MasterPlaylist, MediaPlaylist, MediaType, Playlist};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{AdsError, Result};

/// The segment container of the content (and so of its conditioned ads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// MPEG-2 transport stream segments.
    Ts,
    /// Fragmented MP4 (CMAF) segments with an `EXT-X-MAP` init segment.
    Fmp4,
}

/// Video of a rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoProfile {
    /// RFC 6381 codec string (`avc1.64001e`, `hvc1.1.6.L93.B0`).
    pub codec: String,
    pub width: u32,
    pub height: u32,
    /// Frames per second (`25`, `29.97`).
    pub frame_rate: f64,
}

/// Audio of a rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioProfile {
    /// RFC 6381 codec string (`mp4a.40.2`, `ac-3`, `ec-3`, `opus`).
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u8,
}

/// One variant (`EXT-X-STREAM-INF`) of the content, in master order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantProfile {
    pub bandwidth: u64,
    #[serde(default)]
    pub average_bandwidth: Option<u64>,
    /// `None`: an audio-only variant.
    pub video: Option<VideoProfile>,
    /// Audio muxed into the variant's own segments (`None` with demuxed audio groups).
    pub audio: Option<AudioProfile>,
    /// The variant's `AUDIO` group, when it has one with renditions of their own.
    #[serde(default)]
    pub audio_group: Option<String>,
}

/// An `EXT-X-MEDIA:TYPE=AUDIO` rendition with its own playlist (demuxed audio).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioRendition {
    pub group: String,
    #[serde(default)]
    pub language: Option<String>,
    pub name: String,
    pub audio: AudioProfile,
}

/// What conditioned ads must match to play in a piece of content. Two contents with the
/// same profile share their conditioned ads (the cache key is the creative URL and
/// [`ContentProfile::key`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentProfile {
    pub container: Container,
    /// Segment duration of the ads: the content's target duration, seconds.
    pub segment_secs: u64,
    pub variants: Vec<VariantProfile>,
    /// Demuxed audio renditions, in master order.
    #[serde(default)]
    pub audio: Vec<AudioRendition>,
}

impl ContentProfile {
    /// A stable digest of the profile (32 hex digits): equal profiles, equal keys, on every
    /// replica and across restarts.
    pub fn key(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let digest = Sha256::digest(&json);
        hex::encode(&digest[..16])
    }

    /// Checks the profile can be made (at least one rendition, sane numbers).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(AdsError::Origin(format!("content profile: {m}")));
        if self.variants.is_empty() {
            return bad("no variants".into());
        }
        if !(1..=60).contains(&self.segment_secs) {
            return bad(format!("target duration {} s", self.segment_secs));
        }
        for (i, v) in self.variants.iter().enumerate() {
            if v.video.is_none() && v.audio.is_none() && v.audio_group.is_none() {
                return bad(format!("variant {i} has neither video nor audio"));
            }
            if let Some(video) = &v.video
                && (!(16..=7680).contains(&video.width)
                    || !(16..=4320).contains(&video.height)
                    || !(1.0..=240.0).contains(&video.frame_rate))
            {
                return bad(format!(
                    "variant {i}: {}x{} at {} fps",
                    video.width, video.height, video.frame_rate
                ));
            }
        }
        Ok(())
    }
}

/// What the first segment of a rendition showed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentProbe {
    pub video: Option<VideoProfile>,
    pub audio: Option<AudioProfile>,
}

/// Codec strings of a `CODECS` attribute, split into (video, audio).
fn split_codecs(codecs: Option<&str>) -> (Option<String>, Option<String>) {
    let mut video = None;
    let mut audio = None;
    for c in codecs.unwrap_or("").split(',').map(str::trim) {
        let lower = c.to_ascii_lowercase();
        if [
            "avc1", "avc3", "hvc1", "hev1", "dvh1", "dvhe", "av01", "vp09",
        ]
        .iter()
        .any(|p| lower.starts_with(p))
        {
            video.get_or_insert_with(|| c.to_string());
        } else if ["mp4a", "ac-3", "ec-3", "opus", "flac"]
            .iter()
            .any(|p| lower.starts_with(p))
        {
            audio.get_or_insert_with(|| c.to_string());
        }
    }
    (video, audio)
}

/// Rounds a measured frame rate to the common rate within 0.5 % (else two decimals).
pub fn snap_frame_rate(fps: f64) -> f64 {
    const COMMON: [f64; 10] = [
        23.976, 24.0, 25.0, 29.97, 30.0, 48.0, 50.0, 59.94, 60.0, 120.0,
    ];
    COMMON
        .iter()
        .copied()
        .find(|c| ((fps - c) / c).abs() < 0.005)
        .unwrap_or((fps * 100.0).round() / 100.0)
}

/// The profile of one content: `medias[i]` is variant `i`'s media playlist, `probes[i]`
/// its first segment; `audio_probes` the first segment of each audio rendition with a URI
/// (master order). Playlist attributes win where both speak, except the audio sample rate
/// and channels, which only a segment tells for sure.
pub fn assemble(
    master: &MasterPlaylist,
    medias: &[MediaPlaylist],
    probes: &[SegmentProbe],
    audio_probes: &[SegmentProbe],
) -> Result<ContentProfile> {
    let first = medias
        .first()
        .ok_or_else(|| AdsError::Origin("content profile: no media playlist".into()))?;
    let container = if first.segments.iter().any(|s| s.map.is_some()) {
        Container::Fmp4
    } else {
        Container::Ts
    };
    let segment_secs = medias
        .iter()
        .map(|m| {
            m.target_duration
                .unwrap_or_else(|| m.computed_target_duration())
        })
        .max()
        .unwrap_or(first.computed_target_duration());
    let groups: BTreeMap<&str, ()> = master
        .media
        .iter()
        .filter(|r| r.media_type() == Some(MediaType::Audio) && r.uri().is_some())
        .filter_map(|r| r.group_id().map(|g| (g, ())))
        .collect();
    let mut variants = Vec::new();
    let mut group_codec: BTreeMap<String, String> = BTreeMap::new();
    for (i, v) in master.variants.iter().enumerate() {
        let probe = probes.get(i).cloned().unwrap_or_default();
        let (vcodec, acodec) = split_codecs(v.codecs());
        let audio_group = v
            .audio()
            .filter(|g| groups.contains_key(g))
            .map(str::to_string);
        if let (Some(g), Some(a)) = (&audio_group, &acodec) {
            group_codec.entry(g.clone()).or_insert_with(|| a.clone());
        }
        let video = match (probe.video, v.resolution()) {
            (Some(mut p), res) => {
                if let Some((w, h)) = res {
                    (p.width, p.height) = (w, h);
                }
                if let Some(c) = &vcodec {
                    p.codec = c.clone();
                }
                if let Some(f) = v.frame_rate() {
                    p.frame_rate = f;
                }
                Some(p)
            }
            (None, Some((w, h))) => Some(VideoProfile {
                codec: vcodec.clone().unwrap_or_else(|| "avc1.64001f".into()),
                width: w,
                height: h,
                frame_rate: v.frame_rate().unwrap_or(25.0),
            }),
            (None, None) if vcodec.is_some() => {
                return Err(AdsError::Origin(format!(
                    "content profile: variant {i} names video but neither RESOLUTION nor its first segment tells its size"
                )));
            }
            (None, None) => None,
        };
        // Muxed audio: what the segment holds; without a probe, the CODECS list when the
        // variant has no audio group of its own.
        let audio = match probe.audio {
            Some(mut a) => {
                if let Some(c) = acodec.as_ref().filter(|_| audio_group.is_none()) {
                    a.codec = c.clone();
                }
                Some(a)
            }
            None if audio_group.is_none() => acodec.map(|codec| AudioProfile {
                codec,
                sample_rate: 48_000,
                channels: 2,
            }),
            None => None,
        };
        variants.push(VariantProfile {
            bandwidth: v.bandwidth().unwrap_or(0),
            average_bandwidth: v.average_bandwidth(),
            video,
            audio,
            audio_group,
        });
    }
    let mut audio = Vec::new();
    let renditions = master
        .media
        .iter()
        .filter(|r| r.media_type() == Some(MediaType::Audio) && r.uri().is_some());
    for (k, r) in renditions.enumerate() {
        let group = r.group_id().unwrap_or("audio").to_string();
        let channels = r
            .attrs
            .get("CHANNELS")
            .and_then(|c| c.split('/').next())
            .and_then(|c| c.parse::<u8>().ok());
        let probed = audio_probes.get(k).and_then(|p| p.audio.clone());
        let codec = group_codec
            .get(&group)
            .cloned()
            .or_else(|| probed.as_ref().map(|p| p.codec.clone()))
            .unwrap_or_else(|| "mp4a.40.2".into());
        let mut profile = probed.unwrap_or(AudioProfile {
            codec: codec.clone(),
            sample_rate: 48_000,
            channels: channels.unwrap_or(2),
        });
        profile.codec = codec;
        if let Some(c) = channels {
            profile.channels = c;
        }
        audio.push(AudioRendition {
            group,
            language: r.language().map(str::to_string),
            name: r.name().unwrap_or("audio").to_string(),
            audio: profile,
        });
    }
    let profile = ContentProfile {
        container,
        segment_secs,
        variants,
        audio,
    };
    profile.validate()?;
    Ok(profile)
}

/// Probes the first segment of a rendition (`init` for fMP4). Never fails: what cannot be
/// read stays `None` and the playlist's attributes are used instead.
pub fn probe_segment(init: Option<&[u8]>, segment: &[u8]) -> SegmentProbe {
    match init {
        None => probe_ts(segment),
        Some(init) => probe_fmp4(init, segment),
    }
}

fn probe_ts(segment: &[u8]) -> SegmentProbe {
    let mut out = SegmentProbe::default();
    let Ok(remuxed) = media::fmp4::remux_ts(segment, 1) else {
        return out;
    };
    for t in &remuxed.tracks {
        match &t.kind {
            media::fmp4::TrackKind::Avc { width, height, .. } => {
                let secs = t.duration as f64 / f64::from(t.timescale.max(1));
                let fps = if secs > 0.0 {
                    t.sample_count as f64 / secs
                } else {
                    25.0
                };
                out.video = Some(VideoProfile {
                    codec: t.codec_string(),
                    width: *width,
                    height: *height,
                    frame_rate: snap_frame_rate(fps),
                });
            }
            media::fmp4::TrackKind::Aac {
                sample_rate,
                channels,
                ..
            } => {
                out.audio = Some(AudioProfile {
                    codec: t.codec_string(),
                    sample_rate: *sample_rate,
                    channels: *channels,
                });
            }
        }
    }
    out
}

fn probe_fmp4(init: &[u8], segment: &[u8]) -> SegmentProbe {
    let mut out = SegmentProbe::default();
    let mut joined = Vec::with_capacity(init.len() + segment.len());
    joined.extend_from_slice(init);
    joined.extend_from_slice(segment);
    let info = match media::fmp4::inspect(&joined).or_else(|_| media::fmp4::inspect(init)) {
        Ok(i) => i,
        Err(_) => return out,
    };
    for t in &info.tracks {
        match t.handler.as_str() {
            "vide" => {
                let (samples, ticks) = info.trafs(t.track_id).fold((0usize, 0u64), |(n, d), tf| {
                    (n + tf.samples.len(), d + tf.duration())
                });
                let fps = if ticks > 0 {
                    samples as f64 * f64::from(t.timescale) / ticks as f64
                } else {
                    25.0
                };
                let codec = match (t.codec.as_str(), avcc_indication(init)) {
                    ("avc1" | "avc3", Some([p, c, l])) => {
                        format!("{}.{p:02x}{c:02x}{l:02x}", t.codec)
                    }
                    (other, _) => other.to_string(),
                };
                out.video = Some(VideoProfile {
                    codec,
                    width: u32::from(t.width),
                    height: u32::from(t.height),
                    frame_rate: snap_frame_rate(fps),
                });
            }
            "soun" => {
                let codec = match t.codec.as_str() {
                    "mp4a" => "mp4a.40.2".to_string(),
                    "ac-3" => "ac-3".to_string(),
                    "ec-3" => "ec-3".to_string(),
                    "Opus" | "opus" => "opus".to_string(),
                    other => other.to_string(),
                };
                out.audio = Some(AudioProfile {
                    codec,
                    sample_rate: t.sample_rate,
                    channels: t.channels.min(255) as u8,
                });
            }
            _ => {}
        }
    }
    out
}

/// `AVCProfileIndication`, `profile_compatibility`, `AVCLevelIndication` of the first
/// `avcC` box in an init segment.
fn avcc_indication(init: &[u8]) -> Option<[u8; 3]> {
    let at = init.windows(4).position(|w| w == b"avcC")?;
    let body = init.get(at + 4..at + 8)?;
    (body[0] == 1).then(|| [body[1], body[2], body[3]])
}

/// Longest playlist or segment read while profiling (a content's first segment).
const MAX_PROBE_BYTES: usize = 32 * 1024 * 1024;

async fn get_bytes(http: &reqwest::Client, url: &str) -> Result<bytes::Bytes> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| AdsError::Origin(format!("{url}: {e}")))?;
    if !resp.status().is_success() {
        return Err(AdsError::Origin(format!("{url}: HTTP {}", resp.status())));
    }
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_PROBE_BYTES as u64)
    {
        return Err(AdsError::Origin(format!(
            "{url}: larger than {MAX_PROBE_BYTES} bytes"
        )));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| AdsError::Origin(format!("{url}: {e}")))?;
    if body.len() > MAX_PROBE_BYTES {
        return Err(AdsError::Origin(format!(
            "{url}: larger than {MAX_PROBE_BYTES} bytes"
        )));
    }
    Ok(body)
}

async fn get_playlist(http: &reqwest::Client, url: &url::Url) -> Result<Playlist> {
    let body = get_bytes(http, url.as_str()).await?;
    hls::parse_bytes(&body).map_err(|e| AdsError::Origin(format!("{url}: {e}")))
}

/// The first segment of a media playlist (decrypted when AES-128) and its init segment.
async fn first_segment(
    http: &reqwest::Client,
    base: &url::Url,
    m: &MediaPlaylist,
) -> Result<(Option<Vec<u8>>, Vec<u8>)> {
    let Some(seg) = m.segments.first() else {
        return Err(AdsError::Origin(format!("{base}: no segments")));
    };
    let abs = |u: &str| {
        hls::uri::resolve(base, u).map_err(|e| AdsError::Origin(format!("{base}: {u}: {e}")))
    };
    let init = match m.effective_map(0).and_then(|map| map.uri()) {
        Some(u) => Some(get_bytes(http, abs(u)?.as_str()).await?.to_vec()),
        None => None,
    };
    let mut body = get_bytes(http, abs(&seg.uri)?.as_str()).await?.to_vec();
    if let Some(key) = m
        .effective_keys(0)
        .iter()
        .find(|k| k.method() == Some("AES-128"))
        && let Some(uri) = key.uri()
    {
        let key_bytes = get_bytes(http, abs(uri)?.as_str()).await?;
        let key_arr: [u8; 16] = key_bytes
            .as_ref()
            .try_into()
            .map_err(|_| AdsError::Origin(format!("{uri}: not a 16-byte key")))?;
        let iv = key
            .iv()
            .unwrap_or_else(|| media::aes::iv_from_sequence(m.media_sequence));
        body = media::aes::decrypt_segment(&body, &key_arr, &iv)
            .map_err(|e| AdsError::Origin(format!("{}: {e}", seg.uri)))?;
    }
    Ok((init, body))
}

/// Reads the profile of the content whose master (or single media playlist) is at `url`.
pub async fn read(http: &reqwest::Client, url: &str) -> Result<ContentProfile> {
    let base = url::Url::parse(url).map_err(|e| AdsError::Origin(format!("{url}: {e}")))?;
    let master = match get_playlist(http, &base).await? {
        Playlist::Master(m) => m,
        Playlist::Media(_) => {
            let mut m = MasterPlaylist::default();
            m.variants.push(hls::VariantStream {
                uri: url.to_string(),
                attrs: hls::AttributeList::new().unquoted("BANDWIDTH", 0),
            });
            m
        }
    };
    let mut medias = Vec::new();
    let mut probes = Vec::new();
    for v in &master.variants {
        let (m, probe) = media_and_probe(http, &base, &v.uri).await?;
        medias.push(m);
        probes.push(probe);
    }
    let mut audio_probes = Vec::new();
    for r in &master.media {
        if r.media_type() != Some(MediaType::Audio) {
            continue;
        }
        let Some(u) = r.uri() else { continue };
        audio_probes.push(media_and_probe(http, &base, u).await?.1);
    }
    assemble(&master, &medias, &probes, &audio_probes)
}

async fn media_and_probe(
    http: &reqwest::Client,
    base: &url::Url,
    uri: &str,
) -> Result<(MediaPlaylist, SegmentProbe)> {
    let url = hls::uri::resolve(base, uri)
        .map_err(|e| AdsError::Origin(format!("{base}: {uri}: {e}")))?;
    let Playlist::Media(m) = get_playlist(http, &url).await? else {
        return Err(AdsError::Origin(format!("{url}: not a media playlist")));
    };
    let probe = match first_segment(http, &url, &m).await {
        Ok((init, seg)) => probe_segment(init.as_deref(), &seg),
        Err(e) => {
            tracing::warn!(url = %url, error = %e, "content profile: first segment not read; playlist attributes only");
            SegmentProbe::default()
        }
    };
    Ok((m, probe))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(text: &str) -> MasterPlaylist {
        hls::parse_master(text).unwrap()
    }

    fn media(text: &str) -> MediaPlaylist {
        hls::parse_media(text).unwrap()
    }

    const TS_MEDIA: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n";

    #[test]
    fn playlist_attributes_make_a_profile_and_probes_fill_the_sample_rate() {
        let m = master(
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=417000,AVERAGE-BANDWIDTH=390000,CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=25.000\nhi.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=225000,CODECS=\"avc1.64000c,mp4a.40.2\",RESOLUTION=320x180,FRAME-RATE=25.000\nlo.m3u8\n",
        );
        let probe = SegmentProbe {
            video: None,
            audio: Some(AudioProfile {
                codec: "mp4a.40.2".into(),
                sample_rate: 44_100,
                channels: 1,
            }),
        };
        let p = assemble(
            &m,
            &[media(TS_MEDIA), media(TS_MEDIA)],
            &[probe, SegmentProbe::default()],
            &[],
        )
        .unwrap();
        assert_eq!(p.container, Container::Ts);
        assert_eq!(p.segment_secs, 2);
        let v = &p.variants[0];
        assert_eq!(v.bandwidth, 417_000);
        assert_eq!(v.average_bandwidth, Some(390_000));
        let video = v.video.as_ref().unwrap();
        assert_eq!(
            (
                video.codec.as_str(),
                video.width,
                video.height,
                video.frame_rate
            ),
            ("avc1.64001e", 640, 360, 25.0)
        );
        assert_eq!(v.audio.as_ref().unwrap().sample_rate, 44_100);
        assert_eq!(v.audio.as_ref().unwrap().channels, 1);
        // Without a probe: the CODECS list and the usual 48 kHz stereo.
        assert_eq!(p.variants[1].audio.as_ref().unwrap().sample_rate, 48_000);
        // Same inputs, same key; another profile, another key.
        let again = assemble(
            &m,
            &[media(TS_MEDIA), media(TS_MEDIA)],
            &[
                SegmentProbe {
                    video: None,
                    audio: Some(AudioProfile {
                        codec: "mp4a.40.2".into(),
                        sample_rate: 44_100,
                        channels: 1,
                    }),
                },
                SegmentProbe::default(),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(p.key(), again.key());
        let mut other = p.clone();
        other.segment_secs = 6;
        assert_ne!(p.key(), other.key());
    }

    #[test]
    fn demuxed_audio_groups_and_fmp4() {
        let m = master(
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",LANGUAGE=\"en\",NAME=\"English\",CHANNELS=\"2\",URI=\"en.m3u8\"\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",LANGUAGE=\"sv\",NAME=\"Svenska\",CHANNELS=\"6\",URI=\"sv.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=181000,CODECS=\"avc1.64001e,mp4a.40.2\",RESOLUTION=640x360,FRAME-RATE=25,AUDIO=\"aac\"\nv.m3u8\n",
        );
        let cmaf = media(
            "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:6,\na.m4s\n#EXT-X-ENDLIST\n",
        );
        let p = assemble(&m, &[cmaf], &[SegmentProbe::default()], &[]).unwrap();
        assert_eq!(p.container, Container::Fmp4);
        assert_eq!(p.segment_secs, 6);
        assert_eq!(p.variants[0].audio, None);
        assert_eq!(p.variants[0].audio_group.as_deref(), Some("aac"));
        assert_eq!(p.audio.len(), 2);
        assert_eq!(p.audio[1].language.as_deref(), Some("sv"));
        assert_eq!(p.audio[1].audio.channels, 6);
        assert_eq!(p.audio[0].audio.codec, "mp4a.40.2");
    }

    #[test]
    fn video_without_a_size_is_an_error_and_rates_snap() {
        let m = master("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1.64001e\"\nv.m3u8\n");
        assert!(assemble(&m, &[media(TS_MEDIA)], &[], &[]).is_err());
        assert_eq!(snap_frame_rate(25.04), 25.0);
        assert_eq!(snap_frame_rate(29.969), 29.97);
        assert_eq!(snap_frame_rate(12.5), 12.5);
    }

    #[test]
    fn fixture_segments_probe_like_ffprobe_says() {
        // tests/fixtures/make.sh: H.264 High, 25 fps, AAC-LC 48 kHz stereo.
        let ts = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/ts/vod1/360p/seg000.ts"
        ))
        .unwrap();
        let p = probe_segment(None, &ts);
        let v = p.video.unwrap();
        assert_eq!((v.width, v.height, v.frame_rate), (640, 360, 25.0));
        assert!(v.codec.starts_with("avc1.64"), "{}", v.codec);
        let a = p.audio.unwrap();
        assert_eq!(
            (a.codec.as_str(), a.sample_rate, a.channels),
            ("mp4a.40.2", 48_000, 2)
        );
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/cmaf/vod1/180p"
        );
        let init = std::fs::read(format!("{dir}/init.mp4")).unwrap();
        let seg = std::fs::read(format!("{dir}/seg000.m4s")).unwrap();
        let p = probe_segment(Some(&init), &seg);
        let v = p.video.unwrap();
        assert_eq!((v.width, v.height, v.frame_rate), (320, 180, 25.0));
        assert_eq!(v.codec, "avc1.64000c");
        let a = p.audio.unwrap();
        assert_eq!((a.sample_rate, a.channels), (48_000, 2));
    }
}
