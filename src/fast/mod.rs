//! The crate's own fast `f32`/`f64` kernels for integer margins `0 ≤ m ≤ 16`
//! (`m = 0` for `cos_m` only). In `f64` they are accurate to within `0.5 + 2⁻¹⁷` ulp by
//! the analysis below, i.e. correctly rounded except for inputs whose exact value lies
//! that close to a rounding tie. In `f32` they are **correctly rounded**: the `f64` value
//! of the f32 path is within `2⁻⁴⁷` (relative) of the exact one, so its rounding is
//! correct unless it lies next to an `f32` rounding midpoint, where the `f64` kernel, the
//! tiny-`c` rule or the exact rational value decides (see `checked_f32`). That is checked
//! for every `f32` input, op and `m ≤ 8` by the exhaustive tier
//! (`asoftmax-spec exhaustive`, [`crate::conformance::exhaustive`]).
//!
//! | op | formula | f64 method | f32 method |
//! | --- | --- | --- | --- |
//! | `cos_m` | `T_m(c) = 2^{m−1} c^{[m odd]} ∏_{j=1}^{⌊m/2⌋} (c² − cos²((2j−1)π/(2m)))` | [`Plan::cos_m_f64`] | [`Plan::cos_m_f32`] |
//! | `psi` | `(−1)^k T_m(c) − 2k`, `k = #{j ∈ 1..m−1 : c < cos(jπ/m)}` | [`Plan::psi_f64`] | [`Plan::psi_f32`] |
//! | `dpsi_dcos` | `(−1)^k m U_{m−1}(c) = m·2^{m−1} \|c\|^{[m even]} ∏_{j=1}^{⌊(m−1)/2⌋} \|c² − cos²(jπ/m)\|` | [`Plan::dpsi_dcos_f64`] | [`Plan::dpsi_dcos_f32`] |
//!
//! Free functions ([`cos_m_f64`], [`psi_f32`], …) take `m` and build the [`Plan`]
//! (a table lookup); [`Fast`] implements [`ScalarKernel`] for both formats (and
//! [`LossKernel`](crate::conformance::LossKernel), see [`loss`]);
//! [`Plan::eval_f64`]/[`Plan::eval_f32`] evaluate a whole slice.
//!
//! # Why the product form
//!
//! `T_m` has the roots `r_j = cos((2j−1)π/(2m))` and `U_{m−1}` the roots
//! `t_j = cos(jπ/m)` (which are also ψ's branch thresholds). Both come in pairs
//! `±r`, so with `c² = cos²θ`
//!
//! ```text
//! T_m(c)     = 2^{m−1} · c^{[m odd]}  · ∏_{j=1}^{⌊m/2⌋}     (c² − r_j²),
//! U_{m−1}(c) = 2^{m−1} · c^{[m even]} · ∏_{j=1}^{⌊(m−1)/2⌋} (c² − t_j²).
//! ```
//!
//! A product of factors each known to a small *relative* error has a small relative
//! error — there is no cancellation anywhere, not even next to a root, where the
//! recurrence `T_{n+1} = 2c·T_n − T_{n−1}` (absolute error `≈ m²·u`) loses every
//! bit. The only subtraction is inside a factor, `c² − R` with `R = r²`:
//!
//! - `c² = c2h + c2l` exactly (`two_prod`);
//! - `R = R0 + R1 + R2` is stored as a *triple-double* (`|R − R0 − R1 − R2| ≤ 2⁻¹⁵⁵ R`;
//!   computed with MPFR, every bit checked by `tests/fast.rs`);
//! - **fast path**: `(s, t) = two_sum(c2h, −R0)` is exact, and the factor is `s + ql`
//!   with `ql = (t + c2l) − R1`. Its absolute error is at most `2⁻¹⁰⁶(|s| + 3)`, so the
//!   relative error is below `2⁻⁷⁴·⁴` as soon as `|s| > 2⁻³⁰`. Since every `|c² − R| < 1`,
//!   this holds for all factors whenever the product of the `s` is at least `2⁻³⁰` —
//!   one comparison per call decides it. The product of at most 8 factors in
//!   double-double (`two_prod` + two FMAs per step, `≤ 2⁻¹⁰²` each) then has a
//!   relative error below `2⁻⁷¹`.
//! - **exact path** (`c` within about `2⁻³⁰/m` of a root — rare, and 2× slower): also
//!   `(c2l − R1)` is formed with `two_sum`, the leading parts are added with a third
//!   `two_sum` and only `R2` and the error terms (below `2⁻⁵²` of the factor) are rounded,
//!   leaving `2⁻¹⁰⁴` plus the representation error `2⁻¹⁵⁵ R/|c² − R|`. The smallest
//!   `|c² − R|/R` over the doubles next to each root, all `m ≤ 16`, is measured by
//!   `tests/fast.rs` as `2⁻⁵⁷·¹`, so that term is below `2⁻⁹⁷`.
//!
//! A relative error `ε` before the final rounding costs at most `ε·2⁵³` ulp on top of
//! the rounding's `0.5`: with `ε ≤ 2⁻⁷⁰` (including the final scalings by `c`, `|c|`,
//! `m·2^{m−1}`) that is the `0.5 + 2⁻¹⁷` above.
//!
//! # ψ and dψ/dc
//!
//! - The branch `k` is decided against the thresholds `cos(jπ/m)` rounded to the nearest
//!   double (no `acos`), via the root count of the product (see [`Plan::branch`]: one
//!   table lookup, no scan). For a double `c` this differs from the exact comparison only
//!   when `c` *equals* a rounded threshold that lies on the other side of the true one.
//!   Both branches then give `1 − 2j` up to `(m/sin θ)²·δ²/2` with `δ ≤ 2⁻⁵³`, i.e. below
//!   `2⁻⁹⁰` (ψ is C¹); `tests/fast.rs` checks that both branches are within an ulp at
//!   every threshold and its neighbours, and that [`Plan::branch`] agrees with the oracle's
//!   rigorous branch everywhere else.
//! - `ψ = (−1)^k T − 2k` is formed with a `two_sum` from the double-double `T`: for
//!   `k = 0` it is `T` itself (relative accuracy from the product form), for `k ≥ 1`
//!   `|ψ| ≥ 1` and the absolute error `2⁻⁷¹` of `T` is negligible.
//! - `dψ/dc ≥ 0` everywhere (ψ increases with `c`), and `(−1)^k = sign U_{m−1}(c)`,
//!   so `dψ/dc = m·|U_{m−1}(c)|` needs no branch at all.
//!
//! # f32
//!
//! The `f32` kernels evaluate the same product in plain `f64` with the constants cut
//! to two doubles: `c²` is exact (`2·24 ≤ 53` bits); `(c² − R0)` is exact near a root
//! (Sterbenz) and otherwise within `2⁻⁵³`; `− R1` adds `2⁻⁵³`; the representation
//! error `2⁻¹⁰⁶ R` is negligible next to `|c² − R| ≥ 2⁻³³ R` (the smallest value over
//! the `f32` next to each root, measured by `tests/fast.rs`). With at most `2·8 + 9`
//! roundings the `f64` value is within `2⁻⁴⁸·⁴` relative (for ψ with `k ≥ 1`, absolute
//! against `|ψ| ≥ 1`), and the single rounding to `f32` is within `0.5 + 2⁻²⁴` ulp —
//! which also bounds the double-rounding effect.
//!
//! # Tiny inputs
//!
//! For `|c| < 2⁻⁶⁴` the odd-`m` `T_m(c) = (−1)^{(m−1)/2} m c (1 + O(m²c²))` and the
//! even-`m` `dψ/dc = m²|c|(1 + O(m²c²))` are computed as the single product `m·c`
//! (resp. `m²|c|`): the neglected term is below `2⁻¹²⁰` relative, and one rounding is
//! what keeps subnormal results correctly rounded.
//!
//! # Out-of-range input
//!
//! A normalized dot product can exceed `1` in magnitude by an ulp, so every kernel
//! **clamps** `c` to `[−1, 1]` first (`±∞` included); NaN gives NaN. Unsupported `m`
//! (`m > 16`, or `m = 0` for ψ and dψ/dc) gives NaN. Nothing panics.
//!
//! # FMA
//!
//! The `f64` kernels need exact products. They use the hardware FMA when it is known at
//! compile time (`-C target-feature=+fma`, aarch64); on x86-64 without it they detect
//! FMA at run time (cached by `std`) and call a copy of the kernel compiled with
//! `#[target_feature(enable = "fma")]`, and fall back to Dekker's product otherwise
//! (also tested, by a unit test that calls that path directly).

mod eft;
mod layout;
pub mod loss;
mod tables;

use crate::conformance::ScalarKernel;
use eft::{Arith, fast_two_sum, two_sum};

/// Calls `imp::$f::<A>(args)` with the best available [`Arith`].
macro_rules! dispatch {
    ($f:ident ( $($arg:expr),* )) => {{
        #[cfg(any(target_feature = "fma", target_arch = "aarch64"))]
        let r = imp::$f::<eft::HwFma>($($arg),*);
        #[cfg(all(target_arch = "x86_64", not(target_feature = "fma")))]
        let r = if std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports FMA, checked just above.
            unsafe { x86_fma::$f($($arg),*) }
        } else {
            imp::$f::<eft::Dekker>($($arg),*)
        };
        #[cfg(not(any(target_feature = "fma", target_arch = "aarch64", target_arch = "x86_64")))]
        let r = imp::$f::<eft::Dekker>($($arg),*);
        r
    }};
}

/// The largest margin the fast kernels support.
pub const MAX_M: u32 = 16;

/// Below this magnitude of `c` the linear term of `T_m` (odd `m`) or of `U_{m−1}`
/// (even `m`) is the correctly rounded result: `2⁻⁶⁴`.
const TINY: f64 = 5.421_010_862_427_522e-20;

/// One of the three scalar ops, for the slice evaluators [`Plan::eval_f64`] and
/// [`Plan::eval_f32`]: the conformance suite's [`ScalarOp`](crate::conformance::ScalarOp)
/// (`cos_m`: `T_m(c)`; `psi`: `(−1)^k T_m(c) − 2k`; `dpsi_dcos`:
/// `(−1)^k m U_{m−1}(c) = m |U_{m−1}(c)|`), under the name the kernels have always used.
pub use crate::conformance::ScalarOp as Op;

/// The precomputed constants of one margin `m ≤ 16`: the branch thresholds and the
/// squared roots of `T_m` and `U_{m−1}`. Building one is a table lookup (the
/// constants are computed with MPFR ahead of time; `tests/fast.rs` recomputes and
/// checks every bit), so a `Plan` is `Copy` and free to make per call.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    m: u32,
    /// `cos(jπ/m)`, `j = 1..m−1`, rounded to nearest, then `−∞` padding.
    thr: &'static [f64; 16],
    /// The threshold in the gap below the `n`-th positive root of `T_m` (see [`Plan::branch`]).
    gap: &'static [f64; 9],
    /// `cos²((2j−1)π/(2m))`, `j = 1..⌊m/2⌋`, as triple-doubles.
    t_sq: &'static [[f64; 3]],
    /// `cos²(jπ/m)`, `j = 1..⌊(m−1)/2⌋`, as triple-doubles.
    u_sq: &'static [[f64; 3]],
    /// `2^{m−1}` (`1` for `m = 0`): the leading coefficient of `T_m`.
    t_lead: f64,
    /// `m·2^{m−1}`: the leading coefficient of `m·U_{m−1}`.
    u_lead: f64,
    /// `(−1)^{(m−1)/2}·m`: `T_m'(0)` for odd `m` (`T_m(c) ≈ t_tiny·c`).
    t_tiny: f64,
    /// `m²`: `|m U_{m−1}|'(0)` for even `m` (`dψ/dc ≈ m²|c|`).
    u_tiny: f64,
}

impl Plan {
    /// The plan for margin `m`, or `None` when `m > 16`. `m = 0` is accepted for
    /// `cos_m` (`T_0 = 1`); ψ and dψ/dc then return NaN.
    pub fn new(m: u32) -> Option<Plan> {
        if m > MAX_M {
            return None;
        }
        let i = m as usize;
        let mf = f64::from(m);
        let t_lead = if m == 0 {
            1.0
        } else {
            f64::from(1u32 << (m - 1))
        };
        Some(Plan {
            m,
            thr: &tables::THRESHOLDS[i],
            gap: &layout::GAP_THRESHOLD[i],
            t_sq: &layout::T_ROOTS_SQ[i][..i / 2],
            u_sq: &layout::U_ROOTS_SQ[i][..i.saturating_sub(1) / 2],
            t_lead,
            u_lead: mf * t_lead,
            t_tiny: if (m / 2) % 2 == 0 { mf } else { -mf },
            u_tiny: mf * mf,
        })
    }

    /// The margin `m`.
    pub fn m(&self) -> u32 {
        self.m
    }

    /// The branch thresholds `t_j = cos(jπ/m)`, `j = 1..m−1` (decreasing), each the
    /// `f64` nearest to the exact value (exact for the rational `0, ±1/2`).
    pub fn thresholds(&self) -> &'static [f64] {
        &self.thr[..self.m.saturating_sub(1) as usize]
    }

    /// The squared positive roots of `T_m`: `cos²((2j−1)π/(2m))`, `j = 1..⌊m/2⌋`, each
    /// as a triple-double `[R0, R1, R2]` (`R0 = fl(R)`, `R1 = fl(R − R0)`,
    /// `R2 = fl(R − R0 − R1)`).
    pub fn t_roots_sq(&self) -> &'static [[f64; 3]] {
        self.t_sq
    }

    /// The squared positive roots of `U_{m−1}` (the thresholds): `cos²(jπ/m)`,
    /// `j = 1..⌊(m−1)/2⌋`, as triple-doubles like [`t_roots_sq`](Self::t_roots_sq).
    pub fn u_roots_sq(&self) -> &'static [[f64; 3]] {
        self.u_sq
    }

    /// The branch `k = #{ j ∈ 1..m−1 : c < t_j }` of ψ against the rounded thresholds
    /// `t_j` of [`thresholds`](Self::thresholds) (`0` for NaN and `m ≤ 1`).
    ///
    /// Computed without scanning the thresholds: the positive roots `r_j` of `T_m`
    /// interlace them (`r_1 > t_1 > r_2 > t_2 > …`), so with `a = |c|` and
    /// `n = #{ j : c² < r_j² }` (a count the ψ kernels get for free from the signs of
    /// their factors) the only threshold that can separate `a` from its neighbours is
    /// `g_n`, the one in the gap `(r_{n+1}, r_n)`:
    ///
    /// ```text
    /// c ≥ 0:  k = n − 1 + [a < g_n]
    /// c < 0:  k = m − n − [a ≤ g_n]      (the thresholds are symmetric: t_{m−j} = −t_j)
    /// ```
    ///
    /// (`g_0 = +∞`; `g_{m/2} = −∞` for even `m`, where the zero threshold is the boundary
    /// itself.) Rounding `c²` or `r_j²` can change `n` by one only next to a root of `T_m`,
    /// which is far from every threshold, and both values of `n` then give the same `k`.
    #[inline]
    pub fn branch(&self, c: f64) -> u32 {
        if c.is_nan() || self.m == 0 {
            return 0;
        }
        let c2 = c * c;
        let mut n = 0;
        for r in self.t_sq {
            n += u32::from(c2 < r[0]);
        }
        self.branch_from_gap(c, n)
    }

    /// The branch from the root count `n ≤ 8` (see [`branch`](Self::branch)), for
    /// `m ≥ 1` and `c` not NaN (then `n + [a < g_n] ≥ 1` and `m − n − 1 ≥ 0`).
    #[inline(always)]
    fn branch_from_gap(&self, c: f64, n: u32) -> u32 {
        let a = c.abs();
        let g = self.gap[(n as usize).min(8)];
        let k_pos = (n + u32::from(a < g)).wrapping_sub(1);
        let k_neg = (self.m - n).wrapping_sub(u32::from(a <= g));
        // A branch on the sign of c would be mispredicted half the time on mixed data.
        let neg = 0u32.wrapping_sub(u32::from(c < 0.0));
        (k_neg & neg) | (k_pos & !neg)
    }

    /// `cos(mθ) = T_m(c)` in `f64`.
    #[inline]
    pub fn cos_m_f64(&self, c: f64) -> f64 {
        dispatch!(cos_m(self, c))
    }

    /// `ψ(c) = (−1)^k T_m(c) − 2k` in `f64` (NaN for `m = 0`).
    #[inline]
    pub fn psi_f64(&self, c: f64) -> f64 {
        dispatch!(psi(self, c))
    }

    /// `dψ/dc = (−1)^k m U_{m−1}(c) = m|U_{m−1}(c)|` in `f64` (NaN for `m = 0`).
    #[inline]
    pub fn dpsi_dcos_f64(&self, c: f64) -> f64 {
        dispatch!(dpsi(self, c))
    }

    /// ψ evaluated on a *given* branch `k` (`(−1)^k T_m(c) − 2k`), whatever the branch
    /// of `c` is; for checking that the branch choice is harmless next to a threshold.
    pub fn psi_on_branch_f64(&self, k: u32, c: f64) -> f64 {
        dispatch!(psi_k(self, k, c))
    }

    /// Applies `op` to every element of `c`, writing `out` (`f64`).
    ///
    /// # Panics
    ///
    /// If `c` and `out` differ in length.
    pub fn eval_f64(&self, op: Op, c: &[f64], out: &mut [f64]) {
        assert_eq!(
            c.len(),
            out.len(),
            "eval_f64: input and output lengths differ"
        );
        dispatch!(eval(self, op, c, out))
    }

    /// `cos(mθ) = T_m(c)` in `f32` (computed in `f64`, rounded once).
    #[inline]
    pub fn cos_m_f32(&self, c: f32) -> f32 {
        if c.is_nan() {
            return c;
        }
        let c = clamp(f64::from(c));
        self.checked_f32(Op::CosM, None, c, self.t_f32(c).0)
    }

    /// `ψ(c) = (−1)^k T_m(c) − 2k` in `f32` (NaN for `m = 0`).
    #[inline]
    pub fn psi_f32(&self, c: f32) -> f32 {
        if self.m == 0 || c.is_nan() {
            return f32::NAN;
        }
        let c = clamp(f64::from(c));
        let (t, n) = self.t_f32(c);
        self.checked_f32(
            Op::Psi,
            None,
            c,
            Self::psi_from_t_f32(self.branch_from_gap(c, n), t),
        )
    }

    /// `dψ/dc = m|U_{m−1}(c)|` in `f32` (NaN for `m = 0`).
    #[inline]
    pub fn dpsi_dcos_f32(&self, c: f32) -> f32 {
        if self.m == 0 || c.is_nan() {
            return f32::NAN;
        }
        let c = clamp(f64::from(c));
        self.checked_f32(Op::DpsiDcos, None, c, self.dpsi_f32(c))
    }

    /// ψ in `f32` on a given branch `k`; see [`psi_on_branch_f64`](Self::psi_on_branch_f64).
    pub fn psi_on_branch_f32(&self, k: u32, c: f32) -> f32 {
        if self.m == 0 || c.is_nan() {
            return f32::NAN;
        }
        let c = clamp(f64::from(c));
        self.checked_f32(
            Op::Psi,
            Some(k),
            c,
            Self::psi_from_t_f32(k, self.t_f32(c).0),
        )
    }

    /// Applies `op` to every element of `c`, writing `out` (`f32`).
    ///
    /// # Panics
    ///
    /// If `c` and `out` differ in length.
    pub fn eval_f32(&self, op: Op, c: &[f32], out: &mut [f32]) {
        assert_eq!(
            c.len(),
            out.len(),
            "eval_f32: input and output lengths differ"
        );
        match op {
            Op::CosM => map_into(c, out, |x| self.cos_m_f32(x)),
            Op::Psi => map_into(c, out, |x| self.psi_f32(x)),
            Op::DpsiDcos => map_into(c, out, |x| self.dpsi_dcos_f32(x)),
        }
    }

    // ---- f32 kernels (plain f64 arithmetic on an f32 input) ----

    /// Rounds to `f32` the f32 path's `y` (relative error below `2⁻⁴⁷` by the analysis
    /// in the module docs), correctly: `y as f32` unless `y` lies within `2⁻⁴⁰·|y|` of an
    /// `f32` rounding midpoint `t`. There the `f64` kernel `z` (error at most
    /// `(½ + 2⁻¹⁷)` ulp of `f64`) decides the side when `z ≠ t` (both are doubles, so the
    /// exact value is on `z`'s side); when `z = t`, [`tiny_toward_zero`](Self::tiny_toward_zero)
    /// or the exact rational value does. Found by the exhaustive tier: `T_3(c) = −3c + 4c³`
    /// at tiny `c` is often `4c³` away from the midpoint `−3c`, and `y as f32` tied to even.
    #[inline(always)]
    fn checked_f32(&self, op: Op, k: Option<u32>, c: f64, y: f64) -> f32 {
        // The f32 path is exact at a zero of the op (c = 0: a factor c or c² is 0), and
        // an exact zero rounds to +0 (the exhaustive tier found −0 from T_3(+0) = 4·0·(…)).
        let y = y + 0.0;
        let f = y as f32;
        let fy = f64::from(f);
        let other = if y > fy {
            f.next_up()
        } else if y < fy {
            f.next_down()
        } else {
            return f;
        };
        let mid = (fy + f64::from(other)) * 0.5;
        if (y - mid).abs() > y.abs() * 2f64.powi(-40) {
            return f;
        }
        self.near_midpoint_f32(op, k, c, mid)
    }

    /// The slow side of [`checked_f32`](Self::checked_f32).
    #[cold]
    #[inline(never)]
    fn near_midpoint_f32(&self, op: Op, k: Option<u32>, c: f64, mid: f64) -> f32 {
        let z = match (op, k) {
            (Op::CosM, _) => self.cos_m_f64(c),
            (Op::Psi, Some(k)) => self.psi_on_branch_f64(k, c),
            (Op::Psi, None) => self.psi_f64(c),
            (Op::DpsiDcos, _) => self.dpsi_dcos_f64(c),
        };
        if z != mid {
            return z as f32;
        }
        if let Some(v) = self.tiny_toward_zero(op, c, mid) {
            return v;
        }
        let r = crate::arith::rational_from_f64(c).expect("a clamped finite input");
        let m = self.m;
        let v = match (op, k) {
            (Op::CosM, _) => crate::multiangle::chebyshev_exact(m, &r).0,
            (Op::Psi, Some(k)) => {
                crate::psi::psi_on_branch(k, &crate::multiangle::chebyshev_exact(m, &r).0)
            }
            (Op::Psi, None) => crate::psi::psi_cos_exact(m, &r).expect("c in [-1, 1]"),
            (Op::DpsiDcos, _) => crate::psi::dpsi_dcos_exact(m, &r).expect("c in [-1, 1]"),
        };
        crate::arith::ziv::round_rational(&v, crate::arith::Format::F32) as f32
    }

    /// At `|c| < 2⁻²⁰` the odd polynomials (`T_m` for odd `m ≥ 3`, `m·|U_{m−1}|` for
    /// even `m ≥ 4`) are `L·(1 − δ)` with the exact linear term `L` (`±m·c`, `m²·|c|`)
    /// and `0 < δ = |a₃/a₁|·c² + … < 2⁻³⁰` (the cubic coefficient has the opposite sign):
    /// when `L` is the midpoint, the value rounds toward zero.
    fn tiny_toward_zero(&self, op: Op, c: f64, mid: f64) -> Option<f32> {
        let m = f64::from(self.m);
        let l = match op {
            Op::CosM if self.m % 2 == 1 && self.m >= 3 => {
                if (self.m / 2) % 2 == 0 {
                    m * c
                } else {
                    -m * c
                }
            }
            Op::DpsiDcos if self.m % 2 == 0 && self.m >= 4 => m * m * c.abs(),
            _ => return None,
        };
        if c.abs() >= 2f64.powi(-20) || l != mid {
            return None;
        }
        let a = mid as f32;
        let b = if f64::from(a) > mid {
            a.next_down()
        } else {
            a.next_up()
        };
        Some(if a.abs() < b.abs() { a } else { b })
    }

    /// `T_m(c)` in plain `f64` for `c` an `f32` value in `[−1, 1]`, and the root count
    /// `n = #{j : c² < r_j²}` for [`branch_from_gap`](Self::branch_from_gap).
    #[inline(always)]
    fn t_f32(&self, c: f64) -> (f64, u32) {
        let c2 = c * c; // exact: 48 significant bits at most
        let mut p = self.t_lead;
        let mut n = 0;
        for r in self.t_sq {
            n += u32::from(c2 < r[0]);
            p *= (c2 - r[0]) - r[1];
        }
        (if self.m & 1 == 1 { p * c } else { p }, n)
    }

    /// ψ from `T_m(c)` on branch `k`: `(−1)^k T − 2k`.
    #[inline(always)]
    fn psi_from_t_f32(k: u32, t: f64) -> f64 {
        flip(t, k) - (2.0 * f64::from(k))
    }

    #[inline(always)]
    fn dpsi_f32(&self, c: f64) -> f64 {
        let c2 = c * c;
        let mut p = self.u_lead;
        for r in self.u_sq {
            p *= (c2 - r[0]) - r[1];
        }
        if self.m & 1 == 0 {
            p *= c
        }
        p.abs()
    }

    // ---- f64 kernels (double-double), generic over how products are made exact ----

    /// `T_m(c)` as an unevaluated sum `hi + lo` with relative error `≤ 2⁻⁷⁰`, for
    /// `c ∈ [−1, 1]` (or NaN), and the root count `n = #{j : fl(c²) < R0_j}` for
    /// [`branch_from_gap`](Self::branch_from_gap).
    #[inline(always)]
    fn t_dd<A: Arith>(&self, c: f64) -> (f64, f64, u32) {
        let odd = self.m & 1 == 1;
        if odd && c.abs() < TINY {
            // c² is below every r_j² ≥ cos²(15π/32) > 2⁻⁷.
            let (h, l) = A::two_prod(self.t_tiny, c);
            return (h, l, self.t_sq.len() as u32);
        }
        let (c2h, c2l) = A::two_prod(c, c);
        let (ph, pl, n) = prod_sq::<A>(c2h, c2l, self.t_sq);
        // Scaling by 2^{m−1} is exact.
        let (ph, pl) = (ph * self.t_lead, pl * self.t_lead);
        if odd {
            let (h, e) = A::two_prod(ph, c);
            (h, A::mul_add(pl, c, e), n)
        } else {
            (ph, pl, n)
        }
    }

    /// ψ from the double-double `T_m(c) = th + tl` on branch `k`: `(−1)^k T − 2k`,
    /// rounded once.
    #[inline(always)]
    fn psi_from_t_dd(k: u32, th: f64, tl: f64) -> f64 {
        let (s, e) = two_sum(flip(th, k), -(2.0 * f64::from(k)));
        s + (e + flip(tl, k))
    }

    #[inline(always)]
    fn dpsi_dd<A: Arith>(&self, c: f64) -> f64 {
        let a = c.abs();
        let even = self.m & 1 == 0;
        if even && a < TINY {
            return self.u_tiny * a;
        }
        let (c2h, c2l) = A::two_prod(c, c);
        let (ph, pl, _) = prod_sq::<A>(c2h, c2l, self.u_sq);
        let (h, e) = A::two_prod(ph, self.u_lead);
        let e = A::mul_add(pl, self.u_lead, e);
        let (h, e) = if even {
            let (h2, e2) = A::two_prod(h, a);
            (h2, A::mul_add(e, a, e2))
        } else {
            (h, e)
        };
        (h + e).abs()
    }
}

/// `(−1)^k·x`, without a branch.
#[inline(always)]
fn flip(x: f64, k: u32) -> f64 {
    f64::from_bits(x.to_bits() ^ (u64::from(k & 1) << 63))
}

/// The fast path of [`prod_sq`] is accepted when `|∏ s_j| ≥ NEAR`: `2⁻³⁰`.
const NEAR: f64 = 9.313_225_746_154_785e-10;

/// `∏_j (c² − R_j)` in double-double, `c² = c2h + c2l` exactly, `R_j` triple-doubles,
/// with a relative error below `2⁻⁷¹`, and the count `n = #{j : c2h < R0_j}`.
/// The result `hi + lo` is not renormalized (`|lo| ≤ 2⁻⁴⁸|hi|`), which the callers
/// tolerate.
///
/// Fast path: each factor is `s + ql` with `(s, t) = two_sum(c2h, −R0)` (exact) and
/// `ql = (t + c2l) − R1`; the two roundings and the dropped `R2` cost at most
/// `2⁻¹⁰⁶(|s| + c² + 2R) ≤ 2⁻¹⁰⁶(|s| + 3)` absolute, i.e. `2⁻¹⁰⁶ + 2⁻¹⁰⁴·⁴/|s|`
/// relative. Every factor has `|c² − R| < 1`, so `|∏ s| ≥ 2⁻³⁰` implies `|s_j| > 2⁻³⁰`
/// for each `j`, hence a relative error below `2⁻⁷⁴·⁴` per factor and `2⁻⁷¹` for at
/// most 8 factors and their double-double products (`≤ 2⁻¹⁰²` each). Otherwise
/// (`c` within about `2⁻³⁰·⁵·m⁻¹` of a root, where `|T_m| < 2^{m−31}` — rare) the
/// product is recomputed by [`prod_sq_exact`]. The check costs one comparison per
/// call instead of one per factor.
#[inline(always)]
fn prod_sq<A: Arith>(c2h: f64, c2l: f64, roots: &[[f64; 3]]) -> (f64, f64, u32) {
    let (mut ph, mut pl) = (1.0, 0.0);
    let mut n = 0;
    for r in roots {
        n += u32::from(c2h < r[0]);
        let (s, t) = two_sum(c2h, -r[0]);
        let ql = (t + c2l) - r[1];
        let (p, e) = A::two_prod(ph, s);
        pl = A::mul_add(ph, ql, A::mul_add(pl, s, e));
        ph = p;
    }
    if ph.abs() < NEAR {
        (ph, pl) = prod_sq_exact::<A>(c2h, c2l, roots);
    }
    (ph, pl, n)
}

/// [`prod_sq`] with every factor formed exactly up to the last `2⁻¹⁰⁴`: `c² − R =
/// (c2h − R0) + (c2l − R1) − R2`, the first two and their sum with `two_sum`.
#[inline(always)]
fn prod_sq_exact<A: Arith>(c2h: f64, c2l: f64, roots: &[[f64; 3]]) -> (f64, f64) {
    let (mut ph, mut pl) = (1.0, 0.0);
    for r in roots {
        let (s, t) = two_sum(c2h, -r[0]);
        let (u, v) = two_sum(c2l, -r[1]);
        let (qh, w) = two_sum(s, u);
        // Renormalize so that qh carries the factor even when s + u cancels.
        let (qh, ql) = fast_two_sum(qh, w + ((t + v) - r[2]));
        let (p, e) = A::two_prod(ph, qh);
        pl = A::mul_add(ph, ql, A::mul_add(pl, qh, e));
        ph = p;
    }
    (ph, pl)
}

/// `out[i] = f(c[i])` for every `i` (the slice evaluators' loop; `c` and `out` have
/// the same length).
#[inline(always)]
fn map_into<T: Copy>(c: &[T], out: &mut [T], f: impl Fn(T) -> T) {
    for (o, &x) in out.iter_mut().zip(c) {
        *o = f(x);
    }
}

/// Clamps to `[−1, 1]`, keeping NaN.
#[inline(always)]
fn clamp(c: f64) -> f64 {
    c.clamp(-1.0, 1.0)
}

/// The `f64` kernels behind the public entry points, generic over [`Arith`].
mod imp {
    use super::{Arith, Op, Plan, clamp, map_into};

    #[inline(always)]
    pub(super) fn cos_m<A: Arith>(p: &Plan, c: f64) -> f64 {
        if c.is_nan() {
            return c;
        }
        let (h, l, _) = p.t_dd::<A>(clamp(c));
        h + l
    }

    #[inline(always)]
    pub(super) fn psi<A: Arith>(p: &Plan, c: f64) -> f64 {
        if p.m == 0 || c.is_nan() {
            return f64::NAN;
        }
        let c = clamp(c);
        let (th, tl, n) = p.t_dd::<A>(c);
        Plan::psi_from_t_dd(p.branch_from_gap(c, n), th, tl)
    }

    #[inline(always)]
    pub(super) fn psi_k<A: Arith>(p: &Plan, k: u32, c: f64) -> f64 {
        if p.m == 0 || c.is_nan() {
            return f64::NAN;
        }
        let (th, tl, _) = p.t_dd::<A>(clamp(c));
        Plan::psi_from_t_dd(k, th, tl)
    }

    #[inline(always)]
    pub(super) fn dpsi<A: Arith>(p: &Plan, c: f64) -> f64 {
        if p.m == 0 || c.is_nan() {
            return f64::NAN;
        }
        p.dpsi_dd::<A>(clamp(c))
    }

    #[inline(always)]
    pub(super) fn eval<A: Arith>(p: &Plan, op: Op, c: &[f64], out: &mut [f64]) {
        match op {
            Op::CosM => map_into(c, out, |x| cos_m::<A>(p, x)),
            Op::Psi => map_into(c, out, |x| psi::<A>(p, x)),
            Op::DpsiDcos => map_into(c, out, |x| dpsi::<A>(p, x)),
        }
    }
}

/// Copies of the [`imp`] kernels compiled with FMA enabled, for run-time dispatch.
#[cfg(all(target_arch = "x86_64", not(target_feature = "fma")))]
mod x86_fma {
    use super::eft::HwFma;
    use super::{Op, Plan, imp};

    #[target_feature(enable = "fma")]
    pub(super) unsafe fn cos_m(p: &Plan, c: f64) -> f64 {
        imp::cos_m::<HwFma>(p, c)
    }
    #[target_feature(enable = "fma")]
    pub(super) unsafe fn psi(p: &Plan, c: f64) -> f64 {
        imp::psi::<HwFma>(p, c)
    }
    #[target_feature(enable = "fma")]
    pub(super) unsafe fn psi_k(p: &Plan, k: u32, c: f64) -> f64 {
        imp::psi_k::<HwFma>(p, k, c)
    }
    #[target_feature(enable = "fma")]
    pub(super) unsafe fn dpsi(p: &Plan, c: f64) -> f64 {
        imp::dpsi::<HwFma>(p, c)
    }
    #[target_feature(enable = "fma")]
    pub(super) unsafe fn eval(p: &Plan, op: Op, c: &[f64], out: &mut [f64]) {
        imp::eval::<HwFma>(p, op, c, out)
    }
}

/// `T_m(c)` in `f64` for `m ≤ 16` (NaN otherwise); see [`Plan::cos_m_f64`].
pub fn cos_m_f64(m: u32, c: f64) -> f64 {
    Plan::new(m).map_or(f64::NAN, |p| p.cos_m_f64(c))
}

/// `ψ(c)` in `f64` for `1 ≤ m ≤ 16` (NaN otherwise); see [`Plan::psi_f64`].
pub fn psi_f64(m: u32, c: f64) -> f64 {
    Plan::new(m).map_or(f64::NAN, |p| p.psi_f64(c))
}

/// `dψ/dc` in `f64` for `1 ≤ m ≤ 16` (NaN otherwise); see [`Plan::dpsi_dcos_f64`].
pub fn dpsi_dcos_f64(m: u32, c: f64) -> f64 {
    Plan::new(m).map_or(f64::NAN, |p| p.dpsi_dcos_f64(c))
}

/// `T_m(c)` in `f32` for `m ≤ 16` (NaN otherwise); see [`Plan::cos_m_f32`].
pub fn cos_m_f32(m: u32, c: f32) -> f32 {
    Plan::new(m).map_or(f32::NAN, |p| p.cos_m_f32(c))
}

/// `ψ(c)` in `f32` for `1 ≤ m ≤ 16` (NaN otherwise); see [`Plan::psi_f32`].
pub fn psi_f32(m: u32, c: f32) -> f32 {
    Plan::new(m).map_or(f32::NAN, |p| p.psi_f32(c))
}

/// `dψ/dc` in `f32` for `1 ≤ m ≤ 16` (NaN otherwise); see [`Plan::dpsi_dcos_f32`].
pub fn dpsi_dcos_f32(m: u32, c: f32) -> f32 {
    Plan::new(m).map_or(f32::NAN, |p| p.dpsi_dcos_f32(c))
}

/// The fast kernels as a [`ScalarKernel`] for `f32` and `f64` (name `"fast"`,
/// margins `1..=16`; `cos_m` also accepts `m = 0`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fast;

impl ScalarKernel<f64> for Fast {
    fn name(&self) -> String {
        "fast".into()
    }
    fn cos_m(&self, m: u32, c: f64) -> f64 {
        cos_m_f64(m, c)
    }
    fn psi(&self, m: u32, c: f64) -> f64 {
        psi_f64(m, c)
    }
    fn dpsi_dcos(&self, m: u32, c: f64) -> f64 {
        dpsi_dcos_f64(m, c)
    }
}

impl ScalarKernel<f32> for Fast {
    fn name(&self) -> String {
        "fast".into()
    }
    fn cos_m(&self, m: u32, c: f32) -> f32 {
        cos_m_f32(m, c)
    }
    fn psi(&self, m: u32, c: f32) -> f32 {
        psi_f32(m, c)
    }
    fn dpsi_dcos(&self, m: u32, c: f32) -> f32 {
        dpsi_dcos_f32(m, c)
    }
}

#[cfg(test)]
mod tests {
    //! The portable (Dekker) products are exercised here, since the dispatcher picks the
    //! FMA path on any machine that has one. `tests/fast.rs` has the full suite.
    use super::eft::{Dekker, HwFma};
    use super::*;
    use crate::arith::rational_from_f64;
    use crate::arith::testing::xorshift64;
    use rug::{Float, Rational};

    /// `|v − x| / ulp_f64(x)`.
    fn ulp_err(v: f64, x: &Rational) -> f64 {
        let d = (rational_from_f64(v).unwrap() - x).abs();
        let e = if *x == 0 {
            -1022
        } else {
            let ax = Rational::from(x.abs_ref());
            let f = Float::with_val_round(64, &ax, rug::float::Round::Zero).0;
            (f.get_exp().unwrap() - 1).max(-1022)
        };
        let mut ulp = Rational::from(1);
        ulp >>= (52 - e) as u32;
        (d / ulp).to_f64()
    }

    fn neighbours(x: f64, out: &mut Vec<f64>) {
        let mut up = x;
        let mut down = x;
        out.push(x);
        for _ in 0..6 {
            up = f64::from_bits(if up >= 0.0 {
                up.to_bits() + 1
            } else {
                up.to_bits() - 1
            });
            down = -f64::from_bits(if down <= 0.0 {
                (-down).to_bits() + 1
            } else {
                (-down).to_bits() - 1
            });
            out.extend([up, down]);
        }
    }

    #[test]
    fn portable_products_are_as_accurate() {
        let mut bits = xorshift64(0x1234_5678_9abc_def1);
        let mut worst = 0.0f64;
        for m in 1..=MAX_M {
            let p = Plan::new(m).unwrap();
            let mut xs = Vec::new();
            for &t in p.thresholds() {
                neighbours(t, &mut xs);
            }
            for r in p.t_roots_sq() {
                neighbours(r[0].sqrt(), &mut xs);
                neighbours(-r[0].sqrt(), &mut xs);
            }
            for x in [1.0, -1.0, 0.0, 1e-300, f64::from_bits(3), 2f64.powi(-64)] {
                neighbours(x, &mut xs);
            }
            for s in bits.by_ref().take(300) {
                xs.push(2.0 * ((s >> 11) as f64 * 2f64.powi(-53)) - 1.0);
            }
            xs.retain(|x| x.abs() <= 1.0);
            for &c in &xs {
                let q = rational_from_f64(c).unwrap();
                let t = crate::multiangle::cos_m_recurrence(m, &q);
                let ps = crate::psi::psi_cos_exact(m, &q).unwrap();
                let d = crate::psi::dpsi_dcos_exact(m, &q).unwrap();
                for (v, exact) in [
                    (imp::cos_m::<Dekker>(&p, c), &t),
                    (imp::psi::<Dekker>(&p, c), &ps),
                    (imp::dpsi::<Dekker>(&p, c), &d),
                    (imp::cos_m::<HwFma>(&p, c), &t),
                    (imp::psi::<HwFma>(&p, c), &ps),
                    (imp::dpsi::<HwFma>(&p, c), &d),
                ] {
                    let e = ulp_err(v, exact);
                    worst = worst.max(e);
                    assert!(e <= 0.5 + 1e-6, "m={m} c={c:e}: {e} ulp");
                }
            }
        }
        assert!(worst >= 0.0);
    }
}
