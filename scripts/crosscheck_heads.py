#!/usr/bin/env python3
"""Independent mpmath cross-check of `asoftmax-spec eval` on loss lines with a head
(the margin family: the combined margin cos(m1*theta + m2) - m3 with each fallback,
ArcFace, CosFace) in each gradient semantics.

Nothing here is ported from the Rust code: the loss and its gradients are written
from the definitions (README "The margin family", docs/src/heads.md) with mpmath
floats and Python Fractions.

The loss
--------
Sample x (label y), class rows W_j, r = |x|, nu_j = |W_j|, c_j = W_j.x/(nu_j r)
(features and weights both normalized: the cosine logits of insightface, ArcFace,
CosFace and pytorch-metric-learning's ArcFaceLoss/CosFaceLoss):

    f_j = s c_j (j != y),   f_y = s (lambda c_y + t(c_y))/(1 + lambda),
    t(c) = cos(m1 theta + m2) - m3          fallback none
         = cos(min(m1 theta + m2, pi)) - m3  clamp_pi
         = c - m2 sin m2 - m3 once theta + m2 > pi, else cos(theta + m2) - m3   linear
         = c - m3 for c <= 0, else cos(m1 theta + m2) - m3                      easy
    l_n = logsumexp(f) - f_y,  L = mean_n l_n.

Gradients, way 1 (analytic, derived here): dl/df_j = p_j - [j = y];
dc/dx = (W/nu - c x/r)/r, dc/dW = (x/r - c W/nu)/nu; df_j/dc_j = s for j != y and
s (lambda + h)/(1 + lambda) for the target with h = dt/dc:
    analytic / differentiable_acos (inside (-1, 1)): m1 sin(m1 theta + m2)/sin theta on
    the margin piece, 0 on the clamped piece, 1 on the linear and plain pieces;
    straight_through: the margin detached, the target differentiated as s c_y.
Way 2: numerical differentiation (mpmath.diff at 400 bits) of the loss itself
(analytic, differentiable_acos) or of the stop-gradient loss whose target logit is
s c_y + (f_y - s c_y) frozen at the base point (straight_through). Both ways must agree
(SELF-CHECK otherwise) before the binary is judged against way 1.

Checks: `value` within 2^-(prec-2) relative; `f64` and `f32` of the loss and of
every gradient component equal to the reference correctly rounded here (nearest
even, from an exact Fraction of a 700-bit value; a reference within 2^-600 of a
rounding boundary is reported as undecided, not failed).

Degenerate points the oracle must refuse with an error line (never a number) when
gradients are requested, and answer when only the value is: ArcFace at c = 1
(slope +inf, analytic and differentiable_acos), cos(2 theta) at c = 1 under
differentiable_acos (0 * inf: undefined), the easy margin's jump at c = 0 under
analytic. Also: CosFace at c = 1 (slope 1: numbers), the easy margin at c = 0 under
differentiable_acos (the plain branch: slope 1), an unknown head name (an error
line that names the accepted heads, the rest of the batch still evaluated).

The family on cosines: loss lines with "cos" (N x C) and "y" for every head
(sphereface, sphereface_r v1/v2, curricularface, adaface, magface with its magnitude
gradient grad_a, sphereface2 c/a/m, and arcface/cosface on cosines), written from
the published definitions (section "The family on cosines" below), judged the same
way (way 1 against mpmath.diff, then f64/f32 bit for bit), plus error lines (slopes
that are not numbers, MagFace's kink, missing state, unknown heads).

Usage: python3 scripts/crosscheck_heads.py [--bin PATH] [--seed N] [-v]
Prints `crosscheck_heads: N cases, F failed`; exit 0 iff nothing failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from fractions import Fraction

try:
    import mpmath
    from mpmath import mp, mpf
except ImportError:  # pragma: no cover
    sys.exit("crosscheck_heads.py needs mpmath")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREC = 128          # bits requested from the binary
REF_PREC = 700      # reference working precision
DIFF_PREC = 400     # working precision of the numerical derivatives


def frac_of_mpf(v) -> Fraction:
    sign, man, exp, _ = v._mpf_
    man, exp = int(man), int(exp)
    if man == 0:
        return Fraction(0)
    q = Fraction(man << exp) if exp >= 0 else Fraction(man, 1 << -exp)
    return -q if sign else q


def round_frac(q: Fraction, p: int, emin: int) -> Fraction:
    """q rounded to nearest even with p significant bits, exponent >= emin."""
    if q == 0:
        return Fraction(0)
    a = abs(q)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    e = max(e, emin)
    unit = Fraction(2) ** (e - p + 1)
    n = round(a / unit)  # Fraction.__round__ is half-to-even
    r = n * unit
    return r if q > 0 else -r


def near_boundary(q: Fraction, p: int, emin: int, tol: Fraction) -> bool:
    """Whether q is within tol (relative) of a rounding boundary of the format."""
    lo, hi = q - abs(q) * tol, q + abs(q) * tol
    return round_frac(lo, p, emin) != round_frac(hi, p, emin)


F64 = (53, -1022)
F32 = (24, -126)


def hex_frac(s: str) -> Fraction:
    return Fraction(float.fromhex(s)) if s not in ("inf", "-inf") else None


# ---------------------------------------------------------------------------
# The heads, from their definitions
# ---------------------------------------------------------------------------

def piece(h, c):
    theta = mpmath.acos(c)
    a = h["m1"] * theta + h["m2"]
    fb = h["fallback"]
    if fb == "clamp_pi" and a > mp.pi:
        return "clamped"
    if fb == "linear" and a > mp.pi:
        return "linear"
    if fb == "easy" and c <= 0:
        return "plain"
    return "margin"


def target(h, c):
    theta = mpmath.acos(c)
    p = piece(h, c)
    if p == "margin":
        return mpmath.cos(h["m1"] * theta + h["m2"]) - h["m3"]
    if p == "clamped":
        return -1 - h["m3"]
    if p == "linear":
        return c - h["m2"] * mpmath.sin(h["m2"]) - h["m3"]
    return c - h["m3"]


def target_slope(h, c):
    p = piece(h, c)
    if p == "margin":
        theta = mpmath.acos(c)
        if abs(c) == 1:
            # The limit at theta = 0, pi of m sin(m theta)/sin theta (m2 = 0, integer m):
            # m U_{m-1}(+-1) = m^2 (+-1)^(m-1). (With m2 != 0 it is infinite: no case.)
            m = int(h["m1"])
            return mpf(m * m * (1 if c > 0 or m % 2 == 1 else -1))
        return h["m1"] * mpmath.sin(h["m1"] * theta + h["m2"]) / mpmath.sqrt(1 - c * c)
    return mpf(0) if p == "clamped" else mpf(1)


def cosines(x, W):
    r = mpmath.sqrt(sum(v * v for v in x))
    nus = [mpmath.sqrt(sum(v * v for v in w)) for w in W]
    cs = [sum(a * b for a, b in zip(w, x)) / (nu * r) for w, nu in zip(W, nus)]
    return r, nus, cs


def logits(case, x, W, y, frozen=None):
    s, lam = case["s"], case["lambda"]
    _, _, cs = cosines(x, W)
    f = [s * c for c in cs]
    if frozen is not None:
        f[y] = f[y] + frozen
    else:
        f[y] = s * (lam * cs[y] + target(case["head"], cs[y])) / (1 + lam)
    return f


def lse(f):
    mx = max(f)
    return mx + mpmath.log(sum(mpmath.exp(v - mx) for v in f))


def loss_of(case, X, W, frozen=None):
    tot = mpf(0)
    for n, (x, y) in enumerate(zip(X, case["y"])):
        f = logits(case, x, W, y, None if frozen is None else frozen[n])
        tot += lse(f) - f[y]
    return tot / len(X)


def analytic_grads(case, X, W):
    s, lam, h = case["s"], case["lambda"], case["head"]
    d = len(X[0])
    gx = [[mpf(0)] * d for _ in X]
    gw = [[mpf(0)] * d for _ in W]
    for n, (x, y) in enumerate(zip(X, case["y"])):
        r, nus, cs = cosines(x, W)
        f = logits(case, x, W, y)
        z = lse(f)
        for j, w in enumerate(W):
            a = mpmath.exp(f[j] - z) - (1 if j == y else 0)
            if j == y and case["semantics"] != "straight_through":
                df = s * (lam + target_slope(h, cs[j])) / (1 + lam)
            else:
                df = s
            for k in range(d):
                gx[n][k] += a * df * (w[k] / nus[j] - cs[j] * x[k] / r) / r
                gw[j][k] += a * df * (x[k] / r - cs[j] * w[k] / nus[j]) / nus[j]
    N = len(X)
    return [[v / N for v in row] for row in gx], [[v / N for v in row] for row in gw]


def numeric_grads(case, X, W):
    frozen = None
    if case["semantics"] == "straight_through":
        frozen = []
        for x, y in zip(X, case["y"]):
            _, _, cs = cosines(x, W)
            full = logits(case, x, W, y)[y]
            frozen.append(full - case["s"] * cs[y])

    def partial(which, i, k):
        def fn(t):
            Xp = [list(r) for r in X]
            Wp = [list(r) for r in W]
            (Xp if which == "x" else Wp)[i][k] = t
            return loss_of(case, Xp, Wp, frozen)
        base = (X if which == "x" else W)[i][k]
        return mpmath.diff(fn, base)

    gx = [[partial("x", i, k) for k in range(len(X[0]))] for i in range(len(X))]
    gw = [[partial("w", j, k) for k in range(len(W[0]))] for j in range(len(W))]
    return gx, gw


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

HEADS = [
    ("arcface", {"m": "0.5", "fallback": "none"}),
    ("arcface", {"m": "0.5", "fallback": "clamp_pi"}),
    ("arcface", {"m": "0.5", "fallback": "linear"}),
    ("arcface", {"m": "0.5", "fallback": "easy"}),
    ("arcface", {"m": "1.2", "fallback": "linear"}),
    ("cosface", {"m": "0.35"}),
    ("combined", {"m1": "1", "m2": "0.3", "m3": "0.2", "fallback": "none"}),
    ("combined", {"m1": "2", "m2": "0", "m3": "0.1", "fallback": "clamp_pi"}),
    ("combined", {"m1": "3", "fallback": "none"}),
    ("combined", {"m1": "1.5", "m2": "0.25", "fallback": "clamp_pi"}),
    ("combined", {"m1": "2", "m2": "0.1", "fallback": "easy"}),
]
SEMANTICS = ["analytic", "straight_through", "differentiable_acos"]


def head_params(kind, params):
    q = {k: Fraction(v) for k, v in params.items() if k != "fallback"}
    if kind == "arcface":
        return {"m1": Fraction(1), "m2": q["m"], "m3": Fraction(0), "fallback": params["fallback"]}
    if kind == "cosface":
        return {"m1": Fraction(1), "m2": Fraction(0), "m3": q["m"], "fallback": "none"}
    return {"m1": q.get("m1", Fraction(1)), "m2": q.get("m2", Fraction(0)),
            "m3": q.get("m3", Fraction(0)), "fallback": params.get("fallback", "none")}


def rand_dec(rng):
    return f"{rng.choice([-1, 1]) * rng.randint(1, 999) / 1000:.3f}"


def random_cases(rng):
    out = []
    for kind, params in HEADS:
        for sem in SEMANTICS:
            for s, lam in [("1", "0"), ("64", "0"), ("8", "5")]:
                n, c, d = rng.randint(1, 2), rng.randint(2, 3), rng.randint(2, 3)
                X = [[rand_dec(rng) for _ in range(d)] for _ in range(n)]
                W = [[rand_dec(rng) for _ in range(d)] for _ in range(c)]
                y = [rng.randrange(c) for _ in range(n)]
                out.append(case(kind, params, sem, s, lam, X, W, y, True))
    return out


def case(kind, params, sem, s, lam, X, W, y, grad, expect_error=None):
    req = {"op": "loss", "head": kind, **params, "semantics": sem, "scale": s,
           "lambda": lam, "x": X, "w": W, "y": y, "grad": grad, "prec": PREC}
    return {"req": req, "expect_error": expect_error}


def special_cases():
    par = [["1", "2"], ["0.5", "-1"]]
    W = [["2", "4"], ["-0.2", "0.7"]]
    arc = {"m": "0.5", "fallback": "none"}
    return [
        case("arcface", arc, "analytic", "64", "0", [["1", "2"]], W, [0], True, "+inf"),
        case("arcface", arc, "differentiable_acos", "64", "0", [["1", "2"]], W, [0], True, "+inf"),
        case("arcface", arc, "differentiable_acos", "64", "0", [["1", "2"]], W, [0], False),
        case("arcface", arc, "straight_through", "64", "0", [["1", "2"]], W, [0], True),
        case("combined", {"m1": "2"}, "differentiable_acos", "1", "0", par, W, [0, 1], True, "undefined"),
        case("combined", {"m1": "2"}, "analytic", "1", "0", par, W, [0, 1], True),
        # cos(acos c) - m through autograd: 0 * inf at c = 1; the analytic slope is 1.
        case("cosface", {"m": "0.35"}, "differentiable_acos", "64", "0", [["1", "2"]], W, [0], True, "undefined"),
        case("cosface", {"m": "0.35"}, "analytic", "64", "0", [["1", "2"]], W, [0], True),
        case("combined", {"m1": "2", "fallback": "easy"}, "analytic", "1", "0",
             [["2", "1"]], [["-1", "2"], ["1", "1"]], [0], True, "undefined"),
        # The jump at c = 0: the loss has no derivative, autograd takes the plain branch.
        dict(case("combined", {"m1": "2", "fallback": "easy"}, "differentiable_acos", "1", "0",
                  [["2", "1"]], [["-1", "2"], ["1", "1"]], [0], True), no_numeric=True),
        {"req": {"op": "loss", "head": "sphereface", "m": "4", "x": [["1"]], "w": [["1"]], "y": [0]},
         "expect_error": "takes cosines"},
    ]



# ---------------------------------------------------------------------------
# The family on cosines: loss lines with "cos" (N x C) for every head
# ---------------------------------------------------------------------------
#
# Written from the published definitions (opensphere sphereface.py / spherefacer.py /
# sphereface2.py, CurricularFace, AdaFace head.py, MagFace MagLinear + MagLoss), with
# the angle clamps at [0, pi] (the oracle's exact form; the float clamps belong to the
# zoo). Logits f_y = s T(c_y), f_j = s U(c_j); L = mean_n (lse(f_n) - f_ny)
# (+ lambda_g mean g(a) for MagFace); SphereFace2 has the weighted binary cross-entropy
# of z = r T + b / r U + b. Way 1: the gradients written here from the derivatives of
# T and U; way 2: mpmath.diff of the loss in each cosine (and in each MagFace magnitude),
# with the margin frozen at the base point (U - c, T - c constants) for straight_through.

def q2m(v):
    v = Fraction(v)
    return mpf(v.numerator) / v.denominator


def g_s2(t, x):
    return 2 * ((x + 1) / 2) ** t - 1


def dg_s2(t, x):
    return t * ((x + 1) / 2) ** (t - 1)


def fam_target(h, c):
    """(T(c), dT/dc) of a head at a target cosine (an interior point)."""
    k, th = h["kind"], mpmath.acos(c)
    sn = mpmath.sqrt(1 - c * c)
    if k in ("arcface", "cosface", "combined"):
        return target(h["comb"], c), target_slope(h["comb"], c)
    if k == "sphereface" or (k == "sphereface_r" and h["version"] == "v1"):
        m = h["m"]
        kk = mpmath.floor(m * th / mp.pi)
        if k == "sphereface_r" and m * th > mp.pi:
            return mpf(-1), mpf(0)
        sg = -1 if int(kk) % 2 else 1
        slope = sg * m * mpmath.sin(m * th) / sn if sn != 0 else None  # +-inf: no case
        return sg * mpmath.cos(m * th) - 2 * kk, slope
    if k == "sphereface_r":
        return c, mpf(1)
    if k in ("curricularface", "magface"):
        m = h["margin"]
        easy = h.get("fallback") == "easy"
        if (easy and c > 0) or (not easy and th + m <= mp.pi):
            return mpmath.cos(th + m), mpmath.sin(th + m) / sn
        if easy:
            return c, mpf(1)
        return c - m * mpmath.sin(m), mpf(1)
    if k == "adaface":
        shat = h["shat"]
        a = th - h["m"] * shat
        off = h["m"] * (1 + shat)
        if a < 0:
            return 1 - off, mpf(0)
        if a > mp.pi:
            return -1 - off, mpf(0)
        return mpmath.cos(a) - off, mpmath.sin(a) / sn
    if k == "sphereface2":
        t, m, mt = h["t"], h["m"], h["margin"]
        if mt == "c":
            return g_s2(t, c) - m, dg_s2(t, c)
        inner = th + m if mt == "a" else m * th
        if inner >= mp.pi:
            return g_s2(t, mpf(-1)), mpf(0)
        fac = 1 if mt == "a" else m
        x = mpmath.cos(inner)
        return g_s2(t, x), dg_s2(t, x) * fac * mpmath.sin(inner) / sn
    raise ValueError(k)


def fam_nontarget(h, c, cy):
    """(U(c), dU/dc) of a head at a non-target cosine (target cosine cy)."""
    k = h["kind"]
    if k == "sphereface_r" and h["version"] == "v2":
        th = mpmath.acos(c)
        m = h["m"]
        return mpmath.cos(th / m), mpmath.sin(th / m) / (m * mpmath.sqrt(1 - c * c))
    if k == "curricularface":
        if c > mpmath.cos(mpmath.acos(cy) + h["m"]):
            return c * (h["t"] + c), h["t"] + 2 * c
        return c, mpf(1)
    if k == "sphereface2":
        sh = h["m"] if h["margin"] == "c" else 0
        return g_s2(h["t"], c) + sh, dg_s2(h["t"], c)
    return c, mpf(1)


def fam_head(req, n):
    """The head of sample n, its parameters as mpf (defaults as documented)."""
    k = req["head"]
    g = lambda name, d: q2m(req.get(name, d))
    h = {"kind": k}
    if k in ("arcface", "cosface", "combined"):
        par = {kk: req[kk] for kk in ("m", "m1", "m2", "m3", "fallback") if kk in req}
        h["comb"] = {kk: (q2m(v) if isinstance(v, Fraction) else v) for kk, v in head_params(k, par).items()}
    elif k in ("sphereface", "sphereface_r"):
        h["m"] = g("m", "1.5")
        h["version"] = req.get("version")
    elif k == "curricularface":
        h["m"], h["t"] = g("m", "0.5"), q2m(req["t"])
        h["margin"] = h["m"]
    elif k == "adaface":
        m, hh, eps = g("m", "0.4"), g("h", "0.333"), g("eps", "0.001")
        sh = hh * (q2m(req["norm"][n]) - q2m(req["mean"])) / (q2m(req["std"]) + eps)
        h["m"], h["shat"] = m, min(max(sh, mpf(-1)), mpf(1))
    elif k == "magface":
        la, ua, lm, um = g("l_a", "10"), g("u_a", "110"), g("l_m", "0.45"), g("u_m", "0.8")
        h.update(la=la, ua=ua, lm=lm, um=um, fallback=req.get("fallback", "easy"))
        h["a"] = q2m(req["a"][n])
    elif k == "sphereface2":
        h.update(t=int(req.get("t", 3)), m=g("m", "0.4"), margin=req.get("margin", "c"),
                 r=g("r", "40"), b=q2m(req["b"]), alpha=g("alpha", "0.7"), lw=g("lw", "50"))
    return h


def magface_at(h, a):
    """MagFace's margin m(a) and regularizer g(a) at a magnitude a."""
    ac = min(max(a, h["la"]), h["ua"])
    m = (h["um"] - h["lm"]) / (h["ua"] - h["la"]) * (ac - h["la"]) + h["lm"]
    return m, ac / h["ua"] ** 2 + 1 / ac


def fam_loss(req, C, A=None, frozen=None):
    """The loss at cosines C (and MagFace magnitudes A); frozen[n][j] = logit - c."""
    y, N = req["y"], len(C)
    heads = [fam_head(req, n) for n in range(N)]
    tot = mpf(0)
    for n, (row, h) in enumerate(zip(C, heads)):
        if h["kind"] == "magface":
            a = A[n] if A is not None else h["a"]
            h["margin"], reg = magface_at(h, a)
            tot += g("lambda_g", req, "35") * reg
        vals = []
        for j, c in enumerate(row):
            if frozen is not None:
                vals.append(c + frozen[n][j])
            elif j == y[n]:
                vals.append(fam_target(h, c)[0])
            else:
                vals.append(fam_nontarget(h, c, row[y[n]])[0])
        if h["kind"] == "sphereface2":
            r, b = h["r"], h["b"]
            for j, v in enumerate(vals):
                z = r * v + b
                tgt = j == y[n]
                w = (h["alpha"] if tgt else 1 - h["alpha"]) * h["lw"] / r
                # weight lw C/r (alpha or 1 - alpha), mean over the N C entries
                tot += w * mpmath.log1p(mpmath.exp(-z if tgt else z))
        else:
            f = [q2m(req.get("scale", "1")) * v for v in vals]
            tot += lse(f) - f[y[n]]
    return tot / N


def g(name, req, default):
    return q2m(req.get(name, default))


def fam_analytic(req, C):
    """Way 1: dL/dc (and dL/da for MagFace) from the derivatives of T and U."""
    y, N, sem = req["y"], len(C), req.get("semantics", "analytic")
    grads, ga = [], []
    for n, row in enumerate(C):
        h = fam_head(req, n)
        if h["kind"] == "magface":
            h["margin"], _ = magface_at(h, h["a"])
        vals, slopes = [], []
        for j, c in enumerate(row):
            v, d = fam_target(h, c) if j == y[n] else fam_nontarget(h, c, row[y[n]])
            vals.append(v)
            slopes.append(mpf(1) if sem == "straight_through" else d)
        if h["kind"] == "sphereface2":
            r, b = h["r"], h["b"]
            out = []
            for j, (v, d) in enumerate(zip(vals, slopes)):
                tgt = j == y[n]
                w = (h["alpha"] if tgt else 1 - h["alpha"]) * h["lw"] / r
                sig = 1 / (1 + mpmath.exp(-(r * v + b)))
                out.append(w * (sig - (1 if tgt else 0)) * r * d / N)
            grads.append(out)
            continue
        s = q2m(req.get("scale", "1"))
        f = [s * v for v in vals]
        z = lse(f)
        p = [mpmath.exp(fj - z) for fj in f]
        grads.append([(p[j] - (1 if j == y[n] else 0)) * s * slopes[j] / N for j in range(len(row))])
        if h["kind"] == "magface":
            la, ua, lm, um, a = h["la"], h["ua"], h["lm"], h["um"], h["a"]
            inside = la < a < ua
            dm = (um - lm) / (ua - la) if inside else mpf(0)
            dg = (1 / ua ** 2 - 1 / a ** 2) if inside else mpf(0)
            m, cy = h["margin"], row[y[n]]
            th = mpmath.acos(cy)
            easy = h["fallback"] == "easy"
            if sem == "straight_through" or (easy and cy <= 0):
                dt = mpf(0)
            elif (easy and cy > 0) or (not easy and th + m <= mp.pi):
                dt = -mpmath.sin(th + m) * dm
            else:
                dt = -(mpmath.sin(m) + m * mpmath.cos(m)) * dm
            ga.append(((p[y[n]] - 1) * s * dt + g("lambda_g", req, "35") * dg) / N)
    return grads, (ga if req["head"] == "magface" else None)


def fam_numeric(req, C):
    """Way 2: mpmath.diff of the loss (margin frozen for straight_through)."""
    frozen = None
    if req.get("semantics", "analytic") == "straight_through":
        frozen = []
        for n, row in enumerate(C):
            h = fam_head(req, n)
            if h["kind"] == "magface":
                h["margin"], _ = magface_at(h, h["a"])
            y = req["y"][n]
            frozen.append([(fam_target(h, c)[0] if j == y else fam_nontarget(h, c, row[y])[0]) - c
                           for j, c in enumerate(row)])

    def d_cos(n, j):
        def fn(t):
            Cp = [list(r) for r in C]
            Cp[n][j] = t
            return fam_loss(req, Cp, None, frozen)
        return mpmath.diff(fn, C[n][j])

    grads = [[d_cos(n, j) for j in range(len(C[0]))] for n in range(len(C))]
    ga = None
    if req["head"] == "magface":
        A = [q2m(v) for v in req["a"]]
        ga = []
        for n in range(len(C)):
            def fa(t, n=n):
                Ap = list(A)
                Ap[n] = t
                return fam_loss(req, C, Ap, frozen)
            ga.append(mpmath.diff(fa, A[n]))
    return grads, ga


FAMILY = [
    ("sphereface", {}),
    ("sphereface", {"m": "2.5"}),
    ("sphereface_r", {"version": "v1"}),
    ("sphereface_r", {"version": "v2", "m": "1.8"}),
    ("curricularface", {"t": "0.3"}),
    ("curricularface", {"m": "0.4", "t": "-0.2"}),
    ("adaface", {"mean": "20", "std": "8"}),
    ("magface", {}),
    ("magface", {"fallback": "easy", "lambda_g": "3"}),
    ("sphereface2", {"b": "-12.5"}),
    ("sphereface2", {"margin": "a", "b": "-3"}),
    ("sphereface2", {"margin": "m", "m": "1.5", "b": "-3", "t": "2"}),
    ("arcface", {"m": "0.5", "fallback": "linear"}),
    ("cosface", {"m": "0.35"}),
]


def family_cases(rng):
    out = []
    for kind, params in FAMILY:
        for sem in ["analytic", "straight_through"]:
            for s in (["1", "16"] if kind != "sphereface2" else [None]):
                n, c = rng.randint(1, 3), rng.randint(1 if sem == "analytic" else 2, 4)
                req = {"op": "loss", "head": kind, **params, "semantics": sem,
                       "cos": [[rand_dec(rng) for _ in range(c)] for _ in range(n)],
                       "y": [rng.randrange(c) for _ in range(n)], "grad": True, "prec": PREC}
                if s is not None:
                    req["scale"] = s
                if kind == "adaface":
                    req["norm"] = [str(rng.randint(5, 40)) for _ in range(n)]
                if kind == "magface":
                    req["a"] = [str(rng.choice([5, 200]) if rng.random() < 0.2 else rng.randint(11, 109))
                                for _ in range(n)]
                out.append({"req": req, "expect_error": None})
    # differentiable_acos: the chain rule through acos agrees with the analytic slope
    # at interior cosines (judged against the same reference).
    for kind, params in FAMILY[:8]:
        req = {"op": "loss", "head": kind, **params, "semantics": "differentiable_acos",
               "cos": [["0.3", "-0.45", "0.8"]], "y": [0], "grad": True, "prec": PREC, "scale": "4"}
        if kind == "adaface":
            req["norm"] = ["25"]
        if kind == "magface":
            req["a"] = ["50"]
        out.append({"req": req, "expect_error": None})
    err = lambda req, msg: {"req": {"op": "loss", "prec": PREC, **req}, "expect_error": msg}
    out += [
        err({"head": "arcface", "m": "0.5", "cos": [["1", "0"]], "y": [0], "grad": True}, "slope +inf"),
        err({"head": "sphereface", "cos": [["-1", "0"]], "y": [0], "grad": True}, "slope +inf"),
        err({"head": "magface", "a": ["10"], "cos": [["0.5", "0"]], "y": [0], "grad": True}, "kink"),
        err({"head": "sphereface_r", "cos": [["0.5", "0"]], "y": [0]}, "missing field \"version\""),
        err({"head": "sphereface2", "cos": [["0.5", "0"]], "y": [0]}, "missing field \"b\""),
        err({"head": "adaface", "norm": ["1", "2"], "mean": "1", "std": "1", "cos": [["0.5", "0"]], "y": [0]},
            "one per sample"),
        err({"head": "magface", "a": ["20"], "cos": [["0.5", "2"]], "y": [0]}, "cos"),
        err({"head": "nosuchface", "cos": [["0.5", "0"]], "y": [0]}, "sphereface2, curricularface, adaface, magface"),
        # The value alone where the gradient does not exist.
        {"req": {"op": "loss", "head": "sphereface", "cos": [["-1", "0"]], "y": [0], "prec": PREC},
         "expect_error": None},
        # Exact logits at c = -1 (SphereFace-R v1 clamped at pi, SphereFace2-M's T = g(-1)).
        {"req": {"op": "loss", "head": "sphereface_r", "version": "v1", "cos": [["-1", "0.5"]], "y": [0],
                 "scale": "2", "prec": PREC}, "expect_error": None},
        {"req": {"op": "loss", "head": "sphereface2", "margin": "m", "m": "1.5", "b": "-3",
                 "cos": [["-1", "0.5"], ["0.5", "0"]], "y": [0, 0], "prec": PREC}, "expect_error": None},
        # T = cos(pi/2) = 0 exactly at c = 1/2 (m = 1.5), its slope (3/4)*sqrt(3) is not.
        {"req": {"op": "loss", "head": "sphereface2", "margin": "m", "m": "1.5", "b": "-3", "grad": True,
                 "cos": [["0.5", "0.3"]], "y": [0], "prec": PREC}, "expect_error": None},
    ]
    return out


def family_reference(c):
    """(loss, grads, grad_a, worst way-1 vs way-2 gap) at REF_PREC."""
    req = c["req"]
    mp.prec = REF_PREC
    C = [[q2m(v) for v in row] for row in req["cos"]]
    L = fam_loss(req, C)
    if not req.get("grad"):
        return L, None, None, mpf(0)
    grads, ga = fam_analytic(req, C)
    mp.prec = DIFF_PREC
    ng, nga = fam_numeric(req, C)
    mp.prec = REF_PREC
    pairs = [(a, b) for ra, rb in zip(grads, ng) for a, b in zip(ra, rb)]
    pairs += list(zip(ga or [], nga or []))
    worst = max(abs(a - b) for a, b in pairs)
    return L, grads, ga, worst


def judge_family(c, out, problems):
    L, grads, ga, worst = family_reference(c)
    undecided = judge_number("loss", L, out, problems)
    if grads is None:
        return undecided, mpf(0)
    every = [v for r in grads for v in r] + (ga or [])
    scale = max([abs(v) for v in every] + [mpf(1)])
    if worst > scale * mpf(2) ** -300:
        problems.append(f"SELF-CHECK: analytic and numerical gradients differ by {mpmath.nstr(worst, 5)}")
    for n, row in enumerate(grads):
        for j, ref in enumerate(row):
            undecided += judge_number(f"grad_cos[{n}][{j}]", ref, out["grad_cos"][n][j], problems)
    if ga is not None:
        for n, ref in enumerate(ga):
            undecided += judge_number(f"grad_a[{n}]", ref, out["grad_a"][n], problems)
    elif "grad_a" in out:
        problems.append("grad_a written for a head other than magface")
    return undecided, worst / scale


# ---------------------------------------------------------------------------
# Judging
# ---------------------------------------------------------------------------

def reference(c):
    """The loss and (way 1) gradients at REF_PREC, and the largest gap to way 2."""
    req = c["req"]
    kind = req["head"]
    params = {k: req[k] for k in ("m", "m1", "m2", "m3", "fallback") if k in req}
    mp.prec = REF_PREC
    cs = {"head": {k: (mpf(v.numerator) / v.denominator if isinstance(v, Fraction) else v)
                   for k, v in head_params(kind, params).items()},
          "s": mpf(Fraction(req["scale"]).numerator) / Fraction(req["scale"]).denominator,
          "lambda": mpf(Fraction(req["lambda"]).numerator) / Fraction(req["lambda"]).denominator,
          "y": req["y"], "semantics": req["semantics"]}
    conv = lambda M: [[mpf(Fraction(v).numerator) / Fraction(v).denominator for v in r] for r in M]
    X, W = conv(req["x"]), conv(req["w"])
    L = loss_of(cs, X, W)
    if not req["grad"]:
        return L, None, None, None
    gx, gw = analytic_grads(cs, X, W)
    if c.get("no_numeric"):
        return L, gx, gw, mpf(0)
    mp.prec = DIFF_PREC
    nx, nw = numeric_grads(cs, X, W)
    mp.prec = REF_PREC
    worst = max(abs(a - b) for A, B in ((gx, nx), (gw, nw)) for ra, rb in zip(A, B) for a, b in zip(ra, rb))
    return L, gx, gw, worst


def judge_number(name, ref, got, problems):
    q = frac_of_mpf(ref)
    tol = Fraction(1, 2 ** 600)
    v = got.get("value")
    if v is None:
        problems.append(f"{name}: no value")
        return 0
    gv = Fraction(v)
    if q == 0:
        if gv != 0:
            problems.append(f"{name}: value {v} for an exact 0")
    elif abs(gv - q) > abs(q) * Fraction(1, 2 ** (PREC - 2)):
        problems.append(f"{name}: value {v} vs {mpmath.nstr(ref, 30)}")
    undecided = 0
    for fmt, (p, emin) in (("f64", F64), ("f32", F32)):
        if q != 0 and near_boundary(q, p, emin, tol):
            undecided += 1
            continue
        want = round_frac(q, p, emin)
        have = hex_frac(got[fmt])
        if have != want:
            problems.append(f"{name}: {fmt} {got[fmt]} vs {float(want).hex()}")
    return undecided


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "debug", "asoftmax-spec"))
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    cases = random_cases(rng) + special_cases() + family_cases(rng)
    for i, c in enumerate(cases):
        c["req"]["id"] = i
    text = "\n".join(json.dumps(c["req"]) for c in cases) + "\n"
    run = subprocess.run([a.bin, "eval"], input=text, capture_output=True, text=True)
    outs = [json.loads(l) for l in run.stdout.splitlines() if l.strip()]
    if len(outs) != len(cases):
        print(f"expected {len(cases)} output lines, got {len(outs)}: {run.stderr}")
        return 2
    failed = undecided = 0
    worst_self = mpf(0)
    for c, out in zip(cases, outs):
        problems = []
        req = c["req"]
        if c["expect_error"] is not None:
            err = out.get("error", "")
            if c["expect_error"] not in err or out.get("line") != req["id"] + 1:
                problems.append(f"expected an error line with {c['expect_error']!r}, got {json.dumps(out)[:200]}")
        elif "error" in out:
            problems.append(f"unexpected error: {out['error']}")
        elif "cos" in req:
            u, rel = judge_family(c, out, problems)
            undecided += u
            worst_self = max(worst_self, rel)
        else:
            L, gx, gw, worst = reference(c)
            undecided += judge_number("loss", L, out, problems)
            if gx is not None:
                scale = max([abs(v) for r in gx + gw for v in r] + [mpf(1)])
                if worst > scale * mpf(2) ** -300:
                    problems.append(f"SELF-CHECK: analytic and numerical gradients differ by {mpmath.nstr(worst, 5)}")
                worst_self = max(worst_self, worst / scale)
                for gname, G in (("grad_x", gx), ("grad_w", gw)):
                    for i, row in enumerate(G):
                        for k, ref in enumerate(row):
                            undecided += judge_number(f"{gname}[{i}][{k}]", ref, out[gname][i][k], problems)
        if problems:
            failed += 1
            print(f"FAIL case {req['id']} ({req['head']} {req.get('fallback', '')} {req.get('margin', '')} {req.get('semantics', '')}):")
            for p in problems[:6]:
                print("   ", p)
        elif a.v:
            print(f"ok   case {req['id']} ({req['head']} {req.get('fallback', '')} {req.get('semantics', '')})")
    print(f"largest analytic-vs-numerical gradient gap (relative): {mpmath.nstr(worst_self, 3)}")
    print(f"crosscheck_heads: {len(cases)} cases, {failed} failed, {undecided} roundings undecided")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
