//! Decision boundaries, the angular margin, and the paper's `m_min` results —
//! each one **computed** (by certified root enclosure) and **cross-checked**
//! against its closed form, never typed in.
//!
//! # Setting and notation
//!
//! Two class weights `W_1`, `W_2` (normalized, zero biases, as in A-Softmax) make the
//! angle `Θ ∈ (0, π]`. For a feature `x`, `θ_i` is the angle between `x` and `W_i`.
//! A-Softmax assigns `x` to class 1 only if `ψ(θ_1) > cos θ_2`, and to class 2 only if
//! `ψ(θ_2) > cos θ_1`, where `ψ(θ) = (−1)^k cos(mθ) − 2k` on `[kπ/m, (k+1)π/m]` is the
//! monotone extension of `cos(mθ)` (see [`crate::psi`]); on the first branch
//! `θ ∈ [0, π/m]`, `ψ(θ) = cos(mθ)`, the paper's condition.
//!
//! # 1. The class-1 boundary between the weights: `θ_1 = Θ/(m+1)`
//!
//! Take `x` in the plane of `W_1`, `W_2`, between them: `θ_1 + θ_2 = Θ`. On the segment
//! `θ_1 ∈ [0, Θ]` let
//!
//! ```text
//! f(θ) = ψ(θ) − cos(Θ − θ).
//! ```
//!
//! `ψ` is strictly decreasing on `[0, π]`, and `cos(Θ − θ)` is strictly increasing for
//! `θ ∈ [0, Θ]` (its argument `Θ − θ` decreases inside `[0, π]`), so `f` is strictly
//! decreasing. `f(0) = 1 − cos Θ > 0` and `f(Θ) = ψ(Θ) − 1 < 0` for `Θ > 0` (ψ < 1 away
//! from 0), so `f` has exactly one root `θ_1*` in `(0, Θ)`: the class-1 boundary.
//!
//! Closed form: if `θ ∈ [0, π/m]` then `ψ(θ) = cos(mθ)` with `mθ ∈ [0, π]`, and
//! `Θ − θ ∈ [0, π]`; cos is injective on `[0, π]`, so `f(θ) = 0 ⇔ mθ = Θ − θ ⇔
//! θ = Θ/(m+1)`. This point *is* on the first branch for every admissible `Θ`:
//! `Θ/(m+1) ≤ π/m ⇔ Θ ≤ π(m+1)/m`, true for all `Θ ≤ π`. By uniqueness,
//! `θ_1* = Θ/(m+1)`. **Valid range: `m ≥ 1` (real), `0 < Θ ≤ π`** — as a rational
//! input in radians, `0 < Θ < π`. (`Θ > π` is not an angle between two vectors; `Θ = 0`
//! means `W_1 = W_2` and there is nothing to separate.)
//!
//! # 2. The angular margin: `Θ − 2θ_1* = (m−1)/(m+1)·Θ`
//!
//! By the symmetric argument (swap the classes), class 2's boundary is at
//! `θ_2 = Θ/(m+1)`, i.e. `θ_1 = Θ − Θ/(m+1) = mΘ/(m+1)`. Along the arc from `W_1` to
//! `W_2`, features with `θ_1 < Θ/(m+1)` can be class 1, features with
//! `θ_1 > mΘ/(m+1)` can be class 2, and the arc in between belongs to neither class.
//! Its length is the angular margin
//!
//! ```text
//! margin = mΘ/(m+1) − Θ/(m+1) = Θ − 2·θ_1* = (m−1)/(m+1)·Θ.
//! ```
//!
//! `m = 1` gives margin 0 (plain modified softmax, one shared boundary at `Θ/2`).
//! [`angular_margin_closed`] evaluates the right-hand side; [`angular_margin_solved`]
//! encloses the root `θ_1*` of `f` and returns `Θ − 2θ_1*`; [`angular_margin`] computes
//! both and refuses to answer unless they agree.
//!
//! # 3. `m_min`: the paper's Properties 2 and 3
//!
//! Required: the largest angle between two features of one class (intra-class) is
//! at most the smallest angle between features of different classes (inter-class).
//! All spans below are proportional to `Θ`, which divides out.
//!
//! **Inter-class**: the gap between class regions is the margin of §2,
//! `(m−1)/(m+1)·Θ`.
//!
//! **Binary (Property 2).** Class 1's region in the plane reaches `Θ/(m+1)` from
//! `W_1` towards `W_2` (§1). On the other side of `W_1`, away from `W_2`, a feature at
//! angle `θ_1` has `θ_2 = θ_1 + Θ`, and it stays class 1 while
//! `cos(mθ_1) > cos(θ_1 + Θ)`, i.e. `mθ_1 < θ_1 + Θ`, i.e. `θ_1 < Θ/(m−1)`
//! (for `m > 1`; this uses the first branch and `θ_1 + Θ ≤ π`, i.e.
//! `Θ ≤ π(m−1)/m`, the paper's implicit assumption). The maximal intra-class angle is
//! the whole span `Θ/(m+1) + Θ/(m−1)`, and the requirement is
//!
//! ```text
//! g(m) = (m−1)/(m+1) − 1/(m−1) − 1/(m+1) ≥ 0.
//! ```
//!
//! `g′(m) = 3/(m+1)² + 1/(m−1)² > 0`, so `g` increases on `(1, ∞)` (from −∞), and the
//! smallest admissible `m` is the unique root of `g`. (Multiplying by `(m−1)(m+1) > 0`:
//! `g ≥ 0 ⇔ m² − 4m + 1 ≥ 0 ⇔ m ≥ 2 + √3`, the closed form used as cross-check.)
//! At `m = 1` the far boundary does not exist (the span is unbounded), so `m = 1` does
//! not satisfy the requirement either.
//!
//! **Multi-class, evenly spaced weights (Property 3).** `W_1` now has a neighbour at
//! angle `Θ` on *both* sides (in the plane), so both ends of its region are near
//! boundaries at `Θ/(m+1)`: the intra-class span is `2Θ/(m+1)`, and
//!
//! ```text
//! h(m) = (m−1)/(m+1) − 2/(m+1) = (m−3)/(m+1) ≥ 0,    h′(m) = 4/(m+1)² > 0,
//! ```
//!
//! whose root (closed form: 3) is `m_min`. [`m_min`] finds the roots by certified
//! bracketing and interval Newton; [`m_min_closed`] evaluates `2 + √3` and `3`.
//!
//! # 4. Table 1: binary decision boundaries
//!
//! [`DecisionRule`] evaluates the boundary functions of the paper's Table 1 for a
//! [`Sample`] (explicit vectors, or a norm and two angles) and classifies it
//! ([`Decision`]). The book's tables of these results (Table 1, a worked example, the
//! margins at `Θ = π/2`, `m_min`) are rendered by `examples/gen_docs`.
//!
//! # Root enclosure
//!
//! All roots are found by one routine: a bracket `[a, b]` whose end signs are
//! *certified* by interval evaluation (so a root lies inside, by continuity; it is
//! unique because the functions are strictly monotone, proven above), shrunk by
//! bisection at certified signs and by interval Newton steps
//! `X ← X ∩ (c − f(c)/f′(X))` once the derivative enclosure `f′(X)` excludes 0 (every
//! root in `X` lies in the Newton image, by the mean value theorem). The Ziv loop
//! ([`crate::arith::ziv`]) raises the working precision until the enclosure determines
//! the requested outputs.

use crate::arith::{Approx, Ival, ziv};
use crate::multiangle::{MAX_M, check_cos, check_theta};
use crate::{Angle, Error, psi};
use rug::{Float, Integer, Rational};
use std::cmp::Ordering;

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/// `1 ≤ m ≤ 65536` (the range of the ψ oracles).
fn check_margin_m(m: &Rational) -> Result<(), Error> {
    crate::psi::check_margin(m)
}

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

// ---------------------------------------------------------------------------
// Certified root enclosure
// ---------------------------------------------------------------------------

fn internal(what: &'static str, detail: String) -> Error {
    Error::Domain {
        arg: what,
        value: detail,
        expected: "a sign change of the (strictly monotone) difference function; this is an internal consistency failure",
    }
}

/// Encloses the unique root of a continuous, strictly monotone `f` on `[a, b]`.
///
/// `f(p)` encloses `f` at an exact point, `df(X)` encloses `f′` over an interval
/// (`None` when undefined there). The signs of `f(a)` and `f(b)` must be certified
/// opposite: `Ok(None)` when `wp` is too low to certify them (the Ziv loop retries),
/// an error when they are certified equal (no root: an internal inconsistency).
fn enclose_root<F, D>(
    what: &'static str,
    a: Float,
    b: Float,
    wp: u32,
    f: F,
    df: D,
) -> Result<Option<Ival>, Error>
where
    F: Fn(&Float) -> Result<Ival, Error>,
    D: Fn(&Ival) -> Result<Option<Ival>, Error>,
{
    let Some(sa) = f(&a)?.sign_certain() else {
        return Ok(None);
    };
    if sa == Ordering::Equal {
        return Ok(Some(Ival::point(a)));
    }
    let Some(sb) = f(&b)?.sign_certain() else {
        return Ok(None);
    };
    if sb == Ordering::Equal {
        return Ok(Some(Ival::point(b)));
    }
    if sa == sb {
        return Err(internal(
            what,
            format!("f({a}) and f({b}) have the same sign"),
        ));
    }
    let mut x = Ival::new(a, b).expect("a <= b");
    // `p` strictly inside `x`, so that a step at `p` shrinks the bracket.
    let inside = |x: &Ival, p: &Float| p > x.lo() && p < x.hi();
    // Bisection gains a bit per step, Newton doubles the bits; this cap is generous.
    let max_steps = 4 * wp as usize + 256;
    for _ in 0..max_steps {
        let width = x.width();
        let c = x.mid_at(wp);
        if !inside(&x, &c) {
            break; // no representable point strictly inside
        }
        // Interval Newton: every root in X lies in c − f(c)/f′(X) when 0 ∉ f′(X).
        let mut shrunk = false;
        if let Some(d) = df(&x)? {
            if !d.contains_zero() {
                let fc = f(&c)?;
                if fc.sign_certain() == Some(Ordering::Equal) {
                    return Ok(Some(Ival::point(c)));
                }
                let step = fc.div(&d).expect("0 is not in f'(X)");
                let n = Ival::point(c.clone()).sub(&step);
                let Some(nx) = x.clamp_to(n.lo(), n.hi()) else {
                    return Err(internal(
                        what,
                        format!(
                            "the Newton image of [{}, {}] misses the bracket",
                            x.lo(),
                            x.hi()
                        ),
                    ));
                };
                let new_width = nx.width();
                if new_width < width {
                    x = nx;
                    shrunk = true;
                    if new_width <= Float::with_val(wp, &width >> 1u32) {
                        continue;
                    }
                }
            }
        }
        // Bisection at a certified sign (the root is unique, so the sign tells the side).
        let c = x.mid_at(wp);
        if !inside(&x, &c) {
            break;
        }
        let halves = [
            Ival::new(x.lo().clone(), c.clone()).expect("lo < c"),
            Ival::new(c.clone(), x.hi().clone()).expect("c < hi"),
        ];
        match f(&c)?.sign_certain() {
            Some(Ordering::Equal) => return Ok(Some(Ival::point(c))),
            Some(s) if s == sa => x = halves[1].clone(),
            Some(_) => x = halves[0].clone(),
            None => {
                // c is within the evaluation error of the root: close in from both
                // sides with the quarter points instead (each certified).
                let mut moved = shrunk;
                for p in halves.map(|h| h.mid_at(wp)) {
                    if !inside(&x, &p) {
                        continue;
                    }
                    match f(&p)?.sign_certain() {
                        Some(Ordering::Equal) => return Ok(Some(Ival::point(p))),
                        Some(s) if s == sa => x = Ival::new(p, x.hi().clone()).expect("p < hi"),
                        Some(_) => x = Ival::new(x.lo().clone(), p).expect("lo < p"),
                        None => continue,
                    }
                    moved = true;
                }
                if !moved {
                    break;
                }
            }
        }
    }
    Ok(Some(x))
}

// ---------------------------------------------------------------------------
// The angular margin
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// m_min
// ---------------------------------------------------------------------------

/// Which of the paper's two `m_min` results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// Two classes (Property 2): intra-class span `Θ/(m+1) + Θ/(m−1)`, `m_min = 2 + √3`.
    Binary,
    /// Many classes with evenly spaced weights (Property 3): intra-class span
    /// `2Θ/(m+1)`, `m_min = 3`.
    Multiclass,
}

impl Setting {
    /// A short lower-case name (`"binary"`, `"multiclass"`).
    pub fn name(self) -> &'static str {
        match self {
            Setting::Binary => "binary",
            Setting::Multiclass => "multiclass",
        }
    }
}

/// `inter − intra` in units of `Θ`, and its derivative, over an interval of `m`.
/// Binary: `g(m) = (m−1)/(m+1) − 1/(m−1) − 1/(m+1)`, `g′ = 3/(m+1)² + 1/(m−1)²`;
/// multiclass: `h(m) = (m−1)/(m+1) − 2/(m+1)`, `h′ = 4/(m+1)²`.
/// `None` when an interval denominator contains 0.
fn separation_gap(setting: Setting, m: &Ival) -> Option<(Ival, Ival)> {
    let wp = m.prec();
    let int = |n: i64| Ival::from_integer(&Integer::from(n), wp);
    let mp1 = m.add(&int(1));
    let mm1 = m.sub(&int(1));
    let inter = mm1.div(&mp1)?; // the margin (m−1)/(m+1)
    let near = int(1).div(&mp1)?; // Θ/(m+1): boundary towards a neighbour
    let mp1_sq = mp1.square();
    match setting {
        Setting::Binary => {
            let far = int(1).div(&mm1)?; // Θ/(m−1): boundary away from W_2
            let gap = inter.sub(&near.add(&far));
            let d = int(3).div(&mp1_sq)?.add(&int(1).div(&mm1.square())?);
            Some((gap, d))
        }
        Setting::Multiclass => {
            let gap = inter.sub(&near.mul_pow2(1));
            Some((gap, int(4).div(&mp1_sq)?))
        }
    }
}

/// The intra-/inter-class separation `inter − intra` (in units of `Θ`) at a given
/// margin `m`: `(m−1)/(m+1) − 1/(m−1) − 1/(m+1)` (binary, `m > 1`) or
/// `(m−1)/(m+1) − 2/(m+1)` (multiclass, `m ≥ 1`). Non-negative exactly when the maximal
/// intra-class angle does not exceed the minimal inter-class angle.
///
/// ```
/// use asoftmax_spec::margin::{separation, Setting};
/// use rug::Rational;
/// // m = 4: 3/5 − 1/3 − 1/5 = 1/15 (binary), 3/5 − 2/5 = 1/5 (multiclass).
/// assert_eq!(separation(Setting::Binary, &Rational::from(4)).unwrap(), Rational::from((1, 15)));
/// assert_eq!(separation(Setting::Multiclass, &Rational::from(4)).unwrap(), Rational::from((1, 5)));
/// ```
///
/// # Errors
/// [`Error::Domain`] for `m < 1`, or `m = 1` in the binary setting (no far boundary).
pub fn separation(setting: Setting, m: &Rational) -> Result<Rational, Error> {
    let binary = setting == Setting::Binary;
    if *m < 1 || (binary && *m == 1) {
        return Err(Error::Domain {
            arg: "m",
            value: crate::describe_rational(m),
            expected: if binary {
                "a margin m > 1 (binary setting)"
            } else {
                "a margin m >= 1"
            },
        });
    }
    let inter = margin_coefficient(m);
    let near = Rational::from(1) / Rational::from(m + 1u32);
    Ok(match setting {
        Setting::Binary => inter - &near - Rational::from(1) / Rational::from(m - 1u32),
        Setting::Multiclass => inter - near * 2u32,
    })
}

/// The smallest margin `m ≥ 1` for which the maximal intra-class angle is at most the
/// minimal inter-class angle, found by certified root enclosure of the separation
/// function (module docs §3):
///
/// - [`Setting::Binary`]: root of `(m−1)/(m+1) − 1/(m−1) − 1/(m+1)` (Property 2, `2 + √3`);
/// - [`Setting::Multiclass`]: root of `(m−1)/(m+1) − 2/(m+1)` (Property 3, `3`).
///
/// Both functions are strictly increasing for `m > 1`; a bracket is found by doubling
/// from `m = 2` (binary, where the value is `−1`) or `m = 1` (multiclass, value `−1`)
/// with certified signs, then shrunk by bisection and interval Newton.
///
/// ```
/// use asoftmax_spec::margin::{m_min, Setting};
/// assert_eq!(m_min(Setting::Binary, 64).unwrap().f64(), 2.0 + 3f64.sqrt());
/// assert_eq!(m_min(Setting::Multiclass, 64).unwrap().f64(), 3.0);
/// ```
///
/// # Errors
/// [`Error::Precision`] for `prec`, [`Error::PrecisionCap`] if the Ziv loop gives up.
pub fn m_min(setting: Setting, prec: u32) -> Result<Approx, Error> {
    ziv::ziv("m_min", prec, |wp| {
        let gap_at = |p: &Float| -> Result<Ival, Error> {
            separation_gap(setting, &Ival::point(p.clone()))
                .map(|(g, _)| g)
                .ok_or_else(|| internal("m_min", format!("separation undefined at m = {p}")))
        };
        let dgap = |x: &Ival| -> Result<Option<Ival>, Error> {
            Ok(separation_gap(setting, x).map(|(_, d)| d))
        };
        // Bracket by doubling: the start has a certified negative separation.
        let mut lo = Float::with_val(wp, if setting == Setting::Binary { 2 } else { 1 });
        if gap_at(&lo)?.sign_certain() != Some(Ordering::Less) {
            return Err(internal(
                "m_min",
                format!("separation at m = {lo} is not negative"),
            ));
        }
        let mut hi = Float::with_val(wp, &lo * 2u32);
        loop {
            match gap_at(&hi)?.sign_certain() {
                Some(Ordering::Less) => {
                    lo = hi.clone();
                    hi *= 2u32;
                    if hi > MAX_M {
                        return Err(internal("m_min", "no sign change up to m = 65536".into()));
                    }
                }
                Some(_) => break,
                None => return Ok(None),
            }
        }
        enclose_root("m_min root", lo, hi, wp, gap_at, dgap)
    })
}

/// The closed forms of [`m_min`]: `2 + √3` (binary) and `3` (multiclass).
///
/// # Errors
/// [`Error::Precision`] for `prec`.
pub fn m_min_closed(setting: Setting, prec: u32) -> Result<Approx, Error> {
    match setting {
        Setting::Binary => ziv::ziv("m_min_closed", prec, |wp| {
            let three = Ival::from_integer(&Integer::from(3), wp);
            let two = Ival::from_integer(&Integer::from(2), wp);
            Ok(three.sqrt().map(|s| s.add(&two)))
        }),
        Setting::Multiclass => ziv::approx_rational("m_min_closed", &Rational::from(3), prec),
    }
}

// ---------------------------------------------------------------------------
// Table 1: binary decision boundaries
// ---------------------------------------------------------------------------

/// The three losses whose binary decision boundaries the paper's Table 1 compares.
///
/// Each rule has a class-1 and a class-2 boundary function, both **positive on the
/// class-1 side** (for softmax and modified softmax they are the same function):
///
/// | rule | class 1 | class 2 |
/// | --- | --- | --- |
/// | `Softmax` | `(W_1 − W_2)ᵀx + b_1 − b_2` | same |
/// | `ModifiedSoftmax` (`‖W_i‖ = 1`, `b_i = 0`) | `‖x‖(cos θ_1 − cos θ_2)` | same |
/// | `ASoftmax(m)` | `‖x‖(ψ(θ_1) − cos θ_2)` | `‖x‖(cos θ_1 − ψ(θ_2))` |
///
/// `x` is class 1 when the class-1 function is `> 0`, class 2 when the class-2 function
/// is `< 0`. With A-Softmax there is a third region, where neither holds: the margin
/// (`ψ = cos(mθ)` on the first branch, the paper's `cos mθ_i`).
#[derive(Clone, Debug, PartialEq)]
pub enum DecisionRule {
    /// Plain softmax with weights and biases.
    Softmax,
    /// Normalized weights, zero biases: a purely angular boundary.
    ModifiedSoftmax,
    /// A-Softmax with the angular margin `m` (`1 ≤ m ≤ 65536`, real).
    ASoftmax(Rational),
}

/// A sample of the binary problem: where the feature `x` lies relative to `W_1`, `W_2`.
#[derive(Clone, Debug, PartialEq)]
pub enum Sample {
    /// Explicit vectors of one dimension: feature `x`, weights `w = [W_1, W_2]` (non-zero),
    /// biases `b = [b_1, b_2]`. The angular rules use `cos θ_i = W_iᵀx/(‖W_i‖‖x‖)` and
    /// ignore `‖W_i‖` and `b_i` (that is what "modified" means).
    Vectors {
        /// The feature `x`.
        x: Vec<Rational>,
        /// The class weights `W_1`, `W_2`.
        w: [Vec<Rational>; 2],
        /// The biases `b_1`, `b_2`.
        b: [Rational; 2],
    },
    /// The feature's norm `‖x‖ ≥ 0` and its angles `θ_1`, `θ_2` to the weights (given as
    /// angles in `[0, π]` or cosines in `[−1, 1]`). Not enough for [`DecisionRule::Softmax`],
    /// which depends on `‖W_i‖` and `b_i`.
    Angles {
        /// `‖x‖`.
        norm: Rational,
        /// `θ_1`, `θ_2`.
        theta: [Angle; 2],
    },
}

/// Where a sample falls under a [`DecisionRule`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The class-1 function is positive.
    Class1,
    /// The class-2 function is negative.
    Class2,
    /// A-Softmax only: class-1 function `< 0 <` class-2 function — the sample lies in the
    /// angular margin between the two boundaries and satisfies neither class's condition.
    Margin,
    /// A boundary function is exactly 0.
    Boundary,
}

impl Decision {
    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Class1 => "class 1",
            Decision::Class2 => "class 2",
            Decision::Margin => "margin",
            Decision::Boundary => "boundary",
        }
    }
}

/// The values of a rule's two boundary functions at a sample.
#[derive(Clone, Debug)]
pub struct BoundaryValues {
    /// The class-1 boundary function (positive on the class-1 side).
    pub class1: Approx,
    /// The class-2 boundary function (positive on the class-1 side).
    pub class2: Approx,
}

/// The sign of a settled [`Approx`] (0 for an exact 0).
fn approx_sign(a: &Approx) -> Ordering {
    a.enclosure().sign_certain().unwrap_or(Ordering::Equal)
}

fn dot(a: &[Rational], b: &[Rational]) -> Rational {
    a.iter()
        .zip(b)
        .fold(Rational::new(), |acc, (x, y)| acc + Rational::from(x * y))
}

/// `Some(m)` for an integer margin.
fn integer_m(m: &Rational) -> Option<u32> {
    if *m.denom() == 1 {
        m.numer().to_u32()
    } else {
        None
    }
}

/// `cos θ` and `ψ(θ)` from an [`Angle`], enclosed at `wp`.
fn angle_cos_psi(m: &Rational, at: &Angle, wp: u32) -> Result<(Ival, Ival), Error> {
    match at {
        Angle::Cos(c) => {
            let ci = Ival::from_rational(c, wp);
            let psi = match integer_m(m) {
                Some(mi) => Ival::from_rational(&psi::psi_cos_exact(mi, c)?, wp),
                None => psi::psi_theta_ival(m, &ci.acos().expect("c in [-1, 1]"))?,
            };
            Ok((ci, psi))
        }
        Angle::Theta(t) => {
            let ti = Ival::from_rational(t, wp);
            Ok((ti.cos(), psi::psi_theta_ival(m, &ti)?))
        }
    }
}

/// ψ over an enclosure of `cos θ`.
fn psi_of_cos(m: &Rational, c: &Ival) -> Result<Ival, Error> {
    let c = c.clamp_unit().expect("a cosine enclosure meets [-1, 1]");
    match integer_m(m) {
        Some(mi) => psi::psi_cos_ival(mi, &c),
        None => psi::psi_theta_ival(m, &c.acos().expect("clamped to [-1, 1]")),
    }
}

fn check_sample(rule: &DecisionRule, s: &Sample) -> Result<(), Error> {
    if let DecisionRule::ASoftmax(m) = rule {
        check_margin_m(m)?;
    }
    match s {
        Sample::Vectors { x, w, .. } => {
            if x.is_empty() || w.iter().any(|wi| wi.len() != x.len()) {
                return Err(Error::Domain {
                    arg: "sample",
                    value: format!(
                        "dimensions x: {}, W_1: {}, W_2: {}",
                        x.len(),
                        w[0].len(),
                        w[1].len()
                    ),
                    expected: "x, W_1 and W_2 of one non-zero dimension",
                });
            }
            if w.iter().any(|wi| wi.iter().all(|v| *v == 0)) {
                return Err(Error::Domain {
                    arg: "W",
                    value: "a zero vector".into(),
                    expected: "non-zero class weights (a zero weight has no direction)",
                });
            }
        }
        Sample::Angles { norm, theta } => {
            if *rule == DecisionRule::Softmax {
                return Err(Error::Domain {
                    arg: "sample",
                    value: "angles".into(),
                    expected: "explicit x, W and b: the softmax boundary depends on |W_i| and b_i",
                });
            }
            if *norm < 0 {
                return Err(Error::Domain {
                    arg: "norm",
                    value: crate::describe_rational(norm),
                    expected: "a feature norm |x| >= 0",
                });
            }
            for t in theta {
                match t {
                    Angle::Cos(c) => check_cos(c)?,
                    Angle::Theta(th) => check_theta(th)?,
                }
            }
        }
    }
    Ok(())
}

impl DecisionRule {
    /// The loss's name as in Table 1.
    pub fn name(&self) -> &'static str {
        match self {
            DecisionRule::Softmax => "softmax",
            DecisionRule::ModifiedSoftmax => "modified softmax",
            DecisionRule::ASoftmax(_) => "A-Softmax",
        }
    }

    /// The decision boundary as in Table 1 (`m` symbolic).
    pub fn formula(&self) -> &'static str {
        match self {
            DecisionRule::Softmax => "(W_1 − W_2)ᵀx + b_1 − b_2 = 0",
            DecisionRule::ModifiedSoftmax => "‖x‖(cos θ_1 − cos θ_2) = 0",
            DecisionRule::ASoftmax(_) => {
                "‖x‖(cos mθ_1 − cos θ_2) = 0 for class 1, ‖x‖(cos θ_1 − cos mθ_2) = 0 for class 2"
            }
        }
    }

    /// Evaluates the class-1 and class-2 boundary functions at a sample (see the table
    /// on [`DecisionRule`]). Softmax on vectors is exact; the angular rules are enclosed.
    /// A zero feature `x` makes every angular function 0 (the factor `‖x‖`).
    ///
    /// ```
    /// use asoftmax_spec::margin::{DecisionRule, Sample};
    /// use asoftmax_spec::Angle;
    /// use rug::Rational;
    /// // θ_1 = 0.2, θ_2 = 1 rad, m = 4: ψ(0.2) − cos 1 = cos 0.8 − cos 1 > 0.
    /// let s = Sample::Angles {
    ///     norm: Rational::from(2),
    ///     theta: [Angle::Theta(Rational::from((1, 5))), Angle::Theta(Rational::from(1))],
    /// };
    /// let v = DecisionRule::ASoftmax(Rational::from(4)).boundary_values(&s, 53).unwrap();
    /// assert!((v.class1.f64() - 2.0 * (0.8f64.cos() - 1f64.cos())).abs() < 1e-15);
    /// ```
    ///
    /// # Errors
    /// [`Error::Domain`] for a malformed sample (dimensions, zero weight, negative norm,
    /// angle or cosine out of range, softmax from angles) or `m` out of range;
    /// [`Error::Precision`] for `prec`.
    pub fn boundary_values(&self, s: &Sample, prec: u32) -> Result<BoundaryValues, Error> {
        ziv::check_prec(prec)?;
        check_sample(self, s)?;
        if let (DecisionRule::Softmax, Sample::Vectors { x, w, b }) = (self, s) {
            let v = dot(&w[0], x) - dot(&w[1], x) + Rational::from(&b[0] - &b[1]);
            let a = ziv::approx_rational("softmax boundary", &v, prec)?;
            return Ok(BoundaryValues {
                class1: a.clone(),
                class2: a,
            });
        }
        let enclose = |wp: u32| -> Result<Option<Vec<Ival>>, Error> {
            let parts = match s {
                Sample::Angles { norm, theta } => {
                    let n = Ival::from_rational(norm, wp);
                    match self {
                        DecisionRule::ModifiedSoftmax => {
                            let c1 = angle_cos_psi(&Rational::from(1), &theta[0], wp)?.0;
                            let c2 = angle_cos_psi(&Rational::from(1), &theta[1], wp)?.0;
                            let v = n.mul(&c1.sub(&c2));
                            vec![v.clone(), v]
                        }
                        DecisionRule::ASoftmax(m) => {
                            let (c1, p1) = angle_cos_psi(m, &theta[0], wp)?;
                            let (c2, p2) = angle_cos_psi(m, &theta[1], wp)?;
                            vec![n.mul(&p1.sub(&c2)), n.mul(&c1.sub(&p2))]
                        }
                        DecisionRule::Softmax => unreachable!("rejected by check_sample"),
                    }
                }
                Sample::Vectors { x, w, .. } => {
                    let nx2 = dot(x, x);
                    if nx2 == 0 {
                        let z = Ival::from_integer(&Integer::new(), wp);
                        return Ok(Some(vec![z.clone(), z]));
                    }
                    let nx = Ival::from_rational(&nx2, wp).sqrt().expect("‖x‖² ≥ 0");
                    // ‖x‖ cos θ_i = W_iᵀx / ‖W_i‖.
                    let mut proj = Vec::with_capacity(2);
                    for wi in w {
                        let nw = Ival::from_rational(&dot(wi, wi), wp)
                            .sqrt()
                            .expect("‖W‖² ≥ 0");
                        let Some(p) = Ival::from_rational(&dot(wi, x), wp).div(&nw) else {
                            return Ok(None);
                        };
                        proj.push(p);
                    }
                    match self {
                        DecisionRule::ModifiedSoftmax => {
                            let v = proj[0].sub(&proj[1]);
                            vec![v.clone(), v]
                        }
                        DecisionRule::ASoftmax(m) => {
                            let (Some(c1), Some(c2)) = (proj[0].div(&nx), proj[1].div(&nx)) else {
                                return Ok(None);
                            };
                            let v1 = nx.mul(&psi_of_cos(m, &c1)?).sub(&proj[1]);
                            let v2 = proj[0].sub(&nx.mul(&psi_of_cos(m, &c2)?));
                            vec![v1, v2]
                        }
                        DecisionRule::Softmax => unreachable!("handled exactly above"),
                    }
                }
            };
            Ok(Some(parts))
        };
        // A function that is exactly 0 (a sample on the boundary) is never decided by an
        // enclosure: it is returned as 0 only where exactly_zero proves it.
        let one = |i: usize| {
            ziv::ziv_proving(
                "decision boundary",
                prec,
                |wp| Ok(enclose(wp)?.map(|mut v| v.swap_remove(i))),
                |t, _| Ok(*t == 0 && self.exactly_zero(s, i)?),
            )
        };
        Ok(BoundaryValues {
            class1: one(0)?,
            class2: one(1)?,
        })
    }

    /// `true` when boundary function `i` (0: class 1, 1: class 2) is proven to vanish at
    /// `s`; `false` when it is nonzero or not decided here. Proven: `x = 0`; two angles
    /// given as cosines with an integer (or unit) margin (exact rationals); two angles
    /// θ (cos is injective on [0, π]: `cos θ_1 = cos θ_2` iff the angles are equal, and
    /// `ψ(θ_1) = cos θ_2` iff `m·θ_1 = θ_2` on branch 0, other branches giving
    /// `|ψ| ≥ 1` against `cos θ_2 > −1` for θ_2 < π); and the modified-softmax function
    /// on vectors (`W_1ᵀx/‖W_1‖ = W_2ᵀx/‖W_2‖`, compared exactly through squares).
    fn exactly_zero(&self, s: &Sample, i: usize) -> Result<bool, Error> {
        let m = match self {
            DecisionRule::ASoftmax(m) => m.clone(),
            _ => Rational::from(1),
        };
        match s {
            Sample::Angles { norm, .. } if *norm == 0 => Ok(true),
            Sample::Angles { theta, .. } => {
                // Function i compares ψ at angle i with the plain cosine of the other one.
                let (a, b) = (&theta[i], &theta[1 - i]);
                match (a, b, integer_m(&m)) {
                    (Angle::Cos(ca), Angle::Cos(cb), Some(mi)) => {
                        Ok(psi::psi_cos_exact(mi, ca)? == *cb)
                    }
                    (Angle::Theta(ta), Angle::Theta(tb), _) => {
                        let mt = Rational::from(&m * ta);
                        Ok(mt == *tb)
                    }
                    _ => Ok(false),
                }
            }
            Sample::Vectors { x, w, .. } => {
                if dot(x, x) == 0 {
                    return Ok(true);
                }
                if m != 1 {
                    return Ok(false);
                }
                let (p, q) = (dot(&w[0], x), dot(&w[1], x));
                let same_sign = p.cmp0() == q.cmp0();
                let lhs = Rational::from(p.square_ref()) * dot(&w[1], &w[1]);
                let rhs = Rational::from(q.square_ref()) * dot(&w[0], &w[0]);
                Ok(same_sign && lhs == rhs)
            }
        }
    }

    /// Classifies a sample: [`Decision::Class1`] when the class-1 function is `> 0`,
    /// [`Decision::Class2`] when the class-2 function is `< 0`, [`Decision::Margin`] when
    /// class-1 `< 0 <` class-2 (A-Softmax only), [`Decision::Boundary`] otherwise.
    /// (Both class conditions cannot hold at once: `ψ(θ) ≤ cos θ`.)
    ///
    /// # Errors
    /// As [`boundary_values`](Self::boundary_values).
    pub fn classify(&self, s: &Sample, prec: u32) -> Result<Decision, Error> {
        let v = self.boundary_values(s, prec)?;
        Ok(match (approx_sign(&v.class1), approx_sign(&v.class2)) {
            (Ordering::Greater, _) => Decision::Class1,
            (_, Ordering::Less) => Decision::Class2,
            (Ordering::Less, Ordering::Greater) => Decision::Margin,
            _ => Decision::Boundary,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64, d: i64) -> Rational {
        Rational::from((n, d))
    }

    #[test]
    fn separation_closed_forms() {
        // g(m)·(m² − 1) = m² − 4m + 1 and h(m)·(m + 1) = m − 3, exactly.
        for (n, d) in [(3, 2), (2, 1), (37, 10), (4, 1), (17, 3), (100, 1)] {
            let m = q(n, d);
            let g = separation(Setting::Binary, &m).unwrap();
            let poly = Rational::from(m.square_ref()) - Rational::from(&m * 4u32) + 1u32;
            assert_eq!(g * (Rational::from(m.square_ref()) - 1u32), poly);
            let h = separation(Setting::Multiclass, &m).unwrap();
            assert_eq!(h * Rational::from(&m + 1u32), Rational::from(&m - 3u32));
        }
        assert!(separation(Setting::Binary, &q(1, 1)).is_err());
        assert_eq!(separation(Setting::Multiclass, &q(1, 1)).unwrap(), q(-1, 1));
    }

    #[test]
    fn far_boundary_is_at_theta_over_m_minus_1() {
        // The binary far boundary: ψ(θ) = cos(θ + Θ) at θ = Θ/(m−1), with a certified sign
        // change around it (m = 4, Θ = 1/2 ≤ π(m−1)/m).
        let (m, big) = (q(4, 1), q(1, 2));
        let wp = 256;
        let far = &big / Rational::from(&m - 1u32);
        let f = |t: &Rational| {
            let ti = Ival::from_rational(t, wp);
            psi::psi_theta_ival(&m, &ti)
                .unwrap()
                .sub(&Ival::from_rational(&big, wp).add(&ti).cos())
        };
        let eps = q(1, 1_000_000);
        assert!(f(&Rational::from(&far - &eps)).sign_certain() == Some(Ordering::Greater));
        assert!(f(&Rational::from(&far + &eps)).sign_certain() == Some(Ordering::Less));
        assert!(f(&far).contains_zero());
    }

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
