#!/bin/sh
# restify 8.6.1 assigns Request.prototype.closed, a getter-only property of Readable since
# Node 18, and crashes at load. Rename its private closed() method (defined in
# lib/request.js, called only from lib/chain.js). Idempotent.
set -e
for f in $(find node_modules -path '*restify/lib/request.js' -o -path '*restify/lib/chain.js'); do
  sed -i -e 's/Request\.prototype\.closed = /Request.prototype._lineupClosed = /' \
         -e 's/req\.closed()/req._lineupClosed()/g' "$f"
done
