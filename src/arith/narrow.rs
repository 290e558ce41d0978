//! The 16-bit formats as arithmetic types, for kernels evaluated in them: [`F16`]
//! (IEEE binary16) and [`Bf16`] (bfloat16).
//!
//! A value is held as the `f32` it equals (every binary16 and bfloat16 value is a
//! binary32 value). Each operation is computed in `f32` and rounded to the format with
//! [`round_f64_to`] (nearest, ties to even, subnormals, overflow to ±∞), which is how
//! PyTorch and NumPy evaluate half-precision tensors on the CPU (the "opmath" type is
//! `float`). For `+ − × ÷` and `√` the result is then the correctly rounded one:
//! binary32 has `24 ≥ 2p + 2` bits for `p = 11` and `p = 8`, so rounding twice is
//! harmless (Figueroa, "When is double rounding innocuous?", 1995). Library functions
//! (`acos`, `cos`, `exp`, …) are `f32` libm rounded once more.
//!
//! ```
//! use asoftmax_spec::arith::narrow::{Bf16, F16};
//! let third = F16::from_f64(1.0) / F16::from_f64(3.0);
//! assert_eq!(third.to_bits(), 0x3555);
//! assert_eq!(F16::from_f64(65520.0).to_f64(), f64::INFINITY); // overflows binary16
//! assert_eq!(Bf16::from_f64(1.0 + 1.0 / 256.0).to_f64(), 1.0); // a tie, to even
//! ```

use super::round::{Format, round_f64_to};
use super::scalar::{RealScalar, Scalar};
use rug::Integer;
use std::ops::{Add, Div, Mul, Neg, Sub};

macro_rules! narrow_float {
    ($t:ident, $fmt:expr, $pi:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
        pub struct $t(f32);

        impl $t {
            /// The format of the type.
            pub const FORMAT: Format = $fmt;
            /// π rounded to the format (`0x1.92p+1 = 3.140625`).
            pub const PI: $t = $t($pi);

            /// The value nearest to `v` (ties to even, subnormals, overflow to ±∞; NaN stays NaN).
            pub fn from_f64(v: f64) -> $t {
                $t(round_f64_to(v, $fmt) as f32)
            }

            /// The value nearest to `v`.
            pub fn from_f32(v: f32) -> $t {
                $t::from_f64(f64::from(v))
            }

            /// The value, exactly, as an `f32`.
            pub fn to_f32(self) -> f32 {
                self.0
            }

            /// The value, exactly, as an `f64`.
            pub fn to_f64(self) -> f64 {
                f64::from(self.0)
            }

            /// The 16-bit encoding (what `half` and the hardware store).
            pub fn to_bits(self) -> u16 {
                $fmt.encode(self.to_f64()) as u16
            }

            /// The value of a 16-bit encoding.
            pub fn from_bits(bits: u16) -> $t {
                $t($fmt.decode(u64::from(bits)) as f32)
            }

            /// `f(self)` computed in `f32` and rounded to the format.
            pub fn map(self, f: impl FnOnce(f32) -> f32) -> $t {
                $t::from_f32(f(self.0))
            }

            /// `f(self, o)` computed in `f32` and rounded to the format.
            pub fn zip(self, o: $t, f: impl FnOnce(f32, f32) -> f32) -> $t {
                $t::from_f32(f(self.0, o.0))
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl Add for $t {
            type Output = $t;
            fn add(self, o: $t) -> $t {
                self.zip(o, |a, b| a + b)
            }
        }

        impl Sub for $t {
            type Output = $t;
            fn sub(self, o: $t) -> $t {
                self.zip(o, |a, b| a - b)
            }
        }

        impl Mul for $t {
            type Output = $t;
            fn mul(self, o: $t) -> $t {
                self.zip(o, |a, b| a * b)
            }
        }

        impl Div for $t {
            type Output = $t;
            fn div(self, o: $t) -> $t {
                self.zip(o, |a, b| a / b)
            }
        }

        impl Neg for $t {
            type Output = $t;
            fn neg(self) -> $t {
                $t(-self.0)
            }
        }

        impl Scalar for $t {
            fn int_like(&self, n: i64) -> Self {
                $t::from_f64(n as f64)
            }
            fn integer_like(&self, n: &Integer) -> Self {
                $t::from_f64(n.to_f64())
            }
            fn add(&self, o: &Self) -> Self {
                *self + *o
            }
            fn sub(&self, o: &Self) -> Self {
                *self - *o
            }
            fn mul(&self, o: &Self) -> Self {
                *self * *o
            }
            fn neg(&self) -> Self {
                -*self
            }
        }

        impl RealScalar for $t {
            fn sqrt_nonneg(&self) -> Self {
                self.map(|v| v.max(0.0).sqrt())
            }
        }
    };
}

narrow_float!(
    F16,
    Format::F16,
    3.140625,
    "An IEEE binary16 value (`f16`, half precision: 11-bit significand, largest finite 65504, smallest subnormal 2⁻²⁴)."
);
narrow_float!(
    Bf16,
    Format::Bf16,
    3.140625,
    "A bfloat16 value (`bf16`: 8-bit significand, binary32's exponent range)."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pi_is_pi_rounded() {
        assert_eq!(F16::PI, F16::from_f64(std::f64::consts::PI));
        assert_eq!(Bf16::PI, Bf16::from_f64(std::f64::consts::PI));
        assert_eq!(F16::PI.to_bits(), 0x4248);
        assert_eq!(Bf16::PI.to_bits(), 0x4049);
    }

    #[test]
    fn arithmetic_rounds_each_operation() {
        // 2048 + 1 is a binary16 tie (spacing 2 above 2048): to even, 2048.
        let big = F16::from_f64(2048.0);
        assert_eq!((big + F16::from_f64(1.0)).to_f64(), 2048.0);
        assert_eq!((big + F16::from_f64(3.0)).to_f64(), 2052.0);
        // 255 · 257 = 65535 overflows binary16 (max 65504; 65520 and up round to ∞).
        assert_eq!(
            (F16::from_f64(255.0) * F16::from_f64(257.0)).to_f64(),
            f64::INFINITY
        );
        // Gradual underflow: 2⁻¹⁴ / 2¹⁰ = 2⁻²⁴, the smallest subnormal.
        let s = F16::from_f64(2f64.powi(-14)) / F16::from_f64(1024.0);
        assert_eq!(s.to_bits(), 1);
        assert_eq!(Bf16::from_f64(1.0 / 3.0).to_bits(), 0x3eab);
    }
}
