//! The binary refuses to expose an open control plane, and never prints secrets.
//!
//! Only refusals are exercised with non-loopback addresses: the check runs before anything
//! binds, so these tests never listen beyond 127.0.0.1.

use std::process::Command;

fn lineup(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lineup"));
    cmd.args(args).env_remove("LINEUP_INSECURE_NO_AUTH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run lineup");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn services_beyond_loopback_need_a_token() {
    for (service, args) in [
        ("engine", vec!["engine", "--listen", "0.0.0.0:0"]),
        (
            "pullpush",
            vec!["pullpush", "--listen", "0.0.0.0:0", "--db", ":memory:"],
        ),
        ("origin", vec!["origin", "--listen", "0.0.0.0:0"]),
        ("demo", vec!["demo", "--listen", "0.0.0.0:0"]),
        ("stitch", vec!["stitch", "--listen", "0.0.0.0:0"]),
        ("schedule", vec!["schedule", "--listen", "0.0.0.0:0"]),
        ("catalog", vec!["catalog", "--listen", "0.0.0.0:0"]),
        ("ads", vec!["ads", "--listen", "0.0.0.0:0"]),
    ] {
        let (code, _, err) = lineup(&args, &[]);
        assert_eq!(code, 2, "{service}: {err}");
        assert!(err.contains("no API token"), "{service}: {err}");
        assert!(err.contains("--api-token"), "{service}: {err}");
        assert!(err.contains("--insecure-no-auth"), "{service}: {err}");
    }
}

#[test]
fn help_never_shows_secret_values() {
    let secret = "do-not-print-me-4f1c";
    for (service, var) in [
        ("engine", "LINEUP_ENGINE_API_TOKEN"),
        ("pullpush", "LINEUP_PULLPUSH_API_TOKEN"),
        ("origin", "LINEUP_ORIGIN_API_TOKEN"),
        ("demo", "LINEUP_DEMO_API_TOKEN"),
    ] {
        let (code, out, err) = lineup(&[service, "--help"], &[(var, secret)]);
        assert_eq!(code, 0, "{service}: {err}");
        assert!(out.contains("--api-token"), "{service}: {out}");
        assert!(
            !out.contains(secret),
            "{service} --help printed the token:\n{out}"
        );
    }
}

#[test]
fn bad_cors_origins_are_refused_by_name() {
    let (code, _, err) = lineup(
        &["--cors-origin", "ops.example/path", "validate", "x.m3u8"],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--cors-origin"), "{err}");
}
