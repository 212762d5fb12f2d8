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

/// The encoding of every ffmpeg-made test VOD here, after the inputs: 4 s of H.264 (a
/// keyframe every second, none on scene cuts) and AAC, as HLS of 2 s segments, all listed.
pub const ENCODE_HLS: &[&str] = &[
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
];

/// `ffmpeg -v error -i <path> <extra> -f null -` exits 0 and prints nothing at all.
pub fn decode_clean(path: &std::path::Path, extra: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i", path.to_str().unwrap()])
        .args(extra)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg decode errors in {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
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
    args.extend(ENCODE_HLS.iter().map(|s| s.to_string()));
    args.push("-hls_segment_filename".into());
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

/// Tiny TS writer for synthetic fixtures.
pub mod tsw {
    use media::crc32_mpeg2;

    /// Splits `payload` into 188-byte packets on `pid` (PUSI on the first),
    /// padding the last one with an adaptation field.
    pub fn packets(pid: u16, payload: &[u8], cc: &mut u8) -> Vec<u8> {
        let mut out = Vec::new();
        let mut first = true;
        let mut rest = payload;
        loop {
            let take = rest.len().min(184);
            let mut p = vec![
                0x47,
                ((pid >> 8) as u8 & 0x1F) | if first { 0x40 } else { 0 },
                pid as u8,
            ];
            if take == 184 {
                p.push(0x10 | (*cc & 0x0F));
            } else {
                p.push(0x30 | (*cc & 0x0F));
                let af_len = 183 - take;
                p.push(af_len as u8);
                if af_len > 0 {
                    p.push(0);
                    p.extend(std::iter::repeat_n(0xFF, af_len - 1));
                }
            }
            p.extend_from_slice(&rest[..take]);
            assert_eq!(p.len(), 188);
            out.extend(p);
            *cc = cc.wrapping_add(1);
            rest = &rest[take..];
            first = false;
            if rest.is_empty() {
                return out;
            }
        }
    }

    /// A PSI section (pointer_field prepended) in packets.
    pub fn section(pid: u16, sec: &[u8], cc: &mut u8) -> Vec<u8> {
        let mut pl = vec![0];
        pl.extend_from_slice(sec);
        packets(pid, &pl, cc)
    }

    fn long_section(table_id: u8, id: u16, body: &[u8]) -> Vec<u8> {
        let len = 5 + body.len() + 4;
        let mut s = vec![
            table_id,
            0xB0 | (len >> 8) as u8,
            len as u8,
            (id >> 8) as u8,
            id as u8,
            0xC1,
            0,
            0,
        ];
        s.extend_from_slice(body);
        let crc = crc32_mpeg2(&s);
        s.extend(crc.to_be_bytes());
        s
    }

    pub fn pat(pmt_pid: u16) -> Vec<u8> {
        long_section(0, 1, &[0, 1, 0xE0 | (pmt_pid >> 8) as u8, pmt_pid as u8])
    }

    pub fn pmt(pcr_pid: u16, streams: &[(u8, u16)]) -> Vec<u8> {
        let mut b = vec![0xE0 | (pcr_pid >> 8) as u8, pcr_pid as u8, 0xF0, 0];
        for &(st, pid) in streams {
            b.extend([st, 0xE0 | (pid >> 8) as u8, pid as u8, 0xF0, 0]);
        }
        long_section(2, 1, &b)
    }

    /// A PES with a PTS (and DTS if given).
    pub fn pes(stream_id: u8, pts: u64, dts: Option<u64>, es: &[u8]) -> Vec<u8> {
        let ts = |marker: u8, t: u64| {
            [
                (marker << 4) | (((t >> 30) as u8 & 7) << 1) | 1,
                (t >> 22) as u8,
                (((t >> 15) as u8) << 1) | 1,
                (t >> 7) as u8,
                ((t as u8) << 1) | 1,
            ]
        };
        let mut h = vec![0, 0, 1, stream_id, 0, 0, 0x80];
        match dts {
            Some(d) => {
                h.extend([0xC0, 10]);
                h.extend(ts(3, pts));
                h.extend(ts(1, d));
            }
            None => {
                h.extend([0x80, 5]);
                h.extend(ts(2, pts));
            }
        }
        h.extend_from_slice(es);
        h
    }
}
