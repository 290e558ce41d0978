//! L-Softmax Eq. 7 as ported by pytorch-metric-learning (`LargeMarginSoftmaxLoss`,
//! reused by its `SphereFaceLoss`).

use super::float::{ZooFloat, on_branch, signed_by, torch_clamp, torch_pow};
use crate::conformance::ScalarKernel;

/// The binomial (L-Softmax Eq. 7) expansion with an acos-based branch index, as in
/// pytorch-metric-learning's `LargeMarginSoftmaxLoss.get_cos_with_margin` /
/// `modify_cosine_of_target_classes`:
///
/// ```text
/// cos mθ = Σ_{n=0}^{⌊m/2⌋} (−1)^n C(m,2n) · c^(m−2n) · (1 − c²)^n     (c not clamped)
/// k      = ⌊acos(clamp(c, −1, 1)) / (π/m)⌋                           (under no_grad)
/// ψ      = (−1)^k · cos mθ − 2k
/// ```
///
/// The exponents `m − 2n` and `n` are a float tensor, so both powers go through libm
/// `pow` (`c**2` inside `1 − c²` is `c·c`); `π/m` is computed in double and rounded to
/// the tensor dtype; the terms are multiplied left to right
/// (`((−1)^n·C(m,2n))·c^(m−2n)·(1−c²)^n`) and summed in order of `n`.
///
/// `dψ/dc` is what autograd produces: `k` is detached and the acos path carries no
/// gradient, so it is `(−1)^k` times the derivative of the sum, with ATen's
/// `pow_backward` (`e·x^(e−1)`, zero where the exponent is 0). No NaN anywhere in
/// `[−1, 1]`.
///
/// Covers every `m ≥ 1` (tested for `m ≤ 16`); at `c = −1` the branch index can
/// come out as `k = m` (one past the last branch), which leaves ψ unchanged by
/// continuity but flips the sign of `dψ/dc` (see `tests/zoo.rs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Binomial;

/// `C(m, k)` as a double (`scipy.special.binom`; exact while it fits 53 bits, i.e. for
/// every `m ≤ 56`), by the multiplicative formula in integers.
fn binom(m: u32, k: u32) -> f64 {
    let k = k.min(m - k);
    let mut acc: u128 = 1;
    for i in 0..k {
        match acc.checked_mul(u128::from(m - i)) {
            Some(p) => acc = p / u128::from(i + 1),
            // Far beyond the margins in use: fall back to a rounded product.
            None => return (0..k).fold(1.0, |a, j| a * f64::from(m - j) / f64::from(j + 1)),
        }
    }
    acc as f64
}

impl Binomial {
    /// The coefficients `(−1)^n·C(m, 2n)` for `n = 0..=⌊m/2⌋` (exact integers, rounded to `T`
    /// like `torch.FloatTensor(scipy.special.binom(...))`).
    fn coefficients<T: ZooFloat>(m: u32) -> impl Iterator<Item = (u32, T)> {
        (0..=m / 2).map(move |n| {
            let alt = if n % 2 == 0 { 1.0 } else { -1.0 };
            (n, T::from_f64(alt) * T::from_f64(binom(m, 2 * n)))
        })
    }

    /// `cos mθ` by the binomial expansion (`get_cos_with_margin`), at the unclamped `c`.
    pub fn cos_with_margin<T: ZooFloat>(m: u32, c: T) -> T {
        let one_minus_c2 = T::int(1) - torch_pow(c, 2);
        let mut acc = T::int(0);
        for (n, ab) in Self::coefficients::<T>(m) {
            let cp = c.powf(T::int(i64::from(m - 2 * n)));
            let sp = one_minus_c2.powf(T::int(i64::from(n)));
            acc = acc + ab * cp * sp;
        }
        acc
    }

    /// The autograd derivative of [`Binomial::cos_with_margin`] with respect to `c`.
    pub fn cos_with_margin_grad<T: ZooFloat>(m: u32, c: T) -> T {
        let one_minus_c2 = T::int(1) - torch_pow(c, 2);
        let mut acc = T::int(0);
        for (n, ab) in Self::coefficients::<T>(m) {
            let e = m - 2 * n;
            let cp = c.powf(T::int(i64::from(e)));
            let sp = one_minus_c2.powf(T::int(i64::from(n)));
            // pow_backward_self: zero where the exponent is 0, else e·x^(e−1) (tensor pow).
            let dcp = if e == 0 {
                T::int(0)
            } else {
                T::int(i64::from(e)) * c.powf(T::int(i64::from(e) - 1))
            };
            let dsp = if n == 0 {
                T::int(0)
            } else {
                T::int(i64::from(n)) * one_minus_c2.powf(T::int(i64::from(n) - 1))
            };
            // terms = (ab·cp)·sp: ∂/∂cp = sp·ab, ∂/∂sp = ab·cp; 1 − c·c contributes −2c.
            let via_cp = sp * ab * dcp;
            let via_sp = -(ab * cp * dsp) * (T::int(2) * c);
            acc = acc + (via_cp + via_sp);
        }
        acc
    }

    /// The branch index `k = ⌊acos(clamp(c, −1, 1)) / (π/m)⌋` as a float (may be `m` at `c = −1`).
    pub fn branch<T: ZooFloat>(m: u32, c: T) -> T {
        let angle = torch_clamp(c, T::int(-1), T::int(1)).acos();
        (angle / T::lit(std::f64::consts::PI / f64::from(m))).floor()
    }
}

impl<T: ZooFloat> ScalarKernel<T> for Binomial {
    fn name(&self) -> String {
        "binomial+acos-k".into()
    }
    fn cos_m(&self, m: u32, c: T) -> T {
        Self::cos_with_margin(m, c)
    }
    fn psi(&self, m: u32, c: T) -> T {
        on_branch(Self::branch(m, c), Self::cos_with_margin(m, c))
    }
    fn dpsi_dcos(&self, m: u32, c: T) -> T {
        signed_by(Self::branch(m, c), Self::cos_with_margin_grad(m, c))
    }
    fn supports(&self, m: u32) -> bool {
        (1..=16).contains(&m)
    }
}
