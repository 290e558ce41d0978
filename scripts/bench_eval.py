#!/usr/bin/env python3
"""Side-by-side throughput of `asoftmax-spec eval` against mpmath (gmpy2 backend) and
python-flint's Arb, on the same ψ(c) lines.

The workload (issue 13): N lines (default 20,000) ``{"id":i,"op":"psi","m":m,"cos":c,"prec":256}``
with ``m`` cycling over 1…8 and ``c`` a random double in [−1, 1] written as a JSON number
(under eval's contract a JSON number denotes the f64 it rounds to; Python's ``repr`` is
that f64's shortest round-trip text). Each side reads the lines, evaluates ψ(c) and
writes one JSON line per input with the ⌈256·log10 2⌉ + 1 = 79-digit decimal, the f64
and the f32 of the value:

* **asoftmax-spec**: ``asoftmax-spec eval`` on the file, output to /dev/null. Every
  output is proven (exact T_m(c), branch decided rigorously, correct rounding); run
  once with ``RAYON_NUM_THREADS=1`` and once with all cores.
* **mpmath** (gmpy2 backend), the textbook evaluation at 256 + 64 bits: θ = acos c,
  k = ⌊mθ/π⌋ (clamped to m − 1), ψ = (−1)^k T_m(c) − 2k with T_m by the three-term
  recurrence (faster in mpmath than cos(mθ)). No error bound: fewer guarantees, less work.
* **Arb** (python-flint): the same with balls (``arb.acos``, ``arb.chebyshev_t``), the
  precision doubled until the ball holds 256 + 8 relative bits and decides k (a Ziv loop,
  as the oracle does); the f64/f32 are the ball's midpoint converted by Python (not
  proven correctly rounded: again less work than the oracle).

Timings are CPU seconds of the process (user + system) and wall-clock seconds, each the
least over ``--repeat`` runs (taken separately), so that other load on the machine counts
less. The Rust side writes into a pipe the script reads, as a user's pipeline would.
The three sides' f64 outputs are compared (a mismatch is reported: it would mean one of
the non-rigorous sides is off).

mpmath, gmpy2 and python-flint go into a virtual environment of this script's own
(``--venv``, default ``target/bench-venv``), created on the first run; the system
Python, which CI's cross-checks use, is never touched.

Usage::

    cargo build --release
    python3 scripts/bench_eval.py                     # 20,000 lines, best of 3
    python3 scripts/bench_eval.py --lines 2000 --repeat 1 --bin target/release/asoftmax-spec
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
import venv

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BIN = os.path.join(REPO, "target", "release", "asoftmax-spec")
DEFAULT_VENV = os.path.join(REPO, "target", "bench-venv")
PACKAGES = ["mpmath", "gmpy2", "python-flint"]
PREC = 256
DIGITS = 79  # ⌈256·log10 2⌉ + 1


def in_own_venv(path: str) -> bool:
    return os.path.realpath(sys.prefix) == os.path.realpath(path)


def ensure_venv(path: str) -> str:
    """Creates the venv (once) and installs the packages; returns its python."""
    py = os.path.join(path, "bin", "python")
    if not os.path.exists(py):
        print(f"bench_eval: creating {path} (mpmath, gmpy2, python-flint)", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
    probe = "import mpmath, gmpy2, flint; assert mpmath.libmp.BACKEND == 'gmpy'"
    if subprocess.run([py, "-c", probe], capture_output=True).returncode != 0:
        subprocess.run([py, "-m", "pip", "install", "-q", *PACKAGES], check=True)
    return py


def make_lines(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        c = rng.uniform(-1.0, 1.0)
        lines.append(json.dumps({"id": i, "op": "psi", "m": 1 + i % 8, "cos": c, "prec": PREC}))
    return lines


def cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def f32_hex(x: float) -> str:
    import struct

    return float.hex(struct.unpack("f", struct.pack("f", x))[0])


def run_mpmath(lines: list[str], out) -> None:
    from mpmath import mp, mpf, acos, floor, nstr

    mp.prec = PREC + 64
    pi = +mp.pi
    for text in lines:
        req = json.loads(text)
        m, c = req["m"], mpf(req["cos"])
        k = min(int(floor(m * acos(c) / pi)), m - 1)
        t0, t1 = mpf(1), c  # T_0, T_1
        for _ in range(m - 1):
            t0, t1 = t1, 2 * c * t1 - t0
        v = (t1 if k % 2 == 0 else -t1) - 2 * k
        f = float(v)
        out.append(json.dumps({"id": req["id"], "op": "psi", "value": nstr(v, DIGITS),
                               "f64": f.hex(), "f32": f32_hex(f)}))


def run_arb(lines: list[str], out) -> None:
    from flint import arb, ctx

    for text in lines:
        req = json.loads(text)
        m, cf = req["m"], req["cos"]
        wp = PREC + 64
        while True:
            ctx.prec = wp
            c = arb(cf)
            t = c.acos() * m / arb.pi()
            kk = t.floor().unique_fmpz()
            # At a branch point (k undecided for ever) both branches give the same value.
            if kk is None and wp > 4 * PREC:
                kk = t.mid().floor().unique_fmpz()
            t_m = c.chebyshev_t(m)
            if kk is not None and t_m.rel_accuracy_bits() >= PREC + 8:
                k = min(int(kk), m - 1)
                break
            wp *= 2
        v = (t_m if k % 2 == 0 else -t_m) - 2 * k
        f = float(v.mid())
        out.append(json.dumps({"id": req["id"], "op": "psi", "value": v.str(DIGITS, radius=False),
                               "f64": f.hex(), "f32": f32_hex(f)}))


def time_python(fn, lines: list[str], repeat: int):
    best = None
    for _ in range(repeat):
        out: list[str] = []
        c0, w0 = cpu_self(), time.perf_counter()
        fn(lines, out)
        cpu, wall = cpu_self() - c0, time.perf_counter() - w0
        if best is None:
            best = (cpu, wall, out)
        best = (min(best[0], cpu), min(best[1], wall), best[2])
    return best


def time_rust(binary: str, path: str, threads: int | None, repeat: int):
    env = dict(os.environ)
    if threads is None:
        env.pop("RAYON_NUM_THREADS", None)
    else:
        env["RAYON_NUM_THREADS"] = str(threads)
    best = None
    for _ in range(repeat):
        c0, w0 = cpu_children(), time.perf_counter()
        p = subprocess.run([binary, "eval", path], env=env, capture_output=True, text=True)
        cpu, wall = cpu_children() - c0, time.perf_counter() - w0
        if p.returncode != 0:
            sys.exit(f"bench_eval: {binary} eval failed ({p.returncode}): {p.stderr[:500]}")
        # The least CPU and the least wall time over the runs, each on its own (as for
        # the Python sides), so that load on the other core counts against neither.
        if best is None:
            best = (cpu, wall, p.stdout.splitlines())
        best = (min(best[0], cpu), min(best[1], wall), best[2])
    return best


def f64_of(lines: list[str]) -> list[float]:
    return [float.fromhex(json.loads(t)["f64"]) for t in lines]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=DEFAULT_BIN, help="asoftmax-spec binary (release build)")
    ap.add_argument("--venv", default=DEFAULT_VENV, help="the script's own virtual environment")
    ap.add_argument("--lines", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs per side")
    ap.add_argument("--keep", help="also write the generated lines to this file")
    args = ap.parse_args()

    if not in_own_venv(args.venv):
        py = ensure_venv(args.venv)
        os.execv(py, [py, os.path.abspath(__file__), *sys.argv[1:]])

    import flint
    import mpmath

    if not os.path.exists(args.bin):
        print(f"bench_eval: no binary at {args.bin} (cargo build --release)", file=sys.stderr)
        return 2
    lines = make_lines(args.lines, args.seed)
    path = args.keep or os.path.join(args.venv, "psi_lines.jsonl")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")

    print(f"{args.lines} psi lines at {PREC} bits, m = 1..8, f64 cosines; best of {args.repeat}")
    print(f"mpmath {mpmath.__version__} (backend {mpmath.libmp.BACKEND}), python-flint {flint.__version__}, "
          f"{os.cpu_count()} cores")
    rows = [
        ("asoftmax-spec eval, 1 thread", time_rust(args.bin, path, 1, args.repeat)),
        ("asoftmax-spec eval, all cores", time_rust(args.bin, path, None, args.repeat)),
        ("mpmath (gmpy2)", time_python(run_mpmath, lines, args.repeat)),
        ("Arb (python-flint)", time_python(run_arb, lines, args.repeat)),
    ]
    reference = f64_of(rows[0][1][2])
    print(f"\n{'side':32} {'CPU s':>8} {'wall s':>8} {'µs/line (CPU)':>14}  f64 agree")
    for name, (cpu, wall, out) in rows:
        agree = sum(a == b for a, b in zip(reference, f64_of(out)))
        print(f"{name:32} {cpu:8.3f} {wall:8.3f} {1e6 * cpu / args.lines:14.2f}  {agree}/{args.lines}")
    one, alls, mpm, arb_ = (r[1] for r in rows)
    print("\nratios (how many times faster asoftmax-spec is):")
    print(f"  1 thread,  CPU time:  {mpm[0] / one[0]:6.1f}x mpmath   {arb_[0] / one[0]:6.1f}x Arb")
    print(f"  1 thread,  wall time: {mpm[1] / one[1]:6.1f}x mpmath   {arb_[1] / one[1]:6.1f}x Arb")
    print(f"  all cores, wall time: {mpm[1] / alls[1]:6.1f}x mpmath   {arb_[1] / alls[1]:6.1f}x Arb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
