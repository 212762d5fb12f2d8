use std::io;
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::process::Proc;
use crate::wait::{free_port, wait_until};

/// A throwaway `redis-server` on `127.0.0.1:<free port>`, no persistence
/// (`--save '' --appendonly no`). Killed on drop.
pub struct Redis {
    dir: TempDir,
    port: u16,
    proc: Option<Proc>,
}

impl Redis {
    /// Starts redis-server and waits until it answers PING.
    pub async fn start() -> io::Result<Redis> {
        let dir = tempfile::Builder::new().prefix("lineup-redis-").tempdir()?;
        let mut r = Redis {
            dir,
            port: free_port(),
            proc: None,
        };
        r.resume().await?;
        Ok(r)
    }

    /// Starts it again (same port, empty data) after [`stop`](Self::stop).
    pub async fn resume(&mut self) -> io::Result<()> {
        if self.proc.is_some() {
            return Ok(());
        }
        let bin = crate::peer("redis-server")
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "redis-server not found"))?;
        let mut cmd = Command::new(bin);
        cmd.args([
            "--port",
            &self.port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(self.dir.path());
        let mut proc = Proc::spawn("redis-server", &mut cmd, &self.dir.path().join("redis.log"))?;
        let port = self.port;
        let up = wait_until(Duration::from_secs(10), "redis PING", || {
            let dead = proc.exited().is_some();
            async move { dead || ping(port).await }
        })
        .await;
        if proc.exited().is_some() || up.is_err() {
            let e = up.err().map(|e| e.to_string()).unwrap_or_default();
            return Err(io::Error::other(format!("{e}; {}", proc.describe_exit())));
        }
        self.proc = Some(proc);
        Ok(())
    }

    /// Hangs it (SIGSTOP; fault tests): connections stay open, nothing is answered until
    /// [`cont`](Self::cont).
    pub fn pause(&mut self) {
        if let Some(p) = self.proc.as_mut() {
            p.signal(libc::SIGSTOP);
        }
    }

    /// Lets a [`pause`](Self::pause)d server run again (SIGCONT), with its data.
    pub fn cont(&mut self) {
        if let Some(p) = self.proc.as_mut() {
            p.signal(libc::SIGCONT);
        }
    }

    /// Kills it (fault tests); [`resume`](Self::resume) starts an empty one on the same port.
    pub fn stop(&mut self) {
        // A paused server would not act on SIGTERM before the grace period ends.
        self.cont();
        if let Some(mut p) = self.proc.take() {
            p.terminate(Duration::from_secs(5));
        }
    }

    /// `redis://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sends PING over a fresh connection; true on `+PONG`.
    pub async fn ping(&self) -> bool {
        ping(self.port).await
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn ping(port: u16) -> bool {
    let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if s.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(1), s.read(&mut buf)).await;
    matches!(read, Ok(Ok(n)) if buf[..n].starts_with(b"+PONG"))
}
