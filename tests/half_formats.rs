//! The 16-bit formats against the `half` crate, over every one of the 65,536 bit
//! patterns of binary16 and of bfloat16: decoding, encoding, and the rounding of the
//! values that decide every rounding (each value, each midpoint between neighbours and
//! the two binary32 values next to it, the overflow threshold and half the smallest
//! subnormal). The crate's rounding is written from the IEEE rules
//! (`arith::round::Parts`); `half`'s `from_f32` is the reference (binary32 inputs:
//! `half`'s `from_f64` rounds through binary32 or truncates the low 32 bits first, so it
//! is not a correct rounding of every double; see `half_from_f64_is_not_correctly_rounded`).
//!
//! Also: the binary64 round-to-odd against direct roundings to every format of at most
//! 51 bits.

use asoftmax_spec::arith::narrow::{Bf16, F16};
use asoftmax_spec::arith::{Format, round_f64_to, round_odd_f64};
use half::{bf16, f16};
use rug::Float;
use rug::float::Round;

/// Every pattern of `fmt` decodes to the value `reference(bits)` and encodes back
/// (NaNs: any NaN); returns the number of patterns checked.
fn decode_agrees(fmt: Format, reference: impl Fn(u16) -> f32) -> usize {
    for bits in 0..=u16::MAX {
        let (mine, theirs) = (fmt.decode(u64::from(bits)), f64::from(reference(bits)));
        if theirs.is_nan() {
            assert!(mine.is_nan(), "{} {bits:#06x}", fmt.name());
            continue;
        }
        assert_eq!(
            mine.to_bits(),
            theirs.to_bits(),
            "{} {bits:#06x}",
            fmt.name()
        );
        assert_eq!(
            fmt.encode(mine),
            u64::from(bits),
            "{} {bits:#06x}",
            fmt.name()
        );
    }
    1 << 16
}

/// The binary32 values that decide the rounding next to the non-negative finite pattern
/// `bits` and its successor: the value, the midpoint to the next pattern and the two
/// binary32 values around that midpoint (every such midpoint is a binary32 value).
fn deciding_points(fmt: Format, bits: u16) -> Vec<f32> {
    let v = fmt.decode(u64::from(bits));
    let next = fmt.decode(u64::from(bits) + 1);
    let mut out = vec![v as f32];
    if next.is_finite() {
        let mid = (v + next) / 2.0;
        assert_eq!(f64::from(mid as f32), mid, "a midpoint is a binary32 value");
        let mid = mid as f32;
        out.extend([mid, mid.next_down(), mid.next_up()]);
    } else {
        // Above the largest finite value: the overflow threshold max + ½ulp (a tie, which
        // goes to ∞ under round-to-nearest-even) and its neighbours.
        let half_ulp = (v - fmt.decode(u64::from(bits) - 1)) / 2.0;
        let t = (v + half_ulp) as f32;
        out.extend([t, t.next_down(), t.next_up(), f32::MAX]);
    }
    out
}

/// Every deciding point of every non-negative finite pattern, and its negation, rounds
/// as `reference` rounds it (compared as bit patterns); returns the points checked.
fn rounding_agrees(fmt: Format, reference: impl Fn(f32) -> u16) -> usize {
    let sign = 1u16 << 15;
    let mut checked = 0;
    for bits in 0..sign {
        let v = fmt.decode(u64::from(bits));
        if !v.is_finite() {
            continue;
        }
        for p in deciding_points(fmt, bits) {
            for x in [p, -p] {
                let mine = fmt.encode(round_f64_to(f64::from(x), fmt));
                assert_eq!(mine, u64::from(reference(x)), "{} of {x:e}", fmt.name());
                checked += 1;
            }
        }
    }
    checked
}

#[test]
fn binary16_agrees_with_half_on_every_pattern() {
    let decoded = decode_agrees(Format::F16, |b| f16::from_bits(b).to_f32());
    let rounded = rounding_agrees(Format::F16, |x| f16::from_f32(x).to_bits());
    println!("binary16: {decoded} patterns decoded, {rounded} deciding points rounded");
    // Half the smallest subnormal ties to 0; just above it rounds up.
    let half_tiny = 2f32.powi(-25);
    assert_eq!(F16::from_f32(half_tiny).to_bits(), 0);
    assert_eq!(F16::from_f32(half_tiny.next_up()).to_bits(), 1);
    assert_eq!(F16::from_f32(-half_tiny).to_bits(), 0x8000);
}

#[test]
fn bfloat16_agrees_with_half_on_every_pattern() {
    let decoded = decode_agrees(Format::Bf16, |b| bf16::from_bits(b).to_f32());
    let rounded = rounding_agrees(Format::Bf16, |x| bf16::from_f32(x).to_bits());
    println!("bfloat16: {decoded} patterns decoded, {rounded} deciding points rounded");
    let half_tiny = 2f32.powi(-134);
    assert_eq!(Bf16::from_f32(half_tiny).to_bits(), 0);
    assert_eq!(Bf16::from_f32(half_tiny.next_up()).to_bits(), 1);
}

#[test]
fn the_kernel_types_round_like_half() {
    // Products and quotients of 16-bit values, rounded once from binary32.
    let mut s = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..100_000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let (a, b) = ((s >> 16) as u16, (s >> 40) as u16);
        let (x, y) = (F16::from_bits(a), F16::from_bits(b));
        let (hx, hy) = (f16::from_bits(a), f16::from_bits(b));
        for (mine, theirs) in [(x * y, hx * hy), (x / y, hx / hy), (x + y, hx + hy)] {
            if theirs.is_nan() {
                assert!(mine.to_f32().is_nan());
            } else {
                assert_eq!(mine.to_bits(), theirs.to_bits(), "{a:#06x} {b:#06x}");
            }
        }
    }
}

#[test]
fn half_from_f64_is_not_correctly_rounded() {
    // 1 + 2⁻¹¹ is the binary16 midpoint between 1 and 1 + 2⁻¹⁰; 2⁻⁴⁰ above it the
    // correct rounding is up. `half` rounds the double to binary32 first (1 + 2⁻¹¹, a
    // tie, to even: 1) or drops its low 32 bits: it answers 1.
    let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
    assert_eq!(round_f64_to(x, Format::F16), 1.0 + 2f64.powi(-10));
    assert_eq!(f16::from_f64(x).to_f64(), 1.0);
}

/// `x` rounded to nearest even at `p` bits (no exponent limits: MPFR's range).
fn nearest(x: &Float, p: u32) -> Float {
    Float::with_val_round(p, x, Round::Nearest).0
}

#[test]
fn round_to_odd_then_nearest_is_nearest_for_up_to_51_bits() {
    // Random 200-bit values near midpoints and grid points of every precision, and the
    // exact midpoints themselves: RN_p(RO_53(x)) = RN_p(x) for p ≤ 51, and not for 52
    // (the rule needs two spare bits).
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut seen_52_differ = false;
    for _ in 0..20_000 {
        let base = Float::with_val(200, (next() >> 11) as f64 / 2f64.powi(53) + 0.5);
        let p = 2 + (next() % 51) as u32; // 2 ..= 52
        // Near a p-bit midpoint: the p-bit grid point plus half its ulp, plus a tiny nudge.
        let g = nearest(&base, p);
        let ulp = Float::with_val(200, Float::i_exp(1, g.get_exp().unwrap() - p as i32));
        let nudge = match next() % 3 {
            0 => Float::new(200),
            1 => Float::with_val(200, Float::i_exp(1, -120)),
            _ => Float::with_val(200, -Float::with_val(200, Float::i_exp(1, -120))),
        };
        let x = Float::with_val(200, &g + Float::with_val(200, &ulp / 2u32)) + nudge;
        let odd = Float::with_val(53, round_odd_f64(&x));
        let (direct, via_odd) = (nearest(&x, p), nearest(&odd, p));
        if p <= 51 {
            assert_eq!(direct, via_odd, "p = {p}, x = {x}");
        } else if direct != via_odd {
            seen_52_differ = true;
        }
    }
    assert!(
        seen_52_differ,
        "52 bits is one too many (the test must be able to fail)"
    );
}

#[test]
fn round_to_odd_then_nearest_matches_the_direct_roundings_of_every_format() {
    // With subnormals and overflow: binary32, binary16 and bfloat16 from the round-to-odd.
    let mut s = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..50_000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let e = (s % 320) as i32 - 160;
        let v = Float::with_val(120, (s >> 11) as f64)
            * Float::with_val(120, Float::i_exp(1, e - 53))
            + Float::with_val(120, Float::i_exp(1, e - 110));
        for fmt in [Format::F32, Format::F16, Format::Bf16] {
            let direct = asoftmax_spec::arith::round::round_to(&v, fmt);
            let via_odd = round_f64_to(round_odd_f64(&v), fmt);
            assert_eq!(direct.to_bits(), via_odd.to_bits(), "{} of {v}", fmt.name());
        }
    }
}
