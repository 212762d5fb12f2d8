use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How to install a peer on Debian 12 (what `.ci/run` does).
pub fn install_hint(name: &str) -> &'static str {
    match base(name) {
        "ffmpeg" | "ffprobe" => "apt-get install -y ffmpeg",
        "apache2" | "httpd" | "apache2-modules" => "apt-get install -y apache2",
        "htdigest" => "apt-get install -y apache2-utils",
        "redis-server" | "redis-cli" => "apt-get install -y redis-server",
        "wrk" => "apt-get install -y wrk",
        "jq" => "apt-get install -y jq",
        "curl" => "apt-get install -y curl",
        "moto_server" => "pip install 'moto[server]'",
        "aws" => "pip install awscli",
        "python3" if name.contains(':') => "pip install <module>",
        "python3" => "apt-get install -y python3",
        "chromium" => "apt-get install -y chromium",
        "chromedriver" => "apt-get install -y chromium-driver",
        "node" => "apt-get install -y nodejs",
        "shaka-packager" => {
            "npm install --prefix /opt/lineup-peers shaka-packager@3 (or set LINEUP_SHAKA_PACKAGER)"
        }
        "tv_validate_file" => "apt-get install -y xmltv-util",
        "xmllint" => "apt-get install -y libxml2-utils",
        "postgres" | "initdb" | "pg_ctl" => {
            "apt-get install -y postgresql (binaries in /usr/lib/postgresql/<version>/bin)"
        }
        _ => "install it and put it on PATH",
    }
}

fn base(name: &str) -> &str {
    name.split(':').next().unwrap_or(name)
}

/// Where `.ci/run` installs Shaka Packager (npm `shaka-packager@3` under
/// `/opt/lineup-peers`); `LINEUP_SHAKA_PACKAGER` overrides it.
pub const SHAKA_PACKAGER: &str =
    "/opt/lineup-peers/node_modules/shaka-packager/bin/packager-linux-x64";

/// True when `LINEUP_REQUIRE_PEERS=1`: a missing peer fails the test instead of skipping it.
pub fn peers_required() -> bool {
    env::var("LINEUP_REQUIRE_PEERS").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Finds a peer program, quietly. Names:
/// - a program on `PATH` (also searched: `/usr/sbin`, `/sbin`, `/usr/local/sbin`):
///   `ffmpeg`, `ffprobe`, `redis-server`, `moto_server`, `htdigest`, `wrk`, `node`, ...
/// - `apache2` / `httpd`: the httpd binary, and only if the Debian module folder
///   `/usr/lib/apache2/modules` has mod_dav, mod_dav_fs and mod_auth_digest.
/// - `postgres`: the newest `/usr/lib/postgresql/<version>/bin/postgres` (with initdb).
/// - `chromium`: `chromium`, `chromium-browser` or `google-chrome`.
/// - `python3:<module>`: python3, if `import <module>` works (returns python3's path).
/// - `shaka-packager`: Shaka Packager's binary: `$LINEUP_SHAKA_PACKAGER`, else
///   [`SHAKA_PACKAGER`] (where `.ci/run` installs npm `shaka-packager@3`), else `packager`
///   on `PATH`.
pub fn peer(name: &str) -> Option<PathBuf> {
    match name {
        "shaka-packager" => env::var_os("LINEUP_SHAKA_PACKAGER")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from(SHAKA_PACKAGER)))
            .filter(|p| is_executable(p))
            .or_else(|| which("packager")),
        "apache2" | "httpd" => {
            let bin = which("apache2").or_else(|| which("httpd"))?;
            let m = Path::new(crate::apache::MODULES);
            [
                "mod_dav.so",
                "mod_dav_fs.so",
                "mod_auth_digest.so",
                "mod_mpm_prefork.so",
            ]
            .iter()
            .all(|f| m.join(f).exists())
            .then_some(bin)
        }
        "chromium" => which("chromium")
            .or_else(|| which("chromium-browser"))
            .or_else(|| which("google-chrome")),
        "postgres" => crate::postgres::bin_dir().map(|d| d.join("postgres")),
        n if n.starts_with("python3:") => {
            let module = &n["python3:".len()..];
            let py = which("python3")?;
            let ok = Command::new(&py)
                .args(["-c", &format!("import {module}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            ok.then_some(py)
        }
        n => which(n),
    }
}

/// [`peer`], but when it is missing: prints `SKIP <test>: <peer> not found (<hint>)` and
/// returns `None`, or panics with that message if `LINEUP_REQUIRE_PEERS=1`.
/// Use it through [`require_peer!`](crate::require_peer).
pub fn require(name: &str) -> Option<PathBuf> {
    if let Some(p) = peer(name) {
        return Some(p);
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<test>");
    let hint = match name.strip_prefix("python3:") {
        Some(module) => format!("pip install {module}"),
        None => install_hint(name).to_string(),
    };
    let msg = format!("SKIP {test}: {name} not found ({hint})");
    if peers_required() {
        panic!("{msg} and LINEUP_REQUIRE_PEERS=1");
    }
    eprintln!("{msg}");
    None
}

pub(crate) fn which(prog: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from);
    env::split_paths(&path)
        .chain(extra)
        .map(|d| d.join(prog))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
