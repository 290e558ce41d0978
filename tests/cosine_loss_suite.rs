//! The loss suite on cosines (`conformance::head_suite::check_cosine_loss`): float
//! implementations of the six heads that take cosines, written here from the published
//! definitions — opensphere's SphereFace (ψ with a real `m`), SphereFace-R `v1`/`v2` and
//! SphereFace2 (`sphereface2.py`, types `C`, `A`, `M`, the weighted binary cross-entropy);
//! CurricularFace (`cos_theta_m`, `th`, `mm`, the hard-example modulation `c·(t + c)`);
//! AdaFace (mk-minchul/AdaFace `head.py`: the margin scaler from the norm and the batch
//! statistics, `g_angular = −m·ŝ` on the angle, `g_add = m + m·ŝ` off the cosine);
//! MagFace (IrvingMeng/MagFace `MagLinear`: `m(a)` from the clamped magnitude, the easy or
//! linear fallback, the regulariser `λ_g·g(a)`, `g(a) = a/u_a² + 1/a`, with the gradient
//! reaching `a` through both) — pass in f32 and f64 under every gradient semantics; the
//! same implementations with the margin in degrees, without the linear fallback, without
//! CurricularFace's modulation, with AdaFace's `g_angular` of the wrong sign, or without
//! the gradient of MagFace's regulariser fail.
//!
//! Conventions of the oracle (`head::family`, `loss::family`) the implementations follow
//! where the published code departs from the definition (the zoo's audit lists these
//! departures): AdaFace's angle is clamped to `[0, π]` (the code clamps the cosine to
//! `±(1 − eps)` and the angle to `[eps, π − eps]` for every class), and SphereFace2's
//! `A`/`M` angles to `π` (the code: `[1e−5, 3.14159]`). The gradient follows the batch's
//! semantics: `straight_through` (opensphere's `no_grad` margins) takes every slope as 1
//! and detaches MagFace's margin from `a`; `analytic` and `differentiable_acos` take the
//! derivative (they differ only at `c = ±1`, where the oracle then has no gradient and the
//! suite scores the loss alone).

use asoftmax_spec::conformance::LossPolicy;
use asoftmax_spec::conformance::head_suite::{
    CosineLossBatch, CosineLossKernel, CosineLossOutput, CosineLossReport, CosineOptions,
    check_cosine_loss, cosine_batches, takes_cosines,
};
use asoftmax_spec::conformance::loss_suite::{CosineOp, DEFAULT_SEED};
use asoftmax_spec::head::family::{Head, RVersion};
use asoftmax_spec::head::sphereface2::Margin;
use asoftmax_spec::head::{Fallback, Kind, Semantics};
use asoftmax_spec::names::Name;
use asoftmax_spec::zoo::ZooFloat;
use rug::Rational;
use std::marker::PhantomData;

#[cfg(feature = "cli")]
mod common;

/// How an implementation departs from the published definition.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Flaw {
    None,
    /// Every angular margin taken in degrees (`m·π/180`).
    Degrees,
    /// `cos(θ + m)` everywhere: no linear fallback beyond `θ = π − m` (CurricularFace,
    /// MagFace with `easy_margin = False`).
    NoFallback,
    /// CurricularFace's hard negatives left at `c` (no `c·(t + c)`).
    NoModulation,
    /// AdaFace's `g_angular = +m·ŝ`.
    AngularSign,
    /// MagFace's `∂L/∂a` without the regulariser's `λ_g·g′(a)`.
    NoRegularizerGradient,
}

/// The heads that take cosines (six: the name table's, not a copy of it).
fn heads() -> impl Iterator<Item = Kind> {
    Kind::ALL.iter().copied().filter(|&k| takes_cosines(k))
}

/// A loss on cosines for every head outside `Kind::FEATURES`, every operation in `T`.
struct Published<T> {
    flaw: Flaw,
    _t: PhantomData<T>,
}

impl<T> Published<T> {
    const fn new(flaw: Flaw) -> Self {
        Published {
            flaw,
            _t: PhantomData,
        }
    }
}

/// A parameter (an exact rational) as Python's double literal rounded to `T`.
fn p<T: ZooFloat>(q: &Rational) -> T {
    T::from_f64(q.to_f64())
}

/// One logit divided by the scale and its derivative in `c` (the analytic slope).
#[derive(Clone, Copy)]
struct Logit<T> {
    value: T,
    slope: T,
}

fn logit<T>(value: T, slope: T) -> Logit<T> {
    Logit { value, slope }
}

/// A row's logits, and the target logit's `∂t/∂a` (MagFace).
struct Row<T> {
    logits: Vec<Logit<T>>,
    dt_da: T,
}

impl<T: ZooFloat> Published<T> {
    fn pi() -> T {
        T::PI
    }

    /// A margin as the implementation reads it.
    fn angle(&self, m: T) -> T {
        if self.flaw == Flaw::Degrees {
            m * Self::pi() / T::int(180)
        } else {
            m
        }
    }

    /// `sin θ` of `c` by `√(1 − c²)` (the published `sine`).
    fn sine(c: T) -> T {
        let s = T::int(1) - c * c;
        if s > T::int(0) { s.sqrt() } else { T::int(0) }
    }

    /// `cos(θ + m)` through the sine (`c·cos m − sin θ·sin m`) and its slope
    /// `cos m + c·sin m/sin θ` (`+∞` at `sin θ = 0`, where the oracle has no gradient).
    fn cos_plus(c: T, m: T) -> Logit<T> {
        let s = Self::sine(c);
        logit(c * m.cos() - s * m.sin(), m.cos() + c * m.sin() / s)
    }

    /// ArcFace's target with MagFace's and CurricularFace's fallbacks: `cos(θ + m)`
    /// where `c > 0` (easy), or where `c > cos(π − m)` and else `c − sin(π − m)·m`
    /// (linear); and `∂t/∂m`.
    fn arc_target(&self, c: T, m: T, fallback: Fallback) -> (Logit<T>, T) {
        let margin = || {
            let l = Self::cos_plus(c, m);
            // ∂/∂m cos(θ + m) = −sin(θ + m) = −(sin θ·cos m + c·sin m).
            (l, -(Self::sine(c) * m.cos() + c * m.sin()))
        };
        match fallback {
            Fallback::Easy if c > T::int(0) => margin(),
            Fallback::Easy => (logit(c, T::int(1)), T::int(0)),
            _ if self.flaw == Flaw::NoFallback => margin(),
            _ => {
                let th = (Self::pi() - m).cos();
                if c > th {
                    margin()
                } else {
                    let mm = (Self::pi() - m).sin() * m;
                    (logit(c - mm, T::int(1)), -(m.sin() + m * m.cos()))
                }
            }
        }
    }

    /// `m·sin(mθ)/sin θ` at `θ = acos c` (`sin θ` from the angle: `√(1 − c²)` would lose
    /// `u/sin²θ` relative near `c = 1`, where this slope tends to `m²`, not to infinity),
    /// and its limit `m²` where `sin θ = 0`: at `c = 1`, and ψ's slope at `c = −1` for an
    /// integer `m` (for a real `m` the oracle has no gradient there).
    fn multiple_slope(theta: T, m: T) -> T {
        let s = theta.sin();
        if s == T::int(0) {
            m * m
        } else {
            m * (m * theta).sin() / s
        }
    }

    /// opensphere's ψ with a real `m`: `(−1)^k·cos(mθ) − 2k`, `k = ⌊mθ/π⌋`.
    fn psi(&self, c: T, m: T) -> Logit<T> {
        let theta = c.acos();
        let mt = if self.flaw == Flaw::Degrees {
            m * theta * Self::pi() / T::int(180)
        } else {
            m * theta
        };
        let k = (mt / Self::pi()).floor();
        let odd = (k.to_f64() as i64) % 2 != 0;
        let sign = if odd { T::int(-1) } else { T::int(1) };
        // ψ increases with c: at c = ±1 its slope is the limit m² (for a real m at c = −1
        // the oracle has no gradient), whatever sign the rounded sin(mθ)/sin θ has there.
        let slope = if c == T::int(-1) || c == T::int(1) {
            m * m
        } else {
            sign * Self::multiple_slope(theta, m)
        };
        logit(sign * mt.cos() - T::int(2) * k, slope)
    }

    /// `cos(min(mθ, π))` (SphereFace-R `v1`, SphereFace2 `M`).
    fn cos_multiple_clamped(c: T, m: T) -> Logit<T> {
        let theta = c.acos();
        if m * theta >= Self::pi() {
            logit(T::int(-1), T::int(0))
        } else {
            logit((m * theta).cos(), Self::multiple_slope(theta, m))
        }
    }

    /// `cos(clamp(θ + a, 0, π))` and its slope `sin(θ + a)/sin θ` inside, 0 outside (AdaFace,
    /// SphereFace2 `A`); with no shift, `cos(acos c)` and the slope 1 of the identity (at
    /// `c = ±1` too, where the clamp is not a kink).
    fn cos_shifted(c: T, a: T) -> Logit<T> {
        let theta = c.acos();
        let angle = theta + a;
        if a == T::int(0) {
            logit(theta.cos(), T::int(1))
        } else if angle <= T::int(0) {
            logit(T::int(1), T::int(0))
        } else if angle >= Self::pi() {
            logit(T::int(-1), T::int(0))
        } else {
            logit(angle.cos(), angle.sin() / theta.sin())
        }
    }

    /// SphereFace2's `g(x) = 2((x + 1)/2)^t − 1` and `g′(x) = t((x + 1)/2)^(t−1)`.
    fn g(x: T, t: u32) -> (T, T) {
        let h = (x + T::int(1)) / T::int(2);
        let mut pw = T::int(1);
        for _ in 1..t {
            pw = pw * h;
        }
        (T::int(2) * pw * h - T::int(1), T::int(i64::from(t)) * pw)
    }

    /// The row's logits (divided by the scale) and slopes for the softmax heads.
    fn row(&self, h: &Head, c: &[T], y: usize) -> Row<T> {
        let one = |v: T| logit(v, T::int(1));
        let mut dt_da = T::int(0);
        let logits = match h {
            Head::SphereFace { m } => (0..c.len())
                .map(|j| {
                    if j == y {
                        self.psi(c[j], p(m))
                    } else {
                        one(c[j])
                    }
                })
                .collect(),
            Head::SphereFaceR { m, version } => {
                let m: T = p(m);
                (0..c.len())
                    .map(|j| match (version, j == y) {
                        (RVersion::V1, true) => {
                            Self::cos_multiple_clamped(c[j], self.angle_multiple(m))
                        }
                        (RVersion::V2, false) => {
                            // cos(θ/m), slope sin(θ/m)/(m·sin θ), 1/m² at c = 1.
                            let theta = c[j].acos();
                            let mm = self.angle_multiple(m);
                            let s = theta.sin();
                            let slope = if s == T::int(0) {
                                T::int(1) / (mm * mm)
                            } else {
                                (theta / mm).sin() / (mm * s)
                            };
                            logit((theta / mm).cos(), slope)
                        }
                        _ => one(c[j]),
                    })
                    .collect()
            }
            Head::CurricularFace { m, t } => {
                let (m, t) = (self.angle(p(m)), p::<T>(t));
                let (target, _) = self.arc_target(c[y], m, Fallback::Linear);
                // The hard-example boundary: cos(θ_y + m) as the code computes it.
                let ctm = Self::cos_plus(c[y], m).value;
                (0..c.len())
                    .map(|j| {
                        if j == y {
                            target
                        } else if c[j] > ctm && self.flaw != Flaw::NoModulation {
                            logit(c[j] * (t + c[j]), t + T::int(2) * c[j])
                        } else {
                            one(c[j])
                        }
                    })
                    .collect()
            }
            Head::AdaFace(a) => {
                // margin_scaler = clip((clip(‖x‖, 0.001, 100) − mean)/(std + eps)·h, −1, 1).
                let norm = p::<T>(&a.norm).max_of(T::lit(0.001)).min_of(T::int(100));
                let scaler = (norm - p(&a.mean)) / (p::<T>(&a.std) + p(&a.eps)) * p(&a.h);
                let scaler = scaler.max_of(T::int(-1)).min_of(T::int(1));
                let m = self.angle(p(&a.m));
                let g_angular = if self.flaw == Flaw::AngularSign {
                    m * scaler
                } else {
                    -(m * scaler)
                };
                let g_add = m + m * scaler;
                (0..c.len())
                    .map(|j| {
                        if j == y {
                            let l = Self::cos_shifted(c[j], g_angular);
                            logit(l.value - g_add, l.slope)
                        } else {
                            one(c[j])
                        }
                    })
                    .collect()
            }
            Head::MagFace(mf) => {
                let (la, ua, lm, um) = (
                    p::<T>(&mf.l_a),
                    p::<T>(&mf.u_a),
                    p::<T>(&mf.l_m),
                    p::<T>(&mf.u_m),
                );
                let a = p::<T>(&mf.a);
                let slope_m = (um - lm) / (ua - la);
                let m = slope_m * (a.max_of(la).min_of(ua) - la) + lm;
                let (target, dt_dm) = self.arc_target(c[y], self.angle(m), mf.fallback);
                // The clamp passes a gradient to a only inside (l_a, u_a).
                let dm_da = if a > la && a < ua {
                    self.angle(slope_m)
                } else {
                    T::int(0)
                };
                dt_da = dt_dm * dm_da;
                (0..c.len())
                    .map(|j| if j == y { target } else { one(c[j]) })
                    .collect()
            }
            other => panic!("not a softmax head on cosines: {other:?}"),
        };
        Row { logits, dt_da }
    }

    /// SphereFace-R's multiplicative margin (degrees scale it too).
    fn angle_multiple(&self, m: T) -> T {
        if self.flaw == Flaw::Degrees {
            m * Self::pi() / T::int(180)
        } else {
            m
        }
    }

    /// The softmax cross-entropy of `s·logits`, mean over the rows, with `∂L/∂c` and
    /// MagFace's `∂L/∂a` (including the regulariser `(λ_g/N)·Σ g(a_n)`).
    fn softmax(&self, b: &CosineLossBatch<T>) -> (T, Vec<Vec<T>>, Vec<T>) {
        let n = T::int(b.cos.len() as i64);
        let s = b.scale;
        let straight = b.semantics == Semantics::StraightThrough;
        let (mut loss, mut grad, mut grad_a) = (T::int(0), Vec::new(), Vec::new());
        for ((c, &y), h) in b.cos.iter().zip(&b.y).zip(&b.heads) {
            let row = self.row(h, c, y);
            let f: Vec<T> = row.logits.iter().map(|l| s * l.value).collect();
            let fmax = f.iter().copied().fold(f[0], |a, v| a.max_of(v));
            let e: Vec<T> = f.iter().map(|&v| (v - fmax).exp()).collect();
            let sum = e.iter().copied().fold(T::int(0), |a, v| a + v);
            loss = loss + (fmax + sum.ln() - f[y]) / n;
            let probs: Vec<T> = e.iter().map(|&v| v / sum).collect();
            grad.push(
                (0..c.len())
                    .map(|j| {
                        let slope = if straight {
                            T::int(1)
                        } else {
                            row.logits[j].slope
                        };
                        let d = if j == y {
                            probs[j] - T::int(1)
                        } else {
                            probs[j]
                        };
                        d * s * slope / n
                    })
                    .collect(),
            );
            if let Head::MagFace(mf) = h {
                let (la, ua, a) = (p::<T>(&mf.l_a), p::<T>(&mf.u_a), p::<T>(&mf.a));
                // g(a) = a/u_a² + 1/a at the clamped magnitude, g′ = 1/u_a² − 1/a² inside.
                let ac = a.max_of(la).min_of(ua);
                let inv_u2 = T::int(1) / (ua * ua);
                loss = loss + b.lambda_g * (ac * inv_u2 + T::int(1) / ac) / n;
                let dg = if a > la && a < ua {
                    inv_u2 - T::int(1) / (a * a)
                } else {
                    T::int(0)
                };
                let through_margin = if straight {
                    T::int(0)
                } else {
                    (probs[y] - T::int(1)) * s * row.dt_da
                };
                let reg = if self.flaw == Flaw::NoRegularizerGradient {
                    T::int(0)
                } else {
                    b.lambda_g * dg
                };
                grad_a.push((through_margin + reg) / n);
            }
        }
        (loss, grad, grad_a)
    }

    /// SphereFace2's weighted binary cross-entropy (opensphere `sphereface2.py`), mean
    /// over the `N·C` entries, and `∂L/∂c`.
    fn sphereface2(&self, b: &CosineLossBatch<T>) -> (T, Vec<Vec<T>>) {
        let params = b.sphereface2.as_ref().expect("SphereFace2's parameters");
        let Head::SphereFace2 { t, margin, .. } = &b.heads[0] else {
            panic!("a SphereFace2 batch")
        };
        let (r, bias, alpha, lw) = (
            p::<T>(&params.r),
            p::<T>(&params.b),
            p::<T>(&params.alpha),
            p::<T>(&params.lw),
        );
        let m = p::<T>(&params.m);
        let (n, classes) = (b.cos.len(), b.cos[0].len());
        let count = T::int((n * classes) as i64);
        let straight = b.semantics == Semantics::StraightThrough;
        let (mut loss, mut grad) = (T::int(0), Vec::new());
        for (c, &y) in b.cos.iter().zip(&b.y) {
            let mut grow = Vec::new();
            for (j, &cj) in c.iter().enumerate() {
                let target = j == y;
                // The similarity before g, with its slope.
                let inner = match (margin, target) {
                    (Margin::A, true) => Self::cos_shifted(cj, self.angle(m)),
                    (Margin::M, true) => Self::cos_multiple_clamped(cj, self.angle_multiple(m)),
                    _ => logit(cj, T::int(1)),
                };
                let (g, dg) = Self::g(inner.value, *t);
                let shift = match margin {
                    Margin::C if target => -self.angle(m),
                    Margin::C => self.angle(m),
                    _ => T::int(0),
                };
                let z = r * (g + shift) + bias;
                let dz = if straight { r } else { r * dg * inner.slope };
                // weight = lw·C/r·(α on the target, 1 − α elsewhere), mean over N·C.
                let a = if target { alpha } else { T::int(1) - alpha };
                let w = lw * T::int(classes as i64) / r * a;
                // softplus(x) = max(x, 0) + ln(1 + e^−|x|); the target's term is softplus(−z).
                let x = if target { -z } else { z };
                let softplus = x.max_of(T::int(0)) + (T::int(1) + (-x.abs()).exp()).ln();
                loss = loss + w * softplus / count;
                let sigma = T::int(1) / (T::int(1) + (-z).exp());
                let d = if target { sigma - T::int(1) } else { sigma };
                grow.push(w * d * dz / count);
            }
            grad.push(grow);
        }
        (loss, grad)
    }
}

/// `max`/`min` that keep the first operand's NaN-free semantics simple.
trait MinMax: Sized {
    fn max_of(self, o: Self) -> Self;
    fn min_of(self, o: Self) -> Self;
}

impl<T: ZooFloat> MinMax for T {
    fn max_of(self, o: T) -> T {
        if o > self { o } else { self }
    }
    fn min_of(self, o: T) -> T {
        if o < self { o } else { self }
    }
}

impl<T: ZooFloat> CosineLossKernel<T> for Published<T> {
    fn name(&self) -> String {
        format!("published ({:?})", self.flaw)
    }

    fn loss(&self, b: &CosineLossBatch<T>, grad: bool) -> CosineLossOutput<T> {
        if b.kind == Kind::SphereFace2 {
            let (loss, g) = self.sphereface2(b);
            return CosineLossOutput {
                loss,
                grad_cos: grad.then_some(g),
                grad_a: None,
            };
        }
        let (loss, g, ga) = self.softmax(b);
        CosineLossOutput {
            loss,
            grad_cos: grad.then_some(g),
            grad_a: (grad && b.kind == Kind::MagFace).then_some(ga),
        }
    }
}

fn run<T: ZooFloat>(kind: Kind, flaw: Flaw) -> CosineLossReport {
    let k = Published::<T>::new(flaw);
    check_cosine_loss::<T, _>(&k, kind, DEFAULT_SEED, &LossPolicy::default())
        .unwrap_or_else(|e| panic!("{}: {e}", kind.name()))
}

/// The faithful kernel passes, with gradients scored under every semantics.
fn faithful<T: ZooFloat>(kind: Kind) {
    let r = run::<T>(kind, Flaw::None);
    assert!(r.passed(), "{r}");
    assert_eq!(r.scores.len(), 3 * 24, "{r}");
    let with_grad = r.scores.iter().filter(|s| s.grad_cos.is_some()).count();
    assert!(with_grad >= r.scores.len() / 3, "{r}");
    if kind == Kind::MagFace {
        assert!(r.scores.iter().any(|s| s.grad_a.is_some()), "{r}");
    }
    println!("{r}");
}

macro_rules! faithful_tests {
    ($($name:ident: $kind:ident;)*) => {
        $(
            mod $name {
                use super::*;
                #[test]
                fn f32_passes() {
                    faithful::<f32>(Kind::$kind);
                }
                #[test]
                fn f64_passes() {
                    faithful::<f64>(Kind::$kind);
                }
            }
        )*
    };
}

faithful_tests! {
    sphereface: SphereFace;
    sphereface_r: SphereFaceR;
    sphereface2: SphereFace2;
    curricularface: CurricularFace;
    adaface: AdaFace;
    magface: MagFace;
}

/// `kind` with `flaw` fails in f32 and f64, and `op` is among the failing outputs.
fn fails<T: ZooFloat>(kind: Kind, flaw: Flaw, op: CosineOp) -> CosineLossReport {
    let r = run::<T>(kind, flaw);
    assert!(!r.passed(), "{r}");
    assert!(
        r.failures()
            .iter()
            .any(|s| s.op(op).is_some_and(|o| o.failed)),
        "{op:?} never fails:\n{r}"
    );
    println!("{r}");
    r
}

#[test]
fn a_margin_in_degrees_fails_on_every_head() {
    for kind in heads() {
        fails::<f32>(kind, Flaw::Degrees, CosineOp::Value);
        fails::<f64>(kind, Flaw::Degrees, CosineOp::Value);
    }
}

#[test]
fn a_missing_linear_fallback_fails() {
    for kind in [Kind::CurricularFace, Kind::MagFace] {
        fails::<f32>(kind, Flaw::NoFallback, CosineOp::Value);
        fails::<f64>(kind, Flaw::NoFallback, CosineOp::Value);
    }
}

#[test]
fn a_missing_hard_example_modulation_fails() {
    fails::<f32>(Kind::CurricularFace, Flaw::NoModulation, CosineOp::Value);
    fails::<f64>(Kind::CurricularFace, Flaw::NoModulation, CosineOp::GradCos);
}

#[test]
fn adaface_with_the_angular_shift_of_the_wrong_sign_fails() {
    fails::<f32>(Kind::AdaFace, Flaw::AngularSign, CosineOp::Value);
    fails::<f64>(Kind::AdaFace, Flaw::AngularSign, CosineOp::GradCos);
}

#[test]
fn magface_without_the_regularizer_gradient_fails_on_grad_a_alone() {
    for r in [
        fails::<f32>(Kind::MagFace, Flaw::NoRegularizerGradient, CosineOp::GradA),
        fails::<f64>(Kind::MagFace, Flaw::NoRegularizerGradient, CosineOp::GradA),
    ] {
        // The loss and ∂L/∂c are right: only ∂L/∂a fails.
        for s in &r.scores {
            assert!(!s.value.failed, "{r}");
            assert!(s.grad_cos.as_ref().is_none_or(|g| !g.failed), "{r}");
        }
    }
}

/// A kernel that computes nothing: its loss and gradients are zero.
struct Zero;

impl CosineLossKernel<f64> for Zero {
    fn name(&self) -> String {
        "zero".into()
    }
    fn loss(&self, b: &CosineLossBatch<f64>, grad: bool) -> CosineLossOutput<f64> {
        CosineLossOutput {
            loss: 0.0,
            grad_cos: grad.then(|| vec![vec![0.0; b.cos[0].len()]; b.cos.len()]),
            grad_a: None,
        }
    }
    fn supports(&self, kind: Kind, semantics: Semantics) -> bool {
        kind == Kind::SphereFace && semantics == Semantics::StraightThrough
    }
}

#[test]
fn missing_gradients_and_unsupported_semantics() {
    // Only straight_through is run; every batch fails.
    let r = check_cosine_loss(&Zero, Kind::SphereFace, 1, &LossPolicy::default()).unwrap();
    assert_eq!(r.scores.len(), 24);
    assert_eq!(r.failures().len(), 24, "{r}");
    assert!(
        r.scores
            .iter()
            .all(|s| s.origin.contains("straight_through"))
    );
    // A kernel that supports nothing has no passing report.
    let none = check_cosine_loss(&Zero, Kind::AdaFace, 1, &LossPolicy::default()).unwrap();
    assert!(none.scores.is_empty() && !none.passed(), "{none}");
    assert!(none.to_string().contains("no batch scored"));
    // A MagFace kernel that leaves out ∂L/∂a fails on it.
    struct NoGradA;
    impl CosineLossKernel<f64> for NoGradA {
        fn name(&self) -> String {
            "no-grad-a".into()
        }
        fn loss(&self, b: &CosineLossBatch<f64>, grad: bool) -> CosineLossOutput<f64> {
            let mut out = Published::<f64>::new(Flaw::None).loss(b, grad);
            out.grad_a = None;
            out
        }
    }
    let r = check_cosine_loss(&NoGradA, Kind::MagFace, 1, &LossPolicy::default()).unwrap();
    assert!(
        r.failures().iter().all(|s| s
            .grad_a
            .as_ref()
            .is_some_and(|g| g.failed && g.error.is_infinite())),
        "{r}"
    );
    assert!(!r.passed());
}

#[test]
fn features_heads_are_a_domain_error() {
    for kind in Kind::FEATURES {
        assert!(!takes_cosines(kind));
        let k = Published::<f64>::new(Flaw::None);
        assert!(matches!(
            check_cosine_loss::<f64, _>(&k, kind, 1, &LossPolicy::default()),
            Err(asoftmax_spec::Error::Domain { arg: "head", .. })
        ));
        assert!(matches!(
            cosine_batches::<f32>(kind, &CosineOptions::suite(1, Semantics::Analytic)),
            Err(asoftmax_spec::Error::Domain { arg: "head", .. })
        ));
    }
    for kind in heads() {
        assert!(takes_cosines(kind));
    }
}

#[test]
fn the_batches_are_seeded_and_carry_each_head_state() {
    let o = CosineOptions::suite(7, Semantics::Analytic);
    for kind in heads() {
        let a = cosine_batches::<f32>(kind, &o).unwrap();
        assert_eq!(a, cosine_batches::<f32>(kind, &o).unwrap());
        assert_eq!(a.len(), o.count);
        for b in &a {
            assert_eq!((b.cos.len(), b.y.len(), b.heads.len()), (3, 3, 3));
            assert!(b.cos.iter().all(|r| r.len() == 5));
            assert!(b.heads.iter().all(|h| h.kind() == kind));
            assert_eq!(b.sphereface2.is_some(), kind == Kind::SphereFace2);
            assert_eq!(b.lambda_g != 0.0, kind == Kind::MagFace);
        }
    }
}

/// The second route: the CLI writes the suite's batches (`vectors --op loss --head K`
/// with the suite's shape) and `check` judges the same kernels' results on them as the
/// suite does — the published implementations pass, the margin in degrees fails.
#[cfg(feature = "cli")]
mod through_the_cli {
    use super::*;
    use asoftmax_spec::arith::exact::f64_of_text;
    use serde_json::{Value, json};

    use super::common;

    fn num(v: &Value) -> f64 {
        f64_of_text(v.as_str().expect("a numeric string")).unwrap()
    }

    /// `check VECTORS RESULTS`: (passed, report).
    fn check(name: &str, vecs: &str, results: &str) -> (bool, String) {
        let vp = common::tmp("asoftmax-spec-cosloss", &format!("{name}.vec"), vecs);
        let rp = common::tmp("asoftmax-spec-cosloss", &format!("{name}.res"), results);
        let out = common::bin()
            .arg("check")
            .arg(&vp)
            .arg(&rp)
            .output()
            .unwrap();
        let _ = std::fs::remove_file(&vp);
        let _ = std::fs::remove_file(&rp);
        let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    #[test]
    fn the_cli_writes_the_suites_batches_and_check_agrees() {
        let o = CosineOptions::suite(DEFAULT_SEED, Semantics::Analytic);
        let seed = DEFAULT_SEED.to_string();
        for kind in heads() {
            let vecs = common::vectors(&[
                "--op",
                "loss",
                "--head",
                kind.name(),
                "--dtype",
                "f32",
                "--count",
                "8",
                "--batch",
                "3",
                "--classes",
                "5",
                "--scale",
                "64",
                "--seed",
                &seed,
            ]);
            let batches = cosine_batches::<f32>(kind, &o).unwrap();
            let mut results = [String::new(), String::new()];
            for (line, b) in vecs.lines().zip(&batches) {
                let v: Value = serde_json::from_str(line).unwrap();
                let cos: Vec<Vec<f32>> = v["cos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| {
                        r.as_array()
                            .unwrap()
                            .iter()
                            .map(|c| num(c) as f32)
                            .collect()
                    })
                    .collect();
                assert_eq!(cos, b.cos, "{line}");
                assert_eq!(v["y"], json!(b.y), "{line}");
                for (k, flaw) in [Flaw::None, Flaw::Degrees].into_iter().enumerate() {
                    let out = Published::<f32>::new(flaw).loss(b, v["grad"] == json!(true));
                    let mut r = json!({"id": v["id"], "value": out.loss});
                    if let Some(g) = out.grad_cos {
                        r["grad_cos"] = json!(g);
                    }
                    if let Some(g) = out.grad_a {
                        r["grad_a"] = json!(g);
                    }
                    results[k] += &format!("{r}\n");
                }
            }
            assert_eq!(vecs.lines().count(), 8);
            let (ok, text) = check(kind.name(), &vecs, &results[0]);
            assert!(ok, "{}: {text}", kind.name());
            let (ok, text) = check(kind.name(), &vecs, &results[1]);
            assert!(!ok, "{}: {text}", kind.name());
        }
    }
}

// The one-line route a downstream crate takes.
asoftmax_spec::cosine_loss_suite!(
    macro_curricularface_f32,
    Published::<f32>::new(Flaw::None),
    f32,
    CurricularFace
);
asoftmax_spec::cosine_loss_suite!(
    macro_magface_f64,
    Published::<f64>::new(Flaw::None),
    f64,
    MagFace,
    LossPolicy::default()
);
