//! The loss of every head of the margin family ([`crate::head::family::Head`]) and its
//! gradients, as a pure function of the cosines `c_nj = cos θ_nj` (the head's input) and
//! of the heads' state, correctly rounded.
//!
//! # The softmax heads ([`loss`])
//!
//! Sample `n` (label `y`, head `h_n`: the head at that sample's state) has the logits
//! `f_ny = s·t_n(c_ny)` and `f_nj = s·u_n(c_nj)` for `j ≠ y`, with `t_n`, `u_n` the head's
//! target and non-target logits ([`crate::head::family::target_logit`],
//! [`crate::head::family::nontarget_logit`]), and
//!
//! ```text
//! L = (1/N)·Σ_n ln(1 + Σ_{j≠y} e^{f_nj − f_ny})  +  (λ_g/N)·Σ_n g(a_n)   (MagFace only),
//! ∂L/∂c_nj = (1/N)·(p_nj − [j = y])·s·(dt_n/dc or du_n/dc),
//! ∂L/∂a_n  = (1/N)·((p_ny − 1)·s·∂t_n/∂a + λ_g·g′(a_n))                    (MagFace),
//! ```
//!
//! `p_nj = e^{f_nj}/Σ_k e^{f_nk}`, written cancellation-free as
//! `p_nj = e^{f_nj − f_ny}/(1 + S_n)` and `p_ny − 1 = −S_n/(1 + S_n)` with
//! `S_n = Σ_{j≠y} e^{f_nj − f_ny}`.
//!
//! The slopes follow [`Semantics`] ([`crate::head::family::target_slope`],
//! [`crate::head::family::nontarget_slope`]); where one is `±∞` or undefined a gradient
//! request is an [`Error::Degenerate`] that names the sample, the class and the slope (the
//! value alone is still computed). What each head's state contributes:
//!
//! - **SphereFace** (opensphere, real `m`): `t = ψ(θ)`, `k = ⌊mθ/π⌋`; opensphere
//!   computes `ψ − c` under `no_grad`: that is `straight_through`.
//! - **SphereFace-R** `v1`/`v2`: likewise `straight_through` in opensphere.
//! - **CurricularFace**: the running `t` is an input (the value *after* this batch's
//!   update, [`crate::head::family::curricular_next_t`], as the published forward uses
//!   it) and carries no gradient; the hard negatives `c > cos(θ_y + m)` have the logit
//!   `c·(t + c)`, whose gradient flows through `c` in both factors: `du/dc = t + 2c`
//!   (`analytic` — the published semantics; `straight_through` detaches the modulation
//!   too, `du/dc = 1`). The mask itself is a comparison: no gradient reaches `c_y`
//!   through it.
//! - **AdaFace**: the norm statistics and the sample's norm are inputs; the published
//!   code detaches the norm, so `ŝ` carries no gradient and none is returned for it.
//! - **MagFace**: the margin `m(a)` depends on the magnitude `a = ‖x_n‖` (clipped to
//!   `[l_a, u_a]`) and the loss adds `λ_g·g(a)`, `g(a) = a/u_a² + 1/a`; the published
//!   code lets gradients reach `a` through both, so [`FamilyOutput::grad_a`] holds
//!   `∂L/∂a_n` ([`crate::head::family::magface_slope_a`]). Under `straight_through` the
//!   margin is detached and only the regularizer's term remains. At a kink of the clamp
//!   (`a = l_a`, or `a = u_a` when `l_m ≠ u_m`) the one-sided derivatives differ: a
//!   gradient request there is an [`Error::Degenerate`].
//!
//! # SphereFace2 ([`sphereface2`])
//!
//! One binary classifier per class (opensphere `sphereface2.py`): the logits
//! `z_nj = r·T(c_ny) + b` on the target and `r·U(c_nj) + b` elsewhere with `T`, `U` the
//! head's target and non-target logits (`C`: `g(c) ∓ m`; `A`: `g(cos(min(θ + m, π)))`
//! and `g(c)`; `M`: `g(cos(min(mθ, π)))` and `g(c)`), and the weighted binary
//! cross-entropy of [`crate::head::sphereface2`]. opensphere computes `T − c`, `U − c`
//! under `no_grad` (`straight_through`: `∂z/∂c = r`); `analytic` and
//! `differentiable_acos` differentiate through `g` and the margin.
//!
//! # Exactness
//!
//! Every output is enclosed by a Ziv loop over the logits' enclosures. Exact values are
//! recognized where the head oracles give them: a gradient whose slope is exactly 0 is
//! exactly 0; when a row's logits are equal rationals — compared exactly through the
//! heads' rational logits ([`family::target_logit_exact`], [`family::nontarget_logit_exact`]),
//! dyadic or not (CosFace `m = 0.1` at `c_y = 0.4`, `c_j = 0.3`) — `p = 1/C`, and with a
//! dyadic slope the gradient is the exact rational; a row with one class contributes
//! exactly 0. A value no enclosure below the precision cap decides is an
//! [`Error::PrecisionCap`], never a guess (what a gradient that is exactly a double or a
//! rounding midpoint would get if it were only known through enclosures; the cases above
//! are the ones the family's formulas produce).

use crate::arith::{Approx, Ival, ziv};
use crate::head::family::{self, Head, MagFace};
use crate::head::sphereface2::{self as s2, Margin as S2Margin};
use crate::head::{Semantics, Slope};
use crate::{Error, describe_rational};
use rug::Rational;

/// A batch of cosines with one head per sample (the head at that sample's state).
#[derive(Clone, Debug, PartialEq)]
pub struct FamilySpec {
    /// The cosines `c_nj`, `N × C`, each in `[−1, 1]`.
    pub cos: Vec<Vec<Rational>>,
    /// The labels, one per row, each `< C`.
    pub y: Vec<usize>,
    /// The head of each sample (`N` of them; the same head with that sample's state: its
    /// AdaFace norm, its MagFace magnitude). Not SphereFace2 (see [`sphereface2`]).
    pub heads: Vec<Head>,
    /// The logit scale `s > 0`.
    pub scale: Rational,
    /// How the logits are differentiated.
    pub semantics: Semantics,
    /// MagFace's regularizer weight `λ_g ≥ 0` (MagFace's default 35; must be 0 for the
    /// other heads).
    pub lambda_g: Rational,
}

/// The loss and, on request, its gradients.
#[derive(Clone, Debug)]
pub struct FamilyOutput {
    /// `L` (module docs).
    pub loss: Approx,
    /// `∂L/∂c_nj`, `N × C` (`None` unless requested).
    pub grad_cos: Option<Vec<Vec<Approx>>>,
    /// `∂L/∂a_n` for MagFace (`None` for the other heads or without a request).
    pub grad_a: Option<Vec<Approx>>,
}

fn shape(what: String) -> Error {
    Error::Shape { what }
}

/// `(N, C)` of a cosine batch with its labels, or a shape error; every cosine checked.
fn batch_shape(cos: &[Vec<Rational>], y: &[usize]) -> Result<(usize, usize), Error> {
    let Some(first) = cos.first() else {
        return Err(shape("empty batch: cos has no rows (N = 0)".into()));
    };
    let classes = first.len();
    if classes == 0 {
        return Err(shape("cos[0] has no classes (C = 0)".into()));
    }
    if y.len() != cos.len() {
        return Err(shape(format!("{} labels for {} rows", y.len(), cos.len())));
    }
    for (n, (row, &yn)) in cos.iter().zip(y).enumerate() {
        if row.len() != classes {
            return Err(shape(format!(
                "cos[{n}] has {} entries, expected {classes}",
                row.len()
            )));
        }
        if yn >= classes {
            return Err(shape(format!(
                "label y[{n}] = {yn} is not a class index below {classes}"
            )));
        }
        row.iter().try_for_each(crate::multiangle::check_cos)?;
    }
    Ok((cos.len(), classes))
}

/// A working precision the head oracles accept.
fn head_prec(wp: u32) -> u32 {
    wp.clamp(crate::arith::MIN_PREC, ziv::MAX_PREC)
}

/// The name of a slope that is not a number.
fn slope_name(s: &Slope) -> &'static str {
    match s {
        Slope::PosInf => "+inf",
        Slope::NegInf => "-inf",
        Slope::Undefined => "undefined",
        Slope::Finite(_) => "finite",
    }
}

/// `Ok(a)` for a finite slope, else the degenerate error for entry `(n, j)`.
fn finite(s: Slope, n: usize, j: usize, target: bool, sem: Semantics) -> Result<Approx, Error> {
    match s {
        Slope::Finite(a) => Ok(a),
        other => Err(Error::Degenerate {
            what: format!(
                "sample {n}: the head's {} logit (class {j}) has slope {} in cos θ under the {} semantics: the loss has no gradient there (a float backward gives inf or NaN); request the value only, or use straight_through",
                if target { "target" } else { "non-target" },
                slope_name(&other),
                sem.name()
            ),
        }),
    }
}

/// The exact rational an [`Approx`] holds, if it is exact.
fn exact_of(a: &Approx) -> Option<Rational> {
    a.is_exact().then(|| a.mid().to_rational()).flatten()
}

impl FamilySpec {
    fn validate(&self) -> Result<(usize, usize), Error> {
        let (n, classes) = batch_shape(&self.cos, &self.y)?;
        if self.heads.len() != n {
            return Err(shape(format!(
                "{} heads for {n} rows (one head per sample)",
                self.heads.len()
            )));
        }
        if self.scale <= 0 {
            return Err(Error::Domain {
                arg: "scale",
                value: describe_rational(&self.scale),
                expected: "a scale s > 0",
            });
        }
        let magface = self.heads.iter().all(|h| matches!(h, Head::MagFace(_)));
        if self.lambda_g < 0 || (self.lambda_g != 0 && !magface) {
            return Err(Error::Domain {
                arg: "lambda_g",
                value: describe_rational(&self.lambda_g),
                expected: "lambda_g >= 0, and 0 unless every head is MagFace",
            });
        }
        for h in &self.heads {
            if let Head::SphereFace2 { .. } = h {
                return Err(Error::Domain {
                    arg: "head",
                    value: "sphereface2".into(),
                    expected: "a softmax head: SphereFace2's binary loss is loss::family::sphereface2",
                });
            }
            family::validate(h)?;
        }
        Ok((n, classes))
    }

    /// The logit of entry `(n, j)` without the scale, correctly rounded at `prec`.
    fn logit(&self, n: usize, j: usize, prec: u32) -> Result<Approx, Error> {
        let (c, y) = (&self.cos[n][j], self.y[n]);
        if j == y {
            family::target_logit(&self.heads[n], c, prec)
        } else {
            family::nontarget_logit(&self.heads[n], c, &self.cos[n][y], prec)
        }
    }

    /// The logit of entry `(n, j)` without the scale as an exact rational, when its
    /// formula makes it one ([`family::target_logit_exact`], [`family::nontarget_logit_exact`]).
    fn logit_exact(&self, n: usize, j: usize) -> Result<Option<Rational>, Error> {
        let (c, y) = (&self.cos[n][j], self.y[n]);
        if j == y {
            family::target_logit_exact(&self.heads[n], c)
        } else {
            family::nontarget_logit_exact(&self.heads[n], c, &self.cos[n][y])
        }
    }

    /// The slope of entry `(n, j)`'s logit in its cosine under the spec's semantics.
    fn slope(&self, n: usize, j: usize, prec: u32) -> Result<Slope, Error> {
        let (c, y, h) = (&self.cos[n][j], self.y[n], &self.heads[n]);
        if j == y {
            family::target_slope(h, c, self.semantics, prec)
        } else {
            family::nontarget_slope(h, c, &self.cos[n][y], self.semantics, prec)
        }
    }

    /// Row `n`'s differences `f_nj − f_ny` enclosed at `wp` (the target's entry is 0).
    fn row_diffs(&self, n: usize, wp: u32) -> Result<Vec<Ival>, Error> {
        let p = head_prec(wp);
        let s = Ival::from_rational(&self.scale, wp);
        let y = self.y[n];
        let fy = at_wp(self.logit(n, y, p)?.enclosure(), wp);
        (0..self.cos[n].len())
            .map(|j| {
                Ok(if j == y {
                    Ival::from_integer(&0.into(), wp)
                } else {
                    at_wp(self.logit(n, j, p)?.enclosure(), wp).sub(&fy).mul(&s)
                })
            })
            .collect()
    }
}

/// `iv` at (at least) `wp` bits: an exact result is a point at the few bits it needs, and
/// interval arithmetic works at its operands' precision.
fn at_wp(iv: &Ival, wp: u32) -> Ival {
    Ival::from_integer(&0.into(), wp).add(iv)
}

/// `S_n = Σ_{j≠y} e^{d_j}` over a row's differences.
fn rest_sum(d: &[Ival], y: usize, wp: u32) -> Ival {
    d.iter()
        .enumerate()
        .filter(|&(j, _)| j != y)
        .fold(Ival::from_integer(&0.into(), wp), |acc, (_, v)| {
            acc.add(&v.exp())
        })
}

/// `p_nj − [j = y]` from a row's differences (cancellation-free, module docs).
fn p_minus_delta(d: &[Ival], y: usize, j: usize, wp: u32) -> Option<Ival> {
    let s = rest_sum(d, y, wp);
    let den = s.add(&Ival::from_integer(&1.into(), wp));
    if j == y {
        s.neg().div(&den)
    } else {
        d[j].exp().div(&den)
    }
}

/// MagFace's `g′(a)` for the loss's gradient, or a degenerate error at the kink `a = l_a`.
fn magface_dg(mf: &MagFace, n: usize) -> Result<Rational, Error> {
    let (_, dg) = mf.regularizer()?;
    let inv_u2 = Rational::from(mf.u_a.square_ref()).recip();
    let left = inv_u2 - Rational::from(mf.l_a.square_ref()).recip();
    if mf.a == mf.l_a && left != 0 {
        return Err(Error::Degenerate {
            what: format!(
                "sample {n}: MagFace's magnitude a = l_a = {} is the kink of the clamp in g(a): its one-sided derivatives differ, so the loss has no gradient in a there",
                describe_rational(&mf.a)
            ),
        });
    }
    Ok(dg)
}

/// The family oracle for the softmax heads: `L` and (`grad`) `∂L/∂c` and, for MagFace,
/// `∂L/∂a` (module docs), each correctly rounded at `prec` bits.
///
/// ```
/// use asoftmax_spec::head::family::Head;
/// use asoftmax_spec::head::{Combined, Fallback, Semantics};
/// use asoftmax_spec::loss::family::{FamilySpec, loss};
/// use rug::Rational;
/// // CosFace m = 1/2, s = 2: f_y = 2(1 − 1/2) = 1, f_1 = 0, L = ln(1 + e^{−1}).
/// let spec = FamilySpec {
///     cos: vec![vec![Rational::from(1), Rational::new()]],
///     y: vec![0],
///     heads: vec![Head::Combined(Combined::cosface(Rational::from((1, 2))))],
///     scale: Rational::from(2),
///     semantics: Semantics::Analytic,
///     lambda_g: Rational::new(),
/// };
/// let out = loss(&spec, true, 64).unwrap();
/// assert!((out.loss.f64() - (1.0 + (-1.0f64).exp()).ln()).abs() < 1e-15);
/// ```
pub fn loss(spec: &FamilySpec, grad: bool, prec: u32) -> Result<FamilyOutput, Error> {
    ziv::check_prec(prec)?;
    let (n, classes) = spec.validate()?;
    // The regularizer's exact part, (λ_g/N)·Σ g(a_n).
    let mut reg = Rational::new();
    if spec.lambda_g != 0 {
        for h in &spec.heads {
            if let Head::MagFace(mf) = h {
                reg += mf.regularizer()?.0;
            }
        }
        reg = reg * &spec.lambda_g / n as u64;
    }
    let value = if classes == 1 {
        ziv::approx_rational("family_loss", &reg, prec)?
    } else {
        ziv::ziv("family_loss", prec, |wp| {
            let mut acc = Ival::from_rational(&reg, wp);
            let inv_n = Ival::from_rational(&Rational::from((1, n as u64)), wp);
            for i in 0..n {
                let d = spec.row_diffs(i, wp)?;
                let Some(l) = rest_sum(&d, spec.y[i], wp).ln_1p() else {
                    return Ok(None);
                };
                acc = acc.add(&l.mul(&inv_n));
            }
            Ok(Some(acc))
        })?
    };
    if !grad {
        return Ok(FamilyOutput {
            loss: value,
            grad_cos: None,
            grad_a: None,
        });
    }
    let mut grad_cos = Vec::with_capacity(n);
    for i in 0..n {
        grad_cos.push(grad_row(spec, i, n, classes, prec)?);
    }
    let magface = spec.heads.iter().all(|h| matches!(h, Head::MagFace(_)));
    let grad_a = if magface {
        Some(
            (0..n)
                .map(|i| grad_magnitude(spec, i, n, classes, prec))
                .collect::<Result<Vec<_>, _>>()?,
        )
    } else {
        None
    };
    Ok(FamilyOutput {
        loss: value,
        grad_cos: Some(grad_cos),
        grad_a,
    })
}

/// Row `n`'s `p` when its logits are all rational and equal (compared exactly, dyadic
/// or not): `1/C`.
fn uniform_p(spec: &FamilySpec, n: usize, classes: usize) -> Result<bool, Error> {
    let Some(first) = spec.logit_exact(n, 0)? else {
        return Ok(false);
    };
    for j in 1..classes {
        if spec.logit_exact(n, j)?.as_ref() != Some(&first) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Row `i`'s `∂L/∂c_ij = (1/N)·(p_ij − [j = y])·s·slope_ij`: the exact entries directly,
/// the others by one Ziv loop over the row's softmax.
fn grad_row(
    spec: &FamilySpec,
    i: usize,
    n: usize,
    classes: usize,
    prec: u32,
) -> Result<Vec<Approx>, Error> {
    let y = spec.y[i];
    let zero = || ziv::approx_rational("family_grad", &Rational::new(), prec);
    if classes == 1 {
        // L does not depend on c when there is one class.
        return Ok(vec![zero()?]);
    }
    let sem = spec.semantics;
    let coef = &spec.scale / Rational::from(n as u64);
    let slopes = (0..classes)
        .map(|j| finite(spec.slope(i, j, prec)?, i, j, j == y, sem).map(|a| exact_of(&a)))
        .collect::<Result<Vec<_>, _>>()?;
    let uniform = slopes.iter().any(Option::is_some) && uniform_p(spec, i, classes)?;
    let mut row: Vec<Option<Approx>> = Vec::with_capacity(classes);
    for (j, d) in slopes.iter().enumerate() {
        row.push(match d {
            Some(d) if *d == 0 || uniform => {
                let p = Rational::from((1, classes as u64)) - u32::from(j == y);
                Some(ziv::approx_rational("family_grad", &(p * d * &coef), prec)?)
            }
            _ => None,
        });
    }
    let open: Vec<usize> = (0..classes).filter(|&j| row[j].is_none()).collect();
    if !open.is_empty() {
        let found = ziv::ziv_many("family_grad", prec, |wp| {
            let d = spec.row_diffs(i, wp)?;
            let c = Ival::from_rational(&coef, wp);
            let mut out = Vec::with_capacity(open.len());
            for &j in &open {
                let Some(pd) = p_minus_delta(&d, y, j, wp) else {
                    return Ok(None);
                };
                let sl = match &slopes[j] {
                    Some(r) => Ival::from_rational(r, wp),
                    None => {
                        let s = spec.slope(i, j, head_prec(wp))?;
                        finite(s, i, j, j == y, sem)?.enclosure().clone()
                    }
                };
                out.push(pd.mul(&sl).mul(&c));
            }
            Ok(Some(out))
        })?;
        for (&j, a) in open.iter().zip(found) {
            row[j] = Some(a);
        }
    }
    Ok(row
        .into_iter()
        .map(|a| a.expect("every entry decided"))
        .collect())
}

/// MagFace's `∂L/∂a_n = (1/N)·((p_ny − 1)·s·∂t/∂a + λ_g·g′(a_n))`.
fn grad_magnitude(
    spec: &FamilySpec,
    i: usize,
    n: usize,
    classes: usize,
    prec: u32,
) -> Result<Approx, Error> {
    let Head::MagFace(mf) = &spec.heads[i] else {
        unreachable!("grad_magnitude is called for MagFace heads only")
    };
    let y = spec.y[i];
    let dg = if spec.lambda_g == 0 {
        Rational::new()
    } else {
        magface_dg(mf, i)?
    };
    let reg = dg * &spec.lambda_g / n as u64;
    let detached = spec.semantics == Semantics::StraightThrough;
    let slope_a = |p: u32| -> Result<Approx, Error> {
        match family::magface_slope_a(mf, &spec.cos[i][y], p)? {
            Slope::Finite(a) => Ok(a),
            _ => Err(Error::Degenerate {
                what: format!(
                    "sample {i}: MagFace's magnitude a = {} is a kink of the margin's clamp m(a): its one-sided derivatives differ, so the loss has no gradient in a there",
                    describe_rational(&mf.a)
                ),
            }),
        }
    };
    if classes == 1 || detached {
        return ziv::approx_rational("family_grad_a", &reg, prec);
    }
    let first = slope_a(prec)?;
    if exact_of(&first).is_some_and(|d| d == 0) {
        return ziv::approx_rational("family_grad_a", &reg, prec);
    }
    let coef = &spec.scale / Rational::from(n as u64);
    ziv::ziv("family_grad_a", prec, |wp| {
        let d = spec.row_diffs(i, wp)?;
        let Some(pd) = p_minus_delta(&d, y, y, wp) else {
            return Ok(None);
        };
        let sl = slope_a(head_prec(wp))?;
        let margin = pd.mul(sl.enclosure()).mul(&Ival::from_rational(&coef, wp));
        Ok(Some(margin.add(&Ival::from_rational(&reg, wp))))
    })
}

/// SphereFace2's loss and, on request, `∂L/∂c` (`N × C`).
pub type BinaryOutput = (Approx, Option<Vec<Vec<Approx>>>);

/// SphereFace2's loss and (`grad`) `∂L/∂c` for the margin `margin` (`C`, `A`, `M`) with
/// the parameters `p` (its `t`, `m`, `r`, `b`, `α`, `lw`), correctly rounded (module docs).
/// `C` is [`crate::head::sphereface2::loss`] (exact logits); `A` and `M` enclose the
/// target logits `g(T(c))`.
///
/// ```
/// use asoftmax_spec::head::Semantics;
/// use asoftmax_spec::head::sphereface2::{Margin, Params};
/// use asoftmax_spec::loss::family::sphereface2;
/// use rug::Rational;
/// let q = |n: i64, d: i64| Rational::from((n, d));
/// let p = Params { t: 3, m: q(2, 5), r: q(40, 1), b: q(-10, 1), alpha: q(7, 10), lw: q(50, 1) };
/// let (l, g) = sphereface2(&p, Margin::A, &[vec![q(1, 2), q(0, 1)]], &[0],
///                          Semantics::StraightThrough, true, 64).unwrap();
/// let g = g.unwrap();
/// assert!(l.f64() > 0.0 && g[0][0].f64() < 0.0 && g[0][1].f64() > 0.0);
/// ```
pub fn sphereface2(
    p: &s2::Params,
    margin: S2Margin,
    cos: &[Vec<Rational>],
    y: &[usize],
    sem: Semantics,
    grad: bool,
    prec: u32,
) -> Result<BinaryOutput, Error> {
    ziv::check_prec(prec)?;
    if margin == S2Margin::C {
        // Type C's slopes are the polynomial g′: always finite.
        let (v, g) = s2::loss(p, cos, y, sem, prec)?;
        return Ok((v, grad.then_some(g)));
    }
    let (n, classes) = batch_shape(cos, y)?;
    let head = Head::SphereFace2 {
        t: p.t,
        m: p.m.clone(),
        margin,
    };
    family::validate(&head)?;
    p.validate()?;
    let weight = |target: bool| p.weight(target, n);
    // z = r·T + b enclosed at wp, and T's slope.
    let z = |i: usize, j: usize, wp: u32| -> Result<Ival, Error> {
        let c = &cos[i][j];
        let v = if j == y[i] {
            family::target_logit(&head, c, head_prec(wp))?
        } else {
            family::nontarget_logit(&head, c, &cos[i][y[i]], head_prec(wp))?
        };
        Ok(at_wp(v.enclosure(), wp)
            .mul(&Ival::from_rational(&p.r, wp))
            .add(&Ival::from_rational(&p.b, wp)))
    };
    let value = ziv::ziv("sphereface2_loss", prec, |wp| {
        let mut acc = Ival::from_integer(&0.into(), wp);
        for (i, &yi) in y.iter().enumerate() {
            for j in 0..classes {
                let zi = z(i, j, wp)?;
                let target = j == yi;
                let arg = if target { zi.neg() } else { zi };
                let Some(sp) = arg.exp().ln_1p() else {
                    return Ok(None);
                };
                acc = acc.add(&sp.mul(&Ival::from_rational(&weight(target), wp)));
            }
        }
        Ok(Some(acc))
    })?;
    if !grad {
        return Ok((value, None));
    }
    let mut grads = Vec::with_capacity(n);
    for i in 0..n {
        let mut row = Vec::with_capacity(classes);
        for j in 0..classes {
            let target = j == y[i];
            let c = &cos[i][j];
            let slope = |wp: u32| -> Result<Slope, Error> {
                if target {
                    family::target_slope(&head, c, sem, wp)
                } else {
                    family::nontarget_slope(&head, c, &cos[i][y[i]], sem, wp)
                }
            };
            let first = finite(slope(prec)?, i, j, target, sem)?;
            let w = weight(target);
            let logit = if target {
                family::target_logit(&head, c, prec)?
            } else {
                family::nontarget_logit(&head, c, &cos[i][y[i]], prec)?
            };
            let zero_z = exact_of(&logit).is_some_and(|v| v * &p.r + &p.b == 0);
            if let Some(d) = exact_of(&first).filter(|d| *d == 0 || zero_z) {
                // σ(0) = ½ exactly (a non-target z = r·g(c) + b is rational).
                let v = if d == 0 {
                    Rational::new()
                } else {
                    (Rational::from((1, 2)) - u32::from(target)) * d * &p.r * &w
                };
                row.push(ziv::approx_rational("sphereface2_grad", &v, prec)?);
                continue;
            }
            row.push(ziv::ziv("sphereface2_grad", prec, |wp| {
                let zi = z(i, j, wp)?;
                let one = Ival::from_integer(&1.into(), wp);
                let Some(sig) = one.div(&one.add(&zi.neg().exp())) else {
                    return Ok(None);
                };
                let sig = if target { sig.sub(&one) } else { sig };
                let d = finite(slope(head_prec(wp))?, i, j, target, sem)?;
                let dz = at_wp(d.enclosure(), wp).mul(&Ival::from_rational(&p.r, wp));
                Ok(Some(sig.mul(&dz).mul(&Ival::from_rational(&w, wp))))
            })?);
        }
        grads.push(row);
    }
    Ok((value, Some(grads)))
}
