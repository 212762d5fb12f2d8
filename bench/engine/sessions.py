#!/usr/bin/env python3
"""Create lineup engine sessions fast and fetch some of their media playlists.

    sessions.py --base http://127.0.0.1:PORT --channel ID --count N [--fetch-every K]
                [--rendition v0] [--conns 32] [--also-fetch BASE2]

POSTs N sessions (`POST /api/v1/sessions {"channel": ID}` -> 201 {id, ...}) over `--conns`
keep-alive connections and GETs `/sessions/<id>/<rendition>.m3u8` for every K-th session
(K=1: all), checking 200 and a playlist body, so a session counts as active, not merely
created. A session starts at its creation instant, so its very first playlist may have no
segment published yet: counted as `empty` (still a 200 playlist). Prints one JSON line:
{created, fetched, empty, failed, secs, first_error}.

Hand-written HTTP/1.1 on asyncio streams (stdlib only, no pip install): the server is ours,
answers with Content-Length, and we only need status + body. Anything else counts as failed.
"""

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


class Conn:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.r = self.w = None

    async def request(self, method, path, body=b""):
        for attempt in (0, 1):
            try:
                if self.w is None:
                    self.r, self.w = await asyncio.open_connection(self.host, self.port)
                head = (
                    f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                    f"Content-Length: {len(body)}\r\n"
                )
                if body:
                    head += "Content-Type: application/json\r\n"
                self.w.write(head.encode() + b"\r\n" + body)
                await self.w.drain()
                status_line = await self.r.readuntil(b"\r\n")
                status = int(status_line.split()[1])
                length, close = 0, False
                while True:
                    line = await self.r.readuntil(b"\r\n")
                    if line == b"\r\n":
                        break
                    k, _, v = line.decode("latin-1").partition(":")
                    k = k.strip().lower()
                    if k == "content-length":
                        length = int(v.strip())
                    elif k == "connection" and v.strip().lower() == "close":
                        close = True
                data = await self.r.readexactly(length) if length else b""
                if close:
                    self.close()
                return status, data
            except (OSError, asyncio.IncompleteReadError, ValueError):
                self.close()
                if attempt:
                    raise
        raise RuntimeError("unreachable")

    def close(self):
        if self.w is not None:
            self.w.close()
        self.r = self.w = None


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--channel", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--fetch-every", type=int, default=1)
    ap.add_argument("--rendition", default="v0")
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--also-fetch", default=None,
                    help="another replica's base URL: each fetched playlist is fetched there too")
    a = ap.parse_args()
    u = urlsplit(a.base)
    u2 = urlsplit(a.also_fetch) if a.also_fetch else None
    body = json.dumps({"channel": a.channel}).encode()
    stats = {"created": 0, "fetched": 0, "empty": 0, "failed": 0, "first_error": None}
    next_i = 0

    def fail(msg):
        stats["failed"] += 1
        if stats["first_error"] is None:
            stats["first_error"] = msg

    async def worker():
        nonlocal next_i
        c = Conn(u.hostname, u.port)
        c2 = Conn(u2.hostname, u2.port) if u2 else None
        while next_i < a.count:
            i = next_i
            next_i += 1
            try:
                st, data = await c.request("POST", "/api/v1/sessions", body)
                if st != 201:
                    fail(f"POST -> {st}: {data[:200]!r}")
                    continue
                stats["created"] += 1
                if a.fetch_every > 0 and i % a.fetch_every == 0:
                    sid = json.loads(data)["id"]
                    st, data = await c.request("GET", f"/sessions/{sid}/{a.rendition}.m3u8")
                    if st == 200 and data.startswith(b"#EXTM3U"):
                        stats["fetched"] += 1
                        if b"#EXTINF" not in data:
                            stats["empty"] += 1
                    else:
                        fail(f"GET session playlist -> {st}: {data[:200]!r}")
                    if c2 is not None:
                        st, data = await c2.request("GET", f"/sessions/{sid}/{a.rendition}.m3u8")
                        if st != 200 or not data.startswith(b"#EXTM3U"):
                            fail(f"GET session playlist on the other replica -> {st}: {data[:200]!r}")
            except Exception as e:  # noqa: BLE001 - counted and reported
                fail(f"{type(e).__name__}: {e}")
        c.close()
        if c2 is not None:
            c2.close()

    t0 = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(a.conns)))
    stats["secs"] = round(time.monotonic() - t0, 2)
    print(json.dumps(stats))
    return 0 if stats["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
