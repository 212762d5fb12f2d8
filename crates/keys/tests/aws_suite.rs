//! AWS's SPEKE v2 verification test suite itself (awslabs/speke-reference-server,
//! `spekev2_verification_testsuite`, vendored unchanged in `tests/spekev2_verification_testsuite`
//! with its Apache-2.0 licence), run with pytest against the key server, once for live
//! requests (key periods) and once with `--test-vod`. One shim: the suite signs every
//! request for API Gateway (`get_aws_auth` reads the region from an
//! `*.execute-api.*.amazonaws.com` host), so a pytest plugin replaces that function with
//! "no auth" for a key server on 127.0.0.1. Nothing else of the suite is changed.

use std::path::Path;

use keys::{KeyServer, KeyServerConfig};

const SHIM: &str = "\
import spekev2_verification_testsuite.helpers.utils as utils\n\
utils.get_aws_auth = lambda url: None\n";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_spekev2_verification_suite_passes() {
    let python = testkit::require_peer!("python3:pytest");
    testkit::require_peer!("python3:m3u8");
    testkit::require_peer!("python3:aws_requests_auth");
    let server = KeyServer::new(KeyServerConfig {
        seed: "aws-suite".into(),
        public_url: None,
        api_token: None,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, server.router()).await.unwrap() });
    let url = format!("http://{addr}/speke/v2");

    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("spekev2_verification_testsuite");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spekev2_verification_testsuite"),
        &suite,
    );
    std::fs::write(dir.path().join("lineup_shim.py"), SHIM).unwrap();
    for extra in [&[][..], &["--test-vod"][..]] {
        let out = tokio::process::Command::new(&python)
            .args([
                "-m",
                "pytest",
                "-p",
                "lineup_shim",
                "-p",
                "no:cacheprovider",
            ])
            .args(["-o", "addopts=", "-q", "--speke-url", &url])
            .args(extra)
            .current_dir(&suite)
            .env("PYTHONPATH", dir.path())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "pytest {extra:?}:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The whole suite ran (its test count, not "no tests ran").
        let summary = text.lines().last().unwrap_or_default().to_string();
        let passed: u32 = summary
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(passed >= 60, "pytest {extra:?}: {summary}");
        println!("AWS SPEKE v2 suite {extra:?}: {summary}");
    }
}
