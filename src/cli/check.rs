//! `asoftmax-spec check VECTORS RESULTS`: judge an implementation's results on a
//! vectors file with the Rust suite's metrics and tolerance tables.
//!
//! RESULTS is JSON Lines written by the implementation under test:
//! `{"id":…, "value":…}` and, for loss vectors, `"grad_x"`/`"grad_w"` nested arrays.
//! Numbers may be JSON numbers or strings (decimal, hex float, `"nan"`, `"inf"`,
//! `"-inf"`); they are rounded to the vector's `dtype`. Missing ids, duplicate ids,
//! unparsable lines and ids that are not in VECTORS are failures, reported with
//! their line numbers. Neither file is ever written.

use super::json::kind;
use super::vectors::VECTORS_VERSION;
use crate::arith::{Format, exact, hex_f32, hex_f64, ziv::round_rational};
use crate::conformance::loss_suite::{Expected, LossOp, LossPolicy, score_batch};
use crate::conformance::suite::{describe_exact, fmt_err};
use crate::conformance::{Batch, Policy, ScalarOp};
use crate::loss::{Backward, Variant};
use rug::Rational;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// Tolerance overrides from the command line.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// Replaces every scalar op's `ulps`.
    pub max_ulps: Option<f64>,
    /// Replaces every scalar op's `scaled_per_m2`.
    pub max_scaled: Option<f64>,
    /// Replaces every loss op's allowance per `m²·d` (the gradients keep their
    /// factor `1 + β·S/grad_logit_unit`, see [`LossPolicy`]).
    pub loss_tol: Option<f64>,
}

/// A parsed vector.
struct Vector {
    line: usize,
    op: String,
    dtype: Format,
    m: u32,
    input: String,
    value: Rational,
    loss: Option<(Batch<f64>, Vec<Rational>, Vec<Rational>)>,
}

/// One problem that is not a tolerance failure (malformed, missing, extra lines).
#[derive(Clone, Debug)]
pub struct Problem {
    /// `"vectors"` or `"results"`.
    pub file: &'static str,
    /// 1-based line number (0 for "no line": a missing result).
    pub line: usize,
    /// The id concerned, if known.
    pub id: Option<String>,
    /// What is wrong.
    pub what: String,
}

/// Scores of one (op, dtype) group.
#[derive(Clone, Debug, Default)]
pub struct Group {
    cases: usize,
    failures: usize,
    max_ulps: f64,
    max_scaled: f64,
    worst: Option<(f64, String)>,
}

/// The outcome of a check.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    groups: BTreeMap<String, Group>,
    /// Malformed, missing and extra lines.
    pub problems: Vec<Problem>,
}

impl CheckReport {
    /// `true` when every vector has exactly one result, within tolerance, and no line is malformed.
    pub fn passed(&self) -> bool {
        self.problems.is_empty() && self.groups.values().all(|g| g.failures == 0)
    }

    /// The human-readable report.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for (name, g) in &self.groups {
            let _ = writeln!(
                s,
                "{name}: {} cases, {} failures, max {} ulps, max {} scaled ulps",
                g.cases,
                g.failures,
                fmt_err(g.max_ulps),
                fmt_err(g.max_scaled)
            );
            if let Some((_, w)) = &g.worst {
                let _ = writeln!(s, "  worst: {w}");
            }
        }
        for p in &self.problems {
            let _ = writeln!(
                s,
                "{} line {}{}: {}",
                p.file,
                p.line,
                p.id.as_deref()
                    .map(|i| format!(" (id {i})"))
                    .unwrap_or_default(),
                p.what
            );
        }
        let _ = writeln!(
            s,
            "{}",
            if self.passed() {
                "check: PASS"
            } else {
                "check: FAIL"
            }
        );
        s
    }

    /// The machine-readable report.
    pub fn json(&self) -> Value {
        json!({
            "passed": self.passed(),
            "ops": self.groups.iter().map(|(name, g)| json!({
                "group": name,
                "cases": g.cases,
                "failures": g.failures,
                "max_ulps": g.max_ulps,
                "max_scaled": g.max_scaled,
                "worst": g.worst.as_ref().map(|w| w.1.clone()),
            })).collect::<Vec<_>>(),
            "problems": self.problems.iter().map(|p| json!({
                "file": p.file, "line": p.line, "id": p.id, "problem": p.what,
            })).collect::<Vec<_>>(),
        })
    }
}

fn exact_text(v: &Value) -> Result<Rational, String> {
    match v {
        Value::String(s) => exact::parse_exact(s).map_err(|e| e.to_string()),
        other => Err(format!("expected a decimal string, got {}", kind(other))),
    }
}

/// A result number rounded to `fmt`: JSON numbers and decimal/hex strings, or
/// `"nan"`, `"inf"`, `"-inf"`.
fn result_number(v: &Value, fmt: Format) -> Result<f64, String> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        other => return Err(format!("expected a number, got {}", kind(other))),
    };
    match text.to_ascii_lowercase().as_str() {
        "nan" | "-nan" | "+nan" => return Ok(f64::NAN),
        "inf" | "+inf" | "infinity" | "+infinity" => return Ok(f64::INFINITY),
        "-inf" | "-infinity" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    let r = exact::parse_exact(&text).map_err(|e| e.to_string())?;
    Ok(round_rational(&r, fmt))
}

fn matrix_numbers<T>(
    v: Option<&Value>,
    what: &str,
    f: impl Fn(&Value) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    let rows = v
        .and_then(Value::as_array)
        .ok_or_else(|| format!("missing or malformed \"{what}\" (expected an array of rows)"))?;
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let row = row
            .as_array()
            .ok_or_else(|| format!("\"{what}\"[{i}] is not an array"))?;
        for (j, x) in row.iter().enumerate() {
            out.push(f(x).map_err(|e| format!("\"{what}\"[{i}][{j}]: {e}"))?);
        }
    }
    Ok(out)
}

fn parse_vector(obj: &Map<String, Value>, line: usize) -> Result<Vector, String> {
    let version = obj.get("vectors_version").and_then(Value::as_u64);
    if version != Some(u64::from(VECTORS_VERSION)) {
        return Err(format!(
            "incompatible vectors file: vectors_version is {}, this asoftmax-spec reads version {VECTORS_VERSION} \
             (regenerate the vectors with this version's `asoftmax-spec vectors`)",
            obj.get("vectors_version")
                .map_or("missing".to_string(), Value::to_string)
        ));
    }
    let op = obj
        .get("op")
        .and_then(Value::as_str)
        .ok_or("missing \"op\"")?
        .to_string();
    let dtype = match obj.get("dtype").and_then(Value::as_str) {
        Some("f32") => Format::F32,
        Some("f64") => Format::F64,
        _ => return Err("missing or unknown \"dtype\" (expected \"f32\" or \"f64\")".into()),
    };
    let m = obj
        .get("m")
        .and_then(Value::as_u64)
        .and_then(|m| u32::try_from(m).ok())
        .ok_or("missing or non-integer \"m\"")?;
    let value = exact_text(obj.get("value").ok_or("missing \"value\"")?)?;
    let (input, loss) = if op == "loss" {
        let q = |v: &Value| exact_text(v).map(|r| r.to_f64());
        let x = matrix_numbers(obj.get("x"), "x", q)?;
        let w = matrix_numbers(obj.get("w"), "w", q)?;
        let dim = obj
            .get("x")
            .and_then(|v| v.get(0))
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let y: Vec<usize> = obj
            .get("y")
            .and_then(Value::as_array)
            .ok_or("missing \"y\"")?
            .iter()
            .map(|v| v.as_u64().map(|u| u as usize).ok_or("non-integer label"))
            .collect::<Result<_, _>>()?;
        // The scores slice X and W into rows of d: the shapes must fit together.
        let row_lens = |k: &str| -> Vec<usize> {
            obj.get(k)
                .and_then(Value::as_array)
                .map_or_else(Vec::new, |rows| {
                    rows.iter()
                        .map(|r| r.as_array().map_or(0, Vec::len))
                        .collect()
                })
        };
        let (x_rows, w_rows) = (row_lens("x"), row_lens("w"));
        if dim == 0
            || x_rows.len() != y.len()
            || w_rows.is_empty()
            || x_rows.iter().chain(&w_rows).any(|&l| l != dim)
            || y.iter().any(|&l| l >= w_rows.len())
        {
            return Err(format!(
                "malformed loss vector: x is {} rows of {x_rows:?} entries, w is {} rows of \
                 {w_rows:?}, y has {} labels {y:?} (expected N×d, C×d with d ≥ 1, and N labels below C)",
                x_rows.len(),
                w_rows.len(),
                y.len()
            ));
        }
        let num = |k: &str| obj.get(k).map(q).transpose().map(|v| v.unwrap_or(0.0));
        let batch = Batch {
            n: y.len(),
            classes: w.len().checked_div(dim).unwrap_or(0),
            dim,
            x,
            w,
            y,
            m,
            lambda: num("lambda")?,
            scale: num("scale")?,
            variant: match obj.get("variant").and_then(Value::as_str) {
                Some("l_softmax") => Variant::LSoftmax,
                _ => Variant::ASoftmax,
            },
            backward: match obj.get("backward").and_then(Value::as_str) {
                Some("detached_margin") => Backward::DetachedMargin,
                _ => Backward::Full,
            },
        };
        let grad = |k: &str| {
            matrix_numbers(obj.get(k), k, |g| {
                exact_text(g.get("value").unwrap_or(&Value::Null))
            })
        };
        let desc = format!(
            "loss N={} C={} d={} m={m} ({})",
            batch.n,
            batch.classes,
            batch.dim,
            obj.get("origin").and_then(Value::as_str).unwrap_or("")
        );
        (desc, Some((batch, grad("grad_x")?, grad("grad_w")?)))
    } else {
        let c = obj
            .get("cos")
            .and_then(Value::as_str)
            .ok_or("missing \"cos\"")?;
        let origin = obj.get("origin").and_then(Value::as_str).unwrap_or("");
        (format!("m = {m}, cos = {c} [{origin}]"), None)
    };
    Ok(Vector {
        line,
        op,
        dtype,
        m,
        input,
        value,
        loss,
    })
}

fn fmt_hex(v: f64, fmt: Format) -> String {
    match fmt {
        Format::F64 => hex_f64(v),
        Format::F32 => hex_f32(v as f32),
    }
}

/// Checks `results` against `vectors` (both the text of JSON Lines files).
pub fn check(vectors: &str, results: &str, ov: &Overrides) -> CheckReport {
    let mut report = CheckReport::default();
    let mut vecs: HashMap<String, Vector> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for (i, text) in vectors.lines().enumerate() {
        let line = i + 1;
        if text.trim().is_empty() {
            continue;
        }
        let obj = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => o,
            Ok(other) => {
                report.problems.push(Problem {
                    file: "vectors",
                    line,
                    id: None,
                    what: format!("expected a JSON object, got {}", kind(&other)),
                });
                continue;
            }
            Err(e) => {
                report.problems.push(Problem {
                    file: "vectors",
                    line,
                    id: None,
                    what: format!("invalid JSON: {e}"),
                });
                continue;
            }
        };
        let id = obj
            .get("id")
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
        let Some(id) = id else {
            report.problems.push(Problem {
                file: "vectors",
                line,
                id: None,
                what: "missing \"id\"".into(),
            });
            continue;
        };
        match parse_vector(&obj, line) {
            Ok(v) => {
                if let Some(prev) = vecs.get(&id) {
                    report.problems.push(Problem {
                        file: "vectors",
                        line,
                        id: Some(id.clone()),
                        what: format!("duplicate id (first on line {})", prev.line),
                    });
                } else {
                    order.push(id.clone());
                    vecs.insert(id, v);
                }
            }
            Err(what) => report.problems.push(Problem {
                file: "vectors",
                line,
                id: Some(id),
                what,
            }),
        }
    }

    let mut policy = Policy::default();
    for op in ScalarOp::ALL {
        for fmt in [Format::F32, Format::F64] {
            let mut b = policy.bound(op, fmt);
            if let Some(u) = ov.max_ulps {
                b.ulps = u;
            }
            if let Some(s) = ov.max_scaled {
                b.scaled_per_m2 = s;
            }
            policy = policy.with(op, fmt, b);
        }
    }
    let mut loss_policy = LossPolicy::default();
    if let Some(t) = ov.loss_tol {
        for e in &mut loss_policy.entries {
            e.2 = t;
        }
    }

    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, text) in results.lines().enumerate() {
        let line = i + 1;
        if text.trim().is_empty() {
            continue;
        }
        let problem = |id: Option<String>, what: String| Problem {
            file: "results",
            line,
            id,
            what,
        };
        let obj = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => o,
            Ok(other) => {
                report.problems.push(problem(
                    None,
                    format!("expected a JSON object, got {}", kind(&other)),
                ));
                continue;
            }
            Err(e) => {
                report
                    .problems
                    .push(problem(None, format!("invalid JSON: {e}")));
                continue;
            }
        };
        let Some(id) = obj
            .get("id")
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        else {
            report.problems.push(problem(None, "missing \"id\"".into()));
            continue;
        };
        if let Some(first) = seen.get(&id) {
            report.problems.push(problem(
                Some(id),
                format!("duplicate id (first result on line {first})"),
            ));
            continue;
        }
        seen.insert(id.clone(), line);
        let Some(v) = vecs.get(&id) else {
            report
                .problems
                .push(problem(Some(id), "id not in the vectors file".into()));
            continue;
        };
        let fmt = v.dtype;
        let actual = match obj.get("value").map(|x| result_number(x, fmt)) {
            Some(Ok(a)) => a,
            Some(Err(e)) => {
                report
                    .problems
                    .push(problem(Some(id), format!("\"value\": {e}")));
                continue;
            }
            None => {
                report
                    .problems
                    .push(problem(Some(id), "missing \"value\"".into()));
                continue;
            }
        };
        if let Some((batch, gx, gw)) = &v.loss {
            let got_gx = matrix_numbers(obj.get("grad_x"), "grad_x", |x| result_number(x, fmt));
            let got_gw = matrix_numbers(obj.get("grad_w"), "grad_w", |x| result_number(x, fmt));
            let (got_gx, got_gw) = match (got_gx, got_gw) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    report.problems.push(problem(Some(id), e));
                    continue;
                }
            };
            let exp = Expected {
                loss: v.value.clone(),
                grad_x: gx.clone(),
                grad_w: gw.clone(),
            };
            let score = score_batch(
                batch,
                &exp,
                (actual, &got_gx, &got_gw),
                fmt,
                &loss_policy,
                v.input.clone(),
            );
            for (k, op) in LossOp::ALL.iter().enumerate() {
                let g = report
                    .groups
                    .entry(format!("{} {}", op.name(), fmt.name()))
                    .or_default();
                g.cases += 1;
                let err = score.errors[k];
                if err > score.allowed[k] {
                    g.failures += 1;
                }
                g.max_scaled = g.max_scaled.max(err);
                let badness = err / score.allowed[k];
                if g.worst.as_ref().is_none_or(|w| badness > w.0) {
                    g.worst = Some((
                        badness,
                        format!(
                            "id {id}: {} — {} scaled ulps (allowed {:.1})",
                            v.input,
                            fmt_err(err),
                            score.allowed[k]
                        ),
                    ));
                }
            }
        } else {
            let op = match v.op.as_str() {
                "cos_m" => ScalarOp::CosM,
                "psi" => ScalarOp::Psi,
                _ => ScalarOp::DpsiDcos,
            };
            let (u, s) = Policy::errors(op, fmt, v.m, actual, &v.value);
            let g = report
                .groups
                .entry(format!("{} {}", op.name(), fmt.name()))
                .or_default();
            g.cases += 1;
            let badness = policy.bound(op, fmt).badness(v.m, u, s);
            if badness > 1.0 {
                g.failures += 1;
            }
            g.max_ulps = g.max_ulps.max(u);
            g.max_scaled = g.max_scaled.max(s);
            if g.worst.as_ref().is_none_or(|w| badness > w.0) {
                g.worst = Some((
                    badness,
                    format!(
                        "id {id}: {} — expected {}, actual {} — {} ulps, {} scaled ulps",
                        v.input,
                        describe_exact(&v.value, fmt),
                        fmt_hex(actual, fmt),
                        fmt_err(u),
                        fmt_err(s)
                    ),
                ));
            }
        }
    }
    for id in &order {
        if !seen.contains_key(id) {
            let v = &vecs[id];
            report.problems.push(Problem {
                file: "results",
                line: 0,
                id: Some(id.clone()),
                what: format!(
                    "no result for the vector on line {} of the vectors file",
                    v.line
                ),
            });
        }
    }
    report
}
