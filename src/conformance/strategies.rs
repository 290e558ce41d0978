//! proptest strategies for the oracle's inputs, as free functions (behind the
//! `proptest` feature), so that users can write their own properties:
//!
//! ```ignore
//! use asoftmax_spec::conformance::strategies;
//! use proptest::prelude::*;
//! proptest! {
//!     #[test]
//!     fn my_psi_is_close((m, c) in strategies::margin_and_cos_f32(1..=8)) {
//!         // compare my_psi(m, c) with the oracle …
//!     }
//! }
//! ```
//!
//! The inputs mix the generators' edge cases (c = ±1 and neighbours, branch
//! thresholds, roots of T_m, subnormals) with uniform and near-±1 random points.
//!
//! Loss batches too, as nalgebra offers strategies for its matrices: [`loss_batch`]
//! generates a whole [`Batch`] within [`BatchSizes`]:
//!
//! ```ignore
//! use asoftmax_spec::conformance::strategies::{BatchSizes, loss_batch};
//! proptest! {
//!     #[test]
//!     fn my_loss_is_close(b in loss_batch::<f32>(BatchSizes::default())) {
//!         // compare my_loss(&b) with the oracle (conformance::loss_suite::expected) …
//!     }
//! }
//! ```

use super::generators::edge_cases;
use super::kernel::{Backward, Batch, FloatFormat, Variant};
use proptest::prelude::*;
use std::ops::RangeInclusive;

/// An integer margin in `range`.
pub fn margin(range: RangeInclusive<u32>) -> impl Strategy<Value = u32> {
    range
}

/// A cosine in `[−1, 1]` of format `T` for margin `m`: edge cases (half of the
/// time), uniform values, and values log-uniformly close to ±1.
pub fn cos_for<T: FloatFormat>(m: u32) -> BoxedStrategy<T> {
    let edges: Vec<T> = edge_cases::<T>(m, 4).into_iter().map(|c| c.c).collect();
    prop_oneof![
        2 => proptest::sample::select(edges),
        1 => (-1.0f64..=1.0).prop_map(T::from_f64),
        1 => (1.0f64..60.0, any::<bool>()).prop_map(|(e, neg)| {
            let v = 1.0 - 2f64.powf(-e);
            T::from_f64(if neg { -v } else { v })
        }),
    ]
    .boxed()
}

/// `(m, c)` with `m` in `range` and `c` from [`cos_for`] as `f32`.
pub fn margin_and_cos_f32(range: RangeInclusive<u32>) -> impl Strategy<Value = (u32, f32)> {
    range.prop_flat_map(|m| (Just(m), cos_for::<f32>(m)))
}

/// `(m, c)` with `m` in `range` and `c` from [`cos_for`] as `f64`.
pub fn margin_and_cos_f64(range: RangeInclusive<u32>) -> impl Strategy<Value = (u32, f64)> {
    range.prop_flat_map(|m| (Just(m), cos_for::<f64>(m)))
}

/// An angle in `[0, π]` as an `f64`, including the branch points `kπ/m` (rounded)
/// and their neighbours.
pub fn theta_for(m: u32) -> BoxedStrategy<f64> {
    let mut points = vec![0.0];
    for k in 1..=m {
        let t = std::f64::consts::PI * f64::from(k) / f64::from(m);
        points.extend([t.next_down(), t, t.next_up()]);
    }
    points.retain(|t| (0.0..=std::f64::consts::PI).contains(t));
    prop_oneof![
        1 => proptest::sample::select(points),
        2 => 0.0f64..=std::f64::consts::PI,
    ]
    .boxed()
}

/// The sizes of the batches [`loss_batch`] generates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchSizes {
    /// Batch size `N` (default `1..=3`).
    pub n: RangeInclusive<usize>,
    /// Number of classes `C` (default `2..=4`).
    pub classes: RangeInclusive<usize>,
    /// Feature dimension `d` (default `1..=4`).
    pub dim: RangeInclusive<usize>,
    /// Integer margin `m` (default `1..=8`).
    pub m: RangeInclusive<u32>,
}

impl Default for BatchSizes {
    fn default() -> Self {
        BatchSizes {
            n: 1..=3,
            classes: 2..=4,
            dim: 1..=4,
            m: 1..=8,
        }
    }
}

/// How the features of a generated batch relate to the class rows.
#[derive(Clone, Copy, Debug)]
enum Features {
    /// Independent entries uniform in `[−1, 1]`.
    Random,
    /// Each feature is `±` its class row with a relative jitter of `10⁻⁷` per entry, so
    /// that its target cosine is near `±1` (where a float cosine can leave `[−1, 1]`).
    NearlyParallel { anti: bool },
}

/// A loss batch in format `T` with sizes in `sizes`: class rows uniform in `[−1, 1]`,
/// labels uniform, features random or nearly (anti)parallel to their class row
/// (relative jitter `10⁻⁷`) times a norm `2^k` (`|k| ≤ 6`, or 1); `λ` from `{0, ½, 5, 1000}` or
/// uniform in `[0, 10]`, `s` from `{1, 16, 64}` or uniform in `[1, 64]` (both rounded
/// to `T`); both variants and both backwards. A row of norm below `2⁻¹⁰` gets 1 added
/// to its first entry: the oracle has no gradient at `x = 0` and no direction for
/// `W_j = 0`, so every generated batch has an oracle value.
pub fn loss_batch<T: FloatFormat>(sizes: BatchSizes) -> BoxedStrategy<Batch<T>> {
    let BatchSizes { n, classes, dim, m } = sizes;
    let features = prop_oneof![
        2 => Just(Features::Random),
        1 => any::<bool>().prop_map(|anti| Features::NearlyParallel { anti }),
    ];
    let xnorm = prop_oneof![Just(1.0), (-6i32..=6).prop_map(|k| 2f64.powi(k))];
    let lambda = prop_oneof![
        prop::sample::select(vec![0.0, 0.5, 5.0, 1000.0]),
        0.0f64..=10.0
    ];
    let scale = prop_oneof![prop::sample::select(vec![1.0, 16.0, 64.0]), 1.0f64..=64.0];
    let variant = prop::sample::select(vec![Variant::ASoftmax, Variant::LSoftmax]);
    let backward = prop::sample::select(vec![Backward::Full, Backward::DetachedMargin]);
    let loss = (m, lambda, scale, variant, backward);
    (n, classes, dim)
        .prop_flat_map(move |(n, c, d)| {
            let unit = || prop::collection::vec(-1.0f64..=1.0, c * d);
            (
                Just((n, c, d)),
                prop::collection::vec(-1.0f64..=1.0, n * d),
                unit(),
                prop::collection::vec(0..c, n),
                prop::collection::vec(-1e-7f64..=1e-7, n * d),
                features.clone(),
                xnorm.clone(),
                loss.clone(),
            )
        })
        .prop_map(
            |((n, c, d), x, w, y, jitter, features, xnorm, (m, lambda, s, variant, backward))| {
                let w = lift_small_rows(w, d);
                let x = match features {
                    Features::Random => x,
                    Features::NearlyParallel { anti } => (0..n * d)
                        .map(|i| {
                            let sign = if anti { -1.0 } else { 1.0 };
                            sign * w[y[i / d] * d + i % d] * (1.0 + jitter[i])
                        })
                        .collect(),
                };
                let x = lift_small_rows(x.into_iter().map(|v| v * xnorm).collect(), d);
                Batch {
                    x: x.into_iter().map(T::from_f64).collect(),
                    w: w.into_iter().map(T::from_f64).collect(),
                    y,
                    n,
                    classes: c,
                    dim: d,
                    m,
                    lambda: T::from_f64(lambda),
                    scale: T::from_f64(s),
                    variant,
                    backward,
                    head: None,
                }
            },
        )
        .boxed()
}

/// Adds 1 to the first entry of every row (of `d` entries) whose entries are all below
/// `2⁻¹⁰` in magnitude, so that no row is (nearly) zero.
fn lift_small_rows(mut v: Vec<f64>, d: usize) -> Vec<f64> {
    for row in v.chunks_mut(d) {
        if row.iter().all(|e| e.abs() < 2f64.powi(-10)) {
            row[0] += 1.0;
        }
    }
    v
}

/// A `(c, c_y)` input of format `T` for `head` (the head suite's,
/// [`super::head_suite::head_cases`]): its hard places with their neighbours half of the
/// time, otherwise uniform cosines and cosines log-uniformly close to ±1; `c_y` from the
/// same mix.
pub fn head_cos_for<T: FloatFormat>(head: &crate::head::family::Head) -> BoxedStrategy<(T, T)> {
    let cfg = super::GenConfig {
        sweep: 0,
        random: 0,
        ..super::GenConfig::default()
    };
    let edges: Vec<(T, T)> = super::head_suite::head_cases::<T>(head, &cfg)
        .into_iter()
        .map(|c| (c.c, c.c_y))
        .collect();
    let free = || {
        prop_oneof![
            1 => (-1.0f64..=1.0).prop_map(T::from_f64),
            1 => (1.0f64..60.0, any::<bool>()).prop_map(|(e, neg)| {
                let v = 1.0 - 2f64.powf(-e);
                T::from_f64(if neg { -v } else { v })
            }),
        ]
    };
    prop_oneof![
        1 => proptest::sample::select(edges),
        1 => (free(), free()),
    ]
    .boxed()
}

/// A head state of `kind` ([`super::head_suite::head_states`]) with a `(c, c_y)` input
/// from [`head_cos_for`], for properties over a whole head family:
///
/// ```ignore
/// proptest! {
///     #[test]
///     fn my_magface((head, (c, c_y)) in strategies::head_and_cos::<f32>(Kind::MagFace)) {
///         // compare my_target(&head, c) with head_suite::oracle_value(&head, HeadOp::Target, …)
///     }
/// }
/// ```
pub fn head_and_cos<T: FloatFormat>(
    kind: crate::head::Kind,
) -> BoxedStrategy<(crate::head::family::Head, (T, T))> {
    let states = super::head_suite::head_states(kind);
    proptest::sample::select(states)
        .prop_flat_map(|h| (Just(h.clone()), head_cos_for::<T>(&h)))
        .boxed()
}
