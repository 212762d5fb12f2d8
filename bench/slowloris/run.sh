#!/usr/bin/env bash
# bench/slowloris/run.sh: does a slowloris starve real viewers?
#
# One run, 127.0.0.1 only: `lineup demo` (release); wrk -t2 -c50 -d10s --latency against the
# origin's live DVR playlist and an AES-128 segment, first alone, then while hold.py keeps
# 2,000 slowloris connections open (half a request head, a header line every 3 s, reopened
# when the server closes them). Prints req/s, p99 and errors side by side and writes
# bench/out/slowloris.md. Never asserts timings.
#
# Knobs: LINEUP_BIN (skip the build), BENCH_DURATION (10s), BENCH_CONNECTIONS (50),
# BENCH_IDLE (2000).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-50}
IDLE=${BENCH_IDLE:-2000}
OUT_DIR="$ROOT/bench/out"
OUT="$OUT_DIR/slowloris.md"
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/slowloris: %s\n' "$*" >&2; exit 1; }
for tool in curl wrk python3; do command -v "$tool" >/dev/null || die "$tool not found"; done
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
mkdir -p "$OUT_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lineup-bench-slowloris.XXXXXX")
PIDS=()
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n "${LINEUP_BIN:-}" ]]; then BIN=$LINEUP_BIN; else
    say "cargo build --release -p lineup"
    (cd "$ROOT" && cargo build --release -p lineup --quiet) || die "release build failed"
    BIN="$ROOT/target/release/lineup"
fi
PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
say "lineup demo on $BASE"
RUST_LOG=warn "$BIN" demo --listen "127.0.0.1:$PORT" >"$WORK/demo.log" 2>&1 &
PIDS+=($!)

# first_media MASTER_URL: the first media playlist URL once it lists >= 3 segments.
first_media() {
    local master media uri deadline=$((SECONDS + 90))
    while ((SECONDS < deadline)); do
        if master=$(curl -fsS "$1" 2>/dev/null); then
            uri=$(awk '!/^#/ && /\.m3u8/ {print; exit}' <<<"$master")
            if [[ -n "$uri" ]] && media=$(curl -fsS "${1%/*}/$uri" 2>/dev/null) &&
                (($(grep -c '^#EXTINF' <<<"$media") >= 3)); then
                printf '%s\n' "${1%/*}/$uri"
                return 0
            fi
        fi
        sleep 0.5
    done
    return 1
}
PLAYLIST=$(first_media "$BASE/origin/out/demo/dvr/index.m3u8") || die "no DVR playlist: $(tail "$WORK/demo.log")"
AES_MEDIA=$(first_media "$BASE/origin/out/demo/aes/index.m3u8") || die "no AES playlist"
SEG=$(curl -fsS "$AES_MEDIA" | awk '!/^#/ && NF {print; exit}')
SEGMENT="${AES_MEDIA%/*}/$SEG"
curl -fsS -o /dev/null "$SEGMENT" || die "AES segment $SEGMENT"

# run URL -> "req/s p99 errors"
run() {
    local out rps p99 errs
    out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --timeout 5s --latency "$1")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(awk '/Socket errors|Non-2xx/ {sub(/^ +/, ""); printf "%s; ", $0}' <<<"$out")
    printf '%s|%s|%s\n' "$rps" "$p99" "${errs:-none}"
}
say "wrk without the slowloris"
P0=$(run "$PLAYLIST")
S0=$(run "$SEGMENT")
say "holding $IDLE slowloris connections"
python3 "$ROOT/bench/slowloris/hold.py" --port "$PORT" --n "$IDLE" --seconds 120 \
    >"$WORK/hold.out" 2>"$WORK/hold.err" &
PIDS+=($!)
deadline=$((SECONDS + 60))
until grep -q "^held" "$WORK/hold.out" 2>/dev/null; do
    ((SECONDS < deadline)) || die "could not open $IDLE connections: $(tail -3 "$WORK/hold.err")"
    sleep 0.5
done
say "wrk with $IDLE slowloris connections held"
P1=$(run "$PLAYLIST")
S1=$(run "$SEGMENT")
HELD=$(tail -1 "$WORK/hold.err")
{
    printf '## lineup demo under a slowloris (%s connections), wrk -t2 -c%s -d%s\n\n' "$IDLE" "$CONNS" "$DURATION"
    printf 'load average before: %s\n\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '| target | req/s alone | p99 alone | req/s with slowloris | p99 with slowloris | errors with slowloris |\n|---|---:|---:|---:|---:|---|\n'
    IFS='|' read -r a b _ <<<"$P0"; IFS='|' read -r c d e <<<"$P1"
    printf '| origin DVR live playlist | %s | %s | %s | %s | %s |\n' "$a" "$b" "$c" "$d" "$e"
    IFS='|' read -r a b _ <<<"$S0"; IFS='|' read -r c d e <<<"$S1"
    printf '| origin AES-128 segment | %s | %s | %s | %s | %s |\n' "$a" "$b" "$c" "$d" "$e"
    printf '\nslowloris at the end: %s\n' "$HELD"
} | tee "$OUT"
