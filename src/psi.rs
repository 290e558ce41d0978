//! ψ, the monotone extension of cos(mθ) used for the target logit, and its derivatives.
//!
//! `ψ(θ) = (−1)^k cos(mθ) − 2k` for `θ ∈ [kπ/m, (k+1)π/m]`, `k ∈ [0, ⌈m⌉ − 1]`.
//!
//! - **θ-form**: `k = ⌊mθ/π⌋` (clamped to `⌈m⌉ − 1`, which only matters at θ = π).
//! - **c-form**, integer `m`: with `c = cos θ`,
//!   `k = #{ j ∈ 1..m−1 : c < cos(jπ/m) }`, decided by rigorous comparison (no acos
//!   round trip; the rational thresholds `0, ±1/2` of Niven's theorem are compared
//!   exactly), and `ψ(c) = (−1)^k T_m(c) − 2k` is an exact rational for rational `c`.
//!   At a threshold both branches give `1 − 2j`, so ties are harmless.
//! - **c-form**, real `m ≥ 1`: through `θ = acos c` at working precision.
//!
//! Derivatives: `dψ/dθ = −(−1)^k m sin(mθ)`, `dψ/dc = (−1)^k m U_{m−1}(c)` (integer m).
//! Both vanish at the branch points, so ψ is C¹.
//!
//! Because ψ is continuous and decreasing in θ (increasing in c), an interval
//! argument is handled by evaluating the exact endpoints; the derivatives use their
//! Lipschitz constants (`|d²ψ/dθ²| ≤ m²`, `|d²ψ/dc²| ≤ m·U′_{m−1}(1) ≤ m⁴/3`).
//!
//! Derivation: the book chapter [`crate::derivations::psi`].

use crate::arith::exact::integer_u32;
use crate::arith::{Approx, Ival, Scalar, ziv};
/// The exact-route budget of the c-form, shared with [`crate::multiangle::cos_m`].
pub use crate::multiangle::{EXACT_ROUTE_MAX_BITS, exact_route_is_cheap};
use crate::multiangle::{
    acos_ival, chebyshev_dyadic, check_cos, check_m, check_theta, cos_m_via_theta, dyadic_shift,
};
use crate::{Angle, Error};
use rug::{Float, Integer, Rational};
use std::cmp::Ordering;

/// `(−1)^k·t − 2k`: ψ on branch `k` given `t = cos(mθ)`.
pub fn psi_on_branch<S: Scalar>(k: u32, cos_mtheta: &S) -> S {
    let signed = if k % 2 == 0 {
        cos_mtheta.clone()
    } else {
        cos_mtheta.neg()
    };
    signed.sub(&cos_mtheta.int_like(2 * i64::from(k)))
}

/// `(−1)^k·d`: a derivative on branch `k` given the branch-0 derivative `d`.
pub fn branch_sign<S: Scalar>(k: u32, d: &S) -> S {
    if k % 2 == 0 { d.clone() } else { d.neg() }
}

/// Validates a margin for ψ: `1 ≤ m ≤ MAX_M`.
pub(crate) fn check_margin(m: &Rational) -> Result<(), Error> {
    if *m < 1 || *m > crate::multiangle::MAX_M {
        Err(Error::Domain {
            arg: "m",
            value: crate::describe_rational(m),
            expected: "a margin m with 1 <= m <= 65536",
        })
    } else {
        Ok(())
    }
}

/// A threshold `cos(jπ/m)` as the branch search keeps it: an enclosure `[lo, hi]`
/// (a point exactly when the threshold is rational: 0 or ±½, by Niven's theorem), as
/// exact rationals and widened outward to binary64.
struct Threshold {
    lo: Rational,
    hi: Rational,
    lo_f64: f64,
    hi_f64: f64,
}

impl Threshold {
    /// The threshold `cos(jπ/m)`, `1 ≤ j ≤ m − 1`, enclosed at [`THRESHOLD_PREC`] bits
    /// (exactly when it is rational).
    fn new(j: u32, m: u32) -> Threshold {
        let (j64, m64) = (u64::from(j), u64::from(m));
        let exact = if 2 * j64 == m64 {
            Some(0.0)
        } else if 3 * j64 == m64 {
            Some(0.5)
        } else if 3 * j64 == 2 * m64 {
            Some(-0.5)
        } else {
            None
        };
        if let Some(t) = exact {
            let q = Rational::from_f64(t).expect("finite");
            return Threshold {
                lo: q.clone(),
                hi: q,
                lo_f64: t,
                hi_f64: t,
            };
        }
        let t = threshold(j, m, THRESHOLD_PREC);
        Threshold {
            lo: rational_of(t.lo()),
            hi: rational_of(t.hi()),
            lo_f64: t.lo().to_f64_round(rug::float::Round::Down),
            hi_f64: t.hi().to_f64_round(rug::float::Round::Up),
        }
    }

    /// `c` against the threshold, given `f`, `c` or its truncation to binary64 ([`faithful_f64`]):
    /// `None` when `c` lies strictly inside an irrational threshold's enclosure (the caller
    /// then refines). A normal `f` is within one ulp of `c` toward zero, so `f < lo_f64`
    /// (two binary64 values) gives `c < f⁺ ≤ lo_f64` and `f > hi_f64` gives
    /// `c > f⁻ ≥ hi_f64`, with `f^±` the neighbours of `f`; otherwise `c` is compared with
    /// the rational ends exactly.
    fn cmp(&self, c: &Rational, f: f64) -> Option<Ordering> {
        if f.is_normal() && f < self.lo_f64 {
            Some(Ordering::Less)
        } else if f.is_normal() && f > self.hi_f64 {
            Some(Ordering::Greater)
        } else if *c < self.lo {
            Some(Ordering::Less)
        } else if *c > self.hi {
            Some(Ordering::Greater)
        } else if self.lo == self.hi {
            Some(Ordering::Equal)
        } else {
            None
        }
    }
}

/// Exact comparison of `c` with the threshold `cos(jπ/m)`, `1 ≤ j ≤ m − 1`, given the
/// cached enclosure `t` of it and `f = faithful_f64(c)`: the enclosure decides all but the `c`
/// within about 2⁻⁶⁰ of an irrational threshold, which are refined.
fn cmp_threshold(c: &Rational, f: f64, t: &Threshold, j: u32, m: u32) -> Result<Ordering, Error> {
    if let Some(decided) = t.cmp(c, f) {
        return Ok(decided);
    }
    ziv::refine("branch comparison", 2 * THRESHOLD_PREC, |wp| {
        Ok(Ival::from_rational(c, wp).cmp_certain(&threshold(j, m, wp)))
    })
}

/// An enclosure of the threshold `cos(jπ/m)` at `wp` bits.
fn threshold(j: u32, m: u32, wp: u32) -> Ival {
    Ival::pi(wp)
        .mul(&Ival::from_integer(&j.into(), wp))
        .div(&Ival::from_integer(&m.into(), wp))
        .expect("m > 0")
        .cos()
}

/// Working precision of the cached threshold enclosures.
const THRESHOLD_PREC: u32 = 64;
/// Most cached thresholds per thread (the cache is emptied when full).
const THRESHOLD_CACHE_MAX: usize = 1 << 14;

/// The hash of a threshold's key `m·2³² + j`: one multiplication by 2⁶⁴/φ (Fibonacci
/// hashing; the keys are the crate's own, so no hash flooding to defend against).
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0 << 8 | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

type ThresholdCache =
    std::collections::HashMap<u64, Threshold, std::hash::BuildHasherDefault<KeyHasher>>;

thread_local! {
    /// `m·2³² + j` → the [`Threshold`] `cos(jπ/m)`: computed once per thread.
    static THRESHOLDS: std::cell::RefCell<ThresholdCache> = Default::default();
}

/// `c` within one ulp of binary64 toward zero, as [`Threshold::cmp`] needs it: exact for
/// a dyadic `c` with a numerator of at most 53 bits (every binary64 cosine), by
/// [`Rational::to_f64`] (truncation) otherwise.
fn faithful_f64(c: &Rational) -> f64 {
    let (p, q) = (c.numer(), c.denom());
    let s = q.significant_bits() - 1;
    if p.significant_bits() <= 53 && s <= 1022 && q.is_power_of_two() {
        // p and 2^−s are binary64 values and their product is normal or exact.
        p.to_f64() * f64::from_bits(u64::from(1023 - s) << 52)
    } else {
        c.to_f64()
    }
}

/// The branch `k = #{ j ∈ 1..m−1 : c < cos(jπ/m) }` of ψ at `c = cos θ`, integer
/// `m ≥ 1`, decided rigorously (binary search over the decreasing thresholds).
pub fn branch_from_cos(m: u32, c: &Rational) -> Result<u32, Error> {
    check_m(m)?;
    check_cos(c)?;
    let f = faithful_f64(c);
    THRESHOLDS.with_borrow_mut(|cache| {
        if cache.len() + 32 >= THRESHOLD_CACHE_MAX {
            cache.clear();
        }
        // Invariant: c < cos(jπ/m) holds for every j < lo+1 … find the largest such j.
        let (mut lo, mut hi) = (0u32, m.saturating_sub(1));
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let t = cache
                .entry(u64::from(m) << 32 | u64::from(mid))
                .or_insert_with(|| Threshold::new(mid, m));
            if cmp_threshold(c, f, t, mid, m)? == Ordering::Less {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(lo)
    })
}

/// The last branch index `⌈m⌉ − 1` (the branch of θ = π).
fn last_branch(m: &Rational) -> u32 {
    let ceil = Rational::from(m.ceil_ref());
    ceil.numer().to_u32().unwrap_or(u32::MAX).saturating_sub(1)
}

/// `⌊m·θ/π⌋` clamped to `⌈m⌉ − 1`, for an exact `θ ≥ 0` (dyadic endpoints or user input).
fn branch_from_theta_at(m: &Rational, theta: &Rational) -> Result<u32, Error> {
    let kmax = last_branch(m);
    if *theta <= 0 {
        return Ok(0);
    }
    ziv::refine("branch floor(m theta / pi)", 64, |wp| {
        let x = Ival::from_rational(&Rational::from(m * theta), wp)
            .div(&Ival::pi(wp))
            .expect("π > 0");
        let fl = |f: &Float| Float::with_val(f.prec(), f.floor_ref()).to_integer();
        let (a, b) = (fl(x.lo()), fl(x.hi()));
        Ok((a == b).then(|| a.and_then(|k| k.to_u32()).unwrap_or(u32::MAX).min(kmax)))
    })
}

/// The branch `k = ⌊mθ/π⌋` (clamped to `⌈m⌉ − 1`) for `θ ∈ [0, π]`.
pub fn branch_from_theta(m: &Rational, theta: &Rational) -> Result<u32, Error> {
    check_margin(m)?;
    check_theta(theta)?;
    branch_from_theta_at(m, theta)
}

/// Exact `ψ(c) = (−1)^k T_m(c) − 2k` for integer `m ≥ 1` and rational `c ∈ [−1, 1]`.
pub fn psi_cos_exact(m: u32, c: &Rational) -> Result<Rational, Error> {
    let k = branch_from_cos(m, c)?;
    Ok(psi_on_branch(
        k,
        &crate::multiangle::chebyshev_t_exact(m, c),
    ))
}

/// Exact `dψ/dc = (−1)^k m U_{m−1}(c)` for integer `m ≥ 1` and rational `c ∈ [−1, 1]`.
pub fn dpsi_dcos_exact(m: u32, c: &Rational) -> Result<Rational, Error> {
    let k = branch_from_cos(m, c)?;
    // dT_m/dc = m·U_{m−1}(c) (0 for m = 0).
    let u = crate::multiangle::chebyshev_u_exact(m, c);
    Ok(branch_sign(k, &(u * Rational::from(m))))
}

/// [`psi_cos_exact`] for a dyadic `c = p/2^s` (every JSON number), without forming a
/// fraction: with `t = 2^{sm}·T_m(c)` ([`chebyshev_dyadic`]), `ψ(c) = ((−1)^k·t −
/// 2k·2^{sm})·2^{−sm}` exactly, `k` from [`branch_from_cos`]. `None` for another `c`, or
/// when the dyadic is too large for [`ziv::approx_dyadic`].
fn psi_cos_dyadic(m: u32, c: &Rational, prec: u32) -> Result<Option<Approx>, Error> {
    let Some((t, _, s)) = chebyshev_dyadic(m, c) else {
        return Ok(None);
    };
    let k = branch_from_cos(m, c)?;
    let Some(shift) = dyadic_shift(s, m) else {
        return Ok(None);
    };
    let mut num = if k % 2 == 0 { t } else { -t };
    num -= Integer::from(2 * k) << shift;
    Ok(ziv::approx_dyadic(&num, shift, prec))
}

/// [`dpsi_dcos_exact`] for a dyadic `c = p/2^s`, without forming a fraction: with
/// `u = 2^{s(m−1)}·U_{m−1}(c)` ([`chebyshev_dyadic`]), `dψ/dc = (−1)^k·m·u·2^{−s(m−1)}`.
/// `None` as for [`psi_cos_dyadic`].
fn dpsi_dcos_dyadic(m: u32, c: &Rational, prec: u32) -> Result<Option<Approx>, Error> {
    let Some((_, u, s)) = chebyshev_dyadic(m, c) else {
        return Ok(None);
    };
    let k = branch_from_cos(m, c)?;
    let Some(shift) = dyadic_shift(s, m.saturating_sub(1)) else {
        return Ok(None);
    };
    let mu = u * m;
    let num = if k % 2 == 0 { mu } else { -mu };
    Ok(ziv::approx_dyadic(&num, shift, prec))
}

/// ψ(c) for integer `m` at an exact point, enclosed at `wp` bits: exact when cheap,
/// otherwise `(−1)^k cos(m·acos c) − 2k` over intervals (k decided exactly either way).
fn psi_cos_point(m: u32, c: &Rational, wp: u32) -> Result<Ival, Error> {
    if exact_route_is_cheap(m, c) {
        return Ok(Ival::from_rational(&psi_cos_exact(m, c)?, wp));
    }
    let k = branch_from_cos(m, c)?;
    Ok(psi_on_branch(k, &cos_m_via_theta(m, c, wp)))
}

/// `m·U_{m−1}(c) = m·sin(mθ)/sin θ` over intervals, `None` while `sin θ` is not
/// separated from 0 at this precision.
fn m_u_via_theta(m: u32, c: &Rational, wp: u32) -> Option<Ival> {
    let theta = acos_ival(c, wp);
    let mi = Ival::from_integer(&m.into(), wp);
    mi.mul(&theta.mul(&mi).sin()).div(&theta.sin())
}

/// dψ/dc for integer `m` at an exact point, enclosed at `wp` bits (exact when cheap);
/// `None` when `wp` is too low (see [`m_u_via_theta`]).
fn dpsi_dcos_point(m: u32, c: &Rational, wp: u32) -> Result<Option<Ival>, Error> {
    if exact_route_is_cheap(m, c) {
        return Ok(Some(Ival::from_rational(&dpsi_dcos_exact(m, c)?, wp)));
    }
    let k = branch_from_cos(m, c)?;
    Ok(m_u_via_theta(m, c, wp).map(|d| branch_sign(k, &d)))
}

/// ψ at an exact `θ ≥ 0`, enclosed at working precision `wp`.
fn psi_theta_point(m: &Rational, theta: &Rational, wp: u32) -> Result<Ival, Error> {
    let k = branch_from_theta_at(m, theta)?;
    let mt = Ival::from_rational(&Rational::from(m * theta), wp);
    Ok(psi_on_branch(k, &mt.cos()))
}

/// dψ/dθ at an exact `θ ≥ 0`, enclosed at working precision `wp`.
fn dpsi_dtheta_point(m: &Rational, theta: &Rational, wp: u32) -> Result<Ival, Error> {
    let k = branch_from_theta_at(m, theta)?;
    let mt = Ival::from_rational(&Rational::from(m * theta), wp);
    let mi = Ival::from_rational(m, wp);
    Ok(branch_sign(k, &mi.mul(&mt.sin())).neg())
}

fn rational_of(f: &Float) -> Rational {
    f.to_rational().expect("finite endpoint")
}

/// ψ over an interval of angles: `[ψ(θ_hi), ψ(θ_lo)]` (ψ is continuous and decreasing).
///
/// Only the part of the interval inside [0, π] (ψ's domain) is meant: below 0 the
/// upper end is ψ(0) = 1, and when the interval may reach π the lower end is ψ(π),
/// enclosed on the last branch.
pub fn psi_theta_ival(m: &Rational, theta: &Ival) -> Result<Ival, Error> {
    let wp = theta.prec();
    let pi = Ival::pi(wp);
    let upper = if *theta.lo() <= 0 {
        rug::Float::with_val(wp, 1)
    } else {
        psi_theta_point(m, &rational_of(theta.lo()), wp)?
            .hi()
            .clone()
    };
    let lower = if theta.hi() < pi.lo() {
        psi_theta_point(m, &rational_of(theta.hi()), wp)?
            .lo()
            .clone()
    } else {
        let m_pi = Ival::from_rational(m, wp).mul(&pi);
        psi_on_branch(last_branch(m), &m_pi.cos()).lo().clone()
    };
    Ok(Ival::new(lower.clone(), upper.clone())
        .unwrap_or_else(|| Ival::point(lower).hull(&Ival::point(upper))))
}

/// dψ/dθ over an interval of angles: value at `θ_lo` ± `m²·width` (|d²ψ/dθ²| ≤ m², and
/// dψ/dθ is continuous across branch points).
pub fn dpsi_dtheta_ival(m: &Rational, theta: &Ival) -> Result<Ival, Error> {
    let wp = theta.prec();
    let d = dpsi_dtheta_point(m, &rational_of(theta.lo()), wp)?;
    if theta.is_point() {
        return Ok(d);
    }
    let m2 = Float::with_val(wp, m.numer()) / Float::with_val(wp, m.denom());
    let lip = Float::with_val(wp, m2.square_ref()) * 1.0001f64; // covers the rounding of m²
    Ok(d.inflate(&Float::with_val(wp, &lip * &theta.width())))
}

/// An interval of cosines cut to [−1, 1], or an error when it lies outside.
fn unit_cos(c: &Ival) -> Result<Ival, Error> {
    c.clamp_unit().ok_or_else(|| Error::Domain {
        arg: "cos",
        value: format!("[{}, {}]", c.lo(), c.hi()),
        expected: "a cosine in [-1, 1]",
    })
}

/// ψ over an interval of cosines, integer m: `[ψ(c_lo), ψ(c_hi)]` from the exact
/// endpoint values (ψ is increasing in c).
pub fn psi_cos_ival(m: u32, c: &Ival) -> Result<Ival, Error> {
    let c = unit_cos(c)?;
    let wp = c.prec();
    let a = psi_cos_point(m, &rational_of(c.lo()), wp)?;
    let b = psi_cos_point(m, &rational_of(c.hi()), wp)?;
    Ok(Ival::new(a.lo().clone(), b.hi().clone()).unwrap_or_else(|| a.hull(&b)))
}

/// Upper bound `m·(m−1)·m·(m+1)/3` of |d²ψ/dc²| on [−1, 1] (as an integer).
fn dpsi_dcos_lipschitz(m: u32) -> Integer {
    let m = Integer::from(m);
    let mut l = Integer::from(&m - 1u32) * &m;
    l *= Integer::from(&m + 1u32);
    l *= &m;
    l / 3u32 + 1u32
}

/// dψ/dc over an interval of cosines, integer m: exact value at `c_lo` ± `L·width`.
pub fn dpsi_dcos_ival(m: u32, c: &Ival) -> Result<Ival, Error> {
    let c = unit_cos(c)?;
    let wp = c.prec();
    let Some(d) = dpsi_dcos_point(m, &rational_of(c.lo()), wp)? else {
        return Err(Error::PrecisionCap {
            op: "dpsi_dcos over an interval",
            max: wp,
        });
    };
    if c.is_point() {
        return Ok(d);
    }
    let lip = Float::with_val(wp, &dpsi_dcos_lipschitz(m));
    Ok(d.inflate(&Float::with_val(wp, &lip * &c.width())))
}

/// The θ-form of an oracle for real `m` (ψ, dψ/dθ): its enclosure at an exact θ, its
/// enclosure over an interval of θ, and the proof that a candidate exact value is the
/// value (see [`real`]).
struct ThetaForm {
    /// The op's name, for errors.
    op: &'static str,
    /// The enclosure at `(m, θ)` at a working precision.
    point: fn(&Rational, &Rational, u32) -> Result<Ival, Error>,
    /// The enclosure over an interval of θ.
    over: fn(&Rational, &Ival) -> Result<Ival, Error>,
    /// `is(m, c, t, iv)`: the candidate `t` is proven to be the value at `c`.
    is: fn(&Rational, &Rational, &Rational, &Ival) -> bool,
}

/// ψ in θ-form.
const PSI_THETA: ThetaForm = ThetaForm {
    op: "psi",
    point: psi_theta_point,
    over: psi_theta_ival,
    is: real::psi_is,
};

/// dψ/dθ in θ-form.
const DPSI_DTHETA_THETA: ThetaForm = ThetaForm {
    op: "dpsi_dtheta",
    point: dpsi_dtheta_point,
    over: dpsi_dtheta_ival,
    is: real::dpsi_dtheta_is,
};

impl ThetaForm {
    /// The value at an exact θ.
    fn at_theta(&self, m: &Rational, theta: &Rational, prec: u32) -> Result<Approx, Error> {
        check_theta(theta)?;
        ziv::ziv(self.op, prec, |wp| Ok(Some((self.point)(m, theta, wp)?)))
    }

    /// The value at an exact `c`, over an enclosure of `θ = acos c`; candidate exact
    /// values are checked by `is`.
    fn at_cos(&self, m: &Rational, c: &Rational, prec: u32) -> Result<Approx, Error> {
        check_cos(c)?;
        ziv::ziv_proving(
            self.op,
            prec,
            |wp| Ok(Some((self.over)(m, &acos_ival(c, wp))?)),
            |t, iv| Ok((self.is)(m, c, t, iv)),
        )
    }
}

/// The oracle for ψ. Integer `m` with `c`: the exact rational ψ(c). Otherwise
/// (θ given, or real `m ≥ 1`) an enclosure from the θ-form, with `θ = acos c`
/// at working precision for real `m`.
///
/// ```
/// use asoftmax_spec::{Angle, psi::psi};
/// use rug::Rational;
/// // m = 4, c = 0: θ = π/2 is in branch k = 2, ψ = cos(2π) − 4 = −3.
/// let v = psi(&Rational::from(4), &Angle::Cos(Rational::new()), 64).unwrap();
/// assert_eq!(v.f64(), -3.0);
/// ```
pub fn psi(m: &Rational, at: &Angle, prec: u32) -> Result<Approx, Error> {
    check_margin(m)?;
    ziv::check_prec(prec)?;
    match (integer_u32(m), at) {
        (Some(mi), Angle::Cos(c)) => psi_integer_cos(mi, c, prec),
        (_, Angle::Theta(theta)) => PSI_THETA.at_theta(m, theta, prec),
        (None, Angle::Cos(c)) => PSI_THETA.at_cos(m, c, prec),
    }
}

/// [`psi`] for an integer margin `m` given `c`: the same result as
/// `psi(&Rational::from(m), &Angle::Cos(c.clone()), prec)`, without forming `m` as a
/// fraction (the scalar `eval` path reads `m` as an integer).
pub fn psi_integer(m: u32, c: &Rational, prec: u32) -> Result<Approx, Error> {
    if !(1..=crate::multiangle::MAX_M).contains(&m) {
        check_margin(&Rational::from(m))?;
    }
    ziv::check_prec(prec)?;
    psi_integer_cos(m, c, prec)
}

/// ψ(c) for an integer `1 ≤ m ≤ MAX_M` (checked): exact `T_m(c)` when cheap, else
/// `T_m(c)` enclosed in the Ziv loop (never 0 nor a midpoint: see "Exactness" in the
/// module docs).
fn psi_integer_cos(m: u32, c: &Rational, prec: u32) -> Result<Approx, Error> {
    if !exact_route_is_cheap(m, c) {
        check_cos(c)?;
        return ziv::ziv("psi", prec, |wp| Ok(Some(psi_cos_point(m, c, wp)?)));
    }
    match psi_cos_dyadic(m, c, prec)? {
        Some(a) => Ok(a),
        None => ziv::approx_rational("psi", &psi_cos_exact(m, c)?, prec),
    }
}

/// The oracle for dψ/dc, integer `m ≥ 1`: exact `(−1)^k m U_{m−1}(c)` given `c`;
/// given θ, the same polynomial over an enclosure of `cos θ`.
pub fn dpsi_dcos(m: u32, at: &Angle, prec: u32) -> Result<Approx, Error> {
    check_margin(&Rational::from(m))?;
    ziv::check_prec(prec)?;
    match at {
        Angle::Cos(c) if exact_route_is_cheap(m, c) => match dpsi_dcos_dyadic(m, c, prec)? {
            Some(a) => Ok(a),
            None => ziv::approx_rational("dpsi_dcos", &dpsi_dcos_exact(m, c)?, prec),
        },
        // Never 0 nor a midpoint: see "Exactness" in the module docs.
        Angle::Cos(c) => {
            check_cos(c)?;
            ziv::ziv("dpsi_dcos", prec, |wp| dpsi_dcos_point(m, c, wp))
        }
        Angle::Theta(theta) => {
            check_theta(theta)?;
            ziv::ziv("dpsi_dcos", prec, |wp| {
                let c = Ival::from_rational(theta, wp).cos();
                Ok(Some(dpsi_dcos_ival(m, &c)?))
            })
        }
    }
}

/// The oracle for dψ/dθ = −(−1)^k m sin(mθ), real `m ≥ 1`. Integer `m` with `c`:
/// `−(−1)^k m √(1 − c²) U_{m−1}(c)` from exact `k` and `U_{m−1}(c)`; otherwise the θ-form
/// (through `θ = acos c` for real `m` given `c`).
pub fn dpsi_dtheta(m: &Rational, at: &Angle, prec: u32) -> Result<Approx, Error> {
    check_margin(m)?;
    ziv::check_prec(prec)?;
    match (integer_u32(m), at) {
        (Some(mi), Angle::Cos(c)) => {
            check_cos(c)?;
            let k = branch_from_cos(mi, c)?;
            let cheap = exact_route_is_cheap(mi, c);
            // m·U_{m−1}(c) with the branch sign: exact when cheap, else over intervals.
            let u = cheap.then(|| {
                branch_sign(k, &crate::multiangle::chebyshev_u_exact(mi, c)) * Rational::from(mi)
            });
            let s2 = Rational::from(1) - Rational::from(c.square_ref());
            // Exact when sin θ = √(1 − c²) is rational (or U_{m−1}(c) = 0); otherwise an
            // irrational, and on the interval route never 0 nor a midpoint (module docs).
            if let Some(u) = &u {
                if let Some(root) = rational_sqrt(&s2).or_else(|| (*u == 0).then(Rational::new)) {
                    let v = -(root * u);
                    return ziv::approx_rational("dpsi_dtheta", &v, prec);
                }
            }
            ziv::ziv("dpsi_dtheta", prec, |wp| {
                let s = Ival::from_rational(&s2, wp).sqrt().expect("1 − c² ≥ 0");
                // −(−1)^k·m·sin(mθ) directly when the exact route is too large.
                let d = match &u {
                    Some(u) => s.mul(&Ival::from_rational(u, wp)),
                    None => {
                        let theta = acos_ival(c, wp);
                        let mi = Ival::from_integer(&mi.into(), wp);
                        branch_sign(k, &mi.mul(&theta.mul(&mi).sin()))
                    }
                };
                Ok(Some(d.neg()))
            })
        }
        (_, Angle::Theta(theta)) => DPSI_DTHETA_THETA.at_theta(m, theta, prec),
        (None, Angle::Cos(c)) => DPSI_DTHETA_THETA.at_cos(m, c, prec),
    }
}

/// `√q` when `q ≥ 0` is the square of a rational.
pub(crate) fn rational_sqrt(q: &Rational) -> Option<Rational> {
    let root = |n: &Integer| {
        let r = Integer::from(n.sqrt_ref());
        (Integer::from(r.square_ref()) == *n).then_some(r)
    };
    if *q < 0 {
        return None;
    }
    Some(Rational::from((root(q.numer())?, root(q.denom())?)))
}

/// Whether dψ/dc with a real margin `m` at a rational `c ∈ (−1, 1)` *is* the rational `t`,
/// given an enclosure `iv` of it: an exact identity (module `real`), never closeness. For
/// the Ziv loops of slopes that may sit exactly on a rounding midpoint (`m = 3/2` at
/// `c = −1 + 2⁻⁵³`: `dψ/dc = 3·2²⁵ − 3·2⁻²⁷`, `√((1 + c)/2)` being rational there).
pub(crate) fn dpsi_dcos_real_is(m: &Rational, c: &Rational, t: &Rational, iv: &Ival) -> bool {
    real::dpsi_dcos_is(m, c, t, iv)
}

/// Proofs that ψ or dψ/dθ with a real margin `m = p/q` at a rational `c` *is* a given
/// rational `t` (a rounding midpoint or 0 that blocks the Ziv loop).
///
/// With `θ = acos c`, `v = cos(mθ)` is a root of `T_q(X) = T_p(c)` (as `T_q(cos(pθ/q)) =
/// cos(pθ) = T_p(c)`). A candidate `v′` derived from `t` that satisfies the identity
/// *exactly* and lies in an enclosure `I` of `v` on which `T_q′ = q·U_{q−1}` has no zero
/// (so `T_q` is strictly monotone on `I` and has at most one root there) equals `v`.
mod real {
    use super::*;

    /// `m = p/q` with `p·bits(c)` and `q·bits(r)` within the exact-route budget.
    fn parts(m: &Rational, c: &Rational, r: &Rational) -> Option<(u32, u32)> {
        let (p, q) = (m.numer().to_u32()?, m.denom().to_u32()?);
        let bits = |x: &Rational| {
            u64::from(x.numer().significant_bits() + x.denom().significant_bits() + 2)
        };
        let ok = u64::from(p) * bits(c) <= EXACT_ROUTE_MAX_BITS
            && u64::from(q) * bits(r) <= EXACT_ROUTE_MAX_BITS;
        ok.then_some((p, q))
    }

    /// `cos(m·acos c) = sign·√r`, given an enclosure `v_encl` of `cos(m·acos c)`.
    fn cos_m_is(m: &Rational, c: &Rational, sign: i32, r: &Rational, v_encl: &Ival) -> bool {
        if *r < 0 || *r > 1 {
            return false;
        }
        let Some((p, q)) = parts(m, c, r) else {
            return false;
        };
        let wp = v_encl.prec();
        let root = Ival::from_rational(r, wp).sqrt().expect("r >= 0");
        let v = if sign < 0 { root.neg() } else { root };
        if v.lo() < v_encl.lo() || v.hi() > v_encl.hi() {
            return false;
        }
        let tp = crate::multiangle::chebyshev_t_exact(p, c);
        // T_q(±√r): T_{q/2}(2r − 1) for even q; ±√r·(U_k(w) − U_{k−1}(w)), w = 2r − 1,
        // k = (q − 1)/2, for odd q.
        let w = Rational::from(r * 2u32) - 1u32;
        let identity = if q % 2 == 0 {
            crate::multiangle::chebyshev_t_exact(q / 2, &w) == tp
        } else {
            let k = (q - 1) / 2;
            let d = crate::multiangle::chebyshev_exact(k + 1, &w).1
                - crate::multiangle::chebyshev_exact(k, &w).1;
            match rational_sqrt(r) {
                Some(root) => root * sign * d == tp,
                None => d == 0 && tp == 0,
            }
        };
        identity && isolates_one_root(q, &tp, v_encl)
    }

    /// `I` holds at most one root of `T_q(X) = a`. For `a = ±1` the roots lie among
    /// `cos(iπ/q)` (some double), whose distinct values are at least
    /// `min_i (cos(iπ/q) − cos((i+1)π/q)) = 1 − cos(π/q)` apart, so a narrower `I` holds
    /// one; otherwise every root is simple and `T_q′ = q·U_{q−1}` without a zero on `I`
    /// makes `T_q` strictly monotone there.
    fn isolates_one_root(q: u32, a: &Rational, v_encl: &Ival) -> bool {
        if *a == 1 || *a == -1 {
            let wp = v_encl.prec();
            let angle = Ival::pi(wp)
                .div(&Ival::from_integer(&q.into(), wp))
                .expect("q > 0");
            let gap = Ival::from_integer(&1.into(), wp).sub(&angle.cos());
            return v_encl.width() < *gap.lo();
        }
        !crate::multiangle::chebyshev_u(q - 1, v_encl).contains_zero()
    }

    /// ψ = t, given the enclosure `iv` of ψ: on the branch `k` whose open range
    /// `(−1 − 2k, 1 − 2k)` holds `iv`, `cos(mθ) = (−1)^k·(t + 2k)`.
    pub(super) fn psi_is(m: &Rational, c: &Rational, t: &Rational, iv: &Ival) -> bool {
        let k = ((Rational::from(1) - t) / 2u32).floor();
        let (lo, hi) = (
            Rational::from(&k * -2) - 1u32,
            Rational::from(&k * -2) + 1u32,
        );
        if !(*iv.lo() > lo && *iv.hi() < hi) {
            return false;
        }
        let odd = k.numer().is_odd();
        let v = t + Rational::from(&k * 2u32);
        let v = if odd { -v } else { v };
        let wp = iv.prec();
        let shifted = iv.add(&Ival::from_rational(&Rational::from(&k * 2u32), wp));
        let v_encl = if odd { shifted.neg() } else { shifted };
        let sign = v.cmp0() as i32;
        cos_m_is(m, c, sign, &Rational::from(v.square_ref()), &v_encl)
    }

    /// dψ/dθ = t, given its enclosure `iv`: `dψ/dθ = −m·|sin(mθ)|`, so `t ≤ 0` and
    /// `cos(mθ) = ±√(1 − t²/m²)` with the sign of an enclosure of `cos(mθ)`.
    pub(super) fn dpsi_dtheta_is(m: &Rational, c: &Rational, t: &Rational, iv: &Ival) -> bool {
        if *t > 0 {
            return false;
        }
        let r = Rational::from(1) - Rational::from(t / m).square();
        cos_m_squared_is(m, c, &r, iv.prec())
    }

    /// dψ/dc = t at `|c| < 1`, given its enclosure `iv`: `dψ/dc = (−1)^k·m·sin(mθ)/sin θ`
    /// with `(−1)^k·sin(mθ) ≥ 0` on branch `k` and `sin θ = √(1 − c²) > 0`, so `t ≥ 0`
    /// and `cos²(mθ) = 1 − t²·(1 − c²)/m²`.
    pub(super) fn dpsi_dcos_is(m: &Rational, c: &Rational, t: &Rational, iv: &Ival) -> bool {
        if *t < 0 || *c >= 1 || *c <= -1 {
            return false;
        }
        let sin2 = Rational::from(1) - Rational::from(c.square_ref());
        let r = Rational::from(1) - Rational::from(t / m).square() * sin2;
        cos_m_squared_is(m, c, &r, iv.prec())
    }

    /// `cos²(m·acos c) = r`, its sign from an enclosure of `cos(m·acos c)` at `wp` bits
    /// (0 when the enclosure holds 0 and `r = 0`).
    fn cos_m_squared_is(m: &Rational, c: &Rational, r: &Rational, wp: u32) -> bool {
        let v_encl = acos_ival(c, wp).mul(&Ival::from_rational(m, wp)).cos();
        let sign = match (v_encl.lo().cmp0(), v_encl.hi().cmp0()) {
            (Some(Ordering::Greater), _) => 1,
            (_, Some(Ordering::Less)) => -1,
            _ if *r == 0 => 0,
            _ => return false,
        };
        cos_m_is(m, c, sign, r, &v_encl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dyadic routes (integers shifted, no fraction formed) give exactly the outputs of
    /// the rational route (canonical fractions, [`ziv::approx_rational`]): the decimal,
    /// every correct rounding and the round-to-odd, for m = 0…20 and dyadic cosines of
    /// every size (±0, ±1, ±1/2, subnormals, random doubles, 200-bit hex floats).
    #[test]
    fn dyadic_routes_match_the_rational_route() {
        let mut cs: Vec<Rational> = [
            "0",
            "-0",
            "1",
            "-1",
            "0.5",
            "-0.5",
            "0x1p-1074",
            "-0x1.8p-1070",
        ]
        .iter()
        .map(|t| crate::arith::parse_exact(t).unwrap())
        .collect();
        for bits in crate::arith::testing::xorshift64(0xd1ad1c).take(200) {
            let x = f64::from_bits(bits);
            // Every exponent (the raw pattern, when in [−1, 1]) and uniform doubles.
            if x.abs() <= 1.0 {
                cs.push(Rational::from_f64(x).unwrap());
            }
            let uniform = (bits >> 11) as f64 * 2f64.powi(-52) - 1.0;
            cs.push(Rational::from_f64(uniform).unwrap());
            let wide = Integer::from(bits) << 136u32 | Integer::from(bits.rotate_left(17));
            cs.push(Rational::from((wide, Integer::from(1) << 200u32)));
        }
        // `a` (a dyadic route) is the exact value `r` (compared as rationals, not floats)
        // and has the outputs of `b` (the rational route), and its roundings are those of
        // `r` rounded in one step by MPFR ([`ziv::round_rational`]).
        let same = |a: &Approx, b: &Approx, r: &Rational, what: &str| {
            assert!(a.is_exact(), "{what}");
            assert_eq!(a.enclosure().lo().to_rational().as_ref(), Some(r), "{what}");
            for fmt in crate::arith::Format::EVERY {
                let want = ziv::round_rational(r, fmt);
                assert_eq!(a.rounded(fmt).to_bits(), want.to_bits(), "{what}");
            }
            assert_eq!(a.decimal(), b.decimal(), "{what}");
            for fmt in crate::arith::Format::EVERY {
                assert_eq!(a.rounded(fmt).to_bits(), b.rounded(fmt).to_bits(), "{what}");
            }
            assert_eq!(
                a.f64_odd().map(f64::to_bits),
                b.f64_odd().map(f64::to_bits),
                "{what}"
            );
        };
        for c in &cs {
            for m in 0..=20u32 {
                for prec in [16, 64, 256] {
                    let what = format!("m = {m}, c = {c}, prec = {prec}");
                    use ziv::requiring_round_to_odd as odd;
                    let rational = |r: &Rational| odd(|| ziv::approx_rational("t", r, prec));
                    let t = crate::multiangle::chebyshev_t_exact(m, c);
                    let got = odd(|| crate::multiangle::cos_m(m, &Angle::Cos(c.clone()), prec));
                    same(
                        &got.unwrap(),
                        &rational(&t).unwrap(),
                        &t,
                        &format!("cos_m {what}"),
                    );
                    if m == 0 {
                        continue;
                    }
                    let v = psi_cos_exact(m, c).unwrap();
                    let got = odd(|| psi(&Rational::from(m), &Angle::Cos(c.clone()), prec));
                    same(
                        &got.unwrap(),
                        &rational(&v).unwrap(),
                        &v,
                        &format!("psi {what}"),
                    );
                    let d = dpsi_dcos_exact(m, c).unwrap();
                    let got = odd(|| dpsi_dcos(m, &Angle::Cos(c.clone()), prec));
                    same(
                        &got.unwrap(),
                        &rational(&d).unwrap(),
                        &d,
                        &format!("dpsi_dcos {what}"),
                    );
                }
            }
        }
    }

    #[test]
    fn branches_at_exact_thresholds() {
        // m = 3: thresholds 1/2 and −1/2 are rational and must be compared exactly.
        assert_eq!(branch_from_cos(3, &Rational::from((1, 2))).unwrap(), 0);
        assert_eq!(branch_from_cos(3, &Rational::from((49, 100))).unwrap(), 1);
        assert_eq!(branch_from_cos(3, &Rational::from((-1, 2))).unwrap(), 1);
        assert_eq!(branch_from_cos(3, &Rational::from(-1)).unwrap(), 2);
        assert_eq!(branch_from_cos(4, &Rational::from(0)).unwrap(), 1);
        assert_eq!(branch_from_cos(4, &Rational::from((-1, 1000))).unwrap(), 2);
        assert_eq!(branch_from_cos(1, &Rational::from(-1)).unwrap(), 0);
    }

    /// The branch at binary64 cosines next to every threshold `cos(jπ/m)` (its nearest
    /// binary64 and 3 neighbours each side, where the bracket decides or the exact ends
    /// do) and at rationals `2⁻⁹⁰` from it (inside the cached enclosure: refined), against
    /// a 300-bit count of the thresholds above `c` computed here.
    #[test]
    fn branches_next_to_every_threshold() {
        for m in 2..=24u32 {
            let thresholds: Vec<Float> = (1..m)
                .map(|j| {
                    let x = Float::with_val(300, rug::float::Constant::Pi) * j / m;
                    // Niven: the rational thresholds are 0 and ±½ exactly.
                    let (j, m) = (u64::from(j), u64::from(m));
                    match () {
                        _ if 2 * j == m => Float::with_val(300, 0),
                        _ if 3 * j == m => Float::with_val(300, 0.5),
                        _ if 3 * j == 2 * m => Float::with_val(300, -0.5),
                        _ => x.cos(),
                    }
                })
                .collect();
            let count = |c: &Rational| thresholds.iter().filter(|t| *c < **t).count() as u32;
            for t in &thresholds {
                let nearest = t.to_f64();
                let mut f = nearest;
                for _ in 0..3 {
                    f = f.next_down();
                }
                let mut near: Vec<Rational> = (0..7)
                    .map(|_| {
                        let q = Rational::from_f64(f).unwrap();
                        f = f.next_up();
                        q
                    })
                    .collect();
                let exact = t.to_rational().unwrap();
                let tiny = Rational::from((1, Integer::from(1) << 90u32));
                near.push(Rational::from(&exact + &tiny));
                near.push(Rational::from(&exact - &tiny));
                for c in near.iter().filter(|c| **c >= -1 && **c <= 1) {
                    assert_eq!(branch_from_cos(m, c).unwrap(), count(c), "m = {m}, c = {c}");
                }
            }
        }
    }

    #[test]
    fn psi_values_at_landmarks() {
        // ψ(c = −1) = 1 − 2m for integer m.
        for m in 1..=12u32 {
            let v = psi_cos_exact(m, &Rational::from(-1)).unwrap();
            assert_eq!(v, Rational::from(1 - 2 * i64::from(m)));
        }
        // m = 2 at c = 0 (θ = π/2): branch 1, ψ = −cos(π) − 2 = −1.
        assert_eq!(
            psi_cos_exact(2, &Rational::new()).unwrap(),
            Rational::from(-1)
        );
    }
}
