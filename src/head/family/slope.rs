//! The slopes `dt/dc` and `dn/dc` of the family's logits under each gradient semantics
//! ([`Semantics`]): a correctly rounded number, `±∞`, or undefined where there is none.

use super::{Head, MagFace, RVersion, niven_turns, shifted_piece, within_first_branch};
use crate::arith::{Ival, ziv};
use crate::head::Fallback;
use crate::head::sphereface2::Margin as S2Margin;
use crate::head::{Semantics, Slope};
use crate::multiangle::{acos_ival, check_cos};
use crate::{Angle, Error};
use rug::Rational;
use std::cmp::Ordering;

/// An exact slope.
fn exact(r: &Rational, prec: u32) -> Result<Slope, Error> {
    ziv::approx_rational("head_slope", r, prec).map(Slope::Finite)
}

/// `(−1)^k·m·sin(mθ)/sin θ` by the Ziv loop (`|c| < 1`, value known to be nonzero).
fn sphere_ziv(m: &Rational, c: &Rational, prec: u32) -> Result<Slope, Error> {
    ziv::ziv("head_slope", prec, |wp| {
        let theta = acos_ival(c, wp);
        let mi = Ival::from_rational(m, wp);
        let mt = theta.mul(&mi);
        // k = ⌊mθ/π⌋, decided once mθ/π is inside one unit interval.
        let Some(q) = mt.div(&Ival::pi(wp)) else {
            return Ok(None);
        };
        let (lo, hi) = (q.lo().clone().floor(), q.hi().clone().floor());
        if lo != hi {
            return Ok(None);
        }
        let odd = lo.to_integer().is_some_and(|k| k.is_odd());
        let s = mi.mul(&mt.sin());
        let s = if odd { s.neg() } else { s };
        Ok(s.div(&theta.sin()))
    })
    .map(Slope::Finite)
}

/// dψ/dc of SphereFace's ψ with a real `m` (module docs of [`crate::head::family`]).
fn sphere_slope(m: &Rational, c: &Rational, sem: Semantics, prec: u32) -> Result<Slope, Error> {
    let autograd = sem == Semantics::DifferentiableAcos;
    if let (1, Some(mi)) = (m.denom().to_u32().unwrap_or(0), m.numer().to_u32()) {
        if autograd && (*c == 1 || *c == -1) {
            return Ok(Slope::Undefined); // sin(mθ) = 0 times acos′ = ∞
        }
        let d = crate::psi::dpsi_dcos(mi, &Angle::Cos(c.clone()), prec)?;
        return Ok(Slope::Finite(d));
    }
    if *c == 1 {
        // m·sin(mθ)/sin θ → m² as θ → 0.
        return if autograd {
            Ok(Slope::Undefined)
        } else {
            exact(&Rational::from(m.square_ref()), prec)
        };
    }
    if *c == -1 {
        // (−1)^⌊m⌋ sin(mπ) > 0 for a non-integer m, over sin θ → 0⁺.
        return Ok(Slope::PosInf);
    }
    if niven_turns(c).is_some_and(|t| *Rational::from(m * &t).denom() == 1) {
        return exact(&Rational::new(), prec); // sin(mθ) = 0 at a branch point
    }
    sphere_ziv(m, c, prec)
}

/// The slope `dt/dc` of `head`'s target logit at `c` under `semantics`.
///
/// ```
/// use asoftmax_spec::head::family::{Head, target_slope};
/// use asoftmax_spec::head::{Semantics, Slope};
/// use rug::Rational;
/// // SphereFace2, t = 3: g′(c) = 3((c + 1)/2)², 3/4 at c = 0.
/// use asoftmax_spec::head::sphereface2::Margin;
/// let h = Head::SphereFace2 { t: 3, m: Rational::from((2, 5)), margin: Margin::C };
/// let Slope::Finite(d) = target_slope(&h, &Rational::new(), Semantics::Analytic, 64).unwrap()
/// else { panic!() };
/// assert_eq!(d.f64(), 0.75);
/// ```
pub fn target_slope(head: &Head, c: &Rational, sem: Semantics, prec: u32) -> Result<Slope, Error> {
    super::validate(head)?;
    check_cos(c)?;
    if let Some(h) = head.as_combined()? {
        return crate::head::target_slope(&h, c, sem, prec);
    }
    if sem == Semantics::StraightThrough {
        return exact(&Rational::from(1), prec);
    }
    match head {
        Head::SphereFace { m } => sphere_slope(m, c, sem, prec),
        Head::SphereFaceR { m, version } => match version {
            RVersion::V2 => exact(&Rational::from(1), prec),
            RVersion::V1 if within_first_branch(m, c)? => sphere_slope(m, c, sem, prec),
            RVersion::V1 => exact(&Rational::new(), prec),
        },
        Head::SphereFace2 { t, m, margin } => match margin {
            S2Margin::C => exact(&crate::head::sphereface2::slope(*t, c)?, prec),
            _ => s2_angular_slope(*t, &super::s2_inner(m, *margin), c, sem, prec),
        },
        Head::AdaFace(ada) => {
            let (a, _) = ada.shifts()?;
            shifted_slope(&a, c, sem, prec)
        }
        Head::Combined(_) | Head::CurricularFace { .. } | Head::MagFace(_) => {
            unreachable!("handled as a combined margin")
        }
    }
}

/// `d/dc g(T(c)) = g′(T)·T′(c)` for SphereFace2's `A`/`M` margins (`g′(T) > 0` unless
/// `T = −1`, where `T′ = 0`): infinities and undefined slopes of `T` carry over.
fn s2_angular_slope(
    t: u32,
    inner: &Head,
    c: &Rational,
    sem: Semantics,
    prec: u32,
) -> Result<Slope, Error> {
    let d = match target_slope(inner, c, sem, prec)? {
        Slope::Finite(d) => d,
        other => return Ok(other),
    };
    let x = super::target_logit(inner, c, prec)?;
    if d.is_exact() && x.is_exact() {
        let (dr, xr) = (d.mid().to_rational(), x.mid().to_rational());
        let g1 = crate::head::sphereface2::slope(t, &xr.expect("finite"))?;
        return exact(&(g1 * dr.expect("finite")), prec);
    }
    ziv::ziv("head_slope", prec, |wp| {
        let wp = wp.min(ziv::MAX_PREC);
        let Slope::Finite(d) = target_slope(inner, c, sem, wp)? else {
            return Ok(None);
        };
        let x = super::target_logit(inner, c, wp)?;
        // An exact T is a point at the few bits it needs: g′ is evaluated at wp bits.
        let x = Ival::from_integer(&0.into(), wp).add(x.enclosure());
        let g1 = crate::head::sphereface2::slope_ival(t, &x);
        Ok(Some(g1.mul(d.enclosure())))
    })
    .map(Slope::Finite)
}

/// `d/dc cos(clamp(θ + a, 0, π)) = sin(θ + a)/sin θ` inside, 0 on the clamped pieces.
fn shifted_slope(a: &Rational, c: &Rational, sem: Semantics, prec: u32) -> Result<Slope, Error> {
    let end = *c == 1 || *c == -1;
    match shifted_piece(a, c)? {
        Ordering::Less | Ordering::Greater => exact(&Rational::new(), prec),
        Ordering::Equal if *a == 0 => match (end, sem) {
            (true, Semantics::DifferentiableAcos) => Ok(Slope::Undefined),
            _ => exact(&Rational::from(1), prec),
        },
        // At an end inside the piece, θ + a ∈ (0, π): sin > 0 over sin θ → 0⁺.
        Ordering::Equal if end => Ok(Slope::PosInf),
        Ordering::Equal => ziv::ziv("head_slope", prec, |wp| {
            let theta = acos_ival(c, wp);
            let s = theta.add(&Ival::from_rational(a, wp)).sin();
            Ok(s.div(&theta.sin()))
        })
        .map(Slope::Finite),
    }
}

/// `d/dc cos(θ/m) = sin(θ/m)/(m·sin θ)`: `1/m²` at `c = 1`, `+∞` at `c = −1` (`m > 1`).
fn cos_over_m_slope(m: &Rational, c: &Rational, sem: Semantics, prec: u32) -> Result<Slope, Error> {
    let end = *c == 1 || *c == -1;
    if end && sem == Semantics::DifferentiableAcos {
        return Ok(if *c == -1 && *m > 1 {
            Slope::PosInf
        } else {
            Slope::Undefined
        });
    }
    if *m == 1 {
        return exact(&Rational::from(1), prec);
    }
    if *c == 1 {
        return exact(&Rational::from(m.square_ref()).recip(), prec);
    }
    if *c == -1 {
        return Ok(Slope::PosInf);
    }
    ziv::ziv("head_slope", prec, |wp| {
        let theta = acos_ival(c, wp);
        let mi = Ival::from_rational(m, wp);
        let s = theta.div(&mi).map(|x| x.sin());
        Ok(s.and_then(|s| s.div(&mi.mul(&theta.sin()))))
    })
    .map(Slope::Finite)
}

/// The slope `dn/dc` of `head`'s non-target logit at `c` (target cosine `c_y`) under
/// `semantics`: 1 for the heads that leave it `c`.
pub fn nontarget_slope(
    head: &Head,
    c: &Rational,
    c_y: &Rational,
    sem: Semantics,
    prec: u32,
) -> Result<Slope, Error> {
    super::validate(head)?;
    check_cos(c)?;
    check_cos(c_y)?;
    let one = Rational::from(1);
    if sem == Semantics::StraightThrough {
        return exact(&one, prec);
    }
    match head {
        Head::SphereFaceR {
            m,
            version: RVersion::V2,
        } => cos_over_m_slope(m, c, sem, prec),
        Head::SphereFace2 { t, .. } => exact(&crate::head::sphereface2::slope(*t, c)?, prec),
        Head::CurricularFace { m, t } => {
            let modulated = c * Rational::from(t + c);
            if *m == 0 && c == c_y && modulated != *c {
                return Ok(Slope::Undefined); // the modulation switches on at c = c_y
            }
            if super::is_hard(m, c, c_y)? {
                exact(&(Rational::from(t + c) + c), prec)
            } else {
                exact(&one, prec)
            }
        }
        _ => exact(&one, prec),
    }
}

/// `m′(a)` of MagFace's margin: `(u_m − l_m)/(u_a − l_a)` inside `(l_a, u_a)`, 0 outside,
/// `None` at a kink `a ∈ {l_a, u_a}` where the one-sided slopes differ.
fn magface_dm_da(mf: &MagFace) -> Result<Option<Rational>, Error> {
    mf.margin()?;
    let slope = Rational::from(&mf.u_m - &mf.l_m) / Rational::from(&mf.u_a - &mf.l_a);
    Ok(if mf.a > mf.l_a && mf.a < mf.u_a {
        Some(slope)
    } else if (mf.a == mf.l_a || mf.a == mf.u_a) && slope != 0 {
        None
    } else {
        Some(Rational::new())
    })
}

/// `∂t/∂a` of MagFace's target logit at `c`: the gradient the magnitude receives through
/// the margin, `−sin(θ + m)·m′(a)` on the margin piece, `−(sin m + m cos m)·m′(a)` on the
/// linear one, 0 on the easy margin's plain piece; undefined at the kinks of the clamp
/// of `a` (AdaFace and CurricularFace detach their state: no such gradient).
///
/// ```
/// use asoftmax_spec::head::family::{MagFace, magface_slope_a};
/// use asoftmax_spec::head::{Fallback, Slope};
/// use rug::Rational;
/// let q = |n: i64, d: i64| Rational::from((n, d));
/// let mf = MagFace { l_a: q(10, 1), u_a: q(110, 1), l_m: q(45, 100), u_m: q(8, 10),
///                    a: q(200, 1), fallback: Fallback::Linear };
/// // Above u_a the margin is held at u_m: no gradient.
/// let Slope::Finite(d) = magface_slope_a(&mf, &q(1, 2), 64).unwrap() else { panic!() };
/// assert_eq!(d.f64(), 0.0);
/// ```
pub fn magface_slope_a(mf: &MagFace, c: &Rational, prec: u32) -> Result<Slope, Error> {
    check_cos(c)?;
    let m = mf.margin()?;
    let Some(dm) = magface_dm_da(mf)? else {
        return Ok(Slope::Undefined);
    };
    let plain = mf.fallback == Fallback::Easy && *c <= 0;
    if dm == 0 || plain {
        return exact(&Rational::new(), prec);
    }
    if m == 0 {
        // −sin θ·m′(a) = −√(1 − c²)·m′(a): exact when 1 − c² is a rational square.
        let s2 = Rational::from(1) - Rational::from(c.square_ref());
        if s2.numer().is_perfect_square() && s2.denom().is_perfect_square() {
            let root = Rational::from((s2.numer().clone().sqrt(), s2.denom().clone().sqrt()));
            return exact(&-(root * &dm), prec);
        }
    }
    // The easy fallback has no π test: cos(θ + m) for every c > 0.
    let margin_piece = mf.fallback == Fallback::Easy || is_margin_piece(&m, c)?;
    ziv::ziv("head_slope", prec, |wp| {
        let mi = Ival::from_rational(&m, wp);
        let d = if margin_piece {
            acos_ival(c, wp).add(&mi).sin()
        } else {
            mi.sin().add(&mi.mul(&mi.cos()))
        };
        Ok(Some(d.mul(&Ival::from_rational(&dm, wp)).neg()))
    })
    .map(Slope::Finite)
}

/// `θ + m ≤ π` for MagFace's linear fallback (`c ≥ −cos m`, never equal for `m ≠ 0`).
fn is_margin_piece(m: &Rational, c: &Rational) -> Result<bool, Error> {
    if *m == 0 {
        return Ok(true);
    }
    ziv::refine("head_piece", 64, |wp| {
        let x = acos_ival(c, wp).add(&Ival::from_rational(m, wp));
        Ok(x.cmp_certain(&Ival::pi(wp)).map(|o| o == Ordering::Less))
    })
}
