//! High-precision finite differences: derivative estimates for *any* function of a
//! parameter vector (the judge that compares a claimed gradient with them is
//! [`crate::conformance::gradcheck::check_gradient`]).
//!
//! # Method
//!
//! For a function `f: ℝⁿ → ℝ`, a point `x` and a component `i`, the central difference
//!
//! ```text
//! D(h) = (f(x + h·e_i) − f(x − h·e_i)) / (2h) = f′ + a₁h² + a₂h⁴ + a₃h⁶ + …
//! ```
//!
//! is evaluated for `h = h₀, h₀/2, h₀/4, …` and combined by **Richardson
//! extrapolation** in a Neville tableau, each column eliminating the next power of `h²`:
//!
//! ```text
//! T(i, 0) = D(h₀/2^i),    T(i, j) = (4^j·T(i, j−1) − T(i−1, j−1)) / (4^j − 1).
//! ```
//!
//! The estimate is the tableau entry with the smallest error estimate, Ridders' rule
//! `err(i, j) = max(|T(i, j) − T(i, j−1)|, |T(i, j) − T(i−1, j−1)|)`; the tableau stops
//! early when the target is met or when the diagonal starts to diverge
//! (`|T(i, i) − T(i−1, i−1)| ≥ 2·err`).
//!
//! Everything is computed in MPFR **interval** arithmetic at a working precision of
//! about `prec + guard + log2(max(1, |x_i|)/h_min)` bits, so the cancellation in
//! `f(x + h) − f(x − h)` costs nothing: the function is evaluated at exact rational
//! points `x ± h·e_i`, and if the resulting enclosure is too wide for the target the
//! working precision is raised (Ziv-style) and the tableau recomputed.
//!
//! # What is a bound and what is an estimate
//!
//! Unlike the crate's oracles, a finite-difference result is **not** a rigorous
//! enclosure of the derivative. The reported error [`FdEstimate::error`] has two parts:
//!
//! - the **rounding** part, half the width of [`FdEstimate::enclosure`]: a rigorous
//!   bound on how far the computed Richardson combination is from the same combination
//!   of the exact values of `f` (when `f` returns rigorous enclosures);
//! - the **truncation** part, [`FdEstimate::truncation`]: the difference between
//!   neighbouring tableau entries. This is an *estimate* that assumes `f` is smooth
//!   (analytic) on `[x − h₀, x + h₀]`; it is usually pessimistic by orders of magnitude,
//!   but no theorem makes it a bound.
//!
//! # Kinks
//!
//! ψ is only C¹ at its branch points (ψ″ jumps), and similar kinks occur in any
//! piecewise function. When the stencil `[x − h, x + h]` straddles a kink at distance
//! `δ < h`, `D(h)` picks up an *odd* term `≈ J·h/4` (`J` the jump of f″) that the
//! tableau does not eliminate, so the entries stop agreeing and the truncation
//! estimate stays large (it reports the problem rather than hiding it). Three options
//! deal with it (see [`FdOptions`]):
//!
//! 1. **Step shrinking** (always on, `restarts`): when a tableau does not reach the
//!    target, it is recomputed from `h₀·2^(−shrink_bits)`, and so on. Since the
//!    working precision grows only by `log2(1/h)` bits, steps like `2^−200` are cheap,
//!    and once `h < δ` the stencil lies on one smooth piece and converges. Among all
//!    attempts the one with the smallest error estimate is reported.
//! 2. **One-sided stencils** ([`Stencil::Forward`], [`Stencil::Backward`]):
//!    `D₊(h) = (f(x + h) − f(x))/h = f′ + b₁h + b₂h² + …`, extrapolated with factors
//!    `2^j`. A stencil that points away from the kink never straddles it; at a point
//!    *on* the kink it gives the one-sided derivative exactly.
//! 3. **Kink check** (`kink_check`): both one-sided estimates are computed as well, and
//!    how far they disagree with the main estimate beyond the error estimates,
//!    [`FdEstimate::kink_spread`], is added to the error. This detects a jump of the derivative itself (a C⁰ kink such
//!    as `|x|` at 0), which central differences cannot see (`D(h)` of `|x|` at 0 is
//!    exactly 0 for every `h`).
//!
//! # Example
//!
//! ```
//! use asoftmax_spec::arith::Ival;
//! use asoftmax_spec::fd::{FdOptions, derivative};
//! use rug::Rational;
//! // f(x) = exp(x) as a rigorous enclosure at working precision wp.
//! let f = |x: &[Rational], wp: u32| Ok(Some(Ival::from_rational(&x[0], wp).exp()));
//! let d = derivative(f, &[Rational::from(1)], 0, &FdOptions::default()).unwrap();
//! assert!(d.converged);
//! assert_eq!(d.f64(), std::f64::consts::E);
//! ```

use crate::Error;
use crate::arith::Ival;
use crate::arith::interval::abs_diff_up;
use crate::arith::ziv::{self, MAX_WORKING_PREC};
use rug::float::Special;
use rug::{Float, Integer, Rational};
use std::fmt;

/// Which difference quotient the tableau is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stencil {
    /// `D(h) = (f(x + h) − f(x − h))/(2h)`, error series in `h², h⁴, …` (Richardson
    /// factors `4^j`). Needs `f` smooth on `[x − h, x + h]`.
    Central,
    /// `D₊(h) = (f(x + h) − f(x))/h`, error series in `h, h², …` (factors `2^j`).
    /// Needs `f` smooth on `[x, x + h]` only: the right derivative at a kink.
    Forward,
    /// `D₋(h) = (f(x) − f(x − h))/h`, error series in `h, h², …` (factors `2^j`).
    /// Needs `f` smooth on `[x − h, x]` only: the left derivative at a kink.
    Backward,
}

/// Options of the finite-difference estimator. [`Default`] gives 160 target bits
/// (about 48 digits), `h₀ = 2^−8`, 10 levels, 8 restarts shrinking by `2^−24`.
#[derive(Clone, Debug)]
pub struct FdOptions {
    /// Target accuracy in bits: the estimate is *converged* when its error is at most
    /// `2^−prec · max(|f′|, max|f|)` (the second term is an absolute floor, so that a
    /// derivative that vanishes can converge too). Checked like an oracle precision
    /// (16 to 2^18 bits).
    pub prec: u32,
    /// The initial step `h₀ > 0` (an exact rational; powers of two keep `x ± h` short).
    /// Choose it below the distance to the nearest singularity of `f` (in the complex
    /// plane) for the tableau to converge fast; restarts shrink it automatically.
    /// `f` must be defined on `[x − h₀, x + h₀]` (its errors are passed on): next to
    /// the edge of its domain use a smaller step or a one-sided [`Stencil`].
    pub step: Rational,
    /// The number of steps `h₀, h₀/2, …, h₀/2^(levels−1)` in one tableau (≥ 2).
    pub levels: usize,
    /// How many times a tableau that misses the target is recomputed from a smaller
    /// initial step (`h₀ ← h₀·2^−shrink_bits`).
    pub restarts: u32,
    /// The shrink factor of a restart, in bits.
    pub shrink_bits: u32,
    /// The difference quotient used.
    pub stencil: Stencil,
    /// Also compute both one-sided estimates and add their spread to the error
    /// (detects jumps of the derivative; costs about three times as much).
    pub kink_check: bool,
    /// Extra working-precision bits on top of `prec + log2(max(1, |x_i|)/h_min)`.
    pub guard_bits: u32,
}

impl Default for FdOptions {
    fn default() -> Self {
        FdOptions {
            prec: 160,
            step: Rational::from((1, 256)),
            levels: 10,
            restarts: 8,
            shrink_bits: 24,
            stencil: Stencil::Central,
            kink_check: false,
            guard_bits: 32,
        }
    }
}

/// A finite-difference estimate of one partial derivative `∂f/∂x_i`.
///
/// The derivative is estimated to lie within `value ± error()`; the rounding part
/// of that error is rigorous, the truncation part is an estimate (see the module docs).
#[derive(Clone, Debug)]
pub struct FdEstimate {
    /// The estimate: the midpoint of [`enclosure`](Self::enclosure).
    pub value: Float,
    /// A rigorous enclosure of the chosen Richardson combination
    /// `Σ c_k D(h_k)` of the *exact* difference quotients (when `f` is rigorous).
    pub enclosure: Ival,
    /// The estimated truncation error, `max(|T(i,j) − T(i,j−1)|, |T(i,j) − T(i−1,j−1)|)`
    /// of the chosen entry. An estimate, not a bound.
    pub truncation: Float,
    /// With [`FdOptions::kink_check`]: how far the one-sided estimates `D₊`, `D₋`
    /// disagree with this one *beyond* their own error estimates,
    /// `max(0, |D± − D| − err(D±) − err(D))` (included in [`error`](Self::error)). Zero for a
    /// function that is differentiable at `x`; about the jump of `f′` at a C⁰ kink.
    pub kink_spread: Option<Float>,
    /// The error target `2^−prec · max(|value|, max|f|)`.
    pub target: Float,
    /// `true` when [`error`](Self::error) `≤` [`target`](Self::target).
    pub converged: bool,
    /// The initial step `h₀` of the accepted tableau.
    pub step: Rational,
    /// The number of difference quotients in the accepted tableau.
    pub levels: usize,
    /// The total number of evaluations of `f` (all attempts).
    pub evaluations: usize,
    /// The working precision of the accepted tableau (bits).
    pub working_prec: u32,
}

impl FdEstimate {
    /// The reported error `truncation + width(enclosure)/2 (+ kink_spread)`:
    /// the derivative is estimated to lie in `value ± error()`.
    pub fn error(&self) -> Float {
        let p = self.value.prec().max(64);
        let half_width = Float::with_val(p, self.enclosure.width()) / 2u32;
        let mut e = Float::with_val(p, &self.truncation + &half_width);
        if let Some(s) = &self.kink_spread {
            e += s;
        }
        e
    }

    /// The estimate rounded to the nearest `f64`.
    pub fn f64(&self) -> f64 {
        crate::arith::round_f64(&self.value)
    }

    /// `true` when `v` lies within `value ± error()`.
    pub fn agrees_with(&self, v: &Float) -> bool {
        let d = Float::with_val(self.value.prec().max(v.prec()) + 1, v - &self.value);
        d.abs() <= self.error()
    }
}

impl fmt::Display for FdEstimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ± {}{}",
            sci(&self.value, 25),
            sci(&self.error(), 3),
            if self.converged {
                ""
            } else {
                " (not converged)"
            }
        )
    }
}

/// `x` in scientific notation with `digits` significant digits.
pub(crate) fn sci(x: &Float, digits: usize) -> String {
    if x.is_zero() {
        return "0".into();
    }
    x.to_string_radix(10, Some(digits))
}

/// `⌈log2 |r|⌉` for a nonzero rational.
fn log2_ceil(r: &Rational) -> i64 {
    let f = Float::with_val(64, r).abs();
    let l = Float::with_val(64, f.log2_ref());
    l.ceil().to_f64() as i64
}

/// A domain error of the FD options (or of a gradient check's arguments).
pub(crate) fn bad_option(arg: &'static str, value: String, expected: &'static str) -> Error {
    Error::Domain {
        arg,
        value,
        expected,
    }
}

fn check_options(at: &[Rational], index: usize, opts: &FdOptions) -> Result<(), Error> {
    ziv::check_prec(opts.prec)?;
    if index >= at.len() {
        return Err(bad_option(
            "index",
            index.to_string(),
            "an index into the parameter vector",
        ));
    }
    if opts.step <= 0 {
        return Err(bad_option(
            "step",
            crate::describe_rational(&opts.step),
            "a positive initial step",
        ));
    }
    if opts.levels < 2 || opts.levels > 64 {
        return Err(bad_option(
            "levels",
            opts.levels.to_string(),
            "2 to 64 tableau levels",
        ));
    }
    Ok(())
}

/// The evaluation context of one partial derivative: the function, the point,
/// the component, and counters.
struct Probe<'a, F> {
    f: &'a F,
    at: &'a [Rational],
    index: usize,
    evaluations: usize,
    /// An upper bound of `max |f|` over the points evaluated in the current attempt.
    fmag: Float,
}

impl<F> Probe<'_, F>
where
    F: Fn(&[Rational], u32) -> Result<Option<Ival>, Error>,
{
    /// `f(x + t·e_i)`, raising the working precision while `f` answers `None`.
    fn eval(&mut self, t: &Rational, wp: u32) -> Result<Ival, Error> {
        let mut x = self.at.to_vec();
        x[self.index] = Rational::from(&self.at[self.index] + t);
        let v = ziv::refine("finite difference", wp, |wp| {
            self.evaluations += 1;
            (self.f)(&x, wp)
        })?;
        let m = v.mag();
        if m > self.fmag {
            self.fmag = Float::with_val(64, &m);
            self.fmag.next_up();
        }
        Ok(v)
    }

    /// The difference quotient of `stencil` at step `h`; `f0 = f(x)` for one-sided stencils.
    fn quotient(
        &mut self,
        stencil: Stencil,
        h: &Rational,
        f0: Option<&Ival>,
        wp: u32,
    ) -> Result<Ival, Error> {
        let (num, den) = match stencil {
            Stencil::Central => {
                let fp = self.eval(h, wp)?;
                let fm = self.eval(&Rational::from(-h), wp)?;
                (fp.sub(&fm), Rational::from(h * 2u32))
            }
            Stencil::Forward => {
                let fp = self.eval(h, wp)?;
                (fp.sub(f0.expect("f(x) for one-sided")), h.clone())
            }
            Stencil::Backward => {
                let fm = self.eval(&Rational::from(-h), wp)?;
                (f0.expect("f(x) for one-sided").sub(&fm), h.clone())
            }
        };
        Ok(num
            .div(&Ival::from_rational(&den, wp))
            .expect("the step is positive"))
    }
}

/// The outcome of one Richardson tableau.
struct Tableau {
    best: Ival,
    truncation: Float,
    levels: usize,
}

/// `2^−prec · max(|v|, fmag)`.
fn target_of(prec: u32, v: &Float, fmag: &Float) -> Float {
    let a = Float::with_val(64, v.abs_ref());
    let m = if a > *fmag { a } else { fmag.clone() };
    m >> prec
}

/// One Ridders–Neville tableau from step `h0` at working precision `wp`.
fn tableau<F>(
    probe: &mut Probe<'_, F>,
    stencil: Stencil,
    h0: &Rational,
    wp: u32,
    opts: &FdOptions,
) -> Result<Tableau, Error>
where
    F: Fn(&[Rational], u32) -> Result<Option<Ival>, Error>,
{
    // Central differences have an error series in h², one-sided ones in h.
    let pow: u32 = if stencil == Stencil::Central { 2 } else { 1 };
    let f0 = match stencil {
        Stencil::Central => None,
        _ => Some(probe.eval(&Rational::new(), wp)?),
    };
    let mut h = h0.clone();
    let mut prev = vec![probe.quotient(stencil, &h, f0.as_ref(), wp)?];
    let mut best = prev[0].clone();
    let mut best_err = Float::with_val(64, Special::Infinity);
    let mut levels = 1;
    for i in 1..opts.levels {
        h >>= 1u32;
        let mut cur = vec![probe.quotient(stencil, &h, f0.as_ref(), wp)?];
        levels += 1;
        for j in 1..=i {
            let e = pow * j as u32;
            let fac1 = Integer::from(Integer::u_pow_u(2, e)) - 1u32;
            let t = cur[j - 1]
                .mul_pow2(e as i32)
                .sub(&prev[j - 1])
                .div(&Ival::from_integer(&fac1, wp))
                .expect("4^j − 1 > 0");
            let mt = t.mid();
            let a = abs_diff_up(&mt, &cur[j - 1].mid());
            let b = abs_diff_up(&mt, &prev[j - 1].mid());
            let err = if a > b { a } else { b };
            if err <= best_err {
                best_err = err;
                best = t.clone();
            }
            cur.push(t);
        }
        let diag_jump = abs_diff_up(&cur[i].mid(), &prev[i - 1].mid());
        prev = cur;
        if i >= 2 && best_err <= target_of(opts.prec, &best.mid(), &probe.fmag) {
            break;
        }
        // Ridders' divergence test; from the fourth level on, so that a too-large h₀
        // gets a chance to enter the asymptotic regime.
        if i >= 3 && diag_jump >= Float::with_val(64, &best_err * 2u32) {
            break;
        }
    }
    Ok(Tableau {
        best,
        truncation: best_err,
        levels,
    })
}

/// The estimate of one stencil, with restarts and working-precision refinement.
fn estimate<F>(
    f: &F,
    at: &[Rational],
    index: usize,
    stencil: Stencil,
    opts: &FdOptions,
) -> Result<FdEstimate, Error>
where
    F: Fn(&[Rational], u32) -> Result<Option<Ival>, Error>,
{
    let mut probe = Probe {
        f,
        at,
        index,
        evaluations: 0,
        fmag: Float::new(64),
    };
    let xbits = if at[index] == 0 {
        0
    } else {
        log2_ceil(&at[index]).max(0)
    };
    let mut best: Option<FdEstimate> = None;
    for r in 0..=opts.restarts {
        let h0 = Rational::from(&opts.step >> (opts.shrink_bits.saturating_mul(r)));
        // Bits lost to cancellation at the smallest step: log2(|x_i|/h_min).
        let hbits = (-log2_ceil(&h0)).max(0) + opts.levels as i64;
        let base = i64::from(opts.prec) + i64::from(opts.guard_bits) + hbits + xbits;
        let mut wp = base.clamp(64, i64::from(MAX_WORKING_PREC)) as u32;
        let mut refinements = 0;
        let cand = loop {
            probe.fmag = Float::new(64);
            let t = tableau(&mut probe, stencil, &h0, wp, opts)?;
            let value = t.best.mid();
            let target = target_of(opts.prec, &value, &probe.fmag);
            let rounding = Float::with_val(64, t.best.width()) / 2u32;
            // Raise the precision when rounding, not truncation, misses the target.
            let quarter = Float::with_val(64, &target >> 2u32);
            let rounding_matters = rounding > Float::with_val(64, &t.truncation >> 4u32);
            if rounding > quarter && rounding_matters && refinements < 4 && wp < MAX_WORKING_PREC {
                let deficit = if target.is_zero() {
                    64
                } else {
                    let ratio = Float::with_val(64, &rounding / &quarter);
                    Float::with_val(64, ratio.log2_ref()).ceil().to_f64() as u32 + 16
                };
                wp = wp.saturating_add(deficit).min(MAX_WORKING_PREC);
                refinements += 1;
                continue;
            }
            let mut e = FdEstimate {
                value,
                enclosure: t.best,
                truncation: t.truncation,
                kink_spread: None,
                target,
                converged: false,
                step: h0.clone(),
                levels: t.levels,
                evaluations: 0,
                working_prec: wp,
            };
            e.converged = e.error() <= e.target;
            break e;
        };
        let better = best.as_ref().is_none_or(|b| cand.error() < b.error());
        let done = cand.converged;
        if better || done {
            best = Some(cand);
        }
        if done {
            break;
        }
    }
    let mut best = best.expect("at least one attempt");
    best.evaluations = probe.evaluations;
    Ok(best)
}

/// Estimates `∂f/∂x_index` at the exact point `at` (see the module docs for the method).
///
/// `f(x, wp)` must return an enclosure of `f(x)` computed at working precision `wp`
/// (or `Ok(None)` when `wp` is too low to decide something, in which case it is
/// called again at a higher precision); errors of `f` (for instance a domain error
/// when `x ± h` leaves the domain of `f`) are passed on.
///
/// ```text
/// D(h) = (f(x + h e_i) − f(x − h e_i)) / 2h,   h = h₀ 2^−k,  Richardson in h², h⁴, …
/// ```
pub fn derivative<F>(
    f: F,
    at: &[Rational],
    index: usize,
    opts: &FdOptions,
) -> Result<FdEstimate, Error>
where
    F: Fn(&[Rational], u32) -> Result<Option<Ival>, Error>,
{
    check_options(at, index, opts)?;
    let mut main = estimate(&f, at, index, opts.stencil, opts)?;
    if opts.kink_check {
        let mut spread = Float::new(64);
        for s in [Stencil::Forward, Stencil::Backward] {
            if s == opts.stencil {
                continue;
            }
            let side = estimate(&f, at, index, s, opts)?;
            main.evaluations += side.evaluations;
            let d = abs_diff_up(&side.value, &main.value)
                - Float::with_val(64, side.error())
                - main.error();
            if d > spread {
                spread = d;
            }
        }
        main.kink_spread = Some(spread);
        main.converged = main.error() <= main.target;
    }
    Ok(main)
}

/// Estimates the gradient `(∂f/∂x_0, …, ∂f/∂x_{n−1})` at `at`, one [`derivative`] per
/// component.
pub fn gradient<F>(f: F, at: &[Rational], opts: &FdOptions) -> Result<Vec<FdEstimate>, Error>
where
    F: Fn(&[Rational], u32) -> Result<Option<Ival>, Error>,
{
    (0..at.len()).map(|i| derivative(&f, at, i, opts)).collect()
}

/// Adapts a plain (non-rigorous) MPFR function for [`derivative`] and [`gradient`].
///
/// `g` receives the point rounded to `wp`-bit floats and should compute at (about)
/// their precision. Its result `v` is *assumed* accurate to `wp − slack_bits` bits:
/// the enclosure handed to the estimator is `v ± |v|·2^(slack_bits − wp)`. Nothing
/// checks that assumption, so the rounding part of the error is only as good as it;
/// a non-finite result is a [`Error::Domain`] error.
///
/// ```
/// use asoftmax_spec::fd::{FdOptions, derivative, float_fn};
/// use rug::{Float, Rational};
/// let f = float_fn(8, |x: &[Float]| Float::with_val(x[0].prec(), x[0].sin_ref()));
/// let d = derivative(f, &[Rational::from(0)], 0, &FdOptions::default()).unwrap();
/// assert_eq!(d.f64(), 1.0);
/// ```
pub fn float_fn<G>(
    slack_bits: u32,
    g: G,
) -> impl Fn(&[Rational], u32) -> Result<Option<Ival>, Error>
where
    G: Fn(&[Float]) -> Float,
{
    move |x: &[Rational], wp: u32| {
        let xs: Vec<Float> = x.iter().map(|r| Float::with_val(wp, r)).collect();
        let v = g(&xs);
        if !v.is_finite() {
            return Err(Error::Domain {
                arg: "f",
                value: v.to_string(),
                expected: "a finite function value",
            });
        }
        let rel = wp.saturating_sub(slack_bits).max(2);
        let rad = Float::with_val(64, v.abs_ref()) >> rel;
        let v = Ival::point(v);
        Ok(Some(if rad.is_zero() { v } else { v.inflate(&rad) }))
    }
}
