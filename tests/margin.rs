//! The paper's margin results, computed two ways and cross-checked:
//! the angular margin `(m−1)/(m+1)·Θ` (closed form vs. the solved class boundary),
//! `m_min` (root of the separation inequality vs. `2 + √3` and `3`), and Table 1.

// The book's margin tables are rendered by `examples/gen_docs`; their snapshots are here.
#[path = "../examples/gen_docs/margin_tables.rs"]
mod margin_tables;
#[allow(dead_code)]
#[path = "../examples/gen_docs/numbers.rs"]
mod numbers;

use asoftmax_spec::arith::{Approx, Ival, parse_exact};
use asoftmax_spec::margin::{
    Decision, DecisionRule, Sample, Setting, WeightAngle, angular_margin, angular_margin_closed,
    angular_margin_solved, class_boundary_closed, class_boundary_solved, m_min, m_min_closed,
    margin_coefficient, separation,
};
use asoftmax_spec::{Angle, Error};
use margin_tables::{decision_table, m_min_table, paper_margin_table, table1};
use proptest::prelude::*;
use rug::{Float, Rational};

fn q(n: i64, d: i64) -> Rational {
    Rational::from((n, d))
}

fn intersect(a: &Approx, b: &Approx) -> bool {
    a.enclosure().intersects(b.enclosure())
}

/// Both decimals are within one unit of their last digit of the same value, so they
/// differ by at most two units (and usually not at all).
fn decimals_agree(a: &Approx, b: &Approx) -> bool {
    let (da, db) = (a.decimal(), b.decimal());
    if da == db {
        return true;
    }
    if da == "0" || db == "0" {
        return false;
    }
    let (x, y) = (parse_exact(&da).unwrap(), parse_exact(&db).unwrap());
    let digits = Approx::decimal_digits(a.prec()) as i32;
    let exp = da
        .split_once('e')
        .map(|(_, e)| e.parse::<i32>().unwrap())
        .unwrap();
    let ulp = if exp - (digits - 1) >= 0 {
        Rational::from(rug::Integer::from(rug::Integer::u_pow_u(
            10,
            (exp - digits + 1) as u32,
        )))
    } else {
        Rational::from((
            1,
            rug::Integer::from(rug::Integer::u_pow_u(10, (digits - 1 - exp) as u32)),
        ))
    };
    Rational::from(&x - &y).abs() <= ulp * 2u32
}

fn assert_margins_agree(m: &Rational, t: &Rational, prec: u32) {
    let closed = angular_margin_closed(m, t, prec).unwrap();
    let solved = angular_margin_solved(m, t, prec).unwrap();
    assert!(
        intersect(&closed, &solved),
        "m={m} Θ={t}: {} vs {}",
        closed.decimal(),
        solved.decimal()
    );
    assert_eq!(
        closed.f64().to_bits(),
        solved.f64().to_bits(),
        "m={m} Θ={t}"
    );
    assert_eq!(
        closed.f32().to_bits(),
        solved.f32().to_bits(),
        "m={m} Θ={t}"
    );
    assert!(
        decimals_agree(&closed, &solved),
        "m={m} Θ={t}: {} vs {}",
        closed.decimal(),
        solved.decimal()
    );
    let checked = angular_margin(m, t, prec).unwrap();
    assert_eq!(checked.f64(), closed.f64());
}

#[test]
fn closed_and_solved_agree_for_integer_margins() {
    for m in 1..=16 {
        for t in [
            q(1, 1000),
            q(1, 2),
            q(1, 1),
            q(3, 2),
            q(5, 2),
            q(314159, 100000),
        ] {
            assert_margins_agree(&Rational::from(m), &t, 128);
        }
    }
}

#[test]
fn closed_and_solved_agree_for_real_margins() {
    for m in [
        q(17, 10),
        q(101, 100),
        q(7, 2),
        q(35, 10),
        q(2, 1) + q(1, 3),
    ] {
        for t in [q(1, 3), q(3, 2), q(31, 10)] {
            assert_margins_agree(&m, &t, 200);
        }
    }
}

#[test]
fn margin_is_zero_at_m_1() {
    let t = q(6, 5);
    let closed = angular_margin_closed(&q(1, 1), &t, 64).unwrap();
    assert!(closed.is_exact());
    assert_eq!(closed.f64(), 0.0);
    let solved = angular_margin_solved(&q(1, 1), &t, 64).unwrap();
    assert!(
        solved.is_exact(),
        "proven: the closed form is 0 and the root is unique"
    );
    assert_eq!(solved.decimal(), "0");
    assert_eq!(angular_margin(&q(1, 1), &t, 64).unwrap().decimal(), "0");
}

#[test]
fn margin_values() {
    // m = 4, Θ = 1: 3/5 exactly; m = 2, Θ = 3/2: 1/2.
    let v = angular_margin(&q(4, 1), q(1, 1), 64).unwrap();
    assert_eq!(v.f64(), 0.6);
    let v = angular_margin(&q(2, 1), q(3, 2), 64).unwrap();
    assert_eq!(v.f64(), 0.5);
    assert_eq!(margin_coefficient(&q(17, 10)), q(7, 27));
}

#[test]
fn high_precision_margin_agrees() {
    assert_margins_agree(&q(4, 1), &q(3, 1), 2048);
    assert_margins_agree(&q(17, 10), &q(1, 7), 1024);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn prop_closed_and_solved_agree(
        m_num in 10i64..=160,
        integer in any::<bool>(),
        t_num in 1i64..=314_159,
        prec in 24u32..=256,
    ) {
        let m = if integer { q(m_num / 10, 1) } else { q(m_num, 10) };
        let t = q(t_num, 100_000);
        assert_margins_agree(&m, &t, prec);
    }

    #[test]
    fn prop_bad_inputs_never_panic(
        m_num in -100i64..=1_000_000,
        m_den in 1i64..=1000,
        t_num in -400_000i64..=400_000,
        t_den in 1i64..=100_000,
        prec in 0u32..=300,
    ) {
        let (m, t) = (q(m_num, m_den), q(t_num, t_den));
        let ok_m = (q(1, 1)..=q(65536, 1)).contains(&m);
        let pi = Float::with_val(256, rug::float::Constant::Pi);
        let ok_t = t > 0 && pi > t;
        let ok_p = (16..=262_144).contains(&prec);
        for r in [
            angular_margin_closed(&m, &t, prec),
            angular_margin(&m, &t, prec),
        ] {
            match r {
                Ok(v) => prop_assert!(ok_m && ok_t && ok_p && v.f64() >= 0.0),
                Err(Error::Domain { .. }) => prop_assert!(!ok_m || !ok_t),
                Err(Error::Precision { .. }) => prop_assert!(!ok_p),
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}

#[test]
fn bad_inputs_are_typed_errors() {
    let one = q(1, 1);
    for t in [q(0, 1), q(-1, 2), q(22, 7), q(355, 113), q(4, 1)] {
        for r in [
            angular_margin_closed(&one, &t, 64),
            angular_margin_solved(&one, &t, 64),
            angular_margin(&one, &t, 64),
        ] {
            assert!(
                matches!(r, Err(Error::Domain { arg: "Theta", .. })),
                "Θ={t}: {r:?}"
            );
        }
    }
    // Just below π is fine.
    assert!(angular_margin(&q(4, 1), q(314159265, 100000000), 64).is_ok());
    for m in [q(0, 1), q(1, 2), q(-3, 1), q(999, 1000), q(65537, 1)] {
        for r in [
            angular_margin_closed(&m, &one, 64),
            angular_margin_solved(&m, &one, 64),
            angular_margin(&m, &one, 64),
        ] {
            assert!(
                matches!(r, Err(Error::Domain { arg: "m", .. })),
                "m={m}: {r:?}"
            );
        }
    }
    for p in [0, 15, 1 << 19] {
        assert!(matches!(
            angular_margin(&q(4, 1), &one, p),
            Err(Error::Precision { .. })
        ));
        assert!(matches!(
            m_min(Setting::Binary, p),
            Err(Error::Precision { .. })
        ));
    }
    assert!(matches!(
        separation(Setting::Binary, &one),
        Err(Error::Domain { .. })
    ));
}

#[test]
fn m_min_binary_is_2_plus_sqrt3() {
    for prec in [64, 256, 1024] {
        let solved = m_min(Setting::Binary, prec).unwrap();
        let closed = m_min_closed(Setting::Binary, prec).unwrap();
        assert!(intersect(&solved, &closed), "prec {prec}");
        assert_eq!(solved.f64(), closed.f64());
        assert!(decimals_agree(&solved, &closed));
        // The enclosure is tight: ≥ 60 correct digits at 256 bits.
        let w = solved.enclosure().width();
        assert!(
            w < Float::with_val(64, Float::i_exp(1, -(prec as i32))),
            "prec {prec}"
        );
    }
    let v = m_min(Setting::Binary, 256).unwrap();
    let want = "3.7320508075688772935274463415058723669428052538103806280558069794519330169088";
    assert!(Approx::decimal_digits(256) >= 60);
    let d = v.decimal().replace('.', "");
    // 77 digits printed; all but the last one must match √3 + 2.
    assert_eq!(&d[..60], &want.replace('.', "")[..60], "{}", v.decimal());
    assert_eq!(v.f64(), 2.0 + 3f64.sqrt());
}

#[test]
fn m_min_multiclass_is_3() {
    for prec in [64, 256, 1024] {
        let solved = m_min(Setting::Multiclass, prec).unwrap();
        let closed = m_min_closed(Setting::Multiclass, prec).unwrap();
        assert!(closed.is_exact());
        assert!(solved.enclosure().contains(&Float::with_val(64, 3)));
        assert_eq!(solved.f64(), 3.0);
        assert_eq!(solved.f32(), 3.0);
        assert!(decimals_agree(&solved, &closed));
    }
}

#[test]
fn separation_sign_around_m_min() {
    // The inequality fails just below m_min and holds from it on.
    assert!(separation(Setting::Binary, &q(373, 100)).unwrap() < 0);
    assert!(separation(Setting::Binary, &q(374, 100)).unwrap() > 0);
    assert!(separation(Setting::Multiclass, &q(299, 100)).unwrap() < 0);
    assert_eq!(separation(Setting::Multiclass, &q(3, 1)).unwrap(), 0);
    assert!(separation(Setting::Binary, &q(4, 1)).unwrap() > 0); // the paper's m = 4
}

fn angles(norm: i64, t1: Rational, t2: Rational) -> Sample {
    Sample::Angles {
        norm: Rational::from(norm),
        theta: [Angle::Theta(t1), Angle::Theta(t2)],
    }
}

#[test]
fn a_softmax_regions_in_the_plane() {
    // Θ = 3/2 rad between W_1 and W_2; x in between at θ_1 = t, θ_2 = Θ − t.
    // m = 4: class 1 for t < Θ/5 = 0.3, class 2 for t > 4Θ/5 = 1.2, margin between.
    let big = q(3, 2);
    let rule = DecisionRule::ASoftmax(q(4, 1));
    let at = |t: Rational| angles(1, t.clone(), Rational::from(&big - &t));
    let d = |t| rule.classify(&at(t), 64).unwrap();
    assert_eq!(d(q(29, 100)), Decision::Class1);
    assert_eq!(d(q(3, 10)), Decision::Boundary);
    assert_eq!(d(q(31, 100)), Decision::Margin);
    assert_eq!(d(q(3, 4)), Decision::Margin);
    assert_eq!(d(q(6, 5)), Decision::Boundary);
    assert_eq!(d(q(121, 100)), Decision::Class2);
    // Modified softmax splits at Θ/2 with no margin.
    let ms = DecisionRule::ModifiedSoftmax;
    assert_eq!(ms.classify(&at(q(74, 100)), 64).unwrap(), Decision::Class1);
    assert_eq!(ms.classify(&at(q(3, 4)), 64).unwrap(), Decision::Boundary);
    assert_eq!(ms.classify(&at(q(76, 100)), 64).unwrap(), Decision::Class2);
    // A zero feature is on every angular boundary.
    assert_eq!(
        rule.classify(&angles(0, q(1, 10), q(14, 10)), 64).unwrap(),
        Decision::Boundary
    );
}

#[test]
fn vectors_and_angles_agree() {
    // W_1 = (1, 0), W_2 = (0, 1), x = (3, 4): cos θ_1 = 3/5, cos θ_2 = 4/5, ‖x‖ = 5.
    let v = Sample::Vectors {
        x: vec![q(3, 1), q(4, 1)],
        w: [vec![q(1, 1), q(0, 1)], vec![q(0, 1), q(1, 1)]],
        b: [q(0, 1), q(0, 1)],
    };
    let a = Sample::Angles {
        norm: q(5, 1),
        theta: [Angle::Cos(q(3, 5)), Angle::Cos(q(4, 5))],
    };
    for rule in [
        DecisionRule::ModifiedSoftmax,
        DecisionRule::ASoftmax(q(2, 1)),
        DecisionRule::ASoftmax(q(17, 10)),
    ] {
        let (x, y) = (
            rule.boundary_values(&v, 128).unwrap(),
            rule.boundary_values(&a, 128).unwrap(),
        );
        assert!(intersect(&x.class1, &y.class1), "{rule:?}");
        assert!(intersect(&x.class2, &y.class2), "{rule:?}");
        assert_eq!(
            rule.classify(&v, 64).unwrap(),
            rule.classify(&a, 64).unwrap()
        );
    }
    // m = 2: ψ(θ_1) = 2c² − 1 = −7/25 on branch 0 (c = 3/5 > 0), so class 1 needs
    // 5·(−7/25 − 4/5) > 0: no; class 2: ψ(θ_2) = 2·16/25 − 1 = 7/25, 5·(3/5 − 7/25) = 8/5 > 0.
    let r = DecisionRule::ASoftmax(q(2, 1))
        .boundary_values(&a, 64)
        .unwrap();
    assert_eq!(r.class1.f64(), -5.4);
    assert_eq!(r.class2.f64(), 1.6);
    // Softmax: (W_1 − W_2)ᵀx + b_1 − b_2 = −1, exactly.
    let s = DecisionRule::Softmax.boundary_values(&v, 64).unwrap();
    assert!(s.class1.is_exact());
    assert_eq!(s.class1.f64(), -1.0);
}

#[test]
fn table1_bad_samples_are_typed_errors() {
    let a = angles(1, q(1, 2), q(1, 2));
    assert!(matches!(
        DecisionRule::Softmax.classify(&a, 64),
        Err(Error::Domain { .. })
    ));
    let bad_angle = angles(1, q(4, 1), q(1, 2));
    assert!(
        DecisionRule::ModifiedSoftmax
            .classify(&bad_angle, 64)
            .is_err()
    );
    let neg = angles(-1, q(1, 2), q(1, 2));
    assert!(DecisionRule::ModifiedSoftmax.classify(&neg, 64).is_err());
    let bad_cos = Sample::Angles {
        norm: q(1, 1),
        theta: [Angle::Cos(q(2, 1)), Angle::Cos(q(0, 1))],
    };
    assert!(
        DecisionRule::ASoftmax(q(4, 1))
            .classify(&bad_cos, 64)
            .is_err()
    );
    let zero_w = Sample::Vectors {
        x: vec![q(1, 1)],
        w: [vec![q(0, 1)], vec![q(1, 1)]],
        b: [q(0, 1), q(0, 1)],
    };
    assert!(DecisionRule::Softmax.classify(&zero_w, 64).is_err());
    let dims = Sample::Vectors {
        x: vec![q(1, 1), q(2, 1)],
        w: [vec![q(1, 1)], vec![q(1, 1)]],
        b: [q(0, 1), q(0, 1)],
    };
    assert!(DecisionRule::ModifiedSoftmax.classify(&dims, 64).is_err());
    assert!(
        DecisionRule::ASoftmax(q(1, 2))
            .classify(&angles(1, q(1, 2), q(1, 2)), 64)
            .is_err()
    );
}

#[test]
fn snapshot_margin_table() {
    insta::assert_snapshot!("margin_table", paper_margin_table().unwrap());
}

#[test]
fn snapshot_m_min_table() {
    insta::assert_snapshot!("m_min_table", m_min_table(64).unwrap());
}

#[test]
fn snapshot_table1() {
    insta::assert_snapshot!("table1", table1());
}

#[test]
fn snapshot_decision_table() {
    // W_1 = (2, 0), W_2 = (0, 1), b = (0, 1/2): Θ = π/2, ‖W_1‖ ≠ ‖W_2‖ and b_1 ≠ b_2, so
    // softmax, modified softmax and A-Softmax (m = 4) disagree on some samples.
    let w = [vec![q(2, 1), q(0, 1)], vec![q(0, 1), q(1, 1)]];
    let b = [q(0, 1), q(1, 2)];
    let mut samples: Vec<(String, Sample)> = [
        (q(1, 1), q(1, 10)),
        (q(1, 1), q(1, 2)),
        (q(1, 1), q(1, 1)),
        (q(1, 2), q(1, 1)),
        (q(1, 10), q(1, 1)),
    ]
    .into_iter()
    .map(|(a, c)| {
        (
            format!("x=({a}, {c})"),
            Sample::Vectors {
                x: vec![a, c],
                w: w.clone(),
                b: b.clone(),
            },
        )
    })
    .collect();
    samples.push(("‖x‖=1, θ=(0.3, 1.2)".into(), angles(1, q(3, 10), q(6, 5))));
    let rules = [
        DecisionRule::Softmax,
        DecisionRule::ModifiedSoftmax,
        DecisionRule::ASoftmax(q(4, 1)),
    ];
    insta::assert_snapshot!(
        "decision_table",
        decision_table(&rules, &samples, 12).unwrap()
    );
}

#[test]
fn extreme_inputs() {
    // Largest margin, Θ just below π; a tiny Θ (cancellation in ψ(θ) − cos(Θ − θ)).
    assert_margins_agree(&q(65536, 1), &q(314159, 100000), 64);
    assert_margins_agree(&q(4, 1), &parse_exact("1e-30").unwrap(), 64);
    assert_margins_agree(&q(3, 1), &q(1, 3), 8192);
    let v = m_min(Setting::Binary, 8192).unwrap();
    assert!(intersect(&v, &m_min_closed(Setting::Binary, 8192).unwrap()));
}

/// `(m − 1)/(m + 1)·Θ = Θ/2` for m = 3 is an exact rounding midpoint when Θ has one bit
/// more than the format: the closed form decides it exactly; the solved root can only
/// enclose it, so it proves it equal to the exact closed form (the root is unique). Found by the api_robustness fuzz target
/// (subnormal Θ = 7.01866786393805e−310, m = 3: 275 s to the precision cap).
#[test]
fn margins_on_a_rounding_midpoint_are_decided() {
    use asoftmax_spec::arith::rational_from_f64;
    use asoftmax_spec::margin::{angular_margin, angular_margin_solved};
    let three = Rational::from(3);
    let theta = parse_exact("0x1.000001p+0").unwrap(); // 1 + 2^−24
    let checked = angular_margin(&three, &theta, 64).unwrap();
    assert!(checked.is_exact());
    assert_eq!((checked.f64(), checked.f32()), (0.5 + 2f64.powi(-25), 0.5));
    let solved = angular_margin_solved(&three, &theta, 64).unwrap();
    assert_eq!((solved.f64(), solved.f32()), (0.5 + 2f64.powi(-25), 0.5));
    assert!(solved.is_exact());
    // The fuzz finding: half of a subnormal whose last bit is set is an f64 midpoint;
    // hardware division rounds it to nearest-even independently of the oracle.
    let t: f64 = 7.01866786393805e-310;
    assert_eq!(t.to_bits() & 1, 1, "an odd subnormal");
    for prec in [16, 64] {
        let a = angular_margin(&three, rational_from_f64(t).unwrap(), prec).unwrap();
        assert_eq!(a.f64(), t / 2.0);
        let s = angular_margin_solved(&three, rational_from_f64(t).unwrap(), prec).unwrap();
        assert_eq!(s.f64(), t / 2.0);
        assert!(s.is_exact());
    }
}

#[test]
fn fixed_decimals() {
    let fixed = |r: Rational, digits| {
        numbers::fixed_from_ival(&Ival::from_rational(&r, 128), digits, "-").unwrap()
    };
    assert_eq!(fixed(q(2, 3), 5), "0.66667");
    assert_eq!(fixed(q(-1, 150), 2), "-0.01");
    assert_eq!(fixed(-q(1, 3), 0), "0");
    assert_eq!(fixed(q(123, 1), 3), "123.000");
    assert_eq!(
        numbers::fixed_from_ival(&Ival::from_rational(&q(-1, 150), 128), 2, numbers::MINUS),
        Some("−0.01".into())
    );
}

#[test]
fn theta_as_a_multiple_of_pi() {
    // Θ = π/2: the class boundary Θ/(m+1) solved and closed agree, and so do the margins.
    let half_pi = WeightAngle::PiTimes(q(1, 2));
    for m in [1, 2, 4] {
        let m = Rational::from(m);
        let (a, b) = (
            class_boundary_solved(&m, half_pi.clone(), 128).unwrap(),
            class_boundary_closed(&m, half_pi.clone(), 128).unwrap(),
        );
        assert!(a.enclosure().intersects(b.enclosure()));
        assert_eq!(a.f64(), b.f64());
        assert!((a.f64() - std::f64::consts::FRAC_PI_2 / (m.to_f64() + 1.0)).abs() < 1e-15);
        let (s, c) = (
            angular_margin_solved(&m, half_pi.clone(), 128).unwrap(),
            angular_margin_closed(&m, half_pi.clone(), 128).unwrap(),
        );
        assert!(s.enclosure().intersects(c.enclosure()));
    }
    // Radians: the closed boundary is computed exactly (a point when it is dyadic).
    let b = class_boundary_closed(&q(4, 1), q(5, 4), 64).unwrap();
    assert!(b.is_exact());
    assert_eq!(b.f64(), 0.25);
    assert!(class_boundary_closed(&q(4, 1), WeightAngle::PiTimes(q(3, 2)), 64).is_err());
}
