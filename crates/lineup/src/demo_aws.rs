//! `lineup demo`'s AWS-shaped doors: a key pair made for this run (only when the demo
//! listens on loopback), the origin's MediaPackage API and the ads service's MediaTailor
//! API accepting it, and the lines the banner prints (the two `--endpoint-url`s, the pair,
//! one `aws mediapackage list-channels` command that works as printed).

use web::sigv4::KeyPair;

/// The region the demo's AWS-shaped APIs answer.
pub const REGION: &str = "us-east-1";

/// A fresh pair for a demo listening on `listen`; none when other machines could reach
/// it (then the AWS-shaped APIs refuse every request).
pub fn demo_key(listen: std::net::SocketAddr) -> Option<KeyPair> {
    listen.ip().is_loopback().then(KeyPair::generate)
}

/// The `--endpoint-url` of the MediaPackage API.
pub fn mediapackage_url(base: &str) -> String {
    format!("{base}/origin")
}

/// The `--endpoint-url` of the MediaTailor API.
pub fn mediatailor_url(base: &str) -> String {
    format!("{base}/ads")
}

/// One shell command that lists the origin's channels with the AWS CLI.
pub fn cli_line(base: &str, key: &KeyPair) -> String {
    format!(
        "AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} aws mediapackage list-channels \
         --endpoint-url {} --region {REGION}",
        key.access_key_id,
        key.secret.expose(),
        mediapackage_url(base)
    )
}

/// The banner's lines.
pub fn banner(base: &str, key: Option<&KeyPair>) -> String {
    match key {
        Some(key) => format!(
            "  AWS SDK / CLI (SigV4 with this run's key pair; loopback only):
    MediaPackage: --endpoint-url {mp}   MediaTailor: --endpoint-url {mt}   --region {REGION}
    AWS_ACCESS_KEY_ID={id} AWS_SECRET_ACCESS_KEY={secret}
    {line}",
            mp = mediapackage_url(base),
            mt = mediatailor_url(base),
            id = key.access_key_id,
            secret = key.secret.expose(),
            line = cli_line(base, key),
        ),
        None => "  AWS SDK / CLI: off (the demo listens beyond loopback; give \
                 `lineup origin` / `lineup ads` --aws-api-key)"
            .to_string(),
    }
}
