//! What conditioning costs: wall time and CPU seconds of one job (download, ffprobe,
//! ffmpeg, checks) for ad mezzanines like ad servers send (10 s 1280x720 and 30 s
//! 1920x1080 MP4s) into three content profiles (the bundled TS and CMAF VODs, two
//! renditions each, and a four-rung 1080p broadcast ladder with 6 s segments), next to the
//! reference way of doing it, one ffmpeg process per rendition (each decoding the
//! mezzanine again), in the same run. Run with `cargo bench -p ads --bench condition`
//! (needs ffmpeg); `bench/ads/condition.sh` writes the table to `bench/out/`.
//! Nothing here asserts a timing.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ads::condition::plan::{self, PlanOptions};
use ads::condition::process::Runner;
use ads::condition::{
    AudioProfile, ConditionConfig, Conditioner, Container, ContentProfile, Readiness,
    VariantProfile, VideoProfile, profile,
};

/// CPU seconds used by this process's waited-for children (`/proc/self/stat` cutime +
/// cstime, in clock ticks of 1/100 s).
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state is field 3, so cutime (16) and cstime (17) are 13, 14.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(13) + ticks(14)) / 100.0
}

async fn mezzanine(dir: &Path, name: &str, size: &str, secs: u32) {
    let status = tokio::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=s={size}:r=25"))
        .args(["-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000"])
        .args([
            "-t",
            &secs.to_string(),
            "-c:v",
            "libx264",
            "-preset",
            "fast",
        ])
        .args([
            "-b:v", "8M", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2",
        ])
        .arg(dir.join(name))
        .status()
        .await
        .unwrap();
    assert!(status.success());
}

fn ladder() -> ContentProfile {
    let rung = |w, h, bw| VariantProfile {
        bandwidth: bw,
        average_bandwidth: None,
        video: Some(VideoProfile {
            codec: if h >= 720 {
                "avc1.640028"
            } else {
                "avc1.64001f"
            }
            .into(),
            width: w,
            height: h,
            frame_rate: 25.0,
        }),
        audio: Some(AudioProfile {
            codec: "mp4a.40.2".into(),
            sample_rate: 48_000,
            channels: 2,
        }),
        audio_group: None,
    };
    ContentProfile {
        container: Container::Ts,
        segment_secs: 6,
        variants: vec![
            rung(1920, 1080, 6_000_000),
            rung(1280, 720, 3_000_000),
            rung(960, 540, 1_500_000),
            rung(640, 360, 800_000),
        ],
        audio: Vec::new(),
    }
}

/// One job through the conditioner: (wall, CPU) seconds.
async fn job(dir: &Path, url: &str, p: &Arc<ContentProfile>) -> (f64, f64) {
    let cfg = ConditionConfig::new(dir, "http://127.0.0.1:1/v1/conditioned");
    let c = Conditioner::new(cfg, reqwest::Client::new()).unwrap();
    let cpu = children_cpu();
    let t = Instant::now();
    match c.ready(url, p, Duration::from_secs(900)).await {
        Readiness::Ready(_) => {}
        other => panic!("{url}: {other:?}"),
    }
    (t.elapsed().as_secs_f64(), children_cpu() - cpu)
}

/// The reference: one ffmpeg process per rendition, on a local copy of the mezzanine.
async fn per_rendition(dir: &Path, input: &Path, p: &ContentProfile) -> (f64, f64) {
    let runner = Runner {
        nice: 10,
        timeout: Duration::from_secs(900),
    };
    let probe_json = runner
        .run(
            Path::new("ffprobe"),
            &plan::FFPROBE_ARGS
                .iter()
                .map(|s| s.to_string())
                .chain([input.display().to_string()])
                .collect::<Vec<_>>(),
            dir,
        )
        .await
        .unwrap();
    let probe = plan::parse_ffprobe(&probe_json).unwrap();
    let cpu = children_cpu();
    let t = Instant::now();
    for v in &p.variants {
        let one = ContentProfile {
            variants: vec![v.clone()],
            audio: Vec::new(),
            ..p.clone()
        };
        let out = dir.join(format!("ref-{}", v.bandwidth));
        std::fs::create_dir_all(out.join("v0")).unwrap();
        let (args, _) = plan::ffmpeg_args(
            &input.display().to_string(),
            &out.display().to_string(),
            &probe,
            &one,
            PlanOptions {
                threads: 0,
                max_secs: 180.0,
            },
        )
        .unwrap();
        runner.run(Path::new("ffmpeg"), &args, dir).await.unwrap();
    }
    (t.elapsed().as_secs_f64(), children_cpu() - cpu)
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mezz = tmp.path().join("mezz");
    std::fs::create_dir_all(&mezz).unwrap();
    mezzanine(&mezz, "ad-720p-10s.mp4", "1280x720", 10).await;
    mezzanine(&mezz, "ad-1080p-30s.mp4", "1920x1080", 30).await;
    let (_a, ads_host) = testkit::serve_dir(&mezz).await;
    let (_b, fx) = testkit::serve_dir(testkit::fixtures_dir()).await;
    let http = reqwest::Client::new();
    let profiles = vec![
        (
            "TS VOD (360p + 180p, 2 s)",
            profile::read(&http, &fx.url("ts/vod1/master.m3u8"))
                .await
                .unwrap(),
        ),
        (
            "CMAF VOD (360p + 180p, 2 s)",
            profile::read(&http, &fx.url("cmaf/vod1/master.m3u8"))
                .await
                .unwrap(),
        ),
        ("TS ladder 1080p/720p/540p/360p, 6 s", ladder()),
    ];
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "conditioning cost, nice 10, one job at a time, {} cores, load {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        load.split_whitespace().next().unwrap_or("?")
    );
    println!(
        "| mezzanine | content profile | lineup job: wall / CPU s | x real time | one ffmpeg per rendition: wall / CPU s |"
    );
    println!("|---|---|---:|---:|---:|");
    for (file, secs) in [("ad-720p-10s.mp4", 10.0), ("ad-1080p-30s.mp4", 30.0)] {
        for (name, p) in &profiles {
            let p = Arc::new(p.clone());
            let dir = tmp.path().join(format!("c-{}", rand_name()));
            let (wall, cpu) = job(&dir, &ads_host.url(file), &p).await;
            let rdir = tmp.path().join(format!("r-{}", rand_name()));
            std::fs::create_dir_all(&rdir).unwrap();
            let (rwall, rcpu) = per_rendition(&rdir, &mezz.join(file), &p).await;
            println!(
                "| {file} | {name} | {wall:.1} / {cpu:.1} | {:.2} | {rwall:.1} / {rcpu:.1} |",
                secs / wall
            );
        }
    }
}

fn rand_name() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
