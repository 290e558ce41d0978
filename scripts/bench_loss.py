#!/usr/bin/env python3
"""The paper's batch, certified, beside PyTorch's float32 forward and backward of the same batch.

Issue 13's benchmark: N = 256 samples, C = 10,572 classes (CASIA-WebFace), d = 512, f32
inputs, A-Softmax m = 4. Both sides work on the same x, w and y:

* **asoftmax-spec**: ``asoftmax-spec vectors --op loss --dtype f32 --m 4 --count 1 --batch 256
  --classes 10572 --dim 512 --out DIR`` draws the batch, certifies the loss, ∂L/∂X and ∂L/∂W —
  every output correctly rounded to f32 and f64, by proof (the filter tier, docs/src/filter.md) —
  and writes them as .npy files. Timed as a whole (wall clock and CPU), files included.
* **PyTorch**: ``examples/pytorch/asoftmax_torch.py``'s ``ASoftmaxLoss`` on x.npy, w.npy, y.npy in
  float32, forward and backward, the best of ``--repeat`` runs (after one warm-up), with
  torch's default thread count. Its results are then judged by ``asoftmax-spec check``, the
  report's summary printed.

The ratio printed is (certification wall time) / (PyTorch forward+backward wall time).

torch goes into a virtual environment of this script's own (``--venv``, default
``target/bench-venv-torch``; the CPU wheel index first, PyPI otherwise), never into the
system Python that CI's cross-checks use; ``--python`` uses an interpreter that already has
torch and NumPy instead.

Usage::

    cargo build --release
    python3 scripts/bench_loss.py
    python3 scripts/bench_loss.py --python /path/to/venv/bin/python --repeat 5
    python3 scripts/bench_loss.py --batch 16 --classes 1000 --dim 128     # a smaller batch
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import venv

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BIN = os.path.join(REPO, "target", "release", "asoftmax-spec")
DEFAULT_VENV = os.path.join(REPO, "target", "bench-venv-torch")

# Run by the torch interpreter: time forward+backward, write the results for `check`.
TORCH_SIDE = r"""
import json, os, sys, time
import numpy as np
import torch
sys.path.insert(0, os.path.join(sys.argv[1], "examples", "pytorch"))
from asoftmax_torch import ASoftmaxLoss
vec, res, repeat = sys.argv[2], sys.argv[3], int(sys.argv[4])
manifest = json.load(open(os.path.join(vec, "manifest.json")))
case = manifest["cases"][0]
d = os.path.join(vec, case["dir"])
x0, w0 = np.load(os.path.join(d, "x.npy")), np.load(os.path.join(d, "w.npy"))
y = torch.from_numpy(np.load(os.path.join(d, "y.npy")))
loss_fn = ASoftmaxLoss(case["m"], float.fromhex(case["lambda"]), float.fromhex(case["scale"]),
                       case["variant"], case["backward"])
best = float("inf")
for i in range(repeat + 1):
    x = torch.from_numpy(x0).requires_grad_(True)
    w = torch.from_numpy(w0).requires_grad_(True)
    t = time.perf_counter()
    loss = loss_fn(x, w, y)
    loss.backward()
    dt = time.perf_counter() - t
    if i > 0:
        best = min(best, dt)
out = os.path.join(res, case["dir"])
os.makedirs(out, exist_ok=True)
np.save(os.path.join(out, "loss.npy"), loss.detach().numpy().reshape(1))
np.save(os.path.join(out, "grad_x.npy"), x.grad.numpy())
np.save(os.path.join(out, "grad_w.npy"), w.grad.numpy())
print(json.dumps({"seconds": best, "threads": torch.get_num_threads(), "torch": torch.__version__}))
"""


def torch_python(args) -> str:
    if args.python:
        return args.python
    py = os.path.join(args.venv, "bin", "python")
    if not os.path.exists(py):
        print(f"creating {args.venv} with torch and numpy (once)", file=sys.stderr)
        venv.create(args.venv, with_pip=True)
        pip = [py, "-m", "pip", "install", "--quiet"]
        cpu = subprocess.run(pip + ["torch", "numpy", "--index-url",
                                    "https://download.pytorch.org/whl/cpu"])
        if cpu.returncode != 0:
            subprocess.run(pip + ["torch", "numpy"], check=True)
    return py


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--venv", default=DEFAULT_VENV)
    ap.add_argument("--python", help="an interpreter with torch and numpy (skips the venv)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--classes", type=int, default=10572)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--m", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    py = torch_python(args)
    with tempfile.TemporaryDirectory() as tmp:
        vec, res = os.path.join(tmp, "vec"), os.path.join(tmp, "res")
        cmd = [args.bin, "vectors", "--op", "loss", "--dtype", "f32", "--m", str(args.m),
               "--count", "1", "--batch", str(args.batch), "--classes", str(args.classes),
               "--dim", str(args.dim), "--out", vec]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        run = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if run.returncode != 0:
            print(run.stdout + run.stderr, file=sys.stderr)
            return 1
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        note = re.search(r"(\d+) outputs, (\d+) left undecided", run.stderr)
        side = subprocess.run([py, "-c", TORCH_SIDE, REPO, vec, res, str(args.repeat)],
                              capture_output=True, text=True)
        if side.returncode != 0:
            print(side.stdout + side.stderr, file=sys.stderr)
            return 1
        import json
        torch_res = json.loads(side.stdout.strip().splitlines()[-1])
        check = subprocess.run([args.bin, "check", vec, res], capture_output=True, text=True)
        size = f"N = {args.batch}, C = {args.classes}, d = {args.dim}, m = {args.m}, f32"
        print(f"batch: {size}")
        if note:
            print(f"asoftmax-spec: {note.group(1)} outputs certified (f32 and f64), "
                  f"{note.group(2)} refined by the second tier")
        print(f"asoftmax-spec certify + write: {wall:.2f} s wall, {cpu:.2f} s CPU")
        print(f"PyTorch {torch_res['torch']} float32 forward+backward "
              f"({torch_res['threads']} threads, best of {args.repeat}): {torch_res['seconds']:.3f} s")
        print(f"ratio (certified / PyTorch): {wall / torch_res['seconds']:.0f}x")
        summary = [l for l in check.stdout.splitlines() if l.strip()][-3:]
        print(f"check of PyTorch's float32 results (exit {check.returncode}):")
        for line in summary:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
