//! MPEG-TS inspection against ffmpeg-made segments (ffprobe as the oracle),
//! I-frame byte ranges decoded standalone by ffprobe, SCTE-35 in TS, fuzzing.

mod common;

use common::{Streams, tsw};
use media::scte35::{SpliceCommand, SpliceInsert};
use media::ts::{self, StreamType};
use proptest::prelude::*;
use std::path::Path;

/// (pts, key_frame) of video frames per ffprobe, in presentation order.
fn ffprobe_video_frames(path: &Path) -> Vec<(i64, bool)> {
    let out = common::run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_frames",
            "-show_entries",
            "frame=pts,key_frame",
            "-of",
            "csv=p=0",
            path.to_str().unwrap(),
        ],
    );
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut it = l.split(',');
            let key = it.next().unwrap().trim() == "1";
            let pts = it.next().unwrap().trim().parse().unwrap();
            (pts, key)
        })
        .collect()
}

#[test]
fn inspects_ffmpeg_segments_like_ffprobe() {
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let segs = common::make_ts_segments(dir.path(), Streams::AudioVideo);
    assert_eq!(segs.len(), 2);
    let mut prev_end = None;
    for seg in &segs {
        let data = std::fs::read(seg).unwrap();
        let info = ts::inspect(&data).unwrap();
        let types: Vec<_> = info.streams.iter().map(|s| s.stream_type).collect();
        assert_eq!(types, vec![StreamType::H264, StreamType::AacAdts]);
        assert!(info.continuity_errors.is_empty());
        assert_eq!(info.packets * 188, data.len());
        // 2 s of 25 fps video.
        assert_eq!(info.duration, Some(180_000), "{info:?}");
        assert_eq!(info.video().unwrap().pes_count, 50);
        let frames = ffprobe_video_frames(seg);
        let key_pts: Vec<u64> = frames.iter().filter(|f| f.1).map(|f| f.0 as u64).collect();
        let ours: Vec<u64> = info.keyframes.iter().map(|k| k.pts).collect();
        assert_eq!(ours, key_pts, "keyframe PTS vs ffprobe");
        assert_eq!(ours.len(), 2);
        let min_pts = frames.iter().map(|f| f.0).min().unwrap() as u64;
        assert_eq!(info.first_pts, Some(min_pts));
        if let Some(end) = prev_end {
            assert_eq!(info.first_pts, Some(end), "segments are contiguous");
        }
        prev_end = Some(info.first_pts.unwrap() + info.duration.unwrap());
        // Ranges tile the video part of the segment and start on packet boundaries.
        for w in info.keyframes.windows(2) {
            assert!(w[0].byte_offset + w[0].byte_len <= w[1].byte_offset);
        }
        for k in &info.keyframes {
            assert_eq!(k.byte_offset % 188, 0);
            assert_eq!(k.byte_len % 188, 0);
        }
        let r = info.pat_pmt_range.unwrap();
        // ffmpeg writes SDT, PAT, PMT: the range is the PAT and PMT packets.
        assert_eq!((r.offset, r.len), (188, 376));
        assert_eq!(
            &data[r.offset + 1..r.offset + 3],
            &[0x40, 0x00],
            "PAT packet"
        );
    }
}

#[test]
fn each_iframe_range_decodes_alone() {
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let segs = common::make_ts_segments(dir.path(), Streams::AudioVideo);
    let mut checked = 0;
    for seg in &segs {
        let data = std::fs::read(seg).unwrap();
        let info = ts::inspect(&data).unwrap();
        let map = info.pat_pmt_range.unwrap();
        for (i, k) in info.keyframes.iter().enumerate() {
            let mut bytes = data[map.offset..map.offset + map.len].to_vec();
            bytes.extend_from_slice(&data[k.byte_offset..k.byte_offset + k.byte_len]);
            let p = dir.path().join(format!("iframe{i}.ts"));
            std::fs::write(&p, &bytes).unwrap();
            let frames = ffprobe_video_frames(&p);
            assert_eq!(frames.len(), 1, "exactly one frame in {k:?}: {frames:?}");
            assert!(frames[0].1, "and it is a keyframe");
            assert_eq!(frames[0].0 as u64, k.pts);
            // And it decodes without errors.
            common::decode_clean(&p, &["-map", "0:v"]);
            checked += 1;
        }
    }
    assert_eq!(checked, 4);
}

#[test]
fn video_only_and_audio_only() {
    if !common::have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let v = common::make_ts_segments(&dir.path().join("v").tap_mkdir(), Streams::VideoOnly);
    let info = ts::inspect(&std::fs::read(&v[0]).unwrap()).unwrap();
    assert_eq!(info.streams.len(), 1);
    assert_eq!(info.keyframes.len(), 2);
    assert_eq!(info.duration, Some(180_000));

    let a = common::make_ts_segments(&dir.path().join("a").tap_mkdir(), Streams::AudioOnly);
    let info = ts::inspect(&std::fs::read(&a[0]).unwrap()).unwrap();
    assert_eq!(info.streams.len(), 1);
    assert_eq!(info.streams[0].stream_type, StreamType::AacAdts);
    assert!(info.keyframes.is_empty());
    let d = info.duration_secs().unwrap();
    assert!((d - 2.0).abs() < 0.05, "audio-only duration {d}");
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}
impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}

/// PAT, PMT (H.264 on 0x100, SCTE-35 on 0x1F0), an SCTE-35 section, two video PES.
fn synthetic_ts() -> Vec<u8> {
    let (mut c0, mut c1, mut c2, mut c3) = (0, 0, 0, 0);
    let mut ts = tsw::section(0, &tsw::pat(0x1000), &mut c0);
    ts.extend(tsw::section(
        0x1000,
        &tsw::pmt(0x100, &[(0x1b, 0x100), (0x86, 0x1F0)]),
        &mut c1,
    ));
    let cue = SpliceInsert::out(99, Some(90_000 * 10), Some(90_000 * 30));
    ts.extend(tsw::section(0x1F0, &cue.to_bytes(), &mut c2));
    let idr = [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x65, 0x88, 0x84, 0x00];
    let p = [0, 0, 0, 1, 0x09, 0x30, 0, 0, 0, 1, 0x41, 0x9A, 0x02];
    ts.extend(tsw::packets(
        0x100,
        &tsw::pes(0xE0, 1000, Some(900), &idr),
        &mut c3,
    ));
    ts.extend(tsw::packets(
        0x100,
        &tsw::pes(
            0xE0,
            4600,
            Some(4500),
            &vec![0xAB; 400].iter().copied().chain(p).collect::<Vec<_>>(),
        ),
        &mut c3,
    ));
    ts
}

#[test]
fn scte35_sections_in_ts_are_decoded() {
    let ts_bytes = synthetic_ts();
    let info = ts::inspect(&ts_bytes).unwrap();
    assert_eq!(
        info.streams
            .iter()
            .map(|s| s.stream_type)
            .collect::<Vec<_>>(),
        vec![StreamType::H264, StreamType::Scte35]
    );
    assert_eq!(info.scte35.len(), 1);
    assert_eq!(info.scte35[0].pid, 0x1F0);
    assert_eq!(info.scte35[0].byte_offset, 376);
    match &info.scte35[0].section.command {
        SpliceCommand::Insert(i) => assert_eq!((i.event_id, i.duration), (99, Some(2_700_000))),
        other => panic!("{other:?}"),
    }
    assert_eq!(info.keyframes.len(), 1);
    assert_eq!(info.keyframes[0].pts, 1000);
    assert_eq!(info.keyframes[0].byte_offset, 564);
    assert_eq!(info.keyframes[0].byte_len, 188);
    assert_eq!(info.duration, Some(3600 + 3600));
}

#[test]
fn pts_wrap_is_unwrapped() {
    let (mut c0, mut c1, mut c3) = (0, 0, 0);
    let mut t = tsw::section(0, &tsw::pat(0x1000), &mut c0);
    t.extend(tsw::section(
        0x1000,
        &tsw::pmt(0x100, &[(0x1b, 0x100)]),
        &mut c1,
    ));
    let wrap = 1u64 << 33;
    t.extend(tsw::packets(
        0x100,
        &tsw::pes(0xE0, wrap - 3600, None, &[0, 0, 1, 0x65, 1]),
        &mut c3,
    ));
    t.extend(tsw::packets(
        0x100,
        &tsw::pes(0xE0, 0, None, &[0, 0, 1, 0x41, 1]),
        &mut c3,
    ));
    let info = ts::inspect(&t).unwrap();
    assert_eq!(info.first_pts, Some(wrap - 3600));
    assert_eq!(info.last_pts, Some(wrap));
    assert_eq!(info.duration, Some(7200));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_packets_never_panic(mut b in proptest::collection::vec(any::<u8>(), 0..188 * 6), pusi in any::<bool>()) {
        let _ = ts::inspect(&b);
        let n = b.len() - b.len() % 188;
        b.truncate(n);
        for (i, chunk) in b.chunks_mut(188).enumerate() {
            chunk[0] = 0x47;
            if i == 0 { chunk[1] &= 0xE0; chunk[2] = 0; if pusi { chunk[1] |= 0x40; } }
        }
        let _ = ts::inspect(&b);
    }

    #[test]
    fn mutated_ts_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..12), cut in any::<usize>()) {
        let mut b = synthetic_ts();
        for (i, v) in edits { let n = b.len(); b[i % n] = v; }
        let _ = ts::inspect(&b);
        let _ = ts::demux(&b[..(cut % (b.len() / 188 + 1)) * 188]);
    }
}

#[test]
fn corrupt_scte35_in_ts_is_reported_not_fatal() {
    let (mut c0, mut c1, mut c2, mut c3) = (0, 0, 0, 0);
    let mut t = tsw::section(0, &tsw::pat(0x1000), &mut c0);
    t.extend(tsw::section(
        0x1000,
        &tsw::pmt(0x100, &[(0x1b, 0x100), (0x86, 0x1F0)]),
        &mut c1,
    ));
    let mut cue = SpliceInsert::out(1, None, None).to_bytes();
    let n = cue.len();
    cue[n - 1] ^= 0xFF; // break the CRC
    t.extend(tsw::section(0x1F0, &cue, &mut c2));
    t.extend(tsw::packets(
        0x100,
        &tsw::pes(0xE0, 0, None, &[0, 0, 1, 0x65, 1]),
        &mut c3,
    ));
    let info = ts::inspect(&t).unwrap();
    assert!(info.scte35.is_empty());
    assert_eq!(info.scte35_errors.len(), 1);
    match &info.scte35_errors[0] {
        media::Error::Crc { offset, .. } => assert_eq!(*offset, 376 + n - 4),
        e => panic!("{e}"),
    }
    assert_eq!(info.keyframes.len(), 1);
}
