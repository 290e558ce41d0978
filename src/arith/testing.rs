//! Helpers shared by the crate's unit tests (compiled only for `cfg(test)`).

use rug::Rational;

/// The rational `n/d`.
pub(crate) fn q(n: i64, d: i64) -> Rational {
    Rational::from((n, d))
}

/// The endless xorshift64 sequence (shifts 13, 7, 17) after a nonzero `seed`: the
/// unit tests' reproducible source of random bit patterns.
pub(crate) fn xorshift64(mut s: u64) -> impl Iterator<Item = u64> {
    std::iter::repeat_with(move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    })
}

/// The finite doubles among the first `n` bit patterns of [`xorshift64`]`(seed)`: all
/// exponents, subnormals and signs.
pub(crate) fn finite_f64s(seed: u64, n: usize) -> impl Iterator<Item = f64> {
    xorshift64(seed)
        .take(n)
        .map(f64::from_bits)
        .filter(|v| v.is_finite())
}

/// `f32` values in `[−1, 1)` (held as `f64`) from [`xorshift64`]`(seed)`: the unit
/// tests' random feature and weight entries.
pub(crate) fn unit_f32s(seed: u64) -> impl Iterator<Item = f64> {
    xorshift64(seed).map(|b| f64::from((b >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0))
}
