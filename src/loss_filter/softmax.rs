//! The softmax of one sample, written once for both tiers ([`Encl`]): its logits, the
//! target logit through ψ, the loss term and the coefficients of both gradients.
//!
//! With `D_j = x·W_j`, `ν_j = ‖W_j‖`, the logits are `f_j = s·D_j/ν_j` (`j ≠ y`) and
//! `f_y = s·r·φ(c)`; relative to the largest, `e_j = e^{f_j − f_J}`, `Z = Σ_j e_j`, and
//! `P = Σ_{j≠y} e_j/Z = 1 − p_y` is formed without cancellation. Then
//! `ℓ = log1p(Σ_{j≠y} e_j)` when `J = y`, `(f_J − f_y) + ln Z` otherwise;
//! `∂ℓ/∂x = s·(Σ_j q_j·W_j + x_coef·x)` with `q_j = p_j/ν_j`, `q_y = −P·φ′/ν_y`,
//! `x_coef = −P·β/r`; and `∂ℓ/∂W_j = s·(g_j/ν_j)·(x − (D_j/ν_j²)·W_j)` with `g_j = p_j`,
//! `g_y = −P·φ′` (book: the gradients and guarantees chapters).

use super::FloatBatch;
use super::encl::{Encl, pairwise};
use crate::arith::{Ival, rational_from_f64};
use crate::loss::Backward;
use crate::psi;

/// Per class: `1/ν_j`, `s/ν_j` (the factor of a non-target logit) and `ν_j²`.
pub(super) struct Norms<T> {
    pub inv_nu: Vec<T>,
    pub s_inv_nu: Vec<T>,
    pub nu2: Vec<T>,
}

/// `Σ_k v_k²`, enclosed by the tier's dot kernel (the row as a one-column matrix).
fn sum_squares<T: Encl>(v: &[f64]) -> T {
    T::dots(v, v, 1).pop().expect("one column")
}

/// The norms of every class row, for the logit scale `s`.
pub(super) fn norms<T: Encl>(w: &[f64], dim: usize, s: f64) -> Option<Norms<T>> {
    let rows: Vec<&[f64]> = w.chunks(dim).collect();
    let per = crate::arith::par::map(rows, |r| {
        let nu2: T = sum_squares(r);
        let one = Ival::from_integer(&1.into(), T::WP);
        let inv_nu = T::of_ival(&one.div(&nu2.ival().sqrt()?)?)?;
        Some((inv_nu.scale(s), inv_nu, nu2))
    });
    let per = per.into_iter().collect::<Option<Vec<_>>>()?;
    let mut norms = Norms {
        inv_nu: Vec::with_capacity(per.len()),
        s_inv_nu: Vec::with_capacity(per.len()),
        nu2: Vec::with_capacity(per.len()),
    };
    for (s_inv, inv, nu2) in per {
        norms.s_inv_nu.push(s_inv);
        norms.inv_nu.push(inv);
        norms.nu2.push(nu2);
    }
    Some(norms)
}

/// The target logit `f_y = s·r·φ(c)`, `φ′` and `β = φ − c·φ′` (`1` and `0` for the
/// detached margin), and `1/r`; ψ and its derivative by [`psi`] over the enclosure of `c`.
struct Target<T> {
    f: T,
    dphi: T,
    beta: T,
    inv_r: T,
}

fn target<T: Encl>(b: &FloatBatch, x: &[f64], dot: &T, nu2: &T) -> Option<Target<T>> {
    let wp = T::WP;
    let r = sum_squares::<T>(x).ival().sqrt()?;
    let one = Ival::from_integer(&1.into(), wp);
    let c = dot.ival().div(&r.mul(&nu2.ival().sqrt()?))?.clamp_unit()?;
    let psi = psi::psi_cos_ival(b.m, &c).ok()?;
    let lam = Ival::from_rational(&rational_from_f64(b.lambda).ok()?, wp);
    let one_lam = one.add(&lam);
    let phi = lam.mul(&c).add(&psi).div(&one_lam)?;
    let (dphi, beta) = match b.backward {
        Backward::Full => {
            let dpsi = psi::dpsi_dcos_ival(b.m, &c).ok()?;
            let dphi = lam.add(&dpsi).div(&one_lam)?;
            let beta = phi.sub(&c.mul(&dphi));
            (dphi, beta)
        }
        Backward::DetachedMargin => (one.clone(), Ival::from_integer(&0.into(), wp)),
    };
    let s = Ival::from_rational(&rational_from_f64(b.scale).ok()?, wp);
    Some(Target {
        f: T::of_ival(&s.mul(&r).mul(&phi))?,
        dphi: T::of_ival(&dphi)?,
        beta: T::of_ival(&beta)?,
        inv_r: T::of_ival(&one.div(&r)?)?,
    })
}

/// One sample's loss term, dot products `D_j`, and what its gradient coefficients are
/// made of (module docs): [`Softmax::g`] and [`Softmax::q`] form them per class.
pub(super) struct Softmax<T> {
    pub loss: Ival,
    pub dots: Vec<T>,
    pub x_coef: T,
    y: usize,
    e: Vec<T>,
    inv_z: T,
    target_coef: T,
}

impl<T: Encl> Softmax<T> {
    /// `g_j = p_j` (`j ≠ y`), `g_y = −P·φ′`: the coefficient of `x` in `∂ℓ/∂W_j`.
    pub fn g(&self, j: usize) -> T {
        match j == self.y {
            true => self.target_coef.clone(),
            false => self.e[j].mul(&self.inv_z),
        }
    }

    /// `q_j = g_j/ν_j`: the coefficient of `W_j` in `∂ℓ/∂x`.
    pub fn q(&self, j: usize, norms: &Norms<T>) -> T {
        self.g(j).mul(&norms.inv_nu[j])
    }
}

/// The softmax of sample `n` (`wt`: `W` transposed, `d × C`); `None` when the tier
/// cannot enclose it usefully.
pub(super) fn sample<T: Encl>(
    b: &FloatBatch,
    wt: &[f64],
    norms: &Norms<T>,
    n: usize,
) -> Option<Softmax<T>> {
    let d = b.dim;
    let dots = T::dots(&b.x[n * d..(n + 1) * d], wt, b.classes);
    sample_with(b, norms, n, dots)
}

/// [`sample`] from the sample's dot products `D_j = x_n·W_j` (`dots`, one per class).
pub(super) fn sample_with<T: Encl>(
    b: &FloatBatch,
    norms: &Norms<T>,
    n: usize,
    dots: Vec<T>,
) -> Option<Softmax<T>> {
    let (c, d) = (b.classes, b.dim);
    let x = &b.x[n * d..(n + 1) * d];
    let y = b.y[n];
    let t = target(b, x, &dots[y], &norms.nu2[y])?;
    let f: Vec<T> = (0..c)
        .map(|j| match j == y {
            true => t.f.clone(),
            false => dots[j].mul(&norms.s_inv_nu[j]),
        })
        .collect();
    let big = (0..c).max_by(|&i, &j| f[i].key().total_cmp(&f[j].key()))?;
    let e: Vec<T> = (0..c)
        .map(|j| match j == big {
            true => Some(T::exact(1.0)),
            false => f[j].sub(&f[big]).exp_nonpos(),
        })
        .collect::<Option<_>>()?;
    // Z = Σ_j e_j (e_J = 1) and Σ_{j≠y} e_j in one pass: by subtraction unless J = y,
    // where the latter is Z − 1 and is summed on its own (no cancellation when saturated).
    let sum = |skip: usize| {
        let terms: Vec<T> = (0..c)
            .filter(|&j| j != skip)
            .map(|j| e[j].clone())
            .collect();
        pairwise(&terms)
    };
    let (z, rest_y) = match big == y {
        true => {
            let rest = sum(y);
            (rest.add(&T::exact(1.0)), rest)
        }
        false => {
            let z = sum(usize::MAX);
            let rest = z.sub(&e[y]);
            (z, rest)
        }
    };
    let z_iv = z.ival();
    let loss = match big == y {
        true => rest_y.ival().ln_1p()?,
        false => f[big].sub(&f[y]).ival().add(&z_iv.ln()?),
    };
    let inv_z = T::of_ival(&Ival::from_integer(&1.into(), T::WP).div(&z_iv)?)?;
    let prest = rest_y.mul(&inv_z);
    let x_coef = prest.mul(&t.beta).mul(&t.inv_r).neg();
    Some(Softmax {
        loss,
        dots,
        x_coef,
        y,
        e,
        inv_z,
        target_coef: prest.mul(&t.dphi).neg(),
    })
}
