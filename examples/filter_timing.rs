//! Times the loss filter on a random f32 batch:
//! `cargo run --release --example filter_timing -- N C d`.
use asoftmax_spec::loss::{Backward, Variant};
use asoftmax_spec::loss_filter::{FloatBatch, Tier, certify};

fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().unwrap())
        .collect();
    let (n, c, d) = (a[0], a[1], a[2]);
    let mut s = 0x1234_5678u64;
    let mut r = || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) as f64
    };
    let x: Vec<f64> = (0..n * d).map(|_| r()).collect();
    let w: Vec<f64> = (0..c * d).map(|_| r() * 0.05).collect();
    let y: Vec<usize> = (0..n).map(|i| (i * 7919) % c).collect();
    let b = FloatBatch {
        x: &x,
        w: &w,
        y: &y,
        n,
        classes: c,
        dim: d,
        m: 4,
        lambda: 0.0,
        scale: 1.0,
        variant: Variant::ASoftmax,
        backward: Backward::Full,
    };
    let t = std::time::Instant::now();
    let first = asoftmax_spec::loss_filter::enclosures(&b).unwrap();
    println!("first tier: {:.2} s", t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let one_w = [first.len() - 1];
    asoftmax_spec::loss_filter::second_tier(&b, &one_w).unwrap();
    println!(
        "second tier, one output of dL/dW: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = std::time::Instant::now();
    let out = certify(&b, Tier::Filter).unwrap();
    println!(
        "{:.2} s, undecided by the first tier {}, exact tier {}, loss {}",
        t.elapsed().as_secs_f64(),
        out.undecided,
        out.exact_tier,
        out.loss.f64
    );
}
