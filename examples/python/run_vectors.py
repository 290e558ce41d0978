"""Evaluate asoftmax-spec test vectors with the NumPy implementation and write
RESULTS (JSON Lines) for `asoftmax-spec check VECTORS RESULTS`.

    python3 run_vectors.py VECTORS > RESULTS
    python3 run_vectors.py --flaw acos-clamp-1e-5 VECTORS > RESULTS

Each vector is evaluated in its dtype: f64 and f32 in float64 (rounded once at the
end), f16 in NumPy's float16 arithmetic, bf16 in float32 with every operation
rounded to bfloat16 (`asoftmax_numpy.bf16`, NumPy has no bfloat16). Loss vectors of
the autocast scheme (f16 or bf16 inputs) compute in float32 with the cosine rounded
to the 16-bit format, and answer in float32.
"""

import argparse
import json
import sys

import numpy as np

import asoftmax_numpy as impl


def num(text):
    """Vector inputs are C99 hex floats (or decimals)."""
    return float.fromhex(text) if "x" in text.lower() else float(text)


HALF = {"f16": lambda v: np.asarray(v).astype(np.float16), "bf16": impl.bf16}


def out(v, fmt):
    """A result rounded to `fmt`, written exactly (repr of a double)."""
    if fmt == "f32":
        v = np.float32(v)
    elif fmt in HALF:
        v = HALF[fmt](v)
    return repr(float(v))


def scalar(op, m, c, dtype):
    """A scalar op in the vector's dtype."""
    if dtype == "f16":
        return op(m, np.float16(c))
    if dtype == "bf16":
        return op(m, np.float32(c), impl.bf16)
    return op(m, np.float64(c))


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
                autocast = v.get("scheme") == "autocast"
                dt, rnd, fmt = (np.float32, HALF[dtype], "f32") if autocast else (np.float64, impl.same, dtype)
                loss, gx, gw = impl.loss_and_grads(
                    x, w, np.array(v["y"]), v["m"], num(v["lambda"]), num(v["scale"]),
                    v["variant"], v["backward"], ops["psi"], ops["dpsi_dcos"], dt, rnd)
                res["value"] = out(loss, fmt)
                res["grad_x"] = [[out(g, fmt) for g in row] for row in gx]
                res["grad_w"] = [[out(g, fmt) for g in row] for row in gw]
            else:
                res["value"] = out(scalar(ops[op], v["m"], num(v["cos"]), dtype), dtype)
            sys.stdout.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
