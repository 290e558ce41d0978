//! Scoring a loss kernel on the generated batches: per-batch scores, the report, the
//! assertion and the [`loss_suite!`](crate::loss_suite) macro.

use super::generators::loss_batches_in;
use super::metrics::{Expected, expected, normwise_error, scales, widen_batch};
use super::policy::{LossOp, LossPolicy};
use super::scheme::Scheme;
use crate::arith::Format;
use crate::conformance::kernel::{Batch, FloatFormat, LossGrad, LossKernel};
use crate::conformance::metrics::error_in_ulps_of;
use std::fmt;

/// One loss kernel's score on one batch.
#[derive(Clone, Debug)]
pub struct BatchScore {
    /// What the batch exercises.
    pub origin: String,
    /// Scaled errors of (loss, grad_x, grad_w).
    pub errors: [f64; 3],
    /// The allowances of (loss, grad_x, grad_w).
    pub allowed: [f64; 3],
}

impl BatchScore {
    /// `true` when every output is within its allowance.
    pub fn passed(&self) -> bool {
        self.errors.iter().zip(&self.allowed).all(|(e, a)| e <= a)
    }
}

/// A loss kernel's report over all generated batches.
#[derive(Clone, Debug)]
pub struct LossReport {
    /// The kernel's name.
    pub kernel: String,
    /// The format.
    pub format: Format,
    /// Every batch's score.
    pub scores: Vec<BatchScore>,
    /// The seed of the generated batches.
    pub seed: u64,
}

impl LossReport {
    /// The failing batches.
    pub fn failures(&self) -> Vec<&BatchScore> {
        self.scores.iter().filter(|s| !s.passed()).collect()
    }
    /// `true` when every batch passed.
    pub fn passed(&self) -> bool {
        self.failures().is_empty()
    }
    /// The largest error ratio (error / allowance) per op.
    pub fn worst_ratio(&self, op: LossOp) -> (f64, Option<&BatchScore>) {
        let i = op as usize;
        self.scores
            .iter()
            .map(|s| (s.errors[i] / s.allowed[i].max(f64::MIN_POSITIVE), s))
            .fold((0.0, None), |acc, (r, s)| {
                if r > acc.0 || acc.1.is_none() {
                    (r, Some(s))
                } else {
                    acc
                }
            })
    }
}

impl fmt::Display for LossReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} loss {}: {} batches, {} failures, seed {:#x}",
            self.kernel,
            self.format.name(),
            self.scores.len(),
            self.failures().len(),
            self.seed
        )?;
        for op in LossOp::ALL {
            if let (r, Some(s)) = self.worst_ratio(op) {
                writeln!(
                    f,
                    "  {}: worst {:.3} scaled ulps ({:.3} of the allowance) on [{}]",
                    op.name(),
                    s.errors[op as usize],
                    r,
                    s.origin
                )?;
            }
        }
        for s in self.failures().iter().take(5) {
            writeln!(
                f,
                "  FAIL [{}]: errors {:?} allowed {:?}",
                s.origin, s.errors, s.allowed
            )?;
        }
        Ok(())
    }
}

/// Scores one batch: the errors of `(loss, grad_x, grad_w)` (row-major, widened to
/// `f64`) against the oracle's values, judged in format `fmt` under `scheme`'s entries.
pub fn score_batch<T: FloatFormat>(
    b: &Batch<T>,
    exp: &Expected,
    got: (f64, &[f64], &[f64]),
    (fmt, scheme): (Format, Scheme),
    policy: &LossPolicy,
    origin: String,
) -> BatchScore {
    let [sl, sx, sw] = scales(b, exp);
    BatchScore {
        origin,
        errors: [
            error_in_ulps_of(got.0, &exp.loss, &sl, fmt),
            normwise_error(got.1, &exp.grad_x, &sx, fmt),
            normwise_error(got.2, &exp.grad_w, &sw, fmt),
        ],
        allowed: policy.allowances(fmt, scheme, b),
    }
}

/// A kernel's output `got` on `b` scored against the oracle's `exp` under `policy`:
/// [`score_batch`] with the outputs widened to `f64`, judged in `T`'s format
/// ([`Scheme::Native`]).
pub fn score_loss<T: FloatFormat>(
    b: &Batch<T>,
    exp: &Expected,
    got: &LossGrad<T>,
    policy: &LossPolicy,
    origin: String,
) -> BatchScore {
    score_loss_in(b, exp, got, (T::FORMAT, Scheme::Native), policy, origin)
}

/// [`score_loss`] judged in `judged` (the inputs' format and the scheme).
fn score_loss_in<T: FloatFormat>(
    b: &Batch<T>,
    exp: &Expected,
    got: &LossGrad<T>,
    judged: (Format, Scheme),
    policy: &LossPolicy,
    origin: String,
) -> BatchScore {
    let widen = |v: &[T]| v.iter().map(|t| t.to_f64()).collect::<Vec<f64>>();
    let got = (
        got.loss.to_f64(),
        &widen(&got.grad_x)[..],
        &widen(&got.grad_w)[..],
    );
    score_batch(b, exp, got, judged, policy, origin)
}

/// Runs a loss kernel over the generated batches, every operation in `T` ([`Scheme::Native`]).
pub fn check_loss<T: FloatFormat, K: LossKernel<T> + ?Sized>(
    kernel: &K,
    seed: u64,
    many_classes: usize,
    policy: &LossPolicy,
) -> LossReport {
    check_loss_in::<T, T, K>(kernel, Scheme::Native, seed, many_classes, policy)
}

/// Runs a loss kernel that computes in `T` over batches generated in the input format
/// `I` (whose values are `T` values: `F16` inputs to an `f32` kernel under
/// [`Scheme::Autocast`]), judged in ulps of `I` with `scheme`'s entries.
pub fn check_loss_in<I: FloatFormat, T: FloatFormat, K: LossKernel<T> + ?Sized>(
    kernel: &K,
    scheme: Scheme,
    seed: u64,
    many_classes: usize,
    policy: &LossPolicy,
) -> LossReport {
    let fmt = I::FORMAT;
    let mut scores = Vec::new();
    for case in loss_batches_in::<I>(seed, many_classes, scheme) {
        let b = widen_batch::<I, T>(&case.batch);
        if !kernel.supports(b.m, b.variant, b.backward) {
            continue;
        }
        let Ok(exp) = expected(&b) else { continue };
        let got = kernel.loss(&b, true);
        scores.push(score_loss_in(
            &b,
            &exp,
            &got,
            (fmt, scheme),
            policy,
            case.origin,
        ));
    }
    LossReport {
        kernel: kernel.name(),
        format: fmt,
        scores,
        seed,
    }
}

/// The default seed of the loss suite's batches.
pub const DEFAULT_SEED: u64 = 0xa50f_7a11;

/// Runs a loss kernel over the generated batches (with one 1000-class batch) and
/// panics with the report when any batch is outside the policy.
pub fn assert_loss<T: FloatFormat, K: LossKernel<T> + ?Sized>(kernel: &K, policy: &LossPolicy) {
    let r = check_loss(kernel, DEFAULT_SEED, 1000, policy);
    assert!(r.passed(), "{} does not conform:\n{r}", r.kernel);
}

/// Expands, in a downstream crate's tests, to a `#[test]` that checks a batch loss
/// kernel (value, ∂L/∂X, ∂L/∂W) in format `T` against the oracle:
///
/// ```ignore
/// asoftmax_spec::loss_suite!(my_loss_f32, MyLoss, f32);
/// ```
#[macro_export]
macro_rules! loss_suite {
    ($name:ident, $kernel:expr, $t:ty) => {
        $crate::loss_suite!(
            $name,
            $kernel,
            $t,
            $crate::conformance::LossPolicy::default()
        );
    };
    ($name:ident, $kernel:expr, $t:ty, $policy:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn loss_and_gradients() {
                $crate::conformance::loss_suite::assert_loss::<$t, _>(&$kernel, &$policy);
            }
        }
    };
}
