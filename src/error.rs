//! The crate's one error type, [`Error`]: every oracle call returns a value or one of
//! its variants, never a panic. The ground floor of the crate: it imports nothing from it.

use rug::Rational;
use std::fmt;

/// Everything that can go wrong in an oracle call. Each variant says what was
/// wrong and with which argument; none of them is ever a panic.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// An argument lies outside the op's domain.
    Domain {
        /// The argument's name (`"m"`, `"cos"`, `"theta"`, …).
        arg: &'static str,
        /// The offending value, as text.
        value: String,
        /// What was expected instead.
        expected: &'static str,
    },
    /// A number could not be parsed, or is not a finite number.
    InvalidNumber {
        /// The text (truncated when long).
        text: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// The requested output precision is outside the supported range.
    Precision {
        /// The requested precision in bits.
        prec: u32,
        /// Smallest supported precision.
        min: u32,
        /// Largest supported precision.
        max: u32,
    },
    /// The Ziv loop reached its working-precision cap without determining the result.
    PrecisionCap {
        /// The operation that was being evaluated.
        op: &'static str,
        /// The cap in bits.
        max: u32,
    },
    /// A result's magnitude lies below MPFR's exponent range (about `2^−2^30`), so no
    /// enclosure at any precision separates it from 0 (a softmax probability `e^−10⁷⁶`).
    ExponentRange {
        /// The operation that was being evaluated.
        op: &'static str,
    },
    /// Array arguments do not fit together (empty batch, ragged rows, a label that
    /// is not a class index, …).
    Shape {
        /// What was wrong and where, e.g. `"x[3] has 5 components, expected 4"`.
        what: String,
    },
    /// The input is well-formed but the requested quantity does not exist there
    /// (a zero vector has no direction, a gradient is undefined at a cone point, …).
    Degenerate {
        /// What was degenerate and where, and why the quantity is undefined.
        what: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Domain {
                arg,
                value,
                expected,
            } => write!(f, "{arg} = {value} is out of range: expected {expected}"),
            Error::InvalidNumber { text, reason } => {
                write!(f, "invalid number {text:?}: {reason}")
            }
            Error::Precision { prec, min, max } => write!(
                f,
                "prec = {prec} is out of range: expected {min} to {max} bits"
            ),
            Error::PrecisionCap { op, max } => write!(
                f,
                "{op}: the result was not determined at the working-precision cap of {max} bits"
            ),
            Error::ExponentRange { op } => write!(
                f,
                "{op}: a result lies at or below about 2^-(2^30) in magnitude, beyond the floating-point exponent range, and cannot be separated from 0"
            ),
            Error::Shape { what } => write!(f, "shape error: {what}"),
            Error::Degenerate { what } => write!(f, "degenerate input: {what}"),
        }
    }
}

impl std::error::Error for Error {}

/// A short human-readable rendering of an exact rational for error messages:
/// the number itself when it is an `f64`, otherwise `≈` its nearest `f64`.
pub(crate) fn describe_rational(r: &Rational) -> String {
    if *r.denom() == 1 && r.numer().significant_bits() <= 64 {
        return r.numer().to_string();
    }
    let f = r.to_f64();
    if rug::Rational::from_f64(f).as_ref() == Some(r) {
        format!("{f}")
    } else {
        format!("≈{f:e}")
    }
}
