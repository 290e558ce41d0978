//! Judging a head of the margin family: a float implementation of a head's target and
//! non-target logits ([`HeadKernel`]) against the oracle of the head's definition
//! ([`crate::head::family`]), and a batch loss kernel with a head against the loss oracle
//! ([`check_head_loss`]), with the same pieces as the scalar and loss suites:
//!
//! - [`head_cases`]: seeded inputs at the head's hard places — `c = ±1`, `0`, `±½` and
//!   their neighbours, the fallback boundary `m1·θ + m2 = π`, SphereFace's branch
//!   thresholds `cos(kπ/m)`, CurricularFace's hard-example boundary `c = cos(θ_y + m)`,
//!   AdaFace's angle clamp `θ − m·ŝ ∈ {0, π}` — then sweeps and random points;
//!   [`head_states`] gives each head's published parameters and the states at its bounds
//!   (AdaFace's norm clip `[0.001, 100]` and `ŝ = ±1`, MagFace's `l_a`/`u_a`);
//! - [`HeadPolicy`]: the tolerance per head, with its reason, and the jump allowance at
//!   discontinuities whose place a float implementation must round;
//! - [`check_head`] / [`assert_head`] / [`head_suite!`](crate::head_suite): the report,
//!   the assertion and the one-line test for a downstream crate;
//! - [`head_batches`] / [`check_head_loss`] / [`assert_head_loss`] /
//!   [`head_loss_suite!`](crate::head_loss_suite): head batches for the heads with a loss
//!   oracle ([`loss_head`], by [`Kind`](crate::head::Kind)), scored by the loss suite;
//! - [`cosine_batches`] / [`check_cosine_loss`] / [`assert_cosine_loss`] /
//!   [`cosine_loss_suite!`](crate::cosine_loss_suite): a loss kernel on cosines
//!   ([`CosineLossKernel`]) for the heads that take cosines ([`takes_cosines`]), on the
//!   batches `vectors --op loss --head K` writes, scored as `check` scores them.

mod cosine;
mod cosine_loss;
mod generators;
mod loss;
mod policy;
mod report;

pub use cosine::{
    CosineLossBatch, CosineOptions, MAGFACE_LAMBDA_G, SPHEREFACE2_BIAS, cosine_batch,
    cosine_batches, off_jumps, sphereface2_params, takes_cosines,
};
pub use cosine_loss::{
    CosineLossKernel, CosineLossOutput, CosineLossReport, assert_cosine_loss, check_cosine_loss,
};
pub use generators::{HeadCase, Jump, head_cases, head_states, jumps};
pub use loss::{assert_head_loss, check_head_loss, head_batches, loss_head};
pub use policy::{HeadBound, HeadPolicy};
pub use report::{HeadReport, HeadSample, assert_head, check_head, oracle_value};

use super::kernel::FloatFormat;
use crate::head::family::Head;
use std::fmt;

/// The two logits a head kernel computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeadOp {
    /// The target logit `t(c)`.
    Target,
    /// A non-target logit `n(c)` (given the sample's target cosine `c_y`).
    NonTarget,
}

impl HeadOp {
    /// Both ops, in report order.
    pub const ALL: [HeadOp; 2] = [HeadOp::Target, HeadOp::NonTarget];

    /// `"target"`, `"non_target"`.
    pub const fn name(self) -> &'static str {
        match self {
            HeadOp::Target => "target",
            HeadOp::NonTarget => "non_target",
        }
    }

    /// The value of this op that `kernel` computes at `(c, c_y)`.
    pub fn eval<T: FloatFormat, K: HeadKernel<T> + ?Sized>(self, kernel: &K, c: T, c_y: T) -> T {
        match self {
            HeadOp::Target => kernel.target(c),
            HeadOp::NonTarget => kernel.nontarget(c, c_y),
        }
    }
}

impl fmt::Display for HeadOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A float implementation of one head (with its parameters and state), in format `T`:
/// the target logit `t(c)` and a non-target logit `n(c)` divided by the scale, judged
/// against [`crate::head::family::target_logit`] and
/// [`crate::head::family::nontarget_logit`] of [`HeadKernel::head`].
pub trait HeadKernel<T: FloatFormat> {
    /// A short name for reports.
    fn name(&self) -> String;
    /// The head (parameters and state) this kernel claims to compute.
    fn head(&self) -> Head;
    /// The target logit at the target cosine `c`.
    fn target(&self, c: T) -> T;
    /// A non-target logit at the cosine `c` in a sample whose target cosine is `c_y`.
    fn nontarget(&self, c: T, c_y: T) -> T;
}

/// A [`HeadKernel`] made of two closures, for implementations that are plain functions.
pub struct HeadFns<T, A, B> {
    /// Name shown in reports.
    pub name: &'static str,
    /// The head the closures compute.
    pub head: Head,
    /// `t(c)`.
    pub target: A,
    /// `n(c, c_y)`.
    pub nontarget: B,
    #[doc(hidden)]
    pub _t: std::marker::PhantomData<T>,
}

impl<T, A, B> HeadKernel<T> for HeadFns<T, A, B>
where
    T: FloatFormat,
    A: Fn(T) -> T,
    B: Fn(T, T) -> T,
{
    fn name(&self) -> String {
        self.name.to_string()
    }
    fn head(&self) -> Head {
        self.head.clone()
    }
    fn target(&self, c: T) -> T {
        (self.target)(c)
    }
    fn nontarget(&self, c: T, c_y: T) -> T {
        (self.nontarget)(c, c_y)
    }
}
