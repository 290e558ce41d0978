//! Closed intervals `[lo, hi]` over `rug::Float` with outward (directed) rounding.
//!
//! Every operation returns an interval that is guaranteed to contain the exact
//! result of the operation applied to *every* point of its arguments: lower
//! endpoints are rounded toward −∞ and upper endpoints toward +∞ (MPFR rounds
//! correctly in the direction asked, so this is rigorous, not a heuristic).
//!
//! Monotone functions (`sqrt`, `exp`, `ln`, `ln_1p`, `acos`, `asin`) are evaluated at
//! the endpoints; `cos` and `sin` use their Lipschitz constant 1 around the lower
//! endpoint. Operations that are undefined somewhere on their argument (division
//! by an interval containing 0, `sqrt`/`ln` of negative numbers) return `None`:
//! at a higher working precision the argument may shrink enough to be valid, so
//! the caller (usually the [Ziv loop](super::ziv)) decides whether to retry.

use rug::Float;
use rug::float::{Constant, Round};
use std::cmp::Ordering;

/// A closed interval `[lo, hi]` with finite MPFR endpoints, `lo ≤ hi`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ival {
    lo: Float,
    hi: Float,
}

fn down<T>(prec: u32, val: T) -> Float
where
    Float: rug::ops::AssignRound<T, Round = Round, Ordering = Ordering>,
{
    Float::with_val_round(prec, val, Round::Down).0
}

fn up<T>(prec: u32, val: T) -> Float
where
    Float: rug::ops::AssignRound<T, Round = Round, Ordering = Ordering>,
{
    Float::with_val_round(prec, val, Round::Up).0
}

/// `a` when `a < b`, else `b` (a copy; on a tie `b`, whose precision it keeps).
fn smaller(a: &Float, b: &Float) -> Float {
    if a < b { a.clone() } else { b.clone() }
}

/// `a` when `a > b`, else `b` (a copy; on a tie `b`, whose precision it keeps).
fn larger(a: &Float, b: &Float) -> Float {
    if a > b { a.clone() } else { b.clone() }
}

/// `|a − b|` from `a − b` rounded toward +∞ at one bit more than the wider operand.
/// Exact unless the exponents are far apart; when `a < b` that rounding is toward 0, so
/// this is a distance for reports and error estimates, not a rigorous upper bound.
pub(crate) fn abs_diff_up(a: &Float, b: &Float) -> Float {
    let p = a.prec().max(b.prec()) + 1;
    up(p, a - b).abs()
}

impl Ival {
    /// The interval `[lo, hi]`. Returns `None` unless both endpoints are finite and `lo ≤ hi`.
    pub fn new(lo: Float, hi: Float) -> Option<Ival> {
        (lo.is_finite() && hi.is_finite() && lo <= hi).then_some(Ival { lo, hi })
    }

    /// The degenerate interval `[x, x]` (exact).
    pub fn point(x: Float) -> Ival {
        debug_assert!(x.is_finite());
        Ival {
            lo: x.clone(),
            hi: x,
        }
    }

    /// The tightest interval at precision `prec` that contains the exact rational `r`.
    pub fn from_rational(r: &rug::Rational, prec: u32) -> Ival {
        Ival::enclose(prec, r)
    }

    /// The integer `n`, enclosed at precision `prec` (exact when `n` fits in `prec` bits).
    pub fn from_integer(n: &rug::Integer, prec: u32) -> Ival {
        Ival::enclose(prec, n)
    }

    /// An enclosure of π at precision `prec`.
    pub fn pi(prec: u32) -> Ival {
        Ival::enclose(prec, Constant::Pi)
    }

    /// The tightest interval at precision `prec` around the exact value `x` (`x` rounded
    /// down and up).
    fn enclose<T: Copy>(prec: u32, x: T) -> Ival
    where
        Float: rug::ops::AssignRound<T, Round = Round, Ordering = Ordering>,
    {
        Ival {
            lo: down(prec, x),
            hi: up(prec, x),
        }
    }

    /// Lower endpoint.
    pub fn lo(&self) -> &Float {
        &self.lo
    }

    /// Upper endpoint.
    pub fn hi(&self) -> &Float {
        &self.hi
    }

    /// The working precision of this interval (the larger endpoint precision).
    pub fn prec(&self) -> u32 {
        self.lo.prec().max(self.hi.prec())
    }

    /// `true` when the interval is a single exact number.
    pub fn is_point(&self) -> bool {
        self.lo == self.hi
    }

    /// `true` when `x` lies in the interval.
    pub fn contains(&self, x: &Float) -> bool {
        self.lo <= *x && *x <= self.hi
    }

    /// `true` when the rational `r` lies in the interval (exact comparison).
    pub fn contains_rational(&self, r: &rug::Rational) -> bool {
        self.lo <= *r && self.hi >= *r
    }

    /// `true` when 0 lies in the interval.
    pub fn contains_zero(&self) -> bool {
        self.lo <= 0 && self.hi >= 0
    }

    /// An upper bound of the width `hi − lo`.
    pub fn width(&self) -> Float {
        up(self.prec(), &self.hi - &self.lo)
    }

    /// An upper bound of `max |x|` over the interval (the magnitude).
    pub fn mag(&self) -> Float {
        let a = Float::with_val(self.lo.prec(), self.lo.abs_ref());
        let b = Float::with_val(self.hi.prec(), self.hi.abs_ref());
        if a > b { a } else { b }
    }

    /// `min |x|` over the interval (the mignitude): 0 when the interval contains 0.
    pub fn mig(&self) -> Float {
        if self.contains_zero() {
            Float::new(self.prec())
        } else if self.lo > 0 {
            self.lo.clone()
        } else {
            Float::with_val(self.hi.prec(), self.hi.abs_ref())
        }
    }

    /// A point of the interval (its lower endpoint: exact, so no rounding is involved).
    pub fn any_point(&self) -> &Float {
        &self.lo
    }

    /// The midpoint `(lo + hi)/2`, at one bit more than the endpoints.
    pub fn mid(&self) -> Float {
        self.mid_at(self.prec() + 1)
    }

    /// A point near the middle, `(lo + hi)/2` with the sum rounded to nearest at `prec`
    /// bits. For `prec` at least the endpoints' precision it lies in the interval (both
    /// ends are representable, so rounding to nearest cannot pass them).
    pub fn mid_at(&self, prec: u32) -> Float {
        let mut s = Float::with_val(prec, &self.lo + &self.hi);
        s /= 2;
        s
    }

    /// Certain comparison: `Some(Less)` when every point is below every point of
    /// `other`, `Some(Greater)` for the converse, `Some(Equal)` when both are the
    /// same point, `None` when the intervals overlap otherwise.
    pub fn cmp_certain(&self, other: &Ival) -> Option<Ordering> {
        if self.hi < other.lo {
            Some(Ordering::Less)
        } else if self.lo > other.hi {
            Some(Ordering::Greater)
        } else if self.is_point() && other.is_point() && self.lo == other.lo {
            Some(Ordering::Equal)
        } else {
            None
        }
    }

    /// The certain sign: `Some(Greater)` or `Some(Less)` when every point is positive or
    /// negative, `Some(Equal)` for the point 0, `None` when the interval contains 0 and
    /// other points.
    pub fn sign_certain(&self) -> Option<Ordering> {
        if self.lo > 0 {
            Some(Ordering::Greater)
        } else if self.hi < 0 {
            Some(Ordering::Less)
        } else if self.is_point() {
            Some(Ordering::Equal)
        } else {
            None
        }
    }

    /// `true` when the two intervals share a point.
    pub fn intersects(&self, other: &Ival) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }

    /// Intersection with `[lo, hi]`, used to apply a mathematical range that is
    /// known a priori (e.g. `|cos θ| ≤ 1`). Returns `None` if the intersection is empty.
    pub fn clamp_to(&self, lo: &Float, hi: &Float) -> Option<Ival> {
        Ival::new(larger(lo, &self.lo), smaller(hi, &self.hi))
    }

    /// Intersection with `[−1, 1]`.
    pub fn clamp_unit(&self) -> Option<Ival> {
        let p = self.prec();
        self.clamp_to(&Float::with_val(p, -1), &Float::with_val(p, 1))
    }

    /// `−self` (exact).
    pub fn neg(&self) -> Ival {
        Ival {
            lo: Float::with_val(self.hi.prec(), -&self.hi),
            hi: Float::with_val(self.lo.prec(), -&self.lo),
        }
    }

    /// `self + other`.
    pub fn add(&self, other: &Ival) -> Ival {
        let p = self.prec().max(other.prec());
        Ival {
            lo: down(p, &self.lo + &other.lo),
            hi: up(p, &self.hi + &other.hi),
        }
    }

    /// `self − other`.
    pub fn sub(&self, other: &Ival) -> Ival {
        let p = self.prec().max(other.prec());
        Ival {
            lo: down(p, &self.lo - &other.hi),
            hi: up(p, &self.hi - &other.lo),
        }
    }

    /// `self · other`: the hull of the four endpoint products, each rounded outward.
    pub fn mul(&self, other: &Ival) -> Ival {
        let p = self.prec().max(other.prec());
        if self.is_point() && other.is_point() {
            return Ival {
                lo: down(p, &self.lo * &other.lo),
                hi: up(p, &self.lo * &other.lo),
            };
        }
        self.hull_of_endpoints(other, |a, b| (down(p, a * b), up(p, a * b)))
    }

    /// The hull of a binary operation over the four endpoint pairs, where
    /// `outward(a, b)` returns the operation's result rounded down and up.
    fn hull_of_endpoints(
        &self,
        other: &Ival,
        outward: impl Fn(&Float, &Float) -> (Float, Float),
    ) -> Ival {
        let pairs = [
            (&self.lo, &other.lo),
            (&self.lo, &other.hi),
            (&self.hi, &other.lo),
            (&self.hi, &other.hi),
        ];
        let mut lo: Option<Float> = None;
        let mut hi: Option<Float> = None;
        for (a, b) in pairs {
            let (l, h) = outward(a, b);
            if lo.as_ref().is_none_or(|x| l < *x) {
                lo = Some(l);
            }
            if hi.as_ref().is_none_or(|x| h > *x) {
                hi = Some(h);
            }
        }
        Ival {
            lo: lo.expect("four endpoint pairs"),
            hi: hi.expect("four endpoint pairs"),
        }
    }

    /// `self²`, tighter than `self · self` when the interval contains 0.
    pub fn square(&self) -> Ival {
        let p = self.prec();
        if self.contains_zero() {
            let m = self.mag();
            Ival {
                lo: Float::new(p),
                hi: up(p, m.square_ref()),
            }
        } else {
            let (a, b) = if self.lo > 0 {
                (&self.lo, &self.hi)
            } else {
                (&self.hi, &self.lo)
            };
            Ival {
                lo: down(p, a.square_ref()),
                hi: up(p, b.square_ref()),
            }
        }
    }

    /// `self / other`, or `None` when `other` contains 0.
    pub fn div(&self, other: &Ival) -> Option<Ival> {
        if other.contains_zero() {
            return None;
        }
        let p = self.prec().max(other.prec());
        Some(self.hull_of_endpoints(other, |a, b| (down(p, a / b), up(p, a / b))))
    }

    /// `self · 2^e` (exact).
    pub fn mul_pow2(&self, e: i32) -> Ival {
        Ival {
            lo: Float::with_val(self.lo.prec(), &self.lo << e),
            hi: Float::with_val(self.hi.prec(), &self.hi << e),
        }
    }

    /// A monotone function `f` over the interval, rounded outward: `[f(lo), f(hi)]` when
    /// `f` is increasing, `[f(hi), f(lo)]` when it is decreasing.
    fn monotone<'a, T>(&'a self, increasing: bool, f: impl Fn(&'a Float) -> T) -> Ival
    where
        Float: rug::ops::AssignRound<T, Round = Round, Ordering = Ordering>,
    {
        let p = self.prec();
        let (a, b) = if increasing {
            (&self.lo, &self.hi)
        } else {
            (&self.hi, &self.lo)
        };
        Ival {
            lo: down(p, f(a)),
            hi: up(p, f(b)),
        }
    }

    /// A function `f` into [−1, 1] with `|f′| ≤ 1` over the interval: `f(lo) ± (hi − lo)`,
    /// rounded outward and intersected with [−1, 1].
    fn unit_lipschitz<'a, T>(&'a self, f: impl Fn(&'a Float) -> T) -> Ival
    where
        Float: rug::ops::AssignRound<T, Round = Round, Ordering = Ordering>,
    {
        let p = self.prec();
        let (lo, hi) = (down(p, f(&self.lo)), up(p, f(&self.lo)));
        Ival { lo, hi }
            .inflate(&self.width())
            .clamp_unit()
            .expect("f(lo) is in [-1, 1]")
    }

    /// `√self`, or `None` when the interval reaches below 0.
    pub fn sqrt(&self) -> Option<Ival> {
        if self.lo < 0 {
            return None;
        }
        Some(self.monotone(true, Float::sqrt_ref))
    }

    /// `e^self` (increasing).
    pub fn exp(&self) -> Ival {
        self.monotone(true, Float::exp_ref)
    }

    /// `ln self`, or `None` unless the interval is positive.
    pub fn ln(&self) -> Option<Ival> {
        if self.lo <= 0 {
            return None;
        }
        Some(self.monotone(true, Float::ln_ref))
    }

    /// `ln(1 + self)`, or `None` unless `self > −1`.
    pub fn ln_1p(&self) -> Option<Ival> {
        if self.lo <= -1 {
            return None;
        }
        Some(self.monotone(true, Float::ln_1p_ref))
    }

    /// `acos self` (decreasing on [−1, 1]), or `None` when the interval leaves [−1, 1].
    pub fn acos(&self) -> Option<Ival> {
        if self.lo < -1 || self.hi > 1 {
            return None;
        }
        Some(self.monotone(false, Float::acos_ref))
    }

    /// `asin self` (increasing on [−1, 1]), or `None` when the interval leaves [−1, 1].
    pub fn asin(&self) -> Option<Ival> {
        if self.lo < -1 || self.hi > 1 {
            return None;
        }
        Some(self.monotone(true, Float::asin_ref))
    }

    /// `cos self`: `cos(lo) ± (hi − lo)` (|cos′| ≤ 1), intersected with [−1, 1].
    pub fn cos(&self) -> Ival {
        self.unit_lipschitz(Float::cos_ref)
    }

    /// `sin self`: `sin(lo) ± (hi − lo)` (|sin′| ≤ 1), intersected with [−1, 1].
    pub fn sin(&self) -> Ival {
        self.unit_lipschitz(Float::sin_ref)
    }

    /// The hull of `self` and `other`.
    pub fn hull(&self, other: &Ival) -> Ival {
        Ival {
            lo: smaller(&self.lo, &other.lo),
            hi: larger(&self.hi, &other.hi),
        }
    }

    /// `self ± r` for a non-negative radius `r` (outward rounded).
    pub fn inflate(&self, r: &Float) -> Ival {
        let p = self.prec();
        Ival {
            lo: down(p, &self.lo - r),
            hi: up(p, &self.hi + r),
        }
    }

    /// An interval containing `max(a, b)` for every `a ∈ self`, `b ∈ other`.
    pub fn max(&self, other: &Ival) -> Ival {
        Ival {
            lo: larger(&self.lo, &other.lo),
            hi: larger(&self.hi, &other.hi),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rug::Rational;

    #[test]
    fn asin_encloses() {
        let a = Ival::from_rational(&Rational::from((1, 2)), 128)
            .asin()
            .unwrap();
        let pi6 = Ival::pi(128)
            .div(&Ival::from_integer(&6.into(), 128))
            .unwrap();
        assert!(a.lo() <= pi6.hi() && pi6.lo() <= a.hi());
        assert!(a.width() < 1e-35);
        assert!(Ival::from_rational(&Rational::from(2), 64).asin().is_none());
    }

    #[test]
    fn rational_enclosure_is_tight_and_contains() {
        let r = Rational::from((1, 10));
        let i = Ival::from_rational(&r, 64);
        assert!(i.contains_rational(&r));
        assert!(!i.is_point());
        let mut next = i.lo().clone();
        next.next_up();
        assert_eq!(&next, i.hi());
    }

    #[test]
    fn dyadic_stays_exact() {
        let x = Ival::from_rational(&Rational::from((3, 8)), 64);
        assert!(x.is_point());
        let y = x.mul(&x).add(&x).sub(&x.square());
        assert!(y.is_point());
        assert_eq!(*y.lo(), 0.375);
    }

    #[test]
    fn division_by_interval_with_zero_is_refused() {
        let z = Ival::new(Float::with_val(53, -1), Float::with_val(53, 1)).unwrap();
        let one = Ival::point(Float::with_val(53, 1));
        assert!(one.div(&z).is_none());
    }

    #[test]
    fn sign_midpoint_and_intersection() {
        let iv = |a: i32, b: i32| Ival::new(Float::with_val(8, a), Float::with_val(8, b)).unwrap();
        assert_eq!(iv(1, 3).sign_certain(), Some(Ordering::Greater));
        assert_eq!(iv(-3, -1).sign_certain(), Some(Ordering::Less));
        assert_eq!(iv(0, 0).sign_certain(), Some(Ordering::Equal));
        assert_eq!(iv(-1, 1).sign_certain(), None);
        assert_eq!(iv(0, 1).sign_certain(), None);
        assert!(iv(1, 3).intersects(&iv(3, 5)));
        assert!(!iv(1, 3).intersects(&iv(4, 5)));
        // 255 + 254 = 509 needs 9 bits: exact at 9, rounded to nearest (to even) at 8.
        let w = iv(254, 255);
        assert_eq!(w.mid(), 254.5);
        assert_eq!(w.mid_at(8), 254.0);
        assert!(w.contains(&w.mid_at(8)));
    }

    #[test]
    fn cos_of_pi_enclosure_contains_minus_one() {
        let c = Ival::pi(128).cos();
        assert!(c.contains(&Float::with_val(128, -1)));
        assert!(c.width() < 1e-35);
    }
}
