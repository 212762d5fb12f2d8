#!/usr/bin/env bash
# deploy/local.sh: the deployment of deploy/compose.yaml, started from local binaries on
# 127.0.0.1 only, then checked the way a viewer would check it.
#
#   PostgreSQL <- catalog (the VODs, a house ad, MRSS) and schedule (channel "tv" auto-filled
#                 from the catalog's feed, an AD event after every second programme)
#   Redis  <- two engine replicas (channel "news" from channels.toml and channel "tv" from
#             the schedule service; byte-identical from either)
#   moto (S3) <- two origin replicas (one bucket; channel created on A, played from B)
#   pullpush: engine A -> origin A ingest (Digest)
#   check: `lineup validate --follow` on origin B's master (every rendition, live rules),
#          and on engine B's "tv", which announces the schedule's programmes (DATERANGE)
#
# Exits 0 when the channel plays clean through the replica; everything it started is
# stopped on exit. Knobs: LINEUP_BIN (default: build target/debug/lineup), FOLLOW (30).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FOLLOW=${FOLLOW:-30}
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'deploy/local: %s\n' "$*" >&2; exit 1; }
for tool in redis-server moto_server python3 curl jq; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x "$PGBIN/initdb" && -x "$PGBIN/postgres" ]] || die "PostgreSQL not found (apt-get install postgresql)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lineup-deploy.XXXXXX")
PIDS=()
cleanup() {
    local rc=$?
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if ((rc != 0)); then
        for f in "$WORK"/*.log; do printf -- '--- %s\n' "$f" >&2; tail -5 "$f" >&2; done
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait_http() { # URL SECONDS
    local deadline=$((SECONDS + $2))
    until curl -fsS -o /dev/null "$1" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}
if [[ -n "${LINEUP_BIN:-}" ]]; then BIN=$LINEUP_BIN; else
    say "cargo build -p lineup"
    (cd "$ROOT" && cargo build -p lineup --quiet) || die "build failed"
    BIN="$ROOT/target/debug/lineup"
fi
TOKEN=deploy-token-$RANDOM$RANDOM
SECRET=deploy-secret-$RANDOM$RANDOM
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1

R=$(free_port); M=$(free_port); V=$(free_port)
say "redis :$R, moto :$M, VOD origin :$V"
redis-server --port "$R" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
moto_server -H 127.0.0.1 -p "$M" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
python3 -m http.server "$V" --bind 127.0.0.1 --directory "$ROOT/tests/fixtures" >"$WORK/vod.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$M/" 30 || die "moto did not start"
wait_http "http://127.0.0.1:$V/ts/vod1/master.m3u8" 10 || die "VOD server did not start"
python3 - "$M" <<'PY' || die "cannot create the bucket"
import sys, boto3
boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
             aws_access_key_id="test", aws_secret_access_key="test").create_bucket(Bucket="media")
PY

VOD="http://127.0.0.1:$V/ts"

# PostgreSQL (as the `postgres` user when root, like Debian's own service) for the catalog
# and the schedule service.
PGW="$WORK/pg"
mkdir -p "$PGW"
AS_PG=()
if [[ $(id -u) == 0 ]]; then
    chmod 711 "$WORK"
    chown -R postgres:postgres "$PGW"
    AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi
"${AS_PG[@]}" "$PGBIN/initdb" -U postgres --auth=trust -E UTF8 --no-sync -D "$PGW/data" \
    >"$WORK/initdb.log" 2>&1 || die "initdb failed"
PG=$(free_port)
say "postgres :$PG"
"${AS_PG[@]}" "$PGBIN/postgres" -D "$PGW/data" -h 127.0.0.1 -p "$PG" -k "$PGW" -c fsync=off \
    >"$WORK/postgres.log" 2>&1 &
PIDS+=($!)
deadline=$((SECONDS + 30))
until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG"; do
    ((SECONDS < deadline)) || die "postgres did not start"
    sleep 0.2
done
DB="postgres://postgres@127.0.0.1:$PG/postgres"
C=$(free_port); S=$(free_port)
say "catalog :$C, schedule :$S (PostgreSQL)"
"$BIN" catalog --listen "127.0.0.1:$C" --database-url "$DB" --api-token "$TOKEN" \
    >"$WORK/catalog.log" 2>&1 &
PIDS+=($!)
"$BIN" schedule --listen "127.0.0.1:$S" --database-url "$DB" --api-token "$TOKEN" \
    >"$WORK/schedule.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$C/healthz" 30 || die "catalog did not start"
wait_http "http://127.0.0.1:$S/healthz" 30 || die "schedule did not start"
json=(-H "authorization: Bearer $TOKEN" -H 'content-type: application/json')
for v in vod1 vod2 vod3; do
    curl -fsS "${json[@]}" -d "{\"url\":\"$VOD/$v/master.m3u8\",\"title\":\"Programme $v\"}" \
        "http://127.0.0.1:$C/api/v1/assets" >/dev/null || die "catalog import of $v"
done
curl -fsS "${json[@]}" -d "{\"url\":\"http://127.0.0.1:$V/ads/vod1/master.m3u8\",\"title\":\"House ad\",\"category\":\"ad\"}" \
    "http://127.0.0.1:$C/api/v1/assets" >/dev/null || die "catalog import of the house ad"
curl -fsS "${json[@]}" -d '{"id":"tv","title":"Scheduled TV"}' \
    "http://127.0.0.1:$S/api/v1/channels" >/dev/null || die "schedule channel"
curl -fsS "${json[@]}" -d "{\"url\":\"http://127.0.0.1:$C/mrss/all.xml\",\"channelId\":\"tv\",\"config\":{\"adEvents\":{\"every\":2,\"duration\":6}}}" \
    "http://127.0.0.1:$S/api/v1/auto/mrss" >/dev/null || die "schedule auto-fill from the catalog's MRSS"
cat >"$WORK/channels.toml" <<TOML
[[channels]]
id = "news"
title = "News loop"
vods = ["$VOD/vod1/master.m3u8", "$VOD/vod2/master.m3u8", "$VOD/vod3/master.m3u8"]
ad_every = 2
ad_duration_secs = 6
TOML

E1=$(free_port); E2=$(free_port)
for port in "$E1" "$E2"; do
    say "engine replica :$port (Redis)"
    "$BIN" engine --listen "127.0.0.1:$port" --channels "$WORK/channels.toml" \
        --redis-url "redis://127.0.0.1:$R" --slate-url "$VOD/slate/master.m3u8" \
        --schedule-url "http://127.0.0.1:$S" --catalog-url "http://127.0.0.1:$C" \
        --schedule-token "$TOKEN" \
        --api-token "$TOKEN" >"$WORK/engine-$port.log" 2>&1 &
    PIDS+=($!)
done
O1=$(free_port); O2=$(free_port)
for port in "$O1" "$O2"; do
    say "origin replica :$port (S3)"
    "$BIN" origin --listen "127.0.0.1:$port" --public-url "http://127.0.0.1:$port" \
        --store s3 --store-url s3://media/origin --s3-endpoint "http://127.0.0.1:$M" \
        --secret "$SECRET" --api-token "$TOKEN" --follow-interval-ms 500 \
        >"$WORK/origin-$port.log" 2>&1 &
    PIDS+=($!)
done
P=$(free_port)
say "pullpush :$P"
"$BIN" pullpush --listen "127.0.0.1:$P" --db "$WORK/pullpush.db" --api-token "$TOKEN" \
    >"$WORK/pullpush.log" 2>&1 &
PIDS+=($!)
for url in "http://127.0.0.1:$E1/healthz" "http://127.0.0.1:$E2/healthz" \
    "http://127.0.0.1:$O1/healthz" "http://127.0.0.1:$O2/healthz" "http://127.0.0.1:$P/healthz"; do
    wait_http "$url" 60 || die "$url did not come up"
done
ENGINE_MASTER="http://127.0.0.1:$E1/channels/news/master.m3u8"
wait_http "$ENGINE_MASTER" 30 || die "engine channel"
# Both engine replicas serve the same channel.
wait_http "http://127.0.0.1:$E2/channels/news/master.m3u8" 30 || die "engine replica B"
# ... and the schedule's channel, followed on replica B while the origin check runs.
TV_B="http://127.0.0.1:$E2/channels/tv/master.m3u8"
wait_http "$TV_B" 30 || die "engine replica B has no channel tv"
"$BIN" validate --follow "$FOLLOW" "$TV_B" >"$WORK/tv-validate.log" 2>&1 &
TV_CHECK=$!

auth=(-H "authorization: Bearer $TOKEN")
[[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$O1/api/v1/channels") == 401 ]] ||
    die "origin control API answered without a token"
VIEW=$(curl -fsS "${auth[@]}" -H 'content-type: application/json' \
    -d '{"id":"news","endpoints":[{"id":"live","startover_window_seconds":300}]}' \
    "http://127.0.0.1:$O1/api/v1/channels") || die "origin channel creation"
INGEST=$(jq -c '[.ingest[] | {url: (if (.url | endswith("/channel")) then .url else .url + "/channel" end), username, password}]' <<<"$VIEW")
curl -fsS "${auth[@]}" -H 'content-type: application/json' \
    -d "{\"name\":\"news\",\"url\":\"$ENGINE_MASTER\",\"output\":\"mediapackage\",\"payload\":{\"ingestUrls\":$INGEST}}" \
    "http://127.0.0.1:$P/api/v1/fetchers" >/dev/null || die "fetcher creation"

# Played through the other origin replica: it follows the bucket.
MASTER_B=$(jq -r '.endpoints[0].url' <<<"$VIEW" | sed "s/:$O1/:$O2/")
deadline=$((SECONDS + 90))
until grep -q '\.m3u8' <<<"$(curl -fsS "$MASTER_B" 2>/dev/null)"; do
    ((SECONDS < deadline)) || die "origin replica B never served $MASTER_B"
    sleep 0.5
done
say "lineup validate --follow $FOLLOW $MASTER_B"
"$BIN" validate --follow "$FOLLOW" "$MASTER_B" || die "the channel does not follow clean through origin replica B"
wait "$TV_CHECK" || { cat "$WORK/tv-validate.log" >&2; die "channel tv does not follow clean on engine B"; }
# Fetch, then grep: `curl | grep -q` under pipefail fails whenever grep stops reading
# before curl has written everything (curl: "(23) Failed writing body").
TV_MASTER=$(curl -fsS "$TV_B")
TV_MEDIA=$(grep -m1 -v '^#' <<<"$TV_MASTER")
TV_PLAYLIST=$(curl -fsS "http://127.0.0.1:$E1/channels/tv/$TV_MEDIA")
grep -q 'X-PROGRAMME-ID="tv-auto-' <<<"$TV_PLAYLIST" ||
    die "channel tv does not announce the schedule's programmes"
say "deployment OK: catalog + schedule (PostgreSQL) -> engine x2 (Redis) -> pullpush -> origin x2 (S3), played through the replica"
