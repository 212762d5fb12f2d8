#!/usr/bin/env bash
# bench/ceiling/run.sh: how many small GETs per second this machine can serve over
# 127.0.0.1, and how much of that lineup's own code costs. One run, columns side by side:
#
#   nginx-static  nginx serving a 12-byte file (sendfile, no access log)
#   nginx-engine  nginx serving the engine's rendered media playlist bytes
#   hyper         a bare hyper http1 loop          (crates/web/examples/hello.rs)
#   axum          one axum route + axum::serve     (hello.rs)
#   web           one axum route + web::cors() + web::serve + web::runtime() (hello.rs)
#   <bin>:healthz        lineup engine GET /healthz
#   <bin>:engine         lineup engine GET /channels/bench/v0.m3u8 (fixture VODs)
#   <bin>:origin         lineup origin live media playlist (fixture TS pushed by Digest PUT)
#   <bin>:origin-seg     lineup origin one live segment
#
# for every lineup binary in LINEUP_BINS ("label=path ...", default "lineup=target/release/
# lineup"), so two builds can be compared in one run. Each round runs every column once,
# back to back (wrk -t2 -c100 -d${BENCH_DURATION}s --latency); BENCH_ROUNDS rounds
# (default 3) give a range. Besides req/s and p99 it reports the server's CPU time per
# request (user+system of the server processes / requests), which is steadier than req/s
# when other work shares the cores. Nothing asserts timings.
#
# Knobs: LINEUP_BINS, BENCH_DURATION (5), BENCH_ROUNDS (3), BENCH_CONNS (100),
# BENCH_ONLY (space-separated column names to run, default all), BENCH_NO_BUILD=1.
# Result: bench/out/ceiling.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT_DIR="$ROOT/bench/out"
OUT="$OUT_DIR/ceiling.md"
DUR=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
CONNS=${BENCH_CONNS:-100}
LINEUP_BINS=${LINEUP_BINS:-"lineup=$ROOT/target/release/lineup"}

say() { printf '[bench/ceiling %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf 'bench/ceiling: %s\n' "$*" >&2; exit 1; }
for tool in curl jq wrk python3; do command -v "$tool" >/dev/null || die "$tool not found"; done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $NGINX ]] || die "nginx not found (apt-get install -y nginx-light)"

mkdir -p "$OUT_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lineup-bench-ceiling.XXXXXX")
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

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
wait_http() { # URL SECONDS [PATTERN]: poll until URL answers 2xx (and its body matches)
    local url=$1 deadline=$((SECONDS + $2)) pat=${3:-}
    while ((SECONDS < deadline)); do
        if [[ -z $pat ]]; then
            curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        else
            curl -fsS "$url" 2>/dev/null | grep -q "$pat" && return 0
        fi
        sleep 0.2
    done
    return 1
}

# ------------------------------------------------------------------ build
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
    say "cargo build --release -p lineup; cargo build --release -p web --example hello"
    (cd "$ROOT" && cargo build --release -p lineup --quiet && cargo build --release -p web --example hello --quiet) ||
        die "release build failed"
fi
HELLO="$ROOT/target/release/examples/hello"
[[ -x $HELLO ]] || die "no $HELLO (cargo build --release -p web --example hello)"

# Each column: URL and the pids whose CPU counts as the server's.
declare -A URL SERVER
COLS=()
add_col() { COLS+=("$1"); URL[$1]=$2; SERVER[$1]=$3; }

# ------------------------------------------------------------------ fixture server (engine VODs)
FIX_PORT=$(free_port)
serve_fixtures "$FIX_PORT" "$ROOT/tests/fixtures" "$WORK/fixtures.log"
PIDS+=($!)
FIX="http://127.0.0.1:$FIX_PORT"
wait_http "$FIX/ts/vod1/360p/index.m3u8" 10 || die "fixture server did not start"
cat >"$WORK/channels.toml" <<EOF
[[channels]]
id = "bench"
title = "bench: fixture VODs round-robin"
vods = ["$FIX/ts/vod1/master.m3u8", "$FIX/ts/vod2/master.m3u8", "$FIX/ts/vod3/master.m3u8"]
EOF

# ------------------------------------------------------------------ nginx docroot
WWW="$WORK/nginx/www"
mkdir -p "$WWW" "$WORK/nginx/tmp" "$WORK/nginx/logs"
printf 'hello world\n' >"$WWW/hello.txt"

# ------------------------------------------------------------------ lineup servers
FIX_SEGS=("$ROOT"/tests/fixtures/ts/vod1/360p/seg*.ts)
for spec in $LINEUP_BINS; do
    label=${spec%%=*} bin=${spec#*=}
    [[ -x $bin ]] || die "no lineup binary at $bin"
    # engine
    port=$(free_port)
    RUST_LOG=warn "$bin" engine --listen "127.0.0.1:$port" --channels "$WORK/channels.toml" \
        --slate-url "$FIX/ts/slate/master.m3u8" >"$WORK/$label-engine.log" 2>&1 &
    epid=$!
    PIDS+=("$epid")
    base="http://127.0.0.1:$port"
    wait_http "$base/channels/bench/v0.m3u8" 30 '^#EXTINF' || die "$label engine: $(cat "$WORK/$label-engine.log")"
    curl -fsS -o "$WWW/engine-v0.m3u8" "$base/channels/bench/v0.m3u8"
    add_col "$label:healthz" "$base/healthz" "$epid"
    add_col "$label:engine" "$base/channels/bench/v0.m3u8" "$epid"
    # origin, fed like a MediaPackage encoder with the fixture segments cycled
    port=$(free_port)
    base="http://127.0.0.1:$port"
    RUST_LOG=warn "$bin" origin --listen "127.0.0.1:$port" --public-url "$base" \
        >"$WORK/$label-origin.log" 2>&1 &
    opid=$!
    PIDS+=("$opid")
    wait_http "$base/healthz" 30 || die "$label origin: $(cat "$WORK/$label-origin.log")"
    view=$(curl -fsS -X POST -H 'content-type: application/json' \
        -d '{"id":"bench","endpoints":[{"id":"live","manifest_window_seconds":60}]}' \
        "$base/api/v1/channels") || die "$label origin: channel creation failed"
    in_url=$(jq -r '.ingest[0].url' <<<"$view")
    auth="$(jq -r '.ingest[0].username' <<<"$view"):$(jq -r '.ingest[0].password' <<<"$view")"
    master_url=$(jq -r '.endpoints[0].url' <<<"$view")
    if [[ $in_url == */channel ]]; then stem=$in_url; else stem="$in_url/channel"; fi
    put() { curl -fsS -o /dev/null --digest -u "$auth" -T "$1" "$stem$2" || die "PUT $stem$2"; }
    printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=1200000,CODECS="avc1.64001e,mp4a.40.2",RESOLUTION=640x360\nchannel_1.m3u8\n' >"$WORK/channel.m3u8"
    put "$WORK/channel.m3u8" .m3u8
    pdt0=$(date -u -d '-70 sec' +%s)
    for ((i = 0; i < 30; i++)); do
        put "${FIX_SEGS[i % ${#FIX_SEGS[@]}]}" "_1_$i.ts"
        first=$((i + 1 > 10 ? i + 1 - 10 : 0))
        {
            printf '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%s\n' "$first"
            for ((j = first; j <= i; j++)); do
                printf '#EXT-X-PROGRAM-DATE-TIME:%s\n#EXTINF:2.000,\nchannel_1_%s.ts\n' \
                    "$(date -u -d "@$((pdt0 + 2 * j))" +%Y-%m-%dT%H:%M:%S.000Z)" "$j"
            done
        } >"$WORK/channel_1.m3u8"
        put "$WORK/channel_1.m3u8" _1.m3u8
    done
    variant=$(curl -fsS "$master_url" | awk '!/^#/ && NF {print; exit}')
    playlist="${master_url%/*}/$variant"
    segment=$(curl -fsS "$playlist" | awk '!/^#/ && NF {print; exit}')
    [[ -n $segment ]] || die "$label origin: empty live playlist"
    curl -fsS -o "$WWW/origin-live.m3u8" "$playlist"
    add_col "$label:origin" "$playlist" "$opid"
    add_col "$label:origin-seg" "${master_url%/*}/$segment" "$opid"
done

# ------------------------------------------------------------------ nginx
NPORT=$(free_port)
nginx_conf "$WORK/nginx" "$NPORT" "$WWW" '
        location ~ \.m3u8$ {
            add_header Cache-Control "public, max-age=1";
            add_header Access-Control-Allow-Origin "*";
        }'
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/logs/error.log" \
    >"$WORK/nginx/logs/stdout.log" 2>&1 &
NPID=$!
PIDS+=("$NPID")
wait_http "http://127.0.0.1:$NPORT/hello.txt" 10 || die "nginx did not start"
NGINX_PIDS="$NPID $(pgrep -P "$NPID" | tr '\n' ' ')"
HELLO_MODES=${BENCH_HELLO:-"hyper axum web"}
read -ra hello_cols <<<"$HELLO_MODES"
COLS=("nginx-static" "nginx-engine" "${hello_cols[@]}" "${COLS[@]}")
URL[nginx-static]="http://127.0.0.1:$NPORT/hello.txt"
URL[nginx-engine]="http://127.0.0.1:$NPORT/engine-v0.m3u8"
SERVER[nginx-static]=$NGINX_PIDS
SERVER[nginx-engine]=$NGINX_PIDS

# hello servers: started for their column only (they would idle otherwise anyway)
start_hello() { # mode -> HELLO_PID, URL[mode]
    local port
    port=$(free_port)
    "$HELLO" "$1" "127.0.0.1:$port" >"$WORK/hello-$1.log" 2>&1 &
    HELLO_PID=$!
    PIDS+=("$HELLO_PID")
    URL[$1]="http://127.0.0.1:$port/"
    SERVER[$1]=$HELLO_PID
    wait_http "${URL[$1]}" 10 || die "hello $1 did not start: $(cat "$WORK/hello-$1.log")"
}
for mode in $HELLO_MODES; do start_hello "$mode"; done

# ------------------------------------------------------------------ runs
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # pids... -> utime+stime ticks
    local t=0 p f
    for p in "$@"; do
        read -ra f <"/proc/$p/stat"
        t=$((t + f[13] + f[14]))
    done
    echo "$t"
}
to_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000;
        printf "%.2f", n }'
}
ONLY=${BENCH_ONLY:-}
declare -A RPS P99 CPU ERR
for ((r = 1; r <= ROUNDS; r++)); do
    for c in "${COLS[@]}"; do
        if [[ -n $ONLY && " $ONLY " != *" $c "* ]]; then continue; fi
        read -ra pids <<<"${SERVER[$c]}"
        log="$WORK/wrk-$c-$r.txt"
        t0=$(cpu_ticks "${pids[@]}")
        wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "${URL[$c]}" >"$log" 2>&1 || die "wrk: $(cat "$log")"
        t1=$(cpu_ticks "${pids[@]}")
        n=$(awk '/ requests in / {print $1}' "$log")
        rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$log")
        p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$log")")
        cpu=$(awk -v d=$((t1 - t0)) -v n="$n" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", d / hz * 1e6 / n }')
        RPS[$c]+="$rps " P99[$c]+="$p99 " CPU[$c]+="$cpu "
        e=$(grep -E 'Non-2xx|Socket errors' "$log" | tr -s ' ' | paste -sd';' - || true)
        [[ -n $e ]] && ERR[$c]+="$e "
        say "round $r $c: $rps req/s, p99 $p99 ms, $cpu µs CPU/req (load $(cut -d' ' -f1 /proc/loadavg))"
    done
done

# ------------------------------------------------------------------ report
range() { # "a b c" -> "min-max (median)"
    tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR]=$1} END {
        if (NR == 0) { print "-"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        if (NR == 1) printf "%s", v[1]; else printf "%s-%s (%s)", v[1], v[NR], m }'
}
{
    echo "# HTTP ceiling on this machine ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    echo "\`wrk -t2 -c$CONNS -d${DUR}s --latency\`, keep-alive, 127.0.0.1; $ROUNDS rounds, each running every"
    echo "column once back to back; cells are min-max (median) over the rounds. CPU/req = user+system"
    echo "time of the server's processes during the run / requests."
    echo
    echo "| column | what | req/s | p99 ms | server CPU µs/req |"
    echo "|---|---|---:|---:|---:|"
    for c in "${COLS[@]}"; do
        [[ -z ${RPS[$c]:-} ]] && continue
        case $c in
        nginx-static) what="nginx, 12-byte static file" ;;
        nginx-engine) what="nginx, the engine's media playlist bytes ($(stat -c %s "$WWW/engine-v0.m3u8") B)" ;;
        hyper) what="bare hyper http1 loop, 12-byte body" ;;
        axum) what="axum route + axum::serve, 12-byte body" ;;
        web) what="axum route + web::cors() + web::serve, 12-byte body" ;;
        percore) what="as web, one current-thread runtime + SO_REUSEPORT socket per core" ;;
        shared) what="as web, one current-thread runtime per core, one shared socket" ;;
        *:healthz) what="lineup engine /healthz" ;;
        *:engine) what="lineup engine media playlist" ;;
        *:origin) what="lineup origin live media playlist ($(stat -c %s "$WWW/origin-live.m3u8") B)" ;;
        *:origin-seg) what="lineup origin live segment ($(stat -c %s "${FIX_SEGS[0]}") B)" ;;
        esac
        printf '| %s | %s | %s | %s | %s |\n' "$c" "$what" "$(range "${RPS[$c]}")" \
            "$(range "${P99[$c]}")" "$(range "${CPU[$c]}")"
    done
    echo
    for c in "${COLS[@]}"; do [[ -n ${ERR[$c]:-} ]] && echo "- wrk $c: ${ERR[$c]}"; done
    echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')); wrk and the server share them."
    echo "- lineup binaries: $LINEUP_BINS"
    echo
    echo "Reproduce: \`bench/ceiling/run.sh\`"
} >"$OUT"
cat "$OUT"
