//! The paper's Table 1: the binary decision boundaries of softmax, modified softmax and
//! A-Softmax, evaluated and used to classify a sample (module docs §4).

use super::check_margin_m;
use crate::arith::exact::integer_u32;
use crate::arith::{Approx, Ival, ziv};
use crate::multiangle::{check_cos, check_theta};
use crate::{Angle, Error, psi};
use rug::{Integer, Rational};
use std::cmp::Ordering;

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

/// `cos θ` and `ψ(θ)` from an [`Angle`], enclosed at `wp`.
fn angle_cos_psi(m: &Rational, at: &Angle, wp: u32) -> Result<(Ival, Ival), Error> {
    match at {
        Angle::Cos(c) => {
            let ci = Ival::from_rational(c, wp);
            let psi = match integer_u32(m) {
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
    match integer_u32(m) {
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
                match (a, b, integer_u32(&m)) {
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
