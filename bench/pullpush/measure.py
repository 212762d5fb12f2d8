#!/usr/bin/env python3
"""The measuring half of bench/pullpush/run.sh (run.sh starts the peers and calls this).

Phases, all against the same ffmpeg live source (served by nginx) and the same Apache:

1. propagation: one lineup `mediapackage` fetcher and one reference `mediapackage` fetcher run
   at the same time, each PUTting with Digest auth into its own Apache folder. Every 50 ms we
   read the source media playlists and both destination media playlists from disk and hash
   the segments they list (sha1 of the file bytes: both implementations copy segments
   unchanged and rename them, so the hash is the identity). For each segment first listed at
   the source after the warm-up: delay = t(listed at destination) - t(listed at source).
   A fetcher's polling locks onto one phase of the segment cadence, so one run of one
   fetcher measures one phase: we do several rounds with fresh fetchers started at random
   phases (--prop-rounds). The CPU and RSS of both processes are taken over all rounds (the
   like-with-like 1-fetcher comparison).
2. scale: for N in 1, 100, 1000 (alternating lineup / reference so load drift hits both),
   start a fresh process, create N `void` fetchers through its REST API, wait WARMUP s,
   then take CPU (utime+stime from /proc/<pid>/stat over SAMPLE s, % of one core) and
   RSS (VmRSS at the end, VmHWM peak). lineup's `void` downloads every segment; the
   reference's `void` fetches playlists only (never the segments).

Nothing asserts timings; the result is a markdown table on stdout and in --out.
"""

import argparse
import concurrent.futures as cf
import hashlib
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_http(url, proc, deadline_s=30):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            http("GET", url, timeout=2)
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {deadline_s}s")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def mem_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = int(v.split()[0])
    return out


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def machine_cpu():
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


class Impl:
    """One pull/push process (lineup or the reference) with its REST API."""

    def __init__(self, kind, args, output, tmp, tag):
        self.kind, self.args, self.output = kind, args, output
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.logpath = os.path.join(tmp, f"{tag}.log")
        self.log = open(self.logpath, "w")
        env = dict(os.environ)
        if kind == "lineup":
            db = os.path.join(tmp, f"{tag}.db")
            env["RUST_LOG"] = "warn"
            cmd = [args.lineup_bin, "pullpush", "--listen", f"127.0.0.1:{self.port}", "--db", db]
        else:
            cmd = ["node", os.path.join(args.node_dir, "ref.js"), output, str(self.port)]
            env["NODE_ENV"] = "production"
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     cwd=args.node_dir if kind != "lineup" else None)
        wait_http(self.base + ("/healthz" if kind == "lineup" else "/"), self.proc)

    @property
    def pid(self):
        return self.proc.pid

    def create(self, name, url, payload):
        if self.kind == "lineup":
            body = {"name": name, "url": url, "output": self.output, "payload": payload}
            st, out = http("POST", self.base + "/api/v1/fetchers", body)
            ok = st == 201
        else:
            body = {"name": name, "url": url, "output": self.output, "payload": payload}
            st, out = http("POST", self.base + "/api/v1/fetcher", body)
            ok = st == 200
        if not ok:
            raise RuntimeError(f"{self.kind}: create fetcher -> {st} {out[:300]!r}")
        j = json.loads(out)
        return j["id"] if self.kind == "lineup" else j["fetcherId"]

    def delete(self, fid):
        path = "/api/v1/fetchers/" if self.kind == "lineup" else "/api/v1/fetcher/"
        http("DELETE", self.base + path + fid)

    def status(self):
        """(fetchers listed, running/healthy, a sample error)"""
        if self.kind == "lineup":
            st, out = http("GET", self.base + "/api/v1/fetchers", timeout=60)
            fs = json.loads(out)
            running = sum(1 for f in fs if f["state"] == "running")
            errs = [f["last_error"] for f in fs if f.get("last_error")]
            pushed = sum(f["segments_pushed"] for f in fs)
            return len(fs), running, (errs[0] if errs else None), pushed
        st, out = http("GET", self.base + "/api/v1/fetcher", timeout=60)
        fs = json.loads(out)
        return len(fs), len(fs), None, None

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def sample(procs, secs):
    """CPU % of one core per process over `secs`, plus RSS; also machine busy %."""
    t0 = time.monotonic()
    c0 = {p: cpu_ticks(p) for p in procs}
    m0 = machine_cpu()
    time.sleep(secs)
    dt = time.monotonic() - t0
    m1 = machine_cpu()
    out = {}
    for p in procs:
        out[p] = {"cpu": 100.0 * (cpu_ticks(p) - c0[p]) / CLK_TCK / dt, **mem_kb(p)}
    busy = 100.0 * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]) * os.cpu_count()
    return out, busy


# ---------------------------------------------------------------- propagation

URI_RE = re.compile(r"^[^#\s].*$", re.M)


def listed(playlist_path):
    try:
        with open(playlist_path) as f:
            text = f.read()
    except OSError:
        return None
    if "#EXT-X-STREAM-INF" in text or "#EXTINF" not in text:
        return None
    return [u.strip() for u in URI_RE.findall(text)]


def sha1(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha1(f.read()).hexdigest()
    except OSError:
        return None


def propagation(args, tmp, results):
    log(f"propagation: lineup and reference, mediapackage -> Apache (Digest), 1 fetcher each, "
        f"{args.prop_rounds} rounds")
    impls = {
        "lineup": Impl("lineup", args, "mediapackage", tmp, "prop-lineup"),
        "ref": Impl("ref", args, "mediapackage", tmp, "prop-ref"),
    }
    src_lists = [os.path.join(args.src_dir, f"stream_{i}", "index.m3u8") for i in range(2)]
    src_seen = {}  # segment hash -> t first listed at the source
    src_uri_seen = set()
    all_delays = {k: [] for k in impls}
    per_round = {k: [] for k in impls}
    missing = {k: 0 for k in impls}
    pids = [impls["lineup"].pid, impls["ref"].pid]
    c0 = t0 = None
    try:
        for r in range(args.prop_rounds):
            ids = {}
            for name, impl in impls.items():
                folder = os.path.join(args.dav_root, f"{name}{r}")
                os.makedirs(folder, exist_ok=True)
                os.chmod(folder, 0o777)
                ingest = {"url": f"{args.dav_url}{name}{r}/channel", "username": args.dav_user,
                          "password": args.dav_password}
                ids[name] = impl.create(f"prop-{name}-{r}", args.src_url,
                                        {"ingestUrls": [ingest]})
            t_created = time.monotonic()
            # Only segments that first appear at the source after the warm-up count (not
            # the backlog a new fetcher pushes at start).
            counted_from = t_created + args.prop_warmup
            end = counted_from + args.prop_secs
            dest_seen = {k: {} for k in impls}
            dest_uri_done = {k: set() for k in impls}
            tries = {}
            while time.monotonic() < end + args.prop_tail:
                now = time.monotonic()
                if c0 is None and now >= counted_from:
                    c0, t0 = {p: cpu_ticks(p) for p in pids}, now
                for pl in src_lists:
                    for u in listed(pl) or []:
                        p = os.path.join(os.path.dirname(pl), u)
                        if p in src_uri_seen:
                            continue
                        h = sha1(p)
                        if h is None:
                            continue
                        src_uri_seen.add(p)
                        src_seen.setdefault(h, now)
                for name in impls:
                    folder = os.path.join(args.dav_root, f"{name}{r}")
                    for fn in os.listdir(folder):
                        if not fn.endswith(".m3u8"):
                            continue
                        for u in listed(os.path.join(folder, fn)) or []:
                            p = os.path.join(folder, u.split("?")[0])
                            if p in dest_uri_done[name]:
                                continue
                            h = sha1(p)
                            if h is None or h not in src_seen:
                                # Not there yet, still being written, or listed at the
                                # source before we started polling: retry for a while.
                                tries[p] = tries.get(p, 0) + 1
                                if tries[p] > 40:
                                    dest_uri_done[name].add(p)
                                continue
                            dest_uri_done[name].add(p)
                            dest_seen[name].setdefault(h, now)
                time.sleep(max(0.0, 0.05 - (time.monotonic() - now)))
            counted = {h: t for h, t in src_seen.items() if counted_from <= t < end}
            for name, impl in impls.items():
                d = sorted(dest_seen[name][h] - t for h, t in counted.items()
                           if h in dest_seen[name])
                missing[name] += sum(1 for h in counted if h not in dest_seen[name])
                all_delays[name] += d
                per_round[name].append(pct(d, 50))
                impl.delete(ids[name])
            log("  round %d: median lineup %s, reference %s" % (
                r + 1, fmt_s(per_round["lineup"][-1]), fmt_s(per_round["ref"][-1])))
            # Start the next round at another phase of the segment cadence.
            if r + 1 < args.prop_rounds:
                time.sleep(random.uniform(0, args.hls_time))
        dt = time.monotonic() - t0
        for name, impl in impls.items():
            delays = sorted(all_delays[name])
            m = mem_kb(impl.pid)
            cpu = 100.0 * (cpu_ticks(impl.pid) - c0[impl.pid]) / CLK_TCK / dt
            results.setdefault("prop", {})[name] = {
                "n": len(delays), "missing": missing[name], "delays": delays,
                "p50": pct(delays, 50), "p95": pct(delays, 95), "max": max(delays, default=None),
                "rounds": per_round[name], "cpu": cpu, "rss": m["VmRSS"], "hwm": m["VmHWM"],
                "alive": impl.alive(),
            }
            log(f"  {name}: {len(delays)} segments, {missing[name]} not at destination, "
                f"p50 {fmt_s(pct(delays, 50))} p95 {fmt_s(pct(delays, 95))}, "
                f"cpu {cpu:.1f}%, rss {m['VmRSS'] / 1024:.1f} MiB")
    finally:
        for impl in impls.values():
            impl.stop()


def pct(xs, p):
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[p - 1]


def fmt_s(x):
    return "n/a" if x is None else f"{x:.2f} s"


# ---------------------------------------------------------------- scale

def scale(args, tmp, results):
    for n in args.counts:
        for kind in ("lineup", "ref"):
            tag = f"scale-{kind}-{n}"
            log(f"scale: {kind} with {n} void fetcher(s)")
            row = {"n": n, "kind": kind}
            results.setdefault("scale", []).append(row)
            try:
                impl = Impl(kind, args, "void", tmp, tag)
            except Exception as e:  # noqa: BLE001 - record and go on
                row["error"] = f"did not start: {e}"
                log(f"  {row['error']}")
                continue
            try:
                rss0 = mem_kb(impl.pid)["VmRSS"]
                t0 = time.monotonic()
                with cf.ThreadPoolExecutor(8) as ex:
                    futs = [ex.submit(impl.create, f"f{i}", args.src_url, {}) for i in range(n)]
                    errs = [f.exception() for f in futs if f.exception()]
                row["create_s"] = time.monotonic() - t0
                if errs:
                    row["error"] = f"{len(errs)} creations failed: {errs[0]}"
                    log(f"  {row['error']}")
                time.sleep(args.warmup)
                if not impl.alive():
                    row["error"] = f"process exited ({impl.proc.returncode}); see {impl.logpath}"
                    log(f"  {row['error']}")
                    continue
                usage, busy = sample([impl.pid], args.sample)
                u = usage[impl.pid]
                if not impl.alive():
                    row["error"] = f"process exited while sampled; see {impl.logpath}"
                    continue
                fds = len(os.listdir(f"/proc/{impl.pid}/fd"))
                listed_n, running, err, pushed = impl.status()
                row.update(cpu=u["cpu"], rss=u["VmRSS"], hwm=u["VmHWM"], rss0=rss0,
                           threads=u["Threads"], fds=fds, busy=busy, listed=listed_n, running=running,
                           sample_error=err, pushed=pushed, load=load1())
                log(f"  cpu {u['cpu']:.1f}% of a core, rss {u['VmRSS'] / 1024:.1f} MiB "
                    f"(peak {u['VmHWM'] / 1024:.1f}), {running}/{listed_n} running, "
                    f"machine busy {busy:.0f}%, error sample: {err}")
            finally:
                impl.stop()


# ---------------------------------------------------------------- report

def mib(kb):
    return f"{kb / 1024:.1f} MiB"


def report(args, results):
    L = []
    L.append("# pullpush: lineup vs @eyevinn/hls-pull-push 0.6.0\n")
    L.append(f"Run {time.strftime('%Y-%m-%d %H:%M:%S %Z')} by `bench/pullpush/run.sh` "
             f"(lineup `{args.lineup_rev}`). Machine: {os.cpu_count()} cores shared by the "
             "ffmpeg source, nginx, Apache, both pull/push processes and the measurer "
             f"(and other work on this host). Load average at start {args.load_start}, "
             f"at end {load1():.2f}.\n")
    L.append(f"Source: ffmpeg `-re` live HLS, 2 renditions (640x360 400 kb/s, 320x180 "
             f"150 kb/s, + AAC 64 kb/s each), MPEG-TS, {args.hls_time} s segments, "
             "list size 6, delete_segments, served by nginx on 127.0.0.1.\n")
    p = results.get("prop", {})
    L.append("## Propagation (segment listed at source -> listed at destination)\n")
    L.append(f"One fetcher each, both at the same time, `mediapackage` output: HTTP PUT with "
             f"Digest auth to Apache mod_dav (crates/testkit/apache/httpd.conf.in). "
             f"{args.prop_rounds} rounds, each with fresh fetchers started at a random phase "
             f"of the segment cadence (a fetcher's polling locks onto one phase, so one "
             f"round measures one phase): segments first listed at the source during "
             f"{args.prop_secs:g} s after a {args.prop_warmup:g} s warm-up. Source and "
             "destination playlists are read from disk every 50 ms; segments are matched by "
             "content hash. CPU/RSS: over all rounds.\n")
    L.append("| | lineup | hls-pull-push 0.6.0 |")
    L.append("|---|---|---|")
    if p:
        def cell(k, f):
            return [f(p[i][k]) if p.get(i) and p[i].get(k) is not None else "n/a"
                    for i in ("lineup", "ref")]
        for label, k, f in [
            ("segments measured", "n", str),
            ("segments never listed at destination", "missing", str),
            ("propagation p50", "p50", fmt_s),
            ("propagation p95", "p95", fmt_s),
            ("propagation max", "max", fmt_s),
            ("median per round", "rounds", lambda v: ", ".join(fmt_s(x) for x in v)),
            ("CPU (% of one core), 1 fetcher, mediapackage", "cpu", lambda v: f"{v:.1f}%"),
            ("RSS, 1 fetcher, mediapackage", "rss", mib),
        ]:
            a, b = cell(k, f)
            L.append(f"| {label} | {a} | {b} |")
    else:
        L.append("| (propagation phase failed) | | |")
    L.append("")
    L.append("## Scale (`void` output; fresh process per row)\n")
    L.append(f"N fetchers on the same source URL, created through each one's REST API; "
             f"{args.warmup} s warm-up, then CPU over {args.sample} s (utime+stime from "
             "/proc, % of ONE core) and RSS (VmRSS; peak = VmHWM). **Not like with like:** "
             "lineup's `void` downloads every segment and drops the bytes; the reference's "
             "`void` only fetches playlists (it never downloads a segment). The 1-fetcher "
             "`mediapackage` rows above are the like-with-like comparison.\n")
    L.append("| fetchers | lineup CPU | lineup RSS (peak) | lineup RSS/fetcher | "
             "ref CPU | ref RSS (peak) | ref RSS/fetcher | machine busy (lineup / ref) |")
    L.append("|---|---|---|---|---|---|---|---|")
    rows = {(r["kind"], r["n"]): r for r in results.get("scale", [])}
    notes = []
    for n in args.counts:
        cells = []
        busy = []
        for kind in ("lineup", "ref"):
            r = rows.get((kind, n), {})
            if "cpu" not in r:
                cells += [f"failed: {r.get('error', 'not run')}", "", ""]
                busy.append("-")
                continue
            cells += [f"{r['cpu']:.1f}%", f"{mib(r['rss'])} ({mib(r['hwm'])})",
                      f"{r['rss'] / n / 1024:.2f} MiB"]
            busy.append(f"{r['busy']:.0f}%")
            if r.get("error"):
                notes.append(f"{kind} N={n}: {r['error']}")
            if r["running"] != n or r["listed"] != n:
                notes.append(f"{kind} N={n}: {r['running']} of {n} running, {r['listed']} "
                             f"listed; sample error: {r.get('sample_error')}")
            elif r.get("sample_error"):
                notes.append(f"{kind} N={n}: some fetcher reported: {r['sample_error']}")
        L.append(f"| {n} | " + " | ".join(cells) + f" | {' / '.join(busy)} |")
    # Marginal memory per fetcher.
    marg = []
    for kind, label in (("lineup", "lineup"), ("ref", "reference")):
        a, b = rows.get((kind, 1), {}), rows.get((kind, max(args.counts)), {})
        if "rss" in a and "rss" in b and max(args.counts) > 1:
            marg.append(f"{label} {(b['rss'] - a['rss']) / (max(args.counts) - 1):.0f} KiB")
    L.append("")
    if marg:
        L.append(f"Marginal RSS per fetcher (N=1 -> N={max(args.counts)}): "
                 + ", ".join(marg) + ".\n")
    for kind in ("lineup", "ref"):
        for n in args.counts:
            r = rows.get((kind, n), {})
            if "create_s" in r:
                notes.append(f"{kind} N={n}: created in {r['create_s']:.1f} s, "
                             f"{r.get('threads', '?')} threads, {r.get('fds', '?')} open fds, load avg {r.get('load', 0):.2f}"
                             + (f", {r['pushed']} segments pushed" if r.get('pushed') is not None
                                else ""))
    if notes:
        L.append("Notes:\n")
        L += [f"- {x}" for x in notes]
        L.append("")
    L.append("Targets (from the issue): p95 propagation under one second plus transfer time; "
             "under 1 MB resident per fetcher; 1,000 fetchers under one core. Nothing here "
             "asserts them.\n")
    text = "\n".join(L)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    with open(args.out.replace(".md", ".json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    print(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lineup-bin", required=True)
    ap.add_argument("--lineup-rev", default="?")
    ap.add_argument("--node-dir", required=True)
    ap.add_argument("--src-url", required=True)
    ap.add_argument("--src-dir", required=True)
    ap.add_argument("--dav-url", required=True)
    ap.add_argument("--dav-root", required=True)
    ap.add_argument("--dav-user", required=True)
    ap.add_argument("--dav-password", required=True)
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--hls-time", type=int, default=2)
    ap.add_argument("--load-start", default="?")
    ap.add_argument("--counts", type=lambda s: [int(x) for x in s.split(",")],
                    default=[1, 100, 1000])
    ap.add_argument("--prop-rounds", type=int, default=5)
    ap.add_argument("--prop-warmup", type=float, default=6)
    ap.add_argument("--prop-secs", type=float, default=14, help="counted seconds per round")
    ap.add_argument("--prop-tail", type=float, default=5)
    ap.add_argument("--warmup", type=float, default=30)
    ap.add_argument("--sample", type=float, default=20)
    ap.add_argument("--skip", default="", help="comma list: prop,scale")
    args = ap.parse_args()
    results = {}
    skip = set(args.skip.split(","))
    for name, phase in (("prop", propagation), ("scale", scale)):
        if name in skip:
            continue
        try:
            phase(args, args.tmp, results)
        except Exception:  # noqa: BLE001 - report what we have
            log(f"{name} phase failed:\n{traceback.format_exc()}")
            results.setdefault("errors", []).append(f"{name}: {traceback.format_exc(limit=1)}")
    report(args, results)


if __name__ == "__main__":
    main()
