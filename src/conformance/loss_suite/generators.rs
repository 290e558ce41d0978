//! Seeded loss batches: random, nearly (anti)parallel, saturated and balanced softmax,
//! every variant and backward, and one batch with many classes.

use super::scheme::Scheme;
use crate::arith::Format;
use crate::conformance::generators::Rng;
use crate::conformance::kernel::{Backward, Batch, FloatFormat, Variant};

/// A generated batch with a note saying what it exercises.
#[derive(Clone, Debug)]
pub struct BatchCase<T> {
    /// The batch.
    pub batch: Batch<T>,
    /// What it exercises.
    pub origin: String,
}

fn random_matrix<T: FloatFormat>(rng: &mut Rng, rows: usize, d: usize, scale: f64) -> Vec<T> {
    (0..rows * d)
        .map(|_| T::from_f64(rng.range(-1.0, 1.0) * scale))
        .collect()
}

/// How the features of a generated batch relate to the class rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureKind {
    /// Independent uniform entries.
    Random,
    /// Each feature is its class row times `‖x‖` with a relative jitter of 1e−7, so
    /// that a float cosine can exceed 1.
    NearlyParallel,
}

/// Loss parameters of a generated batch.
#[derive(Clone, Copy, Debug)]
pub struct BatchParams {
    /// Batch size N.
    pub n: usize,
    /// Classes C.
    pub classes: usize,
    /// Feature dimension d.
    pub dim: usize,
    /// Margin m.
    pub m: u32,
    /// λ.
    pub lambda: f64,
    /// s.
    pub scale: f64,
    /// Variant.
    pub variant: Variant,
    /// Backward semantics.
    pub backward: Backward,
    /// Feature layout.
    pub kind: FeatureKind,
    /// Typical feature norm scale.
    pub xnorm: f64,
}

/// One random batch in format `T` (W uniform in [−1, 1]).
pub fn random_batch<T: FloatFormat>(rng: &mut Rng, p: &BatchParams) -> BatchCase<T> {
    let (n, classes, dim) = (p.n, p.classes, p.dim);
    let w = random_matrix::<T>(rng, classes, dim, 1.0);
    let y: Vec<usize> = (0..n).map(|_| rng.below(classes as u64) as usize).collect();
    let x: Vec<T> = match p.kind {
        FeatureKind::NearlyParallel => (0..n)
            .flat_map(|i| {
                (0..dim)
                    .map(|k| {
                        let e = rng.range(-1.0, 1.0) * 1e-7;
                        T::from_f64(w[y[i] * dim + k].to_f64() * (1.0 + e) * p.xnorm)
                    })
                    .collect::<Vec<_>>()
            })
            .collect(),
        FeatureKind::Random => random_matrix::<T>(rng, n, dim, p.xnorm),
    };
    BatchCase {
        batch: Batch {
            x,
            w,
            y,
            n,
            classes,
            dim,
            m: p.m,
            lambda: T::from_f64(p.lambda),
            scale: T::from_f64(p.scale),
            variant: p.variant,
            backward: p.backward,
            head: None,
        },
        origin: format!(
            "{:?} N={n} C={classes} d={dim} m={} λ={} s={} ‖x‖~{:e} {:?} {:?}",
            p.kind, p.m, p.lambda, p.scale, p.xnorm, p.variant, p.backward
        ),
    }
}

/// Generated batches: random small batches over m ∈ {1, 2, 3, 4, 8, 16}, λ ∈ {0, 5, 1000},
/// s ∈ {1, 64}, both variants and both backward semantics; features nearly
/// parallel to their class row (so a float cosine can exceed 1); tiny and huge ‖x‖;
/// and one batch with many classes (`many_classes`, e.g. 2000; 0 for none).
pub fn loss_batches<T: FloatFormat>(seed: u64, many_classes: usize) -> Vec<BatchCase<T>> {
    loss_batches_in(seed, many_classes, Scheme::Native)
}

/// [`loss_batches`] for a kernel of `scheme` with inputs in `T`: the same batches, with
/// the tiny and huge feature norms that the scheme's arithmetic still represents with
/// room to spare — native binary16: squares above its smallest normal 2⁻¹⁴ and logits
/// `s·‖x‖·(2m − 1)` below 65504 (`‖x‖ ~ 4`); autocast computes in float32, so its
/// binary16 inputs go up to SphereFace's feature norms of a few hundred (`‖x‖ ~ 300`).
pub fn loss_batches_in<T: FloatFormat>(
    seed: u64,
    many_classes: usize,
    scheme: Scheme,
) -> Vec<BatchCase<T>> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let (tiny, huge) = match (T::FORMAT, scheme) {
        (Format::F32 | Format::Bf16, _) => (1e-6, 1e4),
        (Format::F64, _) => (1e-20, 1e4),
        (Format::F16, Scheme::Native) => (1e-2, 4.0),
        (Format::F16, Scheme::Autocast) => (1e-2, 300.0),
    };
    let base = BatchParams {
        n: 2,
        classes: 5,
        dim: 4,
        m: 1,
        lambda: 0.0,
        scale: 1.0,
        variant: Variant::ASoftmax,
        backward: Backward::Full,
        kind: FeatureKind::Random,
        xnorm: 1.0,
    };
    for m in [1u32, 2, 3, 4, 8, 16] {
        for (li, lambda) in [0.0, 5.0, 1000.0].into_iter().enumerate() {
            for variant in [Variant::ASoftmax, Variant::LSoftmax] {
                for backward in [Backward::Full, Backward::DetachedMargin] {
                    let scale = if li % 2 == 0 { 1.0 } else { 64.0 };
                    let p = BatchParams {
                        m,
                        lambda,
                        scale,
                        variant,
                        backward,
                        ..base
                    };
                    out.push(random_batch(&mut rng, &p));
                }
            }
        }
        let par = BatchParams {
            n: 2,
            classes: 4,
            dim: 6,
            m,
            kind: FeatureKind::NearlyParallel,
            ..base
        };
        out.push(random_batch(&mut rng, &par));
        let par_l = BatchParams {
            lambda: 5.0,
            scale: 64.0,
            variant: Variant::LSoftmax,
            xnorm: 3.0,
            ..par
        };
        out.push(random_batch(&mut rng, &par_l));
        let small = BatchParams {
            n: 1,
            classes: 3,
            dim: 4,
            m,
            xnorm: tiny,
            ..base
        };
        out.push(random_batch(&mut rng, &small));
        let huge = BatchParams {
            lambda: 5.0,
            scale: 64.0,
            xnorm: huge,
            ..small
        };
        out.push(random_batch(&mut rng, &huge));
    }
    if many_classes > 0 {
        let many = BatchParams {
            n: 1,
            classes: many_classes,
            m: 4,
            lambda: 5.0,
            scale: 64.0,
            ..base
        };
        out.push(random_batch(&mut rng, &many));
    }
    out
}
