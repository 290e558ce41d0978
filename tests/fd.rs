//! The finite-difference gradient checker: exact derivatives of known functions to
//! ≥ 40 digits, ψ against its derivative oracles (also next to a branch point), kink
//! handling, and wrong gradients reported as failing.

use asoftmax_spec::arith::Ival;
use asoftmax_spec::conformance::gradcheck::{Verdict, check_gradient};
use asoftmax_spec::fd::{FdEstimate, FdOptions, Stencil, derivative, float_fn, gradient};
use asoftmax_spec::psi::{self, psi_cos_exact};
use asoftmax_spec::{Angle, Error};
use rug::ops::Pow;
use rug::{Float, Rational};

type EvalResult = Result<Option<Ival>, Error>;

const P: u32 = 512;

fn q(n: i64, d: i64) -> Rational {
    Rational::from((n, d))
}

/// `|fd − exact| ≤ tol·max(1, |exact|)`, also requiring the exact value to lie within
/// the reported error bar and the estimate to be converged.
fn assert_close(fd: &FdEstimate, exact: &Float, tol: f64, what: &str) {
    let d = Float::with_val(P, &fd.value - exact).abs();
    let scale = Float::with_val(P, exact.abs_ref()).max(&Float::with_val(P, 1));
    assert!(
        d <= Float::with_val(P, &scale * tol),
        "{what}: fd {fd}, exact {}, |diff| {}",
        exact.to_string_radix(10, Some(30)),
        d.to_string_radix(10, Some(3))
    );
    assert!(fd.converged, "{what}: not converged: {fd}");
    assert!(
        fd.agrees_with(exact),
        "{what}: exact value outside the error bar: {fd}, |diff| {}",
        d.to_string_radix(10, Some(3))
    );
}

fn ival(r: &Rational, wp: u32) -> Ival {
    Ival::from_rational(r, wp)
}

#[test]
fn polynomial_derivative_is_exact_to_40_digits() {
    // f = 3x⁵ − 2x² + 7, f′ = 15x⁴ − 4x.
    let f = |x: &[Rational], wp: u32| -> EvalResult {
        let v = 3 * x[0].clone().pow(5u32) - 2 * x[0].clone().square() + 7;
        Ok(Some(ival(&v, wp)))
    };
    for x in [q(7, 10), q(-3, 2), q(0, 1), q(123, 7)] {
        let exact = 15 * x.clone().pow(4u32) - 4 * x.clone();
        let d = derivative(f, std::slice::from_ref(&x), 0, &FdOptions::default()).unwrap();
        assert_close(
            &d,
            &Float::with_val(P, &exact),
            1e-40,
            &format!("poly at {x}"),
        );
    }
}

#[test]
fn exp_sin_and_reciprocal_to_40_digits() {
    let opts = FdOptions::default();
    let exp = |x: &[Rational], wp: u32| -> EvalResult { Ok(Some(ival(&x[0], wp).exp())) };
    let sin = |x: &[Rational], wp: u32| -> EvalResult { Ok(Some(ival(&x[0], wp).sin())) };
    let recip = |x: &[Rational], wp: u32| -> EvalResult {
        let one = Ival::from_integer(&1.into(), wp);
        Ok(one.div(&ival(&x[0], wp)))
    };
    for x in [q(1, 3), q(-5, 2), q(10, 1)] {
        let d = derivative(exp, std::slice::from_ref(&x), 0, &opts).unwrap();
        assert_close(&d, &Float::with_val(P, &x).exp(), 1e-40, "exp");
        let d = derivative(sin, std::slice::from_ref(&x), 0, &opts).unwrap();
        assert_close(&d, &Float::with_val(P, &x).cos(), 1e-40, "sin");
        let d = derivative(recip, std::slice::from_ref(&x), 0, &opts).unwrap();
        let exact = -Rational::from(1) / x.clone().square();
        assert_close(&d, &Float::with_val(P, &exact), 1e-40, "1/x");
    }
}

#[test]
fn reciprocal_next_to_its_pole_recovers_by_shrinking_the_step() {
    // x = 1/1000 < h₀ = 1/256: the first stencils straddle the pole at 0.
    let recip = |x: &[Rational], wp: u32| -> EvalResult {
        let one = Ival::from_integer(&1.into(), wp);
        Ok(one.div(&ival(&x[0], wp)))
    };
    let d = derivative(recip, &[q(1, 1000)], 0, &FdOptions::default()).unwrap();
    assert_close(&d, &Float::with_val(P, -1_000_000), 1e-40, "1/x near 0");
    assert!(d.step < q(1, 1000), "accepted step {}", d.step);
}

/// f(x) = exp(x₀x₁) + sin(x₂)·x₃² + x₄/(1 + x₀²) and its exact gradient.
fn five(x: &[Rational], wp: u32) -> EvalResult {
    let v: Vec<Ival> = x.iter().map(|r| ival(r, wp)).collect();
    let one = Ival::from_integer(&1.into(), wp);
    let a = v[0].mul(&v[1]).exp();
    let b = v[2].sin().mul(&v[3].square());
    let Some(c) = v[4].div(&one.add(&v[0].square())) else {
        return Ok(None);
    };
    Ok(Some(a.add(&b).add(&c)))
}

fn five_float(v: &[Float]) -> Float {
    let p = v[0].prec();
    let a = Float::with_val(p, &v[0] * &v[1]).exp();
    let b = Float::with_val(p, v[2].sin_ref()) * Float::with_val(p, v[3].square_ref());
    let den = Float::with_val(p, v[0].square_ref()) + 1u32;
    a + b + Float::with_val(p, &v[4] / &den)
}

fn five_grad(x: &[Rational]) -> Vec<Float> {
    let v: Vec<Float> = x.iter().map(|r| Float::with_val(P, r)).collect();
    let e = Float::with_val(P, &v[0] * &v[1]).exp();
    let den = Float::with_val(P, v[0].square_ref()) + 1u32;
    let den2 = Float::with_val(P, den.square_ref());
    vec![
        Float::with_val(P, &v[1] * &e) - Float::with_val(P, &v[0] * &v[4]) * 2u32 / &den2,
        Float::with_val(P, &v[0] * &e),
        Float::with_val(P, v[2].cos_ref()) * Float::with_val(P, v[3].square_ref()),
        Float::with_val(P, v[2].sin_ref()) * &v[3] * 2u32,
        Float::with_val(P, 1u32) / den,
    ]
}

fn five_point() -> Vec<Rational> {
    vec![q(3, 10), q(-7, 5), q(11, 4), q(-2, 3), q(9, 8)]
}

#[test]
fn gradient_of_five_variables_to_40_digits() {
    let at = five_point();
    let exact = five_grad(&at);
    let g = gradient(five, &at, &FdOptions::default()).unwrap();
    for (i, (d, e)) in g.iter().zip(&exact).enumerate() {
        assert_close(d, e, 1e-40, &format!("component {i}"));
    }
}

#[test]
fn plain_float_adaptor_gives_40_digits_too() {
    let at = five_point();
    let exact = five_grad(&at);
    let g = gradient(float_fn(8, five_float), &at, &FdOptions::default()).unwrap();
    for (i, (d, e)) in g.iter().zip(&exact).enumerate() {
        assert_close(d, e, 1e-40, &format!("float adaptor, component {i}"));
    }
}

/// A small deterministic generator (xorshift64*) for reproducible random points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A rational in `(lo, hi)` with denominator 2^40.
    fn rational(&mut self, lo: f64, hi: f64) -> Rational {
        let u = (self.next() >> 24) as f64 / (1u64 << 40) as f64;
        let v = Rational::from_f64(lo + (hi - lo) * u).expect("finite");
        (v * (1u64 << 40)).round() / Rational::from(1u64 << 40)
    }
}

/// ψ(c) as an exact enclosure, margin `m`.
fn psi_c(m: u32) -> impl Fn(&[Rational], u32) -> EvalResult {
    move |x, wp| Ok(Some(ival(&psi_cos_exact(m, &x[0])?, wp)))
}

/// ψ(θ) as an enclosure from the θ-form oracle, margin `m`.
fn psi_t(m: u32) -> impl Fn(&[Rational], u32) -> EvalResult {
    move |x, wp| {
        let v = psi::psi(&Rational::from(m), &Angle::Theta(x[0].clone()), wp)?;
        Ok(Some(v.enclosure().clone()))
    }
}

fn oracle_dc(m: u32, c: &Rational) -> Float {
    psi::dpsi_dcos(m, &Angle::Cos(c.clone()), 256)
        .unwrap()
        .mid()
}

fn oracle_dt(m: u32, t: &Rational) -> Float {
    psi::dpsi_dtheta(&Rational::from(m), &Angle::Theta(t.clone()), 256)
        .unwrap()
        .mid()
}

#[test]
fn psi_derivative_matches_the_oracles_at_random_points() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let opts = FdOptions::default();
    for m in [2u32, 3, 4, 5, 7] {
        for _ in 0..4 {
            let c = rng.rational(-0.97, 0.97);
            let d = derivative(psi_c(m), std::slice::from_ref(&c), 0, &opts).unwrap();
            assert_close(&d, &oracle_dc(m, &c), 1e-40, &format!("dψ/dc m={m} c={c}"));
            let t = rng.rational(0.03, 3.1);
            let d = derivative(psi_t(m), std::slice::from_ref(&t), 0, &opts).unwrap();
            assert_close(&d, &oracle_dt(m, &t), 1e-40, &format!("dψ/dθ m={m} θ={t}"));
        }
    }
}

/// A rational within `1e−20·sign` of the branch point `cos(jπ/m)` (or of `jπ/m` when
/// `theta`).
fn near_branch(m: u32, j: u32, sign: i32, theta: bool) -> Rational {
    let pi = Float::with_val(400, rug::float::Constant::Pi);
    let a = pi * j / m;
    let b = if theta { a } else { a.cos() };
    let off = Rational::from((sign, 1)) / Rational::from(rug::Integer::from(10).pow(20u32));
    b.to_rational().unwrap() + off
}

#[test]
fn psi_derivative_within_1e20_of_a_branch_point() {
    let opts = FdOptions::default();
    for (m, j) in [(4u32, 1u32), (4, 3), (3, 1), (5, 2), (7, 4)] {
        for sign in [-1, 1] {
            let c = near_branch(m, j, sign, false);
            let d = derivative(psi_c(m), std::slice::from_ref(&c), 0, &opts).unwrap();
            let exact = oracle_dc(m, &c);
            // The derivative itself is ≈ ψ″·1e−20 here; the FD agrees to ~1e−45 absolute.
            assert_close(
                &d,
                &exact,
                1e-45,
                &format!("dψ/dc m={m} j={j} {sign:+}1e-20"),
            );
            assert!(
                d.step < q(1, 10i64.pow(18)),
                "kink not stepped over: {}",
                d.step
            );
            let t = near_branch(m, j, sign, true);
            let d = derivative(psi_t(m), std::slice::from_ref(&t), 0, &opts).unwrap();
            assert_close(&d, &oracle_dt(m, &t), 1e-45, &format!("dψ/dθ m={m} j={j}"));
        }
    }
}

#[test]
fn first_tableau_across_a_kink_reports_a_large_error() {
    // Without restarts the stencil straddles the branch point: the estimate is not
    // converged, and its error estimate still covers the actual error.
    let opts = FdOptions {
        restarts: 0,
        ..FdOptions::default()
    };
    let c = near_branch(4, 1, 1, false);
    let d = derivative(psi_c(4), std::slice::from_ref(&c), 0, &opts).unwrap();
    assert!(!d.converged);
    assert!(d.agrees_with(&oracle_dc(4, &c)), "{d}");
    assert!(d.error() > 1e-10, "{d}");
}

#[test]
fn one_sided_stencils_at_an_exact_branch_point() {
    // m = 4 has a branch point at c = cos(π/2) = 0 exactly; ψ′(0) = 0 from both sides.
    for stencil in [Stencil::Forward, Stencil::Backward, Stencil::Central] {
        let opts = FdOptions {
            stencil,
            ..FdOptions::default()
        };
        let d = derivative(psi_c(4), &[Rational::new()], 0, &opts).unwrap();
        assert_close(&d, &Float::new(P), 1e-45, &format!("{stencil:?}"));
    }
    // One-sided stencils away from the kink do not need tiny steps.
    let c = near_branch(4, 1, 1, false);
    let fwd = FdOptions {
        stencil: Stencil::Forward,
        ..FdOptions::default()
    };
    // c is just above cos(π/4): the forward stencil stays on branch 0.
    let d = derivative(psi_c(4), std::slice::from_ref(&c), 0, &fwd).unwrap();
    assert_close(&d, &oracle_dc(4, &c), 1e-45, "forward next to a kink");
    assert_eq!(d.step, q(1, 256));
}

#[test]
fn kink_check_detects_a_jump_of_the_derivative() {
    let abs = |x: &[Rational], wp: u32| -> EvalResult {
        Ok(Some(ival(&Rational::from(x[0].abs_ref()), wp)))
    };
    let opts = FdOptions {
        kink_check: true,
        ..FdOptions::default()
    };
    // Central differences alone see nothing: D(h) = 0 for every h.
    let plain = derivative(abs, &[Rational::new()], 0, &FdOptions::default()).unwrap();
    assert!(plain.converged && plain.value.is_zero());
    let d = derivative(abs, &[Rational::new()], 0, &opts).unwrap();
    assert!(!d.converged, "{d}");
    assert!(*d.kink_spread.as_ref().unwrap() >= 1, "{d}");
    // ψ is C¹ at its branch points: the one-sided derivatives agree there.
    let d = derivative(psi_c(4), &[Rational::new()], 0, &opts).unwrap();
    assert!(
        d.converged,
        "{d} {:?} trunc {} target {}",
        d.kink_spread, d.truncation, d.target
    );
    assert!(d.error() < 1e-45, "{d}");
}

#[test]
fn wrong_gradients_are_reported_as_failing() {
    let at = five_point();
    let exact: Vec<f64> = five_grad(&at).iter().map(|v| v.to_f64()).collect();
    let opts = FdOptions::default();
    let good = check_gradient(five, &at, &exact, &opts).unwrap();
    assert!(good.passed(1e-14), "{}", good.report(1e-14));

    // Wrong sign of ∂/∂x₂, missing factor 2 in ∂/∂x₃.
    let mut wrong = exact.clone();
    wrong[2] = -wrong[2];
    wrong[3] /= 2.0;
    let bad = check_gradient(five, &at, &wrong, &opts).unwrap();
    assert!(!bad.passed(1e-6));
    let failed: Vec<usize> = bad.failures(1e-6).iter().map(|c| c.index).collect();
    assert_eq!(failed, vec![2, 3]);
    assert_eq!(bad.components[2].verdict(1e-6.into()), Verdict::Fail);
    let report = bad.report(1e-6);
    assert!(
        report.contains("input x = [3/10, -7/5, 11/4, -2/3, 9/8]"),
        "{report}"
    );
    assert!(
        report.contains("expected (fd)") && report.contains("actual"),
        "{report}"
    );
    assert_eq!(report.matches("FAIL").count(), 2, "{report}");
    assert_eq!(report.matches("PASS").count(), 3, "{report}");

    // A NaN claim fails instead of panicking; f32 claims work with a looser tolerance.
    let mut nan = exact.clone();
    nan[0] = f64::NAN;
    let c = check_gradient(five, &at, &nan, &opts).unwrap();
    assert_eq!(c.failures(1e-6).len(), 1);
    let single: Vec<f32> = exact.iter().map(|v| *v as f32).collect();
    let c = check_gradient(five, &at, &single, &opts).unwrap();
    assert!(c.passed(1e-6) && !c.passed(1e-12));
}

#[test]
fn bad_arguments_are_errors() {
    let opts = FdOptions::default();
    let e = derivative(five, &five_point(), 5, &opts).unwrap_err();
    assert!(matches!(e, Error::Domain { arg: "index", .. }));
    let e = check_gradient(five, &five_point(), &[1.0, 2.0], &opts).unwrap_err();
    assert!(matches!(e, Error::Domain { arg: "claimed", .. }));
    let zero_step = FdOptions {
        step: Rational::new(),
        ..FdOptions::default()
    };
    let e = derivative(five, &five_point(), 0, &zero_step).unwrap_err();
    assert!(matches!(e, Error::Domain { arg: "step", .. }));
    // A domain error of f (ψ outside [−1, 1]) is passed on.
    let e = derivative(psi_c(4), &[Rational::from(1)], 0, &opts).unwrap_err();
    assert!(matches!(e, Error::Domain { arg: "cos", .. }), "{e}");
}
