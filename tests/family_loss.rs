//! The family's loss on cosines ([`asoftmax_spec::loss::family`]): the oracle's gradients
//! against high-precision finite differences of its own loss (analytic semantics, and
//! MagFace's magnitude gradient), the straight-through gradient against finite
//! differences of the loss with every margin frozen (written here from the definition,
//! over the head oracles' logits), differentiable acos equal to analytic inside
//! (−1, 1), the combined heads against the features-and-weights oracle (a second route),
//! and the points where there is no gradient as typed errors.

use asoftmax_spec::Error;
use asoftmax_spec::arith::{Approx, Ival};
use asoftmax_spec::conformance::gradcheck::{Tolerance, check_gradient};
use asoftmax_spec::fd::FdOptions;
use asoftmax_spec::head::family::{self, AdaFace, Head, MagFace, RVersion};
use asoftmax_spec::head::sphereface2::{Margin, Params};
use asoftmax_spec::head::{Combined, Fallback, Semantics};
use asoftmax_spec::loss::family::{FamilySpec, loss, sphereface2};
use asoftmax_spec::loss::{self as xw, LossSpec};
use rug::Rational;

fn q(n: i64, d: i64) -> Rational {
    Rational::from((n, d))
}

/// Far below what a wrong formula produces, far above the FD error.
const TOL: Tolerance = Tolerance {
    abs: 1e-30,
    rel: 1e-30,
};

/// Two samples, three classes; every cosine at least 2⁻⁵ from a piece boundary of the
/// heads below (checked by the finite differences' convergence).
fn cosines() -> Vec<Vec<Rational>> {
    vec![
        vec![q(3, 5), q(-1, 4), q(1, 3)],
        vec![q(1, 10), q(7, 10), q(-3, 4)],
    ]
}

const LABELS: [usize; 2] = [0, 2];

fn magface(a: Rational, fallback: Fallback) -> Head {
    Head::MagFace(MagFace {
        l_a: q(10, 1),
        u_a: q(110, 1),
        l_m: q(45, 100),
        u_m: q(4, 5),
        a,
        fallback,
    })
}

fn adaface(norm: Rational) -> Head {
    Head::AdaFace(AdaFace {
        m: q(2, 5),
        h: q(333, 1000),
        eps: q(1, 1000),
        norm,
        mean: q(20, 1),
        std: q(8, 1),
    })
}

/// The softmax heads checked, one per sample, with MagFace's `λ_g`.
fn heads() -> Vec<(&'static str, Vec<Head>, Rational)> {
    let same = |h: Head| vec![h.clone(), h];
    let zero = Rational::new;
    vec![
        (
            "sphereface 1.5",
            same(Head::SphereFace { m: q(3, 2) }),
            zero(),
        ),
        (
            "sphereface 2.5",
            same(Head::SphereFace { m: q(5, 2) }),
            zero(),
        ),
        (
            "sphereface_r v1",
            same(Head::SphereFaceR {
                m: q(3, 2),
                version: RVersion::V1,
            }),
            zero(),
        ),
        (
            "sphereface_r v2",
            same(Head::SphereFaceR {
                m: q(9, 5),
                version: RVersion::V2,
            }),
            zero(),
        ),
        (
            "curricularface",
            same(Head::CurricularFace {
                m: q(1, 2),
                t: q(3, 10),
            }),
            zero(),
        ),
        (
            "adaface",
            vec![adaface(q(25, 1)), adaface(q(12, 1))],
            zero(),
        ),
        (
            "magface linear",
            vec![
                magface(q(50, 1), Fallback::Linear),
                magface(q(200, 1), Fallback::Linear),
            ],
            q(35, 1),
        ),
        (
            "magface easy",
            vec![
                magface(q(73, 1), Fallback::Easy),
                magface(q(31, 1), Fallback::Easy),
            ],
            q(3, 1),
        ),
        (
            "arcface linear",
            same(Head::Combined(Combined::arcface(q(1, 2), Fallback::Linear))),
            zero(),
        ),
    ]
}

fn spec(heads: Vec<Head>, lambda_g: Rational, sem: Semantics) -> FamilySpec {
    FamilySpec {
        cos: cosines(),
        y: LABELS.to_vec(),
        heads,
        scale: q(4, 1),
        semantics: sem,
        lambda_g,
    }
}

/// The parameters: the cosines, then (MagFace) the magnitudes.
fn params(s: &FamilySpec) -> Vec<Rational> {
    let mut p: Vec<Rational> = s.cos.iter().flatten().cloned().collect();
    for h in &s.heads {
        if let Head::MagFace(mf) = h {
            p.push(mf.a.clone());
        }
    }
    p
}

/// `s` with the cosines and magnitudes of `p`.
fn at(s: &FamilySpec, p: &[Rational]) -> FamilySpec {
    let classes = s.cos[0].len();
    let cells = s.cos.len() * classes;
    let cos = p[..cells]
        .chunks(classes)
        .map(<[Rational]>::to_vec)
        .collect();
    let mut mags = p[cells..].iter();
    let heads = s
        .heads
        .iter()
        .map(|h| match h {
            Head::MagFace(mf) => Head::MagFace(MagFace {
                a: mags
                    .next()
                    .expect("one magnitude per MagFace sample")
                    .clone(),
                ..mf.clone()
            }),
            other => other.clone(),
        })
        .collect();
    FamilySpec {
        cos,
        heads,
        ..s.clone()
    }
}

fn gradient(s: &FamilySpec) -> Vec<Approx> {
    let out = loss(s, true, 128).expect("family loss oracle");
    let mut g: Vec<Approx> = out
        .grad_cos
        .expect("requested")
        .into_iter()
        .flatten()
        .collect();
    g.extend(out.grad_a.unwrap_or_default());
    g
}

fn enclosure_of(a: Approx) -> Option<Ival> {
    Some(a.enclosure().clone())
}

/// The oracle's loss of `s` at the parameters `p`, enclosed at about `wp` bits.
fn loss_at(s: &FamilySpec, p: &[Rational], wp: u32) -> Result<Option<Ival>, Error> {
    let prec = wp.clamp(64, asoftmax_spec::arith::MAX_PREC);
    Ok(enclosure_of(loss(&at(s, p), false, prec)?.loss))
}

fn assert_fd<F>(what: &str, f: F, p: &[Rational], g: &[Approx])
where
    F: Fn(&[Rational], u32) -> Result<Option<Ival>, Error>,
{
    let check = check_gradient(f, p, g, &FdOptions::default()).expect("finite differences");
    assert!(check.passed(TOL), "{what}\n{}", check.report(TOL));
}

#[test]
fn analytic_gradients_match_finite_differences() {
    for (name, heads, lambda_g) in heads() {
        let s = spec(heads, lambda_g, Semantics::Analytic);
        let p = params(&s);
        assert_eq!(p.len() > 6, name.starts_with("magface"), "{name}");
        assert_fd(name, |p, wp| loss_at(&s, p, wp), &p, &gradient(&s));
    }
}

#[test]
fn differentiable_acos_is_analytic_inside_the_interval() {
    for (name, heads, lambda_g) in heads() {
        let a = gradient(&spec(heads.clone(), lambda_g.clone(), Semantics::Analytic));
        let b = gradient(&spec(heads, lambda_g, Semantics::DifferentiableAcos));
        for (u, v) in a.iter().zip(&b) {
            assert_eq!(u.decimal(), v.decimal(), "{name}");
        }
    }
}

/// Every logit of `s` minus its cosine, `δ_nj` (the margin straight-through freezes),
/// as exact rationals within 2⁻⁴⁰⁰.
fn margins(s: &FamilySpec) -> Vec<Vec<Rational>> {
    s.cos
        .iter()
        .enumerate()
        .map(|(n, row)| {
            let y = s.y[n];
            row.iter()
                .enumerate()
                .map(|(j, c)| {
                    let v = if j == y {
                        family::target_logit(&s.heads[n], c, 400)
                    } else {
                        family::nontarget_logit(&s.heads[n], c, &row[y], 400)
                    };
                    v.expect("logit").mid().to_rational().expect("finite") - c
                })
                .collect()
        })
        .collect()
}

/// The softmax loss with frozen margins, `(1/N)·Σ_n lse(s(c + δ)) − s(c_y + δ_y)`
/// (+ the MagFace regularizer), from its definition.
fn frozen_softmax(s: &FamilySpec, delta: &[Vec<Rational>], p: &[Rational], wp: u32) -> Ival {
    let sp = at(s, p);
    let sc = Ival::from_rational(&s.scale, wp);
    let mut acc = Ival::from_integer(&0.into(), wp);
    for (n, row) in sp.cos.iter().enumerate() {
        let f: Vec<Ival> = row
            .iter()
            .zip(&delta[n])
            .map(|(c, d)| Ival::from_rational(&Rational::from(c + d), wp).mul(&sc))
            .collect();
        let sum = f
            .iter()
            .fold(Ival::from_integer(&0.into(), wp), |a, v| a.add(&v.exp()));
        acc = acc.add(&sum.ln().expect("positive").sub(&f[s.y[n]]));
        if let Head::MagFace(mf) = &sp.heads[n] {
            let (g, _) = mf.regularizer().expect("regularizer");
            acc = acc.add(&Ival::from_rational(&(g * &s.lambda_g), wp));
        }
    }
    acc.mul(&Ival::from_rational(&q(1, s.cos.len() as i64), wp))
}

#[test]
fn straight_through_matches_finite_differences_of_the_frozen_margins() {
    for (name, heads, lambda_g) in heads() {
        let s = spec(heads, lambda_g, Semantics::StraightThrough);
        let delta = margins(&s);
        let f = |p: &[Rational], wp: u32| Ok(Some(frozen_softmax(&s, &delta, p, wp)));
        assert_fd(
            &format!("straight-through {name}"),
            f,
            &params(&s),
            &gradient(&s),
        );
    }
}

fn s2_params(t: u32, m: Rational) -> Params {
    Params {
        t,
        m,
        r: q(40, 1),
        b: q(-5, 1),
        alpha: q(7, 10),
        lw: q(50, 1),
    }
}

fn s2_cases() -> Vec<(Margin, Params)> {
    vec![
        (Margin::C, s2_params(3, q(2, 5))),
        (Margin::A, s2_params(3, q(2, 5))),
        (Margin::M, s2_params(2, q(3, 2))),
    ]
}

fn s2_grad(p: &Params, margin: Margin, cos: &[Vec<Rational>], sem: Semantics) -> Vec<Approx> {
    let (_, g) = sphereface2(p, margin, cos, &LABELS, sem, true, 128).expect("sphereface2");
    g.expect("requested").into_iter().flatten().collect()
}

fn unflatten(p: &[Rational]) -> Vec<Vec<Rational>> {
    p.chunks(3).map(<[Rational]>::to_vec).collect()
}

#[test]
fn sphereface2_gradients_match_finite_differences() {
    let cos = cosines();
    let flat: Vec<Rational> = cos.iter().flatten().cloned().collect();
    for (margin, p) in s2_cases() {
        let f = |x: &[Rational], wp: u32| {
            let prec = wp.clamp(64, asoftmax_spec::arith::MAX_PREC);
            let (v, _) = sphereface2(
                &p,
                margin,
                &unflatten(x),
                &LABELS,
                Semantics::Analytic,
                false,
                prec,
            )?;
            Ok(enclosure_of(v))
        };
        let g = s2_grad(&p, margin, &cos, Semantics::Analytic);
        assert_fd(&format!("sphereface2 {margin:?}"), f, &flat, &g);
        // Straight-through: z = r·(c + δ) + b with δ frozen, the BCE from its definition.
        let head = Head::SphereFace2 {
            t: p.t,
            m: p.m.clone(),
            margin,
        };
        let s = FamilySpec {
            cos: cos.clone(),
            y: LABELS.to_vec(),
            heads: vec![head.clone(), head],
            scale: q(1, 1),
            semantics: Semantics::StraightThrough,
            lambda_g: Rational::new(),
        };
        let delta = margins(&s);
        let frozen = |x: &[Rational], wp: u32| {
            let mut acc = Ival::from_integer(&0.into(), wp);
            for (n, row) in unflatten(x).iter().enumerate() {
                for (j, c) in row.iter().enumerate() {
                    let target = j == LABELS[n];
                    let z = Rational::from(c + &delta[n][j]) * &p.r + &p.b;
                    let arg = if target { -z } else { z };
                    let sp = Ival::from_rational(&arg, wp).exp().ln_1p().expect("> −1");
                    let w = if target {
                        p.alpha.clone()
                    } else {
                        Rational::from(1 - &p.alpha)
                    };
                    // lw·C/r·w over the N·C entries.
                    let w = w * &p.lw / (Rational::from(&p.r * 2u32));
                    acc = acc.add(&sp.mul(&Ival::from_rational(&w, wp)));
                }
            }
            Ok(Some(acc))
        };
        let g = s2_grad(&p, margin, &cos, Semantics::StraightThrough);
        assert_fd(
            &format!("sphereface2 {margin:?} straight-through"),
            frozen,
            &flat,
            &g,
        );
    }
}

/// A second route for the combined heads: features and weights whose cosines are
/// rational, through the `x`/`w` oracle; the loss is the same correctly rounded value and
/// `∂L/∂x = Σ_j ∂L/∂c_j·∂c_j/∂x` with `∂c_j/∂x = (ŵ_j − c_j·x̂)/‖x‖`.
#[test]
fn combined_heads_agree_with_the_features_oracle() {
    // x = (3, 4)/… with |x| = 5; class rows of norms 1, 5, 13.
    let x = vec![vec![q(3, 1), q(4, 1)]];
    let w = vec![
        vec![q(1, 1), q(0, 1)],
        vec![q(-4, 1), q(3, 1)],
        vec![q(5, 1), q(-12, 1)],
    ];
    let norms = [q(1, 1), q(5, 1), q(13, 1)];
    let xn = q(5, 1);
    let cos: Vec<Rational> = w
        .iter()
        .zip(&norms)
        .map(|(r, nu)| {
            (Rational::from(&r[0] * &x[0][0]) + Rational::from(&r[1] * &x[0][1]))
                / Rational::from(nu * &xn)
        })
        .collect();
    for margin in [
        Combined::arcface(q(1, 2), Fallback::Linear),
        Combined::cosface(q(7, 20)),
        Combined {
            m1: q(3, 2),
            m2: q(1, 4),
            m3: q(1, 5),
            fallback: Fallback::ClampPi,
        },
    ] {
        for sem in [Semantics::Analytic, Semantics::StraightThrough] {
            let mut features = LossSpec::new(x.clone(), w.clone(), vec![1], Rational::from(1));
            features.scale = q(3, 1);
            features.head = Some(xw::Head {
                margin: margin.clone(),
                semantics: sem,
            });
            let a = xw::loss(&features, true, 128).expect("x/w oracle");
            let s = FamilySpec {
                cos: vec![cos.clone()],
                y: vec![1],
                heads: vec![Head::Combined(margin.clone())],
                scale: q(3, 1),
                semantics: sem,
                lambda_g: Rational::new(),
            };
            let b = loss(&s, true, 128).expect("family oracle");
            assert_eq!(a.loss.decimal(), b.loss.decimal(), "{margin:?}");
            let gc = b.grad_cos.expect("requested");
            let gx = a.grad_x.expect("requested");
            for k in 0..2 {
                let mut chain = Ival::from_integer(&0.into(), 256);
                for j in 0..3 {
                    let dc = (Rational::from(&w[j][k] / &norms[j])
                        - Rational::from(&cos[j] * &x[0][k]) / &xn)
                        / &xn;
                    chain = chain.add(&gc[0][j].enclosure().mul(&Ival::from_rational(&dc, 256)));
                }
                let got = gx[0][k].enclosure();
                let diff = rug::Float::with_val(256, chain.mid() - got.mid()).abs();
                assert!(diff < 1e-30, "{margin:?} {sem:?} ∂/∂x_{k}: {diff}");
            }
        }
    }
}

fn expect_degenerate(r: Result<impl std::fmt::Debug, Error>, what: &str) {
    match r {
        Err(Error::Degenerate { what: msg }) => assert!(msg.contains(what), "{msg}"),
        other => panic!("expected a degenerate-input error with {what:?}, got {other:?}"),
    }
}

#[test]
fn no_gradient_where_a_slope_is_not_finite() {
    let one = |h: Head, c: Vec<Rational>, sem| FamilySpec {
        cos: vec![c],
        y: vec![0],
        heads: vec![h],
        scale: q(4, 1),
        semantics: sem,
        lambda_g: Rational::new(),
    };
    let arc = Head::Combined(Combined::arcface(q(1, 2), Fallback::None));
    let s = one(arc.clone(), vec![q(1, 1), q(0, 1)], Semantics::Analytic);
    expect_degenerate(loss(&s, true, 64), "slope +inf");
    assert!(loss(&s, false, 64).is_ok());
    let st = one(arc, vec![q(1, 1), q(0, 1)], Semantics::StraightThrough);
    assert!(loss(&st, true, 64).is_ok());
    // SphereFace with a real m at θ = π: (−1)^⌊m⌋ sin(mπ)/sin θ → +∞.
    let sf = one(
        Head::SphereFace { m: q(3, 2) },
        vec![q(-1, 1), q(1, 2)],
        Semantics::Analytic,
    );
    expect_degenerate(loss(&sf, true, 64), "slope +inf");
    // SphereFace-R v2 under autograd at a non-target c = 1: undefined (0·∞).
    let r2 = Head::SphereFaceR {
        m: q(3, 2),
        version: RVersion::V2,
    };
    let v2 = one(r2, vec![q(1, 2), q(1, 1)], Semantics::DifferentiableAcos);
    expect_degenerate(
        loss(&v2, true, 64),
        "non-target logit (class 1) has slope undefined",
    );
    // MagFace at the kinks of its clamps: a = l_a (margin and regularizer), a = u_a.
    for a in [q(10, 1), q(110, 1)] {
        let mut s = one(
            magface(a, Fallback::Linear),
            vec![q(1, 2), q(0, 1)],
            Semantics::Analytic,
        );
        s.lambda_g = q(35, 1);
        expect_degenerate(loss(&s, true, 64), "kink");
        assert!(loss(&s, false, 64).is_ok());
    }
}

#[test]
fn exact_where_the_loss_is_rational() {
    // One class: the cross-entropy is 0 and only MagFace's λ_g·g(a) remains:
    // g(20) = 20/110² + 1/20, exactly.
    let s = FamilySpec {
        cos: vec![vec![q(1, 3)]],
        y: vec![0],
        heads: vec![magface(q(20, 1), Fallback::Linear)],
        scale: q(64, 1),
        semantics: Semantics::Analytic,
        lambda_g: q(35, 1),
    };
    let out = loss(&s, true, 64).unwrap();
    let g = (q(20, 12100) + q(1, 20)) * q(35, 1);
    assert!(out.loss.enclosure().contains_rational(&g));
    assert_eq!(out.loss.f64(), nearest(&g));
    let zero = &out.grad_cos.unwrap()[0][0];
    assert!(zero.is_exact() && zero.f64() == 0.0);
    // ∂/∂a = λ_g·(1/u_a² − 1/a²) (only the regularizer: one class).
    let ga = &out.grad_a.unwrap()[0];
    let want = (q(1, 12100) - q(1, 400)) * q(35, 1);
    assert!(ga.enclosure().contains_rational(&want));
    assert_eq!(ga.f64(), nearest(&want));
    // CosFace with equal logits: p = 1/2, ∂L/∂c_0 = −s/2, ∂L/∂c_1 = s/2.
    let cf = FamilySpec {
        cos: vec![vec![q(1, 2), q(1, 4)]],
        y: vec![0],
        heads: vec![Head::Combined(Combined::cosface(q(1, 4)))],
        scale: q(3, 1),
        semantics: Semantics::Analytic,
        lambda_g: Rational::new(),
    };
    let g = loss(&cf, true, 64).unwrap().grad_cos.unwrap();
    assert_eq!(g[0][0].mid().to_rational().unwrap(), q(-3, 2));
    assert_eq!(g[0][1].mid().to_rational().unwrap(), q(3, 2));
}

#[test]
fn bad_input_is_a_typed_error() {
    let base = spec(
        vec![Head::SphereFace { m: q(3, 2) }; 2],
        Rational::new(),
        Semantics::Analytic,
    );
    let shape = |s: FamilySpec| matches!(loss(&s, false, 64), Err(Error::Shape { .. }));
    let mut s = base.clone();
    s.cos[1].pop();
    assert!(shape(s));
    let mut s = base.clone();
    s.y[0] = 3;
    assert!(shape(s));
    let mut s = base.clone();
    s.heads.pop();
    assert!(shape(s));
    let mut s = base.clone();
    s.cos.clear();
    s.y.clear();
    s.heads.clear();
    assert!(shape(s));
    let domain = |s: FamilySpec, arg: &str| matches!(loss(&s, false, 64), Err(Error::Domain { arg: a, .. }) if a == arg);
    let mut s = base.clone();
    s.lambda_g = q(1, 1);
    assert!(domain(s, "lambda_g"));
    let mut s = base.clone();
    s.scale = Rational::new();
    assert!(domain(s, "scale"));
    let mut s = base.clone();
    s.cos[0][1] = q(5, 4);
    assert!(loss(&s, false, 64).is_err());
    let mut s = base;
    s.heads = vec![
        Head::SphereFace2 {
            t: 3,
            m: q(2, 5),
            margin: Margin::C
        };
        2
    ];
    assert!(domain(s, "head"));
}

/// `r` rounded to the nearest double.
fn nearest(r: &Rational) -> f64 {
    rug::Float::with_val(53, r).to_f64()
}

/// Every head at the edges (`c = ±1`, Niven's cosines, the branch points of
/// `m = 3/2` and `m = 2`) in every semantics: a number or a typed error, never a panic;
/// a gradient refused as degenerate still leaves the value.
#[test]
fn edges_answer_numbers_or_typed_errors() {
    let edges = [
        q(-1, 1),
        q(-1, 2),
        q(0, 1),
        q(1, 2),
        q(1, 1),
        q(3, 10),
        q(-9, 10),
    ];
    let mut softmax: Vec<Head> = heads().into_iter().map(|(_, h, _)| h[0].clone()).collect();
    softmax.push(Head::CurricularFace {
        m: Rational::new(),
        t: q(1, 2),
    });
    softmax.push(adaface(q(1000, 1)));
    let sems = [
        Semantics::Analytic,
        Semantics::StraightThrough,
        Semantics::DifferentiableAcos,
    ];
    let (mut numbers, mut refused) = (0, 0);
    for h in &softmax {
        for sem in sems {
            for cy in &edges {
                for c in &edges {
                    let s = FamilySpec {
                        cos: vec![vec![cy.clone(), c.clone()]],
                        y: vec![0],
                        heads: vec![h.clone()],
                        scale: q(2, 1),
                        semantics: sem,
                        lambda_g: Rational::new(),
                    };
                    match loss(&s, true, 64) {
                        Ok(out) => {
                            numbers += 1;
                            assert!(out.loss.f64().is_finite());
                            let g = out.grad_cos.unwrap();
                            assert!(g[0].iter().all(|a| a.f64().is_finite()));
                        }
                        Err(Error::Degenerate { .. }) => {
                            refused += 1;
                            assert!(loss(&s, false, 64).is_ok(), "{h:?} {sem:?} {cy} {c}");
                        }
                        Err(e) => panic!("{h:?} {sem:?} at ({cy}, {c}): {e}"),
                    }
                }
            }
        }
    }
    assert!(
        numbers > 0 && refused > 0,
        "{numbers} numbers, {refused} refused"
    );
    for (margin, p) in s2_cases() {
        for sem in sems {
            for cy in &edges {
                for c in &edges {
                    let cos = [vec![cy.clone(), c.clone()]];
                    match sphereface2(&p, margin, &cos, &[0], sem, true, 64) {
                        Ok(_) => {}
                        Err(Error::Degenerate { .. }) => {
                            assert!(sphereface2(&p, margin, &cos, &[0], sem, false, 64).is_ok());
                        }
                        Err(e) => panic!("sphereface2 {margin:?} {sem:?} at ({cy}, {c}): {e}"),
                    }
                }
            }
        }
    }
}

/// Exact logits are points at the few bits they need: SphereFace-R `v1` (m = 3/2) at
/// `c_y = −1` is exactly `−1`, and the row's differences must still be enclosed at the
/// working precision (they were once rounded at 1 bit, and the loss hit the cap); likewise
/// SphereFace2-`M`'s slope `g′(T)·T′` where `T = cos(3π/4·…)` is exactly 0 at `c = 1/2`
/// and `T′ = (3/2)·sin(π/2)/sin(π/3) = √3` is not: `g′(0)·√3 = (3/4)·√3`.
#[test]
fn exact_logits_are_enclosed_at_the_working_precision() {
    let s = FamilySpec {
        cos: vec![vec![q(-1, 1), q(1, 2)]],
        y: vec![0],
        heads: vec![Head::SphereFaceR {
            m: q(3, 2),
            version: RVersion::V1,
        }],
        scale: q(2, 1),
        semantics: Semantics::Analytic,
        lambda_g: Rational::new(),
    };
    // f = (−2, 1): L = ln(1 + e³).
    let out = loss(&s, true, 64).expect("decided");
    assert!((out.loss.f64() - 3f64.exp().ln_1p()).abs() < 1e-14);
    let h = Head::SphereFace2 {
        t: 3,
        m: q(3, 2),
        margin: Margin::M,
    };
    let d = family::target_slope(&h, &q(1, 2), Semantics::Analytic, 64).expect("decided");
    let asoftmax_spec::head::Slope::Finite(d) = d else {
        panic!("a finite slope")
    };
    assert!((d.f64() - 0.75 * 3f64.sqrt()).abs() < 1e-15);
}

/// Rows whose logits are equal rationals that are not dyadic — CosFace `m = 1/10` at
/// `c_y = 2/5`, `c_j = 3/10` (both logits `3/10`); SphereFace `m = 2` at `c_y = 9/10`,
/// whose `ψ = T_2(9/10) = 31/50` equals `c_j` — have `p = 1/C` exactly, so with `C = 2`,
/// `s = 1`, `N = 1` the target's gradient is `−1/2·slope` and the other's `+1/2`: values on
/// the binary64 grid, whose round-to-odd an enclosure never decides. The oracle compares
/// the rational logits exactly and returns them exact (before, it ended at the precision
/// cap after about 15 s).
#[test]
fn equal_rational_logits_give_the_exact_uniform_gradient() {
    let cases = [
        (
            Head::Combined(asoftmax_spec::head::Combined::cosface(q(1, 10))),
            q(2, 5),
            q(3, 10),
            q(1, 1),
        ),
        (
            Head::SphereFace { m: 2.into() },
            q(9, 10),
            q(31, 50),
            q(18, 5),
        ),
    ];
    for (head, c_y, c_j, slope_y) in cases {
        let s = FamilySpec {
            cos: vec![vec![c_y.clone(), c_j.clone()]],
            y: vec![0],
            heads: vec![head.clone()],
            scale: q(1, 1),
            semantics: Semantics::Analytic,
            lambda_g: q(0, 1),
        };
        let out = asoftmax_spec::arith::ziv::requiring_round_to_odd(|| {
            asoftmax_spec::loss::family::loss(&s, true, 64)
        })
        .unwrap_or_else(|e| panic!("{head:?}: {e}"));
        let g = out.grad_cos.expect("requested");
        let want = [-(slope_y / 2u32), q(1, 2)];
        for (got, want) in g[0].iter().zip(&want) {
            let w =
                asoftmax_spec::arith::ziv::round_rational(want, asoftmax_spec::arith::Format::F64);
            assert_eq!(got.f64(), w, "{head:?}");
            if want.denom().is_power_of_two() {
                assert_eq!(
                    got.f64_odd(),
                    Some(w),
                    "{head:?}: a double is its own round-to-odd"
                );
            }
        }
        // log 2: the loss of two equal logits.
        assert_eq!(out.loss.f64(), std::f64::consts::LN_2, "{head:?}");
    }
}
