//! Rigorous arithmetic: intervals over MPFR, exact number parsing, correct
//! rounding to binary32/binary64, and the Ziv loop that ties them together.

pub mod dw;
pub mod exact;
pub mod interval;
pub mod narrow;
pub mod par;
pub mod round;
pub mod scalar;
#[cfg(test)]
pub(crate) mod testing;
pub mod ziv;

pub use exact::{parse_exact, rational_from_f64};
pub use interval::Ival;
pub use narrow::{Bf16, F16};
pub use round::{Format, hex, hex_f32, hex_f64, round_f32, round_f64, round_f64_to, round_odd_f64};
pub use scalar::{RealScalar, Scalar};
pub use ziv::{Approx, MAX_PREC, MAX_WORKING_PREC, MIN_PREC};
