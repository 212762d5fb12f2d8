//! Running ffmpeg and ffprobe: at low CPU priority (`nice`), with a deadline (the process
//! is killed when it passes), stdin closed and what they print bounded (stdout kept up to
//! a limit for ffprobe's JSON, stderr's last few KiB kept for the error message).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::error::AdsError;

/// Why a run failed: the program's own failure, or our deadline (a busy machine, not the
/// input: worth trying again later).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct RunError {
    pub error: AdsError,
    pub timed_out: bool,
}

impl From<AdsError> for RunError {
    fn from(error: AdsError) -> Self {
        Self {
            error,
            timed_out: false,
        }
    }
}

/// Most stdout kept (ffprobe's JSON of a mezzanine is a few KiB).
const MAX_STDOUT: usize = 1024 * 1024;
/// The tail of stderr kept for the error message.
const STDERR_TAIL: usize = 4 * 1024;

/// How to run a tool.
#[derive(Debug, Clone)]
pub struct Runner {
    /// `nice` increment (0: run at normal priority; needs `nice` on PATH otherwise).
    pub nice: i32,
    pub timeout: Duration,
}

/// Reads everything, keeping at most `limit` bytes (the head when `tail` is false, the last
/// bytes when true), so a chatty process never fills memory nor blocks on a full pipe.
async fn drain(mut r: impl AsyncRead + Unpin, limit: usize, tail: bool) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > limit {
                    if tail {
                        kept.drain(..kept.len() - limit);
                    } else {
                        kept.truncate(limit);
                    }
                }
            }
        }
    }
}

impl Runner {
    /// Runs `program args...` in `cwd`; its stdout on success, an error naming the program,
    /// its exit status and the end of its stderr otherwise.
    pub async fn run(
        &self,
        program: &Path,
        args: &[String],
        cwd: &Path,
    ) -> std::result::Result<Vec<u8>, RunError> {
        let mut cmd = if self.nice != 0 {
            let mut c = Command::new("nice");
            c.arg("-n").arg(self.nice.to_string()).arg(program);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let name = program.display().to_string();
        let mut child = cmd
            .spawn()
            .map_err(|e| AdsError::Creative(format!("{name}: cannot start: {e}")))?;
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let out = tokio::spawn(async move {
            match stdout {
                Some(s) => drain(s, MAX_STDOUT, false).await,
                None => Vec::new(),
            }
        });
        let err = tokio::spawn(async move {
            match stderr {
                Some(s) => drain(s, STDERR_TAIL, true).await,
                None => Vec::new(),
            }
        });
        let status = match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(s) => s.map_err(|e| AdsError::Creative(format!("{name}: {e}")))?,
            Err(_) => {
                let _ = child.kill().await;
                return Err(RunError {
                    error: AdsError::Creative(format!(
                        "{name}: killed after {} s",
                        self.timeout.as_secs()
                    )),
                    timed_out: true,
                });
            }
        };
        let stdout = out.await.unwrap_or_default();
        let stderr = err.await.unwrap_or_default();
        if !status.success() {
            let msg = String::from_utf8_lossy(&stderr);
            let msg = msg.trim();
            let last = msg.lines().rev().take(3).collect::<Vec<_>>();
            return Err(AdsError::Creative(format!(
                "{name} exited with {status}: {}",
                last.into_iter().rev().collect::<Vec<_>>().join(" / ")
            ))
            .into());
        }
        Ok(stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_output_status_and_deadline() {
        let dir = std::env::temp_dir();
        let r = Runner {
            nice: 0,
            timeout: Duration::from_secs(10),
        };
        let sh = Path::new("sh");
        // 3 MB on stdout: the head is kept, the process is not blocked.
        let out = r
            .run(sh, &["-c".into(), "head -c 3000000 /dev/zero".into()], &dir)
            .await
            .unwrap();
        assert_eq!(out.len(), MAX_STDOUT);
        let err = r
            .run(
                sh,
                &["-c".into(), "echo first >&2; echo last >&2; exit 3".into()],
                &dir,
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("last") && err.contains('3'), "{err}");
        let quick = Runner {
            nice: 5,
            timeout: Duration::from_millis(300),
        };
        let started = std::time::Instant::now();
        let err = quick
            .run(sh, &["-c".into(), "sleep 30".into()], &dir)
            .await
            .unwrap_err();
        assert!(err.timed_out, "{err}");
        assert!(err.to_string().contains("killed"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
