//! The exported proptest strategies, used the way a downstream crate would.
#![cfg(feature = "proptest")]

use asoftmax_spec::arith::Format;
use asoftmax_spec::conformance::loss_suite::{LossPolicy, expected, score_loss};
use asoftmax_spec::conformance::policy::{Policy, ScalarOp};
use asoftmax_spec::conformance::scalar_suite::exact_scalar;
use asoftmax_spec::conformance::strategies;
use asoftmax_spec::conformance::strategies::{BatchSizes, loss_batch};
use asoftmax_spec::conformance::{Batch, FloatFormat, LossKernel, ScalarKernel, Textbook};
use asoftmax_spec::fast::Fast;
use proptest::prelude::*;

/// The crate's fast loss kernel on `b`, scored against the oracle with the default policy.
fn fast_loss_passes<T: FloatFormat>(b: &Batch<T>) -> Result<(), TestCaseError>
where
    Fast: LossKernel<T>,
{
    let exp = expected(b).map_err(|e| TestCaseError::fail(format!("oracle: {e}")))?;
    let got = Fast.loss(b, true);
    let score = score_loss(b, &exp, &got, &LossPolicy::default(), String::new());
    prop_assert!(
        score.passed(),
        "errors {:?}, allowed {:?} on {b:?}",
        score.errors,
        score.allowed
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cosines_are_in_domain((m, c) in strategies::margin_and_cos_f32(1..=16)) {
        prop_assert!((1..=16).contains(&m));
        prop_assert!((-1.0..=1.0).contains(&c));
    }

    #[test]
    fn textbook_psi_is_within_policy((m, c) in strategies::margin_and_cos_f64(1..=16)) {
        let exact = exact_scalar(ScalarOp::Psi, m, c).unwrap();
        let got = ScalarKernel::<f64>::psi(&Textbook, m, c);
        let (u, s) = Policy::errors(ScalarOp::Psi, Format::F64, m, got, &exact);
        prop_assert!(Policy::default().bound(ScalarOp::Psi, Format::F64).accepts(m, u, s), "m={m} c={c:e}: {u} ulps, {s} scaled");
    }

    #[test]
    fn thetas_are_in_range(t in strategies::theta_for(4)) {
        prop_assert!((0.0..=std::f64::consts::PI).contains(&t));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn loss_batches_fit_their_sizes(b in loss_batch::<f32>(BatchSizes {
        n: 1..=5,
        classes: 2..=3,
        dim: 2..=6,
        m: 3..=4,
    })) {
        prop_assert!(b.check_shape().is_ok());
        prop_assert!((1..=5).contains(&b.n) && (2..=3).contains(&b.classes));
        prop_assert!((2..=6).contains(&b.dim) && (3..=4).contains(&b.m));
        prop_assert!(b.y.len() == b.n && b.y.iter().all(|&l| l < b.classes));
        prop_assert!(b.lambda >= 0.0 && b.scale >= 1.0);
    }

    #[test]
    fn fast_loss_f64_is_within_policy_on_generated_batches(
        b in loss_batch::<f64>(BatchSizes::default())
    ) {
        fast_loss_passes(&b)?;
    }

    #[test]
    fn fast_loss_f32_is_within_policy_on_generated_batches(
        b in loss_batch::<f32>(BatchSizes::default())
    ) {
        fast_loss_passes(&b)?;
    }
}
