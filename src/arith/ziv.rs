//! The Ziv loop: evaluate an enclosure at a working precision, and raise the
//! precision until the enclosure *determines* the requested outputs.
//!
//! An enclosure `[lo, hi]` of the exact value `v` determines
//! - the correctly rounded `f64`/`f32` when `lo` and `hi` round to the same
//!   value (rounding is monotone, so every point in between does too);
//! - a `prec`-bit decimal when `[lo, hi]` does not contain 0 and
//!   `hi − lo ≤ min(|lo|, |hi|) · 2^−(prec+7)`: then the midpoint printed with
//!   `D = ⌈prec·log10 2⌉ + 1` significant digits is within one unit of its last
//!   digit of `v` (because `10^−D ≥ 2^−(prec+7)`);
//! - everything at once when `lo = hi` (the result is exact).
//!
//! Nothing is ever *assumed*. A value that is mathematically 0, or exactly a
//! **rounding midpoint** of `f32`/`f64` (halfway between two neighbouring floats),
//! is never decided by an enclosure that is not a point: the callers compute such
//! values exactly (an exact rational, a point enclosure) or prove by other means
//! that the value cannot be one (see `psi` and `loss`). When the loop reaches its
//! cap, the result is [`Error::PrecisionCap`], never a guess.
//!
//! Values of the form `exact + tiny` (a saturated softmax: `t·(1 − e^(−60000))`
//! next to a midpoint `t`) are enclosed as a [`Split`]: an exact float `base` and
//! an interval `rest`. Each endpoint `base + rest.lo`, `base + rest.hi` is rounded
//! as the exact sum it is (round-to-odd at 64 bits, then to the format), so the
//! enclosure decides the rounding as soon as it decides the *sign* of `rest` next to
//! a midpoint `base`: the working precision does not grow with the logit gap.
//!
//! The loop starts at `prec + 64` bits and doubles ([`refine`], the one
//! precision-raising loop of the crate); it stops with [`Error::PrecisionCap`] when
//! [`MAX_WORKING_PREC`] would be exceeded, so it never spins forever.

use super::interval::Ival;
use super::round::{Format, Parts, round_to};
use crate::Error;
use rug::float::Round;
use rug::{Float, Rational};

/// Smallest accepted output precision (bits).
pub const MIN_PREC: u32 = 16;
/// Largest accepted output precision (bits).
pub const MAX_PREC: u32 = 1 << 18;
/// The Ziv loop's cap on the working precision (bits). Reaching it is an error.
pub const MAX_WORKING_PREC: u32 = 1 << 22;

/// A rigorously enclosed real result, with its correctly rounded `f64` and `f32`.
#[derive(Clone, Debug)]
pub struct Approx {
    enclosure: Ival,
    prec: u32,
    /// The correctly rounded value in each format of [`Format::EVERY`], in that order.
    rounded: [f64; 4],
    /// The round-to-odd in binary64, when the enclosure decided it.
    f64_odd: Option<f64>,
}

impl Approx {
    /// The enclosure `[lo, hi]` that contains the exact value.
    pub fn enclosure(&self) -> &Ival {
        &self.enclosure
    }

    /// The correctly rounded binary64 value (nearest, ties to even).
    pub fn f64(&self) -> f64 {
        self.rounded(Format::F64)
    }

    /// The correctly rounded binary32 value (nearest, ties to even).
    pub fn f32(&self) -> f32 {
        // Exact: the value is a binary32 value.
        self.rounded(Format::F32) as f32
    }

    /// The value correctly rounded to `fmt` (nearest, ties to even, IEEE subnormals and
    /// overflow), held exactly by the returned `f64` (`fmt.encode` gives its bits).
    ///
    /// ```
    /// use asoftmax_spec::arith::{Format, ziv::approx_rational};
    /// use rug::Rational;
    /// let third = approx_rational("t", &Rational::from((1, 3)), 64).unwrap();
    /// assert_eq!(third.rounded(Format::F16), 0.333251953125); // 0x1.554p-2
    /// assert_eq!(Format::F16.encode(third.rounded(Format::F16)), 0x3555);
    /// assert_eq!(Format::Bf16.encode(third.rounded(Format::Bf16)), 0x3eab);
    /// ```
    pub fn rounded(&self, fmt: Format) -> f64 {
        let i = Format::EVERY
            .iter()
            .position(|&f| f == fmt)
            .expect("listed");
        self.rounded[i]
    }

    /// The round-to-odd of the value in binary64 ([`round_odd_f64`](super::round::round_odd_f64)):
    /// rounding it to nearest even in any format of at most 51 significant bits (f32, f16,
    /// bf16, …) gives the correctly rounded value in that format.
    ///
    /// `Some` whenever the value was computed inside [`requiring_round_to_odd`] (the
    /// Ziv loop then refines until it is decided) or exactly; otherwise only when the
    /// enclosure that decided the other outputs happened to decide it too. It is never
    /// guessed: a value exactly on the binary64 grid is its own round-to-odd and every
    /// value next to it is not, so it is decided like a rounding midpoint.
    ///
    /// ```
    /// use asoftmax_spec::arith::ziv::{approx_rational, requiring_round_to_odd};
    /// use rug::Rational;
    /// let third = requiring_round_to_odd(|| approx_rational("t", &Rational::from((1, 3)), 64));
    /// let odd = third.unwrap().f64_odd().unwrap();
    /// assert_eq!(odd.to_bits(), (1.0f64 / 3.0).to_bits() | 1); // truncated, last bit set
    /// ```
    pub fn f64_odd(&self) -> Option<f64> {
        self.f64_odd
    }

    /// The requested precision in bits.
    pub fn prec(&self) -> u32 {
        self.prec
    }

    /// `true` when the exact value was computed exactly (the enclosure is a point).
    pub fn is_exact(&self) -> bool {
        self.enclosure.is_point()
    }

    /// A point of the enclosure at the enclosure's precision (its midpoint).
    pub fn mid(&self) -> Float {
        let p = self.enclosure.prec() + 1;
        if self.is_exact() {
            // The same value, without the sum and halving.
            return Float::with_val(p, self.enclosure.lo());
        }
        Float::with_val(p, self.enclosure.lo() + self.enclosure.hi()) / 2
    }

    /// Number of significant decimal digits for `prec` bits: `⌈prec·log10 2⌉ + 1`.
    pub fn decimal_digits(prec: u32) -> usize {
        (f64::from(prec) * std::f64::consts::LOG10_2).ceil() as usize + 1
    }

    /// The value as a decimal string with [`decimal_digits`](Self::decimal_digits)
    /// significant digits, in scientific notation (`"7.0710678e-1"`), whose error is
    /// below one unit in its last digit; `"0"` for zero.
    pub fn decimal(&self) -> String {
        let mut out = String::new();
        self.write_decimal(&mut out);
        out
    }

    /// [`decimal`](Self::decimal) appended to `out` (the JSON Lines writers append it to
    /// a reused line buffer).
    pub fn write_decimal(&self, out: &mut String) {
        // An exact value is its own midpoint: no copy.
        let mid = if self.is_exact() {
            std::borrow::Cow::Borrowed(self.enclosure.lo())
        } else {
            std::borrow::Cow::Owned(self.mid())
        };
        if mid.is_zero() {
            out.push('0');
            return;
        }
        write_scientific(out, &mid, Self::decimal_digits(self.prec));
    }
}

/// A finite nonzero `x` correctly rounded to `n ≥ 1` significant decimal digits (nearest,
/// ties to even), appended to `out` as `[-]d.ddd…e<exp>` (`[-]de<exp>` for one digit).
///
/// Exact integer arithmetic on `|x| = N·2^E`: with `e` the decimal exponent of `|x|`
/// (`10^e ≤ |x| < 10^{e+1}`) and `k = n − 1 − e`, the digits are `D = round(N·2^E·10^k)`,
/// a shift (`k ≥ 0`) or a division (`k < 0`) rounded half to even on the exact remainder.
/// `e` is first estimated from the bit length and corrected when `D` has `n + 1` digits
/// (too low, or a carry out of `9…9.5`: both then give `10^{n−1}` one decade up) or fewer
/// than `n` (too high). The text is MPFR's `mpfr_get_str` with `MPFR_RNDN` (checked by the
/// tests), without its floating-point power of ten and its allocations.
pub fn write_scientific(out: &mut String, x: &Float, n: usize) {
    let (mut big, e2) = x.to_integer_exp().expect("finite");
    if big < 0 {
        out.push('-');
        big = -big;
    }
    let bits = i64::from(big.significant_bits()) + i64::from(e2);
    // 2^{bits−1} ≤ |x| < 2^bits, so e is this or one more.
    let mut e10 = ((bits - 1) as f64 * std::f64::consts::LOG10_2).floor() as i64;
    let n = n.max(1);
    let mut small = [0u8; SMALL_DECIMAL];
    let mut large: String;
    let digits: &[u8] = loop {
        let d = scaled_round(&big, e2, n as i64 - 1 - e10);
        let digits = if n < SMALL_DECIMAL {
            let len = small_decimal(&d, &mut small);
            &small[SMALL_DECIMAL - len..]
        } else {
            large = d.to_string();
            large.as_bytes()
        };
        match digits.len().cmp(&n) {
            std::cmp::Ordering::Equal => break digits,
            std::cmp::Ordering::Greater => e10 += 1,
            std::cmp::Ordering::Less => e10 -= 1,
        }
    };
    let digits = std::str::from_utf8(digits).expect("ASCII digits");
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    out.push('e');
    out.push_str(&e10.to_string());
}

/// Room of [`small_decimal`]'s digits: the decimals of up to about 1270 bits (all outputs
/// up to `prec` ≈ 1270 take it; longer ones use GMP's subquadratic conversion).
const SMALL_DECIMAL: usize = 384;

/// 32-bit pieces of [`small_decimal`]'s operand: room for `10^{SMALL_DECIMAL}` (1276 bits).
const SMALL_PIECES: usize = 40;

/// `"00" … "99"`: the two ASCII digits of each `0 ≤ v < 100`.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut v = 0;
    while v < 100 {
        t[v] = [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
        v += 1;
    }
    t
};

/// The decimal digits of `0 ≤ d < 10^{SMALL_DECIMAL − 1}`, written (as ASCII) at the end of
/// `buf`, nine at a time from the least significant: `d`'s limbs, split into 32-bit pieces
/// on the stack, are divided by 10⁹ in place (schoolbook, 64-bit remainders), the
/// remainder giving nine digits (two at a time); returns how many digits.
fn small_decimal(d: &rug::Integer, buf: &mut [u8; SMALL_DECIMAL]) -> usize {
    const CHUNK: u64 = 1_000_000_000;
    let mut pieces = [0u32; SMALL_PIECES];
    let limbs = d.as_limbs();
    // GMP's limbs are 64 or 32 bits: each gives 2 or 1 pieces, most significant first.
    let per = std::mem::size_of_val(limbs.first().unwrap_or(&0)) / 4;
    let len = per * limbs.len();
    assert!(
        len <= SMALL_PIECES,
        "small_decimal: operand above 10^{SMALL_DECIMAL}"
    );
    for (i, &limb) in limbs.iter().enumerate() {
        #[allow(clippy::useless_conversion)] // a u32 limb on 32-bit GMP builds
        let limb = u64::from(limb);
        for h in 0..per {
            pieces[len - 1 - per * i - h] = (limb >> (32 * h)) as u32;
        }
    }
    let (mut first, mut at) = (0, SMALL_DECIMAL);
    while first < len && pieces[first] == 0 {
        first += 1;
    }
    loop {
        let mut rem = 0u64;
        for p in &mut pieces[first..len] {
            let cur = rem << 32 | u64::from(*p);
            *p = (cur / CHUNK) as u32;
            rem = cur % CHUNK;
        }
        while first < len && pieces[first] == 0 {
            first += 1;
        }
        if first == len {
            // The leading chunk: its significant digits only (at least one).
            while rem >= 100 {
                at -= 2;
                buf[at..at + 2].copy_from_slice(&DIGIT_PAIRS[(rem % 100) as usize]);
                rem /= 100;
            }
            if rem >= 10 {
                at -= 2;
                buf[at..at + 2].copy_from_slice(&DIGIT_PAIRS[rem as usize]);
            } else {
                at -= 1;
                buf[at] = b'0' + rem as u8;
            }
            return SMALL_DECIMAL - at;
        }
        // Nine digits: four pairs and the leading one.
        for _ in 0..4 {
            at -= 2;
            buf[at..at + 2].copy_from_slice(&DIGIT_PAIRS[(rem % 100) as usize]);
            rem /= 100;
        }
        at -= 1;
        buf[at] = b'0' + rem as u8;
    }
}

/// Most powers of ten [`with_power_of_ten`] keeps (10^k for k below it).
const CACHED_POWERS_OF_TEN: u32 = 1 << 12;

thread_local! {
    /// `10^k` for the `k` used so far (`None` for the others), below [`CACHED_POWERS_OF_TEN`].
    static POWERS_OF_TEN: std::cell::RefCell<Vec<Option<rug::Integer>>> = Default::default();
}

/// `f(10^k)`, with `10^k` computed once per thread for `k` below [`CACHED_POWERS_OF_TEN`].
fn with_power_of_ten<R>(k: u32, f: impl FnOnce(&rug::Integer) -> R) -> R {
    use rug::Integer;
    if k >= CACHED_POWERS_OF_TEN {
        return f(&Integer::from(Integer::u_pow_u(10, k)));
    }
    POWERS_OF_TEN.with_borrow_mut(|cache| {
        if cache.len() <= k as usize {
            cache.resize(k as usize + 1, None);
        }
        f(cache[k as usize].get_or_insert_with(|| Integer::from(Integer::u_pow_u(10, k))))
    })
}

/// `N·2^e2·10^k` rounded to the nearest integer, ties to even (`N > 0`).
fn scaled_round(big: &rug::Integer, e2: i32, k: i64) -> rug::Integer {
    use rug::Integer;
    let mut num = if k > 0 {
        with_power_of_ten(k as u32, |p| Integer::from(big * p))
    } else {
        big.clone()
    };
    let mut shift = -i64::from(e2);
    if shift < 0 {
        num <<= (-shift) as u32;
        shift = 0;
    }
    if k >= 0 {
        if shift == 0 {
            return num;
        }
        let s = shift as u32;
        let half = num.get_bit(s - 1);
        let below = num.find_one(0).is_some_and(|b| b < s - 1);
        num >>= s;
        if half && (below || num.is_odd()) {
            num += 1u32;
        }
        return num;
    }
    let den = with_power_of_ten((-k) as u32, |p| Integer::from(p << shift as u32));
    let (mut q, r) = num.div_rem_floor(den.clone());
    let twice = r << 1u32;
    if twice > den || (twice == den && q.is_odd()) {
        q += 1u32;
    }
    q
}

/// An enclosure `base + rest` of a value: an exact float `base` (of any precision) and
/// an interval `rest`. A plain [`Ival`] is the split with `base = 0`.
#[derive(Clone, Debug)]
pub struct Split {
    /// The exact part.
    pub base: Float,
    /// The enclosed remainder.
    pub rest: Ival,
}

impl From<Ival> for Split {
    fn from(rest: Ival) -> Split {
        Split {
            base: Float::new(2),
            rest,
        }
    }
}

impl Split {
    /// The enclosure `[base + rest.lo, base + rest.hi]` rounded outward to the
    /// precision of `rest`.
    pub fn hull(&self) -> Ival {
        if self.base.is_zero() {
            return self.rest.clone();
        }
        let p = self.rest.prec();
        let lo = Float::with_val_round(p, &self.base + self.rest.lo(), Round::Down).0;
        let hi = Float::with_val_round(p, &self.base + self.rest.hi(), Round::Up).0;
        Ival::new(lo, hi).expect("ordered finite endpoints")
    }
}

/// `base + x` correctly rounded to `fmt`, for exact floats of any precisions and
/// exponent gap (see [`sum_parts`]).
pub fn round_sum(base: &Float, x: &Float, fmt: Format) -> f64 {
    sum_parts(base, x).map_or(0.0, |p| p.round(fmt))
}

/// The exact sum `base + x` reduced for rounding ([`Parts`]: its rounding toward zero
/// at 64 bits and whether that was exact, which decides every rounding to a format of
/// at most 63 bits, round-to-odd included), in one MPFR addition whatever the exponent
/// gap; `None` when the sum is 0.
fn sum_parts(base: &Float, x: &Float) -> Option<Parts> {
    if base.is_zero() {
        return Parts::of_float(x);
    }
    let (t, ord) = Float::with_val_round(64, base + x, Round::Zero);
    Parts::of_truncated(&t, ord)
}

/// Every output that rounding decides for the exact value `parts` describes (0 for
/// `None`): the roundings in [`Format::EVERY`] order, and the binary64 round-to-odd.
fn roundings(parts: Option<Parts>) -> ([f64; 4], f64) {
    match parts {
        None => ([0.0; 4], 0.0),
        Some(p) => (Format::EVERY.map(|f| p.round(f)), p.round_odd_f64()),
    }
}

thread_local! {
    /// Whether the Ziv loops of this thread must decide the binary64 round-to-odd.
    static ROUND_TO_ODD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every Ziv loop of this thread required to decide the binary64
/// round-to-odd ([`Approx::f64_odd`]) of the values it computes, as it decides the
/// roundings: refining past the precision the roundings need when the value is close to
/// a double, and failing with [`Error::PrecisionCap`] rather than guessing. (Outside,
/// the oracles stop as soon as the roundings are decided: a value that is exactly a
/// double but enclosed, such as `1 − 10⁻⁶⁰⁰`'s neighbour `1` at its low precisions, would
/// otherwise cost precision nobody asked for.)
pub fn requiring_round_to_odd<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            ROUND_TO_ODD.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(ROUND_TO_ODD.with(|c| c.replace(true)));
    f()
}

/// `true` inside [`requiring_round_to_odd`].
fn round_to_odd_required() -> bool {
    ROUND_TO_ODD.with(std::cell::Cell::get)
}

/// Decides whether `sp` determines all outputs at `prec` bits (see the module docs):
/// both roundings, the sign, and `prec` relative bits. An enclosure that contains 0 or
/// a rounding midpoint without being a point decides nothing.
fn settle(sp: &Split, prec: u32) -> Option<Approx> {
    let hull = sp.hull();
    let lo = roundings(sum_parts(&sp.base, sp.rest.lo()));
    // A point's two ends round alike: round it once.
    let hi = if sp.rest.is_point() {
        lo
    } else {
        roundings(sum_parts(&sp.base, sp.rest.hi()))
    };
    let same = |a: f64, b: f64| a.to_bits() == b.to_bits();
    if !lo.0.iter().zip(&hi.0).all(|(a, b)| same(*a, *b)) {
        return None;
    }
    let f64_odd = same(lo.1, hi.1).then_some(lo.1);
    if f64_odd.is_none() && round_to_odd_required() {
        return None;
    }
    if !hull.is_point() {
        if hull.contains_zero() {
            return None;
        }
        let tol = Float::with_val(hull.prec(), hull.mig() >> (prec + 7));
        if hull.width() > tol {
            return None;
        }
    }
    Some(Approx {
        enclosure: hull,
        prec,
        rounded: lo.0,
        f64_odd,
    })
}

/// The crate's one precision-raising loop: calls `step(wp)` for `wp = start, 2·start,
/// …` until it answers `Some`, and fails with [`Error::PrecisionCap`] (naming `op`)
/// once [`MAX_WORKING_PREC`] has been tried.
pub fn refine<T, F>(op: &'static str, start: u32, mut step: F) -> Result<T, Error>
where
    F: FnMut(u32) -> Result<Option<T>, Error>,
{
    let mut wp = start.clamp(MIN_PREC, MAX_WORKING_PREC);
    loop {
        if let Some(done) = step(wp)? {
            return Ok(done);
        }
        if wp >= MAX_WORKING_PREC {
            return Err(Error::PrecisionCap {
                op,
                max: MAX_WORKING_PREC,
            });
        }
        wp = wp.saturating_mul(2).min(MAX_WORKING_PREC);
    }
}

/// Checks that `prec` is within [`MIN_PREC`]..=[`MAX_PREC`].
pub fn check_prec(prec: u32) -> Result<(), Error> {
    if (MIN_PREC..=MAX_PREC).contains(&prec) {
        Ok(())
    } else {
        Err(Error::Precision {
            prec,
            min: MIN_PREC,
            max: MAX_PREC,
        })
    }
}

/// Runs the Ziv loop for several outputs computed together. `eval(wp)` returns
/// enclosures at working precision `wp`, `Ok(None)` when `wp` was too low to
/// decide something (a branch, a sign), or an error that ends the loop.
pub fn ziv_many<F>(op: &'static str, prec: u32, mut eval: F) -> Result<Vec<Approx>, Error>
where
    F: FnMut(u32) -> Result<Option<Vec<Ival>>, Error>,
{
    ziv_splits(op, prec, |wp| {
        Ok(eval(wp)?.map(|v| v.into_iter().map(Split::from).collect()))
    })
}

/// [`ziv_many`] over [`Split`] enclosures (an exact part plus an enclosed rest).
pub fn ziv_splits<F>(op: &'static str, prec: u32, mut eval: F) -> Result<Vec<Approx>, Error>
where
    F: FnMut(u32) -> Result<Option<Vec<Split>>, Error>,
{
    check_prec(prec)?;
    refine(op, prec + 64, |wp| {
        let Some(v) = eval(wp)? else {
            return Ok(None);
        };
        let settled: Option<Vec<Approx>> = v.iter().map(|sp| settle(sp, prec)).collect();
        if settled.is_none() && v.iter().any(|sp| underflowed(&sp.hull())) {
            return Err(Error::ExponentRange { op });
        }
        Ok(settled)
    })
}

/// The rationals that keep the enclosure `iv` from deciding its outputs: 0 when `iv`
/// contains 0; for each format of [`Format::EVERY`], the rounding midpoint between two
/// *neighbouring* values that the endpoints round to (none when `iv` is wider than
/// that); and, when the round-to-odd is required ([`requiring_round_to_odd`]), the
/// doubles nearest to the endpoints that lie in `iv` (a value on the binary64 grid is its
/// own round-to-odd, every value next to it is not).
pub fn blocking_points(iv: &Ival) -> Vec<Rational> {
    let mut out = Vec::new();
    let mut push = |t: Rational| {
        if !out.contains(&t) {
            out.push(t);
        }
    };
    if iv.contains_zero() {
        push(Rational::new());
    }
    let usable = |v: f64| v.is_finite() && v != 0.0;
    let exact = |v: f64| Rational::from_f64(v).expect("finite");
    for fmt in Format::EVERY {
        let (a, b) = (round_to(iv.lo(), fmt), round_to(iv.hi(), fmt));
        if usable(a) && usable(b) && fmt.next_up(a) == b {
            push((exact(a) + exact(b)) / 2u32);
        }
    }
    let grid_ends = if round_to_odd_required() {
        vec![iv.lo(), iv.hi()]
    } else {
        Vec::new()
    };
    for end in grid_ends {
        let d = round_to(end, Format::F64);
        if usable(d) && iv.contains_rational(&exact(d)) {
            push(exact(d));
        }
    }
    out
}

/// The Ziv loop for one output that may be exactly 0 or a rounding midpoint without
/// being computable exactly: whenever the enclosure is blocked by such a point `t`
/// ([`blocking_points`]), `prove(t, enclosure)` may show that the value *is* `t` (by an
/// exact identity, never by closeness); then the result is `t`, exactly.
pub fn ziv_proving<F, P>(
    op: &'static str,
    prec: u32,
    mut eval: F,
    mut prove: P,
) -> Result<Approx, Error>
where
    F: FnMut(u32) -> Result<Option<Ival>, Error>,
    P: FnMut(&Rational, &Ival) -> Result<bool, Error>,
{
    check_prec(prec)?;
    refine(op, prec + 64, |wp| {
        let Some(iv) = eval(wp)? else {
            return Ok(None);
        };
        if let Some(done) = settle(&iv.clone().into(), prec) {
            return Ok(Some(done));
        }
        for t in blocking_points(&iv) {
            if prove(&t, &iv)? {
                return approx_rational(op, &t, prec).map(Some);
            }
        }
        Ok(None)
    })
}

/// `true` when both ends of an enclosure that is not a point are 0 or within `2^1024` of
/// MPFR's smallest magnitude `2^emin` (`emin ≈ −2^30`): the value underflowed (a product
/// of an underflowed `e^−10⁷⁹` with moderate factors), and no working precision can help.
fn underflowed(iv: &Ival) -> bool {
    let floor = rug::float::exp_min() + 1024;
    let tiny = |f: &Float| f.is_zero() || f.get_exp().is_some_and(|e| e <= floor);
    !iv.is_point() && tiny(iv.lo()) && tiny(iv.hi())
}

/// The Ziv loop for one output; see [`ziv_many`].
pub fn ziv<F>(op: &'static str, prec: u32, mut eval: F) -> Result<Approx, Error>
where
    F: FnMut(u32) -> Result<Option<Ival>, Error>,
{
    let mut v = ziv_many(op, prec, |wp| Ok(eval(wp)?.map(|iv| vec![iv])))?;
    Ok(v.pop().expect("one output"))
}

/// An exact rational as an [`Approx`] (its enclosures tighten without limit, so
/// this only fails for rationals beyond the working-precision cap).
pub fn approx_rational(op: &'static str, r: &Rational, prec: u32) -> Result<Approx, Error> {
    // A dyadic rational is a float: enclose it exactly, as a point, so that exact
    // results are reported exact (and ties are settled by the point itself).
    if r.denom().is_power_of_two() {
        check_prec(prec)?;
        if let Some(a) = approx_dyadic(r.numer(), r.denom().significant_bits() - 1, prec) {
            debug_assert!(a.enclosure().contains_rational(r));
            return Ok(a);
        }
    }
    ziv(op, prec, |wp| Ok(Some(Ival::from_rational(r, wp))))
}

/// Most `shift` of [`approx_dyadic`]: far inside MPFR's exponent range (down to
/// `1 − 2³⁰`), so that the shifted float is exact.
const MAX_DYADIC_SHIFT: u32 = 1 << 28;

/// The exact dyadic `num·2^−shift` (a `prec` already checked): its outputs, decided by the
/// value itself as a point (exact results are reported exact, ties settled by the point);
/// `None` when `num` has more than [`MAX_WORKING_PREC`] bits or `shift` exceeds
/// 2²⁸ (the caller then encloses the value).
pub fn approx_dyadic(num: &rug::Integer, shift: u32, prec: u32) -> Option<Approx> {
    let bits = num.significant_bits().max(1);
    if bits > MAX_WORKING_PREC || shift > MAX_DYADIC_SHIFT {
        return None;
    }
    // Exact: `bits` bits hold `num`, and the shift only lowers the exponent, which stays
    // far above MPFR's minimum.
    Some(settle_point(Float::with_val(bits, num) >> shift, prec))
}

/// [`settle`] for the exact value `x` (a point enclosure): the point decides every output
/// and the round-to-odd, so nothing can be left undecided; the roundings are those of the
/// one value, taken once.
fn settle_point(x: Float, prec: u32) -> Approx {
    let (rounded, odd) = roundings(Parts::of_float(&x));
    Approx {
        enclosure: Ival::point(x),
        prec,
        rounded,
        f64_odd: Some(odd),
    }
}

/// The exact rational `r` correctly rounded to `fmt` (as an `f64` holding the value),
/// in one step: MPFR rounds `r` toward zero at 64 bits and reports whether it was exact
/// ([`Parts`]).
pub fn round_rational(r: &Rational, fmt: Format) -> f64 {
    let (t, ord) = Float::with_val_round(64, r, Round::Zero);
    Parts::of_truncated(&t, ord).map_or(0.0, |p| p.round(fmt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::testing::finite_f64s;

    #[test]
    fn exact_rational_rounds_correctly() {
        let third = Rational::from((1, 3));
        let a = approx_rational("t", &third, 64).unwrap();
        assert_eq!(a.f64(), 1.0 / 3.0);
        assert_eq!(a.f32(), 1.0f32 / 3.0);
        assert_eq!(a.decimal(), "3.33333333333333333333e-1");
        assert_eq!(Approx::decimal_digits(64), 21);
    }

    /// `x` to `n` digits by MPFR (`mpfr_get_str`, nearest): the reference of
    /// [`write_scientific`].
    fn mpfr_scientific(x: &Float, n: usize) -> String {
        let (neg, s, exp) = x.to_sign_string_exp_round(10, Some(n), Round::Nearest);
        let (first, rest) = s.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let sign = if neg { "-" } else { "" };
        format!("{sign}{first}{dot}{rest}e{}", exp.unwrap() - 1)
    }

    fn scientific(x: &Float, n: usize) -> String {
        let mut out = String::new();
        write_scientific(&mut out, x, n);
        out
    }

    #[test]
    fn a_point_settles_as_the_general_settle_decides_it() {
        for v in
            finite_f64s(0x5e771e, 5000).chain([0.0, -0.0, 2f64.powi(-1074), 1.0 + f64::EPSILON])
        {
            for x in [
                Float::with_val(53, v),
                (Float::with_val(200, v) * 3u32) >> 7u32,
            ] {
                let general = settle(&Ival::point(x.clone()).into(), 64).unwrap();
                let point = settle_point(x, 64);
                assert_eq!(
                    point.rounded.map(f64::to_bits),
                    general.rounded.map(f64::to_bits)
                );
                assert_eq!(
                    point.f64_odd.map(f64::to_bits),
                    general.f64_odd.map(f64::to_bits)
                );
                assert_eq!(point.enclosure.lo(), general.enclosure.lo());
                assert!(point.is_exact() && general.is_exact());
            }
        }
    }

    #[test]
    fn scientific_decimals_are_mpfrs() {
        use rug::Integer;
        let mut bits = crate::arith::testing::xorshift64(0x5c1e_0001);
        let mut next = || bits.next().unwrap();
        for _ in 0..20_000 {
            // Floats of 1 to 640 bits over a wide exponent range, to 1 … 200 digits.
            let prec = 1 + (next() % 640) as u32;
            let mut mant = Integer::from(next() | 1);
            while mant.significant_bits() < prec {
                mant = (mant << 64u32) | next();
            }
            let extra = mant.significant_bits() - prec;
            let mant = mant >> extra;
            let e = (next() % 4000) as i32 - 2000;
            let mut x = Float::with_val(prec, &mant) << e;
            if next() % 2 == 0 {
                x = -x;
            }
            let n = 1 + (next() % 500) as usize;
            assert_eq!(
                scientific(&x, n),
                mpfr_scientific(&x, n),
                "{x:?} to {n} digits"
            );
        }
    }

    #[test]
    fn scientific_decimals_break_ties_as_mpfr() {
        use rug::Integer;
        // a/2^j has the significant digits of a·5^j, the last a 5: rounded to one digit
        // fewer it is a tie (and to fewer still, sometimes a carry out of 9…9).
        for a in (1u32..2000).step_by(2).chain([999, 9999, 99999, 199, 1999]) {
            for j in 1..40u32 {
                let x = Float::with_val(64, a) >> j;
                let digits = (Integer::from(a) * Integer::from(Integer::u_pow_u(5, j)))
                    .to_string()
                    .len();
                for n in 1..=digits + 1 {
                    for x in [x.clone(), -x.clone()] {
                        assert_eq!(scientific(&x, n), mpfr_scientific(&x, n), "{a}/2^{j}, {n}");
                    }
                }
            }
        }
        // And the largest and smallest magnitudes MPFR holds here.
        for x in [
            Float::with_val(53, 1) << 100_000,
            Float::with_val(53, 3) >> 100_000,
        ] {
            for n in [1, 17, 79, 383, 384, 1000] {
                assert_eq!(scientific(&x, n), mpfr_scientific(&x, n));
            }
        }
    }

    #[test]
    fn dyadic_midpoint_ties_to_even() {
        // 1 + 2^-24 is exactly halfway between two f32 values: ties to 1.0.
        let r = Rational::from(1) + Rational::from((1, 1 << 24));
        let a = approx_rational("t", &r, 16).unwrap();
        assert!(a.is_exact());
        assert_eq!(a.f32(), 1.0);
        assert_eq!(a.f64(), 1.0 + 2f64.powi(-24));
    }

    /// `[t − 2^−wp·|t|, t + 2^−wp·|t|]` around a dyadic `t`, at `wp` bits: an enclosure of
    /// `t` that never becomes a point, as for a midpoint reached through `exp` and `÷`.
    fn around(t: &Float, wp: u32) -> Ival {
        let r = Float::with_val(wp + 64, t.abs_ref()) >> wp;
        Ival::new(
            Float::with_val(wp + 64, t - &r),
            Float::with_val(wp + 64, t + &r),
        )
        .expect("ordered")
    }

    #[test]
    fn an_inexact_enclosure_of_a_midpoint_or_of_zero_decides_nothing() {
        // f32 midpoint 1 + 2^−24 and f64 midpoint 1 + 2^−53: no tie is ever assumed.
        let f64_mid = Float::with_val(64, 1) + Float::with_val(64, Float::i_exp(1, -53));
        for t in [
            Float::with_val(64, 1.0 + 2f64.powi(-24)),
            Float::with_val(64, -(1.0 + 2f64.powi(-24))),
            f64_mid,
        ] {
            let e = ziv("t", 64, |wp| Ok(Some(around(&t, wp.min(4096))))).unwrap_err();
            assert!(matches!(e, Error::PrecisionCap { .. }));
        }
        // Nor is zero assumed from a tiny enclosure around it.
        let e = ziv("t", 32, |wp| {
            let e = Float::with_val(wp, Float::i_exp(1, -(wp.min(4096) as i32) * 2));
            Ok(Some(
                Ival::new(Float::with_val(wp, -&e), e).expect("ordered"),
            ))
        })
        .unwrap_err();
        assert!(matches!(e, Error::PrecisionCap { .. }));
    }

    #[test]
    fn values_very_close_to_a_midpoint_are_decided() {
        // sin θ = θ·(1 − θ²/6) at θ = 1.5·2^−1074 lies 2^−2150 below the f64 midpoint
        // 1.5·2^−1074, so it rounds down to 2^−1074.
        let mid = Float::with_val(64, 1.5) >> 1074;
        let v = Float::with_val(4000, &mid) - (Float::with_val(4000, &mid) >> 2150);
        let a = ziv("t", 64, |wp| Ok(Some(around(&v, wp)))).unwrap();
        assert_eq!(a.f64(), 2f64.powi(-1074));
        // And 2^−1000 above 1 + 2^−24 (an f32 midpoint) rounds up.
        let near = Float::with_val(2000, 1.0 + 2f64.powi(-24))
            + Float::with_val(2, Float::i_exp(1, -1000));
        let a = ziv("t", 64, |wp| Ok(Some(around(&near, wp)))).unwrap();
        assert_eq!(a.f32(), 1.0 + 2f32.powi(-23));
    }

    /// The split `base + [r·(1 − 2^−wp), r]` (or its mirror), `r = ±2^−100000·|base|`.
    fn plus_tiny(base: &Float, up: bool, wp: u32) -> Split {
        let r =
            Float::with_val(wp, Float::i_exp(1, -100_000)) * Float::with_val(64, base.abs_ref());
        let r = if up { r } else { -r };
        let r2 = Float::with_val(wp, &r - (Float::with_val(wp, &r) >> wp));
        let (lo, hi) = if up { (r2, r) } else { (r, r2) };
        Split {
            base: base.clone(),
            rest: Ival::new(lo, hi).expect("ordered"),
        }
    }

    #[test]
    fn a_split_decides_a_midpoint_plus_a_tiny_rest_at_the_first_precision() {
        let f32_mid = Float::with_val(64, 1.0 + 2f64.powi(-24));
        let f64_mid = Float::with_val(64, 1) + Float::with_val(64, Float::i_exp(1, -53));
        let sub_mid: Float = Float::with_val(64, 1.5) >> 1074;
        let cases: [(Float, bool, f32, f64); 8] = [
            (
                f32_mid.clone(),
                true,
                1.0 + 2f32.powi(-23),
                1.0 + 2f64.powi(-24),
            ),
            (f32_mid.clone(), false, 1.0, 1.0 + 2f64.powi(-24)),
            (-f32_mid.clone(), true, -1.0, -(1.0 + 2f64.powi(-24))),
            (
                -f32_mid,
                false,
                -(1.0 + 2f32.powi(-23)),
                -(1.0 + 2f64.powi(-24)),
            ),
            (f64_mid.clone(), true, 1.0, 1.0 + 2f64.powi(-52)),
            (f64_mid, false, 1.0, 1.0),
            (sub_mid.clone(), true, 0.0, 2.0 * 2f64.powi(-1074)),
            (sub_mid, false, 0.0, 2f64.powi(-1074)),
        ];
        for (t, up, want32, want64) in cases {
            let mut seen = Vec::new();
            let a = ziv_splits("t", 16, |wp| {
                seen.push(wp);
                Ok(Some(vec![plus_tiny(&t, up, wp)]))
            })
            .unwrap()
            .pop()
            .unwrap();
            assert_eq!((a.f32(), a.f64()), (want32, want64), "{t} {up}");
            assert_eq!(seen, vec![80], "decided at the first working precision");
        }
    }

    #[test]
    fn a_tiny_nonzero_value_rounds_to_a_signed_zero() {
        let v: Float = -(Float::with_val(64, 1) >> 5000u32);
        let a = ziv("t", 16, |wp| Ok(Some(around(&v, wp)))).unwrap();
        assert_eq!(a.f64().to_bits(), (-0.0f64).to_bits());
        assert_eq!(a.f32().to_bits(), (-0.0f32).to_bits());
        assert!(a.decimal().starts_with("-7.0") && a.decimal().ends_with("e-1506"));
    }

    #[test]
    fn rationals_round_like_the_hardware() {
        // f64 → f32 conversions, subnormal results and midpoints included.
        for d in finite_f64s(0x9e37_79b9_7f4a_7c15, 20_000) {
            let r = Rational::from_f64(d).unwrap();
            assert_eq!(
                round_rational(&r, Format::F32),
                f64::from(d as f32),
                "{d:e}"
            );
            assert_eq!(round_rational(&r, Format::F64).to_bits(), d.to_bits());
        }
        let third = Rational::from((1, 3));
        assert_eq!(round_rational(&third, Format::F64), 1.0 / 3.0);
        let mid = Rational::from(1) + Rational::from((1, 1 << 24));
        assert_eq!(round_rational(&mid, Format::F32), 1.0);
    }

    #[test]
    fn a_value_below_the_exponent_range_is_an_error_at_once() {
        // An enclosure [0, 2^emin] (a probability e^−10⁷⁶ underflowed) stays one at every
        // precision: the loop says so at the first instead of climbing to the cap.
        let mut calls = 0;
        let e = ziv("t", 16, |wp| {
            calls += 1;
            let tiny = Float::with_val(wp, Float::i_exp(1, rug::float::exp_min() - 1));
            Ok(Some(Ival::new(Float::new(wp), tiny).expect("ordered")))
        })
        .unwrap_err();
        assert_eq!((e, calls), (Error::ExponentRange { op: "t" }, 1));
    }

    #[test]
    fn loop_is_capped() {
        let e = ziv("never", 64, |wp| {
            let one = Float::with_val(wp, 1);
            Ok(Some(Ival::new(Float::with_val(wp, -&one), one).unwrap()))
        })
        .unwrap_err();
        assert!(matches!(e, Error::PrecisionCap { .. }));
    }

    #[test]
    fn precision_range_is_checked() {
        assert!(check_prec(15).is_err());
        assert!(check_prec(MAX_PREC + 1).is_err());
        assert!(check_prec(65536).is_ok());
    }
}
