//! The rest of the margin family (`head::family`, `head::sphereface2`): each value against
//! a second route written here (closed forms, angle addition, half angles, enclosures
//! at 300 bits), each slope against central differences of the value oracle, and the
//! properties of each head — monotone or not, continuous or not at its boundaries, its
//! angular decision margin on the binary case — shown with rigorous enclosures or
//! closed forms derived independently of the code under test.

use asoftmax_spec::arith::{Approx, Ival, parse_exact};
use asoftmax_spec::head::family::{
    AdaFace, Head, MagFace, RVersion, magface_slope_a, nontarget_logit, nontarget_slope,
    target_logit, target_slope,
};
use asoftmax_spec::head::sphereface2::Margin;
use asoftmax_spec::head::sphereface2::{self, Params};
use asoftmax_spec::head::{Combined, Fallback, Semantics, Slope};
use asoftmax_spec::zoo::heads::OPENSPHERE_PI;
use rug::Rational;
use std::cmp::Ordering;

const WP: u32 = 300;

fn q(s: &str) -> Rational {
    parse_exact(s).unwrap()
}

fn cosines() -> Vec<Rational> {
    let mut v: Vec<Rational> = (-20..=20).map(|i| Rational::from((i, 20))).collect();
    v.extend(["0.999999999", "-0.999999999", "1e-30", "-0.3", "0.123"].map(q));
    v
}

fn t(h: &Head, c: &Rational) -> Approx {
    target_logit(h, c, 64).unwrap_or_else(|e| panic!("{h:?} at {c}: {e}"))
}

fn n(h: &Head, c: &Rational, cy: &Rational) -> Approx {
    nontarget_logit(h, c, cy, 64).unwrap_or_else(|e| panic!("{h:?} at {c}: {e}"))
}

fn finite(s: Slope) -> f64 {
    match s {
        Slope::Finite(v) => v.f64(),
        other => panic!("expected a finite slope, got {other:?}"),
    }
}

fn less(u: &Approx, v: &Approx) -> bool {
    u.enclosure().cmp_certain(v.enclosure()) == Some(Ordering::Less)
}

/// The oracle's `f64` equals the second route's whenever that route decides it.
fn agrees(got: &Approx, second: &Ival, what: &str) {
    let (lo, hi) = (second.lo().to_f64(), second.hi().to_f64());
    if lo == hi {
        assert_eq!(got.f64(), lo, "{what}");
    } else if second.contains_zero() {
        // The value is 0 (an exact case): the oracle must have proven it.
        assert!(got.is_exact() && got.f64() == 0.0, "{what}: {}", got.f64());
    } else {
        panic!("{what}: the second route did not decide the f64 ({lo}, {hi})");
    }
}

fn acos(c: &Rational) -> Ival {
    Ival::from_rational(c, WP)
        .clamp_unit()
        .unwrap()
        .acos()
        .unwrap()
}

fn ival(r: &Rational) -> Ival {
    Ival::from_rational(r, WP)
}

/// `sin θ = √(1 − c²)` over an enclosure of `c = cos θ`.
fn sine(c: &Ival) -> Ival {
    Ival::from_integer(&1.into(), WP)
        .sub(&c.square())
        .sqrt()
        .unwrap()
}

fn sphereface(m: &str) -> Head {
    Head::SphereFace { m: q(m) }
}

fn sfr(m: &str, version: RVersion) -> Head {
    Head::SphereFaceR { m: q(m), version }
}

fn ada(norm: &str) -> Head {
    Head::AdaFace(AdaFace {
        m: q("0.4"),
        h: q("0.333"),
        eps: q("0.001"),
        norm: q(norm),
        mean: q("20"),
        std: q("5"),
    })
}

fn mag(a: &str, fallback: Fallback) -> Head {
    Head::MagFace(MagFace {
        l_a: q("10"),
        u_a: q("110"),
        l_m: q("0.45"),
        u_m: q("0.8"),
        a: q(a),
        fallback,
    })
}

/// SphereFace with a real m against `(−1)^k cos(mθ) − 2k` computed here (k from the
/// enclosure of mθ/π); SphereFace-R v1 against `cos(min(mθ, π))`.
#[test]
fn sphereface_and_v1_match_their_theta_forms() {
    for m in ["1.5", "1.7", "2.5", "3"] {
        for c in cosines() {
            let mt = acos(&c).mul(&ival(&q(m)));
            let k = mt.div(&Ival::pi(WP)).unwrap().lo().to_f64().floor();
            let k = k.min(q(m).to_f64().ceil() - 1.0);
            let sign = if k as i64 % 2 == 0 { 1 } else { -1 };
            let cos = mt.cos();
            let psi = if sign == 1 { cos.clone() } else { cos.neg() };
            let psi = psi.sub(&Ival::from_integer(&(2 * k as i64).into(), WP));
            agrees(
                &t(&sphereface(m), &c),
                &psi,
                &format!("psi m = {m}, c = {c}"),
            );
            let v1 = if mt.cmp_certain(&Ival::pi(WP)) == Some(Ordering::Less) {
                cos
            } else {
                Ival::from_integer(&(-1).into(), WP)
            };
            agrees(
                &t(&sfr(m, RVersion::V1), &c),
                &v1,
                &format!("v1 m = {m}, c = {c}"),
            );
        }
    }
}

/// SphereFace-R v2: the target logit is `c`; the non-target `cos(θ/2)` is the half-angle
/// `√((1 + c)/2)` for m = 2, proven exact where that is rational (c = 1/8: 3/4) and at a
/// binary32 rounding midpoint (ties to even), and `cos(θ/m)` for a real m.
#[test]
fn v2_moves_the_margin_to_the_non_targets() {
    let h = sfr("2", RVersion::V2);
    let one = Rational::from(1);
    for c in cosines() {
        assert!(t(&h, &c).enclosure().contains_rational(&c));
        let half = ival(&((&c + Rational::from(1)) / 2u32)).sqrt().unwrap();
        agrees(&n(&h, &c, &one), &half, &format!("v2 m = 2, c = {c}"));
    }
    assert_eq!(n(&h, &q("0.125"), &one).f64(), 0.75);
    // cos(θ/2) = 1 − 2⁻²⁵, halfway between the f32 neighbours 1 − 2⁻²⁴ and 1.
    let x = Rational::from(1) - Rational::from((1, 1u64 << 25));
    let c = Rational::from(x.square_ref()) * 2u32 - 1u32;
    let v = n(&h, &c, &one);
    assert!(v.is_exact(), "the midpoint is proven");
    assert_eq!(v.f32(), 1.0, "ties to even");
    assert_eq!(n(&h, &q("-1"), &one).f64(), 0.0);
    let h = sfr("1.5", RVersion::V2);
    for c in cosines() {
        let second = acos(&c).div(&ival(&q("1.5"))).unwrap().cos();
        agrees(&n(&h, &c, &one), &second, &format!("v2 m = 1.5, c = {c}"));
    }
}

/// SphereFace2: `g(c) = 2((c + 1)/2)^t − 1` against its binomial expansion
/// `2^(1−t) Σ C(t, i) c^i − 1`, target `g − m`, non-target `g + m`.
#[test]
fn sphereface2_similarity_is_its_binomial_expansion() {
    for tt in 1..=5u32 {
        let h = Head::SphereFace2 {
            t: tt,
            m: q("0.4"),
            margin: Margin::C,
        };
        for c in cosines() {
            let mut sum = Rational::new();
            let mut binom = rug::Integer::from(1);
            for i in 0..=tt {
                sum += Rational::from(&binom) * c.pow_ref(i as i32);
                binom = binom * (tt - i) / (i + 1);
            }
            let g = sum * 2u32 / Rational::from(1u64 << tt) - 1u32;
            let want_t = &g - q("0.4");
            let want_n = g + q("0.4");
            assert!(
                t(&h, &c).enclosure().contains_rational(&want_t),
                "t = {tt}, c = {c}"
            );
            assert!(n(&h, &c, &c).enclosure().contains_rational(&want_n));
        }
    }
}

use rug::ops::Pow;
trait PowRef {
    fn pow_ref(&self, e: i32) -> Rational;
}
impl PowRef for Rational {
    fn pow_ref(&self, e: i32) -> Rational {
        self.clone().pow(e)
    }
}

/// AdaFace: `ŝ = clip(h(‖x‖ − μ)/(σ + ε), −1, 1)`, target `cos(clamp(θ − mŝ, 0, π)) − m(1 + ŝ)`
/// against the angle-addition formula `c·cos a − √(1 − c²)·sin a` with the clamps decided
/// here by comparing `c` with `cos a`, `−cos a`.
#[test]
fn adaface_matches_angle_addition_with_its_clamps() {
    for norm in ["20", "30", "10", "100", "0", "21.5"] {
        let h = ada(norm);
        let Head::AdaFace(a) = &h else { unreachable!() };
        let s = (q(norm) - q("20")) * q("0.333") / q("5.001");
        let s = s.clamp(&Rational::from(-1), &Rational::from(1));
        assert_eq!(a.scaler().unwrap(), s);
        let shift = -(q("0.4") * &s);
        let b = q("0.4") * (Rational::from(1) + &s);
        let (ai, bi) = (ival(&shift), ival(&b));
        for c in cosines() {
            let ci = ival(&c);
            let sin = sine(&ci);
            let cos_a = ai.cos();
            let v = if shift < 0 && ci.cmp_certain(&cos_a) == Some(Ordering::Greater) {
                Ival::from_integer(&1.into(), WP)
            } else if shift > 0 && ci.cmp_certain(&cos_a.neg()) == Some(Ordering::Less) {
                Ival::from_integer(&(-1).into(), WP)
            } else {
                ci.mul(&cos_a).sub(&sin.mul(&ai.sin()))
            };
            agrees(
                &t(&h, &c),
                &v.sub(&bi),
                &format!("AdaFace norm {norm}, c = {c}"),
            );
        }
    }
}

/// MagFace: the margin interpolates linearly between (l_a, l_m) and (u_a, u_m) and is
/// held outside; the target logit is ArcFace's with the linear fallback at that margin;
/// the regularizer `a/u_a² + 1/a` and its derivative.
#[test]
fn magface_margin_regularizer_and_logit() {
    for (a, m) in [
        ("10", "0.45"),
        ("110", "0.8"),
        ("60", "0.625"),
        ("5", "0.45"),
        ("200", "0.8"),
    ] {
        let h = mag(a, Fallback::Linear);
        let Head::MagFace(mf) = &h else {
            unreachable!()
        };
        assert_eq!(mf.margin().unwrap(), q(m), "a = {a}");
    }
    let Head::MagFace(mf) = mag("60", Fallback::Linear) else {
        unreachable!()
    };
    let (g, dg) = mf.regularizer().unwrap();
    assert_eq!(g, q("60") / q("12100") + q("1") / q("60"));
    assert_eq!(dg, q("1") / q("12100") - q("1") / q("3600"));
    let h = mag("60", Fallback::Linear);
    let mi = ival(&q("0.625"));
    for c in cosines() {
        let ci = ival(&c);
        let sin = sine(&ci);
        // θ + m ≤ π ⟺ c ≥ −cos m.
        let v = if ci.cmp_certain(&mi.cos().neg()) == Some(Ordering::Less) {
            ci.sub(&mi.mul(&mi.sin()))
        } else {
            ci.mul(&mi.cos()).sub(&sin.mul(&mi.sin()))
        };
        agrees(&t(&h, &c), &v, &format!("MagFace a = 60, c = {c}"));
    }
}

/// CurricularFace: a non-target `c` is modulated to `c(t + c)` exactly when
/// `c > cos(θ_y + m) = c_y cos m − √(1 − c_y²) sin m`; its target logit is ArcFace's with
/// the linear fallback.
#[test]
fn curricularface_modulates_the_hard_non_targets() {
    let h = Head::CurricularFace {
        m: q("0.5"),
        t: q("0.3"),
    };
    let mi = ival(&q("0.5"));
    for cy in ["0.9", "0.2", "-0.5", "-0.95"].map(q) {
        let cyi = ival(&cy);
        let sin = Ival::from_integer(&1.into(), WP)
            .sub(&cyi.square())
            .sqrt()
            .unwrap();
        let cm = cyi.mul(&mi.cos()).sub(&sin.mul(&mi.sin()));
        for c in cosines() {
            let hard = ival(&c).cmp_certain(&cm) == Some(Ordering::Greater);
            let want = if hard {
                &c * (q("0.3") + &c)
            } else {
                c.clone()
            };
            let v = n(&h, &c, &cy);
            assert!(
                v.enclosure().contains_rational(&want),
                "c_y = {cy}, c = {c}"
            );
        }
    }
    let arc = Head::Combined(Combined::arcface(q("0.5"), Fallback::Linear));
    for c in cosines() {
        assert_eq!(t(&h, &c).f64(), t(&arc, &c).f64());
    }
}

fn all_heads() -> Vec<Head> {
    vec![
        sphereface("1.5"),
        sphereface("4"),
        sfr("1.5", RVersion::V1),
        sfr("1.5", RVersion::V2),
        sfr("3", RVersion::V2),
        Head::SphereFace2 {
            t: 3,
            m: q("0.4"),
            margin: Margin::C,
        },
        Head::CurricularFace {
            m: q("0.5"),
            t: q("0.2"),
        },
        ada("30"),
        ada("10"),
        mag("60", Fallback::Linear),
    ]
}

/// Every analytic slope, target and non-target, is the central difference of the value
/// oracle (h = 10⁻²⁰ at 256 bits).
#[test]
fn analytic_slopes_are_the_derivatives_of_the_values() {
    let step = q("1e-20");
    let cy = q("0.3");
    for h in all_heads() {
        for i in -9..=9 {
            let c = Rational::from((i, 10)) + q("0.0123");
            let fd = |f: &dyn Fn(&Rational) -> Approx| {
                let up = f(&Rational::from(&c + &step)).mid();
                let down = f(&Rational::from(&c - &step)).mid();
                (up - down).to_f64() / 2e-20
            };
            let ft = fd(&|x| target_logit(&h, x, 256).unwrap());
            let st = finite(target_slope(&h, &c, Semantics::Analytic, 64).unwrap());
            assert!(
                (ft - st).abs() <= 1e-12 * (1.0 + st.abs()),
                "{h:?} t at {c}: {ft} vs {st}"
            );
            let fnt = fd(&|x| nontarget_logit(&h, x, &cy, 256).unwrap());
            let sn = finite(nontarget_slope(&h, &c, &cy, Semantics::Analytic, 64).unwrap());
            assert!(
                (fnt - sn).abs() <= 1e-12 * (1.0 + sn.abs()),
                "{h:?} n at {c}: {fnt} vs {sn}"
            );
        }
    }
}

/// Non-decreasing in c (non-increasing in θ) over a fine grid, proven by the enclosures.
fn monotone(h: &Head) -> bool {
    let cs: Vec<Rational> = (-400..=400).map(|i| Rational::from((i, 400))).collect();
    cs.windows(2).all(|w| !less(&t(h, &w[1]), &t(h, &w[0])))
}

/// Which target logits are monotone in θ on [0, π]: ψ, SphereFace-R v1 and v2,
/// SphereFace2, AdaFace (clamped at 0 and π), MagFace and CurricularFace (linear
/// fallback) are; ArcFace without fallback is not past θ = π − m, and the easy margin
/// is not at c = 0, where it drops from 0 to −sin m as c rises.
#[test]
fn which_target_logits_are_monotone() {
    for h in all_heads() {
        assert!(monotone(&h), "{h:?} is monotone");
    }
    let easy = Head::Combined(Combined::arcface(q("0.5"), Fallback::Easy));
    assert!(!monotone(&easy));
    let at0 = t(&easy, &q("0"));
    let after = t(&easy, &q("1e-9"));
    assert!(less(&after, &at0));
    assert!(
        (after.f64() + 0.5f64.sin()).abs() < 1e-8,
        "−sin m = {}",
        after.f64()
    );
    let none = Head::Combined(Combined::arcface(q("0.5"), Fallback::None));
    assert!(!monotone(&none));
    let mag_easy = mag("60", Fallback::Easy);
    assert!(!monotone(&mag_easy));
}

/// Continuity at the boundaries: SphereFace-R v1 and AdaFace's clamps are continuous
/// and C¹ (both one-sided slopes tend to 0); MagFace's linear fallback jumps by
/// `cos m + m sin m − 1` at `θ = π − m(a)`; CurricularFace's modulation jumps by
/// `c(t + c − 1)` at `c = cos(θ_y + m)`.
#[test]
fn continuity_at_each_boundary() {
    // v1, m = 1.5: the boundary cos(π/1.5) = −1/2 is exact.
    let v1 = sfr("1.5", RVersion::V1);
    assert_eq!(t(&v1, &q("-0.5")).f64(), -1.0);
    for d in ["1e-9", "-1e-9"] {
        let c = q("-0.5") + q(d);
        assert!((t(&v1, &c).f64() + 1.0).abs() < 1e-8);
        let s = finite(target_slope(&v1, &c, Semantics::Analytic, 64).unwrap());
        assert!(s.abs() < 1e-3, "slope {s} next to the boundary");
    }
    // AdaFace, norm 30: ŝ = 0.333·10/5.001 ≈ 0.666, a = −0.4ŝ: θ + a = 0 at c = cos a.
    let h = ada("30");
    let Head::AdaFace(a) = &h else { unreachable!() };
    let (shift, b) = a.shifts().unwrap();
    let tau = shift.to_f64().cos();
    for d in [1e-7, -1e-7] {
        let c = Rational::from_f64(tau + d).unwrap();
        let v = t(&h, &c).f64();
        assert!((v - (1.0 - b.to_f64())).abs() < 1e-6, "{v}");
        let s = finite(target_slope(&h, &c, Semantics::Analytic, 64).unwrap());
        assert!(s.abs() < 1e-2, "slope {s} next to the clamp at 0");
    }
    // MagFace, a = 60, m = 0.625: the jump of the linear fallback.
    let h = mag("60", Fallback::Linear);
    let m = 0.625f64;
    let tau = -(m.cos());
    let above = t(&h, &Rational::from_f64(tau + 1e-12).unwrap()).f64();
    let below = t(&h, &Rational::from_f64(tau - 1e-12).unwrap()).f64();
    let want = m.cos() + m * m.sin() - 1.0;
    assert!(
        ((above - below) - want).abs() < 1e-9,
        "jump {}",
        above - below
    );
    // CurricularFace, t = 0.2, c_y = 0.9: c(t + c) − c = c(t + c − 1) at the mask edge.
    let h = Head::CurricularFace {
        m: q("0.5"),
        t: q("0.2"),
    };
    let cy = q("0.9");
    let edge = (0.9f64.acos() + 0.5).cos();
    let up = n(&h, &Rational::from_f64(edge + 1e-12).unwrap(), &cy).f64();
    let down = n(&h, &Rational::from_f64(edge - 1e-12).unwrap(), &cy).f64();
    assert!(((up - down) - edge * (0.2 + edge - 1.0)).abs() < 1e-9);
}

/// The exact clamp at π is C¹, but the published one at 3.14159 cuts the curve where its
/// slope is `sin(3.14159)/sin(3.14159 − m) ≠ 0`: the float formula has a kink there.
#[test]
fn the_float_clamp_at_3_14159_is_a_kink() {
    let h = Head::Combined(Combined::arcface(q("0.5"), Fallback::None));
    let theta = OPENSPHERE_PI - 0.5;
    let c = Rational::from_f64(theta.cos()).unwrap();
    let s = finite(target_slope(&h, &c, Semantics::Analytic, 64).unwrap());
    let want = OPENSPHERE_PI.sin() / theta.sin();
    assert!((s - want).abs() < 1e-9 * want, "{s} vs {want}");
    assert!(s > 5e-6 && s < 6e-6, "{s}");
}

/// Slopes at c = ±1 per semantics for the new heads.
#[test]
fn slopes_at_the_ends() {
    let (one, minus, cy) = (q("1"), q("-1"), q("0.5"));
    let s = |h: &Head, c: &Rational, sem| target_slope(h, c, sem, 64).unwrap();
    // ψ, m = 1.5: m² at c = 1, +∞ at c = −1; autograd 0·∞ at c = 1.
    let h = sphereface("1.5");
    assert_eq!(finite(s(&h, &one, Semantics::Analytic)), 2.25);
    assert!(matches!(s(&h, &minus, Semantics::Analytic), Slope::PosInf));
    assert!(matches!(
        s(&h, &one, Semantics::DifferentiableAcos),
        Slope::Undefined
    ));
    assert_eq!(finite(s(&h, &minus, Semantics::StraightThrough)), 1.0);
    // v2's cos(θ/m): 1/m² at c = 1, +∞ at c = −1.
    let h = sfr("1.5", RVersion::V2);
    let d = finite(nontarget_slope(&h, &one, &cy, Semantics::Analytic, 64).unwrap());
    assert_eq!(d, 4.0 / 9.0);
    let d = nontarget_slope(&h, &minus, &cy, Semantics::Analytic, 64).unwrap();
    assert!(matches!(d, Slope::PosInf));
    // AdaFace with a > 0 (low norm) at c = 1: sin a / sin θ → +∞.
    assert!(matches!(
        s(&ada("10"), &one, Semantics::Analytic),
        Slope::PosInf
    ));
    // SphereFace2, t = 3: g′(−1) = 0, g′(1) = 3.
    let h = Head::SphereFace2 {
        t: 3,
        m: q("0.4"),
        margin: Margin::C,
    };
    assert_eq!(finite(s(&h, &minus, Semantics::Analytic)), 0.0);
    assert_eq!(finite(s(&h, &one, Semantics::Analytic)), 3.0);
}

/// The SphereFace2 loss against the same sum written the other way round
/// (`softplus(−z) = softplus(z) − z`, `σ(z) = e^z/(1 + e^z)`) at 300 bits, and its
/// gradient against central differences of the loss oracle, in both semantics.
#[test]
fn sphereface2_loss_two_routes_and_finite_differences() {
    let p = Params {
        t: 3,
        m: q("0.4"),
        r: q("40"),
        b: q("-9.5"),
        alpha: q("0.7"),
        lw: q("50"),
    };
    let rows = vec![
        vec![q("0.7"), q("-0.1"), q("0.2")],
        vec![q("0.05"), q("0.3"), q("-0.9")],
    ];
    let labels = [0usize, 1];
    for sem in [Semantics::Analytic, Semantics::StraightThrough] {
        let (loss, grads) = sphereface2::loss(&p, &rows, &labels, sem, 64).unwrap();
        let mut acc = Ival::from_integer(&0.into(), WP);
        for (row, &y) in rows.iter().zip(&labels) {
            for (j, c) in row.iter().enumerate() {
                let g = (Rational::from(c + 1u32) / 2u32).pow(3i32) * 2u32 - 1u32;
                let g = if j == y { g - &p.m } else { g + &p.m };
                let z = ival(&(g * &p.r + &p.b));
                let sp = z.exp().ln_1p().unwrap();
                let term = if j == y { sp.sub(&z) } else { sp };
                let w = if j == y { q("0.7") } else { q("0.3") };
                // lw·C/r·w/(N·C) = 50·w/(40·2)
                acc = acc.add(&term.mul(&ival(&(w * q("50") / q("80")))));
            }
        }
        agrees(&loss, &acc, "SphereFace2 loss");
        if sem == Semantics::StraightThrough {
            continue;
        }
        let step = q("1e-20");
        for i in 0..2 {
            for j in 0..3 {
                let at = |d: &Rational| {
                    let mut r = rows.clone();
                    r[i][j] += d;
                    sphereface2::loss(&p, &r, &labels, sem, 256)
                        .unwrap()
                        .0
                        .mid()
                };
                let fd = (at(&step) - at(&Rational::from(-&step))).to_f64() / 2e-20;
                let g = grads[i][j].f64();
                assert!(
                    (fd - g).abs() <= 1e-12 * (1.0 + g.abs()),
                    "[{i}][{j}] {fd} vs {g}"
                );
            }
        }
    }
}

/// opensphere's bias init makes the mean initial loss balanced: with every cosine 0 the
/// weighted positive and negative parts satisfy the relation the init solves,
/// `α·softplus(−z_y) ⋯`; here, the value against its formula evaluated in f64.
#[test]
fn sphereface2_bias_init_matches_its_formula_in_f64() {
    let p = Params {
        t: 3,
        m: q("0.4"),
        r: q("40"),
        b: Rational::new(),
        alpha: q("0.7"),
        lw: q("50"),
    };
    let b = sphereface2::bias_init(&p, 1000, 64).unwrap().f64();
    let z = 0.7f64 / (0.3 * 999.0);
    let ay = 40.0 * (2.0 * 0.5f64.powi(3) - 1.0 - 0.4);
    let ai = 40.0 * (2.0 * 0.5f64.powi(3) - 1.0 + 0.4);
    let temp = (1.0 - z).powi(2) + 4.0 * z * (ay - ai).exp();
    let want = (2.0 * z).ln() - ai - (1.0 - z + temp.sqrt()).ln();
    assert!((b - want).abs() < 1e-12 * want.abs(), "{b} vs {want}");
}

/// Bisection for the class-1 boundary of the binary case: `t(cos θ₁) = n(cos(Θ − θ₁))`.
fn boundary(h: &Head, big: f64) -> f64 {
    let f = |th: f64| {
        let c1 = Rational::from_f64(th.cos()).unwrap();
        let c2 = Rational::from_f64((big - th).cos()).unwrap();
        t(h, &c1).f64() - n(h, &c2, &c1).f64()
    };
    let (mut lo, mut hi) = (0.0, big);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if f(mid) > 0.0 { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// The angular decision margin `Θ − 2θ₁*` of each head on the binary case (weights at
/// angle Θ, the feature between them; by symmetry class 2's boundary is at the same
/// distance from W₂), against closed forms derived by hand: ArcFace and MagFace `m`,
/// CosFace `2·asin(m/(2 sin(Θ/2)))`, ψ and both SphereFace-R forms `(m − 1)/(m + 1)·Θ`,
/// SphereFace2 with t = 1 `2·asin(m/sin(Θ/2))`, AdaFace at ŝ = −1 (ArcFace's m) and at
/// ŝ = 0 (CosFace's m).
#[test]
fn angular_decision_margins_on_the_binary_case() {
    let big = 1.2f64;
    let cosface = |m: f64| 2.0 * (m / (2.0 * (big / 2.0).sin())).asin();
    let mult = |m: f64| (m - 1.0) / (m + 1.0) * big;
    let cases: Vec<(Head, f64)> = vec![
        (
            Head::Combined(Combined::arcface(q("0.3"), Fallback::None)),
            0.3,
        ),
        (Head::Combined(Combined::cosface(q("0.2"))), cosface(0.2)),
        (sphereface("1.5"), mult(1.5)),
        (sfr("1.5", RVersion::V1), mult(1.5)),
        (sfr("1.5", RVersion::V2), mult(1.5)),
        (sfr("3", RVersion::V2), mult(3.0)),
        (
            Head::SphereFace2 {
                t: 1,
                m: q("0.1"),
                margin: Margin::C,
            },
            2.0 * (0.1 / (big / 2.0).sin()).asin(),
        ),
        (mag("10", Fallback::Linear), 0.45),
        // ŝ = −1 (norm far below the mean): a = m, b = 0; ŝ = 0 (norm at the mean): a = 0, b = m.
        (ada("0"), 0.4),
        (ada("20"), cosface(0.4)),
    ];
    for (h, want) in cases {
        let got = big - 2.0 * boundary(&h, big);
        assert!(
            (got - want).abs() < 1e-9,
            "{h:?}: margin {got}, closed form {want}"
        );
    }
}

/// Parameters outside a head's definition are typed errors naming the parameter.
#[test]
fn bad_parameters_are_rejected() {
    let c = q("0.5");
    let err = |h: Head| target_logit(&h, &c, 64).unwrap_err().to_string();
    assert!(err(sphereface("0.5")).contains("m = "));
    assert!(
        err(Head::SphereFace2 {
            t: 0,
            m: q("0.4"),
            margin: Margin::C,
        })
        .contains("t = 0")
    );
    let Head::AdaFace(mut a) = ada("20") else {
        unreachable!()
    };
    a.std = q("-1");
    assert!(err(Head::AdaFace(a)).contains("std"));
    let Head::MagFace(mut mf) = mag("20", Fallback::Linear) else {
        unreachable!()
    };
    mf.u_a = q("5");
    assert!(err(Head::MagFace(mf)).contains("u_a"));
    let p = Params {
        t: 3,
        m: q("0.4"),
        r: q("40"),
        b: Rational::new(),
        alpha: q("1"),
        lw: q("50"),
    };
    let rows = vec![vec![q("0.1"), q("0.2")]];
    let e = sphereface2::loss(&p, &rows, &[0], Semantics::Analytic, 64).unwrap_err();
    assert!(e.to_string().contains("alpha"));
    let p = Params {
        alpha: q("0.7"),
        ..p
    };
    let e = sphereface2::loss(&p, &rows, &[2], Semantics::Analytic, 64).unwrap_err();
    assert!(e.to_string().contains("label"));
}

/// MagFace's magnitude gradient through the margin, `∂t/∂a`, against central differences
/// of the value oracle in `a` (both fallbacks, both pieces), 0 outside `[l_a, u_a]` and
/// undefined at its ends.
#[test]
fn magface_magnitude_gradient_is_the_derivative_in_a() {
    let step = q("1e-20");
    for fallback in [Fallback::Linear, Fallback::Easy] {
        for a in ["20", "60", "105"] {
            for c in ["0.9", "0.3", "-0.2", "-0.95", "-0.999"].map(q) {
                let at = |x: Rational| {
                    let Head::MagFace(mut mf) = mag(a, fallback) else {
                        unreachable!()
                    };
                    mf.a = x;
                    target_logit(&Head::MagFace(mf), &c, 256).unwrap().mid()
                };
                let fd = (at(q(a) + &step) - at(q(a) - &step)).to_f64() / 2e-20;
                let Head::MagFace(mf) = mag(a, fallback) else {
                    unreachable!()
                };
                let d = finite(magface_slope_a(&mf, &c, 64).unwrap());
                assert!(
                    (fd - d).abs() <= 1e-12 * (1.0 + d.abs()),
                    "a = {a}, c = {c}: {fd} vs {d}"
                );
            }
        }
    }
    let Head::MagFace(mf) = mag("200", Fallback::Linear) else {
        unreachable!()
    };
    assert_eq!(finite(magface_slope_a(&mf, &q("0.5"), 64).unwrap()), 0.0);
    let Head::MagFace(mf) = mag("10", Fallback::Linear) else {
        unreachable!()
    };
    assert!(matches!(
        magface_slope_a(&mf, &q("0.5"), 64).unwrap(),
        Slope::Undefined
    ));
}

/// Inside (−1, 1) autograd through a differentiable acos computes the analytic slope, and
/// the straight-through semantics gives 1, for every head, target and non-target.
#[test]
fn semantics_agree_inside_and_straight_through_is_one() {
    let cy = q("0.3");
    for h in all_heads() {
        for i in -9..=9 {
            let c = Rational::from((i, 10)) + q("0.0123");
            let get = |sem| finite(target_slope(&h, &c, sem, 64).unwrap());
            assert_eq!(
                get(Semantics::Analytic),
                get(Semantics::DifferentiableAcos),
                "{h:?}"
            );
            assert_eq!(get(Semantics::StraightThrough), 1.0);
            let getn = |sem| finite(nontarget_slope(&h, &c, &cy, sem, 64).unwrap());
            assert_eq!(
                getn(Semantics::Analytic),
                getn(Semantics::DifferentiableAcos)
            );
            assert_eq!(getn(Semantics::StraightThrough), 1.0);
        }
    }
}

/// Exact cases at rational cosines, derived by hand: `cos(θ/m)` rational for an integer m
/// (`T_3(3/4) = −9/16`, so `cos(acos(−9/16)/3) = 3/4`; a binary32 midpoint proven and rounded to
/// even), zero at Niven's cosines (`m = 4/3`, `c = −1/2`: `cos(π/2)`), ψ's slope zero at a
/// branch point (`m = 3/2`, `c = −1/2`: `mθ = π`), and ψ rational off Niven's cosines
/// (`m = 3/2`, `c = 1/8`: `cos(3θ/2) = T_3(cos(θ/2)) = T_3(3/4) = −9/16`).
#[test]
fn exact_cases_are_decided() {
    let one = q("1");
    let v2 = |m| sfr(m, RVersion::V2);
    assert_eq!(n(&v2("3"), &q("-0.5625"), &one).f64(), 0.75);
    let x = Rational::from(1) - Rational::from((1, 1u64 << 25));
    let t3 = |x: &Rational| {
        let x3 = Rational::from(x * x) * x;
        x3 * 4u32 - Rational::from(x * 3u32)
    };
    let v = n(&v2("3"), &t3(&x), &one);
    assert!(v.is_exact(), "proven by T_3(x) = c");
    assert_eq!(v.f32(), 1.0);
    let v2_43 = Head::SphereFaceR {
        m: Rational::from((4, 3)),
        version: RVersion::V2,
    };
    let z = n(&v2_43, &q("-0.5"), &one);
    assert!(z.is_exact() && z.f64() == 0.0);
    let s = target_slope(&sphereface("1.5"), &q("-0.5"), Semantics::Analytic, 64).unwrap();
    assert_eq!(finite(s), 0.0);
    assert_eq!(t(&sphereface("1.5"), &q("0.125")).f64(), -0.5625);
    assert_eq!(t(&sfr("1.5", RVersion::V1), &q("0.125")).f64(), -0.5625);
}

/// SphereFace2's angular margins: `A` is `g(cos(min(θ + m, π)))` and `M` is
/// `g(cos(min(mθ, π)))` on the target, `g(c)` on the others; against `g` of the angle
/// computed here at 300 bits (for the integer m = 2 of `M`, `g(2c² − 1)` for `c ≥ 0`, exact),
/// their slopes against central differences, both monotone.
#[test]
fn sphereface2_angular_margins() {
    let g = |x: &Ival| {
        let half = x.add(&Ival::from_integer(&1.into(), WP)).mul_pow2(-1);
        half.mul(&half)
            .mul(&half)
            .mul_pow2(1)
            .sub(&Ival::from_integer(&1.into(), WP))
    };
    let minus_one = Ival::from_integer(&(-1).into(), WP);
    let a = Head::SphereFace2 {
        t: 3,
        m: q("0.5"),
        margin: Margin::A,
    };
    let mm = Head::SphereFace2 {
        t: 3,
        m: q("1.5"),
        margin: Margin::M,
    };
    for c in cosines() {
        // cos(min(angle, π)): θ + 0.5 for type A, 1.5·θ for type M.
        let clamped = |x: Ival| match x.cmp_certain(&Ival::pi(WP)) == Some(Ordering::Less) {
            true => x.cos(),
            false => minus_one.clone(),
        };
        let inner = clamped(acos(&c).add(&ival(&q("0.5"))));
        agrees(&t(&a, &c), &g(&inner), &format!("A at {c}"));
        let inner = clamped(acos(&c).mul(&ival(&q("1.5"))));
        agrees(&t(&mm, &c), &g(&inner), &format!("M at {c}"));
        let plain = g(&ival(&c));
        agrees(&n(&a, &c, &c), &plain, "A non-target");
    }
    let m2 = Head::SphereFace2 {
        t: 3,
        m: q("2"),
        margin: Margin::M,
    };
    for c in cosines() {
        let x = if c >= 0 {
            Rational::from(c.square_ref()) * 2u32 - 1u32
        } else {
            Rational::from(-1)
        };
        let want = (x + 1u32).pow(3i32) / 4u32 - 1u32;
        assert!(
            t(&m2, &c).enclosure().contains_rational(&want),
            "M, m = 2, c = {c}"
        );
    }
    let step = q("1e-20");
    for h in [&a, &mm, &m2] {
        assert!(monotone(h), "{h:?}");
        for i in -9..=9 {
            let c = Rational::from((i, 10)) + q("0.0123");
            let up = target_logit(h, &Rational::from(&c + &step), 256)
                .unwrap()
                .mid();
            let down = target_logit(h, &Rational::from(&c - &step), 256)
                .unwrap()
                .mid();
            let fd = (up - down).to_f64() / 2e-20;
            let s = finite(target_slope(h, &c, Semantics::Analytic, 64).unwrap());
            assert!(
                (fd - s).abs() <= 1e-12 * (1.0 + s.abs()),
                "{h:?} at {c}: {fd} vs {s}"
            );
        }
    }
    // A at c = 1: g′(cos m)·(+∞).
    assert!(matches!(
        target_slope(&a, &q("1"), Semantics::Analytic, 64).unwrap(),
        Slope::PosInf
    ));
}

/// The initial bias of types `A` and `M` against opensphere's formula evaluated in f64
/// (`θ_y = min(π, π/2 + m)` for `A`, `min(π, mπ/2)` for `M`), and `C` through the general
/// function equal to [`sphereface2::bias_init`].
#[test]
fn sphereface2_bias_init_of_every_margin_matches_its_formula_in_f64() {
    use asoftmax_spec::head::sphereface2::Margin;
    let params = |m: &str| Params {
        t: 3,
        m: q(m),
        r: q("40"),
        b: Rational::new(),
        alpha: q("0.7"),
        lw: q("50"),
    };
    let f64_init = |ay: f64, ai: f64| {
        let z = 0.7f64 / (0.3 * 999.0);
        let temp = (1.0 - z).powi(2) + 4.0 * z * (ay - ai).exp();
        (2.0 * z).ln() - ai - (1.0 - z + temp.sqrt()).ln()
    };
    let g = |x: f64| 40.0 * (2.0 * ((x + 1.0) / 2.0).powi(3) - 1.0);
    let pi = std::f64::consts::PI;
    for (margin, m) in [
        (Margin::A, 0.4),
        (Margin::A, 2.0),
        (Margin::M, 1.5),
        (Margin::M, 3.0),
    ] {
        let text = m.to_string();
        let b = sphereface2::bias_init_margin(&params(&text), margin, 1000, 64)
            .unwrap()
            .f64();
        let theta = match margin {
            Margin::A => pi.min(pi / 2.0 + m),
            _ => pi.min(m * pi / 2.0),
        };
        let want = f64_init(g(theta.cos()), g(0.0));
        assert!(
            (b - want).abs() < 1e-12 * want.abs(),
            "{margin:?} {m}: {b} vs {want}"
        );
    }
    let p = params("0.4");
    let c = sphereface2::bias_init_margin(&p, Margin::C, 1000, 64).unwrap();
    assert_eq!(
        c.decimal(),
        sphereface2::bias_init(&p, 1000, 64).unwrap().decimal()
    );
}
