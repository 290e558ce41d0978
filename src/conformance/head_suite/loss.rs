//! Head batches for a loss kernel: the loss suite's batches with a head of the margin
//! family as the target logit, scored by the loss suite ([`score_loss`]) under
//! [`LossPolicy`] (which grows a head's allowance with its slope at the batch's targets).

use super::generators::head_states;
use crate::Error;
use crate::conformance::generators::Rng;
use crate::conformance::kernel::{Backward, FloatFormat, LossKernel, Variant};
use crate::conformance::loss_suite::{
    BatchCase, BatchParams, FeatureKind, LossPolicy, LossReport, expected, random_batch, score_loss,
};
use crate::head::family::Head;
use crate::head::{Kind, Semantics};
use crate::names::Name;

/// The loss oracle's head ([`crate::loss::Head`]) for `head` under `semantics`, for the
/// heads the loss oracle takes on features and class weights (the combined margin and
/// its special cases, [`Kind::FEATURES`]); `None` for the others, whose loss is on
/// cosines ([`crate::loss::family`]). The one place a new feature head plugs in.
pub fn loss_head(head: &Head, semantics: Semantics) -> Option<crate::loss::Head> {
    match head {
        Head::Combined(margin) => Some(crate::loss::Head {
            margin: margin.clone(),
            semantics,
        }),
        _ => None,
    }
}

/// Head batches in format `T` for `kind`: for each of [`head_states`]`(kind)` and each
/// gradient semantics, random and nearly parallel features (target cosines near 1, where
/// ArcFace's slope grows without bound), `s ∈ {1, 64}`; a
/// [`Error::Domain`] for a kind without a loss oracle ([`loss_head`]).
pub fn head_batches<T: FloatFormat>(kind: Kind, seed: u64) -> Result<Vec<BatchCase<T>>, Error> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let semantics = [
        Semantics::Analytic,
        Semantics::StraightThrough,
        Semantics::DifferentiableAcos,
    ];
    for state in head_states(kind) {
        for sem in semantics {
            let Some(h) = loss_head(&state, sem) else {
                return Err(Error::Domain {
                    arg: "head",
                    value: kind.name().into(),
                    expected: "a head with a loss oracle (combined, arcface, cosface)",
                });
            };
            for (kind_f, scale, xnorm) in [
                (FeatureKind::Random, 1.0, 1.0),
                (FeatureKind::Random, 64.0, 3.0),
                (FeatureKind::NearlyParallel, 64.0, 1.0),
            ] {
                let p = BatchParams {
                    n: 3,
                    classes: 5,
                    dim: 4,
                    m: 1,
                    lambda: 0.0,
                    scale,
                    variant: Variant::ASoftmax,
                    backward: Backward::Full,
                    kind: kind_f,
                    xnorm,
                };
                let mut case = random_batch::<T>(&mut rng, &p);
                case.origin = format!(
                    "{} {:?} {} {}",
                    kind.name(),
                    h.margin,
                    h.semantics.name(),
                    case.origin
                );
                case.batch.head = Some(h.clone());
                out.push(case);
            }
        }
    }
    Ok(out)
}

/// Runs a loss kernel over [`head_batches`] for `kind` (batches the oracle has no
/// gradient for — a slope `±∞` or undefined at a target — are skipped), every operation
/// in `T`, scored by the loss suite under `policy`.
pub fn check_head_loss<T: FloatFormat, K: LossKernel<T> + ?Sized>(
    kernel: &K,
    kind: Kind,
    seed: u64,
    policy: &LossPolicy,
) -> Result<LossReport, Error> {
    let mut scores = Vec::new();
    for case in head_batches::<T>(kind, seed)? {
        let b = &case.batch;
        if !kernel.supports(b.m, b.variant, b.backward) {
            continue;
        }
        let Ok(exp) = expected(b) else { continue };
        let got = kernel.loss(b, true);
        scores.push(score_loss(b, &exp, &got, policy, case.origin));
    }
    Ok(LossReport {
        kernel: kernel.name(),
        format: T::FORMAT,
        scores,
        seed,
    })
}

/// Runs a loss kernel over [`head_batches`] for `kind` (seed
/// [`DEFAULT_SEED`](crate::conformance::loss_suite::DEFAULT_SEED)) and panics with the report
/// when a batch is outside `policy`, or when `kind` has no loss oracle.
pub fn assert_head_loss<T: FloatFormat, K: LossKernel<T> + ?Sized>(
    kernel: &K,
    kind: Kind,
    policy: &LossPolicy,
) {
    let seed = crate::conformance::loss_suite::DEFAULT_SEED;
    let r = check_head_loss(kernel, kind, seed, policy)
        .unwrap_or_else(|e| panic!("no head batches for {}: {e}", kind.name()));
    assert!(r.passed(), "{} does not conform:\n{r}", r.kernel);
}

/// Expands, in a downstream crate's tests, to a `#[test]` that checks a batch loss
/// kernel on the head batches of one head kind (value, ∂L/∂X, ∂L/∂W) in format `T`:
///
/// ```ignore
/// asoftmax_spec::head_loss_suite!(my_arcface_loss_f32, MyArcFaceLoss, f32, ArcFace);
/// ```
///
/// The kind is a [`Kind`](crate::head::Kind) variant with a loss oracle
/// ([`loss_head`](crate::conformance::head_suite::loss_head)); an optional fifth argument
/// gives the [`LossPolicy`](crate::conformance::LossPolicy).
#[macro_export]
macro_rules! head_loss_suite {
    ($name:ident, $kernel:expr, $t:ty, $kind:ident) => {
        $crate::head_loss_suite!(
            $name,
            $kernel,
            $t,
            $kind,
            $crate::conformance::LossPolicy::default()
        );
    };
    ($name:ident, $kernel:expr, $t:ty, $kind:ident, $policy:expr) => {
        $crate::__head_kind_loss_test!(
            $name,
            head_loss_and_gradients,
            assert_head_loss,
            $kernel,
            $t,
            $kind,
            $policy
        );
    };
}

/// The test module of [`head_loss_suite!`](crate::head_loss_suite) and
/// [`cosine_loss_suite!`](crate::cosine_loss_suite): a `#[test] fn $test` that runs
/// `conformance::head_suite::$assert` on `$kernel` for the head kind `$kind` in `$t`.
#[doc(hidden)]
#[macro_export]
macro_rules! __head_kind_loss_test {
    ($name:ident, $test:ident, $assert:ident, $kernel:expr, $t:ty, $kind:ident, $policy:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn $test() {
                $crate::conformance::head_suite::$assert::<$t, _>(
                    &$kernel,
                    $crate::head::Kind::$kind,
                    &$policy,
                );
            }
        }
    };
}
