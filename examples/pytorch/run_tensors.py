#!/usr/bin/env python3
"""Validate an A-Softmax loss through asoftmax-spec's tensor files.

    asoftmax-spec vectors --op loss --dtype f32 --m 4 --count 3 --batch 256 --classes 1000 --dim 128 --out VEC
    python3 examples/pytorch/run_tensors.py VEC RES          # torch.nn.Module (asoftmax_torch.py)
    asoftmax-spec check VEC RES                             # per-output report; exit 0 only if all pass

For every case of VEC/manifest.json it loads x.npy, w.npy and y.npy, runs the loss
forward and backward in the case's dtype (float32 or float64) and writes RES/<dir>/
loss.npy, grad_x.npy and grad_w.npy. ``--backend numpy`` runs the NumPy implementation
of examples/python instead (float64 throughout, rounded to the dtype), for machines
without torch; ``--flaw acos-clamp-1e-5`` (numpy backend) uses its deliberately flawed ψ.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def torch_backend(case, x, w, y):
    import torch

    from asoftmax_torch import ASoftmaxLoss

    dt = torch.float32 if case["dtype"] == "f32" else torch.float64
    xt = torch.tensor(x, dtype=dt, requires_grad=True)
    wt = torch.tensor(w, dtype=dt, requires_grad=True)
    loss = ASoftmaxLoss(case["m"], float.fromhex(case["lambda"]), float.fromhex(case["scale"]),
                        case["variant"], case["backward"])(xt, wt, torch.tensor(y, dtype=torch.long))
    loss.backward()
    return loss.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()


def numpy_backend(flaw):
    sys.path.insert(0, os.path.join(HERE, "..", "python"))
    import asoftmax_numpy as impl

    ops = impl.FLAWS[flaw] if flaw else impl.FAITHFUL

    def run(case, x, w, y):
        with np.errstate(all="ignore"):
            loss, gx, gw = impl.loss_and_grads(
                x, w, y, case["m"], float.fromhex(case["lambda"]), float.fromhex(case["scale"]),
                case["variant"], case["backward"], ops["psi"], ops["dpsi_dcos"])
        dt = np.float32 if case["dtype"] == "f32" else np.float64
        return np.asarray(loss, dtype=dt), gx.astype(dt), gw.astype(dt)

    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vectors", help="a tensor directory from `asoftmax-spec vectors --out`")
    ap.add_argument("results", help="where to write the results (created)")
    ap.add_argument("--backend", choices=["torch", "numpy"], default="torch")
    ap.add_argument("--flaw", help="numpy backend: a deliberately flawed psi (e.g. acos-clamp-1e-5)")
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    run = torch_backend if args.backend == "torch" else numpy_backend(args.flaw)
    with open(os.path.join(args.vectors, "manifest.json")) as f:
        manifest = json.load(f)
    if manifest.get("tensors_version") not in (1, 2):
        sys.exit(f"unsupported tensors_version {manifest.get('tensors_version')}")
    for case in manifest["cases"]:
        src = os.path.join(args.vectors, case["dir"])
        x, w, y = (np.load(os.path.join(src, f"{k}.npy")) for k in ("x", "w", "y"))
        loss, gx, gw = run(case, x, w, y)
        dst = os.path.join(args.results, case["dir"])
        os.makedirs(dst, exist_ok=True)
        for name, a in (("loss", loss), ("grad_x", gx), ("grad_w", gw)):
            np.save(os.path.join(dst, f"{name}.npy"), np.ascontiguousarray(a))
    print(f"run_tensors: {len(manifest['cases'])} cases ({args.backend}) -> {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
