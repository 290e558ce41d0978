//! Multi-angle expansions of cos(mθ) as polynomials in c = cos θ.
//!
//! `cos(mθ) = T_m(cos θ)` where `T_m` is the Chebyshev polynomial of the first kind.
//! Three evaluation routes are provided, each written once over [`Scalar`], so they
//! can check each other in any arithmetic:
//!
//! - **recurrence**: `T_0 = 1, T_1 = c, T_{n+1} = 2c·T_n − T_{n−1}`;
//! - **binomial** (L-Softmax, Eq. 7): `T_m(c) = Σ_{n=0}^{⌊m/2⌋} (−1)^n C(m, 2n) c^{m−2n} (1 − c²)^n`;
//! - **De Moivre**: `T_m(c) = Re (c + i·√(1 − c²))^m`;
//!
//! plus Horner's rule over the exact integer coefficients
//! ([`chebyshev_t_coefficients`]). The derivative is `dT_m/dc = m·U_{m−1}(c)` with the
//! second-kind `U_0 = 1, U_1 = 2c, U_{n+1} = 2c·U_n − U_{n−1}`, and
//! `U_{m−1}(cos θ) = sin(mθ)/sin θ`.
//!
//! The oracle ([`cos_m`]) evaluates the recurrence over exact rationals when given
//! `c`, so `T_m(c)` is exact and rounding happens once, at the end; inputs too large
//! for that ([`exact_route_is_cheap`]) go through `cos(m·acos c)` over intervals. ψ
//! ([`crate::psi`]) takes both routes from here.
//!
//! Derivation: the book chapter [`crate::derivations::multiangle`].

use crate::Error;
use crate::arith::{Approx, Ival, RealScalar, Scalar, ziv};
use num_complex::Complex;
use rug::{Integer, Rational};

/// Where an angle-valued op is evaluated: at `c = cos θ` or at `θ` itself.
/// Both are exact rationals (θ in radians). Re-exported as `asoftmax_spec::Angle`.
#[derive(Clone, Debug, PartialEq)]
pub enum Angle {
    /// The cosine `c = cos θ ∈ [−1, 1]`.
    Cos(Rational),
    /// The angle `θ ∈ [0, π]` in radians.
    Theta(Rational),
}

/// Largest integer margin `m` accepted by the oracles.
pub const MAX_M: u32 = 65_536;

/// Checks `m ≤ MAX_M`.
pub(crate) fn check_m(m: u32) -> Result<(), Error> {
    if m > MAX_M {
        Err(Error::Domain {
            arg: "m",
            value: m.to_string(),
            expected: "an integer from 0 to 65536",
        })
    } else {
        Ok(())
    }
}

/// `T_m(c)` by the three-term recurrence `T_{n+1} = 2c·T_n − T_{n−1}`.
pub fn cos_m_recurrence<S: Scalar>(m: u32, c: &S) -> S {
    let (mut prev, mut cur) = (c.int_like(1), c.clone());
    if m == 0 {
        return prev;
    }
    let two_c = c.mul_int(2);
    for _ in 1..m {
        let next = two_c.mul(&cur).sub(&prev);
        prev = std::mem::replace(&mut cur, next);
    }
    cur
}

/// `U_n(c)` by `U_0 = 1, U_1 = 2c, U_{k+1} = 2c·U_k − U_{k−1}`.
pub fn chebyshev_u<S: Scalar>(n: u32, c: &S) -> S {
    let two_c = c.mul_int(2);
    let (mut prev, mut cur) = (c.int_like(1), two_c.clone());
    if n == 0 {
        return prev;
    }
    for _ in 1..n {
        let next = two_c.mul(&cur).sub(&prev);
        prev = std::mem::replace(&mut cur, next);
    }
    cur
}

/// `dT_m/dc = m·U_{m−1}(c)` (0 for m = 0).
pub fn dcos_m_dcos<S: Scalar>(m: u32, c: &S) -> S {
    if m == 0 {
        return c.int_like(0);
    }
    chebyshev_u(m - 1, c).mul_int(i64::from(m))
}

/// `T_m(c)` by the binomial expansion `Σ (−1)^n C(m, 2n) c^{m−2n} (1 − c²)^n` (L-Softmax Eq. 7).
pub fn cos_m_binomial<S: Scalar>(m: u32, c: &S) -> S {
    let s2 = c.int_like(1).sub(&c.square()); // sin²θ
    // Powers c^0..c^m and (1−c²)^0..(1−c²)^{m/2}.
    let mut cpow = vec![c.int_like(1)];
    for i in 1..=m as usize {
        cpow.push(cpow[i - 1].mul(c));
    }
    let mut acc = c.int_like(0);
    let mut spow = c.int_like(1);
    for n in 0..=m / 2 {
        let binom = Integer::from(Integer::binomial_u(m, 2 * n));
        let term = cpow[(m - 2 * n) as usize]
            .mul(&spow)
            .mul(&c.integer_like(&binom));
        acc = if n % 2 == 0 {
            acc.add(&term)
        } else {
            acc.sub(&term)
        };
        spow = spow.mul(&s2);
    }
    acc
}

fn cmul<S: Scalar>(a: &Complex<S>, b: &Complex<S>) -> Complex<S> {
    Complex::new(
        a.re.mul(&b.re).sub(&a.im.mul(&b.im)),
        a.re.mul(&b.im).add(&a.im.mul(&b.re)),
    )
}

/// `T_m(c) = Re (c + i·√(1 − c²))^m` (De Moivre), by binary powering.
pub fn cos_m_de_moivre<S: RealScalar>(m: u32, c: &S) -> S {
    let s = c.int_like(1).sub(&c.square()).sqrt_nonneg();
    let mut base = Complex::new(c.clone(), s);
    let mut acc = Complex::new(c.int_like(1), c.int_like(0));
    let mut e = m;
    while e > 0 {
        if e & 1 == 1 {
            acc = cmul(&acc, &base);
        }
        e >>= 1;
        if e > 0 {
            base = cmul(&base, &base);
        }
    }
    acc.re
}

/// Exact integer coefficients of `T_m`: `a[i]` is the coefficient of `c^i`
/// (built by the recurrence on coefficient vectors).
pub fn chebyshev_t_coefficients(m: u32) -> Vec<Integer> {
    coefficients(
        m,
        vec![Integer::from(1)],
        vec![Integer::from(0), Integer::from(1)],
    )
}

/// Exact integer coefficients of `U_n` (`a[i]` multiplies `c^i`).
pub fn chebyshev_u_coefficients(n: u32) -> Vec<Integer> {
    coefficients(
        n,
        vec![Integer::from(1)],
        vec![Integer::from(0), Integer::from(2)],
    )
}

fn coefficients(n: u32, p0: Vec<Integer>, p1: Vec<Integer>) -> Vec<Integer> {
    if n == 0 {
        return p0;
    }
    let (mut prev, mut cur) = (p0, p1);
    for _ in 1..n {
        // next = 2c·cur − prev
        let mut next = vec![Integer::new(); cur.len() + 1];
        for (i, a) in cur.iter().enumerate() {
            next[i + 1] += Integer::from(a * 2);
        }
        for (i, a) in prev.iter().enumerate() {
            next[i] -= a;
        }
        prev = std::mem::replace(&mut cur, next);
    }
    cur
}

/// `(T_m(c), U_{m−1}(c))` for a rational `c`, exactly (`U_{−1} = 0`), in `O(log m)`
/// big-integer multiplications: the oracle's exact route.
///
/// The recurrence over [`Rational`] ([`cos_m_recurrence`]) reduces a fraction of up
/// to `m·size(c)` bits by a gcd at each of its `m` steps, which is quadratic in `m`
/// and took minutes for `m = 65536`, `c = 0.1`. Here, with `c = p/q` in lowest terms
/// and `V_n = qⁿ·U_n(c)` (integers), the pair `(V_n, V_{n−1})` is doubled along the bits
/// of `m` (the entries of `[[2c, −1], [1, 0]]ⁿ` are `U_n, U_{n−1}, U_{n−2}`):
///
/// ```text
/// V_{2n} = V_n² − q²·V_{n−1}²,   V_{2n−1} = 2·V_{n−1}·(V_n − p·V_{n−1}),   V_{2n+1} = 2p·V_{2n} − q²·V_{2n−1}
/// ```
///
/// and `qᵐ·T_m(c) = V_m − p·V_{m−1}`. No gcd is needed: both numerators are `≡ 2^{m−1}·p^k`
/// (mod q) (leading coefficient `2^{m−1}`), so they share no odd prime with `q` and only
/// powers of 2 cancel.
pub fn chebyshev_exact(m: u32, c: &Rational) -> (Rational, Rational) {
    let (t, u) = chebyshev_ladder(m, c);
    (
        lowest_over(t, c.denom(), m),
        lowest_over(u, c.denom(), m.saturating_sub(1)),
    )
}

/// `T_m(c)` alone, exactly: [`chebyshev_exact`]'s first value without forming the second.
pub fn chebyshev_t_exact(m: u32, c: &Rational) -> Rational {
    lowest_over(chebyshev_ladder(m, c).0, c.denom(), m)
}

/// `U_{m−1}(c)` alone, exactly: [`chebyshev_exact`]'s second value without forming the first.
pub fn chebyshev_u_exact(m: u32, c: &Rational) -> Rational {
    lowest_over(chebyshev_ladder(m, c).1, c.denom(), m.saturating_sub(1))
}

/// For a dyadic `c = p/2^s` (its denominator a power of two): `(t, u, s)` with the
/// integers `t = 2^{sm}·T_m(c)` and `u = 2^{s(m−1)}·U_{m−1}(c)` of [`chebyshev_ladder`]
/// (`q = 2^s`), so that `T_m(c) = t·2^{−sm}` and `U_{m−1}(c) = u·2^{−s(m−1)}` exactly,
/// without reducing a fraction; `None` for any other `c`.
pub(crate) fn chebyshev_dyadic(m: u32, c: &Rational) -> Option<(Integer, Integer, u32)> {
    if !c.denom().is_power_of_two() {
        return None;
    }
    let s = c.denom().significant_bits() - 1;
    let (t, u) = if (1..=DYADIC_LINEAR_MAX).contains(&m) {
        chebyshev_dyadic_linear(m, c.numer(), s)
    } else {
        chebyshev_ladder(m, c)
    };
    Some((t, u, s))
}

/// Largest `m` for which [`chebyshev_dyadic`] takes the three-term route
/// ([`chebyshev_dyadic_linear`]); above it the doubling ladder's `O(log m)` steps win.
const DYADIC_LINEAR_MAX: u32 = 16;

/// [`chebyshev_ladder`]'s numerators `(qᵐ·T_m(c), q^{m−1}·U_{m−1}(c))` for a dyadic
/// `c = p/2^s`, by the three-term recurrence of `V_n = qⁿ·U_n(c)`:
/// `V_{n+1} = 2p·V_n − 2^{2s}·V_{n−1}` from `V_{−1} = 0`, `V_0 = 1`, ending with
/// `qᵐ·T_m = V_m − p·V_{m−1} = p·V_{m−1} − 2^{2s}·V_{m−2}`. Each step multiplies by `p`
/// (one or two limbs for a binary64 `c`) and shifts; `q²` is never multiplied.
fn chebyshev_dyadic_linear(m: u32, p: &Integer, s: u32) -> (Integer, Integer) {
    use rug::Assign;
    // |V_n| ≤ n·(|p| + q)ⁿ, and a shifted V_{n−1} is as large: room for both.
    let bits = u64::from(p.significant_bits().max(s + 1) + 1);
    let room = usize::try_from(u64::from(m) * bits + 2 * u64::from(s) + 64).unwrap_or(usize::MAX);
    let room = room.min(1 << 26);
    let mut prev = Integer::with_capacity(room);
    let mut cur = Integer::with_capacity(room);
    let mut next = Integer::with_capacity(room);
    cur += 1u32;
    // (prev, cur) = (V_{n−1}, V_n), from n = 0 to n = m − 1.
    for _ in 1..m {
        next.assign(p * &cur);
        next <<= 1;
        prev <<= 2 * s;
        next -= &prev;
        std::mem::swap(&mut prev, &mut cur);
        std::mem::swap(&mut cur, &mut next);
    }
    next.assign(p * &cur);
    prev <<= 2 * s;
    next -= &prev;
    (next, cur)
}

/// `s·n` as a shift of [`ziv::approx_dyadic`], `None` when it does not fit in `u32` (the
/// exact routes keep `m·size(c)` far below that: [`EXACT_ROUTE_MAX_BITS`]).
pub(crate) fn dyadic_shift(s: u32, n: u32) -> Option<u32> {
    s.checked_mul(n)
}

/// The numerators `(qᵐ·T_m(c), q^{m−1}·U_{m−1}(c)) = (V_m − p·V_{m−1}, V_{m−1})` of
/// [`chebyshev_exact`], by the doubling ladder.
fn chebyshev_ladder(m: u32, c: &Rational) -> (Integer, Integer) {
    use rug::Assign;
    let (p, q) = (c.numer(), c.denom());
    let q2 = Integer::from(q.square_ref());
    // (V_n, V_{n−1}) for n = 0, and two scratch integers: every step works in place, in
    // room for the largest value (|V_n| ≤ n·(|p| + q)ⁿ, doubled for the products).
    let room =
        2 * (u64::from(m) * u64::from(p.significant_bits().max(q.significant_bits()) + 1) + 64);
    let room = usize::try_from(room).unwrap_or(usize::MAX).min(1 << 26);
    let mut v = Integer::with_capacity(room);
    v += 1u32;
    let (mut v1, mut even, mut t) = (
        Integer::with_capacity(room),
        Integer::with_capacity(room),
        Integer::with_capacity(room),
    );
    for bit in (0..u32::BITS - m.leading_zeros()).rev() {
        // even = V_n² − q²·V_{n−1}²
        even.assign(v.square_ref());
        t.assign(v1.square_ref());
        t *= &q2;
        even -= &t;
        // odd = 2·V_{n−1}·(V_n − p·V_{n−1}), formed in `v`
        t.assign(p * &v1);
        v -= &t;
        v *= &v1;
        v <<= 1;
        if (m >> bit) & 1 == 1 {
            // (V_{2n+1}, V_{2n}) = (2p·even − q²·odd, even)
            t.assign(p * &even);
            t <<= 1;
            v *= &q2;
            t -= &v;
            std::mem::swap(&mut v, &mut t);
            std::mem::swap(&mut v1, &mut even);
        } else {
            // (V_{2n}, V_{2n−1}) = (even, odd)
            std::mem::swap(&mut v1, &mut v);
            std::mem::swap(&mut v, &mut even);
        }
    }
    t.assign(p * &v1);
    v -= &t;
    (v, v1)
}

/// `num/qᵏ` in lowest terms, for a numerator of [`chebyshev_ladder`]: only powers of 2
/// can cancel (see [`chebyshev_exact`]).
fn lowest_over(num: Integer, q: &Integer, k: u32) -> Rational {
    if num == 0 {
        return Rational::new();
    }
    let den = Integer::from(rug::ops::Pow::pow(q, k));
    let shift = num
        .find_one(0)
        .unwrap_or(0)
        .min(den.find_one(0).unwrap_or(0));
    let (num, den) = (num >> shift, den >> shift);
    // Already in lowest terms by the argument above; the safe constructor's gcd
    // then only confirms it (cheap next to the doubling itself).
    Rational::from((num, den))
}

/// Horner's rule `Σ a[i]·c^i` over exact integer coefficients.
pub fn horner<S: Scalar>(coeffs: &[Integer], c: &S) -> S {
    let mut acc = c.int_like(0);
    for a in coeffs.iter().rev() {
        acc = acc.mul(c).add(&c.integer_like(a));
    }
    acc
}

/// Checks `c ∈ [−1, 1]` (exactly).
pub(crate) fn check_cos(c: &Rational) -> Result<(), Error> {
    if *c < -1 || *c > 1 {
        Err(Error::Domain {
            arg: "cos",
            value: crate::describe_rational(c),
            expected: "a cosine in [-1, 1]",
        })
    } else {
        Ok(())
    }
}

/// Checks `θ ∈ [0, π]` rigorously (θ = π is impossible for a rational θ).
pub(crate) fn check_theta(theta: &Rational) -> Result<(), Error> {
    let err = || Error::Domain {
        arg: "theta",
        value: crate::describe_rational(theta),
        expected: "an angle in [0, pi]",
    };
    if *theta < 0 {
        return Err(err());
    }
    if *theta <= 3 {
        return Ok(());
    }
    let below_pi = ziv::refine("theta range check", 64, |wp| {
        Ok(Ival::from_rational(theta, wp).cmp_certain(&Ival::pi(wp)))
    })?;
    if below_pi == std::cmp::Ordering::Less {
        Ok(())
    } else {
        Err(err())
    }
}

/// Largest `m·(bits of c's numerator + denominator)` for which the exact rational
/// route is taken. `T_m(p/q)` has a denominator of `m·log2 q` bits, so without this
/// bound a hostile input (m = 65536, c with 100 000 digits) would need gigabytes;
/// beyond it the polynomial is evaluated over intervals in the Ziv loop instead
/// (slower per bit, but bounded: the recurrence loses about `1.27·m` bits).
/// At the bound, `T_65536(c)` for a 64-bit `c` costs about 0.7 s; at the former
/// `2²⁴` it took 3 s (12 s in a fuzzing build, found by `api_robustness`).
pub const EXACT_ROUTE_MAX_BITS: u64 = 1 << 22;

/// `true` when the exact rational route for `T_m(c)` is cheap enough (see
/// [`EXACT_ROUTE_MAX_BITS`]).
pub fn exact_route_is_cheap(m: u32, c: &Rational) -> bool {
    let size =
        u64::from(c.numer().significant_bits()) + u64::from(c.denom().significant_bits()) + 1;
    u64::from(m).saturating_mul(size) <= EXACT_ROUTE_MAX_BITS
}

/// `θ = acos c` enclosed at `wp` bits (c is already checked to lie in [−1, 1]).
pub(crate) fn acos_ival(c: &Rational, wp: u32) -> Ival {
    Ival::from_rational(c, wp)
        .clamp_unit()
        .and_then(|ci| ci.acos())
        .expect("c was checked to lie in [-1, 1]")
}

/// `cos(m·acos c)` over intervals: the route for inputs too large for exact rationals.
pub(crate) fn cos_m_via_theta(m: u32, c: &Rational, wp: u32) -> Ival {
    acos_ival(c, wp)
        .mul(&Ival::from_integer(&m.into(), wp))
        .cos()
}

/// The oracle for `cos(mθ)`, integer `m ≥ 0`: given `c`, the exact rational `T_m(c)`
/// (no rounding until the output); given `θ`, `cos(m·θ)` enclosed at rising precision.
///
/// ```
/// use asoftmax_spec::{Angle, multiangle::cos_m};
/// use rug::Rational;
/// // T_3(1/2) = 4/8 − 3/2 = −1, exactly.
/// let v = cos_m(3, &Angle::Cos(Rational::from((1, 2))), 64).unwrap();
/// assert!(v.is_exact());
/// assert_eq!(v.f64(), -1.0);
/// ```
pub fn cos_m(m: u32, at: &Angle, prec: u32) -> Result<Approx, Error> {
    check_m(m)?;
    ziv::check_prec(prec)?;
    match at {
        Angle::Cos(c) => {
            check_cos(c)?;
            if exact_route_is_cheap(m, c) {
                // A dyadic c (every JSON number): T_m(c) = t·2^{−sm} with no fraction formed.
                let dyadic = chebyshev_dyadic(m, c)
                    .and_then(|(t, _, s)| ziv::approx_dyadic(&t, dyadic_shift(s, m)?, prec));
                match dyadic {
                    Some(a) => Ok(a),
                    None => ziv::approx_rational("cos_m", &chebyshev_t_exact(m, c), prec),
                }
            } else {
                // Too large for exact rationals: cos(m·acos c) over intervals.
                ziv::ziv("cos_m", prec, |wp| Ok(Some(cos_m_via_theta(m, c, wp))))
            }
        }
        Angle::Theta(theta) => {
            check_theta(theta)?;
            ziv::ziv("cos_m", prec, |wp| {
                let mt = Ival::from_rational(theta, wp).mul(&Ival::from_integer(&m.into(), wp));
                Ok(Some(mt.cos()))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three-term dyadic route and the doubling ladder give the same numerators
    /// (two independent recurrences for `V_n = qⁿ·U_n(c)`), for binary64 cosines of every
    /// binade, the endpoints and 0, at every `m` the three-term route takes.
    #[test]
    fn dyadic_three_term_route_is_the_ladder() {
        let mut bits = crate::arith::testing::xorshift64(0xd1ad_1c00);
        let mut cs: Vec<f64> = vec![0.0, 1.0, -1.0, 0.5, -0.5, f64::EPSILON, -5e-324];
        for _ in 0..300 {
            let b = bits.next().unwrap();
            let v = f64::from_bits(b >> 2) % 1.0; // every exponent below 0
            cs.push(if b & 1 == 1 { -v } else { v });
        }
        for c in cs.into_iter().filter(|c| c.is_finite()) {
            let q = Rational::from_f64(c).unwrap();
            let s = q.denom().significant_bits() - 1;
            for m in 1..=DYADIC_LINEAR_MAX {
                assert_eq!(
                    chebyshev_dyadic_linear(m, q.numer(), s),
                    chebyshev_ladder(m, &q),
                    "m = {m}, c = {c:e}"
                );
            }
        }
    }

    #[test]
    fn t4_coefficients() {
        let t4: Vec<i64> = chebyshev_t_coefficients(4)
            .iter()
            .map(|a| a.to_i64().unwrap())
            .collect();
        assert_eq!(t4, vec![1, 0, -8, 0, 8]);
        let u3: Vec<i64> = chebyshev_u_coefficients(3)
            .iter()
            .map(|a| a.to_i64().unwrap())
            .collect();
        assert_eq!(u3, vec![0, -4, 0, 8]);
    }

    #[test]
    fn doubling_agrees_with_the_recurrences() {
        // Odd, even and mixed denominators (only powers of 2 may cancel), signs, 0, ±1.
        let cs = [
            (1, 3),
            (-2, 7),
            (9, 10),
            (-1, 1),
            (0, 1),
            (1, 2),
            (3, 4),
            (-5, 12),
            (7, 8),
            (1, 1),
            (-123_456_789, 1_000_000_000),
        ];
        for m in 0..=70 {
            for (n, d) in cs {
                let c = Rational::from((n, d));
                let (t, u) = chebyshev_exact(m, &c);
                assert_eq!(t, cos_m_recurrence(m, &c), "T m={m} c={c}");
                let u_rec = if m == 0 {
                    Rational::new()
                } else {
                    chebyshev_u(m - 1, &c)
                };
                assert_eq!(u, u_rec, "U m={m} c={c}");
            }
        }
    }

    #[test]
    fn exact_routes_agree_on_rationals() {
        for m in 0..=20 {
            for (n, d) in [(1, 3), (-2, 7), (9, 10), (-1, 1), (0, 1), (1, 2)] {
                let c = Rational::from((n, d));
                let r = cos_m_recurrence(m, &c);
                assert_eq!(r, cos_m_binomial(m, &c), "m={m} c={c}");
                assert_eq!(r, horner(&chebyshev_t_coefficients(m), &c), "m={m} c={c}");
            }
        }
    }
}
