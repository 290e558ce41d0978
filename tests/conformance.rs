//! The conformance toolkit judged on known implementations: the default policy
//! accepts the textbook recurrence for every m ≤ 16 (no false alarms) and
//! rejects deliberately broken implementations (no blind spots).

use asoftmax_spec::conformance::{
    FloatFormat, GenConfig, Policy, ScalarKernel, ScalarOp, Textbook, check_scalar,
};

fn calibrate<T: FloatFormat>()
where
    Textbook: ScalarKernel<T>,
{
    let cfg = GenConfig::default();
    for op in ScalarOp::ALL {
        let mut worst_ratio: f64 = 0.0;
        for m in 1..=16 {
            let r = check_scalar::<T, _>(&Textbook, op, m..=m, &cfg, &Policy::default());
            assert!(r.passed(), "false alarm:\n{r}");
            worst_ratio = worst_ratio.max(r.max_scaled / f64::from(m * m));
        }
        println!(
            "textbook {op} {}: max scaled error / m² = {worst_ratio:.3}",
            T::FORMAT.name()
        );
    }
}

#[test]
fn textbook_passes_the_default_policy_f32() {
    calibrate::<f32>();
}

#[test]
fn textbook_passes_the_default_policy_f64() {
    calibrate::<f64>();
}

#[test]
fn textbook_passes_the_default_policy_f16() {
    calibrate::<asoftmax_spec::arith::F16>();
}

#[test]
fn textbook_passes_the_default_policy_bf16() {
    calibrate::<asoftmax_spec::arith::Bf16>();
}

/// ψ with the branch sign dropped: +T_m − 2k on odd branches.
struct WrongBranchSign;
impl ScalarKernel<f64> for WrongBranchSign {
    fn name(&self) -> String {
        "wrong-branch-sign".into()
    }
    fn cos_m(&self, m: u32, c: f64) -> f64 {
        ScalarKernel::<f64>::cos_m(&Textbook, m, c)
    }
    fn psi(&self, m: u32, c: f64) -> f64 {
        let k = Textbook::branch(m, c);
        self.cos_m(m, c) - 2.0 * f64::from(k)
    }
    fn dpsi_dcos(&self, m: u32, c: f64) -> f64 {
        ScalarKernel::<f64>::dpsi_dcos(&Textbook, m, c)
    }
}

/// k one too large (clamped to m − 1).
struct KOffByOne;
impl ScalarKernel<f32> for KOffByOne {
    fn name(&self) -> String {
        "k-off-by-one".into()
    }
    fn cos_m(&self, m: u32, c: f32) -> f32 {
        ScalarKernel::<f32>::cos_m(&Textbook, m, c)
    }
    fn psi(&self, m: u32, c: f32) -> f32 {
        let k = (Textbook::branch(m, c) + 1).min(m - 1);
        let t = self.cos_m(m, c);
        (if k % 2 == 0 { t } else { -t }) - 2.0 * k as f32
    }
    fn dpsi_dcos(&self, m: u32, c: f32) -> f32 {
        let k = (Textbook::branch(m, c) + 1).min(m - 1);
        let d = m as f32 * asoftmax_spec::multiangle::chebyshev_u(m - 1, &c);
        if k % 2 == 0 { d } else { -d }
    }
}

/// dψ/dc through θ = acos c: m sin(mθ)/sin θ, NaN at c = ±1.
struct NanAtOne;
impl ScalarKernel<f64> for NanAtOne {
    fn name(&self) -> String {
        "nan-at-c=1".into()
    }
    fn cos_m(&self, m: u32, c: f64) -> f64 {
        (f64::from(m) * c.acos()).cos()
    }
    fn psi(&self, m: u32, c: f64) -> f64 {
        ScalarKernel::<f64>::psi(&Textbook, m, c)
    }
    fn dpsi_dcos(&self, m: u32, c: f64) -> f64 {
        let theta = c.acos();
        let k = Textbook::branch(m, c);
        let d = f64::from(m) * (f64::from(m) * theta).sin() / theta.sin();
        if k % 2 == 0 { d } else { -d }
    }
}

fn caught<T: FloatFormat, K: ScalarKernel<T>>(
    k: &K,
    op: ScalarOp,
    ms: std::ops::RangeInclusive<u32>,
) {
    let r = check_scalar::<T, _>(k, op, ms, &GenConfig::default(), &Policy::default());
    assert!(!r.passed(), "{} was not caught on {op}:\n{r}", k.name());
    println!("{r}");
}

#[test]
fn broken_scalar_kernels_are_caught() {
    caught::<f64, _>(&WrongBranchSign, ScalarOp::Psi, 2..=8);
    caught::<f32, _>(&KOffByOne, ScalarOp::Psi, 2..=8);
    caught::<f32, _>(&KOffByOne, ScalarOp::DpsiDcos, 2..=8);
    caught::<f64, _>(&NanAtOne, ScalarOp::DpsiDcos, 1..=8);
    // The same kernels are fine where they are not broken.
    let ok = check_scalar::<f64, _>(
        &WrongBranchSign,
        ScalarOp::CosM,
        1..=8,
        &GenConfig::default(),
        &Policy::default(),
    );
    assert!(ok.passed(), "{ok}");
}

#[test]
fn report_names_the_worst_input_in_decimal_hex_and_bits() {
    let r = check_scalar::<f64, _>(
        &NanAtOne,
        ScalarOp::DpsiDcos,
        4..=4,
        &GenConfig::default(),
        &Policy::default(),
    );
    let text = r.to_string();
    assert!(text.contains("c=1"), "{text}");
    assert!(text.contains("0x1p+0"), "{text}");
    assert!(text.contains("bits 0x3ff0000000000000"), "{text}");
    assert!(text.contains("seed"), "{text}");
    assert!(text.contains("NaN"), "{text}");
}

mod loss {
    use asoftmax_spec::conformance::loss_suite::{LossFlaw, LossOp};
    use asoftmax_spec::conformance::{
        FloatFormat, LossKernel, LossPolicy, TextbookLoss, check_loss,
    };

    const SEED: u64 = 0xa50f_7a11;

    fn textbook_passes<T: FloatFormat>()
    where
        TextbookLoss: LossKernel<T>,
    {
        // One batch has 2000 classes.
        let r = check_loss::<T, _>(&TextbookLoss::default(), SEED, 2000, &LossPolicy::default());
        println!("{r}");
        assert!(r.passed(), "false alarm:\n{r}");
        for op in LossOp::ALL {
            let (ratio, _) = r.worst_ratio(op);
            println!(
                "textbook {} {}: worst error is {ratio:.3} of the allowance",
                op.name(),
                T::FORMAT.name()
            );
        }
    }

    #[test]
    fn textbook_loss_passes_f32() {
        textbook_passes::<f32>();
    }

    #[test]
    fn textbook_loss_passes_f64() {
        textbook_passes::<f64>();
    }

    #[test]
    fn flawed_losses_are_caught() {
        for flaw in [LossFlaw::MissingProjection, LossFlaw::WrongLambdaBlend] {
            let k = TextbookLoss {
                flaw: Some(flaw),
                ..Default::default()
            };
            let r = check_loss::<f32, _>(&k, SEED, 0, &LossPolicy::default());
            assert!(!r.passed(), "{flaw:?} was not caught:\n{r}");
            let r = check_loss::<f64, _>(&k, SEED, 0, &LossPolicy::default());
            assert!(!r.passed(), "{flaw:?} was not caught:\n{r}");
        }
    }
}

/// The gradient allowance grows with the softmax balance β and the logit scale S:
/// a batch the `loss_grad_vs_oracle` fuzz target found (L-Softmax, m = 1, two equal
/// class rows, S ≈ 460) — both float kernels pass it, and the fast kernel would not
/// under a policy whose allowance ignores β·S.
mod balanced_softmax {
    use asoftmax_spec::conformance::kernel::{Backward, Batch, Variant};
    use asoftmax_spec::conformance::loss_suite::{
        Scheme, expected, logit_scale, score_batch, softmax_balance,
    };
    use asoftmax_spec::conformance::{FloatFormat, LossKernel, LossPolicy, TextbookLoss};
    use asoftmax_spec::fast::Fast;

    fn found<T: FloatFormat>() -> Batch<T> {
        let t = T::from_f64;
        Batch {
            x: vec![t(7.141845703125), t(-0.83685302734375)],
            w: vec![t(1.0), t(0.0), t(1.0), t(0.0)],
            y: vec![0],
            n: 1,
            classes: 2,
            dim: 2,
            m: 1,
            lambda: t(69.77734375),
            scale: t(63.9990234375),
            variant: Variant::LSoftmax,
            backward: Backward::Full,
            head: None,
        }
    }

    fn judge<T: FloatFormat, K: LossKernel<T>>(k: &K, policy: &LossPolicy) -> bool {
        let b = found::<T>();
        let exp = expected(&b).unwrap();
        let got = k.loss(&b, true);
        let wide = |v: &[T]| v.iter().map(|t| t.to_f64()).collect::<Vec<f64>>();
        let score = score_batch(
            &b,
            &exp,
            (got.loss.to_f64(), &wide(&got.grad_x), &wide(&got.grad_w)),
            (T::FORMAT, Scheme::Native),
            policy,
            "fuzz finding".into(),
        );
        println!(
            "{} {}: errors {:?} allowed {:?}",
            k.name(),
            T::FORMAT.name(),
            score.errors,
            score.allowed
        );
        score.passed()
    }

    #[test]
    fn balance_of_equal_and_saturated_logits() {
        let b = found::<f64>();
        // Two equal class rows and m = 1: two equal logits, p = (½, ½).
        assert_eq!(softmax_balance(&b), 0.5);
        assert!(
            (logit_scale(&b) - 63.9990234375 * 0.83685302734375f64.hypot(7.141845703125)).abs()
                < 1e-9
        );
        // A far-away second row saturates the softmax.
        let mut far = b.clone();
        far.w[2] = -1.0;
        assert!(softmax_balance(&far) < 1e-100);
    }

    #[test]
    fn both_kernels_pass_and_the_allowance_needs_the_balance_term() {
        let policy = LossPolicy::default();
        assert!(judge::<f64, _>(&Fast, &policy));
        assert!(judge::<f32, _>(&Fast, &policy));
        assert!(judge::<f64, _>(&TextbookLoss::default(), &policy));
        assert!(judge::<f32, _>(&TextbookLoss::default(), &policy));
        let mut blind = LossPolicy::default();
        blind.grad_logit_unit = f64::INFINITY;
        assert!(
            !judge::<f64, _>(&Fast, &blind),
            "the found batch no longer needs the β·S term"
        );
    }
}

// The macros, used as a downstream crate would.
asoftmax_spec::scalar_suite!(
    textbook_f32_suite,
    asoftmax_spec::conformance::Textbook,
    f32,
    1..=16
);
asoftmax_spec::loss_suite!(
    textbook_loss_f64_suite,
    asoftmax_spec::conformance::TextbookLoss::default(),
    f64
);

mod fd_gradcheck {
    use asoftmax_spec::conformance::TextbookLoss;
    use asoftmax_spec::conformance::gradcheck::{Tolerance, fd_check_loss};
    use asoftmax_spec::conformance::loss_suite::{LossFlaw, loss_batches};
    use asoftmax_spec::fd::FdOptions;
    use asoftmax_spec::loss::Backward;

    #[test]
    fn textbook_backward_agrees_with_finite_differences_and_flaws_do_not() {
        let batches: Vec<_> = loss_batches::<f64>(7, 0)
            .into_iter()
            .filter(|c| {
                c.batch.backward == Backward::Full && c.batch.lambda > 0.0 && c.batch.m == 4
            })
            .take(3)
            .collect();
        assert!(!batches.is_empty());
        let opts = FdOptions {
            prec: 64,
            ..FdOptions::default()
        };
        let tol = Tolerance {
            abs: 1e-12,
            rel: 1e-9,
        };
        for case in &batches {
            let (report, ok) =
                fd_check_loss(&TextbookLoss::default(), &case.batch, tol, &opts).unwrap();
            assert!(ok, "[{}]\n{}", case.origin, report.report(tol));
            for flaw in [LossFlaw::MissingProjection, LossFlaw::WrongLambdaBlend] {
                let (_, ok) = fd_check_loss(
                    &TextbookLoss {
                        flaw: Some(flaw),
                        ..Default::default()
                    },
                    &case.batch,
                    tol,
                    &opts,
                )
                .unwrap();
                assert!(!ok, "{flaw:?} not caught on [{}]", case.origin);
            }
        }
    }
    #[test]
    fn an_inconsistent_batch_is_a_shape_error_not_a_panic() {
        use asoftmax_spec::Error;
        use asoftmax_spec::conformance::loss_suite::spec_of;
        let good = loss_batches::<f64>(7, 0).remove(0).batch;
        assert!(good.check_shape().is_ok() && spec_of(&good).is_ok());
        let mut short_x = good.clone();
        short_x.x.pop();
        let mut more_classes = good.clone();
        more_classes.classes += 1;
        for bad in [short_x, more_classes] {
            assert!(matches!(spec_of(&bad), Err(Error::Shape { .. })), "{bad:?}");
            let r = fd_check_loss(
                &TextbookLoss::default(),
                &bad,
                Tolerance::from(1e-9),
                &FdOptions::default(),
            );
            assert!(matches!(r, Err(Error::Shape { .. })));
        }
    }
}

#[test]
fn loss_policy_entries_are_replaced_through_with() {
    use asoftmax_spec::arith::Format;
    use asoftmax_spec::conformance::LossPolicy;
    use asoftmax_spec::conformance::loss_suite::LossOp;
    let p = LossPolicy::default().with(LossOp::GradW, Format::F32, 99.0);
    assert_eq!(p.per_m2d(LossOp::GradW, Format::F32), 99.0);
    assert_eq!(
        p.per_m2d(LossOp::GradW, Format::F64),
        LossPolicy::default().per_m2d(LossOp::GradW, Format::F64)
    );
}
