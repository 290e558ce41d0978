//! Seeded, reproducible inputs for the scalar ops, kept apart from the precision
//! policy: edge cases first, then spaced sweeps, then random points.
//!
//! Edge cases for margin `m` in format `T`: `c = ±1` and their float neighbours,
//! `0`, `±1/2`, the smallest subnormal and normal numbers, every branch threshold
//! `cos(jπ/m)` (= the roots of `U_{m−1}`), every root `cos((2j−1)π/(2m))` of `T_m`,
//! each rounded to `T` together with its float neighbours (± `neighbours` ulps).

use super::kernel::FloatFormat;
use crate::arith::{Ival, round::round_to};

/// A small, fast, seedable generator (SplitMix64): reproducible across platforms.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * 2f64.powi(-53)
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// How many inputs of each kind to generate, and the seed of the random part.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Float neighbours taken on each side of every special point.
    pub neighbours: u32,
    /// Points of the evenly spaced sweeps (in θ and in c).
    pub sweep: usize,
    /// Random points.
    pub random: usize,
    /// Seed of the random points (printed in every failure report).
    pub seed: u64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            neighbours: 4,
            sweep: 256,
            random: 512,
            seed: 0x5eed_a50f_7a11,
        }
    }
}

/// One generated input with a note saying where it comes from.
#[derive(Clone, Debug)]
pub struct Case<T> {
    /// The input `c`.
    pub c: T,
    /// Where it comes from (`"threshold j=1 +2ulp"`, `"random"`, …).
    pub origin: String,
}

/// The float of format `T` nearest to `cos(num·π/den)`, computed with MPFR.
pub fn cos_pi_fraction<T: FloatFormat>(num: u32, den: u32) -> T {
    let wp = 192;
    let angle = Ival::pi(wp)
        .mul(&Ival::from_integer(&num.into(), wp))
        .div(&Ival::from_integer(&den.into(), wp))
        .expect("den > 0");
    // Rounded straight to T's format (no double rounding through f64).
    T::from_f64(round_to(angle.cos().lo(), T::FORMAT))
}

fn step<T: FloatFormat>(x: T, up: bool) -> T {
    let (v, fmt) = (x.to_f64(), T::FORMAT);
    T::from_f64(if up { fmt.next_up(v) } else { -fmt.next_up(-v) })
}

fn in_domain<T: FloatFormat>(x: T) -> bool {
    let v = x.to_f64();
    (-1.0..=1.0).contains(&v)
}

/// Pushes `x` and its neighbours within [−1, 1].
pub(crate) fn push_with_neighbours<T: FloatFormat>(
    out: &mut Vec<Case<T>>,
    x: T,
    what: &str,
    k: u32,
) {
    out.push(Case {
        c: x,
        origin: what.to_string(),
    });
    for up in [false, true] {
        let mut y = x;
        for i in 1..=k {
            y = step(y, up);
            if in_domain(y) {
                let sign = if up { '+' } else { '-' };
                out.push(Case {
                    c: y,
                    origin: format!("{what} {sign}{i}ulp"),
                });
            }
        }
    }
}

/// Edge-case inputs for margin `m` (see the module docs).
pub fn edge_cases<T: FloatFormat>(m: u32, neighbours: u32) -> Vec<Case<T>> {
    let mut out = Vec::new();
    let one = T::from_f64(1.0);
    let fmt = T::FORMAT;
    let tiny = T::from_f64(2f64.powi(fmt.tiny_exp()));
    let min_normal = T::from_f64(2f64.powi(fmt.tiny_exp() + fmt.precision() as i32 - 1));
    for (v, what) in [
        (one, "c=1"),
        (T::from_f64(-1.0), "c=-1"),
        (T::from_f64(0.0), "c=0"),
        (T::from_f64(0.5), "c=1/2"),
        (T::from_f64(-0.5), "c=-1/2"),
    ] {
        push_with_neighbours(&mut out, v, what, neighbours);
    }
    for (v, what) in [
        (tiny, "smallest subnormal"),
        (T::from_f64(-tiny.to_f64()), "-smallest subnormal"),
        (min_normal, "smallest normal"),
        (T::from_f64(-min_normal.to_f64()), "-smallest normal"),
    ] {
        out.push(Case {
            c: v,
            origin: what.into(),
        });
    }
    for j in 1..m {
        let t = cos_pi_fraction::<T>(j, m);
        push_with_neighbours(&mut out, t, &format!("threshold cos({j}π/{m})"), neighbours);
    }
    for j in 1..=m {
        let r = cos_pi_fraction::<T>(2 * j - 1, 2 * m);
        push_with_neighbours(
            &mut out,
            r,
            &format!("root cos({}π/{})", 2 * j - 1, 2 * m),
            neighbours,
        );
    }
    out
}

/// Evenly spaced inputs: `n` points uniform in θ ∈ [0, π] (c = cos θ) and `n` uniform in c.
pub fn sweep<T: FloatFormat>(n: usize) -> Vec<Case<T>> {
    let mut out = Vec::with_capacity(2 * n);
    let denom = (n.max(2) - 1) as f64;
    for i in 0..n {
        let theta = std::f64::consts::PI * i as f64 / denom;
        out.push(Case {
            c: T::from_f64(theta.cos().clamp(-1.0, 1.0)),
            origin: format!("sweep θ={theta:.6}"),
        });
        out.push(Case {
            c: T::from_f64(-1.0 + 2.0 * i as f64 / denom),
            origin: "sweep c".into(),
        });
    }
    out
}

/// Random inputs: uniform in c, uniform in θ, and log-uniformly close to ±1.
pub fn random<T: FloatFormat>(n: usize, seed: u64) -> Vec<Case<T>> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|i| {
            let c = match i % 3 {
                0 => rng.range(-1.0, 1.0),
                1 => rng.range(0.0, std::f64::consts::PI).cos(),
                _ => {
                    let gap = 2f64.powf(-rng.range(1.0, 60.0));
                    if rng.below(2) == 0 {
                        1.0 - gap
                    } else {
                        gap - 1.0
                    }
                }
            };
            Case {
                c: T::from_f64(c.clamp(-1.0, 1.0)),
                origin: format!("random #{i} (seed {seed:#x})"),
            }
        })
        .collect()
}

/// All inputs for margin `m`: edge cases, sweeps, random (in this order).
pub fn scalar_inputs<T: FloatFormat>(m: u32, cfg: &GenConfig) -> Vec<Case<T>> {
    let mut v = edge_cases(m, cfg.neighbours);
    v.extend(sweep(cfg.sweep));
    v.extend(random(cfg.random, cfg.seed ^ u64::from(m)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_in_domain() {
        let a: Vec<f32> = scalar_inputs::<f32>(4, &GenConfig::default())
            .iter()
            .map(|c| c.c)
            .collect();
        let b: Vec<f32> = scalar_inputs::<f32>(4, &GenConfig::default())
            .iter()
            .map(|c| c.c)
            .collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|c| (-1.0..=1.0).contains(c)));
    }

    #[test]
    fn thresholds_are_nearest_floats() {
        let t: f64 = cos_pi_fraction(1, 4);
        assert_eq!(t, std::f64::consts::FRAC_1_SQRT_2);
        let h: f32 = cos_pi_fraction(1, 3);
        assert_eq!(h, 0.5);
    }
}
