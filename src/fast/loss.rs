//! A plain batch A-Softmax / L-Softmax loss with analytic gradients, for `f32` and
//! `f64` batches, built on the fast scalar kernels. The formulas are those of the
//! oracle ([`crate::loss`]); everything is computed in `f64` (also for `f32` batches,
//! whose results are rounded once at the end) with ψ and dψ/dc from
//! [`Plan::psi_f64`]/[`Plan::dpsi_dcos_f64`].
//!
//! For sample `x` (`r = ‖x‖`, `x̂ = x/r`) and class row `W_j` (`ν_j = ‖W_j‖`,
//! `ŵ_j = W_j/ν_j`), `c_j = clamp(ŵ_j·x̂, −1, 1)` and, for the target `y`,
//! `φ(c) = (λc + ψ(c))/(1 + λ)`:
//!
//! | variant | `f_j`, `j ≠ y` | `f_y` |
//! | --- | --- | --- |
//! | [`Variant::ASoftmax`] | `s·r·c_j` | `s·r·φ(c_y)` |
//! | [`Variant::LSoftmax`] | `s·ν_j·r·c_j` | `s·ν_y·r·φ(c_y)` |
//!
//! `L = (1/N)·Σ_n (logsumexp(f) − f_y)`, evaluated as `ln_1p(Σ_{j≠y} e^{f_j − f_y})`
//! when the target logit is the largest and `(f_max − f_y) + ln Σ_j e^{f_j − f_max}`
//! otherwise, so that no logit size overflows and a dominant target keeps its relative
//! accuracy. With `g_j = (s/N)(p_j − [j = y])` (`p_y − 1 = −Σ_{j≠y} e_j / Σ_j e_j`, no
//! cancellation), `h = φ` for the target under [`Backward::Full`] and `h(c) = c`
//! otherwise (including the target under [`Backward::DetachedMargin`]):
//!
//! ```text
//! A-Softmax:  ∂f/∂x = h′·ŵ + (h − c·h′)·x̂        ∂f/∂W = (h′/ν)·(x − r·c·ŵ)
//! L-Softmax:  ∂f/∂x = h′·W + (h − c·h′)·ν·x̂      ∂f/∂W = h′·x + (h − c·h′)·r·ŵ
//! ```
//!
//! (per unit `s`; `x − r·c·ŵ` is the part of `x` orthogonal to `W`, and
//! `h − c·h′ = (ψ − c·ψ′)/(1 + λ)` for the target, `0` for a plain logit, whose
//! L-Softmax gradients are then exactly `W` and `x`). The cosine is
//! `(W·x)/(ν·r)` when both norms lie in `[10⁻¹³⁰, 10¹³⁰]` and `ŵ·x̂` otherwise.
//!
//! # Degenerate inputs (no NaN, no panic)
//!
//! - **`‖x_n‖ = 0`**: every logit is `0` and the loss is `ln C` (its limit). The
//!   gradient in `x_n` does not exist for [`Backward::Full`] with `m ≥ 2` (ℓ is not
//!   linear along rays from `0`; the oracle reports it as degenerate); this kernel returns
//!   the gradient of the *plain* cosine logits there, `(s/N)·Σ_j (1/C − [j = y])·v_j`
//!   with `v_j = ŵ_j` (A-Softmax) or `W_j` (L-Softmax) — exactly the oracle's value for
//!   `m = 1` and for [`Backward::DetachedMargin`]. The sample contributes nothing to `∂L/∂W`.
//! - **A zero row `W_j`** (A-Softmax: no direction): `ŵ_j = 0`, `c_j = 0`, the logit
//!   is `s·r·h(0)`, and `∂L/∂W_j = 0`. (L-Softmax: `ν_j = 0`, the logit is `0`, and
//!   `∂L/∂W_j = g_j·r·h′(0)·x̂`, which is the oracle's `g_j·x_n` for a non-target row.)
//! - `|ŵ·x̂|` above 1 by rounding is clamped, so ψ′ never sees `|c| > 1`.
//! - Norms are computed with a rescaling fallback, so tiny (`‖x‖ ~ 10⁻³⁰⁰`) and huge
//!   features do not underflow or overflow in `Σ x_k²`.
//! - `N = 0`, `C = 0`, or a margin outside `1..=16` give a NaN loss and zero gradients.
//!
//! Inputs must be finite and the logits must fit in `f64`.
//!
//! # Panics
//!
//! If the shapes are inconsistent (`x.len() ≠ N·d`, `w.len() ≠ C·d`, `y.len() ≠ N`)
//! or a label is `≥ C`.

use super::{Fast, Plan};
use crate::conformance::{Batch, FloatFormat, LossGrad, LossKernel};
use crate::loss::{Backward, Variant};

/// Norms in this range make `W·x` and `ν·r` safe from underflow and overflow.
const SAFE_LO: f64 = 1e-130;
const SAFE_HI: f64 = 1e130;

/// `‖v‖` without spurious underflow or overflow of `Σ v_k²`.
fn norm(v: &[f64]) -> f64 {
    let ss: f64 = v.iter().map(|t| t * t).sum();
    // 2^-960 < ss < 2^960: no intermediate can have lost more than a few ulps.
    if ss > 1.0e-289 && ss < 1.0e289 {
        return ss.sqrt();
    }
    let a = v.iter().fold(0.0f64, |m, t| m.max(t.abs()));
    if a == 0.0 || !a.is_finite() {
        return a;
    }
    let inv = 1.0 / a;
    let ss: f64 = v.iter().map(|t| (t * inv) * (t * inv)).sum();
    a * ss.sqrt()
}

/// `v/‖v‖` and `‖v‖` (`0` and the zero vector for a zero `v`).
fn unit(v: &[f64]) -> (Vec<f64>, f64) {
    let n = norm(v);
    if n == 0.0 {
        return (vec![0.0; v.len()], 0.0);
    }
    (v.iter().map(|t| t / n).collect(), n)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(u, v)| u * v).sum()
}

/// The mean A-Softmax / L-Softmax loss of a batch and (with `grad`) its gradients with
/// respect to `X` and to the raw `W` (see the [module docs](self)); the result is
/// rounded once to `T`. Empty gradient vectors when `grad` is false.
pub fn loss<T: FloatFormat>(b: &Batch<T>, grad: bool) -> LossGrad<T> {
    let (n, nc, d) = (b.n, b.classes, b.dim);
    assert_eq!(b.x.len(), n * d, "fast::loss: x must be N×d");
    assert_eq!(b.w.len(), nc * d, "fast::loss: w must be C×d");
    assert_eq!(b.y.len(), n, "fast::loss: one label per sample");
    assert!(
        b.y.iter().all(|&y| y < nc),
        "fast::loss: labels must be < C"
    );
    let zeros = |len: usize| {
        if grad {
            vec![T::from_f64(0.0); len]
        } else {
            vec![]
        }
    };
    let plan = Plan::new(b.m).filter(|_| b.m >= 1);
    let (Some(plan), true) = (plan, n > 0 && nc > 0) else {
        return LossGrad {
            loss: T::from_f64(f64::NAN),
            grad_x: zeros(n * d),
            grad_w: zeros(nc * d),
        };
    };
    let x: Vec<f64> = b.x.iter().map(|v| v.to_f64()).collect();
    let w: Vec<f64> = b.w.iter().map(|v| v.to_f64()).collect();
    let s = b.scale.to_f64();
    let lam = b.lambda.to_f64();
    let inv1l = 1.0 / (1.0 + lam);
    let lsoft = b.variant == Variant::LSoftmax;
    let full = b.backward == Backward::Full;

    let mut what = Vec::with_capacity(nc * d);
    let mut nu = Vec::with_capacity(nc);
    for j in 0..nc {
        let (u, l) = unit(&w[j * d..(j + 1) * d]);
        what.extend(u);
        nu.push(l);
    }

    let mut total = 0.0;
    let mut gx = vec![0.0; if grad { n * d } else { 0 }];
    let mut gw = vec![0.0; if grad { nc * d } else { 0 }];
    let mut c = vec![0.0; nc];
    let mut f = vec![0.0; nc];
    let mut e = vec![0.0; nc];
    let scale_n = s / n as f64;
    for i in 0..n {
        let (xhat, r) = unit(&x[i * d..(i + 1) * d]);
        let y = b.y[i];
        let safe_x = (SAFE_LO..SAFE_HI).contains(&r);
        for j in 0..nc {
            let cj = if safe_x && (SAFE_LO..SAFE_HI).contains(&nu[j]) {
                dot(&w[j * d..(j + 1) * d], &x[i * d..(i + 1) * d]) / (nu[j] * r)
            } else {
                dot(&what[j * d..(j + 1) * d], &xhat)
            };
            c[j] = cj.clamp(-1.0, 1.0);
            let kappa = if lsoft { nu[j] } else { 1.0 };
            f[j] = s * kappa * r * c[j];
        }
        let cy = c[y];
        let (psi, dpsi) = (plan.psi_f64(cy), plan.dpsi_dcos_f64(cy));
        let kappa_y = if lsoft { nu[y] } else { 1.0 };
        f[y] = s * kappa_y * r * ((lam * cy + psi) * inv1l);
        // Stable log-sum-exp.
        let fmax = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut others = 0.0;
        for j in 0..nc {
            e[j] = (f[j] - fmax).exp();
            if j != y {
                others += e[j];
            }
        }
        let sum = others + e[y];
        total += if f[y] >= fmax {
            // e_y = 1 and the others are relative to f_y: ln(1 + Σ_{j≠y} e^{f_j − f_y}).
            others.ln_1p()
        } else {
            (fmax - f[y]) + sum.ln()
        };
        if !grad {
            continue;
        }
        let gxi = &mut gx[i * d..(i + 1) * d];
        for j in 0..nc {
            let g = if j == y { -others / sum } else { e[j] / sum } * scale_n;
            if g == 0.0 {
                continue;
            }
            let cj = c[j];
            // (h, h′, h − c·h′) of the logit as the backward sees it.
            let (hp, rest) = if j == y && full && r > 0.0 {
                ((lam + dpsi) * inv1l, (psi - cj * dpsi) * inv1l)
            } else {
                (1.0, 0.0)
            };
            let wh = &what[j * d..(j + 1) * d];
            let xi = &x[i * d..(i + 1) * d];
            let gwj = &mut gw[j * d..(j + 1) * d];
            if lsoft {
                let wj = &w[j * d..(j + 1) * d];
                let (rx, rw) = (g * rest * nu[j], g * rest * r);
                for k in 0..d {
                    gxi[k] += g * hp * wj[k] + rx * xhat[k];
                    gwj[k] += g * hp * xi[k] + rw * wh[k];
                }
            } else {
                let rx = g * rest;
                for k in 0..d {
                    gxi[k] += g * hp * wh[k] + rx * xhat[k];
                }
                if nu[j] > 0.0 {
                    let (q, rc) = (g * hp / nu[j], r * cj);
                    for k in 0..d {
                        gwj[k] += q * (xi[k] - rc * wh[k]);
                    }
                }
            }
        }
    }
    LossGrad {
        loss: T::from_f64(total / n as f64),
        grad_x: gx.into_iter().map(T::from_f64).collect(),
        grad_w: gw.into_iter().map(T::from_f64).collect(),
    }
}

impl<T: FloatFormat> LossKernel<T> for Fast {
    fn name(&self) -> String {
        "fast".into()
    }
    fn loss(&self, batch: &Batch<T>, grad: bool) -> LossGrad<T> {
        loss(batch, grad)
    }
    fn supports(&self, m: u32, _: Variant, _: Backward) -> bool {
        (1..=super::MAX_M).contains(&m)
    }
}
