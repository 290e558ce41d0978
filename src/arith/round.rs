//! Correct rounding of exact values to IEEE 754 binary32/binary64, and the C99
//! hex-float notation used for them in JSON.
//!
//! The rounding is written here from the IEEE 754 rules rather than taken from a
//! conversion routine, so that subnormals and overflow are handled explicitly:
//! a value `x` with MPFR exponent `E` (`2^(E−1) ≤ |x| < 2^E`) keeps
//! `min(p, E − e_tiny + 1)` significant bits, where `2^e_tiny` is the smallest
//! subnormal; ties go to even; a result of `2^(e_max+1)` or more after rounding
//! overflows to ±∞ (this is exactly IEEE's "round to nearest" overflow rule).

use rug::Float;
use rug::float::Round;

/// An IEEE 754 binary floating-point format the oracle rounds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// binary32 (`f32`): 24-bit significand.
    F32,
    /// binary64 (`f64`): 53-bit significand.
    F64,
}

impl Format {
    /// Significand bits, including the implicit one.
    pub const fn precision(self) -> u32 {
        match self {
            Format::F32 => 24,
            Format::F64 => 53,
        }
    }

    /// Exponent of the smallest subnormal: `2^tiny_exp` (−149 or −1074).
    pub const fn tiny_exp(self) -> i32 {
        match self {
            Format::F32 => -149,
            Format::F64 => -1074,
        }
    }

    /// The largest finite value is `(2 − 2^(1−p))·2^max_exp` (127 or 1023).
    pub const fn max_exp(self) -> i32 {
        match self {
            Format::F32 => 127,
            Format::F64 => 1023,
        }
    }

    /// `"f32"` or `"f64"`.
    pub const fn name(self) -> &'static str {
        match self {
            Format::F32 => "f32",
            Format::F64 => "f64",
        }
    }
}

/// Rounds the exact value `x` to `fmt` (round to nearest, ties to even), returned
/// as an `f64` that holds the `fmt` value exactly (an `f32` result widened losslessly).
/// NaN maps to NaN and ±∞ to ±∞.
pub fn round_to(x: &Float, fmt: Format) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x.is_infinite() {
        return x.to_f64();
    }
    if x.is_zero() {
        // An exact zero has no sign to keep (MPFR's −0 from negating an exact 0 is an
        // artefact); only a nonzero value that underflows rounds to a signed zero.
        return 0.0;
    }
    let neg = x.is_sign_negative();
    let signed = |v: f64| if neg { -v } else { v };
    let e = x.get_exp().expect("finite nonzero");
    // Significant bits available at this magnitude (subnormals have fewer).
    let avail = i64::from(e) - i64::from(fmt.tiny_exp());
    let keep = avail.min(i64::from(fmt.precision()));
    if keep <= 0 {
        // |x| < 2^tiny_exp: rounds to 0 or to the smallest subnormal.
        if keep < 0 {
            return signed(0.0);
        }
        // keep == 0: 2^(tiny−1) ≤ |x| < 2^tiny; exactly half the smallest subnormal ties to 0.
        let half = Float::with_val(2, Float::i_exp(1, fmt.tiny_exp() - 1));
        let ax = Float::with_val(x.prec(), x.abs_ref());
        return if ax == half {
            signed(0.0)
        } else {
            // Not 2f64.powi(−1074): that is computed as 1/2^1074 = 1/∞ = 0.
            signed(match fmt {
                Format::F32 => f64::from(f32::from_bits(1)),
                Format::F64 => f64::from_bits(1),
            })
        };
    }
    let keep = u32::try_from(keep).expect("at most 53");
    let r = Float::with_val_round(keep, x, Round::Nearest).0;
    // After rounding, 2^(max_exp+1) or more means overflow.
    if r.get_exp().expect("finite nonzero") > fmt.max_exp() + 1 {
        return signed(f64::INFINITY);
    }
    // r has at most 53 significant bits and an exponent inside f64's range: exact.
    r.to_f64()
}

/// The binary64 value nearest to `x` (ties to even), with IEEE subnormals and overflow.
pub fn round_f64(x: &Float) -> f64 {
    round_to(x, Format::F64)
}

/// The binary32 value nearest to `x` (ties to even), with IEEE subnormals and overflow.
pub fn round_f32(x: &Float) -> f32 {
    // Exact: the value is representable in binary32.
    round_to(x, Format::F32) as f32
}

/// C99 hex-float text of an `f64`: `"0x1.8p-1"`, `"-0x1p+0"`, `"0x0p+0"`,
/// `"-0x0p+0"`, `"inf"`, `"-inf"`, `"nan"`. Subnormals are written normalized
/// (`"0x1p-1074"`), which is the same number.
pub fn hex_f64(v: f64) -> String {
    hex_bits(v, 52, 1023, v.to_bits(), 11)
}

/// C99 hex-float text of an `f32`, in the same style as [`hex_f64`].
pub fn hex_f32(v: f32) -> String {
    hex_bits(f64::from(v), 23, 127, u64::from(v.to_bits()), 8)
}

fn hex_bits(v: f64, frac_bits: u32, bias: i32, bits: u64, exp_bits: u32) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    let sign = if bits >> (frac_bits + exp_bits) & 1 == 1 {
        "-"
    } else {
        ""
    };
    if v.is_infinite() {
        return format!("{sign}inf");
    }
    let biased = ((bits >> frac_bits) & ((1 << exp_bits) - 1)) as i32;
    let mut frac = bits & ((1u64 << frac_bits) - 1);
    if biased == 0 && frac == 0 {
        return format!("{sign}0x0p+0");
    }
    let mut exp = if biased == 0 { 1 - bias } else { biased - bias };
    if biased == 0 {
        // Normalize a subnormal: shift until the implicit bit position is reached.
        while frac & (1u64 << frac_bits) == 0 {
            frac <<= 1;
            exp -= 1;
        }
        frac &= (1u64 << frac_bits) - 1;
    }
    // Pad the fraction to whole hex digits and strip trailing zero digits.
    let digits = frac_bits.div_ceil(4);
    let frac = frac << (digits * 4 - frac_bits);
    let mut hex = format!("{:0width$x}", frac, width = digits as usize);
    while hex.ends_with('0') {
        hex.pop();
    }
    let dot = if hex.is_empty() { "" } else { "." };
    let esign = if exp >= 0 { "+" } else { "" };
    format!("{sign}0x1{dot}{hex}p{esign}{exp}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::testing::finite_f64s;

    fn exact(v: f64) -> Float {
        Float::with_val(64, v)
    }

    #[test]
    fn hex_examples() {
        assert_eq!(
            hex_f64(std::f64::consts::FRAC_1_SQRT_2),
            "0x1.6a09e667f3bcdp-1"
        );
        assert_eq!(hex_f64(-1.0), "-0x1p+0");
        assert_eq!(hex_f64(0.0), "0x0p+0");
        assert_eq!(hex_f64(-0.0), "-0x0p+0");
        assert_eq!(hex_f64(f64::from_bits(1)), "0x1p-1074");
        assert_eq!(hex_f64(f64::MAX), "0x1.fffffffffffffp+1023");
        assert_eq!(hex_f32(1.5), "0x1.8p+0");
        assert_eq!(hex_f32(f32::from_bits(1)), "0x1p-149");
        assert_eq!(hex_f32(f32::MAX), "0x1.fffffep+127");
        assert_eq!(hex_f64(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn f32_rounding_agrees_with_hardware_on_f64_inputs() {
        // `as f32` is IEEE round-to-nearest-even, an independent implementation.
        for v in finite_f64s(0x9e3779b97f4a7c15, 200_000) {
            let got = round_f32(&exact(v));
            assert_eq!(got.to_bits(), (v as f32).to_bits(), "{v:e}");
        }
    }

    #[test]
    fn f32_ties_subnormals_and_overflow() {
        let tiny = 2f64.powi(-149);
        // Half the smallest subnormal ties to +0; just above rounds up.
        assert_eq!(round_f32(&exact(tiny / 2.0)).to_bits(), 0);
        assert_eq!(
            round_f32(&exact(tiny / 2.0 * (1.0 + 1e-15))),
            f32::from_bits(1)
        );
        assert_eq!(
            round_f32(&exact(-tiny / 2.0)).to_bits(),
            (-0.0f32).to_bits()
        );
        // 1.5 × smallest subnormal ties to even (2 × smallest).
        assert_eq!(round_f32(&exact(1.5 * tiny)), f32::from_bits(2));
        // max + half ulp ties to even = overflow; just below stays max.
        let max = f64::from(f32::MAX);
        let half_ulp = 2f64.powi(127 - 24);
        assert_eq!(round_f32(&exact(max + half_ulp)), f32::INFINITY);
        assert_eq!(round_f32(&exact(max + half_ulp * 0.99)), f32::MAX);
    }

    #[test]
    fn f64_rounding_of_wide_values() {
        // 1 + 2^-53 ties to 1; 1 + 2^-53 + 2^-100 rounds up.
        let one = Float::with_val(200, 1);
        let t = Float::with_val(200, &one + Float::with_val(200, Float::i_exp(1, -53)));
        assert_eq!(round_f64(&t), 1.0);
        let t2 = Float::with_val(200, &t + Float::with_val(200, Float::i_exp(1, -100)));
        assert_eq!(round_f64(&t2), 1.0 + f64::EPSILON);
        // Subnormal tie to even and overflow.
        let s = Float::with_val(200, Float::i_exp(3, -1075)); // 1.5 × 2^-1074
        assert_eq!(round_f64(&s), f64::from_bits(2));
        let big = Float::with_val(200, Float::i_exp(1, 1024));
        assert_eq!(round_f64(&big), f64::INFINITY);
        let h = Float::with_val(200, Float::i_exp(1, -1075));
        assert_eq!(round_f64(&h), 0.0);
        // Just above half the smallest subnormal rounds up to it (not to 0).
        let above = Float::with_val(200, Float::i_exp(3, -1076));
        assert_eq!(round_f64(&above), f64::from_bits(1));
        assert_eq!(
            round_f64(&Float::with_val(200, -&above)),
            -f64::from_bits(1)
        );
        // An exact zero is +0 whatever MPFR's sign bit says.
        assert_eq!(
            round_f64(&Float::with_val(53, -Float::with_val(53, 0))).to_bits(),
            0
        );
    }
}
