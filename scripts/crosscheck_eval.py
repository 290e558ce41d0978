#!/usr/bin/env python3
"""Independent cross-check of `asoftmax-spec eval` against mpmath.

The Rust oracle evaluates cos(mθ), ψ, dψ/dc and dψ/dθ with MPFR intervals, a
Chebyshev recurrence over exact rationals, and a rigorous branch search over the
thresholds cos(jπ/m). This script re-implements the same mathematics a different
way, so that a shared mistake is unlikely:

* T_m and U_{m-1} at a rational c from the *closed-form* coefficients
  ``[c^(m-2k)] T_m = (-1)^k 2^(m-2k-1) m/(m-k) C(m-k, k)`` and
  ``[ (2c)^(n-2k) ] U_n = (-1)^k C(n-k, k)``, over Python Fractions (exact); for large
  inputs (a 100,000-bit c) by a binary ladder on the addition formulas, over integers;
* dψ/dθ at a rational c for integer m from its exact square m²·U_{m−1}(c)²·(1 − c²)
  (exact when 1 − c² is a rational square, else enclosed by integer square roots);
  ψ and dψ/dθ for m = p/2 at a c whose half angle has a rational cosine resp. sine
  (cos(mθ) = T_p(cos θ/2), sin(mθ) = sin(θ/2)·U_{p−1}(cos θ/2)), exactly;
* the branch index from the angle, ``k = floor(m θ / π)`` (clamped to ceil(m) - 1),
  with ``θ = atan2(sqrt(1 - c²), c)`` (1 - c² formed exactly, so both ends c → ±1
  are accurate) instead of comparisons against cos(jπ/m); a tie (m θ/π an integer)
  is recognised exactly when c ∈ {0, ±1/2, ±1} (Niven: the only rational cosines of
  rational multiples of π), where both branches give the same value;
* everything else in mpmath floating point, evaluated at working precisions P and
  2P (P and P + 64 for the long inputs); the difference between the two (times 2, plus
  2^-P relative) is taken as the error of the higher-precision value, and P is doubled
  until that error is small enough to decide the checks. (This is a heuristic error
  estimate, not an interval bound; it is independent of the Rust code, which is the
  point.) Rounding decisions are made on the resulting enclosure with exact integer /
  Fraction arithmetic (Python ints throughout, so mpmath's gmpy2 backend is harmless).

Checks per result line, for the requested ``prec`` bits (the semantics of issue 11):
* ``f64`` / ``f32`` are the exact value rounded to binary64 / binary32, nearest,
  ties to even, with subnormals and overflow (rounded here with integer arithmetic
  from the IEEE rules), compared bit for bit (including the sign of 0: a value that
  underflows rounds to a correctly signed zero);
* ``value`` is ``"0"`` only for an exact zero; otherwise it has ⌈prec·log10 2⌉ + 1
  significant digits, is nonzero with the right sign and lies within one unit of its
  last digit of the exact value;
* ``tie_format``, ``tie_bound`` and ``zero_bound`` are absent (retired fields: their
  presence is counted apart, as "retired");
* an error line for a request the reference evaluates is counted apart ("errors") and
  listed; requests out of the domain (m, c, θ, prec) must come back as error lines.

Case classes (a table per class is printed at the end): the branch points and
thresholds of m = 1…8, real margins, special inputs, high precisions, subnormal
results, random inputs, refused requests, and the extreme classes of issue 11 (see
"The extreme classes of issue 11" below): midpoint_long_c and midpoint_long_theta
(long inputs within 2^-100000 / 2^-40000 of an f32/f64 rounding midpoint), tiny
(values 1e-40 … 1e-1000 near the zeros of every op), true_midpoint (exact midpoints:
ties to even).

Input numbers follow the eval contract: a JSON number denotes the f64 it rounds to;
a string is an exact decimal or C99 hex float. Output ``f64``/``f32`` are C99 hex
floats.

Usage::

    python3 scripts/crosscheck_eval.py                      # generated cases, default binary
    python3 scripts/crosscheck_eval.py --extended           # + the expensive long-θ cases
    python3 scripts/crosscheck_eval.py --classes tiny,true_midpoint --failures /tmp/f.jsonl
    python3 scripts/crosscheck_eval.py --cases examples/cases.jsonl
    python3 scripts/crosscheck_eval.py --random 2000 --seed 7 --bin target/debug/asoftmax-spec
    python3 scripts/crosscheck_eval.py --write-cases /tmp/cases.jsonl   # no binary needed
    python3 scripts/crosscheck_eval.py --self-test           # the reference alone
    python3 scripts/crosscheck_eval.py --check-snapshots     # review the insta snapshots

Exit status: 0 when every check passed, 1 on any mismatch, error line or retired
field, 2 on usage errors or a missing binary.
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
import time
from fractions import Fraction

try:
    import mpmath
    from mpmath import mp, mpf
except ImportError:  # pragma: no cover
    sys.exit("crosscheck_eval.py needs mpmath (pip install mpmath)")

# Decimal values at high precision have tens of thousands of digits.
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_BIN = os.path.join(REPO, "target", "debug", "asoftmax-spec")
DEFAULT_PREC = 256
MIN_PREC, MAX_PREC = 16, 1 << 18
MAX_M = 65536
#: Largest working precision the reference will try (bits).
MAX_WORK = 1 << 17

OPS = ("cos_m", "psi", "dpsi_dcos", "dpsi_dtheta")


# ---------------------------------------------------------------------------
# Exact numbers
# ---------------------------------------------------------------------------

class JsonNumber(str):
    """The text of a JSON number, kept verbatim (json's parse_float/parse_int hook)."""


_DEC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_HEX = re.compile(r"^([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)[pP]([+-]?\d+)$")


def parse_exact(text: str) -> Fraction:
    """A decimal or C99 hex-float literal as the exact rational it denotes."""
    s = text.strip()
    m = _HEX.match(s)
    if m:
        sign, ip, fp, e = m.groups()
        if not ip and not fp:
            raise ValueError(f"no digits in {text!r}")
        mant = int((ip or "0") + fp, 16)
        v = Fraction(mant) * Fraction(2) ** (int(e) - 4 * len(fp))
        return -v if sign == "-" else v
    if _DEC.match(s):
        return Fraction(s)
    raise ValueError(f"not a decimal or hex float: {text!r}")


def number_of(v) -> Fraction:
    """A JSON field as an exact rational under the eval contract."""
    if isinstance(v, JsonNumber):
        f = float(v)  # Python's float() of a decimal text is correctly rounded
        if not math.isfinite(f):
            raise ValueError(f"{v} overflows f64")
        return Fraction(f)
    if isinstance(v, str):
        return parse_exact(v)
    raise ValueError(f"not a number: {v!r}")


def to_mpf(x: Fraction):
    """x at the current working precision (one rounding of the quotient)."""
    x = as_fraction(x)
    return mpf(x.numerator) / x.denominator if x.denominator != 1 else mpf(x.numerator)


def fraction_coprime(n: int, d: int) -> Fraction:
    """n/d for d > 0 and gcd(n, d) = 1 already known, built without the gcd that
    Fraction(n, d) takes (quadratic in the size: 10 s for 2.4-million-bit numbers)."""
    n, d = int(n), int(d)
    f = Fraction(0)
    try:
        f._numerator, f._denominator = n, d  # the slots of fractions.Fraction
    except AttributeError:  # pragma: no cover - another Fraction implementation
        return Fraction(n, d)
    return f


def fraction_25(n: int, d: int) -> Fraction:
    """n/d for a denominator d = 2^a·5^b (every input's denominator, decimal or hex, and
    its powers): reduced by stripping common factors 2 and 5 only, in linear time."""
    n, d = int(n), int(d)
    if d < 0:
        n, d = -n, -d
    if n == 0:
        return Fraction(0)
    tz = min((n & -n).bit_length(), (d & -d).bit_length()) - 1
    n, d = n >> tz, d >> tz
    while d % 5 == 0 and n % 5 == 0:
        n, d = n // 5, d // 5
    return fraction_coprime(n, d)


def is_smooth25(d: int) -> bool:
    """d = 2^a·5^b?"""
    d = int(d)
    if d <= 0:
        return False
    d >>= (d & -d).bit_length() - 1
    b = max(0, round((d.bit_length() - 1) / math.log2(5)))
    for bb in (b - 1, b, b + 1):
        if bb >= 0 and 5 ** bb == d:
            return True
    return False


def dyadic(n: int, e: int) -> Fraction:
    """n·2^e as a Fraction, without a gcd."""
    n, e = int(n), int(e)
    if n == 0:
        return Fraction(0)
    if e >= 0:
        return fraction_coprime(n << e, 1)
    tz = min((n & -n).bit_length() - 1, -e)
    return fraction_coprime(n >> tz, 1 << (-e - tz))


def mpf_parts(x):
    """(n, e) with x = n·2^e exactly, Python ints."""
    sign, man, exp, _bc = x._mpf_
    man, exp = int(man), int(exp)
    return (-man if sign else man), exp


def sqrt_enclosure(num: int, den: int, bits: int):
    """(lo, hi) dyadic Fractions with lo ≤ √(num/den) ≤ hi and hi − lo ≈ 2^-bits relative,
    in integer arithmetic on (bits + 64)-bit truncations of num and den (converting a
    multi-million-bit integer to an mpf takes seconds in mpmath's Python backend)."""
    keep = bits + 64
    sn = max(0, num.bit_length() - keep)
    sd = max(0, den.bit_length() - keep)
    if (sn - sd) % 2:  # an even shift, taken from the longer of the two
        if sd > 0:
            sd += 1
        else:
            sn += 1
    n0, d0 = num >> sn, den >> sd  # num ∈ [n0, n0 + 1)·2^sn, den ∈ [d0, d0 + 1)·2^sd
    n1 = n0 + (0 if (n0 << sn) == num else 1)
    d1 = d0 + (0 if (d0 << sd) == den else 1)
    k = bits + 8 + max(0, (d0.bit_length() - n0.bit_length()) // 2)
    lo = math.isqrt((n0 << (2 * k)) // d1)
    hi = math.isqrt(-(-(n1 << (2 * k)) // d0)) + 1
    e = (sn - sd) // 2 - k
    return dyadic(lo, e), dyadic(hi, e)


def as_fraction(x) -> Fraction:
    """An exact rational as a Fraction of Python ints. With gmpy2 installed, mpmath's
    mantissas are gmpy2.mpz and rationals may be mpq; mixing those with Fraction raises
    "SystemError: Object does not appear to be Fraction", so every exact value goes
    through here (or mpf_to_fraction) before Fraction arithmetic."""
    if type(x) is int:
        return Fraction(x)
    if isinstance(x, Fraction):
        if type(x.numerator) is int and type(x.denominator) is int:
            return x
        return fraction_coprime(int(x.numerator), int(x.denominator))
    if isinstance(x, mpf):
        return mpf_to_fraction(x)
    if isinstance(x, float):
        return Fraction(x)
    if hasattr(x, "numerator") and hasattr(x, "denominator"):  # gmpy2 mpz/mpq, numbers.Rational
        return fraction_coprime(int(x.numerator), int(x.denominator))
    return Fraction(int(x))


def mpf_to_fraction(x) -> Fraction:
    """The exact value of an mpf (ints taken out of gmpy2's mpz when that backend is on)."""
    sign, man, exp, _bc = x._mpf_
    man, exp = int(man), int(exp)
    if man == 0:
        return Fraction(0)
    if sign:
        man = -man
    if exp >= 0:
        return Fraction(man << exp)
    tz = min((man & -man).bit_length() - 1, -exp)  # mpmath keeps man odd; be safe anyway
    return fraction_coprime(man >> tz, 1 << (-exp - tz))


# ---------------------------------------------------------------------------
# IEEE rounding and hex floats
# ---------------------------------------------------------------------------

#: (significand bits, minimum normal exponent, maximum exponent)
FORMATS = {"f64": (53, -1022, 1023), "f32": (24, -126, 127)}


def round_to_format(x: Fraction, fmt: str) -> float:
    """x rounded to binary64/binary32 (nearest, ties to even, subnormals, overflow to
    ±inf), returned as the Python float that holds that value exactly."""
    p, emin, emax = FORMATS[fmt]
    x = as_fraction(x)  # Python ints throughout (gmpy2's mpz/mpq do not mix with Fraction)
    if x == 0:
        return 0.0
    neg = x < 0
    a = -x if neg else x
    # 2^e ≤ a < 2^(e+1)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if _pow2(e) > a:
        e -= 1
    elif _pow2(e + 1) <= a:
        e += 1
    q = max(e, emin) - (p - 1)  # quantum: the value of the last significand bit
    n = a / _pow2(q)
    r = n.numerator // n.denominator
    rem = n - r
    if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and r % 2 == 1):
        r += 1
    if r == 0:
        return -0.0 if neg else 0.0
    if Fraction(r) * _pow2(q) >= _pow2(emax + 1):
        return -math.inf if neg else math.inf
    v = math.ldexp(r, q)
    return -v if neg else v


def _pow2(e: int) -> Fraction:
    return Fraction(1 << e) if e >= 0 else Fraction(1, 1 << -e)


def same_float(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def parse_hex_float(s: str) -> float:
    if not re.match(r"^-?(0x[01](\.[0-9a-f]+)?p[+-]\d+|inf|nan)$", s):
        raise ValueError(f"not a C99 hex float in the contract's style: {s!r}")
    return float.fromhex(s) if "x" in s else float(s)


# ---------------------------------------------------------------------------
# The reference mathematics
# ---------------------------------------------------------------------------

#: Above this size (m times the bits of c) T_m and U_{m-1} are summed by the integer
#: recurrences instead of the closed form (same values; the closed form's m/2 big powers
#: cost seconds for a 100,000-bit c at m = 24).
CLOSED_FORM_LIMIT = 1 << 16


def _exact_ratio(num: int, q: int, e: int) -> Fraction:
    """num/q^e, without a quadratic gcd when q is 2^a·5^b (always, for our inputs)."""
    return fraction_25(num, q ** e) if is_smooth25(q) else Fraction(num, q ** e)


def chebyshev_scaled(m: int, p: int, q: int):
    """(q^m·T_m(p/q), q^(m−1)·U_{m−1}(p/q)) for m ≥ 1, integers, by a binary ladder on m
    with the addition formulas cos((a+b)θ) = cos aθ cos bθ − sin aθ sin bθ and
    sin((a+b)θ) = sin aθ cos bθ + cos aθ sin bθ, i.e. with s = q² − p² = q²(1 − c²):
    doubling  q^2n T_2n = A² − s·B²,  q^(2n−1) U_(2n−1) = 2AB;
    increment q^(n+1) T_(n+1) = p·A − s·B,  q^n U_n = p·B + A
    (A = q^n T_n, B = q^(n−1) U_(n−1)): O(log m) multiplications and no gcd."""
    s = q * q - p * p
    a, b = p, 1  # n = 1: q·T_1 = p, U_0 = 1
    for bit in bin(m)[3:]:
        a, b = a * a - s * b * b, 2 * a * b
        if bit == "1":
            a, b = p * a - s * b, p * b + a
    return a, b


def chebyshev_t_exact(m: int, c: Fraction) -> Fraction:
    """T_m(c) from the closed-form coefficients (not the recurrence), summed over a
    common denominator q^m (c = p/q) so that only one gcd is taken; for large
    inputs by the integer recurrence."""
    if m == 0:
        return Fraction(1)
    c = as_fraction(c)
    p, q = c.numerator, c.denominator
    if m * (p.bit_length() + q.bit_length()) > CLOSED_FORM_LIMIT:
        return _exact_ratio(chebyshev_scaled(m, p, q)[0], q, m)
    num = 0
    for k in range(m // 2 + 1):
        # coefficient (−1)^k 2^(m−2k−1) m/(m−k) C(m−k, k) is an integer for m ≥ 1
        coef = (m * math.comb(m - k, k) << (m - 2 * k)) // (2 * (m - k))
        num += (-1) ** k * coef * p ** (m - 2 * k) * q ** (2 * k)
    return _exact_ratio(num, q, m)


def chebyshev_u_exact(n: int, c: Fraction) -> Fraction:
    """U_n(c) = Σ_k (−1)^k C(n−k, k) (2c)^(n−2k), over the common denominator q^n (the
    integer recurrence for large inputs)."""
    c = as_fraction(c)
    p, q = c.numerator, c.denominator
    if n * (p.bit_length() + q.bit_length()) > CLOSED_FORM_LIMIT:
        return _exact_ratio(chebyshev_scaled(n + 1, p, q)[1], q, n)
    num = sum((-1) ** k * math.comb(n - k, k) * (2 * p) ** (n - 2 * k) * q ** (2 * k)
              for k in range(n // 2 + 1))
    return _exact_ratio(num, q, n)


def rational_sqrt(x: Fraction):
    """√x when x ≥ 0 is the square of a rational, else None."""
    x = as_fraction(x)
    if x < 0:
        return None
    a, b = math.isqrt(x.numerator), math.isqrt(x.denominator)
    if a * a == x.numerator and b * b == x.denominator:
        return fraction_coprime(a, b)
    return None


#: θ/π for the rational cosines (Niven): cos(rπ) ∈ {1, 1/2, 0, -1/2, -1}.
NIVEN = {Fraction(1): Fraction(0), Fraction(1, 2): Fraction(1, 3), Fraction(0): Fraction(1, 2),
         Fraction(-1, 2): Fraction(2, 3), Fraction(-1): Fraction(1)}


def cos_pi_exact(q: Fraction):
    """cos(qπ) when it is rational, else None."""
    r = q % 2
    table = {Fraction(0): 1, Fraction(1, 3): Fraction(1, 2), Fraction(1, 2): 0,
             Fraction(2, 3): Fraction(-1, 2), Fraction(1): -1, Fraction(4, 3): Fraction(-1, 2),
             Fraction(3, 2): 0, Fraction(5, 3): Fraction(1, 2)}
    v = table.get(r)
    return None if v is None else Fraction(v)


def sin_pi_exact(q: Fraction):
    """sin(qπ) when it is rational (0 or ±1), else None."""
    r = q % 2
    table = {Fraction(0): 0, Fraction(1, 2): 1, Fraction(1): 0, Fraction(3, 2): -1}
    v = table.get(r)
    return None if v is None else Fraction(v)


def kmax(m: Fraction) -> int:
    return math.ceil(m) - 1


class Undecided(Exception):
    """The working precision was too low to decide a branch."""


def branch_from_theta(m: Fraction, theta) -> int:
    """floor(mθ/π), clamped, for an exact (Fraction) or computed (mpf) θ; raises
    Undecided when mθ/π is too close to an integer to tell at this precision."""
    if theta == 0:
        return 0
    mt = to_mpf(m * theta) if isinstance(theta, Fraction) else to_mpf(m) * theta
    x = mt / mp.pi
    k = int(mpmath.floor(x))
    frac = x - k
    slack = abs(x) * mpf(2) ** (-(mp.prec - 16)) + mpf(2) ** (-(mp.prec - 16))
    if frac < slack or 1 - frac < slack:
        raise Undecided()
    return min(k, kmax(m))


def theta_of_cos(c: Fraction):
    """acos c as atan2(√(1 − c²), c), with 1 − c² formed exactly."""
    return mpmath.atan2(mpmath.sqrt(to_mpf(1 - c * c)), to_mpf(c))


def branch_from_cos(m: Fraction, c: Fraction):
    """(k, tie) for c = cos θ: exact for the Niven cosines, else from θ = acos c."""
    if c in NIVEN:
        x = m * NIVEN[c]
        k = math.floor(x)
        return min(k, kmax(m)), x.denominator == 1 and 0 < x
    return branch_from_theta(m, theta_of_cos(c)) if c != 1 else 0, False


class Ref:
    """A reference value, one of:

    * ``exact``: a Fraction;
    * ``sqrt``: (sign, num, den): the value is sign·√(num/den) with num, den > 0 integers
      (enclosed rigorously: mpmath's int→mpf, division and square root are correctly
      rounded, so at P bits the relative error is below 2^−(P−2));
    * ``numeric``: a function evaluated at the current mp.prec, compared at two
      precisions (a heuristic error estimate).

    ``start`` is the first working precision to try (default prec + 64) and ``second``
    the higher precision paired with p (default 2p) for ``numeric``; ``cap`` the largest p.
    """

    def __init__(self, exact=None, numeric=None, sqrt=None, start=None, second=None, cap=None):
        self.exact = exact
        self.numeric = numeric
        self.sqrt = sqrt
        self.start = start
        self.second = second
        self.cap = cap


def reference(op: str, m: Fraction, at: str, x: Fraction) -> Ref:
    """The reference for one request; raises ValueError for out-of-domain input."""
    if op not in OPS:
        raise ValueError(f"unknown op {op}")
    integer = m.denominator == 1
    if op in ("cos_m", "dpsi_dcos"):
        if not integer:
            raise ValueError("m must be an integer")
        lo = 0 if op == "cos_m" else 1
        if not lo <= m <= MAX_M:
            raise ValueError("m out of range")
    elif not 1 <= m <= MAX_M:
        raise ValueError("m out of range")
    if at == "cos":
        if not -1 <= x <= 1:
            raise ValueError("cos out of range")
    else:
        if x < 0:
            raise ValueError("theta out of range")
        with mp.workprec(64 + max(0, x.numerator.bit_length() - x.denominator.bit_length()) + 4096):
            if to_mpf(x) >= mp.pi:
                raise ValueError("theta out of range")

    mi = int(m) if integer else None

    # ---- exact routes ---------------------------------------------------------
    if at == "cos":
        if op == "cos_m":
            return Ref(exact=chebyshev_t_exact(mi, x))
        if integer and op == "dpsi_dtheta":
            # −(−1)^k·m·sin(mθ) with sin(mθ) = sin θ·U_{m−1}(c), sin θ = √(1 − c²) ≥ 0: the
            # square of the value, m²·U²·(1 − c²), is an exact rational.
            k = with_branch_retry(lambda: branch_from_cos(m, x)[0])
            u = chebyshev_u_exact(mi - 1, x)
            sgn = -1 if k % 2 == 0 else 1
            p_, q_ = x.numerator, x.denominator
            s2 = q_ * q_ - p_ * p_  # q²·(1 − c²)
            if u == 0 or s2 == 0:
                return Ref(exact=Fraction(0))
            r = math.isqrt(s2)
            if r * r == s2:  # 1 − c² = (r/q)²
                return Ref(exact=sgn * mi * u * Fraction(r, q_))
            sign = sgn if u > 0 else -sgn
            return Ref(sqrt=(sign, mi * mi * u.numerator ** 2 * s2, (u.denominator * q_) ** 2))
        if not integer and m.denominator == 2 and op in ("psi", "dpsi_dtheta"):
            # m = p/2, φ = θ/2 ∈ [0, π/2]: cos(mθ) = T_p(cos φ), sin(mθ) = sin φ·U_{p−1}(cos φ)
            # with cos φ = √((1 + c)/2), sin φ = √((1 − c)/2); U_{p−1} is even (p odd), a
            # polynomial in cos²φ. Exact when the square root needed is rational.
            pm = m.numerator
            half_cos2, half_sin2 = (1 + x) / 2, (1 - x) / 2
            if op == "psi":
                cphi = rational_sqrt(half_cos2)
                if cphi is not None:
                    k = with_branch_retry(lambda: branch_from_cos(m, x)[0])
                    return Ref(exact=(-1) ** k * chebyshev_t_exact(pm, cphi) - 2 * k)
            else:
                sphi = rational_sqrt(half_sin2)
                if sphi is not None:
                    k = with_branch_retry(lambda: branch_from_cos(m, x)[0])
                    n = pm - 1
                    u = sum((-1) ** j * math.comb(n - j, j) * 2 ** (n - 2 * j)
                            * half_cos2 ** ((n - 2 * j) // 2) for j in range(n // 2 + 1))
                    return Ref(exact=-(-1) ** k * m * sphi * u)
        if integer and op in ("psi", "dpsi_dcos"):
            def exact_cform():
                k, _tie = branch_from_cos(m, x)
                if op == "psi":
                    return (-1) ** k * chebyshev_t_exact(mi, x) - 2 * k
                return (-1) ** k * mi * chebyshev_u_exact(mi - 1, x)
            return Ref(exact=with_branch_retry(exact_cform))
        if x in NIVEN:
            # θ/π = r is rational: mθ = (m r)π, and cos/sin of that may be exact.
            r = NIVEN[x]
            k, tie = branch_from_cos(m, x)
            if op == "psi":
                cv = cos_pi_exact(m * r)
                if cv is not None:
                    return Ref(exact=(-1) ** k * cv - 2 * k)
            if op == "dpsi_dtheta":
                sv = sin_pi_exact(m * r)
                if sv is not None:
                    return Ref(exact=-(-1) ** k * m * sv)
    else:
        if x == 0:
            return Ref(exact={"cos_m": Fraction(1), "psi": Fraction(1), "dpsi_dcos": m * m,
                              "dpsi_dtheta": Fraction(0)}[op])

    # ---- numeric routes -------------------------------------------------------
    def numeric():
        theta = to_mpf(x) if at == "theta" else theta_of_cos(x)
        mt = to_mpf(m) * theta
        if op == "cos_m":  # no branch
            return mpmath.cos(mt)
        k = branch_from_theta(m, x) if at == "theta" else branch_from_cos(m, x)[0]
        sgn = -1 if k % 2 else 1
        if op == "psi":
            return sgn * mpmath.cos(mt) - 2 * k
        if op == "dpsi_dtheta":
            return -sgn * to_mpf(m) * mpmath.sin(mt)
        # dpsi_dcos, θ given: (−1)^k m U_{m−1}(cos θ), U_{m−1}(cos θ) = sin(mθ)/sin θ
        return sgn * to_mpf(m) * mpmath.sin(mt) / mpmath.sin(theta)

    return Ref(numeric=numeric)


def with_branch_retry(fn):
    """Runs fn at rising precision until no branch decision is Undecided."""
    p = 128
    while p <= MAX_WORK:
        with mp.workprec(p):
            try:
                return fn()
            except Undecided:
                p *= 2
    raise RuntimeError("branch undecided at the reference's precision cap")


def enclose(ref: Ref, prec: int, decide):
    """Yields (lo, hi) Fractions around the reference value at rising precision until
    decide(lo, hi) is true (or the cap is reached); returns (lo, hi, decided)."""
    if ref.exact is not None:
        v = as_fraction(ref.exact)
        return v, v, True
    p = ref.start or prec + 64
    cap = ref.cap or MAX_WORK
    last = None
    while p <= cap:
        if ref.sqrt is not None:
            sign, num, den = ref.sqrt
            lo, hi = sqrt_enclosure(num, den, p)
            if sign < 0:
                lo, hi = -hi, -lo
        else:
            try:
                with mp.workprec(p):
                    a = ref.numeric()
                with mp.workprec(ref.second(p) if ref.second else 2 * p):
                    b = ref.numeric()
            except Undecided:
                p *= 2
                continue
            # lo, hi = b ∓ (2|a − b| + |b|·2^-p), in integers aligned to one exponent
            # (Fraction sums of 100,000-bit dyadics take a quadratic gcd each)
            na, ea = mpf_parts(a)
            nb, eb = mpf_parts(b)
            e = min(ea if na else eb, eb - p)
            an, bn = na << ((ea if na else e) - e), nb << (eb - e)
            errn = 2 * abs(an - bn) + (abs(nb) << (eb - p - e))
            lo, hi = dyadic(bn - errn, e), dyadic(bn + errn, e)
        last = (lo, hi)
        if decide(lo, hi):
            return lo, hi, True
        p *= 2
    if last is None:
        raise RuntimeError("no reference value")
    return last[0], last[1], False


def decimal_digits(prec: int) -> int:
    return math.ceil(prec * math.log10(2)) + 1


# ---------------------------------------------------------------------------
# Checking one result
# ---------------------------------------------------------------------------

#: Output fields of the old tie/zero rules, being retired (issue 11): a proven value
#: needs no flag, an unproven one is an error line. Their presence is counted apart.
RETIRED_FIELDS = ("tie_format", "tie_bound", "zero_bound")


class Verdict:
    """What the check of one output line found.

    problems: wrong numbers or fields; retired: retired fields present; error: the text of
    an error line for a request the reference evaluates; undecided: the reference could not
    settle the checks below its cap; skipped: not an op of this script; want: the reference
    answer (value, f64, f32) when decided; lo, hi: the final enclosure."""

    def __init__(self):
        self.problems, self.retired = [], []
        self.error = None
        self.undecided = self.skipped = False
        self.want = None
        self.lo = self.hi = None

    @property
    def ok(self):
        return not (self.problems or self.retired or self.error)


def decimal_string(x: Fraction, digits: int) -> str:
    """x rounded to `digits` significant decimal digits, in the oracle's d.ddd…e±x style
    (for reports only)."""
    x = as_fraction(x)
    if x == 0:
        return "0"
    neg = x < 0
    a = -x if neg else x
    e = math.floor((a.numerator.bit_length() - a.denominator.bit_length()) * math.log10(2))
    while a >= Fraction(10) ** (e + 1):
        e += 1
    while a < Fraction(10) ** e:
        e -= 1
    n = round(a * Fraction(10) ** (digits - 1 - e))
    if n >= 10 ** digits:
        n //= 10
        e += 1
    t = str(n)
    return f"{'-' if neg else ''}{t[0]}.{t[1:]}e{e}" if digits > 1 else f"{'-' if neg else ''}{t}e{e}"


def hexf(v: float) -> str:
    """A float as the oracle writes it: C99 hex, "-0x0p+0" for −0, "inf"."""
    if math.isinf(v):
        return "-inf" if v < 0 else "inf"
    if v == 0:
        return "-0x0p+0" if math.copysign(1.0, v) < 0 else "0x0p+0"
    mant, _, exp = float.hex(v).partition("p")
    mant = mant.rstrip("0").rstrip(".")
    return f"{mant}p{exp}"


def check_result(req: dict, out: dict) -> Verdict:
    """Checks one output line against the reference. The expected semantics (issue 11):
    f32/f64 the correct rounding of the exact value (nearest, ties to even, subnormals,
    overflow); a nonzero value's decimal nonzero, with the right sign, within one unit of
    its last digit; "0" only for an exact zero; no tie_format/tie_bound/zero_bound."""
    v = Verdict()
    problems = v.problems
    if req.get("op") not in OPS:
        v.skipped = True
        return v
    try:
        op = req["op"]
        m = number_of(req["m"]) if "m" in req else None
        at = "cos" if "cos" in req else "theta"
        x = number_of(req[at])
        precq = number_of(req["prec"]) if "prec" in req else Fraction(DEFAULT_PREC)
        if precq.denominator != 1 or not MIN_PREC <= precq <= MAX_PREC:
            raise ValueError("prec out of range")
        if ("cos" in req) == ("theta" in req) or m is None:
            raise ValueError("malformed request")
        prec = int(precq)
        ref = reference(op, m, at, x)
        hint = req.get("_ref_start")  # generator's hint for long inputs (never sent)
        if hint and ref.exact is None:
            ref.start, ref.second, ref.cap = hint, (lambda p: p + 64), 4 * hint
    except (ValueError, KeyError) as e:
        if "error" not in out:
            problems.append(f"expected an error ({e}), got {out}")
        return v
    if "error" in out:
        v.error = out["error"]
    v.retired = [f for f in RETIRED_FIELDS if f in out]
    if v.error is None:
        for field in ("value", "f64", "f32"):
            if field not in out:
                problems.append(f"missing field {field}")
        if problems:
            return v
        if out.get("op") != op:
            problems.append(f"op echoed as {out.get('op')!r}")
        got64 = parse_hex_float(out["f64"])
        got32 = parse_hex_float(out["f32"])
        value = out["value"]
        if value != "0":
            mant, _, exp = value.partition("e")
            if not re.match(r"^-?\d(\.\d+)?$", mant) or not re.match(r"^-?\d+$", exp):
                problems.append(f"value {value!r} is not d.ddd…e±x")
                return v
            nd = sum(ch.isdigit() for ch in mant)
            if nd != decimal_digits(prec):
                problems.append(f"value has {nd} digits, expected {decimal_digits(prec)}")
            unit = Fraction(10) ** (int(exp) - (nd - 1))
            dval = parse_exact(value)
            if dval == 0:
                problems.append(f"value {value!r} is a zero written with digits")
    else:
        value = None

    def decided(lo, hi):
        """True once [lo, hi] settles every check, whether it passes or fails (so that
        a wrong answer does not drive the reference to its precision cap)."""
        if not same_float(round_to_format(lo, "f64"), round_to_format(hi, "f64")):
            return False
        if not same_float(round_to_format(lo, "f32"), round_to_format(hi, "f32")):
            return False
        if value is None:  # error line: settle the reference answer only
            return lo == hi or lo > 0 or hi < 0
        if value == "0":
            return lo == hi or lo > 0 or hi < 0  # exact (zero or not), or surely nonzero
        passes = max(abs(dval - lo), abs(dval - hi)) < unit
        fails = not (lo - unit < dval < hi + unit)
        return passes or fails

    lo, hi, ok = enclose(ref, prec, decided)
    v.lo, v.hi = lo, hi
    if not ok:
        # Not decidable at the reference's cap; report what can still be said.
        if value == "0" and (lo > 0 or hi < 0):
            problems.append(f"value \"0\" but the reference is nonzero, in [{float(lo)}, {float(hi)}]")
        v.undecided = not problems
        return v
    want64, want32 = round_to_format(lo, "f64"), round_to_format(lo, "f32")
    if lo == hi == 0:
        want64 = want32 = 0.0  # exact zeros are +0
    mid = lo if lo == hi else (lo + hi) / 2
    v.want = {"value": decimal_string(mid, decimal_digits(prec)), "f64": hexf(want64), "f32": hexf(want32)}
    if value is None:
        return v
    if not same_float(got64, want64):
        problems.append(f"f64 {out['f64']} but correctly rounded is {hexf(want64)}")
    if not same_float(got32, want32):
        problems.append(f"f32 {out['f32']} but correctly rounded is {hexf(want32)}")
    if value == "0":
        if not lo == hi == 0:
            problems.append(f"value \"0\" for a nonzero value ≈ {v.want['value']}")
    elif lo == hi == 0:
        problems.append(f"value {value} for an exact zero")
    elif (dval > 0) != (lo > 0):
        problems.append(f"value {value} has the wrong sign (reference ≈ {v.want['value']})")
    elif max(abs(dval - lo), abs(dval - hi)) >= unit:
        problems.append(f"value {value} off by more than one unit (reference ≈ "
                        f"{decimal_string(mid, decimal_digits(prec) + 3)})")
    return v


# ---------------------------------------------------------------------------
# Case generation
# ---------------------------------------------------------------------------

def hex_of_fraction(x: Fraction, bits: int = 200) -> str:
    """An exact hex-float text for a dyadic x (x rounded to `bits` bits first)."""
    if x == 0:
        return "0x0p+0"
    neg = x < 0
    a = -x if neg else x
    e = a.numerator.bit_length() - a.denominator.bit_length()
    scale = bits - 1 - e
    n = round(a * _pow2(scale))
    # n·2^(−scale) with n having ~bits bits; write n in hex with an exponent.
    h = format(n, "x")
    return f"{'-' if neg else ''}0x{h}p{-scale:+d}"


def dec_of_mpf(v, digits: int = 45) -> str:
    return mpmath.nstr(v, digits, strip_zeros=False, min_fixed=-1, max_fixed=-1).replace("e+", "e")


def nudged(point, f64_too=True):
    """Exact texts near an mpf `point` (at mp.prec ≥ 700): its 200-bit rounding,
    ±2^-100, ±1e-30 (decimal), and its nearest f64 ± 0..2 ulps (hex and JSON number)."""
    pf = mpf_to_fraction(point)
    out = [hex_of_fraction(pf)]
    for d in (Fraction(1, 1 << 100), Fraction(1, 10 ** 30)):
        for s in (1, -1):
            out.append(hex_of_fraction(pf + s * d, 260) if d.denominator & (d.denominator - 1) == 0
                       else dec_of_mpf(point + s * mpf(10) ** -30, 60))
    if f64_too:
        f = float(point)
        for k in (-2, -1, 0, 1, 2):
            g = f
            for _ in range(abs(k)):
                g = math.nextafter(g, math.inf if k > 0 else -math.inf)
            out.append(float.hex(g))
            if k == 0:
                out.append(JsonNumber(repr(g)))
    return out


def in_cos_range(t) -> bool:
    try:
        v = number_of(t)
    except ValueError:
        return False
    return -1 <= v <= 1


def in_theta_range(t) -> bool:
    try:
        v = number_of(t)
    except ValueError:
        return False
    with mp.workprec(800):
        return 0 <= v and to_mpf(v) < mp.pi


def generate_cases(rng: random.Random, n_random: int, extended: bool = False,
                   classes=None) -> list[dict]:
    """The generated requests; each has a "_class" key (and the extreme ones "_target",
    "_ref_start"), never sent to the binary. classes: only these classes."""
    cases = []
    precs = [16, 24, 53, 64, 113, 256]
    section = ["branch_points"]

    def add(op, m, at, x, prec=None):
        c = {"id": len(cases), "op": op, "m": m, at: x}
        c["prec"] = prec if prec is not None else rng.choice(precs)
        c["_class"] = section[0]
        cases.append(c)

    with mp.workprec(800):
        # Branch points and thresholds for m = 1..8 (both sides, many distances).
        for m in range(1, 9):
            for j in range(0, m + 1):
                t = mpmath.cos(j * mp.pi / m)
                texts = [tx for tx in nudged(t) if in_cos_range(tx)]
                # The exact rational thresholds (Niven), as exact decimal strings.
                texts += [str(float(fr)) for fr, r in NIVEN.items() if r == Fraction(j, m)]
                for tx in texts:
                    for op in ("psi", "dpsi_dcos", "dpsi_dtheta", "cos_m"):
                        add(op, m, "cos", tx)
                th = j * mp.pi / m
                for tx in [tx for tx in nudged(th) if in_theta_range(tx)]:
                    for op in ("psi", "dpsi_dtheta", "dpsi_dcos", "cos_m"):
                        add(op, m, "theta", tx)
        # Real margins: branch points kπ/m, the ends, the Niven cosines (1.5 has exact
        # zeros: ψ(c = 1/2) = cos(π/2) = 0, dψ/dθ(c = −1/2) = 0).
        section[0] = "real_m"
        for mt in ("1.7", "2.5", "1.5", "3.25", "1.000001"):
            mq = Fraction(mt)
            for k in range(0, math.floor(mq) + 1):
                th = k * mp.pi / to_mpf(mq)
                for tx in [tx for tx in nudged(th) if in_theta_range(tx)]:
                    for op in ("psi", "dpsi_dtheta"):
                        add(op, mt, "theta", tx)
            for c in ("1", "0.5", "0", "-0.5", "-1", "0.1", "-0.9999999999",
                      "0x1.fffffffffffffp-1", "-0x1.fffffffffffffp-1"):
                for op in ("psi", "dpsi_dtheta"):
                    add(op, mt, "cos", c)
        # Exact and special inputs.
        section[0] = "special"
        for m in (0, 1, 2, 3, 5, 16, 1024):
            for c in ("0", "1", "-1", "0.5", "0x1p-1074", "0.1"):
                add("cos_m", m, "cos", c, 64)
        # High precisions.
        section[0] = "high_prec"
        for prec in (1024, 4096, 16384):
            add("psi", 4, "cos", "0.3", prec)
            add("psi", 4, "theta", "1", prec)
            add("psi", "1.7", "cos", "-0.5", prec)
            add("dpsi_dtheta", 5, "theta", "0.1", prec)
            add("cos_m", 1024, "theta", "0.333", prec)
        section[0] = "subnormal"
        # Results in the subnormal ranges (m = 1: ψ(c) = T_1(c) = c, dψ/dθ(θ) = −sin θ):
        # between 0 and the smallest subnormal, ties at half of it, just above and below.
        tiny = ("0x1.8p-1075", "-0x1.8p-1075", "0x1.fffffp-1075", "0x1p-1075", "-0x1p-1075",
                "0x1.0000001p-1075", "0x1p-1076", "0x1.8p-1074", "0x1.8p-150", "0x1p-150",
                "0x1.0000001p-150", "0x1.7p-149", "0x1p-1022", "0x1.fffffffffffff8p-1023")
        for c in tiny:
            add("cos_m", 1, "cos", c, 64)
            add("psi", 1, "cos", c, 64)
            if not c.startswith("-"):
                add("dpsi_dtheta", 1, "theta", c, 64)
                add("cos_m", 1, "theta", c, 64)
        # Random cases.
        section[0] = "random"
        for _ in range(n_random):
            op = rng.choice(OPS)
            if op in ("cos_m", "dpsi_dcos") or rng.random() < 0.6:
                m = rng.randint(0 if op == "cos_m" else 1, 16)
            else:
                m = f"{rng.randint(1, 9)}.{rng.randint(1, 99)}"
            prec = rng.choice(precs + [rng.randint(16, 600)])
            kind = rng.random()
            if rng.random() < 0.5:
                at = "cos"
                if kind < 0.3:
                    x = JsonNumber(repr(rng.uniform(-1, 1)))
                elif kind < 0.6:
                    x = float.hex(rng.uniform(-1, 1))
                elif kind < 0.8:
                    d = rng.randint(1, 20)
                    x = f"{rng.randint(-10 ** d, 10 ** d) / 10 ** d:.{d}f}" if d < 15 else \
                        f"{'-' if rng.random() < 0.5 else ''}0.{rng.randint(0, 10 ** d - 1):0{d}d}"
                else:
                    e = rng.randint(1, 200)
                    x = hex_of_fraction((1 - _pow2(-e)) * rng.choice((1, -1)), 260)
            else:
                at = "theta"
                if kind < 0.3:
                    x = JsonNumber(repr(rng.uniform(0, 3.14159)))
                elif kind < 0.6:
                    x = float.hex(rng.uniform(0, 3.14159))
                elif kind < 0.8:
                    d = rng.randint(1, 20)
                    x = f"{rng.randint(0, 314159 * 10 ** (d - 1) // 10 ** 5) / 10 ** d:.{d}f}" if d < 15 else \
                        f"{rng.randint(0, 3)}.{rng.randint(0, 10 ** d - 1):0{d}d}"
                else:
                    x = f"0x1p-{rng.randint(1, 1100)}"
                if not in_theta_range(x):
                    x = "3"
            add(op, m, at, x, prec)
    # Requests that must be refused.
    bad = [
        {"op": "psi", "m": 0, "cos": "0.5"},
        {"op": "psi", "m": "0.5", "cos": "0.5"},
        {"op": "psi", "m": 65537, "cos": "0.5"},
        {"op": "cos_m", "m": 65537, "cos": "0.5"},
        {"op": "dpsi_dcos", "m": "1.5", "cos": "0.5"},
        {"op": "dpsi_dcos", "m": 0, "cos": "0.5"},
        {"op": "psi", "m": 4, "cos": "1.0000000000000000000001"},
        {"op": "psi", "m": 4, "cos": JsonNumber("1.5")},
        {"op": "psi", "m": 4, "theta": "3.1416"},
        {"op": "psi", "m": 4, "theta": "3.14159265358979323846264338327950289"},
        {"op": "dpsi_dtheta", "m": "1.7", "theta": "-1e-30"},
        {"op": "psi", "m": 4, "cos": "0.5", "prec": 15},
        {"op": "psi", "m": 4, "cos": "0.5", "prec": MAX_PREC + 1},
        {"op": "psi", "m": 4, "cos": "0.5", "theta": "1"},
        {"op": "psi", "m": 4},
    ]
    for b in bad:
        b["id"] = len(cases)
        b["_class"] = "refused"
        cases.append(b)
    # The extreme classes (issue 11), after the others so that their ids do not shift.
    for cls, req in extreme_cases(rng, extended):
        req = {"id": len(cases), **req, "_class": cls}
        cases.append(req)
    if classes:
        cases = [c for c in cases if c["_class"] in classes]
    return cases


# ---------------------------------------------------------------------------
# The extreme classes of issue 11
# ---------------------------------------------------------------------------
#
# * midpoint_long_c: cos_m, psi, dpsi_dcos, dpsi_dtheta at a long rational c (a decimal
#   of ~30,000 digits or a hex float of ~100,000 bits), m = 4 (the oracle's exact
#   route) and m = 24 (m·bits(c) beyond the exact-route budget: its interval route),
#   placed within 2^-100000 of an f32 or f64 rounding midpoint t: c is the root of
#   f(c) = t (Newton on the polynomial, where f is locally invertible), rounded to
#   ~100,200 bits, then moved by ±2^-100033 (hex) or ±10^-30110 (decimal). The reference
#   is exact (T_m, U_{m-1} over the integers; dψ/dθ = ∓m·√(1−c²)·U_{m−1}(c) enclosed from
#   its exact square), so the side of t is decided exactly.
# * midpoint_long_theta: ψ, dψ/dθ (m = 4 and m = 5/2) and cos_m (m = 4) at a long θ,
#   within 2^-40000 and 2^-100000 of a midpoint (the same construction with Newton on
#   cos/sin; the value is transcendental, never a midpoint). Reference: mpmath at
#   bits(θ) + 300 and + 64 more bits (the distance to t is ~|f'|·2^-(d+33), so
#   d + 300 bits separate the value from t with 250 bits to spare).
# * tiny: every op at inputs near its zeros, kπ/m, (2j+1)π/(2m), cos(jπ/m) and the roots
#   of T_m, truncated or rounded up to 40 … 1000 digits (values 1e-40 … 1e-1000, f32 and
#   f64 subnormals and signed zeros), and at c, θ = 1e-400. The decimal must be nonzero
#   with the right sign; f32/f64 the correctly signed zero or subnormal.
# * true_midpoint: short dyadic c where the exact value IS a midpoint (found by search):
#   cos_m, psi, dpsi_dcos for m = 2, 3, 4, and psi, dpsi_dtheta for m = 3/2, 5/2 at
#   c = 2s²−1 resp. 1−2σ² (half angle rational): ties to even.

def cheb_mpf(m: int, c):
    """T_m(c), U_{m−1}(c) at the current precision, by the recurrences."""
    t0, t1, u0, u1 = mpf(1), c, mpf(0), mpf(1)
    for _ in range(m - 1):
        t0, t1 = t1, 2 * c * t1 - t0
        u0, u1 = u1, 2 * c * u1 - u0
    return t1, u1


def quantum(v: Fraction, fmt: str) -> int:
    """log2 of the last-place unit of |v| in fmt (v ≠ 0)."""
    p, emin, _ = FORMATS[fmt]
    a = abs(as_fraction(v))
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if _pow2(e) > a:
        e -= 1
    return max(e, emin) - (p - 1)


def midpoint_near(v: Fraction, fmt: str) -> Fraction:
    """The rounding midpoint of fmt just above v (between the floats around v)."""
    q = quantum(v, fmt)
    n = math.floor(as_fraction(v) / _pow2(q))
    return (n + Fraction(1, 2)) * _pow2(q)


def is_midpoint(v: Fraction, fmt: str) -> bool:
    if v == 0:
        return False
    return (as_fraction(v) / _pow2(quantum(v, fmt))).denominator == 2


def newton(fn, x0, target: Fraction, bits: int):
    """The root of fn(x) = target near x0 (fn returns value, derivative at mp.prec),
    to about `bits` bits, with the working precision doubling from 48 bits."""
    x = mpf(x0)
    p, final = 48, 0
    while final < 2:  # the start is only ~25 bits good (an f32 ulp away): one more step
        p = min(2 * p, bits)
        final += p == bits
        with mp.workprec(p + 32):
            v, d = fn(x)
            x = x - (v - to_mpf(target)) / d
    return x


def long_text(x, style: str, dist_bits: int, side: int):
    """x (an mpf at ≥ dist_bits + 200 bits) rounded to a long exact text, then moved by
    side·δ, δ ≈ 2^-(dist_bits+33): a decimal with ⌈(dist+33)·log10 2⌉ + 60 digits after
    the point, or a hex float with dist + 233 fractional bits."""
    xf = mpf_to_fraction(x)
    if style == "dec":
        e = math.ceil((dist_bits + 33) * math.log10(2))
        d = e + 60
        n = round(xf * 10 ** d) + side * 10 ** (d - e)
        neg = n < 0
        t = str(abs(n)).rjust(d + 1, "0")
        return ("-" if neg else "") + t[:-d] + "." + t[-d:]
    b = dist_bits + 233
    n = round(xf * (1 << b)) + side * (1 << (b - dist_bits - 33))
    return f"{'-' if n < 0 else ''}0x{abs(n):x}p-{b}"


def _cform_fn(op: str, m: int, k: int):
    sg = -1 if k % 2 else 1

    def f(c):
        t, u = cheb_mpf(m, c)
        if op == "cos_m":
            return t, m * u
        if op == "psi":
            return sg * t - 2 * k, sg * m * u
        if op == "dpsi_dcos":  # U'_{m−1} = (m T_m − c U_{m−1})/(c² − 1)
            return sg * m * u, sg * m * (m * t - c * u) / (c * c - 1)
        sn = mpmath.sqrt(1 - c * c)  # dψ/dθ = −(−1)^k m sin θ U_{m−1}; d sin(mθ)/dc = −m T_m/sin θ
        return -sg * m * sn * u, sg * m * m * t / sn
    return f


def _tform_fn(op: str, m: Fraction, k: int):
    sg = -1 if k % 2 else 1

    def f(th):
        mm = to_mpf(m)
        c, sn = mpmath.cos_sin(mm * th)
        if op == "cos_m":
            return c, -mm * sn
        if op == "psi":
            return sg * c - 2 * k, -sg * mm * sn
        return -sg * mm * sn, -sg * mm * mm * c  # dpsi_dtheta
    return f


def _interior_u(rng, op):
    """A position inside a branch (as a fraction of it) away from its ends and from the
    zeros of the derivative (cos(mθ) = 0 in the middle, for dψ/dθ)."""
    return rng.choice((rng.uniform(0.2, 0.35), rng.uniform(0.65, 0.8)))


def near_midpoint_case(rng, op: str, m, at: str, fmt: str, side, style: str, dist_bits: int):
    """One request within ~2^-dist_bits of a rounding midpoint of fmt (see above). side
    +1/−1 moves the input up/down; "odd" puts the value on the side of the odd neighbour
    of the midpoint (the correct answer is then not the tie-to-even one)."""
    mq = Fraction(m)
    nb = math.ceil(mq)
    with mp.workprec(80):
        while True:
            k = rng.randrange(nb)
            u = _interior_u(rng, op)
            th0 = (k + u) * mp.pi / to_mpf(mq)
            if th0 < mp.pi * 0.97:
                break
        if at == "cos":
            fn, x0 = _cform_fn(op, int(mq), k), mpmath.cos(th0)
        else:
            fn, x0 = _tform_fn(op, mq, k), th0
        v0, d0 = fn(x0)
        t = midpoint_near(mpf_to_fraction(v0), fmt)
        if side == "odd":  # the value moves by f'·δ: pick δ's sign so it ends up there
            n = math.floor(t / _pow2(quantum(t, fmt)))  # t = (n + ½)·ulp; odd neighbour
            up = n % 2 == 0                           # is n + 1 when n is even
            side = 1 if (d0 > 0) == up else -1
    x = newton(fn, x0, t, dist_bits + 200)
    text = long_text(x, style, dist_bits, side)
    return {"op": op, "m": m if mq.denominator == 1 else str(m), at: text,
            "prec": rng.choice((16, 24, 53, 64, 113)),
            "_target": t, "_ref_start": dist_bits + 300}


def tiny_cases():
    """Inputs where the value is tiny but nonzero (see above)."""
    out = []
    with mp.workprec(4000):
        pi = +mp.pi

        def trunc(x, digits, up=False):
            """x to `digits` decimals after the point, truncated (or rounded up)."""
            n = mpmath.floor(x * mpf(10) ** digits) + (1 if up else 0)
            t = str(int(n)).rjust(digits + 1, "0")
            return t[:-digits] + "." + t[-digits:]

        def add(op, m, at, x, prec):
            out.append({"op": op, "m": m, at: x, "prec": prec})

        # dψ/dθ at θ near kπ/m (sin(mθ) → 0): the example first.
        add("dpsi_dtheta", 4, "theta", trunc(pi, 400), 16)
        add("dpsi_dtheta", 4, "theta", trunc(pi, 310), 53)    # f64 subnormal
        add("dpsi_dtheta", 4, "theta", trunc(pi, 40), 24)     # f32 subnormal
        add("dpsi_dtheta", 4, "theta", trunc(pi, 1000), 256)
        add("dpsi_dtheta", 4, "theta", trunc(pi / 2, 400, up=True), 16)
        add("dpsi_dtheta", 4, "theta", trunc(pi / 2, 400), 64)
        add("dpsi_dtheta", 4, "theta", trunc(pi / 4, 300, up=True), 53)
        add("dpsi_dtheta", 3, "theta", trunc(pi / 3, 320), 113)
        add("dpsi_dtheta", "2.5", "theta", trunc(2 * pi / 5, 400), 16)
        add("dpsi_dtheta", "2.5", "theta", trunc(2 * pi / 5, 400, up=True), 53)
        add("dpsi_dtheta", 4, "theta", "1e-400", 16)
        # ψ at θ near π/(2m) (the zero of ψ on branch 0).
        add("psi", 4, "theta", trunc(pi / 8, 400), 16)
        add("psi", 4, "theta", trunc(pi / 8, 400, up=True), 53)
        add("psi", 4, "theta", trunc(pi / 8, 42), 24)
        add("psi", "2.5", "theta", trunc(pi / 5, 300), 64)
        add("psi", 1, "theta", trunc(pi / 2, 312, up=True), 53)
        # cos_m at θ near (2j+1)π/(2m), dψ/dc at θ near kπ/m.
        add("cos_m", 3, "theta", trunc(pi / 6, 400), 16)
        add("cos_m", 4, "theta", trunc(3 * pi / 8, 500, up=True), 113)
        add("dpsi_dcos", 4, "theta", trunc(pi / 4, 400), 16)
        add("dpsi_dcos", 4, "theta", trunc(3 * pi / 4, 305, up=True), 53)
        add("dpsi_dcos", 2, "theta", trunc(pi / 2, 400), 24)
        # c-form: near the roots of T_m and the thresholds cos(jπ/m).
        r2 = mpmath.sqrt(2) / 2
        add("cos_m", 2, "cos", trunc(r2, 400), 16)
        add("cos_m", 2, "cos", trunc(r2, 400, up=True), 53)
        add("cos_m", 3, "cos", trunc(mpmath.sqrt(3) / 2, 310), 64)
        add("cos_m", 4, "cos", trunc(mpmath.cos(pi / 8), 45), 24)
        add("cos_m", 3, "cos", "1e-400", 16)
        add("psi", 2, "cos", trunc(r2, 400, up=True), 16)
        add("psi", 4, "cos", trunc(mpmath.cos(pi / 8), 1000), 256)
        add("psi", "2.5", "cos", trunc(mpmath.cos(pi / 5), 300), 53)
        add("dpsi_dcos", 4, "cos", trunc(r2, 400), 16)
        add("dpsi_dcos", 4, "cos", trunc(r2, 400, up=True), 53)
        add("dpsi_dcos", 2, "cos", "1e-400", 16)
        add("dpsi_dcos", 3, "cos", "-0.5" + "0" * 308 + "3", 53)
        add("dpsi_dtheta", 4, "cos", trunc(r2, 400), 16)
        add("dpsi_dtheta", 4, "cos", "-" + trunc(r2, 320, up=True), 53)
        add("dpsi_dtheta", 3, "cos", "0.5" + "0" * 398 + "1", 24)
        add("dpsi_dtheta", 2, "cos", "-1e-400", 16)
        add("dpsi_dtheta", "2.5", "cos", trunc(mpmath.cos(2 * pi / 5), 400), 16)
    return out


def _search_midpoint(rng, make, fmt: str, ebits, tries=4000):
    """A request whose exact value is a midpoint of fmt: make(n, e) → (request, value)
    for random odd n < 2^e, e from ebits; None if none found."""
    for _ in range(tries):
        e = rng.choice(ebits)
        n = rng.randrange(1, 1 << e) | 1
        got = make(n, e)
        if got is not None and is_midpoint(got[1], fmt):
            return got[0]
    return None


def true_midpoint_cases(rng):
    """Short dyadic inputs whose exact value is an f32/f64 rounding midpoint."""
    out = []
    for fmt in ("f32", "f64"):
        p = FORMATS[fmt][0]
        for op in ("cos_m", "psi", "dpsi_dcos"):
            for m in (2, 3, 4):
                def make(n, e, op=op, m=m):
                    c = Fraction(rng.choice((1, -1)) * n, 1 << e)
                    if abs(c) >= 1:
                        return None
                    req = {"op": op, "m": m, "cos": hex_of_fraction(c, e + 2)}
                    return req, reference(op, Fraction(m), "cos", c).exact
                base = math.ceil((p + 1) / (m - 1 if op == "dpsi_dcos" else m))
                req = _search_midpoint(rng, make, fmt, list(range(base, base + 4)))
                if req:
                    req["prec"] = rng.choice((16, 53, 64))
                    out.append(req)
        for m in (Fraction(3, 2), Fraction(5, 2)):
            for op in ("psi", "dpsi_dtheta"):
                def make(n, e, op=op, m=m):
                    s2 = Fraction(n, 1 << e) ** 2
                    c = 2 * s2 - 1 if op == "psi" else 1 - 2 * s2
                    if c == 1 or c == -1:
                        return None
                    req = {"op": op, "m": str(float(m)), "cos": hex_of_fraction(c, 2 * e + 4)}
                    ref = reference(op, m, "cos", c)
                    return (req, ref.exact) if ref.exact is not None else None
                base = math.ceil((p + 1) / m.numerator)
                req = _search_midpoint(rng, make, fmt, list(range(base, base + 4)))
                if req:
                    req["prec"] = rng.choice((16, 53, 64))
                    out.append(req)
    return out


def extreme_cases(rng, extended: bool):
    """(class, request) pairs of the classes above; --extended adds the expensive ones."""
    out = []
    # midpoint_long_c: m = 4 (exact route) every op/format/side; m = 24 (interval
    # route) one side per op/format by default, both with --extended.
    for m in (4, 24):
        for op in ("cos_m", "psi", "dpsi_dcos", "dpsi_dtheta"):
            for fmt in ("f32", "f64"):
                for side in (1, -1):
                    if m == 24 and not extended and side < 0:
                        continue
                    style = "dec" if (side > 0) == (fmt == "f32") else "hex"
                    sd = "odd" if m == 24 and not extended else side
                    out.append(("midpoint_long_c",
                                near_midpoint_case(rng, op, m, "cos", fmt, sd, style, 100000)))
    # midpoint_long_theta: 2^-40000 for every op/format; 2^-100000 for two by default.
    far = [("psi", 4, "f64", "odd", "dec"), ("dpsi_dtheta", "2.5", "f32", "odd", "hex")]
    for op, m in (("psi", 4), ("dpsi_dtheta", 4), ("cos_m", 4), ("psi", "2.5"), ("dpsi_dtheta", "2.5")):
        for fmt in ("f32", "f64"):
            out.append(("midpoint_long_theta",
                        near_midpoint_case(rng, op, m, "theta", fmt, "odd",
                                           "hex" if fmt == "f32" else "dec", 40000)))
            if extended:
                for sd in (1, -1):
                    out.append(("midpoint_long_theta",
                                near_midpoint_case(rng, op, m, "theta", fmt, sd,
                                                   "dec" if sd > 0 else "hex", 100000)))
    if not extended:
        for op, m, fmt, side, style in far:
            out.append(("midpoint_long_theta",
                        near_midpoint_case(rng, op, m, "theta", fmt, side, style, 100000)))
    out += [("tiny", r) for r in tiny_cases()]
    out += [("true_midpoint", r) for r in true_midpoint_cases(rng)]
    return out


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

def dump_case(c: dict) -> str:
    """JSON text of a case, writing JsonNumber values as bare numbers (keys starting
    with "_" are the script's own notes and are left out)."""
    parts = []
    for k, v in c.items():
        if k.startswith("_"):
            continue
        vs = str(v) if isinstance(v, JsonNumber) else json.dumps(v)
        parts.append(f"{json.dumps(k)}:{vs}")
    return "{" + ",".join(parts) + "}"


def load_jsonl(text: str) -> list[dict]:
    return [json.loads(line, parse_float=JsonNumber, parse_int=JsonNumber)
            for line in text.splitlines() if line.strip()]


def run_binary(binary: str, cases_text: str) -> list[dict]:
    proc = subprocess.run([binary, "eval"], input=cases_text, capture_output=True, text=True,
                          check=False)
    if proc.returncode not in (0, 1):
        sys.exit(f"{binary} eval failed with status {proc.returncode}: {proc.stderr[:2000]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def self_test() -> int:
    """The reference against values known in closed form."""
    fails = 0

    def expect(op, m, at, x, want):
        nonlocal fails
        ref = reference(op, Fraction(m), at, parse_exact(x) if isinstance(x, str) else Fraction(x))
        lo, hi, _ = enclose(ref, 200, lambda lo, hi: hi - lo < Fraction(1, 1 << 190))
        w = Fraction(want) if not isinstance(want, Fraction) else want
        if not (abs(lo - w) < Fraction(1, 1 << 180) and abs(hi - w) < Fraction(1, 1 << 180)):
            fails += 1
            print(f"self-test: {op} m={m} {at}={x}: {float(lo)} != {float(w)}")

    expect("psi", 4, "cos", "0.3", Fraction("-2.3448"))
    expect("psi", 4, "cos", "0", -3)
    expect("psi", 3, "cos", "0.5", -1)
    expect("psi", 3, "cos", "-0.5", -3)
    expect("psi", 2, "cos", "-1", -3)
    expect("cos_m", 3, "cos", "0.5", -1)
    expect("cos_m", 5, "cos", "0", 0)
    expect("dpsi_dcos", 4, "cos", "1", 16)
    expect("dpsi_dcos", 4, "cos", "-1", 16)
    expect("dpsi_dcos", 3, "cos", "0.5", 0)
    expect("dpsi_dtheta", 4, "cos", "0", 0)
    expect("psi", "1.5", "cos", "0.5", 0)
    expect("dpsi_dtheta", "1.5", "cos", "-0.5", 0)
    expect("psi", 1, "theta", "0", 1)
    # sqrt_enclosure brackets √(num/den), also for truncated huge arguments.
    rng = random.Random(5)
    for _ in range(200):
        num = rng.getrandbits(rng.choice((10, 200, 5000)))
        den = rng.getrandbits(rng.choice((10, 200, 5000))) + 1
        bits = rng.choice((20, 100, 300))
        lo, hi = sqrt_enclosure(num, den, bits)
        r = Fraction(num, den)
        if not (lo * lo <= r <= hi * hi and (lo == 0 or (hi - lo) / lo < _pow2(-bits + 2))):
            fails += 1
            print(f"self-test: sqrt_enclosure({num}, {den}, {bits})")
            break
    # The exact and sqrt routes against the numeric θ-form.
    for op, m, c in (("dpsi_dtheta", 4, "0.3"), ("dpsi_dtheta", 7, "-0.91"), ("dpsi_dtheta", 3, "0.6"),
                     ("dpsi_dtheta", 5, "0x1.3p-7"), ("psi", "2.5", "0.28"), ("dpsi_dtheta", "2.5", "0.28"),
                     ("psi", "1.5", "-0.68"), ("dpsi_dtheta", "3.5", "0.5"), ("dpsi_dtheta", "3.5", "-0.62"),
                     ("psi", "3.5", "0.62"), ("dpsi_dtheta", "0.5", "0.02")):
        if Fraction(m) < 1:
            continue
        cf = parse_exact(c)
        ref = reference(op, Fraction(m), "cos", cf)
        if ref.numeric is not None:
            fails += 1
            print(f"self-test: {op} m={m} c={c} took the numeric route")
            continue
        with mp.workprec(400):
            th = theta_of_cos(cf)
            mm = to_mpf(Fraction(m))
            k = branch_from_cos(Fraction(m), cf)[0]
            sg = -1 if k % 2 else 1
            want = sg * mpmath.cos(mm * th) - 2 * k if op == "psi" else -sg * mm * mpmath.sin(mm * th)
        lo, hi, _ = enclose(ref, 300, lambda lo, hi: hi - lo < Fraction(1, 1 << 290))
        with mp.workprec(400):
            if abs(to_mpf(lo) - want) > mpf(2) ** -280:
                fails += 1
                print(f"self-test: {op} m={m} c={c}: {mpmath.nstr(to_mpf(lo), 30)} != {mpmath.nstr(want, 30)}")
    # Rounding rules.
    checks = [
        (Fraction(1) + _pow2(-53), "f64", 1.0),
        (Fraction(1) + _pow2(-53) + _pow2(-100), "f64", 1.0 + 2.0 ** -52),
        (3 * _pow2(-1075), "f64", 2.0 ** -1073),
        (_pow2(-1075), "f64", 0.0),
        (_pow2(1024), "f64", math.inf),
        (Fraction(1) + _pow2(-24), "f32", 1.0),
        (3 * _pow2(-150), "f32", 2.0 ** -148),
        (Fraction(-1, 10), "f64", -0.1),
    ]
    for x, fmt, want in checks:
        if not same_float(round_to_format(x, fmt), want):
            fails += 1
            print(f"self-test: round {x} to {fmt} gave {round_to_format(x, fmt)}, want {want}")
    for t in ("0x1.8p-1", "-0x1p+0", "0x0p+0", "0x1.6a09e667f3bcdp-1"):
        if Fraction(float.fromhex(t)) != parse_exact(t):
            fails += 1
            print(f"self-test: hex parse {t}")
    # T_m closed form against mpmath's own Chebyshev polynomials.
    with mp.workprec(300):
        for m in range(0, 17):
            for c in (Fraction(3, 10), Fraction(-7, 9), Fraction(1, 2)):
                a = to_mpf(chebyshev_t_exact(m, c))
                b = mpmath.chebyt(m, to_mpf(c))
                if abs(a - b) > mpf(2) ** -250:
                    fails += 1
                    print(f"self-test: T_{m}({c})")
                if m >= 1:
                    a = to_mpf(chebyshev_u_exact(m - 1, c))
                    th = mpmath.acos(to_mpf(c))  # U_{m-1}(cos θ) = sin(mθ)/sin θ
                    b = mpmath.sin(m * th) / mpmath.sin(th)
                    if abs(a - b) > mpf(2) ** -250:
                        fails += 1
                        print(f"self-test: U_{m - 1}({c})")
    print(f"self-test: {'ok' if not fails else f'{fails} failure(s)'}")
    return 1 if fails else 0


# ---------------------------------------------------------------------------
# Snapshot review (the insta snapshots of tests/psi_properties.rs, tests/multiangle.rs)
# ---------------------------------------------------------------------------

def _snap_body(path: str) -> list[str]:
    """The body of an insta snapshot; a pending `.snap.new` is reviewed in preference
    to the accepted `.snap` (review before accepting)."""
    if os.path.exists(path + ".new"):
        path += ".new"
    print(f"reviewing {os.path.relpath(path, REPO)}")
    text = open(path, encoding="utf-8").read()
    return text.split("---\n", 2)[2].splitlines()


def _digits30(x: Fraction) -> str:
    """A reference value → the MPFR-style 30-digit text the snapshots use."""
    v = to_mpf(x)
    if v == 0:
        return "0"
    s = mpmath.nstr(v, 30, strip_zeros=False, min_fixed=1, max_fixed=0)
    # nstr gives "d.ddd…e-x" / "d.ddd…"; MPFR writes no exponent for 10^0 … 10^1.
    mant, _, exp = s.partition("e")
    e = int(exp) if exp else 0
    if e == 0:
        return mant
    if e == 1:  # MPFR writes 16.000…, i.e. 30 digits with the point moved
        neg = mant.startswith("-")
        digits = mant.lstrip("-").replace(".", "")
        return ("-" if neg else "") + digits[:2] + "." + digits[2:]
    return f"{mant}e{e}"


def check_snapshots() -> int:
    snapdir = os.path.join(REPO, "tests", "snapshots")
    fails = 0
    mp.prec = 700

    def value(op, m, at, x):
        ref = reference(op, Fraction(m), at, parse_exact(x))
        lo, hi, _ = enclose(ref, 200, lambda lo, hi: hi - lo <= abs(hi) * _pow2(-150) or lo == hi)
        return lo

    # ψ at landmark angles.
    lines = _snap_body(os.path.join(snapdir, "psi_properties__psi_landmark_angles.snap"))
    thetas = {}
    for ln in lines[lines.index("theta decimals used (40 significant digits, nearest):") + 1:]:
        if ln.strip():
            name, dec = ln.split()
            thetas[name] = dec
    with mp.workprec(700):
        for name, dec in thetas.items():
            frac = {"0": 0, "pi/8": mp.pi / 8, "pi/6": mp.pi / 6, "pi/4": mp.pi / 4,
                    "pi/3": mp.pi / 3, "pi/2": mp.pi / 2, "2pi/3": 2 * mp.pi / 3,
                    "3pi/4": 3 * mp.pi / 4, "pi-1e-9": mp.pi - mpf("1e-9")}[name]
            want = "0" if frac == 0 else mpmath.nstr(frac, 40, strip_zeros=False)
            if mpf(dec) != mpf(want) and abs(mpf(dec) - frac) > mpf(10) ** -39 * abs(frac):
                fails += 1
                print(f"snapshot: θ {name} = {dec} is not the 40-digit rounding ({want})")
    n = 0
    for ln in lines[1:]:
        if not ln.strip():
            break
        m, name, psi_s, hex64, dpsi_s = ln.split()
        x = thetas[name]
        v = value("psi", m, "theta", x)
        d = value("dpsi_dtheta", m, "theta", x)
        with mp.workprec(700):
            if _digits30((v)) != psi_s:
                fails += 1
                print(f"snapshot angles: ψ m={m} {name}: {psi_s} vs {_digits30((v))}")
            if _digits30((d)) != dpsi_s:
                fails += 1
                print(f"snapshot angles: dψ/dθ m={m} {name}: {dpsi_s} vs {_digits30((d))}")
        if not same_float(float.fromhex(hex64), round_to_format(v, "f64")):
            fails += 1
            print(f"snapshot angles: f64 m={m} {name}: {hex64} vs {float.hex(round_to_format(v, 'f64'))}")
        n += 1
    print(f"snapshot psi_landmark_angles: {n} rows checked")

    # ψ at landmark cosines.
    lines = _snap_body(os.path.join(snapdir, "psi_properties__psi_landmark_cosines.snap"))
    n = 0
    for ln in lines[1:]:
        if not ln.strip():
            continue
        m, c, psi_s, dc_s, dt_s, exact_s = ln.split()
        with mp.workprec(700):
            v = value("psi", m, "cos", c)
            if _digits30((v)) != psi_s:
                fails += 1
                print(f"snapshot cosines: ψ m={m} c={c}: {psi_s} vs {_digits30((v))}")
            t = value("dpsi_dtheta", m, "cos", c)
            if _digits30((t)) != dt_s:
                fails += 1
                print(f"snapshot cosines: dψ/dθ m={m} c={c}: {dt_s} vs {_digits30((t))}")
            if dc_s != "-":
                d = value("dpsi_dcos", m, "cos", c)
                if _digits30((d)) != dc_s:
                    fails += 1
                    print(f"snapshot cosines: dψ/dc m={m} c={c}: {dc_s} vs {_digits30((d))}")
            if exact_s != "-" and Fraction(exact_s) != v:
                fails += 1
                print(f"snapshot cosines: exact ψ m={m} c={c}: {exact_s} vs {v}")
        n += 1
    print(f"snapshot psi_landmark_cosines: {n} rows checked")

    # T_0..T_16.
    lines = _snap_body(os.path.join(snapdir, "multiangle__chebyshev_t_0_to_16.snap"))
    for m, ln in enumerate(lines):
        lhs, rhs = ln.split(" = ")
        coeffs = {}
        for term in rhs.replace(" - ", " + -").split(" + "):
            mt = re.fullmatch(r"(-?)(\d*)(c(?:\^(\d+))?)?", term)
            sign = -1 if mt.group(1) else 1
            coef = int(mt.group(2)) if mt.group(2) else 1
            deg = 0 if not mt.group(3) else (int(mt.group(4)) if mt.group(4) else 1)
            coeffs[deg] = sign * coef
        want = {}
        for k in range(m // 2 + 1):
            cf = 1 if m == 0 else (-1) ** k * Fraction(m, m - k) * math.comb(m - k, k) * 2 ** (m - 2 * k - 1)
            want[m - 2 * k] = int(cf)
        if lhs != f"T_{m}(c)" or coeffs != want:
            fails += 1
            print(f"snapshot chebyshev: line {m}: {ln}")
    print(f"snapshot chebyshev_t_0_to_16: {len(lines)} rows checked")
    print(f"snapshots: {'ok' if not fails else f'{fails} mismatch(es)'}")
    return 1 if fails else 0


# ---------------------------------------------------------------------------

CLASS_ORDER = ("branch_points", "real_m", "special", "high_prec", "subnormal", "random", "refused",
               "midpoint_long_c", "midpoint_long_theta", "tiny", "true_midpoint", "file")


def _short(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[:limit // 2] + f"…[{len(text)} chars]…" + text[-limit // 4:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=DEFAULT_BIN, help="the asoftmax-spec binary")
    ap.add_argument("--cases", help="JSON Lines file of requests (default: generate)")
    ap.add_argument("--random", type=int, default=400, help="random cases to generate")
    ap.add_argument("--seed", type=int, default=20240229)
    ap.add_argument("--extended", action="store_true",
                    help="also the expensive extreme cases (every long-θ case at 2^-100000, "
                         "both sides for m = 24)")
    ap.add_argument("--classes", help="comma-separated classes to run (default: all)")
    ap.add_argument("--ids", help="comma-separated case ids to run (e.g. to print a failing "
                                  "case in full with --write-cases -)")
    ap.add_argument("--failures", help="write every failing case as a JSON line here "
                                       "(full input line, output, problems, reference answer)")
    ap.add_argument("--write-cases", help="write the generated cases here and stop")
    ap.add_argument("--self-test", action="store_true", help="check the reference alone")
    ap.add_argument("--check-snapshots", action="store_true", help="review the insta snapshots")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    if args.self_test:
        return self_test()
    if args.check_snapshots:
        return check_snapshots()

    t0 = time.time()
    classes = set(args.classes.split(",")) if args.classes else None
    if args.cases:
        with open(args.cases, encoding="utf-8") as fh:
            cases = load_jsonl(fh.read())
        for c in cases:
            c["_class"] = "file"
    else:
        cases = generate_cases(random.Random(args.seed), args.random, args.extended, classes)
    if args.ids:
        ids = {int(i) for i in args.ids.split(",")}
        cases = [c for c in cases if int(c.get("id", -1)) in ids]
    text = "\n".join(dump_case(c) for c in cases) + "\n"
    if args.write_cases:
        if args.write_cases == "-":
            sys.stdout.write(text)
            return 0
        with open(args.write_cases, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"wrote {len(cases)} cases to {args.write_cases}")
        return 0
    if not os.path.exists(args.bin):
        print(f"{args.bin} not found: build it with `cargo build` (or pass --bin)", file=sys.stderr)
        return 2
    t_gen = time.time() - t0
    # Re-read the cases from their text, so both sides see exactly the same numbers (the
    # script's own "_" notes are carried over).
    notes = [{k: v for k, v in c.items() if k.startswith("_")} for c in cases]
    cases = load_jsonl(text)
    for c, n in zip(cases, notes):
        c.update(n)
    t1 = time.time()
    outs = run_binary(args.bin, text)
    t_bin = time.time() - t1
    if len(outs) != len(cases):
        print(f"{len(cases)} requests but {len(outs)} output lines", file=sys.stderr)
        return 1
    stats = {}
    failed, errored, retired, undecided, skipped = [], [], [], [], 0
    closest = {}  # class -> (smallest, largest) log2 |value − target midpoint| seen
    fail_fh = open(args.failures, "w", encoding="utf-8") if args.failures else None
    t2 = time.time()
    for req, out in zip(cases, outs):
        cls = req.get("_class", "file")
        st = stats.setdefault(cls, {"cases": 0, "ok": 0, "failed": 0, "error": 0, "retired": 0,
                                    "undecided": 0})
        line = dump_case(req)
        if out.get("id") != req.get("id") and not (isinstance(req.get("id"), JsonNumber)
                                                   and str(out.get("id")) == req.get("id")):
            print(f"id mismatch: request {req.get('id')} → output {out.get('id')}")
            st["cases"] += 1
            st["failed"] += 1
            failed.append(req.get("id"))
            continue
        try:
            v = check_result(req, out)
        except RuntimeError as e:  # the reference itself gave up
            v = Verdict()
            v.problems.append(f"reference failed: {e}")
        if v.skipped:
            skipped += 1
            continue
        st["cases"] += 1
        if "_target" in req and v.lo is not None:
            d = abs((v.lo if v.lo == v.hi else (v.lo + v.hi) / 2) - req["_target"])
            if d:
                lg = (d.numerator.bit_length() - d.denominator.bit_length())
                a, b = closest.get(cls, (lg, lg))
                closest[cls] = (min(a, lg), max(b, lg))
        if v.undecided:
            st["undecided"] += 1
            undecided.append(req.get("id"))
        if v.ok:
            st["ok"] += 1
            if args.verbose:
                print(f"ok   [{cls}] {_short(line)}")
            continue
        if v.problems:
            st["failed"] += 1
            failed.append(req.get("id"))
        if v.error is not None:
            st["error"] += 1
            errored.append(req.get("id"))
        if v.retired:
            st["retired"] += 1
            retired.append(req.get("id"))
        kind = "FAIL" if v.problems else ("ERROR" if v.error is not None else "RETIRED")
        print(f"{kind} [{cls}] {_short(line)}\n     → {_short(json.dumps(out))}")
        for p in v.problems:
            print(f"     - {p}")
        if v.error is not None:
            print(f"     - error line for a value the reference decides: {v.error}")
        if v.retired:
            print(f"     - retired field(s) present: {', '.join(v.retired)}")
        if v.want:
            print(f"     reference: value {v.want['value']}, f64 {v.want['f64']}, f32 {v.want['f32']}")
        if fail_fh:
            fail_fh.write(json.dumps({"class": cls, "kind": kind, "input": line, "output": out,
                                      "problems": v.problems, "error": v.error,
                                      "retired": v.retired, "reference": v.want}) + "\n")
    if fail_fh:
        fail_fh.close()
    t_check = time.time() - t2
    print(f"{'class':<20} {'cases':>6} {'ok':>6} {'failed':>7} {'errors':>7} {'retired':>8} {'undecided':>10}")
    order = [c for c in CLASS_ORDER if c in stats] + sorted(set(stats) - set(CLASS_ORDER))
    for cls in order:
        st = stats[cls]
        extra = (f"   (|value − midpoint| from 2^{closest[cls][0]} to 2^{closest[cls][1]})"
                 if cls in closest else "")
        print(f"{cls:<20} {st['cases']:>6} {st['ok']:>6} {st['failed']:>7} {st['error']:>7} "
              f"{st['retired']:>8} {st['undecided']:>10}{extra}")
    n = sum(st["cases"] for st in stats.values())
    print(f"{n} cases: {n - len(set(failed) | set(errored) | set(retired))} ok, {len(failed)} failed, "
          f"{len(errored)} error lines, {len(retired)} with retired fields"
          + (f", {skipped} skipped (other ops)" if skipped else "")
          + (f" ({len(undecided)} not decidable by the reference)" if undecided else "")
          + f"; generate {t_gen:.1f}s, binary {t_bin:.1f}s, check {t_check:.1f}s")
    if errored:
        print(f"error lines (ids): {errored}")
    return 1 if failed or errored or retired else 0


if __name__ == "__main__":
    sys.exit(main())
