//! What a batch is judged by: the oracle's values for it ([`expected`]), the scales its
//! errors are measured against ([`scales`], [`logit_scale`]), the normwise error, and the
//! softmax balance that grows the gradient allowance.

use super::textbook::TextbookLoss;
use crate::Error;
use crate::arith::{Format, rational_from_f64};
use crate::conformance::kernel::{Batch, FloatFormat, Variant};
use crate::conformance::metrics::error_in_ulps_of;
use crate::loss::{LossSpec, loss};
use rug::Rational;

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
    let m = if b.head.is_some() { 1 } else { b.m };
    let mut spec = LossSpec::new(
        rows(&b.x, b.n)?,
        rows(&b.w, b.classes)?,
        b.y.clone(),
        Rational::from(m),
    );
    spec.lambda = q(b.lambda)?;
    spec.scale = q(b.scale)?;
    if b.head.is_none() {
        spec.variant = b.variant;
        spec.backward = b.backward;
    }
    spec.head = b.head.clone();
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
    let (kappa, rho) = match (&b.head, b.variant) {
        // Cosine logits: |∂f/∂x| ≤ s·m1/‖x‖ and |∂f/∂W| ≤ s·m1/‖W‖ (|dt/dc|·sin θ ≤ m1).
        (Some(h), _) => {
            let m1 = h.margin.m1.to_f64().max(1.0);
            (m1 / g.xmin, m1 / (g.wmin * g.xmax))
        }
        (None, Variant::ASoftmax) => (1.0, 1.0 / g.wmin),
        (None, Variant::LSoftmax) => (g.wmax, 2.0),
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
    xmin: f64,
    wmax: f64,
    wmin: f64,
}

impl Geometry {
    fn of<T: FloatFormat>(b: &Batch<T>) -> Geometry {
        let norm = |v: &[T]| v.iter().map(|t| t.to_f64().powi(2)).sum::<f64>().sqrt();
        let xn: Vec<f64> = (0..b.n)
            .map(|i| norm(&b.x[i * b.dim..(i + 1) * b.dim]))
            .collect();
        let xmax = xn.iter().copied().fold(0.0, f64::max);
        let xmin = xn.iter().copied().fold(f64::INFINITY, f64::min);
        let wn: Vec<f64> = (0..b.classes)
            .map(|j| norm(&b.w[j * b.dim..(j + 1) * b.dim]))
            .collect();
        Geometry {
            xmax,
            xmin,
            wmax: wn.iter().copied().fold(0.0, f64::max),
            wmin: wn.iter().copied().fold(f64::INFINITY, f64::min),
        }
    }
}

/// The logit scale `S = s · max_n ‖x_n‖ · (2m − 1)` (times `max_j ‖W_j‖` for
/// L-Softmax): a bound on `|f_j|`, since `|ψ| ≤ 2m − 1`.
pub fn logit_scale<T: FloatFormat>(b: &Batch<T>) -> f64 {
    if let Some(h) = &b.head {
        // Cosine logits: |t(c)| ≤ 1 + m2·sin m2 + |m3| ≤ 1 + m2 + |m3|.
        let c = &h.margin;
        return b.scale.to_f64() * (1.0 + c.m2.to_f64() + c.m3.to_f64().abs());
    }
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

/// How balanced the batch's softmax is: `β = max_n Σ_j p_nj·(1 − p_nj)`, from the
/// logits evaluated in `f64` (an estimate, good to far more digits than a tolerance
/// needs). `0` when every sample's softmax is saturated, `½` for two equal logits,
/// below `1` always. A logit error `Δ` moves the probabilities by at most
/// `2·β·max|Δ|` in total (the softmax Jacobian is `p_j(δ_jk − p_k)`), so `β` says how
/// much of the `O(u·S)` logit error of a float evaluation reaches the gradients.
pub fn softmax_balance<T: FloatFormat>(b: &Batch<T>) -> f64 {
    if b.head.is_some() {
        return head_estimates(b).0;
    }
    let mut b = widen_batch::<T, f64>(b);
    b.m = b.m.max(1);
    if b.y.len() != b.n || b.x.len() != b.n * b.dim || b.w.len() != b.classes * b.dim {
        return 1.0;
    }
    let textbook = TextbookLoss::default();
    let nu = textbook.row_norms(&b);
    (0..b.n)
        .map(|i| {
            let f = textbook.logits(&b, &nu, i).f;
            let fmax = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = f.iter().map(|v| (v - fmax).exp()).collect();
            let sum: f64 = e.iter().sum();
            let beta: f64 = e.iter().map(|v| (v / sum) * (1.0 - v / sum)).sum();
            // NaN (a zero row, say) counts as fully balanced: the larger allowance.
            if beta.is_nan() { 1.0 } else { beta }
        })
        .fold(0.0, f64::max)
}

/// For a head batch: the softmax balance β (as [`softmax_balance`]) and the largest
/// `|dt/dc|` at the targets' cosines, analytic or under the batch's semantics (at least 1;
/// `∞` where the slope is not finite: the value's error follows the analytic slope even
/// when the backward is straight-through), from
/// `f64` cosines and the head oracle at 24 bits: estimates for the allowances. The
/// target logit's slope is how much of the cosine's rounding error reaches the logit
/// (for ArcFace `sin(θ + m)/sin θ`, unbounded as θ → 0: the acos is ill-conditioned there).
pub fn head_estimates<T: FloatFormat>(b: &Batch<T>) -> (f64, f64) {
    let Some(h) = &b.head else {
        return (1.0, 1.0);
    };
    let (d, s) = (b.dim, b.scale.to_f64());
    let row = |v: &[T], i: usize| -> Vec<f64> {
        v[i * d..(i + 1) * d].iter().map(|t| t.to_f64()).collect()
    };
    let norm = |v: &[f64]| v.iter().map(|t| t * t).sum::<f64>().sqrt();
    let (mut beta, mut amp) = (0.0f64, 1.0f64);
    for (i, &y) in b.y.iter().enumerate().take(b.n) {
        let x = row(&b.x, i);
        let mut f = Vec::with_capacity(b.classes);
        for j in 0..b.classes {
            let w = row(&b.w, j);
            let c = x.iter().zip(&w).map(|(a, c)| a * c).sum::<f64>() / (norm(&x) * norm(&w));
            let c = if c.is_nan() { 0.0 } else { c.clamp(-1.0, 1.0) };
            if j != y {
                f.push(s * c);
                continue;
            }
            let cq = Rational::from_f64(c).unwrap_or_default();
            let t = crate::head::target_logit(&h.margin, &cq, 24).map_or(c, |a| a.f64());
            f.push(s * t);
            // The value t(c) carries the cosine's error times the analytic slope whatever
            // the backward's semantics; the backward multiplies by the semantics' slope.
            for sem in [crate::head::Semantics::Analytic, h.semantics] {
                amp = amp.max(match crate::head::target_slope(&h.margin, &cq, sem, 24) {
                    Ok(crate::head::Slope::Finite(v)) => v.f64().abs(),
                    _ => f64::INFINITY,
                });
            }
        }
        let fmax = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = f.iter().map(|v| (v - fmax).exp()).collect();
        let sum: f64 = e.iter().sum();
        let bn: f64 = e.iter().map(|v| (v / sum) * (1.0 - v / sum)).sum();
        beta = beta.max(if bn.is_nan() { 1.0 } else { bn });
    }
    (beta, amp)
}

/// The batch `b` of `I` values as `T` values (exact: every `I` value is a `T` value).
pub(super) fn widen_batch<I: FloatFormat, T: FloatFormat>(b: &Batch<I>) -> Batch<T> {
    let widen = |v: &[I]| v.iter().map(|t| T::from_f64(t.to_f64())).collect();
    Batch {
        x: widen(&b.x),
        w: widen(&b.w),
        y: b.y.clone(),
        n: b.n,
        classes: b.classes,
        dim: b.dim,
        m: b.m,
        lambda: T::from_f64(b.lambda.to_f64()),
        scale: T::from_f64(b.scale.to_f64()),
        variant: b.variant,
        backward: b.backward,
        head: b.head.clone(),
    }
}
