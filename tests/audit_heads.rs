//! The margin family's audit (`audit::heads`): the published head formulas against the
//! oracle of their definitions. Each pinned deviation is derived here by hand from the
//! formula's clamp or branch (in `f64`), not copied from the audit: the audit's measured
//! worst error must match the derivation.

use asoftmax_spec::arith::{Format, round_f64_to};
use asoftmax_spec::audit::heads::{HeadRow, Logit, run_heads};
use std::f64::consts::PI;

fn row<'a>(rows: &'a [HeadRow], name: &str, fmt: Format, logit: Logit) -> &'a HeadRow {
    rows.iter()
        .find(|r| r.formula == name && r.format == fmt && r.logit == logit)
        .unwrap_or_else(|| panic!("no row {name} {fmt:?} {logit:?}"))
}

/// Within `rel` of the derivation, or 4 units of 2⁻²⁴ (the f32 result's own rounding).
fn close(got: f64, want: f64, rel: f64, what: &str) {
    assert!(
        (got - want).abs() <= rel * want.abs() + 4.0 * 2f64.powi(-24),
        "{what}: measured {got:e}, derived {want:e}"
    );
}

#[test]
fn head_audit_findings() {
    let rows = run_heads();
    // The opensphere clamp ±(1 − ε), ε = 1e−5, freezes θ at δ = acos(1 − ε) ≈ √(2ε) from 0 and π.
    for fmt in [Format::F32, Format::F64] {
        let delta = round_f64_to(1.0 - 1e-5, fmt).acos();
        let t = |name| row(&rows, name, fmt, Logit::Target);
        let n = |name| row(&rows, name, fmt, Logit::NonTarget);
        // ψ with m = 1.5 at c = −1: ψ(π − δ) − ψ(π) = sin(1.5δ) (slope +∞ there: a √ε error).
        let r = t("opensphere-sphereface");
        close(r.max_abs, (1.5 * delta).sin(), 1e-3, "sphereface at c = -1");
        assert_eq!(r.worst.as_ref().unwrap().c, -1.0);
        // ArcFace at c = 1: cos(m) − cos(m + δ).
        let r = t("opensphere-arcface");
        close(
            r.max_abs,
            0.5f64.cos() - (0.5 + delta).cos(),
            1e-3,
            "arcface at c = 1",
        );
        // SphereFace-R v1 at c = 1: 1 − cos(1.5δ) ≈ m²ε.
        close(
            t("opensphere-sphereface-r-v1").max_abs,
            1.0 - (1.5 * delta).cos(),
            1e-3,
            "v1",
        );
        // v2's non-target cos(θ/m) at c = −1: cos((π − δ)/1.5) − cos(π/1.5).
        let want = ((PI - delta) / 1.5).cos() - (PI / 1.5).cos();
        close(
            n("opensphere-sphereface-r-v2").max_abs,
            want,
            1e-3,
            "v2 non-target",
        );
        // Non-target logits through cos(acos(clamp(c))): 1 − (1 − ε) at c = 1.
        for name in [
            "opensphere-sphereface",
            "opensphere-arcface",
            "opensphere-sphereface-r-v1",
        ] {
            close(n(name).max_abs, 1e-5, 1e-2, name);
        }
        // The linear fallback's jump cos m + m sin m − 1, at the one input c = fl(cos(π − m)).
        for name in ["insightface-arcface-linear", "insightface-mxnet-arcface"] {
            let r = t(name);
            close(
                r.max_abs,
                0.5f64.cos() + 0.5 * 0.5f64.sin() - 1.0,
                1e-6,
                name,
            );
            let th = round_f64_to((PI - 0.5).cos(), fmt);
            assert_eq!(r.worst.as_ref().unwrap().c, th, "{name}");
        }
        // fp16 cosine: c ∈ (1 − 2⁻¹², 1) rounds to 1, so t(1) − t(1 − 2⁻¹²) is reached.
        let c = 1.0 - 2f64.powi(-12);
        let want = 0.5f64.cos() - (0.5 + c.acos()).cos();
        close(
            t("insightface-combined-fp16").max_abs,
            want,
            5e-2,
            "fp16 target",
        );
        let r = n("insightface-combined-fp16");
        assert!(
            r.max_abs <= 2f64.powi(-12) * 1.0001,
            "fp16 non-target {}",
            r.max_abs
        );
        // The formulas without clamps stay at rounding level (a few units of 2⁻²⁴ / 2⁻⁵³).
        let unit = if fmt == Format::F32 {
            2f64.powi(-24)
        } else {
            2f64.powi(-53)
        };
        for name in ["insightface-combined", "pml-cosface", "opensphere-cosface"] {
            assert!(
                t(name).max_abs <= 4.0 * unit,
                "{name} {fmt:?}: {}",
                t(name).max_abs
            );
        }
        assert!(t("opensphere-sphereface2-c").max_abs <= 8.0 * unit);
    }
    // pytorch-metric-learning's clamp 1 − 1e−7, in f32 the float 1 − 2⁻²³.
    let c = 1.0f64 - 2f64.powi(-23);
    let m = 28.6f64.to_radians();
    let want = m.cos() - (m + c.acos()).cos();
    close(
        row(&rows, "pml-arcface", Format::F32, Logit::Target).max_abs,
        want,
        2e-2,
        "pml f32",
    );
}

/// Away from the clamp bands, the linear threshold and the clamp at 3.14159 every formula
/// except the fp16 one is at rounding level: the deviations above are the clamps and
/// branches, nothing else.
#[test]
fn away_from_clamps_and_branches_every_formula_is_at_rounding_level() {
    use asoftmax_spec::audit::heads::{audit_formula, head_inputs};
    use asoftmax_spec::zoo::heads::all_heads;
    fn check<T: asoftmax_spec::zoo::ZooFloat>(unit: f64) {
        let th = -(0.5f64.cos());
        let inputs: Vec<T> = head_inputs::<T>()
            .into_iter()
            .filter(|c| c.to_f64().abs() <= 0.999 && (c.to_f64() - th).abs() > 1e-6)
            .collect();
        for f in all_heads::<T>() {
            // The norm clip moves AdaFace's margin at every c (`stateful_head_findings`).
            if f.name().ends_with("fp16") || f.name() == "adaface-norm-clip" {
                continue;
            }
            // ArcFace's θ + m and v1's mθ reach 3.14159 below c = −0.87 and −0.5.
            let clamps_at_pi = ["opensphere-arcface", "opensphere-sphereface-r-v1"];
            // The formula's own branch points (the rounded thresholds of MagFace's linear
            // fallback and CurricularFace's mask) are excluded as the common one is.
            let marks = f.marks();
            let inputs: Vec<T> = inputs
                .iter()
                .copied()
                .filter(|c| !clamps_at_pi.contains(&f.name()) || c.to_f64() >= -0.45)
                .filter(|c| marks.iter().all(|m| (c.to_f64() - m).abs() > 1e-6))
                // AdaFace clips θ − m·ŝ to [1e−3, π − 1e−3] (the definition to [0, π]):
                // active within |m·ŝ| + 1e−3 ≈ 0.134 of 0 and π, i.e. |c| > cos 0.134.
                .filter(|c| !f.name().starts_with("adaface") || c.to_f64().abs() <= 0.98)
                .collect();
            for logit in [Logit::Target, Logit::NonTarget] {
                let r = audit_formula(f.as_ref(), logit, &inputs);
                println!(
                    "{} {:?} {:?}: {:.2} units",
                    r.formula,
                    r.format,
                    logit,
                    r.max_abs / unit
                );
                assert!(
                    r.max_abs <= 16.0 * unit,
                    "{} {logit:?}: {:e}",
                    r.formula,
                    r.max_abs
                );
            }
        }
    }
    check::<f32>(2f64.powi(-24));
    check::<f64>(2f64.powi(-53));
}

/// opensphere's 3.14159 for π: past the clamp its target logit is `cos(3.14159)` where the
/// definition gives −1, `1 − cos(π − 3.14159) = 3.5·10⁻¹²` off — in `f64` on the whole range
/// where the clamp holds (ArcFace below `c = cos(3.14159 − 0.5)`, SphereFace-R v1 below
/// `c = −1/2`); in `f32` it rounds away (`fl32(cos 3.14159) = −1`).
#[test]
fn the_truncated_pi_clamp_costs_3_5e_minus_12_in_f64() {
    use asoftmax_spec::audit::heads::audit_formula;
    use asoftmax_spec::zoo::heads::{OPENSPHERE_PI, all_heads};
    let want = 1.0 - (PI - OPENSPHERE_PI).cos();
    let band: Vec<f64> = (0..=50).map(|i| -0.999 + 0.001 * f64::from(i)).collect();
    let band32: Vec<f32> = band.iter().map(|&c| c as f32).collect();
    for name in ["opensphere-arcface", "opensphere-sphereface-r-v1"] {
        let f = all_heads::<f64>()
            .into_iter()
            .find(|f| f.name() == name)
            .unwrap();
        let r = audit_formula(f.as_ref(), Logit::Target, &band);
        assert!(
            (r.max_abs - want).abs() <= 1e-3 * want + 1e-16,
            "{name}: {:e}",
            r.max_abs
        );
        assert!(
            r.misrounded == band.len(),
            "{name}: every input in the band"
        );
        let f = all_heads::<f32>()
            .into_iter()
            .find(|f| f.name() == name)
            .unwrap();
        let r = audit_formula(f.as_ref(), Logit::Target, &band32);
        assert!(r.max_abs <= 2f64.powi(-24), "{name} f32: {:e}", r.max_abs);
    }
}

/// The stateful heads' formulas (`zoo::heads::stateful`), each deviation derived from the
/// formula's clamp or branch.
#[test]
fn stateful_head_findings() {
    let rows = run_heads();
    let fl = |v: f64, fmt| round_f64_to(v, fmt);
    for fmt in [Format::F32, Format::F64] {
        let t = |name| row(&rows, name, fmt, Logit::Target);
        let n = |name| row(&rows, name, fmt, Logit::NonTarget);
        let unit = if fmt == Format::F32 {
            2f64.powi(-23)
        } else {
            2f64.powi(-52)
        };
        // CurricularFace's target is the th/mm ArcFace: the jump at c = fl(cos(π − m)).
        let r = t("curricularface");
        close(
            r.max_abs,
            0.5f64.cos() + 0.5 * 0.5f64.sin() - 1.0,
            1e-6,
            "curricularface",
        );
        assert_eq!(r.worst.as_ref().unwrap().c, fl((PI - 0.5).cos(), fmt));
        // Its mask compares with cos(θ_y + m) rounded: at rounding level, or the jump
        // c·(t + c) − c at an input next to the boundary (c_y = 3/4, t = 3/8).
        let r = n("curricularface");
        let boundary = (0.75f64.acos() + 0.5).cos();
        if r.max_abs > 16.0 * unit {
            let w = r.worst.as_ref().unwrap();
            assert!((w.c - boundary).abs() < 8.0 * unit, "{r:?}");
            close(r.max_abs, (w.c * (0.375 + w.c - 1.0)).abs(), 1e-3, "mask");
        }
        // AdaFace: the cosine clamp ±(1 − 1e−3) freezes θ at δ from 0 and π. With ŝ > 0
        // (norm 30) the angle moves down by |a| = 0.4ŝ: at c = −1 the definition has
        // cos(π − |a|), the formula cos(π − δ − |a|). With ŝ < 0 (norm 10) the same at c = 1.
        let delta = fl(1.0 - 1e-3, fmt).acos();
        let s_hat: f64 = 0.333 * 10.0 / 10.001;
        let a = 0.4 * s_hat;
        let want = a.cos() - (delta + a).cos();
        let r = t("adaface");
        close(r.max_abs, want, 1e-3, "adaface at c = -1");
        assert_eq!(r.worst.as_ref().unwrap().c, -1.0);
        let r = t("adaface-low-norm");
        close(r.max_abs, want, 1e-3, "adaface-low-norm at c = 1");
        assert_eq!(r.worst.as_ref().unwrap().c, 1.0);
        // Every class passes through the clamp: non-target 1 − fl(1 − 1e−3) at c = ±1.
        for name in ["adaface", "adaface-low-norm", "adaface-norm-clip"] {
            close(n(name).max_abs, 1.0 - fl(1.0 - 1e-3, fmt), 1e-3, name);
        }
        // The norm clip: ‖x‖ = 150 → 100 = mean, so ŝ = 0 instead of 0.333·50/50.001; at
        // c = 1 the definition is 1 − 0.4(1 + ŝ), the formula cos δ − 0.4: 0.4ŝ − (1 − cos δ).
        let s_clip = 0.333 * 50.0 / 50.001;
        close(
            t("adaface-norm-clip").max_abs,
            0.4 * s_clip - (1.0 - delta.cos()),
            1e-3,
            "adaface-norm-clip",
        );
        // MagFace's easy margin at a = 60 (m = 0.625): no clamp, the threshold c > 0 exact;
        // within the head policy's angular bound 16 + C (the √(1 − c²) cancellation).
        let bound = if fmt == Format::F32 {
            16.0 + 7.0
        } else {
            16.0 + 1024.0
        };
        assert!(
            t("magface-easy").max_abs <= bound * unit,
            "{:e}",
            t("magface-easy").max_abs
        );
        assert_eq!(n("magface-easy").max_abs, 0.0);
        // The linear fallback at a = 150 → u_a (m = 0.8): rounding level, or the jump
        // cos m + m·sin m − 1 at an input between the float and the exact threshold.
        let r = t("magface-linear");
        if r.max_abs > bound * unit {
            close(
                r.max_abs,
                0.8f64.cos() + 0.8 * 0.8f64.sin() - 1.0,
                1e-5,
                "magface-linear",
            );
            let th = (PI - 0.8).cos();
            assert!((r.worst.as_ref().unwrap().c - th).abs() < 8.0 * unit);
        }
    }
}

/// CurricularFace's float update of `t` against the oracle's exact one: a few roundings.
#[test]
fn curricularface_t_update_is_at_rounding_level() {
    use asoftmax_spec::head::family::curricular_next_t;
    use asoftmax_spec::zoo::heads::CurricularFace;
    use rug::Rational;
    let cs = [0.75f32, -0.25, 0.5, 0.125, 0.9];
    let got = CurricularFace::next_t(0.375f32, &cs);
    let exact: Vec<Rational> = cs.iter().map(|&c| Rational::from_f32(c).unwrap()).collect();
    let want = curricular_next_t(&Rational::from((3, 8)), &exact).unwrap();
    let err = (Rational::from_f32(got).unwrap() - want).abs().to_f64();
    assert!(err <= 4.0 * 2f64.powi(-24), "{err:e}");
    assert!(
        err > 0.0,
        "0.01 and 0.99 are not floats: some rounding shows"
    );
}
