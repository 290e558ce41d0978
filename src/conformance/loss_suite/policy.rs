//! The loss tolerance table: per output and format, an allowance in scaled ulps per
//! `m²·d`, grown for the gradients with the softmax balance times the logit scale.

use super::metrics::{head_estimates, logit_scale, softmax_balance};
use super::scheme::Scheme;
use crate::arith::Format;
use crate::conformance::kernel::{Batch, FloatFormat};

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
    /// `(op, format, scheme, per_m2d)`, one per triple (read with
    /// [`LossPolicy::per_m2d_in`], replaced with [`LossPolicy::with_in`]).
    entries: Vec<(LossOp, Format, Scheme, f64)>,
    /// `S₀`: the gradient allowances are multiplied by `1 + β·S/S₀` (default `8`).
    pub grad_logit_unit: f64,
    /// Why (the [`Scheme::Native`] entries).
    pub reason: &'static str,
    /// Why (the [`Scheme::Autocast`] entries).
    pub autocast_reason: &'static str,
}

impl Default for LossPolicy {
    fn default() -> Self {
        let mut entries = Vec::new();
        let native = Format::EVERY.map(|f| (f, Scheme::Native));
        let autocast = [Format::F16, Format::Bf16].map(|f| (f, Scheme::Autocast));
        for (fmt, scheme) in native.into_iter().chain(autocast) {
            entries.push((LossOp::Value, fmt, scheme, 2.0));
            entries.push((LossOp::GradX, fmt, scheme, 4.0));
            entries.push((LossOp::GradW, fmt, scheme, 4.0));
        }
        LossPolicy {
            entries,
            grad_logit_unit: 8.0,
            autocast_reason: AUTOCAST_REASON,
            reason: "the cosine computed in the format has a relative error of O(d) ulps, which ψ amplifies by \
                     |ψ′| ≤ m² (value) and ψ′′ (gradients); a logit error O(u·S) reaches the gradients through \
                     the softmax balance β = max Σ p(1 − p), ½ for two equal logits (gradients: × (1 + β·S/8)); \
                     the textbook loss, measured on the generated batches (tests/conformance.rs, f64, f32, f16, bf16), \
                     stays within a fraction of these allowances (value 2·m²·d, gradients 4·m²·d·(1 + β·S/8)), while a missing \
                     projection or a wrong λ blend exceeds them",
        }
    }
}

/// Why the [`Scheme::Autocast`] entries are what they are.
const AUTOCAST_REASON: &str = "autocast rounds the cosine to the 16-bit dtype once (the matmul's output), an error of \
    half an ulp of the dtype that ψ amplifies by |ψ′| ≤ m² and the softmax passes on through β·S exactly as a \
    native logit error: the native entries' form and factors, in ulps of the dtype; the autocast textbook \
    (tests/mixed_precision.rs, f16 and bf16) stays within a fraction of them, while an f16 softmax without float32 \
    upcast (∞/∞ at s = 64), a cosine clamped to the acos guard before the f16 rounding (0/0 at c = ±1) and an f16 \
    sum of squares for the norms (∞ for ‖x‖ > 256) give NaN or ∞, which always fail";

impl LossPolicy {
    /// The allowance per `m²·d` for `(op, fmt)` in the [`Scheme::Native`] scheme.
    pub fn per_m2d(&self, op: LossOp, fmt: Format) -> f64 {
        self.per_m2d_in(op, fmt, Scheme::Native)
    }

    /// The allowance per `m²·d` for `(op, fmt, scheme)`; `0` (nothing passes) for a
    /// combination the scheme does not take ([`Scheme::check_dtype`]).
    pub fn per_m2d_in(&self, op: LossOp, fmt: Format, scheme: Scheme) -> f64 {
        self.entries
            .iter()
            .find(|(o, f, s, _)| (*o, *f, *s) == (op, fmt, scheme))
            .map_or(0.0, |e| e.3)
    }

    /// Replaces the allowance per `m²·d` for `(op, fmt)` in the native scheme (builder style).
    pub fn with(self, op: LossOp, fmt: Format, per_m2d: f64) -> LossPolicy {
        self.with_in(op, fmt, Scheme::Native, per_m2d)
    }

    /// Replaces the allowance per `m²·d` for `(op, fmt, scheme)` (builder style).
    pub fn with_in(mut self, op: LossOp, fmt: Format, scheme: Scheme, per_m2d: f64) -> LossPolicy {
        for (o, f, s, a) in &mut self.entries {
            if (*o, *f, *s) == (op, fmt, scheme) {
                *a = per_m2d;
            }
        }
        self
    }

    /// The reason for the entries of `scheme`.
    pub fn reason_for(&self, scheme: Scheme) -> &'static str {
        match scheme {
            Scheme::Native => self.reason,
            Scheme::Autocast => self.autocast_reason,
        }
    }

    /// The allowances in scaled ulps of `(loss, grad_x, grad_w)` in format `fmt` and
    /// `scheme` on a batch `b`: `per_m2d·m²·d`, times `1 + β·S/grad_logit_unit` for the
    /// gradients ([`softmax_balance`] `β`, [`logit_scale`] `S`).
    pub fn allowances<T: FloatFormat>(
        &self,
        fmt: Format,
        scheme: Scheme,
        b: &Batch<T>,
    ) -> [f64; 3] {
        // ψ amplifies the cosine's error by |ψ′| ≤ m²; a head by |dt/dc| (its slope at the
        // batch's targets, `head_estimates`), and the gradients by its square (dt/dc
        // itself is computed from the rounded cosine).
        let d = b.dim as f64;
        let (value_amp, grad_amp) = match &b.head {
            Some(_) => {
                let a = head_estimates(b).1;
                (a, a * a)
            }
            None => {
                let m2 = f64::from(b.m.max(1)).powi(2);
                (m2, m2)
            }
        };
        let grad_factor = 1.0 + softmax_balance(b) * logit_scale(b) / self.grad_logit_unit;
        LossOp::ALL.map(|op| {
            let per = self.per_m2d_in(op, fmt, scheme);
            match op {
                LossOp::Value => per * value_amp * d,
                LossOp::GradX | LossOp::GradW => per * grad_amp * d * grad_factor,
            }
        })
    }
}
