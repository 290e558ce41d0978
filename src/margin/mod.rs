//! Decision boundaries, the angular margin, and the paper's `m_min` results —
//! each one **computed** (by certified root enclosure) and **cross-checked**
//! against its closed form, never typed in.
//!
//! # Setting and notation
//!
//! Two class weights `W_1`, `W_2` (normalized, zero biases, as in A-Softmax) make the
//! angle `Θ ∈ (0, π]`. For a feature `x`, `θ_i` is the angle between `x` and `W_i`.
//! A-Softmax assigns `x` to class 1 only if `ψ(θ_1) > cos θ_2`, and to class 2 only if
//! `ψ(θ_2) > cos θ_1`, where `ψ(θ) = (−1)^k cos(mθ) − 2k` on `[kπ/m, (k+1)π/m]` is the
//! monotone extension of `cos(mθ)` (see [`crate::psi`]); on the first branch
//! `θ ∈ [0, π/m]`, `ψ(θ) = cos(mθ)`, the paper's condition.
//!
//! # 1. The class-1 boundary between the weights: `θ_1 = Θ/(m+1)`
//!
//! Take `x` in the plane of `W_1`, `W_2`, between them: `θ_1 + θ_2 = Θ`. On the segment
//! `θ_1 ∈ [0, Θ]` let
//!
//! ```text
//! f(θ) = ψ(θ) − cos(Θ − θ).
//! ```
//!
//! `ψ` is strictly decreasing on `[0, π]`, and `cos(Θ − θ)` is strictly increasing for
//! `θ ∈ [0, Θ]` (its argument `Θ − θ` decreases inside `[0, π]`), so `f` is strictly
//! decreasing. `f(0) = 1 − cos Θ > 0` and `f(Θ) = ψ(Θ) − 1 < 0` for `Θ > 0` (ψ < 1 away
//! from 0), so `f` has exactly one root `θ_1*` in `(0, Θ)`: the class-1 boundary.
//!
//! Closed form: if `θ ∈ [0, π/m]` then `ψ(θ) = cos(mθ)` with `mθ ∈ [0, π]`, and
//! `Θ − θ ∈ [0, π]`; cos is injective on `[0, π]`, so `f(θ) = 0 ⇔ mθ = Θ − θ ⇔
//! θ = Θ/(m+1)`. This point *is* on the first branch for every admissible `Θ`:
//! `Θ/(m+1) ≤ π/m ⇔ Θ ≤ π(m+1)/m`, true for all `Θ ≤ π`. By uniqueness,
//! `θ_1* = Θ/(m+1)`. **Valid range: `m ≥ 1` (real), `0 < Θ ≤ π`** — as a rational
//! input in radians, `0 < Θ < π`. (`Θ > π` is not an angle between two vectors; `Θ = 0`
//! means `W_1 = W_2` and there is nothing to separate.)
//!
//! # 2. The angular margin: `Θ − 2θ_1* = (m−1)/(m+1)·Θ`
//!
//! By the symmetric argument (swap the classes), class 2's boundary is at
//! `θ_2 = Θ/(m+1)`, i.e. `θ_1 = Θ − Θ/(m+1) = mΘ/(m+1)`. Along the arc from `W_1` to
//! `W_2`, features with `θ_1 < Θ/(m+1)` can be class 1, features with
//! `θ_1 > mΘ/(m+1)` can be class 2, and the arc in between belongs to neither class.
//! Its length is the angular margin
//!
//! ```text
//! margin = mΘ/(m+1) − Θ/(m+1) = Θ − 2·θ_1* = (m−1)/(m+1)·Θ.
//! ```
//!
//! `m = 1` gives margin 0 (plain modified softmax, one shared boundary at `Θ/2`).
//! [`angular_margin_closed`] evaluates the right-hand side; [`angular_margin_solved`]
//! encloses the root `θ_1*` of `f` and returns `Θ − 2θ_1*`; [`angular_margin`] computes
//! both and refuses to answer unless they agree.
//!
//! # 3. `m_min`: the paper's Properties 2 and 3
//!
//! Required: the largest angle between two features of one class (intra-class) is
//! at most the smallest angle between features of different classes (inter-class).
//! All spans below are proportional to `Θ`, which divides out.
//!
//! **Inter-class**: the gap between class regions is the margin of §2,
//! `(m−1)/(m+1)·Θ`.
//!
//! **Binary (Property 2).** Class 1's region in the plane reaches `Θ/(m+1)` from
//! `W_1` towards `W_2` (§1). On the other side of `W_1`, away from `W_2`, a feature at
//! angle `θ_1` has `θ_2 = θ_1 + Θ`, and it stays class 1 while
//! `cos(mθ_1) > cos(θ_1 + Θ)`, i.e. `mθ_1 < θ_1 + Θ`, i.e. `θ_1 < Θ/(m−1)`
//! (for `m > 1`; this uses the first branch and `θ_1 + Θ ≤ π`, i.e.
//! `Θ ≤ π(m−1)/m`, the paper's implicit assumption). The maximal intra-class angle is
//! the whole span `Θ/(m+1) + Θ/(m−1)`, and the requirement is
//!
//! ```text
//! g(m) = (m−1)/(m+1) − 1/(m−1) − 1/(m+1) ≥ 0.
//! ```
//!
//! `g′(m) = 3/(m+1)² + 1/(m−1)² > 0`, so `g` increases on `(1, ∞)` (from −∞), and the
//! smallest admissible `m` is the unique root of `g`. (Multiplying by `(m−1)(m+1) > 0`:
//! `g ≥ 0 ⇔ m² − 4m + 1 ≥ 0 ⇔ m ≥ 2 + √3`, the closed form used as cross-check.)
//! At `m = 1` the far boundary does not exist (the span is unbounded), so `m = 1` does
//! not satisfy the requirement either.
//!
//! **Multi-class, evenly spaced weights (Property 3).** `W_1` now has a neighbour at
//! angle `Θ` on *both* sides (in the plane), so both ends of its region are near
//! boundaries at `Θ/(m+1)`: the intra-class span is `2Θ/(m+1)`, and
//!
//! ```text
//! h(m) = (m−1)/(m+1) − 2/(m+1) = (m−3)/(m+1) ≥ 0,    h′(m) = 4/(m+1)² > 0,
//! ```
//!
//! whose root (closed form: 3) is `m_min`. [`m_min`] finds the roots by certified
//! bracketing and interval Newton; [`m_min_closed`] evaluates `2 + √3` and `3`.
//!
//! # 4. Table 1: binary decision boundaries
//!
//! [`DecisionRule`] evaluates the boundary functions of the paper's Table 1 for a
//! [`Sample`] (explicit vectors, or a norm and two angles) and classifies it
//! ([`Decision`]). The book's tables of these results (Table 1, a worked example, the
//! margins at `Θ = π/2`, `m_min`) are rendered by `examples/gen_docs`.
//!
//! # Root enclosure
//!
//! All roots are found by one routine: a bracket `[a, b]` whose end signs are
//! *certified* by interval evaluation (so a root lies inside, by continuity; it is
//! unique because the functions are strictly monotone, proven above), shrunk by
//! bisection at certified signs and by interval Newton steps
//! `X ← X ∩ (c − f(c)/f′(X))` once the derivative enclosure `f′(X)` excludes 0 (every
//! root in `X` lies in the Newton image, by the mean value theorem). The Ziv loop
//! ([`crate::arith::ziv`]) raises the working precision until the enclosure determines
//! the requested outputs.
//!
//! Derivation: the book chapter [`crate::derivations::margin`].

mod angular;
mod m_min;
mod root;
mod table1;

pub use angular::{
    WeightAngle, angular_margin, angular_margin_closed, angular_margin_solved,
    class_boundary_closed, class_boundary_solved, margin_coefficient,
};
pub use m_min::{Setting, m_min, m_min_closed, separation};
pub use table1::{BoundaryValues, Decision, DecisionRule, Sample};

use crate::Error;
use rug::Rational;

/// `1 ≤ m ≤ 65536` (the range of the ψ oracles).
fn check_margin_m(m: &Rational) -> Result<(), Error> {
    crate::psi::check_margin(m)
}
