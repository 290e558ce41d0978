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

/// The toy ArcFace (m = 0.5, linear fallback) as a `HeadKernel<f32>` made of closures.
fn toy_arcface(
    target: fn(f32, f32) -> f32,
) -> impl asoftmax_spec::conformance::head_suite::HeadKernel<f32> {
    use asoftmax_spec::head::{Combined, Fallback, family::Head};
    asoftmax_spec::conformance::head_suite::HeadFns {
        name: "toy-arcface",
        head: Head::Combined(Combined::arcface((1, 2).into(), Fallback::Linear)),
        target: move |c: f32| target(0.5, c),
        nontarget: |c: f32, _c_y: f32| c,
        _t: PhantomData,
    }
}

// The one line for a head: one #[test] per logit (target, non_target).
asoftmax_spec::head_suite!(
    toy_arcface_f32,
    toy_arcface(toy_asoftmax::arcface_target),
    f32
);

#[test]
fn the_arcface_with_a_margin_in_degrees_is_caught() {
    use asoftmax_spec::conformance::head_suite::{HeadOp, HeadPolicy, check_head};
    let report = check_head(
        &toy_arcface(toy_asoftmax::arcface_target_degrees),
        HeadOp::Target,
        &GenConfig::default(),
        &HeadPolicy::default(),
    );
    assert!(!report.passed(), "{report}");
    println!("{report}");
}

/// The toy CurricularFace loss on cosines (analytic gradients), with the batch's state.
struct ToyCurricularFace;

impl asoftmax_spec::conformance::head_suite::CosineLossKernel<f32> for ToyCurricularFace {
    fn name(&self) -> String {
        "toy-curricularface".into()
    }
    fn supports(
        &self,
        kind: asoftmax_spec::head::Kind,
        semantics: asoftmax_spec::head::Semantics,
    ) -> bool {
        use asoftmax_spec::head::{Kind, Semantics};
        kind == Kind::CurricularFace && semantics == Semantics::Analytic
    }
    fn loss(
        &self,
        b: &asoftmax_spec::conformance::head_suite::CosineLossBatch<f32>,
        grad: bool,
    ) -> asoftmax_spec::conformance::head_suite::CosineLossOutput<f32> {
        use asoftmax_spec::head::family::Head;
        let Head::CurricularFace { m, t } = &b.heads[0] else {
            panic!("a CurricularFace batch")
        };
        let (m, t) = (m.to_f64() as f32, t.to_f64() as f32);
        let (loss, g) = toy_asoftmax::curricularface_loss(m, t, b.scale, &b.cos, &b.y);
        asoftmax_spec::conformance::head_suite::CosineLossOutput {
            loss,
            grad_cos: grad.then_some(g),
            grad_a: None,
        }
    }
}

// The one line for a loss on cosines: one #[test] over the head's cosine batches.
asoftmax_spec::cosine_loss_suite!(
    toy_curricularface_f32,
    ToyCurricularFace,
    f32,
    CurricularFace
);
