//! The fast kernels (`asoftmax_spec::fast`) against the exact oracle.
//!
//! Every check compares with the **exact** rational value of the op at the exact
//! value of the float input (`psi::psi_cos_exact`, `psi::dpsi_dcos_exact`,
//! `multiangle::cos_m_recurrence` over `Rational`). The error of a result `v` is
//! `|v − exact| / ulp(exact)`, where `ulp(x) = 2^(max(e, e_min) − p + 1)` for
//! `2^e ≤ |x| < 2^(e+1)` in the target format (so subnormal results are measured on
//! the subnormal grid) and `ulp(0)` is the smallest subnormal.
//!
//! Inputs, for every `m ≤ 16` and both formats: `c = ±1` and their 8 nearest
//! neighbours inside `[−1, 1]`; `±0`, subnormals and the normal/subnormal boundary;
//! every threshold `cos(jπ/m)` (= every root of `U_{m−1}`) and every root
//! `cos((2j−1)π/(2m))` of `T_m`, rounded to the format and stepped ±1..±8 ulps; the
//! rational thresholds `0, ±1/2` and their neighbours; a few thousand random inputs
//! (uniform, log-uniform in magnitude, and clustered within `2⁻⁴⁰..2⁻¹²` of a root).
//! The bar is one ulp for every op, `m` and format; the table of maxima is printed.
//!
//! Also here: the constant tables are recomputed with MPFR and compared bit for bit
//! (`regenerate_tables`, ignored, rewrites `src/fast/tables.rs`); the branch choice is
//! shown to be harmless next to every threshold; out-of-range inputs are checked; and
//! a dense sweep over `2²⁰` evenly spaced `f32` inputs per `m` compares the `f32`
//! kernels with the (far more accurate) `f64` kernels.

use asoftmax_spec::arith::{Format, hex_f32, hex_f64, rational_from_f64, round_f32};
use asoftmax_spec::conformance::ScalarKernel;
use asoftmax_spec::fast::{self, Fast, Op, Plan};
use asoftmax_spec::{multiangle, psi};
use rug::float::{Constant, Round};
use rug::{Float, Rational};
use std::fmt::Write as _;

const PREC: u32 = 512;

/// `cos(pπ/q)` at `PREC` bits, exact for the rational values of Niven's theorem.
fn cos_pi_frac(p: u32, q: u32) -> Float {
    let (p, q) = (u64::from(p), u64::from(q));
    let g = gcd(p, q);
    match (p / g, q / g) {
        (0, _) => Float::with_val(PREC, 1),
        (1, 1) => Float::with_val(PREC, -1),
        (1, 2) => Float::with_val(PREC, 0),
        (1, 3) => Float::with_val(PREC, 0.5),
        (2, 3) => Float::with_val(PREC, -0.5),
        (a, b) => {
            let x = Float::with_val(PREC, Constant::Pi) * Float::with_val(PREC, a)
                / Float::with_val(PREC, b);
            x.cos()
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// `cos²(pπ/q) = (1 + cos(2pπ/q))/2`, exact for the rational cases.
fn cos_sq_pi_frac(p: u32, q: u32) -> Float {
    (cos_pi_frac(2 * p, q) + 1u32) / 2u32
}

/// Splits `x` into a triple-double: `R0 = fl(x)`, `R1 = fl(x − R0)`, `R2 = fl(x − R0 − R1)`.
fn split3(x: &Float) -> [f64; 3] {
    let r0 = x.to_f64();
    let rem = Float::with_val(PREC, x - r0);
    let r1 = rem.to_f64();
    let rem = Float::with_val(PREC, &rem - r1);
    [r0, r1, rem.to_f64()]
}

fn thresholds_of(m: u32) -> Vec<Float> {
    (1..m).map(|j| cos_pi_frac(j, m)).collect()
}

fn t_roots_of(m: u32) -> Vec<Float> {
    (1..=m).map(|j| cos_pi_frac(2 * j - 1, 2 * m)).collect()
}

// ---------------------------------------------------------------------------
// Tables

fn tables_source() -> String {
    let mut s = String::new();
    s.push_str(
        "//! Constants of the fast kernels, generated with MPFR (512 bits) by\n\
         //! `cargo test --test fast -- --ignored regenerate_tables`; do not edit by hand\n\
         //! (`tests/fast.rs` recomputes every entry and compares bits).\n\
         //!\n\
         //! Row `m` of each table belongs to the margin `m` (`0..=16`). The kernels read\n\
         //! them through `layout`, which derives the gap thresholds and the roots of `T_m`\n\
         //! and `U_{m−1}` from these at compile time.\n\n\
         const fn b(x: u64) -> f64 {\n    f64::from_bits(x)\n}\n\nconst NI: f64 = f64::NEG_INFINITY;\n\n",
    );
    let hex = |v: f64| format!("b(0x{:016x})", v.to_bits());
    s.push_str(
        "/// `cos(jπ/m)`, `j = 1..m−1`, rounded to nearest (decreasing), padded with `-inf`.\n\
         #[rustfmt::skip]\npub(crate) static THRESHOLDS: [[f64; 16]; 17] = [\n",
    );
    for m in 0..=16u32 {
        let t: Vec<String> = (0..16)
            .map(|i| {
                if (i as u32) + 1 < m {
                    hex(cos_pi_frac(i as u32 + 1, m).to_f64())
                } else {
                    "NI".into()
                }
            })
            .collect();
        writeln!(s, "    // m = {m}\n    [{}],", t.join(", ")).unwrap();
    }
    s.push_str("];\n\n");
    s.push_str(
        "/// `cos²(kπ/(2m))`, `k = 1..m−1`, as triple-doubles `[R0, R1, R2]`: the squared\n\
         /// positive roots of `T_m` (odd `k`) interleaved with those of `U_{m−1}` (even `k`).\n\
         #[rustfmt::skip]\npub(crate) static ROOTS_SQ: [&[[f64; 3]]; 17] = [\n",
    );
    for m in 0..=16u32 {
        let row: Vec<String> = (1..m)
            .map(|k| {
                let r = split3(&cos_sq_pi_frac(k, 2 * m));
                format!("[{}, {}, {}]", hex(r[0]), hex(r[1]), hex(r[2]))
            })
            .collect();
        writeln!(s, "    // m = {m}\n    &[{}],", row.join(", ")).unwrap();
    }
    s.push_str("];\n\n");
    s.truncate(s.trim_end().len());
    s.push('\n');
    s
}

#[test]
#[ignore = "rewrites src/fast/tables.rs"]
fn regenerate_tables() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/fast/tables.rs");
    std::fs::write(path, tables_source()).unwrap();
}

#[test]
fn tables_file_is_current() {
    let file = include_str!("../src/fast/tables.rs");
    assert!(
        file == tables_source(),
        "src/fast/tables.rs is stale: run `cargo test --test fast -- --ignored regenerate_tables`"
    );
}

/// [`Plan::branch`] (root count + one gap threshold) equals the oracle's rigorous
/// branch at every test input, except where `c` *equals* a rounded irrational
/// threshold that lies on the other side of the exact one.
#[test]
fn branch_matches_oracle() {
    let mut checked = 0;
    for fmt in [Format::F64, Format::F32] {
        for m in 1..=16u32 {
            let p = Plan::new(m).unwrap();
            let rounded: Vec<f64> = p.thresholds().to_vec();
            for c in inputs(m, fmt, 2000) {
                let exact = psi::branch_from_cos(m, &rational_from_f64(c).unwrap()).unwrap();
                let got = p.branch(c);
                if got != exact {
                    assert!(
                        rounded.contains(&c) && got.abs_diff(exact) == 1,
                        "m={m} c={}: branch {got}, exact {exact}",
                        hex_f64(c)
                    );
                }
                checked += 1;
            }
        }
    }
    println!("branch checked at {checked} inputs");
}

#[test]
fn tables_match_mpfr() {
    let exact = |x: &Float, r: &[f64; 3]| Float::with_val(PREC, x - r[0]) - r[1] - r[2];
    for m in 0..=16u32 {
        let p = Plan::new(m).unwrap();
        let t: Vec<f64> = thresholds_of(m).iter().map(Float::to_f64).collect();
        assert_eq!(p.thresholds(), &t[..], "m = {m}");
        assert!(t.windows(2).all(|w| w[0] > w[1]), "thresholds decrease");
        assert_eq!(p.t_roots_sq().len() as u32, m / 2);
        assert_eq!(p.u_roots_sq().len() as u32, m.saturating_sub(1) / 2);
        for (j, r) in p.t_roots_sq().iter().enumerate() {
            let x = cos_sq_pi_frac(2 * j as u32 + 1, 2 * m);
            assert_eq!(*r, split3(&x), "T root m={m} j={}", j + 1);
            // |R − R0 − R1 − R2| ≤ 2^-155 R
            let err = exact(&x, r);
            assert!(err.abs() <= Float::with_val(PREC, &x * 2f64.powi(-155)));
        }
        for (j, r) in p.u_roots_sq().iter().enumerate() {
            let x = cos_sq_pi_frac(j as u32 + 1, m);
            assert_eq!(*r, split3(&x), "U root m={m} j={}", j + 1);
            let err = exact(&x, r);
            assert!(err.abs() <= Float::with_val(PREC, &x * 2f64.powi(-155)));
        }
    }
    assert!(Plan::new(17).is_none());
}

// ---------------------------------------------------------------------------
// Error measurement

/// `ulp(x)` of the exact value `x` in `fmt`, as a rational.
fn ulp_of(x: &Rational, fmt: Format) -> Rational {
    let emin = match fmt {
        Format::F16 | Format::Bf16 => unreachable!("the fast kernels are f32 and f64"),
        Format::F32 => -126,
        Format::F64 => -1022,
    };
    let p = fmt.precision() as i32;
    let e = if *x == 0 {
        emin
    } else {
        // Rounding toward zero never reaches the next power of two: exact exponent.
        let ax = Rational::from(x.abs_ref());
        let (f, _) = Float::with_val_round(64, &ax, Round::Zero);
        (f.get_exp().unwrap() - 1).max(emin)
    };
    let mut u = Rational::from(1);
    let sh = e - (p - 1);
    if sh >= 0 {
        u <<= sh as u32;
    } else {
        u >>= (-sh) as u32;
    }
    u
}

/// `|v − x| / ulp(x)` in `fmt` (`∞` for a non-finite `v`).
fn ulp_error(v: f64, x: &Rational, fmt: Format) -> f64 {
    if !v.is_finite() {
        return f64::INFINITY;
    }
    let d = (rational_from_f64(v).unwrap() - x).abs();
    (d / ulp_of(x, fmt)).to_f64()
}

fn exact_op(op: Op, m: u32, c: &Rational) -> Rational {
    match op {
        Op::CosM => multiangle::cos_m_recurrence(m, c),
        Op::Psi => psi::psi_cos_exact(m, c).unwrap(),
        Op::DpsiDcos => psi::dpsi_dcos_exact(m, c).unwrap(),
    }
}

// ---------------------------------------------------------------------------
// Inputs

fn next_up(x: f64) -> f64 {
    if x.is_nan() || x == f64::INFINITY {
        x
    } else if x == 0.0 {
        f64::from_bits(1)
    } else if x > 0.0 {
        f64::from_bits(x.to_bits() + 1)
    } else {
        f64::from_bits(x.to_bits() - 1)
    }
}

fn next_up32(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        x
    } else if x == 0.0 {
        f32::from_bits(1)
    } else if x > 0.0 {
        f32::from_bits(x.to_bits() + 1)
    } else {
        f32::from_bits(x.to_bits() - 1)
    }
}

/// `x` stepped by `n` representable values of `fmt` (staying a value of `fmt`).
fn step(x: f64, n: i64, fmt: Format) -> f64 {
    match fmt {
        Format::F16 | Format::Bf16 => unreachable!("the fast kernels are f32 and f64"),
        Format::F64 => {
            let mut v = x;
            for _ in 0..n.unsigned_abs() {
                v = if n > 0 { next_up(v) } else { -next_up(-v) };
            }
            v
        }
        Format::F32 => {
            let mut v = x as f32;
            for _ in 0..n.unsigned_abs() {
                v = if n > 0 { next_up32(v) } else { -next_up32(-v) };
            }
            f64::from(v)
        }
    }
}

fn nearest(x: &Float, fmt: Format) -> f64 {
    match fmt {
        Format::F16 | Format::Bf16 => unreachable!("the fast kernels are f32 and f64"),
        Format::F64 => x.to_f64(),
        Format::F32 => f64::from(round_f32(x)),
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * 2f64.powi(-53)
    }
    fn sign(&mut self) -> f64 {
        if self.next() & 1 == 1 { -1.0 } else { 1.0 }
    }
}

/// The edge points of the module docs plus `n_random` random inputs, all values of
/// `fmt` in `[−1, 1]`.
fn inputs(m: u32, fmt: Format, n_random: usize) -> Vec<f64> {
    let mut v = Vec::new();
    let (tiny, min_normal) = match fmt {
        Format::F16 | Format::Bf16 => unreachable!("the fast kernels are f32 and f64"),
        Format::F32 => (f64::from(f32::from_bits(1)), f64::from(f32::MIN_POSITIVE)),
        Format::F64 => (f64::from_bits(1), f64::MIN_POSITIVE),
    };
    for s in [1.0, -1.0] {
        for n in 0..=8 {
            v.push(step(s, -(s as i64) * n, fmt));
        }
        for x in [
            0.0,
            tiny,
            3.0 * tiny,
            min_normal,
            2f64.powi(-64),
            2f64.powi(-70),
            1e-10,
        ] {
            v.push(s * x);
            v.push(s * step(x, 1, fmt));
            v.push(s * step(x, -1, fmt).max(0.0));
        }
        v.push(s * (min_normal - tiny));
    }
    let mut points: Vec<Float> = thresholds_of(m);
    points.extend(t_roots_of(m));
    points.extend([0.0, 0.5, -0.5].map(|x| Float::with_val(PREC, x)));
    for p in &points {
        let c = nearest(p, fmt);
        for n in -8..=8 {
            v.push(step(c, n, fmt));
        }
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(m) << 32 ^ fmt.precision() as u64);
    let roots = t_roots_of(m);
    let thr = thresholds_of(m);
    for i in 0..n_random {
        let x = match i % 4 {
            0 | 1 => rng.sign() * rng.unit(),
            2 => rng.sign() * 2f64.powf(-60.0 * rng.unit()),
            _ => {
                let pool = if i % 8 == 3 { &roots } else { &thr };
                if pool.is_empty() {
                    rng.unit()
                } else {
                    let r = pool[rng.next() as usize % pool.len()].to_f64();
                    r + rng.sign() * 2f64.powf(-12.0 - 28.0 * rng.unit())
                }
            }
        };
        let x = match fmt {
            Format::F16 | Format::Bf16 => unreachable!("the fast kernels are f32 and f64"),
            Format::F64 => x,
            Format::F32 => f64::from(x as f32),
        };
        v.push(x);
    }
    v.retain(|x| x.abs() <= 1.0);
    v
}

// ---------------------------------------------------------------------------
// The accuracy table

fn eval(op: Op, m: u32, c: f64, fmt: Format) -> f64 {
    match fmt {
        Format::F16 | Format::Bf16 => unreachable!("the fast kernels are f32 and f64"),
        Format::F64 => match op {
            Op::CosM => ScalarKernel::<f64>::cos_m(&Fast, m, c),
            Op::Psi => ScalarKernel::<f64>::psi(&Fast, m, c),
            Op::DpsiDcos => ScalarKernel::<f64>::dpsi_dcos(&Fast, m, c),
        },
        Format::F32 => {
            let c = c as f32;
            f64::from(match op {
                Op::CosM => ScalarKernel::<f32>::cos_m(&Fast, m, c),
                Op::Psi => ScalarKernel::<f32>::psi(&Fast, m, c),
                Op::DpsiDcos => ScalarKernel::<f32>::dpsi_dcos(&Fast, m, c),
            })
        }
    }
}

fn hex(c: f64, fmt: Format) -> String {
    match fmt {
        Format::F16 | Format::Bf16 => unreachable!("the fast kernels are f32 and f64"),
        Format::F64 => hex_f64(c),
        Format::F32 => hex_f32(c as f32),
    }
}

fn accuracy(fmt: Format) {
    let mut report = String::new();
    writeln!(
        report,
        "max ulp error of asoftmax_spec::fast, {} (inputs per m in parentheses)",
        fmt.name()
    )
    .unwrap();
    writeln!(
        report,
        "{:>9} {:>3} {:>6} {:>12} {:>26} {:>26}",
        "op", "m", "n", "max ulp", "worst c", "result"
    )
    .unwrap();
    let mut failures = Vec::new();
    for op in Op::ALL {
        let m_lo = if op == Op::CosM { 0 } else { 1 };
        for m in m_lo..=16u32 {
            let cs = inputs(m, fmt, 3000);
            let (mut worst, mut at, mut got) = (0.0f64, 0.0, 0.0);
            for &c in &cs {
                let exact = exact_op(op, m, &rational_from_f64(c).unwrap());
                let v = eval(op, m, c, fmt);
                let e = ulp_error(v, &exact, fmt);
                if e > worst || (e == worst && worst == 0.0 && at == 0.0) {
                    (worst, at, got) = (e, c, v);
                }
                if e > 1.0 {
                    failures.push(format!(
                        "{} m={m} {} c={} got {} exact≈{:e}: {e} ulp",
                        op.name(),
                        fmt.name(),
                        hex(c, fmt),
                        hex(v, fmt),
                        exact.to_f64()
                    ));
                }
            }
            writeln!(
                report,
                "{:>9} {:>3} {:>6} {:>12.9} {:>26} {:>26}",
                op.name(),
                m,
                cs.len(),
                worst,
                hex(at, fmt),
                hex(got, fmt)
            )
            .unwrap();
        }
    }
    println!("{report}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn accuracy_f64() {
    accuracy(Format::F64);
}

#[test]
fn accuracy_f32() {
    accuracy(Format::F32);
}

// ---------------------------------------------------------------------------
// Supporting claims of the error analysis

/// The smallest `|c² − R|/R` over the values `c` of `fmt` nearest to each root `r`
/// (`R = r²`), for the roots of `T_m` and `U_{m−1}`, all `2 ≤ m ≤ 16`: the
/// representation error of the stored `R` (`2⁻¹⁵⁵ R` triple, `2⁻¹⁰⁶ R` double-double)
/// divided by this is the factor's relative error at its worst input.
fn min_root_distance(fmt: Format) -> (f64, String) {
    let mut best = (f64::INFINITY, String::new());
    for m in 2..=16u32 {
        let mut roots = thresholds_of(m);
        roots.extend(t_roots_of(m));
        // Rational roots (0, ±1/2, and those with r² = 1/2, 1/4, 3/4) are stored exactly.
        let inexact = |r: &&Float| {
            let rr = Float::with_val(PREC, r.square_ref());
            rr != rr.to_f64()
        };
        for r in roots.iter().filter(inexact) {
            let c0 = nearest(r, fmt);
            for n in -2..=2 {
                let c = step(c0, n, fmt);
                let rr = Float::with_val(PREC, r.square_ref());
                let d = (Float::with_val(PREC, Float::with_val(PREC, c * c) - &rr) / &rr).abs();
                let d = d.to_f64();
                if d < best.0 {
                    best = (d, format!("m={m} root≈{} c={}", r.to_f64(), hex(c, fmt)));
                }
            }
        }
    }
    best
}

#[test]
fn roots_are_not_too_close_to_floats() {
    let (d64, w64) = min_root_distance(Format::F64);
    let (d32, w32) = min_root_distance(Format::F32);
    println!(
        "min |c² − r²|/r² over f64 c next to a root: 2^{:.1} ({w64})",
        d64.log2()
    );
    println!(
        "min |c² − r²|/r² over f32 c next to a root: 2^{:.1} ({w32})",
        d32.log2()
    );
    // Triple-double R: representation error 2^-155/2^-60 = 2^-95 relative at worst.
    assert!(d64 > 2f64.powi(-60));
    // Double-double R for f32: 2^-106/2^-40 = 2^-66.
    assert!(d32 > 2f64.powi(-40));
}

/// Next to every threshold `t_j` both neighbouring branches of ψ give a value within
/// one ulp of the exact ψ (which uses the exact branch): the branch decision against
/// the rounded threshold is harmless.
#[test]
fn branch_choice_is_harmless_near_thresholds() {
    let mut worst = 0.0f64;
    for fmt in [Format::F64, Format::F32] {
        for m in 2..=16u32 {
            let p = Plan::new(m).unwrap();
            for (j, t) in thresholds_of(m).iter().enumerate() {
                let j = j as u32 + 1;
                let c0 = nearest(t, fmt);
                for n in -8..=8 {
                    let c = step(c0, n, fmt);
                    let exact = psi::psi_cos_exact(m, &rational_from_f64(c).unwrap()).unwrap();
                    for k in [j - 1, j] {
                        let v = match fmt {
                            Format::F16 | Format::Bf16 => {
                                unreachable!("the fast kernels are f32 and f64")
                            }
                            Format::F64 => p.psi_on_branch_f64(k, c),
                            Format::F32 => f64::from(p.psi_on_branch_f32(k, c as f32)),
                        };
                        let e = ulp_error(v, &exact, fmt);
                        worst = worst.max(e);
                        assert!(e <= 1.0, "m={m} j={j} k={k} c={}: {e} ulp", hex(c, fmt));
                    }
                }
            }
        }
    }
    println!("worst error of either branch next to a threshold: {worst:.6} ulp");
}

#[test]
fn out_of_range_inputs() {
    for m in 1..=16u32 {
        let p = Plan::new(m).unwrap();
        for (x, edge) in [
            (1.0 + f64::EPSILON, 1.0),
            (2.0, 1.0),
            (f64::INFINITY, 1.0),
            (f64::MAX, 1.0),
            (-1.0 - f64::EPSILON, -1.0),
            (f64::NEG_INFINITY, -1.0),
        ] {
            assert_eq!(p.cos_m_f64(x), p.cos_m_f64(edge));
            assert_eq!(p.psi_f64(x), p.psi_f64(edge));
            assert_eq!(p.dpsi_dcos_f64(x), p.dpsi_dcos_f64(edge));
            let (x32, e32) = (x as f32, edge as f32);
            assert_eq!(p.cos_m_f32(x32), p.cos_m_f32(e32));
            assert_eq!(p.psi_f32(x32), p.psi_f32(e32));
            assert_eq!(p.dpsi_dcos_f32(x32), p.dpsi_dcos_f32(e32));
        }
        assert!(p.cos_m_f64(f64::NAN).is_nan());
        assert!(p.psi_f64(f64::NAN).is_nan());
        assert!(p.dpsi_dcos_f64(f64::NAN).is_nan());
        assert!(p.cos_m_f32(f32::NAN).is_nan());
        assert!(p.psi_f32(f32::NAN).is_nan());
        assert!(p.dpsi_dcos_f32(f32::NAN).is_nan());
        // ψ(−1) = 1 − 2m and ψ(1) = 1 exactly; dψ/dc(±1) = m²
        assert_eq!(p.psi_f64(-1.0), 1.0 - 2.0 * f64::from(m));
        assert_eq!(p.psi_f32(1.0), 1.0);
        assert_eq!(p.dpsi_dcos_f64(-1.0), f64::from(m * m));
    }
    assert!(fast::cos_m_f64(17, 0.5).is_nan());
    assert!(fast::psi_f32(17, 0.5).is_nan());
    assert!(fast::psi_f64(0, 0.5).is_nan());
    assert!(fast::dpsi_dcos_f32(0, 0.5).is_nan());
    assert_eq!(fast::cos_m_f64(0, 0.3), 1.0);
    assert_eq!(fast::cos_m_f32(1, 0.3), 0.3);
}

#[test]
fn slices_match_scalars() {
    let cs: Vec<f64> = (0..1000)
        .map(|i| -1.0 + 2.0 * f64::from(i) / 999.0)
        .collect();
    let cs32: Vec<f32> = cs.iter().map(|&c| c as f32).collect();
    for m in 1..=16 {
        let p = Plan::new(m).unwrap();
        for op in Op::ALL {
            let mut out = vec![0.0; cs.len()];
            p.eval_f64(op, &cs, &mut out);
            let mut out32 = vec![0.0f32; cs.len()];
            p.eval_f32(op, &cs32, &mut out32);
            for i in 0..cs.len() {
                let (a, a32) = match op {
                    Op::CosM => (p.cos_m_f64(cs[i]), p.cos_m_f32(cs32[i])),
                    Op::Psi => (p.psi_f64(cs[i]), p.psi_f32(cs32[i])),
                    Op::DpsiDcos => (p.dpsi_dcos_f64(cs[i]), p.dpsi_dcos_f32(cs32[i])),
                };
                assert_eq!(out[i].to_bits(), a.to_bits());
                assert_eq!(out32[i].to_bits(), a32.to_bits());
            }
        }
    }
}

/// `|v − r| / ulp_f32(r)` in `f64` arithmetic (relative error `2⁻⁵²` of the measure).
fn ulp32_error(v: f32, r: f64) -> f64 {
    if !v.is_finite() {
        return f64::INFINITY;
    }
    let e = if r == 0.0 {
        -126
    } else {
        (r.abs().log2().floor() as i32).max(-126)
    };
    // log2 may be off by one right at a power of two: correct it exactly.
    let e = if r != 0.0 && e > -126 && r.abs() < 2f64.powi(e) {
        e - 1
    } else {
        e
    };
    (f64::from(v) - r).abs() / 2f64.powi(e - 23)
}

/// `2²⁰` evenly spaced `f32` bit patterns in `[−1, 1]` per `m` (every 2032nd `f32`),
/// judged against the `f64` kernels: their error (`≤ 2⁻⁴³` f64 ulp) is below `2⁻²⁸`
/// of an `f32` ulp, so the measured `f32` error is exact to that margin.
#[test]
fn dense_f32_sweep_against_f64() {
    let top = 1.0f32.to_bits(); // 0x3f800000: all non-negative f32 up to 1
    let stride = (top / (1 << 19)).max(1);
    let mut worst = [(0.0f64, 0.0f32, 0u32); 3];
    for m in 1..=16u32 {
        let p = Plan::new(m).unwrap();
        let mut bits = 0u32;
        while bits <= top {
            for s in [1.0f32, -1.0] {
                let c = s * f32::from_bits(bits);
                for (i, op) in Op::ALL.into_iter().enumerate() {
                    let (v, r) = match op {
                        Op::CosM => (p.cos_m_f32(c), p.cos_m_f64(f64::from(c))),
                        Op::Psi => (p.psi_f32(c), p.psi_f64(f64::from(c))),
                        Op::DpsiDcos => (p.dpsi_dcos_f32(c), p.dpsi_dcos_f64(f64::from(c))),
                    };
                    let e = ulp32_error(v, r);
                    if e > worst[i].0 {
                        worst[i] = (e, c, m);
                    }
                }
            }
            bits += stride;
        }
    }
    for (op, (e, c, m)) in Op::ALL.iter().zip(worst) {
        println!(
            "dense f32 {}: max {e:.9} ulp at m={m} c={}",
            op.name(),
            hex_f32(c)
        );
        assert!(e <= 1.0);
    }
}

// ---------------------------------------------------------------------------
// The batch loss

asoftmax_spec::loss_suite!(fast_loss_f32, Fast, f32);
asoftmax_spec::loss_suite!(fast_loss_f64, Fast, f64);

#[test]
fn loss_report() {
    use asoftmax_spec::conformance::{LossPolicy, TextbookLoss, check_loss};
    let policy = LossPolicy::default();
    let seed = asoftmax_spec::conformance::loss_suite::DEFAULT_SEED;
    println!("{}", check_loss::<f32, _>(&Fast, seed, 1000, &policy));
    println!("{}", check_loss::<f64, _>(&Fast, seed, 1000, &policy));
    println!(
        "{}",
        check_loss::<f32, _>(&TextbookLoss::default(), seed, 1000, &policy)
    );
    println!(
        "{}",
        check_loss::<f64, _>(&TextbookLoss::default(), seed, 1000, &policy)
    );
}

fn batch(
    x: Vec<f64>,
    w: Vec<f64>,
    y: Vec<usize>,
    dim: usize,
    m: u32,
) -> asoftmax_spec::conformance::Batch<f64> {
    use asoftmax_spec::loss::{Backward, Variant};
    asoftmax_spec::conformance::Batch {
        n: y.len(),
        classes: w.len() / dim,
        dim,
        x,
        w,
        y,
        m,
        lambda: 0.0,
        scale: 1.0,
        variant: Variant::ASoftmax,
        backward: Backward::Full,
        head: None,
    }
}

#[test]
fn loss_degenerate_inputs_give_no_nan() {
    use asoftmax_spec::conformance::LossKernel;
    use asoftmax_spec::loss::{Backward, Variant};
    let finite = |g: &asoftmax_spec::conformance::LossGrad<f64>| {
        g.loss.is_finite() && g.grad_x.iter().chain(&g.grad_w).all(|v| v.is_finite())
    };
    for variant in [Variant::ASoftmax, Variant::LSoftmax] {
        for backward in [Backward::Full, Backward::DetachedMargin] {
            for m in [1, 2, 4, 16] {
                // x = 0: loss ln C; plain-logit gradient.
                let mut b = batch(
                    vec![0.0, 0.0],
                    vec![1.0, 0.0, 0.0, 2.0, -1.0, 1.0],
                    vec![1],
                    2,
                    m,
                );
                b.variant = variant;
                b.backward = backward;
                b.scale = 3.0;
                let g = LossKernel::<f64>::loss(&Fast, &b, true);
                assert!(finite(&g));
                assert!((g.loss - 3f64.ln()).abs() < 1e-15);
                // (s/N)·Σ_j (1/C − [j = y])·v_j
                let v: [[f64; 2]; 3] = match variant {
                    Variant::ASoftmax => [[1.0, 0.0], [0.0, 1.0], [-0.5f64.sqrt(), 0.5f64.sqrt()]],
                    Variant::LSoftmax => [[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]],
                };
                for (k, got) in g.grad_x.iter().enumerate().take(2) {
                    let want: f64 = v
                        .iter()
                        .enumerate()
                        .map(|(j, vj)| 3.0 * (1.0 / 3.0 - if j == 1 { 1.0 } else { 0.0 }) * vj[k])
                        .sum();
                    assert!((got - want).abs() < 1e-14, "{variant:?} {backward:?} m={m}");
                }
                assert!(g.grad_w.iter().all(|&v| v == 0.0));
                // A zero class row, a cosine just above 1, tiny and huge features.
                for xs in [1e-300, 1e-20, 1.0, 1e150] {
                    let mut b = batch(
                        vec![xs * 0.6, xs * 0.8, xs * 1.0, xs * -2.0],
                        vec![0.6, 0.8, 0.0, 0.0, 3.0, 4.0],
                        vec![0, 2],
                        2,
                        m,
                    );
                    b.variant = variant;
                    b.backward = backward;
                    b.lambda = 5.0;
                    let g = LossKernel::<f64>::loss(&Fast, &b, true);
                    assert!(
                        finite(&g),
                        "{variant:?} {backward:?} m={m} ‖x‖~{xs:e}: {g:?}"
                    );
                }
            }
        }
    }
    // Unsupported margins and empty batches: NaN loss, no panic.
    let b = batch(vec![1.0, 0.0], vec![1.0, 0.0], vec![0], 2, 17);
    assert!(LossKernel::<f64>::loss(&Fast, &b, true).loss.is_nan());
    let b = batch(vec![], vec![1.0, 0.0], vec![], 2, 4);
    assert!(LossKernel::<f64>::loss(&Fast, &b, false).loss.is_nan());
}

/// Found by the exhaustive tier (`asoftmax-spec exhaustive --shard 700/1024`): at tiny `c`
/// the odd polynomials are `L·(1 − δ)` with `L = ±m·c` (or `m²|c|`) often exactly an `f32`
/// rounding midpoint; the f32 path rounded `L` to even instead of toward zero (0.5 ulp
/// off, within the old `0.5 + 2⁻²⁴` claim but not correctly rounded). Each input is
/// compared with the oracle's correctly rounded `f32`.
#[test]
fn f32_results_next_to_a_midpoint_are_correctly_rounded() {
    let cases: [(u32, Op, u32); 5] = [
        (3, Op::CosM, 0x9752_0012), // −0x1.a40024p-81
        (3, Op::CosM, 0x8e04_c011), // −0x1.098022p-99
        (5, Op::CosM, 0x9752_004c), // −0x1.a40098p-81
        (6, Op::DpsiDcos, 0x9752_004c),
        (7, Op::CosM, 0x9752_004c),
    ];
    for (m, op, bits) in cases {
        let c = f32::from_bits(bits);
        let at = asoftmax_spec::Angle::Cos(rational_from_f64(f64::from(c)).unwrap());
        let want = match op {
            Op::CosM => multiangle::cos_m(m, &at, 24),
            Op::Psi => psi::psi(&Rational::from(m), &at, 24),
            Op::DpsiDcos => psi::dpsi_dcos(m, &at, 24),
        }
        .unwrap()
        .f32();
        let got = match op {
            Op::CosM => fast::cos_m_f32(m, c),
            Op::Psi => fast::psi_f32(m, c),
            Op::DpsiDcos => fast::dpsi_dcos_f32(m, c),
        };
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "m = {m}, {op:?}, c = {}: got {} want {}",
            hex_f32(c),
            hex_f32(got),
            hex_f32(want)
        );
    }
}

/// Found by the exhaustive tier: exact zeros came out as −0 (`T_3(+0)`, `T_1(−0) = −0`);
/// the exact value 0 rounds to +0, as the oracle's results do.
#[test]
fn exact_zeros_are_positive_zeros_in_f32() {
    for m in [1u32, 3, 5, 7] {
        for c in [0.0f32, -0.0] {
            assert_eq!(
                fast::cos_m_f32(m, c).to_bits(),
                0,
                "cos_m m = {m}, c = {c:?}"
            );
        }
    }
    assert_eq!(fast::psi_f32(1, -0.0).to_bits(), 0);
}
