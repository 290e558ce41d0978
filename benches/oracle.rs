//! Oracle throughput: ψ(c), dψ/dc and cos_m at 256 bits (and 53 for comparison),
//! for typical inputs (f64 values, decimal inputs) and m ∈ {4, 16}.

use asoftmax_spec::arith::{parse_exact, rational_from_f64};
use asoftmax_spec::{Angle, multiangle, psi};
use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use rug::Rational;

fn inputs() -> Vec<(&'static str, Angle)> {
    vec![
        ("f64 c=0.3", Angle::Cos(rational_from_f64(0.3).unwrap())),
        ("decimal c=0.3", Angle::Cos(parse_exact("0.3").unwrap())),
        ("theta=1.2", Angle::Theta(rational_from_f64(1.2).unwrap())),
    ]
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("oracle");
    for prec in [53u32, 256] {
        for m in [4u32, 16] {
            for (name, at) in inputs() {
                let id = format!("m={m} prec={prec} {name}");
                let mr = Rational::from(m);
                g.bench_with_input(BenchmarkId::new("psi", &id), &at, |b, at| {
                    b.iter(|| psi::psi(black_box(&mr), black_box(at), prec).unwrap())
                });
                g.bench_with_input(BenchmarkId::new("cos_m", &id), &at, |b, at| {
                    b.iter(|| multiangle::cos_m(black_box(m), black_box(at), prec).unwrap())
                });
                if matches!(at, Angle::Cos(_)) {
                    g.bench_with_input(BenchmarkId::new("dpsi_dcos", &id), &at, |b, at| {
                        b.iter(|| psi::dpsi_dcos(black_box(m), black_box(at), prec).unwrap())
                    });
                }
            }
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
