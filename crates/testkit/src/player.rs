//! ffmpeg and ffprobe as players: decode a playlist (or file) to the null muxer and read back
//! what ffmpeg complained about, or probe it as JSON.
//!
//! The one rule shared by every decode check lives here ([`decode_errors`]): ffmpeg's null
//! muxer prints `Application provided invalid, non monotonically increasing dts to muxer`
//! when timestamps restart at an `EXT-X-DISCONTINUITY` (a new VOD, an ad), which HLS allows
//! and players handle. That notice is the muxer remarking, not a decode error; every other
//! line ffmpeg prints at `-v error` is one.

use std::time::Duration;

use serde_json::Value;

/// What `ffmpeg ... -f null -` did.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// ffmpeg exited with status 0.
    pub ok: bool,
    /// Everything ffmpeg printed (at `-v error`: its errors).
    pub stderr: String,
}

impl Decoded {
    /// The lines of `stderr` that report a problem: see [`decode_errors`].
    pub fn errors(&self) -> Vec<&str> {
        decode_errors(&self.stderr)
    }

    /// Panics unless ffmpeg exited 0 and reported no error (see [`decode_errors`]);
    /// `what` names the input in the message.
    pub fn assert_clean(&self, what: &str) {
        assert!(self.ok, "{what}: ffmpeg failed: {}", self.stderr);
        let errors = self.errors();
        assert!(
            errors.is_empty(),
            "{what}: ffmpeg reported errors: {errors:?}\n{}",
            self.stderr
        );
    }
}

/// The lines of ffmpeg's stderr that report a problem: every non-blank line except the null
/// muxer's `[null @ ...] ... non monotonically increasing dts to muxer ...` notice (and its
/// `Last message repeated` line; see the
/// module doc for why that one is not an error).
pub fn decode_errors(stderr: &str) -> Vec<&str> {
    let mut out = Vec::new();
    // ffmpeg folds repeats into "Last message repeated N times": that line belongs to the
    // line before it, and is a problem only when that one is.
    let mut last_ignored = false;
    for l in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let ignored = if l.trim_start().starts_with("Last message repeated") {
            last_ignored
        } else {
            l.starts_with("[null @") && l.contains("non monotonically increasing dts to muxer")
        };
        if !ignored {
            out.push(l);
        }
        last_ignored = ignored;
    }
    out
}

/// Runs `ffmpeg -nostdin -v error <args> -f null -` (put `-i <input>` and options such as
/// `-t <secs>` or `-live_start_index 0` in `args`). Panics if it does not finish within
/// `timeout` (the process is killed) or cannot be started.
pub async fn ffmpeg_decode(args: &[&str], timeout: Duration) -> Decoded {
    let out = tokio::time::timeout(
        timeout,
        tokio::process::Command::new(program("ffmpeg"))
            .args(["-nostdin", "-v", "error"])
            .args(args)
            .args(["-f", "null", "-"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("ffmpeg {args:?} timed out after {timeout:?}"))
    .expect("ffmpeg runs");
    Decoded {
        ok: out.status.success(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `ffprobe -v error -of json <args>` and parses its output; `Value::Null` when ffprobe
/// printed no JSON (e.g. it could not open the input).
pub async fn ffprobe_json(args: &[&str]) -> Value {
    let out = tokio::process::Command::new(program("ffprobe"))
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .expect("ffprobe runs");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// The duration ffprobe reports for `input` (`-show_entries format=duration`), in seconds.
/// Panics if it reports none.
pub async fn ffprobe_duration(input: &str) -> f64 {
    let j = ffprobe_json(&["-show_entries", "format=duration", input]).await;
    j["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("ffprobe reports no duration for {input}: {j}"))
}

/// The peer's path as [`crate::peer`] finds it, else the bare name (`PATH` lookup at spawn).
fn program(name: &str) -> std::path::PathBuf {
    crate::peer(name).unwrap_or_else(|| name.into())
}

#[cfg(test)]
mod tests {
    use super::decode_errors;

    #[test]
    fn only_the_null_muxers_dts_notice_and_blank_lines_are_not_errors() {
        let stderr = "[null @ 0x55d1] Application provided invalid, non monotonically increasing dts to muxer in stream 1: 4096 >= 4096\n\
                      \n\
                      [h264 @ 0x55d2] error while decoding MB 3 4\n\
                      [mpegts @ 0x55d3] Application provided invalid, non monotonically increasing dts to muxer in stream 0\n";
        assert_eq!(
            decode_errors(stderr),
            vec![
                "[h264 @ 0x55d2] error while decoding MB 3 4",
                "[mpegts @ 0x55d3] Application provided invalid, non monotonically increasing dts to muxer in stream 0",
            ]
        );
    }
}
