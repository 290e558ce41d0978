//! The mixed-precision policy, calibrated the way the float32/float64 entries were: the
//! autocast textbook (f16 or bf16 inputs, float32 accumulation, the cosine rounded to
//! the 16-bit format, float32 softmax, loss and gradients) stays well inside its
//! entries, and the three known failure modes of half-precision margin heads are caught:
//! an f16 softmax without a float32 upcast at s = 64, a cosine clamped to the acos guard
//! before the f16 rounding, and an f16 sum of squares for the norms. Also: the native
//! 16-bit textbook loss passes the native entries.

use asoftmax_spec::arith::{Bf16, F16, Format};
use asoftmax_spec::conformance::loss_suite::{
    DEFAULT_SEED, LossOp, LossPolicy, LossReport, Scheme, check_loss, check_loss_in,
};
use asoftmax_spec::conformance::{FloatFormat, LossFlaw, TextbookLoss};

fn autocast<I: FloatFormat>(flaw: Option<LossFlaw>) -> LossReport {
    let kernel = TextbookLoss {
        flaw,
        ..TextbookLoss::autocast(I::FORMAT)
    };
    check_loss_in::<I, f32, _>(
        &kernel,
        Scheme::Autocast,
        DEFAULT_SEED,
        0,
        &LossPolicy::default(),
    )
}

/// The largest error / allowance over the three outputs.
fn worst(r: &LossReport) -> f64 {
    LossOp::ALL
        .iter()
        .map(|&op| r.worst_ratio(op).0)
        .fold(0.0, f64::max)
}

/// `true` when some output of some batch is NaN or ∞ where the exact value is finite.
fn non_finite(r: &LossReport) -> bool {
    r.scores
        .iter()
        .any(|s| s.errors.iter().any(|e| e.is_infinite()))
}

fn textbook_passes<I: FloatFormat>() -> f64 {
    let r = autocast::<I>(None);
    println!("{r}");
    assert!(r.passed(), "false alarm:\n{r}");
    assert!(r.scores.len() >= 90, "{} batches", r.scores.len());
    worst(&r)
}

#[test]
fn the_autocast_textbook_passes_well_inside_the_policy() {
    let f16 = textbook_passes::<F16>();
    let bf16 = textbook_passes::<Bf16>();
    println!("autocast textbook: worst error / allowance f16 {f16:.4}, bf16 {bf16:.4}");
    // "Well inside": a factor of 4 or more below every allowance.
    assert!(f16 < 0.25 && bf16 < 0.25, "f16 {f16}, bf16 {bf16}");
}

fn caught<I: FloatFormat>(flaw: LossFlaw) -> LossReport {
    let r = autocast::<I>(Some(flaw));
    assert!(
        !r.passed(),
        "{flaw:?} in {} was not caught:\n{r}",
        I::FORMAT.name()
    );
    println!(
        "{flaw:?} {}: {} of {} batches fail",
        I::FORMAT.name(),
        r.failures().len(),
        r.scores.len()
    );
    r
}

#[test]
fn an_f16_softmax_without_float32_upcast_is_caught_at_s_64() {
    let r = caught::<F16>(LossFlaw::HalfSoftmax);
    // Exactly the batches with large logits fail, with ∞ or NaN: e^f overflows binary16.
    assert!(non_finite(&r));
    assert!(
        r.failures().iter().all(|s| s.origin.contains("s=64")),
        "{r}"
    );
}

#[test]
fn a_cosine_clamped_before_the_16_bit_rounding_is_caught() {
    for r in [
        caught::<F16>(LossFlaw::ClampBeforeRounding),
        caught::<Bf16>(LossFlaw::ClampBeforeRounding),
    ] {
        // NaN gradients where a feature is (nearly) parallel to its class row.
        assert!(non_finite(&r));
        assert!(
            r.failures()
                .iter()
                .any(|s| s.origin.contains("NearlyParallel")),
            "{r}"
        );
    }
}

#[test]
fn an_f16_sum_of_squares_for_the_norm_is_caught() {
    let r = caught::<F16>(LossFlaw::HalfSumOfSquares);
    assert!(non_finite(&r));
    // Where ‖x‖² overflows binary16: SphereFace-sized features.
    assert!(
        r.failures().iter().all(|s| s.origin.contains("‖x‖~3e2")),
        "{r}"
    );
}

#[test]
fn the_native_16_bit_textbook_loss_passes_the_native_entries() {
    let policy = LossPolicy::default();
    let f16 = check_loss::<F16, _>(&TextbookLoss::default(), DEFAULT_SEED, 0, &policy);
    let bf16 = check_loss::<Bf16, _>(&TextbookLoss::default(), DEFAULT_SEED, 0, &policy);
    for r in [&f16, &bf16] {
        println!("{r}");
        assert!(r.passed(), "false alarm:\n{r}");
    }
    println!(
        "native textbook loss: worst error / allowance f16 {:.4}, bf16 {:.4}",
        worst(&f16),
        worst(&bf16)
    );
    assert_eq!(f16.format, Format::F16);
}
