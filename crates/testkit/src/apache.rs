use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use md5::{Digest, Md5};
use tempfile::TempDir;

use crate::process::{Proc, tail};
use crate::wait::{free_port, port_open, wait_until};

/// Debian's Apache module folder.
pub(crate) const MODULES: &str = "/usr/lib/apache2/modules";
const TEMPLATE: &str = include_str!("../apache/httpd.conf.in");
const USER: &str = "lineup";
const PASSWORD: &str = "lineup-secret";
const REALM: &str = "lineup-origin";
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A real Apache httpd (Debian `apache2`) serving a WebDAV tree on `127.0.0.1:<port>`:
/// anonymous GET/HEAD/OPTIONS/PROPFIND, HTTP Digest (MD5, qop=auth) for PUT, DELETE, MKCOL,
/// MOVE, COPY. Config template: `crates/testkit/apache/httpd.conf.in`.
///
/// Like any WebDAV server, a PUT into a folder that does not exist answers 409 Conflict;
/// create parents with MKCOL first. Killed (with its workers) on drop.
pub struct Apache {
    dir: TempDir,
    port: u16,
    bin: PathBuf,
    proc: Option<Proc>,
}

impl Apache {
    /// Starts httpd and waits until it answers HTTP. Errors if `apache2` is missing
    /// (use `require_peer!("apache2")` first to skip instead).
    pub async fn start() -> io::Result<Apache> {
        let bin = crate::peer("apache2").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "apache2 with mod_dav/mod_auth_digest not found",
            )
        })?;
        let dir = tempfile::Builder::new()
            .prefix("lineup-apache-")
            .tempdir()?;
        let root = dir.path();
        let docroot = root.join("docroot");
        for d in [root.join("run"), root.join("davlock"), docroot.clone()] {
            fs::create_dir_all(&d)?;
        }
        let port = free_port();
        // As root, httpd drops to another user for its workers; they need to reach the
        // server root and write the docroot and the DAV lock db.
        let user_group = if unsafe { libc::geteuid() } == 0 {
            let (u, g) = worker_user();
            for (p, mode) in [
                (root, 0o755),
                (&root.join("run"), 0o777),
                (&root.join("davlock"), 0o777),
                (&docroot, 0o777),
            ] {
                fs::set_permissions(p, fs::Permissions::from_mode(mode))?;
            }
            format!("User {u}\nGroup {g}")
        } else {
            String::new()
        };
        let conf = TEMPLATE
            .replace("@ROOT@", &root.display().to_string())
            .replace("@DOCROOT@", &docroot.display().to_string())
            .replace("@PORT@", &port.to_string())
            .replace("@MODULES@", MODULES)
            .replace("@REALM@", REALM)
            .replace("@USER_GROUP@", &user_group);
        fs::write(root.join("httpd.conf"), conf)?;
        fs::write(root.join("htdigest"), htdigest_line(USER, REALM, PASSWORD))?;
        fs::set_permissions(root.join("htdigest"), fs::Permissions::from_mode(0o644))?;
        let mut apache = Apache {
            dir,
            port,
            bin,
            proc: None,
        };
        apache.resume().await?;
        Ok(apache)
    }

    /// Starts httpd again on the same port and docroot after [`stop`](Self::stop).
    pub async fn resume(&mut self) -> io::Result<()> {
        if self.proc.is_some() {
            return Ok(());
        }
        let root = self.dir.path();
        let mut cmd = Command::new(&self.bin);
        cmd.arg("-f")
            .arg(root.join("httpd.conf"))
            .arg("-DFOREGROUND")
            .current_dir(root);
        // Debian's apache2 reads APACHE_* variables only through apache2ctl; make sure a
        // caller's environment can't redirect it.
        cmd.env_remove("APACHE_CONFDIR");
        // Own process group: on SIGTERM, prefork signals its whole group (it would take the
        // test binary and cargo with it).
        let mut proc = Proc::spawn_isolated("apache2", &mut cmd, &root.join("stdout.log"))?;
        let port = self.port;
        let up = wait_until(START_TIMEOUT, "apache2 to listen", || {
            let dead = proc.exited().is_some();
            async move { dead || port_open(port).await }
        })
        .await;
        if let Some(status) = proc.exited() {
            return Err(io::Error::other(format!(
                "apache2 exited ({status}): {}\n{}",
                proc.log_tail(),
                tail(&root.join("error.log"))
            )));
        }
        if let Err(e) = up {
            return Err(io::Error::other(format!(
                "{e}: {}",
                tail(&root.join("error.log"))
            )));
        }
        self.proc = Some(proc);
        Ok(())
    }

    /// Stops httpd (SIGTERM to the parent, which stops its workers), keeping port and files.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.terminate(Duration::from_secs(10));
        }
    }

    /// Fault injection: stop, stay down for `down`, start again on the same port.
    pub async fn restart(&mut self, down: Duration) -> io::Result<()> {
        self.stop();
        tokio::time::sleep(down).await;
        self.resume().await
    }

    pub fn is_running(&mut self) -> bool {
        match self.proc.as_mut() {
            Some(p) => p.exited().is_none(),
            None => false,
        }
    }

    /// Base URL of the WebDAV tree: `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `(user, password)` for Digest auth.
    pub fn credentials(&self) -> (&'static str, &'static str) {
        (USER, PASSWORD)
    }

    /// The Digest realm.
    pub fn realm(&self) -> &'static str {
        REALM
    }

    /// Folder served at `/`: a file PUT to `<url>a/b.ts` lands at `<docroot>/a/b.ts`.
    pub fn docroot(&self) -> PathBuf {
        self.dir.path().join("docroot")
    }

    /// httpd's error log (useful in assertion messages).
    pub fn error_log(&self) -> String {
        tail(&self.dir.path().join("error.log"))
    }

    /// httpd's access log: `<ip> "<request line>" <status> <bytes> "<Authorization>"`.
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `user:realm:md5(user:realm:password)`, the htdigest file format.
pub(crate) fn htdigest_line(user: &str, realm: &str, password: &str) -> String {
    let ha1 = hex::encode(Md5::digest(format!("{user}:{realm}:{password}")));
    format!("{user}:{realm}:{ha1}\n")
}

fn worker_user() -> (&'static str, &'static str) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = fs::read_to_string("/etc/group").unwrap_or_default();
    let has = |db: &str, name: &str| db.lines().any(|l| l.split(':').next() == Some(name));
    if has(&passwd, "www-data") && has(&group, "www-data") {
        ("www-data", "www-data")
    } else if has(&group, "nogroup") {
        ("nobody", "nogroup")
    } else {
        ("nobody", "nobody")
    }
}
