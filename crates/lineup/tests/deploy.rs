//! The deployment of `deploy/compose.yaml`, from this build's binary: two engine replicas on
//! Redis, pullpush, two origin replicas on one S3 bucket (moto); `deploy/local.sh` starts it
//! on 127.0.0.1 and exits 0 only when `lineup validate --follow` accepts the channel through
//! the second origin replica.

#[test]
fn compose_topology_starts_and_plays_through_a_replica() {
    for peer in ["redis-server", "moto_server", "postgres", "jq", "curl"] {
        if testkit::require(peer).is_none() {
            return;
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new("bash")
        .arg(root.join("deploy/local.sh"))
        .env("LINEUP_BIN", env!("CARGO_BIN_EXE_lineup"))
        .env("FOLLOW", "20")
        .output()
        .expect("run deploy/local.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "deploy/local.sh failed:\n{stderr}");
    assert!(stderr.contains("deployment OK"), "{stderr}");
}
