//! A small scalar trait so that each formula is written once and evaluated in
//! every arithmetic the crate needs: exact rationals (the oracle's exact route),
//! MPFR intervals (rigorous enclosures), and `f32`/`f64` (fast kernels and the
//! published-formula zoo).

use super::interval::Ival;
use rug::{Integer, Rational};

/// Ring operations plus integer constants, in a given arithmetic.
///
/// Constants are made "like `self`" so that context (an interval's precision)
/// travels with the value instead of through a global.
pub trait Scalar: Clone {
    /// The integer `n` in the arithmetic (and precision) of `self`.
    fn int_like(&self, n: i64) -> Self;
    /// The big integer `n` in the arithmetic of `self` (rounded outward for intervals,
    /// to nearest for floats).
    fn integer_like(&self, n: &Integer) -> Self;
    /// `self + o`.
    fn add(&self, o: &Self) -> Self;
    /// `self − o`.
    fn sub(&self, o: &Self) -> Self;
    /// `self · o`.
    fn mul(&self, o: &Self) -> Self;
    /// `−self`.
    fn neg(&self) -> Self;
    /// `self · n`.
    fn mul_int(&self, n: i64) -> Self {
        self.mul(&self.int_like(n))
    }
    /// `self²`.
    fn square(&self) -> Self {
        self.mul(self)
    }
}

/// Scalars with a square root (needed by the De Moivre route: sin θ = √(1 − c²)).
pub trait RealScalar: Scalar {
    /// `√max(self, 0)`; for intervals the negative part (rounding noise of a
    /// quantity known to be ≥ 0) is cut off.
    fn sqrt_nonneg(&self) -> Self;
}

macro_rules! float_scalar {
    ($t:ty) => {
        impl Scalar for $t {
            fn int_like(&self, n: i64) -> Self {
                n as $t
            }
            fn integer_like(&self, n: &Integer) -> Self {
                n.to_f64() as $t
            }
            fn add(&self, o: &Self) -> Self {
                self + o
            }
            fn sub(&self, o: &Self) -> Self {
                self - o
            }
            fn mul(&self, o: &Self) -> Self {
                self * o
            }
            fn neg(&self) -> Self {
                -self
            }
        }
        impl RealScalar for $t {
            fn sqrt_nonneg(&self) -> Self {
                self.max(0.0).sqrt()
            }
        }
    };
}
float_scalar!(f32);
float_scalar!(f64);

impl Scalar for Rational {
    fn int_like(&self, n: i64) -> Self {
        Rational::from(n)
    }
    fn integer_like(&self, n: &Integer) -> Self {
        Rational::from(n)
    }
    fn add(&self, o: &Self) -> Self {
        Rational::from(self + o)
    }
    fn sub(&self, o: &Self) -> Self {
        Rational::from(self - o)
    }
    fn mul(&self, o: &Self) -> Self {
        Rational::from(self * o)
    }
    fn neg(&self) -> Self {
        Rational::from(-self)
    }
}

impl Scalar for Ival {
    fn int_like(&self, n: i64) -> Self {
        Ival::from_integer(&Integer::from(n), self.prec())
    }
    fn integer_like(&self, n: &Integer) -> Self {
        Ival::from_integer(n, self.prec())
    }
    fn add(&self, o: &Self) -> Self {
        Ival::add(self, o)
    }
    fn sub(&self, o: &Self) -> Self {
        Ival::sub(self, o)
    }
    fn mul(&self, o: &Self) -> Self {
        Ival::mul(self, o)
    }
    fn neg(&self) -> Self {
        Ival::neg(self)
    }
    fn square(&self) -> Self {
        Ival::square(self)
    }
}

impl RealScalar for Ival {
    fn sqrt_nonneg(&self) -> Self {
        let zero = rug::Float::new(self.prec());
        let hi_inf = rug::Float::with_val(self.prec(), rug::float::Special::Infinity);
        match self.clamp_to(&zero, &hi_inf) {
            Some(nonneg) => nonneg.sqrt().expect("non-negative"),
            None => Ival::point(zero),
        }
    }
}
