//! The loss oracle at training sizes: a filter in `f64` double words with proven error
//! bounds in front of the exact oracle ([`crate::loss::loss`]).
//!
//! [`certify`] returns the A-Softmax loss and its gradients of a batch of floats, every
//! output correctly rounded to `f64` and `f32` — the same bits as the exact oracle, which
//! the tests check on adversarial batches. The matrix products run in double-word
//! arithmetic ([`crate::arith::dw`]: products exact by FMA, sums by TwoSum, an a-priori
//! bound per output); the `N` target logits, the reciprocal norms and the exponentials
//! are enclosed with MPFR; every output carries a proven bound, and an output is taken
//! only when its enclosure lies inside one rounding cell of both formats. An output the
//! filter cannot decide (a value on or next to a rounding midpoint, an exact zero that
//! the bound cannot prove, a cancelling sum) is taken from the exact oracle, which then
//! runs on the whole batch: [`Certified::undecided`] counts them. Batches outside the
//! filter's range ([`filterable`]: L-Softmax, inputs beyond `2^±60`, a zero row) and
//! [`Tier::Mpfr`] go to the exact oracle directly. The bounds are derived in the book
//! ([`crate::derivations::filter`]).
//!
//! ```
//! use asoftmax_spec::loss::{Backward, Variant};
//! use asoftmax_spec::loss_filter::{FloatBatch, Tier, certify};
//! let b = FloatBatch {
//!     x: &[0.3, -0.5, 1.0, 1.0, 2.0, 0.25],
//!     w: &[1.0, 0.2, 0.0, -0.4, 0.9, 0.1, 0.0, 0.0, 1.0],
//!     y: &[0, 2],
//!     n: 2, classes: 3, dim: 3, m: 4, lambda: 0.0, scale: 1.0,
//!     variant: Variant::ASoftmax, backward: Backward::Full,
//! };
//! let fast = certify(&b, Tier::Filter).unwrap();
//! let exact = certify(&b, Tier::Mpfr).unwrap();
//! assert_eq!(fast.loss.f64.to_bits(), exact.loss.f64.to_bits());
//! assert!(fast.grad_w.iter().zip(&exact.grad_w).all(|(a, b)| a.f32.to_bits() == b.f32.to_bits()));
//! ```

use crate::arith::dw::{Dw, dot_bound, dot_rows, two_sum};
use crate::arith::{Approx, Format, Ival, par, rational_from_f64};
use crate::loss::{Backward, LossSpec, Variant, loss};
use crate::{Error, psi};
use rug::{Float, Rational};

/// MPFR's working precision for the few values the filter encloses with it.
const WP: u32 = 192;

/// A batch of floats (`f32` or `f64` values, held as `f64`), row-major.
#[derive(Clone, Copy, Debug)]
pub struct FloatBatch<'a> {
    /// Features, `N × d`.
    pub x: &'a [f64],
    /// Class weights, `C × d`.
    pub w: &'a [f64],
    /// Labels, `N` entries below `C`.
    pub y: &'a [usize],
    /// Batch size `N`.
    pub n: usize,
    /// Classes `C`.
    pub classes: usize,
    /// Feature dimension `d`.
    pub dim: usize,
    /// Integer margin `m ≥ 1`.
    pub m: u32,
    /// Annealing weight `λ ≥ 0` of `φ(c) = (λc + ψ(c))/(1 + λ)`.
    pub lambda: f64,
    /// Logit scale `s > 0`.
    pub scale: f64,
    /// A-Softmax or L-Softmax logits.
    pub variant: Variant,
    /// Full gradient or detached margin.
    pub backward: Backward,
}

impl FloatBatch<'_> {
    /// The exact oracle's spec of the same batch (every float is an exact rational).
    pub fn spec(&self) -> Result<LossSpec, Error> {
        if self.x.len() != self.n * self.dim || self.w.len() != self.classes * self.dim {
            return Err(Error::Shape {
                what: format!(
                    "x has {} entries and w {}, expected N·d = {} and C·d = {}",
                    self.x.len(),
                    self.w.len(),
                    self.n * self.dim,
                    self.classes * self.dim
                ),
            });
        }
        let rows = |v: &[f64]| -> Result<Vec<Vec<Rational>>, Error> {
            v.chunks(self.dim.max(1))
                .map(|r| r.iter().map(|&t| rational_from_f64(t)).collect())
                .collect()
        };
        let mut spec = LossSpec::new(
            rows(self.x)?,
            rows(self.w)?,
            self.y.to_vec(),
            Rational::from(self.m),
        );
        spec.lambda = rational_from_f64(self.lambda)?;
        spec.scale = rational_from_f64(self.scale)?;
        spec.variant = self.variant;
        spec.backward = self.backward;
        Ok(spec)
    }
}

/// Which tier computes the outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// The double-word filter, the exact oracle for what it leaves undecided.
    Filter,
    /// The exact oracle for every output (to compare the tiers on any input).
    Mpfr,
}

/// One output, correctly rounded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rounded {
    /// The value rounded to `f64`.
    pub f64: f64,
    /// The value rounded to `f32`.
    pub f32: f32,
    /// The value minus `f64`, to within `2⁻⁹⁰·|value|` (a reference for measuring
    /// errors below an ulp; not correctly rounded).
    pub lo: f64,
}

impl Rounded {
    fn of_approx(a: &Approx) -> Rounded {
        let hi = a.f64();
        let lo = if hi.is_finite() {
            let mid = a.mid();
            Float::with_val(mid.prec() + 64, &mid - hi).to_f64()
        } else {
            0.0
        };
        Rounded {
            f64: hi,
            f32: a.f32(),
            lo,
        }
    }

    fn of_dw(v: Dw) -> Option<Rounded> {
        let f64 = v.round(Format::F64)?;
        let f32 = v.round(Format::F32)? as f32;
        let lo = (v.hi - f64) + v.lo;
        Some(Rounded { f64, f32, lo })
    }
}

/// The certified loss and gradients of a [`FloatBatch`].
#[derive(Clone, Debug)]
pub struct Certified {
    /// `L`.
    pub loss: Rounded,
    /// `∂L/∂X`, `N × d` row-major.
    pub grad_x: Vec<Rounded>,
    /// `∂L/∂W`, `C × d` row-major.
    pub grad_w: Vec<Rounded>,
    /// Outputs the filter did not decide (taken from the exact oracle).
    pub undecided: usize,
    /// `true` when the exact oracle ran (for undecided outputs, an unfilterable batch,
    /// or [`Tier::Mpfr`]).
    pub exact_tier: bool,
}

/// The loss and gradients of `b`, every output correctly rounded to `f64` and `f32`
/// (module docs). Errors are the exact oracle's ([`crate::loss`]).
pub fn certify(b: &FloatBatch, tier: Tier) -> Result<Certified, Error> {
    let outputs = 1 + (b.n + b.classes) * b.dim;
    let filtered = match tier {
        Tier::Filter => enclosures(b),
        Tier::Mpfr => None,
    };
    let Some(dws) = filtered else {
        return exact(b);
    };
    let mut rounded: Vec<Option<Rounded>> = dws.into_iter().map(Rounded::of_dw).collect();
    let undecided = rounded.iter().filter(|r| r.is_none()).count();
    if undecided == 0 {
        let all: Vec<Rounded> = rounded.into_iter().map(|r| r.expect("decided")).collect();
        return Ok(assemble(b, all, 0, false));
    }
    let exact = exact(b)?;
    let mut from_exact = std::iter::once(exact.loss)
        .chain(exact.grad_x)
        .chain(exact.grad_w);
    for r in rounded.iter_mut().take(outputs) {
        let e = from_exact.next().expect("one exact output per output");
        r.get_or_insert(e);
    }
    let all = rounded.into_iter().map(|r| r.expect("filled")).collect();
    Ok(assemble(b, all, undecided, true))
}

/// Outputs in order (the loss, `∂L/∂X`, `∂L/∂W`) as a [`Certified`].
fn assemble(b: &FloatBatch, mut all: Vec<Rounded>, undecided: usize, exact: bool) -> Certified {
    let grad_w = all.split_off(1 + b.n * b.dim);
    let grad_x = all.split_off(1);
    Certified {
        loss: all[0],
        grad_x,
        grad_w,
        undecided,
        exact_tier: exact,
    }
}

/// The exact oracle on the whole batch.
fn exact(b: &FloatBatch) -> Result<Certified, Error> {
    let out = loss(&b.spec()?, true, 64)?;
    let flat = |g: Option<Vec<Vec<Approx>>>| -> Vec<Rounded> {
        g.into_iter()
            .flatten()
            .flatten()
            .map(|a| Rounded::of_approx(&a))
            .collect()
    };
    Ok(Certified {
        loss: Rounded::of_approx(&out.loss),
        grad_x: flat(out.grad_x),
        grad_w: flat(out.grad_w),
        undecided: 0,
        exact_tier: true,
    })
}

/// `true` when the filter applies: A-Softmax, sizes consistent and nonzero, labels in
/// range, every input, `λ` and `s` zero or of magnitude in `[2⁻⁶⁰, 2⁶⁰]`, `s ≤ 2²⁰`
/// (so that no product underflows or overflows where a bound assumes it does not), and
/// no zero row of `X` or `W` (the exact oracle's degenerate cases).
pub fn filterable(b: &FloatBatch) -> bool {
    let in_range = |v: f64| v == 0.0 || (v.abs() >= 2f64.powi(-60) && v.abs() <= 2f64.powi(60));
    let zero_row = |v: &[f64]| v.chunks(b.dim.max(1)).any(|r| r.iter().all(|&t| t == 0.0));
    b.variant == Variant::ASoftmax
        && b.n > 0
        && b.classes > 0
        && b.dim > 0
        && b.x.len() == b.n * b.dim
        && b.w.len() == b.classes * b.dim
        && b.y.len() == b.n
        && b.y.iter().all(|&l| l < b.classes)
        && b.m >= 1
        && b.m <= 64
        && b.lambda >= 0.0
        && b.scale > 0.0
        && b.scale <= 2f64.powi(20)
        && [b.lambda, b.scale]
            .iter()
            .chain(b.x)
            .chain(b.w)
            .all(|&v| in_range(v))
        && !zero_row(b.x)
        && !zero_row(b.w)
}

/// A double word from an MPFR enclosure, `None` (the filter gives up) when out of range.
fn dw(iv: &Ival) -> Option<Dw> {
    Dw::from_ival(iv)
}

/// The exact `Σ_k v_k²` of a row, enclosed ([`dot_rows`] with one column).
fn sum_squares(v: &[f64], zeros: &[f64]) -> Dw {
    let mut out = [Vec::new(), Vec::new(), Vec::new()];
    dot_rows(v, &zeros[..v.len()], v, 1, &mut out);
    let (hi, lo) = two_sum(out[0][0], out[1][0]);
    Dw {
        hi,
        lo,
        err: dot_bound(v.len()) * out[2][0],
    }
}

/// Per class: `1/‖W_j‖` as a double word and `‖W_j‖²` enclosed.
struct Norms {
    inv_nu: Vec<Dw>,
    nu2: Vec<Dw>,
}

fn norms(w: &[f64], dim: usize, zeros: &[f64]) -> Option<Norms> {
    let rows: Vec<&[f64]> = w.chunks(dim).collect();
    let per = par::map(rows, |r| {
        let s = sum_squares(r, zeros);
        let inv = Ival::from_integer(&1.into(), WP).div(&s.to_ival(WP).sqrt()?)?;
        Some((dw(&inv)?, s))
    });
    let (inv_nu, nu2) = per
        .into_iter()
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .unzip();
    Some(Norms { inv_nu, nu2 })
}

/// The target logit of one sample and the coefficients of its gradient:
/// `f_y = s·r·φ(c)`, `φ′` and `β = φ − c·φ′` (both `1` and `0` for the detached margin).
struct Target {
    f: Dw,
    dphi: Dw,
    beta: Dw,
    inv_r: Dw,
}

fn target(b: &FloatBatch, x: &[f64], dot: Dw, nu2: Dw, zeros: &[f64]) -> Option<Target> {
    let r2 = sum_squares(x, zeros).to_ival(WP);
    let r = r2.sqrt()?;
    let one = Ival::from_integer(&1.into(), WP);
    let c = dot
        .to_ival(WP)
        .div(&r.mul(&nu2.to_ival(WP).sqrt()?))?
        .clamp_unit()?;
    let psi = psi::psi_cos_ival(b.m, &c).ok()?;
    let dpsi = psi::dpsi_dcos_ival(b.m, &c).ok()?;
    let lam = Ival::from_rational(&rational_from_f64(b.lambda).ok()?, WP);
    let one_lam = one.add(&lam);
    let phi = lam.mul(&c).add(&psi).div(&one_lam)?;
    let (dphi, beta) = match b.backward {
        Backward::Full => {
            let dphi = lam.add(&dpsi).div(&one_lam)?;
            let beta = phi.sub(&c.mul(&dphi));
            (dphi, beta)
        }
        Backward::DetachedMargin => (one.clone(), Ival::from_integer(&0.into(), WP)),
    };
    let s = Ival::from_rational(&rational_from_f64(b.scale).ok()?, WP);
    Some(Target {
        f: dw(&s.mul(&r).mul(&phi))?,
        dphi: dw(&dphi)?,
        beta: dw(&beta)?,
        inv_r: dw(&one.div(&r)?)?,
    })
}

/// `e^t` for `t ≤ 0` (up to its error): MPFR's correctly rounded 106-bit value, whose
/// trailing part is exact in `f64`, with relative error `2⁻¹⁰⁵ + (e^δ − 1)` for the
/// input's error `δ ≤ 2⁻²⁰` (plus `2⁻¹¹⁸` for rounding the input to 128 bits); below `e^{−625} < 2⁻⁹⁰¹`, zero with error `2⁻⁹⁰⁰`.
fn exp_dw(t: Dw) -> Option<Dw> {
    if t.err > 1.0 / (1u64 << 20) as f64 {
        return None;
    }
    if t.hi < -625.0 {
        return Some(Dw {
            hi: 0.0,
            lo: 0.0,
            err: 2f64.powi(-900),
        });
    }
    // The input rounded to 128 bits (error below 2^-118 for |t| < 626), its exponential
    // correctly rounded to 106 bits, so that `v − hi` is exact in f64.
    let arg = Float::with_val(128, t.hi) + t.lo;
    let v = Float::with_val(106, arg.exp_ref());
    let hi = v.to_f64();
    let lo = Float::with_val(106, &v - hi).to_f64();
    let delta = t.err + 2f64.powi(-118);
    let rel = 2f64.powi(-105) + delta * 1.000_001;
    Some(Dw {
        hi,
        lo,
        err: (hi.abs() + lo.abs()) * rel,
    })
}

/// Coefficients of one sample's softmax for the two backward products: `q_j` multiplies
/// `W_j` in `∂ℓ/∂x`, `g_j` multiplies `x` in `∂ℓ/∂W_j`; `x_coef` multiplies `x` in `∂ℓ/∂x`.
struct Sample {
    loss: Ival,
    dots: Vec<Dw>,
    g: Vec<Dw>,
    grad_x: Vec<Dw>,
}

/// The per-row relative bound `ρ` and absolute bound `η` of coefficients (`err ≤ ρ·|hi|`
/// where `hi ≠ 0`, `err ≤ η` where `hi = 0`), and their leading and trailing parts.
struct Coefs {
    hi: Vec<f64>,
    lo: Vec<f64>,
    rho: f64,
    eta: f64,
}

impl Coefs {
    fn of(v: &[Dw]) -> Coefs {
        let (mut rho, mut eta) = (0.0f64, 0.0f64);
        for c in v {
            if c.hi == 0.0 {
                eta = eta.max(c.err);
            } else {
                rho = rho.max(c.err / c.hi.abs());
            }
        }
        Coefs {
            hi: v.iter().map(|c| c.hi).collect(),
            lo: v.iter().map(|c| c.lo).collect(),
            rho: rho * (1.0 + 1e-15),
            eta,
        }
    }

    /// `Σ_i c_i·rows[i][k]` for every `k`, enclosed: [`dot_rows`]'s bound plus the
    /// coefficients' own (`ρ·Σ|hi·row| + η·Σ|row|`, `col_abs[k] = Σ_i |rows[i][k]|`).
    fn times(&self, rows: &[f64], width: usize, col_abs: &[f64]) -> Vec<Dw> {
        let mut out = [Vec::new(), Vec::new(), Vec::new()];
        dot_rows(&self.hi, &self.lo, rows, width, &mut out);
        let kb = dot_bound(self.hi.len()) + self.rho * (1.0 + 2.0 * crate::arith::dw::U);
        (0..width)
            .map(|k| {
                let (hi, lo) = two_sum(out[0][k], out[1][k]);
                Dw {
                    hi,
                    lo,
                    err: kb * out[2][k] + self.eta * col_abs[k],
                }
            })
            .collect()
    }
}

/// Everything shared by the per-sample and per-class passes.
struct Shared<'a> {
    b: &'a FloatBatch<'a>,
    wt: Vec<f64>,
    norms: Norms,
    zeros: Vec<f64>,
    w_col_abs: Vec<f64>,
    s_over_n: Dw,
}

/// One sample: its logits, softmax, loss term, `∂L/∂x_n` and the coefficients `g`.
fn sample(sh: &Shared, n: usize) -> Option<Sample> {
    let b = sh.b;
    let (c, d) = (b.classes, b.dim);
    let x = &b.x[n * d..(n + 1) * d];
    let y = b.y[n];
    let logit_dots = Coefs {
        hi: x.to_vec(),
        lo: sh.zeros[..d].to_vec(),
        rho: 0.0,
        eta: 0.0,
    };
    let dots = logit_dots.times(&sh.wt, c, &sh.zeros);
    let t = target(b, x, dots[y], sh.norms.nu2[y], &sh.zeros)?;
    let f: Vec<Dw> = (0..c)
        .map(|j| match j == y {
            true => t.f,
            false => dots[j] * sh.norms.inv_nu[j] * b.scale,
        })
        .collect();
    let big = (0..c).max_by(|&i, &j| f[i].hi.total_cmp(&f[j].hi))?;
    let e: Vec<Dw> = (0..c)
        .map(|j| match j == big {
            true => Some(Dw::exact(1.0)),
            false => exp_dw(f[j] - f[big]),
        })
        .collect::<Option<_>>()?;
    let rest_y = (0..c).filter(|&j| j != y).fold(Dw::ZERO, |a, j| a + e[j]);
    let z = if big == y {
        rest_y + Dw::exact(1.0)
    } else {
        (0..c).fold(Dw::ZERO, |a, j| a + e[j])
    };
    let z_iv = z.to_ival(WP);
    let loss = if big == y {
        rest_y.to_ival(WP).ln_1p()?
    } else {
        (f[big] - f[y]).to_ival(WP).add(&z_iv.ln()?)
    };
    let inv_z = dw(&Ival::from_integer(&1.into(), WP).div(&z_iv)?)?;
    let prest = rest_y * inv_z;
    let target_coef = -(prest * t.dphi);
    let g: Vec<Dw> = (0..c)
        .map(|j| match j == y {
            true => target_coef,
            false => e[j] * inv_z,
        })
        .collect();
    let q: Vec<Dw> = (0..c).map(|j| g[j] * sh.norms.inv_nu[j]).collect();
    let x_coef = -(prest * t.beta * t.inv_r);
    let grad_x = Coefs::of(&q)
        .times(b.w, d, &sh.w_col_abs)
        .into_iter()
        .zip(x)
        .map(|(ek, &xk)| (ek + x_coef * xk) * sh.s_over_n)
        .collect();
    Some(Sample {
        loss,
        dots,
        g,
        grad_x,
    })
}

/// `∂L/∂W_j = (s/N)·(1/ν_j)·(Σ_n g_nj·x_n − (Σ_n g_nj·D_nj)·W_j/ν_j²)`.
fn class_grad(sh: &Shared, samples: &[Sample], j: usize, x_col_abs: &[f64]) -> Vec<Dw> {
    let b = sh.b;
    let d = b.dim;
    let g: Vec<Dw> = samples.iter().map(|s| s.g[j]).collect();
    let f = Coefs::of(&g).times(b.x, d, x_col_abs);
    let h = samples
        .iter()
        .zip(&g)
        .fold(Dw::ZERO, |a, (s, gj)| a + *gj * s.dots[j]);
    let inv_nu = sh.norms.inv_nu[j];
    let h_over = h * inv_nu * inv_nu;
    let scale = inv_nu * sh.s_over_n;
    f.into_iter()
        .zip(&b.w[j * d..(j + 1) * d])
        .map(|(fk, &wk)| (fk - h_over * wk) * scale)
        .collect()
}

/// The filter's enclosures of every output (the loss, `∂L/∂X`, `∂L/∂W`), each a double
/// word whose bound is proven; `None` when the batch is not [`filterable`] or the
/// filter gives up on it (an exponential's input too uncertain, a cosine enclosure
/// outside `[−1, 1]`).
pub fn enclosures(b: &FloatBatch) -> Option<Vec<Dw>> {
    if !filterable(b) {
        return None;
    }
    let (c, d) = (b.classes, b.dim);
    let zeros = vec![0.0; c.max(d).max(b.n)];
    let norms = norms(b.w, d, &zeros)?;
    let mut wt = vec![0.0; c * d];
    for j in 0..c {
        for k in 0..d {
            wt[k * c + j] = b.w[j * d + k];
        }
    }
    let col_abs = |v: &[f64]| {
        let mut s = vec![0.0; d];
        for row in v.chunks(d) {
            for (a, &t) in s.iter_mut().zip(row) {
                *a += t.abs();
            }
        }
        s
    };
    let s_over_n = Ival::from_rational(&(rational_from_f64(b.scale).ok()? / b.n as u32), WP);
    let sh = Shared {
        b,
        wt,
        norms,
        w_col_abs: col_abs(b.w),
        zeros,
        s_over_n: dw(&s_over_n)?,
    };
    let samples: Vec<Sample> = par::map((0..b.n).collect(), |n| sample(&sh, n))
        .into_iter()
        .collect::<Option<_>>()?;
    let x_col_abs = col_abs(b.x);
    let grad_w = par::map((0..c).collect(), |j| {
        class_grad(&sh, &samples, j, &x_col_abs)
    });
    let mut total = Ival::from_integer(&0.into(), WP);
    for s in &samples {
        total = total.add(&s.loss);
    }
    let n_iv = Ival::from_integer(&(b.n as u32).into(), WP);
    let mut out = vec![dw(&total.div(&n_iv)?)?];
    out.extend(samples.iter().flat_map(|s| s.grad_x.iter().copied()));
    out.extend(grad_w.into_iter().flatten());
    Some(out)
}
