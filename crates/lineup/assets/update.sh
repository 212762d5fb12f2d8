#!/usr/bin/env bash
# Refresh the vendored players from npm: hls.js (dist/hls.min.js) and Shaka Player
# (dist/shaka-player.compiled.js), with their licenses. Pin the versions here; the page
# reads nothing else from the network.
#
#   crates/lineup/assets/update.sh              # the versions pinned below
#   HLSJS=1.6.15 SHAKA=4.16.0 crates/lineup/assets/update.sh
#
# Then update the versions in assets/README.md and rebuild (the files are embedded).
set -euo pipefail
HLSJS="${HLSJS:-1.7.4}"
SHAKA="${SHAKA:-4.16.50}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "hls.js@$HLSJS" "shaka-player@$SHAKA" >/dev/null
mkdir hls shaka
tar xzf "hls.js-$HLSJS.tgz" -C hls package/dist/hls.min.js package/LICENSE
tar xzf "shaka-player-$SHAKA.tgz" -C shaka package/dist/shaka-player.compiled.js package/LICENSE
install -m 644 hls/package/dist/hls.min.js "$here/vendor/hls.min.js"
install -m 644 hls/package/LICENSE "$here/vendor/hls.js.LICENSE"
install -m 644 shaka/package/dist/shaka-player.compiled.js "$here/vendor/shaka-player.compiled.js"
install -m 644 shaka/package/LICENSE "$here/vendor/shaka-player.LICENSE"
printf 'hls.js %s\nshaka-player %s\n' "$HLSJS" "$SHAKA" > "$here/vendor/VERSIONS"
sha256sum "$here"/vendor/*.js
