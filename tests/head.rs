//! The margin family's target logits (`head`): each value checked against a second,
//! independent route, each slope against finite differences of the value oracle, and
//! the properties of each fallback (monotonicity, continuity, slopes at `c = ±1`)
//! shown with rigorous enclosures.

use asoftmax_spec::arith::{Approx, Ival, parse_exact};
use asoftmax_spec::head::{Combined, Fallback, Semantics, Slope, target_logit, target_slope};
use asoftmax_spec::multiangle::chebyshev_exact;
use rug::Rational;
use std::cmp::Ordering;

fn q(s: &str) -> Rational {
    parse_exact(s).unwrap()
}

/// The cosines the tests sweep: a grid of (−1, 1), the ends, and points near them.
fn cosines() -> Vec<Rational> {
    let mut v: Vec<Rational> = (-20..=20).map(|i| Rational::from((i, 20))).collect();
    v.extend(["0.999999999", "-0.999999999", "1e-30", "-0.3"].map(q));
    v
}

fn value(h: &Combined, c: &Rational) -> Approx {
    target_logit(h, c, 64).unwrap_or_else(|e| panic!("{h:?} at {c}: {e}"))
}

fn finite(s: Slope) -> Approx {
    match s {
        Slope::Finite(v) => v,
        other => panic!("expected a finite slope, got {other:?}"),
    }
}

/// `u < v` proven by the enclosures.
fn less(u: &Approx, v: &Approx) -> bool {
    u.enclosure().cmp_certain(v.enclosure()) == Some(Ordering::Less)
}

/// ArcFace without fallback against `c·cos m − √(1 − c²)·sin m`, evaluated here at 300
/// bits (the oracle goes through `cos(acos c + m)`): the same `f64` wherever the
/// second route decides it.
#[test]
fn arcface_matches_the_angle_addition_formula() {
    for m in ["0.5", "0.3", "0.1", "1.2"] {
        let h = Combined::arcface(q(m), Fallback::None);
        let mi = Ival::from_rational(&q(m), 300);
        for c in cosines() {
            let ci = Ival::from_rational(&c, 300);
            let one = Ival::from_integer(&1.into(), 300);
            let s = one.sub(&ci.square()).sqrt().unwrap();
            let second = ci.mul(&mi.cos()).sub(&s.mul(&mi.sin()));
            let (lo, hi) = (second.lo().to_f64(), second.hi().to_f64());
            if lo == hi {
                assert_eq!(value(&h, &c).f64(), lo, "m = {m}, c = {c}");
            }
        }
    }
}

/// With `m2 = 0` and an integer `m1` the margin piece is `T_m1(c) − m3`; CosFace is `c − m`
/// (the enclosures hold the exact rationals).
#[test]
fn integer_multiplicative_margins_and_cosface_are_exact() {
    for m1 in 1..=6u32 {
        let h = Combined {
            m1: m1.into(),
            m2: Rational::new(),
            m3: q("0.2"),
            fallback: Fallback::None,
        };
        for c in cosines() {
            let v = value(&h, &c);
            let want = chebyshev_exact(m1, &c).0 - q("0.2");
            assert!(v.enclosure().contains_rational(&want), "m1 = {m1}, c = {c}");
        }
    }
    let v = value(&Combined::cosface(q("0.35")), &q("0.5"));
    assert!(v.enclosure().contains_rational(&q("0.15")));
    assert_eq!(v.f64(), 0.15);
}

/// Every analytic slope agrees with a central difference of the value oracle (h = 10⁻²⁰
/// at 256 bits: the difference quotient is within ~h² of the slope).
#[test]
fn analytic_slopes_are_the_derivative_of_the_values() {
    let heads = [
        Combined::arcface(q("0.5"), Fallback::None),
        Combined::arcface(q("0.5"), Fallback::ClampPi),
        Combined::arcface(q("0.5"), Fallback::Linear),
        Combined::arcface(q("0.5"), Fallback::Easy),
        Combined {
            m1: q("1.35"),
            m2: q("0.2"),
            m3: q("0.1"),
            fallback: Fallback::ClampPi,
        },
        Combined {
            m1: 4.into(),
            m2: Rational::new(),
            m3: Rational::new(),
            fallback: Fallback::ClampPi,
        },
    ];
    let h_step = q("1e-20");
    for h in &heads {
        for i in -9..=9 {
            let c = Rational::from((i, 10)) + q("0.0123");
            let at = |x: Rational| target_logit(h, &x, 256).unwrap().mid();
            let up = at(Rational::from(&c + &h_step));
            let down = at(Rational::from(&c - &h_step));
            let fd = (up - down).to_f64() / 2e-20;
            let slope = finite(target_slope(h, &c, Semantics::Analytic, 64).unwrap()).f64();
            assert!(
                (fd - slope).abs() <= 1e-12 * (1.0 + slope.abs()),
                "{h:?} at {c}: fd {fd}, slope {slope}"
            );
        }
    }
}

/// ArcFace without fallback is not monotone in θ: past θ = π − m it rises again
/// (t(−1) = −cos m > −1 = t(cos(π − m))).
#[test]
fn arcface_without_fallback_is_not_monotone() {
    let h = Combined::arcface(q("0.5"), Fallback::None);
    // c = −0.8776 is just below −cos(0.5) = −0.87758…: θ a little past π − 0.5.
    let near = value(&h, &q("-0.8776"));
    let end = value(&h, &q("-1"));
    assert!(less(&near, &end), "t rises between θ = π − m and π");
    assert_eq!(end.f64(), -(0.5f64.cos()));
}

/// The clamp at π keeps `t` non-increasing in θ (non-decreasing in `c`) and its slope
/// tends to 0 from both sides of the boundary.
#[test]
fn clamp_at_pi_is_monotone_and_flat_at_its_boundary() {
    for h in [
        Combined::arcface(q("0.5"), Fallback::ClampPi),
        Combined {
            m1: 4.into(),
            m2: Rational::new(),
            m3: Rational::new(),
            fallback: Fallback::ClampPi,
        },
    ] {
        let cs: Vec<Rational> = (-200..=200).map(|i| Rational::from((i, 200))).collect();
        for w in cs.windows(2) {
            let (a, b) = (value(&h, &w[0]), value(&h, &w[1]));
            assert!(
                !less(&b, &a),
                "{h:?}: t decreases from c = {} to {}",
                w[0],
                w[1]
            );
        }
        // The boundary cos((π − m2)/m1), approached from both sides.
        let m2 = h.m2.to_f64();
        let tau = ((std::f64::consts::PI - m2) / h.m1.to_f64()).cos();
        for d in [1e-6, -1e-6] {
            let c = Rational::from_f64(tau + d).unwrap();
            let s = finite(target_slope(&h, &c, Semantics::Analytic, 64).unwrap()).f64();
            assert!(s.abs() < 1e-2, "{h:?}: slope {s} at τ + {d}");
        }
        assert_eq!(value(&h, &q("-1")).f64(), -1.0);
    }
}

/// insightface's linear fallback `c − m·sin m` is monotone but not continuous: at
/// θ = π − m it drops from −1 to `−cos m − m·sin m`, by `cos m + m·sin m − 1 ≈ m²/2`.
#[test]
fn linear_fallback_jumps_at_its_boundary() {
    let m = 0.5f64;
    let h = Combined::arcface(q("0.5"), Fallback::Linear);
    let tau = -(m.cos());
    let above = value(&h, &Rational::from_f64(tau + 1e-12).unwrap()).f64();
    let below = value(&h, &Rational::from_f64(tau - 1e-12).unwrap()).f64();
    assert!((above + 1.0).abs() < 1e-9, "margin side: {above}");
    let jump = above - below;
    let want = m.cos() + m * m.sin() - 1.0;
    assert!(
        (jump - want).abs() < 1e-9,
        "jump {jump}, cos m + m sin m − 1 = {want}"
    );
    assert!(jump > 0.11 && jump < 0.12, "{jump}");
    // Monotone across it: t keeps decreasing as θ grows (c falls).
    assert!(below < above);
    let s = finite(target_slope(&h, &q("-0.95"), Semantics::Analytic, 64).unwrap());
    assert_eq!(s.f64(), 1.0);
}

/// The slopes at `c = ±1` per semantics: ±∞ for an additive margin, finite `T′_m(±1)`
/// analytically for `cos(mθ)` but `0·∞` through autograd's acos, 1 when the margin is
/// straight-through, 0 on the clamped piece, 1 on the linear one.
#[test]
fn slopes_at_the_ends_per_semantics() {
    let one = q("1");
    let minus = q("-1");
    let arc = Combined::arcface(q("0.5"), Fallback::None);
    for sem in [Semantics::Analytic, Semantics::DifferentiableAcos] {
        assert!(matches!(
            target_slope(&arc, &one, sem, 64).unwrap(),
            Slope::PosInf
        ));
        assert!(matches!(
            target_slope(&arc, &minus, sem, 64).unwrap(),
            Slope::NegInf
        ));
    }
    let st = target_slope(&arc, &one, Semantics::StraightThrough, 64).unwrap();
    assert_eq!(finite(st).f64(), 1.0);
    let sphere = Combined {
        m1: 4.into(),
        m2: Rational::new(),
        m3: Rational::new(),
        fallback: Fallback::None,
    };
    for (c, want) in [(&one, 16.0), (&minus, -16.0)] {
        let s = target_slope(&sphere, c, Semantics::Analytic, 64).unwrap();
        assert_eq!(finite(s).f64(), want);
        assert!(matches!(
            target_slope(&sphere, c, Semantics::DifferentiableAcos, 64).unwrap(),
            Slope::Undefined
        ));
    }
    let clamp = Combined::arcface(q("0.5"), Fallback::ClampPi);
    let s = target_slope(&clamp, &minus, Semantics::DifferentiableAcos, 64).unwrap();
    assert_eq!(finite(s).f64(), 0.0);
    let linear = Combined::arcface(q("0.5"), Fallback::Linear);
    let s = target_slope(&linear, &minus, Semantics::Analytic, 64).unwrap();
    assert_eq!(finite(s).f64(), 1.0);
    let easy = Combined::arcface(q("0.5"), Fallback::Easy);
    assert!(matches!(
        target_slope(&easy, &q("0"), Semantics::Analytic, 64).unwrap(),
        Slope::Undefined
    ));
    let s = target_slope(&easy, &q("-0.5"), Semantics::Analytic, 64).unwrap();
    assert_eq!(finite(s).f64(), 1.0);
}

/// Parameters outside a head's definition are typed errors naming the parameter.
#[test]
fn bad_parameters_are_rejected() {
    let base = Combined::arcface(q("0.5"), Fallback::None);
    let c = q("0.5");
    let err = |h: Combined| target_logit(&h, &c, 64).unwrap_err().to_string();
    assert!(
        err(Combined {
            m1: q("0.5"),
            ..base.clone()
        })
        .contains("m1")
    );
    assert!(
        err(Combined {
            m2: q("3.1416"),
            ..base.clone()
        })
        .contains("m2")
    );
    assert!(
        err(Combined {
            m2: q("-0.1"),
            ..base.clone()
        })
        .contains("m2")
    );
    assert!(
        target_logit(
            &Combined {
                m2: q("3.14159"),
                ..base.clone()
            },
            &c,
            64
        )
        .is_ok()
    );
    let real_m1 = Combined {
        m1: q("1.5"),
        m2: Rational::new(),
        ..base.clone()
    };
    assert!(err(real_m1).contains("psi"));
    let linear_m1 = Combined {
        m1: 2.into(),
        fallback: Fallback::Linear,
        ..base.clone()
    };
    assert!(err(linear_m1).contains("linear"));
    assert!(
        target_logit(&base, &q("1.5"), 64)
            .unwrap_err()
            .to_string()
            .contains("cos")
    );
}
