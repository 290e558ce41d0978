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

mod error;
pub use error::Error;
pub(crate) use error::describe_rational;

pub mod arith;
pub mod audit;

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

/// Where an angle-valued op is evaluated: at `c = cos θ` or at `θ` itself.
/// Both are exact rationals (θ in radians).
#[derive(Clone, Debug, PartialEq)]
pub enum Angle {
    /// The cosine `c = cos θ ∈ [−1, 1]`.
    Cos(Rational),
    /// The angle `θ ∈ [0, π]` in radians.
    Theta(Rational),
}
