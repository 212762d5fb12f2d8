//! `lineup.toml`: one file configures every service; command line > environment > file >
//! default; `--print-config` shows the effective values (secrets masked); a bad key or
//! value is an error naming the file, the line and the key.

use std::process::Command;

fn lineup(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lineup"));
    cmd.current_dir(dir).args(args).env_remove("LINEUP_CONFIG");
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

const FILE: &str = r#"# a deployment's settings
cors-origin = ["https://ops.example.com"]

[demo]
window = 45
api-token = "demo-secret-7d1"

[origin]
listen = "127.0.0.1:9099"
follow-interval-ms = 250

[pullpush]
dir-root = "/srv/out"
s3-allowed-bucket = ["live", "vod"]
"#;

#[test]
fn print_config_shows_where_each_value_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lineup.toml"), FILE).unwrap();
    // ./lineup.toml is read by default.
    let (code, out, err) = lineup(dir.path(), &["demo", "--print-config"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("window = 45  # file"), "{out}");
    assert!(out.contains("ad-every = 2  # default"), "{out}");
    assert!(
        out.contains("cors-origin = [\"https://ops.example.com\"]  # file"),
        "{out}"
    );
    assert!(out.contains("api-token = \"***\"  # file"), "{out}");
    assert!(
        !out.contains("demo-secret-7d1"),
        "the token was printed:\n{out}"
    );
    // Environment beats the file, the command line beats both.
    let (_, out, _) = lineup(
        dir.path(),
        &["demo", "--print-config"],
        &[("LINEUP_DEMO_WINDOW", "50")],
    );
    assert!(out.contains("window = 50  # environment"), "{out}");
    let (_, out, _) = lineup(
        dir.path(),
        &["demo", "--window", "60", "--print-config"],
        &[("LINEUP_DEMO_WINDOW", "50")],
    );
    assert!(out.contains("window = 60  # command line"), "{out}");
    // Every service reads its own table of the same file.
    let (code, out, err) = lineup(dir.path(), &["origin", "--print-config"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("listen = \"127.0.0.1:9099\"  # file"), "{out}");
    assert!(out.contains("follow-interval-ms = 250  # file"), "{out}");
    let (code, out, err) = lineup(dir.path(), &["pullpush", "--print-config"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("s3-allowed-bucket = [\"live\", \"vod\"]  # file"),
        "{out}"
    );
    // --config names another file.
    let other = dir.path().join("other.toml");
    std::fs::write(&other, "[demo]\nwindow = 12\n").unwrap();
    let (_, out, _) = lineup(
        dir.path(),
        &[
            "--config",
            other.to_str().unwrap(),
            "demo",
            "--print-config",
        ],
        &[],
    );
    assert!(out.contains("window = 12  # file"), "{out}");
}

#[test]
fn bad_keys_and_values_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[demo]\nwindow = 45\nwindoww = 3\n",
            "lineup.toml:3: unknown key \"windoww\" in [demo]",
        ),
        (
            "[demo]\n\n\nwindow = \"soon\"\n",
            "lineup.toml:4: window in [demo] = \"soon\"",
        ),
        (
            "[demoo]\nwindow = 1\n",
            "lineup.toml:1: unknown table [demoo]",
        ),
        (
            "[origin]\nlisten = \"nowhere\"\n",
            "lineup.toml:2: listen in [origin]",
        ),
        ("[demo]\nwindow = = 3\n", "lineup.toml:2:"),
        (
            "insecure-no-auth = \"yes\"\n",
            "lineup.toml:1: insecure-no-auth is a switch",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(dir.path().join("lineup.toml"), text).unwrap();
        let (code, _, err) = lineup(dir.path(), &["demo", "--print-config"], &[]);
        assert_eq!(code, 2, "{text}: {err}");
        assert!(err.contains(want), "{text}: wanted {want:?} in {err}");
    }
}
