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
    /// `self / o`.
    fn div(&self, o: Self) -> Self;
    /// `√self`.
    fn sqrt(&self) -> Self;
    /// `e^self`.
    fn exp(&self) -> Self;
    /// `ln self`.
    fn ln(&self) -> Self;
    /// `self` clamped to [−1, 1] (a float cosine can exceed 1 by an ulp).
    fn clamp_unit(&self) -> Self;
}

macro_rules! textbook_float {
    ($t:ident) => {
        impl TextbookFloat for $t {
            fn threshold(j: u32, m: u32) -> $t {
                (j as $t * std::$t::consts::PI / m as $t).cos()
            }
            fn div(&self, o: Self) -> Self {
                self / o
            }
            fn sqrt(&self) -> Self {
                $t::sqrt(*self)
            }
            fn exp(&self) -> Self {
                $t::exp(*self)
            }
            fn ln(&self) -> Self {
                $t::ln(*self)
            }
            fn clamp_unit(&self) -> Self {
                self.clamp(-1.0, 1.0)
            }
        }
    };
}
textbook_float!(f32);
textbook_float!(f64);

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
