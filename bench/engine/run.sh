#!/usr/bin/env bash
# lineup's engine next to nginx and the Node.js reference (eyevinn-channel-engine 3.0.5),
# one run:
#   1. media-playlist requests/s and p99 latency (wrk -t2 -c50 -d10s) of a channel's and
#      of one viewer session's media playlist, next to nginx serving the channel
#      playlist's bytes from a file (the "static bytes" reference: what any server reaches
#      on this machine, with wrk sharing the cores); same-run ratios channel / nginx and
#      session / channel, with the machine's load average before each run,
#   2. the viewer load (bench/viewers: N viewers, each its own session, reloading every
#      target duration) when BENCH_VIEWERS is set,
#   3. resident memory per session (lineup) / per channel (reference: its per-viewer
#      sessions answer 500 "Session not ready" in 3.0.5, see /work/shared/PEERS.md).
# Prints a table and writes bench/out/engine.md. Nothing asserts timings.
#
# env: BENCH_DURATION (wrk seconds, 10), BENCH_CONNS (50), BENCH_SESSIONS (cumulative
#      session totals, "1000 10000 100000"; "" skips), BENCH_REF_CHANNELS ("10 100"),
#      BENCH_REF=0 (skip the Node.js reference), BENCH_VIEWERS ("" = skip; e.g.
#      "1000 10000 50000": one bench/viewers run per N, BENCH_VIEWERS_SECS each, 40),
#      BENCH_NO_BUILD=1 (use the existing target/release/lineup and viewers).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/bench/engine"
OUT="$ROOT/bench/out"
DUR=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNS:-50}
SESSIONS=${BENCH_SESSIONS-"1000 10000 100000"}
REF=${BENCH_REF:-1}
VIEWERS=${BENCH_VIEWERS:-}
VIEWERS_SECS=${BENCH_VIEWERS_SECS:-40}
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
for t in cargo wrk curl python3; do need "$t"; done
if [[ $REF == 1 ]]; then need node; need npm; fi
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
  if [[ -n $VIEWERS ]]; then (cd "$ROOT" && cargo build --release -p viewers >&2); fi
fi
LINEUP=${LINEUP_BIN:-"$ROOT/target/release/lineup"}
[[ -x "$LINEUP" ]] || { echo "no $LINEUP" >&2; exit 2; }
if [[ $REF == 1 ]]; then
  if [[ ! -d "$HERE/node_modules/eyevinn-channel-engine" ]]; then
    log "npm ci (eyevinn-channel-engine 3.0.5, restify 8.6.1 override)"
    (cd "$HERE" && npm ci --no-audit --no-fund >&2)
  fi
  (cd "$HERE" && sh ./patch-restify.sh) # idempotent
fi

# --- fixture origin: stdlib threading server, high listen backlog ---------------------------
FIX_PORT=$(free_port)
serve_fixtures "$FIX_PORT" "$ROOT/tests/fixtures" "$WORK/fixtures.log"
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
    --slate-url "$SLATE" "$@" >>"$WORK/lineup.log" 2>&1 &
  LIN_PID=$!
  PIDS+=("$LIN_PID")
  LIN="http://127.0.0.1:$LIN_PORT"
  wait_playlist "$LIN/channels/bench/v0.m3u8" 30
}
start_lineup
LIN_MEDIA="$LIN/channels/bench/v0.m3u8"
# One viewer session on the same channel: its own schedule, its own render cache. Created
# now so that its window (which starts at three target durations) has filled to the
# channel's by the time it is benchmarked (the last wrk run).
SESSION_ID=$(curl -fsS -X POST -H 'content-type: application/json' -d '{"channel":"bench"}' \
  "$LIN/api/v1/sessions" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
SESSION_T0=$(date +%s)
LIN_SESSION="$LIN/sessions/$SESSION_ID/v0.m3u8"
wait_playlist "$LIN_SESSION" 30

# --- reference -----------------------------------------------------------------------------
if [[ $REF == 1 ]]; then
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
fi

# --- sanity: real playlists, not error pages ------------------------------------------------
check() { # name url -> "EXTINF count, bytes"
  local body
  body=$(curl -fsS "$2")
  printf '%s segments, %s bytes' "$(grep -c '^#EXTINF' <<<"$body")" "$(printf '%s' "$body" | wc -c)"
}
LIN_CHECK=$(check lineup "$LIN_MEDIA")
log "lineup $LIN_MEDIA: $LIN_CHECK"
REF_SLATE_NOTE=""
if [[ $REF == 1 ]]; then
  REF_CHECK=$(check ref "$REF_MEDIA")
  log "reference $REF_MEDIA: $REF_CHECK"
  if grep -q '/ts/slate/' <(curl -fsS "$REF_MEDIA"); then
    REF_SLATE_NOTE="(reference playlist contains slate segments)"
  fi
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
declare -A CPU_S LOAD_AT
wrk_run() { # name url "server-pids" -> $WORK/wrk-<name>.txt, CPU_S[name] (server CPU seconds)
  wrk -t2 -c"$CONNS" -d3s "$2" >/dev/null 2>&1 || true # warm-up (JIT, caches), not reported
  LOAD_AT[$1]=$(cut -d' ' -f1 /proc/loadavg)
  log "wrk -t2 -c$CONNS -d${DUR}s --latency $2 (load ${LOAD_AT[$1]})"
  local c0 pids; read -ra pids <<<"$3"; c0=$(cpu_ticks "${pids[@]}")
  wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "$2" >"$WORK/wrk-$1.txt" 2>&1
  CPU_S[$1]=$(python3 -c "print(f'{($(cpu_ticks "${pids[@]}") - $c0) / $TCK:.1f}')")
  cat "$WORK/wrk-$1.txt" >&2
}
LOAD_WRK=$(uptime)
wrk_run lineup "$LIN_MEDIA" "$LIN_PID"
wrk_run nginx "$NGX_MEDIA" "$NGX_PIDS"
if [[ $REF == 1 ]]; then wrk_run ref "$REF_MEDIA" "$REF_PID"; fi
rps() { awk '/^Requests\/sec/ {print $2}' "$WORK/wrk-$1.txt"; }
p99() { awk '$1=="99%" {print $2}' "$WORK/wrk-$1.txt"; }
non2xx() { awk -F': *' '/Non-2xx or 3xx/ {print $2}' "$WORK/wrk-$1.txt" | grep . || echo 0; }
sockerr() { grep -m1 'Socket errors' "$WORK/wrk-$1.txt" | sed 's/^ *Socket errors: *//' || echo none; }
total() { awk '/requests in/ {print $1}' "$WORK/wrk-$1.txt"; }
# Ceiling of the HTTP stack + wrk on this machine: lineup's /healthz (no engine work).
wrk_run healthz "$LIN/healthz" "$LIN_PID"
# The session, once its window lists as many segments as the channel's (a full window:
# the window length after its creation; at most 75 s).
want=$(grep -c '^#EXTINF' <(curl -fsS "$LIN_MEDIA"))
while (( $(grep -c '^#EXTINF' <(curl -fsS "$LIN_SESSION")) < want && $(date +%s) - SESSION_T0 < 75 )); do sleep 1; done
SES_CHECK=$(check session "$LIN_SESSION")
log "lineup session $LIN_SESSION: $SES_CHECK"
wrk_run session "$LIN_SESSION" "$LIN_PID"
LIN_RPS=$(rps lineup)
per_cpu() { python3 -c "print(f'{$(total "$1") / max($2, 0.1):.0f}')"; }
LIN_PER_CPU=$(per_cpu lineup "${CPU_S[lineup]}")
NGX_RPS=$(rps nginx); NGX_PER_CPU=$(per_cpu nginx "${CPU_S[nginx]}")
SES_RPS=$(rps session); SES_PER_CPU=$(per_cpu session "${CPU_S[session]}")
NGX_RATIO=$(python3 -c "print(f'{$LIN_RPS/$NGX_RPS:.2f}')")
SES_RATIO=$(python3 -c "print(f'{$SES_RPS/$LIN_RPS:.2f}')")
SES_NGX_RATIO=$(python3 -c "print(f'{$SES_RPS/$NGX_RPS:.2f}')")
if [[ $REF == 1 ]]; then
  REF_RPS=$(rps ref)
  RATIO=$(python3 -c "print(f'{$LIN_RPS/$REF_RPS:.1f}')")
  REF_PER_CPU=$(per_cpu ref "${CPU_S[ref]}")
  CPU_RATIO=$(python3 -c "print(f'{$LIN_PER_CPU/$REF_PER_CPU:.1f}')")
  NGX_REF=$(python3 -c "print(f'{$NGX_RPS/$REF_RPS:.1f}')")
fi
kill "$NGX_PID"; wait "$NGX_PID" 2>/dev/null || true

# --- viewer load (bench/viewers), fresh lineup per N -------------------------------------
declare -A VIEW_ROW
for n in $VIEWERS; do
  kill "$LIN_PID"; wait "$LIN_PID" 2>/dev/null || true
  start_lineup --max-sessions $(( n * 2 > 100000 ? n * 2 : 100000 ))
  log "viewers: $n for ${VIEWERS_SECS}s (load $(cut -d' ' -f1 /proc/loadavg))"
  VIEW_ROW[$n]=$("$ROOT/target/release/viewers" --base "$LIN" --channel bench --viewers "$n" \
    --secs "$VIEWERS_SECS" --server-pid "$LIN_PID" --markdown-row 2>>"$WORK/viewers.log") ||
    VIEW_ROW[$n]="| $n | viewers failed: $(tail -1 "$WORK/viewers.log") |"
  log "  ${VIEW_ROW[$n]}"
done

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
declare -A REF_RSS REF_HEAP REF_CH_NOTE
if [[ $REF == 1 ]]; then
ref_gc() { curl -fsS "$REF/bench/gc" >/dev/null; sleep 1; curl -fsS "$REF/bench/gc" | python3 -c 'import json,sys; print(json.load(sys.stdin)["heapUsed"]//1024)'; }
REF_HEAP0=$(ref_gc)
REF_RSS0=$(rss_kb "$REF_PID")
log "reference RSS with 1 channel: $REF_RSS0 kB"
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
fi
LOAD_END=$(uptime)

# --- report --------------------------------------------------------------------------------
kb() { python3 -c "print(f'{($2-$1)/$3:.1f}')" "$@"; }
mb() { python3 -c "print(f'{$1/1024:.1f}')"; }
{
  echo "## engine: lineup vs nginx (same bytes) and eyevinn-channel-engine 3.0.5 ($(date -u +%F' '%H:%M' UTC'))"
  echo
  echo "Same-run ratios (wrk -t2 -c$CONNS -d${DUR}s --latency, keep-alive, after a 3 s warm-up each):"
  echo
  echo "| ratio | value | target |"
  echo "|---|---:|---|"
  echo "| engine channel playlist / nginx (same bytes from a file) | $NGX_RATIO | >= 1 |"
  echo "| session playlist / channel playlist | $SES_RATIO | >= 0.9 |"
  echo "| session playlist / nginx | $SES_NGX_RATIO | >= 1 |"
  if [[ $REF == 1 ]]; then
    echo "| engine channel playlist / reference (Node) | $RATIO | >= 20 |"
  fi
  echo
  echo "| measure | lineup channel | lineup session | nginx, same bytes from a file | reference (Node) |"
  echo "|---|---|---|---|---|"
  refc() { if [[ $REF == 1 ]]; then echo "$1"; else echo "not run (BENCH_REF=0)"; fi; }
  echo "| req/s | $LIN_RPS | $SES_RPS | $NGX_RPS | $(refc "${REF_RPS:-}") |"
  echo "| p99 latency | $(p99 lineup) | $(p99 session) | $(p99 nginx) | $(refc "$(p99 ref 2>/dev/null)") |"
  echo "| requests per server CPU-second (utime+stime during the run) | $LIN_PER_CPU ($(total lineup) req / ${CPU_S[lineup]} s) | $SES_PER_CPU ($(total session) req / ${CPU_S[session]} s) | $NGX_PER_CPU ($(total nginx) req / ${CPU_S[nginx]} s) | $(refc "${REF_PER_CPU:-} ($(total ref 2>/dev/null) req / ${CPU_S[ref]:-} s)") |"
  echo "| requests / non-2xx / socket errors | $(total lineup) / $(non2xx lineup) / $(sockerr lineup) | $(total session) / $(non2xx session) / $(sockerr session) | $(total nginx) / $(non2xx nginx) / $(sockerr nginx) | $(refc "$(total ref 2>/dev/null) / $(non2xx ref 2>/dev/null) / $(sockerr ref 2>/dev/null)") |"
  echo "| load average (1 min) before the run | ${LOAD_AT[lineup]} | ${LOAD_AT[session]} | ${LOAD_AT[nginx]} | $(refc "${LOAD_AT[ref]:-}") |"
  echo "| playlist benchmarked | \`/channels/bench/v0.m3u8\`: $LIN_CHECK | \`/sessions/<id>/v0.m3u8\`: $SES_CHECK | \`/v0.m3u8\`: $NGX_CHECK (the channel's bytes) | $(refc "\`/live/${REF_MEDIA_REL:-}\`: ${REF_CHECK:-} $REF_SLATE_NOTE") |"
  echo "| ceiling: lineup \`/healthz\` req/s (same wrk) | $(rps healthz) (p99 $(p99 healthz)) | | | |"
  echo
  if [[ -n $VIEWERS ]]; then
    echo "Viewer load (\`target/release/viewers\`: N viewers, each its own session created with \`POST /api/v1/sessions\`, reloading its \`v0.m3u8\` every target duration as a player does; ${VIEWERS_SECS} s measured after every viewer's first playlist; fresh lineup per row, \`--max-sessions\` raised to fit):"
    echo
    "$ROOT/target/release/viewers" --markdown-header
    for n in $VIEWERS; do echo "${VIEW_ROW[$n]}"; done
    echo
  fi
  if [[ -n $SESSIONS || $REF == 1 ]]; then
    echo "| memory | lineup | reference (Node) | note |"
    echo "|---|---|---|---|"
    echo "| RSS baseline | $(mb "$LIN_RSS0") MB (fresh, 1 channel) | $(refc "$(mb "${REF_RSS0:-0}") MB (1 channel, after wrk, GC'd)") | |"
    for n in $SESSIONS; do
      if [[ -n "${LIN_RSS[$n]:-}" ]]; then
        echo "| RSS with $n sessions (lineup) | $(mb "${LIN_RSS[$n]}") MB = $(kb "$LIN_RSS0" "${LIN_RSS[$n]}" "$n") KB/session | n/a: per-viewer sessions answer 500 in 3.0.5 | ${LIN_SESS_NOTE[$n]} |"
      else
        echo "| RSS with $n sessions (lineup) | ${LIN_SESS_NOTE[$n]} | | |"
      fi
    done
    if [[ $REF == 1 ]]; then
      for n in $REF_CHANNELS; do
        echo "| RSS with $n channels (reference) | | $(mb "${REF_RSS[$n]}") MB = $(kb "$REF_RSS0" "${REF_RSS[$n]}" $((n - 1))) KB/channel (JS heap: $(kb "$REF_HEAP0" "${REF_HEAP[$n]}" $((n - 1))) KB/channel) | ${REF_CH_NOTE[$n]}; a reference channel = a Session (the class its viewer sessions use, minus their disabled playhead) + SessionLive + StreamSwitcher |"
      done
    fi
    last=""; for n in $SESSIONS; do [[ -n "${LIN_RSS[$n]:-}" ]] && last=$n; done
    if [[ -n "$last" ]]; then
      echo "| 100,000 sessions (lineup) | $( if [[ $last == 100000 ]]; then echo "measured: $(mb "${LIN_RSS[$last]}") MB"; else echo "extrapolated from $last: $(python3 -c "print(f'{($LIN_RSS0 + (${LIN_RSS[$last]}-$LIN_RSS0)*100000/$last)/1024:.0f}')") MB"; fi) | $(if [[ $REF == 1 ]]; then echo "extrapolated from per-channel cost: $(python3 -c "print(f'{($REF_RSS0 + (${REF_RSS[${REF_CHANNELS##* }]}-$REF_RSS0)*100000/(${REF_CHANNELS##* }-1))/1024/1024:.1f}')") GB"; fi) | target < 4 GB |"
    fi
    echo
    echo "Targets: >= 20x the reference's req/s; < 20 KB per session; 100,000 sessions < 4 GB."
    echo "Sessions: lineup's via \`POST /api/v1/sessions\`; each fetched its \`v0.m3u8\` once (all of the first 1,000, every 10th above) so it is active, not just created. RSS = VmRSS from /proc; KB/session = (RSS - baseline) / total sessions. The reference's per-viewer sessions answer 500 \"Session not ready\" in 3.0.5, so its cost is measured per channel (channels 2..N added through its channel manager, each channel's media playlist fetched, \`global.gc()\` before each reading)."
    echo
  fi
  echo "Machine: $(nproc) cores shared by wrk, the servers, the Python fixture server and other engineers' compiles; read the same-run ratios, not the absolute numbers."
  echo "Load (uptime): start: ${LOAD_START#*load average: } | before wrk: ${LOAD_WRK#*load average: } | end: ${LOAD_END#*load average: }"
  echo "Command: \`BENCH_REF=$REF BENCH_VIEWERS=\"$VIEWERS\" BENCH_SESSIONS=\"$SESSIONS\" bench/engine/run.sh\` (took $(( $(date +%s) - T0 )) s)"
} | tee "$OUT/engine.md"
