//! The textbook loss: the formulas evaluated naively (but with a stable log-sum-exp)
//! in the format under test; it calibrates the loss tolerances, and with a deliberate
//! [`LossFlaw`] shows that the suite bites.

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
pub(super) fn textbook_row_norms<T: KernelFloat>(b: &Batch<T>) -> Vec<T> {
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
pub(super) struct TextbookLogits<T> {
    /// `f_j`: `s·κ_j·‖x‖·c_j`, the target's `c` replaced by the λ blend
    /// `(λ·c + ψ(c))/(1 + λ)` (`κ_j = ‖W_j‖` for L-Softmax, 1 for A-Softmax).
    pub(super) f: Vec<T>,
    /// `c_j = W_j·x/(‖W_j‖‖x‖)`, clamped to [−1, 1].
    cs: Vec<T>,
    /// `‖x‖`.
    r: T,
}

pub(super) fn textbook_logits<T: KernelFloat>(
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
