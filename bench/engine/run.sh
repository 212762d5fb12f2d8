#!/usr/bin/env bash
# lineup's engine next to the Node.js reference (eyevinn-channel-engine 3.0.5), one run:
#   1. media-playlist requests/s and p99 latency at 100 connections (wrk -t2 -c100),
#      next to nginx serving the same playlist bytes from a file (the "static bytes"
#      reference: what any server reaches on this machine, with wrk sharing the cores),
#   2. resident memory per session (lineup) / per channel (reference: its per-viewer
#      sessions answer 500 "Session not ready" in 3.0.5, see /work/shared/PEERS.md).
# Prints a table and writes bench/out/engine.md. Nothing asserts timings.
#
# env: BENCH_DURATION (wrk seconds, 15), BENCH_CONNS (100), BENCH_SESSIONS (cumulative
#      session totals, "1000 10000 100000"), BENCH_REF_CHANNELS ("10 100"),
#      BENCH_NO_BUILD=1 (use the existing target/release/lineup).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/engine"
OUT="$ROOT/bench/out"
DUR=${BENCH_DURATION:-15}
CONNS=${BENCH_CONNS:-100}
SESSIONS=${BENCH_SESSIONS:-"1000 10000 100000"}
REF_CHANNELS=${BENCH_REF_CHANNELS:-"10 100"}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/lineup-bench-engine.XXXXXX)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '[bench/engine %s] %s\n' "$(date +%T)" "$*" >&2; }
need() { command -v "$1" >/dev/null || { echo "missing tool: $1" >&2; exit 2; }; }
for t in cargo node npm wrk curl python3; do need "$t"; done
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
TCK=$(getconf CLK_TCK)
cpu_ticks() { local p t=0; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; } # utime + stime, summed over pids
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $NGINX ]] || { echo "missing tool: nginx (apt-get install -y nginx-light)" >&2; exit 2; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# poll URL until it answers 200 with a body holding a line starting with $3 (default: a
# media playlist with segments); deadline $2 seconds
wait_playlist() {
  local url=$1 deadline=$(( $(date +%s) + $2 )) pat=${3:-#EXTINF}
  while (( $(date +%s) < deadline )); do
    if curl -fsS --max-time 5 "$url" 2>/dev/null | grep -q "^$pat"; then return 0; fi
    sleep 0.5
  done
  echo "no playlist at $url after $2 s" >&2
  return 1
}
LOAD_START=$(uptime)
T0=$(date +%s)

# --- build ---------------------------------------------------------------------------------
if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
  log "cargo build --release -p lineup"
  (cd "$ROOT" && cargo build --release -p lineup >&2)
fi
LINEUP="$ROOT/target/release/lineup"
[[ -x "$LINEUP" ]] || { echo "no $LINEUP" >&2; exit 2; }
if [[ ! -d "$HERE/node_modules/eyevinn-channel-engine" ]]; then
  log "npm ci (eyevinn-channel-engine 3.0.5, restify 8.6.1 override)"
  (cd "$HERE" && npm ci --no-audit --no-fund >&2)
fi
(cd "$HERE" && sh ./patch-restify.sh) # idempotent

# --- fixture origin: stdlib threading server, high listen backlog ---------------------------
FIX_PORT=$(free_port)
python3 - "$FIX_PORT" "$ROOT/tests/fixtures" >"$WORK/fixtures.log" 2>&1 <<'EOF' &
import functools, http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
class S(http.server.ThreadingHTTPServer):
    request_queue_size = 4096
    daemon_threads = True
S(("127.0.0.1", int(sys.argv[1])), functools.partial(H, directory=sys.argv[2])).serve_forever()
EOF
PIDS+=($!)
FIX="http://127.0.0.1:$FIX_PORT"
VODS=("$FIX/ts/vod1/master.m3u8" "$FIX/ts/vod2/master.m3u8" "$FIX/ts/vod3/master.m3u8")
SLATE="$FIX/ts/slate/master.m3u8"
wait_playlist "$FIX/ts/vod1/360p/index.m3u8" 10

# --- lineup engine -------------------------------------------------------------------------
cat >"$WORK/channels.toml" <<EOF
[[channels]]
id = "bench"
title = "bench: fixture VODs round-robin"
vods = ["${VODS[0]}", "${VODS[1]}", "${VODS[2]}"]
EOF
start_lineup() {
  LIN_PORT=$(free_port)
  RUST_LOG=warn "$LINEUP" engine --listen "127.0.0.1:$LIN_PORT" --channels "$WORK/channels.toml" \
    --slate-url "$SLATE" >>"$WORK/lineup.log" 2>&1 &
  LIN_PID=$!
  PIDS+=("$LIN_PID")
  LIN="http://127.0.0.1:$LIN_PORT"
  wait_playlist "$LIN/channels/bench/v0.m3u8" 30
}
start_lineup
LIN_MEDIA="$LIN/channels/bench/v0.m3u8"

# --- reference -----------------------------------------------------------------------------
REF_PORT=$(free_port)
(cd "$HERE" && REF_PORT=$REF_PORT REF_VODS="$(IFS=,; echo "${VODS[*]}")" REF_SLATE="$SLATE" \
  exec node --expose-gc ref.js) >"$WORK/ref.log" 2>&1 &
REF_PID=$!
PIDS+=("$REF_PID")
REF="http://127.0.0.1:$REF_PORT"
wait_playlist "$REF/live/master.m3u8?channel=1" 60 '#EXT-X-STREAM-INF' || { cat "$WORK/ref.log" >&2; exit 1; }
# The media playlist URI as its master names it (first = highest bandwidth).
REF_MEDIA_REL=$(curl -fsS "$REF/live/master.m3u8?channel=1" | grep -v '^#' | grep -m1 m3u8)
REF_MEDIA="$REF/live/$REF_MEDIA_REL"
wait_playlist "$REF_MEDIA" 60

# --- sanity: real playlists, not error pages ------------------------------------------------
check() { # name url -> "EXTINF count, bytes"
  local body
  body=$(curl -fsS "$2")
  printf '%s segments, %s bytes' "$(grep -c '^#EXTINF' <<<"$body")" "$(printf '%s' "$body" | wc -c)"
}
LIN_CHECK=$(check lineup "$LIN_MEDIA")
REF_CHECK=$(check ref "$REF_MEDIA")
log "lineup $LIN_MEDIA: $LIN_CHECK"
log "reference $REF_MEDIA: $REF_CHECK"
if grep -q '/ts/slate/' <(curl -fsS "$REF_MEDIA"); then
  REF_SLATE_NOTE="(reference playlist contains slate segments)"
else
  REF_SLATE_NOTE=""
fi

# --- static bytes: nginx serving lineup's rendered media playlist from a file ---------------
# The same bytes and the same headers (Cache-Control, CORS) as lineup's answer, sendfile,
# no access log: what serving this playlist can reach on this machine.
NGX_PORT=$(free_port)
mkdir -p "$WORK/nginx/www"
curl -fsS -o "$WORK/nginx/www/v0.m3u8" "$LIN_MEDIA"
nginx_conf "$WORK/nginx" "$NGX_PORT" "$WORK/nginx/www" '
        add_header Cache-Control "public, max-age=1";
        add_header Vary "origin, access-control-request-method, access-control-request-headers";
        add_header Access-Control-Allow-Origin "*";
        add_header Access-Control-Expose-Headers "content-length,content-range,content-type,date";'
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" >/dev/null 2>&1 &
NGX_PID=$!
PIDS+=("$NGX_PID")
NGX_MEDIA="http://127.0.0.1:$NGX_PORT/v0.m3u8"
wait_playlist "$NGX_MEDIA" 10 || { cat "$WORK/nginx/logs/error.log" >&2; exit 1; }
NGX_PIDS="$NGX_PID $(pgrep -P "$NGX_PID" | tr '\n' ' ')"
NGX_CHECK=$(check nginx "$NGX_MEDIA")

# --- throughput ----------------------------------------------------------------------------
declare -A CPU_S
wrk_run() { # name url "server-pids" -> $WORK/wrk-<name>.txt, CPU_S[name] (server CPU seconds)
  wrk -t2 -c"$CONNS" -d3s "$2" >/dev/null 2>&1 || true # warm-up (JIT, caches), not reported
  log "wrk -t2 -c$CONNS -d${DUR}s --latency $2"
  local c0 pids; read -ra pids <<<"$3"; c0=$(cpu_ticks "${pids[@]}")
  wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "$2" >"$WORK/wrk-$1.txt" 2>&1
  CPU_S[$1]=$(python3 -c "print(f'{($(cpu_ticks "${pids[@]}") - $c0) / $TCK:.1f}')")
  cat "$WORK/wrk-$1.txt" >&2
}
LOAD_WRK=$(uptime)
wrk_run lineup "$LIN_MEDIA" "$LIN_PID"
wrk_run nginx "$NGX_MEDIA" "$NGX_PIDS"
wrk_run ref "$REF_MEDIA" "$REF_PID"
rps() { awk '/^Requests\/sec/ {print $2}' "$WORK/wrk-$1.txt"; }
p99() { awk '$1=="99%" {print $2}' "$WORK/wrk-$1.txt"; }
non2xx() { awk -F': *' '/Non-2xx or 3xx/ {print $2}' "$WORK/wrk-$1.txt" | grep . || echo 0; }
sockerr() { grep -m1 'Socket errors' "$WORK/wrk-$1.txt" | sed 's/^ *Socket errors: *//' || echo none; }
total() { awk '/requests in/ {print $1}' "$WORK/wrk-$1.txt"; }
# Ceiling of the HTTP stack + wrk on this machine: lineup's /healthz (no engine work).
wrk_run healthz "$LIN/healthz" "$LIN_PID"
LIN_RPS=$(rps lineup); REF_RPS=$(rps ref)
RATIO=$(python3 -c "print(f'{$LIN_RPS/$REF_RPS:.1f}')")
per_cpu() { python3 -c "print(f'{$(total "$1") / max($2, 0.1):.0f}')"; }
LIN_PER_CPU=$(per_cpu lineup "${CPU_S[lineup]}"); REF_PER_CPU=$(per_cpu ref "${CPU_S[ref]}")
CPU_RATIO=$(python3 -c "print(f'{$LIN_PER_CPU/$REF_PER_CPU:.1f}')")
NGX_RPS=$(rps nginx); NGX_PER_CPU=$(per_cpu nginx "${CPU_S[nginx]}")
NGX_RATIO=$(python3 -c "print(f'{$LIN_RPS/$NGX_RPS:.2f}')")
NGX_REF=$(python3 -c "print(f'{$NGX_RPS/$REF_RPS:.1f}')")
kill "$NGX_PID"; wait "$NGX_PID" 2>/dev/null || true

# --- lineup memory per session (fresh process) ---------------------------------------------
kill "$LIN_PID"; wait "$LIN_PID" 2>/dev/null || true
start_lineup
curl -fsS "$LIN/channels/bench/master.m3u8" >/dev/null
curl -fsS "$LIN/channels/bench/v0.m3u8" >/dev/null
sleep 1
LIN_RSS0=$(rss_kb "$LIN_PID")
log "lineup RSS before sessions: $LIN_RSS0 kB"
declare -A LIN_RSS LIN_SESS_NOTE
made=0
for n in $SESSIONS; do
  elapsed=$(( $(date +%s) - T0 ))
  if (( n >= 100000 && elapsed > 420 )); then
    log "skipping $n sessions: ${elapsed}s elapsed already"
    LIN_SESS_NOTE[$n]="skipped (time)"
    continue
  fi
  add=$(( n - made ))
  every=10; (( n <= 1000 )) && every=1
  log "lineup: +$add sessions (to $n), fetching every ${every}. session's v0.m3u8"
  res=$(python3 "$HERE/sessions.py" --base "$LIN" --channel bench --count "$add" --fetch-every "$every" --conns 32) || true
  log "  $res"
  made=$n
  sleep 1
  LIN_RSS[$n]=$(rss_kb "$LIN_PID")
  LIN_SESS_NOTE[$n]=$(python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(f\"+{r['created']} created in {r['secs']} s, {r['fetched']} playlists fetched ({r['empty']} still empty), {r['failed']} failed\")" "$res" 2>/dev/null || echo "session tool failed: $res")
  log "  RSS $n sessions: ${LIN_RSS[$n]} kB"
done

# --- reference memory per channel ----------------------------------------------------------
ref_gc() { curl -fsS "$REF/bench/gc" >/dev/null; sleep 1; curl -fsS "$REF/bench/gc" | python3 -c 'import json,sys; print(json.load(sys.stdin)["heapUsed"]//1024)'; }
REF_HEAP0=$(ref_gc)
REF_RSS0=$(rss_kb "$REF_PID")
log "reference RSS with 1 channel: $REF_RSS0 kB"
declare -A REF_RSS REF_HEAP REF_CH_NOTE
for n in $REF_CHANNELS; do
  curl -fsS "$REF/bench/channels?n=$n" >/dev/null
  ok=0
  for i in $(seq 1 "$n"); do
    rel=$(curl -fsS --max-time 30 "$REF/live/master.m3u8?channel=$i" | grep -v '^#' | grep -m1 m3u8) || continue
    if wait_playlist "$REF/live/$rel" 60 2>/dev/null; then ok=$((ok + 1)); fi
  done
  sleep 2
  REF_HEAP[$n]=$(ref_gc)
  REF_RSS[$n]=$(rss_kb "$REF_PID")
  REF_CH_NOTE[$n]="$ok/$n channels' media playlists fetched"
  log "reference RSS with $n channels: ${REF_RSS[$n]} kB ($ok/$n ready)"
done
LOAD_END=$(uptime)

# --- report --------------------------------------------------------------------------------
kb() { python3 -c "print(f'{($2-$1)/$3:.1f}')" "$@"; }
mb() { python3 -c "print(f'{$1/1024:.1f}')"; }
{
  echo "## engine: lineup vs eyevinn-channel-engine 3.0.5 ($(date -u +%F' '%H:%M' UTC'))"
  echo
  echo "| measure | lineup | reference (Node) | nginx, same bytes from a file | note |"
  echo "|---|---|---|---|---|"
  echo "| media playlist req/s (wrk -t2 -c$CONNS -d${DUR}s) | $LIN_RPS | $REF_RPS | $NGX_RPS | lineup = ${RATIO}x reference (target >= 20x) = ${NGX_RATIO}x nginx; nginx = ${NGX_REF}x reference |"
  echo "| requests per server CPU-second (utime+stime during the run) | $LIN_PER_CPU ($(total lineup) req / ${CPU_S[lineup]} s) | $REF_PER_CPU ($(total ref) req / ${CPU_S[ref]} s) | $NGX_PER_CPU ($(total nginx) req / ${CPU_S[nginx]} s) | lineup = ${CPU_RATIO}x reference; less sensitive to the shared cores than req/s |"
  echo "| ceiling: lineup \`/healthz\` req/s (same wrk) | $(rps healthz) (p99 $(p99 healthz)) | | | HTTP stack + wrk on this machine, no engine work |"
  echo "| p99 latency | $(p99 lineup) | $(p99 ref) | $(p99 nginx) | |"
  echo "| requests / non-2xx / socket errors | $(total lineup) / $(non2xx lineup) / $(sockerr lineup) | $(total ref) / $(non2xx ref) / $(sockerr ref) | $(total nginx) / $(non2xx nginx) / $(sockerr nginx) | |"
  echo "| playlist benchmarked | \`/channels/bench/v0.m3u8\`: $LIN_CHECK | \`/live/$REF_MEDIA_REL\`: $REF_CHECK $REF_SLATE_NOTE | \`/v0.m3u8\`: $NGX_CHECK (lineup's bytes) | one channel, same 3 VODs round-robin, 60 s window (lineup) |"
  echo "| RSS baseline | $(mb "$LIN_RSS0") MB (fresh, 1 channel) | $(mb "$REF_RSS0") MB (1 channel, after wrk, GC'd) | | |"
  for n in $SESSIONS; do
    if [[ -n "${LIN_RSS[$n]:-}" ]]; then
      echo "| RSS with $n sessions (lineup) | $(mb "${LIN_RSS[$n]}") MB = $(kb "$LIN_RSS0" "${LIN_RSS[$n]}" "$n") KB/session | n/a: per-viewer sessions answer 500 in 3.0.5 | | ${LIN_SESS_NOTE[$n]} |"
    else
      echo "| RSS with $n sessions (lineup) | ${LIN_SESS_NOTE[$n]} | | | |"
    fi
  done
  prev=1
  for n in $REF_CHANNELS; do
    echo "| RSS with $n channels (reference) | | $(mb "${REF_RSS[$n]}") MB = $(kb "$REF_RSS0" "${REF_RSS[$n]}" $((n - 1))) KB/channel (JS heap: $(kb "$REF_HEAP0" "${REF_HEAP[$n]}" $((n - 1))) KB/channel) | | ${REF_CH_NOTE[$n]}; a reference channel = a Session (the class its viewer sessions use, minus their disabled playhead) + SessionLive + StreamSwitcher |"
  done
  last=""; for n in $SESSIONS; do [[ -n "${LIN_RSS[$n]:-}" ]] && last=$n; done
  if [[ -n "$last" ]]; then
    echo "| 100,000 sessions (lineup) | $( if [[ $last == 100000 ]]; then echo "measured: $(mb "${LIN_RSS[$last]}") MB"; else echo "extrapolated from $last: $(python3 -c "print(f'{($LIN_RSS0 + (${LIN_RSS[$last]}-$LIN_RSS0)*100000/$last)/1024:.0f}')") MB"; fi) | extrapolated from per-channel cost: $(python3 -c "print(f'{($REF_RSS0 + (${REF_RSS[${REF_CHANNELS##* }]}-$REF_RSS0)*100000/(${REF_CHANNELS##* }-1))/1024/1024:.1f}')") GB | | target < 4 GB |"
  fi
  echo
  echo "Targets: >= 20x the reference's req/s; < 20 KB per session; 100,000 sessions < 4 GB."
  echo "Sessions: lineup's via \`POST /api/v1/sessions\`; each fetched its \`v0.m3u8\` once (all of the first 1,000, every 10th above) so it is active, not just created. RSS = VmRSS from /proc; KB/session = (RSS - baseline) / total sessions. The reference's per-viewer sessions answer 500 \"Session not ready\" in 3.0.5, so its cost is measured per channel (channels 2..N added through its channel manager, each channel's media playlist fetched, \`global.gc()\` before each reading)."
  echo
  echo "Machine: $(nproc) cores shared by wrk, both servers, the Python fixture server and other engineers' compiles; timings are indicative only."
  echo "Load (uptime): start: ${LOAD_START#*load average: } | before wrk: ${LOAD_WRK#*load average: } | end: ${LOAD_END#*load average: }"
  echo "Command: \`bench/engine/run.sh\` (took $(( $(date +%s) - T0 )) s)"
} | tee "$OUT/engine.md"
