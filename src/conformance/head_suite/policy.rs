//! The head tolerance table: per head kind, how far a float logit may be from the exact
//! one, with the reason, and the jump allowance.
//!
//! A logit passes when its ulp error is at most `ulps`, **or** its error in ulps of its
//! scale `max(1, |exact|)` is at most `scaled` (the logits are cosines, shifted by a
//! margin, so an absolute error is what a float evaluation through `acos`/`cos` leaves).
//! NaN, and ∞ where the exact value is finite, always fail. Within `jump_ulps` floats of
//! a [`Jump`](super::Jump), the value of either side passes.

use crate::arith::Format;
use crate::head::Kind;

/// One tolerance entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HeadBound {
    /// Largest accepted ulp error (relative to the exact value).
    pub ulps: f64,
    /// Largest accepted error in ulps of `max(1, |exact|)`.
    pub scaled: f64,
    /// Why the entry is what it is.
    pub reason: &'static str,
}

impl HeadBound {
    /// How far an error pair is from being rejected: the smaller of `ulp_err / ulps` and
    /// `scaled_err / scaled`; at most 1 means accepted (NaN errors: ∞).
    pub fn badness(&self, ulp_err: f64, scaled_err: f64) -> f64 {
        let ratio = |e: f64, allowed: f64| {
            if e.is_nan() {
                f64::INFINITY
            } else if allowed > 0.0 {
                e / allowed
            } else if e == 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        };
        ratio(ulp_err, self.ulps).min(ratio(scaled_err, self.scaled))
    }
}

/// The tolerance table: a [`HeadBound`] per head kind and format, and the jump allowance.
#[derive(Clone, Debug)]
pub struct HeadPolicy {
    entries: Vec<((Kind, Format), HeadBound)>,
    /// Floats on each side of a [`Jump`](super::Jump) where either side's value passes.
    pub jump_ulps: u32,
    /// Why `jump_ulps` is what it is.
    pub jump_reason: &'static str,
}

/// The heads computed through `acos`, `cos` (or `√(1 − c²)`) and a few products.
const ANGULAR: &str = "16 + C(format): a float evaluation through acos and cos rounds each of a handful \
    of steps, each within an ulp of the logit's scale |t| ≤ 1 + m (θ ≤ π carries an absolute error of a \
    few ulps, cos passes it on with |sin| ≤ 1): 16 leaves a factor 4 over the ≤ 4 scaled ulps the \
    crate's ports measure with acos (tests/head_suite.rs). The published form c·cos m − √(1 − c²)·sin m \
    (insightface's th/mm ArcFace, CurricularFace, MagFace) adds the cancellation in 1 − c²: fl(c²) is off \
    by at most h = u/2 and 1 − c² ≈ 2δ (c = 1 − δ), so sin θ is off by min(δ², h)/(2√(2δ)), at most \
    h^(3/4)/(2√2) at δ = √h, i.e. C = h^(−1/4)/(8√2) scaled ulps (ulp(1) = 4h): 7 in f32, 1024 in f64 \
    (measured 3.8 and 300); a margin in degrees, a missing fallback or a clamp at 1 − 1e-5 is off by \
    ≥ 10⁻⁵ absolute, 168 f32 and 4.5·10¹⁰ f64 scaled ulps";
/// SphereFace's ψ with a real m.
const PSI: &str = "ψ(θ) = (−1)^k cos(mθ) − 2k with a real m through acos: mθ carries m times the \
    angle's absolute error of a few ulps and cos passes it on with |sin| ≤ 1, in ulps of max(1, |ψ|) \
    (|ψ| ≤ 2m + 1): 16 as for the angular heads, doubled for m ≤ 4 (the published m = 1.5 and 4; \
    measured ≤ 3.8 in f32 and f64, tests/head_suite.rs); opensphere's clamp at 1 − 1e-5 costs ≥ 189 f32 scaled ulps (SphereFace-R v1 at c = 1)";
/// Polynomial heads.
const POLY: &str = "SphereFace2's g(c) = 2((c + 1)/2)^t − 1 in float: t + 2 roundings of values ≤ 2 \
    (the C margin), or g after an angular margin (A, M: the angular entry); 16";

/// `C(format)` of the [`ANGULAR`] entries: `h^(−1/4)/(8√2) = 2^((p+1)/4 − 7/2)` with
/// `h = 2^−(p+1)` (`p` the format's precision), rounded up.
fn sqrt_cancellation(fmt: Format) -> f64 {
    let p = f64::from(fmt.precision());
    2f64.powf((p + 1.0) / 4.0 - 3.5).ceil()
}

impl Default for HeadPolicy {
    fn default() -> Self {
        let b = |scaled, reason| HeadBound {
            ulps: 1.0,
            scaled,
            reason,
        };
        let mut entries = Vec::new();
        for fmt in Format::EVERY {
            let angular = b(16.0 + sqrt_cancellation(fmt), ANGULAR);
            for kind in [
                Kind::Combined,
                Kind::ArcFace,
                Kind::CosFace,
                Kind::CurricularFace,
                Kind::AdaFace,
                Kind::MagFace,
            ] {
                entries.push(((kind, fmt), angular));
            }
            entries.push(((Kind::SphereFace, fmt), b(32.0, PSI)));
            entries.push(((Kind::SphereFaceR, fmt), b(32.0, PSI)));
            entries.push(((Kind::SphereFace2, fmt), b(16.0, POLY)));
        }
        HeadPolicy {
            entries,
            jump_ulps: 4,
            jump_reason: "the threshold of a jump is irrational (cos(π − m), cos(θ_y + m)): a float \
                implementation computes it in its format (within an ulp or two: the published th, \
                CurricularFace's cos_theta_m) and compares; within 4 floats of it either side's value \
                is the definition's value at a cosine within that rounding",
        }
    }
}

impl HeadPolicy {
    /// The entry for `(kind, fmt)`.
    pub fn bound(&self, kind: Kind, fmt: Format) -> HeadBound {
        self.entries
            .iter()
            .find(|(k, _)| *k == (kind, fmt))
            .map(|(_, b)| *b)
            .expect("every (head kind, format) has an entry")
    }

    /// Replaces the entry for `(kind, fmt)` (builder style).
    pub fn with(mut self, kind: Kind, fmt: Format, bound: HeadBound) -> HeadPolicy {
        for (k, b) in &mut self.entries {
            if *k == (kind, fmt) {
                *b = bound;
            }
        }
        self
    }

    /// Sets the jump allowance (builder style); 0 accepts only the definition's side.
    pub fn with_jump_ulps(mut self, jump_ulps: u32) -> HeadPolicy {
        self.jump_ulps = jump_ulps;
        self
    }

    /// The table as Markdown (head, format, ulps, scaled, reason; then the jump allowance).
    pub fn table(&self) -> String {
        let mut s = String::from(
            "| head | format | ulps | scaled | reason |\n| --- | --- | --- | --- | --- |\n",
        );
        for ((k, fmt), b) in &self.entries {
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                crate::names::Name::name(*k),
                fmt.name(),
                b.ulps,
                b.scaled,
                b.reason.replace('|', "\\|")
            ));
        }
        s.push_str(&format!(
            "\nJump allowance: {} floats ({}).\n",
            self.jump_ulps, self.jump_reason
        ));
        s
    }
}
