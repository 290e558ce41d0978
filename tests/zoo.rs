//! The published-formula zoo against the exact oracle: rough agreement at generic
//! interior points, and deterministic tests that pin each known flaw with the number
//! measured for it (in comments; "u23" = units of 2⁻²³ absolute, as in the notes).
//!
//! The numbers were measured on x86-64 Linux (glibc libm); the ports call the platform
//! `acos`/`cos`/`pow`, so a different libm may move the last digit of the f32 figures.

use asoftmax_spec::arith::rational_from_f64;
use asoftmax_spec::conformance::ScalarKernel;
use asoftmax_spec::psi::{branch_from_cos, dpsi_dcos_exact, psi_cos_exact};
use asoftmax_spec::zoo::*;
use rug::Rational;

const U23: f64 = 8_388_608.0; // 2^23

fn exact(v: f64) -> Rational {
    rational_from_f64(v).unwrap()
}

/// |v − x| computed exactly, rounded to f64 (∞ for NaN/∞ v).
fn err(v: f64, x: &Rational) -> f64 {
    match rational_from_f64(v) {
        Ok(r) => Rational::from(&r - x).to_f64().abs(),
        Err(_) => f64::INFINITY,
    }
}

fn psi_x(m: u32, c: f64) -> Rational {
    psi_cos_exact(m, &exact(c)).unwrap()
}

fn dpsi_x(m: u32, c: f64) -> Rational {
    dpsi_dcos_exact(m, &exact(c)).unwrap()
}

fn next_up32(c: f32) -> f32 {
    f32::from_bits(if c >= 0.0 {
        c.to_bits() + 1
    } else {
        c.to_bits() - 1
    })
}

#[test]
fn registry_names_and_margins() {
    let names: Vec<String> = all_f32().iter().map(|k| k.name()).collect();
    let expected = [
        "binomial+acos-k",
        "acos-clamp-1e-5",
        "acos-clamp-1e-7",
        "caffe-sign-trick",
        "hardcoded-T-truncated-pi",
        "taylor-cos-x9",
    ];
    assert_eq!(names, expected);
    let names64: Vec<String> = all_f64().iter().map(|k| k.name()).collect();
    assert_eq!(names64, expected);
    let max_m: Vec<u32> = all_f64()
        .iter()
        .map(|k| (1..=64).filter(|&m| k.supports(m)).max().unwrap())
        .collect();
    assert_eq!(max_m, [16, 16, 16, 4, 5, 16]);
    assert!(all_f32().iter().all(|k| !k.supports(0)));
}

/// Every port agrees roughly with the oracle on a grid of interior cosines
/// `c ∈ [−0.999, 0.999]` (step 0.004), for every margin it supports.
///
/// Measured maxima over the step-0.001 grid (absolute error of ψ / of dψ/dc):
/// - binomial: f32 ψ 3.8e−7 (m = 4) … 1.2e−5 (m = 16), f64 6.9e−16 … 2.0e−14;
///   dψ/dc f32 up to 1.9e−4, f64 3.7e−13 (m = 16);
/// - acos-clamp (both ε, identical inside the clamp): f32 ψ 8.4e−7 (m = 4) … 4.6e−6,
///   f64 ≤ 6.9e−15; dψ/dc f32 7.1e−5 (m = 4) … 1.2e−3 (m = 14, near |c| = 0.999 where
///   1/sin θ amplifies), f64 ≤ 1.7e−12;
/// - caffe: f32 ψ 1.8e−7 / 4.6e−7 / 5.2e−7 for m = 2/3/4 (0 for m = 1), dψ/dc ≤ 9.5e−7;
///   f64 ≤ 9.7e−16, dψ/dc ≤ 1.8e−15;
/// - hardcoded-T: like caffe for m ≤ 4, m = 5: f32 ψ 2.0e−6, dψ/dc 6.9e−6.
///
/// The Taylor variant is only ψ-like near θ = 0; see `taylor_series_is_only_local`.
#[test]
fn interior_agreement() {
    let (k32, k64) = (all_f32(), all_f64());
    for (a, b) in k32.iter().zip(&k64) {
        if a.name() == "taylor-cos-x9" {
            continue;
        }
        for m in (1..=16).filter(|&m| b.supports(m)) {
            let mf = f64::from(m);
            let (tol_psi32, tol_psi64) = (4e-7 * mf * mf, 1e-15 * mf * mf);
            let (tol_d32, tol_d64) = (1e-5 * mf.powi(3), 2e-14 * mf.powi(3));
            for i in 0..=499 {
                let c = -0.999 + f64::from(i) * 0.004;
                let c32 = c as f32;
                let cw = f64::from(c32);
                let e = err(f64::from(a.psi(m, c32)), &psi_x(m, cw));
                assert!(
                    e <= tol_psi32,
                    "{} m={m} c={c32}: f32 ψ err {e:e}",
                    a.name()
                );
                let e = err(b.psi(m, c), &psi_x(m, c));
                assert!(e <= tol_psi64, "{} m={m} c={c}: f64 ψ err {e:e}", b.name());
                let e = err(f64::from(a.dpsi_dcos(m, c32)), &dpsi_x(m, cw));
                assert!(e <= tol_d32, "{} m={m} c={c32}: f32 dψ err {e:e}", a.name());
                let e = err(b.dpsi_dcos(m, c), &dpsi_x(m, c));
                assert!(e <= tol_d64, "{} m={m} c={c}: f64 dψ err {e:e}", b.name());
                // cos_m is T_m(c) for every port but Taylor.
                let t = asoftmax_spec::multiangle::cos_m_recurrence(m, &exact(c));
                assert!(err(b.cos_m(m, c), &t) <= tol_psi64, "{} cos_m", b.name());
            }
        }
    }
}

/// opensphere's clamp `c ∈ [−1 + ε, 1 − ε]` freezes ψ on the ε-bands at the ends.
///
/// Measured, f32, m = 4 (`1 − 1e−5` rounds to 0.99998999, `1 − 1e−7` to 1 − 2⁻²³):
/// - ε = 1e−5: ψ(1) = 0.9998398 and ψ(−1) = −6.99984, both off by exactly 1344 u23
///   (= 16·ε_f32 = 1.60e−4); ψ(0.999999) still off by 1208 u23; dψ/dc = 0 on the band
///   (exact ≈ 16);
/// - ε = 1e−7: 16 u23 at c = ±1 (notes: ≈ 16), dψ/dc(±1) = 0;
/// - the band error is ≈ m²·ε: at c = ±1, ε = 1e−5: 336 u23 (m = 2), 756 (m = 3),
///   2100 (m = 5), 5376 (m = 8), 21495 (m = 16); f64 m = 4: 1.600e−4.
#[test]
fn acos_clamp_band_at_unit_cosine() {
    let wide: &dyn ScalarKernel<f32> = &AcosClamp::OPENSPHERE;
    let tight: &dyn ScalarKernel<f32> = &AcosClamp::TIGHT;
    for c in [1.0f32, -1.0] {
        let x = psi_x(4, f64::from(c));
        assert_eq!(err(f64::from(wide.psi(4, c)), &x) * U23, 1344.0);
        assert_eq!(err(f64::from(tight.psi(4, c)), &x) * U23, 16.0);
        assert_eq!(wide.dpsi_dcos(4, c), 0.0);
        assert_eq!(tight.dpsi_dcos(4, c), 0.0);
        assert_eq!(dpsi_x(4, f64::from(c)), 16);
    }
    let e = err(
        f64::from(wide.psi(4, 0.999_999)),
        &psi_x(4, f64::from(0.999_999f32)),
    );
    assert!((e * U23 - 1208.0).abs() < 0.5, "{}", e * U23);
    assert_eq!(wide.dpsi_dcos(4, 0.999_999), 0.0);
    // Just inside the clamp the derivative is back (≈ 15.99916 vs exact 15.99920).
    let d = wide.dpsi_dcos(4, 0.99999);
    assert!((f64::from(d) - 15.999_199).abs() < 1e-4, "{d}");
    // ≈ m²·ε across margins (f32, c = 1, ε = 1e−5).
    for (m, units) in [(2u32, 336.0), (3, 756.0), (5, 2100.0), (8, 5376.0)] {
        let e = err(f64::from(wide.psi(m, 1.0)), &psi_x(m, 1.0)) * U23;
        assert!((e - units).abs() <= 2.0, "m={m}: {e}");
    }
    let e = err(AcosClamp::OPENSPHERE.psi(4, 1.0f64), &psi_x(4, 1.0));
    assert!((e - 1.6e-4).abs() < 1e-7, "{e:e}");
}

/// sphereface_pytorch's `k = ⌊mθ/3.14159265⌋`: in f64 the constant is π − 3.59e−9, so
/// `k` is one too large just above each threshold `c = cos(jπ/m)`.
///
/// Measured, f64, scanning c = t + n·1e−11 above each threshold t: the wrong-k window
/// reaches c − t = 6.3e−10 (m = 4, j = 1), 1.79e−9 (m = 4, j = 2, i.e. c ∈ (0, 1.79e−9]),
/// 1.90e−9 (m = 4, j = 3); 1.03e−9 / 2.07e−9 for m = 3. On it ψ is off by at most
/// 4.5e−16 (m = 4; 2.7e−15 for m = 5, polynomial rounding included) — invisible —
/// but dψ/dc has the wrong sign, off by up to 4.0e−8 (m = 4, j = 1), 1.2e−7 (j = 3),
/// 2.4e−7 (m = 5, j = 4).
///
/// In f32 the literal rounds to fl32(π) = 3.14159274 (> π): the truncation disappears,
/// and the f32 branch errors near thresholds (1–3 wrong f32 values within ±64 ulps of
/// cos(jπ/m) for m = 3, 4, 5, from acos rounding) are the same as opensphere's and
/// pytorch-metric-learning's; ψ there stays within 2 u23 (m ≤ 4).
#[test]
fn truncated_pi_branch_window() {
    assert_eq!(TRUNCATED_PI as f32, std::f32::consts::PI);
    assert_eq!(
        std::f64::consts::PI - TRUNCATED_PI,
        3.589_792_907_376_932e-9
    );
    let k: &dyn ScalarKernel<f64> = &HardCodedT;
    let t = std::f64::consts::FRAC_1_SQRT_2; // 0.70710678118654757 > cos(π/4)
    let inside = t + 3e-10;
    assert_eq!(HardCodedT::branch(4, inside), 1.0);
    assert_eq!(branch_from_cos(4, &exact(inside)).unwrap(), 0);
    assert_eq!(AcosClamp::OPENSPHERE.branch(4, inside), 0.0); // uses fl(π): right here
    assert!(err(k.psi(4, inside), &psi_x(4, inside)) <= 4.5e-16);
    let (d, dx) = (k.dpsi_dcos(4, inside), dpsi_x(4, inside).to_f64());
    assert!(d * dx < 0.0, "sign flip: {d:e} vs exact {dx:e}");
    assert!((d - dx).abs() < 4.1e-8);
    // Past the window's edge (6.3e−10) the branch is right again.
    let outside = t + 7e-10;
    assert_eq!(HardCodedT::branch(4, outside), 0.0);
    // j = 2: c ∈ (0, 1.79e−9] lands on branch 2 instead of 1.
    assert_eq!(HardCodedT::branch(4, 1e-9), 2.0);
    assert_eq!(branch_from_cos(4, &exact(1e-9)).unwrap(), 1);
    assert_eq!(HardCodedT::branch(4, 2e-9), 1.0);
}

/// Found by the exhaustive tier (`docs/exhaustive/zoo-f32-m4.jsonl`): in `f32`, for every
/// `0 < c < 1.59e−8`, `acosf(c)` returns fl(π/2) = 2·fl(π/4) (just above π/2), so
/// `k = ⌊acos(c)/(π/m)⌋` is one too high for even m (2 instead of 1 at m = 4): ψ is
/// continuous there and stays right, dψ/dc has the wrong sign. Just above that bound
/// `acosf` rounds below π/2 and the sign is right again.
#[test]
fn wrong_branch_at_tiny_positive_cosines_in_f32() {
    let bound = 1.59e-8f32;
    for c in [f32::from_bits(1), 1e-30, 1e-9, 1.5e-8] {
        assert_eq!(c.acos(), std::f32::consts::FRAC_PI_2, "{c:e}");
        assert_eq!(branch_from_cos(4, &exact(f64::from(c))).unwrap(), 1);
        let want = dpsi_x(4, f64::from(c)).to_f64();
        assert!(want > 0.0);
        for k in [&Binomial as &dyn ScalarKernel<f32>, &HardCodedT] {
            assert_eq!(k.dpsi_dcos(4, c), -(want as f32), "{} at {c:e}", k.name());
            // ψ = −T_4(c) − 2 = −3 + 8c² − 8c⁴, within 2⁻⁴⁸ of −3: f32 rounds it to −3.
            assert_eq!(k.psi(4, c), -3.0, "{} at {c:e}", k.name());
        }
    }
    for c in [1.6e-8f32, 1e-7] {
        assert!(c > bound && c.acos() < std::f32::consts::FRAC_PI_2);
        assert!(ScalarKernel::<f32>::dpsi_dcos(&Binomial, 4, c) > 0.0);
        assert!(ScalarKernel::<f32>::dpsi_dcos(&HardCodedT, 4, c) > 0.0);
    }
}

/// pytorch-metric-learning and sphereface_pytorch take `k = ⌊acos(−1)·m/π⌋ = m` at c = −1
/// (one past the last branch, in f32 and f64, every m): ψ(−1) = 1 − 2m is still exact
/// (continuity), but dψ/dc(−1) = −m² instead of +m² — an error of 2m² (measured: 8, 18,
/// 32 for m = 2, 3, 4). opensphere's clamp avoids k = m but gives dψ/dc(−1) = 0.
#[test]
fn branch_past_the_end_at_minus_one() {
    for m in 1..=16u32 {
        let m2 = f64::from(m * m);
        let one_minus_2m = 1.0 - 2.0 * f64::from(m);
        assert_eq!(Binomial::branch(m, -1.0f32), m as f32);
        assert_eq!(Binomial::branch(m, -1.0f64), f64::from(m));
        assert_eq!(ScalarKernel::<f64>::psi(&Binomial, m, -1.0), one_minus_2m);
        assert_eq!(
            ScalarKernel::<f32>::psi(&Binomial, m, -1.0),
            one_minus_2m as f32
        );
        assert_eq!(ScalarKernel::<f64>::dpsi_dcos(&Binomial, m, -1.0), -m2);
        assert_eq!(
            ScalarKernel::<f32>::dpsi_dcos(&Binomial, m, -1.0),
            -m2 as f32
        );
        assert_eq!(dpsi_x(m, -1.0), m * m);
        assert_eq!(
            ScalarKernel::<f64>::dpsi_dcos(&AcosClamp::OPENSPHERE, m, -1.0),
            0.0
        );
        if m <= 5 {
            assert_eq!(HardCodedT::branch(m, -1.0f64), f64::from(m));
            assert_eq!(HardCodedT::branch(m, -1.0f32), m as f32);
            assert_eq!(ScalarKernel::<f64>::psi(&HardCodedT, m, -1.0), one_minus_2m);
            assert_eq!(ScalarKernel::<f64>::dpsi_dcos(&HardCodedT, m, -1.0), -m2);
            assert_eq!(
                ScalarKernel::<f32>::dpsi_dcos(&HardCodedT, m, -1.0),
                -m2 as f32
            );
        }
    }
}

/// sphereface_pytorch's Taylor path: `clamp(myphi(mθ), −m, 1)` with a spurious `− x⁹/9!`
/// term and no branch index.
///
/// Measured, f64, max |ψ − ψ_exact| over mθ ∈ [0, a] (any m): a = π/4: 2.9e−7;
/// π/2: 1.36e−4; 3π/4: 4.8e−3; π: 5.8e−2 (m ≥ 2; myphi(π) = −1.0582). Over all of
/// [−1, 1] the error is m − 1 at c = −1 (ψ = −m instead of 1 − 2m), e.g. 3 for m = 4.
/// dψ/dc is NaN at c = ±1 for every m, in f32 and f64 (0·acos′ = 0·(−∞)).
#[test]
fn taylor_series_is_only_local() {
    let k32: &dyn ScalarKernel<f32> = &TaylorCos;
    let k64: &dyn ScalarKernel<f64> = &TaylorCos;
    for m in 1..=16u32 {
        for c in [1.0, -1.0] {
            assert!(k64.dpsi_dcos(m, c).is_nan(), "m={m} c={c}");
            assert!(k32.dpsi_dcos(m, c as f32).is_nan(), "m={m} c={c}");
        }
        assert_eq!(k64.psi(m, 1.0), 1.0);
        assert_eq!(k64.psi(m, -1.0), -f64::from(m));
        // One ulp inside, the derivative is finite.
        assert!(k64.dpsi_dcos(m, 1.0 - f64::EPSILON / 2.0).is_finite());
        assert!(k32.dpsi_dcos(m, next_up32(-1.0)).is_finite());
    }
    let pi = std::f64::consts::PI;
    for (a, tol64, tol32) in [(pi / 4.0, 3e-7, 1.5e-6), (pi / 2.0, 1.4e-4, 1.5e-4)] {
        for m in [1u32, 2, 4, 8, 16] {
            for i in 0..=200 {
                let c = (a / f64::from(m) * f64::from(i) / 200.0).cos();
                let e = err(k64.psi(m, c), &psi_x(m, c));
                assert!(e <= tol64, "m={m} c={c}: {e:e}");
                let c32 = c as f32;
                let e = err(f64::from(k32.psi(m, c32)), &psi_x(m, f64::from(c32)));
                assert!(e <= tol32, "m={m} c={c32}: f32 {e:e}");
            }
        }
    }
    let at_pi = TaylorCos::myphi(pi);
    assert!((at_pi + 1.0582).abs() < 1e-4, "{at_pi}");
    // With the correct even term instead of −x⁹/9! the series is within 0.03 of −1 at π.
    let fixed = at_pi + pi.powi(9) / 362_880.0 - pi.powi(10) / 3_628_800.0;
    assert!((fixed + 1.0).abs() < 0.03, "{fixed}");
}

/// The original Caffe sign trick: exact at every tie (the vanishing signs give the
/// continuous value) and at c = ±1; near the irrational thresholds the only error is
/// the polynomial's rounding.
///
/// Measured, f32, all floats within ±64 ulps of each threshold (m = 2: 0; m = 3: ±1/2;
/// m = 4: ±1/√2, 0): max ψ error 2.0017 u23 (m = 4 at 1/√2; 0.5 at m = 3, c = 1/2;
/// 0.002 at the negative thresholds, ~0 at c = 0), and `2·fl(c²) − 1` never picked a
/// branch whose value differed from the exact ψ by more than that.
#[test]
fn caffe_sign_trick_exact_at_ties() {
    let k32: &dyn ScalarKernel<f32> = &OriginalCaffe;
    let k64: &dyn ScalarKernel<f64> = &OriginalCaffe;
    for m in 1..=4u32 {
        for c in [-1.0, -0.5, 0.0, 0.5, 1.0] {
            let x = psi_x(m, c);
            assert_eq!(err(k64.psi(m, c), &x), 0.0, "m={m} c={c}");
            assert_eq!(err(f64::from(k32.psi(m, c as f32)), &x), 0.0, "m={m} c={c}");
            assert_eq!(err(k64.dpsi_dcos(m, c), &dpsi_x(m, c)), 0.0, "m={m} c={c}");
        }
    }
    assert_eq!(k64.psi(3, 0.5), -1.0);
    assert_eq!(k64.psi(3, -0.5), -3.0);
    assert_eq!(k64.psi(4, 0.0), -3.0);
    assert!(k64.psi(5, 0.3).is_nan()); // the layer has no m = 5
    let r = std::f64::consts::FRAC_1_SQRT_2;
    for (m, t) in [
        (2u32, 0.0f64),
        (3, 0.5),
        (3, -0.5),
        (4, r),
        (4, -r),
        (4, 0.0),
    ] {
        let mut c = t as f32;
        for _ in 0..64 {
            c = f32::from_bits(if c > 0.0 {
                c.to_bits() - 1
            } else {
                c.to_bits() + 1
            });
        }
        if t == 0.0 {
            c = -f32::from_bits(64);
        }
        for _ in 0..129 {
            let e = err(f64::from(k32.psi(m, c)), &psi_x(m, f64::from(c))) * U23;
            assert!(e <= 2.01, "m={m} c={c}: {e} u23");
            c = next_up32(c);
        }
    }
}

/// Just outside [−1, 1] (a normalized dot product can exceed 1 by an ulp), no port
/// returns NaN: the sphereface_pytorch and opensphere ones clamp first (gradient
/// masked to 0), the binomial evaluates `T_m(c) > 1` there, Caffe's polynomial is fine.
#[test]
fn one_ulp_outside_the_unit_interval() {
    for k in all_f64() {
        for c in [1.0 + f64::EPSILON, -1.0 - f64::EPSILON] {
            for m in (1..=5).filter(|&m| k.supports(m)) {
                assert!(k.psi(m, c).is_finite(), "{} m={m} c={c}", k.name());
                assert!(k.dpsi_dcos(m, c).is_finite(), "{} m={m} c={c}", k.name());
            }
        }
    }
    assert!(ScalarKernel::<f64>::psi(&Binomial, 4, 1.0 + f64::EPSILON) > 1.0);
    assert_eq!(
        ScalarKernel::<f64>::psi(&HardCodedT, 4, 1.0 + f64::EPSILON),
        1.0
    );
    assert_eq!(
        ScalarKernel::<f64>::dpsi_dcos(&TaylorCos, 4, 1.0 + f64::EPSILON),
        0.0
    );
}

// ---------------------------------------------------------------- Caffe backward

const X: [f64; 12] = [
    0.3, -1.2, 0.8, 2.0, 0.1, -0.5, -0.7, 0.4, 1.1, 0.9, -0.2, 0.6,
];
const W: [f64; 20] = [
    1.0, 0.2, -0.3, 0.5, 0.9, 0.1, -0.4, 0.3, 1.2, 0.7, -0.8, 0.2, 0.1, 0.1, 0.9, -1.0, 0.3, 0.6,
    0.2, 0.5,
];
const Y: [usize; 3] = [2, 0, 4];

/// Central differences of the layer's own (correct) forward loss, in f64.
fn fd_grads(m: u32, lambda: f64) -> (Vec<f64>, Vec<f64>) {
    let h = 1e-6;
    let f = |x: &[f64], w: &[f64]| caffe_backward(x, w, &Y, m, lambda, 1.0).0;
    let diff = |v: &[f64], i: usize, along_x: bool| {
        let (mut a, mut b) = (v.to_vec(), v.to_vec());
        a[i] += h;
        b[i] -= h;
        if along_x {
            (f(&a, &W) - f(&b, &W)) / (2.0 * h)
        } else {
            (f(&X, &a) - f(&X, &b)) / (2.0 * h)
        }
    };
    let gx = (0..X.len()).map(|i| diff(&X, i, true)).collect();
    let gw = (0..W.len()).map(|i| diff(&W, i, false)).collect();
    (gx, gw)
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let d: f64 = a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum();
    let n: f64 = b.iter().map(|v| v * v).sum();
    (d / n).sqrt()
}

/// The layer's forward loss is the A-Softmax loss (checked against an independent
/// evaluation with the exact ψ); its gradients are not the loss's gradients.
///
/// Measured relative error ‖g − g_fd‖/‖g_fd‖ on a 3×4 batch with 5 classes:
/// - grad_x: m = 1: 1e−9 (exact: plain inner product); m = 2/3/4 at λ = 0: 0.56 / 0.71 /
///   0.79; at λ = 5: 0.19 / 0.36 / 0.47; at λ = 1000: 1.4e−3 / 3.3e−3 / 4.8e−3
///   (the normalized target term is weighted 1/(1+λ));
/// - grad_w (top_diffᵀ·X, margin and renormalization ignored): 0.60 – 0.82 for every m
///   and λ, 0.77 already at m = 1.
#[test]
fn caffe_backward_is_not_the_gradient() {
    for (m, lambda, lo_x, hi_x) in [
        (2u32, 0.0, 0.5, 0.6),
        (3, 0.0, 0.65, 0.75),
        (4, 0.0, 0.75, 0.85),
        (4, 5.0, 0.42, 0.52),
        (4, 1000.0, 4e-3, 6e-3),
    ] {
        let (_, gx, gw) = caffe_backward(&X, &W, &Y, m, lambda, 1.0);
        let (fx, fw) = fd_grads(m, lambda);
        let (ex, ew) = (rel(&gx, &fx), rel(&gw, &fw));
        assert!(
            lo_x <= ex && ex <= hi_x,
            "m={m} λ={lambda}: grad_x rel err {ex}"
        );
        assert!(
            (0.55..0.85).contains(&ew),
            "m={m} λ={lambda}: grad_w rel err {ew}"
        );
    }
    let (_, gx, gw) = caffe_backward(&X, &W, &Y, 1, 0.0, 1.0);
    let (fx, fw) = fd_grads(1, 0.0);
    assert!(rel(&gx, &fx) < 1e-8);
    assert!((0.7..0.8).contains(&rel(&gw, &fw)));
}

/// The forward loss, recomputed here from the exact ψ (rounded to f64), agrees to 1e−13.
#[test]
fn caffe_forward_loss_matches_a_soft_max() {
    let (d, classes) = (4, 5);
    for m in 1..=4u32 {
        for lambda in [0.0, 5.0] {
            for s in [1.0, 2.5] {
                let (loss, gx, gw) = caffe_backward(&X, &W, &Y, m, lambda, s);
                assert_eq!((gx.len(), gw.len()), (12, 20));
                let mut want = 0.0;
                for (i, &y) in Y.iter().enumerate() {
                    let x = &X[i * d..(i + 1) * d];
                    let r = x.iter().map(|v| v * v).sum::<f64>().sqrt();
                    let f: Vec<f64> = (0..classes)
                        .map(|j| {
                            let w = &W[j * d..(j + 1) * d];
                            let wn = w.iter().map(|v| v * v).sum::<f64>().sqrt();
                            let xw: f64 = x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / wn;
                            let logit = if j == y && m > 1 {
                                let psi = psi_x(m, xw / r).to_f64();
                                (r * psi + lambda * xw) / (1.0 + lambda)
                            } else {
                                xw
                            };
                            s * logit
                        })
                        .collect();
                    let mx = f.iter().copied().fold(f64::MIN, f64::max);
                    let lse = mx + f.iter().map(|v| (v - mx).exp()).sum::<f64>().ln();
                    want += lse - f[y];
                }
                want /= Y.len() as f64;
                assert!(
                    (loss - want).abs() < 1e-13,
                    "m={m} λ={lambda} s={s}: {loss} vs {want}"
                );
                let (l32, _, _) = caffe_backward(
                    &X.map(|v| v as f32),
                    &W.map(|v| v as f32),
                    &Y,
                    m,
                    lambda as f32,
                    s as f32,
                );
                assert!(
                    (f64::from(l32) - want).abs() < 1e-5 * want,
                    "f32 {l32} vs {want}"
                );
            }
        }
    }
}

/// SoftmaxWithLoss floors the target probability at FLT_MIN (in f64 too): a hopeless
/// sample costs exactly −ln(FLT_MIN) = 87.3365, the "stuck loss" of diverged runs.
/// A zero feature has no norm: c = 0·(1/0) = NaN, and the loss is NaN.
#[test]
fn caffe_loss_floor_and_zero_feature() {
    // One sample, two classes, x along class 1 but labelled 0, scaled up hugely.
    let x = [100.0, 0.0];
    let w = [-1.0, 0.0, 1.0, 0.0];
    let (l64, _, _) = caffe_backward(&x, &w, &[0], 4, 0.0, 1.0);
    let (l32, _, _) = caffe_backward(&[100.0f32, 0.0], &w.map(|v| v as f32), &[0], 4, 0.0, 1.0);
    let floor = -f64::from(f32::MIN_POSITIVE).ln();
    assert!((l64 - floor).abs() < 1e-12, "{l64}");
    assert!((f64::from(l32) - 87.336_544).abs() < 1e-4, "{l32}");
    let (l, gx, _) = caffe_backward(&[0.0, 0.0], &w, &[0], 4, 5.0, 1.0);
    assert!(l.is_nan() && gx.iter().all(|v| v.is_nan()));
}
