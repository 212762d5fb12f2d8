//! Helpers shared by the binary's integration tests.

/// Run the `lineup` binary built for these tests; returns its exit code and stdout+stderr.
#[allow(dead_code)] // not every test binary runs the CLI
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

/// `lineup demo` arguments for an in-process demo on `listener`: in-memory state, no token.
#[allow(dead_code)] // not every test binary starts a demo
pub fn demo_args(listener: &tokio::net::TcpListener, ad_every: u32) -> lineup::demo::Args {
    lineup::demo::Args {
        listen: listener.local_addr().expect("bound listener"),
        window: 30,
        ad_every,
        pullpush_db: ":memory:".into(),
        schedule_db: ":memory:".into(),
        api_token: None,
    }
}
