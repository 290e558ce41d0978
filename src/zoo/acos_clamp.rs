//! The θ-form through `acos` of a clamped cosine, as in opensphere's SphereFace head.

use super::float::{ZooFloat, torch_acos_grad, torch_clamp, torch_clamp_passes};
use crate::conformance::ScalarKernel;

/// opensphere-style ψ (`model/head/sphereface.py`, `magn_type = 'v0'`; also
/// CosPlace's `SphereFace`): the cosine is clamped away from ±1 before `acos`,
///
/// ```text
/// θ = acos(clamp(c, −1 + ε, 1 − ε)),   k = ⌊mθ/π⌋,
/// ψ = (−1)^k cos(mθ) − 2k              ((−1)^k as −2·remainder(k, 2) + 1)
/// ```
///
/// with `ε = 1e−5` in opensphere (and `1e−7` in several ports). The bounds `±(1 − ε)`
/// and `π` are rounded to the tensor dtype: in `f32`, `1 − 1e−5` is
/// `0.99998998…` and `1 − 1e−7` is `1 − 2⁻²³ = 0.99999988…`. opensphere uses real
/// margins (`m = 1.7`); here `m` is an integer `≤ 16`.
///
/// Because of the clamp, ψ is constant on `[1 − ε, 1]` and on `[−1, −1 + ε]`, where
/// the exact ψ moves by `≈ m²ε` (`≈ 1.6e−4` at `m = 4`, `ε = 1e−5`).
///
/// `dψ/dc` is autograd of that expression with `k` detached:
/// `(−1)^k · m sin(mθ) / √(1 − c_cl²)` where the clamp passes the gradient
/// (`|c| ≤ 1 − ε`), and exactly `0` where it does not — so the ε-band carries a zero
/// derivative instead of `≈ ±m²`, and there is no NaN at `|c| = 1`. (opensphere itself
/// computes the whole margin term `ψ − c` under `torch.no_grad()`, so its training
/// gradient of the target logit with respect to `c` is just `s`; this kernel's
/// `dpsi_dcos` is the derivative of the ψ formula as written.)
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AcosClamp {
    /// The clamp margin `ε` (a double, rounded to the dtype as `1 − ε`).
    pub eps: f64,
}

impl AcosClamp {
    /// opensphere's `ε = 1e−5`.
    pub const OPENSPHERE: AcosClamp = AcosClamp { eps: 1e-5 };
    /// `ε = 1e−7`.
    pub const TIGHT: AcosClamp = AcosClamp { eps: 1e-7 };

    fn bounds<T: ZooFloat>(&self) -> (T, T) {
        (T::lit(-1.0 + self.eps), T::lit(1.0 - self.eps))
    }

    /// `m·θ = m·acos(clamp(c, −1 + ε, 1 − ε))` (the `m_theta` tensor).
    pub fn m_theta<T: ZooFloat>(&self, m: u32, c: T) -> T {
        let (lo, hi) = self.bounds::<T>();
        torch_clamp(c, lo, hi).acos() * T::int(i64::from(m))
    }

    /// The branch index `k = ⌊mθ/π⌋` (π rounded to the dtype).
    pub fn branch<T: ZooFloat>(&self, m: u32, c: T) -> T {
        (self.m_theta(m, c) / T::lit(std::f64::consts::PI)).floor()
    }

    /// `(−1)^k` as `−2·remainder(k, 2) + 1`.
    fn sign<T: ZooFloat>(k: T) -> T {
        let two = T::int(2);
        let rem = k - two * (k / two).floor();
        -two * rem + T::int(1)
    }
}

impl<T: ZooFloat> ScalarKernel<T> for AcosClamp {
    fn name(&self) -> String {
        format!("acos-clamp-{:e}", self.eps)
    }
    fn cos_m(&self, m: u32, c: T) -> T {
        self.m_theta(m, c).cos()
    }
    fn psi(&self, m: u32, c: T) -> T {
        let mt = self.m_theta(m, c);
        let k = (mt / T::lit(std::f64::consts::PI)).floor();
        Self::sign(k) * mt.cos() - T::int(2) * k
    }
    fn dpsi_dcos(&self, m: u32, c: T) -> T {
        let (lo, hi) = self.bounds::<T>();
        if !torch_clamp_passes(c, lo, hi) {
            return T::int(0); // clamp_backward: where(lo ≤ c ≤ hi, grad, 0)
        }
        let mt = self.m_theta(m, c);
        let k = (mt / T::lit(std::f64::consts::PI)).floor();
        // sign·cos(mθ): ·sign, cos′ = −sin, ·m, acos′ = −(1 − c²)^(−1/2).
        Self::sign(k) * -mt.sin() * T::int(i64::from(m)) * torch_acos_grad(c)
    }
    fn supports(&self, m: u32) -> bool {
        (1..=16).contains(&m)
    }
}
