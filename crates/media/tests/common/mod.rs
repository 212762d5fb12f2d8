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
