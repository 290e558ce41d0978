//! The margin family: the target logit of the combined margin
//! `t(θ) = cos(m1·θ + m2) − m3` (insightface's `CombinedMarginLoss`), of which ArcFace
//! (`m1 = 1`, `m2 = m`), CosFace (`m1 = 1`, `m2 = 0`, `m3 = m`) and the multiplicative
//! angular margin (`m2 = m3 = 0`, integer `m1`, on its first branch) are special cases,
//! with the published fallbacks for `m1·θ + m2 > π` ([`Fallback`]) and the three
//! gradient semantics implementations use ([`Semantics`]), correctly rounded.
//!
//! [`target_logit`] gives `t(c)`, [`target_slope`] gives `dt/dc` as a [`Slope`]: a number,
//! `±∞`, or undefined where there is none. The formulas of each fallback, what is proven
//! about them (monotonicity, continuity), the gradient semantics and the argument that
//! every value is decided (Lindemann–Weierstrass) are derived in the book's chapter,
//! [`crate::derivations::heads`]. With `m2 = 0` and an integer `m1` the values are exact
//! rationals (`T_m1(c)`, `m1·U_{m1−1}(c)`); a real `m1` with `m2 = 0` is SphereFace's
//! real-`m` margin ([`crate::psi::psi`]) and is rejected here.
//!
//! [`family`] holds every other head of the family (opensphere's SphereFace with a real
//! `m`, SphereFace-R `v1`/`v2`, SphereFace2, CurricularFace, AdaFace, MagFace) behind one
//! [`family::Head`], with non-target logits and slopes; [`sphereface2`] has SphereFace2's
//! similarity and its binary cross-entropy loss.

pub mod family;
pub mod sphereface2;

use crate::arith::{Approx, Ival, ziv};
use crate::multiangle::{chebyshev_exact, check_cos, check_theta};
use crate::{Error, describe_rational};
use rug::Rational;
use std::cmp::Ordering;

/// What a head does where `m1·θ + m2` passes π (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Nothing: `cos(m1θ + m2) − m3` on all of `[0, π]`.
    None,
    /// `cos(min(m1θ + m2, π)) − m3`.
    ClampPi,
    /// `c − m2·sin m2 − m3` once `θ + m2 > π` (`m1 = 1` only).
    Linear,
    /// `c − m3` for `c ≤ 0`.
    Easy,
}

/// How the target logit's gradient is taken (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Semantics {
    /// The derivative of the target logit as a function of `c`.
    Analytic,
    /// The margin added without gradient: `dt/dc = 1`.
    StraightThrough,
    /// The chain rule through `acos′(c) = −1/√(1 − c²)`, as autograd does.
    DifferentiableAcos,
}

/// The combined margin `cos(m1·θ + m2) − m3` with a fallback.
#[derive(Clone, Debug, PartialEq)]
pub struct Combined {
    /// The multiplicative angular margin, `m1 ≥ 1`.
    pub m1: Rational,
    /// The additive angular margin (radians), `0 ≤ m2 < π`.
    pub m2: Rational,
    /// The additive cosine margin.
    pub m3: Rational,
    /// What happens past `m1·θ + m2 = π`.
    pub fallback: Fallback,
}

/// A slope `dt/dc`: a number, an infinity, or undefined (a jump, or `0·∞`).
#[derive(Clone, Debug)]
pub enum Slope {
    /// A finite value, correctly rounded.
    Finite(Approx),
    /// `+∞`.
    PosInf,
    /// `−∞`.
    NegInf,
    /// No value: the target logit jumps there, or autograd computes `0·∞`.
    Undefined,
}

/// The piece of a head's definition that applies at `c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Piece {
    /// `cos(m1θ + m2) − m3`.
    Margin,
    /// `−1 − m3` (the clamp at π).
    Clamped,
    /// `c − m2·sin m2 − m3`.
    Linear,
    /// `c − m3` (the easy margin's other side).
    Plain,
}

impl Combined {
    /// ArcFace's additive angular margin `m` (radians) with a fallback.
    pub fn arcface(m: Rational, fallback: Fallback) -> Combined {
        Combined {
            m1: Rational::from(1),
            m2: m,
            m3: Rational::new(),
            fallback,
        }
    }

    /// CosFace's additive cosine margin `m`: `c − m`.
    pub fn cosface(m: Rational) -> Combined {
        Combined {
            m1: Rational::from(1),
            m2: Rational::new(),
            m3: m,
            fallback: Fallback::None,
        }
    }

    /// Checks the parameters: `m1 ≥ 1`, `0 ≤ m2 < π` (decided rigorously; π itself is not
    /// rational), an integer `m1` when `m2 = 0`, `m1 = 1` for the linear fallback.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |arg, value: &Rational, expected| {
            Err(Error::Domain {
                arg,
                value: describe_rational(value),
                expected,
            })
        };
        if self.m1 < 1 {
            return bad("m1", &self.m1, "a multiplicative margin m1 >= 1");
        }
        // An angle in [0, π] (π itself is not rational): multiangle's rigorous check.
        if check_theta(&self.m2).is_err() {
            return bad("m2", &self.m2, "an additive angular margin 0 <= m2 < pi");
        }
        if self.m2 == 0 && *self.m1.denom() != 1 {
            return bad(
                "m1",
                &self.m1,
                "an integer m1 when m2 = 0 (a real m1 is SphereFace's margin: psi)",
            );
        }
        if self.fallback == Fallback::Linear && self.m1 != 1 {
            return bad("m1", &self.m1, "m1 = 1 with the linear fallback");
        }
        Ok(())
    }

    /// `m1` as an integer when `m2 = 0` (validated), for the exact Chebyshev route.
    fn chebyshev_m(&self) -> Option<u32> {
        if self.m2 != 0 {
            return None;
        }
        self.m1.numer().to_u32()
    }
}

/// `m1·acos(c) + m2`, enclosed at `wp` bits.
fn angle(h: &Combined, c: &Rational, wp: u32) -> Ival {
    crate::multiangle::acos_ival(c, wp)
        .mul(&Ival::from_rational(&h.m1, wp))
        .add(&Ival::from_rational(&h.m2, wp))
}

/// Whether `m1·acos(c) + m2 ≤ π`, decided exactly (Chebyshev branch for `m2 = 0`) or by
/// refinement (never an equality for `m2 ≠ 0`: module docs).
fn within_pi(h: &Combined, c: &Rational) -> Result<bool, Error> {
    if let Some(m) = h.chebyshev_m() {
        // m·θ ≤ π ⟺ c ≥ cos(π/m) ⟺ branch k = 0 (k counts the thresholds above c).
        return Ok(crate::psi::branch_from_cos(m, c)? == 0);
    }
    ziv::refine("head_piece", 64, |wp| {
        let pi = Ival::pi(wp);
        Ok(match angle(h, c, wp).cmp_certain(&pi) {
            Some(Ordering::Less) => Some(true),
            Some(Ordering::Greater) => Some(false),
            _ => None,
        })
    })
}

/// The piece of `h` that applies at `c`.
fn piece(h: &Combined, c: &Rational) -> Result<Piece, Error> {
    Ok(match h.fallback {
        Fallback::None => Piece::Margin,
        Fallback::Easy if *c > 0 => Piece::Margin,
        Fallback::Easy => Piece::Plain,
        Fallback::ClampPi if within_pi(h, c)? => Piece::Margin,
        Fallback::ClampPi => Piece::Clamped,
        Fallback::Linear if within_pi(h, c)? => Piece::Margin,
        Fallback::Linear => Piece::Linear,
    })
}

/// The target logit `t(c)` of `h` at the cosine `c ∈ [−1, 1]`, correctly rounded
/// (module docs).
///
/// ```
/// use asoftmax_spec::head::{target_logit, Combined, Fallback};
/// use rug::Rational;
/// // ArcFace, m = 1/2, at c = 1: cos(1/2) = 0.8775825618903728.
/// let h = Combined::arcface(Rational::from((1, 2)), Fallback::None);
/// let v = target_logit(&h, &Rational::from(1), 64).unwrap();
/// assert_eq!(v.f64(), 0.8775825618903728);
/// ```
pub fn target_logit(h: &Combined, c: &Rational, prec: u32) -> Result<Approx, Error> {
    h.validate()?;
    check_cos(c)?;
    let m3 = &h.m3;
    match piece(h, c)? {
        Piece::Margin => match h.chebyshev_m() {
            Some(m) => {
                let t = Rational::from(&chebyshev_exact(m, c).0 - m3);
                ziv::approx_rational("head", &t, prec)
            }
            None => ziv::ziv("head", prec, |wp| {
                Ok(Some(
                    angle(h, c, wp).cos().sub(&Ival::from_rational(m3, wp)),
                ))
            }),
        },
        Piece::Clamped => ziv::approx_rational("head", &Rational::from(-1 - m3), prec),
        Piece::Plain => ziv::approx_rational("head", &Rational::from(c - m3), prec),
        Piece::Linear => ziv::ziv("head", prec, |wp| {
            let m2 = Ival::from_rational(&h.m2, wp);
            let shift = m2.mul(&m2.sin()).add(&Ival::from_rational(m3, wp));
            Ok(Some(Ival::from_rational(c, wp).sub(&shift)))
        }),
    }
}

/// The slope `dt/dc` of `h`'s target logit at `c` under `semantics` (module docs).
///
/// ```
/// use asoftmax_spec::head::{target_slope, Combined, Fallback, Semantics, Slope};
/// use rug::Rational;
/// // cos(4θ) at c = 1: analytic slope T_4′(1) = 16; autograd through acos: 0·∞.
/// let h = Combined { m1: 4.into(), m2: 0.into(), m3: 0.into(), fallback: Fallback::None };
/// let one = Rational::from(1);
/// let Slope::Finite(v) = target_slope(&h, &one, Semantics::Analytic, 64).unwrap() else {
///     panic!()
/// };
/// assert_eq!(v.f64(), 16.0);
/// assert!(matches!(
///     target_slope(&h, &one, Semantics::DifferentiableAcos, 64).unwrap(),
///     Slope::Undefined
/// ));
/// ```
pub fn target_slope(
    h: &Combined,
    c: &Rational,
    semantics: Semantics,
    prec: u32,
) -> Result<Slope, Error> {
    h.validate()?;
    check_cos(c)?;
    let exact = |r: Rational| ziv::approx_rational("head_slope", &r, prec).map(Slope::Finite);
    if semantics == Semantics::StraightThrough {
        return exact(Rational::from(1));
    }
    let piece = piece(h, c)?;
    if h.fallback == Fallback::Easy && *c == 0 && !(h.m1 == 1 && h.m2 == 0) {
        // t jumps at c = 0 (from c − m3 to cos(m1π/2 + m2) − m3).
        return Ok(if semantics == Semantics::Analytic {
            Slope::Undefined
        } else {
            exact(Rational::from(1))?
        });
    }
    match piece {
        Piece::Clamped => exact(Rational::new()),
        Piece::Linear | Piece::Plain => exact(Rational::from(1)),
        Piece::Margin => margin_slope(h, c, semantics, prec),
    }
}

/// `d/dc cos(m1θ + m2) = m1·sin(m1θ + m2)/sin θ`, with its values at `c = ±1`.
fn margin_slope(
    h: &Combined,
    c: &Rational,
    semantics: Semantics,
    prec: u32,
) -> Result<Slope, Error> {
    let endpoint = *c == 1 || *c == -1;
    if let Some(m) = h.chebyshev_m() {
        // sin(m1θ) = 0 at θ = 0, π: analytic m·U_{m−1}(c); autograd 0·∞ there.
        if endpoint && semantics == Semantics::DifferentiableAcos {
            return Ok(Slope::Undefined);
        }
        let u = chebyshev_exact(m, c).1 * Rational::from(m);
        return ziv::approx_rational("head_slope", &u, prec).map(Slope::Finite);
    }
    if endpoint {
        // sin(m1θ + m2) ≠ 0 at θ = 0, π (m2 ≠ 0: module docs) and sin θ → 0⁺.
        let positive = ziv::refine("head_slope", 64, |wp| {
            Ok(angle(h, c, wp).sin().sign_certain().and_then(|o| match o {
                Ordering::Greater => Some(true),
                Ordering::Less => Some(false),
                Ordering::Equal => None,
            }))
        })?;
        return Ok(if positive {
            Slope::PosInf
        } else {
            Slope::NegInf
        });
    }
    ziv::ziv("head_slope", prec, |wp| {
        let s = angle(h, c, wp).sin().mul(&Ival::from_rational(&h.m1, wp));
        let one = Ival::from_integer(&1.into(), wp);
        // √(1 − c²) > 0 for |c| < 1; a low precision may not show it yet.
        let sin_theta = one.sub(&Ival::from_rational(c, wp).square()).sqrt();
        Ok(sin_theta.and_then(|st| s.div(&st)))
    })
    .map(Slope::Finite)
}
