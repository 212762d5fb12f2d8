//! The ffmpeg command for one conditioning job: pure (mezzanine probe and content profile
//! in, arguments and the renditions they make out), so what a job asks of ffmpeg is tested
//! without running it.
//!
//! One ffmpeg process makes every rendition of a profile: the mezzanine is decoded once
//! and each output has its own filter (frame rate, scale into the content's size with
//! letterboxing, square pixels, 4:2:0) and encoder settings: H.264 (libx264) or HEVC
//! (libx265) at the content's profile and level, bitrate within the variant's
//! `AVERAGE-BANDWIDTH`/`BANDWIDTH`, a keyframe at every segment boundary (forced, scene
//! cuts off, so segments start on keyframes and last the content's target duration),
//! audio in the content's codec, sample rate and channels (the mezzanine's track in the
//! rendition's language when it has one, silence when it has no audio at all), muxed by
//! ffmpeg's HLS muxer into the content's container (TS, or fMP4 with `init.mp4`).

use serde::Deserialize;

use super::profile::{AudioProfile, Container, ContentProfile, VideoProfile};
use crate::error::{AdsError, Result};

/// What ffprobe says about a mezzanine.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MezzanineProbe {
    pub duration: f64,
    /// (width, height) of the first video stream.
    pub video: Option<(u32, u32)>,
    /// The language tag of each audio stream, in stream order (`None`: untagged).
    pub audio: Vec<Option<String>>,
}

#[derive(Deserialize)]
struct FfprobeDoc {
    #[serde(default)]
    streams: Vec<FfprobeStream>,
    #[serde(default)]
    format: Option<FfprobeFormat>,
}

#[derive(Deserialize)]
struct FfprobeStream {
    #[serde(default)]
    codec_type: String,
    #[serde(default)]
    width: Option<u32>,
    #[serde(default)]
    height: Option<u32>,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    tags: std::collections::HashMap<String, String>,
    #[serde(default)]
    disposition: std::collections::HashMap<String, i64>,
}

#[derive(Deserialize)]
struct FfprobeFormat {
    #[serde(default)]
    duration: Option<String>,
}

/// The arguments of [`parse_ffprobe`]'s ffprobe run (before the input path).
pub const FFPROBE_ARGS: [&str; 7] = [
    "-v",
    "error",
    "-show_entries",
    "format=duration:stream=codec_type,width,height,duration:stream_tags=language:stream_disposition=attached_pic",
    "-of",
    "json",
    "-i",
];

/// Reads `ffprobe -of json` output ([`FFPROBE_ARGS`]).
pub fn parse_ffprobe(json: &[u8]) -> Result<MezzanineProbe> {
    let doc: FfprobeDoc = serde_json::from_slice(json)
        .map_err(|e| AdsError::Creative(format!("ffprobe output: {e}")))?;
    let secs = |s: &Option<String>| s.as_deref().and_then(|d| d.parse::<f64>().ok());
    let mut probe = MezzanineProbe {
        duration: doc
            .format
            .as_ref()
            .and_then(|f| secs(&f.duration))
            .unwrap_or(0.0),
        ..Default::default()
    };
    for s in &doc.streams {
        match s.codec_type.as_str() {
            // Cover art is a video stream of one picture: not the ad.
            "video" if s.disposition.get("attached_pic") != Some(&1) => {
                if probe.video.is_none()
                    && let (Some(w), Some(h)) = (s.width, s.height)
                {
                    probe.video = Some((w, h));
                    if probe.duration <= 0.0 {
                        probe.duration = secs(&s.duration).unwrap_or(0.0);
                    }
                }
            }
            "audio" => probe.audio.push(s.tags.get("language").cloned()),
            _ => {}
        }
    }
    Ok(probe)
}

/// One output of a job, and where in the conditioned ad it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Folder and name in the job directory: `v<i>` for variant `i`, `a<k>` for audio
    /// rendition `k`.
    pub name: String,
    pub video: Option<VideoProfile>,
    pub audio: Option<AudioProfile>,
    /// The content rendition's `BANDWIDTH`.
    pub bandwidth: u64,
}

/// The outputs a profile needs, variants first, then demuxed audio renditions.
pub fn outputs(profile: &ContentProfile) -> Vec<Output> {
    let mut out: Vec<Output> = profile
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| Output {
            name: format!("v{i}"),
            video: v.video.clone(),
            audio: v.audio.clone(),
            bandwidth: v.average_bandwidth.unwrap_or(v.bandwidth),
        })
        .collect();
    out.extend(profile.audio.iter().enumerate().map(|(k, a)| Output {
        name: format!("a{k}"),
        video: None,
        audio: Some(a.audio.clone()),
        bandwidth: 0,
    }));
    out
}

/// Knobs of the command besides the profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanOptions {
    /// Encoder threads per output (0: ffmpeg's choice).
    pub threads: u32,
    /// Longest ad made, seconds (the input is cut there).
    pub max_secs: f64,
}

/// Audio bitrate of an output, bits per second.
fn audio_bitrate(out: &Output, audio: &AudioProfile) -> u64 {
    let pairs = u64::from(audio.channels.max(1)).div_ceil(2);
    if out.video.is_none() {
        return (96_000 * pairs).min(384_000);
    }
    // Muxed: an eighth of the variant, within 32-128 kb/s per channel pair.
    (out.bandwidth / 8).clamp(32_000, 128_000) * pairs
}

/// The ffmpeg arguments (without the program) that condition `input` into `dir`, and the
/// outputs they make (`dir/<name>/index.m3u8`). `language_of(k)` is the language of
/// audio rendition `k` (to pick the mezzanine's matching audio track).
pub fn ffmpeg_args(
    input: &str,
    dir: &str,
    probe: &MezzanineProbe,
    profile: &ContentProfile,
    opts: PlanOptions,
) -> Result<(Vec<String>, Vec<Output>)> {
    if probe.video.is_none() && profile.variants.iter().any(|v| v.video.is_some()) {
        return Err(AdsError::Creative(
            "the mezzanine has no video stream".into(),
        ));
    }
    let duration = if probe.duration > 0.0 {
        probe.duration.min(opts.max_secs)
    } else {
        opts.max_secs
    };
    let outs = outputs(profile);
    let needs_audio = outs.iter().any(|o| o.audio.is_some());
    let mut a: Vec<String> = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let push = |args: &mut Vec<String>, items: &[&str]| {
        args.extend(items.iter().map(|s| s.to_string()));
    };
    push(&mut a, &["-t", &format!("{duration:.3}"), "-i", input]);
    let silent = needs_audio && probe.audio.is_empty();
    if silent {
        push(
            &mut a,
            &[
                "-f",
                "lavfi",
                "-t",
                &format!("{duration:.3}"),
                "-i",
                "anullsrc=r=48000:cl=stereo",
            ],
        );
    }
    let seg = profile.segment_secs.max(1);
    for (k, out) in outs.iter().enumerate() {
        push(&mut a, &["-map_metadata", "-1", "-map_chapters", "-1"]);
        if let Some(v) = &out.video {
            push(&mut a, &["-map", "0:v:0"]);
            video_args(&mut a, out, v, profile.container, seg);
        }
        if let Some(audio) = &out.audio {
            let src = if silent {
                "1:a:0".to_string()
            } else {
                let lang = k
                    .checked_sub(profile.variants.len())
                    .and_then(|r| profile.audio.get(r))
                    .and_then(|r| r.language.as_deref());
                format!("0:a:{}", audio_track(&probe.audio, lang))
            };
            push(&mut a, &["-map", &src]);
            audio_args(&mut a, audio, audio_bitrate(out, audio), profile.container)?;
        }
        if opts.threads > 0 {
            push(&mut a, &["-threads", &opts.threads.to_string()]);
        }
        let ext = match profile.container {
            Container::Ts => "ts",
            Container::Fmp4 => "m4s",
        };
        push(
            &mut a,
            &[
                "-f",
                "hls",
                "-hls_time",
                &seg.to_string(),
                "-hls_playlist_type",
                "vod",
                "-hls_list_size",
                "0",
                "-hls_flags",
                "independent_segments",
            ],
        );
        if profile.container == Container::Fmp4 {
            push(
                &mut a,
                &[
                    "-hls_segment_type",
                    "fmp4",
                    "-hls_fmp4_init_filename",
                    "init.mp4",
                ],
            );
        }
        push(
            &mut a,
            &[
                "-hls_segment_filename",
                &format!("{dir}/{}/s%03d.{ext}", out.name),
                &format!("{dir}/{}/index.m3u8", out.name),
            ],
        );
    }
    Ok((a, outs))
}

/// The mezzanine audio track for a language: the one tagged with it (two- or
/// three-letter codes), else the first.
fn audio_track(tracks: &[Option<String>], language: Option<&str>) -> usize {
    let Some(lang) = language.map(|l| l.split('-').next().unwrap_or(l).to_ascii_lowercase()) else {
        return 0;
    };
    tracks
        .iter()
        .position(|t| {
            t.as_deref()
                .is_some_and(|t| same_language(&t.to_ascii_lowercase(), &lang))
        })
        .unwrap_or(0)
}

/// ISO 639-1 vs ISO 639-2 (T and B) for the languages ads usually carry.
fn same_language(a: &str, b: &str) -> bool {
    const CODES: [(&str, &[&str]); 24] = [
        ("en", &["eng"]),
        ("sv", &["swe"]),
        ("no", &["nor", "nob", "nno"]),
        ("da", &["dan"]),
        ("fi", &["fin"]),
        ("de", &["deu", "ger"]),
        ("fr", &["fra", "fre"]),
        ("es", &["spa"]),
        ("it", &["ita"]),
        ("pt", &["por"]),
        ("nl", &["nld", "dut"]),
        ("pl", &["pol"]),
        ("ru", &["rus"]),
        ("ja", &["jpn"]),
        ("zh", &["zho", "chi"]),
        ("ko", &["kor"]),
        ("ar", &["ara"]),
        ("hi", &["hin"]),
        ("tr", &["tur"]),
        ("el", &["ell", "gre"]),
        ("cs", &["ces", "cze"]),
        ("hu", &["hun"]),
        ("is", &["isl", "ice"]),
        ("et", &["est"]),
    ];
    let canon = |x: &str| -> String {
        CODES
            .iter()
            .find(|(two, three)| *two == x || three.contains(&x))
            .map(|(two, _)| two.to_string())
            .unwrap_or_else(|| x.to_string())
    };
    canon(a) == canon(b)
}

/// `avc1.PPCCLL` -> (x264 profile, level as `3.1`).
fn avc_profile_level(codec: &str) -> (&'static str, String) {
    let hex = codec.split('.').nth(1).unwrap_or("");
    let byte = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
    };
    let profile = match byte(0) {
        Some(66) => "baseline",
        Some(77) => "main",
        Some(110) => "high10",
        Some(122) => "high422",
        Some(244) => "high444",
        _ => "high",
    };
    let level = byte(4).unwrap_or(31);
    (profile, format!("{}.{}", level / 10, level % 10))
}

/// `hvc1.<profile>.<compat>.<tier><level>...` -> (x265 profile, level-idc as `3.1`).
fn hevc_profile_level(codec: &str) -> (&'static str, String) {
    let mut parts = codec.split('.');
    let profile = match parts.nth(1) {
        Some("2") => "main10",
        _ => "main",
    };
    let level = parts
        .nth(1)
        .and_then(|l| l.get(1..))
        .and_then(|l| l.parse::<u32>().ok())
        .unwrap_or(93);
    (profile, format!("{}.{}", level / 30, (level % 30) / 3))
}

fn video_args(a: &mut Vec<String>, out: &Output, v: &VideoProfile, container: Container, seg: u64) {
    let (w, h) = (v.width & !1, v.height & !1);
    let fps = v.frame_rate;
    let gop = ((fps * seg as f64).round() as u64).max(1);
    let audio = out
        .audio
        .as_ref()
        .map(|au| audio_bitrate(out, au))
        .unwrap_or(0);
    // Within the variant: ~8 % for the container, the audio's share, the rest video.
    let total = if out.bandwidth > 0 {
        out.bandwidth
    } else {
        2_000_000
    };
    let avg = (total * 92 / 100).saturating_sub(audio).max(64_000);
    let max = avg * 11 / 10;
    let filter = format!(
        "fps={fps},scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p"
    );
    let mut push = |items: &[&str]| a.extend(items.iter().map(|s| s.to_string()));
    push(&["-vf", &filter]);
    let lower = v.codec.to_ascii_lowercase();
    if lower.starts_with("hvc1") || lower.starts_with("hev1") {
        let (profile, level) = hevc_profile_level(&v.codec);
        push(&[
            "-c:v",
            "libx265",
            "-preset",
            "veryfast",
            "-profile:v",
            profile,
        ]);
        push(&[
            "-x265-params",
            &format!("keyint={gop}:min-keyint={gop}:scenecut=0:level-idc={level}:log-level=error"),
        ]);
        if container == Container::Fmp4 {
            push(&["-tag:v", "hvc1"]);
        }
    } else {
        let (profile, level) = avc_profile_level(&v.codec);
        push(&[
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            profile,
            "-level:v",
            &level,
            "-g",
            &gop.to_string(),
            "-keyint_min",
            &gop.to_string(),
            "-sc_threshold",
            "0",
        ]);
    }
    push(&[
        "-force_key_frames",
        &format!("expr:gte(t,n_forced*{seg})"),
        "-b:v",
        &avg.to_string(),
        "-maxrate",
        &max.to_string(),
        "-bufsize",
        &(max * 2).to_string(),
    ]);
}

fn audio_args(
    a: &mut Vec<String>,
    audio: &AudioProfile,
    bitrate: u64,
    container: Container,
) -> Result<()> {
    let lower = audio.codec.to_ascii_lowercase();
    let encoder = if lower.starts_with("mp4a") {
        // AAC-LC for every mp4a (HE-AAC needs libfdk_aac, which Debian's ffmpeg lacks;
        // players decode LC wherever they decode HE).
        "aac"
    } else if lower == "ac-3" {
        "ac3"
    } else if lower == "ec-3" {
        "eac3"
    } else if lower == "opus" && container == Container::Fmp4 {
        "libopus"
    } else {
        return Err(AdsError::Creative(format!(
            "content audio codec {} in {container:?} is not one conditioning makes",
            audio.codec
        )));
    };
    a.extend(
        [
            "-c:a",
            encoder,
            "-b:a",
            &bitrate.to_string(),
            "-ar",
            &audio.sample_rate.to_string(),
            "-ac",
            &audio.channels.to_string(),
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::profile::{AudioRendition, VariantProfile};
    use super::*;

    fn profile(container: Container) -> ContentProfile {
        ContentProfile {
            container,
            segment_secs: 2,
            variants: vec![
                VariantProfile {
                    bandwidth: 417_000,
                    average_bandwidth: Some(390_000),
                    video: Some(VideoProfile {
                        codec: "avc1.64001e".into(),
                        width: 640,
                        height: 360,
                        frame_rate: 25.0,
                    }),
                    audio: Some(AudioProfile {
                        codec: "mp4a.40.2".into(),
                        sample_rate: 48_000,
                        channels: 2,
                    }),
                    audio_group: None,
                },
                VariantProfile {
                    bandwidth: 225_000,
                    average_bandwidth: None,
                    video: Some(VideoProfile {
                        codec: "avc1.42c00c".into(),
                        width: 320,
                        height: 180,
                        frame_rate: 29.97,
                    }),
                    audio: None,
                    audio_group: Some("aac".into()),
                },
            ],
            audio: vec![AudioRendition {
                group: "aac".into(),
                language: Some("sv".into()),
                name: "Svenska".into(),
                audio: AudioProfile {
                    codec: "mp4a.40.2".into(),
                    sample_rate: 44_100,
                    channels: 6,
                },
            }],
        }
    }

    fn after<'a>(args: &'a [String], flag: &str, nth: usize) -> &'a str {
        args.iter()
            .enumerate()
            .filter(|(_, a)| *a == flag)
            .nth(nth)
            .map(|(i, _)| args[i + 1].as_str())
            .unwrap_or_else(|| panic!("no {flag} #{nth} in {args:?}"))
    }

    #[test]
    fn one_output_per_rendition_matching_the_profile() {
        let probe = MezzanineProbe {
            duration: 10.0,
            video: Some((1280, 720)),
            audio: vec![Some("eng".into()), Some("swe".into())],
        };
        let opts = PlanOptions {
            threads: 1,
            max_secs: 120.0,
        };
        let (args, outs) =
            ffmpeg_args("in.mp4", "/j", &probe, &profile(Container::Ts), opts).unwrap();
        assert_eq!(
            outs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
            ["v0", "v1", "a0"]
        );
        assert_eq!(after(&args, "-profile:v", 0), "high");
        assert_eq!(after(&args, "-level:v", 0), "3.0");
        assert_eq!(after(&args, "-profile:v", 1), "baseline");
        assert_eq!(after(&args, "-level:v", 1), "1.2");
        assert!(after(&args, "-vf", 0).contains("scale=640:360"));
        assert!(after(&args, "-vf", 1).starts_with("fps=29.97,scale=320:180"));
        assert_eq!(after(&args, "-g", 0), "50");
        assert_eq!(
            after(&args, "-force_key_frames", 0),
            "expr:gte(t,n_forced*2)"
        );
        // The demuxed variant has no audio; the Swedish rendition takes the swe track.
        assert_eq!(after(&args, "-map", 0), "0:v:0");
        assert_eq!(after(&args, "-map", 1), "0:a:0");
        assert_eq!(after(&args, "-map", 2), "0:v:0");
        assert_eq!(after(&args, "-map", 3), "0:a:1");
        assert_eq!(after(&args, "-ac", 1), "6");
        assert_eq!(after(&args, "-ar", 1), "44100");
        let vbit: u64 = after(&args, "-b:v", 0).parse().unwrap();
        let abit: u64 = after(&args, "-b:a", 0).parse().unwrap();
        assert!(vbit + abit < 390_000, "{vbit} + {abit}");
        assert!(!args.iter().any(|a| a == "fmp4"));
        assert_eq!(args.last().unwrap(), "/j/a0/index.m3u8");
    }

    #[test]
    fn fmp4_silence_and_refusals() {
        let probe = MezzanineProbe {
            duration: 300.0,
            video: Some((1920, 1080)),
            audio: vec![],
        };
        let opts = PlanOptions {
            threads: 0,
            max_secs: 60.0,
        };
        let (args, _) =
            ffmpeg_args("in.mp4", "/j", &probe, &profile(Container::Fmp4), opts).unwrap();
        assert_eq!(after(&args, "-hls_segment_type", 0), "fmp4");
        assert!(args.iter().any(|a| a == "anullsrc=r=48000:cl=stereo"));
        assert_eq!(after(&args, "-map", 1), "1:a:0");
        assert_eq!(after(&args, "-t", 0), "60.000");
        assert!(!args.iter().any(|a| a == "-threads"));
        let no_video = MezzanineProbe {
            duration: 10.0,
            video: None,
            audio: vec![None],
        };
        assert!(ffmpeg_args("in.mp4", "/j", &no_video, &profile(Container::Ts), opts).is_err());
        let mut dts = profile(Container::Ts);
        dts.variants[0].audio.as_mut().unwrap().codec = "dtsc".into();
        assert!(ffmpeg_args("in.mp4", "/j", &probe, &dts, opts).is_err());
    }

    #[test]
    fn ffprobe_json_and_codec_strings() {
        let json = br#"{"streams":[{"codec_type":"video","width":1280,"height":720,"disposition":{"attached_pic":0}},
            {"codec_type":"audio","tags":{"language":"eng"}},{"codec_type":"audio"},
            {"codec_type":"video","width":300,"height":300,"disposition":{"attached_pic":1}}],
            "format":{"duration":"10.010000"}}"#;
        let p = parse_ffprobe(json).unwrap();
        assert_eq!(p.video, Some((1280, 720)));
        assert_eq!(p.audio, vec![Some("eng".to_string()), None]);
        assert!((p.duration - 10.01).abs() < 1e-9);
        assert!(parse_ffprobe(b"not json").is_err());
        assert_eq!(
            hevc_profile_level("hvc1.2.4.L123.B0"),
            ("main10", "4.1".into())
        );
        assert_eq!(audio_track(&[None, Some("swe".into())], Some("sv")), 1);
        assert_eq!(audio_track(&[None, Some("swe".into())], Some("fi")), 0);
    }
}
