//! The textbook loss: the formulas evaluated naively (but with a stable log-sum-exp)
//! in the format under test; it calibrates the loss tolerances, and with a deliberate
//! [`LossFlaw`] shows that the suite bites.

use crate::arith::{Format, round_f64_to};
use crate::conformance::kernel::{Backward, Batch, KernelFloat, LossGrad, LossKernel, Variant};
use crate::conformance::textbook::Textbook;
use crate::multiangle::{chebyshev_u, cos_m_recurrence};
use crate::psi::{branch_sign, psi_on_branch};

/// Deliberate flaws for showing that the loss suite bites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossFlaw {
    /// The W gradient uses `x/‖W‖` instead of the projection `(x − (ŵ·x)ŵ)/‖W‖`.
    MissingProjection,
    /// The target logit uses `ψ(c)/(1 + λ)`, dropping the `λ·c` term of the blend.
    WrongLambdaBlend,
    /// Mixed precision without a float32 upcast of the softmax: the logits and their
    /// exponentials in the half format ([`TextbookLoss::cosine`]), in the
    /// numerator/denominator form `e^{f_y} / Σ_j e^{f_j}` of many published margin
    /// losses (no max shift). `e^f` overflows binary16 for `f > 11.09`, so at `s = 64`
    /// almost every batch gives ∞/∞; the same form survives in float32 up to `f ≈ 88.7`.
    HalfSoftmax,
    /// The cosine clamped to the `acos` guard `±(1 − 10⁻⁷)` in float32 *before* it is
    /// rounded to the half format, and ψ taken through `θ = acos c` (opensphere's route):
    /// the rounding takes `1 − 10⁻⁷` back to `±1` (no binary16 or bfloat16 value lies
    /// between `1 − 2⁻¹¹` and 1), where `dψ/dc = (−1)^k m sin(mθ) / √(1 − c²)` is `0/0`:
    /// NaN gradients for every nearly (anti)parallel feature. Clamping after the rounding
    /// keeps the guard.
    ClampBeforeRounding,
    /// The squared norms `‖x‖²`, `‖W_j‖²` summed in the half format: binary16 overflows
    /// for `‖x‖ > 255.9` (SphereFace's unnormalized features reach a few hundred) and
    /// loses entries below `2⁻¹²` to underflow.
    HalfSumOfSquares,
}

/// The textbook batch loss in the format under test: norms and dot products
/// summed naively, `c` clamped to [−1, 1], ψ by the textbook scalar kernel,
/// a max-shifted log-sum-exp, and the analytic gradients of the oracle's docs.
/// With `flaw`, one deliberate mistake is made.
///
/// With `cosine: Some(half)` it is the textbook of the `autocast` mixed-precision
/// scheme ([`Scheme::Autocast`](super::Scheme)), evaluated in `T = f32` on inputs that
/// are values of `half`: the dot products and norms accumulate in float32 (products of
/// two half values are exact there), the cosine is rounded to `half` (the matmul's
/// output dtype under autocast) and clamped to [−1, 1] after that rounding, and the
/// margin, logits, softmax, loss and gradients stay in float32.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextbookLoss {
    /// `None` for the correct textbook implementation.
    pub flaw: Option<LossFlaw>,
    /// The format the cosine is rounded to (autocast's half format); `None`: none.
    pub cosine: Option<Format>,
}

impl TextbookLoss {
    /// The textbook of the `autocast` scheme with inputs in `half` (see the type docs).
    pub fn autocast(half: Format) -> TextbookLoss {
        TextbookLoss {
            flaw: None,
            cosine: Some(half),
        }
    }

    /// `v` rounded to the half format of the autocast scheme (`T`'s own when native).
    fn in_half<T: KernelFloat>(&self, v: T) -> T {
        T::from_f64(round_f64_to(v.to_f64(), self.cosine.unwrap_or(T::FORMAT)))
    }

    /// `‖v‖²`: summed in `T`, or in the half format with [`LossFlaw::HalfSumOfSquares`].
    fn norm_sq<T: KernelFloat>(&self, v: &[T]) -> T {
        if self.flaw == Some(LossFlaw::HalfSumOfSquares) {
            let half = |t: T| self.in_half(t);
            v.iter()
                .fold(T::from_f64(0.0), |s, u| half(s.add(&half(u.mul(u)))))
        } else {
            textbook_dot(v, v)
        }
    }

    /// The cosine `W_j·x/(‖W_j‖‖x‖)` as the kernel feeds it to ψ: rounded to the half
    /// format and then clamped to [−1, 1] (or clamped to the `acos` guard first, with
    /// [`LossFlaw::ClampBeforeRounding`]).
    fn cosine<T: KernelFloat>(&self, w: &[T], x: &[T], nu_j: T, r: T) -> T {
        let raw = textbook_dot(w, x).div(nu_j.mul(&r));
        if self.flaw == Some(LossFlaw::ClampBeforeRounding) {
            let guard = T::from_f64(1.0 - 1e-7);
            let clamped = if raw > guard {
                guard
            } else if raw < guard.neg() {
                guard.neg()
            } else {
                raw
            };
            self.in_half(clamped)
        } else {
            self.in_half(raw).clamp_unit()
        }
    }

    /// `(ψ(c), dψ/dc)` of the target logit: the textbook recurrences, or the `acos`
    /// route with [`LossFlaw::ClampBeforeRounding`].
    fn target_psi<T: KernelFloat>(&self, m: u32, c: T) -> (T, T) {
        if self.flaw == Some(LossFlaw::ClampBeforeRounding) {
            return acos_route_psi(m, c);
        }
        let k = Textbook::branch(m, c);
        let psi = psi_on_branch(k, &cos_m_recurrence(m, &c));
        let dpsi = branch_sign(k, &chebyshev_u(m - 1, &c).mul_int(i64::from(m)));
        (psi, dpsi)
    }

    /// The per-sample log-sum-exp pieces `(shift, e_j, Σ e_j)` with
    /// `logsumexp(f) = shift + ln Σ e_j`: max-shifted in `T`, or unshifted in the half
    /// format with [`LossFlaw::HalfSoftmax`].
    fn exponentials<T: KernelFloat>(&self, f: &[T]) -> (T, Vec<T>, T) {
        let zero = T::from_f64(0.0);
        if self.flaw == Some(LossFlaw::HalfSoftmax) {
            let e: Vec<T> = f
                .iter()
                .map(|v| self.in_half(self.in_half(*v).exp()))
                .collect();
            let sum = e.iter().fold(zero, |a, v| self.in_half(a.add(v)));
            return (zero, e, sum);
        }
        let fmax = f
            .iter()
            .copied()
            .fold(f[0], |a, v| if v > a { v } else { a });
        let e: Vec<T> = f.iter().map(|v| v.sub(&fmax).exp()).collect();
        let sum = e.iter().fold(zero, |a, v| a.add(v));
        (fmax, e, sum)
    }
}

/// ψ and dψ/dc through `θ = acos c`, `k = ⌊mθ/π⌋` (opensphere's route):
/// `ψ = (−1)^k cos(mθ) − 2k` and, by the chain rule with `acos′ = −1/√(1 − c²)`,
/// `dψ/dc = (−1)^k m sin(mθ)/√(1 − c²)`, which is `0/0 = NaN` at `c = ±1`.
fn acos_route_psi<T: KernelFloat>(m: u32, c: T) -> (T, T) {
    let mt = c.acos().mul_int(i64::from(m));
    let k = mt.div(T::PI).floor().to_f64().clamp(0.0, f64::from(m - 1)) as u32;
    let one = T::from_f64(1.0);
    let sin_theta = one.sub(&c.mul(&c)).sqrt();
    let dpsi = mt.sin().mul_int(i64::from(m)).div(sin_theta);
    (psi_on_branch(k, &mt.cos()), branch_sign(k, &dpsi))
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
        let nu = self.row_norms(b);
        let mut total = zero;
        let mut gx = vec![zero; b.n * d];
        let mut gw = vec![zero; nc * d];
        let inv_n = one.div(T::from_f64(b.n as f64));
        for i in 0..b.n {
            let x = &b.x[i * d..(i + 1) * d];
            let y = b.y[i];
            let TextbookLogits { f, cs, r } = self.logits(b, &nu, i);
            let (shift, e, sum) = self.exponentials(&f);
            total = total.add(&shift.sub(&f[y]).add(&sum.ln()));
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
                    let (psi, dpsi) = self.target_psi(b.m, c);
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

impl TextbookLoss {
    /// `‖W_j‖` of every class row, summed naively ([`TextbookLoss::norm_sq`]).
    pub(super) fn row_norms<T: KernelFloat>(&self, b: &Batch<T>) -> Vec<T> {
        let d = b.dim;
        (0..b.classes)
            .map(|j| self.norm_sq(&b.w[j * d..(j + 1) * d]).sqrt())
            .collect()
    }
}

fn textbook_dot<T: KernelFloat>(a: &[T], c: &[T]) -> T {
    a.iter()
        .zip(c)
        .fold(T::from_f64(0.0), |s, (u, v)| s.add(&u.mul(v)))
}

/// One sample's logits as the textbook computes them.
pub(super) struct TextbookLogits<T> {
    /// `f_j`: `s·κ_j·‖x‖·c_j`, the target's `c` replaced by the λ blend
    /// `(λ·c + ψ(c))/(1 + λ)` (`κ_j = ‖W_j‖` for L-Softmax, 1 for A-Softmax).
    pub(super) f: Vec<T>,
    /// `c_j = W_j·x/(‖W_j‖‖x‖)`, clamped to [−1, 1].
    cs: Vec<T>,
    /// `‖x‖`.
    r: T,
}

impl TextbookLoss {
    /// Sample `i`'s logits as this kernel computes them.
    pub(super) fn logits<T: KernelFloat>(
        &self,
        b: &Batch<T>,
        nu: &[T],
        i: usize,
    ) -> TextbookLogits<T> {
        let d = b.dim;
        let one = T::from_f64(1.0);
        let inv1l = one.div(one.add(&b.lambda));
        let x = &b.x[i * d..(i + 1) * d];
        let r = self.norm_sq(x).sqrt();
        let mut f = Vec::with_capacity(b.classes);
        let mut cs = Vec::with_capacity(b.classes);
        for (j, nu_j) in nu.iter().enumerate() {
            let c = self.cosine(&b.w[j * d..(j + 1) * d], x, *nu_j, r);
            cs.push(c);
            let kappa = if b.variant == Variant::LSoftmax {
                *nu_j
            } else {
                one
            };
            let h = if j == b.y[i] {
                let psi = self.target_psi(b.m, c).0;
                match self.flaw {
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
}
