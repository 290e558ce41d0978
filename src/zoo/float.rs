//! The float trait the zoo's ports are written over, plus the elementwise
//! semantics of the framework primitives they call (PyTorch's `pow`, `clamp`,
//! `acos` backward; Caffe's `caffe_cpu_sign`, `caffe_powx`).
//!
//! Every port is one generic body evaluated in `f32` or `f64`; a framework
//! constant written as a double literal (`math.pi`, `3.14159265`, `1 - 1e-5`) is
//! converted with [`KernelFloat::lit`], i.e. rounded to the tensor's dtype, which is
//! what PyTorch does with a Python scalar operand of a `float32` tensor op and what
//! Caffe does with `(Dtype)` casts.

use crate::conformance::kernel::KernelFloat;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// `f32` or `f64` with the arithmetic operators and the libm functions
/// ([`KernelFloat`]) the published implementations call: what the ports are written
/// over. Implemented for every [`KernelFloat`] with the operators.
pub trait ZooFloat:
    KernelFloat
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
}

impl<T> ZooFloat for T where
    T: KernelFloat
        + Add<Output = T>
        + Sub<Output = T>
        + Mul<Output = T>
        + Div<Output = T>
        + Neg<Output = T>
{
}

/// PyTorch's `x ** e` for a Python-number exponent `e` (`pow(Tensor, Scalar)`):
/// `e = 0` fills 1, `e = 1` copies, `e = 2` is `x·x`, `e = 3` is `x·x·x`, any other
/// exponent calls `pow` (ATen `pow_tensor_scalar_optimized_kernel`).
pub fn torch_pow<T: ZooFloat>(x: T, e: u32) -> T {
    match e {
        0 => T::int(1),
        1 => x,
        2 => x * x,
        3 => x * x * x,
        _ => x.powf(T::int(i64::from(e))),
    }
}

/// The autograd derivative of [`torch_pow`]: `0` for `e = 0`, otherwise
/// `e · x^(e−1)` with `x^(e−1)` again through [`torch_pow`] (ATen `pow_backward`).
pub fn torch_pow_grad<T: ZooFloat>(x: T, e: u32) -> T {
    if e == 0 {
        T::int(0)
    } else {
        T::int(i64::from(e)) * torch_pow(x, e - 1)
    }
}

/// `torch.clamp(x, lo, hi)`: `min(max(x, lo), hi)`, NaN propagates.
pub fn torch_clamp<T: ZooFloat>(x: T, lo: T, hi: T) -> T {
    if x.is_nan() {
        x
    } else if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

/// The autograd mask of `torch.clamp`: the gradient passes where `lo ≤ x ≤ hi`
/// (inclusive) and is zeroed elsewhere.
pub fn torch_clamp_passes<T: ZooFloat>(x: T, lo: T, hi: T) -> bool {
    x >= lo && x <= hi
}

/// PyTorch's `acos` backward factor `−(1 − x²)^(−1/2)` (as `-((-x * x + 1).rsqrt())`):
/// `−∞` at `|x| = 1`, NaN for `|x| > 1`.
pub fn torch_acos_grad<T: ZooFloat>(x: T) -> T {
    -(T::int(1) / (T::int(1) - x * x).sqrt())
}

/// Caffe's `caffe_cpu_sign`: `(0 < x) − (x < 0)`, so `sign(0) = sign(NaN) = 0`.
pub fn caffe_sign<T: ZooFloat>(x: T) -> T {
    let zero = T::int(0);
    T::int(i64::from(zero < x) - i64::from(x < zero))
}

/// Caffe's `caffe_powx(x, e)` = `std::pow(x, e)` elementwise (non-MKL build).
pub fn caffe_powx<T: ZooFloat>(x: T, e: u32) -> T {
    x.powf(T::int(i64::from(e)))
}

/// `(−1)^k` for an integer-valued float `k ≥ 0`, as `pow(−1, k)` computes it (exact ±1).
pub fn neg_one_pow<T: ZooFloat>(k: T) -> T {
    T::int(-1).powf(k)
}

/// An integer-valued float branch index `k ≥ 0` as `u32` (for [`crate::psi::psi_on_branch`]);
/// NaN maps to 0 (callers propagate NaN through the value instead).
pub fn branch_index<T: ZooFloat>(k: T) -> u32 {
    let k = k.to_f64();
    if k.is_nan() || k < 0.0 { 0 } else { k as u32 }
}

/// `(−1)^k·t − 2k` for a float branch index `k` as the ports compute it
/// (`n_one**k * t - 2*k`, `sign * cos(mθ) - 2.*k`, …): through
/// [`crate::psi::psi_on_branch`] (same roundings: `(−1)^k·t` and `2k` are exact), with a
/// NaN `k` propagated.
pub fn on_branch<T: ZooFloat>(k: T, t: T) -> T {
    if k.is_nan() {
        k
    } else {
        crate::psi::psi_on_branch(branch_index(k), &t)
    }
}

/// `(−1)^k·d` for a float branch index `k` (the autograd factor of `(−1)^k` with `k`
/// detached), through [`crate::psi::branch_sign`]; a NaN `k` propagates.
pub fn signed_by<T: ZooFloat>(k: T, d: T) -> T {
    if k.is_nan() {
        k
    } else {
        crate::psi::branch_sign(branch_index(k), &d)
    }
}
