//! Key material for encrypted endpoints (AES-128, and DRM endpoints without a key
//! provider: see [`crate::drm::DerivedKeys`]): keys and key tokens derived by HMAC from
//! one server secret, so every replica with the same secret serves the same keys and no key
//! database is needed.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Derives keys and the tokens that guard them.
pub struct Keys {
    secret: [u8; 32],
}

impl Keys {
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    fn mac(&self, parts: &[&str]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("any key length");
        for p in parts {
            mac.update(p.as_bytes());
            mac.update(b"\0");
        }
        mac.finalize().into_bytes().into()
    }

    /// The key id in effect at media time `t` with rotation every `rotation` seconds.
    pub fn key_id(t: DateTime<Utc>, rotation: u64) -> u64 {
        (t.timestamp().max(0) as u64) / rotation.max(1)
    }

    /// The 16-byte content key for (channel, endpoint, key id).
    pub fn key(&self, channel: &str, endpoint: &str, kid: u64) -> [u8; 16] {
        let m = self.mac(&["key", channel, endpoint, &kid.to_string()]);
        m[..16].try_into().expect("16 of 32 bytes")
    }

    /// The 16-byte key id (KID) of (channel, endpoint, key period), for Common Encryption:
    /// 8 bytes of MAC, then the period (big-endian), so that a licence request naming the
    /// KID names its period too ([`Keys::period_of_kid`]).
    pub fn kid(&self, channel: &str, endpoint: &str, period: u64) -> [u8; 16] {
        let m = self.mac(&["kid", channel, endpoint, &period.to_string()]);
        let mut kid = [0; 16];
        kid[..8].copy_from_slice(&m[..8]);
        kid[8..].copy_from_slice(&period.to_be_bytes());
        kid
    }

    /// The key period of a KID this origin derived for (channel, endpoint), `None` for any
    /// other KID.
    pub fn period_of_kid(&self, channel: &str, endpoint: &str, kid: &[u8]) -> Option<u64> {
        let period = u64::from_be_bytes(kid.get(8..16)?.try_into().ok()?);
        web::secret_eq(kid, &self.kid(channel, endpoint, period)).then_some(period)
    }

    /// The token a player must present to fetch that key (hex, 32 chars).
    pub fn token(&self, channel: &str, endpoint: &str, kid: u64) -> String {
        hex::encode(&self.mac(&["token", channel, endpoint, &kid.to_string()])[..16])
    }

    pub fn check_token(&self, channel: &str, endpoint: &str, kid: u64, token: &str) -> bool {
        let want = self.token(channel, endpoint, kid);
        web::secret_eq(token.as_bytes(), want.as_bytes())
    }
}
