//! Correct rounding of exact values to the IEEE 754 binary formats the oracle speaks
//! (binary64, binary32, binary16 and bfloat16), the round-to-odd of binary64, and the
//! C99 hex-float notation used for them in JSON.
//!
//! The rounding is written here from the IEEE 754 rules rather than taken from a
//! conversion routine, so that subnormals and overflow are handled explicitly, in one
//! integer routine for every format ([`Parts`]): a nonzero value `x` with
//! `2^(E−1) ≤ |x| < 2^E` keeps `min(p, E − e_tiny)` significant bits, where `2^e_tiny`
//! is the smallest subnormal; the bits below are dropped and the kept part is rounded
//! up when they are more than half its last unit, or exactly half and it is odd (ties
//! to even); a result of `2^(e_max+1)` or more after rounding overflows to ±∞ (exactly
//! IEEE's "round to nearest" overflow rule). A kept width of 0 (`2^(e_tiny−1) ≤ |x| <
//! 2^e_tiny`) rounds to the smallest subnormal, except exactly half of it, which ties to 0.
//!
//! Every value is first reduced to its rounding toward zero at 64 bits plus a sticky
//! bit (whether that rounding was inexact): every rounding boundary of a format with at
//! most 63 significant bits lies on that 64-bit grid, so the reduction decides the same
//! roundings as the exact value (the round-to-odd argument).

use rug::Float;
use rug::float::Round;
use std::cmp::Ordering;

/// An IEEE 754 binary floating-point format the oracle rounds to. Every value of every
/// format is an `f64` exactly, so roundings are returned as `f64`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// binary32 (`f32`): 24-bit significand.
    F32,
    /// binary64 (`f64`): 53-bit significand.
    F64,
    /// binary16 (`f16`, IEEE half precision): 11-bit significand, 5-bit exponent.
    F16,
    /// bfloat16 (`bf16`): 8-bit significand, binary32's 8-bit exponent.
    Bf16,
}

impl Format {
    /// Every format, in the order results list them (`f64`, `f32`, `f16`, `bf16`).
    pub const EVERY: [Format; 4] = [Format::F64, Format::F32, Format::F16, Format::Bf16];

    /// Significand bits, including the implicit one: 24, 53, 11, 8.
    pub const fn precision(self) -> u32 {
        match self {
            Format::F32 => 24,
            Format::F64 => 53,
            Format::F16 => 11,
            Format::Bf16 => 8,
        }
    }

    /// Exponent of the smallest subnormal: `2^tiny_exp` (−149, −1074, −24, −133).
    pub const fn tiny_exp(self) -> i32 {
        match self {
            Format::F32 => -149,
            Format::F64 => -1074,
            Format::F16 => -24,
            Format::Bf16 => -133,
        }
    }

    /// The largest finite value is `(2 − 2^(1−p))·2^max_exp` (127, 1023, 15, 127); it is
    /// also the exponent bias of the encoding.
    pub const fn max_exp(self) -> i32 {
        match self {
            Format::F32 | Format::Bf16 => 127,
            Format::F64 => 1023,
            Format::F16 => 15,
        }
    }

    /// Bits of the biased exponent field of the encoding (8, 11, 5, 8).
    pub const fn exponent_bits(self) -> u32 {
        match self {
            Format::F32 | Format::Bf16 => 8,
            Format::F64 => 11,
            Format::F16 => 5,
        }
    }

    /// `"f32"`, `"f64"`, `"f16"` or `"bf16"`.
    pub const fn name(self) -> &'static str {
        match self {
            Format::F32 => "f32",
            Format::F64 => "f64",
            Format::F16 => "f16",
            Format::Bf16 => "bf16",
        }
    }

    /// The smallest subnormal `2^tiny_exp`, as an `f64`.
    fn tiny(self) -> f64 {
        ldexp(1.0, self.tiny_exp())
    }

    /// The encoding (sign, biased exponent, fraction; `1 + exponent_bits + p − 1` bits)
    /// of `v`, which must be a value of the format, ±∞ or NaN (the quiet NaN with only
    /// the top fraction bit set). A value that is not in the format is a bug of the
    /// caller: `debug_assert`ed.
    pub fn encode(self, v: f64) -> u64 {
        match self {
            // The native types' encodings (a NaN keeps the one pattern below).
            Format::F64 if !v.is_nan() => v.to_bits(),
            Format::F32 if !v.is_nan() => u64::from((v as f32).to_bits()),
            _ => self.encode_fields(v),
        }
    }

    /// [`encode`](Self::encode) field by field, for every format.
    fn encode_fields(self, v: f64) -> u64 {
        let frac_bits = self.precision() - 1;
        let sign = u64::from(v.is_sign_negative()) << (frac_bits + self.exponent_bits());
        let all_ones = (1u64 << self.exponent_bits()) - 1;
        if v.is_nan() {
            return (all_ones << frac_bits) | (1 << (frac_bits - 1));
        }
        if v.is_infinite() {
            return sign | (all_ones << frac_bits);
        }
        if v == 0.0 {
            return sign;
        }
        // The binade of |v| (2^e ≤ |v|), never below the subnormals' exponent.
        let e_min = 1 - self.max_exp();
        let e = (exponent_of(v.abs()) - 1).max(e_min);
        let units = ldexp(v.abs(), frac_bits as i32 - e);
        debug_assert!(units.fract() == 0.0 && units < ldexp(1.0, self.precision() as i32));
        let units = units as u64;
        // A normal number has its implicit bit in `units`: it adds one to the exponent field.
        let biased = if units >> frac_bits == 0 {
            0
        } else {
            (e + self.max_exp()) as u64
        };
        sign | (biased << frac_bits) | (units & ((1 << frac_bits) - 1))
    }

    /// The value of an encoding (the inverse of [`encode`](Self::encode); every NaN
    /// pattern decodes to NaN). Bits above the format's width are ignored.
    pub fn decode(self, bits: u64) -> f64 {
        let frac_bits = self.precision() - 1;
        let all_ones = (1u64 << self.exponent_bits()) - 1;
        let biased = (bits >> frac_bits) & all_ones;
        let frac = bits & ((1 << frac_bits) - 1);
        let neg = (bits >> (frac_bits + self.exponent_bits())) & 1 == 1;
        let magnitude = if biased == all_ones {
            if frac == 0 { f64::INFINITY } else { f64::NAN }
        } else if biased == 0 {
            ldexp(frac as f64, self.tiny_exp())
        } else {
            let units = (frac | (1 << frac_bits)) as f64;
            ldexp(units, biased as i32 - self.max_exp() - frac_bits as i32)
        };
        if neg { -magnitude } else { magnitude }
    }

    /// The next value of the format above `v` (a finite value of the format).
    pub fn next_up(self, v: f64) -> f64 {
        match self {
            // IEEE nextUp of the native types (the same steps as the encoding's).
            Format::F64 => v.next_up(),
            Format::F32 => f64::from((v as f32).next_up()),
            Format::F16 | Format::Bf16 => self.next_up_encoded(v),
        }
    }

    /// [`next_up`](Self::next_up) through the encoding, for every format.
    fn next_up_encoded(self, v: f64) -> f64 {
        // The encoding orders magnitudes: one more is the next larger magnitude.
        let bits = self.encode(v);
        if v == 0.0 {
            self.tiny()
        } else if v > 0.0 {
            self.decode(bits + 1)
        } else {
            self.decode(bits - 1)
        }
    }
}

/// `v·2^k`, exact whenever the result is a normal or subnormal `f64` (two steps, so
/// that neither the factor nor the intermediate product leaves the normal range).
pub(crate) fn ldexp(v: f64, k: i32) -> f64 {
    let step = |v: f64, k: i32| v * f64::from_bits(((1023 + k) as u64) << 52);
    let half = k / 2;
    step(step(v, half), k - half)
}

/// `E` with `2^(E−1) ≤ v < 2^E` for a finite positive `v` (subnormals included).
fn exponent_of(v: f64) -> i32 {
    let biased = (v.to_bits() >> 52) as i32;
    if biased == 0 {
        // Subnormal: 2^−1074 · (the integer in the fraction field).
        let frac = v.to_bits();
        -1074 + (64 - frac.leading_zeros() as i32)
    } else {
        biased - 1022
    }
}

/// A nonzero value reduced for rounding: `|x| = (sig + δ)·2^exp` with `sig` of exactly
/// 64 bits (top bit set) and `0 ≤ δ < 1`, where `sticky` says whether `δ > 0`.
#[derive(Clone, Copy, Debug)]
pub struct Parts {
    neg: bool,
    sig: u64,
    exp: i32,
    sticky: bool,
}

/// A rounded result before it becomes an `f64`: `±units·2^exp`, `units < 2^54`.
struct Kept {
    units: u64,
    exp: i32,
}

impl Parts {
    /// The reduction of an exact `f64` (`None` for zero, infinities and NaN).
    pub fn of_f64(v: f64) -> Option<Parts> {
        if !v.is_finite() || v == 0.0 {
            return None;
        }
        let top = exponent_of(v.abs());
        // |v|·2^(64−top) is an integer of 64 bits (at most 53 of them nonzero).
        let sig = ldexp(v.abs(), 53 - top) as u64;
        Some(Parts {
            neg: v < 0.0,
            sig: sig << 11,
            exp: top - 64,
            sticky: false,
        })
    }

    /// The reduction of `t`, the rounding toward zero at 64 bits of a nonzero exact value
    /// `x`, with `ord` the ternary value of that rounding (`Equal` when exact). `None` when
    /// `t` is 0 and exact (so is `x`). A `t` of 0 with an inexact `ord` (a value below
    /// MPFR's exponent range) is kept as `2^(emin − 1)` plus sticky, far below any subnormal.
    pub fn of_truncated(t: &Float, ord: Ordering) -> Option<Parts> {
        if t.is_zero() {
            return (ord != Ordering::Equal).then(|| Parts {
                neg: ord == Ordering::Greater,
                sig: 1 << 63,
                exp: rug::float::exp_min() - 65,
                sticky: true,
            });
        }
        let (int, exp) = t.to_integer_exp().expect("finite");
        let mag = int.clone().abs().to_u64().expect("at most 64 bits");
        let lz = mag.leading_zeros() as i32;
        Some(Parts {
            neg: int < 0,
            sig: mag << lz,
            exp: exp - lz,
            sticky: ord != Ordering::Equal,
        })
    }

    /// The reduction of an exact (finite) float of any precision: `None` for zero.
    pub fn of_float(x: &Float) -> Option<Parts> {
        let (t, ord) = Float::with_val_round(64, x, Round::Zero);
        Parts::of_truncated(&t, ord)
    }

    /// `E` with `2^(E−1) ≤ |x| < 2^E`.
    fn top(&self) -> i32 {
        self.exp + 64
    }

    /// The kept part of `keep ≥ 1` significant bits, and whether anything was dropped:
    /// `(kept, dropped bits, half of the kept part's last unit)`.
    fn split(&self, keep: i32) -> (Kept, u64, u64) {
        let drop = 64 - keep as u32;
        let kept = Kept {
            units: self.sig >> drop,
            exp: self.exp + drop as i32,
        };
        (kept, self.sig & ((1u64 << drop) - 1), 1u64 << (drop - 1))
    }

    fn signed(&self, v: f64) -> f64 {
        if self.neg { -v } else { v }
    }

    /// Round to nearest, ties to even, in `fmt` (see the module docs).
    pub fn round(&self, fmt: Format) -> f64 {
        let keep = (self.top() - fmt.tiny_exp()).min(fmt.precision() as i32);
        if keep <= 0 {
            // |x| < 2^tiny: 0, or the smallest subnormal above exactly half of it.
            let half_exactly = self.sig == 1 << 63 && !self.sticky;
            let up = keep == 0 && !half_exactly;
            return self.signed(if up { fmt.tiny() } else { 0.0 });
        }
        let (mut kept, rest, half) = self.split(keep);
        let odd = kept.units & 1 == 1;
        if rest > half || (rest == half && (self.sticky || odd)) {
            kept.units += 1;
        }
        let top = 64 - kept.units.leading_zeros() as i32 + kept.exp;
        if top > fmt.max_exp() + 1 {
            return self.signed(f64::INFINITY);
        }
        self.signed(ldexp(kept.units as f64, kept.exp))
    }

    /// Round to odd in binary64: the rounding toward zero at
    /// `min(53, E + 1074)` bits with its last bit set when anything was dropped; a value
    /// below the smallest subnormal is that subnormal, and a value of `2^1024` or more is
    /// `±f64::MAX` (round-to-odd never rounds to ∞). See [`round_odd_f64`].
    pub fn round_odd_f64(&self) -> f64 {
        let keep = (self.top() - Format::F64.tiny_exp()).min(53);
        if keep <= 0 {
            return self.signed(Format::F64.tiny());
        }
        let (mut kept, rest, _) = self.split(keep);
        if rest != 0 || self.sticky {
            kept.units |= 1;
        }
        if 64 - kept.units.leading_zeros() as i32 + kept.exp > 1024 {
            return self.signed(f64::MAX);
        }
        self.signed(ldexp(kept.units as f64, kept.exp))
    }
}

/// Rounds the exact value `x` to `fmt` (round to nearest, ties to even), returned
/// as an `f64` that holds the `fmt` value exactly (an `f32` result widened losslessly).
/// NaN maps to NaN and ±∞ to ±∞. An exact zero is `+0` (MPFR's `−0` from negating an
/// exact 0 is an artefact); only a nonzero value that underflows rounds to a signed zero.
pub fn round_to(x: &Float, fmt: Format) -> f64 {
    if !x.is_finite() {
        return x.to_f64();
    }
    Parts::of_float(x).map_or(0.0, |p| p.round(fmt))
}

/// The exact `f64` value `v` rounded to `fmt` (nearest, ties to even): the fast route of
/// [`round_to`] for values that are already doubles (the 16-bit kernel arithmetic).
pub fn round_f64_to(v: f64, fmt: Format) -> f64 {
    match fmt {
        Format::F64 => v,
        // IEEE conversion: nearest, ties to even, subnormals and overflow included.
        Format::F32 => f64::from(v as f32),
        Format::F16 | Format::Bf16 => round_f64_to_parts(v, fmt),
    }
}

/// [`round_f64_to`] through [`Parts`], for every format.
fn round_f64_to_parts(v: f64, fmt: Format) -> f64 {
    if !v.is_finite() {
        return v;
    }
    Parts::of_f64(v).map_or(v, |p| p.round(fmt))
}

/// The round-to-odd of the exact value `x` in binary64 (see [`Parts::round_odd_f64`]).
///
/// **Why it is useful:** for any binary format of `p ≤ 51` significant bits whose
/// smallest subnormal is at least `2^−1072` and whose largest finite value is below
/// `2^1024` (binary32, binary16, bfloat16, …), rounding `round_odd_f64(x)` to nearest
/// even in that format gives the correctly rounded `x` (Boldo and Melquiond, "Emulation
/// of FMA and correctly rounded sums: proved algorithms using rounding to odd", 2008):
/// the odd last bit stands for "something was dropped here", which is all the second
/// rounding needs to know, since every rounding boundary of the narrower format lies on
/// the binary64 grid two bits above it.
pub fn round_odd_f64(x: &Float) -> f64 {
    if !x.is_finite() {
        return x.to_f64();
    }
    Parts::of_float(x).map_or(0.0, |p| p.round_odd_f64())
}

/// The binary64 value nearest to `x` (ties to even), with IEEE subnormals and overflow.
pub fn round_f64(x: &Float) -> f64 {
    round_to(x, Format::F64)
}

/// The binary32 value nearest to `x` (ties to even), with IEEE subnormals and overflow.
pub fn round_f32(x: &Float) -> f32 {
    // Exact: the value is representable in binary32.
    round_to(x, Format::F32) as f32
}

/// C99 hex-float text of a value of `fmt` (held exactly by the `f64` `v`), in the style
/// of [`hex_f64`]: `"0x1.8p-1"`, `"-0x0p+0"`, `"inf"`; subnormals written normalized.
pub fn hex(v: f64, fmt: Format) -> String {
    let mut out = String::with_capacity(24);
    write_hex(&mut out, v, fmt);
    out
}

/// [`hex`] appended to `out` (the writer of every hex float the crate prints: the JSON
/// Lines outputs append it to a reused line buffer).
pub fn write_hex(out: &mut String, v: f64, fmt: Format) {
    hex_bits(
        out,
        v,
        fmt.precision() - 1,
        fmt.max_exp(),
        fmt.encode(v),
        fmt.exponent_bits(),
    );
}

/// C99 hex-float text of an `f64`: `"0x1.8p-1"`, `"-0x1p+0"`, `"0x0p+0"`,
/// `"-0x0p+0"`, `"inf"`, `"-inf"`, `"nan"`. Subnormals are written normalized
/// (`"0x1p-1074"`), which is the same number.
pub fn hex_f64(v: f64) -> String {
    hex(v, Format::F64)
}

/// C99 hex-float text of an `f32`, in the same style as [`hex_f64`].
pub fn hex_f32(v: f32) -> String {
    hex(f64::from(v), Format::F32)
}

/// `sign 0x1.<frac>p<exp>` of the encoding `bits` (`frac_bits` fraction bits, `exp_bits`
/// exponent bits, exponent bias `bias`), fraction digits without trailing zeros.
fn hex_bits(out: &mut String, v: f64, frac_bits: u32, bias: i32, bits: u64, exp_bits: u32) {
    if v.is_nan() {
        out.push_str("nan");
        return;
    }
    if bits >> (frac_bits + exp_bits) & 1 == 1 {
        out.push('-');
    }
    if v.is_infinite() {
        out.push_str("inf");
        return;
    }
    let biased = ((bits >> frac_bits) & ((1 << exp_bits) - 1)) as i32;
    let mut frac = bits & ((1u64 << frac_bits) - 1);
    if biased == 0 && frac == 0 {
        out.push_str("0x0p+0");
        return;
    }
    let mut exp = if biased == 0 { 1 - bias } else { biased - bias };
    if biased == 0 {
        // Normalize a subnormal: shift until the implicit bit position is reached.
        while frac & (1u64 << frac_bits) == 0 {
            frac <<= 1;
            exp -= 1;
        }
        frac &= (1u64 << frac_bits) - 1;
    }
    out.push_str("0x1");
    // The fraction in whole hex digits (padded on the right), trailing zero digits dropped.
    let digits = frac_bits.div_ceil(4);
    let frac = frac << (digits * 4 - frac_bits);
    if frac != 0 {
        out.push('.');
        let zeros = frac.trailing_zeros() / 4;
        for i in (zeros..digits).rev() {
            out.push(char::from(
                b"0123456789abcdef"[(frac >> (4 * i) & 0xf) as usize],
            ));
        }
    }
    out.push('p');
    if exp >= 0 {
        out.push('+');
    }
    push_int(out, exp);
}

/// The decimal digits of `v` appended to `out` (with `-` when negative).
fn push_int(out: &mut String, v: i32) {
    if v < 0 {
        out.push('-');
    }
    let mut buf = [0u8; 10];
    let (mut n, mut at) = (v.unsigned_abs(), buf.len());
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf[at..].iter().for_each(|&d| out.push(char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::testing::finite_f64s;

    fn exact(v: f64) -> Float {
        Float::with_val(64, v)
    }

    #[test]
    fn hex_examples() {
        assert_eq!(
            hex_f64(std::f64::consts::FRAC_1_SQRT_2),
            "0x1.6a09e667f3bcdp-1"
        );
        assert_eq!(hex_f64(-1.0), "-0x1p+0");
        assert_eq!(hex_f64(0.0), "0x0p+0");
        assert_eq!(hex_f64(-0.0), "-0x0p+0");
        assert_eq!(hex_f64(f64::from_bits(1)), "0x1p-1074");
        assert_eq!(hex_f64(f64::MAX), "0x1.fffffffffffffp+1023");
        assert_eq!(hex_f32(1.5), "0x1.8p+0");
        assert_eq!(hex_f32(f32::from_bits(1)), "0x1p-149");
        assert_eq!(hex_f32(f32::MAX), "0x1.fffffep+127");
        assert_eq!(hex_f64(f64::NEG_INFINITY), "-inf");
    }

    /// Every hex text reads back (through the independent parser `parse_exact`) as the
    /// value written, in canonical form: `0x1`, then no fraction or one without trailing
    /// zero digits and at most ⌈(precision − 1)/4⌉ of them, then `p`, a sign and the exponent.
    #[test]
    fn hex_reads_back_exactly_in_canonical_form() {
        for v in finite_f64s(0x2545f4914f6cdd1d, 20_000).chain([0.0, -0.0, 1.0, -2.5]) {
            for fmt in Format::EVERY {
                let r = round_to(&exact(v), fmt);
                if !r.is_finite() {
                    continue;
                }
                let text = hex(r, fmt);
                let back = crate::arith::parse_exact(&text).unwrap();
                assert_eq!(back, rug::Rational::from_f64(r).unwrap(), "{text}");
                assert_eq!(text.starts_with('-'), r.is_sign_negative(), "{text}");
                let body = text.trim_start_matches('-');
                if r == 0.0 {
                    assert_eq!(body, "0x0p+0");
                    continue;
                }
                let (mantissa, exp) = body.split_once('p').unwrap();
                assert!(exp.starts_with('+') || exp.starts_with('-'), "{text}");
                assert!(exp[1..].bytes().all(|b| b.is_ascii_digit()), "{text}");
                let frac = mantissa.strip_prefix("0x1").unwrap();
                if let Some(digits) = frac.strip_prefix('.') {
                    assert!(!digits.is_empty() && !digits.ends_with('0'), "{text}");
                    assert!(
                        digits.len() as u32 <= (fmt.precision() - 1).div_ceil(4),
                        "{text}"
                    );
                } else {
                    assert!(frac.is_empty(), "{text}");
                }
            }
        }
    }

    #[test]
    fn f32_rounding_agrees_with_hardware_on_f64_inputs() {
        // `as f32` is IEEE round-to-nearest-even, an independent implementation.
        for v in finite_f64s(0x9e3779b97f4a7c15, 200_000) {
            let got = round_f32(&exact(v));
            assert_eq!(got.to_bits(), (v as f32).to_bits(), "{v:e}");
        }
    }

    #[test]
    fn f32_ties_subnormals_and_overflow() {
        let tiny = 2f64.powi(-149);
        // Half the smallest subnormal ties to +0; just above rounds up.
        assert_eq!(round_f32(&exact(tiny / 2.0)).to_bits(), 0);
        assert_eq!(
            round_f32(&exact(tiny / 2.0 * (1.0 + 1e-15))),
            f32::from_bits(1)
        );
        assert_eq!(
            round_f32(&exact(-tiny / 2.0)).to_bits(),
            (-0.0f32).to_bits()
        );
        // 1.5 × smallest subnormal ties to even (2 × smallest).
        assert_eq!(round_f32(&exact(1.5 * tiny)), f32::from_bits(2));
        // max + half ulp ties to even = overflow; just below stays max.
        let max = f64::from(f32::MAX);
        let half_ulp = 2f64.powi(127 - 24);
        assert_eq!(round_f32(&exact(max + half_ulp)), f32::INFINITY);
        assert_eq!(round_f32(&exact(max + half_ulp * 0.99)), f32::MAX);
    }

    #[test]
    fn f64_rounding_of_wide_values() {
        // 1 + 2^-53 ties to 1; 1 + 2^-53 + 2^-100 rounds up.
        let one = Float::with_val(200, 1);
        let t = Float::with_val(200, &one + Float::with_val(200, Float::i_exp(1, -53)));
        assert_eq!(round_f64(&t), 1.0);
        let t2 = Float::with_val(200, &t + Float::with_val(200, Float::i_exp(1, -100)));
        assert_eq!(round_f64(&t2), 1.0 + f64::EPSILON);
        // Subnormal tie to even and overflow.
        let s = Float::with_val(200, Float::i_exp(3, -1075)); // 1.5 × 2^-1074
        assert_eq!(round_f64(&s), f64::from_bits(2));
        let big = Float::with_val(200, Float::i_exp(1, 1024));
        assert_eq!(round_f64(&big), f64::INFINITY);
        let h = Float::with_val(200, Float::i_exp(1, -1075));
        assert_eq!(round_f64(&h), 0.0);
        // Just above half the smallest subnormal rounds up to it (not to 0).
        let above = Float::with_val(200, Float::i_exp(3, -1076));
        assert_eq!(round_f64(&above), f64::from_bits(1));
        assert_eq!(
            round_f64(&Float::with_val(200, -&above)),
            -f64::from_bits(1)
        );
        // An exact zero is +0 whatever MPFR's sign bit says.
        assert_eq!(
            round_f64(&Float::with_val(53, -Float::with_val(53, 0))).to_bits(),
            0
        );
    }
}

#[cfg(test)]
mod native_tests {
    use super::*;

    /// The native fast paths of `encode`, `next_up` and `round_f64_to` (f64, f32) agree
    /// with the general routes through the encoding and [`Parts`] on edge values and a sweep.
    #[test]
    fn native_paths_agree_with_the_general_ones() {
        let mut vals = vec![
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            1.0,
            1.0 + f64::EPSILON,
            f64::MAX,
            f32::MAX as f64,
            f32::MIN_POSITIVE as f64,
            1.401298464324817e-45,
            0.7e-45,
            3.4028235677973366e38,
            3.4028235677973362e38,
            1.0 + 2f64.powi(-24),
            1.0 + 2f64.powi(-24) + 2f64.powi(-52),
        ];
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            vals.push(f64::from_bits(x));
        }
        for &v in vals.iter().filter(|v| v.is_finite()) {
            for v in [v, -v] {
                for fmt in [Format::F64, Format::F32] {
                    let r = round_f64_to(v, fmt);
                    assert_eq!(
                        r.to_bits(),
                        round_f64_to_parts(v, fmt).to_bits(),
                        "{v:e} {fmt:?}"
                    );
                    if !r.is_nan() {
                        assert_eq!(fmt.encode(r), fmt.encode_fields(r), "encode {r:e} {fmt:?}");
                    }
                    if r.is_finite() && !(fmt == Format::F64 && r == f64::MAX) {
                        let (a, b) = (fmt.next_up(r), fmt.next_up_encoded(r));
                        assert_eq!(a.to_bits(), b.to_bits(), "next_up {r:e} {fmt:?}");
                    }
                }
            }
        }
    }
}
