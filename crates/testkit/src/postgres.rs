use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::process::Proc;
use crate::wait::{free_port, wait_until};

/// A throwaway PostgreSQL (Debian `postgresql`): `initdb` into a temp dir and `postgres` on
/// `127.0.0.1:<free port>`, trust authentication, user and database `postgres`. Killed (and
/// the data removed) on drop.
///
/// PostgreSQL refuses to run as root: when the tests run as root, the temp dir is given to
/// the `postgres` OS user and both programs run as that user through `setpriv` (which execs,
/// so the process we signal is `postgres` itself).
pub struct Postgres {
    dir: TempDir,
    port: u16,
    bin: PathBuf,
    proc: Option<Proc>,
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `postgres` and `initdb` (or
/// `postgres` on `PATH`).
pub fn bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("postgres").exists() && bin.join("initdb").exists()).then_some((v, bin))
        })
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, b)| b).or_else(|| {
        let p = crate::peer::which("postgres")?;
        let dir = p.parent()?.to_path_buf();
        dir.join("initdb").exists().then_some(dir)
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `(uid, gid)` of the `postgres` OS user.
fn postgres_user() -> io::Result<(u32, u32)> {
    let name = std::ffi::CString::new("postgres").map_err(io::Error::other)?;
    // SAFETY: getpwnam with a valid C string; the result is read at once, before any other
    // call could overwrite the static buffer.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "no 'postgres' OS user to run PostgreSQL as (apt-get install -y postgresql)",
        ));
    }
    // SAFETY: pw is non-null and points to a passwd entry.
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

fn chown_all(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    if path.is_dir() {
        for e in std::fs::read_dir(path)? {
            chown_all(&e?.path(), uid, gid)?;
        }
    }
    Ok(())
}

impl Postgres {
    /// initdb, start, and wait until it accepts connections.
    pub async fn start() -> io::Result<Postgres> {
        let bin = bin_dir()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "postgres/initdb not found"))?;
        let dir = tempfile::Builder::new().prefix("lineup-pg-").tempdir()?;
        if is_root() {
            let (uid, gid) = postgres_user()?;
            chown_all(dir.path(), uid, gid)?;
        }
        let pg = Postgres {
            dir,
            port: free_port(),
            bin,
            proc: None,
        };
        let out = pg
            .command("initdb")
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(pg.data())
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let mut pg = pg;
        pg.resume().await?;
        Ok(pg)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A command running `program` from the PostgreSQL bin dir, as `postgres` when root.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ])
            .arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    /// Starts it again on the same port and data after [`stop`](Self::stop).
    pub async fn resume(&mut self) -> io::Result<()> {
        if self.proc.is_some() {
            return Ok(());
        }
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(self.data())
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-k"])
            .arg(self.dir.path())
            .args(["-c", "fsync=off", "-c", "max_connections=40"]);
        let log = self.dir.path().join("postgres.log");
        let mut proc = Proc::spawn_isolated("postgres", &mut cmd, &log)?;
        let isready = self.bin.join("pg_isready");
        let port = self.port;
        let up = wait_until(
            Duration::from_secs(30),
            "postgres accepting connections",
            || {
                let dead = proc.exited().is_some();
                let ready = Command::new(&isready)
                    .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
                    .output()
                    .is_ok_and(|o| o.status.success());
                async move { dead || ready }
            },
        )
        .await;
        if proc.exited().is_some() || up.is_err() {
            let e = up.err().map(|e| e.to_string()).unwrap_or_default();
            return Err(io::Error::other(format!("{e}; {}", proc.describe_exit())));
        }
        self.proc = Some(proc);
        Ok(())
    }

    /// Stops it (fast shutdown; the data stays for [`resume`](Self::resume)).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            // SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for clients to leave).
            if let Some(pid) = p.pid() {
                // SAFETY: kill(2) on our own, not yet reaped child.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
            }
            p.terminate(Duration::from_secs(10));
        }
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}
