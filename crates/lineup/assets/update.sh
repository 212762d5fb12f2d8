#!/usr/bin/env bash
# Refresh the vendored players from npm: hls.js (dist/hls.min.js), Shaka Player
# (dist/shaka-player.compiled.js) and dash.js (dist/modern/umd/dash.all.min.js), with their
# licenses. Pin the versions here; the page reads nothing else from the network.
#
#   crates/lineup/assets/update.sh              # the versions pinned below
#   HLSJS=1.6.15 SHAKA=4.16.0 DASHJS=5.2.0 crates/lineup/assets/update.sh
#
# Then update the versions in assets/README.md and rebuild (the files are embedded).
set -euo pipefail
HLSJS="${HLSJS:-1.7.4}"
SHAKA="${SHAKA:-4.16.50}"
DASHJS="${DASHJS:-5.2.1}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent "hls.js@$HLSJS" "shaka-player@$SHAKA" "dashjs@$DASHJS" >/dev/null
mkdir hls shaka dashjs
tar xzf "hls.js-$HLSJS.tgz" -C hls package/dist/hls.min.js package/LICENSE
tar xzf "shaka-player-$SHAKA.tgz" -C shaka package/dist/shaka-player.compiled.js package/LICENSE
tar xzf "dashjs-$DASHJS.tgz" -C dashjs package/dist/modern/umd/dash.all.min.js \
  package/dist/modern/umd/dash.all.min.js.LICENSE.txt package/LICENSE.md
install -m 644 hls/package/dist/hls.min.js "$here/vendor/hls.min.js"
install -m 644 hls/package/LICENSE "$here/vendor/hls.js.LICENSE"
install -m 644 shaka/package/dist/shaka-player.compiled.js "$here/vendor/shaka-player.compiled.js"
install -m 644 shaka/package/LICENSE "$here/vendor/shaka-player.LICENSE"
install -m 644 dashjs/package/dist/modern/umd/dash.all.min.js "$here/vendor/dash.all.min.js"
install -m 644 dashjs/package/LICENSE.md "$here/vendor/dashjs.LICENSE"
# The notices of what dash.js bundles (buffer, codem-isoboxer, ieee754, ...).
install -m 644 dashjs/package/dist/modern/umd/dash.all.min.js.LICENSE.txt \
  "$here/vendor/dashjs-bundled.LICENSE"
printf 'hls.js %s\nshaka-player %s\ndashjs %s\n' "$HLSJS" "$SHAKA" "$DASHJS" > "$here/vendor/VERSIONS"
sha256sum "$here"/vendor/*.js
