//! SphereFace2 (Wen et al., 2022; opensphere `sphereface2.py`, type `C`): one binary
//! classifier per class on the similarity `g(c) = 2((c + 1)/2)^t − 1`, with the margin
//! `m` subtracted on the target and added on the others, the logits `z = r·(g ∓ m) + b`
//! and a weighted binary cross-entropy:
//!
//! ```text
//! L = 1/(N·C) Σ_n Σ_j w_j·[ y_j·softplus(−z_j) + (1 − y_j)·softplus(z_j) ],
//! w_j = lw·C/r·(α if j = y_n else 1 − α),    softplus(z) = ln(1 + e^z),
//! ∂L/∂c_nj = 1/(N·C)·w_j·(σ(z_j) − y_j)·∂z_j/∂c_nj,
//! ```
//!
//! (`F.binary_cross_entropy_with_logits` with `weight`, mean over the `N·C` entries), with
//! `∂z/∂c = r` straight-through (opensphere computes `g` under `torch.no_grad()`) and
//! `r·g′(c) = r·t((c + 1)/2)^(t−1)` analytically. Defaults: `α = 0.7`, `r = 40`,
//! `m = 0.4`, `t = 3`, `lw = 50`; opensphere initializes the bias `b` by
//! [`bias_init`]. With an integer `t`, `g` and `z` are exact rationals; the loss is never
//! rational (Lindemann–Weierstrass: the book's chapter on the family), nor is `σ(z)` for
//! `z ≠ 0`, so every output is decided.

use crate::arith::{Approx, Ival, ziv};
use crate::head::Semantics;
use crate::multiangle::check_cos;
use crate::{Error, describe_rational};
use rug::Rational;

/// Where SphereFace2 puts its margin (opensphere's `magn_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Margin {
    /// `C`: on the similarity, target `g(c) − m`, non-target `g(c) + m` (default `m` 0.4).
    C,
    /// `A`: additive angular, target `g(cos(min(θ + m, π)))`, non-target `g(c)`.
    A,
    /// `M`: multiplicative angular, target `g(cos(min(mθ, π)))`, non-target `g(c)`.
    M,
}

/// `g(x) = 2((x + 1)/2)^t − 1` over an enclosure of `x` (`x ≥ −1`).
pub fn similarity_ival(t: u32, x: &Ival) -> Ival {
    let wp = x.prec();
    let half = x.add(&Ival::from_integer(&1.into(), wp)).mul_pow2(-1);
    let p = (1..t).fold(half.clone(), |acc, _| acc.mul(&half));
    p.mul_pow2(1).sub(&Ival::from_integer(&1.into(), wp))
}

/// `g′(x) = t·((x + 1)/2)^(t−1)` over an enclosure of `x`.
pub fn slope_ival(t: u32, x: &Ival) -> Ival {
    let wp = x.prec();
    let half = x.add(&Ival::from_integer(&1.into(), wp)).mul_pow2(-1);
    let p = (1..t).fold(Ival::from_integer(&1.into(), wp), |acc, _| acc.mul(&half));
    p.mul(&Ival::from_integer(&t.into(), wp))
}

/// SphereFace2-C's parameters (the loss is written for the `C` margin).
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// The exponent `t ≥ 1` of `g` (default 3).
    pub t: u32,
    /// The margin `m` (default 0.4).
    pub m: Rational,
    /// The scale `r > 0` (default 40).
    pub r: Rational,
    /// The bias `b` (learned; initialized by [`bias_init`]).
    pub b: Rational,
    /// The positive/negative balance `α ∈ (0, 1)` (default 0.7).
    pub alpha: Rational,
    /// The loss weight `lw > 0` (default 50).
    pub lw: Rational,
}

/// `g(c) = 2((c + 1)/2)^t − 1`, exact.
pub fn similarity(t: u32, c: &Rational) -> Result<Rational, Error> {
    check_t(t)?;
    check_cos(c)?;
    let half = Rational::from(c + 1u32) / 2u32;
    Ok(pow(&half, t) * 2u32 - 1u32)
}

/// `g′(c) = t·((c + 1)/2)^(t−1)`, exact.
pub fn slope(t: u32, c: &Rational) -> Result<Rational, Error> {
    check_t(t)?;
    check_cos(c)?;
    let half = Rational::from(c + 1u32) / 2u32;
    Ok(pow(&half, t - 1) * t)
}

fn pow(x: &Rational, n: u32) -> Rational {
    (0..n).fold(Rational::from(1), |acc, _| acc * x)
}

fn check_t(t: u32) -> Result<(), Error> {
    if (1..=1024).contains(&t) {
        Ok(())
    } else {
        Err(Error::Domain {
            arg: "t",
            value: t.to_string(),
            expected: "an exponent 1 <= t <= 1024",
        })
    }
}

impl Params {
    /// Checks `1 ≤ t ≤ 1024`, `r > 0`, `0 < α < 1`, `lw > 0`.
    pub fn validate(&self) -> Result<(), Error> {
        check_t(self.t)?;
        let bad = |arg, v: &Rational, expected| {
            Err(Error::Domain {
                arg,
                value: describe_rational(v),
                expected,
            })
        };
        if self.r <= 0 {
            return bad("r", &self.r, "a scale r > 0");
        }
        if self.alpha <= 0 || self.alpha >= 1 {
            return bad("alpha", &self.alpha, "0 < alpha < 1");
        }
        if self.lw <= 0 {
            return bad("lw", &self.lw, "a loss weight lw > 0");
        }
        Ok(())
    }

    /// The logit `z = r·(g(c) ∓ m) + b` (`−` on the target) and `∂z/∂c` under `sem`.
    pub fn logit(
        &self,
        c: &Rational,
        target: bool,
        sem: Semantics,
    ) -> Result<(Rational, Rational), Error> {
        let g = similarity(self.t, c)?;
        let g = if target { g - &self.m } else { g + &self.m };
        let dz = match sem {
            Semantics::StraightThrough => self.r.clone(),
            _ => slope(self.t, c)? * &self.r,
        };
        Ok((g * &self.r + &self.b, dz))
    }

    /// The weight `w_j / (N·C) = lw·a/(r·N)` of one entry (`a = α` on the target, `1 − α`
    /// elsewhere).
    pub fn weight(&self, target: bool, n: usize) -> Rational {
        let a = if target {
            self.alpha.clone()
        } else {
            Rational::from(1 - &self.alpha)
        };
        // lw·C/r·a / (N·C) = lw·a/(r·N)
        a * &self.lw / (Rational::from(&self.r * n as u64))
    }
}

/// `softplus(z) = ln(1 + e^z)` enclosed at `wp` bits.
fn softplus(z: &Rational, wp: u32) -> Ival {
    Ival::from_rational(z, wp)
        .exp()
        .ln_1p()
        .expect("e^z > 0 > −1")
}

/// `σ(z) − y` enclosed at `wp` bits, `None` while `1 + e^−z` is not decided positive.
fn sigmoid_minus(z: &Rational, y: bool, wp: u32) -> Option<Ival> {
    let one = Ival::from_integer(&1.into(), wp);
    let s = one.div(&one.add(&Ival::from_rational(&Rational::from(-z), wp).exp()))?;
    Some(if y { s.sub(&one) } else { s })
}

/// The batch loss and its gradient with respect to every cosine (rows of `cosines`,
/// labels `labels`), correctly rounded (module docs).
pub fn loss(
    p: &Params,
    cosines: &[Vec<Rational>],
    labels: &[usize],
    sem: Semantics,
    prec: u32,
) -> Result<(Approx, Vec<Vec<Approx>>), Error> {
    p.validate()?;
    let (n, classes) = shape(cosines, labels)?;
    // (weight, z, dz/dc, is target) per entry, exact.
    let mut entries = Vec::with_capacity(n * classes);
    for (row, &y) in cosines.iter().zip(labels) {
        for (j, c) in row.iter().enumerate() {
            let (z, dz) = p.logit(c, j == y, sem)?;
            entries.push((p.weight(j == y, n), z, dz, j == y));
        }
    }
    let value = ziv::ziv("sphereface2_loss", prec, |wp| {
        let mut acc = Ival::from_integer(&0.into(), wp);
        for (w, z, _, y) in &entries {
            let arg = if *y { Rational::from(-z) } else { z.clone() };
            acc = acc.add(&softplus(&arg, wp).mul(&Ival::from_rational(w, wp)));
        }
        Ok(Some(acc))
    })?;
    let mut grads = Vec::with_capacity(entries.len());
    for (w, z, dz, y) in &entries {
        grads.push(entry_grad(w, z, dz, *y, prec)?);
    }
    let grads = grads.chunks(classes).map(<[Approx]>::to_vec).collect();
    Ok((value, grads))
}

/// `w·(σ(z) − y)·dz`: exact when `z = 0` (σ = ½) or `dz = 0`, else irrational.
fn entry_grad(
    w: &Rational,
    z: &Rational,
    dz: &Rational,
    y: bool,
    prec: u32,
) -> Result<Approx, Error> {
    let wdz = Rational::from(w * dz);
    if *z == 0 || wdz == 0 {
        let s = Rational::from((1, 2)) - u32::from(y);
        let v = if wdz == 0 { Rational::new() } else { s * wdz };
        return ziv::approx_rational("sphereface2_grad", &v, prec);
    }
    ziv::ziv("sphereface2_grad", prec, |wp| {
        Ok(sigmoid_minus(z, y, wp).map(|s| s.mul(&Ival::from_rational(&wdz, wp))))
    })
}

/// `(N, C)` of a batch, or a shape error.
fn shape(cosines: &[Vec<Rational>], labels: &[usize]) -> Result<(usize, usize), Error> {
    let shape_err = |what: String| Err(Error::Shape { what });
    let Some(first) = cosines.first() else {
        return shape_err("an empty batch".into());
    };
    let classes = first.len();
    if labels.len() != cosines.len() {
        return shape_err(format!(
            "{} labels for {} rows",
            labels.len(),
            cosines.len()
        ));
    }
    for (i, (row, &y)) in cosines.iter().zip(labels).enumerate() {
        if row.len() != classes || y >= classes {
            return shape_err(format!(
                "row {i} has {} cosines and label {y}, expected {classes} cosines and a label below it",
                row.len()
            ));
        }
    }
    Ok((cosines.len(), classes))
}

/// opensphere's initial bias for type `C`: [`bias_init_margin`] with [`Margin::C`].
pub fn bias_init(p: &Params, classes: u32, prec: u32) -> Result<Approx, Error> {
    bias_init_margin(p, Margin::C, classes, prec)
}

/// opensphere's initial bias for each margin type:
/// `b = ln(2z) − a_i − ln(1 − z + √((1 − z)² + 4z·e^(a_y − a_i)))` with
/// `z = α/((1 − α)(C − 1))` and the logits at `c = 0` (`θ = π/2`):
/// `C`: `a_y = r(g(0) − m)`, `a_i = r(g(0) + m)`; `A`: `a_y = r·g(cos(min(π, π/2 + m)))`;
/// `M`: `a_y = r·g(cos(min(π, mπ/2)))`; `A`, `M`: `a_i = r·g(0)` (`g(0) = 2·2^−t − 1`).
pub fn bias_init_margin(
    p: &Params,
    margin: Margin,
    classes: u32,
    prec: u32,
) -> Result<Approx, Error> {
    p.validate()?;
    if classes < 2 {
        return Err(Error::Domain {
            arg: "classes",
            value: classes.to_string(),
            expected: "at least 2 classes",
        });
    }
    let z = &p.alpha / Rational::from(1 - &p.alpha) / (classes - 1);
    let base = pow(&Rational::from((1, 2)), p.t) * 2u32 - 1u32;
    let shift = if margin == Margin::C {
        p.m.clone()
    } else {
        Rational::new()
    };
    let a_i = Rational::from(&base + &shift) * &p.r;
    let one_minus_z = Rational::from(1 - &z);
    ziv::ziv("sphereface2_bias", prec, |wp| {
        let Some(a_y) = target_at_right_angle(p, margin, &base, wp) else {
            return Ok(None);
        };
        let zi = Ival::from_rational(&z, wp);
        let e = a_y.sub(&Ival::from_rational(&a_i, wp)).exp();
        let omz = Ival::from_rational(&one_minus_z, wp);
        let root = omz.square().add(&zi.mul_pow2(2).mul(&e)).sqrt();
        let inner = root.and_then(|r| omz.add(&r).ln());
        let first = zi.mul_pow2(1).ln();
        Ok(first
            .zip(inner)
            .map(|(f, i)| f.sub(&Ival::from_rational(&a_i, wp)).sub(&i)))
    })
}

/// The target logit `a_y = r·T` at `θ = π/2` enclosed at `wp` bits (`None` while
/// `m < π/2` is undecided for `A`; `π/2` is irrational, so never equal to `m`).
fn target_at_right_angle(p: &Params, margin: Margin, base: &Rational, wp: u32) -> Option<Ival> {
    let r = Ival::from_rational(&p.r, wp);
    let minus_one = Ival::from_integer(&(-1).into(), wp);
    let cos_y = match margin {
        Margin::C => {
            let v = Rational::from(base - &p.m) * &p.r;
            return Some(Ival::from_rational(&v, wp));
        }
        // cos(π/2 + m) = −sin m while π/2 + m < π.
        Margin::A => {
            let half_pi = Ival::pi(wp).mul_pow2(-1);
            match Ival::from_rational(&p.m, wp).cmp_certain(&half_pi)? {
                std::cmp::Ordering::Less => Ival::from_rational(&p.m, wp).sin().neg(),
                _ => minus_one,
            }
        }
        Margin::M if p.m <= 2 => Ival::pi(wp)
            .mul(&Ival::from_rational(&(Rational::from(&p.m) / 2u32), wp))
            .cos(),
        Margin::M => minus_one,
    };
    Some(similarity_ival(p.t, &cos_y).mul(&r))
}
