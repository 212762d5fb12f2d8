#!/usr/bin/env bash
# bench/engine/scale.sh: the engine at scale, none of it watched.
#   1. idle channels: a generated channels file of BENCH_CHANNELS (10,000) static channels
#      (the fixture VODs round-robin); time from process start to /healthz and to the first
#      media playlist (first and last channel of the file); then, after a settle period,
#      CPU (% of one core, utime+stime over BENCH_IDLE_SECS) and RSS per channel against
#      the same process with one channel (targets: CPU < 5 % of a core, < 20 KB/channel);
#   2. sessions: RSS per BENCH_SESSIONS (10,000) sessions, each session's playlist fetched
#      so it holds a schedule, on the memory store (one process) and on Redis with two
#      replicas (created on replica A, each playlist fetched on A and B, as a load balancer
#      would spread a viewer's reloads), plus redis-server's used_memory.
# Prints a table and writes bench/out/engine-scale.md. Nothing asserts timings.
#
# env: BENCH_CHANNELS (10000), BENCH_SESSIONS (10000), BENCH_SETTLE (20 s),
#      BENCH_IDLE_SECS (30), BENCH_NO_BUILD=1 (use the existing target/release/lineup),
#      BENCH_SKIP="channels sessions" (skip a part).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/engine"
OUT="$ROOT/bench/out"
NCH=${BENCH_CHANNELS:-10000}
NSESS=${BENCH_SESSIONS:-10000}
SETTLE=${BENCH_SETTLE:-20}
IDLE=${BENCH_IDLE_SECS:-30}
SKIP=${BENCH_SKIP:-}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/lineup-bench-scale.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { printf '[bench/engine/scale %s] %s\n' "$(date +%T)" "$*" >&2; }
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
now_ms() { date +%s%3N; }
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T0=$(date +%s)

if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
  log "cargo build --release -p lineup"
  (cd "$ROOT" && cargo build --release -p lineup >&2)
fi
LINEUP=${LINEUP_BIN:-"$ROOT/target/release/lineup"}

# --- fixture origin (stdlib threading server, high backlog) --------------------------------
FIX_PORT=$(free_port)
serve_fixtures "$FIX_PORT" "$ROOT/tests/fixtures" "$WORK/fixtures.log"
PIDS+=($!)
FIX="http://127.0.0.1:$FIX_PORT"
SLATE="$FIX/ts/slate/master.m3u8"
until curl -fsS -o /dev/null "$FIX/ts/vod1/master.m3u8" 2>/dev/null; do sleep 0.2; done

channels_file() { # N FILE
  python3 - "$1" "$FIX" >"$2" <<'EOF'
import sys
n, fix = int(sys.argv[1]), sys.argv[2]
vods = ", ".join(f'"{fix}/ts/vod{i}/master.m3u8"' for i in (1, 2, 3))
for i in range(n):
    print(f'[[channels]]\nid = "ch{i:05d}"\nvods = [{vods}]\n')
EOF
}

# start_engine NAME CHANNELS_FILE ARGS... -> sets PID, BASE; records the start instant
start_engine() {
  local name=$1 file=$2; shift 2
  local port; port=$(free_port)
  START_MS=$(now_ms)
  RUST_LOG=warn "$LINEUP" engine --listen "127.0.0.1:$port" --channels "$file" \
    --slate-url "$SLATE" "$@" >"$WORK/$name.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  BASE="http://127.0.0.1:$port"
}
# ms from START_MS until URL answers 200 with a line starting with $2
wait_ms() {
  local url=$1 pat=$2 deadline=$(( $(date +%s) + 300 ))
  until curl -fsS --max-time 30 "$url" 2>/dev/null | grep -q "^$pat"; do
    (( $(date +%s) < deadline )) || { echo "timeout"; return; }
    sleep 0.05
  done
  echo $(( $(now_ms) - START_MS ))
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
idle_cpu() { # PID SECS -> % of one core
  local c0 c1; c0=$(cpu_ticks "$1"); sleep "$2"; c1=$(cpu_ticks "$1")
  awk -v d=$((c1 - c0)) -v hz="$TCK" -v s="$2" 'BEGIN { printf "%.1f", d / hz / s * 100 }'
}

declare -A R
# --- 1. idle channels ----------------------------------------------------------------------
if [[ " $SKIP " != *" channels "* ]]; then
  channels_file 1 "$WORK/one.toml"
  channels_file "$NCH" "$WORK/many.toml"
  log "1 channel: start, settle ${SETTLE}s, idle CPU ${IDLE}s"
  start_engine one "$WORK/one.toml"
  R[one_first]=$(wait_ms "$BASE/channels/ch00000/v0.m3u8" '#EXTINF')
  sleep "$SETTLE"
  R[one_cpu]=$(idle_cpu "$PID" "$IDLE")
  R[one_rss]=$(rss_kb "$PID")
  stop "$PID"

  log "$NCH channels: start, first playlist, settle ${SETTLE}s, idle CPU ${IDLE}s"
  start_engine many "$WORK/many.toml"
  R[many_health]=$(wait_ms "$BASE/healthz" '{')
  R[many_first]=$(wait_ms "$BASE/channels/ch00000/v0.m3u8" '#EXTINF')
  last=$(printf 'ch%05d' $((NCH - 1)))
  R[many_last]=$(wait_ms "$BASE/channels/$last/v0.m3u8" '#EXTINF')
  R[many_rss_start]=$(rss_kb "$PID")
  sleep "$SETTLE"
  R[many_cpu]=$(idle_cpu "$PID" "$IDLE")
  R[many_rss]=$(rss_kb "$PID")
  R[many_sched]=$(curl -fsS "$BASE/metrics" | awk '$1 ~ /^engine_items_scheduled_total/ {s += $2} END {print s + 0}')
  stop "$PID"
  log "idle: 1 ch ${R[one_cpu]}% ${R[one_rss]} kB; $NCH ch ${R[many_cpu]}% ${R[many_rss]} kB"
fi

# --- 2. sessions: memory store vs Redis with two replicas ----------------------------------
if [[ " $SKIP " != *" sessions "* ]]; then
  channels_file 1 "$WORK/one.toml"
  sess_args=(--channel ch00000 --count "$NSESS" --fetch-every 1 --conns 32)
  max=(--max-sessions $((NSESS * 2 > 100000 ? NSESS * 2 : 100000)))

  log "memory store: $NSESS sessions"
  start_engine mem "$WORK/one.toml" "${max[@]}"
  wait_ms "$BASE/channels/ch00000/v0.m3u8" '#EXTINF' >/dev/null
  sleep 2
  R[mem_rss0]=$(rss_kb "$PID")
  R[mem_res]=$(python3 "$HERE/sessions.py" --base "$BASE" "${sess_args[@]}" || true)
  sleep 2
  R[mem_rss1]=$(rss_kb "$PID")
  stop "$PID"

  log "Redis, two replicas: $NSESS sessions"
  RPORT=$(free_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    >"$WORK/redis.log" 2>&1 &
  PIDS+=($!)
  REDIS_PID=$!
  until redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG; do sleep 0.1; done
  R[redis_mem0]=$(redis-cli -p "$RPORT" info memory | awk -F: '/^used_memory:/ {print $2+0}')
  start_engine ra "$WORK/one.toml" "${max[@]}" --redis-url "redis://127.0.0.1:$RPORT"
  PA=$PID; BA=$BASE
  start_engine rb "$WORK/one.toml" "${max[@]}" --redis-url "redis://127.0.0.1:$RPORT"
  PB=$PID; BB=$BASE
  wait_ms "$BA/channels/ch00000/v0.m3u8" '#EXTINF' >/dev/null
  wait_ms "$BB/channels/ch00000/v0.m3u8" '#EXTINF' >/dev/null
  sleep 2
  R[ra_rss0]=$(rss_kb "$PA"); R[rb_rss0]=$(rss_kb "$PB")
  R[redis_res]=$(python3 "$HERE/sessions.py" --base "$BA" --also-fetch "$BB" "${sess_args[@]}" || true)
  sleep 2
  R[ra_rss1]=$(rss_kb "$PA"); R[rb_rss1]=$(rss_kb "$PB")
  R[redis_mem1]=$(redis-cli -p "$RPORT" info memory | awk -F: '/^used_memory:/ {print $2+0}')
  R[redis_rss]=$(rss_kb "$REDIS_PID")
  stop "$PA"; stop "$PB"; stop "$REDIS_PID"
fi

# --- report --------------------------------------------------------------------------------
per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.1f", (b - a) / n }'; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
{
  echo "## engine at scale ($(date -u +%F' '%H:%M' UTC'))"
  echo
  if [[ -n "${R[many_cpu]:-}" ]]; then
    echo "Idle channels (static channels file, the 3 fixture VODs round-robin, none watched; CPU = utime+stime over ${IDLE} s after a ${SETTLE} s settle):"
    echo
    echo "| measure | 1 channel | $NCH channels | target |"
    echo "|---|---:|---:|---|"
    echo "| CPU, % of one core | ${R[one_cpu]} % | ${R[many_cpu]} % | < 5 % |"
    echo "| RSS | $(mb "${R[one_rss]}") MB | $(mb "${R[many_rss]}") MB (at first playlists: $(mb "${R[many_rss_start]}") MB) | |"
    echo "| RSS per channel ((RSS_N - RSS_1) / (N - 1)) | | $(per "${R[one_rss]}" "${R[many_rss]}" $((NCH - 1))) KB | < 20 KB |"
    echo "| process start -> \`/healthz\` | | ${R[many_health]} ms | |"
    echo "| process start -> first channel's first playlist | ${R[one_first]} ms | ${R[many_first]} ms | |"
    echo "| process start -> last channel's first playlist (asked right after the first's) | | ${R[many_last]} ms | |"
    echo "| items scheduled by the end (\`engine_items_scheduled_total\`) | | ${R[many_sched]} | |"
    echo
  fi
  if [[ -n "${R[mem_rss1]:-}" ]]; then
    echo "Sessions ($NSESS created with \`POST /api/v1/sessions\`, each one's \`v0.m3u8\` fetched so it holds a schedule; RSS = VmRSS):"
    echo
    echo "| store | replica | RSS before | RSS after | per session | sessions tool |"
    echo "|---|---|---:|---:|---:|---|"
    echo "| memory | one | $(mb "${R[mem_rss0]}") MB | $(mb "${R[mem_rss1]}") MB | $(per "${R[mem_rss0]}" "${R[mem_rss1]}" "$NSESS") KB | \`${R[mem_res]}\` |"
    echo "| Redis | A (created, fetched) | $(mb "${R[ra_rss0]}") MB | $(mb "${R[ra_rss1]}") MB | $(per "${R[ra_rss0]}" "${R[ra_rss1]}" "$NSESS") KB | \`${R[redis_res]}\` |"
    echo "| Redis | B (fetched) | $(mb "${R[rb_rss0]}") MB | $(mb "${R[rb_rss1]}") MB | $(per "${R[rb_rss0]}" "${R[rb_rss1]}" "$NSESS") KB | |"
    echo "| Redis | redis-server used_memory | $(awk -v b="${R[redis_mem0]}" 'BEGIN{printf "%.1f", b/1048576}') MB | $(awk -v b="${R[redis_mem1]}" 'BEGIN{printf "%.1f", b/1048576}') MB | $(awk -v a="${R[redis_mem0]}" -v b="${R[redis_mem1]}" -v n="$NSESS" 'BEGIN{printf "%.1f", (b-a)/1024/n}') KB | redis RSS $(mb "${R[redis_rss]}") MB |"
    echo
  fi
  echo "Machine: $(nproc) cores; load average (1/5/15 min) at start: $LOAD_START, at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Command: \`BENCH_CHANNELS=$NCH BENCH_SESSIONS=$NSESS bench/engine/scale.sh\` (took $(( $(date +%s) - T0 )) s)"
} | tee "$OUT/engine-scale.md"
