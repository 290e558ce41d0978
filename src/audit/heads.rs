//! The margin family's audit: every published head formula of [`crate::zoo::heads`],
//! target and non-target logit, in `f32` and `f64`, against the oracle of its definition
//! ([`crate::head::family`]) on a sweep of θ plus the points where the formulas branch or
//! clamp: which deviates, by how much (ulps of the correctly rounded value, and absolute)
//! and where.

use crate::arith::{Format, hex};
use crate::conformance::metrics::ulp_error;
use crate::conformance::scalar_suite::fmt_err;
use crate::head::family::{Head, nontarget_logit, target_logit};
use crate::zoo::ZooFloat;
use crate::zoo::heads::{HeadFormula, OPENSPHERE_PI, all_heads};
use rug::Rational;
use std::fmt::Write as _;

/// Which logit a row is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logit {
    /// The target logit.
    Target,
    /// A non-target logit.
    NonTarget,
}

/// The worst input of a row: the cosine, the formula's value, the correctly rounded one.
#[derive(Clone, Debug, PartialEq)]
pub struct Worst {
    /// The input cosine (exactly representable in the row's format).
    pub c: f64,
    /// What the formula computes.
    pub got: f64,
    /// The oracle's value, correctly rounded to the format.
    pub want: f64,
}

/// One row of the head audit: a formula's logit in a format.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadRow {
    /// The formula's name.
    pub formula: &'static str,
    /// The format.
    pub format: Format,
    /// Which logit.
    pub logit: Logit,
    /// Inputs checked.
    pub cases: usize,
    /// Inputs where the formula's value is not the correctly rounded one.
    pub misrounded: usize,
    /// The largest error in ulps of the exact value.
    pub max_ulps: f64,
    /// The largest absolute error (∞ for NaN).
    pub max_abs: f64,
    /// The input with the largest absolute error.
    pub worst: Option<Worst>,
}

/// The inputs in format `T`: 721 angles evenly spaced on [0, π] (as `fl(cos θ)`), the ends
/// and their neighbours, and a few floats on each side of every point where a published
/// formula branches or clamps (`±(1 − 1e−5)`, `±(1 − 1e−7)`, `cos(π − 0.5)`, `−1/2`,
/// `cos(3.14159 − 0.5)`, `cos(3.14159/1.5)`, 0); a formula's own marks are added by
/// [`formula_inputs`].
pub fn head_inputs<T: ZooFloat>() -> Vec<T> {
    let pi = std::f64::consts::PI;
    let v: Vec<f64> = (0..=720)
        .map(|i| (pi * f64::from(i) / 720.0).cos())
        .collect();
    let marks = [
        1.0,
        -1.0,
        0.0,
        1.0 - 1e-5,
        -1.0 + 1e-5,
        1.0 - 1e-7,
        -1.0 + 1e-7,
        (pi - 0.5).cos(),
        -0.5,
        (OPENSPHERE_PI - 0.5).cos(),
        (OPENSPHERE_PI / 1.5).cos(),
        (1e-5f64 / 1.5).cos(),
    ];
    with_marks(v.into_iter().map(T::from_f64).collect(), &marks)
}

/// `inputs` plus each mark rounded to `T` with its 3 float neighbours on each side,
/// within `[−1, 1]`, without repeats.
fn with_marks<T: ZooFloat>(inputs: Vec<T>, marks: &[f64]) -> Vec<T> {
    let fmt = T::FORMAT;
    let mut v: Vec<f64> = inputs.iter().map(|c| c.to_f64()).collect();
    for &mark in marks {
        let mut up = T::from_f64(mark).to_f64();
        let mut down = up;
        for _ in 0..4 {
            v.extend([up, down]);
            up = fmt.next_up(up);
            down = -fmt.next_up(-down);
        }
    }
    let mut out: Vec<T> = Vec::new();
    for x in v {
        let t = T::from_f64(x.clamp(-1.0, 1.0));
        if !out.iter().any(|o| o.to_f64() == t.to_f64()) {
            out.push(t);
        }
    }
    out
}

/// The inputs of formula `f`'s rows: [`head_inputs`] plus the formula's own marks
/// ([`HeadFormula::marks`]) with their neighbours.
pub fn formula_inputs<T: ZooFloat>(f: &dyn HeadFormula<T>) -> Vec<T> {
    with_marks(head_inputs::<T>(), &f.marks())
}

/// The oracle's value of `logit` of `head` at `c`, as a rational (the midpoint of an
/// enclosure far narrower than any format's ulp) and correctly rounded to `fmt`.
fn oracle(head: &Head, logit: Logit, c: &Rational, c_y: &Rational, fmt: Format) -> (Rational, f64) {
    let v = match logit {
        Logit::Target => target_logit(head, c, 128),
        Logit::NonTarget => nontarget_logit(head, c, c_y, 128),
    }
    .unwrap_or_else(|e| panic!("the oracle decides every audited input: {e}"));
    let mid = v.mid().to_rational().expect("finite");
    (mid, v.rounded(fmt))
}

/// One formula's row for `logit` in format `T` over `inputs` (a non-target logit in a
/// sample whose target cosine is [`HeadFormula::audit_target_cosine`], or `c` itself).
pub fn audit_formula<T: ZooFloat>(f: &dyn HeadFormula<T>, logit: Logit, inputs: &[T]) -> HeadRow {
    let fmt = T::FORMAT;
    let head = f.head();
    let mut row = HeadRow {
        formula: f.name(),
        format: fmt,
        logit,
        cases: inputs.len(),
        misrounded: 0,
        max_ulps: 0.0,
        max_abs: 0.0,
        worst: None,
    };
    for &c in inputs {
        let c_y = f.audit_target_cosine().map_or(c, T::from_f64);
        let exact = |v: T| Rational::from_f64(v.to_f64()).expect("finite");
        let (mid, want) = oracle(&head, logit, &exact(c), &exact(c_y), fmt);
        let got = match logit {
            Logit::Target => f.target(c),
            Logit::NonTarget => f.nontarget_at(c, c_y),
        }
        .to_f64();
        if got.to_bits() != want.to_bits() {
            row.misrounded += 1;
        }
        row.max_ulps = row.max_ulps.max(ulp_error(got, &mid, fmt));
        let abs = match Rational::from_f64(got) {
            Some(g) => (g - &mid).abs().to_f64(),
            None => f64::INFINITY,
        };
        if abs > row.max_abs || (row.worst.is_none() && abs == row.max_abs) {
            row.max_abs = abs;
            row.worst = Some(Worst {
                c: c.to_f64(),
                got,
                want,
            });
        }
    }
    row
}

/// Every head formula's two rows in format `T`.
fn rows_in<T: ZooFloat>() -> Vec<HeadRow> {
    let mut out = Vec::new();
    for f in all_heads::<T>() {
        let inputs = formula_inputs(f.as_ref());
        for logit in [Logit::Target, Logit::NonTarget] {
            out.push(audit_formula(f.as_ref(), logit, &inputs));
        }
    }
    out
}

/// The head audit in `f32` and `f64`.
pub fn run_heads() -> Vec<HeadRow> {
    let mut rows = rows_in::<f32>();
    rows.extend(rows_in::<f64>());
    rows
}

/// The head audit as a Markdown table.
pub fn head_table(rows: &[HeadRow]) -> String {
    let mut s = String::from(
        "| formula | format | logit | cases | misrounded | max ulps | max abs error | worst c | computed | correctly rounded |\n\
         | --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |\n",
    );
    for r in rows {
        let (c, got, want) = r.worst.as_ref().map_or_else(
            || (String::new(), String::new(), String::new()),
            |w| {
                (
                    hex(w.c, r.format),
                    hex(w.got, r.format),
                    hex(w.want, r.format),
                )
            },
        );
        let logit = match r.logit {
            Logit::Target => "target",
            Logit::NonTarget => "non-target",
        };
        let _ = writeln!(
            s,
            "| {} | {} | {logit} | {} | {} | {} | {:.2e} | {c} | {got} | {want} |",
            r.formula,
            r.format.name(),
            r.cases,
            r.misrounded,
            fmt_err(r.max_ulps),
            r.max_abs,
        );
    }
    s
}
