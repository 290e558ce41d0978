//! Number formatting for the generated tables: exact rationals as text or LaTeX, and
//! enclosures printed with a fixed number of decimals that the enclosure determines.
//! The one place this is written (the margin tables and the other tables share it).

use asoftmax_spec::Error;
use asoftmax_spec::arith::{Approx, Ival};
use rug::{Integer, Rational};

/// The tables' minus sign (U+2212).
pub const MINUS: &str = "−";

/// `n/d` or `n`, with a real minus sign for the tables.
pub fn rational_text(r: &Rational) -> String {
    let s = if *r.denom() == 1 {
        r.numer().to_string()
    } else {
        format!("{}/{}", r.numer(), r.denom())
    };
    s.replace('-', MINUS)
}

/// A rational in LaTeX: `-\frac{3}{2}`, `5`.
pub fn rational_tex(r: &Rational) -> String {
    if *r.denom() == 1 {
        r.numer().to_string()
    } else {
        let sign = if *r < 0 { "-" } else { "" };
        format!(
            "{sign}\\tfrac{{{}}}{{{}}}",
            Integer::from(r.numer().abs_ref()),
            r.denom()
        )
    }
}

/// The enclosure printed with exactly `digits` decimals (and `minus` before a negative
/// value) when both endpoints round (to nearest, ties away from 0) to the same text;
/// `None` otherwise.
pub fn fixed_from_ival(iv: &Ival, digits: usize, minus: &str) -> Option<String> {
    let scale = Rational::from(Integer::from(Integer::u_pow_u(10, digits as u32)));
    let round = |f: &rug::Float| -> Option<Integer> {
        let q = f.to_rational()? * &scale;
        Some(q.round().numer().clone())
    };
    let (a, b) = (round(iv.lo())?, round(iv.hi())?);
    if a != b {
        return None;
    }
    let neg = a < 0;
    let mut t = Integer::from(a.abs_ref()).to_string();
    if t.len() <= digits {
        t = format!("{}{t}", "0".repeat(digits + 1 - t.len()));
    }
    let (int, frac) = t.split_at(t.len() - digits);
    let sign = if neg { minus } else { "" };
    Some(if digits == 0 {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

/// Prints an enclosure-valued computation with `digits` decimals and the given minus
/// sign, doubling the working precision until the digits are determined.
pub fn fixed_with<F>(minus: &str, digits: usize, eval: F) -> Result<String, Error>
where
    F: Fn(u32) -> Result<Ival, Error>,
{
    let start = (digits as u32 * 4 + 64).max(64);
    asoftmax_spec::arith::ziv::refine("generated table decimal", start, |wp| {
        Ok(fixed_from_ival(&eval(wp)?, digits, minus))
    })
}

/// [`fixed_with`] with the tables' minus sign.
pub fn fixed<F>(digits: usize, eval: F) -> Result<String, Error>
where
    F: Fn(u32) -> Result<Ival, Error>,
{
    fixed_with(MINUS, digits, eval)
}

/// [`fixed`] for an oracle that returns an [`Approx`] at a requested precision.
pub fn fixed_approx<F>(digits: usize, eval: F) -> Result<String, Error>
where
    F: Fn(u32) -> Result<Approx, Error>,
{
    fixed(digits, |wp| Ok(eval(wp)?.enclosure().clone()))
}
