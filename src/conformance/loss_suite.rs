//! Judging batch loss kernels: generated batches, the oracle's values for them,
//! the metrics (loss against its logit scale, gradients normwise), and the
//! textbook loss that calibrates the tolerances.
//!
//! - **Loss value**: `|L − L*| / ulp(S)` with the logit scale
//!   `S = s · max_n ‖x_n‖ · max(1, 2m − 1) · (max_j ‖W_j‖ for L-Softmax)`: the loss is
//!   `logsumexp(f) − f_y`, which cancels when the target dominates, so its error is
//!   measured against the size of the logits it is computed from.
//! - **Gradients**: normwise, `max_i |g_i − g*_i| / ulp(G)` over the whole `N×d`
//!   (resp. `C×d`) matrix, with `G` the largest exact component or the size of the
//!   terms it is summed from, whichever is larger (see [`scales`]).
//!
//! Tolerances are `k · m² · d` units (see [`LossPolicy`]), calibrated on the
//! [`TextbookLoss`], which evaluates the formulas naively (but with a stable
//! log-sum-exp) in the format under test.

use super::generators::Rng;
use super::kernel::{Backward, Batch, FloatFormat, KernelFloat, LossGrad, LossKernel, Variant};
use super::metrics::error_in_ulps_of;
use super::textbook::Textbook;
use crate::Error;
use crate::arith::{Format, rational_from_f64};
use crate::loss::{LossSpec, loss};
use crate::multiangle::{chebyshev_u, cos_m_recurrence};
use crate::psi::{branch_sign, psi_on_branch};
use rug::Rational;
use std::fmt;

/// The three judged outputs of a loss kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LossOp {
    /// The mean loss.
    Value,
    /// ∂L/∂X.
    GradX,
    /// ∂L/∂W.
    GradW,
}

impl LossOp {
    /// All loss ops in report order.
    pub const ALL: [LossOp; 3] = [LossOp::Value, LossOp::GradX, LossOp::GradW];
    /// `"loss"`, `"grad_x"`, `"grad_w"`.
    pub const fn name(self) -> &'static str {
        match self {
            LossOp::Value => "loss",
            LossOp::GradX => "grad_x",
            LossOp::GradW => "grad_w",
        }
    }
}

/// Tolerances for loss kernels: an output passes when its scaled error is at most
/// `per_m2d · m² · d` (d the feature dimension), per op and format — for the gradients
/// times `1 + β·S/grad_logit_unit`, with `S` the logit scale ([`logit_scale`]) and `β`
/// the balance of the softmax ([`softmax_balance`]).
///
/// Why the gradient allowance grows with `β·S`: any float evaluation computes a logit
/// with an absolute error of `O(u·S)` (more through `ψ′ ≤ m²` on the target), and the
/// softmax passes logit errors `Δ` on to the probabilities as at most `2·β·max|Δ|`.
/// When softmax saturates `β ≈ 0`, but when it is balanced (equal or nearly equal
/// logits, `β = ½` for two) the gradients inherit an error proportional to `S` in units
/// of their own scale. Found by the `loss_grad_vs_oracle` fuzz target: L-Softmax,
/// `m = 1`, `λ ≈ 70`, two equal class rows, `S ≈ 460` — the fast kernel's logit is half
/// an ulp off (the λ blend rounds), and its `∂L/∂W` 57 scaled ulps, which `4·m²·d = 8`
/// did not allow (now `8·(1 + ½·460/8) ≈ 238`).
#[derive(Clone, Debug)]
pub struct LossPolicy {
    /// `(op, format, per_m2d)`, one per pair (read with [`LossPolicy::per_m2d`], replaced
    /// with [`LossPolicy::with`]).
    entries: Vec<(LossOp, Format, f64)>,
    /// `S₀`: the gradient allowances are multiplied by `1 + β·S/S₀` (default `8`).
    pub grad_logit_unit: f64,
    /// Why.
    pub reason: &'static str,
}

impl Default for LossPolicy {
    fn default() -> Self {
        let mut entries = Vec::new();
        for fmt in [Format::F32, Format::F64] {
            entries.push((LossOp::Value, fmt, 2.0));
            entries.push((LossOp::GradX, fmt, 4.0));
            entries.push((LossOp::GradW, fmt, 4.0));
        }
        LossPolicy {
            entries,
            grad_logit_unit: 8.0,
            reason: "the cosine computed in the format has a relative error of O(d) ulps, which ψ amplifies by \
                     |ψ′| ≤ m² (value) and ψ′′ (gradients); a logit error O(u·S) reaches the gradients through \
                     the softmax balance β = max Σ p(1 − p), ½ for two equal logits (gradients: × (1 + β·S/8)); \
                     the textbook loss, measured on the generated batches (tests/conformance.rs, f32 and f64), \
                     stays within a fraction of these allowances (value 2·m²·d, gradients 4·m²·d·(1 + β·S/8)), while a missing \
                     projection or a wrong λ blend exceeds them",
        }
    }
}

impl LossPolicy {
    /// The allowance per `m²·d` for `(op, fmt)`.
    pub fn per_m2d(&self, op: LossOp, fmt: Format) -> f64 {
        self.entries
            .iter()
            .find(|(o, f, _)| *o == op && *f == fmt)
            .map(|e| e.2)
            .expect("every (op, format) has an entry")
    }

    /// Replaces the allowance per `m²·d` for `(op, fmt)` (builder style).
    pub fn with(mut self, op: LossOp, fmt: Format, per_m2d: f64) -> LossPolicy {
        for (o, f, a) in &mut self.entries {
            if (*o, *f) == (op, fmt) {
                *a = per_m2d;
            }
        }
        self
    }

    /// The allowances in scaled ulps of `(loss, grad_x, grad_w)` in format `fmt` on a
    /// batch `b`: `per_m2d·m²·d`, times `1 + β·S/grad_logit_unit` for the gradients
    /// ([`softmax_balance`] `β`, [`logit_scale`] `S`).
    pub fn allowances<T: FloatFormat>(&self, fmt: Format, b: &Batch<T>) -> [f64; 3] {
        let m2d = f64::from(b.m.max(1)).powi(2) * b.dim as f64;
        let grad_factor = 1.0 + softmax_balance(b) * logit_scale(b) / self.grad_logit_unit;
        LossOp::ALL.map(|op| {
            let base = self.per_m2d(op, fmt) * m2d;
            match op {
                LossOp::Value => base,
                LossOp::GradX | LossOp::GradW => base * grad_factor,
            }
        })
    }
}

/// A generated batch with a note saying what it exercises.
#[derive(Clone, Debug)]
pub struct BatchCase<T> {
    /// The batch.
    pub batch: Batch<T>,
    /// What it exercises.
    pub origin: String,
}

fn random_matrix<T: FloatFormat>(rng: &mut Rng, rows: usize, d: usize, scale: f64) -> Vec<T> {
    (0..rows * d)
        .map(|_| T::from_f64(rng.range(-1.0, 1.0) * scale))
        .collect()
}

/// How the features of a generated batch relate to the class rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureKind {
    /// Independent uniform entries.
    Random,
    /// Each feature is its class row times `‖x‖` with a relative jitter of 1e−7, so
    /// that a float cosine can exceed 1.
    NearlyParallel,
}

/// Loss parameters of a generated batch.
#[derive(Clone, Copy, Debug)]
pub struct BatchParams {
    /// Batch size N.
    pub n: usize,
    /// Classes C.
    pub classes: usize,
    /// Feature dimension d.
    pub dim: usize,
    /// Margin m.
    pub m: u32,
    /// λ.
    pub lambda: f64,
    /// s.
    pub scale: f64,
    /// Variant.
    pub variant: Variant,
    /// Backward semantics.
    pub backward: Backward,
    /// Feature layout.
    pub kind: FeatureKind,
    /// Typical feature norm scale.
    pub xnorm: f64,
}

/// One random batch in format `T` (W uniform in [−1, 1]).
pub fn random_batch<T: FloatFormat>(rng: &mut Rng, p: &BatchParams) -> BatchCase<T> {
    let (n, classes, dim) = (p.n, p.classes, p.dim);
    let w = random_matrix::<T>(rng, classes, dim, 1.0);
    let y: Vec<usize> = (0..n).map(|_| rng.below(classes as u64) as usize).collect();
    let x: Vec<T> = match p.kind {
        FeatureKind::NearlyParallel => (0..n)
            .flat_map(|i| {
                (0..dim)
                    .map(|k| {
                        let e = rng.range(-1.0, 1.0) * 1e-7;
                        T::from_f64(w[y[i] * dim + k].to_f64() * (1.0 + e) * p.xnorm)
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
        FeatureKind::Random => random_matrix::<T>(rng, n, dim, p.xnorm),
    };
    BatchCase {
        batch: Batch {
            x,
            w,
            y,
            n,
            classes,
            dim,
            m: p.m,
            lambda: T::from_f64(p.lambda),
            scale: T::from_f64(p.scale),
            variant: p.variant,
            backward: p.backward,
        },
        origin: format!(
            "{:?} N={n} C={classes} d={dim} m={} λ={} s={} ‖x‖~{:e} {:?} {:?}",
            p.kind, p.m, p.lambda, p.scale, p.xnorm, p.variant, p.backward
        ),
    }
}

/// Generated batches: random small batches over m ∈ {1, 2, 3, 4, 8, 16}, λ ∈ {0, 5, 1000},
/// s ∈ {1, 64}, both variants and both backward semantics; features nearly
/// parallel to their class row (so a float cosine can exceed 1); tiny and huge ‖x‖;
/// and one batch with many classes (`many_classes`, e.g. 2000; 0 for none).
pub fn loss_batches<T: FloatFormat>(seed: u64, many_classes: usize) -> Vec<BatchCase<T>> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let tiny = match T::FORMAT {
        Format::F32 => 1e-6,
        Format::F64 => 1e-20,
    };
    let base = BatchParams {
        n: 2,
        classes: 5,
        dim: 4,
        m: 1,
        lambda: 0.0,
        scale: 1.0,
        variant: Variant::ASoftmax,
        backward: Backward::Full,
        kind: FeatureKind::Random,
        xnorm: 1.0,
    };
    for m in [1u32, 2, 3, 4, 8, 16] {
        for (li, lambda) in [0.0, 5.0, 1000.0].into_iter().enumerate() {
            for variant in [Variant::ASoftmax, Variant::LSoftmax] {
                for backward in [Backward::Full, Backward::DetachedMargin] {
                    let scale = if li % 2 == 0 { 1.0 } else { 64.0 };
                    let p = BatchParams {
                        m,
                        lambda,
                        scale,
                        variant,
                        backward,
                        ..base
                    };
                    out.push(random_batch(&mut rng, &p));
                }
            }
        }
        let par = BatchParams {
            n: 2,
            classes: 4,
            dim: 6,
            m,
            kind: FeatureKind::NearlyParallel,
            ..base
        };
        out.push(random_batch(&mut rng, &par));
        let par_l = BatchParams {
            lambda: 5.0,
            scale: 64.0,
            variant: Variant::LSoftmax,
            xnorm: 3.0,
            ..par
        };
        out.push(random_batch(&mut rng, &par_l));
        let small = BatchParams {
            n: 1,
            classes: 3,
            dim: 4,
            m,
            xnorm: tiny,
            ..base
        };
        out.push(random_batch(&mut rng, &small));
        let huge = BatchParams {
            lambda: 5.0,
            scale: 64.0,
            xnorm: 1e4,
            ..small
        };
        out.push(random_batch(&mut rng, &huge));
    }
    if many_classes > 0 {
        let many = BatchParams {
            n: 1,
            classes: many_classes,
            m: 4,
            lambda: 5.0,
            scale: 64.0,
            ..base
        };
        out.push(random_batch(&mut rng, &many));
    }
    out
}

/// The exact batch as an oracle spec.
///
/// # Errors
/// [`Error::Shape`] when the flat arrays do not fit the sizes ([`Batch::check_shape`]),
/// [`Error::InvalidNumber`] for a NaN or infinite entry.
pub fn spec_of<T: FloatFormat>(b: &Batch<T>) -> Result<LossSpec, Error> {
    b.check_shape()?;
    let q = |v: T| rational_from_f64(v.to_f64());
    let rows = |v: &[T], k: usize| -> Result<Vec<Vec<Rational>>, Error> {
        (0..k)
            .map(|i| {
                v[i * b.dim..(i + 1) * b.dim]
                    .iter()
                    .map(|&t| q(t))
                    .collect()
            })
            .collect()
    };
    let mut spec = LossSpec::new(
        rows(&b.x, b.n)?,
        rows(&b.w, b.classes)?,
        b.y.clone(),
        Rational::from(b.m),
    );
    spec.lambda = q(b.lambda)?;
    spec.scale = q(b.scale)?;
    spec.variant = b.variant;
    spec.backward = b.backward;
    Ok(spec)
}

/// The oracle's loss and gradients for a batch, as exact-enough rationals
/// (64-bit enclosures' midpoints: far below any format's ulp).
pub struct Expected {
    /// The mean loss.
    pub loss: Rational,
    /// ∂L/∂X, row-major.
    pub grad_x: Vec<Rational>,
    /// ∂L/∂W, row-major.
    pub grad_w: Vec<Rational>,
}

/// Evaluates the oracle on a batch.
pub fn expected<T: FloatFormat>(b: &Batch<T>) -> Result<Expected, Error> {
    let out = loss(&spec_of(b)?, true, 64)?;
    let mid = |a: &crate::arith::Approx| a.mid().to_rational().expect("finite");
    let flat = |g: Option<Vec<Vec<crate::arith::Approx>>>| -> Vec<Rational> {
        g.unwrap_or_default().iter().flatten().map(mid).collect()
    };
    Ok(Expected {
        loss: mid(&out.loss),
        grad_x: flat(out.grad_x),
        grad_w: flat(out.grad_w),
    })
}

/// The scales against which a batch's outputs are judged: `(loss, grad_x, grad_w)`.
///
/// - loss: the logit scale `S = s·max_n ‖x_n‖·(2m − 1)` (times `max_j ‖W_j‖` for
///   L-Softmax), or `|L*|` when larger (`L ≈ ln C` for tiny logits);
/// - gradients: the largest exact component, or, when larger, the size of the terms
///   the gradient is summed from, `(s/N)·m²·κ` for X (`κ = max ‖W_j‖` for L-Softmax,
///   1 otherwise) and `(s/N)·m²·max ‖x_n‖·ρ` for W (`ρ = 1/min ‖W_j‖` for A-Softmax,
///   2 for L-Softmax). The floor matters when softmax saturates: `p_y − 1` is then
///   far below the rounding error of any float evaluation of it, and a gradient that
///   is tiny for that reason cannot be computed to its own relative accuracy.
pub fn scales<T: FloatFormat>(b: &Batch<T>, exp: &Expected) -> [Rational; 3] {
    let g = Geometry::of(b);
    let s = b.scale.to_f64();
    let m = f64::from(b.m.max(1));
    let per_sample = s / b.n as f64 * m * m;
    let (kappa, rho) = match b.variant {
        Variant::ASoftmax => (1.0, 1.0 / g.wmin),
        Variant::LSoftmax => (g.wmax, 2.0),
    };
    let q = |v: f64| Rational::from_f64(v).unwrap_or_else(|| Rational::from(1));
    let max_abs = |v: &[Rational]| {
        v.iter()
            .map(|e| Rational::from(e.abs_ref()))
            .max()
            .unwrap_or_default()
    };
    let larger = |a: Rational, b: Rational| if a > b { a } else { b };
    [
        larger(q(logit_scale(b)), Rational::from(exp.loss.abs_ref())),
        larger(q(per_sample * kappa), max_abs(&exp.grad_x)),
        larger(q(per_sample * g.xmax * rho), max_abs(&exp.grad_w)),
    ]
}

/// Largest feature norm and extreme class-row norms of a batch (in `f64`).
struct Geometry {
    xmax: f64,
    wmax: f64,
    wmin: f64,
}

impl Geometry {
    fn of<T: FloatFormat>(b: &Batch<T>) -> Geometry {
        let norm = |v: &[T]| v.iter().map(|t| t.to_f64().powi(2)).sum::<f64>().sqrt();
        let xmax = (0..b.n)
            .map(|i| norm(&b.x[i * b.dim..(i + 1) * b.dim]))
            .fold(0.0, f64::max);
        let wn: Vec<f64> = (0..b.classes)
            .map(|j| norm(&b.w[j * b.dim..(j + 1) * b.dim]))
            .collect();
        Geometry {
            xmax,
            wmax: wn.iter().copied().fold(0.0, f64::max),
            wmin: wn.iter().copied().fold(f64::INFINITY, f64::min),
        }
    }
}

/// The logit scale `S = s · max_n ‖x_n‖ · (2m − 1)` (times `max_j ‖W_j‖` for
/// L-Softmax): a bound on `|f_j|`, since `|ψ| ≤ 2m − 1`.
pub fn logit_scale<T: FloatFormat>(b: &Batch<T>) -> f64 {
    let g = Geometry::of(b);
    let m = f64::from(b.m.max(1));
    let w = match b.variant {
        Variant::ASoftmax => 1.0,
        Variant::LSoftmax => g.wmax,
    };
    b.scale.to_f64() * g.xmax * (2.0 * m - 1.0) * w
}

/// Error of a vector in ulps of `scale`: `max_i |g_i − g*_i| / ulp(scale)`
/// (∞ when the lengths differ).
pub fn normwise_error(got: &[f64], exact: &[Rational], scale: &Rational, fmt: Format) -> f64 {
    if got.len() != exact.len() {
        return f64::INFINITY;
    }
    got.iter()
        .zip(exact)
        .map(|(g, e)| error_in_ulps_of(*g, e, scale, fmt))
        .fold(0.0, f64::max)
}

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
/// `f64`) against the oracle's values, judged in format `fmt`.
pub fn score_batch<T: FloatFormat>(
    b: &Batch<T>,
    exp: &Expected,
    got: (f64, &[f64], &[f64]),
    fmt: Format,
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
        allowed: policy.allowances(fmt, b),
    }
}

/// Runs a loss kernel over the generated batches.
pub fn check_loss<T: FloatFormat, K: LossKernel<T> + ?Sized>(
    kernel: &K,
    seed: u64,
    many_classes: usize,
    policy: &LossPolicy,
) -> LossReport {
    let fmt = T::FORMAT;
    let mut scores = Vec::new();
    for case in loss_batches::<T>(seed, many_classes) {
        let b = &case.batch;
        if !kernel.supports(b.m, b.variant, b.backward) {
            continue;
        }
        let Ok(exp) = expected(b) else { continue };
        let got = kernel.loss(b, true);
        let widen = |v: &[T]| v.iter().map(|t| t.to_f64()).collect::<Vec<f64>>();
        scores.push(score_batch(
            b,
            &exp,
            (got.loss.to_f64(), &widen(&got.grad_x), &widen(&got.grad_w)),
            fmt,
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

/// Deliberate flaws for showing that the loss suite bites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossFlaw {
    /// The W gradient uses `x/‖W‖` instead of the projection `(x − (ŵ·x)ŵ)/‖W‖`.
    MissingProjection,
    /// The target logit uses `ψ(c)/(1 + λ)`, dropping the `λ·c` term of the blend.
    WrongLambdaBlend,
}

/// The textbook batch loss in the format under test: norms and dot products
/// summed naively, `c` clamped to [−1, 1], ψ by the textbook scalar kernel,
/// a max-shifted log-sum-exp, and the analytic gradients of the oracle's docs.
/// With `flaw`, one deliberate mistake is made.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextbookLoss {
    /// `None` for the correct textbook implementation.
    pub flaw: Option<LossFlaw>,
}

impl<T: KernelFloat> LossKernel<T> for TextbookLoss {
    fn name(&self) -> String {
        match self.flaw {
            None => "textbook".into(),
            Some(f) => format!("textbook with {f:?}"),
        }
    }

    fn loss(&self, b: &Batch<T>, grad: bool) -> LossGrad<T> {
        let (d, nc) = (b.dim, b.classes);
        let zero = T::from_f64(0.0);
        let one = T::from_f64(1.0);
        let lam = b.lambda;
        let s = b.scale;
        let inv1l = one.div(one.add(&lam));
        let nu = textbook_row_norms(b);
        let mut total = zero;
        let mut gx = vec![zero; b.n * d];
        let mut gw = vec![zero; nc * d];
        let inv_n = one.div(T::from_f64(b.n as f64));
        for i in 0..b.n {
            let x = &b.x[i * d..(i + 1) * d];
            let y = b.y[i];
            let TextbookLogits { f, cs, r } = textbook_logits(b, &nu, i, self.flaw);
            let fmax = f
                .iter()
                .copied()
                .fold(f[0], |a, v| if v > a { v } else { a });
            let e: Vec<T> = f.iter().map(|v| v.sub(&fmax).exp()).collect();
            let sum = e.iter().fold(zero, |a, v| a.add(v));
            total = total.add(&fmax.sub(&f[y]).add(&sum.ln()));
            if !grad {
                continue;
            }
            for j in 0..nc {
                let w = &b.w[j * d..(j + 1) * d];
                let coef = e[j]
                    .div(sum)
                    .sub(&if j == y { one } else { zero })
                    .mul(&inv_n)
                    .mul(&s);
                let c = cs[j];
                // h, h′ of the logit as seen by the backward.
                let (h, hp) = if j == y && b.backward == Backward::Full {
                    let k = Textbook::branch(b.m, c);
                    let psi = psi_on_branch(k, &cos_m_recurrence(b.m, &c));
                    let dpsi = branch_sign(k, &chebyshev_u(b.m - 1, &c).mul_int(i64::from(b.m)));
                    match self.flaw {
                        Some(LossFlaw::WrongLambdaBlend) => (psi.mul(&inv1l), dpsi.mul(&inv1l)),
                        _ => (
                            lam.mul(&c).add(&psi).mul(&inv1l),
                            lam.add(&dpsi).mul(&inv1l),
                        ),
                    }
                } else {
                    (c, one)
                };
                let rest = h.sub(&c.mul(&hp));
                for k in 0..d {
                    let what = w[k].div(nu[j]);
                    let proj = match self.flaw {
                        Some(LossFlaw::MissingProjection) => x[k],
                        _ => x[k].sub(&what.mul(&r).mul(&c)),
                    };
                    let (dx, dw) = match b.variant {
                        Variant::ASoftmax => (
                            hp.mul(&what).add(&rest.mul(&x[k].div(r))),
                            hp.mul(&proj).div(nu[j]),
                        ),
                        Variant::LSoftmax => (
                            hp.mul(&w[k]).add(&rest.mul(&nu[j].div(r)).mul(&x[k])),
                            r.mul(&h).mul(&what).add(&hp.mul(&proj)),
                        ),
                    };
                    gx[i * d + k] = gx[i * d + k].add(&coef.mul(&dx));
                    gw[j * d + k] = gw[j * d + k].add(&coef.mul(&dw));
                }
            }
        }
        LossGrad {
            loss: total.mul(&inv_n),
            grad_x: if grad { gx } else { vec![] },
            grad_w: if grad { gw } else { vec![] },
        }
    }
}

/// `‖W_j‖` of every class row, summed naively in the format.
fn textbook_row_norms<T: KernelFloat>(b: &Batch<T>) -> Vec<T> {
    let d = b.dim;
    (0..b.classes)
        .map(|j| textbook_dot(&b.w[j * d..(j + 1) * d], &b.w[j * d..(j + 1) * d]).sqrt())
        .collect()
}

fn textbook_dot<T: KernelFloat>(a: &[T], c: &[T]) -> T {
    a.iter()
        .zip(c)
        .fold(T::from_f64(0.0), |s, (u, v)| s.add(&u.mul(v)))
}

/// One sample's logits as the textbook computes them.
struct TextbookLogits<T> {
    /// `f_j`: `s·κ_j·‖x‖·c_j`, the target's `c` replaced by the λ blend
    /// `(λ·c + ψ(c))/(1 + λ)` (`κ_j = ‖W_j‖` for L-Softmax, 1 for A-Softmax).
    f: Vec<T>,
    /// `c_j = W_j·x/(‖W_j‖‖x‖)`, clamped to [−1, 1].
    cs: Vec<T>,
    /// `‖x‖`.
    r: T,
}

fn textbook_logits<T: KernelFloat>(
    b: &Batch<T>,
    nu: &[T],
    i: usize,
    flaw: Option<LossFlaw>,
) -> TextbookLogits<T> {
    let d = b.dim;
    let one = T::from_f64(1.0);
    let inv1l = one.div(one.add(&b.lambda));
    let x = &b.x[i * d..(i + 1) * d];
    let r = textbook_dot(x, x).sqrt();
    let mut f = Vec::with_capacity(b.classes);
    let mut cs = Vec::with_capacity(b.classes);
    for (j, nu_j) in nu.iter().enumerate() {
        let w = &b.w[j * d..(j + 1) * d];
        let c = textbook_dot(w, x).div(nu_j.mul(&r)).clamp_unit();
        cs.push(c);
        let kappa = if b.variant == Variant::LSoftmax {
            *nu_j
        } else {
            one
        };
        let h = if j == b.y[i] {
            let psi = psi_on_branch(Textbook::branch(b.m, c), &cos_m_recurrence(b.m, &c));
            match flaw {
                Some(LossFlaw::WrongLambdaBlend) => psi.mul(&inv1l),
                _ => b.lambda.mul(&c).add(&psi).mul(&inv1l),
            }
        } else {
            c
        };
        f.push(b.scale.mul(&kappa).mul(&r).mul(&h));
    }
    TextbookLogits { f, cs, r }
}

/// How balanced the batch's softmax is: `β = max_n Σ_j p_nj·(1 − p_nj)`, from the
/// logits evaluated in `f64` (an estimate, good to far more digits than a tolerance
/// needs). `0` when every sample's softmax is saturated, `½` for two equal logits,
/// below `1` always. A logit error `Δ` moves the probabilities by at most
/// `2·β·max|Δ|` in total (the softmax Jacobian is `p_j(δ_jk − p_k)`), so `β` says how
/// much of the `O(u·S)` logit error of a float evaluation reaches the gradients.
pub fn softmax_balance<T: FloatFormat>(b: &Batch<T>) -> f64 {
    let wide = |v: &[T]| v.iter().map(|t| t.to_f64()).collect::<Vec<f64>>();
    let b = Batch {
        x: wide(&b.x),
        w: wide(&b.w),
        y: b.y.clone(),
        n: b.n,
        classes: b.classes,
        dim: b.dim,
        m: b.m.max(1),
        lambda: b.lambda.to_f64(),
        scale: b.scale.to_f64(),
        variant: b.variant,
        backward: b.backward,
    };
    if b.y.len() != b.n || b.x.len() != b.n * b.dim || b.w.len() != b.classes * b.dim {
        return 1.0;
    }
    let nu = textbook_row_norms(&b);
    (0..b.n)
        .map(|i| {
            let f = textbook_logits(&b, &nu, i, None).f;
            let fmax = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = f.iter().map(|v| (v - fmax).exp()).collect();
            let sum: f64 = e.iter().sum();
            let beta: f64 = e.iter().map(|v| (v / sum) * (1.0 - v / sum)).sum();
            // NaN (a zero row, say) counts as fully balanced: the larger allowance.
            if beta.is_nan() { 1.0 } else { beta }
        })
        .fold(0.0, f64::max)
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
