//! AES-128: interop with openssl in both directions over a real TS segment.

mod common;

use media::aes::{decrypt_segment, encrypt_segment, iv_from_sequence};

#[test]
fn openssl_decrypts_ours_and_we_decrypt_openssl() {
    if !common::have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plain = if common::have_ffmpeg() {
        let segs = common::make_ts_segments(dir.path(), common::Streams::AudioVideo);
        std::fs::read(&segs[0]).unwrap()
    } else {
        // Synthetic TS-shaped bytes so the openssl leg still runs.
        (0..188 * 50)
            .map(|i| if i % 188 == 0 { 0x47 } else { (i * 31) as u8 })
            .collect()
    };
    let key: [u8; 16] = *b"0123456789abcdef";
    let iv = iv_from_sequence(1234);
    let (khex, ivhex) = (hex::encode(key), hex::encode(iv));

    // Ours -> openssl.
    let enc = dir.path().join("seg.enc");
    let dec = dir.path().join("seg.dec");
    std::fs::write(&enc, encrypt_segment(&plain, &key, &iv)).unwrap();
    common::run(
        "openssl",
        &[
            "enc",
            "-aes-128-cbc",
            "-d",
            "-K",
            &khex,
            "-iv",
            &ivhex,
            "-in",
            enc.to_str().unwrap(),
            "-out",
            dec.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read(&dec).unwrap(), plain);

    // openssl -> ours.
    let src = dir.path().join("seg.ts");
    let enc2 = dir.path().join("seg2.enc");
    std::fs::write(&src, &plain).unwrap();
    common::run(
        "openssl",
        &[
            "enc",
            "-aes-128-cbc",
            "-e",
            "-K",
            &khex,
            "-iv",
            &ivhex,
            "-in",
            src.to_str().unwrap(),
            "-out",
            enc2.to_str().unwrap(),
        ],
    );
    let theirs = std::fs::read(&enc2).unwrap();
    assert_eq!(
        theirs,
        encrypt_segment(&plain, &key, &iv),
        "byte-identical ciphertext"
    );
    assert_eq!(decrypt_segment(&theirs, &key, &iv).unwrap(), plain);
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn round_trip_any(pt in proptest::collection::vec(any::<u8>(), 0..600), key in any::<[u8; 16]>(), seq in any::<u64>()) {
        let iv = iv_from_sequence(seq);
        prop_assert_eq!(decrypt_segment(&encrypt_segment(&pt, &key, &iv), &key, &iv).unwrap(), pt);
    }

    #[test]
    fn decrypt_random_never_panics(ct in proptest::collection::vec(any::<u8>(), 0..200), key in any::<[u8; 16]>(), iv in any::<[u8; 16]>()) {
        let _ = decrypt_segment(&ct, &key, &iv);
    }
}
