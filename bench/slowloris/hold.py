#!/usr/bin/env python3
"""Hold N slowloris connections to HOST:PORT: each sends half a request head, then one more
header line every few seconds, and never finishes. A connection the server closes is
opened again, so N stay open. Prints `held N` once they are all open, then, every second,
`held <open> reopened <count>`. Stops after --seconds. 127.0.0.1 only."""
import argparse
import asyncio
import resource
import sys


async def one(host, port, stats, stop):
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        stats["open"] += 1
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            await writer.drain()
            while not stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(1), timeout=3)
                    if not data:
                        break  # closed by the server
                except asyncio.TimeoutError:
                    writer.write(b"X-a: b\r\n")
                    await writer.drain()
        except OSError:
            pass
        finally:
            stats["open"] -= 1
            writer.close()
        stats["reopened"] += 1


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--seconds", type=float, default=60)
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    stats = {"open": 0, "reopened": 0}
    stop = asyncio.Event()
    tasks = [asyncio.create_task(one("127.0.0.1", a.port, stats, stop)) for _ in range(a.n)]
    announced = False
    loop = asyncio.get_running_loop()
    end = loop.time() + a.seconds
    while loop.time() < end:
        await asyncio.sleep(1)
        if not announced and stats["open"] >= a.n:
            print(f"held {a.n}", flush=True)
            announced = True
        print(f"held {stats['open']} reopened {stats['reopened']}", file=sys.stderr, flush=True)
    stop.set()
    for t in tasks:
        t.cancel()


asyncio.run(main())
