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

use super::generators::edge_cases;
use super::kernel::FloatFormat;
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
