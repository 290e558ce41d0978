//! Double-word arithmetic with a running error bound: the fast tier in front of MPFR.
//!
//! A [`Dw`] is a value `hi + lo` (a normalized pair of `f64`s: `hi = RN(hi + lo)`) with
//! an absolute bound `err` on its distance to the exact quantity it stands for. Every
//! operation returns a new pair and a new bound; [`Dw::round`] rounds to a format only
//! when the whole interval `[hi + lo − err, hi + lo + err]` lies strictly inside one
//! rounding cell, and says `None` otherwise (the caller then asks MPFR). [`dot_rows`]
//! is the one accumulation loop (products exact by [`two_prod`], sums by [`two_sum`])
//! behind every matrix product of the loss filter, with the a-priori bound
//! [`dot_bound`]. The derivations are in the book's guarantees chapter
//! ([`crate::derivations::filter`]).
//!
//! Why the bounds hold:
//!
//! - [`two_sum`] and [`two_prod`] (with a fused multiply-add) are error-free:
//!   `a + b = s + e` and `a·b = p + e` exactly, subnormals included, for finite results.
//! - The double-word operations are Joldes, Muller and Popescu's ("Tight and rigorous
//!   error bounds for basic building blocks of double-word arithmetic", ACM TOMS 44(2),
//!   2017): `AccurateDWPlusDW` (relative error ≤ 3u²/(1−4u)), `DWTimesFP3` (≤ 2u²) and
//!   `DWTimesDW3` (≤ 4u²), `u = 2⁻⁵³`, without underflow. [`Dw`] charges each
//!   [`REL`]` = 2⁻¹⁰¹ ≥ 16u²·(1 + 2⁻⁵⁰)` times `|hi|` of the result, and [`TINY`] when the
//!   result is below `2⁻⁹⁶⁰` (where underflow can cost a few subnormal ulps).
//! - The bounds themselves are computed in `f64` with rounding to nearest, by chains of
//!   fewer than 2²⁰ additions and multiplications of non-negative numbers, each of which
//!   can lose at most a factor `1 − u`: [`Dw::round`] multiplies the bound by
//!   `1 + 2⁻³⁰ > (1 − u)^{−2²⁰}` before using it.

use super::interval::Ival;
use super::round::{Format, round_f64_to};
use super::ziv::round_rational;
use rug::float::Round;
use rug::{Float, Rational};

/// The unit roundoff of binary64, `u = 2⁻⁵³`.
pub const U: f64 = f64::EPSILON / 2.0;

/// The relative error charged per double-word operation, `2⁻¹⁰¹` (module docs).
pub const REL: f64 = 1.0 / (1u128 << 101) as f64;

/// The absolute error charged per operation whose result is below `2⁻⁹⁶⁰`.
pub const TINY: f64 = 1.0e-289; // about 2^-960

/// The inflation of every bound before it is used (module docs), `1 + 2⁻³⁰`.
const INFLATE: f64 = 1.0 + 1.0 / (1u64 << 30) as f64;

/// `a + b = s + e` exactly (Knuth's TwoSum), `s = RN(a + b)`.
#[inline(always)]
pub fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    let e = (a - (s - bb)) + (b - bb);
    (s, e)
}

/// `a + b = s + e` exactly when `|a| ≥ |b|` or `a = 0` (Dekker's Fast2Sum).
#[inline(always)]
pub fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// `a·b = p + e` exactly (with a fused multiply-add), `p = RN(a·b)`, when `a·b` does
/// not underflow below `2⁻⁹⁶⁹` or overflow.
#[inline(always)]
pub fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

/// `(ah + al) + (bh + bl)` for normalized pairs (`AccurateDWPlusDW`, relative error at
/// most `3u²/(1 − 4u)`), normalized.
#[inline(always)]
pub fn dd_add(ah: f64, al: f64, bh: f64, bl: f64) -> (f64, f64) {
    let (sh, sl) = two_sum(ah, bh);
    let (th, tl) = two_sum(al, bl);
    let (vh, vl) = fast_two_sum(sh, sl + th);
    fast_two_sum(vh, tl + vl)
}

/// `γ_n = n·u/(1 − n·u)` (Higham), the relative error of `n` rounded operations, rounded
/// up generously (`n·u < 1/2` is required: `n < 2⁵²`).
pub fn gamma(n: usize) -> f64 {
    let nu = n as f64 * U;
    nu / (1.0 - nu) * (1.0 + 4.0 * U)
}

/// The number of terms [`dot_rows`] sums in one block before adding the block into the
/// running double word.
pub const BLOCK: usize = 16;

/// The error of one block of [`dot_rows`] over `n ≤ BLOCK` terms, per unit of
/// `Σ|coefficient·row|`: `u·(γ_{3n}·(n·(1 + γ_n) + 2) + 2u)` (book: the guarantees chapter).
fn block_bound(n: usize) -> f64 {
    let nf = n as f64;
    U * (gamma(3 * n) * (nf * (1.0 + gamma(n)) + 2.0) + 2.0 * U)
}

/// The error of [`dot_rows`] over `n` terms, per unit of `Σ|coefficient·row|`: each
/// block's [`block_bound`], plus [`REL`] per block for adding it into the running sum
/// (`AccurateDWPlusDW`; every partial sum is at most `Σ|coefficient·row|`). About
/// `2⁻⁹⁶ + ⌈n/16⌉·2⁻¹⁰¹` instead of the `3n²u²` of one long sum.
pub fn dot_bound(n: usize) -> f64 {
    block_bound(n.min(BLOCK)) + n.div_ceil(BLOCK) as f64 * REL
}

/// A value `hi + lo` with an absolute error bound `err` (module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dw {
    /// The leading part, `RN(hi + lo)`.
    pub hi: f64,
    /// The trailing part, `|lo| ≤ ulp(hi)/2`.
    pub lo: f64,
    /// `|exact − (hi + lo)| ≤ err`.
    pub err: f64,
}

impl Dw {
    /// Exact zero.
    pub const ZERO: Dw = Dw {
        hi: 0.0,
        lo: 0.0,
        err: 0.0,
    };

    /// The exact value `v`.
    pub fn exact(v: f64) -> Dw {
        Dw {
            hi: v,
            lo: 0.0,
            err: 0.0,
        }
    }

    /// An upper bound of `|hi + lo|`.
    #[inline(always)]
    pub fn mag(self) -> f64 {
        self.hi.abs() + self.lo.abs()
    }

    /// The error charged to a result with leading part `hi` (module docs).
    #[inline(always)]
    fn charge(hi: f64, inexact: bool) -> f64 {
        let tiny = if inexact && hi.abs() < 1.0e-289 {
            TINY
        } else {
            0.0
        };
        REL * hi.abs() + tiny
    }

    /// `self + o` (`AccurateDWPlusDW`).
    #[inline(always)]
    fn plus(self, o: Dw) -> Dw {
        let (hi, lo) = dd_add(self.hi, self.lo, o.hi, o.lo);
        let inexact = self.hi != 0.0 || o.hi != 0.0;
        Dw {
            hi,
            lo,
            err: self.err + o.err + Dw::charge(hi, inexact),
        }
    }

    /// `self·o` (`DWTimesDW3`); the bound adds `|a|·err_b + |b|·err_a + err_a·err_b`.
    #[inline(always)]
    fn times(self, o: Dw) -> Dw {
        let (ch, cl1) = two_prod(self.hi, o.hi);
        let tl0 = self.lo * o.lo;
        let tl1 = self.hi.mul_add(o.lo, tl0);
        let cl2 = self.lo.mul_add(o.hi, tl1);
        let (hi, lo) = fast_two_sum(ch, cl1 + cl2);
        let inexact = self.hi != 0.0 && o.hi != 0.0;
        let prop = self.mag() * o.err + o.mag() * self.err + self.err * o.err;
        Dw {
            hi,
            lo,
            err: prop + Dw::charge(hi, inexact),
        }
    }

    /// `self·b` for an exact `b` (`DWTimesFP3`).
    #[inline(always)]
    fn times_f64(self, b: f64) -> Dw {
        let (ch, cl1) = two_prod(self.hi, b);
        let cl3 = self.lo.mul_add(b, cl1);
        let (hi, lo) = fast_two_sum(ch, cl3);
        let inexact = self.hi != 0.0 && b != 0.0;
        Dw {
            hi,
            lo,
            err: self.err * b.abs() + Dw::charge(hi, inexact),
        }
    }

    /// The enclosure `[hi + lo − err, hi + lo + err]` at `prec` bits, rounded outward.
    pub fn to_ival(self, prec: u32) -> Ival {
        enclose(&[self.hi, self.lo], self.err, prec)
    }

    /// A double word enclosing the interval `iv` (its midpoint and radius, the bound
    /// rounded up); `None` when an endpoint is not finite in `f64`.
    pub fn from_ival(iv: &Ival) -> Option<Dw> {
        let p = iv.prec() + 2;
        let mid = iv.mid_at(p);
        let hi = mid.to_f64();
        let rest = Float::with_val(p, &mid - hi);
        let lo = rest.to_f64();
        let lost = Float::with_val(p, &rest - lo).abs();
        let rad = Float::with_val_round(p, iv.hi() - &mid, Round::Up).0;
        let rad2 = Float::with_val_round(p, &mid - iv.lo(), Round::Up).0;
        let err = Float::with_val_round(p, rad.max(&rad2) + lost, Round::Up).0;
        let err = err.to_f64_round(Round::Up);
        (hi.is_finite() && lo.is_finite() && err.is_finite()).then(|| {
            let (hi, lo) = fast_two_sum(hi, lo);
            Dw { hi, lo, err }
        })
    }

    /// The value correctly rounded to `fmt` (nearest, ties to even), when the whole
    /// enclosure rounds to one value; `None` otherwise, and for results below `2⁻⁹⁰⁰`
    /// or at the edge of the format's range.
    pub fn round(self, fmt: Format) -> Option<f64> {
        if !(self.hi.is_finite() && self.lo.is_finite() && self.err.is_finite()) {
            return None;
        }
        if self.err == 0.0 {
            let exact = |v: f64| Rational::from_f64(v).expect("finite");
            return Some(round_rational(&(exact(self.hi) + exact(self.lo)), fmt));
        }
        // The value is within an ulp of `hi`: its rounding is `RN(hi)` or a neighbour
        // (when `hi` is itself a midpoint of `fmt`).
        let r = round_f64_to(self.hi, fmt);
        if r == 0.0 {
            return self.rounds_to_zero(fmt);
        }
        [r, fmt.next_up(r), -fmt.next_up(-r)]
            .into_iter()
            .find(|&c| self.inside_cell(c, fmt))
    }

    /// `±0` when the whole enclosure lies strictly between `∓2^tiny_exp/2` and its sign is
    /// known (`|hi| > err`: a negative value rounds to `−0`).
    fn rounds_to_zero(self, fmt: Format) -> Option<f64> {
        let half_tiny = 2f64.powi(fmt.tiny_exp() - 1);
        let e = self.err * INFLATE;
        let margin = 1.0 + 1.0 / (1u64 << 50) as f64;
        let inside = (self.hi.abs() + self.lo.abs() + e) * margin < half_tiny;
        let signed = self.hi.abs() > e * margin;
        (inside && signed).then(|| 0.0f64.copysign(self.hi))
    }

    /// `true` when the whole enclosure lies strictly inside the rounding cell of `r` in
    /// `fmt` (the values that round to `r`), for `2⁻⁹⁰⁰ < |r| <` the format's largest.
    fn inside_cell(self, r: f64, fmt: Format) -> bool {
        if !(r.abs() > 1.0e-271 && r.is_finite()) {
            return false; // below 2^-900, or overflowed
        }
        let up = fmt.next_up(r.abs());
        if !up.is_finite() {
            return false;
        }
        let down = -fmt.next_up(-r.abs());
        // The half-gaps of the cell of |r| away from zero and toward it (they differ when
        // |r| is a power of two).
        let (half_away, half_toward) = ((up - r.abs()) / 2.0, (r.abs() - down) / 2.0);
        // The distance to r is ds + de exactly: hi − r is exact (Sterbenz: r is within
        // two ulps of hi in fmt, same sign), the sum an error-free transformation.
        let (ds, de) = two_sum(self.hi - r, self.lo);
        let margin = 1.0 / (1u64 << 50) as f64;
        // On the side σ (sign(r) away from zero, −sign(r) toward it) the enclosure ends at
        // σ·(ds + de) + err, which must stay below that side's half-gap. The slack
        // half − σ·ds is exact when σ·ds ≥ half/2 (Sterbenz) and within u of itself
        // otherwise; |de| ≤ u·|ds|; each side is off by at most a few u of its magnitude.
        let within = |sigma: f64, half: f64| {
            let slack = half - sigma * ds;
            let beyond = sigma * de + self.err * INFLATE;
            beyond + (beyond.abs() + slack.abs()) * margin < slack
        };
        let s = r.signum();
        within(s, half_away) && within(-s, half_toward)
    }
}

/// The constants of [`Dw::exp_nonpos`], enclosed once with MPFR: `ln 2/64` split as
/// `L1 + L2 + L3` (`L1` with 37 significant bits, so that `k·L1` is exact for `|k| < 2¹⁶`)
/// with a bound on the rest, `2^{j/64}` for `j < 64` and `1/i!` for `i ≤ 12`, as double words.
struct ExpTables {
    l1: f64,
    l2: f64,
    l3: f64,
    l_rest: f64,
    two_j64: [Dw; 64],
    inv_fact: [Dw; 13],
}

fn exp_tables() -> &'static ExpTables {
    static T: std::sync::OnceLock<ExpTables> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let p = 256;
        let l = Float::with_val(p, rug::float::Constant::Log2) / 64u32;
        let l1 = Float::with_val(37, &l).to_f64();
        let rest = Float::with_val(p, &l - l1);
        let l2 = rest.to_f64();
        let rest = Float::with_val(p, &rest - l2);
        let l3 = rest.to_f64();
        let l_rest = Float::with_val(p, &rest - l3).abs().to_f64_round(Round::Up);
        let dw_of =
            |v: Float| Dw::from_ival(&Ival::new(v.clone(), v).expect("finite")).expect("in range");
        let two_j64 = std::array::from_fn(|j| {
            dw_of(Float::with_val(p, Float::with_val(p, j) / 64u32).exp2())
        });
        let mut fact = Float::with_val(p, 1u32);
        let inv_fact = std::array::from_fn(|i| {
            if i > 1 {
                fact *= i as u32;
            }
            dw_of(Float::with_val(p, 1u32) / &fact)
        });
        ExpTables {
            l1,
            l2,
            l3,
            l_rest,
            two_j64,
            inv_fact,
        }
    })
}

impl Dw {
    /// `e^x` for `−625 ≤ x ≤ 1` (up to the input's error), in double-word arithmetic with
    /// the bound carried by every operation: `x = k·ln2/64 + r` with `|r| ≤ ln2/128 + ε`
    /// (`k·L1` exact, the rest of `ln 2/64` bounded), `e^r` by its Taylor polynomial of
    /// degree 11 (remainder below `|r|¹²/12!·e^{|r|} < 2⁻¹¹⁸`), times `2^{j/64}` and `2^q`
    /// (`k = 64q + j`). Below `e^{−625} < 2⁻⁹⁰¹`, zero with error `2⁻⁹⁰⁰`; `None` above 1
    /// or when the input's error exceeds `2⁻²⁰`. (The loss takes it at `f_j − f_J ≤ 0`,
    /// which rounding can leave a hair above 0.)
    pub fn exp_nonpos(self) -> Option<Dw> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the feature the function is compiled for was detected at run time.
            return unsafe { self.exp_nonpos_fma() };
        }
        self.exp_nonpos_any()
    }

    /// [`Dw::exp_nonpos`] compiled with FMA (its `mul_add`s become instructions instead
    /// of calls; the values are the same).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "fma")]
    unsafe fn exp_nonpos_fma(self) -> Option<Dw> {
        self.exp_nonpos_any()
    }

    /// The body of [`Dw::exp_nonpos`].
    #[inline(always)]
    fn exp_nonpos_any(self) -> Option<Dw> {
        if self.err > 1.0 / (1u64 << 20) as f64 || self.hi > 1.0 {
            return None;
        }
        if self.hi < -625.0 {
            return Some(Dw {
                hi: 0.0,
                lo: 0.0,
                err: 2f64.powi(-900),
            });
        }
        let t = exp_tables();
        let k = (self.hi / t.l1).round();
        // hi − k·L1 is exact (Sterbenz: hi is within half a step of k·L1); k·L2 and k·L3
        // by TwoProd.
        let prod = |l: f64| {
            let (hi, lo) = two_prod(k, l);
            Dw { hi, lo, err: 0.0 }
        };
        let r = Dw::exact(self.hi - k * t.l1) - prod(t.l2) - prod(t.l3)
            + Dw {
                hi: self.lo,
                lo: 0.0,
                err: self.err + k.abs() * t.l_rest,
            };
        if r.hi.abs() > 0.006 {
            return None; // cannot happen for |k| < 2^16; the remainder bound needs it
        }
        let mut p = t.inv_fact[11];
        for i in (0..11).rev() {
            p = p * r + t.inv_fact[i];
        }
        p.err += 2f64.powi(-118);
        let (q, j) = ((k / 64.0).floor(), (k as i64).rem_euclid(64) as usize);
        let e = p * t.two_j64[j];
        let scale = 2f64.powi(q as i32); // exact: 2^q ≥ 2^-902
        Some(Dw {
            hi: e.hi * scale,
            lo: e.lo * scale,
            err: e.err * scale,
        })
    }
}

impl std::ops::Add for Dw {
    type Output = Dw;
    /// `AccurateDWPlusDW`; the bound adds both bounds and the rounding.
    #[inline(always)]
    fn add(self, o: Dw) -> Dw {
        self.plus(o)
    }
}

impl std::ops::Neg for Dw {
    type Output = Dw;
    /// Exact.
    #[inline(always)]
    fn neg(self) -> Dw {
        Dw {
            hi: -self.hi,
            lo: -self.lo,
            err: self.err,
        }
    }
}

impl std::ops::Sub for Dw {
    type Output = Dw;
    /// `self + (−o)`.
    #[inline(always)]
    fn sub(self, o: Dw) -> Dw {
        self.plus(-o)
    }
}

impl std::ops::Mul for Dw {
    type Output = Dw;
    /// `DWTimesDW3`; the bound adds `|a|·err_b + |b|·err_a + err_a·err_b` and the rounding.
    #[inline(always)]
    fn mul(self, o: Dw) -> Dw {
        self.times(o)
    }
}

impl std::ops::Mul<f64> for Dw {
    type Output = Dw;
    /// `DWTimesFP3`, for an exact `f64`.
    #[inline(always)]
    fn mul(self, b: f64) -> Dw {
        self.times_f64(b)
    }
}

/// The interval `[Σ parts − err, Σ parts + err]` (`err` inflated as in the module docs)
/// at `prec` bits, each end one correctly rounded sum (exact parts, any exponent gaps).
pub fn enclose(parts: &[f64], err: f64, prec: u32) -> Ival {
    // One correctly rounded sum (any exponent gaps), widened by the bound and by its own
    // rounding (at most 2^(1−prec) of it).
    let terms: Vec<Float> = parts.iter().map(|&v| Float::with_val(53, v)).collect();
    let sum = Float::with_val(prec, Float::sum(terms.iter()));
    let rounding = Float::with_val_round(53, sum.abs_ref(), Round::Up)
        .0
        .to_f64_round(Round::Up)
        * 2f64.powi(1 - prec as i32);
    let e = (err * INFLATE + rounding) * INFLATE;
    let lo = Float::with_val_round(prec, &sum - e, Round::Down).0;
    let hi = Float::with_val_round(prec, &sum + e, Round::Up).0;
    Ival::new(lo, hi).expect("ordered finite endpoints")
}

/// The error of [`dot_rows_fine`] over `n` terms, per unit of `Σ|coefficient·row|`:
/// `γ_{2n}·2n·u·(1 + γ_{2n})·u·(n·(1 + γ_n) + 1)` (book: the guarantees chapter), about
/// `4n³u³`: `2⁻¹³⁰` at `n = 512`.
pub fn dot_bound_fine(n: usize) -> f64 {
    let nf = n as f64;
    gamma(2 * n) * 2.0 * nf * U * (1.0 + gamma(2 * n)) * U * (nf * (1.0 + gamma(n)) + 1.0)
}

/// [`dot_rows`] for exact coefficients with the trailing sums kept in double words:
/// `out[k] = Σ_i q_i·rows[i][k]` lies within [`dot_bound_fine`]`(n)·abs[k]` of
/// `hi[k] + mid[k] + lo[k]` (`out` holds `hi`, `mid`, `lo`, `abs`). The second tier of
/// the loss filter, for the few outputs the first leaves undecided.
pub fn dot_rows_fine(q: &[f64], rows: &[f64], width: usize, out: &mut [Vec<f64>; 4]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the features the function is compiled for were detected at run time.
        unsafe { dot_rows_fine_fma(q, rows, width, out) };
        return;
    }
    dot_rows_fine_any(q, rows, width, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_rows_fine_fma(q: &[f64], rows: &[f64], width: usize, out: &mut [Vec<f64>; 4]) {
    dot_rows_fine_any(q, rows, width, out);
}

/// The loop of [`dot_rows_fine`].
#[inline(always)]
fn dot_rows_fine_any(q: &[f64], rows: &[f64], width: usize, out: &mut [Vec<f64>; 4]) {
    let [hi, mid, lo, abs] = out;
    for v in [&mut *hi, &mut *mid, &mut *lo, &mut *abs] {
        v.clear();
        v.resize(width, 0.0);
    }
    for (i, &h) in q.iter().enumerate() {
        if h == 0.0 {
            continue;
        }
        let row = &rows[i * width..(i + 1) * width];
        for k in 0..width {
            let (p, pe) = two_prod(h, row[k]);
            let (s, e) = two_sum(hi[k], p);
            hi[k] = s;
            let (m1, a) = two_sum(mid[k], e);
            let (m2, b) = two_sum(m1, pe);
            mid[k] = m2;
            lo[k] += a + b;
            abs[k] += p.abs();
        }
    }
}

/// One row of coefficients times a matrix: `out[k] = Σ_i q_i·rows[i][k]` for double-word
/// coefficients `q_i = qh_i + ql_i` and exact rows, with `abs[k] = Σ_i |qh_i·rows[i][k]|`
/// (computed in `f64`) for the bound: the exact sum of the rounded coefficients differs
/// from `hi[k] + lo[k]` by at most [`dot_bound`]`(n)·abs[k]` (inflated as in the module
/// docs). Rows are `width` long; `out` holds `hi`, `lo`, `abs`, each `width` long.
pub fn dot_rows(qh: &[f64], ql: &[f64], rows: &[f64], width: usize, out: &mut [Vec<f64>; 3]) {
    dot_rows_group(&[(qh, ql)], rows, width, std::slice::from_mut(out));
}

/// Columns per tile of [`dot_rows_group`]: a block of [`BLOCK`] rows of a tile (32 KiB)
/// stays in the first-level cache while every coefficient row of the group uses it.
const TILE: usize = 256;

/// [`dot_rows`] for several coefficient rows `qs` (each `(qh, ql)`, all as long as `rows`
/// has rows) at once, `outs[g]` for `qs[g]`: the matrix is read from memory once per
/// group instead of once per coefficient row. Every output is computed by the same
/// operations in the same order as by [`dot_rows`] (the loop is only tiled over columns
/// and interleaved over the group), so the results and their bound are the same.
pub fn dot_rows_group(
    qs: &[(&[f64], &[f64])],
    rows: &[f64],
    width: usize,
    outs: &mut [[Vec<f64>; 3]],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the features the function is compiled for were detected at run time.
        unsafe { dot_rows_group_fma::<false>(qs, rows, width, outs) };
        return;
    }
    dot_rows_group_any::<false>(qs, rows, width, outs);
}

/// [`dot_rows_group`] for exact coefficients (`ql = 0`) whose products with the rows are
/// exact in binary64 (`f32` coefficients and rows: 24 + 24 significant bits), which the
/// caller guarantees: the loop then skips the products' error terms, which are zero, and
/// gives the values of [`dot_rows_group`] (up to the sign of a zero trailing part), with
/// its bound.
pub fn dot_rows_group_exact(
    qs: &[(&[f64], &[f64])],
    rows: &[f64],
    width: usize,
    outs: &mut [[Vec<f64>; 3]],
) {
    debug_assert!(qs.iter().all(|(_, ql)| ql.iter().all(|&l| l == 0.0)));
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the features the function is compiled for were detected at run time.
        unsafe { dot_rows_group_fma::<true>(qs, rows, width, outs) };
        return;
    }
    dot_rows_group_any::<true>(qs, rows, width, outs);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_rows_group_fma<const EXACT: bool>(
    qs: &[(&[f64], &[f64])],
    rows: &[f64],
    width: usize,
    outs: &mut [[Vec<f64>; 3]],
) {
    dot_rows_group_any::<EXACT>(qs, rows, width, outs);
}

/// The loop of [`dot_rows_group`] (and, `EXACT`, of [`dot_rows_group_exact`]), compiled
/// once for any CPU and once with AVX2 and FMA: per tile of columns, blocks of [`BLOCK`]
/// terms summed with TwoSum (trailing parts in plain `f64`), each block normalized and
/// added into the running double word.
#[inline(always)]
fn dot_rows_group_any<const EXACT: bool>(
    qs: &[(&[f64], &[f64])],
    rows: &[f64],
    width: usize,
    outs: &mut [[Vec<f64>; 3]],
) {
    for out in outs.iter_mut() {
        for v in out.iter_mut() {
            v.clear();
            v.resize(width, 0.0);
        }
    }
    let n = qs.first().map_or(0, |(qh, _)| qh.len());
    let (mut bhi, mut blo) = ([0.0; TILE], [0.0; TILE]);
    for t0 in (0..width).step_by(TILE) {
        let t1 = (t0 + TILE).min(width);
        let tw = t1 - t0;
        for b0 in (0..n).step_by(BLOCK) {
            let b1 = (b0 + BLOCK).min(n);
            for ((qh, ql), [hi, lo, abs]) in qs.iter().zip(outs.iter_mut()) {
                bhi[..tw].fill(0.0);
                blo[..tw].fill(0.0);
                let abs = &mut abs[t0..t1];
                for i in b0..b1 {
                    let (h, l) = (qh[i], ql[i]);
                    if h == 0.0 {
                        continue;
                    }
                    let row = &rows[i * width + t0..i * width + t1];
                    for k in 0..tw {
                        if EXACT {
                            let p = h * row[k];
                            let (s, e) = two_sum(bhi[k], p);
                            bhi[k] = s;
                            blo[k] += e;
                            abs[k] += p.abs();
                        } else {
                            let (p, pe) = two_prod(h, row[k]);
                            let t = l * row[k];
                            let (s, e) = two_sum(bhi[k], p);
                            bhi[k] = s;
                            blo[k] += e + (pe + t);
                            abs[k] += p.abs();
                        }
                    }
                }
                for k in 0..tw {
                    let (sh, sl) = two_sum(bhi[k], blo[k]);
                    (hi[t0 + k], lo[t0 + k]) = dd_add(hi[t0 + k], lo[t0 + k], sh, sl);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(d: Dw) -> Rational {
        Rational::from_f64(d.hi).unwrap() + Rational::from_f64(d.lo).unwrap()
    }

    #[test]
    fn error_free_transformations_are_exact() {
        let q = |v: f64| Rational::from_f64(v).unwrap();
        let cases = [
            (1.0, 1e-30),
            (0.1, 0.2),
            (1e300, -1e284),
            (3.0f64.sqrt(), 5.0f64.ln()),
        ];
        for (a, b) in cases {
            let (s, e) = two_sum(a, b);
            assert_eq!(q(s) + q(e), q(a) + q(b));
            let b = b / 1e290; // keep the product finite
            let (p, e) = two_prod(a, b);
            assert_eq!(q(p) + q(e), q(a) * q(b));
        }
    }

    /// The bound of each operation holds against exact rational arithmetic on pairs
    /// chosen to make the trailing parts matter; a bound without the charge fails.
    #[test]
    fn operations_stay_within_their_bounds() {
        let third = Dw::from_ival(&Ival::from_rational(&Rational::from((1, 3)), 200)).unwrap();
        let seventh = Dw::from_ival(&Ival::from_rational(&Rational::from((-1, 7)), 200)).unwrap();
        let exact_third = Rational::from((1, 3));
        let exact_seventh = Rational::from((-1, 7));
        let checks = [
            (third + seventh, exact_third.clone() + &exact_seventh),
            (third * seventh, exact_third.clone() * &exact_seventh),
            (
                third * 0.1,
                exact_third.clone() * Rational::from_f64(0.1).unwrap(),
            ),
        ];
        for (got, want) in checks {
            let dist = (exact(got) - &want).abs();
            assert!(dist <= Rational::from_f64(got.err).unwrap(), "{got:?}");
            assert!(got.err < 1e-30, "{got:?}");
        }
    }

    #[test]
    fn round_decides_only_inside_a_cell() {
        // 1 + 2^-24 is an f32 midpoint: an enclosure around it must not decide f32.
        let mid = Dw {
            hi: 1.0 + 2f64.powi(-24),
            lo: 0.0,
            err: 1e-30,
        };
        assert_eq!(mid.round(Format::F32), None);
        assert_eq!(mid.round(Format::F64), Some(1.0 + 2f64.powi(-24)));
        // Exactly on the midpoint: ties to even.
        let tie = Dw { err: 0.0, ..mid };
        assert_eq!(tie.round(Format::F32), Some(1.0));
        // Just above the f32 midpoint by more than the error: rounds up.
        let above = Dw { lo: 1e-25, ..mid };
        assert_eq!(above.round(Format::F32), Some(1.0 + 2f64.powi(-23)));
        // An f64 value whose trailing part plus error reaches half an ulp (above 1,
        // where the ulp is 2^-52).
        let near = Dw {
            hi: 1.0,
            lo: 2f64.powi(-53) * 0.75,
            err: 2f64.powi(-53) * 0.3,
        };
        assert_eq!(near.round(Format::F64), None);
        // Half as far stays inside 1's cell above it (though beyond the half-gap below).
        let inside = Dw {
            lo: 2f64.powi(-54) * 0.75,
            err: 2f64.powi(-54) * 0.3,
            ..near
        };
        assert_eq!(inside.round(Format::F64), Some(1.0));
    }

    /// Next to a power of two the cell is wider away from zero than toward it: an
    /// enclosure a quarter of the upper ulp above `2^-21` rounds to it in f32 (the
    /// paper batch had such a gradient), and every decision, on either side of powers of
    /// two and with any error, is the rounding of both ends of the enclosure.
    #[test]
    fn round_uses_the_half_gap_on_each_side_of_a_power_of_two() {
        let p = 2f64.powi(-21);
        let quarter_up = Dw {
            hi: -(p + 2f64.powi(-46)),
            lo: 0.0,
            err: 1e-40,
        };
        assert_eq!(quarter_up.round(Format::F32), Some(-p));
        let q = |v: f64| Rational::from_f64(v).unwrap();
        let mut decided = 0;
        for fmt in [Format::F32, Format::F64] {
            let ulp_up = 2f64.powi(1 - fmt.precision() as i32); // of [1, 2)
            for e in [-21, 0, 7] {
                let base = 2f64.powi(e);
                for sign in [1.0, -1.0] {
                    for k in -40i32..=40 {
                        // Steps of an eighth of the lower half-gap around ±2^e.
                        let off = f64::from(k) * ulp_up * base / 32.0;
                        for (lo, err) in [(0.0, 0.0), (1e-3, 1e-3), (-1e-3, 5e-3), (0.0, 0.1)] {
                            let v = Dw {
                                hi: sign * (base + off),
                                lo: lo * ulp_up * base / 32.0,
                                err: err * ulp_up * base / 32.0,
                            };
                            let Some(r) = v.round(fmt) else { continue };
                            decided += 1;
                            let mid = q(v.hi) + q(v.lo);
                            for end in [&mid - q(v.err), &mid + q(v.err)] {
                                let want = round_rational(&end, fmt);
                                assert_eq!(r.to_bits(), want.to_bits(), "{v:?} {fmt:?}");
                            }
                        }
                    }
                }
            }
        }
        assert!(decided > 1500, "{decided}");
    }

    #[test]
    fn exp_nonpos_contains_the_exponential_and_is_tight() {
        let mut xs: Vec<Dw> = vec![
            Dw::ZERO,
            Dw::exact(-1e-300),
            Dw::exact(-0.5),
            Dw::exact(-624.9),
        ];
        for i in 0..400 {
            let hi = -(i as f64) * 1.5617 - (i as f64 * 0.37).sin().abs();
            xs.push(Dw {
                hi,
                lo: hi * 1e-17,
                err: 1e-25 * (i % 3) as f64,
            });
        }
        for x in xs {
            let e = x.exp_nonpos().unwrap();
            for end in [-1.0, 1.0] {
                let xv = Float::with_val(300, x.hi) + x.lo + end * x.err;
                let want = Float::with_val(300, xv.exp_ref());
                let got = Float::with_val(300, e.hi) + e.lo;
                let dist = Float::with_val(300, &want - &got).abs();
                assert!(dist <= e.err * INFLATE, "{x:?}: {e:?} vs {want}");
            }
            let tight = (e.hi.abs() * 2f64.powi(-92)).max(e.hi.abs() * x.err * 1.01);
            assert!(e.err <= tight + 1e-300, "{x:?}: {e:?}");
        }
        // A hair above 0 (a rounded difference of tied logits) is fine; above 1 is not.
        let e = Dw::exact(1e-20).exp_nonpos().unwrap();
        assert!(e.hi == 1.0 && e.lo > 0.0);
        assert!(Dw::exact(1.5).exp_nonpos().is_none());
    }

    /// A group gives each coefficient row the bits it gets alone, on shapes that are not
    /// multiples of the tile or the block, with zero coefficients and trailing parts.
    #[test]
    fn dot_rows_group_matches_each_row_alone() {
        let (n, width, g) = (37, 700, 5);
        let mut bits = crate::arith::testing::xorshift64(0x9e37_79b9_7f4a_7c15);
        let mut draw =
            || (bits.next().expect("endless") >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        let rows: Vec<f64> = (0..n * width).map(|_| draw()).collect();
        let qs: Vec<(Vec<f64>, Vec<f64>)> = (0..g)
            .map(|j| {
                let qh: Vec<f64> = (0..n)
                    .map(|i| if (i + j) % 7 == 0 { 0.0 } else { draw() * 1e3 })
                    .collect();
                let ql = qh.iter().map(|&h| h * 1e-17 * draw()).collect();
                (qh, ql)
            })
            .collect();
        let refs: Vec<(&[f64], &[f64])> = qs.iter().map(|(h, l)| (&h[..], &l[..])).collect();
        let mut outs = vec![[Vec::new(), Vec::new(), Vec::new()]; g];
        dot_rows_group(&refs, &rows, width, &mut outs);
        for (j, (qh, ql)) in qs.iter().enumerate() {
            let mut alone = [Vec::new(), Vec::new(), Vec::new()];
            dot_rows(qh, ql, &rows, width, &mut alone);
            for (a, b) in alone.iter().zip(&outs[j]) {
                let bits = |v: &Vec<f64>| v.iter().map(|t| t.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(a), bits(b), "row {j}");
            }
        }
    }

    /// On f32 coefficients and rows the exact-product loop gives the general loop's values.
    #[test]
    fn dot_rows_group_exact_matches_the_general_loop_on_f32_data() {
        let (n, width, g) = (45, 300, 3);
        let mut bits = crate::arith::testing::xorshift64(0x2545_f491_4f6c_dd1d);
        let mut draw = || {
            let x = bits.next().expect("endless");
            f64::from(
                ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2f32.powi((x % 40) as i32 - 20),
            )
        };
        let rows: Vec<f64> = (0..n * width).map(|_| draw()).collect();
        let qh: Vec<Vec<f64>> = (0..g).map(|_| (0..n).map(|_| draw()).collect()).collect();
        let zeros = vec![0.0; n];
        let qs: Vec<(&[f64], &[f64])> = qh.iter().map(|h| (&h[..], &zeros[..])).collect();
        let mut a = vec![[Vec::new(), Vec::new(), Vec::new()]; g];
        let mut b = a.clone();
        dot_rows_group(&qs, &rows, width, &mut a);
        dot_rows_group_exact(&qs, &rows, width, &mut b);
        for (a, b) in a.iter().zip(&b) {
            for (u, v) in a.iter().zip(b) {
                assert!(u.iter().zip(v).all(|(p, q)| p == q), "values differ");
            }
        }
    }

    #[test]
    fn dot_rows_fine_is_within_its_bound() {
        let n = 512;
        let width = 2;
        // Products of wildly different sizes that cancel: the trailing sums matter.
        let q: Vec<f64> = (0..n)
            .map(|i| if i % 2 == 0 { 1e8 } else { -1e8 } * (1.0 + i as f64 * 1e-9))
            .collect();
        let rows: Vec<f64> = (0..n * width)
            .map(|i| 1.0 + ((i * 7919) % 1013) as f64 * 1e-12)
            .collect();
        let mut out = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        dot_rows_fine(&q, &rows, width, &mut out);
        for k in 0..width {
            let mut want = Rational::new();
            for i in 0..n {
                want += Rational::from_f64(q[i]).unwrap()
                    * Rational::from_f64(rows[i * width + k]).unwrap();
            }
            let got: Rational = [out[0][k], out[1][k], out[2][k]]
                .iter()
                .map(|&v| Rational::from_f64(v).unwrap())
                .sum();
            let dist = (got - want).abs();
            let bound = dot_bound_fine(n) * out[3][k] * INFLATE;
            assert!(dist <= Rational::from_f64(bound).unwrap(), "k = {k}");
            assert!(bound < 1e-20 * out[3][k]);
        }
    }

    #[test]
    fn dot_rows_is_within_its_bound() {
        let n = 300;
        let width = 3;
        let qh: Vec<f64> = (0..n)
            .map(|i| ((i * 7919 % 1000) as f64 - 500.0) / 333.0)
            .collect();
        let ql: Vec<f64> = qh.iter().map(|&h| h * 1e-17).collect();
        let rows: Vec<f64> = (0..n * width)
            .map(|i| ((i * 104729 % 997) as f64 - 498.0) * 1.0e-3)
            .collect();
        let mut out = [Vec::new(), Vec::new(), Vec::new()];
        dot_rows(&qh, &ql, &rows, width, &mut out);
        for k in 0..width {
            let mut want = Rational::new();
            for i in 0..n {
                let q = Rational::from_f64(qh[i]).unwrap() + Rational::from_f64(ql[i]).unwrap();
                want += q * Rational::from_f64(rows[i * width + k]).unwrap();
            }
            let got =
                Rational::from_f64(out[0][k]).unwrap() + Rational::from_f64(out[1][k]).unwrap();
            let dist = (got - want).abs();
            let bound = dot_bound(n) * out[2][k] * INFLATE;
            assert!(dist <= Rational::from_f64(bound).unwrap(), "k = {k}");
        }
    }
}
