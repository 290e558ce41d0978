//! `m_min`: the paper's Properties 2 and 3 (module docs §3).

use super::angular::margin_coefficient;
use super::root::{enclose_root, internal};
use crate::Error;
use crate::arith::{Approx, Ival, ziv};
use crate::multiangle::MAX_M;
use rug::{Float, Integer, Rational};
use std::cmp::Ordering;

/// Which of the paper's two `m_min` results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// Two classes (Property 2): intra-class span `Θ/(m+1) + Θ/(m−1)`, `m_min = 2 + √3`.
    Binary,
    /// Many classes with evenly spaced weights (Property 3): intra-class span
    /// `2Θ/(m+1)`, `m_min = 3`.
    Multiclass,
}

impl Setting {
    /// A short lower-case name (`"binary"`, `"multiclass"`).
    pub fn name(self) -> &'static str {
        match self {
            Setting::Binary => "binary",
            Setting::Multiclass => "multiclass",
        }
    }
}

/// `inter − intra` in units of `Θ`, and its derivative, over an interval of `m`.
/// Binary: `g(m) = (m−1)/(m+1) − 1/(m−1) − 1/(m+1)`, `g′ = 3/(m+1)² + 1/(m−1)²`;
/// multiclass: `h(m) = (m−1)/(m+1) − 2/(m+1)`, `h′ = 4/(m+1)²`.
/// `None` when an interval denominator contains 0.
fn separation_gap(setting: Setting, m: &Ival) -> Option<(Ival, Ival)> {
    let wp = m.prec();
    let int = |n: i64| Ival::from_integer(&Integer::from(n), wp);
    let mp1 = m.add(&int(1));
    let mm1 = m.sub(&int(1));
    let inter = mm1.div(&mp1)?; // the margin (m−1)/(m+1)
    let near = int(1).div(&mp1)?; // Θ/(m+1): boundary towards a neighbour
    let mp1_sq = mp1.square();
    match setting {
        Setting::Binary => {
            let far = int(1).div(&mm1)?; // Θ/(m−1): boundary away from W_2
            let gap = inter.sub(&near.add(&far));
            let d = int(3).div(&mp1_sq)?.add(&int(1).div(&mm1.square())?);
            Some((gap, d))
        }
        Setting::Multiclass => {
            let gap = inter.sub(&near.mul_pow2(1));
            Some((gap, int(4).div(&mp1_sq)?))
        }
    }
}

/// The intra-/inter-class separation `inter − intra` (in units of `Θ`) at a given
/// margin `m`: `(m−1)/(m+1) − 1/(m−1) − 1/(m+1)` (binary, `m > 1`) or
/// `(m−1)/(m+1) − 2/(m+1)` (multiclass, `m ≥ 1`). Non-negative exactly when the maximal
/// intra-class angle does not exceed the minimal inter-class angle.
///
/// ```
/// use asoftmax_spec::margin::{separation, Setting};
/// use rug::Rational;
/// // m = 4: 3/5 − 1/3 − 1/5 = 1/15 (binary), 3/5 − 2/5 = 1/5 (multiclass).
/// assert_eq!(separation(Setting::Binary, &Rational::from(4)).unwrap(), Rational::from((1, 15)));
/// assert_eq!(separation(Setting::Multiclass, &Rational::from(4)).unwrap(), Rational::from((1, 5)));
/// ```
///
/// # Errors
/// [`Error::Domain`] for `m < 1`, or `m = 1` in the binary setting (no far boundary).
pub fn separation(setting: Setting, m: &Rational) -> Result<Rational, Error> {
    let binary = setting == Setting::Binary;
    if *m < 1 || (binary && *m == 1) {
        return Err(Error::Domain {
            arg: "m",
            value: crate::describe_rational(m),
            expected: if binary {
                "a margin m > 1 (binary setting)"
            } else {
                "a margin m >= 1"
            },
        });
    }
    let inter = margin_coefficient(m);
    let near = Rational::from(1) / Rational::from(m + 1u32);
    Ok(match setting {
        Setting::Binary => inter - &near - Rational::from(1) / Rational::from(m - 1u32),
        Setting::Multiclass => inter - near * 2u32,
    })
}

/// The smallest margin `m ≥ 1` for which the maximal intra-class angle is at most the
/// minimal inter-class angle, found by certified root enclosure of the separation
/// function (module docs §3):
///
/// - [`Setting::Binary`]: root of `(m−1)/(m+1) − 1/(m−1) − 1/(m+1)` (Property 2, `2 + √3`);
/// - [`Setting::Multiclass`]: root of `(m−1)/(m+1) − 2/(m+1)` (Property 3, `3`).
///
/// Both functions are strictly increasing for `m > 1`; a bracket is found by doubling
/// from `m = 2` (binary, where the value is `−1`) or `m = 1` (multiclass, value `−1`)
/// with certified signs, then shrunk by bisection and interval Newton.
///
/// ```
/// use asoftmax_spec::margin::{m_min, Setting};
/// assert_eq!(m_min(Setting::Binary, 64).unwrap().f64(), 2.0 + 3f64.sqrt());
/// assert_eq!(m_min(Setting::Multiclass, 64).unwrap().f64(), 3.0);
/// ```
///
/// # Errors
/// [`Error::Precision`] for `prec`, [`Error::PrecisionCap`] if the Ziv loop gives up.
pub fn m_min(setting: Setting, prec: u32) -> Result<Approx, Error> {
    ziv::ziv("m_min", prec, |wp| {
        let gap_at = |p: &Float| -> Result<Ival, Error> {
            separation_gap(setting, &Ival::point(p.clone()))
                .map(|(g, _)| g)
                .ok_or_else(|| internal("m_min", format!("separation undefined at m = {p}")))
        };
        let dgap = |x: &Ival| -> Result<Option<Ival>, Error> {
            Ok(separation_gap(setting, x).map(|(_, d)| d))
        };
        // Bracket by doubling: the start has a certified negative separation.
        let mut lo = Float::with_val(wp, if setting == Setting::Binary { 2 } else { 1 });
        if gap_at(&lo)?.sign_certain() != Some(Ordering::Less) {
            return Err(internal(
                "m_min",
                format!("separation at m = {lo} is not negative"),
            ));
        }
        let mut hi = Float::with_val(wp, &lo * 2u32);
        loop {
            match gap_at(&hi)?.sign_certain() {
                Some(Ordering::Less) => {
                    lo = hi.clone();
                    hi *= 2u32;
                    if hi > MAX_M {
                        return Err(internal("m_min", "no sign change up to m = 65536".into()));
                    }
                }
                Some(_) => break,
                None => return Ok(None),
            }
        }
        enclose_root("m_min root", lo, hi, wp, gap_at, dgap)
    })
}

/// The closed forms of [`m_min`]: `2 + √3` (binary) and `3` (multiclass).
///
/// # Errors
/// [`Error::Precision`] for `prec`.
pub fn m_min_closed(setting: Setting, prec: u32) -> Result<Approx, Error> {
    match setting {
        Setting::Binary => ziv::ziv("m_min_closed", prec, |wp| {
            let three = Ival::from_integer(&Integer::from(3), wp);
            let two = Ival::from_integer(&Integer::from(2), wp);
            Ok(three.sqrt().map(|s| s.add(&two)))
        }),
        Setting::Multiclass => ziv::approx_rational("m_min_closed", &Rational::from(3), prec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::testing::q;
    use crate::psi;

    #[test]
    fn separation_closed_forms() {
        // g(m)·(m² − 1) = m² − 4m + 1 and h(m)·(m + 1) = m − 3, exactly.
        for (n, d) in [(3, 2), (2, 1), (37, 10), (4, 1), (17, 3), (100, 1)] {
            let m = q(n, d);
            let g = separation(Setting::Binary, &m).unwrap();
            let poly = Rational::from(m.square_ref()) - Rational::from(&m * 4u32) + 1u32;
            assert_eq!(g * (Rational::from(m.square_ref()) - 1u32), poly);
            let h = separation(Setting::Multiclass, &m).unwrap();
            assert_eq!(h * Rational::from(&m + 1u32), Rational::from(&m - 3u32));
        }
        assert!(separation(Setting::Binary, &q(1, 1)).is_err());
        assert_eq!(separation(Setting::Multiclass, &q(1, 1)).unwrap(), q(-1, 1));
    }

    #[test]
    fn far_boundary_is_at_theta_over_m_minus_1() {
        // The binary far boundary: ψ(θ) = cos(θ + Θ) at θ = Θ/(m−1), with a certified sign
        // change around it (m = 4, Θ = 1/2 ≤ π(m−1)/m).
        let (m, big) = (q(4, 1), q(1, 2));
        let wp = 256;
        let far = &big / Rational::from(&m - 1u32);
        let f = |t: &Rational| {
            let ti = Ival::from_rational(t, wp);
            psi::psi_theta_ival(&m, &ti)
                .unwrap()
                .sub(&Ival::from_rational(&big, wp).add(&ti).cos())
        };
        let eps = q(1, 1_000_000);
        assert!(f(&Rational::from(&far - &eps)).sign_certain() == Some(Ordering::Greater));
        assert!(f(&Rational::from(&far + &eps)).sign_certain() == Some(Ordering::Less));
        assert!(f(&far).contains_zero());
    }
}
