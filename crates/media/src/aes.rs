//! HLS AES-128 full-segment encryption (RFC 8216 section 4.3.2.4 / 5.2).
//!
//! `METHOD=AES-128`: the whole segment is AES-128-CBC encrypted with PKCS#7
//! padding. The IV is the `IV=` attribute of `#EXT-X-KEY` when present, else
//! the segment's media sequence number as a big-endian 128-bit integer
//! ([`iv_from_sequence`]). Uses the RustCrypto `aes` + `cbc` crates.

use ::aes::Aes128;
use ::aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};

use crate::error::{Error, Result};

type Enc = cbc::Encryptor<Aes128>;
type Dec = cbc::Decryptor<Aes128>;

/// A 16-byte AES-128 key.
pub type Key = [u8; 16];
/// A 16-byte CBC initialisation vector.
pub type Iv = [u8; 16];

/// The implicit IV of RFC 8216 5.2: the media sequence number, big-endian,
/// in a 128-bit buffer.
pub fn iv_from_sequence(media_sequence: u64) -> Iv {
    u128::from(media_sequence).to_be_bytes()
}

/// Formats an IV for `#EXT-X-KEY:...,IV=0x...`.
pub fn iv_to_hex(iv: &Iv) -> String {
    format!("0x{}", hex::encode_upper(iv))
}

/// Encrypts a whole segment (AES-128-CBC, PKCS#7). The output is 1..=16 bytes
/// longer than the input and a multiple of 16.
pub fn encrypt_segment(plain: &[u8], key: &Key, iv: &Iv) -> Vec<u8> {
    Enc::new(key.into(), iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain)
}

/// Decrypts a whole segment encrypted with [`encrypt_segment`] (or any HLS
/// AES-128 packager). Fails on a length that is not a positive multiple of 16
/// or on bad padding (usually: wrong key or IV).
pub fn decrypt_segment(cipher: &[u8], key: &Key, iv: &Iv) -> Result<Vec<u8>> {
    const WHAT: &str = "AES-128 segment";
    if cipher.is_empty() || !cipher.len().is_multiple_of(16) {
        return Err(Error::Invalid {
            what: WHAT,
            offset: cipher.len(),
            detail: format!(
                "ciphertext length {} is not a positive multiple of 16",
                cipher.len()
            ),
        });
    }
    Dec::new(key.into(), iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(cipher)
        .map_err(|_| Error::Invalid {
            what: WHAT,
            offset: cipher.len() - 16,
            detail: "bad PKCS#7 padding in the last block (wrong key or IV?)".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iv_is_big_endian_sequence() {
        let iv = iv_from_sequence(0x0102);
        assert_eq!(&iv[..14], &[0u8; 14]);
        assert_eq!(&iv[14..], &[1, 2]);
        assert_eq!(iv_to_hex(&iv), "0x00000000000000000000000000000102");
    }

    #[test]
    fn known_answer_nist_sp800_38a_first_block() {
        // NIST SP 800-38A F.2.1 CBC-AES128.Encrypt, block 1.
        let key: Key = hex::decode("2b7e151628aed2a6abf7158809cf4f3c")
            .unwrap()
            .try_into()
            .unwrap();
        let iv: Iv = hex::decode("000102030405060708090a0b0c0d0e0f")
            .unwrap()
            .try_into()
            .unwrap();
        let pt = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        let ct = encrypt_segment(&pt, &key, &iv);
        assert_eq!(hex::encode(&ct[..16]), "7649abac8119b246cee98e9b12e9197d");
        assert_eq!(ct.len(), 32); // a full padding block follows
    }

    #[test]
    fn round_trip_and_errors() {
        let key = [7u8; 16];
        let iv = iv_from_sequence(42);
        for len in [0usize, 1, 15, 16, 17, 188 * 7] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let ct = encrypt_segment(&pt, &key, &iv);
            assert_eq!(ct.len(), (len / 16 + 1) * 16);
            assert_eq!(decrypt_segment(&ct, &key, &iv).unwrap(), pt);
        }
        assert!(decrypt_segment(&[], &key, &iv).is_err());
        assert!(decrypt_segment(&[0; 15], &key, &iv).is_err());
        let ct = encrypt_segment(b"hello", &key, &iv);
        assert!(decrypt_segment(&ct, &[8u8; 16], &iv).is_err());
    }
}
