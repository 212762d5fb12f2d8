//! URI resolution against the playlist's own URL (RFC 8216 section 4.1: relative URIs are
//! resolved against the URI of the playlist that contains them, per RFC 3986).

use url::Url;

/// Resolve `reference` (absolute or relative) against `base`, the playlist's URL.
pub fn resolve(base: &Url, reference: &str) -> Result<Url, url::ParseError> {
    base.join(reference)
}

/// Resolve `reference` against a base given as text.
pub fn resolve_str(base: &str, reference: &str) -> Result<Url, url::ParseError> {
    Url::parse(base)?.join(reference)
}

/// `target` written relative to `base` when they share scheme, host and port (else absolute).
pub fn relative_to(base: &Url, target: &Url) -> String {
    base.make_relative(target)
        .unwrap_or_else(|| target.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_and_absolute() {
        let base = Url::parse("http://cdn.example/vod/one/master.m3u8?token=1").unwrap();
        assert_eq!(
            resolve(&base, "360p/index.m3u8").unwrap().as_str(),
            "http://cdn.example/vod/one/360p/index.m3u8"
        );
        assert_eq!(
            resolve(&base, "../two/seg.ts").unwrap().as_str(),
            "http://cdn.example/vod/two/seg.ts"
        );
        assert_eq!(
            resolve(&base, "/abs/seg.ts").unwrap().as_str(),
            "http://cdn.example/abs/seg.ts"
        );
        assert_eq!(
            resolve(&base, "https://other.example/x.ts")
                .unwrap()
                .as_str(),
            "https://other.example/x.ts"
        );
        let seg = Url::parse("http://cdn.example/vod/one/360p/seg1.ts").unwrap();
        assert_eq!(relative_to(&base, &seg), "360p/seg1.ts");
    }
}
