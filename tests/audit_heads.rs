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
