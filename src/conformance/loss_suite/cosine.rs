//! The tolerance for a loss on cosines (a head of the margin family fed `c_nj` directly,
//! [`crate::loss::family`]): the x/w head batches' allowances ([`LossPolicy`]) with the
//! feature dimension `d = 1` (the cosines are inputs, no dot product rounds them) and the
//! head's slope as the amplification, judged row by row for the gradients.
//!
//! Why these allowances, per output (all in ulps of the format, of a scale):
//!
//! - **loss**: `per·A` ulps of `S_L = max(S, |L*|)`, with `S = s·max|t|, |u|` the batch's
//!   logit scale (`r` for SphereFace2) and `A` the largest finite `|dt/dc|`, `|du/dc|`
//!   (analytic and under the line's semantics, at least 1). An implementation evaluates a
//!   logit from the cosine through intermediate roundings — insightface's
//!   `sin θ = √(1 − c²)` loses `u/sin²θ` relative, which the margin passes on as the
//!   slope `sin(θ + m)/sin θ` does — so a logit carries `O(u·A)` of `S`.
//! - **grad_cos**, row `n`: `per·A_n²·(1 + β·S/8)` ulps of `max((G/N)·A_n, max_j|g*_nj|)`,
//!   `G` the gradient's unit (`s`; `r·lw` for SphereFace2), `A_n` the row's largest slope
//!   and `β` the softmax balance (1 for SphereFace2's sigmoids, a bound): the slope is
//!   itself computed from the rounded angle (its error is the slope's slope, `O(A²)`
//!   relative near `θ → 0`, as for the x/w heads), and a logit error reaches the
//!   probabilities through `β·S`. Row by row, so a row whose target is the neighbour of
//!   `c = 1` (ArcFace's slope `~1/√u` there) does not loosen the other rows.
//! - **grad_a** (MagFace), row `n`: the same factor, in ulps of
//!   `max((s·|∂t/∂a| + λ_g·(1/u_a² + 1/a²))/N, |g*_n|)`: the size of the terms, as
//!   `g′(a) = 1/u_a² − 1/a²` cancels near `a = u_a` (where the batches put a magnitude,
//!   next to the kink) and a float evaluation of it carries an error of that size.
//!
//! A multiplicative margin `m` (SphereFace's ψ, SphereFace-R, SphereFace2 `M`) is a floor
//! of `A`: a float evaluation computes `mθ` and `sin(mθ)`, whose errors are `m` times the
//! angle's (the slope `m·sin(mθ)/sin θ` loses `m·u·θ/|sin(mθ)|` relative next to a branch
//! point `mθ = kπ`), and the slope reaches `m²` at `c = ±1` (endpoints, left out of `A`
//! below): the `m²` of the x/w A-Softmax allowance (`per·m²·d`, [`LossPolicy`]).
//!
//! Slopes at `c = ±1` and slopes that are not finite are left out of `A`: at the endpoints
//! `θ` is exact (0 or π) and a slope is often `±∞` (ArcFace, SphereFace's ψ with a real
//! `m`), where the oracle has no gradient and the line carries none.
//!
//! (Until 2026-12-02 the 24-bit slope of SphereFace's ψ with a real `m` at the binary64
//! neighbour of `c = −1` took the oracle about 40 s and then failed at its precision cap,
//! which left that slope out of `A`: with `m = 3/2` the slope there is the rational
//! `3·2²⁵ − 3·2⁻²⁷`, a binary64 rounding midpoint, which the Ziv loop now proves exactly.)

use super::policy::{LossOp, LossPolicy};
use super::scheme::Scheme;
use crate::arith::{Approx, Format};
use crate::head::family::{Head, magface_slope_a, nontarget_logit, nontarget_slope, target_slope};
use crate::head::sphereface2::{Margin as S2Margin, Params};
use crate::head::{Semantics, Slope};
use crate::loss::family::{FamilySpec, loss, sphereface2};
use rug::Rational;

/// Bits of the slope and logit estimates (they size tolerances only).
const EST_PREC: u32 = 24;

/// A cosine batch as the tolerance reads it.
#[derive(Clone, Debug)]
pub struct CosineBatch {
    /// `c_nj`, `N × C`.
    pub cos: Vec<Vec<Rational>>,
    /// The labels.
    pub y: Vec<usize>,
    /// The head of each sample (its state).
    pub heads: Vec<Head>,
    /// The logit scale: `s`, or SphereFace2's `r`.
    pub scale: f64,
    /// The gradient's unit `G`: `s`, or SphereFace2's `r·lw`.
    pub grad_unit: f64,
    /// The semantics of the backward.
    pub semantics: Semantics,
    /// A softmax over the classes (every head but SphereFace2).
    pub softmax: bool,
    /// MagFace's `λ_g` (0 for the others).
    pub lambda_g: f64,
}

/// A loss batch on cosines as the oracle takes it ([`crate::loss::family`]): the exact
/// inputs of one `eval` loss line on cosines, of a `vectors` version 4 line, or of a
/// [`crate::conformance::head_suite::CosineLossBatch`].
#[derive(Clone, Debug)]
pub enum CosineInput {
    /// A softmax head (every head but SphereFace2), one head per sample.
    Softmax(FamilySpec),
    /// SphereFace2's binary classifiers.
    SphereFace2 {
        /// Its parameters.
        p: Params,
        /// Where its margin goes.
        margin: S2Margin,
        /// The cosines, `N × C`.
        cos: Vec<Vec<Rational>>,
        /// The labels.
        y: Vec<usize>,
        /// How the logits are differentiated.
        semantics: Semantics,
    },
}

/// The oracle's outputs on a cosine batch: `L`, and on request `∂L/∂c` (`N × C`) and
/// MagFace's `∂L/∂a` (`N`).
pub type CosineOutputs = (Approx, Option<Vec<Vec<Approx>>>, Option<Vec<Approx>>);

impl CosineInput {
    /// The oracle's loss and, with `grad`, its gradients, to `prec` bits
    /// ([`crate::loss::family::loss`], [`crate::loss::family::sphereface2`]).
    pub fn oracle(&self, grad: bool, prec: u32) -> Result<CosineOutputs, crate::Error> {
        match self {
            CosineInput::Softmax(spec) => {
                let out = loss(spec, grad, prec)?;
                Ok((out.loss, out.grad_cos, out.grad_a))
            }
            CosineInput::SphereFace2 {
                p,
                margin,
                cos,
                y,
                semantics,
            } => {
                let (v, g) = sphereface2(p, *margin, cos, y, *semantics, grad, prec)?;
                Ok((v, g, None))
            }
        }
    }

    /// The oracle's outputs with gradients where it has them: `(outputs, true)`, or, when
    /// a gradient is not defined ([`crate::Error::Degenerate`]: a slope `±∞` at `c = ±1`,
    /// MagFace at a kink of its clamp), the loss alone and `false`.
    pub fn oracle_or_value(&self, prec: u32) -> Result<(CosineOutputs, bool), crate::Error> {
        match self.oracle(true, prec) {
            Err(crate::Error::Degenerate { .. }) => Ok((self.oracle(false, prec)?, false)),
            r => Ok((r?, true)),
        }
    }

    /// The batch as the cosine tolerance reads it ([`CosineBatch`]).
    pub fn batch(&self) -> CosineBatch {
        match self {
            CosineInput::Softmax(spec) => CosineBatch {
                cos: spec.cos.clone(),
                y: spec.y.clone(),
                heads: spec.heads.clone(),
                scale: spec.scale.to_f64(),
                grad_unit: spec.scale.to_f64(),
                semantics: spec.semantics,
                softmax: true,
                lambda_g: spec.lambda_g.to_f64(),
            },
            CosineInput::SphereFace2 {
                p,
                margin,
                cos,
                y,
                semantics,
            } => CosineBatch {
                cos: cos.clone(),
                y: y.clone(),
                heads: vec![
                    Head::SphereFace2 {
                        t: p.t,
                        m: p.m.clone(),
                        margin: *margin,
                    };
                    y.len()
                ],
                scale: p.r.to_f64(),
                grad_unit: p.r.to_f64() * p.lw.to_f64(),
                semantics: *semantics,
                softmax: false,
                lambda_g: 0.0,
            },
        }
    }
}

/// The scales (exact values of `f64`) and allowances (scaled ulps) of a cosine batch
/// (module docs).
#[derive(Clone, Debug)]
pub struct CosineAllowances {
    /// `S_L`.
    pub value_scale: Rational,
    /// The loss's allowance.
    pub value: f64,
    /// Per row: the scale of `∂L/∂c_n·`.
    pub grad_scales: Vec<Rational>,
    /// Per row: the allowance of `∂L/∂c_n·` (and of `∂L/∂a_n`).
    pub grad: Vec<f64>,
    /// Per row: the scale of `∂L/∂a_n` (MagFace).
    pub grad_a_scales: Vec<Rational>,
}

fn finite(s: Result<Slope, crate::Error>) -> Option<f64> {
    match s {
        Ok(Slope::Finite(v)) => Some(v.f64().abs()).filter(|v| v.is_finite()),
        _ => None,
    }
}

fn q(v: f64) -> Rational {
    Rational::from_f64(v).unwrap_or_else(|| Rational::from(1))
}

/// The floor of a head's amplification `A`: its multiplicative margin `m` (SphereFace's ψ,
/// SphereFace-R, SphereFace2 `M`; at least 1), else 1 (module docs).
fn multiplier(h: &Head) -> f64 {
    use crate::head::sphereface2::Margin;
    match h {
        Head::SphereFace { m }
        | Head::SphereFaceR { m, .. }
        | Head::SphereFace2 {
            m,
            margin: Margin::M,
            ..
        } => m.to_f64().max(1.0),
        _ => 1.0,
    }
}

/// A row's largest finite slope (at least the head's [`multiplier`]) and its logits
/// divided by the scale.
fn row_estimates(b: &CosineBatch, n: usize) -> (f64, Vec<f64>) {
    let (h, row, y) = (&b.heads[n], &b.cos[n], b.y[n]);
    let mut amp = multiplier(h);
    let mut logits = Vec::with_capacity(row.len());
    for (j, c) in row.iter().enumerate() {
        // At c = ±1 a slope is an endpoint's (often ±∞, found only at the precision cap):
        // left out, as every slope that is not finite.
        let endpoint = *c == 1 || *c == -1;
        for sem in [Semantics::Analytic, b.semantics]
            .into_iter()
            .filter(|_| !endpoint)
        {
            let s = if j == y {
                target_slope(h, c, sem, EST_PREC)
            } else {
                nontarget_slope(h, c, &row[y], sem, EST_PREC)
            };
            if let Some(v) = finite(s) {
                amp = amp.max(v);
            }
        }
        let l = if j == y {
            crate::head::family::target_logit(h, c, EST_PREC)
        } else {
            nontarget_logit(h, c, &row[y], EST_PREC)
        };
        logits.push(l.map_or(c.to_f64(), |a| a.f64()));
    }
    (amp, logits)
}

/// `β_n = Σ_j p_nj·(1 − p_nj)` of the logits `f` (1 for NaN: the larger allowance).
fn balance(f: &[f64]) -> f64 {
    let fmax = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = f.iter().map(|v| (v - fmax).exp()).collect();
    let sum: f64 = e.iter().sum();
    let beta: f64 = e.iter().map(|v| (v / sum) * (1.0 - v / sum)).sum();
    if beta.is_nan() { 1.0 } else { beta }
}

/// `|∂t/∂a|·s + λ_g·(1/u_a² + 1/a²)` of a MagFace sample at its target cosine (0
/// otherwise): the size of the terms `∂L/∂a` is summed from (`g′(a) = 1/u_a² − 1/a²`
/// cancels near `a = u_a`, so a float evaluation's error is one of these terms').
fn magnitude_unit(b: &CosineBatch, n: usize) -> f64 {
    let Head::MagFace(mf) = &b.heads[n] else {
        return 0.0;
    };
    let dt = finite(magface_slope_a(mf, &b.cos[n][b.y[n]], EST_PREC)).unwrap_or(0.0);
    let (a, ua) = (mf.a.to_f64(), mf.u_a.to_f64());
    b.scale * dt + b.lambda_g * (1.0 / (ua * ua) + 1.0 / (a * a))
}

/// The allowances of `b` in format `fmt` and `scheme` under `policy`, given the exact
/// loss `loss` and gradients `grad_cos` (`N × C`, empty without) and `grad_a` (`N`, empty
/// without) (module docs).
pub fn cosine_allowances(
    b: &CosineBatch,
    (fmt, scheme): (Format, Scheme),
    policy: &LossPolicy,
    loss: &Rational,
    grad_cos: &[Vec<Rational>],
    grad_a: &[Rational],
) -> CosineAllowances {
    let n = b.y.len().min(b.cos.len()).min(b.heads.len());
    let rows: Vec<(f64, Vec<f64>)> = (0..n).map(|i| row_estimates(b, i)).collect();
    let amp = rows.iter().map(|r| r.0).fold(1.0, f64::max);
    let fmax = rows
        .iter()
        .flat_map(|r| r.1.iter().map(|v| v.abs()))
        .fold(1.0, f64::max);
    let s_logit = b.scale * fmax;
    let beta = if b.softmax {
        rows.iter()
            .map(|r| balance(&r.1.iter().map(|v| v * b.scale).collect::<Vec<_>>()))
            .fold(0.0, f64::max)
    } else {
        1.0
    };
    let factor = 1.0 + beta * s_logit / policy.grad_logit_unit;
    let per = |op| policy.per_m2d_in(op, fmt, scheme);
    let larger = |a: Rational, b: Rational| if a > b { a } else { b };
    let abs = |v: &Rational| Rational::from(v.abs_ref());
    let nf = n.max(1) as f64;
    let grad_scales = (0..n)
        .map(|i| {
            let max_g = grad_cos
                .get(i)
                .map(|r| r.iter().map(abs).max().unwrap_or_default())
                .unwrap_or_default();
            larger(q(b.grad_unit / nf * rows[i].0), max_g)
        })
        .collect();
    let grad_a_scales = (0..n)
        .map(|i| {
            let g = grad_a.get(i).map(abs).unwrap_or_default();
            larger(q(magnitude_unit(b, i) / nf), g)
        })
        .collect();
    CosineAllowances {
        value_scale: larger(q(s_logit), abs(loss)),
        value: per(LossOp::Value) * amp,
        grad_scales,
        grad: rows
            .iter()
            .map(|r| per(LossOp::GradX) * r.0 * r.0 * factor)
            .collect(),
        grad_a_scales,
    }
}
