//! Throughput of the fast kernels (`asoftmax_spec::fast`): each op in `f32` and `f64`
//! for `m ∈ {4, 16}` over a fixed array of 1024 inputs in `[−1, 1]`, called one at a
//! time through a [`Plan`] (`scalar`) and through the slice evaluator (`slice`), with
//! the plain `f64` recurrence `T_{n+1} = 2c·T_n − T_{n−1}` (not accurate, see the
//! module docs of `fast`) as a yardstick. Criterion reports the time per 1024
//! elements; divide by 1024 for ns/op.
//!
//! ```text
//! cargo bench --bench fast -- --warm-up-time 1 --measurement-time 2
//! ```

use asoftmax_spec::fast::{Op, Plan};
use criterion::{BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main};

const N: usize = 1024;

fn inputs() -> Vec<f64> {
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..N)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            2.0 * ((s >> 11) as f64 * 2f64.powi(-53)) - 1.0
        })
        .collect()
}

fn recurrence(m: u32, c: f64) -> f64 {
    let (mut prev, mut cur) = (1.0, c);
    if m == 0 {
        return prev;
    }
    for _ in 1..m {
        let next = 2.0 * c * cur - prev;
        prev = cur;
        cur = next;
    }
    cur
}

fn bench(cr: &mut Criterion) {
    let xs = inputs();
    let xs32: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
    let mut g = cr.benchmark_group("fast");
    g.throughput(Throughput::Elements(N as u64));
    for m in [4u32, 16] {
        let p = Plan::new(m).expect("m <= 16");
        for op in Op::ALL {
            let id =
                |kind: &str| BenchmarkId::new(format!("{}/{kind}", op.name()), format!("m={m}"));
            g.bench_function(id("f64 scalar"), |b| {
                b.iter(|| {
                    for &c in black_box(&xs) {
                        black_box(match op {
                            Op::CosM => p.cos_m_f64(c),
                            Op::Psi => p.psi_f64(c),
                            Op::DpsiDcos => p.dpsi_dcos_f64(c),
                        });
                    }
                })
            });
            g.bench_function(id("f32 scalar"), |b| {
                b.iter(|| {
                    for &c in black_box(&xs32) {
                        black_box(match op {
                            Op::CosM => p.cos_m_f32(c),
                            Op::Psi => p.psi_f32(c),
                            Op::DpsiDcos => p.dpsi_dcos_f32(c),
                        });
                    }
                })
            });
            let mut out = vec![0.0; N];
            g.bench_function(id("f64 slice"), |b| {
                b.iter(|| p.eval_f64(op, black_box(&xs), &mut out))
            });
            let mut out32 = vec![0.0f32; N];
            g.bench_function(id("f32 slice"), |b| {
                b.iter(|| p.eval_f32(op, black_box(&xs32), &mut out32))
            });
        }
        g.bench_function(
            BenchmarkId::new("plain f64 recurrence (inaccurate)", format!("m={m}")),
            |b| {
                b.iter(|| {
                    for &c in black_box(&xs) {
                        black_box(recurrence(black_box(m), c));
                    }
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
