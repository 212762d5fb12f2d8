//! Deterministic keys: a key is `HMAC-SHA256(seed, "key" | kid)` cut to 16 bytes, so any
//! replica with the same seed answers the same key for a key id, the SPEKE answer and the
//! licence agree without a key database, and restarts lose nothing.
//!
//! The key depends on the key id alone (not the content id): a licence request names only
//! key ids, and a key id names one key wherever it is used. [`Minter::wrong`] is a second,
//! unrelated key per key id, for licences that must fail.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::cpix::Block;

/// Mints keys from a seed.
#[derive(Clone)]
pub struct Minter {
    seed: [u8; 32],
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Minter(***)")
    }
}

impl Minter {
    /// A minter for a seed phrase (any text; hashed to 32 bytes).
    pub fn new(seed: &str) -> Self {
        Self {
            seed: Sha256::digest(seed.as_bytes()).into(),
        }
    }

    fn mac(&self, label: &[u8], kid: &Block) -> Block {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.seed).expect("any key length");
        mac.update(label);
        mac.update(b"\0");
        mac.update(kid);
        let out = mac.finalize().into_bytes();
        let mut key = [0u8; 16];
        key.copy_from_slice(&out[..16]);
        key
    }

    /// The content key of `kid`.
    pub fn key(&self, kid: &Block) -> Block {
        self.mac(b"lineup-keys key", kid)
    }

    /// A key that is not the key of `kid` (for the wrong-key licence).
    pub fn wrong(&self, kid: &Block) -> Block {
        self.mac(b"lineup-keys wrong key", kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_deterministic_per_seed_and_kid() {
        let a = Minter::new("seed");
        let b = Minter::new("seed");
        let c = Minter::new("other");
        let kid = [7u8; 16];
        assert_eq!(a.key(&kid), b.key(&kid));
        assert_ne!(a.key(&kid), c.key(&kid));
        assert_ne!(a.key(&kid), a.key(&[8u8; 16]));
        assert_ne!(a.key(&kid), a.wrong(&kid));
        assert_eq!(format!("{a:?}"), "Minter(***)");
    }
}
