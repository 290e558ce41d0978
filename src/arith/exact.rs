//! Exact numbers from text: decimal (`"-0.125"`, `"1e-30"`) and C99 hex-float
//! (`"0x1.8p-1"`) strings denote exact rationals; an `f64` denotes its exact value.
//!
//! Sizes are bounded so that hostile input cannot make the oracle allocate
//! without limit: at most [`MAX_DIGITS`] digits and a decimal exponent of at
//! most [`MAX_DEC_EXP`] (binary: [`MAX_BIN_EXP`]) in magnitude.

use crate::Error;
use rug::{Integer, Rational};

/// Most digits accepted in one number.
pub const MAX_DIGITS: usize = 100_000;
/// Largest accepted magnitude of a decimal exponent (`e±…`).
pub const MAX_DEC_EXP: i64 = 100_000;
/// Largest accepted magnitude of a binary exponent (`p±…`).
pub const MAX_BIN_EXP: i64 = 400_000;

/// The exact rational value of a finite `f64`.
pub fn rational_from_f64(v: f64) -> Result<Rational, Error> {
    Rational::from_f64(v).ok_or_else(|| Error::InvalidNumber {
        text: format!("{v}"),
        reason: "not a finite number",
    })
}

/// Parses a decimal or C99 hex-float literal into the exact rational it denotes.
///
/// Accepted: optional sign; decimal `digits[.digits][e[±]digits]` (also `.5`, `5.`);
/// hex `0x hexdigits[.hexdigits][p[±]digits]`. Rejected, with the reason: empty
/// text, `nan`/`inf` (not finite), stray characters, too many digits, exponents
/// beyond the documented bounds.
pub fn parse_exact(text: &str) -> Result<Rational, Error> {
    let bad = |reason: &'static str| Error::InvalidNumber {
        text: truncate(text),
        reason,
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(bad("empty number"));
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "nan" | "inf" | "infinity") {
        return Err(bad(
            "not a finite number (NaN and infinities are not inputs)",
        ));
    }
    let (hex, body) = match lower.strip_prefix("0x") {
        Some(rest) => (true, rest.to_string()),
        None => (false, lower),
    };
    let (radix, exp_char, max_exp) = if hex {
        (16, 'p', MAX_BIN_EXP)
    } else {
        (10, 'e', MAX_DEC_EXP)
    };
    let (mant, exp) = match body.split_once(exp_char) {
        Some((m, e)) => (m, Some(e)),
        None => (body.as_str(), None),
    };
    let (int_part, frac_part) = match mant.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mant, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad("no digits"));
    }
    if int_part.len() + frac_part.len() > MAX_DIGITS {
        return Err(bad("too many digits"));
    }
    let is_digit = |c: char| c.is_digit(radix);
    if !int_part.chars().all(is_digit) || !frac_part.chars().all(is_digit) {
        return Err(bad(if hex {
            "expected hex digits, '.', and a 'p' exponent"
        } else {
            "expected decimal digits, '.', and an 'e' exponent"
        }));
    }
    if hex && exp.is_none() {
        return Err(bad("a hex float needs a 'p' exponent"));
    }
    let exp: i64 = match exp {
        None => 0,
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(bad("malformed exponent"));
            }
            // Parse with a length guard so that 10^1000-digit exponents do not overflow.
            if digits.trim_start_matches('0').len() > 12 {
                return Err(bad("exponent out of range"));
            }
            let v: i64 = digits.parse().map_err(|_| bad("malformed exponent"))?;
            if e.starts_with('-') { -v } else { v }
        }
    };
    let all_digits = format!("{int_part}{frac_part}");
    let mantissa =
        Integer::from_str_radix(&all_digits, radix as i32).map_err(|_| bad("malformed digits"))?;
    // value = mantissa · radix^(−len(frac)) · base^exp, base = 2 for hex, 10 for decimal.
    let frac_len = frac_part.len() as i64;
    let (pow10, pow2) = if hex {
        (0, exp - 4 * frac_len)
    } else {
        (exp - frac_len, 0)
    };
    if mantissa != 0
        && (pow10.abs() > max_exp + MAX_DIGITS as i64
            || pow2.abs() > max_exp + 4 * MAX_DIGITS as i64)
    {
        return Err(bad("exponent out of range"));
    }
    if exp.abs() > max_exp && mantissa != 0 {
        return Err(bad("exponent out of range"));
    }
    if mantissa == 0 {
        // Zero with any exponent (the bounds above exempt it): never form radix^exp.
        return Ok(Rational::new());
    }
    let mut r = Rational::from(mantissa);
    if pow10 != 0 {
        let p = Integer::from(Integer::u_pow_u(10, pow10.unsigned_abs() as u32));
        if pow10 > 0 {
            r *= p;
        } else {
            r /= p;
        }
    }
    if pow2 != 0 {
        let sh = pow2.unsigned_abs() as u32;
        if pow2 > 0 {
            r <<= sh;
        } else {
            r >>= sh;
        }
    }
    if neg {
        r = -r;
    }
    Ok(r)
}

fn truncate(text: &str) -> String {
    const KEEP: usize = 40;
    if text.chars().count() <= KEEP {
        text.to_string()
    } else {
        let head: String = text.chars().take(KEEP).collect();
        format!("{head}…")
    }
}

/// The `f64` a decimal or hex text rounds to (nearest, ties to even), as the JSON
/// rules take plain JSON numbers; an error when that rounding overflows.
pub fn f64_of_text(text: &str) -> Result<f64, Error> {
    if let Some(v) = short_decimal_f64(text) {
        return Ok(v);
    }
    let r = parse_exact(text)?;
    let v = crate::arith::ziv::round_rational(&r, crate::arith::round::Format::F64);
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::InvalidNumber {
            text: truncate(text),
            reason: "overflows f64",
        })
    }
}

/// The fast path of [`f64_of_text`]: a decimal of at most 40 characters (so within
/// every bound of [`parse_exact`]) that the standard library parses to a finite nonzero
/// `f64`. Its parser rounds correctly (nearest, ties to even, subnormals included) and
/// accepts exactly `parse_exact`'s decimal grammar on these characters, so the result is
/// the same; zeros, overflows and everything else take the exact route.
fn short_decimal_f64(text: &str) -> Option<f64> {
    let t = text.trim();
    let plain = |b: u8| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E');
    if t.len() > 40 || !t.bytes().all(plain) {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    (v.is_finite() && v != 0.0).then_some(v)
}

/// `r` as a `u32` when it is an integer in `0..=u32::MAX` (an integer margin, an index).
pub(crate) fn integer_u32(r: &Rational) -> Option<u32> {
    if *r.denom() == 1 {
        r.numer().to_u32()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::testing::q;

    #[test]
    fn decimal_forms() {
        assert_eq!(parse_exact("-0.125").unwrap(), q(-1, 8));
        assert_eq!(parse_exact("1e-3").unwrap(), q(1, 1000));
        assert_eq!(parse_exact(".5").unwrap(), q(1, 2));
        assert_eq!(parse_exact("5.").unwrap(), q(5, 1));
        assert_eq!(parse_exact("+12.5E+1").unwrap(), q(125, 1));
        assert_eq!(parse_exact("0.1").unwrap(), q(1, 10));
    }

    #[test]
    fn hex_forms() {
        assert_eq!(parse_exact("0x1.8p-1").unwrap(), q(3, 4));
        assert_eq!(parse_exact("-0x1p+0").unwrap(), q(-1, 1));
        assert_eq!(parse_exact("0x0p+0").unwrap(), q(0, 1));
        assert_eq!(parse_exact("0X.8P1").unwrap(), q(1, 1));
        assert_eq!(
            parse_exact("0x1.6a09e667f3bcdp-1").unwrap(),
            rational_from_f64(std::f64::consts::FRAC_1_SQRT_2).unwrap()
        );
    }

    #[test]
    fn short_decimals_round_like_the_exact_route() {
        for text in [
            "0.1",
            "-0.3",
            "1e-310",
            "4.9e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "1.7976931348623157e308",
            "9007199254740993",
            "-.5",
            "5.",
            "+1.5E+3",
            "0.7071067811865476",
        ] {
            let exact = crate::arith::ziv::round_rational(
                &parse_exact(text).unwrap(),
                crate::arith::round::Format::F64,
            );
            assert_eq!(
                f64_of_text(text).unwrap().to_bits(),
                exact.to_bits(),
                "{text}"
            );
        }
        for text in [
            "1e400",
            "-0",
            "1e-400",
            "1e",
            "--1",
            "0x1p-1",
            "1e99999999999",
        ] {
            assert_eq!(short_decimal_f64(text), None, "{text}");
        }
        assert!(f64_of_text("1e400").is_err());
    }

    #[test]
    fn rejects_with_reasons() {
        for bad in [
            "",
            "nan",
            "-inf",
            "1e",
            "0x1.8",
            "1.2.3",
            "abc",
            "1e99999999999999",
            "0x1pz",
            "--1",
            ".",
            "1e+",
        ] {
            let e = parse_exact(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidNumber { .. }), "{bad}: {e}");
        }
    }
}
