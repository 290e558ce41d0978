//! The original SphereFace Caffe layer (`MarginInnerProductLayer`,
//! wy1iu/sphereface `tools/caffe-sphereface/src/caffe/layers/margin_inner_product_layer.cpp`):
//! the sign-trick ψ for `m ∈ {1, 2, 3, 4}` and its hand-written backward.

use super::float::{ZooFloat, caffe_powx, caffe_sign};
use crate::conformance::ScalarKernel;

/// The original layer's sign-trick forms of ψ (no `acos`, no branch index), with
/// `sign` = `caffe_cpu_sign` (`sign(0) = 0`), `s0 = sign(c)` and powers by `caffe_powx`
/// (libm `pow`):
///
/// ```text
/// m = 1:  ψ = c                                   (SINGLE: plain inner product)
/// m = 2:  ψ = 2·s0·c² − 1
/// m = 3:  s1 = sign(|c| − 1/2),  s2 = s0·(1 + s1) − 2,       ψ = s1·(4c³ − 3c) + s2
/// m = 4:  s3 = s0·sign(2c² − 1), s4 = 2·s0 + s3 − 3,         ψ = s3·(8c⁴ − 8c² + 1) + s4
/// ```
///
/// `cos_m` is the bracketed Chebyshev polynomial (`c`, `2c² − 1`, `4c³ − 3c`,
/// `8c⁴ − 8c² + 1`), and `dpsi_dcos` the layer's `coeff_w` before its normalization
/// (`1`, `4·s0·c`, `s1·(12c² − 3)`, `s3·(32c³ − 16c)`), which is the exact `dψ/dc`.
///
/// At a threshold the signs that vanish give exactly the continuous value
/// (`m = 3`, `c = ±1/2`: `ψ = −1, −3`; `m = 4`, `c = 0`: `ψ = −3`), and `|c| − 1/2` is
/// exact in floating point, so the branch choice for `m ≤ 3` is exact; for `m = 4` the
/// sign of `2·fl(c²) − 1` can be wrong only within an ulp of `1/√2`, where both branches
/// agree to `O(ulp²)`. Covers `m ∈ {1, 2, 3, 4}` only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OriginalCaffe;

/// The per-element quantities of the layer's forward for one target cosine.
struct SignTrick<T> {
    /// `ψ(c)`.
    psi: T,
    /// `T_m(c)`.
    cos_m: T,
    /// `coeff_w` = `dψ/dc`.
    coeff_w: T,
    /// `coeff_x · (−|x|)` = `−(ψ − c·ψ′)` (the layer divides it by `−|x|`).
    coeff_x_times_neg_norm: T,
}

fn sign_trick<T: ZooFloat>(m: u32, c: T) -> SignTrick<T> {
    let int = T::int;
    let s0 = caffe_sign(c);
    match m {
        1 => SignTrick {
            psi: c,
            cos_m: c,
            coeff_w: int(1),
            coeff_x_times_neg_norm: int(0),
        },
        2 => {
            let q2 = caffe_powx(c, 2);
            SignTrick {
                psi: int(2) * s0 * q2 - int(1),
                cos_m: int(2) * q2 - int(1),
                coeff_w: int(4) * s0 * c,
                coeff_x_times_neg_norm: int(2) * s0 * q2 + int(1),
            }
        }
        3 => {
            let q2 = caffe_powx(c, 2);
            let q3 = caffe_powx(c, 3);
            let s1 = caffe_sign(c.abs() + -T::lit(0.5));
            let s2 = s0 * (s1 + int(1)) + -int(2);
            let t3 = int(4) * q3 - int(3) * c;
            SignTrick {
                psi: s1 * t3 + s2,
                cos_m: t3,
                coeff_w: s1 * (int(12) * q2 - int(3)),
                coeff_x_times_neg_norm: int(8) * s1 * q3 - s2,
            }
        }
        4 => {
            let q2 = caffe_powx(c, 2);
            let q3 = caffe_powx(c, 3);
            let q4 = caffe_powx(c, 4);
            let s3 = s0 * caffe_sign(q2 * int(2) + int(-1));
            let s4 = s0 * int(2) + s3 + int(-3);
            let t4 = int(8) * q4 - int(8) * q2 + int(1);
            SignTrick {
                psi: s3 * t4 + s4,
                cos_m: t4,
                coeff_w: s3 * (int(32) * q3 - int(16) * c),
                coeff_x_times_neg_norm: s3 * (int(24) * q4 - int(8) * q2 - int(1)) - s4,
            }
        }
        _ => {
            let nan = T::lit(f64::NAN);
            SignTrick {
                psi: nan,
                cos_m: nan,
                coeff_w: nan,
                coeff_x_times_neg_norm: nan,
            }
        }
    }
}

impl<T: ZooFloat> ScalarKernel<T> for OriginalCaffe {
    fn name(&self) -> String {
        "caffe-sign-trick".into()
    }
    /// `T_m(c)` as the layer's bracket; NaN for `m ∉ {1, 2, 3, 4}` (the layer aborts).
    fn cos_m(&self, m: u32, c: T) -> T {
        sign_trick(m, c).cos_m
    }
    /// The sign-trick ψ; NaN for `m ∉ {1, 2, 3, 4}`.
    fn psi(&self, m: u32, c: T) -> T {
        sign_trick(m, c).psi
    }
    /// `coeff_w`; NaN for `m ∉ {1, 2, 3, 4}`.
    fn dpsi_dcos(&self, m: u32, c: T) -> T {
        sign_trick(m, c).coeff_w
    }
    fn supports(&self, m: u32) -> bool {
        (1..=4).contains(&m)
    }
}

/// The result of [`caffe_backward`]: `(loss, grad_x, grad_w)`, the gradients row-major
/// (`N×d` and `C×d`).
pub type CaffeBackward<T> = (T, Vec<T>, Vec<T>);

/// The original Caffe network's loss and backward for one batch: `MarginInnerProduct`
/// (`m`, `λ`) → logits times `s` → `SoftmaxWithLoss` (mean over the batch), with the
/// layer's own gradients, **not** the true ones.
///
/// Inputs are row-major: `x` is `N×d`, `w` is `C×d` (one class per row), `y` holds
/// `N` labels in `0..C`; `N = y.len()`, `d = x.len()/N`, `C = w.len()/d`. The original
/// has no scale: `s = 1` reproduces it; `s ≠ 1` models a scale layer placed between
/// the margin layer and the loss.
///
/// Forward, as the layer computes it:
/// - each row of `W` is renormalized in place: `ŵ_j = w_j · (1/√(w_j·w_j))`;
/// - `|x| = √(x·x)` and `c_j = (x·ŵ_j)·(1/|x|)` (no clamp, no epsilon: `x = 0` gives NaN);
/// - `m = 1`: `f_j = x·ŵ_j`;
///   `m ≥ 2`: `f_y = (|x|·ψ(c_y) + λ·x·ŵ_y)·(1/(1+λ))`, `f_j = (x·ŵ_j + λ·x·ŵ_j)·(1/(1+λ))`,
///   with ψ the sign trick of [`OriginalCaffe`];
/// - `SoftmaxWithLoss` on `s·f`: `loss = −(1/N) Σ_n log max(p_{n,y_n}, FLT_MIN)` (the
///   `FLT_MIN` floor, also in `f64`, is why a diverged run reports `87.3365`), and
///   `top_diff = ∂loss/∂f = s·(p − onehot(y))/N`.
///
/// Backward, as the layer computes it (`ŵ` the renormalized rows):
/// - `grad_w = top_diffᵀ · X`: the gradient of a plain inner product, ignoring the
///   margin, `λ`, and the renormalization (the true one is
///   `φ′(c)(x − (ŵ·x)ŵ)/‖w‖` for the target, see the notes §4);
/// - `grad_x`: for `j ≠ y`, `top_diff_j·ŵ_j`; for the target,
///   `top_diff_y·(λ/(1+λ)·ŵ_y + 1/(1+λ)·(ĉ_w·ŵ_y + ĉ_x·x))` where
///   `(ĉ_w, ĉ_x) = (coeff_w, coeff_x)/√(coeff_w² + coeff_x²)`,
///   `coeff_w = ψ′(c)`, `coeff_x = (ψ(c) − c·ψ′(c))/|x|`. The unnormalized pair is the
///   true gradient `ψ′ŵ + (ψ − cψ′)x/|x|` of `|x|ψ(c)`; dividing it by its own norm
///   (which mixes a pure number with a `1/|x|` quantity) deliberately changes its length,
///   so `grad_x` is not `∂loss/∂x` except for `m = 1`.
///
/// # Panics
/// If the shapes are inconsistent (`y` empty, `x.len()` not a multiple of `N`, `w.len()`
/// not a multiple of `d`, a label `≥ C`) or `m ∉ {1, 2, 3, 4}` (the layer's `LOG(FATAL)`).
pub fn caffe_backward<T: ZooFloat>(
    x: &[T],
    w: &[T],
    y: &[usize],
    m: u32,
    lambda: T,
    s: T,
) -> CaffeBackward<T> {
    assert!((1..=4).contains(&m), "Unknown margin type: m = {m}");
    let n = y.len();
    assert!(n > 0 && x.len() % n == 0, "x must be N×d with N = y.len()");
    let d = x.len() / n;
    assert!(d > 0 && w.len() % d == 0, "w must be C×d");
    let classes = w.len() / d;
    assert!(y.iter().all(|&l| l < classes), "labels must be < C");

    let dot =
        |a: &[T], b: &[T]| -> T { a.iter().zip(b).fold(T::int(0), |acc, (&u, &v)| acc + u * v) };
    let one = T::int(1);

    // Normalize weight (in place in the layer): temp_norm = 1/sqrt(w·w); w *= temp_norm.
    let mut wn = w.to_vec();
    for row in wn.chunks_mut(d) {
        let inv = one / dot(row, row).sqrt();
        for v in row.iter_mut() {
            *v = *v * inv;
        }
    }
    let xrow = |i: usize| &x[i * d..(i + 1) * d];
    let wrow = |j: usize| &wn[j * d..(j + 1) * d];

    // Forward: x_norm, cos_theta, the logits.
    let inv_1pl = one / (one + lambda);
    let mut x_norm = vec![T::int(0); n];
    let mut cos = vec![T::int(0); n * classes];
    let mut logits = vec![T::int(0); n * classes];
    for i in 0..n {
        x_norm[i] = dot(xrow(i), xrow(i)).sqrt();
        let inv_norm = one / x_norm[i];
        for j in 0..classes {
            let xw = dot(xrow(i), wrow(j));
            cos[i * classes + j] = xw * inv_norm;
            logits[i * classes + j] = if m == 1 {
                xw
            } else {
                let base = if j == y[i] {
                    x_norm[i] * sign_trick(m, cos[i * classes + j]).psi
                } else {
                    xw
                };
                (lambda * xw + base) * inv_1pl
            };
        }
    }

    // Scale, then SoftmaxWithLoss (normalization VALID = N, loss_weight 1).
    let flt_min = T::lit(f64::from(f32::MIN_POSITIVE));
    let inv_n = one / T::int(n as i64); // loss_weight / normalizer
    let mut loss = T::int(0);
    let mut top_diff = vec![T::int(0); n * classes];
    for i in 0..n {
        let row: Vec<T> = logits[i * classes..(i + 1) * classes]
            .iter()
            .map(|&f| s * f)
            .collect();
        // std::max(a, b) = (a < b) ? b : a, here and for the FLT_MIN floor (NaN stays NaN).
        let mx = row
            .iter()
            .copied()
            .fold(row[0], |a, b| if a < b { b } else { a });
        let e: Vec<T> = row.iter().map(|&v| (v - mx).exp()).collect();
        let sum = e.iter().fold(T::int(0), |a, &b| a + b);
        let mut p: Vec<T> = e.iter().map(|&v| v / sum).collect();
        let py = p[y[i]];
        loss = loss - (if py < flt_min { flt_min } else { py }).ln();
        p[y[i]] = p[y[i]] - one;
        for j in 0..classes {
            // SoftmaxWithLoss: (p − onehot)·(loss_weight/N); then the scale layer: ·s.
            top_diff[i * classes + j] = p[j] * inv_n * s;
        }
    }
    loss = loss / T::int(n as i64);

    // Gradient with respect to weight: top_diffᵀ·X (accumulated into a zeroed diff).
    let mut grad_w = vec![T::int(0); classes * d];
    for j in 0..classes {
        for k in 0..d {
            let mut acc = T::int(0);
            for i in 0..n {
                acc = acc + top_diff[i * classes + j] * x[i * d + k];
            }
            grad_w[j * d + k] = acc;
        }
    }

    // Gradient with respect to bottom data.
    let mut grad_x = vec![T::int(0); n * d];
    for i in 0..n {
        let gx = &mut grad_x[i * d..(i + 1) * d];
        if m == 1 {
            for j in 0..classes {
                let td = top_diff[i * classes + j];
                for (g, &wv) in gx.iter_mut().zip(wrow(j)) {
                    *g = *g + td * wv;
                }
            }
            continue;
        }
        for j in 0..classes {
            let td = top_diff[i * classes + j];
            if j != y[i] {
                let a = inv_1pl * td;
                for (g, &wv) in gx.iter_mut().zip(wrow(j)) {
                    *g = a * wv + *g;
                }
            } else {
                let st = sign_trick(m, cos[i * classes + j]);
                let mut coeff_w = st.coeff_w;
                let mut coeff_x = one / -x_norm[i] * st.coeff_x_times_neg_norm;
                let coeff_norm = (coeff_w * coeff_w + coeff_x * coeff_x).sqrt();
                coeff_w = coeff_w / coeff_norm;
                coeff_x = coeff_x / coeff_norm;
                let a = inv_1pl * td * coeff_w;
                for (g, &wv) in gx.iter_mut().zip(wrow(j)) {
                    *g = a * wv + *g;
                }
                let b = inv_1pl * td * coeff_x;
                for (g, &xv) in gx.iter_mut().zip(xrow(i)) {
                    *g = b * xv + *g;
                }
            }
        }
        // + λ/(1+λ) · top_diff · W (gemm with beta = 1).
        let alpha = lambda / (one + lambda);
        for k in 0..d {
            let mut acc = T::int(0);
            for j in 0..classes {
                acc = acc + top_diff[i * classes + j] * wn[j * d + k];
            }
            gx[k] = alpha * acc + gx[k];
        }
    }
    (loss, grad_x, grad_w)
}

/// The original Caffe layer (forward and its own backward) as a
/// [`LossKernel`](crate::conformance::LossKernel), for the audit: A-Softmax logits,
/// `m ≤ 4`, judged against the full gradient (which it deliberately does not compute).
#[derive(Clone, Copy, Debug, Default)]
pub struct CaffeLayer;

impl<T: ZooFloat> crate::conformance::LossKernel<T> for CaffeLayer {
    fn name(&self) -> String {
        "caffe-layer-backward".into()
    }

    fn loss(
        &self,
        b: &crate::conformance::Batch<T>,
        grad: bool,
    ) -> crate::conformance::LossGrad<T> {
        let (loss, gx, gw) = caffe_backward(&b.x, &b.w, &b.y, b.m, b.lambda, b.scale);
        crate::conformance::LossGrad {
            loss,
            grad_x: if grad { gx } else { vec![] },
            grad_w: if grad { gw } else { vec![] },
        }
    }

    fn supports(
        &self,
        m: u32,
        variant: crate::loss::Variant,
        backward: crate::loss::Backward,
    ) -> bool {
        (1..=4).contains(&m)
            && variant == crate::loss::Variant::ASoftmax
            && backward == crate::loss::Backward::Full
    }
}
