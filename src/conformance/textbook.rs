//! The textbook implementation, evaluated entirely in the format under test: the
//! three-term recurrences for `T_m` and `U_{m−1}`, the branch `k` from thresholds
//! `cos(jπ/m)` computed in the format. It is correct (no flaw), but not careful.
//!
//! It calibrates the default tolerance policy: the policy must accept it for every
//! `m ≤ 16` (no false alarms) while rejecting every flawed implementation.

use super::kernel::{KernelFloat, ScalarKernel};
use crate::multiangle::{chebyshev_u, cos_m_recurrence};
use crate::psi::{branch_sign, psi_on_branch};

/// The textbook kernel (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct Textbook;

impl Textbook {
    /// `k = #{ j ∈ 1..m−1 : c < cos(jπ/m) }` with thresholds computed in `T`.
    pub fn branch<T: KernelFloat>(m: u32, c: T) -> u32 {
        (1..m).filter(|&j| c < threshold(j, m)).count() as u32
    }
}

/// `cos(jπ/m)` computed in the format: `π` rounded to the format, `j·π/m` and `cos` in
/// the format.
fn threshold<T: KernelFloat>(j: u32, m: u32) -> T {
    T::int(i64::from(j))
        .mul(&T::PI)
        .div(T::int(i64::from(m)))
        .cos()
}

impl<T: KernelFloat> ScalarKernel<T> for Textbook {
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
