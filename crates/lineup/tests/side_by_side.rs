//! Every service with its defaults, side by side on one machine: `lineup engine`,
//! `pullpush`, `origin`, `stitch`, `catalog`, `schedule`, `ads`, `keys` and `demo` started
//! at once with no options (in an empty folder, no config file, no `LINEUP_*` variables)
//! each listen on their own default port, answer `/healthz` there, say that port in their
//! banner, and stop with status 0 on SIGTERM. A new default that clashes with another
//! service's fails here ("Address already in use").
//!
//! The default ports must be free on this machine: one in use by something else skips the
//! test with the reason (fails with `LINEUP_REQUIRE_PEERS=1`).

use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// Each service and the port it listens on by default.
const SERVICES: [(&str, u16); 9] = [
    ("engine", 8000),
    ("stitch", 8001),
    ("ads", 8070),
    ("demo", 8080),
    ("pullpush", 8082),
    ("origin", 8090),
    ("schedule", 8092),
    ("catalog", 8093),
    ("keys", 8095),
];

fn spawn(service: &str, dir: &std::path::Path) -> Child {
    let log = std::fs::File::create(dir.join(format!("{service}.log"))).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lineup"));
    // Defaults only: nothing from the environment this test runs in.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("LINEUP_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg(service)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("spawn lineup")
}

fn log_of(dir: &std::path::Path, service: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{service}.log"))).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_starts_with_its_defaults_beside_the_others() {
    let mut ports: Vec<u16> = SERVICES.iter().map(|(_, p)| *p).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(
        ports.len(),
        SERVICES.len(),
        "two services share a default port"
    );
    let busy: Vec<u16> = ports
        .iter()
        .copied()
        .filter(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_err())
        .collect();
    if !busy.is_empty() {
        let reason = format!("default ports in use on this machine: {busy:?}");
        if std::env::var("LINEUP_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("{reason}");
        }
        eprintln!("skipping: {reason}");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut children: Vec<(&str, u16, Child)> = SERVICES
        .iter()
        .map(|(s, p)| (*s, *p, spawn(s, dir.path())))
        .collect();
    let client = reqwest::Client::new();
    for (service, port, child) in children.iter_mut() {
        let url = format!("http://127.0.0.1:{port}/healthz");
        let up = testkit::wait_until(Duration::from_secs(60), "healthz", || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await;
        assert!(
            up.is_ok(),
            "lineup {service} never answered on its default port {port} ({:?}):\n{}",
            child.try_wait(),
            log_of(dir.path(), service)
        );
    }
    for (service, port, child) in children.iter_mut() {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "lineup {service} exited:\n{}",
            log_of(dir.path(), service)
        );
        // The demo answers /healthz while it still starts its chain; its banner follows.
        let url = format!("http://127.0.0.1:{port}");
        let named = testkit::wait_until(Duration::from_secs(60), "the banner", || {
            let ok = log_of(dir.path(), service).contains(&url);
            async move { ok }
        })
        .await;
        assert!(
            named.is_ok(),
            "lineup {service}'s banner does not name its port {port}:\n{}",
            log_of(dir.path(), service)
        );
    }
    for (_, _, child) in &children {
        let pid = child.id().expect("running") as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    }
    for (service, _, child) in children.iter_mut() {
        let status = tokio::time::timeout(Duration::from_secs(40), child.wait())
            .await
            .unwrap_or_else(|_| panic!("lineup {service} did not stop on SIGTERM"))
            .expect("wait");
        assert!(
            status.success(),
            "lineup {service} stopped with {status}:\n{}",
            log_of(dir.path(), service)
        );
    }
}
