//! The head suite (`conformance::head_suite`): the zoo's ports of the published head
//! formulas pass where they compute the definition and fail where their clamps depart
//! from it (the audit's findings, `tests/audit_heads.rs`); deliberately wrong kernels —
//! a margin read as degrees, a missing fallback, a missing hard-example mask, an
//! unclipped AdaFace scaler, an unclamped MagFace magnitude — fail; and the loss-level
//! suite on head batches passes a faithful float loss and fails the same flaws.

use asoftmax_spec::arith::Format;
use asoftmax_spec::conformance::head_suite::{
    HeadFns, HeadKernel, HeadOp, HeadPolicy, HeadReport, check_head, check_head_loss, head_batches,
    head_states,
};
use asoftmax_spec::conformance::{Batch, GenConfig, LossGrad, LossKernel, LossPolicy};
use asoftmax_spec::head::family::Head;
use asoftmax_spec::head::{Combined, Fallback, Kind, Semantics};
use asoftmax_spec::names::Name;
use asoftmax_spec::zoo::ZooFloat;
use asoftmax_spec::zoo::float::torch_clamp;
use asoftmax_spec::zoo::heads::all_heads;
use std::marker::PhantomData;

fn run<T: asoftmax_spec::conformance::FloatFormat, K: HeadKernel<T> + ?Sized>(
    k: &K,
    op: HeadOp,
    policy: &HeadPolicy,
) -> HeadReport {
    check_head(k, op, &GenConfig::default(), policy)
}

/// The zoo's formulas in format `T`: the ones that compute their definition up to
/// rounding pass both logits; the ones with a clamp inside `[−1, 1]` or a 16-bit cosine
/// fail, worst at `c = ±1` or near it.
fn zoo_in<T: ZooFloat>() {
    let pass = [
        "insightface-combined",
        "insightface-arcface-linear",
        "insightface-mxnet-arcface",
        "pml-cosface",
        "opensphere-cosface",
        "opensphere-sphereface2-c",
        "curricularface",
        "magface-easy",
        "magface-linear",
    ];
    let policy = HeadPolicy::default();
    for f in all_heads::<T>() {
        let name = asoftmax_spec::zoo::heads::HeadFormula::name(f.as_ref());
        let reports = HeadOp::ALL.map(|op| run(f.as_ref(), op, &policy));
        if pass.contains(&name) {
            for r in &reports {
                assert!(r.passed(), "{r}");
                assert_eq!(r.undecided, 0, "{r}");
            }
        } else {
            let failed: Vec<&HeadReport> = reports.iter().filter(|r| !r.passed()).collect();
            assert!(!failed.is_empty(), "{name} should fail: {}", reports[0]);
            for r in failed {
                let w = r.worst.as_ref().unwrap();
                assert!(
                    w.c.abs() > 0.99,
                    "{name}: the clamps deviate near c = ±1, worst at {}",
                    w.c
                );
            }
        }
    }
}

#[test]
fn zoo_formulas_pass_where_they_compute_the_definition_f32() {
    zoo_in::<f32>();
}

#[test]
fn zoo_formulas_pass_where_they_compute_the_definition_f64() {
    zoo_in::<f64>();
}

/// The linear fallback's rounded threshold passes only through the jump allowance: with
/// none, the one input between the float and the exact threshold fails by the whole
/// jump `cos m + m·sin m − 1` (0.117 at m = 0.5).
#[test]
fn the_rounded_threshold_passes_only_through_the_jump_allowance() {
    use asoftmax_spec::zoo::heads::{CurricularFace, InsightFace};
    let strict = HeadPolicy::default().with_jump_ulps(0);
    let jump = 0.5f64.cos() + 0.5 * 0.5f64.sin() - 1.0;
    for f in [
        &InsightFace::ArcFaceLinear as &dyn HeadKernel<f32>,
        &CurricularFace::AUDIT,
    ] {
        let r = run(f, HeadOp::Target, &HeadPolicy::default());
        assert!(r.passed() && r.jump_accepted >= 1, "{r}");
        let r = run(f, HeadOp::Target, &strict);
        assert!(!r.passed(), "{r}");
        let w = r.worst.as_ref().unwrap();
        let err = (w.actual - w.expected.to_f64()).abs();
        assert!((err - jump).abs() < 1e-6, "{r}");
    }
    // CurricularFace's mask compares with cos(θ_y + m) computed in f64: some of the
    // inputs next to the boundary land on the other side.
    let r = run::<f32, _>(
        &CurricularFace::AUDIT,
        HeadOp::NonTarget,
        &HeadPolicy::default(),
    );
    assert!(r.passed(), "{r}");
    let r = run::<f32, _>(&CurricularFace::AUDIT, HeadOp::NonTarget, &strict);
    let r64 = run::<f64, _>(&CurricularFace::AUDIT, HeadOp::NonTarget, &strict);
    assert!(!r.passed() || !r64.passed(), "{r}{r64}");
}

/// ArcFace `m = 0.5` with the linear fallback, as a float kernel with a flaw.
#[derive(Clone, Copy, PartialEq)]
enum ArcFlaw {
    None,
    MarginInDegrees,
    NoFallback,
}

fn arcface<T: ZooFloat>(flaw: ArcFlaw) -> impl HeadKernel<T> {
    let m = if flaw == ArcFlaw::MarginInDegrees {
        0.5f64.to_radians()
    } else {
        0.5
    };
    HeadFns {
        name: "arcface-under-test",
        head: Head::Combined(Combined::arcface((1, 2).into(), Fallback::Linear)),
        target: move |c: T| {
            let theta = c.acos();
            if flaw == ArcFlaw::NoFallback || theta.to_f64() <= std::f64::consts::PI - m {
                (theta + T::lit(m)).cos()
            } else {
                c - T::lit(m * m.sin())
            }
        },
        nontarget: |c: T, _| c,
        _t: PhantomData,
    }
}

#[test]
fn wrong_arcface_kernels_fail_and_the_right_one_passes() {
    fn check<T: ZooFloat>() {
        let p = HeadPolicy::default();
        let ok = run(&arcface::<T>(ArcFlaw::None), HeadOp::Target, &p);
        assert!(ok.passed(), "{ok}");
        let deg = run(&arcface::<T>(ArcFlaw::MarginInDegrees), HeadOp::Target, &p);
        assert!(!deg.passed(), "{deg}");
        assert!(deg.failures > deg.cases / 2, "{deg}");
        let nofb = run(&arcface::<T>(ArcFlaw::NoFallback), HeadOp::Target, &p);
        assert!(!nofb.passed(), "{nofb}");
        // Every failure lies past the fallback boundary θ = π − m.
        for s in &nofb.failing {
            assert!(s.c.acos() > std::f64::consts::PI - 0.5 - 1e-6, "{nofb}");
        }
        println!("{deg}{nofb}");
    }
    check::<f32>();
    check::<f64>();
}

/// A float kernel for any head state: the definition (`head::family`'s table) evaluated
/// in `T` through `acos`/`cos`, its parameters rounded to `T`; `flawed` drops AdaFace's
/// clip of `ŝ` to `[−1, 1]`, MagFace's clamp of the magnitude to `[l_a, u_a]` and
/// CurricularFace's hard-example mask.
struct Definition<T> {
    head: Head,
    flawed: bool,
    _t: PhantomData<T>,
}

fn definition_kernel<T: ZooFloat>(head: Head, flawed: bool) -> Definition<T> {
    Definition {
        head,
        flawed,
        _t: PhantomData,
    }
}

impl<T: ZooFloat> Definition<T> {
    fn r(v: &rug::Rational) -> T {
        T::from_f64(v.to_f64())
    }

    /// `cos(m1·θ + m2) − m3` with its fallback.
    fn combined(c: T, m1: T, m2: T, m3: T, fallback: Fallback) -> T {
        let pi = T::lit(std::f64::consts::PI);
        let theta = c.acos();
        let angle = m1 * theta + m2;
        match fallback {
            Fallback::Linear if angle > pi => c - m2 * m2.sin() - m3,
            Fallback::ClampPi if angle > pi => T::int(-1) - m3,
            Fallback::Easy if c <= T::int(0) => c - m3,
            _ => angle.cos() - m3,
        }
    }

    /// ψ with a real `m`: `(−1)^k cos(mθ) − 2k`, `k = ⌊mθ/π⌋`.
    fn psi(c: T, m: T) -> T {
        let mt = m * c.acos();
        let k = (mt / T::lit(std::f64::consts::PI)).floor();
        let sign = if (k.to_f64() as i64) % 2 == 0 {
            T::int(1)
        } else {
            T::int(-1)
        };
        sign * mt.cos() - T::int(2) * k
    }

    /// SphereFace2's `g(x) = 2((x + 1)/2)^t − 1`.
    fn g(x: T, t: u32) -> T {
        let h = (x + T::int(1)) / T::int(2);
        let mut p = T::int(1);
        for _ in 0..t {
            p = p * h;
        }
        T::int(2) * p - T::int(1)
    }
}

impl<T: ZooFloat> HeadKernel<T> for Definition<T> {
    fn name(&self) -> String {
        if self.flawed {
            "definition-flawed"
        } else {
            "definition"
        }
        .into()
    }
    fn head(&self) -> Head {
        self.head.clone()
    }
    fn target(&self, c: T) -> T {
        use asoftmax_spec::head::family::{AdaFace, MagFace, RVersion};
        use asoftmax_spec::head::sphereface2::Margin;
        let pi = T::lit(std::f64::consts::PI);
        let r = Self::r;
        let arc = |m: T, f| Self::combined(c, T::int(1), m, T::int(0), f);
        match &self.head {
            Head::Combined(h) => Self::combined(c, r(&h.m1), r(&h.m2), r(&h.m3), h.fallback),
            Head::SphereFace { m } => Self::psi(c, r(m)),
            Head::SphereFaceR { m, version } => match version {
                RVersion::V1 => torch_min(r(m) * c.acos(), pi).cos(),
                RVersion::V2 => c,
            },
            Head::SphereFace2 { t, m, margin } => match margin {
                Margin::C => Self::g(c, *t) - r(m),
                Margin::A => Self::g(arc(r(m), Fallback::ClampPi), *t),
                Margin::M => Self::g(torch_min(r(m) * c.acos(), pi).cos(), *t),
            },
            Head::CurricularFace { m, .. } => arc(r(m), Fallback::Linear),
            Head::AdaFace(AdaFace {
                m,
                h,
                eps,
                norm,
                mean,
                std,
            }) => {
                let s = (r(norm) - r(mean)) / (r(std) + r(eps)) * r(h);
                let s = if self.flawed {
                    s
                } else {
                    torch_clamp(s, T::int(-1), T::int(1))
                };
                let (a, b) = (-(r(m) * s), r(m) * (T::int(1) + s));
                torch_clamp(c.acos() + a, T::int(0), pi).cos() - b
            }
            Head::MagFace(MagFace {
                l_a,
                u_a,
                l_m,
                u_m,
                a,
                fallback,
            }) => {
                let x = if self.flawed {
                    r(a)
                } else {
                    torch_clamp(r(a), r(l_a), r(u_a))
                };
                let m = (r(u_m) - r(l_m)) / (r(u_a) - r(l_a)) * (x - r(l_a)) + r(l_m);
                arc(m, *fallback)
            }
        }
    }
    fn nontarget(&self, c: T, c_y: T) -> T {
        use asoftmax_spec::head::family::RVersion;
        use asoftmax_spec::head::sphereface2::Margin;
        let r = Self::r;
        match &self.head {
            Head::CurricularFace { m, t } if !self.flawed && c > (c_y.acos() + r(m)).cos() => {
                c * (r(t) + c)
            }
            Head::SphereFaceR {
                m,
                version: RVersion::V2,
            } => (c.acos() / r(m)).cos(),
            Head::SphereFace2 { t, m, margin } => match margin {
                Margin::C => Self::g(c, *t) + r(m),
                _ => Self::g(c, *t),
            },
            _ => c,
        }
    }
}

fn torch_min<T: ZooFloat>(a: T, b: T) -> T {
    if a > b { b } else { a }
}

/// Every state of every kind ([`head_states`]) computed from its definition in `f32` and
/// `f64` passes the default policy: the tolerances hold for a plain float evaluation.
#[test]
fn every_state_of_every_kind_passes_its_definition_in_float() {
    fn check<T: ZooFloat>() {
        let p = HeadPolicy::default();
        for &kind in Kind::ALL {
            for head in head_states(kind) {
                for op in HeadOp::ALL {
                    let r = run(&definition_kernel::<T>(head.clone(), false), op, &p);
                    println!(
                        "{:?} {op} {:?}: max {:.2} scaled ulps",
                        head,
                        T::FORMAT,
                        r.max_scaled
                    );
                    assert!(r.passed(), "{head:?}\n{r}");
                    assert_eq!(r.undecided, 0, "{r}");
                }
            }
        }
    }
    check::<f32>();
    check::<f64>();
}

/// Over every state of `kind` ([`head_states`]): the definition passes everywhere, the
/// flawed kernel fails on the states where its missing piece matters.
fn states(kind: Kind, op: HeadOp, failing_states: usize) {
    let p = HeadPolicy::default();
    let mut failed = 0;
    for head in head_states(kind) {
        let ok = run(&definition_kernel::<f64>(head.clone(), false), op, &p);
        assert!(ok.passed(), "{head:?}\n{ok}");
        let bad = run(&definition_kernel::<f64>(head.clone(), true), op, &p);
        if !bad.passed() {
            failed += 1;
        }
    }
    assert_eq!(failed, failing_states, "{kind:?}");
}

#[test]
fn adaface_states_catch_an_unclipped_scaler() {
    // ŝ beyond ±1 at the norms 100, 20 + 10.001/0.333 + 1 and below 20 − 10.001/0.333
    // (0.001 and 19 − 10.001/0.333 < 0 is dropped).
    let n = head_states(Kind::AdaFace)
        .iter()
        .filter(|h| match h {
            Head::AdaFace(a) => {
                a.clone().scaler().is_ok() && {
                    let raw = rug::Rational::from(&a.norm - &a.mean) * &a.h
                        / rug::Rational::from(&a.std + &a.eps);
                    raw.clone().abs() > 1
                }
            }
            _ => false,
        })
        .count();
    assert!(n >= 2);
    states(Kind::AdaFace, HeadOp::Target, n);
}

#[test]
fn magface_states_catch_an_unclamped_magnitude() {
    // a = 5 and a = 150, with either fallback.
    states(Kind::MagFace, HeadOp::Target, 4);
}

#[test]
fn curricularface_states_catch_a_missing_hard_example_mask() {
    // t = 0.375 and t = 1 (t = 0 leaves c·(0 + c) = c² ≠ c: fails as well).
    states(Kind::CurricularFace, HeadOp::NonTarget, 3);
}

/// A float loss over a head batch (combined margin): cosine logits,
/// `s·t(c_y)` for the target, mean cross-entropy and its gradients through
/// `c = x·w/(‖x‖‖w‖)`, with the slope of `t` per the batch's semantics.
struct HeadLoss {
    flaw: ArcFlaw,
    ignore_easy: bool,
}

impl HeadLoss {
    fn target(&self, h: &Combined, c: f64, sem: Semantics) -> (f64, f64) {
        let pi = std::f64::consts::PI;
        let m1 = h.m1.to_f64();
        let m2 = if self.flaw == ArcFlaw::MarginInDegrees {
            h.m2.to_f64().to_radians()
        } else {
            h.m2.to_f64()
        };
        let m3 = h.m3.to_f64();
        let theta = c.clamp(-1.0, 1.0).acos();
        let fallback = if self.flaw == ArcFlaw::NoFallback
            || (self.ignore_easy && h.fallback == Fallback::Easy)
        {
            Fallback::None
        } else {
            h.fallback
        };
        let (t, slope) = match fallback {
            Fallback::Easy if c <= 0.0 => (c - m3, 1.0),
            Fallback::Linear if m1 * theta + m2 > pi => (c - m2 * m2.sin() - m3, 1.0),
            Fallback::ClampPi if m1 * theta + m2 > pi => (-1.0 - m3, 0.0),
            // CosFace: t = c − m3, slope 1 (through acos it would be 0/0 at a float c = 1).
            _ if m1 == 1.0 && m2 == 0.0 => (c - m3, 1.0),
            _ => (
                (m1 * theta + m2).cos() - m3,
                m1 * (m1 * theta + m2).sin() / (1.0 - c * c).sqrt(),
            ),
        };
        let slope = if sem == Semantics::StraightThrough {
            1.0
        } else {
            slope
        };
        (t, slope)
    }
}

impl LossKernel<f64> for HeadLoss {
    fn name(&self) -> String {
        "head-loss-f64".into()
    }
    fn loss(&self, b: &Batch<f64>, _grad: bool) -> LossGrad<f64> {
        let h = b.head.as_ref().expect("a head batch");
        let (d, s) = (b.dim, b.scale);
        let norm = |v: &[f64]| v.iter().map(|t| t * t).sum::<f64>().sqrt();
        let (mut loss, mut gx, mut gw) = (0.0, vec![0.0; b.n * d], vec![0.0; b.classes * d]);
        let inv_n = 1.0 / b.n as f64;
        for i in 0..b.n {
            let x = &b.x[i * d..(i + 1) * d];
            let (y, r) = (b.y[i], norm(x));
            let mut f = Vec::new();
            let mut cs = Vec::new();
            let mut slope = 1.0;
            for j in 0..b.classes {
                let w = &b.w[j * d..(j + 1) * d];
                let c = x.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / (r * norm(w));
                cs.push(c);
                if j == y {
                    let (t, sl) = self.target(&h.margin, c, h.semantics);
                    slope = sl;
                    f.push(s * t);
                } else {
                    f.push(s * c);
                }
            }
            let top = f.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = f.iter().map(|v| (v - top).exp()).sum();
            loss += (top + z.ln() - f[y]) * inv_n;
            for j in 0..b.classes {
                let p = (f[j] - top).exp() / z;
                let dl_df = (p - if j == y { 1.0 } else { 0.0 }) * inv_n;
                let dl_dc = dl_df * s * if j == y { slope } else { 1.0 };
                let w = &b.w[j * d..(j + 1) * d];
                let wn = norm(w);
                for k in 0..d {
                    gx[i * d + k] += dl_dc * (w[k] / wn - cs[j] * x[k] / r) / r;
                    gw[j * d + k] += dl_dc * (x[k] / r - cs[j] * w[k] / wn) / wn;
                }
            }
        }
        LossGrad {
            loss,
            grad_x: gx,
            grad_w: gw,
        }
    }
}

#[test]
fn head_loss_suite_passes_a_faithful_loss_and_fails_the_flaws() {
    let p = LossPolicy::default();
    let seed = 0x4ead;
    for kind in Kind::FEATURES {
        let ok = HeadLoss {
            flaw: ArcFlaw::None,
            ignore_easy: false,
        };
        let r = check_head_loss(&ok, kind, seed, &p).unwrap();
        assert!(r.passed(), "{r}");
        assert!(r.scores.len() >= 9, "{r}");
    }
    // ArcFace's margin read as degrees: every state's target logit moves.
    let deg = HeadLoss {
        flaw: ArcFlaw::MarginInDegrees,
        ignore_easy: false,
    };
    let r = check_head_loss(&deg, Kind::ArcFace, seed, &p).unwrap();
    assert!(!r.passed(), "{r}");
    assert!(r.failures().len() * 2 > r.scores.len(), "{r}");
    // The easy margin missing: the target cosines c ≤ 0 of the easy state fail.
    let easy = HeadLoss {
        flaw: ArcFlaw::None,
        ignore_easy: true,
    };
    let r = check_head_loss(&easy, Kind::ArcFace, seed, &p).unwrap();
    assert!(!r.passed(), "{r}");
    for s in r.failures() {
        assert!(s.origin.contains("Easy"), "{r}");
    }
    println!("{r}");
}

#[test]
fn head_batches_are_by_kind_and_refuse_heads_without_a_loss_oracle() {
    for kind in Kind::FEATURES {
        let b = head_batches::<f64>(kind, 1).unwrap();
        assert!(b.iter().all(|c| c.batch.head.is_some()));
        let b32 = head_batches::<f32>(kind, 1).unwrap();
        assert_eq!(b.len(), b32.len());
    }
    for kind in [Kind::SphereFace, Kind::AdaFace, Kind::MagFace] {
        assert!(matches!(
            head_batches::<f64>(kind, 1),
            Err(asoftmax_spec::Error::Domain { arg: "head", .. })
        ));
    }
}

#[test]
fn the_policy_table_has_a_reason_per_kind_and_format() {
    let p = HeadPolicy::default();
    for fmt in Format::EVERY {
        for kind in [
            Kind::ArcFace,
            Kind::SphereFace,
            Kind::SphereFace2,
            Kind::AdaFace,
        ] {
            assert!(!p.bound(kind, fmt).reason.is_empty());
        }
    }
    // The √(1 − c²) cancellation term: 7 in f32, 1024 in f64.
    assert_eq!(p.bound(Kind::ArcFace, Format::F32).scaled, 16.0 + 7.0);
    assert_eq!(p.bound(Kind::ArcFace, Format::F64).scaled, 16.0 + 1024.0);
    assert!(p.table().contains("| arcface | f64 |"));
}

// The one-line route a downstream crate takes, on the crate's own insightface port.
asoftmax_spec::head_suite!(
    insightface_combined_f32,
    asoftmax_spec::zoo::heads::InsightFace::Combined,
    f32
);
asoftmax_spec::head_suite!(
    magface_easy_f64,
    asoftmax_spec::zoo::heads::MagFace::EASY,
    f64
);

/// The exported head strategies, used as a downstream property would.
#[cfg(feature = "proptest")]
mod properties {
    use super::definition_kernel;
    use asoftmax_spec::conformance::head_suite::{
        HeadKernel, HeadOp, HeadPolicy, jumps, oracle_value,
    };
    use asoftmax_spec::conformance::strategies::{head_and_cos, head_cos_for};
    use asoftmax_spec::head::Kind;
    use asoftmax_spec::zoo::heads::{HeadFormula, InsightFace};
    use proptest::prelude::*;

    /// Within the policy's scaled bound (ulps of `max(1, |exact|)`, `ulp(1) = 2^(1−p)`), or
    /// within 4 ulps of a jump (where the suite accepts either side).
    fn within(
        got: f64,
        head: &asoftmax_spec::head::family::Head,
        c: f64,
        c_y: f64,
        p: i32,
    ) -> bool {
        let exact = oracle_value(head, HeadOp::Target, c, c_y).unwrap().to_f64();
        let fmt = if p == 24 {
            asoftmax_spec::arith::Format::F32
        } else {
            asoftmax_spec::arith::Format::F64
        };
        let near_jump = jumps(head, HeadOp::Target).iter().any(|j| {
            j.at::<f64>(head, c_y)
                .is_some_and(|at| (at - c).abs() <= 4.0 * 2f64.powi(-p) * at.abs().max(0.5))
        });
        let bound = HeadPolicy::default().bound(head.kind(), fmt).scaled;
        near_jump || (got - exact).abs() <= bound * 2f64.powi(1 - p) * exact.abs().max(1.0) * 1.0001
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn insightface_combined_is_within_the_policy(
            (c, c_y) in head_cos_for::<f32>(&HeadFormula::<f32>::head(&InsightFace::Combined))
        ) {
            let head = HeadFormula::<f32>::head(&InsightFace::Combined);
            let got = HeadKernel::<f32>::target(&InsightFace::Combined, c);
            prop_assert!(within(f64::from(got), &head, f64::from(c), f64::from(c_y), 24));
        }

        #[test]
        fn magface_definition_is_within_the_policy_in_every_state(
            (head, (c, c_y)) in head_and_cos::<f64>(Kind::MagFace)
        ) {
            let got = definition_kernel::<f64>(head.clone(), false).target(c);
            prop_assert!(within(got, &head, c, c_y, 53));
        }
    }
}

// The loss route in one line, on the faithful float loss above.
asoftmax_spec::head_loss_suite!(
    arcface_loss_f64,
    HeadLoss {
        flaw: ArcFlaw::None,
        ignore_easy: false,
    },
    f64,
    ArcFace
);
asoftmax_spec::head_loss_suite!(
    cosface_loss_f64,
    HeadLoss {
        flaw: ArcFlaw::None,
        ignore_easy: false,
    },
    f64,
    CosFace
);
