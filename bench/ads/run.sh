#!/usr/bin/env bash
# bench/ads/run.sh: SSAI session playlists vs the same origin playlist served directly,
# in one run; then memory per SSAI session at 10,000 sessions.
#
#   1. build `lineup` (release) unless LINEUP_BIN points at a binary;
#   2. start `lineup demo` (engine -> pullpush -> origin, ad server, SSAI proxy);
#   3. wait for the origin's DVR media playlist, start one explicit SSAI session;
#   4. wrk -t2 -c100 -d10s against the origin's media playlist and the session's;
#   5. cargo test -p ads --test session_memory -- --ignored (10,000 sessions in-process,
#      RSS before/after, sessions/s at creation; SESSIONS=N to change), then again with
#      the sessions in a throwaway redis-server (its used_memory per session);
#   6. print a markdown table and write it to bench/out/ads.md.
# Everything it starts is stopped on exit. It never asserts timings.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-100}
THREADS=${BENCH_THREADS:-2}
OUT_DIR="$ROOT/bench/out"
OUT="$OUT_DIR/ads.md"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/ads: %s\n' "$*" >&2; exit 1; }
for tool in curl wrk python3; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y curl wrk python3)"
done
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

mkdir -p "$OUT_DIR"
PIDS=()
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n "${LINEUP_BIN:-}" ]]; then
    BIN=$LINEUP_BIN
else
    say "cargo build --release -p lineup"
    (cd "$ROOT" && cargo build --release -p lineup --quiet) || die "release build failed"
    BIN="$ROOT/target/release/lineup"
fi

PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
"$BIN" demo --listen "127.0.0.1:$PORT" >/dev/null 2>&1 &
PIDS+=($!)

say "waiting for the origin's DVR playlist"
MEDIA=""
for _ in $(seq 1 600); do
    if master=$(curl -fsS "$BASE/origin/out/demo/dvr/index.m3u8" 2>/dev/null); then
        uri=$(grep -v '^#' <<<"$master" | grep m3u8 | head -1 || true)
        if [[ -n "$uri" ]]; then
            MEDIA="$BASE/origin/out/demo/dvr/$uri"
            n=$(curl -fsS "$MEDIA" 2>/dev/null | grep -c '^#EXTINF' || true)
            ((n >= 8)) && break
        fi
    fi
    sleep 0.5
done
[[ -n "$MEDIA" ]] || die "no DVR playlist"

MANIFEST=$(curl -fsS -X POST "$BASE/ads/v1/session/demo/demo/dvr/index.m3u8" \
    -H 'content-type: application/json' -d '{"adsParams":{"uid":"bench"}}' |
    python3 -c 'import sys,json; print(json.load(sys.stdin)["manifestUrl"])')
curl -fsS "$MANIFEST" >/dev/null   # absolute, as returned
SID=${MANIFEST##*aws.sessionId=}
SESSION_MEDIA="$BASE/ads/v1/manifest/demo/$SID/0.m3u8"
curl -fsS "$SESSION_MEDIA" >/dev/null || die "session playlist"

run_wrk() { # run_wrk URL -> "req/s p99"
    local out rps p99
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$1")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    echo "$rps $p99"
}
say "wrk: origin media playlist (direct)"
read -r DIRECT_RPS DIRECT_P99 < <(run_wrk "$MEDIA")
say "wrk: SSAI session media playlist"
read -r SSAI_RPS SSAI_P99 < <(run_wrk "$SESSION_MEDIA")
RATIO=$(python3 -c "print(f'{float(\"$SSAI_RPS\")/float(\"$DIRECT_RPS\"):.2f}')")

say "memory per session (10,000 sessions, in-process)"
MEM=$(cd "$ROOT" && SESSIONS=${SESSIONS:-10000} cargo test -q -p ads --test session_memory -- --ignored --nocapture 2>/dev/null |
    grep 'ssai sessions' || echo "n/a")
MEM_REDIS="n/a (redis-server not found)"
if command -v redis-server >/dev/null; then
    say "memory per session with sessions in Redis"
    RPORT=$(free_port)
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
    PIDS+=($!)
    sleep 0.5
    MEM_REDIS=$(cd "$ROOT" && REDIS_URL="redis://127.0.0.1:$RPORT" SESSIONS=${SESSIONS:-10000} \
        cargo test -q -p ads --test session_memory -- --ignored --nocapture 2>/dev/null |
        grep 'ssai sessions' || echo "n/a")
fi

{
    echo "| measure | SSAI session | origin direct | ratio |"
    echo "|---|---:|---:|---:|"
    echo "| media playlist req/s (wrk -t$THREADS -c$CONNS -d$DURATION) | $SSAI_RPS | $DIRECT_RPS | $RATIO |"
    echo "| p99 latency | $SSAI_P99 | $DIRECT_P99 | |"
    echo
    echo "memory: $MEM"
    echo
    echo "with Redis: $MEM_REDIS"
} | tee "$OUT"
