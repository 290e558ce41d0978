"""Evaluate asoftmax-spec test vectors with the NumPy implementation and write
RESULTS (JSON Lines) for `asoftmax-spec check VECTORS RESULTS`.

    python3 run_vectors.py VECTORS > RESULTS
    python3 run_vectors.py --flaw acos-clamp-1e-5 VECTORS > RESULTS
"""

import argparse
import json
import sys

import numpy as np

import asoftmax_numpy as impl


def num(text):
    """Vector inputs are C99 hex floats (or decimals)."""
    return float.fromhex(text) if "x" in text.lower() else float(text)


def out(v, dtype):
    """A result in the vector's format, written exactly (repr of a double)."""
    v = float(np.float32(v)) if dtype == "f32" else float(v)
    return repr(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("vectors")
    ap.add_argument("--flaw", choices=sorted(impl.FLAWS), help="use a deliberately flawed variant")
    args = ap.parse_args()
    ops = impl.FLAWS[args.flaw] if args.flaw else impl.FAITHFUL
    with open(args.vectors) as f, np.errstate(all="ignore"):
        for line in f:
            if not line.strip():
                continue
            v = json.loads(line)
            op, dtype = v["op"], v["dtype"]
            res = {"id": v["id"]}
            if op == "loss":
                x = [[num(t) for t in row] for row in v["x"]]
                w = [[num(t) for t in row] for row in v["w"]]
                loss, gx, gw = impl.loss_and_grads(
                    x, w, np.array(v["y"]), v["m"], num(v["lambda"]), num(v["scale"]),
                    v["variant"], v["backward"], ops["psi"], ops["dpsi_dcos"])
                res["value"] = out(loss, dtype)
                res["grad_x"] = [[out(g, dtype) for g in row] for row in gx]
                res["grad_w"] = [[out(g, dtype) for g in row] for row in gw]
            else:
                c = np.float64(num(v["cos"]))
                res["value"] = out(ops[op](v["m"], c), dtype)
            sys.stdout.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
