//! The class-1 boundary `Θ/(m+1)` and the angular margin `(m−1)/(m+1)·Θ`, solved and in
//! closed form (module docs §1–2).

use super::check_margin_m;
use super::root::enclose_root;
use crate::arith::{Approx, Ival, ziv};
use crate::multiangle::check_theta;
use crate::{Error, psi};
use rug::{Float, Integer, Rational};
use std::cmp::Ordering;

/// The angle `Θ` between the two class weights: rational radians (what a `&Rational`
/// argument means), or a rational multiple of π (the paper's `Θ = π/2` is not a
/// rational number of radians).
///
/// ```
/// use asoftmax_spec::margin::{WeightAngle, angular_margin_closed};
/// use rug::Rational;
/// let half_pi = WeightAngle::PiTimes(Rational::from((1, 2)));
/// let v = angular_margin_closed(&Rational::from(4), half_pi, 64).unwrap();
/// assert_eq!(v.f64(), 0.6 * std::f64::consts::FRAC_PI_2); // 3/5 · π/2
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum WeightAngle {
    /// `Θ` in radians, rational, `0 < Θ < π`.
    Radians(Rational),
    /// `Θ = q·π`, `0 < q ≤ 1`.
    PiTimes(Rational),
}

impl From<&Rational> for WeightAngle {
    /// `Θ` in radians.
    fn from(radians: &Rational) -> WeightAngle {
        WeightAngle::Radians(radians.clone())
    }
}

impl From<Rational> for WeightAngle {
    /// `Θ` in radians.
    fn from(radians: Rational) -> WeightAngle {
        WeightAngle::Radians(radians)
    }
}

impl WeightAngle {
    fn check(&self) -> Result<(), Error> {
        let ok = match self {
            WeightAngle::Radians(r) => *r > 0 && check_theta(r).is_ok(),
            WeightAngle::PiTimes(q) => *q > 0 && *q <= 1,
        };
        if ok {
            return Ok(());
        }
        let (value, expected) = match self {
            WeightAngle::Radians(r) => (
                crate::describe_rational(r),
                "an angle Theta between the class weights with 0 < Theta <= pi (radians)",
            ),
            WeightAngle::PiTimes(q) => (
                format!("{} pi", crate::describe_rational(q)),
                "an angle Theta = q pi between the class weights with 0 < q <= 1",
            ),
        };
        // A PrecisionCap from the π comparison would surface here as a domain error
        // only for inputs within 2^-4194304 of π; report it as out of range.
        Err(Error::Domain {
            arg: "Theta",
            value,
            expected,
        })
    }

    /// An enclosure of `Θ` at working precision `wp`.
    fn enclose(&self, wp: u32) -> Ival {
        match self {
            WeightAngle::Radians(r) => Ival::from_rational(r, wp),
            WeightAngle::PiTimes(q) => Ival::pi(wp).mul(&Ival::from_rational(q, wp)),
        }
    }
}

/// Encloses the class-1 boundary `θ_1*`, the root of `f(θ) = ψ(θ) − cos(Θ − θ)` on
/// `[0, Θ]` (module docs, §1), at working precision `wp`.
///
/// `f` is evaluated as `(ψ(θ) − 1) + 2·sin²((Θ − θ)/2)` (the half-angle form of
/// `1 − cos`), and on the branch `k = 0` (`mθ < π`, where the root lies) with
/// `ψ(θ) − 1 = −2·sin²(mθ/2)`: both terms are then of size `Θ²` with a relative error
/// of `2^−wp`, so tiny angles need no extra precision (with `1 − cos` formed by
/// subtraction, `Θ = 10⁻⁹⁹⁹⁹⁹` needed 660 000 bits and a minute). Elsewhere `ψ` comes
/// from [`psi::psi_theta_ival`].
fn boundary_root(m: &Rational, big_theta: &Ival, wp: u32) -> Result<Option<Ival>, Error> {
    // 2·sin²(v/2) = 1 − cos v, without the cancellation.
    let versine = |v: &Ival| v.mul_pow2(-1).sin().square().mul_pow2(1);
    let m_iv = Ival::from_rational(m, wp);
    let pi = Ival::pi(wp);
    let f = |t: &Float| -> Result<Ival, Error> {
        let theta = Ival::point(t.clone());
        let rest = versine(&big_theta.sub(&theta));
        let m_theta = m_iv.mul(&theta);
        if m_theta.cmp_certain(&pi) == Some(Ordering::Less) {
            Ok(rest.sub(&versine(&m_theta)))
        } else {
            let psi = psi::psi_theta_ival(m, &theta)?;
            Ok(psi
                .sub(&Ival::from_integer(&Integer::from(1), wp))
                .add(&rest))
        }
    };
    // f′(θ) = ψ′(θ) − sin(Θ − θ).
    let df = |x: &Ival| -> Result<Option<Ival>, Error> {
        let dpsi = psi::dpsi_dtheta_ival(m, x)?;
        Ok(Some(dpsi.sub(&big_theta.sub(x).sin())))
    };
    // The bracket [0, Θ↓] (Θ↓ ≤ Θ its lower bound): f(0) > 0 > f(Θ↓) for Θ > 0 and
    // Θ↓ > Θ/2 ≥ θ_1*; both signs are certified by `enclose_root`.
    let a = Float::new(wp);
    let b = big_theta.lo().clone();
    enclose_root("angular margin root", a, b, wp, f, df)
}

fn margin_closed_at(m: &Rational, big_theta: &WeightAngle, prec: u32) -> Result<Approx, Error> {
    check_margin_m(m)?;
    big_theta.check()?;
    let coeff = margin_coefficient(m);
    match big_theta {
        WeightAngle::Radians(r) => {
            ziv::approx_rational("angular_margin_closed", &Rational::from(&coeff * r), prec)
        }
        WeightAngle::PiTimes(_) => ziv::ziv("angular_margin_closed", prec, |wp| {
            Ok(Some(
                Ival::from_rational(&coeff, wp).mul(&big_theta.enclose(wp)),
            ))
        }),
    }
}

// The solved routes enclose values that can be exact (a rational (m − 1)/(m + 1)·Θ or
// Θ/(m + 1) on a rounding midpoint: Θ = 1 + 2⁻²⁴, m = 3 gives ½ + 2⁻²⁵; the margin 0 at
// m = 1), which no root-finder's enclosure decides. The root is unique (f is strictly
// monotone on [0, Θ]) and, by Property 1's derivation, equals the closed form on branch 0
// (θ₁ = Θ/(m + 1) ≤ π/m for Θ < π): a blocking rational equal to the exact closed form is
// that value (the solved enclosure containing it is the consistency check).

/// `q·Θ` when it is rational: always for Θ in radians, only `0` for Θ = q'·π.
fn exact_multiple(q: &Rational, big_theta: &WeightAngle) -> Option<Rational> {
    match big_theta {
        WeightAngle::Radians(r) => Some(Rational::from(q * r)),
        WeightAngle::PiTimes(_) => (*q == 0).then(Rational::new),
    }
}

fn boundary_solved_at(m: &Rational, big_theta: &WeightAngle, prec: u32) -> Result<Approx, Error> {
    check_margin_m(m)?;
    big_theta.check()?;
    let closed = exact_multiple(&(Rational::from(1) / Rational::from(m + 1u32)), big_theta);
    ziv::ziv_proving(
        "class boundary (solved)",
        prec,
        |wp| boundary_root(m, &big_theta.enclose(wp), wp),
        |t, _| Ok(closed.as_ref() == Some(t)),
    )
}

/// `Θ − 2·θ_1*` at working precision `wp`, with `θ_1*` the solved class-1 boundary.
fn margin_solved_enclosure(
    m: &Rational,
    big_theta: &WeightAngle,
    wp: u32,
) -> Result<Option<Ival>, Error> {
    let t = big_theta.enclose(wp);
    Ok(boundary_root(m, &t, wp)?.map(|root| t.sub(&root.mul_pow2(1))))
}

fn margin_solved_at(m: &Rational, big_theta: &WeightAngle, prec: u32) -> Result<Approx, Error> {
    check_margin_m(m)?;
    big_theta.check()?;
    let closed = exact_multiple(&margin_coefficient(m), big_theta);
    ziv::ziv_proving(
        "angular_margin_solved",
        prec,
        |wp| margin_solved_enclosure(m, big_theta, wp),
        |t, _| Ok(closed.as_ref() == Some(t)),
    )
}

/// The closed form, checked against the solved root: their enclosures must intersect
/// at every working precision, and the solved one is refined until it pins the value
/// to `prec` bits (relative width `2^−(prec+7)`, or within `2^−(prec+1100)` of 0 for
/// `m = 1`). No rounding decision is asked of the solved route, so an exact rounding
/// midpoint costs nothing extra.
fn margin_checked_at(m: &Rational, big_theta: &WeightAngle, prec: u32) -> Result<Approx, Error> {
    let closed = margin_closed_at(m, big_theta, prec)?;
    let disagree = |solved: String| Error::Domain {
        arg: "angular_margin",
        value: format!("closed {} vs solved {solved}", closed.decimal()),
        expected: "the closed form (m-1)/(m+1) Theta and the solved root to agree (internal consistency check)",
    };
    let c = closed.enclosure();
    ziv::refine("angular_margin (solved check)", prec + 64, |wp| {
        let Some(solved) = margin_solved_enclosure(m, big_theta, wp)? else {
            return Ok(None);
        };
        if !solved.intersects(c) {
            return Err(disagree(format!("[{}, {}]", solved.lo(), solved.hi())));
        }
        // Pinned to prec bits (relative), or within 2^−(prec + 64) of the exact 0 (m = 1).
        let pinned = if c.contains_zero() {
            solved.mag() <= Float::with_val(2, Float::i_exp(1, -((prec + 64) as i32)))
        } else {
            solved.width() <= (c.mig() >> (prec + 7))
        };
        Ok(pinned.then(|| closed.clone()))
    })
}

/// The margin coefficient `(m − 1)/(m + 1)` (exact).
///
/// ```
/// use asoftmax_spec::margin::margin_coefficient;
/// use rug::Rational;
/// assert_eq!(margin_coefficient(&Rational::from(4)), Rational::from((3, 5)));
/// ```
pub fn margin_coefficient(m: &Rational) -> Rational {
    Rational::from(m - 1u32) / Rational::from(m + 1u32)
}

/// The angular margin in closed form, `(m − 1)/(m + 1) · Θ` (radians), for a real
/// margin `1 ≤ m ≤ 65536` and the angle `0 < Θ < π` between the two class weights
/// (rational, radians; `Θ ≤ π` is the mathematical range, see the module docs §1–2;
/// or `Θ = q·π`, `0 < q ≤ 1`, as a [`WeightAngle`]).
///
/// For `Θ` in radians the result is an exact rational (so [`Approx::is_exact`] holds);
/// `m = 1` gives 0.
///
/// ```
/// use asoftmax_spec::margin::angular_margin_closed;
/// use rug::Rational;
/// let v = angular_margin_closed(&Rational::from(4), &Rational::from(1), 64).unwrap();
/// assert_eq!(v.f64(), 0.6); // 3/5 · 1 rad, correctly rounded
/// ```
///
/// # Errors
/// [`Error::Domain`] for `m` or `Θ` out of range, [`Error::Precision`] for `prec`.
pub fn angular_margin_closed(
    m: &Rational,
    big_theta: impl Into<WeightAngle>,
    prec: u32,
) -> Result<Approx, Error> {
    margin_closed_at(m, &big_theta.into(), prec)
}

/// The angular margin obtained by *solving* for the class-1 boundary: the unique root
/// `θ_1*` of `f(θ) = ψ(θ) − cos(Θ − θ)` on `[0, Θ]` is enclosed rigorously (certified
/// sign change, bisection, interval Newton with the ψ oracles
/// [`psi::psi_theta_ival`] / [`psi::dpsi_dtheta_ival`]), and
///
/// ```text
/// margin = Θ − 2·θ_1*
/// ```
///
/// (class 2's boundary lies at `θ_2 = θ_1*` by symmetry, i.e. at `θ_1 = Θ − θ_1*`; the
/// margin is the arc between the two boundaries). Same ranges as
/// [`angular_margin_closed`]: `1 ≤ m ≤ 65536`, `0 < Θ < π` rational radians.
///
/// At `m = 1` the value is 0, and a value can be exactly a rounding midpoint of `f32`
/// or `f64` (`m = 3`, `Θ = 1 + 2⁻²⁴`): no enclosure of the root decides those, so a
/// blocking rational equal to the exact closed form is returned as that exact value
/// (the root is unique and is the closed form; the solved enclosure must contain it).
///
/// # Errors
/// As [`angular_margin_closed`], plus [`Error::PrecisionCap`] if the Ziv loop gives up.
pub fn angular_margin_solved(
    m: &Rational,
    big_theta: impl Into<WeightAngle>,
    prec: u32,
) -> Result<Approx, Error> {
    margin_solved_at(m, &big_theta.into(), prec)
}

/// The class-1 boundary `θ_1* = Θ/(m + 1)` *solved*: the root of
/// `ψ(θ) = cos(Θ − θ)` on `[0, Θ]`, enclosed as in [`angular_margin_solved`].
///
/// # Errors
/// As [`angular_margin_solved`].
pub fn class_boundary_solved(
    m: &Rational,
    big_theta: impl Into<WeightAngle>,
    prec: u32,
) -> Result<Approx, Error> {
    boundary_solved_at(m, &big_theta.into(), prec)
}

/// The class-1 boundary in closed form, `Θ/(m + 1)` (exact for `Θ` in radians).
///
/// # Errors
/// As [`angular_margin_closed`].
pub fn class_boundary_closed(
    m: &Rational,
    big_theta: impl Into<WeightAngle>,
    prec: u32,
) -> Result<Approx, Error> {
    let big_theta = big_theta.into();
    check_margin_m(m)?;
    big_theta.check()?;
    let inv = Rational::from(1) / Rational::from(m + 1u32);
    match &big_theta {
        WeightAngle::Radians(r) => {
            ziv::approx_rational("class boundary (closed)", &Rational::from(&inv * r), prec)
        }
        WeightAngle::PiTimes(_) => ziv::ziv("class boundary (closed)", prec, |wp| {
            Ok(Some(
                big_theta.enclose(wp).mul(&Ival::from_rational(&inv, wp)),
            ))
        }),
    }
}

/// The angular margin `(m − 1)/(m + 1) · Θ` as reported by `eval`: the closed form
/// ([`angular_margin_closed`]) is returned only if the solved root's enclosure (as in
/// [`angular_margin_solved`]) intersects it at every working precision tried, and is
/// refined until it pins the value to `prec` bits.
///
/// # Errors
/// As the two functions; a disagreement (which would be a bug) is reported as
/// [`Error::Domain`] with `arg = "angular_margin"`.
pub fn angular_margin(
    m: &Rational,
    big_theta: impl Into<WeightAngle>,
    prec: u32,
) -> Result<Approx, Error> {
    margin_checked_at(m, &big_theta.into(), prec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::testing::q;

    #[test]
    fn boundary_root_is_theta_over_m_plus_1() {
        for m in [1, 2, 4, 7] {
            let m = Rational::from(m);
            let t = WeightAngle::PiTimes(q(3, 4));
            let a = boundary_solved_at(&m, &t, 128).unwrap();
            let want = 0.75 * std::f64::consts::PI / (m.to_f64() + 1.0);
            assert!((a.f64() - want).abs() <= 2.0 * f64::EPSILON * want);
        }
    }

    #[test]
    fn pi_multiple_margin_agrees() {
        let t = WeightAngle::PiTimes(q(1, 2));
        for m in 1..=8 {
            let m = Rational::from(m);
            margin_checked_at(&m, &t, 200).unwrap();
        }
        assert!(WeightAngle::PiTimes(q(0, 1)).check().is_err());
        assert!(WeightAngle::PiTimes(q(11, 10)).check().is_err());
        assert!(WeightAngle::PiTimes(q(1, 1)).check().is_ok());
    }
}
