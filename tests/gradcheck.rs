//! The loss oracle's analytic gradients against high-precision finite differences of
//! the loss enclosure, at random and adversarial points, and the checker catching
//! deliberately wrong gradients built from the formulas.

use asoftmax_spec::Error;
use asoftmax_spec::arith::{Approx, Ival};
use asoftmax_spec::conformance::gradcheck::{GradCheck, Tolerance, check_gradient};
use asoftmax_spec::fd::FdOptions;
use asoftmax_spec::loss::{Backward, LossSpec, Variant, loss, loss_enclosure};
use asoftmax_spec::psi::{dpsi_dcos_exact, psi_cos_exact};
use proptest::prelude::*;
use rug::float::Constant;
use rug::{Float, Rational};

/// The batch and loss parameters; the parameter vector of the checks is `x ++ W`
/// flattened row by row.
#[derive(Clone, Debug)]
struct Case {
    x: Vec<Vec<Rational>>,
    w: Vec<Vec<Rational>>,
    y: Vec<usize>,
    m: u32,
    lambda: u32,
    scale: u32,
    variant: Variant,
}

impl Case {
    fn params(&self) -> Vec<Rational> {
        self.x.iter().chain(&self.w).flatten().cloned().collect()
    }

    /// The spec at the parameter vector `p` (same shapes as `self`).
    fn spec_at(&self, p: &[Rational]) -> LossSpec {
        let d = self.x[0].len();
        let rows: Vec<Vec<Rational>> = p.chunks(d).map(<[Rational]>::to_vec).collect();
        let (x, w) = rows.split_at(self.x.len());
        let mut spec = LossSpec::new(
            x.to_vec(),
            w.to_vec(),
            self.y.clone(),
            Rational::from(self.m),
        );
        spec.lambda = Rational::from(self.lambda);
        spec.scale = Rational::from(self.scale);
        spec.variant = self.variant;
        spec.backward = Backward::Full;
        spec
    }

    /// The loss as a function of the parameter vector, for the FD checker.
    fn loss_fn(&self) -> impl Fn(&[Rational], u32) -> Result<Option<Ival>, Error> + '_ {
        move |p, wp| loss_enclosure(&self.spec_at(p), wp)
    }

    /// The oracle's analytic gradient `(∂L/∂X, ∂L/∂W)`, flattened.
    fn analytic(&self) -> Vec<Approx> {
        let out = loss(&self.spec_at(&self.params()), true, 128).expect("loss oracle");
        let gx = out.grad_x.expect("grad_x");
        let gw = out.grad_w.expect("grad_w");
        gx.into_iter().chain(gw).flatten().collect()
    }

    fn check<C: asoftmax_spec::conformance::gradcheck::Claim>(&self, claimed: &[C]) -> GradCheck {
        check_gradient(
            self.loss_fn(),
            &self.params(),
            claimed,
            &FdOptions::default(),
        )
        .expect("finite differences")
    }
}

/// Agreement required between the oracle's gradient and the FD estimate: far below
/// anything a wrong formula could produce, far above the FD error (≈ 2^−160·|L|).
const TOL: Tolerance = Tolerance {
    abs: 1e-30,
    rel: 1e-30,
};

fn assert_passes(case: &Case) -> Result<(), TestCaseError> {
    let check = case.check(&case.analytic());
    prop_assert!(check.passed(TOL), "{case:?}\n{}", check.report(TOL));
    Ok(())
}

// ---------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------

/// A rational `k/16`, `|k| ≤ 48`.
fn entry() -> impl Strategy<Value = Rational> {
    (-48i32..=48).prop_map(|k| Rational::from((k, 16)))
}

fn nonzero_row(d: usize) -> impl Strategy<Value = Vec<Rational>> {
    prop::collection::vec(entry(), d).prop_filter("nonzero row", |r| r.iter().any(|v| *v != 0))
}

fn variant() -> impl Strategy<Value = Variant> {
    prop_oneof![Just(Variant::ASoftmax), Just(Variant::LSoftmax)]
}

/// `(m, λ, s, variant)`.
fn params() -> impl Strategy<Value = (u32, u32, u32, Variant)> {
    (
        1u32..=5,
        prop::sample::select(vec![0u32, 5, 1000]),
        prop::sample::select(vec![1u32, 64]),
        variant(),
    )
}

/// A random batch: `N ∈ 1..=2`, `C ∈ 2..=3`, `d ∈ 2..=3`.
fn random_case() -> impl Strategy<Value = Case> {
    (1usize..=2, 2usize..=3, 2usize..=3, params()).prop_flat_map(
        |(n, c, d, (m, lambda, scale, variant))| {
            (
                prop::collection::vec(nonzero_row(d), n),
                prop::collection::vec(nonzero_row(d), c),
                prop::collection::vec(0..c, n),
            )
                .prop_map(move |(x, w, y)| Case {
                    x,
                    w,
                    y,
                    m,
                    lambda,
                    scale,
                    variant,
                })
        },
    )
}

/// `10^−20` as a rational.
fn tiny() -> Rational {
    Rational::from((1, rug::Integer::from(rug::Integer::u_pow_u(10, 20))))
}

/// One sample nearly parallel to its target row: `x = t·W_y + 10^−20·e_k` (or exactly
/// parallel), plus a second random class.
fn nearly_parallel_case() -> impl Strategy<Value = Case> {
    (
        nonzero_row(3),
        nonzero_row(3),
        1i32..=8,
        0usize..3,
        prop::bool::ANY,
        params(),
    )
        .prop_map(|(wy, other, t, k, exact, (m, lambda, scale, variant))| {
            let mut x: Vec<Rational> = wy.iter().map(|v| Rational::from(v * t) / 4).collect();
            if !exact {
                x[k] += tiny();
            }
            Case {
                x: vec![x],
                w: vec![wy, other],
                y: vec![0],
                m: m.max(2),
                lambda,
                scale,
                variant,
            }
        })
}

/// A rational within 2^−200 of `v`.
fn rational_near(v: &Float) -> Rational {
    let r = Float::with_val(200, v);
    r.to_rational().expect("finite")
}

/// One sample whose target angle is `jπ/m ± 10^−20` (so `c` is within ~10^−20 of the
/// branch point `cos(jπ/m)`), in the plane of `W_y = (a, 0, 0)`, plus a random class.
fn near_branch_case() -> impl Strategy<Value = Case> {
    (
        2u32..=5,
        1u32..=4,
        prop::bool::ANY,
        1i32..=32,
        1i32..=32,
        nonzero_row(3),
        params(),
    )
        .prop_map(|(m, j, plus, a, rho, other, (_, lambda, scale, variant))| {
            let j = 1 + (j - 1) % (m - 1);
            let pi = Float::with_val(256, Constant::Pi);
            let off = Float::with_val(256, &tiny()) * if plus { 1 } else { -1 };
            let theta: Float = Float::with_val(256, pi * j / m) + off;
            let rho: Float = Float::with_val(256, rho) / 8;
            let x = vec![
                rational_near(&(Float::with_val(256, theta.cos_ref()) * &rho)),
                rational_near(&(Float::with_val(256, theta.sin_ref()) * &rho)),
                Rational::new(),
            ];
            Case {
                x: vec![x],
                w: vec![
                    vec![Rational::from((a, 8)), Rational::new(), Rational::new()],
                    other,
                ],
                y: vec![0],
                m,
                lambda,
                scale,
                variant,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn full_gradients_agree_with_fd_at_random_points(case in random_case()) {
        assert_passes(&case)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn full_gradients_agree_with_fd_nearly_parallel(case in nearly_parallel_case()) {
        assert_passes(&case)?;
    }

    #[test]
    fn full_gradients_agree_with_fd_near_a_branch_point(case in near_branch_case()) {
        assert_passes(&case)?;
    }
}

#[test]
fn large_scale_and_large_annealing_weight() {
    // s = 64 with ‖x‖ ≈ 4: logits in the hundreds, a loss far from 0.
    let q = |n: i32, d: i32| Rational::from((n, d));
    for variant in [Variant::ASoftmax, Variant::LSoftmax] {
        for lambda in [0, 5, 1000] {
            let case = Case {
                x: vec![
                    vec![q(3, 1), q(-5, 2), q(1, 3)],
                    vec![q(-1, 2), q(7, 4), q(2, 1)],
                ],
                w: vec![
                    vec![q(1, 1), q(1, 2), q(0, 1)],
                    vec![q(-2, 3), q(1, 1), q(1, 1)],
                    vec![q(0, 1), q(-1, 1), q(3, 2)],
                ],
                y: vec![1, 2],
                m: 4,
                lambda,
                scale: 64,
                variant,
            };
            assert_passes(&case).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// Deliberately wrong gradients, built from the formulas.
// ---------------------------------------------------------------------------

/// A mistake in an A-Softmax gradient implementation.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mistake {
    /// None: the correct formulas (a cross-check of the oracle).
    None,
    /// `∂f/∂W = coeff·x/‖W‖` instead of `coeff·(x − (ŵ·x)ŵ)/‖W‖`.
    NoProjection,
    /// `φ = ψ/(1 + λ)` instead of `(λc + ψ)/(1 + λ)`.
    BlendWithoutLambdaC,
}

const WP: u32 = 256;

fn fl(r: &Rational) -> Float {
    Float::with_val(WP, r)
}

fn dotf(a: &[Float], b: &[Float]) -> Float {
    a.iter().zip(b).fold(Float::new(WP), |acc, (u, v)| {
        acc + Float::with_val(WP, u * v)
    })
}

/// The A-Softmax (`Full`) gradient `(∂L/∂X, ∂L/∂W)` from the formulas of the math notes,
/// in 256-bit floats, with an optional mistake:
/// `∂ℓ/∂f_j = p_j − [j = y]`, `∂f_j/∂x = s·ŵ_j`, `∂f_y/∂x = s·(φ′ŵ + (φ − cφ′)x/r)`,
/// `∂f_j/∂W_j = s·h′(c_j)·(x − (ŵ_j·x)ŵ_j)/‖W_j‖`.
fn formula_gradient(case: &Case, mistake: Mistake) -> Vec<Float> {
    assert_eq!(case.variant, Variant::ASoftmax);
    let d = case.x[0].len();
    let n = case.x.len() as u32;
    let (lam, s) = (
        Float::with_val(WP, case.lambda),
        Float::with_val(WP, case.scale),
    );
    let w: Vec<Vec<Float>> = case.w.iter().map(|r| r.iter().map(fl).collect()).collect();
    let nu: Vec<Float> = w.iter().map(|r| dotf(r, r).sqrt()).collect();
    let what: Vec<Vec<Float>> = w
        .iter()
        .zip(&nu)
        .map(|(r, nu)| r.iter().map(|v| Float::with_val(WP, v / nu)).collect())
        .collect();
    let mut gx = vec![vec![Float::new(WP); d]; case.x.len()];
    let mut gw = vec![vec![Float::new(WP); d]; case.w.len()];
    for (i, xr) in case.x.iter().enumerate() {
        let x: Vec<Float> = xr.iter().map(fl).collect();
        let r = dotf(&x, &x).sqrt();
        let yi = case.y[i];
        let cs: Vec<Float> = what.iter().map(|wh| dotf(wh, &x) / &r).collect();
        // φ(c_y), φ′(c_y) from ψ at the (256-bit) rational value of c_y.
        let cy = cs[yi].to_rational().unwrap();
        let psi = fl(&psi_cos_exact(case.m, &cy).unwrap());
        let dpsi = fl(&dpsi_dcos_exact(case.m, &cy).unwrap());
        let one_l = Float::with_val(WP, &lam + 1u32);
        let (phi, dphi) = match mistake {
            Mistake::BlendWithoutLambdaC => (psi / &one_l, dpsi / &one_l),
            _ => (
                (Float::with_val(WP, &lam * &cs[yi]) + psi) / &one_l,
                (Float::with_val(WP, &lam + &dpsi)) / &one_l,
            ),
        };
        // Logits and softmax.
        let f: Vec<Float> = (0..case.w.len())
            .map(|j| {
                let h = if j == yi { phi.clone() } else { cs[j].clone() };
                Float::with_val(WP, &s * &r) * h
            })
            .collect();
        let fmax = f
            .iter()
            .fold(f[0].clone(), |a, b| if *b > a { b.clone() } else { a });
        let e: Vec<Float> = f
            .iter()
            .map(|v| Float::with_val(WP, v - &fmax).exp())
            .collect();
        let z = e.iter().fold(Float::new(WP), |a, b| a + b);
        for j in 0..case.w.len() {
            let g = (Float::with_val(WP, &e[j] / &z) - u32::from(j == yi)) / n;
            let (h, dh) = if j == yi {
                (phi.clone(), dphi.clone())
            } else {
                (cs[j].clone(), Float::with_val(WP, 1))
            };
            let gs = Float::with_val(WP, &g * &s);
            let wx = dotf(&what[j], &x);
            let radial = Float::with_val(WP, &h - Float::with_val(WP, &cs[j] * &dh)) / &r;
            for k in 0..d {
                gx[i][k] += Float::with_val(WP, &dh * &what[j][k]) * &gs
                    + Float::with_val(WP, &radial * &x[k]) * &gs;
                let p = match mistake {
                    Mistake::NoProjection => x[k].clone(),
                    _ => Float::with_val(WP, &x[k] - Float::with_val(WP, &wx * &what[j][k])),
                };
                gw[j][k] += p * &dh / &nu[j] * &gs;
            }
        }
    }
    gx.into_iter().chain(gw).flatten().collect()
}

fn fixed_case(lambda: u32, scale: u32) -> Case {
    let q = |n: i32, d: i32| Rational::from((n, d));
    Case {
        x: vec![
            vec![q(3, 4), q(-1, 2), q(5, 4)],
            vec![q(-1, 1), q(1, 4), q(1, 2)],
        ],
        w: vec![
            vec![q(1, 1), q(1, 2), q(1, 4)],
            vec![q(-1, 2), q(1, 1), q(3, 4)],
            vec![q(1, 4), q(-3, 4), q(1, 1)],
        ],
        y: vec![0, 2],
        m: 4,
        lambda,
        scale,
        variant: Variant::ASoftmax,
    }
}

#[test]
fn the_formulas_agree_with_the_oracle_and_with_fd() {
    for (lambda, scale) in [(0, 1), (5, 1), (1000, 64)] {
        let case = fixed_case(lambda, scale);
        let formula = formula_gradient(&case, Mistake::None);
        let check = case.check(&formula);
        assert!(check.passed(TOL), "{}", check.report(TOL));
        let oracle = case.analytic();
        for (a, b) in oracle.iter().zip(&formula) {
            // The oracle is determined to 128 bits.
            let diff = Float::with_val(WP, a.mid() - b).abs();
            let scale = Float::with_val(WP, b.abs_ref()).max(&Float::with_val(WP, 1e-30));
            assert!(diff < scale * 1e-36, "oracle {} formula {b}", a.decimal());
        }
    }
}

/// The components whose check does not pass at a loose `1e−6` tolerance.
fn failing(case: &Case, claimed: &[Float]) -> Vec<usize> {
    let check = case.check(claimed);
    let bad: Vec<usize> = check.failures(1e-6).iter().map(|c| c.index).collect();
    assert!(!check.passed(1e-6));
    println!("{}", check.report(1e-6));
    bad
}

#[test]
fn wrong_sign_is_caught() {
    let case = fixed_case(5, 1);
    let flipped: Vec<Float> = case.analytic().iter().map(|a| -a.mid()).collect();
    // Every nonzero component fails.
    let nonzero = flipped.iter().filter(|v| !v.is_zero()).count();
    assert_eq!(failing(&case, &flipped).len(), nonzero);
    assert!(nonzero > 10);
}

#[test]
fn missing_normalization_projection_is_caught() {
    let case = fixed_case(5, 1);
    let wrong = formula_gradient(&case, Mistake::NoProjection);
    let bad = failing(&case, &wrong);
    // Only the W part (after the 2·3 entries of X) is wrong, and all of it.
    assert_eq!(bad, (6..15).collect::<Vec<_>>());
}

#[test]
fn annealing_blend_without_lambda_c_is_caught() {
    for scale in [1, 64] {
        let case = fixed_case(5, scale);
        let wrong = formula_gradient(&case, Mistake::BlendWithoutLambdaC);
        let bad = failing(&case, &wrong);
        assert!(bad.len() >= 12, "{bad:?}");
    }
    // With λ = 0 the blend is the same formula: nothing to catch.
    let case = fixed_case(0, 1);
    let same = formula_gradient(&case, Mistake::BlendWithoutLambdaC);
    assert!(case.check(&same).passed(TOL));
}
