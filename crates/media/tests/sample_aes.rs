//! TS `SAMPLE-AES` checked by ffmpeg's HLS demuxer: a local playlist with
//! `EXT-X-KEY:METHOD=SAMPLE-AES` and a key file over segments encrypted by
//! `sample_aes::encrypt_ts` decodes to the frames of the clear segments, and its decrypted
//! H.264 access units equal the clear ones byte for byte (less the emulation prevention
//! bytes ffmpeg drops); a wrong key does not. Two ffmpeg 5.1 habits shape the fixture: it
//! resets the audio IV per PES packet where the specification (and hls.js) resets it per
//! ADTS frame, so the fixture carries one ADTS frame per PES (`pes_payload_size=0`); and
//! it hands over the last PES packets of a playlist after leaving its last segment,
//! undecrypted, so three segments are listed and the first two compared.

mod common;

use std::path::Path;
use std::process::Command;

use media::sample_aes::{STREAM_TYPE_AAC, STREAM_TYPE_H264, encrypt_ts};
use media::ts::StreamType;

const KEY: [u8; 16] = *b"sample-aes-key!!";
const IV: [u8; 16] = [7; 16];

fn frames(playlist: &Path, stream: &str) -> Option<Vec<String>> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-allowed_extensions", "ALL"])
        .arg("-i")
        .arg(playlist)
        .args(["-map", &format!("0:{stream}"), "-f", "framemd5", "-"])
        .output()
        .unwrap();
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect(),
    )
}

fn playlist(dir: &Path, name: &str, segs: &[String], key: Option<&str>) -> std::path::PathBuf {
    let mut t = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n",
    );
    if let Some(k) = key {
        t += &format!(
            "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"{k}\",IV=0x{}\n",
            hex::encode(IV)
        );
    }
    for s in segs {
        t += &format!("#EXTINF:2.0,\n{s}\n");
    }
    t += "#EXT-X-ENDLIST\n";
    let p = dir.join(name);
    std::fs::write(&p, t).unwrap();
    p
}

#[test]
fn ffmpeg_hls_demuxer_decrypts_sample_aes_ts_to_the_clear_frames() {
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x180:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "6",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-f",
            "hls",
            "-hls_time",
            "2",
            "-hls_list_size",
            "0",
            "-hls_ts_options",
            "pes_payload_size=0",
            "-hls_segment_filename",
            &format!("{}/clear%d.ts", d.display()),
            &format!("{}/src.m3u8", d.display()),
        ],
    );
    let mut clear_names = Vec::new();
    let mut enc_names = Vec::new();
    for i in 0..3 {
        let clear = std::fs::read(d.join(format!("clear{i}.ts"))).unwrap();
        let enc = encrypt_ts(&clear, &KEY, &IV).unwrap();
        let dm = media::ts::demux(&enc).unwrap();
        let types: Vec<StreamType> = dm.streams.iter().map(|s| s.1).collect();
        assert_eq!(
            types,
            [
                StreamType::Other(STREAM_TYPE_H264),
                StreamType::Other(STREAM_TYPE_AAC)
            ]
        );
        assert!(
            dm.continuity_errors.is_empty(),
            "continuity counters broken"
        );
        assert_ne!(enc, clear);
        std::fs::write(d.join(format!("enc{i}.ts")), enc).unwrap();
        clear_names.push(format!("clear{i}.ts"));
        enc_names.push(format!("enc{i}.ts"));
    }
    std::fs::write(d.join("key.bin"), KEY).unwrap();
    std::fs::write(d.join("wrong.bin"), [0x55u8; 16]).unwrap();
    let clear = playlist(d, "clear.m3u8", &clear_names, None);
    let enc = playlist(d, "enc.m3u8", &enc_names, Some("key.bin"));
    let wrong = playlist(d, "wrong.m3u8", &enc_names, Some("wrong.bin"));
    // ffmpeg's HLS demuxer hands over the last PES of a playlist after it has left the
    // last segment, and then does not decrypt it: compare what comes before the last
    // segment (two segments of three).
    let head = |v: Vec<String>, n: usize| v.into_iter().take(n).collect::<Vec<_>>();
    for (stream, n) in [("v", 100), ("a", 185)] {
        let want = head(frames(&clear, stream).unwrap(), n);
        assert_eq!(want.len(), n, "{stream}");
        let got = frames(&enc, stream).map(|f| head(f, n));
        assert_eq!(got.as_ref(), Some(&want), "{stream}: decrypted frames");
        let bad = frames(&wrong, stream).map(|f| head(f, n));
        assert_ne!(bad.as_ref(), Some(&want), "{stream}: wrong key");
    }
    // Video, byte for byte: ffmpeg's decrypted access units (of the first two segments)
    // equal the clear ones, emulation prevention bytes included (ffmpeg removes the
    // emulation prevention applied after encryption, decrypts, and decodes the result as
    // is; a stream whose slices carry emulation prevention bytes of their own decodes
    // right only if those were encrypted with the NAL unit).
    let want_es = first_aus(annexb(&clear), 100);
    assert!(want_es.len() > 100_000);
    assert!(
        first_aus(annexb(&enc), 100) == want_es,
        "decrypted H.264 differs"
    );
    assert!(first_aus(annexb(&wrong), 100) != want_es);
}

/// The first `n` access units of `es` (each starts with an access unit delimiter).
fn first_aus(mut es: Vec<u8>, n: usize) -> Vec<u8> {
    let at = es
        .windows(5)
        .enumerate()
        .filter(|(_, w)| *w == [0, 0, 0, 1, 9])
        .nth(n)
        .map_or(es.len(), |(i, _)| i);
    es.truncate(at);
    es
}

/// The H.264 elementary stream ffmpeg reads from `playlist` (`-c copy`).
fn annexb(playlist: &Path) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-allowed_extensions", "ALL"])
        .arg("-i")
        .arg(playlist)
        .args(["-map", "0:v", "-c", "copy", "-f", "h264", "-"])
        .output()
        .unwrap();
    out.stdout
}
