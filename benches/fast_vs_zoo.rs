//! Side by side: the crate's fast kernels against every published-formula variant,
//! all called through the same `&dyn ScalarKernel<T>` interface over the same 1024
//! inputs (uniform in θ), so that the comparison is fair.

use asoftmax_spec::audit::{kernels_f32, kernels_f64};
use asoftmax_spec::conformance::{FloatFormat, ScalarKernel};
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};

fn inputs<T: FloatFormat>() -> Vec<T> {
    (0..1024)
        .map(|i| T::from_f64((std::f64::consts::PI * (i as f64 + 0.5) / 1024.0).cos()))
        .collect()
}

fn bench_format<T: FloatFormat>(c: &mut Criterion, kernels: Vec<Box<dyn ScalarKernel<T>>>, m: u32) {
    let xs = inputs::<T>();
    let mut g = c.benchmark_group(format!("psi m={m} {}", T::FORMAT.name()));
    g.throughput(Throughput::Elements(xs.len() as u64));
    for k in kernels.iter().filter(|k| k.supports(m)) {
        g.bench_with_input(BenchmarkId::from_parameter(k.name()), &xs, |b, xs| {
            b.iter(|| {
                let mut acc = 0.0;
                for &x in xs {
                    acc += k.psi(black_box(m), black_box(x)).to_f64();
                }
                acc
            })
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    bench_format::<f32>(c, kernels_f32(), 4);
    bench_format::<f64>(c, kernels_f64(), 4);
}

criterion_group!(benches, bench);
criterion_main!(benches);
