//! Hostile sizes are bounded: inputs too large for the exact rational route take the
//! interval route (cos(m·acos c)), quickly, and agree with the exact values.

use asoftmax_spec::arith::parse_exact;
use asoftmax_spec::arith::{Ival, round_f64};
use asoftmax_spec::multiangle::{cos_m, cos_m_de_moivre};
use asoftmax_spec::psi::{self, EXACT_ROUTE_MAX_BITS, exact_route_is_cheap};
use asoftmax_spec::{Angle, Error};
use rug::Rational;
use std::time::Instant;

/// A cosine with `digits` decimal digits, in (−1, 1).
fn long_cos(digits: usize) -> Rational {
    let body: String = (0..digits)
        .map(|i| char::from(b'0' + (i * 7 % 10) as u8))
        .collect();
    parse_exact(&format!("-0.3{body}")).unwrap()
}

#[test]
fn interval_route_agrees_with_de_moivre() {
    // Too large for exact rationals (m·size > 2^22 bits), so cos_m takes the
    // cos(m·acos c) route; De Moivre's (c + i·√(1−c²))^m over intervals (16
    // complex squarings) is an independent enclosure of the same number.
    for (m, digits) in [(1024u32, 5200usize), (65_536, 2000)] {
        let c = long_cos(digits);
        assert!(
            !exact_route_is_cheap(m, &c),
            "the input must take the interval route"
        );
        let got = cos_m(m, &Angle::Cos(c.clone()), 128).unwrap();
        let reference = cos_m_de_moivre(m, &Ival::from_rational(&c, 4096));
        assert!(reference.width() < 1e-300, "the reference is tight");
        assert!(
            got.enclosure().cmp_certain(&reference).is_none() || got.is_exact(),
            "disjoint enclosures: {got:?} vs {reference:?}"
        );
        assert_eq!(got.f64(), round_f64(reference.lo()));
    }
    let _ = EXACT_ROUTE_MAX_BITS;
}

#[test]
fn largest_margin_and_longest_numbers_finish_quickly() {
    let c = long_cos(99_000);
    let start = Instant::now();
    for prec in [16, 4096] {
        let a = cos_m(65_536, &Angle::Cos(c.clone()), prec).unwrap();
        let b = psi::psi(&Rational::from(65_536), &Angle::Cos(c.clone()), prec).unwrap();
        let d = psi::dpsi_dcos(65_536, &Angle::Cos(c.clone()), prec).unwrap();
        let t = psi::dpsi_dtheta(&Rational::from(65_536), &Angle::Cos(c.clone()), prec).unwrap();
        assert!(
            [a.f64(), b.f64(), d.f64(), t.f64()]
                .iter()
                .all(|v| v.is_finite())
        );
    }
    // Not a timed assertion of speed, only of boundedness: minutes would mean a regression.
    assert!(
        start.elapsed().as_secs() < 120,
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn beyond_the_limits_is_a_typed_error() {
    let c = Rational::from((1, 3));
    assert!(matches!(
        cos_m(65_537, &Angle::Cos(c.clone()), 64),
        Err(Error::Domain { .. })
    ));
    assert!(matches!(
        cos_m(4, &Angle::Cos(c.clone()), 1 << 19),
        Err(Error::Precision { .. })
    ));
    let digits = "1".repeat(100_001);
    assert!(matches!(
        parse_exact(&format!("0.{digits}")),
        Err(Error::InvalidNumber { .. })
    ));
    assert!(matches!(
        parse_exact("1e100001"),
        Err(Error::InvalidNumber { .. })
    ));
}

#[test]
fn angular_margin_of_tiny_angles_is_bounded() {
    use asoftmax_spec::margin::{angular_margin, margin_coefficient};
    // The solved route (root of ψ(θ) = cos(Θ − θ)) once formed 1 − cos by
    // subtraction and needed ~2·|log₂ Θ| bits: a minute for Θ = 1e−99999 (found by
    // the api_robustness fuzz target at Θ = 2^−1026). In half-angle form the work no
    // longer depends on the size of Θ.
    let start = Instant::now();
    for theta in ["1e-99999", "0x1p-1026", "1e-5000", "3e-17"] {
        let big_theta = parse_exact(theta).unwrap();
        for m in ["4", "6333", "1.5"] {
            let m = parse_exact(m).unwrap();
            let a = angular_margin(&m, &big_theta, 8497).unwrap();
            let want = margin_coefficient(&m) * &big_theta;
            assert!(
                a.enclosure().contains_rational(&want),
                "m = {m}, Θ = {theta}"
            );
        }
    }
    // Boundedness, not speed: before the fix this loop took over three minutes.
    assert!(start.elapsed().as_secs() < 60, "took {:?}", start.elapsed());
}
