//! clcarwin/sphereface_pytorch (`net_sphere.py`, `AngleLinear`): the hard-coded
//! Chebyshev table (`phiflag=True`, the default) and the Taylor-series path
//! (`phiflag=False`).
//!
//! Both start from `cos_theta = clamp(c, −1, 1)`.

use super::float::{
    ZooFloat, on_branch, signed_by, torch_acos_grad, torch_clamp, torch_clamp_passes, torch_pow,
    torch_pow_grad,
};
use crate::conformance::ScalarKernel;

/// The truncated π of `k = (self.m*theta/3.14159265).floor()`.
///
/// As a double it is `π − 3.59e−9`; rounded to `f32` (PyTorch casts the Python scalar to
/// the tensor dtype) it becomes `3.14159274…` = `fl32(π)`, which is *above* π.
#[allow(clippy::approx_constant)] // the point: the source's truncated literal
pub const TRUNCATED_PI: f64 = 3.141_592_65;

/// sphereface_pytorch's hard-coded multiple-angle table (`self.mlambda`) with an
/// acos-based branch index and a truncated π:
///
/// ```text
/// T_0 = x**0, T_1 = x**1, T_2 = 2*x**2-1, T_3 = 4*x**3-3*x,
/// T_4 = 8*x**4-8*x**2+1, T_5 = 16*x**5-20*x**3+5*x            (x = clamp(c, −1, 1))
/// θ = acos(x) (detached),  k = ⌊m·θ / 3.14159265⌋,  ψ = (−1)^k·T_m(x) − 2k
/// ```
///
/// with PyTorch's `**` ([`super::float::torch_pow`]: `x·x`, `x·x·x`, libm `pow` from
/// the 4th power on) and `(−1)^k` as `(k·0 − 1)**k`.
///
/// In `f64` the constant is below π, so `k` is one too large on a window just below
/// each threshold `θ = jπ/m` (just above `c = cos(jπ/m)`), of width
/// `j·(π − 3.14159265)/m` in θ; in `f32` it rounds to `fl32(π) > π` (see
/// [`TRUNCATED_PI`]). Either way ψ changes only by `O((mδ)²)` there, but `dψ/dc` has the
/// wrong sign. `dψ/dc` is autograd's: θ is detached, so it is `(−1)^k·T_m′(x)` (ATen's
/// `pow_backward`), finite everywhere. Covers `m ≤ 5` (`m ≥ 1` here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardCodedT;

impl HardCodedT {
    /// `mlambda[m](x)`; NaN for `m > 5` (the Python list has no such entry).
    pub fn mlambda<T: ZooFloat>(m: u32, x: T) -> T {
        let int = T::int;
        match m {
            0 => torch_pow(x, 0),
            1 => torch_pow(x, 1),
            2 => int(2) * torch_pow(x, 2) - int(1),
            3 => int(4) * torch_pow(x, 3) - int(3) * x,
            4 => int(8) * torch_pow(x, 4) - int(8) * torch_pow(x, 2) + int(1),
            5 => int(16) * torch_pow(x, 5) - int(20) * torch_pow(x, 3) + int(5) * x,
            _ => T::lit(f64::NAN),
        }
    }

    /// Autograd's derivative of [`HardCodedT::mlambda`].
    pub fn mlambda_grad<T: ZooFloat>(m: u32, x: T) -> T {
        let int = T::int;
        match m {
            0 => torch_pow_grad(x, 0),
            1 => torch_pow_grad(x, 1),
            2 => int(2) * torch_pow_grad(x, 2),
            3 => int(4) * torch_pow_grad(x, 3) - int(3),
            4 => int(8) * torch_pow_grad(x, 4) - int(8) * torch_pow_grad(x, 2),
            5 => int(16) * torch_pow_grad(x, 5) - int(20) * torch_pow_grad(x, 3) + int(5),
            _ => T::lit(f64::NAN),
        }
    }

    /// The branch index `k = ⌊m·acos(clamp(c, −1, 1))/3.14159265⌋` as a float.
    pub fn branch<T: ZooFloat>(m: u32, c: T) -> T {
        let theta = torch_clamp(c, T::int(-1), T::int(1)).acos();
        (T::int(i64::from(m)) * theta / T::lit(TRUNCATED_PI)).floor()
    }
}

impl<T: ZooFloat> ScalarKernel<T> for HardCodedT {
    fn name(&self) -> String {
        "hardcoded-T-truncated-pi".into()
    }
    fn cos_m(&self, m: u32, c: T) -> T {
        Self::mlambda(m, torch_clamp(c, T::int(-1), T::int(1)))
    }
    fn psi(&self, m: u32, c: T) -> T {
        let x = torch_clamp(c, T::int(-1), T::int(1));
        on_branch(Self::branch(m, c), Self::mlambda(m, x))
    }
    fn dpsi_dcos(&self, m: u32, c: T) -> T {
        let (lo, hi) = (T::int(-1), T::int(1));
        if !torch_clamp_passes(c, lo, hi) {
            return T::int(0);
        }
        signed_by(Self::branch(m, c), Self::mlambda_grad(m, c))
    }
    fn supports(&self, m: u32) -> bool {
        (1..=5).contains(&m)
    }
}

/// sphereface_pytorch's `phiflag=False` path: `myphi`, a Taylor polynomial of `cos`
/// evaluated at `mθ`, then clamped — **no branch index at all**:
///
/// ```text
/// θ = acos(clamp(c, −1, 1))            (not detached)
/// myphi(x) = 1 − x²/2! + x⁴/4! − x⁶/6! + x⁸/8! − x⁹/9!,   x = m·θ
/// ψ = clamp(myphi(mθ), −m, 1)
/// ```
///
/// The last term is `− x⁹/9!` in the source (a cosine series has no odd terms; the
/// next term would be `− x¹⁰/10!`). So ψ tracks `cos(mθ)` only near θ = 0 and its
/// range is `[−m, 1]`, not `[1 − 2m, 1]`. `cos_m` is the unclamped `myphi(mθ)`.
///
/// `dψ/dc` is autograd's through the clamp (zero where `myphi(mθ)` is outside
/// `[−m, 1]`), `myphi′`, `·m` and `acos′(x) = −(1 − x²)^(−1/2)`: at `|c| = 1` the
/// incoming gradient is `0` (`myphi′(0) = 0` at `c = 1`, the clamp at `c = −1`) and
/// `0·(−∞) = NaN`. Covers every `m ≥ 1` (tested for `m ≤ 16`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaylorCos;

impl TaylorCos {
    /// `myphi(x)` with `x = m·θ` already formed (the source's `x = x * m`).
    pub fn myphi<T: ZooFloat>(x: T) -> T {
        let f = |e: u32, fact: i64| torch_pow(x, e) / T::int(fact);
        T::int(1) - f(2, 2) + f(4, 24) - f(6, 720) + f(8, 40_320) - f(9, 362_880)
    }

    /// Autograd's `d myphi/dx` (div backward `grad/k!`, then pow backward `·e·x^(e−1)`).
    pub fn myphi_grad<T: ZooFloat>(x: T) -> T {
        let g = |e: u32, fact: i64| T::int(1) / T::int(fact) * torch_pow_grad(x, e);
        -g(2, 2) + g(4, 24) - g(6, 720) + g(8, 40_320) - g(9, 362_880)
    }

    fn theta<T: ZooFloat>(c: T) -> T {
        torch_clamp(c, T::int(-1), T::int(1)).acos()
    }
}

impl<T: ZooFloat> ScalarKernel<T> for TaylorCos {
    fn name(&self) -> String {
        "taylor-cos-x9".into()
    }
    fn cos_m(&self, m: u32, c: T) -> T {
        Self::myphi(Self::theta(c) * T::int(i64::from(m)))
    }
    fn psi(&self, m: u32, c: T) -> T {
        let mf = T::int(i64::from(m));
        torch_clamp(self.cos_m(m, c), -mf, T::int(1))
    }
    fn dpsi_dcos(&self, m: u32, c: T) -> T {
        let (mf, one) = (T::int(i64::from(m)), T::int(1));
        let x = Self::theta(c) * mf;
        let phi = Self::myphi(x);
        // clamp_backward: where(−m ≤ φ ≤ 1, grad, 0); the zero still meets acos′.
        let g = if torch_clamp_passes(phi, -mf, one) {
            one
        } else {
            T::int(0)
        };
        let g = g * Self::myphi_grad(x) * mf;
        let cc = torch_clamp(c, -one, one);
        let g = g * torch_acos_grad(cc);
        if torch_clamp_passes(c, -one, one) {
            g
        } else {
            T::int(0)
        }
    }
    fn supports(&self, m: u32) -> bool {
        (1..=16).contains(&m)
    }
}
