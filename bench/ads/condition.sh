#!/usr/bin/env bash
# bench/ads/condition.sh: what ad conditioning costs (wall and CPU seconds per job, speed
# against real time) for 10 s 720p and 30 s 1080p MP4 mezzanines into the bundled TS and
# CMAF profiles and a four-rung 1080p ladder, next to one ffmpeg process per rendition,
# in one run (crates/ads/benches/condition.rs). Needs ffmpeg/ffprobe. Writes
# bench/out/ads-condition.md. It never asserts timings.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mkdir -p "$ROOT/bench/out"
command -v ffmpeg >/dev/null || { echo "bench/ads: ffmpeg not found (apt-get install -y ffmpeg)" >&2; exit 1; }
cd "$ROOT"
cargo bench -p ads --bench condition | tee "$ROOT/bench/out/ads-condition.md"
