//! The exported proptest strategies, used the way a downstream crate would.
#![cfg(feature = "proptest")]

use asoftmax_spec::arith::Format;
use asoftmax_spec::conformance::policy::{Policy, ScalarOp};
use asoftmax_spec::conformance::scalar_suite::exact_scalar;
use asoftmax_spec::conformance::strategies;
use asoftmax_spec::conformance::{ScalarKernel, Textbook};
use proptest::prelude::*;

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
