//! The toy kernel checked by asoftmax-spec's conformance suite.

use asoftmax_spec::conformance::{GenConfig, Policy, ScalarFns, ScalarOp, check_scalar};
use std::marker::PhantomData;

/// The toy kernel, as a `ScalarKernel<f32>` made of plain functions.
fn toy() -> impl asoftmax_spec::conformance::ScalarKernel<f32> {
    ScalarFns {
        name: "toy",
        cos_m: toy_asoftmax::cos_m,
        psi: toy_asoftmax::psi,
        dpsi_dcos: toy_asoftmax::dpsi_dcos,
        m_range: 1..=16,
        _t: PhantomData,
    }
}

// The one line: one #[test] per op (cos_m, psi, dpsi_dcos) for f32, m = 1..=8.
asoftmax_spec::scalar_suite!(toy_f32, toy(), f32, 1..=8);

#[test]
fn the_broken_variant_is_caught() {
    let broken = ScalarFns {
        name: "toy-without-sign",
        cos_m: toy_asoftmax::cos_m,
        psi: toy_asoftmax::psi_without_sign,
        dpsi_dcos: toy_asoftmax::dpsi_dcos,
        m_range: 1..=16,
        _t: PhantomData,
    };
    let report = check_scalar::<f32, _>(
        &broken,
        ScalarOp::Psi,
        1..=8,
        &GenConfig::default(),
        &Policy::default(),
    );
    assert!(!report.passed(), "{report}");
    println!("{report}");
}

// asoftmax-spec's own fast kernels meet a strict 1-ulp policy (no scaled allowance).
asoftmax_spec::scalar_suite!(
    fast_f32,
    asoftmax_spec::fast::Fast,
    f32,
    1..=16,
    asoftmax_spec::conformance::Policy::strict(1.0)
);
asoftmax_spec::scalar_suite!(
    fast_f64,
    asoftmax_spec::fast::Fast,
    f64,
    1..=16,
    asoftmax_spec::conformance::Policy::strict(1.0)
);
asoftmax_spec::loss_suite!(fast_loss_f32, asoftmax_spec::fast::Fast, f32);

#[test]
fn approx_ulps_comparisons_against_oracle_values() {
    // The oracle's correctly rounded f32 is a plain float: compare with `approx`.
    use asoftmax_spec::{Angle, arith::rational_from_f64, psi};
    for c in [0.3f32, -0.7, 0.999, -1.0] {
        let exact = psi::psi(
            &4.into(),
            &Angle::Cos(rational_from_f64(f64::from(c)).unwrap()),
            64,
        )
        .unwrap();
        approx::assert_ulps_eq!(toy_asoftmax::psi(4, c), exact.f32(), max_ulps = 16);
    }
}
