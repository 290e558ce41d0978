//! Throughput of the published-formula zoo: each variant's ψ at m = 4 over a fixed
//! array of 1024 cosines, in f32 and f64 (one iteration = 1024 evaluations; divide the
//! reported time by 1024, or read the element throughput, for ns/op).
//!
//! `cargo bench --bench zoo -- --warm-up-time 1 --measurement-time 2`

use asoftmax_spec::conformance::{FloatFormat, ScalarKernel};
use asoftmax_spec::zoo::{all_f32, all_f64};
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};

const M: u32 = 4;
const N: usize = 1024;

/// 1024 fixed cosines: 1000 evenly spaced over [−1, 1] (endpoints included) and 24
/// near the branch thresholds cos(jπ/4) and the ends.
fn inputs<T: FloatFormat>() -> Vec<T> {
    let mut v: Vec<f64> = (0..1000)
        .map(|i| -1.0 + 2.0 * f64::from(i) / 999.0)
        .collect();
    for t in [
        1.0,
        std::f64::consts::FRAC_1_SQRT_2,
        0.0,
        -std::f64::consts::FRAC_1_SQRT_2,
    ] {
        for d in [-1e-3, -1e-6, -1e-9, 1e-9, 1e-6, 1e-3] {
            v.push((t + d).clamp(-1.0, 1.0));
        }
    }
    assert_eq!(v.len(), N);
    v.into_iter().map(T::from_f64).collect()
}

fn bench_kernels<T: FloatFormat>(
    c: &mut Criterion,
    ty: &str,
    kernels: Vec<Box<dyn ScalarKernel<T>>>,
) {
    let xs = inputs::<T>();
    let mut g = c.benchmark_group(format!("zoo_psi_m4_{ty}"));
    g.throughput(Throughput::Elements(N as u64));
    for k in &kernels {
        g.bench_with_input(BenchmarkId::from_parameter(k.name()), &xs, |b, xs| {
            b.iter(|| {
                let mut acc = 0.0f64;
                for &x in xs {
                    acc += k.psi(M, black_box(x)).to_f64();
                }
                acc
            })
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    bench_kernels(c, "f32", all_f32());
    bench_kernels(c, "f64", all_f64());
}

criterion_group!(benches, bench);
criterion_main!(benches);
