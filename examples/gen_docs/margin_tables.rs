//! The margin results as Markdown for the book: the paper's Table 1, a worked example
//! of its decision rules, the angular margins at `Θ = π/2` and both `m_min` results.
//! Every number is computed by `asoftmax_spec::margin` and printed with the decimals
//! its enclosure determines. (Shared with `tests/margin.rs`, which snapshots them.)
//!
//! These tables print negative decimals with an ASCII `-`, as they always have.

use crate::numbers::{fixed_with, rational_text};
use asoftmax_spec::Error;
use asoftmax_spec::arith::{Approx, ziv};
use asoftmax_spec::margin::{self, DecisionRule, Sample, Setting, WeightAngle, margin_coefficient};
use rug::Rational;

/// [`fixed_with`] for an oracle returning an [`Approx`] at a requested precision, with
/// an ASCII minus.
fn fixed_ascii<F>(digits: usize, eval: F) -> Result<String, Error>
where
    F: Fn(u32) -> Result<Approx, Error>,
{
    fixed_with("-", digits, |wp| Ok(eval(wp)?.enclosure().clone()))
}

/// The precision a [`Decision`](margin::Decision) is asked at: one that normally determines `digits`
/// decimals of an O(1) value (the decision itself does not depend on it).
fn classify_prec(digits: usize) -> u32 {
    ((digits as f64 * std::f64::consts::LOG2_10).ceil() as u32 + 32).max(ziv::MIN_PREC)
}

/// The paper's Table 1 as a Markdown table: loss and binary decision boundary.
pub fn table1() -> String {
    let mut s = String::from("| loss | decision boundary |\n| --- | --- |\n");
    for rule in [
        DecisionRule::Softmax,
        DecisionRule::ModifiedSoftmax,
        DecisionRule::ASoftmax(Rational::from(4)),
    ] {
        s.push_str(&format!("| {} | {} |\n", rule.name(), rule.formula()));
    }
    s
}

/// A worked Table-1 example: for each sample, each rule's class-1 and class-2
/// boundary values (fixed `digits` decimals) and its [`Decision`](margin::Decision), as Markdown.
///
/// # Errors
/// As [`DecisionRule::boundary_values`]; [`Error::PrecisionCap`] if a printed decimal
/// cannot be determined.
pub fn decision_table(
    rules: &[DecisionRule],
    samples: &[(String, Sample)],
    digits: usize,
) -> Result<String, Error> {
    let mut s = String::from("| sample | loss | class-1 value | class-2 value | decision |\n");
    s.push_str("| --- | --- | --- | --- | --- |\n");
    for (label, sample) in samples {
        for rule in rules {
            let rule_name = match rule {
                DecisionRule::ASoftmax(m) => format!("A-Softmax m={}", rational_text(m)),
                r => r.name().to_string(),
            };
            if *rule == DecisionRule::Softmax && matches!(sample, Sample::Angles { .. }) {
                s.push_str(&format!("| {label} | {rule_name} | n/a | n/a | n/a |\n"));
                continue;
            }
            let v1 = fixed_ascii(digits, |p| Ok(rule.boundary_values(sample, p)?.class1))?;
            let v2 = fixed_ascii(digits, |p| Ok(rule.boundary_values(sample, p)?.class2))?;
            let d = rule.classify(sample, classify_prec(digits))?;
            s.push_str(&format!(
                "| {label} | {rule_name} | {v1} | {v2} | {} |\n",
                d.name()
            ));
        }
    }
    Ok(s)
}

/// The margin table for the given margins `ms` at `Θ = theta_over_pi · π`, as Markdown
/// with `digits` fixed decimals:
///
/// | column | meaning |
/// | --- | --- |
/// | `m` | the margin |
/// | `(m−1)/(m+1)` | exact margin coefficient, and its decimal |
/// | `θ_1 solved` | class-1 boundary, root of `ψ(θ) = cos(Θ − θ)` |
/// | `Θ/(m+1)` | its closed form |
/// | `margin solved` | `Θ − 2·θ_1` from the root |
/// | `margin closed` | `(m−1)/(m+1)·Θ` |
///
/// Every decimal is determined by its enclosure (both ends round to the printed text).
///
/// # Errors
/// [`Error::Domain`] for an `m` or `Θ` out of range (`1 ≤ m ≤ 65536`, `0 < Θ/π ≤ 1`).
pub fn margin_table(
    ms: &[Rational],
    theta_over_pi: &Rational,
    digits: usize,
) -> Result<String, Error> {
    let big_theta = WeightAngle::PiTimes(theta_over_pi.clone());
    let mut s = format!(
        "Θ = {}·π rad; angles in radians, {digits} decimals\n\n",
        rational_text(theta_over_pi)
    );
    s.push_str(
        "| m | (m−1)/(m+1) | decimal | θ_1 solved | Θ/(m+1) | margin solved | margin closed |\n",
    );
    s.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
    for m in ms {
        let coeff = margin_coefficient(m);
        let coeff_dec = fixed_ascii(digits, |p| {
            ziv::approx_rational("margin coefficient", &coeff, p)
        })?;
        let t = &big_theta;
        let root = fixed_ascii(digits, |p| margin::class_boundary_solved(m, t.clone(), p))?;
        let root_closed = fixed_ascii(digits, |p| margin::class_boundary_closed(m, t.clone(), p))?;
        let solved = fixed_ascii(digits, |p| margin::angular_margin_solved(m, t.clone(), p))?;
        let closed = fixed_ascii(digits, |p| margin::angular_margin_closed(m, t.clone(), p))?;
        s.push_str(&format!(
            "| {} | {} | {coeff_dec} | {root} | {root_closed} | {solved} | {closed} |\n",
            rational_text(m),
            rational_text(&coeff)
        ));
    }
    Ok(s)
}

/// The paper's margins `m = 1, …, 8` at `Θ = π/2` (orthogonal class weights), 25 decimals:
/// [`margin_table`] with those arguments.
///
/// # Errors
/// Only [`Error::PrecisionCap`] (not expected).
pub fn paper_margin_table() -> Result<String, Error> {
    let ms: Vec<Rational> = (1..=8).map(Rational::from).collect();
    margin_table(&ms, &Rational::from((1, 2)), 25)
}

/// Both `m_min` results, solved and closed form, with `digits` fixed decimals, as Markdown.
///
/// # Errors
/// Only [`Error::PrecisionCap`] (not expected).
pub fn m_min_table(digits: usize) -> Result<String, Error> {
    let mut s = String::from("| setting | inequality | m_min solved | closed form | value |\n");
    s.push_str("| --- | --- | --- | --- | --- |\n");
    for setting in [Setting::Binary, Setting::Multiclass] {
        let (ineq, closed_text) = match setting {
            Setting::Binary => ("1/(m−1) + 1/(m+1) ≤ (m−1)/(m+1)", "2 + √3"),
            Setting::Multiclass => ("2/(m+1) ≤ (m−1)/(m+1)", "3"),
        };
        let solved = fixed_ascii(digits, |p| margin::m_min(setting, p))?;
        let closed = fixed_ascii(digits, |p| margin::m_min_closed(setting, p))?;
        s.push_str(&format!(
            "| {} | {ineq} | {solved} | {closed_text} | {closed} |\n",
            setting.name()
        ));
    }
    Ok(s)
}
