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

/// The heads by name, one table for the whole family (the `"head"` of `eval`/`vectors`
/// lines and `--head` on the command line). Every head has a loss on cosines
/// ([`Kind::LOSS`], [`crate::loss::family`]); the combined margin and its published
/// special cases also on features and class weights ([`Kind::FEATURES`]); the others
/// have their target and non-target logits in [`family`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `cos(m1·θ + m2) − m3` with `m1`, `m2`, `m3` and a fallback ([`Combined`]).
    Combined,
    /// ArcFace: `cos(θ + m) − 0` with a fallback ([`Combined::arcface`]).
    ArcFace,
    /// CosFace: `cos θ − m` ([`Combined::cosface`]).
    CosFace,
    /// [`family::Head::SphereFace`].
    SphereFace,
    /// [`family::Head::SphereFaceR`].
    SphereFaceR,
    /// [`family::Head::SphereFace2`].
    SphereFace2,
    /// [`family::Head::CurricularFace`].
    CurricularFace,
    /// [`family::Head::AdaFace`].
    AdaFace,
    /// [`family::Head::MagFace`].
    MagFace,
}

impl Kind {
    /// The heads with a loss: every head, on cosines ([`crate::loss::family`]).
    pub const LOSS: [Kind; 9] = [
        Kind::Combined,
        Kind::ArcFace,
        Kind::CosFace,
        Kind::SphereFace,
        Kind::SphereFaceR,
        Kind::SphereFace2,
        Kind::CurricularFace,
        Kind::AdaFace,
        Kind::MagFace,
    ];
    /// The heads the loss oracle also takes on features and class weights
    /// ([`crate::loss::Head`], `x`/`w` lines of `eval`, `vectors --head`).
    pub const FEATURES: [Kind; 3] = [Kind::Combined, Kind::ArcFace, Kind::CosFace];
}

impl Semantics {
    /// The wire name (`analytic`, `straight_through`, `differentiable_acos`): the one
    /// spelling, used by [`crate::names`] and by the loss oracle's messages.
    pub const fn name(self) -> &'static str {
        match self {
            Semantics::Analytic => "analytic",
            Semantics::StraightThrough => "straight_through",
            Semantics::DifferentiableAcos => "differentiable_acos",
        }
    }
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
pub(crate) enum Piece {
    /// `cos(m1θ + m2) − m3`.
    Margin,
    /// `−1 − m3` (the clamp at π).
    Clamped,
    /// `c − m2·sin m2 − m3`.
    Linear,
    /// `c − m3` (the easy margin's other side).
    Plain,
}

/// A cosine given exactly: a rational, or `±√q` for a rational `q ∈ (0, 1)` that is not a
/// rational square (the loss's `c = (W·x)/(‖W‖‖x‖)`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum ExactCos<'a> {
    /// A rational `c ∈ [−1, 1]`.
    Rational(&'a Rational),
    /// `c = +√square` (`positive`) or `−√square`, irrational.
    Surd {
        /// `c²`.
        square: &'a Rational,
        /// The sign of `c`.
        positive: bool,
    },
}

impl ExactCos<'_> {
    /// An enclosure of `c`.
    fn ival(&self, wp: u32) -> Ival {
        match self {
            ExactCos::Rational(c) => Ival::from_rational(c, wp),
            ExactCos::Surd { square, positive } => {
                let r = Ival::from_rational(square, wp).sqrt().expect("c² ≥ 0");
                if *positive { r } else { r.neg() }
            }
        }
    }

    /// `c > 0`.
    fn positive(&self) -> bool {
        match self {
            ExactCos::Rational(c) => **c > 0,
            ExactCos::Surd { positive, .. } => *positive,
        }
    }
}

/// What [`slope_at`] knows of `dt/dc` at an exactly given cosine.
#[derive(Clone, Debug)]
pub(crate) enum SlopeAt {
    /// An exact rational.
    Exact(Rational),
    /// Inside `(−1, 1)` on the margin piece: `m1·sin(m1θ + m2)/sin θ` ([`slope_ival`]).
    Interior,
    /// `±∞` or undefined.
    NonFinite(Slope),
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

/// `m1·θ + m2` for an enclosure `θ` of `acos c`.
fn angle_of(h: &Combined, theta: &Ival, wp: u32) -> Ival {
    theta
        .mul(&Ival::from_rational(&h.m1, wp))
        .add(&Ival::from_rational(&h.m2, wp))
}

/// `m1·acos(c) + m2`, enclosed at `wp` bits.
fn angle(h: &Combined, c: &ExactCos<'_>, wp: u32) -> Option<Ival> {
    let theta = match c {
        ExactCos::Rational(c) => crate::multiangle::acos_ival(c, wp),
        ExactCos::Surd { .. } => c.ival(wp).clamp_unit()?.acos()?,
    };
    Some(angle_of(h, &theta, wp))
}

/// Whether `m1·acos(c) + m2 ≤ π`, decided exactly (Chebyshev branch for `m2 = 0`) or by
/// refinement (never an equality for `m2 ≠ 0`, nor for an irrational `c` off the two
/// thresholds `cos(π/4)`, `cos(π/6)`: module docs).
fn within_pi(h: &Combined, c: &ExactCos<'_>) -> Result<bool, Error> {
    if let Some(m) = h.chebyshev_m() {
        // m·θ ≤ π ⟺ c ≥ cos(π/m) ⟺ branch k = 0 (k counts the thresholds above c).
        let (square, positive) = match c {
            ExactCos::Rational(c) => return Ok(crate::psi::branch_from_cos(m, c)? == 0),
            ExactCos::Surd { square, positive } => (*square, *positive),
        };
        // An irrational cos(π/m) with a rational square: m = 4 (½) or m = 6 (¾).
        if m == 1
            || (positive
                && ((m == 4 && *square == Rational::from((1, 2)))
                    || (m == 6 && *square == Rational::from((3, 4)))))
        {
            return Ok(true);
        }
        return ziv::refine("head_piece", 64, |wp| {
            let t = Ival::pi(wp)
                .div(&Ival::from_integer(&m.into(), wp))
                .expect("m > 0")
                .cos();
            Ok(c.ival(wp).cmp_certain(&t).map(|o| o == Ordering::Greater))
        });
    }
    ziv::refine("head_piece", 64, |wp| {
        let pi = Ival::pi(wp);
        Ok(angle(h, c, wp).and_then(|a| match a.cmp_certain(&pi) {
            Some(Ordering::Less) => Some(true),
            Some(Ordering::Greater) => Some(false),
            _ => None,
        }))
    })
}

/// The piece of `h` that applies at `c`.
pub(crate) fn piece(h: &Combined, c: &ExactCos<'_>) -> Result<Piece, Error> {
    Ok(match h.fallback {
        Fallback::None => Piece::Margin,
        Fallback::Easy if c.positive() => Piece::Margin,
        Fallback::Easy => Piece::Plain,
        Fallback::ClampPi if within_pi(h, c)? => Piece::Margin,
        Fallback::ClampPi => Piece::Clamped,
        Fallback::Linear if within_pi(h, c)? => Piece::Margin,
        Fallback::Linear => Piece::Linear,
    })
}

/// `t(c)` on `piece` exactly, when it is rational: `T_m1(c) − m3` (`m2 = 0`, integer
/// `m1`, rational `c`), `−1 − m3`, `c − m3` (rational `c`); `None` otherwise (then it is
/// irrational: module docs).
pub(crate) fn value_exact(h: &Combined, piece: Piece, c: &ExactCos<'_>) -> Option<Rational> {
    let m3 = &h.m3;
    match (piece, c) {
        (Piece::Margin, ExactCos::Rational(c)) => h
            .chebyshev_m()
            .map(|m| Rational::from(&chebyshev_exact(m, c).0 - m3)),
        (Piece::Clamped, _) => Some(Rational::from(-1 - m3)),
        (Piece::Plain, ExactCos::Rational(c)) => Some(Rational::from(*c - m3)),
        _ => None,
    }
}

/// An enclosure of `t(c)` on `piece`, from enclosures of `c` and `θ = acos c`.
pub(crate) fn value_ival(h: &Combined, piece: Piece, c: &Ival, theta: &Ival, wp: u32) -> Ival {
    let m3 = Ival::from_rational(&h.m3, wp);
    match piece {
        Piece::Margin => angle_of(h, theta, wp).cos().sub(&m3),
        Piece::Clamped => Ival::from_integer(&(-1).into(), wp).sub(&m3),
        Piece::Plain => c.sub(&m3),
        Piece::Linear => {
            let m2 = Ival::from_rational(&h.m2, wp);
            c.sub(&m2.mul(&m2.sin()).add(&m3))
        }
    }
}

/// An enclosure of `d/dc cos(m1θ + m2) = m1·sin(m1θ + m2)/sin θ` inside `(−1, 1)`, from
/// enclosures of `θ` and `sin θ = √(1 − c²)`; `None` while `sin θ` is not yet seen `> 0`.
pub(crate) fn slope_ival(h: &Combined, theta: &Ival, sin_theta: &Ival, wp: u32) -> Option<Ival> {
    angle_of(h, theta, wp)
        .sin()
        .mul(&Ival::from_rational(&h.m1, wp))
        .div(sin_theta)
}

/// The target logit of `h` at `c` as an exact rational when it is one (a polynomial
/// piece `T_{m1}(c) − m3` with `m2 = 0` and an integer `m1`, the plain cosine of the easy
/// margin, the clamp's `−1 − m3`); `None` when it is not (an angular margin `m2`). The
/// same pieces [`target_logit`] encloses.
pub fn target_logit_exact(h: &Combined, c: &Rational) -> Result<Option<Rational>, Error> {
    h.validate()?;
    check_cos(c)?;
    let at = ExactCos::Rational(c);
    Ok(value_exact(h, piece(h, &at)?, &at))
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
    let at = ExactCos::Rational(c);
    let piece = piece(h, &at)?;
    if let Some(t) = value_exact(h, piece, &at) {
        return ziv::approx_rational("head", &t, prec);
    }
    ziv::ziv("head", prec, |wp| {
        let theta = crate::multiangle::acos_ival(c, wp);
        Ok(Some(value_ival(
            h,
            piece,
            &Ival::from_rational(c, wp),
            &theta,
            wp,
        )))
    })
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
    match slope_at(h, &ExactCos::Rational(c), semantics)? {
        SlopeAt::Exact(r) => ziv::approx_rational("head_slope", &r, prec).map(Slope::Finite),
        SlopeAt::NonFinite(s) => Ok(s),
        SlopeAt::Interior => ziv::ziv("head_slope", prec, |wp| {
            let one = Ival::from_integer(&1.into(), wp);
            // √(1 − c²) > 0 for |c| < 1; a low precision may not show it yet.
            let sin_theta = one.sub(&Ival::from_rational(c, wp).square()).sqrt();
            let theta = crate::multiangle::acos_ival(c, wp);
            Ok(sin_theta.and_then(|st| slope_ival(h, &theta, &st, wp)))
        })
        .map(Slope::Finite),
    }
}

/// `dt/dc` of `h` at an exactly given `c` under `semantics`, as far as it is known
/// without an enclosure: exact, `±∞`/undefined, or an interior value of the margin piece.
pub(crate) fn slope_at(
    h: &Combined,
    c: &ExactCos<'_>,
    semantics: Semantics,
) -> Result<SlopeAt, Error> {
    let exact = |v: i32| Ok(SlopeAt::Exact(Rational::from(v)));
    if semantics == Semantics::StraightThrough {
        return exact(1);
    }
    let piece = piece(h, c)?;
    let zero = matches!(c, ExactCos::Rational(c) if **c == 0);
    if h.fallback == Fallback::Easy && zero && !(h.m1 == 1 && h.m2 == 0) {
        // t jumps at c = 0 (from c − m3 to cos(m1π/2 + m2) − m3).
        return if semantics == Semantics::Analytic {
            Ok(SlopeAt::NonFinite(Slope::Undefined))
        } else {
            exact(1)
        };
    }
    match piece {
        Piece::Clamped => exact(0),
        Piece::Linear | Piece::Plain => exact(1),
        Piece::Margin => margin_slope(h, c, semantics),
    }
}

/// `d/dc cos(m1θ + m2) = m1·sin(m1θ + m2)/sin θ` where it is exact or not finite: its
/// values at `c = ±1`, and `m1·U_{m1−1}(c)` for `m2 = 0` at a rational `c`.
fn margin_slope(h: &Combined, c: &ExactCos<'_>, semantics: Semantics) -> Result<SlopeAt, Error> {
    let ExactCos::Rational(c) = *c else {
        return Ok(SlopeAt::Interior);
    };
    let endpoint = *c == 1 || *c == -1;
    if let Some(m) = h.chebyshev_m() {
        // sin(m1θ) = 0 at θ = 0, π: analytic m·U_{m−1}(c); autograd 0·∞ there.
        if endpoint && semantics == Semantics::DifferentiableAcos {
            return Ok(SlopeAt::NonFinite(Slope::Undefined));
        }
        return Ok(SlopeAt::Exact(chebyshev_exact(m, c).1 * Rational::from(m)));
    }
    if !endpoint {
        return Ok(SlopeAt::Interior);
    }
    // sin(m1θ + m2) ≠ 0 at θ = 0, π (m2 ≠ 0: module docs) and sin θ → 0⁺.
    let at = ExactCos::Rational(c);
    let positive = ziv::refine("head_slope", 64, |wp| {
        Ok(angle(h, &at, wp)
            .and_then(|a| a.sin().sign_certain())
            .and_then(|o| match o {
                Ordering::Greater => Some(true),
                Ordering::Less => Some(false),
                Ordering::Equal => None,
            }))
    })?;
    Ok(SlopeAt::NonFinite(if positive {
        Slope::PosInf
    } else {
        Slope::NegInf
    }))
}
