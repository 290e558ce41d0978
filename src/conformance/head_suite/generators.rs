//! Seeded inputs for a head: its hard places first (module docs of
//! [`super`]), then the scalar suite's sweeps and random points; the head states worth
//! checking; and the discontinuities whose place a float implementation rounds.

use super::HeadOp;
use crate::arith::{Ival, round::round_to};
use crate::conformance::generators::{Case, GenConfig, push_with_neighbours, random, sweep};
use crate::conformance::kernel::FloatFormat;
use crate::head::family::{AdaFace, Head, MagFace, RVersion};
use crate::head::sphereface2::Margin as S2Margin;
use crate::head::{Combined, Fallback, Kind};
use rug::Rational;

/// One input of a head: the cosine `c` and the sample's target cosine `c_y` (for the
/// non-target logit; CurricularFace's depends on it).
#[derive(Clone, Debug)]
pub struct HeadCase<T> {
    /// The cosine.
    pub c: T,
    /// The sample's target cosine.
    pub c_y: T,
    /// Where the input comes from.
    pub origin: String,
}

/// A discontinuity of a logit whose place is irrational, so a float implementation
/// compares with a rounded threshold: within [`super::HeadPolicy::jump_ulps`] of it
/// either side's value is accepted ([`Jump::values`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Jump {
    /// A combined margin's linear fallback at `θ = π − m2` (ArcFace with `linear`,
    /// CurricularFace's target, MagFace with `easy_margin = False`): the margin piece
    /// `cos(θ + m2) − m3` or the linear piece `c − m2·sin m2 − m3`.
    Linear(Combined),
    /// CurricularFace's hard-example mask at `c = cos(θ_y + m)`: `c` or `c·(t + c)`.
    Hard {
        /// The running `t`.
        t: Rational,
    },
}

/// The value of `x` enclosed by `f` at 192 bits, rounded to format `T`.
fn to_format<T: FloatFormat>(f: impl Fn(u32) -> Ival) -> T {
    T::from_f64(round_to(f(192).lo(), T::FORMAT))
}

/// The nearest `T` to `cos(angle)`, `angle` enclosed by `f`.
fn cos_at<T: FloatFormat>(f: impl Fn(u32) -> Ival) -> T {
    to_format(|wp| f(wp).cos())
}

fn r(wp: u32, q: &Rational) -> Ival {
    Ival::from_rational(q, wp)
}

/// `(π − m2)/m1` enclosed.
fn fallback_angle(h: &Combined, wp: u32) -> Ival {
    Ival::pi(wp)
        .sub(&r(wp, &h.m2))
        .div(&r(wp, &h.m1))
        .expect("m1 >= 1")
}

impl Jump {
    /// Where the jump is for a sample whose target cosine is `c_y`, in format `T`.
    pub fn at<T: FloatFormat>(&self, head: &Head, c_y: T) -> Option<T> {
        match (self, head) {
            (Jump::Linear(h), _) => Some(cos_at(|wp| fallback_angle(h, wp))),
            (Jump::Hard { .. }, Head::CurricularFace { m, .. }) => {
                let cy = Rational::from_f64(c_y.to_f64())?;
                Some(cos_at(|wp| {
                    crate::multiangle::acos_ival(&cy, wp).add(&r(wp, m))
                }))
            }
            _ => None,
        }
    }

    /// Both sides' values at `c` (each as a rational within `2⁻¹²⁰` relative).
    pub fn values(&self, c: &Rational) -> Result<Vec<Rational>, crate::Error> {
        match self {
            Jump::Linear(h) => {
                let margin = Combined {
                    fallback: Fallback::None,
                    ..h.clone()
                };
                let m = crate::head::target_logit(&margin, c, 128)?;
                let lin = crate::arith::ziv::ziv("head_jump", 128, |wp| {
                    let m2 = r(wp, &h.m2);
                    Ok(Some(r(wp, c).sub(&m2.mul(&m2.sin()).add(&r(wp, &h.m3)))))
                })?;
                Ok([m, lin]
                    .iter()
                    .map(|a| a.mid().to_rational().expect("finite"))
                    .collect())
            }
            Jump::Hard { t } => Ok(vec![c.clone(), Rational::from(t + c) * c]),
        }
    }
}

/// The discontinuities of `op` of `head` whose place is irrational ([`Jump`]).
pub fn jumps(head: &Head, op: HeadOp) -> Vec<Jump> {
    let linear = |h: Combined| {
        if h.fallback == Fallback::Linear {
            vec![Jump::Linear(h)]
        } else {
            Vec::new()
        }
    };
    match (head, op) {
        (Head::Combined(h), HeadOp::Target) => linear(h.clone()),
        (Head::CurricularFace { m, .. }, HeadOp::Target) => {
            linear(Combined::arcface(m.clone(), Fallback::Linear))
        }
        (Head::MagFace(mf), HeadOp::Target) => mf.combined().map(linear).unwrap_or_default(),
        (Head::CurricularFace { t, .. }, HeadOp::NonTarget) => vec![Jump::Hard { t: t.clone() }],
        _ => Vec::new(),
    }
}

/// The target cosines the non-target cases rotate through.
const C_Y: [f64; 5] = [0.75, 0.5, 0.0, -0.5, 1.0];

/// The head's hard places as `(c, what)` in format `T`: where a piece, clamp or branch
/// of its definition starts, for both logits.
fn marks<T: FloatFormat>(head: &Head) -> Vec<(T, String)> {
    let mut v: Vec<(T, String)> = Vec::new();
    let q = |n: i64, d: i64| Rational::from((n, d));
    match head {
        Head::Combined(h) => combined_marks(h, &mut v),
        Head::CurricularFace { m, .. } => {
            combined_marks(&Combined::arcface(m.clone(), Fallback::Linear), &mut v)
        }
        Head::MagFace(mf) => {
            if let Ok(h) = mf.combined() {
                combined_marks(&h, &mut v);
            }
        }
        Head::SphereFace { m } | Head::SphereFaceR { m, .. } => {
            // ψ's branch thresholds cos(kπ/m), k ≤ m (at most 16); v1's clamp is k = 1.
            let top = m.to_f64().floor().min(16.0) as i64;
            let v2 = matches!(
                head,
                Head::SphereFaceR {
                    version: RVersion::V2,
                    ..
                }
            );
            for k in 1..=top {
                if v2 {
                    break;
                }
                v.push((
                    cos_at(|wp| {
                        Ival::pi(wp)
                            .mul(&r(wp, &q(k, 1)))
                            .div(&r(wp, m))
                            .expect("m >= 1")
                    }),
                    format!("branch threshold cos({k}π/m)"),
                ));
            }
        }
        Head::SphereFace2 { m, margin, .. } => {
            let inner = crate::head::family::s2_inner(m, *margin);
            if *margin != S2Margin::C {
                v.extend(marks::<T>(&inner));
            }
        }
        Head::AdaFace(ada) => {
            if let Ok((a, _)) = ada.shifts() {
                // θ + a = 0 (a < 0) at c = cos a; θ + a = π (a > 0) at c = −cos a.
                let c: T = cos_at(|wp| r(wp, &a));
                let c = if a > 0 { T::from_f64(-c.to_f64()) } else { c };
                v.push((c, "angle clamp θ − m·ŝ ∈ {0, π}".into()));
            }
        }
    }
    v
}

fn combined_marks<T: FloatFormat>(h: &Combined, v: &mut Vec<(T, String)>) {
    match h.fallback {
        Fallback::Linear | Fallback::ClampPi => v.push((
            cos_at(|wp| fallback_angle(h, wp)),
            "fallback boundary m1·θ + m2 = π".into(),
        )),
        Fallback::Easy => v.push((T::from_f64(0.0), "easy margin c = 0".into())),
        Fallback::None => {}
    }
}

/// The inputs for `head` in format `T`: `c = ±1, 0, ±½` and the head's hard places with
/// `cfg.neighbours` floats on each side, CurricularFace's hard-example boundary
/// `cos(θ_y + m)` for each `c_y` of a fixed list (`¾, ½, 0, −½, 1`), then
/// [`sweep`] and [`random`] (seed `cfg.seed`); the other cases' `c_y` rotate through that
/// list.
pub fn head_cases<T: FloatFormat>(head: &Head, cfg: &GenConfig) -> Vec<HeadCase<T>> {
    let mut cs: Vec<Case<T>> = Vec::new();
    for (v, what) in [
        (1.0, "c=1"),
        (-1.0, "c=-1"),
        (0.0, "c=0"),
        (0.5, "c=1/2"),
        (-0.5, "c=-1/2"),
    ] {
        push_with_neighbours(&mut cs, T::from_f64(v), what, cfg.neighbours);
    }
    for (c, what) in marks::<T>(head) {
        push_with_neighbours(&mut cs, c, &what, cfg.neighbours);
    }
    cs.extend(sweep(cfg.sweep));
    cs.extend(random(cfg.random, cfg.seed));
    let mut out: Vec<HeadCase<T>> = cs
        .into_iter()
        .enumerate()
        .map(|(i, c)| HeadCase {
            c: c.c,
            c_y: T::from_f64(C_Y[i % C_Y.len()]),
            origin: c.origin,
        })
        .collect();
    for jump in jumps(head, HeadOp::NonTarget) {
        for cy in C_Y {
            let c_y = T::from_f64(cy);
            let Some(at) = jump.at(head, c_y) else {
                continue;
            };
            let mut near = Vec::new();
            let what = format!("hard-example boundary cos(θ_y + m), c_y = {cy}");
            push_with_neighbours(&mut near, at, &what, cfg.neighbours);
            out.extend(near.into_iter().map(|c| HeadCase {
                c: c.c,
                c_y,
                origin: c.origin,
            }));
        }
    }
    out
}

/// The states worth checking for a head kind: its published defaults and the states at
/// its bounds — ArcFace with each fallback; the combined margin `(1, 0.3, 0.2)`;
/// SphereFace's `m = 1.5` and `4`; SphereFace-R `v1`/`v2`; SphereFace2's three margins;
/// CurricularFace at `t = 0`, `0.375` and `1`; AdaFace (`m = 0.4`, `h = 0.333`,
/// `eps = 10⁻³`, mean 20, std 10) at norms `0.001` and `100` (the published clip's
/// bounds: norms above 100 are where the clip departs from the definition), at the mean,
/// inside, and on each side of `ŝ = ±1`; MagFace (`l_a = 10`, `u_a = 110`, `l_m = 0.45`,
/// `u_m = 0.8`) at `a = 5, 10, 60, 110, 150`, with the easy and the linear fallback.
pub fn head_states(kind: Kind) -> Vec<Head> {
    let q = |n: i64, d: i64| Rational::from((n, d));
    let arc = |f| Head::Combined(Combined::arcface(q(1, 2), f));
    let all_fallbacks = [
        Fallback::None,
        Fallback::ClampPi,
        Fallback::Linear,
        Fallback::Easy,
    ];
    match kind {
        Kind::ArcFace => all_fallbacks.map(arc).to_vec(),
        Kind::CosFace => vec![Head::Combined(Combined::cosface(q(7, 20)))],
        Kind::Combined => vec![
            Head::Combined(Combined {
                m1: q(1, 1),
                m2: q(3, 10),
                m3: q(1, 5),
                fallback: Fallback::Linear,
            }),
            Head::Combined(Combined {
                m1: q(2, 1),
                m2: q(1, 10),
                m3: q(1, 10),
                fallback: Fallback::ClampPi,
            }),
        ],
        Kind::SphereFace => vec![
            Head::SphereFace { m: q(3, 2) },
            Head::SphereFace { m: q(4, 1) },
        ],
        Kind::SphereFaceR => [RVersion::V1, RVersion::V2]
            .map(|version| Head::SphereFaceR {
                m: q(3, 2),
                version,
            })
            .to_vec(),
        Kind::SphereFace2 => vec![
            Head::SphereFace2 {
                t: 3,
                m: q(2, 5),
                margin: S2Margin::C,
            },
            Head::SphereFace2 {
                t: 3,
                m: q(1, 2),
                margin: S2Margin::A,
            },
            Head::SphereFace2 {
                t: 3,
                m: q(3, 2),
                margin: S2Margin::M,
            },
        ],
        Kind::CurricularFace => [q(0, 1), q(3, 8), q(1, 1)]
            .map(|t| Head::CurricularFace { m: q(1, 2), t })
            .to_vec(),
        Kind::AdaFace => {
            // ŝ = ±1 at norm = mean ± (std + eps)/h = 20 ± 10.001/0.333.
            let edge = q(10_001, 1000) / q(333, 1000);
            let norms = [
                q(1, 1000),
                q(100, 1),
                q(20, 1),
                q(30, 1),
                Rational::from(&edge + 20u32),
                Rational::from(&edge + 21u32),
                20u32 - edge.clone(),
                19u32 - edge.clone(),
            ];
            norms
                .into_iter()
                .filter(|n| *n >= 0)
                .map(|norm| {
                    Head::AdaFace(AdaFace {
                        m: q(2, 5),
                        h: q(333, 1000),
                        eps: q(1, 1000),
                        norm,
                        mean: q(20, 1),
                        std: q(10, 1),
                    })
                })
                .collect()
        }
        Kind::MagFace => {
            let mut v = Vec::new();
            for fallback in [Fallback::Easy, Fallback::Linear] {
                for a in [5, 10, 60, 110, 150] {
                    v.push(Head::MagFace(MagFace {
                        l_a: q(10, 1),
                        u_a: q(110, 1),
                        l_m: q(45, 100),
                        u_m: q(4, 5),
                        a: q(a, 1),
                        fallback,
                    }));
                }
            }
            v
        }
    }
}
