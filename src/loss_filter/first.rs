//! The first tier: every output of the batch in double words. The per-sample work is
//! [`super::softmax::sample_with`], in groups of samples; the two backward products,
//! `Σ_j q_nj·W_j` per sample and `Σ_n g_nj·x_n` per class, go through [`dot_rows`] with
//! the bound of the loop plus the coefficients' own bounds.

use super::FloatBatch;
use super::encl::Coefs;
use super::encl::Encl;
use super::softmax::{Norms, Softmax, norms, sample_with};
use crate::arith::dw::Dw;
use crate::arith::{Ival, par, rational_from_f64};

/// `Σ_i |rows[i][k]|` for every column `k` of a matrix `width` wide.
fn col_abs(rows: &[f64], width: usize) -> Vec<f64> {
    let mut s = vec![0.0; width];
    for row in rows.chunks(width) {
        for (a, &t) in s.iter_mut().zip(row) {
            *a += t.abs();
        }
    }
    s
}

/// `W` transposed, `d × C`: the rows of the logits' product.
pub(super) fn transpose(w: &[f64], classes: usize, dim: usize) -> Vec<f64> {
    let mut wt = vec![0.0; classes * dim];
    for j in 0..classes {
        for k in 0..dim {
            wt[k * classes + j] = w[j * dim + k];
        }
    }
    wt
}

/// Samples per pass over `W`: the group's coefficient rows share each tile of it
/// ([`dot_rows_group`](crate::arith::dw::dot_rows_group)), which reads `W` from memory
/// once per group instead of once per sample.
const GROUP: usize = 8;

/// What the per-class pass keeps of a sample: the loss term, `D_n•`, `g_n•`.
struct Kept {
    loss: Ival,
    dots: Vec<Dw>,
    g: Vec<Dw>,
}

/// What every group of samples reads: the batch, `W` transposed, the class norms,
/// `Σ_j |W_jk|`, `s/N`, and whether every input is an `f32`.
struct Shared<'a> {
    b: &'a FloatBatch<'a>,
    wt: Vec<f64>,
    norms: Norms<Dw>,
    w_col_abs: Vec<f64>,
    s_over_n: Dw,
    f32_inputs: bool,
}

impl Shared<'_> {
    /// The samples `ns` (one group): their logits in one pass over `W`, each softmax,
    /// and `∂L/∂x_n` in another pass; `None` when a sample cannot be enclosed.
    fn group(&self, ns: &[usize]) -> Option<Vec<(Kept, Vec<Dw>)>> {
        let (b, c, d) = (self.b, self.b.classes, self.b.dim);
        let xs: Vec<&[f64]> = ns.iter().map(|&n| &b.x[n * d..(n + 1) * d]).collect();
        // With f32 inputs every product of the logits is exact in binary64.
        let dots = match self.f32_inputs {
            true => Coefs::exact_f32_group(&xs, &self.wt, c),
            false => Dw::dots_group(&xs, &self.wt, c),
        };
        let sms = ns
            .iter()
            .zip(dots)
            .map(|(&n, dots)| sample_with(b, &self.norms, n, dots))
            .collect::<Option<Vec<Softmax<Dw>>>>()?;
        let coefs: Vec<Coefs> = sms
            .iter()
            .map(|sm| Coefs::of(&(0..c).map(|j| sm.q(j, &self.norms)).collect::<Vec<_>>()))
            .collect();
        let products = Coefs::times_group(&coefs, b.w, d, &self.w_col_abs);
        let done = sms.into_iter().zip(products).zip(xs).map(|((sm, e), x)| {
            let grad_x: Vec<Dw> = e
                .into_iter()
                .zip(x)
                .map(|(ek, &xk)| (ek + sm.x_coef * xk) * self.s_over_n)
                .collect();
            let g = (0..c).map(|j| sm.g(j)).collect();
            let kept = Kept {
                loss: sm.loss,
                g,
                dots: sm.dots,
            };
            (kept, grad_x)
        });
        Some(done.collect())
    }
}

/// Every output (the loss, `∂L/∂X`, `∂L/∂W`) as a double word; `None` when a sample
/// cannot be enclosed in this tier.
pub(super) fn outputs(b: &FloatBatch) -> Option<Vec<Dw>> {
    let (c, d) = (b.classes, b.dim);
    let s_over_n = Ival::from_rational(&(rational_from_f64(b.scale).ok()? / b.n as u32), 192);
    let shared = Shared {
        b,
        wt: transpose(b.w, c, d),
        norms: norms(b.w, d, b.scale)?,
        w_col_abs: col_abs(b.w, d),
        s_over_n: Dw::from_ival(&s_over_n)?,
        f32_inputs: b.x.iter().chain(b.w).all(|&v| f64::from(v as f32) == v),
    };
    // Samples in groups: each pass over W (the logits' and ∂L/∂x's products) serves
    // GROUP samples.
    let groups: Vec<Vec<usize>> = (0..b.n)
        .collect::<Vec<_>>()
        .chunks(GROUP)
        .map(<[usize]>::to_vec)
        .collect();
    let per_group = par::map(groups, |ns| shared.group(&ns));
    let (kept, grad_x): (Vec<Kept>, Vec<Vec<Dw>>) = per_group
        .into_iter()
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .flatten()
        .unzip();
    let x_col_abs = col_abs(b.x, d);
    let grad_w = par::map((0..c).collect(), |j| {
        class_grad(b, &kept, &shared.norms, shared.s_over_n, j, &x_col_abs)
    });
    let total = kept
        .iter()
        .fold(Ival::from_integer(&0.into(), 192), |a, k| a.add(&k.loss));
    let n_iv = Ival::from_integer(&(b.n as u32).into(), 192);
    let mut out = vec![Dw::from_ival(&total.div(&n_iv)?)?];
    out.extend(grad_x.into_iter().flatten());
    out.extend(grad_w.into_iter().flatten());
    Some(out)
}

/// `∂L/∂W_j = (s/N)·(1/ν_j)·(Σ_n g_nj·x_n − (Σ_n g_nj·D_nj)·W_j/ν_j²)`.
fn class_grad(
    b: &FloatBatch,
    kept: &[Kept],
    norms: &Norms<Dw>,
    s_over_n: Dw,
    j: usize,
    x_col_abs: &[f64],
) -> Vec<Dw> {
    let d = b.dim;
    let g: Vec<Dw> = kept.iter().map(|k| k.g[j]).collect();
    let f = Coefs::of(&g).times(b.x, d, x_col_abs);
    let h = kept
        .iter()
        .zip(&g)
        .fold(Dw::ZERO, |a, (k, gj)| a + *gj * k.dots[j]);
    let inv_nu = norms.inv_nu[j];
    let h_over = h * inv_nu * inv_nu;
    let scale = inv_nu * s_over_n;
    f.into_iter()
        .zip(&b.w[j * d..(j + 1) * d])
        .map(|(fk, &wk)| (fk - h_over * wk) * scale)
        .collect()
}
