//! Properties of ψ, the monotone extension of cos(mθ), and of its derivatives,
//! certified with the oracles' enclosures over adversarial inputs.
//!
//! `ψ(θ) = (−1)^k cos(mθ) − 2k` on `[kπ/m, (k+1)π/m]`. Everything that can go wrong
//! happens at the branch points `kπ/m` (the branch index flips, the polynomial
//! changes sign) and at the ends `c = ±1` (θ = 0, π). So the inputs are built around
//! those points: at the 640-bit rounding of the point itself, `±1e−30` and `±2^−e`
//! away from it, and a few f64 ulps around its nearest f64; plus dyadic (f64) and
//! decimal inputs and tiny angles down to `2^−1100`. Margins are integers 1..=16
//! and non-integers (1.7, 2.5, n + d/10, 3.99, 4.01, …).
//!
//! A property is only ever asserted from enclosures (never from f64 values), and
//! where an enclosure may legitimately be too wide at a given precision to decide
//! an inequality, the test raises the precision (64 → 8192 bits) until it is
//! decided: a sound oracle must decide a true strict inequality at *some* precision,
//! and must never decide a false one.
//!
//! The properties (numbered as in the brief):
//! 1. continuity at every `kπ/m` (θ-form) and every `cos(jπ/m)` (c-form);
//! 2. strict monotonicity (decreasing in θ, increasing in c), including pairs
//!    `1e−30` apart and pairs straddling a branch point;
//! 3. the range `[1 − 2m, 1]` for integer m (`[ψ(π), 1]` for real m);
//! 4. `ψ ≤ cos θ`, with equality exactly at θ = 0 for m > 1 and everywhere for m = 1;
//! 5. C¹: `dψ/dθ → 0` at the branch points from both sides; `dψ/dc = 0` exactly at
//!    the rational thresholds `0, ±1/2`; signs of both derivatives; `dψ/dc(±1) = m²`;
//!    `dψ/dθ = −sin θ·dψ/dc`;
//! 6. θ-form and c-form agree (see [`theta_and_cos_forms_agree`] for why the
//!    comparisons are sound), and ψ is continuous in real m around an integer;
//! 8. enclosures nest across precisions (64 vs 1024 bits) and the f64/f32/decimal
//!    fields are the correct roundings.
//!
//! Snapshots: ψ at landmark angles and at landmark cosines, reviewed against an
//! independent mpmath computation (see `scripts/crosscheck_eval.py` and the comments
//! on the snapshot tests).

use asoftmax_spec::arith::{
    Approx, Ival, MAX_PREC, MIN_PREC, parse_exact, rational_from_f64, round_f32, round_f64,
};
use asoftmax_spec::multiangle::MAX_M;
use asoftmax_spec::psi::{
    dpsi_dcos, dpsi_dcos_exact, dpsi_dtheta, psi, psi_cos_exact, psi_cos_ival, psi_theta_ival,
};
use asoftmax_spec::{Angle, Error};
use proptest::prelude::*;
use rug::float::Constant;
use rug::{Float, Integer, Rational};
use std::cmp::Ordering;

mod common;
use common::*;

// ---------------------------------------------------------------------------
// Margins and adversarial inputs
// ---------------------------------------------------------------------------

/// A margin `m = num/den ≥ 1`, with its integer value when it is one.
#[derive(Clone, Debug)]
struct Margin {
    num: u32,
    den: u32,
}

impl Margin {
    fn int(m: u32) -> Margin {
        Margin { num: m, den: 1 }
    }
    fn q(&self) -> Rational {
        Rational::from((self.num, self.den))
    }
    fn as_int(&self) -> Option<u32> {
        (self.num % self.den == 0).then_some(self.num / self.den)
    }
    /// `⌈m⌉ − 1`, the last branch.
    fn kmax(&self) -> u32 {
        self.num.div_ceil(self.den) - 1
    }
    /// Branch points `kπ/m` in `[0, π]`: `k = 0..=⌊m⌋`.
    fn kmax_point(&self) -> u32 {
        self.num / self.den
    }
    fn f(&self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }
}

fn margin_strategy() -> impl Strategy<Value = Margin> {
    let real = |(num, den): (u32, u32)| {
        let g = gcd(num, den);
        Margin {
            num: num / g,
            den: den / g,
        }
    };
    prop_oneof![
        5 => (1u32..=16).prop_map(Margin::int),
        1 => prop::sample::select(vec![(17u32, 10u32), (5, 2), (3, 2), (11, 10), (399, 100), (401, 100), (31, 2)])
            .prop_map(real),
        1 => (1u32..=15, 1u32..=9).prop_map(move |(n, d)| real((10 * n + d, 10))),
    ]
}

fn int_margin_strategy() -> impl Strategy<Value = u32> {
    1u32..=16
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// A rational a little below π (within 2^−600), the largest angle the tests use
/// for "θ → π⁻".
fn pi_below() -> Rational {
    Float::with_val(REF_PREC, Constant::Pi)
        .to_rational()
        .unwrap()
        - Rational::from((1, Integer::from(1) << 600u32))
}

/// The branch point `kπ/m` as the 640-bit rounding (|error| ≤ 2^−630 for θ ≤ π).
fn branch_point(m: &Margin, k: u32) -> Rational {
    if k == 0 {
        Rational::new()
    } else {
        pi_times(k * m.den, m.num).to_rational().unwrap()
    }
}

/// Bound on |branch_point − kπ/m| (and on |cos_threshold − cos(jπ/m)|).
fn ref_err() -> Rational {
    Rational::from((1, Integer::from(1) << 630u32))
}

/// `cos(jπ/m)` exactly when rational (Niven: 0, ±1/2, ±1), else its 640-bit rounding.
fn cos_threshold(j: u32, m: u32) -> (Rational, bool) {
    let (j64, m64) = (u64::from(j), u64::from(m));
    let exact = if j == 0 {
        Some(Rational::from(1))
    } else if j == m {
        Some(Rational::from(-1))
    } else if 2 * j64 == m64 {
        Some(Rational::new())
    } else if 3 * j64 == m64 {
        Some(Rational::from((1, 2)))
    } else if 3 * j64 == 2 * m64 {
        Some(Rational::from((-1, 2)))
    } else {
        None
    };
    match exact {
        Some(t) => (t, true),
        None => (
            Float::with_val(REF_PREC, pi_times(j, m).cos())
                .to_rational()
                .unwrap(),
            false,
        ),
    }
}

/// Angles in `[0, π)` for margin `m`: near every `kπ/m` (both sides), tiny, f64, decimal.
fn adversarial_theta(m: &Margin) -> BoxedStrategy<Rational> {
    let mm = m.clone();
    let near_branch = (0..=m.kmax_point(), nudge_strategy()).prop_map(move |(k, n)| {
        let top = pi_below();
        let r = apply_nudge(&branch_point(&mm, k), &n, &Rational::new(), &top);
        if r > top { top } else { r }
    });
    let tiny = (1u32..=1100).prop_map(|e| Rational::from((1, Integer::from(1) << e)));
    let dyadic = (0.0f64..std::f64::consts::PI).prop_map(|x| rational_from_f64(x).unwrap());
    let decimal = (1u32..=9, 0.0f64..1.0).prop_map(|(d, u)| {
        let p = Integer::from(Integer::u_pow_u(10, d));
        let n = (u * 0.999_999 * std::f64::consts::PI * p.to_f64()).floor() as i64;
        Rational::from((n, p))
    });
    let special = prop::sample::select(vec![
        "0",
        "0.1",
        "1",
        "3",
        "3.14159",
        "0x1.921fb54442d18p+1",
    ])
    .prop_map(|s| parse_exact(s).unwrap());
    prop_oneof![4 => near_branch, 1 => tiny, 2 => dyadic, 2 => decimal, 1 => special].boxed()
}

/// Cosines in `[−1, 1]` for integer m: near every threshold `cos(jπ/m)` (including
/// the exact rational ones and ±1), near ±1 by `2^−e`, f64, decimal.
fn adversarial_cos(m: u32) -> BoxedStrategy<Rational> {
    let (one, minus_one) = (Rational::from(1), Rational::from(-1));
    let near_threshold = (0..=m, nudge_strategy())
        .prop_map(move |(j, n)| apply_nudge(&cos_threshold(j, m).0, &n, &minus_one, &one));
    let special = prop::sample::select(vec![
        "1",
        "-1",
        "0",
        "0.5",
        "-0.5",
        "0.1",
        "-0.1",
        "0.3",
        "0x1.fffffffffffffp-1",
        "-0x1.fffffffffffffp-1",
        "0x1p-1074",
        "0x1.8p-1",
    ])
    .prop_map(|s| parse_exact(s).unwrap());
    let near_one = (1u32..=300, any::<bool>()).prop_map(|(e, neg)| {
        let r = Rational::from(1) - Rational::from((1, Integer::from(1) << e));
        if neg { -r } else { r }
    });
    let dyadic = (-1.0f64..=1.0).prop_map(|x| rational_from_f64(x).unwrap());
    let decimal = (1u32..=12).prop_flat_map(|d| {
        let p = Integer::from(Integer::u_pow_u(10, d));
        let pi = p.to_i64().unwrap();
        (-pi..=pi).prop_map(move |n| Rational::from((n, p.clone())))
    });
    prop_oneof![4 => near_threshold, 2 => special, 2 => near_one, 2 => dyadic, 2 => decimal].boxed()
}

fn theta_of(m: Margin) -> impl Strategy<Value = (Margin, Rational)> {
    let s = adversarial_theta(&m);
    (Just(m), s)
}

// ---------------------------------------------------------------------------
// Interval helpers
// ---------------------------------------------------------------------------

fn qf(r: &Rational, prec: u32) -> Float {
    Float::with_val(prec, r)
}

fn pow2(e: i32) -> Float {
    Float::with_val(64, Float::i_exp(1, e))
}

/// `[x − r, x + r]` contains the whole enclosure.
fn within(e: &Ival, x: &Rational, r: &Float) -> bool {
    let p = e.prec().max(r.prec()) + 64;
    let lo = Float::with_val(p, qf(x, p) - r);
    let hi = Float::with_val(p, qf(x, p) + r);
    *e.lo() >= lo && *e.hi() <= hi
}

/// Raises the precision (64, 128, …, 8192) until `f(prec)` returns two enclosures
/// with every point of the first below every point of the second; returns that
/// precision, or `None` if it was never decided.
fn certify_less<F>(mut f: F) -> Option<u32>
where
    F: FnMut(u32) -> (Ival, Ival),
{
    let mut p = 64;
    while p <= 8192 {
        let (a, b) = f(p);
        if a.cmp_certain(&b) == Some(Ordering::Less) {
            return Some(p);
        }
        p *= 2;
    }
    None
}

fn psi_enc(m: &Rational, at: &Angle, prec: u32) -> Ival {
    psi(m, at, prec)
        .unwrap_or_else(|e| panic!("psi(m={m}, {at:?}, {prec}): {e}"))
        .enclosure()
        .clone()
}

/// Property 8 check: see tests/multiangle.rs; `hi` was computed at 1024 bits.
fn check_nested(what: &str, lo: &Approx, hi: &Approx) {
    let mid = hi.mid();
    let enc = lo.enclosure();
    assert!(
        enc.contains(&mid),
        "{what}: 1024-bit midpoint {mid} outside the 64-bit enclosure [{}, {}]",
        enc.lo(),
        enc.hi()
    );
    let (a, b) = (
        round_f64(hi.enclosure().lo()),
        round_f64(hi.enclosure().hi()),
    );
    assert!(
        a == b,
        "{what}: the 1024-bit enclosure does not pin the f64"
    );
    assert!(
        lo.f64() == a,
        "{what}: f64 {} is not the correct rounding {a}",
        lo.f64()
    );
    assert_eq!(hi.f64(), lo.f64(), "{what}: f64 differs between precisions");
    let (a32, b32) = (
        round_f32(hi.enclosure().lo()),
        round_f32(hi.enclosure().hi()),
    );
    assert!(
        a32 == b32,
        "{what}: the 1024-bit enclosure does not pin the f32"
    );
    assert!(lo.f32() == a32, "{what}: f32 {} is not {a32}", lo.f32());
    // The decimal: D digits, within one unit of its last digit of the value.
    let s = lo.decimal();
    if s == "0" {
        // "0" only for a proven (exact) zero.
        assert!(lo.is_exact() && mid.is_zero(), "{what}: \"0\" but {mid}");
        return;
    }
    let (mant, exp) = s.split_once('e').expect("scientific notation");
    let exp: i64 = exp.parse().unwrap();
    let nd = mant.chars().filter(char::is_ascii_digit).count();
    assert_eq!(
        nd,
        Approx::decimal_digits(lo.prec()),
        "{what}: digits of {s}"
    );
    let e = exp - (nd as i64 - 1);
    let p10 = Rational::from(Integer::from(Integer::u_pow_u(10, e.unsigned_abs() as u32)));
    let unit = if e >= 0 { p10 } else { p10.recip() };
    let err = Rational::from(&parse_exact(&s).unwrap() - &mid.to_rational().unwrap()).abs();
    assert!(
        err < unit,
        "{what}: decimal {s} is off by more than one unit (value {mid})"
    );
}

// ---------------------------------------------------------------------------
// 1. Continuity at the branch points
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Near θ = kπ/m: |ψ(θ) − (1 − 2k)| = 1 − cos(m·|θ − kπ/m|) ≤ m²t²/2 on *both*
    /// sides (left: branch k−1, right: branch k), t ≥ |θ − kπ/m|. The enclosure
    /// (256 bits) must lie in that band (plus its own rounding allowance).
    #[test]
    fn continuous_at_branch_points_theta(
        m in margin_strategy(),
        kf in 0.0f64..1.0,
        n in nudge_strategy(),
    ) {
        let k = ((kf * f64::from(m.kmax_point() + 1)) as u32).min(m.kmax_point());
        let b = branch_point(&m, k);
        let theta = apply_nudge(&b, &n, &Rational::new(), &pi_below());
        let theta = if theta > pi_below() { pi_below() } else { theta };
        let t = Rational::from(&theta - &b).abs() + ref_err();
        let mq = m.q();
        let band = Rational::from(&mq * &mq) * Rational::from(&t * &t) / 2u32;
        let centre = Rational::from(1 - 2 * i64::from(k));
        let prec = 256;
        let e = psi_enc(&mq, &Angle::Theta(theta.clone()), prec);
        let slack = Float::with_val(prec, qf(&band, prec) + pow2(-(prec as i32) + 8) * (2 * k + 1));
        prop_assert!(within(&e, &centre, &slack),
            "m={} k={} θ={}: ψ ∈ [{}, {}], expected within {} of {}",
            mq, k, Float::with_val(80, &theta), e.lo(), e.hi(), slack.to_f64(), centre);
    }

    /// Near c = cos(jπ/m), integer m: ψ′(c) = 0 there, so
    /// |ψ(c) − (1 − 2j)| ≤ L·s²/2 with L = max|ψ″| ≤ m²(m² − 1)/3 and s ≥ |c − cos(jπ/m)|.
    /// Exactly at the rational thresholds (s = 0), ψ = 1 − 2j exactly.
    #[test]
    fn continuous_at_thresholds_cos(
        m in 2u32..=16,
        jf in 0.0f64..1.0,
        n in nudge_strategy(),
    ) {
        let j = 1 + ((jf * f64::from(m - 1)) as u32).min(m - 2);
        let (t, exact) = cos_threshold(j, m);
        let c = apply_nudge(&t, &n, &Rational::from(-1), &Rational::from(1));
        let s = Rational::from(&c - &t).abs() + if exact { Rational::new() } else { ref_err() };
        let l = Rational::from(m * m * (m * m - 1)) / 3u32;
        let v = psi_cos_exact(m, &c).unwrap();
        let d = (&v - Rational::from(1 - 2 * i64::from(j))).abs();
        prop_assert!(d <= l * Rational::from(&s * &s) / 2u32, "m={} j={} c={}: ψ={}", m, j, &c, &v);
        // The oracle's enclosure agrees with the exact value.
        let a = psi(&Rational::from(m), &Angle::Cos(c.clone()), 128).unwrap();
        prop_assert!(a.enclosure().contains_rational(&v));
    }
}

// ---------------------------------------------------------------------------
// 2. Strictly decreasing in θ, increasing in c
// ---------------------------------------------------------------------------

/// A second angle above `theta` by a gap from tiny (1e−30, 2^−200, one f64 step)
/// to large; `None` if it would leave `[0, π)`.
fn above(theta: &Rational, gap: &Gap) -> Option<Rational> {
    let d = match gap {
        Gap::Tiny => parse_exact("1e-30").unwrap(),
        Gap::Pow2(e) => Rational::from((1, Integer::from(1) << *e)),
        Gap::F64Step => {
            let x = round_f64(&Float::with_val(REF_PREC, theta));
            let y = rational_from_f64(f64_step(x, 1)).unwrap();
            let d = Rational::from(&y - theta);
            if d > 0 {
                d
            } else {
                Rational::from((1, Integer::from(1) << 52u32))
            }
        }
        Gap::Frac(f) => rational_from_f64(*f).unwrap(),
    };
    let r = Rational::from(theta + &d);
    (r < pi_below()).then_some(r)
}

/// The same gap below `theta`; `None` if it would go below 0.
fn below(theta: &Rational, gap: &Gap) -> Option<Rational> {
    let d = match gap {
        Gap::Tiny => parse_exact("1e-30").unwrap(),
        Gap::Pow2(e) => Rational::from((1, Integer::from(1) << *e)),
        Gap::F64Step => Rational::from((1, Integer::from(1) << 52u32)),
        Gap::Frac(f) => rational_from_f64(*f).unwrap(),
    };
    let r = Rational::from(theta - &d);
    (r >= 0).then_some(r)
}

#[derive(Clone, Debug)]
enum Gap {
    Tiny,
    Pow2(u32),
    F64Step,
    Frac(f64),
}

fn gap_strategy() -> impl Strategy<Value = Gap> {
    prop_oneof![
        Just(Gap::Tiny),
        (30u32..=200).prop_map(Gap::Pow2),
        Just(Gap::F64Step),
        (1e-6f64..1.0).prop_map(Gap::Frac),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// θ1 < θ2 ⇒ the enclosures certify ψ(θ2) < ψ(θ1) (at some precision ≤ 8192).
    #[test]
    fn strictly_decreasing_in_theta(
        (m, theta) in margin_strategy().prop_flat_map(theta_of),
        gap in gap_strategy(),
    ) {
        let (t1, t2) = match above(&theta, &gap) {
            Some(t2) => (theta.clone(), t2),
            None => match below(&theta, &gap) {
                Some(t1) => (t1, theta.clone()),
                None => return Ok(()),
            },
        };
        prop_assume!(t1 < t2);
        let mq = m.q();
        let p = certify_less(|p| {
            (psi_enc(&mq, &Angle::Theta(t2.clone()), p), psi_enc(&mq, &Angle::Theta(t1.clone()), p))
        });
        prop_assert!(p.is_some(), "m={} θ1={} θ2={}: not certified", mq,
            Float::with_val(80, &t1), Float::with_val(80, &t2));
    }

    /// Pairs straddling a branch point: kπ/m − δ1 < kπ/m + δ2 with δ's down to 1e−30.
    #[test]
    fn strictly_decreasing_across_branch_points(
        m in margin_strategy(),
        kf in 0.0f64..1.0,
        e1 in prop::sample::select(vec![0u32, 60, 100, 200]),
        e2 in prop::sample::select(vec![0u32, 60, 100, 200]),
    ) {
        let k = 1 + ((kf * f64::from(m.kmax_point())) as u32).min(m.kmax_point().saturating_sub(1));
        let b = branch_point(&m, k);
        let d = |e: u32| if e == 0 { parse_exact("1e-30").unwrap() } else { Rational::from((1, Integer::from(1) << e)) };
        let t1 = &b - d(e1);
        let t2 = &b + d(e2);
        prop_assume!(t2 < pi_below());
        let mq = m.q();
        let p = certify_less(|p| {
            (psi_enc(&mq, &Angle::Theta(t2.clone()), p), psi_enc(&mq, &Angle::Theta(t1.clone()), p))
        });
        prop_assert!(p.is_some(), "m={} k={}: not certified", mq, k);
    }

    /// c1 < c2 ⇒ ψ(c1) < ψ(c2): exactly (rationals) for integer m, by enclosures for
    /// real m (through acos). Gaps down to 2^−200 and straddling the thresholds.
    #[test]
    fn strictly_increasing_in_cos(
        m in margin_strategy(),
        c in adversarial_cos(8),
        gap in prop_oneof![(20u32..=200).prop_map(|e| Rational::from((1, Integer::from(1) << e))),
                            (1e-6f64..1.0).prop_map(|f| rational_from_f64(f).unwrap())],
    ) {
        let (c1, c2) = if Rational::from(&c + &gap) <= 1 {
            (c.clone(), Rational::from(&c + &gap))
        } else {
            (Rational::from(&c - &gap), c.clone())
        };
        prop_assume!(c1 >= -1);
        let mq = m.q();
        if let Some(mi) = m.as_int() {
            let (a, b) = (psi_cos_exact(mi, &c1).unwrap(), psi_cos_exact(mi, &c2).unwrap());
            prop_assert!(a < b, "m={} c1={} c2={}: {} !< {}", mi, &c1, &c2, &a, &b);
        }
        let p = certify_less(|p| {
            (psi_enc(&mq, &Angle::Cos(c1.clone()), p), psi_enc(&mq, &Angle::Cos(c2.clone()), p))
        });
        prop_assert!(p.is_some(), "m={} c1={} c2={}: not certified", mq, &c1, &c2);
    }
}

/// The rational thresholds of m = 3 (c = ±1/2) and of even m (c = 0), approached
/// from both sides by 2^−200 and 1e−30: strictly increasing through them, exactly.
#[test]
fn strictly_increasing_through_rational_thresholds() {
    let tiny = [
        Rational::from((1, Integer::from(1) << 200u32)),
        parse_exact("1e-30").unwrap(),
    ];
    for (m, t) in [
        (3u32, "0.5"),
        (3, "-0.5"),
        (2, "0"),
        (4, "0"),
        (6, "0.5"),
        (6, "0"),
        (6, "-0.5"),
        (12, "0"),
    ] {
        let t = parse_exact(t).unwrap();
        for d in &tiny {
            let below = Rational::from(&t - d);
            let above = Rational::from(&t + d);
            let (a, b, c) = (
                psi_cos_exact(m, &below).unwrap(),
                psi_cos_exact(m, &t).unwrap(),
                psi_cos_exact(m, &above).unwrap(),
            );
            assert!(a < b && b < c, "m={m} t={t}: {a} < {b} < {c} fails");
        }
    }
}

// ---------------------------------------------------------------------------
// 3. Range
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Integer m: every enclosure (θ- and c-form) lies inside [1 − 2m, 1], and so do
    /// f64/f32. Real m: the range is [ψ(π), 1] with ψ(π) = (−1)^k cos(mπ) − 2k,
    /// k = ⌈m⌉ − 1 (not 1 − 2m: e.g. ψ(π) = −2.5878 < −2.4 for m = 1.7); the
    /// enclosure must meet that range.
    #[test]
    fn range(
        (m, theta) in margin_strategy().prop_flat_map(theta_of),
        c in adversarial_cos(16),
    ) {
        let mq = m.q();
        for at in [Angle::Theta(theta.clone()), Angle::Cos(c.clone())] {
            let a = psi(&mq, &at, 64).unwrap();
            let e = a.enclosure();
            match m.as_int() {
                Some(mi) => {
                    let bottom = 1 - 2 * i64::from(mi);
                    prop_assert!(*e.lo() >= bottom && *e.hi() <= 1, "m={} {:?}: [{}, {}]", mi, at, e.lo(), e.hi());
                    prop_assert!(a.f64() >= bottom as f64 && a.f64() <= 1.0);
                    prop_assert!(f64::from(a.f32()) >= bottom as f64 && a.f32() <= 1.0);
                }
                None => {
                    let wp = 256;
                    let k = m.kmax();
                    let mpi = Ival::pi(wp).mul(&Ival::from_rational(&mq, wp));
                    let cos_mpi = mpi.cos();
                    let signed = if k % 2 == 0 { cos_mpi } else { cos_mpi.neg() };
                    let psi_pi = signed.sub(&Ival::from_integer(&Integer::from(2 * k), wp));
                    prop_assert!(e.hi() >= psi_pi.lo() && *e.lo() <= 1, "m={} {:?}: [{}, {}] vs ψ(π) ∈ [{}, {}]",
                        mq, at, e.lo(), e.hi(), psi_pi.lo(), psi_pi.hi());
                    prop_assert!(*e.hi() >= -(2 * i64::from(k) + 1));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 4. ψ ≤ cos θ
// ---------------------------------------------------------------------------

// Why this is what must hold: on [0, π/m], mθ ∈ [0, π] and mθ ≥ θ, and cos is
// decreasing on [0, π], so cos(mθ) ≤ cos θ with equality iff mθ = θ, i.e. θ = 0 or
// m = 1. For θ > π/m, ψ is decreasing and ψ(π/m) = −1, so ψ(θ) < −1 ≤ cos θ. Hence
// for m > 1: ψ(θ) < cos θ on (0, π] and ψ(0) = cos 0 = 1; for m = 1, ψ ≡ cos.
// (This holds for real m ≥ 1 as well; note m = 1 has the single branch k = 0.)

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn psi_below_cos_theta(
        (m, theta) in margin_strategy().prop_flat_map(theta_of),
    ) {
        let mq = m.q();
        let at = Angle::Theta(theta.clone());
        if theta == 0 {
            let a = psi(&mq, &at, 64).unwrap();
            prop_assert!(a.is_exact() && a.f64() == 1.0, "ψ(0) must be exactly 1");
        } else if m.as_int() == Some(1) {
            let e = psi_enc(&mq, &at, 256);
            let c = Ival::from_rational(&theta, 256).cos();
            prop_assert!(overlaps(&e, &c));
            let a = psi(&mq, &at, 64).unwrap();
            let b = asoftmax_spec::multiangle::cos_m(1, &at, 64).unwrap();
            prop_assert_eq!(a.f64().to_bits(), b.f64().to_bits());
        } else {
            let p = certify_less(|p| (psi_enc(&mq, &at, p), Ival::from_rational(&theta, p + 16).cos()));
            prop_assert!(p.is_some(), "m={} θ={}: ψ < cos θ not certified", mq, Float::with_val(80, &theta));
        }
    }

    /// The same in the c-form: ψ(c) ≤ c, equality only at c = 1 (for m > 1), exactly
    /// for integer m; ψ(c) = c for every c when m = 1.
    #[test]
    fn psi_below_cos_c_form(
        m in margin_strategy(),
        c in adversarial_cos(12),
    ) {
        let mq = m.q();
        if let Some(mi) = m.as_int() {
            let v = psi_cos_exact(mi, &c).unwrap();
            if mi == 1 || c == 1 {
                prop_assert_eq!(&v, &c);
            } else {
                prop_assert!(v < c, "m={} c={}: ψ={}", mi, &c, &v);
            }
        } else if c == 1 {
            let a = psi(&mq, &Angle::Cos(c.clone()), 64).unwrap();
            prop_assert!(a.is_exact() && a.f64() == 1.0);
        } else {
            let p = certify_less(|p| (psi_enc(&mq, &Angle::Cos(c.clone()), p), Ival::from_rational(&c, p)));
            prop_assert!(p.is_some(), "m={} c={}: ψ < c not certified", mq, &c);
        }
    }
}

// ---------------------------------------------------------------------------
// 5. C¹ at the branch points, signs of the derivatives
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// |dψ/dθ(θ)| = m·|sin(m(θ − kπ/m))| ≤ m²·|θ − kπ/m| on both sides of kπ/m, so
    /// dψ/dθ → 0 there; and dψ/dθ < 0 on (0, π) away from the branch points, which a
    /// rational θ > 0 never hits, so the sign must be certified (at some precision).
    #[test]
    fn dpsi_dtheta_vanishes_at_branch_points(
        m in margin_strategy(),
        kf in 0.0f64..1.0,
        n in nudge_strategy(),
    ) {
        let k = ((kf * f64::from(m.kmax_point() + 1)) as u32).min(m.kmax_point());
        let b = branch_point(&m, k);
        let theta = apply_nudge(&b, &n, &Rational::new(), &pi_below());
        let theta = if theta > pi_below() { pi_below() } else { theta };
        let t = Rational::from(&theta - &b).abs() + ref_err();
        let mq = m.q();
        let at = Angle::Theta(theta.clone());
        let prec = 128;
        let a = dpsi_dtheta(&mq, &at, prec).unwrap();
        let bound = Float::with_val(prec, qf(&(Rational::from(&mq * &mq) * &t), prec) * (1.0 + 1e-12))
            + pow2(-(prec as i32) + 8) * m.f();
        prop_assert!(within(a.enclosure(), &Rational::new(), &bound),
            "m={} k={} θ−kπ/m≈{}: dψ/dθ ∈ [{}, {}]", mq, k, Float::with_val(60, &Rational::from(&theta - &b)),
            a.enclosure().lo(), a.enclosure().hi());
        if theta == 0 {
            prop_assert!(a.is_exact() && a.f64() == 0.0);
        } else {
            let zero = Ival::point(Float::new(64));
            let p = certify_less(|p| (dpsi_dtheta(&mq, &at, p).unwrap().enclosure().clone(), zero.clone()));
            prop_assert!(p.is_some(), "dψ/dθ < 0 not certified");
        }
    }

    /// dψ/dc = (−1)^k m U_{m−1}(c): ≥ 0 everywhere (ψ increasing in c), = m² at c = ±1
    /// (no 1/sin θ singularity), |dψ/dc| ≤ L·|c − cos(jπ/m)| near a threshold, and
    /// dψ/dθ = −sin θ · dψ/dc (checked with sin θ = √(1 − c²) in intervals).
    #[test]
    fn dpsi_dcos_properties(
        (m, c) in int_margin_strategy().prop_flat_map(|m| (Just(m), adversarial_cos(m))),
    ) {
        let d = dpsi_dcos_exact(m, &c).unwrap();
        prop_assert!(d >= 0, "m={} c={}: dψ/dc = {}", m, &c, &d);
        if c == 1 || c == -1 {
            prop_assert_eq!(&d, &Rational::from(m * m));
        }
        // Nearest threshold (j = 1..m−1): |dψ/dc| ≤ L·s.
        let l = Rational::from(m * m * (m * m - 1)) / 3u32 + 1u32;
        for j in 1..m {
            let (t, exact) = cos_threshold(j, m);
            let s = Rational::from(&c - &t).abs() + if exact { Rational::new() } else { ref_err() };
            prop_assert!(d <= Rational::from(&l * &s), "m={} c={} j={}", m, &c, j);
        }
        let a = dpsi_dcos(m, &Angle::Cos(c.clone()), 64).unwrap();
        prop_assert!(a.enclosure().contains_rational(&d));
        // dψ/dθ = −sin θ·dψ/dc.
        let wp = 256;
        let s = Ival::from_rational(&(Rational::from(1) - Rational::from(c.square_ref())), wp).sqrt().unwrap();
        let want = s.mul(&Ival::from_rational(&d, wp)).neg();
        let got = dpsi_dtheta(&Rational::from(m), &Angle::Cos(c.clone()), 128).unwrap();
        prop_assert!(overlaps(&want, got.enclosure()));
    }

    /// The same relation in the θ-form: dpsi_dtheta(θ) and −sin θ·dpsi_dcos(θ) overlap.
    #[test]
    fn dpsi_dtheta_is_minus_sin_times_dpsi_dcos(
        (m, theta) in int_margin_strategy().prop_flat_map(|m| theta_of(Margin::int(m))),
    ) {
        let at = Angle::Theta(theta.clone());
        let dt = dpsi_dtheta(&Rational::from(m.num), &at, 128).unwrap();
        let dc = dpsi_dcos(m.num, &at, 128).unwrap();
        let s = Ival::from_rational(&theta, 300).sin();
        let want = s.mul(dc.enclosure()).neg();
        prop_assert!(overlaps(&want, dt.enclosure()), "m={} θ={}", m.num, &theta);
    }
}

/// dψ/dc vanishes *exactly* at the rational thresholds (0 for even m, ±1/2 for
/// 3 | m), and so does dψ/dθ there; at θ = 0 dψ/dθ is exactly 0.
#[test]
fn derivatives_vanish_exactly_at_rational_thresholds() {
    for m in 2..=24u32 {
        let mut ts = vec![];
        if m % 2 == 0 {
            ts.push(Rational::new());
        }
        if m % 3 == 0 {
            ts.push(Rational::from((1, 2)));
            ts.push(Rational::from((-1, 2)));
        }
        for t in ts {
            let at = Angle::Cos(t.clone());
            let a = dpsi_dcos(m, &at, 64).unwrap();
            assert!(
                a.is_exact() && a.f64() == 0.0 && a.decimal() == "0",
                "dψ/dc m={m} c={t}"
            );
            let b = dpsi_dtheta(&Rational::from(m), &at, 64).unwrap();
            assert!(b.is_exact() && b.f64() == 0.0, "dψ/dθ m={m} c={t}");
        }
    }
    for m in ["1", "2", "1.7", "16"] {
        let a = dpsi_dtheta(&parse_exact(m).unwrap(), &Angle::Theta(Rational::new()), 64).unwrap();
        assert!(a.is_exact() && a.f64() == 0.0, "m = {m}");
        let mq = parse_exact(m).unwrap();
        if *mq.denom() == 1 {
            for c in ["1", "-1"] {
                let a = dpsi_dtheta(&mq, &Angle::Cos(parse_exact(c).unwrap()), 64).unwrap();
                assert!(a.is_exact() && a.f64() == 0.0, "dψ/dθ at c = {c}, m = {m}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 6. θ-form and c-form agree
// ---------------------------------------------------------------------------

// Why these comparisons are sound. ψ is one function of θ ∈ [0, π]; the c-form is
// ψ(acos c). For a rational c, acos c is irrational (except c = 1), so the θ-form
// can never be evaluated at *exactly* the same point. Three sound comparisons:
//
// (a) Containment. `Ival::acos` of an enclosure of c is an interval Θ ∋ acos c, and
//     `psi_theta_ival(m, Θ)` encloses ψ over all of Θ, hence ψ(acos c). The exact
//     c-form value (integer m) must therefore lie inside it. Tightness: ψ is
//     m-Lipschitz in θ, so the width is at most m·width(Θ) plus rounding.
// (b) Lipschitz. For a rational θ̃ near acos c, |ψ(acos c) − ψ(θ̃)| ≤ m·|acos c − θ̃|
//     (|dψ/dθ| ≤ m). With D an upper bound of |acos c − θ̃| from intervals, the
//     c-form enclosure inflated by m·D must meet the θ-form enclosure at θ̃. This
//     works for real m too, whose c-form goes through acos inside the oracle.
// (c) Reverse containment (integer m). `psi_cos_ival` over an enclosure of cos θ
//     contains ψ(θ), so it must meet the θ-form enclosure at θ.
//
// Continuity in m: on branch k, ∂ψ/∂m = −(−1)^k θ sin(mθ), |∂ψ/∂m| ≤ θ ≤ π, and ψ is
// continuous across the branch changes in m (both sides give 1 − 2k at mθ = kπ),
// so |ψ_{n±ε}(θ) − ψ_n(θ)| ≤ π·ε. The real-m route (m = n ± 2^−e, through acos for
// a c input) must agree with the exact integer route within π·ε.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// (a) and (b) for a c input.
    #[test]
    fn theta_and_cos_forms_agree(
        m in margin_strategy(),
        c in adversarial_cos(8),
    ) {
        let mq = m.q();
        let wp = 256;
        let theta_iv = Ival::from_rational(&c, wp).acos().unwrap();
        if let Some(mi) = m.as_int() {
            // (a)
            let exact = psi_cos_exact(mi, &c).unwrap();
            let e = psi_theta_ival(&mq, &theta_iv).unwrap();
            prop_assert!(e.contains_rational(&exact), "m={} c={}: {} ∉ [{}, {}]", mi, &c,
                Float::with_val(100, &exact), e.lo(), e.hi());
            let allowed = Float::with_val(wp, theta_iv.width() * m.f()) + pow2(-(wp as i32) + 8) * (2 * mi + 1);
            prop_assert!(e.width() <= allowed, "m={} c={}: width {} > {}", mi, &c, e.width(), allowed);
        }
        // (b): θ̃ = a rational inside Θ (its lower end), D = width(Θ) bounds |acos c − θ̃|.
        let theta_t = theta_iv.lo().to_rational().unwrap();
        let theta_t = if theta_t >= pi_below() { pi_below() } else { theta_t };
        let d = Ival::from_rational(&theta_t, wp).sub(&theta_iv).mag();
        let ec = psi_enc(&mq, &Angle::Cos(c.clone()), 128);
        let et = psi_enc(&mq, &Angle::Theta(theta_t.clone()), 128);
        let r = Float::with_val(wp, d * m.f() * (1.0 + 1e-9));
        prop_assert!(overlaps(&ec.inflate(&r), &et), "m={} c={}: c-form [{}, {}] vs θ-form [{}, {}] ± {}",
            mq, &c, ec.lo(), ec.hi(), et.lo(), et.hi(), r);
    }

    /// (c) for a θ input, integer m.
    #[test]
    fn cos_form_contains_theta_form(
        (m, theta) in int_margin_strategy().prop_flat_map(|m| theta_of(Margin::int(m))),
    ) {
        let wp = 256;
        let c_iv = Ival::from_rational(&theta, wp).cos();
        let e = psi_cos_ival(m.num, &c_iv).unwrap();
        let et = psi_enc(&m.q(), &Angle::Theta(theta.clone()), 128);
        prop_assert!(overlaps(&e, &et), "m={} θ={}: [{}, {}] vs [{}, {}]", m.num, &theta, e.lo(), e.hi(), et.lo(), et.hi());
    }

    /// Continuity in m around an integer: the real-m route at n ± 2^−e vs the exact
    /// integer route, for c inputs (acos route) and θ inputs.
    #[test]
    fn continuous_in_m_around_integers(
        (n, c) in (1u32..=12).prop_flat_map(|n| (Just(n), adversarial_cos(n))),
        theta in adversarial_theta(&Margin::int(6)),
        e in 20u32..=200,
        up in any::<bool>(),
    ) {
        let eps = Rational::from((1, Integer::from(1) << e));
        let m_real = if up || n == 1 { Rational::from(n) + &eps } else { Rational::from(n) - &eps };
        let r = Float::with_val(256, qf(&eps, 256) * 4u32); // π·ε ≤ 4ε
        for at in [Angle::Cos(c.clone()), Angle::Theta(theta.clone())] {
            let ei = psi_enc(&Rational::from(n), &at, 256);
            let er = psi_enc(&m_real, &at, 256);
            prop_assert!(overlaps(&er.inflate(&r), &ei), "n={} m={} {:?}: [{}, {}] vs [{}, {}]",
                n, Float::with_val(64, &m_real), at, er.lo(), er.hi(), ei.lo(), ei.hi());
        }
    }
}

// ---------------------------------------------------------------------------
// 8. Enclosures nest across precisions
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn enclosures_nest_theta_form(
        (m, theta) in margin_strategy().prop_flat_map(theta_of),
    ) {
        let mq = m.q();
        let at = Angle::Theta(theta.clone());
        let what = |op: &str| format!("{op} m={mq} θ={theta}");
        check_nested(&what("psi"), &psi(&mq, &at, 64).unwrap(), &psi(&mq, &at, 1024).unwrap());
        check_nested(&what("dpsi_dtheta"), &dpsi_dtheta(&mq, &at, 64).unwrap(), &dpsi_dtheta(&mq, &at, 1024).unwrap());
        if let Some(mi) = m.as_int() {
            check_nested(&what("dpsi_dcos"), &dpsi_dcos(mi, &at, 64).unwrap(), &dpsi_dcos(mi, &at, 1024).unwrap());
        }
    }

    #[test]
    fn enclosures_nest_cos_form(
        m in margin_strategy(),
        c in adversarial_cos(8),
    ) {
        let mq = m.q();
        let at = Angle::Cos(c.clone());
        let what = |op: &str| format!("{op} m={mq} c={c}");
        check_nested(&what("psi"), &psi(&mq, &at, 64).unwrap(), &psi(&mq, &at, 1024).unwrap());
        check_nested(&what("dpsi_dtheta"), &dpsi_dtheta(&mq, &at, 64).unwrap(), &dpsi_dtheta(&mq, &at, 1024).unwrap());
        if let Some(mi) = m.as_int() {
            check_nested(&what("dpsi_dcos"), &dpsi_dcos(mi, &at, 64).unwrap(), &dpsi_dcos(mi, &at, 1024).unwrap());
        }
    }
}

// ---------------------------------------------------------------------------
// Deterministic: extremes and errors
// ---------------------------------------------------------------------------

/// prec 65536 and m = 1024 in every form; m = MAX_M at cheap inputs.
#[test]
fn large_precision_and_margin() {
    let m = Rational::from(1024);
    let c = parse_exact("0.1").unwrap();
    let a = psi(&m, &Angle::Cos(c.clone()), 65536).unwrap();
    assert!(
        a.enclosure()
            .contains_rational(&psi_cos_exact(1024, &c).unwrap())
    );
    let theta = Rational::from((1, 3));
    let b = psi(&m, &Angle::Theta(theta.clone()), 65536).unwrap();
    // ⌊1024/(3π)⌋ = 108: ψ = cos(1024/3) − 216.
    let want = Ival::from_rational(&Rational::from((1024, 3)), 70000)
        .cos()
        .sub(&Ival::from_integer(&Integer::from(216), 70000));
    assert!(overlaps(&want, b.enclosure()));
    assert!(dpsi_dcos(1024, &Angle::Cos(c.clone()), 65536).is_ok());
    assert!(dpsi_dtheta(&m, &Angle::Theta(theta), 65536).is_ok());
    assert!(dpsi_dtheta(&m, &Angle::Cos(c), 65536).is_ok());
    let mm = Rational::from(MAX_M);
    assert_eq!(
        psi(&mm, &Angle::Cos(Rational::from(-1)), 64).unwrap().f64(),
        1.0 - 2.0 * f64::from(MAX_M)
    );
    assert_eq!(
        psi(&mm, &Angle::Cos(Rational::from(1)), 64).unwrap().f64(),
        1.0
    );
    // c = 0 is the threshold j = m/2: ψ = 1 − 2·(m/2) = 1 − m.
    assert_eq!(
        psi(&mm, &Angle::Cos(Rational::new()), 64).unwrap().f64(),
        1.0 - f64::from(MAX_M)
    );
    assert!(psi(&mm, &Angle::Theta(Rational::from((1, 3))), 64).is_ok());
    // Just below π: the last branch, ψ ≈ 1 − 2m.
    let near_pi = parse_exact("3.14159265358979323846264338327950288").unwrap();
    let a = psi(&Rational::from(4), &Angle::Theta(near_pi), 128).unwrap();
    assert_eq!(a.f64(), -7.0);
}

/// Out-of-range arguments give a typed `Error` naming the argument, never a panic.
#[test]
fn errors_are_typed() {
    let half = Angle::Cos(Rational::from((1, 2)));
    let arg_of = |r: Result<Approx, Error>| match r {
        Err(Error::Domain { arg, .. }) => arg,
        other => panic!("expected a domain error, got {other:?}"),
    };
    for m in [
        "0",
        "0.5",
        "0.999999999999",
        "-1",
        "65537",
        "65536.5",
        "1e30",
    ] {
        let mq = parse_exact(m).unwrap();
        assert_eq!(arg_of(psi(&mq, &half, 64)), "m", "psi m = {m}");
        assert_eq!(
            arg_of(psi(&mq, &Angle::Theta(Rational::from(1)), 64)),
            "m",
            "m = {m}"
        );
        assert_eq!(
            arg_of(dpsi_dtheta(&mq, &half, 64)),
            "m",
            "dpsi_dtheta m = {m}"
        );
    }
    for m in [0u32, MAX_M + 1, u32::MAX] {
        assert_eq!(arg_of(dpsi_dcos(m, &half, 64)), "m", "dpsi_dcos m = {m}");
    }
    for c in [
        "1.0000000001",
        "0x1.0000000000001p+0",
        "-1.000000000000000000000000000001",
        "2",
    ] {
        let at = Angle::Cos(parse_exact(c).unwrap());
        for m in ["1", "4", "1.7"] {
            let mq = parse_exact(m).unwrap();
            assert_eq!(arg_of(psi(&mq, &at, 64)), "cos", "psi c = {c} m = {m}");
            assert_eq!(
                arg_of(dpsi_dtheta(&mq, &at, 64)),
                "cos",
                "dpsi_dtheta c = {c} m = {m}"
            );
        }
        assert_eq!(arg_of(dpsi_dcos(4, &at, 64)), "cos", "dpsi_dcos c = {c}");
    }
    for t in [
        "3.1416",
        "3.14159265358979323846264338327950289",
        "-1e-30",
        "4",
        "1e10",
    ] {
        let at = Angle::Theta(parse_exact(t).unwrap());
        for m in ["1", "4", "1.7"] {
            let mq = parse_exact(m).unwrap();
            assert_eq!(arg_of(psi(&mq, &at, 64)), "theta", "psi θ = {t} m = {m}");
            assert_eq!(
                arg_of(dpsi_dtheta(&mq, &at, 64)),
                "theta",
                "dpsi_dtheta θ = {t}"
            );
        }
        assert_eq!(arg_of(dpsi_dcos(4, &at, 64)), "theta", "dpsi_dcos θ = {t}");
    }
    for prec in [0, MIN_PREC - 1, MAX_PREC + 1, u32::MAX] {
        for at in [half.clone(), Angle::Theta(Rational::from(1))] {
            for r in [
                psi(&Rational::from(4), &at, prec),
                psi(&Rational::from((17, 10)), &at, prec),
                dpsi_dcos(4, &at, prec),
                dpsi_dtheta(&Rational::from(4), &at, prec),
            ] {
                assert!(
                    matches!(r, Err(Error::Precision { .. })),
                    "prec {prec}: {r:?}"
                );
            }
        }
    }
}

/// Inputs too large for the exact rational route (m · bits(c) beyond the oracle's
/// budget of 2^22, here 1024 · ~2^14.1) are evaluated as `cos(m·acos c)` over
/// intervals. The result must still agree with `(−1)^k T_m(c) − 2k`, including next to
/// a threshold (the branch decision) and next to ±1 (acos is steep there). The
/// reference is independent of that route: the recurrence for `T_m` and `m·U_{m−1}`
/// over intervals at 4096 bits (it loses ≈ 1.27·m bits, leaving ~2800), with `k` from
/// `psi::branch_from_cos`. Both enclosures contain the value, so they must overlap,
/// and the oracle's f64 must be the rounding of the whole reference interval.
#[test]
fn large_inputs_agree_with_the_recurrence() {
    let m = 1024u32;
    let b = (1u32 << 13) + 512;
    let wp = 4096;
    let near = |x: Float| Float::with_val(b, x).to_rational().unwrap();
    let eps = Rational::from((1, Integer::from(1) << b));
    let thr = near((Float::with_val(b + 64, Constant::Pi) / m).cos());
    let inputs = [
        ("cos(π/m) to b bits", thr.clone()),
        ("cos(π/m) − 2^−b", Rational::from(&thr - &eps)),
        (
            "1 − 2^−(b/2) − 2^−b",
            Rational::from(1) - &eps - Rational::from((1, Integer::from(1) << (b / 2))),
        ),
        (
            "−1 + 3·2^−b",
            Rational::from(-1) + Rational::from(&eps * 3u32),
        ),
        (
            "0.3 to b bits",
            near(Float::with_val(b, Float::parse("0.3").unwrap())),
        ),
    ];
    let mut bad = vec![];
    for (what, c) in inputs {
        // Beyond the exact route's budget: m·(bits of numerator + denominator) > 2^22.
        let size = c.numer().significant_bits() + c.denom().significant_bits() + 1;
        assert!(
            u64::from(m) * u64::from(size) > asoftmax_spec::psi::EXACT_ROUTE_MAX_BITS,
            "{what}: only {size} bits"
        );
        let k = asoftmax_spec::psi::branch_from_cos(m, &c).unwrap();
        let ci = Ival::from_rational(&c, wp);
        let sign = |x: Ival| if k % 2 == 0 { x } else { x.neg() };
        let t = sign(asoftmax_spec::multiangle::cos_m_recurrence(m, &ci))
            .sub(&Ival::from_integer(&Integer::from(2 * k), wp));
        let tight = pow2(-2000);
        assert!(t.width() < tight, "{what}: reference too wide");
        let a = psi(&Rational::from(m), &Angle::Cos(c.clone()), 64).unwrap();
        let (r0, r1) = (round_f64(t.lo()), round_f64(t.hi()));
        if !overlaps(a.enclosure(), &t) || (r0 == r1 && a.f64() != r0) {
            bad.push(format!(
                "psi at {what}: [{}, {}] vs [{}, {}]",
                a.enclosure().lo(),
                a.enclosure().hi(),
                Float::with_val(80, t.lo()),
                Float::with_val(80, t.hi())
            ));
        }
        let d = sign(asoftmax_spec::multiangle::dcos_m_dcos(m, &ci));
        let a = dpsi_dcos(m, &Angle::Cos(c.clone()), 64).unwrap();
        if !overlaps(a.enclosure(), &d) {
            bad.push(format!(
                "dpsi_dcos at {what}: [{}, {}] vs [{}, {}]",
                a.enclosure().lo(),
                a.enclosure().hi(),
                Float::with_val(80, d.lo()),
                Float::with_val(80, d.hi())
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// A real margin can have an exact zero that no enclosure proves: m = 3/2 at c = 1/2
/// (θ = π/3, mθ = π/2) gives ψ = cos(π/2) = 0, and at c = −1/2 (mθ = π, a branch
/// point) dψ/dθ = 0. The oracle must report them as zero with an absolute bound,
/// not spin or fail.
#[test]
fn real_margin_zeros_are_proven_exact() {
    let m = Rational::from((3, 2));
    for (what, a) in [
        (
            "psi(1.5, c = 1/2)",
            psi(&m, &Angle::Cos(Rational::from((1, 2))), 64).unwrap(),
        ),
        (
            "dpsi_dtheta(1.5, c = -1/2)",
            dpsi_dtheta(&m, &Angle::Cos(Rational::from((-1, 2))), 64).unwrap(),
        ),
    ] {
        // cos(3θ/2) = 0 at θ = π/3 and sin(3θ/2) = 0 at θ = 2π/3: proven by
        // T_2(cos(mθ)) = T_3(c) exactly, with the enclosure isolating the root.
        assert!(a.is_exact(), "{what}: expected an exact zero");
        assert_eq!(a.decimal(), "0", "{what}");
        assert_eq!(a.f64().to_bits(), 0, "{what}: +0");
        assert_eq!(a.f32().to_bits(), 0, "{what}: +0");
    }
}

/// BUG (reported): an exact mathematical zero must come out as +0, the rounding of
/// the real number 0, as every other exact zero of the oracle does (T_5(0), ψ(0) for
/// m = 1, dψ/dc at the rational thresholds). dψ/dθ computes `−(s·u)` and MPFR's
/// negation of +0 is −0, so `f64`/`f32` are −0 here (eval prints "-0x0p+0").
/// Fix: in `arith::round::round_to`, return `0.0` (not `x.to_f64()`) for a zero `x`.
#[test]
fn exact_zeros_are_positive_zero() {
    let mut cases: Vec<(String, Approx)> = vec![];
    for m in ["1", "2", "3", "4", "6"] {
        let mq = parse_exact(m).unwrap();
        for c in ["1", "-1"] {
            let a = dpsi_dtheta(&mq, &Angle::Cos(parse_exact(c).unwrap()), 64).unwrap();
            cases.push((format!("dpsi_dtheta m={m} c={c}"), a));
        }
        let a = dpsi_dtheta(&mq, &Angle::Theta(Rational::new()), 64).unwrap();
        cases.push((format!("dpsi_dtheta m={m} θ=0"), a));
    }
    for (m, c) in [(2u32, "0"), (3, "0.5"), (3, "-0.5"), (4, "0"), (6, "0.5")] {
        let at = Angle::Cos(parse_exact(c).unwrap());
        cases.push((
            format!("dpsi_dtheta m={m} c={c}"),
            dpsi_dtheta(&Rational::from(m), &at, 64).unwrap(),
        ));
        cases.push((
            format!("dpsi_dcos m={m} c={c}"),
            dpsi_dcos(m, &at, 64).unwrap(),
        ));
    }
    cases.push((
        "psi m=1 c=0".into(),
        psi(&Rational::from(1), &Angle::Cos(Rational::new()), 64).unwrap(),
    ));
    let bad: Vec<&str> = cases
        .iter()
        .filter(|(_, a)| {
            assert!(a.is_exact() && a.f64() == 0.0);
            a.f64().to_bits() != 0 || a.f32().to_bits() != 0
        })
        .map(|(w, _)| w.as_str())
        .collect();
    assert!(bad.is_empty(), "exact zeros reported as -0: {bad:?}");
}

/// BUG (reported): `psi_theta_ival` encloses ψ over an interval of angles by
/// `[ψ(θ_hi), ψ(θ_lo)]`, which assumes the interval lies in [0, π]. Past π the last
/// branch's formula rises again (integer m), and below 0 cos(mθ) < 1, so an interval
/// reaching past either end misses ψ(π) = 1 − 2m, resp. ψ(0) = 1. (`psi_cos_ival`
/// clamps its argument to [−1, 1]; this one should clamp to [0, π].) The oracle `psi`
/// itself is not affected in practice: it only passes `acos` enclosures, which stick
/// out past π by one ulp, so the error (second order, ~2^−2wp) hides in the rounding.
/// Fix: take `max(θ_lo, 0)` for the upper end, and when `θ_hi ≥ π_lo` use the lower
/// end of `(−1)^k cos(m·[π_lo, π_hi]) − 2k`, k = ⌈m⌉ − 1 (ψ on the last branch over an
/// enclosure of π), instead of ψ(θ_hi).
#[test]
fn psi_theta_ival_is_sound_past_the_ends() {
    let wp = 256;
    let d = pow2(-40);
    let around_pi = Ival::pi(wp).inflate(&d);
    let around_0 = Ival::new(Float::with_val(wp, -&d), Float::with_val(wp, &d)).unwrap();
    let mut bad = vec![];
    for m in [
        Rational::from(4),
        Rational::from(1),
        Rational::from(2) - Rational::from((1, Integer::from(1) << 200u32)),
    ] {
        let e = psi_theta_ival(&m, &around_0).unwrap();
        if !e.contains(&Float::with_val(64, 1)) {
            bad.push(format!(
                "m={} around 0: [{}, {}] misses ψ(0) = 1",
                Float::with_val(64, &m),
                e.lo(),
                e.hi()
            ));
        }
        // ψ(π) = (−1)^k cos(mπ) − 2k on the last branch k = ⌈m⌉ − 1.
        let k = Rational::from(m.ceil_ref()).numer().to_u32().unwrap() - 1;
        let c = Ival::pi(1024).mul(&Ival::from_rational(&m, 1024)).cos();
        let psi_pi = if k % 2 == 0 { c } else { c.neg() }
            .sub(&Ival::from_integer(&Integer::from(2 * k), 1024));
        let e = psi_theta_ival(&m, &around_pi).unwrap();
        if !overlaps(&e, &psi_pi) {
            bad.push(format!(
                "m={} around π: [{}, {}] misses ψ(π) ∈ [{}, {}]",
                Float::with_val(64, &m),
                e.lo(),
                e.hi(),
                psi_pi.lo(),
                psi_pi.hi()
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// BUG (reported): results between 2^−1075 and 2^−1074 in magnitude must round to the
/// smallest subnormal ±2^−1074 (nearest), but come out as ±0: `arith::round::round_to`
/// returns `2f64.powi(fmt.tiny_exp())` for them, and `powi(−1074)` computes
/// `1/2^1074 = 1/inf = 0` at run time (it is only right when constant-folded).
/// Fix: `f64::from_bits(1)` for F64 (and `f64::from(f32::from_bits(1))` for F32), or
/// `Float::with_val(2, Float::i_exp(1, tiny)).to_f64()`. Seen through the oracle with
/// m = 1, where ψ(c) = c and dψ/dθ(θ) = −sin θ.
#[test]
fn results_below_the_smallest_subnormal_round_correctly() {
    let sub = f64::from_bits(1);
    let mut bad = vec![];
    for (c, want) in [
        ("0x1.8p-1075", sub),
        ("-0x1.8p-1075", -sub),
        ("0x1.fffffp-1075", sub),
        ("0x1.0000001p-1075", sub),
        ("0x1p-1075", 0.0), // exactly half: ties to even (0)
        ("-0x1p-1075", -0.0),
        ("0x1p-1076", 0.0),
        ("0x1.8p-1074", 2.0 * sub),
    ] {
        let a = psi(&Rational::from(1), &Angle::Cos(parse_exact(c).unwrap()), 64).unwrap();
        if a.f64().to_bits() != want.to_bits() {
            bad.push(format!(
                "psi(1, c = {c}).f64() = {:e}, want {want:e}",
                a.f64()
            ));
        }
    }
    let a = dpsi_dtheta(
        &Rational::from(1),
        &Angle::Theta(parse_exact("0x1.8p-1075").unwrap()),
        64,
    )
    .unwrap();
    if a.f64().to_bits() != (-sub).to_bits() {
        bad.push(format!(
            "dpsi_dtheta(1, θ = 0x1.8p-1075).f64() = {:e}, want {:e}",
            a.f64(),
            -sub
        ));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

// ---------------------------------------------------------------------------
// Snapshots
// ---------------------------------------------------------------------------

/// `x` with 30 significant digits, from a 128-bit result (rounded to nearest; the
/// enclosure is ~2^−135 wide, far below the 30th digit).
fn digits30(a: &Approx) -> String {
    if a.is_exact() && a.mid().is_zero() {
        return "0".into();
    }
    a.mid().to_string_radix(10, Some(30))
}

/// Landmark angles, as the 40-significant-digit decimal (round to nearest) of the
/// real angle: `0, π/8, π/6, π/4, π/3, π/2, 2π/3, 3π/4, π − 1e−9`. A 40-digit θ is
/// within 1e−40 of the landmark, so where the landmark is a branch point the 30-digit
/// ψ shows the exact branch value (e.g. ψ(π/3) = −1 for m = 3).
fn landmarks() -> Vec<(&'static str, String)> {
    let p = 700;
    let pi = Float::with_val(p, Constant::Pi);
    let frac = |n: u32, d: u32| Float::with_val(p, &pi * n) / d;
    let dec = |x: Float| {
        if x.is_zero() {
            "0".to_string()
        } else {
            x.to_string_radix(10, Some(40))
        }
    };
    vec![
        ("0", dec(Float::new(p))),
        ("pi/8", dec(frac(1, 8))),
        ("pi/6", dec(frac(1, 6))),
        ("pi/4", dec(frac(1, 4))),
        ("pi/3", dec(frac(1, 3))),
        ("pi/2", dec(frac(1, 2))),
        ("2pi/3", dec(frac(2, 3))),
        ("3pi/4", dec(frac(3, 4))),
        (
            "pi-1e-9",
            dec(Float::with_val(
                p,
                &pi - Float::with_val(p, Float::parse("1e-9").unwrap()),
            )),
        ),
    ]
}

/// ψ and dψ/dθ at the landmark angles for m = 1, 2, 3, 4, 1.7. Reviewed against
/// mpmath at 200 digits (θ parsed from the same 40-digit decimals): all 30-digit
/// strings and f64 hex values match.
#[test]
fn snapshot_psi_at_landmark_angles() {
    let mut out = String::from(
        "m     theta    psi (30 digits)                    f64 of psi              dpsi/dtheta (30 digits)\n",
    );
    for m in ["1", "2", "3", "4", "1.7"] {
        let mq = parse_exact(m).unwrap();
        for (name, dec) in landmarks() {
            let at = Angle::Theta(parse_exact(&dec).unwrap());
            let a = psi(&mq, &at, 128).unwrap();
            let d = dpsi_dtheta(&mq, &at, 128).unwrap();
            out.push_str(&format!(
                "{m:<5} {name:<8} {:<34} {:<23} {}\n",
                digits30(&a),
                asoftmax_spec::arith::hex_f64(a.f64()),
                digits30(&d)
            ));
        }
    }
    out.push_str("\ntheta decimals used (40 significant digits, nearest):\n");
    for (name, dec) in landmarks() {
        out.push_str(&format!("{name:<8} {dec}\n"));
    }
    insta::assert_snapshot!("psi_landmark_angles", out);
}

/// ψ, dψ/dc (integer m) and dψ/dθ at landmark cosines (exact decimals), m = 1, 2, 3,
/// 4, 1.7; for integer m also the exact rational ψ. Reviewed against mpmath.
#[test]
fn snapshot_psi_at_landmark_cosines() {
    let mut out = String::from(
        "m     c      psi (30 digits)                    dpsi/dc (30 digits)                dpsi/dtheta (30 digits)            psi exact\n",
    );
    for m in ["1", "2", "3", "4", "1.7"] {
        let mq = parse_exact(m).unwrap();
        for c in ["1", "0.9", "0.5", "0.1", "0", "-0.1", "-0.5", "-0.9", "-1"] {
            let cq = parse_exact(c).unwrap();
            let at = Angle::Cos(cq.clone());
            let a = psi(&mq, &at, 128).unwrap();
            let t = dpsi_dtheta(&mq, &at, 128).unwrap();
            let (dc, exact) = match *mq.denom() == 1 {
                true => {
                    let mi = mq.numer().to_u32().unwrap();
                    (
                        digits30(&dpsi_dcos(mi, &at, 128).unwrap()),
                        psi_cos_exact(mi, &cq).unwrap().to_string(),
                    )
                }
                false => ("-".to_string(), "-".to_string()),
            };
            out.push_str(&format!(
                "{m:<5} {c:<6} {:<34} {:<34} {:<34} {exact}\n",
                digits30(&a),
                dc,
                digits30(&t)
            ));
        }
    }
    insta::assert_snapshot!("psi_landmark_cosines", out);
}

/// Found by `enclosures_nest_cos_form`: for m = 5/2 and c = 2047/2048, sin(θ/2) = 1/64,
/// so dψ/dθ = −(5/2)·(5s − 20s³ + 16s⁵) (s = 1/64) is rational, and an f32 midpoint; the
/// oracle's enclosure (through acos and sin) never decided it and ran to the cap.
#[test]
fn rational_dpsi_dtheta_on_an_f32_midpoint_is_proven() {
    let s = Rational::from((1, 64));
    let s3 = (s.clone() * &s) * &s;
    let s5 = (s3.clone() * &s) * &s;
    let exact = Rational::from((-5, 2)) * (5 * s - 20 * s3 + 16 * s5);
    let m = Rational::from((5, 2));
    let a = dpsi_dtheta(&m, &Angle::Cos(Rational::from((2047, 2048))), 64).unwrap();
    assert!(a.enclosure().contains_rational(&exact));
    assert_eq!(a.f64(), exact.to_f64(), "exact in f64");
    // Proven: cos(5θ/2) = ±√(1 − sin²) satisfies T_2(cos(5θ/2)) = T_5(c) exactly.
    assert!(a.is_exact(), "a proven value is reported exactly");
    assert_eq!(
        a.f32(),
        -f32::from_bits(0x3e47_ce02),
        "ties to even: {}",
        a.f32()
    );
}

// ---------------------------------------------------------------------------
// Issue 11: no assumed ties, no assumed zeros
// ---------------------------------------------------------------------------

/// The exact binary value of `v` truncated to `bits` bits after the point (a long input).
fn truncated(v: &Float, bits: u32) -> Rational {
    let scaled = Float::with_val(v.prec(), v << bits).floor();
    Rational::from((scaled.to_integer().unwrap(), Integer::from(1) << bits))
}

/// Long inputs within about 2^−100000 of a point where ψ = cos(mθ) is an f32 midpoint:
/// θ-form (θ ≈ acos(t)/m truncated to 100 100 bits) and the integer-m interval route
/// (c ≈ cos(acos(t)/m) with 100 100 bits, m = 64: m·bits(c) > 2²²). The oracle's `psi`
/// and `cos_m` must agree (ψ = cos(mθ) on branch 0) and match a plain 400 000-bit MPFR
/// evaluation. The tie rule used to return the even neighbour for `psi` here.
#[test]
fn long_inputs_next_to_a_midpoint_are_decided_the_same_by_psi_and_cos_m() {
    const W: u32 = 400_000;
    let t = Float::with_val(W, 0.75) + Float::with_val(W, Float::i_exp(1, -25)); // f32 midpoint
    let m = 64u32;
    let theta = Float::with_val(W, t.acos_ref()) / m;
    for (what, at) in [
        ("theta", Angle::Theta(truncated(&theta, 100_100))),
        (
            "cos",
            Angle::Cos(truncated(&Float::with_val(W, theta.cos_ref()), 100_100)),
        ),
    ] {
        let reference = match &at {
            Angle::Theta(th) => Float::with_val(W, Float::with_val(W, th) * m).cos(),
            Angle::Cos(c) => Float::with_val(W, Float::with_val(W, c).acos() * m).cos(),
        };
        let want = round_f32(&reference);
        assert!(
            (f64::from(want) - 0.75).abs() < 1e-6,
            "{what}: the input is next to the midpoint"
        );
        let p = psi(&Rational::from(m), &at, 24).unwrap();
        let c = asoftmax_spec::multiangle::cos_m(m, &at, 24).unwrap();
        assert_eq!(p.f32(), want, "{what}: psi");
        assert_eq!(c.f32(), want, "{what}: cos_m");
    }
}

/// dψ/dθ at θ = π truncated to 400 digits, m = 4: θ = π − δ with δ ≈ 3.3·10⁻⁴⁰¹, on the
/// last branch k = 3, dψ/dθ = −(−1)³·4·sin(4π − 4δ) = −4·sin(4δ) ≈ −16δ: a tiny negative
/// number, printed as such, whose f64/f32 are −0 (it used to be "0" with a zero bound).
#[test]
fn a_tiny_derivative_keeps_its_decimal_and_sign() {
    let pi = Float::with_val(2000, Constant::Pi);
    let digits = pi.to_string_radix(10, Some(401)); // "3.1415…" with 401 significant digits
    let theta = asoftmax_spec::arith::parse_exact(&digits[..402]).unwrap();
    let delta = Float::with_val(4000, &pi) - Float::with_val(4000, &theta);
    let want = Float::with_val(4000, Float::with_val(4000, &delta * 4).sin() * -4);
    let a = dpsi_dtheta(&Rational::from(4), &Angle::Theta(theta), 16).unwrap();
    assert!(want < 0 && want.get_exp().unwrap() < -1300, "{want}");
    assert_eq!(a.f64().to_bits(), (-0.0f64).to_bits());
    assert_eq!(a.f32().to_bits(), (-0.0f32).to_bits());
    let got = asoftmax_spec::arith::parse_exact(&a.decimal()).unwrap();
    let rel = Float::with_val(64, (Float::with_val(4000, &got) - &want) / &want).abs();
    assert!(rel < 1e-4, "{} vs {want}", a.decimal());
}
