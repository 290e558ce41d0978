//! The implementation-under-test interface: what a fast A-Softmax kernel must
//! provide to be judged against the oracle, in `f32` or `f64`.

use crate::arith::{Bf16, F16, Format};

/// A binary floating-point type a kernel computes in: `f32`, `f64`, or the 16-bit
/// [`F16`] and [`Bf16`] (convert from `half::f16`/`half::bf16` through their bits:
/// `F16::from_bits(h.to_bits())`).
pub trait FloatFormat:
    Copy + PartialEq + PartialOrd + std::fmt::Debug + std::fmt::Display + Send + Sync + 'static
{
    /// The IEEE format of the type.
    const FORMAT: Format;
    /// Widens exactly to `f64`.
    fn to_f64(self) -> f64;
    /// Rounds an `f64` to this type (nearest, ties to even).
    fn from_f64(v: f64) -> Self;
    /// The raw bits, widened (for hex/bit dumps in failure reports).
    fn bits(self) -> u64;
}

impl FloatFormat for f32 {
    const FORMAT: Format = Format::F32;
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl FloatFormat for f64 {
    const FORMAT: Format = Format::F64;
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> Self {
        v
    }
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

macro_rules! narrow_float_format {
    ($t:ident) => {
        impl FloatFormat for $t {
            const FORMAT: Format = $t::FORMAT;
            fn to_f64(self) -> f64 {
                $t::to_f64(self)
            }
            fn from_f64(v: f64) -> Self {
                $t::from_f64(v)
            }
            fn bits(self) -> u64 {
                u64::from(self.to_bits())
            }
        }

        impl KernelFloat for $t {
            const PI: $t = $t::PI;
            fn div(self, o: Self) -> Self {
                self / o
            }
            narrow_float_format!(@f32 $t: acos cos sin sqrt exp ln floor abs);
            fn powf(self, e: Self) -> Self {
                self.zip(e, f32::powf)
            }
            fn clamp_unit(self) -> Self {
                self.map(|v| v.clamp(-1.0, 1.0))
            }
            fn is_nan(self) -> bool {
                self.to_f32().is_nan()
            }
            fn is_non_finite(self) -> bool {
                !self.to_f32().is_finite()
            }
        }
    };
    // The one-argument functions: `f32`'s, rounded to the format.
    (@f32 $t:ident: $($f:ident)*) => {
        $(
            fn $f(self) -> Self {
                self.map(f32::$f)
            }
        )*
    };
}
narrow_float_format!(F16);
narrow_float_format!(Bf16);

/// A [`FloatFormat`] with the libm functions the crate's own reference kernels call: the
/// textbook implementations ([`Textbook`](super::Textbook),
/// [`TextbookLoss`](super::TextbookLoss)) and the zoo's ports of published formulas
/// ([`crate::zoo`], which adds the arithmetic operators as `ZooFloat`).
///
/// Arithmetic goes through [`Scalar`](crate::arith::Scalar) (`a.add(&b)`, …) or the
/// operators; the transcendental functions are the platform libm's (`acosf`/`acos`, …;
/// for [`F16`] and [`Bf16`] `acosf` rounded to the format, as PyTorch's CPU half kernels do),
/// so a port may differ from a framework that uses its own vector math (PyTorch's CPU
/// kernels use SLEEF for `acos`/`cos`/`pow`) by an ulp in those primitives.
pub trait KernelFloat: FloatFormat + crate::arith::Scalar {
    /// π rounded to this type.
    const PI: Self;
    /// A double-precision constant rounded to this type (nearest, ties to even).
    fn lit(v: f64) -> Self {
        Self::from_f64(v)
    }
    /// A small integer, exactly.
    fn int(n: i64) -> Self {
        Self::from_f64(n as f64)
    }
    /// `self / o`.
    fn div(self, o: Self) -> Self;
    /// `acos`, NaN outside `[−1, 1]`.
    fn acos(self) -> Self;
    /// `cos`.
    fn cos(self) -> Self;
    /// `sin`.
    fn sin(self) -> Self;
    /// `√x`, NaN for `x < 0`.
    fn sqrt(self) -> Self;
    /// `eˣ`.
    fn exp(self) -> Self;
    /// `ln x`.
    fn ln(self) -> Self;
    /// `⌊x⌋`.
    fn floor(self) -> Self;
    /// `|x|`.
    fn abs(self) -> Self;
    /// libm `pow(x, e)` (`powf` for `f32`).
    fn powf(self, e: Self) -> Self;
    /// `self` clamped to [−1, 1] (a float cosine can exceed 1 by an ulp); NaN stays NaN.
    fn clamp_unit(self) -> Self;
    /// `true` for NaN.
    fn is_nan(self) -> bool;
    /// `true` for ±∞ and NaN.
    fn is_non_finite(self) -> bool;
}

macro_rules! kernel_float {
    ($t:ident) => {
        impl KernelFloat for $t {
            const PI: $t = std::$t::consts::PI;
            fn div(self, o: Self) -> Self {
                self / o
            }
            kernel_float!(@libm $t: acos cos sin sqrt exp ln floor abs);
            fn powf(self, e: Self) -> Self {
                $t::powf(self, e)
            }
            fn clamp_unit(self) -> Self {
                self.clamp(-1.0, 1.0)
            }
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
            fn is_non_finite(self) -> bool {
                !$t::is_finite(self)
            }
        }
    };
    // The one-argument functions, each the type's own method of the same name.
    (@libm $t:ident: $($f:ident)*) => {
        $(
            fn $f(self) -> Self {
                $t::$f(self)
            }
        )*
    };
}
kernel_float!(f32);
kernel_float!(f64);

/// The scalar ops of an A-Softmax kernel for integer margins `m`, evaluated at
/// `c = cos θ ∈ [−1, 1]` in the format `T`:
/// `cos_m(m, c) = T_m(c)`, `psi(m, c) = (−1)^k T_m(c) − 2k`, `dpsi_dcos(m, c) = (−1)^k m U_{m−1}(c)`.
///
/// Closures can be used too: see [`ScalarFns`].
pub trait ScalarKernel<T: FloatFormat> {
    /// A short name for reports.
    fn name(&self) -> String;
    /// `cos(mθ) = T_m(c)`.
    fn cos_m(&self, m: u32, c: T) -> T;
    /// `ψ(c)`.
    fn psi(&self, m: u32, c: T) -> T;
    /// `dψ/dc`.
    fn dpsi_dcos(&self, m: u32, c: T) -> T;
    /// The margins this kernel supports (the suite tests only these); default all `m ≤ 16`.
    fn supports(&self, m: u32) -> bool {
        (1..=16).contains(&m)
    }
}

impl super::policy::ScalarOp {
    /// The value of this op that `kernel` computes at `(m, c)`.
    pub fn eval<T: FloatFormat, K: ScalarKernel<T> + ?Sized>(self, kernel: &K, m: u32, c: T) -> T {
        match self {
            Self::CosM => kernel.cos_m(m, c),
            Self::Psi => kernel.psi(m, c),
            Self::DpsiDcos => kernel.dpsi_dcos(m, c),
        }
    }
}

/// A [`ScalarKernel`] made of three closures, for implementations that are plain functions.
pub struct ScalarFns<T, A, B, C> {
    /// Name shown in reports.
    pub name: &'static str,
    /// `T_m(c)`.
    pub cos_m: A,
    /// `ψ(c)`.
    pub psi: B,
    /// `dψ/dc`.
    pub dpsi_dcos: C,
    /// Margins covered.
    pub m_range: std::ops::RangeInclusive<u32>,
    #[doc(hidden)]
    pub _t: std::marker::PhantomData<T>,
}

impl<T, A, B, C> ScalarKernel<T> for ScalarFns<T, A, B, C>
where
    T: FloatFormat,
    A: Fn(u32, T) -> T,
    B: Fn(u32, T) -> T,
    C: Fn(u32, T) -> T,
{
    fn name(&self) -> String {
        self.name.to_string()
    }
    fn cos_m(&self, m: u32, c: T) -> T {
        (self.cos_m)(m, c)
    }
    fn psi(&self, m: u32, c: T) -> T {
        (self.psi)(m, c)
    }
    fn dpsi_dcos(&self, m: u32, c: T) -> T {
        (self.dpsi_dcos)(m, c)
    }
    fn supports(&self, m: u32) -> bool {
        self.m_range.contains(&m)
    }
}
/// The loss variants and backward semantics, shared with the oracle.
pub use crate::loss::{Backward, Variant};

/// One batch for a loss kernel, row-major: `x` is N×d, `w` is C×d.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch<T> {
    /// Features, N rows of d.
    pub x: Vec<T>,
    /// Class weights, C rows of d.
    pub w: Vec<T>,
    /// Labels, N entries in `0..C`.
    pub y: Vec<usize>,
    /// Batch size N.
    pub n: usize,
    /// Number of classes C.
    pub classes: usize,
    /// Feature dimension d.
    pub dim: usize,
    /// Integer margin m.
    pub m: u32,
    /// Annealing weight λ ≥ 0.
    pub lambda: T,
    /// Logit scale s > 0.
    pub scale: T,
    /// A-Softmax (normalized W) or L-Softmax.
    pub variant: Variant,
    /// Which gradient the backward computes.
    pub backward: Backward,
    /// A head of the margin family ([`crate::loss::Head`]): cosine logits with the
    /// head's target logit in place of `m` (then 1), `variant` and `backward`.
    pub head: Option<crate::loss::Head>,
}

impl<T: FloatFormat> Batch<T> {
    /// The loss filter's view of the batch ([`crate::loss_filter::FloatBatch`], its floats
    /// widened to `f64`) passed to `f`; `None` for a head batch, whose cosine logits the
    /// filter does not compute.
    pub fn with_floats<R>(
        &self,
        f: impl FnOnce(&crate::loss_filter::FloatBatch) -> R,
    ) -> Option<R> {
        if self.head.is_some() {
            return None;
        }
        let widen = |v: &[T]| v.iter().map(|t| t.to_f64()).collect::<Vec<f64>>();
        let (x, w) = (widen(&self.x), widen(&self.w));
        Some(f(&crate::loss_filter::FloatBatch {
            x: &x,
            w: &w,
            y: &self.y,
            n: self.n,
            classes: self.classes,
            dim: self.dim,
            m: self.m,
            lambda: self.lambda.to_f64(),
            scale: self.scale.to_f64(),
            variant: self.variant,
            backward: self.backward,
        }))
    }
}

impl<T> Batch<T> {
    /// `Ok` when the flat arrays fit the sizes: `x` has `n·dim` entries and `w` has
    /// `classes·dim`; otherwise [`Error::Shape`](crate::Error::Shape) saying which does
    /// not (the labels and the rest are validated by the oracle,
    /// [`crate::loss::loss`]).
    pub fn check_shape(&self) -> Result<(), crate::Error> {
        let fits = |name: &str, len: usize, rows: usize, rows_name: &str| {
            if Some(len) == rows.checked_mul(self.dim) {
                Ok(())
            } else {
                Err(crate::Error::Shape {
                    what: format!(
                        "batch {name} has {len} entries, expected {rows_name}·dim = {rows}·{}",
                        self.dim
                    ),
                })
            }
        };
        fits("x", self.x.len(), self.n, "n")?;
        fits("w", self.w.len(), self.classes, "classes")
    }
}

/// What a loss kernel returns: the mean loss and, when asked, its gradients
/// (row-major, same shapes as `x` and `w`).
#[derive(Clone, Debug, PartialEq)]
pub struct LossGrad<T> {
    /// Mean loss over the batch.
    pub loss: T,
    /// ∂loss/∂X, N×d (empty when gradients were not requested).
    pub grad_x: Vec<T>,
    /// ∂loss/∂W, C×d (empty when gradients were not requested).
    pub grad_w: Vec<T>,
}

/// A batch loss kernel (forward and backward).
pub trait LossKernel<T: FloatFormat> {
    /// A short name for reports.
    fn name(&self) -> String;
    /// The mean loss and, with `grad`, its gradients.
    fn loss(&self, batch: &Batch<T>, grad: bool) -> LossGrad<T>;
    /// Whether the kernel implements this margin, variant and backward semantics
    /// (the suite skips the others); default: all.
    fn supports(&self, m: u32, variant: Variant, backward: Backward) -> bool {
        let _ = (m, variant, backward);
        true
    }
}
