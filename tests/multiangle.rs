//! Properties of the multi-angle expansions `cos(mθ) = T_m(cos θ)` and of the
//! `cos_m` oracle, over adversarial inputs.
//!
//! The inputs are chosen where the expansions are hardest to get right: next to
//! `c = ±1` (where `sin θ = √(1 − c²)` loses half its bits and the f64 recurrence
//! error peaks at ~m² ulps), next to the branch thresholds `cos(jπ/m)` (where ψ
//! switches polynomial), at the rational thresholds `0, ±1/2` themselves, at dyadic
//! (f64) inputs, where exactness is checkable, and at decimal inputs like `0.1`,
//! which are not dyadic. Every "next to" comes in four distances: the 640-bit
//! rounding of the point itself, `±1e−30`, `±2^−e` (e = 50..200), and a few f64
//! ulps around the f64 nearest to the point.
//!
//! What is checked, and why it is the right check:
//! - **exact agreement** (property 7): recurrence, binomial and Horner over the exact
//!   coefficients are different algorithms for the same polynomial, so over
//!   `Rational` they must give the *same rational*, not merely close values;
//! - **interval containment**: the De Moivre route needs a square root, so it cannot
//!   be exact; over `Ival` its enclosure must contain the exact rational `T_m(c)`;
//! - **f64 accuracy**: recurrence, binomial and De Moivre in plain f64 are within
//!   `2·m²` ulps of 1 for m ≤ 16 (the recurrence's forward error is
//!   `Σ_k U_{m−k}(c)·δ_k ≤ 1.5·m²·u`; binomial and De Moivre were measured at
//!   ≤ 0.35·m² ulps over 320 000 inputs). Horner over the *monomial* coefficients is
//!   not: its coefficients grow like `(1 + √2)^m`, so it is held to Higham's bound
//!   `γ_{2m}·Σ|a_i||c|^i` instead (≈ 570·m² ulps at m = 16, c → ±1);
//! - **derivative** (property 9): `dT_m/dc = m·U_{m−1}` as a polynomial identity on
//!   exact coefficients, and `U_{m−1}(cos θ)·sin θ = sin(mθ)` in intervals;
//! - **enclosures nest** (property 8): the 1024-bit result must lie inside the
//!   64-bit enclosure, and the f64/f32/decimal fields must be the correct roundings
//!   of the value that the 1024-bit enclosure pins down.

use asoftmax_spec::arith::{
    Approx, Ival, MAX_PREC, MIN_PREC, parse_exact, rational_from_f64, round_f32, round_f64,
};
use asoftmax_spec::multiangle::{
    MAX_M, chebyshev_t_coefficients, chebyshev_u, chebyshev_u_coefficients, cos_m, cos_m_binomial,
    cos_m_de_moivre, cos_m_recurrence, dcos_m_dcos, horner,
};
use asoftmax_spec::{Angle, Error};
use proptest::prelude::*;
use rug::float::Constant;
use rug::{Float, Integer, Rational};

mod common;
use common::*;

// ---------------------------------------------------------------------------
// Adversarial inputs
// ---------------------------------------------------------------------------

/// The branch threshold `cos(jπ/m)` as an exact rational when it is one
/// (Niven: only `0, ±1/2, ±1` among `cos(rπ)`), else its 640-bit rounding.
fn cos_threshold(j: u32, m: u32) -> Rational {
    let (j, m) = (u64::from(j), u64::from(m));
    if j == 0 {
        Rational::from(1)
    } else if j == m {
        Rational::from(-1)
    } else if 2 * j == m {
        Rational::new()
    } else if 3 * j == m {
        Rational::from((1, 2))
    } else if 3 * j == 2 * m {
        Rational::from((-1, 2))
    } else {
        Float::with_val(REF_PREC, pi_times(j as u32, m as u32).cos())
            .to_rational()
            .expect("finite")
    }
}

/// Cosines where the expansions and the branch logic are stressed (see module docs).
fn adversarial_cos(m: u32) -> impl Strategy<Value = Rational> {
    let (one, minus_one) = (Rational::from(1), Rational::from(-1));
    let near_threshold = (0..=m.max(1), nudge_strategy())
        .prop_map(move |(j, n)| apply_nudge(&cos_threshold(j, m.max(1)), &n, &minus_one, &one));
    let special = prop::sample::select(vec![
        "1",
        "-1",
        "0",
        "0.5",
        "-0.5",
        "0.1",
        "-0.1",
        "0.3",
        "0x1.fffffffffffffp-1", // 1 − 2^−53
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
    prop_oneof![
        3 => near_threshold,
        2 => special,
        2 => near_one,
        2 => dyadic,
        2 => decimal,
    ]
}

/// Angles in `[0, π)`: near `jπ/m`, tiny, f64, decimal.
fn adversarial_theta(m: u32) -> impl Strategy<Value = Rational> {
    let pi_lo = Float::with_val(REF_PREC, Constant::Pi)
        .to_rational()
        .expect("finite");
    let pi_lo = pi_lo - Rational::from((1, Integer::from(1) << (REF_PREC - 8)));
    let pi_lo2 = pi_lo.clone();
    let near_branch = (0..=m.max(1), nudge_strategy()).prop_map(move |(j, n)| {
        let p = if j == 0 {
            Rational::new()
        } else {
            pi_times(j, m.max(1)).to_rational().expect("finite")
        };
        let r = apply_nudge(&p, &n, &Rational::new(), &pi_lo);
        if r > pi_lo { pi_lo.clone() } else { r }
    });
    let tiny = (1u32..=1100).prop_map(|e| Rational::from((1, Integer::from(1) << e)));
    let dyadic = (0.0f64..std::f64::consts::PI).prop_map(|x| rational_from_f64(x).unwrap());
    let decimal = (1u32..=9, 0.0f64..1.0).prop_map(move |(d, u)| {
        let p = Integer::from(Integer::u_pow_u(10, d));
        let n = (u * 0.999_999 * std::f64::consts::PI * p.to_f64()).floor() as i64;
        let r = Rational::from((n, p));
        if r > pi_lo2 { Rational::from(3) } else { r }
    });
    prop_oneof![3 => near_branch, 1 => tiny, 2 => dyadic, 2 => decimal]
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Property 8: `hi` (computed at a much higher precision) certifies `lo`'s fields.
///
/// - the midpoint of `hi`'s enclosure lies inside `lo`'s enclosure (both contain
///   the exact value, and `hi`'s is so narrow that its midpoint is, for all purposes
///   of a 64-bit check, the value);
/// - both endpoints of `hi`'s enclosure round to `lo.f64()` (resp. `f32`): then the
///   exact value, which lies between them, rounds there too, so `lo`'s f64/f32 are
///   the correct roundings, not merely close ones;
/// - `lo.decimal()` is within one unit of its last digit of the value.
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
    assert!(a == b, "{what}: 1024-bit enclosure does not pin the f64");
    assert!(
        lo.f64() == a && (a != 0.0 || lo.f64().to_bits() == a.to_bits()),
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
        "{what}: 1024-bit enclosure does not pin the f32"
    );
    assert!(lo.f32() == a32, "{what}: f32 {} is not {a32}", lo.f32());
    check_decimal(what, lo, &mid);
}

/// `a.decimal()` has `Approx::decimal_digits(prec)` significant digits and is within
/// one unit of its last digit of `v`; `"0"` only for a proven (exact) zero.
fn check_decimal(what: &str, a: &Approx, v: &Float) {
    let s = a.decimal();
    if s == "0" {
        assert!(
            a.is_exact() && v.is_zero(),
            "{what}: \"0\" but |value| = {v}"
        );
        return;
    }
    let (mant, exp) = s.split_once('e').expect("scientific notation");
    let exp: i64 = exp.parse().unwrap();
    let ndigits = mant.chars().filter(char::is_ascii_digit).count();
    assert_eq!(
        ndigits,
        Approx::decimal_digits(a.prec()),
        "{what}: digits of {s}"
    );
    let unit = {
        let e = exp - (ndigits as i64 - 1);
        let p = Rational::from(Integer::from(Integer::u_pow_u(10, e.unsigned_abs() as u32)));
        if e >= 0 { p } else { p.recip() }
    };
    let d = parse_exact(&s).unwrap();
    let err = Rational::from(&d - &v.to_rational().unwrap()).abs();
    assert!(
        err < unit,
        "{what}: decimal {s} is off by more than one unit (value {v})"
    );
}

/// The exact rational `r` rounded to f64, certified by a 4096-bit enclosure.
fn round_rational_f64(r: &Rational) -> f64 {
    let iv = Ival::from_rational(r, 4096);
    let a = round_f64(iv.lo());
    assert_eq!(
        a.to_bits(),
        round_f64(iv.hi()).to_bits(),
        "tie too close to call"
    );
    a
}

/// Coefficients of the derivative of `Σ a_i c^i`.
fn differentiate(a: &[Integer]) -> Vec<Integer> {
    if a.len() <= 1 {
        return vec![Integer::new()];
    }
    a.iter()
        .enumerate()
        .skip(1)
        .map(|(i, ai)| Integer::from(ai * i as u32))
        .collect()
}

// ---------------------------------------------------------------------------
// Property 7: the expansions agree
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Recurrence, binomial and Horner over exact coefficients are the same rational.
    #[test]
    fn expansions_agree_exactly_on_rationals(
        (m, c) in (0u32..=24).prop_flat_map(|m| (Just(m), adversarial_cos(m)))
    ) {
        let r = cos_m_recurrence(m, &c);
        prop_assert_eq!(&r, &cos_m_binomial(m, &c), "binomial, m={} c={}", m, &c);
        prop_assert_eq!(&r, &horner(&chebyshev_t_coefficients(m), &c), "horner, m={} c={}", m, &c);
        // T_m maps [−1, 1] into [−1, 1]: a sanity check that is independent of the algebra.
        prop_assert!((-1..=1).contains(&r), "|T_{}({})| > 1", m, &c);
    }

    /// Every route over intervals (De Moivre in particular, which needs √(1 − c²))
    /// encloses the exact rational, and the De Moivre enclosure is not vacuous.
    #[test]
    fn interval_routes_contain_the_exact_value(
        (m, c) in (0u32..=24).prop_flat_map(|m| (Just(m), adversarial_cos(m))),
        wp in prop::sample::select(vec![64u32, 113, 256]),
    ) {
        let exact = cos_m_recurrence(m, &c);
        let iv = Ival::from_rational(&c, wp);
        let dm = cos_m_de_moivre(m, &iv);
        prop_assert!(dm.contains_rational(&exact), "De Moivre m={} c={} wp={}: [{}, {}]",
            m, &c, wp, dm.lo(), dm.hi());
        for (name, e) in [
            ("recurrence", cos_m_recurrence(m, &iv)),
            ("binomial", cos_m_binomial(m, &iv)),
            ("horner", horner(&chebyshev_t_coefficients(m), &iv)),
        ] {
            prop_assert!(e.contains_rational(&exact), "{} m={} c={} wp={}", name, m, &c, wp);
        }
        // Not vacuous: √(1 − c²) near c = ±1 costs half the bits (|d√x/dx| → ∞), and
        // interval products over the complex powers cost a factor ≲ 4^m; so at least
        // wp/2 − 2m − 8 bits must survive (absolute, the value is in [−1, 1]).
        let lost = i64::from(wp) / 2 - 2 * i64::from(m) - 8;
        let allowed = Float::with_val(64, Float::i_exp(1, -(lost as i32)));
        prop_assert!(dm.width() <= allowed, "De Moivre m={} c={} wp={} too wide: {}",
            m, &c, wp, dm.width());
    }

    /// In f64, recurrence, binomial and De Moivre are within 2·m² ulps(1) of the
    /// exact value for m ≤ 16, and Horner over the monomial coefficients within
    /// Higham's a-priori bound γ_{2m}·Σ|a_i||c|^i.
    #[test]
    fn f64_routes_agree_within_m_squared_ulps(
        (m, c) in (1u32..=16).prop_flat_map(|m| (Just(m), adversarial_cos(m)))
    ) {
        let x = round_rational_f64(&c); // an f64 input: the routes see exactly x
        let xr = rational_from_f64(x).unwrap();
        let exact = Float::with_val(256, &cos_m_recurrence(m, &xr));
        let tol = Float::with_val(64, 2 * m * m) * f64::EPSILON;
        let err = |v: f64| Float::with_val(256, &exact - v).abs();
        for (name, v) in [
            ("recurrence", cos_m_recurrence(m, &x)),
            ("binomial", cos_m_binomial(m, &x)),
            ("de_moivre", cos_m_de_moivre(m, &x)),
        ] {
            prop_assert!(err(v) <= tol, "{} m={} c={:e}: {} vs {} (err {} > {})",
                name, m, x, v, exact.to_f64(), err(v).to_f64(), tol.to_f64());
        }
        let coeffs = chebyshev_t_coefficients(m);
        let abs_sum = horner(
            &coeffs.iter().map(|a| Integer::from(a.abs_ref())).collect::<Vec<_>>(),
            &Rational::from(xr.abs_ref()),
        );
        let u = f64::EPSILON / 2.0;
        let two_m_u = f64::from(2 * m) * u;
        let gamma = Float::with_val(64, two_m_u / (1.0 - two_m_u) * 1.0001);
        let horner_tol = Float::with_val(64, &abs_sum) * gamma;
        let hv = horner(&coeffs, &x);
        prop_assert!(err(hv) <= horner_tol, "horner m={} c={:e}: err {} > {}",
            m, x, err(hv).to_f64(), horner_tol.to_f64());
    }
}

// ---------------------------------------------------------------------------
// Property 9: dT_m/dc = m·U_{m−1}
// ---------------------------------------------------------------------------

/// `d/dc T_m = m·U_{m−1}` as a polynomial identity on exact integer coefficients.
#[test]
fn derivative_of_t_is_m_times_u_as_polynomials() {
    for m in 1..=64u32 {
        let dt = differentiate(&chebyshev_t_coefficients(m));
        let mu: Vec<Integer> = chebyshev_u_coefficients(m - 1)
            .iter()
            .map(|a| Integer::from(a * m))
            .collect();
        assert_eq!(dt, mu, "m = {m}");
    }
    assert_eq!(
        differentiate(&chebyshev_t_coefficients(0)),
        vec![Integer::new()]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// `dcos_m_dcos` equals the exact derivative of the coefficients, at rationals.
    #[test]
    fn dcos_m_dcos_is_the_exact_derivative(
        (m, c) in (0u32..=24).prop_flat_map(|m| (Just(m), adversarial_cos(m)))
    ) {
        let want = horner(&differentiate(&chebyshev_t_coefficients(m)), &c);
        prop_assert_eq!(dcos_m_dcos(m, &c), want, "m={} c={}", m, &c);
    }

    /// `U_{m−1}(cos θ)·sin θ = sin(mθ)`: two independent interval enclosures of the
    /// same number must overlap, and both must be tight.
    #[test]
    fn u_times_sin_theta_is_sin_m_theta(
        (m, theta) in (1u32..=16).prop_flat_map(|m| (Just(m), adversarial_theta(m)))
    ) {
        let wp = 320;
        let t = Ival::from_rational(&theta, wp);
        let lhs = chebyshev_u(m - 1, &t.cos()).mul(&t.sin());
        let rhs = t.mul(&Ival::from_integer(&Integer::from(m), wp)).sin();
        prop_assert!(overlaps(&lhs, &rhs), "m={} θ={}: [{}, {}] vs [{}, {}]",
            m, &theta, lhs.lo(), lhs.hi(), rhs.lo(), rhs.hi());
        let tight = Float::with_val(64, Float::i_exp(1, -250));
        prop_assert!(lhs.width() < tight && rhs.width() < tight);
    }
}

// ---------------------------------------------------------------------------
// Property 8: enclosures nest across precisions, fields are correct roundings
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn cos_m_enclosures_nest_cos_form(
        (m, c) in (0u32..=16).prop_flat_map(|m| (Just(m), adversarial_cos(m)))
    ) {
        let at = Angle::Cos(c.clone());
        let lo = cos_m(m, &at, 64).unwrap();
        let hi = cos_m(m, &at, 1024).unwrap();
        check_nested(&format!("cos_m m={m} c={c}"), &lo, &hi);
        // The c-form is exact: the enclosure contains the exact rational and the f64
        // is its rounding.
        let exact = cos_m_recurrence(m, &c);
        prop_assert!(lo.enclosure().contains_rational(&exact));
        prop_assert_eq!(lo.f64().to_bits(), round_rational_f64(&exact).to_bits());
    }

    #[test]
    fn cos_m_enclosures_nest_theta_form(
        (m, theta) in (0u32..=16).prop_flat_map(|m| (Just(m), adversarial_theta(m)))
    ) {
        let at = Angle::Theta(theta.clone());
        let lo = cos_m(m, &at, 64).unwrap();
        let hi = cos_m(m, &at, 1024).unwrap();
        check_nested(&format!("cos_m m={m} θ={theta}"), &lo, &hi);
        // Independent route: T_m over an enclosure of cos θ contains cos(mθ) too.
        let t = cos_m_recurrence(m, &Ival::from_rational(&theta, 1100).cos());
        prop_assert!(overlaps(&t, hi.enclosure()));
    }
}

// ---------------------------------------------------------------------------
// Deterministic: exactness, extremes, errors
// ---------------------------------------------------------------------------

/// T_m at a dyadic c is a dyadic rational, computed exactly (the recurrence over
/// `Rational`), so its f64/f32 derive from the exact value and — per the docs of
/// `Approx::is_exact` ("the exact value was computed exactly") and of the crate
/// ("exact results are computed exactly") — the result should be exact.
///
/// BUG (reported): `is_exact()` is false whenever the dyadic result needs more than
/// `prec + 64` bits, e.g. T_2(2^−60) = −1 + 2^−119 at prec 53: `ziv::approx_rational`
/// only ever encloses the rational at the Ziv working precision. Fix: in
/// `approx_rational`, when the denominator is a power of two and the numerator has
/// at most `MAX_WORKING_PREC` significant bits, return the point enclosure at that
/// many bits (`Ival::point(Float::with_val(bits, r))`, settled as usual).
#[test]
fn dyadic_inputs_are_exact() {
    let inputs = [
        "0x1.8p-1",
        "-0x1.8p-1",
        "0.5",
        "0.25",
        "-0.375",
        "0x1.fffffffffffffp-1",
        "0x1p-60",
        "0x1p-1074",
        "1",
        "-1",
        "0",
    ];
    let mut not_exact = vec![];
    for m in 0..=16u32 {
        for s in inputs {
            let c = parse_exact(s).unwrap();
            let a = cos_m(m, &Angle::Cos(c.clone()), 53).unwrap();
            let exact = cos_m_recurrence(m, &c);
            assert!(a.enclosure().contains_rational(&exact));
            assert_eq!(
                a.f64().to_bits(),
                round_rational_f64(&exact).to_bits(),
                "T_{m}({s})"
            );
            if !a.is_exact() {
                not_exact.push(format!("T_{m}({s})"));
            }
        }
    }
    // θ = 0 is exact too: cos(0) = 1.
    for m in 0..=16u32 {
        let a = cos_m(m, &Angle::Theta(Rational::new()), 64).unwrap();
        assert!(a.is_exact());
        assert_eq!(a.f64(), 1.0);
    }
    assert!(
        not_exact.is_empty(),
        "{} dyadic results not reported exact, e.g. {:?}",
        not_exact.len(),
        &not_exact[..not_exact.len().min(6)]
    );
}

/// A decimal input is not dyadic, so T_m(0.1) (m ≥ 1) is not exactly representable,
/// but its f64/f32 are still the correct roundings of the exact rational.
#[test]
fn decimal_inputs_round_correctly() {
    for m in 1..=16u32 {
        let c = parse_exact("0.1").unwrap();
        let a = cos_m(m, &Angle::Cos(c.clone()), 64).unwrap();
        assert!(!a.is_exact(), "T_{m}(0.1) is not dyadic");
        let exact = cos_m_recurrence(m, &c);
        assert_eq!(
            a.f64().to_bits(),
            round_rational_f64(&exact).to_bits(),
            "m = {m}"
        );
        let hi = cos_m(m, &Angle::Cos(c), 1024).unwrap();
        check_nested(&format!("T_{m}(0.1)"), &a, &hi);
    }
}

/// `T_m(0) = cos(mπ/2)`: exactly 0 for odd m (a true zero, not a tiny enclosure),
/// and `(−1)^{m/2}` for even m.
#[test]
fn t_m_at_zero_is_exact() {
    for m in 0..=201u32 {
        let a = cos_m(m, &Angle::Cos(Rational::new()), 64).unwrap();
        assert!(a.is_exact(), "m = {m}");
        if m % 2 == 1 {
            assert_eq!(a.f64().to_bits(), 0f64.to_bits(), "m = {m}");
            assert_eq!(a.decimal(), "0");
        } else {
            let want = if m % 4 == 0 { 1.0 } else { -1.0 };
            assert_eq!(a.f64(), want, "m = {m}");
        }
    }
}

/// The top of the ranges: prec 65536, m = 1024 in both forms, and m = MAX_M.
#[test]
fn large_precision_and_margin() {
    let c = parse_exact("0.1").unwrap();
    let a = cos_m(1024, &Angle::Cos(c.clone()), 65536).unwrap();
    assert!(a.enclosure().contains_rational(&cos_m_recurrence(1024, &c)));
    let ndigits = a
        .decimal()
        .chars()
        .take_while(|&ch| ch != 'e')
        .filter(char::is_ascii_digit)
        .count();
    assert_eq!(ndigits, Approx::decimal_digits(65536));
    // θ-form at 65536 bits, m = 1024: cos(1024/3) against an independent evaluation.
    let theta = Rational::from((1, 3));
    let b = cos_m(1024, &Angle::Theta(theta.clone()), 65536).unwrap();
    let want = Ival::from_rational(&Rational::from((1024, 3)), 70000).cos();
    assert!(overlaps(&want, b.enclosure()));
    // The θ-form and the c-form at cos θ (enclosed) agree.
    let t = cos_m_recurrence(1024, &Ival::from_rational(&theta, 66000).cos());
    assert!(overlaps(&t, b.enclosure()));
    // m = MAX_M: T_65536 at 0, ±1/2, ±1 stay small rationals: cos(65536·π/3) = cos(4π/3).
    let m = MAX_M;
    for (c, want) in [
        ("0", 1.0),
        ("1", 1.0),
        ("-1", 1.0),
        ("0.5", -0.5),
        ("-0.5", -0.5),
    ] {
        let a = cos_m(m, &Angle::Cos(parse_exact(c).unwrap()), 64).unwrap();
        assert!(a.is_exact());
        assert_eq!(a.f64(), want, "T_65536({c})");
    }
    let a = cos_m(m, &Angle::Theta(Rational::from((1, 3))), 128).unwrap();
    let want = Ival::from_rational(&Rational::from((65536, 3)), 400).cos();
    assert!(overlaps(&want, a.enclosure()));
}

/// Out-of-range arguments give a typed `Error` naming the argument, never a panic.
#[test]
fn errors_are_typed() {
    let half = Angle::Cos(Rational::from((1, 2)));
    let dom = |r: Result<Approx, Error>, which: &str| match r {
        Err(Error::Domain { arg, .. }) => assert_eq!(arg, which),
        other => panic!("expected a domain error on {which}, got {other:?}"),
    };
    dom(cos_m(MAX_M + 1, &half, 64), "m");
    dom(cos_m(u32::MAX, &half, 64), "m");
    for c in [
        "1.0000000001",
        "0x1.0000000000001p+0",
        "-1.000000000000000000000000000001",
        "2",
        "-7",
    ] {
        dom(cos_m(2, &Angle::Cos(parse_exact(c).unwrap()), 64), "cos");
    }
    // π = 3.14159265358979323846264338327950288419…: the 36-digit decimals on either
    // side, and 3.1416, must be told apart rigorously.
    for t in [
        "3.1416",
        "3.14159265358979323846264338327950289",
        "-1e-30",
        "-0x1p-1074",
        "4",
        "1e10",
    ] {
        dom(
            cos_m(2, &Angle::Theta(parse_exact(t).unwrap()), 64),
            "theta",
        );
    }
    for t in [
        "3.14159265358979323846264338327950288",
        "3",
        "3.1415926535897931",
    ] {
        assert!(
            cos_m(2, &Angle::Theta(parse_exact(t).unwrap()), 64).is_ok(),
            "θ = {t}"
        );
    }
    for prec in [0, 1, MIN_PREC - 1, MAX_PREC + 1, u32::MAX] {
        match cos_m(2, &half, prec) {
            Err(Error::Precision { prec: p, min, max }) => {
                assert_eq!((p, min, max), (prec, MIN_PREC, MAX_PREC));
            }
            other => panic!("prec {prec}: expected a precision error, got {other:?}"),
        }
        match cos_m(2, &Angle::Theta(Rational::from(1)), prec) {
            Err(Error::Precision { .. }) => {}
            other => panic!("prec {prec}: expected a precision error, got {other:?}"),
        }
    }
    assert!(cos_m(2, &half, MIN_PREC).is_ok());
    assert!(cos_m(2, &half, MAX_PREC).is_ok());
    // Text that is not a finite number is refused before it reaches an oracle.
    for s in ["nan", "inf", "-inf", "", "0x1.8", "1e"] {
        assert!(
            matches!(parse_exact(s), Err(Error::InvalidNumber { .. })),
            "{s:?}"
        );
    }
    // Errors render as messages that name the argument.
    let e = cos_m(2, &Angle::Theta(parse_exact("3.1416").unwrap()), 64).unwrap_err();
    assert!(e.to_string().starts_with("theta = "), "{e}");
}

// ---------------------------------------------------------------------------
// Snapshot: the integer coefficients of T_0 … T_16
// ---------------------------------------------------------------------------

/// `T_m` written out, highest power first: `8c^4 - 8c^2 + 1`.
fn format_poly(a: &[Integer]) -> String {
    let mut out = String::new();
    for (i, ai) in a.iter().enumerate().rev() {
        if *ai == 0 {
            continue;
        }
        let neg = *ai < 0;
        let mag = Integer::from(ai.abs_ref());
        if out.is_empty() {
            if neg {
                out.push('-');
            }
        } else {
            out.push_str(if neg { " - " } else { " + " });
        }
        let coef = if mag == 1 && i > 0 {
            String::new()
        } else {
            mag.to_string()
        };
        out.push_str(&match i {
            0 => mag.to_string(),
            1 => format!("{coef}c"),
            _ => format!("{coef}c^{i}"),
        });
    }
    out
}

/// The coefficient table is checked three ways: against the closed form
/// `[c^{m−2k}] T_m = (−1)^k·2^{m−2k−1}·m/(m−k)·C(m−k, k)` (independent of the
/// recurrence), against `T_m(1) = 1` and `T_m(−1) = (−1)^m`, and as a reviewed
/// snapshot (cross-checked against sympy's `chebyshevt`).
#[test]
fn chebyshev_coefficient_table() {
    let mut table = String::new();
    for m in 0..=16u32 {
        let a = chebyshev_t_coefficients(m);
        assert_eq!(a.len(), m as usize + 1);
        for (i, ai) in a.iter().enumerate() {
            let i = i as u32;
            let want = if (m - i) % 2 == 1 {
                Integer::new()
            } else if m == 0 {
                Integer::from(1)
            } else {
                let k = (m - i) / 2;
                // m/(m−k)·C(m−k, k)·2^{m−2k−1}, computed as an exact rational.
                let r = Rational::from((Integer::from(m), Integer::from(m - k)))
                    * Integer::from(Integer::binomial_u(m - k, k))
                    * Rational::from(Integer::from(1) << (m - 2 * k))
                    / 2u32;
                assert_eq!(*r.denom(), 1);
                let v = r.numer().clone();
                if k % 2 == 1 { -v } else { v }
            };
            assert_eq!(*ai, want, "m = {m}, c^{i}");
        }
        let sum: Integer = a.iter().sum();
        assert_eq!(sum, 1, "T_{m}(1)");
        table.push_str(&format!("T_{m}(c) = {}\n", format_poly(&a)));
    }
    insta::assert_snapshot!("chebyshev_t_0_to_16", table);
}
