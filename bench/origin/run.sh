#!/usr/bin/env bash
# bench/origin/run.sh: lineup's origin vs nginx serving the same bytes from disk.
#
# One run, one machine, 127.0.0.1 only:
#   1. build `lineup` (release) unless LINEUP_BIN points at a binary;
#   2. make 60 s of live-like HLS with ffmpeg (2 s segments, PROGRAM-DATE-TIME);
#   3. start `lineup origin`, create a channel, push the stream into it the way a
#      MediaPackage encoder does (Digest PUT: master, then per segment the .ts and the
#      sliding variant playlist);
#   4. save the origin's rendered live media playlist and one segment, as served, into an
#      nginx docroot under the same paths, and start nginx (own config, temp dir);
#   5. wrk -t2 -c50 -d10s --latency against both, for the live playlist, a start-over
#      playlist (`?start=`), a time-shifted playlist (`?start=&end=`) and a segment, with
#      the machine's load average before each run;
#   6. print a markdown table of same-run ratios (origin / nginx) and write it to
#      bench/out/origin.md.
# Everything it starts is stopped on exit. It never asserts timings.
#
# Knobs (environment): LINEUP_BIN (skip the build), BENCH_DURATION (default 10s),
# BENCH_CONNECTIONS (50), BENCH_THREADS (2), BENCH_SOURCE_SECONDS (60), BENCH_PERF=1
# (perf-record the origin during its runs; top symbols to bench/out/origin-perf-*.txt).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-50}
THREADS=${BENCH_THREADS:-2}
SOURCE_SECONDS=${BENCH_SOURCE_SECONDS:-60}
INGEST_WINDOW=10 # segments in the pushed variant playlist (sliding, like an encoder)
OUT_DIR="$ROOT/bench/out"
OUT="$OUT_DIR/origin.md"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/origin: %s\n' "$*" >&2; exit 1; }

for tool in curl jq wrk ffmpeg python3; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y curl jq wrk ffmpeg python3)"
done
NGINX=$(command -v nginx || true)
[[ -z "$NGINX" && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
if [[ -z "$NGINX" ]]; then
    say "nginx not found: apt-get install -y nginx-light"
    apt-get install -y nginx-light >/dev/null || die "cannot install nginx-light"
    NGINX=/usr/sbin/nginx
fi

mkdir -p "$OUT_DIR"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lineup-bench-origin.XXXXXX")
PIDS=()
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

# wait_http URL SECONDS: poll until URL answers 2xx.
wait_http() {
    local url=$1 deadline=$((SECONDS + $2))
    until curl -fsS -o /dev/null "$url" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# ---------------------------------------------------------------- 1. build
if [[ -n "${LINEUP_BIN:-}" ]]; then
    BIN=$LINEUP_BIN
else
    say "cargo build --release -p lineup"
    (cd "$ROOT" && cargo build --release -p lineup --quiet) || die "release build failed"
    BIN="$ROOT/target/release/lineup"
fi
[[ -x "$BIN" ]] || die "no lineup binary at $BIN"

# ---------------------------------------------------------------- 2. source stream
say "ffmpeg: ${SOURCE_SECONDS}s of 640x360 H.264/AAC, 2 s TS segments"
mkdir -p "$WORK/src"
ffmpeg -hide_banner -loglevel error -nostdin \
    -f lavfi -i "testsrc2=size=640x360:rate=25" \
    -f lavfi -i "sine=frequency=1000:sample_rate=48000" \
    -t "$SOURCE_SECONDS" \
    -c:v libx264 -preset veryfast -b:v 1000k -g 50 -keyint_min 50 -sc_threshold 0 \
    -c:a aac -b:a 96k \
    -f hls -hls_time 2 -hls_list_size 0 -hls_flags program_date_time \
    -hls_segment_filename "$WORK/src/seg_%d.ts" "$WORK/src/index.m3u8" ||
    die "ffmpeg failed"

# Read ffmpeg's playlist into parallel arrays: PDT, EXTINF line, file.
SRC_PDT=() SRC_INF=() SRC_FILE=()
TARGET=2
SEQ0=0
pdt=""
while IFS= read -r line; do
    line=${line%$'\r'}
    case "$line" in
    '#EXT-X-TARGETDURATION:'*) TARGET=${line#*:} ;;
    '#EXT-X-MEDIA-SEQUENCE:'*) SEQ0=${line#*:} ;;
    '#EXT-X-PROGRAM-DATE-TIME:'*) pdt=$line ;;
    '#EXTINF:'*) inf=$line ;;
    '#'* | '') ;;
    *)
        SRC_PDT+=("$pdt")
        SRC_INF+=("$inf")
        SRC_FILE+=("$line")
        pdt=""
        ;;
    esac
done <"$WORK/src/index.m3u8"
NSEG=${#SRC_FILE[@]}
((NSEG > 3)) || die "ffmpeg made only $NSEG segments"
SEGMENT_BYTES=$(stat -c %s "$WORK/src/${SRC_FILE[0]}")

# ---------------------------------------------------------------- 3. origin + ingest
OPORT=$(free_port)
OBASE="http://127.0.0.1:$OPORT"
say "lineup origin on $OBASE"
RUST_LOG=warn "$BIN" origin --listen "127.0.0.1:$OPORT" --public-url "$OBASE" \
    >"$WORK/origin.log" 2>&1 &
OPID=$!
PIDS+=("$OPID")
wait_http "$OBASE/healthz" 30 || die "origin did not start: $(cat "$WORK/origin.log")"
# The Prometheus recorder is installed on the first scrape: scrape once so the counters
# read after the runs cover them.
curl -fsS -o /dev/null "$OBASE/metrics" || true
metric() { # metric NAME -> value (0 when absent)
    curl -fsS "$OBASE/metrics" 2>/dev/null | awk -v m="$1" '$1 == m {v = $2} END {print v + 0}'
}

VIEW=$(curl -fsS -X POST -H 'content-type: application/json' \
    -d '{"id":"bench","endpoints":[{"id":"live","manifest_window_seconds":60}]}' \
    "$OBASE/api/v1/channels") || die "channel creation failed"
IN_URL=$(jq -r '.ingest[0].url' <<<"$VIEW")
IN_USER=$(jq -r '.ingest[0].username' <<<"$VIEW")
IN_PASS=$(jq -r '.ingest[0].password' <<<"$VIEW")
MASTER_URL=$(jq -r '.endpoints[0].url' <<<"$VIEW")

# The ingest URL names the file stem like MediaPackage's (`.../in/<ch>/1/channel`: PUT
# `<url>.m3u8`, `<url>_1.m3u8`, `<url>_1_<seq>.ts`); an older origin answered a folder.
if [[ $IN_URL == */channel ]]; then STEM=$IN_URL; else STEM="$IN_URL/channel"; fi
put() { # put FILE SUFFIX  (PUT FILE to <stem>SUFFIX)
    local code
    code=$(curl -sS -o /dev/null -w '%{http_code}' --digest -u "$IN_USER:$IN_PASS" \
        -T "$1" "$STEM$2")
    [[ $code == 201 ]] || die "PUT $STEM$2 answered $code"
}

say "ingest: $NSEG segments, Digest PUT, MediaPackage naming"
printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1200000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360\nchannel_1.m3u8\n' \
    >"$WORK/channel.m3u8"
put "$WORK/channel.m3u8" .m3u8
for ((i = 0; i < NSEG; i++)); do
    seq=$((SEQ0 + i))
    put "$WORK/src/${SRC_FILE[i]}" "_1_$seq.ts"
    first=$((i + 1 > INGEST_WINDOW ? i + 1 - INGEST_WINDOW : 0))
    {
        printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%s\n#EXT-X-MEDIA-SEQUENCE:%s\n' \
            "$TARGET" "$((SEQ0 + first))"
        for ((j = first; j <= i; j++)); do
            if [[ -n "${SRC_PDT[j]}" ]]; then printf '%s\n' "${SRC_PDT[j]}"; fi
            printf '%s\nchannel_1_%s.ts\n' "${SRC_INF[j]}" "$((SEQ0 + j))"
        done
    } >"$WORK/channel_1.m3u8"
    put "$WORK/channel_1.m3u8" _1.m3u8
done

# ---------------------------------------------------------------- 4. same bytes for nginx
MASTER=$(curl -fsS "$MASTER_URL") || die "master playlist: $MASTER_URL"
VARIANT=$(awk '!/^#/ && NF {print; exit}' <<<"$MASTER")
[[ -n "$VARIANT" ]] || die "no variant in the origin's master: $MASTER"
OUT_PREFIX=${MASTER_URL%/*}          # http://127.0.0.1:P/out/bench/live
URL_PATH=${OUT_PREFIX#"$OBASE"}       # /out/bench/live
PLAYLIST_URL="$OUT_PREFIX/$VARIANT"
WWW="$WORK/nginx/www"
mkdir -p "$WWW$URL_PATH"
curl -fsS -o "$WWW$URL_PATH/$VARIANT" "$PLAYLIST_URL" || die "live playlist: $PLAYLIST_URL"
PLAYLIST_SEGMENTS=$(grep -c '^#EXTINF' "$WWW$URL_PATH/$VARIANT")
SEGMENT=$(awk '!/^#/ && NF {print; exit}' "$WWW$URL_PATH/$VARIANT")
[[ $SEGMENT != *://* && $SEGMENT != /* ]] || die "expected a relative segment URI, got $SEGMENT"
SEGMENT_URL="$OUT_PREFIX/$SEGMENT"
mkdir -p "$(dirname "$WWW$URL_PATH/$SEGMENT")"
curl -fsS -o "$WWW$URL_PATH/$SEGMENT" "$SEGMENT_URL" || die "segment: $SEGMENT_URL"
# The origin must hand back exactly what was ingested.
seg_seq=$(basename "$SEGMENT")
seg_seq=${seg_seq%%.*}
cmp -s "$WWW$URL_PATH/$SEGMENT" "$WORK/src/${SRC_FILE[seg_seq - SEQ0]}" ||
    die "the origin served different bytes for segment $seg_seq"
# Time-shifted playlists: start-over from the 3rd segment (EVENT, to the live edge) and a
# closed span from the 3rd to the 20th (VOD). nginx ignores the query, so their bytes are
# saved under other names and nginx is asked for those.
pdt_of() { # index -> epoch seconds of that source segment's PROGRAM-DATE-TIME
    local t=${SRC_PDT[$1]#*:}
    date -u -d "${t/+0000/+00:00}" +%s.%3N
}
TS_FROM=$(pdt_of 2)
TS_TO=$(pdt_of $((NSEG > 20 ? 19 : NSEG - 2)))
STARTOVER_URL="$PLAYLIST_URL?start=$TS_FROM"
TIMESHIFT_URL="$PLAYLIST_URL?start=$TS_FROM&end=$TS_TO"
STARTOVER_FILE="${VARIANT%.m3u8}_startover.m3u8"
TIMESHIFT_FILE="${VARIANT%.m3u8}_timeshift.m3u8"
curl -fsS -o "$WWW$URL_PATH/$STARTOVER_FILE" "$STARTOVER_URL" || die "start-over playlist: $STARTOVER_URL"
curl -fsS -o "$WWW$URL_PATH/$TIMESHIFT_FILE" "$TIMESHIFT_URL" || die "time-shifted playlist: $TIMESHIFT_URL"
grep -q '^#EXT-X-ENDLIST' "$WWW$URL_PATH/$TIMESHIFT_FILE" || die "the time-shifted playlist is not closed: $(cat "$WWW$URL_PATH/$TIMESHIFT_FILE")"
STARTOVER_SEGMENTS=$(grep -c '^#EXTINF' "$WWW$URL_PATH/$STARTOVER_FILE")
TIMESHIFT_SEGMENTS=$(grep -c '^#EXTINF' "$WWW$URL_PATH/$TIMESHIFT_FILE")
PLAYLIST_BYTES=$(stat -c %s "$WWW$URL_PATH/$VARIANT")
SEGMENT_BYTES=$(stat -c %s "$WWW$URL_PATH/$SEGMENT")

NPORT=$(free_port)
NBASE="http://127.0.0.1:$NPORT"
# The same headers the origin sends, so both do the same header work.
nginx_conf "$WORK/nginx" "$NPORT" "$WWW" '
        location ~ \.m3u8$ {
            add_header Cache-Control "public, max-age=1";
            add_header Access-Control-Allow-Origin "*";
        }
        location ~ \.ts$ {
            add_header Cache-Control "public, max-age=31536000, immutable";
            add_header Access-Control-Allow-Origin "*";
        }'
say "nginx on $NBASE"
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" \
    >"$WORK/nginx/logs/stdout.log" 2>&1 &
NPID=$!
PIDS+=("$NPID")
wait_http "$NBASE$URL_PATH/$VARIANT" 10 ||
    die "nginx did not start: $(cat "$WORK/nginx/logs/error.log" 2>/dev/null)"
cmp -s <(curl -fsS "$NBASE$URL_PATH/$SEGMENT") "$WWW$URL_PATH/$SEGMENT" ||
    die "nginx serves different segment bytes"

# ---------------------------------------------------------------- 5. wrk
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
RSS_BEFORE=$(rss_kb "$OPID")
NGINX_WORKERS=$(pgrep -P "$NPID" | tr '\n' ' ')
[[ -n $NGINX_WORKERS ]] || die "no nginx workers under $NPID"
RENDERS_BEFORE=$(metric origin_live_playlists_rendered_total)
CLK_TCK=$(getconf CLK_TCK)
# cpu_ticks PID... -> user+system clock ticks of those processes (all their threads)
cpu_ticks() {
    local t=0 p f
    for p in "$@"; do
        read -ra f <"/proc/$p/stat"
        # fields 14 and 15 (utime, stime); the comm field has no spaces here
        t=$((t + f[13] + f[14]))
    done
    echo "$t"
}

# to_ms "1.23ms" / "456.78us" / "1.02s" / "2.00m" -> milliseconds
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.2f", n }'
}

declare -A RPS P99 NOTE CPU LOAD
bench() { # bench KEY URL
    local key=$1 url=$2 log="$WORK/wrk-$1.txt" pids t0 t1 n
    if [[ $key == *_origin ]]; then pids=("$OPID"); else read -ra pids <<<"$NGINX_WORKERS"; fi
    LOAD[$key]=$(cut -d' ' -f1 /proc/loadavg)
    say "wrk -t$THREADS -c$CONNS -d$DURATION --latency $url   (load ${LOAD[$key]})"
    t0=$(cpu_ticks "${pids[@]}")
    local perf_pid=""
    if [[ -n "${BENCH_PERF:-}" && $key == *_origin ]]; then
        perf record -q -F 999 -p "$OPID" -o "$WORK/perf-$key.data" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$url" >"$log" 2>&1 ||
        die "wrk failed: $(cat "$log")"
    if [[ -n $perf_pid ]]; then
        kill -INT "$perf_pid" && wait "$perf_pid" || true
        perf report -i "$WORK/perf-$key.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
            grep -v -e '^#' -e '^$' | sed -e 's/  *- *- *$//' -e 's/ *$//' | head -40 \
                >"$OUT_DIR/origin-perf-$key.txt" || true
        say "perf profile: $OUT_DIR/origin-perf-$key.txt"
    fi
    t1=$(cpu_ticks "${pids[@]}")
    cat "$log" >&2
    n=$(awk '/ requests in / {print $1}' "$log")
    CPU[$key]=$(awk -v d=$((t1 - t0)) -v n="$n" -v hz="$CLK_TCK" \
        'BEGIN { if (n > 0) printf "%.1f", d / hz * 1e6 / n; else print "n/a" }')
    RPS[$key]=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$log")
    P99[$key]=$(to_ms "$(awk '$1 == "99%" {print $2}' "$log")")
    NOTE[$key]=$(grep -E 'Non-2xx|Socket errors' "$log" | tr -s ' ' | paste -sd';' - || true)
}
bench pl_origin "$PLAYLIST_URL"
bench pl_nginx "$NBASE$URL_PATH/$VARIANT"
bench so_origin "$STARTOVER_URL"
bench so_nginx "$NBASE$URL_PATH/$STARTOVER_FILE"
bench ts_origin "$TIMESHIFT_URL"
bench ts_nginx "$NBASE$URL_PATH/$TIMESHIFT_FILE"
bench seg_origin "$SEGMENT_URL"
bench seg_nginx "$NBASE$URL_PATH/$SEGMENT"
RSS_AFTER=$(rss_kb "$OPID")
RENDERS=$(($(metric origin_live_playlists_rendered_total) - RENDERS_BEFORE))

# ---------------------------------------------------------------- 6. report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
row() { # row LABEL KEY_ORIGIN KEY_NGINX
    printf '| %s | %s | %s | %s | %s ms | %s ms |\n' "$1" "${RPS[$2]}" "${RPS[$3]}" \
        "$(ratio "${RPS[$2]}" "${RPS[$3]}")" "${P99[$2]}" "${P99[$3]}"
}
mkdir -p "$OUT_DIR"
{
    echo "# lineup origin vs nginx ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "\`wrk -t$THREADS -c$CONNS -d$DURATION --latency\`, keep-alive, 127.0.0.1. Both servers serve the same"
    echo "bytes under the same path: the origin's live media playlist ($PLAYLIST_BYTES bytes, $PLAYLIST_SEGMENTS"
    echo "segments, rendered from a ${SOURCE_SECONDS} s Digest-PUT ingest) and one segment ($SEGMENT_BYTES bytes)."
    echo
    echo "| what | lineup origin req/s | nginx req/s | ratio | lineup p99 | nginx p99 |"
    echo "|---|---:|---:|---:|---:|---:|"
    row "live media playlist (\`$URL_PATH/$VARIANT\`, $PLAYLIST_SEGMENTS segments, $PLAYLIST_BYTES B)" pl_origin pl_nginx
    row "start-over playlist (\`?start=\`, EVENT, $STARTOVER_SEGMENTS segments)" so_origin so_nginx
    row "time-shifted playlist (\`?start=&end=\`, VOD, $TIMESHIFT_SEGMENTS segments)" ts_origin ts_nginx
    row "segment (\`$URL_PATH/$SEGMENT\`, $SEGMENT_BYTES B)" seg_origin seg_nginx
    echo
    echo "Server CPU per request (user+system time of the server's processes during the run /"
    echo "requests; less sensitive than req/s to whatever else runs on the machine):"
    echo
    echo "| what | lineup origin µs/req | nginx µs/req | load avg at start (origin, nginx) |"
    echo "|---|---:|---:|---|"
    printf '| live media playlist | %s | %s | %s, %s |\n' "${CPU[pl_origin]}" "${CPU[pl_nginx]}" \
        "${LOAD[pl_origin]}" "${LOAD[pl_nginx]}"
    printf '| start-over playlist | %s | %s | %s, %s |\n' "${CPU[so_origin]}" "${CPU[so_nginx]}" \
        "${LOAD[so_origin]}" "${LOAD[so_nginx]}"
    printf '| time-shifted playlist | %s | %s | %s, %s |\n' "${CPU[ts_origin]}" "${CPU[ts_nginx]}" \
        "${LOAD[ts_origin]}" "${LOAD[ts_nginx]}"
    printf '| segment | %s | %s | %s, %s |\n' "${CPU[seg_origin]}" "${CPU[seg_nginx]}" \
        "${LOAD[seg_origin]}" "${LOAD[seg_nginx]}"
    echo
    echo "- ratio = lineup / nginx req/s (>= 1 meets the target)."
    echo "- live playlist renders by the origin during the runs: $RENDERS (0 = every request was"
    echo "  served from the rendered-once cache; from the origin's /metrics)."
    echo "- lineup origin RSS: $((RSS_BEFORE / 1024)) MiB after ingest, $((RSS_AFTER / 1024)) MiB after the runs (VmRSS)."
    echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')."
    echo "  wrk and the server under test share these cores (nginx: worker_processes auto ="
    echo "  $(nproc) workers; lineup: tokio multi-thread runtime), so absolute numbers are low"
    echo "  and the ratio is what to read. Other work on the machine skews both; rerun to compare."
    echo "- $("$NGINX" -v 2>&1), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2), lineup $("$BIN" --version 2>/dev/null | cut -d' ' -f2)."
    echo "- machine load (1/5/15 min) at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    for k in pl_origin pl_nginx so_origin so_nginx ts_origin ts_nginx seg_origin seg_nginx; do
        if [[ -n "${NOTE[$k]}" ]]; then echo "- wrk $k: ${NOTE[$k]}"; fi
    done
    echo
    echo "Reproduce: \`bench/origin/run.sh\`"
} >"$OUT"
echo
cat "$OUT"
