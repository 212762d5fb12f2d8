//! TS -> fMP4 remux verified by ffmpeg/ffprobe; fMP4 inspection checked
//! against ffmpeg's own fMP4 output; fuzzing.

mod common;

use common::Streams;
use media::fmp4::{self, TrackKind};
use proptest::prelude::*;
use std::path::Path;

fn ffprobe_count(path: &Path, stream: &str) -> u64 {
    let out = common::run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            stream,
            "-count_packets",
            "-show_entries",
            "stream=nb_read_packets",
            "-of",
            "default=nw=1:nk=1",
            path.to_str().unwrap(),
        ],
    );
    // HLS inputs list the stream again per program: take the first line.
    out.lines()
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("count from {out:?}"))
}

fn ffprobe_duration(path: &Path) -> f64 {
    common::run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ],
    )
    .trim()
    .parse()
    .unwrap()
}

/// Remuxes every TS segment in `segs` into `dir` as init.mp4 + segN.m4s and
/// writes out.m3u8. Returns (init, segments).
fn remux_all(dir: &Path, segs: &[std::path::PathBuf]) -> (Vec<u8>, Vec<fmp4::Remuxed>) {
    let mut outs = Vec::new();
    let mut pl = String::from(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n",
    );
    for (i, s) in segs.iter().enumerate() {
        let r = fmp4::remux_ts(&std::fs::read(s).unwrap(), i as u32 + 1).unwrap();
        std::fs::write(dir.join(format!("seg{i}.m4s")), &r.segment).unwrap();
        pl.push_str(&format!("#EXTINF:2.000,\nseg{i}.m4s\n"));
        outs.push(r);
    }
    pl.push_str("#EXT-X-ENDLIST\n");
    let init = outs[0].init.clone();
    for r in &outs {
        assert_eq!(r.init, init, "init segment is the same for every segment");
    }
    std::fs::write(dir.join("init.mp4"), &init).unwrap();
    std::fs::write(dir.join("out.m3u8"), pl).unwrap();
    (init, outs)
}

#[test]
fn remuxed_av_plays_in_ffmpeg_with_matching_frames_and_continuous_tfdt() {
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let segs = common::make_ts_segments(dir.path(), Streams::AudioVideo);
    let (init, outs) = remux_all(dir.path(), &segs);
    let pl = dir.path().join("out.m3u8");
    let src = dir.path().join("src.m3u8");
    common::decode_clean(&pl, &[]);
    assert_eq!(ffprobe_count(&pl, "v:0"), 100);
    assert_eq!(ffprobe_count(&pl, "v:0"), ffprobe_count(&src, "v:0"));
    assert_eq!(ffprobe_count(&pl, "a:0"), ffprobe_count(&src, "a:0"));
    let (d_out, d_src) = (ffprobe_duration(&pl), ffprobe_duration(&src));
    assert!(
        (d_out - d_src).abs() < 0.05,
        "duration {d_out} vs source {d_src}"
    );

    // Codec strings for the master playlist.
    let codecs: Vec<String> = outs[0].tracks.iter().map(|t| t.codec_string()).collect();
    assert!(codecs[0].starts_with("avc1.64"), "{codecs:?}");
    assert_eq!(codecs[1], "mp4a.40.2");

    // Our inspector: structure and tfdt continuity across separately remuxed segments.
    let i = fmp4::inspect(&init).unwrap();
    assert_eq!(i.box_kinds(), vec!["ftyp", "moov"]);
    assert_eq!(i.tracks.len(), 2);
    assert_eq!(
        (
            i.tracks[0].codec.as_str(),
            i.tracks[0].timescale,
            i.tracks[0].width,
            i.tracks[0].height
        ),
        ("avc1", 90_000, 320, 180)
    );
    assert_eq!(
        (
            i.tracks[1].codec.as_str(),
            i.tracks[1].timescale,
            i.tracks[1].channels
        ),
        ("mp4a", 48_000, 1)
    );
    let mut all = init.clone();
    for (n, r) in outs.iter().enumerate() {
        let mut one = init.clone();
        one.extend_from_slice(&r.segment);
        let info = fmp4::inspect(&one).unwrap();
        assert_eq!(
            info.box_kinds(),
            vec!["ftyp", "moov", "styp", "moof", "mdat"]
        );
        assert_eq!(info.fragments[0].sequence_number, n as u32 + 1);
        let v = info.trafs(1).next().unwrap();
        assert_eq!(v.samples.len(), 50);
        assert_eq!(v.duration(), 180_000);
        assert_eq!(info.keyframes(1).len(), 2);
        all.extend_from_slice(&r.segment);
    }
    let info = fmp4::inspect(&all).unwrap();
    info.check_continuity().unwrap();
    let v: Vec<_> = info.trafs(1).collect();
    assert_eq!(
        v[1].base_media_decode_time,
        Some(v[0].base_media_decode_time.unwrap() + 180_000)
    );
    let a: Vec<_> = info.trafs(2).collect();
    assert_eq!(
        a[1].base_media_decode_time,
        Some(a[0].base_media_decode_time.unwrap() + a[0].duration())
    );
    // Video tfdt is the TS DTS.
    let ts0 = media::ts::demux(&std::fs::read(&segs[0]).unwrap()).unwrap();
    assert_eq!(
        v[0].base_media_decode_time,
        ts0.pes.iter().find(|p| p.pid == 0x100).unwrap().dts
    );
}

#[test]
fn fmp4_keyframe_ranges_decode_alone() {
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let segs = common::make_ts_segments(dir.path(), Streams::VideoOnly);
    let (init, outs) = remux_all(dir.path(), &segs);
    let mut data = init.clone();
    data.extend_from_slice(&outs[0].segment);
    let info = fmp4::inspect(&data).unwrap();
    let kfs = info.keyframes(1);
    assert_eq!(kfs.len(), 2);
    // The first keyframe is the first sample of the fragment: moof + first sample decodes.
    let k = kfs[0];
    let mut one = init.clone();
    one.extend_from_slice(&data[k.byte_offset..k.byte_offset + k.byte_len]);
    // A truncated mdat is what an I-frame playlist byte range yields; ffprobe
    // must still find exactly one keyframe.
    let p = dir.path().join("kf.mp4");
    std::fs::write(&p, &one).unwrap();
    let out = common::run(
        "ffprobe",
        &[
            "-v",
            "quiet",
            "-select_streams",
            "v:0",
            "-show_frames",
            "-show_entries",
            "frame=key_frame",
            "-of",
            "default=nw=1",
            p.to_str().unwrap(),
        ],
    );
    let frames: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("key_frame="))
        .collect();
    assert_eq!(frames, vec!["key_frame=1"]);
}

#[test]
fn video_only_and_audio_only_remux() {
    if !common::have_ffmpeg() {
        return;
    }
    for (streams, want) in [(Streams::VideoOnly, "v:0"), (Streams::AudioOnly, "a:0")] {
        let dir = tempfile::tempdir().unwrap();
        let segs = common::make_ts_segments(dir.path(), streams);
        let (_, outs) = remux_all(dir.path(), &segs);
        assert_eq!(outs[0].tracks.len(), 1);
        assert_eq!(outs[0].tracks[0].track_id, 1);
        let pl = dir.path().join("out.m3u8");
        common::decode_clean(&pl, &[]);
        assert_eq!(
            ffprobe_count(&pl, want),
            ffprobe_count(&dir.path().join("src.m3u8"), want),
            "{streams:?}"
        );
        if streams == Streams::AudioOnly {
            assert!(matches!(
                outs[0].tracks[0].kind,
                TrackKind::Aac {
                    sample_rate: 48_000,
                    ..
                }
            ));
            assert_eq!(
                outs[1].tracks[0].base_media_decode_time,
                outs[0].tracks[0].base_media_decode_time + outs[0].tracks[0].duration
            );
        }
    }
}

#[test]
fn inspects_ffmpeg_made_fmp4() {
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let segments = format!("{d}/s%d.m4s");
    let playlist = format!("{d}/x.m3u8");
    let inputs = [
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
    ];
    let fmp4 = [
        "-hls_segment_type",
        "fmp4",
        "-hls_fmp4_init_filename",
        "init.mp4",
        "-hls_segment_filename",
        &segments,
        &playlist,
    ];
    common::run("ffmpeg", &[&inputs[..], common::ENCODE_HLS, &fmp4].concat());
    let mut all = std::fs::read(dir.path().join("init.mp4")).unwrap();
    let mut n = 0;
    while let Ok(b) = std::fs::read(dir.path().join(format!("s{n}.m4s"))) {
        all.extend(b);
        n += 1;
    }
    assert!(n >= 2);
    let info = fmp4::inspect(&all).unwrap();
    let codecs: Vec<_> = info
        .tracks
        .iter()
        .map(|t| (t.handler.as_str(), t.codec.as_str()))
        .collect();
    assert_eq!(codecs, vec![("vide", "avc1"), ("soun", "mp4a")]);
    assert_eq!(info.tracks[1].sample_rate, 48_000);
    info.check_continuity().unwrap();
    let video_samples: usize = info
        .trafs(info.tracks[0].track_id)
        .map(|t| t.samples.len())
        .sum();
    assert_eq!(video_samples, 100);
    assert_eq!(info.keyframes(info.tracks[0].track_id).len(), 4);
}

fn real_segment() -> Option<Vec<u8>> {
    static SEG: std::sync::OnceLock<Option<Vec<u8>>> = std::sync::OnceLock::new();
    SEG.get_or_init(|| {
        if !common::have_ffmpeg() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let segs = common::make_ts_segments(dir.path(), Streams::AudioVideo);
        Some(std::fs::read(&segs[0]).unwrap())
    })
    .clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Remux of a corrupted real segment returns a value or an error, never panics.
    #[test]
    fn remux_mutated_real_ts_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..40)) {
        if let Some(mut b) = real_segment() {
            for (i, v) in edits { let n = b.len(); b[i % n] = v; }
            if let Ok(r) = fmp4::remux_ts(&b, 1) {
                let mut all = r.init.clone();
                all.extend(r.segment);
                fmp4::inspect(&all).unwrap();
            }
        }
    }
}
