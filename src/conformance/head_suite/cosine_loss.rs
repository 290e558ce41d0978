//! A loss kernel on cosines ([`CosineLossKernel`]: the mean loss, `∂L/∂c` and MagFace's
//! `∂L/∂a` of a [`CosineLossBatch`]) judged on the cosine batches of a head
//! ([`cosine_batches`]) against the loss oracle ([`crate::loss::family`]), scored as
//! `check` scores version 4 lines ([`score_cosine`], [`cosine_allowances`]).
//!
//! [`cosine_allowances`]: crate::conformance::loss_suite::cosine_allowances

use super::cosine::{CosineLossBatch, CosineOptions, cosine_batches, takes_cosines};
use crate::Error;
use crate::arith::Format;
use crate::conformance::kernel::FloatFormat;
use crate::conformance::loss_suite::{CosineOp, CosineScore, LossPolicy, Scheme, score_cosine};
use crate::conformance::scalar_suite::fmt_err;
use crate::head::{Kind, Semantics};
use crate::names::Name;
use rug::Rational;
use std::fmt;

/// Bits of the oracle's outputs the suite scores against (far below an ulp of `f64`).
const ORACLE_PREC: u32 = 64;

/// The gradient semantics the suite runs, in order.
const SEMANTICS: [Semantics; 3] = [
    Semantics::Analytic,
    Semantics::StraightThrough,
    Semantics::DifferentiableAcos,
];

/// A loss kernel's outputs on a cosine batch.
#[derive(Clone, Debug, PartialEq)]
pub struct CosineLossOutput<T> {
    /// The mean loss `L`.
    pub loss: T,
    /// `∂L/∂c_nj`, `N × C` (`None` when the kernel was not asked for gradients).
    pub grad_cos: Option<Vec<Vec<T>>>,
    /// MagFace's `∂L/∂a_n`, `N` (`None` for the other heads).
    pub grad_a: Option<Vec<T>>,
}

/// A float implementation of a head's loss on cosines, in format `T`: given
/// [`CosineLossBatch`] (`c_nj`, labels, each sample's head state, `s`, `λ_g`, SphereFace2's
/// parameters, the gradient semantics) the mean loss
/// `L = (1/N)·Σ_n ln(1 + Σ_{j≠y} e^{s·u(c_nj) − s·t(c_ny)}) + (λ_g/N)·Σ_n g(a_n)`
/// (SphereFace2: its weighted binary cross-entropy) and, with `grad`, `∂L/∂c` and
/// MagFace's `∂L/∂a` ([`crate::loss::family`]).
pub trait CosineLossKernel<T: FloatFormat> {
    /// A short name for reports.
    fn name(&self) -> String;
    /// The mean loss and, with `grad`, its gradients.
    fn loss(&self, batch: &CosineLossBatch<T>, grad: bool) -> CosineLossOutput<T>;
    /// Whether the kernel implements `kind` under `semantics` (the suite skips the
    /// others); default: all.
    fn supports(&self, kind: Kind, semantics: Semantics) -> bool {
        let _ = (kind, semantics);
        true
    }
}

/// A cosine loss kernel's report over a head's cosine batches.
#[derive(Clone, Debug)]
pub struct CosineLossReport {
    /// The kernel's name.
    pub kernel: String,
    /// The head.
    pub kind: Kind,
    /// The format.
    pub format: Format,
    /// Every batch's score (its origin names the semantics and the batch).
    pub scores: Vec<CosineScore>,
    /// The seed of the batches.
    pub seed: u64,
}

impl CosineLossReport {
    /// The failing batches.
    pub fn failures(&self) -> Vec<&CosineScore> {
        self.scores.iter().filter(|s| !s.passed()).collect()
    }

    /// `true` when at least one batch was scored and every batch passed.
    pub fn passed(&self) -> bool {
        !self.scores.is_empty() && self.failures().is_empty()
    }

    /// The batch with the largest error over allowance of `op` (and that ratio), among
    /// the batches where `op` was scored.
    pub fn worst(&self, op: CosineOp) -> Option<(f64, &CosineScore)> {
        self.scores
            .iter()
            .filter_map(|s| s.op(op).map(|o| (o.badness, s)))
            .fold(None, |acc, (b, s)| match acc {
                Some((a, _)) if a >= b => acc,
                _ => Some((b, s)),
            })
    }
}

impl fmt::Display for CosineLossReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} loss on cosines, {} {}: {} batches, {} failures, seed {:#x}",
            self.kernel,
            self.kind.name(),
            self.format.name(),
            self.scores.len(),
            self.failures().len(),
            self.seed
        )?;
        for op in CosineOp::ALL {
            if let Some((ratio, s)) = self.worst(op) {
                let o = s.op(op).expect("scored");
                let row = o.row.map(|r| format!(" row {r}")).unwrap_or_default();
                writeln!(
                    f,
                    "  {}: worst {} scaled ulps{row} ({ratio:.3} of the allowance {:.1}) on [{}]",
                    op.name(),
                    fmt_err(o.error),
                    o.allowed,
                    s.origin
                )?;
            }
        }
        for s in self.failures().iter().take(5) {
            let ops: Vec<String> = CosineOp::ALL
                .iter()
                .filter_map(|&op| s.op(op).map(|o| (op, o)))
                .filter(|(_, o)| o.failed)
                .map(|(op, o)| format!("{} {} > {:.1}", op.name(), fmt_err(o.error), o.allowed))
                .collect();
            writeln!(f, "  FAIL [{}]: {}", s.origin, ops.join(", "))?;
        }
        if self.scores.is_empty() {
            writeln!(f, "  no batch scored: the kernel supports none of them")?;
        }
        Ok(())
    }
}

/// A kernel output's components widened to `f64`, row-major.
fn widen<T: FloatFormat>(v: &[T]) -> Vec<f64> {
    v.iter().map(|t| t.to_f64()).collect()
}

/// The oracle's exact outputs on a batch: `L`, `∂L/∂c` and MagFace's `∂L/∂a`, the
/// gradients empty where the oracle has none (a slope `±∞` at `c = ±1`, MagFace at a
/// kink of its clamp).
struct Exact {
    loss: Rational,
    grad_cos: Vec<Vec<Rational>>,
    grad_a: Vec<Rational>,
}

impl Exact {
    /// The oracle on `b` ([`crate::conformance::loss_suite::CosineInput::oracle_or_value`]).
    fn of<T: FloatFormat>(b: &CosineLossBatch<T>) -> Result<Exact, Error> {
        let ((value, grad_cos, grad_a), _) = b.input().oracle_or_value(ORACLE_PREC)?;
        let mid = |a: &crate::arith::Approx| a.mid().to_rational().expect("finite");
        Ok(Exact {
            loss: mid(&value),
            grad_cos: grad_cos
                .unwrap_or_default()
                .iter()
                .map(|r| r.iter().map(mid).collect())
                .collect(),
            grad_a: grad_a.unwrap_or_default().iter().map(mid).collect(),
        })
    }

    /// Whether the oracle has the gradients.
    fn has_gradients(&self) -> bool {
        !self.grad_cos.is_empty()
    }
}

/// Scores a kernel's output `got` on batch `b` against the oracle's `exact` outputs (the
/// gradients where the oracle has them; the kernel was asked for them exactly then).
fn score_batch<T: FloatFormat>(
    b: &CosineLossBatch<T>,
    exact: &Exact,
    got: &CosineLossOutput<T>,
    policy: &LossPolicy,
) -> CosineScore {
    let got_g: Vec<f64> = got
        .grad_cos
        .as_deref()
        .map(|g| g.iter().flat_map(|r| widen(r)).collect())
        .unwrap_or_default();
    let got_a = got.grad_a.as_deref().map(widen).unwrap_or_default();
    let origin = format!(
        "{} {} {}: {}",
        b.kind.name(),
        b.semantics.name(),
        if exact.has_gradients() {
            "with gradients"
        } else {
            "loss only"
        },
        b.origin
    );
    score_cosine(
        &b.tolerance_batch(),
        (&exact.loss, &exact.grad_cos, &exact.grad_a),
        (got.loss.to_f64(), &got_g, &got_a),
        (T::FORMAT, Scheme::Native),
        policy,
        origin,
    )
}

/// Runs a loss kernel on cosines over the cosine batches of `kind` under each gradient
/// semantics it supports ([`CosineOptions::suite`] from `seed`), every operation in `T`,
/// scored as `check` scores version 4 lines under `policy`; batches where the oracle has
/// no gradient are scored on the loss only. An [`Error::Domain`] for a head that does not
/// take cosines; an oracle error (none is expected on these batches) is returned.
pub fn check_cosine_loss<T: FloatFormat, K: CosineLossKernel<T> + ?Sized>(
    kernel: &K,
    kind: Kind,
    seed: u64,
    policy: &LossPolicy,
) -> Result<CosineLossReport, Error> {
    if !takes_cosines(kind) {
        // The generator's error for a features head.
        cosine_batches::<T>(kind, &CosineOptions::suite(seed, Semantics::Analytic))?;
    }
    let mut scores = Vec::new();
    for sem in SEMANTICS.into_iter().filter(|&s| kernel.supports(kind, s)) {
        let batches = cosine_batches::<T>(kind, &CosineOptions::suite(seed, sem))?;
        // The oracle and the scoring in parallel, the kernel (which need not be `Sync`)
        // in turn.
        let exact = crate::arith::par::map(batches, |b| Exact::of(&b).map(|e| (b, e)));
        let mut runs = Vec::with_capacity(exact.len());
        for r in exact {
            let (b, e) = r?;
            let got = kernel.loss(&b, e.has_gradients());
            runs.push((b, e, got));
        }
        let scored = crate::arith::par::map(runs, |(b, e, got)| score_batch(&b, &e, &got, policy));
        scores.extend(scored);
    }
    Ok(CosineLossReport {
        kernel: kernel.name(),
        kind,
        format: T::FORMAT,
        scores,
        seed,
    })
}

/// Runs a loss kernel on cosines over the cosine batches of `kind` (seed
/// [`DEFAULT_SEED`](crate::conformance::loss_suite::DEFAULT_SEED)) and panics with the
/// report when a batch is outside `policy`, when no batch is supported, or when `kind`
/// does not take cosines.
pub fn assert_cosine_loss<T: FloatFormat, K: CosineLossKernel<T> + ?Sized>(
    kernel: &K,
    kind: Kind,
    policy: &LossPolicy,
) {
    let seed = crate::conformance::loss_suite::DEFAULT_SEED;
    let r = check_cosine_loss(kernel, kind, seed, policy)
        .unwrap_or_else(|e| panic!("no cosine batches for {}: {e}", kind.name()));
    assert!(r.passed(), "{} does not conform:\n{r}", r.kernel);
}

/// Expands, in a downstream crate's tests, to a `#[test]` that checks a loss kernel on
/// cosines ([`CosineLossKernel`]: loss, ∂L/∂c, MagFace's ∂L/∂a) on the cosine batches of
/// one head kind in format `T`. The kind is a [`Kind`](crate::head::Kind) variant that
/// takes cosines ([`takes_cosines`](crate::conformance::head_suite::takes_cosines)); an
/// optional fifth argument gives the [`LossPolicy`](crate::conformance::LossPolicy).
///
/// ```
/// use asoftmax_spec::conformance::head_suite::{
///     CosineLossBatch, CosineLossKernel, CosineLossOutput,
/// };
/// use asoftmax_spec::head::family::{Head, RVersion};
/// use asoftmax_spec::head::{Kind, Semantics};
///
/// /// opensphere's SphereFace-R (`spherefacer.py`) with its `no_grad` margin: `v1` moves
/// /// the target to `cos(min(mθ, π))`, `v2` the others to `cos(θ/m)`; every slope is 1.
/// struct SphereFaceR;
///
/// impl CosineLossKernel<f64> for SphereFaceR {
///     fn name(&self) -> String {
///         "sphereface-r".into()
///     }
///     fn supports(&self, kind: Kind, semantics: Semantics) -> bool {
///         kind == Kind::SphereFaceR && semantics == Semantics::StraightThrough
///     }
///     fn loss(&self, b: &CosineLossBatch<f64>, grad: bool) -> CosineLossOutput<f64> {
///         let (s, n) = (b.scale, b.cos.len() as f64);
///         let (mut loss, mut grad_cos) = (0.0, Vec::new());
///         for ((row, &y), head) in b.cos.iter().zip(&b.y).zip(&b.heads) {
///             let Head::SphereFaceR { m, version } = head else { unreachable!() };
///             let m = m.to_f64();
///             let f: Vec<f64> = (0..row.len())
///                 .map(|j| {
///                     let theta = row[j].acos();
///                     s * match (version, j == y) {
///                         (RVersion::V1, true) => (m * theta).min(std::f64::consts::PI).cos(),
///                         (RVersion::V2, false) => (theta / m).cos(),
///                         _ => row[j],
///                     }
///                 })
///                 .collect();
///             let top = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
///             let sum: f64 = f.iter().map(|v| (v - top).exp()).sum();
///             loss += (top + sum.ln() - f[y]) / n;
///             let p = |j: usize| (f[j] - top).exp() / sum - f64::from(u8::from(j == y));
///             grad_cos.push((0..f.len()).map(|j| p(j) * s / n).collect());
///         }
///         CosineLossOutput { loss, grad_cos: grad.then_some(grad_cos), grad_a: None }
///     }
/// }
///
/// // In a test file, the one line:
/// asoftmax_spec::cosine_loss_suite!(sphereface_r_f64, SphereFaceR, f64, SphereFaceR);
///
/// fn main() {
///     // What that test runs:
///     asoftmax_spec::conformance::head_suite::assert_cosine_loss::<f64, _>(
///         &SphereFaceR,
///         Kind::SphereFaceR,
///         &asoftmax_spec::conformance::LossPolicy::default(),
///     );
/// }
/// ```
#[macro_export]
macro_rules! cosine_loss_suite {
    ($name:ident, $kernel:expr, $t:ty, $kind:ident) => {
        $crate::cosine_loss_suite!(
            $name,
            $kernel,
            $t,
            $kind,
            $crate::conformance::LossPolicy::default()
        );
    };
    ($name:ident, $kernel:expr, $t:ty, $kind:ident, $policy:expr) => {
        $crate::__head_kind_loss_test!(
            $name,
            cosine_loss_and_gradients,
            assert_cosine_loss,
            $kernel,
            $t,
            $kind,
            $policy
        );
    };
}
