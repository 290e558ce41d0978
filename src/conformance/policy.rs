//! The precision policy: per op and format, how far from the exact value a
//! result may be, with the reason for each entry. Kept apart from the input
//! generators, and overridable by the user.
//!
//! A result passes when **either** its ulp error is at most `ulps`, **or** its
//! scaled error (in ulps of the op's natural scale, see [`ScalarOp::scale`]) is at
//! most `scaled_per_m2 · max(m, 1)²`. NaN, and ∞ where the exact value is finite,
//! always fail.

use super::metrics::{error_in_ulps_of, ulp_error};
use crate::arith::Format;
use rug::Rational;
use std::fmt;

/// The scalar ops of the conformance suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScalarOp {
    /// `T_m(c) = cos(mθ)`.
    CosM,
    /// `ψ(c)`.
    Psi,
    /// `dψ/dc`.
    DpsiDcos,
}

impl ScalarOp {
    /// All scalar ops, in report order.
    pub const ALL: [ScalarOp; 3] = [ScalarOp::CosM, ScalarOp::Psi, ScalarOp::DpsiDcos];

    /// The op's name (`"cos_m"`, `"psi"`, `"dpsi_dcos"`), as in the JSON interfaces.
    pub const fn name(self) -> &'static str {
        match self {
            ScalarOp::CosM => "cos_m",
            ScalarOp::Psi => "psi",
            ScalarOp::DpsiDcos => "dpsi_dcos",
        }
    }

    /// The natural scale of the op's result for margin `m`, against which
    /// absolute errors are measured: the magnitude the result is computed from.
    /// `cos_m`: 1 (`|T_m| ≤ 1`); `psi`: `max(1, |ψ|)` (ψ = ±T_m − 2k);
    /// `dpsi_dcos`: `m²` (`|T_m′| ≤ m²` on [−1, 1]).
    pub fn scale(self, m: u32, exact: &Rational) -> Rational {
        match self {
            ScalarOp::CosM => Rational::from(1),
            ScalarOp::Psi => {
                let a = Rational::from(exact.abs_ref());
                if a > 1 { a } else { Rational::from(1) }
            }
            ScalarOp::DpsiDcos => Rational::from(u64::from(m.max(1)).pow(2)),
        }
    }
}

impl fmt::Display for ScalarOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One tolerance entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound {
    /// Largest accepted ulp error (relative to the exact value).
    pub ulps: f64,
    /// Largest accepted scaled error, per `m²`.
    pub scaled_per_m2: f64,
    /// Why the entry is what it is.
    pub reason: &'static str,
}

impl Bound {
    /// `true` when an error pair is within this bound at margin `m`.
    pub fn accepts(&self, m: u32, ulp_err: f64, scaled_err: f64) -> bool {
        self.badness(m, ulp_err, scaled_err) <= 1.0
    }

    /// How far an error pair is from being rejected: the smaller of
    /// `ulp_err / ulps` and `scaled_err / (scaled_per_m2·m²)`; at most 1 means accepted.
    /// Reports rank cases by it, so the "worst" case is the one closest to (or
    /// furthest beyond) the tolerance, not merely the one with the most ulps
    /// (a result next to an exact zero has a huge ulp error and a tiny scaled one).
    pub fn badness(&self, m: u32, ulp_err: f64, scaled_err: f64) -> f64 {
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
        let m2 = f64::from(m.max(1)).powi(2);
        ratio(ulp_err, self.ulps).min(ratio(scaled_err, self.scaled_per_m2 * m2))
    }
}

/// The tolerance table: a [`Bound`] per (op, format).
#[derive(Clone, Debug)]
pub struct Policy {
    entries: Vec<((ScalarOp, Format), Bound)>,
}

/// Reason shared by the default entries.
const TEXTBOOK_REASON: &str = "the three-term recurrence evaluated in the format has an absolute error \
    of O(m²) ulps of the op's scale (errors propagate through U_{n−j} with |U_n| ≤ n+1); \
    measured ≤ 0.25·m² (f64, f32, f16 and bf16, m ≤ 16) on the generated inputs (tests/conformance.rs), \
    so 1·m² leaves a factor 4, while a wrong branch, sign or NaN is off by ≥ 2^20 scaled ulps";

impl Default for Policy {
    fn default() -> Self {
        let bound = Bound {
            ulps: 1.0,
            scaled_per_m2: 1.0,
            reason: TEXTBOOK_REASON,
        };
        let mut entries = Vec::new();
        for op in ScalarOp::ALL {
            for fmt in Format::EVERY {
                entries.push(((op, fmt), bound));
            }
        }
        Policy { entries }
    }
}

impl Policy {
    /// A strict policy: `ulps` ulps for every op, no scaled allowance (used for the
    /// crate's own fast kernels, whose target is 1 ulp).
    pub fn strict(ulps: f64) -> Policy {
        let mut p = Policy::default();
        for (_, b) in &mut p.entries {
            *b = Bound {
                ulps,
                scaled_per_m2: 0.0,
                reason: "strict: relative ulp error only",
            };
        }
        p
    }

    /// The entry for `(op, fmt)`.
    pub fn bound(&self, op: ScalarOp, fmt: Format) -> Bound {
        self.entries
            .iter()
            .find(|(k, _)| *k == (op, fmt))
            .map(|(_, b)| *b)
            .expect("every (op, format) has an entry")
    }

    /// Replaces the entry for `(op, fmt)` (builder style).
    pub fn with(mut self, op: ScalarOp, fmt: Format, bound: Bound) -> Policy {
        for (k, b) in &mut self.entries {
            if *k == (op, fmt) {
                *b = bound;
            }
        }
        self
    }

    /// The errors of `computed` against `exact` for `op` at margin `m`:
    /// `(ulp error, scaled error)`.
    pub fn errors(
        op: ScalarOp,
        fmt: Format,
        m: u32,
        computed: f64,
        exact: &Rational,
    ) -> (f64, f64) {
        (
            ulp_error(computed, exact, fmt),
            error_in_ulps_of(computed, exact, &op.scale(m, exact), fmt),
        )
    }

    /// The table as Markdown (op, format, ulps, scaled per m², reason).
    pub fn table(&self) -> String {
        let mut s = String::from(
            "| op | format | ulps | scaled / m² | reason |\n| --- | --- | --- | --- | --- |\n",
        );
        for ((op, fmt), b) in &self.entries {
            s.push_str(&format!(
                "| {op} | {} | {} | {} | {} |\n",
                fmt.name(),
                b.ulps,
                b.scaled_per_m2,
                b.reason.replace('|', "\\|")
            ));
        }
        s
    }
}
