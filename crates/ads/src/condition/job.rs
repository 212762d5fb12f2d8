//! One conditioning job, start to end: download the mezzanine (bounded bytes and time),
//! ffprobe it, run the planned ffmpeg command, check what it made (every rendition has
//! segments no longer than the content's target duration, fMP4 an init segment) and
//! describe it as a [`ConditionedAd`]. The caller owns the work folder: on any error it is
//! removed, on success the cache takes it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use super::cache::{ConditionedAd, ConditionedRendition};
use super::plan::{self, PlanOptions};
use super::process::Runner;
use super::profile::{Container, ContentProfile};
use crate::error::{AdsError, Result};

/// What a job needs besides its inputs.
#[derive(Debug, Clone)]
pub struct JobSettings {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    pub runner: Runner,
    pub download_timeout: Duration,
    pub max_input_bytes: u64,
    pub plan: PlanOptions,
}

/// A failure, and whether trying again later could help.
#[derive(Debug)]
pub struct JobError {
    pub error: AdsError,
    /// The mezzanine itself is the problem (not a network or machine hiccup).
    pub permanent: bool,
}

impl JobError {
    fn transient(error: AdsError) -> Self {
        Self {
            error,
            permanent: false,
        }
    }

    fn permanent(error: AdsError) -> Self {
        Self {
            error,
            permanent: true,
        }
    }

    /// A tool that failed on the mezzanine is permanent; one killed at our deadline is not
    /// (on a loaded machine the same job may well finish next time).
    fn ran(e: super::process::RunError) -> Self {
        Self {
            error: e.error,
            permanent: !e.timed_out,
        }
    }
}

/// Streams `url` into `path`, refusing more than `max` bytes.
pub async fn download(
    http: &reqwest::Client,
    url: &str,
    path: &Path,
    max: u64,
    timeout: Duration,
) -> Result<u64> {
    let fut = async {
        let err = |e: String| AdsError::Creative(format!("{url}: {e}"));
        let resp = http.get(url).send().await.map_err(|e| err(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(err(format!("HTTP {}", resp.status())));
        }
        if resp.content_length().is_some_and(|n| n > max) {
            return Err(err(format!("larger than {max} bytes")));
        }
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(|e| err(e.to_string()))?;
        let mut stream = resp.bytes_stream();
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| err(e.to_string()))?;
            total += chunk.len() as u64;
            if total > max {
                return Err(err(format!("larger than {max} bytes")));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| err(e.to_string()))?;
        }
        file.flush().await.map_err(|e| err(e.to_string()))?;
        Ok(total)
    };
    tokio::time::timeout(timeout, fut).await.map_err(|_| {
        AdsError::Creative(format!(
            "{url}: not downloaded within {} s",
            timeout.as_secs()
        ))
    })?
}

/// Runs one job in `work` (an empty folder). `key` and `profile_key` name the result.
pub async fn run(
    http: &reqwest::Client,
    settings: &JobSettings,
    creative_url: &str,
    profile: &ContentProfile,
    key: &str,
    work: &Path,
) -> std::result::Result<ConditionedAd, JobError> {
    let input = work.join("mezzanine");
    download(
        http,
        creative_url,
        &input,
        settings.max_input_bytes,
        settings.download_timeout,
    )
    .await
    .map_err(JobError::transient)?;
    let mut probe_args: Vec<String> = plan::FFPROBE_ARGS.iter().map(|s| s.to_string()).collect();
    probe_args.push("mezzanine".into());
    let json = settings
        .runner
        .run(&settings.ffprobe, &probe_args, work)
        .await
        .map_err(JobError::ran)?;
    let probe = plan::parse_ffprobe(&json).map_err(JobError::permanent)?;
    let (args, outputs) = plan::ffmpeg_args("mezzanine", ".", &probe, profile, settings.plan)
        .map_err(JobError::permanent)?;
    for o in &outputs {
        tokio::fs::create_dir_all(work.join(&o.name))
            .await
            .map_err(|e| JobError::transient(AdsError::Creative(e.to_string())))?;
    }
    settings
        .runner
        .run(&settings.ffmpeg, &args, work)
        .await
        .map_err(JobError::ran)?;
    let _ = tokio::fs::remove_file(&input).await;
    let mut renditions = Vec::new();
    let mut bytes = 0u64;
    for o in &outputs {
        let (r, b) = read_output(work, &o.name, o.bandwidth, profile)
            .await
            .map_err(JobError::permanent)?;
        renditions.push(r);
        bytes += b;
    }
    let master = master_playlist(profile, &outputs);
    tokio::fs::write(work.join("master.m3u8"), &master)
        .await
        .map_err(|e| JobError::transient(AdsError::Creative(e.to_string())))?;
    bytes += master.len() as u64;
    let duration = renditions
        .first()
        .map(|r| r.segments.iter().map(|s| s.1).sum())
        .unwrap_or(0.0);
    Ok(ConditionedAd {
        key: key.to_string(),
        creative_url: creative_url.to_string(),
        profile_key: profile.key(),
        container: profile.container,
        duration,
        bytes,
        renditions,
        base_url: String::new(),
    })
}

/// The ad's master playlist: a variant per content variant (its `BANDWIDTH`, codecs,
/// size, frame rate and audio group), an `EXT-X-MEDIA` per demuxed audio rendition, so the
/// ad can be loaded like any HLS creative.
pub fn master_playlist(profile: &ContentProfile, outputs: &[plan::Output]) -> String {
    let mut m = hls::MasterPlaylist {
        version: Some(if profile.container == Container::Fmp4 {
            7
        } else {
            3
        }),
        independent_segments: true,
        ..Default::default()
    };
    let mut seen_groups = std::collections::BTreeSet::new();
    for (r, o) in profile
        .audio
        .iter()
        .zip(outputs.iter().skip(profile.variants.len()))
    {
        let first = seen_groups.insert(r.group.clone());
        let mut attrs = hls::AttributeList::new()
            .unquoted("TYPE", "AUDIO")
            .quoted("GROUP-ID", r.group.clone())
            .quoted("NAME", r.name.clone());
        if let Some(l) = &r.language {
            attrs = attrs.quoted("LANGUAGE", l.clone());
        }
        attrs = attrs
            .unquoted("DEFAULT", if first { "YES" } else { "NO" })
            .unquoted("AUTOSELECT", "YES")
            .quoted("CHANNELS", r.audio.channels.to_string())
            .quoted("URI", format!("{}/index.m3u8", o.name));
        m.media.push(hls::Rendition { attrs });
    }
    for (v, o) in profile.variants.iter().zip(outputs) {
        let mut codecs: Vec<String> = v.video.iter().map(|x| x.codec.clone()).collect();
        let audio_codec = v.audio.as_ref().map(|a| a.codec.clone()).or_else(|| {
            v.audio_group.as_ref().and_then(|g| {
                profile
                    .audio
                    .iter()
                    .find(|r| &r.group == g)
                    .map(|r| r.audio.codec.clone())
            })
        });
        codecs.extend(audio_codec);
        let mut attrs = hls::AttributeList::new().unquoted("BANDWIDTH", v.bandwidth.max(1));
        if let Some(avg) = v.average_bandwidth {
            attrs = attrs.unquoted("AVERAGE-BANDWIDTH", avg);
        }
        if !codecs.is_empty() {
            attrs = attrs.quoted("CODECS", codecs.join(","));
        }
        if let Some(video) = &v.video {
            attrs = attrs
                .unquoted(
                    "RESOLUTION",
                    format!("{}x{}", video.width & !1, video.height & !1),
                )
                .unquoted("FRAME-RATE", format!("{:.3}", video.frame_rate));
        }
        if let Some(g) = &v.audio_group {
            attrs = attrs.quoted("AUDIO", g.clone());
        }
        m.variants.push(hls::VariantStream {
            uri: format!("{}/index.m3u8", o.name),
            attrs,
        });
    }
    hls::Playlist::Master(m).to_string()
}

/// Reads and checks what ffmpeg wrote for one output; its rendition and byte count.
async fn read_output(
    work: &Path,
    name: &str,
    bandwidth: u64,
    profile: &ContentProfile,
) -> Result<(ConditionedRendition, u64)> {
    let bad = |m: String| AdsError::Creative(format!("conditioned rendition {name}: {m}"));
    let text = tokio::fs::read(work.join(name).join("index.m3u8"))
        .await
        .map_err(|e| bad(e.to_string()))?;
    let m = hls::parse_media(&String::from_utf8_lossy(&text)).map_err(|e| bad(e.to_string()))?;
    if m.segments.is_empty() {
        return Err(bad("no segments".into()));
    }
    let limit = profile.segment_secs as f64 + 0.5;
    let mut bytes = text.len() as u64;
    let mut segments = Vec::new();
    for s in &m.segments {
        if s.duration > limit {
            return Err(bad(format!(
                "segment {} lasts {:.3} s, over the content's {} s",
                s.uri, s.duration, profile.segment_secs
            )));
        }
        let file = plain_file(&s.uri).ok_or_else(|| bad(format!("segment name {}", s.uri)))?;
        bytes += file_len(&work.join(name).join(file)).await?;
        segments.push((format!("{name}/{file}"), s.duration));
    }
    let init = match (
        profile.container,
        m.segments[0].map.as_ref().and_then(|x| x.uri()),
    ) {
        (Container::Fmp4, Some(u)) => {
            let file = plain_file(u).ok_or_else(|| bad(format!("init name {u}")))?;
            bytes += file_len(&work.join(name).join(file)).await?;
            Some(format!("{name}/{file}"))
        }
        (Container::Fmp4, None) => return Err(bad("fMP4 without an init segment".into())),
        (Container::Ts, _) => None,
    };
    Ok((
        ConditionedRendition {
            name: name.to_string(),
            bandwidth,
            init,
            segments,
        },
        bytes,
    ))
}

/// A bare file name (no folders, no query), as ffmpeg writes them.
fn plain_file(uri: &str) -> Option<&str> {
    let f = uri.rsplit('/').next()?;
    (!f.is_empty()
        && f.len() < 64
        && f.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        && !f.starts_with('.'))
    .then_some(f)
}

async fn file_len(path: &Path) -> Result<u64> {
    tokio::fs::metadata(path)
        .await
        .map(|m| m.len())
        .map_err(|e| AdsError::Creative(format!("{}: {e}", path.display())))
}
