#!/usr/bin/env bash
# lineup pullpush vs the reference @eyevinn/hls-pull-push 0.6.0, side by side, in one run:
# the same ffmpeg live source (served by nginx), the same Apache WebDAV+Digest ingest.
#
#   bench/pullpush/run.sh            # ~10 minutes; writes bench/out/pullpush.md (+ .json)
#
# Env: COUNTS=1,100,1000  WARMUP=30  SAMPLE=20  PROP_SECS=14 PROP_ROUNDS=5  HLS_TIME=2  SKIP=prop|scale
#      LINEUP_BIN=<path> (skip the cargo build)  KEEP_TMP=1 (keep logs and docroots)
# Needs: cargo, node 20 + npm (registry reachable for the first install), ffmpeg, nginx,
# apache2 with mod_dav/mod_auth_digest, python3. Binds 127.0.0.1 only.
# Measuring is in measure.py; this script starts and stops the peers.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/bench/out/pullpush.md"
HLS_TIME="${HLS_TIME:-2}"
TMP="$(mktemp -d /tmp/lineup-bench-pullpush.XXXXXX)"
PIDS=()

cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do
        # Every peer runs in its own process group (setsid): end the group by its id.
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    sleep 1
    for pid in "${PIDS[@]}"; do
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then
        echo "kept $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "[$(date +%H:%M:%S)] $*" >&2; }
need() { command -v "$1" >/dev/null || { echo "missing: $1" >&2; exit 1; }; }
for b in ffmpeg nginx apache2 node npm python3; do need "$b"; done
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
wait_for() { # wait_for <seconds> <description> <command...>
    local deadline=$((SECONDS + $1)) what=$2; shift 2
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS > deadline)); then echo "timed out waiting for $what" >&2; exit 1; fi
        sleep 0.2
    done
}
# start <name> <command...>: in its own process group, output to $TMP/<name>.log
start() {
    local name=$1; shift
    setsid "$@" >"$TMP/$name.log" 2>&1 &
    PIDS+=("$!")
}

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
say "load average at start: $LOAD_START"

# 1. Binaries: lineup (release) and the reference (npm, pinned by package-lock.json).
if [[ -z "${LINEUP_BIN:-}" ]]; then
    say "cargo build --release -p lineup"
    (cd "$ROOT" && cargo build --release -p lineup)
    LINEUP_BIN="$ROOT/target/release/lineup"
fi
REV="$(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet HEAD -- crates/pullpush || echo '+dirty')"
if [[ ! -d "$HERE/node_modules/@eyevinn/hls-pull-push" ]]; then
    say "npm ci (reference @eyevinn/hls-pull-push 0.6.0)"
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

# 2. Source: ffmpeg live HLS (as crates/testkit/src/ffmpeg.rs, two renditions), nginx.
SRC="$TMP/src"
mkdir -p "$SRC/hls" "$SRC/nginx"
GOP=$((25 * HLS_TIME))
start ffmpeg ffmpeg -nostdin -hide_banner -loglevel warning -re \
    -f lavfi -i testsrc2=s=640x360:r=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -filter_complex '[0:v]split=2[v0][v1s];[v1s]scale=320:180[v1]' \
    -map '[v0]' -map 1:a -map '[v1]' -map 1:a \
    -b:v:0 400k -b:v:1 150k -var_stream_map 'v:0,a:0 v:1,a:1' \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -g "$GOP" -keyint_min "$GOP" -sc_threshold 0 \
    -c:a aac -b:a 64k -ac 2 \
    -f hls -hls_time "$HLS_TIME" -hls_list_size 6 \
    -hls_flags delete_segments+independent_segments+temp_file -master_pl_name master.m3u8 \
    -hls_segment_filename "$SRC/hls/stream_%v/seg%05d.ts" "$SRC/hls/stream_%v/index.m3u8"
SRC_PORT="$(free_port)"
cat >"$SRC/nginx/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid $SRC/nginx/nginx.pid;
error_log $SRC/nginx/error.log warn;
$( [[ $(id -u) == 0 ]] && echo "user root;" )
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 100000;
    types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
    client_body_temp_path $SRC/nginx/body;
    proxy_temp_path $SRC/nginx/proxy;
    fastcgi_temp_path $SRC/nginx/fastcgi;
    uwsgi_temp_path $SRC/nginx/uwsgi;
    scgi_temp_path $SRC/nginx/scgi;
    server {
        listen 127.0.0.1:$SRC_PORT;
        root $SRC/hls;
        location ~ \.m3u8\$ { add_header Cache-Control no-cache; }
    }
}
EOF
start nginx nginx -c "$SRC/nginx/nginx.conf" -p "$SRC/nginx"
SRC_URL="http://127.0.0.1:$SRC_PORT/master.m3u8"
wait_for 30 "ffmpeg live playlists" bash -c \
    "grep -q EXTINF '$SRC/hls/stream_0/index.m3u8' && grep -q EXTINF '$SRC/hls/stream_1/index.m3u8'"
wait_for 10 "nginx" curl -sf "$SRC_URL"
say "source: $SRC_URL"

# 3. Apache WebDAV + Digest, rendered from crates/testkit/apache/httpd.conf.in the way
#    crates/testkit/src/apache.rs does.
DAV="$TMP/apache"
mkdir -p "$DAV/run" "$DAV/davlock" "$DAV/docroot"
DAV_PORT="$(free_port)"
DAV_USER=lineup DAV_PASSWORD=lineup-secret REALM=lineup-origin
USER_GROUP=""
if [[ $(id -u) == 0 ]]; then
    if getent passwd www-data >/dev/null && getent group www-data >/dev/null; then
        USER_GROUP=$'User www-data\nGroup www-data'
    else
        USER_GROUP=$'User nobody\nGroup nogroup'
    fi
    chmod 755 "$TMP" "$DAV"
    chmod 777 "$DAV/run" "$DAV/davlock" "$DAV/docroot"
fi
python3 - "$ROOT/crates/testkit/apache/httpd.conf.in" "$DAV/httpd.conf" <<EOF
import sys
t = open(sys.argv[1]).read()
for k, v in {"@ROOT@": "$DAV", "@DOCROOT@": "$DAV/docroot", "@PORT@": "$DAV_PORT",
             "@MODULES@": "/usr/lib/apache2/modules", "@REALM@": "$REALM",
             "@USER_GROUP@": """$USER_GROUP"""}.items():
    t = t.replace(k, v)
open(sys.argv[2], "w").write(t)
EOF
printf '%s:%s:%s\n' "$DAV_USER" "$REALM" \
    "$(printf '%s' "$DAV_USER:$REALM:$DAV_PASSWORD" | md5sum | cut -d' ' -f1)" >"$DAV/htdigest"
chmod 644 "$DAV/htdigest"
# Own process group: on SIGTERM, prefork signals its whole group.
start apache env -u APACHE_CONFDIR apache2 -f "$DAV/httpd.conf" -DFOREGROUND
wait_for 15 "apache2" curl -s -o /dev/null "http://127.0.0.1:$DAV_PORT/"
say "apache: http://127.0.0.1:$DAV_PORT/ (docroot $DAV/docroot)"

# 4. Measure.
python3 "$HERE/measure.py" \
    --lineup-bin "$LINEUP_BIN" --lineup-rev "$REV" --node-dir "$HERE" \
    --src-url "$SRC_URL" --src-dir "$SRC/hls" \
    --dav-url "http://127.0.0.1:$DAV_PORT/" --dav-root "$DAV/docroot" \
    --dav-user "$DAV_USER" --dav-password "$DAV_PASSWORD" \
    --tmp "$TMP" --out "$OUT" --hls-time "$HLS_TIME" --load-start "$LOAD_START" \
    --counts "${COUNTS:-1,100,1000}" --warmup "${WARMUP:-30}" --sample "${SAMPLE:-20}" \
    --prop-secs "${PROP_SECS:-14}" --prop-rounds "${PROP_ROUNDS:-5}" --skip "${SKIP:-}"
say "wrote $OUT"
