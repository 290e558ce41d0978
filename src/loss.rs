//! The A-Softmax (SphereFace) and L-Softmax losses of a batch, and those of the margin
//! family's heads ([`Head`]: ArcFace, CosFace, the combined margin), with analytic gradients;
//! [`family`] has the loss of every head of the family on cosines (with the heads' state).
//!
//! [`loss`] takes a [`LossSpec`]: features `X` (`N × d`), class weights `W` (`C × d`),
//! labels, a rational margin `m ≥ 1`, the annealing weight `λ ≥ 0` of
//! `φ(c) = (λ·c + ψ(c))/(1 + λ)`, a scale `s > 0`, the logits' [`Variant`] and the
//! [`Backward`] semantics. It returns the batch-mean loss and, on request, its gradients
//! with respect to `X` and the raw `W`, each component an [`Approx`] determined to the
//! requested bits and correctly rounded to `f64`/`f32`. [`lambda`] is the annealing schedule.
//!
//! Everything is exact or enclosed: dot products, norms and projections are exact
//! rationals, the log-sum-exp and the softmax are evaluated in cancellation-free forms
//! (an exact part plus a small remainder, so a saturated softmax costs no extra
//! precision), and a component is reported exact only when a proof says so; a value that
//! neither a proof nor an enclosure below the precision cap decides is an
//! [`Error::PrecisionCap`].
//!
//! The formulas are derived in the book: [`crate::derivations::loss`] (the loss, λ, s,
//! L-Softmax, the detached margin, stable evaluation, worked values) and
//! [`crate::derivations::gradients`] (every gradient, the cancellation-free forms, when a
//! component is exactly rational, degenerate points).
//!
//! # Inputs that are rejected (each a typed [`Error`], never a panic)
//!
//! - [`Error::Shape`]: `N = 0` (empty batch), `C = 0`, `d = 0`, a row of `x` or `w` of
//!   a different length (naming the row), `y.len() ≠ N`, a label `y_n ≥ C` (naming
//!   the sample).
//! - [`Error::Domain`]: `m < 1` or `m > 65536` (`arg = "m"`), `λ < 0` (`"lambda"`),
//!   `s ≤ 0` (`"scale"`); [`Error::Precision`] for an unsupported `prec`.
//! - [`Error::Degenerate`]:
//!   - A-Softmax with a zero row `W_j` (no direction: `ŵ_j` is undefined), value or gradient;
//!   - gradient requested (with `C > 1`, `m ≠ 1`, [`Backward::Full`]) at a zero feature
//!     `x_n = 0`: the value is `ln C` by continuity (all logits are `0`) and is returned
//!     when only the value is requested, but `ℓ` is positively homogeneous and not linear
//!     in `x_n` there, so the x-gradient does not exist;
//!   - L-Softmax gradient (same conditions) when a zero row `W_y` is the target of a
//!     sample with `x_n ≠ 0`: `f_y = s·ν_y·r·φ(c_y)` is homogeneous, not linear, in `W_y`;
//!   - gradient (same conditions) with a non-integer `m` when `x_n` is exactly
//!     antiparallel to `W_{y_n}` (`c = −1`, θ = π): `dψ/dc` is unbounded there and `ℓ`
//!     has a cone point.
//!
//! Where the gradient does exist at such points it is returned: at `x_n = 0` with
//! `m = 1`, with [`Backward::DetachedMargin`], or with `C = 1`, the target logit seen
//! by the backward is linear in `x_n` (or its coefficient `p_y − 1` is `0`), and
//! `∂L/∂x_n = (s/N)·Σ_j (1/C − [j = y])·v_j` with `v_j = ŵ_j` (A) or `W_j` (L), while
//! the `W` gradient receives nothing from that sample. An L-Softmax zero row `W_j` is
//! harmless otherwise: its logit is `0` (`s·W_j·x` for `j ≠ y`, and `s·ν·r·φ → 0` for
//! the target, by continuity), it contributes `0` to `∂/∂x` and `(p_j − [j = y])·s·x_n`
//! to `∂/∂W_j` (the plain logit `s·W_j·x_n` being linear).
//!
//! NaN and infinities cannot occur in the inputs: every number is an exact `Rational`
//! (text inputs go through [`crate::arith::parse_exact`], which rejects them).
//!

pub mod family;

use crate::arith::ziv::{self, Split};
use crate::arith::{Approx, Ival, par};
use crate::head::{self, Combined, ExactCos, Semantics, SlopeAt};
use crate::multiangle::MAX_M;
use crate::psi;
use crate::{Error, describe_rational};
use rug::float::Round;
use rug::ops::{AssignRound, Pow};
use rug::{Float, Integer, Rational};

/// Which logits are used: normalized class weights (SphereFace) or raw ones (L-Softmax).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// A-Softmax (SphereFace): `f_j = s·‖x‖·cos θ_j`, `f_y = s·‖x‖·φ(cos θ_y)`; the rows of
    /// `W` are normalized, so a zero row is an error.
    ASoftmax,
    /// L-Softmax: `f_j = s·‖W_j‖·‖x‖·cos θ_j = s·W_j·x`, `f_y = s·‖W_y‖·‖x‖·φ(cos θ_y)`.
    LSoftmax,
}

/// How the target logit is differentiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backward {
    /// The true gradient of the loss: `∂f_y` includes `φ′(c) = (λ + ψ′(c))/(1 + λ)`.
    Full,
    /// The margin term `f_y − s·κ_y·‖x‖·cos θ_y` (`κ_y = 1` for A-Softmax, `‖W_y‖` for
    /// L-Softmax) is a constant for the backward pass, which therefore sees the plain
    /// cosine logit `s·κ_y·‖x‖·cos θ_y` for the target (opensphere, SphereFace-R,
    /// insightface). The loss value is the full margin loss.
    DetachedMargin,
}

/// A head of the margin family ([`crate::head`]) as the loss's target logit, with the
/// gradient semantics of its backward.
///
/// Its logits are the **cosine logits** of insightface's `CombinedMarginLoss`, ArcFace,
/// CosFace and pytorch-metric-learning's `ArcFaceLoss`/`CosFaceLoss`: features and class
/// weights are both normalized, `f_j = s·cos θ_j` for `j ≠ y` and
/// `f_y = s·(λ·c + t(c))/(1 + λ)` with `c = cos θ_y` and `t` the head's target logit
/// (`λ = 0` in every published head). SphereFace keeps `‖x‖` instead: that is
/// [`Variant::ASoftmax`] without a head.
///
/// The backward differentiates `t` as [`Semantics`] says: `analytic` (`dt/dc`),
/// `straight_through` (the margin detached: the target's gradient is the plain cosine
/// logit's, as [`Backward::DetachedMargin`]) or `differentiable_acos` (autograd through
/// `acos`). Where the slope is `±∞` or undefined ([`head::Slope`]) a gradient request is
/// an [`Error::Degenerate`] that names it; the value is still returned without gradients.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    /// The combined margin `cos(m1θ + m2) − m3` and its fallback.
    pub margin: Combined,
    /// How the backward differentiates the target logit.
    pub semantics: Semantics,
}

/// A batch and the loss parameters, all exact.
#[derive(Clone, Debug, PartialEq)]
pub struct LossSpec {
    /// Features, `N × d` (row `n` is `x_n`).
    pub x: Vec<Vec<Rational>>,
    /// Class weights, `C × d` (row `j` is `W_j`).
    pub w: Vec<Vec<Rational>>,
    /// Labels, one per row of `x`, each `< C`.
    pub y: Vec<usize>,
    /// The angular margin `m`, `1 ≤ m ≤ 65536` (integer `m` uses the exact c-form of ψ).
    pub m: Rational,
    /// The annealing weight `λ ≥ 0` of `φ(c) = (λ·c + ψ(c))/(1 + λ)`.
    pub lambda: Rational,
    /// The logit scale `s > 0`.
    pub scale: Rational,
    /// A-Softmax or L-Softmax logits.
    pub variant: Variant,
    /// Full gradient or detached margin.
    pub backward: Backward,
    /// A head of the margin family ([`Head`]): cosine logits with the head's target logit,
    /// in place of `m`, `variant` and `backward` (which must then stay `1`,
    /// [`Variant::ASoftmax`] and [`Backward::Full`]).
    pub head: Option<Head>,
}

impl LossSpec {
    /// A spec with `λ = 0`, `s = 1`, [`Variant::ASoftmax`], [`Backward::Full`]:
    /// the loss `(1/N)·Σ_n −ln( e^{‖x_n‖ψ(θ_{y_n})} / (e^{‖x_n‖ψ(θ_{y_n})} + Σ_{j≠y_n} e^{‖x_n‖cos θ_j}) )`.
    pub fn new(
        x: Vec<Vec<Rational>>,
        w: Vec<Vec<Rational>>,
        y: Vec<usize>,
        m: Rational,
    ) -> LossSpec {
        LossSpec {
            x,
            w,
            y,
            m,
            lambda: Rational::new(),
            scale: Rational::from(1),
            variant: Variant::ASoftmax,
            backward: Backward::Full,
            head: None,
        }
    }
}

/// The oracle's result: the mean loss and, when requested, its gradients.
#[derive(Clone, Debug)]
pub struct LossOutput {
    /// `L = (1/N)·Σ_n (logsumexp(f_n) − f_{n,y_n})`.
    pub loss: Approx,
    /// `∂L/∂X`, `N × d` (`None` unless gradients were requested).
    pub grad_x: Option<Vec<Vec<Approx>>>,
    /// `∂L/∂W` with respect to the raw (unnormalized) rows, `C × d` (`None` unless requested).
    pub grad_w: Option<Vec<Vec<Approx>>>,
}

/// In cargo-fuzz's runs (`--cfg fuzzing`) the loss oracle stops at 2¹⁶ working bits with
/// [`Error::PrecisionCap`], so that one fuzz input's check stays within the smoke run's
/// per-input time limit (deciding a near-cancelling remainder can take minutes at the
/// full cap); the fuzz target reports it as an open finding. Everywhere else the cap is
/// [`ziv::MAX_WORKING_PREC`].
fn fuzz_cap(wp: u32) -> Result<(), Error> {
    const FUZZ_MAX: u32 = 1 << 16;
    if cfg!(fuzzing) && wp > FUZZ_MAX {
        return Err(Error::PrecisionCap {
            op: "loss",
            max: FUZZ_MAX,
        });
    }
    Ok(())
}

/// The loss oracle: `L = (1/N)·Σ_n ln(1 + Σ_{j≠y_n} exp(f_{nj} − f_{n,y_n}))` with the
/// logits of the [`Variant`], and (`grad = true`) `∂L/∂X` and `∂L/∂W`, each
/// component enclosed and determined to `prec` bits and to the correctly rounded
/// `f64`/`f32` by one Ziv loop.
///
/// Errors: see the [module docs](self#inputs-that-are-rejected-each-a-typed-error-never-a-panic).
///
/// ```
/// use asoftmax_spec::loss::{LossSpec, loss};
/// use rug::Rational;
/// let q = |v: i32| Rational::from(v);
/// // One sample on the axis of class 0, two classes, m = 4: c_0 = 1, c_1 = 0,
/// // f_0 = ‖x‖·ψ(1) = 2, f_1 = 0, loss = ln(1 + e^{−2}).
/// let spec = LossSpec::new(vec![vec![q(2), q(0)]], vec![vec![q(1), q(0)], vec![q(0), q(3)]], vec![0], q(4));
/// let out = loss(&spec, true, 64).unwrap();
/// assert!((out.loss.f64() - (1.0 + (-2.0f64).exp()).ln()).abs() < 1e-15);
/// // x is parallel to W_0, so ∂L/∂W_0 is exactly zero.
/// assert!(out.grad_w.unwrap()[0].iter().all(|g| g.is_exact() && g.f64() == 0.0));
/// ```
pub fn loss(spec: &LossSpec, grad: bool, prec: u32) -> Result<LossOutput, Error> {
    ziv::check_prec(prec)?;
    let p = prepare(spec, grad)?;
    let groups = reference_groups(&p)?;
    // First pass: which remainders vanish by proof, which outputs are exact by structure.
    let keys = key_cache(p.n);
    let first = ziv::refine("loss", prec + 64, |wp| {
        fuzz_cap(wp)?;
        eval(&p, &groups, &keys, &[], wp, grad)
    })?;
    let skip: Vec<bool> = first
        .iter()
        .enumerate()
        .map(|(i, o)| o.rest_may_vanish() && rest_vanishes(&p, &groups, i))
        .collect();
    let mut exact: Vec<Option<Approx>> = Vec::with_capacity(first.len());
    for (o, &sk) in first.iter().zip(&skip) {
        exact.push(match o.exact_value(sk) {
            Some(r) => Some(ziv::approx_rational("loss", &r, prec)?),
            None => None,
        });
    }
    let mut rest = ziv::ziv_splits("loss", prec, |wp| {
        fuzz_cap(wp)?;
        Ok(eval(&p, &groups, &keys, &skip, wp, grad)?.map(|outs| {
            outs.into_iter()
                .zip(&exact)
                .filter(|(_, e)| e.is_none())
                .map(|(o, _)| o.split())
                .collect()
        }))
    })?
    .into_iter();
    let mut out = exact
        .into_iter()
        .map(|e| e.unwrap_or_else(|| rest.next().expect("one result per open output")));
    let loss = out.next().expect("the loss is the first output");
    let (grad_x, grad_w) = if grad {
        let mut rows = |k: usize| -> Vec<Vec<Approx>> {
            (0..k).map(|_| out.by_ref().take(p.d).collect()).collect()
        };
        let gx = rows(p.n);
        let gw = rows(p.classes);
        (Some(gx), Some(gw))
    } else {
        (None, None)
    };
    Ok(LossOutput {
        loss,
        grad_x,
        grad_w,
    })
}

/// `true` when the softmax remainder of output `i` (`0`: the loss, then `∂L/∂X` and
/// `∂L/∂W` row by row) is proven to vanish: every term `ρ·u` it sums has `u = 0` — for
/// `∂L/∂x_n[k]`, `u_j[k] = ū_G[k]` for every class outside the reference group (then
/// `Σ_j ρ_j u_j[k] = ū_G[k]·Σ_j ρ_j = 0`); for `∂L/∂W_j[k]`, `u_nj[k] = 0` for every
/// sample with more than one logit group. Exact comparisons ([`Surd`]) only.
fn rest_vanishes(p: &Prepared<'_>, groups: &[Vec<bool>], i: usize) -> bool {
    if i == 0 {
        return false;
    }
    let (d, i) = (p.d, i - 1);
    // u_nj[k] (x-gradient or W-gradient) exactly.
    let component = |n: usize, j: usize, k: usize, wgrad: bool| -> Option<Surd> {
        let (_, te) = sample_logits(p, n, 64).ok()??;
        let (gx, gw) = logit_grads(p, n, j, te.as_ref(), 64)?;
        let mut v = Surd::default();
        for t in if wgrad { &gw } else { &gx } {
            if t.inum[k] != 0 {
                let q = Rational::from(&t.scale * &t.inum[k]);
                v = v.add(&t.exact.clone()?.scale(&q));
            }
        }
        Some(v)
    };
    let is_zero = |v: Option<Surd>| v.is_some_and(|v| v.rational().is_some_and(|r| r == 0));
    if i < p.n * d {
        let (n, k) = (i / d, i % d);
        let g = &groups[n];
        let size = Rational::from(g.iter().filter(|&&b| b).count());
        let mut mean = Surd::default();
        for j in (0..p.classes).filter(|&j| g[j]) {
            let Some(u) = component(n, j, k, false) else {
                return false;
            };
            mean = mean.add(&u.scale(&Rational::from(size.recip_ref())));
        }
        // Summed over each set of provably tied logits outside G (equal probabilities).
        let keys = SampleKeys::of(p, n);
        let mut sums: Vec<(&LogitKey, Surd)> = Vec::new();
        for j in (0..p.classes).filter(|&j| !g[j]) {
            let Some(u) = component(n, j, k, false) else {
                return false;
            };
            let d = u.add(&mean.clone().scale(&Rational::from(-1)));
            match sums.iter_mut().find(|s| *s.0 == keys.keys[j]) {
                Some(s) => s.1 = s.1.clone().add(&d),
                None => sums.push((&keys.keys[j], d)),
            }
        }
        sums.into_iter().all(|(_, v)| is_zero(Some(v)))
    } else {
        let (j, k) = ((i - p.n * d) / d, (i - p.n * d) % d);
        w_rest_vanishes(p, groups, j, k, &component)
    }
}

/// A key that is equal for two logits only if they are provably equal: the exact value
/// (sign and square) when known, else the logit's definition — the same feature row,
/// the same class row (both compared as exact rational vectors) and the same role.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum LogitKey {
    Value(std::cmp::Ordering, Rational),
    Defined { x: usize, w: usize, target: bool },
}

fn logit_key(p: &Prepared<'_>, n: usize, j: usize) -> LogitKey {
    match logit_exact(p, n, j) {
        Some((sign, sq)) => LogitKey::Value(sign, sq),
        None => {
            let first_equal = |rows: &[Vec<Rational>], i: usize| {
                rows.iter()
                    .position(|r| *r == rows[i])
                    .expect("row i itself")
            };
            LogitKey::Defined {
                x: first_equal(&p.spec.x, n),
                w: first_equal(&p.spec.w, j),
                target: j == p.spec.y[n],
            }
        }
    }
}

/// The W-gradient remainder `Σ_n ρ_nj·u_nj[k]` vanishes: each `ρ_nj` is a combination of
/// probabilities `P(M, v) = e^v / Σ_{u∈M} e^u` of the sample's logit multiset `M` —
/// `ρ_nj = P(M_n, f_nj)` outside the reference group, `−Σ_{k∉G} P(M_n, f_nk)/|G|` in it —
/// and samples with the same multiset share those atoms (keys from [`logit_key`]). The
/// remainder is 0 when every atom's exact coefficient `Σ ±u[k]` is 0: within one sample
/// (`u = 0`) or across samples (two identical samples with the target on different
/// rows, found by fuzzing).
fn w_rest_vanishes(
    p: &Prepared<'_>,
    groups: &[Vec<bool>],
    j: usize,
    k: usize,
    component: &dyn Fn(usize, usize, usize, bool) -> Option<Surd>,
) -> bool {
    let mut atoms: Vec<((Vec<LogitKey>, LogitKey), Surd)> = Vec::new();
    let mut add =
        |key: (Vec<LogitKey>, LogitKey), v: Surd| match atoms.iter_mut().find(|(k2, _)| *k2 == key)
        {
            Some((_, s)) => *s = s.clone().add(&v),
            None => atoms.push((key, v)),
        };
    for (n, g) in groups.iter().enumerate() {
        if g.iter().all(|&b| b) {
            continue; // ρ = 0: every logit in the reference group.
        }
        let Some(u) = component(n, j, k, true) else {
            return false;
        };
        if u.rational().is_some_and(|r| r == 0) {
            continue;
        }
        let keys: Vec<LogitKey> = (0..p.classes).map(|c| logit_key(p, n, c)).collect();
        let mut multiset = keys.clone();
        multiset.sort();
        if g[j] {
            let share = Rational::from((-1, g.iter().filter(|&&b| b).count()));
            for c in (0..p.classes).filter(|&c| !g[c]) {
                add((multiset.clone(), keys[c].clone()), u.clone().scale(&share));
            }
        } else {
            add((multiset, keys[j].clone()), u);
        }
    }
    atoms
        .iter()
        .all(|(_, v)| v.rational().is_some_and(|r| r == 0))
}

/// An enclosure of the mean loss `L` at working precision `wp` (no Ziv loop), for
/// callers that refine on their own (the finite-difference checker). `Ok(None)` means
/// that `wp` was too low to produce an enclosure; retry higher. The same input
/// validation as [`loss`] with `grad = false`; `wp` must lie in
/// [`ziv::MIN_PREC`]`..=`[`ziv::MAX_WORKING_PREC`].
pub fn loss_enclosure(spec: &LossSpec, wp: u32) -> Result<Option<Ival>, Error> {
    if !(ziv::MIN_PREC..=ziv::MAX_WORKING_PREC).contains(&wp) {
        return Err(Error::Precision {
            prec: wp,
            min: ziv::MIN_PREC,
            max: ziv::MAX_WORKING_PREC,
        });
    }
    let p = prepare(spec, false)?;
    let groups = reference_groups(&p)?;
    let keys = key_cache(p.n);
    Ok(
        eval(&p, &groups, &keys, &[], wp, false)?
            .map(|mut outs| outs.swap_remove(0).split().hull()),
    )
}

/// `z^(1/q)` when it is rational (`z > 0` in lowest terms: both numerator and
/// denominator are perfect `q`-th powers), for `q` up to 2¹⁶; `None` otherwise.
fn exact_root(z: &Rational, q: &Integer) -> Option<Rational> {
    let q = q.to_u32().filter(|&q| (1..=1 << 16).contains(&q))?;
    if q == 1 {
        return Some(z.clone());
    }
    let root = |n: &Integer| -> Option<Integer> {
        let r = Integer::from(n.root_ref(q));
        (Integer::from((&r).pow(q)) == *n).then_some(r)
    };
    Some(Rational::from((root(z.numer())?, root(z.denom())?)))
}

/// The annealing schedule of SphereFace's λ:
/// `λ = max(λ_min, base·(1 + γ·iter)^(−power))` (shipped defaults: base 1000, γ 0.12,
/// power 1, λ_min 5).
#[derive(Clone, Debug, PartialEq)]
pub struct LambdaSchedule {
    /// `base ≥ 0`.
    pub base: Rational,
    /// `γ ≥ 0`.
    pub gamma: Rational,
    /// The exponent `power` (any rational).
    pub power: Rational,
    /// The floor `λ_min ≥ 0`.
    pub lambda_min: Rational,
    /// The iteration `iter ≥ 0`.
    pub iter: Rational,
}

/// `λ = max(λ_min, base·(1 + γ·iter)^(−power))`, enclosed and rounded to `prec` bits.
/// Exact (a rational) when `(1 + γ·iter)^(−power)` is rational and of moderate size
/// (an integer `power`, or `power = p/q` with `1 + γ·iter` a perfect `q`-th power), or
/// `base = 0`, or `γ·iter = 0`; otherwise (then λ is irrational)
/// `base·exp(−power·ln(1 + γ·iter))` over intervals.
///
/// Errors: [`Error::Domain`] when `base`, `gamma`, `lambda_min` or `iter` is negative
/// (so that `1 + γ·iter ≥ 1` and the result is a valid `λ ≥ 0`), or (`arg = "power"`) when
/// `(1 + γ·iter)^(−power)` is at least `2^(2^30 − 1)`, beyond MPFR's exponent range;
/// [`Error::Precision`].
///
/// ```
/// use asoftmax_spec::loss::{LambdaSchedule, lambda};
/// use rug::Rational;
/// let s = LambdaSchedule {
///     base: Rational::from(1000),
///     gamma: Rational::from((12, 100)),
///     power: Rational::from(1),
///     lambda_min: Rational::from(5),
///     iter: Rational::from(100),
/// };
/// // 1000 / (1 + 12) = 76.923…
/// assert_eq!(lambda(&s, 53).unwrap().f64(), 1000.0 / 13.0);
/// ```
pub fn lambda(s: &LambdaSchedule, prec: u32) -> Result<Approx, Error> {
    ziv::check_prec(prec)?;
    for (arg, v) in [
        ("base", &s.base),
        ("gamma", &s.gamma),
        ("lambda_min", &s.lambda_min),
        ("iter", &s.iter),
    ] {
        if *v < 0 {
            return Err(Error::Domain {
                arg,
                value: describe_rational(v),
                expected: "a non-negative number",
            });
        }
    }
    let z = Rational::from(&s.gamma * &s.iter) + 1u32;
    let exact = if s.base == 0 || z == 1 {
        Some(s.base.clone())
    } else {
        // z^(−p/q) (p/q in lowest terms) is rational exactly when z = a/b has rational
        // q-th roots a^(1/q), b^(1/q); otherwise it is irrational, and so is λ, which
        // the Ziv loop below then decides. Found by fuzzing's cousin: a rational result
        // on a rounding midpoint (base = 1 + 2⁻²⁴, z = 4, power ½: ½ + 2⁻²⁵) spun to
        // the precision cap when powers with q > 1 always took the interval route.
        exact_root(&z, s.power.denom()).and_then(|root| {
            // Exact power when the result stays of moderate size.
            let p = s.power.numer().to_i32()?;
            let bits = root.numer().significant_bits() + root.denom().significant_bits();
            (u64::from(p.unsigned_abs()) * u64::from(bits) <= 1 << 20)
                .then(|| &s.base * root.pow(-p))
        })
    };
    if let Some(t) = exact {
        let l = if t > s.lambda_min {
            t
        } else {
            s.lambda_min.clone()
        };
        return ziv::approx_rational("lambda", &l, prec);
    }
    ziv::ziv("lambda", prec, |wp| {
        let Some(lnz) = Ival::from_rational(&z, wp).ln() else {
            return Ok(None);
        };
        let e = lnz.mul(&Ival::from_rational(&s.power, wp)).neg().exp();
        if !e.hi().is_finite() {
            // The lower bound at the top of the exponent range means (1 + γ·iter)^(−power)
            // ≥ 2^(emax − 1): it overflows at every precision, so raising it cannot help.
            if e.lo().get_exp() == Some(rug::float::exp_max()) {
                return Err(Error::Domain {
                    arg: "power",
                    value: describe_rational(&s.power),
                    expected: "a schedule whose (1 + gamma*iter)^(-power) is below 2^(2^30) \
                               (the floating-point exponent range)",
                });
            }
            return Ok(None);
        }
        let t = Ival::from_rational(&s.base, wp).mul(&e);
        Ok(Some(t.max(&Ival::from_rational(&s.lambda_min, wp))))
    })
}

// ---------------------------------------------------------------------------
// Exact preparation.
// ---------------------------------------------------------------------------

/// A non-negative rational `q` with its exact square root when `q` is a rational square.
struct SqrtQ {
    q: Rational,
    root: Option<Rational>,
}

impl SqrtQ {
    fn new(q: Rational) -> SqrtQ {
        let root = if q >= 0 && q.numer().is_perfect_square() && q.denom().is_perfect_square() {
            Some(Rational::from((
                Integer::from(q.numer().sqrt_ref()),
                Integer::from(q.denom().sqrt_ref()),
            )))
        } else {
            None
        };
        SqrtQ { q, root }
    }

    /// An enclosure of `√q`.
    fn ival(&self, wp: u32) -> Ival {
        match &self.root {
            Some(r) => Ival::from_rational(r, wp),
            None => Ival::from_rational(&self.q, wp)
                .sqrt()
                .expect("a non-negative rational rounds down to a non-negative float"),
        }
    }
}

/// A rational vector over a common denominator: `v[k] = num[k] / den`.
struct Row {
    num: Vec<Integer>,
    /// `num[k]` as exact floats (for the gradient accumulations).
    num_f: Vec<Float>,
    den: Integer,
    /// `v·v` (exact).
    sq: Rational,
    norm: SqrtQ,
    zero: bool,
}

fn exact_float(i: &Integer) -> Float {
    Float::with_val(i.significant_bits().max(8), i)
}

impl Row {
    fn new(v: &[Rational], with_floats: bool) -> Row {
        let mut den = Integer::from(1);
        for r in v {
            den.lcm_mut(r.denom());
        }
        let num: Vec<Integer> = v
            .iter()
            .map(|r| Integer::from(&den / r.denom()) * r.numer())
            .collect();
        let mut acc = Integer::new();
        for a in &num {
            acc += a * a;
        }
        let zero = acc == 0;
        let sq = Rational::from((acc, Integer::from(den.square_ref())));
        let num_f = if with_floats {
            num.iter().map(exact_float).collect()
        } else {
            Vec::new()
        };
        Row {
            num_f,
            den,
            norm: SqrtQ::new(sq.clone()),
            sq,
            num,
            zero,
        }
    }
}

fn dot(a: &Row, b: &Row) -> Rational {
    let mut acc = Integer::new();
    for (u, v) in a.num.iter().zip(&b.num) {
        acc += u * v;
    }
    Rational::from((acc, Integer::from(&a.den * &b.den)))
}

/// The target's margin: ψ with `m ≠ 1`, or a head (not the identity `t(c) = c`).
enum Margin {
    Int(u32),
    Real(Rational),
    Head(Combined, Semantics),
}

/// The logits' form: `s·‖x‖·cos θ_j` (A-Softmax), `s·W_j·x` (L-Softmax) or `s·cos θ_j`
/// (a head's cosine logits: [`Head`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Logits {
    ASoftmax,
    LSoftmax,
    Cosine,
}

fn logits_of(spec: &LossSpec) -> Logits {
    match (&spec.head, spec.variant) {
        (Some(_), _) => Logits::Cosine,
        (None, Variant::ASoftmax) => Logits::ASoftmax,
        (None, Variant::LSoftmax) => Logits::LSoftmax,
    }
}

/// Exact data of a target pair `(x_n, W_{y_n})` with `x_n ≠ 0`, `W_{y_n} ≠ 0`.
struct Target {
    /// `(W·W)(x·x)`; its root is `‖W‖‖x‖`.
    prod: SqrtQ,
    /// `c` when it is rational.
    c_exact: Option<Rational>,
    /// `sin θ = √(1 − c²)`, `1 − c² = ((W·W)(x·x) − (W·x)²)/((W·W)(x·x))` exact.
    sin: SqrtQ,
    /// `c² ≤ 1/2` (θ is then computed as `acos c`, otherwise from `asin(sin θ)`).
    c2_le_half: bool,
    wx_pos: bool,
    /// ψ(c) and ψ′(c) when exactly known (integer m with rational c; c = 1).
    psi_exact: Option<Rational>,
    dpsi_exact: Option<Rational>,
    /// For an irrational `c` (integer m): `c` as an exact surd `±√(c²)`, and
    /// `ψ = a + b·c`, `ψ′ = a′ + b′·c` with rational coefficients ([`linear_psi`]).
    c_surd: Surd,
    /// `c²`, exact.
    c2: Rational,
    lin: Option<[Rational; 4]>,
    /// A head's piece at `c`.
    piece: Option<head::Piece>,
}

/// `ψ(c) = a + b·c` and `ψ′(c) = a′ + b′·c` exactly, for an integer `m` and an irrational
/// `c` with rational `c²`: with `w = 2c² − 1 = T_2(c)`, `T_m(c) = T_{m/2}(w)` (m even) or
/// `c·(U_k(w) − U_{k−1}(w))` (m = 2k + 1), and `U_{m−1}(c) = 2c·U_{m/2−1}(w)` (m even) or
/// `U_k(w) + U_{k−1}(w)` (m = 2k + 1). The branch `k` of ψ is decided by comparing `c`
/// with `cos(jπ/m)` (never equal: [`threshold_of`] handles the equal cases).
/// `None` when too large for exact rationals.
fn linear_psi(m: u32, c2: &Rational, positive: bool) -> Result<Option<[Rational; 4]>, Error> {
    let w = Rational::from(c2 * 2u32) - 1u32;
    if !crate::multiangle::exact_route_is_cheap(m, &w) {
        return Ok(None);
    }
    let ch = |n: u32| crate::multiangle::chebyshev_exact(n, &w);
    // U_n(w) = chebyshev_exact(n + 1, w).1, with U_{−1} = 0.
    let u = |n: i64| {
        if n < 0 {
            Rational::new()
        } else {
            ch(n as u32 + 1).1
        }
    };
    let h = i64::from(m / 2);
    let (t_rat, t_c, u_rat, u_c) = if m % 2 == 0 {
        (
            ch(m / 2).0,
            Rational::new(),
            Rational::new(),
            u(h - 1) * 2u32,
        )
    } else {
        (
            Rational::new(),
            u(h) - u(h - 1),
            u(h) + u(h - 1),
            Rational::new(),
        )
    };
    let k = branch_irrational(m, c2, positive)?;
    let sign = if k % 2 == 0 { 1 } else { -1 };
    let mm = Rational::from(m);
    Ok(Some([
        t_rat * sign - Rational::from(2 * i64::from(k)),
        t_c * sign,
        u_rat * sign * &mm,
        u_c * sign * &mm,
    ]))
}

/// A head's target at `c` (sample `i`, class `yi`): its exact value and slope when
/// rational, and its piece. With `slope` (the margin backward) a slope that is `±∞` or
/// undefined is an [`Error::Degenerate`]: the loss has no gradient there.
fn head_exact(
    h: &Combined,
    semantics: Semantics,
    c: &ExactCos<'_>,
    slope: bool,
    i: usize,
    yi: usize,
) -> Result<(Option<Rational>, Option<Rational>, head::Piece), Error> {
    let piece = head::piece(h, c)?;
    let value = head::value_exact(h, piece, c);
    let dvalue = if slope {
        match head::slope_at(h, c, semantics)? {
            SlopeAt::Exact(r) => Some(r),
            SlopeAt::Interior => None,
            SlopeAt::NonFinite(s) => {
                let what = match s {
                    head::Slope::PosInf => "+inf",
                    head::Slope::NegInf => "-inf",
                    _ => "undefined",
                };
                let at = match c {
                    ExactCos::Rational(c) => describe_rational(c),
                    ExactCos::Surd { .. } => "an irrational c".into(),
                };
                return Err(degenerate(format!(
                    "sample {i}: the head's target logit (class {yi}) has slope {what} in cos θ at c = {at} under the {} semantics: the loss has no gradient there (a float backward gives inf or NaN); request the value only, or use straight_through",
                    semantics.name()
                )));
            }
        }
    } else {
        None
    };
    Ok((value, dvalue, piece))
}

/// `k = #{j ∈ 1..m−1 : c < cos(jπ/m)}` for `c = ±√c2` irrational and not a threshold.
fn branch_irrational(m: u32, c2: &Rational, positive: bool) -> Result<u32, Error> {
    let below = |j: u32| -> Result<bool, Error> {
        ziv::refine("branch comparison", 64, |wp| {
            let r = Ival::from_rational(c2, wp).sqrt().expect("c² ≥ 0");
            let c = if positive { r } else { r.neg() };
            let t = Ival::pi(wp)
                .mul(&Ival::from_integer(&j.into(), wp))
                .div(&Ival::from_integer(&m.into(), wp))
                .expect("m > 0")
                .cos();
            Ok(c.cmp_certain(&t).map(|o| o == std::cmp::Ordering::Less))
        })
    };
    // The thresholds decrease in j: find the largest j with c < cos(jπ/m).
    let (mut lo, mut hi) = (0u32, m.saturating_sub(1));
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if below(mid)? {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(lo)
}

enum TargetLogit {
    /// `m = 1`: the target logit is the plain logit.
    Plain,
    /// The margin logit.
    Margin(Box<Target>),
    /// `x_n = 0`, or L-Softmax with `W_y = 0`: the margin logit is `0` by continuity.
    Zero,
}

/// The projection `P = x − ((W·x)/(W·W))·W = num/den` (nonzero), with the mean-loss
/// gradient factor `s/N` folded in: `scaled_inv_den = s/(N·den)`.
struct Proj {
    num: Vec<Float>,
    inum: Vec<Integer>,
    /// `P = inv_den·inum`.
    inv_den: Rational,
}

struct Prepared<'a> {
    spec: &'a LossSpec,
    n: usize,
    classes: usize,
    d: usize,
    x: Vec<Row>,
    w: Vec<Row>,
    /// `W_j·x_n` at `n·C + j`.
    wx: Vec<Rational>,
    /// `s·W_j·x_n` at `n·C + j`.
    swx: Vec<Rational>,
    /// The plain logit when exactly rational.
    plain_exact: Vec<Option<Rational>>,
    targets: Vec<TargetLogit>,
    margin: Option<Margin>,
    /// The backward differentiates the margin (Full, `m ≠ 1`, `C > 1`, gradient requested).
    margin_backward: bool,
    /// `P` at `n·C + j` when needed for the gradient and nonzero.
    proj: Vec<Option<Proj>>,
    /// The logits' form.
    logits: Logits,
    /// Cosine logits: `(W_j·W_j)(x_n·x_n)` at `n·C + j` (its root is `‖W_j‖‖x_n‖`).
    pair: Vec<SqrtQ>,
    /// Cosine logits with gradients: `Q = W_j − ((W_j·x_n)/(x_n·x_n))·x_n` at `n·C + j`
    /// when nonzero (`∂c/∂x_n = Q/(‖W_j‖‖x_n‖)`).
    projx: Vec<Option<Proj>>,
    /// `1/(1 + λ)`.
    inv1l: Rational,
}

impl Prepared<'_> {
    /// The logit `f_nj` when it is a known rational.
    fn logit_rational(&self, n: usize, j: usize) -> Option<Rational> {
        match logit_exact(self, n, j)? {
            (std::cmp::Ordering::Less, sq) => psi::rational_sqrt(&sq).map(|r| -r),
            (_, sq) => psi::rational_sqrt(&sq),
        }
    }
}

fn shape(what: String) -> Error {
    Error::Shape { what }
}

fn degenerate(what: String) -> Error {
    Error::Degenerate { what }
}

fn validate(spec: &LossSpec) -> Result<(usize, usize, usize), Error> {
    let n = spec.x.len();
    if n == 0 {
        return Err(shape("empty batch: x has no rows (N = 0)".into()));
    }
    let classes = spec.w.len();
    if classes == 0 {
        return Err(shape("w has no rows (C = 0): there are no classes".into()));
    }
    let d = spec.x[0].len();
    if d == 0 {
        return Err(shape("x[0] has no components (d = 0)".into()));
    }
    for (i, r) in spec.x.iter().enumerate() {
        if r.len() != d {
            return Err(shape(format!(
                "x[{i}] has {} components, expected {d} (the length of x[0])",
                r.len()
            )));
        }
    }
    for (j, r) in spec.w.iter().enumerate() {
        if r.len() != d {
            return Err(shape(format!(
                "w[{j}] has {} components, expected {d} (the length of the rows of x)",
                r.len()
            )));
        }
    }
    if spec.y.len() != n {
        return Err(shape(format!(
            "y has {} labels, expected one per row of x (N = {n})",
            spec.y.len()
        )));
    }
    for (i, &l) in spec.y.iter().enumerate() {
        if l >= classes {
            return Err(shape(format!(
                "label y[{i}] = {l} is not a class index: w has {classes} rows"
            )));
        }
    }
    if spec.m < 1 || spec.m > MAX_M {
        return Err(Error::Domain {
            arg: "m",
            value: describe_rational(&spec.m),
            expected: "a margin m with 1 <= m <= 65536",
        });
    }
    if spec.lambda < 0 {
        return Err(Error::Domain {
            arg: "lambda",
            value: describe_rational(&spec.lambda),
            expected: "lambda >= 0",
        });
    }
    if spec.scale <= 0 {
        return Err(Error::Domain {
            arg: "scale",
            value: describe_rational(&spec.scale),
            expected: "scale > 0",
        });
    }
    if let Some(h) = &spec.head {
        h.margin.validate()?;
        let unused = |arg, value: String| Error::Domain {
            arg,
            value,
            expected: "m = 1, variant a_softmax and backward full with a head (the head carries its margin, logits and semantics)",
        };
        if spec.m != 1 {
            return Err(unused("m", describe_rational(&spec.m)));
        }
        if spec.variant != Variant::ASoftmax {
            return Err(unused("variant", format!("{:?}", spec.variant)));
        }
        if spec.backward != Backward::Full {
            return Err(unused("backward", format!("{:?}", spec.backward)));
        }
    }
    Ok((n, classes, d))
}

/// Rejects zero rows that normalized logits have no direction for: class weights for
/// A-Softmax and cosine logits, features for cosine logits.
fn check_zero_rows(logits: Logits, x: &[Row], w: &[Row]) -> Result<(), Error> {
    if logits == Logits::LSoftmax {
        return Ok(());
    }
    if let Some(j) = w.iter().position(|r| r.zero) {
        return Err(degenerate(if logits == Logits::ASoftmax {
            format!(
                "w[{j}] is the zero vector: A-Softmax normalizes the class weights, and a zero row has no direction"
            )
        } else {
            format!(
                "w[{j}] is the zero vector: a head's cosine logits normalize the class weights, and a zero row has no direction"
            )
        }));
    }
    match x.iter().position(|r| r.zero) {
        Some(i) if logits == Logits::Cosine => Err(degenerate(format!(
            "x[{i}] is the zero vector: a head's cosine logits normalize the features, and a zero feature has no direction"
        ))),
        _ => Ok(()),
    }
}

/// The target's margin, `None` when the target logit is the plain one (`m = 1`, or a
/// head with `t(c) = c`).
fn margin_of(spec: &LossSpec) -> Option<Margin> {
    match &spec.head {
        Some(h) => {
            let c = &h.margin;
            let identity = c.m1 == 1 && c.m2 == 0 && c.m3 == 0;
            (!identity).then(|| Margin::Head(c.clone(), h.semantics))
        }
        None if spec.m == 1 => None,
        None if *spec.m.denom() == 1 => {
            Some(Margin::Int(spec.m.numer().to_u32().expect("m <= 65536")))
        }
        None => Some(Margin::Real(spec.m.clone())),
    }
}

/// `a − ((a·b)/(b·b))·b` exactly (`ab = a·b`), when nonzero: `a` and `b` nonzero and
/// not parallel.
fn projection(a: &Row, b: &Row, ab: &Rational) -> Option<Proj> {
    let parallel = Rational::from(ab.square_ref()) == Rational::from(&a.sq * &b.sq);
    if a.zero || b.zero || parallel {
        return None;
    }
    // t = (a·b)/(b·b) = tn/td: P[k] = (an[k]·td·Db − bn[k]·tn·Da) / (Da·td·Db).
    let t = Rational::from(ab / &b.sq);
    let ca = Integer::from(t.denom() * &b.den);
    let cb = Integer::from(t.numer() * &a.den);
    let inum: Vec<Integer> = a
        .num
        .iter()
        .zip(&b.num)
        .map(|(ak, bk)| Integer::from(ak * &ca) - Integer::from(bk * &cb))
        .collect();
    Some(Proj {
        num: inum.iter().map(exact_float).collect(),
        inum,
        inv_den: Rational::from((1, Integer::from(&a.den * &ca))),
    })
}

/// The exact geometry of a target pair `(x, W)` (both nonzero, `v = W·x`): `c` when
/// rational and as `±√c²`, `sin θ`, `(W·W)(x·x)`; no margin values yet ([`exact_margin`]).
fn target_geometry(xr: &Row, wr: &Row, v: &Rational) -> Target {
    let prod = Rational::from(&wr.sq * &xr.sq);
    let v2 = Rational::from(v.square_ref());
    let sin2 = Rational::from(&prod - &v2) / &prod;
    let c2_le_half = Rational::from(&v2 / &prod) <= Rational::from((1, 2));
    let prod = SqrtQ::new(prod);
    // c = (W·x)/√prod: rational when prod is a square, or when W·x = 0.
    let c_exact = match &prod.root {
        _ if *v == 0 => Some(Rational::new()),
        Some(r) => Some(Rational::from(v / r)),
        None => None,
    };
    let c2 = Rational::from(&v2 / &prod.q);
    let root = Surd::sqrt(c2.clone());
    Target {
        c_surd: if *v > 0 {
            root
        } else {
            root.scale(&Rational::from(-1))
        },
        c2,
        lin: None,
        prod,
        c_exact,
        sin: SqrtQ::new(sin2),
        c2_le_half,
        wx_pos: *v > 0,
        psi_exact: None,
        dpsi_exact: None,
        piece: None,
    }
}

/// The margin's exact values at target `t` (sample `i`, class `yi`): ψ and ψ′ (rational
/// `c`, a threshold, `c = 1`), the linear form of ψ at an irrational `c`, or a head's
/// piece, value and slope ([`head_exact`]); with `slope` (the margin backward), the
/// errors where there is no gradient.
fn exact_margin(
    mg: &Margin,
    t: &mut Target,
    slope: bool,
    i: usize,
    yi: usize,
) -> Result<(), Error> {
    let (psi_exact, dpsi_exact) = match (mg, &t.c_exact) {
        (Margin::Head(h, sem), c) => {
            let at = match c {
                Some(c) => ExactCos::Rational(c),
                None => ExactCos::Surd {
                    square: &t.c2,
                    positive: t.wx_pos,
                },
            };
            let (value, dvalue, piece) = head_exact(h, *sem, &at, slope, i, yi)?;
            t.piece = Some(piece);
            (value, dvalue)
        }
        (Margin::Int(mi), Some(c)) => (
            Some(psi::psi_cos_exact(*mi, c)?),
            Some(psi::dpsi_dcos_exact(*mi, c)?),
        ),
        // c = cos(jπ/m) irrational (c² = 1/2 or 3/4): ψ = 1 − 2j, ψ′ = 0.
        (Margin::Int(mi), None) => match threshold_of(*mi, &t.c2, t.wx_pos) {
            Some(j) => (
                Some(Rational::from(1 - 2 * i64::from(j))),
                Some(Rational::new()),
            ),
            None => (None, None),
        },
        (Margin::Real(mr), Some(c)) if *c == 1 => (
            Some(Rational::from(1)),
            Some(Rational::from(mr.square_ref())),
        ),
        (Margin::Real(mr), Some(c)) if *c == -1 && slope => {
            return Err(degenerate(format!(
                "x[{i}] is antiparallel to w[{yi}] (θ = π): for the non-integer margin m = {}, ψ has an infinite slope in cos θ there and the loss has no gradient",
                describe_rational(mr)
            )));
        }
        _ => (None, None),
    };
    if let (Margin::Int(mi), None, None) = (mg, &t.c_exact, &psi_exact) {
        t.lin = linear_psi(*mi, &t.c2, t.wx_pos)?;
    }
    t.psi_exact = psi_exact;
    t.dpsi_exact = dpsi_exact;
    Ok(())
}

fn prepare(spec: &LossSpec, grad: bool) -> Result<Prepared<'_>, Error> {
    let (n, classes, d) = validate(spec)?;
    let logits = logits_of(spec);
    let a_softmax = logits == Logits::ASoftmax;
    let cosine = logits == Logits::Cosine;
    let x: Vec<Row> = spec.x.iter().map(|r| Row::new(r, grad)).collect();
    let w: Vec<Row> = spec.w.iter().map(|r| Row::new(r, grad)).collect();
    check_zero_rows(logits, &x, &w)?;
    let margin = margin_of(spec);
    let full = match &spec.head {
        Some(h) => h.semantics != Semantics::StraightThrough,
        None => spec.backward == Backward::Full,
    };
    let margin_backward = grad && full && margin.is_some() && classes > 1;
    let mut wx = Vec::with_capacity(n * classes);
    let mut swx = Vec::with_capacity(n * classes);
    let mut plain_exact = Vec::with_capacity(n * classes);
    let mut pair = Vec::new();
    for xr in &x {
        for wr in &w {
            let v = dot(xr, wr);
            let sv = Rational::from(&spec.scale * &v);
            plain_exact.push(match logits {
                Logits::ASoftmax => wr.norm.root.as_ref().map(|nu| Rational::from(&sv / nu)),
                Logits::LSoftmax => Some(sv.clone()),
                Logits::Cosine => {
                    let pq = SqrtQ::new(Rational::from(&wr.sq * &xr.sq));
                    let e = pq.root.as_ref().map(|nu| Rational::from(&sv / nu));
                    pair.push(pq);
                    e
                }
            });
            wx.push(v);
            swx.push(sv);
        }
    }
    let mut targets = Vec::with_capacity(n);
    for (i, &yi) in spec.y.iter().enumerate() {
        let t = match &margin {
            None => TargetLogit::Plain,
            Some(_) if x[i].zero || w[yi].zero => {
                if margin_backward {
                    return Err(degenerate(if x[i].zero {
                        format!(
                            "x[{i}] is the zero vector: the loss there is ln C by continuity, but its gradient in x[{i}] does not exist with the margin m = {} (target class {yi}); request the value only, or use the detached-margin backward",
                            describe_rational(&spec.m)
                        )
                    } else {
                        format!(
                            "w[{yi}] is the zero vector and the target of sample {i}: the L-Softmax target logit s·‖W‖‖x‖φ(cos θ) is not differentiable in W at W = 0 for m = {}",
                            describe_rational(&spec.m)
                        )
                    }));
                }
                TargetLogit::Zero
            }
            Some(mg) => {
                let mut t = target_geometry(&x[i], &w[yi], &wx[i * classes + yi]);
                exact_margin(mg, &mut t, margin_backward, i, yi)?;
                TargetLogit::Margin(Box::new(t))
            }
        };
        targets.push(t);
    }
    let mut proj = Vec::new();
    let mut projx = Vec::new();
    if grad && classes > 1 {
        proj.reserve(n * classes);
        for (i, xr) in x.iter().enumerate() {
            for (j, wr) in w.iter().enumerate() {
                let needed = a_softmax
                    || cosine
                    || (j == spec.y[i]
                        && margin_backward
                        && matches!(targets[i], TargetLogit::Margin(_)));
                let v = &wx[i * classes + j];
                // P = x − ((W·x)/(W·W))·W; for cosine logits also Q = W − ((W·x)/(x·x))·x.
                proj.push(needed.then(|| projection(xr, wr, v)).flatten());
                if cosine {
                    projx.push(projection(wr, xr, v));
                }
            }
        }
    }
    Ok(Prepared {
        spec,
        n,
        classes,
        d,
        x,
        w,
        wx,
        swx,
        plain_exact,
        targets,
        margin,
        margin_backward,
        proj,
        logits,
        pair,
        projx,
        inv1l: Rational::from(1) / Rational::from(&spec.lambda + 1u32),
    })
}

// ---------------------------------------------------------------------------
// Evaluation at a working precision.
// ---------------------------------------------------------------------------

fn zero(wp: u32) -> Ival {
    Ival::point(Float::new(wp))
}

fn one(wp: u32) -> Ival {
    Ival::point(Float::with_val(wp, 1))
}

/// A running interval sum `Σ coef·v` with exact float factors `v`, each step one
/// directed-rounding fused multiply-add per endpoint.
struct Acc {
    lo: Float,
    hi: Float,
}

impl Acc {
    fn new(wp: u32) -> Acc {
        Acc {
            lo: Float::new(wp),
            hi: Float::new(wp),
        }
    }

    fn add_mul(&mut self, coef: &Ival, v: &Float, scratch: &mut Float) {
        if v.is_zero() {
            return;
        }
        // For v > 0 the lower sum uses coef.lo (rounded down before the fma, which only
        // lowers the product), the upper sum coef.hi (rounded up); for v < 0 the roles swap.
        let pos = v.is_sign_positive();
        let (l, lr, h, hr) = if pos {
            (coef.lo(), Round::Down, coef.hi(), Round::Up)
        } else {
            (coef.hi(), Round::Up, coef.lo(), Round::Down)
        };
        scratch.assign_round(l, lr);
        scratch.mul_add_round(v, &self.lo, Round::Down);
        std::mem::swap(&mut self.lo, scratch);
        scratch.assign_round(h, hr);
        scratch.mul_add_round(v, &self.hi, Round::Up);
        std::mem::swap(&mut self.hi, scratch);
    }

    fn add_ival(&mut self, v: &Ival) {
        self.lo = Float::with_val_round(self.lo.prec(), &self.lo + v.lo(), Round::Down).0;
        self.hi = Float::with_val_round(self.hi.prec(), &self.hi + v.hi(), Round::Up).0;
    }

    fn into_ival(self) -> Option<Ival> {
        Ival::new(self.lo, self.hi)
    }
}

/// ψ and (optionally) ψ′ at the target's `c`.
struct TargetEval {
    c: Ival,
    psi: Ival,
    dpsi: Option<Ival>,
}

fn theta_ival(t: &Target, c: &Ival, wp: u32) -> Option<Ival> {
    if let Some(ce) = &t.c_exact {
        if *ce == 1 {
            return Some(zero(wp));
        }
        if *ce == -1 {
            return Some(Ival::pi(wp));
        }
    }
    if t.c2_le_half {
        c.acos()
    } else {
        let a = t.sin.ival(wp).asin()?;
        Some(if t.wx_pos { a } else { Ival::pi(wp).sub(&a) })
    }
}

fn eval_target(
    margin: &Margin,
    t: &Target,
    wx: &Rational,
    wp: u32,
    want_dpsi: bool,
) -> Result<Option<TargetEval>, Error> {
    let c = match &t.c_exact {
        Some(c) => Ival::from_rational(c, wp),
        None => match Ival::from_rational(wx, wp).div(&t.prod.ival(wp)) {
            Some(c) => c,
            None => return Ok(None),
        },
    };
    let Some(c) = c.clamp_unit() else {
        return Ok(None);
    };
    let (psi, dpsi) = match margin {
        Margin::Int(mi) => {
            let psi = match &t.psi_exact {
                Some(v) => Ival::from_rational(v, wp),
                None => psi::psi_cos_ival(*mi, &c)?,
            };
            let dpsi = if want_dpsi {
                Some(match &t.dpsi_exact {
                    Some(v) => Ival::from_rational(v, wp),
                    None => psi::dpsi_dcos_ival(*mi, &c)?,
                })
            } else {
                None
            };
            (psi, dpsi)
        }
        Margin::Head(h, _) => match head_ival(h, t, &c, wp, want_dpsi) {
            Some(v) => v,
            None => return Ok(None),
        },
        Margin::Real(mr) => match (&t.psi_exact, &t.dpsi_exact) {
            (Some(v), Some(dv)) => (
                Ival::from_rational(v, wp),
                want_dpsi.then(|| Ival::from_rational(dv, wp)),
            ),
            _ => {
                let Some(theta) = theta_ival(t, &c, wp) else {
                    return Ok(None);
                };
                let psi = psi::psi_theta_ival(mr, &theta)?;
                let dpsi = if want_dpsi {
                    // dψ/dc = (dψ/dθ)/(−sin θ); sin θ > 0 here (c = ±1 are handled exactly).
                    let dt = psi::dpsi_dtheta_ival(mr, &theta)?;
                    match dt.div(&t.sin.ival(wp)) {
                        Some(q) => Some(q.neg()),
                        None => return Ok(None),
                    }
                } else {
                    None
                };
                (psi, dpsi)
            }
        },
    };
    Ok(Some(TargetEval { c, psi, dpsi }))
}

/// A head's `t(c)` and (`want_slope`) `dt/dc` at the target's `c`: exact when known
/// ([`head_exact`]), else enclosed; `None` when `wp` is too low.
fn head_ival(
    h: &Combined,
    t: &Target,
    c: &Ival,
    wp: u32,
    want_slope: bool,
) -> Option<(Ival, Option<Ival>)> {
    // θ = acos c, computed once when a value or slope is not exact.
    let mut th: Option<Ival> = None;
    let mut theta = || -> Option<Ival> {
        if th.is_none() {
            th = theta_ival(t, c, wp);
        }
        th.clone()
    };
    let piece = t.piece.expect("a head's target has its piece");
    let value = match &t.psi_exact {
        Some(v) => Ival::from_rational(v, wp),
        None => head::value_ival(h, piece, c, &theta()?, wp),
    };
    let slope = match (want_slope, &t.dpsi_exact) {
        (false, _) => None,
        (true, Some(v)) => Some(Ival::from_rational(v, wp)),
        (true, None) => Some(head::slope_ival(h, &theta()?, &t.sin.ival(wp), wp)?),
    };
    Some((value, slope))
}

// ---------------------------------------------------------------------------
// Exact values for proofs: sums of rational multiples of square roots.
// ---------------------------------------------------------------------------

/// `Σ q_i·√r_i` with rationals `q_i` and `r_i ≥ 0`: the exact value of a gradient
/// coefficient or logit, used to *prove* that a value is 0 or rational. Square roots
/// of rationals in distinct classes of `Q*/Q*²` are linearly independent over Q
/// (Besicovitch), so grouping the terms by class decides both.
#[derive(Clone, Debug, Default)]
struct Surd(Vec<(Rational, Rational)>);

impl Surd {
    fn rat(q: Rational) -> Surd {
        Surd(vec![(q, Rational::from(1))])
    }

    fn sqrt(r: Rational) -> Surd {
        Surd(vec![(Rational::from(1), r)])
    }

    fn add(mut self, other: &Surd) -> Surd {
        self.0.extend(other.0.iter().cloned());
        self
    }

    fn scale(mut self, q: &Rational) -> Surd {
        for t in &mut self.0 {
            t.0 *= q;
        }
        self
    }

    fn mul(&self, other: &Surd) -> Surd {
        let mut out = Vec::with_capacity(self.0.len() * other.0.len());
        for (a, r) in &self.0 {
            for (b, s) in &other.0 {
                out.push((Rational::from(a * b), Rational::from(r * s)));
            }
        }
        Surd(out)
    }

    /// The terms grouped by square class: `q_0 + Σ_c Q_c·√R_c` as `(q_0, [(Q_c, R_c)])`
    /// with every `Q_c ≠ 0` and the `R_c` in distinct classes, none a square.
    fn reduce(&self) -> (Rational, Vec<(Rational, Rational)>) {
        let mut rational = Rational::new();
        let mut classes: Vec<(Rational, Rational)> = Vec::new();
        for (q, r) in &self.0 {
            if *q == 0 || *r == 0 {
                continue;
            }
            if let Some(root) = psi::rational_sqrt(r) {
                rational += Rational::from(q * &root);
                continue;
            }
            // √r = √(r·R)/R·√R when r·R is a square.
            let hit = classes.iter_mut().find_map(|(sum, rep)| {
                psi::rational_sqrt(&Rational::from(r * &*rep)).map(|root| (sum, root / &*rep))
            });
            match hit {
                Some((sum, ratio)) => *sum += Rational::from(q * &ratio),
                None => classes.push((q.clone(), r.clone())),
            }
        }
        classes.retain(|(q, _)| *q != 0);
        (rational, classes)
    }

    /// `Some(v)` when the value is (provably) the rational `v`, `None` when irrational.
    fn rational(&self) -> Option<Rational> {
        let (q, irr) = self.reduce();
        irr.is_empty().then_some(q)
    }
}

// ---------------------------------------------------------------------------
// Evaluation at a working precision.
// ---------------------------------------------------------------------------

/// One term `coef·v` of a logit's gradient, `v = num/den` an exact rational vector
/// (`W_j`, `x_n` or a projection `P_nj`).
struct Term<'a> {
    coef: Ival,
    /// The exact coefficient, when known (for proofs).
    exact: Option<Surd>,
    /// The coefficient when it is a known rational (for the exact lane).
    rational: Option<Rational>,
    num: &'a [Float],
    inum: &'a [Integer],
    /// The exact factor of `num`: `v = scale·num`.
    scale: Rational,
}

/// The gradient `∂f_j/∂(x_n)` or `∂f_j/∂W_j` of one logit, as terms (without `s/N`).
type Grad<'a> = Vec<Term<'a>>;

/// A sum `exact + base + rest` for one output: an exact rational lane, an enclosed
/// lane of the same order of magnitude, and the small softmax remainder.
struct Out {
    exact: Rational,
    base: Acc,
    rest: Acc,
    /// The exact value of `base` (`None` once an unknown term was added).
    base_exact: Option<Surd>,
    /// The rest is proven to vanish exactly, so it is not accumulated.
    skip_rest: bool,
    /// A remainder term was accumulated.
    rest_used: bool,
}

impl Out {
    fn new(wp: u32, skip_rest: bool) -> Out {
        Out {
            exact: Rational::new(),
            base: Acc::new(wp),
            rest: Acc::new(wp),
            base_exact: Some(Surd::default()),
            skip_rest,
            rest_used: false,
        }
    }

    /// `true` when the remainder's enclosure contains 0 (so it may vanish exactly).
    fn rest_may_vanish(&self) -> bool {
        self.rest_used
            && Ival::new(self.rest.lo.clone(), self.rest.hi.clone())
                .is_none_or(|iv| iv.contains_zero())
    }

    /// The exact value when it is a rational known by structure: no remainder (or one
    /// proven to vanish) and an exact base.
    fn exact_value(&self, rest_vanishes: bool) -> Option<Rational> {
        if self.rest_used && !rest_vanishes {
            return None;
        }
        let b = self
            .base_exact
            .as_ref()?
            .clone()
            .add(&Surd::rat(self.exact.clone()));
        b.rational()
    }

    /// The enclosure `exact + base + rest` as a [`Split`]: the exact lane is its exact
    /// part when dyadic (so that a tiny rest next to a midpoint decides the rounding).
    ///
    /// An exactly known base is reduced first (square roots grouped by class): its
    /// rational part joins the exact lane and only its irrational part is enclosed, so a
    /// base that cancels exactly (`ŵ_J[k] − ŵ_y[k] = 1/√3 − 1/√3`) leaves no interval
    /// residue to swamp a tiny rest.
    fn split(self) -> Split {
        let wp = self.base.lo.prec();
        let mut exact = self.exact;
        let mut iv = match &self.base_exact {
            Some(b) => {
                let (q, irrational) = b.reduce();
                exact += q;
                irrational.iter().fold(zero(wp), |acc, (c, r)| {
                    acc.add(
                        &SqrtQ::new(r.clone())
                            .ival(wp)
                            .mul(&Ival::from_rational(c, wp)),
                    )
                })
            }
            None => self.base.into_ival().expect("ordered"),
        };
        if self.rest_used && !self.skip_rest {
            iv = iv.add(&self.rest.into_ival().expect("ordered"));
        }
        if exact.denom().is_power_of_two() {
            let bits = exact.numer().significant_bits().max(1);
            Split {
                base: Float::with_val(bits, &exact),
                rest: iv,
            }
        } else {
            Split::from(iv.add(&Ival::from_rational(&exact, wp)))
        }
    }
}

/// The softmax of one sample, split around its reference group `G` (the classes whose
/// logits are proven equal to the largest one's): `p_j = δ_j + ρ_j` with
/// `δ_j = [j ∈ G]/|G|` exact and `ρ_j` small — `ρ_j = p_j` outside `G`, and
/// `ρ_j = −S/|G|` in `G`, `S = Σ_{j∉G} p_j` (no `1 − p` is ever formed).
struct SoftSplit {
    in_ref: Vec<bool>,
    size: usize,
    /// `ρ_j` for every class.
    rho: Vec<Ival>,
    /// `ln(Σ_j e^{f_j − f_J}) ≥ 0` (`ln|G| + ln1p(Σ_{j∉G} e^{D_j}/|G|)`).
    log_z: Ival,
}

fn soft_split(f: &[Ival], group: &[bool], wp: u32) -> Option<SoftSplit> {
    let size = group.iter().filter(|&&g| g).count();
    let j_ref = group.iter().position(|&g| g).expect("a reference class");
    let size_i = Ival::from_integer(&Integer::from(size), wp);
    let mut e: Vec<Ival> = Vec::with_capacity(f.len());
    let mut others = zero(wp);
    for (j, fj) in f.iter().enumerate() {
        if group[j] {
            e.push(one(wp));
        } else {
            let v = fj.sub(&f[j_ref]).exp();
            others = others.add(&v);
            e.push(v);
        }
    }
    let z = others.add(&size_i);
    let ln_g = Ival::from_integer(&Integer::from(size), wp).ln()?;
    let log_z = ln_g.add(&others.div(&size_i)?.ln_1p()?);
    let s = others.div(&z)?;
    let rho_ref = s.div(&size_i)?.neg();
    let rho = (0..f.len())
        .map(|j| {
            if group[j] {
                Some(rho_ref.clone())
            } else {
                e[j].div(&z)
            }
        })
        .collect::<Option<Vec<_>>>()?;
    Some(SoftSplit {
        in_ref: group.to_vec(),
        size,
        rho,
        log_z,
    })
}

/// Adds `coef·Σ_terms` to the outputs `outs` (`d` components), in the exact lane when
/// `exact_coef` and the term's coefficient are rational, else in `base` (`to_rest =
/// false`) or `rest`.
fn add_grad(
    outs: &mut [Out],
    g: &Grad<'_>,
    coef: &Ival,
    exact_coef: Option<&Rational>,
    to_rest: bool,
    sn: &Rational,
    scratch: &mut Float,
) {
    for t in g {
        let wp = coef.prec();
        let factor = Rational::from(sn * &t.scale);
        let exact_t = match (exact_coef, &t.rational) {
            (Some(a), Some(b)) if !to_rest => Some(Rational::from(a * b) * &factor),
            _ => None,
        };
        if let Some(q) = exact_t {
            for (o, n) in outs.iter_mut().zip(t.inum) {
                if *n != 0 {
                    o.exact += Rational::from(&q * n);
                }
            }
            continue;
        }
        let c = coef.mul(&t.coef).mul(&Ival::from_rational(&factor, wp));
        let ex = match (exact_coef, &t.exact) {
            (Some(a), Some(s)) => Some(s.clone().scale(&Rational::from(a * &factor))),
            _ => None,
        };
        for ((o, v), n) in outs.iter_mut().zip(t.num).zip(t.inum) {
            if *n == 0 {
                continue;
            }
            if to_rest {
                if !o.skip_rest {
                    o.rest.add_mul(&c, v, scratch);
                    o.rest_used = true;
                }
            } else {
                o.base.add_mul(&c, v, scratch);
                o.base_exact = match (o.base_exact.take(), &ex) {
                    (Some(b), Some(e)) => Some(b.add(&e.clone().scale(&Rational::from(n)))),
                    _ => None,
                };
            }
        }
    }
}

/// A sample's logits and, for a margin target, the target with its ψ, ψ′.
type SampleLogits<'a> = (Vec<Ival>, Option<(&'a Target, TargetEval)>);

/// The logits of sample `n` at `wp`, and the target's ψ, ψ′ when it carries a margin.
fn sample_logits<'a>(
    p: &'a Prepared<'_>,
    n: usize,
    wp: u32,
) -> Result<Option<SampleLogits<'a>>, Error> {
    let spec = p.spec;
    let (cc, y, base) = (p.classes, spec.y[n], n * p.classes);
    let s = Ival::from_rational(&spec.scale, wp);
    let mut f = Vec::with_capacity(cc);
    for j in 0..cc {
        // A-Softmax: s·(W·x)/‖W‖; cosine logits: s·(W·x)/(‖W‖‖x‖).
        let norm = match p.logits {
            Logits::Cosine => p.pair[base + j].ival(wp),
            _ => p.w[j].norm.ival(wp),
        };
        f.push(match &p.plain_exact[base + j] {
            Some(v) => Ival::from_rational(v, wp),
            None => match Ival::from_rational(&p.swx[base + j], wp).div(&norm) {
                Some(v) => v,
                None => return Ok(None),
            },
        });
    }
    let mut teval = None;
    match &p.targets[n] {
        TargetLogit::Plain => {}
        TargetLogit::Zero => f[y] = zero(wp),
        TargetLogit::Margin(t) => {
            let margin = p.margin.as_ref().expect("a margin target has a margin");
            let Some(te) = eval_target(margin, t, &p.wx[base + y], wp, p.margin_backward)? else {
                return Ok(None);
            };
            // f_y = (λ·plain + s·K·ψ)/(1 + λ), K = ‖x‖ (A), ‖W_y‖‖x‖ (L) or 1 (cosine).
            let k = match p.logits {
                Logits::ASoftmax => p.x[n].norm.ival(wp),
                Logits::LSoftmax => t.prod.ival(wp),
                Logits::Cosine => one(wp),
            };
            let lam = Ival::from_rational(&spec.lambda, wp);
            let inv1l = Ival::from_rational(&p.inv1l, wp);
            f[y] = lam.mul(&f[y]).add(&s.mul(&k).mul(&te.psi)).mul(&inv1l);
            teval = Some((&**t, te));
        }
    }
    Ok(Some((f, teval)))
}

/// `φ′`, `φ − c·φ′` and `φ` of a margin target: enclosed, and exact when ψ, ψ′ and c are.
struct Phi {
    d: Ival,
    q: Ival,
    phi: Ival,
    /// `φ′`, `φ − c·φ′`, `φ` exactly, when known.
    exact: Option<(Surd, Surd, Surd)>,
}

/// The branch threshold `j ∈ 1..m−1` with `cos(jπ/m) = c`, for an irrational `c` given by
/// `c²` and its sign. `cos²(jπ/m) = (1 + cos(2jπ/m))/2` is rational only where Niven's
/// theorem allows (`cos(2jπ/m) ∈ {0, ±½, ±1}`); an irrational `c` with rational `c²`
/// can thus equal a threshold only with `c² = ½` (`j/m = ¼, ¾`) or `c² = ¾` (`j/m = ⅙, ⅚`).
fn threshold_of(m: u32, c2: &Rational, positive: bool) -> Option<u32> {
    let frac = if *c2 == Rational::from((1, 2)) {
        if positive { (1, 4) } else { (3, 4) }
    } else if *c2 == Rational::from((3, 4)) {
        if positive { (1, 6) } else { (5, 6) }
    } else {
        return None;
    };
    // j = m·frac must be an integer.
    let (num, den) = (u64::from(m) * frac.0, frac.1);
    (num % den == 0).then(|| (num / den) as u32)
}

fn phi_of(p: &Prepared<'_>, t: &Target, te: &TargetEval) -> Phi {
    // Exact (as surds α + β·c) when ψ and ψ′ are: rational at a rational c or a
    // threshold, linear in c at another irrational c (integer m).
    let l = &p.spec.lambda;
    let (a, b, da, db) = match (&t.lin, &t.psi_exact, &t.dpsi_exact) {
        (Some([a, b, da, db]), _, _) => (a.clone(), b.clone(), da.clone(), db.clone()),
        (None, Some(ps), Some(dp)) => (ps.clone(), Rational::new(), dp.clone(), Rational::new()),
        _ => return phi_enclosed(p, te, None),
    };
    let c = match &t.c_exact {
        Some(c) => Surd::rat(c.clone()),
        None => t.c_surd.clone(),
    };
    let lin = |x: Rational, y: Rational| Surd::rat(x).add(&c.clone().scale(&y)).scale(&p.inv1l);
    let c2 = c.mul(&c);
    // φ′ = (λ + ψ′)/(1 + λ); φ − cφ′ = (ψ − cψ′)/(1 + λ); φ = (λc + ψ)/(1 + λ).
    let d = lin(Rational::from(l + &da), db.clone());
    let q = Surd::rat(a.clone())
        .add(&c.clone().scale(&(b.clone() - &da)))
        .add(&c2.scale(&-db))
        .scale(&p.inv1l);
    let phi = lin(a, b + l);
    phi_enclosed(p, te, Some((d, q, phi)))
}

/// [`Phi`] from the target's enclosures, with the exact surds when known.
fn phi_enclosed(p: &Prepared<'_>, te: &TargetEval, exact: Option<(Surd, Surd, Surd)>) -> Phi {
    let wp = te.c.prec();
    let lam = Ival::from_rational(&p.spec.lambda, wp);
    let inv1l = Ival::from_rational(&p.inv1l, wp);
    let dpsi = te
        .dpsi
        .as_ref()
        .expect("ψ′ is computed for the margin backward");
    Phi {
        d: lam.add(dpsi).mul(&inv1l),
        q: te.psi.sub(&te.c.mul(dpsi)).mul(&inv1l),
        phi: lam.mul(&te.c).add(&te.psi).mul(&inv1l),
        exact,
    }
}

/// A term coefficient: enclosed, exact ([`Surd`]) and, when rational, that rational.
#[derive(Clone)]
struct Coef {
    iv: Ival,
    exact: Option<Surd>,
    rational: Option<Rational>,
}

impl Coef {
    fn rat(q: &Rational, wp: u32) -> Coef {
        Coef {
            iv: Ival::from_rational(q, wp),
            exact: Some(Surd::rat(q.clone())),
            rational: Some(q.clone()),
        }
    }

    /// `√r` with `r.q` rational: its root known in `r.root` when rational.
    fn sqrt(r: &SqrtQ, wp: u32) -> Coef {
        Coef {
            iv: r.ival(wp),
            exact: Some(Surd::sqrt(r.q.clone())),
            rational: r.root.clone(),
        }
    }

    /// `1/√r`.
    fn inv_sqrt(r: &SqrtQ, wp: u32) -> Coef {
        Coef {
            iv: one(wp).div(&r.ival(wp)).expect("a nonzero norm"),
            exact: Some(Surd::sqrt(Rational::from(r.q.recip_ref()))),
            rational: r.root.as_ref().map(|v| Rational::from(v.recip_ref())),
        }
    }

    /// An enclosed coefficient with an optional exact value.
    fn surd(iv: Ival, exact: Option<Surd>) -> Coef {
        let rational = exact.as_ref().and_then(Surd::rational);
        Coef {
            iv,
            exact,
            rational,
        }
    }

    fn mul(&self, o: &Coef) -> Coef {
        Coef {
            iv: self.iv.mul(&o.iv),
            exact: self
                .exact
                .as_ref()
                .zip(o.exact.as_ref())
                .map(|(a, b)| a.mul(b)),
            rational: self
                .rational
                .as_ref()
                .zip(o.rational.as_ref())
                .map(|(a, b)| Rational::from(a * b)),
        }
    }
}

/// `∂f_j/∂x_n` and `∂f_j/∂W_j` of sample `n` as terms (see [`crate::derivations::gradients`],
/// without `s`).
fn logit_grads<'a>(
    p: &'a Prepared<'_>,
    n: usize,
    j: usize,
    te: Option<&(&Target, TargetEval)>,
    wp: u32,
) -> Option<(Grad<'a>, Grad<'a>)> {
    let a_softmax = p.logits == Logits::ASoftmax;
    let (xr, wr) = (&p.x[n], &p.w[j]);
    let row = |r: &'a Row, c: Coef| Term {
        coef: c.iv,
        exact: c.exact,
        rational: c.rational,
        num: &r.num_f,
        inum: &r.num,
        scale: Rational::from((1, &r.den)),
    };
    let proj = p.proj.get(n * p.classes + j).and_then(|q| q.as_ref());
    let proj_term = |c: Coef| {
        proj.map(|pr| Term {
            coef: c.iv,
            exact: c.exact,
            rational: c.rational,
            num: &pr.num,
            inum: &pr.inum,
            scale: pr.inv_den.clone(),
        })
    };
    let margin = te.filter(|_| j == p.spec.y[n] && p.margin_backward);
    let (mut gx, mut gw) = (Vec::new(), Vec::new());
    if p.logits == Logits::Cosine {
        // f = s·φ(c) (φ(c) = c off the margin): ∂c/∂x = Q/(‖W‖‖x‖), ∂c/∂W = P/(‖W‖‖x‖).
        let d = match margin {
            None => Coef::rat(&Rational::from(1), wp),
            Some((t, te)) => match &t.dpsi_exact {
                Some(dp) => Coef::rat(&((&p.spec.lambda + dp.clone()) * &p.inv1l), wp),
                None => Coef::surd(phi_enclosed(p, te, None).d, None),
            },
        };
        let dc = d.mul(&Coef::inv_sqrt(&p.pair[n * p.classes + j], wp));
        let projx = p.projx.get(n * p.classes + j).and_then(|q| q.as_ref());
        gx.extend(projx.map(|q| Term {
            coef: dc.iv.clone(),
            exact: dc.exact.clone(),
            rational: dc.rational.clone(),
            num: &q.num,
            inum: &q.inum,
            scale: q.inv_den.clone(),
        }));
        gw.extend(proj_term(dc));
        return Some((gx, gw));
    }
    match (margin, a_softmax) {
        (None, true) => {
            gx.push(row(wr, Coef::inv_sqrt(&wr.norm, wp)));
            gw.extend(proj_term(Coef::inv_sqrt(&wr.norm, wp)));
        }
        (None, false) => {
            gx.push(row(wr, Coef::rat(&Rational::from(1), wp)));
            if !xr.zero {
                gw.push(row(xr, Coef::rat(&Rational::from(1), wp)));
            }
        }
        (Some((t, te)), _) => {
            let ph = phi_of(p, t, te);
            let (ed, eq, ephi) = match ph.exact {
                Some((d, q, phi)) => (Some(d), Some(q), Some(phi)),
                None => (None, None, None),
            };
            let d = Coef::surd(ph.d, ed);
            let q = Coef::surd(ph.q, eq);
            let phi = Coef::surd(ph.phi, ephi);
            if a_softmax {
                gx.push(row(wr, d.mul(&Coef::inv_sqrt(&wr.norm, wp))));
                gx.push(row(xr, q.mul(&Coef::inv_sqrt(&xr.norm, wp))));
                gw.extend(proj_term(d.mul(&Coef::inv_sqrt(&wr.norm, wp))));
            } else {
                // ν/r = ν·r/(x·x) and r/ν = ν·r/(W·W).
                let root = Coef::sqrt(&t.prod, wp);
                let nu_r = root.mul(&Coef::rat(&Rational::from(xr.sq.recip_ref()), wp));
                let r_nu = root.mul(&Coef::rat(&Rational::from(wr.sq.recip_ref()), wp));
                gx.push(row(xr, q.mul(&nu_r)));
                gw.push(row(wr, phi.mul(&r_nu)));
                gx.push(row(wr, d.mul(&Coef::rat(&Rational::from(1), wp))));
                gw.extend(proj_term(d));
            }
        }
    }
    Some((gx, gw))
}

/// The reference group of every sample: the class with the largest logit (by a
/// 128-bit evaluation) and every class whose logit is *proven* equal to it.
fn reference_groups(p: &Prepared<'_>) -> Result<Vec<Vec<bool>>, Error> {
    let mut out = Vec::with_capacity(p.n);
    for n in 0..p.n {
        let f = ziv::refine("loss (logits)", 128, |wp| {
            Ok(sample_logits(p, n, wp)?.map(|(f, _)| f))
        })?;
        let mid = |iv: &Ival| Float::with_val(iv.prec() + 1, iv.lo() + iv.hi());
        let j_ref = (0..p.classes)
            .max_by(|&a, &b| mid(&f[a]).partial_cmp(&mid(&f[b])).expect("finite"))
            .expect("C > 0");
        let key = logit_exact(p, n, j_ref);
        out.push(
            (0..p.classes)
                .map(|j| j == j_ref || (key.is_some() && logit_exact(p, n, j) == key))
                .collect(),
        );
    }
    Ok(out)
}

/// The logit `f_nj` exactly, as its sign and square (`f = sign·√square`), when known.
fn logit_exact(p: &Prepared<'_>, n: usize, j: usize) -> Option<(std::cmp::Ordering, Rational)> {
    let spec = p.spec;
    let from_rational = |v: Rational| Some((v.cmp0(), Rational::from(v.square_ref())));
    let idx = n * p.classes + j;
    let plain = || match &p.plain_exact[idx] {
        Some(v) => from_rational(v.clone()),
        // A-Softmax: s·(W·x)/ν; cosine logits: s·(W·x)/(ν·r).
        None => Some((
            p.swx[idx].cmp0(),
            Rational::from(p.swx[idx].square_ref())
                / match p.logits {
                    Logits::Cosine => &p.pair[idx].q,
                    _ => &p.w[j].sq,
                },
        )),
    };
    if j != spec.y[n] {
        return plain();
    }
    match &p.targets[n] {
        TargetLogit::Plain => plain(),
        TargetLogit::Zero => from_rational(Rational::new()),
        TargetLogit::Margin(t) if t.psi_exact.is_none() => odd_linear_logit(p, n, t),
        TargetLogit::Margin(t) => {
            let ps = t.psi_exact.as_ref()?;
            let lc = if spec.lambda == 0 {
                Rational::new()
            } else {
                Rational::from(&spec.lambda * t.c_exact.as_ref()?)
            };
            let phi = (lc + ps) * &p.inv1l;
            let sphi = Rational::from(&spec.scale * &phi);
            Some((
                sphi.cmp0(),
                Rational::from(sphi.square_ref()) * k_squared(p, n, t),
            ))
        }
    }
}

/// The target logit exactly when ψ is `b·c` at an irrational `c` (`ψ = a + b·c` with
/// `a = 0`, [`linear_psi`]: every odd `m` on its branches with `T_m` odd, `m = 1` above
/// all): `f = s·K·(λ + b)·c/(1 + λ)` is one surd, with `(K·c)² = K²·c²` and the sign of
/// `s·(λ + b)·c`. Without it such a target logit (L-Softmax with `m = 1` is the plain
/// logit) could not be proven equal to a tied non-target logit (found by fuzzing).
fn odd_linear_logit(
    p: &Prepared<'_>,
    n: usize,
    t: &Target,
) -> Option<(std::cmp::Ordering, Rational)> {
    let [a, b, ..] = t.lin.as_ref()?;
    if *a != 0 {
        return None;
    }
    let spec = p.spec;
    let g = (&spec.scale * Rational::from(&spec.lambda + b)) * &p.inv1l;
    let c_sign = if t.wx_pos {
        std::cmp::Ordering::Greater
    } else {
        std::cmp::Ordering::Less
    };
    let sign = match g.cmp0() {
        std::cmp::Ordering::Less => c_sign.reverse(),
        std::cmp::Ordering::Equal => std::cmp::Ordering::Equal,
        std::cmp::Ordering::Greater => c_sign,
    };
    Some((
        sign,
        Rational::from(g.square_ref()) * k_squared(p, n, t) * &t.c2,
    ))
}

/// `K²` of a target logit `f = s·K·φ`: `x·x` (A-Softmax, `K = ‖x‖`) or `(W·W)(x·x)`
/// (L-Softmax, `K = ‖W‖‖x‖`) or `1` (cosine logits).
fn k_squared(p: &Prepared<'_>, n: usize, t: &Target) -> Rational {
    match p.logits {
        Logits::ASoftmax => p.x[n].sq.clone(),
        Logits::LSoftmax => t.prod.q.clone(),
        Logits::Cosine => Rational::from(1),
    }
}

/// Everything one evaluation yields: the loss and the gradient components as [`Out`]s.
///
/// The samples are independent up to the sums over samples: each sample's logits,
/// softmax split, gradient terms and its own rows of `∂L/∂X` are computed in parallel
/// ([`sample_work`], a chunk of samples at a time to bound the memory), then the loss and
/// `∂L/∂W` are accumulated sample by sample in order, so every outward-rounded sum is
/// formed in the same order, and gives the same bits, at any thread count.
fn eval(
    p: &Prepared<'_>,
    groups: &[Vec<bool>],
    keys: &KeyCache,
    skip_rest: &[bool],
    wp: u32,
    grad: bool,
) -> Result<Option<Vec<Out>>, Error> {
    let (nn, cc, d) = (p.n, p.classes, p.d);
    let total = 1 + if grad { (nn + cc) * d } else { 0 };
    let mut outs: Vec<Out> = (0..total)
        .map(|i| Out::new(wp, skip_rest.get(i) == Some(&true)))
        .collect();
    if cc == 1 {
        return Ok(Some(outs)); // ℓ = 0 and every gradient is 0, exactly.
    }
    let ctx = SampleCtx {
        p,
        groups,
        keys,
        sn: &p.spec.scale / Rational::from(nn),
        wp,
        grad,
    };
    let inv_n = Rational::from((1, nn));
    let mut scratch = Float::new(wp);
    let mut w_atoms = WAtoms::default();
    let (loss_out, grads_out) = outs.split_first_mut().expect("the loss output");
    let (xs, ws) = grads_out.split_at_mut(if grad { nn * d } else { 0 });
    let mut x_rows: Vec<&mut [Out]> = xs.chunks_mut(d.max(1)).collect();
    x_rows.resize_with(nn, || &mut []);
    let chunk = 4 * par::threads();
    let mut rows = x_rows.into_iter().enumerate().peekable();
    while rows.peek().is_some() {
        let batch: Vec<(usize, &mut [Out])> = rows.by_ref().take(chunk).collect();
        for (n, work) in par::map(batch, |(n, x_out)| (n, sample_work(&ctx, n, x_out))) {
            let Some(work) = work? else {
                return Ok(None);
            };
            add_loss_term(p, n, &work, &inv_n, wp, loss_out);
            if grad {
                add_w_terms(&ctx, n, &work, ws, &mut w_atoms, &mut scratch);
            }
        }
    }
    if grad {
        w_atoms.finish(ws, &ctx.sn, wp);
    }
    Ok(Some(outs))
}

/// What [`sample_work`] needs besides the sample.
struct SampleCtx<'p, 's> {
    p: &'p Prepared<'s>,
    groups: &'p [Vec<bool>],
    keys: &'p KeyCache,
    /// `s/N`.
    sn: Rational,
    wp: u32,
    grad: bool,
}

/// One sample's share of an evaluation, computed independently of the other samples.
struct SampleWork<'a> {
    /// The logits.
    f: Vec<Ival>,
    sm: SoftSplit,
    /// `(∂f_j/∂x_n, ∂f_j/∂W_j)` per class (empty without gradients).
    grads: Vec<(Grad<'a>, Grad<'a>)>,
}

/// `δ_j − [j = y]`: the exact part of `p_j − [j = y]` (see [`SoftSplit`]).
fn delta_of(sm: &SoftSplit, j: usize, y: usize) -> Rational {
    Rational::from((i64::from(sm.in_ref[j]), sm.size as i64)) - i64::from(j == y)
}

/// Sample `n`'s logits, softmax split and gradient terms at `ctx.wp`, with its rows of
/// `∂L/∂X` (its own outputs `x_out`, no other sample's) accumulated; `None` when `wp`
/// does not separate what it must.
fn sample_work<'a>(
    ctx: &SampleCtx<'a, '_>,
    n: usize,
    x_out: &mut [Out],
) -> Result<Option<SampleWork<'a>>, Error> {
    let (p, wp) = (ctx.p, ctx.wp);
    let Some((f, te)) = sample_logits(p, n, wp)? else {
        return Ok(None);
    };
    let Some(sm) = soft_split(&f, &ctx.groups[n], wp) else {
        return Ok(None);
    };
    let mut grads = Vec::new();
    if ctx.grad {
        grads.reserve(p.classes);
        for j in 0..p.classes {
            let Some(g) = logit_grads(p, n, j, te.as_ref(), wp) else {
                return Ok(None);
            };
            grads.push(g);
        }
        let mut scratch = Float::new(wp);
        for (j, (gx, _)) in grads.iter().enumerate() {
            let delta = delta_of(&sm, j, p.spec.y[n]);
            if delta != 0 {
                let di = Ival::from_rational(&delta, wp);
                add_grad(x_out, gx, &di, Some(&delta), false, &ctx.sn, &mut scratch);
            }
        }
        if sm.size < p.classes {
            let keys = ctx.keys[n].get_or_init(|| SampleKeys::of(p, n));
            add_x_rest(x_out, &grads, &sm, keys, &ctx.sn, wp, &mut scratch);
        }
    }
    Ok(Some(SampleWork { f, sm, grads }))
}

/// Adds sample `n`'s `ℓ_n/N = ((f_J − f_y) + ln Σ_j e^{f_j − f_J})/N` to the loss: an
/// exact-or-enclosed part and a rest.
fn add_loss_term(
    p: &Prepared<'_>,
    n: usize,
    work: &SampleWork<'_>,
    inv_n: &Rational,
    wp: u32,
    loss: &mut Out,
) {
    let (f, sm, y) = (&work.f, &work.sm, p.spec.y[n]);
    if !sm.in_ref[y] {
        let j_ref = sm
            .in_ref
            .iter()
            .position(|&g| g)
            .expect("a reference class");
        match (p.logit_rational(n, j_ref), p.logit_rational(n, y)) {
            (Some(a), Some(b)) => loss.exact += (a - b) * inv_n,
            _ => {
                let v = f[j_ref].sub(&f[y]).mul(&Ival::from_rational(inv_n, wp));
                loss.base.add_ival(&v);
                loss.base_exact = None;
            }
        }
    }
    loss.rest
        .add_ival(&sm.log_z.mul(&Ival::from_rational(inv_n, wp)));
    loss.rest_used = true;
}

/// Adds sample `n`'s terms to `∂L/∂W` (`ws`, `C·d` outputs): the exact δ-parts now, the
/// softmax remainders as atoms gathered across samples ([`WAtoms`]) or, when not exact,
/// now.
fn add_w_terms(
    ctx: &SampleCtx<'_, '_>,
    n: usize,
    work: &SampleWork<'_>,
    ws: &mut [Out],
    w_atoms: &mut WAtoms,
    scratch: &mut Float,
) {
    let (p, wp, d, sm) = (ctx.p, ctx.wp, ctx.p.d, &work.sm);
    for (j, (_, gw)) in work.grads.iter().enumerate() {
        let delta = delta_of(sm, j, p.spec.y[n]);
        let rho = &sm.rho[j];
        let w_out = &mut ws[j * d..(j + 1) * d];
        if delta != 0 {
            let di = Ival::from_rational(&delta, wp);
            add_grad(w_out, gw, &di, Some(&delta), false, &ctx.sn, scratch);
        }
        if !(rho.is_point() && rho.lo().is_zero()) {
            match surd_vector(gw, d) {
                Some(u) => {
                    let keys = ctx.keys[n].get_or_init(|| SampleKeys::of(p, n));
                    w_atoms.add(n, keys, j, sm, u);
                }
                None => add_grad(w_out, gw, rho, None, true, &ctx.sn, scratch),
            }
        }
    }
}

/// The weight gradients' softmax remainders `Σ_n ρ_nj·u_nj`, gathered by probability
/// atom before they are enclosed: `ρ_nj` is `P(M_n, f_nj)` outside the reference group
/// and `−Σ_{k∉G} P(M_n, f_nk)/|G|` in it (see [`w_rest_vanishes`]), and samples with the
/// same logit multiset share atoms, so terms that cancel across samples (identical
/// samples with the target on different rows) cancel exactly, leaving no interval
/// residue to swamp a tiny remainder.
#[derive(Default)]
struct WAtoms {
    /// The samples' logit multisets seen so far (an atom names one by index).
    multisets: Vec<Vec<LogitKey>>,
    /// Each sample's multiset index, once known.
    sample_ids: Vec<Option<usize>>,
    /// Atom → its index in `atoms`.
    index: std::collections::HashMap<AtomKey, usize>,
    /// `(class j, probability, exact coefficient vector)` per atom.
    atoms: Vec<(usize, Ival, Vec<Merged>)>,
}

/// A weight-gradient atom: the class whose gradient it feeds, the sample's logit
/// multiset (by index) and the logit whose probability it is.
type AtomKey = (usize, usize, LogitKey);

/// A sample's logit keys ([`logit_key`]) and their sorted multiset.
struct SampleKeys {
    keys: Vec<LogitKey>,
    multiset: Vec<LogitKey>,
}

/// Each sample's [`SampleKeys`], computed once when first needed and kept across the
/// Ziv loop's working precisions (they do not depend on it).
type KeyCache = [std::sync::OnceLock<SampleKeys>];

fn key_cache(n: usize) -> Vec<std::sync::OnceLock<SampleKeys>> {
    (0..n).map(|_| std::sync::OnceLock::new()).collect()
}

impl SampleKeys {
    fn of(p: &Prepared<'_>, n: usize) -> SampleKeys {
        let keys: Vec<LogitKey> = (0..p.classes).map(|c| logit_key(p, n, c)).collect();
        let mut multiset = keys.clone();
        multiset.sort();
        SampleKeys { keys, multiset }
    }
}

impl WAtoms {
    fn add(&mut self, n: usize, sk: &SampleKeys, j: usize, sm: &SoftSplit, u: Vec<Merged>) {
        if self.sample_ids.len() <= n {
            self.sample_ids.resize(n + 1, None);
        }
        let id = *self.sample_ids[n].get_or_insert_with(|| {
            match self.multisets.iter().position(|m| *m == sk.multiset) {
                Some(i) => i,
                None => {
                    self.multisets.push(sk.multiset.clone());
                    self.multisets.len() - 1
                }
            }
        });
        let mut put = |c: usize, scale: &Rational| {
            let key = (j, id, sk.keys[c].clone());
            let next = self.atoms.len();
            let idx = *self.index.entry(key).or_insert(next);
            if idx == next {
                // The atom's probability: ρ of class c, outside the group, in this sample.
                self.atoms
                    .push((j, sm.rho[c].clone(), vec![Merged::new(); u.len()]));
            }
            for (acc, uk) in self.atoms[idx].2.iter_mut().zip(&u) {
                for (q, r) in uk {
                    merge_into(acc, Rational::from(q * scale), r);
                }
            }
        };
        if sm.in_ref[j] {
            let share = Rational::from((-1, sm.size));
            for c in (0..sk.keys.len()).filter(|&c| !sm.in_ref[c]) {
                put(c, &share);
            }
        } else {
            put(j, &Rational::from(1));
        }
    }

    /// Adds every atom's `ρ·Σ q·√r` to its outputs. The atoms' enclosures are formed in
    /// parallel (a chunk of atoms per task, each with its own square-root cache), then
    /// added to the outputs in the atoms' order.
    fn finish(self, w_outs: &mut [Out], sn: &Rational, wp: u32) {
        let d = self.atoms.first().map_or(0, |a| a.2.len());
        let skip: Vec<bool> = w_outs.iter().map(|o| o.skip_rest).collect();
        let per_task = self.atoms.len().div_ceil(4 * par::threads()).max(1);
        let chunks: Vec<&[(usize, Ival, Vec<Merged>)]> = self.atoms.chunks(per_task).collect();
        let terms = par::map(chunks, |atoms| {
            let mut roots = Roots::new();
            let sn = Ival::from_rational(sn, wp);
            atoms
                .iter()
                .map(|(j, prob, coef)| {
                    let skip = &skip[j * d..(j + 1) * d];
                    let term = |(ck, &skip): (&Merged, &bool)| {
                        let ck: Merged = ck.iter().filter(|(q, _)| *q != 0).cloned().collect();
                        (!ck.is_empty() && !skip)
                            .then(|| prob.mul(&merged_ival(&ck, wp, &mut roots).mul(&sn)))
                    };
                    coef.iter().zip(skip).map(term).collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        });
        for ((j, _, _), atom_terms) in self.atoms.iter().zip(terms.into_iter().flatten()) {
            for (o, v) in w_outs[j * d..(j + 1) * d].iter_mut().zip(atom_terms) {
                if let Some(v) = v {
                    o.rest.add_ival(&v);
                    o.rest_used = true;
                }
            }
        }
    }
}

/// A sum `Σ q·√r` kept with one term per radicand `r` (identical radicands merged
/// exactly): enough to see the cancellations of equal gradient entries such as
/// `W_j[k]/‖W_j‖ = W_J[k]/‖W_J‖` with equal norms.
type Merged = Vec<(Rational, Rational)>;

fn merge_into(v: &mut Merged, q: Rational, r: &Rational) {
    if q == 0 || *r == 0 {
        return;
    }
    match v.iter_mut().find(|e| e.1 == *r) {
        Some(e) => e.0 += q,
        None => v.push((q, r.clone())),
    }
}

/// `u[k]` exactly as merged surds, when every term's coefficient is known exactly.
fn surd_vector(g: &Grad<'_>, d: usize) -> Option<Vec<Merged>> {
    let mut v = vec![Merged::new(); d];
    for t in g {
        let ex = t.exact.as_ref()?;
        for (vk, n) in v.iter_mut().zip(t.inum) {
            if *n != 0 {
                let f = Rational::from(&t.scale * n);
                for (q, r) in &ex.0 {
                    merge_into(vk, Rational::from(q * &f), r);
                }
            }
        }
    }
    Some(v)
}

/// Enclosures `√r` by radicand, at one working precision.
type Roots = std::collections::HashMap<Rational, Ival>;

/// An enclosure of a merged surd sum, with the square roots cached per radicand.
fn merged_ival(v: &Merged, wp: u32, roots: &mut Roots) -> Ival {
    let mut acc = zero(wp);
    for (q, r) in v {
        let root = roots
            .entry(r.clone())
            .or_insert_with(|| SqrtQ::new(r.clone()).ival(wp));
        acc = acc.add(&root.mul(&Ival::from_rational(q, wp)));
    }
    acc
}

/// The x-gradient's softmax remainder `Σ_{j∉G} p_j·(u_j − ū_G)` of one sample. When the
/// gradient vectors are known exactly (as sums of square roots) the differences are
/// formed exactly first, merging identical radicands: a component where they agree
/// contributes nothing, instead of a `p·u − p·u` cancellation over intervals whose
/// residue would need a working precision growing with the logit gap. Otherwise the
/// terms `ρ_j·u_j` are accumulated one by one.
fn add_x_rest(
    x_out: &mut [Out],
    grads: &[(Grad<'_>, Grad<'_>)],
    sm: &SoftSplit,
    keys: &SampleKeys,
    sn: &Rational,
    wp: u32,
    scratch: &mut Float,
) {
    let d = x_out.len();
    let exact: Option<Vec<Vec<Merged>>> = grads.iter().map(|(gx, _)| surd_vector(gx, d)).collect();
    let Some(exact) = exact else {
        for ((gx, _), rho) in grads.iter().zip(&sm.rho) {
            add_grad(x_out, gx, rho, None, true, sn, scratch);
        }
        return;
    };
    // −ū_G, then u_j − ū_G for each j outside G.
    let minus_mean = Rational::from((-1, sm.size)) * sn;
    let mut neg_mean = vec![Merged::new(); d];
    for (u, _) in exact.iter().zip(&sm.in_ref).filter(|(_, g)| **g) {
        for (m, uk) in neg_mean.iter_mut().zip(u) {
            for (q, r) in uk {
                merge_into(m, Rational::from(q * &minus_mean), r);
            }
        }
    }
    // Classes outside G with provably equal logits have equal probabilities: their
    // differences are summed exactly first (they can cancel between tied classes).
    let mut tied: Vec<(&LogitKey, usize, Vec<Merged>)> = Vec::new();
    for (j, u) in exact.iter().enumerate().filter(|(j, _)| !sm.in_ref[*j]) {
        let at = match tied.iter().position(|t| *t.0 == keys.keys[j]) {
            Some(i) => i,
            None => {
                tied.push((
                    &keys.keys[j],
                    j,
                    neg_mean.iter().map(|_| Merged::new()).collect(),
                ));
                tied.len() - 1
            }
        };
        for ((acc, uk), mk) in tied[at].2.iter_mut().zip(u).zip(&neg_mean) {
            for (q, r) in mk {
                merge_into(acc, q.clone(), r);
            }
            for (q, r) in uk {
                merge_into(acc, Rational::from(q * sn), r);
            }
        }
    }
    let mut roots = Roots::new();
    for (_, j, diffs) in tied {
        for (o, mut diff) in x_out.iter_mut().zip(diffs) {
            diff.retain(|(q, _)| *q != 0);
            if !diff.is_empty() && !o.skip_rest {
                o.rest
                    .add_ival(&sm.rho[j].mul(&merged_ival(&diff, wp, &mut roots)));
                o.rest_used = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arith::testing::q;

    fn qi(n: i64) -> Rational {
        Rational::from(n)
    }

    #[test]
    fn single_class_is_exactly_zero() {
        let spec = LossSpec::new(
            vec![vec![q(1, 3), q(2, 7)]],
            vec![vec![qi(1), q(-1, 5)]],
            vec![0],
            qi(4),
        );
        let out = loss(&spec, true, 64).unwrap();
        assert!(out.loss.is_exact());
        assert_eq!(out.loss.f64(), 0.0);
        for g in out
            .grad_x
            .unwrap()
            .iter()
            .chain(out.grad_w.unwrap().iter())
            .flatten()
        {
            assert!(g.is_exact());
            assert_eq!(g.f64().to_bits(), 0.0f64.to_bits());
        }
    }

    #[test]
    fn exact_sqrt_detects_rational_squares() {
        assert_eq!(SqrtQ::new(q(9, 4)).root, Some(q(3, 2)));
        assert!(SqrtQ::new(q(2, 1)).root.is_none());
        assert!(SqrtQ::new(q(1, 2)).root.is_none());
        assert_eq!(SqrtQ::new(qi(0)).root, Some(qi(0)));
    }

    #[test]
    fn rows_use_a_common_denominator() {
        let r = Row::new(&[q(1, 2), q(1, 3), qi(0)], true);
        assert_eq!(r.den, 6);
        assert_eq!(
            r.num,
            vec![Integer::from(3), Integer::from(2), Integer::from(0)]
        );
        assert_eq!(r.sq, q(13, 36));
        let s = Row::new(&[qi(2), qi(1), qi(5)], false);
        assert_eq!(dot(&r, &s), q(4, 3));
    }

    #[test]
    fn projection_is_orthogonal_to_w_and_exactly_zero_on_axis() {
        // x = (1, 1), W = (1, 0): P = (0, 1), so ∂L/∂W[0] is exactly 0 for A-Softmax.
        let spec = LossSpec::new(
            vec![vec![qi(1), qi(1)]],
            vec![vec![qi(1), qi(0)], vec![qi(0), qi(1)]],
            vec![0],
            qi(2),
        );
        let out = loss(&spec, true, 64).unwrap();
        let gw = out.grad_w.unwrap();
        assert!(gw[0][0].is_exact() && gw[0][0].f64() == 0.0);
        assert!(gw[1][1].is_exact() && gw[1][1].f64() == 0.0);
        assert!(gw[0][1].f64() != 0.0);
    }

    #[test]
    fn accumulator_is_rigorous_for_both_signs() {
        let wp = 64;
        let c = Ival::from_rational(&q(1, 3), wp);
        let mut acc = Acc::new(wp);
        let mut scratch = Float::new(wp);
        acc.add_mul(&c, &Float::with_val(8, 3), &mut scratch);
        acc.add_mul(&c, &Float::with_val(8, -6), &mut scratch);
        let iv = acc.into_ival().unwrap();
        assert!(iv.contains_rational(&qi(-1)));
        assert!(iv.width() < 1e-17);
    }
}
