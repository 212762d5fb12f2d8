//! Helpers shared by the binary's integration tests.

/// Run the `lineup` binary built for these tests; returns its exit code and stdout+stderr.
pub async fn lineup(args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_lineup"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run lineup");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}
