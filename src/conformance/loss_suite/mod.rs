//! Judging batch loss kernels: generated batches, the oracle's values for them,
//! the metrics (loss against its logit scale, gradients normwise), and the
//! textbook loss that calibrates the tolerances.
//!
//! - **Loss value**: `|L − L*| / ulp(S)` with the logit scale
//!   `S = s · max_n ‖x_n‖ · max(1, 2m − 1) · (max_j ‖W_j‖ for L-Softmax)`: the loss is
//!   `logsumexp(f) − f_y`, which cancels when the target dominates, so its error is
//!   measured against the size of the logits it is computed from.
//! - **Gradients**: normwise, `max_i |g_i − g*_i| / ulp(G)` over the whole `N×d`
//!   (resp. `C×d`) matrix, with `G` the largest exact component or the size of the
//!   terms it is summed from, whichever is larger (see [`scales`]).
//!
//! Tolerances are `k · m² · d` units (see [`LossPolicy`]), calibrated on the
//! [`TextbookLoss`], which evaluates the formulas naively (but with a stable
//! log-sum-exp) in the format under test.

mod cosine;
mod cosine_score;
mod generators;
mod metrics;
mod policy;
mod report;
mod scheme;
mod textbook;

pub use cosine::{CosineAllowances, CosineBatch, CosineInput, CosineOutputs, cosine_allowances};
pub use cosine_score::{CosineExact, CosineOp, CosineOpScore, CosineScore, score_cosine};
pub use generators::{
    BatchCase, BatchParams, FeatureKind, loss_batches, loss_batches_in, random_batch,
};
pub use metrics::{
    Expected, expected, head_estimates, logit_scale, normwise_error, scales, softmax_balance,
    spec_of,
};
pub use policy::{LossOp, LossPolicy};
pub use report::{
    BatchScore, DEFAULT_SEED, LossReport, assert_loss, check_loss, check_loss_in, score_batch,
    score_loss,
};
pub use scheme::Scheme;
pub use textbook::{LossFlaw, TextbookLoss};
