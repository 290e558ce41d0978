//! Checking a user's backward pass two independent ways:
//!
//! 1. against the oracle's analytic gradient ([`check_loss`](super::check_loss),
//!    which also judges the value), and
//! 2. against high-precision finite differences of the oracle's loss *value*
//!    ([`fd_check_loss`]), which shares no gradient formula with the oracle: a
//!    wrong analytic derivation in the oracle itself could not hide a wrong
//!    gradient from it.
//!
//! Only the [`Backward::Full`] semantics is the gradient of a function; the
//! detached-margin backward is checked against the oracle (way 1) only.
//!
//! The judge of way 2 works for any function: [`check_gradient`] compares claimed
//! derivatives ([`Claim`]: `f64`, `f32`, rationals, MPFR floats, oracle results) with
//! the finite-difference estimates of [`crate::fd`] and gives a [`Verdict`] per
//! component under a [`Tolerance`] ([`GradCheck`]).

use super::kernel::{Backward, Batch, FloatFormat, LossKernel};
use super::loss_suite::spec_of;
use crate::Error;
use crate::arith::interval::abs_diff_up;
use crate::arith::{Approx, Ival};
use crate::fd::{FdEstimate, FdOptions, bad_option, derivative, sci};
use crate::loss::loss_enclosure;
use rug::{Float, Rational};
use std::fmt;

/// Finite-difference check of `kernel`'s gradient (∂L/∂X then ∂L/∂W, row-major)
/// on one batch with the [`Backward::Full`] semantics.
///
/// The parameters are the `N·d + C·d` entries of `X` and `W` at their exact float
/// values; the reference is the derivative of the oracle's loss enclosure,
/// extrapolated by Richardson in MPFR ([`crate::fd`]). `tol` is the absolute and
/// relative tolerance per component (a float kernel needs roughly its format's
/// epsilon times the error growth of its formulas, e.g. `m²·d·ε`).
pub fn fd_check_loss<T: FloatFormat, K: LossKernel<T> + ?Sized>(
    kernel: &K,
    batch: &Batch<T>,
    tol: Tolerance,
    opts: &FdOptions,
) -> Result<(GradCheck, bool), Error> {
    if batch.backward != Backward::Full {
        return Err(Error::Domain {
            arg: "backward",
            value: format!("{:?}", batch.backward),
            expected: "Backward::Full (only the full backward is the gradient of the loss)",
        });
    }
    let base = spec_of(batch)?;
    let (nx, d) = (batch.n * batch.dim, batch.dim);
    let params: Vec<Rational> = base.x.iter().chain(&base.w).flatten().cloned().collect();
    let f = |p: &[Rational], wp: u32| {
        let mut spec = base.clone();
        spec.x = p[..nx].chunks(d).map(<[Rational]>::to_vec).collect();
        spec.w = p[nx..].chunks(d).map(<[Rational]>::to_vec).collect();
        loss_enclosure(&spec, wp)
    };
    let got = kernel.loss(batch, true);
    let claimed: Vec<f64> = got
        .grad_x
        .iter()
        .chain(&got.grad_w)
        .map(|v| v.to_f64())
        .collect();
    let check = check_gradient(f, &params, &claimed, opts)?;
    let passed = check.passed(tol);
    Ok((check, passed))
}

/// An exact rational for reports: `n/d` when short, else a 25-digit decimal.
fn show_rational(r: &Rational) -> String {
    let exact = r.to_string();
    if exact.len() <= 48 {
        exact
    } else {
        format!("≈{}", sci(&Float::with_val(96, r), 25))
    }
}

/// A claimed derivative value, as users hold them: `f64`, `f32`, exact rationals,
/// MPFR floats, or oracle results.
pub trait Claim {
    /// The value as a float of at least `prec` bits, or `None` when it is NaN or infinite.
    fn to_float(&self, prec: u32) -> Option<Float>;
    /// The value as the user would write it (for reports).
    fn describe(&self) -> String;
}

impl Claim for f64 {
    fn to_float(&self, prec: u32) -> Option<Float> {
        self.is_finite()
            .then(|| Float::with_val(prec.max(53), *self))
    }
    fn describe(&self) -> String {
        format!("{self:e}")
    }
}

impl Claim for f32 {
    fn to_float(&self, prec: u32) -> Option<Float> {
        self.is_finite()
            .then(|| Float::with_val(prec.max(24), *self))
    }
    fn describe(&self) -> String {
        format!("{self:e}")
    }
}

impl Claim for Rational {
    fn to_float(&self, prec: u32) -> Option<Float> {
        Some(Float::with_val(prec, self))
    }
    fn describe(&self) -> String {
        crate::describe_rational(self)
    }
}

impl Claim for Float {
    fn to_float(&self, prec: u32) -> Option<Float> {
        self.is_finite()
            .then(|| Float::with_val(prec.max(self.prec()), self))
    }
    fn describe(&self) -> String {
        sci(self, 25)
    }
}

impl Claim for Approx {
    fn to_float(&self, prec: u32) -> Option<Float> {
        let m = self.mid();
        Some(Float::with_val(prec.max(m.prec()), m))
    }
    fn describe(&self) -> String {
        self.decimal()
    }
}

impl<C: Claim + ?Sized> Claim for &C {
    fn to_float(&self, prec: u32) -> Option<Float> {
        (**self).to_float(prec)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// How close a claimed derivative must be to the FD estimate:
/// `|claimed − fd| ≤ abs + rel·|fd|`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// The absolute part.
    pub abs: f64,
    /// The relative part.
    pub rel: f64,
}

impl From<f64> for Tolerance {
    /// The same number as absolute and relative tolerance.
    fn from(t: f64) -> Self {
        Tolerance { abs: t, rel: t }
    }
}

/// The verdict on one component of a gradient check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// `|claimed − fd| + fd.error() ≤ allowed`: correct whatever the FD error is.
    Pass,
    /// `|claimed − fd| − fd.error() > allowed`, or the claim is NaN/infinite.
    Fail,
    /// Undecided: the FD error estimate is too large for the tolerance (e.g. at an
    /// unresolved kink). Counts as not passed.
    Inconclusive,
}

/// One component of a [`GradCheck`]: the FD estimate against the claimed value.
#[derive(Clone, Debug)]
pub struct ComponentCheck {
    /// The component index `i` of `∂f/∂x_i`.
    pub index: usize,
    /// The finite-difference estimate (the "expected" value).
    pub fd: FdEstimate,
    /// The claimed value (the "actual" value), `None` when NaN or infinite.
    pub claimed: Option<Float>,
    /// The claimed value as given.
    pub claimed_text: String,
}

impl ComponentCheck {
    /// `|claimed − fd.value|`, `None` for a non-finite claim.
    pub fn abs_err(&self) -> Option<Float> {
        self.claimed
            .as_ref()
            .map(|c| abs_diff_up(c, &self.fd.value))
    }

    /// `|claimed − fd.value| / |fd.value|` (`+∞` when the estimate is 0 and the claim is not).
    pub fn rel_err(&self) -> Option<Float> {
        let a = self.abs_err()?;
        if a.is_zero() {
            return Some(a);
        }
        let p = a.prec();
        Some(Float::with_val(
            p,
            &a / &Float::with_val(p, self.fd.value.abs_ref()),
        ))
    }

    /// The allowed deviation `tol.abs + tol.rel·|fd|`.
    pub fn allowed(&self, tol: Tolerance) -> Float {
        let p = self.fd.value.prec().max(64);
        let r = Float::with_val(p, self.fd.value.abs_ref()) * tol.rel;
        Float::with_val(p, r + tol.abs)
    }

    /// [`Verdict`] under `tol`.
    pub fn verdict(&self, tol: Tolerance) -> Verdict {
        let Some(a) = self.abs_err() else {
            return Verdict::Fail;
        };
        let allowed = self.allowed(tol);
        let e = self.fd.error();
        let p = a.prec().max(e.prec());
        if Float::with_val(p, &a + &e) <= allowed {
            Verdict::Pass
        } else if Float::with_val(p, &a - &e) > allowed {
            Verdict::Fail
        } else {
            Verdict::Inconclusive
        }
    }
}

/// The result of [`check_gradient`]: the input point and one [`ComponentCheck`] per
/// component.
#[derive(Clone, Debug)]
pub struct GradCheck {
    /// The point the gradient was checked at.
    pub at: Vec<Rational>,
    /// One entry per component.
    pub components: Vec<ComponentCheck>,
}

impl GradCheck {
    /// `true` when every component [passes](Verdict::Pass) under `tol`.
    pub fn passed(&self, tol: impl Into<Tolerance>) -> bool {
        let tol = tol.into();
        self.components
            .iter()
            .all(|c| c.verdict(tol) == Verdict::Pass)
    }

    /// The components that do not pass under `tol` (failed or inconclusive).
    pub fn failures(&self, tol: impl Into<Tolerance>) -> Vec<&ComponentCheck> {
        let tol = tol.into();
        self.components
            .iter()
            .filter(|c| c.verdict(tol) != Verdict::Pass)
            .collect()
    }

    /// A human-readable report: the input point, then per component the expected
    /// (FD) value with its error estimate, the actual (claimed) value, the absolute
    /// and relative errors, and the verdict under `tol`.
    pub fn report(&self, tol: impl Into<Tolerance>) -> String {
        use std::fmt::Write;
        let tol = tol.into();
        let mut s = String::new();
        let verdicts: Vec<Verdict> = self.components.iter().map(|c| c.verdict(tol)).collect();
        let failed = verdicts.iter().filter(|v| **v != Verdict::Pass).count();
        let _ = writeln!(
            s,
            "gradient check: {} of {} components pass (tolerance abs {:e}, rel {:e})",
            self.components.len() - failed,
            self.components.len(),
            tol.abs,
            tol.rel
        );
        let point: Vec<String> = self.at.iter().map(show_rational).collect();
        let _ = writeln!(s, "input x = [{}]", point.join(", "));
        for (c, v) in self.components.iter().zip(verdicts) {
            let fmt_opt = |x: Option<Float>| x.map_or_else(|| "-".to_string(), |x| sci(&x, 3));
            let _ = writeln!(
                s,
                "  [{}] {:<12} expected (fd) {}  actual {}  abs err {}  rel err {}",
                c.index,
                format!("{v:?}").to_uppercase(),
                c.fd,
                c.claimed_text,
                fmt_opt(c.abs_err()),
                fmt_opt(c.rel_err()),
            );
        }
        s
    }
}

impl fmt::Display for GradCheck {
    /// The [`report`](GradCheck::report) under a tolerance of `1e−10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report(1e-10))
    }
}

/// Compares a claimed gradient with finite differences of `f` at `at`.
///
/// `claimed[i]` is the user's `∂f/∂x_i` (any [`Claim`]: `f64`, `f32`, `Rational`,
/// `Float`, `Approx`); the check estimates every component with [`derivative`] and
/// records both. Use [`GradCheck::passed`] to decide and [`GradCheck::report`] to show
/// the input, the expected and the actual values.
///
/// ```
/// use asoftmax_spec::conformance::gradcheck::check_gradient;
/// use asoftmax_spec::fd::{FdOptions, float_fn};
/// use rug::{Float, Rational};
/// // f(x, y) = x²y, ∇f = (2xy, x²); the claim forgets the factor 2.
/// let f = float_fn(8, |v: &[Float]| Float::with_val(v[0].prec(), &v[0] * &v[0]) * &v[1]);
/// let at = [Rational::from(3), Rational::from(5)];
/// let good = check_gradient(&f, &at, &[30.0, 9.0], &FdOptions::default()).unwrap();
/// assert!(good.passed(1e-12));
/// let bad = check_gradient(&f, &at, &[15.0, 9.0], &FdOptions::default()).unwrap();
/// assert!(!bad.passed(1e-12));
/// assert!(bad.report(1e-12).contains("FAIL"));
/// ```
pub fn check_gradient<F, C>(
    f: F,
    at: &[Rational],
    claimed: &[C],
    opts: &FdOptions,
) -> Result<GradCheck, Error>
where
    F: Fn(&[Rational], u32) -> Result<Option<Ival>, Error>,
    C: Claim,
{
    if claimed.len() != at.len() {
        return Err(bad_option(
            "claimed",
            format!("{} values for {} parameters", claimed.len(), at.len()),
            "one claimed derivative per parameter",
        ));
    }
    let mut components = Vec::with_capacity(at.len());
    for (i, c) in claimed.iter().enumerate() {
        let fd = derivative(&f, at, i, opts)?;
        components.push(ComponentCheck {
            index: i,
            claimed: c.to_float(fd.value.prec().max(64)),
            claimed_text: c.describe(),
            fd,
        });
    }
    Ok(GradCheck {
        at: at.to_vec(),
        components,
    })
}
