//! Every `f32` input, checked: the exhaustive tier for the scalar ops.
//!
//! For an op (`cos_m`, `psi`, `dpsi_dcos`), a margin `m` and a kernel, every `f32` `c` in
//! `[−1, 1]` (both zeros included: [`TOTAL`] = 2 130 706 434 inputs) is evaluated by the
//! kernel and compared bit for bit with the **certified** correctly rounded value.
//!
//! # The certified value: a filter with a proven bound, MPFR where it cannot decide
//!
//! As CORE-MATH does, a fast path with a proven error bound decides almost every input
//! and the accurate path runs only where it cannot. `T_m` and `U_{m−1}` have small
//! integer coefficients (exact in `f64` for `m ≤ 24`) and one parity, `p(c) = c^s·q(c²)`;
//! an `f32` `c` and its square are exact in `f64`, so Horner's rule on `q` at `c²` gives
//! `ŷ` with
//!
//! ```text
//! |ŷ − q(c²)| ≤ γ_2n · Σ|b_i|·c^2i,   γ_k = k·u/(1 − k·u),  u = 2^−53   (Higham, Thm. 5.3)
//! ```
//!
//! where `n = deg q` (half the degree of `p`) and `Σ|b_i|·c^2i` is bounded by the same
//! Horner recurrence run on `|b_i|` (all terms non-negative, so its computed value
//! `Ŝ ≥ S·(1 − γ_2n)`); for odd `p` the bound is multiplied by `|c|` and the final
//! product `ŷ·c` adds half an ulp.
//! An absolute `4n·2^−1074` covers underflow. ψ subtracts `2k` and `dψ/dc` multiplies by
//! `m`, each adding half an ulp of the result. The branch `k` compares `c` with rigorous
//! `f64` enclosures of `cos(jπ/m)` (MPFR, 128 bits); Niven's thresholds `0, ±½` are
//! compared exactly. When both ends of `[ŷ − B, ŷ + B]` (rounded outward) round to the
//! same `f32` bit pattern, that is the certified value; otherwise (near a rounding
//! midpoint, at an exact zero, or with an undecided branch) the MPFR oracle decides
//! ([`Stats::fallbacks`] counts those).
//!
//! # Shards
//!
//! Inputs are numbered `0..TOTAL` ([`input`]); shard `I/N` is the range
//! `[⌊TOTAL·I/N⌋, ⌊TOTAL·(I+1)/N⌋)`, the same on every machine, so a CI matrix or an array
//! job can run the shards anywhere and [`Summary::merge`] combines their summaries.

use super::{ScalarKernel, ScalarOp};
use crate::arith::{Ival, rational_from_f64};
use crate::multiangle::{chebyshev_t_coefficients, chebyshev_u_coefficients};
use crate::{Angle, Error};
use rug::Rational;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

/// The number of non-negative `f32` in `[0, 1]`: `+0` to `1.0` by bit pattern.
pub const POSITIVE: u64 = 0x3F80_0000 + 1;
/// The number of `f32` in `[−1, 1]`, both zeros included.
pub const TOTAL: u64 = 2 * POSITIVE;
/// The largest margin the certified filter supports (coefficients exact in `f64`).
pub const MAX_M: u32 = 24;

/// The `i`-th input: `+0 … 1` by increasing bit pattern, then `−0 … −1`.
pub fn input(i: u64) -> f32 {
    if i < POSITIVE {
        f32::from_bits(i as u32)
    } else {
        -f32::from_bits((i - POSITIVE) as u32)
    }
}

/// A deterministic slice `I/N` of the inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// `I`, `0 ≤ I < N`.
    pub index: u64,
    /// `N ≥ 1`.
    pub count: u64,
}

impl Shard {
    /// All inputs.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `"I/N"` (`0 ≤ I < N`).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text
            .split_once('/')
            .ok_or_else(|| format!("shard {text:?}: expected I/N, e.g. 3/64"))?;
        let parse = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|e| format!("shard {text:?}: {e}"))
        };
        let (index, count) = (parse(i)?, parse(n)?);
        if count == 0 || index >= count || count > TOTAL {
            return Err(format!("shard {text:?}: expected 0 <= I < N <= {TOTAL}"));
        }
        Ok(Shard { index, count })
    }

    /// The input indices of this shard.
    pub fn range(&self) -> Range<u64> {
        let at = |k: u64| (u128::from(TOTAL) * u128::from(k) / u128::from(self.count)) as u64;
        at(self.index)..at(self.index + 1)
    }
}

/// A polynomial `p(c) = Σ a_i·c^i` of one parity, written `c^s·q(c²)` (`s` = 0 or 1),
/// with what its evaluation's error bound needs precomputed.
///
/// For an `f32` `c`, `c²` is exact in `f64` (48 significant bits, exponent ≥ −298), so
/// Horner's rule on `q` at `c²` runs `n = deg q` steps (half the degree of `p`): the
/// bound of the module docs with `γ_2n`, times `|c|` when `s = 1`, plus the rounding of
/// that last product.
#[derive(Clone, Debug)]
struct Poly {
    /// `q`'s coefficients, constant term first.
    q: Vec<f64>,
    /// Their absolute values.
    q_abs: Vec<f64>,
    /// `s = 1`.
    odd: bool,
    /// `γ_2n/(1 − γ_2n)·(1 + 2^−40)`: the margin covers the few roundings of the bound's
    /// own evaluation.
    factor: f64,
    /// `(4n + 2)·2^−1074`: every underflowing operation's absolute error, with room.
    tiny: f64,
}

impl Poly {
    /// `a` (constant first) must have one parity: its zero coefficients say which.
    fn new(a: &[f64]) -> Poly {
        let odd = a.first() == Some(&0.0) && a.len() > 1;
        debug_assert!(
            a.iter()
                .enumerate()
                .all(|(i, v)| i % 2 == usize::from(odd) || *v == 0.0),
            "not of one parity: {a:?}"
        );
        let q: Vec<f64> = a
            .iter()
            .skip(usize::from(odd))
            .step_by(2)
            .copied()
            .collect();
        let n = q.len().saturating_sub(1) as f64;
        let u = f64::EPSILON / 2.0;
        let g = 2.0 * n * u / (1.0 - 2.0 * n * u);
        Poly {
            q_abs: q.iter().map(|v| v.abs()).collect(),
            q,
            odd,
            factor: g / (1.0 - g) * (1.0 + 2f64.powi(-40)),
            tiny: (4.0 * n + 2.0) * f64::from_bits(1),
        }
    }

    /// `(p̂(c), B)` with `|p̂(c) − p(c)| ≤ B`, for `c` exactly an `f32`.
    fn eval(&self, c: f64) -> (f64, f64) {
        let x2 = c * c;
        let (mut y, mut s) = (0.0f64, 0.0f64);
        // Plain multiply and add (two roundings a step: γ_2n covers them); `mul_add`
        // would call the C library's `fma` on targets built without the instruction.
        for (b, b_abs) in self.q.iter().rev().zip(self.q_abs.iter().rev()) {
            y = y * x2 + *b;
            s = s * x2 + *b_abs;
        }
        if self.odd {
            let v = y * c;
            (v, self.factor * s * c.abs() + half_ulp(v) + self.tiny)
        } else {
            (y, self.factor * s + self.tiny)
        }
    }
}

/// The certified `f32` of a value known to lie in `[v − b, v + b]`, if that decides it.
fn decide(v: f64, b: f64) -> Option<f32> {
    let lo = (v - b).next_down() as f32;
    let hi = (v + b).next_up() as f32;
    (lo.to_bits() == hi.to_bits()).then_some(lo)
}

/// The certified `f32` of `l + r` with `l` exact and `|r − r̂| ≤ br`, when the plain
/// [`decide`] cannot tell because `l` is exactly an `f32` rounding midpoint and `r` tiny
/// (an odd polynomial at a tiny `c`: `T_3(c) = −3c + 4c³`, where `−3c` often is a
/// midpoint): then the sign of `r` decides, provided `|r| < ¼` of the gap.
fn decide_split(l: f64, r: f64, br: f64) -> Option<f32> {
    let s = l + r;
    if let Some(v) = decide(s, br + half_ulp(s)) {
        return Some(v);
    }
    if r - br <= 0.0 && r + br >= 0.0 {
        return None;
    }
    let f = l as f32;
    let (a, b) = if f64::from(f) < l {
        (f, f.next_up())
    } else {
        (f.next_down(), f)
    };
    let (fa, fb) = (f64::from(a), f64::from(b));
    // l is the midpoint of its two f32 neighbours (the sum of two f32 is exact in f64).
    if fa + fb != 2.0 * l || r.abs() + br >= (fb - fa) / 4.0 {
        return None;
    }
    Some(if r > 0.0 { b } else { a })
}

/// Half an ulp of `v` in `f64`, as a bound on the rounding of one operation giving `v`.
fn half_ulp(v: f64) -> f64 {
    v.abs() * (f64::EPSILON / 2.0) + f64::from_bits(1)
}

/// The certified reference for one margin `m`.
#[derive(Clone, Debug)]
pub struct Reference {
    m: u32,
    /// `T_m` and `U_{m−1}`.
    t: Poly,
    u: Poly,
    /// Their linear coefficients, and the same polynomials without their linear term
    /// (odd polynomials of degree ≥ 3 only; else `None`), for [`decide_split`].
    t_rest: Option<(f64, Poly)>,
    u_rest: Option<(f64, Poly)>,
    /// `cos(jπ/m)`, `j = 1..m−1`: an `f64` enclosure, or the exact Niven value.
    thresholds: Vec<Threshold>,
}

#[derive(Clone, Copy, Debug)]
enum Threshold {
    Exact(f64),
    Between(f64, f64),
}

/// The certified values of the three ops at one input, and `f64` approximations of the
/// exact values (for error measures).
#[derive(Clone, Copy, Debug)]
pub struct Certified {
    /// `[cos_m, psi, dpsi_dcos]`, correctly rounded to `f32`.
    pub f32: [f32; 3],
    /// The same values to about 50 bits.
    pub approx: [f64; 3],
    /// Which of the three needed the MPFR oracle.
    pub fell_back: [bool; 3],
}

/// The index of an op in [`Certified`]'s arrays.
pub fn op_index(op: ScalarOp) -> usize {
    match op {
        ScalarOp::CosM => 0,
        ScalarOp::Psi => 1,
        ScalarOp::DpsiDcos => 2,
    }
}

impl Reference {
    /// The reference for margin `1 ≤ m ≤ MAX_M`.
    pub fn new(m: u32) -> Result<Reference, Error> {
        if !(1..=MAX_M).contains(&m) {
            return Err(Error::Domain {
                arg: "m",
                value: m.to_string(),
                expected: "a margin 1 <= m <= 24 for the exhaustive tier",
            });
        }
        let exact = |v: &rug::Integer| {
            let f = v.to_f64();
            debug_assert_eq!(rug::Integer::from_f64(f).as_ref(), Some(v));
            f
        };
        let t: Vec<f64> = chebyshev_t_coefficients(m).iter().map(exact).collect();
        let u: Vec<f64> = chebyshev_u_coefficients(m - 1).iter().map(exact).collect();
        let thresholds = (1..m).map(|j| threshold(j, m)).collect();
        let rest = |p: &[f64]| {
            (p.first() == Some(&0.0) && p.len() > 2).then(|| {
                let mut r = p.to_vec();
                r[1] = 0.0;
                (p[1], Poly::new(&r))
            })
        };
        Ok(Reference {
            m,
            t_rest: rest(&t),
            u_rest: rest(&u),
            t: Poly::new(&t),
            u: Poly::new(&u),
            thresholds,
        })
    }

    /// The margin.
    pub fn m(&self) -> u32 {
        self.m
    }

    /// `k = #{j : c < cos(jπ/m)}`, or `None` when an enclosure cannot decide it.
    fn branch(&self, c: f64) -> Option<u32> {
        let mut k = 0;
        for t in &self.thresholds {
            let less = match *t {
                Threshold::Exact(v) => c < v,
                Threshold::Between(lo, _) if c < lo => true,
                Threshold::Between(_, hi) if c > hi => false,
                Threshold::Between(..) => return None,
            };
            k += u32::from(less);
        }
        Some(k)
    }

    /// The certified values at `c` of the ops in `need` (indexed by [`op_index`]; the
    /// others are left NaN): the filter, then the oracle where it cannot decide.
    pub fn certify(&self, c: f32, need: [bool; 3]) -> Certified {
        let x = f64::from(c);
        let (t, bt) = self.t.eval(x);
        let (u, bu) = self.u.eval(x);
        let m = f64::from(self.m);
        let mu = m * u;
        let mut out = Certified {
            f32: [f32::NAN; 3],
            approx: [t, f64::NAN, f64::NAN],
            fell_back: [false; 3],
        };
        let branch = self.branch(x);
        let (psi, dpsi) = match branch {
            Some(k) => {
                let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
                let psi = sign * t - 2.0 * f64::from(k);
                (
                    Some((psi, bt + half_ulp(psi))),
                    Some((sign * mu, m * bu + half_ulp(mu))),
                )
            }
            None => (None, None),
        };
        out.approx[1] = psi.map_or(f64::NAN, |p| p.0);
        out.approx[2] = dpsi.map_or(f64::NAN, |p| p.0);
        let filtered = [Some((t, bt)), psi, dpsi];
        for op in [ScalarOp::CosM, ScalarOp::Psi, ScalarOp::DpsiDcos] {
            let i = op_index(op);
            if !need[i] {
                continue;
            }
            let decided = filtered[i]
                .and_then(|(v, b)| decide(v, b))
                .or_else(|| self.decide_odd(op, x, branch));
            out.f32[i] = match decided {
                Some(v) => v,
                None => {
                    out.fell_back[i] = true;
                    let a = self.oracle(op, c);
                    out.approx[i] = a.1;
                    a.0
                }
            };
        }
        out
    }

    /// `cos_m` (odd `m`) and `dψ/dc` (even `m`) as `exact linear term + rest`, for
    /// [`decide_split`].
    fn decide_odd(&self, op: ScalarOp, x: f64, branch: Option<u32>) -> Option<f32> {
        let (rest, scale) = match op {
            ScalarOp::CosM => (&self.t_rest, 1.0),
            ScalarOp::DpsiDcos => {
                let sign = if branch? % 2 == 0 { 1.0 } else { -1.0 };
                (&self.u_rest, sign * f64::from(self.m))
            }
            ScalarOp::Psi => return None,
        };
        let (a1, rest) = rest.as_ref()?;
        let (r, br) = rest.eval(x);
        // Exact: |a_1·scale| ≤ 24² and x has 24 significant bits.
        let l = a1 * scale * x;
        decide_split(l, r * scale, br * scale.abs() + half_ulp(r * scale))
    }

    /// The MPFR oracle's `f32` (and `f64`) of `op` at `c`.
    fn oracle(&self, op: ScalarOp, c: f32) -> (f32, f64) {
        let at = Angle::Cos(rational_from_f64(f64::from(c)).expect("finite"));
        let m = self.m;
        let v = match op {
            ScalarOp::CosM => crate::multiangle::cos_m(m, &at, 24),
            ScalarOp::Psi => crate::psi::psi(&Rational::from(m), &at, 24),
            ScalarOp::DpsiDcos => crate::psi::dpsi_dcos(m, &at, 24),
        }
        .expect("an f32 cosine in [-1, 1] is in the oracle's domain");
        (v.f32(), v.f64())
    }
}

/// `cos(jπ/m)`: exact at Niven's rational values, else a rigorous `f64` enclosure.
fn threshold(j: u32, m: u32) -> Threshold {
    let (j2, m2) = (2 * u64::from(j), u64::from(m));
    if j2 == m2 {
        return Threshold::Exact(0.0);
    }
    if 3 * u64::from(j) == m2 {
        return Threshold::Exact(0.5);
    }
    if 3 * u64::from(j) == 2 * m2 {
        return Threshold::Exact(-0.5);
    }
    let wp = 128;
    let v = Ival::pi(wp)
        .mul(&Ival::from_integer(&j.into(), wp))
        .div(&Ival::from_integer(&m.into(), wp))
        .expect("m > 0")
        .cos();
    let lo = v.lo().to_f64_round(rug::float::Round::Down);
    let hi = v.hi().to_f64_round(rug::float::Round::Up);
    Threshold::Between(lo, hi)
}

/// The largest error in `f32` ulps of the exact value (`approx`, ~50 bits), an
/// error measure only: misrounding is decided on bits.
pub fn ulp_error(got: f32, approx: f64) -> f64 {
    if got.is_nan() || approx.is_nan() {
        return f64::INFINITY;
    }
    // The binade of `approx` from its exponent bits (a subnormal or zero `f64` gives
    // −1023, below f32's −126).
    let e = ((approx.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    let ulp = f64::from_bits(((e.max(-126) - 23 + 1023) as u64) << 52);
    ((f64::from(got) - approx).abs()) / ulp
}

/// Counts for one (kernel, op, m) over some inputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Inputs checked.
    pub checked: u64,
    /// Inputs whose result is not the certified `f32` (bit for bit; NaN counts).
    pub misrounded: u64,
    /// The largest error in ulps.
    pub max_ulp: f64,
    /// The worst inputs, most wrong first: `(c, got, want, ulps)`.
    pub worst: Vec<(f32, f32, f32, f64)>,
    /// Certified values that needed the MPFR oracle.
    pub fallbacks: u64,
}

/// How many worst inputs a [`Stats`] keeps.
pub const WORST: usize = 5;

impl Stats {
    fn record(&mut self, c: f32, got: f32, want: f32, approx: f64) {
        self.checked += 1;
        if got.to_bits() == want.to_bits() {
            return;
        }
        self.misrounded += 1;
        let ulps = ulp_error(got, approx);
        if ulps > self.max_ulp || ulps.is_nan() {
            self.max_ulp = ulps;
        }
        if self.worst.len() < WORST || ulps > self.worst[WORST - 1].3 {
            self.worst.push((c, got, want, ulps));
            self.worst
                .sort_by(|a, b| b.3.total_cmp(&a.3).then(a.0.total_cmp(&b.0)));
            self.worst.truncate(WORST);
        }
    }

    /// Combines the counts of disjoint input sets.
    pub fn merge(&mut self, other: &Stats) {
        self.checked += other.checked;
        self.misrounded += other.misrounded;
        self.fallbacks += other.fallbacks;
        self.max_ulp = self.max_ulp.max(other.max_ulp);
        self.worst.extend(other.worst.iter().copied());
        self.worst
            .sort_by(|a, b| b.3.total_cmp(&a.3).then(a.0.total_cmp(&b.0)));
        self.worst.truncate(WORST);
    }
}

/// The result of a run: one [`Stats`] per (op, m), for one kernel and one shard set.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// The kernel's name.
    pub kernel: String,
    /// The shards covered (`I/N` each).
    pub shards: Vec<Shard>,
    /// Wall seconds of the passes that produced it, summed over shards (kernels checked
    /// in one pass share its time).
    pub seconds: f64,
    /// `(op, m, stats)`.
    pub rows: Vec<(ScalarOp, u32, Stats)>,
}

impl Summary {
    /// Combines summaries of the same kernel over disjoint shards.
    pub fn merge(parts: &[Summary]) -> Result<Summary, String> {
        let first = parts.first().ok_or("nothing to merge")?;
        let mut out = Summary {
            kernel: first.kernel.clone(),
            shards: Vec::new(),
            seconds: 0.0,
            rows: Vec::new(),
        };
        for p in parts {
            if p.kernel != out.kernel {
                return Err(format!("kernels differ: {} and {}", out.kernel, p.kernel));
            }
            for s in &p.shards {
                if out.shards.contains(s) {
                    return Err(format!("shard {}/{} appears twice", s.index, s.count));
                }
                out.shards.push(*s);
            }
            out.seconds += p.seconds;
            for (op, m, st) in &p.rows {
                match out.rows.iter_mut().find(|(o, mm, _)| o == op && mm == m) {
                    Some(row) => row.2.merge(st),
                    None => out.rows.push((*op, *m, st.clone())),
                }
            }
        }
        Ok(out)
    }

    /// `true` when the shards cover every input exactly once (same `N`, every `I`).
    pub fn complete(&self) -> bool {
        let Some(n) = self.shards.first().map(|s| s.count) else {
            return false;
        };
        self.shards.len() as u64 == n && self.shards.iter().all(|s| s.count == n)
    }
}

/// A maker of a kernel under test: each worker thread makes its own.
pub type KernelMaker<'a> = dyn Fn() -> Box<dyn ScalarKernel<f32>> + Sync + 'a;

/// The rows of one kernel: `(op, m, stats)`.
pub type Rows = Vec<(ScalarOp, u32, Stats)>;

/// Checks the kernels made by `makers` on the inputs of `shard` for the given ops and
/// margins, on `threads` threads, all on the same pass: each certified value is computed
/// once and compared with every kernel's result. A kernel is checked only at the margins
/// it [supports](ScalarKernel::supports). `progress` counts the inputs done (per
/// margin). Returns one [`Rows`] per kernel, in the order of `makers`.
pub fn run(
    makers: &[&KernelMaker<'_>],
    ops: &[ScalarOp],
    refs: &[Reference],
    shard: Shard,
    threads: usize,
    progress: &AtomicU64,
) -> Vec<Rows> {
    const CHUNK: u64 = 1 << 16;
    let range = shard.range();
    let mut rows = vec![Rows::new(); makers.len()];
    for r in refs {
        let next = AtomicU64::new(range.start);
        let parts: Vec<Vec<Vec<Stats>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads.max(1))
                .map(|_| {
                    s.spawn(|| {
                        let kernels: Vec<_> = makers.iter().map(|make| make()).collect();
                        let active: Vec<bool> = kernels.iter().map(|k| k.supports(r.m())).collect();
                        let mut st = vec![vec![Stats::default(); ops.len()]; kernels.len()];
                        loop {
                            let a = next.fetch_add(CHUNK, Ordering::Relaxed);
                            if a >= range.end {
                                break;
                            }
                            let b = (a + CHUNK).min(range.end);
                            check_chunk(&kernels, &active, ops, r, a..b, &mut st);
                            progress.fetch_add(b - a, Ordering::Relaxed);
                        }
                        (active, st)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    let (active, st) = h.join().expect("a worker panicked");
                    st.into_iter()
                        .zip(active)
                        .map(|(st, on)| if on { st } else { Vec::new() })
                        .collect()
                })
                .collect()
        });
        for (k, out) in rows.iter_mut().enumerate() {
            for (i, op) in ops.iter().enumerate() {
                let mut st = Stats::default();
                for p in parts.iter().filter(|p| !p[k].is_empty()) {
                    st.merge(&p[k][i]);
                }
                if st.checked > 0 {
                    out.push((*op, r.m(), st));
                }
            }
        }
    }
    rows
}

fn check_chunk(
    kernels: &[Box<dyn ScalarKernel<f32>>],
    active: &[bool],
    ops: &[ScalarOp],
    r: &Reference,
    idx: Range<u64>,
    st: &mut [Vec<Stats>],
) {
    let m = r.m();
    let mut need = [false; 3];
    for op in ops {
        need[op_index(*op)] = true;
    }
    for i in idx {
        let c = input(i);
        let cert = r.certify(c, need);
        for ((kernel, st), _) in kernels
            .iter()
            .zip(st.iter_mut())
            .zip(active)
            .filter(|x| *x.1)
        {
            for (s, op) in st.iter_mut().zip(ops) {
                let got = match op {
                    ScalarOp::CosM => kernel.cos_m(m, c),
                    ScalarOp::Psi => kernel.psi(m, c),
                    ScalarOp::DpsiDcos => kernel.dpsi_dcos(m, c),
                };
                let k = op_index(*op);
                s.fallbacks += u64::from(cert.fell_back[k]);
                s.record(c, got, cert.f32[k], cert.approx[k]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_and_shards_cover_the_f32_range_once() {
        assert_eq!(input(0).to_bits(), 0);
        assert_eq!(input(POSITIVE - 1), 1.0);
        assert_eq!(input(POSITIVE).to_bits(), (-0.0f32).to_bits());
        assert_eq!(input(TOTAL - 1), -1.0);
        assert_eq!(TOTAL, 2_130_706_434);
        for n in [1u64, 3, 64, 1000] {
            let mut at = 0;
            for i in 0..n {
                let r = Shard { index: i, count: n }.range();
                assert_eq!(r.start, at);
                at = r.end;
            }
            assert_eq!(at, TOTAL);
        }
        assert_eq!(
            Shard::parse("3/64").unwrap(),
            Shard {
                index: 3,
                count: 64
            }
        );
        for bad in ["64/64", "1", "a/2", "0/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    /// The filter's certified values agree with the MPFR oracle everywhere it is asked:
    /// spread inputs, thresholds' neighbours and the zeros, m = 1…8.
    #[test]
    fn certified_values_are_the_oracle_values() {
        for m in 1..=8 {
            let r = Reference::new(m).unwrap();
            let mut cs: Vec<f32> = (0..TOTAL).step_by(1 << 21).map(input).collect();
            for j in 1..m {
                let t = (std::f64::consts::PI * f64::from(j) / f64::from(m)).cos() as f32;
                cs.extend([t, t.next_up(), t.next_down()]);
            }
            cs.extend([
                0.0,
                -0.0,
                0.5,
                -0.5,
                1.0,
                -1.0,
                f32::from_bits(1),
                -f32::from_bits(1),
            ]);
            for c in cs {
                let cert = r.certify(c, [true; 3]);
                for op in [ScalarOp::CosM, ScalarOp::Psi, ScalarOp::DpsiDcos] {
                    let want = r.oracle(op, c).0;
                    let got = cert.f32[op_index(op)];
                    assert_eq!(got.to_bits(), want.to_bits(), "m = {m}, c = {c:e}, {op:?}");
                }
            }
        }
    }

    #[test]
    fn ulp_errors_are_in_units_of_the_exact_values_binade() {
        assert_eq!(ulp_error(1.0f32.next_up(), 1.0), 1.0);
        assert_eq!(
            ulp_error(1.0, 1.0f64.next_down()),
            0.5f64.powi(53) / 2f64.powi(-24)
        );
        assert_eq!(ulp_error(f32::from_bits(3), 0.0), 3.0);
        assert_eq!(ulp_error(-0.75, -0.5), 2f64.powi(22));
        assert_eq!(ulp_error(0.0, 1e-300), 1e-300 / 2f64.powi(-149));
        assert!(ulp_error(f32::NAN, 1.0).is_infinite());
    }

    /// The filter's bound holds: `|p̂(c) − p(c)| ≤ B` against the exact rational value of
    /// `T_m(c)`, `U_{m−1}(c)` and the odd polynomials' rests, m = 1…24, at spread,
    /// tiny and near-±1 inputs.
    #[test]
    fn the_polynomial_bound_holds_exactly() {
        let mut cs: Vec<f32> = (0..TOTAL).step_by(1 << 24).map(input).collect();
        cs.extend([
            f32::from_bits(1),
            1e-30,
            0.999_999_9,
            -0.999_999_9,
            1.0,
            -1.0,
        ]);
        for m in 1..=MAX_M {
            let r = Reference::new(m).unwrap();
            let t = chebyshev_t_coefficients(m);
            let u = chebyshev_u_coefficients(m - 1);
            let exact = |a: &[rug::Integer], skip_linear: bool, c: f32| {
                let x = rational_from_f64(f64::from(c)).unwrap();
                let mut v = Rational::new();
                for (i, ai) in a.iter().enumerate().rev() {
                    v *= &x;
                    if !(skip_linear && i == 1) {
                        v += Rational::from(ai);
                    }
                }
                v
            };
            let mut polys = vec![(&r.t, &t, false), (&r.u, &u, false)];
            if let Some((_, p)) = &r.t_rest {
                polys.push((p, &t, true));
            }
            if let Some((_, p)) = &r.u_rest {
                polys.push((p, &u, true));
            }
            for &c in &cs {
                for (p, a, skip) in &polys {
                    let (v, b) = p.eval(f64::from(c));
                    let err = rational_from_f64(v).unwrap() - exact(a, *skip, c);
                    let b = rational_from_f64(b).unwrap();
                    assert!(err.abs() <= b, "m = {m}, c = {c:e}");
                }
            }
        }
    }

    #[test]
    fn a_misrounding_kernel_is_caught_with_its_inputs() {
        use crate::conformance::ScalarFns;
        // ψ for m = 2 on branch 0 evaluated naively in f32: 2c² − 1 rounds twice.
        let naive = || -> Box<dyn ScalarKernel<f32>> {
            Box::new(ScalarFns::<f32, _, _, _> {
                name: "naive",
                cos_m: |_m: u32, c: f32| 2.0 * c * c - 1.0,
                psi: |_m: u32, c: f32| 2.0 * c * c - 1.0,
                dpsi_dcos: |_m: u32, c: f32| 4.0 * c,
                m_range: 2..=2,
                _t: std::marker::PhantomData,
            })
        };
        let refs = [Reference::new(2).unwrap()];
        let progress = AtomicU64::new(0);
        // A slice of (0.7, 1]: branch 0, where ψ = T_2.
        let shard = Shard {
            index: 1020,
            count: 2048,
        };
        let rows = run(&[&naive], &[ScalarOp::CosM], &refs, shard, 2, &progress);
        let st = &rows[0][0].2;
        assert_eq!(st.checked, shard.range().end - shard.range().start);
        assert_eq!(progress.load(Ordering::Relaxed), st.checked);
        assert!(
            st.misrounded > 0 && st.max_ulp > 0.5 && st.max_ulp < 8.0,
            "{st:?}"
        );
        let (c, got, want, _) = st.worst[0];
        assert_ne!(got.to_bits(), want.to_bits());
        assert_eq!(want, refs[0].oracle(ScalarOp::CosM, c).0);
    }
}
