//! The loss of the margin family's heads ([`asoftmax_spec::loss::Head`]): the oracle's
//! gradients against high-precision finite differences of its own loss enclosure, in
//! each gradient semantics where a finite difference means something (analytic; the
//! straight-through gradient against finite differences of the loss with the margin
//! frozen; differentiable acos equal to analytic inside (−1, 1)), and the points where
//! there is no gradient as typed errors.

use asoftmax_spec::Error;
use asoftmax_spec::arith::{Approx, Ival};
use asoftmax_spec::conformance::gradcheck::{Tolerance, check_gradient};
use asoftmax_spec::fd::FdOptions;
use asoftmax_spec::head::{Combined, Fallback, Semantics, target_logit};
use asoftmax_spec::loss::{Head, LossSpec, loss, loss_enclosure};
use rug::Rational;

fn q(n: i64, d: i64) -> Rational {
    Rational::from((n, d))
}

fn rows(v: &[&[(i64, i64)]]) -> Vec<Vec<Rational>> {
    v.iter()
        .map(|r| r.iter().map(|&(n, d)| q(n, d)).collect())
        .collect()
}

/// Far below what a wrong formula produces, far above the FD error.
const TOL: Tolerance = Tolerance {
    abs: 1e-30,
    rel: 1e-30,
};

/// The heads checked: every fallback of ArcFace, CosFace, combined margins.
fn heads() -> Vec<(&'static str, Combined)> {
    let arc = |fb| Combined::arcface(q(1, 2), fb);
    vec![
        ("arcface none", arc(Fallback::None)),
        ("arcface clamp_pi", arc(Fallback::ClampPi)),
        ("arcface linear", arc(Fallback::Linear)),
        ("arcface easy", arc(Fallback::Easy)),
        (
            "arcface m=1.2 linear",
            Combined::arcface(q(6, 5), Fallback::Linear),
        ),
        ("cosface", Combined::cosface(q(35, 100))),
        (
            "combined 2, 0, 0.1 clamp_pi",
            Combined {
                m1: q(2, 1),
                m2: q(0, 1),
                m3: q(1, 10),
                fallback: Fallback::ClampPi,
            },
        ),
        (
            "combined 1.5, 0.25, 0.2 none",
            Combined {
                m1: q(3, 2),
                m2: q(1, 4),
                m3: q(1, 5),
                fallback: Fallback::None,
            },
        ),
    ]
}

/// Two samples, three classes, d = 3: targets on every piece for some head (sample 1
/// is nearly opposite its class row: θ ≈ 2.6).
fn batch(margin: Combined, semantics: Semantics, lambda: i64) -> LossSpec {
    let x = rows(&[&[(3, 4), (-1, 2), (1, 8)], &[(-5, 4), (-1, 3), (1, 2)]]);
    let w = rows(&[
        &[(1, 1), (-1, 4), (1, 2)],
        &[(-1, 2), (3, 4), (-1, 8)],
        &[(1, 1), (1, 5), (-1, 3)],
    ]);
    let mut spec = LossSpec::new(x, w, vec![0, 2], Rational::from(1));
    spec.scale = q(4, 1);
    spec.lambda = Rational::from(lambda);
    spec.head = Some(Head { margin, semantics });
    spec
}

fn params(spec: &LossSpec) -> Vec<Rational> {
    spec.x.iter().chain(&spec.w).flatten().cloned().collect()
}

/// `spec` with its `x` and `W` replaced by the parameter vector `p`.
fn at(spec: &LossSpec, p: &[Rational]) -> LossSpec {
    let d = spec.x[0].len();
    let all: Vec<Vec<Rational>> = p.chunks(d).map(<[Rational]>::to_vec).collect();
    let (x, w) = all.split_at(spec.x.len());
    LossSpec {
        x: x.to_vec(),
        w: w.to_vec(),
        ..spec.clone()
    }
}

fn gradient(spec: &LossSpec) -> Vec<Approx> {
    let out = loss(spec, true, 128).expect("loss oracle");
    let (gx, gw) = (out.grad_x.unwrap(), out.grad_w.unwrap());
    gx.into_iter().chain(gw).flatten().collect()
}

/// The oracle's gradient of `spec` against finite differences of `fd_spec`'s loss.
fn assert_fd(what: &str, spec: &LossSpec, fd_spec: &LossSpec) {
    let f = |p: &[Rational], wp: u32| -> Result<Option<Ival>, Error> {
        loss_enclosure(&at(fd_spec, p), wp)
    };
    let check = check_gradient(f, &params(spec), &gradient(spec), &FdOptions::default())
        .expect("finite differences");
    assert!(check.passed(TOL), "{what}\n{}", check.report(TOL));
}

#[test]
fn analytic_gradients_match_finite_differences() {
    for (name, h) in heads() {
        for lambda in [0, 5] {
            let spec = batch(h.clone(), Semantics::Analytic, lambda);
            assert_fd(&format!("{name}, λ = {lambda}"), &spec, &spec);
        }
    }
}

#[test]
fn differentiable_acos_is_analytic_inside_the_interval() {
    for (name, h) in heads() {
        let a = gradient(&batch(h.clone(), Semantics::Analytic, 0));
        let b = gradient(&batch(h, Semantics::DifferentiableAcos, 0));
        for (u, v) in a.iter().zip(&b) {
            assert_eq!(u.f64().to_bits(), v.f64().to_bits(), "{name}");
            assert_eq!(u.decimal(), v.decimal(), "{name}");
        }
    }
}

/// Straight-through: the gradient of the loss whose target logit is `s·c + δ` with
/// `δ = s·(t(c) − c)` frozen at the point. With one sample whose target cosine is
/// rational (`c = 3/5`), `δ/s` is known to 2⁻⁴⁰⁰ and the frozen loss is CosFace with
/// `m3 = c − t(c)`: its analytic gradient is the plain cosine logit's, and finite
/// differences of it give the straight-through gradient.
#[test]
fn straight_through_matches_finite_differences_of_the_frozen_margin() {
    let c = q(3, 5);
    for (name, h) in heads() {
        let t = target_logit(&h, &c, 400).expect("target logit");
        let tq = t.mid().to_rational().expect("finite");
        let x = rows(&[&[(3, 1), (4, 1), (0, 1)]]); // |x| = 5, c_0 = 3/5
        let w = rows(&[&[(1, 1), (0, 1), (0, 1)], &[(-1, 2), (1, 3), (2, 1)]]);
        let mut spec = LossSpec::new(x, w, vec![0], Rational::from(1));
        spec.scale = q(3, 1);
        spec.head = Some(Head {
            margin: h.clone(),
            semantics: Semantics::StraightThrough,
        });
        let mut frozen = spec.clone();
        frozen.head = Some(Head {
            margin: Combined::cosface(Rational::from(&c - &tq)),
            semantics: Semantics::Analytic,
        });
        assert_fd(&format!("straight-through {name}"), &spec, &frozen);
    }
}

/// ArcFace at `c = 1` (x parallel to its class row) has slope `+∞`; `cos(2θ)` through
/// a differentiable acos is `0·∞` there; the easy margin jumps at `c = 0`. A gradient
/// request is a typed error naming it; the value alone is returned; straight-through
/// has a gradient.
#[test]
fn no_gradient_where_the_slope_is_not_finite() {
    let x = rows(&[&[(1, 1), (2, 1)]]);
    let w = rows(&[&[(2, 1), (4, 1)], &[(-1, 5), (7, 10)]]);
    let spec = |margin: Combined, semantics| {
        let mut s = LossSpec::new(x.clone(), w.clone(), vec![0], Rational::from(1));
        s.head = Some(Head { margin, semantics });
        s
    };
    let arc = Combined::arcface(q(1, 2), Fallback::None);
    let double = Combined {
        m1: q(2, 1),
        m2: q(0, 1),
        m3: q(0, 1),
        fallback: Fallback::None,
    };
    for (s, what) in [
        (spec(arc.clone(), Semantics::Analytic), "+inf"),
        (spec(arc.clone(), Semantics::DifferentiableAcos), "+inf"),
        (
            spec(double.clone(), Semantics::DifferentiableAcos),
            "undefined",
        ),
    ] {
        match loss(&s, true, 64) {
            Err(Error::Degenerate { what: msg }) => assert!(msg.contains(what), "{msg}"),
            other => panic!("expected a degenerate-input error, got {other:?}"),
        }
        assert!(loss(&s, false, 64).is_ok());
    }
    // cos(2θ) analytic at c = 1: T_2′(1) = 4, a number; straight-through too.
    assert!(loss(&spec(double, Semantics::Analytic), true, 64).is_ok());
    assert!(loss(&spec(arc, Semantics::StraightThrough), true, 64).is_ok());
    // The easy margin at c = 0 (x ⟂ W_0): a jump.
    let easy = Combined {
        fallback: Fallback::Easy,
        ..Combined::arcface(q(1, 2), Fallback::Easy)
    };
    let mut s = LossSpec::new(
        rows(&[&[(2, 1), (1, 1)]]),
        rows(&[&[(-1, 1), (2, 1)], &[(1, 1), (1, 1)]]),
        vec![0],
        Rational::from(1),
    );
    s.head = Some(Head {
        margin: easy.clone(),
        semantics: Semantics::Analytic,
    });
    assert!(matches!(loss(&s, true, 64), Err(Error::Degenerate { .. })));
    s.head = Some(Head {
        margin: easy,
        semantics: Semantics::DifferentiableAcos,
    });
    assert!(loss(&s, true, 64).is_ok());
}

/// Cosine logits normalize the features: a zero feature is an error; a head replaces
/// `m`, `variant` and `backward`, which must keep their defaults.
#[test]
fn head_inputs_are_validated() {
    let mut s = batch(Combined::cosface(q(2, 5)), Semantics::Analytic, 0);
    s.x[1] = vec![Rational::new(); 3];
    assert!(matches!(loss(&s, false, 64), Err(Error::Degenerate { .. })));
    let mut s = batch(Combined::cosface(q(2, 5)), Semantics::Analytic, 0);
    s.m = Rational::from(4);
    assert!(matches!(
        loss(&s, false, 64),
        Err(Error::Domain { arg: "m", .. })
    ));
    let mut s = batch(
        Combined::arcface(q(4, 1), Fallback::None),
        Semantics::Analytic,
        0,
    );
    s.m = Rational::from(1);
    assert!(matches!(
        loss(&s, false, 64),
        Err(Error::Domain { arg: "m2", .. })
    ));
}

/// The identity head (`m1 = 1`, `m2 = m3 = 0`) is the plain cosine-logit softmax: with
/// a rational cosine everything is exact, and the loss of one sample with two classes
/// and `c = (1, 0)` is `ln(1 + e^{−s})`.
#[test]
fn identity_head_is_the_normalized_softmax() {
    let mut s = LossSpec::new(
        rows(&[&[(2, 1), (0, 1)]]),
        rows(&[&[(3, 1), (0, 1)], &[(0, 1), (5, 1)]]),
        vec![0],
        Rational::from(1),
    );
    s.scale = q(2, 1);
    s.head = Some(Head {
        margin: Combined::cosface(Rational::new()),
        semantics: Semantics::Analytic,
    });
    let out = loss(&s, true, 64).unwrap();
    assert!((out.loss.f64() - (-2.0f64).exp().ln_1p()).abs() < 1e-16);
    // x ∥ W_0: ∂c_0/∂x = 0 and ∂c_0/∂W_0 = 0 exactly.
    let gw = out.grad_w.unwrap();
    assert!(gw[0].iter().all(|g| g.is_exact() && g.f64() == 0.0));
}
