//! `asoftmax-spec check VECTORS RESULTS`: judge an implementation's results on a
//! vectors file with the Rust suite's metrics and tolerance tables.
//!
//! RESULTS is JSON Lines written by the implementation under test:
//! `{"id":…, "value":…}` and, for loss vectors, `"grad_x"`/`"grad_w"` nested arrays; for
//! loss vectors on cosines (version 4, [`super::cos_vectors`]) `"grad_cos"` (`N × C`)
//! and, for MagFace, `"grad_a"` (`N`) when the vector has `"grad":true`, judged with
//! [`score_cosine`].
//! Numbers may be JSON numbers or strings (decimal, hex float, `"nan"`, `"inf"`,
//! `"-inf"`); they are rounded to the vector's `dtype` (to float32 for a loss vector of
//! the `autocast` scheme, whose results are float32, judged in ulps of the 16-bit
//! `dtype`: see [`Scheme`]). Missing ids, duplicate ids,
//! unparsable lines and ids that are not in VECTORS are failures, reported with
//! their line numbers. VECTORS is read with `eval`'s field reader: a line with an
//! unknown field, op, dtype, variant or backward, or another `vectors_version`, is a
//! failure with its line number (the other lines are still judged). Neither file is
//! ever written.

use super::cos_vectors::COS_VECTORS_VERSION;
use super::eval::{head_of, integer_m};
use super::family::read_input;
use super::json::{Fields, kind};
use super::op::DEFAULT_PREC;
use super::op::Op;
use super::vectors::VECTORS_VERSION;
use crate::arith::{Format, exact, hex, par, ziv::round_rational};
use crate::conformance::loss_suite::{
    CosineBatch, CosineOp, Expected, LossOp, LossPolicy, Scheme, score_batch, score_cosine,
};
use crate::conformance::scalar_suite::{describe_exact, fmt_err};
use crate::conformance::{Batch, Policy, ScalarOp};
use crate::loss::{Backward, Head, Variant};
use crate::names::Name;
use rug::Rational;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
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

/// Makes the [`Problem`]s of one line of `file` (`"vectors"` or `"results"`).
fn problem_at(file: &'static str, line: usize) -> impl Fn(Option<String>, String) -> Problem {
    move |id, what| Problem {
        file,
        line,
        id,
        what,
    }
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

impl Group {
    /// Counts one case: `failed` or not, its scaled error and its `badness` (error over
    /// the allowance); `describe` is called when it is the worst case so far.
    fn record(
        &mut self,
        failed: bool,
        scaled: f64,
        badness: f64,
        describe: impl FnOnce() -> String,
    ) {
        self.cases += 1;
        if failed {
            self.failures += 1;
        }
        self.max_scaled = self.max_scaled.max(scaled);
        if self.worst.as_ref().is_none_or(|w| badness > w.0) {
            self.worst = Some((badness, describe()));
        }
    }

    /// Adds the cases of `later`, recorded after this group's: the same counts, maxima
    /// and worst case as recording them all here in that order.
    fn absorb(&mut self, later: Group) {
        self.cases += later.cases;
        self.failures += later.failures;
        self.max_ulps = self.max_ulps.max(later.max_ulps);
        self.max_scaled = self.max_scaled.max(later.max_scaled);
        if let Some((badness, w)) = later.worst {
            if self.worst.as_ref().is_none_or(|mine| badness > mine.0) {
                self.worst = Some((badness, w));
            }
        }
    }
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

/// A vector to judge, read from one line of the vectors file.
struct Vector {
    line: usize,
    dtype: Format,
    /// The precision scheme (loss vectors; native for the scalar ops).
    scheme: Scheme,
    m: u32,
    /// The input, described for reports.
    input: String,
    /// The exact `value`.
    value: Rational,
    judged: Judged,
}

/// What a vector's result is judged as.
enum Judged {
    /// A scalar op of the suite.
    Scalar(ScalarOp),
    /// A loss batch with its exact gradients (row-major).
    Loss {
        batch: Box<Batch<f64>>,
        grad_x: Vec<Rational>,
        grad_w: Vec<Rational>,
    },
    /// A loss batch on cosines (version 4) with its exact gradients (`grad_cos` `N × C`
    /// and MagFace's `grad_a`; empty for a line without gradients).
    Cosine {
        batch: Box<CosineBatch>,
        grad_cos: Vec<Vec<Rational>>,
        grad_a: Vec<Rational>,
    },
}

/// The accepted vectors by id, in file order, and the ids of rejected lines.
#[derive(Default)]
struct VectorSet {
    vecs: HashMap<String, Vector>,
    order: Vec<String>,
    rejected: HashSet<String>,
}

/// An exact decimal or hex-float string (the oracle's `value` fields).
fn exact_text(v: &Value) -> Result<Rational, String> {
    match v {
        Value::String(s) => exact::parse_exact(s).map_err(|e| e.to_string()),
        other => Err(format!("expected a decimal string, got {}", kind(other))),
    }
}

/// A line's `id`: a string as it is, any other JSON value as its JSON text.
fn line_id(obj: &Map<String, Value>) -> Option<String> {
    obj.get("id")
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
}

/// A line of a JSON Lines text: its 1-based number and its object or what is wrong.
type ObjectLine = (usize, Result<Map<String, Value>, String>);

/// A JSON Lines text as [`ObjectLine`]s, blank lines skipped; the lines are parsed in
/// parallel.
fn objects(text: &str) -> Vec<ObjectLine> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, t)| !t.trim().is_empty())
        .map(|(i, t)| (i + 1, t))
        .collect();
    par::map(lines, |(line, t)| {
        let obj = match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(o)) => Ok(o),
            Ok(other) => Err(format!("expected a JSON object, got {}", kind(&other))),
            Err(e) => Err(format!("invalid JSON: {e}")),
        };
        (line, obj)
    })
}

/// Reads one vectors line with `eval`'s field reader: every field must be known, every
/// name (op, dtype, variant, backward) in its table, and the version this tool reads.
fn parse_vector(obj: &Map<String, Value>, line: usize) -> Result<Vector, String> {
    let mut f = Fields::new(obj);
    let version = f.raw("vectors_version");
    if !version
        .and_then(Value::as_u64)
        .is_some_and(|v| (1..=u64::from(VECTORS_VERSION)).contains(&v))
    {
        return Err(format!(
            "incompatible vectors file: vectors_version is {}, this asoftmax-spec reads versions 1 to {VECTORS_VERSION} \
             (regenerate the vectors with this version's `asoftmax-spec vectors`)",
            version.map_or("missing".to_string(), Value::to_string)
        ));
    }
    let op = Op::parse_vectors_op(f.string("op")?)?;
    let dtype: Format = f.name("dtype")?;
    f.bool_or("round_to_odd", false)?;
    let v4 = version.and_then(Value::as_u64) == Some(u64::from(COS_VECTORS_VERSION));
    let on_cosines = op == Op::Loss && f.has("head") && f.has("cos");
    if on_cosines != v4 {
        return Err(format!(
            "vectors_version {COS_VECTORS_VERSION} is the version of loss lines on cosines \
             (\"head\" and \"cos\"), and only of them: this line is {}",
            if on_cosines {
                "one, at another version"
            } else {
                "not one"
            }
        ));
    }
    if on_cosines {
        return cosine_vector(&mut f, line, dtype);
    }
    // A head (version 3) carries its own margins in place of the integer m.
    let head = if op == Op::Loss {
        head_of(&mut f)?
    } else {
        None
    };
    if head.is_some() && version.and_then(Value::as_u64) < Some(3) {
        return Err("a loss line with a \"head\" needs vectors_version 3".into());
    }
    let m = match head {
        Some(_) => 1,
        None => integer_m(&mut f, u32::from(op != Op::CosM))?,
    };
    let value = match f.raw("value") {
        Some(v) => exact_text(v).map_err(|e| format!("field \"value\": {e}"))?,
        None => return Err("missing field \"value\"".into()),
    };
    f.u32_or("prec", DEFAULT_PREC)?;
    let origin = f.string_or("origin", "")?;
    let (input, judged, scheme) = match op.scalar() {
        Some(op) => {
            let c = f.string("cos")?;
            exact::parse_exact(c).map_err(|e| format!("field \"cos\": {e}"))?;
            let input = format!("m = {m}, cos = {c} [{origin}]");
            (input, Judged::Scalar(op), Scheme::Native)
        }
        None => {
            let scheme = f.name_or("scheme", Scheme::Native)?;
            scheme.check_dtype(dtype)?;
            let (input, judged) = loss_vector(&mut f, m, head, origin)?;
            (input, judged, scheme)
        }
    };
    f.finish()?;
    Ok(Vector {
        line,
        dtype,
        scheme,
        m,
        input,
        value,
        judged,
    })
}

/// The batch and exact gradients of a loss vector (`eval`'s defaults for absent fields;
/// a head in place of `variant` and `backward`).
fn loss_vector(
    f: &mut Fields,
    m: u32,
    head: Option<Head>,
    origin: &str,
) -> Result<(String, Judged), String> {
    let (variant, backward) = match head {
        Some(_) => (Variant::ASoftmax, Backward::Full),
        None => (
            f.name_or("variant", Variant::ASoftmax)?,
            f.name_or("backward", Backward::Full)?,
        ),
    };
    let lambda = f.number_or("lambda", Rational::new())?.to_f64();
    let scale = f.number_or("scale", Rational::from(1))?.to_f64();
    f.bool_or("grad", true)?;
    let (x, w, y) = (f.matrix("x")?, f.matrix("w")?, f.indices("y")?);
    let (grad_x, grad_w) = (exact_gradient(f, "grad_x")?, exact_gradient(f, "grad_w")?);
    // The scores slice X and W into rows of d: the shapes must fit together.
    let dim = x.first().map_or(0, Vec::len);
    let row_lens = |a: &[Vec<Rational>]| a.iter().map(Vec::len).collect::<Vec<_>>();
    let (x_rows, w_rows) = (row_lens(&x), row_lens(&w));
    if dim == 0
        || x.len() != y.len()
        || w.is_empty()
        || x_rows.iter().chain(&w_rows).any(|&l| l != dim)
        || y.iter().any(|&l| l >= w.len())
    {
        return Err(format!(
            "malformed loss vector: x is {} rows of {x_rows:?} entries, w is {} rows of \
             {w_rows:?}, y has {} labels {y:?} (expected N×d, C×d with d ≥ 1, and N labels below C)",
            x.len(),
            w.len(),
            y.len()
        ));
    }
    for (name, g, rows) in [("grad_x", &grad_x, x.len()), ("grad_w", &grad_w, w.len())] {
        if g.len() != rows || g.iter().any(|r| r.len() != dim) {
            return Err(format!(
                "malformed loss vector: {name} is {} rows of {:?} entries, expected {rows} rows of {dim}",
                g.len(),
                row_lens(g)
            ));
        }
    }
    let flat = |a: Vec<Vec<Rational>>| a.into_iter().flatten().collect::<Vec<_>>();
    let floats = |a: Vec<Vec<Rational>>| flat(a).iter().map(Rational::to_f64).collect();
    let batch = Batch {
        n: y.len(),
        classes: w.len(),
        dim,
        x: floats(x),
        w: floats(w),
        y,
        m,
        lambda,
        scale,
        variant,
        backward,
        head,
    };
    let desc = match batch.head {
        Some(_) => format!(
            "loss N={} C={} d={} ({origin})",
            batch.n, batch.classes, batch.dim
        ),
        None => format!(
            "loss N={} C={} d={} m={m} ({origin})",
            batch.n, batch.classes, batch.dim
        ),
    };
    let judged = Judged::Loss {
        batch: Box::new(batch),
        grad_x: flat(grad_x),
        grad_w: flat(grad_w),
    };
    Ok((desc, judged))
}

/// A version 4 vector: a loss line on cosines ([`super::cos_vectors`]) with its exact
/// loss and, when it has `"grad":true`, its exact `grad_cos` (and MagFace's `grad_a`).
fn cosine_vector(f: &mut Fields, line: usize, dtype: Format) -> Result<Vector, String> {
    f.bool_or("round_to_odd", false)?;
    let input = read_input(f)?;
    let grad = f.bool_or("grad", false)?;
    let value = match f.raw("value") {
        Some(v) => exact_text(v).map_err(|e| format!("field \"value\": {e}"))?,
        None => return Err("missing field \"value\"".into()),
    };
    f.u32_or("prec", DEFAULT_PREC)?;
    let origin = f.string_or("origin", "")?.to_string();
    let scheme = f.name_or("scheme", Scheme::Native)?;
    scheme.check_dtype(dtype)?;
    let batch = input.batch();
    let (n, c) = (batch.y.len(), batch.cos.first().map_or(0, Vec::len));
    let grad_cos = if grad {
        let g = exact_gradient(f, "grad_cos")?;
        if g.len() != n || g.iter().any(|r| r.len() != c) {
            return Err(format!(
                "malformed loss vector: grad_cos is not {n} rows of {c}"
            ));
        }
        g
    } else {
        Vec::new()
    };
    let grad_a = if grad && f.has("grad_a") {
        exact_list(f, "grad_a", n)?
    } else {
        Vec::new()
    };
    f.finish()?;
    let input_text = format!("loss N={n} C={c} ({origin})");
    Ok(Vector {
        line,
        dtype,
        scheme,
        m: 1,
        input: input_text,
        value,
        judged: Judged::Cosine {
            batch: Box::new(batch),
            grad_cos,
            grad_a,
        },
    })
}

/// A required array of `n` `{"value": …}` objects, as exact values.
fn exact_list(f: &mut Fields, name: &'static str, n: usize) -> Result<Vec<Rational>, String> {
    let list = f.array(name, "an array")?;
    if list.len() != n {
        return Err(format!(
            "malformed loss vector: {name} has {} entries, expected {n}",
            list.len()
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, g)| {
            exact_text(g.get("value").unwrap_or(&Value::Null))
                .map_err(|e| format!("field \"{name}\"[{i}]: \"value\": {e}"))
        })
        .collect()
}

/// A required matrix of `{"value": …}` objects (an oracle gradient), as exact values.
fn exact_gradient(f: &mut Fields, name: &'static str) -> Result<Vec<Vec<Rational>>, String> {
    f.rows(name, "an array", |g| {
        exact_text(g.get("value").unwrap_or(&Value::Null)).map_err(|e| format!("\"value\": {e}"))
    })
}

/// Reads the vectors file (the lines parsed in parallel, then taken in file order);
/// every line that cannot be judged is a problem.
fn read_vectors(text: &str, problems: &mut Vec<Problem>) -> VectorSet {
    let mut set = VectorSet::default();
    let parsed = par::map(objects(text), |(line, obj)| {
        let read = obj.map(|obj| line_id(&obj).map(|id| (id, parse_vector(&obj, line))));
        (line, read)
    });
    for (line, read) in parsed {
        let problem = problem_at("vectors", line);
        let read = match read {
            Ok(r) => r,
            Err(what) => {
                problems.push(problem(None, what));
                continue;
            }
        };
        let Some((id, vector)) = read else {
            problems.push(problem(None, "missing \"id\"".into()));
            continue;
        };
        match vector {
            Ok(v) => {
                if let Some(prev) = set.vecs.get(&id) {
                    let what = format!("duplicate id (first on line {})", prev.line);
                    problems.push(problem(Some(id), what));
                } else {
                    set.order.push(id.clone());
                    set.vecs.insert(id, v);
                }
            }
            Err(what) => {
                set.rejected.insert(id.clone());
                problems.push(problem(Some(id), what));
            }
        }
    }
    set
}

/// The default tolerance tables with the command line's overrides.
pub(crate) fn policies(ov: &Overrides) -> (Policy, LossPolicy) {
    let mut policy = Policy::default();
    for op in ScalarOp::ALL {
        for fmt in Format::ALL {
            let mut b = policy.bound(op, *fmt);
            if let Some(u) = ov.max_ulps {
                b.ulps = u;
            }
            if let Some(s) = ov.max_scaled {
                b.scaled_per_m2 = s;
            }
            policy = policy.with(op, *fmt, b);
        }
    }
    let mut loss_policy = LossPolicy::default();
    if let Some(t) = ov.loss_tol {
        for op in LossOp::ALL {
            for fmt in Format::EVERY {
                for scheme in [Scheme::Native, Scheme::Autocast] {
                    loss_policy = loss_policy.with_in(op, fmt, scheme, t);
                }
            }
        }
    }
    (policy, loss_policy)
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

/// A result gradient of `rows` rows of `dim` numbers, row-major.
fn result_matrix(
    v: Option<&Value>,
    what: &str,
    (rows, dim): (usize, usize),
    fmt: Format,
) -> Result<Vec<f64>, String> {
    let got = v
        .and_then(Value::as_array)
        .ok_or_else(|| format!("missing or malformed \"{what}\" (expected an array of rows)"))?;
    if got.len() != rows {
        return Err(format!(
            "\"{what}\" has {} rows, expected {rows}",
            got.len()
        ));
    }
    let mut out = Vec::with_capacity(rows * dim);
    for (i, row) in got.iter().enumerate() {
        let row = row
            .as_array()
            .ok_or_else(|| format!("\"{what}\"[{i}] is not an array"))?;
        if row.len() != dim {
            return Err(format!(
                "\"{what}\"[{i}] has {} entries, expected {dim}",
                row.len()
            ));
        }
        for (j, x) in row.iter().enumerate() {
            out.push(result_number(x, fmt).map_err(|e| format!("\"{what}\"[{i}][{j}]: {e}"))?);
        }
    }
    Ok(out)
}

impl CheckReport {
    /// The group `"<op> <dtype>"` (`"<op> <dtype> <scheme>"` for a scheme other than native).
    fn group(&mut self, name: &str, fmt: Format, scheme: Scheme) -> &mut Group {
        let key = match scheme {
            Scheme::Native => format!("{name} {}", fmt.name()),
            _ => format!("{name} {} {}", fmt.name(), scheme.name()),
        };
        self.groups.entry(key).or_default()
    }

    /// Scores one result (`value` already read) of a scalar vector.
    fn judge_scalar(&mut self, id: &str, v: &Vector, op: ScalarOp, actual: f64, policy: &Policy) {
        let fmt = v.dtype;
        let (u, s) = Policy::errors(op, fmt, v.m, actual, &v.value);
        let badness = policy.bound(op, fmt).badness(v.m, u, s);
        let g = self.group(Op::from(op).name(), fmt, Scheme::Native);
        g.max_ulps = g.max_ulps.max(u);
        g.record(badness > 1.0, s, badness, || {
            format!(
                "id {id}: {} — expected {}, actual {} — {} ulps, {} scaled ulps",
                v.input,
                describe_exact(&v.value, fmt),
                hex(actual, fmt),
                fmt_err(u),
                fmt_err(s)
            )
        });
    }

    /// Scores one result of a loss vector (format `fmt` and precision `scheme`, `input`
    /// its description): the value and the two gradients.
    pub(crate) fn judge_loss(
        &mut self,
        (id, input, fmt, scheme): (&str, &str, Format, Scheme),
        exp: &Expected,
        batch: &Batch<f64>,
        got: (f64, &[f64], &[f64]),
        policy: &LossPolicy,
    ) {
        let score = score_batch(batch, exp, got, (fmt, scheme), policy, input.to_string());
        for (k, op) in LossOp::ALL.iter().enumerate() {
            let (err, allowed) = (score.errors[k], score.allowed[k]);
            self.group(op.name(), fmt, scheme)
                .record(err > allowed, err, err / allowed, || {
                    format!(
                        "id {id}: {input} — {} scaled ulps (allowed {allowed:.1})",
                        fmt_err(err),
                    )
                });
        }
    }
}

/// Checks `results` against `vectors` (both the text of JSON Lines files).
///
/// The result lines are matched to their vectors in file order, judged in parallel
/// (one small report each) and the reports combined in file order ([`Group::absorb`]),
/// so the report is the same at any thread count.
pub fn check(vectors: &str, results: &str, ov: &Overrides) -> CheckReport {
    let mut report = CheckReport::default();
    let set = read_vectors(vectors, &mut report.problems);
    let policies = policies(ov);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let answers: Vec<_> = objects(results)
        .into_iter()
        .map(|(line, obj)| (line, answered_vector(&set, &mut seen, line, obj)))
        .collect();
    let judged = par::map(answers, |(line, answer)| {
        let mut one = CheckReport::default();
        let problem = problem_at("results", line);
        match answer {
            Err((id, what)) => one.problems.push(problem(id, what)),
            Ok(None) => {}
            Ok(Some((id, v, obj))) => {
                if let Err(what) = one.judge_result(&id, v, &obj, &policies) {
                    one.problems.push(problem(Some(id), what));
                }
            }
        }
        one
    });
    judged.into_iter().for_each(|one| report.absorb(one));
    report.missing_results(&set, &seen);
    report
}

impl CheckReport {
    /// Adds the cases and problems of `later`, judged after this report's: the same
    /// report as judging them all here in that order.
    pub(crate) fn absorb(&mut self, later: CheckReport) {
        for (name, g) in later.groups {
            self.groups.entry(name).or_default().absorb(g);
        }
        self.problems.extend(later.problems);
    }
}

/// A result line's id, the vector it answers and the result object.
type Answer<'s> = (String, &'s Vector, Map<String, Value>);

/// The vector a result line answers, with its id and the result object: an error
/// (`(id if known, what)`) for an unreadable line, a missing or duplicate id, or an id
/// the vectors file does not have; `None` for a result of a rejected vector line (that
/// line is the problem already reported).
fn answered_vector<'s>(
    set: &'s VectorSet,
    seen: &mut HashMap<String, usize>,
    line: usize,
    obj: Result<Map<String, Value>, String>,
) -> Result<Option<Answer<'s>>, (Option<String>, String)> {
    let obj = obj.map_err(|what| (None, what))?;
    let Some(id) = line_id(&obj) else {
        return Err((None, "missing \"id\"".into()));
    };
    if let Some(first) = seen.get(&id) {
        let what = format!("duplicate id (first result on line {first})");
        return Err((Some(id), what));
    }
    seen.insert(id.clone(), line);
    match set.vecs.get(&id) {
        Some(v) => Ok(Some((id, v, obj))),
        None if set.rejected.contains(&id) => Ok(None),
        None => Err((Some(id), "id not in the vectors file".into())),
    }
}

impl CheckReport {
    /// Scores one result line against its vector: the value, and for a loss vector
    /// both gradients. An unreadable field is the returned problem.
    fn judge_result(
        &mut self,
        id: &str,
        v: &Vector,
        obj: &Map<String, Value>,
        (policy, loss_policy): &(Policy, LossPolicy),
    ) -> Result<(), String> {
        // Results are read in the format they are computed in: the dtype, or float32 under autocast.
        let fmt = v.scheme.result_format(v.dtype);
        let actual = match obj.get("value").map(|x| result_number(x, fmt)) {
            Some(Ok(a)) => a,
            Some(Err(e)) => return Err(format!("\"value\": {e}")),
            None => return Err("missing \"value\"".into()),
        };
        match &v.judged {
            Judged::Scalar(op) => self.judge_scalar(id, v, *op, actual, policy),
            Judged::Loss {
                batch,
                grad_x,
                grad_w,
            } => {
                let got_gx = result_matrix(obj.get("grad_x"), "grad_x", (batch.n, batch.dim), fmt)?;
                let got_gw =
                    result_matrix(obj.get("grad_w"), "grad_w", (batch.classes, batch.dim), fmt)?;
                let exp = Expected {
                    loss: v.value.clone(),
                    grad_x: grad_x.clone(),
                    grad_w: grad_w.clone(),
                };
                let got = (actual, got_gx.as_slice(), got_gw.as_slice());
                self.judge_loss(
                    (id, &v.input, v.dtype, v.scheme),
                    &exp,
                    batch,
                    got,
                    loss_policy,
                );
            }
            Judged::Cosine {
                batch,
                grad_cos,
                grad_a,
            } => {
                let n = batch.y.len();
                let c = batch.cos.first().map_or(0, Vec::len);
                let got_g = if grad_cos.is_empty() {
                    Vec::new()
                } else {
                    result_matrix(obj.get("grad_cos"), "grad_cos", (n, c), fmt)?
                };
                let got_a = if grad_a.is_empty() {
                    Vec::new()
                } else {
                    result_matrix(
                        obj.get("grad_a").map(|a| json!([a])).as_ref(),
                        "grad_a",
                        (1, n),
                        fmt,
                    )?
                };
                let exp = (grad_cos.as_slice(), grad_a.as_slice());
                let got = (actual, got_g.as_slice(), got_a.as_slice());
                self.judge_cosine((id, v), batch, exp, got, loss_policy);
            }
        }
        Ok(())
    }

    /// Scores one result of a loss vector on cosines ([`score_cosine`]: the loss against
    /// its allowance, `grad_cos` and `grad_a` row by row against theirs) into the groups
    /// `loss`, `grad_cos` and `grad_a`.
    fn judge_cosine(
        &mut self,
        (id, v): (&str, &Vector),
        batch: &CosineBatch,
        (grad_cos, grad_a): (&[Vec<Rational>], &[Rational]),
        got: (f64, &[f64], &[f64]),
        policy: &LossPolicy,
    ) {
        let fmt = v.dtype;
        let exact = (&v.value, grad_cos, grad_a);
        let score = score_cosine(batch, exact, got, (fmt, v.scheme), policy, String::new());
        let input = &v.input;
        for op in CosineOp::ALL {
            let Some(s) = score.op(op) else { continue };
            let at = match (op, s.row) {
                (CosineOp::GradCos, Some(r)) => format!("row {r}: "),
                (CosineOp::GradA, Some(r)) => format!("sample {r}: "),
                _ => String::new(),
            };
            self.group(op.name(), fmt, v.scheme)
                .record(s.failed, s.error, s.badness, || {
                    format!(
                        "id {id}: {input} — {at}{} scaled ulps (allowed {:.1})",
                        fmt_err(s.error),
                        s.allowed
                    )
                });
        }
    }

    /// A problem for every vector without a result, in vectors-file order.
    fn missing_results(&mut self, set: &VectorSet, seen: &HashMap<String, usize>) {
        for id in &set.order {
            if !seen.contains_key(id) {
                self.problems.push(Problem {
                    file: "results",
                    line: 0,
                    id: Some(id.clone()),
                    what: format!(
                        "no result for the vector on line {} of the vectors file",
                        set.vecs[id].line
                    ),
                });
            }
        }
    }
}
