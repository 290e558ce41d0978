#!/usr/bin/env python3
"""Independent mpmath cross-check of the `loss`, `lambda`, `angular_margin` and
`m_min` ops of `asoftmax-spec eval`.

Nothing here is ported from the Rust code: the loss and its gradients are
implemented from the mathematics (docs at the top of src/loss.rs and
/work/shared/notes/asoftmax-math.md), with mpmath floats and Python Fractions.

The loss
--------
Sample x (label y), class rows W_j, r = |x|, nu_j = |W_j|, c_j = W_j.x/(nu_j r).
psi(c) for integer m: k = #{j in 1..m-1 : c < cos(j pi/m)}, psi = (-1)^k T_m(c) - 2k,
phi(c) = (lambda c + psi(c))/(1 + lambda).

    a_softmax:  f_j = s r c_j            (j != y),   f_y = s r phi(c_y)
    l_softmax:  f_j = s nu_j r c_j = s W_j.x,        f_y = s nu_y r phi(c_y)
    l_n = log(1 + sum_{j != y} exp(f_j - f_y)),  L = mean_n l_n.

Gradients, way 1: analytic (derived here)
-----------------------------------------
dl/df_j = a_j = p_j - [j = y], p = softmax(f) (a_y = -sum_{j!=y} e_j / sum e_j, no
cancellation).  Write the target logit as s*kappa*r*h(c) with kappa = 1 (A) or nu (L)
and h = phi ("full") or h(c) = c ("detached_margin", see below).  With
dr/dx = x/r, dc/dx = (w^ - c x/r)/r, dc/dW = P/(nu r), P = x - (W.x/W.W) W
(computed exactly over the rationals):

    d(r h)/dx      = h' w^ + (h - c h') x/r           d(r h)/dW      = h' P/nu
    d(nu r h)/dx   = h' W + (h - c h') (nu/r) x       d(nu r h)/dW   = (r h/nu) W + h' P
    non-target:  A: d/dx = s w^_j, d/dW_j = s P_j/nu_j;   L: d/dx = s W_j, d/dW_j = s x
    h = phi: h' = (lambda + psi')/(1+lambda), h - c h' = (psi - c psi')/(1+lambda),
             psi'(c) = (-1)^k m U_{m-1}(c)  (d T_m/dc = m U_{m-1});
    h = c:   h' = 1, h - c h' = 0  (so A: s w^_y, s P_y/nu_y; L: s W_y, s x).

Gradients, way 2: numerical differentiation (mpmath.diff at mp.prec = 600 + extra,
i.e. central differences with step 2^-(610+extra) at 2*(620+extra) working bits;
extra = twice the largest bit size of an input, for wide-range inputs) of
  * full:      l_n(X, W) itself;
  * detached:  the stop-gradient loss
        L_det(X', W') = mean_n log(1 + sum_{j!=y} exp(g_j(X',W') - g_y(X',W') - delta_n)),
    where g are the plain cosine logits (g_j = s r c_j resp. s W_j.x for every j,
    including the target) and delta_n = f_y - g_y evaluated at the base point (X, W)
    and frozen.  At the base point L_det equals the loss value, its softmax is the
    softmax of the margin logits, and its gradient is sum_j (p_j - [j=y]) dg_j --
    exactly "probabilities from the margin logits, target differentiated as its
    plain-cosine version" (equivalently the gradient of sum_j stopgrad(p_j) g_j - g_y).
    This route never forms p or a_j explicitly, so it checks the analytic one.
The numerical route evaluates psi in plain mpmath floats (psi_c: Chebyshev recurrence
on the rounded c, branch count against mpmath cos(j pi/m)); the analytic route uses
the exact Q(c) form below, so the two also cross-check the psi evaluations.
Both ways must agree (to 2^-(400+extra) of the scale of the terms) before the binary
is judged (a disagreement is reported as SELF-CHECK); the binary is compared with
the analytic values.

Cases (deterministic, --seed): the grid variant x backward x lambda {0,5,1000} x
s {1,64} x m {1,2,4} with random exact decimal inputs (N <= 3, C <= 4, d <= 4, some
zero components); adversarial inputs (x parallel / within 1e-30 of parallel to its
class row, antiparallel, c within ~1e-22 of and exactly at cos(j pi/m) for m = 4 and
m = 2, C = 1, JSON-number and hex-string inputs, a mixed batch); loss and gradients
~e^-722 (subnormal f64) and ~e^-806 (signed-zero f64); a loss beyond the f64 range
("inf") with x ~ 1e305 at distance ~1e-305 from a branch point; one value-only request;
9 lambda schedules (lambda_min winning, non-integer power, base 1500/gamma 0.1);
angular_margin for m in {1, 2, 4, 1.7} x 5 angles; m_min for both settings (79 digits,
and the binary value is a root of m^2 - 4m + 1 to 70 digits).

Checks against the binary (requests use prec 128 for loss/lambda/angular_margin,
256 for m_min):
  * `value`: the exact number of significant digits ceil(prec log10 2)+1, error < 1
    unit in its last digit, and relative error <= 2^-(prec-2);
  * `f64` / `f32`: the reference rounded here (Fractions, nearest-even, subnormals,
    overflow) compared bit for bit, sign of zero included;
  * every gradient component likewise; a component that is mathematically 0 (zero at
    two working precisions relative to the sum of |terms|) must be "0" with f64/f32
    +-0x0p+0;
  * `tie_format`, `tie_bound` and `zero_bound` must be absent (retired fields, issue
    11): their presence is counted apart ("retired"), as are error lines ("errors").
References are computed at 640+extra and 960+1.5*extra bits; the difference (plus a
margin) is the error bound used to decide roundings (undecided -> recomputed at 4x
the precision).  psi, psi', phi, phi' and psi - c psi' of the target are formed
exactly in Q(c) (c = +-sqrt(q), q = (W.x)^2/(W.W x.x) rational; T_m and U_{m-1} by
their recurrences there, branch index by exact comparison with cos(j pi/m) whose
square is rational for m in {1,2,3,4,6}), so ill-conditioned points such as x at
distance 1e-305 from a branch point are still evaluated to full relative accuracy.

The extreme classes of issue 11 (own reference, see "The extreme classes of issue 11"
below: an exact rational part plus an exponentially small tail; agrees with the
reference above on every number of the cases above):
  * saturated: logit gaps 40 ... 10^6, the target or another class dominating, m = 1
    and 4, A- and L-Softmax, both backwards, with s chosen so that a gradient's exact
    part is an f32/f64 rounding midpoint: the value is within e^-gap of it and must be
    rounded to the correct side (the issue's example is the first case);
  * tiny_grad: gradient components (and losses) of 1e-40 ... e^-10^6, including rows
    differing by 1e-400: nonzero decimals with the right sign, signed zeros;
  * equal_logits: p exactly 1/2 or 1/3 (and the batch mean's 1/3): values that are
    midpoints, rounded ties-to-even; exact zeros;
  * near_equal: logits differing by 1e-40 or 1e-20000 (20,000-digit inputs): values
    within that of a midpoint, never a tie.
Semantics checked there: f32/f64 the correct rounding (nearest, ties to even,
subnormals, overflow, signed zeros); a nonzero value's decimal nonzero, right sign,
within one unit of its last digit; "0" only for an exact zero.

Usage: python3 scripts/crosscheck_loss.py [--bin PATH] [--seed N] [--keep FILE]
           [--extended] [--classes grid,saturated,tiny_grad,equal_logits,near_equal]
           [--failures FILE] [-v]
--extended also checks the extreme reference against the direct formulas at
gap*log2(e) + prec + 128 bits (minutes with gmpy2, much longer without).
Prints a table per class and `crosscheck_loss: N cases, F failed ...`; exit 0 iff
nothing failed, no error line and no retired field (2 on setup errors).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

try:
    import mpmath
    from mpmath import mp, mpf
    from mpmath.libmp import from_rational
except ImportError:  # pragma: no cover
    sys.exit("crosscheck_loss.py needs mpmath")

# Long decimal inputs (20,000 digits) and tiny decimal outputs (e-434294) need big
# int <-> str conversions.
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BIN = os.path.join(REPO, "target", "debug", "asoftmax-spec")
LOSS_PREC = 128
MMIN_PREC = 256
P1, P2 = 640, 960          # reference working precisions (bits)
DIFF_PREC = 600            # mp.prec for mpmath.diff


# ---------------------------------------------------------------------------
# Exact numbers
# ---------------------------------------------------------------------------

HEX_RE = re.compile(r"^([+-]?)0x([0-9a-f]*)(?:\.([0-9a-f]*))?p([+-]?\d+)$", re.I)


def parse_hex(s: str) -> Fraction:
    m = HEX_RE.match(s.strip())
    if not m:
        raise ValueError(f"not a C99 hex float: {s!r}")
    sign, ip, fp, e = m.group(1), m.group(2) or "0", m.group(3) or "", int(m.group(4))
    mant = int(ip + fp, 16) if (ip + fp) else 0
    v = Fraction(mant) * Fraction(2) ** (e - 4 * len(fp))
    return -v if sign == "-" else v


def parse_hex_signed(s: str):
    """(|value| as Fraction or 'inf', negative?) -- so that -0x0p+0 is distinguishable."""
    s = s.strip()
    if s.lower() in ("inf", "+inf", "infinity"):
        return ("inf", False)
    if s.lower() in ("-inf", "-infinity"):
        return ("inf", True)
    return (abs(parse_hex(s)), s.startswith("-"))


def exact_of_input(v) -> Fraction:
    """The exact number denoted by an input field (eval contract)."""
    if isinstance(v, bool):
        raise TypeError
    if isinstance(v, int):
        return Fraction(v)
    if isinstance(v, float):
        return Fraction(v)  # a JSON number denotes the f64 it rounds to
    s = v.strip()
    if "0x" in s.lower():
        return parse_hex(s)
    return Fraction(s)


def to_mpf(q: Fraction):
    """q correctly rounded to the current mp precision."""
    return mp.make_mpf(from_rational(q.numerator, q.denominator, mp.prec, "n"))


def mpf_to_frac(x) -> Fraction:
    sign, man, exp, _ = x._mpf_  # exact: no rounding to the current precision
    man, exp = int(man), int(exp)
    if man == 0:
        return Fraction(0)  # (mpmath has no NaN/inf here)
    v = Fraction(man << exp) if exp >= 0 else Fraction(man, 1 << -exp)
    return -v if sign else v


def dot(u, v):
    return sum((a * b for a, b in zip(u, v)), Fraction(0))


# ---------------------------------------------------------------------------
# IEEE rounding (nearest, ties to even, subnormals, overflow) over Fractions
# ---------------------------------------------------------------------------

FORMATS = {"f64": (53, -1022, 1023), "f32": (24, -126, 127)}


def round_ieee(x: Fraction, fmt: str):
    """Returns (|rounded x| as Fraction or 'inf', negative?)."""
    p, emin, emax = FORMATS[fmt]
    if x == 0:
        return (Fraction(0), False)
    neg = x < 0
    a = -x if neg else x
    e = a.numerator.bit_length() - a.denominator.bit_length()  # 2^(e-1) < a < 2^(e+1)
    if e < emin - p - 1:  # below half the smallest subnormal: a signed zero
        return (Fraction(0), neg)
    if e > emax + 2:
        return ("inf", neg)
    if Fraction(2) ** e > a:
        e -= 1
    elif Fraction(2) ** (e + 1) <= a:
        e += 1
    q = max(e - (p - 1), emin - (p - 1))
    scaled = a / (Fraction(2) ** q)
    n = scaled.numerator // scaled.denominator
    rem = scaled - n
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and n % 2 == 1):
        n += 1
    r = n * Fraction(2) ** q
    if r >= Fraction(2) ** (emax + 1):
        return ("inf", neg)
    return (r, neg)


def round_decided(ref: Fraction, err: Fraction, fmt: str):
    """Rounding of every number in [ref-err, ref+err], or None if not unique."""
    lo, hi = round_ieee(ref - err, fmt), round_ieee(ref + err, fmt)
    if lo != hi:
        return None
    return lo


def fmt_rounded(r) -> str:
    """A rounding as the oracle writes it (C99 hex, no trailing zeros, signed zero, inf)."""
    v, neg = r
    if v == "inf":
        return ("-" if neg else "") + "inf"
    if v == 0:
        return ("-" if neg else "") + "0x0p+0"
    mant, _, ex = float(abs(v)).hex().partition("p")
    return ("-" if neg else "") + mant.rstrip("0").rstrip(".") + "p" + ex


def decimal_digits_required(prec: int) -> int:
    # ceil(prec*log10 2) = number of decimal digits of 2^prec (2^prec is no power of 10)
    return len(str(2 ** prec)) + 1


def sig_digits(s: str) -> int:
    mant = s.lstrip("+-").split("e")[0].split("E")[0].replace(".", "")
    return len(mant.lstrip("0")) if mant.strip("0") else len(mant)


def decimal_unit(s: str) -> Fraction:
    """One unit in the last printed digit of decimal string s."""
    body = s.lstrip("+-")
    mant, _, ex = body.lower().partition("e")
    e = int(ex) if ex else 0
    frac_digits = len(mant.split(".")[1]) if "." in mant else 0
    return Fraction(10) ** (e - frac_digits)


# ---------------------------------------------------------------------------
# Reference mathematics (mpmath, at the current precision)
# ---------------------------------------------------------------------------

def cheb(m: int, c):
    """(T_m(c), U_{m-1}(c)) by the three-term recurrences."""
    t0, t1 = mpf(1), c
    u0, u1 = mpf(0), mpf(1)  # U_{-1}, U_0
    if m == 0:
        return t0, mpf(0)
    for _ in range(m - 1):
        t0, t1 = t1, 2 * c * t1 - t0
        u0, u1 = u1, 2 * c * u1 - u0
    return t1, u1


def psi_c(m: int, c):
    """(psi(c), psi'(c)) for integer m >= 1."""
    k = sum(1 for j in range(1, m) if c < mpmath.cos(j * mp.pi / m))
    t, u = cheb(m, c)
    sg = -1 if k % 2 else 1
    return sg * t - 2 * k, sg * m * u


# ---- psi in exact arithmetic: elements A + B*c of Q(c), c = sigma*sqrt(q), q rational ----
# (the reference path: near a branch point, psi'(c) and the branch index are decided
# exactly instead of from a rounded c)

def qc_mul(u, v, q):
    return (u[0] * v[0] + u[1] * v[1] * q, u[0] * v[1] + u[1] * v[0])


def qc_eval(u, c):
    """A + B*c as an mpf (c given as an mpf at the current precision)."""
    A, B = u
    return (to_mpf(A) if A else mpf(0)) + (to_mpf(B) * c if B else mpf(0))


# cos(j pi/m) as (sign, square) when the square is rational (m in {1, 2, 3, 4, 6})
_COS_SQ = {
    1: [], 2: [(0, Fraction(0))], 3: [(1, Fraction(1, 4)), (-1, Fraction(1, 4))],
    4: [(1, Fraction(1, 2)), (0, Fraction(0)), (-1, Fraction(1, 2))],
    6: [(1, Fraction(3, 4)), (1, Fraction(1, 4)), (0, Fraction(0)), (-1, Fraction(1, 4)),
        (-1, Fraction(3, 4))],
}


def signed_sqrt_less(s1, q1, s2, q2):
    """s1*sqrt(q1) < s2*sqrt(q2), exactly (s = sign in {-1, 0, 1})."""
    s1, s2 = (0 if q1 == 0 else s1), (0 if q2 == 0 else s2)
    if s1 != s2:
        return s1 < s2
    if s1 == 0:
        return False
    return q1 < q2 if s1 > 0 else q1 > q2


def psi_exact(m: int, sigma: int, q: Fraction, c):
    """(psi, psi') as elements of Q(c) for c = sigma*sqrt(q); c (mpf) is only used to
    count branches when m has irrational threshold squares."""
    if m in _COS_SQ:
        k = sum(1 for (ts, tq) in _COS_SQ[m] if signed_sqrt_less(sigma, q, ts, tq))
    else:
        k = sum(1 for j in range(1, m) if c < mpmath.cos(j * mp.pi / m))
    one, zero, cc = (Fraction(1), Fraction(0)), (Fraction(0), Fraction(0)), (Fraction(0), Fraction(1))
    t0, t1 = one, cc          # T_0, T_1
    u0, u1 = zero, one        # U_{-1}, U_0
    for _ in range(m - 1):
        two_c = (Fraction(0), Fraction(2))
        t0, t1 = t1, tuple(a - b for a, b in zip(qc_mul(two_c, t1, q), t0))
        u0, u1 = u1, tuple(a - b for a, b in zip(qc_mul(two_c, u1, q), u0))
    sg = -1 if k % 2 else 1
    psi = (sg * t1[0] - 2 * k, sg * t1[1])
    dpsi = (sg * m * u1[0], sg * m * u1[1])
    return psi, dpsi


def self_test_psi():
    """psi from c (branch count) vs psi from the angle, psi' vs numeric diff, and the
    exact Q(c) evaluation vs the floating one."""
    with mp.workprec(200):
        for m in (1, 2, 3, 4, 5, 6):
            for c in ("-0.999", "-0.7", "-0.3", "0.01", "0.4", "0.69", "0.72", "0.95", "1", "-1",
                      "0.5", "-0.5", "0"):
                cc = mpf(c)
                th = mpmath.acos(cc)
                k = min(int(mpmath.floor(m * th / mp.pi)), m - 1)
                want = (-1) ** k * mpmath.cos(m * th) - 2 * k
                got, d = psi_c(m, cc)
                assert abs(got - want) < mpf(2) ** -180, (m, c, got, want)
                if abs(cc) < 1:
                    dn = mpmath.diff(lambda t: psi_c(m, t)[0], cc)
                    assert abs(d - dn) < mpf(2) ** -150 * (1 + abs(d)), (m, c, d, dn)
                fr = Fraction(c)
                pe, de = psi_exact(m, 1 if fr > 0 else -1, fr * fr, cc)
                assert abs(qc_eval(pe, cc) - got) < mpf(2) ** -180, (m, c)
                assert abs(qc_eval(de, cc) - d) < mpf(2) ** -150 * (1 + abs(d)), (m, c)


class Case:
    def __init__(self, req):
        self.req = req
        self.X = [[exact_of_input(v) for v in row] for row in req["x"]]
        self.W = [[exact_of_input(v) for v in row] for row in req["w"]]
        self.y = list(req["y"])
        self.m = int(exact_of_input(req["m"]))
        self.lam = exact_of_input(req["lambda"])
        self.s = exact_of_input(req["scale"])
        self.lsm = req["variant"] == "l_softmax"
        self.det = req["backward"] == "detached_margin"
        self.N, self.C, self.d = len(self.X), len(self.W), len(self.X[0])
        # extra working bits for inputs with a wide dynamic range or fine structure
        # (e.g. 1e305 next to 3, or 1 + 1e-22): twice the largest bit size of an input
        bits = max(v.numerator.bit_length() + v.denominator.bit_length()
                   for row in self.X + self.W for v in row)
        self.extra = 2 * bits
        self.P1 = P1 + self.extra
        self.P2 = P2 + self.extra + self.extra // 2


def sample_pieces(case: Case, n: int):
    """Everything about sample n at the current precision (exact dot products)."""
    x, y = case.X[n], case.y[n]
    xx = dot(x, x)
    r = mpmath.sqrt(to_mpf(xx))
    lam, s = to_mpf(case.lam), to_mpf(case.s)
    out = []
    for j, wj in enumerate(case.W):
        ww, wx = dot(wj, wj), dot(wj, x)
        nu = mpmath.sqrt(to_mpf(ww))
        # c = wx/sqrt(ww xx) from the exact square c^2 = wx^2/(ww xx)
        c2 = Fraction(wx * wx) / (ww * xx)
        c = mpmath.sqrt(to_mpf(c2)) * (1 if wx >= 0 else -1)
        P = [xi - (wx / ww) * wi for xi, wi in zip(x, wj)]  # exact
        kappa = nu if case.lsm else mpf(1)
        plain = s * kappa * r * c
        if j == y:
            # psi, psi', phi, phi', psi - c psi' exactly in Q(c), evaluated once
            pe, de = psi_exact(case.m, 1 if wx > 0 else -1, c2, c)
            L1 = case.lam + 1
            phi_e = ((pe[0] / L1), (pe[1] + case.lam) / L1)
            ps, dps = qc_eval(pe, c), qc_eval(de, c)
            phi = qc_eval(phi_e, c)
            f = s * kappa * r * phi
            if case.det:
                h1, hq, hq_abs = mpf(1), mpf(0), mpf(0)
            else:
                h1 = qc_eval(((de[0] + case.lam) / L1, de[1] / L1), c)
                cd = (de[1] * c2, de[0])  # c * psi'
                hq = qc_eval(((pe[0] - cd[0]) / L1, (pe[1] - cd[1]) / L1), c)
                hq_abs = (abs(ps) + abs(c * dps)) / (1 + lam)
            hval = c if case.det else phi
        else:
            f, h1, hq, hq_abs, hval = plain, None, None, None, None
        out.append(dict(nu=nu, c=c, P=P, f=f, plain=plain, h1=h1, hq=hq,
                        hq_abs=hq_abs, h=hval, w=wj))
    return r, out


def reference(case: Case, prec: int):
    """(L, [N x d] grad_x, [C x d] grad_w), each entry (value mpf, abs-sum scale mpf),
    plus per-sample (l_n, max|f|)."""
    with mp.workprec(prec):
        s = to_mpf(case.s)
        N, C, d = case.N, case.C, case.d
        gx = [[[mpf(0), mpf(0)] for _ in range(d)] for _ in range(N)]
        gw = [[[mpf(0), mpf(0)] for _ in range(d)] for _ in range(C)]
        total = mpf(0)
        per = []
        for n in range(N):
            x, y = case.X[n], case.y[n]
            r, pcs = sample_pieces(case, n)
            fy = pcs[y]["f"]
            D = [pcs[j]["f"] - fy for j in range(C)]
            others = mpmath.fsum(mpmath.exp(D[j]) for j in range(C) if j != y)
            ell = mpmath.log1p(others)
            total += ell
            per.append((ell, max(abs(p["f"]) for p in pcs)))
            if C == 1:
                continue
            fmax = max(p["f"] for p in pcs)
            e = [mpmath.exp(p["f"] - fmax) for p in pcs]
            Z = mpmath.fsum(e)
            a = [e[j] / Z for j in range(C)]
            a[y] = -mpmath.fsum(e[j] for j in range(C) if j != y) / Z
            xm = [to_mpf(v) for v in x]
            for j, p in enumerate(pcs):
                wm = [to_mpf(v) for v in p["w"]]
                Pm = [to_mpf(v) for v in p["P"]]
                nu = p["nu"]
                coef = a[j] * s / N
                for i in range(d):
                    tx, tw = [], []  # (term, |term|) contributions
                    if j != y:
                        if case.lsm:
                            tx.append(coef * wm[i])
                            tw.append(coef * xm[i])
                        else:
                            tx.append(coef * wm[i] / nu)
                            tw.append(coef * Pm[i] / nu)
                        ax = [abs(t) for t in tx]
                        aw = [abs(t) for t in tw]
                    else:
                        h1, hq, hq_abs, h = p["h1"], p["hq"], p["hq_abs"], p["h"]
                        if case.lsm:
                            tx = [coef * h1 * wm[i], coef * hq * (nu / r) * xm[i]]
                            ax = [abs(tx[0]), abs(coef * hq_abs * (nu / r) * xm[i])]
                            tw = [coef * (r * h / nu) * wm[i], coef * h1 * Pm[i]]
                            aw = [abs(t) for t in tw]
                        else:
                            tx = [coef * h1 * wm[i] / nu, coef * hq * xm[i] / r]
                            ax = [abs(tx[0]), abs(coef * hq_abs * xm[i] / r)]
                            tw = [coef * h1 * Pm[i] / nu]
                            aw = [abs(t) for t in tw]
                    gx[n][i][0] += mpmath.fsum(tx)
                    gx[n][i][1] += mpmath.fsum(ax)
                    gw[j][i][0] += mpmath.fsum(tw)
                    gw[j][i][1] += mpmath.fsum(aw)
        L = total / N
        return L, gx, gw, per


# ---- loss as a function of mpf inputs, for numerical differentiation -------

def ell_mpf(case: Case, x, W, y, delta=None):
    """l_n with mpf inputs x (vector) and W (rows); delta != None: the frozen-margin
    (stop-gradient) loss with plain target logit + delta."""
    s = case.s_m
    r = mpmath.sqrt(mpmath.fsum(v * v for v in x))
    f = []
    for j, wj in enumerate(W):
        nu = mpmath.sqrt(mpmath.fsum(v * v for v in wj))
        c = mpmath.fdot(wj, x) / (nu * r)
        kappa = nu if case.lsm else 1
        if j == y and delta is None:
            ps, _ = psi_c(case.m, c)
            f.append(s * kappa * r * (case.lam_m * c + ps) / (1 + case.lam_m))
        elif j == y:
            f.append(s * kappa * r * c + delta)
        else:
            f.append(s * kappa * r * c)
    return mpmath.log1p(mpmath.fsum(mpmath.exp(f[j] - f[y]) for j in range(len(W)) if j != y))


def numeric_grads(case: Case):
    """grad_x, grad_w of the mean loss (full) or of L_det (detached) by mpmath.diff."""
    dprec = DIFF_PREC + case.extra
    with mp.workprec(2 * dprec + 200):
        Xm = [[to_mpf(v) for v in row] for row in case.X]
        Wm = [[to_mpf(v) for v in row] for row in case.W]
        case.s_m, case.lam_m = to_mpf(case.s), to_mpf(case.lam)
        deltas = []
        for n in range(case.N):
            if case.det:
                # delta_n = f_y - (plain target logit), frozen at the base point
                y = case.y[n]
                x = Xm[n]
                r = mpmath.sqrt(mpmath.fsum(v * v for v in x))
                wy = Wm[y]
                nu = mpmath.sqrt(mpmath.fsum(v * v for v in wy))
                c = mpmath.fdot(wy, x) / (nu * r)
                ps, _ = psi_c(case.m, c)
                kappa = nu if case.lsm else 1
                phi = (case.lam_m * c + ps) / (1 + case.lam_m)
                deltas.append(case.s_m * kappa * r * (phi - c))
            else:
                deltas.append(None)
    N, C, d = case.N, case.C, case.d
    gx = [[mpf(0)] * d for _ in range(N)]
    gw = [[mpf(0)] * d for _ in range(C)]
    with mp.workprec(dprec):
        if C == 1:
            return gx, gw
        for n in range(N):
            y = case.y[n]
            for i in range(d):
                def gxf(t, n=n, i=i):
                    x = list(Xm[n]); x[i] = t
                    return ell_mpf(case, x, Wm, y, deltas[n])
                gx[n][i] = mpmath.diff(gxf, Xm[n][i]) / N
            for j in range(C):
                for i in range(d):
                    def gwf(t, n=n, j=j, i=i):
                        W = [list(row) for row in Wm]; W[j][i] = t
                        return ell_mpf(case, Xm[n], W, y, deltas[n])
                    gw[j][i] += mpmath.diff(gwf, Wm[j][i]) / N
    return gx, gw


# ---------------------------------------------------------------------------
# Judging one number
# ---------------------------------------------------------------------------

#: Output fields of the old tie/zero rules, being retired (issue 11): a proven value needs
#: no flag, an unproven one is an error line. Their presence is counted apart.
RETIRED_FIELDS = ("tie_format", "tie_bound", "zero_bound")


class Checker:
    def __init__(self, verbose=False):
        self.failures = []
        self.retired = []   # (where, fields): retired fields present
        self.errors = []    # (case id, class, error text): error lines
        self.case = None    # (id, class) of the request being checked
        self.failed_cases, self.retired_cases = set(), set()
        self.case_msgs = {}  # (id, class) -> messages
        self.undecided_cases = set()
        self.checks = 0
        self.verbose = verbose
        self.max_zero_bound = Fraction(0)
        self.undecided = 0
        self.notes = []  # remarks that are not failures
        self.stats = {"zero_exact": 0, "zero_bound": 0, "f64_subnormal": 0, "f64_zero": 0,
                      "f32_subnormal": 0, "f32_zero": 0, "refined": 0}

    def fail(self, where, msg):
        self.failures.append(f"{where}: {msg}")
        if self.case is not None:
            self.failed_cases.add(self.case)
            self.case_msgs.setdefault(self.case, []).append(f"{where}: {msg}")

    def retire(self, where, got):
        """Notes retired fields in an output number (a failure of its own kind)."""
        fields = [f for f in RETIRED_FIELDS if isinstance(got, dict) and f in got]
        if fields:
            self.retired.append((where, fields))
            if self.case is not None:
                self.retired_cases.add(self.case)
                self.case_msgs.setdefault(self.case, []).append(
                    f"{where}: retired field(s) present: {', '.join(fields)}")
        return fields

    def number(self, where, got, ref: Fraction, err: Fraction, prec: int, is_zero=False,
               refine=None):
        """got: the output object {value,f64,f32}; ref +- err the reference.
        refine(): a better (ref, err) when the rounding is undecided."""
        self.checks += 1
        if not isinstance(got, dict) or "value" not in got:
            return self.fail(where, f"missing number: {got!r}")
        self.retire(where, got)
        val = got["value"]
        try:
            g64 = parse_hex_signed(got["f64"])
            g32 = parse_hex_signed(got["f32"])
        except Exception as e:  # noqa: BLE001
            return self.fail(where, f"bad hex float: {e}")
        if is_zero:
            ok = val == "0" and g64[0] == 0 and g32[0] == 0
            if not ok:
                return self.fail(where, f"mathematically 0 (|ref| <= {float(abs(ref)+err):.3g}), "
                                        f"got value={val} f64={got['f64']} f32={got['f32']}")
            if "zero_bound" in got:
                zb = parse_hex(got["zero_bound"])
                self.max_zero_bound = max(self.max_zero_bound, zb)
                self.stats["zero_bound"] += 1
            else:
                self.stats["zero_exact"] += 1
            return
        # decide the roundings, refining the reference if needed
        r64 = round_decided(ref, err, "f64")
        r32 = round_decided(ref, err, "f32")
        tries = 0
        while (r64 is None or r32 is None) and refine is not None and tries < 2:
            self.stats["refined"] += 1
            ref, err = refine(tries)
            tries += 1
            r64 = round_decided(ref, err, "f64")
            r32 = round_decided(ref, err, "f32")
        if r64 is None or r32 is None:
            self.undecided += 1
            return self.fail(where, f"reference too close to a rounding boundary to decide "
                                    f"(ref={float(ref)!r}, err={float(err):.3g})")
        if val == "0":
            return self.fail(where, f"value 0 but reference {mpmath.nstr(to_mpf_hp(ref), 20)}")
        try:
            fv = Fraction(val)
        except (ValueError, ZeroDivisionError):
            return self.fail(where, f"unparsable value {val!r}")
        need = decimal_digits_required(prec)
        if sig_digits(val) != need:
            self.fail(where, f"value {val} has {sig_digits(val)} significant digits, expected {need}")
        unit = decimal_unit(val)
        dist = abs(fv - ref)
        if dist + err >= unit:
            self.fail(where, f"value {val} is {float(dist / unit):.3g} units of its last digit "
                             f"from the reference {mpmath.nstr(to_mpf_hp(ref), need + 3)}")
        if ref != 0 and dist + err > abs(ref) * Fraction(1, 2 ** (prec - 2)):
            self.fail(where, f"value {val}: relative error {float((dist) / abs(ref)):.3g} "
                             f"> 2^-{prec - 2}")
        for fmt, want in (("f64", r64), ("f32", r32)):
            lim = Fraction(2) ** (-1022 if fmt == "f64" else -126)
            if want[0] == 0:
                self.stats[fmt + "_zero"] += 1
            elif want[0] != "inf" and want[0] < lim:
                self.stats[fmt + "_subnormal"] += 1
        for fmt, want, have in (("f64", r64, g64), ("f32", r32, g32)):
            if want != have:
                self.fail(where, f"{fmt} = {got[fmt]}, correctly rounded is {fmt_rounded(want)} "
                                 f"(ref {mpmath.nstr(to_mpf_hp(ref), 25)})")


def to_mpf_hp(q: Fraction):
    with mp.workprec(200):
        return to_mpf(q)


# ---------------------------------------------------------------------------
# Case generation
# ---------------------------------------------------------------------------

def dec_str(rng: random.Random, allow_zero=True) -> str:
    if allow_zero and rng.random() < 0.08:
        return "0"
    k = rng.randint(1, 6)
    mant = rng.randint(10 ** (k - 1), 10 ** k - 1)
    e = -k + rng.choice([0, 0, 1])            # magnitude in [0.1, 10)
    if e == -k + 1 and mant >= 3 * 10 ** (k - 1):
        e -= 1
    q = Fraction(mant) * Fraction(10) ** e
    sign = "-" if rng.random() < 0.5 else ""
    return sign + frac_to_dec(q)


def frac_to_dec(q: Fraction) -> str:
    """Exact decimal string of a Fraction whose denominator divides a power of 10."""
    neg = q < 0
    q = abs(q)
    k = 0
    while (q * 10 ** k).denominator != 1:
        k += 1
        assert k < 200
    n = (q * 10 ** k).numerator
    s = str(n).rjust(k + 1, "0")
    s = s[:-k] + "." + s[-k:] if k else s
    return ("-" if neg else "") + s


def rand_row(rng, d):
    while True:
        row = [dec_str(rng) for _ in range(d)]
        if any(Fraction(v) != 0 for v in row):
            return row


def loss_req(variant, backward, lam, s, m, x, w, y, grad=True):
    return {"op": "loss", "variant": variant, "m": m, "lambda": lam, "scale": s,
            "x": x, "w": w, "y": y, "grad": grad, "backward": backward, "prec": LOSS_PREC}


VARIANTS = ("a_softmax", "l_softmax")
BACKWARDS = ("full", "detached_margin")


def generate(seed: int):
    rng = random.Random(seed)
    reqs = []
    # the grid
    for variant in VARIANTS:
        for backward in BACKWARDS:
            for lam in ("0", "5", "1000"):
                for s in ("1", "64"):
                    for m in (1, 2, 4):
                        N, C, d = rng.randint(1, 3), rng.randint(2, 4), rng.randint(2, 4)
                        x = [rand_row(rng, d) for _ in range(N)]
                        w = [rand_row(rng, d) for _ in range(C)]
                        y = [rng.randrange(C) for _ in range(N)]
                        reqs.append(("grid", loss_req(variant, backward, lam, s, m, x, w, y)))
    # adversarial inputs: (name, m, x, w, y)
    tiny = "0." + "0" * 29 + "1"                      # 1e-30
    one_p = "1." + "0" * 21 + "1"                     # 1 + 1e-22
    one_m = "0." + "9" * 22                           # 1 - 1e-22
    adv = [
        ("near_parallel", 4, [["3", "4." + "0" * 29 + "1"]], [["0.6", "0.8"], ["-0.8", "0.6"]], [0]),
        ("near_parallel_3d", 4, [["1.2", "-0.5", tiny]], [["2.4", "-1", "0"], ["0.3", "0.3", "1"], ["-1", "0", "0.2"]], [0]),
        ("parallel_exact", 4, [["1.5", "2"], ["0.3", "-0.1"]], [["0.6", "0.8"], ["1", "-2"]], [0, 1]),
        ("antiparallel", 4, [["-0.6", "-0.8"]], [["3", "4"], ["1", "0"]], [0]),
        ("branch_pi4_above", 4, [["1", one_m]], [["1", "0"], ["0", "1"], ["-1", "-1"]], [0]),
        ("branch_pi4_below", 4, [["1", one_p]], [["1", "0"], ["0", "1"], ["-1", "-1"]], [0]),
        ("branch_pi4_exact", 4, [["2", "2", "0"]], [["1", "0", "0"], ["0", "1", "0.5"]], [0]),
        ("branch_3pi4", 4, [["-1", one_p], ["-1", one_m]], [["1", "0"], ["0.5", "0.5"]], [0, 0]),
        ("branch_pi2_m4", 4, [[tiny, "1"], ["-" + tiny, "1"]], [["1", "0"], ["0", "-1"], ["1", "1"]], [0, 0]),
        ("branch_pi2_m2", 2, [[tiny, "1"], ["-" + tiny, "1"], ["0", "2"]], [["1", "0"], ["0", "-1"]], [0, 0, 0]),
        ("near_parallel_m2", 2, [["-0.7", "0.7" + "0" * 25 + "3", "0.1"]], [["-7", "7", "1"], ["1", "2", "3"]], [0]),
        ("single_class", 4, [["0.3", "-1.2"], ["1", "1"]], [["1", "2"]], [0, 0]),
        ("json_numbers_and_hex", 4, [[0.1, "0x1.8p-1", -0.3]], [["0x1p-2", 0.7, "-0x1.4p+0"], [1.25, -0.2, 0.05]], [1]),
        ("batch_mixed", 4, [["0.9", "0.1"], ["0.1", "0.9"], ["-0.5", "0.5"]], [["1", "0.01"], ["0.02", "1"]], [0, 1, 0]),
    ]
    lam_s = [("0", "1"), ("5", "64"), ("1000", "1"), ("5", "1"), ("0", "64")]
    t = 0
    for name, m, x, w, y in adv:
        for variant in VARIANTS:
            for backward in BACKWARDS:
                lam, s = lam_s[t % len(lam_s)]
                t += 1
                reqs.append((name, loss_req(variant, backward, lam, s, m, x, w, y)))
    # tiny and huge results: loss and gradients ~e^-722 (subnormal f64, f32 0), and a
    # loss beyond the f64 range (f64/f32 "inf", finite gradients)
    big = "1" + "0" * 155
    for variant in VARIANTS:
        for backward in BACKWARDS:
            for m in (1, 4):
                reqs.append(("f64_subnormal", loss_req(variant, backward, "5", "64", m,
                                                        [["11.29", "0"]], [["1", "0"], ["0", "1"]], [0])))
            # second sample's x-gradient ~e^-806: rounds to a signed zero in f64
            reqs.append(("f64_underflow", loss_req(variant, backward, "1000", "64", 4,
                                                    [["11.29", "0"], ["12.6", "0.0001"]],
                                                    [["1", "0"], ["0", "1"]], [0, 0])))
            reqs.append(("overflow", loss_req(variant, backward, "0", "1", 4 if variant == "a_softmax" else 1,
                                               [[big if variant == "l_softmax" else big + "0" * 150, "3"]],
                                               [["-" + big if variant == "l_softmax" else "-1", "1"], ["1", "2"]],
                                               [0])))
    # value only (no gradient fields expected)
    reqs.append(("value_only", loss_req("a_softmax", "full", "5", "1", 4,
                                        [["0.3", "-1.2"]], [["1", "0"], ["0", "3"]], [0], grad=False)))
    # lambda schedule
    for it, extra in ((0, {}), (10, {}), (100, {}), (7, {"power": "0.5"}),
                      (10000, {}),                                 # lambda_min = 5 wins
                      (3, {"base": "1500", "gamma": "0.1"}),
                      (100000, {"base": "1500", "gamma": "0.1", "lambda_min": "5"}),
                      (25, {"power": "1.5", "lambda_min": "0"}),
                      ("12.5", {"base": "1000", "gamma": "0.12", "power": "2", "lambda_min": "0.001"})):
        r = {"op": "lambda", "iter": it, "prec": LOSS_PREC}
        r.update(extra)
        reqs.append(("lambda", r))
    # angular margin
    for m in (1, 2, 4, "1.7"):
        for th in ("0.5", "1", "3.14159", "0.001", "2.5"):
            reqs.append(("angular_margin", {"op": "angular_margin", "m": m, "angle": th,
                                            "prec": LOSS_PREC}))
    for setting in ("binary", "multiclass"):
        reqs.append(("m_min", {"op": "m_min", "setting": setting, "prec": MMIN_PREC}))
    for i, (_, r) in enumerate(reqs):
        r["id"] = i
    return reqs


# ---------------------------------------------------------------------------
# The extreme classes of issue 11: an exact-part-plus-tail reference
# ---------------------------------------------------------------------------
#
# For one sample write f_j for the logits, g_j for the derivative of f_j with respect to
# one input component (the target's g_y under the chosen backward), and split the classes
# into M = {j : f_j = max f} (|M| = mu) and the rest R, with t_j = exp(f_j - max f) < 1
# for j in R, S = sum_R t_j, Z = mu + S. Since sum_j p_j = 1,
#
#     dl/d(component) = sum_j (p_j - [j = y]) g_j = sum_j p_j (g_j - g_y)
#                     = E + (1/Z) sum_{j in R} t_j (g_j - g_y - E),
#     E = (1/mu) sum_{j in M} (g_j - g_y)                                      (*)
#
# (1/Z = 1/mu - S/(mu Z)), and the loss is l = (max f - f_y) + ln(mu + S) (ln1p(S) for
# mu = 1). When the norms |x|, |W_j| the logits need are rational (the generated inputs
# use Pythagorean directions, axis vectors, 1-D vectors or L-Softmax with m = 1), f_j and
# g_j are exact rationals: E and max f - f_y are exact Fractions, and M (hence equal
# logits) is decided exactly. Only the tail, sum_R t_j (...) and ln(mu + S), is
# transcendental; it is small when the softmax saturates (t_j ~ e^-gap), and mpmath
# computes it to a *relative* precision that does not depend on the gap: rounding the
# exponent f_j - max f to P bits costs log2|gap| bits, so P = prec + 64 + log2(max gap)
# bits (about 150 for the cases here) decide which side of a midpoint E + tail lies on,
# however close (e^-1e6 ~ 2^-1442695). A direct evaluation of sum_j p_j g_j - g_y would
# need gap*log2(e) + prec + 64 bits (1.44 million for a gap of 10^6); --extended checks
# (*) against that direct evaluation, at gap*log2(e) + prec + 128 bits, for every case.
# The tail is computed at P and P + 64 bits; twice the difference plus 2^-P relative is
# its error bound, and P doubles until every field is decided. With an irrational norm
# everything is computed that way (exact part 0), which still decides values that are
# not exact midpoints; exact zeros there are left undecided rather than guessed.

class NotExact(Exception):
    """A norm the logits need is irrational: use the floating route."""


def rsqrt_exact(q: Fraction) -> Fraction:
    a, b = math.isqrt(q.numerator), math.isqrt(q.denominator)
    if a * a != q.numerator or b * b != q.denominator:
        raise NotExact()
    return Fraction(a, b)


def cheb_any(m: int, c):
    """(T_m(c), U_{m-1}(c)) by the recurrences, for a Fraction or an mpf c."""
    t0, t1, u0, u1 = 1, c, 0, 1
    for _ in range(m - 1):
        t0, t1 = t1, 2 * c * t1 - t0
        u0, u1 = u1, 2 * c * u1 - u0
    return t1, u1


def branch_exact(m: int, wx: Fraction, c2: Fraction, c_mpf):
    """k = #{j in 1..m-1 : c < cos(j pi/m)} for c = sign(wx)*sqrt(c2): exactly when the
    thresholds' squares are rational (m in 1, 2, 3, 4, 6), else from c_mpf."""
    sigma = 1 if wx > 0 else (-1 if wx < 0 else 0)
    if m in _COS_SQ:
        return sum(1 for (ts, tq) in _COS_SQ[m] if signed_sqrt_less(sigma, c2, ts, tq))
    with mp.workprec(max(mp.prec, 256)):
        return sum(1 for j in range(1, m) if c_mpf < mpmath.cos(j * mp.pi / m))


class XRef:
    """The reference of (*) for one loss request."""

    def __init__(self, req):
        self.req = req
        self.X = [[exact_of_input(v) for v in row] for row in req["x"]]
        self.W = [[exact_of_input(v) for v in row] for row in req["w"]]
        self.y = list(req["y"])
        self.m = int(exact_of_input(req["m"]))
        self.lam = exact_of_input(req.get("lambda", "0"))
        self.s = exact_of_input(req.get("scale", "1"))
        self.lsm = req.get("variant", "a_softmax") == "l_softmax"
        self.det = req.get("backward", "full") == "detached_margin"
        self.N, self.C, self.d = len(self.X), len(self.W), len(self.X[0])
        try:
            self.exact = [self.pieces(n, lambda q: q, rsqrt_exact) for n in range(self.N)]
        except NotExact:
            self.exact = None

    def pieces(self, n, num, sqrt):
        """(f, gx, gw) of sample n: logits f[j], df_j/dx_n[i] and df_j/dW_j[i], with
        num() turning exact inputs into the working number type and sqrt() the root of
        an exact rational (raising NotExact when only exact numbers are wanted)."""
        xe, y = self.X[n], self.y[n]
        x = [num(v) for v in xe]
        s, lam = num(self.s), num(self.lam)
        xx = dot(xe, xe)
        f, gx, gw = [], [], []
        for j, we in enumerate(self.W):
            w = [num(v) for v in we]
            ww, wx = dot(we, we), dot(we, xe)
            P = [a - (wx / ww) * b for a, b in zip(xe, we)] if ww else list(xe)  # exact
            # the plain logit s*kappa*r*c and its derivatives (every class for m = 1, where
            # phi(c) = c; the non-targets; the target's backward under detached_margin)
            if self.lsm:
                fj, gxj, gwj = s * num(wx), [s * v for v in w], [s * v for v in x]
            else:
                nu = sqrt(ww)
                fj, gxj, gwj = s * num(wx) / nu, [s * v / nu for v in w], [s * num(v) / nu for v in P]
            if j == y and self.m > 1:
                r, nu = sqrt(xx), sqrt(ww)
                c2 = wx * wx / (ww * xx)
                c = num(wx) / (nu * r)
                k = branch_exact(self.m, wx, c2, c if not isinstance(c, Fraction) else None)
                t, u = cheb_any(self.m, c)
                sg = -1 if k % 2 else 1
                psi, dpsi = sg * t - 2 * k, sg * self.m * u
                phi = (lam * c + psi) / (1 + lam)
                dphi = (lam + dpsi) / (1 + lam)
                q = (psi - c * dpsi) / (1 + lam)
                kappa = nu if self.lsm else 1
                fj = s * kappa * r * phi
                if not self.det:
                    if self.lsm:
                        gxj = [s * (dphi * a + q * (nu / r) * b) for a, b in zip(w, x)]
                        gwj = [s * ((r * phi / nu) * a + dphi * num(b)) for a, b in zip(w, P)]
                    else:
                        gxj = [s * (dphi * a / nu + q * b / r) for a, b in zip(w, x)]
                        gwj = [s * dphi * num(b) / nu for b in P]
            f.append(fj)
            gx.append(gxj)
            gw.append(gwj)
        return f, gx, gw

    def evaluate(self, P: int):
        """{key: (exact part Fraction, tail mpf)} at working precision P; keys "value",
        ("x", n, i), ("w", k, i)."""
        res = {}
        with mp.workprec(P):
            N, C, d = self.N, self.C, self.d
            if self.exact is not None:
                allp, tom = self.exact, to_mpf
            else:
                allp = [self.pieces(n, to_mpf, lambda q: mpmath.sqrt(to_mpf(q))) for n in range(N)]
                tom = lambda v: v  # noqa: E731
            zero = Fraction(0) if self.exact is not None else mpf(0)
            lossE, lossT = zero, mpf(0)
            gxr = {}
            gwE = [[zero] * d for _ in range(C)]
            gwT = [[mpf(0)] * d for _ in range(C)]
            unproven = set()
            for n in range(N):
                f, gx, gw = allp[n]
                y = self.y[n]
                fmax = max(f)
                M = [j for j in range(C) if f[j] == fmax]
                R = [j for j in range(C) if f[j] != fmax]
                mu = len(M)
                t = {j: mpmath.exp(tom(f[j] - fmax)) for j in R}
                S = mpmath.fsum(t.values()) if R else mpf(0)
                Z = mu + S
                lossE += fmax - f[y]
                lossT += mpmath.log1p(S) if mu == 1 else mpmath.log(mu + S)

                def split(g, key):
                    E = sum((g[j] - g[y] for j in M), zero) / mu
                    us = [g[j] - g[y] - E for j in R]
                    T = mpmath.fsum(t[j] * tom(u) for j, u in zip(R, us)) / Z if R else mpf(0)
                    if self.exact is None or any(u != 0 for u in us):
                        unproven.add(key)  # a tail that is not zero by exact arithmetic
                    return E, T
                if self.exact is None or R or mu != 1:
                    unproven.add("value")
                for i in range(d):
                    gxr[(n, i)] = split([gx[j][i] for j in range(C)], ("x", n, i))
                    for k in range(C):
                        E, T = split([gw[k][i] if j == k else zero for j in range(C)], ("w", k, i))
                        gwE[k][i] += E
                        gwT[k][i] += T
            res["value"] = (lossE / N, lossT / N)
            for (n, i), (E, T) in gxr.items():
                res[("x", n, i)] = (E / N, T / N)
            for k in range(C):
                for i in range(d):
                    res[("w", k, i)] = (gwE[k][i] / N, gwT[k][i] / N)
            if self.exact is None:  # everything is tail
                res = {key: (Fraction(0), tom(E) + T) for key, (E, T) in res.items()}
        self.unproven = unproven  # keys whose tail is not proven zero (a computed 0 is not)
        return res

    def direct(self, P: int):
        """Every quantity by the direct formulas, sum_j p_j g_j - g_y and
        ln sum_j exp(f_j - f_y), all in mpmath at P bits (for the self-check)."""
        conv = lambda v: to_mpf(v) if isinstance(v, Fraction) else v  # noqa: E731
        res = {}
        with mp.workprec(P):
            for n in range(self.N):
                f, gx, gw = self.exact[n] if self.exact is not None else \
                    self.pieces(n, to_mpf, lambda q: mpmath.sqrt(to_mpf(q)))
                y = self.y[n]
                fm = [conv(v) for v in f]
                mx = max(fm)
                e = [mpmath.exp(v - mx) for v in fm]
                Zs = mpmath.fsum(e)
                p = [v / Zs for v in e]
                res["value"] = res.get("value", mpf(0)) + (mpmath.log(Zs) + mx - fm[y]) / self.N
                for i in range(self.d):
                    res[("x", n, i)] = (mpmath.fsum(p[j] * conv(gx[j][i]) for j in range(self.C))
                                        - conv(gx[y][i])) / self.N
                    for k in range(self.C):
                        res[("w", k, i)] = res.get(("w", k, i), mpf(0)) + \
                            (p[k] - (1 if k == y else 0)) * conv(gw[k][i]) / self.N
        return res


def dyadic_frac(n: int, e: int) -> Fraction:
    """n*2^e as a Fraction without a gcd (a power-of-two denominator)."""
    if n == 0:
        return Fraction(0)
    if e >= 0:
        return Fraction(n << e)
    tz = min((n & -n).bit_length() - 1, -e)
    f = Fraction(0)
    f._numerator, f._denominator = n >> tz, 1 << (-e - tz)  # coprime by construction
    return f


def mpf_int_exp(x):
    sign, man, exp, _ = x._mpf_
    man, exp = int(man), int(exp)
    return (-man if sign else man), exp


def tail_enclosure(E: Fraction, a, b, P: int, proven_zero=False):
    """E + b -/+ (2|a - b| + |b| 2^-P), in integers aligned to one power of two (sums of
    Fractions with million-bit power-of-two denominators take a quadratic gcd each).
    A tail computed as 0 at both precisions is exactly 0 only when proven_zero; else it
    gets +-2^-(P/2), which decides nothing (the next, doubled P may see it)."""
    na, ea = mpf_int_exp(a)
    nb, eb = mpf_int_exp(b)
    if na == 0 and nb == 0:
        if proven_zero:
            return E, E
        eps = Fraction(1, 1 << (P // 2))
        return E - eps, E + eps
    e = min(ea if na else eb, eb if nb else ea) - P
    an = na << ((ea if na else e) - e)
    bn = nb << ((eb if nb else e) - e)
    errn = 2 * abs(an - bn) + (abs(bn) >> P) + 1
    return E + dyadic_frac(bn - errn, e), E + dyadic_frac(bn + errn, e)


def judge(got, lo: Fraction, hi: Fraction, prec: int):
    """(decided, problems) for one output number against the enclosure [lo, hi], with the
    issue-11 semantics: f32/f64 the correct rounding (signed zeros included); a nonzero
    value's decimal nonzero, right sign, within one unit of its last digit; "0" only for
    an exact zero. Comparisons only (no Fraction sums with huge denominators)."""
    r64 = (round_ieee(lo, "f64"), round_ieee(hi, "f64"))
    r32 = (round_ieee(lo, "f32"), round_ieee(hi, "f32"))
    if r64[0] != r64[1] or r32[0] != r32[1]:
        return False, []
    if not isinstance(got, dict) or "value" not in got or "f64" not in got or "f32" not in got:
        return True, [f"missing number: {got!r:.200}"]
    problems = []
    val = got["value"]
    try:
        g64, g32 = parse_hex_signed(got["f64"]), parse_hex_signed(got["f32"])
    except Exception as e:  # noqa: BLE001
        return True, [f"bad hex float: {e}"]
    exact_zero = lo == hi == 0
    tiny = TINY_BOUND if (0 < lo and hi < TINY_BOUND) or (-TINY_BOUND < lo and hi < 0) else None
    if tiny is not None and val != "0" and lo.denominator & (lo.denominator - 1) == 0 \
            and hi.denominator & (hi.denominator - 1) == 0:
        # |value| < 2^-2000 (e^-gap-sized): compare the decimal in scaled form with directed
        # mpmath roundings (an exact Fraction comparison would need 10^434294 and friends)
        ok = judge_tiny_decimal(val, lo, hi, prec)
        if ok is None:
            return False, []
        problems += ok
        for fmt, have in (("f64", g64), ("f32", g32)):
            want = (Fraction(0), lo < 0)
            if want != have:
                problems.append(f"{fmt} = {got[fmt]}, correctly rounded is {fmt_rounded(want)}")
        return True, problems
    if val == "0":
        if not exact_zero:
            if lo <= 0 <= hi:
                return False, []  # not yet known to be nonzero
            problems.append("value \"0\" for a nonzero value")
    else:
        try:
            dv = Fraction(val)
        except (ValueError, ZeroDivisionError):
            return True, [f"unparsable value {val!r}"]
        need = decimal_digits_required(prec)
        if sig_digits(val) != need:
            problems.append(f"value {val} has {sig_digits(val)} significant digits, expected {need}")
        unit = decimal_unit(val)
        if exact_zero:
            problems.append(f"value {val} for an exact zero")
        elif dv == 0:
            problems.append(f"value {val} is a zero written with digits")
        else:
            below, above = dv - unit, dv + unit
            passes = below < lo and hi < above and (dv > 0) == (lo > 0) and (lo > 0 or hi < 0)
            fails = above <= lo or below >= hi or ((lo > 0) and dv < 0) or ((hi < 0) and dv > 0)
            if not (passes or fails):
                return False, []
            if fails:
                problems.append(f"value {val} is not within one unit of its last digit of the "
                                f"reference")
    for fmt, want, have in (("f64", r64[0], g64), ("f32", r32[0], g32)):
        if exact_zero:
            want = (Fraction(0), False)
        if want != have:
            problems.append(f"{fmt} = {got[fmt]}, correctly rounded is {fmt_rounded(want)}")
    return True, problems


TINY_BOUND = Fraction(1, 1 << 2000)


def judge_tiny_decimal(val: str, lo: Fraction, hi: Fraction, prec: int):
    """Problems with the decimal `val` of a value in [lo, hi] (dyadic, one sign,
    |.| < 2^-2000), or None while undecided: val = ±D·10^e10 (D an integer of the required
    number of digits) must satisfy D − 1 < |v|·10^−e10 < D + 1."""
    from mpmath.libmp import from_man_exp, from_int, mpf_mul, mpf_pow_int, mpf_lt, mpf_le
    problems = []
    need = decimal_digits_required(prec)
    if sig_digits(val) != need:
        problems.append(f"value {val} has {sig_digits(val)} significant digits, expected {need}")
    body = val.lstrip("+-")
    mant, _, ex = body.lower().partition("e")
    ip, _, fp = mant.partition(".")
    D = int(ip + fp)
    e10 = (int(ex) if ex else 0) - len(fp)
    if D == 0:
        return problems + [f"value {val} is a zero written with digits"]
    if val.startswith("-") != (lo < 0):
        return problems + [f"value {val} has the wrong sign"]
    a, b = (lo, hi) if lo > 0 else (-hi, -lo)
    P = 4 * need + 64
    ten = from_int(10)
    w_lo = mpf_mul(from_man_exp(a.numerator, -(a.denominator.bit_length() - 1)),
                   mpf_pow_int(ten, -e10, P, "f"), P, "f")
    w_hi = mpf_mul(from_man_exp(b.numerator, -(b.denominator.bit_length() - 1)),
                   mpf_pow_int(ten, -e10, P, "c"), P, "c")
    dm, dp = from_int(D - 1), from_int(D + 1)
    if mpf_lt(dm, w_lo) and mpf_lt(w_hi, dp):
        return problems
    if mpf_le(w_hi, dm) or mpf_le(dp, w_lo):
        return problems + [f"value {val} is not within one unit of its last digit of the reference"]
    return None


def ref_decimal(E: Fraction, T, digits: int) -> str:
    """E + T as a decimal, for reports (mpmath, relative precision)."""
    with mp.workprec(4 * digits + 64):
        v = (to_mpf(E) if E else mpf(0)) + T
        if v == 0:
            return "0"
        s_ = mpmath.nstr(v, digits, strip_zeros=False, min_fixed=1, max_fixed=0)
        mant, _, ex = s_.partition("e")
        return f"{mant}e{int(ex) if ex else 0}"


def check_extreme(ck: Checker, name, req, out, extended=False):
    """Checks every number of a loss line against XRef (see above)."""
    where0 = f"[{req['id']} {name} {req.get('variant', 'a_softmax')}/{req.get('backward', 'full')} " \
             f"m={req['m']} lambda={req.get('lambda', '0')} s={req.get('scale', '1')}]"
    xr = XRef(req)
    prec = req.get("prec", 256)
    keys = ["value"]
    if req.get("grad"):
        keys += [("x", n, i) for n in range(xr.N) for i in range(xr.d)]
        keys += [("w", k, i) for k in range(xr.C) for i in range(xr.d)]

    def got_of(key):
        if key == "value":
            return out
        rows = out.get("grad_" + key[0])
        try:
            return rows[key[1]][key[2]]
        except (TypeError, IndexError, KeyError):
            return None

    def label(key):
        return "value" if key == "value" else f"grad_{key[0]}[{key[1]}][{key[2]}]"

    for key in keys:
        ck.retire(f"{where0} {label(key)}", got_of(key))
    if not req.get("grad") and ("grad_x" in out or "grad_w" in out):
        ck.fail(where0, "gradient fields present although grad=false")
    maxgap = 1
    for n in range(xr.N):
        if xr.exact is not None:
            f = xr.exact[n][0]
        else:
            with mp.workprec(64):
                f = xr.pieces(n, to_mpf, lambda q: mpmath.sqrt(to_mpf(q)))[0]
        maxgap = max(maxgap, int(abs(max(f) - min(f))) + 1)
    P = prec + 64 + maxgap.bit_length() + (0 if xr.exact is not None else 64)
    pending = list(keys)
    wants = {}
    while pending and P <= (1 << 18):
        a, b = xr.evaluate(P), xr.evaluate(P + 64)
        still = []
        for key in pending:
            lo, hi = tail_enclosure(a[key][0], a[key][1], b[key][1], P, key not in xr.unproven)
            decided, problems = judge(got_of(key), lo, hi, prec)
            if not decided:
                still.append(key)
                continue
            ck.checks += 1
            wants[key] = (lo, hi, b[key])
            if problems:
                E, T = b[key]
                want = (f"reference {ref_decimal(E, T, decimal_digits_required(prec))}, "
                        f"f64 {fmt_rounded(round_ieee(lo, 'f64'))}, f32 {fmt_rounded(round_ieee(lo, 'f32'))}")
                ck.fail(f"{where0} {label(key)}", "; ".join(problems) + f" [{want}]")
        pending = still
        P *= 2
    for key in pending:  # not the binary's fault: listed and counted apart
        ck.undecided += 1
        ck.undecided_cases.add(ck.case)
        ck.notes.append(f"{where0} {label(key)}: reference undecided at 2^18 bits")
    if extended:
        # (*) against the direct formula at gap*log2(e) + prec + 128 bits
        Pd = int(maxgap * 1.4427) + prec + 128
        direct = xr.direct(Pd)
        for key in keys:
            if key not in wants:
                continue
            lo, hi, (E, T) = wants[key]
            v = direct[key]
            with mp.workprec(Pd):
                e = to_mpf(E) if E else mpf(0)
                # the tail itself must agree (to prec + 16 bits), not just the sum
                ok = abs((v - e) - T) <= mpf(2) ** -(prec + 16) * abs(T) + \
                    mpf(2) ** -(Pd - 96) * (1 + abs(e) + abs(T))
            ck.checks += 1
            if not ok:
                ck.fail(f"{where0} {label(key)}", f"SELF-CHECK: direct formula at {Pd} bits "
                                                  f"{mpmath.nstr(v, 20)} != {mpmath.nstr(e + T, 20)}")
    return wants


# ---- generating the extreme cases ------------------------------------------------------

def hexq(q: Fraction) -> str:
    """A dyadic rational as an exact C99 hex-float text."""
    q = Fraction(q)
    assert q.denominator & (q.denominator - 1) == 0, q
    n, e = q.numerator, q.denominator.bit_length() - 1
    return f"{'-' if n < 0 else ''}0x{abs(n):x}p-{e}"


def dec_sig(q, digits=10) -> str:
    """q rounded to `digits` significant digits, as an exact decimal text."""
    q = Fraction(q)
    if q == 0:
        return "0"
    e = math.floor(math.log10(abs(float(q)))) if abs(float(q)) > 0 else 0
    k = digits - 1 - e
    n = round(q * Fraction(10) ** k)
    return frac_to_dec(Fraction(n) / Fraction(10) ** k) if k > 0 else str(n * 10 ** (-k))


def is_smooth25(n: int) -> bool:
    n = abs(int(n))
    if n == 0:
        return False
    for p_ in (2, 5):
        while n % p_ == 0:
            n //= p_
    return n == 1


def midpoint_of(rng, fmt: str, lo_exp=0) -> Fraction:
    """A random rounding midpoint of fmt in [2^lo_exp, 2^(lo_exp+1))."""
    p = 24 if fmt == "f32" else 53
    j = rng.randrange(1 << (p - 1))
    return (Fraction(1) + Fraction(2 * j + 1, 1 << p)) * Fraction(2) ** lo_exp


def xreq(variant, m, x, w, y, s="1", lam="0", backward="full", prec=64, grad=True):
    return {"op": "loss", "variant": variant, "m": m, "lambda": lam, "scale": s, "x": x, "w": w,
            "y": y, "grad": grad, "backward": backward, "prec": prec}


#: rational unit vectors of the plane with 5-smooth denominators (decimal coordinates)
UNIT2 = [(Fraction(a), Fraction(b)) for a, b in (
    (1, 0), (0, 1), (-1, 0), (0, -1),
    ("0.6", "0.8"), ("0.8", "0.6"), ("-0.6", "0.8"), ("0.8", "-0.6"), ("-0.8", "-0.6"),
    ("0.6", "-0.8"), ("0.28", "0.96"), ("0.96", "0.28"), ("-0.28", "0.96"), ("0.96", "-0.28"),
    ("0.936", "0.352"), ("0.352", "0.936"), ("-0.352", "0.936"))]


def dec_vec(v):
    return [frac_to_dec(Fraction(c)) for c in v]


def exact_parts(req):
    """{key: exact part} of XRef for a request with rational norms (else None)."""
    xr = XRef(req)
    if xr.exact is None:
        return None, xr
    return {k: v[0] for k, v in xr.evaluate(64).items()}, xr


def search_m4(rng, variant, backward, fmt, gap, target_dominates, tries=400):
    """A C = 2 or 3, d = 2 batch with m = 4 and rational geometry whose logit gap is
    about `gap`, the target (or another class) dominating, and with s chosen so that one
    x-gradient component's exact part is a rounding midpoint of fmt (for a dominating
    non-target: the value is then within e^-gap of it)."""
    for _ in range(tries):
        C = rng.choice((2, 3))
        us = [rng.choice(UNIT2) for _ in range(C + 1)]
        ux, uw = us[0], us[1:]
        if len(set(uw)) < C:
            continue
        nus = [Fraction(rng.choice(("1", "2", "0.5", "1.25", "0.8"))) for _ in range(C)]
        lam = rng.choice(("0", "5", "0.25"))
        y = 0
        c_y = ux[0] * uw[0][0] + ux[1] * uw[0][1]
        if c_y == 0:
            continue
        base = xreq(variant, 4, [dec_vec(ux)], [dec_vec((nu * a, nu * b)) for nu, (a, b) in zip(nus, uw)],
                    [y], "1", lam, backward)
        ex, xr = exact_parts(base)
        if ex is None:
            continue
        f = xr.exact[0][0]
        order = sorted(range(C), key=lambda j: f[j], reverse=True)
        if f[order[0]] == f[order[1]] if C > 1 else False:
            continue
        D = order[0]
        if (D == y) != target_dominates:
            continue
        delta = f[D] - min(f) if target_dominates else f[D] - f[y]
        if delta <= 0:
            continue
        if target_dominates:
            s = Fraction(rng.choice(("1", "2", "0.5", "3")))
        else:
            cands = [k for k in ex if k != "value" and k[0] == "x" and ex[k] != 0
                     and is_smooth25(ex[k].numerator)]
            if not cands:
                continue
            key = rng.choice(cands)
            t = midpoint_of(rng, fmt)
            s = t / abs(ex[key])
            if not is_smooth25(s.denominator):
                continue
        K = Fraction(dec_sig(Fraction(gap) / (s * delta), 9))
        if K <= 0:
            continue
        req = dict(base)
        req["scale"] = frac_to_dec(s) if s.denominator != 1 or s < 10 ** 12 else str(s)
        req["x"] = [dec_vec((K * ux[0], K * ux[1]))]
        return req
    return None


def extreme_generate(seed: int, extended: bool = False):
    """(class, request) pairs of the extreme classes (see the docstring)."""
    rng = random.Random(seed + 11)
    out = []
    gaps = (40, 800, 60000, 10 ** 6)
    # ---- saturated -----------------------------------------------------------------
    # the example, verbatim
    out.append(("saturated", {"op": "loss", "variant": "l_softmax", "m": 1, "scale": "3",
                              "x": [["0x1.000002p+0"]], "w": [["0"], ["20000"]], "y": [0],
                              "grad": True, "prec": 16}))
    # L-Softmax m = 1, 1-D: grad_w = +-p*s*a with s*a = 3(1 + 2^-23) (f32) or 3(1 + 2^-52)
    # (f64) a midpoint whose even neighbour is above: a value just below must not round
    # to it. Both directions (the target dominating gives e^-gap-sized components).
    for fmt, a in (("f32", "0x1.000002p+0"), ("f64", "0x1.0000000000001p+0")):
        for gi, gap in enumerate(gaps):
            b = dec_sig(Fraction(gap) / (3 * parse_hex(a)), 12)
            for target_dom in (False, True):
                lam, bw = ("0", "full") if gi % 2 == 0 else ("5", "detached_margin")
                w = [["0.5" if gi == 1 else "0"], [b]]
                out.append(("saturated", xreq("l_softmax", 1, [[a]], w, [1 if target_dom else 0],
                                              "3", lam, bw, prec=(16, 53, 64, 128)[gi])))
    # L-Softmax m = 1, 2-D, a third class whose tail pushes grad_x[0] *above* the
    # midpoint E = B (the odd neighbour above is right) and makes grad_x[1] tiny.
    for fmt, B in (("f32", "0x1.000001p+0"), ("f64", "0x1.00000000000008p+0")):
        for gap in (40, 60000, 10 ** 6):
            A = Fraction(dec_sig(Fraction(gap) / parse_hex(B), 12))
            K = A + 100
            w = [["0", "0"], [B, "0"], [hexq(parse_hex(B) + 1), "-" + frac_to_dec(K)]]
            out.append(("saturated", xreq("l_softmax", 1, [[frac_to_dec(A), "1"]], w, [0], "1",
                                          prec=53)))
    # A-Softmax m = 1, axis directions: grad_x = s(w_D - w_y) + tail, s a midpoint whose
    # odd neighbour is below (f32 1 + 3*2^-24, f64 1 + 3*2^-53).
    for fmt, s in (("f32", Fraction(1) + Fraction(3, 1 << 24)), ("f64", Fraction(1) + Fraction(3, 1 << 53))):
        for gap in (40, 60000, 10 ** 6):
            X1 = 1 + Fraction(dec_sig(Fraction(gap) / s, 12))
            for y in (0, 1):
                out.append(("saturated", xreq("a_softmax", 1, [[frac_to_dec(X1), "1"]],
                                              [["0", "2"], ["1", "0"]], [y], hexq(s),
                                              rng.choice(("0", "3")), prec=64)))
    # m = 4, rational (Pythagorean) geometry, both variants and backwards: s makes an
    # x-gradient component's exact part a midpoint, |x| sets the gap.
    for variant in ("a_softmax", "l_softmax"):
        for backward in ("full", "detached_margin"):
            for fmt in ("f32", "f64"):
                for gap in (300, 60000, 10 ** 6):
                    r = search_m4(rng, variant, backward, fmt, gap, target_dominates=False)
                    if r:
                        r["prec"] = rng.choice((16, 53, 64))
                        out.append(("saturated", r))
                r = search_m4(rng, variant, backward, fmt, rng.choice((3000, 10 ** 6)), True)
                if r:
                    out.append(("saturated", r))
    # irrational norms (the floating route, which cannot prove a zero: inputs without
    # structural zeros): A-Softmax m = 4, both directions
    for y in (0, 1):
        out.append(("saturated", xreq("a_softmax", 4, [["1000", "2000"]], [["1", "1"], ["2", "-0.9"]],
                                      [y], "30", "0", prec=53)))
    # ---- tiny gradients ------------------------------------------------------------
    # target dominating at gaps giving f32/f64 subnormals and signed zeros (m = 4)
    for variant in ("a_softmax", "l_softmax"):
        for gap in (95, 720, 5000):
            r = search_m4(rng, variant, rng.choice(("full", "detached_margin")), "f64", gap, True)
            if r:
                r["prec"] = 53
                out.append(("tiny_grad", r))
    # rows differing by 1e-400 (L-Softmax m = 1): grad_x[1] = p_1*s*1e-400, grad_x[0] = 0
    out.append(("tiny_grad", xreq("l_softmax", 1, [["1", "1"]], [["1", "0"], ["1", "1e-400"]], [0],
                                  "2", prec=53)))
    out.append(("tiny_grad", xreq("l_softmax", 1, [["3", "-1"]], [["1", "0"], ["1", "-1e-330"], ["0", "7"]],
                                  [1], "1", prec=16)))
    # nearly parallel rows, A-Softmax m = 1 (irrational norms: the floating route)
    out.append(("tiny_grad", xreq("a_softmax", 1, [["2", "1"]], [["1", "0.25"], ["1", "0.25" + "0" * 298 + "1"]],
                                  [0], "4", prec=53)))
    # ---- equal logits: p = 1/2, 1/3 exactly; values that ARE midpoints ----------------
    for fmt in ("f32", "f64"):
        t = midpoint_of(rng, fmt)
        # C = 2, 1-D: grad_w = -+ s*a/2 = -+ t; grad_x = 0
        out.append(("equal_logits", xreq("l_softmax", 1, [[hexq(2 * t)]], [["0.75"], ["0.75"]], [0],
                                         "1", prec=53)))
        # C = 2, 2-D, different rows: grad_x = (s/2)(-1, 1) = (-t, t)
        out.append(("equal_logits", xreq("l_softmax", 1, [["1", "1"]], [["1", "0"], ["0", "1"]], [1],
                                         hexq(2 * t), prec=64)))
        out.append(("equal_logits", xreq("a_softmax", 1, [["3", "3"]], [["2", "0"], ["0", "5"]], [0],
                                         hexq(2 * t), "5", prec=16)))
        # C = 3, 1-D: grad_w = s*a/3 = t for the others, -2t for the target
        out.append(("equal_logits", xreq("l_softmax", 1, [[hexq(3 * t)]], [["-2"], ["-2"], ["-2"]], [2],
                                         "1", prec=53)))
        # N = 3 samples (the mean's 1/3), C = 3: grad_w[0] = -t, grad_w[1] = 0, grad_w[2] = t
        out.append(("equal_logits", xreq("l_softmax", 1, [[hexq(3 * t)]] * 3, [["1"], ["1"], ["1"]],
                                         [0, 0, 1], "1", prec=64)))
        # L-Softmax m = 4: |W_1| chosen so that f_1 = f_y (c_1 = 1), s so that a
        # gradient component is a midpoint
        for lam in ("0", "1"):
            uy = (Fraction("0.96"), Fraction("0.28"))  # x = (1, 0): c_y = 0.96
            c = uy[0]
            t4 = 8 * c ** 4 - 8 * c ** 2 + 1  # k = 0 (c > cos(pi/4))
            phi = (Fraction(lam) * c + t4) / (1 + Fraction(lam))
            nu_y = Fraction(2)
            base = xreq("l_softmax", 4, [["1", "0"]], [dec_vec((nu_y * uy[0], nu_y * uy[1])),
                                                      [frac_to_dec(nu_y * phi), "0"]], [0], "1", lam,
                        rng.choice(("full", "detached_margin")), prec=53)
            ex, _ = exact_parts(base)
            cands = [k for k in ex if k != "value" and ex[k] != 0 and is_smooth25(ex[k].numerator)]
            if cands:
                key = cands[rng.randrange(len(cands))]
                sc = midpoint_of(rng, fmt) / abs(ex[key])
                if is_smooth25(sc.denominator):
                    base["scale"] = frac_to_dec(sc)
                    out.append(("equal_logits", base))
    # ---- nearly equal logits: within 1e-40 and 1e-20000 of a midpoint (long inputs) ----
    for fmt in ("f32", "f64"):
        t = midpoint_of(rng, fmt)
        for digits in (40, 20000):
            for sign in ("", "-"):
                # L-Softmax m = 1, C = 2: p_1 = 1/2 +- ~1e-digits: grad_w = -+ t(1 +- ...)
                w1 = ("1." + "0" * (digits - 1) + "1") if sign == "" else ("0." + "9" * digits)
                out.append(("near_equal", xreq("l_softmax", 1, [[hexq(2 * t)]], [["1"], [w1]], [0],
                                               "1", prec=53)))
        # C = 3, one of three nearly equal
        out.append(("near_equal", xreq("l_softmax", 1, [[hexq(3 * t)]],
                                       [["-2"], ["-2"], ["-2." + "0" * 19999 + "3"]], [0], "1", prec=64)))
    return out


# ---------------------------------------------------------------------------
# Checking the binary's answers
# ---------------------------------------------------------------------------

def err_between(a, b, extra_prec):
    """Error bound for b (the higher-precision value) from the two evaluations."""
    fa, fb = mpf_to_frac(a), mpf_to_frac(b)
    return fb, 4 * abs(fa - fb) + abs(fb) * Fraction(1, 2 ** (extra_prec - 16))


def check_loss(ck: Checker, name, req, out):
    where0 = f"[{req['id']} {name} {req['variant']}/{req['backward']} m={req['m']} " \
             f"lambda={req['lambda']} s={req['scale']}]"
    case = Case(req)
    P1, P2 = case.P1, case.P2
    L1, gx1, gw1, _ = reference(case, P1)
    L2, gx2, gw2, per = reference(case, P2)

    def refine_for(path):
        def refine(t):
            p = P2 * (4 if t == 0 else 16)
            La, gxa, gwa, _ = reference(case, p // 2)
            Lb, gxb, gwb, _ = reference(case, p)
            pick = lambda L, gx, gw: L if path is None else (gx if path[0] == "x" else gw)[path[1]][path[2]][0]
            return err_between(pick(La, gxa, gwa), pick(Lb, gxb, gwb), p)
        return refine

    # the loss value
    ref, err = err_between(L1, L2, P2)
    if case.C == 1:
        ck.number(where0 + " value", out, ref, err, LOSS_PREC, is_zero=True)
    else:
        ck.number(where0 + " value", out, ref, err, LOSS_PREC, refine=refine_for(None))
    if not req["grad"]:
        ck.checks += 1
        if "grad_x" in out or "grad_w" in out:
            ck.fail(where0, "gradient fields present although grad=false")
        return
    # analytic vs numeric differentiation (our two ways)
    ngx, ngw = numeric_grads(case)
    Lsc = sum(abs(l) * (1 + F) for l, F in per)
    for tag, ana, num in (("x", gx2, ngx), ("w", gw2, ngw)):
        for a_row, n_row, idx in zip(ana, num, range(len(ana))):
            for (av, asc), nv, i in zip(a_row, n_row, range(len(a_row))):
                ck.checks += 1
                tol = mpf(2) ** -(DIFF_PREC + case.extra - 200) * (asc + Lsc + mpf(2) ** -8000)
                if abs(av - nv) > tol:
                    ck.fail(where0 + f" grad_{tag}[{idx}][{i}]",
                            f"SELF-CHECK: analytic {mpmath.nstr(av, 30)} != numeric "
                            f"{mpmath.nstr(nv, 30)} (tol {mpmath.nstr(tol, 3)})")
    # the binary's gradients
    for tag, g1, g2 in (("x", gx1, gx2), ("w", gw1, gw2)):
        key = "grad_" + tag
        rows = out.get(key)
        shape = (case.N, case.d) if tag == "x" else (case.C, case.d)
        if not isinstance(rows, list) or len(rows) != shape[0] or any(
                not isinstance(r, list) or len(r) != shape[1] for r in rows):
            ck.fail(where0, f"{key} missing or of the wrong shape: {rows!r:.200}")
            continue
        for a in range(shape[0]):
            for i in range(shape[1]):
                v1, sc = g1[a][i]
                v2, sc2 = g2[a][i]
                ref, err = err_between(v1, v2, P2)
                zero = abs(v2) <= mpf(2) ** -(P2 - 80) * sc2
                ck.number(where0 + f" {key}[{a}][{i}]", rows[a][i], ref, err, LOSS_PREC,
                          is_zero=zero, refine=refine_for((tag, a, i)))


def lambda_ref(req):
    q = lambda k, dflt: exact_of_input(req[k]) if k in req else Fraction(dflt)
    base, gamma, power, lmin = q("base", 1000), q("gamma", Fraction(12, 100)), q("power", 1), q("lambda_min", 5)
    it = exact_of_input(req["iter"])
    z = 1 + gamma * it
    if power.denominator == 1:
        t = base * z ** (-power.numerator)
        return max(lmin, t), Fraction(0)
    vals = []
    for p in (P1, P2):
        with mp.workprec(p):
            vals.append(to_mpf(base) * mpmath.power(to_mpf(z), -to_mpf(power)))
    ref, err = err_between(vals[0], vals[1], P2)
    if ref - err > lmin:
        return ref, err
    if ref + err < lmin:
        return lmin, Fraction(0)
    raise RuntimeError("lambda too close to lambda_min")


def check_other(ck: Checker, name, req, out):
    where = f"[{req['id']} {name} {json.dumps({k: v for k, v in req.items() if k not in ('id', 'op', 'prec')})}]"
    prec = req["prec"]
    if req["op"] == "lambda":
        ref, err = lambda_ref(req)
        ck.number(where, out, ref, err, prec)
    elif req["op"] == "angular_margin":
        m = exact_of_input(req["m"])
        th = exact_of_input(req["angle"])
        ref = (m - 1) / (m + 1) * th
        ck.number(where, out, ref, Fraction(0), prec, is_zero=(ref == 0))
    elif req["op"] == "m_min":
        if req["setting"] == "multiclass":
            ck.number(where, out, Fraction(3), Fraction(0), prec)
        else:
            vals = []
            for p in (P1, P2):
                with mp.workprec(p):
                    vals.append(2 + mpmath.sqrt(3))
            ref, err = err_between(vals[0], vals[1], P2)
            ck.number(where, out, ref, err, prec)
            # and independently: the positive root of m^2 - 4m + 1, 60+ digits
            v = Fraction(out.get("value", "0"))
            ck.checks += 1
            if not (v > 3 and abs(v * v - 4 * v + 1) < Fraction(1, 10 ** 70)):
                ck.fail(where, f"value {out.get('value')} is not a root of m^2 - 4m + 1 to 70 digits")


CLASS_ORDER = ("grid", "saturated", "tiny_grad", "equal_logits", "near_equal")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=DEFAULT_BIN, help="path of asoftmax-spec (default %(default)s)")
    ap.add_argument("--seed", type=int, default=20250101)
    ap.add_argument("--keep", help="also write the generated requests to this file")
    ap.add_argument("--extended", action="store_true",
                    help="also check the exact-plus-tail reference of the extreme classes against "
                         "the direct formula at gap*log2(e) + prec + 128 bits (slow without gmpy2)")
    ap.add_argument("--classes", help="comma-separated classes to run (default: all)")
    ap.add_argument("--ids", help="comma-separated request ids to run")
    ap.add_argument("--failures", help="write every failing request as a JSON line here "
                                       "(input line, output, problems with reference answers)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    self_test_psi()
    if not os.path.exists(args.bin):
        print(f"crosscheck_loss: binary not found: {args.bin} (cargo build first)", file=sys.stderr)
        return 2
    reqs = generate(args.seed)
    base_ids = len(reqs)
    for cls, r in extreme_generate(args.seed, args.extended):
        r["id"] = len(reqs)
        reqs.append((cls, r))
    if args.classes:
        want = set(args.classes.split(","))
        reqs = [(n, r) for n, r in reqs if (n if n in CLASS_ORDER[1:] else "grid") in want]
    if args.ids:
        ids = {int(i) for i in args.ids.split(",")}
        reqs = [(n, r) for n, r in reqs if r["id"] in ids]
    t_gen = time.time() - t0
    text = "".join(json.dumps(r) + "\n" for _, r in reqs)
    if args.keep:
        with open(args.keep, "w") as fh:
            fh.write(text)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        fh.write(text)
        path = fh.name
    t1 = time.time()
    try:
        proc = subprocess.run([args.bin, "eval", path], capture_output=True, text=True, timeout=1800)
    finally:
        os.unlink(path)
    t_bin = time.time() - t1
    outs = {}
    for line in proc.stdout.splitlines():
        if line.strip():
            o = json.loads(line)
            outs[o.get("id")] = o
    ck = Checker(args.verbose)
    t2 = time.time()
    stats = {}
    for name, req in reqs:
        cls = name if req["id"] >= base_ids else "grid"  # the original cases, all classes
        st = stats.setdefault(cls, {"cases": 0})
        st["cases"] += 1
        ck.case = (req["id"], cls)
        out = outs.get(req["id"])
        if out is None:
            ck.fail(f"[{req['id']} {name}]", f"no output line (exit {proc.returncode}, stderr {proc.stderr[-300:]!r})")
            continue
        if "error" in out:
            ck.errors.append((req["id"], cls, out["error"]))
            continue
        tc = time.time()
        if req["id"] >= base_ids:
            check_extreme(ck, name, req, out, args.extended)
        elif req["op"] == "loss":
            check_loss(ck, name, req, out)
        else:
            check_other(ck, name, req, out)
        if args.verbose:
            print(f"  checked {req['id']} {name} ({time.time() - tc:.2f}s)", file=sys.stderr)
    t_check = time.time() - t2
    fail_fh = open(args.failures, "w", encoding="utf-8") if args.failures else None
    errored = {(i, c) for i, c, _ in ck.errors}
    for name, req in reqs:
        cls = name if req["id"] >= base_ids else "grid"
        key = (req["id"], cls)
        if key not in ck.failed_cases and key not in ck.retired_cases and key not in errored:
            continue
        kind = "FAIL" if key in ck.failed_cases else ("ERROR" if key in errored else "RETIRED")
        line = json.dumps(req)
        print(f"{kind} [{cls}] {line if len(line) < 600 else line[:400] + ' …'}")
        for msg in ck.case_msgs.get(key, []):
            print(f"     - {msg}")
        for i, c, e in ck.errors:
            if (i, c) == key:
                print(f"     - error line for a value the reference decides: {e}")
        if fail_fh:
            fail_fh.write(json.dumps({"class": cls, "kind": kind, "input": line,
                                      "output": outs.get(req["id"]),
                                      "problems": ck.case_msgs.get(key, []),
                                      "error": next((e for i, c, e in ck.errors if (i, c) == key), None)})
                          + "\n")
    if fail_fh:
        fail_fh.close()
    for note in ck.notes:
        print("NOTE " + note)
    print(f"{'class':<14} {'cases':>6} {'ok':>6} {'failed':>7} {'errors':>7} {'retired':>8} {'undecided':>10}")
    for cls in [c for c in CLASS_ORDER if c in stats]:
        n = stats[cls]["cases"]
        nf = sum(1 for k in ck.failed_cases if k[1] == cls)
        nr = sum(1 for k in ck.retired_cases if k[1] == cls)
        ne = sum(1 for k in errored if k[1] == cls)
        nu = sum(1 for k in ck.undecided_cases if k[1] == cls)
        bad = {k for k in ck.failed_cases | ck.retired_cases | errored | ck.undecided_cases if k[1] == cls}
        print(f"{cls:<14} {n:>6} {n - len(bad):>6} {nf:>7} {ne:>7} {nr:>8} {nu:>10}")
    print(f"  ({ck.checks} numbers checked; generate {t_gen:.1f}s, binary {t_bin:.1f}s, "
          f"check {t_check:.1f}s, total {time.time() - t0:.1f}s)")
    print("  (" + ", ".join(f"{k} {v}" for k, v in ck.stats.items()) + ")")
    print(f"crosscheck_loss: {len(reqs)} cases, {len(ck.failed_cases)} failed "
          f"({len(ck.failures)} failing numbers), {len(errored)} error lines, "
          f"{len(ck.retired_cases)} with retired fields ({len(ck.retired)} numbers)")
    return 1 if ck.failures or ck.errors or ck.retired else 0


if __name__ == "__main__":
    sys.exit(main())
