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

use super::kernel::{Backward, Batch, FloatFormat, LossKernel};
use super::loss_suite::spec_of;
use crate::Error;
use crate::fd::{FdOptions, GradCheck, Tolerance, check_gradient};
use crate::loss::loss_enclosure;
use rug::Rational;

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
