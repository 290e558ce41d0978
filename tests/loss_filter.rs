//! The double-word filter against the exact oracle: the same bits for every output
//! (loss, ∂L/∂X, ∂L/∂W in f32 and f64) on random, saturated, balanced and cancelling
//! batches, with the filter deciding the ordinary outputs itself and leaving exact
//! ties and zeros to the exact oracle.

use asoftmax_spec::loss::{Backward, Variant};
use asoftmax_spec::loss_filter::{Certified, FloatBatch, Rounded, Tier, certify};

/// The crate's seeded generator, with the two draws these tests need.
struct Rng(asoftmax_spec::conformance::generators::Rng);

impl Rng {
    /// An f32 value in (−scale, scale).
    fn f32(&mut self, scale: f32) -> f64 {
        f64::from((2.0 * self.0.unit() as f32 - 1.0) * scale)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n as u64) as usize
    }
}

fn rng(seed: u64) -> Rng {
    Rng(asoftmax_spec::conformance::generators::Rng::new(seed))
}

struct Owned {
    x: Vec<f64>,
    w: Vec<f64>,
    y: Vec<usize>,
    n: usize,
    classes: usize,
    dim: usize,
    m: u32,
    lambda: f64,
    scale: f64,
    backward: Backward,
}

impl Owned {
    fn batch(&self) -> FloatBatch<'_> {
        FloatBatch {
            x: &self.x,
            w: &self.w,
            y: &self.y,
            n: self.n,
            classes: self.classes,
            dim: self.dim,
            m: self.m,
            lambda: self.lambda,
            scale: self.scale,
            variant: Variant::ASoftmax,
            backward: self.backward,
        }
    }
}

fn random(rng: &mut Rng, feature_scale: f32) -> Owned {
    let n = 1 + rng.below(3);
    let classes = 2 + rng.below(5);
    let dim = 2 + rng.below(4);
    let mut v = |k: usize, s: f32| -> Vec<f64> {
        (0..k)
            .map(|_| {
                loop {
                    let t = rng.f32(s);
                    if t != 0.0 {
                        break t;
                    }
                }
            })
            .collect()
    };
    let x = v(n * dim, feature_scale);
    let w = v(classes * dim, 1.0);
    Owned {
        y: (0..n).map(|_| rng.below(classes)).collect(),
        m: 1 + rng.below(8) as u32,
        lambda: [0.0, 5.0, 1000.0][rng.below(3)],
        scale: [1.0, 30.0, 64.0][rng.below(3)],
        backward: [Backward::Full, Backward::DetachedMargin][rng.below(2)],
        x,
        w,
        n,
        classes,
        dim,
    }
}

fn bits(r: &Rounded) -> (u64, u32) {
    (r.f64.to_bits(), r.f32.to_bits())
}

/// Every output of the two tiers, bit for bit.
fn assert_same(fast: &Certified, exact: &Certified, what: &str) {
    assert_eq!(bits(&fast.loss), bits(&exact.loss), "{what}: loss");
    for (name, a, b) in [
        ("grad_x", &fast.grad_x, &exact.grad_x),
        ("grad_w", &fast.grad_w, &exact.grad_w),
    ] {
        assert_eq!(a.len(), b.len());
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            assert_eq!(bits(p), bits(q), "{what}: {name}[{i}] {p:?} vs {q:?}");
        }
    }
}

fn both(o: &Owned) -> (Certified, Certified) {
    let fast = certify(&o.batch(), Tier::Filter).unwrap();
    let exact = certify(&o.batch(), Tier::Mpfr).unwrap();
    (fast, exact)
}

#[test]
fn random_batches_agree_bit_for_bit_and_the_filter_decides_them() {
    let mut rng = rng(0x5eed_0001);
    let mut decided = 0;
    let total = 60;
    for case in 0..total {
        let o = random(&mut rng, 4.0);
        let (fast, exact) = both(&o);
        assert_same(&fast, &exact, &format!("case {case}"));
        assert!(exact.exact_tier);
        if !fast.exact_tier {
            decided += 1;
        }
    }
    // Random f32 inputs leave nothing on a midpoint: the filter decides almost all.
    assert!(
        decided >= total * 9 / 10,
        "{decided}/{total} decided by the filter alone"
    );
}

#[test]
fn saturated_softmax_agrees() {
    let mut rng = rng(0x5eed_0002);
    for case in 0..30 {
        // Large features and s = 64: logit gaps in the thousands.
        let mut o = random(&mut rng, 100.0);
        o.scale = 64.0;
        let (fast, exact) = both(&o);
        assert_same(&fast, &exact, &format!("saturated case {case}"));
    }
}

#[test]
fn balanced_and_tied_logits_agree() {
    // Every class row the same: tied logits, a uniform softmax.
    let mut rng = rng(0x5eed_0003);
    for case in 0..10 {
        let mut o = random(&mut rng, 2.0);
        let row: Vec<f64> = o.w[..o.dim].to_vec();
        for j in 0..o.classes {
            o.w[j * o.dim..(j + 1) * o.dim].copy_from_slice(&row);
        }
        let (fast, exact) = both(&o);
        assert_same(&fast, &exact, &format!("tied case {case}"));
    }
}

#[test]
fn exact_zeros_that_no_bound_proves_fall_back() {
    // d = 1: every x_n is parallel to every W_j, so ∂L/∂W = 0 exactly (the part of x
    // orthogonal to W_j vanishes), which the filter computes as a difference that its
    // bound cannot tell from a tiny number.
    let mut rng = rng(0x5eed_0006);
    for case in 0..10 {
        let mut o = random(&mut rng, 3.0);
        o.dim = 1;
        o.x.truncate(o.n);
        o.w.truncate(o.classes);
        let (fast, exact) = both(&o);
        assert_same(&fast, &exact, &format!("d = 1 case {case}"));
        assert!(
            fast.undecided >= o.classes,
            "d = 1 case {case}: {}",
            fast.undecided
        );
        assert!(fast.grad_w.iter().all(|g| g.f64 == 0.0));
    }
}

#[test]
fn structural_zeros_are_decided_by_the_filter() {
    // A feature column that is zero in X and W: its gradient components are exactly 0
    // with a zero bound, decided without the exact oracle.
    let mut rng = rng(0x5eed_0007);
    for case in 0..10 {
        let mut o = random(&mut rng, 3.0);
        for v in o.x.chunks_mut(o.dim).chain(o.w.chunks_mut(o.dim)) {
            v[0] = 0.0;
        }
        let (fast, exact) = both(&o);
        assert_same(&fast, &exact, &format!("zero column case {case}"));
        assert!(
            fast.grad_x
                .iter()
                .step_by(o.dim)
                .all(|g| g.f64.to_bits() == 0)
        );
    }
}

#[test]
fn cancelling_dot_products_agree() {
    // x orthogonal to every class row but one: cosines exactly 0, dot products that
    // cancel exactly (1·a − 1·a).
    for m in 1..=6 {
        let o = Owned {
            x: vec![0.75, 0.75, -0.5, 3.0],
            w: vec![
                1.0, -1.0, 0.0, 0.0, 0.5, -0.5, 0.25, 0.0, 0.0, 0.0, 1.0, 0.0,
            ],
            y: vec![0],
            n: 1,
            classes: 3,
            dim: 4,
            m,
            lambda: 0.0,
            scale: 1.0,
            backward: Backward::Full,
        };
        let (fast, exact) = both(&o);
        assert_same(&fast, &exact, &format!("cancelling m = {m}"));
    }
}

#[test]
fn batches_outside_the_filter_go_to_the_exact_oracle() {
    let mut rng = rng(0x5eed_0004);
    let mut o = random(&mut rng, 1.0);
    o.x[0] = 1e-30; // below 2^-60: the filter's bounds assume no underflow
    let fast = certify(&o.batch(), Tier::Filter).unwrap();
    assert!(fast.exact_tier && fast.undecided == 0);
    // A zero row of W is the exact oracle's typed error, also through the filter.
    let mut o = random(&mut rng, 1.0);
    for k in 0..o.dim {
        o.w[k] = 0.0;
    }
    assert!(certify(&o.batch(), Tier::Filter).is_err());
}

/// The filter's enclosures contain the exact oracle's values (the bounds are proven; this
/// checks the proof's arithmetic on batches where the exact values are known).
#[test]
fn every_enclosure_contains_the_exact_value() {
    use asoftmax_spec::loss::loss;
    use rug::{Float, Rational};
    let mut rng = rng(0x5eed_0005);
    for case in 0..40 {
        let o = random(&mut rng, if case % 2 == 0 { 4.0 } else { 60.0 });
        let b = o.batch();
        let enc = asoftmax_spec::loss_filter::enclosures(&b).expect("filterable");
        let out = loss(&b.spec().unwrap(), true, 200).unwrap();
        let exact: Vec<_> = std::iter::once(out.loss)
            .chain(out.grad_x.unwrap().into_iter().flatten())
            .chain(out.grad_w.unwrap().into_iter().flatten())
            .collect();
        for (i, (d, e)) in enc.iter().zip(&exact).enumerate() {
            let mid = Rational::from_f64(d.hi).unwrap() + Rational::from_f64(d.lo).unwrap();
            let dist = Float::with_val(300, e.mid() - Float::with_val(300, &mid)).abs();
            assert!(
                dist <= d.err * 1.000001 + 1e-55,
                "case {case} output {i}: exact {} vs {d:?}, distance {dist}",
                e.mid()
            );
        }
    }
}

#[test]
fn the_second_tier_agrees_with_the_exact_oracle_on_every_output_it_decides() {
    let mut rng = rng(0x5eed_0008);
    let (mut total, mut decided) = (0, 0);
    for case in 0..20 {
        let o = random(&mut rng, if case % 2 == 0 { 3.0 } else { 50.0 });
        let b = o.batch();
        let outputs = 1 + (o.n + o.classes) * o.dim;
        let all: Vec<usize> = (0..outputs).collect();
        let second = asoftmax_spec::loss_filter::second_tier(&b, &all).expect("filterable");
        let exact = certify(&b, Tier::Mpfr).unwrap();
        let exact: Vec<Rounded> = std::iter::once(exact.loss)
            .chain(exact.grad_x)
            .chain(exact.grad_w)
            .collect();
        for (i, (s, e)) in second.iter().zip(&exact).enumerate() {
            total += 1;
            if let Some(s) = s {
                decided += 1;
                assert_eq!(bits(s), bits(e), "case {case} output {i}");
            }
        }
    }
    assert!(decided * 100 >= total * 99, "{decided}/{total}");
}

/// `|(a.f64 + a.lo) − (b.f64 + b.lo)|` relative to the latter (the exact tier's reference,
/// within about `2⁻¹²⁰` of the value).
fn reference_gap(a: &Rounded, b: &Rounded) -> f64 {
    let q = |r: &Rounded| {
        rug::Rational::from_f64(r.f64).unwrap() + rug::Rational::from_f64(r.lo).unwrap()
    };
    let (x, y) = (q(a), q(b));
    if y == 0 {
        return if x == 0 { 0.0 } else { f64::INFINITY };
    }
    (rug::Rational::from(&x - &y) / y).abs().to_f64()
}

#[test]
fn references_are_within_their_stated_accuracy_for_each_dtype() {
    use asoftmax_spec::arith::Format;
    use asoftmax_spec::loss_filter::{REFERENCE_REL, certify_for, reference_rel};
    assert_eq!(reference_rel(Format::F64), REFERENCE_REL);
    assert_eq!(reference_rel(Format::F32), 2f64.powi(-41));
    let mut rng = rng(0x5eed_0003);
    for case in 0..30 {
        let o = random(&mut rng, 4.0);
        let exact = certify(&o.batch(), Tier::Mpfr).unwrap();
        for dtype in [Format::F64, Format::F32] {
            let got = certify_for(&o.batch(), Tier::Filter, dtype).unwrap();
            assert_same(&got, &exact, &format!("case {case} {dtype:?}"));
            let slack = 1.0 + 2f64.powi(-20);
            let gap = reference_gap(&got.loss, &exact.loss);
            assert!(gap <= REFERENCE_REL * slack, "case {case}: loss {gap:e}");
            for (a, b) in got
                .grad_x
                .iter()
                .chain(&got.grad_w)
                .zip(exact.grad_x.iter().chain(&exact.grad_w))
            {
                let gap = reference_gap(a, b);
                assert!(
                    gap <= reference_rel(dtype) * slack,
                    "case {case} {dtype:?}: {a:?} vs {b:?}: {gap:e}"
                );
            }
        }
    }
}
