//! Scoring a head kernel on the generated inputs: the report, the assertion and the
//! [`head_suite!`](crate::head_suite) macro.

use super::generators::{Jump, head_cases, jumps};
use super::policy::HeadPolicy;
use super::{HeadKernel, HeadOp};
use crate::Error;
use crate::arith::Format;
use crate::conformance::generators::GenConfig;
use crate::conformance::kernel::FloatFormat;
use crate::conformance::metrics::{error_in_ulps_of, ulp_error};
use crate::conformance::scalar_suite::{describe_exact, describe_float, fmt_err};
use crate::head::family::{Head, nontarget_logit, target_logit};
use rug::Rational;
use std::fmt;

/// The oracle's value of `op` of `head` at `(c, c_y)`: the midpoint of a 128-bit
/// enclosure (within `2⁻¹²⁰` relative of the exact value, far below any format's ulp).
pub fn oracle_value(head: &Head, op: HeadOp, c: f64, c_y: f64) -> Result<Rational, Error> {
    let c = crate::arith::rational_from_f64(c)?;
    let c_y = crate::arith::rational_from_f64(c_y)?;
    let v = match op {
        HeadOp::Target => target_logit(head, &c, 128)?,
        HeadOp::NonTarget => nontarget_logit(head, &c, &c_y, 128)?,
    };
    Ok(v.mid().to_rational().expect("a finite logit"))
}

/// One evaluated case.
#[derive(Clone, Debug)]
pub struct HeadSample {
    /// The cosine.
    pub c: f64,
    /// The sample's target cosine.
    pub c_y: f64,
    /// Where the input came from.
    pub origin: String,
    /// The exact value (the side of a jump nearest to `actual`, within the allowance).
    pub expected: Rational,
    /// The implementation's value (widened to `f64` exactly).
    pub actual: f64,
    /// Its ulp error.
    pub ulp_err: f64,
    /// Its error in ulps of `max(1, |expected|)`.
    pub scaled_err: f64,
}

/// What one logit of one head kernel scored over the generated inputs.
#[derive(Clone, Debug)]
pub struct HeadReport {
    /// The kernel's name.
    pub kernel: String,
    /// The head's kind name.
    pub head: &'static str,
    /// The op.
    pub op: HeadOp,
    /// The format.
    pub format: Format,
    /// Inputs evaluated.
    pub cases: usize,
    /// Inputs the oracle could not decide (an error from the oracle: skipped, counted).
    pub undecided: usize,
    /// Inputs outside the policy.
    pub failures: usize,
    /// Inputs near a jump that passed on the other side's value.
    pub jump_accepted: usize,
    /// Largest ulp error seen.
    pub max_ulps: f64,
    /// Largest scaled error seen.
    pub max_scaled: f64,
    /// The case closest to, or furthest beyond, the tolerance.
    pub worst: Option<HeadSample>,
    /// The first few failing cases.
    pub failing: Vec<HeadSample>,
    /// The seed of the random inputs.
    pub seed: u64,
}

impl HeadReport {
    /// `true` when every case was within the policy.
    pub fn passed(&self) -> bool {
        self.failures == 0
    }
}

fn sample_text(s: &HeadSample, fmt: Format) -> String {
    format!(
        "c = {}, c_y = {} [{}]\n      expected {}\n      actual   {}\n      error    {} ulps, {} scaled ulps",
        describe_float(s.c, fmt),
        describe_float(s.c_y, fmt),
        s.origin,
        describe_exact(&s.expected, fmt),
        describe_float(s.actual, fmt),
        fmt_err(s.ulp_err),
        fmt_err(s.scaled_err)
    )
}

impl fmt::Display for HeadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} {} {} {}: {} cases, {} failures, {} undecided, {} accepted on a jump's other side, max {} ulps, max {} scaled ulps, seed {:#x}",
            self.kernel,
            self.head,
            self.op,
            self.format.name(),
            self.cases,
            self.failures,
            self.undecided,
            self.jump_accepted,
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

/// `(ulp error, scaled error)` of `actual` against `exact`.
fn errors(actual: f64, exact: &Rational, fmt: Format) -> (f64, f64) {
    let a = Rational::from(exact.abs_ref());
    let scale = if a > 1 { a } else { Rational::from(1) };
    (
        ulp_error(actual, exact, fmt),
        error_in_ulps_of(actual, exact, &scale, fmt),
    )
}

/// The side values of the jumps within `jump_ulps` floats of `c` (none elsewhere).
fn jump_sides<T: FloatFormat>(
    head: &Head,
    jumps: &[Jump],
    c: T,
    c_y: T,
    jump_ulps: u32,
) -> Result<Vec<Rational>, Error> {
    let fmt = T::FORMAT;
    let mut out = Vec::new();
    if jump_ulps == 0 {
        return Ok(out);
    }
    for j in jumps {
        let Some(at) = j.at(head, c_y) else { continue };
        let (lo, hi) = (at.to_f64(), at.to_f64());
        let (mut lo, mut hi) = (lo, hi);
        for _ in 0..jump_ulps {
            lo = -fmt.next_up(-lo);
            hi = fmt.next_up(hi);
        }
        if (lo..=hi).contains(&c.to_f64()) {
            out.extend(j.values(&crate::arith::rational_from_f64(c.to_f64())?)?);
        }
    }
    Ok(out)
}

/// Runs `op` of `kernel` over [`head_cases`] for [`HeadKernel::head`] under `policy`.
pub fn check_head<T: FloatFormat, K: HeadKernel<T> + ?Sized>(
    kernel: &K,
    op: HeadOp,
    cfg: &GenConfig,
    policy: &HeadPolicy,
) -> HeadReport {
    let fmt = T::FORMAT;
    let head = kernel.head();
    let bound = policy.bound(head.kind(), fmt);
    let jumps = jumps(&head, op);
    let mut report = HeadReport {
        kernel: kernel.name(),
        head: crate::names::Name::name(head.kind()),
        op,
        format: fmt,
        cases: 0,
        undecided: 0,
        failures: 0,
        jump_accepted: 0,
        max_ulps: 0.0,
        max_scaled: 0.0,
        worst: None,
        failing: Vec::new(),
        seed: cfg.seed,
    };
    let mut worst_badness = f64::NEG_INFINITY;
    for case in head_cases::<T>(&head, cfg) {
        let (c, c_y) = (case.c.to_f64(), case.c_y.to_f64());
        let Ok(exact) = oracle_value(&head, op, c, c_y) else {
            report.undecided += 1;
            continue;
        };
        let actual = op.eval(kernel, case.c, case.c_y).to_f64();
        let (mut ulp_err, mut scaled_err) = errors(actual, &exact, fmt);
        let mut expected = exact;
        let mut badness = bound.badness(ulp_err, scaled_err);
        if badness > 1.0 {
            let Ok(sides) = jump_sides(&head, &jumps, case.c, case.c_y, policy.jump_ulps) else {
                report.undecided += 1;
                continue;
            };
            for side in sides {
                let (u, s) = errors(actual, &side, fmt);
                let b = bound.badness(u, s);
                if b < badness {
                    (ulp_err, scaled_err, badness, expected) = (u, s, b, side);
                }
            }
            if badness <= 1.0 {
                report.jump_accepted += 1;
            }
        }
        let sample = || HeadSample {
            c,
            c_y,
            origin: case.origin.clone(),
            expected: expected.clone(),
            actual,
            ulp_err,
            scaled_err,
        };
        report.cases += 1;
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
    report
}

/// Runs `op` of `kernel` and panics with the full report if any case fails.
pub fn assert_head<T: FloatFormat, K: HeadKernel<T> + ?Sized>(
    kernel: &K,
    op: HeadOp,
    cfg: &GenConfig,
    policy: &HeadPolicy,
) {
    let r = check_head(kernel, op, cfg, policy);
    assert!(
        r.passed(),
        "{} does not conform:\n{r}policy: {:?}",
        r.kernel,
        policy.bound(kernel.head().kind(), T::FORMAT)
    );
}

/// Expands, in a downstream crate's tests, to one `#[test]` per logit (target,
/// non-target) of a head kernel in a format:
///
/// ```ignore
/// asoftmax_spec::head_suite!(my_arcface_f32, MyArcFace::new(0.5), f32);
/// ```
///
/// The kernel expression must implement
/// [`HeadKernel<T>`](crate::conformance::head_suite::HeadKernel) (its `head()` names the
/// head and parameters it is judged against). An optional fourth argument gives the
/// [`HeadPolicy`](crate::conformance::head_suite::HeadPolicy) (default: the default table).
#[macro_export]
macro_rules! head_suite {
    (@test $test:ident, $op:ident, $kernel:expr, $t:ty, $policy:expr) => {
        #[test]
        fn $test() {
            assert_head::<$t, _>(&$kernel, HeadOp::$op, &GenConfig::default(), &$policy);
        }
    };
    ($name:ident, $kernel:expr, $t:ty) => {
        $crate::head_suite!(
            $name,
            $kernel,
            $t,
            $crate::conformance::head_suite::HeadPolicy::default()
        );
    };
    ($name:ident, $kernel:expr, $t:ty, $policy:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::GenConfig;
            use $crate::conformance::head_suite::{HeadOp, assert_head};

            $crate::head_suite!(@test target, Target, $kernel, $t, $policy);
            $crate::head_suite!(@test non_target, NonTarget, $kernel, $t, $policy);
        }
    };
}
