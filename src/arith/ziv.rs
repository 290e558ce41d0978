//! The Ziv loop: evaluate an enclosure at a working precision, and raise the
//! precision until the enclosure *determines* the requested outputs.
//!
//! An enclosure `[lo, hi]` of the exact value `v` determines
//! - the correctly rounded `f64`/`f32` when `lo` and `hi` round to the same
//!   value (rounding is monotone, so every point in between does too);
//! - a `prec`-bit decimal when `[lo, hi]` does not contain 0 and
//!   `hi − lo ≤ min(|lo|, |hi|) · 2^−(prec+7)`: then the midpoint printed with
//!   `D = ⌈prec·log10 2⌉ + 1` significant digits is within one unit of its last
//!   digit of `v` (because `10^−D ≥ 2^−(prec+7)`);
//! - everything at once when `lo = hi` (the result is exact).
//!
//! A value that is mathematically 0 but not exactly computable (for example a
//! gradient component that vanishes by symmetry) never gives an enclosure
//! without 0. Once such an enclosure lies within `±2^−(prec + ZERO_GUARD_BITS)`
//! it is reported as zero together with that bound ([`Approx::zero_bound`]):
//! its `f32`/`f64` are then certainly ±0, and `value` is `"0"` with the stated
//! absolute error bound instead of a relative one.
//!
//! A value that sits exactly on a **rounding midpoint** of `f32` or `f64` (halfway
//! between two neighbouring floats) but is not exactly computable is never decided
//! either: for instance a loss gradient `½·g` with `g` a 25-bit dyadic, where the `½`
//! is a softmax probability of two exactly equal logits reached through `exp`, or the
//! mean's factor `s/N` is `1/3`; or the *solved* angular margin, a root-finder's
//! enclosure of the rational `(m − 1)/(m + 1)·Θ`; or ψ, dψ/dθ for a *real* m at a
//! rational c (m = 5/2, c = 2047/2048: sin(θ/2) = 1/64, so dψ/dθ = −(5/2)·sin(5θ/2) is
//! a rational, here an f32 midpoint — found by a property test). The loss, ψ/dψ
//! oracles and the solved margin routes use [`ziv_many_settling_ties`] and
//! [`ziv_settling_ties`]; `cos_m` (exact rationals or transcendental) does not: once the working precision reaches
//! [`TIE_WORKING_PREC`] and the enclosure, narrower than
//! `min(|lo|, |hi|)·2^−TIE_GUARD_BITS`, still contains a midpoint `t`, that format's
//! result is `t` rounded ties-to-even and [`Approx::assumed_tie`] names the format. It
//! is the correct rounding when `v = t` (the structural cases above), and one of the
//! two floats nearest to `v` in any case: **faithful, flagged**. The threshold is high so
//! that values merely very close to a midpoint are still decided: `sin θ = θ(1 − θ²/6)`
//! at `θ = 1.5·2⁻¹⁰⁷⁴` differs from the midpoint `θ` by `2⁻²¹⁵⁰` relative (the
//! cross-check against mpmath caught a first version that settled ties at 2⁻¹¹⁶⁴).
//!
//! The loop starts at `prec + 64` bits and doubles; it stops with
//! [`Error::PrecisionCap`] when [`MAX_WORKING_PREC`] would be exceeded, so it
//! never spins forever.

use super::interval::Ival;
use super::round::{Format, round_to};
use crate::Error;
use rug::float::Round;
use rug::{Float, Rational};

/// Smallest accepted output precision (bits).
pub const MIN_PREC: u32 = 16;
/// Largest accepted output precision (bits).
pub const MAX_PREC: u32 = 1 << 18;
/// The Ziv loop's cap on the working precision (bits). Reaching it is an error.
pub const MAX_WORKING_PREC: u32 = 1 << 22;
/// Extra bits below the requested precision at which an enclosure of 0 is accepted as zero.
pub const ZERO_GUARD_BITS: u32 = 1100;
/// The working precision from which [`ziv_many_settling_ties`] takes an enclosure of a
/// rounding midpoint to be that midpoint (see the module docs).
pub const TIE_WORKING_PREC: u32 = 1 << 16;
/// An enclosure is taken to be the midpoint `t` it contains only when its width is at
/// most `|t|·2^−TIE_GUARD_BITS` (or `2^−(prec + ZERO_GUARD_BITS)` relative, if smaller).
pub const TIE_GUARD_BITS: u32 = 1 << 15;

/// A rigorously enclosed real result, with its correctly rounded `f64` and `f32`.
#[derive(Clone, Debug)]
pub struct Approx {
    enclosure: Ival,
    prec: u32,
    f64: f64,
    f32: f32,
    zero_bound: Option<Float>,
    tie: Option<Format>,
}

impl Approx {
    /// The enclosure `[lo, hi]` that contains the exact value.
    pub fn enclosure(&self) -> &Ival {
        &self.enclosure
    }

    /// The correctly rounded binary64 value (nearest, ties to even).
    pub fn f64(&self) -> f64 {
        self.f64
    }

    /// The correctly rounded binary32 value (nearest, ties to even).
    pub fn f32(&self) -> f32 {
        self.f32
    }

    /// The requested precision in bits.
    pub fn prec(&self) -> u32 {
        self.prec
    }

    /// `true` when the exact value was computed exactly (the enclosure is a point).
    pub fn is_exact(&self) -> bool {
        self.enclosure.is_point()
    }

    /// `Some(b)` when the value could not be separated from 0 and is reported as
    /// zero with `|v| ≤ b` (see the module docs); `None` otherwise.
    pub fn zero_bound(&self) -> Option<&Float> {
        self.zero_bound.as_ref()
    }

    /// `Some(fmt)` when the value could not be separated from a rounding midpoint `t`
    /// of `fmt` (halfway between two neighbouring floats) and was taken to be `t` (only
    /// [`ziv_many_settling_ties`], used by the loss oracle, does this): the `fmt` result
    /// is then `t` rounded ties-to-even — the correct rounding if `v = t`, and one of the
    /// two floats nearest to `v` in any case — and `|v − t| ≤ |t|·2^tie_bound_exp`.
    /// The other format's result is correctly rounded as usual. `None` otherwise.
    pub fn assumed_tie(&self) -> Option<Format> {
        self.tie
    }

    /// The exponent `e` of the relative bound `|v − t| ≤ |t|·2^e` that goes with
    /// [`assumed_tie`](Self::assumed_tie): `−max(TIE_GUARD_BITS, prec + ZERO_GUARD_BITS)`.
    pub fn tie_bound_exp(&self) -> Option<i32> {
        self.tie.map(|_| -(tie_guard(self.prec) as i32))
    }

    /// A point of the enclosure at the enclosure's precision (its midpoint).
    pub fn mid(&self) -> Float {
        let p = self.enclosure.prec() + 1;
        Float::with_val(p, self.enclosure.lo() + self.enclosure.hi()) / 2
    }

    /// Number of significant decimal digits for `prec` bits: `⌈prec·log10 2⌉ + 1`.
    pub fn decimal_digits(prec: u32) -> usize {
        (f64::from(prec) * std::f64::consts::LOG10_2).ceil() as usize + 1
    }

    /// The value as a decimal string with [`decimal_digits`](Self::decimal_digits)
    /// significant digits, in scientific notation (`"7.0710678e-1"`), whose error is
    /// below one unit in its last digit; `"0"` for zero.
    pub fn decimal(&self) -> String {
        let mid = self.mid();
        if self.zero_bound.is_some() || mid.is_zero() {
            return "0".into();
        }
        let digits = Self::decimal_digits(self.prec);
        let (neg, s, exp) = mid.to_sign_string_exp_round(10, Some(digits), Round::Nearest);
        let exp = exp.expect("finite nonzero") - 1;
        let (first, rest) = s.split_at(1);
        let sign = if neg { "-" } else { "" };
        if rest.is_empty() {
            format!("{sign}{first}e{exp}")
        } else {
            format!("{sign}{first}.{rest}e{exp}")
        }
    }
}

/// `max(TIE_GUARD_BITS, prec + ZERO_GUARD_BITS)`.
fn tie_guard(prec: u32) -> u32 {
    TIE_GUARD_BITS.max(prec + ZERO_GUARD_BITS)
}

/// Decides whether `iv` determines all outputs at `prec` bits (see the module docs);
/// with `ties`, an enclosure of a rounding midpoint may be taken to be it.
fn settle(iv: &Ival, prec: u32, ties: bool) -> Option<Approx> {
    // Narrow enough to be taken as a rounding midpoint it still straddles.
    let tight = ties && !iv.contains_zero() && iv.width() <= (iv.mig() >> tie_guard(prec));
    let rounded = |fmt| -> Option<(f64, bool)> {
        let a = round_to(iv.lo(), fmt);
        let b = round_to(iv.hi(), fmt);
        if a.to_bits() == b.to_bits() {
            Some((a, false))
        } else if a == 0.0 && b == 0.0 {
            Some((0.0, false))
        } else if tight {
            let t = midpoint(a, b, fmt);
            (*iv.lo() <= t && t <= *iv.hi()).then(|| (round_to(&t, fmt), true))
        } else {
            None
        }
    };
    let (f64v, tie64) = rounded(Format::F64)?;
    let (f32v, tie32) = rounded(Format::F32)?;
    let tie = match (tie64, tie32) {
        (true, _) => Some(Format::F64),
        (false, true) => Some(Format::F32),
        (false, false) => None,
    };
    let mut zero_bound = None;
    if !iv.is_point() {
        if iv.contains_zero() {
            let guard = prec + ZERO_GUARD_BITS;
            let floor = Float::with_val(2, Float::i_exp(1, -(guard as i32)));
            if iv.mag() > floor {
                return None;
            }
            zero_bound = Some(floor);
        } else {
            let tol = Float::with_val(iv.prec(), iv.mig() >> (prec + 7));
            if iv.width() > tol {
                return None;
            }
        }
    }
    Some(Approx {
        enclosure: iv.clone(),
        prec,
        f64: f64v,
        f32: f32v as f32,
        zero_bound,
        tie,
    })
}

/// The rounding midpoint between the neighbouring `fmt` values `a < b` (or `b < a`),
/// exactly; next to the overflow threshold the missing neighbour is `(2 − 2^(1−p))·2^emax`
/// plus one ulp, so the midpoint is the threshold `(2 − 2^−p)·2^emax` itself.
fn midpoint(a: f64, b: f64, fmt: Format) -> Float {
    let finite = if a.is_finite() { a } else { b };
    let other = if a.is_finite() { b } else { a };
    if other.is_finite() {
        // Two doubles: their sum is exact with 2·53 + 2 bits of precision.
        (Float::with_val(2 * 53 + 2, a) + b) / 2u32
    } else {
        let p = fmt.precision();
        let t = Float::with_val(p + 2, Float::i_exp(1, fmt.max_exp() + 1))
            - Float::with_val(2, Float::i_exp(1, fmt.max_exp() - p as i32));
        if finite < 0.0 { -t } else { t }
    }
}

/// Checks that `prec` is within [`MIN_PREC`]..=[`MAX_PREC`].
pub fn check_prec(prec: u32) -> Result<(), Error> {
    if (MIN_PREC..=MAX_PREC).contains(&prec) {
        Ok(())
    } else {
        Err(Error::Precision {
            prec,
            min: MIN_PREC,
            max: MAX_PREC,
        })
    }
}

/// Runs the Ziv loop for several outputs computed together. `eval(wp)` returns
/// enclosures at working precision `wp`, `Ok(None)` when `wp` was too low to
/// decide something (a branch, a sign), or an error that ends the loop.
pub fn ziv_many<F>(op: &'static str, prec: u32, eval: F) -> Result<Vec<Approx>, Error>
where
    F: FnMut(u32) -> Result<Option<Vec<Ival>>, Error>,
{
    ziv_loop(op, prec, false, eval)
}

/// [`ziv_many`] for results that may lie exactly on a rounding midpoint without being
/// exactly computable (the loss oracle's gradients): from [`TIE_WORKING_PREC`] bits on,
/// an enclosure of a midpoint is taken to be it and flagged ([`Approx::assumed_tie`];
/// module docs).
pub fn ziv_many_settling_ties<F>(op: &'static str, prec: u32, eval: F) -> Result<Vec<Approx>, Error>
where
    F: FnMut(u32) -> Result<Option<Vec<Ival>>, Error>,
{
    ziv_loop(op, prec, true, eval)
}

fn ziv_loop<F>(op: &'static str, prec: u32, ties: bool, mut eval: F) -> Result<Vec<Approx>, Error>
where
    F: FnMut(u32) -> Result<Option<Vec<Ival>>, Error>,
{
    check_prec(prec)?;
    let mut wp = prec + 64;
    loop {
        if let Some(ivs) = eval(wp)? {
            let ties_now = ties && wp >= TIE_WORKING_PREC;
            if let Some(done) = ivs.iter().map(|iv| settle(iv, prec, ties_now)).collect() {
                return Ok(done);
            }
        }
        if wp >= MAX_WORKING_PREC {
            return Err(Error::PrecisionCap {
                op,
                max: MAX_WORKING_PREC,
            });
        }
        wp = wp.saturating_mul(2).min(MAX_WORKING_PREC);
    }
}

/// [`ziv_many_settling_ties`] for one output.
pub fn ziv_settling_ties<F>(op: &'static str, prec: u32, mut eval: F) -> Result<Approx, Error>
where
    F: FnMut(u32) -> Result<Option<Ival>, Error>,
{
    let mut v = ziv_many_settling_ties(op, prec, |wp| Ok(eval(wp)?.map(|iv| vec![iv])))?;
    Ok(v.pop().expect("one output"))
}

/// The Ziv loop for one output; see [`ziv_many`].
pub fn ziv<F>(op: &'static str, prec: u32, mut eval: F) -> Result<Approx, Error>
where
    F: FnMut(u32) -> Result<Option<Ival>, Error>,
{
    let mut v = ziv_many(op, prec, |wp| Ok(eval(wp)?.map(|iv| vec![iv])))?;
    Ok(v.pop().expect("one output"))
}

/// An exact rational as an [`Approx`] (its enclosures tighten without limit, so
/// this only fails for rationals beyond the working-precision cap).
pub fn approx_rational(op: &'static str, r: &Rational, prec: u32) -> Result<Approx, Error> {
    // A dyadic rational is a float: enclose it exactly, as a point, so that exact
    // results are reported exact (and ties are settled by the point itself).
    if r.denom().is_power_of_two() {
        let bits = r.numer().significant_bits().max(1);
        if bits <= MAX_WORKING_PREC {
            check_prec(prec)?;
            let point = Ival::point(Float::with_val(bits, r));
            debug_assert!(point.contains_rational(r));
            return Ok(settle(&point, prec, false).expect("a point determines every output"));
        }
    }
    ziv(op, prec, |wp| Ok(Some(Ival::from_rational(r, wp))))
}

/// The exact rational `r` correctly rounded to `fmt` (as an `f64` holding the value).
pub fn round_rational(r: &Rational, fmt: Format) -> f64 {
    let mut wp = 64;
    loop {
        let iv = Ival::from_rational(r, wp);
        let a = round_to(iv.lo(), fmt);
        if a.to_bits() == round_to(iv.hi(), fmt).to_bits() || wp >= MAX_WORKING_PREC {
            // At the cap (unreachable for inputs within the parser's size limits)
            // the lower endpoint's rounding is returned.
            return a;
        }
        wp *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_rational_rounds_correctly() {
        let third = Rational::from((1, 3));
        let a = approx_rational("t", &third, 64).unwrap();
        assert_eq!(a.f64(), 1.0 / 3.0);
        assert_eq!(a.f32(), 1.0f32 / 3.0);
        assert_eq!(a.decimal(), "3.33333333333333333333e-1");
        assert_eq!(Approx::decimal_digits(64), 21);
    }

    #[test]
    fn dyadic_midpoint_ties_to_even() {
        // 1 + 2^-24 is exactly halfway between two f32 values: ties to 1.0.
        let r = Rational::from(1) + Rational::from((1, 1 << 24));
        let a = approx_rational("t", &r, 16).unwrap();
        assert!(a.is_exact());
        assert_eq!(a.f32(), 1.0);
        assert_eq!(a.f64(), 1.0 + 2f64.powi(-24));
    }

    /// `[t − 2^−wp·|t|, t + 2^−wp·|t|]` around a dyadic `t`, at `wp` bits: an enclosure of
    /// `t` that never becomes a point, as for a midpoint reached through `exp` and `÷`.
    fn around(t: &Float, wp: u32) -> Ival {
        let r = Float::with_val(wp + 64, t.abs_ref()) >> wp;
        Ival::new(
            Float::with_val(wp + 64, t - &r),
            Float::with_val(wp + 64, t + &r),
        )
        .expect("ordered")
    }

    /// The loop over `around(t, wp)` with ties settled, and the precisions it tried.
    fn settle_around(t: &Float) -> (Approx, Vec<u32>) {
        let mut seen = Vec::new();
        let a = ziv_many_settling_ties("t", 64, |wp| {
            seen.push(wp);
            Ok(Some(vec![around(t, wp)]))
        })
        .unwrap();
        (a.into_iter().next().unwrap(), seen)
    }

    #[test]
    fn inexact_enclosure_of_a_midpoint_is_taken_as_the_midpoint() {
        // f32: 1 + 2^−24 lies halfway between 1 and 1 + 2^−23 (ties to 1);
        // 1 + 3·2^−24 between 1 + 2^−23 and 1 + 2^−22 (ties to the even 1 + 2^−22).
        for (t, want) in [
            (1.0 + 2f64.powi(-24), 1.0f32),
            (1.0 + 3.0 * 2f64.powi(-24), 1.0 + 2f32.powi(-22)),
            (-(1.0 + 2f64.powi(-24)), -1.0f32),
        ] {
            let (a, seen) = settle_around(&Float::with_val(64, t));
            assert_eq!(a.f32(), want, "{t}");
            assert_eq!(a.f64(), t, "exact in f64");
            assert_eq!(a.assumed_tie(), Some(Format::F32));
            assert_eq!(a.tie_bound_exp(), Some(-(TIE_GUARD_BITS as i32)));
            // Only from TIE_WORKING_PREC on, not before.
            let n = seen.len();
            assert!(
                seen[n - 1] >= TIE_WORKING_PREC && seen[n - 2] < TIE_WORKING_PREC,
                "{seen:?}"
            );
        }
        // f64: 1 + 2^−53, and the overflow threshold (2 − 2^−53)·2^1023, which rounds to ∞.
        let t = Float::with_val(64, 1) + Float::with_val(64, Float::i_exp(1, -53));
        let (a, _) = settle_around(&t);
        assert_eq!((a.f64(), a.assumed_tie()), (1.0, Some(Format::F64)));
        assert_eq!(a.f32(), 1.0);
        let big =
            Float::with_val(64, Float::i_exp(1, 1024)) - Float::with_val(64, Float::i_exp(1, 970));
        let (a, _) = settle_around(&big);
        assert_eq!(
            (a.f64(), a.assumed_tie()),
            (f64::INFINITY, Some(Format::F64))
        );
        // The plain loop never assumes a tie: it runs to the cap instead.
        let tf = Float::with_val(64, 1.0 + 2f64.powi(-24));
        let e = ziv("t", 64, |wp| Ok(Some(around(&tf, wp.min(4096))))).unwrap_err();
        assert!(matches!(e, Error::PrecisionCap { .. }));
    }

    #[test]
    fn values_very_close_to_a_midpoint_are_still_decided() {
        // Like sin θ = θ·(1 − θ²/6) at θ = 1.5·2^−1074: 2^−2150 below the f64 midpoint
        // 1.5·2^−1074, so it rounds down to 2^−1074 — a tie rule at 2^−1164 got it wrong.
        let mid = Float::with_val(64, 1.5) >> 1074;
        let v = Float::with_val(4000, &mid) - (Float::with_val(4000, &mid) >> 2150);
        let (a, _) = settle_around(&v);
        assert_eq!((a.f64(), a.assumed_tie()), (2f64.powi(-1074), None));
        // And 2^−1000 above 1 + 2^−24 (an f32 midpoint) rounds up.
        let near = Float::with_val(2000, 1.0 + 2f64.powi(-24))
            + Float::with_val(2, Float::i_exp(1, -1000));
        let (a, _) = settle_around(&near);
        assert_eq!((a.f32(), a.assumed_tie()), (1.0 + 2f32.powi(-23), None));
    }

    #[test]
    fn zero_enclosure_is_reported_with_bound() {
        let a = ziv("t", 32, |wp| {
            let e = Float::with_val(wp, Float::i_exp(1, -(wp as i32) * 2));
            Ok(Some(
                Ival::new(Float::with_val(wp, -&e), e).expect("ordered"),
            ))
        })
        .unwrap();
        assert!(a.zero_bound().is_some());
        assert_eq!(a.decimal(), "0");
        assert_eq!(a.f64(), 0.0);
    }

    #[test]
    fn loop_is_capped() {
        let e = ziv("never", 64, |wp| {
            let one = Float::with_val(wp, 1);
            Ok(Some(Ival::new(Float::with_val(wp, -&one), one).unwrap()))
        })
        .unwrap_err();
        assert!(matches!(e, Error::PrecisionCap { .. }));
    }

    #[test]
    fn precision_range_is_checked() {
        assert!(check_prec(15).is_err());
        assert!(check_prec(MAX_PREC + 1).is_err());
        assert!(check_prec(65536).is_ok());
    }
}
