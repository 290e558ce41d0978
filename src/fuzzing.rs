//! The checks behind the fuzz targets of `fuzz/` (feature `fuzzing`).
//!
//! Each function takes the fuzzer's raw bytes, decodes a structured input from them
//! with [`arbitrary`], runs it and **panics** when a property fails (which is what
//! libFuzzer reports as a crash). Every byte string is a valid input: what cannot be
//! decoded is decoded as something else, never rejected. They live in the library so
//! that `tests/fuzz_corpus.rs` replays every file of `fuzz/corpus/<target>/` with an
//! ordinary `cargo test --all-features`, and `fuzz/fuzz_targets/<target>.rs` is one line.
//!
//! | function | property | domain |
//! | --- | --- | --- |
//! | [`fast_vs_oracle`] | the fast scalar kernels are within 1 ulp of the oracle ([`Policy::strict`]`(1.0)`), and within their documented `0.5 + 2⁻¹⁷` (f64) / `0.5 + 2⁻²⁴` (f32) ulp; out-of-range input is clamped, NaN gives NaN, unsupported `m` gives NaN | any op, `m ≤ 255` and a few huge `m`, any `f32`/`f64` bit pattern, uniform `[−1, 1]`, or thresholds/roots/landmarks ± up to 2¹⁵ ulps |
//! | [`loss_grad_vs_oracle`] | [`fast::loss::loss`] (value, ∂L/∂X, ∂L/∂W) is within [`LossPolicy::default`] of the oracle ([`score_batch`](crate::conformance::loss_suite::score_batch)) | see [`LossCase`] |
//! | [`api_robustness`] | every public oracle entry point returns a value or a typed [`Error`], never panics, in bounded time | see [`ApiCall`] |
//! | [`jsonl_parsers`] (feature `cli`) | `eval_line`, `check::check`, `number_value`, `parse_exact` return a value or an error, never panic; the typed `eval` path writes the generic path's bytes | any bytes; `eval` only on lines whose work is bounded (see the function) |

use crate::arith::ziv::round_rational;
use crate::arith::{Format, parse_exact, rational_from_f64};
use crate::conformance::loss_suite::{Expected, LossPolicy, expected, score_loss};
use crate::conformance::scalar_suite::{describe_exact, describe_float, exact_scalar};
use crate::conformance::{Batch, FloatFormat, Policy, ScalarKernel, ScalarOp};
use crate::fast::{self, Plan};
use crate::loss::{Backward, LambdaSchedule, LossSpec, Variant};
use crate::{Angle, Error, margin, multiangle, psi};
use arbitrary::{Arbitrary, Unstructured};
use rug::integer::Order;
use rug::{Integer, Rational};

// ---------------------------------------------------------------------------
// fast_vs_oracle
// ---------------------------------------------------------------------------

/// Where the scalar input comes from.
#[derive(Arbitrary, Debug)]
pub enum FloatSource {
    /// Any bit pattern of the format (NaN, ±∞, subnormals, `|c| > 1`); for `f32` the low 32 bits.
    Bits(u64),
    /// Uniform in `[−1, 1]`: `2·k/2⁵³ − 1` for the top 53 bits `k` (rounded to `f32` for `f32`).
    Unit(u64),
    /// A landmark of margin `m` moved by `ulps` ulps of the format: `which` selects the
    /// thresholds `cos(jπ/m)` (rounded), the roots of `T_m`, the roots of `U_{m−1}`, or
    /// `0, ±1, ±2⁻⁶⁴, ±2⁻¹⁰²², ±2⁻¹⁰⁷⁴, ±2⁻¹²⁶, ±2⁻¹⁴⁹`; `index` the element.
    Near {
        /// Landmark family.
        which: u8,
        /// Element of the family.
        index: u8,
        /// Offset in ulps (signed).
        ulps: i16,
    },
}

/// One input of [`fast_vs_oracle`].
#[derive(Arbitrary, Debug)]
pub struct ScalarCase {
    /// `0`: `cos_m`, `1`: `psi`, `2`: `dpsi_dcos` (mod 3).
    pub op: u8,
    /// The margin: `m % 19` (17, 18 unsupported) below 248, else one of the huge ones.
    pub m: u8,
    /// `f32` instead of `f64`.
    pub f32: bool,
    /// The input `c`.
    pub src: FloatSource,
}

/// `x` moved by `k` steps in the total order of the format's values (saturating at ±∞).
fn step(x: f64, k: i64, fmt: Format) -> f64 {
    match fmt {
        Format::F64 => {
            let b = x.to_bits() as i64;
            let ord = if b < 0 { i64::MIN - b } else { b };
            let lim = f64::INFINITY.to_bits() as i64;
            let o = ord.saturating_add(k).clamp(-lim, lim);
            // Back from the order: negative order values map to negative floats.
            let bits = if o < 0 { i64::MIN - o } else { o };
            f64::from_bits(bits as u64)
        }
        Format::F32 => {
            let x = x as f32;
            let b = i64::from(x.to_bits() as i32);
            let ord = if b < 0 { i64::from(i32::MIN) - b } else { b };
            let lim = i64::from(f32::INFINITY.to_bits());
            let o = ord.saturating_add(k).clamp(-lim, lim);
            let bits = if o < 0 { i64::from(i32::MIN) - o } else { o };
            f64::from(f32::from_bits(bits as u32))
        }
        Format::F16 | Format::Bf16 => unreachable!("the fuzz target draws f32 or f64 inputs"),
    }
}

fn landmark(m: u32, which: u8, index: u8) -> f64 {
    let fixed = [
        0.0,
        1.0,
        -1.0,
        2f64.powi(-64),
        -(2f64.powi(-64)),
        f64::MIN_POSITIVE,
        -f64::MIN_POSITIVE,
        f64::from_bits(1),
        -f64::from_bits(1),
        f64::from(f32::MIN_POSITIVE),
        f64::from(f32::from_bits(1)),
    ];
    let plan = Plan::new(m.min(fast::MAX_M)).expect("m ≤ 16");
    let roots = |sq: &[[f64; 3]]| -> Vec<f64> {
        sq.iter()
            .flat_map(|r| [r[0].sqrt(), -r[0].sqrt()])
            .collect()
    };
    let family: Vec<f64> = match which % 4 {
        0 => plan.thresholds().to_vec(),
        1 => roots(plan.t_roots_sq()),
        2 => roots(plan.u_roots_sq()),
        _ => fixed.to_vec(),
    };
    if family.is_empty() {
        fixed[usize::from(index) % fixed.len()]
    } else {
        family[usize::from(index) % family.len()]
    }
}

/// The fast kernel's `op` at `(m, c)` in format `T`, widened to `f64`: from the scalar
/// entry point, and from the slice evaluator `eval` when `m` has a [`Plan`].
fn fast_scalar_and_slice<T: FloatFormat>(
    op: ScalarOp,
    m: u32,
    c: T,
    eval: fn(&Plan, ScalarOp, &[T], &mut [T]),
) -> (f64, Option<f64>)
where
    fast::Fast: ScalarKernel<T>,
{
    let slice = Plan::new(m).map(|p| {
        let mut out = [c];
        eval(&p, op, &[c], &mut out);
        out[0].to_f64()
    });
    (op.eval(&fast::Fast, m, c).to_f64(), slice)
}

/// The fast scalar kernels against the exact value (see the [module docs](self)).
///
/// # Panics
///
/// When a result is outside [`Policy::strict`]`(1.0)` or the documented bound, or
/// when NaN / clamping / unsupported-`m` behaviour differs from the documentation.
pub fn fast_vs_oracle(data: &[u8]) {
    let Ok(case) = ScalarCase::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let op = ScalarOp::ALL[usize::from(case.op % 3)];
    let m = if case.m < 248 {
        u32::from(case.m % 19)
    } else {
        [17, 64, 1000, 65_536, 65_537, 1 << 31, u32::MAX, 255][usize::from(case.m - 248)]
    };
    let fmt = if case.f32 { Format::F32 } else { Format::F64 };
    let raw = match case.src {
        FloatSource::Bits(b) if case.f32 => f64::from(f32::from_bits(b as u32)),
        FloatSource::Bits(b) => f64::from_bits(b),
        FloatSource::Unit(b) => 2.0 * ((b >> 11) as f64 * 2f64.powi(-53)) - 1.0,
        FloatSource::Near { which, index, ulps } => {
            step(landmark(m.max(1), which, index), i64::from(ulps), fmt)
        }
    };
    // The input in the format (exact for f64; rounded once for f32).
    let c = if case.f32 { f64::from(raw as f32) } else { raw };
    let (got, slice) = if case.f32 {
        fast_scalar_and_slice(op, m, c as f32, Plan::eval_f32)
    } else {
        fast_scalar_and_slice(op, m, c, Plan::eval_f64)
    };
    let ctx = || {
        format!(
            "{op} {} m = {m}, c = {}",
            fmt.name(),
            describe_float(c, fmt)
        )
    };
    if let Some(s) = slice {
        assert!(
            s.to_bits() == got.to_bits() || (s.is_nan() && got.is_nan()),
            "{}: the slice evaluator gives {} but the scalar kernel {}",
            ctx(),
            describe_float(s, fmt),
            describe_float(got, fmt)
        );
    }
    let supported = m <= fast::MAX_M && (m >= 1 || op == ScalarOp::CosM);
    if !supported || c.is_nan() {
        assert!(
            got.is_nan(),
            "{}: expected NaN (unsupported m or NaN input), got {}",
            ctx(),
            describe_float(got, fmt)
        );
        return;
    }
    // Documented: c is clamped to [−1, 1] first (±∞ included).
    let cc = c.clamp(-1.0, 1.0);
    let exact = exact_scalar(op, m, cc).expect("c ∈ [−1, 1] is in the oracle's domain");
    let (ulps, scaled) = Policy::errors(op, fmt, m, got, &exact);
    let strict = Policy::strict(1.0).bound(op, fmt);
    let documented = if case.f32 {
        0.5 + 2f64.powi(-24)
    } else {
        0.5 + 2f64.powi(-17)
    };
    assert!(
        strict.accepts(m, ulps, scaled) && ulps <= documented,
        "{} (clamped to {cc:e}): expected {}, got {}: {ulps} ulps (documented bound {documented})",
        ctx(),
        describe_exact(&exact, fmt),
        describe_float(got, fmt)
    );
}

// ---------------------------------------------------------------------------
// loss_grad_vs_oracle
// ---------------------------------------------------------------------------

/// One component of a feature or class row: `mant · 2^(exp mod 13 − 20)`, so every
/// value is exact in `f32` and `f64`, `|v| < 2⁸`, and the smallest nonzero `|v|` is `2⁻²⁰`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Comp {
    /// Mantissa.
    pub mant: i16,
    /// Exponent selector.
    pub exp: u8,
}

impl Comp {
    fn value(self) -> f64 {
        f64::from(self.mant) * 2f64.powi(i32::from(self.exp % 13) - 20)
    }
}

/// λ or s: one of a small set of typical values, or a bounded dyadic.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Param {
    /// An index into the typical values (λ: `0, 0.5, 1, 5, 1000`; s: `1, 4, 16, 30, 64`).
    Typical(u8),
    /// λ: `k/256 ∈ [0, 256)`; s: `(k + 1)/1024 ∈ (0, 64]`.
    Dyadic(u16),
}

/// One input of [`loss_grad_vs_oracle`]. The domain:
///
/// - `N = 1 + n % 3`, `C = 1 + classes % 4`, `d = 1 + dim % 4`, `m = 1 + m % 8`;
/// - components `Comp` (exact dyadics `|v| < 2⁸`, at least `2⁻²⁰` when nonzero), or, for a
///   sample with `near = Some((j, t, jitter))`, `x_n = t·W_j·(1 + jitter·2⁻³⁰)` (rounded to the
///   format), which puts `c` next to `±1`, where a float cosine can exceed 1;
/// - **bounded away from 0**: a row (feature or class) whose norm is below `2⁻¹⁰` gets `1` added
///   to its first component, so no `‖x_n‖` or `‖W_j‖` is below `2⁻¹⁰ − 2⁻²⁰·2` (the oracle
///   rejects zero class rows for A-Softmax and has no gradient at zero features);
/// - λ and s from [`Param`]; both variants, both backwards, `f32` and `f64`.
///
/// The logit scale is not bounded (up to `s·‖x‖·(2m − 1)·‖W‖ ≈ 2.5·10⁸`): large logits
/// with a balanced softmax are where [`LossPolicy`]'s gradient allowance must grow with
/// `β·S`, and saturated ones where the oracle must stay fast.
#[derive(Arbitrary, Debug)]
pub struct LossCase {
    /// Batch size selector.
    pub n: u8,
    /// Class count selector.
    pub classes: u8,
    /// Dimension selector.
    pub dim: u8,
    /// Margin selector.
    pub m: u8,
    /// λ.
    pub lambda: Param,
    /// s.
    pub scale: Param,
    /// L-Softmax instead of A-Softmax.
    pub lsoftmax: bool,
    /// [`Backward::DetachedMargin`] instead of [`Backward::Full`].
    pub detached: bool,
    /// `f32` instead of `f64`.
    pub f32: bool,
    /// Label selectors (`y_n = labels[n] % C`).
    pub labels: [u8; 3],
    /// Feature components.
    pub x: [[Comp; 4]; 3],
    /// Class-row components.
    pub w: [[Comp; 4]; 4],
    /// Per sample: put `x_n` along `±t·W_j` (class `j % C`, `t = t8/16` with sign) with a jitter.
    pub near: [Option<(u8, i8, i8)>; 3],
}

/// Rows with a norm below `2⁻¹⁰` get `1` added to their first component.
fn away_from_zero(rows: &mut [Vec<f64>]) {
    for r in rows {
        let ss: f64 = r.iter().map(|v| v * v).sum();
        if ss < 2f64.powi(-20) {
            r[0] += 1.0;
        }
    }
}

/// Builds the batch of a [`LossCase`] in format `T`.
pub fn loss_batch<T: FloatFormat>(case: &LossCase) -> Batch<T> {
    let n = 1 + usize::from(case.n % 3);
    let classes = 1 + usize::from(case.classes % 4);
    let dim = 1 + usize::from(case.dim % 4);
    let m = 1 + u32::from(case.m % 8);
    let mut w: Vec<Vec<f64>> = (0..classes)
        .map(|j| (0..dim).map(|k| case.w[j][k].value()).collect())
        .collect();
    away_from_zero(&mut w);
    let w: Vec<Vec<f64>> = w
        .iter()
        .map(|r| r.iter().map(|&v| T::from_f64(v).to_f64()).collect())
        .collect();
    let mut x: Vec<Vec<f64>> = (0..n)
        .map(|i| match case.near[i] {
            Some((j, t, jitter)) => {
                let t = f64::from(t) / 16.0;
                let t = if t == 0.0 { 1.0 } else { t };
                let f = 1.0 + f64::from(jitter) * 2f64.powi(-30);
                w[usize::from(j) % classes]
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| if k == 0 { v * t * f } else { v * t })
                    .collect()
            }
            None => (0..dim).map(|k| case.x[i][k].value()).collect(),
        })
        .collect();
    away_from_zero(&mut x);
    let param = |p: Param, typical: [f64; 5], dyadic: fn(u16) -> f64| match p {
        Param::Typical(i) => typical[usize::from(i) % 5],
        Param::Dyadic(k) => dyadic(k),
    };
    let lambda = param(case.lambda, [0.0, 0.5, 1.0, 5.0, 1000.0], |k| {
        f64::from(k) / 256.0
    });
    let scale = param(case.scale, [1.0, 4.0, 16.0, 30.0, 64.0], |k| {
        (f64::from(k) + 1.0) / 1024.0
    });
    let flat =
        |rows: &[Vec<f64>]| -> Vec<T> { rows.iter().flatten().map(|&v| T::from_f64(v)).collect() };
    Batch {
        x: flat(&x),
        w: flat(&w),
        y: (0..n)
            .map(|i| usize::from(case.labels[i]) % classes)
            .collect(),
        n,
        classes,
        dim,
        m,
        lambda: T::from_f64(lambda),
        scale: T::from_f64(scale),
        variant: if case.lsoftmax {
            Variant::LSoftmax
        } else {
            Variant::ASoftmax
        },
        backward: if case.detached {
            Backward::DetachedMargin
        } else {
            Backward::Full
        },
        head: None,
    }
}

fn check_loss_batch<T: FloatFormat>(b: &Batch<T>) {
    let exp = match expected(b) {
        Ok(e) => e,
        // In cargo-fuzz's runs (`--cfg fuzzing`) a value the oracle cannot decide below its
        // working-precision cap is its typed answer, not a crash: the input is printed to
        // be kept in fuzz/open/. The corpus replay in `cargo test` (no `--cfg fuzzing`)
        // stays strict: every kept input must be decided.
        #[cfg(fuzzing)]
        Err(e @ crate::Error::PrecisionCap { .. }) => {
            eprintln!("open finding: the oracle could not decide {b:?}: {e}");
            return;
        }
        Err(e) => panic!("the oracle rejected an in-domain batch {b:?}: {e}"),
    };
    check_filter(b, &exp);
    let got = fast::loss::loss(b, true);
    let value_only = fast::loss::loss(b, false);
    assert!(
        got.loss.bits() == value_only.loss.bits(),
        "the loss differs with and without gradients: {} vs {} on {b:?}",
        got.loss,
        value_only.loss
    );
    let score = score_loss(b, &exp, &got, &LossPolicy::default(), String::from("fuzz"));
    let widen = |v: &[T]| v.iter().map(|t| t.to_f64()).collect::<Vec<f64>>();
    let (gx, gw) = (widen(&got.grad_x), widen(&got.grad_w));
    assert!(
        score.passed(),
        "fast loss outside LossPolicy::default(): errors (loss, grad_x, grad_w) {:?}, allowed {:?}\n\
         batch {b:?}\nfast: loss {} grad_x {gx:?} grad_w {gw:?}\noracle: loss {} grad_x {:?} grad_w {:?}",
        score.errors,
        score.allowed,
        got.loss,
        exp.loss.to_f64(),
        exp.grad_x.iter().map(Rational::to_f64).collect::<Vec<_>>(),
        exp.grad_w.iter().map(Rational::to_f64).collect::<Vec<_>>(),
    );
}

/// The loss filter ([`crate::loss_filter::certify`]) against the exact oracle's values:
/// every output of a filterable batch rounds to the same `f64` and `f32` bits.
fn check_filter<T: FloatFormat>(b: &Batch<T>, exp: &Expected) {
    use crate::loss_filter::{Tier, certify, filterable};
    let Some(Some(got)) = b.with_floats(|fb| filterable(fb).then(|| certify(fb, Tier::Filter)))
    else {
        return;
    };
    let got = match got {
        Ok(got) => got,
        // The filter's last resort is the exact oracle at 96 bits (its references), more
        // than this check's own call needed: under cargo-fuzz's 2¹⁶-bit cap (`--cfg
        // fuzzing`, see `check_loss_batch`) a cancelling output can then stop at the cap,
        // an open finding as the oracle's own is. The corpus replay in `cargo test` (full
        // cap) stays strict (fuzz/corpus/loss_grad_vs_oracle/filter-cap-2ff8e6f5 is
        // decided there).
        #[cfg(fuzzing)]
        Err(e @ crate::Error::PrecisionCap { .. }) => {
            eprintln!("open finding: the filter could not decide {b:?}: {e}");
            return;
        }
        Err(e) => panic!("the filter rejected a batch the oracle took, {b:?}: {e}"),
    };
    let outputs = std::iter::once(&got.loss)
        .chain(&got.grad_x)
        .chain(&got.grad_w);
    let exact = std::iter::once(&exp.loss)
        .chain(&exp.grad_x)
        .chain(&exp.grad_w);
    for (i, (g, e)) in outputs.zip(exact).enumerate() {
        let (f64, f32) = (
            round_rational(e, Format::F64),
            round_rational(e, Format::F32),
        );
        assert!(
            g.f64.to_bits() == f64.to_bits() && f64::from(g.f32).to_bits() == f32.to_bits(),
            "the filter's output {i} is {g:?}, the oracle's rounds to {f64:e} (f64) and {f32:e} (f32), on {b:?}"
        );
    }
}

/// The fast loss kernel against the loss oracle on small batches (see [`LossCase`]).
///
/// # Panics
///
/// When the fast loss or a gradient is outside [`LossPolicy::default`], when the value
/// depends on whether gradients were requested, or when the oracle rejects the batch.
pub fn loss_grad_vs_oracle(data: &[u8]) {
    let Ok(case) = LossCase::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    if case.f32 {
        check_loss_batch(&loss_batch::<f32>(&case));
    } else {
        check_loss_batch(&loss_batch::<f64>(&case));
    }
}

// ---------------------------------------------------------------------------
// api_robustness
// ---------------------------------------------------------------------------

/// Most bytes of a [`Num::Big`] numerator or denominator: 160 bytes = 1280 bits.
pub const BIG_BYTES: usize = 160;
/// Most characters of a [`Num::Text`] literal.
pub const TEXT_CHARS: usize = 64;

/// An arbitrary rational argument.
#[derive(Arbitrary, Debug, Clone)]
pub enum Num {
    /// `n/d` (`d = 0` is read as `1`).
    Small(i32, u32),
    /// Big numerator and denominator from little-endian bytes (each at most [`BIG_BYTES`]);
    /// a zero denominator is read as `1`.
    Big {
        /// Negative.
        neg: bool,
        /// Numerator bytes.
        numer: Vec<u8>,
        /// Denominator bytes.
        denom: Vec<u8>,
    },
    /// Through [`rational_from_f64`]: NaN and ±∞ are typed errors.
    F64(f64),
    /// Through [`parse_exact`] (at most [`TEXT_CHARS`] characters).
    Text(String),
    /// `0, ±1, ±1/2, 65536, 65537, 2⁻¹⁰⁰⁰, π-ish 355/113, −1 − 2⁻¹⁰⁰⁰, 1 + 2⁻¹⁰⁰⁰`.
    Special(u8),
}

impl Num {
    /// The rational, or the typed error its conversion gives.
    pub fn rational(&self) -> Result<Rational, Error> {
        let int = |b: &[u8]| Integer::from_digits(&b[..b.len().min(BIG_BYTES)], Order::Lsf);
        match self {
            Num::Small(n, d) => Ok(Rational::from((*n, (*d).max(1)))),
            Num::Big { neg, numer, denom } => {
                let mut d = int(denom);
                if d == 0 {
                    d = Integer::from(1);
                }
                let r = Rational::from((int(numer), d));
                Ok(if *neg { -r } else { r })
            }
            Num::F64(v) => rational_from_f64(*v),
            Num::Text(s) => parse_exact(&s.chars().take(TEXT_CHARS).collect::<String>()),
            Num::Special(i) => {
                let tiny = Rational::from((1, Integer::from(1) << 1000u32));
                Ok(match i % 12 {
                    0 => Rational::new(),
                    1 => Rational::from(1),
                    2 => Rational::from(-1),
                    3 => Rational::from((1, 2)),
                    4 => Rational::from((-1, 2)),
                    5 => Rational::from(65_536),
                    6 => Rational::from(65_537),
                    7 => tiny,
                    8 => Rational::from((355, 113)),
                    9 => Rational::from(-1) - tiny,
                    10 => Rational::from(1) + tiny,
                    _ => Rational::from((-355, 113)),
                })
            }
        }
    }
}

/// A precision argument: in range (`16..=4096`), or one of the out-of-range values
/// `0, 15, 2¹⁸ + 1, u32::MAX`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Prec {
    /// `16 + k % 4081`.
    InRange(u16),
    /// Out of range.
    Absurd(u8),
}

impl Prec {
    fn bits(self) -> u32 {
        match self {
            Prec::InRange(k) => 16 + u32::from(k) % 4081,
            Prec::Absurd(i) => [0, 15, (1 << 18) + 1, u32::MAX][usize::from(i % 4)],
        }
    }
}

/// An angle argument.
#[derive(Arbitrary, Debug, Clone)]
pub enum AngleIn {
    /// `c = cos θ`.
    Cos(Num),
    /// `θ`.
    Theta(Num),
}

/// An integer margin: any `u32` below `2¹⁷` (`> 65536` is a domain error), or `u32::MAX`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct IntM(pub u32);

impl IntM {
    fn get(self) -> u32 {
        if self.0 == u32::MAX {
            u32::MAX
        } else {
            self.0 % (1 << 17)
        }
    }
}

/// One call of [`api_robustness`]. The work is bounded by the types: precision at most
/// 4096 bits (or out of range), integer `m < 2¹⁷`, numbers of at most 1280 + 1280 bits
/// (or 64-character literals, which can denote up to `10^±99999`), loss batches of at
/// most 4 rows of at most 4 entries with numbers of at most 256 + 256 bits.
#[derive(Arbitrary, Debug)]
pub enum ApiCall {
    /// [`psi::psi`].
    Psi(Num, AngleIn, Prec),
    /// [`psi::dpsi_dcos`].
    DpsiDcos(IntM, AngleIn, Prec),
    /// [`psi::dpsi_dtheta`].
    DpsiDtheta(Num, AngleIn, Prec),
    /// [`multiangle::cos_m`].
    CosM(IntM, AngleIn, Prec),
    /// [`psi::branch_from_cos`], [`psi::psi_cos_exact`], [`psi::dpsi_dcos_exact`] (integer `m ≤ 256`).
    Exact(u8, Num),
    /// [`psi::branch_from_theta`].
    BranchTheta(Num, Num),
    /// [`crate::loss::loss`].
    Loss(Box<LossCall>),
    /// [`margin::angular_margin`].
    AngularMargin(Num, Num, Prec),
    /// [`margin::m_min`] and [`margin::m_min_closed`] (`true`: multiclass).
    MMin(bool, Prec),
    /// [`crate::loss::lambda`]: base, gamma, power, lambda_min, iter.
    Lambda([Num; 5], Prec),
}

/// The arguments of an [`ApiCall::Loss`]: shapes are arbitrary (ragged rows, empty
/// batches, labels out of range), sizes are bounded (at most 4 rows of at most 4).
#[derive(Arbitrary, Debug)]
pub struct LossCall {
    /// Feature rows.
    pub x: Vec<Vec<Num>>,
    /// Class rows.
    pub w: Vec<Vec<Num>>,
    /// Labels.
    pub y: Vec<u8>,
    /// Margin.
    pub m: Num,
    /// λ.
    pub lambda: Num,
    /// s.
    pub scale: Num,
    /// L-Softmax.
    pub lsoftmax: bool,
    /// Detached margin.
    pub detached: bool,
    /// Gradients too.
    pub grad: bool,
    /// Precision.
    pub prec: Prec,
}

/// The number for a loss batch: as [`Num::rational`], with `Big` cut to 32 + 32 bytes.
fn loss_num(n: &Num) -> Result<Rational, Error> {
    match n {
        Num::Big { neg, numer, denom } => Num::Big {
            neg: *neg,
            numer: numer[..numer.len().min(32)].to_vec(),
            denom: denom[..denom.len().min(32)].to_vec(),
        }
        .rational(),
        other => other.rational(),
    }
}

fn angle(a: &AngleIn) -> Result<Angle, Error> {
    Ok(match a {
        AngleIn::Cos(n) => Angle::Cos(n.rational()?),
        AngleIn::Theta(n) => Angle::Theta(n.rational()?),
    })
}

/// Checks that an error is a typed one that makes sense for an oracle call (any
/// variant is a typed error; this only formats it, which must not panic either).
fn typed<T>(r: Result<T, Error>) {
    if let Err(e) = r {
        let _ = e.to_string();
    }
}

fn run_api(call: &ApiCall) -> Result<(), Error> {
    match call {
        ApiCall::Psi(m, at, p) => typed(psi::psi(&m.rational()?, &angle(at)?, p.bits())),
        ApiCall::DpsiDcos(m, at, p) => typed(psi::dpsi_dcos(m.get(), &angle(at)?, p.bits())),
        ApiCall::DpsiDtheta(m, at, p) => {
            typed(psi::dpsi_dtheta(&m.rational()?, &angle(at)?, p.bits()))
        }
        ApiCall::CosM(m, at, p) => typed(multiangle::cos_m(m.get(), &angle(at)?, p.bits())),
        ApiCall::Exact(m, c) => {
            let (m, c) = (u32::from(*m), c.rational()?);
            typed(psi::branch_from_cos(m, &c));
            typed(psi::psi_cos_exact(m, &c));
            typed(psi::dpsi_dcos_exact(m, &c));
        }
        ApiCall::BranchTheta(m, t) => typed(psi::branch_from_theta(&m.rational()?, &t.rational()?)),
        ApiCall::Loss(l) => {
            let rows = |v: &[Vec<Num>]| -> Result<Vec<Vec<Rational>>, Error> {
                v.iter()
                    .take(4)
                    .map(|r| r.iter().take(4).map(loss_num).collect())
                    .collect()
            };
            let mut spec = LossSpec::new(
                rows(&l.x)?,
                rows(&l.w)?,
                l.y.iter().take(5).map(|&v| usize::from(v % 8)).collect(),
                loss_num(&l.m)?,
            );
            spec.lambda = loss_num(&l.lambda)?;
            spec.scale = loss_num(&l.scale)?;
            spec.variant = if l.lsoftmax {
                Variant::LSoftmax
            } else {
                Variant::ASoftmax
            };
            spec.backward = if l.detached {
                Backward::DetachedMargin
            } else {
                Backward::Full
            };
            typed(crate::loss::loss(&spec, l.grad, l.prec.bits()));
        }
        ApiCall::AngularMargin(m, t, p) => typed(margin::angular_margin(
            &m.rational()?,
            &t.rational()?,
            p.bits(),
        )),
        ApiCall::MMin(multi, p) => {
            let s = if *multi {
                margin::Setting::Multiclass
            } else {
                margin::Setting::Binary
            };
            typed(margin::m_min(s, p.bits()));
            typed(margin::m_min_closed(s, p.bits()));
        }
        ApiCall::Lambda(v, p) => {
            let s = LambdaSchedule {
                base: v[0].rational()?,
                gamma: v[1].rational()?,
                power: v[2].rational()?,
                lambda_min: v[3].rational()?,
                iter: v[4].rational()?,
            };
            typed(crate::loss::lambda(&s, p.bits()));
        }
    }
    Ok(())
}

/// Every public oracle entry point on arbitrary arguments (see [`ApiCall`]): a value or
/// a typed [`Error`] (including the conversions' errors for NaN/∞ and bad literals).
///
/// # Panics
///
/// Only when an oracle panics (a bug); a hang shows as a libFuzzer timeout.
pub fn api_robustness(data: &[u8]) {
    let Ok(call) = ApiCall::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    typed(run_api(&call));
}

// ---------------------------------------------------------------------------
// jsonl_parsers
// ---------------------------------------------------------------------------

/// Lines longer than this are not evaluated (only parsed).
#[cfg(feature = "cli")]
pub const EVAL_MAX_LINE: usize = 2048;

/// `true` when `eval` on this JSON line is cheap: `prec ≤ 1024` (or absent, 256), and
/// every number's text (strings and JSON numbers) at most 40 characters, with
/// `m`, when it is a plain number, at most 4096 in magnitude, and arrays with at most
/// 4 elements. Other lines are only parsed.
#[cfg(feature = "cli")]
fn eval_is_bounded(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    fn small(v: &Value, depth: usize) -> bool {
        match v {
            Value::Number(n) => n.to_string().len() <= 40,
            Value::String(s) => s.len() <= 40,
            Value::Array(a) => a.len() <= 4 && depth < 3 && a.iter().all(|e| small(e, depth + 1)),
            Value::Object(o) => depth == 0 && o.values().all(|e| small(e, depth + 1)),
            Value::Bool(_) | Value::Null => true,
        }
    }
    let Value::Object(o) = v else { return true };
    let prec_ok = o
        .get("prec")
        .is_none_or(|p| p.as_u64().is_none_or(|p| p <= 1024));
    let m_ok = o.get("m").is_none_or(|m| {
        crate::cli::json::number_value(m).map_or(true, |m| Rational::from(m.abs_ref()) <= 4096)
    });
    // Exponents in literals can make a 40-character number have 10^5 digits: keep
    // decimal exponents small by refusing long exponent digit runs.
    let exps_ok = !serde_json::to_string(v)
        .unwrap_or_default()
        .to_ascii_lowercase()
        .split(['e', 'p'])
        .skip(1)
        .any(|rest| {
            rest.trim_start_matches(['+', '-'])
                .chars()
                .take_while(char::is_ascii_digit)
                .count()
                > 3
        });
    prec_ok && m_ok && exps_ok && small(v, 0)
}

#[cfg(feature = "cli")]
fn walk_numbers(v: &serde_json::Value) {
    use serde_json::Value;
    let _ = crate::cli::json::number_value(v);
    match v {
        Value::Array(a) => a.iter().for_each(walk_numbers),
        Value::Object(o) => o.values().for_each(walk_numbers),
        Value::String(s) => {
            let _ = parse_exact(s);
        }
        _ => {}
    }
}

/// Arbitrary bytes into the JSON Lines front ends. The input is split at its first NUL
/// byte into two texts A and B (B empty without a NUL; invalid UTF-8 replaced):
///
/// - every line of A through [`parse_exact`], and its JSON values (recursively) through
///   `number_value` (the JSON number reader of `eval` and `check`) — parse-only, always;
/// - every line of A of at most [`EVAL_MAX_LINE`] bytes whose evaluation is bounded (see
///   `eval_is_bounded`: `prec ≤ 1024`, `|m| ≤ 4096`, short numbers with short exponents,
///   arrays of at most 4) through [`eval_line`](crate::cli::eval::eval_line), whose output
///   must be a JSON object with either an `error` or a `value`, and through the typed
///   scalar path ([`typed::eval_into`](crate::cli::typed::eval_into)), which must write
///   exactly the generic path's bytes whenever it takes the line;
/// - `check::check(A, B)` (vectors A, results B): a report, never a panic.
///
/// # Panics
///
/// When one of them panics, or `eval_line` returns something malformed.
#[cfg(feature = "cli")]
pub fn jsonl_parsers(data: &[u8]) {
    use crate::cli::{check, eval};
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let a = String::from_utf8_lossy(&data[..split]);
    let b = String::from_utf8_lossy(data.get(split + 1..).unwrap_or_default());
    for (i, line) in a.lines().enumerate() {
        let _ = parse_exact(line);
        let parsed = serde_json::from_str::<serde_json::Value>(line);
        if let Ok(v) = &parsed {
            walk_numbers(v);
        }
        let bounded = parsed.as_ref().map_or(true, eval_is_bounded);
        if line.len() <= EVAL_MAX_LINE && bounded {
            let (out, is_err) = eval::eval_line(line, i + 1);
            let mut typed = String::new();
            if let Some(typed_err) = crate::cli::typed::eval_into(line, i + 1, &mut typed) {
                let generic = out.to_string(); // the bytes `eval` writes for the line
                assert!(
                    typed == generic && typed_err == is_err,
                    "the typed eval path wrote {typed} where the generic path writes {out} \
                     for {line:?}"
                );
            }
            let obj = out.as_object().expect("eval_line returns an object");
            assert!(
                obj.contains_key("id")
                    && (if is_err {
                        obj.get("error").is_some_and(serde_json::Value::is_string)
                    } else {
                        obj.contains_key("value")
                    }),
                "malformed eval output {out} for {line:?}"
            );
        }
    }
    let report = check::check(&a, &b, &check::Overrides::default());
    let _ = report.text();
    let _ = report.json();
    let _ = report.passed();
}

/// The structured input a fuzz target decodes from `data`, as `Debug` text (for reading
/// a crash artifact: `cargo run --example fuzz_input --features fuzzing -- TARGET FILE`);
/// `None` for an unknown target. `jsonl_parsers` takes the bytes as they are.
pub fn describe_input(target: &str, data: &[u8]) -> Option<String> {
    fn show<T: for<'a> Arbitrary<'a> + std::fmt::Debug>(data: &[u8]) -> String {
        match T::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(v) => format!("{v:#?}"),
            Err(e) => format!("(not decodable: {e}; the target does nothing)"),
        }
    }
    Some(match target {
        "fast_vs_oracle" => show::<ScalarCase>(data),
        "loss_grad_vs_oracle" => {
            let mut text = show::<LossCase>(data);
            if let Ok(case) = LossCase::arbitrary_take_rest(Unstructured::new(data)) {
                text.push_str("\nbatch: ");
                text.push_str(&if case.f32 {
                    format!("{:?}", loss_batch::<f32>(&case))
                } else {
                    format!("{:?}", loss_batch::<f64>(&case))
                });
            }
            text
        }
        "api_robustness" => show::<ApiCall>(data),
        "jsonl_parsers" => format!("{:?}", String::from_utf8_lossy(data)),
        _ => return None,
    })
}
