//! Parse and write throughput on a 1,000-segment media playlist, ours next to m3u8-rs.
//! `cargo bench -p hls` prints MB/s for each (criterion "thrpt").

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn playlist_1000() -> String {
    let mut s = String::from(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:7\n#EXT-X-MEDIA-SEQUENCE:4711\n#EXT-X-DISCONTINUITY-SEQUENCE:3\n",
    );
    for i in 0..1000 {
        if i % 100 == 0 {
            s.push_str("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:00.000Z\n");
        }
        if i % 250 == 10 {
            s.push_str("#EXT-X-CUE-OUT:DURATION=30\n");
        }
        s.push_str(&format!(
            "#EXTINF:6.006,\nhttps://cdn.example.com/vod/asset-{}/1080p/segment_{:05}.ts\n",
            i / 100,
            i
        ));
    }
    s
}

fn bench(c: &mut Criterion) {
    let text = playlist_1000();
    let bytes = text.as_bytes();
    let ours = match hls::parse(&text).unwrap() {
        hls::Playlist::Media(m) => m,
        _ => unreachable!(),
    };
    let theirs = m3u8_rs::parse_media_playlist_res(bytes).unwrap();

    let mut g = c.benchmark_group("media_1000_segments");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("parse/lineup-hls", |b| {
        b.iter(|| hls::parse(black_box(&text)).unwrap())
    });
    g.bench_function("parse/m3u8-rs", |b| {
        b.iter(|| m3u8_rs::parse_media_playlist_res(black_box(bytes)).unwrap())
    });
    g.bench_function("write/lineup-hls", |b| {
        b.iter(|| black_box(&ours).to_bytes())
    });
    g.bench_function("write/m3u8-rs", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(bytes.len());
            black_box(&theirs).write_to(&mut out).unwrap();
            out
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
