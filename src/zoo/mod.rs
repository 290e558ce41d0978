//! The published-formula zoo: faithful `f32`/`f64` ports of how published A-Softmax
//! implementations compute `cos(mθ)`, ψ and `dψ/dc`, as
//! [`ScalarKernel`]s to be judged against the oracle.
//!
//! Each port is written once, generic over [`ZooFloat`] (`f32`, `f64`), from the
//! implementation's own formula — flaws included. Where the implementation has no
//! hand-written `dψ/dc`, the kernel returns what that implementation's autograd
//! computes (detached branch index, `clamp` masks, `acos′ = −(1 − c²)^(−1/2)`), NaN and
//! all.
//!
//! | kernel | name | source | formula |
//! | --- | --- | --- | --- |
//! | [`Binomial`] | `binomial+acos-k` | L-Softmax Eq. 7 / pytorch-metric-learning `LargeMarginSoftmaxLoss` | `Σ (−1)^n C(m,2n) c^(m−2n)(1−c²)^n`, `k = ⌊acos(clamp(c,−1,1))/(π/m)⌋` |
//! | [`AcosClamp`] | `acos-clamp-1e-5`, `acos-clamp-1e-7` | opensphere `sphereface.py` (`v0`) | `θ = acos(clamp(c, ±(1−ε)))`, `k = ⌊mθ/π⌋`, `(−1)^k cos(mθ) − 2k` |
//! | [`OriginalCaffe`] | `caffe-sign-trick` | wy1iu/sphereface `MarginInnerProductLayer` | sign trick, `m ∈ {1,2,3,4}` |
//! | [`HardCodedT`] | `hardcoded-T-truncated-pi` | clcarwin/sphereface_pytorch `AngleLinear` | `T_0..T_5` table, `k = ⌊mθ/3.14159265⌋` |
//! | [`TaylorCos`] | `taylor-cos-x9` | clcarwin/sphereface_pytorch `myphi` | `clamp(1 − x²/2! + … + x⁸/8! − x⁹/9!, −m, 1)`, `x = m·acos c` |
//!
//! [`heads`] holds the margin family's published formulas (opensphere, insightface,
//! pytorch-metric-learning: target and non-target logits with their clamps), judged
//! against [`crate::head::family`] by the audit's head table.
//!
//! [`caffe_backward`] is the original layer's batch-level backward (normalized
//! x-gradient coefficients, margin-blind W gradient).
//!
//! Measured flaws (x86-64, glibc libm; the deterministic tests in `tests/zoo.rs` pin
//! them; "u23" = units of 2⁻²³ absolute):
//!
//! - **acos-clamp**: ψ is frozen on the ε-bands at `c = ±1`: off by 1344 u23 at `m = 4`
//!   with `ε = 1e−5` (16 u23 with `1e−7`), ≈ `m²ε` in general; `dψ/dc = 0` on the bands
//!   (exact `±m²` at the ends).
//! - **binomial** and **hardcoded-T**: `k = m` at `c = −1` (one past the last branch),
//!   so `dψ/dc(−1) = −m²` instead of `+m²`; ψ itself stays exact there.
//!   In `f32` they also take `k` one too high for every `0 < c < 1.59e−8` (`acosf`
//!   returns fl(π/2) = 2·fl(π/4) there): `dψ/dc` of the wrong sign at even `m`, about
//!   8.5·10⁸ `f32` inputs at `m = 4` (found by the exhaustive tier).
//! - **hardcoded-T**: in `f64` the truncated π puts `k` one too high on a window just
//!   above each threshold (`c − cos(jπ/m)` up to 6.3e−10 … 2.1e−9): ψ unaffected
//!   (≤ 2 ulp), `dψ/dc` of the wrong sign (off by up to 4e−8 … 2.4e−7). In `f32` the
//!   literal rounds to `fl32(π)` and the flaw disappears.
//! - **taylor**: not ψ beyond small θ (error 2.9e−7 for `mθ ≤ π/4`, 1.4e−4 for
//!   `mθ ≤ π/2`, 5.8e−2 at `mθ = π`, `m − 1` at `c = −1`), and `dψ/dc` is NaN at
//!   `c = ±1` for every `m`.
//! - **caffe**: exact at every tie and at `c = ±1`; ≤ 2.002 u23 near the thresholds
//!   (`m ≤ 4`). Its backward is not the gradient: relative x-gradient error 0.79
//!   (`m = 4`, `λ = 0`), 0.47 (`λ = 5`), 4.8e−3 (`λ = 1000`); W-gradient error 0.6 – 0.8.
//!
//! Away from those points every port except the Taylor one agrees with the oracle to
//! rounding level, growing with `m`: ψ within ≈ 3–7 u23 at `m = 4` and ≈ 100 u23 at
//! `m = 16` (binomial) in `f32`, ≈ 3–75 units of 2⁻⁵² in `f64`.

mod acos_clamp;
mod binomial;
mod caffe;
pub mod float;
pub mod heads;
mod sphereface_pytorch;

pub use acos_clamp::AcosClamp;
pub use binomial::Binomial;
pub use caffe::{CaffeBackward, CaffeLayer, OriginalCaffe, caffe_backward};
pub use float::ZooFloat;
pub use sphereface_pytorch::{HardCodedT, TRUNCATED_PI, TaylorCos};

use crate::conformance::ScalarKernel;

/// Every scalar variant of the zoo, boxed, in a fixed order (one body per variant,
/// instantiated at `T`).
pub fn all<T: ZooFloat>() -> Vec<Box<dyn ScalarKernel<T>>> {
    vec![
        Box::new(Binomial),
        Box::new(AcosClamp::OPENSPHERE),
        Box::new(AcosClamp::TIGHT),
        Box::new(OriginalCaffe),
        Box::new(HardCodedT),
        Box::new(TaylorCos),
    ]
}

/// Every scalar variant in `f32`: `binomial+acos-k`, `acos-clamp-1e-5`,
/// `acos-clamp-1e-7`, `caffe-sign-trick`, `hardcoded-T-truncated-pi`, `taylor-cos-x9`.
pub fn all_f32() -> Vec<Box<dyn ScalarKernel<f32>>> {
    all::<f32>()
}

/// Every scalar variant in `f64` (same list and order as [`all_f32`]).
pub fn all_f64() -> Vec<Box<dyn ScalarKernel<f64>>> {
    all::<f64>()
}
