//! Common Encryption checked by tools nobody here wrote: a fragment remuxed by
//! `fmp4::remux_ts` and encrypted with `cenc::{protect_init, encrypt_fragment}` (cbcs and
//! cenc) decrypts, in ffmpeg (`-decryption_key`) and in Shaka Packager (raw-key
//! decryption), to the frames of the clear fragment (`ffmpeg -f framemd5`); a wrong key
//! does not; and the `senc` subsample maps written here equal Shaka Packager's for the
//! same samples and key.
//!
//! Peers: ffmpeg, and Shaka Packager found as `testkit::peer("shaka-packager")`
//! (`LINEUP_SHAKA_PACKAGER`, else where `.ci/run` installs npm `shaka-packager@3`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use media::cenc::{
    self, FragmentOptions, Scheme, Subsample, TrackKey, TrackKeys, pssh_box, read_senc,
};

const KID_V: &str = "00112233445566778899aabbccddeeff";
const KEY_V: &str = "0123456789abcdef0123456789abcdef";
const KID_A: &str = "ffeeddccbbaa99887766554433221100";
const KEY_A: &str = "fedcba9876543210fedcba9876543210";
const IV: &str = "a1a2a3a4a5a6a7a8b1b2b3b4b5b6b7b8";

fn b16(h: &str) -> [u8; 16] {
    hex::decode(h).unwrap().try_into().unwrap()
}

fn key(kid: &str, key: &str) -> TrackKey {
    TrackKey {
        kid: b16(kid),
        key: b16(key),
        iv: b16(IV),
    }
}

/// The frame hashes of `stream` (`v` / `a`) of `file` as ffmpeg decodes it (the md5
/// column only: a packager may move timestamps), or `None` when ffmpeg fails.
fn frames(file: &Path, stream: &str, decryption_key: Option<&str>) -> Option<Vec<String>> {
    let mut c = Command::new("ffmpeg");
    c.args(["-v", "error"]);
    if let Some(k) = decryption_key {
        c.args(["-decryption_key", k]);
    }
    c.arg("-i").arg(file);
    c.args(["-map", &format!("0:{stream}"), "-f", "framemd5", "-"]);
    let out = c.output().unwrap();
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).unwrap();
    Some(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit(',').next().map(|s| s.trim().to_string()))
            .collect(),
    )
}

struct Clear {
    dir: tempfile::TempDir,
    init: Vec<u8>,
    segment: Vec<u8>,
    file: PathBuf,
}

fn clear_fragment() -> Clear {
    let dir = tempfile::tempdir().unwrap();
    let segs = common::make_ts_segments(dir.path(), common::Streams::AudioVideo);
    let ts = std::fs::read(&segs[0]).unwrap();
    let r = media::fmp4::remux_ts(&ts, 1).unwrap();
    let file = dir.path().join("clear.mp4");
    std::fs::write(&file, [r.init.clone(), r.segment.clone()].concat()).unwrap();
    Clear {
        init: r.init,
        segment: r.segment,
        file,
        dir,
    }
}

fn encrypt(c: &Clear, scheme: Scheme, keys: &TrackKeys, name: &str) -> PathBuf {
    let pssh = pssh_box(&cenc::COMMON_SYSTEM_ID, &[b16(KID_V), b16(KID_A)], &[]);
    let init = cenc::protect_init(&c.init, scheme, keys, &[pssh]).unwrap();
    let seg = cenc::encrypt_fragment(
        &c.init,
        &c.segment,
        scheme,
        keys,
        &FragmentOptions::default(),
    )
    .unwrap();
    assert!(seg.len() > c.segment.len());
    let info = media::fmp4::inspect(&[init.clone(), seg.clone()].concat()).unwrap();
    assert_eq!(info.tracks[0].codec, "encv");
    let audio = if keys.audio.is_some() { "enca" } else { "mp4a" };
    assert_eq!(info.tracks[1].codec, audio);
    let path = c.dir.path().join(name);
    std::fs::write(&path, [init, seg].concat()).unwrap();
    path
}

#[test]
fn ffmpeg_decrypts_cbcs_and_cenc_to_the_clear_frames() {
    if !common::have_ffmpeg() {
        return;
    }
    let c = clear_fragment();
    let clear_v = frames(&c.file, "v", None).unwrap();
    let clear_a = frames(&c.file, "a", None).unwrap();
    assert!(clear_v.len() >= 40 && clear_a.len() >= 80);
    // ffmpeg takes one key: the SHARED preset (one key for video and audio).
    let shared = key(KID_V, KEY_V);
    let keys = TrackKeys {
        video: Some(shared),
        audio: Some(shared),
    };
    for scheme in [Scheme::Cbcs, Scheme::Cenc] {
        let enc = encrypt(&c, scheme, &keys, &format!("{scheme:?}.mp4"));
        assert_eq!(
            frames(&enc, "v", Some(KEY_V)).as_ref(),
            Some(&clear_v),
            "{scheme:?} video"
        );
        assert_eq!(
            frames(&enc, "a", Some(KEY_V)).as_ref(),
            Some(&clear_a),
            "{scheme:?} audio"
        );
        // Negative control: a wrong key gives other frames or an error.
        assert_ne!(frames(&enc, "v", Some(KEY_A)).as_ref(), Some(&clear_v));
        assert_ne!(frames(&enc, "a", Some(KEY_A)).as_ref(), Some(&clear_a));
    }
}

fn packager(args: &[String]) -> Result<(), String> {
    let bin = testkit::peer("shaka-packager").expect("checked by the caller");
    let out = Command::new(bin).args(args).output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn shaka_packager_decrypts_ours_with_a_key_per_track() {
    if !common::have_ffmpeg() {
        return;
    }
    testkit::require_peer!("shaka-packager");
    let c = clear_fragment();
    let keys = TrackKeys {
        video: Some(key(KID_V, KEY_V)),
        audio: Some(key(KID_A, KEY_A)),
    };
    for scheme in [Scheme::Cbcs, Scheme::Cenc] {
        let enc = encrypt(&c, scheme, &keys, &format!("{scheme:?}.mp4"));
        for (stream, ffstream) in [("video", "v"), ("audio", "a")] {
            let clear = frames(&c.file, ffstream, None).unwrap();
            let decrypt = |key_v: &str, key_a: &str, out: &Path| {
                packager(&[
                    format!(
                        "in={},stream={stream},output={}",
                        enc.display(),
                        out.display()
                    ),
                    "--enable_raw_key_decryption".into(),
                    "--keys".into(),
                    format!(
                        "label=v:key_id={KID_V}:key={key_v},label=a:key_id={KID_A}:key={key_a}"
                    ),
                ])
            };
            let out = c.dir.path().join(format!("{scheme:?}-{stream}-dec.mp4"));
            decrypt(KEY_V, KEY_A, &out).unwrap();
            assert_eq!(
                frames(&out, ffstream, None).as_ref(),
                Some(&clear),
                "{scheme:?} {stream} decrypted by Shaka Packager"
            );
            // Negative control: keys swapped.
            let bad = c.dir.path().join(format!("{scheme:?}-{stream}-bad.mp4"));
            let wrong = decrypt(KEY_A, KEY_V, &bad);
            assert!(
                wrong.is_err() || frames(&bad, ffstream, None).as_ref() != Some(&clear),
                "{scheme:?} {stream}: the wrong key gave the clear frames"
            );
        }
    }
}

/// Subsample maps of every sample of `file`'s fragments, in order.
fn maps(file: &Path, iv_size: usize) -> Vec<Vec<Subsample>> {
    let bytes = std::fs::read(file).unwrap();
    read_senc(&bytes, iv_size)
        .unwrap()
        .into_iter()
        .flat_map(|t| t.samples.into_iter().map(|s| s.subsamples))
        .collect()
}

#[test]
fn senc_subsample_maps_equal_shaka_packagers() {
    if !common::have_ffmpeg() {
        return;
    }
    testkit::require_peer!("shaka-packager");
    let c = clear_fragment();
    let keys = TrackKeys {
        video: Some(key(KID_V, KEY_V)),
        audio: None,
    };
    for (scheme, name, iv, iv_size) in [
        (Scheme::Cbcs, "cbcs", IV.to_string(), 0),
        (Scheme::Cenc, "cenc", IV[..16].to_string(), 8),
    ] {
        let theirs = c.dir.path().join(format!("shaka-{name}.mp4"));
        packager(&[
            format!(
                "in={},stream=video,output={}",
                c.file.display(),
                theirs.display()
            ),
            "--enable_raw_key_encryption".into(),
            "--keys".into(),
            format!("label=:key_id={KID_V}:key={KEY_V}"),
            "--protection_scheme".into(),
            name.into(),
            "--iv".into(),
            iv,
            "--clear_lead".into(),
            "0".into(),
        ])
        .unwrap();
        let ours = encrypt(&c, scheme, &keys, &format!("ours-{name}.mp4"));
        let (want, got) = (maps(&theirs, iv_size), maps(&ours, iv_size));
        assert!(
            want.len() >= 40,
            "{name}: {} samples from Shaka",
            want.len()
        );
        assert!(want.iter().all(|m| m.iter().any(|s| s.protected > 0)));
        assert_eq!(
            got, want,
            "{name}: subsample maps differ from Shaka Packager's"
        );
    }
}
