#!/usr/bin/env python3
"""Validate a torch.nn.Module loss through asoftmax-spec's vectors and check: adapters for
pytorch-metric-learning's SphereFaceLoss, LargeMarginSoftmaxLoss, ArcFaceLoss, CosFaceLoss.

    asoftmax-spec vectors --op loss --dtype f64 --m 4 --count 6 > sphere.jsonl
    asoftmax-spec vectors --op loss --dtype f64 --head arcface --head-m 0.5 \\
        --fallback linear --semantics differentiable_acos --scale 64 --count 6 > arc.jsonl
    python3 examples/pytorch/run_pml.py --loss arcface arc.jsonl > arc-results.jsonl
    asoftmax-spec check arc.jsonl arc-results.jsonl        # exit 0 only if all pass

`--loss all` (the default) picks the adapter from each line. Every loss line is run
through the pml module in float64 (the line's dtype must be f64): the features are the
embeddings (requires_grad), the class rows are written into the module's `W`, which
pml keeps as (embedding_size, num_classes), so ∂L/∂W is its gradient transposed; the
module's default reducer (MeanReducer: the batch mean) and no regularizer.

What each pml loss computes, and so the vector lines it is judged against
(pytorch-metric-learning 2.x, losses/large_margin_softmax_loss.py and subclasses):

| pml loss | vector line | why |
| --- | --- | --- |
| SphereFaceLoss(margin=m, scale=s) | variant a_softmax, backward full, λ = 0 | logits s·‖x‖·cos θ_j, target s·‖x‖·ψ(cos θ): ψ by the binomial polynomial in c (differentiated through c: analytic), k = ⌊mθ/π⌋ under no_grad |
| LargeMarginSoftmaxLoss(margin=m, scale=s) | variant l_softmax, backward full, λ = 0 | the same with ‖W_j‖‖x‖ |
| ArcFaceLoss(margin=degrees(m), scale=s) | head arcface, m (radians), fallback linear, semantics differentiable_acos | cos(acos(c) + m) while acos(c) ≤ π − m, else cos(acos(c)) − m·sin m: autograd through torch.acos; the margin is given in **degrees** |
| CosFaceLoss(margin=m, scale=s) | head cosface, m, semantics analytic | c − m on the cosine (no acos) |

A line whose parameters the adapter cannot express (another fallback, λ ≠ 0, a
detached margin, …) is reported on standard error and left out of the results, so
`check` counts it as missing. `--wrong-margin-units` is the deliberately wrong
ArcFace adapter: it passes the margin in radians where pml means degrees (0.5 becomes
0.5°); `check` must fail it.
"""

import argparse
import json
import math
import sys

import torch
from pytorch_metric_learning import losses


def num(text):
    """Vector inputs are C99 hex floats (or exact decimals)."""
    return float.fromhex(text) if "x" in str(text).lower() else float(text)


def adapter_of(v, wanted):
    """(name, factory(C, d)) of the pml loss that computes vector line v, or (None, why)."""
    s, lam = num(v["scale"]), num(v.get("lambda", "0"))
    if lam != 0:
        return None, "lambda != 0 (pml has no annealing weight)"
    head = v.get("head")
    if head is None:
        if v.get("backward", "full") != "full":
            return None, "a detached margin (pml differentiates the margin)"
        m = int(v["m"])
        cls = {"a_softmax": ("sphereface", losses.SphereFaceLoss),
               "l_softmax": ("large_margin", losses.LargeMarginSoftmaxLoss)}[v.get("variant", "a_softmax")]
        name, ctor = cls
        return name, lambda C, d: ctor(num_classes=C, embedding_size=d, margin=m, scale=s)
    if head == "arcface":
        if v.get("fallback") != "linear" or v.get("semantics") != "differentiable_acos":
            return None, "pml's ArcFace is the linear fallback through a differentiable acos"
        m = num(v["m"])
        deg = m if wanted.wrong_margin_units else math.degrees(m)
        return "arcface", lambda C, d: losses.ArcFaceLoss(num_classes=C, embedding_size=d, margin=deg, scale=s)
    if head == "cosface":
        m = num(v["m"])
        return "cosface", lambda C, d: losses.CosFaceLoss(num_classes=C, embedding_size=d, margin=m, scale=s)
    return None, f"no pml adapter for head {head!r}"


def run_line(v, wanted):
    name, factory = adapter_of(v, wanted)
    if name is None:
        return None, factory
    if wanted.loss != "all" and name != wanted.loss:
        return None, f"not the --loss {wanted.loss} adapter ({name})"
    if v["dtype"] != "f64":
        return None, "the runner works in float64 (--dtype f64)"
    x = torch.tensor([[num(t) for t in r] for r in v["x"]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[num(t) for t in r] for r in v["w"]], dtype=torch.float64)
    y = torch.tensor(v["y"], dtype=torch.long)
    module = factory(w.shape[0], w.shape[1]).to(torch.float64)
    with torch.no_grad():
        module.W.copy_(w.t())
    loss = module(x, y)
    loss.backward()
    hexes = lambda t: [[float(e).hex() for e in row] for row in t.tolist()]
    return {"id": v["id"], "value": float(loss).hex(), "grad_x": hexes(x.grad),
            "grad_w": hexes(module.W.grad.t())}, name


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vectors", help="a JSON Lines vectors file (asoftmax-spec vectors --op loss --dtype f64)")
    ap.add_argument("--loss", choices=["all", "sphereface", "large_margin", "arcface", "cosface"], default="all")
    ap.add_argument("--wrong-margin-units", action="store_true",
                    help="the wrong ArcFace adapter: the margin in radians where pml means degrees")
    a = ap.parse_args()
    counts = {}
    with open(a.vectors) as f:
        for line in f:
            if not line.strip():
                continue
            v = json.loads(line)
            if v.get("op") != "loss":
                continue
            res, note = run_line(v, a)
            if res is None:
                print(f"run_pml: {v['id']}: skipped: {note}", file=sys.stderr)
                continue
            counts[note] = counts.get(note, 0) + 1
            sys.stdout.write(json.dumps(res) + "\n")
    print("run_pml: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())), file=sys.stderr)


if __name__ == "__main__":
    main()
