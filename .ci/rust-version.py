#!/usr/bin/env python3
"""Check the Rust version the workspace states (Cargo.toml `rust-version`, stated once).

It must be at least every dependency's own `rust-version` (from `cargo metadata`), and the
toolchain running CI must be at least it. Fails naming the package that needs more.
Why not build with that exact toolchain: CI reaches only the package registries, so it
cannot download another toolchain; the let-chains the code uses need 1.88 as well.
"""
import json
import subprocess
import sys
import tomllib


def ver(s):
    return tuple(int(x) for x in s.split(".")[:3]) + (0,) * (3 - len(s.split(".")[:3]))


with open("Cargo.toml", "rb") as f:
    stated = tomllib.load(f)["workspace"]["package"]["rust-version"]
meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
bad = [
    (p["name"], p["version"], p["rust_version"])
    for p in meta["packages"]
    if p.get("rust_version") and ver(p["rust_version"]) > ver(stated)
]
ours = [p["name"] for p in meta["packages"] if p["source"] is None and p.get("rust_version") != stated]
rustc = subprocess.run(["rustc", "--version"], check=True, capture_output=True, text=True).stdout.split()[1]
ok = True
for name, v, rv in bad:
    print(f"rust-version {stated} is too low: {name} {v} needs {rv}", file=sys.stderr)
    ok = False
for name in ours:
    print(f"crate {name} does not inherit rust-version.workspace", file=sys.stderr)
    ok = False
if ver(rustc) < ver(stated):
    print(f"rustc {rustc} is older than the stated rust-version {stated}", file=sys.stderr)
    ok = False
if not ok:
    sys.exit(1)
print(f"rust-version {stated}: every dependency fits, rustc {rustc}")
