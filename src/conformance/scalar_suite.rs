//! The scalar suite: running an implementation of `cos_m`, ψ and `dψ/dc` against the
//! oracle, with reports (numbers) and assertions (pass/fail with a reproducible
//! counterexample). The loss kernels' counterpart is [`super::loss_suite`].

use super::generators::{Case, GenConfig, scalar_inputs};
use super::kernel::{FloatFormat, ScalarKernel};
use super::policy::{Policy, ScalarOp};
use crate::Error;
use crate::arith::{Format, hex, rational_from_f64, ziv::round_rational};
use crate::multiangle::cos_m_recurrence;
use crate::psi::{dpsi_dcos_exact, psi_cos_exact};
use rug::{Float, Rational};
use std::fmt;
use std::ops::RangeInclusive;

/// The exact value of a scalar op at the exact value of a float input `c`.
pub fn exact_scalar(op: ScalarOp, m: u32, c: f64) -> Result<Rational, Error> {
    let c = rational_from_f64(c)?;
    crate::multiangle::check_cos(&c)?;
    match op {
        ScalarOp::CosM => Ok(cos_m_recurrence(m, &c)),
        ScalarOp::Psi => psi_cos_exact(m, &c),
        ScalarOp::DpsiDcos => dpsi_dcos_exact(m, &c),
    }
}

/// A float in a report: decimal, C99 hex and raw bits of its format.
pub fn describe_float(v: f64, fmt: Format) -> String {
    // Decimal: the shortest text that reads back as the value in its own format.
    let decimal = match fmt {
        Format::F32 => format!("{:e}", v as f32),
        _ => format!("{v:e}"),
    };
    let width = (fmt.precision() + fmt.exponent_bits()) as usize;
    format!(
        "{decimal} ({}, bits {:#0w$x})",
        hex(v, fmt),
        fmt.encode(v),
        w = 2 + width / 4
    )
}

/// An exact value in a report: 40 significant digits and its correct rounding.
pub fn describe_exact(r: &Rational, fmt: Format) -> String {
    let d = Float::with_val(160, r).to_string_radix(10, Some(40));
    let rounded = round_rational(r, fmt);
    format!("{d} (correctly rounded: {})", hex(rounded, fmt))
}

/// An error in ulps for a report: 3 decimals, or scientific notation when huge.
pub fn fmt_err(e: f64) -> String {
    if e.is_finite() && e >= 1e6 {
        format!("{e:.3e}")
    } else {
        format!("{e:.3}")
    }
}

/// One evaluated case.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The margin.
    pub m: u32,
    /// The input `c` (exactly representable in the format).
    pub input: f64,
    /// Where the input came from.
    pub origin: String,
    /// The exact result.
    pub expected: Rational,
    /// The implementation's result (widened to f64 exactly).
    pub actual: f64,
    /// Its ulp error.
    pub ulp_err: f64,
    /// Its scaled error.
    pub scaled_err: f64,
}

/// What one op of one kernel scored over all generated inputs.
#[derive(Clone, Debug)]
pub struct OpReport {
    /// The kernel's name.
    pub kernel: String,
    /// The op.
    pub op: ScalarOp,
    /// The format.
    pub format: Format,
    /// The margins covered.
    pub ms: Vec<u32>,
    /// Number of inputs evaluated.
    pub cases: usize,
    /// Number of inputs outside the policy.
    pub failures: usize,
    /// Largest ulp error seen.
    pub max_ulps: f64,
    /// Largest scaled error seen.
    pub max_scaled: f64,
    /// The case closest to, or furthest beyond, the tolerance (largest [`Bound::badness`](super::Bound::badness)).
    pub worst: Option<Sample>,
    /// The first few failing cases.
    pub failing: Vec<Sample>,
    /// The seed of the random inputs.
    pub seed: u64,
}

impl OpReport {
    /// `true` when every case was within the policy.
    pub fn passed(&self) -> bool {
        self.failures == 0
    }
}

fn sample_text(s: &Sample, fmt: Format) -> String {
    format!(
        "m = {}, c = {} [{}]\n      expected {}\n      actual   {}\n      error    {} ulps, {} scaled ulps",
        s.m,
        describe_float(s.input, fmt),
        s.origin,
        describe_exact(&s.expected, fmt),
        describe_float(s.actual, fmt),
        fmt_err(s.ulp_err),
        fmt_err(s.scaled_err)
    )
}

impl fmt::Display for OpReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} {} {} (m = {:?}): {} cases, {} failures, max {} ulps, max {} scaled ulps, seed {:#x}",
            self.kernel,
            self.op,
            self.format.name(),
            self.ms,
            self.cases,
            self.failures,
            fmt_err(self.max_ulps),
            fmt_err(self.max_scaled),
            self.seed
        )?;
        if let Some(w) = &self.worst {
            writeln!(f, "  worst: {}", sample_text(w, self.format))?;
        }
        for s in &self.failing {
            writeln!(f, "  FAIL:  {}", sample_text(s, self.format))?;
        }
        Ok(())
    }
}

/// Runs `op` of `kernel` over the generated inputs for each supported `m` in `ms`.
pub fn check_scalar<T: FloatFormat, K: ScalarKernel<T> + ?Sized>(
    kernel: &K,
    op: ScalarOp,
    ms: RangeInclusive<u32>,
    cfg: &GenConfig,
    policy: &Policy,
) -> OpReport {
    let fmt = T::FORMAT;
    let bound = policy.bound(op, fmt);
    let mut report = OpReport {
        kernel: kernel.name(),
        op,
        format: fmt,
        ms: Vec::new(),
        cases: 0,
        failures: 0,
        max_ulps: 0.0,
        max_scaled: 0.0,
        worst: None,
        failing: Vec::new(),
        seed: cfg.seed,
    };
    let mut worst_badness = f64::NEG_INFINITY;
    for m in ms {
        if !kernel.supports(m) || (m == 0 && op != ScalarOp::CosM) {
            continue;
        }
        report.ms.push(m);
        let inputs: Vec<Case<T>> = scalar_inputs(m, cfg);
        for case in inputs {
            let c = case.c.to_f64();
            let Ok(expected) = exact_scalar(op, m, c) else {
                continue;
            };
            let actual = op.eval(kernel, m, case.c).to_f64();
            let (ulp_err, scaled_err) = Policy::errors(op, fmt, m, actual, &expected);
            let sample = || Sample {
                m,
                input: c,
                origin: case.origin.clone(),
                expected: expected.clone(),
                actual,
                ulp_err,
                scaled_err,
            };
            report.cases += 1;
            let badness = bound.badness(m, ulp_err, scaled_err);
            if badness > worst_badness || report.worst.is_none() {
                worst_badness = badness;
                report.worst = Some(sample());
            }
            report.max_ulps = report.max_ulps.max(ulp_err);
            report.max_scaled = report.max_scaled.max(scaled_err);
            if badness > 1.0 {
                report.failures += 1;
                if report.failing.len() < 5 {
                    report.failing.push(sample());
                }
            }
        }
    }
    report
}

/// Runs every scalar op and panics with the full report if any case fails.
pub fn assert_scalar<T: FloatFormat, K: ScalarKernel<T> + ?Sized>(
    kernel: &K,
    op: ScalarOp,
    ms: RangeInclusive<u32>,
    cfg: &GenConfig,
    policy: &Policy,
) {
    let r = check_scalar(kernel, op, ms, cfg, policy);
    assert!(
        r.passed(),
        "{} does not conform:\n{r}policy: {:?}",
        r.kernel,
        policy.bound(op, T::FORMAT)
    );
}

/// Expands, in a downstream crate's tests, to one `#[test]` per scalar op for a
/// kernel, a format and a range of margins:
///
/// ```ignore
/// asoftmax_spec::scalar_suite!(my_kernel_f32, MyKernel, f32, 1..=8);
/// ```
///
/// The kernel expression must implement
/// [`ScalarKernel<T>`](crate::conformance::ScalarKernel). An optional fifth
/// argument gives the [`Policy`](crate::conformance::Policy) (default: the
/// default table).
#[macro_export]
macro_rules! scalar_suite {
    // One op's `#[test]` (inside the module, which imports the names it uses).
    (@test $test:ident, $op:ident, $kernel:expr, $t:ty, $ms:expr, $policy:expr) => {
        #[test]
        fn $test() {
            assert_scalar::<$t, _>(
                &$kernel,
                ScalarOp::$op,
                $ms,
                &GenConfig::default(),
                &$policy,
            );
        }
    };
    ($name:ident, $kernel:expr, $t:ty, $ms:expr) => {
        $crate::scalar_suite!(
            $name,
            $kernel,
            $t,
            $ms,
            $crate::conformance::Policy::default()
        );
    };
    ($name:ident, $kernel:expr, $t:ty, $ms:expr, $policy:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::{GenConfig, ScalarOp, scalar_suite::assert_scalar};

            $crate::scalar_suite!(@test cos_m, CosM, $kernel, $t, $ms, $policy);
            $crate::scalar_suite!(@test psi, Psi, $kernel, $t, $ms, $policy);
            $crate::scalar_suite!(@test dpsi_dcos, DpsiDcos, $kernel, $t, $ms, $policy);
        }
    };
}
