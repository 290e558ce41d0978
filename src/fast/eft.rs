//! Error-free transformations on `f64` and the two ways of computing an exact product.
//!
//! - `two_sum(a, b) = (s, e)` with `s = fl(a + b)` and `s + e = a + b` exactly
//!   (Knuth; six flops, no condition on the operands);
//! - `fast_two_sum(a, b)`, the same when `a = 0` or `|a| ≥ |b|` (Dekker; three flops);
//! - `two_prod(a, b) = (p, e)` with `p = fl(a·b)` and `p + e = a·b` exactly, provided no
//!   underflow occurs (`|a·b| ≥ 2^−969` and the error term is representable). With a
//!   hardware FMA this is `e = fma(a, b, −p)` (two flops); without one it is Dekker's
//!   product over Veltkamp splits (17 flops). Both are provided behind the [`Arith`]
//!   trait so that every kernel is written once and compiled for both.

/// How products are made exact: with a fused multiply-add or by Dekker's algorithm.
pub(crate) trait Arith {
    /// `(p, e)`: `p = fl(a·b)`, `p + e = a·b` exactly (absent underflow).
    fn two_prod(a: f64, b: f64) -> (f64, f64);
    /// `a·b + c`, fused when the hardware can; otherwise with two roundings. Only used
    /// for error terms, where the extra rounding costs `2^−53` of a term that is
    /// itself `2^−52` of the result.
    fn mul_add(a: f64, b: f64, c: f64) -> f64;
}

/// Products through `f64::mul_add`. Only fast where FMA is an instruction: used when
/// it is known at compile time (`target_feature = "fma"`, aarch64) or inside the
/// functions compiled with `#[target_feature(enable = "fma")]` after run-time detection.
#[cfg_attr(
    not(any(
        target_feature = "fma",
        target_arch = "aarch64",
        target_arch = "x86_64"
    )),
    allow(dead_code)
)]
pub(crate) struct HwFma;

impl Arith for HwFma {
    #[inline(always)]
    fn two_prod(a: f64, b: f64) -> (f64, f64) {
        let p = a * b;
        (p, a.mul_add(b, -p))
    }
    #[inline(always)]
    fn mul_add(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
}

/// Products by Dekker's algorithm (no FMA needed): exact as long as nothing
/// overflows (`|a|, |b| < 2^995`) or underflows (`|a·b| ≥ 2^−969`).
#[cfg_attr(any(target_feature = "fma", target_arch = "aarch64"), allow(dead_code))]
pub(crate) struct Dekker;

/// Veltkamp's split of `a` into two 26-bit halves `a = hi + lo`.
#[inline(always)]
fn split(a: f64) -> (f64, f64) {
    const C: f64 = 134_217_729.0; // 2^27 + 1
    let t = C * a;
    let hi = t - (t - a);
    (hi, a - hi)
}

impl Arith for Dekker {
    #[inline(always)]
    fn two_prod(a: f64, b: f64) -> (f64, f64) {
        let p = a * b;
        let (ah, al) = split(a);
        let (bh, bl) = split(b);
        let e = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
        (p, e)
    }
    #[inline(always)]
    fn mul_add(a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }
}

/// `(s, e)` with `s = fl(a + b)`, `s + e = a + b` exactly (Knuth's TwoSum).
#[inline(always)]
pub(crate) fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// `(s, e)` with `s = fl(a + b)`, `s + e = a + b` exactly, when `a = 0` or `|a| ≥ |b|`
/// (Dekker's FastTwoSum).
#[inline(always)]
pub(crate) fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::testing::xorshift64;

    #[test]
    fn products_are_exact() {
        for s in xorshift64(0x2545_f491_4f6c_dd1d).take(100_000) {
            let a = f64::from_bits((s >> 12) | 0x3fe0_0000_0000_0000) - 1.0;
            let b = f64::from_bits((s.rotate_left(29) >> 12) | 0x3ff0_0000_0000_0000) * -0.75;
            let (p1, e1) = HwFma::two_prod(a, b);
            let (p2, e2) = Dekker::two_prod(a, b);
            assert_eq!((p1, e1), (p2, e2), "{a:e} {b:e}");
            let (x, y) = two_sum(a, b * 1e-9);
            let (x2, y2) = if a.abs() >= (b * 1e-9).abs() {
                fast_two_sum(a, b * 1e-9)
            } else {
                (x, y)
            };
            assert_eq!((x, y), (x2, y2));
        }
    }
}
