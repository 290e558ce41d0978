//! Scoring one result of a loss on cosines against the oracle's exact outputs under
//! [`cosine_allowances`]: the loss against its allowance, `∂L/∂c` and MagFace's `∂L/∂a`
//! row by row against theirs. `check`'s version 4 lines and the Rust suite on cosine
//! batches ([`crate::conformance::head_suite::check_cosine_loss`]) both score with
//! [`score_cosine`].

use super::cosine::{CosineBatch, cosine_allowances};
use super::metrics::normwise_error;
use super::policy::{LossOp, LossPolicy};
use super::scheme::Scheme;
use crate::arith::Format;
use rug::Rational;

/// The outputs of a loss on cosines, as scored and reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CosineOp {
    /// The mean loss `L`.
    Value,
    /// `∂L/∂c`, `N × C`, row by row.
    GradCos,
    /// MagFace's `∂L/∂a`, `N`, sample by sample.
    GradA,
}

impl CosineOp {
    /// The three outputs, in report order.
    pub const ALL: [CosineOp; 3] = [CosineOp::Value, CosineOp::GradCos, CosineOp::GradA];

    /// `"loss"` ([`LossOp::Value`]'s name), `"grad_cos"`, `"grad_a"`: the result fields
    /// and `check`'s group names.
    pub const fn name(self) -> &'static str {
        match self {
            CosineOp::Value => LossOp::Value.name(),
            CosineOp::GradCos => "grad_cos",
            CosineOp::GradA => "grad_a",
        }
    }
}

/// One output's score on one cosine batch.
#[derive(Clone, Debug, PartialEq)]
pub struct CosineOpScore {
    /// The largest scaled error (over the rows, for a gradient).
    pub error: f64,
    /// The largest error over its row's allowance (`∞` for a NaN error).
    pub badness: f64,
    /// The allowance of the worst row (of the loss, for [`CosineOp::Value`]).
    pub allowed: f64,
    /// The worst row (sample), for a gradient.
    pub row: Option<usize>,
    /// Whether the output is outside its allowance.
    pub failed: bool,
}

/// A kernel's score on one cosine batch; a gradient the oracle has not (a batch written
/// with `"grad":false`) is not scored (`None`).
#[derive(Clone, Debug, PartialEq)]
pub struct CosineScore {
    /// What the batch exercises.
    pub origin: String,
    /// The loss.
    pub value: CosineOpScore,
    /// `∂L/∂c`.
    pub grad_cos: Option<CosineOpScore>,
    /// MagFace's `∂L/∂a`.
    pub grad_a: Option<CosineOpScore>,
}

impl CosineScore {
    /// The score of `op`, if it was scored.
    pub fn op(&self, op: CosineOp) -> Option<&CosineOpScore> {
        match op {
            CosineOp::Value => Some(&self.value),
            CosineOp::GradCos => self.grad_cos.as_ref(),
            CosineOp::GradA => self.grad_a.as_ref(),
        }
    }

    /// `true` when every scored output is within its allowance.
    pub fn passed(&self) -> bool {
        CosineOp::ALL
            .iter()
            .filter_map(|&op| self.op(op))
            .all(|s| !s.failed)
    }
}

/// The exact outputs of a cosine batch: `L`, `∂L/∂c` (`N × C`, empty when the oracle has
/// no gradient) and MagFace's `∂L/∂a` (`N`, empty for the other heads or without).
pub type CosineExact<'a> = (&'a Rational, &'a [Vec<Rational>], &'a [Rational]);

/// Scores a result `got = (L, ∂L/∂c row-major N·C, ∂L/∂a)` (widened to `f64`; a
/// gradient of the wrong length is an infinite error) of batch `b` against the oracle's
/// `exact` outputs in format `fmt` under `scheme`'s entries of `policy`
/// ([`cosine_allowances`]): the loss normwise in ulps of its scale, each gradient row
/// normwise in ulps of its row's scale against its row's allowance. A gradient is scored
/// only when `exact` has it.
pub fn score_cosine(
    b: &CosineBatch,
    exact: CosineExact<'_>,
    got: (f64, &[f64], &[f64]),
    (fmt, scheme): (Format, Scheme),
    policy: &LossPolicy,
    origin: String,
) -> CosineScore {
    let (loss, grad_cos, grad_a) = exact;
    let (value, got_g, got_a) = got;
    let al = cosine_allowances(b, (fmt, scheme), policy, loss, grad_cos, grad_a);
    let err = normwise_error(&[value], std::slice::from_ref(loss), &al.value_scale, fmt);
    let value = CosineOpScore {
        error: err,
        badness: err / al.value,
        allowed: al.value,
        row: None,
        failed: err > al.value,
    };
    // Row by row: the largest scaled error, and the row of the largest error over its
    // allowance.
    let rows = |got: &[f64], exact: &dyn Fn(usize) -> Vec<Rational>, scales: &[Rational]| {
        let width = exact(0).len();
        let misshapen = got.len() != scales.len() * width;
        let (mut error, mut row, mut badness) = (0.0f64, 0usize, 0.0f64);
        for (r, scale) in scales.iter().enumerate() {
            let g = got.get(r * width..(r + 1) * width).unwrap_or(&[]);
            let e = if misshapen {
                f64::INFINITY
            } else {
                normwise_error(g, &exact(r), scale, fmt)
            };
            let bad = e / al.grad[r];
            if bad > badness || bad.is_nan() {
                (row, badness) = (r, if bad.is_nan() { f64::INFINITY } else { bad });
            }
            error = error.max(e);
        }
        CosineOpScore {
            error,
            badness,
            allowed: al.grad[row],
            row: Some(row),
            failed: badness > 1.0,
        }
    };
    let grad_cos =
        (!grad_cos.is_empty()).then(|| rows(got_g, &|r| grad_cos[r].clone(), &al.grad_scales));
    let grad_a =
        (!grad_a.is_empty()).then(|| rows(got_a, &|r| vec![grad_a[r].clone()], &al.grad_a_scales));
    CosineScore {
        origin,
        value,
        grad_cos,
        grad_a,
    }
}
