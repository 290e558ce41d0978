//! Every head of the margin family as one value, [`Head`], with its target logit, its
//! non-target logit and their slopes, correctly rounded: the combined margin
//! ([`Combined`]), opensphere's SphereFace (ψ with a real `m`), SphereFace-R `v1`/`v2`,
//! SphereFace2's similarity (type `C`), and the heads with running state —
//! CurricularFace, AdaFace, MagFace — as pure functions of that state.
//!
//! | head | target logit `t(c)` | non-target logit `n(c)` |
//! | --- | --- | --- |
//! | [`Head::Combined`] | `cos(m1θ + m2) − m3` with its fallback | `c` |
//! | [`Head::SphereFace`] | `ψ(θ) = (−1)^k cos(mθ) − 2k`, `k = ⌊mθ/π⌋`, real `m ≥ 1` | `c` |
//! | [`Head::SphereFaceR`] `v1` | `cos(min(mθ, π))` | `c` |
//! | [`Head::SphereFaceR`] `v2` | `c` | `cos(θ/m)` |
//! | [`Head::SphereFace2`] | `C`: `g(c) − m`, `g(c) = 2((c + 1)/2)^t − 1`; `A`: `g(cos(min(θ + m, π)))`; `M`: `g(cos(min(mθ, π)))` | `C`: `g(c) + m`; `A`, `M`: `g(c)` |
//! | [`Head::CurricularFace`] | ArcFace with the linear fallback | `c`, or `c(t + c)` when `c > cos(θ_y + m)` |
//! | [`Head::AdaFace`] | `cos(clamp(θ − m·ŝ, 0, π)) − m(1 + ŝ)` | `c` |
//! | [`Head::MagFace`] | ArcFace with margin `m(a)`, linear or easy fallback | `c` |
//!
//! Where a value can be rational at a rational `c` it is computed exactly or proven
//! (module [`crate::head`] and the book's chapter on the family); the few algebraic
//! values this cannot prove (a real `m` whose `cos(θ/m)` or slope happens to be a
//! rational rounding midpoint) end in [`Error::PrecisionCap`], never in a guess.

use super::sphereface2::Margin as S2Margin;
use super::{Combined, Fallback, Kind};
use crate::arith::{Approx, Ival, ziv};
use crate::multiangle::{acos_ival, chebyshev_t_exact, check_cos};
use crate::{Angle, Error, describe_rational};
use rug::Rational;
use std::cmp::Ordering;

/// SphereFace-R's two forms (opensphere `spherefacer.py`, `magn_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RVersion {
    /// `v1`: the target logit `cos(min(mθ, π))`.
    V1,
    /// `v2`: the margin moves to the non-target logits, `cos(θ/m)`.
    V2,
}

/// AdaFace's parameters and state (mk-minchul/AdaFace `head.py`): margin `m`
/// (default 0.4), concentration `h` (0.333), `eps` (1e−3), the sample's feature norm
/// and the running batch statistics `mean`, `std` (after this batch's update).
#[derive(Clone, Debug, PartialEq)]
pub struct AdaFace {
    /// The margin `m`, `0 ≤ m < π`.
    pub m: Rational,
    /// `h ≥ 0`.
    pub h: Rational,
    /// The `eps` added to `std`.
    pub eps: Rational,
    /// The sample's feature norm `‖x‖ ≥ 0`.
    pub norm: Rational,
    /// The running mean of the norms.
    pub mean: Rational,
    /// The running standard deviation of the norms (`std + eps > 0`).
    pub std: Rational,
}

/// MagFace's parameters and state (IrvingMeng/MagFace `MagLinear`): the magnitude
/// bounds `l_a = 10`, `u_a = 110`, the margin bounds `l_m = 0.45`, `u_m = 0.8`, the
/// feature magnitude `a` and the fallback (`linear`, or `easy` with `easy_margin`).
#[derive(Clone, Debug, PartialEq)]
pub struct MagFace {
    /// Lower magnitude bound `l_a > 0`.
    pub l_a: Rational,
    /// Upper magnitude bound `u_a > l_a`.
    pub u_a: Rational,
    /// Margin at `l_a`, `0 ≤ l_m`.
    pub l_m: Rational,
    /// Margin at `u_a`, `l_m ≤ u_m < π`.
    pub u_m: Rational,
    /// The feature magnitude `a = ‖x‖ > 0`.
    pub a: Rational,
    /// [`Fallback::Easy`] (the default of MagFace's `MagLinear`, `easy_margin=True`) or
    /// [`Fallback::Linear`].
    pub fallback: Fallback,
}

/// One head of the margin family with its parameters (and state, for the stateful ones).
#[derive(Clone, Debug, PartialEq)]
pub enum Head {
    /// insightface's combined margin (ArcFace, CosFace, …).
    Combined(Combined),
    /// opensphere's SphereFace: ψ with a real `m ≥ 1` (opensphere default 1.5).
    SphereFace {
        /// The margin `m`.
        m: Rational,
    },
    /// SphereFace-R (opensphere `SphereFaceR_H`, default `m` = 1.5).
    SphereFaceR {
        /// The margin `m ≥ 1`.
        m: Rational,
        /// `v1` or `v2`.
        version: RVersion,
    },
    /// SphereFace2's similarity (opensphere defaults `t` = 3, `m` = 0.4, margin `C`).
    SphereFace2 {
        /// The exponent `t ≥ 1` of `g`.
        t: u32,
        /// The margin `m`.
        m: Rational,
        /// Where the margin goes: `C`, `A` or `M`.
        margin: S2Margin,
    },
    /// CurricularFace (default `m` = 0.5) with its running `t` (initially 0).
    CurricularFace {
        /// The angular margin `m`, `0 ≤ m < π`.
        m: Rational,
        /// The running state `t`.
        t: Rational,
    },
    /// AdaFace with its norm statistics.
    AdaFace(AdaFace),
    /// MagFace at a magnitude.
    MagFace(MagFace),
}

/// A domain error on parameter `arg`.
fn bad(arg: &'static str, value: &Rational, expected: &'static str) -> Error {
    Error::Domain {
        arg,
        value: describe_rational(value),
        expected,
    }
}

/// `θ/π` when `c = cos θ` is one of Niven's rational cosines `1, ½, 0, −½, −1`.
fn niven_turns(c: &Rational) -> Option<Rational> {
    let half = Rational::from((1, 2));
    let t = |n, d| Some(Rational::from((n, d)));
    match c {
        c if *c == 1 => t(0, 1),
        c if *c == half => t(1, 3),
        c if *c == 0 => t(1, 2),
        c if *c == -half.clone() => t(2, 3),
        c if *c == -1 => t(1, 1),
        _ => None,
    }
}

impl AdaFace {
    /// The margin scaler `ŝ = clip(h·(‖x‖ − mean)/(std + eps), −1, 1)`.
    pub fn scaler(&self) -> Result<Rational, Error> {
        let den = Rational::from(&self.std + &self.eps);
        if den <= 0 {
            return Err(bad("std", &self.std, "std + eps > 0"));
        }
        let s = Rational::from(&self.norm - &self.mean) * &self.h / den;
        Ok(s.clamp(&Rational::from(-1), &Rational::from(1)))
    }

    /// `(a, b)`: the angle shift `a = −m·ŝ` and the cosine shift `b = m·(1 + ŝ)`.
    pub fn shifts(&self) -> Result<(Rational, Rational), Error> {
        if self.m < 0 || self.m >= 3 {
            return Err(bad("m", &self.m, "an AdaFace margin 0 <= m < 3"));
        }
        if self.h < 0 {
            return Err(bad("h", &self.h, "h >= 0"));
        }
        if self.norm < 0 {
            return Err(bad("norm", &self.norm, "a feature norm >= 0"));
        }
        let s = self.scaler()?;
        let a = -Rational::from(&self.m * &s);
        let b = &self.m * (s + 1u32);
        Ok((a, b))
    }
}

impl MagFace {
    /// The margin `m(a) = (u_m − l_m)/(u_a − l_a)·(clamp(a, l_a, u_a) − l_a) + l_m`.
    pub fn margin(&self) -> Result<Rational, Error> {
        if self.l_a <= 0 || self.u_a <= self.l_a {
            return Err(bad("u_a", &self.u_a, "0 < l_a < u_a"));
        }
        if self.l_m < 0 || self.u_m < self.l_m {
            return Err(bad("u_m", &self.u_m, "0 <= l_m <= u_m"));
        }
        if !matches!(self.fallback, Fallback::Linear | Fallback::Easy) {
            return Err(bad(
                "fallback",
                &Rational::new(),
                "MagFace's linear or easy fallback",
            ));
        }
        let a = self.a.clone().clamp(&self.l_a, &self.u_a);
        let slope = Rational::from(&self.u_m - &self.l_m) / Rational::from(&self.u_a - &self.l_a);
        Ok(slope * (a - &self.l_a) + &self.l_m)
    }

    /// The ArcFace head at this magnitude.
    pub fn combined(&self) -> Result<Combined, Error> {
        Ok(Combined::arcface(self.margin()?, self.fallback))
    }

    /// MagFace's regularizer `g(a) = a/u_a² + 1/a` at `a` clamped to `[l_a, u_a]`, and its
    /// derivative `1/u_a² − 1/a²` (0 where the clamp holds `a`): exact rationals.
    pub fn regularizer(&self) -> Result<(Rational, Rational), Error> {
        self.margin()?;
        if self.a <= 0 {
            return Err(bad("a", &self.a, "a magnitude a > 0"));
        }
        let a = self.a.clone().clamp(&self.l_a, &self.u_a);
        let inv_u2 = Rational::from(self.u_a.square_ref()).recip();
        let g = Rational::from(&a * &inv_u2) + Rational::from(a.recip_ref());
        let inside = self.a > self.l_a && self.a < self.u_a;
        let dg = if inside {
            inv_u2 - Rational::from(a.square_ref()).recip()
        } else {
            Rational::new()
        };
        Ok((g, dg))
    }
}

impl Head {
    /// The kind of the head.
    pub fn kind(&self) -> Kind {
        match self {
            Head::Combined(_) => Kind::Combined,
            Head::SphereFace { .. } => Kind::SphereFace,
            Head::SphereFaceR { .. } => Kind::SphereFaceR,
            Head::SphereFace2 { .. } => Kind::SphereFace2,
            Head::CurricularFace { .. } => Kind::CurricularFace,
            Head::AdaFace(_) => Kind::AdaFace,
            Head::MagFace(_) => Kind::MagFace,
        }
    }

    /// The head as a [`Combined`] margin where its target logit is one (CurricularFace:
    /// ArcFace with the linear fallback; MagFace at its margin; SphereFace-R `v1` with an
    /// integer `m`: `cos(mθ)` clamped at π).
    fn as_combined(&self) -> Result<Option<Combined>, Error> {
        Ok(match self {
            Head::Combined(h) => Some(h.clone()),
            Head::CurricularFace { m, .. } => Some(Combined::arcface(m.clone(), Fallback::Linear)),
            Head::MagFace(mf) => Some(mf.combined()?),
            Head::SphereFaceR {
                m,
                version: RVersion::V1,
            } if *m.denom() == 1 => Some(Combined {
                m1: m.clone(),
                m2: Rational::new(),
                m3: Rational::new(),
                fallback: Fallback::ClampPi,
            }),
            _ => None,
        })
    }
}

/// Validates a real margin `1 ≤ m ≤ 65536` (ψ's range).
fn check_real_m(m: &Rational) -> Result<(), Error> {
    crate::psi::check_margin(m)
}

/// Whether `m·acos(c) ≤ π`, decided exactly at Niven's cosines and by refinement
/// elsewhere (there `θ/π` is irrational, so `mθ ≠ π`).
fn within_first_branch(m: &Rational, c: &Rational) -> Result<bool, Error> {
    if let Some(turns) = niven_turns(c) {
        return Ok(Rational::from(m * &turns) <= 1);
    }
    ziv::refine("head_branch", 64, |wp| {
        let mt = acos_ival(c, wp).mul(&Ival::from_rational(m, wp));
        Ok(mt
            .cmp_certain(&Ival::pi(wp))
            .map(|o| o != Ordering::Greater))
    })
}

/// The target logit `t(c)` of `head` at `c ∈ [−1, 1]`, correctly rounded (module docs).
///
/// ```
/// use asoftmax_spec::head::family::{Head, RVersion, target_logit};
/// use rug::Rational;
/// // SphereFace-R v1, m = 3/2, at c = −1/2: θ = 2π/3, mθ = π, cos π = −1.
/// let h = Head::SphereFaceR { m: Rational::from((3, 2)), version: RVersion::V1 };
/// let v = target_logit(&h, &Rational::from((-1, 2)), 64).unwrap();
/// assert_eq!(v.f64(), -1.0);
/// ```
pub fn target_logit(head: &Head, c: &Rational, prec: u32) -> Result<Approx, Error> {
    check_cos(c)?;
    if let Some(h) = head.as_combined()? {
        return super::target_logit(&h, c, prec);
    }
    match head {
        Head::SphereFace { m } => crate::psi::psi(m, &Angle::Cos(c.clone()), prec),
        Head::SphereFace2 { t, m, margin } if *margin != S2Margin::C => {
            s2_angular(*t, &s2_inner(m, *margin), c, prec)
        }
        Head::AdaFace(ada) => {
            let (a, b) = ada.shifts()?;
            shifted(&a, &b, c, prec)
        }
        _ => match (target_logit_exact(head, c)?, head) {
            (Some(r), _) => ziv::approx_rational("head", &r, prec),
            // SphereFace-R v1 on its first branch with a real m: ψ.
            (None, Head::SphereFaceR { m, .. }) => crate::psi::psi(m, &Angle::Cos(c.clone()), prec),
            (None, _) => unreachable!("the other heads' target logits are rational"),
        },
    }
}

/// The target logit of `head` at `c` as an exact rational when it is one by its formula:
/// the combined margin's polynomial pieces ([`super::target_logit_exact`]), SphereFace's
/// ψ with an integer `m` (exact `T_m(c)` within the exact-route budget), SphereFace-R's
/// `c` (`v2`) and `−1` past the first branch (`v1`), SphereFace2's `g(c) − m` (`C`);
/// `None` for the others (an angle, or an irrational shift, enters the value).
/// [`target_logit`] rounds these same rationals; the loss oracle compares them exactly
/// (equal logits, `p = 1/C`).
pub fn target_logit_exact(head: &Head, c: &Rational) -> Result<Option<Rational>, Error> {
    check_cos(c)?;
    if let Some(h) = head.as_combined()? {
        return super::target_logit_exact(&h, c);
    }
    let sphere = |m: &Rational| -> Result<Option<Rational>, Error> {
        crate::psi::check_margin(m)?;
        match crate::arith::exact::integer_u32(m) {
            Some(mi) if crate::multiangle::exact_route_is_cheap(mi, c) => {
                crate::psi::psi_cos_exact(mi, c).map(Some)
            }
            _ => Ok(None),
        }
    };
    Ok(match head {
        Head::SphereFace { m } => sphere(m)?,
        Head::SphereFaceR { m, version } => {
            check_real_m(m)?;
            match version {
                RVersion::V2 => Some(c.clone()),
                RVersion::V1 if within_first_branch(m, c)? => sphere(m)?,
                RVersion::V1 => Some(Rational::from(-1)),
            }
        }
        Head::SphereFace2 { t, m, margin } => match margin {
            S2Margin::C => Some(super::sphereface2::similarity(*t, c)? - m),
            _ => None,
        },
        Head::AdaFace(_) => None,
        Head::Combined(_) | Head::CurricularFace { .. } | Head::MagFace(_) => {
            unreachable!("handled as a combined margin")
        }
    })
}

/// SphereFace2's angular margin as a head of its own: `A` is ArcFace clamped at π, `M`
/// SphereFace-R `v1`.
pub(crate) fn s2_inner(m: &Rational, margin: S2Margin) -> Head {
    match margin {
        S2Margin::A => Head::Combined(Combined::arcface(m.clone(), Fallback::ClampPi)),
        _ => Head::SphereFaceR {
            m: m.clone(),
            version: RVersion::V1,
        },
    }
}

/// `g(T(c))` for SphereFace2's `A`/`M` margins, `T` the inner head's target logit: exact
/// when `T` is; otherwise over `T`'s enclosures (irrational for `A`, algebraic for `M`).
fn s2_angular(t: u32, inner: &Head, c: &Rational, prec: u32) -> Result<Approx, Error> {
    super::sphereface2::similarity(t, c)?; // checks t
    let first = target_logit(inner, c, prec)?;
    if first.is_exact() {
        let x = first.mid().to_rational().expect("finite");
        let g = super::sphereface2::similarity(t, &x)?;
        return ziv::approx_rational("head", &g, prec);
    }
    ziv::ziv("head", prec, |wp| {
        let x = target_logit(inner, c, wp.min(ziv::MAX_PREC))?;
        Ok(Some(super::sphereface2::similarity_ival(t, x.enclosure())))
    })
}

/// The non-target logit `n(c)` of `head` at `c`; `c_y` is the sample's target cosine
/// (CurricularFace's hard-example test compares `c` with `cos(θ_y + m)`).
///
/// ```
/// use asoftmax_spec::head::family::{Head, RVersion, nontarget_logit};
/// use rug::Rational;
/// // SphereFace-R v2, m = 2, at c = −1: cos(π/2) = 0, proven.
/// let h = Head::SphereFaceR { m: 2.into(), version: RVersion::V2 };
/// let v = nontarget_logit(&h, &Rational::from(-1), &Rational::from(1), 64).unwrap();
/// assert_eq!(v.f64(), 0.0);
/// ```
pub fn nontarget_logit(
    head: &Head,
    c: &Rational,
    c_y: &Rational,
    prec: u32,
) -> Result<Approx, Error> {
    match nontarget_logit_exact(head, c, c_y)? {
        Some(r) => ziv::approx_rational("head", &r, prec),
        // SphereFace-R v2: cos(θ/m), the only non-target logit that is not rational.
        None => match head {
            Head::SphereFaceR { m, .. } => cos_over_m(m, c, prec),
            _ => unreachable!("the other heads' non-target logits are rational"),
        },
    }
}

/// The non-target logit of `head` at `c` (target cosine `c_y`) as an exact rational:
/// SphereFace2's `g(c)` (`+ m` with margin `C`), CurricularFace's `c·(t + c)` on a hard
/// example and `c` otherwise, `c` for the heads that leave it alone; `None` for
/// SphereFace-R `v2`'s `cos(θ/m)`. [`nontarget_logit`] rounds these same rationals.
pub fn nontarget_logit_exact(
    head: &Head,
    c: &Rational,
    c_y: &Rational,
) -> Result<Option<Rational>, Error> {
    check_cos(c)?;
    check_cos(c_y)?;
    Ok(match head {
        Head::SphereFaceR {
            m,
            version: RVersion::V2,
        } => {
            check_real_m(m)?;
            None
        }
        Head::SphereFace2 { t, m, margin } => {
            let g = super::sphereface2::similarity(*t, c)?;
            Some(if *margin == S2Margin::C { g + m } else { g })
        }
        Head::CurricularFace { m, t } => Some(if is_hard(m, c, c_y)? {
            c * Rational::from(t + c)
        } else {
            c.clone()
        }),
        _ => {
            validate(head)?;
            Some(c.clone())
        }
    })
}

/// Checks a head's parameters (the target-logit oracle checks them on every call).
pub fn validate(head: &Head) -> Result<(), Error> {
    match head.as_combined()? {
        Some(h) => h.validate(),
        None => match head {
            Head::SphereFace { m } | Head::SphereFaceR { m, .. } => check_real_m(m),
            Head::SphereFace2 { t, .. } if *t == 0 => {
                Err(bad("t", &Rational::new(), "an exponent t >= 1"))
            }
            Head::SphereFace2 { m, margin, .. } if *margin != S2Margin::C => {
                validate(&s2_inner(m, *margin))
            }
            Head::AdaFace(a) => a.shifts().map(|_| ()),
            _ => Ok(()),
        },
    }
}

/// CurricularFace's hard-example test `c > cos(θ_y + m)` (decided exactly for `m = 0`;
/// for a rational `m ≠ 0`, `cos(θ_y + m)` is irrational, so never equal to `c`).
pub fn is_hard(m: &Rational, c: &Rational, c_y: &Rational) -> Result<bool, Error> {
    Combined::arcface(m.clone(), Fallback::None).validate()?;
    if *m == 0 {
        return Ok(c > c_y);
    }
    ziv::refine("curricular_mask", 64, |wp| {
        let cm = acos_ival(c_y, wp).add(&Ival::from_rational(m, wp)).cos();
        Ok(Ival::from_rational(c, wp)
            .cmp_certain(&cm)
            .map(|o| o == Ordering::Greater))
    })
}

/// CurricularFace's state update after a batch, `t ← 0.01·mean(c_y) + 0.99·t`, over the
/// batch's target cosines `c_y` (exact).
///
/// ```
/// use asoftmax_spec::head::family::curricular_next_t;
/// use rug::Rational;
/// let t = curricular_next_t(&Rational::new(), &[Rational::from((1, 2))]).unwrap();
/// assert_eq!(t, Rational::from((1, 200)));
/// ```
pub fn curricular_next_t(t: &Rational, target_cosines: &[Rational]) -> Result<Rational, Error> {
    if target_cosines.is_empty() {
        return Err(Error::Shape {
            what: "CurricularFace's update needs at least one target cosine".into(),
        });
    }
    for c in target_cosines {
        check_cos(c)?;
    }
    let sum: Rational = target_cosines.iter().sum();
    let mean = sum / target_cosines.len() as u64;
    Ok(mean / 100u32 + t * Rational::from((99, 100)))
}

/// `cos(clamp(acos c + a, 0, π)) − b` (AdaFace's target logit; `|a| < π`).
fn shifted(a: &Rational, b: &Rational, c: &Rational, prec: u32) -> Result<Approx, Error> {
    let exact = |v: Rational| ziv::approx_rational("head", &v, prec);
    match shifted_piece(a, c)? {
        Ordering::Less => exact(Rational::from(1 - b)),
        Ordering::Greater => exact(Rational::from(-1 - b)),
        Ordering::Equal if *a == 0 => exact(Rational::from(c - b)),
        // cos(θ + a) is irrational for a rational a ≠ 0 (Lindemann: book chapter).
        Ordering::Equal => ziv::ziv("head", prec, |wp| {
            let x = acos_ival(c, wp).add(&Ival::from_rational(a, wp));
            Ok(Some(x.cos().sub(&Ival::from_rational(b, wp))))
        }),
    }
}

/// Where `θ + a` lies: `Less` below 0, `Greater` above π, `Equal` in `[0, π]`. The
/// boundaries `c = cos a` and `c = −cos a` are irrational for `a ≠ 0`.
fn shifted_piece(a: &Rational, c: &Rational) -> Result<Ordering, Error> {
    if *a == 0 {
        return Ok(Ordering::Equal);
    }
    ziv::refine("head_piece", 64, |wp| {
        let x = acos_ival(c, wp).add(&Ival::from_rational(a, wp));
        let below = x.cmp_certain(&Ival::from_integer(&0.into(), wp));
        let above = x.cmp_certain(&Ival::pi(wp));
        Ok(match (below, above) {
            (Some(Ordering::Less), _) => Some(Ordering::Less),
            (_, Some(Ordering::Greater)) => Some(Ordering::Greater),
            (Some(Ordering::Greater), Some(Ordering::Less)) => Some(Ordering::Equal),
            _ => None,
        })
    })
}

/// `cos(acos(c)/m)`: exact for `m = 1`, proven 0 where `θ = mπ/2`, proven equal to a
/// rational candidate `x` for an integer `m` when `T_m(x) = c` and `x ≥ cos(π/m)`.
fn cos_over_m(m: &Rational, c: &Rational, prec: u32) -> Result<Approx, Error> {
    if *m == 1 {
        return ziv::approx_rational("head", c, prec);
    }
    if niven_turns(c).is_some_and(|t| Rational::from(&t * 2u32) == *m) {
        return ziv::approx_rational("head", &Rational::new(), prec);
    }
    let integer_m = (*m.denom() == 1).then(|| m.numer().to_u32()).flatten();
    ziv::ziv_proving(
        "head",
        prec,
        |wp| {
            let theta = acos_ival(c, wp);
            Ok(theta.div(&Ival::from_rational(m, wp)).map(|x| x.cos()))
        },
        |x, _| {
            let Some(mi) = integer_m else {
                return Ok(false);
            };
            if chebyshev_t_exact(mi, x) != *c {
                return Ok(false);
            }
            // The root of T_m(x) = c on [cos(π/m), 1] is cos(θ/m); the others lie below.
            ziv::refine("head_root", 64, |wp| {
                let edge = Ival::pi(wp)
                    .div(&Ival::from_integer(&mi.into(), wp))
                    .map(|v| v.cos());
                Ok(edge.and_then(|e| Ival::from_rational(x, wp).cmp_certain(&e)))
                    .map(|o| o.map(|o| o != Ordering::Less))
            })
        },
    )
}

mod slope;
pub use slope::{magface_slope_a, nontarget_slope, target_slope};
