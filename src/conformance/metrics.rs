//! Error metrics of a computed float against an exact value.
//!
//! - **ulp error**: `|computed − exact| / ulp_fmt(exact)`, where `ulp_fmt(x)` is the
//!   spacing of the format's floats at `x` (`2^(⌊log2|x|⌋ − p + 1)`, never below the
//!   smallest subnormal). A correctly rounded result has ulp error ≤ 0.5.
//! - **scaled error**: `|computed − exact| / ulp_fmt(scale)` for a caller-chosen
//!   scale: the magnitude the result is computed *from*. Results that sit on
//!   cancellation (T_m near its roots, a gradient component much smaller than
//!   the largest one, a loss much smaller than its logits) are judged this way.
//!
//! Non-finite results: NaN, or ±∞ where the correctly rounded exact value is
//! finite, have infinite error; ±∞ where the correctly rounded value is the same
//! infinity has error 0.

use crate::arith::Format;
use rug::float::Round;
use rug::{Float, Rational};

/// `ulp_fmt(x)` as an exact rational: the float spacing of `fmt` at `x`.
pub fn ulp(x: &Rational, fmt: Format) -> Rational {
    let tiny = fmt.tiny_exp();
    if *x == 0 {
        return pow2(tiny);
    }
    // Rounding |x| down cannot cross a power of two, so the exponent is exact.
    let ax = Float::with_val_round(64, &Rational::from(x.abs_ref()), Round::Down).0;
    let e = ax.get_exp().expect("nonzero") - 1; // 2^e ≤ |x| < 2^(e+1)
    pow2((e - fmt.precision() as i32 + 1).max(tiny))
}

/// `2^e` as a rational.
pub fn pow2(e: i32) -> Rational {
    let one = Rational::from(1);
    if e >= 0 {
        one << e as u32
    } else {
        one >> e.unsigned_abs()
    }
}

/// `|computed − exact| / ulp_fmt(scale)`, as an `f64` (∞ for NaN and for an
/// infinity where the rounded exact value is finite).
pub fn error_in_ulps_of(computed: f64, exact: &Rational, scale: &Rational, fmt: Format) -> f64 {
    if computed.is_nan() {
        return f64::INFINITY;
    }
    if computed.is_infinite() {
        let exact_rounded = crate::arith::ziv::round_rational(exact, fmt);
        return if exact_rounded == computed {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let c = Rational::from_f64(computed).expect("finite");
    let diff = Rational::from(&c - exact).abs();
    (diff / ulp(scale, fmt)).to_f64()
}

/// The ulp error `|computed − exact| / ulp_fmt(exact)`.
pub fn ulp_error(computed: f64, exact: &Rational, fmt: Format) -> f64 {
    error_in_ulps_of(computed, exact, exact, fmt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulp_of_one_and_subnormals() {
        assert_eq!(ulp(&Rational::from(1), Format::F64), pow2(-52));
        assert_eq!(ulp(&Rational::from((3, 4)), Format::F64), pow2(-53));
        assert_eq!(ulp(&Rational::from(1), Format::F32), pow2(-23));
        assert_eq!(ulp(&Rational::new(), Format::F32), pow2(-149));
        assert_eq!(ulp(&pow2(-1100), Format::F64), pow2(-1074));
        // Just below a power of two the spacing is the smaller one.
        let below = Rational::from(1) - pow2(-80);
        assert_eq!(ulp(&below, Format::F64), pow2(-53));
    }

    #[test]
    fn correctly_rounded_is_at_most_half_an_ulp() {
        let third = Rational::from((1, 3));
        let e = ulp_error(1.0 / 3.0, &third, Format::F64);
        assert!(e <= 0.5 && e > 0.3, "{e}");
        let e32 = ulp_error(f64::from(1.0f32 / 3.0), &third, Format::F32);
        assert!(e32 <= 0.5, "{e32}");
        let next = f64::from_bits((1.0f64 / 3.0).to_bits() + 1);
        assert!(ulp_error(next, &third, Format::F64) > 0.5);
    }

    #[test]
    fn non_finite_results() {
        let one = Rational::from(1);
        assert_eq!(ulp_error(f64::NAN, &one, Format::F64), f64::INFINITY);
        assert_eq!(ulp_error(f64::INFINITY, &one, Format::F64), f64::INFINITY);
        let huge = pow2(2000);
        assert_eq!(ulp_error(f64::INFINITY, &huge, Format::F64), 0.0);
        assert_eq!(
            ulp_error(f64::NEG_INFINITY, &huge, Format::F64),
            f64::INFINITY
        );
    }
}
