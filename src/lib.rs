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
//! The modules form a pipeline, one layer per row: each imports only from the rows
//! above it (and, without cycles, from its own row), never from a row below.
//!
//! | layer | module | contents |
//! | --- | --- | --- |
//! | 0 | [`Error`] | the one error type of every oracle call (`src/error.rs`) |
//! | 1 | [`arith`] | intervals over `rug::Float`, exact number parsing, correct rounding, the Ziv loop |
//! | 2 | [`multiangle`] | `cos(mθ) = T_m(cos θ)`: recurrence, binomial, De Moivre, exact coefficients, `U_{m−1}`, `cos(m·acos c)`; [`Angle`] |
//! | 3 | [`psi`] | ψ, its branch index, `dψ/dθ`, `dψ/dc`, θ-form and c-form |
//! | 4 | [`head`] | the margin family: combined-margin target logits `cos(m1θ + m2) − m3`, fallbacks, gradient semantics; every other head (`head::family`: SphereFace with real m, SphereFace-R, SphereFace2 and its loss, CurricularFace, AdaFace, MagFace) |
//! | 5 | [`loss`], [`loss_filter`], [`margin`], [`fd`] | the loss and its gradients (A-Softmax, L-Softmax and the heads of the margin family; every head on cosines, `loss::family`); the loss at training sizes (a double-word filter with proven bounds in front of the exact oracle); the angular margin, `m_min` and Table 1; finite differences |
//! | 6 | [`names`] | one name table per enum the JSON Lines interfaces and the command line share |
//! | 7 | [`conformance`] | kernel traits, metrics, tolerance policies, generators, strategies, suites, gradient checks |
//! | 8 | [`fast`], [`zoo`] | the crate's own `f32`/`f64` kernels; the published formulas, written from their definitions (the margin family's in `zoo::heads`) |
//! | 9 | [`audit`] | the suite over the fast kernels, the textbook and the zoo, as one accuracy table; the published head formulas against the family's oracle (`audit::heads`) |
//! | 10 | `cli` (feature `cli`), `fuzzing` (feature `fuzzing`) | the command-line tool's readers and writers; the fuzz targets' checks |
//!
//! [`derivations`] holds the book's chapters that derive the modules' formulas (cos(mθ), ψ,
//! the loss, its gradients, the margins, the guarantees, the accuracy of published formulas);
//! each module's docs link to its chapter.
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
pub use multiangle::Angle;

pub mod arith;
pub mod multiangle;
pub mod psi;

pub mod head;

pub mod fd;
pub mod loss;
pub mod loss_filter;
pub mod margin;

pub mod names;

pub mod conformance;

pub mod fast;
pub mod zoo;

pub mod audit;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;

/// Derivations, shared with the book (`docs/src/`): the math next to the code.
pub mod derivations {
    #[doc = include_str!("../docs/src/multiangle.md")]
    pub mod multiangle {}
    #[doc = include_str!("../docs/src/psi.md")]
    pub mod psi {}
    #[doc = include_str!("../docs/src/loss.md")]
    pub mod loss {}
    #[doc = include_str!("../docs/src/gradients.md")]
    pub mod gradients {}
    #[doc = include_str!("../docs/src/margin.md")]
    pub mod margin {}
    #[doc = include_str!("../docs/src/heads.md")]
    pub mod heads {}
    #[doc = include_str!("../docs/src/oracle.md")]
    pub mod guarantees {}
    #[doc = include_str!("../docs/src/filter.md")]
    pub mod filter {}
    #[doc = include_str!("../docs/src/audit.md")]
    pub mod accuracy {}
}
