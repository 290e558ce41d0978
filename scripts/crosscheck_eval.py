#!/usr/bin/env python3
"""Independent cross-check of `asoftmax-spec eval` against mpmath.

The Rust oracle evaluates cos(mθ), ψ, dψ/dc and dψ/dθ with MPFR intervals, a
Chebyshev recurrence over exact rationals, and a rigorous branch search over the
thresholds cos(jπ/m). This script re-implements the same mathematics a different
way, so that a shared mistake is unlikely:

* T_m and U_{m-1} at a rational c from the *closed-form* coefficients
  ``[c^(m-2k)] T_m = (-1)^k 2^(m-2k-1) m/(m-k) C(m-k, k)`` and
  ``[ (2c)^(n-2k) ] U_n = (-1)^k C(n-k, k)``, over Python Fractions (exact);
* the branch index from the angle, ``k = floor(m θ / π)`` (clamped to ceil(m) - 1),
  with ``θ = atan2(sqrt(1 - c²), c)`` (1 - c² formed exactly, so both ends c → ±1
  are accurate) instead of comparisons against cos(jπ/m); a tie (m θ/π an integer)
  is recognised exactly when c ∈ {0, ±1/2, ±1} (Niven: the only rational cosines of
  rational multiples of π), where both branches give the same value;
* everything else in mpmath floating point, evaluated at working precisions P and
  2P; the difference between the two (times 2, plus 2^-P relative) is taken as the
  error of the 2P value, and P is doubled until that error is small enough to decide
  the checks. (This is a heuristic error estimate, not an interval bound; it is
  independent of the Rust code, which is the point.)

Checks per result line, for the requested ``prec`` bits:
* ``value`` has ⌈prec·log10 2⌉ + 1 significant digits and lies within one unit of
  its last digit of the reference value (or is ``"0"`` for a value that is 0, with
  ``zero_bound`` ≥ |value| when the oracle could not prove the zero exactly);
* ``f64`` / ``f32`` are the reference value rounded to binary64 / binary32, nearest,
  ties to even, with subnormals and overflow (rounded here with integer
  arithmetic from the IEEE rules), compared bit for bit (including the sign of 0);
* requests that are out of the domain (m, c, θ, prec) come back as error lines.

Input numbers follow the eval contract: a JSON number denotes the f64 it rounds to;
a string is an exact decimal or C99 hex float. Output ``f64``/``f32`` are C99 hex
floats.

Usage::

    python3 scripts/crosscheck_eval.py                      # generated cases, default binary
    python3 scripts/crosscheck_eval.py --cases examples/cases.jsonl
    python3 scripts/crosscheck_eval.py --random 2000 --seed 7 --bin target/debug/asoftmax-spec
    python3 scripts/crosscheck_eval.py --write-cases /tmp/cases.jsonl   # no binary needed
    python3 scripts/crosscheck_eval.py --self-test           # the reference alone
    python3 scripts/crosscheck_eval.py --check-snapshots     # review the insta snapshots

Exit status: 0 when every check passed, 1 on any mismatch, 2 on usage errors or a
missing binary.
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

def chebyshev_t_exact(m: int, c: Fraction) -> Fraction:
    """T_m(c) from the closed-form coefficients (not the recurrence), summed over a
    common denominator q^m (c = p/q) so that only one gcd is taken."""
    if m == 0:
        return Fraction(1)
    p, q = c.numerator, c.denominator
    num = 0
    for k in range(m // 2 + 1):
        # coefficient (−1)^k 2^(m−2k−1) m/(m−k) C(m−k, k) is an integer for m ≥ 1
        coef = (m * math.comb(m - k, k) << (m - 2 * k)) // (2 * (m - k))
        num += (-1) ** k * coef * p ** (m - 2 * k) * q ** (2 * k)
    return Fraction(num, q ** m)


def chebyshev_u_exact(n: int, c: Fraction) -> Fraction:
    """U_n(c) = Σ_k (−1)^k C(n−k, k) (2c)^(n−2k), over the common denominator q^n."""
    p, q = c.numerator, c.denominator
    num = sum((-1) ** k * math.comb(n - k, k) * (2 * p) ** (n - 2 * k) * q ** (2 * k)
              for k in range(n // 2 + 1))
    return Fraction(num, q ** n)


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
    """A reference value: either an exact Fraction or a function P -> mpf."""

    def __init__(self, exact=None, numeric=None):
        self.exact = exact
        self.numeric = numeric


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
    decide(lo, hi) is true (or the cap is reached); returns the last pair."""
    if ref.exact is not None:
        v = Fraction(ref.exact)
        return v, v, True
    p = prec + 64
    last = None
    while p <= MAX_WORK:
        try:
            with mp.workprec(p):
                a = ref.numeric()
            with mp.workprec(2 * p):
                b = ref.numeric()
        except Undecided:
            p *= 2
            continue
        fb = mpf_to_fraction(b)
        err = 2 * abs(mpf_to_fraction(a) - fb) + abs(fb) * _pow2(-p)
        lo, hi = fb - err, fb + err
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

def check_result(req: dict, out: dict) -> list[str]:
    """The list of problems with one output line (empty when it is right)."""
    problems = []
    if req.get("op") not in OPS:
        return ["(not an op this script checks; skipped)"]
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
    except (ValueError, KeyError) as e:
        if "error" not in out:
            problems.append(f"expected an error ({e}), got {out}")
        return problems
    if "error" in out:
        return [f"unexpected error: {out['error']}"]
    for field in ("value", "f64", "f32"):
        if field not in out:
            problems.append(f"missing field {field}")
    if problems:
        return problems
    if out.get("op") != op:
        problems.append(f"op echoed as {out.get('op')!r}")

    got64 = parse_hex_float(out["f64"])
    got32 = parse_hex_float(out["f32"])
    value = out["value"]
    zero_bound = parse_hex_float(out["zero_bound"]) if "zero_bound" in out else None
    if value != "0":
        mant, _, exp = value.partition("e")
        if not re.match(r"^-?\d(\.\d+)?$", mant) or not re.match(r"^-?\d+$", exp):
            return [f"value {value!r} is not d.ddd…e±x"]
        nd = sum(ch.isdigit() for ch in mant)
        if nd != decimal_digits(prec):
            problems.append(f"value has {nd} digits, expected {decimal_digits(prec)}")
        unit = Fraction(10) ** (int(exp) - (nd - 1))
        dval = parse_exact(value)

    def decided(lo, hi):
        """True once [lo, hi] settles every check, whether it passes or fails (so that
        a wrong answer does not drive the reference to its precision cap)."""
        if round_to_format(lo, "f64") != round_to_format(hi, "f64"):
            return False
        if round_to_format(lo, "f32") != round_to_format(hi, "f32"):
            return False
        if value == "0":
            if zero_bound is None or lo == hi:
                return True
            bound = Fraction(zero_bound)
            nearest = 0 if lo <= 0 <= hi else min(abs(lo), abs(hi))
            return max(abs(lo), abs(hi)) <= bound or nearest > bound
        passes = max(abs(dval - lo), abs(dval - hi)) < unit
        fails = not (lo - unit < dval < hi + unit)
        return passes or fails

    lo, hi, ok = enclose(ref, prec, decided)
    if not ok:
        # Not decidable at the reference's cap (a value within 2^-131072 of a rounding
        # boundary); report what can still be said.
        if max(abs(lo), abs(hi)) > 0 and value == "0" and zero_bound is None:
            problems.append(f"value \"0\" but reference is in [{float(lo)}, {float(hi)}]")
        return problems or ["(reference could not decide; treated as a pass)"]
    want64, want32 = round_to_format(lo, "f64"), round_to_format(lo, "f32")
    if lo == hi == 0:
        want64 = want32 = 0.0
    if not same_float(got64, want64):
        problems.append(f"f64 {out['f64']} but correctly rounded is {float.hex(want64)}")
    if not same_float(got32, want32):
        problems.append(f"f32 {out['f32']} but correctly rounded is {float.hex(want32)}")
    if value == "0":
        if lo == hi == 0:
            pass
        elif zero_bound is None:
            problems.append(f"value \"0\" without zero_bound, reference ≈ {mpmath.nstr(to_mpf(lo), 20)}")
        elif max(abs(lo), abs(hi)) > Fraction(zero_bound):
            problems.append(f"|reference| ≈ {float(hi)} exceeds zero_bound {zero_bound}")
    elif max(abs(dval - lo), abs(dval - hi)) >= unit:
        problems.append(f"value {value} off by more than one unit (reference ≈ "
                        f"{mpmath.nstr(to_mpf(lo), decimal_digits(prec) + 3)})")
    return problems


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


def generate_cases(rng: random.Random, n_random: int) -> list[dict]:
    cases = []
    precs = [16, 24, 53, 64, 113, 256]

    def add(op, m, at, x, prec=None):
        c = {"id": len(cases), "op": op, "m": m, at: x}
        c["prec"] = prec if prec is not None else rng.choice(precs)
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
        for m in (0, 1, 2, 3, 5, 16, 1024):
            for c in ("0", "1", "-1", "0.5", "0x1p-1074", "0.1"):
                add("cos_m", m, "cos", c, 64)
        # High precisions.
        for prec in (1024, 4096, 16384):
            add("psi", 4, "cos", "0.3", prec)
            add("psi", 4, "theta", "1", prec)
            add("psi", "1.7", "cos", "-0.5", prec)
            add("dpsi_dtheta", 5, "theta", "0.1", prec)
            add("cos_m", 1024, "theta", "0.333", prec)
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
        cases.append(b)
    return cases


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

def dump_case(c: dict) -> str:
    """JSON text of a case, writing JsonNumber values as bare numbers."""
    parts = []
    for k, v in c.items():
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

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=DEFAULT_BIN, help="the asoftmax-spec binary")
    ap.add_argument("--cases", help="JSON Lines file of requests (default: generate)")
    ap.add_argument("--random", type=int, default=400, help="random cases to generate")
    ap.add_argument("--seed", type=int, default=20240229)
    ap.add_argument("--write-cases", help="write the generated cases here and stop")
    ap.add_argument("--self-test", action="store_true", help="check the reference alone")
    ap.add_argument("--check-snapshots", action="store_true", help="review the insta snapshots")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    if args.self_test:
        return self_test()
    if args.check_snapshots:
        return check_snapshots()

    if args.cases:
        with open(args.cases, encoding="utf-8") as fh:
            cases = load_jsonl(fh.read())
    else:
        cases = generate_cases(random.Random(args.seed), args.random)
    text = "\n".join(dump_case(c) for c in cases) + "\n"
    if args.write_cases:
        with open(args.write_cases, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"wrote {len(cases)} cases to {args.write_cases}")
        return 0
    if not os.path.exists(args.bin):
        print(f"{args.bin} not found: build it with `cargo build` (or pass --bin)", file=sys.stderr)
        return 2
    # Re-read the cases from their text, so both sides see exactly the same numbers.
    cases = load_jsonl(text)
    outs = run_binary(args.bin, text)
    if len(outs) != len(cases):
        print(f"{len(cases)} requests but {len(outs)} output lines", file=sys.stderr)
        return 1
    fails = 0
    undecided = 0
    skipped = 0
    for req, out in zip(cases, outs):
        if out.get("id") != req.get("id") and not (isinstance(req.get("id"), JsonNumber)
                                                   and str(out.get("id")) == req.get("id")):
            print(f"id mismatch: request {req.get('id')} → output {out.get('id')}")
            fails += 1
            continue
        try:
            problems = check_result(req, out)
        except RuntimeError as e:  # the reference itself gave up
            problems = [f"reference failed: {e}"]
        if problems == ["(reference could not decide; treated as a pass)"]:
            undecided += 1
            problems = []
        elif problems == ["(not an op this script checks; skipped)"]:
            skipped += 1
            continue
        if problems:
            fails += 1
            print(f"FAIL {dump_case(req)}\n     → {json.dumps(out)}")
            for p in problems:
                print(f"     - {p}")
        elif args.verbose:
            print(f"ok   {dump_case(req)}")
    print(f"{len(cases)} cases: {len(cases) - fails - skipped} ok, {fails} failed"
          + (f", {skipped} skipped (other ops)" if skipped else "")
          + (f" ({undecided} not decidable by the reference)" if undecided else ""))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
