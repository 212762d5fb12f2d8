use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Proc;
use crate::serve::{ServeHandle, serve_dir};
use crate::wait::wait_until;

/// Options for [`FfmpegLive`].
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// fMP4 segments (`.m4s` + `init_<n>.mp4`, EXT-X-MAP) instead of MPEG-TS.
    pub fmp4: bool,
    /// Two renditions (640x360 and 320x180) instead of one (640x360).
    pub two_renditions: bool,
    /// `-hls_time` in seconds (GOP = segment).
    pub segment_secs: u32,
    /// `-hls_list_size`: segments in the live window.
    pub list_size: u32,
    /// Add `EXT-X-PROGRAM-DATE-TIME` (`-hls_flags program_date_time`).
    pub program_date_time: bool,
    /// Demuxed audio: the video renditions carry no audio; the AAC audio is its own media
    /// playlist (`stream_<renditions>/index.m3u8`, see [`FfmpegLive::audio_playlist_url`]),
    /// listed in the master as `EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_aud"` that every
    /// video variant names. ffmpeg 5.1 also lists the audio playlist as an audio-only
    /// variant.
    pub demuxed_audio: bool,
    /// A WebVTT subtitle rendition (`EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs"`, playlist
    /// `stream_0/index_vtt.m3u8`, segments `stream_0/index<n>.vtt`), segmented live from an
    /// `.srt` the kit writes (one cue per second, "cue <n>", for an hour), read with `-re`.
    /// ffmpeg attaches a subtitle stream to a variant that has video, so it rides with
    /// rendition 0.
    pub subtitles: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            fmp4: false,
            two_renditions: false,
            segment_secs: 1,
            list_size: 5,
            program_date_time: false,
            demuxed_audio: false,
            subtitles: false,
        }
    }
}

/// A live HLS stream: `ffmpeg -re` encoding testsrc2 + a 440 Hz tone into a temp folder
/// (`-hls_list_size`, `-hls_flags delete_segments`, segments written via temp files),
/// served over HTTP by [`serve_dir`]. Layout: `master.m3u8`, `stream_<n>/index.m3u8`,
/// `stream_<n>/seg00000.ts|m4s` (and `stream_<n>/init_<n>.mp4` for fMP4). Killed on drop.
pub struct FfmpegLive {
    server: ServeHandle,
    proc: Proc,
    dir: TempDir,
    opts: LiveOptions,
}

impl FfmpegLive {
    /// Starts ffmpeg and waits until every media playlist lists at least one segment.
    pub async fn start(opts: LiveOptions) -> io::Result<FfmpegLive> {
        let bin = crate::peer("ffmpeg")
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "ffmpeg not found"))?;
        let dir = tempfile::Builder::new().prefix("lineup-live-").tempdir()?;
        let out = dir.path().join("hls");
        std::fs::create_dir_all(&out)?;
        let seg = opts.segment_secs.max(1);
        let gop = (25 * seg).to_string();
        let mut cmd = Command::new(bin);
        cmd.args(["-nostdin", "-hide_banner", "-loglevel", "warning", "-re"])
            .args(["-f", "lavfi", "-i", "testsrc2=s=640x360:r=25"])
            .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
        if opts.subtitles {
            let srt = dir.path().join("subs.srt");
            std::fs::write(&srt, srt_cues(3600))?;
            cmd.arg("-re").arg("-i").arg(&srt);
        }
        map_streams(&mut cmd, &opts);
        cmd.args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-g", &gop, "-keyint_min", &gop, "-sc_threshold", "0"])
        .args(["-c:a", "aac", "-b:a", "64k", "-ac", "2"])
        .args([
            "-f",
            "hls",
            "-hls_time",
            &seg.to_string(),
            "-hls_list_size",
            &opts.list_size.to_string(),
        ]);
        let mut flags = String::from("delete_segments+independent_segments+temp_file");
        if opts.program_date_time {
            flags.push_str("+program_date_time");
        }
        cmd.args(["-hls_flags", &flags, "-master_pl_name", "master.m3u8"]);
        let ext = if opts.fmp4 {
            cmd.args([
                "-hls_segment_type",
                "fmp4",
                "-hls_fmp4_init_filename",
                "init.mp4",
            ]);
            "m4s"
        } else {
            "ts"
        };
        cmd.arg("-hls_segment_filename")
            .arg(out.join(format!("stream_%v/seg%05d.{ext}")))
            .arg(out.join("stream_%v/index.m3u8"));
        let mut proc = Proc::spawn("ffmpeg", &mut cmd, &dir.path().join("ffmpeg.log"))?;
        let (_, server) = serve_dir(&out).await;
        let live = FfmpegLive {
            server,
            proc: Proc::placeholder(),
            dir,
            opts,
        };
        let paths = live.all_playlist_paths();
        let up = wait_until(Duration::from_secs(20), "ffmpeg live playlists", || {
            let ok = proc.exited().is_some() || paths.iter().all(|p| segment_count(p) >= 1);
            async move { ok }
        })
        .await;
        if proc.exited().is_some() || up.is_err() {
            let e = up.err().map(|e| e.to_string()).unwrap_or_default();
            return Err(io::Error::other(format!("{e}; {}", proc.describe_exit())));
        }
        Ok(FfmpegLive { proc, ..live })
    }

    /// URL of the master playlist.
    pub fn playlist_url(&self) -> String {
        self.server.url("master.m3u8")
    }

    /// URL of rendition `n`'s media playlist (0 = 640x360, 1 = 320x180).
    pub fn media_playlist_url(&self, n: usize) -> String {
        self.server.url(&format!("stream_{n}/index.m3u8"))
    }

    /// Path of rendition `n`'s media playlist on disk.
    pub fn media_playlist_path(&self, n: usize) -> PathBuf {
        self.hls_dir().join(format!("stream_{n}/index.m3u8"))
    }

    /// Folder ffmpeg writes to (served at `/`).
    pub fn hls_dir(&self) -> PathBuf {
        self.dir.path().join("hls")
    }

    /// Number of video renditions (`stream_0` .. `stream_<n-1>`).
    pub fn renditions(&self) -> usize {
        if self.opts.two_renditions { 2 } else { 1 }
    }

    /// URL of the demuxed audio playlist ([`LiveOptions::demuxed_audio`]).
    pub fn audio_playlist_url(&self) -> Option<String> {
        self.opts.demuxed_audio.then(|| {
            self.server
                .url(&format!("stream_{}/index.m3u8", self.renditions()))
        })
    }

    /// URL of the WebVTT subtitle playlist ([`LiveOptions::subtitles`]).
    pub fn subtitle_playlist_url(&self) -> Option<String> {
        self.opts
            .subtitles
            .then(|| self.server.url("stream_0/index_vtt.m3u8"))
    }

    /// Every media playlist ffmpeg writes, on disk.
    fn all_playlist_paths(&self) -> Vec<PathBuf> {
        let mut n = self.renditions();
        if self.opts.demuxed_audio {
            n += 1;
        }
        let mut paths: Vec<PathBuf> = (0..n).map(|i| self.media_playlist_path(i)).collect();
        if self.opts.subtitles {
            paths.push(self.hls_dir().join("stream_0/index_vtt.m3u8"));
        }
        paths
    }

    /// The HTTP server (to inject faults or count hits).
    pub fn server(&self) -> &ServeHandle {
        &self.server
    }

    /// Current `EXT-X-MEDIA-SEQUENCE` of rendition `n`, read from disk.
    pub fn media_sequence(&self, n: usize) -> Option<u64> {
        media_sequence(&self.media_playlist_path(n))
    }

    /// ffmpeg's log so far.
    pub fn log(&self) -> String {
        self.proc.log_tail()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The inputs mapped to the HLS variant streams: one or two video renditions, the audio
/// muxed into them or as its own group, and the subtitles riding with rendition 0.
fn map_streams(cmd: &mut Command, opts: &LiveOptions) {
    if opts.demuxed_audio || opts.subtitles {
        // Video renditions (+ the subtitle riding with rendition 0), then the audio.
        let n_video = if opts.two_renditions { 2 } else { 1 };
        if opts.two_renditions {
            cmd.args([
                "-filter_complex",
                "[0:v]split=2[v0][v1s];[v1s]scale=320:180[v1]",
            ])
            .args(["-map", "[v0]", "-map", "[v1]"])
            .args(["-b:v:0", "400k", "-b:v:1", "150k"]);
        } else {
            cmd.args(["-map", "0:v", "-b:v", "400k"]);
        }
        cmd.args(["-map", "1:a"]);
        let mut map = Vec::new();
        for v in 0..n_video {
            let mut entry = format!("v:{v}");
            if opts.demuxed_audio {
                entry.push_str(",agroup:aud");
            } else {
                entry.push_str(&format!(",a:{v}"));
            }
            if opts.subtitles && v == 0 {
                entry.push_str(",s:0,sgroup:subs");
            }
            map.push(entry);
        }
        if opts.demuxed_audio {
            map.push("a:0,agroup:aud".into());
        } else if opts.two_renditions {
            // Muxed audio in both renditions: a second copy of the audio.
            cmd.args(["-map", "1:a"]);
        }
        if opts.subtitles {
            cmd.args(["-map", "2:s", "-c:s", "webvtt"]);
        }
        cmd.args(["-var_stream_map", &map.join(" ")]);
    } else if opts.two_renditions {
        cmd.args([
            "-filter_complex",
            "[0:v]split=2[v0][v1s];[v1s]scale=320:180[v1]",
        ])
        .args(["-map", "[v0]", "-map", "1:a", "-map", "[v1]", "-map", "1:a"])
        .args([
            "-b:v:0",
            "400k",
            "-b:v:1",
            "150k",
            "-var_stream_map",
            "v:0,a:0 v:1,a:1",
        ]);
    } else {
        cmd.args([
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-b:v",
            "400k",
            "-var_stream_map",
            "v:0,a:0",
        ]);
    }
}

/// An `.srt` with one cue per second ("cue <n>") for `secs` seconds.
fn srt_cues(secs: u32) -> String {
    let t = |s: u32| format!("{:02}:{:02}:{:02},000", s / 3600, s / 60 % 60, s % 60);
    (0..secs)
        .map(|i| format!("{}\n{} --> {}\ncue {i}\n\n", i + 1, t(i), t(i + 1)))
        .collect()
}

fn segment_count(p: &Path) -> usize {
    std::fs::read_to_string(p)
        .map(|s| s.lines().filter(|l| l.starts_with("#EXTINF")).count())
        .unwrap_or(0)
}

fn media_sequence(p: &Path) -> Option<u64> {
    let s = std::fs::read_to_string(p).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MEDIA-SEQUENCE:"))
        .and_then(|v| v.trim().parse().ok())
}
