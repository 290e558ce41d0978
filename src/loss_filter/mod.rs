//! The loss oracle at training sizes: a filter in `f64` double words with proven error
//! bounds in front of the exact oracle ([`crate::loss::loss`]).
//!
//! [`certify`] returns the A-Softmax loss and its gradients of a batch of floats, every
//! output correctly rounded to `f64` and `f32` — the same bits as the exact oracle, which
//! the tests check on adversarial batches. The matrix products run in double-word
//! arithmetic ([`crate::arith::dw`]: products exact by FMA, sums by TwoSum, an a-priori
//! bound per output); the `N` target logits, the reciprocal norms and the exponentials
//! are enclosed with MPFR; every output carries a proven bound, and an output is taken
//! only when its enclosure lies inside one rounding cell of both formats.
//!
//! An output the first tier cannot decide (next to a rounding midpoint, a strongly
//! cancelling sum) goes to the second tier **alone** ([`second_tier`]): double words
//! again over dot products accurate to about `4n³u³` of their magnitude, then MPFR balls
//! at 128 bits over the same products for what that leaves, recomputing only the samples
//! the output depends on. Besides its `f64` and `f32` bits, each output carries a
//! reference `f64 + lo` ([`Rounded::lo`]) to the accuracy [`certify_for`] asks of it.
//! What neither decides (an exact zero or midpoint that no enclosure can prove) is
//! taken from the exact oracle on the whole batch, when the batch is small enough
//! ([`EXACT_BUDGET`]); otherwise it is an [`Error::PrecisionCap`] naming the filter,
//! never a guess. [`Certified::undecided`]
//! counts the outputs the first tier left. Batches outside the filter's range
//! ([`filterable`]: L-Softmax, inputs beyond `2^±60`, a zero row) and [`Tier::Mpfr`] go to
//! the exact oracle directly. The bounds are derived in the book
//! ([`crate::derivations::filter`]).
//!
//! ```
//! use asoftmax_spec::loss::{Backward, Variant};
//! use asoftmax_spec::loss_filter::{FloatBatch, Tier, certify};
//! let b = FloatBatch {
//!     x: &[0.3, -0.5, 1.0, 1.0, 2.0, 0.25],
//!     w: &[1.0, 0.2, 0.0, -0.4, 0.9, 0.1, 0.0, 0.0, 1.0],
//!     y: &[0, 2],
//!     n: 2, classes: 3, dim: 3, m: 4, lambda: 0.0, scale: 1.0,
//!     variant: Variant::ASoftmax, backward: Backward::Full,
//! };
//! let fast = certify(&b, Tier::Filter).unwrap();
//! let exact = certify(&b, Tier::Mpfr).unwrap();
//! assert_eq!(fast.loss.f64.to_bits(), exact.loss.f64.to_bits());
//! assert!(fast.grad_w.iter().zip(&exact.grad_w).all(|(a, b)| a.f32.to_bits() == b.f32.to_bits()));
//! ```

mod encl;
mod first;
mod second;
mod softmax;

use crate::Error;
use crate::arith::dw::Dw;
use crate::arith::{Approx, Format, rational_from_f64};
use crate::loss::{Backward, LossSpec, Variant, loss};
use rug::{Float, Rational};

/// A batch of floats (`f32` or `f64` values, held as `f64`), row-major.
#[derive(Clone, Copy, Debug)]
pub struct FloatBatch<'a> {
    /// Features, `N × d`.
    pub x: &'a [f64],
    /// Class weights, `C × d`.
    pub w: &'a [f64],
    /// Labels, `N` entries below `C`.
    pub y: &'a [usize],
    /// Batch size `N`.
    pub n: usize,
    /// Classes `C`.
    pub classes: usize,
    /// Feature dimension `d`.
    pub dim: usize,
    /// Integer margin `m ≥ 1`.
    pub m: u32,
    /// Annealing weight `λ ≥ 0` of `φ(c) = (λc + ψ(c))/(1 + λ)`.
    pub lambda: f64,
    /// Logit scale `s > 0`.
    pub scale: f64,
    /// A-Softmax or L-Softmax logits.
    pub variant: Variant,
    /// Full gradient or detached margin.
    pub backward: Backward,
}

impl FloatBatch<'_> {
    /// The exact oracle's spec of the same batch (every float is an exact rational).
    pub fn spec(&self) -> Result<LossSpec, Error> {
        if self.x.len() != self.n * self.dim || self.w.len() != self.classes * self.dim {
            return Err(Error::Shape {
                what: format!(
                    "x has {} entries and w {}, expected N·d = {} and C·d = {}",
                    self.x.len(),
                    self.w.len(),
                    self.n * self.dim,
                    self.classes * self.dim
                ),
            });
        }
        let rows = |v: &[f64]| -> Result<Vec<Vec<Rational>>, Error> {
            v.chunks(self.dim.max(1))
                .map(|r| r.iter().map(|&t| rational_from_f64(t)).collect())
                .collect()
        };
        let mut spec = LossSpec::new(
            rows(self.x)?,
            rows(self.w)?,
            self.y.to_vec(),
            Rational::from(self.m),
        );
        spec.lambda = rational_from_f64(self.lambda)?;
        spec.scale = rational_from_f64(self.scale)?;
        spec.variant = self.variant;
        spec.backward = self.backward;
        Ok(spec)
    }
}

/// Which tier computes the outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tier {
    /// The double-word filter, the exact oracle for what it leaves undecided.
    Filter,
    /// The exact oracle for every output (to compare the tiers on any input).
    Mpfr,
}

/// One output, correctly rounded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rounded {
    /// The value rounded to `f64`.
    pub f64: f64,
    /// The value rounded to `f32`.
    pub f32: f32,
    /// The value minus `f64`: `f64 + lo` is within [`reference_rel`]`(dtype)·|value|` of
    /// the value (`2⁻⁷⁰` for the loss and for [`certify`]): a reference for measuring
    /// errors below an ulp, not itself correctly rounded.
    pub lo: f64,
}

/// The relative accuracy of [`Rounded::lo`]'s reference for `f64` outputs and for the
/// loss, `2⁻⁷⁰` (= [`reference_rel`]`(Format::F64)`).
pub const REFERENCE_REL: f64 = 1.0 / (1u128 << 70) as f64;

/// The relative accuracy of the reference `f64 + lo` of a gradient output judged in
/// `dtype`: `2^{−(p + 17)}` for a `p`-bit significand, so that an error measured in ulps
/// of `dtype` against the reference is within `2⁻¹⁷` ulp of the error against the value
/// (`2⁻⁷⁰` for `f64`, `2⁻⁴¹` for `f32`). The `f64` and `f32` roundings are decided
/// whatever the reference's accuracy; a tier takes an output only when its enclosure is
/// also this narrow.
pub fn reference_rel(dtype: Format) -> f64 {
    2f64.powi(-(dtype.precision() as i32 + 17))
}

/// The reference accuracy each output needs: [`REFERENCE_REL`] for the loss (one number,
/// written as a decimal), [`reference_rel`] of the case's format for the gradients.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reference {
    grad_rel: f64,
}

impl Reference {
    fn of(dtype: Format) -> Reference {
        Reference {
            grad_rel: reference_rel(dtype),
        }
    }

    /// The relative accuracy output `index` needs (`0`: the loss).
    pub(crate) fn rel(self, index: usize) -> f64 {
        match index {
            0 => REFERENCE_REL,
            _ => self.grad_rel,
        }
    }
}

impl Rounded {
    /// From the exact oracle's value (its enclosure's midpoint for `lo`).
    pub fn of_approx(a: &Approx) -> Rounded {
        let hi = a.f64();
        Rounded {
            f64: hi,
            f32: a.f32(),
            lo: low_part(&a.mid(), hi),
        }
    }

    fn of_dw(v: Dw, rel: f64) -> Option<Rounded> {
        if v.err > rel * v.hi.abs() * 0.5 {
            return None;
        }
        let f64 = v.round(Format::F64)?;
        let f32 = v.round(Format::F32)? as f32;
        let lo = (v.hi - f64) + v.lo;
        Some(Rounded { f64, f32, lo })
    }
}

/// `mid − hi` rounded to `f64` (0 when `hi` overflowed): the reference's trailing part
/// from a point of an enclosure and the value's `f64`.
fn low_part(mid: &Float, hi: f64) -> f64 {
    if !hi.is_finite() {
        return 0.0;
    }
    Float::with_val(mid.prec() + 64, mid - hi).to_f64()
}

/// The certified loss and gradients of a [`FloatBatch`].
#[derive(Clone, Debug)]
pub struct Certified {
    /// `L`.
    pub loss: Rounded,
    /// `∂L/∂X`, `N × d` row-major.
    pub grad_x: Vec<Rounded>,
    /// `∂L/∂W`, `C × d` row-major.
    pub grad_w: Vec<Rounded>,
    /// Outputs the first tier did not decide (refined by the second tier, and by the
    /// exact oracle if still undecided).
    pub undecided: usize,
    /// `true` when the exact oracle ran (for outputs neither tier decided, an
    /// unfilterable batch, or [`Tier::Mpfr`]).
    pub exact_tier: bool,
}

/// The loss and gradients of `b`, every output correctly rounded to `f64` and `f32`
/// (module docs). Errors are the exact oracle's ([`crate::loss`]), and
/// [`Error::PrecisionCap`] when an output is undecided by both tiers in a batch too large
/// for the exact oracle ([`EXACT_BUDGET`]).
pub fn certify(b: &FloatBatch, tier: Tier) -> Result<Certified, Error> {
    certify_for(b, tier, Format::F64)
}

/// [`certify`] for a batch judged in `dtype`: the same `f64` and `f32` outputs, with the
/// gradients' references [`Rounded::lo`] to [`reference_rel`]`(dtype)` (`2⁻⁴¹` for
/// `f32`: far fewer outputs need the second tier) and the loss's to [`REFERENCE_REL`].
pub fn certify_for(b: &FloatBatch, tier: Tier, dtype: Format) -> Result<Certified, Error> {
    let reference = Reference::of(dtype);
    let filtered = match tier {
        Tier::Filter => enclosures(b),
        Tier::Mpfr => None,
    };
    let Some(dws) = filtered else {
        // A filterable batch the first tier gave up on goes to the exact oracle only when
        // that is affordable (an unfilterable one always does: it has no other route).
        if tier == Tier::Filter && filterable(b) && too_big(b) {
            return Err(Error::PrecisionCap {
                op: "loss filter (the first tier cannot enclose this batch, too large for the exact oracle)",
                max: <encl::Ball as encl::Encl>::WP,
            });
        }
        return exact(b);
    };
    let mut rounded: Vec<Option<Rounded>> = (dws.into_iter().enumerate())
        .map(|(i, v)| Rounded::of_dw(v, reference.rel(i)))
        .collect();
    let open: Vec<usize> = (0..rounded.len())
        .filter(|&i| rounded[i].is_none())
        .collect();
    if open.is_empty() {
        let all = rounded.into_iter().map(|r| r.expect("decided")).collect();
        return Ok(assemble(b, all, 0, false));
    }
    if let Some(second) = second::refine(b, &open, reference) {
        for (&i, r) in open.iter().zip(second) {
            rounded[i] = r;
        }
    }
    let still = rounded.iter().filter(|r| r.is_none()).count();
    if still == 0 {
        let all = rounded.into_iter().map(|r| r.expect("decided")).collect();
        return Ok(assemble(b, all, open.len(), false));
    }
    if too_big(b) {
        return Err(Error::PrecisionCap {
            op: "loss filter (an output neither tier decides, batch too large for the exact oracle)",
            max: <encl::Ball as encl::Encl>::WP,
        });
    }
    let exact = exact(b)?;
    let from_exact = std::iter::once(exact.loss)
        .chain(exact.grad_x)
        .chain(exact.grad_w);
    let all = rounded
        .into_iter()
        .zip(from_exact)
        .map(|(r, e)| r.unwrap_or(e))
        .collect();
    Ok(assemble(b, all, open.len(), true))
}

/// The largest batch (`N·C·d`) the filter hands to the exact oracle when an output is
/// undecided by both tiers or the first tier cannot enclose a sample (the exact oracle
/// costs about 4 µs per multiply-add).
pub const EXACT_BUDGET: usize = 1 << 22;

fn too_big(b: &FloatBatch) -> bool {
    b.n.saturating_mul(b.classes).saturating_mul(b.dim) > EXACT_BUDGET
}

/// Outputs in order (the loss, `∂L/∂X`, `∂L/∂W`) as a [`Certified`].
fn assemble(b: &FloatBatch, mut all: Vec<Rounded>, undecided: usize, exact: bool) -> Certified {
    let grad_w = all.split_off(1 + b.n * b.dim);
    let grad_x = all.split_off(1);
    Certified {
        loss: all[0],
        grad_x,
        grad_w,
        undecided,
        exact_tier: exact,
    }
}

/// The exact oracle on the whole batch.
fn exact(b: &FloatBatch) -> Result<Certified, Error> {
    let out = loss(&b.spec()?, true, 96)?;
    let flat = |g: Option<Vec<Vec<Approx>>>| -> Vec<Rounded> {
        g.into_iter()
            .flatten()
            .flatten()
            .map(|a| Rounded::of_approx(&a))
            .collect()
    };
    Ok(Certified {
        loss: Rounded::of_approx(&out.loss),
        grad_x: flat(out.grad_x),
        grad_w: flat(out.grad_w),
        undecided: 0,
        exact_tier: true,
    })
}

/// `true` when the filter applies: A-Softmax, sizes consistent and nonzero, labels in
/// range, every input, `λ` and `s` zero or of magnitude in `[2⁻⁶⁰, 2⁶⁰]`, `s ≤ 2²⁰`
/// (so that no product underflows or overflows where a bound assumes it does not), and
/// no zero row of `X` or `W` (the exact oracle's degenerate cases).
pub fn filterable(b: &FloatBatch) -> bool {
    let in_range = |v: f64| v == 0.0 || (v.abs() >= 2f64.powi(-60) && v.abs() <= 2f64.powi(60));
    let zero_row = |v: &[f64]| v.chunks(b.dim.max(1)).any(|r| r.iter().all(|&t| t == 0.0));
    b.variant == Variant::ASoftmax
        && b.n > 0
        && b.classes > 0
        && b.dim > 0
        && b.x.len() == b.n * b.dim
        && b.w.len() == b.classes * b.dim
        && b.y.len() == b.n
        && b.y.iter().all(|&l| l < b.classes)
        && b.m >= 1
        && b.m <= 64
        && b.lambda >= 0.0
        && b.scale > 0.0
        && b.scale <= 2f64.powi(20)
        && [b.lambda, b.scale]
            .iter()
            .chain(b.x)
            .chain(b.w)
            .all(|&v| in_range(v))
        && !zero_row(b.x)
        && !zero_row(b.w)
}

/// The second tier on the outputs at `indices` (`0`: the loss, then `∂L/∂X` and `∂L/∂W`
/// row-major), each rounded when its enclosure decides it; `None` when the batch is not
/// [`filterable`] or a needed sample cannot be enclosed. [`certify`] runs it on what the
/// first tier leaves; on its own it compares the tiers on any output.
pub fn second_tier(b: &FloatBatch, indices: &[usize]) -> Option<Vec<Option<Rounded>>> {
    if !filterable(b) || indices.iter().any(|&i| i > (b.n + b.classes) * b.dim) {
        return None;
    }
    second::refine(b, indices, Reference::of(Format::F64))
}

/// The first tier's enclosures of every output (the loss, `∂L/∂X`, `∂L/∂W`), each a
/// double word whose bound is proven; `None` when the batch is not [`filterable`] or the
/// filter gives up on it (an exponential's input too uncertain, a cosine enclosure
/// outside `[−1, 1]`).
pub fn enclosures(b: &FloatBatch) -> Option<Vec<Dw>> {
    if !filterable(b) {
        return None;
    }
    first::outputs(b)
}
