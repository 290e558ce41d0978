//! The loss policy on head batches, without torch: a float64 ArcFace written as
//! pytorch-metric-learning computes it (`acos`, `cos(θ + m)` with the linear fallback,
//! autograd's chain rule through `acos`) passes against the oracle's
//! `differentiable_acos` values, while the same code with the margin in radians read as
//! degrees, or with the margin detached (straight-through) where the vectors say
//! differentiable acos, fails on the random batches — what `examples/pytorch/check_pml.sh`
//! shows with the real module.

use asoftmax_spec::arith::Format;
use asoftmax_spec::conformance::generators::Rng;
use asoftmax_spec::conformance::loss_suite::{
    BatchParams, FeatureKind, Scheme, expected, random_batch, score_batch,
};
use asoftmax_spec::conformance::{Batch, LossPolicy};
use asoftmax_spec::head::{Combined, Fallback, Semantics};
use asoftmax_spec::loss::{Backward, Head, Variant};
use rug::Rational;

/// How the float ArcFace under test differs from pml's.
#[derive(Clone, Copy, PartialEq)]
enum Flavour {
    Faithful,
    MarginInDegrees,
    StraightThrough,
}

/// ArcFace with the linear fallback in f64: `(loss, ∂L/∂X, ∂L/∂W)`, row-major.
fn arcface_f64(b: &Batch<f64>, m: f64, flavour: Flavour) -> (f64, Vec<f64>, Vec<f64>) {
    let m = if flavour == Flavour::MarginInDegrees {
        m.to_radians()
    } else {
        m
    };
    let (d, s) = (b.dim, b.scale);
    let row = |v: &[f64], i: usize| v[i * d..(i + 1) * d].to_vec();
    let norm = |v: &[f64]| v.iter().map(|t| t * t).sum::<f64>().sqrt();
    let (mut loss, mut gx, mut gw) = (0.0, vec![0.0; b.n * d], vec![0.0; b.classes * d]);
    for i in 0..b.n {
        let (x, y) = (row(&b.x, i), b.y[i]);
        let r = norm(&x);
        let mut f = Vec::new();
        let mut cs = Vec::new();
        let mut slope = 1.0;
        for j in 0..b.classes {
            let w = row(&b.w, j);
            let c = x.iter().zip(&w).map(|(a, c)| a * c).sum::<f64>() / (r * norm(&w));
            cs.push(c);
            if j != y {
                f.push(s * c);
                continue;
            }
            let theta = c.clamp(-1.0, 1.0).acos();
            let margin = theta <= std::f64::consts::PI - m;
            let t = if margin {
                (theta + m).cos()
            } else {
                theta.cos() - m * m.sin()
            };
            if margin && flavour != Flavour::StraightThrough {
                slope = (theta + m).sin() / (1.0 - c * c).sqrt();
            }
            f.push(s * t);
        }
        let fmax = f.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = f.iter().map(|v| (v - fmax).exp()).collect();
        let z: f64 = e.iter().sum();
        loss += (fmax + z.ln() - f[y]) / b.n as f64;
        for j in 0..b.classes {
            let w = row(&b.w, j);
            let nu = norm(&w);
            let a = e[j] / z - if j == y { 1.0 } else { 0.0 };
            let h = if j == y { slope } else { 1.0 };
            let k = a * s * h / b.n as f64;
            for q in 0..d {
                gx[i * d + q] += k * (w[q] / nu - cs[j] * x[q] / r) / r;
                gw[j * d + q] += k * (x[q] / r - cs[j] * w[q] / nu) / nu;
            }
        }
    }
    (loss, gx, gw)
}

/// Random batches (N = 4, C = 6, d = 5, s = 64) with the ArcFace head (m = 1/2, linear
/// fallback, differentiable acos), as `vectors --head` makes them.
fn batches() -> Vec<Batch<f64>> {
    let mut rng = Rng::new(15);
    let head = Head {
        margin: Combined::arcface(Rational::from((1, 2)), Fallback::Linear),
        semantics: Semantics::DifferentiableAcos,
    };
    (0..6)
        .map(|_| {
            let p = BatchParams {
                n: 4,
                classes: 6,
                dim: 5,
                m: 1,
                lambda: 0.0,
                scale: 64.0,
                variant: Variant::ASoftmax,
                backward: Backward::Full,
                kind: FeatureKind::Random,
                xnorm: 1.0,
            };
            let mut b = random_batch::<f64>(&mut rng, &p).batch;
            b.head = Some(head.clone());
            b
        })
        .collect()
}

fn passes(b: &Batch<f64>, flavour: Flavour) -> bool {
    let exp = expected(b).expect("oracle");
    let (l, gx, gw) = arcface_f64(b, 0.5, flavour);
    let score = score_batch(
        b,
        &exp,
        (l, &gx, &gw),
        (Format::F64, Scheme::Native),
        &LossPolicy::default(),
        String::new(),
    );
    score.passed()
}

#[test]
fn float_arcface_passes_and_its_mistakes_fail() {
    let bs = batches();
    for b in &bs {
        assert!(
            passes(b, Flavour::Faithful),
            "the faithful float ArcFace fails"
        );
    }
    let wrong_units = bs
        .iter()
        .filter(|b| !passes(b, Flavour::MarginInDegrees))
        .count();
    assert_eq!(
        wrong_units,
        bs.len(),
        "radians read as degrees must fail every batch"
    );
    let detached = bs
        .iter()
        .filter(|b| !passes(b, Flavour::StraightThrough))
        .count();
    assert_eq!(
        detached,
        bs.len(),
        "a detached margin must fail differentiable-acos vectors"
    );
}
