//! # asoftmax-spec — the A-Softmax loss, specified
//!
//! An arbitrary-precision reference for the A-Softmax loss of SphereFace
//! (Liu et al., CVPR 2017). A-Softmax replaces the target logit `‖x‖ cos θ_y` of a
//! softmax classifier (with normalized class weights and zero biases) by
//! `‖x‖ ψ(θ_y)`, where
//!
//! ```text
//! ψ(θ) = (−1)^k cos(mθ) − 2k,   θ ∈ [kπ/m, (k+1)π/m],  k ∈ [0, m−1].
//! ```
//!
//! Every result of this crate is an **enclosure** `[lo, hi]` of the exact value,
//! computed over MPFR with directed rounding, and refined by a Ziv loop until it
//! determines the requested number of correct bits *and* the correctly rounded
//! `f64` and `f32` (see [`arith::ziv`]). Exact results (a polynomial at a rational
//! input) are computed exactly.
//!
//! | module | contents |
//! | --- | --- |
//! | [`arith`] | intervals over `rug::Float`, exact number parsing, correct rounding, the Ziv loop |
//! | [`multiangle`] | `cos(mθ) = T_m(cos θ)`: recurrence, binomial, De Moivre, exact coefficients, `U_{m−1}` |
//! | [`psi`] | ψ, its branch index, `dψ/dθ`, `dψ/dc`, θ-form and c-form |
//!
//! ```
//! use asoftmax_spec::{Angle, psi};
//! use rug::Rational;
//! // ψ for m = 4 at c = cos θ = 0.3, to 256 bits, and correctly rounded.
//! let c = asoftmax_spec::arith::parse_exact("0.3").unwrap();
//! let v = psi::psi(&Rational::from(4), &Angle::Cos(c), 256).unwrap();
//! // ψ(0.3) = −(8c⁴ − 8c² + 1) − 2 with k = 1 (0.3 < cos(π/4)).
//! assert_eq!(v.f64(), -2.3448);
//! ```

#![warn(missing_docs)]

// The README's Rust examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod arith;

/// Derivations, shared with the book (`docs/src/`): the math next to the code.
pub mod derivations {
    #[doc = include_str!("../docs/src/gradients.md")]
    pub mod gradients {}
    #[doc = include_str!("../docs/src/oracle.md")]
    pub mod guarantees {}
}
#[cfg(feature = "cli")]
pub mod cli;
pub mod conformance;
pub mod fast;
pub mod fd;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod loss;
pub mod margin;
pub mod multiangle;
pub mod names;
pub mod psi;
pub mod zoo;

use rug::Rational;
use std::fmt;

/// Where an angle-valued op is evaluated: at `c = cos θ` or at `θ` itself.
/// Both are exact rationals (θ in radians).
#[derive(Clone, Debug, PartialEq)]
pub enum Angle {
    /// The cosine `c = cos θ ∈ [−1, 1]`.
    Cos(Rational),
    /// The angle `θ ∈ [0, π]` in radians.
    Theta(Rational),
}

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
