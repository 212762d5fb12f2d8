//! Helpers for tests that call external peers (python3/threefive, openssl, ffmpeg).
#![allow(dead_code)]

use std::process::Command;

/// Whether `LINEUP_REQUIRE_PEERS=1` (CI): a missing peer is then a failure.
pub fn peers_required() -> bool {
    std::env::var("LINEUP_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// Runs `probe` to see if a peer tool works. Returns false (after printing why)
/// when it does not, or panics when peers are required.
pub fn peer_available(name: &str, program: &str, args: &[&str]) -> bool {
    let ok = Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        let msg = format!(
            "peer {name} unavailable (`{program} {}` failed)",
            args.join(" ")
        );
        if peers_required() {
            panic!("{msg} and LINEUP_REQUIRE_PEERS=1");
        }
        eprintln!("SKIP: {msg}");
    }
    ok
}

pub fn have_threefive() -> bool {
    peer_available("threefive", "python3", &["-c", "import threefive"])
}

pub fn have_ffmpeg() -> bool {
    peer_available("ffmpeg", "ffmpeg", &["-version"])
        && peer_available("ffprobe", "ffprobe", &["-version"])
}

pub fn have_openssl() -> bool {
    peer_available("openssl", "openssl", &["version"])
}

/// Runs a command, panics with its stderr on failure, returns stdout.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Which elementary streams a fixture should carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Streams {
    AudioVideo,
    VideoOnly,
    AudioOnly,
}

/// Makes a 4 s HLS VOD of two 2 s TS segments in `dir` with ffmpeg: 320x180
/// 25 fps H.264 (High, B-frames, a keyframe every second) and 48 kHz AAC-LC.
/// Returns the segment paths.
pub fn make_ts_segments(dir: &std::path::Path, streams: Streams) -> Vec<std::path::PathBuf> {
    let d = dir.to_str().unwrap();
    let mut args: Vec<String> = vec!["-v".into(), "error".into(), "-y".into()];
    let v = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25"];
    let a = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"];
    if streams != Streams::AudioOnly {
        args.extend(v.iter().map(|s| s.to_string()));
    }
    if streams != Streams::VideoOnly {
        args.extend(a.iter().map(|s| s.to_string()));
    }
    args.extend(
        [
            "-t",
            "4",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-g",
            "25",
            "-sc_threshold",
            "0",
            "-c:a",
            "aac",
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_list_size",
            "0",
            "-hls_segment_filename",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    args.push(format!("{d}/src%d.ts"));
    args.push(format!("{d}/src.m3u8"));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run("ffmpeg", &refs);
    let mut segs: Vec<_> = (0..10)
        .map(|i| dir.join(format!("src{i}.ts")))
        .filter(|p| p.exists())
        .collect();
    segs.sort();
    assert!(!segs.is_empty(), "ffmpeg made no segments");
    segs
}
