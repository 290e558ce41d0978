//! The textbook implementation, evaluated entirely in the format under test: the
//! three-term recurrences for `T_m` and `U_{m−1}`, the branch `k` from thresholds
//! `cos(jπ/m)` computed in the format. It is correct (no flaw), but not careful.
//!
//! It calibrates the default tolerance policy: the policy must accept it for every
//! `m ≤ 16` (no false alarms) while rejecting every flawed implementation.

use super::kernel::{FloatFormat, ScalarKernel};
use crate::multiangle::{chebyshev_u, cos_m_recurrence};
use crate::psi::{branch_sign, psi_on_branch};

/// The textbook kernel (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Textbook;

/// Float ops the textbook kernel needs beyond [`FloatFormat`].
pub trait TextbookFloat: FloatFormat + crate::arith::Scalar {
    /// `cos(jπ/m)` computed in the format (`π` rounded to the format, `cos` of the format).
    fn threshold(j: u32, m: u32) -> Self;
}

impl TextbookFloat for f32 {
    fn threshold(j: u32, m: u32) -> f32 {
        (j as f32 * std::f32::consts::PI / m as f32).cos()
    }
}

impl TextbookFloat for f64 {
    fn threshold(j: u32, m: u32) -> f64 {
        (f64::from(j) * std::f64::consts::PI / f64::from(m)).cos()
    }
}

impl Textbook {
    /// `k = #{ j ∈ 1..m−1 : c < cos(jπ/m) }` with thresholds computed in `T`.
    pub fn branch<T: TextbookFloat>(m: u32, c: T) -> u32 {
        (1..m).filter(|&j| c < T::threshold(j, m)).count() as u32
    }
}

impl<T: TextbookFloat> ScalarKernel<T> for Textbook {
    fn name(&self) -> String {
        "textbook".into()
    }
    fn cos_m(&self, m: u32, c: T) -> T {
        cos_m_recurrence(m, &c)
    }
    fn psi(&self, m: u32, c: T) -> T {
        psi_on_branch(Self::branch(m, c), &cos_m_recurrence(m, &c))
    }
    fn dpsi_dcos(&self, m: u32, c: T) -> T {
        let k = Self::branch(m, c);
        branch_sign(k, &chebyshev_u(m - 1, &c).mul_int(i64::from(m)))
    }
}
