//! Criterion benchmark of the loss oracle with gradients, `loss(spec, true, prec)`,
//! for (N, C, d) = (1, 10, 64) and (8, 100, 128) at 53 and 256 bits, on deterministic
//! pseudo-random f64 inputs (exact dyadic rationals), A-Softmax, m = 4, λ = 5, s = 64.

use asoftmax_spec::arith::rational_from_f64;
use asoftmax_spec::loss::{LossSpec, loss};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rug::Rational;
use std::hint::black_box;

/// splitmix64 → uniform f64 in [−1, 1).
fn matrix(seed: &mut u64, rows: usize, cols: usize) -> Vec<Vec<Rational>> {
    let mut next = || {
        *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    };
    (0..rows)
        .map(|_| {
            (0..cols)
                .map(|_| rational_from_f64(next()).expect("finite"))
                .collect()
        })
        .collect()
}

fn spec(n: usize, c: usize, d: usize) -> LossSpec {
    let mut seed = 0x1234_5678_9abc_def0 ^ (n * 1_000_003 + c * 1_009 + d) as u64;
    let x = matrix(&mut seed, n, d);
    let w = matrix(&mut seed, c, d);
    let y = (0..n).map(|i| (i * 7) % c).collect();
    let mut s = LossSpec::new(x, w, y, Rational::from(4));
    s.lambda = Rational::from(5);
    s.scale = Rational::from(64);
    s
}

fn bench_loss(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("loss_with_grad");
    g.sample_size(10);
    for (n, c, d) in [(1, 10, 64), (8, 100, 128)] {
        let s = spec(n, c, d);
        for prec in [53u32, 256] {
            g.bench_with_input(
                BenchmarkId::new(format!("N{n}_C{c}_d{d}"), prec),
                &prec,
                |b, &prec| b.iter(|| loss(black_box(&s), true, prec).expect("loss")),
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench_loss);
criterion_main!(benches);
