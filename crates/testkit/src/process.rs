use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A child process that is terminated (SIGTERM, then SIGKILL after a grace period) on drop.
/// stdout and stderr go to `<log>`.
pub(crate) struct Proc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    /// Spawns `cmd` in the caller's process group, so Ctrl-C on the test run reaches it too.
    pub(crate) fn spawn(name: &str, cmd: &mut Command, log: &Path) -> io::Result<Proc> {
        let out = File::create(log)?;
        let err = out.try_clone()?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("spawn {name}: {e}")))?;
        Ok(Proc {
            name: name.to_string(),
            child: Some(child),
            log: log.to_path_buf(),
        })
    }

    /// Spawns `cmd` in its own process group (for programs such as Apache's prefork MPM that
    /// signal their whole process group on shutdown), and asks the kernel to SIGTERM it if the
    /// spawning thread dies without dropping the handle.
    pub(crate) fn spawn_isolated(name: &str, cmd: &mut Command, log: &Path) -> io::Result<Proc> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        Proc::spawn(name, cmd, log)
    }

    /// A handle owning no process (used while a struct is being assembled).
    pub(crate) fn placeholder() -> Proc {
        Proc {
            name: String::new(),
            child: None,
            log: PathBuf::new(),
        }
    }

    /// The process id, while the process is owned.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// `Some(status)` if the process has exited.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Last few KB of the process log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        tail(&self.log)
    }

    pub(crate) fn describe_exit(&mut self) -> String {
        let status = self.exited();
        format!("{} exited ({status:?}): {}", self.name, self.log_tail())
    }

    /// Sends `sig` (e.g. `libc::SIGSTOP` / `SIGCONT` to hang and resume a peer); false if
    /// the process is gone.
    pub(crate) fn signal(&mut self, sig: libc::c_int) -> bool {
        if self.exited().is_some() {
            return false;
        }
        let Some(child) = self.child.as_ref() else {
            return false;
        };
        // SAFETY: plain kill(2) on our own child's pid, which is not reaped yet.
        unsafe { libc::kill(child.id() as libc::pid_t, sig) == 0 }
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL. Blocks until the process is reaped.
    pub(crate) fn terminate(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        let pid = child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on our own child's pid, which is not reaped yet. SIGCONT
        // first: a stopped process (a hang test) would not act on SIGTERM.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
            libc::kill(pid, libc::SIGCONT);
        }
        let start = Instant::now();
        while start.elapsed() < grace {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate(Duration::from_secs(5));
    }
}

pub(crate) fn tail(path: &Path) -> String {
    let s = std::fs::read(path).unwrap_or_default();
    let from = s.len().saturating_sub(4000);
    String::from_utf8_lossy(&s[from..]).into_owned()
}
