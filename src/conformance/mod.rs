//! The conformance toolkit: judge a fast implementation against the oracle.
//!
//! - [`gradcheck`]: a user's backward against finite differences of the oracle's loss;
//! - [`head_suite`]: a head of the margin family (target and non-target logits, and a
//!   loss kernel on head batches) against the oracle, with the [`head_suite!`](crate::head_suite) macro;
//! - [`kernel`]: the implementation-under-test interface ([`ScalarKernel`], closures via [`ScalarFns`]);
//! - [`loss_suite`]: batches, oracle values, metrics and tolerances for loss kernels;
//! - [`metrics`]: ulp error and scaled error against exact values;
//! - [`policy`]: the per-op, per-format tolerance table with the reason for each entry;
//! - [`exhaustive`]: every `f32` input of the scalar ops against certified values, by shards;
//! - [`generators`]: seeded edge cases, sweeps and random inputs;
//! - [`scalar_suite`]: the scalar ops' reports and assertions, and the
//!   [`scalar_suite!`](crate::scalar_suite) macro (the loss side's is [`loss_suite`]);
//! - `strategies` (feature `proptest`): proptest strategies for the same inputs;
//! - [`textbook`]: the plain recurrence implementation that calibrates the policy.

pub mod exhaustive;
pub mod generators;
pub mod gradcheck;
pub mod head_suite;
pub mod kernel;
pub mod loss_suite;
pub mod metrics;
pub mod policy;
pub mod scalar_suite;
#[cfg(feature = "proptest")]
pub mod strategies;
pub mod textbook;

pub use generators::GenConfig;
pub use kernel::{Batch, FloatFormat, LossGrad, LossKernel, ScalarFns, ScalarKernel};
pub use loss_suite::{LossFlaw, LossPolicy, LossReport, Scheme, TextbookLoss, check_loss};
pub use policy::{Bound, Policy, ScalarOp};
pub use scalar_suite::{OpReport, assert_scalar, check_scalar};
pub use textbook::Textbook;
